"""The NB201 network: shapes, parameter counts and FLOPs (analytic vs instantiated)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError, InvalidArchError
from nb201_flat.space import NB201, Space
from nb201_flat.train import costs

torch = pytest.importorskip("torch")
from nb201_flat.train.model import Network, count_flops, register_op  # noqa: E402

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
ALL_OPS = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "sep_conv_3x3",
    "dil_conv_3x3",
)


def numel(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# -- exact expectations worked out by hand ------------------------------------------------------
def test_params_by_hand_all_none() -> None:
    # stem 3*9*16 + 2*16 = 464; reductions 16->32: 9*16*32 + 64 + 9*32*32 + 64 + 16*32 = 14464,
    # 32->64: 57600; last BN 128; classifier 64*10 + 10 = 650 -> 73306
    assert costs.count_params(["none"] * 6, n_nodes=4) == 73306
    assert costs.count_params(["none"] * 6, n_nodes=4, num_classes=100) == 73306 + 64 * 90 + 90


def test_params_by_hand_resnet_cell() -> None:
    # each nor_conv_3x3 adds 5 * sum_C (9 C^2 + 2 C) over C = 16, 32, 64 = 243040
    arch = NB201.parse(RESNET)
    assert costs.count_params(arch.ops, n_nodes=4) == 73306 + 2 * 243040
    assert Network.from_arch(arch).params_mb() == pytest.approx(0.559386, abs=1e-12)


def test_flops_range_matches_nb201_paper() -> None:
    # NB201 reports CIFAR-10 FLOPs from 7.78 M (no conv) to 220.11 M (all nor_conv_3x3)
    assert costs.flops_m(["none"] * 6, n_nodes=4) == pytest.approx(7.78305)
    assert costs.flops_m(["nor_conv_3x3"] * 6, n_nodes=4) == pytest.approx(220.11969)


@pytest.mark.parametrize("bad", [{"c": 2**62}, {"n": 2**62}, {"c": 4097}, {"c": 0}, {"n": -1}])
def test_counts_refuse_a_network_too_large_to_count_exactly(bad: dict[str, int]) -> None:
    # c=2**62 gave a float of 35 digits (and wrapped int64 in the vectorised counts); n=0 is
    # a network without cells (test_shapes_params_flops), so n's range starts at 0
    ((name, value),) = bad.items()
    lo, hi = (1, costs.MAX_C) if name == "c" else (0, costs.MAX_N)
    want = f"^{name} must lie in {lo}\\.\\.{hi}, got {value}; NB201 uses c=16 n=5$"
    ops = ["nor_conv_3x3"] * 6
    for count in (costs.count_params, costs.params_mb, costs.count_flops, costs.flops_m):
        with pytest.raises(ArgumentError, match=want):
            count(ops, n_nodes=4, **bad)
    for of_codes in (costs.params_mb_of_codes, costs.flops_m_of_codes):
        with pytest.raises(ArgumentError, match=want):
            of_codes(NB201.codes[:2], NB201.ops, **bad)
    with pytest.raises(ArgumentError, match=want):  # the network takes the same bounds
        Network(ops, 4, **bad)


@pytest.mark.parametrize("classes", [0, -1, costs.MAX_CLASSES + 1, True, 2.5])
def test_network_takes_the_counts_class_bounds(classes: object) -> None:
    # Network kept its own `num_classes >= 1` (an InvalidArchError): 100,001 classes were
    # built beyond the bound the counts are exact within, and True built one class
    ops = ["nor_conv_3x3"] * 6
    with pytest.raises(ArgumentError) as counted:
        costs.count_params(ops, n_nodes=4, num_classes=classes)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError) as built:
        Network(ops, 4, num_classes=classes)  # type: ignore[arg-type]
    assert str(built.value) == str(counted.value)
    assert str(built.value).startswith("num_classes must ")


@pytest.mark.parametrize(("bad", "want"), [({"c": 4097}, "c must lie in 1..4096, got 4097"),
                                           ({"n": 0}, "n must lie in 1..1000, got 0")])  # fmt: skip
def test_a_training_job_takes_the_commands_network_bounds(bad: dict[str, int], want: str) -> None:
    # make_jobs built jobs of c=0 or n=0 (no cell: ARCH never used) that --C/--N refuse
    from nb201_flat.train.jobs import make_jobs

    with pytest.raises(ArgumentError, match=f"^{re.escape(want)}; NB201 uses c=16 n=5$"):
        make_jobs([0], dataset="cifar10", epochs=1, seeds=[1], data_root="d", db_path="r", **bad)


def test_largest_network_allowed_counts_exactly() -> None:
    # the bound keeps every count below 2**53, so the float totals (/1e6) and the int64 sums of
    # the vectorised counts are exact: the largest cell on the largest dataset classes and images
    big = {"c": costs.MAX_C, "n": costs.MAX_N, "num_classes": 120}
    ops = ["nor_conv_3x3"] * 6
    exact = costs.count_flops(ops, n_nodes=4, image_size=32, **big)
    assert costs.count_params(ops, n_nodes=4, **big) < exact < 2**53
    code = NB201.ops.index("nor_conv_3x3")
    vectorised = costs.flops_m_of_codes([[code] * 6], NB201.ops, image_size=32, **big)
    assert vectorised[0] == exact / 1e6


# -- network shapes -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("space", "c", "n", "classes", "size"),
    [
        (NB201, 16, 5, 10, 32),
        (NB201, 8, 2, 120, 16),
        (Space(ALL_OPS, 5), 4, 1, 7, 16),
        (Space(("skip_connect", "nor_conv_3x3"), 3), 6, 3, 100, 32),
        (Space(("none", "avg_pool_3x3"), 2), 4, 0, 3, 8),
    ],
)
def test_shapes_params_flops(space: Space, c: int, n: int, classes: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for index in rng.choice(space.size, size=min(3, space.size), replace=False):
        arch = space.arch(int(index))
        net = Network.from_arch(arch, c=c, n=n, num_classes=classes)
        out = net(torch.randn(2, 3, size, size))
        assert out.shape == (2, classes)
        kw = {"n_nodes": space.n_nodes, "c": c, "n": n, "num_classes": classes}
        assert numel(net) == costs.count_params(arch.ops, **kw)
        assert count_flops(net, size) == costs.count_flops(arch.ops, image_size=size, **kw)


def test_layout_matches_nb201() -> None:
    net = Network.from_arch(NB201.parse(RESNET))
    blocks = list(net.cells)
    assert len(blocks) == 17  # 5 cells, reduction, 5 cells, reduction, 5 cells
    assert [type(b).__name__ for b in blocks].count("ResNetBasicBlock") == 2
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(bn.affine and bn.track_running_stats for bn in bns)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(conv.bias is None for conv in convs)
    feats = net.cells(net.stem(torch.zeros(1, 3, 32, 32)))
    assert feats.shape == (1, 64, 8, 8)


def test_none_edges_compute_exact_zero() -> None:
    # skipping "none" edges must equal NB201's x * 0 sum: compare with an explicit Zero module
    torch.manual_seed(0)
    arch = NB201.parse("|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|nor_conv_3x3~2|")
    net = Network.from_arch(arch, c=4, n=1).eval()
    cell = net.cells[0]
    x = torch.randn(2, 4, 8, 8)
    nodes = [x]
    for j in range(1, 4):
        terms = [cell.layers[e](nodes[i]) for e, (i, jj) in enumerate(cell.edges) if jj == j]
        nodes.append(sum(terms[1:], terms[0]))
    assert torch.equal(cell(x), nodes[-1])


def test_all_none_cell_still_trains_bn() -> None:
    # a node with only "none" inputs is zero, but a conv after it still outputs its BN bias,
    # so the (disconnected) last cell's ops still learn, as in NB201
    arch = NB201.parse("|none~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|nor_conv_1x1~2|")
    net = Network.from_arch(arch, c=4, n=1)
    net(torch.randn(4, 3, 8, 8)).sum().backward()
    assert net.cells[-1].layers[5][2].bias.grad is not None
    # earlier layers cannot influence the output; their gradient is None (NB201: zeros)
    assert net.stem[0].weight.grad is None


def test_deterministic_init_with_seed() -> None:
    torch.manual_seed(3)
    a = Network.from_arch(NB201.arch(5), c=4, n=1)
    torch.manual_seed(3)
    b = Network.from_arch(NB201.arch(5), c=4, n=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


# -- analytic counts on a sample of NB201, vectorised form ---------------------------------------
def test_vectorised_counts_equal_instantiated_sample() -> None:
    rng = np.random.default_rng(1)
    sample = rng.choice(NB201.size, size=12, replace=False)
    for classes, size in ((10, 32), (100, 32), (120, 16)):
        p = costs.params_mb_of_codes(NB201.codes[sample], NB201.ops, num_classes=classes)
        f = costs.flops_m_of_codes(
            NB201.codes[sample], NB201.ops, num_classes=classes, image_size=size
        )
        for k, i in enumerate(sample[:4]):
            net = Network.from_arch(NB201.arch(int(i)), num_classes=classes)
            assert p[k] == numel(net) / 1e6
            assert f[k] == count_flops(net, size) / 1e6
        for k, i in enumerate(sample):
            ops = NB201.arch(int(i)).ops
            assert p[k] == costs.params_mb(ops, n_nodes=4, num_classes=classes)


# -- bad input ----------------------------------------------------------------------------------
def test_unknown_op_is_a_clear_error() -> None:
    with pytest.raises(InvalidArchError, match="unknown op.*'conv_7x7'.*known ops are none"):
        Network(["conv_7x7"] + ["none"] * 5, 4)
    with pytest.raises(InvalidArchError, match="4 nodes has 6 edges, but 5 ops"):
        costs.count_params(["none"] * 5, n_nodes=4)
    with pytest.raises(InvalidArchError, match="unknown op"):
        costs.params_mb_of_codes([[0]], ["bogus"])
    with pytest.raises(ArgumentError, match="^image_size must be divisible by 4"):
        costs.flops_m(["none"] * 6, n_nodes=4, image_size=30)


def test_register_op_extends_model_and_costs() -> None:
    cost = costs.OpCost(params=lambda c: c * c, flops=lambda c, hw: c * c * hw)
    register_op("lin_1x1_test", lambda c: torch.nn.Conv2d(c, c, 1, bias=False), cost)
    try:
        space = Space(("none", "lin_1x1_test"), 3)
        arch = space.arch(space.size - 1)
        net = Network.from_arch(arch, c=4, n=1)
        kw = {"n_nodes": 3, "c": 4, "n": 1}
        assert numel(net) == costs.count_params(arch.ops, **kw)
        assert count_flops(net, 16) == costs.count_flops(arch.ops, image_size=16, **kw)
    finally:
        from nb201_flat.train.model import OP_BUILDERS

        OP_BUILDERS.pop("lin_1x1_test")
        costs.OP_COSTS.pop("lin_1x1_test")
    with pytest.raises(InvalidArchError, match="may not"):
        register_op("a|b", lambda c: torch.nn.Identity(), cost)


# -- real data ----------------------------------------------------------------------------------
@pytest.mark.realdata
def test_params_equal_stored_except_150(nb201_mean_csv: Path) -> None:
    df = pd.read_csv(nb201_mean_csv).sort_values("index").reset_index(drop=True)
    assert len(df) == NB201.size
    assert (df["arch_str"] == NB201.strings()).all()
    bad = {}
    for col, classes in (
        ("params_mb_c10_stored", 10),
        ("params_mb_c100_stored", 100),
        ("params_mb_in16_stored", 120),
    ):
        ours = costs.params_mb_of_codes(NB201.codes, NB201.ops, num_classes=classes)
        bad[classes] = set(np.flatnonzero(np.abs(ours - df[col].to_numpy()) > 5e-7))
    assert len(bad[10]) == 150
    assert bad[10] == bad[100] == bad[120]  # the same 150 archs for every dataset

    # every mismatch equals the analytic count of another cell with the same NATS isomorphism
    # key (``unique_str``): the key writes a node used twice as two terms, so cells with a
    # shared op and cells with two separate ops collide, and the stored size came from the
    # other member of the class
    ours10 = costs.params_mb_of_codes(NB201.codes, NB201.ops, num_classes=10)
    members = df.groupby("unique_str")["index"].apply(list)
    for i in bad[10]:
        same_key = members[df.at[i, "unique_str"]]
        stored = df.at[i, "params_mb_c10_stored"]
        assert any(abs(ours10[j] - stored) < 5e-7 for j in same_key if j != i)
    # most of them have skip_connect on edge (0, 1): node 1 is then a copy of the input
    first_edge_skip = sum(NB201.arch(int(i)).ops[0] == "skip_connect" for i in bad[10])
    assert first_edge_skip == 120
