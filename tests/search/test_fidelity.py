"""The multi-fidelity oracle and Hyperband: costs, budget, and no peeking past paid epochs."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from nb201_flat.curves import Curves, NoCurvesError
from nb201_flat.errors import ArgumentError, InvalidArchError, SearchBudgetError, UnknownKeyError
from nb201_flat.search.fidelity import (
    FidelityData,
    FidelityIncumbent,
    FidelityOracle,
    Hyperband,
    fidelity_data,
    run_fidelity,
)
from nb201_flat.search.oracle import BudgetExhausted, HiddenDataError, SearchEnded
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

from .conftest import with_infinities

SPACE = Space(("a", "b", "c"), 3)  # 27 cells
KEY = MetricKey("toy", "x-valid", 12)
TIME = MetricKey("toy", "train", 12, "epoch_time_s")
EPOCHS = 9


def _curves(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    final = rng.uniform(50, 90, 27)
    rise = 1 - np.exp(-np.arange(1, EPOCHS + 1) / 3)
    return final[:, None] * rise[None, :] + rng.normal(0, 1, (27, EPOCHS))


def _data(values: np.ndarray, budget: float = 400.0, resume: bool = False) -> FidelityData:
    costs = np.tile(np.linspace(1, 3, 27)[:, None], (1, EPOCHS))
    return FidelityData(SPACE, KEY, values[None], costs, budget, None, resume)


def test_query_reveals_the_value_after_e_epochs_and_charges_e_epochs() -> None:
    values = _curves()
    data = _data(values)
    o = FidelityOracle(data, np.random.default_rng(0))
    assert o.query(26, 4) == values[26, 3]
    assert o.seconds == pytest.approx(4 * 3.0)
    assert o.query(26, 5) == values[26, 4]  # no resume: the whole training is paid again
    assert o.seconds == pytest.approx(9 * 3.0)
    assert o.paid_epochs(26) == 5 and o.paid_epochs(0) == 0
    with pytest.raises(SearchBudgetError, match=r"1\.\.9"):
        o.query(0, 10)
    with pytest.raises(SearchBudgetError, match=r"1\.\.9"):
        o.query(0, 0)


def test_resume_pays_only_new_epochs() -> None:
    o = FidelityOracle(_data(_curves(), resume=True), np.random.default_rng(0))
    o.query(26, 4)
    o.query(26, 6)
    o.query(26, 2)  # already paid: free, still a query
    assert o.seconds == pytest.approx(6 * 3.0) and o.queries == 3


def test_budget_refuses_the_crossing_query_and_ends() -> None:
    o = FidelityOracle(_data(_curves(), budget=10.0), np.random.default_rng(0))
    o.query(0, 9)  # 9 s
    with pytest.raises(BudgetExhausted):
        o.query(26, 1)  # 3 s more would cross 10
    assert o.seconds == pytest.approx(9.0) and o.queries == 1
    with pytest.raises(BudgetExhausted):
        o.query(0, 1)


def test_the_oracle_hides_its_arrays() -> None:
    o = FidelityOracle(_data(_curves()), np.random.default_rng(0))
    for name in ("values", "_data_values", "curves", "table"):
        with pytest.raises(HiddenDataError, match="paid for"):
            getattr(o, name)


def test_hyperband_brackets_follow_the_paper() -> None:
    # Li et al. 2018, Table 1 (R = 81, eta = 3): bracket s=4 starts 81 configs at 1 epoch
    plan = Hyperband(eta=3).brackets(81)
    assert [r[0] for r in plan] == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    assert plan[0] == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    with pytest.raises(ArgumentError, match="eta must be >= 2"):
        Hyperband(eta=1)
    with pytest.raises(SearchBudgetError, match="min_epochs <= 9"):
        Hyperband(min_epochs=10).brackets(9)


def _hyperband_run(data: FidelityData, seed: int) -> tuple[FidelityOracle, FidelityIncumbent]:
    oracle = FidelityOracle(data, np.random.default_rng(seed))
    incumbent = FidelityIncumbent(oracle)
    with contextlib.suppress(SearchEnded):
        Hyperband(eta=3).search(oracle, np.random.default_rng(seed + 1), incumbent)
    return oracle, incumbent


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hyperband_never_reads_past_the_epochs_it_paid_for(seed: int) -> None:
    values = _curves(seed)
    oracle, incumbent = _hyperband_run(_data(values), seed)
    paid = np.array([oracle.paid_epochs(i) for i in range(27)])
    assert paid.max() == EPOCHS and oracle.exhausted
    # Garble every value an architecture did not pay for: the run must not change at all.
    garbled = values.copy()
    unpaid = np.arange(EPOCHS)[None, :] >= paid[:, None]
    garbled[unpaid] = np.random.default_rng(99).uniform(0, 100, int(unpaid.sum()))
    assert unpaid.sum() > 0
    oracle2, incumbent2 = _hyperband_run(_data(garbled), seed)
    assert incumbent2.changes == incumbent.changes
    assert (incumbent2.index, incumbent2.epochs, incumbent2.score) == (
        incumbent.index, incumbent.epochs, incumbent.score,
    )  # fmt: skip
    assert (oracle2.queries, oracle2.seconds) == (oracle.queries, oracle.seconds)
    assert oracle.seconds <= 400.0
    # the incumbent is the best full-fidelity value it paid for
    full = [i for i in range(27) if paid[i] == EPOCHS]
    assert incumbent.epochs == EPOCHS
    assert incumbent.score == max(values[i, EPOCHS - 1] for i in full)


def test_hyperband_finds_better_than_chance_on_average() -> None:
    values = _curves(5)
    data = _data(values, budget=300.0)
    finals = [values[run_fidelity(data, Hyperband(), s).best, -1] for s in range(20)]
    assert np.mean(finals) > np.mean(values[:, -1])


def test_fidelity_data_from_a_table() -> None:
    v = _curves()
    seeds = {(KEY, 0): v, (KEY, 1): v + 1, (KEY, None): v + 0.5}
    times = {(TIME, None): np.full((27, EPOCHS), 2.0)}
    table = Table(SPACE, {(KEY, None): v[:, -1] + 0.5}, curves=Curves(27, {**seeds, **times}))
    data = fidelity_data(table, "toy", "x-valid", 12, budget_seconds=100.0)
    assert data.values.shape == (2, 27, EPOCHS) and data.max_epochs == EPOCHS
    o = FidelityOracle(data, np.random.default_rng(0))
    first = o.query(3, 2)
    assert first in (v[3, 1], v[3, 1] + 1)
    assert o.query(3, 9) - first == v[3, 8] - v[3, 1]  # one seed's run, kept across queries
    mean = fidelity_data(table, "toy", "x-valid", 12, seed_policy="mean", budget_queries=5)
    assert mean.values.shape == (1, 27, EPOCHS)
    one = fidelity_data(table, "toy", "x-valid", 12, seed_policy=np.int64(1), budget_queries=5)
    np.testing.assert_array_equal(one.values[0], v + 1)
    # the seed rule protocols use (table.policy_seeds), with its message
    with pytest.raises(
        UnknownKeyError,
        match=r"seed 7 is not stored for .*stored seeds: \[0, 1\]; use seed_policy='mean'$",
    ):
        fidelity_data(table, "toy", "x-valid", 12, seed_policy=7, budget_queries=5)
    no_time = Table(SPACE, {(KEY, None): v[:, -1]}, curves=Curves(27, {(KEY, None): v}))
    with pytest.raises(SearchBudgetError, match="per-epoch training times"):
        fidelity_data(no_time, "toy", "x-valid", 12, seed_policy="mean", budget_seconds=10.0)
    with pytest.raises(NoCurvesError):
        fidelity_data(Table(SPACE, {(KEY, None): v[:, -1]}), "toy", "x-valid", 12)


def test_unusable_costs_are_refused_not_looped_on() -> None:
    # a NaN cost never exhausts a time budget: the data refuses it up front
    costs = np.ones((27, EPOCHS))
    costs[4, 2] = np.nan
    with pytest.raises(SearchBudgetError, match="1 architectures have no valid per-epoch time"):
        FidelityData(SPACE, KEY, _curves()[None], costs, 100.0, None)
    ok = FidelityData(SPACE, KEY, _curves()[None], costs, 100.0, None, candidates=np.arange(4))
    o = FidelityOracle(ok, np.random.default_rng(0))
    assert {o.sample(np.random.default_rng(s)) for s in range(40)} <= {0, 1, 2, 3}


def test_measured_only_drops_every_time_the_cost_rule_refuses() -> None:
    # measured_only kept a cell with a negative time (only NaN/inf were dropped), and under a
    # query budget it dropped none; FidelityData then refused it, telling the caller to pass
    # measured_only=True. One rule (oracle.invalid_costs): NaN, infinite or negative
    v = _curves()
    for bad in (-1.0, np.nan):  # Curves refuse an infinite time already
        times = np.full((27, EPOCHS), 2.0)
        times[4, 2] = bad
        curves = Curves(27, {(KEY, None): v, (TIME, None): times})
        table = Table(SPACE, {(KEY, None): v[:, -1]}, curves=curves)
        for budget in ({"budget_seconds": 100.0}, {"budget_queries": 5}):
            data = fidelity_data(
                table, "toy", "x-valid", 12, seed_policy="mean", measured_only=True, **budget
            )
            assert data.candidates is not None
            assert data.candidates.tolist() == [i for i in range(27) if i != 4], (bad, budget)
            # without measured_only: refused, naming the first cell and epoch and the fix
            with pytest.raises(
                SearchBudgetError,
                match=rf"first: cell 4, epoch 3 of 1\.\.{EPOCHS}: {bad!r}\); sample only measured ones "
                r"\(fidelity_data\(\.\.\., measured_only=True\)\)$",
            ):
                fidelity_data(table, "toy", "x-valid", 12, seed_policy="mean", **budget)
    nothing = np.full((27, EPOCHS), -1.0)
    table = Table(
        SPACE, {(KEY, None): v[:, -1]}, curves=Curves(27, {(KEY, None): v, (TIME, None): nothing})
    )
    with pytest.raises(SearchBudgetError, match="no architecture has a curve of .* and valid"):
        fidelity_data(
            table, "toy", "x-valid", 12, seed_policy="mean", budget_queries=5, measured_only=True
        )


@pytest.mark.parametrize(
    ("seconds", "queries"),
    [(float("nan"), None), (float("inf"), None), (0.0, None), (None, 2.5), (None, True)],
)
def test_fidelity_budgets_that_never_run_out_or_are_not_counts_are_refused(
    seconds: float | None, queries: object
) -> None:
    # NaN/inf seconds: no query was ever refused and Hyperband looped for ever; 2.5 bought 2
    costs = np.ones((27, EPOCHS))
    with pytest.raises(SearchBudgetError, match="budget_"):
        FidelityData(SPACE, KEY, _curves()[None], costs, seconds, queries)  # type: ignore[arg-type]


def test_fidelity_queries_take_whole_indices_and_epochs() -> None:
    o = FidelityOracle(_data(_curves()), np.random.default_rng(0))
    with pytest.raises(InvalidArchError, match="must be a whole number"):
        o.query(2.5, 3)  # type: ignore[arg-type]
    for bad in (2.5, True, float("nan"), 0, EPOCHS + 1, "3"):
        with pytest.raises(
            SearchBudgetError, match=rf"^epochs must be a whole number in 1\.\.{EPOCHS} "
        ):
            o.query(2, bad)  # type: ignore[arg-type]
    assert o.queries == 0
    # the whole-number convention (errors.whole_number): 3.0 epochs is 3 epochs, as 2.0 is
    # cell 2; it was refused while the index 2.0 was read
    assert o.query(2, 3.0) == o.query(2, np.float64(3)) == _curves()[2, 2]  # type: ignore[arg-type]
    assert o.paid_epochs(2) == 3
    assert o.query(np.int64(2), np.int64(3)) == _curves()[2, 2]
    # one index rule (Space.arch): 2.0 is cell 2; paid_epochs(2.5) read cell 2's epochs
    assert o.query(2.0, 3) == _curves()[2, 2]  # type: ignore[arg-type]
    assert o.paid_epochs(2.0) == 3  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="must be a whole number"):
        o.paid_epochs(2.5)  # type: ignore[arg-type]


def test_an_offered_index_and_epochs_follow_the_oracles_rules() -> None:
    # a custom multi-fidelity search's offer: int() took 2.5 for cell 2, 3.5 epochs for 3
    o = FidelityOracle(_data(_curves()), np.random.default_rng(0))
    inc = FidelityIncumbent(o)
    with pytest.raises(InvalidArchError, match="whole number"):
        inc.offer(2.5, 3, 50.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="out of range"):
        inc.offer(-1, 3, 50.0)
    # the oracle's own epochs rule, error and message (check_epochs)
    with pytest.raises(SearchBudgetError, match=r"epochs must be a whole number in 1\.\.9"):
        inc.offer(2, 3.5, 50.0)  # type: ignore[arg-type]
    with pytest.raises(SearchBudgetError, match=r"epochs must be a whole number in 1\.\.9"):
        inc.offer(2, 10, 50.0)
    with pytest.raises(InvalidArchError, match="whole number"):
        inc.offer(np.float64(2.5), 3, 50.0)  # type: ignore[arg-type]
    assert inc.index == -1 and not inc.changes
    assert inc.offer(2.0, 3.0, 50.0)  # type: ignore[arg-type]
    assert (inc.index, inc.epochs) == (2, 3) and type(inc.index) is int


def test_hyperband_refuses_a_fractional_eta() -> None:
    # eta=2.5 planned 98.0 configurations and failed in range() with a TypeError; refused
    # where it is written, not when the search starts
    for bad in ({"eta": 2.5}, {"eta": True}, {"min_epochs": 0.5}):
        with pytest.raises(ArgumentError, match="eta|min_epochs"):
            Hyperband(**bad)  # type: ignore[arg-type]
    assert Hyperband(eta=3.0).brackets(EPOCHS) == Hyperband(eta=3).brackets(EPOCHS)  # type: ignore[arg-type]


def test_run_fidelity_needs_a_seed() -> None:
    # None drew OS entropy: a run that could not be reproduced
    with pytest.raises(ArgumentError, match="seed"):
        run_fidelity(_data(_curves()), Hyperband(), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "queries"), [(1e12, None), (None, 10**12), (1e12, 10**12)])
def test_a_fidelity_budget_past_the_protocols_work_bound_is_refused(
    seconds: float | None, queries: int | None
) -> None:
    # 27 cells x 4 epochs with 1e12 s or 10**12 queries: Hyperband never ended
    curves = np.linspace(0, 1, 4)[None, None, :] * np.arange(27.0)[None, :, None]
    costs = np.ones((27, 4))
    with pytest.raises(SearchBudgetError, match=r"more than 100 x the space's 27 cells .*lower"):
        FidelityData(SPACE, KEY, curves, costs, seconds, queries)
    # at the bound (2,700 one-second epochs or queries) a run is still allowed, and ends
    data = FidelityData(SPACE, KEY, curves, costs, 2700.0, 2700)
    assert run_fidelity(data, Hyperband(), 0).seconds <= 2700.0


def test_hyperband_ranks_minus_inf_above_nan() -> None:
    # a rung's survivors were ranked with NaN read as -inf: an unmeasured cell (4) tied with a
    # measured -inf one (5) and was promoted in sampling order; NaN ranks last (ranks_before),
    # so the one bracket the 13 queries buy trains cell 5 to the last epoch
    values = np.zeros((27, EPOCHS))
    values[4] = np.nan
    values[5] = -np.inf
    values[5, -1] = 0.5
    data = with_infinities(
        FidelityData, values[None], SPACE, KEY, None, None, 13, candidates=np.array([4, 5])
    )
    recs = [run_fidelity(data, Hyperband(), seed) for seed in range(8)]
    assert all((r.best, r.epochs, r.score) == (5, EPOCHS, 0.5) for r in recs), recs


@pytest.mark.parametrize("inf", [np.inf, -np.inf])
def test_fidelity_data_refuses_infinite_values_as_a_table_does(inf: float) -> None:
    # an all -inf run "found nothing" with budget spent; a table refuses them (NaN: unmeasured)
    values = np.zeros((2, 27, EPOCHS))
    values[1, 6, 3] = values[1, 8, 0] = inf
    with pytest.raises(SearchBudgetError) as info:
        FidelityData(SPACE, KEY, values, None, None, 13)
    assert str(info.value) == (
        f"vector for {KEY} (seed 1) holds 2 infinite values (first at architecture 6): a table "
        "holds finite numbers; use NaN for a value not measured"
    )


def test_fidelity_options_a_search_would_misread_are_refused() -> None:
    v = _curves()
    loss = MetricKey("toy", "x-valid", 12, "loss")
    times = {(TIME, None): np.full((27, EPOCHS), 2.0)}
    curves = Curves(27, {(KEY, 0): v, (loss, 0): -v, **times})
    table = Table(SPACE, {(KEY, None): v[:, -1]}, curves=curves)
    at = ("toy", "x-valid", 12)
    # the searches keep the highest value: on a loss, Hyperband returned the worst cell
    with pytest.raises(SearchBudgetError, match="they search accuracy, not 'loss'"):
        fidelity_data(table, *at, metric="loss", budget_queries=5)
    # "no" read as yes: resumed runs paid only new epochs; only measured cells sampled
    for name in ("resume", "measured_only"):
        with pytest.raises(ArgumentError, match=f"{name} must be True or False, got 'no'"):
            fidelity_data(table, *at, budget_queries=5, **{name: "no"})
    data = fidelity_data(table, *at, budget_queries=5)
    with pytest.raises(ArgumentError, match="outside must be True or False, got 'no'"):
        FidelityOracle(data, np.random.default_rng(0), outside="no")  # type: ignore[arg-type]
    # a time budget below one epoch of the cheapest cell: every run ended with no incumbent
    with pytest.raises(SearchBudgetError, match=r"1\.5 s is less than the cheapest query \(one"):
        fidelity_data(table, *at, budget_seconds=1.5)
    assert fidelity_data(table, *at, budget_seconds=2.0).budget_seconds == 2.0  # one epoch
