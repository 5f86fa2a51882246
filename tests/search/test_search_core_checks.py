"""The search core checks what reaches it (a fifth audit's findings, each reproduced first): a
random seed policy over cells with no stored seed, an oracle's seed rows, the batched runners'
seed and runs, REA's label and mutation, and the reproduction grid's flags, options, base,
table and config."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.neighbourhood import NA_PAPER
from nb201_flat.search import RandomSearch, RegularizedEvolution
from nb201_flat.search.algorithms import AlgorithmError, mutate
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.oracle import OracleData, SearchBudgetError, seed_rows
from nb201_flat.search.protocol import ProtocolError, per_dataset_protocols
from nb201_flat.search.vectorised import run_batched, run_vectorised
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

TOY = Space(("none", "skip_connect", "conv"), 3)
KEY = MetricKey("toy", "x-valid", 12)


def _seeded(order: np.ndarray | None, counts: np.ndarray | None, rows: int = 2) -> OracleData:
    values = np.vstack([np.arange(27.0) + 100 * r for r in range(rows)])
    return OracleData(TOY, KEY, values, order, counts, None, None, 30)


def test_an_oracle_refuses_seed_rows_that_do_not_index_its_values() -> None:
    values = np.vstack([np.arange(27.0), 100 + np.arange(27.0)])
    order, counts = seed_rows(values)
    _seeded(order, counts)  # seed_rows' own form
    # counts past the rows: the batched runs read cell 26's value as cell 25's (126.0)
    with pytest.raises(SearchBudgetError, match=r"^oracle counts must lie in 0..2"):
        _seeded(order, np.full(27, 4))
    with pytest.raises(SearchBudgetError, match="^oracle counts must lie in"):
        _seeded(order, np.full(27, -1))  # read row 0
    with pytest.raises(
        SearchBudgetError, match=r"^oracle order must be integers of shape \(2, 27\)"
    ):
        _seeded(order[:, :5], counts)
    with pytest.raises(SearchBudgetError, match="^oracle order must lie in 0..1"):
        _seeded(order + 1, counts)
    with pytest.raises(SearchBudgetError, match="^oracle order and counts come together"):
        _seeded(order, None)
    # rows after the first were read by nothing
    with pytest.raises(SearchBudgetError, match="^oracle values hold 2 rows, but no order"):
        _seeded(None, None)


def test_a_random_seed_policy_refuses_cells_without_a_stored_seed() -> None:
    from nb201_flat.testing import synthetic_table

    table = synthetic_table()
    p = per_dataset_protocols(epochs=200, datasets=("cifar100",), seed_policy="random")[0]
    p.check(table)
    data = dict(table.data)
    for (key, seed), vec in table.data.items():
        if key == p.search and seed is not None:
            holed = vec.copy()
            holed[:100] = np.nan  # the mean stays: these cells have no stored seed at all
            data[key, seed] = holed
    if (p.search, None) not in data:  # a mean row keeps them measured under the mean
        pytest.skip("the synthetic table stores no mean row for the search key")
    sparse = Table(table.space, data, source="sparse seeds")
    # each query of one drew among none: charged, NaN, and no note
    with pytest.raises(ProtocolError, match=r"have no stored seed for .* draw among none"):
        p.check(sparse)


@pytest.mark.parametrize(
    ("seed", "runs", "match"),
    [
        (None, [0], "^seed must"),  # OS entropy: best cells 12053, 9640, 15599 per process
        (-1, [0], "^seed must"),
        (2.5, [0], "^seed must"),
        (0, [-1], "^runs must"),
        (0, [0.5], "^runs must"),
    ],
)
def test_the_batched_runners_check_seed_and_runs(seed: object, runs: list, match: str) -> None:
    data = OracleData(TOY, KEY, np.arange(27.0)[None, :], None, None, None, None, 10)
    for run in (run_batched, run_vectorised):
        with pytest.raises(ArgumentError, match=match):
            run(data, RandomSearch(), seed, runs)  # type: ignore[arg-type]
    assert [r.best for r in run_batched(data, RandomSearch(), 0, [0, 1])] == [
        r.best for r in run_vectorised(data, RandomSearch(), 0, [0, 1])
    ]


def test_rea_labels_its_mutation_and_mutate_refuses_another() -> None:
    assert RegularizedEvolution().label == "rea"
    # it was 'rea', NB201's own label, and two forms in one call were "not unique"
    assert RegularizedEvolution(mutation="uniform-edge").label == "rea(uniform-edge)"
    assert RegularizedEvolution(population=20, sample_size=5, mutation="uniform-edge").label == (
        "rea(p20,s5,uniform-edge)"
    )
    assert RegularizedEvolution(population=20, sample_size=5).label == "rea(p20,s5)"
    rng = np.random.default_rng(0)
    for typo in ("node_then_edge", None, 42):  # all mutated as uniform-edge
        with pytest.raises(AlgorithmError, match="^mutation must be 'node-then-edge'"):
            mutate(TOY.codes, 4, 3, 0, rng, typo)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        # read as yes: every verdict 'none (smoke test)', the relatives and controls still ran
        ({"smoke": "no"}, "^smoke must be True or False"),
        ({"relatives": "no"}, "^relatives must be True or False"),
        ({"accounting": "no"}, "^accounting must be True or False"),
        # kept, and applied to nothing
        ({"budget_scale_200": 2.0}, "^budget_scale_200 applies only to time-budgeted"),
        ({"fixed_n": 7}, "^fixed_n 7 applies only to the fixed-n protocol"),
        # a bare TypeError deep in the grid (Neighbourhood has no charge)
        ({"base": NA_PAPER}, "^base must be a NeighbourObjective, got Neighbourhood"),
        ({"base": "na-paper"}, "^base must be a NeighbourObjective"),
    ],
)
def test_the_grid_refuses_options_of_no_kind_or_no_use(changes: dict, match: str) -> None:
    with pytest.raises((ArgumentError, ProtocolError), match=match):
        ReproduceConfig.quick(**changes)


def test_the_grid_takes_options_where_they_apply() -> None:
    assert ReproduceConfig.quick(protocols=("fixed-n",), fixed_n=7).fixed_n == 7
    cfg = ReproduceConfig.quick(search_epochs=(200,), budget_scale_200=2.0)
    assert cfg.budget_scale_200 == 2.0


@pytest.mark.parametrize("config", ["quick", {"runs": 20}, {}])
def test_reproduce_refuses_a_config_of_another_kind(config: object) -> None:
    from nb201_flat.testing import synthetic_table

    # a bare AttributeError; {} ran the whole default grid
    with pytest.raises(ArgumentError, match="^config must be a ReproduceConfig"):
        reproduce(synthetic_table(), config)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^table must be a Table"):
        reproduce(None, ReproduceConfig.quick())  # type: ignore[arg-type]


def test_the_rules_own_scale_is_no_change() -> None:
    from fractions import Fraction

    # 200/12 exactly is the rule: it was refused beside the float default
    assert ReproduceConfig.quick(budget_scale_200=Fraction(200, 12)).budget_scale_200 == Fraction(
        200, 12
    )
