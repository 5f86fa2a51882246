"""A²M barrier paths between its endpoint pairs, beside the lowest-barrier paths.

For each pair (a, b) at Hamming distance d: the A²M construction -- the mean ± std of the test
accuracy at each level of all d! shortest Hamming paths (:func:`nb201_flat.landscape.a2m_barrier`,
the paper's definition) -- and the path over the whole space whose worst accuracy is highest
(:func:`nb201_flat.landscape.lowest_barrier_path`, fewest steps among those). The legend gives
each barrier: the endpoints' mean minus the lowest value on the path (for A²M, on the level
means).
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    axes_or_new,
    axis_label,
    dataset_label,
    new_figure,
    note_missing,
    present,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import A2MBarrier, BarrierPath, a2m_barrier, barrier_tree
from nb201_flat.table import Table

NAME = "a2m_paths"

A2M_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "cifar10": ((81, 1459), (0, 163), (40, 12094)),
    "cifar100": ((81, 11711), (31, 7680), (146, 4461)),
    "ImageNet16-120": ((65, 2246), (17, 5845), (2, 348)),
}
"""A²M's endpoint pairs per dataset (official NB201 indices)."""


def plot_barrier_paths(
    a2m: A2MBarrier,
    lowest: BarrierPath,
    ax: Axes | None = None,
    *,
    legend: bool = True,
) -> Axes:
    """A²M level means ± std (band) and the lowest-barrier path, against the step from a."""
    ax = axes_or_new(ax)
    with figure_style():
        f = a2m.frame()
        (line,) = ax.plot(
            f["level"],
            f["mean"],
            marker="o",
            ms=3.5,
            label="A²M: mean ± std over all shortest paths",
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
            label="lowest-barrier path over the whole space",
        )
        ax.set_xlabel("step from a (one op changed per step)")
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
        if legend:
            ax.legend(loc="best", fontsize=6.5)
    return ax


def make_a2m_paths(table: Table) -> Figure:
    """A²M's nine endpoint pairs (three per dataset the table has) with both constructions."""
    keys = present(table, TEST_KEYS)
    if not keys:
        raise FigureSkipped(NAME, list(TEST_KEYS.values()), "the pairs are A²M's NB201 pairs")
    ncols = max(len(p) for p in A2M_PAIRS.values())
    fig, axes = new_figure(len(keys), ncols, figsize=(2.5 * ncols + 0.5, 2.3 * len(keys) + 0.5))
    for row, (ds, key) in enumerate(keys.items()):
        values = table.vector_for(key)
        tree = barrier_tree(table.space, values)
        for col, (a, b) in enumerate(A2M_PAIRS[ds]):
            ax = axes[row, col]
            res = a2m_barrier(table.space, values, a, b)
            low = tree.path(a, b, shortest=True)
            plot_barrier_paths(res, low, ax, legend=False)
            with figure_style():
                ax.set_title(
                    f"{dataset_label(ds)}: {a} → {b} (d = {res.distance})\n"
                    f"barrier: A²M {res.barrier:.2f}, lowest {low.barrier:.2f} "
                    f"({low.length} steps)",
                    fontsize=8.5,
                )
                ax.set_ylabel(axis_label(key) if col == 0 else "")
                if row != len(keys) - 1:
                    ax.set_xlabel("")
    with figure_style():
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=2)
        fig.text(
            0.5,
            -0.005,
            "Solid: mean ± std over the level of all d! shortest Hamming paths (A²M). Dashed: "
            "the path over the whole space with the highest worst accuracy (fewest steps among "
            "those). Barrier = endpoints' mean − lowest value on the path.",
            ha="center",
            va="top",
            fontsize=6.5,
            wrap=True,
        )
    note_missing(fig, TEST_KEYS, keys)
    return fig
