"""Imports (audit 10): a writer that starts after the import opened its source without a
``-wal`` file (``immutable``: no locks) and checkpoints into it made the copy mix pages of two
moments, refused as "truncated or damaged ... copy it again" though the file was intact; and
``--progress`` was ignored in silence by every format that draws no bar."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, ResultsDBError
from nb201_flat.importers import import_table
from nb201_flat.importers import results_db as importer
from nb201_flat.space import NB201
from nb201_flat.train import results_db as rdb
from nb201_flat.train.results_db import ResultsDB

SPACE = "nb201"
DIGEST = "5eed" * 16


def _train(path: Path, index: int, epochs: int = 1) -> None:
    """A done run of cell ``index`` (``epochs`` epochs) written into ``path``, closed: its
    last connection checkpoints the WAL into the file and deletes the ``-wal`` file."""
    db = ResultsDB(path)
    key = (SPACE, str(NB201.arch(index)), "cifar10", epochs, 777)
    data = SimpleNamespace(digest=DIGEST, official=True)
    for epoch in range(1, epochs + 1):
        rows = {"train": (2.0, 50.0, 0.1 * epoch), "ori-test": (2.0, 40.0, 0.01)}
        db.write_epoch(key, index, epoch, rows, data=data)  # type: ignore[arg-type]
    db.mark_run(key, index, "done", data=data)  # type: ignore[arg-type]
    db.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "r.sqlite"
    for index in range(40):
        _train(path, index, epochs=5)
    assert not Path(f"{path}-wal").exists()  # the import opens it immutable
    return path


def _measured(table: object, index: int) -> bool:
    values = np.asarray(table.vector("cifar10", "ori-test", 5, seed_policy=777))  # type: ignore[attr-defined]
    return not np.isnan(values[index])


def test_a_writer_between_the_open_and_the_copy_is_copied_again(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = rdb.connect_readonly
    writes = []

    def writer_after_the_open(path: object, **kw: object) -> object:
        conn = opened(path, **kw)  # type: ignore[arg-type]
        if Path(str(path)) == source and not writes:  # the source's first open
            writes.append(1)
            _train(source, 1234, epochs=5)
        return conn

    monkeypatch.setattr(rdb, "connect_readonly", writer_after_the_open)
    table = importer.read_results_db(source)
    assert writes and _measured(table, 1234) and _measured(table, 39)


def test_a_file_that_changes_at_every_copy_is_refused_in_one_line(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = rdb.connect_readonly
    index = iter(range(1000, 2000))

    def writer_at_every_open(path: object, **kw: object) -> object:
        conn = opened(path, **kw)  # type: ignore[arg-type]
        if Path(str(path)) == source:
            _train(source, next(index), epochs=5)
        return conn

    monkeypatch.setattr(rdb, "connect_readonly", writer_at_every_open)
    with pytest.raises(ResultsDBError) as info:
        importer.read_results_db(source)
    assert str(info.value) == (
        f"results database {source} changed each of the 5 times it was copied to be read (a "
        "training wrote into it meanwhile); import it again, or once the training that writes "
        "it has stopped"
    )


# -- --progress -------------------------------------------------------------------------------


def _tidy(path: Path) -> Path:
    path.write_text(
        "index,arch,dataset,split,epochs,seed,metric,value\n"
        f"0,{NB201.arch(0).to_str()},cifar10,ori-test,200,,accuracy,50\n"
    )
    return path


def test_progress_is_refused_where_the_format_draws_no_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat import budget

    monkeypatch.setattr(budget, "progress_enabled", lambda: True)  # a terminal: not typed
    db = tmp_path / "r.sqlite"
    _train(db, 0)
    for source, fmt in ((db, "results-db"), (_tidy(tmp_path / "t.csv"), "tidy")):
        out = str(tmp_path / fmt)
        assert main(["import", str(source), "--out", out, "--progress"]) == 2
        err = capsys.readouterr().err
        assert err == (
            "error: --progress applies only to nb201-pth and nats-tss files, whose reads draw a "
            f"bar; {fmt} is read without one, so drop it\n"
        )
        with pytest.raises(ArgumentError, match=r"^progress=True applies only to nb201-pth"):
            import_table(source, progress=True)
        assert not Path(out).exists()
        assert main(["import", str(source), "--out", out]) == 0
