"""Seed ids are run ids (int64, 0..2**63-1): exact end to end. A float64 holds no integer past
2**53 exactly, and the tidy importer and the stand-in readers read seeds through one: seeds
2**53 and 2**53 + 1 of one file were merged (the error of two rows named the wrong seed), and
a stand-in record at seed 2**53 + 1 came back as 2**53, naming a run the table lacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import FormatError
from nb201_flat.importers.tidy import read_tidy
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table, constant_at, copies_at

BIG = 2**53  # the first integer after which float64 skips integers
TOP = 2**63 - 1  # the largest seed id a table holds (19 digits)
KEY = MetricKey("cifar10", "ori-test", 2)
HEAD = "index,dataset,split,epochs,seed,metric,value\n"
COPY, SOURCE, CONSTANT = 79, 7, 10  # 79 and 7 are isomorphic cells of NB201


def _line(seed: int | str, value: float, index: int = 0) -> str:
    return f"{index},cifar10,ori-test,2,{seed},accuracy,{value}\n"


def test_a_csv_keeps_seeds_past_2_53_apart(tmp_path: Path) -> None:
    # both were read as seed 2**53: refused as two rows for one value
    path = tmp_path / "t.csv"
    path.write_text(HEAD + _line(BIG, 50.0) + _line(BIG + 1, 51.0))
    t = read_tidy(path)
    assert t.seeds(KEY) == [BIG, BIG + 1]
    assert t.value(0, "cifar10", "ori-test", 2, seed_policy=BIG + 1) == 51.0
    assert t.value(0, "cifar10", "ori-test", 2, seed_policy=BIG) == 50.0


def test_two_rows_of_one_seed_past_2_53_name_that_seed(tmp_path: Path) -> None:
    # the error named seed 9007199254740992, which holds one row
    path = tmp_path / "t.csv"
    path.write_text(HEAD + _line(BIG, 50.0) + _line(BIG + 1, 51.0) + _line(BIG + 1, 52.0))
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert "row 2 (line 3) and row 3 (line 4)" in msg, msg
    assert f"seed {BIG + 1};" in msg, msg


def test_a_csv_holds_int64s_nineteen_digits(tmp_path: Path) -> None:
    # 2**63 - 1 is a seed a table holds (to_tidy writes it): it was "not an integer"
    path = tmp_path / "t.csv"
    path.write_text(HEAD + _line(TOP, 50.0) + _line(TOP - 1, 51.0))
    assert read_tidy(path).seeds(KEY) == [TOP - 1, TOP]
    path.write_text(HEAD + _line(1, 50.0) + _line(TOP + 1, 51.0))
    with pytest.raises(FormatError) as info:  # past int64: its row, not arrow's traceback
        read_tidy(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"row 2 (line 3), column 'seed': '{TOP + 1}' is out of range" in msg, msg


def _retrained() -> Table:
    """Seeds 2**53, 2**53 + 1 and 2**63 - 1 of a retraining table: cell 10 at chance on each,
    cell 79 copying cell 7 at seed 2**53 + 1 only."""
    data = {}
    for k, seed in enumerate((BIG, BIG + 1, TOP)):
        vec = np.full(NB201.size, np.nan)
        vec[[SOURCE, COPY, CONSTANT]] = [90.0 + k, 80.0 + k, 10.0]
        data[(KEY, seed)] = vec
    data[(KEY, BIG + 1)][COPY] = data[(KEY, BIG + 1)][SOURCE]
    run = {"dataset": "cifar10", "epochs": 2}
    meta = {
        "constant_output": [{**run, "seed": s, "index": CONSTANT} for s in (BIG, BIG + 1, TOP)],
        "isomorphic_to": [{**run, "seed": BIG + 1, "index": COPY, "copied_from": SOURCE}],
    }
    return Table(NB201, data, "retrained", meta)


def _same_stand_ins(back: Table) -> None:
    for seed in (BIG, BIG + 1, TOP):  # seed 2**53 + 1's record came back at 2**53: set()
        assert constant_at(back, "cifar10", 2, [seed]) == {CONSTANT}, seed
    assert copies_at(back, "cifar10", 2) == {BIG + 1: {COPY: SOURCE}}
    assert back.seeds(KEY) == [BIG, BIG + 1, TOP]
    back.to_tidy()  # refused: "records cell 10 at chance at ... a run this table stores no..."


def test_a_frame_round_trip_keeps_stand_in_records_at_their_seeds() -> None:
    _same_stand_ins(Table.from_tidy(_retrained().to_tidy()))


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet"])
def test_a_file_round_trip_keeps_seeds_and_stand_ins(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t.{suffix}"
    tidy = _retrained().to_tidy()
    tidy.to_parquet(path) if suffix == "parquet" else tidy.to_csv(path, index=False)
    _same_stand_ins(read_tidy(path))


def test_a_frame_of_python_ints_and_an_empty_mean_keeps_its_seeds() -> None:
    # a guard: to_numeric reads such a column through float64 (the NaN), 2**53 + 1 as 2**53
    seeds = pd.Series([None, BIG, BIG + 1], dtype=object)
    df = pd.DataFrame(
        {"index": 0, "dataset": "cifar10", "split": "ori-test", "epochs": 2, "seed": seeds}
    ).assign(metric="accuracy", value=[50.5, 50.0, 51.0])
    t = Table.from_tidy(df)
    assert t.seeds(KEY) == [BIG, BIG + 1]
    assert t.value(0, "cifar10", "ori-test", 2) == 50.5


def test_a_float_seed_past_2_53_is_refused_with_its_fix(tmp_path: Path) -> None:
    # a float column cannot tell 2**53 from 2**53 + 1: it is refused, saying why and what to do
    df = pd.DataFrame(
        {"index": [0, 0], "dataset": "cifar10", "split": "ori-test", "epochs": 2}
    ).assign(seed=[1.0, float(BIG)], metric="accuracy", value=[50.0, 51.0])
    why = (
        "column 'seed': 9007199254740992.0 is a float past 2**53, where floats skip integers "
        "(2**53 + 1 reads as 2**53); store the column as integers (int64)"
    )
    with pytest.raises(FormatError) as info:
        Table.from_tidy(df)
    assert str(info.value) == f"tidy table 'tidy': row 2, {why}"
    df.to_parquet(tmp_path / "f.parquet")
    with pytest.raises(FormatError) as info:
        read_tidy(tmp_path / "f.parquet")
    assert str(info.value) == f"{tmp_path / 'f.parquet'}: row 2, {why}"


def test_query_serves_a_big_seed_and_tags_its_stand_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the import stored seed 2**53 + 1 as 2**53: --seed-policy 9007199254740993 was refused
    path = tmp_path / "r.csv"
    tidy = _retrained().to_tidy()
    tidy.to_csv(path, index=False)
    out = str(tmp_path / "r.nb201")
    assert main(["import", str(path), "--out", out]) == 0, capsys.readouterr().err
    capsys.readouterr()
    argv = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "2", "--table", out]
    code = main(["query", str(CONSTANT), *argv, "--seed-policy", str(BIG + 1), "--json"])
    got, err = capsys.readouterr()
    assert code == 0, err
    answer = json.loads(got)
    assert answer["stand_in"].startswith("constant output"), answer
    code = main(["query", str(COPY), *argv, "--seed-policy", str(BIG + 1), "--json"])
    got, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(got)["stand_in"] == f"isomorphic copy, not trained: numbers of cell {SOURCE}"
