"""Flatness of the landscape along training: the neighbourhood statistics at every epoch.

:func:`flatness_by_epoch` reads one learning curve of a table (:mod:`nb201_flat.curves`) and,
for each chosen epoch ``e`` (0-based, the official ``iepoch``), computes
:func:`~nb201_flat.landscape.neighbourhood.flatness` of the metric after epoch ``e`` and
summarises it over the architectures: is the landscape flatter early in training, and from
which epoch does the ranking of architectures settle?

Tables without curves (the tidy real data of ``../shared/data/nb201`` among them) raise
:class:`~nb201_flat.errors.NoCurvesError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.curves import require_curves
from nb201_flat.errors import Param, Part, check_int_range
from nb201_flat.landscape._common import (
    LandscapeArgumentError,
    Undefined,
    as_sequence,
    check_undefined,
    spearman,
    undefined_value,
)
from nb201_flat.landscape.neighbourhood import StandIns, flatness
from nb201_flat.space import in_index_order
from nb201_flat.table import Table, seed_policy_of
from nb201_flat.types import SeedPolicy

EPOCH_COLUMNS: tuple[str, ...] = (
    "iepoch",
    "archs",
    "mean_value",
    "mean_sharpness",
    "mean_abs_sharpness",
    "mean_std",
    "mean_share_within_delta",
    "spearman_final",
)


def flatness_by_epoch(
    table: Table,
    dataset: str,
    split: str,
    epochs: int,
    *,
    metric: str = "accuracy",
    seed_policy: SeedPolicy | None = None,
    iepochs: Sequence[int] | None = None,
    radius: int = 1,
    exact: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
    delta: float = 1.0,
    mask: npt.ArrayLike | None = None,
    seed: SeedPolicy | None = None,
    undefined: Undefined = "raise",
) -> pd.DataFrame:
    """Landscape flatness after each epoch of one learning curve, one row per epoch.

    Parameters
    ----------
    table
        A table with learning curves (``table.curves``).
    dataset, split, epochs, metric
        The curve: ``epochs`` names the schedule (200 or 12), as in the table.
    seed_policy
        ``"mean"`` (default: the official mean over seeds) or a stored seed
        (``seed=`` is its deprecated old name).
    iepochs
        Epochs to evaluate (0-based); all stored epochs by default.
    radius, exact, no_none, connected_only, delta
        As in :func:`~nb201_flat.landscape.neighbourhood.flatness`.
    mask
        Boolean vector over the space: summarise only these architectures (their
        neighbourhoods still range over the whole space), e.g. a cost band from
        :func:`nb201_flat.constraints.cost_band`.
    undefined
        What a summary the epoch does not define gives (no summarised architecture has the
        statistic; a rank correlation over fewer than 3 architectures or over equal values,
        e.g. every architecture at chance after epoch 0): ``"raise"`` an error, ``"nan"`` NaN
        in that row.

    Returns
    -------
    pandas.DataFrame
        Columns ``iepoch``, ``archs`` (summarised architectures with a value at that epoch),
        ``mean_value``, ``mean_sharpness`` (f(α) minus its neighbourhood mean),
        ``mean_abs_sharpness``, ``mean_std`` (neighbourhood spread), ``mean_share_within_delta``
        and ``spearman_final`` (rank correlation of the value at ``iepoch`` with the value at
        the last stored epoch, over the summarised architectures).

    Raises
    ------
    NoCurvesError
        The table has no learning curves.
    LandscapeArgumentError
        A summary is undefined at an epoch (under ``undefined="raise"``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.curves import Curves
    >>> from nb201_flat.space import Space
    >>> from nb201_flat.table import MetricKey, Table
    >>> space = Space(("a", "b", "c"), 3)
    >>> key = MetricKey("toy", "x-valid", 12)
    >>> f = (space.codes == 2).sum(axis=1).astype(float)
    >>> t = Table(space, {(key, None): 10 * f}, curves=Curves(27, {(key, None):
    ...     np.stack([np.zeros(27), 5 * f, 10 * f], axis=1)}))
    >>> flatness_by_epoch(t, "toy", "x-valid", 12)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: spearman_final at iepoch 0 is undefined: every value after that epoch equals 0; leave the epoch out of iepochs, or pass undefined='nan' for NaN
    >>> df = flatness_by_epoch(t, "toy", "x-valid", 12, undefined="nan")
    >>> df[["iepoch", "mean_value", "spearman_final"]].to_numpy().tolist()
    [[0.0, 0.0, nan], [1.0, 5.0, 1.0], [2.0, 10.0, 1.0]]
    """
    undefined = check_undefined(undefined)
    curves = require_curves(table)
    # a whole Neighbourhood (flatness takes one) failed at int(radius) after every epoch was
    # computed, its fields overridden by this function's defaults on the way
    radius = table.space.check_radius(radius)
    key = curves.key(dataset, split, epochs, metric)
    policy = seed_policy_of(seed_policy, seed)
    arr = curves.curve(key, seed_policy=policy)
    n = arr.shape[1]
    # check_int_range: int(1.5) would silently read epoch 1
    chosen = (
        list(range(n))
        if iepochs is None
        else [check_int_range("iepoch", e) for e in as_sequence("iepochs", iepochs, "epochs")]
    )
    if not chosen:  # an empty frame would read as "computed, nothing to report"
        raise LandscapeArgumentError(
            f"iepochs is empty; pass epochs in 0..{n - 1} of {key} (0-based), or None for all"
        )
    twice = sorted({e for e in chosen if chosen.count(e) > 1})
    if twice:  # a row per epoch: a repeated one was two identical rows, as if two epochs
        raise LandscapeArgumentError(
            f"iepochs holds epoch {twice[0]} more than once; pass each epoch once"
        )
    bad = [e for e in chosen if not 0 <= e < n]
    if bad:
        raise LandscapeArgumentError(
            f"epochs {bad} are outside the stored 0..{n - 1} of {key} (0-based iepoch)"
        )
    if mask is None:
        keep = np.ones(table.space.size, dtype=bool)
    else:
        keep = np.asarray(in_index_order(mask, table.space.size, "mask"))  # a Series: by label
        if keep.dtype != bool or keep.shape != (table.space.size,):  # values are no mask
            raise LandscapeArgumentError(
                f"mask must be a boolean vector over the {table.space.size} architectures"
            )
    final = arr[:, n - 1]
    # a retraining table's copies of a cell hold its curve: no neighbours of it
    stand = StandIns.of(table, dataset, epochs)
    rows = []
    for e in chosen:
        df = flatness(
            table.space,
            arr[:, e],
            radius,
            exact=exact,
            no_none=no_none,
            connected_only=connected_only,
            delta=delta,
            stand_ins=stand,
        )
        ok = keep & ~np.isnan(df["value"].to_numpy())
        sub = df[ok]
        both = ok & ~np.isnan(final)
        stats = {
            "mean_value": _mean(sub["value"]),
            "mean_sharpness": _mean(sub["sharpness"]),
            "mean_abs_sharpness": _mean(sub["sharpness"].abs()),
            "mean_std": _mean(sub["std"]),
            "mean_share_within_delta": _mean(sub["share_within_delta"]),
            "spearman_final": _spearman(arr[both, e], final[both]),
        }
        row: dict[str, float] = {"iepoch": e, "archs": int(ok.sum())}
        for col, (value, why) in stats.items():
            fix: list[Part] = ["leave the epoch out of ", Param("iepochs")]
            if col != "spearman_final":  # nothing summarised: the mask may hold too few
                fix += [", or summarise more architectures (", Param("mask"), ")"]
            row[col] = (
                undefined_value(undefined, f"{col} at iepoch {e}", why, fix) if why else value
            )
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(EPOCH_COLUMNS))
    # the policy read (seed= was its deprecated name: seed_policy=2 was recorded as None)
    out.attrs.update(key=str(key), seed=policy, radius=int(radius), delta=float(delta))
    return out


# each summary with why it is undefined ("" where it is defined)
def _mean(s: pd.Series) -> tuple[float, str]:
    v = s.to_numpy(dtype=np.float64)
    v = v[~np.isnan(v)]
    if not v.size:
        return float("nan"), f"no summarised architecture has a {s.name}"
    return float(v.mean()), ""


def _spearman(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[float, str]:
    # undefined without variation: never reported as 0
    if a.size < 3:
        return float("nan"), f"{a.size} architectures have a value then and at the end (need 3)"
    if np.ptp(a) == 0:
        return float("nan"), f"every value after that epoch equals {a[0]:g}"
    if np.ptp(b) == 0:
        return float("nan"), f"every value at the last epoch equals {b[0]:g}"
    return spearman(a, b), ""
