"""Neighbourhood aggregates of every architecture by the structure of the space.

A cell space with ``k`` ops on ``E`` edges is the product of ``E`` complete graphs ``K_k``: two
cells are at Hamming distance ``d`` when they differ on ``d`` edges. Lay a metric out as a
tensor with one axis per edge (the base-``k`` code of the ops, first edge most significant;
for NB201 the official index is permuted into that order and back). Then:

* **Sums by exact distance.** Let ``T_e`` be "every *other* op on edge ``e``" applied along
  axis ``e`` (the matrix ``J - I``: sum of the axis minus the own entry). Keep one array
  ``A[d]`` per distance ``d = 0..R``, starting from ``A[0] = x``. Processing the edges one by
  one, ``A[d] += T_e(A[d - 1])`` (``d`` from high to low) counts every way of changing edge
  ``e`` on top of the ``d - 1`` changes already made on earlier edges. After all edges,
  ``A[d][a]`` is the sum of ``x`` over the cells at distance exactly ``d`` from ``a``. That is
  ``O(E * R * N)`` time and ``O(R * N)`` memory for all radii at once, against
  ``N * |ball|`` entries for a gather. Running it on ``x``, ``x**2`` and a 0/1 mask gives the
  sum, sum of squares and count; masked entries (NaN values, disconnected cells) are value 0
  with count 0. Without substitutions to ``none`` (``no_none``), ``T_e`` sums only the ops
  other than the own one *and* other than ``none``.
* **Min and max within a radius.** The radius-1 filter ``F(x)[a] = min(x[a], x[b] : d(a,b)=1)``
  is the minimum over the edges of a per-axis minimum; ``r`` passes of ``F`` give the minimum
  over the closed ball of radius ``r`` (with ``no_none``, each step may only change an edge to
  an op other than ``none``, which reaches exactly the filtered ball). Without the cell
  itself, every member differs on some edge ``e``: the minimum is, over ``e``, the per-axis
  minimum over the *other* ops of ``e`` followed by ``r - 1`` passes of ``F`` on the
  remaining axes. Minimum and maximum at an *exact* radius ``r >= 2`` are not compositions of
  those ball passes; :func:`sphere_min` computes them by its own lexicographic pass, and
  :func:`supports` leaves them out of :func:`ball_stats`.

Counts, sums and sums of squares are channels of one programme, and only the channels a call
needs are run. Arrays larger than a core's cache run block by block (rows, then columns
copied into one reused buffer), each level written at its first step rather than zeroed
first; blocks are shared among threads (``NB201_FLAT_THREADS``, default the usable cores up
to 4) with the same bits whatever their number.

Medians, quantiles and the share within ``delta`` need individual values: they stay on the
gather of :mod:`nb201_flat.landscape.neighbourhood`, which reads neighbour rows chunk by chunk
from :func:`neighbour_rows` at large radii instead of caching the whole index matrix.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> space = Space(("a", "b", "c"), 3)                  # 3 ops x 3 edges: 27 cells
>>> sums = exact_distance_sums(space, np.ones(space.size), 3)
>>> sums[:, 0].tolist()                                # cells at distance 0, 1, 2, 3
[1.0, 6.0, 12.0, 8.0]
>>> f = np.arange(27.0)
>>> radius_profile(space, f, 3)["n"][:, 0].tolist()     # within 1, 2, 3
[6.0, 18.0, 26.0]
>>> st = ball_stats(space, f, 1, wanted=("mean", "min", "max"))
>>> float(st["n"][0]), float(st["mean"][0]), float(st["min"][13]), float(st["max"][13])
(6.0, 6.5, 4.0, 22.0)
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import check_flag, check_int_range
from nb201_flat.landscape._common import FloatArray, IntArray, LandscapeArgumentError, as_values
from nb201_flat.neighbours import NeighbourArrays, check_connected_only, none_code
from nb201_flat.space import Space, check_arch_indices

FAST_STATS: tuple[str, ...] = ("n", "mean", "std", "min", "max")
"""Statistics :func:`ball_stats` serves (min/max only where :func:`supports` says so)."""

#: The fewest measured members a spread (``std``) is defined over: one value has no spread,
#: and its population std of 0 would rank such a neighbourhood as the flattest. Below it the
#: std is NaN, as every statistic of a neighbourhood without a measured member.
MIN_SPREAD_MEMBERS = 2


def undefine_spread(std: FloatArray, n: npt.ArrayLike) -> None:
    """Set ``std`` to NaN, in place, where ``n`` (the measured members) is below
    :data:`MIN_SPREAD_MEMBERS`."""
    std[np.asarray(n) < MIN_SPREAD_MEMBERS] = np.nan


# -- layout: official index <-> base-k tensor ---------------------------------------------------
@lru_cache(maxsize=8)
def _lex_of_index(space: Space) -> IntArray | None:
    """Base-k number of each index, or None when the index already is that number."""
    if space.index_order == "lexicographic":
        return None
    weights = space.n_ops ** np.arange(space.n_edges - 1, -1, -1, dtype=np.int64)
    lex: IntArray = space.codes.astype(np.int64) @ weights
    lex.setflags(write=False)
    return lex


def _put_lex(space: Space, dst: FloatArray, x: FloatArray) -> None:
    """Write ``x`` (index order) into ``dst`` in base-k order."""
    lex = _lex_of_index(space)
    if lex is None:
        dst[...] = x
    else:
        dst[lex] = x


def _from_lex(space: Space, x: FloatArray) -> FloatArray:
    """Back to index order along the last axis."""
    lex = _lex_of_index(space)
    if lex is None:
        return x
    out: FloatArray = x[..., lex]
    return out


def _check_values(space: Space, values: npt.ArrayLike) -> FloatArray:
    # the landscape layer's one check: shape, numbers, no infinite value (NaN: missing)
    return as_values(space, values)


# Squares of values below about 1e-154 underflow: a spread of such values was summed as 0 and
# served as an exact 0 (every cell the flattest). Values whose largest |value| lies below
# _SCALE_BELOW are summed scaled up by a power of two (exact) and their statistics scaled
# back; a cell whose own centred values lie below _SQUARABLE next to larger ones elsewhere
# (their squares lost) is recomputed from its members, each ball scaled the same way.
_SCALE_BELOW = 2.0**-256
_SQUARABLE = 2.0**-480


def _scaled_up(v: FloatArray) -> tuple[FloatArray, int]:
    """``v`` times ``2**k``, and ``k``: ``v`` itself and 0 unless its largest ``|value|``
    lies below :data:`_SCALE_BELOW`, else scaled so that it lies in [0.5, 1). A power of two
    changes no digit, so the statistics, scaled back by ``2**-k``, are those of ``v``."""
    lo, hi = float(np.fmin.reduce(v)), float(np.fmax.reduce(v))  # NaN left out, no copy
    top = max(-lo, hi)  # NaN where every value is NaN: not scaled
    if not 0.0 < top < _SCALE_BELOW:
        return v, 0
    k = -math.frexp(top)[1]
    return np.ldexp(v, k), k


def _scaled_back(out: dict[str, FloatArray], k: int) -> None:
    """Undo :func:`_scaled_up`'s ``2**k`` on the statistics in ``out`` (not the counts)."""
    if k:
        for name, arr in out.items():
            if name != "n":
                np.ldexp(arr, -k, out=arr)


def _check_radius(space: Space, radius: int, *, allow_zero: bool = False) -> int:
    # the space's radius rule (int() would make radius 1.5 radius 1); 0 only where it means
    # the cell alone
    if allow_zero:
        return check_int_range("radius", radius, 0, space.n_edges)
    return space.check_radius(radius)


def _check_flags(**flags: bool) -> tuple[bool, ...]:
    """Each yes/no option as a bool, in the order given (``"no"`` would read as yes)."""
    return tuple(check_flag(name, flag) for name, flag in flags.items())


def _wanted_names(wanted: Iterable[str]) -> tuple[str, ...]:
    """``wanted`` as statistic names; one name as a str is refused (it was read letter by
    letter: 'not m, e, a')."""
    if isinstance(wanted, str):
        raise LandscapeArgumentError(
            f"wanted must be a tuple of statistic names, got the one str {wanted!r}; pass "
            f"({wanted!r},)"
        )
    return tuple(wanted)


# -- sums by exact distance ------------------------------------------------------------------
def hamming_sums(
    x: FloatArray,
    n_ops: int,
    n_edges: int,
    radius: int,
    none_code: int | None = None,
    *,
    cumulative: bool = False,
) -> FloatArray:
    """The dynamic programme itself, on any product of complete graphs ``K_k^E``.

    Parameters
    ----------
    x
        ``n_ops ** n_edges`` values in base-``n_ops`` order (first axis most significant).
    radius
        Largest distance kept.
    none_code
        If given, only changes to an op other than this code count (``no_none``).
    cumulative
        Rows ``1..radius`` hold the sums over distances ``1..d`` (within ``d``, without the
        point itself) instead of exactly ``d``; summed block by block while in cache.

    Returns
    -------
    numpy.ndarray
        Shape ``(radius + 1, x.size)``, in the order of ``x``: row ``d`` sums ``x`` over the
        points at Hamming distance exactly ``d``.

    Examples
    --------
    >>> import numpy as np
    >>> hamming_sums(np.arange(4.0), 2, 2, 2).tolist()   # the square 00, 01, 10, 11
    [[0.0, 1.0, 2.0, 3.0], [3.0, 3.0, 3.0, 3.0], [3.0, 2.0, 1.0, 0.0]]
    """
    # whole numbers, not int() of them (radius 1.5 summed distance 1 alone, n_ops 2.5 as 2)
    k = check_int_range("n_ops", n_ops, 2)
    n_edges = check_int_range("n_edges", n_edges, 1)
    radius = check_int_range("radius", radius, 0)
    if none_code is not None:  # 7 of 2 ops met a bare IndexError
        none_code = check_int_range("none_code", none_code, 0, k - 1)
    x = np.asarray(x, dtype=np.float64)  # a list met a bare AttributeError
    if x.shape != (k**n_edges,):
        raise LandscapeArgumentError(
            f"x must have n_ops ** n_edges entries, got shape {x.shape} for {k} ops on "
            f"{n_edges} edges"
        )
    if not np.isfinite(x).all():  # one NaN made every sum at distance 2 NaN
        raise LandscapeArgumentError(
            "x holds NaN or infinite values, and a sum over a neighbourhood of one is not a "
            "number; fill them first, or use the gathered statistics (flatness), which skip them"
        )
    acc = np.empty((radius + 1, 1, x.size))
    acc[0, 0] = x
    top = min(radius, n_edges)
    _programme(acc[: top + 1], k, n_edges, none_code, cumulative=cumulative)
    # beyond the diameter: no more cells
    acc[top + 1 :] = acc[top] if cumulative and top > 0 else 0.0
    out: FloatArray = acc[:, 0]
    return out


# Working set of one block of the blocked programme (a share of a core's L2 cache).
_CACHE_BYTES = 1 << 21
# Smallest programme (all levels and channels) shared among threads.
_THREADS_FROM_BYTES = 1 << 25


def _programme(
    acc: FloatArray,
    k: int,
    n_edges: int,
    none: int | None,
    *,
    cumulative: bool = False,
    row: int | None = None,
) -> FloatArray:
    """Run the programme on ``acc`` (levels x channels x cells), ``acc[0]`` holding the values.

    Every channel is an independent vector (values, their squares, a mask) that shares the
    passes. The other levels need no initial value: each is written at its first step (the
    radius is at most ``n_edges``). Returns ``acc`` itself with every level filled, or, with
    ``row``, a new array holding that level only (shape channels x cells), so that the caller
    can let the working levels go.
    """
    levels, n_ch, n = acc.shape
    radius = levels - 1
    if radius > n_edges:
        raise AssertionError("radius beyond the diameter")
    if radius == 0:
        return acc if row is None else acc[row].copy()
    if n_edges < 2 or n * levels * 8 <= _CACHE_BYTES:
        _axis_steps(acc.reshape(levels, -1), k, n_edges, 0, radius, none, 1, _total_buffer(acc))
        if cumulative:
            for d in range(2, levels):
                acc[d] += acc[d - 1]
        return acc if row is None else acc[row].copy()
    # Too big for the cache: every (edge, distance) step would stream the levels through
    # memory. The steps of different edges commute, so the last edges run first on blocks of
    # whole rows (contiguous), then the first edges on blocks of columns copied into one
    # reused buffer: the levels cross memory about three times instead of once per step. The
    # rows are made as long as the cache allows, so that column blocks copy long runs.
    inner = 1
    while inner < n_edges - 1 and k ** (inner + 1) * levels * 8 <= _CACHE_BYTES:
        inner += 1
    outer = n_edges - inner
    p, q = k**outer, k**inner
    grid = acc.reshape(levels, n_ch, p, q)
    rows_step = max(1, _CACHE_BYTES // (levels * q * 8))
    cols_step = max(1, _CACHE_BYTES // (levels * p * 8))
    # levels above `inner` are still unset after the row blocks: only the set ones travel
    ready = min(radius, inner) + 1
    out = None if row is None else np.empty((n_ch, n))
    out_grid = None if out is None else out.reshape(n_ch, p, q)

    def row_blocks(tasks: list[tuple[int, int]]) -> None:
        total = np.empty(rows_step * q // k + 1)
        for ch, p0 in tasks:
            rows = grid[:, ch, p0 : min(p, p0 + rows_step)]
            _axis_steps(rows, k, inner, 0, radius, none, 1, total)

    def col_blocks(tasks: list[tuple[int, int]]) -> None:
        total = np.empty(p * cols_step // k + 1)
        block = np.empty(levels * p * cols_step)
        for ch, q0 in tasks:
            cols = slice(q0, min(q, q0 + cols_step))
            width = cols.stop - q0
            buf = block[: levels * p * width].reshape(levels, p, width)
            np.copyto(buf[:ready], grid[:ready, ch, :, cols])
            _axis_steps(buf, k, outer, inner, radius, none, width, total)
            if cumulative:
                for d in range(2, levels):
                    buf[d] += buf[d - 1]
            if out_grid is None:
                grid[:, ch, :, cols] = buf
            else:
                out_grid[ch, :, cols] = buf[row]

    # Blocks are independent within a phase and each is computed the same way whoever runs
    # it, so the result is bit for bit the same with any number of workers; numpy lets go of
    # the GIL inside each operation, so threads share the cores.
    # threads only where the blocks outweigh starting them (tens of megabytes and up)
    workers = _workers() if acc.nbytes >= _THREADS_FROM_BYTES else 1
    phases = (
        (row_blocks, [(ch, p0) for ch in range(n_ch) for p0 in range(0, p, rows_step)]),
        (col_blocks, [(ch, q0) for ch in range(n_ch) for q0 in range(0, q, cols_step)]),
    )
    if workers == 1:
        for run, tasks in phases:
            run(tasks)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="nb201-dp") as pool:
            for run, tasks in phases:
                # list(): wait for the phase, and re-raise a worker's error here
                list(pool.map(run, [tasks[w::workers] for w in range(workers)]))
    return acc if out is None else out


def _workers() -> int:
    """Threads for the blocked programme: the cores this process may use, at most 4.

    ``NB201_FLAT_THREADS`` overrides (1 for a single thread).
    """
    from nb201_flat.budget import thread_count

    return thread_count(4)


def _total_buffer(acc: FloatArray) -> FloatArray:
    return np.empty(acc[0].size // 2 + 1)


def _axis_steps(
    acc: FloatArray,
    k: int,
    n_axes: int,
    done: int,
    radius: int,
    none: int | None,
    tail: int,
    total_buf: FloatArray,
) -> None:
    """In place: the per-axis steps over ``n_axes`` axes of ``acc`` (levels x cells).

    The cells of ``acc`` are laid out as (any leading block) x ``k ** n_axes`` x ``tail`` and
    contiguous within each level; ``done`` axes were processed before, so level ``d`` is first
    reached (and written rather than added to) at the ``d - done``-th axis processed here.
    ``total_buf`` holds at least a ``1/k`` share of one level.
    """
    levels = acc.shape[0]
    # with no_none, the line total runs over the ops other than none
    ops = [c for c in range(k) if c != none]
    # The axes commute, and the i-th axis processed takes min(radius, done + i + 1) steps:
    # the last axes, whose short lines make the slowest steps, go first, when few levels are
    # set.
    for i, e in enumerate(reversed(range(n_axes))):
        post = k ** (n_axes - 1 - e) * tail
        view = acc.reshape(levels, -1, k, post)
        # a copy here would lose the updates: the caller's block must be viewable so
        if not np.shares_memory(view, acc):
            raise AssertionError("per-axis step on a copy")
        total = total_buf[: view.shape[1] * post].reshape(view.shape[1], post)
        first = done + i + 1
        # d from high to low: A[d - 1] must still hold the sums before edge e
        for d in range(min(radius, first), 0, -1):
            src = view[d - 1]
            dst = view[d]
            # slice by slice: a reduction over a short strided axis is several times slower
            if len(ops) == 1:
                np.copyto(total, src[:, ops[0], :])
            else:
                np.add(src[:, ops[0], :], src[:, ops[1], :], out=total)
                for c in ops[2:]:
                    total += src[:, c, :]
            # (J - I) along the axis: the line total minus the own entry
            if d == first:
                np.subtract(total[:, None, :], src, out=dst)
            else:
                dst -= src
                dst += total[:, None, :]
            if none is not None:
                # from a cell whose op is none, none is its own op: nothing to take back
                dst[:, none, :] += src[:, none, :]


def _level_sums(
    space: Space,
    n_channels: int,
    fill: Callable[[int, FloatArray], None],
    radius: int,
    none: int | None,
    *,
    exact: bool,
    row: int | None = None,
) -> FloatArray:
    """Sums of each channel over every cell's neighbours, all levels at once, in index order.

    ``fill(c, dst)`` writes channel ``c`` (index order) into ``dst``, which is already the
    programme's memory: no copy of the inputs. ``exact``: row ``d`` sums over the cells at
    exactly ``d``; else over those within ``d`` (without the cell itself). Returns shape
    (levels, channels, cells), or (channels, cells) for the single level ``row``.
    """
    acc = np.empty((radius + 1, n_channels, space.size))
    for c in range(n_channels):
        fill(c, acc[0, c])
    lex = _lex_of_index(space)
    if lex is not None:
        acc[0][:, lex] = acc[0].copy()
    sums = _programme(acc, space.n_ops, space.n_edges, none, cumulative=not exact, row=row)
    return _from_lex(space, sums)


def exact_distance_sums(
    space: Space, values: npt.ArrayLike, radius: int, *, no_none: bool = False
) -> FloatArray:
    """Sum of ``values`` over the cells at each exact distance ``0..radius`` of every cell.

    Parameters
    ----------
    space
        The space whose indices ``values`` follows.
    values
        One finite number per architecture (mask NaNs to 0 first, and sum a 0/1 mask for counts).
    radius
        Largest distance, 0..``space.n_edges``.
    no_none
        Only changes whose new op is not ``none``.

    Returns
    -------
    numpy.ndarray
        Shape ``(radius + 1, space.size)``; row ``d`` holds the sums at distance ``d`` (row 0
        is ``values`` itself), columns in index order.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import NB201
    >>> exact_distance_sums(NB201, np.ones(NB201.size), 6)[:, 0].tolist()
    [1.0, 24.0, 240.0, 1280.0, 3840.0, 6144.0, 4096.0]
    """
    r = _check_radius(space, radius, allow_zero=True)
    x = _check_values(space, values)
    if np.isnan(x).any():  # a NaN would spread into the sums of every cell
        raise LandscapeArgumentError(
            "exact_distance_sums needs a value for every architecture, got NaN; mask NaNs to 0 "
            "first (and sum a 0/1 mask for the counts)"
        )
    sums = _level_sums(
        space, 1, lambda _, dst: np.copyto(dst, x), r, none_code(space, no_none), exact=True
    )
    out: FloatArray = sums[:, 0]
    return out


# -- min over balls ----------------------------------------------------------------------------
def _line_min(
    x: FloatArray, e: int, k: int, n_edges: int, none: int | None, self_: bool
) -> FloatArray:
    """Minimum along axis ``e``: over all allowed ops (``self_``) or the other allowed ops."""
    v = x.reshape(k**e, k, k ** (n_edges - 1 - e))
    if self_:
        if none is None:
            m = v.min(axis=1, keepdims=True)
            return np.broadcast_to(m, v.shape).reshape(-1)
        keep = [c for c in range(k) if c != none]
        m = v[:, keep, :].min(axis=1, keepdims=True)
        out = np.broadcast_to(m, v.shape).copy()
        # the own op is always in reach, none included
        out[:, none, :] = np.minimum(v[:, none, :], m[:, 0, :])
        return out.reshape(-1)
    t = v
    if none is not None:
        t = v.copy()
        t[:, none, :] = np.inf  # never a target
    fwd = np.minimum.accumulate(t, axis=1)
    bwd = np.minimum.accumulate(t[:, ::-1, :], axis=1)[:, ::-1, :]
    out = np.full(v.shape, np.inf)
    out[:, 1:, :] = fwd[:, :-1, :]
    np.minimum(out[:, :-1, :], bwd[:, 1:, :], out=out[:, :-1, :])
    return out.reshape(-1)


def _ball_pass(
    x: FloatArray, axes: Iterable[int], k: int, n_edges: int, none: int | None
) -> FloatArray:
    """One radius-1 filter (the cell and its one-edge changes) over ``axes``."""
    out = x.copy()
    for e in axes:
        np.minimum(out, _line_min(x, e, k, n_edges, none, True), out=out)
    return out


def _ball_min_lex(
    x: FloatArray, k: int, n_edges: int, radius: int, none: int | None, include_self: bool
) -> FloatArray:
    every = range(n_edges)
    if include_self:
        for _ in range(radius):
            x = _ball_pass(x, every, k, n_edges, none)
        return x
    best = np.full(x.shape, np.inf)
    for e in every:
        y = _line_min(x, e, k, n_edges, none, False)
        rest = [a for a in every if a != e]
        for _ in range(radius - 1):
            y = _ball_pass(y, rest, k, n_edges, none)
        np.minimum(best, y, out=best)
    return best


def _lex_for_min(space: Space, v: FloatArray, keep: npt.NDArray[np.bool_] | None) -> FloatArray:
    """``v`` in base-k order with ``+inf`` where it is NaN or not kept: the input of the
    minimum programmes (``+inf`` is never the minimum of a member that has a value)."""
    keep = ~np.isnan(v) if keep is None else keep & ~np.isnan(v)
    out = np.empty(space.size)
    _put_lex(space, out, np.where(keep, v, np.inf))
    return out


def ball_min(
    space: Space,
    values: npt.ArrayLike,
    radius: int,
    *,
    include_self: bool = False,
    no_none: bool = False,
) -> FloatArray:
    """Minimum of ``values`` over the cells within ``radius`` of every cell (NaN: ignored).

    Returns ``+inf`` where no member has a value. Use ``-ball_min(space, -values, ...)`` for
    the maximum.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)                     # a cube
    >>> ball_min(space, np.arange(8.0), 1).tolist()
    [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 3.0]
    >>> ball_min(space, np.arange(8.0), 1, include_self=True)[7]
    np.float64(3.0)
    """
    include_self = check_flag("include_self", include_self)
    r = _check_radius(space, radius)
    lx = _lex_for_min(space, _check_values(space, values), None)
    out = _ball_min_lex(lx, space.n_ops, space.n_edges, r, none_code(space, no_none), include_self)
    return _from_lex(space, out)


def _sphere_min_lex(
    x: FloatArray, k: int, n_edges: int, radius: int, none: int | None
) -> FloatArray:
    """Minimum over the points at exactly ``radius``: the programme of :func:`hamming_sums`
    with (min, other-op minimum) in place of (+, J - I); the sets it joins are disjoint."""
    acc = np.full((radius + 1, x.size), np.inf)
    acc[0] = x
    for e in range(n_edges):
        for d in range(min(radius, e + 1), 0, -1):
            np.minimum(acc[d], _line_min(acc[d - 1], e, k, n_edges, none, False), out=acc[d])
    out: FloatArray = acc[radius]
    return out


def sphere_min(
    space: Space,
    values: npt.ArrayLike,
    radius: int,
    *,
    no_none: bool = False,
    connected_only: bool = False,
) -> FloatArray:
    """Minimum of ``values`` over the cells at *exactly* ``radius`` of every cell (NaN ignored).

    ``+inf`` where no member has a value; ``-sphere_min(space, -values, ...)`` is the maximum.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("a", "b"), 3)                     # a cube: 3 cells at distance 2
    >>> sphere_min(space, np.arange(8.0), 2).tolist()    # cell 0: min(f(011), f(101), f(110))
    [3.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    """
    r = _check_radius(space, radius)
    keep = space.connected if check_connected_only(space, connected_only) else None
    lx = _lex_for_min(space, _check_values(space, values), keep)
    out = _sphere_min_lex(lx, space.n_ops, space.n_edges, r, none_code(space, no_none))
    return _from_lex(space, out)


# -- the statistics the neighbourhood layer asks for ---------------------------------------------
def supports(wanted: Iterable[str], radius: int, *, exact: bool) -> tuple[str, ...]:
    """The subset of ``wanted`` that :func:`ball_stats` serves for this neighbourhood.

    ``n``, ``mean`` and ``std`` always; ``min`` and ``max`` within a radius, or at exact radius 1
    (the same set). Everything else (median, quantile, share) needs the gather.

    >>> supports(("mean", "median", "min"), 2, exact=True)
    ('mean',)
    >>> supports(("mean", "median", "min"), 2, exact=False)
    ('mean', 'min')
    """
    ok = {"n", "mean", "std"}
    if not exact or int(radius) == 1:
        ok |= {"min", "max"}
    return tuple(w for w in wanted if w in ok)


_Top = TypeVar("_Top", float, FloatArray)  # one cell's floor, or every cell's


def _floor(top: _Top, n_edges: int) -> _Top:
    """The rounding error of a neighbourhood average whose terms are at most ``top`` in size:
    ``top`` is the largest ``|x|`` for the mean, ``x**2`` for the mean square (``x`` a value
    centred on the shift, over the cell's closed ball; one per cell).

    The sums pass through ``n_edges`` additions and subtractions of line totals, which only
    ever hold cells of the closed ball around the cell, so their error is a few ``eps * top``
    per edge and member. Variances below their floor are noise of the one-pass formula, read
    as 0: one member or equal members would get the square root of that noise (about 1e-7 of
    the ball's spread) instead of 0. Per cell: a large value elsewhere must not zero a spread.
    """
    scaled: _Top = 16.0 * n_edges * float(np.finfo(np.float64).eps) * top
    return scaled


def _check_magnitude(v: FloatArray, present: npt.NDArray[np.bool_], *, squared: bool) -> None:
    """Refuse a value whose centred sums (of squares) could overflow: the sums would be inf
    and the statistics NaN or 0 with no word."""
    if not present.any():
        return
    mag = np.where(present, np.abs(v), 0.0)
    big = float(np.finfo(np.float64).max) / v.size
    # centred on a mean, a value moves by at most twice the largest magnitude
    limit = 0.5 * (np.sqrt(big) if squared else big)
    cell = int(mag.argmax())
    if mag[cell] > limit:
        what = "sums of squares" if squared else "sums"
        raise LandscapeArgumentError(
            f"value {v[cell]:.6g} of cell {cell} is too large for the neighbourhood {what} "
            f"(|value| must stay below {limit:.3g}); rescale the metric or mask that cell"
        )


@dataclass(frozen=True, slots=True, eq=False)
class _Moments:
    """Which sums one call needs, and the masked values they run on (index order).

    Masked members (NaN values, disconnected cells with ``connected_only``) are value 0 with
    count 0; values are shifted by the mean of the present ones, so that sums of squares
    cancel far less. The cell itself, with ``include_self``, counts whenever it has a value.
    """

    nan: npt.NDArray[np.bool_]
    member: npt.NDArray[np.bool_]
    present: npt.NDArray[np.bool_]
    all_present: bool
    shift: float
    known: bool  # every member present, no filter: the counts are the sphere sizes
    channels: tuple[str, ...]

    @classmethod
    def of(
        cls,
        space: Space,
        v: FloatArray,
        none: int | None,
        connected_only: bool,
        *,
        need: set[str],
        include_self: bool,
    ) -> _Moments:
        nan = np.isnan(v)
        member = space.connected if connected_only else np.ones(space.size, dtype=bool)
        present = member & ~nan
        all_present = bool(present.all())
        if "s1" in need:
            # with include_self a cell's own value counts even where it is no member
            counted = ~nan if include_self else present
            _check_magnitude(v, counted, squared="s2" in need)
        if all_present:
            shift = float(v.mean())
        else:
            shift = float(v[present].mean()) if present.any() else 0.0
        known = all_present and none is None
        order = ("n", "s1", "s2", "members")
        wanted = need - ({"n"} if known else set())
        channels = tuple(c for c in order if c in wanted)
        return cls(nan, member, present, all_present, shift, known, channels)

    def var_floor(self, v: FloatArray, n_edges: int) -> float:
        """:func:`_floor` of the variance over every present value: the largest of the cells'
        floors (0 where no variance is computed: values too large to square are then allowed)."""
        x = v if self.all_present else v[self.present]
        if not x.size or "s2" not in self.channels:
            return 0.0
        # the largest |x - shift| is at the smallest or the largest value
        top = max(self.shift - float(x.min()), float(x.max()) - self.shift) ** 2
        return _floor(top, n_edges)

    def tops(self, space: Space, v: FloatArray, radii: Iterable[int]) -> list[FloatArray]:
        """The ``top`` of :func:`_floor` of every cell at each radius: over its closed ball
        (the cells whose values the programme moves through), largest centred ``|value|``."""
        lx = _lex_for_min(space, -np.abs(v - self.shift), None)
        out, done = [], 0
        for r in radii:
            for _ in range(r - done):
                lx = _ball_pass(lx, range(space.n_edges), space.n_ops, space.n_edges, None)
            done = r
            top = -_from_lex(space, lx)
            top[np.isinf(top)] = 0.0  # no value in the ball
            out.append(top)
        return out

    def reach(self, v: FloatArray) -> float:
        """The largest centred ``|value|``, members or not: no cell's top is higher."""
        lo, hi = float(np.fmin.reduce(v)), float(np.fmax.reduce(v))  # NaN left out, no copy
        if np.isnan(lo):  # no value at all
            return 0.0
        return max(self.shift - lo, hi - self.shift)

    def ball_tops(self, space: Space, v: FloatArray, radius: int, cells: IntArray) -> FloatArray:
        """:meth:`tops` at ``radius`` of ``cells`` only, the same numbers, read from their
        closed balls' members (a max is exact whatever the order)."""
        top = np.empty(cells.size)
        ball = space.neighbourhood_size(radius, exact=False) + 1
        step = max(1, (1 << 22) // ball)
        for lo in range(0, cells.size, step):
            part = cells[lo : lo + step]
            nb = _rows_of(space, part, radius, False, False, False)
            members = np.concatenate([part[:, None], nb], axis=1)
            # NaN (no value) is left out; a ball with none gets 0, as in tops
            top[lo : lo + part.size] = np.fmax.reduce(np.abs(v[members] - self.shift), axis=1)
        top[np.isnan(top)] = 0.0
        return top

    def fill(self, v: FloatArray, c: int, dst: FloatArray, *, own: bool = False) -> None:
        """Channel ``c`` into ``dst``: the neighbours' values, or with ``own`` the cell's own
        (what ``include_self`` adds; the cell counts whenever it has a value)."""
        name = self.channels[c]
        if name == "members":
            dst[...] = 1.0 if own else self.member
        elif name == "n":
            np.copyto(dst, ~self.nan if own else self.present)
        else:
            np.subtract(v, self.shift, out=dst)
            if own:
                np.copyto(dst, 0.0, where=self.nan)
            elif not self.all_present:
                np.copyto(dst, 0.0, where=~self.present)
            if name == "s2":
                np.multiply(dst, dst, out=dst)


def _cell_tops(
    space: Space, mom: _Moments, v: FloatArray, radii: Sequence[int], reach: float
) -> Callable[[int, IntArray], FloatArray]:
    """``tops(row, cells)``: the ``top`` of :func:`_floor` of some cells at ``radii[row]``
    (:meth:`_Moments.tops`), for the few cells whose statistic is near the highest floor any
    cell has (from ``reach``, :meth:`_Moments.reach`), the only ones their own floor can put
    in doubt.

    A few cells' tops are read from their balls (:meth:`_Moments.ball_tops`); where that
    reads more values than passes over the whole space, from those passes (every radius at
    once, kept for the next row and statistic).
    """
    every: list[FloatArray] = []

    def tops(row: int, cells: IntArray) -> FloatArray:
        r = radii[row]
        if reach == 0:  # every value is the shift: every top is 0
            return np.zeros(cells.size)
        if cells.size * (space.neighbourhood_size(r, exact=False) + 1) <= (
            r * space.n_edges * space.size
        ):
            return mom.ball_tops(space, v, r, cells)
        if not every:
            every.extend(mom.tops(space, v, radii))
        return every[row][cells]

    return tops


def _sums(
    space: Space,
    mom: _Moments,
    v: FloatArray,
    radius: int,
    none: int | None,
    *,
    exact: bool,
    include_self: bool,
    row: int | None,
) -> dict[str, FloatArray]:
    """Each channel of ``mom`` summed over every neighbourhood: ``row`` only, or every level
    ``1..radius`` (views into one block, which the caller turns into statistics in place)."""
    if not mom.channels:
        return {}
    sums = _level_sums(
        space, len(mom.channels), partial(mom.fill, v), radius, none, exact=exact, row=row
    )
    if row is None:
        sums = sums[1:]
    own = np.empty(space.size) if include_self else None
    out: dict[str, FloatArray] = {}
    for c, name in enumerate(mom.channels):
        arr: FloatArray = sums[c] if row is not None else sums[:, c]
        if own is not None:
            mom.fill(v, c, own, own=True)
            arr += own
        out[name] = arr
    return out


def _mean_std(
    sums: dict[str, FloatArray],
    n: FloatArray,
    mom: _Moments,
    n_edges: int,
    top_floor: float,
    reach: float,
    tops: Callable[[int, IntArray], FloatArray],
    redo: Callable[[int, IntArray], tuple[FloatArray, FloatArray]],
    names: tuple[str, ...],
) -> dict[str, FloatArray]:
    """Means and population stds from the sums, in place in their rows (one row per radius,
    or a single vector): the mean in ``sums["s1"]``, the std in ``sums["s2"]``.
    ``top_floor`` is the highest variance floor of a present value (:meth:`_Moments.var_floor`),
    ``reach`` the largest centred ``|value|`` (:meth:`_Moments.reach`), ``tops(row, cells)``
    each cell's own (:func:`_cell_tops`); ``redo(row, cells)`` the exact mean and std of cells
    whose mean or variance is too close to its rounding floor to trust."""
    out: dict[str, FloatArray] = {}
    if "s1" not in sums:
        return out
    mean = sums["s1"]
    size = mean.shape[-1]
    mean_rows = mean.reshape(-1, size)
    none_in_doubt = np.empty(0, dtype=np.intp)
    doubt = [none_in_doubt] * len(mean_rows)
    # row by row into reused buffers: no (radius x cells) temporary
    buf = np.empty(size)
    low = np.empty(size, dtype=bool)
    # over: a floor is inf, not an error, where the square of a non-member's value overflows
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean /= n
        if "s2" in sums:
            var = sums["s2"]
            var /= n
            high = _floor(float(np.square(np.float64(reach))), n_edges)
            for i, (m_row, v_row) in enumerate(zip(mean_rows, var.reshape(-1, size), strict=True)):
                v_row -= np.multiply(m_row, m_row, out=buf)
                # each cell's own floor only where the largest one leaves doubt
                if not np.less_equal(v_row, _TRUST * top_floor, out=low).any():
                    continue  # none at or near the floor
                cells = np.flatnonzero(v_row <= _TRUST * high)
                top = tops(i, cells)
                floor = _floor(np.square(top), n_edges)
                near = v_row[cells]
                near[near <= floor] = 0.0
                v_row[cells] = near
                # a floor of 0: every value of the ball is the shift itself, so the sums
                # were exact and the 0 is the true variance; nothing to redo. A top too small
                # to square gives a floor of 0 too, and sums of squares that underflowed
                doubt[i] = cells[((near <= _TRUST * floor) & (floor > 0)) | _unsquarable(top)]
            out["std"] = np.sqrt(var, out=var)
    mean += mom.shift
    if "mean" in names:
        out["mean"] = mean
        # The same rule for the mean, whose error is at most its floor (the shift's rounding
        # and the sums): within _TRUST_MEAN of it (small values next to a large one or far
        # from the shift, a mean near 0), it is recomputed from the members.
        high = _floor(reach, n_edges)
        for i, m_row in enumerate(mean_rows):
            np.abs(m_row, out=buf)
            if not np.less_equal(buf, _TRUST_MEAN * high, out=low).any():
                continue  # every mean far above the highest floor: one comparison per row
            cells = np.flatnonzero(low)
            top = tops(i, cells)
            floor = _floor(top, n_edges)
            bad = cells[((buf[cells] <= _TRUST_MEAN * floor) & (floor > 0)) | _unsquarable(top)]
            doubt[i] = np.union1d(doubt[i], bad)
    std_rows = out["std"].reshape(-1, size) if "std" in out else None
    for row, cells in enumerate(doubt):
        if cells.size:
            m, sd = redo(row, cells)
            mean_rows[row, cells] = m
            if std_rows is not None:
                std_rows[row, cells] = sd
    return out


def _unsquarable(top: FloatArray) -> npt.NDArray[np.bool_]:
    """Where a cell's ``top`` (its largest centred ``|value|``, :func:`_floor`) is not 0 but
    too small for the sums (:data:`_SQUARABLE`): its statistics are taken from its members."""
    out: npt.NDArray[np.bool_] = (top > 0) & (top < _SQUARABLE)
    return out


# A variance within this factor of its floor may be mostly rounding noise (a spread next to
# a large value far from the cells' own): such cells are recomputed from their members.
_TRUST = 1e6
# A mean is served from the sums only where its floor is below 1e-9 of it, its error then a
# few eps * top in fact, about 1e-11 of it at most (a mean is compared and ranked to more
# digits than a spread). The real tables' means are all above it, the lowest (a training
# loss near 0) thirty times, so they take no recompute.
_TRUST_MEAN = 1e9


def _exact_mean_std(
    space: Space,
    v: FloatArray,
    cells: IntArray,
    radius: int,
    *,
    exact: bool,
    include_self: bool,
    no_none: bool,
    connected_only: bool,
) -> tuple[FloatArray, FloatArray]:
    """Mean and population std of some cells' neighbourhoods from the values themselves
    (NaN left out), centred on a member so that equal members give exactly 0, and each
    ball's deviations scaled by a power of two to its largest before they are squared
    (exact; squares of deviations below about 1e-154 underflowed to a std of 0)."""
    mean, std = np.full(cells.size, np.nan), np.full(cells.size, np.nan)
    step = max(1, (1 << 22) // max(1, space.neighbourhood_size(radius, exact=exact)))
    for lo in range(0, cells.size, step):
        part = cells[lo : lo + step]
        nb = _rows_of(space, part, radius, exact, no_none, connected_only)
        if include_self:
            nb = np.concatenate([part[:, None].astype(np.int32), nb], axis=1)
        x = np.where(nb >= 0, v[np.maximum(nb, 0)], np.nan)
        has = ~np.isnan(x)
        used = has.any(axis=1)  # rows without a member keep NaN
        first = x[np.arange(len(x)), has.argmax(axis=1)]  # the centre: a member's own value
        # members all equal (a plateau, the usual doubt): every d below is 0, so the mean is
        # first + 0.0 and the std 0.0, the same numbers without the sums
        flat = used & (np.fmax.reduce(x, axis=1) == np.fmin.reduce(x, axis=1))
        mean[lo : lo + part.size][flat] = first[flat] + 0.0
        std[lo : lo + part.size][flat] = 0.0
        used &= ~flat
        d = x[used] - first[used, None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are not used
            dm = np.nanmean(d, axis=1)
            mean[lo : lo + part.size][used] = first[used] + dm
            dev = d - dm[:, None]
            k = -np.frexp(np.fmax.reduce(np.abs(dev), axis=1))[1]  # |dev| <= 1 each ball
            sd = np.sqrt(np.nanmean(np.square(np.ldexp(dev, k[:, None])), axis=1))
            std[lo : lo + part.size][used] = np.ldexp(sd, -k)
    return mean, std


def ball_stats(
    space: Space,
    values: npt.ArrayLike,
    radius: int,
    *,
    exact: bool = True,
    include_self: bool = False,
    no_none: bool = False,
    connected_only: bool = False,
    propagate: bool = False,
    wanted: Iterable[str] = ("mean", "std"),
) -> dict[str, FloatArray]:
    """Count, mean, std, min and max over every cell's neighbourhood, without a gather.

    The neighbourhood is that of :meth:`Space.neighbours` (``exact``, ``no_none``,
    ``connected_only``), plus the cell itself with ``include_self`` (a member whatever its
    connectivity, as in the gather). NaN values are left out (``n`` counts the members used);
    with ``propagate=True`` a NaN member makes the row's statistics NaN and ``n`` counts all
    members. Rows without a used member get NaN, and the std of a row with one used member
    too (:data:`MIN_SPREAD_MEMBERS`). Standard deviations are population ones, by
    the one-pass formula on values centred on their mean; a cell whose variance or mean is
    within ``_TRUST`` (``_TRUST_MEAN`` for a mean) of its rounding floor (equal members, a
    spread or small values next to a value far from the mean, a mean near 0: see ``_floor``)
    gets the mean and std of its
    members, exact to rounding. Values whose squares (with ``std``; else the values) could
    overflow the sums are refused, naming their cell. Counts, sums and sums of squares share
    one programme; only what ``wanted`` needs is computed.

    Parameters
    ----------
    wanted
        Any of ``mean``, ``std``, ``min``, ``max`` (``n`` is always returned); see
        :func:`supports` for min/max at an exact radius.

    Returns
    -------
    dict
        Name -> float64 vector in index order.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> space = Space(("none", "skip", "conv"), 3)
    >>> f = (space.codes == 2).sum(axis=1).astype(float)
    >>> st = ball_stats(space, f, 2, exact=False, no_none=True, wanted=("mean", "max"))
    >>> int(st["n"][0]), float(st["mean"][0]), float(st["max"][0])
    (18, 0.8333333333333334, 2.0)
    """
    names = _wanted_names(wanted)
    exact, include_self, propagate = _check_flags(
        exact=exact, include_self=include_self, propagate=propagate
    )
    connected_only = check_connected_only(space, connected_only)
    bad = [w for w in names if w not in FAST_STATS]
    if bad:
        raise LandscapeArgumentError(
            f"ball_stats serves {', '.join(FAST_STATS)}, not {', '.join(bad)}; use the gather"
        )
    r = _check_radius(space, radius)
    if exact and r > 1 and ({"min", "max"} & set(names)):
        raise LandscapeArgumentError(
            "min/max at an exact radius >= 2 need individual values; use the gather"
        )
    v, scaled = _scaled_up(_check_values(space, values))
    k, n_edges = space.n_ops, space.n_edges
    none = none_code(space, no_none)
    filtered = connected_only or none is not None
    need = {"n"}
    if "mean" in names or "std" in names:
        need.add("s1")
    if "std" in names:
        need.add("s2")
    nan = np.isnan(v)
    poison = propagate and bool(nan.any())
    if poison and filtered:
        need.add("members")
    mom = _Moments.of(space, v, none, connected_only, need=need, include_self=include_self)
    sums = _sums(space, mom, v, r, none, exact=exact, include_self=include_self, row=r)
    size = float(space.neighbourhood_size(r, exact=exact) + include_self)
    n = np.full(space.size, size) if mom.known else sums["n"]
    flags = {
        "exact": exact,
        "include_self": include_self,
        "no_none": no_none,
        "connected_only": connected_only,
    }
    redo = lambda _, cells: _exact_mean_std(space, v, cells, r, **flags)  # noqa: E731
    reach = mom.reach(v)
    tops = _cell_tops(space, mom, v, (r,), reach)
    top_floor = mom.var_floor(v, n_edges)
    out = _mean_std(sums, n, mom, n_edges, top_floor, reach, tops, redo, names)
    for name, sign in (("min", 1.0), ("max", -1.0)):
        if name not in names:
            continue
        lx = _lex_for_min(space, sign * v, mom.member)
        m = _from_lex(space, _ball_min_lex(lx, k, n_edges, r, none, False))
        if include_self:
            m = np.minimum(m, np.where(nan, np.inf, sign * v))
        out[name] = sign * m
    empty = n == 0
    if "std" in out:  # by the members used; a poisoned row is NaN below anyway
        undefine_spread(out["std"], n)
    if poison:
        members = sums["members"] if "members" in sums else np.full(space.size, size)
        poisoned = n < members
        for arr in out.values():
            arr[poisoned] = np.nan
        n = members
    for arr in out.values():
        arr[empty] = np.nan
    _scaled_back(out, scaled)
    out["n"] = n
    return out


def radius_profile(
    space: Space,
    values: npt.ArrayLike,
    max_radius: int,
    *,
    exact: bool = False,
    include_self: bool = False,
    no_none: bool = False,
    connected_only: bool = False,
    wanted: Iterable[str] = ("mean", "std"),
) -> dict[str, FloatArray]:
    """Count, mean and std of every neighbourhood at every radius ``1..max_radius`` at once.

    One programme serves all radii and all moments (NaN values are left out, as
    ``nan_policy="omit"``). Each result has shape ``(max_radius, space.size)``: row ``r - 1``
    is radius ``r``, equal to :func:`ball_stats` at that radius. Only the statistics in
    ``wanted`` (``mean``, ``std``) are computed; ``n`` is always returned, as a read-only
    broadcast view when the counts are the same for every cell (no NaN, no filter). As there,
    a neighbourhood with one measured member has no std (NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import NB201
    >>> prof = radius_profile(NB201, np.ones(NB201.size), 6)
    >>> prof["n"][:, 0].tolist()
    [24.0, 264.0, 1544.0, 5384.0, 11528.0, 15624.0]
    """
    names = _wanted_names(wanted)
    exact, include_self = _check_flags(exact=exact, include_self=include_self)
    connected_only = check_connected_only(space, connected_only)
    bad = [w for w in names if w not in ("n", "mean", "std")]
    if bad:
        raise LandscapeArgumentError(
            f"radius_profile serves n, mean and std, not {', '.join(bad)}; use ball_stats or "
            "the gather"
        )
    r = _check_radius(space, max_radius)
    v, scaled = _scaled_up(_check_values(space, values))
    none = none_code(space, no_none)
    need = {"n"}
    if "mean" in names or "std" in names:
        need.add("s1")
    if "std" in names:
        need.add("s2")
    mom = _Moments.of(space, v, none, connected_only, need=need, include_self=include_self)
    # in place throughout: on 5^10 cells each (radius x cells) array is 470 MB
    sums = _sums(space, mom, v, r, none, exact=exact, include_self=include_self, row=None)
    if mom.known:
        sizes = [space.neighbourhood_size(d, exact=exact) for d in range(1, r + 1)]
        per_radius = np.array(sizes, dtype=np.float64)[:, None] + include_self
        n: FloatArray = np.broadcast_to(per_radius, (r, space.size))
    else:
        n = sums["n"]
    reach = mom.reach(v)
    tops = _cell_tops(space, mom, v, range(1, r + 1), reach)
    flags = {
        "exact": exact,
        "include_self": include_self,
        "no_none": no_none,
        "connected_only": connected_only,
    }
    redo = lambda row, cells: _exact_mean_std(space, v, cells, row + 1, **flags)  # noqa: E731
    top_floor = mom.var_floor(v, space.n_edges)
    out = {"n": n, **_mean_std(sums, n, mom, space.n_edges, top_floor, reach, tops, redo, names)}
    if not mom.known:
        empty = n == 0
        for name in ("mean", "std"):
            if name in out:
                out[name][empty] = np.nan
    if "std" in out:  # also where every neighbourhood has a single member (a tiny space)
        undefine_spread(out["std"], n)
    _scaled_back(out, scaled)
    return out


# -- neighbour rows for the gather, chunk by chunk ---------------------------------------------
@lru_cache(maxsize=16)
def _neighbour_columns(
    k: int, n_edges: int, radius: int, exact: bool
) -> tuple[npt.NDArray[np.int32], ...]:
    """Each neighbour as its changed edges' columns ``edge * k + offset`` (one array per
    changed edge, offset 0 where a nearer neighbour changes fewer), in the order of
    :meth:`Space.neighbours`: by distance, then edges changed, then new ops."""
    blocks = [np.empty((0, radius), dtype=np.int32)]
    for d in [radius] if exact else range(1, radius + 1):
        offsets = np.array(list(itertools.product(range(1, k), repeat=d)), dtype=np.int32)
        for subset in itertools.combinations(range(n_edges), d):
            block = np.zeros((len(offsets), radius), dtype=np.int32)  # column 0: no change
            block[:, :d] = np.array(subset, dtype=np.int32) * k + offsets.reshape(-1, d)
            blocks.append(block)
    table = np.concatenate(blocks)
    out = tuple(np.ascontiguousarray(table[:, j]) for j in range(radius))
    for arr in out:
        arr.setflags(write=False)
    return out


def neighbour_rows(
    space: Space,
    rows: npt.ArrayLike,
    radius: int,
    *,
    exact: bool = True,
    no_none: bool = False,
    connected_only: bool = False,
) -> npt.NDArray[np.int32]:
    """Neighbour indices of some architectures, padded with ``-1``, without the whole matrix.

    The same rows as ``space.neighbours(...).indices[rows]``, in the same order (edges
    changed, then new ops; only the padding can be narrower), built from the rows' op codes,
    so a gather at radius 6 needs memory for one chunk only.

    Examples
    --------
    >>> from nb201_flat.space import NB201
    >>> nb = neighbour_rows(NB201, [0, 5], 2, exact=False, no_none=True)
    >>> sorted(nb[1][nb[1] >= 0].tolist()) == sorted(
    ...     NB201.neighbours(2, exact=False, no_none=True).of(5).tolist())
    True
    """
    r = _check_radius(space, radius)
    (exact,) = _check_flags(exact=exact)
    connected_only = check_connected_only(space, connected_only)
    # -1 read the last row and 2.5 row 2; past the end, a lexicographic space wrapped round
    idx_rows = check_arch_indices(rows, space.size, name="rows").ravel()
    return _rows_of(space, idx_rows, r, exact, no_none, connected_only)


def _rows_of(
    space: Space, idx_rows: IntArray, r: int, exact: bool, no_none: bool, connected_only: bool
) -> npt.NDArray[np.int32]:
    """:func:`neighbour_rows` of checked arguments: the library's own calls (a sampled cell's
    row in a search, the gather's chunks) pass valid indices (the check: 5 µs of a radius-6
    row's 130 µs on NB201)."""
    k, n_edges = space.n_ops, space.n_edges
    none = none_code(space, no_none)
    weights = k ** np.arange(n_edges - 1, -1, -1, dtype=np.int64)
    lex_map = _lex_of_index(space)
    if lex_map is None:
        codes = (idx_rows[:, None] // weights[None, :]) % k
        index_of_lex = None
    else:
        codes = space.codes[idx_rows].astype(np.int64)
        index_of_lex = np.empty(space.size, dtype=np.int64)
        index_of_lex[lex_map] = np.arange(space.size)
    base = codes @ weights
    # per row, edge and op offset: the change of the base-k number, and whether the new op
    # is `none`; a neighbour adds one entry per edge it changes (its columns)
    m, cols = len(idx_rows), _neighbour_columns(k, n_edges, r, exact)
    op = (codes[:, :, None] + np.arange(k)) % k  # (m, edges, offsets)
    step = ((op - codes[:, :, None]) * weights[:, None]).reshape(m, n_edges * k)
    lex_all = base[:, None] + step[:, cols[0]]
    for c in cols[1:]:
        lex_all += step[:, c]
    if none is not None:
        to_none = (op == none).reshape(m, n_edges * k)
        to_none[:, ::k] = False  # offset 0: the edge is not changed
        hit = to_none[:, cols[0]]
        for c in cols[1:]:
            hit |= to_none[:, c]
        lex_all[hit] = -1
    if m and none is None and not connected_only:  # every neighbour kept: nothing to compact
        idx = lex_all if index_of_lex is None else index_of_lex[lex_all]
        return idx.astype(np.int32)
    keep = lex_all >= 0
    idx = np.where(keep, lex_all, 0)
    if index_of_lex is not None:
        idx = index_of_lex[idx]
    if connected_only:
        keep &= space.connected[idx]
    counts = keep.sum(axis=1)
    width = int(counts.max(initial=0))
    order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    out = np.take_along_axis(np.where(keep, idx, -1), order, axis=1)
    return out.astype(np.int32)


# Above this many index entries (size x width; 128 MB as int32) a gather reads neighbour rows
# chunk by chunk instead of building and caching the whole matrix on the space (radius 4 and
# up on NB201: the radius-6 matrix alone held 2.6 GB).
CACHE_ENTRIES_LIMIT = 1 << 25


@dataclass(frozen=True, slots=True, eq=False)
class NeighbourRows:
    """A neighbourhood of every cell, read by rows: from the space's cached matrix when small,
    else rebuilt chunk by chunk by :func:`neighbour_rows` (nothing cached).

    >>> from nb201_flat.space import NB201
    >>> nr = NeighbourRows(NB201, 6, exact=True)
    >>> nr.cached, nr.full, nr.rows(slice(0, 3)).shape
    (False, True, (3, 4096))
    """

    space: Space
    radius: int
    exact: bool = True
    no_none: bool = False
    connected_only: bool = False

    def __post_init__(self) -> None:
        # the same checks and errors as Space.neighbours, before any row is read
        object.__setattr__(self, "radius", self.space.check_radius(self.radius))
        none_code(self.space, self.no_none)
        only = check_connected_only(self.space, self.connected_only)
        object.__setattr__(self, "connected_only", only)

    @property
    def size(self) -> int:
        return self.space.size

    @property
    def width(self) -> int:
        """Row width without filters (the largest a row can be)."""
        return self.space.neighbourhood_size(self.radius, exact=self.exact)

    @property
    def cached(self) -> bool:
        return self.size * self.width <= CACHE_ENTRIES_LIMIT

    @property
    def full(self) -> bool:
        """Every row complete (no filter): no padding to mask."""
        return not (self.no_none or self.connected_only)

    @property
    def fewest(self) -> int | None:
        """The fewest neighbours any cell has (the smallest row), exact; None where counting
        them would cost more than the cache limit allows.

        Without filters every row is :attr:`width` long. With them a row's length depends
        only on which edges of its cell hold ``none``: a changed ``none`` edge may take any
        other op, a changed live edge ``none`` or one of the other live ops, and whether the
        neighbour is connected depends only on its ``none`` edges. So one cell per set of
        ``none`` edges (``2 ** edges`` rows, 64 on NB201) gives the minimum without the whole
        matrix (radius 4 and up on NB201)."""
        if self.full:
            return self.width
        if self.cached:
            return int(self._arrays().counts.min())
        # a filter implies an op `none` (__post_init__ refuses either filter without one)
        none = self.space.ops.index("none")
        n_edges = self.space.n_edges
        if (1 << n_edges) * self.width > CACHE_ENTRIES_LIMIT:
            return None
        live = 1 if none == 0 else 0  # any op but none: the row's length is the same
        cut = (np.arange(1 << n_edges)[:, None] >> np.arange(n_edges)[None, :]) & 1
        cells = self.space.indices_of_codes(np.where(cut == 1, none, live))
        chunk = max(1, (1 << 22) // self.width)
        fewest = self.width
        for start in range(0, len(cells), chunk):
            rows = self._rows_of(cells[start : start + chunk])
            fewest = min(fewest, int((rows >= 0).sum(axis=1).min()))
        return fewest

    def of(self, index: int) -> npt.NDArray[np.int32]:
        """Neighbours of one architecture, in :meth:`NeighbourArrays.of` order."""
        if self.cached:
            return self._arrays().of(index)
        one = self._rows_of(np.array([self.space.check_index(index)]))  # -1: the last row
        row: npt.NDArray[np.int32] = one[0]  # one row: as wide as its neighbourhood, no padding
        return row

    def _arrays(self) -> NeighbourArrays:
        return self.space.neighbours(
            self.radius, exact=self.exact, no_none=self.no_none, connected_only=self.connected_only
        )

    def rows(self, rows: slice) -> npt.NDArray[np.int32]:
        """Neighbour indices of ``rows``, padded with ``-1``."""
        if self.cached:
            return self._arrays().indices[rows]
        return self._rows_of(np.arange(self.size)[rows])

    def _rows_of(self, cells: IntArray) -> npt.NDArray[np.int32]:
        """:func:`neighbour_rows` of valid ``cells`` (the space's own indices)."""
        return _rows_of(
            self.space, cells, self.radius, self.exact, self.no_none, self.connected_only
        )
