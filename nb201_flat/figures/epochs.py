"""Flatness of the landscape along training (needs a table with learning curves).

Two panels over the epochs of one validation curve: (a) the mean absolute sharpness (an
architecture's value minus its radius-1 neighbourhood mean) and the mean neighbourhood spread;
(b) how well the ranking after each epoch predicts the ranking after the last one (Spearman ρ).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from nb201_flat.conventions import CIFAR10_VALID
from nb201_flat.curves import NoCurvesError, require_curves
from nb201_flat.errors import check_int_range
from nb201_flat.figures._common import (
    FigureSkipped,
    add_caption,
    axis_label,
    dataset_label,
    new_figure,
    panel_letter,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape.epochs import flatness_by_epoch
from nb201_flat.table import MetricKey, Table, check_table

NAME = "flatness_by_epoch"

#: Validation curves tried in order (the first one the table has is drawn).
CURVE_KEYS: tuple[MetricKey, ...] = tuple(
    MetricKey(ds, "x-valid", ep)
    for ep in (200, 12)
    for ds in (CIFAR10_VALID, "cifar100", "ImageNet16-120")
)


def make_flatness_by_epoch(table: Table, *, radius: int = 1, step: int = 1) -> Figure:
    """Sharpness and rank agreement after every ``step``-th epoch of a validation curve."""
    step = check_int_range("step", step, 1, fix="e.g. step=1 for every epoch")
    # the options first: radius=9 was reported as a skip ("needs per-epoch learning curves")
    radius = check_table(table).space.check_radius(radius)
    try:
        curves = require_curves(table)
    except NoCurvesError as exc:
        raise FigureSkipped(NAME, ["per-epoch learning curves"], str(exc).split(";")[0]) from None
    key = next((k for k in CURVE_KEYS if k in curves), None)
    if key is None:
        raise FigureSkipped(NAME, list(CURVE_KEYS), "as learning curves", any_of=True)
    n = curves.n_epochs(key)
    chosen = sorted({*range(0, n, step), n - 1})
    # an epoch the curve does not rank by (every cell at chance): a gap, named in panel (b)
    df = flatness_by_epoch(
        table, key.dataset, key.split, key.epochs, iepochs=chosen, radius=radius, undefined="nan"
    )
    fig, axes = new_figure(1, 2, figsize=(7.0, 3.0))
    x = df["iepoch"].to_numpy() + 1  # epochs trained
    with figure_style():
        a, b = axes[0, 0], axes[0, 1]
        a.plot(x, df["mean_abs_sharpness"], "-o", ms=3, label="mean |sharpness|")
        a.plot(x, df["mean_std"], "-s", ms=3, label="mean neighbourhood std")
        a.set_xlabel("epochs trained")
        a.set_ylabel(f"radius-{radius} spread of accuracy (points)")
        a.legend(loc="best")
        panel_letter(a, "a")
        b.plot(x, df["spearman_final"], "-o", ms=3, color="black")
        b.set_xlabel("epochs trained")
        b.set_ylabel("Spearman ρ with the final ranking")
        b.set_ylim(min(0.0, float(df["spearman_final"].min())), 1.02)
        gaps = x[df["spearman_final"].isna().to_numpy()]
        if gaps.size:
            shown = ", ".join(map(str, gaps[:5])) + (", ..." if gaps.size > 5 else "")
            b.text(
                0.98,
                0.04,
                f"ρ undefined after {gaps.size} epoch{'s' if gaps.size > 1 else ''} ({shown}):\n"
                "equal values, or under 3 ranked cells",
                transform=b.transAxes,
                ha="right",
                va="bottom",
                fontsize=6.5,
            )
        panel_letter(b, "b")
        fig.suptitle(axis_label(key), fontsize=9)
        # the reader of the figure alone must know which curve, seeds and radius it shows
        every = "every epoch" if step == 1 else f"every {step} epochs and the last"
        schedules = " then ".join(map(str, dict.fromkeys(k.epochs for k in CURVE_KEYS)))
        names = ", ".join(dict.fromkeys(dataset_label(k.dataset) for k in CURVE_KEYS))
        tried = f"{schedules} epochs, each over {names}"
        add_caption(
            fig,
            table,
            f"Curve {key}: the first validation curve the table holds, tried at {tried}. "
            "Its value at each epoch is "
            "the mean over the stored seeds (the official API's, is_random=False). (a) Mean "
            f"over architectures of |sharpness| (value minus the mean of its radius-{radius} "
            f"neighbours) and of the radius-{radius} neighbourhood's standard deviation; (b) "
            "Spearman ρ between the ranking after each epoch and after the last of the "
            f"curve's {n} epochs. Points: {every}.",
        )
    return fig
