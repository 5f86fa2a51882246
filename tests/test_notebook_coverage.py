"""What the notebooks show: every figure in notebook 03, barriers under their own names in 01."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext

from nb201_flat.figures import FIGURES

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _code(name: str) -> str:
    nb = jupytext.read(NOTEBOOKS / name)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_notebook_03_displays_every_figure_of_the_command() -> None:
    # its introduction says it covers every figure `nb201-flat figures` draws
    shown = set(re.findall(r'figures\.get\("(\w+)"\)', _code("03_paper_figures.py")))
    assert shown == set(FIGURES), f"made but never shown: {sorted(set(FIGURES) - shown)}"


def test_notebook_01_prints_barriers_under_their_names() -> None:
    # the mean path barrier is not "the A²M barrier" (A²M's code computes other values)
    code = _code("01_explore_flatness.py")
    assert "A²M barrier" not in code
    assert "BARRIER_NAMES['mean_path']" in code
    assert "lowest_name(" in code
