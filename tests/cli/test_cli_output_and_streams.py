"""The landscape commands show small values as measured, and the commands treat their streams
and list options as they say (a fifth audit's findings, each reproduced first): flatness,
barrier and census print 9.4e-06 where they printed 0.0000; reproduce and figures never
rename a file over the one their output goes to; a read-only output, a closed error output
under --progress and no command at all are one line, exit 2; figures --jobs beyond the figures
is no memory refusal, and an item named twice is refused; --quantile -0 is level 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

TINY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200", "--metric", "tiny")


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A zero-cost proxy of values near 1e-5 (accuracy x 1e-7) and the accuracy itself."""
    acc = 50.0 + 40.0 * (NB201.codes == 3).sum(axis=1) / 6 + np.arange(NB201.size) % 7 * 0.1
    data = {
        (MetricKey("cifar10", "ori-test", 200), None): acc,
        (MetricKey("cifar10", "ori-test", 200, "tiny"), None): acc * 1e-7,
    }
    path = tmp_path_factory.mktemp("tiny") / "t.nb201"
    return str(save_table(Table(NB201, data, source="tiny"), path))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ("flatness", *TINY, "--higher-is-better", "--top", "3"),
        ("barrier", "6111", "11472", *TINY, "--higher-is-better"),
        ("census", *TINY, "--higher-is-better", "--pairs", "0", "--top-k", "5"),
    ],
)
def test_small_values_are_shown_as_measured(
    capsys: pytest.CaptureFixture[str], tiny_table: str, argv: tuple[str, ...]
) -> None:
    code, out, err = _run(capsys, *argv, "--table", tiny_table)
    assert code == 0, err
    assert "e-0" in out  # every value read 0.0000, where --json held 9.4e-06
    code, js, _ = _run(capsys, *argv, "--table", tiny_table, "--json")
    assert code == 0 and json.loads(js)


def _cli(*argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nb201_flat", *argv],
        text=True,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def test_figures_never_replace_the_file_its_output_goes_to(tiny_table: str, tmp_path: Path) -> None:
    out = tmp_path / "fig"
    out.mkdir()
    target = out / "distance_profile.svg"
    target.write_text("kept\n")
    with target.open("a") as log:  # > fig/distance_profile.svg: the printed lines were lost
        done = _cli(
            "figures", "--table", tiny_table, "--out", str(out), "--only", "distance_profile",
            "--formats", "svg", stdout=log, stderr=subprocess.PIPE,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "is the file this command's output goes to" in done.stderr
    assert done.stderr.count("\n") == 1
    assert target.read_text().startswith("kept\n")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
def test_a_read_only_output_is_one_line(tiny_table: str, tmp_path: Path) -> None:
    ro = tmp_path / "ro.txt"
    ro.write_text("")
    with ro.open("r") as f:  # OSError's traceback, exit 1
        done = _cli("info", "--table", tiny_table, stdout=f, stderr=subprocess.PIPE)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "error: could not write the output (its file is not open for writing); run it with an "
        "output (> FILE)\n"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
def test_progress_with_a_closed_error_output_is_refused(tmp_path: Path) -> None:
    # tqdm met None: exit 1 and nothing said; refused before the command reads anything
    done = _cli(
        "import", str(tmp_path / "none.csv"), "--out", str(tmp_path / "t"), "--progress",
        stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2),
    )  # fmt: skip
    assert done.returncode == 2 and "--progress draws its bars on the error output" in done.stdout


def test_no_command_is_one_line_on_the_error_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)  # the whole help on stdout
    assert (code, out) == (2, "")
    assert err == "error: nb201-flat needs a command; see nb201-flat --help\n"


def test_figures_options(
    capsys: pytest.CaptureFixture[str], tiny_table: str, tmp_path: Path
) -> None:
    out = str(tmp_path / "f")
    # "500 figures at once needs about 19.7 GB"; two are drawn at most
    code, _, err = _run(
        capsys, "figures", "--table", tiny_table, "--out", out, "--formats", "png",
        "--only", "distance_profile", "barrier_tree", "--jobs", "500",
    )  # fmt: skip
    assert code == 0, err
    for flag, items in (("--only", ["distance_profile"] * 2), ("--formats", ["png", "png"])):
        argv = ["figures", "--table", tiny_table, "--out", out, flag, *items]
        code, _, err = _run(capsys, *argv)  # one drawn, without a word
        assert code == 2 and f"{flag} names {items[0]} twice; give each item once" in err


def test_odd_numbers_read_as_what_they_are(
    capsys: pytest.CaptureFixture[str], tiny_table: str
) -> None:
    acc = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
    code, out, _ = _run(
        capsys, "flatness", *acc, "--agg", "quantile", "--quantile", "-0", "--top", "1",
        "--table", tiny_table, "--json",
    )  # fmt: skip
    assert code == 0 and '"quantile": 0.0' in out and "-0" not in out  # labelled q-0
    code, _, err = _run(capsys, "census", *acc, "--pairs", "2", "--top-k", "2", "--distance", "-1", "--table", tiny_table)  # fmt: skip
    # "band pairs at distance -1: ... no two lie farther apart"
    assert code == 2 and "--distance -1 is negative" in err
