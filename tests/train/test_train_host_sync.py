"""The learning rate is a Python float in both modes: torch's eager SGD reads a tensor one back
to the host in every step (a CUDA synchronisation; the steps themselves are checked in
test_train_gpu.py, on a CPU too); checkpoints holding a tensor learning rate resume with a float.
"""

from __future__ import annotations

from typing import Any

import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.train.modes import FAITHFUL, FAST, TrainMode
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from host_reads import HostReads  # noqa: E402

from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.grouped import GroupedSession  # noqa: E402
from nb201_flat.train.trainer import DeviceData, Session  # noqa: E402

OPS = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3")
RECIPE = Recipe(epochs=2, batch_size=32)  # the tiny CIFAR-10's 80 images: 3 steps an epoch


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = write_tiny_cifar10(tmp_path_factory.mktemp("cifar"))
    return DeviceData(load_dataset("cifar10", root), torch.device("cpu"))


def reads_per_epoch(epoch: Any, max_steps: int | None) -> list[str]:
    with HostReads() as rec:
        epoch(max_steps=max_steps)
    return rec.seen


@pytest.mark.parametrize("mode", [FAITHFUL, FAST], ids=lambda m: m.tag)
def test_the_learning_rate_is_a_float(data: Any, mode: TrainMode) -> None:
    sess = Session(data, OPS, 4, c=4, n=1, seed=0, recipe=RECIPE, mode=mode)
    group = GroupedSession(data, OPS, 4, c=4, n=1, seeds=[1, 2], recipe=RECIPE, mode=mode)
    assert isinstance(sess.opt.param_groups[0]["lr"], float)
    assert isinstance(group.opt.param_groups[0]["lr"], float)


def test_the_probe_sees_a_tensor_learning_rates_host_read() -> None:
    # the control: torch's SGD with a tensor LR reads it back in every step
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=torch.tensor(0.05), momentum=0.9, nesterov=True)
    p.grad = torch.ones(3)
    with HostReads() as rec:
        opt.step()
        opt.step()
    assert len(rec.seen) == 2


def test_a_checkpoint_with_a_tensor_learning_rate_resumes_with_floats(data: Any) -> None:
    def session() -> Session:
        return Session(data, OPS, 4, c=4, n=1, seed=3, recipe=RECIPE, mode=FAST)

    trained = session()
    trained.train_epoch()
    state = trained.state()
    # as fast mode saved it before its learning rate became a float
    for group in state["optimizer"]["param_groups"]:
        for name in ("lr", "initial_lr"):
            group[name] = torch.tensor(group[name], dtype=torch.float32)
    for name in ("base_lrs", "_last_lr"):
        state["scheduler"][name] = [torch.tensor(v) for v in state["scheduler"][name]]

    resumed = session()
    resumed.load_state(state)
    group = resumed.opt.param_groups[0]
    assert isinstance(group["lr"], float) and isinstance(group["initial_lr"], float)
    assert all(isinstance(v, float) for v in resumed.sched.base_lrs + resumed.sched._last_lr)
    # the value those runs stepped with: the float32 of the saved learning rate
    saved = trained.opt.param_groups[0]["lr"]
    assert group["lr"] == float(torch.tensor(saved, dtype=torch.float32)) != RECIPE.lr
    assert reads_per_epoch(resumed.train_epoch, 1) == reads_per_epoch(resumed.train_epoch, None)
