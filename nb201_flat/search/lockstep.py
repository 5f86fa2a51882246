"""Regularised evolution and local search, all runs of a cell in one compiled loop, with the
loop's streams.

REA and LS are sequential within a run, and run ``r`` only ever reads its own two streams
(``SeedSequence(seed, spawn_key=(r, 0))`` for the algorithm, ``(r, 1)`` for the oracle's seed
draws, see :mod:`~nb201_flat.search.runner`). :func:`run_lockstep` hands every run's two
PCG64 states to :func:`~nb201_flat.search.kernels_lockstep.run_searches`, which runs the runs
one after another exactly as :func:`~nb201_flat.search.runner.run_one` does (the oracle's
budgets, cache and stored seeds, the NA memory's free look-ups and stall, the incumbent),
stepping each stream and consuming it as numpy's ``Generator`` does: ``integers(n)`` is
Lemire's multiply-shift with rejection on 32-bit draws (a 32-bit draw takes the high half of a
buffered word if there is one, else the low half of the next word) and draws nothing for
``n == 1``; ``permutation(n)`` is a Fisher-Yates shuffle from the top, each swap partner drawn
by bit-mask rejection; ``random()`` takes a whole word, ``(w >> 11) * 2**-53``, leaving a
buffered half in place (numpy 2.x ``_bounded_integers``, ``_shuffle_raw``, ``pcg64_next32``,
``pcg64_next_double``). A free look-up's stored seed is ``floor(u * counts)``, as the oracle's.

Covered (:func:`lockstep_kind`): :class:`RegularizedEvolution` and :class:`LocalSearch` and
their NA forms with free neighbours, under any protocol. On a single-row oracle an NA score is
the cell's fixed score (:func:`~nb201_flat.search.vectorised.na_scores`, the loop's floats);
with stored seeds it is aggregated in the kernel over what the run knows then. Free seconds are
one ``costs[batch].sum()`` per scored cell (numpy's pairwise summation), added in turn, as the
oracle adds them. Two guards keep the loop's records where the replay's assumptions fail:
:func:`replay_matches_numpy` (numpy's own consumption of the words, which the batched
engines of :mod:`~nb201_flat.search.vectorised` and :mod:`~nb201_flat.search.replay` rely on
too) and :func:`_kernels_match_numpy` (the kernels' draws against numpy's generator); where
either fails the runs go to the loop.

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
import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from nb201_flat.search.algorithms import (
    LocalSearch,
    NeighbourObjective,
    RegularizedEvolution,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import IntArray, OracleData, stall_limit
from nb201_flat.search.runner import RunRecord, check_batch, run_one
from nb201_flat.space import Space

log = logging.getLogger(__name__)

# 32-bit draws' constants, shared with the vectorised engine's replays
_M32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_M64 = (1 << 64) - 1


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
    (every REA/LS form with free or no neighbours; LS needs one-op neighbourhoods of one size).

    Where the loop itself fails (a mutation with no other op, bounds of 2**32 or more) it is
    left to the loop, which raises its own error. An NA score over no member is NaN in both."""
    if not lockstep_kind(algorithm):
        return False
    assert isinstance(algorithm, RegularizedEvolution | LocalSearch)
    space = data.space
    if space.size >= 1 << 32:
        return False
    if isinstance(algorithm, LocalSearch):
        counts = space.neighbours(1).counts
        return bool(counts.size) and bool((counts == counts[0]).all())
    return space.n_nodes >= 2 and space.n_ops >= 2 and space.n_edges >= 1


class _Words:
    """Raw PCG64 words consumed as numpy's ``Generator`` consumes them, in plain Python: the
    reference :func:`replay_matches_numpy` holds numpy to."""

    __slots__ = ("at", "half", "raw")

    def __init__(self, raw: npt.NDArray[np.uint64]) -> None:
        self.raw = [int(w) for w in raw]
        self.at = 0
        self.half: int | None = None

    def next64(self) -> int:
        self.at += 1
        return self.raw[self.at - 1]

    def next32(self) -> int:
        if self.half is not None:
            out, self.half = self.half, None
            return out
        w = self.next64()
        self.half = w >> 32
        return w & 0xFFFFFFFF

    def bounded(self, n: int) -> int:
        if n == 1:
            return 0
        m = self.next32() * n
        while (m & 0xFFFFFFFF) < ((1 << 32) - n) % n:
            m = self.next32() * n
        return m >> 32

    def permutation(self, n: int) -> list[int]:
        out = list(range(n))
        for i in range(n - 1, 0, -1):
            mask = (1 << i.bit_length()) - 1
            j = self.next32() & mask
            while j > i:
                j = self.next32() & mask
            out[i], out[j] = out[j], out[i]
        return out

    def double(self) -> float:
        return (self.next64() >> 11) * 2.0**-53


@functools.cache
def replay_matches_numpy() -> bool:
    """Whether this numpy's ``Generator`` consumes PCG64 words as the replays assume.

    numpy does not promise that ``integers``, ``permutation`` and ``random`` keep their
    algorithms across releases; if a future one changes them, the batched paths must not give
    other records than the loop. Checked once per process on bounds that exercise the
    rejections, interleaving 32-bit draws and doubles (a half-used word stays buffered).

    >>> replay_matches_numpy()
    True
    """
    for r in (0, 1, 2):
        key = np.random.SeedSequence(2026, spawn_key=(r, 0))
        words = _Words(np.random.PCG64(key).random_raw(512))
        gen = np.random.default_rng(key)
        try:
            for n in (1, 2, 3, 10, 15_625, 2**31 + 7):
                if words.bounded(n) != int(gen.integers(n)):
                    return False
                if words.permutation(7) != gen.permutation(7).tolist():
                    return False
                if words.double() != float(gen.random()):
                    return False
        except IndexError:  # more words than any sane replay of these draws
            return False
    return True


def _states(seed: int, runs: list[int], stream: int) -> npt.NDArray[np.uint64]:
    """Each run's PCG64 ``(state hi, state lo, inc hi, inc lo)`` of stream ``stream``."""
    states = _pcg_states(seed, runs, stream) if _fast_seeding() else None
    if states is None:
        states = []
        for r in runs:
            st = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, stream))).state
            states.append((int(st["state"]["state"]), int(st["state"]["inc"])))
    return np.array(
        [[s >> 64, s & _M64, i >> 64, i & _M64] for s, i in states], dtype=np.uint64
    ).reshape(len(runs), 4)


@functools.cache
def _kernels_match_numpy() -> bool:
    """Whether the kernels' generators give numpy's draws (checked once per process)."""
    from nb201_flat.search import kernels_lockstep as kl

    ops: list[tuple[int, int]] = []
    for n in (1, 2, 3, 10, 15_625, 2**31 + 7, 4):
        ops += [(0, n), (1, 7), (2, 0), (0, 3), (1, 300)]
    script = np.array(ops, dtype=np.int64)
    for seed, run in ((2026, 0), (7, 2**31 + 5)):
        for stream in (0, 1):
            gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, stream)))
            want: list[float] = []
            for op, n in ops:
                if op == 0:
                    want.append(float(gen.integers(n)))
                elif op == 1:
                    want += [float(x) for x in gen.permutation(n).tolist()]
                else:
                    want.append(float(gen.random()))
            g = np.zeros(kl._GEN, dtype=np.uint64)
            g[:4] = _states(seed, [run], stream)[0]
            out = np.zeros(len(want))
            got = kl.draws(g, script, out)
            if got != len(want) or out.tolist() != want:
                return False
    return True


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


@functools.lru_cache(maxsize=4)
def _na_static(
    space: Space, objective: NeighbourObjective
) -> tuple[IntArray, IntArray, int, float]:
    """The NA members as the kernel takes them (indices, counts: the objective's, less a
    cell's own copies where its stand-ins hold copies), and the aggregator's code and level;
    converted once per space and objective."""
    from nb201_flat.landscape.neighbourhood import _agg_level
    from nb201_flat.search import kernels_lockstep as kl

    spec = objective.neighbourhood
    nb = objective.arrays(space)
    agg, q = _agg_level(spec)
    code = {"mean": kl.AGG_MEAN, "min": kl.AGG_MIN, "quantile": kl.AGG_QUANTILE}[agg]
    return _as_i64(nb.indices), _as_i64(nb.counts), code, float(q)


@functools.lru_cache(maxsize=8)
def _fixed_scores(data: OracleData, objective: NeighbourObjective) -> npt.NDArray[np.float64]:
    """The NA score of every cell on a single-row oracle (``OracleData`` hashes by identity:
    the same protocol's oracle, scored once for REA and LS)."""
    from nb201_flat.search.vectorised import na_scores

    return _f64(na_scores(data, objective))


@functools.lru_cache(maxsize=2)
def _space_static(space: Space, rea: bool) -> tuple[IntArray, IntArray, IntArray]:
    """REA's mutants (flat) or LS's one-op neighbourhood (indices, counts), as the kernel
    takes them; converted once per space."""
    empty = np.zeros(0, dtype=np.int64)
    if rea:
        return _as_i64(_mutants(space).reshape(-1)), np.zeros((0, 0), dtype=np.int64), empty
    one_op = space.neighbours(1)
    return empty, _as_i64(one_op.indices), _as_i64(one_op.counts)


def _as_i64(a: npt.ArrayLike) -> IntArray:
    # writable too: numba types a read-only array apart (another compile of the kernel)
    out: IntArray = np.require(a, dtype=np.int64, requirements=["C", "W"])
    return out


def _arguments(data: OracleData, algorithm: RegularizedEvolution | LocalSearch) -> list[Any]:
    """:func:`~nb201_flat.search.kernels_lockstep.run_searches`'s protocol and algorithm
    arguments (``ip`` first: its ``P_START`` is set per call)."""
    from nb201_flat.search import kernels_lockstep as kl

    space = data.space
    size = space.size
    ip = np.zeros(kl.P_LEN, dtype=np.int64)
    fp = np.zeros(kl.F_LEN)
    seeded = data.order is not None and data.counts is not None
    if seeded:
        assert data.order is not None and data.counts is not None
        vt = np.take_along_axis(data.values, data.order, axis=0)
        cnt = _as_i64(data.counts)
    else:
        vt = data.values[:1]
        cnt = np.ones(size, dtype=np.int64)
    vt = _f64(vt)
    costs = np.zeros(size) if data.costs is None else data.costs
    empty_2d = np.zeros((0, 0), dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    ip[kl.P_SIZE] = size
    ip[kl.P_SEEDED] = seeded
    ip[kl.P_HAS_COSTS] = data.costs is not None
    ip[kl.P_HAS_BS] = data.budget_seconds is not None
    fp[kl.F_BS] = 0.0 if data.budget_seconds is None else float(data.budget_seconds)
    ip[kl.P_BQ] = -1 if data.budget_queries is None else int(data.budget_queries)
    ip[kl.P_CACHE] = data.repeats == "cache"
    ip[kl.P_HAS_CAND] = data.candidates is not None
    cand = empty if data.candidates is None else _as_i64(data.candidates)
    ip[kl.P_DOM_SIZE] = data.domain_size
    ip[kl.P_STALL] = stall_limit(size)  # the memory's and the oracle's stall guards
    obj = algorithm.objective
    ip[kl.P_MEMORY] = obj is not None or isinstance(algorithm, LocalSearch)
    nbi, nbc, fixed = empty_2d, empty, np.zeros(0)
    if obj is not None:
        nbi, nbc, ip[kl.P_AGG], fp[kl.F_Q] = _na_static(space, obj)
        ip[kl.P_HAS_OBJ] = 1
        ip[kl.P_SELF] = obj.include_self
        if not seeded:
            fixed = _fixed_scores(data, obj)
            ip[kl.P_FIXED] = 1
    rea = isinstance(algorithm, RegularizedEvolution)
    mut, nb1, nb1c = _space_static(space, rea)
    if isinstance(algorithm, RegularizedEvolution):
        ip[kl.P_KIND] = kl.KIND_REA
        ip[kl.P_POP] = int(algorithm.population)
        ip[kl.P_SAMPLE] = int(algorithm.sample_size)
        ip[kl.P_NODE_EDGE] = algorithm.mutation == "node-then-edge"
        ip[kl.P_NODES], ip[kl.P_OPS], ip[kl.P_EDGES] = space.n_nodes, space.n_ops, space.n_edges
    else:
        ip[kl.P_KIND] = kl.KIND_LS
        ip[kl.P_FIRST] = algorithm.first_improvement
    return [ip, fp, vt, cnt, _f64(costs), cand, data.domain, mut, nb1, nb1c, nbi, nbc, fixed]


def _f64(a: npt.ArrayLike) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.require(a, dtype=np.float64, requirements=["C", "W"])
    return out


def run_lockstep(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs ``runs`` of ``algorithm`` under ``data``, as :func:`run_one` would give them.

    Raises ``ValueError`` for a combination :func:`lockstep_ok` refuses.
    """
    seed = check_batch(seed, runs)
    if not lockstep_ok(data, algorithm):
        raise ValueError(f"{algorithm.label} has no lock-step form under this protocol")
    assert isinstance(algorithm, RegularizedEvolution | LocalSearch)
    todo = [int(r) for r in runs]
    if not todo:
        return []
    if not _kernels_match_numpy():
        log.warning(
            "numpy %s draws otherwise than the compiled REA/LS kernels; running the loop",
            np.__version__,
        )
        return [run_one(data, algorithm, seed, r) for r in todo]
    key = tuple(todo)
    return _run_kernel(data, algorithm, todo, _run_states(seed, key, 0), _run_states(seed, key, 1))


@functools.lru_cache(maxsize=8)
def _run_states(seed: int, runs: tuple[int, ...], stream: int) -> npt.NDArray[np.uint64]:
    """:func:`_states`, kept: every cell of a grid runs the same runs of one seed (the
    kernels only read the states)."""
    return _states(seed, list(runs), stream)


# room for the incumbent changes of a call (a few dozen a run); runs past it are run again
_CHANGES_PER_RUN = 32
_CHANGES_MIN = 1024


def _run_kernel(
    data: OracleData,
    algorithm: RegularizedEvolution | LocalSearch,
    runs: list[int],
    algo_st: npt.NDArray[np.uint64],
    orc_st: npt.NDArray[np.uint64],
) -> list[RunRecord]:
    """The records of ``runs`` whose algorithm and oracle streams start at the PCG64 states
    ``algo_st`` and ``orc_st`` (one row ``(state hi, state lo, inc hi, inc lo)`` a run)."""
    from nb201_flat.search import kernels_lockstep as kl

    ip, fp, vt, cnt, costs, cand, dom, mut, nb1, nb1c, nbi, nbc, fixed = _arguments(data, algorithm)
    n = len(runs)
    out_i = np.zeros((n, kl.OUT_INTS), dtype=np.int64)
    out_f = np.zeros((n, 3))
    cap = _CHANGES_PER_RUN * n + _CHANGES_MIN
    parts: list[tuple[npt.NDArray[np.float64], IntArray, IntArray]] = []
    start = 0
    while start < n:
        ch_s = np.empty(cap)
        ch_q = np.empty(cap, dtype=np.int64)
        ch_i = np.empty(cap, dtype=np.int64)
        ip[kl.P_START] = start
        stop = kl.run_searches(
            ip,
            fp,
            vt,
            cnt,
            costs,
            cand,
            dom,
            mut,
            nb1,
            nb1c,
            nbi,
            nbc,
            fixed,
            algo_st,
            orc_st,
            out_i,
            out_f,
            ch_s,
            ch_q,
            ch_i,
        )
        used = int(out_i[start:stop, 4].sum())
        parts.append((ch_s[:used], ch_q[:used], ch_i[:used]))
        start = stop
        cap *= 4  # the rest did not fit: larger buffers for them
    ch_sec = np.concatenate([p[0] for p in parts]).tolist()
    ch_qs = np.concatenate([p[1] for p in parts]).tolist()
    ch_idx = np.concatenate([p[2] for p in parts]).tolist()
    changes = list(zip(ch_sec, ch_qs, ch_idx, strict=True))
    ends = np.cumsum(out_i[:, 4]).tolist()
    ints = out_i.tolist()
    floats = out_f.tolist()
    recs = []
    lo = 0
    for k, run in enumerate(runs):
        best, queries, free, hits, _, stall_kinds, children = ints[k]
        score, seconds, free_s = floats[k]
        recs.append(
            RunRecord(
                run=run,
                best=best,
                score=score,
                queries=queries,
                seconds=seconds,
                free_queries=free,
                cache_hits=hits,
                changes=tuple(changes[lo : ends[k]]),
                free_seconds=free_s,
                stall_kinds=stall_kinds,
                children=children,
            )
        )
        lo = ends[k]
    return recs
