"""The package's type aliases, defined once: arrays, seeds and the stored-seed policy.

``Seed`` is randomness only (an int or a :class:`numpy.random.Generator`; a function that
also accepts None for fresh entropy says ``Seed | None``); ``SeedPolicy`` is which stored
training seed a value comes from (``"mean"``, ``"random"`` or one seed number).

Examples
--------
>>> import numpy as np
>>> isinstance(np.random.default_rng(0), np.random.Generator)
True
>>> from typing import get_args
>>> get_args(get_args(SeedPolicy)[0])
('mean', 'random')
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
Seed: TypeAlias = int | np.random.Generator
SeedPolicy: TypeAlias = Literal["mean", "random"] | int

__all__ = ["BoolArray", "FloatArray", "IntArray", "Seed", "SeedPolicy"]
