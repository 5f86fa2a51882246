"""The demo's summary on the embedded default table."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.cli.demo import demo_summary
from nb201_flat.errors import AlgorithmError
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table


def test_demo_summary_on_default(default_table: Table) -> None:
    out = demo_summary(default_table, top=3, runs=10, seed=1)
    acc = default_table.vector("cifar10", "ori-test", 200)
    values = [b["value"] for b in out["best"]]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(np.nanmax(acc))
    nb = default_table.space.neighbours(1).of(out["best"][0]["index"])
    assert out["best"][0]["mean"] == pytest.approx(acc[nb].mean())
    assert 1 <= out["local_optima"] < default_table.space.size
    rows = out["search"]["rows"]
    assert {r["algorithm"] for r in rows} == {"rs", "na-rs[r1,mean,self,free]"} and all(
        r["n"] == 10 for r in rows
    )
    # the embedded table has no validation split: the search is flagged as optimistic
    assert any("OPTIMISTIC" in n for n in out["search"]["notes"])
    again = demo_summary(default_table, top=3, runs=10, seed=1)
    for d in (again, out):
        d["search"].pop("wall_seconds")  # wall time, the only thing allowed to differ
    assert again == out


def test_demo_cli_json(capsys: pytest.CaptureFixture[str], default_table: Table) -> None:
    assert main(["demo", "--runs", "5", "--top", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["best"]) == 2 and payload["archs"] == 15625
    # the command names its option for an imported table; the library its function
    assert payload["benchmark"].endswith(
        "an imported NB201 table: --table PATH or $NB201_FLAT_TABLE)"
    )


def test_the_library_s_benchmark_statement_names_no_flag() -> None:
    from nb201_flat.demo import benchmark_statement

    said = benchmark_statement("AnalogNAS-Bench (analog-nasbench 0.1.3, CIFAR-10)")
    assert "--" not in said and said.endswith("load_table(PATH) or $NB201_FLAT_TABLE)")


def test_a_copy_that_is_not_the_published_data_is_not_called_the_embedded_default() -> None:
    from nb201_flat.demo import benchmark_statement
    from nb201_flat.importers.analognas import PUBLISHED_SOURCE

    assert "the embedded default, NB201's 15,625 cells" in benchmark_statement(PUBLISHED_SOURCE)
    # the label read_analognas gives a file by path whose bytes are not the published ones
    said = benchmark_statement(
        "AnalogNAS-Bench-format file d.anb (not analog-nasbench 0.1.3's data)"
    )
    assert "the embedded default," not in said
    assert "not the embedded default" in said and "not NAS-Bench-201's numbers" in said
    # a tidy export of the embedded table is a table like any other
    assert benchmark_statement("tidy file analognas.csv") == "table tidy file analognas.csv"


# issue 12 item 6: what the demo says about itself


def _demo_text(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["demo", "--runs", "20", "--top", "2"]) == 0
    return capsys.readouterr().out


def test_demo_prints_paired_difference_with_ci(
    capsys: pytest.CaptureFixture[str], default_table: Table
) -> None:
    out = _demo_text(capsys)
    line = next(x for x in out.splitlines() if "NA-RS - RS, paired by run" in x)
    assert "95 % bootstrap CI [" in line and "points" in line
    payload = demo_summary(default_table, top=2, runs=20, seed=0)
    (p,) = payload["search"]["paired_difference"]
    lo, hi = p["ci_lo"], p["ci_hi"]
    assert lo <= p["diff"] <= hi and p["n"] == 20
    rows = {r["algorithm"]: r["mean"] for r in payload["search"]["rows"]}
    # the mean of paired differences is the difference of means when every run is paired
    assert p["diff"] == pytest.approx(rows["na-rs[r1,mean,self,free]"] - rows["rs"])


def test_demo_names_the_benchmark(capsys: pytest.CaptureFixture[str], default_table: Table) -> None:
    out = _demo_text(capsys)
    first = out.splitlines()[0]
    assert first.startswith("benchmark: AnalogNAS-Bench") and "not NAS-Bench-201" in first


def test_demo_says_optimistic_once(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, default_table: Table
) -> None:
    with caplog.at_level(logging.WARNING):
        out = _demo_text(capsys)
    assert out.count("OPTIMISTIC") == 1
    assert not [r for r in caplog.records if "optimistic" in r.getMessage().lower()]


def test_demo_explains_flattest_and_units(
    capsys: pytest.CaptureFixture[str], default_table: Table
) -> None:
    out = _demo_text(capsys)
    assert "flattest = highest mean value over the 24 radius-1 neighbours" in out
    assert "metric: " in out and " in %" in out
    assert "final test value in %" in out
    assert "sharpness (value - radius-1 mean): " in out and " points" in out
    assert "loaded in " in out and " s)" in out
    # the sharp column had no word of what it is, nor of its sign: the line under its header
    lines = out.splitlines()
    at = next(i for i, x in enumerate(lines) if x.split()[-2:] == ["sharp", "arch"])
    legend, *rows = lines[at + 1 : at + 4]
    assert legend.startswith("  (sharp = value - nb mean: the cell's value minus its neighb")
    for row in rows:  # what it says holds, sign included (each number rounded to 0.01)
        _, value, mean, _, sharp, _ = row.split()
        assert float(sharp) == pytest.approx(float(value) - float(mean), abs=0.016)


def test_demo_uses_table_env(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    default_table: Table,
) -> None:
    from nb201_flat.storage import save_table

    # its accuracies only: AnalogNAS-Bench's own metrics say whose numbers they are
    data = {(k, s): v for (k, s), v in default_table.data.items() if k.metric == "accuracy"}
    mine = Table(default_table.space, data, source="my-own-table")
    save_table(mine, tmp_path / "t")
    monkeypatch.setenv("NB201_FLAT_TABLE", str(tmp_path / "t"))
    assert main(["demo", "--runs", "3", "--top", "1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["source"] == "my-own-table" and payload["benchmark"] == "table my-own-table"


def test_demo_result_is_frozen_with_one_line_repr(default_table: Table) -> None:
    import dataclasses

    from nb201_flat.demo import DemoResult, run_demo

    res = run_demo(default_table, top=2, runs=5, seed=0)
    assert isinstance(res, DemoResult) and "\n" not in repr(res)
    assert repr(res).startswith("DemoResult('AnalogNAS-Bench")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.runs = 1  # type: ignore[misc]


def test_demo_prints_no_nan_on_a_half_measured_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # NA-RS picked unmeasured cells in 4 of 5 runs: "+- nan (n=1)" and "CI [+nan, +nan]"
    v = np.linspace(10, 90, NB201.size)
    holes = np.where(np.arange(NB201.size) % 2 == 1, np.nan, v)
    data = {
        (MetricKey("cifar100", "x-valid", 200), None): v,
        (MetricKey("cifar100", "x-test", 200), None): holes,
    }
    path = save_table(Table(NB201, data, source="holes"), tmp_path / "t.nb201")
    assert main(["demo", "--runs", "5", "--top", "2", "--table", str(path)]) == 0
    out = capsys.readouterr().out
    assert "na-rs[" in out and "nan" not in out.lower()  # a row of NA-RS's, search's label


def test_demo_on_a_table_whose_two_best_no_path_joins(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the demo failed with "no path joins 81 and 168 ..." on a sparse tidy import, and with a
    # numpy traceback where no top cell had a measured neighbour. Measured: the cells whose
    # op codes sum to one residue mod 5 (no two of them one edge apart, so no path joins
    # any two), a fifth of the space so that every search run finds one
    codes = NB201.codes
    iso = codes.sum(axis=1) % 5 == codes[0].sum() % 5
    far = int(np.flatnonzero(iso & (codes != codes[0]).all(axis=1))[0])  # 6 edges away
    v = np.where(iso, np.linspace(10, 40, NB201.size), np.nan)
    v[[0, far]] = [60.0, 50.0]
    data = {(MetricKey("cifar10", "ori-test", 200), None): v}
    path = save_table(Table(NB201, data, source="sparse"), tmp_path / "t.nb201")
    # its search (fixed-n on that key itself) would charge the unmeasured cells and read NaN:
    # not run, and said why (its fix spelled as flags), after the landscape part it serves
    assert main(["demo", "--runs", "3", "--top", "2", "--table", str(path)]) == 0
    out, err = capsys.readouterr()
    assert not err
    skipped = [line for line in out.splitlines() if line.startswith("RS vs NA-RS")]
    assert len(skipped) == 1 and skipped[0].startswith("RS vs NA-RS: not run: protocol"), out
    assert "12,500 of the 15,625 architectures have no" in skipped[0]
    assert skipped[0].endswith("; use another --table"), skipped
    assert f"no lowest barrier between the two best: no path joins 0 and {far}" in out
    assert "nan" not in out.replace(skipped[0], "").lower() and "paired by run" not in out
    assert main(["demo", "--runs", "3", "--top", "2", "--table", str(path), "--json"]) == 0
    search = json.loads(capsys.readouterr().out)["search"]
    assert set(search) == {"skipped", "notes"} and "--table" in search["skipped"]
    from nb201_flat.demo import run_demo
    from nb201_flat.storage import load_saved_table

    res = run_demo(load_saved_table(path), top=2, runs=3)
    assert res.search_skipped is not None and "search skipped" in repr(res)
    assert (res.runs, res.rows, res.paired) == (0, (), ())
    dense = np.linspace(10, 90, NB201.size)
    data[(MetricKey("cifar100", "x-valid", 12), None)] = dense
    data[(MetricKey("cifar100", "x-test", 200), None)] = dense
    path = save_table(Table(NB201, data, source="sparse"), tmp_path / "t2.nb201")
    assert main(["demo", "--runs", "3", "--top", "2", "--table", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"no lowest barrier between the two best: no path joins 0 and {far}" in out
    assert "lowest barrier between the two best:" not in out.replace("no lowest barrier", "")
    assert "flattest of the top 1 %: none of them has a measured radius-1 neighbour" in out
    assert "nan" not in out.lower()


def test_demo_searches_a_schedule_measured_on_every_cell(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # x-valid at 12 epochs lacks 100 cells, at 200 it has them all: the demo's fallback took 12
    # epochs whenever the key existed, and then said the search could not run
    dense = np.linspace(10, 90, NB201.size)
    holes = dense.copy()
    holes[:100] = np.nan
    data = {
        (MetricKey("cifar100", "x-valid", 12), None): holes,
        (MetricKey("cifar100", "x-valid", 200), None): dense,
        (MetricKey("cifar100", "x-test", 200), None): dense,
        (MetricKey("cifar10", "ori-test", 200), None): dense,
    }
    path = str(save_table(Table(NB201, data, source="holes at 12"), tmp_path / "t.nb201"))
    assert main(["demo", "--runs", "3", "--json", "--table", path]) == 0
    search = json.loads(capsys.readouterr().out)["search"]
    assert "skipped" not in search and search["protocol"].startswith("fixed-n"), search
    assert {r["epochs"] for r in search["rows"]} == {200}


def test_demo_lists_measured_cells_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # 3 measured cells under the demo's metric, default --top 5: rows 4-5 read "2  nan - - -"
    sparse = np.full(NB201.size, np.nan)
    sparse[[3, 500, 9000]] = [70.0, 60.0, 50.0]
    dense = np.linspace(10, 90, NB201.size)
    data = {
        (MetricKey("cifar10", "ori-test", 200), None): sparse,
        (MetricKey("cifar100", "x-valid", 12), None): dense,
        (MetricKey("cifar100", "x-test", 200), None): dense,
    }
    path = str(save_table(Table(NB201, data, source="three"), tmp_path / "t.nb201"))
    assert main(["demo", "--runs", "3", "--table", path]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    assert "best 3 by value" in out and "(only 3 architectures are measured; --top 5 asked)" in out
    assert main(["demo", "--runs", "3", "--json", "--table", path]) == 0
    assert [b["index"] for b in json.loads(capsys.readouterr().out)["best"]] == [3, 500, 9000]


def test_demo_on_a_table_of_one_unknown_validation_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # table_from's one key is synthetic/x-valid@200: fixed-n falls back to it (flagged
    # optimistic); an x-valid key no protocol can search must not make the demo refuse
    from nb201_flat.testing import table_from

    path = save_table(table_from(np.linspace(10, 90, NB201.size)), tmp_path / "t.nb201")
    assert main(["demo", "--runs", "3", "--top", "2", "--table", str(path)]) == 0
    assert "fixed-n:synthetic" in capsys.readouterr().out


@pytest.mark.parametrize("runs", [1, 0])
def test_run_demo_takes_the_runs_rule_of_the_command(default_table: Table, runs: int) -> None:
    # the API printed a confidence interval from one run that the command refuses
    from nb201_flat.demo import run_demo

    with pytest.raises(AlgorithmError, match=f"runs must lie in 2..[0-9,]+, got {runs}; a conf"):
        run_demo(default_table, top=2, runs=runs, seed=0)


def test_demo_says_the_fdc_of_a_constant_metric_is_undefined(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # every cell at 10 %: no fitness-distance correlation exists; it printed "-" (JSON null)
    # as if a value were merely missing
    data = {(MetricKey("cifar10", "ori-test", 200), None): np.full(NB201.size, 10.0)}
    path = str(save_table(Table(NB201, data, source="constant"), tmp_path / "t.nb201"))
    assert main(["demo", "--runs", "2", "--top", "2", "--table", path]) == 0
    out = capsys.readouterr().out
    assert (
        "fitness-distance correlation: undefined (every measured value equal, or only one "
        "measured); local optima at radius 1: 15625" in out
    )
    assert main(["demo", "--runs", "2", "--top", "2", "--json", "--table", path]) == 0
    assert json.loads(capsys.readouterr().out)["fitness_distance_correlation"] is None


def test_demo_on_a_table_that_measures_none_of_its_metric(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the demo's metric (cifar10's 200-epoch test accuracy) held only NaN: the error read
    # "values are all NaN: there is no optimum", naming no metric (and no local optima: 0)
    dense = np.linspace(10, 90, NB201.size)
    data = {
        (MetricKey("cifar10", "ori-test", 200), None): np.full(NB201.size, np.nan),
        (MetricKey("cifar100", "x-valid", 12), None): dense,
        (MetricKey("cifar100", "x-test", 200), None): dense,
    }
    path = str(save_table(Table(NB201, data, source="unmeasured"), tmp_path / "t.nb201"))
    for extra in ([], ["--json"]):
        assert main(["demo", "--runs", "2", "--top", "2", *extra, "--table", path]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in captured.err
        assert lines[0].startswith(
            "error: table 'unmeasured' holds no measured value of the demo's metric "
            "cifar10/ori-test@200ep:accuracy"
        )


def test_demo_on_a_table_of_no_accuracy_names_no_flag_it_lacks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # it said "name the metric key (dataset, split, epochs, metric) to use": demo takes none
    loss = np.linspace(0.1, 2.0, NB201.size)
    data = {(MetricKey("cifar10-valid", "x-valid", 200, "loss"), None): loss}
    path = str(save_table(Table(NB201, data, source="losses"), tmp_path / "t.nb201"))
    assert main(["demo", "--runs", "2", "--table", path]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(
        "error: the demo summarises an accuracy, and table 'losses' measures none (it holds "
        "cifar10-valid/x-valid@200ep:loss); for flatness and barriers on another metric, "
        "name its key (dataset, split, epochs, metric) to the flatness and barrier commands"
    ), captured.err


def test_demo_rows_name_the_whole_reported_key(capsys: pytest.CaptureFixture[str]) -> None:
    # "cifar10/ori-test" alone did not say the schedule or metric of the values
    assert main(["demo", "--runs", "5", "--top", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["search"]["rows"]
    assert rows and all({"epochs", "metric"} <= set(r) for r in rows)
    text = _demo_text(capsys)
    for r in rows:
        key = MetricKey(r["dataset"], r["split"], r["epochs"], r["metric"])
        assert f"{r['algorithm']:>6}  {key}: " in text, text


def test_the_two_bests_barrier_on_a_partly_measured_table_is_named_an_upper_bound(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the lowest path avoids unmeasured cells: the demo gave its barrier as the lowest, where
    # barrier names it an upper bound (an eleventh audit's second read)
    key = MetricKey("cifar10", "ori-test", 200)
    a, b = 0, int(NB201.neighbours(2, exact=True).of(0)[0])  # the two best, 2 edges apart
    mids = NB201.neighbours(1).of(a)
    mid = [int(m) for m in mids if NB201.arch(int(m)).hamming(NB201.arch(b)) == 1]
    v = np.full(NB201.size, 50.0)
    v[a], v[b] = 90.0, 89.0
    v[mid[0]], v[mid[1]] = np.nan, 10.0  # one midpoint unmeasured, the other low
    save_table(Table(NB201, {(key, None): v}, source="partly measured"), tmp_path / "p")
    assert main(["demo", "--table", str(tmp_path / "p"), "--runs", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["barrier_best_two"]
    # the detour through cells at 50: beyond the worse endpoint, so a bound
    assert got["barrier"] == pytest.approx(39.5) and got["upper_bound"] is True
    assert got["unmeasured"] == 1
    assert main(["demo", "--table", str(tmp_path / "p"), "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "lowest barrier between the two best: 39.500 points over" in out
    assert "(an upper bound: 1 cell unmeasured)" in out
    assert "the two best: the lowest barrier goes through measured cells only" in out
