"""What a figure draws and says agrees with its data (a fifth audit's findings, each reproduced
first): one line per algorithm is one protocol and key, search-curve panels are told apart, a
census band without pairs is noted and the caption says "up to", the profile counts clipped
cells per panel, flat-vs-sharp captions its share exactly, and the plot functions refuse
frames whose bands, columns or barriers are not there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nb201_flat.errors import ArgumentError, MissingValueError
from nb201_flat.figures import FIGURES
from nb201_flat.table import Table


def _texts(fig: Figure) -> str:
    return " ".join(t.get_text().replace("\n", " ") for t in fig.texts)


@pytest.fixture(scope="module")
def two_protocols(figure_table: Table) -> pd.DataFrame:
    from nb201_flat.search import protocols_by_name, run_search

    prots = [*protocols_by_name("per-dataset", figure_table), *protocols_by_name("nb201", figure_table)]  # fmt: skip
    return run_search(figure_table, prots, ["rs"], runs=3, curve_points=11).curves


def test_plot_anytime_refuses_curves_of_several_protocols_or_keys(
    two_protocols: pd.DataFrame,
) -> None:
    from nb201_flat.figures.search import plot_anytime

    # one "RS" line zigzagging 89.6 -> 69.5 -> 90.8 over three datasets
    with pytest.raises(ArgumentError, match=r"^curves hold \d+ protocols or reported keys"):
        plot_anytime(two_protocols)
    first = two_protocols.iloc[0]
    one = two_protocols[
        (two_protocols["protocol"] == first["protocol"])
        & (two_protocols["dataset"] == first["dataset"])
    ]
    assert plot_anytime(one).get_lines()


def test_search_curve_panels_are_told_apart(
    figure_table: Table, two_protocols: pd.DataFrame
) -> None:
    from nb201_flat.figures.search import make_search_curves

    fig = make_search_curves(figure_table, curves=two_protocols)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    shown = [t.split(") ", 1)[1] for t in titles]  # past the panel letter
    assert len(titles) == 6 and len(set(shown)) == 6, titles  # (a) and (d) read the same
    assert len({t.split(")")[0] for t in titles}) == 6


def test_a_census_band_without_pairs_is_noted(figure_table: Table) -> None:
    from nb201_flat.figures._common import TEST_KEYS
    from nb201_flat.figures.census import make_barrier_census

    key = TEST_KEYS["cifar10"]
    v = figure_table.vector_for(key).copy()
    lo, hi = 74.3, 75.7  # A²M's band C on CIFAR-10 emptied
    v[(v >= lo) & (v <= hi)] = 80.0
    fig = make_barrier_census(Table(figure_table.space, {(key, None): v}, source="x"), n_pairs=5, top_k=3)  # fmt: skip
    from nb201_flat.figures._common import figure_notes

    # its tick was gone without a word
    assert "CIFAR-10, band C has no pair: it holds 0 architectures in [74.3, 75.7]" in figure_notes(
        fig
    )
    assert "up to 5 drawn per A²M accuracy band" in _texts(fig)


def test_plot_barrier_census_refuses_pairs_without_a_barrier(figure_table: Table) -> None:
    from nb201_flat.figures.census import plot_barrier_census
    from nb201_flat.landscape.census import barrier_census

    v = figure_table.vector("cifar100", "x-test", 200)
    c = barrier_census(figure_table.space, v, "cifar100", n_pairs=5, top_k=3, seed=0)
    plot_barrier_census(c)
    holed = c.copy()
    holed.loc[holed.index[:2], "lowest_above_worse"] = np.nan  # its box undrawn, still counted
    with pytest.raises(MissingValueError, match="^census holds 2 pair"):
        plot_barrier_census(holed)
    with pytest.raises(ArgumentError, match="^census lacks column"):
        plot_barrier_census(c.drop(columns="group"))  # a bare KeyError


def test_the_profile_counts_clipped_cells_per_panel(figure_table: Table) -> None:
    from nb201_flat.figures._common import TEST_KEYS, connected_range

    fig = FIGURES["distance_profile"].make(figure_table)
    counts = []
    for key in TEST_KEYS.values():
        values = figure_table.vector_for(key)
        lo, _ = connected_range(figure_table, values)
        counts.append(int(np.sum(values[np.isfinite(values)] < lo)))
    # their sum (1023) was captioned as if one panel's
    assert f"{' / '.join(map(str, counts))} cells below it (panel by panel)" in _texts(fig)


def test_flat_vs_sharp_captions_its_share_exactly(figure_table: Table) -> None:
    fig = FIGURES["flat_vs_sharp"].make(figure_table, top=0.001)
    assert "top 0.1 % of connected cells" in _texts(fig)  # "top 0%" beside 16 cells


def test_plot_neighbour_distributions_refuses_bands_it_cannot_name(figure_table: Table) -> None:
    from nb201_flat.figures.distributions import plot_neighbour_distributions
    from nb201_flat.landscape import a2m_bands, neighbour_distributions

    v = figure_table.vector("cifar100", "x-test", 200)
    d = neighbour_distributions(figure_table.space, v, a2m_bands("cifar100"), (1,), weighted=True)
    plot_neighbour_distributions(d, v, 1)
    lost = d.copy()
    lost.attrs = {}  # as read back from a file: the legend read "band A: nan–nan %"
    with pytest.raises(ArgumentError, match=r"^dist's attrs give no range for band\(s\) A, B, C"):
        plot_neighbour_distributions(lost, v, 1)
    text = d.astype({"band": str})
    with pytest.raises(ArgumentError, match="^dist's band column is no categorical"):
        plot_neighbour_distributions(text, v, 1)
    with pytest.raises(ArgumentError, match=r"^dist lacks column\(s\) value"):
        plot_neighbour_distributions(d.drop(columns="value"), v, 1)


def test_bands_named_by_numbers_are_drawn(figure_table: Table) -> None:
    from nb201_flat.figures.distributions import plot_neighbour_distributions
    from nb201_flat.landscape import neighbour_distributions

    v = figure_table.vector("cifar100", "x-test", 200)
    d = neighbour_distributions(figure_table.space, v, {1: (0.0, 50.0), 2: (50.0, 100.0)}, (1,))
    ax = plot_neighbour_distributions(d, v, 1)  # the frame it returns, refused by its names
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "band 1: 0–50 %" in labels and "band 2: 50–100 %" in labels
