"""Landscape statistics: FDC, walks, local optima and basins, A²M distributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.landscape import (
    A2M_BANDS,
    LandscapeArgumentError,
    a2m_bands,
    autocorrelation,
    basins,
    correlation_length,
    distance_profile,
    fitness_distance_correlation,
    global_optima,
    hill_climb,
    local_optima,
    neighbour_distributions,
    random_walk,
)
from nb201_flat.space import NB201, Space

TINY = Space(("none", "skip", "conv"), 3)
CUBE = Space(("a", "b"), 3)  # lexicographic: index = binary number of the codes


def conv_count(space: Space, code: int = 2) -> np.ndarray:
    return (space.codes == code).sum(axis=1).astype(float)


def test_distance_profile_and_fdc_closed_form() -> None:
    f = conv_count(TINY)
    top = TINY.from_ops(["conv"] * 3).index
    df = distance_profile(TINY, f)
    assert df.attrs["optima"] == [top]
    assert (df["value"] == 3 - df["distance"]).all()
    assert fitness_distance_correlation(TINY, f) == pytest.approx(-1.0)
    assert fitness_distance_correlation(TINY, f, method="spearman") == pytest.approx(-1.0)
    # loss orientation: the optimum is the minimum
    assert distance_profile(TINY, -f, higher_is_better=False).attrs["optima"] == [top]


def test_distance_to_tied_optima_and_nan() -> None:
    f = np.zeros(CUBE.size)
    f[[0, 7]] = 5.0
    f[3] = np.nan
    assert global_optima(CUBE, f).tolist() == [0, 7]
    df = distance_profile(CUBE, f)
    assert 3 not in df["index"].tolist()
    # every other cell of the cube is 1 step from 000 or from 111
    assert dict(zip(df["index"], df["distance"], strict=True)) == {
        0: 0,
        1: 1,
        2: 1,
        4: 1,
        5: 1,
        6: 1,
        7: 0,
    }
    assert len(distance_profile(CUBE, f, dropna=False)) == 8
    assert distance_profile(CUBE, f, optimum=[1]).set_index("index").loc[6, "distance"] == 3
    with pytest.raises(LandscapeArgumentError, match="all NaN"):
        global_optima(CUBE, np.full(8, np.nan))


@pytest.mark.parametrize("space", [TINY, Space(("a", "b", "c", "d"), 4), NB201], ids=str)
def test_distance_to_the_nearest_of_many_optima_by_brute_force(space: Space) -> None:
    # the distance transform against every cell's Hamming distance to every optimum
    rng = np.random.default_rng(space.size)
    for k in (1, 3, 40, space.size):
        refs = np.sort(rng.choice(space.size, min(k, space.size), replace=False))
        f = np.zeros(space.size)
        f[refs] = 1.0
        if k == space.size:  # a constant vector: every cell an optimum (was ~27 s on NB201)
            f[:] = 7.0
        df = distance_profile(space, f)
        assert df.attrs["optima"] == refs.tolist()
        probe = rng.choice(space.size, 300)
        brute = (space.codes[probe][:, None, :] != space.codes[refs][None, :, :]).sum(axis=2)
        assert df["distance"].to_numpy()[probe].tolist() == brute.min(axis=1).tolist()
        assert df["distance"].dtype == np.int64


def test_local_optima_and_basins_hand_computed() -> None:
    f = np.array([5.0, 0, 0, 0, 0, 0, 0, 9.0])
    assert np.nonzero(local_optima(CUBE, f))[0].tolist() == [0, 7]
    # 1, 2, 4 see 000 (5) and a 0 or a 0; 3, 5, 6 see 111 (9)
    assert hill_climb(CUBE, f).tolist() == [0, 0, 0, 7, 0, 7, 7, 7]
    b = basins(CUBE, f)
    assert b.to_dict("list") == {
        "index": [7, 0],
        "value": [9.0, 5.0],
        "basin_size": [4, 4],
        "is_global": [True, False],
    }
    # a loss: mirror image
    assert hill_climb(CUBE, -f, higher_is_better=False).tolist() == hill_climb(CUBE, f).tolist()


def test_plateau_and_ties() -> None:
    f = np.ones(CUBE.size)
    assert local_optima(CUBE, f).all()  # non-strict: nothing is strictly better
    assert hill_climb(CUBE, f).tolist() == list(range(8))
    # tie between two better neighbours: the lowest index wins
    g = np.array([0.0, 1, 1, 0, 0, 0, 0, 0])
    assert hill_climb(CUBE, g)[0] == 1


def test_nan_cells_are_never_optima() -> None:
    f = np.array([np.nan, 0, 0, 0, 0, 0, 0, 1.0])
    assert not local_optima(CUBE, f)[0]
    climb = hill_climb(CUBE, f)
    assert climb[0] == -1
    assert climb[1] != 0  # a NaN neighbour is never a step target
    assert basins(CUBE, f)["basin_size"].sum() == 7


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 6).map(float), min_size=TINY.size, max_size=TINY.size))
def test_hill_climb_matches_step_by_step(data: list[float]) -> None:
    f = np.array(data)
    nb = TINY.neighbours(1)
    climb = hill_climb(TINY, f)
    opt = local_optima(TINY, f)
    for start in range(TINY.size):
        cur = start
        while True:
            nbrs = sorted(nb.of(cur).tolist())
            best = max(f[j] for j in nbrs)
            if best <= f[cur]:
                break
            cur = min(j for j in nbrs if f[j] == best)
        assert climb[start] == cur
        assert opt[cur]
    b = basins(TINY, f)
    assert b["basin_size"].sum() == TINY.size
    assert len(b) == int(opt.sum())


def test_random_walk_is_seeded_and_moves_to_neighbours() -> None:
    w1 = random_walk(NB201, 500, seed=3)
    w2 = random_walk(NB201, 500, seed=np.random.default_rng(3))
    assert w1.tolist() == w2.tolist()
    assert len(w1) == 501
    d = (NB201.codes[w1[1:]] != NB201.codes[w1[:-1]]).sum(axis=1)
    assert (d == 1).all()
    conn = random_walk(NB201, 300, seed=1, connected_only=True)
    assert NB201.connected[conn].all()
    assert random_walk(NB201, 0, seed=1, start=11472).tolist() == [11472]
    with pytest.raises(LandscapeArgumentError, match="seed"):
        random_walk(NB201, 10, seed=None)  # type: ignore[arg-type]


def test_autocorrelation_of_an_additive_function() -> None:
    # f = number of 3x3 convs: r(k) = (1 - (1/E) k/(k-1))^k for a uniform single-edge walk
    f = conv_count(NB201, 3)
    ac = autocorrelation(NB201, f, seed=0, length=20_000, max_lag=3)
    theory = (1 - 5 / 24) ** np.arange(1, 4)
    np.testing.assert_allclose(ac["autocorrelation"], theory, atol=0.03)
    assert ac["pairs"].tolist() == [20_000, 19_999, 19_998]
    ell = correlation_length(NB201, f, seed=0, length=20_000)
    assert ell == pytest.approx(-1 / np.log(1 - 5 / 24), rel=0.1)
    assert correlation_length(NB201, f, seed=5) == correlation_length(NB201, f, seed=5)
    with pytest.raises(LandscapeArgumentError, match="max_lag"):
        autocorrelation(NB201, f, seed=0, length=5, max_lag=6)


def test_autocorrelation_skips_nan_pairs() -> None:
    f = conv_count(NB201, 3)
    f[::2] = np.nan
    ac = autocorrelation(NB201, f, seed=0, length=2000, max_lag=1)
    assert 0 < ac["pairs"].iloc[0] < 2000
    assert np.isfinite(ac["autocorrelation"].iloc[0])


@pytest.mark.parametrize(
    ("space", "no_none", "connected_only"),
    [
        (NB201, False, False),
        (NB201, True, False),
        (NB201, False, True),
        (NB201, True, True),
        # all-"a" cells have no neighbour left under no_none: the walk stays put there
        (Space(("none", "a"), 3), True, False),
    ],
)
def test_many_walks_step_together_yet_walk_as_one_at_a_time(
    space: Space, no_none: bool, connected_only: bool
) -> None:
    # autocorrelation steps 64 walks at once (from 8 on): the same draws in the same order as
    # random_walk's loop, one walk after another, so the same walks bit for bit
    from nb201_flat.landscape.statistics import _walk_values

    f = np.arange(space.size, dtype=float) * 0.5
    f[1::7] = np.nan
    opts = {"no_none": no_none, "connected_only": connected_only}
    rng = np.random.default_rng(11)
    loop = np.stack([f[random_walk(space, 40, seed=rng, **opts)] for _ in range(64)])
    nb = space.neighbours(1, **opts)
    together = _walk_values(space, nb, f, 40, 64, np.random.default_rng(11), connected_only)
    np.testing.assert_array_equal(together, loop)  # NaN where the loop has NaN
    assert together.flags.c_contiguous
    ac = autocorrelation(space, f, seed=11, length=40, max_lag=3, n_walks=64, **opts)
    ok = ~np.isnan(loop)
    m = loop[ok].mean()
    for k in (1, 2, 3):
        a, b = loop[:, :-k] - m, loop[:, k:] - m
        keep = ~(np.isnan(a) | np.isnan(b))
        a, b = a[keep], b[keep]
        expected = float(a @ b) / np.sqrt(float(a @ a) * float(b @ b))
        assert ac["autocorrelation"].iloc[k - 1] == pytest.approx(expected, rel=1e-12)


def test_autocorrelation_stays_a_correlation_on_a_short_walk() -> None:
    # mean[a b] / var over 5 pairs of a 10-step walk gave r(6) = -1.036 on a whole table (88
    # of 200 seeds left [-1, 1]); each r(k) is a correlation of its pairs now, and a long
    # walk's still mean[a b] / var
    f = np.random.default_rng(0).normal(size=NB201.size)
    outside = 0
    for seed in range(60):
        ac = autocorrelation(NB201, f, seed=seed, length=10, max_lag=8, undefined="nan")
        r = ac["autocorrelation"].dropna()
        outside += int((r.abs() > 1).any())
    assert outside == 0
    long = conv_count(NB201, 3)
    walk = autocorrelation(NB201, long, seed=3, length=20_000, max_lag=2)
    from nb201_flat.landscape.statistics import _walk_values

    series = _walk_values(
        NB201, NB201.neighbours(1), long, 20_000, 1, np.random.default_rng(3), False
    )
    m, var = series.mean(), series.var()
    weinberger = ((series[:, :-1] - m) * (series[:, 1:] - m)).mean() / var
    assert walk["autocorrelation"].iloc[0] == pytest.approx(weinberger, abs=2e-3)


def test_neighbour_distributions() -> None:
    f = conv_count(TINY)
    bands = {"top": (3.0, 3.0), "mid": (1.0, 2.0)}
    df = neighbour_distributions(TINY, f, bands, radii=(1, 2))
    assert list(df.columns) == ["band", "radius", "center", "neighbour", "value"]
    assert list(df["band"].cat.categories) == ["top", "mid"]
    top = df[(df["band"] == "top") & (df["radius"] == 1)]
    assert len(top) == 6 and (top["value"] == 2).all()
    n_mid = int(((f >= 1) & (f <= 2)).sum())  # both ends included
    assert len(df[(df["band"] == "mid") & (df["radius"] == 2)]) == n_mid * 12
    g = f.copy()
    g[0] = np.nan
    assert len(neighbour_distributions(TINY, g, bands, radii=[1])) < len(
        neighbour_distributions(TINY, g, bands, radii=[1], dropna=False)
    )


def test_a2m_bands() -> None:
    assert a2m_bands("cifar10") == {"A": (92.3, 93.7), "B": (84.3, 85.7), "C": (74.3, 75.7)}
    assert a2m_bands("cifar10-valid") == A2M_BANDS["cifar10"]
    assert a2m_bands("cifar100")["C"] == (54.3, 55.7)
    assert a2m_bands("ImageNet16-120")["A"] == (45.9, 47.3)
    with pytest.raises(LandscapeArgumentError, match="bands="):
        a2m_bands("mnist")
    with pytest.raises(LandscapeArgumentError, match="lo > hi"):
        neighbour_distributions(TINY, conv_count(TINY), {"x": (2.0, 1.0)})


@pytest.mark.parametrize(
    ("exact", "no_none", "connected_only"),
    [(True, False, False), (False, False, True), (True, True, False)],
)
def test_weighted_neighbour_distributions_give_the_pooled_densities(
    exact: bool, no_none: bool, connected_only: bool
) -> None:
    from nb201_flat.landscape import neighbour_distributions

    v = np.random.default_rng(11).normal(70.0, 8.0, NB201.size)
    v[::97] = np.nan
    bands = {"A": (80.0, 100.0), "B": (60.0, 62.0)}
    opts = {"exact": exact, "no_none": no_none, "connected_only": connected_only}
    pooled = neighbour_distributions(NB201, v, bands, (1, 2, 3), **opts)
    weighted = neighbour_distributions(NB201, v, bands, (1, 2, 3), weighted=True, **opts)
    assert weighted.attrs == pooled.attrs
    assert weighted["weight"].sum() == len(pooled)
    bins = np.arange(30.0, 111.0)
    for (band, r), sub in pooled.groupby(["band", "radius"], observed=True):
        w = weighted[(weighted["band"] == band) & (weighted["radius"] == r)]
        a = np.histogram(sub["value"], bins, density=True)[0]
        b = np.histogram(w["value"], bins, weights=w["weight"], density=True)[0]
        np.testing.assert_array_equal(a, b)
        # the multiplicities are the pooled counts of each neighbour
        counts = sub["neighbour"].value_counts().sort_index()
        assert w.set_index("neighbour")["weight"].sort_index().to_dict() == counts.to_dict()


@pytest.mark.parametrize("bad", [1.5, True])
def test_counts_are_integers_and_radii_are_not_truncated(bad: object) -> None:
    from nb201_flat.errors import ArgumentError

    f = np.arange(TINY.size, dtype=float)
    # 1.5 or True used to be a raw numpy TypeError here
    with pytest.raises(ArgumentError, match="length"):
        random_walk(TINY, bad, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="max_lag"):
        autocorrelation(TINY, f, seed=0, max_lag=bad)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="n_walks"):
        autocorrelation(TINY, f, seed=0, length=50, n_walks=bad)  # type: ignore[arg-type]
    # radii=(1.5,) used to be radius 1 (int() truncated it)
    with pytest.raises(ArgumentError, match="radius must lie in 1..3 .an int"):
        neighbour_distributions(TINY, f, {"all": (0, 26)}, radii=(bad,))  # type: ignore[arg-type]
    assert len(random_walk(TINY, np.int64(5), seed=0)) == 6


def test_a_walk_too_long_for_memory_is_refused_before_it_is_drawn() -> None:
    from nb201_flat.errors import ResourceLimitError

    with pytest.raises(ResourceLimitError, match="take fewer steps"):  # a MemoryError before
        random_walk(TINY, 10**14, seed=0)


def test_bands_are_pairs_of_numbers_and_an_infinite_end_is_open() -> None:
    f = np.arange(float(TINY.size))
    with pytest.raises(LandscapeArgumentError, match="must be a pair"):  # raw ValueError before
        neighbour_distributions(TINY, f, {"a": (0, 5, 6)})  # type: ignore[dict-item]
    with pytest.raises(LandscapeArgumentError, match="NaN end"):  # held nothing before
        neighbour_distributions(TINY, f, {"a": (np.nan, 5)})
    top = neighbour_distributions(TINY, f, {"top": (25, np.inf)}, radii=(1,))
    assert len(top) == 12


def test_pairs_may_be_arrays() -> None:
    # a band from np.nanpercentile, pairs read from a CSV with .to_numpy(), towards= an array:
    # each worked before the pair checks, and must give what the tuple gives
    from nb201_flat import landscape as ls

    f = np.arange(float(TINY.size))
    band = np.percentile(f, [80, 100])
    as_array = neighbour_distributions(TINY, f, {"top": band}, radii=(1,))
    as_tuple = neighbour_distributions(TINY, f, {"top": tuple(band.tolist())}, radii=(1,))
    assert as_array.equals(as_tuple)
    pairs = np.array([[0, 5], [7, 9]])
    assert ls.a2m_barriers(TINY, f, pairs).equals(ls.a2m_barriers(TINY, f, pairs.tolist()))
    grid = ls.projection_grid(TINY, f, 0, towards=np.array([1, 2]), lambdas=[0.0, 0.5])
    assert grid.equals(ls.projection_grid(TINY, f, 0, towards=(1, 2), lambdas=[0.0, 0.5]))
    with pytest.raises(LandscapeArgumentError, match="must be a pair"):
        neighbour_distributions(TINY, f, {"top": np.zeros((2, 2))})
    with pytest.raises(LandscapeArgumentError, match=r"^radii must be a sequence.*e\.g\. \[2\]$"):
        neighbour_distributions(TINY, f, {"top": band}, radii=2)  # type: ignore[arg-type]


def test_basins_connected_only_global_is_the_best_connected_cell() -> None:
    # the best cells overall are disconnected (none on the output path): the best connected
    # optimum is the global one of the filtered landscape
    cost = conv_count(TINY) + 0.1 * conv_count(TINY, 1) + np.arange(TINY.size) * 1e-3
    b = basins(TINY, cost, higher_is_better=False, connected_only=True)
    kept = TINY.connected
    assert cost[~kept].min() < cost[kept].min()  # the case: a better disconnected cell
    assert b["is_global"].tolist() == [True] + [False] * (len(b) - 1)
    assert b["index"].iloc[0] == np.flatnonzero(kept)[np.argmin(cost[kept])]


@pytest.mark.parametrize("flag", ["exact", "no_none", "connected_only"])
@pytest.mark.parametrize("weighted", [False, True])
def test_neighbour_distributions_refuses_a_non_bool_flag(flag: str, weighted: bool) -> None:
    f = np.arange(float(TINY.size))
    with pytest.raises(LandscapeArgumentError, match=f"^{flag} must be True or False, got 'no'$"):
        neighbour_distributions(
            TINY, f, {"t": (20, 26)}, radii=(1,), weighted=weighted, **{flag: "no"}
        )


def test_random_walk_refuses_a_disconnected_start_under_connected_only() -> None:
    cell = int(np.flatnonzero(~TINY.connected)[0])
    with pytest.raises(
        LandscapeArgumentError,
        match=f"^start {cell} is disconnected, outside the connected_only landscape; start at "
        "a connected architecture, or drop connected_only$",
    ):
        random_walk(TINY, 5, seed=0, start=cell, connected_only=True)
    assert random_walk(TINY, 5, seed=0, start=cell)[0] == cell  # unfiltered: any start
    ok = int(np.flatnonzero(TINY.connected)[0])
    assert TINY.connected[random_walk(TINY, 20, seed=0, start=ok, connected_only=True)].all()
