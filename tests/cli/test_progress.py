"""Long commands show progress on a terminal, stay quiet under --json or when piped (issue 12
item 7), and notebooks without ipywidgets get the plain tqdm (no "IProgress not found")."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from nb201_flat import budget
from nb201_flat.cli import main
from nb201_flat.errors import Nb201FlatError
from nb201_flat.table import Table


class _Stderr(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture(autouse=True)
def _restore_progress() -> Any:
    yield
    budget.set_progress(True)


def _figures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tty: bool, *extra: str) -> str:
    err = _Stderr(tty)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(budget, "PROGRESS_DELAY_S", 0.0)  # draw at once, not after 2 s
    argv = ["figures", "--only", "distance_profile", "--formats", "png", "--out", str(tmp_path)]
    assert main([*argv, *extra]) == 0
    return err.getvalue()


def test_figures_show_a_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_table: Table
) -> None:
    assert "figures:" in _figures(monkeypatch, tmp_path, True)


def test_figures_quiet_when_piped_or_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_table: Table
) -> None:
    assert "figures:" not in _figures(monkeypatch, tmp_path / "a", False)
    assert "figures:" not in _figures(monkeypatch, tmp_path / "b", True, "--json")


class _Stop(Nb201FlatError):
    pass


@pytest.mark.parametrize(
    ("tty", "extra", "expected"),
    [(True, (), True), (False, (), False), (True, ("--json",), False)],
)
def test_reproduce_progress_follows_the_terminal_quiet_under_json(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    default_table: Table,
    tty: bool,
    extra: tuple[str, ...],
    expected: bool,
) -> None:
    import nb201_flat.search.grid as grid

    seen: list[bool] = []

    def fake(*args: Any, progress: bool = False, **kwargs: Any) -> Any:
        seen.append(progress)
        raise _Stop("stopped by the test")

    monkeypatch.setattr(grid, "reproduce", fake)
    monkeypatch.setattr(sys, "stderr", _Stderr(tty))
    main(["reproduce", "--out", str(tmp_path / "r"), *extra])
    assert seen == [expected]


def test_plain_tqdm_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.std import tqdm as std

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # find_spec -> None: not installed
    # tqdm.std's bars, drawing through budget.BarStream
    assert budget.tqdm_class().__bases__ == (std,)
