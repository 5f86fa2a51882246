"""An audit's findings on the search layer, each reproduced first: a selection no run gets past
(REA's population, two-stage NA-RS's top-k), unmeasured search cells under the mean, a cost
or search key of the wrong kind, a refused finish, reproduce's fixed-n and top-k flags, and a
summary of nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.conventions import search_key
from nb201_flat.errors import ArgumentError, MissingValueError, ProtocolError, SearchBudgetError
from nb201_flat.search import (
    NARandomSearch,
    RandomSearch,
    RegularizedEvolution,
    make_algorithm,
    nb201_protocol,
    run_search,
)
from nb201_flat.search.algorithms import NeighbourObjective
from nb201_flat.search.asktell import Session
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.protocol import Protocol
from nb201_flat.space import Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table

TINY = Space(("none", "skip_connect", "nor_conv_3x3"), 3)
VAL, TEST = MetricKey("toy", "x-valid", 12), MetricKey("toy", "x-test", 12)
TIME = MetricKey("toy", "train", 12, "time_s")


def _line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one error line of a refused command (exit 2, no traceback)."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture(scope="module")
def like() -> Table:
    return synthetic_table()


@pytest.fixture(scope="module")
def like_path(like: Table, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(like, tmp_path_factory.mktemp("audit9") / "like.nb201"))


# -- 1: a population or a top-k that the budget never gets past --------------------------------
def test_a_population_that_takes_every_query_is_refused_before_any_run(like: Table) -> None:
    # rea(population=100) on 100 queries ran labelled rea(p100,s3): its runs were random
    # search's, whatever its mutation and sample size
    report = MetricKey("cifar10", "ori-test", 200)
    p = Protocol("fixed", search_key("cifar10", 12), (report,), budget_queries=100)
    with pytest.raises(ProtocolError) as info:
        run_search(like, p, RegularizedEvolution(population=100), runs=2)
    msg = str(info.value)
    assert "a run makes at most 100 charged queries (a budget of 100 queries)" in msg
    assert msg.endswith(
        "lower the population (population=99) or raise the budget (budget_queries=101) or run "
        "random search (name='rs')"
    ), msg
    run_search(like, p, RegularizedEvolution(population=99), runs=2)  # one mutation: served
    # a cache or an NA memory fills a population with free revisits too: not certain, served
    run_search(like, p.replace(repeats="cache"), RegularizedEvolution(population=100), runs=2)


def test_the_command_line_names_its_flags(
    like_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--runs", "2", "--protocol", "fixed-n", "--table", like_path]
    line = _line(capsys, *argv, "--algo", "rea", "--population", "200")
    assert line.endswith(
        "lower the population (--population 99) or raise the budget (--fixed-n 201) or run random "
        "search (--algo rs)"
    ), line
    line = _line(capsys, *argv, "--algo", "na-rs", "--rerank-top-k", "100000")
    assert "stage 1 pays for at most 100 cells (a budget of 100 queries)" in line
    assert "one-stage NA-RS's very runs" in line
    assert line.endswith("lower the top-k (--rerank-top-k 99) or drop --rerank-top-k"), line


def test_a_time_budget_notes_the_runs_that_never_got_past_their_population(like: Table) -> None:
    # nb201 on this table affords 50 to 58 queries a run: a population of 54 is random search
    # in some runs, which the summary averaged in without a word
    p = nb201_protocol()
    res = run_search(
        like, p, {"rs": RandomSearch(), "rea": RegularizedEvolution(population=54)}, runs=40
    )
    runs = res.runs.drop_duplicates(["algorithm", "run"]).pivot(
        index="run", columns="algorithm", values=["queries", "best"]
    )
    short = runs["queries"]["rea"] <= 54
    assert 0 < short.sum() < 40
    # the runs that never mutated are random search's very runs (the same stream)
    assert (runs["best"]["rea"][short] == runs["best"]["rs"][short]).all()
    note = next(n for n in res.notes if n.startswith("nb201 rea: "))
    assert note.startswith(
        f"nb201 rea: {short.sum()} of 40 runs spent their budget before they scored a child "
        "of their population of 54, so they never mutated a cell"
    ), note
    assert note.endswith("lower population or raise the budget (budget_seconds)")


def test_a_top_k_past_stage_1_is_refused_or_noted(like: Table) -> None:
    p = nb201_protocol()
    # every cell a run could pay for: one-stage NA-RS's runs (20 of 20 on the real table)
    with pytest.raises(ProtocolError, match=r"stage 1 pays for at most 99 cells \(12000 s"):
        run_search(like, p, make_algorithm("na-rs", rerank_top_k=100_000), runs=2)
    free = NeighbourObjective()
    res = run_search(
        like,
        p,
        {"one": NARandomSearch(free), "two": NARandomSearch(free, rerank_top_k=54)},
        runs=40,
    )
    runs = res.runs.drop_duplicates(["algorithm", "run"]).pivot(
        index="run", columns="algorithm", values=["queries", "best"]
    )
    short = runs["queries"]["two"] <= 54
    assert 0 < short.sum() < 40
    assert (runs["best"]["two"][short] == runs["best"]["one"][short]).all()
    assert any(
        n.startswith(f"nb201 two: {short.sum()} of 40 runs paid for no more than 54 cells")
        for n in res.notes
    ), res.notes
    # charged: stage 1 stops at its share, 20 of 40 queries
    charged = NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=20)
    fixed = Protocol("fixed", VAL, (TEST,), budget_queries=40)
    toy = Table(TINY, {(VAL, None): np.arange(27.0), (TEST, None): np.arange(27.0)})
    with pytest.raises(ProtocolError) as info:
        run_search(toy, fixed, charged, runs=2)
    assert "stage 1 pays for at most 20 cells (0.5 of a budget of 40 queries)" in str(info.value)
    assert str(info.value).endswith(
        "lower the top-k (rerank_top_k=19) or raise the budget (budget_queries=41) or drop "
        "rerank_top_k"
    ), info.value
    run_search(toy, fixed, replace(charged, rerank_top_k=19), runs=2)


def test_the_grid_names_its_own_fields(tmp_path: Path) -> None:
    # fixed-n on a 27-cell table: its two-stage top-k and REA's population, refused by the
    # fields the grid has (no population of its own)
    table = _no_valid_split_table()
    cfg = ReproduceConfig.quick(runs=2, protocols=("fixed-n",), rerank_top_k=(30,))
    with pytest.raises(ProtocolError) as info:
        reproduce(table, cfg)
    assert str(info.value).endswith(
        "lower the top-k below 27 (rerank_top_k) or leave the search out (rerank_top_k=())"
    ), info.value
    cfg = ReproduceConfig.quick(runs=2, protocols=("fixed-n",), fixed_n=5, rerank_top_k=())
    with pytest.raises(
        ProtocolError, match=r"^rea under fixed-n:cifar10: a run makes at most 5"
    ) as info:
        reproduce(table, cfg)
    assert str(info.value).endswith(
        "raise the budget (fixed_n=11) or leave the search out (relatives=False)"
    ), info.value


# -- 2: unmeasured cells of the search key, under the mean too ---------------------------------
def _holes_at_12_epochs(like: Table) -> Table:
    data = dict(like.data)
    key = search_key("cifar10", 12)
    v = np.array(like.vector_for(key))
    v[::3] = np.nan  # a third of the cells never measured at 12 epochs
    data[(key, None)] = v
    return Table(like.space, data, source="holes at 12 epochs")


def test_unmeasured_search_cells_are_refused_under_every_policy(like: Table) -> None:
    # under 'mean' (and the default 'random' falling back to the one value) each query of an
    # unmeasured cell was charged and answered NaN, exit 0; a Session charged 127 s for nan
    holes = _holes_at_12_epochs(like)
    for p in (nb201_protocol(), nb201_protocol(seed_policy="mean")):
        with pytest.raises(ProtocolError) as info:
            run_search(holes, p, RandomSearch(), runs=2)
        assert str(info.value).startswith(
            "protocol 'nb201': 5,209 of the 15,625 architectures have no "
            "cifar10-valid/x-valid@12ep:accuracy value (e.g. cell 0), so each query of one "
            "would be charged and return NaN"
        ), info.value
        assert "search a schedule measured on every one (epochs=200)" in str(info.value)
        with pytest.raises(ProtocolError, match="5,209 of the 15,625"):
            Session(holes, p)  # refused before the session can charge anything
    # a fixed seed's own check is unchanged: measured cells the seed lacks
    run_search(like, nb201_protocol(seed_policy="mean"), RandomSearch(), runs=2)


def test_a_seed_policy_serves_cells_whose_mean_is_unmeasured() -> None:
    # an official file stores a NaN mean where one run lacks a value: a seed measuring the
    # cell serves it, so seed 0 and 'random' were refused for a key they could serve
    v = np.arange(27.0) + 10
    mean, lacks2 = v.copy(), v.copy()
    mean[5] = lacks2[5] = np.nan
    table = Table(
        TINY,
        {(VAL, None): mean, (VAL, 0): v, (VAL, 1): v, (VAL, 2): lacks2, (TEST, None): v},
    )
    for policy in (0, 1, "random"):
        res = run_search(
            table,
            Protocol("toy", VAL, (TEST,), budget_queries=5, seed_policy=policy),
            RandomSearch(),
            runs=2,
        )
        assert len(res.runs) == 2
    with pytest.raises(
        ProtocolError,
        match=r"^protocol 'toy': 1 of the 27 architectures have no toy/x-valid@12ep:accuracy value \(e\.g\. cell 5\)",
    ):
        Protocol("toy", VAL, (TEST,), budget_queries=5, seed_policy="mean").check(table)
    with pytest.raises(ProtocolError, match=r"value \(seed policy 2\) \(e\.g\. cell 5\)"):
        Protocol("toy", VAL, (TEST,), budget_queries=5, seed_policy=2).check(table)


def test_the_command_line_refuses_them_in_one_line(
    like: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(save_table(_holes_at_12_epochs(like), tmp_path / "holes.nb201"))
    line = _line(capsys, "search", "--algo", "rs", "--runs", "3", "--table", path)
    assert line.endswith(
        "; search a schedule measured on every one (--search-epochs 200), or use another --table"
    ), line


# -- 3: a cost that is no time, a search key with no better direction ---------------------------
@pytest.mark.parametrize("metric", ["accuracy", "params_mb", "latency_s", "loss"])
def test_a_cost_that_is_no_time_is_refused(metric: str) -> None:
    # an accuracy was charged as seconds: a 40 s budget bought no query of a 93 % cell
    cost = MetricKey("cifar10", "ori-test", 200, metric)
    with pytest.raises(
        ProtocolError, match=rf"charges {cost} as seconds of training, but '{metric}' is no time"
    ):
        Protocol("p7", VAL, (TEST,), budget_seconds=40, cost=cost)
    with pytest.raises(ProtocolError, match=r", or cost=None$"):  # a query budget needs none
        Protocol("p7", VAL, (TEST,), budget_queries=40, cost=cost)
    assert Protocol("p7", VAL, (TEST,), budget_seconds=40, cost=TIME).cost == TIME


@pytest.mark.parametrize("metric", ["time_s", "params_mb", "drift_1d_std"])
def test_a_search_key_with_no_better_direction_is_refused(metric: str) -> None:
    # a training time or a size was maximised without a word
    key = MetricKey("cifar10-valid", "x-valid", 12, metric)
    with pytest.raises(
        ProtocolError,
        match=r"a metric with no better direction .* searches keep the highest value; search an accuracy",
    ):
        Protocol("p", key, (TEST,), budget_queries=10)
    Protocol(
        "p", MetricKey("cifar10-valid", "x-valid", 12, "hwt_drift_1d"), (TEST,), budget_queries=10
    )
    # a zero-cost proxy's score is searched as given: a training-free search
    Protocol("p", MetricKey("cifar10-valid", "x-valid", 12, "synflow"), (TEST,), budget_queries=10)


# -- 4: a refused finish --------------------------------------------------------------------
def test_a_refused_finish_says_so_when_called_again() -> None:
    # the later call said "the test values were read once", though none had been
    test = np.arange(27.0) + 1
    test[3] = np.nan
    table = Table(
        TINY, {(VAL, None): np.arange(27.0), (TEST, None): test, (TIME, None): np.full(27, 1.0)}
    )
    run = Session(table, Protocol("toy", VAL, (TEST,), budget_seconds=5.0, cost=TIME))
    assert run.evaluate(4) == 4.0 and run.seconds == 1.0
    with pytest.raises(MissingValueError, match="^cell 3 has no toy/x-test"):
        run.finish(3)
    with pytest.raises(SearchBudgetError) as info:
        run.finish(4)
    assert str(info.value) == (
        "finish() was already called with cell 3, which has no reported value (nothing was "
        "read); the choice is final: start a new Session to search again"
    )


# -- 5: reproduce's --fixed-n and --rerank-top-k ----------------------------------------------
def _no_valid_split_table() -> Table:
    """27 cells and a 200-epoch test accuracy alone: fixed-n searches that key (optimistic)."""
    v = np.linspace(50.0, 90.0, TINY.size)
    return Table(TINY, {(MetricKey("cifar10", "ori-test", 200), None): v}, source="no split")


def test_reproduce_takes_the_grid_s_fixed_n_and_top_k_from_its_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the refusal named ReproduceConfig(fixed_n=...) and ReproduceConfig(rerank_top_k=...) in
    # Python: the fixed-n grid could not run from the command line on a small space
    path = str(save_table(_no_valid_split_table(), tmp_path / "t.nb201"))
    argv = ["reproduce", "--protocols", "fixed-n", "--runs", "2", "--table", path]
    out = str(tmp_path / "o")
    line = _line(capsys, *argv, "--out", out)
    assert "in Python" not in line
    assert line.endswith(
        "give the runs a smaller budget (--fixed-n 54) or leave out the two-stage search "
        "(--rerank-top-k 0)"
    ), line
    assert main([*argv, "--out", out, "--fixed-n", "54"]) == 0
    capsys.readouterr()
    md = Path(out, "report.md").read_text()
    assert "Protocols: fixed-n (54 queries per run); two-stage NA-RS top-k: 10." in md
    assert (pd.read_csv(Path(out, "summary.csv"))["queries"] <= 54).all()
    assert main([*argv, "--out", out, "--rerank-top-k", "0"]) == 0
    capsys.readouterr()
    assert "two-stage NA-RS top-k: none." in Path(out, "report.md").read_text()
    algos = pd.read_csv(Path(out, "summary.csv"))["algorithm"]
    assert not algos.str.startswith("na-rs2").any()
    assert main([*argv, "--out", out, "--fixed-n", "60", "--rerank-top-k", "5,20"]) == 2
    capsys.readouterr()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (
            ["--fixed-n", "50"],
            "--fixed-n applies only to the fixed-n protocol; add fixed-n to --protocols",
        ),
        (["--protocols", "fixed-n", "--fixed-n", "0"], "--fixed-n must be >= 1, got 0"),
        (["--rerank-top-k", "0,5"], "--rerank-top-k holds '0'; give comma-separated sizes >= 1"),
        (["--rerank-top-k", "-3"], "--rerank-top-k holds '-3'"),
        (["--rerank-top-k", "5,5"], "--rerank-top-k names 5 twice"),
        (["--rerank-top-k", ","], "--rerank-top-k is empty"),
    ],
)
def test_reproduce_checks_the_new_flags_before_any_work(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _line(capsys, "reproduce", "--quick", "--out", str(tmp_path / "o"), *flags)
    assert says in line, line
    assert not (tmp_path / "o").exists()


def test_the_config_checks_its_top_k_sizes() -> None:
    # 0 met NARandomSearch's refusal once the grid started; a size twice ran once
    with pytest.raises(ArgumentError, match=r"^rerank_top_k must be >= 1, got 0"):
        ReproduceConfig.quick(rerank_top_k=(0,))
    with pytest.raises(ArgumentError, match="holds a size twice"):
        ReproduceConfig.quick(rerank_top_k=(10, 10))
    assert ReproduceConfig.quick(rerank_top_k=(np.int64(5),)).rerank_top_k == (5,)


# -- 6: a summary of nothing ----------------------------------------------------------------
def test_summary_refuses_a_cell_no_run_has_a_value_for() -> None:
    # summary() returned mean NaN, n = 0; only the command line called require_reported()
    test = np.full(27, np.nan)
    test[0] = 1.0
    table = Table(TINY, {(VAL, None): np.arange(27.0), (TEST, None): test})
    res = run_search(
        table, Protocol("toy", VAL, (TEST,), budget_queries=5), RandomSearch(), runs=3, seed=1
    )
    assert res.runs["test"].isna().all()
    with pytest.raises(ProtocolError, match="^toy rs: none of the 3 runs has a toy/x-test"):
        res.summary()
