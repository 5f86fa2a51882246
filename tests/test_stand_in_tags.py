"""Stand-in tags are read per run (dataset, schedule, seed), never per schedule: ``query``
tags a value only where a run it comes from copied or was at chance, a mean says which of its
seeds are stand-ins, ``info`` counts a cell trained on some runs as trained, and a malformed
``meta["isomorphic_to"]`` or a copy of a cell of another function is refused in one line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import FormatError
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table, stand_ins

SMALL = "nb201@C4N1#faithful"
TINY = Space(("none", "skip_connect", "nor_conv_1x1"), 3)
KEY = MetricKey("cifar10", "ori-test", 200)
TINY_ARGS = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
DB_ARGS = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "2")
COPY, SOURCE = 79, 7  # isomorphic cells of NB201


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def note(capsys: pytest.CaptureFixture[str], cell: int, *argv: str) -> object:
    code, out, err = run(capsys, "query", str(cell), *argv, "--json")
    assert code == 0, err
    return json.loads(out)["stand_in"]


@pytest.fixture
def retrained(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    """A results database imported: cell 7 trained at seeds 1 and 777; cell 79 copying 7 at
    seed 1 and trained at seed 777 (another campaign); cell 10 trained at seed 1 and at chance
    at seed 777."""
    from nb201_flat.train.results_db import ResultsDB

    db = ResultsDB(tmp_path / "r.sqlite")

    def done(index: int, seed: int, acc: float) -> None:
        key = (SMALL, NB201.arch(index).to_str(), "cifar10", 2, seed)
        for epoch in (1, 2):
            db.write_epoch(
                key, index, epoch, {"train": (0.5, 80.0, 3.0), "ori-test": (0.4, acc, 1.0)}
            )
        db.mark_run(key, index, "done", train_time_s=5.0)

    done(SOURCE, 1, 91.0)
    done(SOURCE, 777, 92.0)
    done(COPY, 777, 70.0)
    key = (SMALL, NB201.arch(COPY).to_str(), "cifar10", 2, 1)
    db.mark_run(key, COPY, "isomorphic", isomorphic_to=NB201.arch(SOURCE).to_str())
    done(10, 1, 55.0)
    chance = {s: (math.nan, 10.0, math.nan) for s in ("train", "ori-test")}
    db.mark_run((SMALL, NB201.arch(10).to_str(), "cifar10", 2, 777), 10, "constant", final_rows=chance)  # fmt: skip
    db.close()
    out = str(tmp_path / "r.nb201")
    code, _, err = run(capsys, "import", str(tmp_path / "r.sqlite"), "--out", out)
    assert code == 0, err
    return out


def test_query_tags_a_copy_only_at_the_seeds_it_copies(
    capsys: pytest.CaptureFixture[str], retrained: str
) -> None:
    # its own trained 70.0 at seed 777 was tagged "numbers of cell 7", the mean wholly a copy
    argv = (*DB_ARGS, "--table", retrained)
    assert note(capsys, COPY, *argv, "--seed-policy", "777") is None
    assert note(capsys, COPY, *argv, "--seed-policy", "1") == (
        "isomorphic copy, not trained: numbers of cell 7"
    )
    assert note(capsys, COPY, *argv) == (
        "isomorphic copy, not trained at seed 1 of the mean: numbers of cell 7 (trained at "
        "seed 777)"
    )


def test_info_counts_a_cell_copied_on_some_runs_as_trained(
    capsys: pytest.CaptureFixture[str], retrained: str
) -> None:
    # a cell copied on any run was dropped from the trained cells: "2 trained", not 3
    code, out, _ = run(capsys, "info", "--json", "--table", retrained)
    assert code == 0 and json.loads(out)["cells"] == {
        "trained": 3,
        "constant_output": 1,
        "isomorphic_copies": 1,
        "trained_and_constant_output": 1,
        "trained_and_isomorphic_copy": 1,
    }
    code, out, _ = run(capsys, "info", "--table", retrained)
    assert code == 0
    assert (
        "cells   3 trained; stand-ins (not trained): 1 constant-output (disconnected, chance "
        "accuracy), 1 isomorphic copies (a trained cell's numbers); 1 cell counted in both, "
        "trained on some runs and constant-output on others; 1 cell counted in both, trained "
        "on some runs and an isomorphic copy on others\n"
    ) in out


def _save(tmp_path: Path, name: str, data: dict[Any, Any], meta: dict[str, Any]) -> str:
    return str(save_table(Table(TINY, data, name, meta), tmp_path / f"{name}.nb201"))


def _seed_values(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(40.0, 90.0, TINY.size).round(3)


def _copy(seed: int | None, index: int, source: int, **more: object) -> dict[str, object]:
    rec = {"dataset": "cifar10", "epochs": 200, "seed": seed, "index": index}
    return {**rec, "copied_from": source, **more}


def test_a_seed_names_only_the_cell_copied_at_that_seed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # cell 10 copying 3 at seed 1 and 4 at seed 2 said "numbers of cell 3, 4" at seed 1
    meta = {"isomorphic_to": [_copy(1, 10, 3), _copy(2, 10, 4)]}
    path = _save(tmp_path, "two", {(KEY, s): _seed_values(s) for s in (1, 2)}, meta)
    argv = (*TINY_ARGS, "--table", path)
    say = "isomorphic copy, not trained: numbers of cell"
    assert note(capsys, 10, *argv, "--seed-policy", "1") == f"{say} 3"
    assert note(capsys, 10, *argv, "--seed-policy", "2") == f"{say} 4"
    assert note(capsys, 10, *argv) == f"{say} 3, 4"  # every seed of the mean a copy


def test_a_mean_of_a_chance_seed_and_a_copied_one_names_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # at chance at seed 1, a copy of cell 0 at seed 2: "(trained at seed 2)" was said of the copy
    v1, v2 = _seed_values(1), _seed_values(2)
    v1[1], v2[0], v2[1] = 10.0, 11.5, 11.5
    meta = {
        "constant_output": [{"dataset": "cifar10", "epochs": 200, "seed": 1, "index": 1}],
        "isomorphic_to": [_copy(2, 1, 0)],
    }
    path = _save(tmp_path, "b", {(KEY, 1): v1, (KEY, 2): v2}, meta)
    assert note(capsys, 1, *TINY_ARGS, "--table", path) == (
        "constant output: disconnected cell, not trained at seed 1 of the mean; isomorphic "
        "copy, not trained at seed 2 of the mean: numbers of cell 0"
    )


def test_a_stored_mean_row_says_which_seeds_are_stand_ins(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a stored mean of a seed at chance and a trained one was tagged as wholly at chance
    rows = [(7, 1, 91, False), (7, 2, 93, False), (7, "", 92, False)]
    rows += [(10, 1, 10, True), (10, 2, 60, False), (10, "", 35, False)]
    path = tmp_path / "m.csv"
    path.write_text(
        "index,dataset,split,epochs,seed,metric,value,constant_output,copied_from\n"
        + "".join(f"{i},cifar10,ori-test,2,{s},accuracy,{v},{c},\n" for i, s, v, c in rows)
    )
    out = str(tmp_path / "m.nb201")
    code, _, err = run(capsys, "import", str(path), "--out", out)
    assert code == 0, err
    assert note(capsys, 10, *DB_ARGS, "--table", out) == (
        "constant output: disconnected cell, not trained at seed 1 of the mean (trained at seed 2)"
    )
    assert note(capsys, 7, *DB_ARGS, "--table", out) is None


def test_record_names_a_stored_means_run_as_the_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a copy recorded on a stored mean row printed "seed id None"
    data = {(KEY, None): _seed_values(1)}
    at_chance = {"dataset": "cifar10", "epochs": 200, "seed": None, "index": 9}
    meta = {"isomorphic_to": [_copy(None, 4, 3)], "constant_output": [at_chance]}
    path = _save(tmp_path, "mean", data, meta)
    code, out, _ = run(capsys, "record", "4", "--table", path)
    assert code == 0
    assert (
        "  stand-in: isomorphic copy, not trained: cifar10@200ep seed mean holds the numbers "
        "of cell 3\n"
    ) in out
    code, out, _ = run(capsys, "record", "9", "--table", path)
    assert code == 0 and "cifar10@200ep seed mean is at chance accuracy" in out


def test_a_tidy_import_refuses_a_copy_of_another_function(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # cell 79 copying cell 8 was imported, served as 8's numbers and grouped with 8 by flatness;
    # the results database's import refused it
    assert NB201.isomorphism_classes()[8] != NB201.isomorphism_classes()[COPY]
    head = "index,dataset,split,epochs,seed,metric,value,constant_output,copied_from\n"
    path = tmp_path / "niso.csv"
    path.write_text(
        head + "8,cifar10,ori-test,2,1,accuracy,91,False,\n"
        f"{COPY},cifar10,ori-test,2,1,accuracy,55,False,8\n"
    )
    out = tmp_path / "niso.nb201"
    code, text, err = run(capsys, "import", str(path), "--out", str(out))
    assert (code, text) == (2, "") and not out.exists()
    assert err == (
        f"error: tidy table 'tidy file niso.csv': row 2, column 'copied_from': 8 is a cell not "
        f"isomorphic to cell {COPY} (it computes another function); a stand-in copies a cell of "
        "its own isomorphism class: fix the column\n"
    )
    # a copy of its own class is read
    path.write_text(
        head + f"{SOURCE},cifar10,ori-test,2,1,accuracy,91,False,\n"
        f"{COPY},cifar10,ori-test,2,1,accuracy,91,False,{SOURCE}\n"
    )
    code, _, err = run(capsys, "import", str(path), "--out", str(out))
    assert code == 0, err


_RUN = {"dataset": "cifar10", "epochs": 200, "seed": 1}


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ({"isomorphic_to": 5}, "meta['isomorphic_to'] holds 5, not a list of records"),
        ({"isomorphic_to": True}, "meta['isomorphic_to'] holds True, not a list of records"),
        ({"isomorphic_to": _copy(1, 4, 3)}, "meta['isomorphic_to'] holds {"),
        # "200" matched no schedule in query (served untagged) but was a copy to flatness
        ({"isomorphic_to": [{**_copy(1, 4, 3), "epochs": "200"}]}, "'epochs': '200'"),
        ({"isomorphic_to": [_copy(1, 4.7, 3)]}, "'index': 4.7"),  # read as cell 4
        ({"isomorphic_to": [_copy(1.5, 4, 3)]}, "'seed': 1.5"),
        ({"isomorphic_to": [_copy(1, 4, -1)]}, "'copied_from': -1"),  # the last cell
        ({"isomorphic_to": [_copy(1, 27, 3)]}, "'index': 27"),  # no cell of the space
        ({"isomorphic_to": [{**_copy(1, 4, 3), "dataset": 10}]}, "'dataset': 10"),
        ({"constant_output": [1.9]}, "meta['constant_output'] holds [1.9], not cell"),  # cell 1
        ({"constant_output": [True]}, "meta['constant_output'] holds [True], not cell"),
        ({"constant_output": [-1]}, "meta['constant_output'] holds [-1], not cell"),
        ({"constant_output": [{**_RUN, "epochs": "200", "index": 1}]}, "'epochs': '200'"),
        ({"constant_output": [{**_RUN, "index": 1.5}]}, "'index': 1.5"),
    ],
)
def test_malformed_stand_in_records_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, meta: dict[str, Any], words: str
) -> None:
    table = Table(TINY, {(KEY, 1): _seed_values(1)}, "bad", meta)
    with pytest.raises(FormatError) as exc:
        stand_ins(table)
    assert words in str(exc.value) and str(exc.value).endswith("; fix or drop it")
    path = _save(tmp_path, "bad", dict(table.data), meta)
    for argv in (
        ("query", "4", *TINY_ARGS),
        ("info",),
        ("record", "4"),
        ("flatness", "--arch", "4", *TINY_ARGS),
    ):
        code, out, err = run(capsys, *argv, "--table", path)
        assert (code, out) == (2, ""), argv
        assert err == f"error: {exc.value}\n", argv  # one line, no traceback


def test_stand_ins_returns_the_records_as_read() -> None:
    # the raw records were returned: numpy and float spellings of a number, extra fields
    rec = {**_copy(np.int64(1), np.int64(4), 3.0), "epochs": 200.0, "note": "by hand"}
    table = Table(TINY, {(KEY, 1): _seed_values(1)}, "t", {"isomorphic_to": [rec]})
    found = stand_ins(table)
    assert found is not None
    (got,) = found[1][4]
    assert got == {"dataset": "cifar10", "epochs": 200, "seed": 1, "index": 4, "copied_from": 3}
    assert all(type(v) is int for k, v in got.items() if k != "dataset")
