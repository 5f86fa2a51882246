"""Paths no call can use, and an output that cannot be seen: one line and exit code 2, where
each was a traceback with exit code 1 (a fuzz of the commands' path options)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import one_line_exit_2

from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table

LONG = "a" * 300  # one name past the file system's 255 bytes: ENAMETOOLONG


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("t") / "t.nb201"))


@pytest.mark.parametrize(
    "argv",
    [
        ("info", "--table", LONG),
        ("info", "--table", f"{LONG}/x"),
        ("census", "--pairs", "1", "--top-k", "0", "--pairs-out", f"{LONG}.csv"),
        ("census", "--pairs", "1", "--top-k", "0", "--pairs-out", f"{LONG}/x.csv"),
    ],
)
def test_a_name_too_long_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    table: str,
    argv: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    words = [*argv] if "--table" in argv else [*argv, "--table", table]
    line = one_line_exit_2(capsys, *words)
    assert "File name too long; choose another path" in line and "aaa..." in line, line


def test_a_name_too_long_in_the_environment_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NB201_FLAT_TABLE", LONG)
    line = one_line_exit_2(capsys, "info")
    assert "File name too long" in line, line


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_a_parent_folder_that_is_a_link_to_nothing_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table: str, kind: str
) -> None:
    # a loop raised pathlib's RuntimeError; a dangling one said "File exists" after the checks
    if kind == "loop":
        (tmp_path / "l1").symlink_to(tmp_path / "l2")
        (tmp_path / "l2").symlink_to(tmp_path / "l1")
    else:
        (tmp_path / "l1").symlink_to(tmp_path / "nowhere")
    target = str(tmp_path / "l1" / "x.csv")
    line = one_line_exit_2(
        capsys, "census", "--pairs", "1", "--top-k", "0", "--pairs-out", target, "--table", table
    )
    assert f"the folder {tmp_path / 'l1'} is a symbolic link to nothing" in line, line
    line = one_line_exit_2(capsys, "import", table, "--out", str(tmp_path / "l1" / "t"))
    assert "is a symbolic link to nothing (dangling, or a loop of links)" in line, line


@pytest.mark.skipif(sys.platform == "win32", reason="closes a POSIX file descriptor")
def test_a_closed_stdout_is_refused_up_front(table: str) -> None:
    # every print went nowhere, then the final flush raised AttributeError (exit 1)
    done = subprocess.run(
        [sys.executable, "-m", "nb201_flat", "info", "--table", table],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),  # the child's fd 1, before it runs Python
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: standard output is closed"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
