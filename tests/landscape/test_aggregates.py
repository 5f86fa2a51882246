"""The structural engine (per-axis dynamic programme, min/max passes) against the gather.

The gather (``neighbourhood._aggregate`` over ``Space.neighbours``) is the reference: every
statistic the engine serves must equal it over spaces, radii, filters and NaN policies.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.errors import ArgumentError, InvalidArchError
from nb201_flat.landscape import aggregates as ag
from nb201_flat.landscape import neighbourhood as nbm
from nb201_flat.landscape._common import LandscapeArgumentError
from nb201_flat.space import NB201, Space

FLAGS = list(itertools.product([True, False], repeat=5))  # exact, self, no_none, conn, propagate


def _values(space: Space, seed: int, nan_share: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(70.0, 8.0, space.size)
    v[rng.random(space.size) < nan_share] = np.nan
    return v


def _compare(space: Space, v: np.ndarray, radius: int, flags: tuple[bool, ...]) -> None:
    exact, include_self, no_none, connected_only, propagate = flags
    nb = space.neighbours(radius, exact=exact, no_none=no_none, connected_only=connected_only)
    wanted = ag.supports(("mean", "std", "min", "max"), radius, exact=exact)
    ref = nbm._aggregate(
        nb, v, include_self=include_self, wanted=wanted, q=0.5, delta=0.0, propagate=propagate
    )
    got = ag.ball_stats(
        space,
        v,
        radius,
        exact=exact,
        include_self=include_self,
        no_none=no_none,
        connected_only=connected_only,
        propagate=propagate,
        wanted=wanted,
    )
    for name in ("n", *wanted):
        # std: the one-pass formula is within ~1e-7 of the spread (values spread ~8 here)
        atol = 1e-5 if name == "std" else 1e-9
        np.testing.assert_allclose(
            got[name], ref[name], rtol=1e-9, atol=atol, equal_nan=True, err_msg=f"{name} {flags}"
        )
        assert np.array_equal(np.isnan(got[name]), np.isnan(ref[name])), (name, flags)


@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("flags", FLAGS)
def test_small_space_every_option_equals_the_gather(radius: int, flags: tuple[bool, ...]) -> None:
    space = Space(("none", "a", "b"), 3)  # 3 ops x 3 edges
    _compare(space, _values(space, radius, nan_share=0.2), radius, flags)


@pytest.mark.parametrize("radius", [1, 2])
@pytest.mark.parametrize("flags", FLAGS)
def test_nb201_with_nans_equals_the_gather(radius: int, flags: tuple[bool, ...]) -> None:
    _compare(NB201, _values(NB201, 10 + radius), radius, flags)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("radius", "flags"),
    [
        (3, (False, True, False, False, False)),
        (3, (True, False, True, True, True)),
        # the exact sphere only: the ball of radius 6 is the whole space (the test below)
        (6, (True, False, True, True, True)),
    ],
)
def test_nb201_large_radii_equal_the_gather(radius: int, flags: tuple[bool, ...]) -> None:
    try:
        _compare(NB201, _values(NB201, 20 + radius), radius, flags)
    finally:
        NB201.clear_cache()


def test_nb201_ball_of_radius_6_is_the_whole_space() -> None:
    # every cell is within 6 of every other: each ball's statistics are the space's own (the
    # gather would list 15,625 x 15,625 entries, ~25 s)
    v = _values(NB201, 26)
    wanted = ag.supports(("mean", "std", "min", "max"), 6, exact=False)
    got = ag.ball_stats(NB201, v, 6, exact=False, include_self=True, wanted=wanted)
    whole = {
        "n": np.isfinite(v).sum(),
        "mean": np.nanmean(v),
        "std": np.nanstd(v),
        "min": np.nanmin(v),
        "max": np.nanmax(v),
    }
    assert set(got) == set(whole)
    for name, value in whole.items():
        np.testing.assert_allclose(got[name], np.full(NB201.size, value), rtol=1e-9, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(
    n_ops=st.integers(2, 4),
    n_nodes=st.integers(3, 4),
    radius=st.integers(1, 6),
    flags=st.sampled_from(FLAGS),
    seed=st.integers(0, 2**16),
)
def test_random_spaces_equal_the_gather(
    n_ops: int, n_nodes: int, radius: int, flags: tuple[bool, ...], seed: int
) -> None:
    ops = ("none", "a", "b", "c")[:n_ops]
    space = Space(ops, n_nodes)
    _compare(space, _values(space, seed, nan_share=0.3), min(radius, space.n_edges), flags)


def test_exact_distance_sums_count_the_hamming_spheres() -> None:
    space = Space(("none", "a", "b", "c"), 3)
    sums = ag.exact_distance_sums(space, np.ones(space.size), 3)
    expected = [math.comb(3, d) * 3**d for d in range(4)]
    assert (sums == np.array(expected, dtype=float)[:, None]).all()
    # without substitutions to none, the counts vary and match the neighbour arrays
    nn = ag.exact_distance_sums(space, np.ones(space.size), 3, no_none=True)
    for d in (1, 2, 3):
        assert (nn[d] == space.neighbours(d, no_none=True).counts).all()


@pytest.mark.parametrize("none_code", [None, 0])
def test_blocked_programme_equals_the_plain_one(
    monkeypatch: pytest.MonkeyPatch, none_code: int | None
) -> None:
    # tiny cache blocks force the row-block / column-block passes on a small space; the
    # plain pass (no blocking) is checked against the gather by the tests above
    x = np.random.default_rng(3).normal(size=4**5)
    plain = ag.hamming_sums(x, 4, 5, 4, none_code)
    monkeypatch.setattr(ag, "_CACHE_BYTES", 1024)
    blocked = ag.hamming_sums(x, 4, 5, 4, none_code)
    np.testing.assert_allclose(blocked, plain, rtol=1e-12, atol=1e-12)
    within = ag.hamming_sums(x, 4, 5, 4, none_code, cumulative=True)
    np.testing.assert_allclose(within[1:], np.cumsum(plain[1:], axis=0), rtol=1e-12, atol=1e-12)
    # the counts of the blocked programme are the Hamming sphere sizes
    ones = ag.hamming_sums(np.ones(4**5), 4, 5, 4)
    assert (ones[:, 0] == [math.comb(5, d) * 3**d for d in range(5)]).all()


def test_official_index_is_permuted_in_and_out() -> None:
    # a value placed on one official index shows up exactly at its neighbours' indices
    arch = NB201.parse(
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    )
    v = np.zeros(NB201.size)
    v[arch.index] = 1.0
    sums = ag.exact_distance_sums(NB201, v, 2)
    assert np.flatnonzero(sums[0]).tolist() == [arch.index]
    for d in (1, 2):
        assert sorted(np.flatnonzero(sums[d]).tolist()) == sorted(
            NB201.neighbours(d).of(arch.index).tolist()
        )


def test_radius_profile_equals_ball_stats_at_each_radius() -> None:
    v = _values(NB201, 3)
    prof = ag.radius_profile(NB201, v, 3, exact=False, include_self=True, connected_only=True)
    for r in (1, 2, 3):
        st_r = ag.ball_stats(
            NB201, v, r, exact=False, include_self=True, connected_only=True, wanted=("mean", "std")
        )
        for name in ("n", "mean", "std"):
            np.testing.assert_allclose(prof[name][r - 1], st_r[name], rtol=1e-12, equal_nan=True)


def test_ball_min_and_max_by_passes() -> None:
    space = Space(("none", "a", "b"), 4)  # 6 edges, 729 cells
    v = _values(space, 5)
    for r, self_, nn in itertools.product(range(1, 7), [True, False], [True, False]):
        nb = space.neighbours(r, exact=False, no_none=nn)
        ref = nbm._aggregate(
            nb, v, include_self=self_, wanted=("min", "max"), q=0.5, delta=0.0, propagate=False
        )
        lo = ag.ball_min(space, v, r, include_self=self_, no_none=nn)
        hi = -ag.ball_min(space, -v, r, include_self=self_, no_none=nn)
        np.testing.assert_array_equal(np.where(np.isinf(lo), np.nan, lo), ref["min"])
        np.testing.assert_array_equal(np.where(np.isinf(hi), np.nan, hi), ref["max"])


def test_neighbour_rows_match_the_cached_matrix() -> None:
    rng = np.random.default_rng(0)
    rows = rng.choice(NB201.size, 40, replace=False)
    for r, exact, nn, conn in itertools.product(
        [1, 2], [True, False], [True, False], [True, False]
    ):
        nb = NB201.neighbours(r, exact=exact, no_none=nn, connected_only=conn)
        got = ag.neighbour_rows(NB201, rows, r, exact=exact, no_none=nn, connected_only=conn)
        for i, row in zip(rows.tolist(), got, strict=True):
            assert sorted(row[row >= 0].tolist()) == sorted(nb.of(i).tolist())


def test_fewest_neighbours_without_the_matrix_equal_its_smallest_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # NeighbourRows.fewest counts one cell per set of `none` edges where the matrix is not
    # cached (the NA search's up-front budget check, radius 4 and up on NB201): the same
    # minimum as the whole matrix, for every filter; `none` first and not first
    small = Space(("avg", "none", "conv"), 4)  # 729 cells, 6 edges
    cases = [(NB201, r) for r in (1, 2)] + [(small, r) for r in range(1, 7)]
    for (space, r), exact, nn, conn in itertools.product(
        cases, [True, False], [True, False], [True, False]
    ):
        rows = ag.NeighbourRows(space, r, exact, nn, conn)
        smallest = int(
            space.neighbours(r, exact=exact, no_none=nn, connected_only=conn).counts.min()
        )
        with monkeypatch.context() as m:
            # not cached, and the 2**edges rows within the limit
            m.setattr(ag, "CACHE_ENTRIES_LIMIT", (1 << space.n_edges) * rows.width)
            assert not rows.cached
            assert rows.fewest == smallest, (space, r, exact, nn, conn)
            m.setattr(ag, "CACHE_ENTRIES_LIMIT", (1 << space.n_edges) * rows.width - 1)
            assert rows.fewest == (rows.width if rows.full else None)
        assert rows.fewest == smallest  # cached: the matrix's own counts
        space.clear_cache()
    # no `none` op: every cell is connected, so connected_only would cut nothing: refused,
    # as no_none is
    for flag in ("connected_only", "no_none"):
        with pytest.raises(ArgumentError, match=f"^{flag}=True .*; drop {flag} for this space$"):
            ag.NeighbourRows(Space(("a", "b", "c"), 3), 2, **{flag: True})


def test_lazy_rows_give_the_same_quantiles(monkeypatch: pytest.MonkeyPatch) -> None:
    v = _values(NB201, 8)
    kwargs = dict(radius=2, exact=False, no_none=True, connected_only=True, quantile=0.3)
    cached = nbm.flatness(NB201, v, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(ag, "CACHE_ENTRIES_LIMIT", 0)
    assert not ag.NeighbourRows(NB201, 2, exact=False).cached
    lazy = nbm.flatness(NB201, v, **kwargs)  # type: ignore[arg-type]
    for col in ("median", "quantile", "share_within_delta", "n", "mean"):
        np.testing.assert_array_equal(lazy[col].to_numpy(), cached[col].to_numpy())


def test_public_functions_use_the_engine_and_agree_with_the_gather() -> None:
    v = _values(NB201, 4)
    df = nbm.flatness(NB201, v, 2, exact=False, include_self=True)
    nb = NB201.neighbours(2, exact=False)
    ref = nbm._aggregate(
        nb,
        v,
        include_self=True,
        wanted=("mean", "median", "min", "max", "std", "quantile", "share"),
        q=0.25,
        delta=1.0,
        propagate=False,
    )
    for col, key in [("mean", "mean"), ("std", "std"), ("min", "min"), ("max", "max"), ("n", "n")]:
        np.testing.assert_allclose(df[col].to_numpy(), ref[key], rtol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(df["median"].to_numpy(), ref["median"])
    # exact radius 2: min/max come from the gather, mean from the engine
    s = nbm.neighbourhood_score(NB201, v, 2, agg="min", exact=True)
    ref2 = nbm._aggregate(
        NB201.neighbours(2), v, include_self=False, wanted=("min",), q=0.5, delta=0, propagate=False
    )
    np.testing.assert_array_equal(s, ref2["min"])


def test_errors_name_the_problem() -> None:
    space = Space(("a", "b"), 3)
    v = np.zeros(space.size)
    with pytest.raises(LandscapeArgumentError, match="'none'"):
        ag.ball_stats(space, v, 1, no_none=True)
    with pytest.raises(LandscapeArgumentError, match="gather"):
        ag.ball_stats(space, v, 1, wanted=("median",))
    with pytest.raises(LandscapeArgumentError, match="exact radius"):
        ag.ball_stats(space, v, 2, exact=True, wanted=("min",))
    with pytest.raises(LandscapeArgumentError, match="radius"):
        ag.ball_stats(space, v, 4)
    with pytest.raises(LandscapeArgumentError, match="shape"):
        ag.ball_stats(space, v[:3], 1)
    with pytest.raises(ArgumentError, match="radius must lie in 1..3, got 0"):
        ag.NeighbourRows(space, 0)


def test_doctests() -> None:
    import doctest

    result = doctest.testmod(ag, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("radius", [2, 3])
@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=4)))
def test_min_max_at_an_exact_radius_equal_the_gather(radius: int, flags: tuple[bool, ...]) -> None:
    include_self, no_none, connected_only, propagate = flags
    space = Space(("none", "a", "b"), 3)
    v = _values(space, 7 + radius, nan_share=0.05 if propagate else 0.3)
    nb = ag.NeighbourRows(space, radius, True, no_none, connected_only)
    opts = {"include_self": include_self, "q": 0.5, "delta": 0.0, "propagate": propagate}
    got = nbm._stats(nb, v, wanted=("min", "max"), **opts)
    ref = nbm._aggregate(nb, v, wanted=("min", "max"), **opts)
    for name in ("n", "min", "max"):
        np.testing.assert_array_equal(got[name], ref[name], err_msg=f"{name} {flags}")
    # the (min, +) programme alone, on NB201's permuted index, against its neighbour arrays
    w = _values(NB201, radius, nan_share=0.0)
    members = NB201.neighbours(radius).indices
    assert (ag.sphere_min(NB201, w, radius) == w[members].min(axis=1)).all()


def test_rows_of_one_cell_equal_the_cached_rows_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # the NA search charges neighbours in this order: rebuilt rows must keep it exactly
    rng = np.random.default_rng(1)
    for r, exact, nn, conn in itertools.product(
        [1, 3], [True, False], [True, False], [True, False]
    ):
        nb = NB201.neighbours(r, exact=exact, no_none=nn, connected_only=conn)
        rows = ag.NeighbourRows(NB201, r, exact, nn, conn)
        with monkeypatch.context() as m:
            m.setattr(ag, "CACHE_ENTRIES_LIMIT", 0)
            for i in rng.choice(NB201.size, 5, replace=False).tolist():
                np.testing.assert_array_equal(rows.of(i), nb.of(i))
        assert np.array_equal(rows.of(7), nb.of(7))  # cached: the space's own arrays
    NB201.clear_cache()


@pytest.mark.parametrize("none_code", [None, 1])
def test_threads_and_single_row_give_the_same_bits(
    monkeypatch: pytest.MonkeyPatch, none_code: int | None
) -> None:
    x = np.random.default_rng(4).normal(size=(3, 5**5))
    monkeypatch.setattr(ag, "_CACHE_BYTES", 4096)  # many blocks in both phases
    monkeypatch.setattr(ag, "_THREADS_FROM_BYTES", 0)  # and threads even on a small space
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("NB201_FLAT_THREADS", threads)
        acc = np.empty((5, 3, 5**5))
        acc[0] = x
        full = ag._programme(acc.copy(), 5, 5, none_code, cumulative=True)
        one = ag._programme(acc.copy(), 5, 5, none_code, cumulative=True, row=3)
        assert np.array_equal(one, full[3])
        results.append(full)
    assert np.array_equal(results[0], results[1])
    # each channel as if alone, on the plain (unblocked) programme
    monkeypatch.setattr(ag, "_CACHE_BYTES", 1 << 30)
    for c in range(3):
        alone = ag.hamming_sums(x[c], 5, 5, 4, none_code, cumulative=True)
        np.testing.assert_allclose(results[0][:, c], alone, rtol=1e-12, atol=1e-12)
    for bad in ("two", "0", "-4"):  # 0 and -4 ran on one thread, as if asked for
        monkeypatch.setenv("NB201_FLAT_THREADS", bad)
        with pytest.raises(LandscapeArgumentError, match="NB201_FLAT_THREADS"):
            ag._workers()


def test_radius_profile_computes_only_what_is_asked() -> None:
    space = Space(("none", "a", "b"), 4)
    v = _values(space, 9, nan_share=0.0)
    full = ag.radius_profile(space, v, 3)
    only_mean = ag.radius_profile(space, v, 3, wanted=("mean",))
    assert set(only_mean) == {"n", "mean"}
    np.testing.assert_array_equal(only_mean["mean"], full["mean"])
    # no NaN, no filter: every count is the sphere size, held once (read-only view)
    assert not full["n"].flags.writeable and full["n"].shape == (3, space.size)
    assert full["n"][:, 0].tolist() == [12.0, 72.0, 232.0]
    with pytest.raises(LandscapeArgumentError, match="median"):
        ag.radius_profile(space, v, 3, wanted=("median",))


def test_sums_beyond_the_diameter_add_no_cells() -> None:
    x = np.arange(8.0)
    exact = ag.hamming_sums(x, 2, 3, 5)
    within = ag.hamming_sums(x, 2, 3, 5, cumulative=True)
    assert (exact[4:] == 0).all()
    assert (within[4:] == within[3]).all() and (within[3] == x.sum() - x).all()


def test_structural_sums_refuse_what_would_spread_over_the_space() -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.landscape.aggregates import ball_stats, exact_distance_sums, radius_profile

    space = Space(("none", "skip", "conv"), 3)
    f = np.arange(float(space.size))
    g = f.copy()
    g[4] = np.nan
    # a NaN (documented "mask NaNs to 0 first") used to make every cell's sums NaN
    with pytest.raises(ArgumentError, match="got NaN"):
        exact_distance_sums(space, g, 2)
    f_inf = f.copy()
    f_inf[0] = np.inf
    with pytest.raises(ArgumentError, match="infinite"):
        ball_stats(space, f_inf, 1)
    # radius 1.5 used to be radius 1
    for call in (
        lambda r: ball_stats(space, f, r),
        lambda r: radius_profile(space, f, r),
        lambda r: exact_distance_sums(space, f, r),
    ):
        with pytest.raises(ArgumentError, match="radius must lie"):
            call(1.5)
    assert ball_stats(space, f, np.int64(1))["n"][0] == 6


def _numpy_std(space: Space, v: np.ndarray, cells: np.ndarray, radius: int, exact: bool) -> list:
    nb = space.neighbours(radius, exact=exact)
    return [float(np.std(v[nb.of(int(c))])) for c in cells]


@pytest.mark.parametrize("big", [1e8, 1e12, 1e150])
@pytest.mark.parametrize(("radius", "exact"), [(1, True), (2, True), (2, False)])
def test_a_large_value_leaves_the_spread_of_neighbourhoods_without_it(
    big: float, radius: int, exact: bool
) -> None:
    # the rounding floor once scaled with the whole vector's largest deviation: one 1e8
    # anywhere read thousands of spreads as 0, larger ones left noise for std
    v = _values(NB201, 11, nan_share=0.0)
    w = v.copy()
    w[0] = -big
    got = ag.ball_stats(NB201, w, radius, exact=exact)["std"]
    clean = ag.ball_stats(NB201, v, radius, exact=exact)["std"]
    near = np.zeros(NB201.size, dtype=bool)
    near[NB201.neighbours(radius, exact=False).of(0)] = True
    near[0] = True
    assert (got > 0).all()
    np.testing.assert_allclose(got[~near], clean[~near], rtol=1e-6)
    cells = np.array([11472, 0, *NB201.neighbours(1).of(0)[:3]])
    np.testing.assert_allclose(got[cells], _numpy_std(NB201, w, cells, radius, exact), rtol=1e-6)
    prof = ag.radius_profile(NB201, w, radius, exact=exact)
    np.testing.assert_array_equal(prof["std"][radius - 1], got)


def test_equal_neighbours_next_to_a_large_value_have_std_exactly_zero() -> None:
    v = np.full(NB201.size, 0.1)
    v[0] = 1e8
    st_ = ag.ball_stats(NB201, v, 1, wanted=("mean", "std"))
    # equal members (cell 0 itself: its neighbours) round next to 1e8 in the sums
    far = np.ones(NB201.size, dtype=bool)
    far[NB201.neighbours(1).of(0)] = False
    assert (st_["std"][far] == 0.0).all()
    assert st_["mean"][0] == 0.1
    mixed = ag.ball_stats(NB201, v, 1)["std"][NB201.neighbours(1).of(0)]
    assert (mixed > 0).all()


@pytest.mark.parametrize("big", [1e160, 1.7e308, -1.7e308])
def test_a_value_whose_square_overflows_is_refused_naming_its_cell(big: float) -> None:
    v = _values(NB201, 12, nan_share=0.0)
    v[4321] = big
    with pytest.raises(LandscapeArgumentError, match=r"of cell 4321 is too large") as err:
        ag.ball_stats(NB201, v, 1)
    assert "\n" not in str(err.value)
    with pytest.raises(LandscapeArgumentError, match=r"of cell 4321"):
        ag.radius_profile(NB201, v, 2)
    v[4321] = 1e150  # its square still fits: served, not refused
    assert np.isfinite(ag.ball_stats(NB201, v, 1)["std"]).all()


def test_a_huge_own_value_of_a_disconnected_cell_is_refused_with_include_self() -> None:
    # connected_only left it out of the check, but include_self still counts it: std was NaN
    # with overflow warnings and no word
    cell = 10  # node 3 takes only "none" edges
    assert not NB201.connected[cell]
    v = _values(NB201, 12, nan_share=0.0)
    v[cell] = 1e200
    with pytest.raises(LandscapeArgumentError, match=rf"of cell {cell} is too large") as err:
        ag.ball_stats(NB201, v, 1, include_self=True, connected_only=True)
    assert "\n" not in str(err.value)
    with pytest.raises(LandscapeArgumentError, match=rf"of cell {cell} is too large"):
        ag.radius_profile(NB201, v, 2, include_self=True, connected_only=True)
    # not counted without include_self: served
    assert np.isfinite(
        ag.ball_stats(NB201, v, 1, connected_only=True)["std"][NB201.connected]
    ).all()


def test_a_constant_vector_is_not_recomputed_member_by_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a floor of 0 means the sums were exact: recomputing every cell from its members took
    # 35 s for radius_profile to radius 6 on NB201 (0.005 s before the per-cell floor)
    from nb201_flat.landscape import aggregates
    from nb201_flat.space import NB201

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed a cell whose sums were exact")

    monkeypatch.setattr(aggregates, "_exact_mean_std", refuse)
    v = np.full(NB201.size, 10.0)
    prof = aggregates.radius_profile(NB201, v, 6)
    st = aggregates.ball_stats(NB201, v, 3)
    assert (prof["std"] == 0).all() and (prof["mean"] == 10.0).all()
    assert (st["std"] == 0).all() and (st["mean"] == 10.0).all()


def test_a_plateau_reads_its_few_cells_floors_from_their_balls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a few cells with equal members (a plateau) made every cell's floor at every radius come
    # from passes over the whole space: radius_profile to 6 on a piecewise-constant NB201
    # vector took 2-3 times the default's time
    v = _values(NB201, 21, nan_share=0.0)
    plateau = np.r_[0, NB201.neighbours(2, exact=False).of(0)]  # the radius-2 ball of cell 0
    v[plateau] = 50.0
    inner = np.r_[0, NB201.neighbours(1).of(0)]  # their radius-1 neighbours: all at 50
    expected = [ag.ball_stats(NB201, v, r, exact=False) for r in range(1, 7)]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("passes over the whole space for the floors of a few cells")

    monkeypatch.setattr(ag._Moments, "tops", refuse)
    prof = ag.radius_profile(NB201, v, 6)
    for r, st_r in enumerate(expected, start=1):
        for name in ("mean", "std"):
            np.testing.assert_array_equal(prof[name][r - 1], st_r[name])
    assert (prof["std"][0, inner] == 0.0).all() and (prof["mean"][0, inner] == 50.0).all()
    assert prof["std"][1, 0] == 0.0 and prof["mean"][1, 0] == 50.0
    _compare(NB201, v, 1, (False, False, False, False, False))


def _exact_means(
    space: Space, v: np.ndarray, radius: int, flags: tuple[bool, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's mean from its members by a correctly rounded sum, and the members' largest
    distance from the first (what a mean of them can be exact to)."""
    exact, include_self, no_none, connected_only = flags
    nb = space.neighbours(radius, exact=exact, no_none=no_none, connected_only=connected_only)
    ref, spread = np.full(space.size, np.nan), np.zeros(space.size)
    for c in range(space.size):
        m = v[nb.of(c)]
        if include_self:
            m = np.r_[v[c], m]
        m = m[~np.isnan(m)]
        if m.size:
            ref[c] = math.fsum(m) / m.size
            spread[c] = np.abs(m - m[0]).max()
    return ref, spread


def _wide_range(space: Space, seed: int, big: float, signs: bool) -> np.ndarray:
    # small values (mixed signs or not), NaN, and a few cells far away (a sentinel, or a
    # zero-cost proxy's range): the sums' one shift is far from most cells' members
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, 3.0, space.size) if signs else rng.uniform(0.1, 10.0, space.size)
    v[rng.random(space.size) < 0.1] = np.nan
    far = rng.choice(space.size, 3, replace=False)
    v[far] = big * (np.array([1.0, -1.0, 1.0]) if signs else 1.0)
    return v


def _assert_ulps(
    got: np.ndarray, ref: np.ndarray, spread: np.ndarray, what: str, rtol: float = 0.0
) -> None:
    # a few ulps of the mean, or of the members' spread (where they cancel, no mean of the
    # values as stored is closer); `rtol` where a mean may be served from the sums (its bound)
    eps = np.finfo(np.float64).eps
    assert np.array_equal(np.isnan(got), np.isnan(ref)), what
    ok = ~np.isnan(ref)
    err = np.abs(got[ok] - ref[ok])
    tol = np.maximum(8 * eps * np.maximum(np.abs(ref[ok]), spread[ok]), rtol * np.abs(ref[ok]))
    worst = int(np.argmax(err / tol))
    assert (err <= tol).all(), f"{what}: {got[ok][worst]!r} vs {ref[ok][worst]!r}"


@pytest.mark.parametrize(
    ("big", "signs"), [(1e16, False), (1e20, False), (-1e8, False), (1e16, True), (1e20, True)]
)
@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("flags", list(itertools.product([True, False], repeat=4)))
def test_means_next_to_far_values_equal_their_members_mean(
    big: float, signs: bool, radius: int, flags: tuple[bool, ...]
) -> None:
    # a mean without the std skipped the floor and recompute: the small values' means lost
    # every digit to the shift (1e20 next to ones: means of 0.0 for 1.0). Here the shift is
    # far from every small value, so each of their means is recomputed: to a few ulps.
    space = Space(("none", "a", "b"), 3)
    v = _wide_range(space, radius, big, signs)
    ref, spread = _exact_means(space, v, radius, flags)
    exact, include_self, no_none, connected_only = flags
    opts: dict[str, Any] = dict(
        exact=exact, include_self=include_self, no_none=no_none, connected_only=connected_only
    )
    for wanted in (("mean",), ("mean", "std")):
        got = ag.ball_stats(space, v, radius, wanted=wanted, **opts)["mean"]
        _assert_ulps(got, ref, spread, f"ball_stats {wanted} {flags}")
        prof = ag.radius_profile(space, v, radius, wanted=wanted, **opts)["mean"][radius - 1]
        _assert_ulps(prof, ref, spread, f"radius_profile {wanted} {flags}")
    score = nbm.neighbourhood_score(space, v, radius, agg="mean", **opts)
    _assert_ulps(score, ref, spread, f"neighbourhood_score {flags}")


@pytest.mark.parametrize(("big", "signs"), [(1e16, False), (1e20, True), (-1e12, False)])
@pytest.mark.parametrize(("radius", "exact"), [(1, True), (2, True), (4, False), (6, False)])
def test_means_next_to_far_values_on_a_larger_space(
    big: float, signs: bool, radius: int, exact: bool
) -> None:
    # a mean kept from the sums is within 1e-9 of itself by its bound (_TRUST_MEAN)
    space = Space(("none", "a", "b", "c"), 4)  # 4096 cells, 6 edges
    v = _wide_range(space, 7, big, signs=signs)
    ref, spread = _exact_means(space, v, radius, (exact, False, False, False))
    got = ag.ball_stats(space, v, radius, exact=exact, wanted=("mean",))["mean"]
    _assert_ulps(got, ref, spread, "ball_stats", rtol=1e-9)
    prof = ag.radius_profile(space, v, radius, exact=exact, wanted=("mean",))
    _assert_ulps(prof["mean"][radius - 1], ref, spread, "radius_profile", rtol=1e-9)


def test_a_mean_only_call_takes_values_up_to_the_sums_limit() -> None:
    # no squares without the std: values whose squares would overflow are served, and their
    # neighbours' means are still exact
    space = Space(("none", "a", "b"), 3)
    v = _values(space, 3, nan_share=0.0)
    v[5] = 0.45 * np.finfo(np.float64).max / space.size
    flags = (True, False, False, False)
    ref, spread = _exact_means(space, v, 1, flags)
    _assert_ulps(ag.ball_stats(space, v, 1, wanted=("mean",))["mean"], ref, spread, "mean")
    _assert_ulps(ag.radius_profile(space, v, 1, wanted=("mean",))["mean"][0], ref, spread, "rp")
    with pytest.raises(LandscapeArgumentError, match="of cell 5 is too large"):
        ag.ball_stats(space, v, 1, wanted=("mean", "std"))
    v[5] = 0.55 * np.finfo(np.float64).max / space.size
    with pytest.raises(LandscapeArgumentError, match="of cell 5 is too large for the"):
        ag.ball_stats(space, v, 1, wanted=("mean",))


CUBE_NONE = Space(("none", "a", "b"), 3)  # 27 cells, some disconnected
VALS = np.linspace(1.0, 2.0, CUBE_NONE.size)


@pytest.mark.parametrize(
    "call",
    [
        lambda f: ag.ball_stats(CUBE_NONE, VALS, 1, connected_only=f),
        lambda f: ag.ball_stats(CUBE_NONE, VALS, 1, propagate=f),
        lambda f: ag.ball_stats(CUBE_NONE, VALS, 1, include_self=f),
        lambda f: ag.ball_stats(CUBE_NONE, VALS, 1, exact=f),
        lambda f: ag.ball_min(CUBE_NONE, VALS, 1, include_self=f),
        lambda f: ag.sphere_min(CUBE_NONE, VALS, 2, connected_only=f),
        lambda f: ag.radius_profile(CUBE_NONE, VALS, 2, exact=f),
        lambda f: ag.neighbour_rows(CUBE_NONE, [0], 1, connected_only=f),
    ],
)
def test_the_aggregates_yes_no_options_are_bools(call: Any) -> None:
    # "no" was read as yes (filtered, propagated, the cell itself included), or met a bare
    # TypeError (int + str)
    with pytest.raises(ArgumentError, match="must be True or False, got 'no'"):
        call("no")
    call(np.False_)


@pytest.mark.parametrize(("rows", "said"), [([-1], "-1"), ([27], "27"), ([2.5], "2.5")])
def test_neighbour_rows_refuses_what_is_not_a_cell(rows: list[float], said: str) -> None:
    # -1 read the last row and 2.5 row 2; 27 wrapped round to cell 0 (or an IndexError)
    with pytest.raises(
        InvalidArchError, match=rf"rows must be whole numbers in 0\.\.26, got {said}"
    ):
        ag.neighbour_rows(CUBE_NONE, rows, 1)
    with pytest.raises(InvalidArchError, match="a bool array is a mask"):
        ag.neighbour_rows(CUBE_NONE, np.array([True]), 1)
    assert (
        ag.neighbour_rows(CUBE_NONE, [26.0], 1).tolist()
        == ag.neighbour_rows(CUBE_NONE, [26], 1).tolist()
    )


def test_hamming_sums_read_their_arguments_as_given() -> None:
    # radius 1.5 summed distance 1 alone, n_ops 2.5 ran as 2, a list met a bare
    # AttributeError, none_code 7 an IndexError, one NaN spread to every distance-2 sum, and
    # wanted='mean' was read letter by letter
    from nb201_flat.errors import ArgumentError

    x = np.arange(4.0)
    for call, said in (
        (lambda: ag.hamming_sums(x, 2, 2, 1.5), "^radius must be >= 0 .an int, not a float"),
        (lambda: ag.hamming_sums(x, 2.5, 2, 2), "^n_ops must be >= 2 .an int, not a float"),
        (lambda: ag.hamming_sums(x, 2, 2, 2, none_code=7), "^none_code must lie in 0..1"),
        (lambda: ag.hamming_sums(np.array([np.nan, 1, 2, 3]), 2, 2, 2), "^x holds NaN"),
        (lambda: ag.ball_stats(NB201, np.ones(NB201.size), 1, wanted="mean"), r"pass \('mean',\)"),
        (
            lambda: ag.radius_profile(NB201, np.ones(NB201.size), 2, wanted="std"),
            r"pass \('std',\)",
        ),
    ):
        with pytest.raises(ArgumentError, match=said):
            call()
    assert (
        ag.hamming_sums([0.0, 1.0, 2.0, 3.0], 2, 2, 2).tolist()
        == ag.hamming_sums(x, 2, 2, 2).tolist()
    )
