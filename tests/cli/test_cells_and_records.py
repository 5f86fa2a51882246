"""``record`` shows each seed's value as it shows the mean, and refuses a cell no key measures
(as ``query`` refuses its value); ``flatness --arch`` refuses a cell named twice, also once as
its index and once as its string."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200, "time_s")
OTHER = MetricKey("cifar100", "x-test", 200)


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two seeds of a time in seconds, about 12,000 s: cell 7 at 12345.678 and 12351.2; cell
    9 measured on no key."""
    base = 12000.0 + np.arange(NB201.size, dtype=float)
    seed0, seed1 = base.copy(), base + 1.0
    seed0[7], seed1[7] = 12345.678, 12351.2
    other = np.arange(NB201.size, dtype=float)
    for vector in (seed0, seed1, other):
        vector[9] = np.nan
    data = {(KEY, 0): seed0, (KEY, 1): seed1, (OTHER, None): other}
    path = tmp_path_factory.mktemp("t") / "t.nb201"
    return str(save_table(Table(NB201, data, source="seconds"), path))


def test_record_shows_seeds_as_it_shows_the_mean(
    capsys: pytest.CaptureFixture[str], table_path: str
) -> None:
    code, out, err = run(capsys, "record", "7", "--table", table_path)
    assert code == 0, err
    row = next(line for line in out.splitlines() if "time_s" in line)
    # 4 significant digits showed both as 1.235e+04, beside a mean of 12348.4390 (tagged
    # as the mean of the seeds shown: the key stores no value of its own)
    assert row.split()[-4:] == ["12348.4390", "mean", "0:12345.6780", "1:12351.2000"]


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_record_of_a_cell_no_key_measures_is_refused(
    capsys: pytest.CaptureFixture[str], table_path: str, json_flag: tuple[str, ...]
) -> None:
    line = one_line_exit_2(capsys, "record", "9", *json_flag, "--table", table_path)
    assert line.startswith("error: architecture 9 was never measured: no key of this table")
    assert "record a cell the table measures" in line
    code, out, _ = run(capsys, "record", "7", "--json", "--table", table_path)
    assert code == 0 and len(json.loads(out)["entries"]) == 2  # a measured one still is


def test_flatness_refuses_a_cell_named_twice(
    capsys: pytest.CaptureFixture[str], table_path: str
) -> None:
    key = ("flatness", "--dataset", "cifar100", "--split", "x-test", "--epochs", "200")
    string = NB201.arch(5).to_str()
    for second in ("5", string):
        line = one_line_exit_2(capsys, *key, "--arch", "5", "--arch", second, "--table", table_path)
        assert line == f"error: --arch names cell 5 twice ('5', {second!r}); give each cell once"
    code, out, err = run(
        capsys, *key, "--arch", "5", "--arch", "6", "--json", "--table", table_path
    )
    assert code == 0, err
    assert [r["index"] for r in json.loads(out)["rows"]] == [5, 6]
