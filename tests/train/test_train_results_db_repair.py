"""A damaged run in a results database: training refuses it, naming ``retrain_damaged``
(``--retrain-damaged``), and with it deletes that run's rows from every table, in one
transaction, and trains it again; damage in a finished run's side tables is seen by
training as by the import; an old row with text in a REAL column is a damaged run, not a
bare ValueError; an import reads (and checks) only the runs of the space it imports."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from train_helpers import (
    REPAIR_ARCH,
    REPAIR_DIGEST,
    REPAIR_KEY,
    REPAIR_OTHER,
    TOY_OPS,
    TWO_CELLS,
    as_legacy,
    copy_trained,
    edit_committed,
    one_isomorphic_class,
    train_two_cells,
    two_cells_argv,
    two_done_runs,
    write_tiny_cifar10,
)

from nb201_flat.cli import main
from nb201_flat.errors import ResultsDBError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.train import results_db as rdb
from nb201_flat.train.results_db import ResultsDB

ARCH, KEY, OTHER, DIGEST = REPAIR_ARCH, REPAIR_KEY, REPAIR_OTHER, REPAIR_DIGEST


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every checksummed table, checksum included, sorted."""
    con = sqlite3.connect(path)
    out = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in rdb._CHECKED}
    con.close()
    return out


def _of_run(rows: dict[str, list[tuple[object, ...]]], arch: str, keep: bool) -> dict[str, list]:
    """The rows of the run(s) of ``arch`` (``keep``) or of every other run (column 1: arch)."""
    return {t: [r for r in rs if (r[1] == arch) is keep] for t, rs in rows.items()}


# -- the library ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "change"),
    [
        ("run_forms", f"UPDATE run_forms SET trained_as = 'grouped:2' WHERE arch = '{ARCH}'"),
        ("run_devices", f"UPDATE run_devices SET trained_on = 'gpu' WHERE arch = '{ARCH}'"),
    ],
)
def test_a_damaged_side_row_of_a_finished_run_is_seen_by_trainings_reads(
    tmp_path: Path, table: str, change: str
) -> None:
    path = two_done_runs(tmp_path / "r.sqlite")
    edit_committed(path, change)
    db = ResultsDB(path)
    why = re.escape(f"run ('nb201', '{ARCH}'") + f".* has a row in table {table} that does not"
    # before: the run counted as done and was skipped, while the import refused it
    for read in (lambda: db.is_done(KEY), db.done_keys, db.data_digests):
        with pytest.raises(ResultsDBError, match=why):
            read()
    assert not db.is_done(("nb201", ARCH, "cifar10", 1, 778))  # another run reads as it is
    db.close()


def test_the_refusal_names_the_parameter_that_retrains_the_run(tmp_path: Path) -> None:
    path = two_done_runs(tmp_path / "r.sqlite")
    edit_committed(path, f"UPDATE runs SET train_time_s = 9.0 WHERE arch = '{ARCH}'")
    with pytest.raises(ResultsDBError) as info:
        ResultsDB(path).done_keys()
    assert str(info.value).endswith(
        "; train it again with retrain_damaged=True (which first deletes that run's rows from "
        "every table of the database)"
    )
    assert info.value.spelled(lambda p: "--retrain-damaged" if p.name == "retrain_damaged" else None).count("--retrain-damaged") == 1  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        f"UPDATE run_forms SET trained_as = 'grouped:2' WHERE arch = '{ARCH}'",
        f"UPDATE runs SET status = 'running' WHERE arch = '{ARCH}'",
        f"UPDATE epochs SET accuracy = 50.0 WHERE arch = '{ARCH}' AND split = 'ori-test'",
        # an old row (no checksum) holding what no writer stores
        f"UPDATE runs SET params_mb = 'abc', checksum = NULL WHERE arch = '{ARCH}'",
        # what an import refuses by its rows, not its checksums: done without its final epoch
        f"DELETE FROM epochs WHERE arch = '{ARCH}'",
    ],
)
def test_discard_damaged_deletes_that_runs_rows_from_every_table_and_nothing_else(
    tmp_path: Path, change: str
) -> None:
    path = two_done_runs(tmp_path / "r.sqlite")
    db = ResultsDB(path)
    before = _rows(path)
    assert db.discard_damaged(KEY) is None and db.discard_damaged(OTHER) is None
    assert _rows(path) == before  # intact runs: nothing deleted
    edit_committed(path, change)
    damaged = _rows(path)
    assert db.discard_damaged(OTHER) is None
    assert db.discard_damaged(KEY) is not None
    after = _rows(path)
    assert all(rows == [] for rows in _of_run(after, ARCH, keep=True).values())
    assert _of_run(after, ARCH, keep=False) == _of_run(damaged, ARCH, keep=False)
    assert db.done_keys() == {OTHER}  # readable again: KEY is a run to train
    db.close()


def test_a_campaign_deletes_only_its_own_damaged_runs(tmp_path: Path) -> None:
    # finished_runs: what the command and the executors read before the runs
    path = two_done_runs(tmp_path / "r.sqlite")
    edit_committed(path, f"UPDATE run_data SET data_digest = 'x' WHERE arch = '{ARCH}'")
    db = ResultsDB(path)
    with pytest.raises(ResultsDBError, match="table run_data"):
        db.finished_runs()
    # KEY is the campaign's to train again: not done, its digest left out
    assert db.finished_runs([KEY]) == ({OTHER}, {OTHER: DIGEST})
    # a campaign of OTHER only: KEY is not its to delete, and a damaged digest says nothing
    with pytest.raises(ResultsDBError, match=r"is damaged: run \('nb201', '\|nor_conv_3x3"):
        db.finished_runs([OTHER])
    db.close()


def test_an_old_row_with_text_in_a_real_column_is_a_damaged_run(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.5, 1.5)})
    db.close()
    edit_committed(path, "UPDATE runs SET params_mb = 'abc', checksum = NULL")
    as_legacy(path, "runs")  # an old row: a NULL checksum past them is damage of its own
    db = ResultsDB(path)
    why = (
        r"run \('nb201', .*\) has params_mb 'abc' in table runs \(text, not real\) "
        r"\(table runs, rowid 1\); train it"
    )
    with pytest.raises(ResultsDBError, match=why):  # was a bare ValueError (float('abc'))
        db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.5, 1.5)})
    with pytest.raises(ResultsDBError, match=why):
        db.done_keys()
    assert "params_mb 'abc'" in str(db.discard_damaged(KEY))
    db.write_epoch(KEY, 11472, 1, {"train": (2.3, 12.5, 1.5)})  # trained again
    assert db.status(KEY) == "running"
    db.close()


def test_an_import_reads_only_the_runs_of_its_space(tmp_path: Path) -> None:
    path = two_done_runs(tmp_path / "r.sqlite")
    db = ResultsDB(path)
    fast = ("nb201#fast", *KEY[1:])
    db.write_epoch(fast, 11472, 1, {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, 40.0, 0.2)})
    db.mark_run(fast, 11472, "done", trained_as="single")
    db.close()
    edit_committed(path, "UPDATE run_forms SET trained_as = 'x' WHERE space = 'nb201#fast'")
    table = read_results_db(path, space="nb201")  # was refused for the other space's run
    assert table.vector("cifar10", "ori-test", 1, seed_policy=777)[11472] == 56.78125
    with pytest.raises(ResultsDBError, match=r"run \('nb201#fast'.* table run_forms"):
        read_results_db(path, space="nb201#fast")


# -- training ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("torch")
    return train_two_cells(tmp_path_factory.mktemp("repair"))


def _numbers(path: Path, arch: str) -> list[tuple[object, ...]]:
    """The run's epoch rows without their timings: what training the run again reproduces."""
    con = sqlite3.connect(path)
    rows = con.execute(
        "SELECT split, epoch, loss, accuracy FROM epochs WHERE arch = ? ORDER BY split, epoch",
        (arch,),
    ).fetchall()
    con.close()
    return rows


@pytest.mark.parametrize(
    "change",
    [
        # a finished run's side row: skipped in silence before, while the import refused it
        f"UPDATE run_forms SET trained_as = 'grouped:2' WHERE arch = '{ARCH}'",
        f"UPDATE run_devices SET trained_on = 'gpu' WHERE arch = '{ARCH}'",
        f"UPDATE runs SET train_time_s = 1e9 WHERE arch = '{ARCH}'",
        # the final numbers a skipped run reports
        f"UPDATE epochs SET accuracy = 50.0 WHERE arch = '{ARCH}' AND epoch = 2",
        # an old row with text in a REAL column of a run not finished: a bare ValueError before
        f"UPDATE runs SET status = 'running', params_mb = 'abc', checksum = NULL "
        f"WHERE arch = '{ARCH}'",
    ],
)
def test_train_refuses_a_damaged_run_then_retrains_it_with_the_flag(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    data, db = copy_trained(trained, tmp_path)
    capsys.readouterr()
    other = str(NB201.resolve(8))
    numbers = _numbers(db, ARCH)
    assert [r[1] for r in numbers] == [1, 2, 1, 2]  # ori-test and train, both epochs
    edit_committed(db, change)
    if "'abc'" in change:  # no checkpoint: training would start, and write_epoch read the row
        ckpt = db.parent / "r.sqlite.ckpt" / "nb201@C2N1-11472-cifar10-e2-s1-faithful"
        shutil.rmtree(ckpt)
    kept = _of_run(_rows(db), ARCH, keep=False)
    assert main(two_cells_argv(data, db)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "is damaged: run ('nb201@C2N1" in err and ARCH in err
    assert err.rstrip().endswith(
        "train it again with --retrain-damaged (which first deletes that run's rows from every "
        "table of the database)"
    ), err
    assert _of_run(_rows(db), ARCH, keep=False) == kept  # a refusal writes nothing

    assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0
    out = json.loads(capsys.readouterr().out)
    status = {r["arch"]: r["status"] for r in out["runs"]}
    assert status == {ARCH: "done", other: "skipped"}
    # trained again from its first epoch (its checkpoints went with its rows): the same
    # numbers for both epochs, every row checksummed anew, the other run untouched
    assert _numbers(db, ARCH) == numbers
    assert _of_run(_rows(db), ARCH, keep=False) == kept
    con = sqlite3.connect(db)
    for table, columns in rdb._CHECKED.items():
        for *row, recorded in con.execute(f"SELECT {columns}, checksum FROM {table}"):
            assert recorded == rdb.row_checksum(row, table), (table, row)
    con.close()
    assert len(read_results_db(db).vector("cifar10", "ori-test", 2, seed_policy=1)) >= 2
    assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0  # nothing damaged: all skipped
    out = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in out["runs"]} == {"skipped"}


def test_the_python_job_takes_retrain_damaged(
    trained: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from nb201_flat.space import Space
    from nb201_flat.train.jobs import make_jobs, space_key
    from nb201_flat.train.trainer import train

    data, db = copy_trained(trained, tmp_path)
    assert space_key(Space(NB201.ops, 4), c=2, n=1).startswith("nb201@C2N1")
    (job,) = make_jobs([11472], dataset="cifar10", epochs=2, seeds=[1], data_root=data,
                       db_path=db, device="cpu", c=2, n=1, threads=1)  # fmt: skip
    assert not job.retrain_damaged  # the default refuses
    numbers = _numbers(db, ARCH)
    edit_committed(db, f"UPDATE run_devices SET trained_on = 'gpu' WHERE arch = '{ARCH}'")
    with pytest.raises(ResultsDBError, match="table run_devices .*retrain_damaged=True"):
        train(job)
    with caplog.at_level(logging.WARNING):
        result = train(replace(job, retrain_damaged=True))
    assert result.status == "done" and _numbers(db, ARCH) == numbers
    assert any("trained again (retrain_damaged)" in r.getMessage() for r in caplog.records)
    assert train(replace(job, retrain_damaged=True)).status == "skipped"


def test_a_run_trained_again_is_not_held_to_its_old_checkpoints_thread_count(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # its checkpoints go with its rows: the resume check of the thread count is not its
    data, db = copy_trained(trained, tmp_path)
    capsys.readouterr()
    edit_committed(db, f"UPDATE runs SET train_time_s = 1e9 WHERE arch = '{ARCH}'")
    argv = [a if a != "1" or i != two_cells_argv(data, db).index("--threads") + 1 else "2"
            for i, a in enumerate(two_cells_argv(data, db, "--retrain-damaged"))]  # fmt: skip
    assert argv[argv.index("--threads") + 1] == "2"
    assert main(argv) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert {r["arch"]: r["status"] for r in out["runs"]}[ARCH] == "done"


def test_a_damaged_record_of_a_cell_answered_without_training_is_recorded_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --unique-isomorphism records a member isomorphic to its representative: a damaged
    # record is this command's too, written anew (its rows deleted first) with the flag
    pytest.importorskip("torch")

    ops = list(TOY_OPS)
    space, plan, centre, member, rep = one_isomorphic_class()
    data = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "r.sqlite"
    argv = ["train", "--neighbours-of", str(centre), "--radius", "1", "--unique-isomorphism",
            "--ops", *ops, "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
            "--data-root", str(data), "--db", str(db), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    before = read_results_db(db).meta["isomorphic_to"]
    assert [r["index"] for r in before] == [member]
    other = next(i for i in plan.cells if i not in (member, rep))
    edit_committed(db, "UPDATE run_isomorphic SET isomorphic_to = ?", str(space.arch(other)))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(space.arch(member)) in err and "table run_isomorphic" in err
    assert "--retrain-damaged" in err
    assert main([*argv, "--retrain-damaged"]) == 0, capsys.readouterr().err
    assert read_results_db(db).meta["isomorphic_to"] == before


# -- damage before the final epoch ------------------------------------------------------------


def _two_epochs(path: Path) -> tuple[object, ...]:
    """KEY2 (KEY on a two-epoch schedule) done, both epochs stored; returns KEY2."""
    key = (*KEY[:3], 2, KEY[4])
    db = ResultsDB(path)
    data = SimpleNamespace(digest=DIGEST, official=True)
    for epoch in (1, 2):
        db.write_epoch(key, 11472, epoch, {"train": (2.3, 12.5, 1.5), "ori-test": (2.3, 50.0 + epoch, 0.2)})  # fmt: skip
    db.mark_run(key, 11472, "done", params_mb=0.5, flops_m=7, train_time_s=1.5,
                trained_as="single", data=data)  # type: ignore[arg-type]  # fmt: skip
    db.close()
    return key


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("UPDATE epochs SET accuracy = 99.0 WHERE epoch = 1", "at epoch 1 on split"),
        # what an import refuses by its rows: an epoch outside the schedule (an old row)
        (
            "INSERT INTO epochs SELECT space, arch, arch_index, dataset, split, schedule, seed, "
            "3, loss, accuracy, time_s, NULL FROM epochs WHERE epoch = 2",
            "epoch 3 outside",
        ),
        # what load_curves refuses by its rows: a curve with a hole
        ("DELETE FROM epochs WHERE epoch = 1 AND split = 'train'", "no train row at epoch 1 "),
    ],
)
def test_a_run_to_retrain_damaged_before_its_final_epoch_is_not_done(
    tmp_path: Path, change: str, why: str
) -> None:
    path = tmp_path / "r.sqlite"
    key = _two_epochs(path)
    edit_committed(path, change)
    as_legacy(path, "epochs")  # the row added is an old one (no checksum)
    db = ResultsDB(path)
    if why == "epoch 3 outside":  # what an import refuses by its rows: refused (was skipped)
        with pytest.raises(ResultsDBError, match=f"{why}.*retrain_damaged=True"):
            db.finished_runs()
    else:  # the skip of a campaign without retrain_damaged reads final epochs only
        assert db.finished_runs() == ({key}, {key: DIGEST})
    # with it, the run is checked whole, as its job's discard_damaged checks it: before,
    # it was skipped while load_curves refused it naming retrain_damaged
    damaged: rdb.Damaged = {}
    assert db.finished_runs([key], damaged=damaged) == (set(), {})
    assert list(damaged) == [key] and why in damaged[key]
    assert why in str(db.discard_damaged(key))
    db.close()


def _curve_run(db: ResultsDB, key: tuple, epochs: range, status: str | None) -> None:
    """``key`` trained at ``epochs`` (train rows; the test split every other epoch, as
    eval_every 2 leaves it), then marked ``status`` (``None``: left running)."""
    for epoch in epochs:
        rows = {"train": (2.3, 12.5, 1.5)}
        if epoch % 2 == 0 or epoch == key[3]:
            rows["ori-test"] = (2.3, 40.0 + epoch, 0.2)
        db.write_epoch(key, 11472, epoch, rows)
    if status is not None:
        db.mark_run(key, 11472, status, params_mb=0.5, flops_m=7, train_time_s=1.5)


@pytest.mark.parametrize(
    ("epochs", "status", "why"),
    [
        (range(2, 6), "done", "is done but has no train row at epoch 1 of its 1..5 (4 held)"),
        (range(1, 5), "done", "is done but has no train row at epoch 5 of its 1..5 (4 held)"),
        (
            [*range(1, 3), *range(9, 11)],
            "done",
            "has no train row at epochs 3, 4, 5, 6, 7, ... (6 in all) of its 1..10 (4 held)",
        ),
        (range(3, 5), None, "is running but has no train row at epochs 1, 2 of its 1..4 (2 held)"),
    ],
)
def test_load_curves_refuses_a_curve_with_a_hole_naming_its_epochs(
    tmp_path: Path, epochs: range, status: str | None, why: str
) -> None:
    path = tmp_path / "r.sqlite"
    schedule = max(epochs) if status is None else max(5, max(epochs))
    key = (*KEY[:3], schedule, KEY[4])
    db = ResultsDB(path)
    _curve_run(db, key, epochs, status)
    # beside it: intact runs whose evaluated split skips epochs, one in progress, and a cell
    # answered without training (its final epoch only): all served
    _curve_run(db, (*OTHER[:3], 5, 1), range(1, 6), "done")
    _curve_run(db, (*OTHER[:3], 5, 2), range(1, 4), None)
    db.mark_run((*OTHER[:3], 5, 3), 8, "constant", final_rows={"train": (math.nan, 10.0, math.nan)})
    db.close()
    with pytest.raises(ResultsDBError, match=re.escape(why) + ": its curves have a hole"):
        rdb.load_curves(path)
    with pytest.raises(ResultsDBError, match=re.escape(f"run {key} ")):
        rdb.load_curves(path, space="nb201")
    # final results do not depend on the hole: served, as before
    if status == "done" and max(epochs) == schedule:
        assert key[1] in set(rdb.load_results(path)["arch"])
    # without the holed run, every other curve is served whole
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM epochs WHERE schedule = ? AND seed = ?", (key[3], key[4]))
        con.execute("DELETE FROM runs WHERE schedule = ? AND seed = ?", (key[3], key[4]))
    con.close()
    curves = rdb.load_curves(path)
    train = curves[(curves["split"] == "train") & (curves["metric"] == "accuracy")]
    held = train.groupby("seed")["epoch"].agg(sorted)
    assert held.to_dict() == {1: [1, 2, 3, 4, 5], 2: [1, 2, 3], 3: [5]}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (f"UPDATE epochs SET accuracy = 50.0 WHERE arch = '{ARCH}' AND epoch = 1", "at epoch 1 "),
        # a hole: the run's train row of epoch 1 gone (a hand edit; or a resume from a
        # checkpoint into another database, which never wrote it)
        (
            f"DELETE FROM epochs WHERE arch = '{ARCH}' AND epoch = 1 AND split = 'train'",
            r"is done but has no train row at epoch 1 of its 1\.\.2 \(1 held\): its curves have a hole",
        ),
    ],
)
def test_train_retrains_a_finished_run_damaged_before_its_final_epoch(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: str,
    why: str,
) -> None:
    data, db = copy_trained(trained, tmp_path)
    capsys.readouterr()
    numbers = _numbers(db, ARCH)
    edit_committed(db, change)
    with pytest.raises(ResultsDBError, match=f"{why}.*retrain_damaged=True"):
        rdb.load_curves(db)
    assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    # before: skipped (only its final epoch was read), and load_curves still refused it
    assert {r["arch"]: r["status"] for r in out["runs"]} == {
        ARCH: "done",
        str(NB201.resolve(8)): "skipped",
    }
    assert _numbers(db, ARCH) == numbers
    curves = rdb.load_curves(db)
    assert sorted(set(curves["epoch"])) == [1, 2] and ARCH in set(curves["arch"])


def test_a_resume_into_a_database_without_the_runs_rows_is_refused_then_retrained(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the database deleted, its checkpoints left beside it: the runs resumed from their final
    # checkpoints and were marked done with no numbers (metrics {}, exit 0), a hole in curves
    data, db = copy_trained(trained, tmp_path)
    numbers = _numbers(db, ARCH)
    for f in db.parent.glob("r.sqlite*"):
        if f.is_file():
            f.unlink()
    checkpoints = sorted(p.name for p in db.parent.rglob("*.pt"))
    assert len(checkpoints) == 2
    capsys.readouterr()
    # one line before any run (it was one failed run each, exit 1), in the command's words
    # (the library's said retrain_damaged=True, ckpt_dir); no database is created
    for executor in ("inline", "local"):
        argv = [a if a != "inline" else executor for a in two_cells_argv(data, db)]
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, err
        assert err.startswith(f"error: {db} does not exist (so holds no train row of run ")
        assert "but its checkpoints reach epoch 2" in err
        assert "its final numbers would be missing" in err
        assert "another --ckpt-dir" in err and "train with --retrain-damaged" in err
        assert not db.exists()
        assert sorted(p.name for p in db.parent.rglob("*.pt")) == checkpoints  # none deleted
    # a database without the runs' rows (replaced by another campaign's): the same, by epoch
    empty = ResultsDB(db)
    assert empty.done_keys() == set()  # creates the file, with no run
    empty.close()
    assert main(two_cells_argv(data, db)) == 2
    err = capsys.readouterr().err
    assert "without a gap only up to epoch 0, but its checkpoints reach epoch 2" in err, err
    assert ResultsDB(db).done_keys() == set()  # nothing marked done without its numbers
    caplog.clear()
    assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["status"] for r in runs] == ["done", "done"]
    # the repair warnings name the flag (they said "(retrain_damaged)"), after a colon
    said = [r.getMessage() for r in caplog.records if "deleted" in r.getMessage()]
    assert len(said) == 2 and all(m.endswith("(--retrain-damaged)") for m in said), said
    assert all(f"in {db}: " in m for m in said), said
    assert _numbers(db, ARCH) == numbers  # from its first epoch: the same numbers
    curves = rdb.load_curves(db)
    assert sorted(set(curves["epoch"])) == [1, 2]


def test_a_resume_past_the_rows_a_database_holds_deletes_nothing(tmp_path: Path) -> None:
    from nb201_flat.errors import CheckpointMismatchError

    path = tmp_path / "r.sqlite"
    key = _two_epochs(path)
    db = ResultsDB(path)
    before = _rows(path)
    assert db.whole_train_epochs(key) == 2
    assert db.discard_epochs_after(key, 1) == 2  # epoch 2 of train and ori-test: restarted
    assert db.whole_train_epochs(key) == 1
    with pytest.raises(CheckpointMismatchError, match="only up to epoch 1, but its checkpoints reach epoch 2"):  # fmt: skip
        db.discard_epochs_after(key, 2)
    db.close()
    assert {t: len(r) for t, r in _rows(path).items()} == {
        t: len(r) - (2 if t == "epochs" else 0) for t, r in before.items()
    }
    # a row past the hole does not fill it (counted, it did)
    edit_committed(path, "UPDATE epochs SET epoch = 2 WHERE epoch = 1 AND split = 'train'")
    db = ResultsDB(path)
    assert db.whole_train_epochs(key) == 0
    with pytest.raises(CheckpointMismatchError, match="only up to epoch 0"):
        db.discard_epochs_after(key, 1)
    db.close()


def test_retrain_damaged_resumes_from_a_checkpoint_within_the_rows_a_crash_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the machine stopped after epoch 2's checkpoint was synced and before the database's
    # row was (WAL, synchronous=NORMAL): a plain resume is refused, --retrain-damaged drops
    # the checkpoint past the rows and resumes from epoch 1's, not from the first epoch
    pytest.importorskip("torch")
    from nb201_flat.errors import CheckpointMismatchError
    from nb201_flat.train.checkpoint import Checkpointer
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.recipe import Recipe
    from nb201_flat.train.trainer import train

    data = write_tiny_cifar10(tmp_path / "data")

    def job(db: Path, **kw: object) -> object:
        (j,) = make_jobs(
            [ARCH], dataset="cifar10", epochs=3, seeds=[1], data_root=data, db_path=db,
            recipe=Recipe(epochs=3, batch_size=32), c=2, n=1, device="cpu", threads=1, **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        return j

    clean = train(job(tmp_path / "clean" / "r.sqlite"))  # type: ignore[arg-type]

    def crash(epoch: int, rows: object) -> None:
        if epoch == 2:
            raise OSError("machine stopped")

    db = tmp_path / "runs" / "r.sqlite"
    with pytest.raises(OSError, match="machine stopped"):
        train(job(db), on_epoch_end=crash)  # type: ignore[arg-type]
    edit_committed(db, "DELETE FROM epochs WHERE epoch = 2")  # the rows the database had not synced
    folder = job(db).checkpoint_folder  # type: ignore[attr-defined]
    assert sorted(e for e, _ in Checkpointer(folder).files()) == [1, 2]
    with pytest.raises(CheckpointMismatchError, match="only up to epoch 1, but its checkpoints reach epoch 2"):  # fmt: skip
        train(job(db))  # type: ignore[arg-type]
    # the check before any run says the same (a campaign's one line)
    from nb201_flat.train.trainer import check_resume_rows

    with pytest.raises(CheckpointMismatchError, match="only up to epoch 1, but its checkpoints reach epoch 2"):  # fmt: skip
        check_resume_rows([job(db)], db)  # type: ignore[list-item]
    # a newest checkpoint whose bytes are not its sidecar's (here epoch 1's, which torch reads
    # well): the run sets it aside and resumes from epoch 1, within its rows, so the check
    # passes over it too (reading it unverified, it refused it)
    newest = Path(folder) / "epoch-0002.pt"
    good = newest.read_bytes()
    newest.write_bytes((Path(folder) / "epoch-0001.pt").read_bytes())
    check_resume_rows([job(db)], db)  # type: ignore[list-item]
    newest.write_bytes(good)
    caplog.set_level(logging.WARNING)
    res = train(job(db, retrain_damaged=True))  # type: ignore[arg-type]
    assert "its train rows only 1 without a gap; the checkpoints after it deleted, resuming from epoch 1" in caplog.text  # fmt: skip
    assert res.status == "done" and res.metrics == clean.metrics  # faithful: bitwise
    curves = rdb.load_curves(db)
    assert sorted(set(curves["epoch"])) == [1, 2, 3]


def test_another_runs_checkpoints_past_a_runs_rows_are_refused_up_front_as_another_runs(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # seed 1's final checkpoint copied into seed 2's folder, which has no rows: the up-front
    # check names what the run itself would (another run's checkpoints), not missing rows
    data, db = copy_trained(trained, tmp_path)
    ckpt = db.parent / "r.sqlite.ckpt"
    (one,) = [p for p in ckpt.iterdir() if p.is_dir() and f"-{TWO_CELLS[0]}-" in p.name]
    two = one.with_name(one.name.replace("-s1-", "-s2-"))
    shutil.copytree(one, two)
    argv = two_cells_argv(data, db)
    argv[argv.index("--seeds") + 1] = "2"
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: checkpoints in {two} belong to another run ("), err
    assert err.endswith("; move them away or use another --ckpt-dir\n"), err


# -- stray rows: a damaged row whose key names no run -----------------------------------------

_STRAY = "|nor_conv_3x3~0|+|x|"  # an arch no command trains: the hand edit's new key


def _rowid(path: Path, sql: str) -> int:
    con = sqlite3.connect(path)
    (rowid,) = con.execute(sql).fetchone()
    con.close()
    return int(rowid)


def test_a_stray_row_is_refused_by_its_table_and_rowid_naming_the_run_it_came_from(
    tmp_path: Path,
) -> None:
    path = two_done_runs(tmp_path / "r.sqlite")
    rowid = _rowid(path, f"SELECT rowid FROM epochs WHERE arch = '{ARCH}' AND split = 'ori-test'")
    edit_committed(path, f"UPDATE epochs SET arch = '{_STRAY}' WHERE rowid = {rowid}")
    stray = re.escape(
        f"run ('nb201', '{_STRAY}', 'cifar10', 1, 777) has numbers at epoch 1 on split 'ori-test' "
        f"that do not match the checksum written with them (table epochs, rowid {rowid}), and "
        f"has no row in table runs: a stray row, its key changed (its checksum matches it under "
        f"run {KEY}'s key); train with retrain_damaged=True, which puts such a row back"
    )
    db = ResultsDB(path)
    # before: "run (...'|x|'...) has numbers ...; train it again with retrain_damaged=True",
    # which no command could: none trains that run, so none deleted the row
    for read in (db.done_keys, lambda: db.finished_runs([KEY, OTHER])):
        with pytest.raises(ResultsDBError, match=stray):
            read()
    db.close()
    with pytest.raises(ResultsDBError, match=stray):  # the import's check of orphan epochs
        rdb.load_curves(path)


def test_clear_stray_rows_puts_a_moved_row_back_and_deletes_only_damaged_strays(
    tmp_path: Path,
) -> None:
    path = two_done_runs(tmp_path / "r.sqlite")
    intact = _rows(path)
    moved = _rowid(path, f"SELECT rowid FROM epochs WHERE arch = '{ARCH}' AND split = 'train'")
    edit_committed(path, f"UPDATE epochs SET arch = '{_STRAY}' WHERE rowid = {moved}")
    edit_committed(path, f"UPDATE run_forms SET seed = 5, trained_as = 'x' WHERE arch = '{ARCH}'")
    # a copy of a row whose run holds it in its place: only its key differs
    edit_committed(path, "INSERT INTO run_devices SELECT space, arch, dataset, schedule, 6, trained_on, "
                f"checksum FROM run_devices WHERE arch = '{ARCH}'")  # fmt: skip
    # intact rows whose run has no row in runs (an old file's orphans): never touched
    edit_committed(path, "INSERT INTO run_data SELECT space, arch, dataset, schedule, 9, data_digest, "
                "data_official, NULL FROM run_data WHERE arch = ?", ARCH)  # fmt: skip
    as_legacy(path, "run_data")
    orphan = _rows(path)["run_data"]
    db = ResultsDB(path)
    said = db.clear_stray_rows()
    assert len(said) == 3, said
    assert any(f"(table epochs, rowid {moved}), a stray row: put back under run {KEY}" in s
               for s in said)  # fmt: skip
    assert any("table run_forms" in s and "deleted (no run's key matches" in s for s in said)
    assert any("table run_devices" in s and f"deleted (it is run {KEY}'s" in s for s in said)
    after = _rows(path)
    assert after["epochs"] == intact["epochs"]  # the moved row back, as it was written
    assert after["run_devices"] == intact["run_devices"] and after["run_data"] == orphan
    assert _of_run(after, ARCH, keep=False) == _of_run(intact, ARCH, keep=False)
    assert after["run_forms"] == [r for r in intact["run_forms"] if r[1] != ARCH]
    assert db.clear_stray_rows() == []  # nothing stray left; the intact orphan stays
    assert _rows(path) == after
    db.close()


def test_train_with_the_flag_puts_a_stray_row_back_and_says_so(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    data, db = copy_trained(trained, tmp_path)
    capsys.readouterr()
    before = _rows(db)
    sql = f"SELECT rowid FROM epochs WHERE arch = '{ARCH}' AND epoch = 2 AND split = 'ori-test'"
    rowid = _rowid(db, sql)
    edit_committed(db, f"UPDATE epochs SET arch = '{_STRAY}' WHERE rowid = {rowid}")
    assert main(two_cells_argv(data, db)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"(table epochs, rowid {rowid}), and has no row in table runs: a stray row" in err
    assert "train with --retrain-damaged, which puts such a row back" in err
    # before: refused again, the run it names being no run of the command's
    with caplog.at_level(logging.WARNING):
        assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0, capsys.readouterr().err
    said = [r.getMessage() for r in caplog.records if "stray" in r.getMessage()]
    assert (
        len(said) == 1
        and f"rowid {rowid}), a stray row: put back under run ('nb201@C2N1" in said[0]
    )
    out = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in out["runs"]} == {"skipped"}  # the run is whole again
    assert _rows(db) == before


def test_a_campaign_that_retrains_damaged_runs_clears_stray_rows(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    from nb201_flat.train.executors import split_done
    from nb201_flat.train.jobs import make_jobs

    data, db = copy_trained(trained, tmp_path)
    before = _rows(db)
    (job,) = make_jobs([11472], dataset="cifar10", epochs=2, seeds=[1], data_root=data,
                       db_path=db, device="cpu", c=2, n=1, threads=1)  # fmt: skip
    edit_committed(
        db, f"UPDATE run_forms SET arch = '{_STRAY}', trained_as = 'x' WHERE arch = '{ARCH}'"
    )
    with pytest.raises(ResultsDBError, match="stray row"):
        split_done([job])
    done, todo = split_done([replace(job, retrain_damaged=True)])
    assert todo == [] and done[0].status == "skipped"
    assert _rows(db) == {t: [r for r in rs if t != "run_forms" or r[1] != ARCH]
                         for t, rs in before.items()}  # fmt: skip


def test_train_says_how_deep_it_checked_the_runs_it_skipped(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a plain train reads a skipped run's final epochs only (one pass: every epoch row would
    # cost a checksum each); it was silent about it, so a run damaged before its final epoch
    # was skipped without a word and only load_curves refused it later
    data, db = copy_trained(trained, tmp_path)
    capsys.readouterr()
    edit_committed(db, f"UPDATE epochs SET accuracy = 50.0 WHERE arch = '{ARCH}' AND epoch = 1")
    text = [a for a in two_cells_argv(data, db) if a != "--json"]
    assert main(text) == 0
    out = capsys.readouterr().out
    assert out.count(" skipped ") == 2 and out.count("\n") == 3, out
    assert out.rstrip().endswith(
        "2 run(s) skipped, finished before: their records and final epochs checked, not their "
        "earlier epochs (an import and load_curves check every epoch; --retrain-damaged "
        "checks them here, and trains a damaged run again)"
    ), out
    assert main(two_cells_argv(data, db)) == 0
    assert json.loads(capsys.readouterr().out)["skipped_checked"] == "final_epoch"
    assert main([*text, "--retrain-damaged"]) == 0  # the damaged run trained again
    out = capsys.readouterr().out
    assert out.rstrip().endswith("1 run(s) skipped, finished before: every row checked (--retrain-damaged)"), out  # fmt: skip
    assert main(two_cells_argv(data, db, "--retrain-damaged")) == 0
    assert json.loads(capsys.readouterr().out)["skipped_checked"] == "every_epoch"


def test_the_repair_warnings_of_worker_processes_name_the_flag(
    trained: tuple[Path, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # a spawned worker does not know the command's spelling: it said "(retrain_damaged)"
    data, db = copy_trained(trained, tmp_path)
    for f in db.parent.glob("r.sqlite*"):
        if f.is_file():
            f.unlink()
    argv = [a if a != "inline" else "local" for a in two_cells_argv(data, db, "--retrain-damaged")]
    assert main(argv) == 0
    err = capfd.readouterr().err
    said = [line for line in err.splitlines() if "checkpoints" in line and "deleted" in line]
    assert len(said) == 2 and all(s.endswith("(--retrain-damaged)") for s in said), err
