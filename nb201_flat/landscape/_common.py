"""Shared validation for the landscape layer: metric vectors, NaN policies, seeds, errors."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import LandscapeArgumentError as LandscapeArgumentError
from nb201_flat.errors import MissingValueError as MissingValueError
from nb201_flat.errors import NoPathError as NoPathError
from nb201_flat.errors import Param, Part, check_choice, check_flag, shown
from nb201_flat.neighbours import arch_vector
from nb201_flat.space import Arch, Space, check_arch_indices, check_space

# re-exported: the landscape layer's errors lived here
from nb201_flat.types import BoolArray as BoolArray
from nb201_flat.types import FloatArray as FloatArray
from nb201_flat.types import IntArray as IntArray
from nb201_flat.types import Seed as Seed

NanPolicy: TypeAlias = Literal["omit", "propagate", "raise"]
ArchLike: TypeAlias = Arch | str | int

NAN_POLICIES: tuple[str, ...] = ("omit", "propagate", "raise")

#: what a statistic the values do not define gives (a correlation over constant values, over
#: fewer than two points): an error (the default), or NaN for a caller that shows it as
#: undefined (a figure's legend)
Undefined: TypeAlias = Literal["raise", "nan"]


def shown_value(x: float) -> str:
    """``x`` for a repr: 6 significant digits, so float noise (``0.025199999999998113``)
    reads as the number it is (``0.0252``); the value itself is unchanged.

    >>> shown_value(0.025199999999998113), shown_value(93.70123456), shown_value(float("nan"))
    ('0.0252', '93.7012', 'nan')
    """
    return f"{float(x):.6g}"


def as_values(space: Space, values: npt.ArrayLike) -> FloatArray:
    """``values`` as a float64 vector over ``space``; a clear error for a wrong shape, for
    values that are not numbers, for infinite ones (NaN marks a missing value) and for ones
    so large that a sum over the space could overflow (:func:`check_summable`)."""
    v = arch_vector(values, check_space(space).size)
    check_summable(v)
    return v


def check_summable(v: FloatArray, *, along_a_path: bool = False) -> None:
    """Refuse a value too large for the landscape's sums: a sum of every value (a level's
    mean) and a difference of two such sums stay finite below ``float max / (2 * size)``.
    Beyond it, barriers and means came back inf or NaN with no word (a metric of 1e308).
    Squares need less: :func:`check_squarable`. ``along_a_path``: ``v`` holds the values
    along one path, named by their position on it.

    >>> check_summable(np.array([1.0, np.nan, -1e308]))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: value -1e+308 of cell 2 is too large for the landscape's sums over 3 cells (|value| must stay below 2.99e+307); rescale the metric or mask that cell
    """
    limit = float(np.finfo(np.float64).max) / (2 * max(v.size, 1))
    if along_a_path:
        where = "at position {} of the path"
        _check_below(v, limit, f"a barrier along {v.size:,} values", where, masks=False)
    else:
        _check_below(v, limit, f"the landscape's sums over {v.size:,} cells", "of cell {}")


def check_squarable(values: FloatArray, what: str) -> None:
    """Refuse a value whose square, summed over ``values`` about their mean, could overflow
    (``what`` names the statistic): a variance or correlation of it came back NaN or inf with
    no word (an autocorrelation of values near 1e200: NaN at every lag).

    >>> check_squarable(np.array([1.0, 5e153]), "the autocorrelation")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: value 5e+153 is too large for the autocorrelation (|value| must stay below 4.74e+153: its squares are summed); rescale the metric
    """
    limit = 0.5 * math.sqrt(float(np.finfo(np.float64).max) / max(values.size, 1))
    _check_below(values, limit, f"{what}", "", ": its squares are summed")


def _check_below(
    v: FloatArray, limit: float, what: str, where: str, why: str = "", *, masks: bool = True
) -> None:
    """The largest ``|value|`` of ``v`` (NaN aside) must stay below ``limit``; else one line,
    the limit shown rounded down (never above the value refused). ``masks``: the fix offers
    to mask the cell ``where`` names."""
    if not v.size or np.isnan(v).all():
        return
    mag = np.abs(v.reshape(-1))
    i = int(np.nanargmax(mag))
    if mag[i] < limit:
        return
    exp = math.floor(math.log10(limit)) - 2
    shown_limit = math.floor(limit / 10.0**exp) * 10.0**exp  # 3 digits, rounded down
    at = f" {where.format(i)}" if where else ""
    fix = "rescale the metric or mask that cell" if where and masks else "rescale the metric"
    raise LandscapeArgumentError(
        f"value {v.reshape(-1)[i]:.6g}{at} is too large for {what} (|value| must stay below "
        f"{shown_limit:.3g}{why}); {fix}"
    )


def check_nan_policy(nan_policy: str) -> None:
    check_choice("nan_policy", nan_policy, NAN_POLICIES)


def check_undefined(undefined: Undefined) -> Undefined:
    return check_choice("undefined", undefined, ("raise", "nan"))


def undefined_value(undefined: Undefined, what: str, why: str, fix: Sequence[Part]) -> float:
    """NaN under ``undefined="nan"``, else the error saying ``what`` is undefined, ``why`` and
    the way out (``fix``, then the NaN opt-in)."""
    if undefined == "nan":
        return float("nan")
    raise LandscapeArgumentError(
        f"{what} is undefined: {why}; ", *fix, ", or pass ", Param("undefined", "nan"), " for NaN"
    )


def average_ranks(x: npt.ArrayLike) -> FloatArray:
    """1-based ranks of ``x`` with ties given their mean rank (``scipy.stats.rankdata``'s
    default), without importing ``scipy.stats`` (about a second, paid in every figure worker
    that used it). ``x`` holds no NaN: callers drop missing pairs first."""
    v = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(v, kind="mergesort")
    ordered = v[order]
    first = np.ones(v.size, dtype=bool)  # where a run of equal values starts, in sorted order
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], v.size)  # one past each run's end
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = ((starts + ends + 1) / 2.0)[np.cumsum(first) - 1]
    return ranks


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman's rho of paired ``x`` and ``y`` (no NaN): Pearson's r of their average ranks,
    as ``scipy.stats.spearmanr`` computes it; NaN where either is constant or under 2 pairs
    (undefined: the caller says so)."""
    a, b = average_ranks(x), average_ranks(y)
    if a.size != b.size:
        raise ValueError(f"spearman needs paired values, got {a.size} and {b.size}")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def raise_on_nan(values: FloatArray, what: str = "values") -> None:
    """The ``nan_policy="raise"`` check: name how many are missing and the way out."""
    n = int(np.isnan(values).sum())
    if n:
        raise MissingValueError(
            f"{what} hold {n} NaN entr{'y' if n == 1 else 'ies'} (unmeasured architectures); "
            "use nan_policy='omit' to skip them or 'propagate' to get NaN results"
        )


def is_pair(x: object) -> bool:
    """A sequence or a 1-D array of two items (a band, a pair of archs), not a string."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1 and len(x) == 2
    return isinstance(x, Sequence) and not isinstance(x, str) and len(x) == 2


def check_band(name: str, band: object) -> tuple[float, float]:
    """An accuracy band ``(lo, hi)``, both ends included: two numbers, not NaN, ``lo <= hi``
    (an infinite end leaves that side open). A NaN or reversed band would hold nothing."""
    if not is_pair(band):  # e.g. np.nanpercentile(v, [90, 100]) is one
        raise LandscapeArgumentError(f"band {name!r} must be a pair (lo, hi), got {band!r:.80}")
    try:
        lo, hi = float(band[0]), float(band[1])  # type: ignore[index]
    except (TypeError, ValueError):
        raise LandscapeArgumentError(f"band {name!r} must hold numbers, got {band!r:.80}") from None
    if not lo <= hi:  # NaN too
        raise LandscapeArgumentError(
            f"band {name!r} has lo > hi or a NaN end: {band}; pass (lo, hi) with lo <= hi"
        )
    return lo, hi


def resolve_index(space: Space, arch: ArchLike) -> int:
    """Index of an :class:`Arch`, official string or index (errors from the space layer)."""
    check_space(space)
    if isinstance(arch, int | np.integer) and not isinstance(arch, bool):
        # resolve(i).index is i after the same range check: no Arch to build and look up
        return space.check_index(arch)
    return space.resolve(arch).index


#: the items of an op list (:func:`nb201_flat.train.costs.check_ops` asks for them by this
#: name): an architecture given there wants its ops, not a list of it
OP_NAMES = "op names"


def _looks_like_arch(text: str) -> bool:
    """Whether ``text`` is written as an architecture (``|op~0|+|op~0|op~1|...``), not an op."""
    s = text.strip()
    return s.startswith("|") and "~" in s


def as_sequence(name: str | Param, value: object, items: str) -> list[object]:
    """``value`` as a list of its items; one item alone (a number, a string, an :class:`Arch`,
    a 0-d array: iterating it is a raw TypeError, or its characters) is refused naming the
    list it belongs in (``name``: a :class:`~nb201_flat.errors.Param` where a command may
    pass it, spelled as its flag)."""
    if (
        isinstance(value, str | Arch)
        or (isinstance(value, np.ndarray) and value.ndim == 0)
        or not isinstance(value, Iterable)
    ):
        # array(5), np.int64(5): shown as 5
        one = value.tolist() if isinstance(value, np.ndarray | np.generic) else value
        fix = f"pass a list, e.g. [{shown(one)}]"
        if items == OP_NAMES and isinstance(value, Arch):
            # [arch] is one op where a cell has six: its ops are what was meant
            fix = "pass its op on each edge, arch.ops (the space's op names: arch.space.ops)"
        elif items == OP_NAMES and isinstance(value, str) and _looks_like_arch(value):
            fix = "pass its op on each edge, NB201.parse(s).ops (the space's op names: NB201.ops)"
        raise LandscapeArgumentError(
            name, f" must be a sequence of {items}, got {shown(one)}; {fix}"
        )
    pd = sys.modules.get("pandas")  # a DataFrame is only ever built with pandas loaded
    if pd is not None and isinstance(value, pd.DataFrame):
        # iterating one gives its column names: 'a' was then refused as an architecture
        raise LandscapeArgumentError(
            name,
            f" must be a sequence of {items}, got a DataFrame (columns "
            f"{shown(list(value.columns), 60)}; iterating one gives those names); pass one "
            "column, df[column], or its rows, list(df.itertuples(index=False, name=None))",
        )
    return list(value)


def resolve_indices(space: Space, archs: object, name: str = "archs") -> list[int]:
    """Indices of a sequence of architectures (:class:`Arch`, official strings or indices,
    :func:`as_sequence`); a numpy array is read by the package's one rule for index arrays
    (:func:`~nb201_flat.space.check_arch_indices`)."""
    items = as_sequence(name, archs, "architectures (indices, strings or Arch)")
    if isinstance(archs, np.ndarray) and archs.ndim > 1:  # rows would each be one "arch"
        raise LandscapeArgumentError(
            f"{name} must be one sequence of architectures, got an array of shape "
            f"{archs.shape}; pass {name}.ravel()"
        )
    if isinstance(archs, np.ndarray):
        return [int(i) for i in check_arch_indices(archs, space.size, name=name)]
    return [resolve_index(space, a) for a in items]  # type: ignore[arg-type]


def oriented(values: FloatArray, higher_is_better: bool) -> FloatArray:
    """Values turned so that larger is better (loss -> -loss); NaN stays NaN."""
    # "no" would read as True: a loss ranked as an accuracy. + 0.0 / 0.0 - makes every zero
    # +0.0: with both signed zeros, which one a min or max keeps depends on the order it reads
    # them in, and the batched census and the single pair would disagree on a barrier's sign
    if check_flag("higher_is_better", higher_is_better):
        return values + 0.0
    return 0.0 - values
