"""--concurrent K: different cells trained at once in one process (one CUDA stream each; on a
CPU in turn). Every run's rows, checkpoint and weights are those of its separate run, bitwise
on a CPU; the option's bad values are one-line errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import dask_client, fake_srun, write_tiny_cifar10

from nb201_flat.errors import ArgumentError
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")

CELLS = [
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|skip_connect~2|",
]


def jobs_for(root: Path, db: Path, *, epochs: int = 2, seeds: tuple[int, ...] = (1, 2), **kw: object) -> list:  # fmt: skip
    from nb201_flat.train.jobs import make_jobs

    return make_jobs(CELLS, dataset="cifar10-valid", epochs=epochs, seeds=seeds, data_root=root,
                     db_path=db, recipe=Recipe(epochs=epochs, batch_size=16), c=4, n=1,
                     device="cpu", threads=1, **kw)  # type: ignore[arg-type]  # fmt: skip


def rows(db: Path) -> dict[tuple, float]:
    """Every stored number but the wall-clock times."""
    from nb201_flat.train.results_db import load_curves

    df = load_curves(db)
    df = df[df["metric"] != "time_s"]
    return {(r.index, r.arch, r.split, r.seed, r.epoch, r.metric): r.value for r in df.itertuples()}


def final_weights(job: object) -> dict[str, torch.Tensor]:
    folder = job.checkpoint_folder  # type: ignore[attr-defined]
    (path,) = sorted(folder.glob("epoch-*.pt"))
    state: dict[str, torch.Tensor] = torch.load(path, weights_only=True)["model"]
    return state


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """The reference: every run trained alone, one after another."""
    from nb201_flat.train.executors import LocalExecutor

    base = tmp_path_factory.mktemp("separate")
    root = write_tiny_cifar10(base / "data")
    jobs = jobs_for(root, base / "r.sqlite")
    assert [r.status for r in LocalExecutor(processes=False).map(jobs)] == ["done"] * 4
    return root, base / "r.sqlite", jobs


def test_concurrent_units_equal_runs_one_by_one(
    separate: tuple[Path, Path, list], tmp_path: Path
) -> None:
    from nb201_flat.train.concurrent_run import run_concurrent
    from nb201_flat.train.executors import LocalExecutor
    from nb201_flat.train.model import Network

    root, ref_db, ref_jobs = separate
    jobs = jobs_for(root, tmp_path / "r.sqlite")
    units: list[list[str]] = []

    def counting(js: list) -> list:
        units.append([j.arch for j in js])
        return run_concurrent(js)

    res = LocalExecutor(processes=False, concurrent=3, run_concurrent=counting).map(jobs)
    # two cells x two seeds, units of up to 3 in the order of the jobs: one cell's two seeds
    # and the other's first, then the last alone (a unit of one is a plain run)
    assert units == [[CELLS[0], CELLS[0], CELLS[1]]]
    assert [(r.status, r.job.arch, r.job.seed) for r in res] == [
        (s, a, seed) for a in CELLS for s, seed in (("done", 1), ("done", 2))
    ]
    assert rows(tmp_path / "r.sqlite") == rows(ref_db)  # every epoch, split and metric
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for mine, ref in zip(jobs, ref_jobs, strict=True):
        a, b = final_weights(mine), final_weights(ref)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in b)
        nets = []
        for state in (a, b):
            net = Network(mine.ops, 4, c=4, n=1, num_classes=10)
            net.load_state_dict(state)
            nets.append(net.eval())
        assert torch.equal(nets[0](x), nets[1](x))
    # the run records are those of separate runs; a second map skips everything
    from nb201_flat.train.results_db import ResultsDB

    cols = ["space", "arch", "seed", "status", "params_mb", "flops_m"]
    got = ResultsDB(tmp_path / "r.sqlite").runs_frame()[cols].sort_values(["arch", "seed"])
    want = ResultsDB(ref_db).runs_frame()[cols].sort_values(["arch", "seed"])
    assert got.reset_index(drop=True).equals(want.reset_index(drop=True))
    # how each was trained: a unit of three, and the fourth run alone (a unit of one)
    forms = sorted(ResultsDB(tmp_path / "r.sqlite").runs_frame()["trained_as"])
    assert forms == ["concurrent:3"] * 3 + ["single"]
    assert set(ResultsDB(ref_db).runs_frame()["trained_as"]) == {"single"}
    again = LocalExecutor(processes=False, concurrent=3, run_concurrent=counting).map(jobs)
    assert [r.status for r in again] == ["skipped"] * 4 and len(units) == 1


def test_concurrent_members_at_different_epochs_resume_exactly(tmp_path: Path) -> None:
    from nb201_flat.train.concurrent_run import train_concurrent

    root = write_tiny_cifar10(tmp_path / "data")
    clean = jobs_for(root, tmp_path / "clean.sqlite", epochs=3, seeds=(1,))
    train_concurrent(clean)
    jobs = jobs_for(root, tmp_path / "r.sqlite", epochs=3, seeds=(1,))

    def stop(job: object, epoch: int, _rows: object) -> None:
        if epoch == 2 and job is jobs[1]:
            raise OSError("killed")  # a writer error stops the unit at its next epoch

    with pytest.raises(OSError, match="killed"):
        train_concurrent(jobs, on_epoch_end=stop)
    # the first cell loses its epoch-2 checkpoint: it resumes from 1, the second from 2
    (jobs[0].checkpoint_folder / "epoch-0002.pt").unlink()
    assert (jobs[1].checkpoint_folder / "epoch-0002.pt").exists()
    seen: list[tuple[str, int]] = []
    res = train_concurrent(jobs, on_epoch_end=lambda j, e, r: seen.append((j.arch, e)))
    assert [r.status for r in res] == ["done", "done"]
    assert sorted(seen) == sorted([(CELLS[0], 2), (CELLS[0], 3), (CELLS[1], 3)])
    assert rows(tmp_path / "r.sqlite") == rows(tmp_path / "clean.sqlite")  # bitwise
    for a, b in zip(jobs, clean, strict=True):
        wa, wb = final_weights(a), final_weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wb)


def test_a_diverging_member_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nb201_flat.train import trainer
    from nb201_flat.train.concurrent_run import train_concurrent

    root = write_tiny_cifar10(tmp_path / "data")
    jobs = jobs_for(root, tmp_path / "r.sqlite", seeds=(1,))
    real = trainer.Session.end_epoch

    def end_epoch(self: trainer.Session) -> tuple[float, float, int]:
        loss, acc, seen = real(self)
        return (float("nan") if self.model.ops == jobs[1].ops else loss), acc, seen

    monkeypatch.setattr(trainer.Session, "end_epoch", end_epoch)
    res = train_concurrent(jobs)
    assert [r.status for r in res] == ["done", "failed"]
    assert res[1].error is not None and "training loss became nan at epoch 1" in res[1].error
    assert "train" in res[0].metrics and len(res[0].metrics) > 1  # trained and evaluated
    assert {k[1] for k in rows(tmp_path / "r.sqlite")} == {jobs[0].arch}  # nothing of the failed


def test_concurrent_checks() -> None:
    import dataclasses

    from nb201_flat.train.concurrent_run import check_concurrent
    from nb201_flat.train.executors import concurrent_positions, plan_units
    from nb201_flat.train.jobs import concurrency_key

    jobs = jobs_for(Path("data"), Path("r.sqlite"))
    fast = jobs_for(Path("data"), Path("r.sqlite"), mode="fast")
    assert len({concurrency_key(j) for j in jobs}) == 1
    # modes, epochs or datasets never share a unit; order of first appearance is kept
    mixed = [jobs[0], fast[0], jobs[1], fast[1], jobs[2]]
    assert concurrent_positions(mixed, range(5), 2) == [[0, 2], [1, 3], [4]]
    assert plan_units(jobs, range(4), group_seeds=1, concurrent=1) == [[0], [1], [2], [3]]
    assert plan_units(jobs, range(4), group_seeds=2, concurrent=1) == [[0, 1], [2, 3]]
    assert plan_units(jobs, range(4), group_seeds=1, concurrent=4) == [[0, 1, 2, 3]]
    with pytest.raises(ArgumentError, match="^group_seeds=2 and concurrent=2 do not combine"):
        plan_units(jobs, range(4), group_seeds=2, concurrent=2)
    with pytest.raises(ArgumentError, match="^concurrent must be >= 1"):
        plan_units(jobs, range(4), group_seeds=1, concurrent=0)
    with pytest.raises(ArgumentError, match="differ in more than their cell and seed"):
        check_concurrent([jobs[0], fast[1]])
    with pytest.raises(ArgumentError, match="repeats a run"):
        check_concurrent([jobs[0], dataclasses.replace(jobs[0])])
    with pytest.raises(ArgumentError, match="at least one"):
        check_concurrent([])


@pytest.mark.slow  # spawns a worker process (~10 s on two shared cores)
def test_concurrent_units_in_every_executor(
    separate: tuple[Path, Path, list], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")  # up front: every executor or none
    pytest.importorskip("submitit")
    from nb201_flat.train.executors import (
        DaskExecutor,
        LocalExecutor,
        SlurmExecutor,
        executor_from_spec,
    )

    root, ref_db, _ = separate
    assert rows(ref_db)  # the comparisons below are not vacuous
    pool = LocalExecutor(devices=["cpu"], threads=1, concurrent=2)  # spawned worker processes
    assert [r.status for r in pool.map(jobs_for(root, tmp_path / "p.sqlite"))] == ["done"] * 4
    assert rows(tmp_path / "p.sqlite") == rows(ref_db)
    with dask_client() as client:
        res = DaskExecutor(client, concurrent=4).map(jobs_for(root, tmp_path / "d.sqlite"))
    assert [r.status for r in res] == ["done"] * 4
    assert rows(tmp_path / "d.sqlite") == rows(ref_db)
    slurm = SlurmExecutor(folder=tmp_path / "logs", cluster="debug", concurrent=2)
    res = slurm.map(jobs_for(root, tmp_path / "s.sqlite"))
    assert [r.status for r in res] == ["done"] * 4
    assert rows(tmp_path / "s.sqlite") == rows(ref_db)
    monkeypatch.setenv("PATH", fake_srun(tmp_path / "slurm-node"))
    for spec in ("local", "inline", "dask://h:1", "slurm"):
        assert executor_from_spec(spec, concurrent=3).concurrent == 3  # type: ignore[attr-defined]


def cli_argv(root: Path, db: Path, *extra: str) -> list[str]:
    return ["train", CELLS[0], CELLS[1], "--dataset", "cifar10-valid", "--epochs", "2",
            "--seeds", "1", "2", "--data-root", str(root), "--db", str(db), "--C", "4", "--N",
            "1", "--executor", "inline", "--json", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--concurrent", "0"], "--concurrent must be >= 1"),
        (["--concurrent", "-3"], "--concurrent must be >= 1"),
        (
            ["--concurrent", "2", "--group-seeds", "2"],
            "--group-seeds 2 and --concurrent 2 do not combine: group seeds of one cell (--group-seeds)",
        ),
        (["--concurrent", "2", "--device", "cpu"], "the device is cpu"),
        (["--concurrent", "2"], "no CUDA device on this machine"),  # auto, local executor
    ],
)
def test_bad_concurrent_values_are_one_line_errors_with_exit_2(
    extra: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from nb201_flat.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    root = write_tiny_cifar10(tmp_path / "data")
    assert main(cli_argv(root, tmp_path / "r.sqlite", *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r.sqlite").exists()  # refused before anything ran


def test_cli_concurrent_reaches_the_executor(
    separate: tuple[Path, Path, list],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The CLI refuses --concurrent on a CPU (nothing would overlap); with that check lifted,
    # the CPU path shows the option reaching train_concurrent, whose numbers are exact there.
    import json

    from nb201_flat.cli import main
    from nb201_flat.cli import train as cli_train
    from nb201_flat.train import concurrent_run

    calls: list[int] = []
    real = concurrent_run.run_concurrent

    def counting(js: list) -> list:
        calls.append(len(js))
        return real(js)

    root, _, _ = separate
    assert main(cli_argv(root, tmp_path / "ref.sqlite", "--device", "cpu")) == 0
    ref = json.loads(capsys.readouterr().out)["runs"]
    monkeypatch.setattr(cli_train, "_check_streams", lambda *a: None)
    monkeypatch.setattr(concurrent_run, "run_concurrent", counting)
    db = tmp_path / "r.sqlite"
    assert main(cli_argv(root, db, "--concurrent", "4", "--device", "cpu")) == 0
    out = json.loads(capsys.readouterr().out)["runs"]
    assert calls == [4] and [r["status"] for r in out] == ["done"] * 4
    assert {r["mode"] for r in out} == {"faithful"}
    assert [r["metrics"] for r in out] == [r["metrics"] for r in ref]
    assert rows(db) == rows(tmp_path / "ref.sqlite")


def test_fast_mode_unit_equals_fast_runs_one_by_one(tmp_path: Path) -> None:
    from nb201_flat.train.concurrent_run import train_concurrent
    from nb201_flat.train.executors import LocalExecutor

    root = write_tiny_cifar10(tmp_path / "data")
    ref = LocalExecutor(processes=False).map(
        jobs_for(root, tmp_path / "ref.sqlite", seeds=(1,), mode="fast")
    )
    jobs = jobs_for(root, tmp_path / "r.sqlite", seeds=(1,), mode="fast")
    res = train_concurrent(jobs)
    assert [r.status for r in res] == ["done", "done"]
    # the mode, and the recipe's batch (not NB201's 256), are part of the key
    assert {r.job.key.space for r in res} == {"nb201@C4N1#fast-bf16#recipe:batch_size=16"}
    assert [r.metrics for r in res] == [r.metrics for r in ref]
    assert rows(tmp_path / "r.sqlite") == rows(tmp_path / "ref.sqlite")  # bf16, still bitwise
    faithful = jobs_for(root, tmp_path / "r.sqlite", seeds=(1,))
    assert {j.key for j in faithful}.isdisjoint(r.job.key for r in res)  # never skipped as done
