"""Barriers: A²M's construction, exact lowest barriers (against brute force), matrices, trees."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.errors import InvalidArchError
from nb201_flat.landscape import (
    LandscapeArgumentError,
    MissingValueError,
    NoPathError,
    a2m_barrier,
    a2m_barriers,
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


# -- path barrier and A²M -------------------------------------------------------------------------
def test_path_barrier() -> None:
    assert path_barrier([90.0, 80.0, 85.0, 92.0]) == 11.0
    assert path_barrier([92.0, 93.0]) == 0.5  # never below half the endpoint gap
    assert path_barrier([0.5, 0.9, 0.7], higher_is_better=False) == pytest.approx(0.3)
    with pytest.raises(LandscapeArgumentError):
        path_barrier([])


def test_shortest_paths_enumerate_every_order() -> None:
    a, b = 0, NB201.size - 1
    d = NB201.hamming(a, b)
    paths = shortest_paths(NB201, a, b)
    assert paths.shape == (math.factorial(d), d + 1)
    assert len({tuple(p) for p in paths.tolist()}) == math.factorial(d)
    assert all(is_path(NB201, tuple(p)) for p in paths.tolist())
    assert (paths[:, 0] == a).all() and (paths[:, -1] == b).all()
    assert shortest_paths(NB201, 5, 5).tolist() == [[5]]
    for level in range(d + 1):
        assert len(set(paths[:, level].tolist())) == math.comb(d, level)


def test_a2m_hand_computed() -> None:
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])  # 000 -> 111
    r = a2m_barrier(CUBE, f, 0, 7)
    assert r.distance == 3 and r.n_paths == 6
    assert r.level_mean.tolist() == [9.0, 5.0, 7.0, 8.0]
    assert r.level_std.tolist() == pytest.approx([0.0, np.std([5, 6, 4]), 0.0, 0.0])
    assert r.level_n.tolist() == [1, 3, 3, 1]
    assert r.barrier == 0.5 * (9 + 8) - 5
    assert r.frame()["mean"].tolist() == [9.0, 5.0, 7.0, 8.0]
    # A²M's code at 947bc3e averages the start with the first level, takes the minimum of
    # the level means, and rounds
    pub = a2m_barrier(CUBE, f, 0, 7, published="947bc3e")
    assert pub.barrier == 0.5 * (9 + 5) - 5
    assert pub.code == "947bc3e" and pub.published and pub.path_min == 5.0
    # the current code (54ce096, the default code version) takes the lowest single
    # intermediate architecture instead: 4, on level 1
    cur = a2m_barrier(CUBE, f, 0, 7, published=True)
    assert cur.code == "54ce096" and cur.path_min == 4.0
    assert cur.barrier == 0.5 * (9 + 5) - 4
    assert a2m_barrier(CUBE, f, 0, 7, published="54ce096").barrier == cur.barrier
    assert r.code is None and not r.published
    # a loss: the mirror image
    loss = a2m_barrier(CUBE, -f, 0, 7, higher_is_better=False)
    assert loss.barrier == r.barrier
    # symmetric (the text's definition)
    assert a2m_barrier(CUBE, f, 7, 0).barrier == r.barrier


def test_a2m_published_rounding() -> None:
    f = np.full(CUBE.size, 50.0)
    f[0], f[7] = 93.12349, 93.0
    f[[1, 2, 4]] = [92.0004, 92.0004, 92.0004]
    pub = a2m_barrier(CUBE, f, 0, 7, published=True)
    assert pub.level_mean[0] == 93.123  # values rounded to 3 decimals first
    assert pub.barrier == round(0.5 * (93.123 + 92.0) - 50.0, 2)


def test_a2m_code_versions_hand_computed() -> None:
    # 000 -> 111 on the cube: level 1 = {1, 2, 4}, level 2 = {3, 5, 6}
    f = np.full(CUBE.size, 0.0)
    f[0], f[7] = 90.0, 80.0
    f[[1, 2, 4]] = [70.0, 60.0, 50.0]  # level-1 mean 60, lowest member 50
    f[[3, 5, 6]] = [40.0, 75.0, 75.0]  # level-2 mean 63.33.., lowest member 40
    text = a2m_barrier(CUBE, f, 0, 7)
    assert text.barrier == pytest.approx(0.5 * (90 + 80) - 60)  # mean path: 25
    old = a2m_barrier(CUBE, f, 0, 7, published="947bc3e")
    assert old.barrier == round(0.5 * (90 + 60) - 60, 2)  # 15: L[1] and min(L) = 60
    cur = a2m_barrier(CUBE, f, 0, 7, published="54ce096")
    assert cur.barrier == round(0.5 * (90 + 60) - 40, 2)  # 35: the single worst member
    # a loss: the mirror image in every version
    for code in ("54ce096", "947bc3e"):
        loss = a2m_barrier(CUBE, -f, 0, 7, published=code, higher_is_better=False)
        assert loss.barrier == a2m_barrier(CUBE, f, 0, 7, published=code).barrier
    # d = 1: no intermediate level, so nothing lowers the current code's start of 100
    assert a2m_barrier(CUBE, f, 0, 1, published=True).barrier == round(0.5 * (90 + 70) - 100, 2)
    assert a2m_barrier(CUBE, f, 0, 1, published="947bc3e").barrier == 10.0
    assert a2m_barrier(CUBE, f, 0, 0, published=True).barrier == 0.0
    with pytest.raises(LandscapeArgumentError, match="published must be"):
        a2m_barrier(CUBE, f, 0, 7, published="5a303f9")  # type: ignore[arg-type]


def test_a2m_current_code_carries_its_minimum_across_pairs() -> None:
    # the current code's acc_min starts at 100 once per dataset and runs on over A, B, C
    f = np.full(CUBE.size, 0.0)
    f[0], f[7] = 90.0, 80.0
    f[[1, 2, 4]] = [70.0, 60.0, 50.0]
    f[[3, 5, 6]] = [40.0, 75.0, 75.0]
    pairs = [(0, 7), (1, 7), (3, 7)]  # d = 3, 2, 1
    df = a2m_barriers(CUBE, f, pairs, published=True)
    # A: min member 40 -> round(0.5 * (90 + 60) - 40, 2)
    # B: 001 -> 111 through {3, 5} (40, 75); carried 40 -> 0.5 * (70 + 57.5) - 40
    # C: d = 1, nothing new: 0.5 * (40 + 80) - 40
    assert df["barrier"].tolist() == [35.0, 23.75, 20.0]
    assert df["path_min"].tolist() == [40.0, 40.0, 40.0]
    # the order matters: C first gets the code's start, 100
    rev = a2m_barriers(CUBE, f, pairs[::-1], published=True)
    assert rev["barrier"].tolist()[0] == round(0.5 * (40 + 80) - 100, 2)
    # carry_min=False resets per pair: each equals the pair alone
    reset = a2m_barriers(CUBE, f, pairs, published=True, carry_min=False)
    alone = [a2m_barrier(CUBE, f, a, b, published=True).barrier for a, b in pairs]
    assert reset["barrier"].tolist() == alone
    assert a2m_barriers(CUBE, f, pairs, published="54ce096").equals(df)
    # 947bc3e resets per pair by default
    old = a2m_barriers(CUBE, f, pairs, published="947bc3e")
    assert old["barrier"].tolist() == [
        a2m_barrier(CUBE, f, a, b, published="947bc3e").barrier for a, b in pairs
    ]


def test_a2m_nan_policies() -> None:
    f = np.array([9.0, np.nan, 6, 7, 4, 7, 7, 8])
    assert np.isnan(a2m_barrier(CUBE, f, 0, 7).barrier)
    omit = a2m_barrier(CUBE, f, 0, 7, nan_policy="omit")
    assert omit.level_mean[1] == 5.0 and omit.barrier == 0.5 * (9 + 8) - 5
    with pytest.raises(MissingValueError):
        a2m_barrier(CUBE, f, 0, 7, nan_policy="raise")


def test_a2m_barriers_and_carry_min() -> None:
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    df = a2m_barriers(CUBE, f, [(0, 7), (3, 7)])
    assert df["barrier"].tolist() == [3.5, 0.5]
    assert df["path_min"].tolist() == [5.0, 7.0]
    carried = a2m_barriers(CUBE, f, [(0, 7), (3, 7)], carry_min=True)
    # the second pair keeps the first pair's minimum (5): 0.5 * (7 + 8) - 5
    assert carried["barrier"].tolist() == [3.5, 2.5]
    assert carried["path_min"].tolist() == [5.0, 5.0]


def test_best_shortest_path() -> None:
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    p = best_shortest_path(CUBE, f, 0, 7)
    assert p.path == (0, 2, 3, 7) or p.path == (0, 2, 6, 7)
    assert p.bottleneck == 6.0 and p.barrier == 0.5 * (9 + 8) - 6
    g = f.copy()
    g[[1, 2, 4]] = np.nan
    with pytest.raises(NoPathError):
        best_shortest_path(CUBE, g, 0, 7)


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
    with pytest.raises(MissingValueError, match="disconnected"):
        tree.path(disconnected, a)


def test_query_errors() -> None:
    f = np.arange(8.0)
    with pytest.raises(InvalidArchError):
        lowest_barrier_path(CUBE, f, 0, 99)
    with pytest.raises(LandscapeArgumentError, match="values are needed"):
        lowest_barrier_path(CUBE, None, 0, 7)
    with pytest.raises(LandscapeArgumentError, match="vector over"):
        barrier_tree(CUBE, f[:3])


# -- matrices and disconnectivity graphs ---------------------------------------------------------
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


def test_disconnectivity_graph_hand_computed() -> None:
    # peaks 000 (9) and 111 (8) and 011 (6)? no: 011 is next to 111 and lower -- not an optimum
    f = np.array([9.0, 1, 1, 6, 1, 1, 2, 8])
    dg = disconnectivity_graph(CUBE, f)
    assert dg["index"].dtype == "Int64" and dg["parent"].dtype == "Int64"
    assert dg.to_dict("list") == {
        "node": [0, 1, 2],
        "kind": ["optimum", "optimum", "merge"],
        "index": [0, 7, None],  # to_dict gives None for <NA>
        "level": [9.0, 8.0, 1.0],
        "parent": [2, 2, None],
        "n_optima": [1, 1, 2],
        "barrier": [8.0, 7.0, pytest.approx(np.nan, nan_ok=True)],
    }


@settings(max_examples=30, deadline=None)
@given(values_27)
def test_disconnectivity_merge_levels_are_bottlenecks(data: list[float]) -> None:
    f = np.array(data)
    tree = barrier_tree(TINY, f)
    dg = tree.disconnectivity(6)
    leaves = dg[dg["kind"] == "optimum"]
    assert len(leaves) <= 6
    parent = dict(zip(dg["node"], dg["parent"], strict=True))
    level = dict(zip(dg["node"], dg["level"], strict=True))

    def ancestors(n: int) -> list[int]:
        out = [n]
        while parent[out[-1]] is not pd.NA:
            out.append(parent[out[-1]])
        return out

    for (n1, i1), (n2, i2) in itertools.combinations(
        zip(leaves["node"], leaves["index"], strict=True), 2
    ):
        common = [x for x in ancestors(n1) if x in set(ancestors(n2))]
        assert level[common[0]] == tree.path(int(i1), int(i2)).bottleneck
    # leaves: the best local optima, best first
    assert leaves["level"].is_monotonic_decreasing


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
