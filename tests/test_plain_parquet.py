"""The pyarrow-free reader of the plain parquet tables ``save_table`` writes, and its fallback."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nb201_flat import storage
from nb201_flat.plain_parquet import WRITE_OPTIONS, Unsupported, read_columns
from nb201_flat.space import Space
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table


def _plain(cols: dict[str, np.ndarray], **options: object) -> bytes:
    schema = pa.schema([pa.field(k, pa.float64(), nullable=False) for k in cols])
    buf = io.BytesIO()
    pq.write_table(pa.table(cols, schema=schema), buf, **{**WRITE_OPTIONS, **options})
    return buf.getvalue()


def _bits(a: np.ndarray) -> list[int]:
    return a.view(np.uint64).tolist()  # NaN payloads and -0.0 compared exactly


@pytest.mark.parametrize(
    ("rows", "options"),
    [
        (27, {}),
        (15625, {}),
        (0, {}),
        # several row groups of several pages each
        (20000, {"data_page_size": 4096, "row_group_size": 7000}),
    ],
)
def test_reads_every_bit_that_pyarrow_reads(rows: int, options: dict[str, object]) -> None:
    rng = np.random.default_rng(rows)
    cols = {f"c{i}": rng.normal(size=rows) for i in range(3)}
    if rows:
        cols["c0"][::5] = np.nan
        cols["c1"][0] = -0.0
        cols["c2"][-1] = np.inf
    raw = _plain(cols, **options)
    n, got = read_columns(raw, ["c2", "c0"])
    assert n == rows
    assert list(got) == ["c2", "c0"]
    reference = pq.read_table(io.BytesIO(raw))
    for name, vec in got.items():
        assert vec.dtype == np.float64 and vec.flags.writeable
        assert _bits(vec) == _bits(reference.column(name).to_numpy())
        assert _bits(vec) == _bits(cols[name])


@pytest.mark.parametrize(
    "options",
    [{"compression": "zstd"}, {"use_dictionary": True}, {"data_page_version": "2.0"}],
)
def test_anything_else_is_left_to_pyarrow(options: dict[str, object]) -> None:
    raw = _plain({"c0": np.arange(100.0)}, **options)
    with pytest.raises(Unsupported):
        read_columns(raw, ["c0"])


def test_nullable_or_missing_columns_are_left_to_pyarrow() -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"c0": pa.array([1.0, None])}), buf, **WRITE_OPTIONS)
    with pytest.raises(Unsupported, match="c0"):
        read_columns(buf.getvalue(), ["c0"])
    with pytest.raises(Unsupported, match="c9"):
        read_columns(_plain({"c0": np.zeros(3)}), ["c9"])
    with pytest.raises(Unsupported):
        read_columns(b"PAR1 not parquet", ["c0"])


def test_every_single_bit_flip_reads_or_is_unsupported() -> None:
    """A damaged file (loaded with verify=False) never crashes or reads past its end."""
    cols = {"c0": np.arange(27.0), "c1": np.arange(27.0) * 2}
    raw = _plain(cols)
    outcomes = {"read": 0, "unsupported": 0}
    for pos in range(len(raw)):
        damaged = bytearray(raw)
        damaged[pos] ^= 0x01
        try:
            n, got = read_columns(bytes(damaged), ["c0", "c1"])
        except Unsupported:
            outcomes["unsupported"] += 1
        else:
            assert all(v.shape == (n,) for v in got.values())
            outcomes["read"] += 1
    assert outcomes["unsupported"] > 50 and outcomes["read"] > 50, outcomes


def _rewrite_as_before(folder: Path, arrow: pa.Table) -> None:
    """Replace the table's parquet with one in the earlier form (zstd, nullable columns), with
    the manifest's checksums updated: a table written by an earlier version."""
    path = folder / storage.PARQUET
    pq.write_table(arrow, path, compression="zstd")
    manifest = json.loads((folder / storage.MANIFEST).read_text())
    manifest["sha256"][storage.PARQUET] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest[storage.MANIFEST_HASH] = hashlib.sha256(storage._canonical(manifest)).hexdigest()
    (folder / storage.MANIFEST).write_text(json.dumps(manifest))


def test_tables_of_earlier_versions_load_through_pyarrow(tmp_path: Path) -> None:
    space = Space(("none", "a", "b"), 3)
    key = MetricKey("cifar10", "ori-test", 200)
    vec = np.arange(27.0)
    # one seed: the mean is its value (a mean outside its seeds is refused); the null put in
    # c0 below tells the two columns apart
    folder = save_table(Table(space, {(key, None): vec, (key, 0): vec}), tmp_path / "t")
    raw = (folder / storage.PARQUET).read_bytes()
    assert read_columns(raw, ["c0", "c1"])[0] == 27  # what save_table writes is plain
    with_null = pa.array([None, *vec[1:].tolist()], type=pa.float64())
    _rewrite_as_before(folder, pa.table({"c0": with_null, "c1": pa.array(vec)}))
    loaded = load_saved_table(folder)
    expected = vec.copy()
    expected[0] = np.nan  # a null comes back as NaN
    np.testing.assert_array_equal(loaded.data[(key, None)], expected)
    np.testing.assert_array_equal(loaded.data[(key, 0)], vec)
