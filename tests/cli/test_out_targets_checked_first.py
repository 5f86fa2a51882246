"""``reproduce --out DIR`` and ``figures --out DIR`` check, before any work, that each file they
will write into DIR can replace what is there (a folder or a pipe in its place was refused
only after the whole run), and a failed run removes every folder it made for DIR.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import REPORT_FILES, one_line_exit_2, run

import nb201_flat.figures.registry as registry
import nb201_flat.search.grid as grid
from nb201_flat.cli.search import REPORT_FILES as WRITTEN_BY_REPRODUCE
from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("t") / "t.nb201"))


def never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the run started although a target file cannot be replaced")


REPRODUCE = ("reproduce", "--quick", "--runs", "6", "--jobs", "1")


@pytest.mark.parametrize("blocker", ["folder", "pipe"])
@pytest.mark.parametrize("name", ["summary.csv", "report.md"])
def test_reproduce_refuses_an_unreplaceable_file_before_its_run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    table_path: str,
    blocker: str,
    name: str,
) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    if blocker == "folder":
        (out / name).mkdir()
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no named pipes here")
        os.mkfifo(out / name)
    monkeypatch.setattr(grid, "reproduce", never)
    line = one_line_exit_2(capsys, *REPRODUCE, "--out", str(out), "--table", table_path)
    assert f"--out {out}: {out / name} exists and is no regular file" in line
    assert sorted(p.name for p in out.iterdir()) == [name]  # nothing staged, nothing left


def test_reproduce_names_the_files_it_writes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: str
) -> None:
    # the names checked up front are those a run writes
    code, out, err = run(
        capsys, *REPRODUCE, "--json", "--out", str(tmp_path), "--table", table_path
    )
    assert code == 0, err
    written = sorted(Path(f).name for f in json.loads(out)["files"])
    assert written == sorted(WRITTEN_BY_REPRODUCE) == sorted(REPORT_FILES)


FIGURES = ("figures", "--only", "distance_profile", "--jobs", "1")


def test_figures_refuse_an_unreplaceable_file_before_drawing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    table_path: str,
) -> None:
    out = tmp_path / "figd"
    (out / "distance_profile.pdf").mkdir(parents=True)
    monkeypatch.setattr(registry, "render_many", never)
    line = one_line_exit_2(capsys, *FIGURES, "--out", str(out), "--table", table_path)
    assert f"{out / 'distance_profile.pdf'} exists and is no regular file" in line
    assert [p.name for p in out.iterdir()] == ["distance_profile.pdf"]
    monkeypatch.undo()
    # a format not asked for is no target: that run goes ahead
    code, _, err = run(
        capsys, *FIGURES, "--formats", "png", "--out", str(out), "--table", table_path
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["distance_profile.pdf", "distance_profile.png"]


def test_a_failed_figures_run_leaves_none_of_the_folders_it_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: str
) -> None:
    # the table has no learning curves: the figure asked for by name cannot be drawn
    out = tmp_path / "leftover" / "a" / "b"
    argv = ("figures", "--only", "flatness_by_epoch", "--out", str(out), "--table", table_path)
    line = one_line_exit_2(capsys, *argv)
    assert "--only flatness_by_epoch: this table cannot support it" in line
    assert list(tmp_path.iterdir()) == []
