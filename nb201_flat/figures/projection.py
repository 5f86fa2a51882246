"""NA paper, Figure 1: the 2-D architecture landscape around a sharp and a flat pick.

The architecture picked by random search (RS) and the one picked by neighbourhood-aware random
search (NA-RS) are each relaxed to one-hot ``alpha`` and projected on a plane spanned by two
random directions (the same seeded directions for both); every grid point is discretised by
argmax and looked up in the reported test metric (:func:`nb201_flat.landscape.projection_grid`).
Both panels share one colour scale.

The picks come from the search layer: one seeded run of RS and of NA-RS (radius 1, mean,
including the cell itself, free neighbour look-ups) under NATS-Bench's per-dataset protocol on
the figure's dataset. A table without a validation split and training times (the embedded
default) is searched on its test metric with a fixed number of queries, which the figure flags
as optimistic. With ``pick="value"`` the picks are instead the best arch by value and the best
by radius-1 neighbourhood mean, labelled as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.conventions import is_percent_accuracy, search_dataset
from nb201_flat.errors import (
    ArgumentError,
    MissingValueError,
    Param,
    check_choice,
    check_float_range,
    check_int_range,
)
from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    add_caption,
    add_note,
    axes_or_new,
    axis_label,
    check_cmap,
    check_colour,
    check_frame,
    check_limits,
    dataset_label,
    new_figure,
    note_stand_ins,
    note_unmeasured,
    primary_key,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import StandIns, flatness, projection_grid, random_directions
from nb201_flat.table import MetricKey, Table, check_table

NAME = "na_projection"
PickMethod = Literal["search", "value"]


@dataclass(frozen=True, slots=True)
class Pick:
    """One architecture to draw the landscape around.

    Attributes
    ----------
    label
        Short name for the panel (``RS pick``, ``NA-RS pick``, ...).
    index
        Architecture index.
    value
        Its value on the figure's metric.
    neighbourhood_mean
        Mean of its measured radius-1 neighbours on the figure's metric.
    measured, neighbours
        How many of its radius-1 neighbours are measured, of how many (the mean is over
        ``measured``).
    """

    label: str
    index: int
    value: float
    neighbourhood_mean: float
    measured: int
    neighbours: int

    @property
    def sharpness(self) -> float:
        """Value minus radius-1 neighbourhood mean (accuracy points)."""
        return self.value - self.neighbourhood_mean


@dataclass(frozen=True, slots=True)
class Picks:
    """The two picks, the metric shown and how they were chosen (for the caption)."""

    sharp: Pick
    flat: Pick
    key: MetricKey
    how: str
    optimistic: bool


def _figure_key(table: Table, dataset: str | None) -> MetricKey:
    if dataset is not None:
        # a misspelt name is the caller's error, not a figure the table cannot serve
        check_choice("dataset", dataset, tuple(TEST_KEYS))
        if TEST_KEYS[dataset] not in table:
            raise FigureSkipped(NAME, [TEST_KEYS[dataset]])
        return TEST_KEYS[dataset]
    # CIFAR-100 first: the NA paper's claim is sized there (and on ImageNet16-120)
    for ds in ("cifar100", "ImageNet16-120", "cifar10"):
        if TEST_KEYS[ds] in table:
            return TEST_KEYS[ds]
    return primary_key(table, NAME)


def pick_architectures(
    table: Table,
    *,
    dataset: str | None = None,
    pick: PickMethod = "search",
    seed: int | None = None,
    queries: int | None = None,
    max_runs: int | None = None,
) -> Picks:
    """Choose the sharp (RS) and the flat (NA-RS) architecture of the figure.

    Parameters
    ----------
    dataset
        ``cifar10``, ``cifar100`` or ``ImageNet16-120`` (default: the first of CIFAR-100,
        ImageNet16-120, CIFAR-10 the table has, else its first accuracy).
    pick
        ``"search"``: run 0 of RS and of NA-RS with master ``seed`` (see the module docstring);
        ``"value"``: the best arch by value vs the best by radius-1 neighbourhood mean.
    seed
        Master seed of the searches (default 0); ``pick="value"`` searches nothing and
        refuses it.
    max_runs
        Runs tried (default 20); the first run whose RS and NA-RS picks differ is used (the
        first if none), among the runs whose picks have a value and a measured neighbour on
        the figure's metric (the caption says how many where some have not).
    queries
        Queries per run when the table forces the fixed-n fallback (default 100).
    """
    check_choice("pick", pick, ("search", "value"))
    from nb201_flat.search.runner import check_runs

    # None: not given (queries=100 or seed=5 passed with pick='value' was ignored without a word)
    searched = (("seed", seed), ("queries", queries), ("max_runs", max_runs))
    given = [name for name, v in searched if v is not None]
    seed = 0 if seed is None else seed
    queries = 100 if queries is None else queries
    queries = check_int_range("queries", queries, 1, fix="e.g. queries=100")
    max_runs = check_runs(20 if max_runs is None else max_runs, "max_runs")  # not named runs
    if pick == "value" and given:  # nothing is searched
        names = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
        verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
        raise ArgumentError(f"{names} {verb} to pick='search' only; drop {them}")
    key = _figure_key(check_table(table), dataset)  # `key in 3`: a bare TypeError
    values = table.vector_for(key)
    # a retraining table's copies of a cell are no neighbours of it
    stand = StandIns.of(table, key.dataset, key.epochs)
    flat = flatness(table.space, values, 1, columns=["mean", "n"], stand_ins=stand)
    means = flat["mean"].to_numpy(dtype=np.float64)
    measured = flat["n"].to_numpy()
    # the neighbourhood's size, measured or not (a retraining table's copies left out)
    sizes = flatness(table.space, np.zeros(table.space.size), 1, columns=["n"], stand_ins=stand)
    members = sizes["n"].to_numpy()

    def make(label: str, index: int) -> Pick:
        if np.isnan(means[index]):  # its panel was titled "sharpness +nan"
            raise MissingValueError(
                f"the {label}, cell {index}, has no measured radius-1 neighbour under {key}, so "
                "no neighbourhood mean or sharpness to show; pass a table that measures its "
                "neighbours"
            )
        return Pick(
            label,
            int(index),
            float(values[index]),
            float(means[index]),
            int(measured[index]),
            int(members[index]),
        )

    if pick == "value":
        rated = np.where(np.isnan(values), np.nan, means)
        if np.isnan(rated).all():  # nanargmax would fail on an all-NaN slice
            raise MissingValueError(
                f"no architecture with a value for {key} has a measured radius-1 "
                "neighbourhood, so there is no best by neighbourhood mean; choose another "
                "dataset= or a table that measures more architectures"
            )
        best = int(np.nanargmax(values))
        best_nb = int(np.nanargmax(rated))
        return Picks(
            make("best by value", best),
            make("best by neighbourhood mean", best_nb),
            key,
            f"best {key} vs best radius-1 neighbourhood mean (no search)",
            optimistic=True,
        )

    from nb201_flat.neighbourhood import NA_PAPER
    from nb201_flat.search import (
        NARandomSearch,
        NeighbourObjective,
        Protocol,
        ProtocolError,
        RandomSearch,
        SearchAlgorithm,
        fixed_n_protocols,
        per_dataset_protocols,
        run_search,
    )

    search_ds = search_dataset(key.dataset)
    protocol: Protocol | None = None
    try:
        protocol = per_dataset_protocols(datasets=(search_ds,))[0]
        protocol.check(table)
    except ProtocolError:
        protocol = None
    fallback_used = False
    if protocol is None or protocol.report[0] != key:
        fallback_used = True
        try:
            fallback = [p for p in fixed_n_protocols(table, queries) if p.report[0] == key]
        except ProtocolError:  # a validation split at other epochs only
            fallback = []
        if not fallback:
            raise FigureSkipped(
                NAME,
                [MetricKey(search_ds, "x-valid", 12), MetricKey(search_ds, "train", 200, "time_s")],
                ("to search for the RS and NA-RS picks; or use ", Param("pick", "value")),
            )
        protocol = fallback[0]
    elif "queries" in given:  # the per-dataset budget is in seconds: it was read by nothing
        raise ArgumentError(
            f"queries applies only where the table lacks the training times of "
            f"{protocol.name} and the fixed-n protocol stands in; this table has them "
            "(its budget is in seconds): drop queries"
        )
    algorithms: dict[str, SearchAlgorithm] = {
        "rs": RandomSearch(),
        "na-rs": NARandomSearch(NeighbourObjective(NA_PAPER)),
    }
    try:  # what the table lacks is a skip; a bad option (queries=) stays the caller's error
        protocol.check(table)
    except ProtocolError as exc:  # e.g. a search key some cell lacks
        # name the key the search lacks (it named the report key, which the table holds) and
        # this figure's way round it (the protocol's fix, another search key, is no option here)
        if np.isnan(values).all():
            lacking = str(key)
        elif np.isnan(table.vector_for(protocol.search)).any():
            lacking = f"{protocol.search} on every architecture"
        else:  # e.g. its stored seeds
            lacking = str(protocol.search)
        raise FigureSkipped(
            NAME,
            [lacking],
            (f"to search for the picks: {exc.problem}; or use ", Param("pick", "value")),
        ) from exc
    try:
        res = run_search(table, protocol, algorithms, runs=max_runs, seed=seed)
    except ProtocolError as exc:
        if fallback_used:  # its budget is queries=, the caller's option
            raise
        # e.g. the per-dataset budget buys more queries than a small space has cells; the
        # search command's flags (exc.fix) are not this figure's
        raise FigureSkipped(
            NAME,
            [key],
            (f"to search for the picks: {exc.problem}; or use ", Param("pick", "value")),
        ) from exc
    runs = res.runs.drop_duplicates(["algorithm", "run"])
    picked = runs.pivot(index="run", columns="algorithm", values="best").sort_index()
    # a run that never met a measured cell has no pick: the others are drawn (a protocol
    # refuses a search key some cell lacks, so this guards a table the check let through)
    picked = picked.dropna()
    if picked.empty:
        raise FigureSkipped(
            NAME,
            [key],
            (
                f"measured widely enough that a search finds a cell (no run of {max_runs} did); "
                "or use ",
                Param("pick", "value"),
            ),
        )
    # a pick without a value or a measured neighbour on the metric shown has no number to
    # title its panel with (it was titled "nan %"): its run is left out as a run without a
    # pick is, and said to be, as the other figures leave out and count unmeasured cells
    shown = ~np.isnan(values) & ~np.isnan(means)
    found = len(picked)
    picked = picked[
        shown[picked["rs"].to_numpy(dtype=np.int64)] & shown[picked["na-rs"].to_numpy(np.int64)]
    ]
    if picked.empty:
        raise FigureSkipped(
            NAME,
            [f"{key} on the cells the searches pick"],
            (
                f"each of the {found} runs with picks picked a cell without a value or without "
                "a measured radius-1 neighbour; or use ",
                Param("pick", "value"),
            ),
        )
    rs_best = picked["rs"].to_numpy(dtype=np.int64)
    na_best = picked["na-rs"].to_numpy(dtype=np.int64)
    # the first run whose picks differ: two panels of one architecture would show nothing
    differ = np.nonzero(rs_best != na_best)[0]
    pos = int(differ[0]) if differ.size else 0
    run = int(picked.index.to_numpy()[pos])
    budget = (
        f"{protocol.budget_seconds:,.0f} s"
        if protocol.budget_seconds is not None
        else f"{protocol.budget_queries} queries"
    )
    # the runs chosen among, where some were left out (no pick, or an unmeasured one)
    tried = (
        f"{max_runs} runs"
        if len(picked) == max_runs
        else f"{len(picked)} of {max_runs} runs whose picks are measured"
    )
    # where no run's picks differ, saying "the first run whose picks differ" was untrue
    which = (
        "the first run whose picks differ"
        + ("" if len(picked) == max_runs else f", of the {tried}")
        if differ.size
        else f"no run's picks differ: RS and NA-RS picked the same cell in each of the {tried}"
    )
    how = (
        f"run {run} (master seed {seed}; {which}) of RS and NA-RS "
        "(r=1, mean, incl. self, free neighbours); "
        f"protocol {protocol.name}: search {protocol.search}, budget {budget}"
    )
    return Picks(
        make("RS pick", int(rs_best[pos])),
        make("NA-RS pick", int(na_best[pos])),
        key,
        how,
        optimistic=protocol.optimistic,
    )


def plot_projection(
    grid: pd.DataFrame,
    ax: Axes | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    under: str = "0.6",
    title: str | None = None,
) -> Axes:
    """Draw one projection grid (from :func:`~nb201_flat.landscape.projection_grid`).

    Each grid cell is coloured by the value of the architecture it discretises to; the
    centre (lambda = 0, 0) is marked with a star. Values below ``vmin`` are drawn in ``under``
    (grey; the caller says so on the colour bar with ``extend="min"``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; its first ``QuadMesh`` (``ax.collections[0]``) feeds a colour bar.
    """
    import matplotlib as mpl

    check_frame(grid, "grid", "projection_grid(space, values, center, ...)")
    cmap, under = check_cmap(cmap), check_colour(under, "under")
    vmin, vmax = check_limits(vmin, vmax)
    ax = axes_or_new(ax)
    cols = ["lambda0", "lambda1", "value"]
    if not set(cols) <= set(grid.columns) or grid.empty:
        raise ArgumentError(
            f"grid must be a non-empty frame with columns {', '.join(cols)}, as "
            "projection_grid returns"
        )
    if grid.duplicated(["lambda0", "lambda1"]).any():  # pivot would fail deep in pandas
        raise ArgumentError("grid holds a (lambda0, lambda1) point twice; pass one grid")
    for col in cols:  # matplotlib's bare ValueError (a NaN coordinate, a text value)
        kind = grid[col].dtype.kind
        if kind not in "iuf" or (col != "value" and not np.isfinite(grid[col]).all()):
            raise ArgumentError(
                f"grid column {col!r} must hold {'numbers' if col == 'value' else 'finite numbers'}"
                f" (dtype {grid[col].dtype}); pass the frame projection_grid returns"
            )
    colours = mpl.colormaps[cmap].with_extremes(under=under)
    with figure_style():
        table = grid.pivot(index="lambda1", columns="lambda0", values="value")
        l0 = table.columns.to_numpy(dtype=np.float64)
        l1 = table.index.to_numpy(dtype=np.float64)
        ax.pcolormesh(
            l0,
            l1,
            table.to_numpy(dtype=np.float64),
            shading="nearest",
            cmap=colours,
            vmin=vmin,
            vmax=vmax,
            rasterized=True,
        )
        ax.plot([0.0], [0.0], marker="*", ms=11, mfc="white", mec="black", mew=0.8, ls="none")
        ax.set_xlabel("direction 1 coefficient $\\lambda_1$")
        ax.set_ylabel("direction 2 coefficient $\\lambda_2$")
        ax.set_aspect("equal")
        ax.grid(False)
        if title:
            ax.set_title(title, fontsize=8.5)
    return ax


def _grey_caption(
    values: np.ndarray, connected: np.ndarray, vmin: float | None, key: MetricKey
) -> str:
    """What the grey grid points are: how many lie below ``vmin``, and disconnected cells
    named only when some are grey (on NB201 the poorest connected cells alone can be the
    grey ones, and "disconnected cells" would then mislead)."""
    below = values < vmin if vmin is not None else np.zeros(values.shape, dtype=bool)
    n_grey = int(below.sum())  # NaN compares False: unmeasured points are not grey
    if n_grey == 0:
        return "No grid point lies below the colour scale. "
    unit = " %" if is_percent_accuracy(key.metric) else ""
    n_off = int((below & ~connected).sum())
    off = f", {n_off} of them on disconnected cells" if n_off else ", all on connected cells"
    return (
        f"Grey: {n_grey:,} of the {values.size:,} grid points lie below the colour scale, which "
        "starts at the 2nd percentile of the values at the two planes' grid points on "
        f"connected cells ({vmin:.2f}{unit}){off}. "
    )


def make_na_projection(
    table: Table,
    *,
    dataset: str | None = None,
    pick: PickMethod = "search",
    seed: int = 0,
    span: float = 1.5,
    points: int = 61,
) -> Figure:
    """NA Figure 1 on ``table``: landscapes around the RS pick (left) and NA-RS pick (right).

    Parameters
    ----------
    dataset, pick, seed
        See :func:`pick_architectures`; ``seed`` also seeds the random directions.
    span, points
        The grid: ``points`` values of each lambda in ``[-span, span]``.
    """
    span = check_float_range("span", span, 0.0, lo_open=True, fix="e.g. span=1.5")
    # a finer grid than this outruns the pixels of the figure and the memory of the grid
    points = check_int_range("points", points, 2, 1001, fix="e.g. points=61")
    # the searches' master seed only where they run (pick_architectures refuses it with
    # pick='value'); here it seeds the directions too, so every pick takes it
    search_seed = seed if pick == "search" else None
    picks = pick_architectures(table, dataset=dataset, pick=pick, seed=search_seed)
    values = table.vector_for(picks.key)
    lambdas = np.linspace(-span, span, points)
    # one pair of directions for both panels: the planes differ only by their centres
    directions = random_directions(table.space, picks.sharp.index, seed=seed)
    grids = [
        projection_grid(table.space, values, p.index, directions=directions, lambdas=lambdas)
        for p in (picks.sharp, picks.flat)
    ]
    both = np.concatenate([g["value"].to_numpy(dtype=np.float64) for g in grids])
    connected = np.concatenate([table.space.connected[g["index"].to_numpy()] for g in grids])
    # disconnected cells (chance accuracy) and the odd very poor cell would squash the scale:
    # start it at the 2nd percentile of connected cells; lower values are grey (the colour
    # bar's arrow and the caption say so)
    measured = both[connected & ~np.isnan(both)]  # none: all-NaN percentile, a NaN scale
    vmin = float(np.percentile(measured, 2)) if measured.size else None
    vmax = float(np.nanmax(both))
    fig, axes = new_figure(1, 2, figsize=(7.0, 3.6))
    for k, (ax, p, g) in enumerate(zip(axes[0], (picks.sharp, picks.flat), grids, strict=True)):
        # short lines: two wider ones ran past the right panel into the colour bar
        title = (
            f"({'ab'[k]}) {p.label}\narch {p.index}: {p.value:.2f} %, sharpness "
            f"{p.sharpness:+.2f}\nradius-1 neighbours {p.neighbourhood_mean:.2f} %"
        )
        if p.measured < p.neighbours:  # a partial mean was shown as the whole neighbourhood's
            title += f"\n(mean of {p.measured}/{p.neighbours} measured)"
        plot_projection(g, ax, vmin=vmin, vmax=vmax, title=title)
    with figure_style():
        cbar = fig.colorbar(
            axes[0, 1].collections[0], ax=list(axes[0]), extend="min", shrink=0.85, pad=0.02
        )
        cbar.set_label(axis_label(picks.key))
        caption = _grey_caption(both, connected, vmin, picks.key) + f"Picks: {picks.how}."
        blank = int(np.isnan(both).sum())
        if blank:  # unmeasured cells are drawn in no colour: white, not a value
            caption += f" White: {blank:,} of the {both.size:,} grid points have no value."
        # pick='value' searches nothing: its picks are chosen by the metric shown
        chosen = "searched on" if pick == "search" else "chosen on"
        if picks.optimistic:
            caption += f" OPTIMISTIC: {chosen} the metric shown."
        add_caption(fig, table, caption)
    if picks.sharp.index == picks.flat.index:
        both_picks = (
            "RS and NA-RS picked"
            if pick == "search"
            else "the best by value and the best by neighbourhood mean are"
        )
        add_note(fig, f"{both_picks} the same architecture ({picks.sharp.index})")
    add_note(fig, f"{dataset_label(picks.key.dataset)}; {picks.how}")
    note_stand_ins(fig, table, picks.key, "the projected surface")
    note_unmeasured(fig, picks.key, both, "the two panels (drawn white)", among="grid points")
    if picks.optimistic:
        add_note(fig, f"optimistic: the picks were {chosen} the metric shown")
    return fig
