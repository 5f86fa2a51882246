"""``barrier`` and ``census`` text says what was computed: path names, direction, seeds, keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

VALID = ("--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")
TEST = ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # x-valid: 10 points per 3x3 conv (ties: a spanning-tree path may wander);
    # x-test: spread over A²M's CIFAR-100 bands, so band pairs can be drawn
    v = (NB201.codes == 3).sum(axis=1).astype(float) * 10
    v[5] = np.nan
    test = np.random.default_rng(0).uniform(50.0, 75.0, NB201.size)
    t = Table(
        NB201,
        {
            (MetricKey("cifar100", "x-valid", 200), None): v,
            (MetricKey("cifar100", "x-test", 200), None): test,
        },
        source="labels-test",
    )
    return save_table(t, tmp_path_factory.mktemp("labels") / "t.nb201")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# the x-valid key's cell 5 is unmeasured: its lowest barrier is an upper bound, named so
# (its pairs reach the worse endpoint, so it is exact all the same)
LOWEST = "lowest over the whole space (exact though 1 cell is unmeasured: at the worse endpoint)"


def _rows(out: str) -> dict[str, str]:
    # the names' column is as wide as its longest name
    return {line[2:].split("  ")[0]: line for line in out.splitlines() if line.startswith("  ")}


def test_tree_path_is_not_named_the_fewest_step_lowest_path(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # the printed 21-step tree path was named as the lowest, whose row says 6
    argv = ("barrier", *VALID, "13291", "9952", "--table", str(table_path))
    _, plain, _ = run(capsys, *argv)
    _, tree, _ = run(capsys, *argv, "--tree-path")
    row = _rows(plain)[LOWEST]
    assert row.endswith("(6 steps)") and _rows(tree)[LOWEST] == row
    assert f"path: {LOWEST}, barrier 5.0000 over 6 steps" in plain
    path = next(line for line in tree.splitlines() if line.startswith("path: "))
    assert path.startswith(f"path: spanning-tree path (barrier: {LOWEST}; ")
    assert "over 21 steps" in path
    _, js, _ = run(capsys, *argv, "--tree-path", "--json")
    doc = json.loads(js)
    assert doc["path"]["name"].startswith("spanning-tree path") and doc["path"]["length"] == 21
    assert doc["barriers"]["lowest"]["length"] == 6


def test_connected_only_lowest_is_named_so(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    argv = ("barrier", *VALID, "13291", "9952", "--table", str(table_path), "--connected-only")
    _, out, _ = run(capsys, *argv)
    # cell 5 is connected: its search could have crossed it
    name = (
        "lowest through connected cells (exact though 1 cell is unmeasured: at the worse endpoint)"
    )
    assert name in _rows(out)
    assert "whole space" not in out
    assert f"path: {name}, barrier" in out
    doc = json.loads(run(capsys, *argv, "--json")[1])
    assert doc["barriers"]["lowest"]["name"] == doc["path"]["name"]
    assert doc["path"]["name"] == name


def test_direction_is_printed(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    # --lower-is-better on an accuracy was accepted and never shown
    argv = ("barrier", *VALID, "13291", "9952", "--table", str(table_path))
    # then what the values are (the table's stored values: this key has no seeds)
    stored = "; value: the table's one stored value per cell (no per-seed values)"
    assert run(capsys, *argv)[1].splitlines()[0].endswith(f"accuracy, higher is better{stored}")
    out = run(capsys, *argv, "--lower-is-better")[1]
    assert out.splitlines()[0].endswith(f"accuracy, lower is better{stored}")
    out = run(capsys, "census", *VALID, "--pairs", "0", "--top-k", "3", "--table", str(table_path))[
        1
    ]
    assert f"cifar100/x-valid@200 accuracy (higher is better{stored})" in out
    out = run(
        capsys,
        "census",
        *VALID,
        "--pairs",
        "0",
        "--top-k",
        "3",
        "--lower-is-better",
        "--table",
        str(table_path),
    )[1]
    assert f"cifar100/x-valid@200 accuracy (lower is better{stored})" in out


def test_census_seed_is_the_pair_draws_and_refused_without_a_draw(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    top = ("census", *VALID, "--pairs", "0", "--top-k", "3", "--table", str(table_path))
    code, out, err = run(capsys, *top, "--pair-seed", "5")
    assert code == 2 and out == ""
    assert (
        err.strip()
        == "error: --pair-seed seeds the band pair draw, and --pairs 0 draws none; drop --pair-seed"
    )
    code, out, _ = run(capsys, *top)
    stored = "; value: the table's one stored value per cell (no per-seed values)"
    assert code == 0 and "pair-draw seed" not in out and stored in out
    doc = json.loads(run(capsys, *top, "--json")[1])
    # the top-K pairs lie at distances 1, 2, ...: no distance was asked for, nor a seed used
    assert doc["distance"] is None and doc["datasets"][0]["pair_seed"] is None
    bands = ("census", *TEST, "--pairs", "3", "--top-k", "2", "--table", str(table_path))
    out = run(capsys, *bands, "--pair-seed", "5")[1]
    # cifar100 is A²M's second dataset: seed + 1, named alone or drawn beside the others
    assert f"cifar100/x-test@200 accuracy (higher is better, pair-draw seed 6{stored})" in out
    doc = json.loads(run(capsys, *bands, "--pair-seed", "5", "--json")[1])
    assert doc["distance"] == 3 and doc["datasets"][0]["pair_seed"] == 6


def test_pairs_out_names_the_key_and_says_where_it_went(
    capsys: pytest.CaptureFixture[str], table_path: Path, tmp_path: Path
) -> None:
    # like the other --out options, missing folders are created; the text says where
    target = tmp_path / "new" / "pairs.csv"
    argv = ("census", *TEST, "--pairs", "3", "--top-k", "2", "--table", str(table_path))
    out = run(capsys, *argv, "--pairs-out", str(target))[1]
    frame = pd.read_csv(target)
    assert out.splitlines()[-1] == f"{len(frame)} pairs written to {target}"  # after the census
    assert list(frame.columns[:4]) == ["dataset", "split", "epochs", "metric"]
    assert set(frame["split"]) == {"x-test"} and set(frame["epochs"]) == {200}
    assert set(frame["metric"]) == {"accuracy"}


def test_help_says_what_the_a2m_rows_and_bands_are(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["barrier", "--help"], ["census", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        if argv[0] == "barrier":
            assert "these two rows change when A and B are swapped" in text
        else:
            assert "also named Models A, B, C, may lie outside them" in text
            assert "not with --pairs 0" in text
            assert "missing folders are created" in text


def test_tree_path_over_an_unmeasured_shortest_path_keeps_the_fewest_steps(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # a shortest path crosses the unmeasured cell 5: only the lowest barrier is served, and
    # its row took the tree path's 18 steps for its length
    argv = ("barrier", *VALID, "7729", "8366", "--table", str(table_path))
    doc = json.loads(run(capsys, *argv, "--tree-path", "--json")[1])
    assert "best_shortest" in doc["unavailable"]
    assert doc["path"]["length"] == 18 and doc["barriers"]["lowest"]["length"] == 6


def test_pairs_out_writes_through_a_link_as_import_out_does(
    capsys: pytest.CaptureFixture[str], table_path: Path, tmp_path: Path
) -> None:
    # the link was replaced by a file: the file it named, and every other path to it, kept
    # the previous pairs
    real = tmp_path / "runs" / "pairs.csv"
    link = tmp_path / "latest.csv"
    link.symlink_to(real)  # dangling: the write creates the file it names
    argv = ("census", *TEST, "--pairs", "3", "--top-k", "2", "--table", str(table_path))
    for seed in ("1", "2"):
        code, _, err = run(capsys, *argv, "--pair-seed", seed, "--pairs-out", str(link))
        assert code == 0, err
        assert link.is_symlink() and os.readlink(link) == str(real)
        assert real.read_bytes() == link.read_bytes() and len(pd.read_csv(real)) > 0
    assert sorted(p.name for p in real.parent.iterdir()) == ["pairs.csv"]  # nothing beside it
