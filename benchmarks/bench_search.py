"""Timings of the search layer (not a test; prints numbers).

Usage: ``python benchmarks/bench_search.py [--table PATH] [--runs N] [--jobs J]``
(default table: ``$NB201_FLAT_TABLE``, else the embedded default, which has no time and no
validation split: then the ``fixed-n`` protocol is used and flagged optimistic).

Reports, per algorithm, milliseconds per run and queries per run under the ``nb201`` protocol
(or ``fixed-n``), then the wall time of the same batch with ``jobs`` processes.
"""

from __future__ import annotations

import argparse
import time

from nb201_flat.search import (
    LocalSearch,
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


if __name__ == "__main__":
    main()
