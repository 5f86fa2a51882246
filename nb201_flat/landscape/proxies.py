"""How well a zero-cost proxy (or any per-architecture score) tracks accuracy and flatness.

:func:`proxy_correlations` rank-correlates one score vector (e.g. NASLib's ``synflow``,
imported by :mod:`nb201_flat.importers.naslib_zc`) with an accuracy vector and with the
flatness of that accuracy's landscape (a column of
:func:`~nb201_flat.landscape.neighbourhood.flatness`, computed over the whole space), over
the architectures where all are measured. Kendall's τ (tau-b, ties handled) and Spearman's ρ,
each with a percentile bootstrap confidence interval (architectures resampled with
replacement, ``n_boot`` times, from an explicit seed).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.budget import check_memory
from nb201_flat.errors import (
    Param,
    Part,
    check_confidence,
    check_int_range,
    check_resamples,
    fewest_resamples,
)
from nb201_flat.landscape._common import (
    LandscapeArgumentError,
    Undefined,
    as_values,
    check_undefined,
    spearman,
    undefined_value,
)
from nb201_flat.landscape.neighbourhood import FLATNESS_COLUMNS, StandIns, _spec, flatness
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.space import Space
from nb201_flat.types import as_rng

CORRELATION_COLUMNS: tuple[str, ...] = (
    "against",
    "method",
    "estimate",
    "ci_lo",
    "ci_hi",
    "n",
)


def proxy_correlations(
    space: Space,
    proxy: npt.ArrayLike,
    accuracy: npt.ArrayLike,
    *,
    radius: int | Neighbourhood | None = 1,
    flatness_stat: str = "sharpness",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    min_n: int = 10,
    stand_ins: StandIns | None = None,
    undefined: Undefined = "raise",
) -> pd.DataFrame:
    """Kendall τ and Spearman ρ of ``proxy`` against accuracy and against flatness.

    Parameters
    ----------
    space
        The space both vectors follow.
    proxy
        The score over every architecture, NaN where not computed (a proxy file covers a
        subset).
    accuracy
        The accuracy over every architecture; flatness is computed from it over the whole
        space (neighbours need not have a proxy value).
    radius, flatness_stat
        The neighbourhood (a radius, or a whole
        :class:`~nb201_flat.neighbourhood.Neighbourhood` such as ``NA_PAPER``, as
        :func:`~nb201_flat.landscape.neighbourhood.flatness` takes it; None: the default one)
        and the ``flatness`` column used as "flatness" (``sharpness``: value minus
        neighbourhood mean; ``std``; ...).
    n_boot, confidence, seed
        Bootstrap resamples, interval level, and the generator seed.
    min_n
        Fewest jointly measured architectures accepted.
    stand_ins
        The stand-ins of ``accuracy`` where it comes from a retraining table
        (:meth:`~nb201_flat.landscape.neighbourhood.StandIns.of`): a cell's own isomorphic
        copies are then no neighbours of it, as in :func:`flatness`.
    undefined
        What a correlation the values do not define gives (the proxy, the accuracy or the
        flatness equal on every jointly measured architecture; an interval none of whose
        resamples varies): ``"raise"`` an error, ``"nan"`` NaN.

    Returns
    -------
    pandas.DataFrame
        Four rows (``against`` in ``accuracy``, ``flatness:<stat>``; ``method`` in
        ``kendall``, ``spearman``): ``estimate``, ``ci_lo``, ``ci_hi``, ``n``. ``attrs``
        records the neighbourhood as ``flatness`` does (``radius``, ``exact``,
        ``include_self``, ``no_none``, ``connected_only``), ``flatness_stat``, ``n_boot`` and
        ``confidence``.

    Raises
    ------
    LandscapeArgumentError
        Fewer than ``min_n`` architectures have every value, a correlation is undefined
        (under ``undefined="raise"``), or a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> space = Space(("a", "b", "c"), 3)
    >>> acc = (space.codes == 2).sum(axis=1) * 10.0 + np.arange(27) * 0.01
    >>> df = proxy_correlations(space, acc * 2, acc, n_boot=50)
    >>> df.loc[df["against"] == "accuracy", "estimate"].round(12).tolist()
    [1.0, 1.0]
    """
    # the neighbourhood resolved first, as flatness resolves it: a Neighbourhood or None failed
    # at int(radius) after the bootstrap had run
    spec = _spec(space, radius)
    p = as_values(space, proxy)
    a = as_values(space, accuracy)
    if flatness_stat not in FLATNESS_COLUMNS or flatness_stat in ("value", "n"):
        raise LandscapeArgumentError(
            f"flatness_stat must be a flatness column other than value/n, got {flatness_stat!r}"
        )
    confidence = check_confidence(confidence)
    n_boot = check_resamples(n_boot, confidence, 1000)
    min_n = check_int_range("min_n", min_n, 2, fix="a correlation needs two points")
    undefined = check_undefined(undefined)
    flat_df = flatness(space, a, spec, stand_ins=stand_ins)
    flat = flat_df[flatness_stat].to_numpy(dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(a) & np.isfinite(flat)
    n = int(ok.sum())
    if n < min_n:
        raise LandscapeArgumentError(
            f"only {n} architectures have the proxy, the accuracy and the flatness (need "
            f">= {min_n}); import the proxy for the dataset whose accuracy you pass"
        )
    x, targets = p[ok], {"accuracy": a[ok], f"flatness:{flatness_stat}": flat[ok]}
    gen = as_rng(seed)
    check_memory(8 * n_boot * n, f"{n_boot:,} bootstrap draws of {n:,}", "pass a smaller n_boot")
    draws = gen.integers(0, n, size=(n_boot, n))
    alpha = (1 - confidence) / 2
    least = fewest_resamples(confidence)  # of the resamples that define a correlation
    rows = []
    for against, y in targets.items():
        for method in ("kendall", "spearman"):
            what = f"the {method} correlation of the proxy with {against}"
            est = _corr(method, x, y)
            if np.isnan(est):  # a constant side: every resample is constant too
                name, same = ("the proxy", x) if np.ptp(x) == 0 else (against, y)
                why = f"{name} equals {same[0]:g} on all {n} jointly measured architectures"
                est = undefined_value(undefined, what, why, ["pass values that vary"])
                rows.append(_row(against, method, est, (est, est), n))
                continue
            boot = np.array([_corr(method, x[d], y[d]) for d in draws])
            boot = boot[np.isfinite(boot)]
            if boot.size >= least:
                ci = (float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha)))
            else:
                # a few architectures, one of them apart: the resamples that missed it have
                # no correlation, and the interval of those left had no resample beyond a
                # bound (an estimate of -0.52 outside its "CI" [-0.81, -0.52])
                why = (
                    f"only {boot.size} of the {n_boot} bootstrap resamples of {n} "
                    f"architectures vary, and a {confidence * 100:g} % interval needs {least}"
                )
                fix: list[Part] = ["measure more architectures, or a larger ", Param("n_boot")]
                lo_hi = undefined_value(undefined, f"the interval of {what}", why, fix)
                ci = (lo_hi, lo_hi)
            rows.append(_row(against, method, est, ci, n))
    out = pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))
    # the neighbourhood as flatness records it: a radius alone would hide NA_PAPER's fields
    out.attrs.update({k: flat_df.attrs[k] for k in _NEIGHBOURHOOD_ATTRS})
    out.attrs.update(flatness_stat=flatness_stat, n_boot=n_boot, confidence=confidence)
    return out


#: the attrs of :func:`flatness` that say which neighbourhood it read
_NEIGHBOURHOOD_ATTRS = ("radius", "exact", "include_self", "no_none", "connected_only")


def _row(
    against: str, method: str, est: float, ci: tuple[float, float], n: int
) -> dict[str, object]:
    return {
        "against": against,
        "method": method,
        "estimate": est,
        "ci_lo": ci[0],
        "ci_hi": ci[1],
        "n": n,
    }


def _corr(method: str, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")  # undefined without variation: the caller says so
    if method == "kendall":
        from scipy.stats import kendalltau

        return float(kendalltau(x, y).statistic)
    return spearman(x, y)
