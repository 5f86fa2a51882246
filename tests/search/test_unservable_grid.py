"""Refusals made before the numbers: a reproduction row without a confidence interval, an NA
search whose charged budget cannot score one cell, a stage 1 that leaves stage 2 nothing, and
the ``--repeats cache`` bound on ``--n`` that the help states."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import build_parser, main
from nb201_flat.conventions import cost_key
from nb201_flat.errors import ArgumentError
from nb201_flat.search import NARandomSearch, ProtocolError, fixed_n_protocols, run_search
from nb201_flat.search.algorithms import LocalSearch, NeighbourObjective, RegularizedEvolution
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.protocol import nb201_protocol, protocols_by_name
from nb201_flat.search.runner import run_one
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table, table_from


def _sparse_imagenet_search() -> Table:
    """The NB201-shaped table where ImageNet16-120's budget affords cell 0 alone (every other
    cell trains for longer than the budget): per-dataset:ImageNet16-120's runs end at their
    first query, refused, in almost every run and find nothing; nb201 (searching CIFAR-10) is
    untouched. (A search key measured on one cell alone is refused before any run.)"""
    t = synthetic_table()
    data = dict(t.data)
    seconds = np.full(t.space.size, 1e8)
    seconds[0] = 1000.0
    data[(cost_key("ImageNet16-120"), None)] = seconds
    return Table(t.space, data, source="sparse ImageNet16-120 search")


@pytest.fixture(scope="module")
def sparse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unservable") / "sparse.nb201"
    save_table(_sparse_imagenet_search(), out)
    return out


# -- A1: reproduce rows without a confidence interval ----------------------------------------
def test_reproduce_refuses_rows_without_a_confidence_interval() -> None:
    # it returned the grid with diff NaN, n 0 (printed "+nan [+nan, +nan]", exit 0)
    cfg = ReproduceConfig.quick(runs=2, protocols=("nb201", "per-dataset"))
    with pytest.raises(ProtocolError) as info:
        reproduce(_sparse_imagenet_search(), cfg)
    msg = str(info.value)
    assert msg.startswith("the grid cannot serve per-dataset:ImageNet16-120:"), msg
    assert "rs on ImageNet16-120/x-test@200ep:accuracy (0 of 2 runs)" in msg
    assert "nb201" not in msg.split(";")[0]  # the servable protocol is not blamed
    assert msg.endswith("or leave out per-dataset (protocols=('nb201',))"), msg
    # the servable family alone runs, every row with its interval
    res = reproduce(_sparse_imagenet_search(), ReproduceConfig.quick(runs=2))
    assert (res.paired["n"] >= 2).all() and res.paired["ci_lo"].notna().all()


def test_cli_reproduce_refuses_before_writing_and_names_its_flags(
    sparse_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rep"
    argv = ["reproduce", "--quick", "--runs", "2", "--jobs", "1", "--out", str(out)]
    argv += ["--protocols", "nb201,per-dataset", "--table", str(sparse_path)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the grid cannot serve"), err
    assert err[0].endswith("more runs (--runs), or leave out per-dataset (--protocols nb201)")
    assert "nan" not in captured.out
    assert not out.exists()  # nothing written, not even the folder
    # one family, no other to keep: the fix names no --protocols
    assert main([*argv[:-4], "--protocols", "per-dataset", "--table", str(sparse_path)]) == 2
    err = capsys.readouterr().err
    assert "--protocols" not in err and "(see `nb201-flat info`)" in err
    assert not out.exists()


def test_a_comparison_with_fewer_than_two_pairs_is_refused() -> None:
    # each side may have its values in different runs: one pair left has no interval
    from nb201_flat.search.grid import _require_intervals, _short_of_pairs

    paired = pd.DataFrame(
        {
            "protocol": ["p", "p"],
            "algorithm": ["na-rs[x]", "na-rea[x]"],
            "base": ["rs", "rea"],
            "dataset": ["cifar100", "cifar100"],
            "split": ["x-test", "x-test"],
            "epochs": [200, 200],
            "metric": ["accuracy", "accuracy"],
            "n": [1, 5],
        }
    )
    short = _short_of_pairs(paired, pd.DataFrame(), pd.DataFrame())
    # the whole reported key, as a search's own shortfall names it
    what = "na-rs[x] − rs on cifar100/x-test@200ep:accuracy"
    assert [(s.protocol, s.what, s.have) for s in short] == [("p", what, 1)]
    families = {"fam": (nb201_protocol().replace(name="p", budget_by=""),)}
    with pytest.raises(ProtocolError, match=rf"{re.escape(what)} \(1 paired runs\)"):
        _require_intervals(short, families)
    _require_intervals(_short_of_pairs(paired[paired["n"] >= 2], *[pd.DataFrame()] * 2), families)


# -- A6: stage 1 of the whole budget; a charged budget below one neighbourhood ---------------
def test_stage1_fraction_one_is_refused_up_front(capsys: pytest.CaptureFixture[str]) -> None:
    obj = NeighbourObjective(charge=True)
    with pytest.raises(ArgumentError, match=r"stage1_fraction must lie in \(0, 1\), got 1"):
        NARandomSearch(obj, rerank_top_k=5, stage1_fraction=1)
    assert NARandomSearch(obj, rerank_top_k=5, stage1_fraction=0.99).stage1_share == 0.99
    # before the table is read: a missing table is not what it names
    argv = ["search", "--algo", "na-rs", "--charge-neighbours", "--rerank-top-k", "5"]
    assert main([*argv, "--stage1-fraction", "1", "--table", "/nonexistent/t.nb201"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --stage1-fraction must lie in (0, 1), got 1.0;"), err
    assert "stage 2 re-ranks with the rest" in err


def test_a_charged_budget_below_one_neighbourhood_is_refused_before_any_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = synthetic_table()
    na = NeighbourObjective(charge=True)  # NB201 radius 1: the cell and its 24 neighbours
    algos = [NARandomSearch(na), RegularizedEvolution(objective=na), LocalSearch(objective=na)]
    import nb201_flat.search.runner as runner

    def no_run(*args: object, **kw: object) -> None:
        raise AssertionError("a run started")

    monkeypatch.setattr(runner, "_execute", no_run)
    for algo in algos:
        with pytest.raises(ProtocolError) as info:
            run_search(table, fixed_n_protocols(table, 24)[0], algo, runs=2)
        msg = str(info.value)
        assert "at least 25 queries, more than the budget (24 queries)" in msg, msg
        assert msg.endswith(
            "raise the budget (n=25) or look the neighbours up free (drop charge=True)"
        )
    monkeypatch.undo()
    # 25 queries score one cell; free neighbours cost one query a cell
    for n, objective in ((25, na), (5, NeighbourObjective())):
        res = run_search(table, fixed_n_protocols(table, n)[0], NARandomSearch(objective), runs=2)
        assert res.runs["test"].notna().all()


def test_a_charged_time_budget_below_the_cheapest_neighbourhood_is_refused() -> None:
    # a toy space with known costs: the cheapest cell and its radius-1 neighbours
    space = Space(("none", "skip", "conv"), 3)
    costs = 1.0 + np.arange(space.size, dtype=np.float64)
    nbrs = space.neighbours(1)
    least = min(costs[i] + costs[nbrs.of(i)].sum() for i in range(space.size))
    obj = NeighbourObjective(charge=True)
    assert obj.least_to_score(space, costs) == (1 + nbrs.counts.min(), pytest.approx(least))
    key, cost = MetricKey("toy", "x-valid", 12), MetricKey("toy", "train", 12, "time_s")
    table = table_from(np.arange(space.size, dtype=np.float64), space=space, key=key)
    table = Table(space, {**table.data, (cost, None): costs}, source="toy")
    protocol = nb201_protocol().replace(
        name="toy", search=key, report=(key,), cost=cost, seed_policy="mean"
    )
    below = protocol.replace(budget_seconds=least - 1)
    # the fold named pays for the dearest neighbourhood: every run scores the cell it draws
    # (the cheapest's, 1.03-fold, left most runs with nothing)
    dearest = max(costs[i] + costs[nbrs.of(i)].sum() for i in range(space.size))
    fold = math.ceil(dearest / (least - 1) * 100) / 100
    with pytest.raises(ProtocolError, match=rf"raise the budget at least {fold:g}-fold"):
        run_search(table, below, NARandomSearch(obj), runs=2)
    named = protocol.replace(budget_seconds=(least - 1) * fold)
    assert run_search(table, named, NARandomSearch(obj), runs=20).runs["test"].notna().all()
    at = protocol.replace(budget_seconds=least)
    assert run_search(table, at, NARandomSearch(obj), runs=2).runs["test"].notna().any()


@pytest.mark.parametrize("radius", [4, 6])
def test_a_charged_budget_below_one_neighbourhood_at_a_large_radius(
    monkeypatch: pytest.MonkeyPatch, radius: int
) -> None:
    # radius 4 and up: the index matrix is not cached, and the check was skipped ("counting
    # would cost a search"), so every run paid and found nothing before anything said so
    table = synthetic_table()
    na = NeighbourObjective(radius=radius, charge=True)
    width = NB201.neighbourhood_size(radius)
    import nb201_flat.search.runner as runner

    def no_run(*args: object, **kw: object) -> None:
        raise AssertionError("a run started")

    monkeypatch.setattr(runner, "_execute", no_run)
    below = fixed_n_protocols(table, width)[0]
    with pytest.raises(ProtocolError, match=rf"at least {width + 1} queries.* \(n={width + 1}\)"):
        run_search(table, below, NARandomSearch(na), runs=2)
    timed = nb201_protocol()  # 12,000 s: a few dozen queries
    costs = timed.oracle_data(table).costs
    assert costs is not None
    cheapest = float(np.sort(costs)[: width + 1].sum())  # the members are distinct cells
    with pytest.raises(ProtocolError, match=f"at least {cheapest:,.0f} s of simulated training"):
        run_search(table, timed, NARandomSearch(na), runs=2)


def test_the_bounds_without_the_matrix_never_exceed_what_a_cell_costs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # where the matrix is not cached, least_to_score's counts are exact without stand-ins and
    # lower bounds with them (a cell leaves out at most its own group), its seconds a lower
    # bound: a budget that could score a cell is never refused
    import nb201_flat.landscape.aggregates as ag
    from nb201_flat.landscape.stand_ins import StandIns

    space = Space(("none", "skip", "conv"), 4)  # 729 cells, 6 edges
    costs = np.random.default_rng(0).uniform(1.0, 100.0, space.size)
    copies = StandIns.build(space.size, copies=[(1, 0), (2, 0), (5, 4)])
    for stand_ins, r, nn, conn in itertools.product(
        (None, copies), (1, 2, 4), (False, True), (False, True)
    ):
        obj = NeighbourObjective(
            radius=r, no_none=nn, connected_only=conn, charge=True, stand_ins=stand_ins
        )
        exact = obj.least_to_score(space, costs)
        with monkeypatch.context() as m:
            width = space.neighbourhood_size(r)
            m.setattr(ag, "CACHE_ENTRIES_LIMIT", (1 << space.n_edges) * width)
            assert not ag.NeighbourRows(space, r).cached
            bound = obj.least_to_score(space, costs)
        assert exact is not None and bound is not None
        assert bound[0] <= exact[0] and bound[1] <= exact[1], (stand_ins, r, nn, conn)
        if stand_ins is None:
            assert bound[0] == exact[0]
        space.clear_cache()


def test_cli_charged_fixed_n_below_one_neighbourhood(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["search", "--algo", "na-rs", "--charge-neighbours", "--protocol", "fixed-n"]
    assert main([*argv, "--fixed-n", "5", "--runs", "2", "--jobs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "raise the budget (--fixed-n 25) or look the neighbours up free (drop --charge-neighbours)"
    ), err


def test_a_stage_1_that_cannot_use_its_share_is_refused_before_any_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # two stages, charged: stage 1 pays new cells until it has used stage1_fraction of the
    # budget. 0.9 of 20,000 queries is more cells than the space holds (and 0.5 of a 1e8 s budget
    # more time than all its cells cost): stage 1 stalled in every run, which then found
    # nothing, and the runs were made before anything said so
    table = synthetic_table()
    two_stage = NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=10)
    queries = fixed_n_protocols(table, 20_000)[0]
    timed = nb201_protocol(budget_seconds=1e8)
    import nb201_flat.search.runner as runner

    def no_run(*args: object, **kw: object) -> None:
        raise AssertionError("a run started")

    monkeypatch.setattr(runner, "_execute", no_run)
    with pytest.raises(ProtocolError) as info:
        run_search(table, queries, replace(two_stage, stage1_fraction=0.9), runs=2)
    msg = str(info.value)
    cells = table.space.size
    assert "stage 1 pays new cells until it has used 0.9 of the budget" in msg, msg
    assert f"all {cells:,} cells a run may sample are {cells / 20_000:.3g} of it" in msg, msg
    fits_share, n = math.floor(cells / 20_000 * 100) / 100, math.floor(cells / 0.9)
    assert msg.endswith(f"(stage1_fraction={fits_share:g}) or a smaller budget (n={n})"), msg
    with pytest.raises(ProtocolError) as info:
        run_search(table, timed, two_stage, runs=2)
    msg = str(info.value)
    paid = float(timed.oracle_data(table).costs.sum())  # type: ignore[union-attr]
    assert f"used 0.5 of the budget, but all {cells:,} cells" in msg, msg
    assert f"({paid:,.0f} s of training) are {paid / 1e8:.3g} of it" in msg, msg
    share = math.floor(paid / 1e8 * 100) / 100
    assert msg.endswith(
        f"(stage1_fraction={share:g}) or a time budget of at most {paid / 0.5:,.0f} s "
        "(budget_seconds)"
    ), msg
    monkeypatch.undo()
    # the share the message names runs, every run with a pick; one stage is not concerned
    fits = run_search(table, queries, replace(two_stage, stage1_fraction=fits_share), runs=2)
    assert fits.runs["test"].notna().all()
    one = run_search(table, queries, NARandomSearch(NeighbourObjective(charge=True)), runs=1)
    assert one.runs["test"].notna().all()
    # the command line names its flags
    argv = ["search", "--algo", "na-rs", "--charge-neighbours", "--rerank-top-k", "10"]
    argv += ["--stage1-fraction", "0.9", "--protocol", "fixed-n", "--fixed-n", "20000"]
    assert main([*argv, "--runs", "2", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith(
        f"(--stage1-fraction {fits_share:g}) or a smaller budget (--fixed-n {math.floor(cells / 0.9)})\n"
    ), err


def test_the_grids_stage_1_refusal_names_only_what_the_grid_offers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the grid's charged two-stage NA-RS under fixed-n with 40,000 queries: all 15,625 cells
    # are 0.39 of the budget, short of stage 1's 0.5. The refusal named stage1_fraction, which
    # ReproduceConfig has no field for; it names the grid's budget and two-stage fields
    table = synthetic_table()
    cfg = ReproduceConfig.quick(protocols=("fixed-n",), fixed_n=40_000, charge=(True,))
    assert any(
        isinstance(a, NARandomSearch) and a.stage1_share == 0.5 and a.objective.charge
        for a in cfg.algorithms().values()
    )
    import nb201_flat.search.runner as runner

    def no_run(*args: object, **kw: object) -> None:
        raise AssertionError("a run started")

    monkeypatch.setattr(runner, "_execute", no_run)
    with pytest.raises(ProtocolError) as info:
        reproduce(table, cfg)
    msg = str(info.value)
    cells = table.space.size
    assert "stage 1 never ends" in msg and "stage1_fraction" not in msg, msg
    assert msg.endswith(
        f"give the runs a smaller budget (fixed_n={math.floor(cells / 0.5)}) or leave out the "
        "two-stage search (rerank_top_k=())"
    ), msg
    # each fix it names runs past the refusal (to the runs, stopped here)
    for fixed in (
        replace(cfg, fixed_n=math.floor(cells / 0.5)),
        replace(cfg, rerank_top_k=()),
    ):
        with pytest.raises(AssertionError, match="a run started"):
            reproduce(table, fixed)
    # the same search reached directly keeps its own wording: its stage1_fraction and n
    queries = fixed_n_protocols(table, 40_000)[0]
    two_stage = next(
        a for a in cfg.algorithms().values() if isinstance(a, NARandomSearch) and a.stage1_share < 1
    )
    with pytest.raises(ProtocolError) as info:
        run_search(table, queries, two_stage, runs=2)
    msg = str(info.value)
    share = math.floor(cells / 40_000 * 100) / 100
    assert msg.endswith(
        f"give stage 1 a share it can use (stage1_fraction={share:g}) or a smaller budget "
        f"(n={math.floor(cells / 0.5)})"
    ), msg
    assert "rerank_top_k" not in msg, msg


class _Ran(Exception):
    """Raised in place of the runs: everything before them passed."""


def test_a_stage_1_refusal_under_a_budget_scale_names_a_fold_that_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the time budget set by a multiplier (budget_scale, --budget-scale): the fix named "a
    # time budget of at most 6,826,852 s (--budget-scale)", seconds for a flag that takes a
    # factor. It names the fold instead, as the pays-for-one-neighbourhood refusal does
    table = synthetic_table()
    two_stage = NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=10)
    (big,) = protocols_by_name("nb201", table, budget_scale=1000)
    data = big.oracle_data(table)
    assert data.costs is not None and data.budget_seconds is not None
    most = float(data.costs.sum()) / data.budget_seconds
    assert most < 0.5  # the case under test
    import nb201_flat.search.runner as runner

    def ran(*args: object, **kw: object) -> None:
        raise _Ran

    monkeypatch.setattr(runner, "_execute", ran)
    with pytest.raises(ProtocolError) as info:
        run_search(table, big, two_stage, runs=2)
    msg = str(info.value)
    fold = math.ceil(0.5 / most * 100) / 100
    assert msg.endswith(f"or a time budget at least {fold:g}-fold smaller (budget_scale)"), msg
    # that fold runs: the budget it leaves is one stage 1 can use
    (fits,) = protocols_by_name("nb201", table, budget_scale=1000 / fold)
    with pytest.raises(_Ran):
        run_search(table, fits, two_stage, runs=2)
    # the command line names its flag, the same fold
    path = str(save_table(table, tmp_path / "t.nb201"))
    argv = ["search", "--algo", "na-rs", "--charge-neighbours", "--rerank-top-k", "10"]
    argv += ["--budget-scale", "1000", "--table", path, "--runs", "2", "--jobs", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"or a time budget at least {fold:g}-fold smaller (--budget-scale)\n"), err


def test_a_stage_1_refusal_never_shows_the_share_it_falls_short_of() -> None:
    # 15,625 cells of 31,251 queries are 0.49998 of the budget: shown to 3 digits, "are 0.5
    # of it" beside "until it has used 0.5 of the budget" read as enough
    table = table_from(np.linspace(10.0, 90.0, NB201.size), key=MetricKey("c", "ori-test", 200))
    (protocol,) = fixed_n_protocols(table, 31_251)
    two_stage = NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=10)
    with pytest.raises(ProtocolError) as info:
        run_search(table, protocol, two_stage, runs=2)
    msg = str(info.value)
    shown = msg.split(" cells a run may sample are ")[1].split(" of it")[0]
    assert float(shown) < 0.5 and float(shown) == pytest.approx(NB201.size / 31_251, rel=1e-4), msg


def test_a_stage_2_share_below_one_neighbourhood_can_find_a_cell() -> None:
    # not refused: stage 1's cells may be the re-ranked cell's neighbours, which stage 2 then
    # reads from memory. A cube (8 cells, 3 neighbours each): 6 queries at 0.9 are all
    # stage 1's, yet some runs score a cell
    space = Space(("none", "skip"), 3)
    key = MetricKey("cifar10", "ori-test", 200)
    table = table_from(np.arange(space.size, dtype=np.float64), space=space, key=key)
    (protocol,) = fixed_n_protocols(table, 6)
    algo = NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=3, stage1_fraction=0.9)
    assert math.ceil(0.9 * 6) == 6 and space.neighbours(1).counts.min() == 3
    found = run_search(table, protocol, algo, runs=50).runs["test"].notna()
    assert found.any() and not found.all()


# -- C: the --repeats cache bound; optimistic rows in reproduce's text -----------------------
def test_n_with_cache_help_and_check_agree(capsys: pytest.CaptureFixture[str]) -> None:
    # a budget of every cell never ends a cached run: it stalls, as if budget were left
    toy = Space(("none", "skip", "conv"), 3)
    values = np.arange(27.0)[None, :]
    from nb201_flat.search import RandomSearch

    stalls = {}
    for n in (26, 27):
        data = OracleData(
            toy, MetricKey("toy", "x-valid", 12), values, None, None, None, None, n, "cache"
        )
        stalls[n] = run_one(data, RandomSearch(), 0, 0).stall_kinds
    assert stalls[26] == 0 and stalls[27] != 0
    parser = build_parser("search")
    sub = next(a for a in parser._actions if a.dest == "command")
    search = sub.choices["search"]  # type: ignore[attr-defined]
    help_n = next(a.help for a in search._actions if a.dest == "n")
    assert "fewer than the cells" in help_n and "at most the cells" not in help_n
    argv = ["search", "--algo", "rs", "--protocol", "fixed-n", "--repeats", "cache", "--runs", "1"]
    assert main([*argv, "--fixed-n", str(NB201.size), "--jobs", "1"]) == 2
    assert f"at most {NB201.size - 1:,}" in capsys.readouterr().err


def test_cli_reproduce_marks_optimistic_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no validation split: fixed-n searches the reported key itself (an upper bound)
    key = MetricKey("ImageNet16-120", "x-test", 200)
    table = table_from(lambda c: (c == 3).sum(axis=1) + 0.1 * (c == 1).sum(axis=1), key=key)
    path = tmp_path / "t.nb201"
    save_table(table, path)
    argv = ["reproduce", "--quick", "--runs", "2", "--jobs", "1", "--protocols", "fixed-n"]
    assert main([*argv, "--out", str(tmp_path / "o"), "--table", str(path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if " vs +1.58: " in line]
    assert rows and all(r.endswith("[OPTIMISTIC: search metric = report metric]") for r in rows)
    # that protocol is the same at 12 and 200 search epochs: it said "protocol names must
    # be unique", naming no option; the grid names the one epoch that runs
    with pytest.raises(ProtocolError, match=r"pass search_epochs=\(200,\)$"):
        ReproduceConfig.quick(protocols=("fixed-n",), search_epochs=(12, 200)).protocol_list(table)


def test_cli_fixed_n_fallback_refuses_search_epochs_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no validation split: fixed-n searches the 200-epoch report key; `search --epochs 12`
    # and `reproduce --search-epochs 12` were ignored without a word
    key = MetricKey("cifar10", "ori-test", 200)
    table = table_from(np.linspace(10, 90, NB201.size), key=key)
    common = ["--runs", "2", "--jobs", "1", "--table", str(save_table(table, tmp_path / "t"))]
    search = ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "5", *common]
    reproduce = ["reproduce", "--quick", "--protocols", "fixed-n", *common]
    reproduce += ["--out", str(tmp_path / "o"), "--search-epochs"]
    refused = [
        (
            [*search, "--search-epochs", "12"],
            "; leave --search-epochs out, or pass --search-epochs 200\n",
        ),
        # the grid's refusal, in the command's words; and no WARNING line of a protocol
        # built to check it
        ([*reproduce, "12"], "; leave --search-epochs out, or pass --search-epochs 200\n"),
        ([*reproduce, "12,200"], "; leave --search-epochs out, or pass --search-epochs 200\n"),
        ([*reproduce, "200,12"], "; leave --search-epochs out, or pass --search-epochs 200\n"),
    ]
    for argv, fix in refused:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "has no validation split" in err, err
        assert err.endswith(fix), err
    assert not (tmp_path / "o" / "report.md").exists()
    # its own epochs given, or none, it runs: the full grid's default 12 and 200 too (they
    # were refused as one protocol here)
    assert main([*search, "--search-epochs", "200"]) == 0 and main(search) == 0
    assert main([*reproduce, "200"]) == 0 and main(reproduce[:-1]) == 0
    full = [a for a in reproduce if a != "--quick"][:-1]
    assert main(full) == 0


def test_grid_fixed_n_fallback_refuses_search_epochs_given(
    default_table: Table, nb201_like: Table
) -> None:
    # the embedded table has no validation split: fixed-n searches its 200-epoch report key.
    # search_epochs=(12,) given in Python was ignored without a word (the command line alone
    # refused it), and the grid's default 12 and 200 were refused as one protocol
    fix = r"; leave search_epochs out, or pass search_epochs=\(200,\)$"
    for epochs in ((12,), (12, 200), (200, 12)):
        cfg = ReproduceConfig(protocols=("fixed-n",), search_epochs=epochs)
        with pytest.raises(ProtocolError, match=r"no validation split.* not at 12" + fix):
            cfg.protocol_list(default_table)
        with pytest.raises(ProtocolError, match=fix):  # nb201 beside it changes nothing
            ReproduceConfig.quick(
                protocols=("nb201", "fixed-n"), search_epochs=epochs
            ).protocol_list(default_table)
    # left out, the grid's default epochs: the fallback searches its own key, once, in the
    # full grid and in quick(); its own epochs given, the same
    for cfg in (
        ReproduceConfig(protocols=("fixed-n",)),
        ReproduceConfig.quick(protocols=("fixed-n",)),
        ReproduceConfig(protocols=("fixed-n",), search_epochs=(200,)),
    ):
        (p,) = cfg.protocol_list(default_table)
        assert p.search.epochs == 200 and p.optimistic, cfg
    # the other families search the default epochs: 12 and 200, or 12 alone with quick()
    full = [
        p.search.epochs for p in ReproduceConfig(protocols=("nb201",)).protocol_list(nb201_like)
    ]
    quick = [p.search.epochs for p in ReproduceConfig.quick().protocol_list(nb201_like)]
    assert (full, quick) == ([12, 200], [12])
    # a table fixed-n searches on its validation split takes the epochs as the others do
    by_epochs = ReproduceConfig(protocols=("fixed-n",)).protocol_list(nb201_like)
    assert {p.search.epochs for p in by_epochs} == {12, 200} and not any(
        p.optimistic for p in by_epochs
    )
