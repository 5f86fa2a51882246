"""Compiled per-run loops of regularised evolution and local search, with numpy's streams.

:func:`run_searches` runs REA or LS (plain or NA with free neighbours) one run after another,
each exactly as :func:`~nb201_flat.search.runner.run_one` runs it: the same oracle (budgets,
cache, stored seeds, the stall guard), the same memory (paid values, free look-ups, the stall
counter), the same incumbent. Each run's two streams are PCG64 generators stepped here, from the states
``SeedSequence(seed, spawn_key=(r, 0))`` and ``(r, 1)`` give (numpy 2.4's
``numpy/random/src/pcg64/pcg64.h``: a 128-bit LCG, stepped, then the XSL-RR output of the new
state), and consumed as numpy's ``Generator`` consumes them (numpy 2.4's
``distributions.c``, ``_bounded_integers.pyx``, ``_generator.pyx``; held to numpy at run time
by :func:`~nb201_flat.search.lockstep._kernels_match_numpy`): a 32-bit draw takes the high
half of a buffered word if there is one, else the low half of the next word (buffering its
high half); ``integers(n)`` is Lemire's multiply-shift with rejection on 32-bit draws and
draws nothing for ``n == 1``; ``permutation(n)`` is a Fisher-Yates shuffle from the top, each
partner drawn by bit-mask rejection on 32-bit draws; ``random()`` takes a whole word,
``(w >> 11) * 2**-53``.

Float sums follow numpy's: a free look-up's seconds are ``costs[batch].sum()`` (numpy's
pairwise summation, :func:`~nb201_flat.search.kernels_numpy.pairwise_sum`), added to the
run's total in turn; the NA mean is the landscape's row sum over the members (absent ones as
0.0) divided by the count. numpy's arithmetic shared with the other kernel modules (the
pairwise sum, PCG64's 128-bit step and output) is :mod:`.kernels_numpy`'s.

Kernels take fixed dtypes (int64, float64, uint64 arrays; Python ints and floats), so each
compiles once (:func:`warm_up`). This module imports numba: import it lazily.

Examples
--------
>>> import numpy as np
>>> g = np.zeros(_GEN, dtype=np.uint64)  # a generator (state, inc) = (0, 1)
>>> g[3] = 1
>>> bits = np.random.PCG64()
>>> bits.state = {"bit_generator": "PCG64", "state": {"state": 0, "inc": 1},
...               "has_uint32": 0, "uinteger": 0}
>>> int(bounded(g, 10)) == int(np.random.Generator(bits).integers(10))
True
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from nb201_flat import neighbourhood
from nb201_flat.jit import depends_on, kernel
from nb201_flat.search import kernels_numpy, oracle
from nb201_flat.search.kernels_numpy import pairwise_sum, pcg64_output, pcg64_step
from nb201_flat.search.oracle import IDLE_CACHED, IDLE_FREE, IDLE_REVISIT

_M32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_DOUBLE = 1.0 / 9007199254740992.0  # 2**-53

# a generator: [state high, state low, inc high, inc low, has a buffered half, that half]
_GEN = 6

# the integer and float parameters of :func:`run_searches`, by position
P_SIZE, P_SEEDED, P_HAS_COSTS, P_HAS_BS, P_BQ, P_CACHE, P_KIND, P_POP, P_SAMPLE = range(9)
P_NODE_EDGE, P_NODES, P_OPS, P_EDGES, P_FIRST, P_HAS_OBJ, P_SELF, P_AGG = range(9, 17)
P_FIXED, P_MEMORY, P_STALL, P_START, P_HAS_CAND, P_DOM_SIZE, P_LEN = 17, 18, 19, 20, 21, 22, 23
F_BS, F_Q, F_LEN = 0, 1, 2
KIND_REA, KIND_LS = 0, 1
#: the integers :func:`run_searches` writes per run (its ``out_i`` columns)
OUT_INTS = 7
AGG_MEAN, AGG_MIN, AGG_QUANTILE = 0, 1, 2


@kernel
def next64(g: npt.NDArray[np.uint64]) -> np.uint64:
    """PCG64's next output: step the 128-bit state, then XSL-RR of the new state."""
    hi, lo = pcg64_step(g[0], g[1], g[2], g[3])
    g[0] = hi
    g[1] = lo
    return pcg64_output(hi, lo)


@kernel
def next32(g: npt.NDArray[np.uint64]) -> np.uint64:
    """numpy's 32-bit draw: a buffered high half, else the low half of a new word."""
    if g[4] != _ZERO:
        g[4] = _ZERO
        return np.uint64(g[5])
    w = next64(g)
    g[4] = _ONE
    g[5] = w >> _S32
    return w & _M32


@kernel
def next_double(g: npt.NDArray[np.uint64]) -> float:
    """numpy's ``random()``: a whole word; a buffered half stays where it is."""
    return float(next64(g) >> _S11) * _DOUBLE


@kernel
def bounded(g: npt.NDArray[np.uint64], n: int) -> np.int64:
    """numpy's ``integers(n)`` for ``1 <= n < 2**32``: Lemire's method, no draw for ``n == 1``."""
    if n <= 1:
        return np.int64(0)
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
def interval(g: npt.NDArray[np.uint64], top: int) -> np.int64:
    """numpy's ``random_interval(top)`` for ``top < 2**32``: bit-mask rejection."""
    if top == 0:
        return np.int64(0)
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


# the quantile rule of the neighbourhood specification, compiled from its own source
_level_position = kernel(neighbourhood.level_position)
_lerp = kernel(neighbourhood.lerp)
# the tournament's ranking rule, the loop's own
_ranks_before = kernel(oracle.ranks_before)


@kernel
def aggregate(
    g: npt.NDArray[np.float64], m: int, agg: int, q: float, tmp: npt.NDArray[np.float64]
) -> float:
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
    low, high, frac = _level_position(q, n)
    return float(_lerp(s[low], s[high], frac))


@kernel
def run_searches(
    ip: npt.NDArray[np.int64],
    fp: npt.NDArray[np.float64],
    vt: npt.NDArray[np.float64],
    cnt: npt.NDArray[np.int64],
    costs: npt.NDArray[np.float64],
    cand: npt.NDArray[np.int64],
    dom: npt.NDArray[np.bool_],
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
    """Runs ``ip[P_START]..`` of REA or LS (``ip[P_KIND]``), one after another, each as
    ``run_one`` runs it.

    ``algo_st``/``orc_st``: each run's PCG64 ``(state hi, state lo, inc hi, inc lo)`` of its
    algorithm and oracle streams; ``dom`` the sampling domain as a mask
    (:attr:`~nb201_flat.search.oracle.OracleData.domain`). Per run ``k``: ``out_i[k]`` =
    (best, queries, free look-ups, cache hits, changes, the ``IDLE_*`` bits of its stall, REA's
    children scored), ``out_f[k]`` = (score, seconds, free seconds); the
    changes ``(seconds, queries, cell)`` go to ``ch_*`` run after run. Returns the first run
    not done (its changes did not fit: call again from there with larger buffers), or the
    number of runs.

    One loop a run, with the run's counters in local variables (no calls that take arrays
    on the hot path: numba counts references to every array argument of a call): each turn
    picks the next cell the algorithm scores (REA: a sample while the population fills, else
    the tournament winner's mutant; LS: a restart's sample, else the next neighbour of the
    shuffled block), scores it (the oracle, the memory, the NA look-ups), offers it to the
    incumbent, and hands the score back to the algorithm.
    """
    n_runs = algo_st.shape[0]
    size = ip[P_SIZE]
    seeded = ip[P_SEEDED] != 0
    has_costs = ip[P_HAS_COSTS] != 0
    has_bs = ip[P_HAS_BS] != 0
    bs = fp[F_BS]
    bq = ip[P_BQ]
    cache = ip[P_CACHE] != 0
    rea = ip[P_KIND] == KIND_REA
    pop = ip[P_POP]
    n_sample = ip[P_SAMPLE]
    node_edge = ip[P_NODE_EDGE] != 0
    n_nodes, n_ops, n_edges = ip[P_NODES], ip[P_OPS], ip[P_EDGES]
    n_other = n_ops - 1
    first = ip[P_FIRST] != 0
    has_obj = ip[P_HAS_OBJ] != 0
    with_self = ip[P_SELF] != 0
    agg = ip[P_AGG]
    q = fp[F_Q]
    use_fixed = ip[P_FIXED] != 0
    memory = ip[P_MEMORY] != 0
    stall_limit = ip[P_STALL]
    has_cand = ip[P_HAS_CAND] != 0
    n_dom = cand.shape[0] if has_cand else size
    # the sampling domain as a mask (OracleData.domain) and its cells: a cache hit is idle
    # only once every one is cached (StallGuard's rule)
    dom_size = ip[P_DOM_SIZE]
    # what run k knows of a cell: stamp 2k + 1 paid (or, without a memory, in the oracle's
    # cache), 2k looked up free, less: nothing; ``known`` holds the value (a paid one replaces
    # a look-up's, as the memory reads paid values first)
    stamp = np.full(size, -1, dtype=np.int64)
    known = np.empty(size)
    width = max(nbi.shape[1], nb1.shape[1]) + 1
    buf = np.empty(width, dtype=np.int64)
    g = np.empty(width)
    tmp = np.empty(width)
    perm = np.empty(width, dtype=np.int64)
    pop_c = np.zeros(max(pop, 1), dtype=np.int64)
    pop_f = np.zeros(max(pop, 1))
    ag = np.zeros(_GEN, dtype=np.uint64)
    og = np.zeros(_GEN, dtype=np.uint64)
    cap = ch_s.shape[0]
    chp = 0
    for k in range(ip[P_START], n_runs):
        for t in range(4):
            ag[t] = algo_st[k, t]
            og[t] = orc_st[k, t]
        ag[4] = ag[5] = og[4] = og[5] = _ZERO
        queries = 0
        seconds = 0.0
        free = 0
        free_s = 0.0
        hits = 0
        stall = 0
        idle = 0  # the oracle's stall guard: queries in a row that spent no budget
        kinds = 0  # the IDLE_* bits of those queries (StallGuard.kinds)
        uncached = dom_size  # domain cells not in the oracle's cache yet
        stalled = 0  # the IDLE_* bits of the stall that ended the run (0: none)
        inc_idx = -1
        inc_score = -math.inf
        start = chp
        full = False
        tag = k
        filled = 0  # REA: members so far, then the oldest's slot
        head = 0
        children = 0  # REA: mutated children scored
        x = -1  # LS: the current cell, its score, and the block of its shuffled neighbours
        fx = 0.0
        in_block = False
        t_blk = 0
        n_blk = 0
        best_y = -1
        best_f = 0.0
        while True:
            # the cell the algorithm scores next
            if rea and filled >= pop:
                # the tournament: the first drawn member, replaced by each strictly fitter one;
                # NaN ranks last (the loop's rule)
                best_i = -1
                top = -math.inf
                for _ in range(n_sample):
                    slot = (head + bounded(ag, pop)) % pop
                    f = pop_f[slot]
                    if best_i < 0 or _ranks_before(f, top):
                        best_i = pop_c[slot]
                        top = pop_f[slot]
                # the mutation: node 1..n-1 then one of its input edges (or an edge), then
                # another op
                if node_edge:
                    node = 1 + bounded(ag, n_nodes - 1)
                    e = node * (node - 1) // 2 + bounded(ag, int(node))
                else:
                    e = bounded(ag, n_edges)
                r = bounded(ag, n_other)
                cell = mut[(best_i * n_edges + e) * n_other + r]
            elif not rea and in_block:
                cell = nb1[x, perm[t_blk]]
            else:
                d = bounded(ag, n_dom)
                cell = cand[d] if has_cand else d
            # its value: the memory's, the cache's, or a charged query (refused: the end)
            paid = 2 * tag + 1
            if memory and stamp[cell] == paid:
                stall += 1
                if stall > stall_limit:
                    stalled = IDLE_REVISIT
                    break  # the memory's stall: the search only revisits known cells
                own = known[cell]
            elif cache and not memory and stamp[cell] == paid:
                if uncached == 0:  # else a new cell remains: the hit does not count
                    idle += 1
                    kinds |= IDLE_CACHED
                    if idle > stall_limit:
                        stalled = kinds
                        break  # the oracle's stall: cached repeats spend nothing
                hits += 1
                own = known[cell]
            else:
                cost = costs[cell] if has_costs else 0.0
                if (bq >= 0 and queries + 1 > bq) or (has_bs and seconds + cost > bs):
                    break
                if bq >= 0 or seconds + cost != seconds:  # oracle.spends
                    idle = 0
                    kinds = 0
                else:
                    idle += 1
                    kinds |= IDLE_FREE
                    if idle > stall_limit:
                        stalled = kinds
                        break  # the oracle's stall: free cells under a time budget
                queries += 1
                seconds += cost
                row = 0
                if seeded and cnt[cell] > 1:
                    row = int(bounded(og, cnt[cell]))
                own = vt[row, cell]
                if memory or cache:
                    known[cell] = own
                    stamp[cell] = paid
                    if dom[cell]:
                        uncached -= 1
                stall = 0
            f = own
            if has_obj:
                # free look-ups of the neighbours neither paid nor looked up, in order
                c = nbc[cell]
                nn = 0
                for t in range(c):
                    j = nbi[cell, t]
                    if stamp[j] < 2 * tag:
                        buf[nn] = j
                        nn += 1
                if nn:
                    free += nn
                    if has_costs:
                        for t in range(nn):
                            tmp[t] = costs[buf[t]]
                        free_s += pairwise_sum(tmp, 0, nn)
                    for t in range(nn):
                        j = buf[t]
                        row = 0
                        if seeded:
                            u = next_double(og)
                            row = math.floor(u * float(max(cnt[j], 1)))
                        known[j] = vt[row, j]
                        stamp[j] = 2 * tag
                if use_fixed:
                    f = fixed[cell]
                else:
                    m = 0
                    if with_self:
                        g[0] = own
                        m = 1
                    for t in range(c):
                        g[m] = known[nbi[cell, t]]
                        m += 1
                    f = aggregate(g, m, agg, q, tmp)
            # the incumbent
            if f > inc_score:
                inc_score = f
                if cell != inc_idx:
                    inc_idx = cell
                    if chp >= cap:
                        full = True
                        break
                    ch_s[chp] = seconds
                    ch_q[chp] = queries
                    ch_i[chp] = cell
                    chp += 1
            # the algorithm takes the score
            if rea:
                if filled < pop:
                    pop_c[filled] = cell
                    pop_f[filled] = f
                    filled += 1
                else:
                    pop_c[head] = cell
                    pop_f[head] = f
                    head = (head + 1) % pop
                    children += 1
                continue
            move = False
            if not in_block:
                x = cell
                fx = f
                move = True
            else:
                t_blk += 1
                done = t_blk >= n_blk
                if f > best_f:
                    best_y = cell
                    best_f = f
                    done = done or first
                if done:
                    if best_y < 0:
                        in_block = False  # a local optimum: restart
                    else:
                        x = best_y
                        fx = best_f
                        move = True
            if move:
                n_blk = nb1c[x]
                permutation(ag, n_blk, perm)
                t_blk = 0
                best_y = -1
                best_f = fx
                in_block = n_blk > 0
        if full:
            return k
        out_i[k, 0] = inc_idx
        out_i[k, 1] = queries
        out_i[k, 2] = free
        out_i[k, 3] = hits
        out_i[k, 4] = chp - start
        out_i[k, 5] = stalled
        out_i[k, 6] = children
        out_f[k, 0] = inc_score
        out_f[k, 1] = seconds
        out_f[k, 2] = free_s
    return int(n_runs)


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
        if ops[t, 0] == 1:  # sized by the permutations alone: integers(n) may take n ~ 2**31
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
    ip[P_DOM_SIZE] = size
    fp = np.zeros(F_LEN)
    i64 = np.zeros(size, dtype=np.int64)
    nb = np.array([[1], [0]], dtype=np.int64)
    states = np.ones((1, 4), dtype=np.uint64)
    # read-only as OracleData.domain is: numba compiles one version per argument types
    domain = np.ones(size, dtype=np.bool_)
    domain.setflags(write=False)
    for kind in (KIND_REA, KIND_LS):
        ip[P_KIND] = kind
        ip[P_MEMORY] = kind
        run_searches(
            ip,
            fp,
            np.zeros((1, size)),
            np.ones(size, dtype=np.int64),
            np.ones(size),
            i64,
            domain,
            i64,
            nb,
            np.ones(size, dtype=np.int64),
            nb,
            np.ones(size, dtype=np.int64),
            np.zeros(size),
            states,
            states,
            np.zeros((1, OUT_INTS), dtype=np.int64),
            np.zeros((1, 3)),
            np.zeros(4),
            np.zeros(4, dtype=np.int64),
            np.zeros(4, dtype=np.int64),
        )


# the kernels above call kernels_numpy's and the neighbourhood's: their edits must reach their
# cached code
#: the files whose code or constants the compiled kernels hold (the disk cache is tied to them)
CACHE_SOURCES = (kernels_numpy, neighbourhood, oracle)
depends_on(__name__, *CACHE_SOURCES)
