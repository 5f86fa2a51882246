"""read_results_db called from Python: the file, the space and the flag are checked first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nb201_flat.errors import ArgumentError, FormatError, TableFileError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201


def _edit_as_a_writer(path: Path, *statements: str) -> None:
    """Run ``statements`` on the database and rewrite every row's checksum (of every table),
    as a writer with a bug would store those values: the checks past the checksum see them."""
    import sqlite3

    from nb201_flat.train.results_db import _CHECKED, row_checksum

    con = sqlite3.connect(path)
    con.create_function("row_checksum", -1, lambda table, *row: row_checksum(row, table))
    for sql in statements:
        con.execute(sql)
    for table, columns in _CHECKED.items():
        con.execute(f"UPDATE {table} SET checksum = row_checksum('{table}', {columns})")
    con.commit()
    con.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "results.sqlite"
    db = ResultsDB(path)
    key = ("nb201", NB201.arch(11472).to_str(), "cifar10", 2, 777)
    for epoch in (1, 2):  # a finished run holds train and its dataset's splits
        db.write_epoch(key, 11472, epoch, {"train": (0.3, 95.0, 10.0 * epoch), "ori-test": (0.4, 90.0, 1.0)})  # fmt: skip
    db.mark_run(key, 11472, "done")
    db.close()
    return path


def test_a_missing_file_is_named_and_not_created(tmp_path: Path) -> None:
    # sqlite created an empty file there and called it "not a results database"
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(TableFileError, match="no such file"):
        read_results_db(missing)
    assert not missing.exists()


def test_a_space_the_database_lacks_is_named(db_path: Path) -> None:
    # it read "has columns but no rows", with no word of the space
    with pytest.raises(FormatError, match=r"no results of space 'nb201@C4N1'; it holds nb201"):
        read_results_db(db_path, space="nb201@C4N1")
    assert read_results_db(db_path, space="nb201").keys() == read_results_db(db_path).keys()


def test_fill_isomorphic_is_a_flag(db_path: Path) -> None:
    with pytest.raises(ArgumentError, match="fill_isomorphic must be True or False"):
        read_results_db(db_path, fill_isomorphic="no")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # SQLite keeps any value in a REAL or INTEGER column: it crashed with a traceback...
        ("loss='abc'", r"has loss 'abc' in table epochs \(text, not real"),
        ("accuracy='12.5%'", r"has accuracy '12.5%' in table epochs \(text"),
        ("time_s=x'00ff'", r"has time_s b'\\x00\\xff' in table epochs \(blob"),
        # ...or the run vanished, or its index was truncated to 11472
        ("seed='s777'", r"has seed 's777' in table epochs \(text, not integer\)"),
        ("arch_index=11472.5", r"has arch_index 11472.5 in table epochs \(real, not integer\)"),
        # its key changed: a stray row (no command trains its run), named by its rowid
        (
            "arch='garbage'",
            r"run \('nb201', 'garbage', .*\(table epochs, rowid \d+\), and has no row in table runs: a stray row",
        ),
    ],
)
def test_a_damaged_cell_is_refused_naming_file_run_and_column(
    db_path: Path, change: str, named: str
) -> None:
    import sqlite3

    from nb201_flat.errors import ResultsDBError

    con = sqlite3.connect(db_path)
    con.execute(f"UPDATE epochs SET {change} WHERE epoch = 2")
    con.commit()
    con.close()
    with pytest.raises(
        ResultsDBError,
        match=rf"results.sqlite is damaged: .*{named}.*; train (it again )?with retrain_damaged=True",
    ):
        read_results_db(db_path)


def test_a_damaged_runs_key_is_refused(db_path: Path) -> None:
    # runs_frame's seeds feed the isomorphic stand-ins (Int64): 's777' there crashed
    import sqlite3

    from nb201_flat.errors import ResultsDBError

    con = sqlite3.connect(db_path)
    con.execute("UPDATE runs SET seed='s777'")
    con.commit()
    con.close()
    with pytest.raises(ResultsDBError, match=r"has seed 's777' in table runs \(text"):
        read_results_db(db_path)


@pytest.mark.parametrize("accuracy", [250.0, -5.0])
def test_an_accuracy_outside_0_to_100_is_refused(db_path: Path, accuracy: float) -> None:
    # a REAL accuracy no training writes: it imported, and query printed it
    _edit_as_a_writer(db_path, f"UPDATE epochs SET accuracy={accuracy} WHERE epoch = 2")
    with pytest.raises(
        FormatError,
        match=rf"results.sqlite \(nb201\): architecture 11472, .*: {accuracy} is not an",
    ):
        read_results_db(db_path)


@pytest.fixture
def seeds_path(tmp_path: Path) -> Path:
    """Cell 7 trained with seeds 777, 1 and 2, cell 8 with 777 only (final accuracy 80 + the
    seed's last digit)."""
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "seeds.sqlite"
    db = ResultsDB(path)
    for index, seed in [(7, 777), (7, 1), (7, 2), (8, 777)]:
        key = ("nb201", NB201.arch(index).to_str(), "cifar10", 2, seed)
        train = {"train": (0.3, 95.0, 10.0)}
        db.write_epoch(key, index, 1, {**train, "ori-test": (0.4, 90.0 + seed % 10, 1.0)})
        db.write_epoch(key, index, 2, {**train, "ori-test": (0.4, 80.0 + seed % 10, 1.0)})
        db.mark_run(key, index, "done")
    db.close()
    return path


def test_per_seed_values_are_keyed_by_the_training_seed_id(seeds_path: Path) -> None:
    # seeds were numbered by rank (1, 2, 777 -> 0, 1, 2): seed_policy=2 served seed 777's
    # value, while the seed trained as 2 sat at "seed 1"
    from nb201_flat.errors import MissingValueError, UnknownKeyError

    table = read_results_db(seeds_path)
    key = table.keys()[0]
    assert table.seeds(key) == [1, 2, 777]
    assert "seed_ids" not in table.meta  # the id -> position map of tables imported before
    assert table.value(7, "cifar10", "ori-test", 2, seed_policy=2) == 82.0  # 80 + 2 % 10
    assert table.value(7, "cifar10", "ori-test", 2, seed_policy=1) == 81.0
    assert table.value(7, "cifar10", "ori-test", 2, seed_policy=777) == 87.0
    assert table.value(8, "cifar10", "ori-test", 2, seed_policy=777) == 87.0  # its only seed
    with pytest.raises(MissingValueError, match=r"stored seeds with a value for it: 777"):
        table.value(8, "cifar10", "ori-test", 2, seed_policy=1)
    with pytest.raises(
        UnknownKeyError, match=r"seed 0 is not stored .*; stored seeds: \[1, 2, 777\]; use"
    ):
        table.value(7, "cifar10", "ori-test", 2, seed_policy=0)  # no position either


def test_a_seed_keeps_its_values_when_more_seeds_are_trained(tmp_path: Path) -> None:
    # by rank, seed 888 was "seed 0" until 777 was trained beside it, then "seed 1"
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "grow.sqlite"
    reads = []
    for seed, acc in [(888, 88.0), (777, 77.0)]:
        db = ResultsDB(path)
        key = ("nb201", NB201.arch(7).to_str(), "cifar10", 2, seed)
        db.write_epoch(key, 7, 2, {"train": (0.3, 95.0, 10.0), "ori-test": (0.4, acc, 1.0)})
        db.mark_run(key, 7, "done")
        db.close()
        reads.append(read_results_db(path).value(7, "cifar10", "ori-test", 2, seed_policy=888))
    assert reads == [88.0, 88.0]


def test_an_unmeasured_seed_counts_the_architectures_that_seed_measures(
    seeds_path: Path,
) -> None:
    # it counted under the mean policy: 2 archs "are" measured at seed 1, though only cell 7 is
    from nb201_flat.errors import MissingValueError

    table = read_results_db(seeds_path)
    with pytest.raises(MissingValueError, match=r"\(seed policy 1; 1 of 15625 architectures are\)"):
        table.value(8, "cifar10", "ori-test", 2, seed_policy=1)
    with pytest.raises(MissingValueError, match=r"\(seed policy 'mean'; 2 of 15625"):
        table.value(9, "cifar10", "ori-test", 2)
    with pytest.raises(MissingValueError, match=r"\(seed policy 'random'; 2 of 15625"):
        table.value(9, "cifar10", "ori-test", 2, seed_policy="random", rng=0)


def test_an_old_constant_runs_zero_time_is_imported_as_missing(tmp_path: Path) -> None:
    # databases written before record_constant_output stored NULL hold time_s=0 for a
    # disconnected cell: imported as 0 s it was free to a time-budgeted search
    import math

    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "old.sqlite"
    db = ResultsDB(path)
    trained = ("nb201", NB201.arch(11472).to_str(), "cifar10", 2, 777)
    db.write_epoch(trained, 11472, 2, {"train": (0.4, 90.0, 50.0), "ori-test": (0.5, 88.0, 1.0)})
    db.mark_run(trained, 11472, "done", train_time_s=50.0)
    disconnected = 10  # node 3 takes only "none" edges
    assert not NB201.connected[disconnected]
    rows = {s: (math.nan, 10.0, 0.0) for s in ("train", "ori-test")}  # the old writer
    key = ("nb201", NB201.arch(disconnected).to_str(), "cifar10", 2, 777)
    db.mark_run(key, disconnected, "constant", train_time_s=0.0, final_rows=rows)
    db.close()
    table = read_results_db(path)
    at_chance = {"dataset": "cifar10", "epochs": 2, "seed": 777, "index": disconnected}
    assert table.meta["constant_output"] == [at_chance]
    time_s = table.vector("cifar10", "train", 2, "time_s")
    assert math.isnan(time_s[disconnected])
    assert time_s[11472] == 50.0
    assert table.vector("cifar10", "ori-test", 2)[disconnected] == 10.0  # chance stays


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # R1 #8: each imported as a NaN (or a mean over the other seeds) with exit 0
        (
            "UPDATE epochs SET epoch = 3 WHERE epoch = 2",
            r"has an epoch 3 outside its schedule's 1\.\.2",
        ),
        (
            "DELETE FROM epochs WHERE epoch = 2",
            r"is marked done but has no row for its final epoch 2",
        ),
        ("UPDATE runs SET status = 'weird'", r"has status 'weird', which training never writes"),
        (
            "UPDATE epochs SET accuracy = NULL WHERE epoch = 2",
            r"is finished but has no accuracy on split 'ori-test' at its final epoch 2",
        ),
    ],
)
def test_a_finished_run_that_cannot_be_served_is_damaged(
    db_path: Path, change: str, named: str
) -> None:
    from nb201_flat.errors import ResultsDBError

    _edit_as_a_writer(db_path, change)
    run = r"run \('nb201', '[^']+', 'cifar10', 2, 777\)"
    with pytest.raises(
        ResultsDBError,
        match=rf"results.sqlite is damaged: {run} {named}[^;]*; train it again with retrain_damaged=True",
    ):
        read_results_db(db_path)


def test_a_database_whose_only_run_is_unfinished_says_finish_it(tmp_path: Path) -> None:
    # R2 #7: it said "tidy table '...' has columns but no rows"
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "results.sqlite"
    db = ResultsDB(path)
    key = ("nb201", NB201.arch(11472).to_str(), "cifar10", 2, 777)
    db.write_epoch(key, 11472, 1, {"ori-test": (0.4, 90.0, 1.0)})
    db.close()
    with pytest.raises(FormatError, match=r"no finished runs of nb201 \(1 started but not fin"):
        read_results_db(path)


@pytest.mark.parametrize(("column", "value"), [("time_s", -50.0), ("loss", -1.0)])
def test_a_negative_time_or_loss_is_refused(db_path: Path, column: str, value: float) -> None:
    # R1 #7: a negative training time imported (a time budget summed it); time_s is imported
    # for the train split (the schedule's training time)
    _edit_as_a_writer(
        db_path, f"UPDATE epochs SET {column}={value} WHERE epoch = 2 AND split='train'"
    )
    with pytest.raises(
        FormatError,
        match=rf"architecture 11472, cifar10/train@2ep:{column} seed 777: {value} is "
        rf"negative, which a loss, a time or a cost cannot be; the database is damaged: "
        r"train it again with retrain_damaged=True \(which first deletes that run's rows from "
        r"every table of the database\)$",
    ):
        read_results_db(db_path)


def test_a_truncated_database_is_named_truncated(db_path: Path, tmp_path: Path) -> None:
    # R1: it said "is not a results database ...; pass the SQLite file written by train"
    from nb201_flat.errors import ResultsDBError

    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(db_path.read_bytes()[:100])
    with pytest.raises(ResultsDBError, match=r"cut.sqlite is a truncated or damaged SQLite file"):
        read_results_db(cut)
    other = tmp_path / "other.sqlite"
    other.write_bytes(b"index,arch\n" * 20)
    with pytest.raises(ResultsDBError, match=r"other.sqlite is not a results database"):
        read_results_db(other)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # R1: these said "tidy table '...': row 2, column 'arch' ...; fix the frame"
        ("UPDATE {t} SET arch = '|foo~0|'", r"has arch '\|foo~0\|', which is not a cell string"),
        ("UPDATE {t} SET arch_index = 7", r"has arch_index 7, but its arch is cell 11472"),
        ("UPDATE {t} SET seed = -5", r"has seed -5, which training never writes"),
    ],
)
def test_a_damaged_run_is_named_not_a_frames_row(db_path: Path, change: str, named: str) -> None:
    _edit_as_a_writer(db_path, *(change.format(t=table) for table in ("epochs", "runs")))
    from nb201_flat.errors import ResultsDBError

    with pytest.raises((FormatError, ResultsDBError)) as info:
        read_results_db(db_path)
    msg = str(info.value)
    assert "results.sqlite is damaged: run ('nb201', " in msg and "frame" not in msg, msg
    assert re.search(named, msg) and msg.endswith("every table of the database)"), msg


def test_a_live_database_records_the_sha256_of_the_bytes_it_read(db_path: Path) -> None:
    # a training writing into the database keeps its newest pages in the -wal file: the sha256
    # of the main file alone stayed the same while the numbers read changed
    import hashlib
    import sqlite3

    from nb201_flat.importers import import_table
    from nb201_flat.storage import SOURCE_SHA256
    from nb201_flat.train.results_db import row_checksum

    writer = sqlite3.connect(db_path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # the change stays in the -wal file
    writer.create_function("row_checksum", 11, lambda *row: row_checksum(row))
    columns = (
        "space, arch, arch_index, dataset, split, schedule, seed, epoch, loss, accuracy, time_s"
    )
    try:
        before = import_table(db_path)
        main_file = hashlib.sha256(db_path.read_bytes()).hexdigest()
        # a change as a writer makes it: the numbers with their checksum
        writer.execute("UPDATE epochs SET accuracy = 77.0 WHERE epoch = 2")
        writer.execute(f"UPDATE epochs SET checksum = row_checksum({columns}) WHERE epoch = 2")
        assert Path(f"{db_path}-wal").stat().st_size > 0
        assert hashlib.sha256(db_path.read_bytes()).hexdigest() == main_file
        after = import_table(db_path)
    finally:
        writer.close()
    key = before.keys()[0]
    assert (before.vector_for(key)[11472], after.vector_for(key)[11472]) == (90.0, 77.0)
    assert before.meta[SOURCE_SHA256] != after.meta[SOURCE_SHA256]
    assert after.meta["file"] == str(db_path)
    # a quiet database reads the same bytes each time: the same sha256
    assert import_table(db_path).meta[SOURCE_SHA256] == read_results_db(db_path).meta[SOURCE_SHA256]


def test_a_refusal_names_the_database_passed_not_the_copy_read(db_path: Path) -> None:
    import sqlite3

    from nb201_flat.errors import ResultsDBError

    con = sqlite3.connect(db_path)
    con.execute("UPDATE epochs SET loss='abc' WHERE epoch = 2")
    con.commit()
    con.close()
    with pytest.raises(ResultsDBError) as info:
        read_results_db(db_path)
    assert str(db_path) in str(info.value) and "nb201-import-" not in str(info.value)
