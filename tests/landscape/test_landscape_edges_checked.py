"""Landscape helpers around the barrier code check what they are given (a fifth audit's
findings, each reproduced first): census_cost as barrier_census does, bands by one rule,
StandIns' cells and copies, an optimum given with higher_is_better=False, the projection's
picks and queries, analytic costs' space and table, and a projection grid's columns."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError, InvalidArchError, MissingValueError
from nb201_flat.landscape import distance_profile, fitness_distance_correlation
from nb201_flat.landscape.census import barrier_census, census_cost
from nb201_flat.landscape.stand_ins import StandIns
from nb201_flat.space import Space

SPACE = Space(("a", "b"), 3)
F = np.arange(8.0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        # (-97, -40352): a negative count of pairs and bytes
        (({"all": (0, 7)}, -100, 3, None), "^n_pairs must"),
        (({"all": (0, 7)}, 100, 2.5, None), "^top_k must"),  # float counts
        # read as empty bands: (3, 9728), where barrier_census refuses them
        (({"all": (7, 0)}, 100, 3, None), "^band 'all' has lo > hi"),
        (({"all": (np.nan, 7)}, 100, 3, None), "^band 'all' has lo > hi or a NaN end"),
        (("cifar10x", 100, 3, None), "A²M defines bands for"),  # a bare AttributeError
        (({"x": 7}, 100, 3, None), "^band 'x' must be a pair"),  # a bare TypeError
    ],
)
def test_census_cost_checks_as_the_census_does(args: tuple, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        census_cost(SPACE, F, *args)
    assert census_cost(SPACE, F, {"all": (0, 7)}, 100, 3, None) == (31, 25184)


@pytest.mark.parametrize("bands", [5, None, [("a", (0, 1))]])
def test_the_census_names_bands_of_no_kind(bands: object) -> None:
    # 'int' object is not iterable
    with pytest.raises(ArgumentError, match="^bands must be a dataset name or a mapping"):
        barrier_census(SPACE, F, bands, n_pairs=2, top_k=0, seed=0)  # type: ignore[arg-type]


def test_stand_ins_refuse_a_self_copy_and_a_cycle() -> None:
    # cell 3 copying itself: its own measurement counted "1 of the 6 values are stand-ins"
    with pytest.raises(ArgumentError, match="^copies names cell 3 a copy of itself"):
        StandIns.build(6, copies=[(3, 3)])
    # both marked copies, neither the trained source
    with pytest.raises(ArgumentError, match="^copies holds cells 3, 4 copied from each other"):
        StandIns.build(6, copies=[(4, 3), (3, 4)])
    with pytest.raises(ArgumentError, match="^copies holds cells 3, 4 copied"):  # not 5's
        StandIns.build(6, copies=[(5, 4), (4, 3), (3, 4)])
    chain = StandIns.build(6, copies=[(5, 4), (4, 3)])  # ends at a trained cell: kept
    assert chain.n_copies == 2 and chain.own([5, 4, 3], [3, 3, 3]).tolist() == [True] * 3


@pytest.mark.parametrize(
    ("members", "centres", "match"),
    [
        ([4], [-1], "^centres must be whole numbers in 0..5, got -1"),  # read as cell 5
        ([7], [3], "^members must be whole numbers in -1..5, got 7"),  # numpy's IndexError
        ([4], [9], "^centres must be whole numbers in 0..5, got 9"),
        ([4], [2.5], "^centres must be whole numbers"),
    ],
)
def test_stand_ins_own_checks_its_cells(members: list, centres: list, match: str) -> None:
    s = StandIns.build(6, copies=[(5, 4)])
    with pytest.raises(InvalidArchError, match=match):
        s.own(members, centres)
    assert s.own([[5, -1, 1]], [[4]]).tolist() == [[True, False, False]]


def test_an_optimum_given_with_lower_is_better_is_refused() -> None:
    v = np.random.default_rng(1).random(27)
    space = Space(("none", "a", "b"), 3)
    # the same -0.0787 either way: the flag picks the optima, which were given
    for call in (fitness_distance_correlation, distance_profile):
        for flag in (False, True):
            with pytest.raises(ArgumentError, match="^higher_is_better picks the optima, but"):
                call(space, v, optimum=3, higher_is_better=flag)
        with pytest.raises(ArgumentError, match="^higher_is_better must be True or False"):
            call(space, v, optimum=3, higher_is_better="no")  # type: ignore[arg-type]
    low = fitness_distance_correlation(space, v, higher_is_better=False)
    assert low == fitness_distance_correlation(space, v, optimum=int(np.argmin(v)))


def test_analytic_costs_check_their_space_and_table() -> None:
    from nb201_flat.costs import analytic_costs, stored_vs_analytic

    with pytest.raises(ArgumentError, match="^space must be a Space"):
        analytic_costs("nb201", "cifar10")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^table must be a Table"):
        stored_vs_analytic("x", "cifar10")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("lambda0", np.nan, "^grid column 'lambda0' must hold finite numbers"),
        ("value", "high", "^grid column 'value' must hold numbers"),
    ],
)
def test_plot_projection_checks_its_grid(column: str, value: object, match: str) -> None:
    from nb201_flat.figures.projection import plot_projection

    grid = pd.DataFrame({"lambda0": [0.0, 1.0], "lambda1": [0.0, 0.0], "value": [1.0, 2.0]})
    plot_projection(grid)
    grid[column] = grid[column].astype(object)
    grid.loc[1, column] = value
    with pytest.raises(ArgumentError, match=match):  # matplotlib's bare ValueError
        plot_projection(grid)


def test_a_pick_without_a_measured_neighbourhood_is_missing_not_nan() -> None:
    from nb201_flat.figures.projection import pick_architectures
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey, Table

    values = np.full(NB201.size, np.nan)
    best = 11472
    values[best] = 95.0  # the best cell: no neighbour measured
    far = NB201.arch(0)
    values[far.index] = 50.0
    for n in NB201.neighbours(1).of(far.index)[:3]:
        values[n] = 40.0
    table = Table(NB201, {(MetricKey("cifar100", "x-test", 200), None): values})
    # Pick(..., neighbourhood_mean=nan): the panel was titled "sharpness +nan"
    with pytest.raises(MissingValueError, match=r"^the best by value, cell 11472, has no measured"):
        pick_architectures(table, pick="value")


def test_queries_apply_only_to_the_fixed_n_fallback(figure_table_with_times: object) -> None:
    from nb201_flat.figures.projection import pick_architectures

    # 3, none and 5000 gave the same picks, the text saying "budget 40,000 s"
    with pytest.raises(ArgumentError, match="^queries applies only where the table lacks"):
        pick_architectures(figure_table_with_times, queries=3, max_runs=1)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def figure_table_with_times() -> object:
    from nb201_flat.testing import figure_table

    return figure_table()
