"""A twelfth audit of a2m_distributions, barrier_census and barrier_tree: a band without a
distribution is named in its panel and the notes, no legend covers the densities, the census'
axis names its scale and ticks no negative barrier, and a tree of one leaf has a colour bar
around its value and a singular title."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from nb201_flat import landscape as ls
from nb201_flat.figures import figure_notes, make
from nb201_flat.figures._common import new_figure
from nb201_flat.figures.census import plot_barrier_census
from nb201_flat.figures.distributions import plot_neighbour_distributions
from nb201_flat.figures.tree import plot_disconnectivity
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)
CENTRE = 11472  # a connected cell whose 24 radius-1 neighbours are connected too


@pytest.fixture(scope="module")
def star() -> Table:
    """CIFAR-10 measured on one cell (band A) and its radius-1 neighbours only, one of them
    better (band A too): band A has no measured neighbour at distance 3, bands B and C hold
    no value, and the one local optimum is the better neighbour."""
    around = np.asarray(NB201.neighbours(1).of(CENTRE))
    v = np.full(NB201.size, np.nan)
    v[CENTRE] = 93.0
    v[around] = np.linspace(86.0, 92.0, around.size)
    v[around[0]] = 93.2
    return Table(NB201, {(KEY, None): v}, source="star")


def _drawn(fig: Figure) -> Figure:
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig


def _panel_texts(ax: object) -> list[str]:
    return [t.get_text() for t in ax.texts]  # type: ignore[attr-defined]


# -- a2m_distributions: a band without a distribution ---------------------------------------
def test_a_band_without_neighbours_at_a_radius_is_named_in_its_panel_and_the_notes(
    star: Table,
) -> None:
    # the distance-3 panel showed the grey background alone: "band A (no neighbour):
    # undefined" was an invisible line in a panel without a legend, and the notes were silent
    fig = _drawn(make("a2m_distributions", star))
    one, two, three = fig.axes
    assert _panel_texts(three) == [
        "undefined here:",
        "band A: no measured neighbour",
        "band B: no value in it",
        "band C: no value in it",
    ]
    assert _panel_texts(one) == [
        "undefined here:",
        "band B: no value in it",
        "band C: no value in it",
    ]
    notes = figure_notes(fig)
    assert (
        "CIFAR-10, band A (92.3–93.7 %): no measured neighbour at distance 3, so its density "
        "is undefined there"
    ) in notes
    assert (
        "CIFAR-10, band B (84.3–85.7 %): no value lies in it, so its densities are undefined "
        "at every distance"
    ) in notes
    # the text lies above every bar: the axis is raised to make room for it
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax in (one, two, three):
        tallest = max(
            float(np.max(p.get_data().values)) for p in ax.patches if isinstance(p, StepPatch)
        )
        top_of_bars = ax.transData.transform((0.0, tallest))[1]
        assert all(t.get_window_extent(renderer).y0 > top_of_bars for t in ax.texts)
        # and inside the panel: the legend right of it does not cover it
        right = ax.get_window_extent(renderer).x1
        assert all(t.get_window_extent(renderer).x1 <= right for t in ax.texts)


def test_a_band_drawn_at_every_radius_gets_no_panel_text(figure_table: Table) -> None:
    fig = make("a2m_distributions", figure_table)
    assert not any(ax.texts for ax in fig.axes)
    assert not any("undefined" in n for n in figure_notes(fig))


def test_the_plot_names_each_band_it_has_no_rows_for(figure_table: Table) -> None:
    v = figure_table.vector("cifar10", "ori-test", 200) - 60.0  # no value in any band
    empty = ls.neighbour_distributions(figure_table.space, v, "cifar10", (1, 2), allow_empty=True)
    ax = plot_neighbour_distributions(empty, v, 2)
    assert _panel_texts(ax)[1:] == [f"band {b}: no value in it" for b in "ABC"]


# -- a2m_distributions: the legend ------------------------------------------------------------
def _overlaps(fig: Figure) -> list[tuple[int, int]]:
    """(legend, axes) pairs whose boxes meet."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    return [
        (i, j)
        for i, leg in enumerate(legends)
        for j, ax in enumerate(fig.axes)
        if leg.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
    ]


def test_the_legends_lie_outside_every_panel(figure_table: Table, star: Table) -> None:
    # inside the first panel, "upper left", band C's spike crossed the CIFAR-10 legend's text
    for table in (figure_table, star):
        fig = _drawn(make("a2m_distributions", table))
        assert _overlaps(fig) == []
        # one legend a row, right of its last panel, naming every band with its range
        rows = len(fig.axes) // 3
        assert [ax.get_legend() is not None for ax in fig.axes] == [False, False, True] * rows
    labels = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert labels == [
        "all architectures",
        "band A: 92.3–93.7 %",
        "band B (empty): undefined",
        "band C (empty): undefined",
    ]


def test_the_plot_draws_its_legend_outside_its_axes(figure_table: Table) -> None:
    v = figure_table.vector("cifar10", "ori-test", 200)
    dist = ls.neighbour_distributions(figure_table.space, v, "cifar10", (1,))
    fig, axes = new_figure(1, 1)
    plot_neighbour_distributions(dist, v, 1, axes[0, 0])
    assert _overlaps(_drawn(fig)) == []


# -- barrier_census: the axis names its scale ---------------------------------------------------
def _census(values: np.ndarray) -> pd.DataFrame:
    """A census frame of one group whose four barriers are ``values``."""
    names = ("lowest", "best_shortest", "mean_path", "worst_shortest")
    return pd.DataFrame(
        {"group": "top-k", **{f"{n}_above_worse": values for n in names}, "no_barrier": values == 0}
    )


def _shown_ticks(ax: object) -> list[float]:
    lo, hi = ax.get_ylim()  # type: ignore[attr-defined]
    return [float(t) for t in ax.get_yticks() if lo <= t <= hi]  # type: ignore[attr-defined]


def test_the_census_axis_says_it_is_symlog_and_ticks_no_negative_barrier() -> None:
    # every pair at 0: ticked -10^-2, 0, 5.5 x 10^-2 under a label that never said symlog
    ax = plot_barrier_census(_census(np.zeros(17)))
    assert ax.get_yscale() == "symlog"
    assert ax.get_ylabel() == (
        "barrier beyond the worse endpoint (points)\nsymmetric log scale, linear below 0.1"
    )
    assert _shown_ticks(ax) == [0.0, 0.1, 1.0]
    ax = plot_barrier_census(_census(np.linspace(0.0, 30.0, 17)))
    assert min(_shown_ticks(ax)) == 0.0 and 10.0 in _shown_ticks(ax)
    assert ax.get_ylim()[1] >= 30.0  # the data's top kept


# -- barrier_tree: one leaf ---------------------------------------------------------------------
def test_a_tree_of_one_leaf_has_a_colour_bar_around_its_value(star: Table) -> None:
    # vmin = vmax = 91.84 was spread by matplotlib over 82.65 to 101.02 (ticks up to 100 %),
    # and the title read "1 best local optima"
    fig = make("barrier_tree", star)
    panel = fig.axes[0]
    assert panel.get_title() == "(a) CIFAR-10: 1 best local optimum"
    leaf = panel.collections[-1]
    (value,) = leaf.get_array().compressed()
    assert (leaf.norm.vmin, leaf.norm.vmax) == (value - 0.5, value + 0.5)


def test_the_plot_widens_only_the_colour_ends_it_takes_from_the_values(star: Table) -> None:
    v = star.vector_for(KEY)
    graph = ls.barrier_tree(NB201, v, connected_only=True).disconnectivity(5)
    colours = np.full(NB201.size, 90.0)
    ax = plot_disconnectivity(graph, colour_values=colours)
    assert (ax.collections[-1].norm.vmin, ax.collections[-1].norm.vmax) == (89.5, 90.5)
    ax = plot_disconnectivity(graph, colour_values=colours, vmin=90.0)
    assert (ax.collections[-1].norm.vmin, ax.collections[-1].norm.vmax) == (90.0, 90.5)
    ax = plot_disconnectivity(graph, colour_values=colours, vmin=90.0, vmax=90.0)
    assert (ax.collections[-1].norm.vmin, ax.collections[-1].norm.vmax) == (90.0, 90.0)


def test_a_tree_of_many_leaves_keeps_its_plural_title() -> None:
    rugged = np.random.default_rng(12).uniform(80.0, 94.0, NB201.size)
    fig = make("barrier_tree", Table(NB201, {(KEY, None): rugged}, source="rugged"))
    assert fig.axes[0].get_title() == "(a) CIFAR-10: 20 best local optima"
