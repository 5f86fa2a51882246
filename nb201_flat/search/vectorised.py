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

from nb201_flat.neighbours import NeighbourArrays
from nb201_flat.search.algorithms import (
    LocalSearch,
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
        number and the training seconds they would have cost (see :func:`free_lookups_many`).
        """
        if firsts.size == 0:
            return 0, 0.0
        run_of = np.zeros(firsts.size, dtype=np.int64)
        _, n, secs = free_lookups_many(self._nb, self._data.costs, firsts, run_of, 1)
        return int(n[0]), float(secs[0])


def _aggregate_rows(g: FloatArray, valid: BoolArray, objective: NeighbourObjective) -> FloatArray:
    """``objective.aggregate`` of each row's valid entries (in order), the same floats: rows
    are grouped by their number of members and aggregated as one block each."""
    from nb201_flat.landscape.neighbourhood import _agg_level, _chunk_stats

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
        res: dict[str, FloatArray] = {
            agg: np.full(len(block), np.nan),
            "n": np.full(len(block), np.nan),
        }
        any_nan = bool(np.isnan(block).any())
        _chunk_stats(block, None, block[:, 0], any_nan, (agg,), q, 0.0, False, res, slice(None))
        out[rows] = res[agg]
    return out


# -- free one-stage NA-RS and best-evaluated NA-RS, all runs at once -------------------------
_BIG = np.iinfo(np.int64).max
# rows of (run, cell) tables and entries of neighbour blocks handled at once: a few tens of MB
_CHUNK_KEYS = 1 << 22
_CHUNK_ENTRIES = 1 << 22


def first_seen(keys: IntArray, n_keys: int) -> BoolArray:
    """True at the first entry (flat order) of each value of ``keys`` (all in ``0..n_keys-1``).

    O(n) with one table of ``n_keys`` positions instead of a sort: positions are written
    backwards, so with numpy's in-order fancy assignment each key keeps its first one. numpy
    does not promise that order, so it is checked, and ``np.minimum.at`` used if it fails.

    >>> first_seen(np.array([[3, 1, 3], [1, 0, 0]]), 4).tolist()
    [[True, True, False], [False, True, False]]
    """
    flat = keys.ravel()
    pos = np.arange(flat.size, dtype=np.int64)
    tab = np.empty(n_keys, dtype=np.int64)  # only entries written here are read back
    tab[flat[::-1]] = pos[::-1]
    got = tab[flat]
    if not bool((got <= pos).all()):
        tab[flat] = _BIG
        np.minimum.at(tab, flat, pos)
        got = tab[flat]
    out: BoolArray = (got == pos).reshape(keys.shape)
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
    idx = nb.indices[firsts]
    n_f, width = idx.shape
    size = nb.indices.shape[0]
    valid = None if bool((nb.counts == width).all()) else idx >= 0
    keys = run_of[:, None] * size + idx
    if valid is not None:
        keys = np.where(valid, keys, n_runs * size)  # padding: one key of its own
    first = first_seen(keys, n_runs * size + 1)
    paid = np.full(n_runs * size + 1, _BIG, dtype=np.int64)
    paid[run_of * size + firsts] = np.arange(n_f)
    # paid[keys] is the first's position in the same run: positions order a run's times
    look: BoolArray = first & (np.arange(n_f)[:, None] < paid[keys])
    if valid is not None:
        look &= valid
    per_first = look.sum(axis=1)
    counts = np.bincount(run_of, weights=per_first, minlength=n_runs).astype(np.int64)
    seconds = np.zeros(n_runs)
    if costs is None or not per_first.any():
        return look, counts, seconds
    vals = costs[idx[look]]  # first after first, neighbour order within one
    starts = np.cumsum(per_first) - per_first
    sums = np.zeros(n_f)
    # one sum per scored cell: batches of one length summed as the rows of one block (a row
    # sum is the same pairwise sum as the oracle's 1-D sum)
    for n in np.unique(per_first[per_first > 0]).tolist():
        which = np.flatnonzero(per_first == n)
        sums[which] = vals[starts[which][:, None] + np.arange(n)].sum(axis=1)
    # then added in turn, run by run: a sequential cumsum over a zero-padded row (x + 0.0 == x)
    run_start = np.searchsorted(run_of, np.arange(n_runs))
    col = np.arange(n_f) - run_start[run_of]
    pad = np.zeros((n_runs, int(col.max()) + 1))
    pad[run_of, col] = sums
    seconds = np.cumsum(pad, axis=1)[:, -1]
    return look, counts, seconds


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
    obj = algorithm.objective
    nb = obj.neighbourhood.arrays(data.space)
    seeded = data.order is not None and data.counts is not None
    score = None
    if not seeded and isinstance(algorithm, NARandomSearch):
        score = na_scores(data, obj)
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    block = _first_block(data)
    size = data.space.size
    while todo:
        if block > _MAX_DRAWS:
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        per_run = block * (nb.width + 2)
        step = max(1, min(_CHUNK_KEYS // size, _CHUNK_ENTRIES // per_run))
        for lo in range(0, len(todo), step):
            got = _free_na_block(data, algorithm, nb, score, seed, todo[lo : lo + step], block)
            for r, rec in got.items():
                done[r] = run_one(data, algorithm, seed, r) if rec is None else rec
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
    block: int,
) -> dict[int, RunRecord | None]:
    """The runs among ``runs`` that ``block`` centre draws each take to their end (None: one
    the loop must run, after a rare rejection in a seed draw)."""
    size = data.space.size
    cand = data.candidates
    n_dom = size if cand is None else len(cand)
    draws = np.stack(
        [
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r, 0))).integers(
                n_dom, size=block
            )
            for r in runs
        ]
    )
    cells: IntArray = draws if cand is None else cand[draws].astype(np.int64)
    n_runs = len(runs)
    # charged: a cell's first visit in its run (the NA memory)
    ch = first_seen(np.arange(n_runs)[:, None] * size + cells, n_runs * size)
    cost = np.zeros(cells.shape) if data.costs is None else np.where(ch, data.costs[cells], 0.0)
    secs = np.cumsum(cost, axis=1)  # sequential, in the loop's order: the same floats
    qs = np.cumsum(ch, axis=1)
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
        return {}
    cells, ch, secs, qs, ends = cells[keep], ch[keep], secs[keep], qs[keep], ends[keep]
    runs = [runs[k] for k in keep.tolist()]
    n_runs = len(runs)
    live = pos[None, :] < ends[:, None]
    f_run, f_t = np.nonzero(ch & live)  # newly paid cells, run after run, in order
    f_cell = cells[f_run, f_t]
    look, n_free, free_s = free_lookups_many(nb, data.costs, f_cell, f_run, n_runs)
    d_run, d_t = np.nonzero(live)  # every scored draw (revisits too)
    d_cell = cells[d_run, d_t]
    redo = np.zeros(n_runs, dtype=bool)
    draw = (d_run, d_t, d_cell)
    if data.order is not None and data.counts is not None:
        first = (f_run, f_t, f_cell)
        redo, members, offers = _seeded_offers(data, nb, seed, runs, first, look, draw)
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
    changes = _improvements(cand_cells, f, d_run, d_t, n_runs, block)
    out: dict[int, RunRecord | None] = {}
    for k, run in enumerate(runs):
        if redo[k]:
            out[run] = None
            continue
        end = int(ends[k])
        best, best_score = -1, -np.inf
        chg: list[tuple[float, int, int]] = []
        for t, i, s in changes.get(k, ()):
            best_score = s
            if i != best:
                best = i
                chg.append((float(secs[k, t]), int(qs[k, t]), i))
        out[run] = RunRecord(
            run=run,
            best=best,
            score=best_score,
            queries=int(qs[k, end - 1]) if end else 0,
            seconds=float(secs[k, end - 1]) if end else 0.0,
            free_queries=int(n_free[k]),
            cache_hits=0,
            changes=tuple(chg),
            free_seconds=float(free_s[k]),
        )
    return out


def _improvements(
    cells: IntArray, f: FloatArray, d_run: IntArray, d_t: IntArray, n_runs: int, block: int
) -> dict[int, list[tuple[int, int, float]]]:
    """Each run's strict improvements of its incumbent, ``(draw, cell, score)`` in order, when
    draw ``d`` offers ``cells[d]`` with scores ``f[d]`` in turn (NaN and padding never win)."""
    clean = np.where((cells >= 0) & ~np.isnan(f), f, -np.inf)
    top = clean.max(axis=1)
    grid = np.full((n_runs, block), -np.inf)
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
    out: dict[int, list[tuple[int, int, float]]] = {}
    d = rows[ri]
    for k, t, i, s in zip(
        d_run[d].tolist(),
        d_t[d].tolist(),
        cells[d, ci].tolist(),
        f[d, ci].tolist(),
        strict=True,
    ):
        out.setdefault(k, []).append((t, i, s))
    return out


def _seeded_offers(
    data: OracleData,
    nb: NeighbourArrays,
    seed: int,
    runs: list[int],
    first: tuple[IntArray, IntArray, IntArray],
    look: BoolArray,
    draw: tuple[IntArray, IntArray, IntArray],
) -> tuple[BoolArray, IntArray, FloatArray]:
    """What each scored draw saw on an oracle that draws stored seeds: (runs the loop must
    redo, the draw's centre and neighbours, their values), the centre's own value first.

    ``first`` is (run, draw, cell) of each newly paid cell, ``look`` its free look-ups;
    ``draw`` is (run, draw, cell) of every scored draw. The oracle stream's events come in
    the loop's order: the own seed draw of a newly paid cell (one 32-bit draw, only when the
    cell has a choice of seeds), then one double per free look-up it makes, in neighbour
    order. A double takes a whole 64-bit word; a 32-bit draw takes the low half of a fresh
    word, and the next 32-bit draw the high half of that word, doubles in between or not.
    """
    assert data.order is not None and data.counts is not None
    size = data.space.size
    n_runs = len(runs)
    counts, order, vals = data.counts, data.order, data.values
    f_run, f_t, f_cell = first
    n_f, width = look.shape
    ev = np.flatnonzero(np.concatenate(((counts[f_cell] > 1)[:, None], look), axis=1))
    ev_f, ev_j = np.divmod(ev, width + 1)
    ev_run = f_run[ev_f]
    i32 = np.flatnonzero(ev_j == 0)
    r32 = ev_run[i32]
    odd = ((np.arange(i32.size) - np.searchsorted(r32, r32)) & 1).astype(bool)
    consumes = np.ones(ev.size, dtype=bool)
    consumes[i32[odd]] = False
    word = np.cumsum(consumes) - 1  # the runs' words laid end to end, run after run
    n_words = np.bincount(ev_run[consumes], minlength=n_runs).tolist()
    raw = np.concatenate(
        [np.zeros(0, dtype=np.uint64)]
        + [
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, 1))).random_raw(n)
            for r, n in zip(runs, n_words, strict=True)
            if n
        ]
    )
    w_of = word[i32]
    w_of[odd] = w_of[np.flatnonzero(odd) - 1]  # the word its predecessor opened
    w = raw[w_of]
    w32 = np.where(odd, w >> np.uint64(32), w & _M32)
    # own draws: Lemire, which almost never rejects; a rejection goes back to the loop
    ne = counts[f_cell[ev_f[i32]]].astype(np.uint64)
    m = w32 * ne
    redo = np.zeros(n_runs, dtype=bool)
    redo[r32[(m & _M32) < (_TWO32 - ne) % ne]] = True
    pick = np.zeros(n_f, dtype=np.int64)
    pick[ev_f[i32]] = (m >> np.uint64(32)).astype(np.int64)
    n_keys = n_runs * size
    f_key = f_run * size + f_cell
    paid_t = np.full(n_keys, _BIG, dtype=np.int64)
    paid_t[f_key] = f_t
    paid_v = np.zeros(n_keys)
    paid_v[f_key] = vals[order[pick, f_cell], f_cell]
    # free look-ups: random() doubles, one stored seed each
    lk = np.flatnonzero(ev_j > 0)
    lk_cell = nb.indices[f_cell[ev_f[lk]], ev_j[lk] - 1].astype(np.int64)
    u = (raw[word[lk]] >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    lk_pick = np.floor(u * np.maximum(counts[lk_cell], 1)).astype(np.int64)
    free_v = np.zeros(n_keys)
    free_v[ev_run[lk] * size + lk_cell] = vals[order[lk_pick, lk_cell], lk_cell]
    # what each draw saw of each neighbour: its paid value if paid by then, else its free one
    d_run, d_t, d_cell = draw
    idx = nb.indices[d_cell]
    key = d_run[:, None] * size + np.maximum(idx, 0)
    seen = np.where(paid_t[key] <= d_t[:, None], paid_v[key], free_v[key])
    seen[idx < 0] = np.nan
    members = np.concatenate((d_cell[:, None], idx), axis=1)
    offers = np.concatenate((paid_v[d_run * size + d_cell][:, None], seen), axis=1)
    return redo, members, offers


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
    if isinstance(algorithm, LocalSearch) and algorithm.objective is None:
        return False  # plain LS: the loop was faster than lock step (benchmarks/bench_search)
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
    draws = np.stack(
        [
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r, 0))).integers(
                n_dom, size=block
            )
            for r in runs
        ]
    )
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
