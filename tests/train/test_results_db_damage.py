"""Results database damage an audit reproduced, each refused in one line rather than served:
a key byte flipped in a row whose index keeps the intact key (the checksum was checked on the
index's copy, the table's served), a checksum removed from a file every row of which was written
with one (or the column renamed by one flipped schema byte), damaged pages and schema text
(SQLite's tracebacks), and a finished run missing one split at its final epoch."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from train_helpers import SCHEMA_1_TABLES

import nb201_flat
from nb201_flat.cli import main
from nb201_flat.errors import ResultsDBError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.train import results_db as rdb
from nb201_flat.train.results_db import ResultsDB, load_curves, load_results

INDEX = 11472
ARCH = NB201.arch(INDEX).to_str()
KEYS = {seed: ("nb201", ARCH, "cifar10", 2, seed) for seed in (777, 888)}
FIX = "`nb201-flat train ... --retrain-damaged`"  # the import command spells the fix's flag
COPY_AGAIN = "is a truncated or damaged SQLite file"


def _db(path: Path) -> Path:
    """Two finished two-epoch runs of one cell (seeds 777, 888), the test split evaluated at
    every epoch; the file checkpointed, without a -wal file (its bytes are all its pages)."""
    db = ResultsDB(path)
    for seed, key in KEYS.items():
        for epoch in (1, 2):
            rows = {"train": (1.0, 50.0 + epoch, 10.0 * epoch), "ori-test": (1.1, seed / 20, 0.5)}
            db.write_epoch(key, INDEX, epoch, rows)
        db.mark_run(key, INDEX, "done", params_mb=1.0, flops_m=10.0, train_time_s=20.0)
    db.close()
    _checkpoint(path)
    return path


def _checkpoint(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()


def _execute(path: Path, *statements: str) -> None:
    """A hand edit, committed: no checksum rewritten."""
    con = sqlite3.connect(path)
    with con:
        for sql in statements:
            assert con.execute(sql).rowcount != 0, sql
    con.close()


def _flip(path: Path, at: int, bits: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= bits
    path.write_bytes(bytes(data))


def _offset(path: Path, pattern: bytes) -> int:
    """Where ``pattern`` is in the file, found once."""
    data = path.read_bytes()
    assert data.count(pattern) == 1, pattern
    return data.index(pattern)


def _import_refused(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``nb201-flat import``'s one-line refusal of ``path`` (exit 2, no table written)."""
    capsys.readouterr()
    out = tmp_path / "t.nb201"
    assert main(["import", str(path), "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists()
    return err


def _test_mean(path: Path) -> float:
    table = read_results_db(path)
    return float(table.vector("cifar10", "ori-test", 2, seed_policy="mean")[INDEX])


# -- 1. the rows checked are the rows served ----------------------------------------------------


def _flip_key_in_row(path: Path) -> None:
    """Flip the last byte of the arch of seed 888's final test row in the table only: its
    index entry keeps the intact key (the audit's byte 14203, '|' -> 'l')."""
    # the row's record: arch, arch_index (2 bytes), dataset, split, schedule, seed, epoch;
    # the index's has no arch_index, so this matches the table's row alone
    row = b"cifar10ori-test\x02\x03\x78\x02"
    at = _offset(path, ARCH.encode() + INDEX.to_bytes(2, "big") + row)
    _flip(path, at + len(ARCH) - 1, 0x10)


def test_a_key_flipped_in_a_row_but_not_its_index_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _db(tmp_path / "r.sqlite")
    assert _test_mean(path) == pytest.approx((777 + 888) / 40)
    _flip_key_in_row(path)
    # was imported, exit 0: the checksum check read the index's key (intact), the served
    # frame the table's (damaged), whose join dropped the row: 38.85, seed 777's alone
    err = _import_refused(path, tmp_path, capsys)
    assert COPY_AGAIN in err and "missing from index sqlite_autoindex_epochs_1" in err
    # read without the import's integrity check, the rows served are the rows checked: the
    # damaged key fails its checksum (a stray row, its run named by the checksum)
    for read in (load_results, load_curves):
        with pytest.raises(ResultsDBError, match=r"rowid \d+\), and has no row in table runs"):
            read(path, space="nb201")


# -- 2. a missing checksum where every row was written with one ----------------------------------


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "earlier-version-file"])
def test_a_checksum_removed_from_a_row_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: bool
) -> None:
    path = _db(tmp_path / "r.sqlite")
    if not recorded:  # a file an earlier version wrote: its meta holds the version alone
        con = sqlite3.connect(path)
        with con:
            con.execute("DELETE FROM meta WHERE key != 'schema_version'")
        con.close()
    _execute(
        path,
        "UPDATE epochs SET accuracy = 99, checksum = NULL WHERE seed = 888 AND epoch = 2 "
        "AND split = 'ori-test'",
    )
    # was imported with a "read unverified" warning, its mean 42.2 -> 70.0
    err = _import_refused(path, tmp_path, capsys)
    assert f"run {KEYS[888]} has no checksum, yet every row of its table past rowid 0 " in err
    assert err.rstrip().endswith(f"train it again with {FIX} (which first deletes that run's "
                                 "rows from every table of the database)")  # fmt: skip
    with pytest.raises(ResultsDBError, match="has no checksum"):
        load_results(path)
    # training refuses it as well, and retrain_damaged deletes it
    db = ResultsDB(path)
    with pytest.raises(ResultsDBError, match="has no checksum"):
        db.finished_runs()
    assert "has no checksum" in str(db.discard_damaged(KEYS[888]))
    db.close()


def test_legacy_rows_stay_readable_but_a_later_row_needs_its_checksum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rdb, "_LEGACY_WARNED", set())
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        SCHEMA_1_TABLES
        + f"INSERT INTO epochs VALUES ('nb201', '{ARCH}', {INDEX}, 'cifar10', 'train', 1, 777, "
        "1, 2.0, 10.0, 3.0);\n"
        f"INSERT INTO runs VALUES ('nb201', '{ARCH}', {INDEX}, 'cifar10', 1, 777, 'done', 0.1, "
        "1.0, 3.0, 'h', 0);"
    )
    con.close()
    # a writer migrates it (schema 2), recording the rows there as legacy, then adds a run
    other = ("nb201", NB201.arch(7).to_str(), "cifar10", 1, 777)
    db = ResultsDB(path)
    db.write_epoch(other, 7, 1, {"train": (1.0, 20.0, 4.0)})
    db.mark_run(other, 7, "done")
    db.close()
    with caplog.at_level(logging.WARNING):
        assert sorted(load_results(path).query("metric == 'accuracy'")["value"]) == [10.0, 20.0]
    assert any("1 epoch rows have no checksum" in r.getMessage() for r in caplog.records)
    # the run written since is no legacy row: its checksum removed, it is refused
    _execute(path, "UPDATE epochs SET accuracy = 99, checksum = NULL WHERE arch_index = 7")
    with pytest.raises(ResultsDBError, match=r"has no checksum, yet every row of its table past "
                                             r"rowid 1 is written with one"):  # fmt: skip
        read_results_db(path)
    # what the migration recorded: each table's rows then (0: created with the column), and
    # itself as the version that wrote the file's schema
    con = sqlite3.connect(path)
    recorded = dict(con.execute("SELECT key, value FROM meta WHERE key != 'schema_version'"))
    con.close()
    assert recorded == {rdb._LEGACY_KEY + t: "0" for t in rdb._CHECKED} | {
        rdb._LEGACY_KEY + "epochs": "1",
        rdb._LEGACY_KEY + "runs": "1",
        "nb201_flat_version": nb201_flat.__version__,
    }


@pytest.mark.parametrize("table", ["epochs", "runs", "run_forms"])
def test_a_checksum_column_renamed_by_a_flipped_schema_byte_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    path = _db(tmp_path / "r.sqlite")
    data = path.read_bytes()
    create = data.index(f"CREATE TABLE {table} (".encode())
    at = data.index(b"checksum TEXT", create)
    _flip(path, at + 1, 0x01)  # 'checksum' -> 'ciecksum': the audit's flip
    # was read with every row of the table unverified (one warning)
    err = _import_refused(path, tmp_path, capsys)
    assert f"(its table {table} has no checksum column, which its schema 2 gives it" in err
    with pytest.raises(ResultsDBError, match=COPY_AGAIN):  # the read of that table
        load_curves(path) if table == "epochs" else ResultsDB(path, readonly=True).runs_frame()
    # a writer does not add the column anew (every row would read as legacy)
    with pytest.raises(ResultsDBError, match="has no checksum column"):
        ResultsDB(path).status(KEYS[777])


# -- 3. damaged pages and schema text: one line, not SQLite's traceback -------------------------


def _root_page_type(path: Path, table: str) -> int:
    """The offset of the page-type byte of ``table``'s root page."""
    con = sqlite3.connect(path)
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (size,) = con.execute("PRAGMA page_size").fetchone()
    con.close()
    return (root - 1) * size + (100 if root == 1 else 0)


def _bad_page(path: Path) -> None:
    _flip(path, _root_page_type(path, "epochs"), 0xFF)  # no b-tree page type


def _bad_utf8_in_row(path: Path) -> None:
    row = b"cifar10ori-test\x02\x03\x78\x02"
    at = _offset(path, ARCH.encode() + INDEX.to_bytes(2, "big") + row)
    _flip(path, at + len(ARCH) - 1, 0x80)  # '|' -> 0xfc: no UTF-8


def _bad_column_name(path: Path) -> None:
    _flip(path, _offset(path, b"flops_m REAL") + 6, 0x03)  # flops_m -> flops_n


def _bad_schema_text(path: Path) -> None:
    _flip(path, _offset(path, b"CREATE TABLE run_isomorphic") + 2, 0x80)  # CREATE -> CR\xc5ATE


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_bad_page, "database disk image is malformed"),  # was sqlite3.DatabaseError
        (_bad_utf8_in_row, "Could not decode to UTF-8"),  # was sqlite3.OperationalError
        (_bad_column_name, "no such column"),  # was sqlite3.OperationalError
        (_bad_schema_text, "can't decode"),  # was UnicodeDecodeError
    ],
)
def test_damaged_pages_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, said: str
) -> None:
    path = _db(tmp_path / "r.sqlite")
    damage(path)  # type: ignore[operator]
    err = _import_refused(path, tmp_path, capsys)
    assert f"{path} {COPY_AGAIN} (" in err and err.rstrip().endswith(
        "copy the results database again from where it was trained (with its -wal file, if "
        "it has one)"
    )
    # read without the import's integrity check: SQLite's own error, in the same line
    for read in (load_results, load_curves):
        with pytest.raises(ResultsDBError, match=COPY_AGAIN) as info:
            read(path)
        assert said in str(info.value)


# -- 4. a finished run holds every split at its final epoch -------------------------------------


def test_a_finished_run_missing_a_split_at_its_final_epoch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _db(tmp_path / "r.sqlite")
    # a split evaluated every other epoch (eval_every) is there at the final one: imported
    third = ("nb201", ARCH, "cifar10", 3, 777)
    db = ResultsDB(path)
    for epoch in (1, 2, 3):
        rows = {"train": (1.0, 50.0, 10.0 * epoch)}
        rows |= {"ori-test": (1.1, 40.0, 0.5)} if epoch != 2 else {}
        db.write_epoch(third, INDEX, epoch, rows)
    db.mark_run(third, INDEX, "done")
    db.close()
    assert _test_mean(path) == pytest.approx((777 + 888) / 40)
    _execute(path, "DELETE FROM epochs WHERE seed = 888 AND epoch = 2 AND split = 'ori-test'")
    # was imported, exit 0: the mean of seed 777 alone
    err = _import_refused(path, tmp_path, capsys)
    why = (
        f"run {KEYS[888]} is marked done but has no row for split 'ori-test' at its final "
        f"epoch 2, which every finished cifar10 run holds (training evaluates every split of "
        f"its dataset there; a row deleted); train it again with {FIX}"
    )
    assert why in err
    # retrain_damaged's deletion takes it (the run is trained again whole): seed 777 stays
    db = ResultsDB(path)
    assert "no row for split 'ori-test'" in str(db.discard_damaged(KEYS[888]))
    db.close()
    assert _test_mean(path) == pytest.approx(777 / 20)
