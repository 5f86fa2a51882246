"""Train several different cells at once in one process, one CUDA stream each, with each run's
results and checkpoints exactly where a separate run would put them.

:func:`train_concurrent` takes :class:`~nb201_flat.train.jobs.TrainJob`\\ s that may differ in
their cell and seed but share everything that decides the data and the arithmetic (dataset,
data and split folders, device, mode, recipe, network size, databases; see
:func:`concurrency_key`). It loads the dataset onto the device once, builds one
:class:`~nb201_flat.train.trainer.Session` per run not yet done, and steps them together with
:class:`~nb201_flat.train.streams.ConcurrentSessions`. Nothing tells a member from a separate
run:

* its epochs are upserted under its own :attr:`TrainJob.key` and it is marked ``done`` with its
  own size and FLOPs; ``train_time_s`` is the wall-clock time of the epochs it trained in
  (all members train during all of an epoch, as runs sharing a GPU through
  ``--jobs-per-device`` record theirs);
* its checkpoints are those of a single run (same format and identity) in its own
  :attr:`TrainJob.checkpoint_folder`, and each member resumes from its own newest one, so a
  unit killed at any moment resumes as a unit or run by run, members at different epochs
  included (the members behind train alone until they reach the epoch of those ahead);
* each member holds its own run lock for the life of the unit.

Every session keeps its own generator, optimiser and schedule, so a member's numbers are its
separate run's: bitwise on a CPU, where the sessions step in turn (no streams exist there: the
same numbers, no overlap), and on CUDA up to the non-determinism of its kernels. A member whose
loss becomes non-finite comes back ``failed`` with that error while the others go on.

In ``fast`` mode each session compiles its own network, without CUDA graphs: inductor's graphs
share one memory pool that they reuse in the order of a single stream, so replayed at once on
several streams they could overwrite each other's memory
(:func:`~nb201_flat.train.modes.compile_options`). That combination has not yet run on a GPU
here; ``make bench-gpu`` measures the concurrent sweep in ``faithful`` mode, and
``tests/train/test_train_gpu.py`` checks it against the same sessions in turn.

The process-wide backend flags (:func:`~nb201_flat.train.modes.apply_backend_flags`) are set
once per unit, which is why a unit has one mode.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence

from nb201_flat.errors import (
    ArgumentError,
    CheckpointMismatchError,
    DataMismatchError,
    Nb201FlatError,
    parts_of,
    require,
)

require("torch", "train")


from nb201_flat.train import costs  # noqa: E402
from nb201_flat.train.checkpoint import Checkpointer  # noqa: E402
from nb201_flat.train.jobs import (  # noqa: E402
    JobResult,
    TrainJob,
    concurrency_key,
)
from nb201_flat.train.modes import is_eval_epoch  # noqa: E402
from nb201_flat.train.results_db import ResultsDB  # noqa: E402
from nb201_flat.train.streams import ConcurrentSessions  # noqa: E402
from nb201_flat.train.trainer import (  # noqa: E402
    DeviceData,
    RunRecord,
    Session,
    _store_epoch,
    check_owner,
    checkpoint_meta,
    device_label,
    diverged,
    load_device_data,
    resolve_device,
    warn_rows_without_checkpoints,
)
from nb201_flat.train.unit import train_unit  # noqa: E402
from nb201_flat.train.writer import BackgroundWriter  # noqa: E402

log = logging.getLogger(__name__)


def check_concurrent(jobs: Sequence[TrainJob]) -> None:
    """Raise :class:`~nb201_flat.errors.ArgumentError` unless ``jobs`` can train as one unit."""
    if not jobs:
        raise ArgumentError("a concurrent unit needs at least one job")
    base = concurrency_key(jobs[0])
    for job in jobs[1:]:
        if concurrency_key(job) != base:
            raise ArgumentError(
                f"{job.name} and {jobs[0].name} differ in more than their cell and seed; only "
                "runs of one dataset, schedule, mode, network size and device train concurrently"
            )
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ArgumentError(f"a concurrent unit repeats a run: {sorted(names)}")


def sessions_for(jobs: Sequence[TrainJob], data: DeviceData) -> list[Session]:
    """The sessions :func:`train_concurrent` steps for ``jobs`` on the shared ``data`` (each
    job's cell, size, seed, recipe and mode); benchmarks build theirs here too. A fast-mode
    network is compiled without CUDA graphs, which cannot replay on several streams at once
    (:func:`~nb201_flat.train.modes.compile_options`); its numbers are the same."""
    check_concurrent(jobs)
    return [
        Session(
            data,
            job.ops,
            job.n_nodes,
            c=job.c,
            n=job.n,
            seed=job.seed,
            recipe=job.recipe,
            mode=job.train_mode,
            cuda_graphs=False,
        )
        for job in jobs
    ]


ConcurrentEpochCallback = Callable[[TrainJob, int, Mapping[str, tuple[float, float, float]]], None]
"""``callback(job, epoch, rows)`` once a member's epoch is stored, on the writer thread."""


def train_concurrent(
    jobs: Sequence[TrainJob],
    *,
    progress: bool = False,
    on_epoch_end: ConcurrentEpochCallback | None = None,
) -> list[JobResult]:
    """Train (or resume, or skip) different cells at once, one CUDA stream each.

    Parameters
    ----------
    jobs
        Jobs that differ only in their cell and seed (see :func:`check_concurrent`).
    progress
        Show a tqdm progress bar over epochs.
    on_epoch_end
        Called after each member's epoch is stored (monitoring, tests), on the writer thread.

    Returns
    -------
    list of JobResult
        One per job, in order: ``"skipped"`` for those already done in the database,
        ``"failed"`` for a member whose loss became non-finite.
    """
    jobs = list(jobs)
    check_concurrent(jobs)
    return train_unit(
        jobs, lambda todo, db: _train(todo, db, progress=progress, on_epoch_end=on_epoch_end)
    )


def run_concurrent(jobs: Sequence[TrainJob]) -> list[JobResult]:
    """Picklable entry point for executors: :func:`train_concurrent` without progress bar."""
    return train_concurrent(jobs, progress=False)


def _train(
    jobs: list[TrainJob],
    db: ResultsDB,
    *,
    progress: bool,
    on_epoch_end: ConcurrentEpochCallback | None,
) -> list[JobResult]:
    from nb201_flat.budget import epoch_bar

    job0 = jobs[0]
    device = resolve_device(job0.device)
    if device.type != "cuda" and len(jobs) > 1:
        log.warning(
            "%d runs on %s: no CUDA streams there, so they train in turn (same numbers)",
            len(jobs),
            device,
        )
    recipe = job0.recipe
    data, identity = load_device_data(jobs, device)
    unit = ConcurrentSessions(sessions_for(jobs, data))
    info = data.info

    ckpts = [Checkpointer(j.checkpoint_folder) for j in jobs]
    starts = [0] * len(jobs)
    train_time = [0.0] * len(jobs)
    form, on = f"concurrent:{len(jobs)}", device_label(device)
    records = [RunRecord.resumed(None, form, on, identity) for _ in jobs]
    failed: dict[int, Nb201FlatError] = {}
    for m, (job, ckpt, sess) in enumerate(zip(jobs, ckpts, unit.sessions, strict=True)):
        loaded = ckpt.load_latest()
        if loaded is None:
            warn_rows_without_checkpoints(job, db, ckpt)
            continue
        start, state = loaded
        try:
            check_owner(state, job, ckpt.folder, identity, device)
        except (CheckpointMismatchError, DataMismatchError) as exc:  # this member's alone
            failed[m] = exc
            starts[m] = recipe.epochs
            continue
        sess.load_state(state)
        starts[m], train_time[m] = start, float(state["train_time_s"])
        training = start < recipe.epochs
        records[m] = RunRecord.resumed(
            state, form if training else None, on if training else None, identity
        )
        log.info("%s: resuming after epoch %d", job.name, start)
    for m, (job, start) in enumerate(zip(jobs, starts, strict=True)):
        if m not in failed:  # a refused member's rows stay as they are
            db.discard_epochs_after(job.key, start)

    rows: list[dict[str, tuple[float, float, float]]] = [{} for _ in jobs]
    every = job0.evaluate_every
    first = min(starts)
    bar = epoch_bar(first, recipe.epochs, desc=f"{job0.name} +{len(jobs) - 1}", show=progress)
    with BackgroundWriter() as writer:
        for epoch in bar:
            active = [m for m in range(len(jobs)) if starts[m] <= epoch and m not in failed]
            if not active:
                continue
            t0 = time.perf_counter()
            stats = unit.train_epoch(active=active)
            elapsed = time.perf_counter() - t0
            done = epoch + 1
            trained = []
            for m, (loss, acc, _) in zip(active, stats, strict=True):
                train_time[m] += elapsed
                if not math.isfinite(loss):
                    failed[m] = Nb201FlatError(
                        f"{jobs[m].name}: training loss became {loss} at epoch {done}"
                    )
                    log.error("%s", failed[m])
                    continue
                rows[m] = {"train": (loss, acc, train_time[m])}
                trained.append(m)
            if is_eval_epoch(done, every, recipe.epochs):
                for m, ev in zip(trained, unit.evaluate(active=trained), strict=True):
                    rows[m].update(ev)
                    if (why := diverged(jobs[m].name, done, rows[m])) is not None:
                        failed[m] = Nb201FlatError(why)  # its epoch is not stored
                        log.error("%s", why)
                trained = [m for m in trained if m not in failed]
            for m in trained:
                job, sess = jobs[m], unit.sessions[m]
                meta = checkpoint_meta(job, done, train_time[m], identity, records[m], device)
                callback = None if on_epoch_end is None else _bind(on_epoch_end, job)
                writer.submit(
                    _store_epoch(
                        db, ckpts[m], job, done, dict(rows[m]), {**meta, **sess.snapshot()},
                        callback, records[m].data,
                    )
                )  # fmt: skip
            bar.set_postfix(active=len(trained))
    bar.close()

    out = []
    for m, (job, sess, ckpt) in enumerate(zip(jobs, unit.sessions, ckpts, strict=True)):
        if m in failed:
            said = f"{type(failed[m]).__name__}: "
            out.append(
                JobResult(
                    job, "failed", error=f"{said}{failed[m]}",
                    error_parts=(said, *parts_of(failed[m])),
                )
            )  # fmt: skip
            continue
        if starts[m] >= recipe.epochs:  # everything was stored before a crash that hit mark_run
            metrics, t = db.final_metrics(job.key)
        else:
            metrics = {s: {"loss": v[0], "accuracy": v[1]} for s, v in rows[m].items()}
            t = train_time[m]
        flops = costs.flops_m(
            job.ops,
            n_nodes=job.n_nodes,
            c=job.c,
            n=job.n,
            num_classes=info.num_classes,
            image_size=info.image_size,
        )
        db.mark_run(
            job.key, job.index, "done", params_mb=sess.model.params_mb(), flops_m=flops,
            train_time_s=t, trained_as=records[m].trained_as, trained_on=records[m].trained_on,
            data=records[m].data,
        )  # fmt: skip
        ckpt.prune_to_last()
        out.append(JobResult(job, "done", metrics, t))
    return out


def _bind(
    callback: ConcurrentEpochCallback, job: TrainJob
) -> Callable[[int, Mapping[str, tuple[float, float, float]]], None]:
    def bound(epoch: int, rows: Mapping[str, tuple[float, float, float]]) -> None:
        callback(job, epoch, rows)

    return bound
