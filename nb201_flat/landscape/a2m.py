"""A²M's barrier construction: every shortest Hamming path between two architectures.

All d! shortest paths between two archs at distance d (change the differing edges one at a
time, in every order); the mean and standard deviation of each level (0..d) over all paths;
the barrier of the level means. ``published=True`` reproduces A²M's published code where it
differs from its text (see :func:`a2m_barrier`).

Missing values: in the A²M construction a level with a NaN member gets a NaN mean under
``nan_policy="propagate"`` (default); ``"omit"`` averages the measured members; ``"raise"``
raises.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("a", "b"), 3)               # the cube; index = binary number of the codes
>>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 9])  # two peaks, 000 and 111, in a valley of 1s
>>> a2m_barrier(space, f, 0, 7).barrier
8.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.landscape._common import (
    ArchLike,
    FloatArray,
    IntArray,
    NanPolicy,
    NoPathError,
    as_values,
    check_nan_policy,
    oriented,
    raise_on_nan,
)
from nb201_flat.landscape.paths import BarrierPath, check_endpoints, make_path, shortest_paths
from nb201_flat.space import Space


@dataclass(frozen=True, slots=True, eq=False)
class A2MBarrier:
    """The A²M construction between two architectures.

    ``level_mean[i]`` / ``level_std[i]`` are over the i-th architecture of all d! shortest
    paths (level 0 = a, level d = b; population std, as A²M's ``np.std``); ``level_n[i]`` is
    the number of distinct architectures at that level, C(d, i).
    """

    a: int
    b: int
    distance: int
    n_paths: int
    level_mean: FloatArray
    level_std: FloatArray
    level_n: IntArray
    barrier: float
    published: bool
    higher_is_better: bool = True
    paths: IntArray = field(repr=False, default_factory=lambda: np.zeros((0, 0), np.int64))

    def frame(self) -> pd.DataFrame:
        """Tidy levels: ``level, mean, std, n`` (for an error-bar plot)."""
        return pd.DataFrame(
            {
                "level": np.arange(self.distance + 1),
                "mean": self.level_mean,
                "std": self.level_std,
                "n": self.level_n,
            }
        )


def a2m_barrier(
    space: Space,
    values: npt.ArrayLike,
    a: ArchLike,
    b: ArchLike,
    *,
    higher_is_better: bool = True,
    published: bool = False,
    nan_policy: NanPolicy = "propagate",
) -> A2MBarrier:
    """A²M's barrier between ``a`` and ``b`` over all d! shortest Hamming paths.

    Parameters
    ----------
    higher_is_better
        True for accuracy; False for a loss (the barrier becomes the mirror image).
    published
        False (default): the paper's definition, ``(f(a) + f(b)) / 2 - min(level means)``.
        True: what A²M's published code computes (``profile_nasbench.py``, functions
        ``get_info_from_arch``, ``avg_test_acc``, ``path_bench_qualities`` and
        ``compute_barrier`` in github.com/AI-Tech-Research-Lab/AsquaredM): each value is first
        rounded to 3 decimals; the level means are taken over the rounded values; and the
        barrier is ``round(0.5 * (L[0] + L[1]) - min(L), 2)`` where ``L`` is the list of
        level means -- it averages the start with the *first intermediate level* instead of
        the end point (the same in the code's DARTS script). For d = 1 both agree up to
        rounding.
    nan_policy
        ``"propagate"`` (a level with a NaN member has a NaN mean), ``"omit"`` (average the
        measured members) or ``"raise"``.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 5, 5, 7, 5, 7, 7, 8])   # 000 -> 111 through levels 5, 7
    >>> r = a2m_barrier(space, f, 0, 7)
    >>> r.level_mean.tolist(), r.barrier
    ([9.0, 5.0, 7.0, 8.0], 3.5)
    >>> a2m_barrier(space, f, 0, 7, published=True).barrier   # (9 + 5) / 2 - 5
    2.0
    """
    v = as_values(space, values)
    check_nan_policy(nan_policy)
    paths = shortest_paths(space, a, b)
    d = paths.shape[1] - 1
    if published:
        v = np.round(v, 3)
    level_vals = v[paths]  # (d!, d + 1)
    if nan_policy == "raise":
        raise_on_nan(level_vals, "values on the shortest paths")
    with warnings.catch_warnings():
        # an all-NaN level under "omit" has a NaN mean: the documented answer, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        if nan_policy == "omit":
            mean = np.nanmean(level_vals, axis=0)
            std = np.nanstd(level_vals, axis=0)
        else:
            mean = level_vals.mean(axis=0)
            std = level_vals.std(axis=0)
    w = oriented(mean, higher_is_better)
    if d == 0:
        barrier = 0.0 if not np.isnan(w[0]) else float("nan")
    elif published:
        # A²M's compute_barrier(accs): 0.5 * (accs[0] + accs[1]) - min(accs), rounded
        barrier = float(np.round(0.5 * (w[0] + w[1]) - w.min(), 2))
    else:
        barrier = float(0.5 * (w[0] + w[-1]) - w.min())
    level_n = np.array([math.comb(d, i) for i in range(d + 1)], dtype=np.int64)
    return A2MBarrier(
        a=int(paths[0, 0]),
        b=int(paths[0, -1]),
        distance=d,
        n_paths=len(paths),
        level_mean=mean,
        level_std=std,
        level_n=level_n,
        barrier=barrier,
        published=published,
        higher_is_better=higher_is_better,
        paths=paths,
    )


def a2m_barriers(
    space: Space,
    values: npt.ArrayLike,
    pairs: Sequence[tuple[ArchLike, ArchLike]],
    *,
    higher_is_better: bool = True,
    published: bool = False,
    carry_min: bool = False,
    nan_policy: NanPolicy = "propagate",
) -> pd.DataFrame:
    """A²M barriers of several pairs (e.g. its Models A, B, C), one row per pair.

    ``carry_min=True`` lets the running minimum of the level means carry over from one pair
    to the next instead of being reset per pair: the behaviour reported for A²M's NB201
    script. The versions of ``profile_nasbench.py`` we could read reset it
    (``compute_barrier(path_accs)`` takes the minimum of one path), so it is off by default
    and independent of ``published``.

    Returns
    -------
    pandas.DataFrame
        Columns ``a, b, distance, value_a, value_b, path_min, barrier`` (``path_min`` is the
        worst level mean used for the barrier, in the metric's own units).
    """
    v = as_values(space, values)
    rows = []
    carried = np.inf
    for pa, pb in pairs:
        r = a2m_barrier(
            space,
            v,
            pa,
            pb,
            higher_is_better=higher_is_better,
            published=published,
            nan_policy=nan_policy,
        )
        w = oriented(r.level_mean, higher_is_better)
        worst = float(w.min())
        barrier = r.barrier
        if carry_min:
            carried = min(carried, worst)
            worst = carried
            if r.distance > 0:
                end = w[1] if published else w[-1]
                barrier = 0.5 * (w[0] + end) - worst
                if published:
                    barrier = float(np.round(barrier, 2))
        rows.append(
            {
                "a": r.a,
                "b": r.b,
                "distance": r.distance,
                "value_a": float(r.level_mean[0]),
                "value_b": float(r.level_mean[-1]),
                "path_min": worst if higher_is_better else -worst,
                "barrier": float(barrier),
            }
        )
    return pd.DataFrame(
        rows, columns=["a", "b", "distance", "value_a", "value_b", "path_min", "barrier"]
    )


def best_shortest_path(
    space: Space,
    values: npt.ArrayLike,
    a: ArchLike,
    b: ArchLike,
    *,
    higher_is_better: bool = True,
) -> BarrierPath:
    """The lowest-barrier path among the d! shortest Hamming paths (first one among ties).

    A path through a NaN value has an undefined barrier and is never chosen; if every
    shortest path has one, :class:`NoPathError` is raised.
    """
    v = as_values(space, values)
    paths = shortest_paths(space, a, b)
    w = oriented(v, higher_is_better)
    check_endpoints(space, w, paths[0, 0], paths[0, -1], None)
    wv = w[paths]
    worst = np.where(np.isnan(wv).any(axis=1), -np.inf, np.nanmin(wv, axis=1))
    p = int(np.argmax(worst))
    if not np.isfinite(worst[p]):
        raise NoPathError(
            "every shortest path between these architectures passes an unmeasured (NaN) one; "
            "use lowest_barrier_path for a detour"
        )
    return make_path(space, v, w, paths[p], higher_is_better)


# -- lowest barrier over the whole space --------------------------------------------------------
