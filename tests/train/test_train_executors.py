"""Executors: inline with retries, a process pool, dask on a LocalCluster, submitit (debug)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest
from train_helpers import (
    always_fail,
    dask_client,
    die_on_seed_1,
    fail_naming_paths,
    fail_saying_a_param,
    fake_srun,
    flaky_run,
    timed_run,
)

from nb201_flat.errors import ArgumentError, spelling_logs
from nb201_flat.train.executors import (
    DaskExecutor,
    ExecutorSpecError,
    LocalExecutor,
    SlurmExecutor,
    executor_from_spec,
)
from nb201_flat.train.jobs import TrainJob, make_jobs
from nb201_flat.train.recipe import Recipe
from nb201_flat.train.results_db import load_results

pytest.importorskip("torch")


def jobs_for(
    root: Path, out: Path, seeds: list[int], archs: list[int] | None = None
) -> list[TrainJob]:
    return make_jobs(
        archs or [11472],
        dataset="cifar10",
        epochs=2,
        seeds=seeds,
        data_root=root,
        db_path=out / "r.sqlite",
        recipe=Recipe(epochs=2, batch_size=40),
        c=4,
        n=1,
        device="cpu",
        threads=1,
    )


def test_inline_retries_and_skips(cifar10_root: Path, tmp_path: Path) -> None:
    jobs = jobs_for(cifar10_root, tmp_path, [1, 2])
    ex = LocalExecutor(processes=False, retries=1, run=flaky_run)
    res = ex.map(jobs)
    assert [r.status for r in res] == ["done", "done"]
    assert [r.attempts for r in res] == [2, 1]  # seed 1 failed once, then succeeded
    assert len(load_results(tmp_path / "r.sqlite")) == 2 * 5  # train: 3 metrics, ori-test: 2
    # a re-run finds everything in the database: nothing is trained or lost
    again = LocalExecutor(processes=False, run=always_fail).map(jobs)
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert again[0].metrics == res[0].metrics


def test_failures_do_not_stop_others(cifar10_root: Path, tmp_path: Path) -> None:
    jobs = jobs_for(cifar10_root, tmp_path, [1])
    bad = dataclasses.replace(jobs[0], data_root=str(tmp_path / "missing"), seed=5)
    res = LocalExecutor(processes=False, retries=2).map([bad, *jobs])
    assert res[0].status == "failed" and res[0].attempts == 3
    assert "DatasetNotFoundError" in (res[0].error or "")
    assert res[1].status == "done"


def test_process_pool(cifar10_root: Path, tmp_path: Path) -> None:
    # two worker processes on one device; spawning them (torch import) dominates the time
    jobs = jobs_for(cifar10_root, tmp_path, [1, 2])
    res = LocalExecutor(devices=["cpu"], jobs_per_device=2, threads=1).map(jobs)
    assert [r.status for r in res] == ["done", "done"]
    inline = jobs_for(cifar10_root, tmp_path / "inline", [1, 2])
    ref = LocalExecutor(processes=False).map(inline)
    assert [r.metrics for r in res] == [r.metrics for r in ref]  # same numbers in a worker


def test_a_worker_that_dies_fails_its_own_unit_only(cifar10_root: Path, tmp_path: Path) -> None:
    # a dead worker broke the pool: every unit left in it failed with BrokenProcessPool and
    # was charged, and the campaign's other runs were never trained
    jobs = jobs_for(cifar10_root, tmp_path, [1, 2, 3, 4])
    res = LocalExecutor(devices=["cpu"], jobs_per_device=2, retries=1, run=die_on_seed_1).map(jobs)
    assert [(r.status, r.attempts) for r in res] == [("failed", 2)] + [("done", 1)] * 3, res
    assert "BrokenProcessPool" in (res[0].error or "")


def test_a_run_named_twice_trains_once(cifar10_root: Path, tmp_path: Path) -> None:
    # two overlapping neighbourhoods joined name a run twice: a group refused it ('repeats a
    # seed', both failed), two pool workers raced for its lock
    (a,) = jobs_for(cifar10_root, tmp_path, [2])
    for options in ({"group_seeds": 2}, {"concurrent": 2}):
        res = LocalExecutor(processes=False, retries=0, **options).map([a, a])  # type: ignore[arg-type]
        assert [r.status for r in res] == [res[0].status] * 2 and res[0].status in (
            "done",
            "skipped",
        )
        assert res[1].job is a and res[1].metrics == res[0].metrics
    assert len(load_results(tmp_path / "r.sqlite").drop_duplicates(["seed"])) == 1
    other = dataclasses.replace(a, seed=3)
    with pytest.raises(ArgumentError, match="^jobs 0 and 2 are one run .* with other settings"):
        LocalExecutor(processes=False).map([other, a, dataclasses.replace(other, eval_every=1)])


def test_units_of_one_dask_worker_process_run_one_at_a_time(
    cifar10_root: Path, tmp_path: Path
) -> None:
    # torch's thread count and backend flags are process-wide: two tasks in one worker's
    # threads trained at once, a fast unit's TF32 on under a faithful one
    jobs = jobs_for(cifar10_root, tmp_path, [1, 2, 3])
    with dask_client(3) as client:
        res = DaskExecutor(client, retries=0, run=timed_run).map(jobs)
    assert [r.status for r in res] == ["done", "done", "done"], res
    spans = sorted(
        tuple(map(float, line.split()))
        for line in (tmp_path / "spans.txt").read_text().splitlines()
    )
    assert len(spans) == 3
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans)), spans


def test_dask_local_cluster(cifar10_root: Path, tmp_path: Path) -> None:
    jobs = jobs_for(cifar10_root, tmp_path, [1, 2, 3])
    with dask_client(2) as client:
        res = DaskExecutor(client, retries=1, run=flaky_run).map(jobs)
        assert [r.status for r in res] == ["done", "done", "done"]
        # the same unit mapped again on the client is a task of its own: under one key,
        # dask answered it with the failed map's outcome while it still held that task (until
        # the client's release reached the scheduler), the run never called
        keys: list[str] = []
        submit = client.submit

        def recording(*args: object, **kw: object) -> object:
            keys.append(str(kw["key"]))
            return submit(*args, **kw)

        client.submit = recording
        try:
            res2 = DaskExecutor(client, retries=0, run=always_fail).map(
                [*jobs, *jobs_for(cifar10_root, tmp_path, [4])]
            )
            res3 = DaskExecutor(client, retries=0, run=die_on_seed_1).map(
                [*jobs, *jobs_for(cifar10_root, tmp_path, [4])]
            )
        finally:
            client.submit = submit
        assert len(keys) == 2 and keys[0] != keys[1], keys
        assert [r.status for r in res3] == ["skipped"] * 3 + ["done"], res3
    assert [r.status for r in res2] == ["skipped"] * 3 + ["failed"]
    assert "always fails" in (res2[3].error or "")
    assert load_results(tmp_path / "r.sqlite")["seed"].nunique() == 3


def test_a_dask_worker_spells_the_logged_params_as_the_command_does(
    cifar10_root: Path, tmp_path: Path
) -> None:
    # a dask worker's thread knows nothing of the command: its repair warnings said
    # "(retrain_damaged)" where the command's flag is --retrain-damaged
    jobs = jobs_for(cifar10_root, tmp_path, [1])
    with (
        dask_client() as client,
        spelling_logs(lambda p: "--retrain-damaged" if p.name == "retrain_damaged" else None),
    ):
        res = DaskExecutor(client, retries=0, run=fail_saying_a_param).map(jobs)
    assert res[0].status == "failed" and "said --retrain-damaged" in (res[0].error or ""), res


def test_a_cluster_worker_gets_absolute_paths(
    cifar10_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a worker resolved a relative db_path in its own folder: its results landed there and
    # the run was reported done
    pytest.importorskip("submitit")
    monkeypatch.chdir(cifar10_root.parent)
    root = Path(cifar10_root.name)
    jobs = jobs_for(root, Path("out"), [1])
    assert jobs[0].db_path == str(Path("out/r.sqlite"))  # as typed, relative
    expected = f"paths {cifar10_root.parent / 'out' / 'r.sqlite'} {cifar10_root}"
    with dask_client() as client:
        dask = DaskExecutor(client, retries=0, run=fail_naming_paths).map(jobs)
    slurm = SlurmExecutor(
        folder=tmp_path / "logs", cluster="debug", retries=0, run=fail_naming_paths
    ).map(jobs)
    for res in (dask[0], slurm[0]):
        assert res.status == "failed" and expected in (res.error or ""), res.error
    # a local run keeps the paths as typed: its folder is the caller's
    local = LocalExecutor(processes=False, retries=0, run=fail_naming_paths).map(jobs)
    assert f"paths out/r.sqlite {root}" in (local[0].error or ""), local[0].error


def test_submitit_debug_executor(cifar10_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    jobs = jobs_for(cifar10_root, tmp_path, [7])
    ex = SlurmExecutor(folder=tmp_path / "logs", cluster="debug", slurm={"timeout_min": 5})
    built = ex.build()
    assert type(built).__name__ == "AutoExecutor"
    res = ex.map(jobs)
    assert res[0].status == "done" and res[0].attempts == 1


def test_executor_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(executor_from_spec("local"), LocalExecutor)
    assert executor_from_spec("inline").processes is False  # type: ignore[attr-defined]
    dask = executor_from_spec("dask://scheduler:8786")
    assert isinstance(dask, DaskExecutor) and dask.address == "tcp://scheduler:8786"
    # Slurm, or an error: never submitit's fallback to local processes
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExecutorSpecError, match="Slurm is not available here"):
        executor_from_spec("slurm")
    with pytest.raises(ExecutorSpecError, match="Slurm is not available here"):
        SlurmExecutor(folder=tmp_path / "logs").build()
    monkeypatch.setenv("PATH", fake_srun(tmp_path / "slurm-node"))
    slurm = executor_from_spec("slurm")
    assert isinstance(slurm, SlurmExecutor) and slurm.cluster == "slurm"
    with pytest.raises(ExecutorSpecError, match="dask://HOST:PORT"):
        executor_from_spec("kubernetes")
    # bars: the inline executor with its retries, never a bar silently dropped elsewhere
    bars = executor_from_spec("inline", progress=True, retries=3)
    assert isinstance(bars, LocalExecutor) and bars.retries == 3 and bars.processes is False
    with pytest.raises(ArgumentError, match="progress=True shows a bar only with the inline"):
        executor_from_spec("local", progress=True)


def test_grouped_units_in_every_executor(cifar10_root: Path, tmp_path: Path) -> None:
    """--group-seeds through a worker process, dask and submitit: one task per group, each
    member's numbers those of its separate run (float rounding of batched kernels aside)."""
    pytest.importorskip("distributed")  # up front: every executor or none
    pytest.importorskip("submitit")
    ref = LocalExecutor(processes=False).map(jobs_for(cifar10_root, tmp_path / "ref", [1, 2, 3]))

    def check(res: list) -> None:
        assert [(r.status, r.job.seed, r.attempts) for r in res] == [
            ("done", 1, 1),
            ("done", 2, 1),
            ("done", 3, 1),
        ]
        for a, b in zip(ref, res, strict=True):
            for split, m in a.metrics.items():
                assert b.metrics[split]["loss"] == pytest.approx(m["loss"], rel=1e-4)

    pool = LocalExecutor(devices=["cpu"], threads=1, group_seeds=2)
    check(pool.map(jobs_for(cifar10_root, tmp_path / "pool", [1, 2, 3])))  # groups [1, 2], [3]
    with dask_client() as client:
        check(
            DaskExecutor(client, group_seeds=3).map(
                jobs_for(cifar10_root, tmp_path / "d", [1, 2, 3])
            )
        )
    slurm = SlurmExecutor(folder=tmp_path / "logs", cluster="debug", group_seeds=3)
    check(slurm.map(jobs_for(cifar10_root, tmp_path / "s", [1, 2, 3])))


def test_a_pool_worker_releases_what_each_unit_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a reused worker would keep every earlier unit's compiled graphs and CUDA graph pool
    from nb201_flat.train import executors, modes

    released: list[str] = []
    monkeypatch.setattr(modes, "release_compiled", lambda: released.append("after"))
    monkeypatch.setitem(executors._SLOT, "device", "cpu")
    (job,) = make_jobs([0], dataset="cifar10", epochs=1, seeds=[1], data_root=".",
                       db_path=str(tmp_path / "r.sqlite"))  # fmt: skip

    def run(j: TrainJob) -> object:
        released.append("during")
        return j

    (placed,) = executors._run_in_worker([job], run, run)  # type: ignore[arg-type]
    assert placed.index == job.index and placed.device == "cpu"

    def fail(j: TrainJob) -> object:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        executors._run_in_worker([job], fail, fail)  # type: ignore[arg-type]
    assert released == ["during", "after", "after"]


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda: LocalExecutor(retries=-1), "^retries must be >= 0, got -1"),  # a bare KeyError
        (lambda: LocalExecutor(retries="2"), "^retries must be >= 0 .an int, not a str"),
        (lambda: LocalExecutor(jobs_per_device=0), "^jobs_per_device must be >= 1"),  # / by 0
        (lambda: LocalExecutor(jobs_per_device=-3), "^jobs_per_device must be >= 1"),  # ran as 1
        (lambda: LocalExecutor(devices="cpu"), r"^devices must be a list of devices, got 'cpu'"),
        (lambda: LocalExecutor(devices=[]), "^devices is empty"),
        (lambda: LocalExecutor(devices=["gpu"]), "gpu"),
        (lambda: LocalExecutor(threads=0), "^threads must lie in 1.."),  # each job failed
        (lambda: DaskExecutor("tcp://h:1", retries=-1), "^retries must be >= 0"),
        (lambda: SlurmExecutor(cluster="slrum"), "^cluster 'slrum' is none of submitit's"),
        (lambda: SlurmExecutor(slurm="gpus_per_node=1"), "^slurm must be a dict"),  # type: ignore[arg-type]
    ],
)
def test_an_executor_checks_its_options_when_built(make: Any, said: str) -> None:
    with pytest.raises(ArgumentError, match=said):
        make()


def test_submitits_refusal_of_an_option_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    ex = SlurmExecutor(folder=tmp_path / "logs", cluster="debug", slurm={"timeout_mn": 5})
    with pytest.raises(
        ExecutorSpecError, match=r"^submitit refused the slurm options \(.*timeout_mn"
    ):
        ex.build()  # a bare NameError


def test_a_member_refused_on_resume_leaves_its_concurrent_unit_training(
    cifar10_root: Path, tmp_path: Path
) -> None:
    # cell 11472 begun on 1 thread, resumed on 2: its checkpoint is refused, and the whole
    # concurrent unit failed with its error, the other cell never trained
    from train_helpers import Crash, crash_after

    from nb201_flat.train.trainer import train

    a, b = jobs_for(cifar10_root, tmp_path, [1], archs=[11472, 0])
    with pytest.raises(Crash):
        train(a, on_epoch_end=crash_after(1))
    more = [dataclasses.replace(j, threads=2) for j in (a, b)]
    res = LocalExecutor(processes=False, retries=0, concurrent=2).map(more)
    assert [r.status for r in res] == ["failed", "done"], res
    assert (res[0].error or "").startswith("CheckpointMismatchError: ")
    assert res[0].error_parts[0] == "CheckpointMismatchError: "


@pytest.mark.parametrize("group", [False, True])
def test_stored_epochs_without_a_checkpoint_are_said_before_training_again(
    cifar10_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, group: bool
) -> None:
    # a run resumed without the --ckpt-dir it was trained with found no checkpoint, and
    # trained its stored epochs again with a line at INFO only
    import logging

    from nb201_flat.train.results_db import ResultsDB

    jobs = jobs_for(cifar10_root, tmp_path, [1, 2] if group else [1])
    db = ResultsDB(jobs[0].db_path)
    for epoch in (1, 2):
        db.write_epoch(jobs[0].key, jobs[0].index, epoch, {"train": (2.0, 20.0, 1.0)})
    db.close()
    ex = LocalExecutor(processes=False, retries=0, group_seeds=2 if group else 1)
    with caplog.at_level(logging.WARNING):
        res = ex.map(jobs)
    assert all(r.status == "done" for r in res), res
    said = [r.getMessage() for r in caplog.records if "but no checkpoint in" in r.getMessage()]
    assert len(said) == 1 and "has epochs 1-2 stored in" in said[0], caplog.text
