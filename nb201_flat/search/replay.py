"""NA-RS forms the vectorised module does not cover, replayed run by run from their draws.

Charged one-stage NA-RS, two-stage NA-RS and best-evaluated NA-RS read the same streams as the
loop (:func:`nb201_flat.search.runner.run_one`): the algorithm's draws are taken in blocks from
its own generator, and each run's charges, budget end and NA memory are replayed over them
with numpy. On an oracle that draws stored seeds (the 200-epoch protocols) each run's values
are drawn from its own oracle stream by numpy, in the loop's order (:class:`_Values`): the
seed of each paid cell, then (two-stage, free) the look-ups of stage 2. Free one-stage and free
best-evaluated NA-RS run all runs at once instead
(:func:`~nb201_flat.search.vectorised.run_free_na`). Results equal the loop's, record for
record; :mod:`~nb201_flat.search.vectorised` dispatches here.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> from nb201_flat.table import MetricKey
>>> from nb201_flat.search.algorithms import NeighbourObjective
>>> from nb201_flat.search.oracle import OracleData
>>> from nb201_flat.search.runner import run_one
>>> s = Space(("none", "skip_connect", "conv"), 3)
>>> data = OracleData(s, MetricKey("toy", "x-valid", 12), np.arange(27.0)[None, :],
...                   None, None, np.linspace(1, 3, 27), 40.0, None)
>>> charged = NARandomSearch(NeighbourObjective(charge=True))
>>> run_replay(data, charged, 0, range(3)) == [run_one(data, charged, 0, r) for r in range(3)]
True
"""

from __future__ import annotations

import numpy as np

from nb201_flat.neighbours import NeighbourArrays
from nb201_flat.search.algorithms import (
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import FloatArray, IntArray, OracleData
from nb201_flat.search.runner import RunRecord, run_one
from nb201_flat.search.vectorised import _aggregate_rows, _Scores
from nb201_flat.types import BoolArray


class _NAScores:
    """NA scores of every cell on a single-row oracle, and a run's free look-ups."""

    def __init__(self, data: OracleData, objective: NeighbourObjective) -> None:
        self._free = _Scores(data, objective)
        self.score = self._free.of(np.arange(data.space.size))

    def free_lookups(self, firsts: IntArray) -> tuple[int, float]:
        return self._free.free_lookups(firsts)


# -- NA-RS forms the vectorised module does not cover, on a single-row oracle ----------------
def replay_kind(algorithm: SearchAlgorithm) -> bool:
    """NA-RS forms replayed run by run from their draws: charged one-stage NA-RS, two-stage
    NA-RS (free or charged) and best-evaluated NA-RS (free or charged).

    >>> from nb201_flat.search.algorithms import NeighbourObjective
    >>> replay_kind(NARandomSearch(NeighbourObjective(charge=True)))
    True
    >>> replay_kind(NARandomSearch())  # the vectorised module's
    False
    """
    if isinstance(algorithm, NABestEvaluatedSearch):
        return True
    if isinstance(algorithm, NARandomSearch):
        return algorithm.rerank_top_k is not None or algorithm.objective.charge
    return False


def replay_ok(data: OracleData, algorithm: SearchAlgorithm) -> bool:
    """True when :func:`run_replay` reproduces the loop (single-row oracle: no seed draws)."""
    return replay_kind(algorithm) and data.order is None


class _Own:
    """One run's ``own`` calls (its NA memory) replayed in blocks: charges at first visits,
    the budget's end, and the memory's patience with revisits."""

    __slots__ = ("data", "limit", "paid", "queries", "seconds", "stall")

    def __init__(self, data: OracleData) -> None:
        self.data = data
        self.paid = np.zeros(data.space.size, dtype=bool)
        self.queries = 0
        self.seconds = 0.0
        self.stall = 0
        self.limit = 20 * data.space.size + 1000

    def run(self, seq: IntArray) -> tuple[BoolArray, FloatArray, IntArray, int, bool]:
        """Charge ``seq`` in order, up to where the run ends; returns (newly paid, seconds
        and queries after each call, the end (``len(seq)`` if none), ended by a stall)."""
        d = self.data
        n = seq.size
        _, first = np.unique(seq, return_index=True)
        fresh = np.zeros(n, dtype=bool)
        fresh[first] = True
        fresh &= ~self.paid[seq]
        cost = np.zeros(n) if d.costs is None else np.where(fresh, d.costs[seq], 0.0)
        # the loop adds one cost at a time to the running total: a sequential cumsum
        secs = np.cumsum(np.concatenate(([self.seconds], cost)))[1:]
        qs = self.queries + np.cumsum(fresh)
        over = np.zeros(n, dtype=bool)
        if d.budget_queries is not None:
            over |= qs > d.budget_queries
        if d.budget_seconds is not None:
            over |= secs > d.budget_seconds
        over &= fresh
        pos = np.arange(n)
        last_new = np.maximum.accumulate(np.where(fresh, pos, -1))
        stall_at = np.where(last_new >= 0, pos - last_new, self.stall + pos + 1)
        stalled = ~fresh & (stall_at > self.limit)
        stop = over | stalled
        end = int(stop.argmax()) if stop.any() else n
        done = fresh[:end]
        self.paid[seq[:end][done]] = True
        if end:
            self.queries = int(qs[end - 1])
            self.seconds = float(secs[end - 1])
            self.stall = int(stall_at[end - 1]) if not fresh[end - 1] else 0
        return fresh, secs, qs, end, bool(end < n and stalled[end])


class _Inc:
    """One run's incumbent."""

    __slots__ = ("changes", "index", "score")

    def __init__(self) -> None:
        self.index = -1
        self.score = -np.inf
        self.changes: list[tuple[float, int, int]] = []

    def offers(self, cells: IntArray, f: FloatArray, secs: FloatArray, qs: IntArray) -> None:
        """``offer`` each cell in order (strictly better wins, NaN never)."""
        if cells.size == 0:
            return
        clean = np.where(np.isnan(f), -np.inf, f)
        before = np.maximum.accumulate(np.concatenate(([self.score], clean)))[:-1]
        for j in np.flatnonzero(clean > before).tolist():
            self.set(int(cells[j]), float(f[j]), float(secs[j]), int(qs[j]))

    def set(self, index: int, score: float, seconds: float, queries: int) -> None:
        self.score = score
        if index != self.index:
            self.index = index
            self.changes.append((seconds, queries, index))


def _record(run: int, inc: _Inc, own: _Own, free: int, free_s: float) -> RunRecord:
    """The :class:`RunRecord` the loop gives for a replayed run."""
    return RunRecord(
        run=run,
        best=inc.index,
        score=float(inc.score),
        queries=own.queries,
        seconds=own.seconds,
        free_queries=free,
        cache_hits=0,
        changes=tuple(inc.changes),
        free_seconds=free_s,
    )


def _replay_one(
    data: OracleData,
    algo: NARandomSearch | NABestEvaluatedSearch,
    scores: _NAScores | None,
    nb: NeighbourArrays,
    seed: int,
    run: int,
    block: int,
) -> RunRecord | None:
    """One run from ``block`` centre draws; None when they do not reach the run's end.
    ``scores`` is None on an oracle with stored seeds (charged one-stage forms only)."""
    gen = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 0)))
    cand = data.candidates
    draws = gen.integers(data.space.size if cand is None else len(cand), size=block)
    cent: IntArray = draws if cand is None else cand[draws].astype(np.int64)
    row = data.values[0]
    own = _Own(data)
    inc = _Inc()
    free, free_s = 0, 0.0
    charge = algo.objective.charge
    top = algo.rerank_top_k if isinstance(algo, NARandomSearch) else None
    if top is None and charge:
        # own(centre), then own(each neighbour), centre after centre
        full = np.concatenate((cent[:, None], nb.indices[cent]), axis=1)
        valid = np.concatenate((np.ones((block, 1), dtype=bool), nb.indices[cent] >= 0), axis=1)
        seq = full[valid].astype(np.int64)
        fresh, secs, qs, end, _ = own.run(seq)
        if end == seq.size:
            return None
        if data.order is not None:  # stored seeds: each cell's value is drawn when paid
            vals = _Values(data, seed, run)
            vals.pay(seq[:end][fresh[:end]])
            row = vals.paid
        if isinstance(algo, NABestEvaluatedSearch):
            inc.offers(seq[:end], row[seq[:end]], secs, qs)
        else:
            last = np.cumsum(valid.sum(axis=1)) - 1
            ok = last < end
            c = cent[ok]
            if scores is None:  # every member is paid by the time the centre is scored
                own_col = 0 if algo.objective.include_self else 1
                g = np.where(valid[ok], row[full[ok]], np.nan)[:, own_col:]
                f = _aggregate_rows(g, valid[ok][:, own_col:], algo.objective)
            else:
                f = scores.score[c]
            inc.offers(c, f, secs[last[ok]], qs[last[ok]])
    elif top is None:
        assert scores is not None
        # best-evaluated with free neighbours: each centre, then its neighbours' look-ups
        fresh, secs, qs, end, _ = own.run(cent)
        if end == cent.size:
            return None
        c = cent[:end]
        full = np.concatenate((c[:, None], nb.indices[c]), axis=1)
        valid = np.concatenate((np.ones((end, 1), dtype=bool), nb.indices[c] >= 0), axis=1)
        at = np.broadcast_to(np.arange(end)[:, None], full.shape)[valid]
        cells = full[valid].astype(np.int64)
        inc.offers(cells, row[cells], secs[at], qs[at])
        free, free_s = scores.free_lookups(c[fresh[:end]])
    else:
        assert isinstance(algo, NARandomSearch)
        fresh, secs, qs, end, stalled = own.run(cent)
        stop1 = cent.size
        if charge:
            # the oracle's used_fraction rule after each charge, elementwise
            with np.errstate(divide="ignore", invalid="ignore"):
                parts = []
                if data.budget_seconds is not None:
                    bs = data.budget_seconds
                    parts.append(secs / bs if bs > 0 else np.ones(secs.size))
                if data.budget_queries is not None:
                    bq = data.budget_queries
                    parts.append(qs / bq if bq > 0 else np.ones(qs.size))
            uf = np.maximum.reduce(parts) if len(parts) > 1 else parts[0]
            done = np.flatnonzero(uf >= algo.stage1_fraction)
            if done.size:
                stop1 = int(done[0]) + 1  # checked before each draw
        if min(end, stop1) == cent.size:
            return None
        n1 = min(end, stop1)
        c = cent[:n1]
        vals = _Values(data, seed, run)
        vals.pay(c[fresh[:n1]])
        inc.offers(c, vals.paid[c], secs, qs)
        if stop1 < end or not charge:
            if stop1 < end:  # stage 1 stopped by its share: undo the charges after it
                own = _Own(data)
                own.run(c)
            if not stalled or stop1 < end:
                stage1 = (c, fresh[:n1])
                free, free_s = _stage2(data, algo, scores, nb, own, inc, stage1, vals)
    return _record(run, inc, own, free, free_s)


class _Values:
    """What one run's oracle answers: its single row, or stored seeds drawn from the run's
    oracle stream as the loop draws them (``integers(counts)`` at each paid query of a cell
    with a choice of seeds, ``random()`` per free look-up), by numpy itself."""

    __slots__ = ("data", "free", "paid", "rng")

    def __init__(self, data: OracleData, seed: int, run: int) -> None:
        self.data = data
        self.rng: np.random.Generator | None = None
        self.paid: FloatArray = data.values[0]
        self.free: FloatArray = self.paid
        if data.order is not None and data.counts is not None:
            self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1)))
            self.paid = np.full(data.space.size, np.nan)
            self.free = np.full(data.space.size, np.nan)

    def pay(self, cells: IntArray) -> None:
        """Newly paid cells, in order (an array of bounds draws as one call per bound)."""
        d = self.data
        if self.rng is None or d.order is None or d.counts is None:
            return
        n = d.counts[cells]
        pick = np.zeros(cells.size, dtype=np.int64)
        multi = n > 1
        pick[multi] = self.rng.integers(0, n[multi])
        self.paid[cells] = d.values[d.order[pick, cells], cells]

    def look(self, cells: IntArray) -> None:
        """One ``query_free`` of ``cells``."""
        d = self.data
        if self.rng is None or d.order is None or d.counts is None:
            return
        n = np.maximum(d.counts[cells], 1)
        pick = np.floor(self.rng.random(cells.size) * n).astype(np.int64)
        self.free[cells] = d.values[d.order[pick, cells], cells]


def _stage2(
    data: OracleData,
    algo: NARandomSearch,
    scores: _NAScores | None,
    nb: NeighbourArrays,
    own: _Own,
    inc: _Inc,
    stage1: tuple[IntArray, BoolArray],
    vals: _Values,
) -> tuple[int, float]:
    """Two-stage NA-RS's re-ranking of the top-k validation cells; (free look-ups, seconds).

    ``stage1`` is stage 1's draws and which of them were first visits; ``scores`` the fixed
    NA scores of a single-row oracle, or None under stored seeds, where each re-ranked cell's
    score is aggregated from the values its run drew."""
    charge = algo.objective.charge
    cells, fresh = stage1
    seen = cells[fresh]  # first visits, in order
    v = vals.paid[seen]
    key = np.where(np.isnan(v), np.inf, -v)
    ranked = seen[np.argsort(key, kind="stable")][: int(algo.rerank_top_k or 0)]
    known = np.zeros(data.space.size, dtype=bool)
    free, free_s = 0, 0.0
    done: list[tuple[int, float, int]] = []  # re-ranked cells, with the counters then
    rows: list[FloatArray] = []
    for j in ranked.tolist():
        own.stall += 1  # own(j): paid in stage 1
        if own.stall > own.limit:
            break
        nbrs = nb.of(j).astype(np.int64)
        if charge:
            new, _, _, end, _ = own.run(nbrs)
            if end < nbrs.size:
                break
            vals.pay(nbrs[new])
            seen_v = vals.paid[nbrs]
        else:
            need = ~own.paid[nbrs] & ~known[nbrs]
            if need.any():
                new_c = nbrs[need]
                known[new_c] = True
                free += int(new_c.size)
                if data.costs is not None:
                    free_s += float(data.costs[new_c].sum())
                vals.look(new_c)
            seen_v = np.where(own.paid[nbrs], vals.paid[nbrs], vals.free[nbrs])
        done.append((j, own.seconds, own.queries))
        if scores is None:
            rows.append(np.concatenate(([vals.paid[j]], seen_v)))
    if not done:
        return free, free_s
    if scores is not None:
        f = scores.score[[j for j, _, _ in done]]
    else:
        obj = algo.objective
        width = max(r.size for r in rows)
        g = np.full((len(rows), width), np.nan)
        ok = np.zeros(g.shape, dtype=bool)
        for k, r in enumerate(rows):
            g[k, : r.size] = r
            ok[k, : r.size] = True
        own_col = 0 if obj.include_self else 1
        f = _aggregate_rows(g[:, own_col:], ok[:, own_col:], obj)
    best = -np.inf
    for (j, secs, qs), s in zip(done, f.tolist(), strict=True):
        if s > best:
            best = s
            inc.set(j, s, secs, qs)
    return free, free_s


def run_replay(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs of an NA-RS form :func:`replay_ok` accepts, as :func:`run_one` gives them."""
    if not replay_ok(data, algorithm):
        raise ValueError(f"{algorithm.label} has no replayed form under this protocol")
    assert isinstance(algorithm, NARandomSearch | NABestEvaluatedSearch)
    from nb201_flat.search.vectorised import free_na_kind, run_free_na

    if free_na_kind(algorithm):  # best-evaluated with free neighbours: all runs at once
        return run_free_na(data, algorithm, seed, runs)
    return _replay_runs(data, algorithm, _NAScores(data, algorithm.objective), seed, runs)


def _replay_runs(
    data: OracleData,
    algorithm: SearchAlgorithm,
    scores: _NAScores | None,
    seed: int,
    runs: range | list[int],
) -> list[RunRecord]:
    """Each run by :func:`_replay_one`, with more centre draws while they fall short."""
    assert isinstance(algorithm, NARandomSearch | NABestEvaluatedSearch)
    from nb201_flat.search.vectorised import _first_block

    obj = algorithm.objective
    nb = obj.neighbourhood.arrays(data.space)
    out = []
    first = _first_block(data)
    two_stage = isinstance(algorithm, NARandomSearch) and algorithm.rerank_top_k is not None
    if obj.charge and not two_stage:  # each centre charges its neighbours too
        first = max(8, first // (1 + nb.width))
    for r in runs:
        block = first
        while True:
            rec = _replay_one(data, algorithm, scores, nb, seed, int(r), block)
            if rec is not None:
                break
            if block > (1 << 22):
                rec = run_one(data, algorithm, seed, int(r))
                break
            block *= 4
        out.append(rec)
    return out


# -- one-stage NA-RS and best-evaluated NA-RS, free neighbours, stored seeds drawn -----------
def seeded_ok(data: OracleData, algorithm: SearchAlgorithm) -> bool:
    """Any NA-RS form (one-stage, two-stage or best-evaluated; free or charged) on an oracle
    that draws stored seeds (``random`` policy): replayed with the oracle stream's draws, in
    the loop's order.

    >>> from nb201_flat.search.algorithms import RegularizedEvolution
    >>> seeded_kind(NARandomSearch(rerank_top_k=3)), seeded_kind(RegularizedEvolution())
    (True, False)
    """
    return seeded_kind(algorithm) and data.order is not None and data.counts is not None


def seeded_kind(algorithm: SearchAlgorithm) -> bool:
    """Whether the algorithm has the seeded replay (the protocol may still rule it out)."""
    return isinstance(algorithm, NABestEvaluatedSearch | NARandomSearch)


def run_seeded(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs of an algorithm :func:`seeded_ok` accepts, as :func:`run_one` gives them:
    with free neighbours all at once, by :func:`~nb201_flat.search.vectorised.run_free_na`;
    charged, run by run (the oracle stream then holds only the paid queries' seed draws)."""
    if not seeded_ok(data, algorithm):
        raise ValueError(f"{algorithm.label} has no seeded replay under this protocol")
    from nb201_flat.search.vectorised import free_na_kind, run_free_na

    if free_na_kind(algorithm):
        return run_free_na(data, algorithm, seed, runs)
    return _replay_runs(data, algorithm, None, seed, runs)
