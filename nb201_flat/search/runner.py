"""Repeat searches over many seeded runs, in parallel processes where it pays.

Run ``r`` of a master ``seed`` uses two independent streams,
``SeedSequence(seed, spawn_key=(r, 0))`` for the algorithm and ``(r, 1)`` for the oracle's seed
draws, whatever the algorithm, protocol, chunking or number of processes. So results are
identical bit for bit with ``jobs=1`` and ``jobs>1``, and two algorithms run with one seed are
*paired*: run ``r`` of random search and run ``r`` of NA-RS start from the same random stream.

Worker processes are handed only the oracles' arrays (validation values and costs) and the
algorithms; the evaluator (test vectors) stays in the parent, which reads each run's
incumbent after the search has returned.

Examples
--------
>>> from nb201_flat.search import RandomSearch, nb201_protocol, run_search
>>> res = run_search(table, nb201_protocol(), RandomSearch(), runs=500, seed=0)  # doctest: +SKIP
>>> res.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nb201_flat.budget import tqdm_class
from nb201_flat.search.algorithms import AlgorithmError, Incumbent, SearchAlgorithm
from nb201_flat.search.oracle import Oracle, OracleData, SearchEnded
from nb201_flat.search.protocol import Protocol, ProtocolError
from nb201_flat.space import Space
from nb201_flat.table import Table

log = logging.getLogger(__name__)

BUDGET_RULE = (
    "budget rule: a query whose cost would take the run past its budget is refused (not "
    "charged, not revealed) and ends the search, as NB201's R_EA.py; counted time never "
    "exceeds the budget"
)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The outcome of one run (no test value: that is read afterwards)."""

    run: int
    best: int
    score: float
    queries: int
    seconds: float
    free_queries: int
    cache_hits: int
    changes: tuple[tuple[float, int, int], ...]
    free_seconds: float = 0.0

    @property
    def evaluations(self) -> int:
        """Every architecture evaluation the run made: charged queries plus free look-ups."""
        return self.queries + self.free_queries


def run_one(data: OracleData, algorithm: SearchAlgorithm, seed: int, run: int) -> RunRecord:
    """One seeded run of ``algorithm`` against a fresh oracle on ``data``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 0)))
    oracle = Oracle(data, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1))))
    incumbent = Incumbent(oracle)
    with contextlib.suppress(SearchEnded):
        algorithm.search(oracle, rng, incumbent)
    return RunRecord(
        run=run,
        best=incumbent.index,
        score=incumbent.score,
        queries=oracle.queries,
        seconds=oracle.seconds,
        free_queries=oracle.free_queries,
        cache_hits=oracle.cache_hits,
        changes=tuple(incumbent.changes),
        free_seconds=oracle.free_seconds,
    )


@dataclass(frozen=True, slots=True, eq=False)
class SearchResults:
    """Runs, anytime curves and notes of a set of (protocol, algorithm) cells.

    Attributes
    ----------
    runs
        One row per (protocol, algorithm, run, reported dataset): ``test`` is the reported
        test value of the run's incumbent (``best``); also queries, seconds, free queries.
    curves
        Anytime curves: mean/std/n over runs of the incumbent's test value at each point
        ``x`` of a grid over the budget (``x_unit`` seconds or queries).
    notes
        What a reader must know (cost derivation, seed fallback, optimistic protocols).
    protocols
        The protocols, by name.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    notes: tuple[str, ...]
    protocols: tuple[Protocol, ...]

    def summary(self) -> pd.DataFrame:
        """Mean, std (ddof=1) and n of the final test value per protocol/algorithm/dataset."""
        return summarise(self.runs)

    def __repr__(self) -> str:
        algos = self.runs["algorithm"].nunique() if "algorithm" in self.runs else 0
        runs = len(self.runs.drop_duplicates(["protocol", "algorithm", "run"])) if algos else 0
        return (
            f"SearchResults({len(self.protocols)} protocols, {algos} algorithms, {runs} runs, "
            f"{len(self.curves)} curve points, {len(self.notes)} notes)"
        )


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """See :meth:`SearchResults.summary`."""
    keys = ["protocol", "algorithm", "dataset", "split"]
    g = runs.groupby(keys, sort=False)
    out = g.agg(
        mean=("test", "mean"),
        std=("test", "std"),
        n=("test", "count"),
        queries=("queries", "mean"),
        seconds=("seconds", "mean"),
        free_queries=("free_queries", "mean"),
        evaluations=("evaluations", "mean"),
        total_seconds=("total_seconds", "mean"),
    ).reset_index()
    return out


# -- the worker side ---------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _pack(data: OracleData) -> dict[str, Any]:
    # the Space travels as its spec: its cache of neighbour arrays can be large
    return {
        "space": data.space.spec(),
        "key": data.key,
        "values": data.values,
        "order": data.order,
        "counts": data.counts,
        "costs": data.costs,
        "budget_seconds": data.budget_seconds,
        "budget_queries": data.budget_queries,
        "repeats": data.repeats,
        "candidates": data.candidates,
    }


def _unpack(d: dict[str, Any]) -> OracleData:
    return OracleData(**{**d, "space": Space.from_spec(d["space"])})


def _init_worker(
    packed: list[dict[str, Any]], algorithms: list[SearchAlgorithm], seed: int
) -> None:
    _WORKER["data"] = [_unpack(d) for d in packed]
    _WORKER["algorithms"] = algorithms
    _WORKER["seed"] = seed


def _context() -> mp.context.BaseContext:
    # fork where the platform has it: no `if __name__ == "__main__"` guard needed in scripts
    # and notebooks, and no re-import per worker; spawn elsewhere
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method)


def _run_chunk(p: int, a: int, start: int, stop: int) -> tuple[int, int, list[RunRecord]]:
    data = _WORKER["data"][p]
    algo = _WORKER["algorithms"][a]
    seed = _WORKER["seed"]
    return p, a, [run_one(data, algo, seed, r) for r in range(start, stop)]


# -- the parent side ---------------------------------------------------------------------------
def _as_algorithms(
    algorithms: SearchAlgorithm | Sequence[SearchAlgorithm] | Mapping[str, SearchAlgorithm],
) -> tuple[list[str], list[SearchAlgorithm]]:
    if isinstance(algorithms, Mapping):
        labels, algos = [str(k) for k in algorithms], list(algorithms.values())
    else:
        algos = [algorithms] if isinstance(algorithms, SearchAlgorithm) else list(algorithms)
        labels = []
    if not algos:
        raise AlgorithmError("no algorithm given")
    for a in algos:
        if not isinstance(a, SearchAlgorithm):
            raise AlgorithmError(f"{a!r} is not a search algorithm (needs name, label, search())")
    labels = labels or [a.label for a in algos]
    if len(set(labels)) != len(labels):
        raise AlgorithmError(f"algorithm labels must be unique, got {labels}; pass a mapping")
    return labels, algos


def run_search(
    table: Table,
    protocols: Protocol | Sequence[Protocol],
    algorithms: SearchAlgorithm | Sequence[SearchAlgorithm] | Mapping[str, SearchAlgorithm],
    *,
    runs: int,
    seed: int = 0,
    jobs: int = 1,
    progress: bool = False,
    curve_points: int = 51,
) -> SearchResults:
    """Run every algorithm under every protocol ``runs`` times.

    Parameters
    ----------
    table
        The benchmark; each protocol is checked against it first (clear error on what lacks).
    protocols, algorithms
        One or several; algorithms may be a mapping label -> algorithm.
    runs
        Runs per (protocol, algorithm) cell; run ``r`` is seeded by ``(seed, r)``.
    seed
        Master seed (a non-negative int).
    jobs
        Worker processes (1: in this process).
    progress
        Show a tqdm progress bar over runs.
    curve_points
        Points of the anytime-curve grid (0 .. budget).
    """
    prots = (protocols,) if isinstance(protocols, Protocol) else tuple(protocols)
    if not prots:
        raise ProtocolError("no protocol given")
    if len({p.name for p in prots}) != len(prots):
        raise ProtocolError(f"protocol names must be unique, got {[p.name for p in prots]}")
    labels, algos = _as_algorithms(algorithms)
    if isinstance(runs, bool) or int(runs) < 1:
        raise AlgorithmError(f"runs must be >= 1, got {runs}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AlgorithmError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(jobs, bool) or int(jobs) < 1:
        raise AlgorithmError(f"jobs must be >= 1, got {jobs}")
    runs, seed, jobs = int(runs), int(seed), int(jobs)

    notes: list[str] = [BUDGET_RULE]
    datas = []
    for p in prots:
        for n in p.check(table):
            if n not in notes:
                notes.append(n)
        datas.append(p.oracle_data(table))
    evaluators = [p.evaluator(table) for p in prots]

    records: dict[tuple[int, int], list[RunRecord]] = {
        (pi, ai): [] for pi in range(len(prots)) for ai in range(len(algos))
    }
    total = runs * len(prots) * len(algos)
    with tqdm_class()(total=total, disable=not progress, desc="search", unit="run") as bar:
        # RS, NA-RS, REA, LS where covered: all runs at once with the loop's streams, same
        # records (nb201_flat.search.vectorised, .lockstep and .replay)
        from nb201_flat.search import vectorised

        for (pi, ai), out in records.items():
            if vectorised.batched_ok(datas[pi], algos[ai]):
                out.extend(vectorised.run_batched(datas[pi], algos[ai], seed, range(runs)))
                bar.update(runs)
        pending = {key: out for key, out in records.items() if not out}
        if jobs == 1 or not pending:
            for (pi, ai), out in pending.items():
                for r in range(runs):
                    out.append(run_one(datas[pi], algos[ai], seed, r))
                    bar.update(1)
        else:
            # about 16 tasks per worker: enough to balance, few enough to be cheap
            chunk = max(1, min(runs, math.ceil(total / (16 * jobs))))
            tasks = [
                (pi, ai, s, min(s + chunk, runs))
                for (pi, ai) in pending
                for s in range(0, runs, chunk)
            ]
            ex = ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=([_pack(d) for d in datas], algos, seed),
            )
            try:
                futures = [ex.submit(_run_chunk, *t) for t in tasks]
                for fut in futures:
                    pi, ai, recs = fut.result()
                    records[(pi, ai)].extend(recs)
                    bar.update(len(recs))
            except BaseException:
                _abandon(ex)  # Ctrl-C: stop the workers now, not after the queued work
                raise
            ex.shutdown()
    for recs in records.values():
        recs.sort(key=lambda rec: rec.run)

    run_frames, curve_frames = [], []
    for (pi, ai), recs in records.items():
        run_frames.append(_runs_frame(prots[pi], labels[ai], algos[ai], recs, evaluators[pi]))
        curve_frames.append(
            _curves_frame(prots[pi], labels[ai], recs, evaluators[pi], curve_points)
        )
    runs_df = pd.concat(run_frames, ignore_index=True)
    runs_df["seed"] = seed
    return SearchResults(
        runs=runs_df,
        curves=pd.concat(curve_frames, ignore_index=True),
        notes=tuple(notes),
        protocols=prots,
    )


def _abandon(ex: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers and drop its queued tasks (``shutdown`` would wait)."""
    processes = list((getattr(ex, "_processes", None) or {}).values())
    for proc in processes:
        proc.terminate()
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.join(timeout=1.0)


def _runs_frame(
    protocol: Protocol,
    label: str,
    algo: SearchAlgorithm,
    recs: list[RunRecord],
    evaluator: Any,
) -> pd.DataFrame:
    best = np.array([r.best for r in recs], dtype=np.int64)
    tests = evaluator.values(best)
    best_col = pd.array(best, dtype="Int64")
    best_col[best < 0] = pd.NA  # nullable: a run that never got a value has no incumbent
    parts = []
    for k, key in enumerate(evaluator.keys):
        parts.append(
            pd.DataFrame(
                {
                    "protocol": protocol.name,
                    "algorithm": label,
                    "algo": algo.name,
                    "run": [r.run for r in recs],
                    "dataset": key.dataset,
                    "split": key.split,
                    "test": tests[k],
                    "best": best_col,
                    "score": [r.score for r in recs],
                    "queries": [r.queries for r in recs],
                    "seconds": [r.seconds for r in recs],
                    "free_queries": [r.free_queries for r in recs],
                    # every evaluation, charged or not, so no comparison hides a difference
                    "evaluations": [r.evaluations for r in recs],
                    "free_seconds": [r.free_seconds for r in recs],
                    "total_seconds": [r.seconds + r.free_seconds for r in recs],
                    "optimistic": protocol.optimistic,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _curves_frame(
    protocol: Protocol,
    label: str,
    recs: list[RunRecord],
    evaluator: Any,
    points: int,
) -> pd.DataFrame:
    if protocol.budget_seconds is not None:
        unit, col = "seconds", 0
        grid = np.linspace(0.0, protocol.budget_seconds, points)
    else:
        unit, col = "queries", 1
        grid = np.unique(np.linspace(0, float(protocol.budget_queries or 0), points).round())
    inc = np.full((len(recs), grid.size), -1, dtype=np.int64)
    for r, rec in enumerate(recs):
        if not rec.changes:
            continue
        t = np.array([c[col] for c in rec.changes], dtype=np.float64)
        idx = np.array([c[2] for c in rec.changes], dtype=np.int64)
        pos = np.searchsorted(t, grid, side="right") - 1
        inc[r] = np.where(pos >= 0, idx[np.maximum(pos, 0)], -1)
    vals = evaluator.values(inc.ravel()).reshape(len(evaluator.keys), len(recs), grid.size)
    parts = []
    for k, key in enumerate(evaluator.keys):
        v = vals[k]
        n = (~np.isnan(v)).sum(axis=0)
        with np.errstate(all="ignore"):
            mean = np.where(n > 0, np.nansum(v, axis=0) / np.maximum(n, 1), np.nan)
            dev = np.where(np.isnan(v), 0.0, v - mean[None, :])
            std = np.where(n > 1, np.sqrt((dev**2).sum(axis=0) / np.maximum(n - 1, 1)), np.nan)
        parts.append(
            pd.DataFrame(
                {
                    "protocol": protocol.name,
                    "algorithm": label,
                    "dataset": key.dataset,
                    "split": key.split,
                    "x_unit": unit,
                    "x": grid,
                    "mean": mean,
                    "std": std,
                    "n": n,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
