"""Captions name the benchmark; distance_profile keeps the top of the distribution readable."""

from __future__ import annotations

import warnings

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


def test_flatness_by_epoch_names_its_benchmark_curve_seeds_and_radius(
    figure_table: Table,
) -> None:
    # the one figure drawn without a caption (the default table skips it, so the test above
    # never saw it): a reader could not tell the benchmark, the curve or the seeds
    from nb201_flat.figures.epochs import CURVE_KEYS

    assert figure_table.curves is not None
    fig = FIGURES["flatness_by_epoch"].make(figure_table, radius=2, step=2)
    texts = [_unwrapped(t.get_text()) for t in fig.texts]  # the suptitle, then the caption
    (caption,) = [t for t in texts if t.startswith("Benchmark:")]
    key = next(k for k in CURVE_KEYS if k in figure_table.curves)
    assert caption.startswith(f"Benchmark: {figure_table.source}. Curve {key}: ")
    assert "mean over the stored seeds" in caption and "radius-2 neighbours" in caption
    assert "Points: every 2 epochs and the last." in caption


def _projection_caption_and_grey(values: np.ndarray) -> tuple[str, np.ndarray]:
    """na_projection drawn on CIFAR-10 ``values`` (picked by value): its caption, and the
    values of its grey grid points (below the shared colour scale) in both panels."""
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey

    key = MetricKey("cifar10", "ori-test", 200)
    table = Table(NB201, {(key, None): values}, source="synthetic projection")
    fig = FIGURES["na_projection"].make(table, pick="value", points=21)
    (caption,) = [_unwrapped(t.get_text()) for t in fig.texts]
    meshes = [ax.collections[0] for ax in fig.axes[:2]]
    vmin = meshes[0].norm.vmin
    drawn = np.concatenate([np.asarray(m.get_array(), dtype=np.float64).ravel() for m in meshes])
    return caption, drawn[drawn < vmin]


def test_na_projection_caption_names_disconnected_cells_only_when_they_are_grey() -> None:
    # the caption said "Grey: below the colour scale (e.g. disconnected cells)" while on the
    # real table every grey point was a connected cell
    from nb201_flat.space import NB201

    conn = NB201.connected
    values = np.empty(NB201.size)
    values[conn] = np.linspace(40.0, 90.0, int(conn.sum()))
    values[~conn] = 95.0  # disconnected cells above every connected one: none can be grey
    caption, grey = _projection_caption_and_grey(values)
    assert grey.size > 0 and (grey < 95.0).all()
    assert f"Grey: {grey.size} of the 882 grid points lie below the colour scale" in caption
    assert "2nd percentile" in caption and "all on connected cells" in caption
    assert "disconnected" not in caption
    # at chance, the disconnected cells are grey, and the caption counts them
    values[~conn] = 1.0
    caption, grey = _projection_caption_and_grey(values)
    n_off = int((grey == 1.0).sum())
    assert n_off > 0
    assert f"Grey: {grey.size} of the 882 grid points" in caption
    assert f"{n_off} of them on disconnected cells" in caption


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
    with warnings.catch_warnings():  # undefined is said in the legend, not warned about
        warnings.simplefilter("error", RuntimeWarning)  # numpy's and scipy's NaN warnings
        ax = plot_binned([Series("flat", frame)])
    (label,) = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)
    assert "nan" not in label and "ρ = undefined" in label


def test_a_constant_column_draws_its_fdc_and_bands_as_undefined(figure_table: Table) -> None:
    # the library refuses an undefined FDC and an empty band by default; the figures opt in
    # and name them undefined in the legend instead of failing
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey

    key = MetricKey("cifar10", "ori-test", 200)
    flat = Table(NB201, {(key, None): np.full(NB201.size, 10.0)}, source="constant")
    fig = FIGURES["distance_profile"].make(flat)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mean (FDC = undefined)"]
    # every cell ties for the optimum: the title listed all 15,625 (a 1-gigapixel PNG)
    assert ax.get_title().endswith("optimum 0, 1, 2, ... (15,625 tied)")
    fig.canvas.draw()
    assert fig.get_tightbbox().width < 2 * fig.get_figwidth()
    fig = FIGURES["a2m_distributions"].make(flat)
    # the legend sits right of the row's last panel (inside the first it covered the data)
    labels = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert labels[1:] == [f"band {b} (empty): undefined" for b in "ABC"]


def test_an_epoch_that_ranks_nothing_is_named_undefined(figure_table: Table) -> None:
    # every cell at chance after the first epoch: no Spearman rho with the final ranking; the
    # library refuses it by default, the figure opts in and says so in panel (b)
    from nb201_flat.curves import Curves

    assert figure_table.curves is not None
    ((key, seed),) = figure_table.curves.items()
    curve = figure_table.curves.curve(key).copy()
    curve[:, 0] = 10.0
    table = Table(
        figure_table.space,
        figure_table.data,
        source="chance first epoch",
        curves=Curves(figure_table.space.size, {(key, seed): curve}),
    )
    fig = FIGURES["flatness_by_epoch"].make(table, step=5)
    b = fig.axes[1]
    notes = [t.get_text() for t in b.texts if "undefined" in t.get_text()]
    assert notes == ["ρ undefined after 1 epoch (1):\nequal values, or under 3 ranked cells"]
    assert np.isnan(b.lines[0].get_ydata()[0]) and np.isfinite(b.lines[0].get_ydata()[1:]).all()


def test_search_curves_name_and_explain_best_evaluated_na_rs(default_table: Table) -> None:
    # the line was labelled with the internal name "na-rs-best [r1,mean,self,free]" and the
    # caption never said what it is
    import pandas as pd

    x = np.linspace(0, 100, 11)
    curves = pd.concat(
        [
            pd.DataFrame(
                {
                    "protocol": "nb201",
                    "optimistic": False,  # as the runner records it: searched on validation
                    "dataset": "cifar10",
                    "split": "ori-test",
                    "algorithm": algo,
                    "x": x,
                    "x_unit": "seconds",
                    "mean": 90 + shift + x / 100,
                    "std": 0.5,
                    "n": np.where(x > 0, 10, 0),
                }
            )
            for algo, shift in (("rs", 0.0), ("na-rs-best[r1,mean,self,free]", 0.2))
        ]
    )
    fig = FIGURES["search_curves"].make(default_table, curves=curves)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["RS", "NA-RS best-evaluated [r1,mean,self,free]"]
    (caption,) = [_unwrapped(t.get_text()) for t in fig.texts]
    assert "NA-RS best-evaluated: the best cell by validation among everything NA-RS " in caption
    # the default algorithms draw no such line, and their caption does not explain one
    fig = FIGURES["search_curves"].make(default_table, curves=curves[curves["algorithm"] == "rs"])
    assert "best-evaluated" not in " ".join(t.get_text() for t in fig.texts)


def test_flatness_by_epoch_gives_its_spreads_in_points(figure_table: Table) -> None:
    # a spread of accuracies is in percentage points, not a percentage of anything
    fig = FIGURES["flatness_by_epoch"].make(figure_table, radius=1, step=2)
    assert fig.axes[0].get_ylabel() == "radius-1 spread of accuracy (points)"
