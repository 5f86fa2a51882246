"""Different cells trained concurrently in one process: one CUDA stream per network, one copy
of the data.

Grouping (:mod:`.grouped`) needs networks of one shape; different cells have different graphs.
:class:`ConcurrentSessions` steps several :class:`~nb201_flat.train.trainer.Session`\\ s (any
cells, sizes and modes) that share one :class:`~nb201_flat.train.trainer.DeviceData`: step
``b`` of every session is enqueued on that session's own CUDA stream, so the small kernels of
one network can overlap those of the others instead of leaving the GPU idle between launches.
Nothing is copied per network: the images live on the device once, and each network reads
them (read-only) from its stream.

Each session keeps its own generator, optimiser and schedule and no session reads another's
state, so the interleaving cannot change any number: on a CPU (no streams; the sessions step
in turn) the results are bit-identical to training the sessions one after another, which the
tests check. On CUDA every stream first waits for the work already queued on the current
stream (the data upload, the initial weights), and the current stream waits for every
session's stream at the end of the epoch.

Users reach it through ``nb201-flat train --concurrent K`` and the executors' ``concurrent=K``
(:mod:`.concurrent_run`: each run's results, checkpoints and lock its own).

Several *processes* can share a GPU as well (``--jobs-per-device``): with NVIDIA's
Multi-Process Service (MPS) their kernels run concurrently too, at the price of one copy of the
data per process; see the README's training section. Whether streams or MPS processes are
faster for a given cell mix is measured by ``make bench-gpu``, never assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from nb201_flat.errors import ArgumentError, require

require("torch", "train")

import torch  # noqa: E402

from nb201_flat.train.trainer import Session  # noqa: E402


class ConcurrentSessions:
    """Train several sessions that share one device-resident dataset, one stream each.

    Parameters
    ----------
    sessions
        Sessions built on the same :class:`~nb201_flat.train.trainer.DeviceData` object.

    Raises
    ------
    ArgumentError
        No sessions, sessions with different data objects (each would hold its own copy), or,
        on CUDA, several sessions of which one replays CUDA graphs (inductor's share one memory
        pool, reused in the order of a single stream: graphs replayed at once on several
        streams could overwrite each other's memory; build them with ``cuda_graphs=False``).
    """

    def __init__(self, sessions: Sequence[Session]) -> None:
        if not sessions:
            raise ArgumentError("ConcurrentSessions needs at least one session")
        data = sessions[0].data
        if any(s.data is not data for s in sessions):
            raise ArgumentError(
                "sessions trained concurrently must share one DeviceData (one copy of the "
                "images on the device); build them all from the same DeviceData"
            )
        self.sessions = list(sessions)
        self.device = data.device
        self.on_cuda = self.device.type == "cuda"
        if self.on_cuda and len(self.sessions) > 1 and any(s.cuda_graphs for s in sessions):
            raise ArgumentError(
                "sessions stepped on several CUDA streams must not replay CUDA graphs (they "
                "share one memory pool, reused in the order of a single stream); build them "
                "with Session(..., cuda_graphs=False), as concurrent_run.sessions_for does"
            )
        self.streams: list[Any] = (
            [torch.cuda.Stream(device=self.device) for _ in self.sessions]  # type: ignore[no-untyped-call]
            if self.on_cuda
            else [None] * len(self.sessions)
        )

    def _on(self, i: int) -> AbstractContextManager[Any]:
        stream = self.streams[i]
        return torch.cuda.stream(stream) if stream is not None else nullcontext()

    def _chosen(self, active: Sequence[int] | None) -> list[int]:
        return list(range(len(self.sessions))) if active is None else list(active)

    def train_epoch(
        self, max_steps: int | None = None, active: Sequence[int] | None = None
    ) -> list[tuple[float, float, int]]:
        """One epoch of every session (or of those at positions ``active``): ``[(mean loss,
        accuracy %, images)]`` in that order.

        Sessions with fewer steps (a smaller dataset share, another batch size) finish early.
        """
        chosen = self._chosen(active)
        if self.on_cuda:
            current = torch.cuda.current_stream(self.device)
            for i in chosen:
                self.streams[i].wait_stream(current)  # data upload and weights are ready
        steps = []
        for i in chosen:
            with self._on(i):
                steps.append(self.sessions[i].begin_epoch(max_steps))
        for b in range(max(steps, default=0)):
            for i, n_steps in zip(chosen, steps, strict=True):
                if b < n_steps:
                    with self._on(i):
                        self.sessions[i].step(b)
        if self.on_cuda:
            current = torch.cuda.current_stream(self.device)
            for i in chosen:
                current.wait_stream(self.streams[i])
            torch.cuda.synchronize(self.device)
        out = []
        for i in chosen:
            with self._on(i):
                out.append(self.sessions[i].end_epoch())
        return out

    def evaluate(
        self, active: Sequence[int] | None = None
    ) -> list[dict[str, tuple[float, float, float]]]:
        """Every (or every ``active``) session's
        :meth:`~nb201_flat.train.trainer.Session.evaluate`, in turn."""
        out = []
        for i in self._chosen(active):
            with self._on(i):
                out.append(self.sessions[i].evaluate())
        return out
