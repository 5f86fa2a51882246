"""Every panel of every figure labels both axes, with units (issue 12 item 9).

The check itself (``tests/_readable.py``) also runs inside each notebook's kernel; here it is
shown to catch what it should, then run on every library figure drawn on the synthetic table,
which holds all three datasets (the embedded default draws one panel per figure only).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure

from nb201_flat.figures import FIGURE_NAMES, FIGURES
from nb201_flat.space import NB201
from nb201_flat.table import Table


def _load_readable() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "_readable.py"
    spec = importlib.util.spec_from_file_location("nb201_flat_tests_readable", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readable = _load_readable()

# as in test_figures_render: small searches keep the suite quick
FAST: dict[str, dict[str, Any]] = {
    "search_curves": {"runs": 4, "algorithms": ("rs", "na-rs")},
    "na_projection": {"points": 21},
    "barrier_census": {"n_pairs": 15, "top_k": 5},
}


def test_the_check_finds_an_unlabelled_panel_and_spares_colour_bars_and_legends() -> None:
    fig = Figure()
    left, right, legend_only = fig.subplots(1, 3)
    left.plot([0, 1], [0, 1])
    left.set_xlabel("step (edges changed)")
    left.set_ylabel("accuracy (%)")
    right.scatter([0, 1], [0, 1], c=[0, 1])
    right.set_xlabel("step (edges changed)")
    legend_only.plot([], [], label="a line")
    legend_only.legend()
    legend_only.set_axis_off()
    fig.colorbar(right.collections[0], ax=right)
    assert readable.axes_problems([fig]) == [
        "figure 0, axes 'untitled': no y label",
        "figure 0, axes 'untitled': a colour bar without a label",
    ]
    right.set_ylabel("accuracy (%)")
    fig.axes[-1].set_ylabel("accuracy (%)")
    assert readable.axes_problems([fig]) == []


def test_the_check_accepts_a_label_shared_along_a_row_but_not_across_rows() -> None:
    fig = Figure()
    axes = fig.subplots(2, 2, sharey="row")
    for ax in axes.flat:
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel("step (edges changed)")
    axes[0, 0].set_ylabel("accuracy (%)")
    # the first row shares its label; the second row has none
    assert readable.axes_problems([fig]) == [
        "figure 0, axes 'untitled': no y label",
        "figure 0, axes 'untitled': no y label",
    ]
    axes[1, 0].set_ylabel("accuracy (%)")
    assert readable.axes_problems([fig]) == []


def test_the_check_finds_architecture_rows_that_look_identical() -> None:
    a = NB201.from_ops(["nor_conv_3x3"] * 6).to_str()
    # only the last op differs: pandas shows both cut to the same text
    b = NB201.from_ops(["nor_conv_3x3"] * 5 + ["avg_pool_3x3"]).to_str()
    assert a != b and a[:60] == b[:60]
    frame = pd.DataFrame({"arch": [a, b], "accuracy": [93.1, 92.0]})
    (problem,) = readable.frame_problems([frame])
    assert problem.startswith("table 0, column 'arch': 2 rows, rows look identical")
    # the full strings as an index look the same way
    assert len(readable.frame_problems([frame.set_index("arch")])) == 1
    short = frame.assign(arch=[f"{i} {s[-30:]}" for i, s in zip((11472, 9), (a, b), strict=True)])
    assert readable.frame_problems([short]) == []
    fig = Figure()
    ax = fig.subplots()
    ax.bar([0, 1], [1, 2])
    ax.set_xticks([0, 1], [a, b])
    ax.set_xlabel("architecture")
    ax.set_ylabel("accuracy (%)")
    assert readable.axes_problems([fig]) == []
    ax.set_xticks([0, 1], [a, a])
    assert "architecture tick labels repeat" in readable.axes_problems([fig])[0]


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_every_panel_of_every_figure_labels_both_axes(name: str, figure_table: Table) -> None:
    fig = FIGURES[name].make(figure_table, **FAST.get(name, {}))
    assert readable.axes_problems([fig]) == []
