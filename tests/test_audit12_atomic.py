"""The one writer under concurrency, long names, full disks, undeletable leftovers and mount
points (a twelfth audit's findings):

- two runs writing the same files into one folder left a mix of both, each exiting 0: the
  renames of replace_files now hold a lock on the folder, so one run's files win as a whole;
- legal names near 255 bytes passed every check and failed at the end (File name too long):
  the names written beside them shorten a long name;
- a full quota or a file-size limit was told to "check the path": they are a full disk too;
- a previous version that could not be removed stayed hidden beside the table, unsaid;
- a killed write_file's temporary file carried no pid, so no later write removed it;
- a mount point as a table's folder was offered --force, which then failed.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nb201_flat import atomic
from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, TableFileError


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``, hidden ones too: a file's bytes, None for a folder."""
    return {
        p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


# ---- two writers into one folder -------------------------------------------------------------

NAMES = ("a.csv", "b.csv", "c.csv", "d.csv", "report.md")

# a run whose renames are slow (a slow filesystem): it says when its first file is in place
SLOW_RUN = """
import os, sys, time
from pathlib import Path
from nb201_flat import atomic

folder, started = Path(sys.argv[1]), Path(sys.argv[2])
real = os.replace

def slow(src, dst):
    real(src, dst)
    if Path(dst).parent == folder:
        started.touch()
        time.sleep(0.3)

atomic.os.replace = slow
with atomic.replace_files(folder) as stage:
    for name in {names!r}:
        (stage / name).write_text("run A")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="renames are not locked without fcntl")
def test_two_runs_into_one_folder_leave_one_runs_files(tmp_path: Path) -> None:
    # reproduce/figures --out X twice at once: summary.csv from one run, paired.csv from the
    # other, report.md naming one seed, both exit 0
    out = tmp_path / "out"
    out.mkdir()
    started = tmp_path / "started"
    a = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN.format(names=NAMES), str(out), str(started)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert a.poll() is None, a.communicate()[1]
            assert time.monotonic() < deadline, "run A never renamed a file"
            time.sleep(0.01)
        with atomic.replace_files(out) as stage:  # run B, while A is among its renames
            for name in NAMES:
                (stage / name).write_text("run B")
    finally:
        _, err = a.communicate(timeout=60)
    assert a.returncode == 0, err
    # B waited for A's renames, then replaced every file: B's set whole, nothing else added
    assert tree(out) == {name: b"run B" for name in NAMES}


def test_the_lock_is_released_for_the_next_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for run in ("one", "two"):
        with atomic.replace_files(out) as stage:
            (stage / "a.csv").write_text(run)
    assert tree(out) == {"a.csv": b"two"}  # and no lock file added to the folder


@pytest.mark.skipif(sys.platform == "win32", reason="renames are not locked without fcntl")
def test_a_folder_that_cannot_be_locked_itself_is_locked_by_a_file_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NFS locks no folder opened for reading; a -wx folder cannot be opened so at all
    out = tmp_path / "out"
    out.mkdir()
    real = os.open

    def no_folder(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if Path(path) == out:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_folder)
    locked: list[bool] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # while the renames run, another process cannot take the lock file's lock
        probe = (
            "import fcntl, sys; f = open(sys.argv[1]); "
            "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)"
        )
        held = subprocess.run([sys.executable, "-c", probe, str(out / ".nb201_flat-staged.lock")])
        locked.append(held.returncode != 0)
        real_replace(src, dst)

    with atomic.replace_files(out) as stage:
        (stage / "a.csv").write_text("x")
        monkeypatch.setattr(os, "replace", replace)
    assert locked == [True]
    assert tree(out) == {".nb201_flat-staged.lock": b"", "a.csv": b"x"}


def test_a_folder_that_cannot_be_listed_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # write_file looks for a killed writer's temporary file first: a -wx folder cannot show one
    real = Path.iterdir

    def unlisted(self: Path) -> object:
        if self == tmp_path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", unlisted)
    atomic.write_bytes(tmp_path / "p.csv", b"x")
    with atomic.replace_folder(tmp_path / "t") as tmp:
        (tmp / "a.txt").write_text("one")
    monkeypatch.undo()
    assert tree(tmp_path) == {"p.csv": b"x", "t": None, "t/a.txt": b"one"}


# ---- names near the longest a filesystem allows ----------------------------------------------


@pytest.mark.parametrize("letter", ["k", "é"])  # one byte, two bytes in UTF-8
def test_a_legal_long_name_is_written(tmp_path: Path, letter: str) -> None:
    # import --out (240 bytes) and census --pairs-out (244 bytes): "could not write kkk...
    # (File name too long)" after the whole run, from the temporary names beside them
    name = letter * (240 // len(letter.encode()))
    with atomic.replace_folder(tmp_path / name) as tmp:
        (tmp / "a.txt").write_text("one")
        assert len(os.fsencode(tmp.name)) <= 255
        assert atomic._leftover(tmp, name) == ("tmp", os.getpid())
    with atomic.replace_folder(tmp_path / name) as tmp:  # the swap, and its old copy's name
        (tmp / "a.txt").write_text("two")
    csv = name + ".csv"
    atomic.write_bytes(tmp_path / csv, b"x,y\n")
    assert tree(tmp_path) == {name: None, f"{name}/a.txt": b"two", csv: b"x,y\n"}


def test_a_killed_writers_leftovers_of_a_long_name_are_removed(tmp_path: Path, dead: int) -> None:
    name = "k" * 250
    stem = atomic._side_stem(name, tmp_path)
    assert stem != name and len(os.fsencode(f".{stem}.tmp-{2**31 - 1}-abcdefgh")) <= 255
    (tmp_path / f".{stem}.tmp-{dead}-abcdefgh").mkdir()
    (tmp_path / f".{stem}.{dead}-abcdefgh.tmp").write_text("half")
    # another long name with the same start has another digest: not its leftovers
    other = atomic._side_stem("k" * 249 + "j", tmp_path)
    (tmp_path / f".{other}.tmp-{dead}-abcdefgh").mkdir()
    atomic.recover(tmp_path / name)
    assert tree(tmp_path) == {f".{other}.tmp-{dead}-abcdefgh": None}


# ---- a full disk, quota or file-size limit ---------------------------------------------------


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_every_kind_of_full_says_make_room(tmp_path: Path, err: int) -> None:
    def full(f: object) -> None:
        raise OSError(err, os.strerror(err))

    with pytest.raises(TableFileError) as info:
        atomic.write_file(tmp_path / "t.csv", full)
    said = str(info.value)
    assert f"({os.strerror(err)}); nothing was changed; free some space" in said
    assert "check the path" not in said
    assert err in atomic.FULL
    assert tree(tmp_path) == {}


def test_a_file_size_limit_says_make_room(tmp_path: Path) -> None:
    # import under `ulimit -f`: "could not write t (File too large) ... check the path"
    code = (
        "import sys\n"
        "from nb201_flat import atomic\n"
        "try:\n"
        "    atomic.write_bytes(sys.argv[1], b'x' * 100_000)\n"
        "except Exception as exc:\n"
        "    print(exc)\n"
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, resource.RLIM_INFINITY))

    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "t.bin")],
        capture_output=True,
        text=True,
        preexec_fn=limit,
    )
    assert "(File too large); nothing was changed; free some space" in done.stdout, done
    assert tree(tmp_path) == {}


# ---- what cannot be removed is said ----------------------------------------------------------


@pytest.fixture
def undeletable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file named keep.txt refuses to be deleted (chattr +i, or a read-only folder)."""
    real = os.unlink

    def refuses(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if os.path.basename(os.fspath(path)) == "keep.txt":
            raise PermissionError(errno.EPERM, "Operation not permitted", os.fspath(path))
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", refuses)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
@pytest.mark.usefixtures("undeletable")
def test_a_previous_version_that_stays_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    exchange: bool,
) -> None:
    # import --force over a table with an immutable file: rc 0, the old copy left hidden
    with atomic.replace_folder(tmp_path / "t") as tmp:
        (tmp / "keep.txt").write_text("old")
    if not exchange:
        monkeypatch.setattr(atomic, "_RENAMEAT2", None)
    with (
        caplog.at_level(logging.WARNING, "nb201_flat.atomic"),
        atomic.replace_folder(tmp_path / "t") as tmp,
    ):
        (tmp / "a.txt").write_text("new")
    assert (tmp_path / "t" / "a.txt").read_text() == "new"
    (left,) = [p for p in tmp_path.iterdir() if p.name != "t"]
    assert (left / "keep.txt").read_text() == "old"
    (record,) = caplog.records
    said = record.getMessage()
    assert said.startswith(f"could not remove {left}, the previous version of {tmp_path / 't'} (")
    assert "keep.txt: Operation not permitted); remove it by hand" in said


@pytest.mark.usefixtures("undeletable")
def test_recover_names_what_it_cannot_remove_once(
    tmp_path: Path, dead: int, caplog: pytest.LogCaptureFixture
) -> None:
    lefts = [tmp_path / f".t.tmp-{dead}-abcdefg{i}" for i in (1, 2)]
    for left in lefts:
        left.mkdir()
        (left / "keep.txt").write_text("stuck")
        (left / "gone.txt").write_text("removed")
    with caplog.at_level(logging.WARNING, "nb201_flat.atomic"):
        atomic.recover(tmp_path / "t")
    (record,) = caplog.records  # one warning for the call, not one per leftover or file
    said = record.getMessage()
    assert said.startswith(f"could not remove what an earlier write of {tmp_path / 't'} left")
    assert all(f"{left} ({left / 'keep.txt'}: Operation not permitted)" in said for left in lefts)
    assert tree(tmp_path) == {
        lefts[0].name: None,
        f"{lefts[0].name}/keep.txt": b"stuck",
        lefts[1].name: None,
        f"{lefts[1].name}/keep.txt": b"stuck",
    }


# ---- a killed write_file's temporary file ----------------------------------------------------

KILLED_WRITE = """
import os, signal, sys
from nb201_flat import atomic

def killed(f):
    f.write(b"half")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

atomic.write_file(sys.argv[1], killed)
"""


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="no SIGKILL")
def test_a_killed_file_writers_temporary_file_is_removed_by_the_next_write(
    tmp_path: Path,
) -> None:
    # census --pairs-out p.csv killed mid-write: '.p.csv.pota6mhr.tmp' stayed after every rerun
    target = tmp_path / "p.csv"
    target.write_bytes(b"good")
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITE, str(target)])
    assert child.wait(timeout=60) == -9
    (left,) = [p.name for p in tmp_path.iterdir() if p != target]
    assert left.startswith(f".p.csv.{child.pid}-") and left.endswith(".tmp")
    assert target.read_bytes() == b"good"
    # a live writer's temporary file is kept (this test's parent is alive)
    live = tmp_path / f".p.csv.{os.getppid()}-abcdefgh.tmp"
    live.write_bytes(b"being written")
    atomic.write_bytes(target, b"rerun")
    assert tree(tmp_path) == {"p.csv": b"rerun", live.name: b"being written"}


def test_file_temporaries_carry_the_writers_pid(tmp_path: Path) -> None:
    seen: list[tuple[str, int] | None] = []

    def look(f: object) -> None:
        (tmp,) = [p for p in tmp_path.iterdir() if p.name != "p.csv"]
        seen.append(atomic._leftover(tmp, "p.csv"))

    atomic.write_file(tmp_path / "p.csv", look)
    assert seen == [("file", os.getpid())]


def test_a_users_look_alike_files_are_left_alone(tmp_path: Path, dead: int) -> None:
    users = {
        f".p.csv.{dead}-abcdefgh.tmp.bak": b"more after .tmp",
        f".p.csv.0{dead}-abcdefgh.tmp": b"a pid is never written with a leading zero",
        ".p.csv.abcdefgh.tmp": b"no pid (also what older versions wrote)",
    }
    for name, data in users.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / f".p.csv.{dead}-abcdefgh.tmp").mkdir()  # a folder: write_file makes files
    atomic.write_bytes(tmp_path / "p.csv", b"x")
    assert tree(tmp_path) == users | {"p.csv": b"x", f".p.csv.{dead}-abcdefgh.tmp": None}


# ---- a mount point ---------------------------------------------------------------------------


def test_a_mount_point_is_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # import --out MOUNT: "exists; pass --force", then with --force "Device or resource busy"
    mp = tmp_path / "mp"
    mp.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == mp or real(p))
    refused = pytest.raises(ArgumentError, match="mp is a mount point, which cannot be replaced")
    with refused, atomic.replace_folder(mp):
        pytest.fail("a mount point was written")
    for force in ([], ["--force"]):
        assert main(["import", "analognas", "--out", str(mp), *force]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: --out {mp} is a mount point, which cannot be replaced; write into a folder "
            f"inside it, such as {mp / 'out'}\n"
        )
    assert tree(tmp_path) == {"mp": None}
