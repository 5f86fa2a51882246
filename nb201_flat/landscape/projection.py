"""2-D projections of the relaxed architecture (the NA paper's Figure 1).

A cell is relaxed to ``alpha`` in R^(edges x ops), one-hot per edge for a discrete cell (the
DARTS view). Two directions ``d0, d1`` span a plane through it; each grid point
``alpha + l0 d0 + l1 d1`` is discretised by argmax per edge (the lowest op code among ties)
and looked up in the metric vector. Directions are either random -- Gaussian, then each edge's
row rescaled to the norm of alpha's row (1 for one-hot; Li et al.'s filter normalisation, per
edge here) -- or towards two chosen architectures (``onehot(target) - alpha``, so
``l = 1`` lands on the target).

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("a", "b", "c"), 3)
>>> f = np.arange(space.size, dtype=float)
>>> grid = projection_grid(space, f, 0, towards=(1, 9), lambdas=[0.0, 1.0])
>>> grid[["lambda0", "lambda1", "index"]].values.tolist()
[[0.0, 0.0, 0.0], [0.0, 1.0, 9.0], [1.0, 0.0, 1.0], [1.0, 1.0, 10.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.budget import check_memory
from nb201_flat.landscape._common import (
    ArchLike,
    FloatArray,
    LandscapeArgumentError,
    Seed,
    as_values,
    is_pair,
    resolve_index,
)
from nb201_flat.space import Space
from nb201_flat.types import as_rng


def relaxed(space: Space, arch: ArchLike) -> FloatArray:
    """One-hot relaxation of a cell, shape ``(n_edges, n_ops)``.

    >>> from nb201_flat.space import NB201
    >>> relaxed(NB201, 11472).argmax(axis=1).tolist() == list(NB201.arch(11472).codes)
    True
    """
    index = resolve_index(space, arch)  # first: it checks the space
    a = space.arch(index)
    out = np.zeros((space.n_edges, space.n_ops))
    out[np.arange(space.n_edges), list(a.codes)] = 1.0
    return out


def random_directions(space: Space, center: ArchLike, *, seed: Seed) -> FloatArray:
    """Two random directions, each edge's row scaled to the norm of ``center``'s row.

    Returns shape ``(2, n_edges, n_ops)``.
    """
    rng = as_rng(seed)
    alpha = relaxed(space, center)
    d = rng.standard_normal((2, space.n_edges, space.n_ops))
    row_norm = np.linalg.norm(d, axis=2, keepdims=True)
    target = np.linalg.norm(alpha, axis=1)[None, :, None]
    out: FloatArray = d / row_norm * target
    return out


def projection_grid(
    space: Space,
    values: npt.ArrayLike,
    center: ArchLike,
    *,
    towards: tuple[ArchLike, ArchLike] | None = None,
    directions: npt.ArrayLike | None = None,
    seed: Seed | None = None,
    lambdas: Sequence[float] | npt.ArrayLike | None = None,
    lambdas1: Sequence[float] | npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """The metric on a 2-D grid through the relaxed ``center`` (tidy, for a contour plot).

    Parameters
    ----------
    center
        The architecture at (0, 0).
    towards
        Two architectures: directions ``onehot(target) - onehot(center)``.
    directions
        Explicit directions, shape ``(2, n_edges, n_ops)``.
    seed
        For random directions (the default when neither ``towards`` nor ``directions`` is
        given); required then, so the figure is reproducible.
    lambdas, lambdas1
        Grid values of lambda0 and lambda1 (default ``linspace(-1, 1, 41)``; ``lambdas1``
        defaults to ``lambdas``).

    Returns
    -------
    pandas.DataFrame
        Columns ``lambda0, lambda1, index, arch, value``, lambda0-major; e.g.
        ``grid.pivot(index="lambda1", columns="lambda0", values="value")`` for ``contourf``.
    """
    v = as_values(space, values)
    alpha = relaxed(space, center)
    given = sum(x is not None for x in (towards, directions))
    if given > 1:
        raise LandscapeArgumentError("pass either towards= or directions=, not both")
    if given and seed is not None:  # only random directions are drawn
        raise LandscapeArgumentError(
            "seed= applies only to random directions; drop it with towards= or directions="
        )
    if towards is not None:
        if not is_pair(towards):
            raise LandscapeArgumentError(
                f"towards= needs exactly two architectures, e.g. (a, b); got {towards!r:.80}"
            )
        d = np.stack([relaxed(space, t) - alpha for t in towards])
        for target, step in zip(towards, d, strict=True):
            if not step.any():  # the grid collapsed onto the centre along that axis
                raise LandscapeArgumentError(
                    f"towards= names {target!r}, the centre itself: that direction is zero; "
                    "name two other architectures"
                )
    elif directions is not None:
        d = _floats("directions", directions)
        if d.shape != (2, space.n_edges, space.n_ops):
            raise LandscapeArgumentError(
                f"directions must have shape (2, {space.n_edges}, {space.n_ops}), got {d.shape}"
            )
        if not np.isfinite(d).all():  # argmax would read NaN as the largest entry
            raise LandscapeArgumentError("directions must be finite numbers")
        if not (d[0].any() and d[1].any()):  # every point of that axis was the centre
            raise LandscapeArgumentError("directions must not be all zeros; give two non-zero ones")
    else:
        if seed is None:
            raise LandscapeArgumentError(
                "random directions need seed= (an int or numpy Generator) for a reproducible "
                "figure; or pass towards=(arch1, arch2)"
            )
        d = random_directions(space, center, seed=seed)
    l0 = np.linspace(-1.0, 1.0, 41) if lambdas is None else _floats("lambdas", lambdas)
    l1 = l0 if lambdas1 is None else _floats("lambdas1", lambdas1)
    if l0.ndim != 1 or l1.ndim != 1 or not len(l0) or not len(l1):
        raise LandscapeArgumentError("lambdas must be non-empty 1-D sequences")
    if not (np.isfinite(l0).all() and np.isfinite(l1).all()):  # NaN picked op 0 on every edge
        raise LandscapeArgumentError("lambdas must be finite numbers")
    # the grid's relaxed points, (points, edges, ops) floats, and their argmax codes
    check_memory(
        len(l0) * len(l1) * space.n_edges * (space.n_ops + 2) * 8,
        f"a projection grid of {len(l0)} x {len(l1)} points",
        "pass fewer lambdas (41 x 41 is the default)",
    )
    m0, m1 = np.meshgrid(l0, l1, indexing="ij")
    g0, g1 = m0.ravel(), m1.ravel()
    points = alpha[None] + g0[:, None, None] * d[0][None] + g1[:, None, None] * d[1][None]
    codes = points.argmax(axis=2)  # first maximum: the lowest op code wins a tie
    idx = space.indices_of_codes(codes)
    strings = np.asarray(space.strings(), dtype=object) if len(idx) > 2000 else None
    archs = strings[idx] if strings is not None else [space.to_str(c) for c in codes.tolist()]
    return pd.DataFrame(
        {
            "lambda0": g0,
            "lambda1": g1,
            "index": idx.astype(np.int64),
            "arch": archs,
            "value": v[idx],
        }
    )


def _floats(name: str, values: object) -> FloatArray:
    """``values`` as a float array; text, objects, bools or complex numbers (whose imaginary
    part the cast dropped, with a warning only) raise an error naming ``name``."""
    try:
        raw = np.asarray(values)
        if raw.dtype.kind not in "iuf":
            raise TypeError(raw.dtype)
        out: FloatArray = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise LandscapeArgumentError(f"{name} must be real numbers, got {values!r:.80}") from None
    return out
