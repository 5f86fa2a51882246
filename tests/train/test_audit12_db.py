"""A twelfth audit's findings on the results database and the train command: a new --db that
another train command is creating, --db names SQLite's own files cannot follow, a full disk or
file-size limit while writing it, the default CPU thread count, the checkpoint-folder warning's
spelling, and an empty ``datasets`` for the analytic costs."""

from __future__ import annotations

import logging
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from train_helpers import Crash, crash_after, write_tiny_cifar10

from nb201_flat.errors import ArgumentError, Param, ResultsDBFullError, spelling_logs
from nb201_flat.train import results_db
from nb201_flat.train.executors import LocalExecutor, local_cpu_threads
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.results_db import ResultsDB

KEY = ("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "cifar10", 200, 777)


def _argv(data: Path, db: Path | str, *cells: str, executor: str = "inline") -> list[str]:
    return ["train", *(cells or ("11472",)), "--dataset", "cifar10", "--epochs", "1",
            "--data-root", str(data), "--db", str(db), "--device", "cpu", "--executor",
            executor, "--C", "1", "--N", "1", "--threads", "1"]  # fmt: skip


def _done(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [s for (s,) in con.execute("SELECT status FROM runs ORDER BY arch_index")]
    finally:
        con.close()


# -- 1. a new --db that another train command is creating ------------------------------------
def test_a_new_db_another_train_is_creating_is_trained_into(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first writer switches a new file to WAL before it creates the tables: a second
    train reading the file then was refused ('not a results database (no such table: meta)')."""
    from nb201_flat.cli import main

    data = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "n.db"
    first = sqlite3.connect(db, isolation_level=None)  # held as the first writer leaves it
    try:
        first.execute("PRAGMA journal_mode = WAL").fetchone()
        assert main(_argv(data, db)) == 0, capsys.readouterr().err
    finally:
        first.close()
    assert _done(db) == ["done"]


def test_a_db_left_by_a_writer_killed_before_its_tables_is_a_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main

    data = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "n.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL").fetchone()
    con.close()
    assert db.stat().st_size > 0 and results_db.not_created_yet(db)
    assert main(_argv(data, db)) == 0, capsys.readouterr().err
    assert _done(db) == ["done"]


def test_a_writer_creates_its_tables_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer stopped while it creates the tables leaves none (a new file to the next),
    never meta without its schema version (refused as 'results schema none') or without runs."""
    broken = results_db._SCHEMA + "CREATE TABLE broken (;\n"  # fails after every table
    monkeypatch.setattr(results_db, "_SCHEMA", broken)
    db = tmp_path / "r.sqlite"
    with pytest.raises(results_db.ResultsDBError):
        ResultsDB(db).write_epoch(KEY, 5, 1, {"train": (2.3, 10.0, 1.5)})
    con = sqlite3.connect(db)
    assert con.execute("SELECT name FROM sqlite_master").fetchall() == []
    con.close()
    monkeypatch.undo()
    ResultsDB(db).write_epoch(KEY, 5, 1, {"train": (2.3, 10.0, 1.5)})  # a new file: created


# -- 2. a --db name SQLite's -journal cannot follow -------------------------------------------
def _too_long(folder: Path) -> str:
    """A legal name whose ``-journal`` file's name would be too long in ``folder``."""
    longest = os.pathconf(folder, "PC_NAME_MAX")
    return "g" * (longest - len("-journal") + 1)


def test_train_refuses_a_db_name_without_room_for_sqlites_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main

    data = write_tiny_cifar10(tmp_path / "data")
    runs = tmp_path / "runs"
    runs.mkdir()
    name = _too_long(runs)
    assert main(_argv(data, runs / name)) == 2
    err = capsys.readouterr().err
    longest = os.pathconf(runs, "PC_NAME_MAX")
    assert err.count("\n") == 1 and err.startswith("error: --db ")
    assert f"pass a name of at most {longest - 8} bytes" in err
    assert list(runs.iterdir()) == []  # no empty database, no .ckpt folder
    assert main(_argv(data, runs / name[:-1])) == 0  # the fix as said
    assert _done(runs / name[:-1]) == ["done"]


def test_the_python_entries_refuse_such_a_name_before_any_file(tmp_path: Path) -> None:
    from nb201_flat.train.trainer import train

    data = write_tiny_cifar10(tmp_path / "data")
    runs = tmp_path / "runs"
    runs.mkdir()
    (job,) = make_jobs([11472], dataset="cifar10", epochs=1, seeds=[1], data_root=data,
                       db_path=runs / _too_long(runs), c=1, n=1, device="cpu", threads=1)  # fmt: skip
    with pytest.raises(ArgumentError, match=r"^db_path .*at most \d+ bytes$"):
        LocalExecutor(processes=False).map([job])
    with pytest.raises(ArgumentError, match=r"^db_path "):
        train(job)
    assert list(runs.iterdir()) == []


# -- 3. no room to write the results database --------------------------------------------------
def _limited(limit: int) -> Any:
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _train_limited(argv: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb201_flat", *argv],
        capture_output=True, text=True, cwd=cwd, preexec_fn=_limited(limit), timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_file_size_limit_stops_train_in_one_line(tmp_path: Path, executor: str) -> None:
    """ulimit -f 30: 'u.db is not a readable results database (disk I/O error)', the run
    retried, a failed row and exit 1, naming no fix; in a worker process (--executor local)
    too: the campaign stops in one line."""
    data = write_tiny_cifar10(tmp_path / "data")
    done = _train_limited(_argv(data, "u.db", executor=executor), 30 * 1024, tmp_path)
    lines = [ln for ln in done.stderr.splitlines() if "WARNING nb201_flat.cli" not in ln]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: results database u.db could not be")
    assert (
        "file-size limit of 30720 bytes" in lines[0] and "raise the limit (ulimit -f)" in lines[0]
    )
    assert "attempt" not in done.stderr and done.stdout == ""


_WRITE_UNTIL_FULL = """
import resource, sys
from nb201_flat.errors import ResultsDBFullError
from nb201_flat.train.results_db import ResultsDB
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
db = ResultsDB({path!r})
epoch = 1
try:
    while epoch < 100000:
        db.write_epoch({key!r}, 5, epoch + 1, {{"train": (2.3, 10.0, 1.5)}})
        epoch += 1
except ResultsDBFullError as exc:
    print(epoch, exc)
"""


def test_a_limit_reached_mid_run_keeps_what_the_db_holds(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    ResultsDB(path).write_epoch(KEY, 5, 1, {"train": (2.3, 10.0, 1.5)})
    code = _WRITE_UNTIL_FULL.format(limit=256 * 1024, path=str(path), key=KEY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    stored, said = done.stdout.split(" ", 1)
    assert "could not be written: its files reached this process's file-size limit" in said
    assert int(stored) > 1 and done.stderr == ""
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    assert ResultsDB(path).whole_train_epochs(KEY) == int(stored)  # every epoch written before


def test_a_full_disk_is_said_with_its_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's 'database or disk is full' (here: its page limit, the disk's free space
    reported as none) was 'results database ...: database or disk is full', no fix named."""
    db = ResultsDB(tmp_path / "r.sqlite", named="db_path")
    db.write_epoch(KEY, 5, 1, {"train": (2.3, 10.0, 1.5)})
    conn = db._connect()
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}").fetchone()
    monkeypatch.setattr(
        results_db.os, "statvfs", lambda _: os.statvfs_result((4096,) * 2 + (0,) * 8)
    )
    epoch = 1
    with pytest.raises(ResultsDBFullError) as err:  # noqa: PT012 (the write)
        while epoch < 500:
            epoch += 1
            db.write_epoch(KEY, 5, epoch, {"train": (2.3, 10.0, 1.5), "ori-test": (1, 2, 3)})
    said = err.value.spelled(lambda p: "--db" if p.name == "db_path" else None)
    assert "could not be written: its disk is full (database or disk is full)" in said
    assert "free space on its disk and run it again, or pass another --db on another disk" in said
    stored = db.whole_train_epochs(KEY)
    assert 1 < stored < epoch
    db.close()
    assert ResultsDB(db.path).whole_train_epochs(KEY) == stored  # reopened: intact


def _full(job: Any) -> Any:
    (_full.calls).append(job.name)  # type: ignore[attr-defined]
    raise ResultsDBFullError("results database r.sqlite could not be written: its disk is full")


def test_executors_stop_on_a_full_db_without_retrying(tmp_path: Path) -> None:
    _full.calls = []  # type: ignore[attr-defined]
    jobs = make_jobs([11472, 8], dataset="cifar10", epochs=1, seeds=[1], data_root="d",
                     db_path=tmp_path / "r.sqlite", c=1, n=1, device="cpu")  # fmt: skip
    with pytest.raises(ResultsDBFullError, match="its disk is full"):
        LocalExecutor(processes=False, retries=3, run=_full).map(jobs)
    assert _full.calls == [jobs[0].name]  # type: ignore[attr-defined]


# -- 4. the default CPU threads: the CPUs this process may use ---------------------------------
def test_local_threads_count_the_cpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert local_cpu_threads(1) == 2
    assert local_cpu_threads(2) == 1


def test_train_help_says_which_cpus() -> None:
    from nb201_flat.cli import build_parser
    from nb201_flat.cli.common import subparser

    text = " ".join(subparser(build_parser("train"), "train").format_help().split())
    assert "the CPUs this process may use / --jobs-per-device" in text


# -- 5. the checkpoint-folder warning names the parameter as its caller does -------------------
def test_the_rows_without_checkpoints_warning_names_ckpt_dir_as_the_caller_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from nb201_flat.train.trainer import train

    data = write_tiny_cifar10(tmp_path / "data")
    kw: dict[str, Any] = dict(dataset="cifar10", epochs=3, seeds=[0], data_root=data,
                              db_path=tmp_path / "r.sqlite", c=1, n=1, device="cpu", threads=1)  # fmt: skip
    with pytest.raises(Crash):
        train(make_jobs([11472], ckpt_dir=tmp_path / "a", **kw)[0], on_epoch_end=crash_after(2))
    with caplog.at_level(logging.WARNING), pytest.raises(Crash):  # stopped again: rows 1-2
        train(make_jobs([11472], ckpt_dir=tmp_path / "b", **kw)[0], on_epoch_end=crash_after(2))
    (python,) = [r.getMessage() for r in caplog.records if "no checkpoint in" in r.getMessage()]
    assert python.endswith("trained with, ckpt_dir)") and "--ckpt-dir" not in python
    caplog.clear()
    flags = {"ckpt_dir": "--ckpt-dir"}
    with spelling_logs(lambda p: flags.get(p.name)), caplog.at_level(logging.WARNING):
        train(make_jobs([11472], ckpt_dir=tmp_path / "c", **kw)[0])
    (cli,) = [r.getMessage() for r in caplog.records if "no checkpoint in" in r.getMessage()]
    assert cli.endswith("trained with, --ckpt-dir)")


# -- 6. an empty datasets for the analytic costs -----------------------------------------------
def test_analytic_costs_refuse_an_empty_datasets_not_the_table() -> None:
    from nb201_flat.costs import with_analytic_costs
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey, Table

    key = MetricKey("cifar100", "model", 200, "params_mb")
    t = Table(NB201, {(key, None): np.full(NB201.size, 9.0)}, source="s")
    with pytest.raises(ArgumentError) as err:
        with_analytic_costs(t, [])
    assert err.value.parts[0] == Param("datasets")
    assert str(err.value) == (
        "datasets is empty; pass dataset names (the table has cifar100), or None for those of "
        "its datasets with a known input shape"
    )
