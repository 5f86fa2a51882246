"""atomic.replace_files: files written together into a folder shared with other files.

Each file is renamed over its previous version on its own, so a file someone else writes into
the folder during the run is never lost or rolled back; a run that fails (while producing its
files, or at one of the renames) leaves each of its files at the previous version and nothing
half written or left over.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nb201_flat import atomic
from nb201_flat.errors import ArgumentError, TableFileError


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``, hidden ones too: a file's bytes, None for a folder."""
    return {
        p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def write_run(folder: str | Path, produce: Callable[[Path], object]) -> None:
    """One run: ``produce(stage)`` writes its files, which then replace their old versions."""
    with atomic.replace_files(folder) as stage:
        produce(stage)


RUN1 = {"a.csv": b"run1 a", "b.csv": b"run1 b", "theirs.txt": b"theirs before"}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A folder holding a previous run's two files and a file of someone else's."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name, data in RUN1.items():
        (folder / name).write_bytes(data)
    return folder


def test_files_written_meanwhile_by_another_process_survive(out: Path) -> None:
    with atomic.replace_files(out) as stage:
        (stage / "a.csv").write_bytes(b"run2 a")
        # another process, while this run is under way: a new file, and one replaced
        (out / "new.txt").write_bytes(b"created meanwhile")
        atomic.write_bytes(out / "theirs.txt", b"theirs replaced meanwhile")
        (stage / "sub").mkdir()
        (stage / "sub" / "c.csv").write_bytes(b"run2 c")
    assert tree(out) == {
        "a.csv": b"run2 a",
        "b.csv": b"run1 b",  # not written by this run: untouched
        "new.txt": b"created meanwhile",
        "sub": None,
        "sub/c.csv": b"run2 c",
        "theirs.txt": b"theirs replaced meanwhile",
    }


def test_a_file_replaced_meanwhile_is_not_rolled_back_by_a_failed_run(out: Path) -> None:
    def produce(stage: Path) -> None:
        (stage / "a.csv").write_bytes(b"run2 a")
        atomic.write_bytes(out / "theirs.txt", b"theirs replaced meanwhile")
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        write_run(out, produce)
    assert tree(out) == RUN1 | {"theirs.txt": b"theirs replaced meanwhile"}


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_an_interrupted_run_keeps_the_previous_versions(
    out: Path, stop: BaseException | type[BaseException]
) -> None:
    def produce(stage: Path) -> None:
        (stage / "a.csv").write_bytes(b"run2 a")
        with (stage / "b.csv").open("wb") as f:
            f.write(b"run2 b, half")
            raise stop

    expected: type[BaseException] = stop if isinstance(stop, type) else TableFileError
    with pytest.raises(expected):
        write_run(out, produce)
    assert tree(out) == RUN1  # no half-written file, no staging folder left


def test_a_full_disk_is_one_line_saying_nothing_changed(out: Path) -> None:
    def produce(stage: Path) -> None:
        atomic.write_bytes(stage / "a.csv", b"run2 a")
        raise OSError(28, "No space left on device")

    with pytest.raises(TableFileError) as info:
        write_run(out, produce)
    assert "\n" not in str(info.value)
    assert "No space left on device" in str(info.value)
    assert "nothing was changed" in str(info.value)
    assert tree(out) == RUN1


def test_a_rename_that_fails_rolls_back(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace
    renamed: list[str] = []

    def refuses_b(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).parent == out:  # a rename into the folder (or a put-back)
            renamed.append(Path(dst).name)
            if Path(dst).name == "b.csv":
                raise OSError(5, "Input/output error")
        real(src, dst)

    def produce(stage: Path) -> None:
        for name in ("0-new.csv", "a.csv", "b.csv"):  # 0-new.csv had no previous version
            (stage / name).write_bytes(b"run2")
        monkeypatch.setattr(atomic.os, "replace", refuses_b)  # from the renames on

    with pytest.raises(TableFileError) as exc:
        write_run(out, produce)
    # the file refused, not the folder ("could not write out (Input/output error)")
    assert str(exc.value).startswith(f"could not write {out / 'b.csv'} (Input/output error)")
    monkeypatch.undo()
    # in name order: 0-new.csv and a.csv renamed, b.csv refused, a.csv put back
    assert renamed == ["0-new.csv", "a.csv", "b.csv", "a.csv"]
    assert tree(out) == RUN1  # a.csv at its previous version, 0-new.csv removed again


def test_a_new_folder_is_not_left_behind_by_a_failed_run(tmp_path: Path) -> None:
    def produce(stage: Path) -> None:
        (stage / "a.csv").write_bytes(b"x")
        raise RuntimeError("stop")

    target = tmp_path / "new"
    with pytest.raises(RuntimeError):
        write_run(target, produce)
    assert not target.exists()
    write_run(target, lambda stage: (stage / "a.csv").write_bytes(b"x"))
    assert tree(target) == {"a.csv": b"x"}


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(out: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = int(child.stdout)
    left = out / f".nb201_flat-staged.tmp-{dead}-abc_1234"
    left.mkdir()
    (left / "a.csv").write_bytes(b"half")
    with atomic.replace_files(out) as stage:
        (stage / "b.csv").write_bytes(b"run2 b")
    assert tree(out) == RUN1 | {"b.csv": b"run2 b"}


@pytest.mark.parametrize("bad", ["", "file", "file/sub"])
def test_bad_folders_fail_up_front(tmp_path: Path, bad: str) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArgumentError) as info:
        write_run(tmp_path / bad if bad else bad, lambda stage: None)
    assert "\n" not in str(info.value)
    assert tree(tmp_path) == {"file": b"x"}


def test_a_loop_of_links_is_refused_not_replaced(tmp_path: Path) -> None:
    # realpath stops inside a loop: the write replaced one of its links by a file
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    for call in (
        lambda: atomic.write_bytes(a, b"x"),
        lambda: atomic.check_writable_file(a, what="--out"),
    ):
        with pytest.raises(ArgumentError, match="a.csv is a loop of symbolic links"):
            call()
    assert a.is_symlink() and b.is_symlink()
    real = tmp_path / "real.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    atomic.write_bytes(link, b"through")
    assert link.is_symlink() and real.read_bytes() == b"through"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_or_device_is_refused_not_replaced(tmp_path: Path) -> None:
    # census --pairs-out /dev/null replaced the device with a plain file (as root)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    link = tmp_path / "link.csv"
    link.symlink_to(fifo)
    for given in (fifo, link):
        with pytest.raises(ArgumentError, match="exists and is no regular file"):
            atomic.check_writable_file(given, what="--pairs-out")
        with pytest.raises(TableFileError, match="exists and is no regular file"):
            atomic.write_bytes(given, b"x")
        assert fifo.is_fifo()
    if os.path.exists(os.devnull):  # only checked: nothing is ever written to it
        with pytest.raises(ArgumentError, match="no regular file"):
            atomic.check_writable_file(os.devnull, what="--pairs-out")
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_file_the_commands_output_goes_to_is_refused(tmp_path: Path) -> None:
    # --pairs-out /dev/stdout > log.txt renamed the CSV over the log: the printed table lost
    log = tmp_path / "log.txt"
    code = (
        "import sys\n"
        "from nb201_flat import atomic\n"
        "print('kept', flush=True)\n"
        "try:\n"
        "    atomic.write_bytes(sys.argv[1], b'x')\n"
        "except Exception as exc:\n"
        "    print(exc, file=sys.stderr)\n"
    )
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-c", code, str(log)], stdout=out, stderr=subprocess.PIPE, text=True
        )
    assert "it is the file this command's output goes to" in done.stderr, done.stderr
    assert log.read_text() == "kept\n"


def test_files_into_a_dangling_link_land_in_the_folder_it_names(tmp_path: Path) -> None:
    # figures/reproduce --out LINK to a folder not made yet: "could not write LINK (File exists)"
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "made" / "here")
    with atomic.replace_files(link) as stage:
        (stage / "a.csv").write_text("x\n")
    assert link.is_symlink() and (tmp_path / "made" / "here" / "a.csv").read_text() == "x\n"


@pytest.mark.parametrize("blocker", ["folder", "pipe"])
def test_files_that_cannot_be_replaced_are_refused_up_front(tmp_path: Path, blocker: str) -> None:
    # reproduce/figures know their files' names: a folder or pipe where one goes was refused
    # by replace_files only after the whole run
    out = tmp_path / "out"
    out.mkdir()
    if blocker == "folder":
        (out / "b.csv").mkdir()
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no named pipes here")
        os.mkfifo(out / "b.csv")
    (out / "link.csv").symlink_to(out / "b.csv")  # a link is replaced itself: allowed
    assert atomic.check_replaceable_files(out, ["a.csv", "link.csv"]) == out
    with pytest.raises(ArgumentError, match=r"out/b.csv exists and is no regular file"):
        atomic.check_replaceable_files(out, ["a.csv", "b.csv"], what="--out")
    # the same rule at the renames, for a caller that checked nothing
    with pytest.raises(TableFileError, match=r"out/b.csv: it exists and is no regular file"):
        write_run(out, lambda stage: (stage / "b.csv").write_bytes(b"x"))
    assert sorted(p.name for p in out.iterdir()) == ["b.csv", "link.csv"]


def fail(*args: object) -> None:
    raise RuntimeError("stop")


def failed_write(writer: str, target: Path) -> None:
    """A write by ``writer`` (a function of atomic) into ``target`` that fails midway."""
    if writer == "write_file":
        atomic.write_file(target, fail)
        return
    with getattr(atomic, writer)(target):
        fail()


@pytest.mark.parametrize("writer", ["replace_files", "replace_folder", "write_file"])
def test_a_failed_write_removes_every_folder_it_made(tmp_path: Path, writer: str) -> None:
    # figures --out leftover/a/b that failed left leftover/ and leftover/a/ behind
    (tmp_path / "theirs").mkdir()
    target = tmp_path / "theirs" / "a" / "b" / "c"
    with pytest.raises(RuntimeError):
        failed_write(writer, target)
    assert tree(tmp_path) == {"theirs": None}  # the folder that was there stays
