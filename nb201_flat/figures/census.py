"""The barrier census: the exact lowest barrier beside each shortest-path barrier, many pairs.

One panel per dataset. For pairs drawn at random (seeded) inside each of A²M's accuracy bands
A, B, C at Hamming distance 3 (as A²M's pairs), and for every pair of the top 10, the barrier
beyond the worse endpoint (barrier minus half the endpoint gap: what no path can avoid) of four
constructions: the lowest over the whole space (exact maximin, any length), the best shortest
path, the mean path (A²M's level means) and the worst shortest path
(:func:`nb201_flat.landscape.census.barrier_census`). The title gives the fraction of pairs with
no barrier beyond the worse endpoint. On a partly measured table the pairs without a barrier
(no measured path, or an unmeasured cell on the shortest paths) are left out
(``nan_policy="omit"``) and counted in the figure's notes; the lowest barrier is then the lowest
through measured cells, an upper bound, named so in the legend and caption (a note gives the
count of unmeasured cells), and the title's count of pairs without a barrier a lower bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.errors import ArgumentError, MissingValueError, spelled
from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    add_caption,
    add_note,
    axes_or_new,
    check_frame,
    dataset_label,
    new_figure,
    note_missing,
    note_stand_ins,
    present,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape.census import (
    BARRIER_NAMES,
    LOWEST_SOME_UNMEASURED,
    band_seed,
    barrier_census,
    describe_left_out,
    lowest_bound_note,
    lowest_name,
)
from nb201_flat.table import Table

NAME = "barrier_census"

_SHOWN = ("lowest", "best_shortest", "mean_path", "worst_shortest")
# the y axis: symmetric log, linear below this many points (most barriers are 0 or under 1)
_LINEAR_BELOW = 0.1
_COLOURS = ("#009E73", "#0072B2", "#E69F00", "#D55E00")


def plot_barrier_census(census: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Box plots of the barrier beyond the worse endpoint per group (from
    :func:`~nb201_flat.landscape.census.barrier_census`), four constructions side by side."""
    ax = axes_or_new(ax)
    check_frame(census, "census", "barrier_census(space, values, bands, ...)")
    if census.empty:  # boxplot fails deep in matplotlib
        raise ArgumentError("census holds no pair; pass barrier_census(...) with n_pairs or top_k")
    columns = ["group", *(f"{name}_above_worse" for name in _SHOWN)]
    missing = [c for c in columns if c not in census.columns]
    if missing:  # a bare KeyError
        raise ArgumentError(
            f"census lacks column(s) {', '.join(missing)}; pass barrier_census(...)'s frame"
        )
    holes = census[columns[1:]].isna().any(axis=1)
    if holes.any():  # a box of NaN was not drawn while its tick still counted the pairs
        raise MissingValueError(
            f"census holds {int(holes.sum())} pair(s) without a barrier; pass a census made "
            "with nan_policy='omit', which leaves them out and counts them"
        )
    with figure_style():
        groups = list(dict.fromkeys(census["group"].tolist()))
        width = 0.8 / len(_SHOWN)
        for k, (name, colour) in enumerate(zip(_SHOWN, _COLOURS, strict=True)):
            data = [
                census.loc[census["group"] == g, f"{name}_above_worse"].to_numpy(np.float64)
                for g in groups
            ]
            pos = np.arange(len(groups)) + (k - (len(_SHOWN) - 1) / 2) * width
            parts = ax.boxplot(
                data,
                positions=pos,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=True,
                flierprops={"markersize": 1.5, "markeredgecolor": colour},
                medianprops={"color": "black", "linewidth": 0.8},
                whiskerprops={"color": colour},
                capprops={"color": colour},
            )
            for box in parts["boxes"]:
                box.set_facecolor(colour)
                box.set_edgecolor(colour)
                box.set_alpha(0.6)
            label = BARRIER_NAMES[name] if name != "lowest" else _lowest_label(census)
            ax.plot([], [], "s", color=colour, alpha=0.6, label=label)
        sizes = census.groupby("group", sort=False).size()
        ax.set_xticks(
            np.arange(len(groups)), [f"{g}\n{int(sizes[g])} pairs" for g in groups], fontsize=7
        )
        ax.set_xlabel("pairs: A²M accuracy band, or the top k")
        ax.set_yscale("symlog", linthresh=_LINEAR_BELOW)
        # a little room below 0 keeps the boxes at 0 off the spine; a top of at least 1 point
        # keeps the ticks at 0 and decades (pairs all at 0 were ticked -10^-2, 0, 5.5 x 10^-2:
        # a negative barrier, which none is)
        ax.set_ylim(-0.01, max(ax.get_ylim()[1], 1.0))
        ax.set_ylabel(
            "barrier beyond the worse endpoint (points)\n"
            f"symmetric log scale, linear below {_LINEAR_BELOW:g}"
        )
    return ax


def _lowest_label(census: pd.DataFrame) -> str:
    """The name of the census's lowest barrier: an upper bound where cells its search could
    cross are unmeasured (``attrs["unmeasured"]``; a frame without it is named as before)."""
    attrs = census.attrs
    return lowest_name(bool(attrs.get("connected_only")), int(attrs.get("unmeasured", 0)))


# barrier_census draws its band pairs at A²M's Hamming distance
_PAIR_DISTANCE = 3


def make_barrier_census(
    table: Table, *, n_pairs: int = 100, top_k: int = 10, seed: int = 0
) -> Figure:
    """The census on every dataset the table has (A²M's test keys), seeded."""
    keys = present(table, TEST_KEYS)
    if not keys:
        raise FigureSkipped(
            NAME, list(TEST_KEYS.values()), "the bands are A²M's NB201 bands", any_of=True
        )
    if table.space.n_edges < _PAIR_DISTANCE:  # no pair of cells lies that far apart
        raise FigureSkipped(
            NAME,
            [f"cells of at least {_PAIR_DISTANCE} edges"],
            f"the band pairs lie at Hamming distance {_PAIR_DISTANCE}; this space's cells have "
            f"{table.space.n_edges}",
        )
    # each dataset's draw as `nb201-flat census` draws it, whichever others the table has
    seeds = [band_seed(seed, ds) for ds in keys]
    fig, axes = new_figure(1, len(keys), figsize=(3.6 * len(keys) + 0.3, 3.6))
    unmeasured = []  # per panel: cells the lowest barrier's search could not cross
    for k, (ds, key) in enumerate(keys.items()):
        values = table.vector_for(key)
        # a partly measured table: the pairs it can serve, the others counted in the notes
        # (a fully measured one draws the same pairs as nan_policy="raise")
        census = barrier_census(
            table.space, values, ds, n_pairs=n_pairs, top_k=top_k, seed=seeds[k], nan_policy="omit"
        )
        note_stand_ins(fig, table, key, "the census")
        for g, c in census.attrs["excluded"].items():
            add_note(fig, f"{dataset_label(ds)}, band {g}: {describe_left_out(c)}")
        for g, c in census.attrs["omitted"].items():
            add_note(fig, f"{dataset_label(ds)}, {g}: {describe_left_out(c)}")
        for g, why in census.attrs["empty"].items():  # its ticks were gone without a word
            add_note(fig, f"{dataset_label(ds)}, band {g} has no pair: {spelled(why)}")
        unmeasured.append(census.attrs["unmeasured"])
        if (bound := lowest_bound_note(table.space, unmeasured[-1])) is not None:
            add_note(fig, f"{dataset_label(ds)}: {bound}")
        ax = axes[0, k]
        plot_barrier_census(census, ax)
        none = int(census["no_barrier"].sum())
        # an upper bound's pairs without a barrier have none; others may have none too
        least = "at least " if unmeasured[-1] and none < len(census) else ""
        with figure_style():
            ax.set_title(
                f"({'abc'[k % 3]}) {dataset_label(ds)}: no barrier beyond the worse\n"
                f"endpoint for {least}{none} of {len(census)} pairs ({none / len(census):.1%})",
                fontsize=8.5,
            )
    with figure_style():
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if len(set(unmeasured)) > 1:  # the first panel's name is not every panel's
            labels[0] = LOWEST_SOME_UNMEASURED
        fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=7)
        add_caption(
            fig,
            table,
            # validated by barrier_census above: whole floats 5.0 are captioned 5
            f"Pairs: up to {int(n_pairs)} drawn per A²M accuracy band (A, B, C; each tick "
            f"gives its count) at Hamming distance {_PAIR_DISTANCE}, "
            f"{_seed_words(seed, seeds)}, and every pair of the top {int(top_k)}. Barrier beyond the worse "
            "endpoint = barrier − half the gap between the endpoints (0: the worse endpoint is "
            "the bottleneck). "
            + (
                "Lowest: maximin path through measured cells, an upper bound (a path through "
                "an unmeasured cell could be lower; exact where 0); "
                if any(unmeasured)
                else "Lowest: exact maximin path over the whole space; "
            )
            + "best / worst shortest: of the d! fewest-step paths; mean path: A²M's level means.",
        )
    note_missing(fig, TEST_KEYS, keys)
    return fig


def _seed_words(seed: int, seeds: list[int]) -> str:
    """The caption's words for the panels' pair-draw seeds (:func:`band_seed`): "seed 0 +
    panel" where the panels are A²M's datasets from the first, else each seed named."""
    if seeds == [seed + k for k in range(len(seeds))]:
        return f"seed {seed} + panel"
    named = ", ".join(map(str, seeds))
    return f"seed{'s' * (len(seeds) > 1)} {named} (seed {seed} + the dataset's place among A²M's)"
