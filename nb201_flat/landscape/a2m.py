"""A²M's barrier construction: every shortest Hamming path between two architectures.

All d! shortest paths between two archs at distance d (change the differing edges one at a
time, in every order); the mean and standard deviation of each level (0..d) over all paths;
the barrier of the level means. ``published=`` reproduces what a named version of A²M's
published code computes where it differs from its text (see :func:`a2m_barrier`):

- ``"54ce096"`` (``published=True``, the default code version): ``profile_nasbench.py`` as last
  changed in commit 54ce096 (2025-02-19), unchanged at repository HEAD 5a303f9, the version that
  preceded the paper. Its minimum is over the *individual* intermediate architectures and is
  carried across the A, B, C pairs of a dataset (:func:`a2m_barriers`).
- ``"947bc3e"``: the file at commit 947bc3e (2025-01-30): the minimum over the *level means*,
  endpoints included, per pair.

Missing values: an unmeasured architecture on the shortest paths leaves the barrier undefined,
a :class:`~nb201_flat.errors.MissingValueError` under ``nan_policy="raise"`` (default), as
:func:`~nb201_flat.landscape.census.pair_barriers` raises; ``"omit"`` averages the measured
members; ``"propagate"`` (opt-in) gives a level with a NaN member a NaN mean, and a NaN barrier.

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
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import MissingValueError, Param, check_flag, shown
from nb201_flat.landscape._common import (
    ArchLike,
    FloatArray,
    IntArray,
    LandscapeArgumentError,
    NanPolicy,
    as_sequence,
    as_values,
    check_nan_policy,
    check_squarable,
    is_pair,
    oriented,
    shown_value,
)
from nb201_flat.landscape.paths import (
    BarrierPath,
    check_endpoints,
    check_shortest_paths_measured,
    make_path,
    shortest_paths,
)
from nb201_flat.space import Space

if TYPE_CHECKING:
    import pandas as pd

A2MCode: TypeAlias = Literal["54ce096", "947bc3e"]
"""A version of A²M's ``profile_nasbench.py``, named by the commit that last changed it."""

A2M_CODE_VERSIONS: Final[tuple[A2MCode, ...]] = ("54ce096", "947bc3e")
"""The code versions :func:`a2m_barrier` reproduces; the first is what ``published=True`` means."""

A2M_CODE_START: Final[float] = 100.0
"""Where the current code's running minimum starts (``acc_min=10*10`` in 54ce096)."""

A2M_PAIRS: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    "cifar10": ((81, 1459), (0, 163), (40, 12094)),
    "cifar100": ((81, 11711), (31, 7680), (146, 4461)),
    "ImageNet16-120": ((65, 2246), (17, 5845), (2, 348)),
}
"""A²M's endpoint pairs per dataset, Models A, B, C in that order (official NB201 indices;
``get_archs`` in its ``profile_nasbench.py``). The order matters for code 54ce096, which carries
its minimum from one pair to the next."""


def a2m_code(published: bool | str | np.bool_) -> A2MCode | None:
    """The code version a ``published=`` argument names (None: the paper's definition).

    >>> a2m_code(True), a2m_code(False), a2m_code("947bc3e")
    ('54ce096', None, '947bc3e')
    """
    if isinstance(published, np.bool_):  # read from an array or a frame: a flag as any other
        published = bool(published)
    if published is False:
        return None
    if published is True:
        return A2M_CODE_VERSIONS[0]
    for code in A2M_CODE_VERSIONS:
        if isinstance(published, str) and published == code:  # an array's == is elementwise
            return code
    raise LandscapeArgumentError(
        f"published must be False (the paper's definition), True (A²M's current code) or one "
        f"of {', '.join(A2M_CODE_VERSIONS)}, got {shown(published)}"
    )


@dataclass(frozen=True, slots=True, eq=False)
class A2MBarrier:
    """The A²M construction between two architectures.

    ``level_mean[i]`` / ``level_std[i]`` are over the i-th architecture of all d! shortest
    paths (level 0 = a, level d = b; population std, as A²M's ``np.std``); ``level_n[i]`` is
    the number of distinct architectures at that level, C(d, i). With a code version the end
    levels are the end points' own (rounded) values and std 0, as that code holds them.
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
    code: A2MCode | None = None
    path_min: float = float("nan")
    paths: IntArray = field(repr=False, default_factory=lambda: np.zeros((0, 0), np.int64))

    def __repr__(self) -> str:  # rounded for display; the levels by their count (frame())
        code = f", code={self.code!r}" if self.code is not None else ""
        return (
            f"A2MBarrier({self.a} -> {self.b}, distance={self.distance}, "
            f"n_paths={self.n_paths}, barrier={shown_value(self.barrier)}, "
            f"path_min={shown_value(self.path_min)}, {self.distance + 1} levels, "
            f"published={self.published}{code}, higher_is_better={self.higher_is_better})"
        )

    def frame(self) -> pd.DataFrame:
        """Tidy levels: ``level, mean, std, n`` (for an error-bar plot)."""
        import pandas as pd  # on first use: `nb201-flat barrier` does not need it

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
    published: bool | A2MCode = False,
    nan_policy: NanPolicy = "raise",
) -> A2MBarrier:
    """A²M's barrier between ``a`` and ``b`` over all d! shortest Hamming paths.

    Parameters
    ----------
    higher_is_better
        True for accuracy; False for a loss (the barrier becomes the mirror image).
    published
        False (default): the paper's definition, ``(f(a) + f(b)) / 2 - min(level means)``
        -- the *mean path* barrier. A level's mean is over its C(d, i) cells, each on
        i!(d-i)! of the paths (so the mean over the paths), summed by :func:`level_sum`:
        ``a`` and ``b`` swapped give the same barrier and the levels reversed, bit for bit.
        Otherwise what a version of A²M's published code computes (``profile_nasbench.py`` in
        github.com/AI-Tech-Research-Lab/AsquaredM, functions ``get_info_from_arch``,
        ``avg_test_acc``, ``path_bench_qualities`` and ``compute_barrier``). Both versions
        round every value to 3 decimals first (``get_info_from_arch``), take the level means
        over the rounded values, and return ``round(0.5 * (L[0] + L[1]) - m, 2)`` where ``L``
        is the list of level means: the start is averaged with the *first intermediate level*,
        not with the end point. As in that code, ``L[0]`` and ``L[-1]`` are ``f(a)`` and
        ``f(b)`` themselves, and each intermediate level is summed path by path in its
        ``search_tree`` order: the same floats, so the rounding falls as the code's does
        even on a .xx5 tie (a mean of copies of ``f(a)`` 1 ulp off moved it by 0.01). They
        differ in ``m``:

        - ``True`` or ``"54ce096"`` (the current code, at HEAD 5a303f9): ``m`` is the minimum
          over the individual architectures of the intermediate levels 1..d-1, and the
          minimum starts at 100 (``acc_min=10*10``; on the oriented scale, so for a loss the
          mirror image of the accuracy case) and runs on across the pairs of a dataset.
          Alone, a pair is treated as the first of its dataset; use :func:`a2m_barriers` with
          the dataset's ordered pairs for the carried value. With no intermediate level
          (d = 1) nothing lowers the start, and the code's answer is
          ``round(0.5 * (f(a) + f(b)) - 100, 2)``: that is what is returned.
        - ``"947bc3e"`` (2025-01-30): ``m`` is the minimum of ``L``, endpoints included, per
          pair. For d = 1 it agrees with the paper's definition up to rounding.

        A pair of one architecture (d = 0) has barrier 0, except with code 54ce096: its
        ``search_tree`` returns the single path ``[a]``, so no level lowers the minimum
        from its start and ``compute_barrier([f(a), f(a)], m)`` is ``round(f(a) - m, 2)``
        (``f(a) - 100`` alone): what is returned, as for d = 1.
    nan_policy
        ``"raise"`` (default: an unmeasured architecture on the shortest paths is a
        :class:`~nb201_flat.errors.MissingValueError`, the barrier being undefined),
        ``"omit"`` (average the measured members; an unmeasured endpoint, or a level with
        none, is a :class:`~nb201_flat.errors.MissingValueError`) or ``"propagate"`` (a
        level with a NaN member has a NaN mean, and an unmeasured endpoint a NaN barrier in
        every mode, though code 54ce096 reads ``f(b)`` only for d = 1).

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])   # 000 -> 111; level 1 = {5, 6, 4}
    >>> r = a2m_barrier(space, f, 0, 7)
    >>> r.level_mean.tolist(), r.barrier          # (9 + 8) / 2 - 5
    ([9.0, 5.0, 7.0, 8.0], 3.5)
    >>> a2m_barrier(space, f, 0, 7, published="947bc3e").barrier   # (9 + 5) / 2 - 5
    2.0
    >>> a2m_barrier(space, f, 0, 7, published=True).barrier        # (9 + 5) / 2 - 4
    3.0
    """
    code = a2m_code(published)
    return _a2m(space, as_values(space, values), a, b, higher_is_better, code, nan_policy)


def _a2m(
    space: Space,
    v: FloatArray,
    a: ArchLike,
    b: ArchLike,
    higher_is_better: bool,
    code: A2MCode | None,
    nan_policy: NanPolicy,
    start: float = A2M_CODE_START,
    paths: IntArray | None = None,
) -> A2MBarrier:
    """:func:`a2m_barrier` with the running minimum of code 54ce096 starting at ``start``
    (oriented: larger is better); ``paths`` are ``shortest_paths(space, a, b)`` when the
    caller has them already."""
    check_nan_policy(nan_policy)
    if paths is None:
        paths = shortest_paths(space, a, b)
    d = paths.shape[1] - 1
    level_vals = v[paths]  # (d!, d + 1)
    if code is not None:
        level_vals = np.round(level_vals, 3)  # get_info_from_arch: np.round(test_acc, 3)
    if nan_policy == "raise":
        _check_measured(level_vals, paths)
    if nan_policy == "omit":
        _check_omittable(level_vals, paths)
    check_squarable(level_vals, "the level std of the A²M barrier")
    if code is None:
        # the paper's mean path: each level's cells (each on as many paths as the others),
        # summed in an order of their own, so that swapping a and b reverses the levels exactly
        mean, std = _level_stats(v, paths, omit=nan_policy == "omit")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # propagate: a NaN level, as asked
            if nan_policy == "omit":
                mean = np.nanmean(level_vals, axis=0)
                std = np.nanstd(level_vals, axis=0)
            else:
                # axis 0 of a C-ordered array: the paths are added in turn from 0.0, in
                # search_tree's order, as avg_test_acc sums each level (bit for bit)
                mean = level_vals.mean(axis=0)
                std = level_vals.std(axis=0)
    if code is not None:
        # path_accs holds acc1 and acc2 themselves (their error bars 0): the mean of d! copies
        # of f(a) can be 1 ulp off it, and the 2-decimal rounding then falls the other way
        fa, fb = level_vals[0, 0], level_vals[0, -1]
        mean[0], mean[-1] = fa, fb
        std[0], std[-1] = fa - fa, fb - fb  # 0, or NaN for an unmeasured end (propagate)
    w = oriented(mean, higher_is_better)
    if d == 0:
        # 54ce096's running minimum is over intermediate architectures: a pair without any
        # leaves it where it was (taking w[0] raised a carried minimum), and its
        # compute_barrier([f(a), f(a)], acc_min) is round(f(a) - acc_min, 2), as for d = 1
        worst = float(start) if code == "54ce096" else float(w[0])
        if code == "54ce096":
            barrier = float(np.round(w[0] - worst, 2))
        else:
            barrier = 0.0 if not np.isnan(w[0]) else float("nan")
    elif code is None:
        worst = float(w.min())
        barrier = float(0.5 * (w[0] + w[-1]) - worst)
    else:
        if code == "947bc3e":
            # compute_barrier(path_accs): min over the list of level means, endpoints included
            worst = float(w.min())
        else:
            # 54ce096: acc_min = min(min(accs), acc_min) over each intermediate level's members
            inner = oriented(level_vals[:, 1:-1], higher_is_better)
            if nan_policy == "omit":
                inner = inner[~np.isnan(inner)]
            inner_min = float(inner.min()) if inner.size else math.inf
            worst = float(np.minimum(start, inner_min))
        # compute_barrier(accs, ...): 0.5 * (accs[0] + accs[1]) - acc_min, rounded to 2
        barrier = float(np.round(0.5 * (w[0] + w[1]) - worst, 2))
        if np.isnan(w[-1]):  # 54ce096 never reads f(b) at d >= 2; unmeasured, no barrier
            barrier = float("nan")
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
        published=code is not None,
        higher_is_better=higher_is_better,
        code=code,
        path_min=worst if higher_is_better else -worst,
        paths=paths,
    )


def level_sum(values: FloatArray) -> FloatArray:
    """The sum along the last axis of ``values``, one float whatever their order there: they
    are added one at a time in ascending order (a NaN last). The mean path's levels are summed
    so (:func:`a2m_barrier`, and many pairs at once in
    :mod:`~nb201_flat.landscape.pair_batch`), so that a and b swapped give the same floats.

    >>> level_sum(np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])).tolist()
    [0.6000000000000001, 0.6000000000000001]
    """
    ordered = np.sort(values, axis=-1)
    total: FloatArray = ordered[..., 0].copy()  # from the first: a sum of -0.0s stays -0.0
    for k in range(1, ordered.shape[-1]):
        total += ordered[..., k]
    return total


def _level_stats(v: FloatArray, paths: IntArray, *, omit: bool) -> tuple[FloatArray, FloatArray]:
    """Mean and population std of each level of ``paths`` over its distinct cells (each lies
    on i!(d-i)! of the d! paths, so these are the means over the paths), summed by
    :func:`level_sum`; ``omit``: over the measured cells (the caller has refused a level
    without one), else a level with a NaN member has a NaN mean."""
    d = paths.shape[1] - 1
    mean = np.empty(d + 1)
    std = np.empty(d + 1)
    for level in range(d + 1):
        x = v[np.unique(paths[:, level])]
        if omit:
            x = x[~np.isnan(x)]
        mean[level] = level_sum(x) / len(x)
        std[level] = math.sqrt(level_sum((x - mean[level]) ** 2) / len(x))
    return mean, std


def _check_measured(level_vals: FloatArray, paths: IntArray) -> None:
    """``nan_policy="raise"``: a :class:`MissingValueError` naming how many architectures of
    the shortest ``paths`` have no value (each counted once, not per path through it)."""
    missing = np.unique(paths[np.isnan(level_vals)])
    if missing.size:
        a, b = int(paths[0, 0]), int(paths[0, -1])
        raise MissingValueError(
            f"{missing.size} architecture(s) on the shortest paths from {a} to {b} have no "
            f"value (first: {int(missing[0])}), so the A²M barrier is undefined; pass ",
            Param("nan_policy", "omit"),
            " to average the measured ones, or ",
            Param("nan_policy", "propagate"),
            " for a NaN barrier",
        )


def _check_omittable(level_vals: FloatArray, paths: IntArray) -> None:
    """Refuse a pair ``nan_policy="omit"`` cannot serve: an unmeasured endpoint, or a level
    of which no member is measured (its mean, and so the barrier, was NaN)."""
    measured = ~np.isnan(level_vals).all(axis=0)
    if measured.all():
        return
    d = level_vals.shape[1] - 1
    a, b = int(paths[0, 0]), int(paths[0, -1])
    level = int(np.flatnonzero(~measured)[0])
    what = (
        f"endpoint {a if level == 0 else b} is not measured"
        if level in (0, d)
        else f"no architecture of level {level} (distance {level} from {a}) is measured"
    )
    raise MissingValueError(
        f"no A²M barrier between {a} and {b} under nan_policy='omit': {what}; choose measured "
        "endpoints, or pass nan_policy='propagate' for a NaN barrier"
    )


def a2m_barriers(
    space: Space,
    values: npt.ArrayLike,
    pairs: Sequence[tuple[ArchLike, ArchLike]],
    *,
    higher_is_better: bool = True,
    published: bool | A2MCode = False,
    carry_min: bool | None = None,
    nan_policy: NanPolicy = "raise",
) -> pd.DataFrame:
    """A²M barriers of a dataset's ordered pairs (its Models A, B, C), one row per pair.

    ``pairs`` are taken in order, as ``path_bench_qualities`` loops over ``["A", "B", "C"]``
    (:data:`A2M_PAIRS`). With the current code (``published=True`` or ``"54ce096"``) the
    minimum ``acc_min`` starts at 100 once per dataset and is *not* reset between pairs: the
    barrier of pair B subtracts the lowest intermediate architecture seen on A's paths or
    B's, and so on -- so a pair's value depends on the pairs before it. That is the default
    (``carry_min=None`` means "as the code does"); ``carry_min=False`` resets it per pair.

    With the paper's definition or code 947bc3e nothing is carried (947bc3e's
    ``compute_barrier(path_accs)`` takes the minimum of one pair's level means);
    ``carry_min=True`` lets the minimum of the level means run on across pairs instead.
    ``nan_policy`` as :func:`a2m_barrier` takes it (default ``"raise"``). A carried minimum
    that meets a NaN (``nan_policy="propagate"``) is NaN from there on:
    every later pair's barrier is then NaN, as the minimum it would subtract is unknown (a
    pair of one architecture keeps its barrier 0, except with code 54ce096, whose value for
    it subtracts the minimum too: see :func:`a2m_barrier`).

    Returns
    -------
    pandas.DataFrame
        Columns ``a, b, distance, value_a, value_b, path_min, barrier`` (``path_min`` is the
        worst value the barrier subtracts, after carrying, in the metric's own units).

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    >>> a2m_barriers(space, f, [(0, 7), (3, 7)], published=True)["barrier"].tolist()
    [3.0, 3.5]
    """
    import pandas as pd  # on first use: `nb201-flat barrier` does not need it

    code = a2m_code(published)
    carry = code == "54ce096" if carry_min is None else check_flag("carry_min", carry_min)
    # checked here too: with no pairs, nothing below would (an empty frame for a typo)
    check_nan_policy(nan_policy)
    check_flag("higher_is_better", higher_is_better)
    v = as_values(space, values)
    rows = []
    carried = A2M_CODE_START if code == "54ce096" else math.inf
    pairs = as_sequence("pairs", pairs, "(a, b) pairs of architectures")  # type: ignore[assignment]
    for pair in pairs:  # a bad pair after good ones would otherwise cost their work
        if not is_pair(pair):
            raise LandscapeArgumentError(
                f"pairs must be (a, b) pairs of architectures, got {pair!r:.80}"
            )
    for pa, pb in pairs:
        start = carried if carry else A2M_CODE_START
        r = _a2m(space, v, pa, pb, higher_is_better, code, nan_policy, start)
        w = oriented(r.level_mean, higher_is_better)
        worst = r.path_min if higher_is_better else -r.path_min
        barrier = r.barrier
        if code == "54ce096":
            carried = worst
        elif carry:
            # a NaN pair leaves the running minimum unknown from there on (min() kept
            # whichever of the two came first: inf, or an earlier pair's finite minimum)
            carried = float(np.minimum(carried, worst))
            worst = carried
            if r.distance > 0:
                end = w[1] if code is not None else w[-1]
                barrier = 0.5 * (w[0] + end) - worst
                if code is not None:
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

    Raises
    ------
    MissingValueError
        An architecture on the shortest paths has no value: the best of them is unknown (the
        path through it could be better than every measured one), as for
        :func:`~nb201_flat.landscape.census.pair_barriers`.
    """
    v = as_values(space, values)
    paths = shortest_paths(space, a, b)
    w = oriented(v, higher_is_better)
    check_endpoints(space, w, paths[0, 0], paths[0, -1], None)
    check_shortest_paths_measured(w, paths)
    p = int(np.argmax(w[paths].min(axis=1)))
    return make_path(space, v, w, paths[p], higher_is_better)


# -- lowest barrier over the whole space --------------------------------------------------------
