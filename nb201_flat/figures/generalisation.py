"""Do flat architectures generalise better? Sharpness against two generalisation measures.

Sharpness of an architecture (what a search could compute) is its validation accuracy minus
the mean validation accuracy of its radius-1 neighbours. Against it, over the good
architectures (the top ``top`` share of connected cells by validation accuracy, where the
choice between flat and sharp matters):

(a) the generalisation gap: validation minus test accuracy of the same trained networks
    (``x-valid`` and ``x-test`` are the two halves of the original test set of CIFAR-100 and
    ImageNet16-120, so the gap is what selecting on one half costs on the other);
(b) cross-dataset transfer: the architecture's percentile rank on another dataset's test
    accuracy minus its percentile rank on the source's validation accuracy (CIFAR-10
    ``cifar10-valid`` ``x-valid``), in percentile points: negative means it ranks lower on
    the target than its source rank suggests.

Both panels show the mean in ten equal-count bins of sharpness with a 95 % Student-t
confidence band, and Spearman's rho over all points in the legend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nb201_flat.errors import ArgumentError, MissingValueError, check_choice, check_float_range
from nb201_flat.figures._common import (
    TEST_KEYS,
    VALID_KEYS,
    FigureSkipped,
    add_caption,
    add_note,
    axes_or_new,
    binned_means,
    dataset_label,
    new_figure,
    signed,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import flatness
from nb201_flat.table import MetricKey, Table

NAME = "flat_vs_sharp"
LegendLoc = Literal["best", "upper left", "upper right", "lower left", "lower right"]
GAP_DATASETS = ("cifar100", "ImageNet16-120")
TRANSFER_SOURCE = "cifar10"
TRANSFER_TARGETS = ("cifar100", "ImageNet16-120")


@dataclass(frozen=True, slots=True)
class Series:
    """One curve: ``x`` (sharpness) and ``y`` per architecture, and its legend label."""

    label: str
    frame: pd.DataFrame


def _percentile(v: np.ndarray) -> np.ndarray:
    from scipy import stats

    return np.asarray(100.0 * (stats.rankdata(v) - 0.5) / len(v), dtype=np.float64)


def _check_top(top: float) -> float:
    return check_float_range(
        "top", top, 0.0, 1.0, lo_open=True, fix="e.g. top=0.2 for the best 20 %"
    )


def _top_connected(table: Table, valid: np.ndarray, top: float) -> np.ndarray:
    ok = table.space.connected & np.isfinite(valid)
    if not ok.any():  # np.quantile of nothing fails deep in numpy
        raise MissingValueError(
            "no connected architecture has a validation value; choose a table that measures some"
        )
    cut = np.quantile(valid[ok], 1.0 - top)
    return np.nonzero(ok & (valid >= cut))[0]


def gap_data(table: Table, dataset: str, *, top: float = 0.2, radius: int = 1) -> pd.DataFrame:
    """Per good architecture: ``index, sharpness, valid, test, gap`` (accuracy points).

    ``valid``/``test`` are the dataset's 200-epoch validation and test accuracy; sharpness
    is measured on ``valid``.
    """
    # cifar10 has no validation split of its own: its gap would compare other networks
    check_choice("dataset", dataset, GAP_DATASETS)
    top = _check_top(top)
    vkey, tkey = VALID_KEYS[dataset], TEST_KEYS[dataset]
    valid = np.asarray(table.vector_for(vkey), dtype=np.float64)
    test = np.asarray(table.vector_for(tkey), dtype=np.float64)
    sharp = flatness(table.space, valid, radius, columns=["sharpness"])["sharpness"].to_numpy(
        dtype=np.float64
    )
    idx = _top_connected(table, valid, top)
    return pd.DataFrame(
        {
            "index": idx,
            "sharpness": sharp[idx],
            "valid": valid[idx],
            "test": test[idx],
            "gap": valid[idx] - test[idx],
        }
    )


def transfer_data(table: Table, target: str, *, top: float = 0.2, radius: int = 1) -> pd.DataFrame:
    """Per good CIFAR-10 architecture: ``index, sharpness, source_pct, target_pct, transfer``.

    Percentiles are over all connected architectures; ``transfer = target_pct - source_pct``.
    """
    check_choice("target", target, TRANSFER_TARGETS)
    top = _check_top(top)
    skey, tkey = VALID_KEYS[TRANSFER_SOURCE], TEST_KEYS[target]
    source = np.asarray(table.vector_for(skey), dtype=np.float64)
    dest = np.asarray(table.vector_for(tkey), dtype=np.float64)
    sharp = flatness(table.space, source, radius, columns=["sharpness"])["sharpness"].to_numpy(
        dtype=np.float64
    )
    conn = np.nonzero(table.space.connected & np.isfinite(source) & np.isfinite(dest))[0]
    spct = np.full(table.space.size, np.nan)
    tpct = np.full(table.space.size, np.nan)
    spct[conn] = _percentile(source[conn])
    tpct[conn] = _percentile(dest[conn])
    idx = _top_connected(table, source, top)
    return pd.DataFrame(
        {
            "index": idx,
            "sharpness": sharp[idx],
            "source_pct": spct[idx],
            "target_pct": tpct[idx],
            "transfer": tpct[idx] - spct[idx],
        }
    )


def plot_binned(
    series: list[Series],
    ax: Axes | None = None,
    *,
    x: str = "sharpness",
    y: str = "gap",
    bins: int = 10,
    confidence: float = 0.95,
    legend_loc: LegendLoc = "best",
) -> Axes:
    """Binned means of ``y`` against ``x`` with a confidence band, one curve per series.

    Each legend entry gives the series label, its number of architectures with both ``x`` and
    ``y`` measured (the points drawn) and Spearman's rho between ``x`` and ``y`` over every
    such point (not over the bins).
    """
    from scipy import stats

    given: object = series  # typed as a list; a notebook may pass one Series all the same
    if isinstance(given, Series):
        raise ArgumentError("series must be a list of Series; pass [series] for one")
    for s in series:
        missing = [c for c in (x, y) if c not in s.frame.columns]
        if missing:
            raise ArgumentError(
                f"series {s.label!r} has no column {', '.join(map(repr, missing))}; its "
                f"columns are {', '.join(map(str, s.frame.columns))}: pass x= and y= among them"
            )
    ax = axes_or_new(ax)
    with figure_style():
        for s in series:
            b = binned_means(s.frame[x], s.frame[y], bins=bins, confidence=confidence)
            both = np.isfinite(s.frame[x].to_numpy(np.float64)) & np.isfinite(
                s.frame[y].to_numpy(np.float64)
            )
            # under 3 pairs scipy raises; the legend says "undefined"
            rho = (
                stats.spearmanr(s.frame[x], s.frame[y], nan_policy="omit")[0]
                if both.sum() >= 3
                else np.nan
            )
            (line,) = ax.plot(
                b["x"],
                b["mean"],
                marker="o",
                ms=3,
                label=f"{s.label} (n={int(both.sum())}, ρ = {signed(rho)})",
            )
            ax.fill_between(
                b["x"].to_numpy(dtype=np.float64),
                b["lo"].to_numpy(dtype=np.float64),
                b["hi"].to_numpy(dtype=np.float64),
                color=line.get_color(),
                alpha=0.2,
                lw=0,
            )
        ax.axhline(0.0, color="0.4", lw=0.7, ls=":")
        ax.legend(loc=legend_loc)
    return ax


def make_flat_vs_sharp(table: Table, *, top: float = 0.2, radius: int = 1) -> Figure:
    """Sharpness against the validation-test gap (a) and cross-dataset transfer (b).

    Draws the series the table supports; skips (:class:`FigureSkipped`) when it supports none.
    """
    top = _check_top(top)
    gaps = [ds for ds in GAP_DATASETS if VALID_KEYS[ds] in table and TEST_KEYS[ds] in table]
    source_ok = VALID_KEYS[TRANSFER_SOURCE] in table
    targets = [ds for ds in TRANSFER_TARGETS if source_ok and TEST_KEYS[ds] in table]
    if not gaps and not targets:
        needs: list[MetricKey] = []
        for ds in GAP_DATASETS:
            needs += [VALID_KEYS[ds], TEST_KEYS[ds]]
        raise FigureSkipped(
            NAME,
            [k for k in needs if k not in table][:2]
            + ([VALID_KEYS[TRANSFER_SOURCE]] if not source_ok else []),
            "a validation split beside the test split, and a second dataset",
        )
    panels = [p for p, ok in (("gap", gaps), ("transfer", targets)) if ok]
    fig, axes = new_figure(1, len(panels), figsize=(3.8 * len(panels) + 0.4, 3.4), sharex=False)
    share = f"top {top:.0%} of connected cells by validation accuracy"
    for k, (ax, panel) in enumerate(zip(axes[0], panels, strict=True)):
        letter = "ab"[k]
        if panel == "gap":
            series = [
                Series(dataset_label(ds), gap_data(table, ds, top=top, radius=radius))
                for ds in gaps
            ]
            plot_binned(series, ax, y="gap", legend_loc="upper left")
            with figure_style():
                ax.set_ylabel("validation − test accuracy (points)")
                ax.set_title(f"({letter}) generalisation gap, same networks", fontsize=9)
        else:
            series = [
                Series(
                    f"to {dataset_label(ds)}",
                    transfer_data(table, ds, top=top, radius=radius),
                )
                for ds in targets
            ]
            plot_binned(series, ax, y="transfer", legend_loc="lower left")
            with figure_style():
                ax.set_ylabel("target − source rank (percentile points)")
                ax.set_title(f"({letter}) transfer from CIFAR-10", fontsize=9)
        with figure_style():
            source = "" if panel == "gap" else "CIFAR-10 "
            ax.set_xlabel(f"{source}sharpness on validation accuracy (points)")
    with figure_style():
        add_caption(
            fig,
            table,
            # validated by flatness above: a whole float 2.0 is captioned 2
            f"Architectures: {share}. Sharpness: validation accuracy − mean of the radius-{int(radius)} "
            "neighbours'. Lines: mean in 10 equal-count bins of sharpness; bands: 95 % t "
            "confidence interval of the mean; ρ: Spearman over all points.",
        )
    missing = [str(VALID_KEYS[ds]) for ds in GAP_DATASETS if ds not in gaps]
    if missing:
        add_note(fig, f"gap panel without {', '.join(missing)} (not in the table)")
    if len(panels) == 1:
        add_note(fig, f"only the {panels[0]} panel: the table lacks the other's keys")
    return fig
