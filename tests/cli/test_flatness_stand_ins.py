"""``nb201-flat flatness`` on a retraining table's stand-in cells, and on named cells without a
measured neighbour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "1")
SPACE = Space(("none", "skip_connect", "nor_conv_1x1"), 3)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def copies_path(tmp_path: Path) -> str:
    # `train --nodes 3 --neighbours-of 5 --unique-isomorphism`: 3 trained, 4 and 5 (its
    # neighbours, isomorphic to it) hold its numbers; 14 trained, a neighbour of 13 as 4 is
    acc = np.full(SPACE.size, np.nan)
    acc[[3, 4, 5, 14]] = [8.3333, 8.3333, 8.3333, 20.0]
    meta = {
        "constant_output": [],
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": i, "copied_from": 3}
            for i in (4, 5)
        ],
    }
    t = Table(SPACE, {(MetricKey("cifar10", "ori-test", 1), 777): acc}, "copies", meta)
    return str(save_table(t, tmp_path / "c.nb201"))


def test_flatness_never_compares_a_cell_with_its_own_copies(
    capsys: pytest.CaptureFixture[str], copies_path: str
) -> None:
    # it printed n=2, mean 8.3333, sharp 0.0000 for cell 3: both neighbours copies of it
    code, out, err = run(capsys, "flatness", *KEY, "--arch", "3", "--table", copies_path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "no measured neighbour for cell 3" in err
    assert "2 stand-in member(s) left out by --omit-stand-ins self" in err
    argv = ["flatness", *KEY, "--arch", "3", "--table", copies_path, "--omit-stand-ins", "none"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "stand-ins (not trained): 2 isomorphic copies, 0 constant-output" in out
    assert "every stand-in kept, copies of a row's own cell too" in out
    header, row = out.splitlines()[3], out.splitlines()[5].split()
    assert header.split()[7] == "stand"
    assert row[:3] == ["3", "8.3333", "2"] and row[6:8] == ["0.0000", "2"]
    doc = json.loads(run(capsys, *argv, "--json")[1])
    assert doc["rows"][0]["n_stand_ins"] == 2
    assert doc["stand_ins"] == {"isomorphic_copies": 2, "constant_output": 0, "omit": "none"}


def test_flatness_counts_the_stand_ins_it_keeps(
    capsys: pytest.CaptureFixture[str], copies_path: str
) -> None:
    # 13's neighbours 4 (a copy of 3, not of 13) and 14: both kept, 4 counted as a stand-in
    code, out, _ = run(capsys, "flatness", *KEY, "--arch", "13", "3", "--table", copies_path)
    assert code == 0
    lines = out.splitlines()
    assert "members holding a row's own measurement" in lines[2]
    assert lines[5].split()[:8] == ["13", "-", "2", "14.1667", "8.3333", "5.8333", "-", "1"]
    assert lines[6].split()[:3] == ["3", "8.3333", "0"]
    assert lines[7] == (
        "(n = 0: no measured neighbour for 1 of these rows; their neighbourhood statistics "
        "print as -)"
    )
    argv = ["flatness", *KEY, "--arch", "13", "--omit-stand-ins", "all", "--json"]
    doc = json.loads(run(capsys, *argv, "--table", copies_path)[1])
    assert doc["rows"][0]["n"] == 1 and doc["rows"][0]["n_stand_ins"] == 0


def test_flatness_omit_stand_ins_on_a_table_without_them_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    every = np.arange(NB201.size, dtype=np.float64)
    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 1), None): every})
    path = str(save_table(t, tmp_path / "t.nb201"))
    code, out, err = run(capsys, "flatness", *KEY, "--omit-stand-ins", "all", "--table", path)
    assert code == 2 and err.count("\n") == 1 and "records none: drop it" in err
    code, out, _ = run(capsys, "flatness", *KEY, "--table", path, "--json")
    assert "stand_ins" not in json.loads(out) and "n_stand_ins" not in out


def test_flatness_of_named_cells_without_measured_neighbours_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # one measured cell: `--arch 11472` printed n=0 and - everywhere, exit 0
    lone = np.full(NB201.size, np.nan)
    lone[11472] = 90.0
    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 1), None): lone})
    path = str(save_table(t, tmp_path / "t.nb201"))
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "flatness", *KEY, "--arch", "11472", *extra, "--table", path)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "no measured neighbour for cell 11472 on cifar10/ori-test@1" in err
        assert "--radius" not in err and "use a denser table" in err, err  # no radius helps
    # a neighbour of 11472 has one (11472 itself): the list is served, its n = 0 row marked,
    # and the std of its one member too (a spread needs two)
    near = int(NB201.neighbours(1).of(11472)[0])
    code, out, _ = run(capsys, "flatness", *KEY, "--arch", "11472", str(near), "--table", path)
    assert code == 0 and out.splitlines()[-4].split()[:3] == ["11472", "90.0000", "0"]
    assert out.splitlines()[-3].split()[:6] == [str(near), "-", "1", "90.0000", "90.0000", "-"]
    assert out.splitlines()[-2].startswith("(n = 0: no measured neighbour for 1 of these rows")
    assert out.splitlines()[-1].startswith("(n = 1: one measured neighbour for 1 of these rows")
