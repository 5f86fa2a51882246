"""``nb201-flat flatness`` without pandas or an Arch per row (audit 13): the command lists
:func:`flatness_columns`' arrays, which :func:`flatness` wraps in its frame, and the listed
cells' strings come from one :meth:`Space.strings` call.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

import nb201_flat.landscape.neighbourhood as neighbourhood
from nb201_flat.errors import InvalidArchError
from nb201_flat.landscape.neighbourhood import StandIns, flatness
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table

ROOT = Path(__file__).resolve().parents[2]
KEY = ("--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")
COPIES_KEY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "1")
SMALL = Space(("none", "skip_connect", "nor_conv_1x1"), 3)  # lexicographic, 27 cells


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("flat") / "t.nb201"))


def _copies() -> Table:
    # cell 3 trained; 4 and 5, its neighbours, copies of it (test_flatness_stand_ins' table)
    acc = np.full(SMALL.size, np.nan)
    acc[[3, 4, 5, 14]] = [8.3333, 8.3333, 8.3333, 20.0]
    meta = {
        "constant_output": [],
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": i, "copied_from": 3}
            for i in (4, 5)
        ],
    }
    return Table(SMALL, {(MetricKey("cifar10", "ori-test", 1), 777): acc}, "copies", meta)


@pytest.fixture(scope="module")
def copies_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(_copies(), tmp_path_factory.mktemp("copies") / "c.nb201"))


def test_the_flatness_command_loads_no_pandas(table_path: str, copies_path: str) -> None:
    # pandas was imported to wrap the arrays the command read straight back: 0.2 of 0.4 s
    runs = [
        [*KEY, "--table", table_path],
        [*KEY, "--table", table_path, "--radius", "2", "--agg", "median", "--json"],
        [*KEY, "--table", table_path, "--top", "100000", "--sort-by", "std", "--limit", "3"],
        # a refusal that counts the stand-ins --omit-stand-ins left out
        [*COPIES_KEY, "--arch", "3", "--table", copies_path],
    ]
    code = f"""
import sys
from nb201_flat.cli import main
codes = [main(["flatness", *argv]) for argv in {runs!r}]
print(codes, "pandas" in sys.modules, file=sys.stderr)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "[0, 0, 0, 2] False", out.stderr


def test_flatness_is_its_columns_in_a_frame() -> None:
    table = synthetic_table()
    values = table.vector("cifar100", "x-valid", 200)
    for kwargs in ({}, {"radius": 2, "exact": False, "columns": ("median", "n", "sharpness")}):
        df = flatness(NB201, values, **kwargs)  # type: ignore[arg-type]
        cols = neighbourhood.flatness_columns(NB201, values, **kwargs)  # type: ignore[arg-type]
        assert list(cols) == df.columns.tolist()
        for name, arr in cols.items():
            assert arr.dtype == df[name].dtype and arr.shape == (NB201.size,)
            np.testing.assert_array_equal(arr, df[name].to_numpy())
    # with stand-ins, their count is an int64 column as well
    small = _copies()
    acc = small.vector("cifar10", "ori-test", 1)
    stand = StandIns.of(small, "cifar10", 1)
    assert stand is not None
    df = flatness(SMALL, acc, 1, stand_ins=stand, omit_stand_ins="none")
    cols = neighbourhood.flatness_columns(SMALL, acc, 1, stand_ins=stand, omit_stand_ins="none")
    assert list(cols) == df.columns.tolist() and cols["n_stand_ins"].dtype == np.int64
    for name, arr in cols.items():
        np.testing.assert_array_equal(arr, df[name].to_numpy())
    assert df.attrs["omit_stand_ins"] == "none" and df.attrs["delta"] == 1.0


def test_the_value_column_is_no_view_of_the_values() -> None:
    f = np.arange(SMALL.size, dtype=np.float64)
    cols = neighbourhood.flatness_columns(SMALL, f, 1, columns=("value",))
    cols["value"][0] = -1.0  # the caller's column to write
    assert f[0] == 0.0


@pytest.mark.parametrize(
    "space", [NB201, SMALL, Space(("a", "b"), 5)], ids=["nb201", "3-ops-3-nodes", "2-ops-5-nodes"]
)
def test_strings_of_given_indices_are_to_str(space: Space) -> None:
    every = [space.arch(i).to_str() for i in range(space.size)]
    assert space.strings() == every
    picked = [space.size - 1, 0, 5, 5, space.size // 2]  # any order, repeats kept
    assert space.strings(picked) == [every[i] for i in picked]
    assert space.strings(np.arange(space.size)) == every
    assert space.strings([]) == []


def test_strings_of_a_lexicographic_space_build_no_whole_space_array() -> None:
    space = Space(("a", "b", "c", "d"), 8)  # 4**28 cells: its codes array would be 5 EiB
    last = space.size - 1
    assert space.strings([last, 1]) == [space.arch(last).to_str(), space.arch(1).to_str()]
    assert "codes" not in space._cache


@pytest.mark.parametrize(
    ("indices", "problem"),
    [
        ([0, 27], "indices must be whole numbers in 0..26, got 27 at position 1"),
        ([[0, 1]], r"indices must be one sequence of architecture indices, got shape \(1, 2\)"),
        (3, r"indices must be one sequence of architecture indices, got shape \(\)"),
    ],
)
def test_strings_refuse_what_is_no_list_of_cells(indices: object, problem: str) -> None:
    with pytest.raises(InvalidArchError, match=problem):
        SMALL.strings(indices)  # type: ignore[arg-type]


def test_the_listing_builds_no_arch_per_row(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, table_path: str
) -> None:
    # one Arch per listed row took 0.13 s of a whole-space listing; the strings are the same
    every = NB201.strings()

    def no_arch(self: Space, index: int) -> None:
        raise AssertionError(f"Space.arch({index}) called for a listed row")

    monkeypatch.setattr(Space, "arch", no_arch)
    code, out, err = run(
        capsys, "flatness", *KEY, "--top", "100000", "--json", "--table", table_path
    )
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert len(rows) == NB201.size
    assert [r["arch"] for r in rows] == [every[r["index"]] for r in rows]
