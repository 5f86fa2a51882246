"""Paths and downloads, the eleventh audit (each finding reproduced first): a results database
whose name is not UTF-8 is read again (train, import), a folder given as one is named a folder,
``--data-root`` empty or not a folder names its fix, and :func:`download` refuses a name taken
before it fetches, takes an MD5 of either case, and removes the folder of a killed download."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, DownloadError, ResultsDBError
from nb201_flat.train import data as D
from nb201_flat.train.results_db import ResultsDB, connect_readonly

TRAIN = ["--dataset", "cifar10", "--epochs", "1", "--C", "2", "--N", "1", "--executor", "inline",
         "--device", "cpu"]  # fmt: skip


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- 1. a results database whose name is not UTF-8 ---------------------------------------


def test_a_db_named_in_other_bytes_trains_again_and_imports(
    tmp_path: Path, cifar10_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    # the CLI keeps such a byte as a surrogate escape; quoting it into SQLite's URI as
    # strict UTF-8 was a UnicodeEncodeError traceback on every read after the first run
    db = tmp_path / os.fsdecode(b"r\xff.db")
    argv = ["train", "11472", *TRAIN, "--data-root", str(cifar10_root), "--db", str(db)]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(argv) == 0, capsys.readouterr().err  # the done run is read, and skipped
    assert "Traceback" not in capsys.readouterr().err
    out = tmp_path / "imported"
    assert main(["import", str(db), "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.is_dir()


def test_a_live_db_named_in_other_bytes_is_read(tmp_path: Path) -> None:
    # with a -wal file beside it the file is opened mode=ro: the same URI
    import sqlite3

    db = tmp_path / os.fsdecode(b"r\xff.db")
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("CREATE TABLE t (x)")
        writer.execute("INSERT INTO t VALUES (1)")
        assert Path(f"{db}-wal").exists()
        conn = connect_readonly(db)
        try:
            assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
        finally:
            conn.close()
    finally:
        writer.close()


# --- 2. a folder given as a results database ---------------------------------------------


def test_a_folder_given_as_a_results_db_is_named_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "folder.sqlite"
    folder.mkdir()
    out = tmp_path / "f.nb201"
    assert main(["import", str(folder), "--format", "results-db", "--out", str(out)]) == 2
    # it said "unable to open database file; check that the file is readable"
    assert _one_line(capsys.readouterr().err) == (
        f"error: {folder} is a folder; pass the results database, the SQLite file that train wrote"
    )
    assert not out.exists()
    with pytest.raises(ResultsDBError, match=r"is a folder, not a file; pass another"):
        ResultsDB(folder).done_keys()  # the writable side too


# --- 3. download ---------------------------------------------------------------------------


def _archive(tmp_path: Path) -> tuple[str, str]:
    """A tiny CIFAR-10 archive: its file:// URL and its MD5."""
    src = write_tiny_cifar10(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive.as_uri(), hashlib.md5(archive.read_bytes()).hexdigest()


def _no_fetch(url: str) -> object:
    pytest.fail("must not fetch")


def test_a_name_taken_by_a_file_or_a_dangling_link_is_refused_before_fetching(
    tmp_path: Path,
) -> None:
    # a bare NotADirectoryError traceback once the whole archive was fetched and checked
    afile = tmp_path / "a" / "cifar-10-batches-py"
    afile.parent.mkdir()
    afile.write_text("x")
    link = tmp_path / "b" / "cifar-10-batches-py"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "nowhere")
    for taken, what in ((afile, "not a folder"), (link, "a link to nothing")):
        with pytest.raises(DownloadError) as exc:
            D.download("cifar10", taken.parent, opener=_no_fetch)
        assert str(exc.value) == (
            f"{taken} is {what} and takes the dataset folder's name; move it away, or "
            "download into another root"
        )
        assert sorted(p.name for p in taken.parent.iterdir()) == ["cifar-10-batches-py"]


def test_an_upper_case_md5_is_the_same_checksum(tmp_path: Path) -> None:
    url, md5 = _archive(tmp_path)
    # "checksum mismatch ... md5 fb99..., expected FB99..."
    out = D.download("cifar10", tmp_path / "root", url=url, md5=md5.upper())
    assert out == tmp_path / "root" / "cifar-10-batches-py" and out.is_dir()


@pytest.mark.parametrize("md5", ["", "abc", "g" * 32, "0" * 33, b"0" * 32])
def test_a_checksum_that_is_no_md5_is_refused(tmp_path: Path, md5: Any) -> None:
    # '' fell back to the official checksum; another length was a mismatch after the transfer
    with pytest.raises(ArgumentError, match=r"^md5 must be 32 hexadecimal digits, got "):
        D.download("cifar10", tmp_path / "root", url="file:///x", md5=md5, opener=_no_fetch)
    assert not (tmp_path / "root").exists()


def test_a_root_that_cannot_be_written_in_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(**kw: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(D.tempfile, "mkdtemp", refused)  # root runs the suite: no chmod
    with pytest.raises(DownloadError) as exc:
        D.download("cifar10", tmp_path, opener=_no_fetch)
    assert str(exc.value) == (
        f"cannot write in the data root {tmp_path} (Permission denied); name a writable folder"
    )


_SLOW_DOWNLOAD = """
import io, sys, time
from nb201_flat.train.data import download

class Endless(io.BytesIO):
    def read(self, n=-1):
        time.sleep(0.02)
        return b"x" * 1000

download("cifar10", sys.argv[1], opener=lambda url: Endless())
"""


def _start_download(root: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A download into ``root`` that never ends, and its temporary folder, once it is locked
    and fetching."""
    before = set(root.glob(".download-cifar10-*")) if root.exists() else set()
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_DOWNLOAD, str(root)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(root.glob(".download-cifar10-*")) - before if root.exists() else set()
        if new and (folder := new.pop()).joinpath("archive.tar.gz").exists():
            return proc, folder
        assert proc.poll() is None, "the download ended"
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no download folder appeared")


def test_a_killed_downloads_folder_is_removed_by_the_next_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, md5 = _archive(tmp_path)
    root = tmp_path / "root"
    killed, stale = _start_download(root)
    live, running = _start_download(root)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert stale.is_dir()  # no process could remove it
        older = root / ".download-abcd1234"  # an older version's: no lock to test
        older.mkdir()
        with caplog.at_level(logging.INFO, logger="nb201_flat.train.data"):
            D.download("cifar10", root, url=url, md5=md5)
        # the docstring said "leaves nothing behind"; a later run kept it for ever
        assert not stale.exists()
        assert running.is_dir() and live.poll() is None  # another download's, locked: kept
        assert sorted(p.name for p in root.iterdir()) == sorted(
            [".download-abcd1234", running.name, "cifar-10-batches-py"]
        )
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warned == [
            f"{older} may be left by a download that was killed (or belong to one running); "
            f"delete it once no download into {root} runs"
        ]
    finally:
        live.kill()
        live.wait()
    # a dataset already there: the sweep runs all the same
    D.download("cifar10", root, opener=_no_fetch)
    assert not running.exists()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds a folder by its fd")
def test_a_download_whose_folder_a_sweep_removed_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a sweep may lock a new folder between mkdtemp and the download's own lock, and remove
    # it: the download then makes another rather than write into a folder removed
    url, md5 = _archive(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    real = D._try_flock
    swept: list[Path] = []

    def swept_first(fd: int) -> bool | None:
        if not swept:  # the download's first lock: a sweep got there first
            folder = Path(os.readlink(f"/proc/self/fd/{fd}")).parent
            shutil.rmtree(folder)
            swept.append(folder)
        return real(fd)  # taken once the sweep let go, of a folder now gone

    monkeypatch.setattr(D, "_try_flock", swept_first)
    assert D.download("cifar10", root, url=url, md5=md5).is_dir()
    assert swept and not swept[0].exists()
    assert [p.name for p in root.iterdir()] == ["cifar-10-batches-py"]


# --- 4. --data-root empty or not a folder --------------------------------------------------


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_data_root_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], blank: str
) -> None:
    argv = ["train", "1", *TRAIN, "--data-root", blank, "--db", str(tmp_path / "r.sqlite")]
    assert main(argv) == 2
    # it said "--data-root  is not a folder": two spaces, nothing named, no fix
    assert _one_line(capsys.readouterr().err) == (
        "error: --data-root is empty; give the folder holding the dataset folders"
    )
    assert not (tmp_path / "r.sqlite").exists()


def test_a_data_root_that_is_not_a_folder_names_a_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    db = ["--db", str(tmp_path / "r.sqlite")]
    missing = tmp_path / "it's here"
    assert main(["train", "1", *TRAIN, "--data-root", str(missing), *db]) == 2
    line = _one_line(capsys.readouterr().err)
    head = (
        f"error: --data-root {str(missing)!r} is not a folder; give the folder holding the "
        "dataset folders, or download the dataset into it with "
    )
    assert line.startswith(head), line
    import shlex

    code = shlex.split(line.removeprefix(head))
    assert code[:2] == ["python", "-c"]
    assert code[2] == (
        f"from nb201_flat.train.data import download; download('cifar10', {str(missing)!r})"
    )
    afile = tmp_path / "afile"
    afile.write_text("x")  # download cannot make a folder there: no download named
    assert main(["train", "1", *TRAIN, "--data-root", str(afile), *db]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: --data-root {str(afile)!r} is not a folder; give the folder holding the "
        "dataset folders"
    )
    # ImageNet16-120 is fetched by hand: no download named
    argv = ["train", "1", *TRAIN, "--data-root", str(missing), *db]
    argv[argv.index("cifar10")] = "ImageNet16-120"
    assert main(argv) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: --data-root {str(missing)!r} is not a folder; give the folder holding the "
        "dataset folders"
    )
