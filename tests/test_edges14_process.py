"""The process around a command: its error output's pipe closed under ``--progress``, a stop
signal landing while a kernel compiles or a pool forks, an output on a full disk after the
command wrote its files, a deleted working folder, and the process-wide settings a call
leaves behind (torch's thread count, ``OPENBLAS_NUM_THREADS``)."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table

sys.path.insert(0, str(Path(__file__).parent / "train"))
from train_helpers import write_tiny_cifar10


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("edges14")
    return str(save_table(synthetic_table(), folder / "t.nb201"))


def _python(
    code: str, *, cwd: Path | None = None, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        **kw,  # type: ignore[arg-type]
    )


# -- --progress with the error output's reader gone (`2>&1 >FILE | true`) ---------------------
@contextlib.contextmanager
def closed_stderr(tmp_path: Path) -> Iterator[Path]:
    """stderr a pipe whose reader is closed, stdout a file (whose path is yielded); set in
    the test's body, where pytest's capture has set its own."""
    read, write = os.pipe()
    os.close(read)
    out_path = tmp_path / "out.txt"
    with (
        io.TextIOWrapper(io.FileIO(write, "w"), line_buffering=True) as err,
        open(out_path, "w") as out,
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(out),
    ):
        yield out_path


def test_search_progress_with_a_closed_error_output_keeps_its_report(
    table_path: str, tmp_path: Path
) -> None:
    # the bar's BrokenPipeError was taken for stdout's: exit 0 with nothing written
    from nb201_flat.cli import main

    argv = ["search", "--algo", "rs", "--runs", "3", "--table", table_path, "--jobs", "1"]
    with closed_stderr(tmp_path) as out:
        code = main([*argv, "--progress"])
    assert code == 0
    assert "rs under" in out.read_text()


def test_reproduce_progress_with_a_closed_error_output_writes_out(
    table_path: str, tmp_path: Path
) -> None:
    from nb201_flat.cli import main

    rep = tmp_path / "rep"
    argv = ["reproduce", "--quick", "--out", str(rep), "--table", table_path, "--jobs", "1"]
    with closed_stderr(tmp_path) as out:
        code = main([*argv, "--runs", "4", "--progress"])
    assert code == 0
    assert (rep / "report.md").is_file()
    assert out.read_text()


def test_train_progress_with_a_closed_error_output_trains(tmp_path: Path) -> None:
    # every run was recorded as failed: BrokenPipeError
    from nb201_flat.cli import main

    data = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "t.sqlite"
    argv = ["train", "11472", "100", "--dataset", "cifar10", "--data-root", str(data),
            "--db", str(db), "--device", "cpu", "--C", "2", "--N", "1", "--epochs", "1",
            "--executor", "inline", "--threads", "1", "--progress"]  # fmt: skip
    with closed_stderr(tmp_path) as out:
        code = main(argv)
    text = out.read_text()
    assert code == 0, text
    assert text.count(" done ") == 2 and "failed" not in text, text


def _as_info(monkeypatch: pytest.MonkeyPatch, func: Callable[[object], int]) -> None:
    """Make ``info`` run ``func``."""
    from nb201_flat import cli
    from nb201_flat.cli.common import subparser

    parser = cli.build_parser("info")
    subparser(parser, "info").set_defaults(func=func)
    monkeypatch.setattr(cli, "build_parser", lambda command=None: parser)


def test_a_broken_error_output_is_not_taken_for_the_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a command's own note to a closed error output stopped it: not exit 0, as for `| head`
    from nb201_flat import cli

    def note(args: object) -> int:
        print("a note", file=sys.stderr)
        return 0

    _as_info(monkeypatch, note)
    with closed_stderr(tmp_path):
        assert cli.main(["info"]) == 2


# -- a stop signal while a kernel compiles, or while a pool forks -------------------------------
_IN_COMPILE = """
    import os, signal, sys
    from llvmlite.binding import executionengine as ee

    find = ee.ExecutionEngine._find_module_ptr
    sent = []

    def notify(self, ptr):  # numba's object-cache callback, as a `kill` could land in it
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.{sig})
        return find(self, ptr)

    ee.ExecutionEngine._find_module_ptr = notify
    from nb201_flat.cli import main
    sys.exit(main(["search", "--algo", "rs", "--runs", "3", "--table", {table!r},
                   "--jobs", "1", "--json"]))
"""

_IN_FORK = """
    import os, signal, sys
    sent = []

    def hook():  # after a worker's fork, in the parent
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.{sig})

    os.register_at_fork(after_in_parent=hook)
    from nb201_flat.cli import main
    sys.exit(main(["search", "--algo", "rs", "--runs", "4", "--table", {table!r},
                   "--jobs", "2", "--json"]))
"""

_STOPPED = {"SIGINT": 130, "SIGTERM": 143}


@pytest.fixture(scope="module")
def forks_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder the fork tests share: the first compiles the kernel, the next load it."""
    return tmp_path_factory.mktemp("kernels")


@pytest.mark.parametrize("sig", sorted(_STOPPED))
@pytest.mark.parametrize("where", ["compile", "fork"])
def test_a_stop_signal_in_a_compile_or_a_fork_stops_the_command(
    sig: str, where: str, table_path: str, tmp_path: Path, forks_cache: Path
) -> None:
    # the handler's exception was dropped ("Exception ignored"): the search ran on to exit 0
    script = (_IN_COMPILE if where == "compile" else _IN_FORK).format(sig=sig, table=table_path)
    # a compile's needs a cold cache; the forks come after the kernels are in one
    cache = tmp_path / "cache" if where == "compile" else forks_cache
    done = _python(
        script,
        env={"NB201_FLAT_CACHE": str(cache)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == _STOPPED[sig], done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    assert done.stderr == ("interrupted\n" if sig == "SIGINT" else "")


@pytest.fixture
def default_stop_handlers() -> Iterator[None]:
    """Python's own handlers of SIGINT and SIGTERM, as a command starts with, whatever the test
    process set (a pytest-xdist worker may ignore SIGINT: the signal then raised nothing)."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        for s, handler in kept.items():
            signal.signal(s, handler)


@pytest.mark.usefixtures("default_stop_handlers")
def test_a_stop_signal_python_dropped_still_ends_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the backstop: a SIGTERM whose SystemExit a finalizer swallowed ended nothing
    from nb201_flat import cli

    def swallowed(args: object) -> int:
        with contextlib.suppress(SystemExit):  # as "Exception ignored in" a callback
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    _as_info(monkeypatch, swallowed)
    with pytest.raises(SystemExit) as stop:
        cli.main(["info"])
    assert stop.value.code == 143


@pytest.mark.usefixtures("default_stop_handlers")
def test_an_error_wrapping_an_interrupt_is_the_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # numba's SystemError "returned a result with an exception set" over a KeyboardInterrupt
    from nb201_flat import cli

    def wrapped(args: object) -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt as exc:
            raise SystemError("CPUDispatcher returned a result with an exception set") from exc
        return 0

    _as_info(monkeypatch, wrapped)
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


# -- an output on a full disk after the command wrote its files ---------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_import_to_a_full_output_says_the_table_was_written(tmp_path: Path) -> None:
    # "free some space or send it elsewhere", and the rerun was refused: the table existed
    from cli.test_import_out_link import _tidy_csv  # type: ignore[import-not-found]

    source = _tidy_csv(tmp_path / "s.csv", 50.0)
    out = tmp_path / "T"
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "nb201_flat", "import", str(source), "--out", str(out)],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"error: could not write the output (No space left on device); {out} was written, "
        f"only the report was lost; free some space or send it elsewhere, and pass --force to "
        f"replace {out}\n"
    )
    assert (out / "manifest.json").is_file()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_census_to_a_full_output_says_its_pairs_were_written(
    table_path: str, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.csv"
    argv = ["census", "--table", table_path, "--pairs", "2", "--top-k", "2", "--pairs-out"]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "nb201_flat", *argv, str(pairs)],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"error: could not write the output (No space left on device); {pairs} was written, "
        "only the report was lost; free some space or send it elsewhere\n"
    )


# -- a deleted working folder ---------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "import"])
def test_a_deleted_working_folder_is_one_line(command: str, tmp_path: Path) -> None:
    # train died in torch's loader ("Intel oneMKL FATAL ERROR"), the others with a traceback
    gone = tmp_path / "gone"
    gone.mkdir()
    argv = {
        "train": ["train", "11472", "--dataset", "cifar10", "--data-root", str(tmp_path),
                  "--device", "cpu", "--epochs", "1", "--db", str(tmp_path / "t.sqlite")],
        "import": ["import", str(tmp_path / "s.csv"), "--out", str(tmp_path / "T")],
    }[command]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from nb201_flat.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *argv],
        cwd=gone, preexec_fn=lambda: os.rmdir(gone),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: the working folder no longer exists; cd to an existing folder\n"
    assert not (tmp_path / "t.sqlite").exists()


# -- what a call leaves set in the process ----------------------------------------------------------
def test_train_leaves_torch_s_thread_count_as_it_was(tmp_path: Path) -> None:
    # a later job with threads=None ran with (and recorded) the earlier job's count
    import torch

    from nb201_flat.space import NB201
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.trainer import train

    data = write_tiny_cifar10(tmp_path / "data")
    (job,) = make_jobs([NB201.arch(11472)], dataset="cifar10", epochs=1, seeds=[1],
                       data_root=data, db_path=tmp_path / "r.sqlite", c=2, n=1,
                       device="cpu", threads=1)  # fmt: skip
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert train(job).status == "done"
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_import_after_numpy_leaves_openblas_threads_unset() -> None:
    # set where it cannot act any more, it reached the user's child processes
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    }

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (16 * 2**30, resource.RLIM_INFINITY))

    done = subprocess.run(
        [sys.executable, "-c", "import os, numpy, nb201_flat; "
         "print(os.environ.get('OPENBLAS_NUM_THREADS'))"],
        env=env, preexec_fn=limited, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "None\n"
