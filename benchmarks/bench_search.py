"""Timings of the search layer (not a test; prints numbers).

Usage: ``python benchmarks/bench_search.py [--table PATH] [--runs N] [--jobs J]``
(default table: ``$NB201_FLAT_TABLE``, else the embedded default, which has no time and no
validation split: then the ``fixed-n`` protocol is used and flagged optimistic).

Reports, per algorithm, milliseconds per run and queries per run under the ``nb201`` protocol
(or ``fixed-n``), then the wall time of the same batch with ``jobs`` processes, then (issue 16)
each algorithm's runs all at once (:mod:`nb201_flat.search.vectorised`, ``.lockstep``) against
the per-run loop (:func:`~nb201_flat.search.runner.run_one`), the records checked identical,
with the ratio loop / batched (``--batched-runs``, default 500).
"""

from __future__ import annotations

import argparse
import time

from nb201_flat.search import (
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    ProtocolError,
    RandomSearch,
    RegularizedEvolution,
    SearchAlgorithm,
    fixed_n_protocols,
    nb201_protocol,
    run_search,
)
from nb201_flat.search.protocol import Protocol
from nb201_flat.storage import load_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", default=None)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--batched-runs", type=int, default=500)
    ap.add_argument("--only-batched", action="store_true", help="only the batched-vs-loop rows")
    args = ap.parse_args()
    table = load_table(args.table)
    protocol: Protocol = nb201_protocol()
    try:
        protocol.check(table)
    except ProtocolError:
        protocol = fixed_n_protocols(table, 110)[0]
    print(f"table: {table.source}\nprotocol: {protocol.describe()}\nruns: {args.runs}\n")
    algos: dict[str, SearchAlgorithm] = {
        "rs": RandomSearch(),
        "na-rs r1 free": NARandomSearch(NeighbourObjective(radius=1)),
        "na-rs r2 free": NARandomSearch(NeighbourObjective(radius=2)),
        "na-rs r1 charged": NARandomSearch(NeighbourObjective(charge=True)),
        "na-rs2 top10": NARandomSearch(NeighbourObjective(), rerank_top_k=10),
        "rea": RegularizedEvolution(),
        "na-rea r1 free": RegularizedEvolution(objective=NeighbourObjective()),
        "ls": LocalSearch(),
        "na-ls r1 free": LocalSearch(objective=NeighbourObjective()),
    }
    run_search(table, protocol, RandomSearch(), runs=2)  # warm the neighbour caches
    for r in (1, 2):
        table.space.neighbours(r, exact=False)
    batched_vs_loop(table, protocol, algos, args.batched_runs)
    if args.only_batched:
        return
    print(f"{'algorithm':<18} {'ms/run':>8} {'queries':>8} {'free':>8} {'mean test':>10}")
    for label, algo in algos.items():
        t0 = time.perf_counter()
        res = run_search(table, protocol, algo, runs=args.runs, seed=0)
        ms = (time.perf_counter() - t0) / args.runs * 1e3
        s = res.summary().iloc[0]
        print(
            f"{label:<18} {ms:8.2f} {s['queries']:8.1f} {s['free_queries']:8.1f} {s['mean']:10.2f}"
        )
    for jobs in sorted({1, args.jobs}):
        t0 = time.perf_counter()
        run_search(table, protocol, algos, runs=args.runs, seed=0, jobs=jobs)
        print(f"all algorithms, jobs={jobs}: {time.perf_counter() - t0:.2f} s")


def batched_vs_loop(
    table: object, protocol: Protocol, algos: dict[str, SearchAlgorithm], runs: int
) -> None:
    """Each algorithm's ``runs`` runs at once against the per-run loop (same records)."""
    from nb201_flat.search import vectorised
    from nb201_flat.search.runner import run_one

    data = protocol.oracle_data(table)  # type: ignore[arg-type]
    extra: dict[str, SearchAlgorithm] = {
        "na-rs-best r1 free": NABestEvaluatedSearch(NeighbourObjective()),
        "na-rs-best r1 charged": NABestEvaluatedSearch(NeighbourObjective(charge=True)),
        "na-rs2 top10 charged": NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=10),
    }
    print(f"\nbatched vs loop, {runs} runs ({protocol.name}):")
    print(f"{'algorithm':<22} {'loop s':>8} {'batched s':>10} {'ratio':>7}")
    for label, algo in {**algos, **extra}.items():
        if not vectorised.batched_ok(data, algo):
            print(f"{label:<22} {'loop only under this protocol':>27}")
            continue
        vectorised.run_batched(data, algo, 0, range(2))  # warm the neighbour/score caches
        t0 = time.perf_counter()
        fast = vectorised.run_batched(data, algo, 0, range(runs))
        t1 = time.perf_counter()
        loop = [run_one(data, algo, 0, r) for r in range(runs)]
        t2 = time.perf_counter()
        if fast != loop:
            raise SystemExit(f"{label}: batched records differ from the loop's")
        print(f"{label:<22} {t2 - t1:8.2f} {t1 - t0:10.2f} {(t2 - t1) / (t1 - t0):6.1f}x")


if __name__ == "__main__":
    main()
