"""na_projection's panel titles are not covered by its colour bar."""

from __future__ import annotations

import pytest

from nb201_flat.figures import make
from nb201_flat.table import Table


@pytest.mark.parametrize("pick", ["search", "value"])
def test_titles_clear_the_colour_bar(figure_table: Table, pick: str) -> None:
    fig = make("na_projection", figure_table, pick=pick, points=5)
    fig.draw_without_rendering()  # constrained layout places everything on drawing
    panels, bar = fig.axes[:2], fig.axes[2]
    left = bar.get_window_extent().x0
    for ax in panels:
        title = ax.title.get_window_extent()
        assert title.x1 <= left, (ax.title.get_text(), title.x1, left)
