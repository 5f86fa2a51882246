"""Random search and NA random search without the per-query loop, with the loop's streams.

Under a fixed protocol a run of random search is a function of its draws: the cells sampled
(the algorithm stream ``SeedSequence(seed, spawn_key=(r, 0))``), their costs and values. So a
run can be replayed with arrays: draw a block of samples in one call (numpy's bounded integer
draws give the same numbers one by one or as an array, the generator buffering the unused
32-bit half either way), charge by a cumulative sum, find the first refused query (the first
charged one whose cumulative cost or count passes the budget), and read the incumbent and its
changes off a running maximum. The cumulative sum adds the costs in the loop's order, so the
seconds are the same floats. Seed draws of the ``random`` seed policy come from the oracle
stream ``(r, 1)`` in one vectorised call, again the same numbers as one call per query.

Covered (:func:`vectorisable`): :class:`RandomSearch` under any protocol, and one-stage
:class:`NARandomSearch` with free neighbours on a single-row oracle (one value per cell): its
score of a cell is then fixed, and is computed with the objective's own arithmetic on the
same arrays as the loop (:func:`na_scores`). :func:`run_free_na` runs free one-stage and free
best-evaluated NA-RS under any protocol, all runs at once: each run's first visits and first
look-ups are found in O(n) by scattering positions into a (run, cell) table
(:func:`first_seen`) rather than by sorting, and on stored-seed oracles the oracle stream's
32-bit seed draws and doubles are read from its raw words in the loop's order. REA and LS are
covered by :mod:`~nb201_flat.search.lockstep`; charged and two-stage NA-RS by
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

import dataclasses
import functools
import itertools
import logging
import math
from typing import Any

import numpy as np

from nb201_flat.neighbours import NeighbourArrays
from nb201_flat.search.algorithms import (
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    SearchAlgorithm,
)
from nb201_flat.search.lockstep import _M32, _TWO32
from nb201_flat.search.oracle import FloatArray, IntArray, OracleData
from nb201_flat.search.runner import RunRecord, run_one
from nb201_flat.types import BoolArray as BoolArray

_log = logging.getLogger(__name__)

# beyond this many draws per run the loop is no slower to wait for (and a search that never
# spends its budget, e.g. cached repeats over a small domain, never ends either way)
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
    runs on a ``(1, members)`` block, so every score is the same float.
    """
    # imported here, as NeighbourObjective.aggregate does: the landscape layer loads scipy
    from nb201_flat.landscape.neighbourhood import _agg_level

    spec = objective.neighbourhood
    nb = spec.arrays(data.space)
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
        self._nb = objective.neighbourhood.arrays(data.space)
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
# (run, cell) keys of the tables one chunk of runs uses: small enough to stay in cache
_CHUNK_KEYS = 1 << 17
# neighbour entries (draws x neighbourhood width) of one chunk
_CHUNK_ENTRIES = 1 << 19


class _Scratch:
    """Tables over one chunk's (run, cell) keys, reused from chunk to chunk (allocated and
    paged in once); an entry is read only after this chunk has written it."""

    __slots__ = ("paid", "pos")

    def __init__(self, n_keys: int) -> None:
        dt = _index_type(n_keys)
        self.pos = np.empty(n_keys, dtype=dt)
        self.paid = np.empty(n_keys, dtype=dt)

    @classmethod
    def fit(cls, scratch: _Scratch | None, n_keys: int) -> _Scratch:
        """``scratch`` if it has room for ``n_keys`` keys, else a new one."""
        return scratch if scratch is not None and scratch.pos.size >= n_keys else cls(n_keys)


def _index_type(n: int) -> type[np.signedinteger[Any]]:
    """32-bit indices where they suffice: half the memory traffic of the scatters."""
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def first_seen(keys: IntArray, n_keys: int, table: IntArray | None = None) -> BoolArray:
    """True at the first entry (flat order) of each value of ``keys`` (all in ``0..n_keys-1``).

    O(n) with a table of ``n_keys`` positions (``table``, if given, is used as scratch)
    instead of a sort (see :func:`_first_pos`).

    >>> first_seen(np.array([[3, 1, 3], [1, 0, 0]]), 4).tolist()
    [[True, True, False], [False, True, False]]
    """
    flat = keys.ravel()
    got = _first_pos(flat, n_keys, table)
    out: BoolArray = (got == np.arange(flat.size)).reshape(keys.shape)
    return out


def _first_pos(flat: IntArray, n_keys: int, table: IntArray | None = None) -> IntArray:
    """For each entry of ``flat``, the position of the first entry with its value.

    Positions are written backwards into a table, so with numpy's in-order fancy assignment
    each key keeps its first one. numpy does not promise that order, so it is checked, and
    ``np.minimum.at`` used if it fails.
    """
    dt = _index_type(max(n_keys, flat.size))
    pos = np.arange(flat.size, dtype=dt)
    ok = table is not None and table.dtype == dt and table.size >= n_keys
    tab = table if table is not None and ok else np.empty(n_keys, dtype=dt)
    tab[flat[::-1]] = pos[::-1]
    got: IntArray = tab[flat]
    if not bool((got <= pos).all()):
        tab[flat] = np.iinfo(dt).max
        np.minimum.at(tab, flat, pos)
        got = tab[flat]
    return got


class _Lookups:
    """The free look-ups of several runs (:func:`free_lookups_many`), and where each neighbour
    entry of a newly paid cell found its value.

    Attributes
    ----------
    idx
        ``nb.indices`` of the newly paid cells, shape ``(firsts, width)``.
    look
        True where that entry is a free look-up.
    first
        Flat position in ``idx`` of the first entry of the same run and cell.
    paid
        Position in ``firsts`` where the entry's cell is paid in the same run (the dtype's
        largest value: never); a neighbour is paid before an entry of first ``f`` when
        ``paid < f``.
    counts
        Free look-ups of each run.
    per_first, cells, costs
        Free look-ups of each newly paid cell; the cells looked up, in order, and the
        training seconds of each (for :func:`_first_sums`).
    """

    __slots__ = ("cells", "costs", "counts", "first", "idx", "look", "paid", "per_first")

    def __init__(
        self,
        nb: NeighbourArrays,
        costs: FloatArray | None,
        firsts: IntArray,
        run_of: IntArray,
        n_runs: int,
        scratch: _Scratch | None,
    ) -> None:
        idx = nb.indices[firsts]
        n_f, width = idx.shape
        size = nb.indices.shape[0]
        n_keys = n_runs * size + 1
        scratch = _Scratch.fit(scratch, n_keys)
        valid = None if bool((nb.counts == width).all()) else idx >= 0
        dt = _index_type(n_keys)
        keys = run_of.astype(dt)[:, None] * dt(size) + idx
        if valid is not None:
            keys = np.where(valid, keys, dt(n_keys - 1))  # padding: one key of its own
        flat = keys.ravel()
        self.first = _first_pos(flat, n_keys, scratch.pos)
        paid_at = scratch.paid
        paid_at[:n_keys] = np.iinfo(paid_at.dtype).max
        paid_at[run_of * size + firsts] = np.arange(n_f)
        # positions in firsts order a run's times, and paid_at[keys] is in the same run
        self.paid = paid_at[keys]
        look = (self.first == np.arange(flat.size)).reshape(idx.shape)
        look &= np.arange(n_f)[:, None] < self.paid
        if valid is not None:
            look &= valid
        self.idx, self.look = idx, look
        self.per_first = look.sum(axis=1)
        self.counts = np.bincount(run_of, weights=self.per_first, minlength=n_runs).astype(np.int64)
        # the cells looked up, first after first, neighbour order within one; their seconds
        self.cells: IntArray = idx[look].astype(np.int64)
        self.costs = np.zeros(0) if costs is None else costs[self.cells]


def _first_sums(per_first: IntArray, costs: FloatArray) -> FloatArray:
    """One ``costs[batch].sum()`` per newly paid cell, as the oracle sums its free look-ups:
    ``costs`` holds them first after first, ``per_first`` each."""
    sums = np.zeros(per_first.size)
    if costs.size == 0:
        return sums
    starts = np.cumsum(per_first) - per_first
    # batches of one length summed as the rows of one block (a row sum is the same pairwise
    # sum as the oracle's 1-D sum); a stable sort puts each length's firsts together
    order = np.argsort(per_first, kind="stable")
    lengths = per_first[order]
    cut = [0, *(np.flatnonzero(np.diff(lengths)) + 1).tolist(), lengths.size]
    for a, b in itertools.pairwise(cut):
        n = int(lengths[a])
        if n:
            rows = order[a:b]
            sums[rows] = costs[starts[rows][:, None] + np.arange(n)].sum(axis=1)
    return sums


def _run_totals(sums: FloatArray, run_of: IntArray, n_runs: int) -> FloatArray:
    """Each run's ``sums`` (in order, ``run_of`` non-decreasing) added in turn from 0.0, as
    the oracle's ``seconds +=``: a sequential cumsum over a zero-padded row (x + 0.0 == x)."""
    if sums.size == 0:
        return np.zeros(n_runs)
    run_start = np.searchsorted(run_of, np.arange(n_runs))
    col = np.arange(sums.size) - run_start[run_of]
    pad = np.zeros((n_runs, int(col.max()) + 1))
    pad[run_of, col] = sums
    out: FloatArray = np.cumsum(pad, axis=1)[:, -1]
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
    lk = _Lookups(nb, costs, firsts, run_of, n_runs, None)
    return lk.look, lk.counts, _run_totals(_first_sums(lk.per_first, lk.costs), run_of, n_runs)


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
_CACHED_DRAWS = 1 << 21


@functools.lru_cache(maxsize=4)
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
        ne = np.uint64(n_dom)
        thr = (_TWO32 - ne) % ne
        n64 = block // 2 + 8  # a rejection is rare (about n_dom / 2**32 a draw)
        for k, r in enumerate(runs):
            bits = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, 0)))
            raw = bits.random_raw(n64)
            while True:
                words = np.empty(2 * raw.size, dtype=np.uint64)
                words[0::2] = raw & _M32
                words[1::2] = raw >> np.uint64(32)
                m = words * ne
                got = (m >> np.uint64(32))[(m & _M32) >= thr]
                if got.size >= block:
                    break
                raw = np.concatenate((raw, bits.random_raw(n64)))
            out[k] = got[:block].astype(np.int64)
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

    Any protocol: on an oracle with stored seeds (``random`` policy) the oracle stream's
    draws are replayed in the loop's order, each run's own 32-bit seed draws interleaved with
    the doubles of its free look-ups (numpy's consumption of the stream is checked by
    :func:`~nb201_flat.search.lockstep.replay_matches_numpy`, which the dispatch requires).
    """
    if not free_na_kind(algorithm):
        raise ValueError(f"{algorithm.label} is not free one-stage or best-evaluated NA-RS")
    assert isinstance(algorithm, NARandomSearch | NABestEvaluatedSearch)
    from nb201_flat.search.lockstep import replay_matches_numpy

    obj = algorithm.objective
    nb = obj.neighbourhood.arrays(data.space)
    seeded = data.order is not None and data.counts is not None
    if seeded and not replay_matches_numpy():  # the oracle stream is read from its raw words
        return [run_one(data, algorithm, seed, int(r)) for r in runs]
    score = None
    if not seeded and isinstance(algorithm, NARandomSearch):
        score = na_scores(data, obj)
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    block = _first_block(data)
    size = data.space.size
    n_dom = size if data.candidates is None else len(data.candidates)
    scratch: _Scratch | None = None
    while todo:
        if block > _MAX_DRAWS:
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        draws = centre_draws(seed, todo, n_dom, block)
        step = max(1, min(_CHUNK_KEYS // size, _CHUNK_ENTRIES // (block * (nb.width + 2))))
        scratch = _Scratch.fit(scratch, min(step, len(todo)) * size + 1)
        # free seconds: one block sum per look-up count over several chunks at once (fewer
        # blocks), then each run's sums added up at the end
        ended: list[int] = []
        sums: list[FloatArray] = []
        f_runs: list[IntArray] = []
        waiting: list[tuple[IntArray, FloatArray]] = []
        for lo in range(0, len(todo), step):
            chunk = todo[lo : lo + step]
            got, (per_first, costs, f_run) = _free_na_block(
                data, algorithm, nb, score, seed, chunk, draws[lo : lo + step], scratch
            )
            f_runs.append(f_run + len(ended))
            waiting.append((per_first, costs))
            if sum(c.size for _, c in waiting) >= _CHUNK_ENTRIES or lo + step >= len(todo):
                per, cost = (np.concatenate(x) for x in zip(*waiting, strict=True))
                sums.append(_first_sums(per, cost))
                waiting = []
            ended.extend(got)
            done.update({r: rec for r, rec in got.items() if rec is not None})
        if ended:
            secs = _run_totals(np.concatenate(sums), np.concatenate(f_runs), len(ended)).tolist()
            for r, s in zip(ended, secs, strict=True):
                rec = done.get(r)
                # None: a rare rejection in a seed draw, which the loop replays
                done[r] = (
                    run_one(data, algorithm, seed, r)
                    if rec is None
                    else dataclasses.replace(rec, free_seconds=s)
                )
        todo = [r for r in todo if r not in done]
        block *= 4
    return [done[int(r)] for r in runs]


def _free_na_block(
    data: OracleData,
    algo: NARandomSearch | NABestEvaluatedSearch,
    nb: NeighbourArrays,
    score: FloatArray | None,
    seed: int,
    runs: list[int],
    draws: IntArray,
    scratch: _Scratch,
) -> tuple[dict[int, RunRecord | None], tuple[IntArray, FloatArray, IntArray]]:
    """The runs among ``runs`` that their centre ``draws`` take to their end (None: one the
    loop must run, after a rare rejection in a seed draw), without their free seconds; and
    for :func:`_first_sums`, the free look-ups of each newly paid cell and their seconds,
    with its run (its place among the records)."""
    size = data.space.size
    cand = data.candidates
    block = draws.shape[1]
    cells: IntArray = draws if cand is None else cand[draws].astype(np.int64)
    n_runs = len(runs)
    # charged: a cell's first visit in its run (the NA memory)
    ch = first_seen(np.arange(n_runs)[:, None] * size + cells, n_runs * size, scratch.pos)
    cost = np.zeros(cells.shape) if data.costs is None else np.where(ch, data.costs[cells], 0.0)
    secs = np.cumsum(cost, axis=1)  # sequential, in the loop's order: the same floats
    qs: IntArray = np.cumsum(ch, axis=1, dtype=np.int64)
    over = np.zeros(cells.shape, dtype=bool)
    if data.budget_queries is not None:
        over |= qs > data.budget_queries
    if data.budget_seconds is not None:
        over |= secs > data.budget_seconds
    over &= ch
    pos = np.arange(block)
    # the NA memory gives up after this many revisits in a row
    last = np.maximum.accumulate(np.where(ch, pos, -1), axis=1)
    over |= ~ch & (pos - last > 20 * size + 1000)
    ends = np.where(over.any(axis=1), over.argmax(axis=1), block)
    keep = np.flatnonzero(ends < block)
    if keep.size == 0:
        none = np.zeros(0, dtype=np.int64)
        return {}, (none, np.zeros(0), none)
    if keep.size < n_runs:
        cells, ch, secs, qs, ends = cells[keep], ch[keep], secs[keep], qs[keep], ends[keep]
        runs = [runs[k] for k in keep.tolist()]
        n_runs = len(runs)
    live = pos[None, :] < ends[:, None]
    fresh = ch & live
    f_run, f_t = np.nonzero(fresh)  # newly paid cells, run after run, in order
    f_cell = cells[f_run, f_t]
    lookups = _Lookups(nb, data.costs, f_cell, f_run, n_runs, scratch)
    d_run, d_t = np.nonzero(live)  # every scored draw (revisits too)
    d_cell = cells[d_run, d_t]
    redo = np.zeros(n_runs, dtype=bool)
    members: IntArray = np.zeros((0, 0), dtype=np.int64)
    offers: FloatArray = np.zeros((0, 0))
    cand_cells: IntArray
    f: FloatArray
    if data.order is not None and data.counts is not None:
        first = (f_run, f_t, f_cell)
        draw = (d_run, d_t, d_cell, fresh[d_run, d_t])
        redo, members, offers = _seeded_offers(data, nb, seed, runs, first, lookups, draw, scratch)
    elif isinstance(algo, NABestEvaluatedSearch):
        members = np.concatenate((d_cell[:, None], nb.indices[d_cell]), axis=1)
        offers = np.where(members >= 0, data.values[0][members], np.nan)
    if isinstance(algo, NABestEvaluatedSearch):
        cand_cells, f = members, offers
    elif score is not None:
        cand_cells, f = d_cell[:, None], score[d_cell][:, None]
    else:
        own = 0 if algo.objective.include_self else 1
        agg = _aggregate_rows(offers[:, own:], members[:, own:] >= 0, algo.objective)
        cand_cells, f = d_cell[:, None], agg[:, None]
    changes = _improvements(cand_cells, f, (d_run, d_t), secs, qs, n_runs)
    last_q = qs[np.arange(n_runs), ends - 1].tolist()
    last_s = secs[np.arange(n_runs), ends - 1].tolist()
    out: dict[int, RunRecord | None] = {}
    for k, (run, end, nf) in enumerate(
        zip(runs, ends.tolist(), lookups.counts.tolist(), strict=True)
    ):
        if redo[k]:
            out[run] = None
            continue
        best, best_score = -1, -np.inf
        chg: list[tuple[float, int, int]] = []
        for s_at, q_at, i, s in changes.get(k, ()):
            best_score = s
            if i != best:
                best = i
                chg.append((s_at, q_at, i))
        out[run] = RunRecord(
            run=run,
            best=best,
            score=best_score,
            queries=int(last_q[k]) if end else 0,
            seconds=float(last_s[k]) if end else 0.0,
            free_queries=nf,
            cache_hits=0,
            changes=tuple(chg),
            free_seconds=0.0,  # summed by the caller, over all chunks at once
        )
    return out, (lookups.per_first, lookups.costs, f_run)


def _improvements(
    cells: IntArray,
    f: FloatArray,
    at: tuple[IntArray, IntArray],
    secs: FloatArray,
    qs: IntArray,
    n_runs: int,
) -> dict[int, list[tuple[float, int, int, float]]]:
    """Each run's strict improvements of its incumbent, ``(seconds, queries, cell, score)`` in
    order, when draw ``d`` (run and position ``at``) offers ``cells[d]`` with scores ``f[d]``
    in turn (NaN and padding never win)."""
    d_run, d_t = at
    clean = np.where((cells >= 0) & ~np.isnan(f), f, -np.inf)
    top = clean.max(axis=1)
    grid = np.full(secs.shape, -np.inf)
    grid[d_run, d_t] = top
    best = np.maximum.accumulate(grid, axis=1)
    before = np.concatenate((np.full((n_runs, 1), -np.inf), best[:, :-1]), axis=1)
    # only draws whose best offer beats what came before are looked at member by member
    rows = np.flatnonzero(top > before[d_run, d_t])
    sub = clean[rows]
    run_max = np.maximum.accumulate(
        np.concatenate((before[d_run[rows], d_t[rows]][:, None], sub), axis=1), axis=1
    )
    ri, ci = np.nonzero(sub > run_max[:, :-1])
    d = rows[ri]
    r, t = d_run[d], d_t[d]
    out: dict[int, list[tuple[float, int, int, float]]] = {}
    for k, s_at, q_at, i, s in zip(
        r.tolist(),
        secs[r, t].tolist(),
        qs[r, t].tolist(),
        cells[d, ci].tolist(),
        f[d, ci].tolist(),
        strict=True,
    ):
        out.setdefault(k, []).append((s_at, q_at, i, s))
    return out


def _seeded_offers(
    data: OracleData,
    nb: NeighbourArrays,
    seed: int,
    runs: list[int],
    first: tuple[IntArray, IntArray, IntArray],
    lookups: _Lookups,
    draw: tuple[IntArray, IntArray, IntArray, BoolArray],
    scratch: _Scratch,
) -> tuple[BoolArray, IntArray, FloatArray]:
    """What each scored draw saw on an oracle that draws stored seeds: (runs the loop must
    redo, the draw's centre and neighbours, their values), the centre's own value first.

    ``first`` is (run, draw, cell) of each newly paid cell, ``lookups`` its free look-ups;
    ``draw`` is (run, draw, cell, newly paid) of every scored draw. The oracle stream's events
    come in the loop's order: the own seed draw of a newly paid cell (one 32-bit draw, only
    when it has a choice of seeds), then one double per free look-up it makes, in neighbour
    order. A double takes a whole 64-bit word; a 32-bit draw takes the low half of a fresh
    word, and the next 32-bit draw the high half of that word, doubles in between or not.
    """
    assert data.order is not None and data.counts is not None
    size = data.space.size
    n_runs = len(runs)
    counts = data.counts
    # by_seed[k * size + i]: the value of cell i's k-th stored seed
    by_seed = np.take_along_axis(data.values, data.order, axis=0).ravel()
    f_run, f_t, f_cell = first
    idx, look = lookups.idx, lookups.look
    n_f, width = look.shape
    # each newly paid cell with a choice of seeds draws 32 bits, then its look-ups a double each
    i32 = np.flatnonzero(counts[f_cell] > 1)
    r32 = f_run[i32]
    odd = ((np.arange(i32.size) - np.searchsorted(r32, r32)) & 1).astype(bool)
    opens = np.zeros(n_f, dtype=np.int64)  # 1 where the own draw opens a fresh word
    opens[i32[~odd]] = 1
    per = lookups.per_first
    step = opens + per
    w_before = np.cumsum(step) - step  # words before each first: runs' words end to end
    n_words = np.bincount(f_run, weights=step, minlength=n_runs).astype(np.int64).tolist()
    raw = np.concatenate(
        [np.zeros(0, dtype=np.uint64)]
        + [
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, 1))).random_raw(n)
            for r, n in zip(runs, n_words, strict=True)
            if n
        ]
    )
    w_of = w_before[i32]
    w_of[odd] = w_of[np.flatnonzero(odd) - 1]  # the word its predecessor opened
    w = raw[w_of]
    w32 = np.where(odd, w >> np.uint64(32), w & _M32)
    # own draws: Lemire, which almost never rejects; a rejection goes back to the loop
    ne = counts[f_cell[i32]].astype(np.uint64)
    m = w32 * ne
    redo = np.zeros(n_runs, dtype=bool)
    redo[r32[(m & _M32) < (_TWO32 - ne) % ne]] = True
    pick = np.zeros(n_f, dtype=np.int64)
    pick[i32] = (m >> np.uint64(32)).astype(np.int64)
    own_v = by_seed[pick * size + f_cell]
    # free look-ups: random() doubles, one stored seed each
    lk_cell = lookups.cells
    # a first's look-ups take the words right after its own draw's, one each
    lk_word = np.repeat(w_before + opens - (np.cumsum(per) - per), per) + np.arange(lk_cell.size)
    u = (raw[lk_word] >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    # floor(u * n) as the oracle's, by truncation: u * n is never negative
    lk_pick = (u * np.maximum(counts[lk_cell], 1)).astype(np.int64)
    # what a newly paid cell saw of a neighbour: its own look-up's value, else the value paid
    # before, else the look-up made at the neighbour's first entry in the run
    vals = np.full(n_f * width, np.nan)
    vals[look.ravel()] = by_seed[lk_pick * size + lk_cell]
    rest = np.flatnonzero(~look.ravel() & (idx.ravel() >= 0))
    paid = lookups.paid.ravel()[rest]
    before = paid < rest // width
    vals[rest] = np.where(before, own_v[np.where(before, paid, 0)], vals[lookups.first[rest]])
    vals2 = vals.reshape(n_f, width)
    offers: FloatArray = np.concatenate((own_v[:, None], vals2), axis=1)
    members: IntArray = np.concatenate((f_cell[:, None], idx), axis=1)
    d_run, d_t, d_cell, d_new = draw
    if bool(d_new.all()):
        return redo, members, offers
    # revisits (rare): read off the first visit's row, with what was paid since
    rv = np.flatnonzero(~d_new)
    f0 = scratch.paid[d_run[rv] * size + d_cell[rv]]  # the first visit, in firsts
    row_paid = lookups.paid[f0]
    now = (row_paid < n_f) & (f_t[np.minimum(row_paid, n_f - 1)] <= d_t[rv][:, None])
    rv_vals = np.where(now, own_v[np.where(now, row_paid, 0)], vals2[f0])
    all_offers = np.empty((d_run.size, width + 1))
    all_members = np.empty((d_run.size, width + 1), dtype=np.int64)
    all_offers[d_new] = offers
    all_members[d_new] = members
    all_offers[rv] = np.concatenate((own_v[f0][:, None], rv_vals), axis=1)
    all_members[rv] = members[f0]
    return redo, all_members, all_offers


def run_vectorised(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs ``runs`` of ``algorithm`` under ``data``, as :func:`run_one` would give them.

    Raises ``ValueError`` for a combination :func:`vectorisable` refuses.
    """
    if not vectorisable(data, algorithm):
        raise ValueError(f"{algorithm.label} has no vectorised form under this protocol")
    if isinstance(algorithm, NARandomSearch):
        return run_free_na(data, algorithm, seed, runs)
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    block = _first_block(data)
    while todo:
        if block > _MAX_DRAWS:
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        done.update(_batch(data, seed, todo, block))
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

    if vectorisable(data, algorithm):
        return run_vectorised(data, algorithm, seed, runs)
    if replay_ok(data, algorithm):
        return run_replay(data, algorithm, seed, runs)
    if seeded_ok(data, algorithm):
        return run_seeded(data, algorithm, seed, runs)
    return run_lockstep(data, algorithm, seed, runs)


def _first_block(data: OracleData) -> int:
    """Draws likely to outlast the budget (more are drawn if not)."""
    guesses = []
    if data.budget_queries is not None:
        guesses.append(data.budget_queries + 1)
    if data.budget_seconds is not None and data.costs is not None:
        mean = float(np.nanmean(data.costs)) if data.costs.size else 0.0
        if mean > 0:
            guesses.append(math.ceil(1.25 * data.budget_seconds / mean) + 64)
    return max(16, min(guesses) if guesses else 1024)


def _batch(data: OracleData, seed: int, runs: list[int], block: int) -> dict[int, RunRecord]:
    """Random-search runs replayed from ``block`` draws each, all at once; those the draws do
    not finish are left out (the caller draws more)."""
    cand = data.candidates
    n_dom = data.space.size if cand is None else len(cand)
    size = data.space.size
    # each run's own algorithm stream: the same draws the loop makes one by one
    draws = centre_draws(seed, runs, n_dom, block)
    cells: IntArray = draws if cand is None else cand[draws]
    n_runs = len(runs)
    if data.repeats == "cache":
        # charged: a cell's first visit in its run (the oracle's cache)
        ch = first_seen(np.arange(n_runs)[:, None] * size + cells, n_runs * size)
    else:
        ch = np.ones(cells.shape, dtype=bool)
    cost = np.zeros(cells.shape) if data.costs is None else np.where(ch, data.costs[cells], 0.0)
    seconds = np.cumsum(cost, axis=1)  # sequential, in the loop's order: the same floats
    queries = np.cumsum(ch, axis=1)
    over = np.zeros(cells.shape, dtype=bool)
    if data.budget_queries is not None:
        over |= queries > data.budget_queries
    if data.budget_seconds is not None:
        over |= seconds > data.budget_seconds
    over &= ch
    pos = np.arange(block)
    ends = np.where(over.any(axis=1), over.argmax(axis=1), block)
    live = pos[None, :] < ends[:, None]
    score = _rs_values(data, cells, ch & live, runs, seed)
    clean = np.where(live & ~np.isnan(score), score, -np.inf)
    best_so_far = np.maximum.accumulate(clean, axis=1)
    before = np.concatenate((np.full((n_runs, 1), -np.inf), best_so_far[:, :-1]), axis=1)
    rows, cols = np.nonzero(clean > before)
    improved: dict[int, list[int]] = {}
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        improved.setdefault(a, []).append(b)
    out: dict[int, RunRecord] = {}
    for k, run in enumerate(runs):
        end = int(ends[k])
        if end == block:
            continue
        changes: list[tuple[float, int, int]] = []
        best, best_score = -1, -np.inf
        for j in improved.get(k, []):
            i = int(cells[k, j])
            best_score = float(score[k, j])
            if i != best:
                best = i
                changes.append((float(seconds[k, j]), int(queries[k, j]), i))
        hits = 0
        if data.repeats == "cache":
            hits = int(end - queries[k, end - 1]) if end else 0
        out[run] = RunRecord(
            run=run,
            best=best,
            score=best_score,
            queries=int(queries[k, end - 1]) if end else 0,
            seconds=float(seconds[k, end - 1]) if end else 0.0,
            free_queries=0,
            cache_hits=hits,
            changes=tuple(changes),
            free_seconds=0.0,
        )
    return out


def _rs_values(
    data: OracleData, cells: IntArray, paid: BoolArray, runs: list[int], seed: int
) -> FloatArray:
    """What each RS query returned (NaN after the run's end); a cache hit repeats the first
    answer of its cell."""
    if data.order is None or data.counts is None:
        out: FloatArray = data.values[0, cells]
        return out
    order, counts = data.order, data.counts
    res = np.full(cells.shape, np.nan)
    for k, run in enumerate(runs):
        row = cells[k]
        ask = row[paid[k]]
        n = counts[ask]
        pick = np.zeros(ask.size, dtype=np.int64)
        multi = n > 1
        # the oracle stream draws a stored seed only where there is a choice, as _draw
        o_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1)))
        pick[multi] = o_rng.integers(0, n[multi])
        answers = data.values[order[pick, ask], ask]
        if data.repeats == "cache":
            first = np.full(data.space.size, np.nan)
            first[ask] = answers
            res[k] = first[row]
        else:
            res[k, paid[k]] = answers
    return res
