"""K grouped networks equal K separate ones: logits, and weights after training steps."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.errors import ArgumentError
from nb201_flat.space import NB201
from nb201_flat.train.modes import FAITHFUL
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from nb201_flat.train.checkpoint import write_checkpoint  # noqa: E402
from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.grouped import GroupedNetworks, GroupedSession  # noqa: E402
from nb201_flat.train.model import seeded_network  # noqa: E402
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


def test_grouped_training_equals_separate_sessions_in_float64(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whole epochs (partial last batch, per-epoch LR). In float32 the two drift apart: a
    # pre-activation within rounding of a ReLU's kink goes one way in the batched kernel and
    # the other in the single one, and lr 0.1 on 80 random images amplifies it (seen: 2e-7 to
    # 3e-4 in one step, 0.03 after eight, on one CPU and not on another). In float64 the
    # same steps leave nothing to amplify, so any real difference in the grouped step shows.
    root = write_tiny_cifar10(tmp_path)
    to_double = (DeviceData.augment, DeviceData.normalise)
    monkeypatch.setattr(DeviceData, "augment", lambda *a, **k: to_double[0](*a, **k).double())
    monkeypatch.setattr(DeviceData, "normalise", lambda *a, **k: to_double[1](*a, **k).double())
    data = DeviceData(load_dataset("cifar10", root), torch.device("cpu"))
    group, singles = make(data, Recipe(epochs=2, batch_size=32))  # 3 steps, the last partial
    group.model.double()  # in place: the optimisers keep their parameters
    for sess in singles:
        sess.model.double()
    for _ in range(2):
        losses, seen = group.train_epoch()
        assert seen == 80
        for k, sess in enumerate(singles):
            loss, _, _ = sess.train_epoch()
            assert losses[k] == pytest.approx(loss, rel=1e-12)
            mine, theirs = group.model.member_state(k), sess.model.state_dict()
            for name, value in theirs.items():
                assert mine[name].dtype == value.dtype, name
                torch.testing.assert_close(mine[name], value, rtol=1e-10, atol=1e-12, msg=name)


# -- grouped runs: results DB, checkpoints, executors, CLI ----------------------------------
GROUP_EPOCHS = 2
GROUP_SEEDS = [777, 888]
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def group_jobs(root: Path, db: Path, **kw: object) -> list:
    from nb201_flat.train.jobs import make_jobs

    return make_jobs(
        [ARCH],
        dataset="cifar10-valid",
        epochs=GROUP_EPOCHS,
        seeds=GROUP_SEEDS,
        data_root=root,
        db_path=db,
        recipe=Recipe(epochs=GROUP_EPOCHS, batch_size=16),
        c=4,
        n=1,
        device="cpu",
        threads=1,
        **kw,  # type: ignore[arg-type]
    )


def values(db: Path) -> dict[tuple, float]:
    from nb201_flat.train.results_db import load_curves

    df = load_curves(db)
    df = df[df["metric"] != "time_s"]
    return {
        (r.index, r.arch, r.dataset, r.split, r.epochs, r.seed, r.epoch, r.metric): r.value
        for r in df.itertuples()
    }


def routing_distances(
    ref: dict[tuple, float], got: dict[tuple, float]
) -> tuple[dict[int, float], dict[int, float]]:
    """Per seed, the summed relative distance of its grouped losses to its own separate run's
    and to the other seed's (same split and epoch). Losses only: an accuracy on these tiny
    splits moves an image at a time, so one flipped prediction would outweigh the rounding."""
    seed_at = 5  # (index, arch, dataset, split, epochs, seed, epoch, metric)
    own = dict.fromkeys(GROUP_SEEDS, 0.0)
    other = dict.fromkeys(GROUP_SEEDS, 0.0)
    for key, v in got.items():
        if key[-1] != "loss":
            continue
        seed = key[seed_at]
        twin = (*key[:seed_at], GROUP_SEEDS[1 - GROUP_SEEDS.index(seed)], *key[seed_at + 1 :])
        scale = abs(ref[key]) + abs(ref[twin])
        own[seed] += abs(v - ref[key]) / scale
        other[seed] += abs(v - ref[twin]) / scale
    return own, other


def weights_distance(a: dict, b: dict) -> float:
    """Euclidean distance between two state dicts' floating-point tensors."""
    return (
        sum(float((a[n] - b[n]).double().pow(2).sum()) for n in b if b[n].is_floating_point())
        ** 0.5
    )


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The reference: each seed trained alone (inline executor, one process)."""
    from nb201_flat.train.executors import LocalExecutor

    base = tmp_path_factory.mktemp("separate")
    root = write_tiny_cifar10(base / "data")
    res = LocalExecutor(processes=False).map(group_jobs(root, base / "r.sqlite"))
    assert [r.status for r in res] == ["done", "done"]
    return root, base / "r.sqlite"


def test_grouped_campaign_equals_separate_runs(separate: tuple[Path, Path], tmp_path: Path) -> None:
    from nb201_flat.train.executors import LocalExecutor
    from nb201_flat.train.results_db import ResultsDB, load_results

    root, ref_db = separate
    jobs = group_jobs(root, tmp_path / "r.sqlite")
    calls: list[int] = []

    def counting_group(js: object) -> object:
        from nb201_flat.train.grouped_run import run_group

        calls.append(len(js))  # type: ignore[arg-type]
        return run_group(js)  # type: ignore[arg-type]

    ex = LocalExecutor(processes=False, group_seeds=4, run_group=counting_group)  # type: ignore[arg-type]
    res = ex.map(jobs)
    assert calls == [2]  # both seeds in one group, one task
    assert [(r.status, r.job.seed) for r in res] == [("done", 777), ("done", 888)]
    ref, got = values(ref_db), values(tmp_path / "r.sqlite")
    assert got.keys() == ref.keys()  # every member under its own key, every epoch and split
    # equal up to float32 rounding, which lr 0.1 amplifies here (seen: losses 0.08 % apart; the
    # float64 test above shows the steps equal): so each member's numbers must be those of its
    # own seed's separate run, far nearer them than the other seed's (>= 0.5 % apart)
    own, other = routing_distances(ref, got)
    for seed in GROUP_SEEDS:
        assert own[seed] < 0.25 * other[seed], (seed, own, other)
    for key, v in ref.items():
        if key[-1] == "loss":
            assert got[key] == pytest.approx(v, rel=1e-2), key
    # the run records are those of separate runs: status, size, FLOPs
    a, b = ResultsDB(ref_db).runs_frame(), ResultsDB(tmp_path / "r.sqlite").runs_frame()
    cols = ["space", "arch", "seed", "status", "params_mb", "flops_m"]
    pd.testing.assert_frame_equal(a[cols].sort_values("seed"), b[cols].sort_values("seed"))
    # ...but how each was trained is recorded: equal only up to the batched kernels' rounding
    assert set(a["trained_as"]) == {"single"} and set(b["trained_as"]) == {"grouped:2"}
    assert set(load_results(tmp_path / "r.sqlite")["seed"]) == set(GROUP_SEEDS)
    # each member's final checkpoint lies in its own folder, in the single-run format
    for job in jobs:
        files = sorted(p.name for p in job.checkpoint_folder.iterdir())
        assert files == [f"epoch-{GROUP_EPOCHS:04d}.pt", f"epoch-{GROUP_EPOCHS:04d}.pt.sha256"]
        ref_job = group_jobs(root, ref_db)[GROUP_SEEDS.index(job.seed)]
        mine = torch.load(job.checkpoint_folder / files[0], weights_only=True)
        theirs = torch.load(ref_job.checkpoint_folder / files[0], weights_only=True)
        assert mine["run"] == theirs["run"] and mine.keys() == theirs.keys()
        assert mine["model"].keys() == theirs["model"].keys()
        other_job = group_jobs(root, ref_db)[1 - GROUP_SEEDS.index(job.seed)]
        others = torch.load(other_job.checkpoint_folder / files[0], weights_only=True)
        near, far = (weights_distance(mine["model"], t["model"]) for t in (theirs, others))
        assert near < 0.25 * far, (job.seed, near, far)  # its own seed's weights, up to rounding
    # done: a second map skips everything, grouped or not
    again = LocalExecutor(processes=False, group_seeds=4, run_group=counting_group).map(jobs)  # type: ignore[arg-type]
    assert [r.status for r in again] == ["skipped", "skipped"] and calls == [2]


def test_group_killed_between_member_checkpoints_resumes_exactly(
    separate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.train.checkpoint import Checkpointer
    from nb201_flat.train.grouped_run import train_group

    root, _ = separate
    clean = train_group(group_jobs(root, tmp_path / "clean.sqlite"))
    jobs = group_jobs(root, tmp_path / "r.sqlite")
    real_save = Checkpointer.save

    def dying_save(self: Checkpointer, epoch: int, state: dict) -> Path:
        if epoch == 2 and state["run"][4] == 888:  # member 2's save of epoch 2: the "kill"
            raise OSError("killed")
        return real_save(self, epoch, state)

    monkeypatch.setattr(Checkpointer, "save", dying_save)
    with pytest.raises(Exception, match="killed"):  # the writer's error reaches this thread
        train_group(jobs)
    monkeypatch.setattr(Checkpointer, "save", real_save)
    assert (jobs[0].checkpoint_folder / "epoch-0002.pt").exists()
    assert not (jobs[1].checkpoint_folder / "epoch-0002.pt").exists()
    resumed = train_group(jobs)  # from epoch 1, the newest both members have
    assert [r.status for r in resumed] == ["done", "done"]
    assert values(tmp_path / "r.sqlite") == {
        k: v for k, v in values(tmp_path / "clean.sqlite").items()
    }  # bitwise: the same grouped kernels on the same states
    assert [r.metrics for r in resumed] == [r.metrics for r in clean]


def test_group_checks() -> None:
    import dataclasses

    from nb201_flat.train.executors import group_positions
    from nb201_flat.train.grouped_run import check_groupable

    jobs = group_jobs(Path("data"), Path("r.sqlite")) + group_jobs(
        Path("data"), Path("r.sqlite"), mode="fast"
    )
    cell = NB201.arch(0)  # another cell: its arch, index and ops replaced together
    other_cell = dataclasses.replace(jobs[0], seed=5, index=0, arch=str(cell), ops=cell.ops)
    assert group_positions([*jobs[:2], other_cell], range(3), 4) == [[0, 1], [2]]
    assert group_positions(jobs[:2], [0, 1], 1) == [[0], [1]]
    assert group_positions(jobs[:2] * 2, range(4), 3) == [[0, 1, 2], [3]]
    # fast-mode seeds group too, never with faithful ones (the mode is part of the unit)
    assert group_positions(jobs, range(4), 2) == [[0, 1], [2, 3]]
    assert group_positions(jobs, [0, 2, 1, 3], 4) == [[0, 1], [2, 3]]
    with pytest.raises(ArgumentError, match="differ in more than their seed"):
        check_groupable([jobs[0], jobs[3]])
    with pytest.raises(ArgumentError, match="differ in more than their seed"):
        check_groupable([jobs[0], other_cell])
    with pytest.raises(ArgumentError, match="repeats a seed"):
        check_groupable([jobs[0], jobs[0]])


GROUP_CHILD = """
import sys, time
import torch
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.recipe import Recipe
from nb201_flat.train.grouped_run import train_group

torch.set_num_threads(1)
root, db = sys.argv[1], sys.argv[2]
jobs = make_jobs([{arch!r}], dataset="cifar10-valid", epochs=4, seeds=[777, 888],
                 data_root=root, db_path=db, recipe=Recipe(epochs=4, batch_size=16),
                 c=4, n=1, device="cpu", threads=1)

def slow(epoch, rows):
    print(epoch, flush=True)
    # leave the parent time to kill us in the middle of the run; from epoch 3 on, long
    # enough that a parent descheduled on a loaded machine still finds us alive
    time.sleep(0.3 if epoch < 3 else 30)

train_group(jobs, on_epoch_end=slow)
print("finished", flush=True)
"""


def test_group_kill_9_then_resume_gives_identical_numbers(
    separate: tuple[Path, Path], tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    import numpy as np

    from nb201_flat.train.grouped_run import train_group
    from nb201_flat.train.jobs import make_jobs

    root, _ = separate

    def jobs(db: Path) -> list:
        return make_jobs([ARCH], dataset="cifar10-valid", epochs=4, seeds=[777, 888],
                         data_root=root, db_path=db, recipe=Recipe(epochs=4, batch_size=16),
                         c=4, n=1, device="cpu", threads=1)  # fmt: skip

    clean = jobs(tmp_path / "clean.sqlite")
    train_group(clean)
    script = tmp_path / "child.py"
    script.write_text(GROUP_CHILD.format(arch=ARCH))
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "2":
            # somewhere in epoch 3: the sleep, training, a member's rows or checkpoint write
            time.sleep(float(np.random.default_rng().uniform(0.0, 0.4)))
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    resumed: list[int] = []
    res = train_group(jobs(db), on_epoch_end=lambda e, r: resumed.append(e))
    assert [r.status for r in res] == ["done", "done"] and resumed and resumed[0] >= 3
    assert values(db) == values(tmp_path / "clean.sqlite")  # bitwise
    for a, b in zip(jobs(db), clean, strict=True):
        wa = torch.load(a.checkpoint_folder / "epoch-0004.pt", weights_only=True)["model"]
        wb = torch.load(b.checkpoint_folder / "epoch-0004.pt", weights_only=True)["model"]
        assert all(torch.equal(wa[k], wb[k]) for k in wb)


def test_checkpointer_load_epoch_and_discard_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from nb201_flat.train.checkpoint import Checkpointer

    ck = Checkpointer(tmp_path / "run", keep=3)
    for e in (1, 2, 3):
        ck.save(e, {"epoch": e, "x": torch.full((2,), float(e))})
    st = ck.load_epoch(2)
    assert st is not None and torch.equal(st["x"], torch.full((2,), 2.0))
    assert ck.load_epoch(7) is None  # missing
    (tmp_path / "run" / "epoch-0001.pt").write_bytes(b"\x00" * 10)
    with caplog.at_level(logging.WARNING):
        assert ck.load_epoch(1) is None  # unreadable: kept aside, never reused
    assert "epoch-0001.pt is corrupt" in caplog.text
    assert (tmp_path / "run" / "epoch-0001.pt.corrupt").exists()
    ck.discard_after(2)
    assert [e for e, _ in ck.files()] == [2]


def test_a_run_begun_in_a_group_and_finished_alone_records_both_forms(tmp_path: Path) -> None:
    from train_helpers import Crash, crash_after

    from nb201_flat.train.concurrent_run import train_concurrent
    from nb201_flat.train.grouped_run import train_group
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.results_db import ResultsDB
    from nb201_flat.train.trainer import train

    root = write_tiny_cifar10(tmp_path / "data")

    def jobs(db: str, seeds: list[int], archs: tuple[int, ...] = (11472,)) -> list:
        return make_jobs(list(archs), dataset="cifar10", epochs=3, seeds=seeds, data_root=root,
                         db_path=tmp_path / db, recipe=Recipe(epochs=3, batch_size=32), c=2,
                         n=1, device="cpu")  # fmt: skip

    def forms(db: str, column: str = "trained_as") -> list[str]:
        frame = ResultsDB(tmp_path / db, readonly=True).runs_frame()
        return frame.sort_values(["arch", "seed"])[column].tolist()

    here = f"cpu, torch {torch.__version__}, 1 CPU threads"  # where each epoch trained

    group = jobs("a.sqlite", [1, 2])
    with pytest.raises(Crash):
        train_group(group, on_epoch_end=crash_after(1))
    for job in group:  # each member finishes alone
        assert train(job).status == "done"
    assert forms("a.sqlite") == ["grouped:2+single"] * 2
    assert forms("a.sqlite", "trained_on") == [here] * 2
    # alone, then on concurrent streams (the unit finishes the run it resumes)
    pair = jobs("b.sqlite", [1], archs=(11472, 6111))
    with pytest.raises(Crash):
        train(pair[0], on_epoch_end=crash_after(2))
    assert [r.status for r in train_concurrent(pair)] == ["done", "done"]
    assert sorted(forms("b.sqlite")) == ["concurrent:2", "single+concurrent:2"]
    # a checkpoint written before forms were recorded: its epochs' form is unknown
    (solo,) = jobs("c.sqlite", [1])
    with pytest.raises(Crash):
        train(solo, on_epoch_end=crash_after(1))
    ckpt = solo.checkpoint_folder / "epoch-0001.pt"
    state = torch.load(ckpt, weights_only=True)
    del state["trained_as"], state["trained_on"]
    write_checkpoint(ckpt, state)
    assert train(solo).status == "done"
    assert forms("c.sqlite") == ["unrecorded+single"]
    assert forms("c.sqlite", "trained_on") == [f"unrecorded | {here}"]
    from nb201_flat.importers.results_db import read_results_db

    assert read_results_db(tmp_path / "c.sqlite").meta["trained_on"] == {f"unrecorded | {here}": 1}


def test_a_member_trained_alone_ahead_keeps_its_epochs_in_a_group(tmp_path: Path) -> None:
    # seed 1 trained alone to epoch 2 of 3, then grouped with seed 2: no epoch was shared, so
    # the group restarted at 0 and deleted seed 1's checkpoints and rows (logged at INFO)
    from train_helpers import Crash, crash_after

    from nb201_flat.train.grouped_run import train_group
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.trainer import train

    root = write_tiny_cifar10(tmp_path / "data")
    jobs = make_jobs([11472], dataset="cifar10", epochs=3, seeds=[1, 2], data_root=root,
                     db_path=tmp_path / "r.sqlite", recipe=Recipe(epochs=3, batch_size=32), c=2,
                     n=1, device="cpu", threads=1)  # fmt: skip
    with pytest.raises(Crash):
        train(jobs[0], on_epoch_end=crash_after(2))
    seen: list[tuple[int, int]] = []
    res = train_group(jobs, on_epoch_end=lambda epoch, rows: seen.append((epoch, len(rows))))
    assert [r.status for r in res] == ["done", "done"]
    # seed 1 trains its last epoch alone, seed 2 all three: nobody repeats seed 1's epochs
    assert sorted(seen) == [(1, 1), (2, 1), (3, 1), (3, 1)], seen
