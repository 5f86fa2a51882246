"""The demo's summary on the embedded default table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.cli.demo import demo_summary
from nb201_flat.table import Table


def test_demo_summary_on_default(default_table: Table) -> None:
    out = demo_summary(default_table, top=3, runs=10, seed=1)
    acc = default_table.vector("cifar10", "ori-test", 200)
    values = [b["value"] for b in out["best"]]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(np.nanmax(acc))
    nb = default_table.space.neighbours(1).of(out["best"][0]["index"])
    assert out["best"][0]["nbhd_mean"] == pytest.approx(acc[nb].mean())
    assert 1 <= out["local_optima"] < default_table.space.size
    rows = out["search"]["rows"]
    assert {r["algorithm"] for r in rows} == {"RS", "NA-RS"} and all(r["n"] == 10 for r in rows)
    # the embedded table has no validation split: the search is flagged as optimistic
    assert any("OPTIMISTIC" in n for n in out["search"]["notes"])
    again = demo_summary(default_table, top=3, runs=10, seed=1)
    for d in (again, out):
        d["search"].pop("seconds")  # wall time, the only thing allowed to differ
    assert again == out


def test_demo_cli_json(capsys: pytest.CaptureFixture[str], default_table: Table) -> None:
    assert main(["demo", "--runs", "5", "--top", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["best"]) == 2 and payload["archs"] == 15625
