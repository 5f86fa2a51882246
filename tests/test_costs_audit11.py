"""Costs (an eleventh audit's findings): NASLib's FLOPs keep a name of their own, costs and
limits print as the floats they are, and the shapes advice for an unknown dataset parses."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.constraints import (
    ConstraintError,
    analytic_for,
    best_under,
    cost_band,
    cost_vector,
    flatness_in_band,
)
from nb201_flat.conventions import COST_METRICS, cannot_be_negative
from nb201_flat.costs import with_analytic_costs
from nb201_flat.errors import FormatError, UnknownKeyError
from nb201_flat.importers.naslib import to_naslib
from nb201_flat.importers.naslib_zc import read_naslib_zc
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey
from nb201_flat.testing import synthetic_table

# --- NASLib's FLOPs are not NB201's flops_m -------------------------------------------------

# two cells as NASLib's Suite-Zero file holds them; its flops count pooling, BN and ReLU too
# (cell 0's NB201 flops_m_analytic on cifar10 is 7.78305, NASLib's 7.94387 or more)
_CELLS = {0: (86.1, 9.2341), 6111: (88.5, 42.81)}


def _zc_file(tmp_path: Path) -> Path:
    archs = {}
    for i, (acc, flops) in _CELLS.items():
        key = str(to_naslib(NB201.arch(i)))
        archs[key] = {
            "idx": str(i),
            "arch": key,
            "flops": {"score": flops, "time": 0.4},
            "params": {"score": 0.5, "time": 0.4},
            "synflow": {"score": 41.9, "time": 0.5},
            "val_accuracy": acc,
        }
    path = tmp_path / "zc_nasbench201.json"
    path.write_text(json.dumps({"cifar10": archs}))
    return path


def test_naslib_flops_are_imported_under_their_own_cost_name(tmp_path: Path) -> None:
    # they were imported as flops_m, NB201's get_model_infos FLOPs, which they are not
    df = read_naslib_zc(_zc_file(tmp_path))
    model = df[df["split"] == "model"]
    assert sorted(set(model["metric"])) == ["flops_m_naslib", "params_mb"]
    flops = model[model["metric"] == "flops_m_naslib"].set_index("index")["value"]
    assert flops.to_dict() == {i: f for i, (_, f) in _CELLS.items()}
    # a cost like the others: listed, never negative, and no analytic cost is the same quantity
    assert "flops_m_naslib" in COST_METRICS and cannot_be_negative("flops_m_naslib")
    assert analytic_for("flops_m_naslib") == "params_mb_analytic or flops_m_analytic"


def test_a_negative_naslib_flops_is_refused_as_a_cost(tmp_path: Path) -> None:
    path = _zc_file(tmp_path)
    data = json.loads(path.read_text())
    next(iter(data["cifar10"].values()))["flops"]["score"] = -2.5
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=r"flops: -2\.5 is negative, which .* a cost cannot be"):
        read_naslib_zc(path)


def test_constrained_by_flops_m_on_a_naslib_table_names_its_own_flops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "zc.nb201"
    assert main(["import", str(_zc_file(tmp_path)), "--out", str(out)]) == 0
    capsys.readouterr()
    argv = ["constrained", "--table", str(out), "--dataset", "cifar10"]
    argv += ["--split", "naslib-valid", "--epochs", "200", "--max-cost", "50"]
    assert main([*argv, "--cost", "flops_m"]) == 2
    err = capsys.readouterr().err
    assert "stores no cost 'flops_m' for cifar10" in err
    assert "its model metrics there: flops_m_naslib, params_mb" in err
    assert main([*argv, "--cost", "flops_m_naslib", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["index"], r["cost"]) for r in rows] == [(6111, 42.81)]


# --- costs and limits print as the floats they are ----------------------------------------

# a stored cost of 8 significant digits (10.0000004 + 0.001 i): 6 digits rounded each down
_COST = MetricKey("cifar10-valid", "model", 200, "latency_s")


def _table_path(tmp_path: Path) -> Path:
    cost = 10.0000004 + 0.001 * np.arange(NB201.size)
    return save_table(synthetic_table().with_vector(_COST, cost), tmp_path / "t")


def _argv(path: Path) -> list[str]:
    return [
        "constrained", "--table", str(path), "--dataset", "cifar10-valid", "--split", "x-valid",
        "--epochs", "200", "--cost", "latency_s",
    ]  # fmt: skip


def test_the_smallest_cost_a_refusal_names_is_a_limit_that_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 'the smallest latency_s is 10: raise --max-cost', and --max-cost 10 failed again
    argv = _argv(_table_path(tmp_path))
    assert main([*argv, "--max-cost", "1"]) == 2
    err = capsys.readouterr().err
    found = re.search(r"the smallest latency_s is (\S+): raise --max-cost", err)
    assert found is not None, err
    assert main([*argv, "--max-cost", found[1], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in doc["rows"]] == [0]


def test_a_printed_cost_given_back_as_the_limit_keeps_its_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the row printed latency_s=13.5621 for 13.5620004, which as a limit left the cell out
    argv = _argv(_table_path(tmp_path))
    assert main([*argv, "--max-cost", "1e9"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    index, printed = int(row.split()[0]), re.search(r"latency_s=(\S+)", row)
    assert printed is not None
    assert float(printed[1]) == 10.0000004 + 0.001 * index
    assert main([*argv, "--max-cost", printed[1]]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[0] == str(index)
    # the header names the limit given, not a rounding of it
    assert f"best with latency_s <= {printed[1]} (" in out


def test_the_header_tells_two_limits_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _argv(_table_path(tmp_path))
    heads = []
    for limit in ("86.4262", "86.42625"):
        assert main([*argv, "--max-cost", limit]) == 0
        heads.append(capsys.readouterr().out.splitlines()[0])
    assert "<= 86.4262 (" in heads[0] and "<= 86.42625 (" in heads[1]


def test_band_and_best_under_messages_keep_every_digit() -> None:
    t = synthetic_table().with_vector(_COST, 10.0000004 + 0.001 * np.arange(NB201.size))
    # 'got 0.400346 > 0.400346'
    with pytest.raises(ConstraintError, match=r"got 0\.4003460000000001 > 0\.400346$"):
        cost_band(t, "cifar10-valid", "latency_s", 0.4003460000000001, 0.400346)
    with pytest.raises(ConstraintError, match=r"no architecture has 1\.2345678 <= latency_s <= 2"):
        flatness_in_band(t, "cifar10-valid", "x-valid", 200, cost="latency_s", lo=1.2345678, hi=2)
    with pytest.raises(ConstraintError) as err:
        best_under(t, "cifar10-valid", "x-valid", 200, cost="latency_s", max_cost=9.9999996)
    assert "latency_s <= 9.9999996; the smallest latency_s is 10.0000004: raise" in str(err.value)


def test_a_naslib_value_out_of_range_is_printed_as_read(tmp_path: Path) -> None:
    # 'val_accuracy: 100 is not an accuracy in percent (0..100)' for 100.0000001
    path = _zc_file(tmp_path)
    data = json.loads(path.read_text())
    next(iter(data["cifar10"].values()))["val_accuracy"] = 100.0000001
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=r"val_accuracy: 100\.0000001 is not an accuracy"):
        read_naslib_zc(path)


# --- the shapes advice for a dataset of unknown shape -------------------------------------


def test_the_shapes_advice_is_a_call_that_parses_and_serves() -> None:
    # it printed shapes={'svhn': (classes, side)}}): a SyntaxError when pasted
    t = synthetic_table()
    with pytest.raises(UnknownKeyError) as err:
        cost_vector(t, "svhn", "flops_m_analytic")
    call = str(err.value).split("add its analytic costs first: ", 1)[1]
    tree = ast.parse(call, mode="eval")
    assert isinstance(tree.body, ast.Call)
    table = eval(  # the advice as written, with the shape filled in
        compile(tree, "<advice>", "eval"),
        {"with_analytic_costs": with_analytic_costs, "table": t, "classes": 10, "side": 32},
    )
    np.testing.assert_array_equal(
        cost_vector(table, "svhn", "flops_m_analytic"),
        cost_vector(t, "cifar10", "flops_m_analytic"),
    )
