"""The neighbourhood specification: which cells surround an architecture and how their values
are aggregated. One value, one set of defaults, used by the landscape layer
(:func:`~nb201_flat.landscape.flatness`, :func:`~nb201_flat.landscape.neighbourhood_score`), the
search layer's neighbourhood-aware objective
(:class:`~nb201_flat.search.NeighbourObjective`) and the CLI (``flatness``, ``search``,
``reproduce`` share one group of flags).

The defaults (the only place they are stated)
----------------------------------------------
``radius=1``, ``exact=True`` (cells at distance exactly ``radius``), ``include_self=False``
(the architecture is not its own neighbour), ``no_none=False``, ``connected_only=False``,
``agg="mean"``, ``quantile=0.25`` (the level used by ``agg="quantile"`` and by the ``quantile``
column of :func:`~nb201_flat.landscape.flatness`). These are the landscape layer's long-standing
defaults, which its tests pin.

How the quantile level applies (the only place it is decided)
--------------------------------------------------------------
g reads the level under ``agg="quantile"`` only (:attr:`Neighbourhood.level`); another
aggregator holds a level only for flatness's ``quantile`` column, and a reader of g alone
refuses one (:meth:`Neighbourhood.level_unread`). :meth:`Neighbourhood.build` replacing the
quantile aggregator by another takes the level with it. A level is a number in [0, 1]
(:func:`check_level`); the quantile of n sorted values at it interpolates linearly, as
``numpy.quantile``'s default (:func:`level_position`, :func:`lerp`: the landscape's row code and
the search kernels compute it by these two).

The NA paper's objective and this project's committed NA-RS reproduction include the cell itself
and take every cell within the radius: that is :data:`NA_PAPER` (``include_self=True``,
``exact=False``; at radius 1 ``exact`` makes no difference). Name it where it is meant.

Examples
--------
>>> nb = Neighbourhood()
>>> nb
Neighbourhood(r=1, mean)
>>> NA_PAPER
Neighbourhood(r<=1, self, mean)
>>> Neighbourhood(radius=2, agg="quantile", quantile=0.1, no_none=True).label
'r2=,q0.1,noself,nonone'
>>> Neighbourhood(agg="average")
Traceback (most recent call last):
...
nb201_flat.errors.ArgumentError: agg must be one of mean, median, min, max, quantile, std, got 'average'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from nb201_flat.errors import (
    ArgumentError,
    Param,
    check_choice,
    check_flag,
    check_float_range,
    check_int_range,
    shown,
    whole_number,
)

if TYPE_CHECKING:
    from nb201_flat.neighbours import NeighbourArrays
    from nb201_flat.space import Space

#: The aggregate g of a neighbourhood's values (:attr:`Neighbourhood.agg`); ``"quantile"`` at
#: the specification's level (see the module docstring).
Agg: TypeAlias = Literal["mean", "median", "min", "max", "quantile", "std"]
AGGREGATES: tuple[str, ...] = ("mean", "median", "min", "max", "quantile", "std")

#: The field names a :class:`Neighbourhood` can be built from (e.g. keyword options).
FIELDS: tuple[str, ...] = (
    "radius",
    "exact",
    "include_self",
    "no_none",
    "connected_only",
    "agg",
    "quantile",
)


#: The default ``quantile`` level (see the module docstring).
DEFAULT_QUANTILE = 0.25


def check_level(value: object, name: str | Param = "quantile") -> float:
    """A quantile level: a finite number in [0, 1].

    >>> check_level(1.5)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: quantile must lie in [0, 1], got 1.5
    """
    # + 0.0: -0.0 is 0.0 (it was labelled q-0, a variant of its own beside q0)
    return check_float_range(name, value, 0.0, 1.0) + 0.0


def level_position(q: float, n: int) -> tuple[int, int, float]:
    """Where the level-``q`` quantile of ``n >= 1`` sorted values lies: ``(low, high, t)``, the
    quantile being ``lerp(s[low], s[high], t)`` (``numpy.quantile``'s default, "linear").

    Plain arithmetic, so that the search kernels compile this very function.

    >>> level_position(0.25, 5), level_position(0.3, 4)[:2]
    ((1, 2, 0.0), (0, 1))
    """
    pos = q * (n - 1)
    low = math.floor(pos)
    return low, min(low + 1, n - 1), pos - low


def lerp(a: Any, b: Any, t: float) -> Any:
    """``numpy.quantile``'s interpolation between sorted ``a <= b`` (numbers or arrays): stable
    at both ends, exact when ``a == b``, infinite ends included: where its formula meets
    inf - inf or inf * 0 (two tied infinities, an infinite end, ``t`` = 0 beside one), which
    numpy answers NaN, the limit (an infinite end; ``a`` at ``t`` = 0; between -inf and +inf
    the end on ``t``'s side, +inf from 0.5). The same floats elsewhere: the formula never
    leaves ``[a, b]``, so clipping to the nearer end changes only a NaN.

    >>> float(lerp(-math.inf, -math.inf, 0.5)), float(lerp(2.0, math.inf, 0.0))
    (-inf, 2.0)
    """
    diff = b - a
    if t >= 0.5:
        return np.fmin(b - diff * (1.0 - t), b)
    return np.fmax(a + diff * t, a)


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """Which cells form an architecture's neighbourhood, and the aggregator g over their values.

    Attributes
    ----------
    radius
        Hamming radius, >= 1 (at most the space's number of edges, checked against a space).
    exact
        Cells at distance exactly ``radius`` (True) or ``1..radius`` (False).
    include_self
        The architecture is a member of its own neighbourhood.
    no_none
        Drop cells reached by substituting ``none`` on a changed edge.
    connected_only
        Drop cells whose input does not reach the output.
    agg
        g: ``"mean"``, ``"median"``, ``"min"``, ``"max"``, ``"quantile"`` (at ``quantile``)
        or ``"std"`` (population std; undefined, NaN, over fewer than two measured members).
    quantile
        Level in [0, 1] of ``agg="quantile"`` (and of :func:`flatness`'s ``quantile`` column).

    The defaults are stated once, in the module docstring.
    """

    radius: int = 1
    exact: bool = True
    include_self: bool = False
    no_none: bool = False
    connected_only: bool = False
    agg: Agg = "mean"
    quantile: float = 0.25  # DEFAULT_QUANTILE (a field default must be a literal for mypy)

    def __post_init__(self) -> None:
        # parameters, which a command names by its flags (errors.Param)
        check_int_range(Param("radius"), self.radius, 1, fix="pass a Hamming radius such as 1 or 2")
        check_choice(Param("agg"), self.agg, AGGREGATES)
        object.__setattr__(self, "quantile", check_level(self.quantile, Param("quantile")))
        object.__setattr__(self, "radius", int(self.radius))
        for name in ("exact", "include_self", "no_none", "connected_only"):
            object.__setattr__(self, name, check_flag(Param(name), getattr(self, name)))

    @classmethod
    def build(cls, base: Neighbourhood | int | None = None, /, **fields: Any) -> Neighbourhood:
        """A specification from a base (a spec, a radius or None) and fields; None means "not given".

        Another aggregator replacing a base's quantile takes its level with it (the level was
        g's), unless a level is given too.

        >>> Neighbourhood.build(2, include_self=None, agg="min")
        Neighbourhood(r=2, min)
        >>> Neighbourhood.build(NA_PAPER, radius=2)
        Neighbourhood(r<=2, self, mean)
        >>> Neighbourhood.build(Neighbourhood(agg="quantile", quantile=0.1), agg="min")
        Neighbourhood(r=1, min)
        """
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ArgumentError(
                f"unknown neighbourhood field(s) {', '.join(unknown)}; use {', '.join(FIELDS)}"
            )
        given = {k: v for k, v in fields.items() if v is not None}
        if isinstance(base, Neighbourhood):
            if base.level is not None and given.get("agg", "quantile") != "quantile":
                given.setdefault("quantile", DEFAULT_QUANTILE)
            return replace(base, **given) if given else base
        if base is not None:
            # a radius: anything else, or another radius beside radius=, was dropped unread
            if isinstance(base, bool) or whole_number(base) is None:
                raise ArgumentError(
                    f"base must be a Neighbourhood, a radius or None, got {shown(base)}"
                )
            if given.setdefault("radius", base) != base:
                raise ArgumentError(
                    f"radius given twice: base {shown(base)} and ",
                    Param("radius", given["radius"]),
                    "; give one",
                )
        return cls(**given)

    def arrays(self, space: Space) -> NeighbourArrays:
        """The neighbour index arrays of every architecture of ``space`` (cached on the space)."""
        from nb201_flat.space import check_space  # as Space above: imported where used

        return check_space(space).neighbours(
            self.radius, exact=self.exact, no_none=self.no_none, connected_only=self.connected_only
        )

    @property
    def level(self) -> float | None:
        """The quantile level g reads: :attr:`quantile` under ``agg="quantile"``, else None."""
        return self.quantile if self.agg == "quantile" else None

    def level_unread(self, *, given: bool = False, column: bool | None = None) -> bool:
        """Whether a level is set (``given`` as an option, or held at another than the default
        by a g that is not the quantile) where nothing reads it; readers refuse such a level.

        ``column=None``: the reader is g alone, which reads a level under ``agg="quantile"``
        only. Otherwise it is flatness, whose ``quantile`` column (asked for where ``column``)
        reads the level; computing no g, it passes a level that is g's on with the spec.

        >>> held = Neighbourhood(quantile=0.3)
        >>> held.level_unread(), held.level_unread(column=True)
        (True, False)
        """
        held = self._other_level
        if column is None:
            return held or (given and self.level is None)
        return (held or given) and not column

    def check_level_read(self, *, given: bool = False, name: str = "quantile") -> None:
        """Refuse a level that g, the only reader here, does not read (:meth:`level_unread`);
        ``name``: the option as the caller takes it."""
        if not self.level_unread(given=given):
            return
        if given:  # as Params: a command spells them as its flags
            raise ArgumentError(
                Param(name),
                " applies only with ",
                Param("agg", "quantile"),
                f", not {self.agg!r}; add ",
                Param("agg", "quantile"),
                " or drop ",
                Param(name),
            )
        # held by the spec, not passed here: dropping an option the caller never gave is no fix
        raise ArgumentError(
            f"the quantile {self.quantile:g} of {self!r} applies only with agg='quantile', not "
            f"{self.agg!r}; pass agg='quantile' or a Neighbourhood without that level"
        )

    @property
    def agg_label(self) -> str:
        """g as a short tag: the aggregator, or ``q<level>`` for the quantile."""
        return self.agg if self.level is None else f"q{self.level:g}"

    @property
    def label(self) -> str:
        """A short tag: radius (``=`` when exact and > 1), aggregator, self, filters."""
        parts = [
            f"r{self.radius}" + ("=" if self.exact and self.radius > 1 else ""),
            self.agg_label,
        ]
        parts.append("self" if self.include_self else "noself")
        if self.no_none:
            parts.append("nonone")
        if self.connected_only:
            parts.append("conn")
        if self._other_level:
            parts.append(f"qcol{self.quantile:g}")
        return ",".join(parts)

    @property
    def _other_level(self) -> bool:
        # a level that is not the aggregator's: flatness's quantile column reads it, so it is
        # shown (two specs that differ by it printed alike yet compared unequal)
        return self.level is None and self.quantile != DEFAULT_QUANTILE

    def __repr__(self) -> str:
        parts = [f"r{'=' if self.exact else '<='}{self.radius}"]
        for name in ("include_self", "no_none", "connected_only"):
            if getattr(self, name):
                parts.append({"include_self": "self"}.get(name, name))
        parts.append(self.agg if self.level is None else f"quantile({self.level:g})")
        if self._other_level:
            parts.append(f"quantile column {self.quantile:g}")
        return f"Neighbourhood({', '.join(parts)})"


#: The NA paper's neighbourhood: every cell within radius 1 plus the cell itself, mean.
NA_PAPER = Neighbourhood(radius=1, exact=False, include_self=True)
