"""Every barrier between two architectures by its name, and a census of them over many pairs.

A barrier is the mean of the endpoints' values minus the lowest value on a path (the mirror
image for a loss). Between two architectures at Hamming distance d several barriers exist, and
they tell different stories; :func:`pair_barriers` gives each under its own name
(:data:`BARRIER_NAMES`):

- ``best_shortest`` -- *best shortest path*: of the d! fewest-step paths, the one whose worst
  value is highest;
- ``worst_shortest`` -- *worst shortest path*: the paper's definition applied to every
  shortest path, the worst of them;
- ``mean_path`` -- *mean path*: the paper's definition applied to the mean of each level of
  the d! paths (A²M's construction, :func:`~nb201_flat.landscape.a2m.a2m_barrier`);
- ``a2m_code_54ce096`` / ``a2m_code_947bc3e`` -- what A²M's code computes, current version
  and the older one (the pair taken alone; see :func:`~nb201_flat.landscape.a2m.a2m_barriers`
  for a dataset's ordered pairs);
- ``lowest`` -- *lowest over the whole space*: the exact maximin path, of any length
  (:mod:`~nb201_flat.landscape.maximin`). Unmeasured cells (NaN) are impassable, so on a partly
  measured vector it is the lowest through measured cells, an upper bound, and is named so
  (:func:`lowest_name`, :func:`lowest_bound_note`).

Every path from a to b passes both endpoints, so no barrier is below half the gap between
them; the part above it is the barrier *beyond the worse endpoint* (``*_above_worse``). When
the lowest barrier has nothing beyond the worse endpoint, the worse endpoint itself is the
bottleneck: the two are not separated by any valley.

:func:`barrier_census` measures that over many pairs: pairs drawn at random (seeded) inside
A²M's accuracy bands, and every pair of the top k.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("a", "b"), 3)
>>> f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])   # 000 -> 111: level 1 holds 5, 6, 4
>>> r = pair_barriers(space, f, 0, 7)
>>> r.best_shortest, r.worst_shortest, r.mean_path, r.lowest
(2.5, 4.5, 3.5, 2.5)
>>> r.above_worse("lowest")                     # worse endpoint 8, bottleneck 6
2.0
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from nb201_flat import budget
from nb201_flat.errors import (
    ArgumentError,
    Param,
    ParamList,
    Part,
    Spelling,
    check_int_range,
    check_seed,
    parts_of,
    shown,
    spelled,
)
from nb201_flat.landscape._common import (
    ArchLike,
    BoolArray,
    FloatArray,
    IntArray,
    LandscapeArgumentError,
    MissingValueError,
    NanPolicy,
    NoPathError,
    Seed,
    as_values,
    check_band,
    check_nan_policy,
    oriented,
    resolve_index,
    shown_value,
)
from nb201_flat.landscape.a2m import A2MCode, _a2m
from nb201_flat.landscape.maximin import BarrierTree, as_tree, barrier_tree
from nb201_flat.landscape.pair_batch import pair_columns, shortest_paths_measured
from nb201_flat.landscape.paths import (
    LOWEST_BARRIER,
    MAX_SHORTEST_D,
    beyond_worse,
    check_shortest_paths_measured,
    shortest_paths,
    without_lowest_hint,
)
from nb201_flat.neighbours import check_connected_only
from nb201_flat.space import Space, in_index_order
from nb201_flat.types import as_rng

if TYPE_CHECKING:
    import pandas as pd

BARRIER_NAMES: Final[dict[str, str]] = {
    "best_shortest": "best shortest path",
    "worst_shortest": "worst shortest path",
    "mean_path": "mean path (level means)",
    "a2m_code_54ce096": "A²M code, current (54ce096)",
    "a2m_code_947bc3e": "A²M code, 947bc3e",
    "lowest": "lowest over the whole space",
}
"""Key -> the name a reader sees, for every barrier :func:`pair_barriers` reports."""

LOWEST_CONNECTED: Final[str] = "lowest through connected cells"
"""The name of ``lowest`` when the search was confined to connected cells (``connected_only``)."""

TREE_PATH: Final[str] = "spanning-tree path"
"""A path of the maximin spanning tree: its barrier is the lowest, its length not the fewest."""

CENSUS_GROUPS: Final[tuple[str, ...]] = ("top-k", "all")
"""The census's own group names (the top-k pairs; the summary's row over every pair)."""

PATH_BARRIERS: Final[tuple[str, ...]] = ("best_shortest", "worst_shortest", "mean_path", "lowest")
"""The barriers that are the paper's definition on some path (the A²M code versions are not:
they average the start with the first level, not with the end)."""


LOWEST_SOME_UNMEASURED: Final[str] = (
    "lowest through measured cells (an upper bound where cells are unmeasured)"
)
"""The name of ``lowest`` in a legend shared by panels of keys with other counts of unmeasured
cells (:func:`lowest_name` names one key's)."""


def lowest_name(connected_only: bool = False, unmeasured: int = 0, *, exact: bool = False) -> str:
    """The name of ``lowest`` for a search with ``connected_only`` that found ``unmeasured``
    cells without a value it could have crossed (:attr:`BarrierTree.unmeasured`): its name in
    :data:`BARRIER_NAMES` (:data:`LOWEST_CONNECTED`) where there are none, else the lowest
    through measured cells, named an upper bound (:func:`lowest_bound_note` says why), or, for
    one pair's value with nothing beyond the worse endpoint (``exact``), named exact.

    >>> lowest_name(unmeasured=3)
    'lowest through measured cells (an upper bound: 3 cells unmeasured)'
    >>> lowest_name(unmeasured=3, exact=True)
    'lowest over the whole space (exact though 3 cells are unmeasured: at the worse endpoint)'
    """
    name = LOWEST_CONNECTED if connected_only else BARRIER_NAMES["lowest"]
    if not unmeasured:
        return name
    if exact:  # every path passes the worse endpoint: no path through any cell does better
        are = "is" if unmeasured == 1 else "are"
        return f"{name} (exact though {_cells(unmeasured)} {are} unmeasured: at the worse endpoint)"
    cells = "measured connected cells" if connected_only else "measured cells"
    return f"lowest through {cells} (an upper bound: {_cells(unmeasured)} unmeasured)"


def lowest_bound_note(space: Space, unmeasured: int, connected_only: bool = False) -> str | None:
    """Why the lowest barrier is an upper bound, in words, where ``unmeasured`` cells its search
    could cross have no value (:func:`lowest_name`; None where there are none): a path through
    one could be lower; exact where nothing lies beyond the worse endpoint, as every path
    passes it.

    >>> lowest_bound_note(Space(("a", "b"), 3), 1)[:82]
    'the lowest barrier goes through measured cells only (unmeasured: 1 of the 8 cells)'
    """
    if not unmeasured:
        return None
    kind = " connected" if connected_only else ""
    total = int(np.count_nonzero(space.connected)) if kind else space.size
    return (
        f"the lowest barrier goes through measured{kind} cells only (unmeasured: "
        f"{unmeasured:,} of the {total:,}{kind} cells): a path through an unmeasured cell "
        "could be lower, so it is an upper bound, exact where nothing lies beyond the worse "
        "endpoint (no path avoids it, so none has a better bottleneck)"
    )


def _cells(n: int) -> str:
    """``"1 cell"``, ``"3 cells"``."""
    return f"{n:,} cell{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class PairBarriers:
    """Every named barrier between ``a`` and ``b``, in the metric's own units.

    Attributes
    ----------
    best_shortest, worst_shortest, mean_path, a2m_code_54ce096, a2m_code_947bc3e, lowest
        The barriers of :data:`BARRIER_NAMES`.
    lowest_length
        Steps of a lowest-barrier path with the fewest steps.
    n_shortest
        Number of shortest paths, d!.
    best_shortest_above_worse, worst_shortest_above_worse, mean_path_above_worse, \
lowest_above_worse
        Each path barrier beyond the worse endpoint (:meth:`above_worse`).
    """

    a: int
    b: int
    distance: int
    value_a: float
    value_b: float
    best_shortest: float
    worst_shortest: float
    mean_path: float
    a2m_code_54ce096: float
    a2m_code_947bc3e: float
    lowest: float
    lowest_length: int
    n_shortest: int
    best_shortest_above_worse: float
    worst_shortest_above_worse: float
    mean_path_above_worse: float
    lowest_above_worse: float

    def __repr__(self) -> str:  # rounded for display; to_dict() holds the exact values
        named = ", ".join(f"{n}={shown_value(getattr(self, n))}" for n in BARRIER_NAMES)
        return (
            f"PairBarriers({self.a} -> {self.b}, distance={self.distance}, "
            f"values=({shown_value(self.value_a)}, {shown_value(self.value_b)}), {named}, "
            f"lowest_length={self.lowest_length}, n_shortest={self.n_shortest})"
        )

    @property
    def half_gap(self) -> float:
        """Half the gap between the endpoints: the least barrier any path can have."""
        return abs(self.value_a - self.value_b) / 2

    def barrier(self, name: str) -> float:
        """The barrier called ``name`` (a key of :data:`BARRIER_NAMES`)."""
        if name not in BARRIER_NAMES:
            raise LandscapeArgumentError(
                f"unknown barrier {name!r}; choose from {', '.join(BARRIER_NAMES)}"
            )
        value: float = getattr(self, name)
        return value

    def above_worse(self, name: str) -> float:
        """Barrier ``name`` relative to the worse endpoint: worse endpoint minus path minimum
        (:func:`~nb201_flat.landscape.paths.beyond_worse`; the mean path's endpoints are its
        level means). The barrier minus :attr:`half_gap`, but >= 0 and exactly 0 where the
        worse endpoint is the path minimum.

        Defined for the path barriers (:data:`PATH_BARRIERS`) only.
        """
        if name not in PATH_BARRIERS:
            raise LandscapeArgumentError(
                f"the barrier relative to the worse endpoint is defined for "
                f"{', '.join(PATH_BARRIERS)}, not {name!r} (A²M's code does not average the "
                "endpoints)"
            )
        value: float = getattr(self, f"{name}_above_worse")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with ``<name>_above_worse`` beside each path barrier."""
        out: dict[str, Any] = {
            "a": self.a,
            "b": self.b,
            "distance": self.distance,
            "value_a": self.value_a,
            "value_b": self.value_b,
            "half_gap": self.half_gap,
        }
        for name in BARRIER_NAMES:
            out[name] = self.barrier(name)
            if name in PATH_BARRIERS:
                out[f"{name}_above_worse"] = self.above_worse(name)
        out["lowest_length"] = self.lowest_length
        out["n_shortest"] = self.n_shortest
        return out


def pair_barriers(
    space: Space,
    values: npt.ArrayLike | None,
    a: ArchLike,
    b: ArchLike,
    *,
    higher_is_better: bool = True,
    connected_only: bool = False,
) -> PairBarriers:
    """Every named barrier between ``a`` and ``b`` (see the module docstring).

    Parameters
    ----------
    connected_only
        The lowest barrier only through connected cells (the shortest-path barriers follow
        their fixed paths whatever they cross).

    Raises
    ------
    NoPathError
        No path through measured architectures joins them (checked first).
    MissingValueError
        An architecture on the shortest paths has no value (the shortest-path barriers would
        be undefined).
    """
    tree = as_tree(space, values, higher_is_better=higher_is_better, connected_only=connected_only)
    return tree.pair_barriers(a, b)


def pair_barriers_of_tree(tree: BarrierTree, a: ArchLike, b: ArchLike) -> PairBarriers:
    """:meth:`BarrierTree.pair_barriers`: for many pairs, build the tree once."""
    sp, v, hib = tree.space, tree.values, tree.higher_is_better
    ia, ib = resolve_index(sp, a), resolve_index(sp, b)
    paths = shortest_paths(sp, ia, ib)
    w = oriented(v, hib)
    # endpoints and components first (NoPathError, as _unservable orders the causes): the
    # detour hint of an unmeasured shortest path is no use where no path joins the pair
    lowest, steps, bottleneck = tree._lowest(ia, ib)
    check_shortest_paths_measured(w, paths)
    on_paths = w[paths]
    ends = 0.5 * (w[ia] + w[ib])
    path_min = on_paths.min(axis=1)

    def a2m(code: A2MCode | None) -> float:
        # the paths enumerated above, not again for each construction
        return _a2m(sp, v, ia, ib, hib, code, "propagate", paths=paths).barrier

    mean_path = _a2m(sp, v, ia, ib, hib, None, "propagate", paths=paths)
    mean = oriented(mean_path.level_mean, hib)  # the mean path's endpoints: its level means

    return PairBarriers(
        a=ia,
        b=ib,
        distance=paths.shape[1] - 1,
        value_a=float(v[ia]),
        value_b=float(v[ib]),
        best_shortest=float(ends - path_min.max()),
        worst_shortest=float(ends - path_min.min()),
        mean_path=mean_path.barrier,
        a2m_code_54ce096=a2m("54ce096"),
        a2m_code_947bc3e=a2m("947bc3e"),
        lowest=lowest,
        lowest_length=steps,
        n_shortest=len(paths),
        best_shortest_above_worse=float(beyond_worse(w[ia], w[ib], path_min.max())),
        worst_shortest_above_worse=float(beyond_worse(w[ia], w[ib], path_min.min())),
        mean_path_above_worse=float(beyond_worse(mean[0], mean[-1], mean.min())),
        lowest_above_worse=float(beyond_worse(tree.w[ia], tree.w[ib], bottleneck)),
    )


# -- the census --------------------------------------------------------------------------------
CENSUS_COLUMNS: Final[tuple[str, ...]] = (
    "group",
    "a",
    "b",
    "distance",
    "value_a",
    "value_b",
    "half_gap",
    "lowest",
    "lowest_length",
    "best_shortest",
    "mean_path",
    "worst_shortest",
    "lowest_above_worse",
    "best_shortest_above_worse",
    "mean_path_above_worse",
    "worst_shortest_above_worse",
    "no_barrier",
)


def band_pairs(
    space: Space,
    values: npt.ArrayLike,
    band: tuple[float, float],
    n: int,
    *,
    distance: int | None = 3,
    seed: Seed,
    members: npt.ArrayLike | None = None,
) -> list[tuple[int, int]]:
    """``n`` distinct unordered pairs drawn uniformly from the pairs inside ``band``.

    Both endpoints' values lie in ``[lo, hi]`` (both ends included, as A²M's bands); with
    ``distance`` (default 3, A²M's pairs) only pairs at that Hamming distance. Fewer than
    ``n`` pairs come back when the band holds fewer; the order is the draw's.

    ``members``, a boolean mask over the space (e.g. ``space.connected``), keeps the other
    cells out of the draw, as if their values lay outside the band: a band none of whose cells
    is left out draws exactly the pairs it draws without the mask.

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> band_pairs(space, np.arange(8.0), (0, 7), 3, distance=3, seed=0)   # 4 exist
    [(2, 5), (3, 4), (1, 6)]
    >>> band_pairs(space, np.arange(8.0), (0, 7), 3, distance=3, seed=0,
    ...            members=np.arange(8) != 7)   # 0-7 left out: the other three
    [(3, 4), (1, 6), (2, 5)]
    """
    pairs, _ = _draw_band(
        space, values, band, n, distance=distance, rng=as_rng(seed), members=members
    )
    return pairs


def _draw_band(
    space: Space,
    values: npt.ArrayLike,
    band: tuple[float, float],
    n: int,
    *,
    distance: int | None,
    rng: np.random.Generator,
    members: npt.ArrayLike | None = None,
    tree: BarrierTree | None = None,
    shortest_only: bool = False,
) -> tuple[list[tuple[int, int]], dict[str, int]]:
    """:func:`band_pairs`, and with ``tree`` only among the candidate pairs it can serve (the
    census's ``nan_policy="omit"``): endpoints in one of its components and every cell on the
    shortest paths measured (:func:`_unservable`; the draw is then among fewer candidates);
    with ``shortest_only`` (the census) only among pairs at most :data:`MAX_SHORTEST_D` edges
    apart. Returns the pairs and, with either, ``{"candidates": listed, cause: left out}``."""
    v = as_values(space, values)
    n = check_int_range("n", n, 0, fix="the number of pairs to draw")
    lo, hi = check_band("band", band)
    mask = as_members(space, members)
    # every pair of a band of m members is listed before the draw: m (m - 1) / 2 of them
    budget.check_memory(
        census_cost(space, v, {"band": (lo, hi)}, n, 0, distance, members=mask)[1],
        f"the candidate pairs of band [{lo:g}, {hi:g}]",
        "draw at a distance (distance=3) or narrow the band",
    )
    inside = _inside(v, lo, hi, mask)
    members = np.flatnonzero(inside)
    lost = dict.fromkeys(("no_path", "unmeasured"), 0)
    listed = 0
    # a distance is at most MAX_SHORTEST_D here (barrier_census refuses more); any distance
    # reaches the space's edges
    far = shortest_only and distance is None and space.n_edges > MAX_SHORTEST_D
    filtered = tree is not None or far
    if distance is None:
        ii, jj = np.triu_indices(len(members), k=1)
        left, right = members[ii], members[jj]
        del ii, jj  # within the candidates' 40 B: the filter below copies left and right
        listed = len(left)
        if filtered:
            left, right = _servable(space, tree, left, right, lost)
    else:
        distance = check_int_range("distance", distance, 1, space.n_edges, fix="or None for any")
        lefts, rights = [], []
        pieces = _member_pieces(space, distance, len(members))
        for chunk in np.split(members, np.cumsum(pieces)[:-1]):
            rows = _rows_at_distance(space, chunk, distance)
            left = np.repeat(chunk, rows.shape[1])
            right = rows.ravel()
            keep = (right > left) & inside[right]
            left, right = left[keep], right[keep]
            listed += len(left)
            if tree is not None:
                left, right = _servable(space, tree, left, right, lost)
            lefts.append(left)
            rights.append(right)
        left = np.concatenate(lefts) if lefts else np.zeros(0, np.int64)
        right = np.concatenate(rights) if rights else np.zeros(0, np.int64)
    take = rng.choice(len(left), size=min(n, len(left)), replace=False)
    pairs = [(int(left[t]), int(right[t])) for t in take.tolist()]
    return pairs, ({"candidates": listed, **lost} if filtered else {})


OMIT_CAUSES: Final[dict[str, tuple[Part, ...]]] = {
    "no_path": ("no path through measured architectures joins them",),
    "unmeasured": ("an unmeasured architecture lies on their shortest paths",),
    "too_far": (
        f"they differ on more than {MAX_SHORTEST_D} edges: too many shortest paths to enumerate (",
        LOWEST_BARRIER,
        " gives a pair's lowest barrier)",
    ),
}
"""Why the census leaves a pair out: key -> the reason in words, as message parts (a command
names its own way to the lowest barrier). ``nan_policy="omit"`` leaves
out the pairs of the first two; ``too_far`` pairs (a space of more than
:data:`~nb201_flat.landscape.paths.MAX_SHORTEST_D` edges, pairs at any distance or of the top
k) are left out under any policy. A pair no path joins has an unmeasured (or, with
``connected_only``, a disconnected) cell on its shortest paths too; it counts as ``no_path``,
the deeper cause (no detour either), and a pair too far apart as ``too_far`` before
``unmeasured``."""


def _unservable(tree: BarrierTree, a: IntArray, b: IntArray) -> tuple[BoolArray, BoolArray]:
    """Per pair, the causes of :data:`OMIT_CAUSES` that keep the census from serving it:
    ``(no_path, unmeasured)``, at most one each (no path first). What
    :meth:`BarrierTree.pair_barriers` raises on: :class:`NoPathError` (ends in two components
    of the tree, or one outside it) and :class:`MissingValueError` (a cell on the shortest
    paths without a value)."""
    no_path = _no_path(tree, a, b)
    return no_path, ~no_path & ~shortest_paths_measured(tree.space, tree.values, a, b)


def _no_path(tree: BarrierTree, a: IntArray, b: IntArray) -> BoolArray:
    """Per pair, whether no path of ``tree`` joins it (ends in two components, or one outside)."""
    comp = tree.component
    out: BoolArray = (comp[a] != comp[b]) | (comp[a] < 0)
    return out


def _servable(
    space: Space, tree: BarrierTree | None, a: IntArray, b: IntArray, lost: dict[str, int]
) -> tuple[IntArray, IntArray]:
    """The pairs ``(a[i], b[i])`` the census can serve, in order (``a`` and ``b`` themselves
    when it serves them all); each one left out counted in ``lost`` by its cause
    (:data:`OMIT_CAUSES`): too many differing edges, and with ``tree`` (``nan_policy="omit"``)
    those :func:`_unservable` finds. The one filter of the census: a band's candidates before
    the draw, the top k's pairs after it."""
    keep = np.empty(len(a), dtype=bool)
    reach = space.n_edges > MAX_SHORTEST_D  # else no pair is too far (NB201: 6 edges)
    for s in range(0, len(a), _CHECKED_AT_ONCE):
        cut = slice(s, s + _CHECKED_AT_ONCE)
        ca, cb = a[cut], b[cut]
        far = (
            np.count_nonzero(space.codes[ca] != space.codes[cb], axis=1) > MAX_SHORTEST_D
            if reach
            else np.zeros(len(ca), dtype=bool)
        )
        no_path = np.zeros(len(ca), dtype=bool)
        unmeasured = np.zeros(len(ca), dtype=bool)
        if tree is not None:  # a far pair's 2^d cells are not looked up
            no_path[~far], unmeasured[~far] = _unservable(tree, ca[~far], cb[~far])
            no_path[far] = _no_path(tree, ca[far], cb[far])
            far &= ~no_path
        lost["no_path"] += int(np.count_nonzero(no_path))
        lost["unmeasured"] += int(np.count_nonzero(unmeasured))
        if far.any():  # counted where it happens: more than 8 edges (NB201 has 6)
            lost["too_far"] = lost.get("too_far", 0) + int(np.count_nonzero(far))
        keep[cut] = ~(no_path | unmeasured | far)
    return (a, b) if keep.all() else (a[keep], b[keep])


# pairs checked at once (a band's candidates: millions at any distance): a few MB of codes
# and offsets
_CHECKED_AT_ONCE = 1 << 17


# members whose neighbour rows are listed at once: a band's rows in pieces of a few MB
_CHUNK = 512
# at most this many (member, change, edge) entries in one of _rows_at_distance's arrays: at
# distance 6 a member has 4^6 changes of 6 edges, and 512 members took ~300 MB at once
_CHUNK_ENTRIES = 1 << 18


def _chunk_members(space: Space, distance: int) -> int:
    """Members listed at once at ``distance``: at most :data:`_CHUNK`, and few enough that the
    temporaries of :func:`_rows_at_distance` stay a few MB (the order of the rows, and so the
    draw, does not depend on it)."""
    entries = int((space.n_ops - 1) ** distance * distance)  # one subset of edges, per member
    return max(1, min(_CHUNK, _CHUNK_ENTRIES // entries))


def _member_pieces(space: Space, distance: int, m: int) -> list[int]:
    """The sizes of the pieces, in order, in which a band of ``m`` members lists its rows at
    ``distance``: as few as hold at most :func:`_chunk_members` each, as even as
    ``np.array_split`` makes them (``m // size`` pieces would make them up to twice that). The draw
    lists them; :func:`census_cost` charges the largest (``[0]`` for no member).

    >>> from nb201_flat.space import NB201
    >>> _chunk_members(NB201, 3), _member_pieces(NB201, 3, 1100)
    (512, [367, 367, 366])
    """
    n = max(1, -(-m // _chunk_members(space, distance)))
    size, extra = divmod(m, n)
    return [size + 1] * extra + [size] * (n - extra)


def as_members(space: Space, members: npt.ArrayLike | None) -> BoolArray | None:
    """``members`` as a boolean mask over ``space`` (None: every cell); a clear error for
    anything else (an index list would otherwise be read as a mask, or fail deep inside). A
    pandas Series is read by its index (:func:`~nb201_flat.space.in_index_order`)."""
    if members is None:
        return None
    mask = np.asarray(in_index_order(members, space.size, "members"))
    if mask.dtype != np.bool_ or mask.shape != (space.size,):
        raise LandscapeArgumentError(
            f"members must be a boolean mask of {space.size:,} entries (one per architecture, "
            f"e.g. space.connected), got {mask.dtype} of shape {mask.shape}"
        )
    return mask


def _inside(v: FloatArray, lo: float, hi: float, members: BoolArray | None) -> BoolArray:
    """The cells of band ``[lo, hi]`` that may be drawn (``members`` only, when given)."""
    inside = (v >= lo) & (v <= hi)
    return inside if members is None else inside & members


def _rows_at_distance(space: Space, members: IntArray, distance: int) -> IntArray:
    """The neighbours at exactly ``distance`` of ``members``, one row each, in the column order
    of ``space.neighbours(distance).indices`` (edges changed in ``combinations`` order, then
    the new ops in ``product`` order, each a cyclic shift of the old op), without building
    that matrix for the whole space.

    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b", "c"), 3)
    >>> rows = _rows_at_distance(space, np.array([0, 5]), 2)
    >>> bool((rows == space.neighbours(2).indices[[0, 5]]).all())
    True
    """
    k, n_edges = space.n_ops, space.n_edges
    codes = space.codes[members].astype(np.int64)
    # on lexicographic numbers, as the neighbour arrays are built: a change of ops adds a delta
    weights = space._weights.astype(np.int64)
    base = codes @ weights
    shifts = np.array(list(itertools.product(range(1, k), repeat=distance)), dtype=np.int64)
    blocks = []
    for subset in itertools.combinations(range(n_edges), distance):
        edges = list(subset)
        old = codes[:, None, edges]
        new = (old + shifts[None, :, :]) % k
        lex = base[:, None] + ((new - old) * weights[edges]).sum(axis=2)
        blocks.append(space._index_of_lex[lex].astype(np.int64))
    if not blocks:
        return np.zeros((len(codes), 0), dtype=np.int64)
    return np.concatenate(blocks, axis=1)


def band_seed(seed: int, dataset: str) -> int:
    """The seed of the band pair draw on ``dataset`` when one seed serves several datasets
    (the ``census`` command, the census figure): ``seed`` plus the dataset's place among
    A²M's (:data:`~nb201_flat.landscape.statistics.A2M_BANDS`: cifar10 0, cifar100 1,
    ImageNet16-120 2; 0 for any other), so that a dataset draws the same pairs whichever
    others are drawn beside it.

    >>> band_seed(0, "cifar100"), band_seed(5, "ImageNet16-120"), band_seed(3, "toy")
    (1, 7, 3)
    """
    from nb201_flat.conventions import report_dataset
    from nb201_flat.landscape.statistics import A2M_BANDS

    places = {name: k for k, name in enumerate(A2M_BANDS)}
    return seed + places.get(report_dataset(dataset), 0)


def top_pairs(
    space: Space,
    values: npt.ArrayLike,
    k: int,
    *,
    higher_is_better: bool = True,
    members: npt.ArrayLike | None = None,
) -> list[tuple[int, int]]:
    """Every pair of the best ``k`` measured architectures (ties by index), best first.

    ``members``, a boolean mask over the space (e.g. ``space.connected``): the best ``k`` of
    those cells alone.

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> top_pairs(Space(("a", "b"), 3), np.arange(8.0), 3)
    [(7, 6), (7, 5), (6, 5)]
    >>> top_pairs(Space(("a", "b"), 3), np.arange(8.0), 3, members=np.arange(8) != 6)
    [(7, 5), (7, 4), (5, 4)]
    """
    k = check_int_range("k", k, 0)  # [:-1] would keep all but one
    m = min(k, space.size)
    budget.check_memory(128 * m * (m - 1) // 2, f"the pairs of the top {k:,}", "pass a smaller k")
    best = _best(space, as_values(space, values), k, higher_is_better, as_members(space, members))
    return [(int(best[i]), int(best[j])) for i in range(len(best)) for j in range(i + 1, len(best))]


def _best(
    space: Space, v: FloatArray, k: int, higher_is_better: bool, members: BoolArray | None
) -> IntArray:
    """The best ``k`` measured cells (``members`` only, when given), best first, ties by index."""
    w = oriented(v, higher_is_better)
    out = np.isnan(w) if members is None else np.isnan(w) | ~members
    key = np.where(out, -np.inf, w)
    best = np.lexsort((np.arange(space.size), -key))[:k]
    return best[np.isfinite(key[best])]


def barrier_census(
    space: Space,
    values: npt.ArrayLike,
    bands: Mapping[str, tuple[float, float]] | str,
    *,
    n_pairs: int = 100,
    top_k: int = 10,
    distance: int | None = 3,
    seed: Seed,
    higher_is_better: bool = True,
    connected_only: bool = False,
    nan_policy: NanPolicy = "raise",
) -> pd.DataFrame:
    """The exact lowest barrier beside each shortest-path barrier, over many pairs.

    For each accuracy band (``bands``: a dataset name for A²M's bands -- ranges of its
    200-epoch test accuracy, :data:`~nb201_flat.landscape.statistics.A2M_BAND_KEYS`, so
    ``values`` should be that -- or ``{name: (lo, hi)}`` of any metric), ``n_pairs`` pairs
    drawn with :func:`band_pairs` at Hamming distance ``distance`` (seeded; ``n_pairs=0`` for
    none, and then ``distance`` is not used); and every pair of the top ``top_k`` (group
    ``"top-k"``; ``top_k=0`` for none).
    Asking for nothing (both 0, or ``top_k=1``: one architecture makes no pair) is an error.
    A group asked for that holds no pair (a band with no two members at ``distance``) has no
    row: ``attrs["empty"]`` maps its name to why, as message parts
    (:func:`~nb201_flat.errors.spelled` words them), for a note; when no group holds a pair,
    :class:`MissingValueError` says which and what to change.

    With ``connected_only`` the lowest barrier goes through connected cells only, and the pairs
    are drawn among connected architectures only, in the bands and in the top ``top_k`` (a
    disconnected endpoint has no such barrier): ``attrs["left_out"]`` maps each group that
    lost a cell to how many disconnected architectures it left out (a band of no
    disconnected cell draws the pairs it draws without ``connected_only``).

    Missing values (NaN: unmeasured architectures) leave some pairs without a barrier: no path
    through measured (with ``connected_only``, measured connected) architectures joins them,
    or an unmeasured architecture lies on their shortest paths (:data:`OMIT_CAUSES`).
    ``nan_policy`` says what then:

    - ``"raise"`` (default): the first such pair stops the census (:class:`NoPathError` or
      :class:`MissingValueError`, naming the pair and ``nan_policy="omit"``).
    - ``"omit"``: such pairs are left out, and counted (a pair with both causes counts as
      ``no_path``). A band's pairs are drawn among the pairs it can serve -- its candidates
      whose endpoints lie in one component of the measured graph and whose shortest paths are
      all measured -- so the band still yields ``n_pairs`` when it holds that many;
      ``attrs["excluded"]`` maps a band that lost candidates to ``{"candidates": listed,
      "no_path": n, "unmeasured": m}``. The top ``top_k``'s pairs are fixed: one that cannot
      be served is dropped, and ``attrs["omitted"]`` maps ``"top-k"`` to ``{"pairs": asked,
      "no_path": n, "unmeasured": m}``. Where every candidate can be served (a fully measured
      table), the draw and the rows are those of ``"raise"``.
    - ``"propagate"`` is refused: a NaN row would count as a pair in every fraction and median.

    Returns
    -------
    pandas.DataFrame
        One row per pair, columns :data:`CENSUS_COLUMNS`: the barriers of
        :func:`pair_barriers` (the A²M code versions left out), each path barrier also
        relative to the worse endpoint (``*_above_worse``), and ``no_barrier``: the lowest
        barrier has nothing beyond the worse endpoint (``lowest_above_worse`` is exactly 0:
        :func:`~nb201_flat.landscape.paths.beyond_worse` is 0 where the worse endpoint is the
        bottleneck, so no tolerance is needed, and none of a fixed size could serve every
        metric's units).
        ``attrs["seed"]`` keeps the seed when it is an int, ``attrs["top_k"]`` the ``top_k``
        asked for, ``attrs["connected_only"]`` the flag, ``attrs["nan_policy"]`` the policy,
        ``attrs["unmeasured"]`` the cells without a value the lowest barrier's search could
        have crossed (:attr:`BarrierTree.unmeasured`): where any are, ``lowest`` is the lowest
        through measured cells, an upper bound (so its medians are; ``no_barrier`` is exact
        where True, and its fraction a lower bound), named by :func:`lowest_name`.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    >>> df = barrier_census(space, f, {"band": (0, 10)}, n_pairs=2, top_k=2, seed=0)
    >>> df[["group", "a", "b", "lowest", "worst_shortest", "no_barrier"]].to_numpy().tolist()
    [['band', 2, 5, 0.5, 2.5, True], ['band', 3, 4, 1.5, 1.5, True], ['top-k', 0, 7, 2.5, 4.5, False]]
    """
    import pandas as pd  # on first use: `nb201-flat barrier` does not need it

    n_pairs = check_int_range("n_pairs", n_pairs, 0)
    top_k = check_int_range("top_k", top_k, 0)
    band_map = _bands_of(bands, n_pairs, reserved=CENSUS_GROUPS)
    if isinstance(bands, str) and n_pairs and higher_is_better is False:
        # A²M's bands are accuracies: read as a loss, the top-k were the 10 % cells
        raise LandscapeArgumentError(
            f"A²M's bands of {bands!r} are accuracy bands (higher is better), not for ",
            Param("higher_is_better", False),
            "; drop it, or give bands of your own",
        )
    if top_k == 0 and not (n_pairs and band_map):
        none = (
            (Param("n_pairs"), " and ", Param("top_k"), " are both 0")
            if n_pairs == 0
            else ("no band is given and ", Param("top_k"), " is 0")
        )
        raise ArgumentError(
            *none,
            ": the census would compute nothing; give pairs per band (",
            Param("n_pairs", placeholder="N"),
            ") or a top K of 2 or more (",
            Param("top_k", placeholder="K"),
            ")",
        )
    if top_k == 1:
        raise ArgumentError(
            Param("top_k", 1),
            " makes no pair (one architecture); pass ",
            Param("top_k", 0),
            " for no top-k group, or 2 or more",
        )
    if distance is not None and n_pairs:  # checked before it is compared ("3" > 7 raised)
        distance = check_int_range("distance", distance, 1, space.n_edges, fix="or None for any")
    if distance is not None and n_pairs and distance > MAX_SHORTEST_D:
        # every band pair would fail: refused before any is drawn
        raise ArgumentError(
            f"band pairs at distance {distance} have {distance}! shortest paths each, too many to "
            f"enumerate (at most {MAX_SHORTEST_D} differing edges); pass ",
            Param("distance", placeholder=f"1..{MAX_SHORTEST_D}"),
            ", or ",
            LOWEST_BARRIER,
            " for a pair's lowest barrier",
        )
    check_nan_policy(nan_policy)
    if nan_policy == "propagate":
        raise ArgumentError(
            "nan_policy='propagate' does not apply to the census: a pair without a barrier "
            "would be a NaN row, counted as a pair in every fraction and median; use ",
            Param("nan_policy", "omit"),
            " to leave such pairs out and count them, or 'raise'",
        )
    omit = nan_policy == "omit"
    v = as_values(space, values)
    # "no" would cut cells; on a space without 'none' every cell is connected: refused
    connected_only = check_connected_only(space, connected_only)
    # a disconnected endpoint has no lowest barrier through connected cells: not drawn
    members = space.connected if connected_only else None
    total = _check_census_memory(space, v, band_map, n_pairs, top_k, distance, members)
    tree = barrier_tree(space, v, higher_is_better=higher_is_better, connected_only=connected_only)
    rng = as_rng(seed)
    groups: list[tuple[str, Sequence[tuple[int, int]]]] = []
    empty: dict[str, tuple[Part, ...]] = {}
    left_out: dict[str, int] = {}
    excluded: dict[str, dict[str, int]] = {}
    omitted: dict[str, dict[str, int]] = {}

    def served(name: str, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """``pairs`` without those the census cannot serve, counted in ``omitted``."""
        if not pairs or not (omit or space.n_edges > MAX_SHORTEST_D):
            return pairs
        ab = np.array(pairs, dtype=np.int64)
        lost = {"pairs": len(pairs), **dict.fromkeys(("no_path", "unmeasured"), 0)}
        a, b = _servable(space, tree if omit else None, ab[:, 0], ab[:, 1], lost)
        if len(a) == len(pairs):
            return pairs
        omitted[name] = lost
        return list(zip(a.tolist(), b.tolist(), strict=True))

    crowded = False  # a band with two or more members: pairs at another distance may exist
    at = "at any distance" if distance is None else f"at distance {distance}"
    kind = " connected" if connected_only else ""
    for name, (lo, hi) in band_map.items() if n_pairs else ():
        pairs, lost = _draw_band(
            space,
            v,
            (lo, hi),
            n_pairs,
            distance=distance,
            rng=rng,
            members=members,
            tree=tree if omit else None,
            shortest_only=True,
        )
        if any(lost.get(c) for c in OMIT_CAUSES):
            excluded[name] = lost
        groups.append((name, pairs))
        band = (v >= lo) & (v <= hi)
        if members is not None and (band & ~members).any():
            left_out[name] = int(np.count_nonzero(band & ~members))
        if not pairs and lost.get("candidates"):  # every candidate left out
            empty[name] = (
                f"none of its {_pairs(lost['candidates'], f'{kind} candidate')} {at} can be served "
                "(",
                *describe_causes(lost),
                ")",
            )
        elif not pairs:
            m = int(np.count_nonzero(_inside(v, lo, hi, members)))
            crowded |= m > 1 and distance is not None
            empty[name] = (
                f"no two of its {m}{kind} members in [{lo:g}, {hi:g}] lie {at}"
                if m > 1
                else f"it holds {m}{kind} architecture{'' if m == 1 else 's'} in [{lo:g}, {hi:g}]",
            )
    if top_k:
        asked = top_pairs(space, v, top_k, higher_is_better=higher_is_better, members=members)
        top = served("top-k", asked)
        groups.append(("top-k", top))
        if members is not None:
            # the disconnected cells the top k would have held
            n_out = int(np.count_nonzero(~members[_best(space, v, top_k, higher_is_better, None)]))
            if n_out:
                left_out["top-k"] = n_out
        if asked and not top:
            empty["top-k"] = (
                f"none of its {_pairs(len(asked))} can be served (",
                *describe_causes(None, omitted.get("top-k")),
                ")",
            )
        elif not top:
            empty["top-k"] = (f"fewer than 2{kind} architectures are measured",)
    if all(not pairs for _, pairs in groups):
        why = [part for g, parts in empty.items() for part in ("; ", f"{g}: ", *parts)][1:]
        measured = int(
            np.count_nonzero(~np.isnan(v) if members is None else ~np.isnan(v) & members)
        )
        fixes = _no_pair_fixes(crowded, n_pairs, top_k, measured, "top-k" in omitted, left_out)
        raise MissingValueError("no pair to compute: ", *why, "; ", *fixes)
    try:
        columns = _census_columns(tree, groups, total)
    except (NoPathError, MissingValueError) as exc:  # "raise": the first pair it cannot serve
        # the census serves no detour: its one fix is to leave the pair out
        raise type(exc)(
            *without_lowest_hint(parts_of(exc)),
            "; to leave such pairs out of the census and count them, pass ",
            Param("nan_policy", "omit"),
        ) from None
    df = pd.DataFrame(columns, columns=list(CENSUS_COLUMNS))
    if not isinstance(seed, np.random.Generator):  # an int, numpy's too (as_rng checked it)
        df.attrs["seed"] = check_seed(seed)
    df.attrs["top_k"] = top_k
    df.attrs["empty"] = empty
    df.attrs["connected_only"] = connected_only
    df.attrs["left_out"] = left_out
    df.attrs["nan_policy"] = nan_policy
    df.attrs["excluded"] = excluded
    df.attrs["omitted"] = omitted
    df.attrs["unmeasured"] = tree.unmeasured
    return df


def _no_pair_fixes(
    crowded: bool,
    n_pairs: int,
    top_k: int,
    measured: int,
    top_unserved: bool,
    left_out: Mapping[str, int],
) -> tuple[Part, ...]:
    """The fixes of a census that found no pair, as message parts joined by "or": only changes
    that can give one (any distance where a band's members lie at others; a top K where two or
    more cells are measured, a larger one where its pairs could not be served and more cells
    are measured than it holds; dropping ``connected_only`` where it left cells out), and
    always other ``values``. The bands are named only where band pairs were drawn, in a
    :class:`~nb201_flat.errors.ParamList`: a caller that cannot move them (the ``census``
    command, whose bands are A²M's) leaves them out."""
    fixes: list[tuple[Part, ...]] = []
    if crowded:  # a band of two or more members: pairs at another distance may exist
        fixes.append(("draw band pairs at any distance (", Param("distance", None), ")"))
    if measured >= 2 and top_k == 0:
        fixes.append(("add a top K of 2 or more (", Param("top_k", placeholder="K"), ")"))
    elif top_unserved and top_k < measured:  # more cells: pairs that can be served may exist
        fixes.append(("pass a larger top K (", Param("top_k", placeholder="K"), ")"))
    if left_out:
        fixes.append(("drop ", Param("connected_only")))
    other = (Param("bands"), Param("values")) if n_pairs else (Param("values"),)
    # a caller with a name for neither says what the library does
    fixes.append(("choose other ", ParamList(other, " or other ", empty="values")))
    return tuple(part for fix in fixes for part in (", or ", *fix))[1:]


def describe_causes(*counts: Mapping[str, int] | None) -> tuple[Part, ...]:
    """The causes of :data:`OMIT_CAUSES` in ``counts`` (added up), in words, as message parts:
    ``"3 pairs: no path through measured architectures joins them; 1 pair: ..."``. One cause
    alone is named without its count: the caller has said how many pairs it concerns, and this
    is all of them.
    """
    total = {c: sum(int(n.get(c, 0)) for n in counts if n) for c in OMIT_CAUSES}
    found = {c: k for c, k in total.items() if k}
    if len(found) == 1:
        return OMIT_CAUSES[next(iter(found))]
    listed = (("; ", f"{_pairs(k)}: ", *OMIT_CAUSES[c]) for c, k in found.items())
    return tuple(part for parts in listed for part in parts)[1:]


def describe_left_out(
    counts: Mapping[str, int], flag: str = "", *, spell: Spelling | None = None
) -> str:
    """A group's pairs ``nan_policy="omit"`` left out, in words, the count said once: ``counts``
    is an entry of the census's ``attrs["excluded"]`` (candidates left out of a band's draw)
    or ``attrs["omitted"]`` (drawn pairs dropped); ``flag`` in parentheses after it (the CLI's
    ``--nan-policy omit``); the parameters it names as ``spell`` names them (default: as
    Python does; the CLI: its own way to the lowest barrier).

    >>> describe_left_out({"candidates": 605_635, "no_path": 0, "unmeasured": 98_039})
    '98,039 of its 605,635 candidate pairs left out of the draw: an unmeasured architecture lies on their shortest paths'
    """
    n = sum(int(counts.get(c, 0)) for c in OMIT_CAUSES)
    if "candidates" in counts:
        what = f"{_pairs(int(counts['candidates']), ' candidate')} left out of the draw"
    else:
        what = f"{_pairs(int(counts['pairs']))} left out"
    causes = spelled(describe_causes(counts), spell or (lambda _: None))
    return f"{n:,} of its {what}{f' ({flag})' if flag else ''}: {causes}"


def _pairs(n: int, kind: str = "") -> str:
    """``"1 pair"``, ``"3 pairs"``; ``kind`` before the noun."""
    return f"{n:,}{kind} pair{'' if n == 1 else 's'}"


def _census_columns(
    tree: BarrierTree, groups: Sequence[tuple[str, Sequence[tuple[int, int]]]], total: int
) -> dict[str, Any]:
    """The census's columns for every pair of ``groups``, in order: whole columns at once
    (:mod:`~nb201_flat.landscape.pair_batch`), in pieces for the progress bar; a pair left out
    there goes through :meth:`BarrierTree.pair_barriers`, which raises what it raises."""
    names = [name for name, pairs in groups for _ in pairs]
    ab = np.array([pair for _, pairs in groups for pair in pairs], dtype=np.int64).reshape(-1, 2)
    v, cols = tree.values, []
    pieces = np.array_split(np.arange(len(ab)), max(1, -(-len(ab) // _PIECE)))
    for piece in budget.progress(pieces, total=len(pieces), desc=f"census pairs ({total:,})"):
        c = pair_columns(tree, ab[piece, 0], ab[piece, 1])
        c["value_a"], c["value_b"] = v[ab[piece, 0]], v[ab[piece, 1]]
        for i in np.flatnonzero(~c.pop("ok")).tolist():
            r = tree.pair_barriers(int(ab[piece[i], 0]), int(ab[piece[i], 1])).to_dict()
            for name in c:
                c[name][i] = r[name]
        cols.append(c)
    out: dict[str, Any] = {"group": names, "a": ab[:, 0], "b": ab[:, 1]}
    for name in cols[0] if cols else ():
        out[name] = np.concatenate([c[name] for c in cols])
    # as PairBarriers.to_dict computes it, pair by pair
    out["half_gap"] = np.abs(out["value_a"] - out["value_b"]) / 2
    out["no_barrier"] = out["lowest_above_worse"] == 0  # exact: see beyond_worse
    return out


# pairs per piece of the census (a step of its progress bar)
_PIECE = 2048

# Memory of a census, measured with tracemalloc (numpy's buffers included) on the real table
# (cifar10 ori-test, cifar100 / ImageNet16-120 x-test, 200 epochs), the space's caches warm:
# - per pair: the peak grows by 376-378 B a pair from 45k to 180k to 500k pairs (top K of
#   300, 600, 1000) and the same for band pairs (114k at distance 3, 151k at any distance):
#   the drawn pair tuples (~120 B, and 36 B for the draw's index list), the columns in pieces
#   and concatenated, the frame built from them (its final size: 130-134 B a pair). 512 B
#   leaves a third to spare. (The old 1536 B was sized for one dict of columns per pair.)
_PAIR_BYTES = 512
# - per cell of the space: the barrier tree, built first; its build peaks at 12.8-14.3 MB on
#   NB201's 15,625 cells (817-916 B a cell), above any census piece of _PIECE pairs.
_CELL_BYTES = 1024
# - per candidate pair of the largest band (freed before the barriers are computed): at any
#   distance the four int64 arrays of every pair in the band and the generator's permutation
#   of them (drawing 2 % of the candidates or more): 32.0 B a candidate for a few pairs, up to
#   40 with many.
_CANDIDATE_BYTES_ANY = 40
# - at a distance d the members' rows of neighbours are listed a piece of members at a time
#   (at most _chunk_members), and only the in-band pairs kept. Measured on every A²M band of
#   the three keys (63 to 3,162 members), d = 1 to 6, drawing 300 pairs: a piece's rows, their
#   repeat, masks and kept copies take 26.0-27.4 B a listed row (piece x width), and
#   _rows_at_distance's per-subset temporaries up to ~24 B an entry (piece x (k - 1)^d x d: at
#   d = 6 a piece of 11 members peaks at 7.4 MB); the kept pairs, in lists then concatenated,
#   32 B each, 40 with the generator's permutation of them (drawing them all). Peaks 0.9-61 MB
#   (cifar10 band A: 25.8 MB at d = 3, 56.3 at d = 4, 61.1 at d = 5), where the old 32 B a
#   listed row estimated up to 622 MB (129.5 MB at d = 3): the kept pairs are a fraction of
#   the rows (641,010 of 4,047,360 at d = 3), counted exactly by _pairs_at_distance. These
#   bytes estimate 1.25-1.93x the peaks drawing 300 pairs, 1.37x or more drawing them all
#   (d = 1 to 3); a census of 300 pairs a band and the top 10 at d = 3 peaks at 29.9 / 24.2 /
#   15.8 MB and is estimated 61.1 / 44.8 / 31.1 MB (cifar10 / cifar100 / ImageNet16-120;
#   the old estimate: 146 MB for cifar10).
_ROW_BYTES = 28
_SUBSET_BYTES = 32
_KEPT_BYTES = 40
# - per cell of the space, counting a band's pairs at a distance (_pairs_at_distance, before
#   the listing): its FFTs peak at 0.92 MB on NB201 (59 B a cell).
_COUNT_BYTES = 80


def census_cost(
    space: Space,
    values: npt.ArrayLike,
    bands: Mapping[str, tuple[float, float]] | str,
    n_pairs: int,
    top_k: int,
    distance: int | None,
    *,
    members: npt.ArrayLike | None = None,
) -> tuple[int, int]:
    """``(pairs, bytes)``: how many pairs :func:`barrier_census` will compute (at most) and the
    memory it needs at its peak, known before anything is drawn.

    A band's pairs are drawn from every pair inside it (``distance=None``: a band of ``m``
    members lists ``m (m - 1) / 2`` of them, four int64 arrays) or from its members' rows of
    neighbours at ``distance``, a piece of members at a time, keeping the pairs inside it
    (counted exactly by :func:`_pairs_at_distance`); the top ``k`` give ``k (k - 1) / 2``
    pairs. The bytes add the
    barrier tree (a fixed cost per cell of the space), the largest band's candidates (none
    with ``n_pairs=0``: no band is drawn) and a measured cost per pair. ``members``, as
    :func:`band_pairs` and :func:`top_pairs` take it: only those cells count (the census
    passes ``space.connected`` under ``connected_only``).

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> census_cost(Space(("a", "b"), 3), np.arange(8.0), {"all": (0, 7)}, 100, 3, None)
    (31, 25184)
    """
    v = as_values(space, values)
    mask = as_members(space, members)
    # as barrier_census checks them: -100 pairs gave a negative count, 2.5 a float one, and a
    # reversed band was read as empty
    n_pairs = check_int_range("n_pairs", n_pairs, 0)
    top_k = check_int_range("top_k", top_k, 0)
    band_map = _bands_of(bands, n_pairs)
    if distance is not None and n_pairs:  # the band pairs' distance: none drawn, none checked
        distance = check_int_range("distance", distance, 1, space.n_edges, fix="or None for any")
    pairs = 0
    draw = 0  # the largest band's list of candidate pairs, built one band at a time
    for lo, hi in band_map.values() if n_pairs else ():
        inside = _inside(v, lo, hi, mask)
        m = int(np.count_nonzero(inside))
        if distance is None:
            listed = m * (m - 1) // 2
            draw = max(draw, _CANDIDATE_BYTES_ANY * listed)
        else:
            listed = _pairs_at_distance(space, inside, distance)
            piece = max(_member_pieces(space, distance, m))  # members listed at once
            width = space.neighbourhood_size(distance, exact=True)
            subsets = (space.n_ops - 1) ** distance * distance
            rows = piece * (_ROW_BYTES * width + _SUBSET_BYTES * subsets)
            draw = max(draw, rows + _KEPT_BYTES * listed, _COUNT_BYTES * space.size)
        pairs += min(n_pairs, listed)
    measured = ~np.isnan(v) if mask is None else ~np.isnan(v) & mask
    k = min(top_k, int(np.count_nonzero(measured)))
    pairs += k * (k - 1) // 2
    return pairs, space.size * _CELL_BYTES + draw + pairs * _PAIR_BYTES


def _pairs_at_distance(space: Space, inside: BoolArray, distance: int) -> int:
    """The unordered pairs of ``inside`` cells at Hamming distance ``distance``, exactly,
    without listing them: the autocorrelation of the cells' indicator over the grid of op
    codes (one FFT of the space; its entry at offset z counts the pairs x - y = z, mod the
    number of ops), summed over the offsets that change ``distance`` edges.

    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)
    >>> [_pairs_at_distance(space, np.ones(8, bool), d) for d in (1, 2, 3)]   # a cube
    [12, 12, 4]
    """
    k, e = space.n_ops, space.n_edges
    m = int(np.count_nonzero(inside))
    if space.size != k**e or m < 2:  # every code a cell (NB201's 5^6), else the bound
        return m * space.neighbourhood_size(distance, exact=True) // 2 if m >= 2 else 0
    at = tuple(space.codes.T)  # each cell's place in the grid, and as an offset
    grid = np.zeros((k,) * e)
    grid[at] = inside
    spectrum = np.fft.rfftn(grid)
    spectrum *= spectrum.conj()
    auto = np.fft.irfftn(spectrum, grid.shape, axes=tuple(range(e)))[at]
    # integer counts up to m^2, read back from floats whose error is ~1e-12 of m^2
    return round(float(auto[_edges_changed(space) == distance].sum())) // 2


@cache
def _edges_changed(space: Space) -> IntArray:
    """Per cell, the number of edges whose op is not the first: the distance an offset of
    these codes moves."""
    changed: IntArray = np.count_nonzero(space.codes, axis=1).astype(np.int64)
    return changed


def _check_census_memory(
    space: Space,
    v: npt.NDArray[np.float64],
    bands: Mapping[str, tuple[float, float]],
    n_pairs: int,
    top_k: int,
    distance: int | None,
    members: BoolArray | None,
) -> int:
    """The number of pairs; :class:`ResourceLimitError` when the census cannot fit, naming
    what would (a distance instead of all pairs of a band, a smaller top K, fewer pairs)."""

    def need(n: int, k: int, d: int | None) -> int:
        return census_cost(space, v, bands, n, k, d, members=members)[1]

    pairs = census_cost(space, v, bands, n_pairs, top_k, distance, members=members)[0]
    if budget.fits(need(n_pairs, top_k, distance)):
        return pairs
    options: list[tuple[Part, ...]] = []
    if distance is None and space.n_edges >= 3 and budget.fits(need(n_pairs, top_k, 3)):
        options.append(
            (Param("distance", 3), " (pairs drawn among neighbours, not among all pairs)")
        )
    ks = [k for k in (1000, 300, 100, 30, 10) if k < top_k]
    fitting = [k for k in ks if budget.fits(need(n_pairs, k, distance))]
    if fitting:
        options.append((Param("top_k", fitting[0]),))
    if n_pairs > 10 and budget.fits(need(10, 0, distance)):
        options.append(("fewer ", Param("n_pairs")))
    budget.check_memory(
        need(n_pairs, top_k, distance),
        f"a barrier census of {pairs:,} pairs",
        [*(p for i, o in enumerate(options) for p in (" or ",) * bool(i) + o), " fits"]
        if options
        else "nothing smaller fits either",
    )
    return pairs


def _bands_of(
    bands: object, n_pairs: int, reserved: tuple[str, ...] = ()
) -> dict[str, tuple[float, float]]:
    """The checked bands a census draws its pairs in
    (:func:`~nb201_flat.landscape.statistics.check_bands`). With ``n_pairs=0`` no band is
    drawn, so a dataset's name is not looked up: one A²M gives no bands (a dataset of one's
    own) serves its top k alone; bands given as a mapping are checked all the same."""
    from nb201_flat.landscape.statistics import check_bands

    if isinstance(bands, str) and not n_pairs:
        return {}
    return check_bands(bands, reserved=reserved)


def census_summary(census: pd.DataFrame) -> pd.DataFrame:
    """Per group (and ``"all"``): the number of pairs, the fraction with no barrier beyond the
    worse endpoint, the fraction whose lowest path is no longer than the Hamming distance, and
    the median of each barrier and of its part beyond the worse endpoint.

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    >>> df = barrier_census(Space(("a", "b"), 3), f, {"band": (0, 10)}, n_pairs=4, top_k=0, seed=0)
    >>> census_summary(df)[["group", "pairs", "no_barrier"]].to_numpy().tolist()
    [['band', 4, 0.75]]
    """
    import pandas as pd  # on first use: `nb201-flat barrier` does not need it

    names = ["lowest", "best_shortest", "mean_path", "worst_shortest"]
    if not isinstance(census, pd.DataFrame):  # census.groupby: an AttributeError
        raise LandscapeArgumentError(
            f"census must be the frame barrier_census returns, got {shown(census)}"
        )
    need = ["group", "no_barrier", "lowest_length", "distance", *names]
    lacks = [c for c in need + [f"{n}_above_worse" for n in names] if c not in census.columns]
    if lacks:  # pandas answered with a bare KeyError naming the first
        raise LandscapeArgumentError(
            f"census lacks column(s) {', '.join(lacks)}; pass the frame barrier_census returns"
        )
    if census.empty:  # no group: a summary of nothing
        raise LandscapeArgumentError("census has no pairs; pass the frame barrier_census returns")
    out = []
    parts = [(str(g), part) for g, part in census.groupby("group", sort=False)]
    if len(parts) > 1:
        parts.append(("all", census))
    for g, part in parts:
        row: dict[str, Any] = {
            "group": g,
            "pairs": len(part),
            "no_barrier": float(part["no_barrier"].mean()),
            "lowest_is_shortest": float((part["lowest_length"] == part["distance"]).mean()),
        }
        for name in names:
            row[f"median_{name}"] = float(part[name].median())
        for name in names:
            row[f"median_{name}_above_worse"] = float(part[f"{name}_above_worse"].median())
        out.append(row)
    return pd.DataFrame(out)
