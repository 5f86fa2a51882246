"""Landscape statistics: distance to the optimum, ruggedness, local optima, A²M distributions.

Every function takes ``(space, values)`` with ``values`` one metric over all architectures and
``higher_is_better`` saying which way is up (accuracy: True; loss: False). Missing values
(NaN) are never averaged in: they are left out of correlations and distributions, are never
local optima and never lie on a hill-climbing path (a NaN neighbour counts as worse than
anything).

A statistic the values do not define (a correlation over a constant landscape, over fewer
than two measured cells; an accuracy band no value lies in) is an error naming why, never a
quiet NaN or empty frame: a caller that can show "undefined" (a figure) opts in with
``undefined="nan"`` (the correlations) or ``allow_empty=True`` (:func:`neighbour_distributions`).

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("none", "skip", "conv"), 3)
>>> f = (space.codes == 2).sum(axis=1).astype(float)      # f = number of conv edges
>>> int(local_optima(space, f).sum())                      # one peak: all-conv
1
>>> round(fitness_distance_correlation(space, f), 6)       # f = 3 - distance: perfectly correlated
-1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.budget import check_memory
from nb201_flat.conventions import report_dataset, report_key
from nb201_flat.errors import (
    Param,
    Part,
    check_choice,
    check_flag,
    check_int_range,
    shown,
)
from nb201_flat.landscape._common import (
    ArchLike,
    BoolArray,
    FloatArray,
    IntArray,
    LandscapeArgumentError,
    Seed,
    Undefined,
    as_sequence,
    as_values,
    check_band,
    check_squarable,
    check_undefined,
    oriented,
    resolve_index,
    undefined_value,
)
from nb201_flat.neighbours import check_connected_only
from nb201_flat.space import Space, check_arch_indices, check_space
from nb201_flat.table import MetricKey
from nb201_flat.types import as_rng

if TYPE_CHECKING:
    from nb201_flat.neighbours import NeighbourArrays

# A²M's accuracy bands (test accuracy, %, both ends included), "Models A/B/C" of its
# neighbourhood-distribution figures; read from its published profile_nasbench.py.
A2M_BANDS: dict[str, dict[str, tuple[float, float]]] = {
    "cifar10": {"A": (92.3, 93.7), "B": (84.3, 85.7), "C": (74.3, 75.7)},
    "cifar100": {"A": (69.3, 70.7), "B": (64.3, 65.7), "C": (54.3, 55.7)},
    "ImageNet16-120": {"A": (45.9, 47.3), "B": (34.3, 35.7), "C": (24.3, 25.7)},
}

A2M_BAND_KEYS: tuple[MetricKey, ...] = tuple(report_key(ds) for ds in A2M_BANDS)
"""The metrics :data:`A2M_BANDS` are bands of: each dataset's 200-epoch test accuracy
(``test-acc`` in A²M's code; cifar10 ori-test, cifar100 and ImageNet16-120 x-test). On another
metric (a loss, a validation split, 12 epochs) they select nothing meaningful."""


# -- distance to the optimum ----------------------------------------------------------------
def global_optima(
    space: Space, values: npt.ArrayLike, *, higher_is_better: bool = True
) -> IntArray:
    """Indices of every architecture attaining the best value (ties included), ascending."""
    v = oriented(as_values(space, values), higher_is_better)
    if np.isnan(v).all():
        raise LandscapeArgumentError("values are all NaN: there is no optimum")
    best = np.nanmax(v)
    return np.nonzero(v == best)[0].astype(np.int64)


def distance_profile(
    space: Space,
    values: npt.ArrayLike,
    optimum: ArchLike | Sequence[ArchLike] | None = None,
    *,
    higher_is_better: bool | None = None,
    dropna: bool = True,
) -> pd.DataFrame:
    """Value against Hamming distance from the optimum, one row per architecture (tidy).

    Parameters
    ----------
    optimum
        The reference architecture(s); default: every global optimum (ties included). The
        distance of an architecture is to its nearest reference.
    higher_is_better
        Which way the global optima lie (default True); it picks them, so it is refused beside
        a given ``optimum``.
    dropna
        Drop architectures whose value is NaN.

    Returns
    -------
    pandas.DataFrame
        Columns ``index, distance, value``; ready for ``seaborn.boxplot(x="distance", y="value")``.
        ``attrs["optima"]`` lists the reference indices the distances are measured from.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> df = distance_profile(space, np.arange(8.0))
    >>> df.groupby("distance")["value"].mean().tolist()
    [7.0, 4.666666666666667, 2.3333333333333335, 0.0]
    >>> df.attrs["optima"]
    [7]
    """
    v = as_values(space, values)
    dropna = check_flag("dropna", dropna)
    refs = _references(space, v, optimum, higher_is_better)
    dist = _distance_to_nearest(space, refs)
    df = pd.DataFrame(
        {"index": np.arange(space.size, dtype=np.int64), "distance": dist, "value": v}
    )
    if dropna:
        df = df[~np.isnan(v)].reset_index(drop=True)
        if df.empty:  # only with an optimum given: all-NaN values have no optimum of their own
            raise LandscapeArgumentError(
                "values are all NaN: there is no measured architecture to profile"
            )
    df.attrs["optima"] = refs.tolist()
    return df


def fitness_distance_correlation(
    space: Space,
    values: npt.ArrayLike,
    optimum: ArchLike | Sequence[ArchLike] | None = None,
    *,
    higher_is_better: bool | None = None,
    method: Literal["pearson", "spearman"] = "pearson",
    undefined: Undefined = "raise",
) -> float:
    """Correlation between the value and the Hamming distance to the nearest optimum.

    Jones & Forrest's FDC over every measured architecture (NaN values left out). For
    accuracy an easy landscape gives a strongly negative value (closer is better).

    Parameters
    ----------
    undefined
        What a correlation the values do not define gives (fewer than two measured
        architectures, every measured value equal, or every one at the same distance):
        ``"raise"`` an error, ``"nan"`` NaN.

    Raises
    ------
    LandscapeArgumentError
        The correlation is undefined (under ``undefined="raise"``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> fitness_distance_correlation(space, np.full(8, 5.0))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: the fitness-distance correlation is undefined: every measured value equals 5 (a constant landscape); pass values that vary, or pass undefined='nan' for NaN
    >>> fitness_distance_correlation(space, np.full(8, 5.0), undefined="nan")
    nan
    """
    check_choice("method", method, ("pearson", "spearman"))
    undefined = check_undefined(undefined)
    df = distance_profile(space, values, optimum, higher_is_better=higher_is_better)
    what = "the fitness-distance correlation"
    if len(df) < 2:
        why = "only one architecture has a value"  # none: distance_profile refused
        return undefined_value(undefined, what, why, ["pass values measured on at least two"])
    if df["value"].nunique() < 2:
        why = f"every measured value equals {df['value'].iloc[0]:g} (a constant landscape)"
        return undefined_value(undefined, what, why, ["pass values that vary"])
    if df["distance"].nunique() < 2:
        d = int(df["distance"].iloc[0])
        why = (
            f"every measured architecture lies {d} edge{'' if d == 1 else 's'} from the "
            "nearest optimum"
        )
        fix: list[Part] = ["pass values measured at more distances, or another ", Param("optimum")]
        return undefined_value(undefined, what, why, fix)
    if method == "pearson":  # spearman correlates ranks
        check_squarable(df["value"].to_numpy(dtype=np.float64), what)
    return float(df["value"].corr(df["distance"].astype(np.float64), method=method))


def _references(
    space: Space,
    v: FloatArray,
    optimum: ArchLike | Sequence[ArchLike] | None,
    higher_is_better: bool | None,
) -> IntArray:
    # None: not given (True where it picks the optima)
    if higher_is_better is not None:
        higher_is_better = check_flag("higher_is_better", higher_is_better)  # "no" was read
    if optimum is None:
        return global_optima(space, v, higher_is_better=higher_is_better is not False)
    if higher_is_better is not None:  # it picks the optima; given ones, it changed nothing
        raise LandscapeArgumentError(
            Param("higher_is_better"),
            " picks the optima, but optimum names them; drop one",
        )
    if isinstance(optimum, np.ndarray):  # any shape, np.array(5) too: the index-array rule
        refs = sorted(set(check_arch_indices(optimum, space.size, name="optimum").ravel().tolist()))
    elif isinstance(optimum, str | int | np.integer) or not isinstance(optimum, Iterable):
        refs = [resolve_index(space, optimum)]
    else:
        refs = sorted({resolve_index(space, a) for a in optimum})
    if not refs:
        raise LandscapeArgumentError(
            "optimum is an empty sequence; pass the reference architectures, or None for "
            "every global optimum"
        )
    return np.asarray(refs, dtype=np.int64)


def _distance_to_nearest(space: Space, refs: IntArray) -> npt.NDArray[np.int64]:
    """Hamming distance from every architecture to its nearest reference.

    A distance transform over the grid of codes, one pass per edge, so that many references
    (every cell of a constant vector is an optimum) cost what one does: the fewest differing
    edges is a sum over edges, so after the pass over edge ``e`` each cell holds the fewest
    differences to a reference that agrees with it on the edges not passed yet.

    >>> from nb201_flat.space import Space
    >>> _distance_to_nearest(Space(("a", "b"), 3), np.array([0, 7])).tolist()
    [0, 1, 1, 1, 1, 1, 1, 0]
    """
    lex = space._lex_of_index  # the grid, first edge the slowest axis
    grid = np.full(space.size, space.n_edges, dtype=np.int64)
    grid[lex[refs]] = 0
    grid = grid.reshape((space.n_ops,) * space.n_edges)
    for axis in range(space.n_edges):
        np.minimum(grid, grid.min(axis=axis, keepdims=True) + 1, out=grid)
    dist: npt.NDArray[np.int64] = grid.reshape(-1)[lex]
    return dist


# -- random walks ---------------------------------------------------------------------------
def random_walk(
    space: Space,
    length: int,
    *,
    seed: Seed,
    start: ArchLike | None = None,
    no_none: bool = False,
    connected_only: bool = False,
) -> IntArray:
    """Indices visited by a random walk on the radius-1 graph (``length`` steps + the start).

    Each step moves to a uniformly drawn neighbour (with the space layer's filters); a cell
    with no neighbour left by the filters stays put. The start is drawn uniformly (among
    connected cells when ``connected_only``) unless given.
    """
    length = check_int_range("length", length, 0, fix="pass a whole number of steps")
    # the draws and the walk: 16 bytes a step
    check_memory(16 * length, f"a random walk of {length:,} steps", "take fewer steps")
    rng = as_rng(seed)
    nb = check_space(space).neighbours(1, no_none=no_none, connected_only=connected_only)
    return _walk(space, nb, length, rng, start, connected_only)


def _walk(
    space: Space,
    nb: NeighbourArrays,
    length: int,
    rng: np.random.Generator,
    start: ArchLike | None,
    connected_only: bool,
) -> IntArray:
    """:func:`random_walk` on checked arguments (many walks check their memory once)."""
    if start is None:
        pool = np.nonzero(space.connected)[0] if connected_only else np.arange(space.size)
        cur = int(pool[rng.integers(len(pool))])
    else:
        cur = resolve_index(space, start)
        if connected_only and not space.connected[cur]:  # the walk would hold a filtered cell
            raise LandscapeArgumentError(
                f"start {cur} is disconnected, outside the connected_only landscape; start at "
                "a connected architecture, or drop connected_only"
            )
    # one uniform draw per step, scaled by the current count: vectorised draws, scalar walk
    u = rng.random(length)
    walk = np.empty(length + 1, dtype=np.int64)
    walk[0] = cur
    counts = nb.counts
    indices = nb.indices
    for t in range(length):
        c = int(counts[cur])
        if c:
            cur = int(indices[cur, int(u[t] * c)])
        walk[t + 1] = cur
    return walk


def _walk_values(
    space: Space,
    nb: NeighbourArrays,
    v: FloatArray,
    length: int,
    n_walks: int,
    rng: np.random.Generator,
    connected_only: bool,
) -> FloatArray:
    """The values met by ``n_walks`` walks of :func:`_walk`, one a row: the same draws in the
    same order (each walk's start, then its steps' uniforms), so the same walks bit for bit,
    but every walk takes its step ``t`` at once instead of one step of one walk at a time."""
    counts, indices = nb.counts, nb.indices
    # a few long walks: the scalar loop is the faster one (and a space without neighbours
    # has no step to take)
    if n_walks < 8 or not indices.shape[1]:
        out = np.empty((n_walks, length + 1))
        for w in range(n_walks):
            out[w] = v[_walk(space, nb, length, rng, None, connected_only)]
        return out
    pool = np.nonzero(space.connected)[0] if connected_only else np.arange(space.size)
    # the draws, in _walk's order: a row holds its walk's start (column 0, as an index into
    # pool) and its steps' uniforms, each replaced by the value reached below
    series = np.empty((n_walks, length + 1))
    integers, uniform, n_pool = rng.integers, rng.random, len(pool)
    for w in range(n_walks):
        series[w, 0] = integers(n_pool)  # < 2**53: exact as a float
        series[w, 1:] = uniform(length)
    # every walk of a block takes step t at once; a block, transposed, holds a step in one
    # contiguous row (about 8 MB of it: the strided column of all walks missed the cache)
    block = max(1, (1 << 20) // (length + 1))
    for lo in range(0, n_walks, block):
        chunk = series[lo : lo + block].T.copy()
        cur = pool[chunk[0].astype(np.int64)]
        chunk[0] = v[cur]
        for t in range(1, length + 1):
            c = counts[cur]
            # int(u * c) of _walk: the product in float64, truncated (both are >= 0)
            j = (chunk[t] * c).astype(np.int64)
            # a cell without a neighbour left by the filters stays put (there j = 0: in bounds)
            cur = np.where(c > 0, indices[cur, j], cur)
            chunk[t] = v[cur]
        series[lo : lo + block] = chunk.T
    return series


#: the fix of a statistic that more walking defines (too few measured pairs)
_WALK_FURTHER: tuple[Part, ...] = ("walk further (", Param("length"), ", ", Param("n_walks"), ")")


def autocorrelation(
    space: Space,
    values: npt.ArrayLike,
    *,
    seed: Seed,
    length: int = 10_000,
    max_lag: int = 10,
    n_walks: int = 1,
    no_none: bool = False,
    connected_only: bool = False,
    undefined: Undefined = "raise",
) -> pd.DataFrame:
    """Random-walk autocorrelation r(k) of the values, k = 1..max_lag (Weinberger).

    ``r(k) = sum[a_t b_t] / sqrt(sum[a_t^2] sum[b_t^2])`` over the pairs ``k`` steps apart,
    with ``a_t = f_t - m``, ``b_t = f_{t+k} - m`` and ``m`` the mean of the walk's values;
    pairs with a NaN end are left out. ``n_walks`` independent walks are pooled. On a long
    walk this is Weinberger's ``mean[a b] / var``; unlike that ratio it stays within [-1, 1]
    on a short walk or a sparse table (there the pairs' spread need not match the variance
    over every visit: r(6) = -1.04 on a 10-step walk of a whole table). Read it with its
    ``pairs``.

    Parameters
    ----------
    undefined
        What an r(k) the walks do not define gives (every value they met equal, or no pair of
        measured values ``k`` steps apart): ``"raise"`` an error, ``"nan"`` NaN in that row.

    Returns
    -------
    pandas.DataFrame
        Columns ``lag, autocorrelation, pairs``.

    Raises
    ------
    LandscapeArgumentError
        The walks met fewer than two measured architectures, an r(k) is undefined (under
        ``undefined="raise"``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> autocorrelation(Space(("a", "b"), 3), np.ones(8), seed=0, length=20)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: the autocorrelation is undefined: every value the walks met equals 1 (no variance); pass values that vary, or walk further (length, n_walks), or pass undefined='nan' for NaN
    """
    undefined = check_undefined(undefined)
    length = check_int_range("length", length, 1, fix="pass a whole number of steps")
    max_lag = check_int_range("max_lag", max_lag, 1, length, fix="a lag within the walk's length")
    n_walks = check_int_range("n_walks", n_walks, 1)
    # the walks' values, two lagged copies and their products: 40 bytes a step
    check_memory(40 * length * n_walks, f"{n_walks} walks of {length:,} steps", "walk less")
    v = as_values(space, values)
    rng = as_rng(seed)
    nb = space.neighbours(1, no_none=no_none, connected_only=connected_only)
    # one memory check above for every walk and one array of them: a walk's products, row by
    # row, are the pooled ones in order
    series = _walk_values(space, nb, v, length, n_walks, rng, connected_only)
    ok = ~np.isnan(series)
    if ok.sum() < 2:
        raise LandscapeArgumentError("the walk met fewer than two measured architectures")
    check_squarable(series[ok], "the autocorrelation")
    m = series[ok].mean()
    var = series[ok].var()
    what = "the autocorrelation"
    # compared, not by the variance: the mean of three 0.1s is 0.10000000000000002, and their
    # variance 2**-112 > 0 gave r(1) = 1.0 for a constant walk
    varies = var > 0 and np.ptp(series[ok]) > 0
    if not varies:  # every r(k) is 0/0
        why = f"every value the walks met equals {m:g} (no variance)"
        undefined_value(undefined, what, why, ["pass values that vary, or ", *_WALK_FURTHER])
    rows = []
    for k in range(1, max_lag + 1):
        a, b = series[:, :-k] - m, series[:, k:] - m
        keep = ~(np.isnan(a) | np.isnan(b))
        a, b = a[keep], b[keep]
        scale = np.sqrt(float(a @ a) * float(b @ b))
        if len(a) and varies and scale > 0:
            r = float(np.clip(float(a @ b) / scale, -1.0, 1.0))  # clip: rounding only
        else:
            why = (
                f"no two measured values lie {k} step{'s' if k > 1 else ''} apart on the walks"
                if not len(a)
                else f"the values {k} step{'s' if k > 1 else ''} apart do not vary about the "
                "walks' mean"
            )
            r = undefined_value(
                undefined, f"r({k})", why, [*_WALK_FURTHER, ", or a smaller ", Param("max_lag")]
            )
        rows.append({"lag": k, "autocorrelation": r, "pairs": len(a)})
    return pd.DataFrame(rows, columns=["lag", "autocorrelation", "pairs"])


def correlation_length(
    space: Space,
    values: npt.ArrayLike,
    *,
    seed: Seed,
    length: int = 10_000,
    n_walks: int = 1,
    no_none: bool = False,
    connected_only: bool = False,
    undefined: Undefined = "raise",
) -> float:
    """Correlation length ``-1 / ln r(1)`` of a random walk (:func:`autocorrelation`).

    Parameters
    ----------
    undefined
        What a length the walks do not define gives (r(1) undefined, see
        :func:`autocorrelation`; r(1) <= 0: no positive correlation one step apart, whose
        logarithm does not exist; r(1) = 1: the measured steps never lose correlation, from
        steps that keep their value or from one or a few measured pairs (a single pair gives
        +-1), an infinite -1/ln r(1)): ``"raise"`` an error, ``"nan"`` NaN.

    Raises
    ------
    LandscapeArgumentError
        The length is undefined (under ``undefined="raise"``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import NB201
    >>> f = (NB201.codes == 3).sum(axis=1).astype(float)   # smooth: count of 3x3 convs
    >>> round(correlation_length(NB201, f, seed=0), 1)   # theory: -1 / ln(1 - 5/24) = 4.3
    4.1
    """
    ac = autocorrelation(
        space,
        values,
        seed=seed,
        length=length,
        max_lag=1,
        n_walks=n_walks,
        no_none=no_none,
        connected_only=connected_only,
        undefined=undefined,
    )
    r1 = float(ac["autocorrelation"].iloc[0])
    if np.isnan(r1):  # undefined="nan" and r(1) undefined: autocorrelation said why otherwise
        return r1
    if not r1 > 0:
        why = f"r(1) = {r1:.3g} <= 0 (no positive correlation one step apart: -1/ln r(1) does not exist)"
        return undefined_value(
            undefined, "the correlation length", why, ["read autocorrelation(...) itself"]
        )
    if r1 >= 1:
        # 1 exactly (r(k) is a correlation, within [-1, 1]): the measured steps kept their
        # correlation whole, as steps that keep their value do, or one or a few measured pairs
        # (a single pair gives +-1). No length to print: -1/ln 1 is inf
        n = int(ac["pairs"].iloc[0])
        why = (
            f"r(1) = {r1:.3g} >= 1 over {n:,} measured pair{'' if n == 1 else 's'} one step "
            "apart (the measured steps keep the value, or too few of them are measured: "
            "-1/ln r(1) is no finite positive length)"
        )
        fix: list[Part] = [*_WALK_FURTHER, ", or read autocorrelation(...) itself"]
        return undefined_value(undefined, "the correlation length", why, fix)
    return float(-1.0 / np.log(r1))


# -- local optima and basins -----------------------------------------------------------------
def _best_neighbour(
    space: Space, w: FloatArray, no_none: bool, connected_only: bool
) -> tuple[FloatArray, IntArray]:
    """Best oriented neighbour value and its index (lowest index among ties; -1 if none)."""
    nb = space.neighbours(1, no_none=no_none, connected_only=connected_only)
    g = nb.gather(w)
    g[np.isnan(g)] = -np.inf  # padding and unmeasured neighbours are worse than anything
    best = g.max(axis=1)
    big = np.iinfo(np.int64).max
    idx = nb.indices.astype(np.int64)
    tie = (g == best[:, None]) & (idx >= 0)
    arg = np.where(tie, idx, big).min(axis=1)
    arg[arg == big] = -1
    return best, arg


def measured_cells(space: Space, w: FloatArray, connected_only: bool) -> BoolArray:
    """The cells of the landscape the local optima are taken in that hold a value: not NaN,
    and connected under ``connected_only``."""
    kept = ~np.isnan(w)
    if connected_only:
        kept &= space.connected
    return kept


def _require_measured(space: Space, w: FloatArray, connected_only: bool) -> BoolArray:
    """:func:`measured_cells`, or the error where there is none: an all-False mask, all -1
    or an empty frame would read as "0 local optima"."""
    kept = measured_cells(space, w, connected_only)
    if not kept.any():
        where = " on every connected architecture" if connected_only else ""
        raise LandscapeArgumentError(
            f"values are NaN{where}: there are no local optima; pass values measured on some"
        )
    return kept


def local_optima(
    space: Space,
    values: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
) -> BoolArray:
    """True for architectures with no strictly better neighbour at radius 1.

    Non-strict: on a plateau every cell is a local optimum. NaN cells are never optima; NaN
    neighbours are ignored. With ``connected_only`` the disconnected cells are not optima
    either (they are outside the filtered landscape).

    Raises
    ------
    LandscapeArgumentError
        No architecture of the landscape is measured (every value NaN, or every connected
        one under ``connected_only``), or a bad argument.
    """
    w = oriented(as_values(space, values), higher_is_better)
    best, _ = _best_neighbour(space, w, no_none, connected_only)
    return _require_measured(space, w, connected_only) & (w >= best)


def hill_climb(
    space: Space,
    values: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
) -> IntArray:
    """The local optimum reached from every architecture by best-improvement hill climbing.

    Each step moves to the best radius-1 neighbour if it is strictly better (the lowest index
    among equally good ones), and stops otherwise. Returns the index reached (-1 for NaN
    cells and, with ``connected_only``, for disconnected ones).

    Raises
    ------
    LandscapeArgumentError
        No architecture of the landscape is measured (every value NaN, or every connected
        one under ``connected_only``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)                 # lexicographic: index = binary number
    >>> hill_climb(space, [5.0, 0, 0, 0, 0, 0, 0, 9.0]).tolist()
    [0, 0, 0, 7, 0, 7, 7, 7]
    """
    w = oriented(as_values(space, values), higher_is_better)
    best, arg = _best_neighbour(space, w, no_none, connected_only)
    kept = _require_measured(space, w, connected_only)
    nxt = np.arange(space.size, dtype=np.int64)
    move = ~np.isnan(w) & (best > w)
    nxt[move] = arg[move]
    # pointer jumping: log2(longest climb) rounds instead of one step at a time
    while True:
        jumped = nxt[nxt]
        if np.array_equal(jumped, nxt):
            break
        nxt = jumped
    nxt[~kept] = -1
    return nxt


def basins(
    space: Space,
    values: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
) -> pd.DataFrame:
    """Local optima with their basin sizes under best-improvement hill climbing, best first.

    Returns
    -------
    pandas.DataFrame
        Columns ``index, value, basin_size, is_global``; ``len(df)`` is the number of local
        optima. Ties in value are ordered by index.

    Raises
    ------
    LandscapeArgumentError
        No architecture of the landscape is measured (:func:`local_optima`), or a bad
        argument.
    """
    v = as_values(space, values)
    attractor = hill_climb(
        space, v, higher_is_better=higher_is_better, no_none=no_none, connected_only=connected_only
    )
    opt = np.nonzero(
        local_optima(
            space,
            v,
            higher_is_better=higher_is_better,
            no_none=no_none,
            connected_only=connected_only,
        )
    )[0]
    sizes = np.bincount(attractor[attractor >= 0], minlength=space.size)
    w = oriented(v, higher_is_better)
    order = np.lexsort((opt, -w[opt]))
    opt = opt[order]
    # global within the landscape the optima are taken in: a better disconnected cell is no
    # optimum under connected_only, and would leave none global (hill_climb above refused a
    # landscape without a measured cell)
    best = w[measured_cells(space, w, connected_only)].max()
    return pd.DataFrame(
        {
            "index": opt.astype(np.int64),
            "value": v[opt],
            "basin_size": sizes[opt].astype(np.int64),
            "is_global": w[opt] == best,
        }
    )


# -- A²M neighbour-accuracy distributions ------------------------------------------------------
def a2m_bands(dataset: str) -> dict[str, tuple[float, float]]:
    """A²M's three accuracy bands (A, B, C) for ``cifar10``, ``cifar100``, ``ImageNet16-120``:
    bands of the dataset's 200-epoch test accuracy (:data:`A2M_BAND_KEYS`)."""
    if not isinstance(dataset, str):  # a list met `in A2M_BANDS`: unhashable
        raise LandscapeArgumentError(Param("dataset"), f" must be a str, got {shown(dataset)}")
    key = report_dataset(dataset)
    if key not in A2M_BANDS:
        raise LandscapeArgumentError(
            f"A²M defines bands for {', '.join(A2M_BANDS)}, not {dataset!r}; pass your own "
            "bands={'name': (lo, hi), ...}"
        )
    return dict(A2M_BANDS[key])


def check_bands(bands: object, reserved: tuple[str, ...] = ()) -> dict[str, tuple[float, float]]:
    """``bands`` (a dataset name, for A²M's, or a mapping of band name -> (lo, hi)) as checked
    bands (:func:`~nb201_flat.landscape._common.check_band`), else :class:`ArgumentError`
    (``dict(3)`` was a bare TypeError; a reversed or NaN band read as empty). Two names that
    print alike (``1`` and ``"1"``) are refused, as is a name in ``reserved`` (a caller's own
    group names: a census band named ``"top-k"`` was merged with the top-k group)."""
    if not isinstance(bands, str | Mapping):
        raise LandscapeArgumentError(
            Param("bands"),
            f" must be a dataset name or a mapping of band name -> (lo, hi), got {shown(bands)}",
        )
    chosen = a2m_bands(bands) if isinstance(bands, str) else dict(bands)
    seen: dict[str, object] = {}
    for name in chosen:
        text = str(name)
        if text in reserved:
            raise LandscapeArgumentError(
                f"band name {name!r} is the name of a group of its own here "
                f"({', '.join(map(repr, reserved))}); rename the band"
            )
        if text in seen:
            raise LandscapeArgumentError(
                f"band names {seen[text]!r} and {name!r} print alike, so their rows would "
                "read as one band; rename one"
            )
        seen[text] = name
    return {name: check_band(name, band) for name, band in chosen.items()}


def neighbour_distributions(
    space: Space,
    values: npt.ArrayLike,
    bands: Mapping[str, tuple[float, float]] | str,
    radii: Iterable[int] = (1, 2, 3),
    *,
    exact: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
    dropna: bool = True,
    weighted: bool = False,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Neighbour values of the architectures in each accuracy band, per radius (tidy).

    A²M's figure: take every architecture whose value lies in a band ``[lo, hi]`` (both ends
    included, as its code does), and pool the values of all their neighbours at distance
    ``r`` (``exact=True``, as A²M) for each radius.

    Parameters
    ----------
    bands
        ``{name: (lo, hi)}``, or a dataset name for A²M's bands (:data:`A2M_BANDS`).
    dropna
        Drop neighbours whose value is NaN.
    weighted
        One row per distinct neighbour with a ``weight``: how many in-band architectures it
        is a neighbour of (no ``center`` column). The same pooled distribution in at most
        ``space.size`` rows per band and radius instead of millions (a histogram with these
        weights has bit-identical densities), counted by the structure of the space
        (:func:`~nb201_flat.landscape.aggregates.exact_distance_sums`) without a gather.
    allow_empty
        Keep a band without rows at a radius (no value lies in it, or none of its members
        has a measured neighbour there): its distribution is undefined, and by default an
        error. ``attrs["empty_bands"]`` then lists those ``(band, radius)`` pairs.

    Returns
    -------
    pandas.DataFrame
        Columns ``band`` (categorical, in the given order), ``radius``, ``center`` (the
        in-band architecture), ``neighbour``, ``value``; e.g.
        ``seaborn.histplot(df, x="value", hue="band", col="radius", stat="density")``.
        With ``weighted``: ``band``, ``radius``, ``neighbour``, ``value``, ``weight``
        (``weights="weight"`` in seaborn, ``weights=`` in ``numpy.histogram``).
        ``attrs["bands"]`` holds the bands, ``attrs["radii"]`` the radii asked for and
        ``attrs["empty_radii"]`` those of them without a row (no band has a neighbour there)
        and ``attrs["empty_bands"]`` the ``(band, radius)`` pairs without a row.

    Raises
    ------
    LandscapeArgumentError
        A band has no row at a radius (without ``allow_empty``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b", "c"), 3)
    >>> f = np.arange(27.0)
    >>> pooled = neighbour_distributions(space, f, {"top": (25, 26)}, radii=(1,))
    >>> w = neighbour_distributions(space, f, {"top": (25, 26)}, radii=(1,), weighted=True)
    >>> len(pooled), len(w), float(w["weight"].sum())   # 220 neighbours both: weight 2
    (12, 11, 12.0)
    >>> bins = np.arange(28.0)
    >>> a = np.histogram(pooled["value"], bins, density=True)[0]
    >>> b = np.histogram(w["value"], bins, weights=w["weight"], density=True)[0]
    >>> bool((a == b).all())
    True
    >>> neighbour_distributions(space, f, {"top": (25, 26), "above": (30, 40)}, radii=(1,))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: band 'above' (30 to 40) has no distribution: no value lies in it; pass bands that values lie in, or allow_empty=True to keep it without rows
    """
    v = as_values(space, values)
    chosen = check_bands(bands)
    # radii=2 (a notebook may pass one number all the same): a raw TypeError; check_radius,
    # not int(): 1.5 would be radius 1
    radii = [space.check_radius(r) for r in as_sequence("radii", radii, "radii")]
    # {} or [] computed nothing (an empty frame), [1, 1] every row of radius 1 twice
    if not chosen:
        raise LandscapeArgumentError(
            Param("bands"), " is empty; pass {'name': (lo, hi)} or a dataset name"
        )
    if not radii or len(set(radii)) != len(radii):
        raise LandscapeArgumentError(
            Param("radii"), f" must list each radius once, at least one, got {shown(radii)}"
        )
    dropna = check_flag("dropna", dropna)
    # the weighted form branches on them itself: exact="no" would read as exact
    exact, no_none = check_flag("exact", exact), check_flag("no_none", no_none)
    connected_only = check_connected_only(space, connected_only)
    allow_empty = check_flag("allow_empty", allow_empty)
    if check_flag("weighted", weighted):
        df = _weighted_distributions(
            space,
            v,
            chosen,
            radii,
            exact=exact,
            no_none=no_none,
            connected_only=connected_only,
            dropna=dropna,
        )
        return _check_empty(df, v, chosen, allow_empty)
    parts, counts = [], []
    for code, (lo, hi) in enumerate(chosen.values()):
        centers = np.nonzero((v >= lo) & (v <= hi))[0]
        for r in radii:
            nb = space.neighbours(r, exact=exact, no_none=no_none, connected_only=connected_only)
            idx = nb.indices[centers]
            keep = idx >= 0
            nbr = idx[keep].astype(np.int64)
            ctr = np.repeat(centers, keep.sum(axis=1))
            val = v[nbr]
            if dropna:
                ok = ~np.isnan(val)
                nbr, ctr, val = nbr[ok], ctr[ok], val[ok]
            parts.append((np.full(len(val), code, dtype=np.int16), r, ctr, nbr, val))
            counts.append((code, r, len(val)))
    # the band column is built from integer codes: millions of rows at radius 3
    codes = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int16)
    df = pd.DataFrame(
        {
            "band": pd.Categorical.from_codes(codes, categories=pd.Index(list(chosen))),
            "radius": np.concatenate([np.full(len(p[4]), p[1], dtype=np.int64) for p in parts])
            if parts
            else np.zeros(0, dtype=np.int64),
            "center": np.concatenate([p[2] for p in parts]).astype(np.int64)
            if parts
            else np.zeros(0, dtype=np.int64),
            "neighbour": np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.int64),
            "value": np.concatenate([p[4] for p in parts]) if parts else np.zeros(0),
        }
    )
    return _check_empty(_with_attrs(df, chosen, radii, counts), v, chosen, allow_empty)


def _with_attrs(
    df: pd.DataFrame,
    chosen: Mapping[str, tuple[float, float]],
    radii: list[int],
    rows: Sequence[tuple[int, int, int]],
) -> pd.DataFrame:
    """``df`` with the bands and radii it was computed for in ``attrs``; ``rows`` counts its
    rows per ``(band code, radius, rows)``."""
    df.attrs["bands"] = {k: (float(a), float(b)) for k, (a, b) in chosen.items()}
    df.attrs["radii"] = list(radii)  # those asked for: a band may have no neighbours at one
    # attrs survive row filters (dist[dist.radius == 1] still claims every radius): a radius
    # without rows is one computed empty only when listed here
    held = set(df["radius"].unique().tolist())
    df.attrs["empty_radii"] = [r for r in radii if r not in held]
    names = list(chosen)
    df.attrs["empty_bands"] = [(names[code], r) for code, r, n in rows if not n]
    return df


def _check_empty(
    df: pd.DataFrame,
    v: FloatArray,
    chosen: Mapping[str, tuple[float, float]],
    allow_empty: bool,
) -> pd.DataFrame:
    """``df``, unless a band has no row at a radius and ``allow_empty`` is not given: then the
    error naming the first such band and why (no member, or no measured neighbour)."""
    if allow_empty or not df.attrs["empty_bands"]:
        return df
    name, r = df.attrs["empty_bands"][0]
    lo, hi = chosen[name]
    if not ((v >= lo) & (v <= hi)).any():
        why, fix = "no value lies in it", "pass bands that values lie in"
    else:
        why = f"none of its architectures has a measured neighbour at radius {r}"
        fix = "pass other radii or filters"
    raise LandscapeArgumentError(
        f"band {name!r} ({lo:g} to {hi:g}) has no distribution: {why}; {fix}, or ",
        Param("allow_empty", True),
        " to keep it without rows",
    )


def _weighted_distributions(
    space: Space,
    v: FloatArray,
    chosen: Mapping[str, tuple[float, float]],
    radii: list[int],
    *,
    exact: bool,
    no_none: bool,
    connected_only: bool,
    dropna: bool,
) -> pd.DataFrame:
    """Weighted form of :func:`neighbour_distributions`: the multiplicity of each neighbour."""
    from nb201_flat.landscape.aggregates import NeighbourRows, exact_distance_sums

    for r in radii:  # the same check and error as the pooled form (Space.neighbours)
        NeighbourRows(space, r)
    top = max(radii, default=0)
    keep_value = ~np.isnan(v) if dropna else np.ones(space.size, dtype=bool)
    if connected_only:
        keep_value &= space.connected
    parts = []
    for code, (lo, hi) in enumerate(chosen.values()):
        centers = (v >= lo) & (v <= hi)
        if no_none:
            # "changes to an op other than none" is not symmetric: count the members of each
            # center's neighbourhood from the neighbour arrays instead
            counts = {
                r: np.bincount(
                    (idx := space.neighbours(r, exact=exact, no_none=True).indices[centers])[
                        idx >= 0
                    ],
                    minlength=space.size,
                ).astype(np.float64)
                for r in radii
            }
        else:
            # b is at distance d of a exactly when a is at distance d of b: the number of
            # in-band cells around each cell is the neighbour's multiplicity in the pool
            sums = exact_distance_sums(space, centers.astype(np.float64), top) if top else None
            counts = {}
            for r in radii:
                assert sums is not None
                counts[r] = sums[r].copy() if exact else sums[1 : r + 1].sum(axis=0)
        for r in radii:
            w = np.where(keep_value, counts[r], 0.0)
            nbr = np.flatnonzero(w > 0)
            parts.append((code, r, nbr, v[nbr], w[nbr]))
    n_rows = [len(p[2]) for p in parts]
    df = pd.DataFrame(
        {
            "band": pd.Categorical.from_codes(
                np.repeat(np.array([p[0] for p in parts], dtype=np.int16), n_rows),
                categories=pd.Index(list(chosen)),
            ),
            "radius": np.repeat(np.array([p[1] for p in parts], dtype=np.int64), n_rows),
            "neighbour": np.concatenate([p[2] for p in parts]).astype(np.int64)
            if parts
            else np.zeros(0, np.int64),
            "value": np.concatenate([p[3] for p in parts]) if parts else np.zeros(0),
            "weight": np.concatenate([p[4] for p in parts]) if parts else np.zeros(0),
        }
    )
    return _with_attrs(df, chosen, radii, [(p[0], p[1], len(p[2])) for p in parts])
