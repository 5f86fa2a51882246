"""Checkpoints and results written off the training thread, by one background writer.

Writing a checkpoint (serialise, fsync, rename) and upserting an epoch's rows into SQLite take
time a GPU would spend idle if the training thread did them. :class:`BackgroundWriter` runs
them on one thread, in the order they were handed over, so the trainer's invariant holds: an
epoch's results are stored before its checkpoint, and a crash in between repeats that epoch.

* **Bounded memory.** The queue holds at most ``max_pending`` items (default 1); handing over
  another blocks until the writer has taken one, so at most ``max_pending + 1`` snapshots exist
  besides the live state.
* **Snapshots, not references.** The training thread hands over :func:`cpu_snapshot` copies
  (every tensor copied to the CPU), so the next step cannot change what is being written.
* **Errors are never lost.** An exception in the writer is kept and raised on the training
  thread at its next :meth:`~BackgroundWriter.submit`, :meth:`~BackgroundWriter.flush` or
  :meth:`~BackgroundWriter.close`; the items after a failed one are dropped, so a checkpoint is
  never written after its epoch's results failed to be stored.
* **Exit and kill.** :meth:`~BackgroundWriter.close` (also on an exception in the training
  thread, through the context manager) writes everything already handed over: those are
  completed epochs. Each file goes through :func:`nb201_flat.atomic.write_file`, so after a
  ``kill -9`` at any moment the newest complete checkpoint is intact and a resume is exact.

Examples
--------
>>> out = []
>>> with BackgroundWriter() as w:
...     w.submit(lambda: out.append(1))
...     w.submit(lambda: out.append(2))
>>> out
[1, 2]
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()


def cpu_snapshot(obj: Any) -> Any:
    """A deep copy of ``obj`` in which every tensor is a CPU copy (dicts, lists, tuples walked).

    Values are bit-identical to the originals; nothing in the result shares memory with them.
    """
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [cpu_snapshot(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(cpu_snapshot(v) for v in obj)
    return obj  # numbers, strings, None: immutable


class BackgroundWriter:
    """One thread that runs handed-over write tasks in order; see the module docstring.

    Parameters
    ----------
    max_pending
        Tasks that may wait while one is being written (1 or 2 keeps memory bounded).
    name
        Thread name (shows in debuggers and ``py-spy``).
    """

    def __init__(self, *, max_pending: int = 1, name: str = "nb201-writer") -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, int(max_pending)))
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is _STOP:
                    return
                if self._error is None:  # after a failure, later writes would break the order
                    task()
            except BaseException as exc:  # kept for the training thread; never lost
                self._error = exc
            finally:
                self._queue.task_done()

    def check(self) -> None:
        """Raise the writer's error, if one happened, on the calling (training) thread."""
        if self._error is not None:  # sticky: every later call fails the same way
            raise self._error

    def submit(self, task: Callable[[], object]) -> None:
        """Hand ``task`` to the writer; blocks while ``max_pending`` tasks are waiting."""
        if self._closed:
            raise RuntimeError("BackgroundWriter is closed")
        self.check()
        self._queue.put(task)

    def flush(self) -> None:
        """Wait until every handed-over task has run; raise a writer error."""
        self._queue.join()
        self.check()

    def close(self) -> None:
        """Run what is queued, stop the thread and raise a writer error (idempotent)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
        self.check()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # the training thread failed: still write the completed epochs, and do not hide its
        # error behind one of the writer's (logged instead)
        try:
            self.close()
        except BaseException as werr:
            if werr is exc:  # the training thread's error was the writer's, raised earlier
                return
            log.error("checkpoint/results writer also failed: %s: %s", type(werr).__name__, werr)
