"""NA-RS forms the vectorised module does not cover, replayed run by run from their draws.

Charged one-stage NA-RS, two-stage NA-RS and charged best-evaluated NA-RS read the same
streams as the loop (:func:`nb201_flat.search.runner.run_one`). Each run is simulated step by
step by a compiled kernel (:mod:`~nb201_flat.search.kernels_replay`) from the raw PCG64 words
of its two streams, decoded as numpy's ``Generator`` draws them: the algorithm's centre draws,
and on an oracle that draws stored seeds (the 200-epoch protocols) the oracle's, in the loop's
order (the seed of each paid cell, then, two-stage and free, a double per look-up of stage 2).
The NA aggregates of the scored neighbourhoods are numpy's, over a chunk of runs at once, then
offered in turn: a chunk holds as many runs as their words and the scored rows they can make
fit in, one at least (a run whose rows alone cannot fit is refused,
:func:`~nb201_flat.search.vectorised.check_rows_memory`). A run that uses up its words is run
again with more. Where numpy draws otherwise than the kernels assume
(:func:`~nb201_flat.search.lockstep.replay_matches_numpy`), the loop runs.
Free one-stage and free best-evaluated NA-RS run all runs at once instead
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

from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from nb201_flat.search.algorithms import (
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import IDLE_REVISIT, OracleData, stall_limit
from nb201_flat.search.runner import RunRecord, check_batch, run_one
from nb201_flat.search.vectorised import _CHUNK_ENTRIES, _aggregate_rows, check_rows_memory


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


def run_replay(
    data: OracleData, algorithm: SearchAlgorithm, seed: int, runs: range | list[int]
) -> list[RunRecord]:
    """The runs of an NA-RS form :func:`replay_ok` accepts, as :func:`run_one` gives them."""
    seed = check_batch(seed, runs)
    if not replay_ok(data, algorithm):
        raise ValueError(f"{algorithm.label} has no replayed form under this protocol")
    assert isinstance(algorithm, NARandomSearch | NABestEvaluatedSearch)
    from nb201_flat.search.vectorised import free_na_kind, run_free_na

    if free_na_kind(algorithm):  # best-evaluated with free neighbours: all runs at once
        return run_free_na(data, algorithm, seed, runs)
    return _replay_runs(data, algorithm, seed, runs)


def _replay_runs(
    data: OracleData,
    algorithm: NARandomSearch | NABestEvaluatedSearch,
    seed: int,
    runs: range | list[int],
) -> list[RunRecord]:
    """Each run simulated by the compiled kernels from its streams' raw words, more words
    drawn for the runs that use theirs up; the loop's records.

    The kernels decode the words as numpy's ``Generator`` draws (checked by
    :func:`~nb201_flat.search.lockstep.replay_matches_numpy`; otherwise the loop runs).
    """
    from nb201_flat.search import kernels_replay as kr
    from nb201_flat.search.lockstep import replay_matches_numpy
    from nb201_flat.search.vectorised import _first_block

    n_dom = data.space.size if data.candidates is None else len(data.candidates)
    if not replay_matches_numpy() or n_dom >= 1 << 32:  # the kernels draw 32-bit bounds
        return [run_one(data, algorithm, seed, int(r)) for r in runs]
    obj = algorithm.objective
    nb = obj.arrays(data.space)
    top = algorithm.rerank_top_k if isinstance(algorithm, NARandomSearch) else None
    if top is not None:
        # stage 2 re-ranks distinct sampled cells, never more than the domain holds: the
        # kernel's buffers of top entries stay that small (a top of 10**12 failed to allocate)
        top = min(top, n_dom)
    mode = kr.BEST if isinstance(algorithm, NABestEvaluatedSearch) else kr.ONE_STAGE
    if top is not None:
        mode = kr.TWO_STAGE
    stage1 = algorithm.stage1_share if isinstance(algorithm, NARandomSearch) else 1.0
    seeded = data.order is not None and data.counts is not None
    size = data.space.size
    limit = stall_limit(size)
    cand = np.zeros(0, dtype=np.int64) if data.candidates is None else data.candidates
    # fresh writable copies of the fixed dtypes: the oracle's arrays are read-only, which
    # numba would compile as another signature
    args = (
        np.array(cand, dtype=np.int64),
        n_dom,
        np.array(nb.indices, dtype=np.int64),
        np.array(nb.counts, dtype=np.int64),
        np.array(data.values, dtype=np.float64),
        np.zeros((1, 1), dtype=np.int64) if data.order is None else np.array(data.order, np.int64),
        np.zeros(0, dtype=np.int64) if data.counts is None else np.array(data.counts, np.int64),
        seeded,
        np.zeros(size) if data.costs is None else np.array(data.costs, dtype=np.float64),
        np.array([float(data.budget_seconds is not None), data.budget_seconds or 0.0]),
        -1 if data.budget_queries is None else int(data.budget_queries),
        limit,
    )
    paid = _first_block(data)  # charged queries likely to outlast the budget
    draws = paid if mode == kr.TWO_STAGE else paid // (1 + nb.width)
    n_a = draws // 2 + _SLACK  # two draws a word (a rejection is rare)
    n_o = 0
    if seeded:  # a 32-bit seed draw per paid query, a word per free look-up of stage 2
        n_o = paid // 2 + _SLACK + (0 if obj.charge or top is None else top * nb.width)
    done: dict[int, RunRecord] = {}
    todo = [int(r) for r in runs]
    while todo:
        if max(n_a, n_o) > _MAX_WORDS:  # a search that barely spends its budget: the loop
            done.update({r: run_one(data, algorithm, seed, r) for r in todo})
            break
        more_a = more_o = False
        step = max(1, _CHUNK_WORDS // max(n_a, n_o, 1))  # runs whose words fit in memory
        # and whose scored rows do (a neighbourhood's values each, 241 at radius 2): a chunk's
        # are held until aggregated, and a run's may outgrow its words many times
        rows = _most_rows(kr, mode, n_a, n_dom, int(top or 0), limit)
        entries = rows * (1 + nb.width)
        if entries > _CHUNK_ENTRIES:  # one run alone: the least a chunk holds
            check_rows_memory(algorithm, rows, 1 + nb.width)
        step = min(step, max(1, _CHUNK_ENTRIES // max(entries, 1)))
        for lo in range(0, len(todo), step):
            chunk = todo[lo : lo + step]
            a_words = _words(seed, chunk, 0, n_a)
            o_words = _words(seed, chunk, 1, n_o)
            out = kr.run_block(
                mode, obj.charge, int(top or 0), float(stage1), a_words, n_a, o_words, n_o, *args
            )
            done.update(_records(kr, obj, chunk, out))
            more_a |= bool((out[0] == kr.MORE_ALGO).any())
            more_o |= bool((out[0] == kr.MORE_ORACLE).any())
        todo = [r for r in todo if r not in done]
        n_a = 4 * n_a + 1 if more_a else n_a
        n_o = 4 * n_o + 1 if more_o else n_o
    return [done[int(r)] for r in runs]


# more raw words than this for one run: the loop is no slower (see _replay_runs)
_MAX_WORDS = 1 << 22
# raw words of one stream held at once (8 bytes each), over the runs of a chunk
_CHUNK_WORDS = 1 << 22
# words drawn beyond the first guess of what a run needs (more are drawn if it needs them)
_SLACK = 16


def _most_rows(kr: ModuleType, mode: int, n_a: int, n_dom: int, top: int, limit: int) -> int:
    """The most rows a run of :func:`kernels_replay.run_block` can score with ``n_a`` words
    of its algorithm stream: one-stage, one a centre draw, each draw at least a 32-bit half of
    a word (a domain of one cell draws nothing: its revisits stall the run within ``limit``
    steps); two stages, its top-k; best-evaluated NA-RS scores no rows."""
    if mode == kr.BEST:
        return 0
    if mode == kr.TWO_STAGE:
        return top
    return 2 * n_a if n_dom > 1 else limit + 2


def _words(seed: int, runs: list[int], stream: int, n: int) -> npt.NDArray[np.uint64]:
    """The first ``n`` raw 64-bit words of each run's stream ``(r, stream)``, one row a run:
    seeded and drawn by a kernel (numpy builds one SeedSequence in ~30 us), checked against
    numpy's own on the first run; by numpy run by run where that differs."""
    from nb201_flat.search import kernels_replay as kr

    if n == 0 or not runs:
        return np.empty((len(runs), n), dtype=np.uint64)
    ok = isinstance(seed, int | np.integer) and seed >= 0 and min(runs) >= 0
    if ok:
        seed = int(seed)
        ent = [seed & 0xFFFFFFFF]
        while seed >> (32 * len(ent)):
            ent.append((seed >> (32 * len(ent))) & 0xFFFFFFFF)
        ent += [0] * (4 - len(ent))
        out = kr.stream_words(
            np.array(ent, dtype=np.uint64), np.array(runs, dtype=np.int64), stream, n
        )
        if np.array_equal(out[0, :2], _numpy_words(int(seed), runs[0], stream, 2)):
            return out
    out = np.empty((len(runs), n), dtype=np.uint64)
    for k, r in enumerate(runs):
        out[k] = _numpy_words(seed, r, stream, n)
    return out


def _numpy_words(seed: int, run: int, stream: int, n: int) -> npt.NDArray[np.uint64]:
    bits = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(run, stream)))
    out: npt.NDArray[np.uint64] = bits.random_raw(n)
    return out


def _records(
    kr: ModuleType, obj: NeighbourObjective, runs: list[int], out: tuple[Any, ...]
) -> dict[int, RunRecord]:
    """The records of the runs :func:`kernels_replay.run_block` finished: its scored rows
    aggregated by numpy (the loop's floats), then offered in turn."""
    status, queries, seconds, free_q, free_s, inc_i, inc_s, chg_at, c_q, c_i, c_s = out[:11]
    row_at, r_cell, r_q, r_s, r_n, r_g, ranked = out[11:]
    n_rows = int(row_at[-1])
    f = np.zeros(0)
    if n_rows:
        own = 0 if obj.include_self else 1
        g = r_g[:n_rows]
        valid = np.arange(g.shape[1]) < r_n[:n_rows, None]
        f = _aggregate_rows(g[:, own:], valid[:, own:], obj)
    best, score, at, q, idx, secs = kr.apply_scores(
        inc_i, inc_s, chg_at, c_q, c_i, c_s, row_at, r_cell, r_q, r_s, f
    )
    n_chg = int(at[-1])
    q_l, i_l, s_l = q[:n_chg].tolist(), idx[:n_chg].tolist(), secs[:n_chg].tolist()
    at_l = at.tolist()
    rec = {}
    for k, (run, st, b, sc, nq, ns, fq, fs, nr) in enumerate(
        zip(
            runs,
            status.tolist(),
            best.tolist(),
            score.tolist(),
            queries.tolist(),
            seconds.tolist(),
            free_q.tolist(),
            free_s.tolist(),
            ranked.tolist(),
            strict=True,
        )
    ):
        if st not in (kr.DONE, kr.STALLED):
            continue
        a, z = at_l[k], at_l[k + 1]
        rec[run] = RunRecord(
            run=run,
            best=b,
            score=sc,
            queries=nq,
            seconds=ns,
            free_queries=fq,
            cache_hits=0,
            changes=tuple(zip(s_l[a:z], q_l[a:z], i_l[a:z], strict=True)),
            free_seconds=fs,
            # the NA memory's guard (of revisits): the oracle's never ends a run under one
            stall_kinds=IDLE_REVISIT if st == kr.STALLED else 0,
            ranked=nr,
        )
    return rec


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
    seed = check_batch(seed, runs)
    if not seeded_ok(data, algorithm):
        raise ValueError(f"{algorithm.label} has no seeded replay under this protocol")
    from nb201_flat.search.vectorised import free_na_kind, run_free_na

    if free_na_kind(algorithm):
        return run_free_na(data, algorithm, seed, runs)
    assert isinstance(algorithm, NARandomSearch | NABestEvaluatedSearch)
    return _replay_runs(data, algorithm, seed, runs)
