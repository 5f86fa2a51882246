"""Docstring examples, helpers, the notebook table resolver and the registry."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.figures import FIGURE_NAMES, FIGURES
from nb201_flat.figures._common import (
    FigureSkipped,
    axis_label,
    binned_means,
    mean_ci,
    primary_key,
)
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

MODULES = [
    "nb201_flat.figures",
    "nb201_flat.figures._common",
    "nb201_flat.figures.search",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_registry_lists_the_figures_and_resolves_makers() -> None:
    assert FIGURE_NAMES == (
        "na_projection",
        "flat_vs_sharp",
        "a2m_distributions",
        "a2m_paths",
        "search_curves",
        "barrier_tree",
        "distance_profile",
        "barrier_census",
        "flatness_by_epoch",
    )
    for spec in FIGURES.values():
        assert callable(spec.make) and spec.make.__name__ == f"make_{spec.name}"


def test_importing_the_package_does_not_import_pyplot() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nb201_flat.figures, nb201_flat.cli;"
        "nb201_flat.cli.build_parser();"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_binned_means_and_ci() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    y = 2 * x + rng.normal(scale=0.1, size=1000)
    b = binned_means(x, y, bins=5)
    assert b["n"].tolist() == [200] * 5
    assert (np.diff(b["mean"]) > 0).all()
    assert ((b["lo"] < b["mean"]) & (b["mean"] < b["hi"])).all()
    assert binned_means([np.nan], [1.0]).empty
    m, lo, hi, n = mean_ci([5.0])
    assert (m, n) == (5.0, 1) and np.isnan(lo) and np.isnan(hi)


def test_labels_and_skips() -> None:
    key = MetricKey("ImageNet16-120", "x-test", 200)
    assert str(key) == "ImageNet16-120/x-test@200ep:accuracy"
    assert axis_label(key) == "ImageNet16-120 test accuracy (%)"
    assert axis_label(MetricKey("cifar10-valid", "train", 200, "time_s")) == (
        "CIFAR-10 training time (s)"
    )
    exc = FigureSkipped("a2m_paths", [key], "why")
    assert str(exc) == "needs ImageNet16-120/x-test@200ep:accuracy (why)"
    assert exc.figure == "a2m_paths" and exc.needs == ("ImageNet16-120/x-test@200ep:accuracy",)


def test_primary_key_prefers_cifar10_then_any_accuracy() -> None:
    v = np.zeros(NB201.size)
    other = MetricKey("mine", "x-test", 50)
    assert primary_key(Table(NB201, {(other, None): v}), "f") == other
    loss = MetricKey("mine", "x-test", 200, "loss")
    with pytest.raises(FigureSkipped, match="accuracy"):
        primary_key(Table(NB201, {(loss, None): v}), "f")


# -- the notebooks' table ---------------------------------------------------------------------
def test_notebook_table_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_table: Table
) -> None:
    from nb201_flat.figures import notebook_table

    monkeypatch.setenv("NB201_FLAT_SHARED_DATA", str(tmp_path / "absent"))
    table, which = notebook_table()
    assert table.source == default_table.source
    assert "embedded default" in which and str(tmp_path / "absent") in which


def test_notebook_table_imports_the_shared_data_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from nb201_flat.figures import notebook_table

    shared = tmp_path / "shared"
    shared.mkdir()
    df = pd.DataFrame(
        {
            "index": [0, 1],
            "arch": [NB201.arch(0).to_str(), NB201.arch(1).to_str()],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 200,
            "seed": pd.array([pd.NA, pd.NA], dtype="Int64"),
            "metric": "accuracy",
            "value": [10.0, 50.0],
        }
    )
    df.to_csv(shared / "nb201_tidy.csv.gz", index=False)
    monkeypatch.setenv("NB201_FLAT_SHARED_DATA", str(shared))
    monkeypatch.setenv("NB201_FLAT_CACHE", str(tmp_path / "cache"))
    table, which = notebook_table()
    assert "real NB201 data" in which
    assert table.value(1, "cifar10", "ori-test", 200) == 50.0
    cached = list((tmp_path / "cache").glob("nb201-tidy-*.nb201"))
    assert len(cached) == 1
    # a second call loads the cached import
    again, _ = notebook_table()
    assert again.value(1, "cifar10", "ori-test", 200) == 50.0
    _, which = notebook_table(prefer_real=False)
    assert "embedded default" in which


def test_distance_profile_of_one_value_spans_a_range_around_it() -> None:
    # every connected cell at one accuracy: the y range was empty (matplotlib warned and drew
    # a degenerate axis); it is now a margin around the value
    import warnings

    from nb201_flat.figures._common import TEST_KEYS
    from nb201_flat.figures.profile import make_distance_profile
    from nb201_flat.testing import table_from

    values = np.where(NB201.connected, 90.0, 10.0)
    table = table_from(values, key=TEST_KEYS["cifar10"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fig = make_distance_profile(table)
    lo, hi = fig.axes[0].get_ylim()
    assert lo < 90.0 < hi and hi - lo < 10.0


@pytest.mark.parametrize("size", [6.5, 9.0, 13.0])
def test_wrapped_captions_break_where_measuring_every_trial_line_breaks(size: float) -> None:
    # wrap_text sums word widths and measures a whole line only near the limit: its breaks
    # must be those of measuring each longer prefix, the greedy rule it replaced
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    from nb201_flat.figures._common import wrap_text

    prop = FontProperties(size=size)

    def width(line: str) -> float:
        return float(text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0])

    def measured_every_line(text: str, width_in: float) -> str:
        lines = []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                trial = f"{line} {word}" if line else word
                if line and width(trial) > width_in * 72.0:
                    lines.append(line)
                    line = word
                else:
                    line = trial
            lines.append(line)
        return "\n".join(lines)

    vocabulary = [
        "the", "cells", "ρ", "+0.17", "CIFAR-100", "ImageNet16-120", "(81,", "1459)", "±", "x-valid",
        "AVAVAVAVAV", "fi", "Wa", "T.", "−0.47", "percentile", "", "W", "a2m_paths", "1,544",
    ]  # fmt: skip
    rng = np.random.default_rng(int(size * 10))
    breaks = 0
    for _ in range(16):
        words = rng.choice(vocabulary, size=int(rng.integers(1, 80)))
        text = " ".join(words)
        if rng.random() < 0.3:
            text = text.replace(" the ", "\nthe ", 1)
        width_in = float(rng.uniform(0.3, 8.0))
        got = wrap_text(text, prop, width_in)
        assert got == measured_every_line(text, width_in), (text, width_in)
        breaks += got.count("\n")
    assert breaks > 40  # the rule was met many times, not only texts that fit on a line
