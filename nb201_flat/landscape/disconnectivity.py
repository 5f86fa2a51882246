"""Disconnectivity graphs (barrier trees) of the best local optima."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.errors import check_int_range
from nb201_flat.landscape._common import MissingValueError
from nb201_flat.landscape.maximin import BarrierTree, as_tree
from nb201_flat.landscape.statistics import local_optima, measured_cells
from nb201_flat.space import Space


def disconnectivity_graph(
    space: Space,
    values: npt.ArrayLike | None = None,
    *,
    n_optima: int = 20,
    higher_is_better: bool = True,
    connected_only: bool = False,
) -> pd.DataFrame:
    """The barrier tree (disconnectivity graph) of the best local optima, as a tidy frame.

    Leaves are the ``n_optima`` best local optima (no better radius-1 neighbour); sweeping the
    levels from the best down, two groups of leaves merge at the bottleneck level of the best
    path between them -- an internal node. Drawing: leaves at ``level`` (their value), each
    node joined to its ``parent`` at the parent's level.

    Returns
    -------
    pandas.DataFrame
        One row per node: ``node`` (id), ``kind`` (``"optimum"`` or ``"merge"``), ``index``
        (the optimum's architecture, ``<NA>`` for merges), ``level`` (metric units),
        ``parent`` (node id, ``<NA>`` for a root); both nullable ``Int64``; ``n_optima`` (leaves below), ``barrier`` (a node's level
        minus its parent's, oriented; NaN for roots). Several roots mean parts of the space
        that no measured path joins.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 1, 1, 1, 1, 1, 1, 8])
    >>> disconnectivity_graph(space, f)[["kind", "index", "level", "parent"]].values.tolist()
    [['optimum', 0, 9.0, 2], ['optimum', 7, 8.0, 2], ['merge', <NA>, 1.0, <NA>]]
    """
    tree = as_tree(space, values, higher_is_better=higher_is_better, connected_only=connected_only)
    return tree.disconnectivity(n_optima)


def graph_of_tree(tree: BarrierTree, n_optima: int) -> pd.DataFrame:
    """:meth:`BarrierTree.disconnectivity`: the optima's groups followed up the merge hierarchy."""
    n_optima = check_int_range("n_optima", n_optima, 1)
    w = tree.w
    # in the tree's words before local_optima's: tree.disconnectivity took no values
    if not measured_cells(tree.space, w, tree.connected_only).any():
        raise MissingValueError(
            "no local optimum: every architecture is unmeasured (NaN)"
            + (" or disconnected (connected_only)" if tree.connected_only else "")
            + "; pass values that measure some architectures"
        )
    opt = np.nonzero(
        local_optima(
            tree.space,
            tree.values,
            higher_is_better=tree.higher_is_better,
            connected_only=tree.connected_only,
        )
    )[0]
    opt = opt[np.lexsort((opt, -w[opt]))][:n_optima]
    sign = 1.0 if tree.higher_is_better else -1.0
    nodes: list[dict[str, Any]] = [
        {
            "node": k,
            "kind": "optimum",
            "index": int(i),
            "level": float(tree.values[i]),
            "parent": -1,
            "n_optima": 1,
            "_w": float(w[i]),
        }
        for k, i in enumerate(opt.tolist())
    ]
    current: dict[int, int] = {int(i): k for k, i in enumerate(opt.tolist())}
    n = tree.space.size
    for j, ((cx, cy), lev) in enumerate(
        zip(tree.merges.tolist(), tree.edge_level.tolist(), strict=True)
    ):
        nx_, ny_ = current.pop(cx, -1), current.pop(cy, -1)
        if nx_ >= 0 and ny_ >= 0:
            new = len(nodes)
            nodes.append(
                {
                    "node": new,
                    "kind": "merge",
                    "index": -1,
                    "level": sign * lev,
                    "parent": -1,
                    "n_optima": nodes[nx_]["n_optima"] + nodes[ny_]["n_optima"],
                    "_w": lev,
                }
            )
            nodes[nx_]["parent"] = new
            nodes[ny_]["parent"] = new
            current[n + j] = new
        elif nx_ >= 0 or ny_ >= 0:
            current[n + j] = max(nx_, ny_)
    for nd in nodes:
        p = nd["parent"]
        nd["barrier"] = nd["_w"] - nodes[p]["_w"] if p >= 0 else float("nan")
    df = pd.DataFrame(nodes).drop(columns="_w")
    for col in ("index", "parent"):  # nullable: a merge has no arch, a root no parent
        df[col] = df[col].astype("Int64").mask(df[col] < 0)
    return df[["node", "kind", "index", "level", "parent", "n_optima", "barrier"]]
