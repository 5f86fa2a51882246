"""Train several seeds of one cell as one grouped network, with each member's results and
checkpoints exactly where a separate run would put them.

:func:`train_group` takes :class:`~nb201_flat.train.jobs.TrainJob`\\ s that differ only in
their seed (same cell, dataset, schedule, mode, network size, data, database) and trains the
ones not yet done as one :class:`~nb201_flat.train.grouped.GroupedSession`. For the results
database and the checkpoints nothing tells a member from a separate run:

* each member's epochs are upserted under its own :attr:`TrainJob.key` and it is marked
  ``done`` with its own size and FLOPs; ``train_time_s`` is the group's wall-clock training
  time (the members trained during all of it, as runs sharing a GPU through
  ``--jobs-per-device`` record theirs);
* each member's checkpoint is written to its own :attr:`TrainJob.checkpoint_folder` in the
  single-run format, with the single run's identity, so a group killed at any moment resumes
  as a group or member by member, and a member started alone can finish in a group;
* each member holds its own run lock for the life of the group.

A grouped member's numbers equal its separate run's up to float rounding of the batched
kernels (tested on CPU), not bitwise, in either mode: a group trains in its jobs' mode
(``faithful``: fp32; ``fast``: bf16 autocast, pruned dead edges, and on CUDA channels-last,
``torch.compile`` and the cuDNN flags; see :mod:`.grouped`), so a member shares the results key
of the separate run in that mode and never that of the other mode.

Datasets are not grouped: their networks differ in shape (classifier width) and their epochs
in length (25k or 50k images), which batched kernels cannot share; a campaign over several
datasets forms groups per dataset.

After a kill between members' checkpoint writes the members stand at different epochs; the
group resumes from the newest epoch every member has a checkpoint of (checkpoints keep two
epochs), or from epoch 0, the seeded start every member shares, where one has none yet (a kill
in epoch 1's writes); the members ahead repeat that epoch and overwrite their rows with the
same numbers. Members further apart (one trained alone first) resume in groups of their own
stands (:func:`_resume_clusters`), so no member is thrown back more than one epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from nb201_flat.errors import ArgumentError, Nb201FlatError, require

require("torch", "train")

import torch  # noqa: E402

from nb201_flat.train import costs  # noqa: E402
from nb201_flat.train.checkpoint import Checkpointer  # noqa: E402
from nb201_flat.train.data import DataIdentity  # noqa: E402
from nb201_flat.train.grouped import GroupedSession  # noqa: E402
from nb201_flat.train.jobs import JobResult, TrainJob  # noqa: E402
from nb201_flat.train.model import seeded_network  # noqa: E402
from nb201_flat.train.modes import is_eval_epoch  # noqa: E402
from nb201_flat.train.results_db import ResultsDB  # noqa: E402
from nb201_flat.train.trainer import (  # noqa: E402
    DeviceData,
    RunRecord,
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


def check_groupable(jobs: Sequence[TrainJob]) -> None:
    """Raise :class:`~nb201_flat.errors.ArgumentError` unless ``jobs`` can train as one group."""
    if not jobs:
        raise ArgumentError("a group needs at least one job")
    base = replace(jobs[0], seed=0)
    for job in jobs[1:]:
        if replace(job, seed=0) != base:
            raise ArgumentError(
                f"{job.name} and {jobs[0].name} differ in more than their seed; only seeds of "
                "one cell, dataset, schedule and mode train as a group"
            )
    seeds = [j.seed for j in jobs]
    if len(set(seeds)) != len(seeds):
        raise ArgumentError(f"a group repeats a seed: {seeds}")


def grouped_session(jobs: Sequence[TrainJob], data: DeviceData) -> GroupedSession:
    """The :class:`~nb201_flat.train.grouped.GroupedSession` :func:`train_group` trains for
    ``jobs`` on ``data`` (their cell, size, seeds, recipe and mode); benchmarks build theirs
    here too, so they measure what users run."""
    check_groupable(jobs)
    job0 = jobs[0]
    return GroupedSession(
        data,
        job0.ops,
        job0.n_nodes,
        c=job0.c,
        n=job0.n,
        seeds=[j.seed for j in jobs],
        recipe=job0.recipe,
        mode=job0.train_mode,
    )


GroupEpochCallback = Callable[[int, Sequence[Mapping[str, tuple[float, float, float]]]], None]
"""``callback(epoch, rows)`` once an epoch is stored (on the writer thread); ``rows`` per member."""


def train_group(
    jobs: Sequence[TrainJob],
    *,
    progress: bool = False,
    on_epoch_end: GroupEpochCallback | None = None,
) -> list[JobResult]:
    """Train (or resume, or skip) seeds of one cell as one grouped network.

    Parameters
    ----------
    jobs
        Jobs that differ only in their seed (see :func:`check_groupable`).
    progress
        Show a tqdm progress bar over epochs.
    on_epoch_end
        Called after each epoch is stored (monitoring, tests), on the writer thread.

    Returns
    -------
    list of JobResult
        One per job, in order; ``"skipped"`` for those already done in the database.
    """
    jobs = list(jobs)
    check_groupable(jobs)
    out: dict[int, JobResult] = {}
    for cluster in _resume_clusters(jobs):
        members = [jobs[p] for p in cluster]
        done = train_unit(
            members,
            lambda todo, db: _train(todo, db, progress=progress, on_epoch_end=on_epoch_end),
        )
        out.update(zip(cluster, done, strict=True))
    return [out[p] for p in range(len(jobs))]


def _resume_clusters(jobs: Sequence[TrainJob]) -> list[list[int]]:
    """Positions of ``jobs`` that resume as one group: those whose newest checkpoints lie at
    most one epoch apart, a member with none standing at epoch 0, the seeded start every member
    shares. So a group killed between its members' writes resumes whole (checkpoints keep two
    epochs, so its members share one, epoch 0 in epoch 1's writes): the members ahead repeat
    one epoch from the shared states, as the uninterrupted group trained it; a member one epoch
    ahead for another reason (trained alone first) repeats it too. A member further ahead
    trains in a group of its own stand: in one group it was thrown back to the common epoch, 0
    where none was shared, its checkpoints and rows deleted."""
    stands = [
        max((e for e, _ in Checkpointer(j.checkpoint_folder).files()), default=0) for j in jobs
    ]
    clusters: list[list[int]] = []
    for p in sorted(range(len(jobs)), key=lambda p: -stands[p]):
        if clusters and stands[clusters[-1][0]] - stands[p] <= 1:
            clusters[-1].append(p)
        else:
            clusters.append([p])
    return [sorted(c) for c in clusters]


def run_group(jobs: Sequence[TrainJob]) -> list[JobResult]:
    """Picklable entry point for executors: :func:`train_group` without progress bar."""
    return train_group(jobs, progress=False)


def _resume_point(
    ckpts: Sequence[Checkpointer],
    jobs: Sequence[TrainJob],
    data: DataIdentity | None,
    device: torch.device,
) -> tuple[int, list[Any]]:
    """The newest epoch every member has a readable checkpoint of, and their states there.

    Every member's newest checkpoint is checked first (:func:`check_owner`): checkpoints of
    another run or of other data are refused, never discarded as a member's lead.
    """
    for job, c in zip(jobs, ckpts, strict=True):
        # renames corrupt newest files aside, removes killed writers' temps
        latest = c.load_latest()
        if latest is not None:
            check_owner(latest[1], job, c.folder, data, device)
    common = set.intersection(*({e for e, _ in c.files()} for c in ckpts))
    for epoch in sorted(common, reverse=True):
        states = [c.load_epoch(epoch) for c in ckpts]
        if all(s is not None for s in states):
            for job, st, c in zip(jobs, states, ckpts, strict=True):
                if st is not None:
                    check_owner(st, job, c.folder, data, device)
            return epoch, states
    return 0, []


def _train(
    jobs: list[TrainJob],
    db: ResultsDB,
    *,
    progress: bool,
    on_epoch_end: GroupEpochCallback | None,
) -> list[JobResult]:
    from nb201_flat.budget import epoch_bar

    job0 = jobs[0]
    device = resolve_device(job0.device)
    recipe = job0.recipe
    data, identity = load_device_data(jobs, device)
    sess = grouped_session(jobs, data)
    ckpts = [Checkpointer(j.checkpoint_folder) for j in jobs]
    for job, c in zip(jobs, ckpts, strict=True):
        warn_rows_without_checkpoints(job, db, c)
    start, states = _resume_point(ckpts, jobs, identity, device)
    resumed = states if start else [None] * len(jobs)
    training = start < recipe.epochs
    form = f"grouped:{len(jobs)}" if training else None
    on = device_label(device) if training else None
    records = [RunRecord.resumed(st, form, on, identity) for st in resumed]
    for c in ckpts:
        c.discard_after(start)  # a member ahead of the group repeats those epochs in it
    for job in jobs:  # after the checkpoints: rows never go before the states they belong to
        db.discard_epochs_after(job.key, start)
    train_time = 0.0
    if start:
        sess.load_member_states(states)
        train_time = max(float(st["train_time_s"]) for st in states)
        log.info("group of %d (%s): resuming after epoch %d", len(jobs), job0.name, start)

    info = data.info
    # as a separate run counts it: from the network itself
    params_mb = seeded_network(
        job0.ops, job0.n_nodes, c=job0.c, n=job0.n, num_classes=info.num_classes, seed=0
    ).params_mb()
    flops = costs.flops_m(
        job0.ops,
        n_nodes=job0.n_nodes,
        c=job0.c,
        n=job0.n,
        num_classes=info.num_classes,
        image_size=info.image_size,
    )
    rows: list[dict[str, tuple[float, float, float]]] = [{} for _ in jobs]
    every = job0.evaluate_every
    bar = epoch_bar(start, recipe.epochs, desc=f"{job0.name} x{len(jobs)}", show=progress)
    with BackgroundWriter() as writer:
        for epoch in bar:
            t0 = time.perf_counter()
            losses, accs, _ = sess.train_epoch_stats()
            train_time += time.perf_counter() - t0
            done = epoch + 1
            for job, loss in zip(jobs, losses, strict=True):
                if not math.isfinite(loss):
                    raise Nb201FlatError(f"{job.name}: training loss became {loss} at epoch {done}")
            rows = [{"train": (lo, acc, train_time)} for lo, acc in zip(losses, accs, strict=True)]
            if is_eval_epoch(done, every, recipe.epochs):
                for job, r, ev in zip(jobs, rows, sess.evaluate(), strict=True):
                    r.update(ev)
                    if (why := diverged(job.name, done, r)) is not None:
                        raise Nb201FlatError(why)
            meta = [
                checkpoint_meta(j, done, train_time, identity, rec, device)
                for j, rec in zip(jobs, records, strict=True)
            ]
            states = [{**m, **st} for m, st in zip(meta, sess.member_states(), strict=True)]
            recorded = [rec.data for rec in records]
            writer.submit(_store_epoch(db, ckpts, jobs, done, rows, states, on_epoch_end, recorded))
            bar.set_postfix(loss=f"{min(losses):.3f}")
    bar.close()

    out = []
    for job, r, c, rec in zip(jobs, rows, ckpts, records, strict=True):
        if start >= recipe.epochs:  # everything was stored before a crash that hit mark_run
            metrics, t = db.final_metrics(job.key)
        else:
            metrics = {s: {"loss": v[0], "accuracy": v[1]} for s, v in r.items()}
            t = train_time
        db.mark_run(
            job.key, job.index, "done", params_mb=params_mb, flops_m=flops, train_time_s=t,
            trained_as=rec.trained_as, trained_on=rec.trained_on, data=rec.data,
        )  # fmt: skip
        c.prune_to_last()
        out.append(JobResult(job, "done", metrics, t))
    return out


def _store_epoch(
    db: ResultsDB,
    ckpts: Sequence[Checkpointer],
    jobs: Sequence[TrainJob],
    epoch: int,
    rows: Sequence[dict[str, tuple[float, float, float]]],
    states: Sequence[dict[str, Any]],
    on_epoch_end: GroupEpochCallback | None,
    data: Sequence[DataIdentity | None],
) -> Any:
    """The writer's task: every member's rows (with the data it records), then every
    member's checkpoint, then the callback."""

    def task() -> None:
        for job, r, d in zip(jobs, rows, data, strict=True):
            db.write_epoch(job.key, job.index, epoch, r, data=d)
        for c, st in zip(ckpts, states, strict=True):
            c.save(epoch, st)
        if on_epoch_end is not None:
            on_epoch_end(epoch, rows)

    return task
