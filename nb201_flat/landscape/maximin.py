"""The exact lowest barrier between two architectures over every path in the space.

Over *every* path in the whole space, the one whose lowest value is highest (a maximin or
widest path). Its bottleneck is exact: the path in a maximum spanning forest of the radius-1
graph with edge weights min(f(u), f(v)) is maximin (built once by Borůvka's rounds in numpy,
~0.03 s for NB201; each query then walks the tree). A query returns, among all maximin paths,
one with the fewest steps (a breadth-first search above the bottleneck level;
``shortest=False`` keeps the forest's own path).
The one union-find sweep of the forest's edges in decreasing level, done when the tree is
built, also records the merge hierarchy (which two groups each edge joins), so barrier matrices
and disconnectivity graphs read that hierarchy instead of sweeping again.

Missing values: an architecture whose value is NaN is impassable -- it is never on a lowest
barrier path (as if its accuracy were -inf, or its loss +inf), and a query from or to it
raises :class:`MissingValueError`. On a partly measured vector the barrier is then the lowest
through measured cells: an upper bound on the lowest over the whole space, since a path through
an unmeasured cell could be lower (:attr:`BarrierTree.unmeasured` counts those cells). It is
exact where nothing lies beyond the worse endpoint: every path passes both endpoints, so no
bottleneck is better than the worse of them.

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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from nb201_flat.budget import check_memory
from nb201_flat.errors import Param, check_choice, check_flag, shown
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
    resolve_indices,
)
from nb201_flat.landscape.a2m import a2m_barrier, best_shortest_path
from nb201_flat.landscape.paths import (
    BarrierPath,
    check_endpoints,
    make_path,
)
from nb201_flat.neighbours import check_connected_only
from nb201_flat.space import Space, masked_as_nan
from nb201_flat.table import _frozen_through

if TYPE_CHECKING:
    import pandas as pd

    from nb201_flat.landscape.census import PairBarriers

BarrierMethod = Literal["lowest", "a2m", "a2m_published", "shortest"]


# -- lowest barrier over the whole space --------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class BarrierTree:
    """Maximum spanning forest of the radius-1 graph, for exact lowest-barrier queries.

    Build it with :func:`barrier_tree`. ``values`` are the values it was built on, read-only
    (a copy where the caller could still change them); ``w`` is the oriented metric (larger is
    better), NaN where excluded; ``edges``/``edge_level`` are the forest's edges and their levels
    ``min(w[u], w[v])`` in decreasing order; ``parent``/``depth`` root each tree.
    ``merges[k]`` are the two groups that edge ``k`` joins, as merge-hierarchy nodes: an
    architecture index below ``space.size``, else ``space.size + j`` for the group made by
    edge ``j < k``.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> tree = barrier_tree(Space(("a", "b"), 3), np.array([9.0, 1, 1, 1, 1, 1, 1, 8]))
    >>> tree.bottleneck(0, 7), tree.path(0, 7).length
    (1.0, 3)
    >>> tree.matrix([0, 7]).to_numpy().tolist()
    [[0.0, 7.5], [7.5, 0.0]]
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
    merges: IntArray
    graph_u: IntArray = field(repr=False)
    graph_v: IntArray = field(repr=False)
    # the radius-1 graph as sorted adjacency lists, built on the first breadth-first search
    _adjacency: dict[str, IntArray] = field(default_factory=dict, repr=False)

    def _no_path(self, ia: int, ib: int) -> NoPathError:
        """The refusal for endpoints in different components of the measured cells' graph;
        under ``connected_only``, dropping it is offered where paths through the disconnected
        cells join them."""
        where = "measured connected" if self.connected_only else "measured"
        fix: list[str | Param] = ["choose endpoints such a path joins"]
        if self.connected_only and self._joined_by_measured(ia, ib):
            fix = [
                fix[0],
                ", or drop ",
                Param("connected_only", True),
                " (a path through disconnected architectures joins them)",
            ]
        return NoPathError(
            f"no path joins {ia} and {ib} through {where} architectures (one differing op a "
            "step), so no barrier between them is defined on this table; ",
            *fix,
        )

    def path(self, a: ArchLike, b: ArchLike, *, shortest: bool = True) -> BarrierPath:
        """The lowest-barrier path from ``a`` to ``b``; ``shortest`` as in
        :func:`lowest_barrier_path`, which documents the default."""
        ia, ib = resolve_index(self.space, a), resolve_index(self.space, b)
        check_endpoints(self.space, self.w, ia, ib, self)
        if self.component[ia] != self.component[ib]:
            raise self._no_path(ia, ib)
        route = self._tree_path(ia, ib)
        if check_flag("shortest", shortest) and len(route) > 2:
            route = self._shortest_above(ia, ib, float(self.w[route].min()))
        return make_path(self.space, self.values, self.w, route, self.higher_is_better)

    def __repr__(self) -> str:
        trees = int(np.unique(self.component[self.usable]).size) if self.usable.any() else 0
        return (
            f"BarrierTree({int(self.usable.sum())} of {self.space.size} archs, {trees} trees, "
            f"{len(self.edge_level)} edges, higher_is_better={self.higher_is_better}, "
            f"connected_only={self.connected_only})"
        )

    @property
    def unmeasured(self) -> int:
        """Cells without a value (NaN) that a path could otherwise cross: every one, or under
        ``connected_only`` the connected ones (the others are left out whatever their value).
        Where any are, a lowest barrier is the lowest through measured cells, an upper bound
        (see the module docstring)."""
        nan = np.isnan(self.values)
        if self.connected_only:
            nan &= self.space.connected
        return int(np.count_nonzero(nan))

    def bottleneck(self, a: ArchLike, b: ArchLike) -> float:
        """The best achievable worst value on a path from ``a`` to ``b`` (metric units)."""
        p = self.path(a, b, shortest=False)  # the bottleneck is the same on every maximin path
        return p.bottleneck

    def bottleneck_matrix(self, archs: Sequence[ArchLike]) -> FloatArray:
        """Best achievable worst value between every pair of ``archs`` (oriented: larger = better).

        Read off the merge hierarchy: ``-inf`` where no path exists, NaN on rows of excluded
        archs; the diagonal holds each arch's own value.
        """
        idx = resolve_indices(self.space, archs)
        k = len(idx)
        # this matrix, the barrier matrix made from it and the labelled frame
        check_memory(4 * 8 * k * k, f"a {k:,} x {k:,} barrier matrix", "pass fewer archs")
        m = np.full((k, k), -np.inf)
        groups: dict[int, list[int]] = {}
        for pos, i in enumerate(idx):
            groups.setdefault(i, []).append(pos)
        members = {i: list(p) for i, p in groups.items()}
        n = self.space.size
        for j, ((cx, cy), lev) in enumerate(
            zip(self.merges.tolist(), self.edge_level.tolist(), strict=True)
        ):
            gx, gy = groups.pop(cx, []), groups.pop(cy, [])
            if gx and gy:
                m[np.ix_(gx, gy)] = lev
                m[np.ix_(gy, gx)] = lev
            if gx or gy:
                groups[n + j] = gx + gy
        for pos, i in enumerate(idx):
            for pos2 in members[i]:
                m[pos, pos2] = self.w[i]
        bad = np.isnan(self.w[idx])
        m[bad, :] = np.nan
        m[:, bad] = np.nan
        return m

    def matrix(self, archs: Sequence[ArchLike]) -> pd.DataFrame:
        """Lowest barriers between every pair of ``archs`` (see :func:`barrier_matrix`)."""
        idx = resolve_indices(self.space, archs)
        bn = self.bottleneck_matrix(idx)
        wi = self.w[idx]
        with np.errstate(invalid="ignore"):
            out = 0.5 * (wi[:, None] + wi[None, :]) - bn
        return _labelled(idx, out)

    def pair_barriers(self, a: ArchLike, b: ArchLike) -> PairBarriers:
        """Every named barrier between ``a`` and ``b`` (see
        :func:`~nb201_flat.landscape.census.pair_barriers`)."""
        from nb201_flat.landscape.census import pair_barriers_of_tree

        return pair_barriers_of_tree(self, a, b)

    def disconnectivity(self, n_optima: int = 20) -> pd.DataFrame:
        """The disconnectivity graph of the best local optima (see
        :func:`~nb201_flat.landscape.disconnectivity.disconnectivity_graph`)."""
        from nb201_flat.landscape.disconnectivity import graph_of_tree

        return graph_of_tree(self, n_optima)

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

    def lowest(self, a: ArchLike, b: ArchLike) -> tuple[float, int]:
        """``(barrier, steps)`` of :meth:`path` (``shortest=True``) without building the route.

        The barrier is the same on every maximin path; the fewest steps are the Hamming
        distance whenever the forest's own path is that short (no path is shorter), and a
        breadth-first search above the bottleneck level otherwise.

        >>> import numpy as np
        >>> from nb201_flat.space import Space
        >>> tree = barrier_tree(Space(("a", "b"), 3), np.array([9.0, 1, 1, 1, 1, 1, 1, 8]))
        >>> tree.lowest(0, 7)
        (7.5, 3)
        """
        barrier, steps, _ = self._lowest(a, b)
        return barrier, steps

    def _lowest(self, a: ArchLike, b: ArchLike) -> tuple[float, int, float]:
        """:meth:`lowest` and the bottleneck, oriented (larger is better)."""
        ia, ib = resolve_index(self.space, a), resolve_index(self.space, b)
        check_endpoints(self.space, self.w, ia, ib, self)
        if self.component[ia] != self.component[ib]:
            raise self._no_path(ia, ib)
        route = self._tree_path(ia, ib)
        wp = self.w[route]
        worst = float(wp.min())
        # as make_path computes it: the bottleneck is the same on every maximin path
        barrier = float(0.5 * (wp[0] + wp[-1]) - worst)
        steps = len(route) - 1
        codes = self.space.codes
        if steps > int(np.count_nonzero(codes[ia] != codes[ib])):
            # the count alone: every fewest-step route has it, no route to build
            steps = _fewest_steps(self.space.neighbours(1).indices, self.w, worst, ia, ib)
        return barrier, steps, worst

    def _graph(self) -> tuple[IntArray, IntArray]:
        """The radius-1 graph as adjacency lists, built on the first search that needs it."""
        if not self._adjacency:
            start, adj = _radius1_adjacency(self.space)
            self._adjacency.update(start=start, adj=adj)
        return self._adjacency["start"], self._adjacency["adj"]

    def _joined_by_measured(self, ia: int, ib: int) -> bool:
        """Whether a path of measured cells, disconnected ones included, joins ``ia`` and
        ``ib`` (the fix a ``connected_only`` refusal may offer)."""
        measured = ~np.isnan(self.values)
        if not (measured[ia] and measured[ib]):
            return False
        start, adj = self._graph()
        return ia == ib or bool(_bfs_masked(start, adj, measured, ia, ib)[ib] >= 0)

    def _shortest_above(self, a: int, b: int, level: float) -> IntArray:
        ok = self.usable & (self.w >= level)
        start, adj = self._graph()
        # the search from a alone, restricted to the archs on some shortest path (a search
        # from both ends finds them): the same route, ~10x fewer archs visited
        pred = _bfs_masked(start, adj, _on_shortest_paths(start, adj, ok, a, b), a, b)
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
    """Precompute the maximum spanning forest for lowest-barrier queries (~0.03 s on NB201).

    Parameters
    ----------
    connected_only
        Paths only through cells whose input reaches the output (the disconnected cells, all
        equally bad, otherwise form a flat valley that joins everything at their level).

    NaN values are excluded from every path (impassable).
    """
    v = as_values(space, values)
    if not _frozen_through(v):  # the caller's array: a later edit moved the paths' values
        v = v.copy()
        v.flags.writeable = False
    w = oriented(v, higher_is_better).copy()
    # "no" would cut cells; on a space without 'none' every cell is connected: refused
    connected_only = check_connected_only(space, connected_only)
    usable = ~np.isnan(w)
    if connected_only:
        usable &= space.connected
    w[~usable] = np.nan
    n = space.size
    gu, gv = _live_edges(space, usable)
    eu, ev = _min_spanning_forest(n, gu, gv, _edge_rank(w, usable, gu, gv))
    elevel = np.minimum(w[eu], w[ev])
    eorder = np.argsort(-elevel, kind="stable")
    eu, ev, elevel = eu[eorder], ev[eorder], elevel[eorder]
    merges, labels = _merge_hierarchy(n, eu, ev)
    # root each tree at its smallest index (a tree's parents do not depend on the traversal)
    _, reps = np.unique(labels, return_index=True)
    parent, depth = _rooted(n, eu, ev, reps.astype(np.int64))
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
        merges=merges,
        graph_u=gu,
        graph_v=gv,
    )


def _live_edges(space: Space, usable: BoolArray) -> tuple[IntArray, IntArray]:
    """The radius-1 graph's edges ``(gu, gv)`` between usable archs, each once (``gu < gv``),
    in the order of the neighbour rows: by ``gu``, then by its row's order."""
    nb = space.neighbours(1)
    idx = nb.indices
    # the relation is symmetric: keep each edge once; padding (-1) is never above its row
    keep = idx > np.arange(space.size, dtype=idx.dtype)[:, None]
    keep &= usable[:, None]
    keep &= usable[idx]  # padding reads usable[-1], already dropped above
    flat = np.flatnonzero(keep)
    return flat // idx.shape[1], idx.reshape(-1)[flat].astype(np.int64)


def _edge_rank(w: FloatArray, usable: BoolArray, gu: IntArray, gv: IntArray) -> IntArray:
    """Distinct ranks of the edges in decreasing level ``min(w[u], w[v])``, ties by position:
    ordered as ``argsort(-level, kind="stable")`` without sorting the edges.

    On ranks, not on the values: exact order, and every weight distinct (one forest). A level
    is its lower end's value, so the levels' order is the values' order (equal values tie).
    """
    # dense rank of every usable value, 0 for the highest
    _, dense = np.unique(-w[usable], return_inverse=True)
    node = np.zeros(len(w), dtype=np.int64)
    node[usable] = dense.reshape(-1)
    level = np.maximum(node[gu], node[gv])  # the lower end's rank
    level *= len(gu)
    level += np.arange(len(gu), dtype=np.int64)
    return level


def _min_spanning_forest(
    n: int, gu: IntArray, gv: IntArray, rank: IntArray
) -> tuple[IntArray, IntArray]:
    """The minimum spanning forest of the edges ``(gu, gv)`` under distinct ``rank``, by
    Borůvka's rounds in numpy; its edges as given (``gu < gv``), ordered by ``(gu, gv)``.

    Distinct weights make the forest unique, so this is the edge set and order that
    ``scipy.sparse.csgraph.minimum_spanning_tree`` returns on the same graph (tested), without
    loading scipy.
    """
    in_forest = np.zeros(len(gu), dtype=bool)
    # the edges still between two components: their ids, the components at their ends, ranks
    alive = np.arange(len(gu), dtype=np.int64)
    cu, cv, r = gu, gv, rank
    ids = np.arange(n, dtype=np.int64)
    while alive.size:
        # positions, not masks: one search for the four arrays
        cross = np.flatnonzero(cu != cv)
        if cross.size < alive.size:
            alive, cu, cv, r = alive[cross], cu[cross], cv[cross], r[cross]
        if not alive.size:
            break
        # each component's lightest outgoing edge (one per component: ranks are distinct)
        best = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(best, cu, r)
        np.minimum.at(best, cv, r)
        by_u, by_v = np.flatnonzero(r == best[cu]), np.flatnonzero(r == best[cv])
        in_forest[alive[by_u]] = True
        in_forest[alive[by_v]] = True
        # every component hooks onto the other end of its edge; two that chose the same edge
        # form a 2-cycle, broken at the smaller id, which becomes the root
        ptr = ids.copy()
        ptr[cu[by_u]] = cv[by_u]
        ptr[cv[by_v]] = cu[by_v]
        mutual = (ptr[ptr] == ids) & (ids < ptr)
        ptr[mutual] = ids[mutual]
        while True:  # pointer jumping to each tree's root
            nxt = ptr[ptr]
            if np.array_equal(nxt, ptr):
                break
            ptr = nxt
        cu, cv = ptr[cu], ptr[cv]
    eu, ev = gu[in_forest], gv[in_forest]
    order = np.argsort(eu * n + ev)  # by (eu, ev): one distinct key per edge
    return eu[order], ev[order]


def _rooted(n: int, eu: IntArray, ev: IntArray, roots: IntArray) -> tuple[IntArray, IntArray]:
    """Parent (-1 at a root) and depth of every node of the forest ``(eu, ev)``."""
    adj_from = np.concatenate([eu, ev])
    adj_to = np.concatenate([ev, eu])
    order = np.argsort(adj_from, kind="stable")
    adj = adj_to[order].tolist()
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(adj_from, minlength=n), out=start[1:])
    bounds = start.tolist()
    parent = [-1] * n
    depth = [0] * n
    for root in roots.tolist():
        stack = [root]
        while stack:
            x = stack.pop()
            for y in adj[bounds[x] : bounds[x + 1]]:
                if y != parent[x]:
                    parent[y] = x
                    depth[y] = depth[x] + 1
                    stack.append(y)
    return np.asarray(parent, dtype=np.int64), np.asarray(depth, dtype=np.int64)


def _bfs_predecessors(n: int, gu: IntArray, gv: IntArray, a: int, b: int) -> IntArray:
    """Breadth-first predecessors from ``a`` over the undirected edges ``(gu, gv)``, until
    ``b`` is reached; -1 where not reached.

    Neighbours are taken in the order of ``scipy.sparse.csgraph.breadth_first_order(...,
    directed=False)`` on the matrix of these edges (those with a larger index, ascending, then
    the smaller ones), level by level, so that ties between shortest paths fall the same way
    (tested against scipy).
    """
    start, adj = _adjacency(n, gu, gv)
    return _bfs_masked(start, adj, np.ones(n, dtype=bool), a, b)


def _adjacency(n: int, gu: IntArray, gv: IntArray) -> tuple[IntArray, IntArray]:
    """``(start, adj)``: the neighbours of ``x`` in ``adj[start[x]:start[x + 1]]``, those with a
    larger index first, each part ascending (the order scipy's breadth-first search takes)."""
    src = np.concatenate([gu, gv])
    dst = np.concatenate([gv, gu])
    # one integer key: by source, then the larger neighbours, then the smaller, each ascending
    order = np.argsort(src * (2 * n) + np.where(dst > src, dst, dst + n))
    adj = dst[order]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=start[1:])
    return start, adj


def _radius1_adjacency(space: Space) -> tuple[IntArray, IntArray]:
    """:func:`_adjacency` of the whole radius-1 graph, from the neighbour rows (each row sorted
    on its own: no sort of all the edges).

    A tree's graph is this one less the edges at an excluded arch; :func:`_bfs_masked` never
    enters an excluded arch, so its search on this adjacency is the search on the tree's.
    """
    idx = space.neighbours(1).indices  # unfiltered: every row full, no padding
    n, width = idx.shape
    # the larger neighbours first, then the smaller, each ascending (keys below 2n: int32
    # where that holds, half the memory to sort; annotated int64 for the type checker only)
    key: IntArray = idx.astype(np.int32 if 2 * n < 2**31 else np.int64)
    own = np.arange(n, dtype=key.dtype)[:, None]
    key[key < own] += n
    key.sort(axis=1)
    key[key >= n] -= n
    return np.arange(n + 1, dtype=np.int64) * width, key.reshape(-1)


def _neighbours_of(start: IntArray, adj: IntArray, nodes: IntArray) -> tuple[IntArray, IntArray]:
    """``(cand, via)``: every neighbour of ``nodes`` in adjacency order, and the node it is
    a neighbour of."""
    counts = start[nodes + 1] - start[nodes]
    ends = np.cumsum(counts)
    total = int(ends[-1]) if ends.size else 0
    pos = np.repeat(start[nodes] - ends + counts, counts) + np.arange(total)
    return adj[pos], np.repeat(nodes, counts)


def _on_shortest_paths(start: IntArray, adj: IntArray, ok: BoolArray, a: int, b: int) -> BoolArray:
    """The ``ok`` nodes on a shortest path from ``a`` to ``b`` through ``ok`` nodes (none if
    ``b`` cannot be reached).

    Why the breadth-first search from ``a`` restricted to them finds ``b`` by the route the
    unrestricted one takes: every neighbour of an on-path node ``x`` one step nearer ``a`` is
    on a path too (it is one step further from ``b`` at most), so the candidates for ``x``'s
    predecessor, and by induction their order in each level, are the same.
    """
    n = len(start) - 1
    on = np.zeros(n, dtype=bool)
    if not (ok[a] and ok[b]):
        return on
    if a == b:
        on[a] = True
        return on
    # the two searches, one level at a time, the side with fewer edges to follow first
    dist = [np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)]
    layers: list[list[IntArray]] = [[np.array([a])], [np.array([b])]]
    dist[0][a] = dist[1][b] = 0
    while True:
        sides = [int((start[f + 1] - start[f]).sum()) for f in (layers[0][-1], layers[1][-1])]
        s = 0 if sides[0] <= sides[1] else 1
        if not sides[s]:
            return on  # that side's frontier has no edges left: b is not reachable
        cand, _ = _neighbours_of(start, adj, layers[s][-1])
        cand = np.unique(cand[ok[cand] & (dist[s][cand] < 0)])
        if not cand.size:
            return on
        dist[s][cand] = len(layers[s])
        layers[s].append(cand)
        meet = cand[dist[1 - s][cand] >= 0]
        if meet.size:
            break
    # the meeting level, then outwards: an on-path node's neighbours one level nearer its end
    on[meet] = True
    for d in dist:
        level = meet
        for k in range(int(d[meet[0]]) - 1, -1, -1):
            cand, _ = _neighbours_of(start, adj, level)
            level = np.unique(cand[d[cand] == k])
            on[level] = True
    return on


def _fewest_steps(
    nbrs: npt.NDArray[np.integer[Any]], w: FloatArray, level: float, a: int, b: int
) -> int:
    """Fewest steps from ``a`` to ``b`` through archs with ``w >= level`` (NaN never),
    ``nbrs`` the full radius-1 rows; -1 when none joins them (``a``, ``b`` must qualify).

    The two searches take turns a whole level at a time, the smaller frontier first: the
    first frontier with a neighbour the other side has reached closes the distance (no
    route is kept, so no tie is broken, and the count is the search's from ``a`` alone).

    >>> from nb201_flat.space import Space
    >>> cube = Space(("a", "b"), 3)
    >>> w = np.array([9.0, 1, 1, 1, 1, 1, 1, 9])
    >>> _fewest_steps(cube.neighbours(1).indices, w, 1.0, 0, 7), _fewest_steps(
    ...     cube.neighbours(1).indices, w, 2.0, 0, 7)
    (3, -1)
    """
    if a == b:
        return 0
    side = np.zeros(len(nbrs), dtype=np.int8)  # 1: reached from a, 2: from b
    side[a], side[b] = 1, 2
    frontier = [np.array([a]), np.array([b])]
    depth = [0, 0]
    while True:
        s = 0 if len(frontier[0]) <= len(frontier[1]) else 1
        cand = nbrs[frontier[s]].ravel()
        seen = side[cand]
        if (seen == 2 - s).any():  # the other side's mark: 1 for s = 1, 2 for s = 0
            return depth[0] + depth[1] + 1
        cand = cand[(seen == 0) & (w[cand] >= level)]
        if not cand.size:
            return -1
        cand = np.unique(cand)
        side[cand] = s + 1
        frontier[s] = cand
        depth[s] += 1


def _bfs_masked(start: IntArray, adj: IntArray, ok: BoolArray, a: int, b: int) -> IntArray:
    """:func:`_bfs_predecessors` over the edges of ``(start, adj)`` whose ends are both ``ok``.

    Dropping edges keeps the order of the others, so this is the search on the subgraph
    without sorting it again (``a`` must be ``ok``).
    """
    n = len(start) - 1
    pred = np.full(n, -1, dtype=np.int64)
    seen = ~ok  # an excluded node is never entered
    seen[a] = True
    frontier = np.array([a], dtype=np.int64)
    found = a == b
    while frontier.size and not found:
        cand, via = _neighbours_of(start, adj, frontier)
        if not cand.size:
            break
        new = ~seen[cand]
        cand, via = cand[new], via[new]
        # the first discovery wins, in queue order: as a queue-based search would find them
        _, first = np.unique(cand, return_index=True)
        first.sort()
        frontier = cand[first]
        pred[frontier] = via[first]
        seen[frontier] = True
        found = bool(pred[b] >= 0)
    return pred


def _merge_hierarchy(n: int, eu: IntArray, ev: IntArray) -> tuple[IntArray, IntArray]:
    """The one union-find sweep: the groups each forest edge joins, and each arch's tree.

    Edges come in decreasing level, so the group made by edge ``j`` is node ``n + j`` of the
    merge hierarchy; every forest edge joins two different groups.
    """
    parent = list(range(n))
    top = list(range(n))  # the hierarchy node that stands for each root's group
    joined: list[int] = []  # the pairs of groups, flat (numpy item writes cost more)
    for j, (x, y) in enumerate(zip(eu.tolist(), ev.tolist(), strict=True)):
        # each end's root, halving the path on the way (inline: a call per find costs more)
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        joined += (top[x], top[y])
        parent[y] = x
        top[x] = n + j
    merges = np.array(joined, dtype=np.int64).reshape(len(eu), 2)
    # each arch's root: the parents followed to their fixed point
    labels = np.array(parent, dtype=np.int64)
    while True:
        up = labels[labels]
        if np.array_equal(up, labels):
            return merges, labels
        labels = up


def _labelled(idx: Sequence[int], out: FloatArray) -> pd.DataFrame:
    import pandas as pd  # on first use: `nb201-flat barrier` does not need it

    labels = pd.Index(idx, name="index")
    return pd.DataFrame(out, index=labels, columns=labels.rename("to"))


def as_tree(
    space: Space,
    values: npt.ArrayLike | None,
    *,
    higher_is_better: bool = True,
    connected_only: bool = False,
) -> BarrierTree:
    """The :class:`BarrierTree` behind the free functions, built from ``(space, values)``.

    A prebuilt tree passed as ``space`` still works for one release, with a
    :class:`DeprecationWarning`: call its method instead. It answers with its own values and
    settings, so other values, or a setting the caller gave that differs from the tree's
    (``higher_is_better=False``, ``connected_only=True``: not the defaults), are refused
    rather than dropped.
    """
    given: object = space  # typed as a Space; a tree is the deprecated form
    if isinstance(given, BarrierTree):
        warnings.warn(
            "passing a BarrierTree to the free barrier functions is deprecated; call its "
            "methods instead (tree.path, tree.matrix, tree.disconnectivity, ...)",
            DeprecationWarning,
            stacklevel=3,
        )
        _check_tree_settings(given, values, higher_is_better, connected_only)
        return given
    if values is None:
        raise LandscapeArgumentError(
            "values are needed: pass a vector over the space, or call the method of a "
            "prebuilt BarrierTree (tree.path, tree.matrix, ...)"
        )
    return barrier_tree(
        space, values, higher_is_better=higher_is_better, connected_only=connected_only
    )


def _check_tree_settings(
    tree: BarrierTree, values: npt.ArrayLike | None, higher_is_better: bool, connected_only: bool
) -> None:
    """Refuse values or non-default settings given beside a prebuilt tree that differ from
    the tree's own (see :func:`as_tree`): the tree would answer for its own."""
    fix = "drop it, or build a tree with it (barrier_tree) and call the tree's methods"
    if values is not None:
        given = np.asarray(masked_as_nan(values))
        if given.shape != tree.values.shape or not np.array_equal(
            given, tree.values, equal_nan=given.dtype.kind == "f"
        ):
            raise LandscapeArgumentError(
                "values were given beside a prebuilt BarrierTree, which answers for its own "
                "values; drop them, or build a tree of them (barrier_tree) and call the tree's "
                "methods"
            )
    # True is the default, so it may not have been given: only an explicit False is refused
    if not check_flag("higher_is_better", higher_is_better) and tree.higher_is_better:
        raise LandscapeArgumentError(
            f"higher_is_better=False was given beside a prebuilt BarrierTree built with "
            f"higher_is_better=True; {fix}"
        )
    if check_flag("connected_only", connected_only) and not tree.connected_only:
        raise LandscapeArgumentError(
            f"connected_only=True was given beside a prebuilt BarrierTree built without it; {fix}"
        )


def lowest_barrier_path(
    space: Space,
    values: npt.ArrayLike | None,
    a: ArchLike,
    b: ArchLike,
    *,
    higher_is_better: bool = True,
    connected_only: bool = False,
    shortest: bool = True,
) -> BarrierPath:
    """The path from ``a`` to ``b`` whose worst value is best, over the whole space.

    Builds a :class:`BarrierTree` and calls :meth:`BarrierTree.path`; for many queries build
    the tree once with :func:`barrier_tree`. Unmeasured (NaN) cells are never crossed: on a
    partly measured vector the path is the best through measured cells, its barrier an upper
    bound (:attr:`BarrierTree.unmeasured`; see the module docstring).

    Parameters
    ----------
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
    tree = as_tree(space, values, higher_is_better=higher_is_better, connected_only=connected_only)
    return tree.path(a, b, shortest=shortest)


def bottleneck_matrix(tree: BarrierTree, archs: Sequence[ArchLike]) -> FloatArray:
    """Best achievable worst value between every pair of ``archs``: :meth:`BarrierTree.bottleneck_matrix`."""
    if not isinstance(tree, BarrierTree):  # else an AttributeError
        raise LandscapeArgumentError(
            Param("tree"), f" must be a BarrierTree (from barrier_tree), got {shown(tree)}"
        )
    return tree.bottleneck_matrix(archs)


def barrier_matrix(
    space: Space,
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
    method
        ``"lowest"`` (over every path: the exact minimum, :meth:`BarrierTree.matrix`),
        ``"shortest"`` (the best of the d! shortest Hamming paths), ``"a2m"`` (A²M's
        level-mean barrier) or ``"a2m_published"`` (A²M's code; not symmetric).

    Returns
    -------
    pandas.DataFrame
        ``k x k``, index and columns the architecture indices; 0 on the diagonal, ``inf``
        where no path exists, NaN for unmeasured archs (the shortest-path methods: also
        where an unmeasured arch lies on the shortest paths, so their barrier is unknown). With
        ``"a2m_published"`` every entry, the diagonal too, is what A²M's code computes for
        the pair (for a pair of one cell ``f - 100``, :func:`~nb201_flat.landscape.a2m.a2m_barrier`).

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 9])
    >>> barrier_matrix(space, f, [0, 7, 3]).to_numpy().tolist()
    [[0.0, 8.0, 4.0], [8.0, 0.0, 4.0], [4.0, 4.0, 0.0]]
    """
    check_choice("method", method, ("lowest", "shortest", "a2m", "a2m_published"))
    if method == "lowest":
        tree = as_tree(
            space, values, higher_is_better=higher_is_better, connected_only=connected_only
        )
        return tree.matrix(archs)
    if connected_only:  # the shortest-path barriers read the values as given
        raise LandscapeArgumentError(
            f"connected_only applies only to method='lowest', not {method!r}; drop it (or set "
            "the disconnected cells' values to NaN)"
        )
    given: object = space
    if isinstance(given, BarrierTree):  # deprecated form: the tree's values and orientation
        tree = as_tree(space, values, higher_is_better=higher_is_better)
        sp, v, higher_is_better = tree.space, tree.values, tree.higher_is_better
    elif values is None:
        raise LandscapeArgumentError("values are needed for the shortest-path barriers")
    else:
        sp, v = space, as_values(space, values)
    idx = resolve_indices(sp, archs)
    k = len(idx)
    check_memory(2 * 8 * k * k, f"a {k:,} x {k:,} barrier matrix", "pass fewer archs")
    out = np.zeros((k, k))
    w = oriented(v, higher_is_better)
    for i, j in itertools.product(range(k), range(k)):
        if i == j and method != "a2m_published":
            out[i, j] = 0.0 if not np.isnan(w[idx[i]]) else np.nan
        elif method == "shortest":
            if j < i:
                out[i, j] = out[j, i]
                continue
            try:
                out[i, j] = best_shortest_path(
                    sp, v, idx[i], idx[j], higher_is_better=higher_is_better
                ).barrier
            except MissingValueError:  # an unmeasured end, or one on the shortest paths
                out[i, j] = np.nan
        else:
            out[i, j] = a2m_barrier(
                sp,
                v,
                idx[i],
                idx[j],
                higher_is_better=higher_is_better,
                published=method == "a2m_published",
                nan_policy="propagate",  # a pair with an unmeasured cell: NaN, as documented
            ).barrier
    return _labelled(idx, out)
