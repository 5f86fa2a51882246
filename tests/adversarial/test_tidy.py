"""Issue 10 item 6: the tidy importer never coerces; every bad cell names row, column, value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.errors import FormatError
from nb201_flat.importers.tidy import read_tidy
from nb201_flat.space import NB201

HEADER = "index,arch,dataset,split,epochs,seed,metric,value\n"


def _row(index: str = "1", seed: str = "", epochs: str = "200", dataset: str = "cifar10") -> str:
    return f"{index},{NB201.arch(1).to_str()},{dataset},ori-test,{epochs},{seed},accuracy,93.5\n"


GOOD = _row(index="0").replace(NB201.arch(1).to_str(), NB201.arch(0).to_str())


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (_row(index="1.5"), "index", "1.5"),
        (_row(seed="-1"), "seed", "-1"),
        (_row(epochs="12.7"), "epochs", "12.7"),
        (_row(epochs="1e30"), "epochs", "1e30"),
        (_row(dataset=""), "dataset", ""),
        (_row(seed="1.5"), "seed", "1.5"),
        (_row(seed="12345678901234567890"), "seed", "12345678901234567890"),
        (_row(index="abc"), "index", "abc"),
    ],
)
def test_bad_cell_names_row_column_value(tmp_path: Path, row: str, column: str, value: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "row 2" in msg and f"'{column}'" in msg and repr(value)[1:-1] in msg, msg


def test_header_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER)
    with pytest.raises(FormatError, match="no rows"):
        read_tidy(path)


def test_bad_value_names_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row().replace("93.5", "abc"))
    with pytest.raises(FormatError, match=r"(?i)row.*abc"):
        read_tidy(path)


def test_clean_file_reads_exact_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    import gzip

    path.write_bytes(gzip.compress((HEADER + GOOD + _row(seed="777")).encode()))
    t = read_tidy(path)
    assert t.query(0, "cifar10", "ori-test", 200) == 93.5
    assert t.query(1, "cifar10", "ori-test", 200, seed=777) == 93.5
    assert np.isnan(t.vector("cifar10", "ori-test", 200)[1])
