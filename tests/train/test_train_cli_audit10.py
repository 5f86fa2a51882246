"""The train command's tenth audit (each finding reproduced first): ``cpu:0`` is the CPU for
every rule that treats the CPU apart, a campaign's sets are sized before they are drawn, a
``--db`` that is a dangling link is one line, and each refusal's fix works as printed."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError
from nb201_flat.space import NB201, NB201_OPS, Space

TRAIN = ["--dataset", "cifar10", "--epochs", "1", "--C", "2", "--N", "1", "--executor", "inline"]
SEVEN = Space(NB201_OPS, 7)  # 5**21 cells


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail a block that runs longer than ``seconds`` (an unsized plan ran for ever)."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- 1. cpu:0 is the CPU ---------------------------------------------------------------


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_cpu_0_gets_the_cpus_default_threads(monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    """A worker on ``cpu:0`` gets the CPU's default count (the cores / --jobs-per-device), the
    count the command checks a resume against: torch's own default (the cores, or
    OMP_NUM_THREADS) was recorded, and the same command refused its own checkpoints."""
    from nb201_flat.cli.train import _run_threads
    from nb201_flat.train.executors import LocalExecutor

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    # the cores this process may run on (budget.usable_cores), which the default counts
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    seen: list[int | None] = []

    def pool_round(self: Any, ctx: Any, batch: list[int], pending: dict[int, Any], *a: Any) -> list[int]:  # fmt: skip
        seen.append(a[2])  # the workers' threads
        for u in batch:
            del pending[u]
        return []

    monkeypatch.setattr(LocalExecutor, "_pool_round", pool_round)
    LocalExecutor(devices=[device], jobs_per_device=2)._run_pool(["job"], [[0]])  # type: ignore[list-item]
    args = argparse.Namespace(device=device, executor="local", threads=None, jobs_per_device=2)
    assert seen == [2] == [_run_threads(args)]


def test_cpu_0_gets_the_cpus_memory_check(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cifar10_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setenv("NB201_FLAT_MAX_MEMORY", "20M")
    argv = ["train", "11472", *TRAIN[:4], "--C", "64", "--N", "1", "--executor", "inline"]
    argv += ["--data-root", str(cifar10_root)]
    for device in ("cpu", "cpu:0"):  # cpu:0 trained unchecked
        db = tmp_path / f"{device}.sqlite"
        assert main([*argv, "--device", device, "--db", str(db)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert "training --C 64 --N 1 on the CPU needs about" in line, line
        assert not db.exists()


def test_is_cpu_is_the_device_type() -> None:
    from nb201_flat.train.jobs import is_cpu

    assert [is_cpu(d) for d in ("cpu", "cpu:0", "cuda", "cuda:0", "mps", "auto")] == [
        True, True, False, False, False, False,
    ]  # fmt: skip
    with pytest.raises(ArgumentError, match="torch has one CPU device"):
        is_cpu("cpu:1")


# --- 2. campaign sets are sized -----------------------------------------------------------


def test_a_ball_too_large_to_plan_is_refused_at_once() -> None:
    from nb201_flat.train.campaign import MAX_CAMPAIGN_CELLS, ball, ball_size

    # the radius check allows 21 (it covers every cell), and the ball was enumerated cell by
    # cell: 5**21 of them, for ever
    start = time.perf_counter()
    with within(10), pytest.raises(ArgumentError) as info:
        ball(SEVEN, 0, 21)
    assert time.perf_counter() - start < 1
    assert str(info.value) == (
        f"radius 21 selects {5**21:,} cells, more than a campaign plans ({MAX_CAMPAIGN_CELLS:,}); "
        "give radius=3 or less"
    )
    with within(10), pytest.raises(ArgumentError, match="radius 4 selects 1,620,725 cells"):
        ball(SEVEN, 0, 4)
    assert ball_size(SEVEN, 3) <= MAX_CAMPAIGN_CELLS < ball_size(SEVEN, 4)
    # the fix as printed: radius 3 plans, and the count is the ball's
    assert len(ball(SEVEN, 0, 3)) == ball_size(SEVEN, 3) == 1 + 21 * 4 + 210 * 16 + 1330 * 64
    for r in range(NB201.n_edges + 1):  # NB201's balls, the whole space too, still plan
        assert len(ball(NB201, 11472, r)) == ball_size(NB201, r)


def test_a_sample_too_large_to_plan_is_refused() -> None:
    from nb201_flat.train.campaign import MAX_CAMPAIGN_CELLS, plan_campaign, sample

    # 10**11 of 5**21 cells met numpy's out-of-memory error, which the command blamed on
    # --jobs-per-device and --C/--N
    with within(10), pytest.raises(ArgumentError) as info:
        sample(SEVEN, 10**11, 0)
    assert str(info.value) == (
        f"n must be in 1..{MAX_CAMPAIGN_CELLS} (the most a campaign plans; the space has "
        f"{5**21:,}), got 100000000000"
    )
    with within(10):
        plan = plan_campaign(SEVEN, sample_n=MAX_CAMPAIGN_CELLS, sample_seed=0)  # the fix
    assert len(plan.cells) + len(plan.constant_output) == MAX_CAMPAIGN_CELLS
    assert len(sample(NB201, NB201.size, 0)) == NB201.size  # a whole small space still plans


@pytest.mark.parametrize(
    ("cells", "want"),
    [
        (["--neighbours-of", "0", "--radius", "21"], "--radius 21 selects "),
        (
            ["--sample", "100000000000", "--sample-seed", "0"],
            "--sample must be in 1..100000 (the most",
        ),
    ],
)
def test_the_command_names_the_option_of_a_set_too_large(
    tmp_path: Path,
    cifar10_root: Path,
    capsys: pytest.CaptureFixture[str],
    cells: list[str],
    want: str,
) -> None:
    pytest.importorskip("torch")
    argv = ["train", "--nodes", "7", *cells, *TRAIN, "--device", "cpu", "--data-root",
            str(cifar10_root), "--db", str(tmp_path / "r.sqlite")]  # fmt: skip
    with within(10):
        assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: {want}"), line
    assert "--jobs-per-device" not in line and "out of memory" not in line
    assert not (tmp_path / "r.sqlite").exists()


# --- 3. a --db that is a dangling link ---------------------------------------------------


def test_a_db_linked_into_a_missing_folder_is_one_line(
    tmp_path: Path, cifar10_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    target = tmp_path / "missing" / "x.sqlite"
    link = tmp_path / "link.sqlite"
    link.symlink_to(target)
    argv = ["train", "1", "2", *TRAIN, "--device", "cpu", "--data-root", str(cifar10_root),
            "--db", str(link)]  # fmt: skip
    # every run failed twice ("unable to open database file"), exit 1, and left link.sqlite.ckpt
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == (
        f"error: --db {link} is a link to {target}, and {target.parent} does not exist; create "
        "that folder or choose another path"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "link.sqlite"]
    target.parent.mkdir()  # the fix as printed: SQLite creates the database through the link
    assert main(argv) == 0, capsys.readouterr().err
    assert target.is_file() and link.is_symlink()


def test_a_looping_or_dangling_link_is_refused(
    tmp_path: Path, cifar10_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    loop = tmp_path / "loop.sqlite"
    loop.symlink_to(loop)
    ckpt = tmp_path / "ckpt"
    ckpt.symlink_to(tmp_path / "nowhere")
    base = ["train", "1", *TRAIN, "--device", "cpu", "--data-root", str(cifar10_root)]
    assert main([*base, "--db", str(loop)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: --db {loop} is a link that loops; choose another path"
    )
    db = tmp_path / "r.sqlite"
    assert main([*base, "--db", str(db), "--ckpt-dir", str(ckpt)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: --ckpt-dir {ckpt} is a link to {tmp_path / 'nowhere'}, and "
        f"{tmp_path / 'nowhere'} does not exist; create that folder or choose another path"
    )
    assert not db.exists()
    (tmp_path / "nowhere").mkdir()  # as printed
    assert main([*base, "--db", str(db), "--ckpt-dir", str(ckpt)]) == 0


# --- 4. fixes that work as printed -------------------------------------------------------


def test_files_changed_mid_campaign_name_a_fix_that_works(
    tmp_path: Path,
    cifar10_root: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The message said "start the campaign again", which the database refuses (it holds a
    run of the first files): a --db of their own trains them."""
    pytest.importorskip("torch")
    from train_helpers import write_tiny_cifar10

    from nb201_flat.train import trainer

    run_job = trainer.run_job
    calls = []

    def then_change_the_files(job: Any) -> Any:
        if calls:
            write_tiny_cifar10(cifar10_root, seed=5)
        calls.append(job)
        return run_job(job)

    monkeypatch.setattr(trainer, "run_job", then_change_the_files)
    argv = ["train", "1", "2", *TRAIN, "--device", "cpu", "--data-root", str(cifar10_root)]
    db = ["--db", str(tmp_path / "r.sqlite")]
    assert main([*argv, *db]) == 1
    out = capsys.readouterr().out
    assert "restore them to finish the campaign, or train the new files into a --db of their own" in out, out  # fmt: skip
    monkeypatch.setattr(trainer, "run_job", run_job)
    assert main([*argv, *db]) == 2  # the same command again
    assert "holds cifar10 runs trained on other data" in capsys.readouterr().err
    assert main([*argv, "--db", str(tmp_path / "new.sqlite")]) == 0  # the fix as printed


def test_the_arch_after_ops_hint_pastes_into_a_shell(tmp_path: Path) -> None:
    """The hint printed a cell string bare: bash read its '|' as a pipe."""
    pytest.importorskip("torch")
    cell = "|skip_connect~0|+|none~0|skip_connect~1|"
    nb = str(Path(sys.executable).with_name("nb201-flat"))
    head = [nb, "train", "--dataset", "cifar10", "--data-root", str(tmp_path / "none"),
            "--db", str(tmp_path / "r.sqlite"), "--nodes", "3"]  # fmt: skip
    err = subprocess.run(
        [*head, "--ops", "none", "skip_connect", cell], capture_output=True, text=True
    ).stderr
    hint = "end the command with "
    printed = _one_line(err).split(hint, 1)[1]
    assert printed == f"--ops none skip_connect -- '{cell}'", printed
    done = subprocess.run(
        ["bash", "-c", f"{shlex.join(head)} {printed}"], capture_output=True, text=True
    )
    # parsed: refused only for the missing data (bash's syntax error before)
    assert done.returncode == 2 and "--data-root" in done.stderr and "is not a folder" in done.stderr, done.stderr  # fmt: skip


def test_every_unknown_op_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    argv = ["train", "1", "--dataset", "cifar10", "--data-root", str(tmp_path), "--db",
            str(tmp_path / "r.sqlite"), "--ops", "foo", "none", "bar"]  # fmt: skip
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: unknown op(s) 'bar', 'foo'; known ops are none,"), line
