"""Skip the work that cannot change an output: edges into nodes that never reach the cell output.

In a cell ``node_j = sum_i op_ij(node_i)``, a node whose outgoing edges are all ``none`` (and
that is not the output) is computed and thrown away; so is every edge into it, recursively.
Removing those edges from the forward pass leaves every logit and every gradient of the
remaining weights bit-for-bit unchanged: the dead edges' weights are not in the loss graph, so
their gradients are ``None`` and SGD never touches them, pruned or not. Only the running
statistics of their BatchNorm layers, which no output reads, stop being updated. (xautodl's
``Zero`` op multiplies by 0 inside the graph instead: there such weights get zero gradients,
and SGD's weight decay and momentum still shrink them. No output reads them, so every number
stored is the same, but a checkpoint of such a cell differs from xautodl's in those weights
and their BatchNorm statistics.) Pruning
happens after the network is built, so weight initialisation consumes the same random numbers
and a pruned run starts from the same weights as an unpruned one.

Examples
--------
>>> ops = ("nor_conv_3x3", "nor_conv_3x3", "none", "skip_connect", "none", "none")
>>> useful_edges(ops, 4)  # nodes 1 and 2 feed nothing: the edges into them are wasted
(False, False, False, True, False, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nb201_flat.train.costs import cell_edges, check_ops


def reaches_output(ops: Sequence[str], n_nodes: int) -> tuple[bool, ...]:
    """Per node: does it reach the output node through non-``none`` edges?

    ``ops`` are checked as a cell's (:func:`~nb201_flat.train.costs.check_ops`): another
    node count's ops were answered silently, one op name read letter by letter.

    >>> reaches_output(("skip_connect", "none", "none", "none", "none", "nor_conv_1x1"), 4)
    (False, False, True, True)
    >>> reaches_output(("skip_connect",) * 10, 4)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.InvalidArchError: a cell with 4 nodes has 6 edges, but 10 ops were given
    """
    # check_ops takes a whole float (4.0) as a node count; range() needs the int
    return _reach(check_ops(ops, n_nodes), int(n_nodes))


def _reach(ops: tuple[str, ...], n_nodes: int) -> tuple[bool, ...]:
    """:func:`reaches_output` of checked ops."""
    edges = cell_edges(n_nodes)
    reach = [False] * n_nodes
    reach[-1] = True
    for node in range(n_nodes - 2, -1, -1):
        reach[node] = any(
            i == node and ops[e] != "none" and reach[j] for e, (i, j) in enumerate(edges)
        )
    return tuple(reach)


def useful_edges(ops: Sequence[str], n_nodes: int) -> tuple[bool, ...]:
    """Per edge: is it a non-``none`` edge whose target node reaches the output? ``ops`` are
    checked as :func:`reaches_output` checks them."""
    ops, n_nodes = check_ops(ops, n_nodes), int(n_nodes)
    reach = _reach(ops, n_nodes)
    return tuple(
        op != "none" and reach[j] for op, (_, j) in zip(ops, cell_edges(n_nodes), strict=True)
    )


def prune_network(model: Any) -> int:
    """Drop dead edges from every cell's forward pass (in place); returns how many were dropped.

    ``model`` is a :class:`~nb201_flat.train.model.Network`; its parameters are kept (the
    state dict, parameter count and checkpoints are unchanged), only never computed.
    """
    dropped = 0
    for cell in model.modules():
        live = getattr(cell, "_live", None)
        if live is None or not hasattr(cell, "edges"):
            continue
        keep = useful_edges(cell.ops, cell.n_nodes)
        for node, pairs in enumerate(live):
            kept = [(e, i) for e, i in pairs if keep[e]]
            dropped += len(pairs) - len(kept)
            live[node] = kept
    return dropped
