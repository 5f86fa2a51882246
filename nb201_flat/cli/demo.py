"""``nb201-flat demo``: a short landscape summary of a table (the embedded default unless told).

It shows what the toolkit is for in a few seconds: the best architectures and how flat their
radius-1 neighbourhoods are, how the landscape is organised (fitness-distance correlation,
local optima, the lowest barrier between the two best basins), and a quick paired comparison
of random search and neighbourhood-aware random search under a protocol the table supports.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from nb201_flat.cli.common import add_json_arg, add_table_arg, emit_json, open_table
from nb201_flat.conventions import default_metric
from nb201_flat.table import MetricKey, Table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="a short landscape summary of a table")
    add_table_arg(p)
    p.add_argument("--top", type=int, default=5, help="architectures to list (default 5)")
    p.add_argument("--runs", type=int, default=200, help="search runs per algorithm (default 200)")
    p.add_argument("--seed", type=int, default=0, help="master seed of the searches")
    add_json_arg(p)
    p.set_defaults(func=cmd_demo)


def _summary_key(table: Table) -> MetricKey:
    return default_metric(table)


def demo_summary(table: Table, *, top: int = 5, runs: int = 200, seed: int = 0) -> dict[str, Any]:
    """Everything the demo prints, as a JSON-able dict."""
    from nb201_flat.landscape import (
        barrier_tree,
        fitness_distance_correlation,
        flatness,
        local_optima,
    )
    from nb201_flat.neighbourhood import NA_PAPER
    from nb201_flat.search import (
        NARandomSearch,
        NeighbourObjective,
        ProtocolError,
        RandomSearch,
        SearchAlgorithm,
        protocols_by_name,
        run_search,
    )

    space = table.space
    key = _summary_key(table)
    values = table.vector_for(key)
    flat = flatness(space, values, radius=1)
    col = {c: flat[c].to_numpy() for c in ("mean", "min", "sharpness")}
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:top]
    best = [
        {
            "index": int(i),
            "arch": space.arch(int(i)).to_str(),
            "value": float(values[i]),
            "nbhd_mean": float(col["mean"][i]),
            "nbhd_min": float(col["min"][i]),
            "sharpness": float(col["sharpness"][i]),
        }
        for i in order
    ]
    # among the top 1 %, the flattest (highest neighbourhood mean) is the NA paper's pick
    k = max(1, space.size // 100)
    top_pool = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:k]
    flattest = int(top_pool[np.nanargmax(col["mean"][top_pool])])
    optima = local_optima(space, values)
    tree = barrier_tree(space, values)
    path = tree.path(int(order[0]), int(order[1])) if len(order) > 1 else None
    fdc = fitness_distance_correlation(space, values)

    t0 = time.perf_counter()
    algorithms: dict[str, SearchAlgorithm] = {
        "RS": RandomSearch(),
        "NA-RS": NARandomSearch(NeighbourObjective(NA_PAPER)),
    }
    try:  # the NB201 paper's protocol where the table has what it needs
        protocols = protocols_by_name("nb201", table)
        res = run_search(table, protocols, algorithms, runs=runs, seed=seed)
    except ProtocolError:  # e.g. the embedded default: no validation split, no time
        protocols = protocols_by_name("fixed-n", table, n=100)
        res = run_search(table, protocols, algorithms, runs=runs, seed=seed)
    summary = res.summary()
    search_s = time.perf_counter() - t0
    return {
        "table": table.source,
        "metric": str(key),
        "archs": space.size,
        "measured": int((~np.isnan(values)).sum()),
        "best": best,
        "flattest_of_top_1pct": {
            "index": flattest,
            "arch": space.arch(flattest).to_str(),
            "value": float(values[flattest]),
            "nbhd_mean": float(col["mean"][flattest]),
        },
        "median_sharpness": float(np.nanmedian(flat["sharpness"])),
        "fitness_distance_correlation": float(fdc),
        "local_optima": int(optima.sum()),
        "barrier_best_two": None
        if path is None
        else {"barrier": path.barrier, "length": path.length, "bottleneck": path.bottleneck},
        "search": {
            "protocol": protocols[0].name,
            "runs": runs,
            "seconds": round(search_s, 2),
            "rows": summary[["algorithm", "dataset", "split", "mean", "std", "n"]].to_dict(
                orient="records"
            ),
            "notes": list(res.notes),
        },
    }


def cmd_demo(args: argparse.Namespace) -> int:
    from nb201_flat.errors import ArgumentError

    if args.top < 1 or args.runs < 1:
        raise ArgumentError(
            f"--top and --runs must be >= 1, got --top {args.top} --runs {args.runs}"
        )
    t0 = time.perf_counter()
    table = open_table(args)
    load_s = time.perf_counter() - t0
    out = demo_summary(table, top=args.top, runs=args.runs, seed=args.seed)
    out["load_seconds"] = round(load_s, 3)
    if args.json:
        emit_json(out)
        return 0
    print(f"table: {out['table']} ({out['archs']} archs, loaded in {load_s:.2f} s)")
    print(f"metric: {out['metric']}  ({out['measured']} archs measured)\n")
    print(f"best {len(out['best'])} by value, with their radius-1 neighbourhood (24 cells):")
    print(f"  {'index':>6} {'value':>7} {'nb mean':>8} {'nb min':>7} {'sharp':>6}  arch")
    for b in out["best"]:
        print(
            f"  {b['index']:>6} {b['value']:7.2f} {b['nbhd_mean']:8.2f} {b['nbhd_min']:7.2f} "
            f"{b['sharpness']:6.2f}  {b['arch']}"
        )
    f = out["flattest_of_top_1pct"]
    print(
        f"\nflattest of the top 1 %: {f['index']} value {f['value']:.2f}, neighbourhood mean "
        f"{f['nbhd_mean']:.2f}  {f['arch']}"
    )
    print(f"median sharpness (value - radius-1 mean): {out['median_sharpness']:.2f}")
    print(
        f"fitness-distance correlation: {out['fitness_distance_correlation']:.3f}; "
        f"local optima at radius 1: {out['local_optima']}"
    )
    if out["barrier_best_two"]:
        b = out["barrier_best_two"]
        print(f"lowest barrier between the two best: {b['barrier']:.3f} over {b['length']} steps")
    s = out["search"]
    print(f"\nRS vs NA-RS, protocol {s['protocol']}, {s['runs']} paired runs ({s['seconds']} s):")
    for r in s["rows"]:
        print(
            f"  {r['algorithm']:>6}  {r['dataset']}/{r['split']}: {r['mean']:.2f} +- {r['std']:.2f} "
            f"(n={r['n']})"
        )
    for note in s["notes"]:
        print(f"  note: {note}")
    return 0
