"""A disconnected cell recorded at chance on one run and trained on another (``train
--train-disconnected``): ``meta["constant_output"]`` flags the runs, not the cell."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201
from nb201_flat.table import FloatArray, MetricKey, Table

SPACE = "nb201@C4N1#faithful"
CHANCE, TRAINED = 10, 12  # two disconnected cells
TRAINED_TIME = 42.0


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_db(path: Path) -> Path:
    """The audit's campaigns: cell 7 trained at seeds 1 and 2 (2 epochs) and seed 1 (1 epoch);
    cell 10 recorded at chance at seed 1, then trained at seed 2 (2 epochs); cell 12 recorded
    at chance at 1 epoch, then trained at 2 epochs (seed 1)."""
    from nb201_flat.train.results_db import ResultsDB

    assert not NB201.connected[CHANCE] and not NB201.connected[TRAINED]
    db = ResultsDB(path)

    def done(index: int, epochs: int, seed: int, acc: float) -> None:
        key = (SPACE, NB201.arch(index).to_str(), "cifar10", epochs, seed)
        rows = {"train": (0.5, acc, TRAINED_TIME), "ori-test": (0.4, acc, 1.0)}
        for epoch in range(1, epochs + 1):
            db.write_epoch(key, index, epoch, rows)
        db.mark_run(key, index, "done", train_time_s=TRAINED_TIME)

    def at_chance(index: int, epochs: int, seed: int) -> None:
        key = (SPACE, NB201.arch(index).to_str(), "cifar10", epochs, seed)
        rows = {s: (math.nan, 10.0, math.nan) for s in ("train", "ori-test")}
        db.mark_run(key, index, "constant", final_rows=rows)

    done(7, 2, 1, 90.0)
    done(7, 2, 2, 91.0)
    done(7, 1, 1, 50.0)
    at_chance(CHANCE, 2, 1)
    done(CHANCE, 2, 2, 8.33)
    at_chance(TRAINED, 1, 1)
    done(TRAINED, 2, 1, 9.0)
    db.close()
    return path


@pytest.fixture
def imported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    out = tmp_path / "t.nb201"
    code, _, err = run(capsys, "import", str(write_db(tmp_path / "r.sqlite")), "--out", str(out))
    assert code == 0, err
    return out


def test_the_import_records_each_run_at_chance(imported: Path) -> None:
    from nb201_flat.storage import load_table

    table = load_table(imported)
    assert table.meta["constant_output"] == [
        {"dataset": "cifar10", "epochs": 1, "seed": 1, "index": TRAINED},
        {"dataset": "cifar10", "epochs": 2, "seed": 1, "index": CHANCE},
    ]
    # the trained runs keep their time; the runs at chance have none
    time_s = MetricKey("cifar10", "train", 2, "time_s")
    assert table.data[(time_s, 2)][CHANCE] == TRAINED_TIME
    assert table.data[(time_s, 1)][TRAINED] == TRAINED_TIME
    assert math.isnan(table.data[(time_s, 1)][CHANCE])
    assert math.isnan(table.data[(MetricKey("cifar10", "train", 1, "time_s"), 1)][TRAINED])


def test_query_tags_only_a_value_from_a_run_at_chance(
    capsys: pytest.CaptureFixture[str], imported: Path
) -> None:
    key = ["--dataset", "cifar10", "--epochs", "2", "--table", str(imported), "--json"]

    def query(cell: int, *more: str) -> dict[str, object]:
        code, out, err = run(capsys, "query", str(cell), *key, *more)
        assert code == 0, err
        return dict(json.loads(out))

    trained = query(CHANCE, "--split", "ori-test", "--seed-policy", "2")
    assert trained["value"] == 8.33 and trained["stand_in"] is None
    chance = query(CHANCE, "--split", "ori-test", "--seed-policy", "1")
    assert chance["stand_in"] == "constant output: disconnected cell, not trained"
    # a mean of a chance seed and a trained one is flagged, as one holding a copy is
    mean = query(CHANCE, "--split", "ori-test")
    assert mean["stand_in"] == (
        "constant output: disconnected cell, not trained at seed 1 of the mean (trained at seed 2)"
    )
    # the time of the trained seed is served, and a mean over it alone is no stand-in
    for more in (["--seed-policy", "2"], []):
        timed = query(CHANCE, "--split", "train", "--metric", "time_s", *more)
        assert timed["value"] == TRAINED_TIME and timed["stand_in"] is None
    # at chance on another schedule only
    other = query(TRAINED, "--split", "ori-test")
    assert other["value"] == 9.0 and other["stand_in"] is None


def test_info_and_record_count_a_cell_trained_on_some_runs(
    capsys: pytest.CaptureFixture[str], imported: Path
) -> None:
    code, out, _ = run(capsys, "info", "--json", "--table", str(imported))
    assert code == 0 and json.loads(out)["cells"] == {
        "trained": 3,
        "constant_output": 2,
        "isomorphic_copies": 0,
        "trained_and_constant_output": 2,
        "trained_and_isomorphic_copy": 0,
    }
    code, out, _ = run(capsys, "info", "--table", str(imported))
    assert (
        "cells   3 trained; stand-ins (not trained): 2 constant-output (disconnected, chance "
        "accuracy), 0 isomorphic copies (a trained cell's numbers); 2 cells counted in both, "
        "trained on some runs and constant-output on others\n"
    ) in out
    code, out, _ = run(capsys, "record", str(CHANCE), "--json", "--table", str(imported))
    payload = json.loads(out)
    assert payload["constant_output"] is True
    assert payload["constant_output_runs"] == [
        {"dataset": "cifar10", "epochs": 2, "stored_seed": 1}
    ]
    code, out, _ = run(capsys, "record", str(CHANCE), "--table", str(imported))
    assert (
        "  stand-in: constant output (disconnected cell, not trained): cifar10@2ep seed id 1 is "
        "at chance accuracy, loss and time not measured\n"
    ) in out and "seed id 2" not in out


def test_stand_ins_of_a_schedule_are_its_runs_at_chance(imported: Path) -> None:
    from nb201_flat.landscape.stand_ins import StandIns
    from nb201_flat.storage import load_table

    table = load_table(imported)
    two, one = StandIns.of(table, "cifar10", 2), StandIns.of(table, "cifar10", 1)
    assert two is not None and one is not None
    # cell 12 was trained at 2 epochs; cell 10's values there hold its chance seed
    assert np.flatnonzero(two.stand_in).tolist() == [CHANCE]
    assert np.flatnonzero(one.stand_in).tolist() == [TRAINED]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_runs_at_chance_survive_a_tidy_round_trip(
    capsys: pytest.CaptureFixture[str], imported: Path, tmp_path: Path, suffix: str
) -> None:
    # a cell flagged on one seed's rows and not another's was refused
    from nb201_flat.storage import load_table
    from nb201_flat.table import stand_ins

    table = load_table(imported)
    df = table.to_tidy()
    rows = df[(df["index"] == CHANCE) & (df["split"] == "ori-test") & (df["metric"] == "accuracy")]
    assert dict(zip(rows["seed"], rows["constant_output"], strict=True)) == {1: True, 2: False}
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False, na_rep="nan") if suffix == ".csv" else df.to_parquet(path)
    out = tmp_path / "back.nb201"
    code, _, err = run(capsys, "import", str(path), "--out", str(out))
    assert code == 0, err
    back = load_table(out)
    assert back.meta["constant_output"] == table.meta["constant_output"]
    assert stand_ins(back) == stand_ins(table)
    code, text, _ = run(
        capsys, "query", str(CHANCE), "--dataset", "cifar10", "--split", "ori-test",
        "--epochs", "2", "--seed-policy", "2", "--table", str(out),
    )  # fmt: skip
    assert code == 0 and "stand-in" not in text


def _old_table() -> Table:
    """A table saved before the records: ``constant_output`` a flat list of cells."""
    key = MetricKey("cifar10", "ori-test", 2)
    data: dict[tuple[MetricKey, int | None], FloatArray] = {}
    for seed in (1, 2):
        vec = np.full(NB201.size, np.nan)
        vec[[7, CHANCE]] = [90.0, 10.0]
        data[(key, seed)] = vec
    one = np.full(NB201.size, np.nan)
    one[7] = 50.0
    data[(MetricKey("cifar10", "ori-test", 1), 1)] = one  # no value of cell 10 in this run
    return Table(NB201, data, meta={"space_key": SPACE, "constant_output": [CHANCE]})


def test_an_old_flat_list_means_every_run_of_its_cells(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from nb201_flat.landscape.stand_ins import StandIns
    from nb201_flat.storage import save_table

    table = _old_table()
    for epochs in (1, 2):
        found = StandIns.of(table, "cifar10", epochs)
        assert found is not None and np.flatnonzero(found.stand_in).tolist() == [CHANCE]
    path = str(save_table(table, tmp_path / "old.nb201"))
    code, out, _ = run(capsys, "record", str(CHANCE), "--json", "--table", path)
    assert code == 0 and json.loads(out)["constant_output_runs"] == [
        {"dataset": "cifar10", "epochs": e, "stored_seed": s} for e, s in ((1, 1), (2, 1), (2, 2))
    ]
    # the tidy form flags it on every run, a row of NaN where a run has no value of it; read
    # back, one record per run: the same meaning
    df = table.to_tidy()
    flagged = df.loc[df["index"] == CHANCE, ["epochs", "seed", "constant_output"]]
    assert sorted(map(tuple, flagged.to_numpy().tolist())) == [(1, 1, True), (2, 1, True), (2, 2, True)]  # fmt: skip
    back = Table.from_tidy(df)
    assert back.meta["constant_output"] == [
        {"dataset": "cifar10", "epochs": e, "seed": s, "index": CHANCE}
        for e, s in ((1, 1), (2, 1), (2, 2))
    ]


def test_no_curves_on_a_results_database_says_where_its_epochs_are(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # "results-db stores no curves": the database holds every epoch's rows. --no-curves was
    # refused; the import carries them with --curves now, and --no-curves is its default
    from nb201_flat.train.results_db import load_curves

    src = write_db(tmp_path / "r.sqlite")
    assert len(load_curves(src)) > 0
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--no-curves")
    assert code == 0 and "stores no curves" not in err, err
    assert not (tmp_path / "o" / "curves.parquet").exists()
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "c"), "--curves")
    assert code == 0, err
    assert (tmp_path / "c" / "curves.parquet").exists()


def test_a_damaged_curves_file_names_its_rebuild_in_each_callers_words(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the curves reader took its rebuild hint as Python text: a command reading a damaged
    # curves file named nb201_flat.save_table(...) where its other refusals name the import
    from nb201_flat.cli.common import CALLS
    from nb201_flat.errors import Call, TableFileError
    from nb201_flat.storage import load_table

    src = write_db(tmp_path / "r.sqlite")
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "c"), "--curves")
    assert code == 0, err
    path = tmp_path / "c" / "curves.parquet"
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 1
    path.write_bytes(bytes(damaged))
    table = load_table(tmp_path / "c")
    assert table.curves is not None
    with pytest.raises(TableFileError, match="does not match its checksum") as caught:
        table.curves.curve(table.curves.keys()[0])
    assert "import_table(" in str(caught.value)  # Python's words
    calls = [p for p in caught.value.parts if isinstance(p, Call)]
    assert calls, caught.value.parts  # a part the command line spells as its own
    way = CALLS[calls[0].name]
    line = way(calls[0].placeholder) if callable(way) else way.format(calls[0].placeholder)
    assert "nb201-flat import" in line and str(src) in line and "--curves" in line, line
