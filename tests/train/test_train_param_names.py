"""The training library names its Python parameters (errors.Param), never the train command's
flags; ``nb201-flat train`` respells them (cli.common.flag_of), in its one-line refusals and in
the failed runs' errors, which come back from the workers as results (JobResult.error_parts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from train_helpers import write_tiny_cifar10, write_tiny_imagenet16

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, CheckpointMismatchError, ExecutorSpecError
from nb201_flat.train.executors import DaskExecutor, SlurmExecutor, executor_from_spec
from nb201_flat.train.jobs import make_jobs

ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def _argv(root: Path, db: Path, *extra: str, dataset: str = "cifar10") -> list[str]:
    """The train command; an option in ``extra`` replaces its default here (the command
    refuses an option given twice)."""
    default = {"--dataset": dataset, "--data-root": str(root), "--db": str(db),
               "--device": "cpu", "--C": "2", "--N": "1", "--epochs": "1"}  # fmt: skip
    kept = [w for option, value in default.items() if option not in extra for w in (option, value)]
    return ["train", ARCH, *kept, *extra]


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_slurm_without_srun_names_the_parameter_or_the_executor_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("submitit")
    pytest.importorskip("torch")
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun
    for call, fix in (
        (lambda: executor_from_spec("slurm"), "use spec='local'"),
        (lambda: SlurmExecutor(folder=tmp_path / "logs").build(), "use cluster='local'"),
    ):
        with pytest.raises(ExecutorSpecError) as exc:
            call()
        assert str(exc.value).endswith(f"run on a Slurm login node, or {fix}")
        assert "--" not in str(exc.value)
    line = _one_line_exit_2(capsys, _argv(tmp_path, tmp_path / "r.sqlite", "--executor", "slurm"))
    assert line.endswith("run on a Slurm login node, or use --executor local"), line
    assert "spec" not in line and "cluster" not in line


def test_a_refused_slurm_submission_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # sbatch missing, or refusing the job (a wrong account): submitit's FileNotFoundError or
    # FailedJobError came out as a traceback, exit 1
    pytest.importorskip("submitit")
    pytest.importorskip("torch")
    from train_helpers import fake_srun

    root = write_tiny_cifar10(tmp_path / "data")
    argv = _argv(root, tmp_path / "r.sqlite", "--executor", "slurm")
    node = fake_srun(tmp_path / "node")
    (tmp_path / "node" / "sbatch").unlink()
    monkeypatch.setenv("PATH", node)
    line = _one_line_exit_2(capsys, argv)
    assert "(sbatch not on PATH); run on a Slurm login node, or use --executor local" in line
    refuse = "echo 'sbatch: error: Batch job submission failed: Invalid account' >&2; exit 1"
    monkeypatch.setenv("PATH", fake_srun(tmp_path / "node2", refuse))
    assert main(argv) == 2
    # submitit passes sbatch's own stderr through; then the one line, no traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("sbatch: error:") and len(err) == 2, err
    line = err[-1]
    assert line.startswith("error: Slurm refused to take ") and "Invalid account" in line
    assert line.endswith("check the Slurm account and partition, or use --executor local"), line


def test_an_unreachable_dask_scheduler_names_address_or_the_executor_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("torch")

    class Refused(distributed.Client):  # type: ignore[misc,name-defined]  # a scheduler nobody runs
        def __init__(self, address: object) -> None:
            raise OSError("Timed out trying to connect")

    monkeypatch.setattr(distributed, "Client", Refused)
    root = write_tiny_cifar10(tmp_path / "data")
    jobs = make_jobs([ARCH], dataset="cifar10", epochs=1, seeds=[1], data_root=root,
                     db_path=tmp_path / "py.sqlite", c=2, n=1, device="cpu")  # fmt: skip
    with pytest.raises(ExecutorSpecError) as exc:
        DaskExecutor("tcp://h:1").map(jobs)
    assert str(exc.value).endswith("(Timed out trying to connect); start it, or correct address")
    line = _one_line_exit_2(capsys, _argv(root, tmp_path / "r.sqlite", "--executor", "dask://h:1"))
    assert line.endswith("; start it, or correct --executor"), line
    assert "address" not in line


def test_a_worker_s_failure_names_the_train_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # checkpoints of another run in a run's folder: the run fails in its worker, and the
    # command's failed line names --ckpt-dir where the Python result names ckpt_dir
    pytest.importorskip("torch")
    root = write_tiny_cifar10(tmp_path / "data")
    db, ckpt = tmp_path / "r.sqlite", tmp_path / "ckpt"
    args = ("--executor", "inline", "--ckpt-dir", str(ckpt), "--epochs", "2")
    jobs = make_jobs([ARCH], dataset="cifar10", epochs=2, seeds=[1, 2], data_root=root,
                     db_path=db, ckpt_dir=ckpt, c=2, n=1, device="cpu")  # fmt: skip
    from train_helpers import Crash, crash_after

    from nb201_flat.train.trainer import train

    for job in jobs:  # both stopped after epoch 1: their rows reach it, as their checkpoints
        with pytest.raises(Crash):
            train(job, on_epoch_end=crash_after(1))
    # within its rows, so not refused up front (check_resume_rows): a checkpoint past them
    # of another run is refused before any run, in the run's words
    shutil.rmtree(jobs[1].checkpoint_folder)
    shutil.copytree(jobs[0].checkpoint_folder, jobs[1].checkpoint_folder)
    with pytest.raises(CheckpointMismatchError) as exc:
        train(jobs[1])
    assert str(exc.value).endswith("move them away or use another ckpt_dir")
    capsys.readouterr()
    assert main([*_argv(root, db, *args, "--seeds", "2"), "--json"]) == 1
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["status"] == "failed"
    assert run["error"].startswith("CheckpointMismatchError: checkpoints in ")
    assert run["error"].endswith("move them away or use another --ckpt-dir"), run["error"]
    assert main(_argv(root, db, *args, "--seeds", "2")) == 1
    out = capsys.readouterr().out
    assert "move them away or use another --ckpt-dir" in out and "ckpt_dir" not in out
    # with bars the same: a failed run, retried, and the rest of the campaign still trains
    # (the bars' own loop once raised the first failure and trained nothing after it)
    bars = [*_argv(root, db, *args, "--seeds", "2", "3"), "--retries", "2", "--progress"]
    assert main([*bars, "--json"]) == 1
    failed, done = json.loads(capsys.readouterr().out)["runs"]
    assert (failed["seed"], failed["status"], done["seed"], done["status"]) == (
        2,
        "failed",
        3,
        "done",
    )
    assert failed["error"].endswith("move them away or use another --ckpt-dir")


def test_imagenet16_of_another_size_names_mode_or_the_mode_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from nb201_flat.errors import DatasetSizeError
    from nb201_flat.train.splits import check_nb201_counts

    with pytest.raises(DatasetSizeError) as exc:
        check_nb201_counts("ImageNet16-120", 151_699, 6_000)
    assert str(exc.value).endswith("use the full NB201 dataset or mode='fast'")
    root = write_tiny_imagenet16(tmp_path / "data")
    argv = _argv(root, tmp_path / "r.sqlite", "--executor", "inline", dataset="ImageNet16-120")
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    if code == 2:  # refused before any run
        (line,) = err.strip().splitlines()
        text = line
    else:  # each run failed in its worker
        assert code == 1
        (run,) = json.loads(out)["runs"]
        text = run["error"]
    assert text.endswith("use the full NB201 dataset or --mode fast"), text
    assert "mode=" not in text


def test_a_stored_run_of_other_data_names_db_path(tmp_path: Path) -> None:
    # refused before any attempt, in the executor, which keeps the parameter for a command
    # (the train command refuses such a --db itself, before any job: _check_db_data)
    pytest.importorskip("torch")
    from dataclasses import replace

    from nb201_flat.train.executors import LocalExecutor
    from nb201_flat.train.trainer import train

    root = write_tiny_cifar10(tmp_path / "data")
    (job,) = make_jobs([ARCH], dataset="cifar10", epochs=1, seeds=[1], data_root=root,
                       db_path=tmp_path / "r.sqlite", c=2, n=1, device="cpu")  # fmt: skip
    assert train(job).status == "done"
    (res,) = LocalExecutor(processes=False).map([replace(job, data_identity="0" * 64)])
    assert res.status == "failed" and res.attempts == 0
    assert res.error is not None and res.error.endswith("into a db_path of its own")
    assert "--" not in res.error
    flags = res.error_spelled(lambda p: "--db" if p.name == "db_path" else None)
    assert flags is not None and flags.endswith("into a --db of its own")


def test_an_interval_longer_than_the_schedule_names_eval_every(tmp_path: Path) -> None:
    # the command refused --eval-every 10 with --epochs 5, the library's jobs took it
    with pytest.raises(ArgumentError) as exc:
        make_jobs([ARCH], dataset="cifar10", epochs=5, seeds=[1], eval_every=10, data_root=tmp_path,
                  db_path=tmp_path / "r.sqlite", c=2, n=1, device="cpu")  # fmt: skip
    assert str(exc.value).startswith("eval_every 10 is longer than the schedule (epochs=5)")
    assert "give eval_every=5" in str(exc.value)
