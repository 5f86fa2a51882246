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
same arrays as the loop (:func:`na_scores`). REA and LS are covered by
:mod:`~nb201_flat.search.lockstep`; charged, two-stage and best-evaluated NA-RS, and free NA-RS
under stored-seed draws by :mod:`~nb201_flat.search.replay`. :func:`batched_ok` /
:func:`run_batched` dispatch to
whichever covers a combination, and the runner falls back to the loop for the rest. Results
are identical to :func:`nb201_flat.search.runner.run_one`: best cell, score, queries,
seconds, free queries, cache hits and the incumbent's change list.

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

import logging
import math

import numpy as np

from nb201_flat.search.algorithms import (
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    SearchAlgorithm,
)
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
    from nb201_flat.landscape.neighbourhood import _agg_level, _chunk_stats

    spec = objective.neighbourhood
    nb = spec.arrays(data.space)
    row = data.values[0]
    out = np.full(data.space.size, np.nan)
    agg, q = _agg_level(spec)
    for c in np.unique(nb.counts).tolist():
        cells = np.flatnonzero(nb.counts == c)
        g = row[nb.indices[cells, :c]]
        if spec.include_self:
            g = np.concatenate((row[cells][:, None], g), axis=1)
        if g.shape[1] == 0:  # nothing to aggregate: as the loop, one cell at a time
            out[cells] = [objective.aggregate(np.empty(0)) for _ in cells.tolist()]
            continue
        g = np.ascontiguousarray(g)
        res: dict[str, FloatArray] = {agg: np.full(len(g), np.nan), "n": np.full(len(g), np.nan)}
        _chunk_stats(
            g, None, g[:, 0], bool(np.isnan(g).any()), (agg,), q, 0.0, False, res, slice(None)
        )
        out[cells] = res[agg]
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
        number and the training seconds they would have cost.

        A neighbour is looked up free when a scored cell first needs it before the run has
        paid for it (each cell is paid just before its own neighbours are read). The seconds
        are summed as the oracle does, one ``costs[batch].sum()`` per scored cell in
        neighbour order, so they are the same floats.
        """
        if firsts.size == 0:
            return 0, 0.0
        rows = self._nb.indices[firsts]
        valid = rows >= 0
        need_t = np.broadcast_to(np.arange(firsts.size)[:, None], rows.shape)[valid]
        cells = rows[valid]
        uniq, first = np.unique(cells, return_index=True)
        paid_t = np.full(self._data.space.size, np.iinfo(np.int64).max)
        paid_t[firsts] = np.arange(firsts.size)
        free = need_t[first] < paid_t[uniq]
        n_free = int(free.sum())
        costs = self._data.costs
        if costs is None or n_free == 0:
            return n_free, 0.0
        pos = np.sort(first[free])  # time-major, neighbour order within a scored cell
        batch_t = need_t[pos]
        starts = np.flatnonzero(np.r_[True, batch_t[1:] != batch_t[:-1]])
        lengths = np.diff(np.r_[starts, pos.size])
        vals = costs[cells[pos]]
        sums = np.empty(starts.size)
        # one sum per scored cell: batches of one length summed as the rows of one block
        # (a row sum is the same pairwise sum as the oracle's 1-D sum), then added in order
        for n in np.unique(lengths).tolist():
            which = np.flatnonzero(lengths == n)
            block = vals[starts[which][:, None] + np.arange(n)[None, :]]
            sums[which] = block.sum(axis=1)
        total = np.cumsum(np.concatenate(([0.0], sums)))[-1]  # sequential, as seconds +=
        return n_free, float(total)


def run_vectorised(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs ``runs`` of ``algorithm`` under ``data``, as :func:`run_one` would give them.

    Raises ``ValueError`` for a combination :func:`vectorisable` refuses.
    """
    if not vectorisable(data, algorithm):
        raise ValueError(f"{algorithm.label} has no vectorised form under this protocol")
    scores = _Scores(data, algorithm.objective) if isinstance(algorithm, NARandomSearch) else None
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    block = _first_block(data)
    while todo:
        if block > _MAX_DRAWS:
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        done.update(_batch(data, scores, seed, todo, block))
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


def _batch(
    data: OracleData, scores: _Scores | None, seed: int, runs: list[int], block: int
) -> dict[int, RunRecord]:
    """Runs replayed from ``block`` draws each, all at once; those the draws do not finish
    are left out (the caller draws more)."""
    cand = data.candidates
    n_dom = data.space.size if cand is None else len(cand)
    size = data.space.size
    # each run's own algorithm stream: the same draws the loop makes one by one
    draws = np.stack(
        [
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r, 0))).integers(
                n_dom, size=block
            )
            for r in runs
        ]
    )
    cells: IntArray = draws if cand is None else cand[draws]
    na = scores is not None
    n_runs = len(runs)
    if na or data.repeats == "cache":
        # charged: a cell's first visit in its run (NA memory, or the oracle's cache)
        keyed = (np.arange(n_runs)[:, None] * size + cells).ravel()
        _, first = np.unique(keyed, return_index=True)
        flat = np.zeros(keyed.size, dtype=bool)
        flat[first] = True
        ch: BoolArray = flat.reshape(cells.shape)
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
    if na:
        # the NA memory gives up after this many revisits in a row
        limit = 20 * size + 1000
        last = np.maximum.accumulate(np.where(ch, pos, -1), axis=1)
        stalled = ~ch & (pos - last > limit)
        ends = np.where(stalled.any(axis=1), np.minimum(ends, stalled.argmax(axis=1)), ends)
    live = pos[None, :] < ends[:, None]
    if scores is not None:
        score = np.full(cells.shape, np.nan)
        score[live] = scores.of(cells[live])
    else:
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
        free, free_s, hits = 0, 0.0, 0
        if scores is not None:
            free, free_s = scores.free_lookups(cells[k, :end][ch[k, :end]])
        elif data.repeats == "cache":
            hits = int(end - queries[k, end - 1]) if end else 0
        out[run] = RunRecord(
            run=run,
            best=best,
            score=best_score,
            queries=int(queries[k, end - 1]) if end else 0,
            seconds=float(seconds[k, end - 1]) if end else 0.0,
            free_queries=free,
            cache_hits=hits,
            changes=tuple(changes),
            free_seconds=free_s,
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
