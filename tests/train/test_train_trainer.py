"""Trainer: on-device augmentation, results, kill -9 and resume, corrupt checkpoints."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from train_helpers import (
    Crash,
    crash_after,
    write_split_file,
    write_tiny_cifar10,
    write_tiny_imagenet16,
)

from nb201_flat.errors import ArgumentError
from nb201_flat.train.jobs import TrainJob, make_jobs
from nb201_flat.train.recipe import Recipe
from nb201_flat.train.results_db import ResultsDB, load_curves, load_results

torch = pytest.importorskip("torch")
from nb201_flat.train.checkpoint import write_checkpoint  # noqa: E402
from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.trainer import CheckpointMismatchError, DeviceData, train  # noqa: E402

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
EPOCHS = 5
RECIPE = Recipe(epochs=EPOCHS, batch_size=16)  # 3 steps per epoch on the tiny data


def tiny_job(root: Path, out: Path, **kw: object) -> TrainJob:
    job = make_jobs(
        [ARCH],
        dataset="cifar10-valid",
        epochs=EPOCHS,
        seeds=[777],
        data_root=root,
        db_path=out / "r.sqlite",
        recipe=RECIPE,
        c=4,
        n=1,
        device="cpu",
        threads=1,
    )[0]
    return dataclasses.replace(job, **kw)  # type: ignore[arg-type]


def curves(db: Path) -> pd.DataFrame:
    df = load_curves(db)
    return df[df["metric"] != "time_s"].reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict]:
    """An uninterrupted run: its data root, learning curves and final weights."""
    base = tmp_path_factory.mktemp("ref")
    root = write_tiny_cifar10(base / "data")
    torch.set_num_threads(1)
    job = tiny_job(root, base)
    result = train(job)
    assert result.status == "done"
    final = torch.load(job.checkpoint_folder / f"epoch-{EPOCHS:04d}.pt", weights_only=True)
    return root, curves(base / "r.sqlite"), final["model"]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- augmentation -------------------------------------------------------------------------------
def test_augment_is_crop_and_flip_of_padded_image(cifar10_root: Path) -> None:
    data = DeviceData(load_dataset("cifar10", cifar10_root), torch.device("cpu"))
    x = data.train_x[:6]
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(data.augment(x, 0, False, gen), data.normalise(x))
    gen = torch.Generator().manual_seed(1)
    state = gen.get_state()
    out = data.augment(x, 4, True, gen)
    gen.set_state(state)  # replay the same draws to build the expected crops by slicing
    oy = torch.randint(0, 9, (6,), generator=gen)
    ox = torch.randint(0, 9, (6,), generator=gen)
    flips = torch.rand(6, generator=gen) < 0.5
    padded = torch.nn.functional.pad(x.float() / 255, (4, 4, 4, 4))
    for i in range(6):
        crop = padded[i, :, oy[i] : oy[i] + 32, ox[i] : ox[i] + 32]
        if flips[i]:
            crop = crop.flip(-1)
        expected = (crop - data.mean[0]) / data.std[0]
        assert torch.allclose(out[i], expected)


# -- a full run ----------------------------------------------------------------------------------
def test_results_schema_and_skip(reference: tuple, tmp_path: Path) -> None:
    root, ref_curves, _ = reference
    job = tiny_job(root, tmp_path)
    first = train(job)
    assert first.status == "done"
    df = load_results(job.db_path)
    assert list(df.columns) == [
        "index",
        "arch",
        "dataset",
        "split",
        "epochs",
        "seed",
        "metric",
        "value",
    ]
    assert str(df["seed"].dtype) == "Int64" and set(df["epochs"]) == {EPOCHS}
    assert set(df["split"]) == {"train", "x-valid", "ori-test"}
    assert set(df.loc[df["split"] == "train", "metric"]) == {"accuracy", "loss", "time_s"}
    assert set(df.loc[df["split"] != "train", "metric"]) == {"accuracy", "loss"}
    assert df["index"].nunique() == 1
    # the same seed gives the same numbers, run to run
    pd.testing.assert_frame_equal(curves(Path(job.db_path)), ref_curves)
    # already done: skipped, nothing trained again
    calls = []
    again = train(job, on_epoch_end=lambda e, r: calls.append(e))
    assert again.status == "skipped" and calls == []
    assert again.metrics == first.metrics
    # only the final checkpoint is kept
    final = f"epoch-{EPOCHS:04d}.pt"
    assert sorted(p.name for p in job.checkpoint_folder.iterdir()) == [final, f"{final}.sha256"]


def test_other_seed_differs(reference: tuple, tmp_path: Path) -> None:
    root, ref_curves, _ = reference
    job = dataclasses.replace(tiny_job(root, tmp_path), seed=888)
    train(job)
    assert not curves(Path(job.db_path))["value"].equals(ref_curves["value"])


def test_imagenet16_run_has_all_splits(tmp_path: Path) -> None:
    root = write_tiny_imagenet16(tmp_path / "data")
    write_split_file(
        root / "imagenet-16-120-test-split.txt",
        ("xvalid", "xtest"),
        list(range(0, 24, 2)),
        list(range(1, 24, 2)),
    )
    job = make_jobs(
        [0],
        dataset="ImageNet16-120",
        epochs=1,
        seeds=[1],
        data_root=root,
        db_path=tmp_path / "r.sqlite",
        c=4,
        n=1,
        device="cpu",
        threads=1,
        mode="fast",  # faithful mode refuses an ImageNet16-120 without NB201's 151,700 images
    )[0]
    res = train(job)
    assert set(res.metrics) == {"train", "x-valid", "x-test", "ori-test"}
    m = res.metrics
    # equal halves: the whole test set's loss is the mean of the halves' losses
    assert m["ori-test"]["loss"] == pytest.approx((m["x-valid"]["loss"] + m["x-test"]["loss"]) / 2)


# -- kill -9 and resume -----------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import sys, time
    import torch
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.recipe import Recipe
    from nb201_flat.train.trainer import train

    torch.set_num_threads(1)
    root, out = sys.argv[1], sys.argv[2]
    job = make_jobs([{arch!r}], dataset="cifar10-valid", epochs={epochs}, seeds=[777],
                    data_root=root, db_path=out + "/r.sqlite",
                    recipe=Recipe(epochs={epochs}, batch_size=16), c=4, n=1, device="cpu",
                    threads=1)[0]

    def slow(epoch, rows):
        print(epoch, flush=True)
        # leave the parent time to kill us in the middle of the run; from epoch 3 on, long
        # enough that a parent descheduled on a loaded machine still finds us alive
        time.sleep(0.3 if epoch < 3 else 30)

    train(job, on_epoch_end=slow)
    print("finished", flush=True)
    """
)


def test_kill_9_then_resume_gives_identical_numbers(reference: tuple, tmp_path: Path) -> None:
    root, ref_curves, ref_weights = reference
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(arch=ARCH, epochs=EPOCHS))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line.strip())
        if line.strip() == "2":
            # kill somewhere in epoch 3: during the sleep, training, the DB write or the save
            time.sleep(float(np.random.default_rng().uniform(0.0, 0.4)))
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, seen
    job = tiny_job(root, tmp_path)
    db = ResultsDB(job.db_path)
    assert db.status(job.key) == "running"
    db.close()

    resumed_from = []
    result = train(job, on_epoch_end=lambda e, r: resumed_from.append(e))
    assert result.status == "done"
    assert resumed_from and resumed_from[0] >= 3  # it did not start over
    pd.testing.assert_frame_equal(curves(Path(job.db_path)), ref_curves)
    final = torch.load(job.checkpoint_folder / f"epoch-{EPOCHS:04d}.pt", weights_only=True)
    assert same_weights(final["model"], ref_weights)


# -- corrupt checkpoints ----------------------------------------------------------------------
def test_corrupt_checkpoint_falls_back_to_previous(
    reference: tuple, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, ref_curves, _ref_weights = reference
    job = tiny_job(root, tmp_path)
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(3))
    latest = job.checkpoint_folder / "epoch-0003.pt"
    latest.write_bytes(latest.read_bytes()[:100])  # truncated, as by a failing disk
    started = []
    with caplog.at_level(logging.WARNING):
        train(job, on_epoch_end=lambda e, r: started.append(e))
    assert (
        "epoch-0003.pt is corrupt" in caplog.text and "falling back to epoch-0002.pt" in caplog.text
    )
    assert started[0] == 3  # epoch 3 was trained again from the epoch-2 checkpoint
    assert (job.checkpoint_folder / "epoch-0003.pt.corrupt").exists()  # kept, not deleted
    pd.testing.assert_frame_equal(curves(Path(job.db_path)), ref_curves)


def test_all_checkpoints_corrupt_starts_over(
    reference: tuple, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, ref_curves, _ = reference
    job = tiny_job(root, tmp_path)
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(2))
    for p in job.checkpoint_folder.glob("epoch-*.pt"):
        p.write_bytes(b"\x00" * 64)
    (job.checkpoint_folder / ".epoch-0003.pt.tmp-123").write_bytes(b"half")  # killed writer
    with caplog.at_level(logging.WARNING):
        train(job)
    assert "falling back to a fresh start" in caplog.text
    assert not list(job.checkpoint_folder.glob(".*tmp*"))
    pd.testing.assert_frame_equal(curves(Path(job.db_path)), ref_curves)


def test_checkpoint_of_another_run_is_refused(reference: tuple, tmp_path: Path) -> None:
    root, _, _ = reference
    job = tiny_job(root, tmp_path)
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))
    other = dataclasses.replace(job, recipe=dataclasses.replace(RECIPE, batch_size=8))
    # another recipe is another run, with a folder of its own...
    assert other.key != job.key and other.checkpoint_folder != job.checkpoint_folder
    # ...and a folder holding the first run's checkpoints is refused to it
    shutil.copytree(job.checkpoint_folder, other.checkpoint_folder)
    with pytest.raises(CheckpointMismatchError, match="another run"):
        train(other)


@pytest.mark.parametrize("form", ["single", "grouped"])
def test_checkpoint_of_another_kind_of_device_is_refused(
    reference: tuple, tmp_path: Path, form: str
) -> None:
    """A CUDA generator's state (Philox seed and offset, 16 bytes) cannot go on in a CPU
    generator (Mersenne Twister): one clear refusal, not torch's size error mid-resume, and
    the checkpoints stay for a resume on the right device."""
    from nb201_flat.train.grouped_run import train_group

    root, _, _ = reference
    jobs = [tiny_job(root, tmp_path, seed=s) for s in (1, 2)]
    for job in jobs:
        with pytest.raises(Crash):
            train(job, on_epoch_end=crash_after(2))
        for path in sorted(job.checkpoint_folder.glob("epoch-*.pt")):  # as a GPU wrote them
            state = torch.load(path, weights_only=True)
            state["generator"] = torch.zeros(16, dtype=torch.uint8)
            write_checkpoint(path, state)
    kept = sorted(p.name for p in jobs[0].checkpoint_folder.iterdir())
    with pytest.raises(CheckpointMismatchError, match="another kind of device than cpu"):
        train(jobs[0]) if form == "single" else train_group(jobs)
    assert sorted(p.name for p in jobs[0].checkpoint_folder.iterdir()) == kept


@pytest.mark.parametrize("form", ["single", "grouped"])
def test_resume_under_another_cpu_thread_count_is_refused(
    reference: tuple, tmp_path: Path, form: str
) -> None:
    """A CPU's numbers depend on the thread count (its reductions split by thread): a run
    killed under 1 thread and resumed under 2 would not equal an uninterrupted one. The count
    is recorded with the device, and the resume refused in one line naming the fix; under the
    count it was trained with, it resumes."""
    from nb201_flat.train.grouped_run import train_group

    root, _, _ = reference
    jobs = [tiny_job(root, tmp_path, seed=s) for s in (1, 2)]
    run = (lambda js, **kw: [train(js[0], **kw)]) if form == "single" else train_group
    with pytest.raises(Crash):
        run(jobs, on_epoch_end=crash_after(2))
    more = [dataclasses.replace(j, threads=2) for j in jobs]
    with pytest.raises(CheckpointMismatchError, match="trained with 1 CPU threads, this run has 2"):
        run(more)
    done = run(jobs)  # threads=1, as they were trained
    assert {r.status for r in done} == {"done"}
    on = set(ResultsDB(jobs[0].db_path, readonly=True).runs_frame()["trained_on"])
    assert on == {f"cpu, torch {torch.__version__}, 1 CPU threads"}


def test_resume_thread_check_maps_checkpoints_rather_than_reading_them(
    reference: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check before a campaign's runs (check_resume_threads) needs a checkpoint's thread
    count, in its small pickled part: the file is memory-mapped, its weights never read; a run
    without checkpoints loads nothing; a file torch cannot map (not the zip format) is read in
    full and checked all the same."""
    from nb201_flat.train.checkpoint import Checkpointer
    from nb201_flat.train.trainer import check_resume_threads

    root, _, _ = reference
    killed, fresh = (tiny_job(root, tmp_path, seed=s) for s in (1, 2))
    with pytest.raises(Crash):
        train(killed, on_epoch_end=crash_after(2))
    loads: list[tuple[Path, bool]] = []
    real_load = torch.load

    def spy(path: object, *args: object, **kw: object) -> object:
        loads.append((Path(str(path)).parent, bool(kw.get("mmap"))))
        return real_load(path, *args, **kw)

    monkeypatch.setattr(torch, "load", spy)
    check_resume_threads([fresh, killed], 1)
    refused = "trained with 1 CPU threads, this run has 2"
    with pytest.raises(CheckpointMismatchError, match=refused):
        check_resume_threads([fresh, killed], 2)
    assert loads == [(killed.checkpoint_folder, True)] * 2  # the newest only, mapped
    ((_, newest), *_) = Checkpointer(killed.checkpoint_folder).files()
    state = real_load(newest, map_location="cpu", weights_only=True)
    torch.save(state, newest, _use_new_zipfile_serialization=False)
    loads.clear()
    with pytest.raises(CheckpointMismatchError, match=refused):
        check_resume_threads([killed], 2)
    assert loads == [(killed.checkpoint_folder, True), (killed.checkpoint_folder, False)]


# -- evaluation interval ---------------------------------------------------------------------
def test_eval_every_changes_only_which_epochs_are_evaluated(
    reference: tuple, tmp_path: Path
) -> None:
    root, ref_curves, ref_weights = reference
    job = tiny_job(root, tmp_path, eval_every=2)
    assert job.key == tiny_job(root, tmp_path).key  # same run: training is unchanged
    evaluated: dict[int, set[str]] = {}
    result = train(job, on_epoch_end=lambda e, r: evaluated.update({e: set(r)}))
    both = {"train", "x-valid", "ori-test"}
    assert evaluated == {1: {"train"}, 2: both, 3: {"train"}, 4: both, 5: both}  # last: always
    got = curves(Path(job.db_path))
    cols = ["split", "epoch", "metric"]
    expected = ref_curves[(ref_curves["split"] == "train") | ref_curves["epoch"].isin([2, 4, 5])]
    pd.testing.assert_frame_equal(
        got.sort_values(cols).reset_index(drop=True),
        expected.sort_values(cols).reset_index(drop=True),
    )
    final = torch.load(job.checkpoint_folder / f"epoch-{EPOCHS:04d}.pt", weights_only=True)
    assert same_weights(final["model"], ref_weights)
    assert set(result.metrics) == {"train", "x-valid", "ori-test"}
    with pytest.raises(ArgumentError, match="^eval_every must be >= 1"):
        tiny_job(root, tmp_path, eval_every=0)
    fast = tiny_job(root, tmp_path, mode="fast")
    assert (job.evaluate_every, fast.evaluate_every, tiny_job(root, tmp_path).evaluate_every) == (
        2,
        5,
        1,
    )


def test_writer_error_surfaces_as_the_domain_error(
    reference: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.errors import ResultsDBError

    root, _, _ = reference
    job = tiny_job(root, tmp_path)

    def broken(self: object, *a: object, **k: object) -> None:
        raise ResultsDBError("results database r.sqlite: disk I/O error")

    monkeypatch.setattr(ResultsDB, "write_epoch", broken)
    with pytest.raises(ResultsDBError, match="disk I/O error"):
        train(job)
    assert not list(job.checkpoint_folder.glob("epoch-*.pt"))  # no checkpoint without results
