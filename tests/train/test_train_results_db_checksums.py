"""Results database row checksums: a flipped bit in a stored number, a run's status or a side
table's record (the cell a stand-in copies, the data digest) is refused, naming the run;
files without checksums (schema 1, or schema 2 before runs had them) are read with one
warning and migrated by a writer; what training writes carries them."""

from __future__ import annotations

import logging
import math
import re
import socket
import sqlite3
import struct
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from train_helpers import SCHEMA_1_TABLES, TOY_OPS, one_isomorphic_class

import nb201_flat
from nb201_flat.cli import main
from nb201_flat.errors import ResultsDBError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.train import results_db as rdb
from nb201_flat.train.results_db import (
    DAMAGED_FIX,
    STRAY_FIX,
    ResultsDB,
    load_curves,
    load_results,
)

ARCH = str(NB201.resolve(11472))
KEY = ("nb201", ARCH, "cifar10", 1, 777)
RUN = f"run {KEY}"


def _db(path: Path) -> Path:
    db = ResultsDB(path)
    db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.34375, 1.5), "ori-test": (2.3, 56.78125, 0.2)})
    db.mark_run(KEY, 11472, "done")
    db.close()
    return path


def _execute(path: Path, statement: str) -> None:
    """Run one statement on the database, committed, as a hand edit (no checksum rewritten)."""
    con = sqlite3.connect(path)
    with con:
        con.execute(statement)
    con.close()


def _flip_bit(path: Path, value: float) -> None:
    """Flip one bit of the stored REAL ``value`` in the file (WAL merged in first)."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    raw = bytearray(path.read_bytes())
    at = raw.find(struct.pack(">d", value))
    assert at > 0 and raw.find(struct.pack(">d", value), at + 1) < 0
    raw[at + 2] ^= 0x01
    path.write_bytes(bytes(raw))
    con = sqlite3.connect(path)  # SQLite itself sees nothing wrong
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()


def test_a_flipped_bit_in_a_stored_number_is_refused_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _db(tmp_path / "r.sqlite")
    assert 56.78125 in load_results(path)["value"].tolist()
    _flip_bit(path, 56.78125)
    why = "has numbers at epoch 1 on split 'ori-test' that do not match the checksum"
    for read in (load_results, load_curves, read_results_db):
        with pytest.raises(ResultsDBError) as info:
            read(path)  # type: ignore[operator]
        msg = str(info.value)
        at = "(table epochs, rowid 2)"  # KEY's ori-test row: the second written
        assert msg == f"{path} is damaged: {RUN} {why} written with them {at}; {DAMAGED_FIX}"
    with pytest.raises(ResultsDBError, match="do not match the checksum"):
        ResultsDB(path, readonly=True).final_metrics(KEY)
    assert main(["import", str(path), "--out", str(tmp_path / "t.nb201")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "do not match the checksum" in err and "Traceback" not in err
    assert not (tmp_path / "t.nb201").exists()


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE epochs SET accuracy = 56.5 WHERE split = 'ori-test'",  # a number
        "UPDATE epochs SET arch_index = 7",  # a key field the checksum covers
        "UPDATE epochs SET time_s = NULL WHERE split = 'train'",
    ],
)
def test_a_row_changed_without_its_checksum_is_refused(tmp_path: Path, change: str) -> None:
    path = _db(tmp_path / "r.sqlite")
    con = sqlite3.connect(path)
    with con:
        con.execute(change)
    con.close()
    with pytest.raises(ResultsDBError, match=r"is damaged: run .* do not match the checksum"):
        load_curves(path)


def test_values_sqlite_stores_differently_still_match(tmp_path: Path) -> None:
    """NaN is stored as NULL and -0.0 as 0.0: the checksum is of what is stored."""
    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    db.write_epoch(KEY, 11472, 1, {"train": (float("nan"), -0.0, 1e-300), "x": (math.inf, 1, 2)})
    db.close()
    curves = load_curves(path)
    assert len(curves) == 5  # the NaN loss is a missing value, as before
    assert math.inf in curves["value"].tolist()


_SCHEMA_1 = (
    SCHEMA_1_TABLES
    + """
INSERT INTO epochs VALUES ('nb201', '{a}', 11472, 'cifar10', 'train', 1, 777, 1, 2.0, 10.0, 3.0);
INSERT INTO epochs VALUES ('nb201', '{a}', 11472, 'cifar10', 'ori-test', 1, 777, 1, 2.1, 9.0, 0.5);
INSERT INTO runs VALUES ('nb201', '{a}', 11472, 'cifar10', 1, 777, 'done', 0.1, 1.0, 3.0, 'h', 0);
"""
)


def test_a_schema_1_file_is_read_with_one_warning_and_migrated_by_a_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rdb, "_LEGACY_WARNED", set())
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(_SCHEMA_1.format(a=ARCH))
    con.close()
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        assert load_results(path)["value"].tolist() == [9.0, 2.1, 10.0, 2.0, 3.0]
        load_curves(path)
        read_results_db(path)
    legacy = [r for r in caplog.records if "have no checksum" in r.getMessage()]
    assert len(legacy) == 1 and "2 epoch rows" in legacy[0].getMessage()  # once per file
    # the import reads a copy, yet names the file passed (and warns once for it)
    assert legacy[0].getMessage().startswith(f"{path}: ")
    assert path.read_bytes() == before  # reading changes nothing
    # a writer adds the column (schema 2): the old row keeps NULL, new rows get a checksum
    db = ResultsDB(path)
    other = ("nb201", str(NB201.resolve(7)), "cifar10", 1, 777)
    db.write_epoch(other, 7, 1, {"train": (1.0, 20.0, 4.0)})
    db.close()
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM meta").fetchone() == ("2",)
    sums = dict(con.execute("SELECT arch_index, checksum FROM epochs").fetchall())
    runs = dict(con.execute("SELECT arch_index, checksum FROM runs").fetchall())
    con.close()
    assert sums[11472] is None and len(sums[7]) == 16
    assert runs[11472] is None and len(runs[7]) == 16  # runs got its column too
    assert len(load_curves(path)) == 9
    ResultsDB(path).close()  # opening again migrates nothing more
    # the old row stays readable unverified; a new row is checked
    _execute(path, "UPDATE epochs SET loss = 1.5 WHERE arch_index = 7")
    with pytest.raises(ResultsDBError, match=r"run \('nb201', '[^']+', 'cifar10', 1, 777\) has"):
        load_curves(path)


def test_a_file_of_a_later_schema_is_refused(tmp_path: Path) -> None:
    path = _db(tmp_path / "r.sqlite")
    _execute(path, "UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    _execute(path, "DELETE FROM meta WHERE key = 'nb201_flat_version'")  # a later version's file
    # it named "the version of nb201_flat that wrote it", which nothing recorded
    with pytest.raises(Exception, match=r"has results schema '3', written by a newer nb201_flat"):
        load_results(path)


def test_a_file_a_writer_migrates_records_its_writer(tmp_path: Path) -> None:
    """The version that set a file's schema is the one to read it with: a migration records
    itself in the transaction that marks the file 2 (a schema-1 file records none)."""
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(_SCHEMA_1.format(a=ARCH))
    con.close()
    ResultsDB(path).done_keys()
    con = sqlite3.connect(path)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    con.close()
    assert meta["schema_version"] == "2" and meta["nb201_flat_version"] == nb201_flat.__version__


def test_a_copy_that_cannot_be_written_is_not_blamed_on_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the import reads a consistent copy in the temporary folder; a folder it cannot use
    # escaped as a raw traceback, or was reported as the source being unreadable
    import tempfile

    path = _db(tmp_path / "r.sqlite")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    with pytest.raises(ResultsDBError, match="into the temporary folder .* point TMPDIR at a"):
        read_results_db(path)
    assert main(["import", str(path), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot copy results database {path} into" in err, err


# -- runs and the side tables -----------------------------------------------------------------

ISO = 2528  # a cell of 11472's isomorphism class (the import refuses another)
STAND_IN = ("nb201", str(NB201.resolve(ISO)), "cifar10", 1, 777)  # recorded as isomorphic
OTHER = ("nb201", str(NB201.resolve(8)), "cifar10", 1, 777)  # trained, with other numbers
DEVICE = "cpu | torch 0.0.test-device"
DIGEST = "5eed" * 16


def _campaign_db(path: Path) -> Path:
    """KEY done with all its records, OTHER done, STAND_IN standing in for KEY's cell."""
    db = ResultsDB(path)
    data = SimpleNamespace(digest=DIGEST, official=True)
    for key, index, acc, device in ((KEY, 11472, 56.78125, DEVICE), (OTHER, 8, 12.5, "cpu")):
        db.write_epoch(key, index, 1, {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, acc, 0.2)})
        db.mark_run(key, index, "done", params_mb=0.5, flops_m=7, train_time_s=1.5,
                    trained_as="single", trained_on=device, data=data)  # type: ignore[arg-type]  # fmt: skip
    db.mark_run(STAND_IN, ISO, "isomorphic", isomorphic_to=ARCH)
    db.close()
    return path


def _edit(path: Path, sql: str, *args: object) -> None:
    con = sqlite3.connect(path)
    with con:
        assert con.execute(sql, args).rowcount == 1
    con.close()


def _import_refuses(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line both read_results_db and ``nb201-flat import`` refuse ``path`` with."""
    with pytest.raises(ResultsDBError) as info:
        read_results_db(path)
    capsys.readouterr()
    assert main(["import", str(path), "--out", str(tmp_path / "t.nb201")]) == 2
    err = capsys.readouterr().err
    # the import command names the train command's flag where the library names the parameter
    shown = str(info.value).replace("retrain_damaged=True", IMPORT_SPELLS_FIX)
    assert err.count("\n") == 1 and "Traceback" not in err and shown in err, err
    assert not (tmp_path / "t.nb201").exists()
    return str(info.value)


IMPORT_SPELLS_FIX = "`nb201-flat train ... --retrain-damaged`"


def test_the_campaign_imports_with_its_stand_in(tmp_path: Path) -> None:
    # what the damage cases below start from: the stand-in copies KEY's cell
    table = read_results_db(_campaign_db(tmp_path / "r.sqlite"))
    acc = table.vector("cifar10", "ori-test", 1, seed_policy=777)
    assert (acc[ISO], acc[11472], acc[8]) == (56.78125, 56.78125, 12.5)
    assert table.meta["data"]["cifar10"]["digest"] == DIGEST


@pytest.mark.parametrize(
    ("table", "change", "run"),
    [
        # the stand-in copied another cell's numbers, in silence
        ("run_isomorphic", f"UPDATE run_isomorphic SET isomorphic_to = '{OTHER[1]}'", STAND_IN),
        # a key field of a side row: the row no longer joins its run, and its record is lost
        ("run_isomorphic", "UPDATE run_isomorphic SET seed = 778", (*STAND_IN[:4], 778)),
        # a finished run read as unfinished: left out of the table, in silence
        ("runs", f"UPDATE runs SET status = 'running' WHERE arch = '{ARCH}'", KEY),
        ("runs", f"UPDATE runs SET status = 'done' WHERE arch_index = {ISO}", STAND_IN),
        ("runs", f"UPDATE runs SET train_time_s = 15.0 WHERE arch = '{ARCH}'", KEY),
        ("run_data", f"UPDATE run_data SET data_digest = 'x' WHERE arch = '{ARCH}'", KEY),
        ("run_data", f"UPDATE run_data SET data_official = 0 WHERE arch = '{ARCH}'", KEY),
        ("run_forms", f"UPDATE run_forms SET trained_as = 'grouped:2' WHERE arch = '{ARCH}'", KEY),
        ("run_devices", f"UPDATE run_devices SET trained_on = 'gpu' WHERE arch = '{ARCH}'", KEY),
    ],
)
def test_a_run_or_side_row_changed_without_its_checksum_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, change: str, run: tuple
) -> None:
    path = _campaign_db(tmp_path / "r.sqlite")
    _edit(path, change)
    msg = _import_refuses(path, tmp_path, capsys)
    con = sqlite3.connect(path)
    where = "space = ? AND arch = ? AND dataset = ? AND schedule = ? AND seed = ?"
    (rowid,) = con.execute(f"SELECT rowid FROM {table} WHERE {where}", run).fetchone()
    con.close()
    why = f"has a row in table {table} that does not match the checksum written with it"
    why += f" (table {table}, rowid {rowid})"
    if run[4] == 778:  # its key changed: a stray row, its checksum naming the run it left
        stray = "has no row in table runs: a stray row, its key changed (its checksum matches "
        stray += f"it under run {STAND_IN}'s key)"
        assert msg == f"{path} is damaged: run {run} {why}, and {stray}; {STRAY_FIX}"
        return
    assert msg == f"{path} is damaged: run {run} {why}; {DAMAGED_FIX}"


@pytest.mark.parametrize("stored", [DEVICE, DIGEST, "isomorphic"])
def test_a_flipped_bit_in_a_side_value_or_status_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stored: str
) -> None:
    path = _campaign_db(tmp_path / "r.sqlite")
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    raw = bytearray(path.read_bytes())
    # the value's bytes in a row (the status as the runs row holds it, the host next: not the
    # table's or the column's name); the digest is in both runs' rows
    needle = stored.encode() + (socket.gethostname().encode() if stored == "isomorphic" else b"")
    at = raw.find(needle)
    assert at > 0 and (stored == DIGEST or raw.find(needle, at + 1) < 0)
    raw[at + 3] ^= 0x01
    path.write_bytes(bytes(raw))
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    assert "does not match the checksum written with it" in _import_refuses(path, tmp_path, capsys)


def test_the_trainers_reads_check_the_runs_rows(tmp_path: Path) -> None:
    # what decides whether a run is skipped, and whether its data is the data asked for
    path = _campaign_db(tmp_path / "r.sqlite")
    db = ResultsDB(path)
    assert db.is_done(KEY) and db.data_digest(KEY) == DIGEST and KEY in db.done_keys()
    assert db.data_digests() == {KEY: DIGEST, OTHER: DIGEST}
    db.close()
    db = ResultsDB(path)
    _edit(path, f"UPDATE run_data SET data_digest = 'x' WHERE arch = '{ARCH}'")
    for read in (lambda: db.data_digest(KEY), db.data_digests):
        with pytest.raises(ResultsDBError, match=rf"run {re.escape(str(KEY))} has a row in table run_data"):  # fmt: skip
            read()
    _edit(path, f"UPDATE runs SET status = 'running' WHERE arch = '{OTHER[1]}'")
    for read in (lambda: db.is_done(OTHER), db.done_keys):
        with pytest.raises(ResultsDBError, match=rf"run {re.escape(str(OTHER))} has a row in table runs"):  # fmt: skip
            read()
    assert not db.is_done(STAND_IN)  # another run's rows are not its business
    # a damaged side row of a finished run is refused where its run is read (as the import
    # refuses it), not only where its own table is
    with pytest.raises(ResultsDBError, match=rf"run {re.escape(str(KEY))} has a row in table run_data"):  # fmt: skip
        db.is_done(KEY)
    db.close()


def test_a_writer_replaces_a_damaged_runs_row_and_never_checksums_its_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _campaign_db(tmp_path / "r.sqlite")
    _edit(path, f"UPDATE runs SET params_mb = 9.5 WHERE arch = '{ARCH}'")
    db = ResultsDB(path)
    with caplog.at_level(logging.WARNING):
        # training the run again (the fix the refusal names) marks it running: its old
        # sizes are not carried into a row checksummed anew
        db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, 50.0, 0.2)})
    assert any("its row is written anew" in r.getMessage() for r in caplog.records)
    frame = db.runs_frame()
    row = frame[frame["arch"] == ARCH].iloc[0]
    assert row["status"] == "running" and pd.isna(row["params_mb"])
    # a damaged 'done' row is no finished run to keep: keep_done writes it anew
    db.mark_run(KEY, 11472, "done", params_mb=0.5, data=SimpleNamespace(digest=DIGEST, official=True))  # type: ignore[arg-type]  # fmt: skip
    _edit(path, f"UPDATE runs SET flops_m = 1.0 WHERE arch = '{ARCH}'")
    assert db.mark_run(KEY, 11472, "done", flops_m=7.0, keep_done=True)
    assert not db.mark_run(KEY, 11472, "done", flops_m=8.0, keep_done=True)  # a good one stays
    db.close()
    assert read_results_db(path).vector("cifar10", "ori-test", 1, seed_policy=777)[11472] == 50.0


def test_a_run_marked_again_keeps_its_sizes_verified(tmp_path: Path) -> None:
    # write_epoch rewrites the whole runs row with its checksum: the sizes it keeps included
    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    db.mark_run(KEY, 11472, "isomorphic", params_mb=0.25, flops_m=3, isomorphic_to=str(NB201.resolve(7)))  # fmt: skip
    db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.5, 1.5)})
    row = db.runs_frame().iloc[0]
    assert (row["status"], row["params_mb"], row["flops_m"]) == ("running", 0.25, 3.0)
    db.close()
    _edit(path, "UPDATE runs SET flops_m = 3.5")
    with pytest.raises(ResultsDBError, match="has a row in table runs that does not match"):
        ResultsDB(path, readonly=True).runs_frame()


def _all_rows_carry_their_checksum(path: Path) -> int:
    con = sqlite3.connect(path)
    n = 0
    for table, columns in rdb._CHECKED.items():
        for *row, recorded in con.execute(f"SELECT {columns}, checksum FROM {table}"):
            assert recorded == rdb.row_checksum(row, table), (table, row)
            n += 1
    con.close()
    return n


def test_a_trained_campaign_writes_verifiable_rows_and_a_changed_stand_in_is_refused(
    cifar10_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("torch")

    monkeypatch.setattr(rdb, "_LEGACY_WARNED", set())
    ops = list(TOY_OPS)
    space, plan, centre, member, rep = one_isomorphic_class()
    db = tmp_path / "r.sqlite"
    argv = ["train", "--neighbours-of", str(centre), "--radius", "1", "--unique-isomorphism",
            "--ops", *ops, "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
            "--data-root", str(cifar10_root), "--db", str(db), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--json"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    con = sqlite3.connect(db)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in rdb._CHECKED}
    con.close()
    assert all(counts.values()), counts  # every table written to
    assert _all_rows_carry_their_checksum(db) == sum(counts.values())
    with caplog.at_level(logging.WARNING):
        table = read_results_db(db)
    assert not [r for r in caplog.records if "no checksum" in r.getMessage()]
    assert [r["index"] for r in table.meta["isomorphic_to"]] == [member]
    # the stand-in pointed at another trained cell: it copied that cell's numbers
    other = next(i for i in plan.cells if i not in (member, rep))
    _edit(db, "UPDATE run_isomorphic SET isomorphic_to = ?", str(space.arch(other)))
    msg = _import_refuses(db, tmp_path, capsys)
    assert msg.startswith(f"{db} is damaged: run ") and "table run_isomorphic" in msg


# a schema-2 file from before runs and the side tables had checksums (epochs had)
_SCHEMA_2_EARLY = (
    _SCHEMA_1.replace(
        "accuracy REAL, time_s REAL,\n", "accuracy REAL, time_s REAL, checksum TEXT,\n"
    )
    .replace("'1'", "'2'")
    .replace("2.0, 10.0, 3.0);", "2.0, 10.0, 3.0, NULL);")
    .replace("2.1, 9.0, 0.5);", "2.1, 9.0, 0.5, NULL);")
    + """
CREATE TABLE run_isomorphic (space TEXT NOT NULL, arch TEXT NOT NULL, dataset TEXT NOT NULL,
    schedule INTEGER NOT NULL, seed INTEGER NOT NULL, isomorphic_to TEXT NOT NULL,
    PRIMARY KEY (space, arch, dataset, schedule, seed));
INSERT INTO runs VALUES ('nb201', '{b}', 2528, 'cifar10', 1, 777, 'isomorphic', NULL, NULL, NULL,
    'h', 0);
INSERT INTO run_isomorphic VALUES ('nb201', '{b}', 'cifar10', 1, 777, '{a}');
"""
)


def test_a_schema_2_file_without_run_checksums_is_read_and_migrated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rdb, "_LEGACY_WARNED", set())
    path = tmp_path / "early.sqlite"
    b = str(NB201.resolve(ISO))
    con = sqlite3.connect(path)
    con.executescript(_SCHEMA_2_EARLY.format(a=ARCH, b=b))
    for split, values in (("train", (2.0, 10.0, 3.0)), ("ori-test", (2.1, 9.0, 0.5))):
        row = ("nb201", ARCH, 11472, "cifar10", split, 1, 777, 1, *values)
        con.execute(
            "UPDATE epochs SET checksum = ? WHERE split = ?", (rdb.row_checksum(row), split)
        )
    con.commit()
    con.close()
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        table = read_results_db(path)
        ResultsDB(path, readonly=True).runs_frame()
    assert table.meta["isomorphic_to"][0]["index"] == ISO  # the stand-in's record, read
    legacy = [r.getMessage() for r in caplog.records if "have no checksum" in r.getMessage()]
    assert len(legacy) == 1 and legacy[0].startswith(f"{path}: 2 rows of table runs have no ")
    assert path.read_bytes() == before
    # a writer adds the columns (the file stays schema 2); its rows carry checksums
    third = ("nb201", str(NB201.resolve(8649)), "cifar10", 1, 777)  # 11472's class too
    db = ResultsDB(path)
    db.mark_run(third, 8649, "isomorphic", isomorphic_to=ARCH)
    db.close()
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM meta").fetchone() == ("2",)
    sums = dict(con.execute("SELECT arch, checksum FROM run_isomorphic").fetchall())
    con.close()
    assert sums[b] is None and len(sums[third[1]]) == 16
    assert len(read_results_db(path).meta["isomorphic_to"]) == 2
    _edit(path, "UPDATE run_isomorphic SET isomorphic_to = ? WHERE arch = ?", b, third[1])
    with pytest.raises(ResultsDBError, match=r"table run_isomorphic that does not match"):
        read_results_db(path)
