"""The cell space: encodings, connectivity, isomorphism, neighbourhoods."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.errors import ArgumentError, InvalidArchError
from nb201_flat.graphs import cell_graph, space_graph
from nb201_flat.importers.naslib import from_naslib, to_naslib
from nb201_flat.space import NB201, NB201_OPS, Arch, Space

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
codes_nb201 = st.lists(st.integers(0, 4), min_size=6, max_size=6).map(tuple)


def test_official_index_of_known_cells() -> None:
    # anchors stated in NB201's own code and in the shared data README
    assert NB201.parse(RESNET).index == 11472
    assert (
        NB201.arch(0).to_str()
        == "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )
    assert (
        NB201.arch(9).to_str()
        == "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    )
    assert NB201.arch(1651).ops == ("none",) * 6
    assert NB201.arch(1835).ops == ("skip_connect",) * 6


def test_round_trip_all_archs() -> None:
    strings = NB201.strings()
    assert len(set(strings)) == NB201.size == 15625
    for i in range(0, NB201.size, 1):
        a = NB201.parse(strings[i])
        assert a.index == i
        assert NB201.index_of_codes(a.codes) == i
    np.testing.assert_array_equal(NB201.indices_of_codes(NB201.codes), np.arange(NB201.size))


@given(codes_nb201)
def test_codes_string_round_trip(codes: tuple[int, ...]) -> None:
    a = NB201.arch(NB201.index_of_codes(codes))
    assert a.codes == codes
    assert NB201.parse(str(a)) == a
    assert NB201.from_ops(a.ops) == a
    assert from_naslib(to_naslib(a)) == a
    assert hash(NB201.parse(str(a))) == hash(a)


def test_naslib_conversion_by_name() -> None:
    # NASLib order: 0=skip, 1=none, 2=conv3x3, 3=conv1x1, 4=pool; edges (0,1),(0,2),(0,3),(1,2),(1,3),(2,3)
    a = from_naslib((2, 1, 0, 2, 1, 0))
    assert a.to_str() == RESNET


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~0|+|none~0|none~1|", "2 node groups"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 inputs"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "should come from node 1"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "not of the form 'op~node'"),
        # the op it named was 'none~0', unknown
        ("|none~0~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not of the form 'op~node'"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '|'"),
    ],
)
def test_malformed_strings(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArchError, match=fragment):
        NB201.parse(text)


@pytest.mark.parametrize("pad", [" ", "\n", "\r\n", "\t "])
def test_white_space_around_a_string_is_no_part_of_it_and_a_control_character_inside_is(
    pad: str,
) -> None:
    # a line read from a file keeps its newline: it was refused as a control character while
    # the same line's index ('5\n') and spaces around a string were read
    assert NB201.resolve(pad + RESNET + pad).to_str() == RESNET
    with pytest.raises(InvalidArchError) as padded:  # quoted stripped: not 100,000 spaces
        NB201.resolve("x" + " " * 100_000)
    assert len(str(padded.value)) < 200
    inside = RESNET.replace("+", "\n+", 1)
    with pytest.raises(InvalidArchError, match="control character '\\\\n'"):
        NB201.resolve(inside)


@pytest.mark.parametrize(
    ("edge", "bad", "good"),
    [
        (0, "nor_conv_3x3~00", "nor_conv_3x3~0"),
        (2, "nor_conv_3x3~01", "nor_conv_3x3~1"),
        (1, "none~ 0", "none~0"),
        (1, "none~-0", "none~0"),
        (0, "nor_conv_3x3~", "nor_conv_3x3~0"),
    ],
)
def test_a_source_node_not_written_as_a_plain_integer_is_named(
    edge: int, bad: str, good: str
) -> None:
    # '~00' was refused as "should come from node 0": the node it is, written otherwise
    edges = ["nor_conv_3x3~0", "none~0", "nor_conv_3x3~1"]
    edges[edge] = bad
    text = f"|{edges[0]}|+|{edges[1]}|{edges[2]}|+|skip_connect~0|none~1|skip_connect~2|"
    src = bad.partition("~")[2]
    with pytest.raises(InvalidArchError) as err:
        NB201.parse(text)
    assert str(err.value) == (
        f"malformed architecture {text!r}: edge {bad!r} writes its source node as {src!r}; "
        f"write it as a single integer, as in {good!r} (no leading zeros, signs or spaces)"
    )


def test_resolve_and_bad_indices() -> None:
    assert NB201.resolve("11472").to_str() == RESNET
    assert NB201.resolve(np.int64(11472)).to_str() == RESNET
    for bad in (-1, 15625):
        with pytest.raises(InvalidArchError, match="out of range"):
            NB201.resolve(bad)
    # resolve reads an index as arch() does: a whole float is one (it used to be parsed as a
    # string: "expected an architecture string"); a bool or 2.5 is refused naming the range
    assert NB201.resolve(11472.0).to_str() == NB201.resolve(np.float64(11472)).to_str() == RESNET  # type: ignore[arg-type]
    for bad_index in (True, np.bool_(True), 2.5, float("nan")):
        with pytest.raises(InvalidArchError, match=r"must be a whole number in 0\.\.15624"):
            NB201.resolve(bad_index)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="expected an architecture string"):
        NB201.resolve(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="codes"):
        NB201.index_of_codes((0, 0, 0))


def test_connectivity_counts_341_disconnected() -> None:
    assert int((~NB201.connected).sum()) == 341
    # brute force against a graph search on a sample
    import networkx as nx

    for i in range(0, NB201.size, 97):
        g = cell_graph(NB201.arch(i), drop_none=True)
        assert NB201.connected[i] == nx.has_path(g, 0, 3)


def test_isomorphism_classes() -> None:
    assert len(np.unique(NB201.isomorphism_classes(merge_disconnected=False))) == 6466
    merged = NB201.isomorphism_classes()
    assert len(np.unique(merged)) == 6462
    assert len(np.unique(merged[NB201.connected])) == 6461


@pytest.mark.parametrize(
    ("radius", "size"), [(1, 24), (2, 240), (3, 1280), (4, 3840), (5, 6144), (6, 4096)]
)
def test_neighbourhood_sizes_and_distances(radius: int, size: int) -> None:
    nb = NB201.neighbours(radius)
    assert nb.width == size == NB201.neighbourhood_size(radius)
    assert (nb.counts == size).all()
    rows = np.random.default_rng(radius).choice(NB201.size, 50, replace=False)
    for i in rows:
        nbrs = nb.of(i)
        assert len(np.unique(nbrs)) == size
        np.testing.assert_array_equal(NB201.distances_from(int(i))[nbrs], radius)
    if radius >= 4:
        NB201.clear_cache()  # large arrays


@pytest.mark.parametrize("table_entries", [0, 2**62], ids=["outer-sums", "tables"])
@pytest.mark.parametrize("space", [Space(("none", "a", "b"), 4), Space(("a", "none"), 5)])
def test_far_neighbours_are_listed_in_their_documented_order(
    space: Space, table_entries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each row: the edge sets in combinations order, then each edge's op shifted by 1..k-1 (the
    # first edge's shift varying slowest), whether the rows come from tables of deltas or from
    # outer sums (forced here for every radius); and which neighbours a change to none reached
    # (no_none drops them)
    import itertools

    from nb201_flat import neighbours

    monkeypatch.setattr(neighbours, "_TABLE_ENTRIES", table_entries)
    k, codes, none = space.n_ops, space.codes.astype(int), space.ops.index("none")
    for r in range(1, space.n_edges + 1):
        want, to_none = [], []
        for edges in itertools.combinations(range(space.n_edges), r):
            for shifts in itertools.product(range(1, k), repeat=r):
                changed = codes.copy()
                changed[:, edges] = (codes[:, edges] + shifts) % k
                want.append(space.indices_of_codes(changed))
                to_none.append((changed[:, edges] == none).any(axis=1))
        got, got_none = neighbours._exact_neighbours(space, r, neighbours.none_code(space, True))
        np.testing.assert_array_equal(got, np.stack(want, axis=1), err_msg=f"radius {r}")
        np.testing.assert_array_equal(got_none, np.stack(to_none, axis=1))


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_neighbourhoods_symmetric(radius: int) -> None:
    nb = NB201.neighbours(radius)
    rows = np.repeat(np.arange(NB201.size, dtype=np.int64), nb.width)
    fwd = rows * NB201.size + nb.indices.ravel()
    back = nb.indices.ravel().astype(np.int64) * NB201.size + rows
    np.testing.assert_array_equal(np.sort(fwd), np.sort(back))


def test_radius_at_most_is_union() -> None:
    nb = NB201.neighbours(2, exact=False)
    assert nb.width == 24 + 240
    d = NB201.distances_from(5)
    assert set(nb.of(5).tolist()) == set(np.flatnonzero((d >= 1) & (d <= 2)).tolist())


def test_neighbour_filters() -> None:
    none = NB201.op_code("none")
    nb = NB201.neighbours(1, no_none=True)
    for i in (0, 11472, 1651):
        a = NB201.arch(i)
        expected = [
            NB201.index_of_codes((*a.codes[:e], c, *a.codes[e + 1 :]))
            for e in range(6)
            for c in range(5)
            if c not in (a.codes[e], none)
        ]
        assert sorted(nb.of(i).tolist()) == sorted(expected)
    nbc = NB201.neighbours(2, connected_only=True)
    assert NB201.connected[nbc.of(11472)].all()
    full = NB201.neighbours(2).of(11472)
    assert nbc.counts[11472] == NB201.connected[full].sum()
    assert (nbc.indices[11472, nbc.counts[11472] :] == -1).all()
    vals = nbc.gather(np.arange(NB201.size, dtype=float))
    assert np.isnan(vals[~nbc.mask]).all()


def test_generic_space_neighbours_brute_force() -> None:
    space = Space(("none", "skip_connect", "conv"), 4)
    assert space.size == 3**6 and space.index_order == "lexicographic"
    for r in (1, 2):
        nb = space.neighbours(r, connected_only=True)
        for i in range(space.size):
            a = np.array(space.arch(i).codes)  # per-arch path, independent of space.codes
            dist = (
                np.array(
                    [
                        sum(x != y for x, y in zip(a, space.arch(j).codes, strict=True))
                        for j in range(space.size)
                    ]
                )
                if i < 5
                else (space.codes != a).sum(axis=1)
            )
            expected = np.flatnonzero((dist == r) & space.connected).tolist()
            assert sorted(nb.of(i).tolist()) == expected


def test_generic_space_strings_and_errors() -> None:
    space = Space((*NB201_OPS, "sep_conv_3x3"), 5)
    assert space.n_edges == 10 and space.size == 6**10
    a = space.arch(12345)
    assert space.parse(a.to_str()) == a
    with pytest.raises(InvalidArchError, match="official"):
        Space(("a", "b"), 3, index_order="official")
    with pytest.raises(InvalidArchError, match="distinct"):
        Space(("a", "a"), 3)


@settings(max_examples=50)
@given(codes_nb201, codes_nb201)
def test_hamming_properties(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    x, y = NB201.arch(NB201.index_of_codes(a)), NB201.arch(NB201.index_of_codes(b))
    d = x.hamming(y)
    assert d == y.hamming(x) == sum(p != q for p, q in zip(a, b, strict=True))
    assert NB201.distances_from(x)[y.index] == d
    assert (d == 0) == (x == y)


def test_with_op_and_edges() -> None:
    a = NB201.parse(RESNET).with_op((1, 3), "nor_conv_1x1")
    assert a.ops[4] == "nor_conv_1x1"
    with pytest.raises(InvalidArchError, match="no edge"):
        NB201.arch(0).with_op((2, 1), "none")


def test_space_graph_matches_arrays() -> None:
    g = space_graph(NB201)
    assert g.number_of_edges() == NB201.size * 24 // 2
    assert sorted(g.neighbors(11472)) == sorted(NB201.neighbours(1).of(11472).tolist())
    small = space_graph(Space(("none", "conv"), 3), labels=True, values=np.arange(8.0))
    assert small.nodes[3]["value"] == 3.0
    assert all(small.degree(n) == 3 for n in small.nodes)
    assert next(iter(small.nodes(data="arch")))[1] == "|none~0|+|none~0|none~1|"


@pytest.mark.parametrize("bad", [1.5, np.float64(0.5), True, None, "3"])
def test_index_and_edge_arguments_are_integers_never_truncated(bad: object) -> None:
    # 1.5 used to give cell 1 and True cell 1 (int() truncates); an index is an integer
    with pytest.raises(InvalidArchError, match="must be an integer|must be a whole number"):
        NB201.arch(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="must be an integer|must be a whole number"):
        NB201.edge_position(bad)  # type: ignore[arg-type]
    # a radius is an argument, not an architecture; the reason is its type, not its range
    with pytest.raises(ArgumentError, match=r"^radius must lie in 1\.\.6 \(an int, not a "):
        NB201.neighbours(bad)  # type: ignore[arg-type]
    assert NB201.arch(np.int64(11472)).to_str() == RESNET
    assert NB201.neighbours(np.int64(1)).width == 24


def test_whole_numbers_are_read_exactly() -> None:
    # float() rounds a long double past 2**53: 2**60 + 1 would have been read as 2**60
    from nb201_flat.space import _as_int

    assert _as_int(np.longdouble(2**60), "n") == 2**60
    if np.finfo(np.longdouble).nmant >= 60:  # x86's 80-bit long double holds it exactly
        assert _as_int(np.longdouble(2**60) + 1, "n") == 2**60 + 1
    for bad in (float("inf"), float("nan"), 2.5, np.float32(0.5)):
        with pytest.raises(InvalidArchError, match="whole number"):
            _as_int(bad, "n")


def test_whole_floats_are_integers() -> None:
    # as check_int_range reads them elsewhere: 5.0 is 5 (it worked before the int checks)
    assert NB201.arch(11472.0).to_str() == NB201.arch(np.float64(11472)).to_str() == RESNET
    assert NB201.neighbours(2.0).width == NB201.neighbours(2).width
    assert NB201.edge_position(1.0) == NB201.edge_position(1)
    assert Space(("a", "b"), 4.0).n_nodes == 4  # type: ignore[arg-type]


def test_neighbour_arrays_read_indices_by_the_one_index_rule() -> None:
    # NeighbourArrays.of had its own check ("index must be a whole number, got 2.5"); it now
    # says what check_arch_index says, so a cached and an uncached neighbourhood word a bad
    # index the same way, and a whole float still reads its row
    from nb201_flat.landscape.aggregates import NeighbourRows
    from nb201_flat.space import check_arch_index

    cached, uncached = NeighbourRows(NB201, 1), NeighbourRows(NB201, 4, exact=False)
    assert cached.cached and not uncached.cached
    for bad in (2.5, float("nan"), True, "7", -1, NB201.size):
        with pytest.raises(InvalidArchError) as want:
            check_arch_index(bad, NB201.size)
        for rows in (NB201.neighbours(1), cached, uncached):
            with pytest.raises(InvalidArchError) as got:
                rows.of(bad)  # type: ignore[arg-type]
            assert str(got.value) == str(want.value), (rows, bad)
    assert NB201.neighbours(1).of(11472.0).tolist() == NB201.neighbours(1).of(11472).tolist()


def test_neighbour_rows_refuse_minus_one_and_foreign_vectors() -> None:
    nb = NB201.neighbours(1)
    for bad in (-1, NB201.size):  # -1 used to be the last architecture's row
        with pytest.raises(InvalidArchError, match="out of range"):
            nb.of(bad)
    assert nb.of(np.int64(11472)).size == 24
    # the rows of a neighbourhood not cached whole are computed one at a time: checked too
    from nb201_flat.landscape.aggregates import NeighbourRows

    rows = NeighbourRows(NB201, 4, exact=False)
    assert not rows.cached
    for bad in (-1, NB201.size, 2.5):
        with pytest.raises(InvalidArchError, match="out of range|whole number"):
            rows.of(bad)  # type: ignore[arg-type]
    assert rows.of(np.int64(11472)).size == sum(NB201.neighbourhood_size(r) for r in (1, 2, 3, 4))
    for n in (10, NB201.size + 1):  # a longer vector used to be read without a word
        with pytest.raises(ArgumentError, match="vector over the 15625"):
            nb.gather(np.zeros(n))
    with pytest.raises(ArgumentError, match="vector over the 8"):
        space_graph(Space(("a", "b"), 3), values=np.arange(9.0))


@pytest.mark.parametrize("radius", [0, 7, -1, 2.5])
def test_neighbourhood_size_checks_the_radius(radius: object) -> None:
    # radius 0 used to answer 1 and radius 7 answer 0, sizes neighbours() refuses
    with pytest.raises(ArgumentError, match=r"^radius must lie in 1\.\.6"):
        NB201.neighbourhood_size(radius)  # type: ignore[arg-type]
    assert [NB201.neighbourhood_size(r) for r in range(1, 7)] == [24, 240, 1280, 3840, 6144, 4096]


@pytest.mark.parametrize("codes", [[-1] * 6, [5] * 6, [0] * 3, [0] * 8, [1.5] * 6, [True] * 6])
def test_op_codes_out_of_the_space_are_refused(codes: list[object]) -> None:
    # to_str([-1] * 6) used to name avg_pool_3x3 everywhere, connected_codes([[9] * 6]) True
    with pytest.raises(InvalidArchError, match="op codes"):
        NB201.to_str(codes)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="op codes"):
        NB201.isomorphism_key(codes)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="op codes"):
        NB201.connected_codes([codes])
    if len(codes) == 6:
        with pytest.raises(InvalidArchError, match="op codes"):
            NB201.indices_of_codes([codes])
    assert NB201.to_str(NB201.codes[11472]) == RESNET


def test_rows_of_codes_given_for_one_cell_are_named_by_their_shape() -> None:
    # "op codes must be integers, got array(...)": the rows were fine, their number not
    with pytest.raises(InvalidArchError, match=r"got an array of shape \(2, 6\); pass one row"):
        NB201.index_of_codes(np.zeros((2, 6), dtype=int))
    assert NB201.index_of_codes(NB201.codes[11472]) == 11472


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ((("a", "b"), 4.5), {}, "n_nodes must be a whole number"),
        (("abc", 3), {}, "not one string"),
        (([1, 2], 3), {}, "must be strings"),
        ((("a", "b"), 3), {"index_order": "lex"}, "index_order must be"),
        ((("a", "b"), 20), {}, "too large"),
    ],
)
def test_space_arguments(
    args: tuple[object, ...], kwargs: dict[str, object], fragment: str
) -> None:
    # 4.5 nodes used to be 4, "abc" three ops, index_order "lex" stored as given
    with pytest.raises(InvalidArchError, match=fragment):
        Space(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="space spec"):
        Space.from_spec({})
    assert Space(("a", "b"), np.int64(3)).n_nodes == 3


def test_hamming_takes_strings_and_indices() -> None:
    a = NB201.arch(0)
    assert a.hamming(RESNET) == a.hamming(11472) == a.hamming(NB201.parse(RESNET))


@pytest.mark.parametrize("flag", ["exact", "no_none", "connected_only"])
def test_neighbour_filters_are_bools(flag: str) -> None:
    # no_none="no" is truthy: it used to filter (and cache the result under "no")
    with pytest.raises(ArgumentError, match=f"{flag} must be True or False"):
        NB201.neighbours(1, **{flag: "no"})  # type: ignore[arg-type]
    assert NB201.neighbours(2, **{flag: np.bool_(False)}) is NB201.neighbours(2, **{flag: False})


def test_cell_graph_needs_an_arch() -> None:
    # a string used to fail inside with a raw AttributeError ('str' has no 'to_str')
    with pytest.raises(InvalidArchError, match="needs an Arch"):
        cell_graph(RESNET)  # type: ignore[arg-type]
    assert cell_graph(NB201.parse(RESNET)).number_of_edges() == 6


def test_float16_indices_are_compared_in_float64() -> None:
    from nb201_flat.space import check_arch_indices

    # float16 rounded the bound 15625 down to 15624, refusing the valid last index
    assert check_arch_indices(np.array([15624], np.float16), 15625).tolist() == [15624]


SMALL = Space(("a", "b", "c"), 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # each raised a bare TypeError (not iterable, unhashable)
        (lambda: Space(3), "^ops must be a sequence of op names, got 3$"),
        (lambda: SMALL.op_code(["a"]), r"^unknown op \['a'\]; this space's ops are a, b, c$"),
        (lambda: SMALL.index_of_codes(5), "^op codes must be a sequence of 3 integers, got 5$"),
        (lambda: SMALL.isomorphism_key(None), "^op codes must be a sequence of 3 integers"),
        (lambda: SMALL.from_ops(7), "^ops must be a sequence of 3 op names, got 7$"),
        # one string is no list of op names (list("abc") read it as three)
        (lambda: SMALL.from_ops("abc"), "^ops must be a sequence of 3 op names, got 'abc'$"),
        (lambda: Space.from_spec(np.int64(3)), "^a space spec is a dict with ops, n_nodes"),
        # an array's `in` raised numpy's ambiguous-truth ValueError
        (lambda: Space(("a", "b"), 3, index_order=np.zeros(2)), "^index_order must be"),  # type: ignore[arg-type]
    ],
)
def test_a_wrong_kind_of_argument_is_an_invalid_arch_error(call: object, match: str) -> None:
    with pytest.raises(InvalidArchError, match=match):
        call()  # type: ignore[operator]


def test_a_refused_array_is_quoted_on_one_line() -> None:
    # the messages quoted repr(array), which spans lines
    for call in (
        lambda: SMALL.index_of_codes(np.zeros((2, 2))),
        lambda: SMALL.edge_position(np.zeros((2, 2))),  # type: ignore[arg-type]
        lambda: Space(("a", "b"), np.zeros((2, 2))),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidArchError, match="got array|got an array of shape") as err:
            call()
        assert "\n" not in str(err.value)


# 10**3000: its edge count, which the message named, has more digits than Python prints
@pytest.mark.parametrize(
    "n_nodes", [2**63, 1e300, 12, 10**3000], ids=["2**63", "1e300", "12", "10**3000"]
)
# n_nodes=2**63 listed 2**125 edges, without end: the hang guard (pytest-timeout) fails it, at
# a bound far above the refusal's milliseconds, which no loaded machine comes near
@pytest.mark.timeout(120)
def test_a_space_too_large_to_index_is_refused_before_listing_its_edges(n_nodes: float) -> None:
    with pytest.raises(InvalidArchError, match="too large to index") as err:
        Space(("a", "b"), n_nodes)  # type: ignore[arg-type]
    assert len(str(err.value)) < 200


def test_neighbourhood_size_takes_exact_as_a_flag() -> None:
    # exact="no" was truthy: the exact count, silently
    with pytest.raises(ArgumentError, match="^exact must be True or False, got 'no'$"):
        SMALL.neighbourhood_size(2, exact="no")  # type: ignore[arg-type]
    assert SMALL.neighbourhood_size(2, exact=np.bool_(False)) == 6 + 12


def test_check_space_names_the_parameter() -> None:
    from nb201_flat.neighbourhood import Neighbourhood
    from nb201_flat.space import check_space

    assert check_space(SMALL) is SMALL
    # a table or a list passed as the space raised AttributeError ('...' has no 'neighbours')
    with pytest.raises(ArgumentError, match="^space must be a Space, got list"):
        Neighbourhood(1).arrays([1, 2])  # type: ignore[arg-type]


def test_a_cell_of_another_space_is_refused_naming_both_spaces_and_the_fix() -> None:
    # "the architecture belongs to another space" said neither which nor what to do
    wide = Space((*NB201_OPS, "sep_conv_3x3"), 4)
    cell = wide.arch(5)
    with pytest.raises(InvalidArchError) as info:
        NB201.resolve(cell)
    text = str(info.value)
    assert text.startswith(f"{cell!r} belongs to {wide!r}, not to this {NB201!r}; ")
    assert "parse arch.to_str()" in text and "\n" not in text


@pytest.mark.parametrize(("ops", "n_nodes"), [(("none", "skip", "conv"), 4), (("a", "b"), 5)])
def test_strings_of_every_index_are_to_str(ops: tuple[str, ...], n_nodes: int) -> None:
    # strings() builds the whole column at once; each must be what to_str writes for its cell
    space = Space(ops, n_nodes)
    assert space.strings() == [space.arch(i).to_str() for i in range(space.size)]


@pytest.mark.parametrize(
    ("space", "codes", "problem"),
    [
        # ops[-1] is the last op: .ops named it, and .index refused the cell
        (NB201, (-1, 0, 0, 0, 0, 0), "codes must be a tuple of 6 ints in 0..4"),
        (NB201, (5, 0, 0, 0, 0, 0), "codes must be a tuple of 6 ints in 0..4"),
        # five codes: .ops listed five edges of a six-edge cell
        (NB201, (0, 0, 0, 0, 0), "codes must be a tuple of 6 ints in 0..4"),
        (NB201, [0, 0, 0, 0, 0, 0], "codes must be a tuple of 6 ints in 0..4"),
        # 1.0 and True are in the code set (equal to 1), and no code
        (NB201, (1.0, 0, 0, 0, 0, 0), "codes must be a tuple of 6 ints in 0..4"),
        (NB201, (True, 0, 0, 0, 0, 0), "codes must be a tuple of 6 ints in 0..4"),
        (Space(("none", "a", "b"), 3), (0, 0, 3), "codes must be a tuple of 3 ints in 0..2"),
        ("nb201", (0, 0, 0, 0, 0, 0), "space must be a Space, got 'nb201'"),
    ],
)
def test_an_arch_built_directly_is_checked(space: Any, codes: Any, problem: str) -> None:
    """``Arch(...)`` built by hand: one line naming the problem and the Space methods."""
    with pytest.raises(InvalidArchError, match=f"^Arch's {re.escape(problem)}") as info:
        Arch(space, codes)
    assert str(info.value).endswith(
        "; build it with Space.arch(index), Space.parse(text) or Space.from_ops(ops)"
    )


def test_an_arch_built_directly_from_valid_codes_is_the_spaces() -> None:
    a = Arch(NB201, (1, 2, 3, 4, 0, 1))
    assert a == NB201.from_ops(a.ops) and NB201.arch(a.index) == a
    assert a.with_op(0, "none").codes == (0, 2, 3, 4, 0, 1)


@pytest.mark.parametrize("text", ["+5", "1e3", "9930.0", " 5. ", ".5", "1_000"])
def test_a_number_that_is_no_index_is_said_to_be_one(text: str) -> None:
    # it was parsed as a cell string: "malformed architecture '+5': 2 node groups"
    with pytest.raises(InvalidArchError) as info:
        NB201.resolve(text)
    assert str(info.value) == (
        f"{text.strip()!r} is no architecture index (an index is written in digits, 0..15624) "
        "and no cell string either; give one of them"
    )


def test_one_cell_of_a_huge_lexicographic_space_needs_no_whole_space_array() -> None:
    # Space(NB201 ops, 6 nodes) has 5**15 cells: is_connected built the whole connectivity
    # array (881 GB, refused) and indices_of_codes its index map (numpy's MemoryError)
    from nb201_flat.space import NB201_OPS

    big = Space(NB201_OPS, 6)
    a = big.arch(12345)
    assert big.index_order == "lexicographic" and a.index == 12345
    assert a.is_connected == bool(big.connected_codes([a.codes])[0])
    assert big.indices_of_codes([a.codes, big.arch(7).codes]).tolist() == [12345, 7]
    assert (
        NB201.arch(11472).is_connected
        and not NB201.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|").is_connected
    )


def test_rows_of_unequal_length_are_an_invalid_arch() -> None:
    # numpy's ValueError ("inhomogeneous shape") came through
    for call in (NB201.indices_of_codes, NB201.connected_codes):
        with pytest.raises(InvalidArchError, match=r"\(n, 6\) array of op codes, got rows of une"):
            call([[0] * 6, [0] * 5])


def test_graph_flags_are_bools_and_the_space_is_a_space() -> None:
    from nb201_flat.neighbours import neighbour_arrays

    with pytest.raises(ArgumentError, match="drop_none must be True or False"):
        cell_graph(NB201.arch(11472), drop_none="no")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="labels must be True or False"):
        space_graph(Space(("none", "c"), 3), labels="no")  # type: ignore[arg-type]
    for call in (lambda: space_graph("nb201"), lambda: neighbour_arrays("nb201", 1)):  # type: ignore[arg-type]
        with pytest.raises(ArgumentError, match="space must be a Space"):
            call()
