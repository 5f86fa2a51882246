"""Running the command line in-process, for the tests of several folders (tests/ is on the
import path of the test files directly in it and of those in its packages)."""

from __future__ import annotations

import signal

import pytest

from nb201_flat.cli import main

# the files `reproduce --out DIR` writes, as its tests expect them (stated here, not read
# from nb201_flat.search.report: a file the command stops writing must fail the tests)
REPORT_FILES = (
    "summary.csv",
    "paired.csv",
    "anchors.csv",
    "accounting.csv",
    "matched.csv",
    "routes.csv",
    "curves.csv",
    "runs.csv.gz",
    "report.md",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``nb201-flat ARGV``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one ``error: ...`` line of ``nb201-flat ARGV``, asserting exit code 2."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def as_at_a_terminal() -> None:
    """``preexec_fn`` of a command a test interrupts with SIGINT: Ctrl-C's default handling,
    as a shell at a terminal starts it. A test run in the background by a shell without job
    control inherits SIGINT ignored, and so would the command: Ctrl-C would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
