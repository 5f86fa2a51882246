"""Neighbourhood flatness of every architecture at once.

For each architecture α and a :class:`~nb201_flat.neighbourhood.Neighbourhood` specification
(whose defaults are stated in :mod:`nb201_flat.neighbourhood`), ``N_r(α)`` is the set of cells at Hamming distance ``r`` (``exact=True``)
or ``1..r`` (``exact=False``), optionally without substitutions to ``none`` (``no_none``) or
without disconnected cells (``connected_only``) -- the filters of
:meth:`nb201_flat.space.Space.neighbours`, whose index arrays are cached on the space. With
``include_self=True`` α itself is a member as well.

:func:`flatness` returns one row per architecture (value, count, mean, median, min, max, std,
a chosen quantile, sharpness = f(α) - mean, share of members within ``delta`` of f(α)), and
:func:`flatness_columns` the same columns as numpy arrays, without pandas;
:func:`neighbourhood_score` returns just the NA paper's aggregated objective g(f(N(α))) as a
vector, the fast path the search layer uses.

Missing values (NaN) follow an explicit ``nan_policy``:

- ``"omit"`` (default): NaN members are skipped; ``n`` counts the members used; a row with no
  measured member gets NaN aggregates, and a row with one gets a NaN ``std``. An architecture
  whose own value is NaN keeps its neighbourhood aggregates but gets NaN ``value``,
  ``sharpness`` and ``share_within_delta``.
- ``"propagate"``: any NaN member makes that row's aggregates NaN.
- ``"raise"``: any NaN in ``values`` raises :class:`MissingValueError`.

Stand-in cells (:class:`StandIns`): a retraining table trained with ``--unique-isomorphism``
holds cells whose numbers are copies of the trained member of their isomorphism class, and
disconnected cells recorded at chance without training (:func:`~nb201_flat.table.stand_ins`).
NB201's own table trained every isomorphic duplicate independently; here a copy is no
independent measurement. Given ``stand_ins``, :func:`flatness` adds ``n_stand_ins`` (the
stand-ins among the ``n`` members) and ``omit_stand_ins`` says which members are left out:
``"self"`` (default: a member holding the cell's own measurement -- a copy of the cell, or the
cell it copies -- compares the cell with itself, which a neighbour measurement never is),
``"all"`` (every stand-in, and the cell's own copies) or ``"none"``. Without ``stand_ins``
nothing changes.

Standard deviations are population ones (``ddof=0``), defined over at least two measured
members (:data:`~nb201_flat.landscape.aggregates.MIN_SPREAD_MEMBERS`): a neighbourhood with one
has no spread, and its std (and ``agg="std"``'s score) is NaN rather than a 0 that would rank
it the flattest. Quantiles interpolate linearly, as
``numpy.quantile``'s default (the one rule of :mod:`nb201_flat.neighbourhood`, which also says
when a level applies).

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("none", "skip", "conv"), 3)           # 27 cells, 6 neighbours each
>>> convs = (space.codes == 2).sum(axis=1).astype(float)  # f = number of conv edges
>>> df = flatness(space, convs, radius=1)
>>> df.loc[space.from_ops(["conv"] * 3).index, ["value", "n", "mean", "min", "sharpness"]].tolist()
[3.0, 6.0, 2.0, 2.0, 1.0]
>>> neighbourhood_score(space, convs, 1, agg="max")[:3]
array([1., 1., 2.])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.budget import check_neighbourhood_memory, progress
from nb201_flat.errors import check_choice, check_float_range, shown
from nb201_flat.landscape._common import (
    BoolArray,
    FloatArray,
    LandscapeArgumentError,
    NanPolicy,
    as_values,
    check_nan_policy,
    check_squarable,
    raise_on_nan,
)
from nb201_flat.landscape.aggregates import (
    NeighbourRows,
    ball_stats,
    sphere_min,
    supports,
    undefine_spread,
)
from nb201_flat.landscape.stand_ins import StandIns as StandIns
from nb201_flat.neighbourhood import AGGREGATES, Agg, Neighbourhood, lerp, level_position
from nb201_flat.neighbours import NeighbourArrays
from nb201_flat.space import Space, check_space, masked_as_nan

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AGGREGATES",
    "FLATNESS_COLUMNS",
    "Agg",
    "Neighbourhood",
    "StandIns",
    "aggregate_members",
    "flatness",
    "flatness_columns",
    "neighbourhood_score",
]
FLATNESS_COLUMNS: tuple[str, ...] = (
    "value",
    "n",
    "mean",
    "median",
    "min",
    "max",
    "std",
    "quantile",
    "sharpness",
    "share_within_delta",
)

#: The column :func:`flatness` adds when given ``stand_ins``.
STAND_IN_COLUMN = "n_stand_ins"

OmitStandIns: TypeAlias = Literal["self", "all", "none"]
OMIT_STAND_INS: tuple[str, ...] = ("self", "all", "none")


def _check_stand_ins(
    space: Space, stand_ins: StandIns | None, omit: str | None
) -> tuple[StandIns | None, OmitStandIns]:
    if stand_ins is None:
        if omit is not None:
            raise LandscapeArgumentError(
                f"omit_stand_ins={shown(omit)} applies only with stand_ins (a retraining table's "
                "StandIns.of(table, dataset, epochs)); drop it"
            )
        return None, "self"
    if not isinstance(stand_ins, StandIns):
        raise LandscapeArgumentError(
            f"stand_ins must be a StandIns, got {type(stand_ins).__name__}; build it with "
            "StandIns.of(table, dataset, epochs)"
        )
    stand_ins.check_covers(space.size)
    if omit is None:
        omit = "self"
    check_choice("omit_stand_ins", omit, OMIT_STAND_INS)  # an array too: one line
    return stand_ins, omit  # type: ignore[return-value]


# Rows per chunk so that one gathered block holds about 2M floats (16 MB): keeps the working
# set in cache and the peak memory flat at radius 3 (1,280 neighbours per row).
_CHUNK_ENTRIES = 1 << 21


def _spec(space: Space, radius: int | Neighbourhood | None, **fields: Any) -> Neighbourhood:
    """The neighbourhood asked for, its radius checked against ``space`` by the one radius rule
    (:meth:`Space.check_radius`: an int in 1..n_edges; the spec alone knows only >= 1)."""
    check_space(space)
    if radius is not None and not isinstance(radius, Neighbourhood):
        space.check_radius(radius)
    spec = Neighbourhood.build(radius, **fields)
    space.check_radius(spec.radius)  # a spec built for a larger space
    return spec


def flatness(
    space: Space,
    values: npt.ArrayLike,
    radius: int | Neighbourhood | None = None,
    *,
    exact: bool | None = None,
    include_self: bool | None = None,
    no_none: bool | None = None,
    connected_only: bool | None = None,
    quantile: float | None = None,
    delta: float = 1.0,
    nan_policy: NanPolicy = "omit",
    columns: Iterable[str] | None = None,
    stand_ins: StandIns | None = None,
    omit_stand_ins: OmitStandIns | None = None,
) -> pd.DataFrame:
    """Flatness statistics of every architecture's neighbourhood, one row per architecture.

    Parameters
    ----------
    space
        The search space whose indices ``values`` follows.
    values
        One metric over every architecture (e.g. ``table.vector("cifar10", "ori-test", 200)``).
    radius
        A radius, or a whole :class:`~nb201_flat.neighbourhood.Neighbourhood` specification
        (its ``agg`` is not used: every aggregate is a column).
    exact, include_self, no_none, connected_only, quantile
        Fields of the specification; None keeps the specification's value (the defaults are
        stated in :mod:`nb201_flat.neighbourhood`). ``quantile`` is the level of the
        ``quantile`` column.
    delta
        Tolerance of ``share_within_delta``: the share of members m with |f(m) - f(α)| <= delta.
    nan_policy
        ``"omit"``, ``"propagate"`` or ``"raise"`` (see the module docstring).
    columns
        The columns to compute, in this order (default: all of :data:`FLATNESS_COLUMNS`).
        Only what they need is computed: count, mean, std, sharpness, min and max by the
        structure of the space, in milliseconds even at radius 6; median, quantile and
        share by a chunked gather of the individual values. ``n_stand_ins`` is one of them
        with ``stand_ins`` (and in the default then).
    stand_ins
        The stand-in cells of a retraining table (:meth:`StandIns.of`), for the values'
        dataset and schedule. With them every statistic is computed by the gather.
    omit_stand_ins
        With ``stand_ins``: ``"self"`` (default) leaves out of each neighbourhood the members
        holding the cell's own measurement (its isomorphic copies, or the cell it copies),
        ``"all"`` every stand-in as well, ``"none"`` nothing (see the module docstring). The
        cell itself, a member with ``include_self``, is never left out.

    Returns
    -------
    pandas.DataFrame
        Indexed by architecture ``index``; the ``columns`` (default ``value, n, mean, median,
        min, max, std, quantile, sharpness, share_within_delta``); ``std`` is NaN where fewer
        than two members are measured (see the module docstring). ``df.attrs`` records the
        parameters. With ``stand_ins``, ``n_stand_ins`` counts the members used (among ``n``)
        whose numbers are stand-ins. ``n`` and ``n_stand_ins`` are counts (int64).

    Examples
    --------
    A plateau is flat, an isolated peak is sharp:

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b", "c"), 3)
    >>> f = np.full(space.size, 50.0); f[13] = 90.0
    >>> df = flatness(space, f, radius=1)
    >>> float(df.loc[13, "sharpness"]), float(df.loc[0, "sharpness"])
    (40.0, 0.0)
    >>> float(df.loc[13, "share_within_delta"]), float(df.loc[0, "share_within_delta"])
    (0.0, 1.0)
    >>> flatness(space, f, radius=3, columns=("mean", "sharpness")).columns.tolist()
    ['mean', 'sharpness']
    """
    # pandas here only, for the frame: its import took half of `nb201-flat flatness` (0.2 of
    # 0.4 s), which lists flatness_columns' arrays, and the searches import this module too
    import pandas as pd

    stats = flatness_columns(
        space,
        values,
        radius,
        exact=exact,
        include_self=include_self,
        no_none=no_none,
        connected_only=connected_only,
        quantile=quantile,
        delta=delta,
        nan_policy=nan_policy,
        columns=columns,
        stand_ins=stand_ins,
        omit_stand_ins=omit_stand_ins,
    )
    # the parameters as flatness_columns resolved them (checked there already)
    spec = _spec(
        space,
        radius,
        exact=exact,
        include_self=include_self,
        no_none=no_none,
        connected_only=connected_only,
        quantile=quantile,
    )
    stand, omit = _check_stand_ins(space, stand_ins, omit_stand_ins)
    df = pd.DataFrame(stats, index=pd.RangeIndex(space.size, name="index"))
    df.attrs.update(
        radius=spec.radius,
        exact=spec.exact,
        include_self=spec.include_self,
        no_none=spec.no_none,
        connected_only=spec.connected_only,
        quantile=spec.quantile,
        delta=check_float_range("delta", delta, 0.0),
        nan_policy=nan_policy,
    )
    if stand is not None:
        df.attrs.update(omit_stand_ins=omit)
    return df


def flatness_columns(
    space: Space,
    values: npt.ArrayLike,
    radius: int | Neighbourhood | None = None,
    *,
    exact: bool | None = None,
    include_self: bool | None = None,
    no_none: bool | None = None,
    connected_only: bool | None = None,
    quantile: float | None = None,
    delta: float = 1.0,
    nan_policy: NanPolicy = "omit",
    columns: Iterable[str] | None = None,
    stand_ins: StandIns | None = None,
    omit_stand_ins: OmitStandIns | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """The columns of :func:`flatness`, each a numpy array over every index: the frame's
    contents without the frame (nor pandas, whose import costs a command 0.2 s).

    The parameters are :func:`flatness`'s; the keys are its ``columns``, in their order,
    float64 but for the counts ``n`` and ``n_stand_ins`` (int64).

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b", "c"), 3)
    >>> f = np.full(space.size, 50.0); f[13] = 90.0
    >>> cols = flatness_columns(space, f, radius=1, columns=("n", "sharpness"))
    >>> list(cols), cols["n"][13].item(), cols["sharpness"][13].item()
    (['n', 'sharpness'], 6, 40.0)
    """
    spec = _spec(
        space,
        radius,
        exact=exact,
        include_self=include_self,
        no_none=no_none,
        connected_only=connected_only,
        quantile=quantile,
    )
    stand, omit = _check_stand_ins(space, stand_ins, omit_stand_ins)
    cols = _check_columns(columns, stand is not None)
    if spec.level_unread(given=quantile is not None, column="quantile" in cols):
        what, drop = "quantile=", "quantile="
        if quantile is None:  # held in the spec
            what, drop = f"the quantile {spec.quantile:g} of {spec!r}", "that level"
        raise LandscapeArgumentError(
            f"{what} is the level of the 'quantile' column; add it to columns or drop {drop}"
        )
    v = as_values(space, values)
    check_nan_policy(nan_policy)
    q = spec.quantile
    delta = check_float_range("delta", delta, 0.0)
    if nan_policy == "raise":
        raise_on_nan(v)
    nb = NeighbourRows(space, spec.radius, spec.exact, spec.no_none, spec.connected_only)
    need = {_COLUMN_NEEDS.get(c, c) for c in cols}
    wanted = tuple(
        w for w in ("mean", "median", "min", "max", "std", "quantile", "share") if w in need
    )
    stats = _stats(
        nb,
        v,
        include_self=spec.include_self,
        # the count comes with any statistic; the mean is the cheapest to ask for
        wanted=wanted or ("mean",),
        q=q,
        delta=float(delta),
        propagate=nan_policy == "propagate",
        stand=None if stand is None else (stand, omit),
    )
    stats["value"] = v.copy()  # v may be the caller's array: a column is the caller's to write
    if "mean" in stats:
        stats["sharpness"] = v - stats["mean"]
    if "share" in stats:
        stats["share_within_delta"] = stats["share"]
    return {c: _counted(c, stats[c]) if c in _COUNTS else stats[c] for c in cols}


#: the columns of :func:`flatness` that count members: int64, as a count reads
_COUNTS = frozenset({"n", STAND_IN_COLUMN})


def _counted(name: str, values: FloatArray) -> npt.NDArray[np.int64]:
    """A count column as int64; every row has one (a row without members counts 0)."""
    if np.isnan(values).any():  # never: a NaN would be cast to a number silently
        raise AssertionError(f"flatness column {name} holds NaN where a count belongs")
    return values.astype(np.int64)


# the statistic a flatness column is read from, where it is not the column itself
_COLUMN_NEEDS = {
    "sharpness": "mean",
    "share_within_delta": "share",
    "value": "n",
    STAND_IN_COLUMN: "n",
}


def _check_columns(columns: Iterable[str] | None, stand: bool = False) -> tuple[str, ...]:
    known = (*FLATNESS_COLUMNS, STAND_IN_COLUMN) if stand else FLATNESS_COLUMNS
    if columns is None:
        return known
    if isinstance(columns, str):
        columns = (columns,)
    # columns=3 or an array of names: dict.fromkeys raised a bare TypeError; a generator is
    # read once, into a tuple, before its items are checked
    given = tuple(columns) if isinstance(columns, Iterable) else None
    if given is None or not all(isinstance(c, str) for c in given):
        raise LandscapeArgumentError(
            f"columns must be some of {', '.join(known)}, got {shown(columns)}"
        )
    cols = tuple(dict.fromkeys(given))
    if STAND_IN_COLUMN in cols and not stand:
        raise LandscapeArgumentError(
            f"column {STAND_IN_COLUMN!r} counts the stand-ins that stand_ins names; pass "
            "stand_ins=StandIns.of(table, dataset, epochs) or drop the column"
        )
    bad = [c for c in cols if c not in known]
    if bad or not cols:
        raise LandscapeArgumentError(
            f"columns must be some of {', '.join(known)}, got {shown(list(columns))}"
        )
    return cols


def neighbourhood_score(
    space: Space,
    values: npt.ArrayLike,
    radius: int | Neighbourhood | None = None,
    *,
    agg: Agg | None = None,
    quantile: float | None = None,
    exact: bool | None = None,
    include_self: bool | None = None,
    no_none: bool | None = None,
    connected_only: bool | None = None,
    nan_policy: NanPolicy = "omit",
    stand_ins: StandIns | None = None,
    omit_stand_ins: OmitStandIns | None = None,
) -> FloatArray:
    """The aggregated objective g(f(N(α))) of every architecture, as a vector.

    Parameters
    ----------
    radius
        A radius, or a whole :class:`~nb201_flat.neighbourhood.Neighbourhood` specification.
    agg, quantile, exact, include_self, no_none, connected_only
        Fields of the specification; None keeps its value. ``agg`` is g: ``"mean"``,
        ``"median"``, ``"min"``, ``"max"``, ``"quantile"`` (at ``quantile``) or ``"std"``.
    nan_policy, stand_ins, omit_stand_ins
        As in :func:`flatness`.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(space.size,)``; NaN where the neighbourhood has no measured member
        (or, under ``"propagate"``, any unmeasured one), and under ``agg="std"`` where it has
        fewer than two.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> from nb201_flat.neighbourhood import Neighbourhood
    >>> space = Space(("a", "b"), 3)                     # a cube: 8 cells, 3 neighbours each
    >>> f = np.arange(8.0)
    >>> neighbourhood_score(space, f, 1, agg="max").tolist()
    [4.0, 5.0, 6.0, 7.0, 6.0, 7.0, 7.0, 6.0]
    >>> neighbourhood_score(space, f, 1, agg="mean", include_self=True)[0]
    np.float64(1.75)
    >>> neighbourhood_score(space, f, Neighbourhood(include_self=True))[0]
    np.float64(1.75)
    """
    spec = _spec(
        space,
        radius,
        agg=agg,
        quantile=quantile,
        exact=exact,
        include_self=include_self,
        no_none=no_none,
        connected_only=connected_only,
    )
    spec.check_level_read(given=quantile is not None)  # it would change nothing
    stand, omit = _check_stand_ins(space, stand_ins, omit_stand_ins)
    v = as_values(space, values)
    check_nan_policy(nan_policy)
    if nan_policy == "raise":
        raise_on_nan(v)
    nb = NeighbourRows(space, spec.radius, spec.exact, spec.no_none, spec.connected_only)
    return _score(
        nb,
        v,
        spec,
        propagate=nan_policy == "propagate",
        stand=None if stand is None else (stand, omit),
    )


def aggregate_members(members: npt.ArrayLike, spec: Neighbourhood) -> float:
    """g over one neighbourhood's member values (NaN members omitted; NaN when none is left,
    and ``agg="std"`` NaN when one is). A ``None`` member is missing, as NaN is.

    The same computation as :func:`neighbourhood_score`, for a single row: the search layer
    scores one sampled cell at a time with it. ``members`` lists the cell itself first when
    ``spec.include_self``, then its neighbours in :meth:`NeighbourArrays.of` order.

    >>> from nb201_flat.neighbourhood import Neighbourhood
    >>> aggregate_members([3.0, float("nan"), 1.0, 2.0], Neighbourhood(agg="median"))
    2.0
    >>> aggregate_members([3.0, None, 1.0, 2.0], Neighbourhood(agg="median"))
    2.0
    >>> aggregate_members([], Neighbourhood())
    nan
    """
    if not isinstance(spec, Neighbourhood):  # was a bare AttributeError ('int' has no 'agg')
        raise LandscapeArgumentError(
            f"spec must be a Neighbourhood, got {shown(spec)}; pass e.g. Neighbourhood(agg='median')"
        )
    spec.check_level_read()  # as neighbourhood_score: a quantile the mean would not read

    # the refusal is built only when refused: a search scores each cell it samples with this
    # function, and the members' repr costs 0.2-1.4 ms (24 to 264 members)
    def not_numbers() -> LandscapeArgumentError:
        return LandscapeArgumentError(
            f"members must be numbers (one neighbourhood's values), got {shown(members)}"
        )

    try:
        raw = np.asarray(masked_as_nan(members))  # a masked member is missing, as NaN is
    except ValueError:  # ragged nesting
        raise not_numbers() from None
    if raw.dtype.kind == "O":
        # a list with None in it: None is how a notebook writes a missing value, read as NaN
        # (omitted, as NaN is) like every per-architecture vector's; anything else that is no
        # real number (a list, text) is refused there
        from nb201_flat.table import float_values

        raw = float_values(raw, "members")
    elif raw.dtype.kind not in "biuf":  # text was parsed ('3') or met numpy's bare ValueError
        raise not_numbers()
    m = raw.astype(np.float64, copy=False)  # a float64 vector as it is, as asarray read it
    if m.ndim != 1:  # reshape(1, -1) would pool several neighbourhoods into one
        raise LandscapeArgumentError(
            f"members must be one neighbourhood's values (1-D), got shape {m.shape}; "
            "use neighbourhood_score for every architecture at once"
        )
    g = m.reshape(1, -1)
    if g.size == 0:  # an empty neighbourhood (e.g. only disconnected neighbours, no self)
        return float("nan")
    agg, q = _agg_level(spec)
    out: dict[str, FloatArray] = {agg: np.full(1, np.nan), "n": np.full(1, np.nan)}
    _chunk_stats(g, None, g[:, 0], bool(np.isnan(g).any()), (agg,), q, 0.0, False, out, slice(0, 1))
    return float(out[agg][0])


def _agg_level(spec: Neighbourhood) -> tuple[str, float]:
    """The internal aggregate name and quantile level of a specification's g (the median is
    the quantile at 0.5; another g reads no level, and gets 0.5 as a placeholder)."""
    level = 0.5 if spec.agg == "median" else spec.level
    return ("quantile", level) if level is not None else (spec.agg, 0.5)


def _score(
    nb: NeighbourRows,
    v: FloatArray,
    spec: Neighbourhood,
    *,
    propagate: bool,
    stand: _Stand | None = None,
) -> FloatArray:
    agg, q = _agg_level(spec)
    # the median asked for by name (the same numbers), so that a refusal names it
    agg = "median" if spec.agg == "median" else agg
    stats = _stats(
        nb,
        v,
        include_self=spec.include_self,
        wanted=(agg,),
        q=q,
        delta=0.0,
        propagate=propagate,
        stand=stand,
    )
    return stats[agg]


def _stats(
    nb: NeighbourRows,
    v: FloatArray,
    *,
    include_self: bool,
    wanted: tuple[str, ...],
    q: float,
    delta: float,
    propagate: bool,
    stand: _Stand | None = None,
) -> dict[str, FloatArray]:
    """Count/mean/std/min/max by the structure of the space (no gather: see
    :mod:`~nb201_flat.landscape.aggregates`); what needs individual values by the gather.

    With ``stand`` (stand-ins and what to leave out), the members depend on the row's own
    cell, which the structure does not see: every statistic is gathered, with
    ``n_stand_ins``. A table whose vector holds no stand-in keeps the fast path.
    """
    if stand is not None and not stand[0].any:
        plain = _stats(
            nb, v, include_self=include_self, wanted=wanted, q=q, delta=delta, propagate=propagate
        )
        plain[STAND_IN_COLUMN] = np.where(np.isnan(plain["n"]), np.nan, 0.0)
        return plain
    if stand is not None:
        check_neighbourhood_memory(
            nb, len(wanted) + 2, gather=True, include_self=include_self, stand_ins=True
        )
        named = ("mean", "median", "min", "max", "std", "quantile", "share")
        return _aggregate(
            nb,
            v,
            include_self=include_self,
            wanted=tuple(w for w in named if w in wanted),
            q=q,
            delta=delta,
            propagate=propagate,
            stand=stand,
        )
    fast = supports(wanted, nb.radius, exact=nb.exact)
    # min/max at an exact radius >= 2: by their own (min, +) programme, not the gather
    extremes = tuple(w for w in wanted if w not in fast and w in ("min", "max"))
    slow = tuple(w for w in wanted if w not in fast and w not in extremes)
    check_neighbourhood_memory(
        nb,
        len(wanted) + 1,
        gather=bool(slow),
        include_self=include_self,
        gathered=tuple(_GATHERED_AS.get(w, w) for w in slow),
        extremes=bool(extremes),
    )
    out: dict[str, FloatArray] = {}
    if extremes:
        out.update(_sphere_extremes(nb, v, include_self, propagate, extremes))
    if fast:
        out |= ball_stats(
            nb.space,
            v,
            nb.radius,
            exact=nb.exact,
            include_self=include_self,
            no_none=nb.no_none,
            connected_only=nb.connected_only,
            propagate=propagate,
            wanted=fast,
        )
    if slow:
        gathered = _aggregate(
            nb, v, include_self=include_self, wanted=slow, q=q, delta=delta, propagate=propagate
        )
        out = {**gathered, **out}
    return out


# a gathered statistic as the request names it, where that is another name (a refusal names it)
_GATHERED_AS = {"share": "share_within_delta"}


def _sphere_extremes(
    nb: NeighbourRows, v: FloatArray, include_self: bool, propagate: bool, names: tuple[str, ...]
) -> dict[str, FloatArray]:
    """Min/max over the members at an exact radius, with the gather's NaN conventions."""
    opts = {"no_none": nb.no_none, "connected_only": nb.connected_only}

    def members(every: bool) -> FloatArray:
        # every member (propagate) or the measured ones, as ball_stats counts them
        stats = ball_stats(
            nb.space,
            v,
            nb.radius,
            exact=True,
            include_self=include_self,
            propagate=every,
            wanted=(),
            **opts,
        )
        return stats["n"]

    n = members(propagate)
    nan = np.isnan(v)
    # under propagate a row is poisoned when it has fewer measured members than members;
    # counting the NaN cells at distance r instead also counted cells no_none leaves out
    bad = members(False) < n if propagate and nan.any() else np.zeros(len(v), dtype=bool)
    out: dict[str, FloatArray] = {"n": n}
    for name, sign in (("min", 1.0), ("max", -1.0)):
        if name not in names:
            continue
        m = sphere_min(nb.space, sign * v, nb.radius, **opts)
        if include_self:
            m = np.minimum(m, np.where(nan, np.inf, sign * v))
        res = sign * m
        res[np.isinf(m) | bad] = np.nan
        out[name] = res
    return out


def _aggregate(
    nb: NeighbourArrays | NeighbourRows,
    v: FloatArray,
    *,
    include_self: bool,
    wanted: tuple[str, ...],
    q: float,
    delta: float,
    propagate: bool,
    stand: _Stand | None = None,
) -> dict[str, FloatArray]:
    """Row statistics of ``v`` over every neighbourhood, computed in row chunks; with
    ``stand``, without the members it leaves out, and ``n_stand_ins``."""
    size = len(v)
    width = nb.width + (1 if include_self else 0)
    names = (*wanted, "n") if stand is None else (*wanted, "n", STAND_IN_COLUMN)
    out = {name: np.full(size, np.nan) for name in names}
    if "median" in wanted and "quantile" not in wanted:
        out["quantile"] = np.full(size, np.nan)
    step = max(1, _CHUNK_ENTRIES // max(width, 1))
    any_nan = bool(np.isnan(v).any())
    if "std" in wanted:  # the gather's squares, refused as ball_stats refuses them (not inf)
        check_squarable(v, "the neighbourhood std")
    full = nb.full if isinstance(nb, NeighbourRows) else bool((nb.counts == nb.width).all())
    full = full and stand is None
    starts = range(0, size, step)
    for start in progress(starts, total=len(starts), desc=f"radius-{nb.radius} neighbourhoods"):
        rows = slice(start, min(start + step, size))
        idx = nb.rows(rows) if isinstance(nb, NeighbourRows) else nb.indices[rows]
        if full:
            g = v[idx]
            pad = None
        else:
            pad = idx < 0
            g = v[np.where(pad, 0, idx)]
        flags = None
        if stand is not None and pad is not None:
            pad, flags = _stand_in_members(stand, idx, pad, rows)
        if include_self:
            g = np.concatenate([v[rows, None], g], axis=1)
            if pad is not None:
                pad = np.concatenate([np.zeros((len(g), 1), dtype=bool), pad], axis=1)
            if flags is not None and stand is not None:
                flags = np.concatenate([stand[0].stand_in[rows, None], flags], axis=1)
        _chunk_stats(g, pad, v[rows], any_nan, wanted, q, delta, propagate, out, rows)
        if flags is not None and pad is not None:
            used = ~pad if propagate else ~pad & ~np.isnan(g)  # the members n counts
            out[STAND_IN_COLUMN][rows] = (used & flags).sum(axis=1)
    return out


_Stand: TypeAlias = tuple[StandIns, OmitStandIns]


def _stand_in_members(
    stand: _Stand, idx: npt.NDArray[Any], pad: BoolArray, rows: slice
) -> tuple[BoolArray, BoolArray]:
    """``pad`` with the members ``stand`` leaves out added, and which members are stand-ins."""
    found, omit = stand
    safe = np.where(pad, 0, idx)
    flags = found.stand_in[safe] & ~pad
    if omit == "none":
        return pad, flags
    own = found._own(idx, np.arange(rows.start, rows.stop)[:, None])
    if omit == "all":
        own |= flags
    return pad | own, flags & ~own


def _chunk_stats(
    g: FloatArray,
    pad: BoolArray | None,
    self_values: FloatArray,
    any_nan: bool,
    wanted: tuple[str, ...],
    q: float,
    delta: float,
    propagate: bool,
    out: dict[str, FloatArray],
    rows: slice,
) -> None:
    members = np.full(len(g), g.shape[1], dtype=np.int64) if pad is None else (~pad).sum(axis=1)
    if not any_nan and pad is None:
        # the common case (complete table, no filters): plain reductions, no masks
        present = None
        n = members
    else:
        present = ~np.isnan(g)
        if pad is not None:
            present &= ~pad
        n = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        nf = n.astype(np.float64)
        empty = n == 0
        total = g.sum(axis=1) if present is None else np.where(present, g, 0.0).sum(axis=1)
        mean = total / nf
        results: dict[str, FloatArray] = {}
        if "mean" in wanted or "std" in wanted:
            results["mean"] = mean
        if "std" in wanted:
            dev = g - mean[:, None]
            sq = dev * dev if present is None else np.where(present, dev * dev, 0.0)
            results["std"] = np.sqrt(sq.sum(axis=1) / nf)
            undefine_spread(results["std"], n)  # one member has no spread: NaN, not 0
        if "min" in wanted:
            lo = g if present is None else np.where(present, g, np.inf)
            results["min"] = np.where(empty, np.nan, lo.min(axis=1))
        if "max" in wanted:
            hi = g if present is None else np.where(present, g, -np.inf)
            results["max"] = np.where(empty, np.nan, hi.max(axis=1))
        if "quantile" in wanted or "median" in wanted:
            levels = [q] + ([0.5] if "median" in wanted else [])
            qs = _row_quantiles(g, present, n, levels)
            results["quantile"] = qs[0]
            if "median" in wanted:
                results["median"] = qs[1]
        if "share" in wanted:
            near = np.abs(g - self_values[:, None]) <= delta
            if present is not None:
                near &= present
            share = near.sum(axis=1) / nf
            results["share"] = np.where(np.isnan(self_values), np.nan, share)
    if propagate and present is not None:
        # a NaN among the real members (not the padding) poisons the whole row
        poisoned = n < members
        for arr in results.values():
            arr[poisoned] = np.nan
        n = members
    out["n"][rows] = n
    for name, arr in results.items():
        arr[empty] = np.nan
        if name in out:
            out[name][rows] = arr


def _row_quantiles(
    g: FloatArray, present: BoolArray | None, n: npt.NDArray[np.int64], levels: list[float]
) -> list[FloatArray]:
    """Linear-interpolation quantiles of each row over its present entries.

    Rows are grouped by their count of present entries, so one ``np.partition`` per group
    (linear time) replaces a full sort; absent entries become +inf and sort last.
    """
    x = g if present is None else np.where(present, g, np.inf)
    res = [np.full(len(g), np.nan) for _ in levels]
    for c in np.unique(n):
        if c == 0:
            continue
        rows = np.nonzero(n == c)[0] if present is not None else slice(None)
        where = [level_position(lv, int(c)) for lv in levels]
        kth = sorted({k for lo, hi, _ in where for k in (lo, hi)})
        part = np.partition(x[rows], kth, axis=1)
        for i, (lo, hi, t) in enumerate(where):
            res[i][rows] = lerp(part[:, lo], part[:, hi], t)
    return res
