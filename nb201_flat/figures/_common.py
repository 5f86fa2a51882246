"""Shared pieces of the figure modules: metric keys, skipping, notes, axes, binned statistics."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from nb201_flat.conventions import DATASET_LABELS as DATASET_LABELS
from nb201_flat.conventions import (
    REPORT_DATASETS,
    default_metric,
    is_percent_accuracy,
    report_key,
    search_key,
)
from nb201_flat.errors import (
    ArgumentError,
    UnknownKeyError,
    check_confidence,
    check_float_range,
    check_int_range,
    shown,
)
from nb201_flat.errors import FigureSkipped as FigureSkipped
from nb201_flat.figures.style import figure_style
from nb201_flat.importers.analognas import holds_analognas_numbers
from nb201_flat.table import MetricKey, Table, check_table, float_values
from nb201_flat.types import FloatArray as FloatArray

# The 200-epoch test accuracy each paper reports per dataset, and what a search may see for the
# same dataset (see nb201_flat.conventions: cifar10 has no validation split).
TEST_KEYS: dict[str, MetricKey] = {ds: report_key(ds) for ds in REPORT_DATASETS}
VALID_KEYS: dict[str, MetricKey] = {ds: search_key(ds) for ds in REPORT_DATASETS}

SPLIT_LABELS: dict[str, str] = {
    "ori-test": "test",
    "x-test": "test",
    "x-valid": "validation",
    "train": "train",
}


# metric -> (words, unit) for axis labels
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "time_s": ("training time", " (s)"),
    "params_mb": ("parameters", " (M)"),
}


def check_frame(frame: object, name: str, made_by: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame, else :class:`ArgumentError` naming what makes one (an
    array or a dict reached ``.columns`` as a bare AttributeError)."""
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(
            f"{name} must be a DataFrame, got {type(frame).__name__}; pass {made_by}"
        )
    return frame


def check_cmap(cmap: object, name: str = "cmap") -> str:
    """``cmap`` if it is a matplotlib ``Colormap`` or names one, else :class:`ArgumentError`
    (matplotlib's own KeyError or ValueError came from deep in a draw)."""
    import matplotlib as mpl
    from matplotlib.colors import Colormap

    if isinstance(cmap, Colormap):  # a colour map of the caller's own
        return cmap  # type: ignore[return-value]
    if not isinstance(cmap, str) or cmap not in mpl.colormaps:
        raise ArgumentError(
            f"{name} must name a matplotlib colour map, got {shown(cmap)}; e.g. 'viridis' "
            "(the names: list(matplotlib.colormaps))"
        )
    return cmap


def check_colour(colour: object, name: str) -> Any:
    """``colour`` if matplotlib reads it as a colour, else :class:`ArgumentError`."""
    from matplotlib.colors import is_color_like

    if isinstance(colour, bool) or not is_color_like(colour):
        raise ArgumentError(
            f"{name} must be a matplotlib colour, got {shown(colour)}; e.g. '#0072B2', 'C0' or "
            "'0.6' (a grey)"
        )
    return colour


def check_limits(vmin: object, vmax: object) -> tuple[float | None, float | None]:
    """A colour scale's ends: finite numbers or None, ``vmin`` not above ``vmax`` (equal ends:
    one colour)."""
    lo = None if vmin is None else check_float_range("vmin", vmin)
    hi = None if vmax is None else check_float_range("vmax", vmax)
    if lo is not None and hi is not None and lo > hi:
        raise ArgumentError(
            f"vmin must not lie above vmax, got vmin={lo:g} and vmax={hi:g}; swap them, or "
            "leave one out to take it from the values"
        )
    return lo, hi


def signed(x: float, digits: int = 2) -> str:
    """``+0.30`` / ``−0.62`` with a typographic minus; ``undefined`` for NaN (a correlation
    over constant values), never ``+nan`` in a legend.

    >>> signed(-0.617)
    '−0.62'
    >>> signed(float("nan"))
    'undefined'
    """
    if np.isnan(x):
        return "undefined"
    return f"{x:+.{digits}f}".replace("-", "−")


def dataset_label(dataset: str) -> str:
    """Display name of an NB201 dataset (``cifar100`` -> ``CIFAR-100``)."""
    return DATASET_LABELS.get(dataset, dataset)


def axis_label(key: MetricKey) -> str:
    """Axis label with units, e.g. ``CIFAR-100 test accuracy (%)``: (%) for every accuracy in
    percent (:func:`~nb201_flat.conventions.is_percent_accuracy`, after drift too).

    >>> axis_label(MetricKey("cifar10-valid", "x-valid", 12))
    'CIFAR-10 validation accuracy, 12 epochs (%)'
    >>> axis_label(MetricKey("cifar10", "ori-test", 200, "drift_1h"))
    'CIFAR-10 test drift 1h (%)'
    """
    # a model-level metric (time, size) belongs to no evaluation split
    split = "" if key.metric in METRIC_LABELS else SPLIT_LABELS.get(key.split, key.split)
    metric, unit = METRIC_LABELS.get(key.metric, (key.metric.replace("_", " "), ""))
    if is_percent_accuracy(key.metric):
        unit = " (%)"
    epochs = "" if key.epochs == 200 else f", {key.epochs} epochs"
    words = " ".join(w for w in (dataset_label(key.dataset), split, metric) if w)
    return f"{words}{epochs}{unit}"


def missing_keys(table: Table, keys: Iterable[MetricKey]) -> list[MetricKey]:
    """The keys of ``keys`` that ``table`` does not hold, in order."""
    check_table(table)  # a maker called directly: `key in 3` was a bare TypeError
    return [k for k in keys if k not in table]


def require(table: Table, figure: str, keys: Iterable[MetricKey], why: str = "") -> None:
    """Raise :class:`FigureSkipped` naming every key of ``keys`` the table lacks."""
    lacking = missing_keys(table, keys)
    if lacking:
        raise FigureSkipped(figure, lacking, why)


def present(table: Table, keys: Mapping[str, MetricKey]) -> dict[str, MetricKey]:
    """The entries of ``keys`` whose key the table holds (order kept)."""
    check_table(table)  # as missing_keys
    return {name: k for name, k in keys.items() if k in table}


def primary_key(table: Table, figure: str) -> MetricKey:
    """The metric single-panel figures default to: the table's default metric
    (:func:`nb201_flat.conventions.default_metric`)."""
    try:
        return default_metric(table)
    except UnknownKeyError:
        raise FigureSkipped(
            figure, ["an 'accuracy' metric"], f"table {table.source!r} has none"
        ) from None


# -- notes attached to a figure (partial renderings, protocol caveats) -----------------------
_NOTES: weakref.WeakKeyDictionary[Figure, list[str]] = weakref.WeakKeyDictionary()


def add_note(fig: Figure, text: str) -> None:
    """Attach a note to ``fig`` (the CLI prints and records it; nothing is drawn)."""
    _NOTES.setdefault(fig, []).append(text)


def figure_notes(fig: Figure) -> list[str]:
    """Notes attached by the maker (e.g. which datasets were left out, and why)."""
    return list(_NOTES.get(fig, []))


def note_missing(fig: Figure, wanted: Mapping[str, MetricKey], got: Mapping[str, Any]) -> None:
    """Record the datasets of ``wanted`` that were left out of ``fig``."""
    left = [str(k) for name, k in wanted.items() if name not in got]
    if left:
        drawn = ", ".join(dataset_label(d) for d in got)
        add_note(fig, f"drawn for {drawn} only; the table lacks {', '.join(left)}")


def note_stand_ins(fig: Figure, table: Table, key: MetricKey, what: str) -> None:
    """Record how many of ``key``'s values are a retraining table's stand-ins, which ``what``
    (the measure drawn) counts as measurements; nothing for a table without them."""
    from nb201_flat.landscape.neighbourhood import StandIns

    found = StandIns.report(table, key.dataset, key.epochs, what)
    if found is not None:
        add_note(fig, f"{dataset_label(key.dataset)}: {found['note']}")


def note_unmeasured(
    fig: Figure,
    key: MetricKey,
    values: npt.ArrayLike,
    what: str,
    *,
    seed: int | tuple[int, ...] | None = None,
    among: str = "cells",
) -> int:
    """Record how many of ``values`` (``key``'s, of the stored ``seed`` or the mean of the
    ``seed`` tuple where given, over ``among``) are unmeasured (NaN), which ``what`` leaves
    out; nothing where every one is measured. Returns the count.

    A partly measured table was drawn without a word while a caption spoke of "all
    architectures" (the counts under the violins summed to 14,832 of 15,625).
    """
    v = np.asarray(values, dtype=np.float64)
    n = int(np.isnan(v).sum())
    if n:
        seeds = (seed,) if isinstance(seed, int) else seed or ()
        at = f" at seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}" if seeds else ""
        add_note(
            fig,
            f"{dataset_label(key.dataset)}: {n:,} of the {v.size:,} {among} have no value for "
            f"{key}{at}, left out of {what}",
        )
    return n


# -- captions --------------------------------------------------------------------------------
def add_caption(fig: Figure, table: Table, text: str, *, y: float = -0.01) -> None:
    """Draw the caption under ``fig``: the benchmark it was drawn on, then ``text``.

    Call it inside :func:`~nb201_flat.figures.style.figure_style` so the caption's font matches
    the figure's.
    """
    caption = fig.text(0.5, y, "", ha="center", va="top", fontsize=6.5)
    caption.set_text(
        wrap_text(benchmark_caption(table) + text, caption.get_fontproperties(), fig.get_figwidth())
    )


def wrap_text(text: str, prop: FontProperties, width_in: float) -> str:
    """``text`` broken into lines no wider than ``width_in`` inches in font ``prop``.

    What ``wrap=True`` gives a centred figure text (greedy, whole words, a word wider than the
    line on a line of its own), measured once here instead of at every draw of every saved
    format (matplotlib measures each longer prefix again on each draw).

    >>> from matplotlib.font_manager import FontProperties
    >>> wrap_text("one two three four", FontProperties(size=10), 0.8).splitlines()
    ['one two', 'three four']
    """
    from matplotlib.textpath import text_to_path

    def width(line: str) -> float:  # in points
        w, _, _ = text_to_path.get_text_width_height_descent(line, prop, ismath=False)
        return float(w)

    # A line's width is the sum of its words' and spaces' within ~1e-14 pt in DejaVu Sans
    # (the family the style sheet names, whatever the user's rcParams say), which kerns
    # nothing across a space: each word is measured once, and a whole line only when that sum
    # lies within ``margin`` of the limit (2 pt and more: room for a font that does kern across
    # a space), so the breaks are those of measuring every trial line, which took ~1 s a
    # figure set
    words = {w: width(w) for w in set(text.replace("\n", " ").split(" "))}
    space = width("a a") - 2 * width("a")
    limit = width_in * 72.0
    margin = 2.0 + 0.01 * limit
    lines = []
    for paragraph in text.split("\n"):
        line, line_w = "", 0.0
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            trial_w = line_w + space + words[word] if line else words[word]
            if abs(trial_w - limit) <= margin:
                trial_w = width(trial)
            if line and trial_w > limit:
                lines.append(line)
                line, line_w = word, words[word]
            else:
                line, line_w = trial, trial_w
        lines.append(line)
    return "\n".join(lines)


def benchmark_caption(table: Table) -> str:
    """The caption's first sentence: which benchmark the figure was drawn on (its source).

    The embedded default is AnalogNAS-Bench, whose numbers are not NAS-Bench-201's; a reader of
    the figure alone must be able to tell. Told by the importer's label or AnalogNAS-Bench's
    own metrics (:func:`~nb201_flat.importers.analognas.holds_analognas_numbers`), not by a
    file's name.

    Examples
    --------
    >>> from nb201_flat.importers.analognas import PUBLISHED_SOURCE
    >>> from nb201_flat.space import NB201
    >>> benchmark_caption(Table(NB201, {}, source=PUBLISHED_SOURCE))
    'Benchmark: AnalogNAS-Bench (analog-nasbench 0.1.3, CIFAR-10), not NAS-Bench-201. '
    >>> benchmark_caption(Table(NB201, {}, source="tidy file nb201_vs_analognas.csv.gz"))
    'Benchmark: tidy file nb201_vs_analognas.csv.gz. '
    """
    keys = table.keys()
    if holds_analognas_numbers(table.source, (k.metric for k in keys)):
        return f"Benchmark: {table.source}, not NAS-Bench-201. "
    return f"Benchmark: {table.source}. "


def connected_range(table: Table, values: npt.ArrayLike) -> tuple[float, float]:
    """Min and max of ``values`` over the connected cells (disconnected ones compute nothing
    and sit at chance level); all finite values when no connected cell is measured."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    pick = ok & table.space.connected
    if not pick.any():
        pick = ok
    return float(v[pick].min()), float(v[pick].max())


# -- figures and axes --------------------------------------------------------------------------
def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize: tuple[float, float] | None = None,
    **subplot_kw: Any,
) -> tuple[Figure, npt.NDArray[Any]]:
    """A figure in the package style (constrained layout) and its axes as a 2-D array.

    Built without pyplot, so nothing is registered globally and nothing is shown.
    """
    with figure_style():
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, np.asarray(axes)


def axes_or_new(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """``ax``, or the single axes of a new styled figure; :class:`ArgumentError` for anything
    else (a figure, an array of axes: it would fail deep inside matplotlib)."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ArgumentError(
                f"ax must be one matplotlib Axes, got {type(ax).__name__}; pass e.g. "
                "fig.subplots() or axes[0, 0], or leave it out for a new figure"
            )
        return ax
    _, axes = new_figure(figsize=figsize)
    out: Axes = axes[0, 0]
    return out


# -- statistics ------------------------------------------------------------------------------
def mean_ci(values: npt.ArrayLike, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and Student-t confidence interval of the mean: ``(mean, lo, hi, n)``.

    >>> m, lo, hi, n = mean_ci([1.0, 2.0, 3.0])
    >>> m, n, round(hi - m, 4)
    (2.0, 3, 2.4841)
    """
    # the t quantile scipy.stats.t.ppf computes (its _ppf is stdtrit), without importing
    # scipy.stats (a second or more) for it
    from scipy import special

    check_confidence(confidence)
    v = float_values(values, "values")  # masked entries NaN; text refused, not parsed
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(v.mean())
    if n < 2:
        return m, float("nan"), float("nan"), n
    half = float(special.stdtrit(n - 1, 0.5 + confidence / 2) * v.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def binned_means(
    x: npt.ArrayLike, y: npt.ArrayLike, *, bins: int = 10, confidence: float = 0.95
) -> pd.DataFrame:
    """Mean of ``y`` in equal-count bins of ``x``, with a t confidence interval per bin.

    Returns
    -------
    pandas.DataFrame
        Columns ``x`` (mean of x in the bin), ``x_lo``, ``x_hi`` (bin edges), ``mean``,
        ``lo``, ``hi`` (CI of the mean of y), ``n``.

    Examples
    --------
    >>> df = binned_means(np.arange(100.0), np.arange(100.0) * 2, bins=4)
    >>> df["mean"].tolist(), df["n"].tolist()
    ([24.0, 74.0, 124.0, 174.0], [25, 25, 25, 25])
    """
    bins = check_int_range("bins", bins, 1, fix="e.g. bins=10")
    check_confidence(confidence)
    xv, yv = float_values(x, "x"), float_values(y, "y")  # masked entries NaN: dropped
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    cols = ["x", "x_lo", "x_hi", "mean", "lo", "hi", "n"]
    if xv.size == 0:
        return pd.DataFrame(columns=cols)
    # equal-count bins by rank: ties of x never leave a bin empty
    order = np.argsort(xv, kind="stable")
    rows = []
    for part in np.array_split(order, min(bins, xv.size)):
        m, lo, hi, n = mean_ci(yv[part], confidence)
        rows.append((xv[part].mean(), xv[part].min(), xv[part].max(), m, lo, hi, n))
    return pd.DataFrame(rows, columns=cols)


def panel_letter(ax: Axes, letter: str) -> None:
    """Bold panel letter in the top-left corner, outside the data area."""
    ax.text(
        -0.02,
        1.02,
        letter,
        transform=ax.transAxes,
        fontweight="bold",
        fontsize=10,
        ha="right",
        va="bottom",
    )
