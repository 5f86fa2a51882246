"""networkx views of cells and of the space, built on demand (never on a hot path).

Building the 15,625-node NB201 space graph takes about a second; the numpy neighbour arrays
of :meth:`~nb201_flat.space.Space.neighbours` answer the same questions far faster, so use
these views for drawing and for graph algorithms that have no array form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from nb201_flat.errors import ArgumentError, InvalidArchError, check_flag
from nb201_flat.neighbours import arch_vector
from nb201_flat.space import Arch, Space, check_space


def cell_graph(arch: Arch, *, drop_none: bool = False) -> Any:
    """The cell as a ``networkx.DiGraph``: nodes ``0..n-1``, each edge labelled ``op=``.

    Examples
    --------
    >>> from nb201_flat.space import NB201
    >>> g = cell_graph(NB201.arch(11472), drop_none=True)
    >>> sorted((i, j, d["op"]) for i, j, d in g.edges(data=True))[:2]
    [(0, 1, 'nor_conv_3x3'), (0, 3, 'skip_connect')]
    """
    if not isinstance(arch, Arch):
        raise InvalidArchError(
            f"cell_graph needs an Arch, got {type(arch).__name__}; pass space.resolve(x)"
        )
    drop_none = check_flag("drop_none", drop_none)  # "no" dropped the none edges
    if drop_none and "none" not in arch.space.ops:  # it dropped nothing, without a word
        raise ArgumentError(
            "drop_none=True needs an op named 'none' in the space; drop drop_none for this space"
        )
    g = nx.DiGraph(arch=arch.to_str())
    g.add_nodes_from(range(arch.space.n_nodes))
    for (i, j), op in zip(arch.space.edges, arch.ops, strict=True):
        if drop_none and op == "none":
            continue
        g.add_edge(i, j, op=op)
    return g


def space_graph(
    space: Space,
    *,
    values: Sequence[float] | np.ndarray | None = None,
    no_none: bool = False,
    connected_only: bool = False,
    labels: bool = False,
) -> Any:
    """The space as an undirected ``networkx.Graph`` whose edges are single-op changes.

    Nodes are indices; ``values`` (one per index) become the node attribute ``value`` and
    ``labels=True`` adds ``arch`` strings. Filters are those of ``space.neighbours(1, ...)``;
    ``no_none`` makes the graph directed-in-spirit (a change *to* none is dropped, the change
    back is kept), so it returns a ``DiGraph`` in that case.

    Examples
    --------
    >>> from nb201_flat.space import NB201
    >>> g = space_graph(NB201)
    >>> g.number_of_nodes(), g.number_of_edges()
    (15625, 187500)
    """
    space = check_space(space)  # a str met an AttributeError on .neighbours
    labels = check_flag("labels", labels)  # "no" added the arch strings
    v = None if values is None else arch_vector(values, space.size)
    nb = space.neighbours(1, no_none=no_none, connected_only=connected_only)
    g: Any = nx.DiGraph() if no_none else nx.Graph()
    g.add_nodes_from(range(space.size))
    rows = np.repeat(np.arange(space.size), nb.counts)
    _, cols = nb.to_csr()
    pairs = np.stack([rows, cols], axis=1)
    if not no_none:
        pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    if connected_only:
        keep = space.connected[pairs[:, 0]] & space.connected[pairs[:, 1]]
        pairs = pairs[keep]
        g.remove_nodes_from(np.flatnonzero(~space.connected).tolist())
    g.add_edges_from(pairs.tolist())
    if v is not None:
        nx.set_node_attributes(g, {int(n): float(v[n]) for n in g.nodes}, "value")
    if labels:
        strings = space.strings()
        nx.set_node_attributes(g, {int(n): strings[n] for n in g.nodes}, "arch")
    return g
