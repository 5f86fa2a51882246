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

Sharpness (and the choice of good cells) and the measure against it are read from disjoint
training seeds: sharpness from the first seed stored, the gap or the source rank from the mean
of the other seeds. Read from the same networks' validation accuracy, both would contain its
evaluation noise (a lucky draw raises the cell above its neighbours and above its test
accuracy at once), and that alone correlates them (figures/README.md gives the sizes on NB201).
A table with fewer than two seeds is therefore refused, not drawn with the bias.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from nb201_flat.errors import (
    ArgumentError,
    MissingValueError,
    Param,
    check_choice,
    check_confidence,
    check_float_range,
    check_int_range,
    real_number,
    shown,
    whole_number,
)
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
    note_unmeasured,
    signed,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape import StandIns, flatness
from nb201_flat.landscape._common import average_ranks, spearman
from nb201_flat.table import MetricKey, Table, check_table

NAME = "flat_vs_sharp"
LegendName = Literal[
    "best", "upper right", "upper left", "lower left", "lower right", "right", "center left",
    "center right", "lower center", "upper center", "center",
]  # fmt: skip
"""matplotlib's names of an axes' legend places (``Legend.codes``, in its order)."""
LegendLoc = LegendName | int | tuple[float, float]
"""Where a legend goes, as matplotlib's ``loc``: a name (``"upper left"``), its code 0..10, or
the legend's lower-left corner as an ``(x, y)`` pair in axes coordinates."""
GAP_DATASETS = ("cifar100", "ImageNet16-120")
TRANSFER_SOURCE = "cifar10"
TRANSFER_TARGETS = ("cifar100", "ImageNet16-120")


@dataclass(frozen=True, slots=True)
class Series:
    """One curve: ``x`` (sharpness) and ``y`` per architecture, and its legend label."""

    label: str
    frame: pd.DataFrame


def _percentile(v: np.ndarray) -> np.ndarray:
    return np.asarray(100.0 * (average_ranks(v) - 0.5) / len(v), dtype=np.float64)


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


def _seed(table: Table, key: MetricKey, seed: int) -> np.ndarray:
    return np.asarray(table.vector_for(key, seed_policy=seed), dtype=np.float64)


def _mean_of_seeds(
    table: Table, keys: tuple[MetricKey, ...], seeds: tuple[int, ...]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per cell, each key's mean over the seeds of ``seeds`` that measure every key there,
    and how many those are (0: NaN means). Averaged key by key, a seed measuring one key of a
    cell only set one seed's x-valid beside two seeds' ori-test: a gap of -5 where every
    seed's gap was 0."""
    stacked = [np.array([_seed(table, k, s) for s in seeds]) for k in keys]
    both = np.logical_and.reduce([np.isfinite(v) for v in stacked])
    n = both.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # no such seed: NaN
        means = [np.where(both, v, 0.0).sum(axis=0) / n for v in stacked]
    return means, n


def _ori_key(dataset: str) -> MetricKey:
    t = TEST_KEYS[dataset]
    return MetricKey(t.dataset, "ori-test", t.epochs, t.metric)


def _gap_test_key(table: Table, dataset: str) -> MetricKey:
    """The key the gap's test side is read from per seed: the test split itself, or else
    ``ori-test`` (NB201 stores per-seed ``ori-test``, not ``x-test``)."""
    tkey = TEST_KEYS[dataset]
    return tkey if tkey in table and len(table.seeds(tkey)) >= 2 else _ori_key(dataset)


def split_seeds(table: Table, keys: list[MetricKey], what: str) -> tuple[int, tuple[int, ...]]:
    """The seed sharpness is read from, and the disjoint seeds ``what`` is read from.

    Seeds stored for every key of ``keys``; the first for sharpness, the rest for ``what``.
    Raises :class:`MissingValueError` under two: on one seed both would share its evaluation
    noise (see the module docstring).
    """
    stored = [set(table.seeds(k)) if k in table else set() for k in keys]  # absent: no seeds
    common = sorted(stored[0].intersection(*stored[1:]))
    if len(common) < 2:
        raise MissingValueError(_seeds_needed(what, keys, len(common)) + _ONE_SEED_WHY)
    return common[0], tuple(common[1:])


# why one seed is refused, said once however many series lack a second seed
_ONE_SEED_WHY = (
    ": on one seed, sharpness and the measure share its evaluation noise, which alone "
    "correlates them; choose a table with per-seed values"
)


def _seeds_needed(what: str, keys: list[MetricKey], common: int) -> str:
    return (
        f"{what} needs 2 or more seeds stored for {', '.join(map(str, keys))} (this table has "
        f"{common} in common)"
    )


def gap_seeds(table: Table, dataset: str) -> tuple[int, tuple[int, ...]]:
    """:func:`split_seeds` for :func:`gap_data`'s keys."""
    keys = [VALID_KEYS[dataset], _gap_test_key(table, dataset)]
    return split_seeds(table, keys, f"the {dataset} generalisation gap")


def transfer_seeds(table: Table) -> tuple[int, tuple[int, ...]]:
    """:func:`split_seeds` for :func:`transfer_data`'s source key."""
    return split_seeds(table, [VALID_KEYS[TRANSFER_SOURCE]], "the transfer's source rank")


def _sharpness(table: Table, key: MetricKey, values: np.ndarray, radius: int) -> np.ndarray:
    """Each cell's sharpness on ``values`` (``key``'s): a retraining table's copies of a cell
    are no neighbours of it (flatness's default with the table's stand-ins)."""
    stand = StandIns.of(table, key.dataset, key.epochs)
    df = flatness(table.space, values, radius, columns=["sharpness"], stand_ins=stand)
    return df["sharpness"].to_numpy(dtype=np.float64)


def gap_data(table: Table, dataset: str, *, top: float = 0.2, radius: int = 1) -> pd.DataFrame:
    """Per good architecture: ``index, sharpness, valid, test, gap`` (accuracy points) and
    ``seeds``.

    Sharpness, and the choice of good cells, read the dataset's 200-epoch validation accuracy
    of one seed; ``valid``, ``test`` and ``gap = valid - test`` are the mean over the other
    seeds (:func:`gap_seeds`), so the two share no evaluation noise: at each cell over those
    of them that measure both splits there, ``seeds`` of them. Where the test split has
    no per-seed values (NB201), a seed's test accuracy is ``2 * ori-test - x-valid``:
    ``x-valid`` and ``x-test`` are equal halves of ``ori-test`` (CIFAR-100 5,000 + 5,000
    images, ImageNet16-120 3,000 + 3,000), so the whole set's accuracy is their mean.
    """
    # cifar10 has no validation split of its own: its gap would compare other networks
    check_choice("dataset", dataset, GAP_DATASETS)
    top = _check_top(top)
    first, others = gap_seeds(table, dataset)
    vkey, tkey = VALID_KEYS[dataset], _gap_test_key(table, dataset)
    sharp_on = _seed(table, vkey, first)
    sharp = _sharpness(table, vkey, sharp_on, radius)
    (valid, test), seeds = _mean_of_seeds(table, (vkey, tkey), others)
    if tkey != TEST_KEYS[dataset]:  # linear: the mean of each seed's 2 * ori-test - x-valid
        test = 2.0 * test - valid
    idx = _top_connected(table, sharp_on, top)
    return pd.DataFrame(
        {
            "index": idx,
            "sharpness": sharp[idx],
            "valid": valid[idx],
            "test": test[idx],
            "gap": valid[idx] - test[idx],
            "seeds": seeds[idx],
        }
    )


def transfer_data(table: Table, target: str, *, top: float = 0.2, radius: int = 1) -> pd.DataFrame:
    """Per good CIFAR-10 architecture: ``index, sharpness, source_pct, target_pct, transfer``
    and ``seeds``.

    Percentiles are over all connected architectures; ``transfer = target_pct - source_pct``.
    Sharpness and the choice of good cells read one seed of the source's validation accuracy,
    ``source_pct`` the mean of the other seeds (:func:`transfer_seeds`) that measure the cell,
    ``seeds`` of them; the target's test accuracy (other networks) is its mean over seeds.
    """
    check_choice("target", target, TRANSFER_TARGETS)
    top = _check_top(top)
    skey, tkey = VALID_KEYS[TRANSFER_SOURCE], TEST_KEYS[target]
    first, others = transfer_seeds(table)
    sharp_on = _seed(table, skey, first)
    (source,), seeds = _mean_of_seeds(table, (skey,), others)
    dest = np.asarray(table.vector_for(tkey), dtype=np.float64)
    sharp = _sharpness(table, skey, sharp_on, radius)
    conn = np.nonzero(table.space.connected & np.isfinite(source) & np.isfinite(dest))[0]
    spct = np.full(table.space.size, np.nan)
    tpct = np.full(table.space.size, np.nan)
    spct[conn] = _percentile(source[conn])
    tpct[conn] = _percentile(dest[conn])
    idx = _top_connected(table, sharp_on, top)
    return pd.DataFrame(
        {
            "index": idx,
            "sharpness": sharp[idx],
            "source_pct": spct[idx],
            "target_pct": tpct[idx],
            "transfer": tpct[idx] - spct[idx],
            "seeds": seeds[idx],
        }
    )


def _check_legend_loc(loc: object) -> LegendLoc:
    """``loc`` if matplotlib places an axes' legend by it (:data:`LegendLoc`), the pair as a
    tuple of floats; else :class:`~nb201_flat.errors.ArgumentError`, one line."""
    if isinstance(loc, str) and loc in Legend.codes:
        return cast(LegendName, loc)
    # True is no place (matplotlib read it as code 1); a numpy integer is a code (it refused it)
    code = whole_number(loc) if isinstance(loc, numbers.Integral) else None
    if code is not None and 0 <= code <= 10:
        return code
    if isinstance(loc, tuple | list | np.ndarray) and len(loc) == 2:
        x, y = (real_number(v) for v in loc)
        if math.isfinite(x) and math.isfinite(y):  # NaN placed the legend nowhere, unsaid
            return x, y
    names = ", ".join(Legend.codes)
    raise ArgumentError(
        Param("legend_loc"),
        f" must be one of {names}, a code 0..10 or an (x, y) pair of finite numbers in axes "
        f"coordinates, got {shown(loc)}",
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
    given: object = series  # typed as a list; a notebook may pass one Series all the same
    if isinstance(given, Series):
        raise ArgumentError("series must be a list of Series; pass [series] for one")
    # an array's items reached .frame as a bare AttributeError
    if not isinstance(given, list | tuple) or not all(isinstance(s, Series) for s in given):
        raise ArgumentError(
            f"series must be a list of Series (label, frame), got {shown(given, 60)}; pass "
            "e.g. [Series('all', frame)]"
        )
    # before anything is drawn, and with no series at all: the legend's loc was matplotlib's
    # ValueError after the curves were drawn; bins and confidence were read only per series
    legend_loc = _check_legend_loc(legend_loc)
    check_int_range("bins", bins, 1, fix="e.g. bins=10")
    check_confidence(confidence)
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
            # under 3 pairs, or over constant values, the legend says "undefined"
            rho = (
                spearman(
                    s.frame[x].to_numpy(np.float64)[both], s.frame[y].to_numpy(np.float64)[both]
                )
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


def _seed_caption(
    seeds: dict[str, tuple[int, tuple[int, ...]]],
    derived: bool,
    measures: str = "gap and source rank",
) -> str:
    """Which stored seeds sharpness and the ``measures`` drawn against it were read from."""
    groups: dict[tuple[int, tuple[int, ...]], list[str]] = {}
    for ds, split in seeds.items():
        groups.setdefault(split, []).append(dataset_label(ds))
    parts = [
        f"{' and '.join(names) + ': ' if len(groups) > 1 else ''}seed {first}, {measures} "
        f"from the mean of seed{'s' if len(others) > 1 else ''} {', '.join(map(str, others))}"
        for (first, others), names in groups.items()
    ]
    return (
        f"Sharpness and the choice of cells: validation accuracy of {'; '.join(parts)}, so "
        "the two share no evaluation noise."
        + (" A seed's x-test accuracy: 2 × ori-test − x-valid (equal halves)." if derived else "")
    )


def _drawn(frame: pd.DataFrame, y: str) -> np.ndarray:
    """Which rows of a series ``frame`` are points (as :func:`plot_binned` counts them)."""
    x_ok = np.isfinite(frame["sharpness"].to_numpy(np.float64))
    return np.asarray(x_ok & np.isfinite(frame[y].to_numpy(np.float64)), dtype=bool)


def _fewer_seeds_caption(drawn: list[tuple[str, pd.DataFrame, str, tuple[int, ...]]]) -> str:
    """How many points of each series average fewer seeds than the caption names (a cell a
    seed does not measure: NB201 lacks seed 2 at 7,456 cells); empty where none does."""
    parts = []
    for label, frame, y, others in drawn:
        points = _drawn(frame, y)
        fewer = int((points & (frame["seeds"].to_numpy() < len(others))).sum())
        if fewer:
            parts.append(f"{label} {fewer:,} of the {int(points.sum()):,} cells drawn")
    if not parts:
        return ""
    return (
        " Where some of those seeds do not measure a cell, its mean is over the others: "
        + ", ".join(parts)
        + "."
    )


def _note_left_out(
    fig: Figure,
    table: Table,
    seeds: dict[str, tuple[int, tuple[int, ...]]],
    gaps: list[str],
    targets: list[str],
    drawn: list[tuple[str, pd.DataFrame, str, tuple[int, ...]]],
) -> None:
    """Notes counting the unmeasured cells a partly measured table leaves out: of the choice
    of cells (the sharpness seed), of the percentile ranks, and chosen cells not drawn."""
    connected = table.space.connected
    choice = "the choice of cells and of their neighbours' sharpness"
    for ds in gaps:
        key = VALID_KEYS[ds]
        first = seeds[ds][0]
        values = _seed(table, key, first)[connected]
        note_unmeasured(fig, key, values, choice, seed=first, among="connected cells")
    if targets:
        key = VALID_KEYS[TRANSFER_SOURCE]
        first, others = seeds[TRANSFER_SOURCE]
        values = _seed(table, key, first)[connected]
        note_unmeasured(fig, key, values, choice, seed=first, among="connected cells")
        (source,), _ = _mean_of_seeds(table, (key,), others)
        ranks = "the percentile ranks"
        note_unmeasured(fig, key, source[connected], ranks, seed=others, among="connected cells")
        for ds in targets:
            dest = np.asarray(table.vector_for(TEST_KEYS[ds]), dtype=np.float64)[connected]
            note_unmeasured(fig, TEST_KEYS[ds], dest, ranks, among="connected cells")
    for label, frame, y, others in drawn:
        lost = len(frame) - int(_drawn(frame, y).sum())
        if lost:
            none = " (the series is left out)" if lost == len(frame) else ""
            add_note(
                fig,
                f"{label}: {lost:,} of the {len(frame):,} chosen cells are not drawn{none}: no "
                f"measured neighbour, or no {y} at seed{'s' if len(others) > 1 else ''} "
                f"{', '.join(map(str, others))}",
            )


def make_flat_vs_sharp(table: Table, *, top: float = 0.2, radius: int = 1) -> Figure:
    """Sharpness against the validation-test gap (a) and cross-dataset transfer (b).

    Draws the series the table supports; skips (:class:`FigureSkipped`) when it supports none.
    """
    top = _check_top(top)
    # first: None passed flatness (its default) and failed in the caption's int(radius); a
    # list as the table raised TypeError at the first `in`
    radius = check_table(table).space.check_radius(radius)
    keyed = [ds for ds in GAP_DATASETS if VALID_KEYS[ds] in table and TEST_KEYS[ds] in table]
    source_ok = VALID_KEYS[TRANSFER_SOURCE] in table
    keyed_targets = [ds for ds in TRANSFER_TARGETS if source_ok and TEST_KEYS[ds] in table]
    # the seeds each series reads: sharpness from one, the measure from the others
    seeds: dict[str, tuple[int, tuple[int, ...]]] = {}
    one_seed: list[str] = []
    for ds in keyed:
        try:
            seeds[ds] = gap_seeds(table, ds)
        except MissingValueError as e:
            one_seed.append(str(e))
    if keyed_targets:
        try:
            seeds[TRANSFER_SOURCE] = transfer_seeds(table)
        except MissingValueError as e:
            one_seed.append(str(e))
    gaps = [ds for ds in keyed if ds in seeds]
    targets = keyed_targets if TRANSFER_SOURCE in seeds else []
    if not gaps and not targets:
        needs: list[MetricKey] = []
        for ds in GAP_DATASETS:
            needs += [VALID_KEYS[ds], TEST_KEYS[ds]]
        if keyed or keyed_targets:  # the keys are there, with one seed
            needed = [m.removesuffix(_ONE_SEED_WHY) for m in one_seed]
            raise FigureSkipped(NAME, [], "; ".join(needed) + _ONE_SEED_WHY)
        raise FigureSkipped(
            NAME,
            [k for k in needs if k not in table][:2]
            + ([VALID_KEYS[TRANSFER_SOURCE]] if not source_ok else []),
            "a validation split beside the test split, and a second dataset",
        )
    # each series before any axes: one without a drawn point (no chosen cell with a measured
    # neighbour and a measure) is left out, and a panel without a series (a one-cell table
    # wrote empty axes, exit 0)
    built: dict[str, list[tuple[str, Series]]] = {
        "gap": [
            (ds, Series(dataset_label(ds), gap_data(table, ds, top=top, radius=radius)))
            for ds in gaps
        ],
        "transfer": [
            (
                ds,
                Series(f"to {dataset_label(ds)}", transfer_data(table, ds, top=top, radius=radius)),
            )
            for ds in targets
        ],
    }
    # each series' label in the notes, its frame, its measure and the seeds it averages
    counted: list[tuple[str, pd.DataFrame, str, tuple[int, ...]]] = [
        (f"{s.label} gap", s.frame, "gap", seeds[ds][1]) for ds, s in built["gap"]
    ] + [
        (f"transfer {s.label}", s.frame, "transfer", seeds[TRANSFER_SOURCE][1])
        for _, s in built["transfer"]
    ]
    kept = {p: [(ds, s) for ds, s in b if _drawn(s.frame, p).any()] for p, b in built.items()}
    if not kept["gap"] and not kept["transfer"]:
        raise FigureSkipped(
            NAME,
            [],
            "no chosen cell has a measured neighbour and a measured "
            f"{' or '.join(p for p, b in built.items() if b)}",
        )
    drawn = [c for c in counted if _drawn(c[1], c[2]).any()]  # what the caption counts
    captioned = {  # the seeds of the series drawn
        ds: split
        for ds, split in seeds.items()
        if any(ds == d for d, _ in kept["gap"]) or (ds == TRANSFER_SOURCE and kept["transfer"])
    }
    derived = any(_gap_test_key(table, ds) != TEST_KEYS[ds] for ds, _ in kept["gap"])
    panels = [p for p in ("gap", "transfer") if kept[p]]
    fig, axes = new_figure(1, len(panels), figsize=(3.8 * len(panels) + 0.4, 3.4), sharex=False)
    # :g, not .0%: top=0.001 read "top 0%" beside 16 plotted cells
    share = f"top {100 * top:g} % of connected cells by validation accuracy"
    measures = " and ".join(m for m, p in (("gap", "gap"), ("source rank", "transfer")) if kept[p])
    for k, (ax, panel) in enumerate(zip(axes[0], panels, strict=True)):
        letter = "ab"[k]
        series = [s for _, s in kept[panel]]
        if panel == "gap":
            plot_binned(series, ax, y="gap", legend_loc="upper left")
            with figure_style():
                ax.set_ylabel("validation − test accuracy (points)")
                ax.set_title(f"({letter}) generalisation gap, same networks", fontsize=9)
        else:
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
            f"Architectures: {share}. Sharpness: validation accuracy − mean of the radius-{radius} "
            f"neighbours'. {_seed_caption(captioned, derived, measures)}"
            f"{_fewer_seeds_caption(drawn)} Lines: mean in 10 equal-count bins of "
            "sharpness; bands: 95 % t confidence interval of the mean; ρ: Spearman over all "
            "points.",
        )
    _note_left_out(fig, table, seeds, gaps, targets, counted)
    # each dataset a panel lacks, by the keys it lacks (the gap's note named x-valid where
    # x-test was missing; a transfer target dropped without a word)
    wanted = {
        "gap": {ds: (VALID_KEYS[ds], TEST_KEYS[ds]) for ds in GAP_DATASETS},
        "transfer": {ds: (VALID_KEYS[TRANSFER_SOURCE], TEST_KEYS[ds]) for ds in TRANSFER_TARGETS},
    }
    for panel, by_dataset in wanted.items():
        for ds, pair in by_dataset.items():
            lacking = [str(k) for k in pair if k not in table]
            if lacking:
                add_note(
                    fig,
                    f"{panel} panel without {dataset_label(ds)}: the table lacks "
                    f"{', '.join(lacking)}",
                )
    for why in one_seed:
        add_note(fig, f"left out: {why}")
    if len(panels) == 1:  # the keys may be there with one seed (noted above)
        lacks = not (keyed_targets if panels[0] == "gap" else keyed)
        why = "the table lacks the other's keys" if lacks else "the other's series are left out"
        add_note(fig, f"only the {panels[0]} panel: {why}")
    return fig
