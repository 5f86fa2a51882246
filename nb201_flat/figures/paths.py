"""A²M barrier paths between its endpoint pairs, beside the lowest-barrier paths.

For each pair (a, b) at Hamming distance d: the A²M construction -- the mean ± std of the test
accuracy at each level of all d! shortest Hamming paths (:func:`nb201_flat.landscape.a2m_barrier`,
the paper's definition on the level means: the *mean path* barrier) -- and the path over the
whole space whose worst accuracy is highest (:func:`nb201_flat.landscape.lowest_barrier_path`,
fewest steps among those: the *lowest* barrier). Titles name every barrier of the pair
(:func:`nb201_flat.landscape.census.pair_barriers`): lowest over the whole space, best and worst
shortest path, mean path, and A²M's code (current version 54ce096, the dataset's pairs in
order, as its code carries its minimum from one to the next).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.errors import ArgumentError, check_flag
from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    add_caption,
    add_note,
    axes_or_new,
    axis_label,
    dataset_label,
    new_figure,
    note_missing,
    note_stand_ins,
    present,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import A2MBarrier, BarrierPath, a2m_barrier, a2m_barriers, barrier_tree
from nb201_flat.landscape.a2m import A2M_PAIRS
from nb201_flat.landscape.census import LOWEST_SOME_UNMEASURED, lowest_bound_note, lowest_name
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

NAME = "a2m_paths"

__all__ = ["A2M_PAIRS", "NAME", "make_a2m_paths", "plot_barrier_paths"]


def plot_barrier_paths(
    a2m: A2MBarrier,
    lowest: BarrierPath,
    ax: Axes | None = None,
    *,
    legend: bool = True,
    unmeasured: int = 0,
) -> Axes:
    """A²M level means ± std (band) and the lowest-barrier path, against the step from a.

    ``unmeasured``: cells of the table the lowest path's search could not cross
    (:attr:`BarrierTree.unmeasured <nb201_flat.landscape.maximin.BarrierTree.unmeasured>`),
    which make its barrier an upper bound and its legend say so.
    """
    if not isinstance(a2m, A2MBarrier) or not isinstance(lowest, BarrierPath):
        raise ArgumentError(
            f"plot_barrier_paths takes (A2MBarrier, BarrierPath), got ({type(a2m).__name__}, "
            f"{type(lowest).__name__}); pass a2m_barrier(...) then tree.path(a, b)"
        )
    legend = check_flag("legend", legend)
    ax = axes_or_new(ax)
    with figure_style():
        f = a2m.frame()
        (line,) = ax.plot(
            f["level"],
            f["mean"],
            marker="o",
            ms=3.5,
            label="mean path: mean ± std over all shortest paths (A²M)",
        )
        ax.fill_between(
            f["level"],
            f["mean"] - f["std"],
            f["mean"] + f["std"],
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )
        ax.plot(
            range(len(lowest.values)),
            lowest.values,
            marker="s",
            ms=3,
            ls="--",
            label=f"{lowest_name(unmeasured=unmeasured)} (fewest steps)",
        )
        ax.set_xlabel("step from a (one op changed per step)")
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
        if legend:
            ax.legend(loc="best", fontsize=6.5)
    return ax


def _check_pairs_measured(table: Table, keys: dict[str, MetricKey]) -> None:
    """:class:`FigureSkipped` naming each of A²M's pairs with an endpoint not measured on its
    dataset's key: the pairs are fixed cells, so no other endpoint may stand in."""
    lacking = []
    for ds, key in keys.items():
        values = table.vector_for(key)
        for a, b in A2M_PAIRS[ds]:
            if unmeasured := [str(x) for x in (a, b) if np.isnan(values[x])]:
                lacking.append(
                    f"A²M's {dataset_label(ds)} pair ({a}, {b}) measured on {key} "
                    f"({'each of ' if len(unmeasured) > 1 else ''}{' and '.join(unmeasured)} "
                    "has no value)"
                )
    if lacking:
        raise FigureSkipped(
            NAME,
            lacking,
            "A²M's pairs are fixed cells, so no other cell stands in for one; "
            "`nb201-flat train` measures cells",
        )


def make_a2m_paths(table: Table) -> Figure:
    """A²M's nine endpoint pairs (three per dataset the table has) with both constructions."""
    keys = present(table, TEST_KEYS)
    if not keys:
        raise FigureSkipped(
            NAME, list(TEST_KEYS.values()), "the pairs are A²M's NB201 pairs", any_of=True
        )
    if table.space != NB201:  # the pairs are indices of NB201's cells
        raise FigureSkipped(
            NAME,
            ["the NB201 space"],
            "the pairs are A²M's NB201 cells; this table's space has "
            f"{table.space.n_nodes} nodes and the ops {', '.join(table.space.ops)}",
        )
    _check_pairs_measured(table, keys)
    ncols = max(len(p) for p in A2M_PAIRS.values())
    fig, axes = new_figure(len(keys), ncols, figsize=(3.1 * ncols + 0.5, 2.7 * len(keys) + 0.5))
    unmeasured = []  # per key: cells its lowest paths avoid (their barriers upper bounds)
    for row, (ds, key) in enumerate(keys.items()):
        values = table.vector_for(key)
        tree = barrier_tree(table.space, values)
        note_stand_ins(fig, table, key, "the barriers")
        unmeasured.append(tree.unmeasured)
        if (bound := lowest_bound_note(table.space, tree.unmeasured)) is not None:
            add_note(fig, f"{dataset_label(ds)}: {bound}")
        # first: a pair whose shortest paths cross an unmeasured cell is refused here in the
        # words of every named barrier, before A²M's constructions refuse it in theirs
        pair_named = [tree.pair_barriers(a, b) for a, b in A2M_PAIRS[ds]]
        code = a2m_barriers(table.space, values, A2M_PAIRS[ds], published=True)["barrier"]
        for col, ((a, b), named) in enumerate(zip(A2M_PAIRS[ds], pair_named, strict=True)):
            ax = axes[row, col]
            res = a2m_barrier(table.space, values, a, b)
            low = tree.path(a, b, shortest=True)
            plot_barrier_paths(res, low, ax, legend=False, unmeasured=tree.unmeasured)
            with figure_style():
                ax.set_title(
                    f"{dataset_label(ds)}: {a} → {b} (d = {res.distance})\n"
                    f"lowest {low.barrier:.2f} ({low.length} steps), shortest best "
                    f"{named.best_shortest:.2f} / worst {named.worst_shortest:.2f}\n"
                    f"mean path {named.mean_path:.2f}, A²M code (54ce096) "
                    f"{float(code.iloc[col]):.2f}",
                    fontsize=7.5,
                )
                ax.set_ylabel(axis_label(key))
    with figure_style():
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if len(set(unmeasured)) > 1:  # the first row's name is not every row's
            labels[-1] = f"{LOWEST_SOME_UNMEASURED} (fewest steps)"
        fig.legend(handles, labels, loc="outside upper center", ncols=2)
        add_caption(
            fig,
            table,
            "Solid: mean ± std over the level of all d! shortest Hamming paths (A²M's "
            "construction; its barrier is the mean path's). Dashed: the path over the "
            f"{'measured cells' if any(unmeasured) else 'whole space'} with the highest worst "
            "accuracy "
            "(fewest steps among those). Barrier = "
            "endpoints' mean − lowest value on the path; best / worst shortest: the best and "
            "worst of the d! shortest paths; A²M code: its profile_nasbench.py at 54ce096, the "
            "dataset's pairs in order.",
            y=-0.005,
        )
    note_missing(fig, TEST_KEYS, keys)
    return fig
