"""Issue 10 item 5 (train): a killed ``train`` takes its workers with it, and a run in progress
is never trained twice (real processes, tiny CPU networks, every wait bounded)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from cli_helpers import as_at_a_terminal

from nb201_flat.errors import RunLockedError
from nb201_flat.train.data import write_batch
from nb201_flat.train.executors import LocalExecutor
from nb201_flat.train.jobs import TrainJob, make_jobs
from nb201_flat.train.recipe import Recipe
from nb201_flat.train.runlock import holder, run_lock
from nb201_flat.train.trainer import train

ARCH = "11472"
# long enough that no run can finish while the test watches it, however loaded the machine
# (each epoch takes >= 10 ms: >= 400 s, beyond every wait below)
LONG = "40000"


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, size=(8, 3 * 32 * 32), dtype=np.uint8)
        write_batch(folder / name, x, rng.integers(0, 10, 8), "labels")
    return tmp_path / "data"


def _argv(root: Path, db: Path, executor: str) -> list[str]:
    return [
        sys.executable, "-m", "nb201_flat", "train", ARCH, "--dataset", "cifar10",
        "--epochs", LONG, "--data-root", str(root), "--db", str(db), "--C", "4", "--N", "1",
        "--device", "cpu", "--executor", executor,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _progress(db: Path) -> tuple[int, str | None]:
    """(last stored epoch, run status), read-only so the reader never blocks the writer."""
    if not db.is_file():
        return 0, None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            epoch = con.execute("SELECT max(epoch) FROM epochs").fetchone()[0]
            status = con.execute("SELECT status FROM runs").fetchone()
    except sqlite3.OperationalError:  # tables not created yet
        return 0, None
    return int(epoch or 0), None if status is None else str(status[0])


def _wait_for_epoch(proc: subprocess.Popen[str], db: Path, deadline_s: float = 120.0) -> None:
    end = time.monotonic() + deadline_s
    while _progress(db)[0] < 1:
        assert proc.poll() is None, "train exited before its first epoch"
        assert time.monotonic() < end, "no epoch stored in time"
        time.sleep(0.2)


def _workers(pgid: int) -> list[int]:
    """Pids of the pool workers (spawned ``spawn_main`` processes) in process group ``pgid``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z" and b"spawn_main" in cmd:
            pids.append(int(stat.parent.name))
    return pids


@pytest.fixture
def group() -> Iterator[list[int]]:
    """Process groups started by a test; killed whole at the end, orphans included."""
    pgids: list[int] = []
    yield pgids
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def test_kill_9_of_train_stops_its_workers(data_root: Path, tmp_path: Path, group: list) -> None:
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen(
        _argv(data_root, db, "local"), env=_env(), text=True, start_new_session=True
    )
    group.append(proc.pid)
    _wait_for_epoch(proc, db)
    assert _workers(proc.pid), "no pool worker found training the run"
    # the lock file is made before training starts; the checkpoint folder only at the first
    # save, after the epoch's rows (a kill in between leaves no folder: CI met it)
    locks = list((tmp_path / "r.sqlite.ckpt").glob("*.lock"))
    assert len(locks) == 1, locks
    run_folder = locks[0].with_name(locks[0].name.removesuffix(".lock"))
    assert holder(run_folder) is not None, "the training worker holds no lock"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # PDEATHSIG is immediate and the watchdog polls every 0.5 s; the bound is for a loaded machine
    end = time.monotonic() + 30.0
    while _workers(proc.pid) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _workers(proc.pid), "pool workers outlived the killed train"
    first, _ = _progress(db)
    time.sleep(2.0)
    later, status = _progress(db)
    assert later == first, f"a worker kept training after its parent died: {first} -> {later}"
    assert status == "running"
    assert holder(run_folder) is None, "the dead worker's lock is still held"


@pytest.mark.parametrize("to", ["train", "group"])
def test_ctrl_c_stops_train_and_its_workers_at_once(
    data_root: Path, tmp_path: Path, group: list, to: str
) -> None:
    """Ctrl-C: a terminal sends SIGINT to the whole group, ``kill -INT`` to ``train`` alone.
    Either way ``train`` says "interrupted", exits 130 and its workers are gone, without
    waiting for the run (thousands of epochs) to finish, and no warning of leaked locks."""
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen(
        _argv(data_root, db, "local"), env=_env(), text=True, start_new_session=True,
        stderr=subprocess.PIPE, preexec_fn=as_at_a_terminal,
    )  # fmt: skip
    group.append(proc.pid)
    _wait_for_epoch(proc, db)
    if to == "group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)  # before the fix: waited for the whole run
    assert proc.returncode == 130
    assert [line for line in err.splitlines() if "WARNING" not in line] == ["interrupted"], err
    assert not _workers(proc.pid)
    assert _progress(db)[1] == "running"  # resumes from its checkpoint next time


def test_second_train_of_a_run_in_progress_is_refused(
    data_root: Path, tmp_path: Path, group: list
) -> None:
    db = tmp_path / "r.sqlite"
    first = subprocess.Popen(
        _argv(data_root, db, "inline"), env=_env(), text=True, start_new_session=True
    )
    group.append(first.pid)
    _wait_for_epoch(first, db)
    second = subprocess.Popen(
        _argv(data_root, db, "local"), env=_env(), text=True, stderr=subprocess.PIPE,
        stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    group.append(second.pid)  # its workers too, should it train
    try:
        _, stderr = second.communicate(timeout=120)  # a torch import on a loaded machine
    except subprocess.TimeoutExpired:
        pytest.fail("the second train ran the same run instead of refusing it")
    assert first.poll() is None  # still training: the refusal was not a finished run
    lines = stderr.strip().splitlines()
    assert second.returncode == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "being trained by pid" in lines[0] and ".lock" in lines[0]


def _job(root: Path, tmp_path: Path) -> TrainJob:
    return make_jobs(
        [int(ARCH)], dataset="cifar10", epochs=1, seeds=[777], data_root=root,
        db_path=tmp_path / "r.sqlite", recipe=Recipe(epochs=1, batch_size=16), c=4, n=1,
        device="cpu", threads=1,
    )[0]  # fmt: skip


def test_locked_run_is_not_trained_nor_retried(data_root: Path, tmp_path: Path) -> None:
    job = _job(data_root, tmp_path)
    calls = []

    def counting(j: TrainJob) -> object:
        calls.append(j.name)
        return train(j)

    with run_lock(job.checkpoint_folder, job.name):
        with pytest.raises(RunLockedError, match="being trained by pid"):
            train(job)
        (res,) = LocalExecutor(processes=False, retries=3, run=counting).map([job])  # type: ignore[arg-type]
    assert res.status == "failed" and res.attempts == 1 and len(calls) == 1
    assert "RunLockedError" in (res.error or "")
    assert not (tmp_path / "r.sqlite").exists() or _progress(tmp_path / "r.sqlite")[0] == 0
    assert train(job).status == "done"  # released with the with block


def test_a_probe_of_the_lock_never_refuses_a_run(tmp_path: Path) -> None:
    # holder() took the lock for a moment: a run starting then was refused as 'being trained'
    # (665 of 20,000 starts beside a probing loop), and RunLockedError is not retried
    import threading

    folder = tmp_path / "run"
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            holder(folder)

    with run_lock(folder, "run"):  # the file exists for the probes
        pass
    prober = threading.Thread(target=probe)
    prober.start()
    try:
        refused = 0
        for _ in range(500):
            try:
                with run_lock(folder, "run"):
                    pass
            except RunLockedError:
                refused += 1
    finally:
        stop.set()
        prober.join()
    assert refused == 0
    with run_lock(folder, "run"):  # a real holder is still found, and refused
        assert holder(folder) is not None
        with (
            pytest.raises(RunLockedError, match="is being trained by pid"),
            run_lock(folder, "run"),
        ):
            pass
