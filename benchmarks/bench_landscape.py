"""Timings of the landscape layer on the whole NB201 space (not a test; prints numbers).

Usage: ``python benchmarks/bench_landscape.py [--table PATH] [--dataset D --split S --epochs E]``
(default: the embedded table, cifar10 ori-test 200-epoch accuracy).

"Cold" builds a fresh :class:`Space` (empty cache: neighbour index arrays built inside the
timing); "warm" reuses the cached arrays (best of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from nb201_flat import landscape as ls
from nb201_flat.space import Space
from nb201_flat.storage import load_table


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", default=None)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--split", default="ori-test")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    table = load_table(args.table)
    v = table.vector(args.dataset, args.split, args.epochs)
    print(f"table: {table.source}; {args.dataset}/{args.split}@{args.epochs}; {len(v)} archs")

    print("\nall-architecture aggregates (seconds)")
    print(
        f"{'radius':>6} {'width':>6} {'nbhd cold':>10} {'mean cold':>10} {'mean warm':>10} "
        f"{'median warm':>12} {'q25 warm':>9} {'flatness warm':>14}"
    )
    for r in (1, 2, 3):
        t_nb = timed(partial(Space().neighbours, r))  # fresh space: empty cache
        space = Space()
        t_cold = timed(partial(ls.neighbourhood_score, space, v, r))
        t_mean = timed(partial(ls.neighbourhood_score, space, v, r), args.repeat)
        t_med = timed(partial(ls.neighbourhood_score, space, v, r, agg="median"), args.repeat)
        t_q = timed(
            partial(ls.neighbourhood_score, space, v, r, agg="quantile", quantile=0.25),
            args.repeat,
        )
        t_flat = timed(partial(ls.flatness, space, v, r), args.repeat)
        width = space.neighbours(r).width
        print(
            f"{r:>6} {width:>6} {t_nb:>10.3f} {t_cold:>10.3f} {t_mean:>10.3f} "
            f"{t_med:>12.3f} {t_q:>9.3f} {t_flat:>14.3f}"
        )

    space = Space()
    print("\nlowest-barrier paths")
    t_tree_cold = timed(lambda: ls.barrier_tree(space, v))
    t_tree = timed(lambda: ls.barrier_tree(space, v), args.repeat)
    tree = ls.barrier_tree(space, v)
    print(
        f"precomputation (maximum spanning forest): cold {t_tree_cold:.3f} s, "
        f"warm {t_tree:.3f} s; tree depth {int(tree.depth.max())}"
    )
    rng = np.random.default_rng(0)
    pairs = rng.integers(space.size, size=(1000, 2)).tolist()
    for shortest in (False, True):
        times = []
        for a, b in pairs if not shortest else pairs[:200]:
            t0 = time.perf_counter()
            tree.path(a, b, shortest=shortest)
            times.append(time.perf_counter() - t0)
        print(
            f"query{' (fewest steps)' if shortest else ''}: median "
            f"{1e3 * statistics.median(times):.3f} ms, max {1e3 * max(times):.3f} ms "
            f"over {len(times)} random pairs"
        )

    top = np.argsort(-np.where(np.isnan(v), -np.inf, v))[:100].tolist()
    print(f"barrier matrix, top 100 (lowest): {timed(lambda: tree.matrix(top)):.3f} s")
    print(f"disconnectivity graph, 50 best optima: {timed(lambda: tree.disconnectivity(50)):.3f} s")
    print(
        f"A²M barrier (d=3, 6 paths): {1e3 * timed(lambda: ls.a2m_barrier(space, v, 81, 1459), 20):.3f} ms"
    )
    census_row(space, v, args.dataset)

    print("\nstatistics")
    print(f"local optima + basins: {timed(lambda: ls.basins(space, v), args.repeat):.3f} s")
    print(
        f"correlation length (10,000-step walk): "
        f"{timed(lambda: ls.correlation_length(space, v, seed=0), args.repeat):.3f} s"
    )
    print(
        f"fitness-distance correlation: "
        f"{timed(lambda: ls.fitness_distance_correlation(space, v), args.repeat):.3f} s"
    )
    print(
        f"A²M neighbour distributions, radii 1-3: "
        f"{timed(lambda: ls.neighbour_distributions(space, v, 'cifar10')):.3f} s"
    )
    print(
        f"projection grid 41 x 41: "
        f"{timed(lambda: ls.projection_grid(space, v, 11472, seed=0), args.repeat):.3f} s"
    )


def census_row(space: Space, v: np.ndarray, dataset: str, n_pairs: int = 5000) -> None:
    """The barrier census (whole columns per distance) against the same pairs one at a time
    (BarrierTree.pair_barriers, as the census computed them before), one run, same numbers."""
    from nb201_flat.landscape.census import CENSUS_COLUMNS, TIE, barrier_census

    bands = dataset if dataset in ls.A2M_BANDS else {"all": (-np.inf, np.inf)}
    df = barrier_census(space, v, bands, n_pairs=n_pairs, top_k=0, seed=0)
    t_census = timed(lambda: barrier_census(space, v, bands, n_pairs=n_pairs, top_k=0, seed=0))
    tree = ls.barrier_tree(space, v)
    pairs = df[["a", "b"]].to_numpy().tolist()

    def one_by_one() -> list[dict[str, Any]]:
        rows = []
        for a, b in pairs:
            r = tree.pair_barriers(a, b)
            rows.append({**r.to_dict(), "no_barrier": bool(r.above_worse("lowest") <= TIE)})
        return rows

    t0 = time.perf_counter()
    rows = one_by_one()
    t_loop = time.perf_counter() - t0
    same = all(df[c].tolist() == [r[c] for r in rows] for c in CENSUS_COLUMNS if c != "group")
    print(
        f"barrier census, {len(df):,} pairs ({n_pairs:,} per band, distance 3): "
        f"{1e3 * t_census / len(df):.3f} ms/pair (tree and draw included) vs "
        f"{1e3 * t_loop / len(df):.3f} ms/pair one pair at a time (pair_barriers, "
        f"the census before); ratio {t_loop / t_census:.1f}x; same numbers: {same}"
    )


if __name__ == "__main__":
    main()
