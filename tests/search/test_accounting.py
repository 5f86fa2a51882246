"""Issue 17's accounting: best-evaluated NA-RS, budget-matched controls, evaluation counts.

The known answer: on a landscape where every cell's value is independent of its neighbours'
(flatness carries no information), a neighbourhood can only help by the extra cells it makes a
search evaluate, so every NA gain must vanish once the control gets the same evaluations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.search import (
    AlgorithmError,
    LocalSearch,
    NARandomSearch,
    NeighbourObjective,
    Protocol,
    RandomSearch,
    RegularizedEvolution,
    run_search,
)
from nb201_flat.search.accounting import budget_matched, control_label, is_control
from nb201_flat.search.algorithms import NABestEvaluatedSearch
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.protocol import ProtocolError
from nb201_flat.search.report import render_markdown
from nb201_flat.search.statistics import SMOKE_VERDICT, accounting_rows
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

VAL = MetricKey("synthetic", "x-valid", 200)
TEST = MetricKey("synthetic", "x-test", 200)
COST = MetricKey("synthetic", "train", 200, "time_s")
COST_S = 10.0
# 20 charged queries a run
PROTOCOL = Protocol("timed", VAL, (TEST,), budget_seconds=20 * COST_S, cost=COST)
FREE = NeighbourObjective(radius=1, agg="mean", include_self=True, charge=False)
CHARGED = NeighbourObjective(radius=1, agg="mean", include_self=True, charge=True)


def _iid_table(seed: int = 0) -> Table:
    """Validation = test, independent across cells: a neighbourhood says nothing of a cell."""
    v = np.random.default_rng(seed).normal(50.0, 5.0, NB201.size)
    cost = np.full(NB201.size, COST_S)
    return Table(NB201, {(VAL, None): v, (TEST, None): v.copy(), (COST, None): cost}, "iid")


@pytest.fixture(scope="module")
def iid() -> Table:
    return _iid_table()


def test_best_evaluated_na_rs_evaluates_exactly_na_rs_cells(iid: Table) -> None:
    algos = {"rs": RandomSearch(), "na": NARandomSearch(FREE), "best": NABestEvaluatedSearch(FREE)}
    res = run_search(iid, PROTOCOL, algos, runs=20, seed=3)
    # charged: 60 queries, room for two neighbourhoods of 25 (20 cannot score one: below)
    wider = PROTOCOL.replace(name="timed60", budget_seconds=60 * COST_S)
    charged_algos = {"na-c": NARandomSearch(CHARGED), "best-c": NABestEvaluatedSearch(CHARGED)}
    res_c = run_search(iid, wider, charged_algos, runs=20, seed=3)
    r = pd.concat([res.runs, res_c.runs]).set_index(["algorithm", "run"])
    for na, best in (("na", "best"), ("na-c", "best-c")):
        for col in ("queries", "free_queries", "evaluations", "seconds", "free_seconds"):
            assert (r.loc[na][col] == r.loc[best][col]).all(), col
    # its centres are RS's samples (same stream), and it returns the best validation among
    # centres and neighbours: never below RS in validation, run by run, and above it on average
    assert (r.loc["best"]["score"] >= r.loc["rs"]["score"]).all()
    assert r.loc["best"]["score"].mean() > r.loc["rs"]["score"].mean() + 5.0
    # every evaluation is in the record: free neighbours 24 per centre, priced at their cost
    free = r.loc["na"]
    assert (free["queries"] == 20).all()
    assert (free["evaluations"] == free["queries"] + free["free_queries"]).all()
    assert free["free_queries"].between(20 * 24 - 40, 20 * 24).all()
    assert np.allclose(free["free_seconds"], COST_S * free["free_queries"])
    assert np.allclose(free["total_seconds"], free["seconds"] + free["free_seconds"])
    charged = r.loc["na-c"]
    assert (charged["free_queries"] == 0).all() and (charged["evaluations"] <= 60).all()
    assert charged["test"].notna().all()  # each run scored a neighbourhood
    assert res.summary()["evaluations"].notna().all()
    assert res_c.summary()["evaluations"].notna().all()


def test_a_charged_budget_that_scores_no_cell_is_refused_before_the_runs(iid: Table) -> None:
    # charged NA-RS cannot finish one neighbourhood in 20 queries: every run found nothing,
    # and that was refused only when a summary was asked for, naming the table
    with pytest.raises(ProtocolError, match="na-c under timed: with charged neighbours") as info:
        run_search(iid, PROTOCOL, {"na-c": NARandomSearch(CHARGED)}, runs=20, seed=3)
    # the protocol's budget is its own budget_seconds: no budget_scale set it
    assert str(info.value).endswith(
        "raise the budget at least 1.25-fold, over its 200 s (budget_seconds) or look the "
        "neighbours up free "
        "(drop charge=True)"
    )


def test_runs_without_a_reported_value_stay_and_their_summary_is_refused(iid: Table) -> None:
    # the reported key measured on one cell: the picks have no test value
    test = np.full(NB201.size, np.nan)
    test[0] = 50.0
    sparse = Table(NB201, {**iid.data, (TEST, None): test}, "sparse test")
    res = run_search(sparse, PROTOCOL, {"na": NARandomSearch(FREE)}, runs=20, seed=3)
    assert res.runs["test"].isna().all() and len(res.runs) == 20  # the runs stay
    assert any(n.startswith("timed na: 20 of 20 runs") and "no mean" in n for n in res.notes)
    with pytest.raises(ProtocolError, match="na: none of the 20 runs has a") as info:
        res.require_reported()
    assert str(info.value).endswith("give the search a larger budget (budget_seconds)")


def test_every_na_gain_vanishes_once_budgets_are_matched(iid: Table) -> None:
    algos = {
        "rs": RandomSearch(),
        NARandomSearch(FREE).label: NARandomSearch(FREE),
        NABestEvaluatedSearch(FREE).label: NABestEvaluatedSearch(FREE),
        "rea": RegularizedEvolution(),
        RegularizedEvolution(objective=FREE).label: RegularizedEvolution(objective=FREE),
        "ls": LocalSearch(),
        LocalSearch(objective=FREE).label: LocalSearch(objective=FREE),
    }
    runs = 200
    res = run_search(iid, PROTOCOL, algos, runs=runs, seed=0)
    pairs = {
        NARandomSearch(FREE).label: ("rs", RandomSearch()),
        NABestEvaluatedSearch(FREE).label: ("rs", RandomSearch()),
        RegularizedEvolution(objective=FREE).label: ("rea", RegularizedEvolution()),
        LocalSearch(objective=FREE).label: ("ls", LocalSearch()),
    }
    ctrl = budget_matched(iid, res, pairs, runs=runs, seed=0)
    m = ctrl.matched.set_index("algorithm")
    # NA-RS and best-evaluated NA-RS evaluate the same cells: one control serves both
    assert (
        m.loc[NARandomSearch(FREE).label, "control"]
        == m.loc[NABestEvaluatedSearch(FREE).label, "control"]
    )
    assert ctrl.runs["algorithm"].nunique() == 3
    assert (
        m.loc[NARandomSearch(FREE).label, "control_evaluations"]
        == m.loc[NABestEvaluatedSearch(FREE).label, "control_evaluations"]
    )
    # the control got the time NA-RS used, free look-ups included: ~25 times the budget,
    # and so about as many evaluations as NA-RS made
    row = m.loc[NARandomSearch(FREE).label]
    assert row["budget"] == pytest.approx(row["na_total_seconds"])
    assert 20 < row["budget"] / PROTOCOL.budget_seconds <= 25
    assert row["control_evaluations"] == pytest.approx(row["na_evaluations"], rel=0.05)

    all_runs = pd.concat([res.runs, ctrl.runs], ignore_index=True)
    acc = accounting_rows(all_runs, ctrl.matched, algos, n_boot=1000).set_index("comparison")
    # the extra evaluations are worth a lot...
    for c in ("budget-matched RS − RS", "best-evaluated NA-RS − RS"):
        assert acc.loc[c, "ci_lo"] > 1.0, c
    # ...and the neighbourhood nothing once they are counted
    same = acc.loc["best-evaluated NA-RS − RS with the same evaluations"]
    assert same["ci_lo"] < 0 < same["ci_hi"] and abs(same["diff"]) < 0.3
    for c in (
        "NA-RS − budget-matched RS",
        "NA-REA − budget-matched REA",
        "NA-LS − budget-matched LS",
    ):
        assert acc.loc[c, "ci_hi"] < 0, c
    # both sides' evaluations are in every row
    assert (acc["a_evaluations"] > 0).all() and (acc["b_evaluations"] > 0).all()
    assert acc.loc["NA-RS − RS", "a_evaluations"] > 20 * acc.loc["NA-RS − RS", "b_evaluations"]


def test_control_labels() -> None:
    lab = control_label("rea", "na-rea[r1,mean,self,free]")
    assert is_control(lab) and not is_control("na-rea[r1,mean,self,free]")
    assert lab.startswith("rea(budget of ")


def test_quick_grid_is_a_smoke_test_with_the_accounting(nb201_like: Table) -> None:
    cfg = ReproduceConfig.quick(runs=6, n_boot=100)
    assert cfg.smoke
    res = reproduce(nb201_like, cfg)
    assert set(res.paired["verdict"]) == {SMOKE_VERDICT}
    md = render_markdown(res)
    assert "SMOKE TEST" in md and "Verdict counts" not in md
    for section in ("## Accounting: every evaluation counted", "## What would produce the claim"):
        assert section in md
    comps = set(res.accounting["comparison"])
    assert {
        "NA-RS − RS",
        "NA-RS − budget-matched RS",
        "best-evaluated NA-RS − RS with the same evaluations",
        "NA-REA − budget-matched REA",
        "NA-LS − budget-matched LS",
    } <= comps
    # two-stage rows carry their overlap with one-stage NA-RS, other rows none
    two = res.paired["two_stage"] == True  # noqa: E712
    assert res.paired.loc[two, "same_cell"].between(0, 1).all()
    assert res.paired.loc[~two, "same_cell"].isna().all()
    # routes: per claimed dataset, the closest comparisons to the claim, each with a CI
    assert set(res.routes["dataset"]) == {"cifar100", "ImageNet16-120"}
    assert (res.routes["ci_lo"] <= res.routes["ci_hi"]).all()
    assert (
        res.routes.groupby("dataset")["distance"].apply(lambda d: d.is_monotonic_increasing).all()
    )


def test_a_full_grid_gives_verdicts(nb201_like: Table, tmp_path: Path) -> None:
    # 20 runs: the fewest that give a verdict (statistics.MIN_RUNS_VERDICT)
    res = reproduce(nb201_like, ReproduceConfig.quick(runs=20, n_boot=100, smoke=False))
    assert set(res.paired["verdict"]) <= {"reproduced", "contradicted", "inconclusive"}
    assert "SMOKE TEST" not in render_markdown(res)


def test_search_figure_draws_controls_on_the_protocol_axis() -> None:
    from nb201_flat.figures.search import display_name, squeeze_controls

    ctrl = control_label("rs", "na-rs")
    curves = pd.DataFrame(
        {
            "algorithm": ["rs", "rs", ctrl, ctrl, ctrl],
            "x": [0.0, 100.0, 0.0, 1250.0, 2500.0],
            "mean": [1.0, 2.0, 1.0, 2.0, 3.0],
        }
    )
    out = squeeze_controls(curves)
    assert list(out["x"]) == [0.0, 100.0, 0.0, 50.0, 100.0]
    assert display_name(ctrl) == "RS, NA-RS's budget"


def test_compare_reads_the_frame_it_is_given_even_after_an_in_place_edit() -> None:
    import pandas as pd

    from nb201_flat.errors import ArgumentError
    from nb201_flat.search.statistics import compare

    runs = pd.DataFrame(
        {
            "protocol": ["p"] * 4,
            "algorithm": ["a", "a", "b", "b"],
            "dataset": ["d"] * 4,
            "run": [0, 1, 0, 1],
            "test": [2.0, 4.0, 1.0, 1.0],
            "evaluations": [3.0] * 4,
        }
    )
    first = compare(runs, ("p", "a"), ("p", "b"), "d", n_boot=50)
    assert first is not None and first["a_mean"] == 3.0
    runs.loc[1, "test"] = 10.0  # the same object, edited: no stale groups may answer
    again = compare(runs, ("p", "a"), ("p", "b"), "d", n_boot=50)
    assert again is not None and again["a_mean"] == 6.0
    runs.loc[[0, 1], "algorithm"] = "c"  # a has no runs (not drop(inplace=): deprecated)
    with pytest.raises(ArgumentError, match=r"^a=\('p', 'a'\) names no runs here"):
        compare(runs, ("p", "a"), ("p", "b"), "d", n_boot=50)
    runs.loc[[0, 1], ["algorithm", "dataset"]] = ["a", "e"]  # a's runs on another dataset
    assert compare(runs, ("p", "a"), ("p", "b"), "d", n_boot=50) is None


@pytest.mark.parametrize(("runs", "seed"), [(7, 0), (4, 3), (0, 0)])
def test_controls_with_other_runs_or_seed_than_the_results_are_refused(
    iid: Table, runs: int, seed: int
) -> None:
    # they ran, unpaired with the NA runs they are compared with run by run, without a word
    res = run_search(iid, PROTOCOL, NARandomSearch(FREE), runs=4, seed=0)
    pairs = {NARandomSearch(FREE).label: ("rs", RandomSearch())}
    with pytest.raises(AlgorithmError, match="runs|seed"):
        budget_matched(iid, res, pairs, runs=runs, seed=seed)
    ctrl = budget_matched(iid, res, pairs, runs=np.int64(4), seed=np.int64(0))  # type: ignore[arg-type]
    assert sorted(set(ctrl.runs["run"])) == [0, 1, 2, 3]


def test_controls_stall_notes_are_the_runners_made_once(
    iid: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # budget_matched made the controls' stall notes again from the runs frame after the
    # runner had made them: now it passes on the runner's, which are made once a run_cells
    from nb201_flat.search import accounting, runner

    res = run_search(iid, PROTOCOL, NARandomSearch(FREE), runs=3, seed=0)
    pairs = {NARandomSearch(FREE).label: ("rs", RandomSearch())}
    made: list[list[str]] = []
    real = runner.stalled_notes

    def counted(*args: object, **kwargs: object) -> list[str]:
        made.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(runner, "stalled_notes", counted)
    # and wherever the accounting may hold the function by its own name
    monkeypatch.setattr(accounting, "stalled_notes", counted, raising=False)
    ctrl = budget_matched(iid, res, pairs, runs=3, seed=0)
    assert len(made) == 1  # the runner's, for the controls' cells
    assert all(n in ctrl.notes for n in made[0])


def _two_keys() -> pd.DataFrame:
    """Runs 0 and 1 of a and b on dataset d at 12 and 200 search epochs: the 200-epoch rows
    first for b, so that pairing by run number across keys would match 12 with 200."""
    rows = []
    for algo, order in (("a", (12, 200)), ("b", (200, 12))):
        for epochs in order:
            for run in (0, 1):
                test = {("a", 12): 10.0, ("a", 200): 50.0, ("b", 12): 8.0, ("b", 200): 49.0}
                rows.append(
                    {
                        "protocol": "p",
                        "algorithm": algo,
                        "dataset": "d",
                        "split": "x-test",
                        "epochs": epochs,
                        "metric": "accuracy",
                        "run": run,
                        "test": test[algo, epochs] + run,
                        "evaluations": 3.0,
                        "best": float(run),
                    }
                )
    return pd.DataFrame(rows)


def test_compare_refuses_a_dataset_under_two_keys_and_pairs_within_the_one_chosen() -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.search.statistics import compare, group_runs

    runs = _two_keys()
    # one group of 4 runs, paired by run number across 12 and 200 epochs: n = 4, a wrong mean
    with pytest.raises(ArgumentError, match=r"'d' is reported under 2 keys in these runs \(d/"
                       r"x-test@12ep:accuracy; d/x-test@200ep:accuracy\): pass split=, epochs=, "
                       r"metric= to compare one"):  # fmt: skip
        compare(runs, ("p", "a"), ("p", "b"), "d", n_boot=50)
    for epochs, diff in ((12, 2.0), (200, 1.0)):
        row = compare(runs, ("p", "a"), ("p", "b"), "d", n_boot=50, epochs=epochs)
        assert row is not None and row["n"] == 2 and row["diff"] == diff
    with pytest.raises(ArgumentError, match=r"^no runs of 'd' at epochs=7; these runs report"):
        compare(runs, ("p", "a"), ("p", "b"), "d", epochs=7)  # no such key
    # groups of other keys would pair across keys whatever was chosen: refused
    three = group_runs(runs, ("protocol", "algorithm", "dataset"))
    with pytest.raises(ArgumentError, match="groups must be group_runs"):
        compare(runs, ("p", "a"), ("p", "b"), "d", groups=three, epochs=12)
    with pytest.raises(ArgumentError, match="pass split=, metric="):  # what is left to give
        compare(runs.assign(metric="loss").pipe(lambda f: pd.concat([runs, f])),
                ("p", "a"), ("p", "b"), "d", epochs=12)  # fmt: skip


def test_two_stage_overlap_pairs_within_each_reported_key() -> None:
    from nb201_flat.search.algorithms import NARandomSearch, NeighbourObjective
    from nb201_flat.search.statistics import two_stage_overlap

    objective = NeighbourObjective(radius=1, charge=True)
    one, two = NARandomSearch(objective), NARandomSearch(objective, rerank_top_k=10)
    runs = _two_keys().replace({"algorithm": {"a": two.label, "b": one.label}})
    # two's incumbents equal one's at 12 epochs (runs 0, 1), not at 200 (one's 200-epoch
    # cells shifted): merged, the share was 2 of 4 and the same in both rows
    shifted = (runs["algorithm"] == one.label) & (runs["epochs"] == 200)
    runs.loc[shifted, "best"] += 5.0
    paired = pd.DataFrame(
        {
            "protocol": ["p", "p"],
            "algorithm": [two.label, two.label],
            "dataset": ["d", "d"],
            "split": ["x-test", "x-test"],
            "epochs": [12, 200],
            "metric": ["accuracy", "accuracy"],
        }
    )
    out = two_stage_overlap(paired, runs, {one.label: one, two.label: two})
    assert list(out["same_cell"]) == [1.0, 0.0]


def test_a_dataset_reported_under_two_keys_is_named_by_its_key_in_the_report(
    nb201_like: Table,
) -> None:
    import dataclasses

    res = reproduce(nb201_like, ReproduceConfig.quick(runs=6, n_boot=100))
    first = res.paired.iloc[0]
    d, sp, e, m = (str(first[c]) for c in ("dataset", "split", "epochs", "metric"))

    def twice(frame: pd.DataFrame) -> pd.DataFrame:  # each row again at 7 search epochs
        return pd.concat([frame, frame.assign(epochs=7)], ignore_index=True)

    frames = ("summary", "paired", "accounting", "routes")
    two = dataclasses.replace(res, **{f: twice(getattr(res, f)) for f in frames})
    kept = {f: getattr(two, f).copy(deep=True) for f in frames}
    md = render_markdown(two)
    # the rows of the two keys read alike before ("| nb201 | cifar100 | ... |" twice): in
    # every table that lists them, each key is named
    sections = md.split("\n## ")
    titles = {
        "Paired differences": "paired",
        "Accounting": "accounting",
        "What would produce": "routes",
        "Final test": "summary",
    }
    for title, frame in titles.items():
        (text,) = [t for t in sections if t.startswith(title)]
        row = getattr(res, frame).iloc[0]
        for epochs in (row["epochs"], 7):
            key = f"{row['dataset']}/{row['split']}@{epochs}ep:{row['metric']}"
            assert f"| {key} |" in text, (title, key)
    assert f"| {d}/{sp}@{e}ep:{m} " not in render_markdown(res)  # one key: the dataset alone
    for f in frames:  # the result's frames are read, never written
        pd.testing.assert_frame_equal(getattr(two, f), kept[f])


@pytest.mark.parametrize(
    "pandas_str",
    [
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                int(pd.__version__.split(".")[0]) < 3, reason="pandas' own str dtype is 3's"
            ),
        ),
        False,
    ],
)
def test_a_missing_text_stays_missing_in_a_typed_frame(
    monkeypatch: pytest.MonkeyPatch, pandas_str: bool
) -> None:
    # before pandas 3, astype("str") is numpy's: None became the text "None" in the CSVs
    from nb201_flat.search import runner

    monkeypatch.setattr(runner, "_STR_IS_PANDAS", pandas_str)
    frame = runner.typed_frame(
        [{"a": None, "b": 1.0}, {"a": "x", "b": 2.0}], {"a": "str", "b": "float64"}
    )
    assert frame["a"].isna().tolist() == [True, False]
    assert "None" not in frame.to_csv() and frame["b"].dtype == "float64"
    assert isinstance(frame["a"].dtype, pd.StringDtype) is pandas_str  # objects before 3
