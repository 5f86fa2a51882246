"""Compiled per-run kernels of :mod:`nb201_flat.search.replay`: charged one-stage NA-RS, two-stage
NA-RS (free or charged) and charged best-evaluated NA-RS, replayed run after run.

A run is sequential (a memory of paid cells, a budget, a stall counter, a stream of seed draws),
so each run is simulated step by step as :class:`~nb201_flat.search.algorithms.NARandomSearch`
and :class:`~nb201_flat.search.algorithms.NABestEvaluatedSearch` run it against the
:class:`~nb201_flat.search.oracle.Oracle`, from the raw PCG64 words of its two streams (the
algorithm's and the oracle's), decoded as numpy's ``Generator`` consumes them: a bounded
integer is Lemire's multiply-shift on a 32-bit half (low half first, the high half kept for the
next 32-bit draw; a rejected half is skipped), a double takes a whole word. What needs numpy's
own arithmetic, the NA aggregate of a scored neighbourhood, is left to the caller: the kernel
writes each scored row (cell, counters, member values) and :func:`apply_scores` then offers the
aggregates in order. A free look-up batch's training seconds are numpy's pairwise sum of its
costs, gathered side by side (:func:`~nb201_flat.search.kernels_numpy.pairwise_sum`, the
oracle's ``costs[batch].sum()``), added in turn as the oracle adds them; PCG64's step and
output are :mod:`.kernels_numpy`'s too.

This module imports numba; import it lazily (only where the replay runs).

Examples
--------
>>> import numpy as np
>>> words = stream_words(np.array([5, 0, 0, 0], dtype=np.uint64), np.array([3]), 1, 4)
>>> bits = np.random.PCG64(np.random.SeedSequence(5, spawn_key=(3, 1)))
>>> words[0].tolist() == bits.random_raw(4).tolist()
True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from nb201_flat.jit import depends_on, kernel
from nb201_flat.search import kernels_numpy, oracle
from nb201_flat.search.kernels_numpy import (
    grow,
    pairwise_sum,
    pcg64_output,
    pcg64_step,
)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

# forms of run_block's ``mode``
ONE_STAGE = 0  # charged one-stage NA-RS: scored rows, aggregated by the caller
BEST = 1  # charged best-evaluated NA-RS: every paid value offered in turn
TWO_STAGE = 2  # two-stage NA-RS: validation ranks the candidates, then re-ranked rows

# per-run status of run_block
DONE = 0
MORE_ALGO = 1  # the run needs more words of its algorithm stream
MORE_ORACLE = 2  # the run needs more words of its oracle stream
STALLED = 3  # the run ended (as DONE) at the memory's stall guard, with budget unspent

# slots of the integer state of a run
_Q, _STALL, _A_PTR, _A_HAS, _A_HALF, _O_PTR, _O_HAS, _O_HALF = range(8)


@kernel
def _next32(words: U64, r: int, avail: int, st: I64, at: int) -> int:
    """The next 32-bit draw of run ``r``'s stream (state at ``st[at:at + 3]``: next word,
    a half buffered, that half); -1 when its words are used up."""
    if st[at + 1] == 1:
        st[at + 1] = 0
        return int(st[at + 2])
    if st[at] >= avail:
        return -1
    w = words[r, st[at]]
    st[at] += 1
    st[at + 1] = 1
    st[at + 2] = np.int64(w >> np.uint64(32))
    return int(np.int64(w & np.uint64(0xFFFFFFFF)))


@kernel
def _bounded(words: U64, r: int, avail: int, st: I64, at: int, n: int) -> int:
    """``integers(n)`` (2 <= n < 2**32): Lemire's multiply-shift, rejected halves skipped;
    -1 when the words are used up."""
    ne = np.uint64(n)
    thr = (np.uint64(1 << 32) - ne) % ne
    while True:
        w = _next32(words, r, avail, st, at)
        if w < 0:
            return -1
        m = np.uint64(w) * ne
        if (m & np.uint64(0xFFFFFFFF)) >= thr:
            return int(np.int64(m >> np.uint64(32)))


@kernel
def _double(words: U64, r: int, avail: int, st: I64, at: int) -> float:
    """``random()``: a whole word (a buffered half stays); -1.0 when the words are used up."""
    if st[at] >= avail:
        return -1.0
    w = words[r, st[at]]
    st[at] += 1
    return float(w >> np.uint64(11)) * (1.0 / 9007199254740992.0)


# the ranking rule of the loop's stage 1, compiled from its own source
_ranks_before = kernel(oracle.ranks_before)


@kernel
def _note_change(
    c_s: F64, c_q: I64, c_i: I64, nc: int, sec: float, q: int, cell: int
) -> tuple[F64, I64, I64, int]:
    """Append an incumbent change (seconds, queries, cell) at position ``nc``, growing the
    three arrays as needed; returns them and the new count."""
    c_s = grow(c_s, nc + 1)
    c_q = grow(c_q, nc + 1)
    c_i = grow(c_i, nc + 1)
    c_s[nc], c_q[nc], c_i[nc] = sec, q, cell
    return c_s, c_q, c_i, nc + 1


@kernel
def run_block(
    mode: int,
    charge: bool,
    top_k: int,
    stage1: float,
    a_words: U64,
    a_avail: int,
    o_words: U64,
    o_avail: int,
    cand: I64,
    n_dom: int,
    nb_idx: I64,
    nb_cnt: I64,
    values: F64,
    order: I64,
    counts: I64,
    seeded: bool,
    costs: F64,
    budget: F64,
    bq: int,
    limit: int,
) -> tuple[
    I64, I64, F64, I64, F64, I64, F64, I64, I64, I64, F64, I64, I64, I64, F64, I64, F64, I64
]:
    """Every run of a block, from its streams' words (one row of ``a_words``/``o_words`` per
    run, the first ``a_avail``/``o_avail`` usable).

    ``cand`` is the sampling domain (empty: the whole space, ``n_dom`` cells); ``budget`` is
    ``(1.0 if there is a time budget else 0.0, its seconds)`` and ``bq`` the query budget (-1:
    none); ``limit`` the memory's revisits in a row before the run stalls
    (:func:`~nb201_flat.search.oracle.stall_limit`; the oracle's own guard never fires under a
    memory, which charges a cell once a run); ``seeded`` draws stored seeds (``order``/``counts``), else row 0 of ``values``
    answers; ``costs`` are zeros without a cost vector. ``top_k`` and ``stage1`` are two-stage
    NA-RS's ``rerank_top_k`` and ``stage1_share`` (used only when ``charge``).

    Returns per run (status, queries, seconds, free look-ups, their seconds, incumbent, its
    score, change offsets), the changes (seconds, queries, cell), per run the offsets of its
    scored rows, then the rows (cell, seconds, queries, member values, members), and per run
    the distinct cells stage 1 handed to stage 2 (two stages; else 0).
    """
    n_runs = a_words.shape[0]
    size = nb_cnt.size
    width = nb_idx.shape[1]
    status = np.zeros(n_runs, dtype=np.int64)
    queries = np.zeros(n_runs, dtype=np.int64)
    seconds = np.zeros(n_runs)
    free_q = np.zeros(n_runs, dtype=np.int64)
    free_s = np.zeros(n_runs)
    inc_i = np.full(n_runs, -1, dtype=np.int64)
    inc_s = np.full(n_runs, -np.inf)
    chg_at = np.zeros(n_runs + 1, dtype=np.int64)
    c_s = np.empty(16 * n_runs)
    c_q = np.empty(16 * n_runs, dtype=np.int64)
    c_i = np.empty(16 * n_runs, dtype=np.int64)
    row_at = np.zeros(n_runs + 1, dtype=np.int64)
    n_ranked = np.zeros(n_runs, dtype=np.int64)
    cap_rows = 16 if mode == BEST else 16 * n_runs
    r_cell = np.empty(cap_rows, dtype=np.int64)
    r_s = np.empty(cap_rows)
    r_q = np.empty(cap_rows, dtype=np.int64)
    r_g = np.empty((cap_rows, width + 1))
    r_n = np.empty(cap_rows, dtype=np.int64)
    paid = np.zeros(size, dtype=np.int64)  # the run that paid a cell (its stamp)
    pv = np.empty(size)
    known = np.zeros(size, dtype=np.int64)  # the run that looked a cell up free
    fv = np.empty(size)
    seen = np.empty(64, dtype=np.int64)
    ranked = np.empty(max(top_k, 1), dtype=np.int64)
    batch = np.empty(width, dtype=np.int64)
    gathered = np.empty(width)  # the batch's costs, side by side
    st = np.zeros(8, dtype=np.int64)
    fst = np.zeros(1)
    nc = 0  # changes written
    nr = 0  # rows written

    def own(i: int, r: int, stamp: int) -> int:
        # _Memory.own(i): 0 when answered (the value is pv[i]), 1 when the budget refuses
        # the query, 2 when the memory stalls, 3 when the oracle stream's words are used up
        # (a closure: numba inlines it at each call)
        if paid[i] == stamp:
            st[_STALL] += 1
            return 2 if st[_STALL] > limit else 0
        cost = costs[i]
        if (bq >= 0 and st[_Q] + 1 > bq) or (budget[0] == 1.0 and fst[0] + cost > budget[1]):
            return 1
        st[_Q] += 1
        fst[0] += cost
        if seeded:
            n = counts[i]
            k = 0
            if n > 1:
                k = _bounded(o_words, r, o_avail, st, _O_PTR, n)
                if k < 0:
                    return 3
            pv[i] = values[order[k, i], i]
        else:
            pv[i] = values[0, i]
        paid[i] = stamp
        st[_STALL] = 0
        return 0

    for r in range(n_runs):
        stamp = r + 1
        st[:] = 0
        fst[0] = 0.0
        nc0, nr0 = nc, nr
        best_i, best_s = -1, -np.inf
        code = 0  # how the run ended: 1 budget, 2 stall, 3 out of oracle words, 4 algorithm's
        stalled = False  # stage 1 stalled: stage 2 re-ranks, the run stays stalled
        n_seen = 0
        while True:
            if mode == TWO_STAGE and charge:
                # oracle.used_fraction, checked before each draw
                uf = -1.0
                if budget[0] == 1.0:
                    uf = fst[0] / budget[1] if budget[1] > 0 else 1.0
                if bq >= 0:
                    uq = st[_Q] / bq if bq > 0 else 1.0
                    uf = max(uf, uq)
                if uf >= stage1:
                    break
            k = 0
            if n_dom > 1:
                k = _bounded(a_words, r, a_avail, st, _A_PTR, n_dom)
                if k < 0:
                    code = 4
                    break
            c = cand[k] if cand.size else k
            new = paid[c] != stamp
            code = own(c, r, stamp)
            if code:
                break
            if mode == TWO_STAGE:  # stage 1 only ranks (the loop offers nothing)
                if new:
                    if n_seen == seen.size:
                        seen = grow(seen, n_seen + 1)
                    seen[n_seen] = c
                    n_seen += 1
                continue
            if mode == BEST:
                v = pv[c]
                if v > best_s:
                    best_s = v
                    if c != best_i:
                        best_i = c
                        c_s, c_q, c_i, nc = _note_change(c_s, c_q, c_i, nc, fst[0], st[_Q], c)
            cnt = nb_cnt[c]
            for t in range(cnt):
                j = nb_idx[c, t]
                code = own(j, r, stamp)
                if code:
                    break
                if mode == BEST:
                    v = pv[j]
                    if v > best_s:
                        best_s = v
                        if j != best_i:
                            best_i = j
                            c_s, c_q, c_i, nc = _note_change(c_s, c_q, c_i, nc, fst[0], st[_Q], j)
            if code:
                break
            if mode == ONE_STAGE:  # a completed neighbourhood: one scored row
                if nr == r_cell.size:
                    r_cell = grow(r_cell, nr + 1)
                    r_s = grow(r_s, nr + 1)
                    r_q = grow(r_q, nr + 1)
                    r_n = grow(r_n, nr + 1)
                    r_g = grow(r_g, nr + 1)
                r_cell[nr], r_s[nr], r_q[nr], r_n[nr] = c, fst[0], st[_Q], cnt + 1
                r_g[nr, 0] = pv[c]
                for t in range(cnt):
                    r_g[nr, t + 1] = pv[nb_idx[c, t]]
                nr += 1
        if mode == TWO_STAGE and (code == 0 or (code <= 2 and not charge)):
            # stage 2: the top-k first visits by validation (ranks_before: stable; NaN last,
            # below -inf), re-ranked;
            # after a stall the guard counts again (StallGuard.restart)
            if code == 2:
                stalled = True
                st[_STALL] = 0
            n_ranked[r] = n_seen
            n_top = 0
            for a in range(n_seen):
                cell = seen[a]
                pos = n_top
                while pos > 0 and _ranks_before(pv[cell], pv[ranked[pos - 1]]):
                    pos -= 1
                if pos >= top_k:
                    continue
                last = min(n_top, top_k - 1)
                for b in range(last, pos, -1):
                    ranked[b] = ranked[b - 1]
                ranked[pos] = cell
                n_top = min(n_top + 1, top_k)
            code = 0
            for a in range(n_top):
                j = ranked[a]
                code = own(j, r, stamp)
                if code:
                    break
                cnt = nb_cnt[j]
                if charge:
                    for t in range(cnt):
                        code = own(nb_idx[j, t], r, stamp)
                        if code:
                            break
                    if code:
                        break
                else:
                    nb_new = 0
                    for t in range(cnt):
                        x = nb_idx[j, t]
                        if paid[x] != stamp and known[x] != stamp:
                            batch[nb_new] = x
                            gathered[nb_new] = costs[x]
                            nb_new += 1
                    if nb_new:
                        free_q[r] += nb_new
                        free_s[r] += pairwise_sum(gathered, 0, nb_new)
                        for t in range(nb_new):
                            x = batch[t]
                            if seeded:
                                u = _double(o_words, r, o_avail, st, _O_PTR)
                                if u < 0:
                                    code = 3
                                    break
                                fv[x] = values[order[int(u * max(counts[x], 1)), x], x]
                            else:
                                fv[x] = values[0, x]
                            known[x] = stamp
                        if code:
                            break
                if nr == r_cell.size:
                    r_cell = grow(r_cell, nr + 1)
                    r_s = grow(r_s, nr + 1)
                    r_q = grow(r_q, nr + 1)
                    r_n = grow(r_n, nr + 1)
                    r_g = grow(r_g, nr + 1)
                r_cell[nr], r_s[nr], r_q[nr], r_n[nr] = j, fst[0], st[_Q], cnt + 1
                r_g[nr, 0] = pv[j]
                for t in range(cnt):
                    x = nb_idx[j, t]
                    r_g[nr, t + 1] = pv[x] if paid[x] == stamp else fv[x]
                nr += 1
        if code == 2 or stalled:
            status[r] = STALLED
        if code >= 3:
            status[r] = MORE_ORACLE if code == 3 else MORE_ALGO
            nc, nr = nc0, nr0  # the caller runs it again with more words
            free_q[r] = 0
            free_s[r] = 0.0
        queries[r] = st[_Q]
        seconds[r] = fst[0]
        inc_i[r] = best_i
        inc_s[r] = best_s
        chg_at[r + 1] = nc
        row_at[r + 1] = nr
    return (
        status,
        queries,
        seconds,
        free_q,
        free_s,
        inc_i,
        inc_s,
        chg_at,
        c_q,
        c_i,
        c_s,
        row_at,
        r_cell,
        r_q,
        r_s,
        r_n,
        r_g,
        n_ranked,
    )


# numpy's SeedSequence (numpy/random/bit_generator.pyx, numpy 2.x: O'Neill's seed_seq_fe with
# a pool of four 32-bit words) and PCG64's seeding (numpy/random/src/pcg64/pcg64.h
# pcg_setseq_128_srandom_r; its step and output: kernels_numpy), stream-compatible by numpy's
# policy; checked against numpy by the caller
_M32 = np.uint64(0xFFFFFFFF)
_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_L = np.uint64(0xCA01F9DD)
_MIX_R = np.uint64(0x4973F715)
_S16 = np.uint64(16)
_S32 = np.uint64(32)


@kernel
def _hashmix(value: np.uint64, hc: U64) -> np.uint64:
    """seed_seq_fe's hashmix (32-bit arithmetic), advancing the hash constant ``hc[0]``."""
    v = (value ^ hc[0]) & _M32
    hc[0] = (hc[0] * _MULT_A) & _M32
    v = (v * hc[0]) & _M32
    return np.uint64(v ^ (v >> _S16))


@kernel
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:
    r = (((_MIX_L * x) & _M32) - ((_MIX_R * y) & _M32)) & _M32
    return r ^ (r >> _S16)


@kernel
def stream_words(entropy: U64, runs: I64, stream: int, n: int) -> U64:
    """The first ``n`` raw words of ``PCG64(SeedSequence(seed, spawn_key=(r, stream)))`` for
    each ``r`` of ``runs`` (one row each); ``entropy`` is the seed's 32-bit words, padded with
    zeros to at least four."""
    out = np.empty((runs.size, n), dtype=np.uint64)
    ent = np.zeros(entropy.size + 8, dtype=np.uint64)
    ent[: entropy.size] = entropy
    pool = np.zeros(4, dtype=np.uint64)
    st32 = np.zeros(8, dtype=np.uint64)
    for k in range(runs.size):
        m = entropy.size
        for key in (np.uint64(runs[k]), np.uint64(stream)):
            ent[m] = key & _M32  # a key's 32-bit words, low first (0 is one word)
            m += 1
            key >>= _S32
            while key:
                ent[m] = key & _M32
                m += 1
                key >>= _S32
        hc = np.zeros(1, dtype=np.uint64)
        hc[0] = _INIT_A
        for i in range(4):
            pool[i] = _hashmix(ent[i], hc)
        for i_src in range(4):
            for i_dst in range(4):
                if i_src != i_dst:
                    pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], hc))
        for i_src in range(4, m):
            for i_dst in range(4):
                pool[i_dst] = _mix(pool[i_dst], _hashmix(ent[i_src], hc))
        hb = _INIT_B
        for i in range(8):
            v = (pool[i % 4] ^ hb) & _M32
            hb = (hb * _MULT_B) & _M32
            v = (v * hb) & _M32
            st32[i] = v ^ (v >> _S16)
        init_hi = st32[0] | (st32[1] << _S32)
        init_lo = st32[2] | (st32[3] << _S32)
        seq_hi = st32[4] | (st32[5] << _S32)
        seq_lo = st32[6] | (st32[7] << _S32)
        inc_hi = (seq_hi << np.uint64(1)) | (seq_lo >> np.uint64(63))
        inc_lo = (seq_lo << np.uint64(1)) | np.uint64(1)
        # srandom: state = ((inc + init) * MULT + inc), as 128-bit halves
        lo = inc_lo + init_lo
        hi = inc_hi + init_hi + (np.uint64(1) if lo < inc_lo else np.uint64(0))
        hi, lo = pcg64_step(hi, lo, inc_hi, inc_lo)
        for j in range(n):
            hi, lo = pcg64_step(hi, lo, inc_hi, inc_lo)
            out[k, j] = pcg64_output(hi, lo)
    return out


@kernel
def apply_scores(
    inc_i: I64,
    inc_s: F64,
    chg_at: I64,
    c_q: I64,
    c_i: I64,
    c_s: F64,
    row_at: I64,
    r_cell: I64,
    r_q: I64,
    r_s: F64,
    f: F64,
) -> tuple[I64, F64, I64, I64, I64, F64]:
    """Each run's incumbent after its scored rows (aggregates ``f``), offered in turn: a
    strictly better score wins (two stages too: stage 1 offered nothing, so the re-ranking's
    best so far is the incumbent's).

    Returns the incumbents, their scores, and the change offsets and changes of every run
    (its earlier changes first)."""
    n_runs = inc_i.size
    cap = chg_at[n_runs] + row_at[n_runs]
    out_at = np.zeros(n_runs + 1, dtype=np.int64)
    o_q = np.empty(cap, dtype=np.int64)
    o_i = np.empty(cap, dtype=np.int64)
    o_s = np.empty(cap)
    best_i = inc_i.copy()
    best_s = inc_s.copy()
    n = 0
    for r in range(n_runs):
        for a in range(chg_at[r], chg_at[r + 1]):
            o_q[n], o_i[n], o_s[n] = c_q[a], c_i[a], c_s[a]
            n += 1
        for a in range(row_at[r], row_at[r + 1]):
            s = f[a]
            if not s > best_s[r]:
                continue
            best_s[r] = s
            if r_cell[a] != best_i[r]:
                best_i[r] = r_cell[a]
                o_q[n], o_i[n], o_s[n] = r_q[a], r_cell[a], r_s[a]
                n += 1
        out_at[r + 1] = n
    return best_i, best_s, out_at, o_q, o_i, o_s


def warm_up() -> None:
    """Load (or, on a cold cache, compile) every kernel with the production argument types."""
    stream_words(np.zeros(4, dtype=np.uint64), np.arange(2, dtype=np.int64), 1, 3)
    costs = np.arange(20.0)
    size = 4
    nb_idx = np.array([[1, 2], [0, 3], [0, 3], [1, 2]], dtype=np.int64)
    nb_cnt = np.full(size, 2, dtype=np.int64)
    values = np.arange(8.0).reshape(2, size)
    order = np.array([[0, 1, 0, 1], [1, 0, 1, 0]], dtype=np.int64)
    counts = np.full(size, 2, dtype=np.int64)
    words = np.arange(1, 65, dtype=np.uint64).reshape(2, 32) * np.uint64(0x9E3779B97F4A7C15)
    budget = np.array([1.0, 5.0])
    for mode in (ONE_STAGE, BEST, TWO_STAGE):
        out = run_block(
            mode, True, 2, 0.5, words, 32, words, 32, np.zeros(0, dtype=np.int64), size,
            nb_idx, nb_cnt, values, order, counts, True, costs[:size], budget, -1, 10,
        )  # fmt: skip
        f = np.zeros(int(out[11][-1]))
        apply_scores(out[5], out[6], out[7], out[8], out[9], out[10], out[11], out[12],
                     out[13], out[14], f)  # fmt: skip


# the kernels above call kernels_numpy's: its edits must reach their cached code
#: the files whose code or constants the compiled kernels hold (the disk cache is tied to them)
CACHE_SOURCES = (kernels_numpy, oracle)
depends_on(__name__, *CACHE_SOURCES)
