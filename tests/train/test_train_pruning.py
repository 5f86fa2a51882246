"""Pruning dead edges changes no logit and no gradient of the live weights."""

from __future__ import annotations

import itertools

import pytest

from nb201_flat.space import NB201
from nb201_flat.train import costs
from nb201_flat.train.pruning import reaches_output, useful_edges

torch = pytest.importorskip("torch")
from nb201_flat.train.model import seeded_network  # noqa: E402
from nb201_flat.train.pruning import prune_network  # noqa: E402

# edges (0,1) (0,2) (1,2) (0,3) (1,3) (2,3): node 2 receives a convolution and a pooling but
# feeds nothing (its edge to the output is none)
DEAD = ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect", "none")


def brute_reach(ops: tuple[str, ...], n_nodes: int) -> tuple[bool, ...]:
    # a node reaches the output iff some path of non-none edges leads there
    edges = costs.cell_edges(n_nodes)
    succ = {i: [j for e, (a, j) in enumerate(edges) if a == i and ops[e] != "none"] for i in
            range(n_nodes)}  # fmt: skip

    def go(i: int) -> bool:
        return i == n_nodes - 1 or any(go(j) for j in succ[i])

    return tuple(go(i) for i in range(n_nodes))


def test_reach_matches_path_search_on_every_nb201_cell() -> None:
    for i in range(NB201.size):
        ops = NB201.arch(i).ops
        assert reaches_output(ops, 4) == brute_reach(ops, 4)
    for ops in itertools.islice(
        itertools.product(("none", "skip_connect"), repeat=10), 0, None, 37
    ):
        assert reaches_output(ops, 5) == brute_reach(ops, 5)
    assert useful_edges(DEAD, 4) == (True, False, False, True, True, False)


def test_pruned_network_is_bitwise_the_same_function_and_update() -> None:
    full = seeded_network(DEAD, 4, c=4, n=1, num_classes=10, seed=5)
    pruned = seeded_network(DEAD, 4, c=4, n=1, num_classes=10, seed=5)
    assert prune_network(pruned) == 2 * 3  # two dead edges in each of the 3 cells
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.arange(6) % 10
    outs = []
    for net in (full, pruned):
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                              weight_decay=5e-4)  # fmt: skip
        logits = net(x)
        torch.nn.functional.cross_entropy(logits, y).backward()
        opt.step()
        outs.append((logits.detach(), dict(net.named_parameters())))
    assert torch.equal(outs[0][0], outs[1][0])
    for name, p in outs[0][1].items():
        assert torch.equal(p, outs[1][1][name]), name
    # the dead edges' weights got no gradient in the full network either
    dead = [n for n, p in full.named_parameters() if p.grad is None]
    assert dead and all(".layers.1." in n or ".layers.2." in n for n in dead)
