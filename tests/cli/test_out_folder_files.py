"""``figures --out DIR`` and ``reproduce --out DIR`` write their own files into DIR one by one.

A file another process writes into DIR while the command runs survives it (a swap of the whole
folder lost it, or put back the version from before the run); a run that fails or is
interrupted midway leaves each of its files at the previous version and nothing half written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import REPORT_FILES

import nb201_flat.figures.registry as registry
import nb201_flat.search.report as report
from nb201_flat import atomic
from nb201_flat.cli import main
from nb201_flat.storage import save_table
from nb201_flat.testing import figure_table, synthetic_table

FIGURE_FILES = [
    f"{n}.{fmt}" for n in ("distance_profile", "na_projection") for fmt in ("pdf", "png")
]


def contents(folder: Path) -> dict[str, bytes]:
    """Every entry of ``folder``, hidden ones (a staging folder, a temporary file) too."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output folder with a previous run's files (``old`` bytes) and someone else's."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name in [*FIGURE_FILES, *REPORT_FILES]:
        (folder / name).write_bytes(b"old " + name.encode())
    (folder / "theirs.txt").write_bytes(b"theirs before")
    return folder


def meanwhile(out: Path) -> None:
    """Another process at work in ``out``: creates one file, replaces another."""
    (out / "new.txt").write_bytes(b"created meanwhile")
    atomic.write_bytes(out / "theirs.txt", b"theirs replaced meanwhile")


def hooked(real: Callable[..., Any], *, each: Callable[[int], None]) -> Callable[..., Any]:
    """``real``, calling ``each(n)`` before its ``n``-th call (from 1)."""
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        each(calls[0])
        return real(*args, **kwargs)

    return wrapper


# -- figures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def figure_table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_table(figure_table(), tmp_path_factory.mktemp("figs") / "synthetic.nb201")


def figures(out: Path, table: Path) -> int:
    argv = ["figures", "--out", str(out), "--table", str(table), "--jobs", "1", "--only"]
    return main([*argv, "distance_profile", "na_projection"])


def test_figures_keep_a_file_written_meanwhile(
    out: Path, figure_table_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def each(n: int) -> None:
        if n == 2:  # between the two figures
            meanwhile(out)

    monkeypatch.setattr(registry, "render", hooked(registry.render, each=each))
    assert figures(out, figure_table_path) == 0
    after = contents(out)
    assert after["new.txt"] == b"created meanwhile"
    assert after["theirs.txt"] == b"theirs replaced meanwhile"
    assert all(after[n] == b"old " + n.encode() for n in REPORT_FILES)  # not this command's
    assert all(not after[n].startswith(b"old ") for n in FIGURE_FILES)  # drawn anew
    assert not [n for n in after if n.startswith(".")]  # no staging folder or temporary left


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_figures_interrupted_midway_keep_the_previous_files(
    out: Path,
    figure_table_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stop: BaseException | type[BaseException],
) -> None:
    def each(n: int) -> None:
        if n == 2:  # the first figure is drawn and saved (into the staging folder)
            raise stop

    before = contents(out)
    monkeypatch.setattr(registry, "render", hooked(registry.render, each=each))
    code = figures(out, figure_table_path)
    assert code == (130 if stop is KeyboardInterrupt else 2), capsys.readouterr()
    assert contents(out) == before


# -- reproduce -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def like_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_table(synthetic_table(), tmp_path_factory.mktemp("repro") / "like.nb201")


def reproduce(out: Path, table: Path) -> int:
    argv = ["reproduce", "--quick", "--runs", "6", "--jobs", "1", "--out", str(out)]
    return main([*argv, "--table", str(table)])


def test_reproduce_keeps_a_file_written_meanwhile(
    out: Path, like_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def each(n: int) -> None:
        if n == 5:  # four of the report's files written (into the staging folder)
            meanwhile(out)

    monkeypatch.setattr(report, "_atomic_write", hooked(report._atomic_write, each=each))
    assert reproduce(out, like_path) == 0
    after = contents(out)
    assert after["new.txt"] == b"created meanwhile"
    assert after["theirs.txt"] == b"theirs replaced meanwhile"
    assert all(after[n] == b"old " + n.encode() for n in FIGURE_FILES)  # not this command's
    assert all(not after[n].startswith(b"old ") for n in REPORT_FILES)  # written anew
    assert not [n for n in after if n.startswith(".")]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_reproduce_interrupted_midway_keeps_the_previous_files(
    out: Path,
    like_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stop: BaseException | type[BaseException],
) -> None:
    def each(n: int) -> None:
        if n == 5:  # four of the report's files written, the fifth not
            raise stop

    before = contents(out)
    monkeypatch.setattr(report, "_atomic_write", hooked(report._atomic_write, each=each))
    code = reproduce(out, like_path)
    captured = capsys.readouterr()
    assert code == (130 if stop is KeyboardInterrupt else 2), captured
    if stop is not KeyboardInterrupt:
        assert "nothing was changed" in captured.err
    assert contents(out) == before


# -- the current folder ----------------------------------------------------------------------
@pytest.mark.parametrize("command", ["figures", "reproduce"])
def test_out_may_be_the_current_folder(
    command: str,
    out: Path,
    figure_table_path: Path,
    like_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a whole-folder swap could not replace '.', so `--out .` was refused; files renamed in
    # one by one can go there like anywhere else
    monkeypatch.chdir(out)
    if command == "figures":
        assert figures(Path("."), figure_table_path) == 0
        mine, others = FIGURE_FILES, REPORT_FILES
    else:
        assert reproduce(Path("."), like_path) == 0
        mine, others = REPORT_FILES, FIGURE_FILES
    after = contents(out)
    assert all(not after[n].startswith(b"old ") for n in mine)
    assert all(after[n] == b"old " + n.encode() for n in others)
    assert after["theirs.txt"] == b"theirs before"
    assert not [n for n in after if n.startswith(".")]
