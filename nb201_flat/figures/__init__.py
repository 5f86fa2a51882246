"""Paper figures as functions of (table, protocol); the ``figures`` CLI renders them all.

Each topic module has ``plot_x(data..., ax=None) -> Axes`` (draws precomputed data on an axes,
or on a new styled figure) and ``make_x(table, ...) -> Figure`` (computes the data with the
landscape and search layers and lays the panels out). Plot functions never call
``plt.show()``. :func:`figure_style` applies the package style sheet, :func:`save_figure`
writes byte-stable PNG and PDF files, :data:`FIGURES` maps a name to its maker and
:func:`render` makes and saves one.

==================  ====================================  =========================================
name                module                                needs
==================  ====================================  =========================================
na_projection       :mod:`.projection`                    any test accuracy (searched on the
                                                          dataset's validation split when present)
flat_vs_sharp       :mod:`.generalisation`                validation and test splits, 2 datasets
a2m_distributions   :mod:`.distributions`                 200-epoch test accuracy per dataset
a2m_paths           :mod:`.paths`                         200-epoch test accuracy per dataset
search_curves       :mod:`.search`                        validation split and training times
barrier_tree        :mod:`.tree`                          200-epoch test accuracy per dataset
distance_profile    :mod:`.profile`                       200-epoch test accuracy per dataset
barrier_census      :mod:`.census`                        200-epoch test accuracy per dataset
flatness_by_epoch   :mod:`.epochs`                        learning curves (a results database
                                                          imported with ``--curves``)
==================  ====================================  =========================================

Makers raise :class:`FigureSkipped` naming the keys a table lacks. Importing this package does
not import matplotlib; the makers are loaded on first use.

Examples
--------
>>> from nb201_flat.figures import FIGURE_NAMES
>>> FIGURE_NAMES[:2]
('na_projection', 'flat_vs_sharp')
"""

from __future__ import annotations

import importlib
from typing import Any

from nb201_flat.figures.notebook import arch_label, notebook_table, shared_data_dir
from nb201_flat.figures.registry import (
    FIGURE_NAMES,
    FIGURES,
    FigureSpec,
    Rendered,
    make,
    render,
    render_many,
)
from nb201_flat.figures.style import figure_style, save_figure, style_path

# name -> module of the lazily imported plotting API (matplotlib loads on first access)
_LAZY: dict[str, str] = {
    "FigureSkipped": "_common",
    "figure_notes": "_common",
    "make_na_projection": "projection",
    "pick_architectures": "projection",
    "plot_projection": "projection",
    "make_flat_vs_sharp": "generalisation",
    "plot_binned": "generalisation",
    "make_a2m_distributions": "distributions",
    "plot_neighbour_distributions": "distributions",
    "make_a2m_paths": "paths",
    "plot_barrier_paths": "paths",
    "A2M_PAIRS": "paths",
    "make_search_curves": "search",
    "plot_anytime": "search",
    "run_curves": "search",
    "make_barrier_tree": "tree",
    "plot_disconnectivity": "tree",
    "make_distance_profile": "profile",
    "plot_distance_profile": "profile",
    "make_barrier_census": "census",
    "plot_barrier_census": "census",
    "make_flatness_by_epoch": "epochs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "FIGURES",
    "FIGURE_NAMES",
    "FigureSpec",
    "Rendered",
    "arch_label",
    "figure_style",
    "make",
    "notebook_table",
    "render",
    "render_many",
    "save_figure",
    "shared_data_dir",
    "style_path",
    *_LAZY,
]
