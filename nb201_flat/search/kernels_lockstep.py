"""Compiled per-run loops of regularised evolution and local search, with numpy's streams.

:func:`run_searches` runs REA or LS (plain or NA with free neighbours) one run after another,
each exactly as :func:`~nb201_flat.search.runner.run_one` runs it: the same oracle (budgets,
cache, stored seeds), the same memory (paid values, free look-ups, the stall counter), the
same incumbent. Each run's two streams are PCG64 generators stepped here, from the states
``SeedSequence(seed, spawn_key=(r, 0))`` and ``(r, 1)`` give (numpy 2.x ``pcg64.h``: a
128-bit LCG, stepped, then the XSL-RR output of the new state), and consumed as numpy's
``Generator`` consumes them (``distributions.c``, ``_bounded_integers.pyx``,
``_generator.pyx``): a 32-bit draw takes the high half of a buffered word if there is one,
else the low half of the next word (buffering its high half); ``integers(n)`` is Lemire's
multiply-shift with rejection on 32-bit draws and draws nothing for ``n == 1``;
``permutation(n)`` is a Fisher-Yates shuffle from the top, each partner drawn by bit-mask
rejection on 32-bit draws; ``random()`` takes a whole word, ``(w >> 11) * 2**-53``.

Float sums follow numpy's: a free look-up's seconds are ``costs[batch].sum()`` (numpy's
pairwise summation, :func:`pairwise_sum`), added to the run's total in turn; the NA mean is
the landscape's row sum over the members (absent ones as 0.0) divided by the count.

Kernels take fixed dtypes (int64, float64, uint64 arrays; Python ints and floats), so each
compiles once (:func:`warm_up`). This module imports numba: import it lazily.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from nb201_flat.jit import kernel

_M32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_S58 = np.uint64(58)
_S63 = np.uint64(63)
_S64 = np.uint64(64)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
# PCG64's multiplier (numpy pcg64.h PCG_DEFAULT_MULTIPLIER_128), as two 64-bit halves
_MUL_HI = np.uint64(0x2360ED051FC65DA4)
_MUL_LO = np.uint64(0x4385DF649FCCF645)
_DOUBLE = 1.0 / 9007199254740992.0  # 2**-53

# a generator: [state high, state low, inc high, inc low, has a buffered half, that half]
_GEN = 6

# per-run counters (int64 array) and floats (float64 array) of :func:`run_searches`
_Q, _FREE, _HITS, _STALL, _INC, _END, _NCH = 0, 1, 2, 3, 4, 5, 6
_SEC, _FREE_S, _SCORE = 0, 1, 2

# the integer and float parameters of :func:`run_searches`, by position
P_SIZE, P_SEEDED, P_HAS_COSTS, P_HAS_BS, P_BQ, P_CACHE, P_KIND, P_POP, P_SAMPLE = range(9)
P_NODE_EDGE, P_NODES, P_OPS, P_EDGES, P_FIRST, P_HAS_OBJ, P_SELF, P_AGG = range(9, 17)
P_FIXED, P_MEMORY, P_STALL, P_START, P_HAS_CAND, P_LEN = 17, 18, 19, 20, 21, 22
F_BS, F_Q, F_LEN = 0, 1, 2
KIND_REA, KIND_LS = 0, 1
AGG_MEAN, AGG_MIN, AGG_QUANTILE = 0, 1, 2


@kernel
def _mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product ``a * b``."""
    a_lo = a & _M32
    a_hi = a >> _S32
    b_lo = b & _M32
    b_hi = b >> _S32
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    mid = (p0 >> _S32) + (p1 & _M32) + (p2 & _M32)
    return a_hi * b_hi + (p1 >> _S32) + (p2 >> _S32) + (mid >> _S32)


@kernel
def next64(g: npt.NDArray[np.uint64]) -> np.uint64:
    """PCG64's next output: step the 128-bit state, then XSL-RR of the new state."""
    hi, lo = g[0], g[1]
    new_lo = lo * _MUL_LO
    new_hi = _mulhi(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    out_lo = new_lo + g[3]
    carry = _ONE if out_lo < new_lo else _ZERO
    out_hi = new_hi + g[2] + carry
    g[0] = out_hi
    g[1] = out_lo
    x = out_hi ^ out_lo
    rot = out_hi >> _S58
    return (x >> rot) | (x << ((_S64 - rot) & _S63))


@kernel
def next32(g: npt.NDArray[np.uint64]) -> np.uint64:
    """numpy's 32-bit draw: a buffered high half, else the low half of a new word."""
    if g[4] != _ZERO:
        g[4] = _ZERO
        return g[5]
    w = next64(g)
    g[4] = _ONE
    g[5] = w >> _S32
    return w & _M32


@kernel
def next_double(g: npt.NDArray[np.uint64]) -> float:
    """numpy's ``random()``: a whole word; a buffered half stays where it is."""
    return float(next64(g) >> _S11) * _DOUBLE


@kernel
def bounded(g: npt.NDArray[np.uint64], n: int) -> int:
    """numpy's ``integers(n)`` for ``1 <= n < 2**32``: Lemire's method, no draw for ``n == 1``."""
    if n <= 1:
        return 0
    ne = np.uint64(n)
    m = next32(g) * ne
    left = m & _M32
    if left < ne:
        thr = (_TWO32 - ne) % ne
        while left < thr:
            m = next32(g) * ne
            left = m & _M32
    return np.int64(m >> _S32)


@kernel
def interval(g: npt.NDArray[np.uint64], top: int) -> int:
    """numpy's ``random_interval(top)`` for ``top < 2**32``: bit-mask rejection."""
    if top == 0:
        return 0
    t = np.uint64(top)
    mask = t
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    mask |= mask >> _S32
    v = next32(g) & mask
    while v > t:
        v = next32(g) & mask
    return np.int64(v)


@kernel
def permutation(g: npt.NDArray[np.uint64], n: int, out: npt.NDArray[np.int64]) -> None:
    """numpy's ``permutation(n)`` into ``out[:n]``."""
    for i in range(n):
        out[i] = i
    for i in range(n - 1, 0, -1):
        j = interval(g, i)
        hold = out[j]
        out[j] = out[i]
        out[i] = hold


@kernel
def _pairwise_block(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """numpy's pairwise sum of ``a[lo:lo + n]`` for ``n <= 128``: sequential below 8, else
    eight accumulators over blocks of eight, combined as a tree, then the rest in turn."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@kernel
def pairwise_sum(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """numpy's ``a[lo:lo + n].sum()`` (``pairwise_sum`` of numpy's ``loops_utils.h``), the
    same float: above 128 entries, the halves (the first a multiple of 8) summed apart.

    numba's disk cache does not take recursive functions: the split is walked with a stack.
    """
    if n <= 128:
        return _pairwise_block(a, lo, n)
    # a node (lo, n, stage): stage 0 pushes its left half, 1 its right, 2 adds the two
    st_lo = np.empty(128, dtype=np.int64)
    st_n = np.empty(128, dtype=np.int64)
    st_stage = np.zeros(128, dtype=np.int64)
    vals = np.empty(128)
    sp = 1
    vp = 0
    st_lo[0] = lo
    st_n[0] = n
    st_stage[0] = 0
    while sp > 0:
        top = sp - 1
        m = st_n[top]
        if m <= 128:
            vals[vp] = _pairwise_block(a, st_lo[top], m)
            vp += 1
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        stage = st_stage[top]
        if stage == 2:
            vals[vp - 2] = vals[vp - 2] + vals[vp - 1]
            vp -= 1
            sp -= 1
            continue
        st_stage[top] = stage + 1
        if stage == 0:
            st_lo[sp] = st_lo[top]
            st_n[sp] = half
        else:
            st_lo[sp] = st_lo[top] + half
            st_n[sp] = m - half
        st_stage[sp] = 0
        sp += 1
    return vals[0]


@kernel
def aggregate(g: npt.NDArray[np.float64], m: int, agg: int, q: float, tmp: npt.NDArray[np.float64]) -> float:
    """The landscape's aggregate of ``g[:m]`` (NaN omitted; NaN when none is left), the
    floats of :func:`~nb201_flat.landscape.neighbourhood.aggregate_members`."""
    n = 0
    for t in range(m):
        if not math.isnan(g[t]):
            n += 1
    if n == 0:
        return math.nan
    if agg == AGG_MEAN:
        if n == m:
            return pairwise_sum(g, 0, m) / float(n)
        for t in range(m):
            tmp[t] = 0.0 if math.isnan(g[t]) else g[t]
        return pairwise_sum(tmp, 0, m) / float(n)
    if agg == AGG_MIN:
        best = math.inf
        for t in range(m):
            if g[t] < best:
                best = g[t]
        return best
    k = 0
    for t in range(m):
        if not math.isnan(g[t]):
            tmp[k] = g[t]
            k += 1
    s = np.sort(tmp[:n])
    pos = q * float(n - 1)
    low = int(math.floor(pos))
    high = min(low + 1, n - 1)
    a, b = s[low], s[high]
    frac = pos - float(low)
    diff = b - a
    if frac >= 0.5:
        return b - diff * (1.0 - frac)
    return a + diff * frac


@kernel
def _query(
    i: int,
    ip: npt.NDArray[np.int64],
    fp: npt.NDArray[np.float64],
    vt: npt.NDArray[np.float64],
    cnt: npt.NDArray[np.int64],
    costs: npt.NDArray[np.float64],
    cache_v: npt.NDArray[np.float64],
    cache_t: npt.NDArray[np.int64],
    tag: int,
    orc: npt.NDArray[np.uint64],
    ist: npt.NDArray[np.int64],
    fst: npt.NDArray[np.float64],
) -> float:
    """``Oracle.query(i)``; a refused query ends the run (``ist[_END]``)."""
    cache = ip[P_CACHE] != 0
    if cache and cache_t[i] == tag:
        ist[_HITS] += 1
        return cache_v[i]
    cost = costs[i] if ip[P_HAS_COSTS] != 0 else 0.0
    bq = ip[P_BQ]
    if (bq >= 0 and ist[_Q] + 1 > bq) or (ip[P_HAS_BS] != 0 and fst[_SEC] + cost > fp[F_BS]):
        ist[_END] = 1
        return math.nan
    ist[_Q] += 1
    fst[_SEC] += cost
    k = 0
    if ip[P_SEEDED] != 0 and cnt[i] > 1:
        k = bounded(orc, cnt[i])
    v = vt[k, i]
    if cache:
        cache_v[i] = v
        cache_t[i] = tag
    return v


@kernel
def _score(
    i: int,
    ip: npt.NDArray[np.int64],
    fp: npt.NDArray[np.float64],
    vt: npt.NDArray[np.float64],
    cnt: npt.NDArray[np.int64],
    costs: npt.NDArray[np.float64],
    nbi: npt.NDArray[np.int64],
    nbc: npt.NDArray[np.int64],
    fixed: npt.NDArray[np.float64],
    mem_v: npt.NDArray[np.float64],
    mem_t: npt.NDArray[np.int64],
    tag: int,
    orc: npt.NDArray[np.uint64],
    ist: npt.NDArray[np.int64],
    fst: npt.NDArray[np.float64],
    buf: npt.NDArray[np.int64],
    g: npt.NDArray[np.float64],
    tmp: npt.NDArray[np.float64],
) -> float:
    """The fitness of cell ``i``: the oracle's answer (no memory), the memory's own value, or
    the NA objective over what the run knows (free look-ups of new neighbours made first).

    ``mem_v``/``mem_t`` hold three tables of ``size`` entries one after the other: paid
    values, free look-ups, the oracle's cache; an entry is set in this run when its stamp is
    ``tag``."""
    size = ip[P_SIZE]
    if ip[P_MEMORY] == 0:
        return _query(
            i, ip, fp, vt, cnt, costs, mem_v[2 * size :], mem_t[2 * size :], tag, orc, ist, fst
        )
    if mem_t[i] == tag:
        ist[_STALL] += 1
        if ist[_STALL] > ip[P_STALL]:
            ist[_END] = 1  # the memory's stall: the search only revisits known cells
            return math.nan
        own = mem_v[i]
    else:
        own = _query(
            i, ip, fp, vt, cnt, costs, mem_v[2 * size :], mem_t[2 * size :], tag, orc, ist, fst
        )
        if ist[_END] != 0:
            return math.nan
        mem_v[i] = own
        mem_t[i] = tag
        ist[_STALL] = 0
    if ip[P_HAS_OBJ] == 0:
        return own
    # free look-ups of the neighbours neither paid nor looked up before, in neighbour order
    c = nbc[i]
    nn = 0
    for t in range(c):
        j = nbi[i, t]
        if mem_t[j] != tag and mem_t[size + j] != tag:
            buf[nn] = j
            nn += 1
    if nn:
        ist[_FREE] += nn
        if ip[P_HAS_COSTS] != 0:
            for t in range(nn):
                tmp[t] = costs[buf[t]]
            fst[_FREE_S] += pairwise_sum(tmp, 0, nn)
        seeded = ip[P_SEEDED] != 0
        for t in range(nn):
            j = buf[t]
            k = 0
            if seeded:
                u = next_double(orc)
                k = int(math.floor(u * float(max(cnt[j], 1))))
            mem_v[size + j] = vt[k, j]
            mem_t[size + j] = tag
    if ip[P_FIXED] != 0:
        return fixed[i]
    m = 0
    if ip[P_SELF] != 0:
        g[0] = own
        m = 1
    for t in range(c):
        j = nbi[i, t]
        g[m] = mem_v[j] if mem_t[j] == tag else mem_v[size + j]
        m += 1
    return aggregate(g, m, ip[P_AGG], fp[F_Q], tmp)


@kernel
def _offer(
    i: int,
    f: float,
    ist: npt.NDArray[np.int64],
    fst: npt.NDArray[np.float64],
    chp: npt.NDArray[np.int64],
    ch_s: npt.NDArray[np.float64],
    ch_q: npt.NDArray[np.int64],
    ch_i: npt.NDArray[np.int64],
) -> bool:
    """``Incumbent.offer``; False when the change buffers are full (the run is redone)."""
    if f > fst[_SCORE]:
        fst[_SCORE] = f
        if i != ist[_INC]:
            ist[_INC] = i
            p = chp[0]
            if p >= ch_s.shape[0]:
                return False
            ch_s[p] = fst[_SEC]
            ch_q[p] = ist[_Q]
            ch_i[p] = i
            chp[0] = p + 1
    return True


@kernel
def run_searches(
    ip: npt.NDArray[np.int64],
    fp: npt.NDArray[np.float64],
    vt: npt.NDArray[np.float64],
    cnt: npt.NDArray[np.int64],
    costs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.int64],
    mut: npt.NDArray[np.int64],
    nb1: npt.NDArray[np.int64],
    nb1c: npt.NDArray[np.int64],
    nbi: npt.NDArray[np.int64],
    nbc: npt.NDArray[np.int64],
    fixed: npt.NDArray[np.float64],
    algo_st: npt.NDArray[np.uint64],
    orc_st: npt.NDArray[np.uint64],
    out_i: npt.NDArray[np.int64],
    out_f: npt.NDArray[np.float64],
    ch_s: npt.NDArray[np.float64],
    ch_q: npt.NDArray[np.int64],
    ch_i: npt.NDArray[np.int64],
) -> int:
    """Runs ``ip[P_START]..`` of REA or LS (``ip[P_KIND]``), one after another.

    ``algo_st``/``orc_st``: each run's PCG64 ``(state hi, state lo, inc hi, inc lo)`` of its
    algorithm and oracle streams. Per run ``k``: ``out_i[k]`` = (best, queries, free
    look-ups, cache hits, changes), ``out_f[k]`` = (score, seconds, free seconds); the
    changes ``(seconds, queries, cell)`` go to ``ch_*`` run after run. Returns the first run
    not done (its changes did not fit: call again from there with larger buffers), or the
    number of runs.
    """
    n_runs = algo_st.shape[0]
    size = ip[P_SIZE]
    kind = ip[P_KIND]
    mem_v = np.empty(3 * size)
    mem_t = np.full(3 * size, -1, dtype=np.int64)
    width = max(nbi.shape[1], nb1.shape[1]) + 1
    buf = np.empty(width, dtype=np.int64)
    g = np.empty(width)
    tmp = np.empty(width)
    pop = max(ip[P_POP], 1)
    pop_c = np.zeros(pop, dtype=np.int64)
    pop_f = np.zeros(pop)
    perm = np.empty(width, dtype=np.int64)
    ag = np.zeros(_GEN, dtype=np.uint64)
    og = np.zeros(_GEN, dtype=np.uint64)
    ist = np.zeros(8, dtype=np.int64)
    fst = np.zeros(3)
    chp = np.zeros(1, dtype=np.int64)
    n_dom = cand.shape[0] if ip[P_HAS_CAND] != 0 else size
    for k in range(ip[P_START], n_runs):
        for t in range(4):
            ag[t] = algo_st[k, t]
            og[t] = orc_st[k, t]
        ag[4] = ag[5] = og[4] = og[5] = _ZERO
        ist[:] = 0
        ist[_INC] = -1
        fst[:] = 0.0
        fst[_SCORE] = -math.inf
        start = chp[0]
        tag = k
        full = False
        if kind == KIND_REA:
            full = _rea(
                ip, fp, vt, cnt, costs, cand, n_dom, mut, nbi, nbc, fixed, mem_v, mem_t, tag,
                ag, og, ist, fst, buf, g, tmp, pop_c, pop_f, chp, ch_s, ch_q, ch_i,
            )
        else:
            full = _ls(
                ip, fp, vt, cnt, costs, cand, n_dom, nb1, nb1c, nbi, nbc, fixed, mem_v, mem_t,
                tag, ag, og, ist, fst, buf, g, tmp, perm, chp, ch_s, ch_q, ch_i,
            )
        if full:
            chp[0] = start
            return k
        out_i[k, 0] = ist[_INC]
        out_i[k, 1] = ist[_Q]
        out_i[k, 2] = ist[_FREE]
        out_i[k, 3] = ist[_HITS]
        out_i[k, 4] = chp[0] - start
        out_f[k, 0] = fst[_SCORE]
        out_f[k, 1] = fst[_SEC]
        out_f[k, 2] = fst[_FREE_S]
    return n_runs


@kernel
def _sample(g: npt.NDArray[np.uint64], cand: npt.NDArray[np.int64], n_dom: int, has: bool) -> int:
    """``oracle.sample(rng)``."""
    d = bounded(g, n_dom)
    return cand[d] if has else d


@kernel
def _rea(
    ip: npt.NDArray[np.int64],
    fp: npt.NDArray[np.float64],
    vt: npt.NDArray[np.float64],
    cnt: npt.NDArray[np.int64],
    costs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.int64],
    n_dom: int,
    mut: npt.NDArray[np.int64],
    nbi: npt.NDArray[np.int64],
    nbc: npt.NDArray[np.int64],
    fixed: npt.NDArray[np.float64],
    mem_v: npt.NDArray[np.float64],
    mem_t: npt.NDArray[np.int64],
    tag: int,
    ag: npt.NDArray[np.uint64],
    og: npt.NDArray[np.uint64],
    ist: npt.NDArray[np.int64],
    fst: npt.NDArray[np.float64],
    buf: npt.NDArray[np.int64],
    g: npt.NDArray[np.float64],
    tmp: npt.NDArray[np.float64],
    pop_c: npt.NDArray[np.int64],
    pop_f: npt.NDArray[np.float64],
    chp: npt.NDArray[np.int64],
    ch_s: npt.NDArray[np.float64],
    ch_q: npt.NDArray[np.int64],
    ch_i: npt.NDArray[np.int64],
) -> bool:
    """One run of ``RegularizedEvolution.search``; True when the change buffers are full."""
    p = ip[P_POP]
    s = ip[P_SAMPLE]
    n_nodes, n_ops, n_edges = ip[P_NODES], ip[P_OPS], ip[P_EDGES]
    n_other = n_ops - 1
    has_cand = ip[P_HAS_CAND] != 0
    for t in range(p):
        i = _sample(ag, cand, n_dom, has_cand)
        f = _score(i, ip, fp, vt, cnt, costs, nbi, nbc, fixed, mem_v, mem_t, tag, og, ist, fst, buf, g, tmp)
        if ist[_END] != 0:
            return False
        pop_c[t] = i
        pop_f[t] = f
        if not _offer(i, f, ist, fst, chp, ch_s, ch_q, ch_i):
            return True
    head = 0
    while True:
        # the tournament: the first drawn member, replaced by each strictly fitter one
        best_i = -1
        best_f = -math.inf
        for _ in range(s):
            slot = (head + bounded(ag, p)) % p
            f = pop_f[slot]
            if best_i < 0 or f > best_f:
                best_i = pop_c[slot]
                best_f = f
        # mutate: node 1..n-1 then one of its input edges (or an edge), then another op
        if ip[P_NODE_EDGE] != 0:
            node = 1 + bounded(ag, n_nodes - 1)
            e = node * (node - 1) // 2 + bounded(ag, node)
        else:
            e = bounded(ag, n_edges)
        r = bounded(ag, n_other)
        child = mut[(best_i * n_edges + e) * n_other + r]
        f = _score(child, ip, fp, vt, cnt, costs, nbi, nbc, fixed, mem_v, mem_t, tag, og, ist, fst, buf, g, tmp)
        if ist[_END] != 0:
            return False
        pop_c[head] = child
        pop_f[head] = f
        head = (head + 1) % p
        if not _offer(child, f, ist, fst, chp, ch_s, ch_q, ch_i):
            return True


@kernel
def _ls(
    ip: npt.NDArray[np.int64],
    fp: npt.NDArray[np.float64],
    vt: npt.NDArray[np.float64],
    cnt: npt.NDArray[np.int64],
    costs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.int64],
    n_dom: int,
    nb1: npt.NDArray[np.int64],
    nb1c: npt.NDArray[np.int64],
    nbi: npt.NDArray[np.int64],
    nbc: npt.NDArray[np.int64],
    fixed: npt.NDArray[np.float64],
    mem_v: npt.NDArray[np.float64],
    mem_t: npt.NDArray[np.int64],
    tag: int,
    ag: npt.NDArray[np.uint64],
    og: npt.NDArray[np.uint64],
    ist: npt.NDArray[np.int64],
    fst: npt.NDArray[np.float64],
    buf: npt.NDArray[np.int64],
    g: npt.NDArray[np.float64],
    tmp: npt.NDArray[np.float64],
    perm: npt.NDArray[np.int64],
    chp: npt.NDArray[np.int64],
    ch_s: npt.NDArray[np.float64],
    ch_q: npt.NDArray[np.int64],
    ch_i: npt.NDArray[np.int64],
) -> bool:
    """One run of ``LocalSearch.search``; True when the change buffers are full."""
    first = ip[P_FIRST] != 0
    has_cand = ip[P_HAS_CAND] != 0
    while True:
        x = _sample(ag, cand, n_dom, has_cand)
        fx = _score(x, ip, fp, vt, cnt, costs, nbi, nbc, fixed, mem_v, mem_t, tag, og, ist, fst, buf, g, tmp)
        if ist[_END] != 0:
            return False
        if not _offer(x, fx, ist, fst, chp, ch_s, ch_q, ch_i):
            return True
        while True:
            n = nb1c[x]
            permutation(ag, n, perm)
            best_y = -1
            best_f = fx
            for t in range(n):
                y = nb1[x, perm[t]]
                fy = _score(y, ip, fp, vt, cnt, costs, nbi, nbc, fixed, mem_v, mem_t, tag, og, ist, fst, buf, g, tmp)
                if ist[_END] != 0:
                    return False
                if not _offer(y, fy, ist, fst, chp, ch_s, ch_q, ch_i):
                    return True
                if fy > best_f:
                    best_y = y
                    best_f = fy
                    if first:
                        break
            if best_y < 0:
                break
            x = best_y
            fx = best_f


@kernel
def draws(
    g: npt.NDArray[np.uint64], ops: npt.NDArray[np.int64], out: npt.NDArray[np.float64]
) -> int:
    """A script of draws from generator ``g`` (the guard's and the tests' view of the
    streams): ``ops[t] = (0, n)`` ``integers(n)``, ``(1, n)`` ``permutation(n)``, ``(2, 0)``
    ``random()``; results appended to ``out`` (as floats). Returns how many were written."""
    at = 0
    top = 1
    for t in range(ops.shape[0]):
        top = max(top, ops[t, 1])
    perm = np.empty(top, dtype=np.int64)
    for t in range(ops.shape[0]):
        op, n = ops[t, 0], ops[t, 1]
        if op == 0:
            out[at] = float(bounded(g, n))
            at += 1
        elif op == 1:
            permutation(g, n, perm)
            for j in range(n):
                out[at + j] = float(perm[j])
            at += n
        else:
            out[at] = next_double(g)
            at += 1
    return at


def warm_up() -> None:
    """Load (or, on a cold cache, compile) every kernel of this module, on tiny inputs of the
    production dtypes."""
    gen = np.zeros(_GEN, dtype=np.uint64)
    gen[3] = np.uint64(1)
    draws(gen, np.array([[0, 3], [1, 3], [2, 0]], dtype=np.int64), np.zeros(8))
    pairwise_sum(np.ones(3), 0, 3)
    aggregate(np.ones(3), 3, AGG_MEAN, 0.5, np.empty(3))
    size = 2
    ip = np.zeros(P_LEN, dtype=np.int64)
    ip[P_SIZE] = size
    ip[P_BQ] = 2
    ip[P_POP] = ip[P_SAMPLE] = 1
    ip[P_NODES], ip[P_OPS], ip[P_EDGES] = 2, 2, 1
    ip[P_STALL] = 10
    fp = np.zeros(F_LEN)
    i64 = np.zeros(size, dtype=np.int64)
    nb = np.array([[1], [0]], dtype=np.int64)
    states = np.ones((1, 4), dtype=np.uint64)
    for kind in (KIND_REA, KIND_LS):
        ip[P_KIND] = kind
        ip[P_MEMORY] = kind
        run_searches(
            ip, fp, np.zeros((1, size)), np.ones(size, dtype=np.int64), np.ones(size), i64,
            i64, nb, np.ones(size, dtype=np.int64), nb, np.ones(size, dtype=np.int64),
            np.zeros(size), states, states, np.zeros((1, 5), dtype=np.int64), np.zeros((1, 3)),
            np.zeros(4), np.zeros(4, dtype=np.int64), np.zeros(4, dtype=np.int64),
        )
