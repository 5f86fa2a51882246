"""The benchmarks' caches are checked before use: a cached official-layout ``.pth`` against its
sha256 sidecar, the imported table against its marker (the tidy file's sha256 and the table's
manifest's). One flipped byte anywhere gets the file made again, with a warning, never used."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import bench_official, official_file
from benchmarks._common import checksum_problem, checksum_sidecar
from nb201_flat.space import NB201, Space
from nb201_flat.storage import PARQUET
from nb201_flat.table import MetricKey, Table


def flip(path: Path, at: float = 0.5) -> None:
    """Flip the lowest bit of one byte of ``path``, ``at`` of the way into it."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))


# -- official-layout .pth files --------------------------------------------------------------
@pytest.fixture(scope="module")
def nb201_table() -> Table:
    """One key: the official layout holds NaN (the API reads it as such) where a key is absent."""
    key = MetricKey("cifar10-valid", "x-valid", 200, "accuracy")
    values = np.random.default_rng(0).uniform(10, 95, NB201.size)
    return Table(NB201, {(key, None): values}, source="synthetic")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("payload", "its bytes do not match the sha256 recorded in"),
        ("other digest", "its bytes do not match the sha256 recorded in"),
        ("sidecar", "its checksum file nb201-v1_0-layout-"),  # then: "... is malformed"
        ("no sidecar", "it has no checksum file"),  # a cache written before the sidecars
    ],
)
def test_a_damaged_cached_official_file_is_written_again_with_a_warning(
    nb201_table: Table,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: str,
    reason: str,
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("nas_201_api")
    files = official_file.cached_official_files(nb201_table, [3, 5], tmp_path)
    good = {n: p.read_bytes() for n, p in files.items()}
    for n, path in files.items():  # sha256sum format, of the very bytes written
        digest = hashlib.sha256(good[n]).hexdigest()
        assert checksum_sidecar(path).read_text() == f"{digest}  {path.name}\n"
        assert checksum_problem(path) is None

    written: list[list[int]] = []
    real = official_file.write_official_files

    def noting(table: Table, paths: dict[int, Path], **kwargs: Any) -> None:
        written.append(sorted(paths))
        real(table, paths, **kwargs)

    monkeypatch.setattr(official_file, "write_official_files", noting)
    official_file.cached_official_files(nb201_table, [3, 5], tmp_path)
    assert written == []  # whole and checked: used as it is

    {
        "payload": lambda: flip(files[5]),
        "other digest": lambda: checksum_sidecar(files[5]).write_text(
            f"{hashlib.sha256(b'other').hexdigest()}  {files[5].name}\n"
        ),
        "sidecar": lambda: flip(checksum_sidecar(files[5]), at=0.99),  # the name's last letter
        "no sidecar": lambda: checksum_sidecar(files[5]).unlink(),
    }[damage]()
    assert checksum_problem(files[5]) is not None
    with caplog.at_level(logging.WARNING, logger=official_file.__name__):
        again = official_file.cached_official_files(nb201_table, [3, 5], tmp_path)
    assert written == [[5]]  # only the damaged one
    assert again == files
    assert f"{files[5]}: {reason}" in caplog.text and "writing it again" in caplog.text
    if damage == "sidecar":
        assert "is malformed" in caplog.text
    assert {n: p.read_bytes() for n, p in files.items()} == good
    assert checksum_problem(files[5]) is None


# -- the imported table and its marker -------------------------------------------------------
def _small_table(source: bytes) -> Table:
    space = Space(("none", "a", "b"), 3)
    values = np.arange(space.size, dtype=float) + len(source)
    return Table(space, {(MetricKey("cifar10", "ori-test", 200), None): values}, source="tidy")


def test_the_imported_table_is_imported_again_when_anything_cached_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import nb201_flat.importers.tidy as tidy_module

    imports: list[bytes] = []

    def read_tidy(path: Path) -> Table:  # stands in for the 6 MB import
        imports.append(path.read_bytes())
        return _small_table(imports[-1])

    monkeypatch.setattr(tidy_module, "read_tidy", read_tidy)
    tidy = tmp_path / "nb201_tidy.csv.gz"
    tidy.write_bytes(b"tidy, first version")
    cache = tmp_path / "cache"
    caplog.set_level(logging.WARNING, logger=bench_official.__name__)

    def imported(n: int, warning: str | None) -> None:
        caplog.clear()
        path = bench_official.imported_table(tidy, cache)
        assert path == cache / "nb201_tidy.nb201"
        assert len(imports) == n
        if warning is None:
            assert caplog.text == ""
        else:
            assert warning in caplog.text and "importing it again" in caplog.text

    imported(1, None)
    imported(1, None)  # fresh: used as it is
    # another tidy file of the same size and modification time: a stamp of both missed it
    st = tidy.stat()
    tidy.write_bytes(b"tidy, other version")
    os.utime(tidy, ns=(st.st_atime_ns, st.st_mtime_ns))
    imported(2, "does not match")
    assert imports[-1] == b"tidy, other version"
    flip(cache / "nb201_tidy.stamp")
    imported(3, "does not match")
    flip(cache / "nb201_tidy.nb201" / PARQUET)
    imported(4, "the cached table is damaged")
    imported(4, None)
