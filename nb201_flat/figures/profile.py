"""Accuracy against Hamming distance from the optimum (the fitness-distance picture).

One panel per dataset: the distribution of test accuracy of every architecture at each Hamming
distance (number of edges whose op differs) from the best architecture (all of them when tied;
the distance is to the nearest), as violins with the mean marked, and the fitness-distance
correlation (Pearson, over every measured architecture) in the corner.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.errors import ArgumentError
from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    add_caption,
    axes_or_new,
    axis_label,
    check_colour,
    check_frame,
    connected_range,
    dataset_label,
    new_figure,
    note_missing,
    note_stand_ins,
    note_unmeasured,
    present,
    signed,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import distance_profile, fitness_distance_correlation
from nb201_flat.table import Table

NAME = "distance_profile"


def plot_distance_profile(
    profile: pd.DataFrame,
    ax: Axes | None = None,
    *,
    fdc: float | None = None,
    colour: str = "#0072B2",
    ylabel: str = "accuracy (%)",
) -> Axes:
    """Violins of ``value`` per ``distance`` (from :func:`~nb201_flat.landscape.distance_profile`)
    with the mean per distance; distances with fewer than 5 architectures are drawn as points.
    ``ylabel`` names what ``value`` holds, with its unit; NaN values (unmeasured) are left out.
    """
    check_frame(profile, "profile", "distance_profile(space, values)")
    colour = check_colour(colour, "colour")
    missing = [c for c in ("distance", "value") if c not in profile.columns]
    if missing:  # failed deep in pandas
        raise ArgumentError(
            f"profile lacks column(s) {', '.join(missing)}; pass distance_profile(space, values)"
        )
    given: object = fdc  # NaN is allowed: an undefined correlation reads "undefined"
    if given is not None and (isinstance(given, bool) or not isinstance(given, numbers.Real)):
        raise ArgumentError(f"fdc must be a number (or None), got {given!r:.40}")
    ax = axes_or_new(ax)
    with figure_style():
        # an unmeasured (NaN) value is no cell at that distance: it made the mean NaN and was
        # counted under the axis
        profile = profile[np.isfinite(profile["value"].to_numpy(dtype=np.float64))]
        dists = sorted(int(d) for d in profile["distance"].unique())
        groups = {
            d: profile.loc[profile["distance"] == d, "value"].to_numpy(dtype=np.float64)
            for d in dists
        }
        big = [d for d in dists if groups[d].size >= 5]
        if big:
            parts = ax.violinplot(
                [groups[d] for d in big],
                positions=big,
                widths=0.8,
                showextrema=False,
                bw_method=0.15,
            )
            for body in parts["bodies"]:  # type: ignore[attr-defined]
                body.set_facecolor(colour)
                body.set_edgecolor("none")
                body.set_alpha(0.35)
        for d in dists:
            if groups[d].size < 5:
                ax.plot(np.full(groups[d].size, d), groups[d], "o", color=colour, ms=4)
        means = [groups[d].mean() for d in dists]
        label = "mean" if fdc is None else f"mean (FDC = {signed(fdc)})"
        ax.plot(dists, means, "-o", color="black", ms=3.5, lw=1.0, label=label)
        counts = [groups[d].size for d in dists]
        # the count under each distance: how much each violin stands for
        ax.set_xticks(dists, [f"{d}\n{n}" for d, n in zip(dists, counts, strict=True)])
        ax.tick_params(axis="x", labelsize=6.5)
        ax.set_xlabel("distance from the optimum (edges changed)\nbelow it: cells at that distance")
        ax.set_ylabel(ylabel)
        ax.legend(loc="lower left")
    return ax


def _optima_text(optima: list[int], most: int = 3) -> str:
    """The optima a title names: a few, then how many tie (a constant column ties every cell:
    its 15,625 indices made a title wider than any canvas).

    >>> _optima_text([81]), _optima_text(list(range(15625)))
    ('81', '0, 1, 2, ... (15,625 tied)')
    """
    shown = ", ".join(str(i) for i in optima[:most])
    return shown if len(optima) <= most else f"{shown}, ... ({len(optima):,} tied)"


def make_distance_profile(table: Table) -> Figure:
    """Accuracy against distance from the optimum, one panel per dataset the table has."""
    keys = present(table, TEST_KEYS)
    if not keys:
        raise FigureSkipped(NAME, list(TEST_KEYS.values()), any_of=True)
    fig, axes = new_figure(1, len(keys), figsize=(3.3 * len(keys) + 0.3, 3.4))
    clipped: list[int] = []  # per panel: their sum counted a cell once per dataset
    unmeasured = 0
    for k, (ds, key) in enumerate(keys.items()):
        values = table.vector_for(key)
        unmeasured += note_unmeasured(fig, key, values, "the violins, means, counts and FDC")
        prof = distance_profile(table.space, values)
        # a constant column (or one measured cell) has no FDC: the legend says "undefined"
        fdc = fitness_distance_correlation(table.space, values, undefined="nan")
        note_stand_ins(fig, table, key, "the profile and its FDC")
        ax = axes[0, k]
        plot_distance_profile(prof, ax, fdc=fdc)
        # disconnected cells sit at chance level and squash the top of the distribution: the
        # y axis spans the connected cells' range (the violins still count every cell)
        lo, hi = connected_range(table, values)
        below = int(np.sum(values[np.isfinite(values)] < lo))
        with figure_style():
            # one value over every connected cell: a margin of its own size, not an empty range
            pad = 0.02 * (hi - lo) or 0.02 * max(abs(hi), 1.0)
            ax.set_ylim(lo - pad, hi + pad)
        clipped.append(below)
        optima = _optima_text(prof.attrs.get("optima", []))
        with figure_style():
            ax.set_title(f"({'abc'[k % 3]}) {dataset_label(ds)}: optimum {optima}", fontsize=9)
            ax.set_ylabel(axis_label(key))
    with figure_style():
        add_caption(
            fig,
            table,
            f"Violins: test accuracy of {'the measured' if unmeasured else 'all'} "
            "architectures at each distance from the best one "
            "(nearest, when tied), their number under each distance; line: mean; FDC: Pearson "
            "correlation of accuracy and distance. y axes span the connected cells' range; "
            f"{' / '.join(map(str, clipped))} cells below it"
            + (" (panel by panel)" if len(clipped) > 1 else "")
            + " (disconnected, at chance accuracy) are counted in the violins and means but "
            "not shown.",
        )
    note_missing(fig, TEST_KEYS, keys)
    return fig
