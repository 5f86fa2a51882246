"""The README's tables of real-data numbers are what the commands they name print: the named
barriers between A²M's first CIFAR-10 pair, and the barrier census. Each number is read from
the README and compared, at the precision it is written with, to the command's ``--json``."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from nb201_flat.cli import main
from nb201_flat.storage import save_table
from nb201_flat.table import Table

pytestmark = pytest.mark.realdata

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
# the README's names of the census datasets
DATASETS = {"CIFAR-10": "cifar10", "CIFAR-100": "cifar100", "ImageNet16-120": "ImageNet16-120"}


@pytest.fixture(scope="module")
def table_path(real_table: Table, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("readme") / "real.nb201"
    save_table(real_table, out)
    return str(out)


def json_of(capsys: pytest.CaptureFixture[str], words: list[str], table: str) -> dict[str, Any]:
    assert main([*words, "--table", table, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def command(text: str) -> list[str]:
    """The words after ``nb201-flat`` of a command quoted in backticks (it may wrap)."""
    return shlex.split(" ".join(text.split()))[1:]


def table_after(header_start: str) -> list[list[str]]:
    """The cells of each row of the Markdown table whose header row starts so."""
    lines = README.split("\n" + header_start, 1)[1].splitlines()[2:]  # past the rule row
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    assert rows, f"no rows under {header_start!r}"
    return rows


def found(pattern: str, text: str) -> re.Match[str]:
    """The first match of ``pattern`` in ``text``, which the README must still hold."""
    match = re.search(pattern, text)
    assert match, f"README lost {pattern!r}: {text[:80]!r}"
    return match


def agrees(written: str, value: float, scale: float = 1.0) -> bool:
    """``value`` (times ``scale``) rounds to the number ``written`` at its own precision
    (a value on the rounding boundary, such as 0.175 stored as 0.17499..., may go either way)."""
    decimals = len(written.split(".")[1]) if "." in written else 0
    return abs(value * scale - float(written)) <= 0.5 * 10.0**-decimals + 1e-9


def test_the_named_barriers_table(capsys: pytest.CaptureFixture[str], table_path: str) -> None:
    header = "| name (key) | what it is |"
    head = README.split("\n" + header, 1)[1].splitlines()[0]
    words = command(found(r"`(nb201-flat barrier [^`]+)`", head).group(1))
    out = json_of(capsys, words, table_path)
    checked = set()
    for cells in table_after(header):
        key = found(r"\(`(\w+)`\)", cells[0]).group(1)
        number, *steps = cells[-1].split(" (")
        assert agrees(number, out["barriers"][key]["barrier"]), (key, cells[-1])
        if steps:  # "(3 steps)": the printed lowest path's length
            assert steps[0] == f"{out['path']['length']} steps)", (key, cells[-1])
        checked.add(key)
    assert checked == set(out["barriers"])  # every named barrier, none left unchecked


def test_the_census_table(capsys: pytest.CaptureFixture[str], table_path: str) -> None:
    words = command(found(r"`(nb201-flat census --table [^`]+)`", README).group(1))
    at = words.index("--table")
    del words[at : at + 2]  # the README's own path: this test's import instead
    out = json_of(capsys, words, table_path)
    every = {
        d["dataset"]: next(g for g in d["groups"] if g["group"] == "all") for d in out["datasets"]
    }
    rows = table_after("| dataset | no barrier beyond the worse endpoint |")
    assert sorted(DATASETS[r[0]] for r in rows) == sorted(every)
    for name, no_barrier, within_d, *medians in rows:
        got = every[DATASETS[name]]
        count, pairs, share = found(r"^(\d+) / (\d+) \(([\d.]+) %\)$", no_barrier).groups()
        assert int(pairs) == got["pairs"], name
        assert int(count) == round(got["no_barrier_fraction"] * got["pairs"]), name
        assert agrees(share, got["no_barrier_fraction"], 100), name
        assert agrees(within_d.removesuffix(" %"), got["lowest_is_shortest_fraction"], 100), name
        columns = ("lowest", "best_shortest", "mean_path", "worst_shortest")
        for column, written in zip(columns, medians, strict=True):
            assert agrees(written, got[f"median_{column}"]), (name, column, written)
