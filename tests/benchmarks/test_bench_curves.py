"""Smoke test of the curves benchmark: both tables give the same final values, curves stay lazy."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_curves


def test_curves_benchmark_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_curves, "CACHE_DIR", tmp_path)
    rows = bench_curves.run(quick=True, repeats=1)
    assert [r.name for r in rows] == [
        "load + final values, table with curves",
        "load + first read of one curve",
    ]
    assert rows[0].same_result is True and rows[0].ratio is not None
    assert (tmp_path / "curves-v2-12" / "curves.nb201" / "curves.parquet").is_file()
    assert not (tmp_path / "curves-v2-12" / "plain.nb201" / "curves.parquet").exists()
