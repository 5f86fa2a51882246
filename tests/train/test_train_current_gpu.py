"""A run's numbered GPU (``cuda:N``) is the current CUDA device while it trains, whichever path
started it: a user's ``train`` / ``train_group`` / ``train_concurrent`` (or their executor entry
points), the CLI's inline progress bars, the inline executor, a pool worker, dask and submitit.

No GPU here: ``torch.cuda.device`` is replaced by a recorder (and this machine made to show two
GPUs), and the training itself by a stub that notes the current device (the real ``_train``
functions, which would move tensors to ``cuda:1``, never run). Everything around them (run
locks, the results database's skip check, the executors, the CLI) is the real code. The tests
of a machine without CUDA use none of it: they run where there is none (this one).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from train_helpers import dask_client

from nb201_flat.train.jobs import JobResult, TrainJob, make_jobs

torch = pytest.importorskip("torch")


class Gpu:
    """Stands in for ``torch.cuda.device`` and for the training: what was entered, what was
    current while each run trained, and what is current now."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.entered: list[str] = []
        self.seen: list[str | None] = []  # the current device in each run's training
        self.progress: list[bool] = []

    @contextlib.contextmanager
    def device(self, d: object) -> Iterator[None]:
        self.entered.append(str(d))
        before, self.current = self.current, str(d)
        try:
            yield
        finally:
            self.current = before

    def one(self, job: TrainJob, db: object, *, progress: bool, on_epoch_end: Any) -> JobResult:
        self.seen.append(self.current)
        self.progress.append(progress)
        return JobResult(job, "done", {}, 0.0)

    def many(
        self, jobs: list[TrainJob], db: object, *, progress: bool, on_epoch_end: Any
    ) -> list[JobResult]:
        self.seen.append(self.current)
        self.progress.append(progress)
        return [JobResult(j, "done", {}, 0.0) for j in jobs]


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> Gpu:
    from nb201_flat.train import concurrent_run, grouped_run, modes, trainer

    g = Gpu()
    monkeypatch.setattr(torch.cuda, "device", g.device)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # current_gpu checks both
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(trainer, "_train", g.one)
    monkeypatch.setattr(grouped_run, "_train", g.many)
    monkeypatch.setattr(concurrent_run, "_train", g.many)
    monkeypatch.setattr(modes, "release_compiled", lambda: None)  # what a pool worker calls
    return g


def jobs_on(tmp_path: Path, device: str, archs: list[int], seeds: list[int]) -> list[TrainJob]:
    return make_jobs(archs, dataset="cifar10", epochs=1, seeds=seeds, data_root=".",
                     db_path=str(tmp_path / "r.sqlite"), device=device)  # fmt: skip


def _entry_points() -> list[tuple[str, Callable[[list[TrainJob]], list[JobResult]], bool]]:
    from nb201_flat.train import concurrent_run, grouped_run, trainer

    return [
        ("train", lambda js: [trainer.train(js[0])], False),
        ("run_job", lambda js: [trainer.run_job(js[0])], False),
        ("train_group", grouped_run.train_group, False),
        ("run_group", grouped_run.run_group, False),
        ("train_concurrent", concurrent_run.train_concurrent, True),
        ("run_concurrent", concurrent_run.run_concurrent, True),
    ]


@pytest.mark.parametrize("name", [n for n, _, _ in _entry_points()])
def test_a_users_run_on_cuda_n_trains_with_it_current(name: str, gpu: Gpu, tmp_path: Path) -> None:
    """``train(job)`` with ``device="cuda:1"`` (and the grouped, concurrent and executor entry
    points) enters the GPU once, trains with it current, and puts the previous one back; a CPU
    run, and ``auto`` / ``cuda`` (the current device already), enter nothing."""
    run, cells = next((r, c) for n, r, c in _entry_points() if n == name)
    archs, seeds = ([0, 11472], [1]) if cells else ([11472], [1, 2])
    for device in ("cuda:1", "cpu", "auto", "cuda"):
        jobs = jobs_on(tmp_path / device, device, archs, seeds)
        assert {r.status for r in run(jobs)} == {"done"}
    assert gpu.entered == ["cuda:1"] and gpu.current is None
    assert gpu.seen == ["cuda:1", None, None, None]


def test_the_previous_device_is_back_after_a_failing_run(
    gpu: Gpu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.train import trainer

    def boom(job: TrainJob, db: object, **_: Any) -> JobResult:
        gpu.seen.append(gpu.current)
        raise RuntimeError("boom")

    monkeypatch.setattr(trainer, "_train", boom)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.train(jobs_on(tmp_path, "cuda:1", [11472], [1])[0])
    assert gpu.seen == ["cuda:1"] and gpu.current is None


def test_the_inline_executor_trains_each_job_on_its_own_gpu(gpu: Gpu, tmp_path: Path) -> None:
    """Inline, an ``auto`` job gets the executor's device and a job naming its GPU keeps it:
    each trains with its own GPU current, not the executor's for both."""
    from nb201_flat.train.executors import LocalExecutor

    auto = jobs_on(tmp_path / "a", "auto", [11472], [1])
    own = jobs_on(tmp_path / "b", "cuda:1", [11472], [1])
    res = LocalExecutor(devices=["cuda:0"], processes=False).map([*auto, *own])
    assert [r.status for r in res] == ["done", "done"]
    assert gpu.seen == ["cuda:0", "cuda:1"] and gpu.current is None


def test_a_pool_worker_holds_its_gpu_and_each_run_enters_its_own(
    gpu: Gpu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a ``LocalExecutor`` worker process runs (its initializer, then its units), here in
    this process: the worker's GPU stays current for its whole life, and each run enters its
    own GPU on top (the same one again for an ``auto`` job, which changes nothing)."""
    from nb201_flat.train import executors
    from nb201_flat.train.grouped_run import run_group
    from nb201_flat.train.trainer import run_job

    class Slots:
        def __init__(self, device: str) -> None:
            self.device = device

        def get(self) -> str:
            return self.device

    monkeypatch.setattr(executors, "_SLOT", {})
    executors._init_worker(Slots("cuda:1"), None)
    assert gpu.entered == ["cuda:1"] and gpu.current == "cuda:1"  # for the worker's whole life
    executors._run_in_worker(jobs_on(tmp_path / "a", "auto", [11472], [1]), run_job, run_group)
    # the worker's, the unit's (for whatever runs it), the run's: the same GPU, no change
    assert gpu.entered == ["cuda:1"] * 3 and gpu.seen == ["cuda:1"]
    assert gpu.current == "cuda:1"  # the worker's, after the run
    group = jobs_on(tmp_path / "b", "cuda:0", [11472], [1, 2])  # a job naming another GPU
    executors._run_in_worker(group, run_job, run_group)
    assert gpu.seen == ["cuda:1", "cuda:0"] and gpu.current == "cuda:1"
    # a custom run of such a job: its own GPU current too (it ran on the worker's)
    custom: list[str | None] = []

    def run(job: Any) -> Any:
        custom.append(gpu.current)
        return run_job(job)

    executors._run_in_worker(jobs_on(tmp_path / "d", "cuda:0", [11472], [1]), run, run_group)
    assert custom == ["cuda:0"] and gpu.current == "cuda:1"
    executors._SLOT["gpu"].__exit__(None, None, None)
    # a CPU worker and its runs enter nothing
    entered = len(gpu.entered)
    monkeypatch.setattr(executors, "_SLOT", {})
    executors._init_worker(Slots("cpu"), None)
    executors._run_in_worker(jobs_on(tmp_path / "c", "auto", [11472], [1]), run_job, run_group)
    assert len(gpu.entered) == entered and gpu.seen[-1] is None and gpu.current is None


def _on_local_dask(jobs: list[TrainJob], **options: Any) -> list[JobResult]:
    """``jobs`` mapped by a DaskExecutor (no retries) on an in-process one-thread cluster."""
    from nb201_flat.train.executors import DaskExecutor

    with dask_client() as client:
        return DaskExecutor(client, retries=0, **options).map(jobs)


def test_a_dask_worker_trains_with_the_jobs_gpu_current(gpu: Gpu, tmp_path: Path) -> None:
    """dask runs the package's run functions in its worker threads (here in this process):
    the job's GPU is current in the thread that trains it, a CPU job enters nothing."""
    jobs = [
        *jobs_on(tmp_path / "a", "cuda:1", [11472], [1]),
        *jobs_on(tmp_path / "b", "cuda:1", [11472], [2, 3]),
        *jobs_on(tmp_path / "c", "cpu", [11472], [4]),
    ]
    res = _on_local_dask(jobs, group_seeds=2)
    assert [r.status for r in res] == ["done"] * 4
    assert sorted(gpu.seen, key=str) == [None, "cuda:1", "cuda:1"]  # a job, a group, the cpu job
    # each unit's, for whatever runs it (_run_unit), then its run's again: no change
    assert gpu.entered == ["cuda:1"] * 4 and gpu.current is None


def _run_noting_the_gpu(job: TrainJob) -> JobResult:
    """A user's ``run`` that notes the current device on the recorder standing in for
    ``torch.cuda.device``: at module level, so that dask and submitit pickle it by reference
    (a closure would travel with a copy of the recorder)."""
    g: Gpu = cast(Any, torch.cuda.device).__self__
    g.seen.append(g.current)
    return JobResult(job, "done")


def test_dask_runs_a_custom_run_with_the_jobs_gpu_current(gpu: Gpu, tmp_path: Path) -> None:
    """A custom ``run`` on a dask worker: the job's GPU is current (the package's runs enter it
    themselves; a user's did not), a CPU job's run enters nothing."""
    jobs = [
        *jobs_on(tmp_path / "a", "cuda:1", [11472], [1]),
        *jobs_on(tmp_path / "b", "cpu", [11472], [2]),
    ]
    res = _on_local_dask(jobs, run=_run_noting_the_gpu)
    assert [r.status for r in res] == ["done"] * 2
    assert sorted(gpu.seen, key=str) == [None, "cuda:1"] and gpu.current is None


def test_a_submitit_job_trains_with_its_gpu_current(gpu: Gpu, tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    from nb201_flat.train.executors import SlurmExecutor

    ex = SlurmExecutor(folder=tmp_path / "logs", cluster="debug", retries=0, concurrent=2)
    res = ex.map(jobs_on(tmp_path, "cuda:1", [0, 11472], [1]))  # one concurrent unit
    assert [r.status for r in res] == ["done", "done"]
    assert gpu.seen == ["cuda:1"] and gpu.current is None
    assert gpu.entered == ["cuda:1", "cuda:1"]  # the unit's (_run_unit), its run's again


def test_a_submitit_job_runs_a_custom_run_with_its_gpu_current(gpu: Gpu, tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    from nb201_flat.train.executors import SlurmExecutor

    ex = SlurmExecutor(
        folder=tmp_path / "logs", cluster="debug", retries=0, run=_run_noting_the_gpu
    )
    (res,) = ex.map(jobs_on(tmp_path, "cuda:1", [11472], [1]))
    assert res.status == "done" and gpu.seen == ["cuda:1"] and gpu.current is None


@pytest.mark.parametrize(
    ("options", "units"), [([], 2), (["--group-seeds", "2"], 1), (["--concurrent", "2"], 1)]
)
def test_the_cli_progress_bars_train_with_the_gpu_current(
    options: list[str],
    units: int,
    gpu: Gpu,
    cifar10_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``train --executor inline --progress``: the inline executor with bars, each run (or
    unit) trains with ``--device cuda:1`` current, entered by the unit and again by its run."""
    from nb201_flat import budget
    from nb201_flat.cli import main

    monkeypatch.setattr(budget, "_show_progress", budget._show_progress)  # main sets it
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # --device cuda:1 is checked
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    argv = ["train", "11472", "--dataset", "cifar10", "--epochs", "1", "--seeds", "1", "2",
            "--data-root", str(cifar10_root), "--executor", "inline", "--progress", "--json",
            *options]  # fmt: skip
    assert main([*argv, "--device", "cuda:1", "--db", str(tmp_path / "r.sqlite")]) == 0
    assert gpu.seen == ["cuda:1"] * units and gpu.progress == [True] * units
    assert gpu.entered == ["cuda:1"] * 2 * units and gpu.current is None
    if "--concurrent" not in options:  # --concurrent refuses a CPU
        assert main([*argv, "--device", "cpu", "--db", str(tmp_path / "cpu.sqlite")]) == 0
        assert gpu.entered == ["cuda:1"] * 2 * units and gpu.seen[units:] == [None] * units


def test_the_inline_executor_runs_a_custom_run_with_its_gpu_current(
    gpu: Gpu, tmp_path: Path
) -> None:
    """A user's ``run`` / ``run_group`` (LocalExecutor's parameters) runs inline with the
    unit's GPU current, as in a pool worker; restored after; a CPU unit enters nothing."""
    from nb201_flat.train.executors import LocalExecutor

    def run(job: TrainJob) -> JobResult:
        gpu.seen.append(gpu.current)
        return JobResult(job, "done")

    def run_group(jobs: list[TrainJob]) -> list[JobResult]:
        gpu.seen.append(gpu.current)
        return [JobResult(j, "done") for j in jobs]

    (res,) = LocalExecutor(devices=["cuda:1"], processes=False, run=run).map(
        jobs_on(tmp_path / "a", "auto", [11472], [1])
    )
    assert res.status == "done" and gpu.seen == ["cuda:1"] and gpu.current is None
    ex = LocalExecutor(devices=["cuda:1"], processes=False, group_seeds=2, run_group=run_group)
    own = jobs_on(tmp_path / "b", "cuda:0", [11472], [1, 2])  # the jobs' own GPU, not cuda:1
    assert [r.status for r in ex.map(own)] == ["done", "done"]
    assert gpu.seen == ["cuda:1", "cuda:0"] and gpu.current is None
    LocalExecutor(devices=["cpu"], processes=False, run=run).map(
        jobs_on(tmp_path / "c", "auto", [11472], [1])
    )
    assert gpu.seen[-1] is None and gpu.entered == ["cuda:1", "cuda:0"]


def test_a_stored_run_enters_no_gpu(gpu: Gpu, tmp_path: Path) -> None:
    """A run the results database already has is skipped before its GPU is entered: alone,
    in a group (the others train with it current, entered once), and all of a group."""
    from nb201_flat.train.grouped_run import train_group
    from nb201_flat.train.results_db import ResultsDB
    from nb201_flat.train.trainer import train

    one, two = jobs_on(tmp_path, "cuda:1", [11472], [1, 2])
    db = ResultsDB(one.db_path)
    db.mark_run(one.key, one.index, "done", final_rows={"train": (1.0, 50.0, 0.1)})
    assert train(one).status == "skipped"
    assert gpu.entered == [] and gpu.seen == []
    assert [r.status for r in train_group([one, two])] == ["skipped", "done"]
    assert gpu.entered == ["cuda:1"] and gpu.seen == ["cuda:1"]
    db.mark_run(two.key, two.index, "done", final_rows={"train": (1.0, 50.0, 0.1)})
    db.close()
    assert [r.status for r in train_group([one, two])] == ["skipped", "skipped"]
    assert gpu.entered == ["cuda:1"] and gpu.current is None


def test_a_gpu_past_the_last_is_refused_in_one_line(gpu: Gpu, tmp_path: Path) -> None:
    """``cuda:2`` on a machine with two GPUs: the package's one line naming how many there
    are, before anything is entered (torch would fail later with an invalid device ordinal)."""
    from nb201_flat.errors import Nb201FlatError
    from nb201_flat.train.executors import LocalExecutor
    from nb201_flat.train.trainer import train

    want = "device 'cuda:2' requested but this machine has 2 CUDA device(s); use cuda:0..cuda:1"
    (job,) = jobs_on(tmp_path / "a", "cuda:2", [11472], [1])
    with pytest.raises(Nb201FlatError, match=f"^{re.escape(want)}$"):
        train(job)
    # every attempt would meet it again: not retried
    (res,) = LocalExecutor(devices=["cuda:2"], processes=False, retries=2).map(
        jobs_on(tmp_path / "b", "auto", [11472], [1])
    )
    assert (res.status, res.attempts, res.error) == ("failed", 1, f"Nb201FlatError: {want}")
    assert gpu.entered == [] and gpu.seen == []


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
NO_CUDA_LINE = "device 'cuda:0' requested but CUDA is not available; use cpu"


@NO_CUDA
def test_a_cuda_run_without_cuda_is_refused_in_the_packages_line(tmp_path: Path) -> None:
    """On a machine without CUDA (this one: nothing replaced), a ``cuda:0`` run fails with the
    package's one line, not torch's ``compiled without CUDA support``: ``train`` and
    ``train_group`` raise it; the inline executor reports it as the unit's failure, a custom
    ``run`` included (not called); a pool worker starts and its runs report it."""
    from nb201_flat.errors import Nb201FlatError
    from nb201_flat.train import executors
    from nb201_flat.train.executors import LocalExecutor
    from nb201_flat.train.grouped_run import run_group, train_group
    from nb201_flat.train.trainer import run_job, train

    line = f"^{re.escape(NO_CUDA_LINE)}$"
    with pytest.raises(Nb201FlatError, match=line):
        train(jobs_on(tmp_path / "a", "cuda:0", [11472], [1])[0])
    with pytest.raises(Nb201FlatError, match=line):
        train_group(jobs_on(tmp_path / "b", "cuda:0", [11472], [1, 2]))
    called: list[TrainJob] = []

    def run(job: TrainJob) -> JobResult:
        called.append(job)
        return JobResult(job, "done")

    failed = ("failed", f"Nb201FlatError: {NO_CUDA_LINE}")
    # a group's failure is the group's, in each member's record
    in_group = ("failed", f"group of seeds 1, 2 of cell 11472: Nb201FlatError: {NO_CUDA_LINE}")
    for i, (ex, said) in enumerate(
        [
            (LocalExecutor(devices=["cuda:0"], processes=False, retries=0), failed),
            (
                LocalExecutor(devices=["cuda:0"], processes=False, retries=0, group_seeds=2),
                in_group,
            ),
            (LocalExecutor(devices=["cuda:0"], processes=False, retries=0, run=run), failed),
        ]
    ):
        res = ex.map(jobs_on(tmp_path / f"c{i}", "auto", [11472], [1, 2]))
        assert [(r.status, r.error) for r in res] == [said, said]
    assert called == []

    class Slots:
        def get(self) -> str:
            return "cuda:0"

    slot: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(executors, "_SLOT", slot)
        mp.setattr("nb201_flat.train.modes.release_compiled", lambda: None)
        executors._init_worker(Slots(), None)  # the worker starts (a broken pool before)
        assert "gpu" not in slot
        (res,) = executors._run_in_worker(
            jobs_on(tmp_path / "d", "auto", [11472], [1]), run_job, run_group
        )
        assert (res.status, res.attempts, res.error) == ("failed", 1, failed[1])


@NO_CUDA
@pytest.mark.parametrize("processes", [False, True], ids=["inline", "pool"])
def test_a_missing_gpu_is_not_retried(processes: bool, tmp_path: Path) -> None:
    """A ``cuda:0`` job on a machine without CUDA fails the same way at every attempt: one
    attempt, the package's line, however many retries (inline and in a pool worker); a
    group too. dask and Slurm run the same task function (``_run_unit``): a failed result,
    which they do not retry either."""
    from nb201_flat.train.executors import LocalExecutor, _run_unit
    from nb201_flat.train.grouped_run import run_group
    from nb201_flat.train.trainer import run_job

    failed = ("failed", 1, f"Nb201FlatError: {NO_CUDA_LINE}")

    def in_group(cell: int) -> tuple[str, int, str]:  # each member's record: the group's failure
        return ("failed", 1, f"group of seeds 1, 2 of cell {cell}: {failed[2]}")

    ex = LocalExecutor(devices=["cpu"], processes=processes, retries=2, group_seeds=2)
    res = ex.map(jobs_on(tmp_path / "a", "cuda:0", [11472, 0], [1, 2, 3]))  # 2 groups, 2 alone
    assert [(r.status, r.attempts, r.error) for r in res] == [
        *[in_group(11472)] * 2,
        failed,
        *[in_group(0)] * 2,
        failed,
    ]
    (res1,) = _run_unit(jobs_on(tmp_path / "b", "cuda:0", [11472], [1]), run_job, run_group)
    assert (res1.status, res1.attempts, res1.error) == failed


@NO_CUDA
def test_a_stored_cuda_run_is_skipped_without_cuda(tmp_path: Path) -> None:
    """The skip check comes before the device: a host without CUDA collects a stored run."""
    from nb201_flat.train.results_db import ResultsDB
    from nb201_flat.train.trainer import train

    (job,) = jobs_on(tmp_path, "cuda:0", [11472], [1])
    db = ResultsDB(job.db_path)
    db.mark_run(job.key, job.index, "done", final_rows={"train": (1.0, 50.0, 0.1)})
    db.close()
    assert train(job).status == "skipped"


# torch's own spellings: cpu:0 (a CPU tensor's device is cpu, a CUDA one's cuda:0)
@pytest.mark.parametrize(
    ("device", "entered"), [("cpu:0", []), ("cuda:0", ["cuda:0"]), ("cuda:1", ["cuda:1"])]
)
def test_torchs_device_spellings_train_through_every_caller(
    device: str,
    entered: list[str],
    gpu: Gpu,
    cifar10_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cpu:0`` and ``cuda:N`` read the same in a job (make_jobs), the trainer
    (resolve_device, train) and the command's ``--device``: 'cpu:0' was refused by all three."""
    from nb201_flat import budget
    from nb201_flat.cli import main
    from nb201_flat.train.trainer import resolve_device, train

    assert resolve_device(device) == torch.device(device)
    (job,) = jobs_on(tmp_path / "a", device, [11472], [1])
    assert train(job).status == "done" and gpu.entered == entered
    monkeypatch.setattr(budget, "_show_progress", budget._show_progress)  # main sets it
    argv = ["train", "11472", "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
            "--data-root", str(cifar10_root), "--executor", "inline", "--json",
            "--device", device, "--db", str(tmp_path / "r.sqlite")]  # fmt: skip
    assert main(argv) == 0
    assert gpu.entered == entered * 3 and gpu.current is None  # train, the unit and its run


@pytest.mark.parametrize(
    ("device", "line"),
    [
        # torch reads cuda:128 as index -128 (8 bits): no device count refused it
        ("cuda:2", "this machine has 2 CUDA device(s); use "),
        ("cuda:128", "this machine has 2 CUDA device(s); use "),
        ("cuda:99999999999999999999", "this machine has 2 CUDA device(s); use "),
        # torch trains cpu:1 on its one CPU: the index would mean nothing
        ("cpu:1", "torch has one CPU device, cpu:0; use "),
    ],
)
def test_an_index_the_machine_lacks_is_refused_by_every_caller(
    device: str,
    line: str,
    gpu: Gpu,
    cifar10_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same refusal, one line, from a job, the trainer and ``--device``; nothing entered."""
    from nb201_flat.cli import main
    from nb201_flat.errors import Nb201FlatError
    from nb201_flat.train.trainer import resolve_device

    on_cpu = device.startswith("cpu")
    fix = "cpu" if on_cpu else "cuda:0..cuda:1"
    want = (f"device='{device}': {line}device='cpu'" if on_cpu
            else f"device '{device}' requested but {line}{fix}")  # fmt: skip
    with pytest.raises(Nb201FlatError, match=f"^{re.escape(want)}$"):
        resolve_device(device)
    if on_cpu:  # a job refuses it when it is made
        with pytest.raises(Nb201FlatError, match=f"^{re.escape(want)}$"):
            jobs_on(tmp_path / "a", device, [11472], [1])
    argv = ["train", "11472", "--dataset", "cifar10", "--epochs", "1", "--seeds", "1",
            "--data-root", str(cifar10_root), "--executor", "inline",
            "--device", device, "--db", str(tmp_path / "r.sqlite")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --device {device}: {line}--device {fix}"]
    assert gpu.entered == [] and gpu.seen == []
