"""Exact lowest barriers (against brute force), the barrier tree and its matrices."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.errors import InvalidArchError
from nb201_flat.landscape import (
    LandscapeArgumentError,
    MissingValueError,
    NoPathError,
    a2m_barrier,
    barrier_matrix,
    barrier_tree,
    best_shortest_path,
    bottleneck_matrix,
    disconnectivity_graph,
    lowest_barrier_path,
    path_barrier,
    shortest_paths,
)
from nb201_flat.space import NB201, Space

TINY = Space(("none", "skip", "conv"), 3)  # 27 cells, 6 neighbours each
CUBE = Space(("a", "b"), 3)  # 8 cells; index = binary number of the codes


def space_graph(space: Space, keep: np.ndarray | None = None) -> nx.Graph:
    """The radius-1 graph, built by definition (pairs at Hamming distance 1)."""
    g = nx.Graph()
    nodes = [i for i in range(space.size) if keep is None or keep[i]]
    g.add_nodes_from(nodes)
    codes = space.codes.astype(int)
    for i, j in itertools.combinations(nodes, 2):
        if (codes[i] != codes[j]).sum() == 1:
            g.add_edge(i, j)
    return g


def brute_bottleneck(space: Space, f: np.ndarray, a: int, b: int) -> float:
    """Best worst value over all paths: the highest threshold keeping a and b joined."""
    ok = ~np.isnan(f)
    best = -np.inf
    for t in sorted(set(f[ok].tolist())):
        if t > min(f[a], f[b]):
            break
        g = space_graph(space, ok & (f >= t))
        if nx.has_path(g, a, b):
            best = t
    return best


def is_path(space: Space, path: tuple[int, ...]) -> bool:
    codes = space.codes
    return all((codes[x] != codes[y]).sum() == 1 for x, y in itertools.pairwise(path))


values_27 = st.lists(st.integers(0, 8).map(float), min_size=27, max_size=27)  # many ties
cells_27 = st.integers(0, 26)


# -- exact lowest barriers ------------------------------------------------------------------------
def test_lowest_barrier_cube_by_enumeration() -> None:
    rng = np.random.default_rng(0)
    g = space_graph(CUBE)
    for _ in range(20):
        f = rng.integers(0, 5, size=8).astype(float)
        tree = barrier_tree(CUBE, f)
        for a, b in itertools.combinations(range(8), 2):
            brute = max(min(f[list(p)]) for p in nx.all_simple_paths(g, a, b))
            p = tree.path(a, b)
            assert p.bottleneck == brute
            assert p.barrier == pytest.approx(0.5 * (f[a] + f[b]) - brute)


@settings(max_examples=60, deadline=None)
@given(values_27, cells_27, cells_27)
def test_lowest_barrier_properties(data: list[float], a: int, b: int) -> None:
    f = np.array(data)
    tree = barrier_tree(TINY, f)
    p = tree.path(a, b)
    q = tree.path(b, a)
    # a valid path from a to b whose values are the table's
    assert p.path[0] == a and p.path[-1] == b and is_path(TINY, p.path)
    assert p.values.tolist() == f[list(p.path)].tolist()
    assert p.bottleneck == min(p.values)
    # exact: equals brute force; symmetric
    assert p.bottleneck == brute_bottleneck(TINY, f, a, b)
    assert q.barrier == p.barrier and q.bottleneck == p.bottleneck
    # never above the barrier of any shortest Hamming path
    for route in shortest_paths(TINY, a, b).tolist():
        assert p.barrier <= path_barrier(f[route]) + 1e-12
    # fewest steps among the maximin paths
    s = tree.path(a, b, shortest=True)
    assert s.bottleneck == p.bottleneck and is_path(TINY, s.path)
    sub = space_graph(TINY, f >= p.bottleneck)
    assert s.length == nx.shortest_path_length(sub, a, b) <= p.length


@settings(max_examples=30, deadline=None)
@given(values_27, cells_27, cells_27)
def test_lowest_barrier_loss_is_the_mirror_image(data: list[float], a: int, b: int) -> None:
    f = np.array(data)
    acc = lowest_barrier_path(TINY, f, a, b)
    loss = lowest_barrier_path(TINY, -f, a, b, higher_is_better=False)
    assert loss.barrier == acc.barrier
    assert loss.bottleneck == -acc.bottleneck
    assert loss.barrier == pytest.approx(path_barrier(loss.values, higher_is_better=False))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 8).map(float), st.just(np.nan)), min_size=27, max_size=27),
    cells_27,
    cells_27,
)
def test_nan_cells_are_impassable(data: list[float], a: int, b: int) -> None:
    f = np.array(data)
    tree = barrier_tree(TINY, f)
    if np.isnan(f[a]) or np.isnan(f[b]):
        with pytest.raises(MissingValueError):
            tree.path(a, b)
        return
    g = space_graph(TINY, ~np.isnan(f))
    if not nx.has_path(g, a, b):
        with pytest.raises(NoPathError):
            tree.path(a, b)
        return
    p = tree.path(a, b)
    assert not np.isnan(p.values).any()
    assert p.bottleneck == brute_bottleneck(TINY, f, a, b)


def test_connected_only_paths() -> None:
    f = np.arange(NB201.size, dtype=float) % 97
    tree = barrier_tree(NB201, f, connected_only=True)
    a, b = 11472, 6111
    p = tree.path(a, b)
    assert NB201.connected[list(p.path)].all()
    disconnected = int(np.nonzero(~NB201.connected)[0][0])
    # the fix it names is the filter, not "choose a measured one" (the cell is measured)
    with pytest.raises(MissingValueError, match="disconnected.*choose a connected one or drop"):
        tree.path(disconnected, a)
    with pytest.raises(MissingValueError) as exc:  # by its Python name, no flag
        tree.path(disconnected, a)
    assert "and connected_only=True leaves disconnected architectures out" in str(exc.value)
    assert "--" not in str(exc.value)


def test_connected_only_offers_dropping_it_only_where_that_joins_the_pair() -> None:
    # every pair of measured connected cells that no connected path joins, over seeded
    # random measured sets: the fix is offered exactly where networkx finds a path through
    # the disconnected cells; both outcomes occur
    seen = {True: 0, False: 0}
    rng = np.random.default_rng(0)
    for _ in range(40):
        f = np.where(rng.random(27) < 0.55, np.arange(27.0), np.nan)
        tree = barrier_tree(TINY, f, connected_only=True)
        inside = space_graph(TINY, TINY.connected & ~np.isnan(f))
        everywhere = space_graph(TINY, ~np.isnan(f))
        for a, b in itertools.combinations(np.flatnonzero(TINY.connected & ~np.isnan(f)), 2):
            if nx.has_path(inside, a, b):
                continue
            with pytest.raises(NoPathError) as exc:
                tree.path(int(a), int(b))
            offered = "or drop connected_only=True" in str(exc.value)
            assert offered == nx.has_path(everywhere, a, b), (f, a, b)
            seen[offered] += 1
    assert seen[True] >= 3 and seen[False] >= 3, seen


def test_connected_only_no_path_names_the_flag_on_the_command_line() -> None:
    # 4 and 10 of TINY: joined only through the disconnected cell 1 (a search found the case)
    f = np.arange(27.0)
    f[[0, 3, 5, 9, 11, 12, 13, 16, 17, 19, 20, 21, 26]] = np.nan
    with pytest.raises(NoPathError) as exc:
        barrier_tree(TINY, f, connected_only=True).path(4, 10)
    spelled = exc.value.spelled(
        lambda p: "--connected-only" if p.name == "connected_only" else None
    )
    assert spelled.endswith(
        "or drop --connected-only (a path through disconnected architectures joins them)"
    )


def test_query_errors() -> None:
    f = np.arange(8.0)
    with pytest.raises(InvalidArchError):
        lowest_barrier_path(CUBE, f, 0, 99)
    with pytest.raises(LandscapeArgumentError, match="values are needed"):
        lowest_barrier_path(CUBE, None, 0, 7)
    with pytest.raises(LandscapeArgumentError, match="vector over"):
        barrier_tree(CUBE, f[:3])


# -- matrices and disconnectivity graphs ---------------------------------------------------------
def test_shortest_barrier_matrix_is_nan_where_a_shortest_path_is_unmeasured() -> None:
    # 0 and 7 of the 2-op cube: the best shortest path is unknown once one of them crosses an
    # unmeasured arch (it could be the best); it read inf ("no path") when all of them did,
    # and the best of the measured paths when some did
    space = Space(("a", "b"), 3)
    f = np.array([9.0, np.nan, np.nan, 1, np.nan, 1, 1, 9])
    m = barrier_matrix(space, f, [0, 7, 1], method="shortest").to_numpy()
    assert np.isnan(m[0, 1]) and np.isnan(m[1, 0])
    assert np.isnan(m[0, 2]) and np.isnan(m[2, 2])  # an unmeasured arch: NaN
    g = np.array([9.0, np.nan, 5, 5, 6, 5, 5, 9])  # only the paths through 001 are unknown
    m = barrier_matrix(space, g, [0, 7], method="shortest").to_numpy()
    assert np.isnan(m[0, 1]) and np.isnan(m[1, 0])


def test_barrier_matrix_methods_agree_with_queries() -> None:
    rng = np.random.default_rng(1)
    f = rng.integers(0, 10, size=TINY.size).astype(float)
    archs = [0, 5, 13, 26, 8]
    tree = barrier_tree(TINY, f)
    low = tree.matrix(archs)
    assert low.index.tolist() == archs and low.columns.tolist() == archs
    assert np.allclose(low.to_numpy(), low.to_numpy().T)
    assert (np.diag(low.to_numpy()) == 0).all()
    a2m = barrier_matrix(TINY, f, archs, method="a2m")
    pub = barrier_matrix(TINY, f, archs, method="a2m_published")
    short = barrier_matrix(TINY, f, archs, method="shortest")
    for (i, a), (j, b) in itertools.product(enumerate(archs), enumerate(archs)):
        if i == j:
            continue
        assert low.iloc[i, j] == pytest.approx(tree.path(a, b).barrier)
        assert a2m.iloc[i, j] == pytest.approx(a2m_barrier(TINY, f, a, b).barrier)
        assert pub.iloc[i, j] == a2m_barrier(TINY, f, a, b, published=True).barrier
        assert short.iloc[i, j] == pytest.approx(best_shortest_path(TINY, f, a, b).barrier)
        assert low.iloc[i, j] <= short.iloc[i, j] + 1e-12
    bn = tree.bottleneck_matrix(archs)
    assert bn[0, 0] == f[0]
    with pytest.raises(LandscapeArgumentError, match="method"):
        barrier_matrix(TINY, f, archs, method="widest")  # type: ignore[arg-type]


def test_barrier_matrix_without_path_is_inf() -> None:
    f = np.array([5.0, np.nan, np.nan, 1, np.nan, 1, 1, 5])  # 000 is cut off from the rest
    m = barrier_matrix(CUBE, f, [0, 7, 1])
    assert np.isinf(m.loc[0, 7]) and m.loc[7, 7] == 0
    assert np.isnan(m.loc[1]).all()


def test_tree_on_nb201_additive_function() -> None:
    # f = number of 3x3 convs: add b's 3x3 convs first, then drop a's others, so the best
    # path never dips below the lower endpoint -- the bottleneck is min(f(a), f(b))
    f = (NB201.codes == 3).sum(axis=1).astype(float)
    tree = barrier_tree(NB201, f)
    rng = np.random.default_rng(2)
    for a, b in rng.integers(NB201.size, size=(20, 2)).tolist():
        p = tree.path(a, b)
        assert p.bottleneck == min(f[a], f[b])
        assert is_path(NB201, p.path)
        assert tree.path(a, b, shortest=True).length == NB201.hamming(a, b)


def test_free_functions_wrap_the_tree_methods() -> None:
    f = np.random.default_rng(3).integers(0, 10, size=TINY.size).astype(float)
    archs = [0, 5, 13, 26, 8]
    tree = barrier_tree(TINY, f)
    assert np.array_equal(bottleneck_matrix(tree, archs), tree.bottleneck_matrix(archs))
    assert barrier_matrix(TINY, f, archs).equals(tree.matrix(archs))
    assert disconnectivity_graph(TINY, f, n_optima=6).equals(tree.disconnectivity(6))
    for shortest in (False, True):
        free = lowest_barrier_path(TINY, f, 0, 26, shortest=shortest)
        assert free.path == tree.path(0, 26, shortest=shortest).path
    # the old form, a tree in place of the space, works for one release and says what to call
    with pytest.warns(DeprecationWarning, match="call its methods"):
        assert barrier_matrix(tree, None, archs).equals(tree.matrix(archs))  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="call its methods"):
        old = disconnectivity_graph(tree, n_optima=6)  # type: ignore[arg-type]
    assert old.equals(tree.disconnectivity(6))


@pytest.mark.parametrize("seed", range(6))
def test_numpy_forest_and_search_equal_scipy(seed: int) -> None:
    # the forest and the breadth-first search run without scipy; scipy is the reference
    from scipy import sparse
    from scipy.sparse import csgraph

    from nb201_flat.landscape import maximin as mm

    rng = np.random.default_rng(seed)
    space = Space(("none", "a", "b"), 4) if seed % 2 else NB201
    nb = space.neighbours(1)
    u = np.repeat(np.arange(space.size), nb.counts)
    v = nb.indices[nb.mask].astype(np.int64)
    once = (u < v) & (rng.random(u.size) < 0.8)  # some edges missing: a forest of trees
    gu, gv = u[once], v[once]
    rank = rng.permutation(gu.size).astype(np.int64)
    eu, ev = mm._min_spanning_forest(space.size, gu, gv, rank)
    g = sparse.csr_matrix((rank + 1.0, (gu, gv)), shape=(space.size, space.size))
    ref = csgraph.minimum_spanning_tree(g).tocoo()
    assert eu.tolist() == ref.row.tolist() and ev.tolist() == ref.col.tolist()
    # breadth-first predecessors, ties broken as scipy breaks them
    g1 = sparse.csr_matrix((np.ones(gu.size), (gu, gv)), shape=(space.size, space.size))
    for a in rng.choice(space.size, 3, replace=False).tolist():
        _, pred = csgraph.breadth_first_order(g1, a, directed=False, return_predecessors=True)
        reached = np.flatnonzero(pred >= 0)
        for b in rng.choice(reached, min(5, reached.size), replace=False).tolist():
            got = mm._bfs_predecessors(space.size, gu, gv, a, b)
            x = b
            while x != a:  # the whole route back to a is scipy's
                assert got[x] == pred[x]
                x = int(pred[x])
    # rooted at each tree's smallest index: parents and depths as scipy's traversal gives
    labels = csgraph.connected_components(g1 + g1.T, directed=False)[1]
    _, reps = np.unique(labels, return_index=True)
    parent, depth = mm._rooted(space.size, eu, ev, reps.astype(np.int64))
    roots = parent < 0
    assert set(np.flatnonzero(roots).tolist()) == set(reps.tolist())
    assert (depth[roots] == 0).all() and (depth[~roots] == depth[parent[~roots]] + 1).all()


@pytest.mark.parametrize("seed", range(3))
def test_lowest_and_masked_search_equal_the_route_and_the_filtered_search(seed: int) -> None:
    # tree.lowest (no route when the forest's path is already shortest) and the search on the
    # cached adjacency give what the route and the per-query search on the kept edges give
    from nb201_flat.landscape import maximin as mm

    rng = np.random.default_rng(seed)
    f = np.round(rng.normal(70, 10, NB201.size), 1)  # ties: several maximin paths
    f[rng.choice(NB201.size, 300, replace=False)] = np.nan
    for connected_only in (False, True):
        tree = barrier_tree(NB201, f, connected_only=connected_only)
        ok = np.flatnonzero(tree.usable)
        longer = 0
        for a, b in rng.choice(ok, (60, 2)).tolist():
            if tree.component[a] != tree.component[b]:
                continue
            p = tree.path(a, b, shortest=True)
            assert tree.lowest(a, b) == (p.barrier, p.length)
            longer += p.length > NB201.hamming(a, b)
            level = float(tree.w[tree._tree_path(a, b)].min())
            keep_ok = tree.usable & (tree.w >= level)
            keep = keep_ok[tree.graph_u] & keep_ok[tree.graph_v]
            ref = mm._bfs_predecessors(NB201.size, tree.graph_u[keep], tree.graph_v[keep], a, b)
            got = tree._shortest_above(a, b, level)
            x, back = b, [b]
            while x != a:
                x = int(ref[x])
                back.append(x)
            assert got.tolist() == back[::-1]
        assert longer > 0  # some pairs need the breadth-first search


def _bfs_distances(start: np.ndarray, adj: np.ndarray, ok: np.ndarray, a: int) -> np.ndarray:
    """Steps from ``a`` through ``ok`` nodes by a plain queue; -1 where not reached."""
    dist = np.full(len(start) - 1, -1)
    dist[a] = 0
    queue = [a]
    for x in queue:
        for y in adj[start[x] : start[x + 1]].tolist():
            if ok[y] and dist[y] < 0:
                dist[y] = dist[x] + 1
                queue.append(y)
    return dist


@pytest.mark.parametrize("seed", range(6))
def test_search_restricted_to_shortest_paths_takes_the_unrestricted_route(seed: int) -> None:
    # _shortest_above searches only the archs on some shortest path: the route it finds must
    # be the one the search over every kept arch finds, ties included; unreachable stays so
    from nb201_flat.landscape import maximin as mm

    rng = np.random.default_rng(seed)
    space = Space(("none", "a", "b"), 4) if seed % 2 else Space(("a", "b"), 5)
    start, adj = mm._radius1_adjacency(space)
    ok = rng.random(space.size) < (0.5 if seed < 4 else 0.3)  # sparse masks: cut-off pairs
    routes = unreachable = 0
    for a, b in rng.choice(np.flatnonzero(ok), (80, 2)).tolist():
        on = mm._on_shortest_paths(start, adj, ok, a, b)
        full = mm._bfs_masked(start, adj, ok, a, b)
        if full[b] < 0 and a != b:
            assert not on.any()
            unreachable += 1
            continue
        # exactly the archs on a shortest path (a superset would keep the route, not the speed)
        dist_a, dist_b = _bfs_distances(start, adj, ok, a), _bfs_distances(start, adj, ok, b)
        exact = (dist_a >= 0) & (dist_b >= 0) & (dist_a + dist_b == dist_a[b])
        assert np.array_equal(on, exact)
        restricted = mm._bfs_masked(start, adj, on, a, b)
        x = b
        while x != a:
            assert restricted[x] == full[x]
            x = int(full[x])
        routes += 1
    assert routes and (unreachable or seed < 4)


@pytest.mark.parametrize("seed", range(4))
def test_edges_and_ranks_equal_the_stable_sort_of_the_levels(seed: int) -> None:
    # the forest's input without sorting the edges: the live edges in the neighbour rows'
    # order, ranked as the stable sort of their levels ranks them (ties: equal values, and
    # -0.0 beside 0.0)
    from nb201_flat.landscape import maximin as mm

    rng = np.random.default_rng(seed)
    space = NB201 if seed < 2 else Space(("none", "a", "b"), 4)
    f = np.round(rng.normal(0, 3, space.size))
    f[rng.random(space.size) < 0.1] = np.nan
    usable = ~np.isnan(f)
    if seed % 2:
        usable &= space.connected
    nb = space.neighbours(1)
    u = np.repeat(np.arange(space.size), nb.counts)
    v = nb.indices[nb.mask].astype(np.int64)
    keep = (u < v) & usable[u] & usable[v]
    gu, gv = mm._live_edges(space, usable)
    assert gu.tolist() == u[keep].tolist() and gv.tolist() == v[keep].tolist()
    rank = mm._edge_rank(f, usable, gu, gv)
    assert np.unique(rank).size == rank.size
    level = np.minimum(f[gu], f[gv])
    assert np.array_equal(np.argsort(rank), np.argsort(-level, kind="stable"))


@pytest.mark.parametrize("space", [Space(("none", "a", "b", "c"), 4), NB201], ids=["256", "nb201"])
def test_merge_hierarchy_equals_a_plain_union_find(space: Space) -> None:
    rng = np.random.default_rng(1)
    f = rng.integers(0, 20, space.size).astype(float)  # ties
    f[rng.random(space.size) < 0.05] = np.nan
    tree = barrier_tree(space, f)
    n = space.size
    parent, top = list(range(n)), list(range(n))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for j, (x, y) in enumerate(tree.edges.tolist()):
        rx, ry = find(x), find(y)
        assert tree.merges[j].tolist() == [top[rx], top[ry]]
        parent[ry], top[rx] = rx, n + j
    labels = np.array([find(x) for x in range(n)])
    assert np.array_equal(tree.component[tree.usable], labels[tree.usable])
    assert (tree.component[~tree.usable] == -1).all()


def test_barrier_search_sorts_no_edge_list(monkeypatch: pytest.MonkeyPatch) -> None:
    # `nb201-flat barrier`'s searches read an adjacency built from the neighbour rows (each
    # row sorted on its own), not from a sort of every edge of the radius-1 graph
    from nb201_flat.landscape import maximin as mm

    def whole_sort(*args: object) -> None:
        raise AssertionError("the search sorted the whole edge list")

    monkeypatch.setattr(mm, "_adjacency", whole_sort)
    f = np.round(np.random.default_rng(4).normal(70, 10, NB201.size), 1)
    tree = barrier_tree(NB201, f)
    longer = 0
    for a, b in np.random.default_rng(5).integers(NB201.size, size=(30, 2)).tolist():
        p = tree.path(a, b)
        assert tree.lowest(a, b) == (p.barrier, p.length)
        longer += p.length > NB201.hamming(a, b)
    assert longer > 0  # some pairs needed the breadth-first search


@pytest.mark.parametrize("method", ["shortest", "a2m", "a2m_published"])
def test_barrier_matrix_refuses_connected_only_where_it_changes_nothing(method: str) -> None:
    # connected_only=True used to be ignored by the shortest-path methods
    f = np.arange(TINY.size, dtype=float)
    with pytest.raises(LandscapeArgumentError, match="connected_only applies only"):
        barrier_matrix(TINY, f, [13, 26], method=method, connected_only=True)  # type: ignore[arg-type]
    assert barrier_matrix(TINY, f, [13, 26], connected_only=True).shape == (2, 2)


@pytest.mark.parametrize("bad", ["no", "False", 0, None])
def test_higher_is_better_is_a_bool(bad: object) -> None:
    # "no" and "False" are truthy: a loss used to be ranked as an accuracy without a word
    f = np.arange(TINY.size, dtype=float)
    with pytest.raises(LandscapeArgumentError, match="higher_is_better must be True or False"):
        barrier_matrix(TINY, f, [0, 26], higher_is_better=bad)  # type: ignore[arg-type]
    with pytest.raises(LandscapeArgumentError, match="higher_is_better must be True or False"):
        path_barrier([3.0, 1.0, 2.0], higher_is_better=bad)  # type: ignore[arg-type]
    with pytest.raises(LandscapeArgumentError, match="higher_is_better must be True or False"):
        a2m_barrier(TINY, f, 0, 26, higher_is_better=bad)  # type: ignore[arg-type]
    assert path_barrier([3.0, 1.0, 2.0], higher_is_better=np.bool_(True)) == 1.5


def test_barrier_tree_connected_only_is_a_bool() -> None:
    with pytest.raises(LandscapeArgumentError, match="connected_only must be True or False"):
        barrier_tree(TINY, np.arange(27.0), connected_only="no")  # type: ignore[arg-type]
