"""``nb201-flat flatness`` and ``nb201-flat barrier``: JSON output and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = ("--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    v = (NB201.codes == 3).sum(axis=1).astype(float) * 10  # 10 points per 3x3 conv
    v[5] = np.nan
    loss = 100 - v
    t = Table(
        NB201,
        {
            (MetricKey("cifar100", "x-valid", 200), None): v,
            (MetricKey("cifar100", "x-valid", 200, "loss"), None): loss,
        },
        source="cli-test",
    )
    return save_table(t, tmp_path / "t.nb201")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_flatness_top_json(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    code, out, _ = run(capsys, "flatness", *KEY, "--top", "3", "--table", str(table_path), "--json")
    assert code == 0
    payload = json.loads(out)
    archs = payload["archs"]
    assert len(archs) == 3
    best = NB201.from_ops(["nor_conv_3x3"] * 6).index
    assert archs[0]["index"] == best and archs[0]["value"] == 60.0
    # all six edges are 3x3 convs: each of the 24 neighbours has one fewer
    assert archs[0]["mean"] == 50.0 and archs[0]["sharpness"] == 10.0 and archs[0]["std"] == 0.0
    assert payload["neighbourhood"]["radius"] == 1


def test_flatness_chosen_archs_text(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    arch = NB201.arch(11472).to_str()
    code, out, _ = run(
        capsys,
        "flatness",
        *KEY,
        "--arch",
        arch,
        "7",
        "--radius",
        "2",
        "--within",
        "--table",
        str(table_path),
    )
    assert code == 0
    assert "11472" in out and "\n     7 " in out and "distance <=2" in out


def test_barrier_json(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    a, b = 0, NB201.size - 1
    code, out, _ = run(
        capsys, "barrier", str(a), str(b), *KEY, "--table", str(table_path), "--json"
    )
    assert code == 0
    full = json.loads(out)
    p = full["path"]  # the path printed: the lowest over the whole space by default
    assert p["name"] == "lowest over the whole space"
    assert p["path"][0] == NB201.arch(a).to_str() and p["path"][-1] == NB201.arch(b).to_str()
    assert len(p["values"]) == len(p["path"])
    assert p["barrier"] == pytest.approx(
        0.5 * (p["values"][0] + p["values"][-1]) - min(p["values"])
    )
    assert len(p["path"]) == NB201.hamming(a, b) + 1  # fewest steps by default here
    assert "barrier" not in full  # no unnamed top-level barrier
    named = full["barriers"]
    assert named["lowest"]["barrier"] == p["barrier"]
    assert set(named) == {
        "best_shortest",
        "worst_shortest",
        "mean_path",
        "a2m_code_54ce096",
        "a2m_code_947bc3e",
        "lowest",
    }
    half = abs(full["value_a"] - full["value_b"]) / 2
    for name in ("best_shortest", "worst_shortest", "mean_path", "lowest"):
        assert named[name]["above_worse_endpoint"] == pytest.approx(named[name]["barrier"] - half)
    assert "above_worse_endpoint" not in named["a2m_code_54ce096"]
    assert (
        named["lowest"]["barrier"]
        <= named["best_shortest"]["barrier"]
        <= named["mean_path"]["barrier"]
        <= named["worst_shortest"]["barrier"]
    )
    code, out, _ = run(
        capsys, "barrier", str(a), str(b), *KEY, "--tree-path", "--table", str(table_path), "--json"
    )
    assert code == 0 and json.loads(out)["path"]["barrier"] == p["barrier"]
    code, out, _ = run(
        capsys,
        "barrier",
        str(a),
        str(b),
        *KEY,
        "--method",
        "shortest",
        "--table",
        str(table_path),
        "--json",
    )
    full_s = json.loads(out)
    s = full_s["path"]
    assert code == 0 and len(s["path"]) == NB201.hamming(a, b) + 1
    assert s["barrier"] >= p["barrier"]
    assert s["name"] == "best shortest path"
    assert s["barrier"] == pytest.approx(full_s["barriers"]["best_shortest"]["barrier"])
    assert len(full_s["barriers"]["mean_path"]["level_mean"]) == NB201.hamming(a, b) + 1
    code, out, _ = run(
        capsys,
        "barrier",
        str(a),
        str(b),
        *KEY,
        "--method",
        "worst-shortest",
        "--table",
        str(table_path),
        "--json",
    )
    w = json.loads(out)
    assert code == 0 and w["path"]["name"] == "worst shortest path"
    assert w["path"]["barrier"] == pytest.approx(w["barriers"]["worst_shortest"]["barrier"])


def test_barrier_text_names_every_barrier(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, out, _ = run(capsys, "barrier", "0", "100", *KEY, "--table", str(table_path))
    assert code == 0
    for label in (
        "best shortest path",
        "worst shortest path",
        "mean path (level means)",
        "A²M code, current (54ce096)",
        "A²M code, 947bc3e",
        "lowest over the whole space",
        "beyond worse endpoint",
    ):
        assert label in out


def test_barrier_tree_path_needs_lowest(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, _, err = run(
        capsys,
        "barrier",
        "0",
        "100",
        *KEY,
        "--method",
        "shortest",
        "--tree-path",
        "--table",
        str(table_path),
    )
    assert code == 2 and "--tree-path" in err and err.count("\n") == 1


def test_barrier_on_a_loss_is_mirrored(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    args = ("barrier", "0", "100", *KEY, "--table", str(table_path), "--json")
    _, out_acc, _ = run(capsys, *args)
    _, out_loss, _ = run(capsys, *args, "--metric", "loss")
    acc, loss = json.loads(out_acc), json.loads(out_loss)
    assert loss["higher_is_better"] is False
    assert loss["path"]["barrier"] == pytest.approx(acc["path"]["barrier"])
    for name, entry in acc["barriers"].items():
        assert loss["barriers"][name]["barrier"] == pytest.approx(entry["barrier"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("barrier", "0", "not-an-arch", *KEY), "malformed architecture"),
        (("barrier", "0", "5", *KEY), "NaN"),
        (
            ("flatness", "--dataset", "cifar10", "--split", "x-valid", "--epochs", "200"),
            "unknown dataset",
        ),
        (("flatness", *KEY, "--radius", "9"), "radius"),
        (("flatness", *KEY, "--top", "0"), "--top"),
    ],
)
def test_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], table_path: Path, argv: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--table", str(table_path))
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
