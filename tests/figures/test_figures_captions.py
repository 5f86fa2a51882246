"""Captions name the benchmark; distance_profile keeps the top of the distribution readable."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.figures import FIGURE_NAMES, FIGURES
from nb201_flat.figures._common import FigureSkipped
from nb201_flat.table import Table

FAST = {
    "search_curves": {"runs": 4, "algorithms": ("rs", "na-rs")},
    "na_projection": {"points": 21},
    "barrier_census": {"n_pairs": 15, "top_k": 5},
}


def _unwrapped(text: str) -> str:
    """A caption as one line: captions are stored broken into lines the width of the figure."""
    return " ".join(text.split())


def test_captions_on_the_default_name_analognas_bench(default_table: Table) -> None:
    drawn = []
    for name in FIGURE_NAMES:
        try:
            fig = FIGURES[name].make(default_table, **FAST.get(name, {}))
        except FigureSkipped:
            continue
        texts = [_unwrapped(t.get_text()) for t in fig.texts]
        if not texts:  # figures without a caption
            continue
        drawn.append(name)
        assert any(
            t.startswith("Benchmark: AnalogNAS-Bench") and "not NAS-Bench-201" in t for t in texts
        ), name
    assert {"distance_profile", "barrier_tree", "a2m_paths"} <= set(drawn)


def test_captions_name_any_table_source(figure_table: Table) -> None:
    fig = FIGURES["distance_profile"].make(figure_table)
    assert any(
        _unwrapped(t.get_text()).startswith(f"Benchmark: {figure_table.source}. ")
        for t in fig.texts
    )


def test_distance_profile_clips_to_connected_cells_and_says_so(default_table: Table) -> None:
    fig = FIGURES["distance_profile"].make(default_table)
    ax = fig.axes[0]
    values = default_table.vector("cifar10", "ori-test", 200)
    conn = default_table.space.connected
    lo, hi = float(np.nanmin(values[conn])), float(np.nanmax(values[conn]))
    y0, y1 = ax.get_ylim()
    assert y0 == pytest.approx(lo - 0.02 * (hi - lo)) and y1 == pytest.approx(hi + 0.02 * (hi - lo))
    # the disconnected tail at chance level is below the axis, and the caption counts it
    below = int(np.sum(values < lo))
    assert below > 0 and np.nanmax(values[~conn]) < y0
    caption = " ".join(_unwrapped(t.get_text()) for t in fig.texts)
    assert f"{below} cells below it" in caption and "connected cells' range" in caption
    assert "cells at that distance" in ax.get_xlabel()


def test_an_undefined_correlation_is_named_in_the_legend_not_printed_as_nan() -> None:
    # a gap that does not vary has no Spearman rho: the legend read "ρ = +nan"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from nb201_flat.figures.generalisation import Series, plot_binned

    frame = pd.DataFrame({"sharpness": np.linspace(0, 5, 50), "gap": np.full(50, 2.0)})
    with pytest.warns(Warning, match="constant"):  # scipy: rho is not defined
        ax = plot_binned([Series("flat", frame)])
    (label,) = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)
    assert "nan" not in label and "ρ = undefined" in label
