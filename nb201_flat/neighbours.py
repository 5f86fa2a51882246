"""Hamming neighbourhoods of every architecture of a space, as padded index arrays.

The kernel behind :meth:`Space.neighbours <nb201_flat.space.Space.neighbours>`: for radius r
(exactly r, or 1..r), optionally without substitutions to ``none`` or without disconnected
neighbours, one row of neighbour indices per architecture (:class:`NeighbourArrays`). What a neighbourhood
*is* (radius, filters, self, aggregator) is the value :class:`nb201_flat.neighbourhood.Neighbourhood`.

>>> from nb201_flat.space import NB201
>>> nb = neighbour_arrays(NB201, 1)
>>> nb.width, nb.of(11472).size
(24, 24)
"""

from __future__ import annotations

import itertools
import numbers
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import ArgumentError, Param, check_flag, shown

# no import cycle: space.py imports this module only lazily (in Space.neighbours, and under
# TYPE_CHECKING), so the index rule is imported from space.py at the top, not redefined here
from nb201_flat.space import (
    BoolArray,
    IntArray,
    Space,
    check_arch_index,
    check_space,
    in_index_order,
)

if TYPE_CHECKING:
    from nb201_flat.landscape.stand_ins import StandIns


@dataclass(frozen=True, slots=True, eq=False)
class NeighbourArrays:
    """Neighbour indices of every architecture of a space, as a padded matrix.

    ``indices[i, :counts[i]]`` are the neighbours of architecture ``i`` (ascending by the
    enumeration order: edges changed, then new ops); the rest of the row is ``-1``. Without
    filters every row is full and ``counts`` is constant.
    """

    indices: npt.NDArray[np.int32]
    counts: npt.NDArray[np.int32]
    radius: int
    exact: bool
    no_none: bool
    connected_only: bool

    @property
    def width(self) -> int:
        """Row length of ``indices`` (the largest neighbourhood)."""
        return int(self.indices.shape[1])

    @property
    def mask(self) -> BoolArray:
        """True where ``indices`` holds a neighbour (False on padding)."""
        return self.indices >= 0

    def of(self, index: int) -> npt.NDArray[np.int32]:
        """Neighbours of one architecture; its index is read by the package's one index rule,
        :func:`~nb201_flat.space.check_arch_index` (-1 is no architecture, not the last)."""
        i = check_arch_index(index, len(self.counts))
        return self.indices[i, : self.counts[i]]

    def to_csr(self) -> tuple[IntArray, npt.NDArray[np.int32]]:
        """``(indptr, flat)`` with the neighbours of ``i`` in ``flat[indptr[i]:indptr[i+1]]``."""
        indptr = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=indptr[1:])
        return indptr, self.indices[self.mask]

    def gather(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``values`` of each neighbour, shape ``indices.shape``; NaN on padding."""
        v = arch_vector(values, len(self.counts))
        out = v[np.where(self.mask, self.indices, 0)]
        out[~self.mask] = np.nan
        return out


def arch_vector(values: npt.ArrayLike, size: int) -> npt.NDArray[np.float64]:
    """``values`` as a float64 vector of one number per architecture of a space of ``size``;
    :class:`ArgumentError` for values that are not numbers, a wrong shape or an infinite entry
    (NaN marks an unmeasured architecture). The one check of every per-architecture vector; a
    pandas Series is read by its index (:func:`~nb201_flat.space.in_index_order`).

    >>> arch_vector([1.0, float("inf")], 2)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: values hold 1 infinite entry (first at index 1); a metric is finite: mark an unmeasured architecture with NaN
    """
    values = in_index_order(values, size)  # a pandas Series is read by its labels
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError):  # ragged nesting
        raise _not_numbers(values) from None
    # float64 would read dates as their ns since the epoch, drop an imaginary part, parse
    # text ('3'): none of them is a metric
    if raw.dtype.kind not in "biuf":
        check_real(raw)
    try:
        v = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise _not_numbers(values) from None
    except OverflowError:  # an int beyond a float's range (10**400): numpy's bare error
        raise ArgumentError(
            "values hold a number beyond a float's range (infinite as a float); a metric is "
            "finite: mark an unmeasured architecture with NaN"
        ) from None
    if v.shape != (size,):  # a longer vector would be read silently
        raise ArgumentError(
            f"values must be a vector over the {size} architectures of the space, got "
            f"shape {v.shape}; pass e.g. table.vector(dataset, split, epochs)"
        )
    inf = np.isinf(v)
    if inf.any():
        # one inf turns the structural sums of every cell into NaN, far neighbours included
        n_inf = int(inf.sum())
        raise ArgumentError(
            f"values hold {n_inf} infinite entr{'y' if n_inf == 1 else 'ies'} (first at index "
            f"{int(np.flatnonzero(inf)[0])}); a metric is finite: mark an unmeasured "
            "architecture with NaN"
        )
    return v


def none_code(space: Space, no_none: bool) -> int | None:
    """The code of the op ``none`` when ``no_none`` filters by it (None when it does not);
    :class:`ArgumentError` for ``no_none=True`` on a space without that op, where the filter
    would silently drop nothing. The one rule of every ``no_none`` option.

    >>> none_code(Space(("a", "b"), 3), True)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: no_none=True needs an op named 'none' in the space; drop no_none for this space
    """
    if not check_flag("no_none", no_none):
        return None
    if "none" not in space.ops:
        raise ArgumentError(
            Param("no_none", True),
            " needs an op named 'none' in the space; drop ",
            Param("no_none"),
            " for this space",
        )
    return space.ops.index("none")


def check_connected_only(space: Space, connected_only: bool) -> bool:
    """``connected_only`` as a bool; :class:`ArgumentError` for ``connected_only=True`` on a
    space without an op named ``none``: every cell of it is connected
    (:attr:`Space.connected <nb201_flat.space.Space.connected>`), so the filter would
    silently drop nothing, as :func:`none_code` refuses ``no_none``. The one rule of every
    ``connected_only`` option.

    >>> check_connected_only(Space(("a", "b"), 3), True)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: connected_only=True leaves out disconnected cells, and a space without an op named 'none' has none; drop connected_only for this space
    """
    if not check_flag("connected_only", connected_only):
        return False
    if "none" not in space.ops:
        raise ArgumentError(
            Param("connected_only", True),
            " leaves out disconnected cells, and a space without an op named 'none' has none; "
            "drop ",
            Param("connected_only"),
            " for this space",
        )
    return True


def _not_numbers(values: object) -> ArgumentError:
    return ArgumentError(
        f"values must be numbers, got {type(values).__name__} {str(values)[:60]!r}; "
        "pass e.g. table.vector(dataset, split, epochs)"
    )


def check_real(
    raw: npt.NDArray[Any],
    name: str = "values",
    fix: str = "pass e.g. table.vector(dataset, split, epochs)",
) -> None:
    """:class:`ArgumentError` naming ``name`` unless every entry of a non-numeric array is a
    real number (an object array of ints, floats, bools, Decimals, or None for a missing
    value): float64 would parse text ('3'), count dates in days and drop an imaginary part.
    The rule of every per-architecture vector (:func:`arch_vector`, a table's)."""
    if raw.dtype.kind != "O":
        word = {"U": "text", "S": "bytes", "M": "date", "m": "time span", "c": "complex"}
        raise ArgumentError(
            f"{name} must be numbers, got {word.get(raw.dtype.kind, 'non-numeric')} entries "
            f"(dtype {raw.dtype}); {fix}"
        )
    decimal = sys.modules.get("decimal")  # a Decimal exists only once decimal is loaded
    real = (numbers.Real, np.bool_) + ((decimal.Decimal,) if decimal is not None else ())
    for i, x in enumerate(raw.ravel().tolist()):
        if not (x is None or isinstance(x, real)):
            raise ArgumentError(
                f"{name} must be numbers, got {type(x).__name__} {shown(x)} at index {i}; {fix}"
            )


def neighbour_arrays(
    space: Space,
    radius: int = 1,
    *,
    exact: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
) -> NeighbourArrays:
    """Neighbour index arrays of every architecture at Hamming distance ``radius``.

    Parameters
    ----------
    radius
        Hamming distance, 1..n_edges.
    exact
        True: distance exactly ``radius``; False: distance 1..``radius``.
    no_none
        Drop neighbours reached by substituting ``none`` on any changed edge.
    connected_only
        Drop neighbours whose input does not reach the output.

    The result is cached on the space (``space.clear_cache()`` frees it).
    """
    space = check_space(space)  # a str met an AttributeError on .check_radius
    radius = space.check_radius(radius)
    # no_none="no" would filter, and be cached under "no"
    exact, no_none = check_flag("exact", exact), check_flag("no_none", no_none)
    connected_only = check_connected_only(space, connected_only)
    none = none_code(space, no_none)
    key = ("nbhd", radius, exact, no_none, connected_only)
    if key in space._cache:
        cached: NeighbourArrays = space._cache[key]
        return cached
    _check_arrays_memory(space, radius, exact, no_none, connected_only)
    radii = [radius] if exact else list(range(1, radius + 1))
    blocks = [_exact_neighbours(space, r, none) for r in radii]
    idx = blocks[0][0] if len(blocks) == 1 else np.concatenate([b[0] for b in blocks], axis=1)
    keep = np.ones(idx.shape, dtype=bool)
    if no_none:
        keep &= ~np.concatenate([b[1] for b in blocks], axis=1)
    del blocks
    if connected_only:
        keep &= space.connected[idx]
    idx, counts = _kept(idx, keep)
    nb = NeighbourArrays(idx, counts, radius, exact, no_none, connected_only)
    space._cache[key] = nb
    return nb


def _arrays_bytes(space: Space, radius: int, exact: bool, filtered: bool, no_none: bool) -> int:
    """Peak bytes of :func:`neighbour_arrays`: per entry, the int32 blocks (and their
    concatenation over radii), the keep mask and the ``none`` marks, and where entries are
    filtered the stable sort's int64 order and the int32 rows it gathers."""
    per = 4 + (4 if not exact and radius > 1 else 0) + 1 + 2 * no_none + 12 * filtered
    return space.size * space.neighbourhood_size(radius, exact=exact) * per


def _check_arrays_memory(
    space: Space, radius: int, exact: bool, no_none: bool, connected_only: bool
) -> None:
    """Refuse neighbour arrays that cannot fit, naming the largest radius that does (a
    custom space at radius 2 could outgrow the machine, and met numpy's bare MemoryError)."""
    from nb201_flat.budget import check_memory, fits

    filtered = no_none or connected_only
    need = _arrays_bytes(space, radius, exact, filtered, no_none)
    if fits(need):
        return
    smaller = [r for r in range(radius - 1, 0, -1) if fits(_arrays_bytes(space, r, exact, filtered, no_none))]  # fmt: skip
    check_memory(
        need,
        f"the neighbour arrays of all {space.size:,} cells at radius {radius}"
        + ("" if exact else " or less"),
        f"radius {smaller[0]} or less fits" if smaller else "no radius fits; a smaller space does",
    )


def _kept(
    idx: npt.NDArray[np.int32], keep: BoolArray
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """The entries of each row of ``idx`` where ``keep``, moved to the front in their order,
    the rest ``-1`` (as narrow as the longest row), and their counts; both read-only."""
    if keep.all():
        counts = np.full(len(idx), idx.shape[1], dtype=np.int32)
    else:
        counts = keep.sum(axis=1).astype(np.int32)
        width = int(counts.max(initial=0))
        # a stable sort puts the kept entries first, in their original order
        order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
        idx = np.take_along_axis(idx, order, axis=1)
        idx[np.arange(width)[None, :] >= counts[:, None]] = -1
    idx.setflags(write=False)
    counts.setflags(write=False)
    return idx, counts


def own_left_out(space: Space, nb: NeighbourArrays, stand_ins: StandIns) -> NeighbourArrays:
    """``nb`` (neighbour arrays of ``space``) without, in each row, the members holding the
    row's own measurement (:meth:`StandIns.own <nb201_flat.landscape.stand_ins.StandIns.own>`:
    a retraining table's copies of the cell, or the cell it copies): the neighbourhoods of
    the NA search objective over such a table. Order kept, ``-1`` padding, counts updated.

    Cached on the space, by ``nb``'s filters and the stand-ins (which hash by content); the
    stand-ins are checked against the space when first met (:meth:`StandIns.check_covers`).
    ``nb`` must be the space's own (:meth:`Space.neighbours <nb201_flat.space.Space.neighbours>`),
    another space's is refused: its rows, even as many (another index order), were filtered and
    cached as this space's, and a later call with the right arrays read them back.

    >>> from nb201_flat.landscape.stand_ins import StandIns
    >>> cube = Space(("a", "b"), 3)  # 8 cells, 3 neighbours each
    >>> nb = cube.neighbours(1)
    >>> less = own_left_out(cube, nb, StandIns.build(8, copies=[(1, 0)]))  # cell 1 copies 0
    >>> less.of(0).tolist() == [j for j in nb.of(0).tolist() if j != 1], less.counts.tolist()
    (True, [2, 2, 3, 3, 3, 3, 3, 3])
    """
    _check_own_arrays(space, nb)
    key = ("nbhd-own", nb.radius, nb.exact, nb.no_none, nb.connected_only, stand_ins)
    hit: NeighbourArrays | None = space._cache.get(key)
    if hit is not None:
        return hit
    stand_ins.check_covers(space.size)
    own = stand_ins._own(nb.indices, np.arange(len(nb.counts))[:, None])
    idx, counts = _kept(nb.indices.copy(), nb.mask & ~own)
    out = NeighbourArrays(idx, counts, nb.radius, nb.exact, nb.no_none, nb.connected_only)
    space._cache[key] = out
    return out


def _check_own_arrays(space: Space, nb: NeighbourArrays) -> None:
    """:class:`ArgumentError` unless ``nb`` are ``space``'s own neighbour arrays: the ones its
    cache holds for ``nb``'s radius and filters, or the same rows (built again after
    ``space.clear_cache()``)."""
    if not isinstance(nb, NeighbourArrays):
        raise ArgumentError(
            f"nb must be a space's NeighbourArrays, got {type(nb).__name__} {shown(nb)}; "
            "pass space.neighbours(radius) of the same space"
        )
    flags = (("exact", nb.exact), ("no_none", nb.no_none), ("connected_only", nb.connected_only))
    given = "".join(f", {name}={value}" for name, value in flags if value != (name == "exact"))
    call = f"space.neighbours({nb.radius}{given}) of the same space"
    rows = len(nb.counts)
    if rows != space.size:  # another space's: not worth building this one's to compare
        raise ArgumentError(
            f"nb holds neighbour arrays of {rows:,} cells, not of this space's {space.size:,}; "
            f"pass {call}"
        )
    try:  # the cached arrays (the common case: the same object), or built again
        own = space.neighbours(
            nb.radius, exact=nb.exact, no_none=nb.no_none, connected_only=nb.connected_only
        )
    except ArgumentError as err:  # a radius or filters this space has not
        raise ArgumentError(
            f"nb holds neighbour arrays of another space, at a radius or filters this one "
            f"refuses ({err}); pass space.neighbours(radius) of the same space"
        ) from None
    if own is nb or (
        np.array_equal(own.indices, nb.indices) and np.array_equal(own.counts, nb.counts)
    ):
        return
    raise ArgumentError(
        f"nb holds neighbour arrays of {rows:,} cells but not this space's (another space's "
        f"rows, e.g. another index order); pass {call}"
    )


# the largest table of deltas (old ops x changes x edges) built for a set of edges: beyond it,
# rows are outer sums (the table and its temporaries would outgrow the rows themselves)
_TABLE_ENTRIES: Final = 1 << 20


def _exact_neighbours(
    space: Space, r: int, none: int | None
) -> tuple[npt.NDArray[np.int32], BoolArray]:
    """Neighbour indices at distance exactly r, and whether a changed edge became op ``none``
    (a code; None: not asked).

    Works on lexicographic numbers: changing the ops of the edges in S adds a delta that
    depends only on their old ops and the new ones. Where that table (old ops x changes) is
    small (up to :data:`_TABLE_ENTRIES` entries: NB201 up to r = 4), it is built once for
    each S and gathered per row; beyond, the rows are built edge by edge as outer sums of each
    edge's (cell, change) deltas (NB201 at r = 6: 0.6 s, where a pass per edge over the whole
    result took 11 s). The neighbours' numbers are mapped to indices at the end. Rows are
    already in index order.
    """
    k, n = space.n_ops, space.size
    dtype = np.int32 if n < 2**31 else np.int64
    want_none = none is not None
    # int32 halves the memory traffic; annotated int64 for the type checker only
    base: IntArray = space._lex_of_index.astype(dtype)
    weights: IntArray = space._weights.astype(dtype)
    index_of_lex = space._index_of_lex.astype(np.int32)
    offsets: IntArray = np.array(list(itertools.product(range(1, k), repeat=r)), dtype=dtype)
    subsets = list(itertools.combinations(range(space.n_edges), r))
    m = len(offsets)
    out = np.empty((n, len(subsets) * m), dtype=np.int32)
    to_none = np.zeros(out.shape if want_none else (0, 0), dtype=bool)
    use_table = k**r * (k - 1) ** r * r <= _TABLE_ENTRIES
    if use_table:
        # old ops of the changed edges (all k^r combinations) and their new ops
        olds: IntArray = np.array(list(itertools.product(range(k), repeat=r)), dtype=dtype)
        news: IntArray = olds[:, None, :] + offsets[None, :, :]
        news[news >= k] -= k
        radix: IntArray = (k ** np.arange(r - 1, -1, -1)).astype(dtype)
    else:  # each edge's new op for each of its k - 1 changes, per cell, and its delta
        digit: IntArray = space.codes[:, :, None].astype(dtype)
        shifts: IntArray = np.arange(1, k).astype(dtype)
        new_ops: IntArray = digit + shifts
        new_ops[new_ops >= k] -= k
        steps: IntArray = (new_ops - digit) * weights[None, :, None]
    for s, subset in enumerate(subsets):
        cols = slice(s * m, (s + 1) * m)
        edges = list(subset)
        if use_table:
            delta = ((news - olds[:, None, :]) * weights[edges]).sum(axis=2)
            digits: IntArray = space.codes[:, edges].astype(dtype)
            row_code = digits @ radix
            lex = base[:, None] + delta[row_code]
            if want_none:
                to_none[:, cols] = (news == none).any(axis=2)[row_code]
        else:
            # column (o_1, ..., o_r) in the order of ``offsets``: the first edge's change
            # varies slowest, as each edge's changes are appended innermost
            lex = base[:, None]
            hit = np.zeros((n, 1), dtype=bool)
            for e in edges:
                lex = (lex[:, :, None] + steps[:, e, None, :]).reshape(n, -1)
                if want_none:
                    hit = (hit[:, :, None] | (new_ops[:, e, None, :] == none)).reshape(n, -1)
            if want_none:
                to_none[:, cols] = hit
        out[:, cols] = index_of_lex[lex]
    return out, to_none


def __getattr__(name: str) -> Any:
    # The arrays were called ``Neighbourhood`` until the specification took that name.
    if name == "Neighbourhood":
        warnings.warn(
            "nb201_flat.neighbours.Neighbourhood is now NeighbourArrays; the name Neighbourhood "
            "means the specification nb201_flat.neighbourhood.Neighbourhood",
            DeprecationWarning,
            stacklevel=2,
        )
        return NeighbourArrays
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
