"""Several jobs trained as one unit (a grouped network, or cells on concurrent streams).

What every unit does around its training is the same: hold every member's run lock, skip the
members the results database already has, train the rest together on their device (the current
CUDA device while they train: :func:`~nb201_flat.train.trainer.current_gpu`), and answer in job
order.

Examples
--------
>>> from nb201_flat.train.unit import train_unit
>>> train_unit([], lambda jobs, db: [])
[]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack

from nb201_flat.train.jobs import JobResult, TrainJob, check_stored_data, discard_if_damaged
from nb201_flat.train.results_db import ResultsDB
from nb201_flat.train.runlock import run_lock

UnitTrainer = Callable[[list[TrainJob], ResultsDB], list[JobResult]]
"""``train(jobs, db)``: trains the members not yet done, one result each, in order."""


def train_unit(jobs: Sequence[TrainJob], train: UnitTrainer) -> list[JobResult]:
    """Lock every member, skip those ``db`` has done, ``train`` the rest on their device (one
    for the unit, made the current CUDA device while they train); results in job order."""
    jobs = list(jobs)
    if not jobs:
        return []
    with ExitStack() as stack:
        for job in jobs:
            stack.enter_context(run_lock(job.checkpoint_folder, job.name))
        db = ResultsDB(jobs[0].db_path, named="db_path")
        try:
            results: dict[int, JobResult] = {}
            todo = []
            for pos, job in enumerate(jobs):
                discard_if_damaged(job, db)  # every member is locked
                if db.is_done(job.key):
                    check_stored_data(job, db.data_digest(job.key))
                    metrics, t = db.final_metrics(job.key)
                    results[pos] = JobResult(job, "skipped", metrics, t)
                else:
                    todo.append(pos)
            if todo:
                from nb201_flat.train.trainer import current_gpu  # torch: only to train

                # the unit's device (its members share it: check_groupable, check_concurrent)
                with current_gpu(jobs[todo[0]].device):
                    trained = train([jobs[p] for p in todo], db)
                results.update(zip(todo, trained, strict=True))
        finally:
            db.close()
    return [results[p] for p in range(len(jobs))]
