"""K grouped networks equal K separate ones: logits, and weights after training steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.errors import ArgumentError
from nb201_flat.train.modes import FAITHFUL
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.grouped import GroupedNetworks, GroupedSession, seeded_network  # noqa: E402
from nb201_flat.train.trainer import DeviceData, Session  # noqa: E402

OPS = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3")
SEEDS = [777, 888, 999]


def test_grouped_logits_equal_separate_networks() -> None:
    g = GroupedNetworks(OPS, 4, c=4, n=1, num_classes=10, seeds=SEEDS)
    x = torch.randn(len(SEEDS), 5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    nets = [seeded_network(OPS, 4, c=4, n=1, num_classes=10, seed=s) for s in SEEDS]
    # train mode first: it updates the running statistics that eval mode then reads
    for train_mode in (True, False):
        g.train(train_mode)
        out = g(x)
        for k, net in enumerate(nets):
            torch.testing.assert_close(out[k], net.train(train_mode)(x[k]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ArgumentError, match="at least one seed"):
        GroupedNetworks(OPS, 4, c=4, n=1, num_classes=10, seeds=[])


def make(data: object, recipe: Recipe) -> tuple[GroupedSession, list[Session]]:
    group = GroupedSession(data, OPS, 4, c=4, n=1, seeds=SEEDS, recipe=recipe)
    singles = [
        Session(data, OPS, 4, c=4, n=1, seed=s, recipe=recipe, mode=FAITHFUL)  # type: ignore[arg-type]
        for s in SEEDS
    ]
    return group, singles


def test_grouped_training_equals_separate_sessions(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path)
    data = DeviceData(load_dataset("cifar10", root), torch.device("cpu"))
    recipe = Recipe(epochs=2, batch_size=32)  # 80 images: 3 steps, the last one partial

    # one step: every weight and BatchNorm statistic of every member equals its single run
    group, singles = make(data, recipe)
    group.train_epoch(max_steps=1)
    for k, sess in enumerate(singles):
        sess.train_epoch(max_steps=1)
        mine, theirs = group.model.member_state(k), sess.model.state_dict()
        assert mine.keys() == theirs.keys()
        for name, value in theirs.items():
            torch.testing.assert_close(mine[name], value, rtol=1e-5, atol=1e-6, msg=name)
    # the members really differ (different seeds), so the equality is not vacuous
    a, b = group.model.member_state(0), group.model.member_state(1)
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])

    # whole epochs (partial last batch, per-epoch LR): the same losses per member; weights
    # drift apart only by float rounding amplified by lr 0.1 on 80 random images
    group, singles = make(data, recipe)
    for _ in range(2):
        losses, seen = group.train_epoch()
        assert seen == 80
        for k, sess in enumerate(singles):
            loss, _, _ = sess.train_epoch()
            assert losses[k] == pytest.approx(loss, rel=1e-4)
