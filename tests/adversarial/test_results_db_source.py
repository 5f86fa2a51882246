"""Issue 10 item 10 (results DB): a source database that is only read gets no ``-wal``/``-shm``
beside it, and one that cannot be read is never called "not a results database"."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from nb201_flat.cli import main
from nb201_flat.errors import Nb201FlatError, ResultsDBError
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.train.results_db import ResultsDB, load_curves, load_results, row_checksum

ARCH = str(NB201.resolve(11472))


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "r.sqlite"
    db = ResultsDB(path)
    key = ("nb201", ARCH, "cifar10", 1, 777)
    db.write_epoch(key, 11472, 1, {"train": (1.5, 40.0, 2.0), "ori-test": (1.75, 37.5, 0.1)})
    db.mark_run(key, 11472, "done")
    db.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.sqlite"]
    return path


def _beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("reader", [load_results, load_curves, read_results_db])
def test_reading_a_source_leaves_nothing_beside_it(tmp_path: Path, reader: object) -> None:
    path = _db(tmp_path)
    before = path.read_bytes()
    reader(path)  # type: ignore[operator]
    assert _beside(path) == ["r.sqlite"]
    assert path.read_bytes() == before


def test_import_cli_leaves_nothing_beside_the_source(tmp_path: Path) -> None:
    path = _db(tmp_path)
    assert main(["import", str(path), "--out", str(tmp_path / "t.nb201")]) == 0
    assert _beside(path) == ["r.sqlite"]
    assert (tmp_path / "t.nb201").is_dir()


def test_source_whose_shm_cannot_be_created_is_read(tmp_path: Path) -> None:
    # what read-only media do to SQLite: no -shm can be made beside the file (root ignores
    # chmod, so a folder in the -shm file's place stands in for the refusal)
    path = _db(tmp_path)
    (tmp_path / "src" / "r.sqlite-shm").mkdir()
    table = read_results_db(path)
    assert table.seeds(table.keys()[0]) == [777]
    assert len(load_results(path)) == 5  # accuracy and loss of 2 splits, train time


def test_live_writer_data_in_the_wal_is_read(tmp_path: Path) -> None:
    # a copy taken while train was writing: committed rows only in the -wal, and (read-only
    # media) no -shm can be made; the reader must see those rows, not the stale main file
    path = _db(tmp_path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute(
        "UPDATE epochs SET accuracy = 41.25, checksum = ? WHERE split = 'ori-test'",
        (row_checksum(("nb201", ARCH, 11472, "cifar10", "ori-test", 1, 777, 1, 1.75, 41.25, 0.1)),),
    )
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("r.sqlite", "r.sqlite-wal"):
        (copy / name).write_bytes((path.parent / name).read_bytes())
    writer.close()
    (copy / "r.sqlite-shm").mkdir()
    df = load_results(copy / "r.sqlite")
    acc = df[(df["split"] == "ori-test") & (df["metric"] == "accuracy")]["value"].tolist()
    assert acc == [41.25]


def test_unreadable_source_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "r.sqlite"
    folder.mkdir()
    with pytest.raises(ResultsDBError) as info:
        read_results_db(folder)
    msg = str(info.value)
    assert "not a results database" not in msg and "\n" not in msg
    assert msg.endswith(" is a folder; pass the results database, the SQLite file that train wrote")


def test_read_only_folder(tmp_path: Path) -> None:
    path = _db(tmp_path)
    folder = path.parent
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user that can write anywhere")
        table = read_results_db(path)
        assert table.seeds(table.keys()[0]) == [777]
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("content", [b"", b"not sqlite at all" * 10])
def test_not_a_database_is_still_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    with pytest.raises(Nb201FlatError, match="not a results database"):
        read_results_db(path)
    assert _beside(path) == ["x.sqlite"]


def test_other_sqlite_file_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    con.close()
    before = path.read_bytes()
    with pytest.raises(Nb201FlatError, match="not a results database"):
        load_results(path)
    assert path.read_bytes() == before and _beside(path) == ["other.sqlite"]
