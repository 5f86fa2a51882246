"""Every figure renders on a synthetic table, the default table and (realdata) the real one."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat import landscape as ls
from nb201_flat.figures import FIGURE_NAMES, FIGURES, render, save_figure
from nb201_flat.figures._common import FigureSkipped, figure_notes
from nb201_flat.table import Table

# keep the searches of the tests small: a few runs, two algorithms
FAST: dict[str, dict[str, Any]] = {
    "search_curves": {"runs": 4, "algorithms": ("rs", "na-rs")},
    "na_projection": {"points": 21},
    "barrier_census": {"n_pairs": 15, "top_k": 5},
}


def _texts(fig: Figure) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    for legend in fig.legends:
        out += [t.get_text() for t in legend.get_texts()]
    return out


def _check_readable(fig: Figure) -> None:
    """Labels present, no NaN printed, accuracy axes say their unit (a spread or a difference
    of accuracies: percentage points)."""
    data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert data_axes
    # rows of a grid share their x label with the bottom row: at least one per column
    columns = {round(ax.get_position().x0, 2) for ax in data_axes}
    labelled = {round(ax.get_position().x0, 2) for ax in data_axes if ax.get_xlabel()}
    assert labelled == columns, "a column of panels without an x label"
    ylabels = [ax.get_ylabel() for ax in data_axes if ax.get_ylabel()]
    assert ylabels, "no y label anywhere"
    for label in ylabels:
        if "accuracy" in label and "−" not in label:
            assert "(%)" in label or "(points)" in label, label
    for text in _texts(fig):
        assert "nan" not in text.lower().split(), text


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_every_figure_renders_on_a_synthetic_table(
    name: str, figure_table: Table, tmp_path: Path
) -> None:
    fig = FIGURES[name].make(figure_table, **FAST.get(name, {}))
    assert isinstance(fig, Figure)
    _check_readable(fig)
    files = save_figure(fig, tmp_path / name)
    assert [f.suffix for f in files] == [".png", ".pdf"]
    assert all(f.stat().st_size > 5000 for f in files)


def test_formats_are_checked_once_each() -> None:
    from nb201_flat.figures.style import check_formats

    assert check_formats(["svg", "PNG", "png", "svg"]) == ("svg", "png")


def test_registry_render_writes_files_and_notes(figure_table: Table, tmp_path: Path) -> None:
    r = render("distance_profile", figure_table, tmp_path, formats=("png", "svg"))
    assert [f.name for f in r.files] == ["distance_profile.png", "distance_profile.svg"]
    assert r.seconds > 0 and r.notes == ()


def test_dataset_figures_draw_what_the_table_has_and_say_what_is_missing(
    cifar10_only_table: Table,
) -> None:
    fig = FIGURES["distance_profile"].make(cifar10_only_table)
    assert len([a for a in fig.axes if a.get_label() != "<colorbar>"]) == 1
    (note,) = figure_notes(fig)
    assert "CIFAR-10 only" in note and "cifar100/x-test@200ep:accuracy" in note


@pytest.mark.parametrize("name", ["flat_vs_sharp", "search_curves"])
def test_figures_needing_validation_splits_skip_with_the_keys(
    name: str, cifar10_only_table: Table
) -> None:
    with pytest.raises(FigureSkipped, match=r"needs .*x-valid@"):
        FIGURES[name].make(cifar10_only_table, **FAST.get(name, {}))


def test_search_curves_optimistic_only_when_asked(cifar10_only_table: Table) -> None:
    fig = FIGURES["search_curves"].make(
        cifar10_only_table, allow_optimistic=True, **FAST["search_curves"]
    )
    assert any("OPTIMISTIC" in t for t in _texts(fig))
    assert any("OPTIMISTIC" in n for n in figure_notes(fig))
    # a queries axis: the fixed-n protocol has no time
    assert fig.axes[0].get_xlabel() == "queries"


def test_projection_value_picks_are_labelled(figure_table: Table) -> None:
    from nb201_flat.figures.projection import pick_architectures

    picks = pick_architectures(figure_table, pick="value")
    assert picks.sharp.label == "best by value"
    assert picks.flat.label == "best by neighbourhood mean"
    v = figure_table.vector_for(picks.key)
    assert picks.sharp.value == pytest.approx(np.nanmax(v))
    fig = FIGURES["na_projection"].make(figure_table, pick="value", points=11)
    assert "best by value" in fig.axes[0].get_title()


def test_projection_search_picks_differ_and_are_reproducible(figure_table: Table) -> None:
    from nb201_flat.figures.projection import pick_architectures

    a = pick_architectures(figure_table, seed=3)
    b = pick_architectures(figure_table, seed=3)
    assert (a.sharp.index, a.flat.index) == (b.sharp.index, b.flat.index)
    assert a.sharp.index != a.flat.index
    assert a.key.dataset == "cifar100" and "per-dataset:cifar100" in a.how
    assert not a.optimistic


def test_projection_search_picks_skip_on_validation_at_other_epochs_only() -> None:
    # fixed-n refuses a table whose validation split is at 200 epochs only (it no longer
    # searches the test key instead): the figure is skipped with its reason, not an error
    from nb201_flat.figures.projection import pick_architectures
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey

    v = np.linspace(10, 90, NB201.size)
    data = {
        (MetricKey("cifar100", "x-valid", 200), None): v,
        (MetricKey("cifar100", "x-test", 200), None): v,
    }
    with pytest.raises(FigureSkipped):
        pick_architectures(Table(NB201, data, source="valid at 200"), seed=3)


def test_a2m_paths_show_the_landscape_barriers(figure_table: Table) -> None:
    from nb201_flat.figures.paths import A2M_PAIRS
    from nb201_flat.landscape.census import pair_barriers

    fig = FIGURES["a2m_paths"].make(figure_table)
    v = figure_table.vector("cifar10", "ori-test", 200)
    a, b = A2M_PAIRS["cifar10"][0]
    expected = ls.a2m_barrier(figure_table.space, v, a, b).barrier
    title = fig.axes[0].get_title()
    assert f"mean path {expected:.2f}" in title
    named = pair_barriers(figure_table.space, v, a, b)
    assert f"lowest {named.lowest:.2f}" in title
    assert f"best {named.best_shortest:.2f} / worst {named.worst_shortest:.2f}" in title
    code = ls.a2m_barriers(figure_table.space, v, A2M_PAIRS["cifar10"], published=True)
    assert f"A²M code (54ce096) {code['barrier'].iloc[0]:.2f}" in title


def test_barrier_census_titles_count_the_barrier_free_pairs(figure_table: Table) -> None:
    from nb201_flat.landscape.census import barrier_census

    fig = FIGURES["barrier_census"].make(figure_table, n_pairs=15, top_k=5, seed=4)
    for k, ds in enumerate(("cifar10", "cifar100", "ImageNet16-120")):
        split = "ori-test" if ds == "cifar10" else "x-test"
        v = figure_table.vector(ds, split, 200)
        census = barrier_census(figure_table.space, v, ds, n_pairs=15, top_k=5, seed=4 + k)
        none = int(census["no_barrier"].sum())
        assert f"for {none} of {len(census)} pairs" in fig.axes[k].get_title()


def test_barrier_census_on_a_partly_measured_table_draws_the_pairs_it_can_serve(
    figure_table: Table,
) -> None:
    # a pair whose shortest paths crossed an unmeasured cell stopped the census: the figure
    # was skipped. Now it draws the pairs it can serve and notes what it left out
    from nb201_flat.errors import MissingValueError
    from nb201_flat.figures._common import dataset_label
    from nb201_flat.landscape.census import barrier_census, describe_left_out

    rng = np.random.default_rng(2)
    sparse = Table(
        figure_table.space,
        {
            (k, None): np.where(
                rng.random(figure_table.space.size) < 0.85, figure_table.vector_for(k), np.nan
            )
            for k in figure_table
        },
        source="85 % measured",
    )
    fig = FIGURES["barrier_census"].make(sparse, n_pairs=15, top_k=5, seed=4)
    notes = figure_notes(fig)
    for k, ds in enumerate(("cifar10", "cifar100", "ImageNet16-120")):
        split = "ori-test" if ds == "cifar10" else "x-test"
        v = sparse.vector(ds, split, 200)
        with pytest.raises(MissingValueError, match="nan_policy='omit'"):
            barrier_census(sparse.space, v, ds, n_pairs=15, top_k=5, seed=4 + k)
        census = barrier_census(
            sparse.space, v, ds, n_pairs=15, top_k=5, seed=4 + k, nan_policy="omit"
        )
        none = int(census["no_barrier"].sum())
        # the lowest through measured cells is an upper bound: the count a lower one
        least = "at least " if none < len(census) else ""
        assert f"for {least}{none} of {len(census)} pairs" in fig.axes[k].get_title()
        for g, c in census.attrs["excluded"].items():
            # the census's own wording, as the CLI notes it: the count said once
            note = f"{dataset_label(ds)}, band {g}: {describe_left_out(c)}"
            assert note in notes
            lost = c["no_path"] + c["unmeasured"]
            assert note.startswith(f"{dataset_label(ds)}, band {g}: {lost:,} of its ")
            assert note.count(f"{lost:,}") == 1
        assert len(census.attrs["excluded"]) == 3  # every band lost candidates
    # a fully measured table: nothing left out, nothing noted
    assert not figure_notes(FIGURES["barrier_census"].make(figure_table, n_pairs=15, top_k=5))


# -- the embedded default ---------------------------------------------------------------------
def test_default_table_renders_or_skips_with_reasons(default_table: Table, tmp_path: Path) -> None:
    skipped: dict[str, str] = {}
    for name in FIGURE_NAMES:
        try:
            r = render(name, default_table, tmp_path, formats=("png",), options=FAST.get(name))
        except FigureSkipped as exc:
            skipped[name] = str(exc)
            continue
        assert all(f.stat().st_size > 0 for f in r.files)
    assert set(skipped) == {"flat_vs_sharp", "search_curves", "flatness_by_epoch"}
    assert "no learning curves" in skipped["flatness_by_epoch"]
    assert "cifar100/x-valid@200ep:accuracy" in skipped["flat_vs_sharp"]
    assert "optimistic" in skipped["search_curves"]


# -- byte stability ---------------------------------------------------------------------------
def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_bytes_twice_in_one_process(figure_table: Table, tmp_path: Path) -> None:
    for run in ("a", "b"):
        render("barrier_tree", figure_table, tmp_path / run, formats=("png", "pdf", "svg"))
        render(
            "na_projection", figure_table, tmp_path / run, options={"pick": "value", "points": 21}
        )
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


@pytest.mark.slow
def test_cli_gives_identical_bytes_in_separate_processes(
    saved_figure_table: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    for run in ("a", "b"):
        cmd = [
            sys.executable,
            "-m",
            "nb201_flat",
            "figures",
            "--out",
            str(tmp_path / run),
            "--table",
            str(saved_figure_table),
            "--only",
            "distance_profile",
            "na_projection",
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    first = _digests(tmp_path / "a")
    assert len(first) == 4
    assert first == _digests(tmp_path / "b")


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_skips_with_a_message_and_exits_0(
    cifar10_only_table: Table,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nb201_flat.cli.figures as cli_figures
    from nb201_flat.cli import main
    from nb201_flat.storage import save_table

    # the full set (no --only) skips what the table cannot support; four of it, to stay quick
    full = ("flat_vs_sharp", "distance_profile", "search_curves", "barrier_tree")
    monkeypatch.setattr(cli_figures, "FIGURE_NAMES", full)
    path = save_table(cifar10_only_table, tmp_path / "c10.nb201")
    out = tmp_path / "figs"
    argv = ["figures", "--out", str(out), "--table", str(path), "--jobs", "1"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "skipped flat_vs_sharp: needs cifar100/x-valid@200ep:accuracy" in text
    assert "distance_profile" in text and (out / "distance_profile.png").is_file()

    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in doc["skipped"]] == ["flat_vs_sharp", "search_curves"]
    assert "x-valid@12" in doc["skipped"][1]["reason"]
    made = {f["name"]: f for f in doc["figures"]}
    assert set(made) == {"distance_profile", "barrier_tree"}
    assert len(made["barrier_tree"]["files"]) == 2
    assert "CIFAR-10 only" in made["barrier_tree"]["notes"][0]


def test_cli_formats_once_each_and_the_table_path_used(
    cifar10_only_table: Table,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat.cli import main
    from nb201_flat.storage import save_table

    # a repeated format drew and listed its file twice (then was dropped without a word: it
    # is refused); a table from $NB201_FLAT_TABLE was reported as "table_path": null
    path = save_table(cifar10_only_table, tmp_path / "c10.nb201")
    monkeypatch.setenv("NB201_FLAT_TABLE", str(path))
    out = tmp_path / "figs"
    argv = ["figures", "--out", str(out), "--only", "distance_profile", "--json"]
    assert main([*argv, "--formats", "svg", "png", "svg"]) == 2
    assert "--formats names svg twice" in capsys.readouterr().err
    assert main([*argv, "--formats", "svg", "png"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["table_path"] == str(path)
    assert doc["figures"][0]["files"] == [
        str(out / "distance_profile.svg"),
        str(out / "distance_profile.png"),
    ]


def test_cli_full_set_on_a_two_node_table_skips_what_it_cannot_draw(
    figure_table: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main
    from nb201_flat.space import Space
    from nb201_flat.storage import save_table

    # "error: radii must lie in 1..1, got 2", exit 2, where the help promises skips
    space = Space(("none", "skip_connect"), 2)
    data = {k: v[: space.size].copy() for k, v in figure_table.data.items()}
    path = save_table(Table(space, data, source="2-node"), tmp_path / "two.nb201")
    argv = ["figures", "--out", str(tmp_path / "f"), "--table", str(path), "--jobs", "1"]
    assert main([*argv, "--formats", "png", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    skipped = {s["name"]: s["reason"] for s in doc["skipped"]}
    assert "A²M's radii 1, 2, 3" in skipped["a2m_distributions"]
    assert {"barrier_census", "a2m_paths", "search_curves", "na_projection"} <= set(skipped)
    assert {f["name"] for f in doc["figures"]} == {
        "flat_vs_sharp",
        "barrier_tree",
        "distance_profile",
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_only_a_figure_the_table_cannot_support_is_an_error(
    cifar10_only_table: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    from nb201_flat.cli import main
    from nb201_flat.storage import save_table

    path = save_table(cifar10_only_table, tmp_path / "c10.nb201")
    out = tmp_path / "figs"
    out.mkdir()
    (out / "kept.txt").write_text("earlier")
    argv = ["figures", "--out", str(out), "--table", str(path), "--jobs", jobs]
    code = main([*argv, "--only", "distance_profile", "flat_vs_sharp"])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --only flat_vs_sharp: "), lines
    assert "needs cifar100/x-valid@200ep:accuracy" in lines[0]
    assert "pass a --table that has it, or leave flat_vs_sharp out of --only" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["kept.txt"]  # --out as it was
    assert captured.out == ""  # no line names a file of distance_profile, which is not there


def test_cli_rejects_unknown_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from nb201_flat.cli import main

    with pytest.raises(SystemExit):
        main(["figures", "--out", str(tmp_path), "--only", "no_such_figure"])
    assert "invalid choice" in capsys.readouterr().err


# -- plot functions take ax= and return it ----------------------------------------------------
def test_plot_functions_draw_on_the_given_axes(figure_table: Table) -> None:
    from nb201_flat.figures import (
        plot_barrier_paths,
        plot_disconnectivity,
        plot_distance_profile,
        plot_neighbour_distributions,
        plot_projection,
    )
    from nb201_flat.figures._common import new_figure

    space = figure_table.space
    v = figure_table.vector("cifar10", "ori-test", 200)
    _, axes = new_figure(2, 3)
    flat = [ax for row in axes for ax in row]
    grid = ls.projection_grid(space, v, 0, seed=0, lambdas=np.linspace(-1, 1, 5))
    assert plot_projection(grid, flat[0]) is flat[0]
    prof = ls.distance_profile(space, v)
    assert plot_distance_profile(prof, flat[1], fdc=-0.3) is flat[1]
    dist = ls.neighbour_distributions(space, v, "cifar10", (1,))
    assert plot_neighbour_distributions(dist, v, 1, flat[2]) is flat[2]
    tree = ls.barrier_tree(space, v)
    low = tree.path(81, 1459, shortest=True)
    assert plot_barrier_paths(ls.a2m_barrier(space, v, 81, 1459), low, flat[3]) is flat[3]
    graph = tree.disconnectivity(5)
    assert plot_disconnectivity(graph, flat[4], colour_values=v) is flat[4]
    # without ax: a new styled figure
    ax = plot_distance_profile(prof)
    assert isinstance(ax, Axes) and ax.figure is not flat[0].figure


def test_plot_anytime_on_precomputed_curves() -> None:
    from nb201_flat.figures import plot_anytime

    x = np.linspace(0, 100, 11)
    curves = pd.concat(
        [
            pd.DataFrame(
                {
                    "algorithm": algo,
                    "x": x,
                    "x_unit": "seconds",
                    "mean": 90 + shift + x / 100,
                    "std": 0.5,
                    "n": np.where(x > 0, 10, 0),
                }
            )
            for algo, shift in (("rs", 0.0), ("na-rs", 0.2))
        ]
    )
    ax = plot_anytime(curves)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["RS", "NA-RS"]
    # the point where no run had an incumbent is left out
    assert len(lines[0].get_xdata()) == 10
    assert ax.get_xlabel() == "simulated search time (s)"


def test_tree_layout_places_leaves_then_merges() -> None:
    from nb201_flat.figures.tree import tree_layout

    graph = ls.disconnectivity_graph(
        __import__("nb201_flat.space", fromlist=["Space"]).Space(("a", "b"), 3),
        np.array([9.0, 1, 1, 1, 1, 1, 1, 8]),
    )
    x = tree_layout(graph)
    assert x == {0: 0.0, 1: 1.0, 2: 0.5}


# -- the real data -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.realdata
def test_every_figure_on_the_real_data(real_table: Table, tmp_path: Path) -> None:
    for name in FIGURE_NAMES:
        if name == "flatness_by_epoch":  # the real data stores final values only
            with pytest.raises(FigureSkipped, match="no learning curves"):
                render(name, real_table, tmp_path)
            continue
        r = render(name, real_table, tmp_path, options=FAST.get(name))
        assert not any("lacks" in n for n in r.notes), r.notes
    prof = ls.distance_profile(real_table.space, real_table.vector("cifar10", "ori-test", 200))
    assert prof.attrs["optima"] == [6111, 13714]


@pytest.mark.realdata
def test_real_projection_picks_come_from_the_validation_search(real_table: Table) -> None:
    from nb201_flat.figures.projection import pick_architectures

    picks = pick_architectures(real_table)
    assert picks.key.dataset == "cifar100" and not picks.optimistic
    assert math.isfinite(picks.sharp.sharpness) and picks.sharp.index != picks.flat.index


def test_projection_search_picks_keep_an_option_error_an_error(figure_table: Table) -> None:
    # a query budget too large to run is the caller's error, not "the table lacks a key"
    from nb201_flat.errors import ProtocolError
    from nb201_flat.figures.projection import pick_architectures
    from nb201_flat.table import MetricKey

    keys = (MetricKey("cifar100", "x-valid", 12), MetricKey("cifar100", "x-test", 200))
    no_time = Table(  # fixed-n serves it: no training times for the per-dataset protocol
        figure_table.space,
        {(k, None): figure_table.vector_for(k) for k in keys},
        source="no training times",
    )
    assert pick_architectures(no_time, queries=20, max_runs=2).key == keys[1]
    with pytest.raises(ProtocolError, match="queries"):
        pick_architectures(no_time, queries=10**9, max_runs=1)


def test_no_format_is_refused_not_a_figure_saved_nowhere(
    figure_table: Table, tmp_path: Path
) -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.figures.style import check_formats

    # render drew the figure and returned no file, without a word
    with pytest.raises(ArgumentError, match=r"^formats is empty; pass at least one"):
        check_formats(())
    with pytest.raises(ArgumentError, match=r"^formats is empty"):
        render("distance_profile", figure_table, tmp_path, formats=[])
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_every_figure_maker_is_reachable_from_the_package(name: str) -> None:
    # the docs present each figure as nb201_flat.figures.make_<name>; two makers (and a
    # plot function) of the registry were reachable only through their modules
    import nb201_flat.figures as figures

    spec = FIGURES[name]
    assert spec.function in figures.__all__ and spec.function in dir(figures)
    assert getattr(figures, spec.function) is spec.make


def test_a2m_paths_on_a_partly_measured_table_names_the_lowest_an_upper_bound(
    figure_table: Table,
) -> None:
    # the lowest path avoids unmeasured cells, so its barrier is an upper bound: the legend
    # and caption called it the path "over the whole space"
    from nb201_flat.figures._common import dataset_label
    from nb201_flat.figures.paths import A2M_PAIRS
    from nb201_flat.landscape.paths import shortest_paths

    space = figure_table.space
    keep = np.zeros(space.size, dtype=bool)  # A²M's pairs' shortest paths stay measured
    for pairs in A2M_PAIRS.values():
        for a, b in pairs:
            keep[np.unique(shortest_paths(space, a, b))] = True
    gone = np.flatnonzero(~keep)[::7]
    data = {}
    for k in figure_table:
        v = figure_table.vector_for(k).copy()
        v[gone] = np.nan
        data[(k, None)] = v
    fig = FIGURES["a2m_paths"].make(Table(space, data, source="partly measured"))
    labels = fig.axes[0].get_legend_handles_labels()[1]
    bound = f"lowest through measured cells (an upper bound: {len(gone):,} cells unmeasured)"
    assert f"{bound} (fewest steps)" in labels
    assert not any("whole space" in label for label in labels)
    notes = figure_notes(fig)
    assert any(n.startswith(f"{dataset_label('cifar10')}: the lowest barrier") for n in notes)
    full = FIGURES["a2m_paths"].make(figure_table)
    assert (
        "lowest over the whole space (fewest steps)"
        in (full.axes[0].get_legend_handles_labels()[1])
    )
    assert not any("upper bound" in n for n in figure_notes(full))


def test_a2m_paths_legend_fits_rows_of_other_unmeasured_counts(figure_table: Table) -> None:
    # the figure's legend was the first row's: "over the whole space" above a cifar100 row
    # whose lowest paths avoided unmeasured cells
    from nb201_flat.figures.paths import A2M_PAIRS
    from nb201_flat.landscape.census import LOWEST_SOME_UNMEASURED
    from nb201_flat.landscape.paths import shortest_paths

    space = figure_table.space
    keep = np.zeros(space.size, dtype=bool)
    for pairs in A2M_PAIRS.values():
        for a, b in pairs:
            keep[np.unique(shortest_paths(space, a, b))] = True
    data = {}
    for k in figure_table:
        v = figure_table.vector_for(k).copy()
        if k.dataset == "cifar100":
            v[np.flatnonzero(~keep)[:50]] = np.nan
        data[(k, None)] = v
    fig = FIGURES["a2m_paths"].make(Table(space, data, source="cifar100 partly measured"))
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert f"{LOWEST_SOME_UNMEASURED} (fewest steps)" in texts
    assert not any("whole space" in t for t in texts)
