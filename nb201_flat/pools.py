"""Process pools that stop at once when interrupted.

Leaving a ``ProcessPoolExecutor`` normally waits for every running and queued task, so a Ctrl-C
during a search or a training campaign would wait for whole runs. :func:`abandon` stops the
workers instead; :func:`stopped_on_interrupt` does it for a ``with`` block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


def default_sigterm() -> None:
    """In a worker forked from a command: SIGTERM kills it, as by default. The command's own
    handler (it ends the command as an exception does), inherited through fork, raised
    ``SystemExit`` inside a task, which a pool worker sends back as the task's exception and
    lives on: :func:`abandon`'s terminate then did not stop it."""
    import signal

    with contextlib.suppress(ValueError):  # off the main thread: nothing was inherited there
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def abandon(ex: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and drop its queued tasks (``shutdown`` would wait)."""
    processes = list((getattr(ex, "_processes", None) or {}).values())  # no public handle
    # taken before shutdown() drops them: see below
    writer = getattr(getattr(ex, "_result_queue", None), "_writer", None)
    manager = getattr(ex, "_executor_manager_thread", None)
    for proc in processes:
        proc.terminate()
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.join(timeout=1.0)
        if proc.is_alive():  # deaf to SIGTERM: SIGKILL, which waits only for a driver call
            proc.kill()
            proc.join(timeout=5.0)
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
