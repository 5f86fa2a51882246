"""The figure registry: NAME -> maker, and :func:`render` that the ``figures`` CLI loops over.

Importing this module does not import matplotlib: makers are resolved when a figure is made,
so the CLI parser stays fast.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb201_flat.table import Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True, slots=True)
class FigureSpec:
    """One figure of the registry.

    Attributes
    ----------
    name
        Registry name (also the file stem).
    module, function
        Where the maker ``make_x(table, **options) -> Figure`` lives (imported on use).
    summary
        One line for listings and the README.
    """

    name: str
    module: str
    function: str
    summary: str

    @property
    def make(self) -> Callable[..., Figure]:
        """The maker function."""
        fn: Callable[..., Figure] = getattr(importlib.import_module(self.module), self.function)
        return fn


_PKG = "nb201_flat.figures"

FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        FigureSpec(
            "na_projection",
            f"{_PKG}.projection",
            "make_na_projection",
            "NA Figure 1: 2-D landscape projections around the RS and NA-RS picks",
        ),
        FigureSpec(
            "flat_vs_sharp",
            f"{_PKG}.generalisation",
            "make_flat_vs_sharp",
            "sharpness vs validation-test gap and cross-dataset transfer",
        ),
        FigureSpec(
            "a2m_distributions",
            f"{_PKG}.distributions",
            "make_a2m_distributions",
            "A²M neighbour-accuracy distributions per band at radius 1-3",
        ),
        FigureSpec(
            "a2m_paths",
            f"{_PKG}.paths",
            "make_a2m_paths",
            "A²M barrier paths beside the lowest-barrier paths",
        ),
        FigureSpec(
            "search_curves",
            f"{_PKG}.search",
            "make_search_curves",
            "anytime curves of RS, NA-RS and relatives",
        ),
        FigureSpec(
            "barrier_tree",
            f"{_PKG}.tree",
            "make_barrier_tree",
            "disconnectivity graph of the best local optima",
        ),
        FigureSpec(
            "distance_profile",
            f"{_PKG}.profile",
            "make_distance_profile",
            "accuracy against Hamming distance from the optimum",
        ),
        FigureSpec(
            "barrier_census",
            f"{_PKG}.census",
            "make_barrier_census",
            "barrier census: exact lowest vs shortest-path barriers over many pairs",
        ),
        FigureSpec(
            "flatness_by_epoch",
            f"{_PKG}.epochs",
            "make_flatness_by_epoch",
            "landscape sharpness and rank agreement along training (learning curves)",
        ),
    )
}

FIGURE_NAMES: tuple[str, ...] = tuple(FIGURES)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A figure written to disk: its files, how long it took and the maker's notes."""

    name: str
    files: tuple[Path, ...]
    seconds: float
    notes: tuple[str, ...]


def make(name: str, table: Table, **options: Any) -> Figure:
    """Make figure ``name`` on ``table`` (raises :class:`FigureSkipped` when it cannot)."""
    from nb201_flat.figures._common import FigureSkipped

    if name not in FIGURES:
        raise FigureSkipped(name, [], f"unknown figure; choose from {', '.join(FIGURE_NAMES)}")
    return FIGURES[name].make(table, **options)


def render(
    name: str,
    table: Table,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("png", "pdf"),
    options: Mapping[str, Any] | None = None,
) -> Rendered:
    """Make figure ``name`` and save it as ``out_dir/name.<fmt>`` for each format.

    Raises
    ------
    FigureSkipped
        The table lacks what the figure needs (the message says what).
    """
    from nb201_flat.figures._common import figure_notes
    from nb201_flat.figures.style import save_figure

    t0 = time.perf_counter()
    fig = make(name, table, **dict(options or {}))
    files = save_figure(fig, Path(out_dir) / name, formats=tuple(formats))
    return Rendered(name, tuple(files), time.perf_counter() - t0, tuple(figure_notes(fig)))
