"""An audit of the landscape layer (each finding reproduced first): the census's top K on a
dataset without A²M bands, A²M's barriers on unmeasured cells, ``connected_only`` on a space
without ``none``, and the census figure's pair-draw seeds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError, MissingValueError
from nb201_flat.landscape import a2m_barrier, a2m_barriers, barrier_matrix, barrier_tree, flatness
from nb201_flat.landscape.aggregates import NeighbourRows, ball_stats, radius_profile, sphere_min
from nb201_flat.landscape.census import barrier_census, census_cost, pair_barriers
from nb201_flat.landscape.statistics import local_optima, neighbour_distributions
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table

CUBE = Space(("a", "b"), 3)  # index = binary number of the codes
NO_NONE = Space(("skip", "conv1", "conv3", "pool"), 4)  # no op `none`: every cell connected


# -- the census's top K on a dataset A²M gives no bands ------------------------------------------
def test_the_top_k_alone_needs_no_bands_of_the_dataset() -> None:
    # no pair is drawn with n_pairs=0, so no band is used: 'toy' was refused for lacking
    # A²M's bands ("pass your own bands={...}"), here and in census_cost
    v = np.random.default_rng(0).normal(50, 5, CUBE.size)
    got = barrier_census(CUBE, v, "toy", n_pairs=0, top_k=3, seed=0)
    want = barrier_census(CUBE, v, {}, n_pairs=0, top_k=3, seed=0)
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == 3 and set(got["group"]) == {"top-k"}
    assert census_cost(CUBE, v, "toy", 0, 3, None) == census_cost(CUBE, v, {}, 0, 3, None)
    # band pairs still need bands
    with pytest.raises(ArgumentError, match="A²M defines bands for .* not 'toy'"):
        barrier_census(CUBE, v, "toy", n_pairs=2, top_k=3, seed=0)
    # bands given as a mapping are checked, drawn or not
    with pytest.raises(ArgumentError, match="band 'X' must be a pair"):
        barrier_census(CUBE, v, {"X": 3}, n_pairs=0, top_k=3, seed=0)  # type: ignore[dict-item]


# -- A²M's barriers on unmeasured cells: an error by default, as pair_barriers --------------------
def test_a2m_barriers_of_an_unmeasured_cell_raise_by_default() -> None:
    f = np.array([9.0, np.nan, 6, 7, 4, 7, 7, 8])  # cell 1 lies on the paths 0 -> 7
    with pytest.raises(MissingValueError):  # the same quantity, the same answer
        pair_barriers(CUBE, f, 0, 7)
    said = (
        r"^1 architecture\(s\) on the shortest paths from 0 to 7 have no value \(first: 1\), "
        r"so the A²M barrier is undefined; pass nan_policy='omit' to average the measured "
        r"ones, or nan_policy='propagate' for a NaN barrier$"
    )
    for published in (False, True, "947bc3e"):
        with pytest.raises(MissingValueError, match=said):
            a2m_barrier(CUBE, f, 0, 7, published=published)
        with pytest.raises(MissingValueError, match=said):
            a2m_barriers(CUBE, f, [(3, 7), (0, 7)], published=published)
        # a NaN barrier stays an opt-in
        nan = a2m_barrier(CUBE, f, 0, 7, published=published, nan_policy="propagate")
        assert np.isnan(nan.barrier)
    # an unmeasured endpoint, which code 54ce096 never reads at d >= 2
    g = np.array([9.0, 5, 6, 7, 4, 7, 7, np.nan])
    with pytest.raises(MissingValueError, match=r"1 architecture\(s\) .* \(first: 7\)"):
        a2m_barrier(CUBE, g, 0, 7, published=True)
    # measured paths: the same numbers as before
    h = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    assert a2m_barrier(CUBE, h, 0, 7).barrier == 3.5
    assert a2m_barriers(CUBE, h, [(0, 7), (3, 7)], published=True)["barrier"].tolist() == [3.0, 3.5]
    # the barrier matrix keeps its documented NaN for a pair with an unmeasured cell
    m = barrier_matrix(CUBE, f, [0, 7, 3], method="a2m").to_numpy()
    assert np.isnan(m[0, 1]) and np.isfinite(m[1, 2])


# -- connected_only on a space without `none`: every cell is connected ---------------------------
_VALUES = np.random.default_rng(1).normal(80, 5, NO_NONE.size)

_CONNECTED_ONLY: list[Callable[[Space, np.ndarray], Any]] = [
    lambda sp, v: sp.neighbours(1, connected_only=True),
    lambda sp, v: NeighbourRows(sp, 1, connected_only=True),
    lambda sp, v: flatness(sp, v, Neighbourhood(connected_only=True)),
    lambda sp, v: ball_stats(sp, v, 1, connected_only=True),
    lambda sp, v: radius_profile(sp, v, 2, connected_only=True),
    lambda sp, v: sphere_min(sp, v, 1, connected_only=True),
    lambda sp, v: barrier_tree(sp, v, connected_only=True),
    lambda sp, v: pair_barriers(sp, v, 727, 728, connected_only=True),
    lambda sp, v: barrier_census(sp, v, {}, n_pairs=0, top_k=3, seed=0, connected_only=True),
    lambda sp, v: local_optima(sp, v, connected_only=True),
    lambda sp, v: neighbour_distributions(sp, v, {"A": (70, 90)}, [1], connected_only=True),
]


@pytest.mark.parametrize("call", _CONNECTED_ONLY)
def test_connected_only_on_a_space_without_none_is_refused(call: Callable[..., Any]) -> None:
    # it dropped nothing, silently: the same numbers as without it
    with pytest.raises(ArgumentError) as err:
        call(NO_NONE, _VALUES)
    assert str(err.value) == (
        "connected_only=True leaves out disconnected cells, and a space without an op named "
        "'none' has none; drop connected_only for this space"
    )
    # a space with `none` takes it
    call(Space(("none", "skip", "conv"), 4), np.random.default_rng(2).normal(80, 5, 3**6))


def test_no_none_names_its_parameter() -> None:
    # a Param, so that a command spells it as its flag (--no-none), not no_none=True
    with pytest.raises(ArgumentError) as err:
        NO_NONE.neighbours(1, no_none=True)
    spelled = err.value.spelled(lambda p: "--no-none" if p.name == "no_none" else None)
    assert (
        spelled == "--no-none needs an op named 'none' in the space; drop --no-none for this space"
    )


def test_the_barrier_tree_figure_on_a_space_without_none() -> None:
    # its default connected_only=True is refused there now: by default, only where a cell is
    # disconnected
    from nb201_flat.figures.tree import make_barrier_tree

    t = Table(NO_NONE, {(MetricKey("cifar10", "ori-test", 200), None): _VALUES})
    make_barrier_tree(t, n_optima=5)
    with pytest.raises(ArgumentError, match="drop connected_only"):
        make_barrier_tree(t, n_optima=5, connected_only=True)


# -- the census figure draws each dataset as the census command does -----------------------------
def test_band_seed_is_the_datasets_place_among_a2ms() -> None:
    from nb201_flat.landscape.census import band_seed

    assert [band_seed(10, ds) for ds in ("cifar10", "cifar100", "ImageNet16-120")] == [10, 11, 12]
    assert band_seed(10, "cifar10-valid") == 10 and band_seed(10, "toy") == 10


def test_the_census_figure_seeds_a_dataset_by_its_place_not_its_panel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a table without cifar10: its cifar100 panel drew with seed + 0, `nb201-flat census`
    # (whose numbers the figure's README says it draws) with seed + 1
    import nb201_flat.figures.census as fc

    assert fc._seed_words(0, [0, 1, 2]) == "seed 0 + panel"
    assert fc._seed_words(0, [1, 2]) == "seeds 1, 2 (seed 0 + the dataset's place among A²M's)"
    v100 = np.random.default_rng(3).uniform(54, 71, NB201.size)
    t = Table(NB201, {(MetricKey("cifar100", "x-test", 200), None): v100})
    seen: list[int] = []

    def spy(*args: Any, **kw: Any) -> pd.DataFrame:
        seen.append(kw["seed"])
        return barrier_census(*args, **kw)

    monkeypatch.setattr(fc, "barrier_census", spy)
    fc.make_barrier_census(t, n_pairs=3, top_k=0)
    assert seen == [1]
