"""The NAS-Bench-201 network for any cell space, width and depth.

Layout (NB201's ``TinyNetwork`` with inference cells): a 3x3 conv stem with ``C`` channels + BN;
three stages of ``N`` cells at ``C``, ``2C`` and ``4C`` channels, separated by residual
reduction blocks (ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN, shortcut AvgPool2d(2) + 1x1 conv
without BN); BN + ReLU, global average pooling, a linear classifier. Convs have no bias; every
BN is affine with running statistics, as in the benchmark networks (the parameter counts of
:mod:`.costs` match NB201's stored ones only with affine BN).

Cell node ``j`` is the sum over ``i < j`` of ``op_ij(node_i)``; the cell's output is the last
node. Ops are built from :data:`OP_BUILDERS`; :func:`register_op` adds new ones.

Examples
--------
>>> from nb201_flat.space import NB201
>>> net = Network.from_arch(NB201.arch(11472), num_classes=10)
>>> round(net.params_mb(), 6)
0.559386
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nb201_flat.errors import ArgumentError, InvalidArchError, check_flag, require

require("torch", "train")

import torch  # noqa: E402  (after the friendly missing-dependency check)
from torch import nn  # noqa: E402

from nb201_flat.space import NB201, Arch, Space  # noqa: E402
from nb201_flat.train import costs  # noqa: E402

OpBuilder = Callable[[int], nn.Module]
"""``build(c)``: a module mapping ``c`` channels to ``c`` channels at stride 1."""


class ReLUConvBN(nn.Sequential):
    """ReLU, conv without bias, affine BN (NB201's ``nor_conv_*``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class SepConv(nn.Sequential):
    """ReLU, depthwise conv, pointwise conv, BN (one half of NB201's ``sep_conv``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, padding: int, dilation: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c_in, c_in, kernel, padding=padding, dilation=dilation, groups=c_in, bias=False
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class Zero(nn.Module):
    """The ``none`` op. Cells skip it when summing (adding an exact zero changes nothing)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


OP_BUILDERS: dict[str, OpBuilder] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1),
    "avg_pool_3x3": lambda c: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda c: nn.MaxPool2d(3, stride=1, padding=1),
    "sep_conv_3x3": lambda c: nn.Sequential(SepConv(c, c, 3, 1, 1), SepConv(c, c, 3, 1, 1)),
    "dil_conv_3x3": lambda c: SepConv(c, c, 3, 2, 2),
}
"""Builders of the known cell ops, keyed by the names used in architecture strings."""

BUILT_IN_OPS = frozenset(OP_BUILDERS)
"""The ops this package builds itself, which :func:`register_op` never replaces."""


def register_op(name: str, build: OpBuilder, cost: costs.OpCost, *, replace: bool = False) -> None:
    """Add a cell op: a builder for the network and a cost formula for params/FLOPs.

    A run's results key names its ops by name only, so another module under a name in use
    would store its runs beside (and be skipped as) the old module's: a built-in op is never
    replaced, and an op registered before only with ``replace=True`` (for a database that
    holds no run of the old one). Registering the same builder and cost again changes nothing.

    Parameters
    ----------
    name
        Name used in architecture strings and results keys; must not contain ``| ~ + : , @ #``
        or spaces (a key of its space could not be read back).
    build
        ``build(c)`` returns a module mapping ``c`` to ``c`` channels at stride 1.
    cost
        Its parameter and FLOP formulas (checked against the module by the tests you write).
    replace
        Replace an op registered before under ``name`` (never a built-in one).
    """
    if not isinstance(name, str) or not name or any(ch in name for ch in "|~+ :,@#"):
        raise InvalidArchError(f"op name {name!r} may not be empty or contain any of '|~+ :,@#'")
    replace = check_flag("replace", replace)
    same = OP_BUILDERS.get(name) is build and costs.OP_COSTS.get(name) is cost
    if name in BUILT_IN_OPS and not same:
        raise ArgumentError(
            f"op {name!r} is built in; register yours under a name of its own (e.g. "
            f"{name + '_v2'!r}): runs are keyed by op names, so it would share the built-in "
            "op's results"
        )
    if name in OP_BUILDERS and not (same or replace):
        raise ArgumentError(
            f"op {name!r} is registered already; register this one under a name of its own, "
            "or pass replace=True where no results database holds runs of the old one (runs "
            "are keyed by op names)"
        )
    OP_BUILDERS[name] = build
    costs.OP_COSTS[name] = cost


class ResNetBasicBlock(nn.Module):
    """NB201's residual reduction block: halves the map, changes ``c_in`` to ``c_out``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.downsample(x) + self.conv_b(self.conv_a(x))
        return out


class Cell(nn.Module):
    """A DAG cell: ``node_j = sum_{i<j} op_ij(node_i)``, output = last node.

    Parameters
    ----------
    ops
        Op name per edge in :func:`~nb201_flat.train.costs.cell_edges` order.
    n_nodes
        Number of nodes, input and output included.
    c
        Channels of every node.
    """

    def __init__(self, ops: Sequence[str], n_nodes: int, c: int) -> None:
        super().__init__()
        ops = costs.check_ops(ops, n_nodes)
        missing = sorted({op for op in ops if op not in OP_BUILDERS})
        if missing:
            raise InvalidArchError(f"no builder for op(s) {missing}; use register_op to add one")
        self.n_nodes = n_nodes
        self.edges = costs.cell_edges(n_nodes)
        self.ops = ops
        self.layers = nn.ModuleList(OP_BUILDERS[op](c) for op in ops)
        # "none" edges contribute an exact zero; skipping them saves work without changing
        # any output or gradient (x * 0 added to a sum is a no-op for finite x)
        self._live = [
            [(e, i) for e, (i, j) in enumerate(self.edges) if j == node and ops[e] != "none"]
            for node in range(n_nodes)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, self.n_nodes):
            live = self._live[node]
            if not live:
                nodes.append(torch.zeros_like(x))
                continue
            out = self.layers[live[0][0]](nodes[live[0][1]])
            for e, i in live[1:]:
                out = out + self.layers[e](nodes[i])
            nodes.append(out)
        return nodes[-1]


class Network(nn.Module):
    """The NB201 network.

    Parameters
    ----------
    ops
        Op name per cell edge (``arch.ops`` of a :class:`~nb201_flat.space.Arch`).
    n_nodes
        Nodes per cell (NB201: 4).
    c
        Channels of the first stage (NB201: 16).
    n
        Cells per stage (NB201: 5).
    num_classes
        Classifier outputs (10 CIFAR-10, 100 CIFAR-100, 120 ImageNet16-120).
    """

    def __init__(
        self,
        ops: Sequence[str],
        n_nodes: int = 4,
        *,
        c: int = 16,
        n: int = 5,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        c, n = costs.check_network(c, n)  # the bounds its counts are exact within
        num_classes = costs.check_classes(num_classes)  # True built a 1-class network
        self.ops = costs.check_ops(ops, n_nodes)
        self.n_nodes, self.c, self.n, self.num_classes = n_nodes, c, n, num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(3, c, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c, affine=True, track_running_stats=True),
        )
        blocks: list[nn.Module] = []
        for s in range(costs.N_STAGES):
            cs = c << s
            if s > 0:
                blocks.append(ResNetBasicBlock(cs // 2, cs))
            blocks.extend(Cell(self.ops, n_nodes, cs) for _ in range(n))
        self.cells = nn.Sequential(*blocks)
        c_last = c << (costs.N_STAGES - 1)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_last), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last, num_classes)

    @classmethod
    def from_arch(
        cls,
        arch: Arch | str | int,
        *,
        c: int = 16,
        n: int = 5,
        num_classes: int = 10,
        space: Space = NB201,
    ) -> Network:
        """Network for an :class:`~nb201_flat.space.Arch` of any space, or for an official
        string or index of ``space`` (an int reached ``.ops`` as a bare AttributeError)."""
        a = arch if isinstance(arch, Arch) else space.resolve(arch)
        return cls(a.ops, a.space.n_nodes, c=c, n=n, num_classes=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``(B, 3, H, W)``; ``H`` and ``W`` divisible by 4."""
        out = self.lastact(self.cells(self.stem(x)))
        logits: torch.Tensor = self.classifier(torch.flatten(self.global_pooling(out), 1))
        return logits

    def params_mb(self) -> float:
        """Sum of ``numel`` of all parameters / 1e6 (NB201's ``count_parameters_in_MB``)."""
        return sum(p.numel() for p in self.parameters()) / 1e6


def seeded_network(
    ops: Sequence[str], n_nodes: int, *, c: int, n: int, num_classes: int, seed: int
) -> Network:
    """The network of cell ``ops`` initialised from ``seed``: the weights a training run of
    that seed starts from, alone or in a group.

    Built on the CPU from the CPU generator alone, seeded inside a fork of its state: the
    caller's random state is left as it was (``torch.manual_seed`` would also reseed every
    GPU's generator, which ``fork_rng(devices=[])`` does not restore).
    """
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return Network(tuple(ops), n_nodes, c=c, n=n, num_classes=num_classes)


def count_flops(model: nn.Module, image_size: int) -> int:
    """FLOPs of one forward pass of a ``(1, 3, image_size, image_size)`` input, measured.

    Hook-based, with NB201's rules: ``Conv2d`` output positions x kernel x in/groups x out
    (+ out per position for a bias) and ``Linear`` in x out (+ out for a bias); nothing else
    counts. Used to check the analytic :func:`nb201_flat.train.costs.count_flops`.
    """
    total = 0

    def conv_hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(mod, nn.Conv2d)
        kh, kw = mod.kernel_size
        positions = out.shape[0] * out.shape[2] * out.shape[3]
        total += positions * kh * kw * mod.in_channels * mod.out_channels // mod.groups
        if mod.bias is not None:
            total += positions * mod.out_channels

    def linear_hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(mod, nn.Linear)
        total += out.shape[0] * mod.in_features * mod.out_features
        if mod.bias is not None:
            total += out.shape[0] * mod.out_features

    handles = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total
