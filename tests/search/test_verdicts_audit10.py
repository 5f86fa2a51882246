"""Verdicts need enough paired runs; an ask/tell session keeps its protocol's notes.

A percentile bootstrap CI of a mean over 2-3 pairs holds it in about half to three quarters
of trials, not 95 %: ``reproduce --runs 2`` called rows 'contradicted' from such intervals,
and a row where 3 of 200 runs had a value did too. :class:`Session` dropped the notes
``protocol.check`` returns, so a seed policy 'random' that returns the one stored value per
cell read as a noisy oracle without a word.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.search import make_algorithm, nb201_protocol, run_search
from nb201_flat.search import statistics as st
from nb201_flat.search.algorithms import SearchAlgorithm
from nb201_flat.search.asktell import Session
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.report import render_markdown
from nb201_flat.search.runner import SearchResults
from nb201_flat.table import Table

PLAIN = {"reproduced", "contradicted", "inconclusive"}


def _pair_runs(table: Table, runs: int) -> tuple[SearchResults, dict[str, SearchAlgorithm]]:
    pair = (make_algorithm("rs"), make_algorithm("na-rs"))
    algos: dict[str, SearchAlgorithm] = {a.label: a for a in pair}
    return run_search(table, nb201_protocol(), algos, runs=runs, seed=0, jobs=1), algos


# -- the rule --------------------------------------------------------------------------------
def test_the_fewest_runs_a_verdict_rests_on_is_twenty() -> None:
    assert st.MIN_RUNS_VERDICT == 20
    assert st.FEW_RUNS_VERDICT == "none (fewer than 20 runs)"


@pytest.mark.parametrize("n", [2, 3, 19])
def test_fewer_pairs_get_no_verdict(n: int) -> None:
    # the auditor's row: na-rs[r1,min,self,free] -1.80 [-3.50, -0.10] over 2 runs, 'contradicted'
    assert st.verdict_for("accuracy", -3.5, -0.1, 1.48, n=n) == st.FEW_RUNS_VERDICT
    assert st.verdict_for("loss", 0.1, 0.2, None, n=n) == st.FEW_RUNS_VERDICT


def test_enough_pairs_keep_the_verdict_and_no_direction_stays_first() -> None:
    assert st.verdict_for("accuracy", -3.5, -0.1, 1.48, n=20) == "contradicted"
    assert st.verdict_for("accuracy", 0.9, 2.1, 1.48, n=500) == "reproduced"
    # a metric of no direction never gets one, whatever its runs
    assert st.verdict_for("time_s", -9.0, -5.0, None, n=2) == st.NO_DIRECTION_VERDICT
    with pytest.raises(ArgumentError, match="margin"):  # checked on every path
        st.verdict_for("accuracy", -3.5, -0.1, 1.48, float("nan"), n=2)


# -- the paired frame ------------------------------------------------------------------------
def test_paired_rows_of_few_runs_keep_their_ci_without_a_verdict(nb201_like: Table) -> None:
    res, algos = _pair_runs(nb201_like, 3)
    paired = st.paired_differences(res, algos, n_boot=200)
    assert len(paired) and (paired["n"] == 3).all()
    assert set(paired["verdict"]) == {st.FEW_RUNS_VERDICT}
    assert np.isfinite(paired[["ci_lo", "ci_hi"]].to_numpy()).all()  # the CI stays reported
    res, algos = _pair_runs(nb201_like, 20)
    paired = st.paired_differences(res, algos, n_boot=200)
    assert set(paired["verdict"]) <= PLAIN


def test_it_is_the_pairs_that_count_not_the_runs(nb201_like: Table) -> None:
    # a grid where 3 of 200 runs had values gave -34.70 [-71.30, -12.90] ... contradicted
    res, algos = _pair_runs(nb201_like, 25)
    runs = res.runs.copy()
    lost = (runs["algorithm"] != "rs") & (runs["dataset"] == "cifar100") & (runs["run"] >= 3)
    runs.loc[lost, "test"] = np.nan
    paired = st.paired_differences(replace(res, runs=runs), algos, n_boot=200)
    by = paired.set_index("dataset")
    assert by.loc["cifar100", "n"] == 3
    assert by.loc["cifar100", "verdict"] == st.FEW_RUNS_VERDICT
    assert np.isfinite(float(by.loc["cifar100", "ci_lo"]))  # type: ignore[arg-type]
    assert (by.drop(index="cifar100")["n"] == 25).all()
    assert set(by.drop(index="cifar100")["verdict"]) <= PLAIN


def test_a_grid_of_few_runs_gives_none_and_its_report_says_why(nb201_like: Table) -> None:
    res = reproduce(nb201_like, ReproduceConfig.quick(runs=3, n_boot=100, smoke=False))
    assert set(res.paired["verdict"]) == {st.FEW_RUNS_VERDICT}
    na = res.anchors[res.anchors["quantity"].str.startswith("NA-RS")]  # beside the paper's
    assert len(na) and na["ours_ci"].str.endswith(st.FEW_RUNS_VERDICT).all()
    md = render_markdown(res)
    rule = md.split("## Verdict rule", 1)[1].split("##", 1)[0]
    assert f"fewer than {st.MIN_RUNS_VERDICT} paired runs" in rule
    assert repr(st.FEW_RUNS_VERDICT) in rule
    assert f"Verdict counts: {st.FEW_RUNS_VERDICT} {len(res.paired)}" in md


# -- ask/tell sessions -----------------------------------------------------------------------
def test_a_session_keeps_and_says_its_protocols_notes(
    nb201_like: Table, caplog: pytest.LogCaptureFixture
) -> None:
    # Session(T, nb201_protocol()).evaluate(1) returned a value and nothing said that every
    # query of a cell returns its one stored value
    protocol = nb201_protocol()
    expected = tuple(protocol.check(nb201_like))
    assert any("falls back to the one value" in n for n in expected)
    with caplog.at_level(logging.INFO, logger="nb201_flat.search.asktell"):
        run = Session(nb201_like, protocol, seed=0)
    assert run.notes == expected
    said = [r.getMessage() for r in caplog.records if r.name == "nb201_flat.search.asktell"]
    assert len(said) == len(expected) and all(n in m for n, m in zip(expected, said, strict=True))
    assert run.evaluate(1) is not None
    assert repr(run).endswith(f", running, {len(expected)} notes)"), repr(run)
