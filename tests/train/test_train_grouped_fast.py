"""Grouped training in fast mode: K grouped networks equal K separate fast runs (bf16 rounding
aside), under the fast results key; channels-last layout of the vmapped convolutions."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.train.modes import FAITHFUL, FAST
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.grouped import GroupedNetworks, GroupedSession  # noqa: E402
from nb201_flat.train.trainer import DeviceData, Session  # noqa: E402

# node 2 feeds nothing (its only outgoing edge, 2->3, is none): fast mode prunes the edges into
# it (edges 1 and 2 of the NB201 order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)
OPS = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "nor_conv_3x3", "none")
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"
SEEDS = [777, 888, 999]
# bf16 keeps 8 mantissa bits (relative rounding 2**-8 = 0.4 %); a grouped convolution sums in
# another order than a single one, so values agree to a few bf16 roundings, not bitwise
BF16 = {"rtol": 3e-2, "atol": 3e-2}


def build(data: DeviceData, recipe: Recipe, mode: object) -> tuple[GroupedSession, list[Session]]:
    group = GroupedSession(data, OPS, 4, c=4, n=1, seeds=SEEDS, recipe=recipe, mode=mode)  # type: ignore[arg-type]
    singles = [
        Session(data, OPS, 4, c=4, n=1, seed=s, recipe=recipe, mode=mode)  # type: ignore[arg-type]
        for s in SEEDS
    ]
    return group, singles


def test_grouped_fast_equals_separate_fast_sessions(tmp_path: Path) -> None:
    data = DeviceData(load_dataset("cifar10", write_tiny_cifar10(tmp_path)), torch.device("cpu"))
    recipe = Recipe(epochs=2, batch_size=32)  # 80 images: 3 steps, the last one partial
    group, singles = build(data, recipe, FAST)
    # what fast mode means on a CPU, as for a single session: bf16 autocast, pruned dead
    # edges; no compilation and no channels-last (CUDA only)
    assert group.amp and all(s.amp for s in singles)
    assert group.fwd is group.model and not group.model.channels_last
    live = [cell._live for cell in group.model.base.modules() if hasattr(cell, "_live")]
    kept = {e for cells in live for node in cells for e, _ in node}
    assert live and kept == {0, 3, 4}

    # one step: every member's weights and BatchNorm statistics as its single fast run's
    group.train_epoch(max_steps=1)
    for k, sess in enumerate(singles):
        sess.train_epoch(max_steps=1)
        mine, theirs = group.model.member_state(k), sess.model.state_dict()
        assert mine.keys() == theirs.keys()
        for name, value in theirs.items():
            torch.testing.assert_close(mine[name], value, **BF16, msg=name)
    # whole epochs: the same losses and accuracies per member, within bf16 rounding
    group, singles = build(data, recipe, FAST)
    for _ in range(2):
        losses, _accs, seen = group.train_epoch_stats()
        assert seen == 80
        for k, sess in enumerate(singles):
            loss, _acc, _ = sess.train_epoch()
            assert losses[k] == pytest.approx(loss, rel=3e-2)
    ev_g = group.evaluate()
    for k, sess in enumerate(singles):
        ev_s = sess.evaluate()
        assert ev_g[k].keys() == ev_s.keys() == {"ori-test"}
        assert ev_g[k]["ori-test"][0] == pytest.approx(ev_s["ori-test"][0], rel=3e-2)

    # the grouped step really runs in bf16: a faithful group's numbers are not the same
    faithful, _ = build(data, recipe, FAITHFUL)
    f_losses, _, _ = faithful.train_epoch_stats(max_steps=1)
    g_fast, _ = build(data, recipe, FAST)
    b_losses, _, _ = g_fast.train_epoch_stats(max_steps=1)
    assert f_losses != b_losses and f_losses == pytest.approx(b_losses, rel=3e-2)


def test_grouped_fast_member_states_resume(tmp_path: Path) -> None:
    data = DeviceData(load_dataset("cifar10", write_tiny_cifar10(tmp_path)), torch.device("cpu"))
    recipe = Recipe(epochs=3, batch_size=32)
    clean, _ = build(data, recipe, FAST)
    clean.train_epoch()
    states = clean.member_states()
    resumed, singles = build(data, recipe, FAST)
    resumed.load_member_states(states)
    assert resumed.opt.param_groups[0]["lr"] == clean.opt.param_groups[0]["lr"]
    a, _, _ = clean.train_epoch_stats()
    b, _, _ = resumed.train_epoch_stats()
    assert a == b  # the same grouped kernels on the same states: bitwise
    # a member's state resumes a single fast session too (the single-run checkpoint format)
    singles[1].load_state(states[1])
    torch.testing.assert_close(
        singles[1].train_epoch()[0], b[1], rtol=3e-2, atol=0.0
    )  # one epoch of bf16 rounding apart


class ConvInputs(TorchDispatchMode):
    """Records, per convolution, whether its input and weight are channels-last."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func is torch.ops.aten.convolution.default:
            cl = torch.channels_last
            self.seen.append(
                (args[0].is_contiguous(memory_format=cl), args[1].is_contiguous(memory_format=cl))
            )
        return func(*args, **(kwargs or {}))


def test_grouped_channels_last_layout_reaches_the_grouped_convolutions() -> None:
    plain = GroupedNetworks(OPS, 4, c=4, n=1, num_classes=10, seeds=SEEDS)
    cl = GroupedNetworks(OPS, 4, c=4, n=1, num_classes=10, seeds=SEEDS, channels_last=True)
    x = torch.randn(len(SEEDS), 5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    rec = ConvInputs()
    with rec:
        out = cl(cl.prep(x))
    torch.testing.assert_close(out, plain(x), rtol=1e-5, atol=1e-5)  # layout changes no value
    assert rec.seen, "no convolution recorded"
    assert rec.seen[0] == (True, True)  # the stem: input and weights channels-last
    assert all(w for _, w in rec.seen)  # every stacked weight folds to a channels-last view
    for k in range(len(SEEDS)):  # member states stay loadable as a single network's
        assert cl.member_state(k).keys() == plain.member_state(k).keys()
    assert plain.prep(x) is x


# the mode's tag, then the recipe's (its batch is not NB201's 256)
FAST_KEY = "nb201@C4N1#fast-bf16#recipe:batch_size=16"


def test_grouped_fast_run_is_keyed_apart_and_equals_separate_fast_runs(tmp_path: Path) -> None:
    from nb201_flat.train.executors import LocalExecutor
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.results_db import ResultsDB, load_curves

    root = write_tiny_cifar10(tmp_path / "data")
    arch = ARCH

    def jobs(db: Path, mode: str) -> list:
        return make_jobs([arch], dataset="cifar10-valid", epochs=2, seeds=[1, 2], data_root=root,
                         db_path=db, recipe=Recipe(epochs=2, batch_size=16), c=4, n=1,
                         device="cpu", threads=1, mode=mode)  # fmt: skip

    sep = LocalExecutor(processes=False).map(jobs(tmp_path / "sep.sqlite", "fast"))
    db = tmp_path / "grp.sqlite"
    grp = LocalExecutor(processes=False, group_seeds=2).map(jobs(db, "fast"))
    assert [r.status for r in grp] == ["done", "done"]
    for a, b in zip(sep, grp, strict=True):
        assert a.job.key == b.job.key and a.job.key.space == FAST_KEY
        for split, m in a.metrics.items():
            assert b.metrics[split]["loss"] == pytest.approx(m["loss"], rel=3e-2)
    # the faithful group of the same seeds is another run: not skipped, stored beside it
    faithful = LocalExecutor(processes=False, group_seeds=2).map(jobs(db, "faithful"))
    assert [r.status for r in faithful] == ["done", "done"]
    assert {r.job.key for r in faithful}.isdisjoint({r.job.key for r in grp})
    runs = ResultsDB(db).runs_frame()
    assert sorted(set(runs["space"])) == [FAST_KEY.replace("fast-bf16", "faithful"), FAST_KEY]
    assert (runs["status"] == "done").all() and len(runs) == 4
    fast_rows = load_curves(db, space=FAST_KEY)
    assert set(fast_rows["seed"]) == {1, 2}
    again = LocalExecutor(processes=False, group_seeds=2).map(jobs(db, "fast"))
    assert [r.status for r in again] == ["skipped", "skipped"]


@pytest.mark.slow  # dynamo tracing of the vmapped network takes ~20 s on a shared CPU core
def test_grouped_network_traces_as_one_graph_for_torch_compile() -> None:
    # Fast mode compiles the grouped network on CUDA only (inductor); here dynamo and
    # AOTAutograd trace it on the CPU ("aot_eager": no code generation), which is where a
    # vmap/functional_call the compiler could not follow would show, as a graph break.
    g = GroupedNetworks(OPS, 4, c=2, n=1, num_classes=10, seeds=[1, 2], prune=True)
    compiled = torch.compile(g, backend="aot_eager", dynamic=False, fullgraph=True)
    x = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    grads, outs = [], []
    for fwd in (g, compiled):
        g.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fwd(x)
        out.float().square().sum().backward()
        grads.append([None if p.grad is None else p.grad.clone() for p in g.stacked])
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=0.0, atol=0.0)
    assert sum(gr is not None for gr in grads[0]) > len(grads[0]) // 2  # pruned edges: None
    for a, b in zip(grads[0], grads[1], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
