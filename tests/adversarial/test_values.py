"""Issue 10 items 5, 7, 8, 9, 10: bad values and paths are one line and exit 2, up front;
Ctrl-C stops a parallel search at once; messages never mislead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import as_at_a_terminal, one_line_exit_2

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, InvalidArchError
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    v = np.linspace(10, 90, NB201.size)
    data = {(MetricKey("cifar10", "ori-test", 200), None): v}
    for split in ("x-valid", "x-test", "ori-test"):
        data[(MetricKey("cifar100", split, 200), None)] = v
        data[(MetricKey("cifar100", split, 12), None)] = v
    return save_table(Table(NB201, data, source="values"), tmp_path / "t.nb201")


@pytest.mark.parametrize("arch", ["²", "--5", "٣", "1²"])
def test_arch_text_that_int_rejects(arch: str) -> None:
    with pytest.raises(InvalidArchError):
        NB201.resolve(arch)


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "²", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"],
        ["query", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200", "--", "--5"],
        [
            "query",
            "1",
            "--dataset",
            "cifar10",
            "--split",
            "ori-test",
            "--epochs",
            "200",
            "--rng-seed",
            "-1",
        ],
        ["reproduce", "--quick", "--out", "OUT", "--search-epochs", "abc"],
        ["search", "--algo", "rs", "--runs", "0"],
        ["demo", "--top", "-1"],
        ["census", "--pairs", "2", "--top-k", "2", "--pair-seed", "-1"],
        ["import", "analognas", "--force", "--out", ""],
        ["import", "analognas", "--force", "--out", "."],
        ["import", "analognas", "--force", "--out", "FILE"],
        ["import", "analognas", "--force", "--out", "FILE/sub"],
    ],
)
def test_bad_values_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    table_path: Path,
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("FILE").write_text("precious")
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    if argv[0] in ("query", "reproduce", "search", "demo", "census"):
        argv = [argv[0], "--table", str(table_path), *argv[1:]]
    t0 = time.perf_counter()
    one_line_exit_2(capsys, *argv)
    assert time.perf_counter() - t0 < 60  # refused up front, not after the work
    assert Path("FILE").read_text() == "precious"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["census", "--pairs", "2", "--top-k", "2"],
        ["search", "--algo", "rs", "--runs", "2"],
        ["demo", "--runs", "2"],
        ["reproduce", "--quick", "--runs", "2", "--out", "OUT"],
    ],
)
def test_negative_seed_is_named_by_its_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: Path, argv: list[str]
) -> None:
    # "seed must be >= 0" / "seed must be a non-negative int": the Python name, not --seed
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    flag = "--pair-seed" if argv[0] == "census" else "--seed"  # census's seed: its pair draw
    line = one_line_exit_2(capsys, *argv, flag, "-1", "--table", str(table_path))
    assert line.startswith(f"error: {flag} must be"), line


@pytest.mark.parametrize("bad", ["DIR", "FILE/pairs.csv", "TABLE/table.parquet", ""])
def test_census_pairs_out_refused_up_front_and_nothing_lost(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: Path, bad: str
) -> None:
    (tmp_path / "DIR").mkdir()
    (tmp_path / "FILE").write_text("precious")
    before = {p.name: p.read_bytes() for p in table_path.iterdir()}
    target = bad.replace("TABLE", str(table_path))
    if target and not target.startswith("/"):
        target = str(tmp_path / target)
    argv = ["census", "--pairs", "2", "--top-k", "2", "--pairs-out", target]
    one_line_exit_2(capsys, *argv, "--table", str(table_path))
    assert (tmp_path / "FILE").read_text() == "precious"
    assert {p.name: p.read_bytes() for p in table_path.iterdir()} == before


def test_census_pairs_out_replaces_only_a_pairs_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: Path
) -> None:
    # any existing file was overwritten: a results database became a CSV
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"SQLite format 3\x00precious")
    argv = ["census", "--pairs", "2", "--top-k", "2", "--table", str(table_path), "--pairs-out"]
    line = one_line_exit_2(capsys, *argv, str(db))
    assert "exists and is not a census pairs CSV, which is never overwritten" in line, line
    assert db.read_bytes() == b"SQLite format 3\x00precious"
    # a rerun replaces its own earlier CSV, and an empty file (touch, mktemp) is written
    csv = tmp_path / "pairs.csv"
    csv.touch()
    assert main([*argv, str(csv)]) == 0
    first = csv.read_text()
    assert main([*argv, str(csv), "--pair-seed", "1"]) == 0
    assert csv.read_text().split("\n")[0] == first.split("\n")[0]
    capsys.readouterr()


def test_unbounded_runs_refused_at_once(table_path: Path) -> None:
    cmd = [sys.executable, "-m", "nb201_flat", "search", "--algo", "rs", "--protocol"]
    cmd += ["fixed-n", "--runs", "1000000000000", "--jobs", "1", "--table", str(table_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("--runs 1000000000000 started instead of being refused")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-500:]
    assert "--runs" in proc.stderr


@pytest.mark.parametrize("runs", ["0", "1000001"])
def test_runs_bound_is_one_check_with_one_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: Path, runs: str
) -> None:
    # search, demo and the runner each had their own check and wording
    from nb201_flat.search.runner import check_runs

    with pytest.raises(ArgumentError) as info:
        check_runs(int(runs), "--runs")
    with pytest.raises(ArgumentError) as info_ci:  # where a confidence interval is printed
        check_runs(int(runs), "--runs", ci=True)
    table = ["--table", str(table_path)]
    search = ["search", "--algo", "rs", "--protocol", "fixed-n", "--jobs", "1", *table]
    out = ["--quick", "--jobs", "1", "--out", str(tmp_path / "out")]
    assert one_line_exit_2(capsys, *search, "--runs", runs) == f"error: {info.value}"
    for argv in (["demo", *table], ["reproduce", *out, *table]):
        assert one_line_exit_2(capsys, *argv, "--runs", runs) == f"error: {info_ci.value}"


@pytest.mark.parametrize("command", ["demo", "reproduce"])
def test_runs_bound_holds_for_every_command_that_searches(tmp_path: Path, command: str) -> None:
    # search refused it; demo and reproduce started and the OOM killer ended them (exit 137)
    from nb201_flat.testing import synthetic_table

    table = save_table(synthetic_table(), tmp_path / "t.nb201")
    cmd = [sys.executable, "-m", "nb201_flat", command, "--runs", "1000000000000"]
    cmd += ["--table", str(table)]
    if command == "reproduce":
        cmd += ["--quick", "--jobs", "1", "--out", str(tmp_path / "out")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} --runs 1000000000000 started instead of being refused")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-500:]
    assert "1000000" in proc.stderr.replace(",", "") and "runs" in proc.stderr
    assert not (tmp_path / "out").exists()


torch = pytest.importorskip("torch")

_TRAIN = ["train", "1", "--dataset", "cifar10", "--data-root", "DATA", "--db", "DB"]


@pytest.mark.parametrize(
    "argv",
    [
        ["model", "1", "--N", "-2"],
        ["model", "1", "--C", "0"],
        [*_TRAIN, "--retries", "-1"],
        [*_TRAIN, "--device", "tpu"],
        [*_TRAIN, "--ckpt-dir", "FILE"],
    ],
)
def test_bad_train_values_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("FILE").write_text("x")
    Path("DATA").mkdir()
    one_line_exit_2(capsys, *argv)
    assert not Path("DB").exists()


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc; none known elsewhere)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def test_ctrl_c_with_two_jobs_exits_130_at_once(table_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "nb201_flat",
        "search",
        "--algo",
        "rs",
        "--protocol",
        "fixed-n",
        "--runs",
        "200000",
        "--jobs",
        "2",
        "--table",
        str(table_path),
    ]
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("needs Linux's /proc/PID/task/PID/children to see the workers start")
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_at_a_terminal,
    )
    try:
        # once its workers exist (imports done, work handed out), not after a fixed wait: the
        # whole search takes a few seconds on a quick machine
        deadline = time.monotonic() + 60
        while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[1][-500:]
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the main process
        t0 = time.perf_counter()
        _, err = proc.communicate(timeout=60)
        waited = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-500:]
    assert "interrupted" in err
    # 2 s asked for; a loaded CI machine (four workers on two cores) shuts the pools and the
    # interpreter down slower: bound only what tells "at once" from "after the work"
    assert waited < 15.0


def test_arch_messages_do_not_mislead() -> None:
    with pytest.raises(InvalidArchError) as info:
        NB201.parse("|nor_conv_3x3~0|" * 5000)
    assert len(str(info.value)) < 400
    cyrillic = NB201.arch(5).to_str().replace("none", "nоne", 1)  # U+043E, looks like 'o'
    if cyrillic != NB201.arch(5).to_str():
        with pytest.raises(InvalidArchError, match=r"U\+043E CYRILLIC SMALL LETTER O"):
            NB201.parse(cyrillic)
    with pytest.raises(InvalidArchError, match=r"U\+043E"):
        NB201.parse("|avg_pool_3x3~0|+|nоne~0|none~1|+|none~0|none~1|none~2|")


# -- census: values that compute nothing are refused; a band with no pair is named -------------
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--pairs", "0", "--top-k", "0"], "--pairs and --top-k are both 0"),
        (["--top-k", "1"], "--top-k 1 makes no pair"),
    ],
)
def test_census_that_computes_nothing_is_refused(
    capsys: pytest.CaptureFixture[str], table_path: Path, args: list[str], fragment: str
) -> None:
    line = one_line_exit_2(capsys, "census", *args, "--table", str(table_path))
    assert fragment in line and ("--pairs N" in line or "2 or more" in line), line


def test_census_names_the_band_that_had_no_pair(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    import json

    # cifar10's values run from 10 to 90: A²M's band A (92.3 to 93.7) holds nothing
    argv = ["census", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]
    argv += ["--pairs", "2", "--top-k", "2", "--table", str(table_path)]
    note = "group A has no pair: it holds 0 architectures in [92.3, 93.7]"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"note: {note}" in out.splitlines()
    assert main([*argv, "--json"]) == 0
    (res,) = json.loads(capsys.readouterr().out)["datasets"]
    assert res["notes"] == [note]
    assert [g["group"] for g in res["groups"]] == ["B", "C", "top-k", "all"]


def test_census_with_no_pair_in_any_group_is_an_error() -> None:
    from nb201_flat.errors import MissingValueError
    from nb201_flat.landscape.census import barrier_census
    from nb201_flat.space import Space

    space, f = Space(("a", "b"), 3), np.arange(8.0)  # 6 and 7 lie at distance 1, not 3
    with pytest.raises(MissingValueError, match=r"no pair to compute: hi: no two of its 2 ") as e:
        barrier_census(space, f, {"hi": (6, 7)}, n_pairs=2, top_k=0, seed=0)
    assert "(distance=None)" in str(e.value)  # two members: pairs at another distance exist
    with pytest.raises(MissingValueError, match="holds 1 architecture") as e:
        barrier_census(space, f, {"hi": (7, 7)}, n_pairs=2, top_k=0, seed=0)
    assert "--distance" not in str(e.value)  # no distance makes a pair of one member


def test_census_distance_without_band_pairs_is_refused(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    line = one_line_exit_2(
        capsys, "census", "--pairs", "0", "--distance", "4", "--table", str(table_path)
    )
    assert "--distance sets the band pairs' distance, and --pairs 0 draws none" in line


def test_sigterm_with_two_jobs_stops_the_workers_too(table_path: Path) -> None:
    # kill (SIGTERM) ended the main process alone: its two workers ran on, orphaned
    cmd = [sys.executable, "-m", "nb201_flat", "search", "--algo", "rs", "--protocol",
           "fixed-n", "--runs", "200000", "--jobs", "2", "--table", str(table_path)]  # fmt: skip
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("needs Linux's /proc/PID/task/PID/children to see the workers start")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        # the pool's two workers: the same two children for a second (a cold numba cache
        # compiles in short-lived children first)
        seen: list[int] = []
        steady = time.monotonic()
        while proc.poll() is None:
            assert time.monotonic() < deadline, "no workers started"
            now = _children(proc.pid)
            if now != seen:
                seen, steady = now, time.monotonic()
            elif len(now) == 2 and time.monotonic() - steady > 1.0:
                break
            time.sleep(0.05)
        workers = seen
        assert proc.poll() is None, proc.communicate()[1][-500:]
        proc.terminate()  # SIGTERM
        # orphaned workers would hold the pipes open: a bounded wait, then their fate below
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        orphans = [w for w in workers if Path(f"/proc/{w}").exists() and _state(w) != "Z"]
        if proc.returncode != 143:  # a failed test leaves none running either
            for w in orphans:
                os.kill(w, signal.SIGKILL)
    assert proc.returncode == 143, err[-500:]  # the default action's status, as a shell sees it
    end = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < end:
        alive = [w for w in workers if Path(f"/proc/{w}").exists() and _state(w) != "Z"]
        time.sleep(0.1)
    for w in alive:  # never leave them running, whatever the test says
        os.kill(w, signal.SIGKILL)
    assert not alive, "the workers outlived a terminated search"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="a forked child inherits the handlers")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_in_a_child_forked_by_a_command_never_runs_the_command_on(
    signum: int,
) -> None:
    # the command's handlers raised (SystemExit, KeyboardInterrupt) in a child signalled
    # before it set its own (a sibling terminated just after its fork, as render_many's cleanup
    # does; Ctrl-C reaching the whole group): the exception unwound the parent's code copied
    # into the child, which ran on as the caller (a pytest worker reporting a test, while its
    # parent waited for the child)
    from nb201_flat.cli import _stop_signals

    # Python's own default in place, as under a terminal: a suite started in the background
    # (`make test &`) inherits SIGINT ignored, which the command leaves as it is
    default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
    inherited = signal.signal(signum, default)
    try:
        before = signal.getsignal(signum)
        with _stop_signals():
            assert signal.getsignal(signum) is not before  # the command's own handler is set
            pid = os.fork()
            if pid == 0:  # the child: every path ends here, never back in pytest
                try:
                    os.kill(os.getpid(), signum)  # before any handler of its own
                    os._exit(0)  # an ignored Ctrl-C: its parent stops it
                except BaseException:
                    os._exit(3)  # the command's exception, raised in the child
            _, status = os.waitpid(pid, 0)
        assert signal.getsignal(signum) is before  # restored after the block
    finally:
        signal.signal(signum, inherited)
    if signum == signal.SIGTERM:  # the default action
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signum, status
    else:
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"  # gone meanwhile
