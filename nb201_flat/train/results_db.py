"""Training results in SQLite, safe for many writer processes at once (no torch).

One row per (space, arch, dataset, split, schedule, seed, epoch) with loss, accuracy and time,
plus one row per run (its status and size). Side tables record, per run:

* ``run_forms``: how a finished run was trained, ``single``, ``grouped:K`` or
  ``concurrent:K``, or the forms in order joined by ``+`` for a run resumed in another form
  (``grouped:4+single``; ``unrecorded`` for epochs resumed from a checkpoint older than these
  records). A grouped run's numbers equal its separate run's only up to float rounding of the
  batched kernels, so the form is recorded with it;
* ``run_devices``: where a finished run was trained, the device (the GPU's name, or ``cpu``)
  with torch's version (and CUDA's and cuDNN's), several joined by `` | `` for a run resumed
  elsewhere: faithful mode is bitwise reproducible on one device and software, not across;
* ``run_data``: what a run was trained on (written with each epoch: an unfinished run's counts
  too; a digest other than the one the dataset's other runs record, in any space, is refused
  there: one set of files per dataset, :meth:`ResultsDB.write_epoch`), the
  :class:`~nb201_flat.train.data.DataIdentity` digest of the dataset files and splits, and
  whether they are the official ones;
* ``run_isomorphic``: for a cell not trained because an isomorphic cell of its campaign was
  (``train --unique-isomorphism``; its ``runs`` status is ``isomorphic``), that cell's arch.

Side tables rather than columns of ``runs``: schema-1 files stayed readable and writable by
earlier versions, with a trainer of either version writing at the same time (schema 2, the
epochs' checksums below, ends that: an older writer would add rows without one). The database
runs in WAL mode with a busy timeout, and every write is a short ``BEGIN IMMEDIATE``
transaction retried on contention, so workers on one machine (or on a file system with working
POSIX locks) can write concurrently. Rows are upserted: a resumed run that repeats an epoch
overwrites it with identical numbers.

Columns of ``epochs``: ``loss`` and ``accuracy`` (%) per split; ``time_s`` is, for ``train``,
the cumulative training time up to that epoch (so at the last epoch: the schedule's training
time, NB201's ``time_s``), and for evaluated splits the time of that epoch's evaluation.

Every row of every table but ``meta`` has a checksum (:func:`row_checksum`: sha256 of the
row's key and values, the floats as ``float.hex``), written in the same statement as the row
and checked wherever it is read: epochs where numbers are (:func:`load_results`,
:func:`load_curves`, :meth:`ResultsDB.final_metrics`); ``runs`` and the side tables where a
status, a stand-in or a digest decides what is imported or skipped (those two,
:meth:`ResultsDB.runs_frame`, :func:`check_finished_runs`, and training's
:meth:`~ResultsDB.status`, :meth:`~ResultsDB.done_keys`, :meth:`~ResultsDB.data_digest`,
:meth:`~ResultsDB.data_digests`). SQLite notices no flipped bit in a stored value, and a flipped
``isomorphic_to`` would copy another cell's numbers; a mismatch is refused, naming the run
(training's reads check a run's side-table rows and final epochs with its ``runs`` row, and a
done run's final epoch as an import does, :func:`check_finished_runs`: a finished run is
skipped only whole). A run the user trained cannot be downloaded again: the
refusal names ``retrain_damaged`` (``train --retrain-damaged``), with which training deletes
that run's rows from every table in one transaction (:meth:`ResultsDB.discard_damaged`) and
trains it again (a finished run is then checked at every epoch before it is skipped); its
damaged values are never checksummed anew. :func:`load_curves`, which serves every epoch, also
refuses a trained run whose train split lacks an epoch up to its last (a hole in its curve:
rows deleted, or a run resumed from a checkpoint into another database, :func:`_holed_run`),
and ``retrain_damaged`` trains such a run again. A refusal names the row (table, rowid). A damaged
row whose key names no run in ``runs`` is a stray row (its key was changed): no command trains
the run it names, so a campaign with ``retrain_damaged`` clears such rows first
(:meth:`ResultsDB.clear_stray_rows`: put back under the run whose key matches the checksum,
else deleted). The checksum is a column of the row it covers
(``checksum``), not a side table: a flipped key field then fails the check rather than unlinking
the row from its checksum. Those columns are schema 2: a writer opening a schema-1 file adds them
(``ALTER TABLE``, one transaction) and marks the file 2, so an older version refuses the file by
its version rather than failing at its first positional insert (a schema-2 file written before
``runs`` and the side tables had theirs gets them the same way). The rows already there keep a NULL
checksum: they are read, unverified, with one warning per file (a cell of another type than its
column's, which no writer here stores, is refused as damage in any row, before its checksum is
checked: one flipped bit of a record's header turns a text cell into a blob of the same bytes).
No checksum can be recovered for the old rows; refusing them would leave every database trained
before this change unreadable. Every row
written since carries one, so a NULL is legacy only up to the table's last legacy rowid (recorded
in ``meta`` by the migration; :func:`_legacy_upto`): a NULL past it is a checksum removed, refused
as damage; and a schema-2 file whose table lacks the column (one flipped schema byte renames it)
is refused, unless as the first schema-2 files were (:func:`_check_checksum_columns`). A writer
that rewrites a run's row (:meth:`ResultsDB.write_epoch` keeps its sizes) checks it first, and
writes a row that fails anew rather than checksumming its damaged values.

The rows :func:`load_results`, :func:`load_curves` and :meth:`ResultsDB.runs_frame` serve are the
rows they checked, read once from the tables themselves (never from an index, whose copy of a
damaged key can be the intact one). SQLite's own errors on a damaged file are one line
(:func:`damage_refused`); the importer also runs SQLite's integrity check on its private copy
(:func:`check_integrity`). A schema record whose name is no text (one flipped bit: SQLite still
finds the table, its integrity check passes, a query of the name reads bytes) and a table that
``meta`` records yet the file lacks are refused as a damaged file (:func:`_tables`).

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "r.sqlite")
>>> db = ResultsDB(path)
>>> key = ("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "cifar10", 1, 777)
>>> db.write_epoch(key, 5, 1, {"train": (2.3, 10.0, 1.5), "ori-test": (2.3, 10.0, 0.2)})
>>> db.mark_run(key, 5, "done")
True
>>> load_results(path)[["split", "metric", "value"]].values.tolist()[:3]
[['ori-test', 'accuracy', 10.0], ['ori-test', 'loss', 2.3], ['train', 'accuracy', 10.0]]
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from nb201_flat import __version__
from nb201_flat.errors import (
    ArgumentError,
    CheckpointMismatchError,
    DataMismatchError,
    FormatError,
    Param,
    Part,
    ResultsDBError,
    ResultsDBFullError,
    check_path,
    shown,
    spelled,
)
from nb201_flat.storage import WRITTEN_BY, written_by

if TYPE_CHECKING:
    from nb201_flat.train.data import DataIdentity

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_READABLE_VERSIONS = ("1", str(SCHEMA_VERSION))  # 1: no checksums, migrated by a writer
#: each results schema, and the first nb201_flat version that writes it: a new schema comes with
#: a new version (tests/test_upgrade14.py), which a file records in ``meta`` (:data:`WRITTEN_BY`,
#: by its creator, or the writer that migrated it; files of earlier versions record none). Schema
#: 2 came in 0.1.0's development, which never changed its number: 0.2.0 is the first to say so.
SCHEMA_WRITTEN_SINCE = {1: "0.1.0", 2: "0.2.0"}
Key = tuple[str, str, str, int, int]  # (space, arch, dataset, schedule epochs, seed)
T = TypeVar("T")
Damaged = dict[tuple[object, ...], str]
"""Damaged runs found by a read told to collect them: run key (as stored) -> why."""

_SIDE_TABLES: dict[str, dict[str, str]] = {
    "run_forms": {"trained_as": "TEXT"},
    "run_devices": {"trained_on": "TEXT"},
    "run_data": {"data_digest": "TEXT", "data_official": "INTEGER"},
    "run_isomorphic": {"isomorphic_to": "TEXT"},
}
"""Per-run records kept beside ``runs``, keyed as it is, their columns and types (side tables:
schema-1 files stayed earlier versions' to read and write)."""

_RUN_KEY = "space, arch, dataset, schedule, seed"
"""The columns that key a run, in :data:`Key`'s order, in every table."""

_EPOCH_COLUMNS = (
    "space, arch, arch_index, dataset, split, schedule, seed, epoch, loss, accuracy, time_s"
)
"""The columns of ``epochs``, in order: the content :func:`row_checksum` covers."""

_KEY_KINDS = {"space": "TEXT", "arch": "TEXT", "dataset": "TEXT"} | dict.fromkeys(
    ["schedule", "seed"], "INTEGER"
)
_COLUMN_KINDS: dict[str, dict[str, str]] = {
    "runs": {
        "space": "TEXT",
        "arch": "TEXT",
        "arch_index": "INTEGER",
        "dataset": "TEXT",
        "schedule": "INTEGER",
        "seed": "INTEGER",
        "status": "TEXT",
        **dict.fromkeys(["params_mb", "flops_m", "train_time_s"], "REAL"),
        "host": "TEXT",
        "updated_at": "REAL",
    },
    **{table: _KEY_KINDS | columns for table, columns in _SIDE_TABLES.items()},
}
"""The columns of ``runs`` and the side tables, in order (the content of their rows'
checksums), with their declared types (a value is hashed as the column stores it)."""

_CHECKED: dict[str, str] = {
    "epochs": _EPOCH_COLUMNS,
    **{table: ", ".join(kinds) for table, kinds in _COLUMN_KINDS.items()},
}
"""Every table whose rows carry a checksum, with the columns it covers, in order."""

DAMAGED_FIX_PARTS: tuple[Part, ...] = (
    "train it again with ",
    Param("retrain_damaged", True),
    " (which first deletes that run's rows from every table of the database)",
)
"""What to do about a damaged run: a database the user trained cannot be re-downloaded, and
training refuses it too (its reads check the same rows) unless told to delete the run's rows
and train it again (:meth:`ResultsDB.discard_damaged`)."""

STRAY_FIX_PARTS: tuple[Part, ...] = (
    "train with ",
    Param("retrain_damaged", True),
    ", which puts such a row back under the run whose key matches its checksum, or deletes it "
    "where none does",
)
"""What to do about a stray row (:func:`_refusal`): no command trains the run it names, so
training again cannot clear it; :meth:`ResultsDB.clear_stray_rows` does, in one transaction."""

DAMAGED_FIX = spelled(DAMAGED_FIX_PARTS)
""":data:`DAMAGED_FIX_PARTS` as text, its parameter as Python names it."""

STRAY_FIX = spelled(STRAY_FIX_PARTS)
""":data:`STRAY_FIX_PARTS` as text, its parameter as Python names it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS epochs (
    space TEXT NOT NULL, arch TEXT NOT NULL, arch_index INTEGER NOT NULL,
    dataset TEXT NOT NULL, split TEXT NOT NULL, schedule INTEGER NOT NULL,
    seed INTEGER NOT NULL, epoch INTEGER NOT NULL,
    loss REAL, accuracy REAL, time_s REAL, checksum TEXT,
    PRIMARY KEY (space, arch, dataset, split, schedule, seed, epoch)
);
CREATE TABLE IF NOT EXISTS runs (
    space TEXT NOT NULL, arch TEXT NOT NULL, arch_index INTEGER NOT NULL,
    dataset TEXT NOT NULL, schedule INTEGER NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, params_mb REAL, flops_m REAL, train_time_s REAL,
    host TEXT, updated_at REAL, checksum TEXT,
    PRIMARY KEY (space, arch, dataset, schedule, seed)
);
""" + "".join(
    f"CREATE TABLE IF NOT EXISTS {table} (space TEXT NOT NULL, arch TEXT NOT NULL, "
    "dataset TEXT NOT NULL, schedule INTEGER NOT NULL, seed INTEGER NOT NULL, "
    + "".join(f"{name} {kind} NOT NULL, " for name, kind in columns.items())
    + f"checksum TEXT, PRIMARY KEY ({_RUN_KEY}));\n"
    for table, columns in _SIDE_TABLES.items()
)

TIDY_COLUMNS = ["index", "arch", "dataset", "split", "epochs", "seed", "metric", "value"]


def connect_readonly(
    path: str | os.PathLike[str], *, timeout_s: float = 120.0
) -> sqlite3.Connection:
    """A read-only connection to an existing database that leaves no file beside it.

    Without a ``-wal`` file no writer is connected (a WAL writer keeps one while it is open), so
    the file is opened ``immutable``: no lock, no ``-wal``/``-shm`` created, and it works on
    read-only media. With a ``-wal`` file a writer may be live (or died before its checkpoint),
    so the file is opened ``mode=ro`` to read what the WAL holds; the files were already there.

    Raises
    ------
    ResultsDBError
        The file cannot be opened or read; the message says why, not "not a database".
    """
    p = Path(path)
    # bytes: a name that is no UTF-8 (kept as surrogate escapes) is quoted byte for byte, where
    # quoting the text encodes it as strict UTF-8 and fails
    quoted = urllib.parse.quote(os.fsencode(os.path.realpath(p)))  # resolve(): a loop raises
    live = Path(f"{p}-wal").exists()
    uri = f"file:{quoted}?mode=ro" if live else f"file:{quoted}?immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None)
        try:  # the schema parses, and its records are as SQLite writes them
            _schema_names(conn, p)
        except BaseException:
            conn.close()
            raise
    except sqlite3.OperationalError as exc:
        if p.is_dir():  # SQLite says only "unable to open database file"
            raise ResultsDBError(
                f"{_shown(p)} is a folder; pass the results database, the SQLite file that "
                "train wrote"
            ) from None
        hint = (
            f"its {p.name}-wal file needs a writable {p.name}-shm beside it; copy the folder to "
            "writable storage (or let the training that owns it finish)"
            if live
            else "check that the file is readable"
        )
        raise ResultsDBError(f"cannot read results database {p} ({exc}); {hint}") from exc
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: SQLite's message quotes a damaged schema's bytes, no UTF-8
        with p.open("rb") as f:
            sqlite = f.read(16) == b"SQLite format 3\x00"
        if sqlite:  # a SQLite file cut short (a copy interrupted) or damaged: not another file
            raise damaged_file(p, exc) from exc
        raise ResultsDBError(
            f"{p} is not a results database ({exc}); pass the SQLite file written by train"
        ) from exc
    return conn


def not_created_yet(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds no results database yet, which a writer creates as a new one:
    no file, an empty one, or an SQLite file without a table. A writer switches a new file
    to WAL before it creates the tables (:meth:`ResultsDB._setup`), so a reader in between,
    or after a writer killed there, finds that file; it is no other program's database.

    Raises
    ------
    ResultsDBError
        The file cannot be read as a database (:func:`connect_readonly`).
    """
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return True
    try:
        with p.open("rb") as f:
            header: bytes | None = f.read(44)
    except OSError:  # unreadable: connect_readonly says so, in its one line
        header = None
    # a schema cookie other than 0 in the file's own header: tables were created (and are never
    # dropped), so no connection is opened; 0 where they are in the -wal file only, or none is
    if header is not None and (header[:16] != b"SQLite format 3\x00" or any(header[40:44])):
        return False  # created; another file is refused as such by the caller's reader
    conn = connect_readonly(p)
    try:
        (tables,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()
    return bool(tables == 0)


_SIDE_FILE_SUFFIX = "-journal"
"""The longest ending SQLite gives the files it writes beside a database (``-wal`` and
``-shm`` are shorter)."""


def check_name_room(path: str | os.PathLike[str], named: str | None = "path") -> None:
    """Refuse a database ``path`` whose name leaves no room for the files SQLite writes beside
    it (:data:`_SIDE_FILE_SUFFIX`) under the longest name its folder allows: its first write
    failed with "unable to open database file", every run's, after an empty file was made.
    Where ``path`` is a link, SQLite writes beside its target. ``named``: the parameter that
    gave ``path`` (:attr:`ResultsDB.named`)."""
    from nb201_flat.atomic import name_max  # the writers' rule, loaded where a db is opened

    target = Path(os.path.realpath(path))
    longest = name_max(target.parent)
    room = longest - len(_SIDE_FILE_SUFFIX)
    size = len(os.fsencode(target.name))
    if size > room:
        what: tuple[str | Param, ...] = ("results database",) if named is None else (Param(named),)
        raise ArgumentError(
            *what,
            f" {shown(os.fspath(path), 400)}: its name is {size} bytes, and SQLite writes files "
            f"beside it named {len(_SIDE_FILE_SUFFIX)} bytes longer ({target.name[:8]}..."
            f"{_SIDE_FILE_SUFFIX}), past the {longest} bytes a name may have there; pass a "
            f"name of at most {room} bytes",
        )


_ROOM = 64 * 1024
"""Bytes within which a file near this process's file-size limit, or a disk's free space,
counts as the want of room a failed write met: SQLite writes a page (4 KiB), a WAL frame or
its ``-shm`` file's next 32 KiB at a time."""


def _out_of_room(
    path: Path, exc: sqlite3.Error, another: tuple[Part, ...]
) -> tuple[str, tuple[Part, ...]] | None:
    """Why writing the database at ``path`` failed with SQLite's ``exc``, and the fix, where it
    was a want of room, else ``None``: a file of the database at this process's file-size
    limit (``ulimit -f``: SQLite says "disk I/O error", or "database or disk is full" where
    the write was cut short), or its disk without free space (SQLite's "database or disk is
    full"; a full quota, which SQLite calls an I/O error, is told only where the disk is
    full too). ``another``: how the caller says to pass another database (on another disk)."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if not name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        return None
    real = Path(os.path.realpath(path))  # SQLite writes beside a link's target
    limit = _file_size_limit()
    if limit is not None:
        sizes = []
        for suffix in ("", "-wal", "-shm", _SIDE_FILE_SUFFIX):
            with suppress(OSError):
                sizes.append(os.path.getsize(f"{real}{suffix}"))
        if any(size + _ROOM > limit for size in sizes):
            why = f"its files reached this process's file-size limit of {limit} bytes"
            return why, ("raise the limit (ulimit -f) and run it again",)
    on_disk = ("free space on its disk and run it again, or ", *another, " on another disk")
    try:
        disk = os.statvfs(real.parent)
    except (OSError, AttributeError):  # no statvfs (Windows)
        disk = None
    if disk is not None and disk.f_bavail * disk.f_frsize < _ROOM:
        return "its disk is full", on_disk
    if name.startswith("SQLITE_FULL"):  # room left now: freed since, or the temporary folder's
        return "its disk, or the temporary folder's, was full", on_disk
    return None


def _create_tables(conn: sqlite3.Connection) -> None:
    """Create the tables a file lacks and mark a new file with :data:`SCHEMA_VERSION` and the
    nb201_flat version that wrote it (:data:`WRITTEN_BY`), in one transaction: a reader finds
    no table (:func:`not_created_yet`) or every one with the version, never ``meta`` without it
    (refused as schema none) nor without ``runs`` (refused as damaged). An existing file is
    not marked: a writer that adds nothing would change its bytes (a table imported from it
    records their sha256), and the version would not be the one that set its schema. On an
    error the transaction is rolled back, for the caller to try again."""
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE;{_SCHEMA}INSERT OR IGNORE INTO meta SELECT '{WRITTEN_BY}', "
            f"'{__version__}' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'schema_version');"
            f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
        )
    except BaseException:
        _roll_back(conn)
        raise


def _roll_back(conn: sqlite3.Connection) -> None:
    """Roll back ``conn``'s open transaction, if any: SQLite rolls one back itself on some
    errors (a full disk), and a ROLLBACK without one fails."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _file_size_limit() -> int | None:
    """This process's limit on the size of a file it writes (``ulimit -f``), in bytes; ``None``
    where there is none."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft in (resource.RLIM_INFINITY, -1) else int(soft)


def damaged_file(path: str | os.PathLike[str], why: object) -> ResultsDBError:
    """The one-line refusal of a results database whose file is damaged (``why``: SQLite's
    error, or what is wrong): no run's retraining mends it, so it is copied again."""
    return ResultsDBError(
        f"{_shown(path)} is a truncated or damaged SQLite file ({why}); copy the results "
        "database again from where it was trained (with its -wal file, if it has one)"
    )


_NOT_DAMAGE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_NOMEM",
    "SQLITE_FULL",
    "SQLITE_INTERRUPT",
    "SQLITE_READONLY",
    "SQLITE_PERM",
)
"""SQLite's names of the errors of a read that say how the file was reached, not that it is
damaged (:func:`damage_refused`)."""


@contextmanager
def damage_refused(path: str | os.PathLike[str]) -> Iterator[None]:
    """Reads of the database at ``path`` in which SQLite meets damage (a page that does not
    parse, text that is not UTF-8, a column its schema lost) refused in one line
    (:func:`damaged_file`) rather than as SQLite's traceback; an error of reaching the file
    (locked, I/O) in one line too. A programming error (sqlite3.ProgrammingError) stays one."""
    try:
        yield
    except sqlite3.ProgrammingError:
        raise
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        if (getattr(exc, "sqlite_errorname", None) or "").startswith(_NOT_DAMAGE):
            raise ResultsDBError(
                f"cannot read results database {_shown(path)} ({exc}); check that the file is "
                "readable"
            ) from exc
        raise damaged_file(path, exc) from exc


def check_integrity(conn: sqlite3.Connection, path: str | os.PathLike[str]) -> None:
    """Refuse the database open on ``conn`` when SQLite's ``PRAGMA integrity_check`` finds
    damage: a damaged page, or an index whose entry disagrees with its row (a flipped key
    byte in a row, its index's copy intact: a query answered from the index and one from the
    table read two keys, and a checksum checked against the one passed the other). Every
    page is read; the importer runs it on its private copy, once, before any other read."""
    (found,) = conn.execute("PRAGMA integrity_check(1)").fetchone()
    if found != "ok":  # its first finding, on one line
        said = str(found).replace("*** in database main ***", "").split()
        raise damaged_file(path, f"integrity_check: {' '.join(said)}")


class _Kept(Enum):
    KEPT = "kept"


KEEP_DATA = _Kept.KEPT
""":meth:`ResultsDB.write_epoch`'s default: the run's recorded data digest stays as it is."""


class ResultsDB:
    """A results database file; one instance per process (connections are not shared).

    Parameters
    ----------
    path
        SQLite file (created with its folder when missing).
    timeout_s
        How long a write waits for other writers before giving up.
    readonly
        Read an existing file only (:func:`connect_readonly`): nothing is created or written,
        no ``-wal``/``-shm`` file is left beside it, and read-only media work.
    named
        The parameter that gave ``path``, as a refusal of the file names it (a campaign's
        ``db_path``, which the command line spells ``--db``); None where the caller's
        parameter is no results database of its own (an importer's source): the refusal
        then says "another results database".
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout_s: float = 120.0,
        readonly: bool = False,
        named: str | None = "path",
    ) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.readonly = readonly
        self.named = named
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def __reduce__(self) -> tuple[object, tuple[str, float, bool, str | None]]:
        # ship the path, never the connection, to other processes
        return (_reopen, (os.fspath(self.path), self.timeout_s, self.readonly, self.named))

    def _another(self) -> tuple[str | Param, ...]:
        """ "pass another PARAM" as message parts (:attr:`named`)."""
        if self.named is None:
            return ("pass another results database",)
        return ("pass another ", Param(self.named))

    # -- connection -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # a connection must not cross fork(); reopen in a child process
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self.readonly:
            conn = connect_readonly(self.path, timeout_s=self.timeout_s)
            try:
                self._check_version(conn)
                self._check_core_tables(conn)
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
            return conn
        check_name_room(self.path, self.named)  # before the file: its side files' names fit
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            if self.path.is_dir():  # SQLite says only "unable to open database file"
                raise ResultsDBError(
                    f"{self.path} is a folder, not a file; ", *self._another()
                ) from None
            raise ResultsDBError(f"cannot open results database {self.path}: {exc}") from exc
        try:
            self._setup(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if (full := self._no_room(exc)) is not None:  # the file is sound: no room to write
                raise full from exc
            raise ResultsDBError(
                f"{self.path} is not a readable results database ({exc}); ",
                *self._another(),
                " or move the file away",
            ) from exc
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL is durable across app crashes
        # before the script creates the side tables a file lacks (with the column): the
        # layout checked is the file's own; a column a damaged schema lost is never re-added
        _check_checksum_columns(conn, self.path)
        self._retry(lambda: _create_tables(conn))
        self._check_version(conn)
        self._migrate(conn)  # after the check: a file of another schema is never altered

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Schema 1 to 2: add the ``checksum`` column to every table that lacks it (its rows
        keep NULL: module docstring); also to a schema-2 file written before ``runs`` and
        the side tables had one (their checksums joined schema 2 in its development). Each
        table's last legacy rowid is recorded in ``meta`` (:func:`_legacy_upto`): its highest
        rowid when the column is added here, else (a new file, or one an earlier version
        created or migrated) as a reader derives it. A file this migrates to schema 2 records
        this version as its writer (:data:`WRITTEN_BY`), in the same transaction."""
        if not _unchecked_tables(conn) and _legacy_recorded(conn):  # no write lock taken
            return
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))  # on conn: not yet self._conn
        try:
            missing = _unchecked_tables(conn)  # not added meanwhile by another writer
            for table in _CHECKED:
                if table in missing:
                    (last,) = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN checksum TEXT")
                    upto = last or 0
                else:
                    upto = _derived_upto(conn, table)
                conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)", (_LEGACY_KEY + table, str(upto))
                )
            migrated = conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version' AND value = '1'",
                (str(SCHEMA_VERSION),),
            ).rowcount
            if migrated:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (WRITTEN_BY, __version__))
            if missing:
                log.info("%s: added row checksums to %s", self.path, ", ".join(missing))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._retry(lambda: conn.execute("COMMIT"))

    def _check_core_tables(self, conn: sqlite3.Connection) -> None:
        """Refuse a file whose schema version is ours but whose runs or epochs table is
        missing (cut by hand, or another tool's file): every read of it met a traceback. A
        writer creates what is missing; a reader cannot."""
        have = _tables(conn, self.path)
        missing = [t for t in ("runs", "epochs") if t not in have]
        if missing:
            raise ResultsDBError(
                f"{self.path} is a damaged results database: its {' and '.join(missing)} "
                f"table{'s are' if len(missing) > 1 else ' is'} missing; copy it again from "
                "where it was trained, or ",
                *self._another(),
            )

    def _check_version(self, conn: sqlite3.Connection) -> None:
        try:
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ResultsDBError(
                f"{self.path} is not a results database ({exc}); "
                "pass the SQLite file written by train"
            ) from exc
        if version is None or str(version[0]) not in _READABLE_VERSIONS:
            found = "none" if version is None else repr(version[0])[:40]
            said = f"{self.path} has results schema {found}"
            reads = (
                f"this nb201_flat ({__version__}) reads "
                f"{' and '.join(map(repr, _READABLE_VERSIONS))}"
            )
            number = "" if version is None else str(version[0])
            newer = number.isdecimal() and int(number) > SCHEMA_VERSION
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (WRITTEN_BY,)).fetchone()
            writer = written_by(None if row is None else row[0], newer=newer)
            # a schema older than any, none, or one its recorded writer never wrote
            if writer is None:
                raise FormatError(
                    f"{said}: damaged, or another program's file, as no nb201_flat this one knows "
                    f"writes it; {reads}; copy it again from where it was trained, or ",
                    *self._another(),
                )
            who, fix = writer
            raise FormatError(f"{said}, {who}; {reads}; {fix}")

    def _no_room(self, exc: sqlite3.Error) -> ResultsDBFullError | None:
        """The refusal of a write that failed with ``exc`` for want of room
        (:func:`_out_of_room`), else ``None``."""
        found = _out_of_room(self.path, exc, self._another())
        if found is None:
            return None
        why, fix = found
        return ResultsDBFullError(
            f"results database {_shown(self.path)} could not be written: {why} ({exc}); ",
            *fix,
            "; what it holds is intact",
        )

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying on 'database is locked/busy' until ``timeout_s`` has passed; a
        want of room is :class:`ResultsDBFullError` (:meth:`_no_room`)."""
        deadline = time.monotonic() + self.timeout_s
        delay = 0.01
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if (full := self._no_room(exc)) is not None:
                    raise full from exc
                msg = str(exc).lower()
                if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                    raise ResultsDBError(f"results database {self.path}: {exc}") from exc
                time.sleep(delay * (1 + random.random()))  # jitter: writers must not lock-step
                delay = min(delay * 2, 0.5)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield conn
        except BaseException as exc:
            _roll_back(conn)
            # a statement that spilled to disk
            full = self._no_room(exc) if isinstance(exc, sqlite3.OperationalError) else None
            if full is not None:
                raise full from exc
            raise
        else:
            try:
                self._retry(lambda: conn.execute("COMMIT"))
            except BaseException:  # a full disk: the transaction may still be open
                _roll_back(conn)
                raise

    # -- writing --------------------------------------------------------------------------
    def write_epoch(
        self,
        key: Sequence[object],
        index: int,
        epoch: int,
        rows: Mapping[str, tuple[float, float, float]],
        *,
        data: DataIdentity | _Kept | None = KEEP_DATA,
    ) -> None:
        """Upsert one epoch: ``rows[split] = (loss, accuracy %, time_s)``; run marked running,
        with the digest of the ``data`` its epochs were trained on (an unfinished run's data
        counts in the one-set-of-files-per-dataset rule as a finished one's: a campaign on
        other files left it unfinishable). ``None``: not known for every epoch (resumed from
        a checkpoint written before digests were): a digest recorded before is dropped. By
        default (:data:`KEEP_DATA`) the recorded digest stays, as :meth:`mark_run` keeps it.

        Raises
        ------
        DataMismatchError
            Another run of the dataset in this file, of any space, records another digest (a
            campaign on other files, started with this one, wrote it after this one checked
            the file): checked in the write's transaction, so of two such writers the second
            is refused, and nothing of this epoch is written.
        """
        space, arch, dataset, schedule, seed = key
        with self._write() as conn:
            if data is not None and data is not KEEP_DATA:
                self._check_one_data(conn, key, data)
            _insert_epochs(conn, key, index, epoch, rows)
            if data is None:
                conn.execute(f"DELETE FROM run_data WHERE {_KEY_WHERE}", tuple(key))
            elif data is not KEEP_DATA:
                _put_row(conn, "run_data", (*key, data.digest, int(data.official)))
            # the run's sizes and time stay (a run marked before, trained again); the whole
            # row is written again with its checksum, in the same transaction
            old = _kept_row(conn, self.path, "runs", key)
            sizes = (None, None, None) if old is None else old[7:10]
            _put_row(
                conn,
                "runs",
                (space, arch, index, dataset, schedule, seed, "running", *sizes, *_stamp()),
            )

    def _check_one_data(
        self, conn: sqlite3.Connection, key: Sequence[object], data: DataIdentity
    ) -> None:
        """Refuse ``data`` for the run ``key`` where an intact ``run_data`` row of another run
        of its dataset, in any space (one in ``runs``, as :meth:`data_digests` counts it),
        records another digest: one file holds one set of files per dataset, whatever the
        space, the rule the train command checks before any run (the caller's write
        transaction; only rows of another digest are read and checked, none in a sound file)."""
        space, arch, dataset, schedule, seed = key
        # every space: two campaigns of other space keys (--C 2, --C 4) on other files of one
        # dataset both finished, and the command's check refused the file from then on
        other = "t.dataset = ? AND t.data_digest != ? AND NOT (t.space = ? AND t.arch = ? AND "
        other += "t.schedule = ? AND t.seed = ?) AND EXISTS (SELECT 1 FROM runs r WHERE "
        other += " AND ".join(f"r.{c} = t.{c}" for c in _RUN_KEY.split(", ")) + ")"
        args = (dataset, data.digest, space, arch, schedule, seed)
        damaged: Damaged = {}  # a damaged row is its own run's to retrain, not a digest
        rows = verified_rows(conn, self.path, "run_data", other, args, damaged=damaged)
        if rows:  # a campaign on other files, started with this one, wrote them meanwhile
            into = ("a results database",) if self.named is None else ("a ", Param(self.named))
            raise DataMismatchError(
                f"{_shown(self.path)} holds {dataset} runs trained on other data (other files "
                f"or another split; digest {str(rows[0][5])[:12]}, of its {rows[0][0]} runs; "
                f"these files and split: {data.short}); it holds one set of files per dataset, "
                "whatever the space: train each set of files and split into ",
                *into,
                " of its own",
            )

    def discard_epochs_after(self, key: Sequence[object], epoch: int) -> int:
        """Delete the run's epoch rows after ``epoch``; return how many went.

        A run (re)starting after ``epoch`` writes those epochs again; rows of an earlier
        attempt that it would not overwrite (epochs it does not evaluate, an attempt whose
        checkpoints were moved away) must not stay in its curves.

        A run resuming after ``epoch`` from its checkpoints while this database lacks one of
        its train rows of epochs 1..``epoch`` is refused (:class:`CheckpointMismatchError`,
        which no executor retries), before any of its rows is deleted: its curves would have a
        hole (:func:`_holed_run`), and a run resumed from its final checkpoint would be marked
        done without its numbers. That happens when the file was replaced or rows deleted,
        when two databases share a checkpoint folder, and when the machine stopped before the
        database synced its last epochs (their checkpoints are synced first).
        """
        space, arch, dataset, schedule, seed = _as_key(key)
        with self._write() as conn:
            whole = _whole_upto(_train_epochs(conn, key))
            if whole < epoch:
                raise checkpoints_past_rows(self.path, key, whole, epoch)
            cur = conn.execute(
                f"DELETE FROM epochs WHERE {_KEY_WHERE} AND epoch > ?",
                (space, arch, dataset, schedule, seed, epoch),
            )
        return int(cur.rowcount)

    def whole_train_epochs(self, key: Sequence[object]) -> int:
        """The last epoch ``m`` such that the run ``key`` has a train row at every epoch
        1..``m`` (training writes one each epoch, before the epoch's checkpoint); 0 if none."""
        return _whole_upto(_train_epochs(self._connect(), key))

    def delete_run(self, key: Sequence[object]) -> None:
        """Delete the run ``key``'s rows from every table, in one transaction."""
        with self._write() as conn:
            _delete_run(conn, key)

    def mark_run(
        self,
        key: Sequence[object],
        index: int,
        status: str,
        *,
        params_mb: float | None = None,
        flops_m: float | None = None,
        train_time_s: float | None = None,
        trained_as: str | None = None,
        trained_on: str | None = None,
        data: DataIdentity | None = None,
        isomorphic_to: str | None = None,
        final_rows: Mapping[str, tuple[float, float, float]] | None = None,
        keep_done: bool = False,
    ) -> bool:
        """Set a run's status (``done``; ``constant`` or ``isomorphic`` for runs answered
        without training), its sizes, how it was trained (``single``, ``grouped:K``,
        ``concurrent:K``, or several joined by ``+``; ``None`` when not trained), where
        (``trained_on``) and on what data it was trained (``None`` when not trained), and
        for status ``isomorphic``, the arch whose run stands for it.

        ``final_rows`` are written as the schedule's last epoch in the same transaction. With
        ``keep_done`` a run already done is left as it is (one transaction: no other process
        finishes it in between); returns whether anything was written.
        """
        space, arch, dataset, schedule, seed = key
        with self._write() as conn:
            if keep_done:  # a row that fails its checksum is no finished run: written anew
                old = _kept_row(conn, self.path, "runs", key)
                if old is not None and old[6] == "done":
                    return False
            if status != "done":
                # a run answered without training: the rows of an earlier, interrupted
                # training of it are no part of it (load_curves served them beside chance)
                conn.execute(f"DELETE FROM epochs WHERE {_KEY_WHERE}", tuple(key))
            if final_rows is not None:
                _insert_epochs(conn, key, index, int(schedule), final_rows)  # type: ignore[call-overload]
            sizes = (params_mb, flops_m, train_time_s)
            _put_row(
                conn,
                "runs",
                (space, arch, index, dataset, schedule, seed, status, *sizes, *_stamp()),
            )
            if trained_as is not None:
                _put_row(conn, "run_forms", (*key, trained_as))
            if trained_on is not None:
                _put_row(conn, "run_devices", (*key, trained_on))
            if data is not None:
                _put_row(conn, "run_data", (*key, data.digest, int(data.official)))
            if isomorphic_to is not None:
                _put_row(conn, "run_isomorphic", (*key, isomorphic_to))
            else:  # trained after all (or anything else): no stand-in any more
                conn.execute(f"DELETE FROM run_isomorphic WHERE {_KEY_WHERE}", tuple(key))
        return True

    # -- reading --------------------------------------------------------------------------
    def status(self, key: Sequence[object]) -> str | None:
        """The run's status, or ``None`` when it never started; its rows of the side tables
        are checked with it (a damaged one is refused, as :meth:`done_keys` refuses it)."""
        key = checked_key(key)
        conn = self._connect()
        with _read_transaction(conn):
            for table in _SIDE_TABLES:
                verified_rows(conn, self.path, table, _KEY_AT_T, key, collect=False)
            status = self._verified_value("runs", "status", key)
        return None if status is None else str(status)

    def is_done(self, key: Sequence[object]) -> bool:
        """True when the run finished (its final epoch is stored)."""
        return self.status(key) == "done"

    def done_keys(self, *, damaged: Damaged | None = None) -> set[Key]:
        """Keys of all finished runs (executors use it to skip work). The rows of ``runs``,
        of the side tables and of the final epochs (and any outside a schedule) are checked
        (:func:`verified_rows`), and a done run's final epoch as an import checks it
        (:func:`check_finished_runs`: a row of every split of its dataset, each with an
        accuracy): a damaged run is refused, or with ``damaged`` (a dict) added to it (key:
        why) and left out. One read of those rows, and a few lookups of a done run's final
        rows by their key: no earlier epoch is read (:meth:`_runs`)."""
        return _done(self._runs(damaged)[0])

    def data_digest(self, key: Sequence[object]) -> str | None:
        """The data digest the run was recorded with (``None``: unrecorded)."""
        digest = self._verified_value("run_data", "data_digest", key)
        return None if digest is None else str(digest)

    def data_digests(self, *, damaged: Damaged | None = None) -> dict[Key, str]:
        """The data digest of every run that recorded one (``{}`` for a file written before
        digests were), read and checked as :meth:`done_keys` reads and checks (``damaged``: as
        there). A digest whose run is gone from ``runs`` describes no run and is left out."""
        return self._runs(damaged)[1]

    def finished_runs(
        self, retrain: Collection[Sequence[object]] = (), *, damaged: Damaged | None = None
    ) -> tuple[set[Key], dict[Key, str]]:
        """:meth:`done_keys` and :meth:`data_digests`, read together for a campaign that
        skips what is done. A damaged run is refused, unless it is in ``retrain`` (the keys
        of its runs to train again when damaged, ``retrain_damaged``): then it counts as not
        done, and its job deletes it (:meth:`discard_damaged`, under the run's lock) and
        trains it (``damaged``, a dict: those runs are added to it, with why). A finished
        run in ``retrain`` is checked whole, every epoch as :meth:`discard_damaged` checks
        it (an import refuses a damaged epoch of any): the others, only as
        :meth:`done_keys` checks them (their final epochs, never their earlier ones). A
        damaged run outside ``retrain`` is refused: it is not the campaign's to delete, and a
        damaged digest cannot say which data the file holds."""
        found: Damaged = {}
        collect = found if retrain else None  # without runs to retrain, damage is refused
        wanted = {tuple(k) for k in retrain}
        conn = self._connect()
        with _read_transaction(conn):
            runs, digests = self._runs(collect)  # one pass for both
            keys = _done(runs)
            # the skip reads only final epochs; a finished run to retrain is checked whole,
            # as its job's discard_damaged checks it (an import refuses damage at any epoch,
            # naming retrain_damaged: such a run must not be skipped). Only those runs: the
            # skip of a campaign without retrain_damaged reads final epochs, not earlier ones
            for key in sorted(keys & wanted):
                for run, why in _run_damage(conn, self.path, key).items():
                    found.setdefault(run, why)
        for run, why in found.items():
            if run not in wanted:
                if not _has_run(conn, run):  # a stray row: refused as its own read words it
                    with _read_transaction(conn):
                        for table in _SIDE_TABLES.keys() | {"epochs"}:
                            verified_rows(conn, self.path, table, _KEY_AT_T, run, collect=False)
                raise ResultsDBError(*damaged_parts(self.path, run, why))
        if found:  # runs found damaged whole: not done, their digests left out
            keys = {k for k in keys if k not in found}
            digests = {k: d for k, d in digests.items() if k not in found}
        if damaged is not None:
            damaged.update(found)
        return keys, digests

    def _runs(self, damaged: Damaged | None) -> tuple[dict[Key, tuple[Any, ...]], dict[Key, str]]:
        """Every run's ``runs`` row once it, the run's side-table rows and its final epoch
        rows (the numbers a skipped run reports, :meth:`final_metrics`) passed their checks
        (``damaged``: see :meth:`done_keys`), and a done run what an import checks of its
        final epoch (:func:`check_finished_runs`: a row of every split of its dataset,
        :func:`_final_epoch_damage`, each with an accuracy) and no row of it outside its
        schedule, by key; and the data digests of those runs (a digest whose run is gone
        from ``runs`` describes no run). One read of each of those rows (of ``epochs``, one
        pass over its index for the final ones and any outside a schedule:
        :data:`_FINAL_OR_OUTSIDE`), and a few lookups of a done run's final rows by their key:
        its earlier epochs are not read (but for a run of a dataset this project does not
        know, whose splits they say: :func:`_final_splits`)."""
        conn = self._connect()
        with _read_transaction(conn):  # the tables as of one moment
            rows = verified_rows(conn, self.path, "runs", damaged=damaged)
            data: list[tuple[Any, ...]] = []
            for table in _SIDE_TABLES:
                got = verified_rows(
                    conn, self.path, table, collect=table == "run_data", damaged=damaged
                )
                data = got if table == "run_data" else data
            # a done run is skipped only whole: one an import refuses by its final epoch (no
            # accuracy there, a row or a split of it deleted: check_finished_runs) or by a row
            # outside its schedule is damaged here too. Its other epochs are not read
            unserved = verified_rows(
                conn,
                self.path,
                "epochs",
                _FINAL_OR_OUTSIDE.format("e."),
                collect=lambda row: _unserved_epoch(row, finished=True) is not None,
                alias="e",
                damaged=damaged,
            )
            found = [
                (_run_of("epochs", r), why)
                for r in unserved
                if (why := _unserved_epoch(r, finished=True)) is not None
            ]
            found += _final_epoch_damage(conn, lambda a: f"{a}status = 'done'", ())
            done = {_run_of("runs", r) for r in rows if r[6] == "done"}
            for run, why in found:
                if run in done:
                    if damaged is None:
                        raise ResultsDBError(*damaged_parts(self.path, run, why))
                    damaged.setdefault(run, why)
        runs = {_as_key(_run_of("runs", r)): r for r in rows}
        runs = {k: r for k, r in runs.items() if damaged is None or k not in damaged}
        digests = {_as_key(r[:5]): str(r[5]) for r in data if _as_key(r[:5]) in runs}
        return runs, digests

    def discard_damaged(self, key: Sequence[object]) -> str | None:
        """Delete the run ``key``'s rows from every table when any of them is damaged (fails
        its checksum, or holds a wrongly typed cell), so that the run is trained again;
        return why it was damaged (``None``: intact, nothing deleted).
        A run that an import refuses by its rows (:func:`check_finished_runs`: a status
        training never writes, a finished run without its final numbers...) is damaged too,
        and so is one that :func:`load_curves` refuses for a hole in its curve
        (:func:`_holed_run`).

        The check and the deletion are one transaction: no row of the run is written in
        between, and no other run's rows are touched. Every epoch row of the run is checked,
        not only the final ones training reads: a run trained again should import whole."""
        with self._write() as conn:
            found = _run_damage(conn, self.path, key)
            if not found:
                return None
            _delete_run(conn, key)
        return next(iter(found.values()))

    def clear_stray_rows(self) -> list[str]:
        """Clear the stray rows: damaged rows of ``epochs`` and the side tables whose run has no
        row in ``runs`` (their key was changed by hand, so no command trains the run they name
        and :meth:`discard_damaged` never reaches them). A row that matches its checksum under
        the key of a run in ``runs`` (only its key changed) is put back under that key, intact
        again, unless that run has a row in its place (then it is deleted); any other is
        deleted. Intact rows are never touched, whatever they name. One transaction, the rows
        checked in it; returns one line per row cleared, saying what was done (``[]``: none).

        Every row of those tables is read (one anti-join with ``runs``); only the stray ones
        are checksummed."""
        cleared: list[str] = []
        with self._write() as conn:
            legacy = _Legacy(conn, self.path)
            for table in _CHECKED.keys() - {"runs"}:
                match = " AND ".join(f"r.{c} = t.{c}" for c in _RUN_KEY.split(", "))
                cols = ", ".join(f"t.{c}" for c in _CHECKED[table].split(", "))
                strays = conn.execute(
                    f"SELECT {cols}, t.checksum, t.rowid FROM {table} t "
                    f"WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE {match})"
                ).fetchall()
                for *row, recorded, rowid in strays:
                    why = _row_damage(table, row, recorded, rowid, legacy)
                    if why is None:
                        continue
                    said = f"run {tuple(_run_of(table, row))} {why}, a stray row"
                    origin = _origin(conn, table, row, recorded)
                    if origin is not None and not _taken(conn, table, row, origin):
                        at = _KEY_AT.get(table, range(5))
                        names = [_CHECKED[table].split(", ")[i] for i in at]
                        conn.execute(
                            f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} "
                            "WHERE rowid = ?",
                            (*origin, rowid),
                        )
                        cleared.append(f"{said}: put back under run {origin}, as its checksum says")
                        continue
                    conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
                    where = (
                        "no run's key matches its checksum"
                        if origin is None
                        else f"it is run {origin}'s, which has a row in its place"
                    )
                    cleared.append(f"{said}: deleted ({where})")
        return cleared

    def _verified_value(self, table: str, column: str, key: Sequence[object]) -> object:
        """``column`` of the run ``key``'s row in ``table``, checked against the row's
        checksum (:func:`verified_rows`); ``None`` without a row."""
        rows = verified_rows(self._connect(), self.path, table, _KEY_AT_T, checked_key(key))
        at = list(_COLUMN_KINDS[table]).index(column)
        return rows[0][at] if rows else None

    def final_metrics(self, key: Sequence[object]) -> tuple[dict[str, dict[str, float]], float]:
        """``({split: {"loss", "accuracy"}}, train_time_s)`` at the schedule's last epoch;
        :class:`~nb201_flat.errors.ResultsDBError` where the run has no last epoch stored
        (never trained, or not finished: it was ``({}, nan)``), or is damaged (marked done,
        its final epoch deleted: :func:`check_finished_runs`, naming ``retrain_damaged``)."""
        key = checked_key(key)
        conn = self._connect()
        where = " AND ".join(f"e.{c} = ?" for c in _RUN_KEY.split(", "))
        rows = verified_epochs(conn, self.path, f"{where} AND e.epoch = e.schedule", key)
        if not rows:
            one = " AND ".join(f"{{0}}{c} = ?" for c in _RUN_KEY.split(", "))
            damaged = _unservable_run(conn, one.format, key)
            if damaged is not None:  # it was trained: "train it first" is no fix
                raise ResultsDBError(*damaged_parts(self.path, *damaged))
            raise ResultsDBError(
                f"{_shown(self.path)} holds no final epoch of run {key} (never trained, or "
                "not finished); train it first, or ask is_done(key)"
            )
        metrics = {str(r[4]): {"loss": float(r[8]), "accuracy": float(r[9])} for r in rows}
        train_time = next((float(r[10]) for r in rows if r[4] == "train"), float("nan"))
        return metrics, train_time

    def epochs_frame(self) -> pd.DataFrame:
        """All epoch rows joined with their run status, as a wide DataFrame, unchecked:
        :func:`load_results` and :func:`load_curves` serve checked rows."""
        conn = self._connect()
        cols = ", ".join(f"e.{c}" for c in _EPOCH_COLUMNS.split(", "))  # not the checksum
        return pd.read_sql_query(
            f"SELECT {cols}, r.status FROM epochs e JOIN runs r "
            "USING (space, arch, dataset, schedule, seed)",
            conn,
        )

    def runs_frame(self, space: str | None = None) -> pd.DataFrame:
        """The ``runs`` table (status, params_mb, flops_m, train time, host) with each run's
        side-table columns: ``trained_as``, ``trained_on``, ``data_digest``, ``data_official``
        and ``isomorphic_to`` (``None`` where unrecorded: not finished, not trained, or a file
        written before they were, read as it is); the runs of ``space`` only, when given
        (only their rows are read, so only theirs are checked)."""
        conn = self._connect()
        where, args = ("1", ()) if space is None else ("t.space = ?", (space,))
        with _read_transaction(conn):  # the rows checked are the rows served, read once
            # every row, a side row whose key changed too ([]: a read-only file from before
            # a side table, whose columns are then None)
            rows = {
                table: verified_rows(conn, self.path, table, where, args, table_scan=True)
                for table in _COLUMN_KINDS
            }
        side = {table: {tuple(r[:5]): tuple(r[5:]) for r in rows[table]} for table in _SIDE_TABLES}
        none = {table: (None,) * len(names) for table, names in _SIDE_TABLES.items()}
        frame = pd.DataFrame.from_records(
            [
                (*r, *(v for t in _SIDE_TABLES for v in side[t].get(_run_of("runs", r), none[t])))
                for r in rows["runs"]
            ],
            columns=[*_COLUMN_KINDS["runs"], *(c for n in _SIDE_TABLES.values() for c in n)],
        )
        for names in _SIDE_TABLES.values():
            for c in names:
                col = frame[c].astype(object)
                frame[c] = col.where(col.notna(), None)  # None, never NaN, when unknown
        official = frame["data_official"]
        frame["data_official"] = official.map(lambda v: None if v is None else bool(v))
        return frame


def _insert_epochs(
    conn: sqlite3.Connection,
    key: Sequence[object],
    index: int,
    epoch: int,
    rows: Mapping[str, tuple[float, float, float]],
) -> None:
    space, arch, dataset, schedule, seed = key
    values = [
        (space, arch, index, dataset, split, schedule, seed, epoch, *map(float, v))
        for split, v in rows.items()
    ]
    conn.executemany(
        f"INSERT OR REPLACE INTO epochs ({_EPOCH_COLUMNS}, checksum) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row, row_checksum(row)) for row in values],
    )


def _put_row(conn: sqlite3.Connection, table: str, row: Sequence[object]) -> None:
    """Upsert ``row`` (its :data:`_CHECKED` columns, in order) into ``table`` with its
    checksum, in one statement. Numbers are hashed as the column stores them: a REAL column
    keeps an int as a float, an INTEGER one a bool as an int."""
    kinds = _COLUMN_KINDS[table].values()
    stored = tuple(_as_stored(v, kind) for v, kind in zip(row, kinds, strict=True))
    marks = ", ".join("?" * (len(stored) + 1))
    conn.execute(
        f"INSERT OR REPLACE INTO {table} ({_CHECKED[table]}, checksum) VALUES ({marks})",
        (*stored, row_checksum(stored, table)),
    )


def _as_stored(value: Any, kind: str) -> object:
    """``value`` as a column of type ``kind`` stores it (see :func:`_put_row`)."""
    if value is None or kind == "TEXT":
        return value
    return float(value) if kind == "REAL" else int(value)


def _stamp() -> tuple[str, float]:
    """``runs``' last two columns: who wrote the row, and when."""
    return socket.gethostname(), time.time()


def _has_checksums(conn: sqlite3.Connection, table: str = "epochs") -> bool:
    """Whether ``table`` has the ``checksum`` column (schema 2; a missing table has not)."""
    return any(r[1] == "checksum" for r in conn.execute(f"PRAGMA table_info({table})"))


def _unchecked_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables of :data:`_CHECKED` without their ``checksum`` column (all exist here)."""
    return [table for table in _CHECKED if not _has_checksums(conn, table)]


def _check_checksum_columns(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a file of schema 2 with a table that lacks the ``checksum`` column, unless as
    the first schema-2 files were: ``epochs`` with it, no other table (``runs`` and the side
    tables got theirs later, from their first writer). Another is a damaged schema (one flipped
    byte of ``sqlite_schema`` renames the column): its rows were read unverified, every one."""
    tables = _tables(conn, path)
    if "meta" not in tables:  # a new file
        return
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version is None or str(version[0]) != str(SCHEMA_VERSION):  # 1, or refused as later
        return
    lacking = [t for t in _CHECKED if t in tables and not _has_checksums(conn, t)]
    first = "epochs" not in lacking and set(lacking) == (tables & _CHECKED.keys()) - {"epochs"}
    if lacking and not first:
        raise damaged_file(
            path,
            f"its table {lacking[0]} has no checksum column, which its schema {version[0]} "
            "gives it: its schema is damaged",
        )


_LEGACY_KEY = "legacy_upto:"
"""The prefix of the ``meta`` keys that record, per table, its last legacy rowid
(:func:`_legacy_upto`)."""


def _legacy_recorded(conn: sqlite3.Connection) -> bool:
    """Whether ``meta`` records every table's last legacy rowid."""
    keys = [_LEGACY_KEY + table for table in _CHECKED]
    (n,) = conn.execute(
        f"SELECT count(*) FROM meta WHERE key IN ({', '.join('?' * len(keys))})", keys
    ).fetchone()
    return int(n) == len(keys)


def _derived_upto(conn: sqlite3.Connection, table: str) -> int:
    """``table``'s last legacy rowid as its rows show it: the rowid before its first row with
    a checksum (a row written since the column was added took a rowid past every row there,
    SQLite's max + 1), or its last rowid when none has one (0: empty)."""
    first = conn.execute(
        f"SELECT rowid FROM {table} WHERE checksum IS NOT NULL ORDER BY rowid LIMIT 1"
    ).fetchone()
    if first is not None:
        return int(first[0]) - 1
    (last,) = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()
    return int(last or 0)


def _legacy_upto(conn: sqlite3.Connection, path: Path, table: str) -> float:
    """The highest rowid of ``table`` whose row may lack a checksum: a legacy row, written
    before the table had the column (schema 1). A row past it without one had its checksum
    removed (a hand edit, damage), and is refused: a NULL must not read as "legacy,
    unverified" in a file every row of which was written with one. Recorded in ``meta`` by
    this version's first writer (:meth:`ResultsDB._migrate`), else derived
    (:func:`_derived_upto`); ``inf`` for a table without the column (schema 1, or the first
    schema-2 files: :func:`_check_checksum_columns`)."""
    if not _has_checksums(conn, table):
        return math.inf
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_LEGACY_KEY + table,)).fetchone()
    if row is None:
        return _derived_upto(conn, table)
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise damaged_file(path, f"meta's {_LEGACY_KEY}{table} is {row[0]!r:.40}") from None


class _Legacy:
    """:func:`_legacy_upto` per table, read once, when a row without a checksum is met."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path, self.upto = conn, path, dict[str, float]()

    def __call__(self, table: str) -> float:
        if table not in self.upto:
            self.upto[table] = _legacy_upto(self.conn, self.path, table)
        return self.upto[table]


def _checksum_sql(conn: sqlite3.Connection, path: Path, table: str, alias: str) -> str:
    """How a read of ``table`` (aliased ``alias``) selects its checksum: the column, or NULL
    in a file without it (schema 1: its rows are read unverified, once
    :func:`_check_checksum_columns` passed)."""
    if _has_checksums(conn, table):
        return f"{alias}.checksum"
    _check_checksum_columns(conn, path)
    return "NULL"


def _canonical(value: object) -> object:
    """A stored cell as hashed: a float as ``float.hex`` of what SQLite keeps (NaN is stored
    as NULL, -0.0 as 0.0), an int as it is, NULL as ``None``; a blob, which no writer here
    stores (one flipped bit of a record's header turns a text cell into a blob of the same
    bytes), tagged as one, so that it fails the checksum of the text it was."""
    if isinstance(value, float):
        return None if math.isnan(value) else (value + 0.0).hex()
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    return value


def row_checksum(row: Sequence[object], table: str = "epochs") -> str:
    """The checksum of one row of ``table`` (its columns in order, :data:`_CHECKED`): the
    first 16 hex digits (64 bits, plenty against damage, a quarter of the room) of the sha256
    of its canonical JSON, the table's name first for any table but ``epochs`` (rows of the
    side tables have one shape: a row's checksum holds only in its own table).

    >>> row = ("nb201", "|a|", 5, "cifar10", "train", 200, 777, 1, 2.3, 10.0, 1.5)
    >>> len(row_checksum(row)), row_checksum(row) == row_checksum(list(row))
    (16, True)
    >>> row_checksum(row) == row_checksum((*row[:9], math.nextafter(10.0, 11.0), 1.5))
    False
    >>> side = ("nb201", "|a|", "cifar10", 200, 777, "|b|")
    >>> row_checksum(side, "run_isomorphic") == row_checksum(side, "run_forms")
    False
    """
    content = [_canonical(v) for v in row]
    text = json.dumps(content if table == "epochs" else [table, *content], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_LEGACY_WARNED: set[str] = set()
"""The files whose rows without a checksum have been warned about (once per file)."""

_READ_FOR: ContextVar[tuple[Path, Path] | None] = ContextVar("_READ_FOR", default=None)
"""A copy being read on behalf of another file (:func:`reading_for`), and that file."""


@contextmanager
def reading_for(copy: Path, source: Path) -> Iterator[None]:
    """While ``copy`` (the importer's consistent copy of a database) is read, its checks'
    messages and once-per-file warnings name ``source``, the file the caller passed."""
    token = _READ_FOR.set((Path(copy), Path(source)))
    try:
        yield
    finally:
        _READ_FOR.reset(token)


def _shown(path: str | os.PathLike[str]) -> Path:
    """``path`` as messages name it: the source of a copy read for it (:func:`reading_for`)."""
    pair = _READ_FOR.get()
    return pair[1] if pair is not None and Path(path) == pair[0] else Path(path)


def verified_epochs(
    conn: sqlite3.Connection,
    path: Path,
    where: str,
    args: Sequence[object],
    *,
    collect: bool = True,
    table_scan: bool = False,
) -> list[tuple[Any, ...]]:
    """The ``epochs`` rows (aliased ``e``) matching ``where``, each checked against its
    checksum: a mismatch is a :class:`ResultsDBError` naming the run (:func:`damaged_run`);
    legacy rows without one are read unverified, with one warning per file (module
    docstring). ``collect=False`` checks them and returns none (a whole campaign's rows, only
    checked); ``table_scan``: as :func:`verified_rows` takes it."""
    return verified_rows(
        conn, path, "epochs", where, args, collect=collect, alias="e", table_scan=table_scan
    )


_KEY_AT = {"epochs": (0, 1, 3, 5, 6), "runs": (0, 1, 3, 4, 5)}
"""Where a row of a table holds its run's key (:data:`Key`); the side tables: first."""


def verified_rows(
    conn: sqlite3.Connection,
    path: Path,
    table: str,
    where: str = "1",
    args: Sequence[object] = (),
    *,
    collect: bool | Callable[[Sequence[Any]], bool] = True,
    alias: str = "t",
    damaged: Damaged | None = None,
    table_scan: bool = False,
) -> list[tuple[Any, ...]]:
    """The rows of ``table`` (aliased ``alias``; its :data:`_CHECKED` columns, in order)
    matching ``where``, checked as :func:`verified_epochs` checks epochs; ``[]`` for a table
    the file does not have (a read-only file of an earlier version). Every row is checked
    for what no writer here stores, a wrongly typed cell (text in a REAL column, a blob), and
    a row without a checksum is refused past its table's legacy rows (:func:`_legacy_upto`). With
    ``damaged`` (a dict), a damaged row's run is added to it with why, and the row left out,
    rather than refused. ``collect``: return the rows (``False``: none, only checked; a
    predicate: the intact rows it keeps).

    ``table_scan``: read the table's rows, never an index (``NOT INDEXED``), for a read that
    serves its rows beyond this query (:func:`_checked_frame`, :meth:`ResultsDB.runs_frame`):
    SQLite takes an indexed column from the index, whose copy of a damaged key can be the
    intact one, so the rows checked and the rows served are the same rows only so."""
    path = _shown(path)
    if table != "epochs" and table not in _tables(conn, path):
        return []
    cols = ", ".join(f"{alias}.{c}" for c in _CHECKED[table].split(", "))
    stored = _checksum_sql(conn, path, table, alias)
    scan = " NOT INDEXED" if table_scan else ""
    sql = f"SELECT {cols}, {stored}, {alias}.rowid FROM {table} {alias}{scan}"
    legacy = 0
    upto = _Legacy(conn, path)
    out = []
    for *row, recorded, rowid in conn.execute(f"{sql} WHERE {where}", tuple(args)):
        legacy += recorded is None
        why = _row_damage(table, row, recorded, rowid, upto)
        if why is not None:
            run = _run_of(table, row)
            if damaged is None:
                raise ResultsDBError(*_refusal(conn, path, table, row, recorded, why))
            damaged.setdefault(run, why)
            continue
        if collect is True or (callable(collect) and collect(row)):
            out.append(tuple(row))
    name = os.path.realpath(path)
    if legacy and name not in _LEGACY_WARNED:
        _LEGACY_WARNED.add(name)
        rows = f"{legacy} epoch rows" if table == "epochs" else f"{legacy} rows of table {table}"
        log.warning(
            "%s: %s have no checksum (written by a version before rows were checksummed); "
            "read unverified (one warning per file)",
            path,
            rows,
        )
    return out


def _done(runs: Mapping[Key, Sequence[object]]) -> set[Key]:
    """The keys of the finished runs among ``runs`` (``runs`` rows by key)."""
    return {k for k, row in runs.items() if row[6] == "done"}


def _run_of(table: str, row: Sequence[object]) -> tuple[object, ...]:
    """The run key (:data:`Key`) of a row of ``table``."""
    return tuple(row[i] for i in _KEY_AT.get(table, range(5)))


_KEY_AT_T = " AND ".join(f"t.{c} = ?" for c in _RUN_KEY.split(", "))
"""The condition that selects one run's rows of a table aliased ``t`` (:func:`verified_rows`)."""

_PY_TYPES = {"TEXT": (str,), "INTEGER": (int,), "REAL": (float, int)}
_STORAGE = {str: "text", int: "integer", float: "real", bytes: "blob"}
"""SQLite's storage class of a value read, by its Python type (NULL reads as ``None``)."""
_EPOCH_KINDS = dict.fromkeys(["space", "arch", "dataset", "split"], "TEXT") | dict.fromkeys(
    ["arch_index", "schedule", "seed", "epoch"], "INTEGER"
)
_EPOCH_KINDS |= dict.fromkeys(["loss", "accuracy", "time_s"], "REAL")
_CELLS = {
    table: [
        (col, kinds[col], _PY_TYPES[kinds[col]])
        for col in _CHECKED[table].split(", ")
        for kinds in [_EPOCH_KINDS if table == "epochs" else _COLUMN_KINDS[table]]
    ]
    for table in _CHECKED
}
"""Per table, its :data:`_CHECKED` columns in order, each with its declared type and the
Python types a cell of it reads as (:func:`_wrong_cell`, once per row read)."""


def _wrong_cell(table: str, row: Sequence[object]) -> str | None:
    """Why a row of ``table`` is damaged by a cell: its first cell of another type than its
    column's (NULL passes: the schema refuses it where it is not allowed); ``None`` when
    there is none. Checked on every row, before its checksum: no writer here stores another
    type, and one flipped bit of a record's header turns a text cell into a blob of the same
    bytes (which a row without a checksum would serve as it is)."""
    for (col, kind, types), value in zip(_CELLS[table], row, strict=True):
        if value is not None and (type(value) is bool or not isinstance(value, types)):
            found = _STORAGE.get(type(value), type(value).__name__)
            return f"has {col} {value!r:.40} in table {table} ({found}, not {kind.lower()})"
    return None


def _refusal(
    conn: sqlite3.Connection,
    path: Path,
    table: str,
    row: Sequence[object],
    recorded: object,
    why: str,
) -> tuple[Part, ...]:
    """The refusal of a damaged ``row`` of ``table`` (``why``: :func:`_row_damage`). A row of
    ``epochs`` or a side table whose run has no row in ``runs`` is a stray row: its key was
    changed, so no command trains the run it names and ``retrain_damaged`` on that run cannot
    clear it; the refusal says so, and which run's key its checksum matches (:func:`_origin`)."""
    run = _run_of(table, row)
    if table == "runs" or _has_run(conn, run):
        return damaged_parts(path, run, why)
    origin = _origin(conn, table, row, recorded)
    whose = (
        f"its checksum matches it under run {origin}'s key"
        if origin is not None
        else "its checksum matches no run's key"
    )
    return (
        f"{_shown(path)} is damaged: run {tuple(run)} {why}, and has no row in table runs: a "
        f"stray row, its key changed ({whose}); ",
        *STRAY_FIX_PARTS,
    )


def _has_run(conn: sqlite3.Connection, run: Sequence[object]) -> bool:
    """Whether ``runs`` has a row (intact or not) keyed ``run``."""
    return conn.execute(f"SELECT 1 FROM runs WHERE {_KEY_WHERE}", tuple(run)).fetchone() is not None


def _origin(
    conn: sqlite3.Connection, table: str, row: Sequence[object], recorded: object
) -> tuple[object, ...] | None:
    """The key of the run in ``runs`` under whose key ``row`` of ``table`` matches its checksum
    (``recorded``): the run a row whose key alone was changed came from; ``None`` when no run's
    does (its values changed too, or no checksum). One checksum per run: read on a refusal or
    a repair only, never on a clean read."""
    if recorded is None:
        return None
    at = _KEY_AT.get(table, range(5))
    moved = list(row)
    for key in conn.execute(f"SELECT {_RUN_KEY} FROM runs"):
        for i, value in zip(at, key, strict=True):
            moved[i] = value
        if row_checksum(moved, table) == recorded:
            return tuple(key)
    return None


def _taken(
    conn: sqlite3.Connection, table: str, row: Sequence[object], key: Sequence[object]
) -> bool:
    """Whether ``table`` has a row where ``row`` would be under the run ``key`` (for
    ``epochs``: the same split and epoch)."""
    where, args = _KEY_WHERE, tuple(key)
    if table == "epochs":
        where, args = f"{where} AND split = ? AND epoch = ?", (*args, row[4], row[7])
    return conn.execute(f"SELECT 1 FROM {table} WHERE {where}", args).fetchone() is not None


def _row_damage(
    table: str,
    row: Sequence[object],
    recorded: object,
    rowid: int,
    legacy: Callable[[str], float],
) -> str | None:
    """Why a row of ``table`` (its :data:`_CHECKED` columns, its checksum as ``recorded``) is
    damaged, ending with where it is (table, rowid: a row can be named, or deleted, alone);
    ``None`` when it is intact. Every row is checked for a wrongly typed cell
    (:func:`_wrong_cell`) first; a row without a checksum is a legacy row only up to its
    table's last legacy rowid (``legacy``: :class:`_Legacy`)."""
    why = _wrong_cell(table, row)
    if why is None and recorded is None:
        upto = legacy(table)
        if rowid > upto:
            why = (
                f"has no checksum, yet every row of its table past rowid {int(upto)} is "
                "written with one (it was removed: a hand edit, or damage)"
            )
    elif why is None and recorded != row_checksum(row, table):
        why = _mismatch(table, row)
    return None if why is None else f"{why} (table {table}, rowid {rowid})"


def _mismatch(table: str, row: Sequence[object]) -> str:
    """Why a row of ``table`` that does not match its checksum is refused (after the run)."""
    if table == "epochs":
        return (
            f"has numbers at epoch {row[7]} on split {row[4]!r} that do not match the checksum "
            "written with them"
        )
    return f"has a row in table {table} that does not match the checksum written with it"


def _kept_row(
    conn: sqlite3.Connection, path: Path, table: str, key: Sequence[object]
) -> tuple[Any, ...] | None:
    """A writer's read of the run ``key``'s row of ``table`` (its :data:`_CHECKED` columns;
    ``None`` without one). A row that does not match its checksum reads as none, with a
    warning: the write replaces it, and its damaged values are never checksummed anew."""
    row = conn.execute(
        f"SELECT {_CHECKED[table]}, checksum, rowid FROM {table} WHERE {_KEY_WHERE}", tuple(key)
    ).fetchone()
    if row is None:
        return None
    *values, recorded, rowid = row
    why = _row_damage(table, values, recorded, rowid, _Legacy(conn, path))
    if why is not None and recorded is None:  # an old row no writer here wrote: refused
        raise ResultsDBError(*damaged_parts(path, _run_of(table, values), why))
    if why is not None:
        log.warning("%s: run %s %s; its row is written anew", path, tuple(key), why)
        return None
    return tuple(values)


_KEY_WHERE = "space=? AND arch=? AND dataset=? AND schedule=? AND seed=?"
"""The condition that selects one run's rows, its key's five values bound in order."""


def _as_key(run: Sequence[Any]) -> Key:
    space, arch, dataset, schedule, seed = run
    return (str(space), str(arch), str(dataset), int(schedule), int(seed))


@contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Reads inside one read transaction (one moment of a file being written), or inside
    the caller's."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        with suppress(sqlite3.Error):  # a damaged file's COMMIT fails too: the first error
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _schema_names(conn: sqlite3.Connection, path: str | os.PathLike[str]) -> set[str]:
    """The names of the file's tables and indexes (``sqlite_master``), each record's type and
    names checked to be text, as SQLite writes them: one flipped bit of a record's header turns
    a name into a blob of the same bytes, with which SQLite still finds the table (and its
    integrity check passes) while a query of its name reads bytes, and a side table read as
    missing dropped its records in silence. Another is refused: the file is damaged."""
    rows = conn.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall()
    for row in rows:
        for column, value in zip(("type", "name", "tbl_name"), row, strict=True):
            if not isinstance(value, str):
                kind = _STORAGE.get(type(value), "null")
                raise damaged_file(path, f"its schema's {column} {value!r:.40} is {kind}, not text")
    return {name for _, name, _ in rows}


def _tables(conn: sqlite3.Connection, path: str | os.PathLike[str]) -> set[str]:
    """:func:`_schema_names`; a table of :data:`_CHECKED` that the file lacks while its
    ``meta`` records the table's last legacy rowid (:func:`_legacy_upto`: written by a writer
    of this version, which had created every such table first) is refused as damage too: its
    name changed (one flipped byte), and a read of it as missing dropped its rows in silence."""
    names = _schema_names(conn, path)
    if "meta" in names:
        keys = [_LEGACY_KEY + table for table in _CHECKED]
        sql = f"SELECT key FROM meta WHERE key IN ({', '.join('?' * len(keys))})"
        recorded = {key for (key,) in conn.execute(sql, keys)}
        for table in _CHECKED:
            if _LEGACY_KEY + table in recorded and table not in names:
                raise damaged_file(
                    path,
                    f"its table {table} is missing, which its meta records "
                    f"({_LEGACY_KEY}{table}): its schema is damaged",
                )
    return names


def checkpoints_past_rows(
    path: str | os.PathLike[str], key: Sequence[object], whole: int, epoch: int
) -> CheckpointMismatchError:
    """The refusal of a resume of run ``key`` from its checkpoint of ``epoch`` where the
    database at ``path`` holds its train rows without a gap only up to ``whole``
    (:meth:`ResultsDB.discard_epochs_after`, and a campaign's check before any run)."""
    schedule = _as_key(key)[3]
    final = " and its final numbers would be missing" if epoch >= schedule else ""
    holds = (
        f"holds the train rows of run {tuple(key)} without a gap only up to epoch {whole}"
        if os.path.exists(path)
        else f"does not exist (so holds no train row of run {tuple(key)})"
    )
    return CheckpointMismatchError(
        f"{_shown(Path(path))} {holds}, but its checkpoints reach epoch {epoch} (the "
        "database was replaced or rows deleted, another database shares its "
        "checkpoints, or the machine stopped before the database synced): resumed, "
        f"its curves would have a hole{final}; put back the database its checkpoints "
        "were trained into, move the checkpoints away (or use another ",
        Param("ckpt_dir"),
        "), or train with ",
        Param("retrain_damaged", True),
        " (which resumes it from a checkpoint within those rows, or else from its first epoch)",
    )


def _reopen(
    path: str, timeout_s: float, readonly: bool = False, named: str | None = "path"
) -> ResultsDB:
    return ResultsDB(path, timeout_s=timeout_s, readonly=readonly, named=named)


def _tidy(wide: pd.DataFrame, *, keep_epoch: bool) -> pd.DataFrame:
    id_cols = ["arch_index", "arch", "dataset", "split", "schedule", "seed"]
    if keep_epoch:
        id_cols.append("epoch")
    long = wide.melt(
        id_vars=id_cols,
        value_vars=["accuracy", "loss", "time_s"],
        var_name="metric",
        value_name="value",
    )
    if not keep_epoch:
        # NB201's time_s is the training time of the schedule; evaluation timings stay in curves
        long = long[(long["metric"] != "time_s") | (long["split"] == "train")]
    long = long.dropna(subset=["value"]).rename(
        columns={"arch_index": "index", "schedule": "epochs"}
    )
    long["index"] = long["index"].astype("int64")
    long["epochs"] = long["epochs"].astype("int64")
    long["seed"] = long["seed"].astype("Int64")
    long["value"] = long["value"].astype("float64")
    cols = [*TIDY_COLUMNS[:6], *(["epoch"] if keep_epoch else []), "metric", "value"]
    sort = [c for c in cols if c != "value"]
    return long[cols].sort_values(sort, kind="stable").reset_index(drop=True)


def _one_space(wide: pd.DataFrame, space: str | None, path: Path) -> pd.DataFrame:
    """``wide`` of one space: a named one was selected (and a misspelt one refused) by the
    read, :func:`_checked_frame`; without a name the file must hold only one."""
    spaces = sorted(wide["space"].unique())
    if space is None and len(spaces) > 1:
        raise FormatError(
            f"{path} holds results of several spaces ({', '.join(spaces)}); pass space="
        )
    return wide


def checked_key(key: object) -> tuple[object, ...]:
    """A run key as its five values (:data:`Key`: space, arch, dataset, schedule, seed), else
    :class:`~nb201_flat.errors.ArgumentError` (sqlite3 named a count of bindings)."""
    if isinstance(key, str | bytes) or not isinstance(key, Sequence) or len(key) != 5:
        raise ArgumentError(
            "key must be a run's five values (space, arch, dataset, epochs, seed), e.g. a "
            f"job's key; got {shown(key)}"
        )
    return tuple(key)


def _open_existing(path: str | os.PathLike[str]) -> ResultsDB:
    p = Path(path)
    if not p.is_file():
        raise ResultsDBError(f"results database {p} does not exist; train something first")
    return ResultsDB(p, readonly=True)  # a source that is read only is never written to


# SQLite stores any value in any column (a REAL column keeps 'abc' as text, an INTEGER one 7.5
# as a real): the storage classes each column read from a table may hold in a file written here
_TEXT, _INT, _NUMBER = ("text",), ("integer",), ("real", "integer", "null")
_READ_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "epochs": {
        **dict.fromkeys(["space", "arch", "dataset", "split"], _TEXT),
        **dict.fromkeys(["arch_index", "schedule", "seed", "epoch"], _INT),
        **dict.fromkeys(["loss", "accuracy", "time_s"], _NUMBER),
    },
    "runs": {
        **dict.fromkeys(["space", "arch", "dataset", "status"], _TEXT),
        **dict.fromkeys(["arch_index", "schedule", "seed"], _INT),
    },
}


def damaged_parts(
    path: str | os.PathLike[str], run: Sequence[object], why: str
) -> tuple[Part, ...]:
    """:func:`damaged_run` as message parts, the fix's parameter a :class:`Param` (a
    command line spells it as its flag). A run of a dataset this project cannot train (a
    database another tool wrote) cannot be trained again: its fix is deleting its rows."""
    from nb201_flat.train.data import DATASETS

    head = f"{_shown(path)} is damaged: run {tuple(run)} {why}; "
    if len(run) > 2 and run[2] not in DATASETS:
        return (
            head,
            f"this project trains no {run[2]!r} runs (only {', '.join(DATASETS)}): write it "
            "again with the tool that trained it, or delete its rows "
            "(ResultsDB(path).discard_damaged(key))",
        )
    return (head, *DAMAGED_FIX_PARTS)


def damaged_run(path: str | os.PathLike[str], run: Sequence[object], why: str) -> str:
    """The one-line refusal of ``run`` (its key's five values, :data:`Key`) of the damaged
    database at ``path``: ``why`` follows the run, :data:`DAMAGED_FIX` ends it.

    >>> damaged_run("r.sqlite", ("nb201", "|a|", "cifar10", 200, 777), "has seed -1")
    "r.sqlite is damaged: run ('nb201', '|a|', 'cifar10', 200, 777) has seed -1; train it again with retrain_damaged=True (which first deletes that run's rows from every table of the database)"
    """
    return spelled(damaged_parts(path, run, why))


def _check_damage(conn: sqlite3.Connection, path: Path, space: str | None) -> None:
    """Refuse rows (of ``space``, or all) that no code here writes: a wrongly typed cell, or
    epochs whose run is not in ``runs`` (which the join would drop in silence)."""
    where = "" if space is None else " AND space = ?"
    args = () if space is None else (space,)
    for table, columns in _READ_TYPES.items():
        # one pass over the table: the first row with any wrongly typed cell, then which
        checks: list[str] = []
        params: list[str] = []
        for col, types in columns.items():
            checks.append(f"typeof({col}) NOT IN ({', '.join('?' * len(types))})")
            params.extend(types)
        cells = ", ".join(f"{col}, typeof({col})" for col in columns)
        row = conn.execute(  # the rows themselves, not an index's copy of their keys
            f"SELECT rowid, {_RUN_KEY}, {cells} FROM {table} NOT INDEXED "
            f"WHERE ({' OR '.join(checks)}){where} LIMIT 1",
            (*params, *args),
        ).fetchone()
        if row is None:
            continue
        n_key = len(_RUN_KEY.split(", "))
        rowid, key, found = row[0], row[1 : n_key + 1], row[n_key + 1 :]
        for i, (col, types) in enumerate(columns.items()):
            value, kind = found[2 * i], found[2 * i + 1]
            if kind not in types:
                want = " or ".join(t for t in types if t != "null")
                raise ResultsDBError(
                    *damaged_parts(
                        path,
                        key,
                        f"has {col} {value!r} in table {table} ({kind}, not {want}) "
                        f"(table {table}, rowid {rowid})",
                    )
                )
    match = " AND ".join(f"r.{c} = e.{c}" for c in _RUN_KEY.split(", "))
    stored = _checksum_sql(conn, path, "epochs", "e")
    legacy = _Legacy(conn, path)
    first = None
    for *row, recorded, rowid in conn.execute(
        f"SELECT {_EPOCH_COLUMNS}, {stored}, rowid FROM epochs e NOT INDEXED WHERE NOT EXISTS "
        f"(SELECT 1 FROM runs r WHERE {match}){where}",
        args,
    ):  # a damaged one is a stray row (its key changed): refused as such, by its rowid
        why = _row_damage("epochs", row, recorded, rowid, legacy)
        if why is not None:
            raise ResultsDBError(*_refusal(conn, path, "epochs", row, recorded, why))
        first = first or _run_of("epochs", row)
    if first is not None:
        raise _without_run(path, first)


def _without_run(path: Path, run: Sequence[object]) -> ResultsDBError:
    """The refusal of intact epochs of ``run`` that has no row in ``runs``: a join would drop
    them in silence."""
    return ResultsDBError(
        f"{_shown(path)} is damaged: the epochs of run {tuple(run)} have no row in table runs "
        "(a key changed in one table only); ",
        *DAMAGED_FIX_PARTS,
    )


def check_finished_runs(
    conn: sqlite3.Connection, path: Path, space: str, *, runs_verified: bool = False
) -> None:
    """Refuse runs of ``space`` that would import as missing numbers with no word (NaN where
    the database says the run is done), in one line naming the run (:func:`damaged_run`).

    Training writes a finished (``done`` or ``constant``) run's final epoch, with an
    accuracy for each split of its dataset (``train`` and every split it evaluates, whatever
    ``eval_every``: :func:`_final_splits`; for a dataset name this project does not know,
    every split the run holds at any epoch), before marking it, and numbers epochs
    1..schedule; a run of another status, or a finished one without that epoch, one of those
    splits there, or an accuracy, is a damaged (or hand-edited) database. ``runs_verified``:
    the caller checked the ``runs`` rows of ``space`` against their checksums in this file
    as it is now (a private copy that nothing writes), so they are not checked again. Every
    epoch row of ``space`` is read; training's skip reads a done run's final epoch (and any
    row outside its schedule) only, with these checks of those (:meth:`ResultsDB.done_keys`).
    """
    with _read_transaction(conn):  # the statuses checked are the statuses read
        if not runs_verified:
            verified_rows(conn, path, "runs", "t.space = ?", (space,), collect=False)
        found = _unservable_run(conn, lambda a: f"{a}space = ?", (space,))
    if found is not None:
        raise ResultsDBError(*damaged_parts(path, *found))


def _unservable_run(
    conn: sqlite3.Connection, where: Callable[[str], str], args: Sequence[object]
) -> tuple[tuple[object, ...], str] | None:
    """The first run (of those ``where`` selects: a condition on the columns of a table
    aliased by the prefix it is given, ``args`` bound to it) that :func:`check_finished_runs`
    refuses, with why; ``None`` when there is none."""
    found = _unservable_runs(conn, where, args)
    try:
        return next(found, None)
    finally:
        found.close()  # its query's statement with it


def _unservable_runs(
    conn: sqlite3.Connection, where: Callable[[str], str], args: Sequence[object]
) -> Generator[tuple[tuple[object, ...], str]]:
    """Each run that :func:`_unservable_run` finds (as stored, with why; a run once per check
    it fails), read as they are asked for."""
    from nb201_flat.train.campaign import CONSTANT_STATUS, ISOMORPHIC_STATUS

    # "running": started, not finished (killed, or training now); the others: see mark_run
    finished = ("done", CONSTANT_STATUS)
    known = ("running", *finished, ISOMORPHIC_STATUS)
    match = " AND ".join(f"e.{c} = r.{c}" for c in _RUN_KEY.split(", "))
    checks: list[tuple[str, tuple[str, ...], Callable[[Sequence[object]], str]]] = [
        (
            f"SELECT {_RUN_KEY}, status FROM runs WHERE {where('')} AND status NOT IN "
            f"({', '.join('?' * len(known))})",
            known,
            lambda row: (
                f"has status {row[5]!r:.40}, which training never writes "
                f"(it writes {', '.join(known)})"
            ),
        ),
        (
            f"SELECT {_RUN_KEY}, seed FROM runs WHERE {where('')} AND seed < 0",
            (),
            lambda row: f"has seed {row[5]}, which training never writes (seeds are >= 0)",
        ),
    ]
    for sql, extra, why in checks:
        for row in conn.execute(sql, (*args, *extra)):
            yield tuple(row[:5]), why(row)
    # the rows _unserved_epoch may refuse, whatever their run, read off the index; it decides
    # (integer epochs only: a cell of another type is damage its type check refuses)
    cols = ", ".join(f"e.{c}" for c in _EPOCH_COLUMNS.split(", "))
    rows = conn.execute(
        f"SELECT {cols}, r.status IN ({', '.join('?' * len(finished))}) FROM epochs e "
        f"LEFT JOIN runs r ON {match} WHERE {where('e.')} AND typeof(e.epoch) = 'integer' "
        "AND typeof(e.schedule) = 'integer' AND (e.epoch < 1 OR e.epoch > e.schedule OR "
        "(e.epoch = e.schedule AND e.accuracy IS NULL))",
        (*finished, *args),
    )
    for *row, ended in rows:
        said = _unserved_epoch(row, finished=bool(ended))
        if said is not None:
            yield _run_of("epochs", row), said
    yield from _final_epoch_damage(conn, where, args)


_FINAL_OR_OUTSIDE = "NOT ({0}epoch BETWEEN 1 AND {0}schedule - 1)"
"""The ``epochs`` rows (of a table aliased by the prefix it is formatted with) a run is
served from when finished, its schedule's last epoch, and any row outside 1..schedule: the
rows of a run's epochs that :func:`_unserved_epoch` checks."""


def _unserved_epoch(row: Sequence[Any], *, finished: bool) -> str | None:
    """Why the ``epochs`` row ``row`` (its :data:`_EPOCH_COLUMNS`, its epoch and schedule
    integers) leaves its run unservable: an epoch outside its schedule's 1..schedule, which
    training never writes, or a ``finished`` run's final epoch without an accuracy (training
    writes one on every split, a constant-output record chance); ``None`` when it does not."""
    split, schedule, epoch, accuracy = row[4], row[5], row[7], row[9]
    if not 1 <= epoch <= schedule:
        return f"has an epoch {epoch} outside its schedule's 1..{schedule}"
    if finished and epoch == schedule and accuracy is None:
        return f"is finished but has no accuracy on split {split!r} at its final epoch {schedule}"
    return None


def _final_splits(dataset: object) -> tuple[str, ...] | None:
    """The splits a finished run of ``dataset`` holds at its schedule's last epoch: ``train``
    and every split the dataset evaluates (:attr:`~nb201_flat.train.data.DatasetInfo.splits`).
    Training evaluates them all there, whatever ``eval_every``, in every form (single, grouped,
    concurrent, resumed), and :func:`~nb201_flat.train.campaign.record_constant_output`
    writes them all, as every version did; ``None`` for a dataset name this project does not
    know (another tool's): then the splits its run holds at its other epochs."""
    from nb201_flat.train.data import DATASETS

    info = DATASETS.get(dataset) if isinstance(dataset, str) else None
    return None if info is None else ("train", *info.splits)


def _final_epoch_damage(
    conn: sqlite3.Connection, where: Callable[[str], str], args: Sequence[object]
) -> Iterator[tuple[tuple[object, ...], str]]:
    """Each finished run (of those ``where`` selects in ``runs``, as :func:`_unservable_run`
    takes it) whose final epoch lacks a row, with why: the whole epoch, or a split that a
    finished run of its dataset holds there (:func:`_final_splits`; for a dataset this project
    does not know, a split the run holds at another epoch: a split missing at every epoch, or
    evaluated at the last epoch only, goes unseen there).

    The rows of a known dataset are looked up by their whole key, a few a run, never its
    other epochs: training's skip asks this of every done run of its file."""
    from nb201_flat.train.campaign import CONSTANT_STATUS
    from nb201_flat.train.data import DATASETS

    finished = ("done", CONSTANT_STATUS)
    marks = ", ".join("?" * len(finished))
    columns = _RUN_KEY.split(", ")
    key = ", ".join(f"r.{c}" for c in columns)

    def held(split: str | None) -> str:
        """Whether the run ``r`` has a row at its final epoch (on ``split``, an SQL term)."""
        on = "" if split is None else f" AND e.split = {split}"
        match = " AND ".join(f"e.{c} = r.{c}" for c in columns)
        return f"EXISTS (SELECT 1 FROM epochs e WHERE {match}{on} AND e.epoch = r.schedule)"

    need = [(name, split) for name in DATASETS for split in _final_splits(name) or ()]
    known = ", ".join("?" * len(DATASETS))
    train = held("'train'")  # by its whole key; the epoch's other rows only where it is missing
    # CROSS JOIN: runs first (SQLite keeps its order), each run's rows looked up by its key
    checks: list[tuple[str, tuple[object, ...], tuple[object, ...], Callable[[Any], str]]] = [
        (
            f"SELECT {key}, r.status FROM runs r WHERE {where('r.')} AND r.status IN ({marks}) "
            f"AND NOT {train} AND NOT {held(None)}",
            (),
            finished,
            lambda row: f"is marked {row[5]} but has no row for its final epoch {row[3]}",
        ),
        (
            f"WITH need(dataset, split) AS (VALUES {', '.join(['(?, ?)'] * len(need))}) "
            f"SELECT {key}, r.status, n.split FROM runs r CROSS JOIN need n ON "
            f"n.dataset = r.dataset WHERE {where('r.')} AND r.status IN ({marks}) AND NOT "
            f"{held('n.split')}",
            tuple(v for pair in need for v in pair),
            finished,
            lambda row: (
                f"is marked {row[5]} but has no row for split {row[6]!r} at its final epoch "
                f"{row[3]}, which every finished {row[2]} run holds (training evaluates every "
                "split of its dataset there; a row deleted)"
            ),
        ),
        (  # runs of a dataset not known: their rows off the key's index, every epoch
            f"SELECT DISTINCT {key}, r.status, s.split FROM runs r CROSS JOIN epochs s ON "
            f"{' AND '.join(f's.{c} = r.{c}' for c in columns)} WHERE {where('r.')} AND "
            f"r.status IN ({marks}) AND r.dataset NOT IN ({known}) AND NOT {held('s.split')}",
            (),
            (*finished, *DATASETS),
            lambda row: (
                f"is marked {row[5]} but has no row for split {row[6]!r} at its final epoch "
                f"{row[3]}, which its other epochs hold (a row deleted)"
            ),
        ),
    ]
    for sql, before, after, why in checks:
        for row in conn.execute(sql, (*before, *args, *after)):
            yield tuple(row[:5]), why(row)


def _delete_run(conn: sqlite3.Connection, key: Sequence[object]) -> None:
    """Delete the run ``key``'s rows from every table (the caller's transaction)."""
    for table in _CHECKED:
        conn.execute(f"DELETE FROM {table} WHERE {_KEY_WHERE}", tuple(key))


def _train_epochs(conn: sqlite3.Connection, key: Sequence[object]) -> set[int]:
    """The epochs at which the run ``key`` has a train row (its key's index, one run)."""
    sql = (
        f"SELECT epoch FROM epochs WHERE {_KEY_WHERE} AND split = 'train' "
        "AND typeof(epoch) = 'integer'"
    )
    return {int(e) for (e,) in conn.execute(sql, tuple(key))}


def _whole_upto(epochs: Collection[int]) -> int:
    """The last ``m`` such that every epoch 1..``m`` is in ``epochs`` (0: not epoch 1)."""
    m = 0
    while m + 1 in epochs:
        m += 1
    return m


def _holed_run(
    conn: sqlite3.Connection, where: Callable[[str], str], args: Sequence[object]
) -> tuple[tuple[object, ...], str] | None:
    """The first trained run (of those ``where`` selects, as :func:`_unservable_run` takes it)
    whose curves have a hole, with why; ``None`` when there is none.

    Training writes the train split at every epoch, in order, before the epoch's checkpoint:
    a trained run (``done``, or ``running``) holds it at epochs 1..its last (the schedule's,
    once done). One fewer is a curve with a hole (rows deleted, or a run resumed from a
    checkpoint into another database by an earlier version) that :func:`load_curves` would
    serve as whole; only epochs in 1..schedule count, so a row outside cannot fill it. Final
    results do not depend on it, so an import does not check it; an evaluated split may skip
    epochs (``eval_every``, which is not stored), so only the train split is counted. The
    count is read off the key's index, a run at a time.
    """
    columns = ", ".join(f"r.{c}" for c in _RUN_KEY.split(", "))
    match = " AND ".join(f"e.{c} = r.{c}" for c in _RUN_KEY.split(", "))
    row = conn.execute(
        f"SELECT {columns}, COUNT(e.epoch), COALESCE(MAX(e.epoch), 0), r.status FROM runs r "
        f"LEFT JOIN epochs e ON {match} AND e.split = 'train' AND typeof(e.epoch) = "
        f"'integer' AND e.epoch BETWEEN 1 AND r.schedule WHERE {where('r.')} AND "
        f"r.status IN ('done', 'running') GROUP BY {columns} HAVING COUNT(e.epoch) < "
        "CASE WHEN r.status = 'done' THEN r.schedule ELSE MAX(e.epoch) END LIMIT 1",
        tuple(args),
    ).fetchone()
    return None if row is None else (tuple(row[:5]), _missing_epochs(conn, row))


def _missing_epochs(conn: sqlite3.Connection, row: Sequence[Any]) -> str:
    """Why a trained run with train rows at ``row[5]`` of its epochs is refused: which
    epochs lack them (``row``: the run's key, that count, its last such epoch, its status)."""
    key, count, last, status = tuple(row[:5]), int(row[5]), int(row[6]), str(row[7])
    upto = int(row[3]) if status == "done" else last  # a finished run: its whole schedule
    held = _train_epochs(conn, key)
    gone = [e for e in range(1, upto + 1) if e not in held]
    shown = ", ".join(map(str, gone[:5])) + (f", ... ({len(gone)} in all)" if len(gone) > 5 else "")
    return (
        f"is {status} but has no train row at epoch{'s' if len(gone) > 1 else ''} {shown} of "
        f"its 1..{upto} ({count} held): its curves have a hole (rows deleted, or a run resumed "
        "from a checkpoint into another database)"
    )


def _run_damage(conn: sqlite3.Connection, path: Path, key: Sequence[object]) -> Damaged:
    """Why the run ``key`` is damaged (:meth:`ResultsDB.discard_damaged`: every row of it in
    every table checked, then what an import or :func:`load_curves` refuses by its rows,
    :func:`_unservable_run` and :func:`_holed_run`), by its key as stored; ``{}`` when it is
    intact (or has no rows)."""
    found: Damaged = {}
    for table in _CHECKED:
        alias = "e" if table == "epochs" else "t"
        where = " AND ".join(f"{alias}.{c} = ?" for c in _RUN_KEY.split(", "))
        verified_rows(
            conn, path, table, where, tuple(key), collect=False, alias=alias, damaged=found
        )
    one = " AND ".join(f"{{0}}{c} = ?" for c in _RUN_KEY.split(", "))
    unservable = _unservable_run(conn, one.format, tuple(key))
    if unservable is not None:  # what an import refuses, naming the run, too
        found.setdefault(*unservable)
    if not found:  # what load_curves refuses; on rows found sound (it reads their epochs)
        holed = _holed_run(conn, one.format, tuple(key))
        if holed is not None:
            found.setdefault(*holed)
    return found


def _checked_frame(
    path: str | os.PathLike[str], space: str | None, *, final_only: bool
) -> pd.DataFrame:
    """:meth:`ResultsDB.epochs_frame` of ``path`` once its rows (of ``space``, or all; the final
    epochs only with ``final_only``) passed :func:`_check_damage` and their checksums (and,
    every epoch being served, :func:`_holed_run`), all in one read transaction: a live
    writer's later rows are not read unchecked."""
    check_path("path", path)  # None met Path's bare TypeError
    if space is not None and not isinstance(space, str):  # sqlite3's binding error
        raise ArgumentError(f"space must be a space key such as 'nb201', got {shown(space)}")
    db = _open_existing(path)
    try:
        with damage_refused(path):
            conn = db._connect()
            with _read_transaction(conn):
                _check_damage(conn, Path(path), space)
                if not final_only:  # every epoch is served: a hole in a curve is refused
                    one = (lambda a: "1") if space is None else (lambda a: f"{a}space = ?")
                    found = _holed_run(conn, one, () if space is None else (space,))
                    if found is not None:
                        raise ResultsDBError(*damaged_parts(path, *found))
                where = ["e.epoch = e.schedule"] if final_only else []
                where += [] if space is None else ["e.space = ?"]
                args = () if space is None else (space,)
                # the rows served are the rows checked, read once each from the table itself
                epochs = verified_epochs(
                    conn, Path(path), " AND ".join(where) or "1", args, table_scan=True
                )
                # the frame's run status decides which runs are finished
                runs = "1" if space is None else "t.space = ?"
                runs_rows = verified_rows(conn, Path(path), "runs", runs, args, table_scan=True)
                if space is not None and not epochs:  # a misspelt key read as a space without
                    held = sorted(r[0] for r in conn.execute("SELECT DISTINCT space FROM epochs"))
                    if held and space not in held:  # results, where the file holds others
                        raise FormatError(
                            f"{path} holds no results of space {space!r}; it holds "
                            f"{', '.join(held)}"
                        )
    finally:
        db.close()
    status = {_run_of("runs", r): r[6] for r in runs_rows}
    wide = []
    for row in epochs:
        run = _run_of("epochs", row)
        if run not in status:  # _check_damage asked an index; the table has the last word
            raise _without_run(Path(path), run)
        wide.append((*row, status[run]))
    return pd.DataFrame.from_records(wide, columns=[*_EPOCH_COLUMNS.split(", "), "status"])


def load_results(path: str | os.PathLike[str], *, space: str | None = None) -> pd.DataFrame:
    """Final-epoch results of finished runs as the tidy long interchange frame.

    Columns ``index, arch, dataset, split, epochs, seed, metric, value`` (``epochs`` is the
    schedule length, ``seed`` a nullable Int64): ``accuracy`` (%) and ``loss`` for every split,
    ``time_s`` (training time of the whole schedule) for ``train``.

    Parameters
    ----------
    path
        The SQLite file.
    space
        Space key (``"nb201"``...); needed only when the file holds several.
    """
    wide = _checked_frame(path, space, final_only=True)
    wide = _one_space(wide, space, Path(path))
    # "constant": a disconnected cell recorded at chance without training (train.campaign)
    done = wide["status"].isin(["done", "constant"])
    wide = wide[done & (wide["epoch"] == wide["schedule"])]
    return _tidy(wide, keep_epoch=False)


def load_curves(path: str | os.PathLike[str], *, space: str | None = None) -> pd.DataFrame:
    """Per-epoch learning curves (runs in progress included): the tidy frame plus ``epoch``.

    A trained run whose train split lacks an epoch up to its last (the schedule's, once done)
    is refused as damaged, naming the epochs: its curve has a hole (:func:`_holed_run`)."""
    wide = _checked_frame(path, space, final_only=False)
    return _tidy(_one_space(wide, space, Path(path)), keep_epoch=True)
