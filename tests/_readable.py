"""What a reader needs to read a plot or a table (issue 12 item 9), shared by two tests.

``tests/test_notebooks.py`` injects this file's source into each notebook's kernel, so it
imports only ``typing`` at module level and returns plain strings; ``tests/figures/test_axis_labels.py``
loads it by path.

- Every Axes that draws data has an x and a y label: its own, or the label of an Axes sharing
  that axis in the same column (x) or row (y). Axes with the axis turned off (legend-only) and
  empty ones have nothing to label; a colour bar needs a label on its long axis.
- Architecture strings (``|op~0|+...``) shown as tick labels, or in a column or index of a
  displayed DataFrame, are distinct as the reader sees them (after pandas truncates long
  strings), so no two rows look identical.
"""

from __future__ import annotations

from typing import Any


def _arch_like(text: Any) -> bool:
    import re

    return re.search(r"\|[^|~+]+~\d+\|", str(text)) is not None


def _same_line(ax: Any, other: Any, axis: str) -> bool:
    """``other`` sits in ``ax``'s column (x) or row (y) of the grid."""
    mine, theirs = ax.get_subplotspec(), other.get_subplotspec()
    if mine is None or theirs is None:
        return False
    if axis == "x":
        return bool(mine.colspan == theirs.colspan)
    return bool(mine.rowspan == theirs.rowspan)


def _labelled(ax: Any, axis: str) -> bool:
    def label(a: Any) -> str:
        return str(a.get_xlabel() if axis == "x" else a.get_ylabel()).strip()

    if label(ax):
        return True
    group = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
    return any(
        other is not ax and label(other) and _same_line(ax, other, axis)
        for other in group.get_siblings(ax)
    )


def axes_problems(figures: list[Any]) -> list[str]:
    """One line per unlabelled axis or repeated architecture tick label in ``figures``."""
    problems = []
    for f, fig in enumerate(figures):
        for ax in fig.axes:
            title = ax.get_title() or ax.get_title(loc="left") or "untitled"
            name = f"figure {f}, axes {title.splitlines()[0]!r}"
            if ax.get_label() == "<colorbar>":
                if not (ax.get_xlabel().strip() or ax.get_ylabel().strip()):
                    problems.append(f"{name}: a colour bar without a label")
                continue
            has_data = bool(ax.lines or ax.collections or ax.patches or ax.images)
            if not ax.axison or not has_data:
                continue
            for axis in ("x", "y"):
                if not _labelled(ax, axis):
                    problems.append(f"{name}: no {axis} label")
            for axis in (ax.xaxis, ax.yaxis):
                ticks = axis.get_major_formatter().format_ticks(axis.get_majorticklocs())
                archs = [t for t in ticks if _arch_like(t)]
                if len(set(archs)) < len(archs):
                    problems.append(f"{name}: architecture tick labels repeat: {archs}")
    return problems


def frame_problems(frames: list[Any]) -> list[str]:
    """One line per column (or index) of ``frames`` whose architecture strings repeat as shown."""
    import re

    import pandas as pd

    problems = []
    for i, frame in enumerate(frames):
        columns = [("the index", list(frame.index))]
        columns += [
            (f"column {c!r}", frame.iloc[:, k].tolist()) for k, c in enumerate(frame.columns)
        ]
        for where, values in columns:
            if not any(_arch_like(v) for v in values):
                continue
            # the cells as the notebook shows them: pandas truncates long strings
            html = pd.DataFrame({"shown": [str(v) for v in values]})._repr_html_()
            shown = re.findall(r"<td>(.*?)</td>", html, flags=re.S)
            repeated = sorted({s for s in shown if shown.count(s) > 1})
            if repeated:
                problems.append(
                    f"table {i}, {where}: {len(values)} rows, rows look identical: {repeated[0]!r}"
                )
    return problems
