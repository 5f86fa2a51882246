"""Compiled per-run loops of random search and free NA random search (see :mod:`.vectorised`).

Each kernel walks every run of one call in turn, over the run's centre draws, as the loop
(:func:`~nb201_flat.search.runner.run_one`) does query by query: a cell is charged at its first
visit (NA memory, or the oracle's cache) or at every visit (RS charging repeats), the budget
refuses the first query that would pass it, and free NA searches look up each neighbour of a
newly paid cell that the run has neither paid for nor looked up yet. The NA memory is one
byte a cell (paid, looked up, or neither), cleared at each run: it stays in the nearest
cache. Each run is one call of an inner kernel, so that the buffers of incumbent changes can
grow between runs (an array reassigned inside the hot loop makes it several times slower).

Floats are the loop's: charged seconds are added in turn from 0.0 as the oracle's ``+=``; the
free seconds of one newly paid cell are numpy's pairwise sum of its look-ups' costs
(:func:`~nb201_flat.search.kernels_numpy.pairwise_sum`, the same float as the oracle's
``costs[batch].sum()``), added in turn.

Stored seeds (the ``random`` policy) are read from the oracle stream's raw PCG64 words, given
per run (``raw[raw_start[k]:raw_start[k + 1]]``, made by numpy): the own seed draw of a
charged cell with a choice of seeds is numpy's ``integers(n)`` (32-bit halves of a word, the
low one first, the high one kept for the next 32-bit draw; Lemire's multiply-shift with
rejection), and each free look-up takes ``random()``, one whole word ``(w >> 11) * 2**-53``.
A run whose words run out is reported (status :data:`MORE_WORDS`) and the caller gives it
more. Followed: numpy 2.4 (tested against the installed 2.4.6): ``buffered_bounded_lemire_uint32``
in ``numpy/random/src/distributions/distributions.c``, PCG64's ``next_uint32`` /
``next_double`` in ``numpy/random/src/pcg64/pcg64.h`` (numpy's float sums:
:mod:`.kernels_numpy`); the batched paths run only where
:func:`~nb201_flat.search.lockstep.replay_matches_numpy` confirms numpy still draws so.

Import this module lazily (it loads numba); :func:`warm_up` loads (or compiles) every kernel,
or one search's (:data:`PARTS`).

Examples
--------
>>> import numpy as np
>>> words = np.random.PCG64(3).random_raw(8)
>>> out = np.empty((1, 5), dtype=np.int64)
>>> bool(bounded_draws(words, np.array([0, 8]), 10, out)[0])
True
>>> gen = np.random.Generator(np.random.PCG64(3))
>>> out[0].tolist() == [int(gen.integers(10)) for _ in range(5)]
True
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from nb201_flat.jit import depends_on, kernel
from nb201_flat.search import kernels_numpy, oracle
from nb201_flat.search.kernels_numpy import grow, pairwise_sum
from nb201_flat.search.oracle import IDLE_CACHED, IDLE_FREE, NO_QUERY_BUDGET
from nb201_flat.types import BoolArray, FloatArray, IntArray

U64Array = npt.NDArray[np.uint64]

# what a walk does at each scored draw (``mode``)
SCORE = 1  # offer the centre with ``score[centre]`` (a fixed NA score per cell)
BEST = 2  # offer the centre's value, then each neighbour's (best-evaluated NA-RS)
ROWS = 3  # write the centre's value and its neighbours' (an NA score made by the caller)

# a run's status after a walk
DONE = 0  # the run ended within its draws: a refused query
MORE_DRAWS = 1  # its draws ran out first
MORE_WORDS = 2  # its stored-seed words ran out first
STALLED = 3  # it ended within its draws at the stall guard, with budget unspent

# a cell's mark in one NA walk (0: not seen)
_LOOKED = np.uint8(1)
_PAID = np.uint8(2)

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_TWO32 = np.uint64(1 << 32)
_INV53 = 1.0 / 9007199254740992.0


@kernel
def _bounded(
    n: int, raw: U64Array, wp: int, w_end: int, has_hi: bool, hi: np.uint64
) -> tuple[int, int, bool, np.uint64]:
    """numpy's ``integers(n)`` (no draw for ``n <= 1``: 0) from 32-bit halves of the words
    ``raw[wp:w_end]``, a buffered high half first; -1 when the words run out. Returns the
    draw and the stream's new position, buffer flag and buffered half."""
    if n <= 1:
        return 0, wp, has_hi, hi
    ne = np.uint64(n)
    while True:
        if has_hi:
            x = hi
            has_hi = False
        else:
            if wp == w_end:
                return -1, wp, has_hi, hi
            w = raw[wp]
            wp += 1
            x = w & _M32
            hi = w >> _S32
            has_hi = True
        m = x * ne
        low = m & _M32
        # Lemire's rejection, numpy's way: the threshold (a division) only when it can bite
        if low >= ne or low >= (_TWO32 - ne) % ne:
            return int(np.int64(m >> _S32)), wp, has_hi, hi


@kernel
def _widest(indptr: IntArray) -> int:
    out = 1
    for i in range(indptr.size - 1):
        out = max(out, indptr[i + 1] - indptr[i])
    return out


@kernel
def _na_run(
    cells: IntArray,
    indptr: IntArray,
    flat: IntArray,
    costs: FloatArray,
    budget_s: float,
    budget_q: int,
    stall_limit: int,
    mode: int,
    seeded: bool,
    score: FloatArray,
    by_seed: FloatArray,
    seed_counts: IntArray,
    raw: U64Array,
    wp: int,
    w_end: int,
    mark: npt.NDArray[np.uint8],
    val: FloatArray,
    batch: FloatArray,
    look: IntArray,
    rows: FloatArray,
    row0: int,
    row_s: FloatArray,
    row_q: IntArray,
    chg_s: FloatArray,
    chg_q: IntArray,
    chg_i: IntArray,
    n_chg: int,
) -> tuple[int, int, int, float, int, float, int, float, int]:
    """One run of :func:`free_na_walk` over its centres ``cells``; ``mark[j]`` is :data:`_PAID`
    where the run paid for ``j``, :data:`_LOOKED` where it looked ``j`` up (0 elsewhere),
    ``val[j]`` what it learnt. Returns status, end, queries, seconds, free look-ups,
    their seconds, incumbent, its score, and the changes' new end (-1 when the change
    buffers are full)."""
    size = indptr.size - 1
    n_rows = by_seed.size // size  # stored seeds a cell, side by side
    mark[:] = 0  # a byte a cell: the marks stay in the nearest cache
    width = rows.shape[1] - 1
    cap = chg_s.size
    q = 0
    s = 0.0
    nf = 0
    fs = 0.0
    stall = 0
    has_hi = False
    hi = np.uint64(0)
    inc = -1
    inc_score = -np.inf
    for t in range(cells.size):
        c = cells[t]
        if mark[c] != _PAID:
            # no oracle stall guard: a cell is charged once a run, fewer than stall_limit
            cost = costs[c]
            if q + 1 > budget_q or s + cost > budget_s:
                return DONE, t, q, s, nf, fs, inc, inc_score, n_chg
            q += 1
            s += cost
            stall = 0
            mark[c] = _PAID
            # the own value: a seed draw where the cell has a choice of seeds
            if seeded:
                pick, wp, has_hi, hi = _bounded(seed_counts[c], raw, wp, w_end, has_hi, hi)
                if pick < 0:
                    return MORE_WORDS, t, q, s, nf, fs, inc, inc_score, n_chg
                val[c] = by_seed[c * n_rows + pick]
            elif mode != SCORE:
                val[c] = score[c]
            # free look-ups: neighbours neither paid nor looked up, in neighbour order
            # (compacted without a branch: the next slot is overwritten unless it is new)
            nb = 0
            for e in range(indptr[c], indptr[c + 1]):
                j = flat[e]
                m = mark[j]
                look[nb] = j
                mark[j] = max(m, _LOOKED)
                nb += m == 0
            if nb:
                for i in range(nb):
                    batch[i] = costs[look[i]]
                nf += nb
                fs += pairwise_sum(batch, 0, nb)
                if seeded:
                    if w_end - wp < nb:
                        return MORE_WORDS, t, q, s, nf, fs, inc, inc_score, n_chg
                    for i in range(nb):  # random(): one word each
                        j = look[i]
                        u = np.float64(raw[wp + i] >> _S11) * _INV53
                        pk = math.floor(u * np.float64(max(seed_counts[j], 1)))
                        val[j] = by_seed[j * n_rows + pk]
                    wp += nb
                elif mode != SCORE:
                    for i in range(nb):
                        val[look[i]] = score[look[i]]
        else:
            stall += 1
            if stall > stall_limit:
                return STALLED, t, q, s, nf, fs, inc, inc_score, n_chg
        if mode == ROWS:
            r = row0 + t
            rows[r, 0] = val[c]
            col = 1
            for e in range(indptr[c], indptr[c + 1]):
                rows[r, col] = val[flat[e]]
                col += 1
            while col <= width:
                rows[r, col] = np.nan
                col += 1
            row_s[r] = s
            row_q[r] = q
            continue
        # offers: the centre (its NA score, or its value), then (BEST) its neighbours
        f = score[c] if mode == SCORE else val[c]
        e = indptr[c]
        e_stop = indptr[c + 1] if mode == BEST else e
        i = c
        while True:
            if f > inc_score:  # False for NaN
                inc_score = f
                if i != inc:
                    inc = i
                    if n_chg == cap:
                        return DONE, t, q, s, nf, fs, inc, inc_score, -1
                    chg_s[n_chg] = s
                    chg_q[n_chg] = q
                    chg_i[n_chg] = i
                    n_chg += 1
            if e == e_stop:
                break
            i = flat[e]
            f = val[i]
            e += 1
    return MORE_DRAWS, cells.size, q, s, nf, fs, inc, inc_score, n_chg


@kernel
def free_na_walk(
    cells: IntArray,
    indptr: IntArray,
    flat: IntArray,
    costs: FloatArray,
    budget_s: float,
    budget_q: int,
    stall_limit: int,
    mode: int,
    seeded: bool,
    score: FloatArray,
    by_seed: FloatArray,
    seed_counts: IntArray,
    raw: U64Array,
    raw_start: IntArray,
    rows: FloatArray,
    row_s: FloatArray,
    row_q: IntArray,
) -> tuple[
    IntArray,
    IntArray,
    IntArray,
    FloatArray,
    IntArray,
    FloatArray,
    IntArray,
    FloatArray,
    IntArray,
    FloatArray,
    IntArray,
    IntArray,
    IntArray,
]:
    """Free one-stage NA-RS or best-evaluated NA-RS, each run (row of ``cells``) in turn.

    Parameters
    ----------
    cells
        ``(runs, draws)`` centres each run samples, in order.
    indptr, flat
        The neighbourhood as CSR: the neighbours of ``i`` are ``flat[indptr[i]:indptr[i+1]]``.
    costs
        Training seconds per cell (zeros when the oracle has none).
    budget_s, budget_q, stall_limit
        The budget (``inf`` / the largest int64 where unset) and the NA memory's revisits in
        a row before it gives up.
    mode, seeded
        What is done at each scored draw (:data:`SCORE`, :data:`BEST`, :data:`ROWS`);
        whether values come from stored seeds (``by_seed``: cell ``i``'s ``j``-th seed at
        ``i * rows + j``; ``seed_counts``, how many a cell has; and run ``k``'s
        words ``raw[raw_start[k]:raw_start[k + 1]]``) or from ``score`` (row 0 of the values,
        or in :data:`SCORE` mode the fixed score of each cell).
    rows, row_s, row_q
        :data:`ROWS` mode: one row per scored draw, the runs that end one after another (room
        for ``draws`` rows a run): the centre's value, its neighbours' (NaN beyond them), and
        the oracle's seconds and queries then.

    Returns
    -------
    tuple
        Per run: status, end (draws scored), queries, seconds, free look-ups, their seconds,
        incumbent and its score; the incumbent's changes (seconds, queries, cell) of all runs,
        run ``k``'s at ``chg_start[k]:chg_start[k + 1]`` (``chg_start`` first); and in
        :data:`ROWS` mode run ``k``'s rows ``row_start[k]:row_start[k + 1]`` (none unless it
        ended).
    """
    n_runs = cells.shape[0]
    size = indptr.size - 1
    mark = np.zeros(size, dtype=np.uint8)
    val = np.empty(size)
    widest = _widest(indptr)
    batch = np.empty(widest)
    look = np.empty(widest, dtype=np.int64)
    status = np.zeros(n_runs, dtype=np.int64)
    ends = np.zeros(n_runs, dtype=np.int64)
    queries = np.zeros(n_runs, dtype=np.int64)
    seconds = np.zeros(n_runs)
    free_n = np.zeros(n_runs, dtype=np.int64)
    free_s = np.zeros(n_runs)
    best = np.full(n_runs, -1, dtype=np.int64)
    best_score = np.full(n_runs, -np.inf)
    chg_start = np.zeros(n_runs + 1, dtype=np.int64)
    row_start = np.zeros(n_runs + 1, dtype=np.int64)
    chg_s = np.empty(16 * n_runs + 16)
    chg_q = np.empty(16 * n_runs + 16, dtype=np.int64)
    chg_i = np.empty(16 * n_runs + 16, dtype=np.int64)
    k = 0
    while k < n_runs:
        got = _na_run(
            cells[k], indptr, flat, costs, budget_s, budget_q, stall_limit, mode, seeded,
            score, by_seed, seed_counts, raw, raw_start[k] if seeded else 0,
            raw_start[k + 1] if seeded else 0, mark, val, batch, look, rows, row_start[k],
            row_s, row_q, chg_s, chg_q, chg_i, chg_start[k],
        )  # fmt: skip
        if got[8] < 0:  # out of room for changes: more, and the run again
            need = chg_s.size + 1  # the run's changes are unknown: double the room
            chg_s, chg_q, chg_i = grow(chg_s, need), grow(chg_q, need), grow(chg_i, need)
            continue
        status[k], ends[k], queries[k], seconds[k] = got[0], got[1], got[2], got[3]
        free_n[k], free_s[k], best[k], best_score[k] = got[4], got[5], got[6], got[7]
        # a run to be redone (more draws or words) keeps no changes, and no rows
        done = got[0] == DONE or got[0] == STALLED
        chg_start[k + 1] = got[8] if done else chg_start[k]
        row_start[k + 1] = row_start[k] + (got[1] if done and mode == ROWS else 0)
        k += 1
    n_chg = chg_start[n_runs]
    return (
        status,
        ends,
        queries,
        seconds,
        free_n,
        free_s,
        best,
        best_score,
        chg_start,
        chg_s[:n_chg].copy(),
        chg_q[:n_chg].copy(),
        chg_i[:n_chg].copy(),
        row_start,
    )


@kernel
def offer_rows(
    row_start: IntArray, cells: IntArray, f: FloatArray, row_s: FloatArray, row_q: IntArray
) -> tuple[IntArray, FloatArray, IntArray, FloatArray, IntArray, IntArray]:
    """Each run's incumbent when row ``r`` offers ``cells[r]`` with score ``f[r]`` in turn
    (run ``k``'s rows are ``row_start[k]:row_start[k + 1]``; ``row_s``, ``row_q``: the oracle's
    seconds and queries then): incumbent, score, and the changes as :func:`free_na_walk`'s."""
    n_runs = row_start.size - 1
    best = np.full(n_runs, -1, dtype=np.int64)
    best_score = np.full(n_runs, -np.inf)
    chg_start = np.zeros(n_runs + 1, dtype=np.int64)
    chg_s = np.empty(16 * n_runs + 16)
    chg_q = np.empty(16 * n_runs + 16, dtype=np.int64)
    chg_i = np.empty(16 * n_runs + 16, dtype=np.int64)
    n_chg = 0
    for k in range(n_runs):
        inc = -1
        inc_score = -np.inf
        for r in range(row_start[k], row_start[k + 1]):
            if f[r] > inc_score:
                inc_score = f[r]
                if cells[r] != inc:
                    inc = cells[r]
                    if n_chg == chg_s.size:
                        chg_s = grow(chg_s, n_chg + 1)
                        chg_q = grow(chg_q, n_chg + 1)
                        chg_i = grow(chg_i, n_chg + 1)
                    chg_s[n_chg] = row_s[r]
                    chg_q[n_chg] = row_q[r]
                    chg_i[n_chg] = inc
                    n_chg += 1
        best[k] = inc
        best_score[k] = inc_score
        chg_start[k + 1] = n_chg
    return (
        best,
        best_score,
        chg_start,
        chg_s[:n_chg].copy(),
        chg_q[:n_chg].copy(),
        chg_i[:n_chg].copy(),
    )


@kernel
def free_lookups(
    indptr: IntArray,
    flat: IntArray,
    costs: FloatArray,
    firsts: IntArray,
    run_of: IntArray,
    n_runs: int,
    width: int,
) -> tuple[BoolArray, IntArray, FloatArray]:
    """Free look-ups of runs whose newly paid cells, in order, are ``firsts`` (run ``run_of``,
    non-decreasing): True at ``[first, e]`` where its ``e``-th neighbour is looked up
    (``width`` columns), and per run their number and seconds (one :func:`pairwise_sum` per
    first, added in turn). Each cell is paid just before its neighbours are read."""
    mark = np.zeros(indptr.size - 1, dtype=np.uint8)  # as the NA walk's, run by run
    batch = np.empty(_widest(indptr))
    look = np.zeros((firsts.size, width), dtype=np.bool_)
    counts = np.zeros(n_runs, dtype=np.int64)
    secs = np.zeros(n_runs)
    for a in range(firsts.size):
        k = run_of[a]
        if a and k != run_of[a - 1]:
            mark[:] = 0
        c = firsts[a]
        mark[c] = _PAID
        nb = 0
        for e in range(indptr[c], indptr[c + 1]):
            j = flat[e]
            if mark[j] == 0:
                mark[j] = _LOOKED
                look[a, e - indptr[c]] = True
                batch[nb] = costs[j]
                nb += 1
        if nb:
            counts[k] += nb
            secs[k] += pairwise_sum(batch, 0, nb)
    return look, counts, secs


@kernel
def _rs_run(
    cells: IntArray,
    tag: int,
    costs: FloatArray,
    budget_s: float,
    budget_q: int,
    stall_limit: int,
    domain_size: int,
    cache: bool,
    seeded: bool,
    values0: FloatArray,
    by_seed: FloatArray,
    seed_counts: IntArray,
    raw: U64Array,
    wp: int,
    w_end: int,
    seen: IntArray,
    seen_v: FloatArray,
    chg_s: FloatArray,
    chg_q: IntArray,
    chg_i: IntArray,
    n_chg: int,
) -> tuple[int, int, int, float, int, int, float, int, int]:
    """One run of :func:`rs_walk`; ``seen[c] == tag`` where it has queried ``c`` (caching).
    Returns status, end, queries, seconds, cache hits, incumbent, its score, the changes'
    new end (-1 when the change buffers are full), and the idle kinds of a stall."""
    size = values0.size
    n_rows = by_seed.size // size
    cap = chg_s.size
    q = 0
    s = 0.0
    h = 0
    idle = 0  # the oracle's stall guard: queries in a row that spent no budget
    kinds = 0  # the IDLE_* bits of those queries (StallGuard.kinds)
    uncached = domain_size  # domain cells not cached yet (every cell RS draws is one)
    counted = budget_q < NO_QUERY_BUDGET
    has_hi = False
    hi = np.uint64(0)
    inc = -1
    inc_score = -np.inf
    for t in range(cells.size):
        c = cells[t]
        if cache and seen[c] == tag:
            if uncached == 0:  # else a new cell remains: the hit does not count
                idle += 1
                kinds |= IDLE_CACHED
                if idle > stall_limit:
                    return STALLED, t, q, s, h, inc, inc_score, n_chg, kinds
            h += 1
            v = seen_v[c]
        else:
            cost = costs[c]
            if q + 1 > budget_q or s + cost > budget_s:
                return DONE, t, q, s, h, inc, inc_score, n_chg, 0
            if counted or s + cost != s:  # oracle.spends
                idle = 0
                kinds = 0
            else:
                idle += 1
                kinds |= IDLE_FREE
                if idle > stall_limit:
                    return STALLED, t, q, s, h, inc, inc_score, n_chg, kinds
            q += 1
            s += cost
            if seeded:
                pick, wp, has_hi, hi = _bounded(seed_counts[c], raw, wp, w_end, has_hi, hi)
                if pick < 0:
                    return MORE_WORDS, t, q, s, h, inc, inc_score, n_chg, 0
                v = by_seed[c * n_rows + pick]
            else:
                v = values0[c]
            if cache:
                seen[c] = tag
                seen_v[c] = v
                uncached -= 1
        if v > inc_score:  # False for NaN
            inc_score = v
            if c != inc:
                inc = c
                if n_chg == cap:
                    return DONE, t, q, s, h, inc, inc_score, -1, 0
                chg_s[n_chg] = s
                chg_q[n_chg] = q
                chg_i[n_chg] = c
                n_chg += 1
    return MORE_DRAWS, cells.size, q, s, h, inc, inc_score, n_chg, 0


@kernel
def rs_walk(
    cells: IntArray,
    costs: FloatArray,
    budget_s: float,
    budget_q: int,
    stall_limit: int,
    domain_size: int,
    cache: bool,
    seeded: bool,
    values0: FloatArray,
    by_seed: FloatArray,
    seed_counts: IntArray,
    raw: U64Array,
    raw_start: IntArray,
) -> tuple[
    IntArray,
    IntArray,
    IntArray,
    FloatArray,
    IntArray,
    IntArray,
    FloatArray,
    IntArray,
    FloatArray,
    IntArray,
    IntArray,
    IntArray,
]:
    """Random search, each run (row of ``cells``: the cells it samples) in turn.

    Every query is charged, or (``cache``) only a cell's first one in its run, later ones
    returning the first answer. Values are ``values0``, or stored seeds drawn from each run's
    oracle-stream words as :func:`free_na_walk`'s own draws. A run ends after ``stall_limit``
    queries in a row that spend no budget (the oracle's stall guard: cache hits once the
    ``domain_size`` cells of the sampling domain are cached, or cells
    whose cost leaves the seconds where they were without a query budget, ``budget_q`` the
    largest int64).

    Returns
    -------
    tuple
        Per run: status, end, queries, seconds, cache hits, incumbent, its score; the changes
        as :func:`free_na_walk`'s; per run, the idle kinds (``IDLE_*`` bits) of a stall.
    """
    n_runs = cells.shape[0]
    size = values0.size
    seen = np.full(size, -1, dtype=np.int64)
    seen_v = np.empty(size)
    status = np.zeros(n_runs, dtype=np.int64)
    ends = np.zeros(n_runs, dtype=np.int64)
    queries = np.zeros(n_runs, dtype=np.int64)
    seconds = np.zeros(n_runs)
    hits = np.zeros(n_runs, dtype=np.int64)
    best = np.full(n_runs, -1, dtype=np.int64)
    best_score = np.full(n_runs, -np.inf)
    stall_kinds = np.zeros(n_runs, dtype=np.int64)
    chg_start = np.zeros(n_runs + 1, dtype=np.int64)
    chg_s = np.empty(16 * n_runs + 16)
    chg_q = np.empty(16 * n_runs + 16, dtype=np.int64)
    chg_i = np.empty(16 * n_runs + 16, dtype=np.int64)
    tag = 0
    k = 0
    while k < n_runs:
        got = _rs_run(
            cells[k], tag, costs, budget_s, budget_q, stall_limit, domain_size, cache, seeded,
            values0, by_seed,
            seed_counts, raw, raw_start[k] if seeded else 0, raw_start[k + 1] if seeded else 0,
            seen, seen_v, chg_s, chg_q, chg_i, chg_start[k],
        )  # fmt: skip
        tag += 1
        if got[7] < 0:
            need = chg_s.size + 1  # the run's changes are unknown: double the room
            chg_s, chg_q, chg_i = grow(chg_s, need), grow(chg_q, need), grow(chg_i, need)
            continue
        status[k], ends[k], queries[k], seconds[k] = got[0], got[1], got[2], got[3]
        hits[k], best[k], best_score[k], stall_kinds[k] = got[4], got[5], got[6], got[8]
        chg_start[k + 1] = got[7] if got[0] == DONE or got[0] == STALLED else chg_start[k]
        k += 1
    n_chg = chg_start[n_runs]
    return (
        status,
        ends,
        queries,
        seconds,
        hits,
        best,
        best_score,
        chg_start,
        chg_s[:n_chg].copy(),
        chg_q[:n_chg].copy(),
        chg_i[:n_chg].copy(),
        stall_kinds,
    )


@kernel
def bounded_draws(raw: U64Array, raw_start: IntArray, n: int, out: IntArray) -> BoolArray:
    """Row ``k`` of ``out``: the draws ``integers(n)`` that the words
    ``raw[raw_start[k]:raw_start[k + 1]]`` of a fresh generator give (:func:`_bounded`
    each); False for a run whose words run out first (the caller gives it more)."""
    ok = np.ones(out.shape[0], dtype=np.bool_)
    for k in range(out.shape[0]):
        wp = raw_start[k]
        w_end = raw_start[k + 1]
        has_hi = False
        hi = np.uint64(0)
        for t in range(out.shape[1]):
            pick, wp, has_hi, hi = _bounded(n, raw, wp, w_end, has_hi, hi)
            if pick < 0:
                ok[k] = False
                break
            out[k, t] = pick
    return ok


def warm_up(part: str | None = None) -> None:
    """Call every kernel once (``part``: those of :data:`PARTS` ``[part]``, one search's) on
    tiny inputs of the production types (inputs read-only, as
    :func:`~nb201_flat.search.vectorised.frozen` makes them): loads each from the disk cache
    (compiles it on a cold one) before real work, e.g. before workers fork."""
    from nb201_flat.search.vectorised import frozen

    called = PARTS[part] if part is not None else __all__  # every kernel it exports
    indptr = frozen(np.array([0, 1, 2], dtype=np.int64))
    flat = frozen(np.array([1, 0], dtype=np.int64))
    costs = frozen(np.ones(2))
    cells = frozen(np.zeros((1, 3), dtype=np.int64))
    ints = frozen(np.zeros(2, dtype=np.int64))
    raw = frozen(np.arange(1, 5, dtype=np.uint64))
    starts = frozen(np.array([0, 4], dtype=np.int64))
    rows = np.empty((3, 2))
    rs, rq = np.empty(3), np.empty(3, dtype=np.int64)
    if "free_na_walk" in called:
        for mode in (SCORE, BEST, ROWS):
            for seeded in (False, True):
                args = (costs, costs, ints, raw, starts, rows, rs, rq)
                free_na_walk(cells, indptr, flat, costs, 10.0, 5, 10, mode, seeded, *args)
    if "offer_rows" in called:
        offer_rows(frozen(np.array([0, 1])), ints[:1], costs[:1], costs[:1], ints[:1])
    if "free_lookups" in called:
        free_lookups(indptr, flat, costs, ints, ints, 1, 1)
    if "rs_walk" in called:
        for seeded in (False, True):
            rs_walk(cells, costs, 10.0, 5, 10, 2, seeded, seeded, costs, costs, ints, raw, starts)
    if "bounded_draws" in called:
        bounded_draws(raw, starts, 7, np.empty((1, 3), dtype=np.int64))


#: the kernels each search calls from Python, by the part's name (:func:`warm_up`): random
#: search's walk, free NA-RS's and best-evaluated NA-RS's walk and rows, and both their centre
#: draws; the kernels these call are compiled into them. A first random search compiled all
#: twelve of this module's kernels and helpers, where it calls five
PARTS: dict[str, tuple[str, ...]] = {
    "rs": ("rs_walk", "bounded_draws"),
    "na": ("free_na_walk", "offer_rows", "bounded_draws"),
}


# the kernels above call kernels_numpy's: its edits must reach their cached code
#: the files whose code or constants the compiled kernels hold (the disk cache is tied to them)
CACHE_SOURCES = (kernels_numpy, oracle)
depends_on(__name__, *CACHE_SOURCES)

__all__ = [
    "BEST",
    "DONE",
    "MORE_DRAWS",
    "MORE_WORDS",
    "PARTS",
    "ROWS",
    "SCORE",
    "STALLED",
    "bounded_draws",
    "free_lookups",
    "free_na_walk",
    "offer_rows",
    "rs_walk",
    "warm_up",
]
