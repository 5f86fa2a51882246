"""Run many training jobs: one process per device slot, a dask cluster, or Slurm.

Every executor has the same contract, :meth:`Executor.map`: it takes :class:`TrainJob`\\ s and
returns one :class:`JobResult` per job, in order. Jobs whose run is already ``done`` in their
results database are not started again (their stored numbers come back with status
``skipped``), a failing job is retried up to ``retries`` more times, and a job that still fails
comes back with status ``failed`` and its error, without stopping the others. A failure another
attempt would meet again (the run held by another process; checkpoints or stored runs of
another run or data; a GPU the machine lacks) is not retried, and one every run would meet (a
results database its disk or file-size limit leaves no room to write:
:class:`~nb201_flat.errors.ResultsDBFullError`) stops the map: it is raised, the runs still going
stopped. Because each epoch is checkpointed, a retry (or a re-run after the whole executor
died) resumes where the job stopped.

* :class:`LocalExecutor`: worker processes (``spawn``) on this machine, ``jobs_per_device``
  per device, so several small networks can train at once on one GPU; ``processes=False``
  runs jobs one after another in this process (debugging, tests).
* :class:`DaskExecutor`: a ``dask.distributed`` scheduler address (``"tcp://host:8786"``) or a
  ``Client``; workers need this package and the data at the same path.
* :class:`SlurmExecutor`: one Slurm job per training job through submitit; the ``submitit``
  import and the executor are created only when :meth:`~SlurmExecutor.map` runs.

With ``group_seeds=K`` (CLI ``--group-seeds K``) every executor first forms groups of up to K
jobs that differ only in their seed (:func:`group_positions`) and runs each group as one task,
one grouped network (:func:`nb201_flat.train.grouped_run.train_group`); each member's result
lands under its own key as if trained alone, and comes back in its own position. A failing
group is retried (resuming from its members' checkpoints) or failed as a whole.

With ``concurrent=K`` (CLI ``--concurrent K``) units are instead up to K jobs of any cells and
seeds that share dataset, schedule, mode, size and device (:func:`concurrent_positions`), each
trained in one process by :func:`nb201_flat.train.concurrent_run.train_concurrent`: one CUDA
stream per run, one copy of the data (on a CPU, in turn). The two options do not combine.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from nb201_flat.errors import (
    ArgumentError,
    CheckpointMismatchError,
    DataMismatchError,
    Nb201FlatError,
    Param,
    ResultsDBFullError,
    RunLockedError,
    check_flag,
    check_int_range,
    for_log,
    for_log_parts,
    log_spelling_table,
    logs_spelled_by,
    parts_of,
    require,
    spell_logs_from,
)
from nb201_flat.errors import ExecutorSpecError as ExecutorSpecError
from nb201_flat.pools import stop_signals_held, stopped_on_interrupt
from nb201_flat.train.jobs import (
    WORKER_LOGGED_PARAMS,
    JobResult,
    TrainJob,
    check_device,
    check_stored_data,
    check_thread_count,
    clear_stray_rows,
    concurrency_key,
    is_cpu,
    with_absolute_paths,
)
from nb201_flat.train.results_db import ResultsDB, check_name_room
from nb201_flat.train.runlock import die_with_parent

log = logging.getLogger(__name__)

RunFn = Callable[[TrainJob], JobResult]
GroupRunFn = Callable[[Sequence[TrainJob]], list[JobResult]]


def _default_run(job: TrainJob) -> JobResult:
    from nb201_flat.train.trainer import run_job

    return run_job(job)


def _default_run_group(jobs: Sequence[TrainJob]) -> list[JobResult]:
    from nb201_flat.train.grouped_run import run_group

    return run_group(jobs)


def _default_run_concurrent(jobs: Sequence[TrainJob]) -> list[JobResult]:
    from nb201_flat.train.concurrent_run import run_concurrent

    return run_concurrent(jobs)


# the same runs with a progress bar over epochs, for the inline executor (a bar needs this
# process's terminal); everything else (retries, a failure as a failed result) is the executor's
def _run_with_bar(job: TrainJob) -> JobResult:
    from nb201_flat.train.trainer import train

    return train(job, progress=True)


def _run_group_with_bar(jobs: Sequence[TrainJob]) -> list[JobResult]:
    from nb201_flat.train.grouped_run import train_group

    return train_group(jobs, progress=True)


def _run_concurrent_with_bar(jobs: Sequence[TrainJob]) -> list[JobResult]:
    from nb201_flat.train.concurrent_run import train_concurrent

    return train_concurrent(jobs, progress=True)


def group_positions(
    jobs: Sequence[TrainJob], positions: Sequence[int], size: int
) -> list[list[int]]:
    """``positions`` cut into units of at most ``size`` jobs that differ only in their seed.

    Units keep the order of first appearance; ``size <= 1`` gives one unit per job. Jobs in
    different modes never share a unit (the mode is part of what must be equal).
    """
    from dataclasses import replace

    return _cut(positions, size, lambda p: replace(jobs[p], seed=0))


def concurrent_positions(
    jobs: Sequence[TrainJob], positions: Sequence[int], size: int
) -> list[list[int]]:
    """``positions`` cut into units of at most ``size`` jobs that differ only in their cell and
    seed (:func:`~nb201_flat.train.jobs.concurrency_key`), in order of first appearance."""
    return _cut(positions, size, lambda p: concurrency_key(jobs[p]))


def plan_units(
    jobs: Sequence[TrainJob], positions: Sequence[int], *, group_seeds: int, concurrent: int
) -> list[list[int]]:
    """The executor's tasks: seed groups (``group_seeds``), concurrent units (``concurrent``)
    or one job each.

    Raises
    ------
    ArgumentError
        A value below 1, or both options above 1.
    """
    check_unit_sizes(group_seeds, concurrent)
    if concurrent > 1:
        return concurrent_positions(jobs, positions, concurrent)
    return group_positions(jobs, positions, group_seeds)


def check_unit_sizes(group_seeds: int, concurrent: int) -> None:
    """One line for a bad ``--group-seeds`` / ``--concurrent`` pair (see :func:`plan_units`).

    >>> check_unit_sizes(1, 4)
    >>> check_unit_sizes(2, 2)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: group_seeds=2 and concurrent=2 do not combine: group seeds of one cell (group_seeds) or train different cells on CUDA streams (concurrent), not both
    """
    if group_seeds < 1:
        raise ArgumentError(
            Param("group_seeds"), f" must be >= 1 (seeds per group), got {group_seeds}"
        )
    if concurrent < 1:
        raise ArgumentError(
            Param("concurrent"),
            f" must be >= 1 (runs trained at once in one process), got {concurrent}",
        )
    if group_seeds > 1 and concurrent > 1:
        raise ArgumentError(
            Param("group_seeds", group_seeds),
            " and ",
            Param("concurrent", concurrent),
            " do not combine: group seeds of one cell (",
            Param("group_seeds"),
            ") or train different cells on CUDA streams (",
            Param("concurrent"),
            "), not both",
        )


def _cut(positions: Sequence[int], size: int, key_of: Callable[[int], Any]) -> list[list[int]]:
    if size <= 1:
        return [[p] for p in positions]
    open_units: dict[Any, list[int]] = {}
    units: list[list[int]] = []
    for p in positions:
        key = key_of(p)
        unit = open_units.get(key)
        if unit is None or len(unit) >= size:
            unit = []
            open_units[key] = unit
            units.append(unit)
        unit.append(p)
    return units


def _multi_runner(concurrent: int, run_group: GroupRunFn, run_concurrent: GroupRunFn) -> GroupRunFn:
    """What runs a unit of several jobs: concurrent units when ``concurrent > 1``, else groups."""
    return run_concurrent if concurrent > 1 else run_group


_NOT_RETRIED = (RunLockedError, DataMismatchError, CheckpointMismatchError)
"""Failures another attempt would meet again: a run held by another process, or files that
belong to another run or data. (A GPU the machine lacks is another: :func:`_run_unit` answers
it where it enters the unit's GPU, keeping the package's own error type in the message.)"""


def _run_unit(
    jobs: Sequence[TrainJob],
    run: RunFn,
    run_group: GroupRunFn,
    spelling: Mapping[str, str] | None = None,
) -> list[JobResult] | ResultsDBFullError:
    """One task of an executor: a single job through ``run``, a unit of several (a seed group
    or a concurrent unit) through ``run_group``, with the unit's GPU current (:func:`_unit_gpu`)
    for whatever runs it, a custom ``run`` too: every executor's task (inline, a pool worker,
    dask, Slurm) is this function. A failure another attempt would meet again (a GPU this
    machine lacks, :data:`_NOT_RETRIED`) comes back as failed results, so that no executor
    retries it (dask and Slurm retry whatever raises); the executor that receives them logs
    them (:func:`_say_failed`), where the running command's spelling is known. A results
    database with no room to write comes back as its error, which the executor raises
    (:func:`_results_of`): every other run would meet it. The warnings a run logs itself (a
    repair) are spelt by ``spelling`` (:func:`log_spelling_table` of the command that
    submitted it), in a dask or Slurm worker too."""
    with logs_spelled_by(spelling), _UNIT_LOCK:
        return _run_unit_here(jobs, run, run_group)


_UNIT_LOCK = threading.RLock()
"""Held by every unit a process runs (:func:`_run_unit`): torch's CPU thread count and its
backend flags (TF32, cuDNN determinism) are process-wide, and a dask worker runs tasks in
several threads, where a fast unit's flags had replaced a faithful unit's mid-training."""


def _run_unit_here(
    jobs: Sequence[TrainJob], run: RunFn, run_group: GroupRunFn
) -> list[JobResult] | ResultsDBFullError:
    try:
        gpu = _unit_gpu(jobs[0].device)  # a unit's jobs share their device
    except Nb201FlatError as exc:  # resolve_device's one line: no CUDA, or not that many GPUs
        return _unit_failed(jobs, exc, 1, say=False)
    try:
        with gpu:
            if len(jobs) == 1:
                return [run(jobs[0])]
            return list(run_group(jobs))
    except _NOT_RETRIED as exc:
        return _unit_failed(jobs, exc, 1, say=False)
    except ResultsDBFullError as exc:  # returned, not raised: dask and Slurm retry what raises
        return exc


def _results_of(out: list[JobResult] | ResultsDBFullError) -> list[JobResult]:
    """A unit's results as :func:`_run_unit` returned them, in the process that runs the
    executor; a results database with no room to write raised here, which stops the map."""
    if isinstance(out, ResultsDBFullError):
        raise out
    return out


def _with_attempts(res: JobResult, attempts: int) -> JobResult:
    return replace(res, attempts=attempts)


class Executor(Protocol):
    """Runs training jobs; see the module docstring for the contract."""

    def map(self, jobs: Sequence[TrainJob]) -> list[JobResult]:
        """One result per job, in the order of ``jobs``."""
        ...


def split_done(jobs: Sequence[TrainJob]) -> tuple[dict[int, JobResult], list[int]]:
    """Results of jobs already settled in their databases, and positions of those to run.

    A job is settled when its key is done: skipped, or failed without an attempt when the run
    stored there was trained on other data (:func:`~.jobs.check_stored_data`), so that the
    other jobs of the campaign still run. One query per distinct database file (and none when
    the file does not exist yet).
    """
    done: dict[int, JobResult] = {}
    todo: list[int] = []
    by_db: dict[str, list[int]] = {}
    for pos, job in enumerate(jobs):
        by_db.setdefault(job.db_path, []).append(pos)
    for path in by_db:  # before any file is made: a name SQLite's files cannot follow
        check_name_room(path, "db_path")
    for path, positions in by_db.items():
        if not Path(path).is_file():
            todo.extend(positions)
            continue
        db = ResultsDB(path, named="db_path")
        try:
            retrain = {jobs[p].key for p in positions if jobs[p].retrain_damaged}
            if retrain:  # stray rows name no run a job could delete: cleared here, once
                clear_stray_rows(db)
            keys, digests = db.finished_runs(retrain)
            for pos in positions:
                job = jobs[pos]
                if tuple(job.key) in keys:
                    try:
                        check_stored_data(job, digests.get(job.key))
                    except DataMismatchError as exc:
                        done[pos] = _failed(job, exc, 0)
                        continue
                    metrics, t = db.final_metrics(job.key)
                    done[pos] = JobResult(job, "skipped", metrics, t, attempts=0)
                else:
                    todo.append(pos)
        finally:
            db.close()
    return done, sorted(todo)


def distinct_runs(jobs: Sequence[TrainJob], todo: list[int]) -> tuple[list[int], dict[int, int]]:
    """``todo`` with each run once (its first position), and each repeat's first position.

    A run is its key in its database: jobs of two overlapping neighbourhoods joined name it
    twice, and a unit then refused it ('repeats a seed'), or two workers raced for its lock.
    Two jobs of one run with other settings (device, evaluation) are refused: which to train?
    """
    first: dict[tuple[str, object], int] = {}
    kept: list[int] = []
    twins: dict[int, int] = {}
    for p in todo:
        q = first.setdefault((os.path.abspath(jobs[p].db_path), jobs[p].key), p)
        if q == p:
            kept.append(p)
        elif with_absolute_paths(jobs[q]) != with_absolute_paths(jobs[p]):
            raise ArgumentError(
                f"jobs {q} and {p} are one run ({jobs[p].name} in {jobs[p].db_path}) with other "
                "settings; pass that run once"
            )
        else:
            twins[p] = q
    return kept, twins


def answer_twins(
    results: dict[int, JobResult], jobs: Sequence[TrainJob], twins: Mapping[int, int]
) -> None:
    """Each repeated job's result: its first position's (:func:`distinct_runs`)."""
    for p, q in twins.items():
        results[p] = replace(results[q], job=jobs[p])


def _failed(
    job: TrainJob, exc: BaseException, attempts: int, *, say: bool = True, unit: str = ""
) -> JobResult:
    """A failed result; logged unless ``say`` is False (a worker's: :func:`_say_failed`).
    ``unit``: what failed when it was the job's unit (:func:`_unit_failed`), said first."""
    # the parts keep the parameters the error names, for a command to respell
    said = f"{unit}: " if unit else ""
    parts = (f"{said}{type(exc).__name__}: ", *parts_of(exc))
    res = JobResult(
        job,
        "failed",
        error=f"{said}{type(exc).__name__}: {exc}",
        attempts=attempts,
        error_parts=parts,
    )
    if say:
        _say_failed([res])
    return res


def _unit_failed(
    jobs: Sequence[TrainJob], exc: BaseException, attempts: int, *, say: bool = True
) -> list[JobResult]:
    """Each job of a unit that failed as a whole: a unit of several says first that the
    failure is the unit's (:func:`unit_name`), since the error often names the member it met
    it in, the first one's run in every other member's record."""
    unit = unit_name(jobs) if len(jobs) > 1 else ""
    return [_failed(job, exc, attempts, say=say, unit=unit) for job in jobs]


def unit_name(jobs: Sequence[TrainJob]) -> str:
    """How logs and errors name a unit: a single job's run name; a group of seeds of one
    cell, or the runs of a concurrent unit.

    >>> from nb201_flat.train.jobs import make_jobs
    >>> jobs = make_jobs([8, 11472], dataset="cifar10", epochs=2, seeds=[1, 2],
    ...                  data_root="d", db_path="r.sqlite")
    >>> unit_name(jobs[:2])
    'group of seeds 1, 2 of cell 8'
    >>> unit_name(jobs[1:3])
    'unit of cell 8 seed 2, cell 11472 seed 1'
    """
    if len(jobs) == 1:
        return jobs[0].name
    if len({(j.index, j.arch) for j in jobs}) == 1:
        return f"group of seeds {', '.join(str(j.seed) for j in jobs)} of cell {jobs[0].index}"
    return "unit of " + ", ".join(f"cell {j.index} seed {j.seed}" for j in jobs)


def _say_failed(results: Iterable[JobResult]) -> None:
    """Log each failed result, its error's parameters as the running command names them
    (:func:`~nb201_flat.errors.spelling_logs`): here, in the process that set the spelling,
    never in a worker (a spawned process, a dask or Slurm worker) that does not know it."""
    for res in results:
        if res.status != "failed":
            continue
        said = for_log_parts(res.error_parts) if res.error_parts else res.error
        if res.attempts:
            log.error("%s failed after %d attempt(s): %s", res.job.name, res.attempts, said)
        else:
            log.error("%s refused before any attempt: %s", res.job.name, said)


def _unit_gpu(device: str) -> contextlib.AbstractContextManager[object]:
    """A unit's ``cuda:N`` as the current CUDA device (:func:`.trainer.current_gpu`), for what
    runs it: a custom ``run`` too. A CUDA device this machine lacks raises the package's one
    line here; nothing (and no torch import) for a CPU."""
    if not device.startswith("cuda"):
        return contextlib.nullcontext()
    from nb201_flat.train.trainer import current_gpu

    return current_gpu(device)


def _with_device(job: TrainJob, device: str) -> TrainJob:
    from dataclasses import replace

    return replace(job, device=device) if job.device == "auto" else job


# -- local ------------------------------------------------------------------------------------
_SLOT: dict[str, Any] = {}


def _init_worker(
    slots: Any,
    threads: int | None,
    parent_pid: int | None = None,
    spelling: dict[str, str] | None = None,
    started: Any = None,
) -> None:
    # a shared byte per unit of the round: set when a unit starts here, so that the pool
    # can tell which units were in flight when a worker died (LocalExecutor._run_pool)
    _SLOT["started"] = started
    if parent_pid is not None:  # a worker outliving a killed train would finish its runs
        die_with_parent(parent_pid)
    # the warnings a run logs here (a repair under retrain_damaged) in the command's words
    spell_logs_from(spelling)
    # each worker process takes one slot (a device) for its whole life
    _SLOT["device"] = slots.get()
    if _SLOT["device"].startswith("cuda:"):
        # Every run makes its own GPU the current device while it trains (trainer.current_gpu;
        # entering the worker's again changes nothing). The worker holds its GPU for its whole
        # life too, for the CUDA work it does outside a run: releasing a unit's compiled graphs
        # and their CUDA graph pool (_run_in_worker), what the garbage collector frees later, a
        # custom ``run``, the exit; none of it opens a context on GPU 0.
        # A GPU this machine lacks is not held: the runs fail with the package's one line
        # (trainer.resolve_device), not the pool with a broken worker.
        from nb201_flat.train.trainer import current_gpu

        try:
            _SLOT["gpu"] = current_gpu(_SLOT["device"])
        except Nb201FlatError as exc:
            log.warning("worker: %s", exc)  # a worker: the command's spelling is not known here
        else:
            _SLOT["gpu"].__enter__()
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        _SLOT["threads"] = threads


def _run_in_worker(
    jobs: Sequence[TrainJob], run: RunFn, run_group: GroupRunFn, unit: int | None = None
) -> list[JobResult] | ResultsDBFullError:
    from dataclasses import replace

    if unit is not None and _SLOT.get("started") is not None:
        _SLOT["started"][unit] = 1  # shared memory: it stays set if this process dies
    placed = []
    for job in jobs:
        job = _with_device(job, _SLOT["device"])
        if job.threads is None and "threads" in _SLOT:
            job = replace(job, threads=_SLOT["threads"])
        placed.append(job)
    try:
        # the unit's own GPU current for whatever runs it (_run_unit), a custom ``run`` for a
        # job naming another GPU than the worker's too; the worker's again after it
        return _run_unit(placed, run, run_group)
    finally:
        # this process is ours and trains one unit at a time: what the unit compiled (fast
        # mode: graphs, CUDA graphs and their memory pool) would otherwise stay for all later
        # units. Not in a dask worker (it may run other tasks in its threads) nor inline.
        from nb201_flat.train.modes import release_compiled

        try:
            release_compiled()
        except Exception as exc:  # never in place of the unit's own result or error
            log.warning("could not release compiled graphs after a unit: %s", exc)


def check_retries(retries: object) -> int:
    """Extra attempts as a whole number >= 0 (-1 met a bare KeyError, '2' a TypeError)."""
    return check_int_range(Param("retries"), retries, 0, fix="0 for no retry")


def _detect_devices() -> list[str]:
    try:
        import torch

        if torch.cuda.is_available():
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return ["cpu"]


def local_cpu_threads(jobs_per_device: int, n_devices: int = 1) -> int:
    """torch threads of each :class:`LocalExecutor` worker training on the CPU by default: the
    cores this process may run on (:func:`~nb201_flat.budget.usable_cores`, its affinity)
    shared among ``jobs_per_device`` workers per device.

    From the option, not from the runs left to train (fewer workers would get more threads):
    a CPU run's numbers depend on its thread count, so a rerun resuming fewer runs must keep
    the count their checkpoints were trained with (:func:`~.trainer.check_owner`)."""
    from nb201_flat.budget import usable_cores

    return max(1, usable_cores() // (jobs_per_device * n_devices))


@dataclass
class LocalExecutor:
    """Worker processes on this machine.

    Parameters
    ----------
    devices
        Devices to use (``["cuda:0", "cuda:1"]``, ``["cpu"]``); default: every GPU, else the CPU.
        They place the jobs made with ``device="auto"``; a job naming its own device keeps it.
    jobs_per_device
        Concurrent jobs per device (several small networks share a GPU well).
    threads
        torch CPU threads per worker; default for CPU devices: :func:`local_cpu_threads`. A job
        naming its own ``threads`` keeps them.
    retries
        Extra attempts for a failed job.
    processes
        False: run in this process, one job after another (for debugging and tests).
    run
        The function that runs one job (default: :func:`nb201_flat.train.trainer.run_job`).
    group_seeds
        Train up to this many seeds of one cell as one grouped network (1: each alone).
    run_group
        The function that runs a group (default:
        :func:`nb201_flat.train.grouped_run.run_group`).
    concurrent
        Train up to this many runs of different cells at once in one process, one CUDA
        stream each (1: each alone); not with ``group_seeds > 1``.
    run_concurrent
        The function that runs a concurrent unit (default:
        :func:`nb201_flat.train.concurrent_run.run_concurrent`).
    """

    devices: Sequence[str] | None = None
    jobs_per_device: int = 1
    threads: int | None = None
    retries: int = 1
    processes: bool = True
    run: RunFn = field(default=_default_run)
    group_seeds: int = 1
    run_group: GroupRunFn = field(default=_default_run_group)
    concurrent: int = 1
    run_concurrent: GroupRunFn = field(default=_default_run_concurrent)

    def __post_init__(self) -> None:
        self.retries = check_retries(self.retries)
        # 0 divided the cores by zero, -3 ran as 1
        self.jobs_per_device = check_int_range(Param("jobs_per_device"), self.jobs_per_device, 1)
        self.threads = check_thread_count(self.threads)  # 0 failed every job, each retried
        if self.devices is not None:
            if isinstance(self.devices, str) or not isinstance(self.devices, Sequence):
                raise ArgumentError(  # 'cpu' was read as the devices 'c', 'p', 'u'
                    Param("devices"),
                    f" must be a list of devices, got {self.devices!r}; e.g. ['cpu'] or "
                    "['cuda:0', 'cuda:1']",
                )
            if not self.devices:
                raise ArgumentError(
                    Param("devices"), " is empty; name a device, or leave it out for all"
                )
            self.devices = [check_device(d) for d in self.devices]

    def map(self, jobs: Sequence[TrainJob]) -> list[JobResult]:
        """See :class:`Executor`."""
        check_unit_sizes(self.group_seeds, self.concurrent)
        processes = check_flag("processes", self.processes)
        if not processes and self.jobs_per_device != 1:  # one job after another: ignored
            raise ArgumentError(
                "jobs_per_device applies only to worker processes; drop it, or pass processes=True"
            )
        results, todo = split_done(jobs)
        todo, twins = distinct_runs(jobs, todo)
        if todo:
            units = plan_units(jobs, todo, group_seeds=self.group_seeds, concurrent=self.concurrent)
            run = self._run_inline if not processes else self._run_pool
            results.update(run(jobs, units))
        answer_twins(results, jobs, twins)
        return [results[p] for p in range(len(jobs))]

    @property
    def _multi(self) -> GroupRunFn:
        return _multi_runner(self.concurrent, self.run_group, self.run_concurrent)

    def _slots(self, n_units: int) -> list[str]:
        """One device per worker. Capped at ``n_units`` per device (more would idle; a huge
        ``jobs_per_device`` stays cheap) and interleaved, because the pool starts only as many
        workers as it has units and each takes the next slot: two units on two GPUs get one
        each."""
        devices = list(self.devices) if self.devices else _detect_devices()
        per = max(1, min(self.jobs_per_device, n_units))
        return [d for _ in range(per) for d in devices]

    def _run_inline(
        self, all_jobs: Sequence[TrainJob], units: list[list[int]]
    ) -> dict[int, JobResult]:
        device = self._slots(1)[0]
        out: dict[int, JobResult] = {}
        for unit in units:
            jobs = [_with_device(all_jobs[p], device) for p in unit]
            if self.threads is not None:  # as a worker's (_run_in_worker): the runs set them
                jobs = [
                    j if j.threads is not None else replace(j, threads=self.threads) for j in jobs
                ]
            for attempt in range(1, self.retries + 2):
                try:
                    # the unit's own GPU current for whatever runs it (_run_unit: a custom
                    # ``run`` too; the package's runs enter it again, which changes nothing); a
                    # GPU this machine lacks fails the unit at once with the package's one line
                    done = _run_unit(jobs, self.run, self._multi)
                except Exception as exc:
                    log.warning("%s attempt %d failed: %s", unit_name(jobs), attempt, for_log(exc))
                    log.debug("%s", traceback.format_exc())
                    if attempt > self.retries:
                        out.update(zip(unit, _unit_failed(jobs, exc, attempt), strict=True))
                    continue
                res = [_with_attempts(r, attempt) for r in _results_of(done)]
                _say_failed(res)
                out.update(zip(unit, res, strict=True))
                break
        return out

    def _run_pool(
        self, all_jobs: Sequence[TrainJob], units: list[list[int]]
    ) -> dict[int, JobResult]:
        slots = self._slots(len(units))
        threads = self.threads
        if threads is None and all(is_cpu(s) for s in slots):  # cpu:0 too
            threads = local_cpu_threads(self.jobs_per_device, len(set(slots)))
        ctx = mp.get_context("spawn")  # CUDA and fork do not mix; spawn is safe everywhere
        spelling = log_spelling_table(WORKER_LOGGED_PARAMS)
        attempts = dict.fromkeys(range(len(units)), 0)
        pending = {u: [all_jobs[p] for p in unit] for u, unit in enumerate(units)}
        out: dict[int, JobResult] = {}
        suspects: list[int] = []
        while pending:  # one pool per round; a round retries what failed in the previous one
            # A worker that dies (os._exit, a segfault, the OOM killer) breaks the pool, and
            # every unit left in it fails with BrokenProcessPool, the innocent ones too: the
            # units in flight then run alone, a pool each, so that only the one that kills its
            # worker is charged; those that had not started are not charged at all.
            rounds = [[u] for u in suspects] if suspects else [list(pending)]
            suspects = []
            for batch in rounds:
                suspects += self._pool_round(
                    ctx, batch, pending, units, slots if len(batch) > 1 else slots[:1],
                    threads, spelling, attempts, out,
                )  # fmt: skip
        return out

    def _pool_round(
        self,
        ctx: Any,
        batch: list[int],
        pending: dict[int, list[TrainJob]],
        units: list[list[int]],
        slots: list[str],
        threads: int | None,
        spelling: dict[str, str] | None,
        attempts: dict[int, int],
        out: dict[int, JobResult],
    ) -> list[int]:
        """Run the units ``batch`` in one pool: their results into ``out``, each failure
        charged an attempt (a unit out of attempts leaves ``pending`` as failed). Returns the
        units to run alone next: those in flight when a worker died, uncharged."""
        queue = ctx.Queue()
        for s in slots:
            queue.put(s)
        started = ctx.Array("b", len(units), lock=False)
        broken: dict[int, BaseException] = {}
        with stopped_on_interrupt(  # Ctrl-C: stop the runs, do not wait for them
            cf.ProcessPoolExecutor(
                max_workers=len(slots),
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(queue, threads, os.getpid(), spelling, started),
            )
        ) as pool:
            with (
                stop_signals_held()
            ):  # the submits fork: one handled in an at-fork hook was dropped
                futures = {
                    pool.submit(_run_in_worker, pending[u], self.run, self._multi, u): u
                    for u in batch
                }
            for fut in cf.as_completed(futures):
                u = futures[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool as exc:  # charged once the round is over
                    broken[u] = exc
                except Exception as exc:
                    self._charge(u, exc, pending, units, attempts, out)
                else:
                    attempts[u] += 1
                    res = [_with_attempts(r, attempts[u]) for r in _results_of(res)]
                    _say_failed(res)
                    out.update(zip(units[u], res, strict=True))
                    del pending[u]
        in_flight = sorted(u for u in broken if started[u])
        if len(batch) > 1 and in_flight:  # which of them killed its worker: each alone next
            names = ", ".join(pending[u][0].name for u in in_flight)
            log.warning("a worker died while %s ran; each runs alone next, to find which", names)
            return in_flight
        for u, died in broken.items():  # alone, or died before any unit started: charged
            self._charge(u, died, pending, units, attempts, out)
        return []

    def _charge(
        self,
        u: int,
        err: BaseException,
        pending: dict[int, list[TrainJob]],
        units: list[list[int]],
        attempts: dict[int, int],
        out: dict[int, JobResult],
    ) -> None:
        """One failed attempt of unit ``u``; out of attempts, its jobs fail."""
        attempts[u] += 1
        log.warning("%s attempt %d failed: %s", unit_name(pending[u]), attempts[u], for_log(err))
        if attempts[u] > self.retries:
            failed = pending.pop(u)
            out.update(zip(units[u], _unit_failed(failed, err, attempts[u]), strict=True))


# -- dask -------------------------------------------------------------------------------------
@dataclass
class DaskExecutor:
    """Jobs as tasks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    address
        Scheduler address (``"tcp://host:8786"``) or an existing ``distributed.Client``.
    retries
        Extra attempts for a failed task (dask's own task retries).
    run
        The function that runs one job; it must be importable on the workers.
    resources
        Worker resources each task needs, e.g. ``{"GPU": 1}`` for workers started with
        ``--resources GPU=1``, so one GPU gets one job at a time.
    """

    address: Any
    retries: int = 1
    run: RunFn = field(default=_default_run)
    resources: dict[str, float] | None = None
    group_seeds: int = 1
    run_group: GroupRunFn = field(default=_default_run_group)
    concurrent: int = 1
    run_concurrent: GroupRunFn = field(default=_default_run_concurrent)
    _client: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # -1 reported a run that did run as 'refused before any attempt'
        self.retries = check_retries(self.retries)

    def connect(self) -> None:
        """Connect to the scheduler at ``address`` now, not in :meth:`map`: a caller with
        work to do first (reading the data, warning about it) learns of an unreachable
        scheduler before, in one line. The connection serves the next :meth:`map`."""
        require("distributed", "cluster")
        from distributed import Client

        if self._client is not None or isinstance(self.address, Client):
            return
        try:
            self._client = Client(self.address)  # type: ignore[no-untyped-call]
        except OSError as err:  # unreachable or timed out: one line, not dask's traceback
            raise ExecutorSpecError(
                f"cannot reach the dask scheduler at {self.address} ({err}); start it, or correct ",
                Param("address"),
            ) from None
        except ValueError as err:  # dask's parse of a malformed address: no port, or not a number
            raise ExecutorSpecError(
                f"{self.address} is not a dask scheduler address ({err}); correct ",
                Param("address"),
                " to a host and a port number, such as tcp://localhost:8786",
            ) from None

    def close(self) -> None:
        """Close the connection :meth:`connect` opened, if any: a caller that connected and
        then stops before :meth:`map` (a later check refused) leaves no client open. A given
        ``distributed.Client`` is the caller's, left open."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def map(self, jobs: Sequence[TrainJob]) -> list[JobResult]:
        """See :class:`Executor`."""
        require("distributed", "cluster")
        from distributed import Client, as_completed

        # a client connected before map (the train command's early connect) is closed
        # however map ends: nothing left to run, a refusal, or the runs done
        try:
            check_unit_sizes(self.group_seeds, self.concurrent)
            jobs = [with_absolute_paths(job) for job in jobs]  # a worker's folder is its own
            results, todo = split_done(jobs)
            todo, twins = distinct_runs(jobs, todo)
            if not todo:  # all settled since connect (another campaign finished them)
                return [results[p] for p in range(len(jobs))]
            units = plan_units(jobs, todo, group_seeds=self.group_seeds, concurrent=self.concurrent)
            multi = _multi_runner(self.concurrent, self.run_group, self.run_concurrent)
            own = not isinstance(self.address, Client)
            spelling = log_spelling_table(WORKER_LOGGED_PARAMS)
            self.connect()
            client = self._client if own else self.address
            # a key of this map's own: dask answers a key it still holds with that task's
            # outcome (a failed map's, on the same client, without running the unit again)
            token = uuid.uuid4().hex[:12]
            futures = {
                client.submit(
                    _run_unit,
                    [jobs[p] for p in unit],
                    self.run,
                    multi,
                    spelling,
                    key=f"nb201-train-{jobs[unit[0]].name}-x{len(unit)}-{unit[0]}-{token}",
                    retries=self.retries,
                    pure=False,
                    resources=self.resources,
                ): unit
                for unit in units
            }
            for fut in as_completed(list(futures)):  # type: ignore[no-untyped-call]
                unit = futures[fut]
                if fut.status == "finished":
                    res = _results_of(fut.result())
                    _say_failed(res)
                    results.update(zip(unit, res, strict=True))
                else:
                    failed = _unit_failed(
                        [jobs[p] for p in unit], fut.exception(), self.retries + 1
                    )
                    results.update(zip(unit, failed, strict=True))
            answer_twins(results, jobs, twins)
        finally:
            self.close()
        return [results[p] for p in range(len(jobs))]


# -- slurm ------------------------------------------------------------------------------------
_LOCAL_CLUSTER = Param("cluster", "local")


def check_cluster(cluster: str | None, instead: Param = _LOCAL_CLUSTER) -> None:
    """Refuse a submitit ``cluster`` this machine cannot submit to: Slurm without ``srun`` or
    ``sbatch`` (submitit says so only at the first submission), or submitit missing.
    ``instead`` is the caller's parameter that runs without Slurm (:class:`SlurmExecutor`'s
    ``cluster='local'``, :func:`executor_from_spec`'s ``spec='local'``)."""
    require("submitit", "cluster")
    if cluster != "slurm":
        return
    missing = [tool for tool in ("srun", "sbatch") if shutil.which(tool) is None]
    if missing:  # submitit submits with sbatch: without it, a FileNotFoundError per job
        raise ExecutorSpecError(
            f"Slurm is not available here ({' and '.join(missing)} not on PATH); run on a "
            "Slurm login node, or use ",
            instead,
        )


_SUBMITIT_CLUSTERS = ("slurm", "local", "debug", None)

SLURM_CPUS = 4
"""CPUs asked for a Slurm job whose runs name no thread count (on a GPU, or on the CPU at
torch's default)."""


def slurm_request(jobs: Sequence[TrainJob]) -> dict[str, int]:
    """The Slurm resources a unit of ``jobs`` trains on (a unit's jobs share device and
    threads): one GPU unless it trains on the CPU (where the GPU would sit idle, and the job
    wait for one), and its ``threads`` as CPUs (:data:`SLURM_CPUS` where it names none).

    >>> from nb201_flat.train.jobs import make_jobs
    >>> slurm_request(make_jobs([8], dataset="cifar10", epochs=2, seeds=[1], data_root="d",
    ...                         db_path="r.sqlite", device="cpu", threads=8))
    {'cpus_per_task': 8}
    >>> slurm_request(make_jobs([8], dataset="cifar10", epochs=2, seeds=[1], data_root="d",
    ...                         db_path="r.sqlite"))
    {'cpus_per_task': 4, 'gpus_per_node': 1}
    """
    job = jobs[0]
    request = {"cpus_per_task": job.threads or SLURM_CPUS}
    if not is_cpu(job.device):
        request["gpus_per_node"] = 1
    return request


@dataclass
class SlurmExecutor:
    """One Slurm job per training job, through submitit.

    Parameters
    ----------
    folder
        submitit's log and pickle folder (on a shared file system).
    retries
        Extra submissions of a failed job; each resumes from its checkpoint.
    slurm
        Options for ``executor.update_parameters`` (``slurm_partition``, ``timeout_min``,
        ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``...). ``gpus_per_node`` and
        ``cpus_per_task`` not given here are each unit's own (:func:`slurm_request`: no GPU
        for runs on the CPU, their ``threads`` as CPUs).
    cluster
        submitit cluster: ``"slurm"`` (the default: Slurm, or :func:`check_cluster`'s error
        where there is none), ``"local"`` (local processes), ``"debug"`` (in-process, for
        tests), or ``None``: submitit's own choice, Slurm when available, else local.
    run
        The function that runs one job.
    """

    folder: str | os.PathLike[str] = "submitit_logs"
    retries: int = 1
    slurm: dict[str, Any] = field(default_factory=lambda: {"timeout_min": 24 * 60})
    cluster: str | None = "slurm"
    run: RunFn = field(default=_default_run)
    group_seeds: int = 1
    run_group: GroupRunFn = field(default=_default_run_group)
    concurrent: int = 1
    run_concurrent: GroupRunFn = field(default=_default_run_concurrent)

    def __post_init__(self) -> None:
        self.retries = check_retries(self.retries)
        if self.cluster not in _SUBMITIT_CLUSTERS:  # submitit's bare ValueError at build
            raise ExecutorSpecError(
                f"cluster {self.cluster!r} is none of submitit's; use 'slurm', 'local', "
                "'debug' or None (Slurm where there is one, else local)"
            )
        if not isinstance(self.slurm, Mapping):
            raise ExecutorSpecError(
                f"slurm must be a dict of submitit's options, got {self.slurm!r}; e.g. "
                "{'slurm_partition': 'gpu', 'timeout_min': 600}"
            )

    def build(self, request: Mapping[str, int] | None = None) -> Any:
        """The configured ``submitit.AutoExecutor`` (imported here, not at module import),
        for units needing ``request`` (:func:`slurm_request`) where :attr:`slurm` names none."""
        check_cluster(self.cluster)
        import submitit

        ex = submitit.AutoExecutor(folder=os.fspath(self.folder), cluster=self.cluster)
        params = {**(request or {}), **self.slurm}
        params.setdefault("name", "nb201-train")
        try:
            ex.update_parameters(**params)
        except (NameError, ValueError, TypeError) as exc:  # an unknown option: submitit's own
            said = " ".join(str(exc).split())[:300]
            raise ExecutorSpecError(
                f"submitit refused the slurm options ({said}); correct them, e.g. "
                "{'slurm_partition': 'gpu', 'timeout_min': 600}"
            ) from None
        return ex

    def map(self, jobs: Sequence[TrainJob]) -> list[JobResult]:
        """See :class:`Executor`."""
        check_unit_sizes(self.group_seeds, self.concurrent)
        jobs = [with_absolute_paths(job) for job in jobs]  # a Slurm job's folder is its own
        results, todo = split_done(jobs)
        todo, twins = distinct_runs(jobs, todo)
        if not todo:
            return [results[p] for p in range(len(jobs))]
        units = plan_units(jobs, todo, group_seeds=self.group_seeds, concurrent=self.concurrent)
        multi = _multi_runner(self.concurrent, self.run_group, self.run_concurrent)
        # one submitit executor per resource request: an update to None changes nothing,
        # so one executor could not drop a GPU it was once asked for
        requests = [tuple(slurm_request([jobs[p] for p in unit]).items()) for unit in units]
        built = {r: self.build(dict(r)) for r in set(requests)}
        attempts = dict.fromkeys(range(len(units)), 0)
        pending = list(range(len(units)))
        while pending:
            spelling = log_spelling_table(WORKER_LOGGED_PARAMS)
            submitted = [
                (u, self._submit(built[requests[u]], [jobs[p] for p in units[u]], multi, spelling))
                for u in pending
            ]
            pending = []
            for u, sjob in submitted:
                attempts[u] += 1
                unit = units[u]
                try:
                    res = sjob.result()
                except Exception as exc:  # submitit wraps remote errors in its own types
                    members = [jobs[p] for p in unit]
                    log.warning(
                        "%s attempt %d failed: %s", unit_name(members), attempts[u], for_log(exc)
                    )
                    if attempts[u] > self.retries:
                        failed = _unit_failed(members, exc, attempts[u])
                        results.update(zip(unit, failed, strict=True))
                    else:
                        pending.append(u)
                else:
                    res = [_with_attempts(r, attempts[u]) for r in _results_of(res)]
                    _say_failed(res)
                    results.update(zip(unit, res, strict=True))
        answer_twins(results, jobs, twins)
        return [results[p] for p in range(len(jobs))]

    def _submit(
        self, ex: Any, unit: list[TrainJob], multi: Any, spelling: dict[str, str] | None
    ) -> Any:
        """Submit one unit; a refused submission (an invalid account or partition, sbatch
        failing) is one :class:`ExecutorSpecError`, not submitit's traceback. Units submitted
        before it run on and write their own rows."""
        import subprocess

        from submitit.core.utils import FailedJobError

        try:
            return ex.submit(_run_unit, unit, self.run, multi, spelling)
        except (FailedJobError, OSError, subprocess.SubprocessError) as exc:  # sbatch's refusal
            said = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ExecutorSpecError(
                f"Slurm refused to take {unit[0].name} ({said}); check the Slurm account and "
                "partition, or use ",
                _LOCAL_CLUSTER,
            ) from None


def executor_from_spec(
    spec: str,
    *,
    devices: Sequence[str] | None = None,
    jobs_per_device: int = 1,
    retries: int = 1,
    slurm_folder: str | os.PathLike[str] = "submitit_logs",
    group_seeds: int = 1,
    concurrent: int = 1,
    progress: bool = False,
) -> Executor:
    """Executor from a CLI value: ``local``, ``inline``, ``dask://HOST:PORT`` or ``slurm``;
    ``progress`` (inline only) shows a bar over each run's epochs."""
    check_unit_sizes(group_seeds, concurrent)
    units: dict[str, Any] = {"group_seeds": group_seeds, "concurrent": concurrent}
    if progress and spec != "inline":
        raise ArgumentError(
            Param("progress", True),
            f" shows a bar only with the inline executor, not {spec!r}; use ",
            Param("spec", "inline"),
            " or drop ",
            Param("progress", True),
        )
    if progress:
        units |= {
            "run": _run_with_bar,
            "run_group": _run_group_with_bar,
            "run_concurrent": _run_concurrent_with_bar,
        }
    if spec == "local":
        return LocalExecutor(
            devices=devices, jobs_per_device=jobs_per_device, retries=retries, **units
        )
    if spec == "inline":
        if jobs_per_device != 1:  # one run after another: it was ignored
            raise ArgumentError(
                Param("jobs_per_device"), " applies only to the local executor; drop it"
            )
        return LocalExecutor(devices=devices, retries=retries, processes=False, **units)
    if jobs_per_device != 1:  # the cluster places its tasks: it was ignored
        raise ArgumentError(
            Param("jobs_per_device"), f" applies only to the local executor, not {spec!r}; drop it"
        )
    if spec.startswith("dask://"):
        # checked here, in the spelling typed: dask's own parse names tcp://, which is ours
        host, _, port = spec.removeprefix("dask://").rpartition(":")
        if not host or not (port.isascii() and port.isdigit()):
            raise ExecutorSpecError(
                f"executor {spec!r} names no scheduler host and port number; use "
                "dask://HOST:PORT, such as dask://localhost:8786"
            )
        if not 1 <= int(port) <= 65535:  # it waited 30 s to say it could not connect
            raise ExecutorSpecError(
                f"executor {spec!r} names port {port}, outside 1..65535; use dask://HOST:PORT, "
                "such as dask://localhost:8786"
            )
        return DaskExecutor(f"tcp://{host}:{port}", retries=retries, **units)
    if spec.startswith(("tcp://", "tls://")):
        return DaskExecutor(spec, retries=retries, **units)
    if spec == "slurm":
        check_cluster("slurm", Param("spec", "local"))  # before the campaign writes anything
        return SlurmExecutor(folder=slurm_folder, retries=retries, **units)
    raise ExecutorSpecError(
        f"unknown executor {spec!r}; use local, inline, dask://HOST:PORT or slurm"
    )
