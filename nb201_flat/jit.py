"""One decorator for the project's compiled kernels: numba's ``njit``, cached on disk.

The searches replay numpy's random streams run by run; what is sequential inside a run (a
memory of seen cells, a population, a walk) costs a few nanoseconds a step compiled, against
microseconds a step as numpy calls batched across runs. Kernels live in the modules that use
them, import this module lazily (importing numba costs about 0.25 s, which small commands must
not pay), and are compiled once per machine: ``cache=True`` keeps the machine code beside the
source (or in the user's cache directory where that is read-only), keyed by the source and the
argument types (a function typed at a prompt has no file and is compiled each session).

Examples
--------
>>> import numpy as np
>>> @kernel
... def total(a):
...     s = 0
...     for x in a:
...         s += x
...     return s
>>> int(total(np.arange(5)))
10
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def kernel(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, releasing the GIL while it runs."""
    cache = os.path.isfile(inspect.getsourcefile(fn) or "")
    return cast(F, numba.njit(cache=cache, nogil=True)(fn))
