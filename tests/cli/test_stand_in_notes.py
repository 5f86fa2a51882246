"""Landscape measures that count a retraining table's stand-ins (isomorphic copies,
constant-output cells) as measurements say so: ``barrier``, ``census``, ``figures`` and
``demo`` print one note (``StandIns.note``) and give the counts in ``--json``; the numbers
are those of the same values without stand-ins, and a table without them prints nothing new."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.landscape.neighbourhood import StandIns
from nb201_flat.space import Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "skip_connect", "nor_conv_1x1"), 3)
# the key the figures draw (cifar10's 200-epoch test accuracy), so that they run too
KEY = MetricKey("cifar10", "ori-test", 200)
KEY_ARGS = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
COPIES = (4, 5)  # hold cell 3's numbers
SAYS = "are stand-ins, not trained"  # the note's words, on whatever it counts


def _values() -> np.ndarray:
    v = np.random.default_rng(3).uniform(40.0, 90.0, SPACE.size).round(4)
    v[list(COPIES)] = v[3]
    v[~SPACE.connected] = 10.0  # chance
    return v


def _save(folder: Path, name: str, meta: dict[str, Any]) -> str:
    t = Table(SPACE, {(KEY, 777): _values()}, name, meta)
    return str(save_table(t, folder / f"{name}.nb201"))


def _copies_meta(dataset: str = "cifar10") -> dict[str, Any]:
    return {
        "constant_output": np.flatnonzero(~SPACE.connected).tolist(),
        "isomorphic_to": [
            {"dataset": dataset, "epochs": 200, "seed": 777, "index": i, "copied_from": 3}
            for i in COPIES
        ],
    }


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, str]:
    """The same values three ways: with stand-ins, without (a benchmark's numbers), and a
    retraining table whose copies are of another dataset (none for this key)."""
    return {
        "stand": _save(tmp_path, "stand", _copies_meta()),
        "plain": _save(tmp_path, "plain", {}),
        "other": _save(tmp_path, "other", {**_copies_meta("cifar100"), "constant_output": []}),
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _note(what: str) -> str:
    n_constant = int((~SPACE.connected).sum())
    stand = StandIns.build(
        SPACE.size, copies=[(i, 3) for i in COPIES], constant=np.flatnonzero(~SPACE.connected)
    )
    note = stand.note(what)
    assert note is not None and f"{len(COPIES)} copies" in note and f"{n_constant} constant" in note
    return note


def _without(doc: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in keys}


def test_note_wording_counts_each_cell_once() -> None:
    # a cell both copied and constant-output is one stand-in
    s = StandIns.build(10, copies=[(1, 0), (2, 0)], constant=[2, 7])
    note = s.note("X")
    assert note is not None
    assert note.startswith("3 of the 10 values are stand-ins, not trained (2 copies")
    assert "2 constant-output cells' chance values); counted as measurements by X" in note
    only_constant = StandIns.build(10, constant=[7]).note("X")
    assert only_constant == (
        "1 of the 10 values are stand-ins, not trained (1 constant-output cell's chance "
        "value); counted as measurements by X"
    )
    assert StandIns.build(10).note("X") is None
    assert s.as_dict("X") == {"isomorphic_copies": 2, "constant_output": 2, "note": note}


def test_barrier_says_it_counts_the_stand_ins(
    capsys: pytest.CaptureFixture[str], tables: dict[str, str]
) -> None:
    argv = ["barrier", "3", "13", *KEY_ARGS]
    stand = run(capsys, *argv, "--table", tables["stand"])
    plain = run(capsys, *argv, "--table", tables["plain"])
    note = _note("the barriers")
    # the same numbers, and one line more
    assert stand == plain + f"note: {note}\n"
    assert SAYS not in plain and "stand-in" not in plain
    doc = json.loads(run(capsys, *argv, "--json", "--table", tables["stand"]))
    bare = json.loads(run(capsys, *argv, "--json", "--table", tables["plain"]))
    n_constant = int((~SPACE.connected).sum())
    assert doc["stand_ins"] == {
        "isomorphic_copies": len(COPIES),
        "constant_output": n_constant,
        "note": note,
    }
    assert "stand_ins" not in bare
    assert _without(doc, "stand_ins", "source") == _without(bare, "source")


def test_barrier_says_nothing_where_the_key_has_no_stand_ins(
    capsys: pytest.CaptureFixture[str], tables: dict[str, str]
) -> None:
    # a retraining table whose copies are of another dataset, no constant-output cell
    argv = ["barrier", "3", "13", *KEY_ARGS]
    other = run(capsys, *argv, "--table", tables["other"])
    assert other == run(capsys, *argv, "--table", tables["plain"])
    assert "stand_ins" not in json.loads(run(capsys, *argv, "--json", "--table", tables["other"]))


def test_census_says_it_counts_the_stand_ins(
    capsys: pytest.CaptureFixture[str], tables: dict[str, str]
) -> None:
    argv = ["census", *KEY_ARGS, "--pairs", "0", "--top-k", "6"]
    stand = run(capsys, *argv, "--table", tables["stand"])
    plain = run(capsys, *argv, "--table", tables["plain"])
    note = _note("the census")
    lines = stand.splitlines()
    assert lines.count(f"note: {note}") == 1
    lines.remove(f"note: {note}")
    assert lines == plain.splitlines()
    assert SAYS not in plain
    doc = json.loads(run(capsys, *argv, "--json", "--table", tables["stand"]))
    bare = json.loads(run(capsys, *argv, "--json", "--table", tables["plain"]))
    (res,) = doc["datasets"]
    assert res["stand_ins"]["note"] == note and res["notes"] == [note]
    assert res["stand_ins"]["isomorphic_copies"] == len(COPIES)
    (plain_res,) = bare["datasets"]
    assert "stand_ins" not in plain_res and plain_res["notes"] == []
    assert _without(res, "stand_ins", "notes") == _without(plain_res, "notes")


@pytest.mark.parametrize(
    ("figure", "what"),
    [
        ("distance_profile", "the profile and its FDC"),
        ("barrier_tree", "the barrier tree"),
        ("barrier_census", "the census"),
        ("a2m_distributions", "the neighbour distributions"),
        ("na_projection", "the projected surface"),
    ],
)
def test_figures_note_the_stand_ins(
    capsys: pytest.CaptureFixture[str],
    tables: dict[str, str],
    tmp_path: Path,
    figure: str,
    what: str,
) -> None:
    def notes(name: str) -> list[str]:
        argv = ["figures", "--only", figure, "--formats", "png", "--json"]
        doc = json.loads(run(capsys, *argv, "--out", str(tmp_path / name), "--table", tables[name]))
        (made,) = doc["figures"]
        return list(made["notes"])

    stand = notes("stand")
    assert f"CIFAR-10: {_note(what)}" in stand
    assert not any(SAYS in n for n in notes("plain"))


def test_demo_says_its_landscape_facts_count_the_stand_ins(
    capsys: pytest.CaptureFixture[str], tables: dict[str, str]
) -> None:
    argv = ["demo", "--runs", "10", "--top", "3"]
    doc = json.loads(run(capsys, *argv, "--json", "--table", tables["stand"]))
    bare = json.loads(run(capsys, *argv, "--json", "--table", tables["plain"]))
    note = _note("the FDC, the local optima count and the barrier")
    assert doc["stand_ins"]["note"] == note and "stand_ins" not in bare
    for fact in ("fitness_distance_correlation", "local_optima", "barrier_best_two"):
        assert doc[fact] == bare[fact]
    text = run(capsys, *argv, "--table", tables["stand"])
    assert f"  note: {note}" in text.splitlines()
    assert SAYS not in run(capsys, *argv, "--table", tables["plain"])
