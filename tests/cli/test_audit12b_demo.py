"""Audit 12b: the demo on a partly measured table says how many neighbours each number is
over, which pool the flattest is taken from and which local optima it could judge; its JSON
keeps the few-pairs caveat; a mean over seeds says where a cell has fewer of them; and a
train --json row names its network size."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.cli.common import seed_fields, seed_words
from nb201_flat.cli.demo import demo_summary
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200, "accuracy")
CENTRE = 11472


def _partial() -> tuple[Table, list[int]]:
    """CENTRE, its 24 neighbours and two far cells with no measured neighbour."""
    rng = np.random.default_rng(0)
    v = np.full(NB201.size, np.nan)
    nb = NB201.neighbours(1).of(CENTRE)
    v[CENTRE] = 90.0
    v[nb] = rng.uniform(80.0, 89.0, len(nb))
    measured = {CENTRE, *map(int, nb)}
    lonely: list[int] = []
    for i in range(NB201.size):  # far from every measured cell and from each other
        if len(lonely) == 2:
            break
        near = set(map(int, NB201.neighbours(1).of(i))) | {i}
        if not near & (measured | set(lonely)):
            lonely.append(i)
    v[lonely] = [70.0, 71.0]
    return Table(NB201, {(KEY, None): v}, source="t"), lonely


def test_partial_demo_rows_carry_their_measured_neighbour_count() -> None:
    table, _ = _partial()
    out = demo_summary(table, top=3, runs=5)
    values = table.vector_for(KEY)
    for b in out["best"]:
        nb = NB201.neighbours(1).of(b["index"])
        assert b["n"] == int((~np.isnan(values[nb])).sum())
    # the centre has all its neighbours measured, the next best (its neighbours) a few
    assert out["best"][0]["n"] == 24 and out["best"][1]["n"] < 24
    f = out["flattest_of_top_1pct"]
    assert f["n"] < 24 and f["pool"] == 27
    # the pool as it is: every measured cell, not "the top 1 %"
    assert "top 27 of the 27 measured cells" in f["meaning"]
    assert "top 1 %" not in f["meaning"] and "measured radius-1 neighbours" in f["meaning"]


def test_partial_demo_does_not_count_cells_with_no_measured_neighbour_as_optima() -> None:
    table, lonely = _partial()
    out = demo_summary(table, top=3, runs=5)
    assert out["local_optima_unjudged"] == len(lonely) == 2
    assert out["local_optima"] == 1  # the centre, the best of its measured neighbourhood


def test_partial_demo_text_says_how_many_neighbours_are_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, _ = _partial()
    path = str(save_table(table, tmp_path / "t.nb201"))
    assert main(["demo", "--table", path, "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "radius-1 neighbourhood (24 cells; nb n: how many of them are measured):" in text
    assert "flattest of the top 27 of the 27 measured:" in text
    assert " of 24 measured)" in text
    assert (
        "local optima at radius 1: 1 (of the measured cells with a measured neighbour; 2 " in text
    )


def test_full_demo_text_keeps_its_labels(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--runs", "5", "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "radius-1 neighbourhood (24 cells):" in text and "nb n" not in text
    assert "flattest of the top 1 %:" in text and "among the top 1 % by value" in text
    assert "measured)" not in text.split("flattest of")[1].splitlines()[0]


def test_demo_json_keeps_the_few_pairs_caveat(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--runs", "5", "--json"]) == 0
    paired = json.loads(capsys.readouterr().out)["search"]["paired_difference"]
    assert paired and all(p["caveat"].startswith("fewer than 20 pairs: ") for p in paired)
    assert main(["demo", "--runs", "5"]) == 0  # the text gives the same words
    assert paired[0]["caveat"] in capsys.readouterr().out


def _two_seeds(drop: bool) -> tuple[Table, MetricKey]:
    key = MetricKey("cifar10-valid", "x-valid", 200, "accuracy")
    a = np.linspace(50.0, 90.0, NB201.size)
    b = a + 1.0
    if drop:
        a[189] = np.nan  # cell 189: seed 888 alone
    return Table(NB201, {(key, 777): a, (key, 888): b}, source="t"), key


def test_a_mean_over_seeds_says_where_a_cell_has_fewer() -> None:
    table, key = _two_seeds(drop=True)
    said = seed_words(table, key)
    assert "2 stored seeds" not in said
    assert said == (
        "value: mean over the seeds measured at each cell (of the 2 stored): 1 cell at fewer than 2"
    )
    assert seed_fields(table, key)["cells_at_fewer_seeds"] == 1


def test_a_mean_over_seeds_of_a_full_table_keeps_its_words() -> None:
    table, key = _two_seeds(drop=False)
    assert seed_words(table, key) == "value: mean over the 2 stored seeds"
    assert seed_fields(table, key)["cells_at_fewer_seeds"] == 0


def test_flatness_header_on_a_cell_of_one_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, _ = _two_seeds(drop=True)
    path = str(save_table(table, tmp_path / "s.nb201"))
    argv = ["flatness", "--dataset", "cifar10-valid", "--split", "x-valid", "--epochs", "200"]
    assert main([*argv, "--arch", "189", "--table", path]) == 0
    assert "1 cell at fewer than 2" in capsys.readouterr().out


def test_train_json_rows_name_the_network_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from train_helpers import write_tiny_cifar10

    root = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "cn.sqlite"
    spaces = []
    for c in ("2", "3"):
        argv = ["train", "1", "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
                "--data-root", str(root), "--device", "cpu", "--executor", "inline",
                "--C", c, "--N", "1", "--threads", "1", "--db", str(db), "--json"]  # fmt: skip
        assert main(argv) == 0
        spaces.append(json.loads(capsys.readouterr().out)["runs"][0]["space_key"])
    # as import --space takes it
    assert spaces == ["nb201@C2N1#faithful", "nb201@C3N1#faithful"]
