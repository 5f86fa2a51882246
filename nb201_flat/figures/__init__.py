"""Paper figures as functions of (table, protocol); the ``figures`` CLI renders them all.

Plot functions take ``ax=`` (or create their own figure) and return it; they never call
``plt.show()``. :func:`figure_style` applies the package style sheet, :func:`save_figure`
writes byte-stable PNG and PDF files.
"""

from __future__ import annotations

from nb201_flat.figures.style import figure_style, save_figure, style_path

__all__ = ["figure_style", "save_figure", "style_path"]
