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

Covered (:func:`lockstep_kind`): :class:`RegularizedEvolution` and :class:`LocalSearch` and
their NA forms with free neighbours, under any protocol. A run's memory is one small code per
cell (unseen, looked up free with stored seed ``p``, paid with stored seed ``p``); a step
scores one cell per run (REA) or a run's whole shuffled neighbourhood (LS, speculatively,
then cut where the budget ends or, first-improvement, past the first better cell). The NA
score of a cell is the objective over what the run knows then: a neighbour paid before (also
earlier in the block) gives its paid value, any other its free look-up, made once per run.

Stored seeds (the ``random`` seed policy): the oracle stream ``(r, 1)`` serves both the
charged queries' seed draws and the free look-ups' (``Oracle.query_free``: one ``random()``
per looked-up cell), interleaved in the order the loop makes them: a charged cell's own draw,
then its new neighbours' look-ups in neighbour order. So the stream is kept as 64-bit words:
a 32-bit draw takes the high half of a buffered word if there is one, else the low half of the
next word (buffering its high half); a double takes the next whole word as
``(w >> 11) * 2**-53`` and leaves a buffered half where it is (numpy 2.x ``pcg64_next32`` and
``pcg64_next_double``). A look-up's stored seed is ``floor(u * counts)``, as the oracle.

A run whose stream hits one of Lemire's rejections (probability about ``2**-31`` per draw of
a small bound) is re-run with the loop. Free seconds are one ``costs[batch].sum()`` per scored
cell, added in order, as the oracle adds them. Results equal
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
import sys
from dataclasses import dataclass
from typing import Any, TypeAlias

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
from nb201_flat.space import Space
from nb201_flat.types import BoolArray

npt_u64: TypeAlias = npt.NDArray[np.uint64]

_M32 = np.uint64(0xFFFFFFFF)
_CHUNK_BYTES = 1 << 28  # runs in lock step at once: about this much memory for their arrays
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
    """True when :func:`run_lockstep` reproduces the loop for this protocol and algorithm
    (every REA/LS form with free or no neighbours; LS needs one-op neighbourhoods of one size)."""
    if not lockstep_kind(algorithm):
        return False
    assert isinstance(algorithm, RegularizedEvolution | LocalSearch)
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


# numpy's SeedSequence (``numpy/random/bit_generator.pyx``, numpy 2.x: O'Neill's seed_seq with
# a pool of four 32-bit words) and PCG64's seeding (``pcg64_set_seed``/``pcg64_srandom_r``)
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_M128 = (1 << 128) - 1


def _pcg_states(seed: int, runs: list[int], stream: int) -> list[tuple[int, int]] | None:
    """PCG64 ``(state, inc)`` of ``SeedSequence(seed, spawn_key=(r, stream))`` for every run,
    hashed for all runs at once (numpy builds one SeedSequence object in ~30 us); None when
    a key does not fit the one-word layout computed here."""
    if seed < 0 or seed >= 1 << 128 or not 0 <= stream <= 0xFFFFFFFF:
        return None
    if runs and (min(runs) < 0 or max(runs) > 0xFFFFFFFF):
        return None
    m = len(runs)
    words = [seed & 0xFFFFFFFF]
    rest = seed >> 32
    while rest:
        words.append(rest & 0xFFFFFFFF)
        rest >>= 32
    words += [0] * (4 - len(words))  # a spawn key pads the entropy to the pool size
    cols = [np.full(m, w, dtype=np.uint32) for w in words]
    cols += [np.asarray(runs, dtype=np.uint32), np.full(m, stream, dtype=np.uint32)]
    hc = [0x43B0D7E5]

    def hashmix(v: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
        v = v ^ np.uint32(hc[0])
        hc[0] = (hc[0] * 0x931E8875) & 0xFFFFFFFF
        v = v * np.uint32(hc[0])
        out: npt.NDArray[np.uint32] = v ^ (v >> np.uint32(16))
        return out

    def mix(x: npt.NDArray[np.uint32], y: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
        r = np.uint32(0xCA01F9DD) * x - np.uint32(0x4973F715) * y
        out: npt.NDArray[np.uint32] = r ^ (r >> np.uint32(16))
        return out

    pool = [hashmix(cols[i]) for i in range(4)]
    for s in range(4):
        for d in range(4):
            if s != d:
                pool[d] = mix(pool[d], hashmix(pool[s]))
    for s in range(4, len(cols)):
        for d in range(4):
            pool[d] = mix(pool[d], hashmix(cols[s]))
    hb = 0x8B51F9DD
    state32 = []
    for i in range(8):  # generate_state(4, uint64): eight 32-bit words, little-endian pairs
        v = pool[i % 4] ^ np.uint32(hb)
        hb = (hb * 0x58F38DED) & 0xFFFFFFFF
        v = v * np.uint32(hb)
        state32.append(v ^ (v >> np.uint32(16)))
    s64 = [
        (
            state32[2 * j].astype(np.uint64)
            | (state32[2 * j + 1].astype(np.uint64) << np.uint64(32))
        ).tolist()
        for j in range(4)
    ]
    out = []
    for k in range(m):
        init = (s64[0][k] << 64) | s64[1][k]
        inc = ((((s64[2][k] << 64) | s64[3][k]) << 1) | 1) & _M128
        out.append((((inc + init) * _PCG_MULT + inc) & _M128, inc))
    return out


@functools.cache
def _fast_seeding() -> bool:
    """Whether :func:`_pcg_states` gives numpy's own PCG64 states (checked once)."""
    for seed, runs, stream in ((0, [0, 3], 0), (2026, [1, 2**31 + 5], 1), (2**70 + 9, [4], 1)):
        got = _pcg_states(seed, runs, stream)
        want = [
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, stream))).state["state"]
            for r in runs
        ]
        if got is None or [{"state": s, "inc": i} for s, i in got] != want:
            return False
    return True


class _Raw:
    """The raw 64-bit words of each run's stream ``SeedSequence(seed, spawn_key=(r, stream))``
    as PCG64 makes them, continued on demand."""

    __slots__ = ("_bits", "_gen", "_states")

    def __init__(self, seed: int, runs: list[int], stream: int) -> None:
        states = _pcg_states(seed, runs, stream) if _fast_seeding() else None
        self._states = states
        self._gen = np.random.PCG64(0) if states is not None else None
        self._bits = (
            []
            if states is not None
            else [
                np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, stream))) for r in runs
            ]
        )

    def draw(self, n: int) -> npt_u64:
        """The next ``n`` words of every run, shape ``(runs, n)``."""
        if self._states is None:
            if not self._bits:
                return np.zeros((0, n), dtype=np.uint64)
            return np.stack([b.random_raw(n) for b in self._bits])
        gen = self._gen
        assert gen is not None
        out = np.empty((len(self._states), n), dtype=np.uint64)
        for k, (s, inc) in enumerate(self._states):
            gen.state = {
                "bit_generator": "PCG64",
                "state": {"state": s, "inc": inc},
                "has_uint32": 0,
                "uinteger": 0,
            }
            out[k] = gen.random_raw(n)
            self._states[k] = (gen.state["state"]["state"], inc)
        return out


class _Stream:
    """Each run's 32-bit words of one PCG64 stream, consumed as numpy's ``Generator`` does.

    PCG64 hands out a 64-bit output as two 32-bit draws, low half first; a fresh generator
    has no half buffered.
    """

    __slots__ = ("_raw", "ptr", "words")

    def __init__(self, seed: int, runs: list[int], stream: int, width: int = 512) -> None:
        self._raw = _Raw(seed, runs, stream)
        self.ptr = np.zeros(len(runs), dtype=np.int64)
        self.words = self._make(width)

    def _make(self, n32: int) -> npt.NDArray[np.unsignedinteger[Any]]:
        """The next ``n32`` (rounded up to even) words of every run's stream."""
        raw = self._raw.draw((n32 + 1) // 2)
        if sys.byteorder == "little":  # each word's halves in memory: low, then high
            halves: npt.NDArray[np.uint32] = raw.view(np.uint32)
            return halves
        out = np.empty((raw.shape[0], 2 * raw.shape[1]), dtype=np.uint64)
        out[:, 0::2] = raw & _M32
        out[:, 1::2] = raw >> np.uint64(32)
        return out

    def ensure(self, rows: IntArray, extra: int) -> None:
        """Room for ``extra`` more words in each of ``rows`` (the streams continue)."""
        if rows.size == 0:
            return
        need = int(self.ptr[rows].max()) + extra
        have = self.words.shape[1]
        if need > have:
            more = self._make(max(need, 2 * have) - have)
            self.words = np.concatenate((self.words, more), axis=1)

    def peek(self, rows: IntArray, k: int) -> npt_u64:
        """The next ``k`` words of each of ``rows``, shape ``(len(rows), k)`` (not advancing)."""
        self.ensure(rows, k)
        width = self.words.shape[1]
        at = (rows * width + self.ptr[rows])[:, None] + np.arange(k)
        out: npt_u64 = self.words.ravel()[at].astype(np.uint64)
        return out

    def take(self, rows: IntArray) -> npt_u64:
        """The next word of each of ``rows`` (advancing them)."""
        self.ensure(rows, 1)
        w: npt_u64 = self.words[rows, self.ptr[rows]].astype(np.uint64)
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
        """``permutation(n)`` for each of ``rows``, shape ``(len(rows), n)``.

        The words of a window are read at once: each swap partner is the first word at or
        after the run's offset whose masked value is in range (the bit-mask rejection), so
        rejections cost no extra round; a run that outruns the window is drawn word by word.
        """
        m = rows.size
        arr = np.tile(np.arange(n, dtype=np.int64), (m, 1))
        if n < 2 or m == 0:
            return arr
        at = np.arange(m)
        size = 2 * n + 16  # about 1.3 words per swap are drawn: rarely outrun
        win = self.peek(rows, size)
        low = (win & np.uint64(0xFF)).astype(np.int16)  # masks of n <= 256 keep 8 bits
        cols = np.arange(size)[None, :]
        off = np.zeros(m, dtype=np.int64)
        short = n > 256
        for i in range(n - 1, 0, -1):
            if short:
                break
            mask = (1 << i.bit_length()) - 1
            ok = ((low & mask) <= i) & (cols >= off[:, None])
            p = ok.argmax(axis=1)
            if not ok[at, p].all():
                short = True
                break
            j = (low[at, p] & mask).astype(np.int64)
            off = p + 1
            hold = arr[at, j]
            arr[at, j] = arr[:, i]
            arr[:, i] = hold
        if short:  # outran the window: word by word
            arr = np.tile(np.arange(n, dtype=np.int64), (m, 1))
            for i in range(n - 1, 0, -1):
                j = self.interval(rows, i)
                hold = arr[at, j]
                arr[at, j] = arr[:, i]
                arr[:, i] = hold
            return arr
        self.ptr[rows] += off
        return arr


class _Words:
    """Each run's oracle stream as 64-bit words, consumed as numpy's ``Generator`` does.

    A 32-bit draw takes the high half of a buffered word if there is one, else the low half
    of the next word (buffering its high half); ``random()`` takes the next whole word and
    leaves a buffered half where it is. ``w`` is each run's next unused word, ``hb`` the word
    whose high half is buffered (-1: none).
    """

    __slots__ = ("_raw", "hb", "raw", "w")

    def __init__(self, seed: int, runs: list[int], width: int) -> None:
        self._raw = _Raw(seed, runs, 1)
        self.raw = self._raw.draw(max(width, 8))
        self.w = np.zeros(len(runs), dtype=np.int64)
        self.hb = np.full(len(runs), -1, dtype=np.int64)

    def ensure(self, need: int) -> None:
        """Room for words up to index ``need - 1`` in every run (the streams continue)."""
        have = self.raw.shape[1]
        if need > have:
            more = max(need, 2 * have) - have
            self.raw = np.concatenate((self.raw, self._raw.draw(more)), axis=1)


def _guess_queries(data: OracleData) -> int:
    """Charged queries a run is likely to make (more words are drawn if it makes more)."""
    guesses = []
    if data.budget_queries is not None:
        guesses.append(data.budget_queries + 1)
    if data.budget_seconds is not None and data.costs is not None and data.costs.size:
        mean = float(np.nanmean(data.costs))
        if mean > 0:
            guesses.append(int(1.25 * data.budget_seconds / mean) + 16)
    return max(16, min(guesses) if guesses else 256)


@functools.cache
def _mutants(space: Space) -> IntArray:
    """``mutants[i, e, r]``: cell ``i`` with edge ``e`` set to the ``r``-th other op, as
    :func:`~nb201_flat.search.algorithms.mutate` builds it (``r < old``: ``r``, else ``r + 1``)."""
    codes = space.codes.astype(np.int64)
    n_other = space.n_ops - 1
    out = np.empty((space.size, space.n_edges, max(n_other, 1)), dtype=np.int64)
    for e in range(space.n_edges):
        for r in range(n_other):
            c = codes.copy()
            c[:, e] = np.where(r < codes[:, e], r, r + 1)
            out[:, e, r] = space.indices_of_codes(c)
    out.setflags(write=False)
    return out


def _aggregate(g: FloatArray, counts: IntArray | int, agg: str, q: float) -> FloatArray:
    """``aggregate_members`` of each row's first ``counts`` entries (one count for all rows, or
    one per row), the same floats: rows are grouped by their number of members and each group
    is one block of the row-wise reductions the loop runs on a ``(1, members)`` block."""
    from nb201_flat.search.vectorised import _aggregate_block  # here: vectorised imports us

    out = np.full(len(g), np.nan)
    groups: list[tuple[int, slice | IntArray]]
    if isinstance(counts, int):
        groups = [(counts, slice(None))]
    else:
        groups = [(c, np.flatnonzero(counts == c)) for c in np.unique(counts).tolist()]
    for c, rows in groups:
        if c == 0:
            continue  # no member: NaN, as aggregate_members of an empty row
        block = np.ascontiguousarray(g[rows, :c])
        present = ~np.isnan(block)
        if agg == "mean":
            # _chunk_stats's mean, without its other statistics' bookkeeping
            if present.all():
                out[rows] = block.sum(axis=1) / float(c)
            else:
                n = present.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = np.where(present, block, 0.0).sum(axis=1) / n.astype(np.float64)
                mean[n == 0] = np.nan
                out[rows] = mean
            continue
        out[rows] = _aggregate_block(block, agg, q)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class _Lookups:
    """A block's free look-ups: ``nbr`` ``(m, b, width)`` the neighbours scored (0 on padding),
    ``zc0`` their memory codes before the block, ``n_need`` look-ups per scored cell; one entry
    per look-up in stream order: ``ent`` its flat position in ``nbr``, ``pos`` its scored cell
    (flat ``k * b + j``), ``run`` (``k``) and ``runs`` (its run), ``z`` the cell looked up and
    ``key`` its slot in the memory codes, ``rank`` its place among
    its scored cell's look-ups; blocks of several cells: ``sel`` the entries not known before
    nor paid earlier in the block, ``first`` the entry whose look-up each of them reads,
    ``pinb`` each neighbour's position in the block (paid there) or more."""

    nbr: IntArray
    zc0: npt.NDArray[np.signedinteger[Any]]
    n_need: IntArray
    ent: IntArray
    pos: IntArray
    run: IntArray
    runs: IntArray
    z: IntArray
    key: IntArray
    rank: IntArray
    sel: IntArray | None
    first: IntArray | None
    pinb: npt.NDArray[np.signedinteger[Any]] | None


class _Runs:
    """The oracles, memories, NA look-ups and incumbents of all runs, as arrays.

    A run's memory is one code per cell (``code``): -1 unseen, ``p`` looked up free with
    stored seed ``p``, ``R + p`` paid with stored seed ``p`` (``R`` stored rows; one row
    without stored seeds). ``vals[code, cell]`` is then the value the run knows.
    """

    def __init__(
        self,
        data: OracleData,
        seed: int,
        runs: list[int],
        memory: bool,
        objective: NeighbourObjective | None,
        algo_words: int = 512,
    ) -> None:
        n = len(runs)
        self.data = data
        self.runs = runs
        size = data.space.size
        self.size = size
        self.algo = _Stream(seed, runs, 0, width=algo_words)
        self.seeded = data.order is not None and data.counts is not None
        if self.seeded:
            assert data.order is not None and data.counts is not None
            vt: FloatArray = np.take_along_axis(data.values, data.order, axis=0)
            self.cnt: IntArray = data.counts.astype(np.int64)
        else:
            vt = data.values[:1]
            self.cnt = np.ones(size, dtype=np.int64)
        self.cntf = np.maximum(self.cnt, 1).astype(np.float64)  # random() * counts, as the oracle
        self.n_rows = int(vt.shape[0])
        self.vals = np.concatenate((vt, vt)).ravel()  # free codes, then paid codes
        self.alive = np.ones(n, dtype=bool)
        self.queries = np.zeros(n, dtype=np.int64)
        self.seconds = np.zeros(n, dtype=np.float64)
        self.hits = np.zeros(n, dtype=np.int64)
        self.stall = np.zeros(n, dtype=np.int64)
        self.inc_idx = np.full(n, -1, dtype=np.int64)
        self.inc_score = np.full(n, -np.inf)
        self.changes: list[list[tuple[float, int, int]]] = [[] for _ in runs]
        self.redo = np.zeros(n, dtype=bool)
        self.memory = memory
        self.cache = data.repeats == "cache"
        self.code: npt.NDArray[np.signedinteger[Any]] | None = None
        if memory or self.cache:
            small = 2 * self.n_rows < 127  # codes up to 2 * rows - 1
            self.code = np.full(n * size, -1, dtype=np.int8 if small else np.int16)
        self.stall_limit = 20 * size + 1000
        self.n_dom = size if data.candidates is None else len(data.candidates)
        self.costs = data.costs
        # NA look-ups: the neighbourhood, fixed scores on a single-row oracle, free counts,
        # and each scored cell's batch of look-ups (run, length, costs) in time order
        self.obj = objective
        self.nbi: IntArray | None = None
        self.fixed: FloatArray | None = None
        if objective is not None:
            nb = objective.neighbourhood.arrays(data.space)
            self.nbi = nb.indices.astype(np.int32)
            self.nbc: IntArray = nb.counts.astype(np.int64)
            self.padded = bool((nb.counts != nb.width).any())
            if not self.seeded:
                from nb201_flat.search.vectorised import na_scores

                self.fixed = na_scores(data, objective)
            from nb201_flat.landscape.neighbourhood import _agg_level

            self.agg, self.q = _agg_level(objective.neighbourhood)
        self.free = np.zeros(n, dtype=np.int64)
        self.batch_run: list[IntArray] = []
        self.batch_len: list[IntArray] = []
        self.batch_cost: list[FloatArray] = []
        self.orc: _Words | None = None
        if self.seeded:
            # about the words a run draws: one per two charged cells, one per look-up (about
            # half the neighbours of a charged cell are new to the run)
            per = 1 + (0 if self.nbi is None else self.nbi.shape[1] // 2)
            self.orc = _Words(seed, runs, min(_guess_queries(data) * per, 1 << 16))
        self.scratch: npt.NDArray[np.int32] | None = None
        self.inblock: npt.NDArray[np.signedinteger[Any]] | None = None

    def sample(self, rows: IntArray) -> IntArray:
        """``oracle.sample(rng)`` for each of ``rows``."""
        draw = self.algo.bounded(rows, self.n_dom)
        cand = self.data.candidates
        return draw if cand is None else cand[draw].astype(np.int64)

    def evaluate(
        self, rows: IntArray, cells: IntArray, fx: FloatArray | None = None, first: bool = False
    ) -> tuple[IntArray, BoolArray, FloatArray, BoolArray]:
        """Score ``cells[k, :]`` in order in run ``rows[k]`` (``mem.score`` for an NA form,
        the oracle's or memory's answer otherwise), as far as each run goes: until a refused
        query or the memory's stall (the run ends), or, with ``first``, just past the first
        score better than ``fx[k]``. Charges, memory, look-ups, streams and the incumbent are
        committed up to there. Returns (cut, run ended, scores, better than ``fx``)."""
        d = self.data
        m, b = cells.shape
        pos = np.arange(b)[None, :]
        size = self.size
        rs = rows[:, None] * size + cells
        code0 = None
        if self.code is not None:
            code0 = self.code[rs]
            known = code0 >= self.n_rows
        else:
            known = np.zeros((m, b), dtype=bool)
        # a known cell: the memory's answer (a stall), or the oracle's cache (plain REA)
        revisit = known if self.memory else np.zeros((m, b), dtype=bool)
        fresh = ~known
        cost = np.zeros((m, b)) if self.costs is None else np.where(fresh, self.costs[cells], 0.0)
        # the loop adds one cost at a time to the run's running total: a sequential cumsum
        if b == 1:
            secs = self.seconds[rows][:, None] + cost
            qs = self.queries[rows][:, None] + fresh
        else:
            secs = np.cumsum(np.concatenate((self.seconds[rows][:, None], cost), axis=1), axis=1)
            secs = secs[:, 1:]
            qs = self.queries[rows][:, None] + np.cumsum(fresh, axis=1)
        stop = np.zeros((m, b), dtype=bool)
        if d.budget_queries is not None:
            stop |= qs > d.budget_queries
        if d.budget_seconds is not None:
            stop |= secs > d.budget_seconds
        stop &= fresh
        if self.memory:
            # revisits in a row since the last paid cell (the memory's stall counter)
            if b == 1:
                run_len = self.stall[rows][:, None] + 1
            else:
                last_new = np.maximum.accumulate(np.where(fresh, pos, -1), axis=1)
                stall0 = self.stall[rows][:, None] + pos + 1
                run_len = np.where(last_new >= 0, pos - last_new, stall0)
            stop |= revisit & (run_len > self.stall_limit)
        if b == 1:
            end = (~stop[:, 0]).astype(np.int64)
        else:
            end = np.where(stop.any(axis=1), stop.argmax(axis=1), b)
        # own draws: a charged cell with a choice of stored seeds draws one (32-bit)
        own = fresh & (self.cnt[cells] > 1) if self.seeded else None
        lk: _Lookups | None = None
        if self.nbi is not None:
            lk = self._lookups(rows, cells)
        n_need = None if lk is None else lk.n_need
        # the oracle stream: own draw of each charged cell, then one double per look-up
        pick_own = np.zeros((m, b), dtype=np.int64)
        pf = None
        rej = np.zeros((m, b), dtype=bool)
        consumed = None
        if self.orc is not None and own is not None:
            orc = self.orc
            hb0 = orc.hb[rows][:, None]
            if b == 1:
                opens = own & (hb0 < 0)
            else:
                t32 = np.cumsum(own, axis=1) - 1
                opens = own & ((t32 + (hb0 >= 0)) % 2 == 0)
            consumed = opens.astype(np.int64) if n_need is None else opens + n_need
            done = consumed if b == 1 else np.cumsum(consumed, axis=1)
            w0 = orc.w[rows][:, None]
            before = w0 + done - consumed  # the word of position j's own opener
            orc.ensure(int((w0[:, 0] + done[:, -1]).max()) + 1 if m and b else 0)
            width = orc.raw.shape[1]
            flat = orc.raw.ravel()
            if b == 1:
                word = np.where(opens, before, hb0)
            else:
                opener = np.maximum.accumulate(np.where(opens, before, -1), axis=1)
                opener = np.where(opener >= 0, opener, hb0)
                word = np.where(opens, before, opener)
            raw32 = flat[rows[:, None] * width + np.maximum(word, 0)]
            w32 = np.where(opens, raw32 & _M32, raw32 >> np.uint64(32))
            drawn, rej = _lemire(w32, self.cnt[cells])
            pick_own = np.where(own, drawn, 0)
            rej &= own
            if lk is not None:
                # a look-up's double: the words after its cell's own draw, in neighbour order
                wd = (before + opens).ravel()[lk.pos] + lk.rank
                u = (flat[lk.runs * width + wd] >> np.uint64(11)).astype(np.float64) * 2.0**-53
                pf = np.floor(u * self.cntf[lk.z]).astype(np.int64)
        # scores
        if self.fixed is not None:
            f: FloatArray = self.fixed[cells]
        else:
            nr = self.n_rows
            own_code = np.where(fresh, nr + pick_own, code0 if code0 is not None else 0)
            own_v = self.vals[own_code * size + cells]
            if self.nbi is None:
                f = own_v
            else:
                assert lk is not None
                # what each neighbour's value is to the run then: known before the block, or
                # looked up in it (read from the entry that looked it up), or paid in it
                zcode = lk.zc0.astype(np.int64).ravel()
                if pf is not None:
                    if lk.sel is None:
                        zcode[lk.ent] = pf
                    else:
                        assert lk.sel is not None and lk.first is not None
                        full = np.zeros(zcode.size, dtype=np.int64)
                        full[lk.ent] = pf
                        zcode[lk.sel] = full[lk.first]
                # padding and cells paid in the block: any code (masked or replaced below)
                np.maximum(zcode, 0, out=zcode)
                w = lk.nbr.shape[2]
                nv = self.vals[zcode * size + lk.nbr.ravel()]
                if lk.pinb is not None:
                    inb = np.flatnonzero((lk.pinb < pos[:, :, None]).ravel())
                    nv[inb] = own_v.ravel()[inb // (b * w) * b + lk.pinb.ravel()[inb]]
                nv = nv.reshape(m, b, w)
                cnt: IntArray | int = self.nbc[cells].ravel() if self.padded else w
                if self.obj is not None and self.obj.include_self:
                    g = np.empty((m, b, w + 1))
                    g[:, :, 0] = own_v
                    g[:, :, 1:] = nv
                    g = g.reshape(m * b, w + 1)
                    cnt = cnt + 1
                else:
                    g = nv.reshape(m * b, w)
                f = _aggregate(g, cnt, self.agg, self.q).reshape(m, b)
        valid = pos < end[:, None]
        clean = np.where(valid & ~np.isnan(f), f, -np.inf)
        better = np.zeros((m, b), dtype=bool)
        cut = end
        ended = end < b
        if fx is not None:
            better = clean > fx[:, None]  # NaN fx: nothing is better, as in the loop
            if first:
                fb = np.where(better.any(axis=1), better.argmax(axis=1), b)
                cut = np.minimum(end, fb + 1)
                ended &= fb >= end
            better &= pos < cut[:, None]
        keep = pos < cut[:, None]
        clean = np.where(keep, clean, -np.inf)
        ar = np.arange(m)
        last = np.maximum(cut - 1, 0)
        has = cut > 0
        # a rejected 32-bit draw (Lemire) before the cut: that run goes back to the loop
        bad = (rej & keep).any(axis=1)
        if bad.any():
            self.redo[rows[bad]] = True
            self.alive[rows[bad]] = False
        # commit charges, streams, memory, look-ups and stall counters up to each run's cut
        self.queries[rows] = np.where(has, qs[ar, last], self.queries[rows])
        self.seconds[rows] = np.where(has, secs[ar, last], self.seconds[rows])
        if self.cache and not self.memory:
            self.hits[rows] += (known & keep).sum(axis=1)
        if self.orc is not None and consumed is not None and own is not None:
            orc = self.orc
            ok = own & keep
            if b == 1:
                used = np.where(has, consumed[:, 0], 0)
                any_own = ok[:, 0]
                hb_new = np.where(opens[:, 0], word[:, 0], -1)
            else:
                used = np.where(has, np.cumsum(consumed, axis=1)[ar, last], 0)
                any_own = ok.any(axis=1)
                lo = np.where(any_own, b - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
                hb_new = np.where(opens[ar, lo], word[ar, lo], -1)
            orc.hb[rows] = np.where(any_own, hb_new, orc.hb[rows])
            orc.w[rows] += used
        if lk is not None and lk.ent.size:
            done_e = keep.ravel()[lk.pos]  # look-ups made before the cut
            z_done = lk.z
            keys = lk.key
            pf_done = pf
            if not done_e.all():
                z_done, keys = z_done[done_e], keys[done_e]
                pf_done = None if pf is None else pf[done_e]
            assert self.code is not None
            self.code[keys] = 0 if pf_done is None else pf_done
            per = lk.n_need * keep
            self.free[rows] += per.sum(axis=1)
            bk, bj = np.nonzero(per)
            if bk.size:
                self.batch_run.append(rows[bk])
                self.batch_len.append(per[bk, bj])
                if self.costs is not None:
                    self.batch_cost.append(self.costs[z_done])
        if self.code is not None:
            paid = fresh & keep
            pr, pc = np.nonzero(paid)
            self.code[rs[pr, pc]] = self.n_rows + pick_own[pr, pc]
        if self.memory:
            paid = fresh & keep
            if b == 1:
                self.stall[rows] = np.where(paid[:, 0], 0, self.stall[rows] + cut)
            else:
                any_paid = paid.any(axis=1)
                last_paid = np.where(any_paid, b - 1 - np.argmax(paid[:, ::-1], axis=1), -1)
                self.stall[rows] = np.where(any_paid, cut - 1 - last_paid, self.stall[rows] + cut)
        dead = ended | bad
        self.alive[rows[dead]] = False
        # the incumbent: every scored cell offered in order (strictly better wins)
        if b == 1:
            before_best = self.inc_score[rows][:, None]
        else:
            run_best = np.concatenate((self.inc_score[rows][:, None], clean), axis=1)
            before_best = np.maximum.accumulate(run_best, axis=1)[:, :-1]
        imp_r, imp_c = np.nonzero(clean > before_best)
        for k, j in zip(imp_r.tolist(), imp_c.tolist(), strict=True):
            r = int(rows[k])
            c = int(cells[k, j])
            self.inc_score[r] = float(f[k, j])
            if c != self.inc_idx[r]:
                self.inc_idx[r] = c
                self.changes[r].append((float(secs[k, j]), int(qs[k, j]), c))
        return cut, ended | bad, f, better

    def _lookups(self, rows: IntArray, cells: IntArray) -> _Lookups:
        """The free look-ups the NA memory makes scoring ``cells[k, :]`` in order (if the run
        goes that far)."""
        assert self.nbi is not None and self.code is not None
        b = cells.shape[1]
        size = self.size
        nbr = self.nbi[cells]
        valid = nbr >= 0 if self.padded else None
        if valid is not None:
            nbr = np.where(valid, nbr, 0)
        key = rows[:, None, None] * size + nbr
        zc0 = self.code[key]
        cand = zc0 < 0
        if valid is not None:
            cand &= valid
        sel = firsts = None
        pinb = None
        if b > 1:
            # a neighbour paid earlier in the block is not looked up; one looked up earlier
            # in the block is not looked up again (and reads that look-up's value)
            big = np.iinfo(np.int32).max
            if self.scratch is None:
                self.scratch = np.full(len(self.runs) * size, big, dtype=np.int32)
                # block positions: small, so a smaller array for the random reads
                small = np.int8 if b < 127 else np.int16
                self.inblock = np.full(len(self.runs) * size, np.iinfo(small).max, dtype=small)
            sc = self.scratch
            ib = self.inblock
            assert ib is not None
            rs = rows[:, None] * size + cells
            ib[rs] = np.broadcast_to(np.arange(b, dtype=ib.dtype), rs.shape)
            pinb = ib[key]
            ib[rs] = np.iinfo(ib.dtype).max
            cand &= pinb > np.arange(b)[None, :, None]
            sel = np.flatnonzero(cand.ravel())
            ks = key.ravel()[sel]
            np.minimum.at(sc, ks, sel.astype(np.int32))
            firsts = sc[ks].astype(np.int64)
            sc[ks] = big
            need = np.zeros(cand.size, dtype=bool)
            need[sel[firsts == sel]] = True
            need = need.reshape(cand.shape)
        else:
            need = cand
        n_need = need.sum(axis=2)
        w = need.shape[2]
        ent = np.flatnonzero(need.ravel())
        pos = ent // w
        nn = n_need.ravel()
        rank = np.arange(ent.size) - (np.cumsum(nn) - nn)[pos]
        run = pos // b
        z = nbr.ravel()[ent]
        return _Lookups(
            nbr, zc0, n_need, ent, pos, run, rows[run], z, key.ravel()[ent], rank, sel, firsts, pinb
        )

    def free_seconds(self) -> FloatArray:
        """Each run's free seconds: one ``costs[batch].sum()`` per scored cell, added in order
        (as the oracle does), the same floats."""
        n = len(self.runs)
        if self.costs is None or not self.batch_run:
            return np.zeros(n)
        run = np.concatenate(self.batch_run)
        length = np.concatenate(self.batch_len)
        costs = np.concatenate(self.batch_cost)
        starts = np.cumsum(length) - length
        sums = np.empty(length.size)
        # batches of one length summed as the rows of one block (a row sum is the oracle's
        # 1-D sum), then added run by run in time order
        for c in np.unique(length).tolist():
            which = np.flatnonzero(length == c)
            sums[which] = costs[starts[which][:, None] + np.arange(c)[None, :]].sum(axis=1)
        order = np.argsort(run, kind="stable")
        per = np.bincount(run, minlength=n)
        first = np.cumsum(per) - per
        rank = np.arange(run.size) - np.repeat(first, per)
        mat = np.zeros((n, int(per.max()) + 1))
        mat[run[order], 1 + rank] = sums[order]
        out: FloatArray = np.cumsum(mat, axis=1)[:, -1]
        return out

    def records(self) -> list[RunRecord]:
        free_s = self.free_seconds()
        out = []
        for k, run in enumerate(self.runs):
            out.append(
                RunRecord(
                    run=run,
                    best=int(self.inc_idx[k]),
                    score=float(self.inc_score[k]),
                    queries=int(self.queries[k]),
                    seconds=float(self.seconds[k]),
                    free_queries=int(self.free[k]),
                    cache_hits=int(self.hits[k]),
                    changes=tuple(self.changes[k]),
                    free_seconds=float(free_s[k]),
                )
            )
        return out


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
    obj = algorithm.objective
    memory = obj is not None or isinstance(algorithm, LocalSearch)
    # the algorithm stream's words a run is likely to draw: a cycle's (REA), or a
    # permutation's (about 1.3 words per neighbour) per block of new cells (LS)
    queries = _guess_queries(data)
    if isinstance(algorithm, RegularizedEvolution):
        words = (int(algorithm.sample_size) + 3) * queries
    else:
        words = 2 * queries
    words = min(words, 1 << 16)
    # runs go in chunks whose arrays (a memory code and a scratch slot per cell and run, the
    # streams' words) stay within about _CHUNK_BYTES; NB201's 500 runs are one chunk
    per_run = 8 * words + (5 * data.space.size if memory else 0)
    if data.order is not None:
        per_run += 8 * min(queries * (1 if obj is None else 13), 1 << 16)
    chunk = max(1, _CHUNK_BYTES // per_run)
    recs: list[RunRecord] = []
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        st = _Runs(data, seed, part, memory, obj, words)
        if isinstance(algorithm, RegularizedEvolution):
            _rea(st, algorithm)
        else:
            _ls(st, algorithm)
        got = st.records()
        for k in np.flatnonzero(st.redo).tolist():
            got[k] = run_one(data, algorithm, seed, part[k])
        recs += got
    return recs


def _lemire(words: npt_u64, n: IntArray | int) -> tuple[IntArray, BoolArray]:
    """``integers(n)`` from one 32-bit word each (Lemire's multiply-shift), and whether that
    word was rejected (numpy then draws again)."""
    ne = np.maximum(np.asarray(n, dtype=np.uint64), np.uint64(1))
    m = words * ne
    out: IntArray = (m >> np.uint64(32)).astype(np.int64)
    rej: BoolArray = (m & _M32) < (_TWO32 - ne) % ne
    return out, rej


def _fitness(st: _Runs, rows: IntArray, cells: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
    """One scored cell per run of ``rows``: the runs that got a score, their cells, scores."""
    cut, _, f, _ = st.evaluate(rows, cells[:, None])
    got = cut > 0
    return rows[got], cells[got], f[got, 0]


def _rea(st: _Runs, algo: RegularizedEvolution) -> None:
    space = st.data.space
    n = len(st.runs)
    p, s = int(algo.population), int(algo.sample_size)
    pop_c = np.zeros((n, p), dtype=np.int64)
    pop_f = np.zeros((n, p), dtype=np.float64)
    n_nodes, n_ops, n_edges = space.n_nodes, space.n_ops, space.n_edges
    mut = _mutants(space).reshape(-1)
    n_other = max(n_ops - 1, 1)
    n_words = s + 3
    for t in range(p):
        rows = np.flatnonzero(st.alive)
        if rows.size == 0:
            return
        got, c, f = _fitness(st, rows, st.sample(rows))
        pop_c[got, t] = c
        pop_f[got, t] = f
    head = 0
    while True:
        rows = np.flatnonzero(st.alive)
        if rows.size == 0:
            return
        # the cycle's draws from one gather of each run's next words: s tournament slots,
        # the mutation's node and source edge (none when the node has one input) or edge,
        # then the new op; a bound of 1 draws nothing, as numpy's integers()
        words = st.algo.peek(rows, n_words)
        col = 0
        bad = np.zeros(rows.size, dtype=bool)
        ar = np.arange(rows.size)
        # the tournament: the first drawn member, replaced by each strictly fitter one (a NaN
        # never replaces; a NaN first member stays): the first maximum, NaN as -inf, unless
        # the first is NaN
        if p > 1:
            slots, rej = _lemire(words[:, :s], p)
            bad |= rej.any(axis=1)
            col = s
            slots = (head + slots) % p
        else:
            slots = np.full((rows.size, s), head, dtype=np.int64)
        cand_f = pop_f[rows[:, None], slots]
        win = np.argmax(np.where(np.isnan(cand_f), -np.inf, cand_f), axis=1)
        win[np.isnan(cand_f[:, 0])] = 0
        best_c = pop_c[rows, slots[ar, win]]
        at = np.full(rows.size, col, dtype=np.int64)
        if algo.mutation == "node-then-edge":
            node = np.ones(rows.size, dtype=np.int64)
            if n_nodes - 1 > 1:
                node, rej = _lemire(words[:, col], n_nodes - 1)
                node += 1
                bad |= rej
                at += 1
            src, rej = _lemire(words[ar, at], node)
            drew = node > 1
            bad |= rej & drew
            src = np.where(drew, src, 0)
            at += drew
            e = node * (node - 1) // 2 + src
        else:
            e = np.zeros(rows.size, dtype=np.int64)
            if n_edges > 1:
                e, rej = _lemire(words[:, col], n_edges)
                bad |= rej
                at += 1
        r = np.zeros(rows.size, dtype=np.int64)
        if n_ops - 1 > 1:
            r, rej = _lemire(words[ar, at], n_ops - 1)
            bad |= rej
            at += 1
        st.algo.ptr[rows] += at
        if bad.any():  # a Lemire rejection (about 2**-31 a draw): that run goes to the loop
            st.redo[rows[bad]] = True
            st.alive[rows[bad]] = False
            keep = ~bad
            rows, best_c, e, r = rows[keep], best_c[keep], e[keep], r[keep]
            if rows.size == 0:
                continue
        cells = mut[(best_c * n_edges + e) * n_other + r]
        got, c, f = _fitness(st, rows, cells)
        pop_c[got, head] = c
        pop_f[got, head] = f
        head = (head + 1) % p


def _ls(st: _Runs, algo: LocalSearch) -> None:
    nb = st.data.space.neighbours(1)
    width = int(nb.counts[0]) if nb.counts.size else 0
    nbi = nb.indices.astype(np.int64)
    n = len(st.runs)
    x = np.full(n, -1, dtype=np.int64)
    fx = np.full(n, np.nan)
    restart = np.ones(n, dtype=bool)
    while True:
        rows = np.flatnonzero(st.alive & restart)
        if rows.size:
            got, c, f = _fitness(st, rows, st.sample(rows))
            x[got], fx[got] = c, f
            restart[got] = False
        rows = np.flatnonzero(st.alive)
        if rows.size == 0:
            return
        perm = st.algo.permutation(rows, width)
        block = nbi[x[rows][:, None], perm]
        _, ended, f, better = st.evaluate(rows, block, fx[rows], algo.first_improvement)
        m = rows.size
        # the move: the best neighbour better than x (first of equals), or the first better one
        has_better = better.any(axis=1)
        if algo.first_improvement:
            pick = np.where(has_better, better.argmax(axis=1), 0)
        else:
            pick = np.argmax(np.where(better, f, -np.inf), axis=1)
        go = ~ended & has_better
        ar = np.arange(m)
        x[rows[go]] = block[ar, pick][go]
        fx[rows[go]] = f[ar, pick][go]
        restart[rows[~ended & ~has_better]] = True
