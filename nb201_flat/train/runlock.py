"""One training run, one process: a lock file per run, and workers that die with their parent.

:func:`run_lock` holds an exclusive ``fcntl.flock`` on ``<run folder>.lock`` (beside the run's
checkpoint folder) for the life of a run, so a second ``train`` resuming the same run while the
first is still alive is refused instead of training it twice and racing on its checkpoints.
The kernel drops a ``flock`` when its holder dies (``kill -9`` included), so a lock never
outlives its process and needs no cleanup. The file keeps the holder's pid and host for the
message. Where ``fcntl`` is missing (Windows) runs are not locked.

:func:`die_with_parent` makes a worker process exit when the process that started it dies:
``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, plus a thread that polls the parent pid on every
system (the fallback, and a guard for a parent that died before the ``prctl`` call).

Examples
--------
>>> import tempfile, os
>>> folder = os.path.join(tempfile.mkdtemp(), "run-1")
>>> with run_lock(folder, "run-1"):
...     holder(folder) is not None
True
>>> holder(folder) is None
True
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nb201_flat.errors import RunLockedError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def lock_path(folder: str | os.PathLike[str]) -> Path:
    """The lock file of the run whose checkpoints live in ``folder``."""
    p = Path(folder)
    return p.with_name(p.name + ".lock")


def _try_lock(fd: int, *, shared: bool = False) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


#: how long :func:`run_lock` tries before it refuses: a probe (:func:`holder`) holds the lock
#: for microseconds, and a run starting meanwhile was refused as 'being trained' by the pid
#: of whoever wrote the file last
_LOCK_TRIES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)


def _lock_soon(fd: int) -> bool:
    """Take the exclusive lock, trying again over :data:`_LOCK_TRIES` (a probe passing)."""
    for wait in _LOCK_TRIES:
        time.sleep(wait)
        if _try_lock(fd):
            return True
    return False


def holder(folder: str | os.PathLike[str]) -> str | None:
    """Who holds the run's lock (``"pid N on HOST"``), or ``None`` when nobody does."""
    if sys.platform == "win32":
        return None
    path = lock_path(folder)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(fd, shared=True):  # shared: two probes never refuse each other
            return None  # released when fd closes
        return os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
    finally:
        os.close(fd)


def _locked(name: str, who: str, path: Path) -> RunLockedError:
    return RunLockedError(
        f"run {name} is being trained by {who} (lock {path}); wait for it to finish "
        "or stop that process, then run train again"
    )


def check_unlocked(folder: str | os.PathLike[str], name: str) -> None:
    """Raise :class:`RunLockedError` when a live process holds the run's lock (an up-front
    check; :func:`run_lock` is what guards the run)."""
    who = holder(folder)
    if who is not None:
        raise _locked(name, who, lock_path(folder))


@contextmanager
def run_lock(folder: str | os.PathLike[str], name: str) -> Iterator[None]:
    """Hold the lock of the run whose checkpoints live in ``folder`` for the ``with`` block.

    Raises
    ------
    RunLockedError
        Another live process holds it; the message names the process and the lock file.
    """
    if sys.platform == "win32":
        yield
        return
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _lock_soon(fd):
            who = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            raise _locked(name, who, path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # drops the lock; the file stays (removing it would race a new holder)


def die_with_parent(parent_pid: int, *, poll_s: float = 0.5) -> None:
    """Make this process exit as soon as ``parent_pid`` (the process that started it) dies.

    Call it first thing in a worker process. ``PR_SET_PDEATHSIG`` kills this process with
    ``SIGKILL`` when its parent dies (Linux); a daemon thread also polls ``os.getppid()`` and
    exits once the parent is gone, which covers other systems and a parent that died before
    the signal was armed.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
                log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError):  # no libc symbol: the watchdog below still runs
            log.debug("prctl unavailable; relying on the parent watchdog")
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)  # the parent is gone: nobody will read our result

    threading.Thread(target=watch, name="nb201-parent-watchdog", daemon=True).start()
