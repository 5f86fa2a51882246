"""Runner and protocols: determinism (also across processes), budgets, errors, curves."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.search import (
    AlgorithmError,
    LocalSearch,
    NARandomSearch,
    NeighbourObjective,
    Protocol,
    ProtocolError,
    RandomSearch,
    RegularizedEvolution,
    fixed_n_protocols,
    make_algorithm,
    nb201_protocol,
    per_dataset_protocols,
    protocols_by_name,
    run_search,
)
from nb201_flat.search.grid import ReproduceConfig
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.runner import run_one, summarise
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table

ALGOS = {
    "rs": RandomSearch(),
    "na-rs": NARandomSearch(NeighbourObjective(radius=1)),
    "na-rs-charged": NARandomSearch(NeighbourObjective(charge=True)),
    "rea": RegularizedEvolution(),
    "ls": LocalSearch(),
}


def test_same_seed_same_output_bit_for_bit_also_with_two_jobs(nb201_like: Table) -> None:
    # per-dataset at 200 epochs: the 'random' seed policy draws among stored seeds
    prots = (nb201_protocol(), *per_dataset_protocols(epochs=200))
    a = run_search(nb201_like, prots, ALGOS, runs=6, seed=11, jobs=1)
    b = run_search(nb201_like, prots, ALGOS, runs=6, seed=11, jobs=1)
    c = run_search(nb201_like, prots, ALGOS, runs=6, seed=11, jobs=2)
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.runs, c.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.curves, c.curves, check_exact=True)
    d = run_search(nb201_like, prots, ALGOS, runs=6, seed=12, jobs=1)
    assert not a.runs["best"].equals(d.runs["best"])


def test_runs_are_paired_and_independent_of_the_other_runs(nb201_like: Table) -> None:
    p = nb201_protocol()
    full = run_search(nb201_like, p, RandomSearch(), runs=8, seed=5).runs
    part = run_search(nb201_like, p, RandomSearch(), runs=3, seed=5).runs
    cols = ["run", "dataset", "best", "test", "queries", "seconds"]
    pd.testing.assert_frame_equal(full[full["run"] < 3][cols].reset_index(drop=True), part[cols])


def test_time_budgets_are_respected_to_the_second(nb201_like: Table) -> None:
    prots = (nb201_protocol(), *per_dataset_protocols())
    res = run_search(nb201_like, prots, ALGOS, runs=4)
    budget = {p.name: p.budget_seconds for p in prots}
    assert (res.runs["seconds"] <= res.runs["protocol"].map(budget)).all()
    # each run is stopped by the budget: the next query (>= the cheapest cost) would not fit
    data = nb201_protocol().oracle_data(nb201_like)
    assert data.costs is not None
    nb = res.runs[res.runs["protocol"] == "nb201"]
    assert (nb["seconds"] > 12_000 - data.costs.max()).all()


def test_protocol_checks_name_what_the_table_lacks(default_table: Table) -> None:
    with pytest.raises(ProtocolError, match=r"lacks search metric cifar10-valid/x-valid@12ep"):
        run_search(default_table, nb201_protocol(), RandomSearch(), runs=1)
    with pytest.raises(ProtocolError, match=r"time_s"):
        nb201_protocol().check(default_table)
    with pytest.raises(ProtocolError, match="unknown protocol 'nb-201'"):
        protocols_by_name("nb-201", default_table)
    with pytest.raises(ProtocolError, match="unknown dataset"):
        per_dataset_protocols(datasets=("cifar10",))


def test_fixed_n_on_the_default_table_is_flagged_optimistic(default_table: Table) -> None:
    (p,) = fixed_n_protocols(default_table, 20)
    assert p.optimistic and p.search == p.report[0]
    res = run_search(default_table, p, RandomSearch(), runs=3)
    assert res.runs["optimistic"].all()
    assert any("OPTIMISTIC" in n and "search metric = report metric" in n for n in res.notes)


def test_protocols_by_name_refuses_the_budget_of_another_family(nb201_like: Table) -> None:
    # n was ignored by the timed families, budget_scale by fixed-n
    with pytest.raises(ProtocolError, match="pass budget_scale instead"):
        protocols_by_name("nb201", nb201_like, n=50)
    with pytest.raises(ProtocolError, match="pass budget_scale instead"):
        protocols_by_name("per-dataset", nb201_like, n=50)
    with pytest.raises(ProtocolError, match="pass n instead"):
        protocols_by_name("fixed-n", nb201_like, budget_scale=2.0)
    (p, *_) = protocols_by_name("fixed-n", nb201_like, n=50)
    assert p.budget_queries == 50
    (q,) = protocols_by_name("nb201", nb201_like, budget_scale=2.0)
    assert q.budget_seconds == 24_000.0


def test_fixed_n_without_validation_at_those_epochs_is_refused_not_optimistic() -> None:
    # x-valid exists, at 200 epochs only: fixed-n at 12 epochs must not quietly search the
    # report key instead (the optimistic fallback is for tables with no validation split)
    v = np.linspace(10, 90, NB201.size)
    data = {
        (MetricKey("cifar100", "x-valid", 200), None): v,
        (MetricKey("cifar100", "x-test", 200), None): v,
    }
    table = Table(NB201, data, source="valid at 200")
    with pytest.raises(ProtocolError, match=r"no x-valid key at 12 epochs.*at 200 epochs"):
        fixed_n_protocols(table, 20)
    (p,) = fixed_n_protocols(table, 20, epochs=200)
    assert p.search == MetricKey("cifar100", "x-valid", 200) and not p.optimistic
    # x-valid that fixed-n can never search (an unknown dataset; no report key beside it)
    # keeps the optimistic fallback, at its own epochs (12 given is refused: next test)
    for odd in (MetricKey("synthetic", "x-valid", 200), MetricKey("cifar10-valid", "x-valid", 200)):
        other = Table(NB201, {(odd, None): v}, source="odd")
        for epochs in (None, 200):
            (q,) = fixed_n_protocols(other, 20, epochs=epochs)
            assert q.optimistic and q.search == odd


def test_fixed_n_fallback_refuses_search_epochs_given(default_table: Table) -> None:
    # no validation split: the fallback searches the 200-epoch report key; epochs=12 given
    # was ignored without a word (the protocol searched 200 epochs all the same)
    (plain,) = fixed_n_protocols(default_table, 20)
    assert plain.search.epochs == 200 and plain.optimistic
    fix = r"; leave epochs out, or pass epochs=200$"
    with pytest.raises(
        ProtocolError, match=r"has no validation split.* at 200 epochs, not at 12" + fix
    ):
        fixed_n_protocols(default_table, 20, epochs=12)
    with pytest.raises(ProtocolError, match=fix):
        protocols_by_name("fixed-n", default_table, epochs=12)
    # the fallback's own epochs, given, are what it searches: served as without them
    assert fixed_n_protocols(default_table, 20, epochs=200) == (plain,)
    assert protocols_by_name("fixed-n", default_table, n=20) == (plain,)


def test_seed_fallback_is_noted_or_refused(nb201_like: Table) -> None:
    notes = nb201_protocol().check(nb201_like)
    assert any("falls back to the one value" in n for n in notes)
    assert any("x 12/200" in n for n in notes)
    with pytest.raises(ProtocolError, match="seed_policy='mean'"):
        nb201_protocol().replace(seed_fallback=False).check(nb201_like)
    with pytest.raises(ProtocolError, match="seed 5 is not stored"):
        nb201_protocol(epochs=200, seed_policy=5).oracle_data(nb201_like)
    # check() refuses it too (one rule, table.policy_seeds): it passed, then oracle_data failed
    with pytest.raises(ProtocolError, match="seed 5 is not stored.*use seed_policy='mean'"):
        nb201_protocol(epochs=200, seed_policy=5).check(nb201_like)
    stored = nb201_like.seeds(nb201_protocol(epochs=200).search)[0]
    data = nb201_protocol(epochs=200, seed_policy=stored).oracle_data(nb201_like)
    key = nb201_protocol(epochs=200).search
    np.testing.assert_array_equal(data.values[0], nb201_like.vector_for(key, seed_policy=stored))


def test_an_asked_random_seed_policy_is_never_a_fallback(nb201_like: Table) -> None:
    # only the builders' default random falls back to a key's single value; asked for (a
    # builder's seed_policy=, Protocol(...), --seed-policy random) it is refused, as query does
    from nb201_flat.search.protocol import per_dataset_protocols

    impossible = "no per-seed values, so seed policy 'random' is impossible"
    for asked in (
        nb201_protocol(seed_policy="random"),
        per_dataset_protocols(seed_policy="random")[0],
        protocols_by_name("nb201", nb201_like, seed_policy="random")[0],
        protocols_by_name("fixed-n", nb201_like, seed_policy="random")[0],
        nb201_protocol().replace(seed_fallback=False),
        protocols_by_name("fixed-n", nb201_like)[0].replace(seed_policy="random"),
        Protocol("p", nb201_protocol().search, nb201_protocol().report, budget_queries=3,
                 seed_policy="random"),
    ):  # fmt: skip
        assert not asked.seed_fallback
        with pytest.raises(ProtocolError, match=impossible):
            asked.check(nb201_like)
    for default in (nb201_protocol(), protocols_by_name("per-dataset", nb201_like)[0]):
        assert default.seed_fallback and default.seed_policy == "random"
        assert any(
            "default seed policy 'random' falls back" in n for n in default.check(nb201_like)
        )
    # where per-seed values exist, an asked random is served
    assert (
        nb201_protocol(epochs=200, seed_policy="random").oracle_data(nb201_like).order is not None
    )


def _search_test(valid: np.ndarray, test: np.ndarray) -> tuple[Table, Protocol]:
    search, report = MetricKey("cifar100", "x-valid", 200), MetricKey("cifar100", "x-test", 200)
    table = Table(NB201, {(search, None): valid, (report, None): test}, source="holes")
    return table, Protocol("p", search, (report,), budget_queries=20)


@pytest.mark.parametrize("empty", ["search", "report"])
def test_a_key_with_no_measured_cell_is_refused_up_front(empty: str) -> None:
    # every run ended with nothing to report: the CLI printed "nan ± nan (n=0)", exit 0
    v, none = np.linspace(10, 90, NB201.size), np.full(NB201.size, np.nan)
    table, p = _search_test(none, v) if empty == "search" else _search_test(v, none)
    with pytest.raises(ProtocolError, match=f"no architecture is measured for {empty} metric") as e:
        run_search(table, p, RandomSearch(), runs=2)
    assert "choose a protocol whose keys are measured" in str(e.value)  # the fix, not only info


def test_runs_whose_pick_has_no_report_value_are_noted() -> None:
    # half the runs were left out of the mean with only a smaller n to show for it
    v = np.linspace(10, 90, NB201.size)
    holes = np.where(np.arange(NB201.size) % 2 == 1, np.nan, v)
    res = run_search(*_search_test(v, holes), RandomSearch(), runs=20)
    n = int(res.summary()["n"].iloc[0])
    assert 0 < n < 20
    assert f"{20 - n} of 20 runs have no cifar100/x-test@200ep:accuracy value" in " ".join(
        res.notes
    )
    assert f"covers the other {n}" in " ".join(res.notes)
    full = run_search(*_search_test(v, v), RandomSearch(), runs=20)
    assert not any("runs have no" in note for note in full.notes)


def test_a_time_budget_below_the_cheapest_query_is_refused(nb201_like: Table) -> None:
    # every run ended before its first query: "nan ± nan (n=0, 0 queries)", exit 0
    # the fix names the budget the protocol was given (a builder's scale: test_budget_messages)
    with pytest.raises(ProtocolError, match=r"less than the cheapest query.*\(budget_seconds\)$"):
        run_search(nb201_like, nb201_protocol(budget_seconds=1e-6), RandomSearch(), runs=2)


def test_a_time_budget_below_the_cheapest_connected_query_is_refused(nb201_like: Table) -> None:
    # connected-only sampling: the check took the cheapest of all cells, here a disconnected one
    p = nb201_protocol(budget_seconds=1.0).replace(sampling="connected")
    assert p.cost is not None
    connected = nb201_like.space.connected
    # a connected query: 100 s; a disconnected one 6e-5 s, so that 1 s buys (at most) 16,667
    # queries, within the bound on a run's work (100 x the space's cells)
    cost = np.where(connected, 100.0 / p.cost_scale, 1e-3)
    data = {**nb201_like.data, (p.cost, None): cost}
    table = Table(nb201_like.space, data, source="cheap-disconnected")
    with pytest.raises(ProtocolError, match=r"less than the cheapest query \(100 s\)"):
        p.oracle_data(table)
    assert p.replace(sampling="uniform").oracle_data(table).candidates is None  # 6e-5 s fits


def test_check_refuses_what_oracle_data_refuses(nb201_like: Table) -> None:
    # check() passed a table with unmeasured training times, then oracle_data refused it: the
    # figures took per-dataset for served and a `figures` run stopped with this ProtocolError
    from nb201_flat.conventions import servable_protocols

    p = nb201_protocol()
    assert p.cost is not None
    costs = nb201_like.vector_for(p.cost).copy()
    costs[::7] = np.nan
    holes = nb201_like.with_vector(p.cost, costs)
    with pytest.raises(ProtocolError, match=r"have no valid cost in .*; use a fixed-n protocol"):
        p.check(holes)
    assert servable_protocols(holes) == ("fixed-n",)  # per-dataset charges cifar10-valid too
    # a budget in queries alone charges no time: the fix is to drop the cost, not fixed-n
    queries = p.replace(budget_seconds=None, budget_queries=50)
    with pytest.raises(ProtocolError, match=r"no valid cost in .*; pass cost=None: this prot"):
        queries.check(holes)
    assert isinstance(queries.replace(cost=None).check(holes), list)


def test_optimistic_overlap_rules() -> None:
    rep = (MetricKey("cifar100", "ori-test", 200),)
    p = Protocol("p", MetricKey("cifar100", "x-valid", 200), rep, budget_queries=5)
    assert p.optimistic  # ori-test contains x-valid for cifar100
    q = p.replace(report=(MetricKey("cifar100", "x-test", 200),))
    assert not q.optimistic
    assert not nb201_protocol().optimistic


def test_bad_runner_arguments(nb201_like: Table) -> None:
    p = nb201_protocol()
    with pytest.raises(AlgorithmError, match="runs"):
        run_search(nb201_like, p, RandomSearch(), runs=0)
    with pytest.raises(AlgorithmError, match="seed"):
        run_search(nb201_like, p, RandomSearch(), runs=1, seed=-1)
    with pytest.raises(AlgorithmError, match="jobs"):
        run_search(nb201_like, p, RandomSearch(), runs=1, jobs=0)
    with pytest.raises(AlgorithmError, match="unique"):
        run_search(nb201_like, p, [RandomSearch(), RandomSearch()], runs=1)
    with pytest.raises(AlgorithmError, match="not a search algorithm"):
        run_search(nb201_like, p, [object()], runs=1)  # type: ignore[list-item]
    with pytest.raises(ProtocolError, match="unique"):
        run_search(nb201_like, [p, p], RandomSearch(), runs=1)


@pytest.mark.parametrize("bad", [0, 1, -1, 2.5, True, 10**8])
def test_curve_points_are_checked_before_any_work(nb201_like: Table, bad: object) -> None:
    # 0 gave no curves, -1 and 2.5 raised numpy's ValueError/TypeError, 10**8 filled the memory
    with pytest.raises(AlgorithmError, match="curve_points"):
        run_search(nb201_like, nb201_protocol(), RandomSearch(), runs=2, curve_points=bad)  # type: ignore[arg-type]
    res = run_search(nb201_like, nb201_protocol(), RandomSearch(), runs=2, curve_points=np.int64(3))
    assert sorted(set(res.curves["x"])) == [0.0, 6000.0, 12000.0]


def test_what_is_not_a_protocol_or_a_table_is_refused(nb201_like: Table) -> None:
    # a protocol's name was iterated as letters ('str' object has no attribute 'name')
    with pytest.raises(ProtocolError, match="'nb201' is not a Protocol; build one with"):
        run_search(nb201_like, "nb201", RandomSearch(), runs=1)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="not a Protocol"):
        run_search(nb201_like, ["nb201"], RandomSearch(), runs=1)  # type: ignore[list-item]
    with pytest.raises(AlgorithmError, match="table must be a Table, got str"):
        run_search("nb201.parquet", nb201_protocol(), RandomSearch(), runs=1)  # type: ignore[arg-type]


def test_anytime_curves_are_monotone_for_rs_in_validation(nb201_like: Table) -> None:
    res = run_search(nb201_like, nb201_protocol(), RandomSearch(), runs=10, curve_points=11)
    cur = res.curves[res.curves["dataset"] == "cifar10"]
    assert cur["x"].iloc[0] == 0.0 and cur["x"].iloc[-1] == 12_000.0
    assert cur["n"].iloc[0] == 0 and cur["n"].iloc[-1] == 10
    final = res.runs[res.runs["dataset"] == "cifar10"]["test"].mean()
    assert cur["mean"].iloc[-1] == pytest.approx(final)
    assert np.isfinite(cur["mean"].iloc[1:]).all()


BATCHED = {
    "rs": RandomSearch(),
    "na-rs": NARandomSearch(NeighbourObjective(radius=1)),
    "na-rs-charged": NARandomSearch(NeighbourObjective(charge=True)),
    "na-rs2": NARandomSearch(NeighbourObjective(), rerank_top_k=3),
    "rea": RegularizedEvolution(),
    "na-ls": LocalSearch(objective=NeighbourObjective()),
}


def test_batched_cells_split_across_processes_give_the_loops_records(nb201_like: Table) -> None:
    from nb201_flat.search import vectorised
    from nb201_flat.search.runner import run_one

    prots = (nb201_protocol(), *per_dataset_protocols(epochs=200)[:1])
    data = prots[0].oracle_data(nb201_like)
    assert all(vectorised.batched_ok(data, a) for a in BATCHED.values())
    a = run_search(nb201_like, prots, BATCHED, runs=7, seed=4, jobs=1)
    for jobs in (2, 3):
        b = run_search(nb201_like, prots, BATCHED, runs=7, seed=4, jobs=jobs)
        pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
        pd.testing.assert_frame_equal(a.curves, b.curves, check_exact=True)
    # and every run is the loop's run, whichever process ran which share of the cell
    rows = a.runs[(a.runs["protocol"] == "nb201") & (a.runs["dataset"] == "cifar10")]
    for label, algo in BATCHED.items():
        got = rows[rows["algorithm"] == label].sort_values("run")
        want = [run_one(data, algo, 4, r) for r in range(7)]
        assert got["best"].tolist() == [w.best for w in want]
        assert got["seconds"].tolist() == [w.seconds for w in want]
        assert got["free_queries"].tolist() == [w.free_queries for w in want]


def test_the_plan_covers_every_run_once_and_shares_batched_cells() -> None:
    from nb201_flat.search.runner import _plan

    cells = [(0, 0), (0, 1), (1, 0)]
    batched = [True, False, True]
    for jobs in (1, 2, 3, 8):
        tasks = _plan(cells, batched, runs=10, jobs=jobs)
        for c in range(3):
            mine = [t for t in tasks if t.cell == c]
            covered = sorted(r for t in mine for r in range(t.start, t.stop))
            assert covered == list(range(10))
            assert all(t.batched == batched[c] for t in mine)
            assert {(t.data, t.algo) for t in mine} == {cells[c]}
            if batched[c]:  # one share per process (at most one per run)
                assert len(mine) == min(jobs, 10)
    # batched shares are handed out first, the loop's small chunks fill in behind
    tasks = _plan(cells, batched, runs=10, jobs=2)
    kinds = [t.batched for t in tasks]
    assert kinds == sorted(kinds, reverse=True)


def test_incumbent_curves_equal_a_search_per_run() -> None:
    from nb201_flat.search.runner import RunRecord, _incumbents

    rng = np.random.default_rng(0)
    recs = []
    for r in range(40):
        k = int(rng.integers(0, 6))
        # ties on purpose: free look-ups change the incumbent without spending time
        t = np.sort(rng.choice([0.0, 1.0, 2.5, 5.0, 7.0, 10.0, 12.0], size=k))
        q = np.sort(rng.integers(0, 30, size=k))
        changes = tuple(
            (float(a), int(b), int(c))
            for a, b, c in zip(t, q, rng.integers(0, 99, size=k), strict=True)
        )
        recs.append(RunRecord(r, -1, 0.0, 0, 0.0, 0, 0, changes))
    for col, grid in ((0, np.linspace(0.0, 12.0, 13)), (1, np.arange(0.0, 31.0, 3.0))):
        got = _incumbents(recs, col, grid)
        for r, rec in enumerate(recs):
            want = np.full(grid.size, -1)
            if rec.changes:
                t = np.array([c[col] for c in rec.changes], dtype=np.float64)
                idx = np.array([c[2] for c in rec.changes])
                pos = np.searchsorted(t, grid, side="right") - 1
                want = np.where(pos >= 0, idx[np.maximum(pos, 0)], -1)
            np.testing.assert_array_equal(got[r], want)


def test_cells_may_share_a_protocol_name_but_not_a_label(nb201_like: Table) -> None:
    from nb201_flat.search.runner import run_cells

    p = nb201_protocol()
    q = p.replace(budget_seconds=20_000.0)  # same name, a larger budget (a matched control)
    res = run_cells(nb201_like, [(p, "rs", RandomSearch()), (q, "rs+", RandomSearch())], runs=3)
    assert res.runs.groupby("algorithm")["seconds"].max()["rs+"] > 12_000
    assert list(res.runs["algorithm"].drop_duplicates()) == ["rs", "rs+"]
    with pytest.raises(AlgorithmError, match="unique"):
        run_cells(nb201_like, [(p, "rs", RandomSearch()), (q, "rs", RandomSearch())], runs=3)


def test_a_search_without_a_bar_leaves_no_thread_behind() -> None:
    # the pools fork: a thread alive in the parent (tqdm's monitor, which any tqdm object
    # starts, even a disabled one, and which then lives on) must not be there when they do
    code = (
        "import threading\n"
        "from nb201_flat.testing import synthetic_table\n"
        "from nb201_flat.search import RandomSearch, LocalSearch, nb201_protocol, run_search\n"
        "t = synthetic_table()\n"
        "run_search(t, nb201_protocol(), {'rs': RandomSearch(), 'ls': LocalSearch()}, runs=3)\n"
        "print([x.name for x in threading.enumerate()])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "['MainThread']", out.stdout + out.stderr


def test_a_cell_with_an_empty_neighbourhood_scores_nan_and_never_wins() -> None:
    # one edge, two ops: the only neighbour of the conv cell is the disconnected empty cell,
    # so without the cell itself its connected neighbourhood is empty
    from nb201_flat.search import vectorised
    from nb201_flat.search.oracle import OracleData
    from nb201_flat.search.runner import run_one
    from nb201_flat.space import Space

    space = Space(("none", "conv"), 2)
    data = OracleData(
        space, MetricKey("toy", "x-valid", 12), np.array([[1.0, 5.0]]), None, None, None, None, 8
    )
    obj = NeighbourObjective(connected_only=True, include_self=False)
    assert obj.neighbourhood.arrays(space).counts.tolist() == [1, 0]
    for algo in (
        NARandomSearch(obj),
        NARandomSearch(NeighbourObjective(connected_only=True, include_self=False, charge=True)),
        RegularizedEvolution(objective=obj, population=2, sample_size=2),
        LocalSearch(objective=obj),
    ):
        loop = [run_one(data, algo, 3, r) for r in range(6)]
        # the conv cell (value 5) scores NaN and never becomes the incumbent
        assert {(r.best, r.score) for r in loop} == {(0, 5.0)}, algo.label
        if vectorised.batched_ok(data, algo):
            assert vectorised.run_batched(data, algo, 3, range(6)) == loop, algo.label


@pytest.mark.parametrize(("seed", "run"), [(None, 0), (True, 0), (-1, 0), (0, -1), (0, 1.5)])
def test_run_one_takes_a_master_seed_and_a_run_number(
    nb201_like: Table, seed: object, run: object
) -> None:
    # seed=None drew OS entropy: a run that could not be reproduced; -1/1.5 raised numpy's
    data = fixed_n_protocols(nb201_like, 5)[0].oracle_data(nb201_like)
    with pytest.raises(AlgorithmError, match="seed|run"):
        run_one(data, RandomSearch(), seed, run)  # type: ignore[arg-type]
    assert run_one(data, RandomSearch(), np.int64(3), np.int64(2)) == run_one(
        data, RandomSearch(), 3, 2
    )


def test_summarise_names_the_columns_a_frame_lacks(nb201_like: Table) -> None:
    from nb201_flat.search.runner import summarise

    with pytest.raises(AlgorithmError, match="lacks protocol, algorithm"):
        summarise(pd.DataFrame())  # pandas raised KeyError: 'protocol'
    res = run_search(nb201_like, fixed_n_protocols(nb201_like, 5)[0], RandomSearch(), runs=2)
    assert summarise(res.runs.iloc[:0]).empty  # an empty frame of a search: no rows


@pytest.mark.parametrize("epochs", [True, 0, 2.5, "12"])
def test_protocol_builders_check_the_search_epochs(nb201_like: Table, epochs: object) -> None:
    # epochs=True named the protocol "nb201@Trueep" and searched 1-epoch keys
    for build in (
        lambda: nb201_protocol(epochs=epochs),  # type: ignore[arg-type]
        lambda: per_dataset_protocols(epochs=epochs),  # type: ignore[arg-type]
        lambda: fixed_n_protocols(nb201_like, 5, epochs=epochs),  # type: ignore[arg-type]
    ):
        with pytest.raises(ArgumentError, match="epochs"):
            build()


def test_run_search_takes_algorithm_names_and_refuses_classes(nb201_like: Table) -> None:
    # a class raised a bare TypeError; a name was iterated as letters ("'r' is not ...")
    from nb201_flat.search import algorithms as A

    p = nb201_protocol()
    with pytest.raises(AlgorithmError, match=r"class, not a search algorithm.*RandomSearch\(\)"):
        run_search(nb201_like, p, A.RandomSearch, runs=2)
    named = run_search(nb201_like, p, "rs", runs=2)
    built = run_search(nb201_like, p, RandomSearch(), runs=2)
    pd.testing.assert_frame_equal(named.runs, built.runs)
    both = run_search(nb201_like, p, ["rs", "na-rs"], runs=2)
    assert set(both.runs["algorithm"]) == {"rs", NARandomSearch().label}
    with pytest.raises(AlgorithmError, match="unknown algorithm 'bogus'; choose from rs, na-rs"):
        run_search(nb201_like, p, "bogus", runs=2)
    with pytest.raises(AlgorithmError, match="3 is not a search algorithm"):
        run_search(nb201_like, p, 3, runs=2)  # type: ignore[arg-type]


def t_data(table: Table) -> OracleData:
    return fixed_n_protocols(table, 5)[0].oracle_data(table)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # an array's `in` among the names raised numpy's ambiguous-truth ValueError
        (lambda t: nb201_protocol(repeats=np.zeros(2)), "^repeats must be 'charge' or 'cache'"),
        (lambda t: RegularizedEvolution(mutation=np.zeros(2)), "^mutation must be"),
        (
            lambda t: replace(t_data(t), repeats=np.zeros(2)),
            "^repeats must be 'charge' or 'cache', got array",
        ),
        (lambda t: ReproduceConfig(design=np.zeros(2)), "^design must be 'one-at-a-time'"),
        # unhashable, not iterable, or not a table: bare TypeErrors and AttributeErrors
        (lambda t: make_algorithm(["rs"]), r"^unknown algorithm \['rs'\]; choose from rs"),
        (lambda t: per_dataset_protocols(datasets=3), "^datasets must be a tuple of dataset"),
        (lambda t: fixed_n_protocols(t.data), "^table must be a Table, got dict"),
        (lambda t: nb201_protocol().check([t]), "^table must be a Table, got list"),
        (lambda t: run_search(t, 3, "rs", runs=1), "^protocols must be a Protocol or a list"),
        (lambda t: run_one(3, RandomSearch(), 0, 0), "^data must be an OracleData"),
        (lambda t: summarise([1, 2]), r"^runs must be a SearchResults.runs frame, got \[1, 2\]"),
        # datasets=() built no protocol: a search over nothing, silently
        (lambda t: per_dataset_protocols(datasets=()), "^datasets is empty; choose from"),
        # progress="no" drew the bar (truthy), None hid it
        (
            lambda t: run_search(t, fixed_n_protocols(t, 5)[:1], "rs", runs=1, progress="no"),
            "^progress must be True or False, got 'no'$",
        ),
    ],
)
def test_a_wrong_kind_of_search_argument_names_its_parameter(
    nb201_like: Table, call: object, match: str
) -> None:
    from nb201_flat.errors import Nb201FlatError

    with pytest.raises(Nb201FlatError, match=match) as err:
        call(nb201_like)  # type: ignore[operator]
    assert "\n" not in str(err.value)


def test_run_one_refuses_an_algorithm_that_is_none() -> None:
    data = fixed_n_protocols(synthetic_table(), 5)[0].oracle_data(synthetic_table())
    # None.search: an AttributeError after the oracle was built
    with pytest.raises(ArgumentError, match="^algorithm must be a search algorithm"):
        run_one(data, None, 0, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        # a protocol's name keys its results: None and a list were taken as given
        ("name", None, "^name must be a non-empty str, got None$"),
        ("name", ["p"], r"^name must be a non-empty str, got \['p'\]$"),
        # "no" is truthy: a key's single value would serve 'random' silently
        ("seed_fallback", "no", "^seed_fallback must be True or False, got 'no'$"),
        ("budget_by", 3, "^budget_by must be a parameter's name or None, got 3$"),
        # the key's repr spanned lines
        (
            "search",
            np.zeros((2, 2)),
            r"^protocol 'p': its search key must be a MetricKey, got array\(",
        ),
    ],
)
def test_a_protocol_checks_every_field(field: str, value: object, match: str) -> None:
    from nb201_flat.errors import Nb201FlatError

    fields: dict[str, object] = {
        "name": "p",
        "search": MetricKey("cifar10-valid", "x-valid", 12),
        "report": (MetricKey("cifar10", "ori-test", 200),),
        "budget_queries": 10,
    }
    with pytest.raises(Nb201FlatError, match=match) as err:
        Protocol(**{**fields, field: value})  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("cells", "match"),
    [
        (3, r"^cells must be a sequence of \(protocol, label, algorithm\) triples, got 3"),
        ("rs", r"^cells must be a sequence of"),
        ([("rs", RandomSearch())], r"^cells must hold \(protocol, label, algorithm\) triples, got"),
        ([3], r"^cells must hold \(protocol, label, algorithm\) triples, got 3"),
        ([(None, "rs", "rs")], r"^cells must hold .* \(a str label, a SearchAlgorithm\)"),
    ],
)
def test_run_cells_refuses_what_is_not_a_list_of_triples(
    nb201_like: Table, cells: object, match: str
) -> None:
    from nb201_flat.search.runner import run_cells

    # each was a bare TypeError or ValueError (unpacking) before any run
    with pytest.raises(ArgumentError, match=match):
        run_cells(nb201_like, cells, runs=2)  # type: ignore[arg-type]


def test_frames_name_the_whole_reported_key(nb201_like: Table) -> None:
    # the same dataset and split at two schedules: dataset/split alone merged them into one
    # summary row (n = 2 x runs) and a 12-epoch value read as a 200-epoch one
    keys = (MetricKey("cifar100", "x-valid", 12), MetricKey("cifar100", "x-valid", 200))
    p = Protocol(
        "two-schedules", MetricKey("cifar10-valid", "x-valid", 12), keys, budget_queries=20
    )
    res = run_search(nb201_like, (p,), {"rs": RandomSearch()}, runs=4, seed=0)
    for frame in (res.runs, res.curves, res.summary()):
        cols = list(frame.columns)
        assert cols[cols.index("split") + 1 : cols.index("split") + 3] == ["epochs", "metric"]
        assert frame["epochs"].dtype == np.int64
    summary = res.summary()
    assert sorted(summary["epochs"]) == [12, 200]
    assert list(summary["n"]) == [4, 4]
    for key in keys:
        row = summary[summary["epochs"] == key.epochs].iloc[0]
        assert row["metric"] == key.metric
        runs = res.runs[res.runs["epochs"] == key.epochs]
        want = nb201_like.vector_for(key)[runs["best"].to_numpy(dtype=np.int64)]
        assert row["mean"] == pytest.approx(float(np.mean(want)))
