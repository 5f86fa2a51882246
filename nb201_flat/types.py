"""The package's type aliases, defined once: arrays, seeds and the stored-seed policy.

``Seed`` is randomness only (an int or a :class:`numpy.random.Generator`), turned into a
generator by :func:`as_rng`, the package's one such helper; ``SeedPolicy`` is which stored
training seed a value comes from (``"mean"``, ``"random"`` or one seed number).

Examples
--------
>>> import numpy as np
>>> isinstance(np.random.default_rng(0), np.random.Generator)
True
>>> from typing import get_args
>>> get_args(get_args(SeedPolicy)[0])
('mean', 'random')
>>> int(as_rng(0).integers(10)) == int(as_rng(np.random.default_rng(0)).integers(10))
True
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import check_seed

#: A float64 array: metric values over architectures (NaN where unmeasured).
FloatArray: TypeAlias = npt.NDArray[np.float64]
#: An int64 array: architecture indices, codes, counts.
IntArray: TypeAlias = npt.NDArray[np.int64]
#: A bool array: a mask over architectures.
BoolArray: TypeAlias = npt.NDArray[np.bool_]
# a string, so that importing the package does not import numpy.random (~17 ms of a small command)
#: Randomness only: an int seed or a :class:`numpy.random.Generator` (:func:`as_rng`).
Seed: TypeAlias = "int | np.random.Generator"
#: Which stored training seed(s) a value is read from: ``"mean"`` (the stored mean over
#: seeds), ``"random"`` (one stored seed per architecture, drawn) or a stored seed's number.
SeedPolicy: TypeAlias = Literal["mean", "random"] | int


def as_rng(seed: Seed) -> np.random.Generator:
    """A generator from an int seed, or the generator itself (shared, not copied).

    None is refused, so that every random result can be reproduced from what was passed.

    Raises
    ------
    ArgumentError
        ``seed`` is None, a bool, a negative int, or not an int or a
        :class:`numpy.random.Generator`.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    # the package's seed rule (numpy's own refusal of -1 is a bare ValueError, a traceback in
    # the CLI); None, a bool or 1.5 is refused rather than read as a fresh or truncated seed
    fix = "pass a fixed seed (e.g. 0) or a numpy Generator, so the result can be reproduced"
    return np.random.default_rng(check_seed(seed, "seed", fix=fix))


__all__ = ["BoolArray", "FloatArray", "IntArray", "Seed", "SeedPolicy", "as_rng"]
