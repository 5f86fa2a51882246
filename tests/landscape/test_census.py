"""Every barrier by its name (pair_barriers) and the barrier census, on spaces small enough to
check by hand and by brute force."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import Param, spelled
from nb201_flat.landscape import (
    LandscapeArgumentError,
    MissingValueError,
    NoPathError,
    barrier_tree,
    lowest_barrier_path,
)
from nb201_flat.landscape.census import (
    BARRIER_NAMES,
    CENSUS_COLUMNS,
    OMIT_CAUSES,
    PATH_BARRIERS,
    band_pairs,
    barrier_census,
    census_cost,
    census_summary,
    describe_left_out,
    pair_barriers,
    top_pairs,
)
from nb201_flat.landscape.paths import DETOUR_PARTS, LOWEST_BARRIER, MAX_SHORTEST_D
from nb201_flat.space import NB201, Space
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table

CUBE = Space(("a", "b"), 3)  # 8 cells; index = binary number of the codes
TINY = Space(("none", "skip", "conv"), 3)  # 27 cells
F = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])


def test_pair_barriers_hand_computed() -> None:
    # 000 -> 111: level 1 = {1, 2, 4} = (5, 6, 4), level 2 = {3, 5, 6} = (7, 7, 7)
    r = pair_barriers(CUBE, F, 0, 7)
    assert (r.a, r.b, r.distance, r.n_shortest) == (0, 7, 3, 6)
    assert r.best_shortest == 8.5 - 6  # through 2 (6)
    assert r.worst_shortest == 8.5 - 4  # through 4 (4)
    assert r.mean_path == 8.5 - 5  # level-1 mean
    assert r.a2m_code_947bc3e == round(0.5 * (9 + 5) - 5, 2)
    assert r.a2m_code_54ce096 == round(0.5 * (9 + 5) - 4, 2)
    # every path leaves 0 through a level-1 cell: the best of them (6) is the bottleneck
    assert r.lowest == 8.5 - 6 and r.lowest_length == 3
    assert r.half_gap == 0.5
    assert r.above_worse("lowest") == 2.0
    assert r.above_worse("worst_shortest") == 4.0  # worse endpoint 8, path minimum 4
    with pytest.raises(LandscapeArgumentError, match="worse endpoint"):
        r.above_worse("a2m_code_54ce096")
    with pytest.raises(LandscapeArgumentError, match="unknown barrier"):
        r.barrier("maximin")
    d = r.to_dict()
    assert set(BARRIER_NAMES) <= set(d)
    assert all(f"{n}_above_worse" in d for n in PATH_BARRIERS)
    # 001 -> 110: every path passes the worse endpoint (5); one level-2 cell (100) holds 4
    s = pair_barriers(CUBE, F, 1, 6)
    assert s.lowest == 1.0 and s.above_worse("lowest") == 0.0
    assert s.best_shortest == 1.0 and s.worst_shortest == 2.0
    assert s.mean_path == pytest.approx(1.0)  # level means 5, 7.67, 6, 7


def test_pair_barriers_repr_is_rounded_and_names_every_barrier() -> None:
    # float noise (0.1 + 0.2) is shown as the number it is; the attributes keep it exactly
    f = F + np.array([0.1, 0, 0.2, 0, 0, 0, 0, 0.2])
    r = pair_barriers(CUBE, f, 0, 7)
    text = repr(r)
    assert text.startswith("PairBarriers(0 -> 7, distance=3, values=(9.1, 8.2), ")
    assert all(f"{name}=" in text for name in BARRIER_NAMES)
    assert "best_shortest=2.45," in text and r.best_shortest != 2.45  # 8.65 - 6.2 in floats
    assert "0000000" not in text and "9999999" not in text


# two endpoints whose barrier minus half their gap is -7.1e-15, not 0, in floats
WORSE_IS_BOTTLENECK = (90.9424, 89.0995)


@pytest.mark.parametrize("hib", [True, False])
def test_above_worse_is_exactly_zero_where_the_worse_endpoint_is_the_bottleneck(
    hib: bool,
) -> None:
    # every cell between 000 and 111 is better than both ends: each path's minimum is the
    # worse endpoint, so nothing lies beyond it -- it printed -0.0000 (barrier - half gap)
    a, b = WORSE_IS_BOTTLENECK
    f = np.array([a, 95, 95, 95, 95, 95, 95, b])
    f = f if hib else -f
    r = pair_barriers(CUBE, f, 0, 7, higher_is_better=hib)
    assert r.lowest - r.half_gap < 0  # the case bites
    for name in PATH_BARRIERS:
        assert r.above_worse(name) == 0.0, name
        assert r.to_dict()[f"{name}_above_worse"] == 0.0, name
    assert lowest_barrier_path(CUBE, f, 0, 7, higher_is_better=hib).above_worse == 0.0
    # the census's columns, computed for many pairs at once
    census = barrier_census(
        CUBE, f, {"every": (-100, 100)}, n_pairs=4, top_k=0, seed=0, higher_is_better=hib
    )
    row = census.set_index(["a", "b"]).loc[(0, 7)]
    for name in PATH_BARRIERS:
        assert row[f"{name}_above_worse"] == 0.0, name
    assert row["no_barrier"]
    assert (census[[f"{n}_above_worse" for n in PATH_BARRIERS]] >= 0).all().all()


def test_pair_barriers_loss_and_tree_and_missing() -> None:
    r = pair_barriers(CUBE, F, 0, 7)
    loss = pair_barriers(CUBE, -F, 0, 7, higher_is_better=False)
    for name in ("best_shortest", "worst_shortest", "mean_path", "lowest"):
        assert loss.barrier(name) == r.barrier(name)
    tree = barrier_tree(CUBE, F)
    assert tree.pair_barriers(0, 7) == r
    with pytest.raises(LandscapeArgumentError, match="values are needed"):
        pair_barriers(CUBE, None, 0, 7)
    g = F.copy()
    g[4] = np.nan
    with pytest.raises(MissingValueError, match="shortest paths"):
        pair_barriers(CUBE, g, 0, 7)
    # every neighbour of 0 unmeasured: no path at all, so no detour hint (lowest_barrier_path
    # raises NoPathError too); the components are checked before the shortest paths
    g[[1, 2, 4]] = np.nan
    with pytest.raises(NoPathError, match="no path joins 0 and 7"):
        barrier_tree(CUBE, g).pair_barriers(0, 7)


def _brute_lowest(space: Space, f: np.ndarray, a: int, b: int) -> float:
    """The best bottleneck by definition: the highest level t at which a and b connect."""
    best = -np.inf
    for t in sorted(set(f.tolist())):
        g = nx.Graph()
        keep = [i for i in range(space.size) if f[i] >= t]
        g.add_nodes_from(keep)
        g.add_edges_from(
            (i, j) for i, j in itertools.combinations(keep, 2) if space.hamming(i, j) == 1
        )
        if a in g and b in g and nx.has_path(g, a, b):
            best = t
    return float(0.5 * (f[a] + f[b]) - best)


def test_pair_barriers_match_brute_force_on_tiny() -> None:
    rng = np.random.default_rng(7)
    f = rng.integers(0, 20, size=TINY.size).astype(float)
    for a, b in [(0, 26), (5, 21), (13, 1), (8, 18)]:
        r = pair_barriers(TINY, f, a, b)
        assert r.lowest == pytest.approx(_brute_lowest(TINY, f, a, b))
        assert r.lowest <= r.best_shortest <= r.worst_shortest
        assert r.best_shortest <= r.mean_path <= r.worst_shortest
        assert r.above_worse("lowest") >= 0


def test_band_and_top_pairs() -> None:
    v = np.arange(8.0)
    all_d3 = band_pairs(CUBE, v, (0, 7), 10, distance=3, seed=0)
    assert sorted(all_d3) == [(0, 7), (1, 6), (2, 5), (3, 4)]  # all four, no more
    assert band_pairs(CUBE, v, (0, 7), 10, distance=3, seed=0) == all_d3  # seeded
    assert sorted(band_pairs(CUBE, v, (4, 7), 10, distance=None, seed=1)) == [
        (4, 5),
        (4, 6),
        (4, 7),
        (5, 6),
        (5, 7),
        (6, 7),
    ]
    assert sorted(band_pairs(CUBE, v, (4, 7), 10, distance=1, seed=0)) == [
        (4, 5),
        (4, 6),
        (5, 7),
        (6, 7),
    ]
    two = band_pairs(CUBE, v, (0, 7), 2, distance=3, seed=3)
    assert len(two) == 2 and set(two) <= set(all_d3)
    with pytest.raises(LandscapeArgumentError, match="distance"):
        band_pairs(CUBE, v, (0, 7), 2, distance=4, seed=0)
    assert top_pairs(CUBE, v, 3) == [(7, 6), (7, 5), (6, 5)]
    assert top_pairs(CUBE, v, 2, higher_is_better=False) == [(0, 1)]


def test_census_known_answer() -> None:
    # the cube, one band holding everything: the four pairs at distance 3 and their barriers
    census = barrier_census(CUBE, F, {"band": (0, 10)}, n_pairs=10, top_k=3, seed=0)
    assert list(census.columns) == list(CENSUS_COLUMNS)
    band = census[census["group"] == "band"].set_index(["a", "b"]).sort_index()
    assert band.index.tolist() == [(0, 7), (1, 6), (2, 5), (3, 4)]
    # lowest barrier per pair, by hand: 0-7 through 6 (2.5); 1-6 bottleneck 5 = f(1) (1.0);
    # 2-5: 6 and 7, a path 2-3-7-5 stays >= 6 (0.5); 3-4: 7 and 4, bottleneck 4 = f(4) (1.5)
    assert band["lowest"].tolist() == [2.5, 1.0, 0.5, 1.5]
    assert band["no_barrier"].tolist() == [False, True, True, True]
    assert np.allclose(band["lowest_above_worse"], band["lowest"] - band["half_gap"])
    # top 3: 0 (9), 7 (8), then 3, 5, 6 tie at 7 -> 3
    top = census[census["group"] == "top-k"]
    assert list(zip(top["a"], top["b"], strict=True)) == [(0, 7), (0, 3), (7, 3)]
    s = census_summary(census)
    assert s["group"].tolist() == ["band", "top-k", "all"]
    assert s.iloc[0]["pairs"] == 4 and s.iloc[0]["no_barrier"] == 0.75
    assert s.iloc[-1]["pairs"] == 7
    # what is no census met pandas' bare KeyError or an AttributeError
    for bad, said in (
        (None, "census must be the frame barrier_census returns, got None"),
        (census.drop(columns="no_barrier"), "census lacks column(s) no_barrier; pass the frame"),
        (census.iloc[:0], "census has no pairs"),
    ):
        with pytest.raises(LandscapeArgumentError, match=re.escape(said)):
            census_summary(bad)
    # deterministic under its seed; another seed draws the same four (all there are)
    again = barrier_census(CUBE, F, {"band": (0, 10)}, n_pairs=10, top_k=3, seed=0)
    assert again.equals(census)


def test_census_draw_depends_on_the_seed_only() -> None:
    rng = np.random.default_rng(3)
    f = rng.normal(50, 10, TINY.size)
    one = barrier_census(TINY, f, {"X": (0, 100)}, n_pairs=5, top_k=0, distance=2, seed=11)
    two = barrier_census(TINY, f, {"X": (0, 100)}, n_pairs=5, top_k=0, distance=2, seed=11)
    other = barrier_census(TINY, f, {"X": (0, 100)}, n_pairs=5, top_k=0, distance=2, seed=12)
    assert one.equals(two) and len(one) == 5
    assert (one["distance"] == 2).all()
    assert not one[["a", "b"]].equals(other[["a", "b"]])
    with pytest.raises(LandscapeArgumentError, match=">= 0"):
        barrier_census(TINY, f, {"X": (0, 100)}, n_pairs=-1, seed=0)
    with pytest.raises(LandscapeArgumentError, match="seed"):
        barrier_census(TINY, f, {"X": (0, 100)}, seed=None)  # type: ignore[arg-type]


# -- the `census` command ------------------------------------------------------------------------
@pytest.fixture
def census_table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    v = rng.uniform(70.0, 95.0, NB201.size)  # every A²M CIFAR-10 band holds ~800 cells
    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): v}, source="census-test")
    return save_table(t, tmp_path / "c.nb201")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_census_command(
    capsys: pytest.CaptureFixture[str], census_table: Path, tmp_path: Path
) -> None:
    args = (
        "census",
        "--table",
        str(census_table),
        "--pairs",
        "6",
        "--top-k",
        "3",
        "--pair-seed",
        "2",
    )
    csv = tmp_path / "pairs.csv"
    code, out, _ = _run(capsys, *args, "--json", "--pairs-out", str(csv))
    assert code == 0
    p = json.loads(out)
    assert [d["dataset"] for d in p["datasets"]] == ["cifar10"]  # the A²M key the table has
    groups = {g["group"]: g for g in p["datasets"][0]["groups"]}
    assert [groups[g]["pairs"] for g in ("A", "B", "C", "top-k", "all")] == [6, 6, 6, 3, 21]
    pairs = pd.read_csv(csv)
    assert len(pairs) == 21 and (pairs[pairs["group"] != "top-k"]["distance"] == 3).all()
    assert groups["all"]["no_barrier_fraction"] == pytest.approx(pairs["no_barrier"].mean())
    # the same as the library on the same seed
    v = load_saved_table(census_table).vector("cifar10", "ori-test", 200)
    lib = barrier_census(NB201, v, "cifar10", n_pairs=6, top_k=3, seed=2)
    assert lib[["a", "b"]].to_numpy().tolist() == pairs[["a", "b"]].to_numpy().tolist()
    code, text, _ = _run(capsys, *args)
    assert code == 0 and "no barrier" in text and "worst sp" in text
    code, again, _ = _run(capsys, *args)
    assert again == text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--dataset", "cifar10"), "together"),
        (("--pairs", "-1"), "--pairs"),
        (("--dataset", "cifar100", "--split", "x-test", "--epochs", "200"), "unknown dataset"),
    ],
)
def test_census_command_errors(
    capsys: pytest.CaptureFixture[str], census_table: Path, extra: tuple[str, ...], message: str
) -> None:
    code, _, err = _run(capsys, "census", "--table", str(census_table), *extra)
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1


def test_census_command_connected_only(
    capsys: pytest.CaptureFixture[str], census_table: Path, tmp_path: Path
) -> None:
    # the fixture values every cell, the 341 disconnected ones too: each band holds some, and
    # --connected-only used to stop on the first disconnected endpoint drawn
    csv = tmp_path / "pairs.csv"
    args = (
        "census",
        "--table",
        str(census_table),
        "--pairs",
        "40",
        "--top-k",
        "3",
        "--pair-seed",
        "1",
    )
    code, out, _ = _run(capsys, *args, "--connected-only", "--json", "--pairs-out", str(csv))
    assert code == 0
    p = json.loads(out)
    assert p["connected_only"] is True
    pairs = pd.read_csv(csv)
    assert len(pairs) == 3 * 40 + 3
    assert NB201.connected[pairs["a"]].all() and NB201.connected[pairs["b"]].all()
    notes = p["datasets"][0]["notes"]
    assert [n.split(":")[0] for n in notes] == ["group A", "group B", "group C"]
    assert all("disconnected architectures left out (--connected-only" in n for n in notes)
    code, text, _ = _run(capsys, *args, "--connected-only")
    assert (
        code == 0 and text.startswith("barrier census: ") and "connected architectures only" in text
    )
    code, plain, _ = _run(capsys, *args, "--json")
    assert code == 0 and json.loads(plain)["connected_only"] is False


# -- connected_only: the pairs are drawn among connected architectures -------------------------
def _disconnected_in_band() -> np.ndarray:
    """Every cell valued, disconnected ones too; three disconnected cells are the best."""
    v = np.random.default_rng(21).uniform(0, 100, NB201.size)
    v[np.flatnonzero(~NB201.connected)[:3]] = [101.0, 102.0, 103.0]
    return v


@pytest.mark.parametrize("distance", [None, 3])
def test_census_connected_only_never_draws_a_disconnected_endpoint(distance: int | None) -> None:
    from nb201_flat.landscape.census import census_cost

    v = _disconnected_in_band()
    band = (40.0, 50.0)
    inside = (v >= band[0]) & (v <= band[1])
    n_out = int((inside & ~NB201.connected).sum())
    assert n_out > 20  # the draw below would meet one of them
    census = barrier_census(
        NB201, v, {"X": band}, n_pairs=300, top_k=6, distance=distance, seed=4, connected_only=True
    )
    assert NB201.connected[census["a"]].all() and NB201.connected[census["b"]].all()
    assert census.attrs["connected_only"] is True
    assert census.attrs["left_out"] == {"X": n_out, "top-k": 3}
    drawn = census[census["group"] == "X"]
    assert len(drawn) == 300
    # the pairs band_pairs draws among the connected members, on the census's seed
    want = band_pairs(NB201, v, band, 300, distance=distance, seed=4, members=NB201.connected)
    assert list(zip(drawn["a"], drawn["b"], strict=True)) == want
    # the top 6 connected cells, the three disconnected ones above them left out
    top = census[census["group"] == "top-k"]
    best = np.argsort(-np.where(NB201.connected, v, -np.inf))[:6].tolist()
    assert list(zip(top["a"], top["b"], strict=True)) == list(itertools.combinations(best, 2))
    # the memory estimate counts the pairs drawn: the connected members
    cost = census_cost(NB201, v, {"X": band}, 300, 6, distance, members=NB201.connected)
    assert cost[0] == len(census)
    # every pair of the band: fewer among the connected members (the bytes need not shrink at
    # a distance: fewer members can make larger pieces listed at once, 507 here against 389)
    every = census_cost(NB201, v, {"X": band}, 10**8, 6, distance, members=NB201.connected)
    assert every[0] < census_cost(NB201, v, {"X": band}, 10**8, 6, distance)[0]


def test_census_connected_only_draws_as_before_where_no_cell_is_left_out() -> None:
    # disconnected cells outside every band and below the top: the same pairs, the same frame
    rng = np.random.default_rng(8)
    v = np.where(NB201.connected, rng.uniform(40, 100, NB201.size), 10.0)
    bands = {"A": (90.0, 91.0), "B": (50.0, 52.0)}
    for distance in (3, None):
        kw = {"n_pairs": 200, "top_k": 8, "distance": distance, "seed": 6}
        plain = barrier_census(NB201, v, bands, **kw)  # type: ignore[arg-type]
        conn = barrier_census(NB201, v, bands, connected_only=True, **kw)  # type: ignore[arg-type]
        assert conn.equals(plain) and len(conn) == 2 * 200 + 28
        assert conn.attrs["left_out"] == {} and plain.attrs["connected_only"] is False
    # a band of disconnected cells alone holds no connected pair: named, not a crash
    with pytest.raises(MissingValueError, match="it holds 0 connected architectures in"):
        barrier_census(NB201, v, {"D": (9.0, 11.0)}, top_k=0, seed=0, connected_only=True)


def test_band_and_top_pairs_take_a_members_mask() -> None:
    v = np.arange(8.0)
    keep = np.arange(8) != 7
    assert sorted(band_pairs(CUBE, v, (0, 7), 10, distance=3, seed=0, members=keep)) == [
        (1, 6),
        (2, 5),
        (3, 4),
    ]
    assert band_pairs(CUBE, v, (0, 7), 10, distance=3, seed=0, members=np.ones(8, bool)) == (
        band_pairs(CUBE, v, (0, 7), 10, distance=3, seed=0)
    )
    assert top_pairs(CUBE, v, 2, members=keep) == [(6, 5)]
    assert top_pairs(CUBE, v, 3, members=np.zeros(8, bool)) == []
    # an index list would read as a mask of 0/1 (or fail deep inside): refused
    for bad in ([0, 1], np.arange(8), np.ones(7, bool)):
        with pytest.raises(LandscapeArgumentError, match="boolean mask of 8"):
            band_pairs(CUBE, v, (0, 7), 2, seed=0, members=bad)
        with pytest.raises(LandscapeArgumentError, match="boolean mask of 8"):
            top_pairs(CUBE, v, 2, members=bad)


def test_a_members_series_is_read_by_its_index() -> None:
    # a shuffled Series of booleans was read by position: the mask fell on other architectures
    v = np.arange(8.0)
    keep = pd.Series(np.arange(8) != 7, index=np.arange(8))
    shuffled = keep.iloc[::-1]
    assert top_pairs(CUBE, v, 2, members=shuffled) == top_pairs(CUBE, v, 2, members=keep)
    assert top_pairs(CUBE, v, 2, members=shuffled) == [(6, 5)]
    with pytest.raises(
        LandscapeArgumentError, match="members .a pandas Series. must be indexed by the 8"
    ):
        top_pairs(CUBE, v, 2, members=keep.iloc[1:])


@pytest.mark.parametrize("distance", [1, 2, 3])
def test_band_pairs_in_pieces_draw_as_from_the_whole_neighbour_matrix(
    distance: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the candidate pairs are listed a few members at a time, in the order of the rows of
    # space.neighbours(distance): the same list, so the same seeded draw
    from nb201_flat.landscape import census as cs

    rng = np.random.default_rng(distance)
    v = rng.uniform(0, 100, NB201.size)
    band = (40.0, 60.0)
    inside = (v >= band[0]) & (v <= band[1])
    members = np.flatnonzero(inside)
    rows = NB201.neighbours(distance).indices[members].astype(np.int64)
    left, right = np.repeat(members, rows.shape[1]), rows.ravel()
    keep = (right > left) & inside[right]
    left, right = left[keep], right[keep]
    take = np.random.default_rng(9).choice(len(left), size=50, replace=False)
    expected = [(int(left[t]), int(right[t])) for t in take.tolist()]
    for chunk in (7, 512):
        monkeypatch.setattr(cs, "_CHUNK", chunk)
        assert band_pairs(NB201, v, band, 50, distance=distance, seed=9) == expected
    assert band_pairs(NB201, v, (200.0, 300.0), 5, distance=distance, seed=9) == []


def test_band_pairs_listed_a_member_at_a_time_draw_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # far distances list fewer members at once (4^6 changes of 6 edges each at distance 6 on
    # NB201): the chunk size never changes the draw
    from nb201_flat.landscape import census as cs

    v = np.random.default_rng(3).uniform(0, 100, S6.size)
    want = {d: band_pairs(S6, v, (20.0, 80.0), 40, distance=d, seed=5) for d in (1, 3, 6)}
    assert cs._chunk_members(NB201, 6) < cs._chunk_members(NB201, 3) == cs._CHUNK
    monkeypatch.setattr(cs, "_CHUNK_ENTRIES", 1)
    assert cs._chunk_members(S6, 4) == 1
    for d, pairs in want.items():
        assert band_pairs(S6, v, (20.0, 80.0), 40, distance=d, seed=5) == pairs


def test_census_cost_charges_no_draw_without_band_pairs() -> None:
    from nb201_flat.landscape.census import census_cost

    v = np.arange(float(TINY.size))
    bands = {"every": (0.0, 26.0)}
    # --pairs 0: no band is drawn, so no band's candidates are charged
    assert census_cost(TINY, v, bands, 0, 5, None) == census_cost(TINY, v, {}, 0, 5, None)
    assert census_cost(TINY, v, bands, 1, 5, None)[1] > census_cost(TINY, v, {}, 0, 5, None)[1]


@pytest.mark.parametrize("space", [TINY, Space(("none", "skip", "conv"), 4), NB201])
def test_pairs_at_distance_are_counted_exactly(space: Space) -> None:
    from nb201_flat.landscape.census import _pairs_at_distance, census_cost

    rng = np.random.default_rng(5)
    for share in (0.02, 0.3, 1.0):
        inside = rng.random(space.size) < share
        idx = np.flatnonzero(inside)
        if space is NB201 and share < 1:
            # pairwise distances of the cells inside: NB201's neighbour rows at distance 5
            # and 6 take seconds to build and a GB to hold
            codes = space.codes[idx]
            dist = np.zeros((idx.size, idx.size), np.int8)
            for e in range(space.n_edges):
                dist += codes[:, e, None] != codes[None, :, e]
        for d in range(1, space.n_edges + 1):
            if space is NB201 and share == 1:  # every cell has C(6, d) 4^d cells at d
                want = space.size * math.comb(space.n_edges, d) * (space.n_ops - 1) ** d // 2
            elif space is NB201:
                want = int(np.triu(dist == d).sum())
            else:
                rows = space.neighbours(d).indices[idx]
                want = int(((rows > idx[:, None]) & inside[np.maximum(rows, 0)]).sum())
            assert _pairs_at_distance(space, inside, d) == want
    # the census's count of pairs: what a draw of them all gives
    v = rng.uniform(0, 100, space.size)
    drawn = band_pairs(space, v, (20.0, 60.0), 10**6, distance=2, seed=0)
    assert census_cost(space, v, {"X": (20.0, 60.0)}, 10**6, 0, 2)[0] == len(drawn)


def test_census_memory_at_a_distance_bounds_the_draw_and_stays_near_it() -> None:
    # 32 B a listed neighbour row charged every row, though a band keeps the pairs inside it
    # (a fraction) and lists its rows a piece at a time: 4-10x the peak on large bands
    import tracemalloc

    from nb201_flat.landscape.census import _CELL_BYTES, census_cost

    v = np.random.default_rng(5).uniform(70.0, 95.0, NB201.size)
    for band, d in [((75.0, 80.0), 3), ((70.0, 95.0), 2), ((90.0, 90.4), 4)]:
        band_pairs(NB201, v, band, 300, distance=d, seed=0)  # the space's caches warm
        tracemalloc.start()
        band_pairs(NB201, v, band, 300, distance=d, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        est = census_cost(NB201, v, {"X": band}, 300, 0, d)[1] - NB201.size * _CELL_BYTES
        assert peak <= est <= 2.5 * peak, (band, d, peak, est)


def test_pair_barriers_equal_each_construction_alone() -> None:
    # the constructions share one enumeration of the shortest paths; each equals its own call
    from nb201_flat.landscape import a2m_barrier, lowest_barrier_path

    rng = np.random.default_rng(4)
    f = np.round(rng.uniform(10, 90, NB201.size), 2)
    tree = barrier_tree(NB201, f)
    for a, b in rng.choice(NB201.size, (20, 2)).tolist():
        r = tree.pair_barriers(a, b)
        assert r.mean_path == a2m_barrier(NB201, f, a, b).barrier
        assert r.a2m_code_54ce096 == a2m_barrier(NB201, f, a, b, published=True).barrier
        assert r.a2m_code_947bc3e == a2m_barrier(NB201, f, a, b, published="947bc3e").barrier
        low = lowest_barrier_path(NB201, f, a, b)
        assert (r.lowest, r.lowest_length) == (low.barrier, low.length)


def test_counts_distances_and_bands_are_checked() -> None:
    f = np.arange(float(TINY.size))
    # top_pairs(k=-1) used to keep all but one architecture ([:-1]); 1.5 was a raw TypeError
    for bad in (-1, 1.5, True):
        with pytest.raises(LandscapeArgumentError, match="k must be >= 0"):
            top_pairs(TINY, f, bad)  # type: ignore[arg-type]
        with pytest.raises(LandscapeArgumentError, match="n must be >= 0"):
            band_pairs(TINY, f, (0, 26), bad, seed=0)  # type: ignore[arg-type]
    # distance=True used to be distance 1, 1.5 a raw TypeError
    for bad in (True, 1.5):
        with pytest.raises(LandscapeArgumentError, match="distance must lie"):
            band_pairs(TINY, f, (0, 26), 2, distance=bad, seed=0)  # type: ignore[arg-type]
    # a NaN or reversed band used to hold nothing, silently
    for band in ((np.nan, 20.0), (20.0, 10.0), (0.0, 1.0, 2.0)):
        with pytest.raises(LandscapeArgumentError, match="band"):
            band_pairs(TINY, f, band, 2, seed=0)  # type: ignore[arg-type]
        with pytest.raises(LandscapeArgumentError, match="band"):
            barrier_census(TINY, f, {"X": band}, n_pairs=2, top_k=0, seed=0)  # type: ignore[dict-item]
    with pytest.raises(LandscapeArgumentError, match="top_k"):
        barrier_census(TINY, f, {"X": (0, 26)}, top_k=2.5, seed=0)  # type: ignore[arg-type]


@pytest.mark.usefixtures("cap_alone")
def test_pair_lists_and_matrices_too_large_for_memory_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat import budget
    from nb201_flat.errors import ResourceLimitError
    from nb201_flat.landscape import barrier_matrix

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "512M")
    v = np.random.default_rng(0).normal(size=NB201.size)
    # each used to build its list or matrix until memory ran out
    with pytest.raises(ResourceLimitError, match="smaller k"):
        top_pairs(NB201, v, NB201.size)  # 122 million pair tuples
    with pytest.raises(ResourceLimitError, match="draw at a distance"):
        band_pairs(NB201, v, (-10.0, 10.0), 5, distance=None, seed=0)
    with pytest.raises(ResourceLimitError, match="fewer archs"):
        barrier_tree(NB201, v).matrix(list(range(NB201.size)))
    with pytest.raises(ResourceLimitError, match="fewer archs"):
        barrier_matrix(NB201, v, list(range(NB201.size)), method="a2m")
    assert len(top_pairs(NB201, v, 100)) == 4950


# -- the census's whole-column path against one pair at a time ---------------------------------
S6 = Space(("none", "skip", "conv"), 4)  # 729 cells, distances up to 6


def _landscape(space: Space, seed: int, nan_fraction: float) -> np.ndarray:
    """Values with ties (a coarse grid) and floats whose sums depend on their order."""
    rng = np.random.default_rng(seed)
    f = np.where(rng.random(space.size) < 0.5, rng.integers(0, 6, space.size) * 10.0, 0.0)
    f += np.round(rng.uniform(10, 90, space.size), 2) * (f == 0)
    f[rng.random(space.size) < nan_fraction] = np.nan
    return f


@pytest.mark.parametrize(
    ("space", "distance", "chunk"),
    [(NB201, 3, None), (NB201, 5, None), (NB201, 6, None), (S6, 2, 7), (TINY, 3, 3)],
)
def test_census_cost_charges_the_largest_piece_the_draw_lists(
    space: Space, distance: int, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the estimate and the draw cut a band's members into the same pieces: what the estimate
    # charges for the members listed at once is what the draw lists at most
    from nb201_flat.landscape import census as cs

    if chunk is not None:  # a small space in several pieces
        monkeypatch.setattr(cs, "_CHUNK", chunk)
    listed: list[int] = []
    rows_at_distance = cs._rows_at_distance

    def spy_rows(sp: Space, members: np.ndarray, d: int) -> np.ndarray:
        listed.append(len(members))
        return rows_at_distance(sp, members, d)

    charged: list[int] = []
    member_pieces = cs._member_pieces

    def spy_pieces(sp: Space, d: int, m: int) -> list[int]:
        pieces = member_pieces(sp, d, m)
        charged.append(max(pieces))
        return pieces

    monkeypatch.setattr(cs, "_rows_at_distance", spy_rows)
    monkeypatch.setattr(cs, "_member_pieces", spy_pieces)
    v = np.random.default_rng(distance).uniform(0, 100, space.size)
    size, s = cs._chunk_members(space, distance), np.sort(v)
    # bands in several pieces, the first of them shorter than the pieces' bound; of one
    # member; of none
    for band, several in (
        ((s[0], s[2 * size]), True),
        ((s[0], s[3 * size - 2]), True),
        ((s[5], s[5]), False),
        ((200.0, 300.0), False),
    ):
        m = int(np.count_nonzero((v >= band[0]) & (v <= band[1])))
        listed.clear()
        charged.clear()
        band_pairs(space, v, band, 10, distance=distance, seed=0)
        charged.clear()  # the draw's own memory check aside: the estimate alone
        cs.census_cost(space, v, {"X": band}, 10, 0, distance)
        assert sum(listed) == m
        assert (len(listed) > 1) == several, (band, listed)
        assert charged == [max(listed)], (band, m, listed)


def _reference(tree: object, a: int, b: int) -> dict[str, object] | None:
    """The single-pair code's row, None where it raises."""
    try:
        return tree.pair_barriers(a, b).to_dict()  # type: ignore[attr-defined, no-any-return]
    except (MissingValueError, NoPathError):
        return None


@pytest.mark.parametrize("space", [TINY, S6], ids=["tiny", "s6"])
@pytest.mark.parametrize(
    ("nan_fraction", "higher_is_better", "connected_only"),
    [(0.0, True, False), (0.03, True, False), (0.03, False, True), (0.15, False, False)],
)
def test_pair_columns_equal_pair_barriers_pair_by_pair(
    space: Space, nan_fraction: float, higher_is_better: bool, connected_only: bool
) -> None:
    from nb201_flat.landscape.pair_batch import COLUMNS, pair_columns

    f = _landscape(space, 5, nan_fraction)
    tree = barrier_tree(
        space,
        f if higher_is_better else -f,
        higher_is_better=higher_is_better,
        connected_only=connected_only,
    )
    ii, jj = np.triu_indices(space.size, k=1)
    pick = np.random.default_rng(1).choice(len(ii), min(len(ii), 1500), replace=False)
    a, b = ii[pick], jj[pick]
    cols = pair_columns(tree, a, b)
    longer = 0
    for i in range(len(a)):
        ref = _reference(tree, int(a[i]), int(b[i]))
        # computed here exactly where the single-pair code answers, else left to it
        assert cols["ok"][i] == (ref is not None), (a[i], b[i])
        if ref is None:
            continue
        got = {name: cols[name][i].item() for name in COLUMNS}
        # the same floats, bit for bit (== would let -0.0 pass for 0.0)
        assert {k: np.float64(x).tobytes() for k, x in got.items()} == {
            k: np.float64(ref[k]).tobytes() for k in COLUMNS
        }, (a[i], b[i], got, {k: ref[k] for k in COLUMNS})
        if ref["lowest_length"] > ref["distance"]:
            # the count against the route of the search that builds one (not the one used here)
            assert ref["lowest_length"] == tree.path(int(a[i]), int(b[i])).length
            longer += 1
    assert cols["ok"].sum() > len(a) // 10
    assert longer  # the breadth-first search ran too, not only the shortcut


def test_census_rows_equal_pair_barriers_with_ties_nans_and_excluded_cells() -> None:
    f = _landscape(S6, 8, 0.02)
    for hib, conn, dist in [(True, True, 1), (False, False, 1), (True, True, None)]:
        g = f if hib else -f
        if dist is None:  # every shortest path measured: NaNs only where no pair goes
            g = np.where(np.isnan(g), 50.0, g)
        if conn:  # disconnected cells: out of the band, yet on shortest paths (out of the tree)
            g = np.where(S6.connected, g, -1000.0)
        tree = barrier_tree(S6, g, higher_is_better=hib, connected_only=conn)
        census = barrier_census(
            S6,
            g,
            {"X": (-100, 100)},
            n_pairs=300,
            top_k=8 if dist is None else 0,  # the top pairs lie at any distance
            distance=dist,
            seed=2,
            higher_is_better=hib,
            connected_only=conn,
        )
        assert len(census) > 300 - 1
        for row in census.to_dict("records"):
            r = tree.pair_barriers(row["a"], row["b"])
            want = {**r.to_dict(), "no_barrier": bool(r.above_worse("lowest") <= 1e-9)}
            assert {c: np.float64(row[c]).tobytes() for c in CENSUS_COLUMNS[1:]} == {
                c: np.float64(want[c]).tobytes() for c in CENSUS_COLUMNS[1:]
            }
    # a pair whose shortest paths cross a NaN: the census stops with that pair's error, and
    # names the way on (nan_policy="raise", the default)
    pairs = band_pairs(S6, f, (-100, 100), 300, distance=2, seed=3)
    first = next(p for p in pairs if _reference(barrier_tree(S6, f), *p) is None)
    with pytest.raises(MissingValueError) as want_err:
        barrier_tree(S6, f).pair_barriers(*first)
    with pytest.raises(MissingValueError) as got_err:
        barrier_census(S6, f, {"X": (-100, 100)}, n_pairs=300, top_k=0, distance=2, seed=3)
    # the pair's problem, then the census's one fix in place of the detour hint
    hinted = want_err.value.parts
    assert hinted[-len(DETOUR_PARTS) :] == DETOUR_PARTS and len(hinted) == len(DETOUR_PARTS) + 1
    problem = str(hinted[0]).removesuffix("; ")
    assert str(got_err.value) == (
        f"{problem}; to leave such pairs out of the census and count them, pass nan_policy='omit'"
    )
    # quoted by its parts, not as text: a command spells the parameters it names
    assert got_err.value.parts == (
        problem,
        "; to leave such pairs out of the census and count them, pass ",
        Param("nan_policy", "omit"),
    )


def test_signed_zeros_give_the_same_barrier_batched_and_one_pair_at_a_time() -> None:
    # with both +0.0 and -0.0 among the values, which zero a min or max kept depended on the
    # order it read them in: the census gave -0.0 where pair_barriers gave 0.0
    from nb201_flat.landscape.census import _census_columns
    from nb201_flat.landscape.maximin import barrier_tree

    space = Space(("a", "b"), 3)
    pairs = [(a, b) for a in range(8) for b in range(8) if a != b]
    rng = np.random.default_rng(1)
    for _ in range(200):
        tree = barrier_tree(space, rng.choice([0.0, -0.0, 1.0], space.size))
        out = _census_columns(tree, [("g", pairs)], len(pairs))
        for i, (a, b) in enumerate(pairs):
            one = tree.pair_barriers(a, b)
            for col in ("lowest", "best_shortest", "mean_path", "worst_shortest"):
                got, want = out[col][i], getattr(one, col)
                assert got == want and np.signbit(got) == np.signbit(want), (a, b, col)


# -- nan_policy: pairs without a barrier on a partly measured table ------------------------------
Q6 = Space(("a", "b"), 4)  # 64 cells, 6 edges: index = binary number of the codes


def _cut_q6() -> np.ndarray:
    """Every cell measured but the 10 that cut {0, 1} (the two best) off from the other 52."""
    f = np.random.default_rng(4).uniform(0, 90, Q6.size).round(1)
    f[[0, 1]] = [100.0, 99.0]
    f[[2, 4, 8, 16, 32, 3, 5, 9, 17, 33]] = np.nan
    return f


def _brute_causes(space: Space, f: np.ndarray, pairs: list[tuple[int, int]]) -> list[str | None]:
    """Why the census cannot serve each pair, by definition: "no_path" (no walk through
    measured cells joins them), "unmeasured" (a cell on a shortest path has no value), or None."""
    g = nx.Graph()
    keep = [i for i in range(space.size) if not np.isnan(f[i])]
    g.add_nodes_from(keep)
    g.add_edges_from((i, j) for i, j in itertools.combinations(keep, 2) if space.hamming(i, j) == 1)
    codes = space.codes
    out: list[str | None] = []
    for a, b in pairs:
        # a cell lies on a shortest path iff each of its edges holds a's op or b's
        on = ((codes == codes[a]) | (codes == codes[b])).all(axis=1)
        if not nx.has_path(g, a, b):
            out.append("no_path")
        else:
            out.append("unmeasured" if np.isnan(f[on]).any() else None)
    return out


@pytest.mark.parametrize("distance", [1, 2, 3, 4, None])
def test_census_omit_draws_among_the_pairs_it_can_serve_and_counts_the_others(
    distance: int | None,
) -> None:
    f = _cut_q6()
    measured = np.flatnonzero(~np.isnan(f))
    candidates = [
        (int(a), int(b))
        for a, b in itertools.combinations(measured, 2)
        if distance is None or Q6.hamming(int(a), int(b)) == distance
    ]
    causes = dict(zip(candidates, _brute_causes(Q6, f, candidates), strict=True))
    servable = {p for p, c in causes.items() if c is None}
    lost = {c: sum(v == c for v in causes.values()) for c in ("no_path", "unmeasured")}
    # both causes met (at distance 1 neither: no pair crosses the cut or an unmeasured cell)
    assert (lost["no_path"] and lost["unmeasured"]) or distance == 1
    band = {"X": (0.0, 100.0)}
    kw = {"top_k": 0, "distance": distance, "seed": 1}
    # every pair it can serve, none other; its rows are the single-pair code's
    census = barrier_census(Q6, f, band, n_pairs=10_000, nan_policy="omit", **kw)  # type: ignore[arg-type]
    assert set(zip(census["a"], census["b"], strict=True)) == servable
    want = {"X": {"candidates": len(candidates), **lost}} if any(lost.values()) else {}
    assert census.attrs["excluded"] == want
    assert census.attrs["omitted"] == {} and census.attrs["nan_policy"] == "omit"
    tree = barrier_tree(Q6, f)
    for row in census.to_dict("records"):
        assert row["lowest"] == tree.pair_barriers(row["a"], row["b"]).lowest
    # fewer asked than it can serve: the band still yields them all, where "raise" stops
    few = barrier_census(Q6, f, band, n_pairs=5, nan_policy="omit", **kw)  # type: ignore[arg-type]
    assert len(few) == 5 and set(zip(few["a"], few["b"], strict=True)) <= servable
    assert census_summary(few)["pairs"].tolist() == [5]
    if want:
        with pytest.raises((NoPathError, MissingValueError), match="nan_policy='omit'$"):
            barrier_census(Q6, f, band, n_pairs=10_000, **kw)  # type: ignore[arg-type]


def test_census_omit_drops_the_top_k_pairs_it_cannot_serve() -> None:
    f = _cut_q6()
    f[[60, 63, 61]] = [98.0, 97.0, np.nan]  # 111100 -> 111111 through 111101 or 111110
    top = top_pairs(Q6, f, 6)  # 0 and 1 (cut off from the rest), 60, 63, two more
    assert top[:2] == [(0, 1), (0, 60)] and (60, 63) in top
    causes = _brute_causes(Q6, f, top)
    lost = {c: causes.count(c) for c in ("no_path", "unmeasured")}
    assert lost["no_path"] == 8 and lost["unmeasured"] >= 1
    census = barrier_census(Q6, f, {}, n_pairs=0, top_k=6, seed=0, nan_policy="omit")
    kept = [p for p, c in zip(top, causes, strict=True) if c is None]
    assert list(zip(census["a"], census["b"], strict=True)) == kept  # in top_pairs' order
    assert census.attrs["omitted"] == {"top-k": {"pairs": 15, **lost}}
    assert census_summary(census)["pairs"].tolist() == [len(kept)]
    # with a band: "all" counts the rows kept, not the pairs asked for
    both = barrier_census(
        Q6, f, {"X": (0, 100)}, n_pairs=7, top_k=6, distance=2, seed=0, nan_policy="omit"
    )
    s = census_summary(both).set_index("group")["pairs"]
    assert s.to_dict() == {"X": 7, "top-k": len(kept), "all": 7 + len(kept)}
    # "raise" stops on the first pair it cannot serve (0-60) for the cause "omit" counts it
    # under (no path, checked first: an unmeasured cell lies on its shortest paths too), and
    # names the one fix the census has: no detour hint, the census serves no detour
    with pytest.raises(NoPathError, match=r"joins 0 and 60 .*nan_policy='omit'") as info:
        barrier_census(Q6, f, {}, n_pairs=0, top_k=6, seed=0)
    assert "lowest_barrier_path" not in str(info.value)
    # 0 and 7 of the cube: joined through 2 and 3, the unmeasured 1 on a shortest path
    g = np.array([9.0, np.nan, 6, 7, 4, 7, 7, 8])
    with pytest.raises(MissingValueError, match="undefined; to leave such pairs") as info:
        barrier_census(CUBE, g, {"X": (7.5, 10.0)}, n_pairs=1, top_k=0, seed=0)
    assert "lowest_barrier_path" not in str(info.value)


def test_census_omit_names_a_group_left_without_a_pair() -> None:
    f = _cut_q6()
    f[63] = 99.5  # band (99, 100) holds 0, 1 and 63: one pair at distance 6, across the cut
    band = {"X": (99.0, 100.0)}
    census = barrier_census(Q6, f, band, n_pairs=5, top_k=3, distance=6, seed=0, nan_policy="omit")
    assert census[["group", "a", "b"]].to_numpy().tolist() == [["top-k", 0, 1]]
    assert census.attrs["omitted"] == {"top-k": {"pairs": 3, "no_path": 2, "unmeasured": 0}}
    assert {g: spelled(why) for g, why in census.attrs["empty"].items()} == {
        # one cause: the count is not said again
        "X": "none of its 1 candidate pair at distance 6 can be served "
        "(no path through measured architectures joins them)"
    }
    with pytest.raises(MissingValueError, match="no pair to compute: X: none of its 1 candid"):
        barrier_census(Q6, f, band, n_pairs=5, top_k=0, distance=6, seed=0, nan_policy="omit")
    with pytest.raises(MissingValueError, match="top-k: none of its 1 pair can be served"):
        barrier_census(Q6, f, band, n_pairs=0, top_k=2, seed=0, nan_policy="omit")


def test_census_nan_policy_propagate_and_unknown_are_refused() -> None:
    with pytest.raises(LandscapeArgumentError, match="'propagate' does not apply to the census"):
        barrier_census(Q6, _cut_q6(), {"X": (0, 100)}, seed=0, nan_policy="propagate")
    with pytest.raises(LandscapeArgumentError, match="nan_policy must be one of"):
        barrier_census(Q6, _cut_q6(), {"X": (0, 100)}, seed=0, nan_policy="skip")  # type: ignore[arg-type]


@pytest.mark.parametrize("connected_only", [False, True])
def test_census_omit_draws_what_raise_draws_where_every_pair_can_be_served(
    connected_only: bool,
) -> None:
    # fully measured; then one NaN at distance 1, where no pair crosses it (the graph stays
    # joined): the same draw, the same rows, byte for byte
    f = _landscape(S6, 3, 0.0)
    g = f.copy()
    g[100] = np.nan
    bands = {"A": (0.0, 40.0), "B": (30.0, 100.0)}
    for values, distance in [(f, 3), (f, None), (f, 1), (g, 1)]:
        kw = {
            "n_pairs": 40,
            "top_k": 5 if values is f else 0,
            "distance": distance,
            "seed": 7,
            "connected_only": connected_only,
        }
        raised = barrier_census(S6, values, bands, **kw)  # type: ignore[arg-type]
        omitted = barrier_census(S6, values, bands, nan_policy="omit", **kw)  # type: ignore[arg-type]
        assert omitted.equals(raised) and len(raised) > 40
        assert {c: omitted[c].to_numpy().tobytes() for c in CENSUS_COLUMNS[1:]} == {
            c: raised[c].to_numpy().tobytes() for c in CENSUS_COLUMNS[1:]
        }
        assert omitted.attrs["excluded"] == {} and omitted.attrs["omitted"] == {}


def test_census_distance_is_checked_only_when_band_pairs_are_drawn() -> None:
    # a cell of one edge: two architectures, one step apart; the default distance 3 of band
    # pairs stopped a census of the top K alone ("distance must lie in 1..1, got 3")
    space, f = Space(("a", "b"), 2), np.array([93.0, 93.5])
    assert census_cost(space, f, {"A": (93, 94)}, 0, 2, 3)[0] == 1
    df = barrier_census(space, f, "cifar10", n_pairs=0, top_k=2, seed=0)
    assert df[["group", "a", "b"]].to_numpy().tolist() == [["top-k", 1, 0]]
    with pytest.raises(LandscapeArgumentError, match=r"distance must lie in 1\.\.1, got 3"):
        barrier_census(space, f, "cifar10", n_pairs=1, top_k=2, seed=0)
    df = barrier_census(space, f, "cifar10", n_pairs=1, top_k=0, distance=1, seed=0)
    assert df[["group", "a", "b"]].to_numpy().tolist() == [["A", 0, 1]]


def test_census_distance_is_checked_before_it_is_compared() -> None:
    # "3" met a bare TypeError ('>' not supported between 'str' and 'int')
    for bad in ("3", 2.5):
        with pytest.raises(LandscapeArgumentError, match="^distance must") as exc:
            barrier_census(CUBE, F, {"b": (0, 10)}, distance=bad, seed=0)  # type: ignore[arg-type]
        assert "\n" not in str(exc.value)


def test_describe_left_out_says_each_count_once() -> None:
    # one cause: the count before it is its count, not said again after it
    one = {"candidates": 605_635, "no_path": 0, "unmeasured": 98_039}
    assert describe_left_out(one) == (
        "98,039 of its 605,635 candidate pairs left out of the draw: an unmeasured "
        "architecture lies on their shortest paths"
    )
    # two causes: each its own count; a drawn group's pairs; the CLI's flag in parentheses
    two = {"pairs": 45, "no_path": 1, "unmeasured": 3}
    assert describe_left_out(two, "--nan-policy omit") == (
        "4 of its 45 pairs left out (--nan-policy omit): 1 pair: no path through measured "
        "architectures joins them; 3 pairs: an unmeasured architecture lies on their shortest "
        "paths"
    )


def test_pair_batch_caches_are_read_only() -> None:
    # cached per distance and shared by every call: a write would corrupt later censuses
    from nb201_flat.landscape.pair_batch import _masks, _template

    for d in (1, 3):
        assert _masks(d).dtype == np.int64 and _template(d).dtype == np.int64
        assert not _masks(d).flags.writeable and not _template(d).flags.writeable


def test_shortest_paths_measured_takes_a_pair_of_one_cell() -> None:
    # a == b: its one path is the cell itself (d = 0 left nothing to size the subsets by)
    from nb201_flat.landscape.pair_batch import shortest_paths_measured

    f = F.copy()
    f[4] = np.nan
    got = shortest_paths_measured(CUBE, f, np.array([0, 4, 0, 1]), np.array([0, 4, 7, 3]))
    assert got.tolist() == [True, False, False, True]


# -- spaces of more than 8 edges: shortest paths of at most MAX_SHORTEST_D differing edges -------
WIDE = Space(("a", "b"), 5)  # 10 edges, 1,024 cells: pairs up to 10 edges apart


def _far(space: Space, a: int, b: int) -> bool:
    return int(np.count_nonzero(space.codes[a] != space.codes[b])) > MAX_SHORTEST_D


def test_census_refuses_band_pairs_beyond_the_enumerable_distance_before_drawing() -> None:
    f = np.arange(WIDE.size, dtype=float)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    for d in (MAX_SHORTEST_D + 1, WIDE.n_edges):
        # it used to draw pairs, then fail on one: "architectures 3 and 1020 differ on 10 ..."
        with pytest.raises(LandscapeArgumentError) as e:
            barrier_census(WIDE, f, {"every": (0, 2000)}, n_pairs=5, top_k=0, distance=d, seed=rng)
        assert str(e.value).startswith(f"band pairs at distance {d} have {d}! shortest paths")
        assert f"pass distance=1..{MAX_SHORTEST_D}, or {LOWEST_BARRIER}" in str(e.value)
        assert "--" not in str(e.value).replace("--method", "")  # no flag of the CLI's own
    assert rng.bit_generator.state == state  # refused before any draw
    ok = barrier_census(WIDE, f, {"every": (0, 2000)}, n_pairs=5, top_k=0, distance=8, seed=0)
    assert (ok["distance"] == 8).all() and len(ok) == 5


def test_census_at_any_distance_leaves_out_pairs_too_far_apart_and_counts_them() -> None:
    f = np.zeros(WIDE.size)
    members = [0, 1, 3, WIDE.size - 1]  # the last differs from 0 on 10 edges, from 1 on 9
    f[members] = 10.0
    pairs = list(itertools.combinations(members, 2))
    far = sum(_far(WIDE, a, b) for a, b in pairs)
    assert far == 2
    for policy in ("raise", "omit"):
        df = barrier_census(
            WIDE, f, {"B": (5, 20)}, n_pairs=100, top_k=0, distance=None, seed=0, nan_policy=policy
        )
        got = set(zip(df["a"].tolist(), df["b"].tolist(), strict=True))
        assert got == {p for p in pairs if not _far(WIDE, *p)}
        assert df.attrs["excluded"] == {
            "B": {"candidates": len(pairs), "no_path": 0, "unmeasured": 0, "too_far": far}
        }
        assert describe_left_out(df.attrs["excluded"]["B"]).endswith(
            spelled(OMIT_CAUSES["too_far"])
        )
    # the top k: its pairs too far apart are dropped, counted as the other unservable ones
    top = barrier_census(WIDE, f, {}, n_pairs=0, top_k=4, seed=0)
    assert len(top) == len(pairs) - far
    assert top.attrs["omitted"] == {
        "top-k": {"pairs": len(pairs), "no_path": 0, "unmeasured": 0, "too_far": far}
    }
    g = np.zeros(WIDE.size)
    g[[0, WIDE.size - 1]] = 1.0  # the top 2: one pair, 10 edges apart
    with pytest.raises(MissingValueError, match=r"top-k: none of its 1 pair can be served \(they"):
        barrier_census(WIDE, g, {}, n_pairs=0, top_k=2, seed=0)


def test_census_of_no_band_and_no_top_k_computes_nothing() -> None:
    f = np.arange(8.0)
    # it used to fail after the work as "no pair to compute: ; choose another key"
    with pytest.raises(LandscapeArgumentError, match="the census would compute nothing") as e:
        barrier_census(CUBE, f, {}, seed=0, top_k=0)
    assert str(e.value).startswith("no band is given and top_k is 0:")
    with pytest.raises(LandscapeArgumentError, match="^n_pairs and top_k are both 0: the census"):
        barrier_census(CUBE, f, {"X": (0, 7)}, n_pairs=0, seed=0, top_k=0)


def test_census_keeps_a_numpy_int_seed() -> None:
    f = np.arange(8.0)
    kw: dict[str, Any] = {"n_pairs": 3, "top_k": 2, "distance": 2}
    one = barrier_census(CUBE, f, {"X": (0, 7)}, seed=np.int64(3), **kw)  # type: ignore[arg-type]
    two = barrier_census(CUBE, f, {"X": (0, 7)}, seed=3, **kw)
    assert one.equals(two)
    assert one.attrs["seed"] == 3 and type(one.attrs["seed"]) is int
    gen = barrier_census(CUBE, f, {"X": (0, 7)}, seed=np.random.default_rng(3), **kw)
    assert "seed" not in gen.attrs


@pytest.mark.usefixtures("cap_alone")
def test_census_messages_name_parameters_and_the_command_its_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], census_table: Path
) -> None:
    from nb201_flat import budget
    from nb201_flat.errors import ResourceLimitError

    f = np.arange(8.0)
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"n_pairs": 0, "top_k": 0},
            "give pairs per band (n_pairs=N) or a top K of 2 or more (top_k=K)",
        ),
        ({"top_k": 1}, "top_k=1 makes no pair (one architecture); pass top_k=0 for no top-k"),
        ({"nan_policy": "propagate"}, "use nan_policy='omit' to leave such pairs out"),
    ]
    for kw, want in cases:
        with pytest.raises(LandscapeArgumentError) as e:
            barrier_census(CUBE, f, {"X": (0, 7)}, seed=0, **kw)
        assert want in str(e.value) and "--" not in str(e.value)
    v = np.random.default_rng(0).normal(size=NB201.size)
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "300M")
    with pytest.raises(ResourceLimitError) as m:
        barrier_census(NB201, v, {"X": (1.3, 9)}, n_pairs=5000, top_k=2000, distance=None, seed=0)
    assert "top_k=300 or fewer n_pairs fits" in str(m.value) and "--top" not in str(m.value)
    with pytest.raises(ResourceLimitError, match=r"; distance=3 \(pairs drawn among neighbours"):
        barrier_census(NB201, v, {"X": (0, 9)}, n_pairs=5000, top_k=10, distance=None, seed=0)
    monkeypatch.delenv(budget.ENV_MAX_MEMORY)
    # the command names its flags where the library names its parameters
    table = ("--table", str(census_table))
    lines = {
        ("--pairs", "0", "--top-k", "0"): "error: --pairs and --top-k are both 0: the census "
        "would compute nothing; give pairs per band (--pairs N) or a top K of 2 or more "
        "(--top-k K)",
        (
            "--top-k",
            "1",
        ): "error: --top-k 1 makes no pair (one architecture); pass --top-k 0 for no "
        "top-k group, or 2 or more",
    }
    for argv, want_line in lines.items():
        code, out, err = _run(capsys, "census", *argv, *table)
        assert (code, out, err) == (2, "", want_line + "\n")


def test_census_parameter_values_are_spelled_as_the_command_spells_them() -> None:
    import argparse

    from nb201_flat.cli import build_parser
    from nb201_flat.cli.common import error_line

    parser = build_parser("census")
    census = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[
        "census"
    ]
    args = parser.parse_args(["census", "--distance", "3"])
    # 6 and 7 lie at distance 1: any distance is distance=None, the command's --distance 0
    with pytest.raises(MissingValueError) as e:
        barrier_census(CUBE, np.arange(8.0), {"hi": (6, 7)}, n_pairs=2, top_k=0, seed=0)
    assert "draw band pairs at any distance (distance=None)" in str(e.value)
    line = error_line(e.value, census, args)
    assert "at any distance (--distance 0), or add a top K of 2 or more (--top-k K), or " in line
    # no option of the command moves A²M's bands: the library's bands fix is left out
    assert "bands" not in line.split("; ")[-1]
    with pytest.raises(LandscapeArgumentError) as d:
        barrier_census(WIDE, np.zeros(WIDE.size), {"X": (0, 1)}, n_pairs=2, distance=9, seed=0)
    assert f"pass --distance 1..{MAX_SHORTEST_D}, or " in error_line(d.value, census, args)


def test_census_command_names_its_way_to_the_lowest_barrier_for_pairs_too_far_apart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a space of 10 edges: pairs more than MAX_SHORTEST_D apart; the library names
    # lowest_barrier_path, the command its barrier command (it used to print the Python name)
    way = "nb201-flat barrier A B --method lowest"
    f = np.zeros(WIDE.size)
    f[[0, 1, 3, WIDE.size - 1]] = 93.0  # band A; the last differs from 0 on 10 edges, 1 on 9
    key = MetricKey("cifar10", "ori-test", 200)
    path = save_table(Table(WIDE, {(key, None): f}, source="wide"), tmp_path / "w.nb201")
    table = ("--table", str(path))
    code, out, _ = _run(capsys, "census", *table, "--pairs", "5", "--distance", "0", "--top-k", "0")
    assert code == 0
    assert f"({way} gives a pair's lowest barrier)" in out
    assert "lowest_barrier_path" not in out
    # the top 2: one pair, 10 edges apart: no pair to compute
    f = f.copy()
    f[[0, WIDE.size - 1]] = 93.5
    save_table(Table(WIDE, {(key, None): f}, source="wide"), path)
    code, out, err = _run(capsys, "census", *table, "--pairs", "0", "--top-k", "2")
    assert (code, out) == (2, "")
    assert err.startswith("error: no pair to compute: top-k: none of its 1 pair can be served")
    assert f"({way} gives a pair's lowest barrier)" in err
    # band pairs at a distance beyond the enumerable one
    code, out, err = _run(capsys, "census", *table, "--pairs", "5", "--distance", "9")
    assert (code, out) == (2, "")
    assert f"pass --distance 1..{MAX_SHORTEST_D}, or {way} for a pair's lowest barrier" in err
