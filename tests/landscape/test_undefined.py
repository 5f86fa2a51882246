"""A statistic the values do not define is an error naming why, never a quiet NaN or empty
frame; a caller that shows "undefined" opts in (``undefined="nan"``, ``allow_empty=True``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nb201_flat.landscape import (
    LandscapeArgumentError,
    autocorrelation,
    correlation_length,
    fitness_distance_correlation,
    neighbour_distributions,
)
from nb201_flat.space import NB201, Space

TINY = Space(("none", "skip", "conv"), 3)
CUBE = Space(("a", "b"), 3)  # index = binary number of the codes; a step flips one bit
PARITY = CUBE.codes.sum(axis=1) % 2  # every step of a walk on the cube changes it


@pytest.mark.parametrize(
    ("values", "optimum", "why"),
    [
        (np.full(27, 70.0), None, "every measured value equals 70 \\(a constant landscape\\)"),
        (np.where(np.arange(27) == 4, 1.0, np.nan), None, "only one architecture has a value"),
        # every measured cell one edge from the optimum given
        (
            np.where(TINY.codes.sum(axis=1) == 1, np.arange(27.0), np.nan),
            0,
            "every measured architecture lies 1 edge from",
        ),
    ],
)
def test_fdc_that_the_values_do_not_define_is_an_error(
    values: np.ndarray, optimum: int | None, why: str
) -> None:
    with pytest.raises(
        LandscapeArgumentError, match=f"^the fitness-distance correlation is undefined: {why}"
    ):
        fitness_distance_correlation(TINY, values, optimum)
    with pytest.raises(LandscapeArgumentError, match="or pass undefined='nan' for NaN$"):
        fitness_distance_correlation(TINY, values, optimum, method="spearman")
    assert math.isnan(fitness_distance_correlation(TINY, values, optimum, undefined="nan"))


def test_fdc_undefined_option_is_checked_and_changes_no_defined_value() -> None:
    f = (TINY.codes == 2).sum(axis=1).astype(float)
    assert fitness_distance_correlation(TINY, f, undefined="nan") == fitness_distance_correlation(
        TINY, f
    )
    with pytest.raises(LandscapeArgumentError, match="^undefined must be one of raise, nan"):
        fitness_distance_correlation(TINY, f, undefined="omit")  # type: ignore[arg-type]


def test_autocorrelation_of_a_constant_landscape_is_an_error() -> None:
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^the autocorrelation is undefined: every value the walks met equals 3 "
        r"\(no variance\); .*walk further \(length, n_walks\)",
    ):
        autocorrelation(NB201, np.full(NB201.size, 3.0), seed=0, length=100, max_lag=2)
    ac = autocorrelation(
        NB201, np.full(NB201.size, 3.0), seed=0, length=100, max_lag=2, undefined="nan"
    )
    assert ac["autocorrelation"].isna().all() and ac["pairs"].tolist() == [100, 99]


def test_a_constant_walk_whose_mean_rounds_is_still_constant() -> None:
    # three 0.1s have the mean 0.10000000000000002 and a variance of 2**-112: r(1) was 1.0
    with pytest.raises(LandscapeArgumentError, match="every value the walks met equals 0.1 "):
        autocorrelation(CUBE, np.full(CUBE.size, 0.1), seed=0, length=2, max_lag=1)
    ac = autocorrelation(
        CUBE, np.full(CUBE.size, 0.1), seed=0, length=2, max_lag=1, undefined="nan"
    )
    assert ac["autocorrelation"].isna().all()


def test_a_lag_without_measured_pairs_is_an_error() -> None:
    # measured on even cells only: one step always ends on an unmeasured cell, two steps not
    f = np.where(PARITY == 0, np.arange(8.0), np.nan)
    with pytest.raises(
        LandscapeArgumentError, match=r"^r\(1\) is undefined: no two measured values lie 1 step "
    ):
        autocorrelation(CUBE, f, seed=0, length=50, max_lag=2)
    ac = autocorrelation(CUBE, f, seed=0, length=50, max_lag=2, undefined="nan")
    assert math.isnan(ac["autocorrelation"].iloc[0]) and ac["pairs"].iloc[0] == 0
    assert np.isfinite(ac["autocorrelation"].iloc[1]) and ac["pairs"].iloc[1] > 0


def test_correlation_length_that_the_walk_does_not_define_is_an_error() -> None:
    with pytest.raises(LandscapeArgumentError, match="^the autocorrelation is undefined"):
        correlation_length(TINY, np.ones(27), seed=0, length=50)
    assert math.isnan(correlation_length(TINY, np.ones(27), seed=0, length=50, undefined="nan"))
    # parity flips every step: r(1) near -1, and -1/ln r(1) does not exist
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^the correlation length is undefined: r\(1\) = -0\.99\d* <= 0 .*undefined='nan'",
    ):
        correlation_length(CUBE, PARITY.astype(float), seed=0, length=50)
    assert math.isnan(correlation_length(CUBE, PARITY.astype(float), seed=0, undefined="nan"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlation_length_of_r1_at_least_one_is_an_error(seed: int) -> None:
    # measured: cell 0 and its neighbour 1 at 0, and six cells at 1 with no measured
    # neighbour (a code of minimum distance 2). The walks' one kind of measured step is
    # 0 -> 0: its pairs correlate perfectly, r(1) = 1 (mean[a b] / var read 1.3, their
    # product (0 - m)^2 outweighing the variance over every visit), and -1/ln r(1) was
    # returned as inf
    codes = TINY.codes
    far = (codes.sum(axis=1) % 3 == 0) & ((codes != codes[1]).sum(axis=1) >= 2)
    far[0] = False
    f = np.where(far, 1.0, np.nan)
    f[[0, 1]] = 0.0
    r1 = autocorrelation(TINY, f, seed=seed, length=2000, max_lag=1)["autocorrelation"].iloc[0]
    assert r1 == 1  # the case under test
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^the correlation length is undefined: r\(1\) = [0-9.]+ >= 1 .*walk further "
        r"\(length, n_walks\).*undefined='nan' for NaN$",
    ):
        correlation_length(TINY, f, seed=seed, length=2000)
    assert math.isnan(correlation_length(TINY, f, seed=seed, length=2000, undefined="nan"))


@pytest.mark.parametrize("weighted", [False, True])
def test_a_band_without_members_is_an_error_unless_kept(weighted: bool) -> None:
    f = np.arange(27.0)
    bands = {"top": (25.0, 26.0), "above": (30.0, 40.0)}
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^band 'above' \(30 to 40\) has no distribution: no value lies in it; .*"
        r"allow_empty=True to keep it without rows$",
    ):
        neighbour_distributions(TINY, f, bands, (1, 2), weighted=weighted)
    kept = neighbour_distributions(TINY, f, bands, (1, 2), weighted=weighted, allow_empty=True)
    assert kept.attrs["empty_bands"] == [("above", 1), ("above", 2)]
    assert set(kept["band"]) == {"top"} and kept.attrs["empty_radii"] == []
    with pytest.raises(LandscapeArgumentError, match="^allow_empty must be True or False"):
        neighbour_distributions(TINY, f, bands, (1,), allow_empty="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("weighted", [False, True])
def test_a_band_whose_neighbours_are_unmeasured_is_an_error(weighted: bool) -> None:
    # cell 0 alone is in the band, and every neighbour of it is unmeasured
    f = np.where(CUBE.codes.sum(axis=1) == 1, np.nan, np.arange(8.0))
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^band 'low' \(0 to 0\) has no distribution: none of its architectures has a "
        r"measured neighbour at radius 1",
    ):
        neighbour_distributions(CUBE, f, {"low": (0.0, 0.0)}, (1, 2), weighted=weighted)
    kept = neighbour_distributions(
        CUBE, f, {"low": (0.0, 0.0)}, (1, 2), weighted=weighted, allow_empty=True
    )
    assert kept.attrs["empty_bands"] == [("low", 1)] and set(kept["radius"]) == {2}


def test_no_measured_architecture_has_no_basins_and_no_profile() -> None:
    from nb201_flat.landscape import basins, distance_profile

    # an empty frame read as "0 local optima", an empty profile as one computed
    nothing = np.full(27, np.nan)
    with pytest.raises(LandscapeArgumentError, match="^values are NaN: there are no local optima"):
        basins(TINY, nothing)
    one = np.where(TINY.connected, np.nan, 1.0)  # measured on disconnected cells only
    with pytest.raises(
        LandscapeArgumentError,
        match="^values are NaN on every connected architecture: there are no local optima",
    ):
        basins(TINY, one, connected_only=True)
    assert len(basins(TINY, one)) >= 1
    with pytest.raises(LandscapeArgumentError, match="^values are all NaN: there is no measured"):
        distance_profile(TINY, nothing, optimum=0)
    assert len(distance_profile(TINY, nothing, optimum=0, dropna=False)) == 27


def test_no_measured_architecture_has_no_local_optima_and_no_climbs() -> None:
    from nb201_flat.landscape import hill_climb, local_optima

    # an all-False mask and all -1 read as "0 local optima"
    nothing = np.full(27, np.nan)
    one = np.where(TINY.connected, np.nan, 1.0)  # measured on disconnected cells only
    for call in (local_optima, hill_climb):
        with pytest.raises(
            LandscapeArgumentError, match="^values are NaN: there are no local optima; pass"
        ):
            call(TINY, nothing)
        with pytest.raises(
            LandscapeArgumentError,
            match="^values are NaN on every connected architecture: there are no local optima",
        ):
            call(TINY, one, connected_only=True)
    # a NaN cell among measured ones is no optimum and climbs nowhere, as before
    assert local_optima(TINY, one).sum() >= 1 and not local_optima(TINY, one)[TINY.connected].any()
    climb = hill_climb(TINY, one)
    assert (climb[TINY.connected] == -1).all() and (climb[~TINY.connected] >= 0).all()
