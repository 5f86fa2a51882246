"""Helpers for the training tests: tiny datasets in the real on-disk layouts."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nb201_flat.space import NB201, Space
from nb201_flat.train.campaign import CampaignPlan, plan_campaign
from nb201_flat.train.data import write_batch

SCHEMA_1_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE epochs (
    space TEXT NOT NULL, arch TEXT NOT NULL, arch_index INTEGER NOT NULL,
    dataset TEXT NOT NULL, split TEXT NOT NULL, schedule INTEGER NOT NULL,
    seed INTEGER NOT NULL, epoch INTEGER NOT NULL,
    loss REAL, accuracy REAL, time_s REAL,
    PRIMARY KEY (space, arch, dataset, split, schedule, seed, epoch)
);
CREATE TABLE runs (
    space TEXT NOT NULL, arch TEXT NOT NULL, arch_index INTEGER NOT NULL,
    dataset TEXT NOT NULL, schedule INTEGER NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, params_mb REAL, flops_m REAL, train_time_s REAL,
    host TEXT, updated_at REAL,
    PRIMARY KEY (space, arch, dataset, schedule, seed)
);
INSERT INTO meta VALUES ('schema_version', '1');
"""
"""A results database of schema 1 (before row checksums and the runs' side tables), without
rows: what files written by earlier versions hold."""

# kept small so one epoch of the C=4, N=1 network takes milliseconds on a CPU
N_PER_BATCH = 16
N_TEST = 24


@contextlib.contextmanager
def dask_client(threads: int = 1) -> Iterator[Any]:
    """A client of a one-worker dask cluster in this process (skipped without dask).

    No memory limit: an in-process worker measures the whole pytest worker (tables kept by
    earlier tests' fixtures, heap freed but not returned), and at 80 % of its automatic limit
    (the machine's memory x threads / cores) it pauses and never runs the task, so the map
    waits for ever."""
    import pytest

    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=threads,
            processes=False,
            dashboard_address=None,
            memory_limit=0,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def write_tiny_cifar10(root: Path, *, seed: int = 0, n: int = N_PER_BATCH) -> Path:
    """CIFAR-10 layout: five train batches of ``n`` images and a test batch of N_TEST."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        write_batch(
            folder / f"data_batch_{i}", images(rng, n, 32), rng.integers(0, 10, n), "labels"
        )
    write_batch(
        folder / "test_batch", images(rng, N_TEST, 32), rng.integers(0, 10, N_TEST), "labels"
    )
    return root


def write_tiny_cifar100(root: Path, *, seed: int = 1) -> Path:
    """CIFAR-100 layout: 40 train and N_TEST test images, fine labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    write_batch(folder / "train", images(rng, 40, 32), rng.integers(0, 100, 40), "fine_labels")
    write_batch(
        folder / "test", images(rng, N_TEST, 32), rng.integers(0, 100, N_TEST), "fine_labels"
    )
    return root


def write_tiny_imagenet16(root: Path, *, seed: int = 2) -> Path:
    """ImageNet16 layout; labels up to 130 so the <= 120 filter has something to drop."""
    rng = np.random.default_rng(seed)
    folder = root / "ImageNet16"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 11):
        labels = rng.integers(1, 131, 8)
        write_batch(folder / f"train_data_batch_{i}", images(rng, 8, 16), labels, "labels")
    val = np.r_[np.arange(1, N_TEST + 1), [121, 130]]
    write_batch(folder / "val_data", images(rng, len(val), 16), val, "labels")
    return root


def write_split_file(path: Path, keys: tuple[str, str], a: list[int], b: list[int]) -> None:
    """NB201's split-file form: ``{key: ["int", [indices]]}``."""
    path.write_text(json.dumps({keys[0]: ["int", a], keys[1]: ["int", b]}))


def write_many(args: tuple[str, int, int]) -> int:
    """Worker for the concurrent-writer test: ``n`` epochs of run ``worker`` into ``path``."""
    from nb201_flat.train.results_db import ResultsDB

    path, worker, n = args
    db = ResultsDB(path, timeout_s=60)
    key = ("nb201", f"arch-{worker}", "cifar10", n, 777)
    shared = ("nb201", "shared", "cifar10", n, 777)
    for epoch in range(1, n + 1):
        rows = {"train": (1.0 / epoch, float(epoch), 0.1 * epoch), "ori-test": (2.0, 50.0, 0.01)}
        db.write_epoch(key, worker, epoch, rows)
        db.write_epoch(shared, 99, epoch, rows)  # every worker also upserts the same run
    db.mark_run(key, worker, "done", params_mb=0.1, flops_m=1.0, train_time_s=0.1 * n)
    db.close()
    return worker


def flaky_run(job: object) -> object:
    """Fails the first attempt of every job whose seed is odd, then trains normally.

    Attempts are counted in a file beside the job's database, so the count survives the fresh
    worker process of a retry.
    """
    from nb201_flat.train.trainer import run_job

    name = job.name  # type: ignore[attr-defined]
    marker = Path(job.db_path).parent / f"{name}.attempts"  # type: ignore[attr-defined]
    with marker.open("a") as f:
        f.write("x")
    if job.seed % 2 and len(marker.read_text()) == 1:  # type: ignore[attr-defined]
        raise RuntimeError(f"transient failure of {name}")
    return run_job(job)  # type: ignore[arg-type]


def timed_run(job: object) -> object:
    """Trains the job, writing when its run started and ended (one line each, beside its
    database): runs of one process (dask threads) must not overlap."""
    import time

    from nb201_flat.train.trainer import run_job

    log = Path(job.db_path).parent / "spans.txt"  # type: ignore[attr-defined]
    start = time.monotonic()
    time.sleep(0.2)  # long enough for a second thread to start meanwhile
    try:
        return run_job(job)  # type: ignore[arg-type]
    finally:
        with log.open("a") as f:
            f.write(f"{start} {time.monotonic()}\n")


def always_fail(job: object) -> object:
    raise RuntimeError("this job always fails")


def fail_saying_a_param(job: object) -> object:
    """Fails with a log line's spelling of ``retrain_damaged`` (:func:`for_log`), as the
    process running the job spells it: what a repair warning of that run would say."""
    from nb201_flat.errors import ArgumentError, Param, for_log

    raise RuntimeError(for_log(ArgumentError("said ", Param("retrain_damaged"))))


def fail_naming_paths(job: object) -> object:
    """A failed result naming the job's database and data folders as the worker received
    them (returned, not raised: submitit's debug cluster opens a debugger on an error)."""
    from nb201_flat.train.jobs import JobResult

    said = f"paths {job.db_path} {job.data_root}"  # type: ignore[attr-defined]
    return JobResult(job, "failed", error=said)  # type: ignore[arg-type]


def die_on_seed_1(job: object) -> object:
    """Kills its worker process for seed 1 (as a segfault or the OOM killer would); any other
    seed is done at once, untrained."""
    import os

    from nb201_flat.train.jobs import JobResult

    if job.seed == 1:  # type: ignore[attr-defined]
        os._exit(3)
    return JobResult(job, "done", {"train": {"loss": 0.0, "accuracy": 0.0}}, 0.0)  # type: ignore[arg-type]


class Crash(RuntimeError):
    """Raised by :func:`crash_after`'s callback: a training killed after an epoch is stored."""


def crash_after(n: int) -> Callable[[int, object], None]:
    """An ``on_epoch_end`` callback that raises :class:`Crash` once epoch ``n`` is stored."""

    def cb(epoch: int, rows: object) -> None:
        if epoch == n:
            raise Crash

    return cb


def fake_srun(folder: Path, sbatch: str = "") -> str:
    """A ``PATH`` holding only a do-nothing ``srun`` and an ``sbatch`` running the shell lines
    ``sbatch`` (none: it does nothing) in ``folder``: a machine that looks like a Slurm node to
    :func:`~nb201_flat.train.executors.check_cluster` (nothing is submitted)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (("srun", ""), ("sbatch", sbatch)):
        tool = folder / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    return str(folder)


#: the ops of :func:`one_isomorphic_class`'s space
TOY_OPS = ("none", "skip_connect", "nor_conv_1x1")


def one_isomorphic_class() -> tuple[Space, CampaignPlan, int, int, int]:
    """``(space, plan, centre, member, representative)``: the radius-1 neighbourhood of
    ``centre``, a cell of a 3-op, 4-node space, holds one isomorphism class of two cells
    (``--unique-isomorphism`` trains the representative and records the member)."""
    space = Space(TOY_OPS, 4)
    centre = space.from_ops(
        ["nor_conv_1x1", "none", "skip_connect", "none", "none", "nor_conv_1x1"]
    )
    plan = plan_campaign(space, neighbours_of=centre, radius=1, unique_isomorphism=True)
    ((member, rep),) = plan.representative.items()
    return space, plan, centre, member, rep


def as_legacy(path: Path, table: str) -> None:
    """Record the rows of ``table`` so far as legacy rows (written before their table had
    checksums), as the writer that migrates a schema-1 file records them: how a test makes an
    old row without a checksum in a file this version wrote (a NULL past them is damage)."""
    import sqlite3

    from nb201_flat.train.results_db import _LEGACY_KEY

    con = sqlite3.connect(path)
    with con:
        con.execute(
            f"UPDATE meta SET value = (SELECT max(rowid) FROM {table}) WHERE key = ?",
            (_LEGACY_KEY + table,),
        )
    con.close()


# -- a --db of two cells trained for two epochs, for the repair tests -----------------------------
TWO_CELLS = ("11472", "8")


def two_cells_argv(data: Path, db: Path, *extra: str) -> list[str]:
    """``train`` of :data:`TWO_CELLS` for two epochs on the tiny CIFAR-10 at ``data`` into
    ``db`` (CPU, inline, C=2, N=1, one thread, --json), then ``extra``."""
    return ["train", *TWO_CELLS, "--dataset", "cifar10", "--epochs", "2", "--seeds", "1",
            "--data-root", str(data), "--db", str(db), "--device", "cpu", "--executor",
            "inline", "--C", "2", "--N", "1", "--threads", "1", "--json", *extra]  # fmt: skip


def train_two_cells(root: Path) -> tuple[Path, Path]:
    """A tiny CIFAR-10 under ``root`` and a folder holding a --db (and its checkpoints) of
    :data:`TWO_CELLS` trained by :func:`two_cells_argv`; each test copies the folder
    (:func:`copy_trained`)."""
    from nb201_flat.cli import main

    data = write_tiny_cifar10(root / "data")
    folder = root / "runs"
    assert main(two_cells_argv(data, folder / "r.sqlite")) == 0
    return data, folder


def copy_trained(trained: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """The data and a copy of the --db of :func:`train_two_cells` under ``tmp_path``."""
    data, folder = trained
    shutil.copytree(folder, tmp_path / "runs")
    return data, tmp_path / "runs" / "r.sqlite"


# -- two done runs written by hand, and hand edits of a results database --------------------------
REPAIR_ARCH = str(NB201.resolve(11472))
REPAIR_KEY = ("nb201", REPAIR_ARCH, "cifar10", 1, 777)
REPAIR_OTHER = ("nb201", str(NB201.resolve(8)), "cifar10", 1, 777)
REPAIR_DIGEST = "5eed" * 16


def two_done_runs(path: Path) -> Path:
    """:data:`REPAIR_KEY` (cell 11472) and :data:`REPAIR_OTHER` (cell 8) done at ``path``,
    one epoch each, with every side record but a stand-in."""
    from types import SimpleNamespace

    from nb201_flat.train.results_db import ResultsDB

    db = ResultsDB(path)
    data = SimpleNamespace(digest=REPAIR_DIGEST, official=True)
    for key, index, acc in ((REPAIR_KEY, 11472, 56.78125), (REPAIR_OTHER, 8, 12.5)):
        db.write_epoch(key, index, 1, {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, acc, 0.2)})
        db.mark_run(key, index, "done", params_mb=0.5, flops_m=7, train_time_s=1.5,
                    trained_as="single", trained_on="cpu", data=data)  # type: ignore[arg-type]  # fmt: skip
    db.close()
    return path


def edit_committed(path: Path, sql: str, *args: object) -> None:
    """A hand edit of the database at ``path``, committed, no checksum rewritten (it must
    change at least one row)."""
    import sqlite3

    con = sqlite3.connect(path)
    with con:
        assert con.execute(sql, args).rowcount >= 1
    con.close()
