"""Random search and NA random search without the per-query loop, with the loop's streams.

Under a fixed protocol a run of random search is a function of its draws: the cells sampled
(the algorithm stream ``SeedSequence(seed, spawn_key=(r, 0))``), their costs and values. So
the centres of every run are drawn at once (:func:`centre_draws`: numpy's bounded draws read
from the stream's raw words), and each run is then walked query by query by a compiled loop
(:mod:`~nb201_flat.search.kernels_free_na`): charges added in turn from 0.0, as the oracle
does, the first query the budget refuses ends the run, and the incumbent changes where a
value beats it. Seed draws of the ``random`` seed policy are read from the oracle stream
``(r, 1)``'s raw words in the loop's order.

Covered (:func:`vectorisable`): :class:`RandomSearch` under any protocol, and one-stage
:class:`NARandomSearch` with free neighbours on a single-row oracle (one value per cell): its
score of a cell is then fixed, and is computed with the objective's own arithmetic on the
same arrays as the loop (:func:`na_scores`). :func:`run_free_na` runs free one-stage and free
best-evaluated NA-RS under any protocol: the walk keeps the NA memory (what each run paid
for and looked up) as one mark a cell, and sums each newly paid cell's free look-ups as
numpy does; on stored-seed oracles it reads each run's 32-bit seed draws and the doubles of
its free look-ups from the oracle stream's raw words, and the NA scores of what a run saw
are aggregated by the objective's own code afterwards. REA and LS are covered by
:mod:`~nb201_flat.search.lockstep`; charged and two-stage NA-RS by
:mod:`~nb201_flat.search.replay`. :func:`batched_ok` / :func:`run_batched` dispatch to
whichever covers a combination, and the runner falls back to the loop for the rest. Results
are identical to :func:`nb201_flat.search.runner.run_one`: best cell, score, queries,
seconds, free queries and their seconds, cache hits and the incumbent's change list.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> from nb201_flat.table import MetricKey
>>> from nb201_flat.search.algorithms import RandomSearch
>>> from nb201_flat.search.oracle import OracleData
>>> from nb201_flat.search.runner import run_one
>>> s = Space(("none", "skip_connect", "conv"), 3)
>>> data = OracleData(s, MetricKey("toy", "x-valid", 12), np.arange(27.0)[None, :],
...                   None, None, np.linspace(1, 3, 27), 40.0, None)
>>> fast = run_vectorised(data, RandomSearch(), seed=0, runs=range(3))
>>> fast == [run_one(data, RandomSearch(), 0, r) for r in range(3)]
True
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import Param, Part
from nb201_flat.neighbours import NeighbourArrays
from nb201_flat.search.algorithms import (
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import (
    IDLE_REVISIT,
    NO_QUERY_BUDGET,
    FloatArray,
    IntArray,
    OracleData,
    stall_limit,
)
from nb201_flat.search.runner import RunRecord, check_batch, run_one
from nb201_flat.types import BoolArray as BoolArray

U64Array = npt.NDArray[np.uint64]

_log = logging.getLogger(__name__)

# beyond this many draws per run the loop is no slower to wait for (a search that stops
# spending its budget, e.g. cached repeats over a small domain, ends at the stall guard)
_MAX_DRAWS = 1 << 24


def vectorisable(data: OracleData, algorithm: SearchAlgorithm) -> bool:
    """True when :func:`run_vectorised` reproduces the loop for this protocol and algorithm.

    >>> from nb201_flat.search.algorithms import NARandomSearch, NeighbourObjective
    >>> vectorisable_kind(NARandomSearch(NeighbourObjective(charge=True)))
    False
    """
    if isinstance(algorithm, RandomSearch):
        return True
    return vectorisable_kind(algorithm) and data.order is None


def vectorisable_kind(algorithm: SearchAlgorithm) -> bool:
    """Whether the algorithm itself has a vectorised form (the protocol may still rule it out)."""
    if isinstance(algorithm, RandomSearch):
        return True
    return (
        isinstance(algorithm, NARandomSearch)
        and algorithm.rerank_top_k is None
        and not algorithm.objective.charge
    )


def na_scores(data: OracleData, objective: NeighbourObjective) -> FloatArray:
    """The NA score of every cell on a single-row oracle, as the loop computes each one.

    Cells are grouped by their number of members, and each group is aggregated as one
    ``(cells, members)`` block by the same row-wise code :meth:`NeighbourObjective.aggregate`
    runs on a ``(1, members)`` block, so every score is the same float. The members are the
    objective's (:meth:`NeighbourObjective.arrays`: less a cell's own copies where its
    stand-ins hold copies), as the loop's.
    """
    # imported here, as NeighbourObjective.aggregate does: the landscape layer loads scipy
    from nb201_flat.landscape.neighbourhood import _agg_level

    spec = objective.neighbourhood
    nb = objective.arrays(data.space)
    row = data.values[0]
    out = np.full(data.space.size, np.nan)
    agg, q = _agg_level(spec)
    for c in np.unique(nb.counts).tolist():
        group = np.flatnonzero(nb.counts == c)
        if c == 0 and not spec.include_self:  # nothing to aggregate: as the loop, one by one
            out[group] = [objective.aggregate(np.empty(0)) for _ in group.tolist()]
            continue
        # blocks of a few hundred thousand values: they stay in cache (rows are independent)
        step = max(1, _CHUNK_ENTRIES // (c + 1))
        for lo in range(0, group.size, step):
            cells = group[lo : lo + step]
            g = row[nb.indices[cells, :c]]
            if spec.include_self:
                g = np.concatenate((row[cells][:, None], g), axis=1)
            out[cells] = _aggregate_block(np.ascontiguousarray(g), agg, q)
    return out


class _Scores:
    """NA scores of cells (a single-row oracle: fixed per cell), and a run's free look-ups."""

    __slots__ = ("_data", "_nb", "_score")

    def __init__(self, data: OracleData, objective: NeighbourObjective) -> None:
        self._data = data
        self._nb = objective.arrays(data.space)
        self._score = na_scores(data, objective)

    def of(self, cells: IntArray) -> FloatArray:
        out: FloatArray = self._score[cells]
        return out

    def free_lookups(self, firsts: IntArray) -> tuple[int, float]:
        """Free look-ups of a run whose newly paid cells, in order, are ``firsts``: their
        number and the training seconds they would have cost (see :func:`free_lookups_many`).
        """
        if firsts.size == 0:
            return 0, 0.0
        run_of = np.zeros(firsts.size, dtype=np.int64)
        _, n, secs = free_lookups_many(self._nb, self._data.costs, firsts, run_of, 1)
        return int(n[0]), float(secs[0])


def _aggregate_block(block: FloatArray, agg: str, q: float) -> FloatArray:
    """``agg`` of each row of a contiguous ``(rows, members)`` block, by the landscape's own
    row-wise code: the floats :meth:`NeighbourObjective.aggregate` gives one row at a time."""
    from nb201_flat.landscape.neighbourhood import _chunk_stats

    res: dict[str, FloatArray] = {
        agg: np.full(len(block), np.nan),
        "n": np.full(len(block), np.nan),
    }
    any_nan = bool(np.isnan(block).any())
    _chunk_stats(block, None, block[:, 0], any_nan, (agg,), q, 0.0, False, res, slice(None))
    return res[agg]


def _aggregate_rows(g: FloatArray, valid: BoolArray, objective: NeighbourObjective) -> FloatArray:
    """``objective.aggregate`` of each row's valid entries (in order), the same floats: rows
    are grouped by their number of members and aggregated as one block each."""
    from nb201_flat.landscape.neighbourhood import _agg_level

    agg, q = _agg_level(objective.neighbourhood)
    out = np.full(len(g), np.nan)
    width = g.shape[1]
    groups: list[tuple[int, IntArray | slice]] = [(width, slice(None))]
    if not bool(valid.all()):
        counts = valid.sum(axis=1)
        groups = [(c, np.flatnonzero(counts == c)) for c in np.unique(counts).tolist()]
    for c, rows in groups:
        if c == 0:
            out[rows] = [objective.aggregate(np.empty(0)) for _ in range(out[rows].size)]
            continue
        block = np.ascontiguousarray(g[rows] if c == width else g[rows][valid[rows]].reshape(-1, c))
        out[rows] = _aggregate_block(block, agg, q)
    return out


# -- free one-stage NA-RS and best-evaluated NA-RS, all runs at once -------------------------
# values of one block of NA rows (rows x members) handed to numpy's aggregation at once
_CHUNK_ENTRIES = 1 << 19
# the bytes a value of an NA row takes until it is aggregated (the rows, grown by doubling in
# the replay, their mask, the aggregation's copies of a block): up to 25 as measured (a median
# or quantile), rounded up
_BYTES_PER_ENTRY = 32


def check_rows_memory(
    algorithm: NARandomSearch | NABestEvaluatedSearch, rows: int, width: int
) -> None:
    """Refuse (:func:`~nb201_flat.budget.check_memory`) a run whose NA rows (up to ``rows`` of
    ``width`` values), which a batched search holds until they are aggregated, cannot fit: a
    chunk of runs holds one run at least."""
    from nb201_flat.budget import check_memory

    fix: list[Part] = []
    if algorithm.objective.radius > 1:
        fix += ["a smaller radius (", Param("radius", algorithm.objective.radius - 1), ") or "]
    if isinstance(algorithm, NARandomSearch) and algorithm.rerank_top_k is not None:
        fix += ["a smaller top-k (", Param("rerank_top_k"), ") or "]
    check_memory(
        rows * width * _BYTES_PER_ENTRY,
        f"{algorithm.label}: holding a run's scored neighbourhoods (up to {rows:,} of {width} "
        "values each)",
        [*fix, "a smaller budget"],
    )


# a few neighbourhoods' CSR arrays, by the (cached, so lasting) NeighbourArrays they came from
_CSR: dict[int, tuple[NeighbourArrays, IntArray, IntArray]] = {}


def frozen(a: npt.ArrayLike, dtype: npt.DTypeLike | None = None) -> Any:
    """``a`` as a read-only C-contiguous array (of ``dtype``), copied only where it must be.

    The kernels take every input array read-only: numba compiles read-only and writable
    arrays apart, so one kind keeps one compiled version of each kernel.

    >>> frozen(np.arange(3)).flags.writeable
    False
    """
    out = np.ascontiguousarray(a, dtype=dtype).view()
    out.flags.writeable = False
    return out


def _csr(nb: NeighbourArrays) -> tuple[IntArray, IntArray]:
    """``nb`` as int64 CSR ``(indptr, flat)``, the kernels' types (made once per ``nb``)."""
    hit = _CSR.get(id(nb))
    if hit is not None and hit[0] is nb:
        return hit[1], hit[2]
    indptr, flat = nb.to_csr()
    out = (frozen(indptr, np.int64), frozen(flat, np.int64))
    if len(_CSR) >= 4:
        _CSR.pop(next(iter(_CSR)))
    _CSR[id(nb)] = (nb, *out)
    return out


def free_lookups_many(
    nb: NeighbourArrays, costs: FloatArray | None, firsts: IntArray, run_of: IntArray, n_runs: int
) -> tuple[BoolArray, IntArray, FloatArray]:
    """Free look-ups of several runs at once, each run's newly paid cells given in order.

    ``firsts`` lists every run's newly paid cells, run after run (``run_of``: the run, in
    ``0..n_runs-1``, non-decreasing). A neighbour is looked up free when a scored cell first
    needs it before its run has paid for it (each cell is paid just before its own neighbours
    are read). Returns the look-ups (``True`` in ``nb.indices[firsts]`` where one happens),
    and per run their number and the training seconds they would have cost, summed as the
    oracle does: one ``costs[batch].sum()`` per scored cell in neighbour order, added in turn.

    >>> from nb201_flat.space import Space
    >>> nb = Space(("a", "b"), 3).neighbours(1)  # 8 cells, 3 neighbours each
    >>> look, n, s = free_lookups_many(nb, np.arange(8.0), np.array([0, 1, 0]),
    ...                                np.array([0, 0, 1]), 2)
    >>> n.tolist(), s.tolist()
    ([5, 3], [15.0, 7.0])
    """
    from nb201_flat.search.kernels_free_na import free_lookups

    indptr, flat = _csr(nb)
    cost = np.zeros(nb.indices.shape[0]) if costs is None else costs
    return free_lookups(
        indptr,
        flat,
        frozen(cost, np.float64),
        frozen(firsts, np.int64),
        frozen(run_of, np.int64),
        n_runs,
        nb.width,
    )


def centre_draws(seed: int, runs: list[int], n_dom: int, block: int) -> IntArray:
    """The first ``block`` draws ``integers(n_dom)`` of each run's algorithm stream, one row
    per run: the cells random sampling visits (as indices into the sampling domain).

    numpy's bounded draws are Lemire's multiply-shift on the stream's 32-bit words, a rejected
    word skipped, so the draws are the accepted words in order; read so from raw words, all
    runs at once, where :func:`~nb201_flat.search.lockstep.replay_matches_numpy` confirms that
    numpy draws so, and by numpy itself otherwise. The last few are cached: every NA-RS form
    and random search of a protocol share them.

    >>> g = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(2, 0)))
    >>> centre_draws(7, [1, 2], 15_625, 50)[1].tolist() == g.integers(15_625, size=50).tolist()
    True
    """
    if len(runs) * block > _CACHED_DRAWS:  # a long search of few runs: not worth keeping
        return _centre_draws.__wrapped__(seed, tuple(runs), n_dom, block)
    return _centre_draws(seed, tuple(runs), n_dom, block)


# draws kept per cached block (8 bytes each): 500 runs of a few hundred draws fit many times
_CACHED_DRAWS = 1 << 20


@functools.lru_cache(maxsize=8)
def _centre_draws(seed: int, runs: tuple[int, ...], n_dom: int, block: int) -> IntArray:
    from nb201_flat.search.lockstep import replay_matches_numpy

    out = np.zeros((len(runs), block), dtype=np.int64)
    if n_dom == 1 or block == 0:
        pass  # integers(1) draws nothing
    elif n_dom >= 1 << 32 or not replay_matches_numpy():
        for k, r in enumerate(runs):
            gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r, 0)))
            out[k] = gen.integers(n_dom, size=block)
    else:
        from nb201_flat.search.kernels_free_na import bounded_draws

        # two draws a word; a rejection is rare (about n_dom / 2**32 a draw)
        n64 = np.full(len(runs), block // 2 + 8, dtype=np.int64)
        bits = [np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, 0))) for r in runs]
        words = [b.random_raw(block // 2 + 8) for b in bits]
        todo = np.arange(len(runs))
        while todo.size:
            start = np.zeros(todo.size + 1, dtype=np.int64)
            np.cumsum(n64[todo], out=start[1:])
            raw = frozen(np.concatenate([words[k] for k in todo.tolist()]))
            if todo.size == len(runs):
                ok = bounded_draws(raw, frozen(start), n_dom, out)
            else:
                got = np.empty((todo.size, block), dtype=np.int64)
                ok = bounded_draws(raw, frozen(start), n_dom, got)
                out[todo[ok]] = got[ok]
            todo = todo[~ok]
            for k in todo.tolist():  # the stream goes on where the words ran out
                words[k] = np.concatenate((words[k], bits[k].random_raw(n64[k])))
                n64[k] *= 2
    out.setflags(write=False)
    return out


def free_na_kind(algorithm: SearchAlgorithm) -> bool:
    """Free one-stage NA-RS or free best-evaluated NA-RS: :func:`run_free_na`'s algorithms.

    >>> free_na_kind(NARandomSearch()), free_na_kind(NARandomSearch(rerank_top_k=3))
    (True, False)
    """
    if isinstance(algorithm, NABestEvaluatedSearch):
        return not algorithm.objective.charge
    return (
        isinstance(algorithm, NARandomSearch)
        and algorithm.rerank_top_k is None
        and not algorithm.objective.charge
    )


def run_free_na(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """Free one-stage NA-RS or best-evaluated NA-RS over many runs at once, as :func:`run_one`.

    Each run is walked by a compiled loop over its centre draws
    (:func:`~nb201_flat.search.kernels_free_na.free_na_walk`). Any protocol: on an oracle
    with stored seeds (``random`` policy) the oracle stream's draws are read from its raw
    words in the loop's order, each run's own 32-bit seed draws interleaved with the doubles
    of its free look-ups (numpy's consumption of the stream is checked by
    :func:`~nb201_flat.search.lockstep.replay_matches_numpy`; the loop runs where it fails).
    """
    if not free_na_kind(algorithm):
        raise ValueError(f"{algorithm.label} is not free one-stage or best-evaluated NA-RS")
    assert isinstance(algorithm, NARandomSearch | NABestEvaluatedSearch)
    from nb201_flat.search.lockstep import replay_matches_numpy

    if _seeded(data) and not replay_matches_numpy():  # the stream is read from its raw words
        return [run_one(data, algorithm, seed, int(r)) for r in runs]
    walk = _FreeNAWalk(data, algorithm, seed)
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    block = _first_block(data)
    while todo:
        if block > _MAX_DRAWS:
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        done.update(walk.runs(todo, block))
        todo = [r for r in todo if r not in done]
        block *= 4
    return [done[int(r)] for r in runs]


def _seeded(data: OracleData) -> bool:
    """Whether the oracle draws one of several stored seeds per query (``random`` policy)."""
    return data.order is not None and data.counts is not None


class _Oracle:
    """One protocol's oracle in the kernels' types: costs (zeros when it has none), budgets
    (unset: never binding), values by stored seed, and each run's stream words."""

    __slots__ = ("budget_q", "budget_s", "by_seed", "costs", "counts", "data", "seed", "values0")

    def __init__(self, data: OracleData, seed: int) -> None:
        size = data.space.size
        self.data, self.seed = data, seed
        self.costs = frozen(np.zeros(size) if data.costs is None else data.costs, np.float64)
        self.values0 = frozen(data.values[0], np.float64)
        self.budget_s = math.inf if data.budget_seconds is None else float(data.budget_seconds)
        self.budget_q = NO_QUERY_BUDGET if data.budget_queries is None else int(data.budget_queries)
        self.by_seed = frozen(np.zeros(0))
        self.counts = frozen(np.zeros(0, dtype=np.int64))
        if data.order is not None and data.counts is not None:
            # by_seed[i * rows + k]: the value of cell i's k-th stored seed (a cell's side by
            # side: one cache line for whichever a draw picks)
            by_seed = np.take_along_axis(data.values, data.order, axis=0).T.ravel()
            self.by_seed = frozen(by_seed, np.float64)
            self.counts = frozen(data.counts, np.int64)

    def cells(self, runs: list[int], block: int) -> IntArray:
        """The first ``block`` cells each run samples (:func:`centre_draws`)."""
        cand = self.data.candidates
        n_dom = self.data.space.size if cand is None else len(cand)
        draws = centre_draws(self.seed, runs, n_dom, block)
        out: IntArray = frozen(draws if cand is None else cand[draws], np.int64)
        return out

    def words(
        self, runs: list[int], n: IntArray, buf: U64Array | None = None
    ) -> tuple[U64Array, IntArray]:
        """The first ``n[k]`` raw words of each run's oracle stream ``(run, 1)``, end to end
        (in ``buf`` where it has room: a fresh array is paged in anew each time), and where
        each run's start (one more entry: the end)."""
        start = np.zeros(len(runs) + 1, dtype=np.int64)
        np.cumsum(n, out=start[1:])
        total = int(start[-1])
        raw = buf[:total] if buf is not None and buf.size >= total else np.empty(total, np.uint64)
        for k, (r, m) in enumerate(zip(runs, n.tolist(), strict=True)):
            if m:
                raw[start[k] : start[k + 1]] = _WORDS.first(self.seed, r, m)
        return frozen(raw), frozen(start)


class _StreamWords:
    """Each run's oracle-stream words made so far, and its generator to make more.

    The stream ``SeedSequence(seed, spawn_key=(run, 1))`` is the same under every protocol
    and algorithm, so the NA forms and random search of a grid read the same words: made
    once, kept up to :data:`_CACHED_WORDS` (8 bytes each), all dropped when more are asked.
    """

    __slots__ = ("held", "runs")

    def __init__(self) -> None:
        self.runs: dict[tuple[int, int], tuple[np.random.PCG64, U64Array]] = {}
        self.held = 0

    def first(self, seed: int, run: int, n: int) -> U64Array:
        """The first ``n`` raw 64-bit words of run ``run``'s stream (PCG64's outputs, which
        numpy's ``Generator`` draws from)."""
        hit = self.runs.get((seed, run))
        if hit is None:
            hit = (np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(run, 1))), _NO_WORDS)
        bits, words = hit
        if words.size < n:
            more = max(n, 2 * words.size) - words.size  # whole blocks: fewer, larger steps
            if self.held + more > _CACHED_WORDS:
                self.runs.clear()  # another grid, or a long search: start again
                self.held = words.size
            more_words = bits.random_raw(more)
            words = np.concatenate((words, more_words)) if words.size else more_words
            self.runs[(seed, run)] = (bits, words)
            self.held += more
        out: U64Array = words[:n]
        return out


_CACHED_WORDS = 1 << 23
_WORDS = _StreamWords()


def _spare_words(most: int) -> int:
    """Words to give a run that needs at most ``most`` without Lemire's rejections: a few
    more for those (rare; a run that runs out goes again with more)."""
    return most + 4


_NO_WORDS = frozen(np.zeros(0, dtype=np.uint64))
_NO_START = frozen(np.zeros(1, dtype=np.int64))


class _Rows:
    """:data:`~nb201_flat.search.kernels_free_na.ROWS` output: room for ``n`` rows of one
    scored draw each (the centre's value, then its neighbours'), with the oracle's seconds
    and queries then, and where a row holds a value (all True until a row is shorter)."""

    __slots__ = ("queries", "seconds", "valid", "values")

    def __init__(self, n: int, width: int) -> None:
        self.values = np.empty((n, width))
        self.seconds = np.empty(n)
        self.queries = np.empty(n, dtype=np.int64)
        self.valid = np.ones((n, width), dtype=bool)


_NO_ROWS = _Rows(0, 1)
# stored-seed words made for one walk (8 bytes each)
_CHUNK_WORDS = 1 << 22


class _FreeNAWalk:
    """Free NA-RS or best-evaluated NA-RS under one protocol: walks of blocks of runs."""

    __slots__ = ("algo", "flat", "indptr", "kn", "mode", "nb", "oracle", "score", "seeded")

    def __init__(
        self, data: OracleData, algo: NARandomSearch | NABestEvaluatedSearch, seed: int
    ) -> None:
        from nb201_flat.search import kernels_free_na as kn

        self.kn, self.algo = kn, algo
        self.oracle = _Oracle(data, seed)
        self.nb = algo.objective.arrays(data.space)
        self.indptr, self.flat = _csr(self.nb)
        self.seeded = _seeded(data)
        best = isinstance(algo, NABestEvaluatedSearch)
        # stored seeds: NA scores of what each run saw, aggregated after the walk (ROWS)
        self.mode = kn.BEST if best else kn.ROWS if self.seeded else kn.SCORE
        score = na_scores(data, algo.objective) if self.mode == kn.SCORE else data.values[0]
        self.score = frozen(score, np.float64)

    def _walk(
        self, cells: IntArray, words: tuple[U64Array, IntArray], rows: _Rows
    ) -> tuple[Any, ...]:
        o = self.oracle
        out: tuple[Any, ...] = self.kn.free_na_walk(
            frozen(cells),
            self.indptr,
            self.flat,
            o.costs,
            o.budget_s,
            o.budget_q,
            stall_limit(o.data.space.size),  # the NA memory's stall guard
            self.mode,
            self.seeded,
            self.score,
            o.by_seed,
            o.counts,
            words[0],
            words[1],
            rows.values,
            rows.seconds,
            rows.queries,
        )
        return out

    def runs(self, runs: list[int], block: int) -> dict[int, RunRecord]:
        """The records of the runs among ``runs`` that ``block`` centre draws take to their
        end (the others need more draws)."""
        cells = self.oracle.cells(runs, block)
        if not self.seeded:
            got = self._walk(cells, (_NO_WORDS, _NO_START), _NO_ROWS)
            return _na_records(runs, got)
        # stored seeds: a run takes at most one word per own draw and per look-up, and looks
        # each cell up once at most (a few more words for Lemire's rare rejections)
        need = _spare_words(block + min(self.oracle.data.space.size, block * self.nb.width))
        step = _CHUNK_WORDS // need
        if self.mode == self.kn.ROWS:
            entries = block * (self.nb.width + 1)  # a row a centre draw at most
            if entries > _CHUNK_ENTRIES:  # one run alone: the least a chunk holds
                check_rows_memory(self.algo, block, self.nb.width + 1)
            step = min(step, _CHUNK_ENTRIES // entries)
        step = max(1, step)
        # one buffer of rows and one of words for every chunk (fresh ones would be paged in
        # each time)
        step = min(step, len(runs))
        rows = _Rows(step * block, self.nb.width + 1) if self.mode == self.kn.ROWS else _NO_ROWS
        buf = np.empty(step * need, dtype=np.uint64)
        out: dict[int, RunRecord] = {}
        for lo in range(0, len(runs), step):
            todo = np.arange(lo, min(lo + step, len(runs)))
            n = np.full(todo.size, need, dtype=np.int64)
            while todo.size:  # runs whose words run out go again, with more
                got = self._seeded(cells[todo], [runs[k] for k in todo.tolist()], n, rows, buf)
                out.update(got[0])
                todo, n = todo[got[1]], 2 * n[got[1]] + 16
        return out

    def _seeded(
        self, cells: IntArray, runs: list[int], n_words: IntArray, rows: _Rows, buf: U64Array
    ) -> tuple[dict[int, RunRecord], BoolArray]:
        """Records of the ``runs`` (their ``cells``) that end within their draws, on an
        oracle with stored seeds, each given ``n_words`` words (and room for their NA rows);
        and which ran out of words."""
        kn = self.kn
        got = self._walk(cells, self.oracle.words(runs, n_words, buf), rows)
        if self.mode == kn.ROWS:
            got = (*got[:6], *self._offer_rows(cells, got, rows))
        recs = _na_records(runs, got)
        return recs, got[0] == kn.MORE_WORDS

    def _offer_rows(self, cells: IntArray, got: tuple[Any, ...], rows: _Rows) -> tuple[Any, ...]:
        """Each run's incumbent from its NA rows (where each run's start: ``got[12]``): every
        row's score by the objective's own aggregation (:func:`_aggregate_rows`), offered in
        turn."""
        obj = self.algo.objective
        start = got[12]
        n = int(start[-1])
        per = np.repeat(np.arange(cells.shape[0]), np.diff(start))
        centre = cells[per, np.arange(n) - start[per]]
        valid = rows.valid[:n]
        members = np.diff(self.indptr)
        if not bool((members == self.nb.width).all()):  # filters: rows of several lengths
            np.less_equal(np.arange(self.nb.width + 1), members[centre][:, None], out=valid)
        own = 0 if obj.include_self else 1
        f = _aggregate_rows(rows.values[:n, own:], valid[:, own:], obj)
        out: tuple[Any, ...] = self.kn.offer_rows(
            frozen(start), frozen(centre), frozen(f), frozen(rows.seconds[:n]),
            frozen(rows.queries[:n]),
        )  # fmt: skip
        return out


def _na_records(runs: list[int], got: tuple[Any, ...]) -> dict[int, RunRecord]:
    """:func:`_records` of the runs a free NA walk ended (no cache hits; a stall is the NA
    memory's, of revisits: a cell is charged once a run, so the oracle's guard never ends one)."""
    from nb201_flat.search.kernels_free_na import STALLED

    zero = np.zeros(len(runs), dtype=np.int64)
    kinds = np.where(got[0] == STALLED, IDLE_REVISIT, 0)
    return _records(runs, got[0], (*got[2:6], zero, *got[6:12]), kinds)


def _records(
    runs: list[int], status: IntArray, got: tuple[Any, ...], kinds: IntArray
) -> dict[int, RunRecord]:
    """The records of runs ``runs[k]`` a walk ended (``status[k]`` DONE, or STALLED on the
    idle steps ``kinds[k]``), from per-run results (queries, seconds, free look-ups, their
    seconds, cache hits, incumbent, score) and the changes (where each run's start, then their
    seconds, queries and cells)."""
    from nb201_flat.search.kernels_free_na import DONE, STALLED

    stall_kinds = np.where(status == STALLED, kinds, 0).tolist()
    ok = np.flatnonzero((status == DONE) | (status == STALLED))
    queries, seconds, free_n, free_s, hits, best, score, start, c_s, c_q, c_i = got
    changes = list(zip(c_s.tolist(), c_q.tolist(), c_i.tolist(), strict=True))
    lo, hi = start[:-1].tolist(), start[1:].tolist()
    q, s, fn, fs = queries.tolist(), seconds.tolist(), free_n.tolist(), free_s.tolist()
    h, b, sc = hits.tolist(), best.tolist(), score.tolist()
    return {
        runs[k]: RunRecord(
            run=runs[k],
            best=b[k],
            score=sc[k],
            queries=q[k],
            seconds=s[k],
            free_queries=fn[k],
            cache_hits=h[k],
            changes=tuple(changes[lo[k] : hi[k]]),
            free_seconds=fs[k],
            stall_kinds=stall_kinds[k],
        )
        for k in ok.tolist()
    }


def run_vectorised(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs ``runs`` of ``algorithm`` under ``data``, as :func:`run_one` would give them.

    Raises ``ValueError`` for a combination :func:`vectorisable` refuses.
    """
    seed = check_batch(seed, runs)
    if not vectorisable(data, algorithm):
        raise ValueError(f"{algorithm.label} has no vectorised form under this protocol")
    if isinstance(algorithm, NARandomSearch):
        return run_free_na(data, algorithm, seed, runs)
    from nb201_flat.search.lockstep import replay_matches_numpy

    if _seeded(data) and not replay_matches_numpy():  # seed draws read from raw words
        return [run_one(data, algorithm, seed, int(r)) for r in runs]
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    block = _first_block(data)
    while todo:
        if block > _MAX_DRAWS:
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        # runs in chunks: each holds its block of draws (and words), so all at once grew with
        # runs x budget (500 runs at budget_scale 4000: 4.4 GB); a run's draws are its own
        per = max(1, _BATCH_BYTES // (_BYTES_PER_DRAW * block))
        for i in range(0, len(todo), per):
            done.update(_batch(data, seed, todo[i : i + per], block))
        todo = [r for r in todo if r not in done]
        block *= 4
    return [done[int(r)] for r in runs]


def batched_ok(data: OracleData, algorithm: SearchAlgorithm) -> bool:
    """True when :func:`run_batched` runs all runs at once (vectorised or in lock step)."""
    from nb201_flat.search.lockstep import lockstep_ok, replay_matches_numpy
    from nb201_flat.search.replay import replay_ok, seeded_ok

    if vectorisable(data, algorithm):
        return True
    if not replay_matches_numpy():
        _log.warning(
            "numpy %s draws integers/permutations otherwise than the lock-step replay "
            "assumes; REA, LS and charged or two-stage NA-RS run one run at a time",
            np.__version__,
        )
        return False
    return lockstep_ok(data, algorithm) or replay_ok(data, algorithm) or seeded_ok(data, algorithm)


def run_batched(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """:func:`run_vectorised`, :func:`~nb201_flat.search.lockstep.run_lockstep` or a replay of
    :mod:`~nb201_flat.search.replay`, whichever covers the algorithm; the loop's records."""
    from nb201_flat.search.lockstep import run_lockstep
    from nb201_flat.search.replay import replay_ok, run_replay, run_seeded, seeded_ok

    # each runner below checks seed and runs (check_batch) itself
    if vectorisable(data, algorithm):
        return run_vectorised(data, algorithm, seed, runs)
    if replay_ok(data, algorithm):
        return run_replay(data, algorithm, seed, runs)
    if seeded_ok(data, algorithm):
        return run_seeded(data, algorithm, seed, runs)
    return run_lockstep(data, algorithm, seed, runs)


#: the draws of one kernel call of random search, in bytes (a draw: its cell, its words and
#: the walk's per-draw state, about 17 bytes as measured, rounded up)
_BATCH_BYTES = 1 << 28
_BYTES_PER_DRAW = 24


def _first_block(data: OracleData) -> int:
    """Draws likely to outlast the budget (more are drawn if not)."""
    guesses = []
    if data.budget_queries is not None:
        guesses.append(data.budget_queries + 1)
    if data.budget_seconds is not None and data.costs is not None:
        mean = float(np.nanmean(data.costs)) if data.costs.size else 0.0
        # over the mean first: 1.25 x a budget near 1e308 was inf (a guess only: more are
        # drawn if it falls short, so one past any float is left out)
        guess = 1.25 * (data.budget_seconds / mean) if mean > 0 else math.inf
        if math.isfinite(guess):
            guesses.append(math.ceil(guess) + 64)
    return max(16, min(guesses) if guesses else 1024)


def _batch(data: OracleData, seed: int, runs: list[int], block: int) -> dict[int, RunRecord]:
    """Random-search runs replayed from ``block`` draws each, all at once, by a compiled walk
    (:func:`~nb201_flat.search.kernels_free_na.rs_walk`); those the draws do not finish are
    left out (the caller draws more). Stored seeds come from each run's oracle-stream words:
    a charged query draws at most one 32-bit half, so half the draws (and a few for Lemire's
    rare rejections) suffice, and a run that asks for more gets more."""
    from nb201_flat.search.kernels_free_na import MORE_WORDS, rs_walk

    o = _Oracle(data, seed)
    cells = o.cells(runs, block)
    seeded = _seeded(data)
    out: dict[int, RunRecord] = {}
    todo = np.arange(len(runs))
    need = np.full(len(runs), _spare_words((block + 1) // 2) if seeded else 0, dtype=np.int64)
    while todo.size:
        sub_runs = [runs[k] for k in todo.tolist()]
        raw, start = o.words(sub_runs, need) if seeded else (_NO_WORDS, _NO_START)
        got = rs_walk(
            cells if todo.size == len(runs) else frozen(cells[todo]), o.costs, o.budget_s,
            o.budget_q, stall_limit(data.space.size), data.domain_size, data.repeats == "cache",
            seeded,
            o.values0, o.by_seed, o.counts, raw, start,
        )  # fmt: skip
        status = got[0]
        zero_n, zero_s = np.zeros(todo.size, dtype=np.int64), np.zeros(todo.size)
        per_run = (got[2], got[3], zero_n, zero_s, *got[4:11])
        out.update(_records(sub_runs, status, per_run, got[11]))
        more = status == MORE_WORDS
        todo, need = todo[more], 2 * need[more] + 16
    return out
