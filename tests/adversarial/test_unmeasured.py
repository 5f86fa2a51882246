"""Issue 10: a value that was never measured is an error naming what is served, never a nan
printed with exit 0 (CLI ``query``, ``--json`` and :meth:`Table.value`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import MissingValueError
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)
OTHER = MetricKey("cifar100", "x-test", 200)
UNMEASURED = 7  # no value under any key
SEEDS_ONLY = 8  # no mean row value, but seed 1 has one


def _table() -> Table:
    mean = np.linspace(10, 90, NB201.size)
    mean[[UNMEASURED, SEEDS_ONLY]] = np.nan
    seed0, seed1 = mean.copy(), mean.copy()
    seed1[SEEDS_ONLY] = 42.0
    other = mean.copy()
    return Table(
        NB201,
        {(KEY, None): mean, (KEY, 0): seed0, (KEY, 1): seed1, (OTHER, None): other},
        source="unmeasured",
    )


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    return save_table(_table(), tmp_path / "t.nb201")


def _query(arch: int) -> list[str]:
    return ["query", str(arch), "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]


@pytest.mark.parametrize("json_flag", [False, True])
@pytest.mark.parametrize(
    ("arch", "policy", "serves"),
    [
        (UNMEASURED, [], "no key of this table measures it"),
        (UNMEASURED, ["--seed-policy", "0"], "no key of this table measures it"),
        (UNMEASURED, ["--seed-policy", "random", "--rng-seed", "3"], "no key"),
        (SEEDS_ONLY, [], "stored seeds with a value for it: 1"),
        (SEEDS_ONLY, ["--seed-policy", "0"], "stored seeds with a value for it: 1"),
    ],
)
def test_cli_query_of_unmeasured_cell_is_one_line_exit_2(
    table_path: Path,
    capsys: pytest.CaptureFixture[str],
    arch: int,
    policy: list[str],
    serves: str,
    json_flag: bool,
) -> None:
    argv = [*_query(arch), *policy, "--table", str(table_path)] + (["--json"] if json_flag else [])
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""  # no nan, no JSON value
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"architecture {arch} was never measured" in lines[0] and serves in lines[0]
    # counted under the policy asked for: "random" serves SEEDS_ONLY from its seed 1
    measured = NB201.size - (1 if "random" in policy else 2)
    assert str(KEY) in lines[0] and f"{measured} of {NB201.size}" in lines[0]


def test_cli_query_of_measured_cell_still_prints_it(
    table_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_query(SEEDS_ONLY), "--seed-policy", "1", "--table", str(table_path)]) == 0
    assert "= 42.0000" in capsys.readouterr().out
    assert main([*_query(0), "--json", "--table", str(table_path)]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == 10.0


def test_table_value_raises_and_names_other_keys() -> None:
    t = _table()
    t2 = t.with_vector(OTHER, np.where(np.arange(NB201.size) == UNMEASURED, 5.0, np.nan))
    with pytest.raises(MissingValueError) as info:
        t2.value(UNMEASURED, "cifar10", "ori-test", 200)
    assert "\n" not in str(info.value)
    assert f"keys that measure it: {OTHER}" in str(info.value)
    assert t2.value(UNMEASURED, "cifar100", "x-test", 200) == 5.0
    # the whole-space vector keeps NaN for "missing" (that is its documented encoding)
    assert np.isnan(t2.vector("cifar10", "ori-test", 200)[UNMEASURED])


_FLATNESS = ["flatness", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]


def test_cli_flatness_of_unmeasured_cell_shows_its_neighbourhood(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # it printed value nan and sharpness nan; then it was refused though its neighbours'
    # numbers exist: its own value and sharpness are - (null), the neighbourhood stays
    from nb201_flat.landscape import flatness

    expect = flatness(NB201, _table().vector_for(KEY), radius=1).loc[UNMEASURED]
    argv = [*_FLATNESS, "--arch", "0", str(UNMEASURED), "--table", str(table_path)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    row = out.splitlines()[-1].split()
    assert err == "" and "nan" not in out
    assert row[:4] == [str(UNMEASURED), "-", str(int(expect["n"])), f"{expect['mean']:.4f}"]
    assert row[6] == "-"
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["rows"][1]
    assert doc["index"] == UNMEASURED and doc["value"] is None and doc["sharpness"] is None
    assert doc["mean"] == pytest.approx(expect["mean"]) and doc["n"] == expect["n"] > 0


def test_cli_flatness_lists_measured_cells_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a key with one measured cell: the top 3 were that cell and two rows of nan, exit 0;
    # then that one row of -, exit 0: a listing that serves nothing is an error
    lone = np.full(NB201.size, np.nan)
    lone[5] = 50.0
    empty = MetricKey("cifar10", "x-valid", 200)
    t = Table(NB201, {(KEY, None): lone, (empty, None): np.full(NB201.size, np.nan)})
    path = str(save_table(t, tmp_path / "t.nb201"))
    assert main([*_FLATNESS, "--top", "3", "--table", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no measured neighbour for cell 5 on cifar10/ori-test" in err
    # a far better cell, also without a measured neighbour, beside 5 and a neighbour of 5
    lone = lone.copy()  # the table holds it read-only
    lone[[15000, int(NB201.neighbours(1).of(5)[0])]] = [60.0, 40.0]
    t = Table(NB201, {(KEY, None): lone, (empty, None): np.full(NB201.size, np.nan)})
    path = str(save_table(t, tmp_path / "t2.nb201"))
    assert main([*_FLATNESS, "--top", "3", "--table", path]) == 0
    out = capsys.readouterr().out
    rows = out.splitlines()[4:]  # below the key, neighbourhood, column and sharp-legend lines
    assert len(rows) == 5 and rows[0].split()[:3] == ["15000", "60.0000", "0"]
    assert rows[3].startswith("(n = 0: no measured neighbour for 1 of these rows")  # its - marked
    assert "nan" not in out  # a neighbourhood with no measured member shows -, not nan
    argv = ["flatness", "--dataset", "cifar10", "--split", "x-valid", "--epochs", "200"]
    assert main([*argv, "--table", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no architecture is measured for cifar10/x-valid" in err


def test_cli_search_of_one_run_prints_no_nan_std(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the std of one run is undefined: it printed "± nan"
    v = np.linspace(10, 90, NB201.size)
    keys = [MetricKey("cifar100", "x-valid", 200), MetricKey("cifar100", "x-test", 200)]
    path = str(save_table(Table(NB201, {(k, None): v for k in keys}), tmp_path / "t.nb201"))
    argv = [
        "search",
        "--algo",
        "rs",
        "--protocol",
        "fixed-n",
        "--search-epochs",
        "200",
        "--fixed-n",
        "5",
    ]
    assert main([*argv, "--runs", "1", "--jobs", "1", "--table", path]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out and "± -" not in out and re.search(r"\d\.\d\d \(n=1,", out)


def _three_measured(tmp_path: Path) -> str:
    v = np.full(NB201.size, np.nan)
    v[[3, 500, 9000]] = [70.0, 60.0, 50.0]
    return str(save_table(Table(NB201, {(KEY, None): v}, source="three"), tmp_path / "t.nb201"))


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
@pytest.mark.parametrize("command", ["search", "demo"])
def test_cli_search_with_no_run_reporting_a_value_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, json_flag: list[str]
) -> None:
    # 3 measured cells, 100 queries: no run found one; it printed "- ± - (n=0)", exit 0. Its
    # search key, the reported one, lacks all other cells: the search is refused before any
    # run (each query of one would be charged and read NaN); the demo's landscape part stands
    argv = [command, "--runs", "3", *json_flag, "--table", _three_measured(tmp_path)]
    if command == "search":
        argv += ["--algo", "rs", "--protocol", "fixed-n", "--search-epochs", "200", "--jobs", "1"]
    unmeasured = "15,622 of the 15,625 architectures have no cifar10/ori-test@200ep:accuracy value"
    if command == "search":
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, err
        assert unmeasured in err and err.endswith("NaN; use another --table\n"), err
        return
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == "", err
    said = json.loads(out)["search"]["skipped"] if json_flag else out
    assert unmeasured in said and "- ± -" not in out and "(n=0)" not in out


def test_cli_record_shows_a_seed_value_where_the_mean_is_missing(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # it listed the key as "not measured for this cell", hiding seed 1's stored 42.0
    assert main(["record", str(SEEDS_ONLY), "--table", str(table_path)]) == 0
    out = capsys.readouterr().out
    assert "1:42" in out and out.rstrip().endswith(f"not measured for this cell: {OTHER}")
    assert main(["record", str(SEEDS_ONLY), "--json", "--table", str(table_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (entry,) = [e for e in doc["entries"] if e["split"] == "ori-test"]
    assert entry["value"] is None and entry["seed_values"] == {"1": 42.0}
    assert str(KEY) not in doc["not_measured"]


def test_random_seeds_of_a_key_without_seeds_name_the_policy_it_serves(
    table_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it ended "the policies it serves: 'mean'", which names no flag
    from nb201_flat.errors import UnknownKeyError

    argv = ["query", "1", "--dataset", "cifar100", "--split", "x-test", "--epochs", "200",
            "--table", str(table_path), "--seed-policy", "random", "--rng-seed", "0"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "it serves its one stored value per cell only: pass --seed-policy mean\n"
    ), err
    with pytest.raises(UnknownKeyError, match=r"pass seed_policy='mean'$"):
        _table().value(1, "cifar100", "x-test", 200, seed_policy="random", rng=0)
    with pytest.raises(UnknownKeyError, match=r"pass seed_policy='mean'$"):
        _table().vector("cifar100", "x-test", 200, seed_policy="random", rng=0)
