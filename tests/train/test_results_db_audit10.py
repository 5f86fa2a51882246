"""A results database's damage that training and an import met in silence or with a
traceback (audit 10): a schema record's name turned blob hid a side table (integrity_check
passes); a text cell turned blob met json's TypeError; a finished run missing final-epoch rows
was skipped (or refused with the wrong fix). And two campaigns on other files of one dataset,
started together on one database, each passed the check made before any run.

Its review: a done run missing a split its other epochs did not hold (evaluated at the last
epoch only, deleted at every epoch, a 1-epoch run) was still skipped and imported as NaN; two
campaigns of other space keys on other files of one dataset both finished (the write's check
was per space, the command's per dataset); and training's skip ran the import's checks over
every epoch row, twice a command (0.10 s became 0.43 s on 600,000 rows)."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from train_helpers import (
    REPAIR_ARCH,
    REPAIR_DIGEST,
    REPAIR_KEY,
    REPAIR_OTHER,
    SCHEMA_1_TABLES,
    Crash,
    copy_trained,
    crash_after,
    edit_committed,
    train_two_cells,
    two_cells_argv,
    two_done_runs,
    write_tiny_cifar10,
)

from nb201_flat.cli import main
from nb201_flat.errors import DataMismatchError, ResultsDBError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.train import results_db as rdb
from nb201_flat.train.results_db import ResultsDB

ARCH, KEY, OTHER, DIGEST = REPAIR_ARCH, REPAIR_KEY, REPAIR_OTHER, REPAIR_DIGEST
DAMAGED_FILE = "is a truncated or damaged SQLite file"


def _flip_name_type(path: Path, table: str) -> None:
    """One flipped bit of ``table``'s record in ``sqlite_schema``: its ``name`` cell's serial
    type, text of n bytes (2n + 13), becomes a blob of the same n bytes (2n + 12). SQLite still
    finds the table, and its integrity check passes."""
    raw = bytearray(path.read_bytes())
    body = b"table" + table.encode() * 2
    at = raw.find(body)
    assert at > 0 and raw.find(body, at + 1) < 0
    text = 2 * len(table) + 13
    header = raw.rfind(bytes([0x17, text, text]), at - 12, at)  # type 'table', name, tbl_name
    assert header > 0
    raw[header + 1] ^= 1
    path.write_bytes(bytes(raw))
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert isinstance(con.execute(f"SELECT name FROM sqlite_master WHERE tbl_name = '{table}'").fetchone()[0], bytes)  # fmt: skip
    con.close()


# -- 1. a schema record's name turned blob hid a side table -----------------------------------


@pytest.mark.parametrize("table", ["run_forms", "run_devices", "run_data", "run_isomorphic"])
def test_a_schema_name_turned_blob_is_a_damaged_file(tmp_path: Path, table: str) -> None:
    # the side table read as missing: its records dropped, and the import exited 0 (a
    # database holding two data digests for a dataset imported, stand-ins went uncopied)
    path = two_done_runs(tmp_path / "r.sqlite")
    _flip_name_type(path, table)
    said = f"{DAMAGED_FILE} (its schema's name b'{table}' is blob, not text)"
    with pytest.raises(ResultsDBError, match=rf"^{path}.*{DAMAGED_FILE}") as info:
        read_results_db(path)
    assert said in str(info.value)
    for readonly in (True, False):  # training's reads, and its writer
        db = ResultsDB(path, readonly=readonly)
        with pytest.raises(ResultsDBError, match=r"its schema's name b'run_"):
            db.finished_runs()
        db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite"]


def test_a_side_table_its_meta_records_is_missing_is_damage(tmp_path: Path) -> None:
    # written by this version (meta records each table's last legacy rowid), then the table
    # dropped: the runs' data digests were imported as unrecorded
    path = two_done_runs(tmp_path / "r.sqlite")
    old = Path(shutil.copy(path, tmp_path / "old.sqlite"))
    con = sqlite3.connect(path)
    con.executescript("DROP TABLE run_data")
    con.close()
    with pytest.raises(ResultsDBError, match="its table run_data is missing, which its meta"):
        read_results_db(path)
    with pytest.raises(ResultsDBError, match="its table run_data is missing"):
        ResultsDB(path).finished_runs()  # a writer would have created it again, empty
    # a file of an earlier version (no such record) without the table reads as before
    con = sqlite3.connect(old)
    con.executescript("DROP TABLE run_data; DELETE FROM meta WHERE key LIKE 'legacy_upto:%'")
    con.close()
    assert read_results_db(old).meta["data"]["cifar10"]["digest"] is None


# -- 2. two campaigns of one dataset on other files, on one database -------------------------


def test_a_second_writer_of_other_data_is_refused_in_its_transaction(tmp_path: Path) -> None:
    # each campaign checked the file before any run (it was empty); both wrote, and no
    # import or train of the dataset worked again, nothing telling the two apart
    from nb201_flat.train.executors import _NOT_RETRIED

    path = tmp_path / "r.sqlite"
    first, second = ResultsDB(path, named="db_path"), ResultsDB(path, named="db_path")
    mine = SimpleNamespace(digest=DIGEST, official=True, short=DIGEST[:12])
    other = SimpleNamespace(digest="0ther" * 12, official=False, short="0ther0ther0t")
    rows = {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, 50.0, 0.2)}
    first.write_epoch(KEY, 11472, 1, rows, data=mine)  # type: ignore[arg-type]
    with pytest.raises(DataMismatchError) as info:
        second.write_epoch(OTHER, 8, 1, rows, data=other)  # type: ignore[arg-type]
    said = str(info.value)
    assert f"holds cifar10 runs trained on other data (other files or another split; digest {DIGEST[:12]}, of its nb201 runs; these files and split: 0ther0ther0t)" in said  # fmt: skip
    assert said.endswith("whatever the space: train each set of files and split into a db_path of its own")  # fmt: skip
    assert isinstance(info.value, _NOT_RETRIED)
    second.write_epoch(OTHER, 8, 1, rows, data=mine)  # type: ignore[arg-type]  # its own data
    first.mark_run(KEY, 11472, "done", data=mine, final_rows=rows)  # type: ignore[arg-type]
    second.mark_run(OTHER, 8, "done", data=mine, final_rows=rows)  # type: ignore[arg-type]
    first.close()
    second.close()
    assert set(ResultsDB(path).data_digests().values()) == {DIGEST}
    assert read_results_db(path).meta["data"]["cifar10"]["runs"] == 2


def test_a_writer_of_another_space_and_other_data_is_refused_in_its_transaction(
    tmp_path: Path,
) -> None:
    # train --C 2 and train --C 4 started together on other files of cifar10: the write's
    # check looked at its own space only, both finished, and the command refused the file
    # for good (its rule: one set of files per dataset, whatever the space)
    path = tmp_path / "r.sqlite"
    c2, c4 = ("nb201@C2N1#faithful", *KEY[1:]), ("nb201@C4N1#faithful", *OTHER[1:])
    first, second = ResultsDB(path, named="db_path"), ResultsDB(path, named="db_path")
    mine = SimpleNamespace(digest=DIGEST, official=False, short=DIGEST[:12])
    other = SimpleNamespace(digest="0ther" * 12, official=False, short="0ther0ther0t")
    rows = {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, 50.0, 0.2)}
    first.write_epoch(c2, 11472, 1, rows, data=mine)  # type: ignore[arg-type]
    with pytest.raises(DataMismatchError) as info:
        second.write_epoch(c4, 8, 1, rows, data=other)  # type: ignore[arg-type]
    said = str(info.value)
    assert f"digest {DIGEST[:12]}, of its nb201@C2N1#faithful runs; these files and split: 0ther0ther0t)" in said  # fmt: skip
    assert "it holds one set of files per dataset, whatever the space" in said
    first.mark_run(c2, 11472, "done", data=mine)  # type: ignore[arg-type]
    first.close()
    second.close()
    # nothing of the refused epoch was written: one space, one digest, importable
    assert ResultsDB(path).finished_runs() == ({c2}, {c2: DIGEST})
    assert read_results_db(path).meta["data"]["cifar10"]["runs"] == 1


def test_a_campaign_of_another_space_on_other_files_fails_at_its_first_write(
    tmp_path: Path,
) -> None:
    # the review's two commands, as their jobs: the second one's check before any run read
    # the file before the first wrote (both "done", exit 0, two digests)
    pytest.importorskip("torch")
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.trainer import train

    db = tmp_path / "r.sqlite"
    mine, other = write_tiny_cifar10(tmp_path / "a"), write_tiny_cifar10(tmp_path / "b", seed=5)
    jobs = [
        make_jobs([11472], dataset="cifar10", epochs=1, seeds=[777], data_root=root, db_path=db,
                  c=c, n=1, device="cpu", threads=1)[0]
        for root, c in ((mine, 2), (other, 4))
    ]  # fmt: skip
    assert train(jobs[0]).status == "done"
    with pytest.raises(DataMismatchError, match="whatever the space"):
        train(jobs[1])
    table = read_results_db(db)
    assert table.meta["space_key"] == "nb201@C2N1#faithful"
    assert table.meta["data"]["cifar10"]["runs"] == 1


# -- 3. a text cell turned blob ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column"),
    [("runs", "host"), ("run_data", "data_digest"), ("run_devices", "trained_on")],
)
def test_a_text_cell_turned_blob_is_a_damaged_run(tmp_path: Path, table: str, column: str) -> None:
    # one flipped bit of a record header: json's TypeError (exit 1) in import, train and
    # train --retrain-damaged, so nothing could repair it
    path = two_done_runs(tmp_path / "r.sqlite")
    edit_committed(
        path, f"UPDATE {table} SET {column} = CAST({column} AS BLOB) WHERE arch = ?", ARCH
    )
    with pytest.raises(ResultsDBError) as info:
        read_results_db(path)
    said = str(info.value)
    assert f"is damaged: run {KEY} has {column} b'" in said and f"(blob, not text) (table {table}, rowid" in said  # fmt: skip
    assert said.endswith("train it again with retrain_damaged=True (which first deletes that run's rows from every table of the database)")  # fmt: skip
    db = ResultsDB(path)
    with pytest.raises(ResultsDBError, match=rf"{column} b'.*retrain_damaged=True"):
        db.finished_runs()
    damaged: rdb.Damaged = {}
    assert db.finished_runs([KEY], damaged=damaged) == ({OTHER}, {OTHER: DIGEST})
    assert list(damaged) == [KEY] and "(blob, not text)" in damaged[KEY]
    assert "(blob, not text)" in str(db.discard_damaged(KEY))
    assert db.finished_runs() == ({OTHER}, {OTHER: DIGEST})
    db.close()


def test_a_stray_row_whose_key_turned_blob_is_put_back(tmp_path: Path) -> None:
    # its key a blob, no run's: a stray row; its checksum (of the text) names its run
    path = two_done_runs(tmp_path / "r.sqlite")
    edit_committed(path, "UPDATE run_forms SET arch = CAST(arch AS BLOB) WHERE arch = ?", ARCH)
    with pytest.raises(ResultsDBError, match=r"has arch b'.*a stray row.*under run"):
        read_results_db(path)
    db = ResultsDB(path)
    (said,) = db.clear_stray_rows()
    assert said.endswith(f"put back under run {KEY}, as its checksum says")
    db.close()
    assert read_results_db(path).meta["trained_as"] == {"single": 2}


# -- 6. a finished run missing final-epoch rows ----------------------------------------------


@pytest.mark.parametrize(
    ("gone", "why"),
    [
        ("epoch = 2", "is marked done but has no row for its final epoch 2"),
        (
            "epoch = 2 AND split = 'ori-test'",
            "has no row for split 'ori-test' at its final epoch 2",
        ),
    ],
)
def test_a_done_run_missing_final_rows_is_damaged_for_training(
    tmp_path: Path, gone: str, why: str
) -> None:
    # skipped as finished with that split silently absent, or refused saying "train it
    # first, or ask is_done(key)" (it was trained; is_done is Python)
    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    data = SimpleNamespace(digest=DIGEST, official=True)
    mine, other = (*KEY[:3], 2, KEY[4]), (*OTHER[:3], 2, OTHER[4])
    for key, index in ((mine, 11472), (other, 8)):
        for epoch in (1, 2):
            db.write_epoch(key, index, epoch, {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, 50.0, 0.2)})  # fmt: skip
        db.mark_run(key, index, "done", data=data)  # type: ignore[arg-type]
    edit_committed(path, f"DELETE FROM epochs WHERE arch = ? AND {gone}", ARCH)
    reads = [db.finished_runs, db.done_keys, db.data_digests]
    if "split" not in gone:  # "holds no final epoch ... train it first, or ask is_done(key)"
        reads.append(lambda: db.final_metrics(mine))
    for read in reads:
        with pytest.raises(ResultsDBError, match=rf"run \({KEY[0]!r}.* {why}.*retrain_damaged=True"):  # fmt: skip
            read()
    damaged: rdb.Damaged = {}
    assert db.finished_runs([mine], damaged=damaged) == ({other}, {other: DIGEST})
    assert why in damaged[mine] and why in str(db.discard_damaged(mine))
    db.close()


def _finished(path: Path, schedule: int, every: int) -> tuple[tuple[object, ...], ...]:
    """KEY and OTHER over ``schedule`` epochs, done as training leaves them: train at every
    epoch, ori-test every ``every`` epochs and at the last; their keys."""
    db = ResultsDB(path)
    data = SimpleNamespace(digest=DIGEST, official=True)
    keys = (*KEY[:3], schedule, KEY[4]), (*OTHER[:3], schedule, OTHER[4])
    for key, index in zip(keys, (11472, 8), strict=True):
        for epoch in range(1, schedule + 1):
            rows = {"train": (2.3, 12.5, 1.5 * epoch)}
            if epoch % every == 0 or epoch == schedule:
                rows["ori-test"] = (2.3, 50.0, 0.2)
            db.write_epoch(key, index, epoch, rows)
        db.mark_run(key, index, "done", data=data)  # type: ignore[arg-type]
    db.close()
    return keys


@pytest.mark.parametrize(
    ("schedule", "every", "gone"),
    [
        (3, 3, "epoch = 3"),  # evaluated at the last epoch only (eval_every): the review's
        (2, 1, "1"),  # deleted at every epoch
        (1, 1, "1"),  # a 1-epoch run (notebook 04's)
    ],
)
def test_a_done_run_missing_a_split_of_its_dataset_is_damaged(
    tmp_path: Path, schedule: int, every: int, gone: str
) -> None:
    # its other epochs did not hold the split, so nothing said it should be there: train
    # said "skipped" and the import served it as NaN, both with exit 0
    path = tmp_path / "r.sqlite"
    mine, other = _finished(path, schedule, every)
    edit_committed(
        path, f"DELETE FROM epochs WHERE arch = ? AND split = 'ori-test' AND {gone}", ARCH
    )
    why = (
        f"is marked done but has no row for split 'ori-test' at its final epoch {schedule}, "
        "which every finished cifar10 run holds"
    )
    db = ResultsDB(path)
    for read in (db.finished_runs, db.done_keys, db.data_digests, lambda: read_results_db(path)):
        with pytest.raises(ResultsDBError, match=rf"run \({KEY[0]!r}.* {why}.*retrain_damaged=True"):  # fmt: skip
            read()
    damaged: rdb.Damaged = {}
    assert db.finished_runs([mine], damaged=damaged) == ({other}, {other: DIGEST})
    assert why in damaged[mine] and why in str(db.discard_damaged(mine))
    db.close()
    assert read_results_db(path).meta["data"]["cifar10"]["runs"] == 1


def test_a_constant_output_record_missing_a_split_is_damaged(tmp_path: Path) -> None:
    # record_constant_output writes every split of the dataset at chance: one without a
    # split was imported as NaN there
    path = tmp_path / "r.sqlite"
    _finished(path, 1, 1)
    zero = NB201.from_ops(["none"] * 6)
    key = ("nb201", str(zero), "cifar10", 1, 777)
    db = ResultsDB(path)
    db.mark_run(key, zero.index, "constant", final_rows={"train": (math.nan, 10.0, math.nan)})
    db.close()
    with pytest.raises(ResultsDBError, match=r"is marked constant but has no row for split 'ori-test' at its final epoch 1"):  # fmt: skip
        read_results_db(path)


def test_every_split_a_known_dataset_evaluates_is_needed_and_no_more(tmp_path: Path) -> None:
    # a run of each dataset with its splits at the final epoch only passes; one of them
    # missing does not; a dataset name the project does not know keeps the rule of its
    # other epochs (a split they hold)
    from nb201_flat.train.data import DATASETS

    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    keys = {}
    for i, (name, info) in enumerate(DATASETS.items()):
        keys[name] = ("nb201", ARCH, name, 2, 777 + i)
        db.write_epoch(keys[name], 11472, 1, {"train": (2.3, 12.5, 1.5)})
        db.write_epoch(keys[name], 11472, 2, {s: (2.3, 12.5, 3.0) for s in ("train", *info.splits)})  # fmt: skip
        db.mark_run(keys[name], 11472, "done")
    toy = ("nb201", ARCH, "toy", 2, 777)
    db.write_epoch(toy, 11472, 1, {"train": (2.3, 12.5, 1.5), "valid": (2.3, 12.5, 0.2)})
    db.write_epoch(toy, 11472, 2, {"train": (2.3, 12.5, 3.0), "valid": (2.3, 12.5, 0.2)})
    db.mark_run(toy, 11472, "done")
    assert db.finished_runs()[0] == {*keys.values(), toy}
    gone = {"cifar100": "x-test", "ImageNet16-120": "train", "toy": "valid"}
    for name, split in gone.items():
        edit_committed(
            path, "DELETE FROM epochs WHERE dataset = ? AND split = ? AND epoch = 2", name, split
        )
    runs = [keys.get(name, toy) for name in gone]
    damaged: rdb.Damaged = {}
    assert db.finished_runs(runs, damaged=damaged)[0] == {keys["cifar10-valid"], keys["cifar10"]}
    for run, (name, split) in zip(runs, gone.items(), strict=True):
        holds = "its other epochs hold" if name == "toy" else f"every finished {name} run holds"
        assert f"has no row for split {split!r} at its final epoch 2, which {holds}" in damaged[run]
    db.close()


def test_a_schema_1_run_holding_its_splits_is_read_and_one_without_is_damaged(
    tmp_path: Path,
) -> None:
    # every version wrote train and the dataset's splits at the final epoch: a file of the
    # first schema reads as it is, the rule applied to its rows as to any
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_1_TABLES)
    for split, acc in (("train", 12.5), ("ori-test", 50.0)):
        con.execute(
            "INSERT INTO epochs VALUES ('nb201', ?, 11472, 'cifar10', ?, 1, 777, 1, 2.3, ?, 1.0)",
            (ARCH, split, acc),
        )
    con.execute(
        "INSERT INTO runs VALUES ('nb201', ?, 11472, 'cifar10', 1, 777, 'done', 0.1, 1.0, 1.0, "
        "'h', 0)",
        (ARCH,),
    )
    con.commit()
    con.close()
    assert ResultsDB(path, readonly=True).finished_runs() == ({KEY}, {})
    assert read_results_db(path).vector("cifar10", "ori-test", 1)[11472] == 50.0
    edit_committed(path, "DELETE FROM epochs WHERE split = 'ori-test'")
    with pytest.raises(ResultsDBError, match=r"has no row for split 'ori-test' at its final"):
        ResultsDB(path, readonly=True).finished_runs()


def test_the_skip_reads_one_pass_over_final_epochs_not_one_per_check(tmp_path: Path) -> None:
    # done_keys, data_digests and finished_runs (twice a train command) ran each check of
    # an import over every epoch row: on 600,000 rows 0.10 s became 0.43 s. SQLite's virtual
    # machine steps, counted, against one pass over the final epochs of the same file
    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    with db._write() as conn:
        for index in range(30):
            key = ("nb201", str(NB201.arch(index)), "cifar10", 100, 777)
            for epoch in range(1, 101):
                rows = {"train": (2.0, 50.0, 1.0), "ori-test": (2.0, 40.0, 0.1)}
                rdb._insert_epochs(conn, key, index, epoch, rows)
            rdb._put_row(conn, "runs", (*key[:2], index, *key[2:], "done", *[None] * 3, "h", 0))
    db.close()
    db = ResultsDB(path, readonly=True)
    conn = db._connect()
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 100)
    conn.execute("SELECT count(*), sum(accuracy) FROM epochs WHERE epoch = schedule").fetchone()
    one_pass, steps[0] = steps[0], 0
    assert db.finished_runs()[0] and steps[0] < 3 * one_pass, (steps[0], one_pass)
    db.close()


# -- the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("torch")
    return train_two_cells(tmp_path_factory.mktemp("audit10"))


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("UPDATE runs SET host = CAST(host AS BLOB) WHERE arch = ?", "has host b'"),
        ("DELETE FROM epochs WHERE arch = ? AND epoch = 2", "has no row for its final epoch 2"),
        ("DELETE FROM epochs WHERE arch = ? AND epoch = 2 AND split = 'ori-test'",
         "has no row for split 'ori-test' at its final epoch 2"),
    ],
)  # fmt: skip
def test_train_refuses_such_a_run_naming_the_flag_that_repairs_it(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: str,
    said: str,
) -> None:
    data, db = copy_trained(trained, tmp_path)
    edit_committed(db, change, ARCH)
    capsys.readouterr()
    assert main(two_cells_argv(data, db)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err, err
    assert err.rstrip().endswith(
        "train it again with --retrain-damaged (which first deletes that run's rows from every "
        "table of the database)"
    ), err
    assert main(["import", str(db), "--out", str(tmp_path / "T")]) == 2
    assert said in capsys.readouterr().err
    assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0
    status = {r["arch"]: r["status"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert status == {ARCH: "done", str(NB201.resolve(8)): "skipped"}
    assert main(["import", str(db), "--out", str(tmp_path / "T")]) == 0


def test_every_way_training_finishes_a_run_holds_its_splits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # what each of the project's writers leaves at the final epoch passes the rule: a split
    # evaluated at the last epoch only (--eval-every), a cell recorded at chance, the seeds of
    # a group, a cell recorded as its isomorphic representative's, a run resumed
    pytest.importorskip("torch")
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.trainer import train

    data, db = write_tiny_cifar10(tmp_path / "data"), tmp_path / "r.sqlite"
    zero = NB201.from_ops(["none"] * 6).index
    common = ["--dataset", "cifar10", "--epochs", "2", "--data-root", str(data), "--db", str(db),
              "--device", "cpu", "--executor", "inline", "--C", "2", "--N", "1", "--threads",
              "1", "--json"]  # fmt: skip
    campaigns = [
        ["11472", str(zero), "--eval-every", "2"],
        ["8", "--seeds", "1", "2", "--group-seeds", "2"],
        ["4", "1817", "--unique-isomorphism"],  # 1817: isomorphic to cell 4
    ]
    for cells in campaigns:
        assert main(["train", *cells, *common]) == 0
    (job,) = make_jobs([5], dataset="cifar10", epochs=2, seeds=[777], data_root=data,
                       db_path=db, c=2, n=1, device="cpu", threads=1)  # fmt: skip
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))
    assert train(job).status == "done"
    capsys.readouterr()
    for cells in [*campaigns, ["5"]]:  # each again: its runs skipped as finished
        assert main(["train", *cells, *common]) == 0
        runs = json.loads(capsys.readouterr().out)["runs"]
        assert {r["status"] for r in runs} == {"skipped"}, runs
    table = read_results_db(db)
    assert table.meta["isomorphic_to"] == [
        {"dataset": "cifar10", "epochs": 2, "seed": 777, "index": 1817, "copied_from": 4}
    ]
    acc = table.vector("cifar10", "ori-test", 2, seed_policy=777)
    assert all(0 <= acc[i] <= 100 for i in (11472, zero, 4, 1817, 5)) and acc[zero] == 10.0


def test_a_damaged_run_of_a_dataset_train_cannot_train_names_a_fix_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # another tool's dataset: '--retrain-damaged' was named, and train refuses the dataset
    key = ("nb201", ARCH, "svhn", 2, 777)
    db = ResultsDB(tmp_path / "u.sqlite")
    db.write_epoch(key, 11472, 1, {"train": (1.0, 10.0, 0.1)})
    db.write_epoch(key, 11472, 2, {"train": (1.0, 12.0, 0.1), "test": (2.0, 11.0, 0.01)})
    db.mark_run(key, 11472, "done", params_mb=0.1, flops_m=1.0, train_time_s=0.2)
    db.close()
    edit_committed(tmp_path / "u.sqlite", "DELETE FROM epochs WHERE split = 'train' AND epoch = 2")
    assert main(["import", str(tmp_path / "u.sqlite"), "--out", str(tmp_path / "T")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--retrain-damaged" not in err
    assert "this project trains no 'svhn' runs" in err and "discard_damaged(key)" in err
    # the fix as named: the run's rows deleted, none of it left
    db = ResultsDB(tmp_path / "u.sqlite")
    assert db.discard_damaged(key) is not None and db.done_keys() == set()
    db.close()
