"""The exact lowest barrier between two architectures over every path in the space.

Over *every* path in the whole space, the one whose lowest value is highest (a maximin or
widest path). Its bottleneck is exact: the path in a maximum spanning forest of the radius-1
graph with edge weights min(f(u), f(v)) is maximin (built once with scipy's Kruskal in ~0.1 s
for NB201; each query then walks the tree). A query returns, among all maximin paths, one with
the fewest steps (a breadth-first search above the bottleneck level; ``shortest=False`` keeps
the forest's own path).
Barrier matrices come from the same forest, by a union-find sweep of its edges in decreasing
level.

Missing values: an architecture whose value is NaN is impassable -- it is never on a lowest
barrier path (as if its accuracy were -inf, or its loss +inf), and a query from or to it
raises :class:`MissingValueError`.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("a", "b"), 3)
>>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 9])  # two peaks, 000 and 111, in a valley of 1s
>>> p = lowest_barrier_path(space, f, 0, 7)
>>> p.barrier, p.length
(8.0, 3)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

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
    NoPathError,
    as_values,
    oriented,
    resolve_index,
)
from nb201_flat.landscape.a2m import a2m_barrier, best_shortest_path
from nb201_flat.landscape.paths import (
    BarrierPath,
    check_endpoints,
    make_path,
)
from nb201_flat.space import Space

BarrierMethod = Literal["lowest", "a2m", "a2m_published", "shortest"]


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

    def path(self, a: ArchLike, b: ArchLike, *, shortest: bool = True) -> BarrierPath:
        """The lowest-barrier path from ``a`` to ``b``; ``shortest`` as in
        :func:`lowest_barrier_path`, which documents the default."""
        ia, ib = resolve_index(self.space, a), resolve_index(self.space, b)
        check_endpoints(self.space, self.w, ia, ib, self)
        if self.component[ia] != self.component[ib]:
            raise NoPathError(
                f"no path joins {ia} and {ib} through measured"
                f"{' connected' if self.connected_only else ''} architectures"
            )
        route = self._tree_path(ia, ib)
        if shortest and len(route) > 2:
            route = self._shortest_above(ia, ib, float(self.w[route].min()))
        return make_path(self.space, self.values, self.w, route, self.higher_is_better)

    def __repr__(self) -> str:
        trees = int(np.unique(self.component[self.usable]).size) if self.usable.any() else 0
        return (
            f"BarrierTree({int(self.usable.sum())} of {self.space.size} archs, {trees} trees, "
            f"{len(self.edge_level)} edges, higher_is_better={self.higher_is_better}, "
            f"connected_only={self.connected_only})"
        )

    def bottleneck(self, a: ArchLike, b: ArchLike) -> float:
        """The best achievable worst value on a path from ``a`` to ``b`` (metric units)."""
        p = self.path(a, b, shortest=False)  # the bottleneck is the same on every maximin path
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
    shortest: bool = True,
) -> BarrierPath:
    """The path from ``a`` to ``b`` whose worst value is best, over the whole space.

    Parameters
    ----------
    space
        The space, or a prebuilt :class:`BarrierTree` (then ``values`` is ignored and may be
        None): build the tree once with :func:`barrier_tree` for many queries.
    shortest
        True (the default, here, in :meth:`BarrierTree.path` and in the ``barrier`` command):
        among all paths with the optimal bottleneck, one with the fewest steps. False: the
        spanning-forest path (faster for many queries; same barrier, but it may wander; the
        command's ``--tree-path``).

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


# -- matrices and disconnectivity graphs -------------------------------------------------------
class UnionFind:
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
    uf = UnionFind(tree.space.size)
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
