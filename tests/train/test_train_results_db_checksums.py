"""Results database row checksums: a flipped bit in a stored number is refused, naming the
run; schema-1 files (no checksums) are read with one warning and migrated by a writer."""

from __future__ import annotations

import logging
import math
import sqlite3
import struct
from pathlib import Path

import pytest

from nb201_flat.cli import main
from nb201_flat.errors import ResultsDBError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.train import results_db as rdb
from nb201_flat.train.results_db import DAMAGED_FIX, ResultsDB, load_curves, load_results

ARCH = str(NB201.resolve(11472))
KEY = ("nb201", ARCH, "cifar10", 1, 777)
RUN = f"run {KEY}"


def _db(path: Path) -> Path:
    db = ResultsDB(path)
    db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.34375, 1.5), "ori-test": (2.3, 56.78125, 0.2)})
    db.mark_run(KEY, 11472, "done")
    db.close()
    return path


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
        assert msg == f"{path} is damaged: {RUN} {why} written with them; {DAMAGED_FIX}"
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


_SCHEMA_1 = """
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
INSERT INTO epochs VALUES ('nb201', '{a}', 11472, 'cifar10', 'train', 1, 777, 1, 2.0, 10.0, 3.0);
INSERT INTO runs VALUES ('nb201', '{a}', 11472, 'cifar10', 1, 777, 'done', 0.1, 1.0, 3.0, 'h', 0);
"""


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
        assert load_results(path)["value"].tolist() == [10.0, 2.0, 3.0]
        load_curves(path)
        read_results_db(path)
    legacy = [r for r in caplog.records if "have no checksum" in r.getMessage()]
    assert len(legacy) == 1 and "1 epoch rows" in legacy[0].getMessage()  # once per file
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
    con.close()
    assert sums[11472] is None and len(sums[7]) == 16
    assert len(load_curves(path)) == 6
    ResultsDB(path).close()  # opening again migrates nothing more
    # the old row stays readable unverified; a new row is checked
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE epochs SET loss = 1.5 WHERE arch_index = 7")
    con.close()
    with pytest.raises(ResultsDBError, match=r"run \('nb201', '[^']+', 'cifar10', 1, 777\) has"):
        load_curves(path)


def test_a_file_of_a_later_schema_is_refused(tmp_path: Path) -> None:
    path = _db(tmp_path / "r.sqlite")
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(Exception, match=r"has results schema '3', this version reads '1' and '2'"):
        load_results(path)


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
