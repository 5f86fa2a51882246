"""A twelfth audit of na_projection and search_curves on partly measured tables: no panel
titled with a NaN or a partial neighbour mean given as the whole, no curve averaging other
runs from point to point, and a skip that names the key the table lacks and a fix that
exists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nb201_flat.conventions import report_key, search_key
from nb201_flat.errors import FigureSkipped
from nb201_flat.figures import figure_notes, make, make_search_curves
from nb201_flat.figures.projection import pick_architectures
from nb201_flat.figures.search import _caption, plot_anytime
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

TEST100 = report_key("cifar100")  # what na_projection shows and search_curves reports
VALID100 = search_key("cifar100", 12)  # what the per-dataset protocol searches


def _without(table: Table, key: MetricKey, cells: np.ndarray) -> Table:
    """``table`` with ``key`` unmeasured (NaN, its mean and every seed) on ``cells``."""
    data = dict(table.data)
    for k, seed in table.data:
        if k == key:
            v = np.array(table.data[(k, seed)], dtype=np.float64)
            v[cells] = np.nan
            data[(k, seed)] = v
    return Table(table.space, data, source=f"{table.source}, {key} partly unmeasured")


def _caption_text(fig: Figure) -> str:
    return " ".join(fig.texts[-1].get_text().split())


def _neighbour_counts(values: np.ndarray, index: int) -> tuple[int, int]:
    around = NB201.neighbours(1).of(index)
    return int(np.isfinite(values[around]).sum()), len(around)


# -- na_projection: a pick without a value -------------------------------------------------
@pytest.fixture(scope="module")
def sparse_test(figure_table: Table) -> Table:
    """CIFAR-100 test accuracy unmeasured on a fifth of the cells, among them both picks of
    the run the full table draws (the searches read validation, so the same run is found)."""
    full = pick_architectures(figure_table)
    rng = np.random.default_rng(12)
    cells = rng.choice(NB201.size, NB201.size // 5, replace=False)
    return _without(figure_table, TEST100, np.r_[cells, full.sharp.index, full.flat.index])


def test_search_picks_are_measured_and_the_run_choice_says_so(sparse_test: Table) -> None:
    # the NA-RS pick's panel was titled "arch 8572: nan %, sharpness +nan" and exited 0
    picks = pick_architectures(sparse_test)
    values = sparse_test.vector_for(TEST100)
    for p in (picks.sharp, picks.flat):
        assert np.isfinite(p.value) and np.isfinite(p.neighbourhood_mean)
        assert p.value == values[p.index]
        assert (p.measured, p.neighbours) == _neighbour_counts(values, p.index)
    assert "of 20 runs whose picks are measured" in picks.how


def test_partial_neighbourhoods_and_blank_grid_points_are_said(sparse_test: Table) -> None:
    fig = make("na_projection", sparse_test, points=21)
    picks = pick_architectures(sparse_test)
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert not any("nan" in t for t in titles)
    # a mean of 14 of 24 neighbours was titled as the radius-1 neighbours' mean
    for p, title in zip((picks.sharp, picks.flat), titles, strict=True):
        assert p.measured < p.neighbours
        assert title.endswith(f"(mean of {p.measured}/{p.neighbours} measured)")
    # the white (unmeasured) grid points were drawn without a word
    notes = [n for n in figure_notes(fig) if "grid points have no value" in n]
    assert len(notes) == 1 and f"for {TEST100}, left out of the two panels" in notes[0]
    blank = int(notes[0].split(": ")[1].split(" of the ")[0].replace(",", ""))
    assert blank > 0
    assert f"White: {blank:,} of the 882 grid points have no value." in _caption_text(fig)


def test_a_fully_measured_table_speaks_of_no_partial_mean(figure_table: Table) -> None:
    fig = make("na_projection", figure_table, points=21)
    assert not any("measured)" in ax.get_title() for ax in fig.axes[:2])
    assert "White:" not in _caption_text(fig)
    assert not any("grid points have no value" in n for n in figure_notes(fig))


@pytest.fixture(scope="module")
def test_on_poor_cells(figure_table: Table) -> Table:
    """CIFAR-100 test accuracy measured only on the worse half by validation: no search
    picks a measured cell."""
    valid = figure_table.vector_for(VALID100)
    return _without(figure_table, TEST100, np.flatnonzero(valid >= np.median(valid)))


def test_no_run_with_measured_picks_is_a_skip_naming_pick_value(test_on_poor_cells: Table) -> None:
    # the picks were returned with NaN values, drawn as "nan %"
    with pytest.raises(FigureSkipped) as info:
        pick_architectures(test_on_poor_cells, max_runs=3)
    message = str(info.value)
    assert message.startswith(f"needs {TEST100} on the cells the searches pick (each of the 3 ")
    assert message.endswith("or use pick='value')")
    # the fix it names works: the best measured cells
    picks = pick_architectures(test_on_poor_cells, pick="value")
    assert np.isfinite(picks.sharp.value) and np.isfinite(picks.flat.value)


# -- na_projection: the skip names the key the search lacks ---------------------------------
@pytest.fixture(scope="module")
def sparse_valid(figure_table: Table) -> Table:
    """CIFAR-100 12-epoch validation accuracy unmeasured on 300 cells: no protocol searches
    it (each query of one would be charged and return NaN)."""
    cells = np.random.default_rng(5).choice(NB201.size, 300, replace=False)
    return _without(figure_table, VALID100, cells)


def test_skip_names_the_unmeasured_search_key_and_pick_value(sparse_valid: Table) -> None:
    # it named the report key (the table holds it) and "search a key measured on every
    # architecture", which the figure has no option for
    with pytest.raises(FigureSkipped) as info:
        make("na_projection", sparse_valid)
    message = str(info.value)
    assert message.startswith(
        f"needs {VALID100} on every architecture (to search for the picks: protocol "
    )
    assert f"300 of the 15,625 architectures have no {VALID100} value" in message
    assert message.endswith("; or use pick='value')")
    assert "search a key" not in message
    fig = make("na_projection", sparse_valid, pick="value", points=21)
    assert "best by value" in fig.axes[0].get_title()


# -- search_curves ------------------------------------------------------------------------
def _curves(n: list[int], algorithm: str = "rs") -> pd.DataFrame:
    """One algorithm's anytime curve with ``n`` runs holding a measured incumbent per point
    (the mean NaN where none has, as the runner writes it)."""
    x = np.linspace(0.0, 1000.0, len(n))
    return pd.DataFrame(
        {
            "protocol": "per-dataset:cifar100",
            "optimistic": False,
            "algorithm": algorithm,
            "dataset": "cifar100",
            "split": "x-test",
            "epochs": 200,
            "metric": "accuracy",
            "x_unit": "seconds",
            "x": x,
            "mean": np.where(np.array(n) > 0, 60.0 + x / 100, np.nan),
            "std": 0.5,
            "n": n,
        }
    )


def test_plot_anytime_trims_only_the_start() -> None:
    # points after the start where fewer runs had a value were dropped and the line joined
    # across them: 1-12 of 121 points were left
    n = [0, 3, 10, 9, 10, 7, 10, 10]
    line = plot_anytime(_curves(n)).get_lines()[0]
    assert list(line.get_xdata()) == list(_curves(n)["x"].iloc[2:])
    # complete_only=False: from the first point with a run, a point without any a gap
    n = [0, 3, 10, 0, 10]
    line = plot_anytime(_curves(n), complete_only=False).get_lines()[0]
    assert len(line.get_xdata()) == 4 and np.isnan(line.get_ydata()[2])


def test_search_curves_skip_a_partly_measured_report_key(figure_table: Table) -> None:
    # the curves kept the points where every incumbent was measured, captioned "4 runs per
    # algorithm" and "curves start once every run has an incumbent"
    table = _without(figure_table, TEST100, np.arange(0, NB201.size, 7))
    with pytest.raises(FigureSkipped) as info:
        make_search_curves(table, runs=2, algorithms=["rs"])
    message = str(info.value)
    assert message.startswith(
        f"needs {TEST100} on every architecture (2,233 of the 15,625 architectures have no "
        f"{TEST100} value, so a run whose incumbent is one of them would drop out of the mean"
    )
    assert message.endswith("use a table that measures it (Table.info lists each key's archs))")


def test_given_curves_whose_runs_fall_are_skipped() -> None:
    with pytest.raises(FigureSkipped) as info:
        make_search_curves(Table(NB201, {}), curves=_curves([0, 3, 10, 9, 10]))
    assert str(info.value).startswith(
        "needs search curves whose runs' incumbents all have a reported value (RS under "
        "per-dataset:cifar100 on cifar100, x-test@200ep: the runs with a value fall from 10 "
        "to 9 after its curve starts; plot_anytime draws such curves"
    )
    # a curve not drawn is not read; whole runs after the start are drawn
    curves = pd.concat([_curves([0, 3, 10, 9, 10]), _curves([0, 4, 4, 4, 4], "na-rs")])
    fig = make_search_curves(Table(NB201, {}), curves=curves, algorithms=["na-rs"])
    assert "; 4 runs per algorithm." in _caption_text(fig)


def test_the_caption_gives_the_runs_averaged() -> None:
    # the runs asked for were captioned where fewer were averaged
    assert "; 100 runs per algorithm, master seed 0." in _caption("per-dataset", 100, 0, "100")
    text = _caption("per-dataset", 100, 0, "95–100")
    assert "; 100 runs per algorithm (95–100 of them found a cell and are averaged), " in text
