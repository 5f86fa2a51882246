"""All-or-nothing writes of files and folders: the one writer every output goes through.

A file is written under a temporary name in its folder, flushed, fsynced and renamed over the
target (:func:`write_bytes`, :func:`write_file`). Files written together into a folder that
holds other files too (a report, a set of figures) are first written whole into a staging
folder inside it and then renamed into place one by one (:func:`replace_files`): files they do
not write are never touched, also ones another process writes meanwhile, and the renames hold a
lock on the folder, so of two runs writing the same files the one that renames last replaces
them all (not a mix of both). A folder that is one whole (a table) is written beside the
target and then swapped in (:func:`replace_folder`):

- on Linux the swap is one ``renameat2(RENAME_EXCHANGE)``, so the target path always names a
  complete folder, the old or the new one, and a reader never sees it missing;
- a first write uses ``renameat2(RENAME_NOREPLACE)``, so of two concurrent writers exactly one
  creates the target and the other is told it exists;
- elsewhere (or on a filesystem without these flags) the old folder is renamed aside and the new
  one renamed in; a crash between the two leaves the old one as ``.NAME.old-PID-XXXXXXXX``,
  and :func:`recover` (run before every write) puts it back or removes it.

What a writer makes beside ``NAME`` carries its process id (``.NAME.tmp-PID-XXXXXXXX``, a
file's ``.NAME.PID-XXXXXXXX.tmp``), so :func:`recover` removes a killed writer's leftovers and
never a live one's; a name too long to carry these additions is shortened in them
(:func:`_side_stem`).

Everything written gets the modes the umask gives (0666/0777 minus the umask), not the private
0600/0700 of :mod:`tempfile`.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with replace_folder(root / "out") as tmp:
...     _ = (tmp / "a.txt").write_text("one")
>>> (root / "out" / "a.txt").read_text()
'one'
>>> write_bytes(root / "b.bin", b"two").read_bytes()
b'two'
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Final

from nb201_flat.errors import FULL, ArgumentError, Nb201FlatError, Param, TableFileError

__all__ = [
    "FULL",
    "check_replaceable_files",
    "check_working_folder",
    "check_writable_folder",
    "check_writable_target",
    "file_mode",
    "folder_mode",
    "name_max",
    "recover",
    "replace_files",
    "replace_folder",
    "write_bytes",
    "write_file",
]

_OVERWRITE = Param("overwrite", True)  # the fix for a target that exists
_OUT = Param("out")  # the target, where a caller names it no other way

log = logging.getLogger(__name__)

_RENAME_NOREPLACE: Final = 1
_RENAME_EXCHANGE: Final = 2
_AT_FDCWD: Final = -100


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from the umask (``0o644`` under the usual ``022``)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode a new folder gets from the umask (``0o755`` under the usual ``022``)."""
    return 0o777 & ~_umask()


def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # glibc < 2.28 or another libc
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2: Final = _renameat2()


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False where the platform or filesystem lacks it."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _fsync_dir(folder: Path) -> None:
    # make a rename durable; not every platform can open a folder
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# The names a writer gives what it makes beside ``NAME``: the folders ``.NAME.tmp-PID-XXXXXXXX``
# (tempfile.mkdtemp's 8 random characters after the prefix _writer_prefix gives) and
# ``.NAME.old-PID-XXXXXXXX`` (the same 8, _swap_in), and write_file's temporary file
# ``.NAME.PID-XXXXXXXX.tmp`` (mkstemp's 8). Only these are a writer's; anything else beside NAME
# (a user's ``.NAME.old-backup``, ``.NAME.tmp-notes``) is never touched. NAME is spelled by
# _side_stem: itself, unless too long to carry the rest.
_RANDOM: Final = "[a-z0-9_]{8}"  # tempfile._RandomNameSequence's alphabet and length
_PID_MAX: Final = 2**31 - 1  # a pid_t; a larger number is no process (os.kill overflows)
# the bytes a side name adds to NAME at most: ``.`` ``.tmp-`` PID ``-`` and the random part
# (a file's ``.`` PID ``-`` random ``.tmp`` is as long)
_SIDE_EXTRA: Final = len(".") + len(".tmp-") + len(str(_PID_MAX)) + len("-") + 8
_DIGEST: Final = 16  # hex digits of sha256 that stand for the cut part of a long NAME


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, ``folder`` (or its nearest existing parent, where it is
    still to be made) allows; 255, the usual limit, where the platform does not say."""
    for where in (folder, *folder.parents):
        if where.is_dir():
            try:
                return int(os.pathconf(where, "PC_NAME_MAX"))
            except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no answer
                break
    return 255


def _side_stem(name: str, folder: Path) -> str:
    """``name`` as the writers' names beside it in ``folder`` spell it: itself, or where these
    would pass the filesystem's longest name, its start and ``~`` and a digest of the whole
    (a legal 240-byte name passed every check and failed at the end: File name too long).
    The writer and :func:`recover` both spell it so, in one folder."""
    room = name_max(folder) - _SIDE_EXTRA
    if len(os.fsencode(name)) <= room:
        return name
    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:_DIGEST]
    start = name
    while start and len(os.fsencode(start + digest)) > room:
        start = start[:-1]  # by characters: never half of one
    return start + digest


def _writer_prefix(target: Path, kind: str) -> str:
    """The start of the name of what this process makes beside ``target``: ``kind`` is
    ``tmp`` (the new folder, written), ``old`` (the previous one, moved aside) or ``file``
    (write_file's temporary file, which mkstemp ends with ``.tmp``)."""
    stem = _side_stem(target.name, target.parent)
    if kind == "file":
        return f".{stem}.{os.getpid()}-"
    return f".{stem}.{kind}-{os.getpid()}-"


def _leftover(entry: Path, name: str) -> tuple[str, int] | None:
    """``(kind, pid)`` of what a writer of ``name`` made beside it (kind ``old`` or ``tmp``: a
    folder; ``file``: a regular file), else None: a name merely alike, or an entry of another
    type than the writer makes, is left alone."""
    stem = re.escape(_side_stem(name, entry.parent))
    m = re.fullmatch(
        rf"\.{stem}\.(?:(old|tmp)-([1-9][0-9]*)-{_RANDOM}|([1-9][0-9]*)-{_RANDOM}\.tmp)",
        entry.name,
    )
    if m is None or entry.is_symlink():
        return None
    kind, pid = (m[1], m[2]) if m[1] else ("file", m[3])
    made = entry.is_file() if kind == "file" else entry.is_dir()
    if int(pid) > _PID_MAX or not made:
        return None
    return kind, int(pid)


def recover(target: str | os.PathLike[str]) -> None:
    """Put back or remove what a killed writer of ``target`` left beside it.

    A ``.NAME.old-PID-XXXXXXXX`` folder of a dead writer is renamed back when ``target`` is
    missing (the kill fell between the two renames), else removed; a
    ``.NAME.tmp-PID-XXXXXXXX`` folder or ``.NAME.PID-XXXXXXXX.tmp`` file of a dead writer is
    removed. Leftovers of a live process, and everything not named exactly so (a user's
    ``.NAME.old-backup``), are left alone. What cannot be removed (an immutable file, a
    read-only folder) is named in one warning.
    """
    path = Path(target)
    parent = path.parent
    if not parent.is_dir():
        return
    try:
        entries = sorted(parent.iterdir(), key=lambda p: p.name)
    except OSError:  # a folder that may be written but not listed (-wx): nothing to recover
        return
    start = f".{_side_stem(path.name, parent)}."
    stuck: list[str] = []
    for entry in entries:
        if not entry.name.startswith(start):
            continue
        found = _leftover(entry, path.name)
        if found is None:
            log.debug("left %s alone: not what an nb201_flat writer makes", entry)
            continue
        kind, pid = found
        if pid == os.getpid() or _alive(pid):
            continue  # a live writer's (another thread of ours included)
        if kind == "old" and not path.exists() and not path.is_symlink():
            os.replace(entry, path)
            log.warning("restored %s from an interrupted replacement", path)
        elif (why := _remove(entry)) is not None:
            stuck.append(f"{entry} ({why})")
    if stuck:
        log.warning(
            "could not remove what an earlier write of %s left beside it: %s; remove it by hand",
            path,
            "; ".join(stuck),
        )


def _remove(path: Path) -> str | None:
    """Remove ``path`` (a folder with all it holds); None once it is gone, else why not: the
    first error met (the rest of it is removed all the same)."""
    errors: list[str] = []

    def note(where: str, exc: BaseException) -> None:
        errors.append(f"{where}: {getattr(exc, 'strerror', None) or exc}")

    if path.is_dir() and not path.is_symlink():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=lambda _fn, p, exc: note(p, exc))
        else:
            shutil.rmtree(path, onerror=lambda _fn, p, info: note(p, info[1]))
    else:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            note(str(path), exc)
    return errors[0] if errors else None


def _discard(path: Path, what: str) -> None:
    """:func:`_remove`, warning where ``path`` stays: a hidden copy beside the output that
    nothing else would mention (an immutable file in it, a read-only folder)."""
    if (why := _remove(path)) is not None:
        log.warning("could not remove %s, %s (%s); remove it by hand", path, what, why)


def working_folder() -> str | None:
    """The working folder, or None where it was removed (``os.getcwd`` fails: a folder deleted
    under a shell still in it); a relative path then names nothing."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def check_working_folder(path: str | os.PathLike[str], *, what: str | Param = _OUT) -> None:
    """Refuse a relative ``path`` where the working folder it is read against was removed
    (``realpath`` raised FileNotFoundError); an absolute one needs no working folder."""
    raw = os.fspath(path)
    if not os.path.isabs(raw) and working_folder() is None:
        raise ArgumentError(
            what,
            f" {raw} is a relative path, but the working folder no longer exists; cd to an "
            "existing folder, or give an absolute path",
        )


def check_writable_target(target: str | os.PathLike[str], *, what: str | Param = _OUT) -> Path:
    """Check up front that ``target`` can be written as a folder; return it as a Path.

    A symbolic link is written through: the path returned is the folder it names (the one
    replaced), and the link is kept (replacing the link itself by a folder left the folder it
    named unchanged, and every other path to it reading the old table).

    Raises :class:`~nb201_flat.errors.ArgumentError` for ``''``, ``.``, a mount point, a path
    that is a file or lies under a file, a parent folder that cannot be created or written, and
    a relative path where the working folder was removed (:func:`check_working_folder`).
    ``what`` names the target: a parameter (a command respells it as its flag), or text.
    """
    raw = os.fspath(target)
    if raw.strip() == "":
        raise ArgumentError(what, " is empty; give a folder path such as results/out")
    check_working_folder(raw, what=what)
    path = through_link(Path(raw))
    cwd = working_folder()  # a removed one has no path left that could name it
    if path.name in ("", ".", "..") or (
        cwd is not None and os.path.realpath(path) == os.path.realpath(cwd)
    ):
        raise ArgumentError(
            what,
            f" {raw!r} names the current or a parent folder, which cannot be replaced; "
            "give a new folder path such as results/out",
        )
    if os.path.ismount(path):  # its parent cannot take its place: refused only at the swap
        raise ArgumentError(
            what,
            f" {raw} is a mount point, which cannot be replaced; write into a folder inside it, "
            f"such as {os.path.join(raw, 'out')}",
        )
    if path.exists() and not path.is_dir():
        raise ArgumentError(what, f" {raw} is a file, not a folder; choose another path")
    _check_parent(path, raw, what)
    return path


def check_writable_file(target: str | os.PathLike[str], *, what: str | Param) -> Path:
    """Check up front that ``target`` can be written as a file (by :func:`write_file`); a
    symbolic link is checked as the file it names (:func:`through_link`).

    Raises :class:`~nb201_flat.errors.ArgumentError` for ``''``, a folder, a path that lies
    under a file, a parent folder that cannot be created or written, and a relative path where
    the working folder was removed (:func:`check_working_folder`).
    """
    raw = os.fspath(target)
    if raw.strip() == "":
        raise ArgumentError(what, " is empty; give a file path such as results/out.csv")
    check_working_folder(raw, what=what)
    path = through_link(Path(raw))
    if path.is_dir() or raw.endswith(("/", os.sep)):
        raise ArgumentError(what, f" {raw} is a folder, not a file; name a file in it")
    if (why := _not_replaceable(path)) is not None:
        raise ArgumentError(what, f" {raw} {why}; choose another path")
    _check_parent(path, raw, what)
    return path


def _not_replaceable(path: Path) -> str | None:
    """Why a file renamed over ``path`` (a link already followed) would do harm, or None:
    an existing device, pipe or socket (``/dev/null`` became a plain file), or the file this
    process's own output goes to (``/dev/stdout`` redirected to a log: the log was lost)."""
    try:
        st = path.stat()
    except OSError:
        return None  # nothing there yet (or unreadable: the write says why)
    if not stat.S_ISREG(st.st_mode):
        return (
            "exists and is no regular file (a folder, device, pipe or socket), which a write "
            "would replace"
        )
    # by the streams, not fds 1 and 2: closed at start, a file opened later may hold them
    for stream, name in ((sys.stdout, "output"), (sys.stderr, "error output")):
        try:
            out = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):  # None, closed, or no descriptor
            continue
        if (out.st_dev, out.st_ino) == (st.st_dev, st.st_ino):
            return f"is the file this command's {name} goes to, which a write would replace"
    return None


def through_link(path: Path) -> Path:
    """The path a write to ``path`` lands on: a symbolic link's target (a dangling link's too,
    which the write creates), else ``path``. Renaming a new file over the link itself would
    leave the file it names unchanged, and every other path to it reading the old contents.
    A loop of links is an :class:`ArgumentError` (``realpath`` stops inside it: the write
    replaced one of its links)."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise ArgumentError(
            f"{path} is a loop of symbolic links, which names no file; remove it or choose "
            "another path"
        )
    return target


def _check_parent(path: Path, raw: str, what: str | Param) -> None:
    """The nearest existing folder above ``path`` is a writable folder (not a file)."""
    parent = path.parent
    for up in [parent, *parent.parents]:
        if up.is_symlink() and not up.exists():  # making the folders met "File exists"
            raise ArgumentError(
                what,
                f" {raw}: the folder {up} is a symbolic link to nothing (dangling, or a loop "
                "of links); fix the link or choose another path",
            )
        if up.exists():
            if not up.is_dir():
                raise ArgumentError(what, f" {raw} lies under the file {up}; choose another path")
            if not os.access(up, os.W_OK | os.X_OK):
                raise ArgumentError(
                    what,
                    f" {raw}: the folder {up} is not writable (read-only filesystem or "
                    "no permission); choose a writable path",
                )
            break


@contextlib.contextmanager
def replace_folder(
    target: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    what: str | Param = _OUT,
) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success swap it in as ``target``.

    For a folder that is one whole (a table): whatever ``target`` held before is replaced.
    Files written into a folder shared with other outputs go through :func:`replace_files`.

    Parameters
    ----------
    target
        The folder to create or replace.
    overwrite
        Replace an existing ``target``; else an existing one (also one created meanwhile by
        a concurrent writer) is an error and nothing is changed.
    what
        How messages name the target: the caller's parameter (a command respells it as its
        flag), or text.

    Raises
    ------
    TableFileError
        ``target`` exists and ``overwrite`` is false, or the disk filled up or the filesystem
        refused a write (the target is then unchanged and nothing is left beside it).
    """
    path = check_writable_target(target, what=what)
    if path.exists() and not overwrite:
        raise TableFileError(f"{path} exists; pass ", _OVERWRITE, " to replace it")
    created: list[Path] = []
    try:
        created = _make_folders(path.parent)
        recover(path)
        tmp = Path(tempfile.mkdtemp(prefix=_writer_prefix(path, "tmp"), dir=path.parent))
        os.chmod(tmp, folder_mode())
    except OSError as exc:
        _remove_folders(created)
        raise _write_error(path, exc) from None
    try:
        yield tmp
        for sub in tmp.rglob("*"):
            _fsync_file(sub)
        _swap_in(tmp, path, overwrite=overwrite)
    except BaseException as exc:
        _remove(tmp)
        _remove_folders(created)
        if isinstance(exc, OSError) and not isinstance(exc, Nb201FlatError):
            raise _write_error(path, exc) from None
        raise
    _fsync_dir(path.parent)


# the staging folder of replace_files, inside the folder written to: a rename from it never
# crosses a filesystem (the folder may be a mount point, unlike its parent)
_STAGE: Final = "nb201_flat-staged"


@contextlib.contextmanager
def replace_files(folder: str | os.PathLike[str], *, what: str | Param = _OUT) -> Iterator[Path]:
    """Yield an empty staging folder; on success rename each file written there into ``folder``.

    A file ``stage/a.csv`` (or ``stage/sub/a.csv``) becomes ``folder/a.csv``, replacing the
    previous version in one rename; every other file of ``folder`` is left alone, also one
    another process creates or replaces while this write runs. The renames hold a lock on
    ``folder`` (:func:`_renaming_into`): of two runs writing the same files into it at once,
    the one that renames last replaces them all. ``folder`` is created if missing, with any
    missing folders above it (each removed again if the write fails and it is still empty).

    When the write fails or is interrupted:

    - before the renames (an error or Ctrl-C while the files are produced, a full disk while
      they are written): ``folder`` is unchanged, each of these files keeps its previous
      version (or stays absent), and the staging folder is removed;
    - during the renames (which write no data: only a filesystem refusing one fails them):
      the files renamed so far get their previous versions back (hard-linked aside before
      each rename) or are removed where there was none, so the folder again holds the old set.

    No file is ever seen half written. Only a kill (``kill -9``, power loss) in the middle
    of the renames leaves some files new and the rest old; a staging folder it leaves behind
    (``.nb201_flat-staged.tmp-PID-XXXXXXXX``) is removed by the next write into ``folder``.

    Raises
    ------
    ArgumentError
        ``folder`` is empty, a file, or under a file, or its parent cannot be written, or it
        is relative and the working folder was removed.
    TableFileError
        The disk filled up or the filesystem refused a write (``folder`` is then unchanged).
    """
    with staged_files(check_writable_folder(folder, what=what)) as stage:
        yield stage


def check_writable_folder(folder: str | os.PathLike[str], *, what: str | Param = _OUT) -> Path:
    """Check up front that :func:`replace_files` can write into ``folder``; return it as a Path.

    Unlike :func:`check_writable_target`, the current folder is allowed: files are renamed
    into it one by one, and the folder itself is never replaced. A symbolic link is the
    folder it names (:func:`through_link`), created where it dangles, as a file's link is
    (creating the link's own path failed with "File exists").
    """
    raw = os.fspath(folder)
    if raw.strip() == "":
        raise ArgumentError(what, " is empty; give a folder path such as results/out")
    check_working_folder(raw, what=what)
    path = through_link(Path(raw))
    if path.exists() and not path.is_dir():
        raise ArgumentError(what, f" {raw} is a file, not a folder; choose another path")
    _check_parent(path / _STAGE, raw, what)  # path itself, where it exists, and up
    return path


def check_replaceable_files(
    folder: str | os.PathLike[str], names: Iterable[str], *, what: str | Param = _OUT
) -> Path:
    """:func:`check_writable_folder`, and that each of ``names`` (the files a run will write
    into ``folder``) can be renamed over what is there now (:func:`_refusal`); return the folder.

    A command knows its files' names before its work: a folder or pipe where one goes was
    otherwise refused only at the end, by :func:`replace_files`, after the whole run.
    """
    path = check_writable_folder(folder, what=what)
    for name in names:
        if (why := _refusal(path / name)) is not None:
            fix = "send the output elsewhere" if "output goes to" in why else "move it away"
            raise ArgumentError(
                what, f" {os.fspath(folder)}: {path / name} {why}; {fix}, or choose another folder"
            )
    return path


def _refusal(dst: Path) -> str | None:
    """Why a file of :func:`replace_files` cannot be renamed over ``dst``, or None. A
    symbolic link there is replaced itself (the file it names is left alone), so it may stay."""
    return None if dst.is_symlink() else _not_replaceable(dst)


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` with every missing folder above it; return those created, outermost
    first, for :func:`_remove_folders` (``mkdir(parents=True)`` says nothing of them)."""
    missing = []
    for up in [folder, *folder.parents]:
        if up.is_dir():
            break
        missing.append(up)
    created: list[Path] = []
    try:
        for new in reversed(missing):
            try:
                new.mkdir()
            except FileExistsError:
                if not new.is_dir():
                    raise
                continue  # made meanwhile by another process: not ours to remove
            created.append(new)
    except BaseException:
        _remove_folders(created)
        raise
    return created


def _remove_folders(created: list[Path]) -> None:
    """Remove the folders :func:`_make_folders` created, innermost first, each only while it
    is empty: never a file another process put there meanwhile."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def staged_files(folder: Path) -> Iterator[Path]:
    """:func:`replace_files` without the checks of ``folder`` (its callers made them)."""
    created: list[Path] = []
    try:
        created = _make_folders(folder)
        recover(folder / _STAGE)  # a killed writer's staging folder
        stage = Path(tempfile.mkdtemp(prefix=_writer_prefix(folder / _STAGE, "tmp"), dir=folder))
    except OSError as exc:
        _remove_folders(created)
        raise _write_error(folder, exc) from None
    try:
        yield stage
        _move_files(stage, folder)
    except BaseException as exc:
        _remove(stage)
        _remove_folders(created)  # every folder made for the run (a/b/c: a and a/b too)
        if isinstance(exc, OSError) and not isinstance(exc, Nb201FlatError):
            raise _write_error(folder, exc) from None
        raise
    _discard(stage, f"the staging folder of {folder}")


def _move_files(stage: Path, folder: Path) -> None:
    """Rename each file under ``stage`` to the same place under ``folder``: all or none.

    Each previous version is hard-linked aside (into ``stage``) before its replacement, so
    a failed rename (or an interrupt) puts back what the earlier ones replaced. The renames and
    their undoing hold :func:`_renaming_into`'s lock, so another writer's never fall among them.
    """
    files = sorted(p for p in stage.rglob("*") if p.is_symlink() or not p.is_dir())
    for src in files:  # before any rename: the file stdout goes to was replaced, its lines lost
        dst = folder / src.relative_to(stage)  # the path renamed over (a link: the link itself)
        if (why := _refusal(dst)) is not None:  # the rule check_replaceable_files applies
            raise TableFileError(
                f"could not write {dst}: it {why}; nothing was changed; send the output "
                "elsewhere, or write into another folder"
            )
    for src in files:
        _fsync_file(src)
    aside = Path(tempfile.mkdtemp(prefix=".previous-", dir=stage))
    moved: list[tuple[Path, Path | None]] = []  # (target, its previous version or None)
    with _renaming_into(folder):
        try:
            for src in files:
                dst = folder / src.relative_to(stage)
                dst.parent.mkdir(parents=True, exist_ok=True)
                previous = None
                if dst.is_symlink() or dst.is_file():
                    previous = aside / str(len(moved))
                    _link_one(dst, previous)
                try:
                    os.replace(src, dst)
                except OSError as exc:  # named by the file refused, not by the folder
                    raise _write_error(dst, exc) from None
                moved.append((dst, previous))
        except BaseException:
            for dst, previous in reversed(moved):
                with contextlib.suppress(OSError):
                    if previous is None:
                        dst.unlink()
                    else:
                        os.replace(previous, dst)
            raise
    for parent in sorted({dst.parent for dst, _ in moved}):
        _fsync_dir(parent)


# where a folder cannot be locked itself (opened for reading: NFS, or no read permission):
# the lock file _renaming_into holds in it instead
_LOCK: Final = f".{_STAGE}.lock"


@contextlib.contextmanager
def _renaming_into(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` while files are renamed into it.

    Two runs writing the same files into one folder renamed them in turns, and each exited 0
    leaving a mix of both; under the lock the one that renames last replaces every file. The
    lock is on the folder itself, so nothing is added to it; where the filesystem cannot lock a
    folder, on the file ``.nb201_flat-staged.lock`` in it; without ``fcntl`` (Windows), or
    where neither can be locked, the renames go unlocked. The kernel drops the lock when its
    holder dies, so it never outlives a killed writer.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    for path, flags in ((folder, os.O_RDONLY), (folder / _LOCK, os.O_RDWR | os.O_CREAT)):
        try:
            fd = os.open(path, flags, file_mode())
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            os.close(fd)
            continue
        try:
            yield
        finally:
            os.close(fd)  # and with it the lock
        return
    log.debug("renaming into %s unlocked: neither it nor a file in it can be locked", folder)
    yield


def _link_one(src: Path, dst: Path) -> None:
    """``dst`` as a second name of ``src`` (a symlink itself, not what it points to)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # another filesystem, or one without hard links
        shutil.copy2(src, dst, follow_symlinks=False)


def _fsync_file(path: Path) -> None:
    if path.is_file():
        with contextlib.suppress(OSError), path.open("rb") as f:
            os.fsync(f.fileno())


def _swap_in(new: Path, target: Path, *, overwrite: bool) -> None:
    if not target.exists():
        if _rename2(new, target, _RENAME_NOREPLACE):
            return
        if not target.exists():
            try:
                os.rename(new, target)  # replaces at most an empty folder created meanwhile
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            else:
                return
        if not overwrite:
            raise TableFileError(f"{target} exists; pass ", _OVERWRITE, " to replace it")
    elif not overwrite:
        raise TableFileError(f"{target} exists; pass ", _OVERWRITE, " to replace it")
    old = target.parent / (_writer_prefix(target, "old") + new.name[-8:])  # its random part
    if _rename2(new, target, _RENAME_EXCHANGE):
        _discard(new, f"the previous version of {target}")  # new now holds it
        return
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)  # put the previous folder back
        raise
    _discard(old, f"the previous version of {target}")


def _write_error(path: Path, exc: OSError) -> TableFileError:
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    if exc.errno in FULL:
        fix = (
            "free some space, or raise the disk quota or file-size limit (ulimit -f), and run "
            "it again"
        )
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = "choose a writable path"
    else:
        fix = "check the path and run it again"
    return TableFileError(f"could not write {path} ({reason}); nothing was changed; {fix}")


def write_file(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Write one file atomically: ``write(f)`` fills a temporary file renamed over ``path``
    (over the file it names, where ``path`` is a symbolic link: :func:`through_link`).

    The temporary file is ``.NAME.PID-XXXXXXXX.tmp`` beside it; one a killed writer left is
    removed by the next write of ``path`` (:func:`recover`). A relative ``path`` where the
    working folder was removed is an :class:`ArgumentError` (:func:`check_working_folder`).
    """
    check_working_folder(path, what=Param("path"))
    target = through_link(Path(path))
    if (why := _not_replaceable(target)) is not None:  # the callers' own checks said it first
        raise TableFileError(f"could not write {target}: it {why}; nothing was changed")
    created: list[Path] = []
    try:
        created = _make_folders(target.parent)
        recover(target)  # a killed writer's temporary file
        fd, tmp = tempfile.mkstemp(
            prefix=_writer_prefix(target, "file"), suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        _remove_folders(created)
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _remove_folders(created)
        if isinstance(exc, OSError) and not isinstance(exc, Nb201FlatError):
            raise _write_error(target, exc) from None
        raise
    _fsync_dir(target.parent)
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    return write_file(path, lambda f: f.write(data))
