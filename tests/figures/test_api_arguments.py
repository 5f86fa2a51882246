"""The figures' Python API refuses what it cannot use, naming the fix, instead of failing deep
inside numpy, pandas or matplotlib, ignoring an option, or drawing a wrong value."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nb201_flat import landscape as ls
from nb201_flat.errors import (
    AlgorithmError,
    ArgumentError,
    FigureSkipped,
    MissingValueError,
    TableFileError,
)
from nb201_flat.figures import (
    FIGURES,
    make,
    plot_binned,
    plot_disconnectivity,
    plot_neighbour_distributions,
    plot_projection,
    save_figure,
)
from nb201_flat.figures._common import binned_means, figure_notes, mean_ci, new_figure
from nb201_flat.figures.generalisation import Series, gap_data, transfer_data
from nb201_flat.table import MetricKey, Table


@pytest.fixture(scope="module")
def grid(figure_table: Table) -> pd.DataFrame:
    v = figure_table.vector("cifar10", "ori-test", 200)
    return ls.projection_grid(figure_table.space, v, 0, seed=0, lambdas=np.linspace(-1, 1, 5))


@pytest.mark.parametrize("bad", [Figure(), "ax", np.array([None])])
def test_plot_functions_refuse_what_is_not_one_axes(grid: pd.DataFrame, bad: object) -> None:
    with pytest.raises(ArgumentError, match="ax must be one matplotlib Axes"):
        plot_projection(grid, bad)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="ax must be one matplotlib Axes"):
        plot_disconnectivity(pd.DataFrame(), bad)  # type: ignore[arg-type]


def test_a_typo_in_an_option_is_an_error_not_a_skip(figure_table: Table) -> None:
    # FigureSkipped would be reported by render_many as "the table cannot serve it"
    with pytest.raises(ArgumentError, match="dataset must be one of cifar10, cifar100"):
        make("na_projection", figure_table, dataset=" cifar100", pick="value")
    with pytest.raises(ArgumentError, match="protocol must be one of per-dataset"):
        make("search_curves", figure_table, protocol="per_dataset")
    v = figure_table.vector("cifar10", "ori-test", 200)
    dist = ls.neighbour_distributions(figure_table.space, v, "cifar10", (1,))
    with pytest.raises(ArgumentError, match="kind must be one of hist, kde"):
        plot_neighbour_distributions(dist, v, 1, kind="KDE")


def test_make_names_the_options_a_figure_takes(figure_table: Table) -> None:
    with pytest.raises(ArgumentError, match=r"a2m_paths has no option 'radius'; it takes no opt"):
        make("a2m_paths", figure_table, radius=1)
    with pytest.raises(ArgumentError, match=r"no option 'bogus'; it takes dataset, pick, seed"):
        make("na_projection", figure_table, bogus=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"points": -3}, "points must lie in 2..1001"),
        ({"points": 2.5}, "points must lie in 2..1001"),
        ({"points": True}, "points must lie in 2..1001"),
        ({"points": 10**6}, "points must lie in 2..1001"),  # memory, not a finer figure
        ({"span": 0}, r"span must be a finite number > 0"),
    ],
)
def test_projection_grid_options(figure_table: Table, options: dict, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        make("na_projection", figure_table, pick="value", **options)


def test_projection_whole_float_points_is_a_count(figure_table: Table) -> None:
    fig = make("na_projection", figure_table, pick="value", points=11.0)
    assert fig.axes[0].collections[0].get_array().size == 11 * 11


@pytest.mark.parametrize(
    ("radii", "message"),
    [((), "radii is empty"), (2, "radii must be a sequence"), ((1, True), "radii must lie in")],
)
def test_distribution_radii(figure_table: Table, radii: object, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        make("a2m_distributions", figure_table, radii=radii)


def test_distribution_whole_float_radii_are_titled_as_ints(figure_table: Table) -> None:
    fig = make("a2m_distributions", figure_table, radii=(2.0,))
    assert fig.axes[0].get_title() == "neighbours at distance 2"


@pytest.mark.parametrize("step", [0, -5, 2.5, True])
def test_epoch_step_is_a_positive_count(figure_table: Table, step: object) -> None:
    with pytest.raises(ArgumentError, match="step must be >= 1"):
        make("flatness_by_epoch", figure_table, step=step)


def test_binned_statistics_check_bins_and_confidence(figure_table: Table) -> None:
    # confidence=95 (for 95 %) gave NaN bands without a word; bins=2.5 and True were counts
    for bins in (0, 2.5, True):
        with pytest.raises(ArgumentError, match="bins must be >= 1"):
            binned_means([1.0, 2.0], [1.0, 2.0], bins=bins)  # type: ignore[arg-type]
    for confidence in (95, 0, 1, float("nan")):
        with pytest.raises(ArgumentError, match=r"confidence must lie in \(0, 1\)"):
            mean_ci([1.0, 2.0], confidence)
    frame = gap_data(figure_table, "cifar100")
    with pytest.raises(ArgumentError, match="confidence must lie"):
        plot_binned([Series("a", frame)], confidence=95)


def test_gap_and_transfer_data_check_dataset_and_top(figure_table: Table) -> None:
    # cifar10's "gap" would compare cifar10-valid's networks with cifar10's
    with pytest.raises(ArgumentError, match="dataset must be one of cifar100, ImageNet16-120"):
        gap_data(figure_table, "cifar10")
    with pytest.raises(ArgumentError, match="target must be one of"):
        transfer_data(figure_table, "cifar1000")
    # top=0 kept the single best cell (quantile 1) as if asked for
    for top in (0, 2, -1):
        with pytest.raises(ArgumentError, match=r"top must lie in \(0, 1\]"):
            gap_data(figure_table, "cifar100", top=top)
        with pytest.raises(ArgumentError, match=r"top must lie in \(0, 1\]"):
            transfer_data(figure_table, "cifar100", top=top)


def _two_point_curves() -> pd.DataFrame:
    """Anytime curves of one algorithm at two points, in the runner's columns."""
    return pd.DataFrame(
        {
            "protocol": "p",
            "dataset": "cifar10",
            "split": "ori-test",
            "algorithm": "rs",
            "x": [0.0, 1.0],
            "x_unit": "seconds",
            "mean": [90.0, 91.0],
            "std": [1.0, 1.0],
            "n": [5, 5],
        }
    )


def test_search_curves_refuse_options_they_would_ignore(figure_table: Table) -> None:
    curves = _two_point_curves()
    make_curves = FIGURES["search_curves"].make
    assert isinstance(make_curves(figure_table, curves=curves), Figure)
    with pytest.raises(ArgumentError, match="runs, seed apply only to the searches"):
        make_curves(figure_table, curves=curves, runs=500, seed=3)
    with pytest.raises(ArgumentError, match="^jobs applies only to the searches .*: drop it$"):
        make_curves(figure_table, curves=curves, jobs=2)
    # a given option equal to its default was taken for no option, and ignored without a word
    with pytest.raises(ArgumentError, match="runs, seed, jobs, allow_optimistic apply only"):
        make_curves(figure_table, curves=curves, runs=100, seed=0, jobs=1, allow_optimistic=False)
    with pytest.raises(ArgumentError, match="description= describes precomputed curves="):
        make_curves(figure_table, description="mine", runs=1, allow_optimistic=True)
    with pytest.raises(ArgumentError, match="allow_optimistic must be True or False"):
        make_curves(figure_table, allow_optimistic="yes")
    # one run has no confidence band (it failed on NaN axis limits); a caption of no text
    # failed inside matplotlib
    with pytest.raises(AlgorithmError, match="a confidence interval needs at least two runs"):
        make_curves(figure_table, runs=1, allow_optimistic=True)
    with pytest.raises(ArgumentError, match="caption must be text, got 5"):
        make_curves(figure_table, curves=curves, caption=5)
    one_run = curves.assign(std=np.nan, n=1)  # given curves of one run: drawn, no band
    assert isinstance(make_curves(figure_table, curves=one_run), Figure)
    with pytest.raises(ArgumentError, match=r"algorithms must be a sequence of names.*\['rs'\]"):
        make_curves(figure_table, algorithms="rs")


def test_save_figure_checks_its_arguments(tmp_path: Path) -> None:
    fig, axes = new_figure()
    with pytest.raises(ArgumentError, match="needs a matplotlib Figure, got Axes; pass ax.figure"):
        save_figure(axes[0, 0], tmp_path / "f")
    with pytest.raises(ArgumentError, match=r"formats must be a tuple.*\('png',\)"):
        save_figure(fig, tmp_path / "f", formats="png")  # type: ignore[arg-type]
    # jpg failed on the metadata after drawing; eps is not byte-stable: the three that are
    for bad in ("jpgg", "jpg", "eps"):
        with pytest.raises(ArgumentError, match="format must be one of pdf, png, svg"):
            save_figure(fig, tmp_path / "f", formats=(bad,))
    assert not list(tmp_path.iterdir())
    for empty in ("", "..", str(tmp_path / "sub" / "..")):  # raw ValueError; "...png" in cwd
        with pytest.raises(ArgumentError, match="needs a file name"):
            save_figure(fig, empty)
    # any case, as matplotlib reads it
    assert [p.name for p in save_figure(fig, tmp_path / "f", formats=("PNG",))] == ["f.png"]


def test_save_figure_appends_the_suffix_to_a_dotted_stem(tmp_path: Path) -> None:
    fig, _ = new_figure()
    # with_suffix turned both into r1.png: the second overwrote the first
    a = save_figure(fig, tmp_path / "r1.5", formats=("png",))
    b = save_figure(fig, tmp_path / "r1.7", formats=("png",))
    assert [p.name for p in a + b] == ["r1.5.png", "r1.7.png"]
    # a path that already names a format keeps its stem
    c = save_figure(fig, tmp_path / "fig.png", formats=("png", "pdf"))
    assert [p.name for p in c] == ["fig.png", "fig.pdf"]


@pytest.mark.parametrize("fails", ["png", "pdf"])
def test_save_figure_failing_on_one_format_keeps_the_previous_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    fig, axes = new_figure()
    axes[0, 0].set_title("first")
    save_figure(fig, tmp_path / "fig")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["fig.pdf", "fig.png"]
    axes[0, 0].set_title("second")  # other bytes in both formats
    real = fig.savefig

    def dies_midway(f: Any, *, format: str, **kwargs: Any) -> None:
        real(f, format=format, **kwargs)
        if format == fails:  # after writing it in full: the rename must not have happened
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(fig, "savefig", dies_midway)
    with pytest.raises(TableFileError, match="No space left on device"):
        save_figure(fig, tmp_path / "fig")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no leftovers
    monkeypatch.undo()
    save_figure(fig, tmp_path / "fig")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(after) == ["fig.pdf", "fig.png"]
    assert all(after[n] != before[n] for n in before)  # both replaced once it succeeds


def _thinned(table: Table, share: float) -> Table:
    """``table`` with each value kept with probability ``share`` (seeded), NaN elsewhere."""
    rng = np.random.default_rng(0)
    # one draw per key, for its mean and each seed (flat_vs_sharp reads them): a mean kept
    # beside only some of its seeds may lie outside their range, which a Table refuses
    keep = {k: rng.random(table.space.size) < share for k in table}
    kept = {(k, s): np.where(keep[k], v, np.nan) for (k, s), v in table.data.items()}
    return Table(table.space, kept, source=f"{share:.0%} of {table.source}")


def test_unmeasured_tables_are_a_skip_naming_the_missing_values(figure_table: Table) -> None:
    empty = _thinned(figure_table, 0.0)
    # each failed deep in numpy (nanargmax, quantile, nanmin of nothing); the figure's
    # MissingValueError is a skip of a figure the table cannot serve (make raises it)
    for name, options, why in (
        ("na_projection", {"pick": "value"}, "no best by neighbourhood mean"),
        ("na_projection", {}, "no architecture is measured"),  # the search cannot start
        ("flat_vs_sharp", {}, "no connected architecture has a validation"),
        ("a2m_distributions", {}, "no distribution to draw"),
        ("a2m_paths", {}, "has no value"),  # A²M's pairs unmeasured: the run stopped there
        ("barrier_census", {}, "no pair to compute"),
    ):
        with pytest.raises(FigureSkipped, match=why):
            make(name, empty, **options)


def test_a_missing_value_is_a_skip_only_where_the_table_lacks_values(
    figure_table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every MissingValueError was a skip: a NaN made by the computation on measured values
    # (a bad option, a bug) read as "this table cannot serve the figure"
    from nb201_flat.figures import tree

    key = figure_table.key("cifar10", "ori-test", 200)

    def maker(table: Table) -> None:
        table.vector_for(key)
        raise MissingValueError("no value where the figure looked")

    monkeypatch.setattr(tree, "make_barrier_tree", maker)
    assert not np.isnan(figure_table.vector_for(key)).any()
    with pytest.raises(MissingValueError, match="no value where the figure looked"):
        make("barrier_tree", figure_table)
    assert type(figure_table.data) is dict  # the reads were noted on a copy of the table
    with pytest.raises(FigureSkipped, match="values measured where the figure reads them"):
        make("barrier_tree", _thinned(figure_table, 0.5))


def test_a_key_looked_up_in_vain_is_not_a_read(
    figure_table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the key was noted before the lookup: the skip check then raised KeyError (a traceback)
    from nb201_flat.figures import tree
    from nb201_flat.table import MetricKey

    absent = (MetricKey("cifar10", "x-valid", 7), None)

    def maker(table: Table) -> None:
        with contextlib.suppress(KeyError):  # a probe: the figure goes on without it
            table.data[absent]
        raise MissingValueError("no value where the figure looked")

    monkeypatch.setattr(tree, "make_barrier_tree", maker)
    with pytest.raises(MissingValueError, match="no value where the figure looked"):
        make("barrier_tree", figure_table)


@pytest.mark.parametrize("how", ["get", "values", "items"])
def test_reads_by_any_dict_method_are_noted(
    figure_table: Table, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # only [] was noted: a maker reading through .get, .values() or .items() on a sparse
    # table raised its MissingValueError as the caller's error, not a skip
    from nb201_flat.figures import tree

    sparse = _thinned(figure_table, 0.5)
    key = (sparse.key("cifar10", "ori-test", 200), None)

    def maker(table: Table) -> None:
        data = table.data
        if how == "get":
            data.get(key)
        else:
            list(getattr(data, how)())
        raise MissingValueError("no value where the figure looked")

    monkeypatch.setattr(tree, "make_barrier_tree", maker)
    with pytest.raises(FigureSkipped, match="values measured where the figure reads them"):
        make("barrier_tree", sparse)


_DERIVED = {
    "with_vector": lambda t, k: t.with_vector(MetricKey("cifar10", "extra", 1), np.zeros(len(t))),
    "dict copy": lambda t, k: Table(t.space, dict(t.data)),
    "data.copy()": lambda t, k: Table(t.space, t.data.copy()),
    "subset": lambda t, k: Table(t.space, {(k, None): t.data[(k, None)]}),
    "another key": lambda t, k: Table(t.space, {(MetricKey("c", "s", 1), None): t.data[(k, None)]}),
    "replace": lambda t, k: dataclasses.replace(t, source="derived"),
    "copy": lambda t, k: copy.copy(t),
    "deepcopy": lambda t, k: copy.deepcopy(t),
}


@pytest.mark.parametrize("how", list(_DERIVED))
def test_reads_on_a_derived_table_are_noted_as_the_vectors_it_shares(
    figure_table: Table, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # reads on a table the maker derived (a new Table over the same vectors) were not noted:
    # a sparse table's skip aborted the run; and building one from the noted data (replace,
    # deepcopy) noted every vector, so a bug on measured values read as a skip
    from nb201_flat.figures import tree

    key = figure_table.key("cifar10", "ori-test", 200)
    read = MetricKey("c", "s", 1) if how == "another key" else key

    def maker(table: Table) -> None:
        _DERIVED[how](table, key).data[(read, None)]
        raise MissingValueError("no value where the figure looked")

    monkeypatch.setattr(tree, "make_barrier_tree", maker)
    sparse = _thinned(figure_table, 0.5)
    with pytest.raises(FigureSkipped, match="values measured where the figure reads them"):
        make("barrier_tree", sparse)
    # the vector read measured, the others not: the NaN is the computation's
    measured_read = sparse.with_vector(key, figure_table.vector_for(key))
    with pytest.raises(MissingValueError, match="no value where the figure looked"):
        make("barrier_tree", measured_read)


def test_figures_on_a_sparse_table_skip_what_it_cannot_serve(tmp_path: Path) -> None:
    # three measured cells: `nb201-flat figures` printed a pandas traceback (na_projection),
    # then stopped at the first figure with an unmeasured cell on its paths (exit 2)
    from nb201_flat.cli import main
    from nb201_flat.space import NB201
    from nb201_flat.storage import save_table
    from nb201_flat.table import MetricKey

    v = np.full(NB201.size, np.nan)
    v[[0, 5000, 12000]] = [93.5, 91.0, 88.0]
    key = MetricKey("cifar10", "ori-test", 200)
    path = save_table(Table(NB201, {(key, None): v}, source="three"), tmp_path / "t.nb201")
    argv = ["figures", "--out", str(tmp_path / "f"), "--table", str(path), "--jobs", "1"]
    assert main([*argv, "--formats", "png"]) == 0
    assert sorted(p.name for p in (tmp_path / "f").iterdir())  # the servable ones drawn


@pytest.mark.parametrize("name", ["na_projection", "search_curves"])
def test_unmeasured_training_times_fall_back_to_a_query_budget(
    figure_table: Table, name: str
) -> None:
    # the time-budgeted protocol passed protocol.check, then its search refused the NaN
    # costs: a ProtocolError stopped the whole `figures` run at na_projection
    t = figure_table
    for key in [k for k in t if k.metric == "time_s"]:
        t = t.with_vector(
            key, np.where(np.arange(t.space.size) % 9 == 0, np.nan, t.vector_for(key))
        )
    options = {"runs": 2} if name == "search_curves" else {"points": 5}
    notes = " ".join(figure_notes(make(name, t, **options)))
    assert "protocol fixed-n" in notes and "budget 100 queries" in notes


@pytest.mark.parametrize("disconnected", ["equal", "varied"])
def test_a2m_distributions_with_no_connected_value_is_a_skip(disconnected: str) -> None:
    # values on disconnected cells only: one value gave one bin edge (an ArgumentError about
    # bins= the caller never passed, which stopped a `figures` run); varied ones a NaN axis
    # limit deep in matplotlib
    from nb201_flat.figures.distributions import make_a2m_distributions
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey

    key = MetricKey("cifar10", "ori-test", 200)
    off = ~NB201.connected
    v = np.full(NB201.size, np.nan)
    v[off] = 10.0 if disconnected == "equal" else np.linspace(9.0, 11.0, int(off.sum()))
    t = Table(NB201, {(key, None): v}, source="disconnected only")
    why = r"^no connected architecture has a value for cifar10/ori-test@200ep:accuracy: "
    with pytest.raises(MissingValueError, match=why):
        make_a2m_distributions(t)
    with pytest.raises(FigureSkipped, match="no connected architecture has a value for cifar10/"):
        make("a2m_distributions", t)


def test_a2m_distributions_of_one_measured_cell_is_drawn() -> None:
    # all values on one whole number: the default bins had one edge and the figure failed
    from nb201_flat.figures.distributions import make_a2m_distributions
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey

    v = np.full(NB201.size, np.nan)
    v[np.flatnonzero(NB201.connected)[5]] = 93.0
    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): v}, source="one cell")
    assert isinstance(make_a2m_distributions(t, radii=(1,)), Figure)


def test_binned_legend_counts_the_points_drawn(figure_table: Table) -> None:
    frame = gap_data(_thinned(figure_table, 0.3), "cifar100")
    drawn = int((frame["sharpness"].notna() & frame["gap"].notna()).sum())
    assert 0 < drawn < len(frame)  # the legend said n=len(frame)
    ax = plot_binned([Series("a", frame)])
    assert ax.get_legend_handles_labels()[1][0].startswith(f"a (n={drawn}, ρ = ")
    # under 3 pairs scipy raised; the correlation is undefined
    ax = plot_binned([Series("b", frame.dropna().head(2))])
    assert ax.get_legend_handles_labels()[1][0] == "b (n=2, ρ = undefined)"


def test_plot_binned_checks_its_series(figure_table: Table) -> None:
    frame = gap_data(figure_table, "cifar100")
    with pytest.raises(ArgumentError, match=r"pass \[series\] for one"):
        plot_binned(Series("a", frame))  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="series 'a' has no column 'transfer'"):
        plot_binned([Series("a", frame)], y="transfer")


def _shifted(table: Table, by: float) -> Table:
    """``table`` with every value moved by ``by`` (A²M's bands then hold other cells)."""
    return Table(table.space, {k: v + by for k, v in table.data.items()}, source="shifted")


def test_neighbour_distributions_draw_only_a_radius_dist_holds(figure_table: Table) -> None:
    v = figure_table.vector("cifar10", "ori-test", 200)
    dist = ls.neighbour_distributions(figure_table.space, v, "cifar10", (1, 2))
    # radius 3 drew the grey background alone, as if no band had neighbours there
    with pytest.raises(ArgumentError, match=r"not computed at radius 3 \(its radii: \[1, 2\]\)"):
        plot_neighbour_distributions(dist, v, 3)
    # bands with no member (a weaker campaign's table): their distribution is undefined, an
    # error unless kept (allow_empty=True) without rows; the figure draws the background and
    # names each band undefined (an empty frame made `nb201-flat figures` fail)
    with pytest.raises(ArgumentError, match=r"band 'A' \(92.3 to 93.7\) has no distribution"):
        ls.neighbour_distributions(figure_table.space, v - 60.0, "cifar10", (1, 2))
    empty = ls.neighbour_distributions(
        figure_table.space, v - 60.0, "cifar10", (1, 2), allow_empty=True
    )
    assert empty.empty and empty.attrs["radii"] == [1, 2]
    assert [b for b, r in empty.attrs["empty_bands"] if r == 2] == ["A", "B", "C"]
    ax = plot_neighbour_distributions(empty, v - 60.0, 2)
    labels = ax.get_legend_handles_labels()[1]
    assert sum(label.endswith(" (empty): undefined") for label in labels) == 3
    fig = FIGURES["a2m_distributions"].make(_shifted(figure_table, -60.0))
    assert len(fig.axes) >= 3
    # the legend sits right of the row's last panel (inside the first it covered the data)
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert "band A (empty): undefined" in legend
    # attrs survive row filters: radius 2 of dist[dist.radius == 1] drew the background alone
    one = dist[dist["radius"] == 1]
    assert one.attrs["radii"] == [1, 2]
    with pytest.raises(ArgumentError, match=r"no rows at radius 2 .*filtered out.*\[1\]"):
        plot_neighbour_distributions(one, v, 2)
    assert plot_neighbour_distributions(one, v, 1) is not None
    with pytest.raises(
        ArgumentError, match=r"radius must be >= 1 \(an int, not a bool\), got True"
    ):
        plot_neighbour_distributions(dist, v, True)
    for bins in (10, [50.0, 10.0, 90.0], [5.0]):
        with pytest.raises(ArgumentError, match="bins must be at least two increasing bin edges"):
            plot_neighbour_distributions(dist, v, 1, bins=bins)
    with pytest.raises(MissingValueError, match="no distribution to draw"):
        plot_neighbour_distributions(dist, np.full(v.size, np.nan), 1)
    with pytest.raises(ArgumentError, match="legend must be True or False"):
        plot_neighbour_distributions(dist, v, 1, legend="no")  # type: ignore[arg-type]


def test_plot_inputs_are_checked_before_drawing(figure_table: Table, grid: pd.DataFrame) -> None:
    from nb201_flat.figures import plot_anytime, plot_barrier_paths
    from nb201_flat.figures.census import plot_barrier_census

    with pytest.raises(ArgumentError, match="grid must be a non-empty frame with columns"):
        plot_projection(grid.iloc[:0])
    with pytest.raises(ArgumentError, match="grid must be a non-empty frame with columns"):
        plot_projection(grid.drop(columns="value"))
    with pytest.raises(ArgumentError, match=r"holds a \(lambda0, lambda1\) point twice"):
        plot_projection(pd.concat([grid, grid]))
    v = figure_table.vector("cifar10", "ori-test", 200)
    tree = ls.barrier_tree(figure_table.space, v)
    graph = tree.disconnectivity(5)
    with pytest.raises(ArgumentError, match="graph has no local optimum to draw"):
        plot_disconnectivity(graph.iloc[:0])
    with pytest.raises(ArgumentError, match="colour_values must hold one value per architecture"):
        plot_disconnectivity(graph, colour_values=[1.0, 2.0])
    a2m, low = ls.a2m_barrier(figure_table.space, v, 0, 100), tree.path(0, 100, shortest=True)
    with pytest.raises(ArgumentError, match=r"takes \(A2MBarrier, BarrierPath\), got \(Barr"):
        plot_barrier_paths(low, a2m)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="legend must be True or False"):
        plot_barrier_paths(a2m, low, legend="no")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="census holds no pair"):
        plot_barrier_census(pd.DataFrame(columns=["group"]))
    with pytest.raises(ArgumentError, match="complete_only must be True or False"):
        plot_anytime(pd.DataFrame(), complete_only="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.arange(4.0), {"distance": [1], "value": [2.0]}], ids=repr)
def test_every_plot_function_refuses_what_is_not_a_frame_naming_what_makes_one(
    bad: object,
) -> None:
    # an array or a dict reached .columns, .empty or .frame as a bare AttributeError, and
    # an array given as a graph was "no local optimum to draw"
    from nb201_flat.figures import plot_distance_profile
    from nb201_flat.figures.census import plot_barrier_census

    kind = type(bad).__name__
    for call, name, fix in (
        (lambda: plot_distance_profile(bad), "profile", "distance_profile"),
        (lambda: plot_projection(bad), "grid", "projection_grid"),
        (lambda: plot_neighbour_distributions(bad, np.arange(4.0), 1), "dist", "neighbour_dis"),
        (lambda: plot_disconnectivity(bad), "graph", "barrier_tree"),
        (lambda: plot_barrier_census(bad), "census", "barrier_census"),
    ):
        with pytest.raises(
            ArgumentError, match=rf"^{name} must be a DataFrame, got {kind}; pass {fix}"
        ):
            call()
    with pytest.raises(ArgumentError, match=r"^series must be a list of Series \(label, frame\)"):
        plot_binned(bad)  # type: ignore[arg-type]


def test_registry_checks_names_tables_formats_options_and_workers(
    figure_table: Table, tmp_path: Path
) -> None:
    from nb201_flat.figures import render, render_many

    # an unknown name was a FigureSkipped: render_many reported it as a skip
    with pytest.raises(ArgumentError, match="figure must be one of na_projection"):
        render("distance_profil", figure_table, tmp_path)
    with pytest.raises(ArgumentError, match="figure must be one of"):
        list(render_many(["bogus"], figure_table, tmp_path))
    with pytest.raises(ArgumentError, match=r"pass \['distance_profile'\]"):  # read as letters
        list(render_many("distance_profile", figure_table, tmp_path))
    with pytest.raises(ArgumentError, match="table must be a Table, got NoneType"):
        make("distance_profile", None)  # type: ignore[arg-type]
    # formats="png" was drawn, then failed as format 'p'
    with pytest.raises(ArgumentError, match=r"formats must be a tuple.*\('png',\)"):
        render("distance_profile", figure_table, tmp_path, formats="png")
    with pytest.raises(ArgumentError, match="options must be a mapping"):
        render("distance_profile", figure_table, tmp_path, options=[1])  # type: ignore[arg-type]
    # options of a misspelt figure, or of one not drawn, were dropped without a word
    with pytest.raises(ArgumentError, match="each key of options must be one of .* got 'flat_vs"):
        list(render_many(["flat_vs_sharp"], figure_table, tmp_path, options={"flat_vs": {}}))
    with pytest.raises(ArgumentError, match="options are given for distance_profile, which names"):
        list(
            render_many(["flat_vs_sharp"], figure_table, tmp_path, options={"distance_profile": {}})
        )
    with pytest.raises(ArgumentError, match="options must map figure names"):
        list(render_many(["flat_vs_sharp"], figure_table, tmp_path, options=5))  # type: ignore[arg-type]
    for workers in (True, "2", 0):  # 0 drew in this process, "2" failed on <=
        with pytest.raises(ArgumentError, match="workers must be >= 1"):
            list(render_many(["distance_profile"], figure_table, tmp_path, workers=workers))  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_search_curves_check_the_curves_and_the_names_drawn(figure_table: Table) -> None:
    from nb201_flat.figures import plot_anytime

    curves = _two_point_curves()
    make_curves = FIGURES["search_curves"].make
    with pytest.raises(ArgumentError, match="curves lack column"):
        make_curves(figure_table, curves=curves.drop(columns="n"))
    with pytest.raises(ArgumentError, match="curves must be a DataFrame"):
        make_curves(figure_table, curves=[1, 2])
    # a name the curves lack drew an empty panel, without a word
    with pytest.raises(ArgumentError, match="the curves hold no algorithm 'rea'; they hold rs"):
        make_curves(figure_table, curves=curves, algorithms=["rea"])
    with pytest.raises(ArgumentError, match="the curves hold no algorithm 'bogus'"):
        plot_anytime(curves, order=["bogus"])
    with pytest.raises(
        ArgumentError, match=r"order must be a sequence of algorithms; pass \['rs'\]"
    ):
        plot_anytime(curves, order="rs")
    with pytest.raises(ArgumentError, match="curves lack column"):
        plot_anytime(curves.drop(columns="std"))


def test_pick_architectures_checks_the_search_options(figure_table: Table) -> None:
    from nb201_flat.figures.projection import pick_architectures

    with pytest.raises(ArgumentError, match="queries must be >= 1"):
        pick_architectures(figure_table, queries=0)
    with pytest.raises(ArgumentError, match="^queries applies to pick='search' only; drop it$"):
        pick_architectures(figure_table, pick="value", queries=5)  # was ignored
    # the defaults, given: were taken for no option, and ignored without a word
    with pytest.raises(ArgumentError, match="queries and max_runs apply to pick='search' only"):
        pick_architectures(figure_table, pick="value", queries=100, max_runs=20)
    assert pick_architectures(figure_table, pick="value").how.startswith("best ")


@pytest.mark.parametrize("seed", [5, 0])
def test_pick_by_value_refuses_the_seed_of_searches_it_does_not_run(
    figure_table: Table, seed: int
) -> None:
    from nb201_flat.figures.projection import make_na_projection, pick_architectures

    # the master seed of the searches was ignored without a word
    with pytest.raises(ArgumentError, match="^seed applies to pick='search' only; drop it$"):
        pick_architectures(figure_table, pick="value", seed=seed)
    with pytest.raises(ArgumentError, match="^seed, queries and max_runs apply to pick='search'"):
        pick_architectures(figure_table, pick="value", seed=seed, queries=5, max_runs=2)
    # the figure's seed also seeds its directions: it applies with either pick
    assert isinstance(make_na_projection(figure_table, pick="value", seed=seed, points=5), Figure)


def test_distance_profile_plot_counts_measured_cells_only(figure_table: Table) -> None:
    from nb201_flat.figures import plot_distance_profile

    v = figure_table.vector("cifar10", "ori-test", 200)
    prof = ls.distance_profile(figure_table.space, v)
    holed = prof.copy()
    holed.loc[holed.index[holed["distance"] == 1][:3], "value"] = np.nan
    ax = plot_distance_profile(holed)
    counts = {
        int(t.get_text().split("\n")[0]): int(t.get_text().split("\n")[1])
        for t in ax.get_xticklabels()
    }
    # NaN values were counted under the axis and made their distance's mean NaN
    assert counts[1] == int((prof["distance"] == 1).sum()) - 3
    means = ax.get_lines()[-1].get_ydata()
    assert np.isfinite(means).all()
    with pytest.raises(ArgumentError, match="fdc must be a number"):
        plot_distance_profile(prof, fdc="0.3")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="profile lacks column"):
        plot_distance_profile(prof.drop(columns="value"))


def test_whole_float_run_counts_are_captioned_as_ints(figure_table: Table) -> None:
    from nb201_flat.figures.projection import pick_architectures

    fig = FIGURES["search_curves"].make(figure_table, runs=2.0, algorithms=["rs"])
    assert "; 2 runs per algorithm, master seed 0." in fig.texts[0].get_text()  # was "2.0 runs"
    with pytest.raises(ArgumentError, match="max_runs must lie in 1"):  # the message said runs
        pick_architectures(figure_table, max_runs=0)


@pytest.mark.parametrize(
    ("name", "options", "shown"),
    [
        ("barrier_tree", {"n_optima": 5.0}, "(at most 5)"),
        ("barrier_census", {"n_pairs": 5.0, "top_k": 3.0}, "Pairs: up to 5 drawn"),
        ("flat_vs_sharp", {"radius": 2.0}, "mean of the radius-2 neighbours"),
        ("flatness_by_epoch", {"radius": 2.0}, "radius-2 spread"),
    ],
)
def test_whole_float_counts_are_labelled_as_ints(
    figure_table: Table, name: str, options: dict, shown: str
) -> None:
    fig = make(name, figure_table, **options)
    texts = [t.get_text() for t in fig.texts] + [a.get_ylabel() for a in fig.axes]
    assert any(shown in t for t in texts)  # "5.0", "radius-2.0" before


def test_flat_vs_sharp_checks_its_radius_and_table_before_drawing(figure_table: Table) -> None:
    # radius=None passed flatness (its default) and failed in the caption's int(None); a list
    # as the table raised TypeError at the first key looked up
    with pytest.raises(ArgumentError, match="^radius must lie in 1..6 .*got None"):
        FIGURES["flat_vs_sharp"].make(figure_table, radius=None)
    with pytest.raises(ArgumentError, match="^table must be a Table, got list"):
        FIGURES["flat_vs_sharp"].make([figure_table])


def test_na_projection_scale_of_a_table_measured_only_on_disconnected_cells() -> None:
    # the colour scale started at an all-NaN percentile (a NaN vmin: colours drawn wrong)
    import warnings

    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey

    key = MetricKey("cifar10", "ori-test", 200)
    values = np.full(NB201.size, np.nan)
    values[~NB201.connected] = np.linspace(5, 15, int((~NB201.connected).sum()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fig = make("na_projection", Table(NB201, {(key, None): values}), pick="value", points=11)
    norm = fig.axes[0].collections[0].norm
    assert np.isfinite(norm.vmin) and np.isfinite(norm.vmax) and norm.vmin < norm.vmax


def _tiny(figure_table: Table, ops: tuple[str, ...], n_nodes: int) -> Table:
    """``figure_table``'s keys over a small space (the first cells' values, permuted)."""
    from nb201_flat.space import Space

    space = Space(ops, n_nodes)
    rng = np.random.default_rng(0)
    # one permutation per key, for its mean and each seed: a mean must stay with its seeds
    order = {k: rng.permutation(space.size) for k in figure_table}
    data = {(k, s): v[: space.size][order[k]] for (k, s), v in figure_table.data.items()}
    return Table(space, data, source=f"{n_nodes}-node")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (
            "a2m_distributions",
            r"cells of at least 3 edges \(A²M's radii 1, 2, 3; this space's cells have 1; in "
            r"Python, make_a2m_distributions\(table, radii=\(1,\)\) draws the radii that fit\)$",
        ),
        ("barrier_census", r"cells of at least 3 edges \(the band pairs lie at Hamming distance 3"),
        (
            "a2m_paths",
            r"the NB201 space \(the pairs are A²M's NB201 cells; this table's space has 2",
        ),
        (
            "search_curves",
            r"a table the default protocol per-dataset fits \(.*more than 100 x the space.*; "
            r"in Python, make_search_curves\(table, protocol='fixed-n'\)",
        ),
        (
            "na_projection",
            r"cifar100/x-test@200ep:accuracy \(to search for the picks: .*more than 100 x the "
            r"space's 2 cells \(200\); or use pick='value'\)$",
        ),
    ],
)
def test_defaults_a_small_space_cannot_serve_skip_the_figure(
    figure_table: Table, name: str, why: str
) -> None:
    # the full set of `figures` stopped at the first of these, with an error (radii must lie in
    # 1..1, got 2; distance must lie in 1..1; index 81 out of range; a ProtocolError)
    tiny = _tiny(figure_table, ("none", "skip_connect"), 2)
    with pytest.raises(FigureSkipped, match=r"^needs " + why) as info:
        FIGURES[name].make(tiny)
    # the search command's flags (--budget-scale) are not the figures': never advised here
    assert "--" not in str(info.value)


def test_options_a_small_space_cannot_serve_stay_errors(figure_table: Table) -> None:
    from nb201_flat.search import ProtocolError

    tiny = _tiny(figure_table, ("none", "skip_connect"), 2)
    with pytest.raises(ArgumentError, match=r"radii must lie in 1\.\.1, got 2"):
        make("a2m_distributions", tiny, radii=(1, 2))
    assert isinstance(make("a2m_distributions", tiny, radii=(1,)), Figure)
    with pytest.raises(ProtocolError, match="more than 100 x the space's 2 cells"):
        make("search_curves", tiny, protocol="per-dataset", runs=2)


def test_disconnectivity_colours_read_a_series_by_its_index(figure_table: Table) -> None:
    # a shuffled Series coloured each leaf with another architecture's value
    v = figure_table.vector("cifar10", "ori-test", 200)
    graph = ls.barrier_tree(figure_table.space, v).disconnectivity(5)
    shuffled = pd.Series(v).sample(frac=1, random_state=0)
    by_array = plot_disconnectivity(graph, colour_values=v).collections[-1].get_array()
    by_series = plot_disconnectivity(graph, colour_values=shuffled).collections[-1].get_array()
    assert by_array is not None and by_series is not None
    assert np.asarray(by_series).tobytes() == np.asarray(by_array).tobytes()
    with pytest.raises(ArgumentError, match=r"^colour_values \(a pandas Series\) must be indexed"):
        plot_disconnectivity(graph, colour_values=shuffled.iloc[1:])


@pytest.mark.parametrize("how", ["as given", "derived inside"])
def test_reads_of_a_nested_make_are_noted_by_the_figure_around_it(
    figure_table: Table, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # a figure drawing another with make() read its vectors through the inner make's record
    # alone: the outer one lost them, and a sparse table's skip became the caller's error
    from nb201_flat.figures import profile, tree

    key = figure_table.key("cifar10", "ori-test", 200)

    def inner(table: Table) -> None:
        table.vector_for(key)  # read, and drawn around its unmeasured cells

    def outer(table: Table) -> None:
        given = table if how == "as given" else dataclasses.replace(table, source="derived")
        make("distance_profile", given)
        raise MissingValueError("no value where the figure looked")

    monkeypatch.setattr(profile, "make_distance_profile", inner)
    monkeypatch.setattr(tree, "make_barrier_tree", outer)
    with pytest.raises(FigureSkipped, match="values measured where the figure reads them"):
        make("barrier_tree", _thinned(figure_table, 0.5))
    with pytest.raises(MissingValueError, match="no value where the figure looked"):
        make("barrier_tree", figure_table)  # measured where read: the computation's NaN


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_maker_called_directly_refuses_what_is_not_a_table(name: str) -> None:
    # make() checked the table; a maker called by itself met `key in 3` (a bare TypeError)
    # or 'int' has no attribute 'space'
    with pytest.raises(ArgumentError, match="^table must be a Table, got int"):
        FIGURES[name].make(3)


def test_render_checks_its_folder_and_formats_before_drawing(figure_table: Table) -> None:
    from nb201_flat.figures import render

    # pathlib's bare TypeError once the figure was drawn; None or 3 was not iterable
    with pytest.raises(ArgumentError, match=r"^out_dir must be a path \(str or pathlib\.Path\)"):
        render("distance_profile", figure_table, None, formats=("png",))  # type: ignore[arg-type]
    for formats in (None, 3):
        with pytest.raises(ArgumentError, match=r"^formats must be a tuple of formats, got "):
            render("distance_profile", figure_table, ".", formats=formats)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"^path must be a path \(str or pathlib\.Path\)"):
        save_figure(new_figure(1, 1)[0], 3)  # type: ignore[arg-type]


def test_plot_binned_checks_its_options_with_no_series_and_before_drawing() -> None:
    # an item that is no Series met a bare AttributeError, one value a TypeError; the legend
    # loc was matplotlib's ValueError after drawing; bins and confidence went unread for []
    for series, match in (
        (3, r"^series must be a list of Series \(label, frame\), got 3"),
        (["x"], r"^series must be a list of Series \(label, frame\), got \['x'\]"),
    ):
        with pytest.raises(ArgumentError, match=match):
            plot_binned(series)  # type: ignore[arg-type]
    for kw, match in (
        ({"legend_loc": "top"}, "^legend_loc must be one of best, "),
        ({"bins": 0}, "^bins must be >= 1"),
        ({"confidence": 95}, r"^confidence must lie in \(0, 1\)"),
    ):
        with pytest.raises(ArgumentError, match=match):
            plot_binned([], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("loc", "code"),
    [("upper left", 2), ("center", 10), (0, 0), (7, 7), (np.int64(3), 3), ((0.1, 0.9), None),
     ([1.05, 0], None), (np.array([0.5, 0.5]), None)],
)  # fmt: skip
def test_plot_binned_places_the_legend_as_matplotlib_does(loc: object, code: int | None) -> None:
    """matplotlib's ``loc``: a name, its code 0..10, an (x, y) pair (the int and the pair
    were refused, the names but five by the type)."""
    frame = pd.DataFrame({"sharpness": np.arange(12.0), "gap": np.arange(12.0) % 5})
    ax = plot_binned([Series("all", frame)], legend_loc=loc)  # type: ignore[arg-type]
    legend = ax.get_legend()
    assert legend is not None
    placed = legend._loc  # matplotlib's own reading: a code, or the corner's (x, y)
    want = code if code is not None else tuple(float(v) for v in loc)  # type: ignore[attr-defined]
    assert placed == want


def test_the_legend_names_are_matplotlibs() -> None:
    from typing import get_args

    from matplotlib.legend import Legend

    from nb201_flat.figures.generalisation import LegendName

    assert get_args(LegendName) == tuple(Legend.codes)


@pytest.mark.parametrize(
    "loc",
    ["top", "outside upper center", 11, -1, True, 2.0, (0.1,), (0.1, 0.2, 0.3), (0.1, "0.2"),
     (float("nan"), 0.5), (True, 0.5), None, {"x": 1}],
)  # fmt: skip
def test_plot_binned_refuses_a_legend_loc_matplotlib_cannot_place(loc: object) -> None:
    with pytest.raises(ArgumentError, match=r"^legend_loc must be one of best, upper right, .*"
                       r"a code 0\.\.10 or an \(x, y\) pair of finite numbers in axes "
                       r"coordinates, got "):  # fmt: skip
        plot_binned([], legend_loc=loc)  # type: ignore[arg-type]


def test_run_curves_refuses_one_name_and_a_flag_that_is_not_one(figure_table: Table) -> None:
    from nb201_flat.figures import run_curves

    with pytest.raises(ArgumentError, match="^algorithms must be a sequence of algorithm names"):
        run_curves(figure_table, algorithms=3)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^matched must be True or False, got 'no'"):
        run_curves(figure_table, matched="no")  # type: ignore[arg-type]


def test_run_curves_describes_the_algorithms_of_an_iterator(figure_table: Table) -> None:
    from nb201_flat.figures import run_curves

    # the names were read once, to check them: the description then listed none
    curves, _, desc = run_curves(
        figure_table, protocol="fixed-n", algorithms=iter(["rs"]), runs=2, queries=5
    )
    assert set(curves["algorithm"]) == {"rs"}
    assert desc.endswith("; algorithms RS"), desc


def test_styling_arguments_are_checked_before_drawing(
    figure_table: Table, grid: pd.DataFrame
) -> None:
    # matplotlib's own KeyError / ValueError from deep in a draw, text parsed as numbers,
    # complex values drawn by their real part, a colour scale ignored without its values
    from nb201_flat.figures import plot_distance_profile

    v = figure_table.vector("cifar10", "ori-test", 200)
    g = ls.disconnectivity_graph(figure_table.space, v, n_optima=5)
    n = figure_table.space.size
    cases: list[tuple[Any, str]] = [
        (lambda: plot_projection(grid, cmap="nope"), "cmap must name a matplotlib colour map"),
        (lambda: plot_projection(grid, under="nope"), "under must be a matplotlib colour"),
        (lambda: plot_projection(grid, vmin=2.0, vmax=1.0), "vmin must not lie above vmax"),
        (lambda: plot_projection(grid, vmin=float("nan")), "vmin must be a finite number"),
        (
            lambda: plot_distance_profile(ls.distance_profile(figure_table.space, v), colour="x"),
            "colour must be a matplotlib colour",
        ),
        (lambda: plot_disconnectivity(g, colour_values=np.array(["1.5"] * n)), "colour_values"),
        (lambda: plot_disconnectivity(g, colour_values=v.astype(complex)), "colour_values"),
        (lambda: plot_disconnectivity(g, colour_values=v, cmap="nope"), "cmap must name"),
        (lambda: plot_disconnectivity(g, cmap="magma"), "pass colour_values too"),
        (lambda: plot_disconnectivity(g, vmin=0.0), "pass colour_values too"),
    ]
    dist = ls.neighbour_distributions(figure_table.space, v, "cifar10", (1,))
    cases += [
        (lambda: plot_neighbour_distributions(dist, ["a"] * 10, 1), "whole"),
        (lambda: plot_neighbour_distributions(dist, 5.0, 1), "whole must be the metric"),
        (lambda: plot_neighbour_distributions(dist, v, 1, bins=["0", "50", "100"]), "bins"),
    ]
    for call, named in cases:
        with pytest.raises(ArgumentError, match=named):
            call()
    # what stays allowed: equal ends (one colour), a grey given as text, a colour map by name
    plot_projection(grid, vmin=1.0, vmax=1.0, under="0.6", cmap="magma")
    plot_disconnectivity(g, colour_values=v, cmap="magma", vmin=0.0, vmax=100.0)
    import matplotlib as mpl

    plot_disconnectivity(g, colour_values=v, cmap=mpl.colormaps["magma"])  # a Colormap too
