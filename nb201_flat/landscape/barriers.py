"""Barriers along paths between architectures.

The barrier of a path from a to b (A²M) is the mean of the endpoints' values minus the lowest
value along the path; with ``higher_is_better=False`` (a loss) it is the mirror image, the
highest value along the path minus the endpoints' mean. Paths move one edge op at a time
(Hamming distance 1 per step).

Three constructions:

1. **A²M** (:func:`a2m_barrier`): all d! shortest Hamming paths between two archs at distance
   d (change the differing edges one at a time, in every order); the mean and standard
   deviation of each level (0..d) over all paths; the barrier of the level means.
   ``published=True`` reproduces A²M's published code where it differs from its text (see
   :func:`a2m_barrier`).
2. **Lowest barrier** (:class:`BarrierTree`, :func:`lowest_barrier_path`): over *every* path
   in the whole space, the one whose lowest value is highest (a maximin or widest path). Its
   bottleneck is exact: the path in a maximum spanning forest of the radius-1 graph with
   edge weights min(f(u), f(v)) is maximin (built once with scipy's Kruskal in ~0.1 s for
   NB201; each query then walks the tree). ``shortest=True`` returns, among all maximin
   paths, one with the fewest steps (a breadth-first search above the bottleneck level).
3. **Barrier matrices and disconnectivity graphs** (:func:`barrier_matrix`,
   :func:`disconnectivity_graph`) from the same forest, by a union-find sweep of its edges in
   decreasing level.

Missing values: an architecture whose value is NaN is impassable -- it is never on a lowest
barrier path (as if its accuracy were -inf, or its loss +inf), and a query from or to it
raises :class:`MissingValueError`. In the A²M construction a level with a NaN member gets a
NaN mean under ``nan_policy="propagate"`` (default); ``"omit"`` averages the measured members;
``"raise"`` raises.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("a", "b"), 3)               # the cube; index = binary number of the codes
>>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 9])  # two peaks, 000 and 111, in a valley of 1s
>>> a2m_barrier(space, f, 0, 7).barrier
8.0
>>> p = lowest_barrier_path(space, f, 0, 7)
>>> p.barrier, p.length
(8.0, 3)
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from nb201_flat.landscape._common import (
    ArchLike,
    BoolArray,
    FloatArray,
    IntArray,
    LandscapeArgumentError,
    MissingValueError,
    NanPolicy,
    NoPathError,
    as_values,
    check_nan_policy,
    oriented,
    raise_on_nan,
    resolve_index,
)
from nb201_flat.landscape.statistics import local_optima
from nb201_flat.space import Space

BarrierMethod = Literal["lowest", "a2m", "a2m_published", "shortest"]


def path_barrier(path_values: npt.ArrayLike, *, higher_is_better: bool = True) -> float:
    """Barrier of one path given its values: endpoints' mean minus the path minimum.

    >>> path_barrier([90.0, 80.0, 85.0, 92.0])
    11.0
    >>> path_barrier([0.5, 0.9, 0.7], higher_is_better=False)   # a loss: max minus mean
    0.30000000000000004
    """
    p = np.asarray(path_values, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise LandscapeArgumentError("a path needs at least one value")
    w = oriented(p, higher_is_better)
    return float(0.5 * (w[0] + w[-1]) - w.min())


@dataclass(frozen=True, slots=True, eq=False)
class BarrierPath:
    """One path between two architectures and its barrier.

    Attributes
    ----------
    path
        Architecture indices from the start to the end.
    values
        The metric along the path.
    bottleneck
        The worst value on the path (lowest accuracy / highest loss).
    barrier
        Endpoints' mean minus the bottleneck (mirror image for a loss); >= 0 for maximin paths.
    """

    space: Space = field(repr=False)
    path: tuple[int, ...]
    values: FloatArray
    bottleneck: float
    barrier: float
    higher_is_better: bool = True

    @property
    def length(self) -> int:
        """Number of steps (one op change each)."""
        return len(self.path) - 1

    def strings(self) -> list[str]:
        """Official strings of the architectures on the path."""
        return [self.space.arch(i).to_str() for i in self.path]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.strings(),
            "indices": list(self.path),
            "values": self.values.tolist(),
            "bottleneck": self.bottleneck,
            "barrier": self.barrier,
            "length": self.length,
        }


# -- the A²M construction ------------------------------------------------------------------------
def shortest_paths(space: Space, a: ArchLike, b: ArchLike) -> IntArray:
    """All d! shortest Hamming paths from ``a`` to ``b``, shape ``(d!, d + 1)`` of indices.

    Row p changes the differing edges in the p-th permutation order (``itertools``
    order), each straight to its op in ``b``.

    >>> from nb201_flat.space import Space
    >>> shortest_paths(Space(("a", "b"), 3), 0, 3).tolist()   # 000 -> 011
    [[0, 2, 3], [0, 1, 3]]
    """
    ia, ib = resolve_index(space, a), resolve_index(space, b)
    ca, cb = space.codes[ia].astype(np.int64), space.codes[ib].astype(np.int64)
    diff = np.nonzero(ca != cb)[0]
    d = len(diff)
    if d > 8:  # 8! = 40,320 paths; more is a mistake, not an analysis
        raise LandscapeArgumentError(f"{d}! shortest paths is too many to enumerate (d <= 8)")
    if d == 0:
        return np.array([[ia]], dtype=np.int64)
    orders = np.array(list(itertools.permutations(diff.tolist())), dtype=np.int64)
    codes = np.repeat(ca[None, None, :], len(orders), axis=0).repeat(d + 1, axis=1)
    for step in range(d):
        edge = orders[:, step]
        rows = np.arange(len(orders))
        # from level step+1 on, this edge carries b's op
        codes[rows, step + 1 :, edge] = cb[edge][:, None]
    flat = space.indices_of_codes(codes.reshape(-1, space.n_edges))
    return flat.reshape(len(orders), d + 1)


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
    _check_endpoints(space, w, paths[0, 0], paths[0, -1], None)
    wv = w[paths]
    worst = np.where(np.isnan(wv).any(axis=1), -np.inf, np.nanmin(wv, axis=1))
    p = int(np.argmax(worst))
    if not np.isfinite(worst[p]):
        raise NoPathError(
            "every shortest path between these architectures passes an unmeasured (NaN) one; "
            "use lowest_barrier_path for a detour"
        )
    return _make_path(space, v, w, paths[p], higher_is_better)


# -- lowest barrier over the whole space --------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class BarrierTree:
    """Maximum spanning forest of the radius-1 graph, for exact lowest-barrier queries.

    Build it with :func:`barrier_tree`. ``w`` is the oriented metric (larger is better), NaN
    where excluded; ``edges``/``edge_level`` are the forest's edges and their levels
    ``min(w[u], w[v])`` in decreasing order; ``parent``/``depth`` root each tree.
    """

    space: Space
    values: FloatArray
    higher_is_better: bool
    connected_only: bool
    w: FloatArray
    usable: BoolArray
    parent: IntArray
    depth: IntArray
    component: IntArray
    edges: IntArray
    edge_level: FloatArray
    graph_u: IntArray = field(repr=False)
    graph_v: IntArray = field(repr=False)

    def path(self, a: ArchLike, b: ArchLike, *, shortest: bool = False) -> BarrierPath:
        """The lowest-barrier path from ``a`` to ``b`` (see :func:`lowest_barrier_path`)."""
        ia, ib = resolve_index(self.space, a), resolve_index(self.space, b)
        _check_endpoints(self.space, self.w, ia, ib, self)
        if self.component[ia] != self.component[ib]:
            raise NoPathError(
                f"no path joins {ia} and {ib} through measured"
                f"{' connected' if self.connected_only else ''} architectures"
            )
        route = self._tree_path(ia, ib)
        if shortest and len(route) > 2:
            route = self._shortest_above(ia, ib, float(self.w[route].min()))
        return _make_path(self.space, self.values, self.w, route, self.higher_is_better)

    def bottleneck(self, a: ArchLike, b: ArchLike) -> float:
        """The best achievable worst value on a path from ``a`` to ``b`` (metric units)."""
        p = self.path(a, b)
        return p.bottleneck

    def _tree_path(self, a: int, b: int) -> IntArray:
        up_a, up_b = [a], [b]
        x, y = a, b
        parent, depth = self.parent, self.depth
        while depth[x] > depth[y]:
            x = int(parent[x])
            up_a.append(x)
        while depth[y] > depth[x]:
            y = int(parent[y])
            up_b.append(y)
        while x != y:
            x, y = int(parent[x]), int(parent[y])
            up_a.append(x)
            up_b.append(y)
        return np.asarray(up_a + up_b[-2::-1], dtype=np.int64)

    def _shortest_above(self, a: int, b: int, level: float) -> IntArray:
        ok = self.usable & (self.w >= level)
        keep = ok[self.graph_u] & ok[self.graph_v]
        n = self.space.size
        g = sparse.csr_matrix(
            (np.ones(int(keep.sum())), (self.graph_u[keep], self.graph_v[keep])), shape=(n, n)
        )
        _, pred = csgraph.breadth_first_order(g, a, directed=False, return_predecessors=True)
        route = [b]
        while route[-1] != a:
            route.append(int(pred[route[-1]]))
        return np.asarray(route[::-1], dtype=np.int64)


def barrier_tree(
    space: Space,
    values: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
    connected_only: bool = False,
) -> BarrierTree:
    """Precompute the maximum spanning forest for lowest-barrier queries (~0.1 s on NB201).

    Parameters
    ----------
    connected_only
        Paths only through cells whose input reaches the output (the disconnected cells, all
        equally bad, otherwise form a flat valley that joins everything at their level).

    NaN values are excluded from every path (impassable).
    """
    v = as_values(space, values)
    w = oriented(v, higher_is_better).copy()
    usable = ~np.isnan(w)
    if connected_only:
        usable &= space.connected
    w[~usable] = np.nan
    n = space.size
    nb = space.neighbours(1)
    u = np.repeat(np.arange(n, dtype=np.int64), nb.counts)
    vv = nb.indices[nb.mask].astype(np.int64)
    once = u < vv  # the radius-1 relation is symmetric: keep each edge once
    u, vv = u[once], vv[once]
    live = usable[u] & usable[vv]
    gu, gv = u[live], vv[live]
    level = np.minimum(w[gu], w[gv])
    # Kruskal on ranks, not on the values: exact order, and no zero weight (= no edge in scipy)
    order = np.argsort(-level, kind="stable")
    rank = np.empty(len(order), dtype=np.float64)
    rank[order] = np.arange(1, len(order) + 1, dtype=np.float64)
    mst = csgraph.minimum_spanning_tree(sparse.csr_matrix((rank, (gu, gv)), shape=(n, n)))
    coo = mst.tocoo()
    eu, ev = coo.row.astype(np.int64), coo.col.astype(np.int64)
    elevel = np.minimum(w[eu], w[ev])
    eorder = np.argsort(-elevel, kind="stable")
    eu, ev, elevel = eu[eorder], ev[eorder], elevel[eorder]
    _, labels = csgraph.connected_components(mst, directed=False)
    # root every tree of the forest at once: a virtual node joined to one node per tree
    _, reps = np.unique(labels, return_index=True)
    root = n
    ru = np.concatenate([eu, np.full(len(reps), root)])
    rv = np.concatenate([ev, reps.astype(np.int64)])
    big = sparse.csr_matrix((np.ones(len(ru)), (ru, rv)), shape=(n + 1, n + 1))
    order_bfs, pred = csgraph.breadth_first_order(
        big, root, directed=False, return_predecessors=True
    )
    parent = pred[:n].astype(np.int64)
    parent[(parent == root) | (parent < 0)] = -1
    depth = np.zeros(n, dtype=np.int64)
    for node in order_bfs[1:].tolist():  # BFS order: a parent's depth is known first
        p = parent[node]
        if p >= 0:
            depth[node] = depth[p] + 1
    component = labels.astype(np.int64)
    component[~usable] = -1
    return BarrierTree(
        space=space,
        values=v,
        higher_is_better=higher_is_better,
        connected_only=connected_only,
        w=w,
        usable=usable,
        parent=parent,
        depth=depth,
        component=component,
        edges=np.stack([eu, ev], axis=1),
        edge_level=elevel,
        graph_u=gu,
        graph_v=gv,
    )


def lowest_barrier_path(
    space: Space | BarrierTree,
    values: npt.ArrayLike | None,
    a: ArchLike,
    b: ArchLike,
    *,
    higher_is_better: bool = True,
    connected_only: bool = False,
    shortest: bool = False,
) -> BarrierPath:
    """The path from ``a`` to ``b`` whose worst value is best, over the whole space.

    Parameters
    ----------
    space
        The space, or a prebuilt :class:`BarrierTree` (then ``values`` is ignored and may be
        None): build the tree once with :func:`barrier_tree` for many queries.
    shortest
        Among all paths with the optimal bottleneck, return one with the fewest steps (the
        default returns the spanning-forest path, which may wander).

    Raises
    ------
    MissingValueError
        ``a`` or ``b`` has a NaN value (or is disconnected under ``connected_only``).
    NoPathError
        No path of measured architectures joins them.
    """
    if isinstance(space, BarrierTree):
        tree = space
    else:
        if values is None:
            raise LandscapeArgumentError("values are needed unless a BarrierTree is passed")
        tree = barrier_tree(
            space, values, higher_is_better=higher_is_better, connected_only=connected_only
        )
    return tree.path(a, b, shortest=shortest)


def _check_endpoints(space: Space, w: FloatArray, a: int, b: int, tree: BarrierTree | None) -> None:
    for x in (int(a), int(b)):
        if np.isnan(w[x]):
            why = (
                "is disconnected (connected_only=True)"
                if tree is not None and tree.connected_only and not space.connected[x]
                else "has no value (NaN) for this metric"
            )
            raise MissingValueError(f"architecture {x} {why}; choose a measured one")


def _make_path(
    space: Space, v: FloatArray, w: FloatArray, route: IntArray, higher_is_better: bool
) -> BarrierPath:
    wp = w[route]
    worst = float(wp.min())
    return BarrierPath(
        space=space,
        path=tuple(int(i) for i in route),
        values=v[route].copy(),
        bottleneck=worst if higher_is_better else -worst,
        barrier=float(0.5 * (wp[0] + wp[-1]) - worst),
        higher_is_better=higher_is_better,
    )


# -- matrices and disconnectivity graphs -------------------------------------------------------
class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root


def bottleneck_matrix(tree: BarrierTree, archs: Sequence[ArchLike]) -> FloatArray:
    """Best achievable worst value between every pair of ``archs`` (oriented: larger = better).

    One union-find sweep of the forest's edges in decreasing level; ``-inf`` where no path
    exists, NaN on rows of excluded archs; the diagonal holds each arch's own value.
    """
    idx = [resolve_index(tree.space, a) for a in archs]
    k = len(idx)
    m = np.full((k, k), -np.inf)
    members: dict[int, list[int]] = {}
    for pos, i in enumerate(idx):
        members.setdefault(i, []).append(pos)
    uf = _UnionFind(tree.space.size)
    groups: dict[int, list[int]] = {i: list(p) for i, p in members.items()}
    for (x, y), lev in zip(tree.edges.tolist(), tree.edge_level.tolist(), strict=True):
        rx, ry = uf.find(x), uf.find(y)
        if rx == ry:
            continue
        gx, gy = groups.pop(rx, []), groups.pop(ry, [])
        if gx and gy:
            m[np.ix_(gx, gy)] = lev
            m[np.ix_(gy, gx)] = lev
        uf.parent[ry] = rx
        if gx or gy:
            groups[rx] = gx + gy
    for pos, i in enumerate(idx):
        for pos2 in members[i]:
            m[pos, pos2] = tree.w[i]
    bad = np.isnan(tree.w[idx])
    m[bad, :] = np.nan
    m[:, bad] = np.nan
    return m


def barrier_matrix(
    space: Space | BarrierTree,
    values: npt.ArrayLike | None,
    archs: Sequence[ArchLike],
    *,
    method: BarrierMethod = "lowest",
    higher_is_better: bool = True,
    connected_only: bool = False,
) -> pd.DataFrame:
    """Barriers between every pair of ``archs`` (e.g. the top k), as a labelled matrix.

    Parameters
    ----------
    space
        The space, or a prebuilt :class:`BarrierTree` (``values`` then ignored).
    method
        ``"lowest"`` (over every path: the exact minimum), ``"shortest"`` (the best of the d!
        shortest Hamming paths), ``"a2m"`` (A²M's level-mean barrier) or ``"a2m_published"``
        (A²M's code; not symmetric).

    Returns
    -------
    pandas.DataFrame
        ``k x k``, index and columns the architecture indices; 0 on the diagonal, ``inf``
        where no path exists, NaN for unmeasured archs.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 9])
    >>> barrier_matrix(space, f, [0, 7, 3]).to_numpy().tolist()
    [[0.0, 8.0, 4.0], [8.0, 0.0, 4.0], [4.0, 4.0, 0.0]]
    """
    if isinstance(space, BarrierTree):
        tree: BarrierTree | None = space
        sp, v = space.space, space.values
        higher_is_better = space.higher_is_better
    else:
        if values is None:
            raise LandscapeArgumentError("values are needed unless a BarrierTree is passed")
        tree, sp, v = None, space, as_values(space, values)
    idx = [resolve_index(sp, a) for a in archs]
    k = len(idx)
    if method == "lowest":
        if tree is None:
            tree = barrier_tree(
                sp, v, higher_is_better=higher_is_better, connected_only=connected_only
            )
        bn = bottleneck_matrix(tree, idx)
        wi = tree.w[idx]
        with np.errstate(invalid="ignore"):
            out = 0.5 * (wi[:, None] + wi[None, :]) - bn
    elif method in ("a2m", "a2m_published", "shortest"):
        out = np.zeros((k, k))
        w = oriented(v, higher_is_better)
        for i, j in itertools.product(range(k), range(k)):
            if i == j:
                out[i, j] = 0.0 if not np.isnan(w[idx[i]]) else np.nan
            elif method == "shortest":
                if j < i:
                    out[i, j] = out[j, i]
                    continue
                try:
                    out[i, j] = best_shortest_path(
                        sp, v, idx[i], idx[j], higher_is_better=higher_is_better
                    ).barrier
                except (NoPathError, MissingValueError):
                    out[i, j] = np.nan
            else:
                out[i, j] = a2m_barrier(
                    sp,
                    v,
                    idx[i],
                    idx[j],
                    higher_is_better=higher_is_better,
                    published=method == "a2m_published",
                ).barrier
    else:
        raise LandscapeArgumentError(
            f"method must be 'lowest', 'shortest', 'a2m' or 'a2m_published', got {method!r}"
        )
    labels = pd.Index(idx, name="index")
    return pd.DataFrame(out, index=labels, columns=labels.rename("to"))


def disconnectivity_graph(
    space: Space | BarrierTree,
    values: npt.ArrayLike | None = None,
    *,
    n_optima: int = 20,
    higher_is_better: bool = True,
    connected_only: bool = False,
) -> pd.DataFrame:
    """The barrier tree (disconnectivity graph) of the best local optima, as a tidy frame.

    Leaves are the ``n_optima`` best local optima (no better radius-1 neighbour); sweeping the
    levels from the best down, two groups of leaves merge at the bottleneck level of the best
    path between them -- an internal node. Drawing: leaves at ``level`` (their value), each
    node joined to its ``parent`` at the parent's level.

    Returns
    -------
    pandas.DataFrame
        One row per node: ``node`` (id), ``kind`` (``"optimum"`` or ``"merge"``), ``index``
        (the optimum's architecture, -1 for merges), ``level`` (metric units), ``parent``
        (node id, -1 for a root), ``n_optima`` (leaves below), ``barrier`` (a node's level
        minus its parent's, oriented; NaN for roots). Several roots mean parts of the space
        that no measured path joins.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 8])
    >>> disconnectivity_graph(space, f)[["kind", "index", "level", "parent"]].values.tolist()
    [['optimum', 0, 9.0, 2], ['optimum', 7, 8.0, 2], ['merge', -1, 1.0, -1]]
    """
    if isinstance(space, BarrierTree):
        tree = space
    else:
        if values is None:
            raise LandscapeArgumentError("values are needed unless a BarrierTree is passed")
        tree = barrier_tree(
            space, values, higher_is_better=higher_is_better, connected_only=connected_only
        )
    if n_optima < 1:
        raise LandscapeArgumentError(f"n_optima must be >= 1, got {n_optima}")
    w = tree.w
    opt = np.nonzero(
        local_optima(
            tree.space,
            tree.values,
            higher_is_better=tree.higher_is_better,
            connected_only=tree.connected_only,
        )
    )[0]
    opt = opt[np.lexsort((opt, -w[opt]))][:n_optima]
    sign = 1.0 if tree.higher_is_better else -1.0
    nodes: list[dict[str, Any]] = [
        {
            "node": k,
            "kind": "optimum",
            "index": int(i),
            "level": float(tree.values[i]),
            "parent": -1,
            "n_optima": 1,
            "_w": float(w[i]),
        }
        for k, i in enumerate(opt.tolist())
    ]
    current: dict[int, int] = {int(i): k for k, i in enumerate(opt.tolist())}
    uf = _UnionFind(tree.space.size)
    for (x, y), lev in zip(tree.edges.tolist(), tree.edge_level.tolist(), strict=True):
        rx, ry = uf.find(x), uf.find(y)
        if rx == ry:
            continue
        nx_, ny_ = current.pop(rx, -1), current.pop(ry, -1)
        uf.parent[ry] = rx
        if nx_ >= 0 and ny_ >= 0:
            new = len(nodes)
            nodes.append(
                {
                    "node": new,
                    "kind": "merge",
                    "index": -1,
                    "level": sign * lev,
                    "parent": -1,
                    "n_optima": nodes[nx_]["n_optima"] + nodes[ny_]["n_optima"],
                    "_w": lev,
                }
            )
            nodes[nx_]["parent"] = new
            nodes[ny_]["parent"] = new
            current[rx] = new
        elif nx_ >= 0 or ny_ >= 0:
            current[rx] = max(nx_, ny_)
    for nd in nodes:
        p = nd["parent"]
        nd["barrier"] = nd["_w"] - nodes[p]["_w"] if p >= 0 else float("nan")
    df = pd.DataFrame(nodes).drop(columns="_w")
    return df[["node", "kind", "index", "level", "parent", "n_optima", "barrier"]]
