"""What the output cannot take: an encoding without ``²``, ``±`` or ``—`` (an ASCII or C locale)
gets backslash escapes, as the error output does, instead of UnicodeEncodeError midway through
the output; help and ``--version`` that cannot be written are one line and exit 2, as a
command's output is (argparse dropped the failed write and exited 0)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table

KEY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("t") / "t.nb201"))


def cli(
    *argv: str, env: dict[str, str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb201_flat", *argv],
        text=True,
        check=False,
        env=env,
        **kw,  # type: ignore[call-overload]
    )


def environment(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    env.pop("LANG", None)
    env.pop("PYTHONUTF8", None)
    return env | changes


ASCII = environment(PYTHONIOENCODING="ascii")
# the C locale without its coercion or UTF-8 mode: ASCII with surrogateescape
C_LOCALE = environment(LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")


@pytest.mark.parametrize(
    ("argv", "escaped"),
    [
        (("barrier", "0", "1", *KEY), "A\\xb2M"),
        (("census", *KEY, "--pairs", "20"), "A\\xb2M"),
        (("search", "--algo", "rs", "--runs", "3"), "\\xb1"),
        (("census", "--help"), "A\\xb2M"),
        (("barrier", "--help"), "A\\xb2M"),
        (("figures", "--help"), "A\\xb2M"),
    ],
)
@pytest.mark.parametrize("env", [ASCII, C_LOCALE], ids=["PYTHONIOENCODING=ascii", "LC_ALL=C"])
def test_an_ascii_output_gets_escapes_not_a_crash(
    argv: tuple[str, ...], escaped: str, env: dict[str, str], table_path: str
) -> None:
    table = () if "--help" in argv else ("--table", table_path)
    done = cli(*argv, *table, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert escaped in done.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("argv", [("--version",), ("census", "--help"), ("--help",)])
def test_help_and_version_on_a_full_disk_are_one_line(argv: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        done = cli(*argv, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert done.stderr == (
        "error: could not write the output (No space left on device); free some space or send "
        "it elsewhere\n"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
def test_help_to_a_read_only_output_is_one_line(tmp_path: Path) -> None:
    ro = tmp_path / "ro.txt"
    ro.write_text("")
    with ro.open("r") as f:
        done = cli("info", "--help", stdout=f, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert done.stderr == (
        "error: could not write the output (its file is not open for writing); run it with an "
        "output (> FILE)\n"
    )


def test_a_path_s_undecodable_bytes_stay_beside_an_escaped_character() -> None:
    # one run of unencodable characters mixing both kinds was escaped whole: the path's
    # bytes came out as \udcff text instead of the bytes they were
    from nb201_flat.cli import _ESCAPE

    assert "path/\udcff\udcfe±x".encode("ascii", _ESCAPE) == b"path/\xff\xfe\\xb1x"
    assert "a±b".encode("ascii", _ESCAPE) == b"a\\xb1b"
