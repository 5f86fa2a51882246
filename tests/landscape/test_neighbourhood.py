"""Neighbourhood flatness: closed forms, brute force, NaN policies, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.errors import ArgumentError, Nb201FlatError
from nb201_flat.landscape import (
    LandscapeArgumentError,
    MissingValueError,
    flatness,
    neighbourhood_score,
)
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.space import NB201, Space

TINY = Space(("none", "skip", "conv"), 3)  # the tiny_space fixture, at module level for hypothesis
CONV = 2


def conv_count(space: Space) -> np.ndarray:
    return (space.codes == CONV).sum(axis=1).astype(float)


def brute_members(
    space: Space,
    i: int,
    radius: int,
    *,
    exact: bool = True,
    include_self: bool = False,
    no_none: bool = False,
    connected_only: bool = False,
) -> list[int]:
    """Neighbourhood by definition: loop over every cell."""
    codes = space.codes.astype(int)
    none = space.ops.index("none") if "none" in space.ops else -1
    out = [i] if include_self else []
    for j in range(space.size):
        changed = codes[i] != codes[j]
        d = int(changed.sum())
        if not (d == radius if exact else 1 <= d <= radius):
            continue
        if no_none and (codes[j][changed] == none).any():
            continue
        if connected_only and not space.connected[j]:
            continue
        out.append(j)
    return out


def test_conv_count_closed_form() -> None:
    # an arch with c convs has 2c neighbours at c-1, (3-c) at c and (3-c) at c+1
    df = flatness(TINY, conv_count(TINY), radius=1, quantile=0.25, delta=0.5)
    for i, c in enumerate(conv_count(TINY).astype(int)):
        vals = [c - 1] * (2 * c) + [c] * (3 - c) + [c + 1] * (3 - c)
        row = df.loc[i]
        assert row["value"] == c
        assert row["n"] == 6
        assert row["mean"] == pytest.approx((2 * c * (c - 1) + (3 - c) * (2 * c + 1)) / 6)
        assert row["min"] == (c - 1 if c > 0 else 0)
        assert row["max"] == (c + 1 if c < 3 else 2)
        assert row["median"] == pytest.approx(np.median(vals))
        assert row["quantile"] == pytest.approx(np.quantile(vals, 0.25))
        assert row["std"] == pytest.approx(np.std(vals))
        assert row["sharpness"] == pytest.approx(c - np.mean(vals))
        assert row["share_within_delta"] == pytest.approx((3 - c) / 6)


def test_plateau_is_flat_and_isolated_peak_is_sharp() -> None:
    f = np.full(TINY.size, 70.0)
    peak = 13
    f[peak] = 95.0
    df = flatness(TINY, f, radius=1, delta=1.0)
    peak_nbrs = set(TINY.neighbours(1).of(peak).tolist())
    plateau = [i for i in range(TINY.size) if i != peak and i not in peak_nbrs]
    assert df.loc[peak, "sharpness"] == 25.0
    assert df.loc[peak, "std"] == 0.0
    assert df.loc[peak, "share_within_delta"] == 0.0
    assert (df.loc[plateau, "sharpness"] == 0).all()
    assert (df.loc[plateau, "std"] == 0).all()
    assert (df.loc[plateau, "share_within_delta"] == 1).all()
    # a neighbour of the peak sees it once among its 6 neighbours
    j = next(iter(peak_nbrs))
    assert df.loc[j, "mean"] == pytest.approx(70 + 25 / 6)
    assert df.loc[j, "max"] == 95.0


def test_ties_in_quantiles_and_include_self() -> None:
    f = np.zeros(TINY.size)
    df = flatness(TINY, f, radius=2, include_self=True, quantile=0.9)
    assert (df["n"] == 1 + 12).all()
    assert (df[["mean", "median", "min", "max", "quantile", "std", "sharpness"]] == 0).all().all()


@pytest.mark.parametrize("radius", [1, 2, 3])
@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize(
    ("no_none", "connected_only"), [(False, False), (True, False), (False, True)]
)
def test_matches_brute_force(radius: int, exact: bool, no_none: bool, connected_only: bool) -> None:
    rng = np.random.default_rng(radius)
    f = rng.normal(size=TINY.size).round(1)  # rounding makes ties
    for include_self in (False, True):
        df = flatness(
            TINY,
            f,
            radius,
            exact=exact,
            include_self=include_self,
            no_none=no_none,
            connected_only=connected_only,
            quantile=0.3,
            delta=0.4,
        )
        for i in range(TINY.size):
            m = brute_members(
                TINY,
                i,
                radius,
                exact=exact,
                include_self=include_self,
                no_none=no_none,
                connected_only=connected_only,
            )
            vals = f[m]
            row = df.loc[i]
            assert row["n"] == len(m)
            if not m:
                assert np.isnan(row["mean"])
                continue
            assert row["mean"] == pytest.approx(vals.mean())
            assert row["median"] == pytest.approx(np.median(vals))
            assert row["quantile"] == pytest.approx(np.quantile(vals, 0.3))
            assert row["min"] == vals.min()
            assert row["max"] == vals.max()
            # a spread needs two values: one member's std is undefined, not 0
            want_std = vals.std() if len(m) >= 2 else np.nan
            assert row["std"] == pytest.approx(want_std, abs=1e-12, nan_ok=True)
            assert row["share_within_delta"] == pytest.approx(np.mean(np.abs(vals - f[i]) <= 0.4))


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.one_of(st.integers(0, 5).map(float), st.just(float("nan"))),
        min_size=TINY.size,
        max_size=TINY.size,
    ),
    radius=st.integers(1, 3),
    include_self=st.booleans(),
    q=st.floats(0, 1),
)
def test_nan_policies_property(
    data: list[float], radius: int, include_self: bool, q: float
) -> None:
    f = np.array(data)
    omit = flatness(TINY, f, radius, include_self=include_self, quantile=q, nan_policy="omit")
    prop = flatness(TINY, f, radius, include_self=include_self, quantile=q, nan_policy="propagate")
    for i in range(TINY.size):
        m = brute_members(TINY, i, radius, include_self=include_self)
        vals = f[m]
        ok = vals[~np.isnan(vals)]
        r = omit.loc[i]
        assert r["n"] == len(ok)
        if len(ok):
            assert r["mean"] == pytest.approx(ok.mean())
            assert r["quantile"] == pytest.approx(np.quantile(ok, q))
            assert r["median"] == pytest.approx(np.median(ok))
            assert r["min"] == ok.min() and r["max"] == ok.max()
            want_std = ok.std() if len(ok) >= 2 else np.nan  # one value has no spread
            assert r["std"] == pytest.approx(want_std, abs=1e-12, nan_ok=True)
        else:
            assert np.isnan(r[["mean", "median", "min", "max", "std", "quantile"]]).all()
        if np.isnan(f[i]):
            assert np.isnan(r["value"]) and np.isnan(r["sharpness"])
            assert np.isnan(r["share_within_delta"])
        p = prop.loc[i]
        assert p["n"] == len(m)
        if np.isnan(vals).any():
            assert np.isnan(p[["mean", "median", "min", "max", "std", "quantile"]]).all()
        else:
            assert p["mean"] == pytest.approx(vals.mean())
    for agg in ("mean", "median", "min", "max", "quantile", "std"):
        col = "quantile" if agg == "quantile" else agg
        level = q if agg == "quantile" else None  # quantile= applies to agg="quantile" only
        s = neighbourhood_score(TINY, f, radius, agg=agg, quantile=level, include_self=include_self)
        np.testing.assert_allclose(s, omit[col].to_numpy(), rtol=1e-12, atol=1e-12)


def test_nan_hand_computed() -> None:
    f = conv_count(TINY)
    i = TINY.from_ops(["conv", "conv", "conv"]).index
    nbrs = TINY.neighbours(1).of(i)
    f[nbrs[0]] = np.nan  # one of the six neighbours at value 2 goes missing
    omit = flatness(TINY, f, 1).loc[i]
    assert omit["n"] == 5 and omit["mean"] == 2.0 and omit["sharpness"] == 1.0
    prop = flatness(TINY, f, 1, nan_policy="propagate").loc[i]
    assert prop["n"] == 6 and np.isnan(prop["mean"]) and np.isnan(prop["sharpness"])
    with pytest.raises(MissingValueError, match="1 NaN entry"):
        flatness(TINY, f, 1, nan_policy="raise")
    with pytest.raises(MissingValueError):
        neighbourhood_score(TINY, f, 1, nan_policy="raise")


def test_bad_arguments() -> None:
    f = conv_count(TINY)
    with pytest.raises(LandscapeArgumentError, match="vector over the 27"):
        flatness(TINY, f[:-1])
    with pytest.raises(LandscapeArgumentError, match="agg must be one of"):
        neighbourhood_score(TINY, f, agg="average")  # type: ignore[arg-type]
    with pytest.raises(LandscapeArgumentError, match="nan_policy"):
        flatness(TINY, f, nan_policy="ignore")  # type: ignore[arg-type]
    with pytest.raises(LandscapeArgumentError, match="quantile"):
        flatness(TINY, f, quantile=1.5)
    with pytest.raises(LandscapeArgumentError, match="delta"):
        flatness(TINY, f, delta=-1)
    with pytest.raises(ArgumentError, match=r"^radius must lie in 1\.\.3, got 4; pass"):
        flatness(TINY, f, radius=4)
    with pytest.raises(Nb201FlatError):
        neighbourhood_score(TINY, f, radius=0)


def test_nb201_sizes_and_fast_path() -> None:
    f = conv_count(NB201)
    for r, size in [(1, 24), (2, 240)]:
        df = flatness(NB201, f, r)
        assert (df["n"] == size).all()
    within = flatness(NB201, f, 2, exact=False)
    assert (within["n"] == 264).all()
    conn = flatness(NB201, f, 1, connected_only=True)
    assert conn["n"].max() <= 24 and conn["n"].min() < 24
    # mean through the fast path equals the gathered mean
    g = NB201.neighbours(2).gather(f)
    np.testing.assert_allclose(neighbourhood_score(NB201, f, 2), g.mean(axis=1))


def test_flatness_computes_only_the_columns_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from nb201_flat.landscape import neighbourhood as nbm

    space = Space(("none", "a", "b"), 3)
    v = np.random.default_rng(5).normal(50.0, 5.0, space.size)
    full = flatness(space, v, 2, exact=False, quantile=0.3, delta=2.0)
    some = flatness(space, v, 2, exact=False, delta=2.0, columns=["sharpness", "median", "n"])
    assert some.columns.tolist() == ["sharpness", "median", "n"]
    pd.testing.assert_frame_equal(some, full[["sharpness", "median", "n"]])

    # count, mean, std and sharpness need no gather of individual values, even at radius 3
    def no_gather(*args: object, **kwargs: object) -> None:
        raise AssertionError("gathered")

    monkeypatch.setattr(nbm, "_aggregate", no_gather)
    fast = flatness(space, v, 3, columns=("value", "n", "mean", "std", "sharpness"))
    assert fast["n"].tolist() == [8.0] * space.size
    with pytest.raises(AssertionError, match="gathered"):
        flatness(space, v, 3, columns=("median",))
    with pytest.raises(LandscapeArgumentError, match="columns must be"):
        flatness(space, v, 1, columns=("mean", "average"))


def test_an_infinite_value_is_refused_not_spread_over_the_space() -> None:
    # one inf used to make the mean of all 15,625 neighbourhoods NaN, far ones included
    f = conv_count(NB201)
    f[0] = np.inf
    with pytest.raises(LandscapeArgumentError, match="1 infinite entry.*index 0.*NaN"):
        neighbourhood_score(NB201, f, 1)
    with pytest.raises(LandscapeArgumentError, match="infinite"):
        flatness(TINY, np.where(np.arange(TINY.size) == 3, -np.inf, 1.0), 1)
    with pytest.raises(LandscapeArgumentError, match="must be numbers"):
        neighbourhood_score(TINY, ["a"] * TINY.size, 1)


def test_options_that_change_nothing_are_refused() -> None:
    f = conv_count(TINY)
    # quantile= with agg="mean" used to be ignored (the CLI refuses --quantile without it)
    with pytest.raises(LandscapeArgumentError, match="agg='quantile'"):
        neighbourhood_score(TINY, f, 1, quantile=0.1)
    with pytest.raises(LandscapeArgumentError, match="'quantile' column"):
        flatness(TINY, f, 1, quantile=0.1, columns=["mean"])
    assert flatness(TINY, f, 1, quantile=0.1, columns=["quantile"]).shape == (TINY.size, 1)
    for bad in ("a", True, -1.0, np.inf):  # "a" used to be a raw numpy TypeError
        with pytest.raises(LandscapeArgumentError, match="delta"):
            flatness(TINY, f, 1, delta=bad)  # type: ignore[arg-type]
    # exact="no" used to be bool("no"), i.e. True
    with pytest.raises(LandscapeArgumentError, match="exact must be True or False"):
        neighbourhood_score(TINY, f, 2, exact="no")  # type: ignore[arg-type]
    assert np.array_equal(
        neighbourhood_score(TINY, f, 2, exact=np.bool_(False)),
        neighbourhood_score(TINY, f, 2, exact=False),
    )


@pytest.mark.parametrize("include_self", [False, True])
def test_propagate_min_max_at_an_exact_radius_with_no_none(include_self: bool) -> None:
    # a NaN cell that no_none leaves out of a row (reached by a change to none) used to
    # poison that row's min and max under nan_policy="propagate"
    f = conv_count(TINY) + np.arange(TINY.size) / 100
    f[[0, 5, 13]] = np.nan
    for agg in ("min", "max"):
        s = neighbourhood_score(
            TINY, f, 2, agg=agg, no_none=True, include_self=include_self, nan_policy="propagate"
        )
        for i in range(TINY.size):
            vals = f[brute_members(TINY, i, 2, no_none=True, include_self=include_self)]
            want = np.nan if np.isnan(vals).any() or not len(vals) else getattr(vals, agg)()
            np.testing.assert_equal(s[i], want)


def test_aggregate_members_takes_one_neighbourhood() -> None:
    from nb201_flat.landscape.neighbourhood import aggregate_members
    from nb201_flat.neighbourhood import Neighbourhood

    # a 2-D array used to be pooled into one neighbourhood (reshape(1, -1)): one wrong number
    with pytest.raises(LandscapeArgumentError, match="1-D"):
        aggregate_members([[1.0, 2.0], [3.0, 5.0]], Neighbourhood())
    assert aggregate_members([1.0, 2.0, 6.0], Neighbourhood()) == 3.0


@pytest.mark.parametrize(
    "spec",
    [{}, {"agg": "std"}, {"agg": "min", "include_self": True}, {"agg": "median"},
     {"agg": "quantile", "quantile": 0.75}],
)  # fmt: skip
@pytest.mark.parametrize(
    "members", [[1.0, None], [None, 1.0, 4.0, 2.0], [None, None], [None], [2.0, None, 2.0, 7.0]]
)
def test_aggregate_members_reads_none_as_a_missing_member(
    members: list[float | None], spec: dict[str, Any]
) -> None:
    """A notebook writes a missing value as None: it is NaN, omitted as NaN is (it was
    refused as 'not numbers' once the members' text was checked)."""
    from nb201_flat.landscape.neighbourhood import aggregate_members
    from nb201_flat.neighbourhood import Neighbourhood

    nan = [np.nan if m is None else m for m in members]
    got = aggregate_members(members, Neighbourhood(**spec))
    np.testing.assert_equal(got, aggregate_members(nan, Neighbourhood(**spec)))


def test_aggregate_members_refuses_what_else_is_no_number_in_a_list() -> None:
    from nb201_flat.landscape.neighbourhood import aggregate_members
    from nb201_flat.neighbourhood import Neighbourhood

    with pytest.raises(LandscapeArgumentError, match=r"^members must be numbers, got str 'x' at"):
        aggregate_members([1.0, None, "x"], Neighbourhood())
    with pytest.raises(LandscapeArgumentError, match=r"^members must be numbers within a float"):
        aggregate_members([1.0, None, 10**400], Neighbourhood())
    with pytest.raises(LandscapeArgumentError, match=r"^members must be one neighbourhood's"):
        aggregate_members([[1.0, None], [2.0, 3.0]], Neighbourhood())


def test_aggregate_members_quotes_its_input_only_when_it_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the refusal's text was built on every call: a search scores each cell it samples with
    # this, and the members' repr took three quarters of an NA loop's time (profiled)
    from nb201_flat.landscape import neighbourhood as module
    from nb201_flat.neighbourhood import Neighbourhood

    quoted: list[object] = []
    monkeypatch.setattr(module, "shown", lambda value, *a: quoted.append(value) or "<quoted>")
    assert module.aggregate_members(np.arange(5.0), Neighbourhood(agg="median")) == 2.0
    assert quoted == []
    with pytest.raises(LandscapeArgumentError, match="got <quoted>"):
        module.aggregate_members("abc", Neighbourhood())
    assert quoted == ["abc"]


@pytest.mark.parametrize(
    ("members", "spec", "match"),
    [
        # a bare AttributeError ('int' object has no attribute 'agg')
        ([1.0, 2.0], 1, r"^spec must be a Neighbourhood, got 1; pass e\.g\. Neighbourhood"),
        ([1.0, 2.0], "mean", r"^spec must be a Neighbourhood, got 'mean'"),
        # numpy's bare ValueError, or text parsed as a number
        ("abc", None, r"^members must be numbers \(one neighbourhood's values\), got 'abc'"),
        (["3", "4"], None, r"^members must be numbers"),
        ([[1.0], [1.0, 2.0]], None, r"^members must be numbers"),
    ],
)
def test_aggregate_members_refuses_what_is_not_numbers_and_a_spec(
    members: object, spec: object, match: str
) -> None:
    from nb201_flat.landscape.neighbourhood import aggregate_members
    from nb201_flat.neighbourhood import Neighbourhood

    with pytest.raises(LandscapeArgumentError, match=match):
        aggregate_members(members, Neighbourhood() if spec is None else spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("radius", "reason"),
    [
        (2.5, r"1\.\.6 \(an int, not a float\), got 2\.5"),
        ("1", r"1\.\.6 \(an int, not a str\), got '1'"),
        (7, r"1\.\.6, got 7"),
        (Neighbourhood(radius=7), r"1\.\.6, got 7"),
        (0, r"1\.\.6, got 0"),
    ],
)
def test_a_radius_is_checked_against_the_space_by_one_rule(radius: object, reason: str) -> None:
    # 2.5 and '1' said "must be >= 1" (the wrong reason), 7 raised InvalidArchError
    v = np.zeros(NB201.size)
    fix = r"; pass a Hamming radius such as 1 or 2 \(this space's cells have 6 edges\)$"
    for call in (flatness, neighbourhood_score):
        with pytest.raises(ArgumentError, match=r"^radius must lie in " + reason + fix):
            call(NB201, v, radius)  # type: ignore[operator]


@pytest.mark.parametrize("include_self", [False, True])
def test_a_single_measured_member_has_no_spread(include_self: bool) -> None:
    # A5: a one-member neighbourhood had std 0.0, ranking it the flattest; one value has no
    # spread, so its std is NaN on every path (structural sums, gather, one row, the score)
    from nb201_flat.landscape import aggregates as ag
    from nb201_flat.landscape.neighbourhood import aggregate_members

    f = np.full(TINY.size, np.nan)
    f[[0, 1, 4, 13, 26]] = [5.0, 3.0, 8.0, 1.0, 2.0]  # sparse: rows of 0, 1, 2, 3 members
    members = [brute_members(TINY, i, 1, include_self=include_self) for i in range(TINY.size)]
    counts = np.array([np.count_nonzero(~np.isnan(f[m])) for m in members])
    assert {1, 2} <= set(counts.tolist())  # rows of one member, and rows with a spread
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        want = np.array([np.nanstd(f[m]) for m in members])  # numpy's 0.0 for one value
    want[counts < 2] = np.nan
    fast = flatness(TINY, f, 1, include_self=include_self, columns=["n", "mean", "std"])
    # "median" takes the row gather: the std comes from the same rows then
    gathered = flatness(TINY, f, 1, include_self=include_self, columns=["std", "median"])
    ball = ag.ball_stats(TINY, f, 1, include_self=include_self)
    prof = ag.radius_profile(TINY, f, 1, include_self=include_self)
    score = neighbourhood_score(TINY, f, 1, agg="std", include_self=include_self)
    np.testing.assert_array_equal(fast["n"], counts)
    assert fast["mean"][counts == 1].notna().all()  # the mean of one value is that value
    for std in (fast["std"], gathered["std"], ball["std"], prof["std"][0], score):
        np.testing.assert_allclose(np.asarray(std), want, atol=1e-12)  # NaN where NaN
    one = members[int(np.flatnonzero(counts == 1)[0])]
    spec = Neighbourhood(agg="std", include_self=include_self)
    assert np.isnan(aggregate_members(f[one], spec))
    assert aggregate_members([1.0, np.nan, 3.0], spec) == 1.0
    # propagate: a row whose one member is measured has no spread either
    cube = Space(("a", "b"), 3)  # cells on a cube: one cell at distance 3, the opposite corner
    opposite = flatness(cube, 2.0 ** np.arange(8), 3, nan_policy="propagate")
    assert (opposite["n"] == 1).all() and opposite["std"].isna().all()
    assert opposite["mean"].notna().all()


@pytest.mark.parametrize("nan_policy", ["omit", "propagate"])
@pytest.mark.parametrize("columns", [None, ("n",), ("median", "n")], ids=repr)
def test_member_counts_are_ints(nan_policy: str, columns: tuple[str, ...] | None) -> None:
    # n was float64 (6.0 members), whether gathered or counted by the structure
    from nb201_flat.landscape.neighbourhood import StandIns

    v = conv_count(TINY)
    v[[1, 5]] = np.nan
    df = flatness(TINY, v, 1, nan_policy=nan_policy, columns=columns)  # type: ignore[arg-type]
    assert df["n"].dtype == np.int64
    brute = [sum(not np.isnan(v[j]) for j in brute_members(TINY, i, 1)) for i in range(27)]
    if nan_policy == "omit":
        assert df["n"].tolist() == brute
    stand = StandIns.build(TINY.size, copies=[(3, 0)])
    with_stand = flatness(TINY, v, 1, nan_policy=nan_policy, stand_ins=stand)  # type: ignore[arg-type]
    assert with_stand["n"].dtype == np.int64 and with_stand["n_stand_ins"].dtype == np.int64


def test_aggregate_members_refuses_a_level_its_g_does_not_read_as_the_score_does() -> None:
    # Neighbourhood(quantile=0.3) under the mean: aggregate_members returned the mean (2.0)
    # where neighbourhood_score and the search's objective refuse the spec
    from nb201_flat.landscape.neighbourhood import aggregate_members

    spec = Neighbourhood(quantile=0.3)
    with pytest.raises(ArgumentError) as score:
        neighbourhood_score(TINY, np.arange(TINY.size, dtype=float), spec)
    with pytest.raises(ArgumentError) as members:
        aggregate_members([1.0, 2.0, 3.0], spec)
    assert str(members.value) == str(score.value)
    read = Neighbourhood(agg="quantile", quantile=0.3)
    assert aggregate_members([1.0, 2.0, 3.0], read) == pytest.approx(1.6)
