"""A²M: neighbour-accuracy distributions of good, middling and poor architectures.

For each dataset (rows) and Hamming radius 1, 2, 3 (columns): the test accuracies of every
neighbour at exactly that distance of the architectures in A²M's accuracy bands A, B, C
(:data:`nb201_flat.landscape.A2M_BANDS`), as densities over the same bins as the whole-space
distribution (grey). Good architectures (band A) keep more of their accuracy in their
neighbourhood: the landscape around them is flatter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.errors import (
    ArgumentError,
    MissingValueError,
    check_choice,
    check_flag,
    check_int_range,
)
from nb201_flat.figures._common import (
    TEST_KEYS,
    FigureSkipped,
    add_caption,
    add_note,
    axes_or_new,
    axis_label,
    check_frame,
    dataset_label,
    new_figure,
    note_missing,
    note_stand_ins,
    note_unmeasured,
    present,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import a2m_bands, neighbour_distributions
from nb201_flat.table import PER_ARCH_FIX, Table, check_table, float_values

NAME = "a2m_distributions"
RADII = (1, 2, 3)
# band colours: one hue per band, consistent across panels (colour-blind-safe palette)
BAND_COLOURS = ("#0072B2", "#E69F00", "#D55E00")


def _bins(values: npt.NDArray[np.float64], width: float = 1.0) -> npt.NDArray[np.float64]:
    if not np.isfinite(values).any():  # nanmin of nothing fails deep in numpy
        raise MissingValueError("no architecture has a value: there is no distribution to draw")
    lo, hi = np.floor(np.nanmin(values)), np.ceil(np.nanmax(values))
    # values all on one whole number (one measured cell): one edge, which no histogram takes
    return np.arange(lo, max(hi, lo + width) + width, width)


def _drawable_radii(dist: pd.DataFrame) -> list[int]:
    """The radii ``dist`` can be drawn at: those it has rows at, and those its attrs say were
    computed without a row (an empty band has none at any). A radius outside them would draw
    the grey background alone, as if no band had neighbours there; attrs["radii"] alone is not
    enough, as it survives row filters (dist[dist.radius == 1] still lists every radius)."""
    held = {int(r) for r in dist["radius"].unique()}
    asked = dist.attrs.get("radii", [])
    return sorted(held | {int(r) for r in dist.attrs.get("empty_radii", []) if r in asked})


def _band_range(attrs: Mapping[Any, Any], name: object) -> tuple[float, float] | None:
    """Band ``name``'s (lo, hi) from a distributions frame's attrs: under its own key (which
    may be no text, e.g. 1) or its text, else None."""
    bands = attrs.get("bands", {})
    return bands.get(name, bands.get(str(name)))  # type: ignore[no-any-return]


def _has_value(whole: npt.NDArray[np.float64], lo: float, hi: float) -> bool:
    """Whether a value of ``whole`` lies in the band ``[lo, hi]`` (one that none lies in is
    empty: undefined at every radius, not for want of neighbours)."""
    return bool(((whole >= lo) & (whole <= hi)).any())


def _undefined_text(
    ax: Axes, lines: list[tuple[str, str]], *, fontsize: float = 6.5, line: float = 0.075
) -> None:
    """Write "undefined here:" and each (text, colour) of ``lines`` under it at the top of ``ax``,
    above the data: the axis is raised so no bar reaches them (a band without rows draws
    nothing, so only text marks it)."""
    if not lines:
        return
    lines = [("undefined here:", "0.3"), *lines]
    bottom, top = ax.get_ylim()
    # the data keep the lower part of the axes; each line takes ``line`` of its height
    ax.set_ylim(bottom, bottom + (top - bottom) / (1.0 - 0.03 - line * len(lines)))
    for k, (text, colour) in enumerate(lines):
        ax.text(
            0.02,
            0.98 - line * k,
            text,
            transform=ax.transAxes,
            ha="left",
            va="top",
            fontsize=fontsize,
            color=colour,
        )


def plot_neighbour_distributions(
    dist: pd.DataFrame,
    whole: npt.ArrayLike,
    radius: int,
    ax: Axes | None = None,
    *,
    bins: npt.ArrayLike | None = None,
    legend: bool = True,
    kind: str = "hist",
) -> Axes:
    """Densities of neighbour values per band at one radius over the whole-space density.

    Parameters
    ----------
    dist
        Output of :func:`~nb201_flat.landscape.neighbour_distributions` (``band``, ``radius``,
        ``value`` columns, ``weight`` when weighted; ``attrs["bands"]`` for the legend).
    whole
        The metric over every architecture (NaN ignored): the grey background.
    radius
        Which radius of ``dist`` to draw.
    bins
        Histogram bin edges (default: 1-point bins over the whole-space range).
    legend
        Draw the legend, outside the axes on their right (inside it covered the densities).
    kind
        ``"hist"`` (step densities over ``bins``) or ``"kde"`` (seaborn kernel density
        estimates, cut at the data range, so bands with few neighbours read smoothly).

    A band ``dist`` was computed without rows at ``radius`` (``attrs["empty_bands"]``) draws
    nothing: text at the top of the axes names it undefined and says why.
    """
    # a bad option is the caller's error, not a figure the table cannot serve
    check_choice("kind", kind, ("hist", "kde"))
    legend = check_flag("legend", legend)
    check_frame(dist, "dist", "neighbour_distributions(space, values, bands)")
    from_fn = "; pass the frame neighbour_distributions(space, values, bands) returns"
    missing = [c for c in ("band", "radius", "value") if c not in dist.columns]
    if missing:  # a bare KeyError
        raise ArgumentError(f"dist lacks column(s) {', '.join(missing)}{from_fn}")
    if not isinstance(dist["band"].dtype, pd.CategoricalDtype):  # .cat's bare AttributeError
        raise ArgumentError(f"dist's band column is no categorical column{from_fn}")
    unknown = [str(b) for b in dist["band"].cat.categories if _band_range(dist.attrs, b) is None]
    if unknown:  # the legend read "band A: nan–nan %" (attrs are lost in a file's round trip)
        raise ArgumentError(f"dist's attrs give no range for band(s) {', '.join(unknown)}{from_fn}")
    asked = _drawable_radii(dist)
    radius = check_int_range("radius", radius, 1, fix=f"dist holds radii {asked}")
    if radius not in asked:
        if radius in dist.attrs.get("radii", ()):
            why = (
                "though it was computed there with some: rows were filtered out"
                if "empty_radii" in dist.attrs
                else "though its attrs list that radius: they survive row filters"
            )
            raise ArgumentError(
                f"dist has no rows at radius {radius} {why} (it holds radii {asked}); draw "
                "from the unfiltered neighbour_distributions frame"
            )
        raise ArgumentError(
            f"dist was not computed at radius {radius} (its radii: {asked}); pass one of "
            "those, or compute it there with neighbour_distributions(..., radii=...)"
        )
    if bins is not None:
        # text refused as values are (float64 parsed '50'); then the edges' own rule
        edges = float_values(bins, "bins")
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise ArgumentError(
                f"bins must be at least two increasing bin edges, got {bins!r:.80}; "
                "e.g. np.arange(0, 101, 1.0), or leave it out for 1-point bins"
            )
    w = float_values(whole, "whole", fix=PER_ARCH_FIX)
    if w.ndim != 1 or w.size == 0:  # all NaN is _bins' MissingValueError, below
        raise ArgumentError(
            f"whole must be the metric over every architecture (one vector), got shape "
            f"{w.shape}; pass e.g. table.vector(dataset, split, epochs)"
        )
    ax = axes_or_new(ax)
    w = w[np.isfinite(w)]
    edges = _bins(w) if bins is None else edges
    # computed without a row (allow_empty=True): undefined, said so in the panel (the legend
    # is the row's, in a figure, so it cannot); a band filtered out by the caller is not drawn
    empty = {str(b) for b, r in dist.attrs.get("empty_bands", []) if r == radius}
    undefined: list[tuple[str, str]] = []
    with figure_style():
        # one filled step patch, not a rectangle per bin: the same shape, drawn at once
        whole_dens, _ = np.histogram(w, bins=edges, density=True)
        ax.stairs(whole_dens, edges, fill=True, color="0.8", label="all architectures")
        sub = dist[dist["radius"] == radius]
        for k, name in enumerate(dist["band"].cat.categories):
            in_band = sub["band"] == name
            vals = sub.loc[in_band, "value"].to_numpy(dtype=np.float64)
            lo, hi = _band_range(dist.attrs, name) or (np.nan, np.nan)
            colour = BAND_COLOURS[k % len(BAND_COLOURS)]
            if not vals.size:
                if str(name) in empty:
                    if _has_value(w, lo, hi):  # the legend gives its range, true at every radius
                        ax.plot([], [], color=colour, lw=1.2, label=_band_label(name, lo, hi))
                        why = "no measured neighbour"  # at this radius: the panel's
                    else:
                        ax.plot(
                            [],
                            [],
                            color=colour,
                            lw=1.2,
                            ls=":",
                            label=f"band {name} (empty): undefined",
                        )
                        why = "no value in it"
                    undefined.append((f"band {name}: {why}", colour))
                continue
            # the weighted form (one row per distinct neighbour) gives the same densities
            wts = sub.loc[in_band, "weight"].to_numpy() if "weight" in sub else None
            dens, _ = np.histogram(vals, bins=edges, density=True, weights=wts)
            # the band itself, faintly: where its own members lie
            ax.axvspan(lo, hi, color=colour, alpha=0.12, lw=0)
            label = _band_label(name, lo, hi)
            if kind == "kde" and np.ptp(vals) > 0:
                import seaborn as sns  # lazily: only this option draws with it

                sns.kdeplot(x=vals, weights=wts, ax=ax, color=colour, lw=1.2, cut=0, label=label)
                continue
            ax.stairs(dens, edges, color=colour, lw=1.2, label=label)
        ax.set_ylabel("density (1/point)")
        _undefined_text(ax, undefined)
        if legend:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax


def _band_label(name: object, lo: float, hi: float) -> str:
    """A band's legend entry: its name and accuracy range."""
    return f"band {name}: {lo:g}–{hi:g} %"


def _note_undefined(
    fig: Figure, dataset: str, dist: pd.DataFrame, whole: npt.NDArray[np.float64]
) -> None:
    """Record each band ``dist`` has no rows for, per dataset: the panels say it, the notes
    say it to the command line."""
    radii: dict[object, list[int]] = {}
    for name, r in dist.attrs.get("empty_bands", []):
        radii.setdefault(name, []).append(int(r))
    for name, rs in radii.items():
        lo, hi = _band_range(dist.attrs, name) or (np.nan, np.nan)
        if not _has_value(whole, lo, hi):
            why = "no value lies in it, so its densities are undefined at every distance"
        else:
            at = f"distance{'s' * (len(rs) > 1)} {', '.join(map(str, rs))}"
            why = f"no measured neighbour at {at}, so its density is undefined there"
        add_note(fig, f"{dataset_label(dataset)}, band {name} ({lo:g}–{hi:g} %): {why}")


def make_a2m_distributions(
    table: Table, *, radii: tuple[int, ...] | None = None, kind: str = "hist"
) -> Figure:
    """A²M's neighbour distributions per band, radius and dataset (datasets the table has).

    ``radii`` defaults to A²M's :data:`RADII`; in a space whose cells have fewer edges the
    figure is skipped (:class:`FigureSkipped`), while radii passed that do not fit are an
    error. ``kind="kde"`` draws the bands as seaborn kernel densities instead of step histograms.
    """
    check_choice("kind", kind, ("hist", "kde"))
    check_table(table)  # a bare AttributeError ('int' has no 'space')
    if radii is None:
        if max(RADII) > table.space.n_edges:  # the default was not asked for: not an error
            raise FigureSkipped(
                NAME,
                [f"cells of at least {max(RADII)} edges"],
                f"A²M's radii {', '.join(map(str, RADII))}; this space's cells have "
                f"{table.space.n_edges}; in Python, make_a2m_distributions(table, "
                f"radii={tuple(r for r in RADII if r <= table.space.n_edges)}) draws the radii "
                "that fit",
            )
        radii = RADII
    given: object = radii  # typed as a tuple; a notebook may pass one int all the same
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise ArgumentError(
            f"radii must be a sequence of Hamming radii, got {radii!r}; e.g. (1, 2, 3)"
        )
    # whole numbers as ints: a radius 2.0 would be titled "distance 2.0"
    radii = tuple(check_int_range("radii", r, 1, table.space.n_edges) for r in radii)
    if not radii:
        raise ArgumentError("radii is empty; pass at least one Hamming radius, e.g. (1, 2, 3)")
    keys = present(table, TEST_KEYS)
    if not keys:
        raise FigureSkipped(
            NAME, list(TEST_KEYS.values()), "A²M's bands are defined for these", any_of=True
        )
    # each row's legend sits right of its last panel: the panels keep their width
    fig, axes = new_figure(
        len(keys), len(radii), figsize=(2.4 * len(radii) + 2.0, 2.2 * len(keys) + 0.6)
    )
    connected = table.space.connected
    unmeasured = 0
    for row, (ds, key) in enumerate(keys.items()):
        values = np.asarray(table.vector_for(key), dtype=np.float64)
        unmeasured += note_unmeasured(
            fig, key, values, "the bands, the neighbours' densities and the grey background"
        )
        edges = _bins(values[np.isfinite(values)])  # first: it names a table with no value
        if np.isnan(values[connected]).all():  # the axis starts there: a NaN limit, deep in mpl
            raise MissingValueError(
                f"no connected architecture has a value for {key}: A²M's bands and the x axis "
                "are read from connected cells; pass a table that measures some"
            )
        # a band no value of this table lies in is drawn as undefined, not an error
        dist = neighbour_distributions(
            table.space, values, a2m_bands(ds), radii, weighted=True, allow_empty=True
        )
        note_stand_ins(fig, table, key, "the neighbour distributions")
        _note_undefined(fig, ds, dist, values[np.isfinite(values)])
        # disconnected cells sit at chance level far to the left: start the axis at the 1st
        # percentile of connected cells so the bands' differences are visible (the caption
        # says so; the densities still count every value)
        left = float(np.nanpercentile(values[connected], 1))
        right = float(edges[-1])
        for col, r in enumerate(radii):
            ax = axes[row, col]
            plot_neighbour_distributions(
                dist, values, r, ax, bins=edges, legend=col == len(radii) - 1, kind=kind
            )
            with figure_style():
                ax.set_xlim(left, right)
                if row == 0:
                    ax.set_title(f"neighbours at distance {r}", fontsize=9)
                ax.set_xlabel(axis_label(key))
                ax.set_ylabel(f"{dataset_label(ds)}\ndensity (1/point)")
    with figure_style():
        add_caption(
            fig,
            table,
            f"Grey: {'the measured' if unmeasured else 'all'} architectures. Shaded: the "
            f"bands. Lines: test accuracy of every {'measured ' if unmeasured else ''}neighbour "
            "at exactly the given Hamming distance of the architectures in A²M's bands A, B, "
            "C. x axes start at the 1st percentile of connected cells; disconnected cells "
            "(chance accuracy) lie further left.",
            y=-0.005,
        )
    note_missing(fig, TEST_KEYS, keys)
    return fig
