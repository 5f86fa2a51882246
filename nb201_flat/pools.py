"""Process pools that stop at once when interrupted.

Leaving a ``ProcessPoolExecutor`` normally waits for every running and queued task, so a Ctrl-C
during a search or a training campaign would wait for whole runs. :func:`abandon` stops the
workers instead; :func:`stopped_on_interrupt` does it for a ``with`` block. Forked workers set
themselves up with :func:`default_sigterm` and, where they are short-lived, :func:`return_freed_memory`.
:func:`stop_signals_held` keeps Ctrl-C and SIGTERM out of a pool's forks (and a kernel's compile),
where Python dropped the handler's exception.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any


def default_sigterm() -> None:
    """In a worker forked from a command: SIGTERM kills it, as by default. A handler that
    raises ``SystemExit``, inherited through fork, raised it inside a task, which a pool
    worker sends back as the task's exception and lives on: :func:`abandon`'s terminate then
    did not stop it. The command's own handler already acts so in a child (``cli.
    _stop_signals``); a caller's own handler (a notebook's, a test's) may not."""
    import signal

    with contextlib.suppress(ValueError):  # off the main thread: nothing was inherited there
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_FREED_BYTES = 128 * 1024  # glibc's default starting threshold


def return_freed_memory() -> bool:
    """In a forked worker on glibc: blocks of 128 KiB and more come from their own mappings and
    go back to the system when freed, and a free heap top over 128 KiB is trimmed; returns
    whether it was set (False elsewhere).

    glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), so
    after a worker's first large temporaries later ones came from the heap and their pages
    stayed resident after the free: a worker drawing a figure kept up to 20 MB more at its
    peak (the figures command's process tree: 432 MB, 414 MB with this, for about 0.9 s more
    wall in 16: the page faults of fresh mappings). Set in the worker, not the parent: a
    notebook's own process keeps glibc's defaults."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # each call returns 1 on success; a threshold set by hand also stops glibc moving it
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _FREED_BYTES) and mallopt(_M_TRIM_THRESHOLD, _FREED_BYTES)
    )


def terminate(processes: Sequence[BaseProcess]) -> None:
    """Send SIGTERM to each of ``processes`` that was started, without waiting."""
    for proc in processes:
        if proc.pid is not None:
            proc.terminate()


def reap(processes: Sequence[BaseProcess]) -> None:
    """Wait for ``processes``, once terminated (:func:`terminate`), a bounded time: those
    still alive after a second in all are killed (SIGKILL waits only for a driver call), then
    waited for at most 5 s in all. Never waits for ever on a child that lives on."""
    started = [proc for proc in processes if proc.pid is not None]
    _join_all(started, 1.0)
    for proc in started:
        if proc.is_alive():  # deaf to SIGTERM
            proc.kill()
    _join_all(started, 5.0)


def _join_all(processes: Sequence[BaseProcess], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for proc in processes:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))


def abandon(ex: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and drop its queued tasks (``shutdown`` would wait)."""
    processes = list((getattr(ex, "_processes", None) or {}).values())  # no public handle
    # taken before shutdown() drops them: see below
    writer = getattr(getattr(ex, "_result_queue", None), "_writer", None)
    manager = getattr(ex, "_executor_manager_thread", None)
    terminate(processes)
    ex.shutdown(wait=False, cancel_futures=True)
    reap(processes)
    # a worker killed while sending a large result leaves half a message in the result pipe,
    # and the pool's manager thread would wait for the rest for ever (the interpreter joins
    # that thread at exit: Ctrl-C would hang). Closing this process's copy of the pipe's
    # writing end, the last one once the workers are gone, gives it end-of-file instead.
    if writer is not None and not any(proc.is_alive() for proc in processes):
        writer.close()
    # the manager thread closes its wake-up pipe as it ends, while Python 3.11's exit hook
    # (concurrent.futures.process._python_exit) writes to that pipe without a lock: an exit
    # racing the close printed "Exception ignored ... Bad file descriptor" after "interrupted".
    # Ended here, the pipe is closed (and marked so) before the hook runs
    if manager is not None:
        manager.join(timeout=5.0)


@contextlib.contextmanager
def stopped_on_interrupt(ex: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """``ex`` for a ``with`` block: shut down normally at its end, abandoned (:func:`abandon`)
    when anything, Ctrl-C included, leaves it early."""
    try:
        yield ex
    except BaseException:
        abandon(ex)
        raise
    ex.shutdown(wait=True)


@contextlib.contextmanager
def stop_signals_held() -> Iterator[None]:
    """Within the block, a SIGINT or SIGTERM whose handler is Python code (Ctrl-C's
    KeyboardInterrupt, the command line's SIGTERM) is acted on when the block ends, in this
    process. Raised inside numba's compiler or loader (a ctypes callback, a ``__del__``) or an
    at-fork hook, the handler's exception was printed as "Exception ignored" and dropped (the
    command ran on to exit 0), or left numba's state broken (``SystemError``, "no compiled
    object yet"). A signal whose action is the default (SIGTERM outside the command line)
    still acts at once.

    Handlers are swapped, not the signal mask: a thread that does not block the signal (a
    bar's monitor, a pool's manager) would take it, and Python runs the handler on the main
    thread wherever it is; a mask would also pass to the children forked within the block.
    A child forked within the block runs the handlers it inherited as they were. A block
    inside another holds nothing more; off the main thread (where no handler runs) nothing
    is held.

    >>> with stop_signals_held():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    pending: list[int] = []
    kept: dict[int, Any] = {}

    def defer(signum: int, frame: Any) -> None:
        if os.getpid() != owner:  # a child forked within the block: as it was
            kept[signum](signum, frame)
        elif signum not in pending:
            pending.append(signum)

    setattr(defer, "holds_stop_signals", True)  # noqa: B010 (a mark read by inner blocks)
    for stop in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(stop)
        if callable(handler) and not getattr(handler, "holds_stop_signals", False):
            kept[stop] = handler
            signal.signal(stop, defer)
    try:
        yield
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)
        _deliver(sorted(pending, key=lambda s: s == signal.SIGTERM))


def _deliver(pending: list[int]) -> None:
    """Run the handlers of the ``pending`` signals now, each even where one before it raised
    (its exception is the next one's context): SIGTERM last, so that a command stopped both
    ways ends as terminated (143)."""
    if pending:
        try:
            signal.raise_signal(pending[0])
        finally:
            _deliver(pending[1:])
