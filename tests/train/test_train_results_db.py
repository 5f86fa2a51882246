"""Results database: many writer processes, tidy output, bad files."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from train_helpers import SCHEMA_1_TABLES, write_many

from nb201_flat.errors import FormatError
from nb201_flat.train.results_db import (
    TIDY_COLUMNS,
    ResultsDB,
    ResultsDBError,
    load_curves,
    load_results,
)

N_WORKERS, N_EPOCHS = 4, 25


def test_concurrent_writer_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    ctx = mp.get_context("spawn")
    with ctx.Pool(N_WORKERS) as pool:
        assert sorted(
            pool.map(write_many, [(path, w, N_EPOCHS) for w in range(N_WORKERS)])
        ) == list(range(N_WORKERS))
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    n_rows = con.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
    con.close()
    assert n_rows == (N_WORKERS + 1) * N_EPOCHS * 2  # nothing lost, the shared run not doubled
    df = load_results(path)
    assert list(df.columns) == TIDY_COLUMNS
    assert sorted(df["index"].unique()) == list(range(N_WORKERS))  # "shared" never finished
    train_acc = df[(df["split"] == "train") & (df["metric"] == "accuracy")]
    assert (train_acc["value"] == float(N_EPOCHS)).all()
    assert (df["epochs"] == N_EPOCHS).all()
    curves = load_curves(path)
    assert set(curves["epoch"]) == set(range(1, N_EPOCHS + 1))
    assert "shared" in set(curves["arch"])
    runs = ResultsDB(path).runs_frame()
    assert set(runs["status"]) == {"done", "running"}


def test_pickled_db_reopens_in_new_process(tmp_path: Path) -> None:
    import pickle

    db = ResultsDB(tmp_path / "r.sqlite")
    db.mark_run(("s", "a", "d", 1, 0), 0, "failed")
    clone = pickle.loads(pickle.dumps(db))
    assert clone.status(("s", "a", "d", 1, 0)) == "failed"
    assert clone.status(("s", "b", "d", 1, 0)) is None


def test_missing_or_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ResultsDBError, match="does not exist"):
        load_results(tmp_path / "none.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ResultsDBError, match="bad.sqlite"):
        load_results(bad)


def test_several_spaces_need_a_choice(tmp_path: Path) -> None:
    db = ResultsDB(tmp_path / "r.sqlite")
    for space in ("nb201", "nb201@C4N1"):
        key = (space, "a", "cifar10", 1, 1)
        db.write_epoch(key, 3, 1, {"train": (1.0, 2.0, 3.0)})
        db.mark_run(key, 3, "done")
    with pytest.raises(FormatError, match="several spaces"):
        load_results(db.path)
    df = load_results(db.path, space="nb201")
    assert len(df) == 3 and isinstance(df, pd.DataFrame)


# the layout of files written before the runs' forms were recorded
_BEFORE_FORMS = (
    SCHEMA_1_TABLES
    + """
INSERT INTO epochs VALUES ('nb201', '{a}', 0, 'cifar10', 'train', 1, 777, 1, 2.0, 10.0, 3.0);
INSERT INTO epochs VALUES ('nb201', '{a}', 0, 'cifar10', 'ori-test', 1, 777, 1, 2.1, 9.0, 0.5);
INSERT INTO runs VALUES ('nb201', '{a}', 0, 'cifar10', 1, 777, 'done', 0.1, 1.0, 3.0, 'h', 0.0);
"""
)
# how a version before run checksums marks a run: runs' twelve columns, no checksum
_EARLIER_MARK = (
    "INSERT OR REPLACE INTO runs (space, arch, arch_index, dataset, schedule, seed, status, "
    "params_mb, flops_m, train_time_s, host, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?)"
)


def test_runs_forms_beside_files_and_writers_of_earlier_versions(tmp_path: Path) -> None:
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.space import NB201

    a, b, c = (str(NB201.arch(i)) for i in range(3))
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(_BEFORE_FORMS.format(a=a))
    con.close()
    before = path.read_bytes()
    # read as it is: nothing written, the run's form unknown
    assert load_results(path)["value"].tolist() == [9.0, 2.1, 10.0, 2.0, 3.0]
    assert ResultsDB(path, readonly=True).runs_frame()["trained_as"].tolist() == [None]
    assert read_results_db(path).meta["trained_as"] == {"None": 1}
    assert path.read_bytes() == before
    # a writer of this version records its run's form in a table of its own...
    db = ResultsDB(path)
    # a run is marked done after its final epoch is written (an import refuses one without)
    rows = {"train": (2.0, 10.0, 3.0), "ori-test": (2.1, 9.0, 0.5)}  # its dataset's splits
    db.write_epoch(("nb201", b, "cifar10", 1, 777), 1, 1, rows)
    db.write_epoch(("nb201", c, "cifar10", 1, 777), 2, 1, rows)
    db.mark_run(("nb201", b, "cifar10", 1, 777), 1, "done", trained_as="grouped:3")
    db.close()
    # ...and a run marked without a checksum since (a writer before run checksums, open on
    # the file since before it was migrated: the file is schema 2 now, for the checksums, so
    # an earlier version opening it refuses it by its version) cannot be told from a row
    # whose checksum was removed: refused, naming the run, as damage retrain_damaged clears;
    # run a's row, older than the migration, is read as it is
    con = sqlite3.connect(path)
    row = ("nb201", c, 2, "cifar10", 1, 777, "done", 0.1, 1.0, 3.0, "h", 0.0)
    con.execute(_EARLIER_MARK, row)
    con.commit()
    assert con.execute("SELECT value FROM meta").fetchone() == ("2",)
    con.close()
    unchecked = r"has no checksum, yet every row of its table past rowid 1 is written with one"
    with pytest.raises(ResultsDBError, match=unchecked):
        ResultsDB(path, readonly=True).runs_frame()
    db = ResultsDB(path)
    assert "has no checksum" in str(db.discard_damaged(("nb201", c, "cifar10", 1, 777)))
    db.close()
    frame = ResultsDB(path, readonly=True).runs_frame()
    assert dict(zip(frame["arch"], frame["trained_as"], strict=True)) == {
        a: None,
        b: "grouped:3",
    }
    assert read_results_db(path).meta["trained_as"] == {"None": 1, "grouped:3": 1}


def test_a_digest_whose_run_was_deleted_describes_no_run(tmp_path: Path) -> None:
    # the damaged-run fix says to remove the run: its digest left in run_data must not make
    # the database look trained on other data (train's data check reads data_digests)
    from types import SimpleNamespace

    db = ResultsDB(tmp_path / "r.sqlite")
    kept, gone = ("s", "a", "d", 1, 0), ("s", "b", "d", 1, 0)
    for key, digest in ((kept, "aaa"), (gone, "bbb")):
        data = SimpleNamespace(digest=digest, official=False)
        final = {"train": (2.3, 10.0, 1.5)}  # a done run holds its final epoch
        db.mark_run(key, 0, "done", data=data, final_rows=final)  # type: ignore[arg-type]
    assert db.data_digests() == {kept: "aaa", gone: "bbb"}
    db.close()
    con = sqlite3.connect(tmp_path / "r.sqlite")
    with con:
        con.execute("DELETE FROM runs WHERE arch = 'b'")
    con.close()
    db = ResultsDB(tmp_path / "r.sqlite")
    assert db.data_digests() == {kept: "aaa"}
    db.close()
