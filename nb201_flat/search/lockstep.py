"""Regularised evolution and local search across runs in lock step, with the loop's streams.

REA and LS are sequential within a run but not across runs: run ``r`` only ever reads its own
two streams (``SeedSequence(seed, spawn_key=(r, 0))`` for the algorithm, ``(r, 1)`` for the
oracle's seed draws, see :mod:`~nb201_flat.search.runner`). So all runs can advance together,
one population per run (REA: one cycle per step; LS: one neighbourhood block per step), with
numpy over the runs. Each stream is replayed from the generator's raw 32-bit words exactly as
numpy's ``Generator`` consumes them (numpy 2.x, ``_bounded_integers`` and ``_shuffle_raw`` of
``numpy/random``): ``integers(n)`` is Lemire's multiply-shift with rejection on one 32-bit word
per try and draws nothing for ``n == 1``; ``permutation(n)`` is a Fisher-Yates shuffle from the
top, each swap partner drawn by bit-mask rejection on a 32-bit word. Costs are added in the
loop's order (a cumulative sum is sequential), so the seconds are the same floats.

Covered (:func:`lockstep_kind`): :class:`RegularizedEvolution` and :class:`LocalSearch`, plain
under any protocol, and their NA forms with free neighbours on a single-row oracle (one value
per cell), whose score of a cell is then fixed. A run whose oracle stream hits one of Lemire's
rejections inside a local-search block (probability about ``2**-31`` per draw) is re-run with
the loop. Everything else runs the loop. Results equal
:func:`nb201_flat.search.runner.run_one`'s.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> from nb201_flat.table import MetricKey
>>> from nb201_flat.search.algorithms import LocalSearch, RegularizedEvolution
>>> from nb201_flat.search.oracle import OracleData
>>> from nb201_flat.search.runner import run_one
>>> s = Space(("none", "skip_connect", "conv"), 3)
>>> data = OracleData(s, MetricKey("toy", "x-valid", 12), np.arange(27.0)[None, :],
...                   None, None, np.linspace(1, 3, 27), 40.0, None)
>>> algo = RegularizedEvolution(population=4, sample_size=2)
>>> run_lockstep(data, algo, seed=0, runs=range(3)) == [run_one(data, algo, 0, r) for r in range(3)]
True
>>> run_lockstep(data, LocalSearch(), 0, range(3)) == [run_one(data, LocalSearch(), 0, r) for r in range(3)]
True
"""

from __future__ import annotations

import functools
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.search.algorithms import (
    LocalSearch,
    NeighbourObjective,
    RegularizedEvolution,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import FloatArray, IntArray, OracleData
from nb201_flat.search.runner import RunRecord, run_one
from nb201_flat.types import BoolArray

npt_u64: TypeAlias = npt.NDArray[np.uint64]

_M32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)


def lockstep_kind(algorithm: SearchAlgorithm) -> bool:
    """Whether the algorithm has a lock-step form (the protocol may still rule it out).

    >>> from nb201_flat.search.algorithms import NeighbourObjective
    >>> lockstep_kind(RegularizedEvolution()), lockstep_kind(LocalSearch(first_improvement=True))
    (True, True)
    >>> lockstep_kind(LocalSearch(objective=NeighbourObjective(charge=True)))
    False
    """
    if not isinstance(algorithm, RegularizedEvolution | LocalSearch):
        return False
    obj = algorithm.objective
    return obj is None or not obj.charge


def lockstep_ok(data: OracleData, algorithm: SearchAlgorithm) -> bool:
    """True when :func:`run_lockstep` reproduces the loop for this protocol and algorithm."""
    if not lockstep_kind(algorithm):
        return False
    assert isinstance(algorithm, RegularizedEvolution | LocalSearch)
    if algorithm.objective is not None and data.order is not None:
        return False  # free look-ups draw seeds from the oracle stream between queries
    if isinstance(algorithm, LocalSearch):
        counts = data.space.neighbours(1).counts
        return bool(counts.size) and bool((counts == counts[0]).all())
    return True


@functools.cache
def replay_matches_numpy() -> bool:
    """Whether this numpy's ``Generator`` consumes PCG64 words as :class:`_Stream` replays them.

    numpy does not promise that ``integers`` and ``permutation`` keep their algorithms across
    releases; if a future one changes them, the batched paths must not give other records
    than the loop. Checked once per process on bounds that exercise the rejections.

    >>> replay_matches_numpy()
    True
    """
    runs = [0, 1, 2]
    st = _Stream(2026, runs, 0, width=16)
    gens = [np.random.default_rng(np.random.SeedSequence(2026, spawn_key=(r, 0))) for r in runs]
    rows = np.arange(len(runs))
    for n in (1, 2, 3, 10, 15_625, 2**31 + 7):
        if st.bounded(rows, n).tolist() != [int(g.integers(n)) for g in gens]:
            return False
        if st.permutation(rows, 7).tolist() != [g.permutation(7).tolist() for g in gens]:
            return False
    # the seeded replay (search.replay) also relies on random() taking a whole 64-bit word as
    # (word >> 11) * 2**-53 while a half-used word stays buffered for the next 32-bit draw
    raw = np.random.PCG64(np.random.SeedSequence(2026, spawn_key=(0, 1))).random_raw(4)
    gen = np.random.default_rng(np.random.SeedSequence(2026, spawn_key=(0, 1)))
    drawn = [int(gen.integers(1 << 31)), *gen.random(2).tolist(), int(gen.integers(1 << 31))]
    word32 = [int(raw[0]) & 0xFFFFFFFF, int(raw[0]) >> 32]  # Lemire, 2**31: never rejects
    want = [word32[0] >> 1, *[(int(w) >> 11) * 2.0**-53 for w in raw[1:3]], word32[1] >> 1]
    return drawn == want


class _Stream:
    """Each run's 32-bit words of one PCG64 stream, consumed as numpy's ``Generator`` does.

    PCG64 hands out a 64-bit output as two 32-bit draws, low half first; a fresh generator
    has no half buffered.
    """

    __slots__ = ("_keys", "_seed", "ptr", "words")

    def __init__(self, seed: int, runs: list[int], stream: int, width: int = 512) -> None:
        self._seed = seed
        self._keys = [(r, stream) for r in runs]
        self.ptr = np.zeros(len(runs), dtype=np.int64)
        self.words = self._make(width)

    def _make(self, n32: int) -> npt_u64:
        n64 = (n32 + 1) // 2
        out = np.empty((len(self._keys), 2 * n64), dtype=np.uint64)
        for k, key in enumerate(self._keys):
            bits = np.random.PCG64(np.random.SeedSequence(self._seed, spawn_key=key))
            raw = bits.random_raw(n64)
            out[k, 0::2] = raw & _M32
            out[k, 1::2] = raw >> np.uint64(32)
        return out

    def ensure(self, rows: IntArray, extra: int) -> None:
        """Room for ``extra`` more words in each of ``rows``."""
        if rows.size == 0:
            return
        need = int(self.ptr[rows].max()) + extra
        if need > self.words.shape[1]:
            self.words = self._make(max(need, 2 * self.words.shape[1]))

    def take(self, rows: IntArray) -> npt_u64:
        """The next word of each of ``rows`` (advancing them)."""
        self.ensure(rows, 1)
        w = self.words[rows, self.ptr[rows]]
        self.ptr[rows] += 1
        return w

    def bounded(self, rows: IntArray, n: IntArray | int) -> IntArray:
        """``integers(n)`` for each of ``rows`` (``n`` per row or shared; ``n == 1``: no draw)."""
        bound = np.broadcast_to(np.asarray(n, dtype=np.int64), rows.shape)
        out = np.zeros(rows.size, dtype=np.int64)
        act = np.flatnonzero(bound > 1)
        if act.size == 0:
            return out
        ne = bound[act].astype(np.uint64)
        m = self.take(rows[act]) * ne
        thr = (_TWO32 - ne) % ne
        rej = np.flatnonzero((m & _M32) < thr)
        while rej.size:
            m[rej] = self.take(rows[act[rej]]) * ne[rej]
            rej = rej[(m[rej] & _M32) < thr[rej]]
        out[act] = (m >> np.uint64(32)).astype(np.int64)
        return out

    def interval(self, rows: IntArray, top: int) -> IntArray:
        """numpy's ``random_interval(top)`` for each of ``rows``: bit-mask rejection."""
        if top == 0:
            return np.zeros(rows.size, dtype=np.int64)
        mask = np.uint64((1 << int(top).bit_length()) - 1)
        v = self.take(rows) & mask
        bad = np.flatnonzero(v > np.uint64(top))
        while bad.size:
            v[bad] = self.take(rows[bad]) & mask
            bad = bad[v[bad] > np.uint64(top)]
        out: IntArray = v.astype(np.int64)
        return out

    def permutation(self, rows: IntArray, n: int) -> IntArray:
        """``permutation(n)`` for each of ``rows``, shape ``(len(rows), n)``."""
        arr = np.tile(np.arange(n, dtype=np.int64), (rows.size, 1))
        at = np.arange(rows.size)
        for i in range(n - 1, 0, -1):
            j = self.interval(rows, i)
            hold = arr[at, j]
            arr[at, j] = arr[:, i]
            arr[:, i] = hold
        return arr


class _Runs:
    """The oracles, memories and incumbents of all runs, as arrays."""

    def __init__(self, data: OracleData, seed: int, runs: list[int], memory: bool) -> None:
        n = len(runs)
        self.data = data
        self.runs = runs
        self.algo = _Stream(seed, runs, 0)
        self.orc = _Stream(seed, runs, 1, width=64) if data.order is not None else None
        self.alive = np.ones(n, dtype=bool)
        self.queries = np.zeros(n, dtype=np.int64)
        self.seconds = np.zeros(n, dtype=np.float64)
        self.hits = np.zeros(n, dtype=np.int64)
        self.stall = np.zeros(n, dtype=np.int64)
        self.inc_idx = np.full(n, -1, dtype=np.int64)
        self.inc_score = np.full(n, -np.inf)
        self.changes: list[list[tuple[float, int, int]]] = [[] for _ in runs]
        self.redo = np.zeros(n, dtype=bool)
        size = data.space.size
        self.memory = memory
        self.known: BoolArray | None = None
        self.known_v: FloatArray | None = None
        if memory or data.repeats == "cache":
            self.known = np.zeros((n, size), dtype=bool)
            self.known_v = np.zeros((n, size), dtype=np.float64)
        # NA memory: the cells each run paid for, in order (for its free look-ups)
        self.paid_order: list[list[int]] = [[] for _ in runs]
        self.stall_limit = 20 * size + 1000
        self.n_dom = size if data.candidates is None else len(data.candidates)

    def sample(self, rows: IntArray) -> IntArray:
        """``oracle.sample(rng)`` for each of ``rows``."""
        draw = self.algo.bounded(rows, self.n_dom)
        cand = self.data.candidates
        return draw if cand is None else cand[draw].astype(np.int64)

    def _values(self, rows: IntArray, cells: IntArray) -> FloatArray:
        """Values of charged queries (the oracle stream's seed draws, in order)."""
        d = self.data
        if d.order is None or d.counts is None or self.orc is None:
            out: FloatArray = d.values[0, cells]
            return out
        pick = self.orc.bounded(rows, d.counts[cells])
        res: FloatArray = d.values[d.order[pick, cells], cells]
        return res

    def query(self, rows: IntArray, cells: IntArray) -> tuple[IntArray, FloatArray]:
        """One query per run of ``rows`` (a run ends when refused or stalled): the rows that
        got a value, and the values."""
        d = self.data
        val = np.full(rows.size, np.nan)
        fresh = np.ones(rows.size, dtype=bool)
        if self.known is not None and self.known_v is not None:
            hit = self.known[rows, cells]
            val[hit] = self.known_v[rows[hit], cells[hit]]
            fresh = ~hit
            hr = rows[hit]
            if self.memory:
                # the NA memory answers a paid cell again, and gives up after too many
                self.stall[hr] += 1
                self.alive[hr[self.stall[hr] > self.stall_limit]] = False
            else:
                self.hits[hr] += 1
        fr, fc = rows[fresh], cells[fresh]
        cost = np.zeros(fr.size) if d.costs is None else d.costs[fc]
        refuse = np.zeros(fr.size, dtype=bool)
        if d.budget_queries is not None:
            refuse |= self.queries[fr] + 1 > d.budget_queries
        if d.budget_seconds is not None:
            refuse |= self.seconds[fr] + cost > d.budget_seconds
        self.alive[fr[refuse]] = False
        ok = ~refuse
        ar, ac = fr[ok], fc[ok]
        self.queries[ar] += 1
        self.seconds[ar] += cost[ok]
        v = self._values(ar, ac)
        idx = np.flatnonzero(fresh)[ok]
        val[idx] = v
        if self.known is not None and self.known_v is not None:
            self.known[ar, ac] = True
            self.known_v[ar, ac] = v
        if self.memory:
            self.stall[ar] = 0
            for r, c in zip(ar.tolist(), ac.tolist(), strict=True):
                self.paid_order[r].append(c)
        got = self.alive[rows]
        return rows[got], val[got]

    def offer(self, rows: IntArray, cells: IntArray, scores: FloatArray) -> None:
        """``incumbent.offer`` for one cell per run of ``rows``."""
        better = scores > self.inc_score[rows]
        if not better.any():
            return
        br, bc = rows[better], cells[better]
        self.inc_score[br] = scores[better]
        moved = bc != self.inc_idx[br]
        self.inc_idx[br[moved]] = bc[moved]
        for r, c in zip(br[moved].tolist(), bc[moved].tolist(), strict=True):
            self.changes[r].append((float(self.seconds[r]), int(self.queries[r]), c))

    def records(self, scores: _NAScores | None) -> list[RunRecord]:
        out = []
        for k, run in enumerate(self.runs):
            free, free_s = 0, 0.0
            if scores is not None:
                free, free_s = scores.free_lookups(np.array(self.paid_order[k], dtype=np.int64))
            out.append(
                RunRecord(
                    run=run,
                    best=int(self.inc_idx[k]),
                    score=float(self.inc_score[k]),
                    queries=int(self.queries[k]),
                    seconds=float(self.seconds[k]),
                    free_queries=free,
                    cache_hits=int(self.hits[k]),
                    changes=tuple(self.changes[k]),
                    free_seconds=free_s,
                )
            )
        return out


class _NAScores:
    """NA scores of every cell on a single-row oracle, and a run's free look-ups."""

    def __init__(self, data: OracleData, objective: NeighbourObjective) -> None:
        from nb201_flat.search.vectorised import _Scores

        self._free = _Scores(data, objective)
        self.score = self._free.of(np.arange(data.space.size))

    def free_lookups(self, firsts: IntArray) -> tuple[int, float]:
        return self._free.free_lookups(firsts)


def run_lockstep(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs ``runs`` of ``algorithm`` under ``data``, as :func:`run_one` would give them.

    Raises ``ValueError`` for a combination :func:`lockstep_ok` refuses.
    """
    if not lockstep_ok(data, algorithm):
        raise ValueError(f"{algorithm.label} has no lock-step form under this protocol")
    assert isinstance(algorithm, RegularizedEvolution | LocalSearch)
    todo = [int(r) for r in runs]
    scores = _NAScores(data, algorithm.objective) if algorithm.objective is not None else None
    memory = scores is not None or isinstance(algorithm, LocalSearch)
    st = _Runs(data, seed, todo, memory)
    if isinstance(algorithm, RegularizedEvolution):
        _rea(st, algorithm, scores)
    else:
        _ls(st, algorithm, scores)
    recs = st.records(scores)
    for k in np.flatnonzero(st.redo).tolist():
        recs[k] = run_one(data, algorithm, seed, todo[k])
    return recs


def _fitness(
    st: _Runs, scores: _NAScores | None, rows: IntArray, cells: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    got, val = st.query(rows, cells)
    pos = np.searchsorted(rows, got)
    c = cells[pos]
    f = val if scores is None else scores.score[c]
    return got, c, f


def _rea(st: _Runs, algo: RegularizedEvolution, scores: _NAScores | None) -> None:
    space = st.data.space
    n = len(st.runs)
    p, s = int(algo.population), int(algo.sample_size)
    pop_c = np.zeros((n, p), dtype=np.int64)
    pop_f = np.zeros((n, p), dtype=np.float64)
    codes = space.codes
    n_nodes, n_ops, n_edges = space.n_nodes, space.n_ops, space.n_edges
    for t in range(p):
        rows = np.flatnonzero(st.alive)
        if rows.size == 0:
            return
        got, c, f = _fitness(st, scores, rows, st.sample(rows))
        pop_c[got, t] = c
        pop_f[got, t] = f
        st.offer(got, c, f)
    head = 0
    while True:
        rows = np.flatnonzero(st.alive)
        if rows.size == 0:
            return
        best_c = np.full(rows.size, -1, dtype=np.int64)
        best_f = np.full(rows.size, -np.inf)
        for _ in range(s):
            slot = (head + st.algo.bounded(rows, p)) % p
            c = pop_c[rows, slot]
            f = pop_f[rows, slot]
            take = (best_c < 0) | (f > best_f)
            best_c[take] = c[take]
            best_f[take] = f[take]
        child = codes[best_c].astype(np.int64)
        if algo.mutation == "node-then-edge":
            node = 1 + st.algo.bounded(rows, n_nodes - 1)
            src = st.algo.bounded(rows, node)
            e = node * (node - 1) // 2 + src
        else:
            e = st.algo.bounded(rows, n_edges)
        r = st.algo.bounded(rows, n_ops - 1)
        at = np.arange(rows.size)
        old = child[at, e]
        child[at, e] = np.where(r < old, r, r + 1)
        cells = space.indices_of_codes(child).astype(np.int64)
        got, c, f = _fitness(st, scores, rows, cells)
        pop_c[got, head] = c
        pop_f[got, head] = f
        st.offer(got, c, f)
        head = (head + 1) % p


def _ls(st: _Runs, algo: LocalSearch, scores: _NAScores | None) -> None:
    d = st.data
    nb = d.space.neighbours(1)
    width = int(nb.counts[0]) if nb.counts.size else 0
    n = len(st.runs)
    x = np.full(n, -1, dtype=np.int64)
    fx = np.full(n, np.nan)
    restart = np.ones(n, dtype=bool)
    assert st.known is not None and st.known_v is not None
    while True:
        rows = np.flatnonzero(st.alive & restart)
        if rows.size:
            got, c, f = _fitness(st, scores, rows, st.sample(rows))
            x[got], fx[got] = c, f
            restart[got] = False
            st.offer(got, c, f)
        rows = np.flatnonzero(st.alive)
        if rows.size == 0:
            return
        perm = st.algo.permutation(rows, width)
        block = nb.indices[x[rows][:, None], perm].astype(np.int64)
        ends, moved_to, moved_f = _ls_block(st, scores, rows, block, fx[rows], algo)
        st.alive[rows[ends]] = False
        go = ~ends & (moved_to >= 0)
        x[rows[go]] = moved_to[go]
        fx[rows[go]] = moved_f[go]
        restart[rows[~ends & (moved_to < 0)]] = True


def _ls_block(
    st: _Runs,
    scores: _NAScores | None,
    rows: IntArray,
    block: IntArray,
    fx: FloatArray,
    algo: LocalSearch,
) -> tuple[BoolArray, IntArray, FloatArray]:
    """Evaluate each run's neighbours in its order: charges, stalls, the budget's end, the
    incumbent, and the move. Returns (run ended, cell moved to or -1, its score)."""
    d = st.data
    assert st.known is not None and st.known_v is not None
    m, w = block.shape
    at = np.arange(m)[:, None]
    known = st.known[rows[:, None], block]
    fresh = ~known
    cost = np.zeros((m, w)) if d.costs is None else np.where(fresh, d.costs[block], 0.0)
    # the loop adds one cost at a time to the run's running total: a sequential cumsum
    secs = np.cumsum(np.concatenate((st.seconds[rows][:, None], cost), axis=1), axis=1)[:, 1:]
    qs = st.queries[rows][:, None] + np.cumsum(fresh, axis=1)
    stop = np.zeros((m, w), dtype=bool)
    if d.budget_queries is not None:
        stop |= qs > d.budget_queries
    if d.budget_seconds is not None:
        stop |= secs > d.budget_seconds
    stop &= fresh
    # revisits in a row since the last paid cell (the memory's stall counter)
    pos = np.arange(w)[None, :]
    last_new = np.maximum.accumulate(np.where(fresh, pos, -1), axis=1)
    run_len = np.where(last_new >= 0, pos - last_new, st.stall[rows][:, None] + pos + 1)
    stop |= known & (run_len > st.stall_limit)
    end = np.where(stop.any(axis=1), stop.argmax(axis=1), w)
    valid = pos < end[:, None]
    # values: known ones from memory, new ones drawn in order from the oracle stream
    val = np.where(known, st.known_v[rows[:, None], block], np.nan)
    n_draw = np.zeros(m, dtype=np.int64)
    rej_at = np.full(m, w, dtype=np.int64)
    if d.order is None or d.counts is None or st.orc is None:
        val = np.where(fresh, d.values[0, block], val)
    else:
        ne = d.counts[block].astype(np.uint64)
        draws = fresh & valid & (ne > 1)
        offs = np.cumsum(draws, axis=1) - 1
        st.orc.ensure(rows, w)
        word = st.orc.words[rows[:, None], st.orc.ptr[rows][:, None] + np.maximum(offs, 0)]
        mm = word * np.maximum(ne, np.uint64(1))
        pick = np.where(draws, (mm >> np.uint64(32)).astype(np.int64), 0)
        rej = draws & ((mm & _M32) < (_TWO32 - ne) % np.maximum(ne, np.uint64(1)))
        rej_at = np.where(rej.any(axis=1), rej.argmax(axis=1), w)
        assert d.order is not None
        val = np.where(fresh, d.values[d.order[pick, block], block], val)
        n_draw_cum = np.cumsum(draws, axis=1)
    f = val if scores is None else scores.score[block]
    clean = np.where(valid & ~np.isnan(f), f, -np.inf)
    better = clean > fx[:, None]  # NaN fx: nothing is better, as in the loop
    if algo.first_improvement:
        first = np.where(better.any(axis=1), better.argmax(axis=1), w)
        cut = np.minimum(end, first + 1)
    else:
        cut = end
    # the run ends where the budget (or the memory's patience) ran out, unless it moved first
    ended = end < w
    if algo.first_improvement:
        ended &= first >= end
    valid = pos < cut[:, None]
    clean = np.where(valid, clean, -np.inf)
    better &= valid
    if d.order is not None and d.counts is not None and st.orc is not None:
        n_draw = np.where(cut > 0, n_draw_cum[np.arange(m), np.maximum(cut - 1, 0)], 0)
        st.redo[rows[rej_at < cut]] = True
        st.orc.ptr[rows] += n_draw
    # commit charges, memory and stall counters up to each run's cut
    paid = fresh & valid
    last = np.maximum(cut - 1, 0)
    has = cut > 0
    q_new = np.where(has, qs[np.arange(m), last], st.queries[rows])
    s_new = np.where(has, secs[np.arange(m), last], st.seconds[rows])
    # a refused query is not charged: qs/secs at positions < end are all accepted ones
    st.queries[rows] = q_new
    st.seconds[rows] = s_new
    pr, pc = np.nonzero(paid)
    st.known[rows[pr], block[pr, pc]] = True
    st.known_v[rows[pr], block[pr, pc]] = val[pr, pc]
    any_paid = paid.any(axis=1)
    last_paid = np.where(any_paid, w - 1 - np.argmax(paid[:, ::-1], axis=1), -1)
    revisits_after = np.where(any_paid, cut - 1 - last_paid, cut)
    st.stall[rows] = np.where(any_paid, revisits_after, st.stall[rows] + cut)
    if st.memory and scores is not None:
        for k, j in zip(pr.tolist(), pc.tolist(), strict=True):
            st.paid_order[int(rows[k])].append(int(block[k, j]))
    # the incumbent: every evaluated cell offered in order (strictly better wins)
    run_best = np.concatenate((st.inc_score[rows][:, None], clean), axis=1)
    before = np.maximum.accumulate(run_best, axis=1)[:, :-1]
    imp_r, imp_c = np.nonzero(clean > before)
    for k, j in zip(imp_r.tolist(), imp_c.tolist(), strict=True):
        r = int(rows[k])
        cell = int(block[k, j])
        st.inc_score[r] = float(f[k, j])
        if cell != st.inc_idx[r]:
            st.inc_idx[r] = cell
            st.changes[r].append((float(secs[k, j]), int(qs[k, j]), cell))
    # the move: the best neighbour better than x (first of equals), or the first better one
    moved_to = np.full(m, -1, dtype=np.int64)
    moved_f = np.full(m, np.nan)
    has_better = better.any(axis=1)
    if algo.first_improvement:
        pick = np.where(has_better, first, 0)
    else:
        pick = np.argmax(np.where(better, clean, -np.inf), axis=1)
    moved_to[has_better] = block[at[:, 0], pick][has_better]
    moved_f[has_better] = f[at[:, 0], pick][has_better]
    return ended, moved_to, moved_f
