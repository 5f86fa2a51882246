"""Grouped runs and executors (an eleventh audit's findings): a group killed in epoch 1's
checkpoint writes resumes whole; a Slurm job asks for what its runs train on; a failed unit's
records say the failure is the unit's; what the evaluation batch size changes."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from train_helpers import (
    Crash,
    always_fail,
    crash_after,
    dask_client,
    fake_srun,
    write_tiny_cifar10,
)

from nb201_flat.errors import ExecutorSpecError
from nb201_flat.train.jobs import JobResult, TrainJob, make_jobs
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from nb201_flat.train.checkpoint import Checkpointer  # noqa: E402
from nb201_flat.train.grouped_run import train_group  # noqa: E402
from nb201_flat.train.results_db import ResultsDB, load_curves  # noqa: E402

CELL = 11472


def jobs_of(root: Path, db: Path, seeds: Sequence[int] = (1, 2), **kw: Any) -> list[TrainJob]:
    return make_jobs([CELL], dataset="cifar10", epochs=3, seeds=list(seeds), data_root=root,
                     db_path=db, recipe=Recipe(epochs=3, batch_size=32), c=2, n=1,
                     device="cpu", threads=1, **kw)  # fmt: skip


def rows(db: Path) -> dict[tuple, float]:
    """Every stored number but the times, by run, split, epoch and metric."""
    df = load_curves(db)
    df = df[df["metric"] != "time_s"]
    return {(r.seed, r.split, r.epoch, r.metric): r.value for r in df.itertuples()}


def forms(db: Path) -> list[str]:
    return ResultsDB(db, readonly=True).runs_frame().sort_values("seed")["trained_as"].tolist()


def assert_same_checkpoints(a: Sequence[TrainJob], b: Sequence[TrainJob]) -> None:
    """Each member's checkpoints: the same files, bit-equal weights, optimiser and generator."""
    for x, y in zip(a, b, strict=True):
        files = sorted(p.name for p in x.checkpoint_folder.glob("epoch-*.pt"))
        assert files == sorted(p.name for p in y.checkpoint_folder.glob("epoch-*.pt"))
        for name in files:
            sx = torch.load(x.checkpoint_folder / name, weights_only=True)
            sy = torch.load(y.checkpoint_folder / name, weights_only=True)
            assert sx["model"].keys() == sy["model"].keys()
            assert all(torch.equal(sx["model"][k], sy["model"][k]) for k in sx["model"])
            for pid, st in sx["optimizer"]["state"].items():
                assert all(torch.equal(v, sy["optimizer"]["state"][pid][k]) for k, v in st.items())
            assert torch.equal(sx["generator"], sy["generator"])


# -- 1. a kill in epoch 1's checkpoint writes --------------------------------------------------
def test_a_group_killed_between_its_epoch_1_checkpoints_resumes_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # seed 1's epoch-1 checkpoint written, seed 2's not: the group split in two on resume
    # (trained_as grouped:2+grouped:1 and grouped:1, every later number of both off)
    root = write_tiny_cifar10(tmp_path / "data")
    clean = jobs_of(root, tmp_path / "clean.sqlite")
    train_group(clean)
    jobs = jobs_of(root, tmp_path / "r.sqlite")
    real_save = Checkpointer.save

    def dying_save(self: Checkpointer, epoch: int, state: dict) -> Path:
        if epoch == 1 and state["run"][4] == 2:  # seed 2's save of epoch 1: the "kill"
            raise OSError("killed")
        return real_save(self, epoch, state)

    monkeypatch.setattr(Checkpointer, "save", dying_save)
    with pytest.raises(OSError, match="killed"):
        train_group(jobs)
    monkeypatch.setattr(Checkpointer, "save", real_save)
    assert (jobs[0].checkpoint_folder / "epoch-0001.pt").exists()
    assert not list(jobs[1].checkpoint_folder.glob("epoch-*.pt"))
    seen: list[tuple[int, int]] = []
    res = train_group(jobs, on_epoch_end=lambda epoch, r: seen.append((epoch, len(r))))
    assert [r.status for r in res] == ["done", "done"]
    assert seen == [(1, 2), (2, 2), (3, 2)]  # one group from the seeded start, seed 1 repeating
    assert rows(tmp_path / "r.sqlite") == rows(tmp_path / "clean.sqlite")  # bitwise
    assert forms(tmp_path / "r.sqlite") == forms(tmp_path / "clean.sqlite") == ["grouped:2"] * 2
    assert_same_checkpoints(jobs, clean)


def test_a_seed_trained_alone_one_epoch_ahead_repeats_it_in_its_group(tmp_path: Path) -> None:
    # one epoch apart, as after a kill in a group's writes: the group starts from the seeded
    # start every member shares, and the member ahead repeats its one epoch (two epochs ahead,
    # it keeps them: test_a_member_trained_alone_ahead_keeps_its_epochs_in_a_group)
    from nb201_flat.train.trainer import train

    root = write_tiny_cifar10(tmp_path / "data")
    clean = jobs_of(root, tmp_path / "clean.sqlite")
    train_group(clean)
    jobs = jobs_of(root, tmp_path / "r.sqlite")
    with pytest.raises(Crash):
        train(jobs[0], on_epoch_end=crash_after(1))
    seen: list[tuple[int, int]] = []
    res = train_group(jobs, on_epoch_end=lambda epoch, r: seen.append((epoch, len(r))))
    assert [r.status for r in res] == ["done", "done"]
    assert seen == [(1, 2), (2, 2), (3, 2)]
    # its single epoch is gone, rows and checkpoint: the run is the clean group's, all of it
    assert forms(tmp_path / "r.sqlite") == ["grouped:2"] * 2
    assert rows(tmp_path / "r.sqlite") == rows(tmp_path / "clean.sqlite")
    assert_same_checkpoints(jobs, clean)


# -- 2. what a Slurm job asks for ---------------------------------------------------------------
def test_a_slurm_job_asks_for_the_device_and_threads_its_runs_train_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # --device cpu --threads 8 asked for a GPU and 4 CPUs (fixed defaults)
    pytest.importorskip("submitit")
    from nb201_flat.cli import main
    from nb201_flat.train.executors import SlurmExecutor

    root = write_tiny_cifar10(tmp_path / "data")
    script = tmp_path / "job.sbatch"
    # sbatch keeps the script it was given and refuses the job: nothing waits for Slurm
    node = fake_srun(tmp_path / "node", f'cp "$1" {script}; exit 1')
    monkeypatch.setenv("PATH", f"{node}{os.pathsep}{os.environ['PATH']}")  # cp

    def requested(*extra: str) -> list[str]:
        argv = ["train", str(CELL), "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
                "--data-root", str(root), "--C", "2", "--N", "1", "--executor", "slurm",
                "--db", str(tmp_path / f"r{len(extra)}.sqlite"), *extra]  # fmt: skip
        assert main(argv) == 2
        assert "Slurm refused to take" in capsys.readouterr().err
        lines = script.read_text().splitlines()
        return sorted(x for x in lines if x.startswith(("#SBATCH --gpus", "#SBATCH --cpus")))

    assert requested("--device", "cpu", "--threads", "8") == ["#SBATCH --cpus-per-task=8"]
    assert requested("--device", "cpu") == ["#SBATCH --cpus-per-task=4"]
    assert requested() == ["#SBATCH --cpus-per-task=4", "#SBATCH --gpus-per-node=1"]  # auto
    # options the caller gives win
    (job,) = make_jobs([CELL], dataset="cifar10", epochs=1, seeds=[1], data_root=root,
                       db_path=tmp_path / "py.sqlite", c=2, n=1, device="cpu", threads=8)  # fmt: skip
    ex = SlurmExecutor(folder=tmp_path / "logs", slurm={"timeout_min": 5, "cpus_per_task": 2})
    with pytest.raises(ExecutorSpecError, match="Slurm refused to take"):
        ex.map([job])
    assert "#SBATCH --cpus-per-task=2" in script.read_text().splitlines()


# -- 3. a failed unit's records ---------------------------------------------------------------
GROUP = f"group of seeds 1, 2 of cell {CELL}: "


def fail_naming_the_first(jobs: Sequence[TrainJob]) -> list[JobResult]:
    """A group's task that fails, naming the run it met the failure in (its first member's)."""
    raise RuntimeError(f"{jobs[0].name} broke")


def assert_each_names_the_group(res: Sequence[JobResult], attempts: int) -> None:
    assert [(r.status, r.job.seed, r.attempts) for r in res] == [
        ("failed", 1, attempts),
        ("failed", 2, attempts),
    ]
    for r in res:
        assert r.error is not None and r.error.startswith(GROUP), r.error
        assert r.error_parts and "".join(map(str, r.error_parts)) == r.error


def test_a_failed_group_says_the_failure_is_the_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every member's record held the first member's error alone, naming seed 1's run
    pytest.importorskip("distributed")
    pytest.importorskip("submitit")
    from nb201_flat.train.executors import DaskExecutor, LocalExecutor, SlurmExecutor

    root = write_tiny_cifar10(tmp_path / "data")
    # not retried (CheckpointMismatchError): the database lost, the checkpoints kept
    jobs = jobs_of(root, tmp_path / "a" / "r.sqlite")
    with pytest.raises(Crash):
        train_group(jobs, on_epoch_end=crash_after(2))
    for p in (tmp_path / "a").glob("r.sqlite*"):
        if p.is_file():
            p.unlink()
    res = LocalExecutor(processes=False, group_seeds=2, retries=2).map(jobs)
    assert_each_names_the_group(res, 1)
    assert all(f"{GROUP}CheckpointMismatchError: " in (r.error or "") for r in res)
    # out of attempts, inline, in a pool worker, on dask and on Slurm
    inline = LocalExecutor(
        processes=False, group_seeds=2, retries=1, run_group=fail_naming_the_first
    )
    assert_each_names_the_group(inline.map(jobs_of(root, tmp_path / "i" / "r.sqlite")), 2)
    pool = LocalExecutor(devices=["cpu"], group_seeds=2, retries=0, run_group=fail_naming_the_first)
    assert_each_names_the_group(pool.map(jobs_of(root, tmp_path / "p" / "r.sqlite")), 1)
    with dask_client() as client:
        dask = DaskExecutor(client, group_seeds=2, retries=0, run_group=fail_naming_the_first)
        assert_each_names_the_group(dask.map(jobs_of(root, tmp_path / "d" / "r.sqlite")), 1)

    class Failed:  # a submitted job whose result is the remote error (submitit raises it)
        def result(self) -> object:
            raise RuntimeError("the group's Slurm job failed")

    monkeypatch.setattr(SlurmExecutor, "_submit", lambda *a: Failed())
    slurm = SlurmExecutor(folder=tmp_path / "logs", cluster="debug", group_seeds=2, retries=0)
    assert_each_names_the_group(slurm.map(jobs_of(root, tmp_path / "s" / "r.sqlite")), 1)
    # a single job's record is its own error, as before
    (one,) = LocalExecutor(processes=False, retries=0, run=always_fail).map(  # type: ignore[arg-type]
        jobs_of(root, tmp_path / "o" / "r.sqlite", seeds=[1])
    )
    assert one.error == "RuntimeError: this job always fails"


# -- 4. the evaluation batch size -------------------------------------------------------------
def test_the_evaluation_batch_size_changes_no_number_beyond_rounding_on_a_cpu(
    tmp_path: Path,
) -> None:
    """Not keyed, since it changes no number beyond float rounding: kernels round by the
    batch's shape, a grouped network's batched ones, and on a CPU a single network's too (seen
    here at batch 1: 4e-9 relative), so the numbers agree within a tight tolerance, not
    bitwise."""
    from nb201_flat.train.data import load_dataset
    from nb201_flat.train.grouped_run import grouped_session
    from nb201_flat.train.trainer import DeviceData, Session

    root = write_tiny_cifar10(tmp_path / "data")
    data = DeviceData(load_dataset("cifar10", root), torch.device("cpu"))
    jobs = jobs_of(root, tmp_path / "unused.sqlite")
    job = jobs[0]
    single = Session(data, job.ops, job.n_nodes, c=job.c, n=job.n, seed=1, recipe=job.recipe,
                     mode=job.train_mode)  # fmt: skip
    single.train_epoch()
    group = grouped_session(jobs, data)
    group.train_epoch_stats()

    def at(sess: Any, bs: int) -> list[dict[str, tuple[float, float]]]:
        sess.recipe = dataclasses.replace(sess.recipe, eval_batch_size=bs)
        got = sess.evaluate()
        return [{s: v[:2] for s, v in m.items()} for m in (got if isinstance(got, list) else [got])]

    for sess in (single, group):
        ref = at(sess, 1024)
        for bs in (1, 5, 7):
            for mine, theirs in zip(at(sess, bs), ref, strict=True):
                assert mine.keys() == theirs.keys()
                for s, (loss, acc) in mine.items():
                    assert loss == pytest.approx(theirs[s][0], rel=1e-6, abs=0), (bs, s)
                    assert acc == theirs[s][1], (bs, s)
