"""``nb201-flat flatness`` rows whose statistics are undefined: never ranked as if they had
values, and a listing that serves nothing is an error (audit A4, A5); the seed wording of a key
that stores per-seed values beside its one value (audit C).

The table: four centres far apart (all six edges different, so no two neighbourhoods meet),
the best without a measured neighbour, the next with one (no spread), the last two with two.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.conventions import search_key
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey
from nb201_flat.testing import synthetic_table, table_from

TABLE_KEY = MetricKey("cifar10", "ori-test", 200)
KEY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
# centre k: every edge takes op k; any two lie 6 edges apart
A, B, C, D = (int(NB201.indices_of_codes(np.full((1, NB201.n_edges), k))[0]) for k in range(4))


def _neighbours(cell: int, n: int) -> list[int]:
    return [int(j) for j in NB201.neighbours(1).of(cell)[:n]]


def _save(values: np.ndarray, path: Path) -> str:
    return str(save_table(table_from(values, key=TABLE_KEY), path))


@pytest.fixture
def table_path(tmp_path: Path) -> str:
    v = np.full(NB201.size, np.nan)
    v[[A, B, C, D]] = [95.0, 90.0, 85.0, 84.0]
    v[_neighbours(B, 1)] = 50.0  # B: one measured neighbour
    v[_neighbours(C, 2)] = [80.0, 70.0]  # C: std 5
    v[_neighbours(D, 2)] = [83.0, 83.0]  # D: std 0, the flattest spread
    return _save(v, tmp_path / "t.nb201")


@pytest.fixture
def lonely_path(tmp_path: Path) -> str:
    # the audit's `sm`: two measured cells, neither with a measured neighbour
    v = np.full(NB201.size, np.nan)
    v[[A, B]] = [85.0, 93.0]
    return _save(v, tmp_path / "lonely.nb201")


def _listing(capsys: pytest.CaptureFixture[str], path: str, *argv: str) -> dict:
    code, out, err = run(capsys, "flatness", *KEY, "--top", "4", *argv, "--json", "--table", path)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("--sort-by", "mean", "--limit", "1"),
        ("--agg", "min", "--sort-by", "score"),
        ("--sort-by", "std"),
    ],
)
def test_a_listing_without_a_measured_neighbour_is_an_error(
    capsys: pytest.CaptureFixture[str], lonely_path: str, argv: tuple[str, ...]
) -> None:
    # it exited 0 with rows of - (or null scores), where the same cells by --arch were refused
    for extra in ((), ("--json",)):
        line = one_line_exit_2(capsys, "flatness", *KEY, *argv, *extra, "--table", lonely_path)
        listed = f"{B}" if "--limit" in argv else f"{B}, {A}"  # by value, as --limit cuts
        assert f"no measured neighbour for cell {listed} on cifar10/ori-test@200" in line
        # both measured cells are listed: a larger --top cannot help
        assert "cannot be served; use a denser table or widen --radius" in line
    line = one_line_exit_2(capsys, "flatness", *KEY, "--arch", str(A), "--table", lonely_path)
    assert "choose cells with measured neighbours or widen --radius" in line


def test_the_fix_names_what_can_serve_more_rows(
    capsys: pytest.CaptureFixture[str], table_path: str
) -> None:
    line = one_line_exit_2(capsys, "flatness", *KEY, "--top", "1", "--table", table_path)
    assert f"no measured neighbour for cell {A}" in line and "raise --top or widen" in line
    # B, cut by --limit, has a measured neighbour
    argv = ("flatness", *KEY, "--top", "2", "--limit", "1", "--table", table_path)
    assert "raise --limit or widen --radius" in one_line_exit_2(capsys, *argv)


def test_a_single_measured_neighbour_has_no_std(
    capsys: pytest.CaptureFixture[str], table_path: str
) -> None:
    doc = _listing(capsys, table_path, "--agg", "std")
    rows = {r["index"]: r for r in doc["rows"]}
    assert [rows[c]["n"] for c in (A, B, C, D)] == [0, 1, 2, 2]
    assert rows[B]["mean"] == 50.0 and rows[B]["std"] is None and rows[B]["score"] is None
    assert rows[C]["std"] == pytest.approx(5.0) and rows[D]["std"] == pytest.approx(0.0)
    code, out, _ = run(capsys, "flatness", *KEY, "--top", "4", "--table", table_path)
    lines = out.splitlines()
    row_b = next(line.split() for line in lines if line.split()[:1] == [str(B)])
    assert code == 0 and row_b[2:6] == ["1", "50.0000", "50.0000", "-"]
    assert (
        "(n = 1: one measured neighbour for 1 of these rows; a spread needs two, so their " in out
    )


@pytest.mark.parametrize("argv", [("--sort-by", "std"), ("--agg", "std", "--sort-by", "score")])
def test_a_spread_ranks_only_the_rows_that_have_one(
    capsys: pytest.CaptureFixture[str], table_path: str, argv: tuple[str, ...]
) -> None:
    # B's one neighbour gave std 0.0000: it ranked as the flattest
    doc = _listing(capsys, table_path, *argv)
    column = argv[-1]
    assert [r["index"] for r in doc["rows"]] == [D, C, A, B]  # unranked last, as listed
    assert [r[column] for r in doc["rows"]][2:] == [None, None]
    assert doc["unranked"] == 2
    first = _listing(capsys, table_path, *argv, "--limit", "1")
    assert [r["index"] for r in first["rows"]] == [D] and first["unranked"] == 2
    code, out, _ = run(capsys, "flatness", *KEY, "--top", "4", *argv, "--table", table_path)
    assert code == 0
    assert (
        f"note: 2 of the 4 rows have no {column} (fewer than two measured neighbours: a spread "
        "needs two): not ranked, they come after the ranked rows"
    ) in out
    # no row with a spread: nothing to rank
    line = one_line_exit_2(capsys, "flatness", *KEY, "--top", "2", *argv, "--table", table_path)
    assert f"--sort-by {column}: none of the top 2 cells has a {column}" in line
    assert (
        "nothing can be ranked; raise --top, widen --radius (--within counts every distance "
        "1..R, --exact R alone), or sort by another column"
    ) in line
    argv_arch = ("--arch", str(B), str(A), *argv)
    line = one_line_exit_2(capsys, "flatness", *KEY, *argv_arch, "--table", table_path)
    assert f"none of the 2 given cells has a {column}" in line and "choose other cells" in line


def test_a_row_without_a_neighbourhood_mean_is_not_ranked(
    capsys: pytest.CaptureFixture[str], table_path: str
) -> None:
    doc = _listing(capsys, table_path, "--sort-by", "mean")
    assert [r["index"] for r in doc["rows"]] == [D, C, B, A] and doc["unranked"] == 1
    assert _listing(capsys, table_path)["unranked"] is None  # nothing sorted
    doc = _listing(capsys, table_path, "--sort-by", "mean", "--limit", "1")
    assert [r["index"] for r in doc["rows"]] == [D]
    code, out, _ = run(
        capsys, "flatness", *KEY, "--top", "4", "--sort-by", "mean", "--table", table_path
    )
    assert code == 0 and "note: 1 of the 4 rows has no mean (no measured neighbour)" in out


def test_a_stored_value_beside_per_seed_values_is_not_called_seedless(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # it said "(no per-seed values)" for a key storing seeds 0, 1, 2 beside its value
    table = synthetic_table()
    key = search_key("cifar100", 200)
    assert (key, None) in table.data and table.seeds(key) == [0, 1, 2]
    path = str(save_table(table, tmp_path / "s.nb201"))
    argv = ("--dataset", key.dataset, "--split", key.split, "--epochs", str(key.epochs))
    code, out, _ = run(capsys, "flatness", *argv, "--top", "1", "--table", path)
    head = out.splitlines()[0]
    assert code == 0 and "no per-seed values" not in head
    assert (
        "value: the table's one stored value per cell, not its per-seed values (seeds 0, 1, 2)"
        in head
    )
    # a key without per-seed values keeps its words
    code, out, _ = run(capsys, "flatness", *KEY, "--top", "1", "--table", path)
    assert (
        "value: the table's one stored value per cell (no per-seed values)" in out.splitlines()[0]
    )
