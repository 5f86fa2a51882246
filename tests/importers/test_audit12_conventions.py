"""Conventions (audit 12): a tidy import served AnalogNAS-Bench's drift accuracies of 250 or -40
and a drift spread of -5 (four rules said what an accuracy in percent is, and the tidy ranges
knew only ``*_accuracy``); figure captions called NB201's own data 'not NAS-Bench-201' when
its file's name held 'analognas'; a MetricKey the tidy format refuses (``'cifar10 '``) was
built and saved, so ``Table.from_tidy(t.to_tidy())`` could not read a table back."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_exit_2

from nb201_flat.conventions import is_percent_accuracy, is_spread, metric_range, natural_direction
from nb201_flat.demo import benchmark_statement
from nb201_flat.errors import ArgumentError, FormatError, TableFileError
from nb201_flat.figures._common import axis_label, benchmark_caption
from nb201_flat.importers import analognas
from nb201_flat.importers.analognas import PUBLISHED_SOURCE, is_analognas_source
from nb201_flat.importers.tidy import read_tidy, warn_if_fractions
from nb201_flat.space import NB201
from nb201_flat.storage import load_table, save_table
from nb201_flat.table import MetricKey, Table

from .test_tidy_analognas import _analognas_file, _analognas_record

NOT_NB201 = "not NAS-Bench-201"


# -- finding 1: one rule for an accuracy in percent and one for a spread -------------------------
def _tidy_csv(path: Path, metric: str, value: float) -> Path:
    path.write_text(
        "index,dataset,split,epochs,seed,metric,value\n"
        "0,cifar10,ori-test,200,,accuracy,90.0\n"
        f"0,cifar10,ori-test,200,,{metric},{value}\n"
    )
    return path


@pytest.mark.parametrize(
    ("metric", "value", "why"),
    [
        ("drift_1h", 250.0, "is not an accuracy in percent (0..100)"),
        ("hwt_drift_30d", -1.0, "is not an accuracy in percent (0..100)"),
        ("drift_1h_std", -5.0, "is negative, which a spread (a standard deviation) cannot be"),
    ],
)
def test_a_tidy_import_refuses_a_drift_accuracy_or_spread_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], metric: str, value: float, why: str
) -> None:
    source = _tidy_csv(tmp_path / "drift.csv", metric, value)
    out = tmp_path / "drift.nb201"
    line = one_line_exit_2(capsys, "import", str(source), "--out", str(out))
    assert line == (
        f"error: {source}: row 2 (line 3), column 'value': {value} {why} (metric {metric!r}); "
        "fix the file"
    )
    assert not out.exists()


def test_a_users_own_drift_metric_is_no_accuracy(tmp_path: Path) -> None:
    # only AnalogNAS-Bench's drift_<time> names are accuracies: a drift rate of 250 ppm or -3
    # imported before the one rule, and was then refused as 'not an accuracy in percent'
    table = read_tidy(_tidy_csv(tmp_path / "rate.csv", "drift_rate_ppm", 250.0))
    assert table.value(0, "cifar10", "ori-test", 200, "drift_rate_ppm") == 250.0
    assert (
        read_tidy(_tidy_csv(tmp_path / "neg.csv", "drift_rate_ppm", -3.0)).value(
            0, "cifar10", "ori-test", 200, "drift_rate_ppm"
        )
        == -3.0
    )


def test_in_range_drift_values_still_import(tmp_path: Path) -> None:
    table = read_tidy(_tidy_csv(tmp_path / "ok.csv", "drift_1h_std", 0.0))
    assert table.value(0, "cifar10", "ori-test", 200, "drift_1h_std") == 0.0


@pytest.mark.parametrize("metric", analognas.METRICS)
def test_every_analognas_metric_has_one_rule_everywhere(metric: str) -> None:
    # AnalogNAS-Bench's own rule: every value an accuracy in percent, every _std a spread >= 0
    spread = metric.endswith("_std")
    assert metric_range(metric) == ((0.0, math.inf) if spread else (0.0, 100.0))
    assert is_spread(metric) is spread and is_percent_accuracy(metric) is not spread
    assert natural_direction(metric) is (None if spread else True)
    label = axis_label(MetricKey("cifar10", "ori-test", 200, metric))
    assert label.endswith(" (%)") is not spread


@pytest.mark.parametrize(
    ("attr", "value", "metric"),
    [
        ("baseline_drift_3600", (250.0, 0.5), "drift_1h"),
        ("analog_drift_2592000", (-1.0, 0.5), "hwt_drift_30d"),
        ("baseline_drift_3600", (85.0, -5.0), "drift_1h_std"),
    ],
)
def test_analognas_refuses_what_the_tidy_import_refuses(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attr: str,
    value: tuple[float, float],
    metric: str,
) -> None:
    key = (2, 1, 0, 2, 1, 0)
    record = _analognas_record()
    record[attr] = value
    path = _analognas_file(tmp_path / "data.anb", monkeypatch, {key: record})
    with pytest.raises(FormatError) as anb:
        analognas.read_analognas(path)
    bad = value[1] if metric.endswith("_std") else value[0]
    with pytest.raises(FormatError) as tidy:
        read_tidy(_tidy_csv(tmp_path / "t.csv", metric, bad))
    why = str(tidy.value).split(f"{bad} ", 1)[1].split(" (metric")[0]
    assert f":{metric}: {bad} {why}; " in str(anb.value)


def test_drift_accuracies_that_look_like_fractions_are_warned_of(
    caplog: pytest.LogCaptureFixture,
) -> None:
    columns = {
        "dataset": "cifar10",
        "split": "ori-test",
        "epochs": 200,
        "metric": "drift_1h",
        "value": [0.81, 0.85, 0.9],
    }
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers.tidy"):
        warn_if_fractions("f.csv", pd.DataFrame(columns))
    assert "every drift_1h of cifar10/ori-test@200 lies in 0.81..0.9" in caplog.text


@pytest.mark.parametrize(
    ("written", "fix"),
    [
        (
            "Drift_1h",
            "write 'drift_1h' (an accuracy in percent, 0..100), or a name not of the form "
            "drift_<time> or hwt_drift_<time> (drift_1h, hwt_drift_30d)",
        ),
        (
            "DRIFT_1H_STD",
            "write 'drift_1h_std' (a spread, never negative), or a name not ending in _std",
        ),
    ],
)
def test_a_misspelt_drift_metric_is_refused_with_its_rule(
    tmp_path: Path, written: str, fix: str
) -> None:
    with pytest.raises(FormatError) as exc:
        read_tidy(_tidy_csv(tmp_path / "m.csv", written, 1.0))
    assert str(exc.value).endswith(f"; {fix}")


# -- finding 2: AnalogNAS-Bench data is told by the importer's label, not by a file's name -------
@pytest.mark.parametrize(
    ("source", "analog"),
    [
        (PUBLISHED_SOURCE, True),
        ("AnalogNAS-Bench-format file mine.anb (not analog-nasbench 0.1.3's data)", True),
        ("tidy file nb201_vs_analognas.csv.gz", False),
        ("NAS-Bench-201 analognas.pth", False),
    ],
)
def test_the_caption_and_the_demo_agree_on_which_source_is_analognas(
    source: str, analog: bool
) -> None:
    assert is_analognas_source(source) is analog
    assert (NOT_NB201 in benchmark_caption(Table(NB201, {}, source=source))) is analog
    assert (NOT_NB201 in benchmark_statement(source)) is analog


def test_analognas_numbers_under_another_label_keep_their_caption(tmp_path: Path) -> None:
    # AnalogNAS-Bench's table written to a tidy file and imported again is labelled as that
    # file; its own metrics still say whose numbers they are
    table = read_tidy(_tidy_csv(tmp_path / "analognas_export.csv", "ptq_accuracy", 80.0))
    assert table.source.startswith("tidy file")
    assert NOT_NB201 in benchmark_caption(table)


def test_a_data_anb_copy_s_label_is_analognas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _analognas_file(
        tmp_path / "mine.anb", monkeypatch, {(2, 1, 0, 2, 1, 0): _analognas_record()}
    )
    table = analognas.read_analognas(path)
    assert benchmark_caption(table) == f"Benchmark: {table.source}, {NOT_NB201}. "


# -- finding 3: MetricKey keeps the tidy format's name rule --------------------------------------
@pytest.mark.parametrize(
    ("parts", "shown", "why", "fix"),
    [
        (("cifar10 ", "s", 1), "dataset 'cifar10 '", "has spaces around it", "name it 'cifar10'"),
        (("c", "x-valid\n", 1), "split 'x-valid\\n'", "has spaces around it", "name it 'x-valid'"),
        (
            ("c", "s", 1, "acc\turacy"),
            "metric 'acc\\turacy'",
            "has a control",
            "name it 'accuracy'",
        ),
    ],
)
def test_a_metric_key_the_tidy_format_refuses_is_refused(
    parts: tuple[str, str, int], shown: str, why: str, fix: str
) -> None:
    with pytest.raises(ArgumentError) as exc:
        MetricKey(*parts)
    text = str(exc.value)
    assert text.startswith(f"MetricKey {shown} {why}") and text.endswith(f"; {fix}")
    assert "\n" not in text


def test_odd_but_allowed_key_names_survive_to_tidy_and_from_tidy(tmp_path: Path) -> None:
    keys = [
        MetricKey("a/b", "x@y", 200, "m:n"),
        MetricKey("données", "ori-test", 12, "top-1 accuracy"),
    ]
    table = Table(NB201, {(k, None): np.arange(NB201.size, dtype=float) for k in keys})
    back = Table.from_tidy(table.to_tidy())
    assert sorted(back.keys()) == sorted(keys)
    assert sorted(load_table(save_table(table, tmp_path / "odd.nb201")).keys()) == sorted(keys)


def test_a_stored_table_with_a_refused_key_name_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # as an earlier version saved it: the key was built before MetricKey kept the rule
    key = MetricKey("cifar10", "ori-test", 200)
    object.__setattr__(key, "dataset", "cifar10 ")
    folder = save_table(Table(NB201, {(key, None): np.zeros(NB201.size)}), tmp_path / "ws.nb201")
    with pytest.raises(TableFileError) as exc:
        load_table(folder)
    assert str(exc.value).startswith(f"{folder} could not be read (")
    assert "'cifar10 ' has spaces around it" in str(exc.value)
    line = one_line_exit_2(capsys, "info", "--table", str(folder))
    assert line.startswith(f"error: {folder} could not be read (")
    shutil.rmtree(folder)
