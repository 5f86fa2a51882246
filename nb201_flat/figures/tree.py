"""The barrier tree (disconnectivity graph) of the best basins.

Leaves are the best local optima (no better radius-1 neighbour) among connected cells, drawn at
their test accuracy; two groups of leaves join at the highest level from which a path between
them never drops below it (the bottleneck of the lowest-barrier path). A leaf's vertical line
is its barrier: how far one must descend to reach a better basin. Leaves are coloured by the
mean accuracy of their radius-1 neighbours (flat optima are bright).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from nb201_flat.errors import ArgumentError
from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    add_caption,
    axes_or_new,
    axis_label,
    check_cmap,
    check_frame,
    check_limits,
    dataset_label,
    new_figure,
    note_missing,
    note_stand_ins,
    note_unmeasured,
    present,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import StandIns, barrier_tree, flatness
from nb201_flat.space import in_index_order
from nb201_flat.table import PER_ARCH_FIX, Table, float_values

NAME = "barrier_tree"


def tree_layout(graph: pd.DataFrame) -> dict[int, float]:
    """x position of every node: leaves 0, 1, 2, ... in depth-first order (better subtree
    first), a merge node at the middle of its children."""
    children: dict[int, list[int]] = {}
    level = dict(zip(graph["node"].tolist(), graph["level"].tolist(), strict=True))
    best: dict[int, float] = {}
    for node, parent in zip(graph["node"].tolist(), graph["parent"].tolist(), strict=True):
        if parent is not pd.NA:
            children.setdefault(int(parent), []).append(int(node))

    def best_leaf(n: int) -> float:
        if n not in best:
            kids = children.get(n, [])
            best[n] = max((best_leaf(k) for k in kids), default=level[n])
        return best[n]

    x: dict[int, float] = {}
    next_leaf = 0

    def place(n: int) -> float:
        nonlocal next_leaf
        kids = sorted(children.get(n, []), key=lambda k: (-best_leaf(k), k))
        if not kids:
            x[n] = float(next_leaf)
            next_leaf += 1
        else:
            xs = [place(k) for k in kids]
            x[n] = 0.5 * (min(xs) + max(xs))
        return x[n]

    roots = graph.loc[graph["parent"].isna(), "node"].tolist()
    for r in sorted(roots, key=lambda n: (-best_leaf(int(n)), int(n))):
        place(int(r))
    return x


def plot_disconnectivity(
    graph: pd.DataFrame,
    ax: Axes | None = None,
    *,
    colour_values: npt.ArrayLike | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str | None = None,
) -> Axes:
    """Draw a disconnectivity graph from :func:`~nb201_flat.landscape.disconnectivity_graph`.

    Parameters
    ----------
    colour_values
        A value per architecture (e.g. neighbourhood mean) colouring the leaves; the leaf
        scatter is ``ax.collections[-1]`` for a colour bar. Plain markers when None.
    vmin, vmax, cmap
        The colour scale of ``colour_values`` (default: the range of the leaves' values,
        ``"viridis"``); refused without them. Ends taken from the values that meet (one leaf,
        or leaves of one value) are moved 0.5 apart, so a colour bar is centred on that value
        rather than on matplotlib's ±10 % of it.
    """
    # an array said "graph has no local optimum to draw"
    check_frame(graph, "graph", "barrier_tree(space, values).disconnectivity(20)")
    ax = axes_or_new(ax)
    has_leaf = "kind" in graph and bool((graph["kind"] == "optimum").any())
    if not has_leaf:
        raise ArgumentError(
            "graph has no local optimum to draw; pass a disconnectivity graph, e.g. "
            "barrier_tree(space, values).disconnectivity(20)"
        )
    if colour_values is None and (cmap, vmin, vmax) != (None, None, None):
        raise ArgumentError(
            "cmap, vmin and vmax set the colour scale of colour_values; pass colour_values "
            "too, or leave them out"
        )
    cmap = check_cmap("viridis" if cmap is None else cmap)
    vmin, vmax = check_limits(vmin, vmax)
    if colour_values is not None:
        size = int(graph["index"].max()) + 1
        if isinstance(colour_values, pd.Series):  # read by its index, as every per-arch vector
            # over its own length: the graph does not know the space's size
            colour_values = in_index_order(colour_values, len(colour_values), "colour_values")
        # text, complex numbers and dates refused (float64 parsed '1.5', dropped imaginary parts)
        colour_values = float_values(colour_values, "colour_values", fix=PER_ARCH_FIX)
        if colour_values.ndim != 1 or colour_values.size < size:
            raise ArgumentError(
                f"colour_values must hold one value per architecture (indexed by the graph's "
                f"'index'), got shape {colour_values.shape}; pass e.g. a metric vector of the table"
            )
    x = tree_layout(graph)
    lv = dict(zip(graph["node"].tolist(), graph["level"].tolist(), strict=True))
    segs = []
    for node, parent in zip(graph["node"].tolist(), graph["parent"].tolist(), strict=True):
        if parent is not pd.NA:
            segs.append([(x[node], lv[node]), (x[node], lv[parent])])  # drop to the merge
            segs.append([(x[node], lv[parent]), (x[parent], lv[parent])])  # across to it
    levels = graph["level"].to_numpy(dtype=np.float64)
    span = float(levels.max() - levels.min()) or 1.0
    for root in graph.loc[graph["parent"].isna(), "node"].tolist():
        # a stub below each root: the tree continues into the rest of the landscape
        segs.append([(x[root], lv[root]), (x[root], lv[root] - 0.06 * span)])
    leaves = graph[graph["kind"] == "optimum"]
    lx = np.array([x[n] for n in leaves["node"].tolist()])
    with figure_style():
        ax.add_collection(LineCollection(segs, colors="0.25", linewidths=0.9))
        if colour_values is not None:
            cv = np.asarray(colour_values, dtype=np.float64)[
                leaves["index"].to_numpy(dtype=np.int64)
            ]
            vmin, vmax = _colour_range(cv, vmin, vmax)
            ax.scatter(
                lx,
                leaves["level"],
                c=cv,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                s=28,
                edgecolors="black",
                linewidths=0.5,
                zorder=3,
            )
        else:
            ax.scatter(lx, leaves["level"], s=20, color="black", zorder=3)
        ax.set_xticks(lx, [str(i) for i in leaves["index"].tolist()], rotation=90, fontsize=6.5)
        ax.set_xlim(-0.7, lx.max() + 0.7 if lx.size else 0.7)
        ax.set_ylim(levels.min() - 0.1 * span, levels.max() + 0.05 * span)
        ax.set_xlabel("local optimum (architecture index)")
        ax.grid(False, axis="x")
        ax.tick_params(axis="x", length=0)
    return ax


def _colour_range(
    values: npt.NDArray[np.float64], vmin: float | None, vmax: float | None
) -> tuple[float | None, float | None]:
    """The colour scale's ends: ``vmin`` and ``vmax`` where given, else the measured
    ``values``' range; ends taken from the values that meet are moved 0.5 apart (matplotlib
    spread one value 91.84 over 82.65 to 101.02, a bar ticked up to 100 %)."""
    measured = values[np.isfinite(values)]
    if not measured.size:  # no leaf has a colour: nothing to take the ends from
        return vmin, vmax
    lo = float(measured.min()) if vmin is None else vmin
    hi = float(measured.max()) if vmax is None else vmax
    if lo == hi:
        lo, hi = (lo - 0.5 if vmin is None else lo), (hi + 0.5 if vmax is None else hi)
    return lo, hi


def make_barrier_tree(
    table: Table, *, n_optima: int = 20, connected_only: bool | None = None
) -> Figure:
    """Barrier trees of the ``n_optima`` best local optima, one panel per dataset the table
    has (test accuracy at 200 epochs). ``connected_only`` (default: where the space has
    disconnected cells, which a space without an op ``none`` has not): the trees through
    connected cells only."""
    keys = present(table, TEST_KEYS)
    if not keys:
        # any accuracy will do for a single tree
        raise FigureSkipped(NAME, list(TEST_KEYS.values()), any_of=True)
    if connected_only is None:  # True on such a space is refused: it would drop nothing
        connected_only = not bool(table.space.connected.all())
    graphs, colours = [], []
    for key in keys.values():
        values = table.vector_for(key)
        tree = barrier_tree(table.space, values, connected_only=connected_only)
        graphs.append(tree.disconnectivity(n_optima))
        # a retraining table's copies of a cell are no neighbours of it
        stand = StandIns.of(table, key.dataset, key.epochs)
        flat = flatness(table.space, values, 1, columns=["mean"], stand_ins=stand)
        colours.append(flat["mean"].to_numpy(dtype=np.float64))
    fig, axes = new_figure(1, len(keys), figsize=(3.4 * len(keys) + 0.6, 3.6))
    for key in keys.values():  # the colours leave a cell's copies out; the tree cannot
        note_unmeasured(
            fig,
            key,
            table.vector_for(key),
            "the tree (no path passes through them) and the neighbour means",
        )
        note_stand_ins(fig, table, key, "the barrier tree")
    for k, ((ds, key), g, c) in enumerate(zip(keys.items(), graphs, colours, strict=True)):
        ax = axes[0, k]
        # the colour scale spans the leaves' measured neighbour means (a leaf with no measured
        # neighbour has no colour)
        plot_disconnectivity(g, ax, colour_values=c)
        with figure_style():
            n_leaves = int((g["kind"] == "optimum").sum())
            optima = "optimum" if n_leaves == 1 else "optima"
            ax.set_title(
                f"({'abc'[k % 3]}) {dataset_label(ds)}: {n_leaves} best local {optima}",
                fontsize=9,
            )
            ax.set_ylabel(axis_label(key))
            cbar = fig.colorbar(ax.collections[-1], ax=ax, shrink=0.8, pad=0.01)
            cbar.set_label("radius-1 neighbour mean (%)", fontsize=7.5)
            cbar.ax.tick_params(labelsize=7)
    with figure_style():
        add_caption(
            fig,
            table,
            # fewer leaves than n_optima when the landscape has fewer local optima
            # validated by disconnectivity above: a whole float 5.0 is captioned 5
            f"Leaves: the best local optima (at most {int(n_optima)})"
            f"{' among connected cells' if connected_only else ''}"
            " (no better radius-1 neighbour); branches join at the level of the best path "
            "between them (its lowest accuracy). Colour: mean test accuracy of each optimum's "
            "radius-1 neighbours.",
        )
    note_missing(fig, TEST_KEYS, keys)
    return fig
