"""Audit 13: the demo keeps AnalogNAS-Bench's "not NAS-Bench-201's numbers" after a tidy round
trip, analytic costs added at a retraining table's own schedule are never tagged as stand-ins
(query, record, info), and ``import --json`` names its wall-clock time ``wall_seconds``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.costs import with_analytic_costs
from nb201_flat.demo import benchmark_statement, run_demo
from nb201_flat.importers.analognas import PUBLISHED_SOURCE
from nb201_flat.importers.tidy import read_tidy
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

NOT_NB201 = "not NAS-Bench-201's numbers"
ACC = MetricKey("cifar10", "ori-test", 2)
CONSTANT, COPY, SOURCE = 104, 789, 9  # a disconnected cell; an isomorphic pair of NB201
ANALYTIC = ("params_mb_analytic", "flops_m_analytic")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- finding 2: the demo tells AnalogNAS-Bench's numbers by their metrics, as figures do -------
def test_the_demo_says_whose_numbers_a_tidy_round_trip_of_analognas_bench_holds(
    tmp_path: Path,
) -> None:
    # AnalogNAS-Bench's numbers written to a tidy file and imported again: the figures'
    # caption said "not NAS-Bench-201", the demo 'table tidy file anb.csv'
    rng = np.random.default_rng(0)
    data = {
        (MetricKey("cifar10", "ori-test", 200, metric), None): rng.uniform(10.0, 94.0, NB201.size)
        for metric in ("accuracy", "ptq_accuracy")
    }
    path = tmp_path / "anb.csv"
    Table(NB201, data, source=PUBLISHED_SOURCE).to_tidy().to_csv(path, index=False)
    table = read_tidy(path)
    assert table.source == "tidy file anb.csv"
    said = run_demo(table, top=1, runs=2).benchmark
    assert said.startswith("tidy file anb.csv: AnalogNAS-Bench's numbers under another label")
    assert "the embedded default" not in said and NOT_NB201 in said


def test_benchmark_statement_tells_analognas_numbers_by_label_or_metrics() -> None:
    own = ["accuracy", "ptq_accuracy"]
    assert NOT_NB201 in benchmark_statement("tidy file mine.csv", metrics=own)
    # a name holding the word, or accuracy alone, says nothing of whose numbers they are
    assert benchmark_statement("tidy file analognas.csv", metrics=["accuracy"]) == (
        "table tidy file analognas.csv"
    )


# -- finding 3: analytic costs are the cell's own, whatever run records a stand-in --------------
def _acc(seed: int, cells: tuple[int, ...] | None = None) -> np.ndarray:
    """Accuracies of ``cells`` (None: every cell), the others unmeasured."""
    values = np.random.default_rng(seed).uniform(40.0, 90.0, NB201.size).round(3)
    if cells is not None:
        values[np.setdiff1d(np.arange(NB201.size), cells)] = np.nan
    return values


@pytest.fixture
def per_run(tmp_path: Path) -> str:
    """A retraining campaign's cifar10@2 runs: at seed 1 cells 0 and 9 trained, cell 104 at
    chance and cell 789 a copy of 9; at seed 2 cells 0 and 9 trained; the analytic costs added
    at that schedule."""
    run_at = {"dataset": "cifar10", "epochs": 2, "seed": 1}
    meta = {
        "constant_output": [{**run_at, "index": CONSTANT}],
        "isomorphic_to": [{**run_at, "index": COPY, "copied_from": SOURCE}],
    }
    seed_1 = _acc(1, (0, SOURCE, CONSTANT, COPY))
    seed_1[CONSTANT], seed_1[COPY] = 10.0, seed_1[SOURCE]
    data = {(ACC, 1): seed_1, (ACC, 2): _acc(2, (0, SOURCE))}
    table = Table(NB201, data, "per run", meta)
    return str(save_table(with_analytic_costs(table, epochs=2), tmp_path / "r.nb201"))


@pytest.fixture
def flat_list(tmp_path: Path) -> str:
    """An old table's flat list: cell 104 at chance on every run; analytic costs at its
    schedule."""
    table = Table(NB201, {(ACC, 1): _acc(1)}, "flat", {"constant_output": [CONSTANT]})
    return str(save_table(with_analytic_costs(table, epochs=2), tmp_path / "f.nb201"))


@pytest.mark.parametrize("metric", ANALYTIC)
@pytest.mark.parametrize(
    ("layout", "cell"), [("per_run", CONSTANT), ("per_run", COPY), ("flat_list", CONSTANT)]
)
def test_query_tags_no_analytic_cost_as_a_stand_in(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    layout: str,
    cell: int,
    metric: str,
) -> None:
    # cell 104's params were "[stand-in: constant output: disconnected cell, not trained]",
    # cell 789's "[stand-in: isomorphic copy, not trained: numbers of cell 9]"
    path = request.getfixturevalue(layout)
    argv = ("query", str(cell), "--dataset", "cifar10", "--split", "model", "--epochs", "2")
    code, out, err = run(capsys, *argv, "--metric", metric, "--table", path)
    assert code == 0, err
    assert "stand-in" not in out
    code, out, err = run(capsys, *argv, "--metric", metric, "--table", path, "--json")
    assert code == 0, err
    assert json.loads(out)["stand_in"] is None


def test_query_still_tags_the_stand_in_runs_numbers(
    capsys: pytest.CaptureFixture[str], per_run: str
) -> None:
    argv = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "2", "--table", per_run)
    code, out, _ = run(capsys, "query", str(COPY), *argv, "--seed-policy", "1", "--json")
    assert code == 0
    assert json.loads(out)["stand_in"] == "isomorphic copy, not trained: numbers of cell 9"


def test_record_lists_no_run_at_chance_for_the_analytic_costs(
    capsys: pytest.CaptureFixture[str], flat_list: str
) -> None:
    # the costs' stored row (seed None) was printed as a run: "cifar10@2ep seed mean is at
    # chance accuracy"
    code, out, err = run(capsys, "record", str(CONSTANT), "--table", flat_list, "--json")
    assert code == 0, err
    record: dict[str, Any] = json.loads(out)
    assert record["constant_output_runs"] == [{"dataset": "cifar10", "epochs": 2, "stored_seed": 1}]
    assert {e["metric"] for e in record["entries"]} >= set(ANALYTIC)
    code, out, _ = run(capsys, "record", str(CONSTANT), "--table", flat_list)
    assert code == 0
    assert "seed mean" not in out and "cifar10@2ep seed id 1 is at chance accuracy" in out


def test_info_counts_no_cell_as_trained_for_its_analytic_costs(
    capsys: pytest.CaptureFixture[str], per_run: str
) -> None:
    # every cell of the space has analytic costs: 15,623 cells were counted trained where the
    # runs trained two (0 and 9)
    code, out, err = run(capsys, "info", "--table", per_run, "--json")
    assert code == 0, err
    assert json.loads(out)["cells"] == {
        "trained": 2,
        "constant_output": 1,
        "isomorphic_copies": 1,
        "trained_and_constant_output": 0,
        "trained_and_isomorphic_copy": 0,
    }


# -- finding 4: a wall-clock time is named as one in --json -------------------------------------
def test_import_json_names_its_wall_clock_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "t.csv"
    src.write_text("index,dataset,split,epochs,metric,value\n0,cifar10,ori-test,200,accuracy,90\n")
    code, out, err = run(capsys, "import", str(src), "--out", str(tmp_path / "t.nb201"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert "seconds" not in summary and summary["wall_seconds"] >= 0


def test_the_demo_command_keeps_the_statement_and_names_its_search_s_wall_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the command stated 'table tidy file anb.csv' (its own benchmark_statement, by the label
    # alone), and search.seconds was wall-clock time under search's simulated time's name
    rng = np.random.default_rng(0)
    data = {
        (MetricKey("cifar10", "ori-test", 200, metric), None): rng.uniform(10.0, 94.0, NB201.size)
        for metric in ("accuracy", "ptq_accuracy")
    }
    path = tmp_path / "anb.csv"
    Table(NB201, data, source=PUBLISHED_SOURCE).to_tidy().to_csv(path, index=False)
    out = str(save_table(read_tidy(path), tmp_path / "anb.nb201"))
    code, text, err = run(capsys, "demo", "--table", out, "--runs", "2", "--top", "1", "--json")
    assert code == 0, err
    said = json.loads(text)
    assert NOT_NB201 in said["benchmark"] and "--table PATH" in said["benchmark"]
    assert "seconds" not in said["search"] and said["search"]["wall_seconds"] >= 0


def test_flatness_of_an_analytic_cost_reads_no_cell_as_a_copy(
    capsys: pytest.CaptureFixture[str], per_run: str
) -> None:
    # cell 789's params were read as cell 9's copy: its neighbourhood lost a member (n=23)
    # and a stand-ins note spoke of a computed cost
    argv = ["flatness", "--dataset", "cifar10", "--split", "model", "--epochs", "2"]
    argv += ["--metric", "params_mb_analytic", "--arch", str(COPY), "--table", per_run]
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert "stand_ins" not in doc
    assert [row["n"] for row in doc["rows"]] == [24]
    code, _, err = run(capsys, *argv, "--omit-stand-ins", "all")
    assert code == 2 and "params_mb_analytic is an analytic cost" in err, err
