"""An eleventh audit's findings on the reproduction report, its command and the demo, each
reproduced first: the report's CSVs keep every float whole (six significant digits lost what
report.md prints from them), ``reproduce --design full`` has a flag that leaves its charged
searches out, and the demo labels its spread and says what a CI of few pairs is worth."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import build_parser, main
from nb201_flat.cli.common import subparser
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.report import _csv_bytes, write_report
from nb201_flat.search.statistics import MIN_RUNS_VERDICT
from nb201_flat.table import Table


# -- 1: the CSVs hold the frames' floats, every digit -----------------------------------------
def _csv_floats(data: bytes) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode())))
    return {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}


def test_every_float_of_the_report_reads_back_as_the_frames_value(
    nb201_like: Table, tmp_path: Path
) -> None:
    # "%.6g": matched.csv held 4.3798e+07 for report.md's 43797996.9, paired.csv 44.875 for a
    # mean that report.md rounds to 44.87, runs.csv.gz 11995.8 for 11995.7599
    res = reproduce(nb201_like, ReproduceConfig.quick(runs=4, n_boot=100))
    out = tmp_path / "report"
    write_report(res, out)
    frames = {
        "summary.csv": res.summary,
        "paired.csv": res.paired,
        "anchors.csv": res.anchors,
        "accounting.csv": res.accounting,
        "matched.csv": res.matched,
        "routes.csv": res.routes,
        "curves.csv": res.curves,
        "runs.csv.gz": res.runs,
    }
    checked = 0
    for name, frame in frames.items():
        data = (out / name).read_bytes()
        cells = _csv_floats(gzip.decompress(data) if name.endswith(".gz") else data)
        for col in frame.columns:
            if frame[col].dtype != np.float64:
                continue
            want = frame[col].to_numpy()
            got = np.array([float(c) if c else np.nan for c in cells[str(col)]])
            same = (got == want) | (np.isnan(got) & np.isnan(want))
            assert same.all(), (name, col, got[~same][:3], want[~same][:3])
            checked += int((~np.isnan(want)).sum())
    assert checked > 1000  # the report's floats, not an empty check
    # each shortest text is what pandas writes with no float_format
    assert _csv_bytes(res.runs) == res.runs.to_csv(index=False, lineterminator="\n").encode()


def test_a_float_six_digits_cannot_hold_is_written_whole() -> None:
    # %.6g wrote 4.3798e+07, 44.875 (read back, it rounds to 44.88: report.md said 44.87)
    # and 11995.8
    values = [43797996.9, 44.87499999999999, 11995.7599]
    frame = pd.DataFrame({"x": [*values, -0.0, 1e-300], "label": "rs"})
    text = _csv_bytes(frame).decode()
    assert text.splitlines()[1:4] == [f"{v!r},rs" for v in values]
    assert [float(x.split(",")[0]) for x in text.splitlines()[1:]] == frame["x"].tolist()
    assert f"{float(text.splitlines()[2].split(',')[0]):.2f}" == "44.87"
    assert text == frame.to_csv(index=False, lineterminator="\n")


# -- 2: reproduce --design full names a flag that leaves the charged searches out ------------
def _reproduce_flags() -> set[str]:
    parser = subparser(build_parser(), "reproduce")
    return {o for a in parser._actions for o in a.option_strings}


def test_full_design_is_refused_naming_a_flag_that_serves_it(
    nb201_like_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # every combination holds radius 2 with charged neighbours, which nb201's budget cannot
    # pay for: the refusal named only ReproduceConfig(charge=...) in Python
    argv = ["reproduce", "--design", "full", "--runs", "3", "--jobs", "1"]
    argv += ["--protocols", "nb201", "--search-epochs", "12", "--table", str(nb201_like_path)]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "with charged neighbours a run pays for a cell" in line, line
    assert "in Python" not in line, line
    named = re.findall(r"\((--[a-z-]+(?: [a-z]+)?)\)", line)
    assert named == ["--charge-neighbours free"], line
    assert set(re.findall(r"--[a-z][a-z0-9-]*", line)) <= _reproduce_flags(), line
    assert not (tmp_path / "refused").exists()
    # the fix it names runs the full design and writes its report
    assert main([*argv, *named[0].split(), "--out", str(tmp_path / "full")]) == 0
    capsys.readouterr()
    paired = pd.read_csv(tmp_path / "full" / "paired.csv")
    labels = set(paired["algorithm"])
    assert {"na-rs[r1,mean,self,free]", "na-rs[r2,min,noself,free]"} <= labels
    assert not [a for a in labels if "charged" in a]


def test_design_help_names_the_charge_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--charge-neighbours {free,charged,both}" in text
    assert "add --charge-neighbours free" in text and "radius 2 with charged neighbours" in text


def test_charge_levels_set_the_grid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from nb201_flat.cli.search import _reproduce_config

    parser = subparser(build_parser(), "reproduce")

    def config(*extra: str) -> ReproduceConfig:
        args = parser.parse_args(["--out", str(tmp_path / "x"), *extra])
        return _reproduce_config(args)

    assert config().charge == (False, True) and config("--quick").charge == (False,)
    assert config("--charge-neighbours", "free").charge == (False,)
    assert config("--quick", "--charge-neighbours", "both").charge == (False, True)
    assert config("--design", "full", "--charge-neighbours", "charged").charge == (True,)
    # one choice at a time, charged alone is both: the base's free neighbours run anyway
    assert main(["reproduce", "--out", str(tmp_path / "x"), "--charge-neighbours", "charged"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(
        "error: --charge-neighbours charged runs the same grid as --charge-neighbours both"
    ), line
    assert line.endswith("give --charge-neighbours both, or --design full"), line


# -- 3: the demo's spread is labelled, and a CI of few pairs carries its caveat -------------
def _demo_search_lines(capsys: pytest.CaptureFixture[str], runs: int) -> list[str]:
    assert main(["demo", "--runs", str(runs), "--top", "1"]) == 0
    out = capsys.readouterr().out
    return out[out.index("RS vs NA-RS") :].splitlines()


@pytest.mark.parametrize("runs", [2, 5])
def test_demo_labels_its_spread_and_says_few_pairs_hold_the_mean_less_often(
    capsys: pytest.CaptureFixture[str], runs: int
) -> None:
    # "RS cifar10/...: 93.53 +- 0.51 (n=2)", and a 95 % CI of 2 pairs with no word
    lines = _demo_search_lines(capsys, runs)
    assert lines[0].endswith("final test value in %, mean ± std over runs:"), lines[0]
    assert not [x for x in lines if "+-" in x], lines
    rows = [x for x in lines if f"(n={runs})" in x and "±" in x]
    assert len(rows) == 2, lines  # RS and NA-RS
    at = next(i for i, x in enumerate(lines) if "NA-RS - RS, paired by run" in x)
    assert f"(n={runs})" in lines[at]
    from nb201_flat.search.statistics import FEW_PAIRS_CAVEAT  # report.md's words

    assert lines[at + 1] == f"    fewer than {MIN_RUNS_VERDICT} pairs: {FEW_PAIRS_CAVEAT}"


def test_demo_gives_no_caveat_from_enough_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _demo_search_lines(capsys, MIN_RUNS_VERDICT)
    assert lines[0].endswith("mean ± std over runs:")
    assert not [x for x in lines if "so few pairs" in x or "fewer than" in x], lines
