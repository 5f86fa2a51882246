"""nb201_flat: flat minima in NAS-Bench-201 architecture space."""

from __future__ import annotations

__version__ = "0.1.0"
