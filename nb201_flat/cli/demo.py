"""``nb201-flat demo``: a short landscape summary of a table (the embedded default unless told).

It shows what the toolkit is for in a few seconds: the best architectures and how flat their
radius-1 neighbourhoods are, how the landscape is organised (fitness-distance correlation,
local optima, the lowest barrier between the two best basins), and a quick paired comparison
of random search and neighbourhood-aware random search under a protocol the table supports.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from nb201_flat.cli.common import (
    add_json_arg,
    add_table_arg,
    emit_json,
    error_line,
    num,
    open_table,
    parse_int,
)
from nb201_flat.table import MetricKey, Table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="a short landscape summary of a table")
    add_table_arg(p)
    p.add_argument("--top", type=parse_int, default=5, help="architectures to list (default 5)")
    p.add_argument(
        "--runs", type=parse_int, default=200, help="search runs per algorithm (default 200)"
    )
    p.add_argument("--seed", type=parse_int, default=0, help="master seed of the searches")
    add_json_arg(p)
    # the demo runs searches it takes no budget for: the fix is a search of one's own
    p.set_defaults(
        func=cmd_demo,
        param_elsewhere={
            "n": "`nb201-flat search --n`",
            "budget_scale": "`nb201-flat search --budget-scale`",
            "epochs": "`nb201-flat search --epochs`",
        },
    )


def demo_summary(
    table: Table,
    *,
    top: int = 5,
    runs: int = 200,
    seed: int = 0,
    parser: argparse.ArgumentParser | None = None,
    args: argparse.Namespace | None = None,
) -> dict[str, Any]:
    """Everything the demo prints, as a JSON-able dict (:func:`nb201_flat.demo.run_demo`)."""
    from nb201_flat.demo import benchmark_statement, run_demo

    res = run_demo(table, top=top, runs=runs, seed=seed)
    out = res.as_dict()
    # the command's own way to an imported table (the library's names load_table)
    out["benchmark"] = benchmark_statement(table.source, "--table PATH or $NB201_FLAT_TABLE")
    if res.search_skipped is not None and parser is not None and args is not None:
        # why no search ran, its fix spelled as the command's flags (--table, not table)
        out["search"]["skipped"] = error_line(res.search_skipped, parser, args)
    return out


def fdc_text(fdc: float) -> str:
    """The demo's FDC as printed: ``undefined`` where the metric does not define one (every
    measured value equal, one measured cell), said in words rather than as a ``-`` or ``nan``.

    >>> fdc_text(-0.4123), fdc_text(float("nan"))
    ('-0.412', 'undefined (every measured value equal, or only one measured)')
    """
    return (
        "undefined (every measured value equal, or only one measured)"
        if math.isnan(fdc)
        else num(fdc, ".3f")
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from nb201_flat.cli.landscape import sharp_legend
    from nb201_flat.errors import check_int_range, check_seed
    from nb201_flat.search.runner import check_runs
    from nb201_flat.search.statistics import FEW_PAIRS_CAVEAT, MIN_RUNS_VERDICT

    check_int_range("--top", args.top, 1)
    # the runner's bound, before any work; the demo prints a confidence interval
    check_runs(args.runs, "--runs", ci=True)
    check_seed(args.seed, "--seed")
    t0 = time.perf_counter()
    table = open_table(args)
    load_s = time.perf_counter() - t0
    out = demo_summary(
        table, top=args.top, runs=args.runs, seed=args.seed, parser=args.parser, args=args
    )
    out["load_seconds"] = round(load_s, 3)
    if args.json:
        emit_json(out)
        return 0
    print(f"benchmark: {out['benchmark']}")
    print(f"({out['archs']} archs, loaded in {load_s:.2f} s)")
    print(f"metric: {out['metric']} in %  ({out['measured']} archs measured)\n")
    size = table.space.neighbourhood_size(1, exact=True)  # NB201's 24; another space's own
    print(
        f"best {len(out['best'])} by value (%), with their radius-1 neighbourhood ({size} cells):"
    )
    if len(out["best"]) < args.top:
        print(f"  (only {out['measured']} architectures are measured; --top {args.top} asked)")
    print(f"  {'index':>6} {'value':>7} {'nb mean':>8} {'nb min':>7} {'sharp':>6}  arch")
    print(f"  {sharp_legend('nb mean')}")
    for b in out["best"]:
        print(
            f"  {b['index']:>6} {b['value']:7.2f} {num(b['nbhd_mean'], '.2f'):>8} "
            f"{num(b['nbhd_min'], '.2f'):>7} {num(b['sharpness'], '.2f'):>6}  {b['arch']}"
        )
    f = out["flattest_of_top_1pct"]
    if f is None:
        print("\nflattest of the top 1 %: none of them has a measured radius-1 neighbour")
    else:
        print(
            f"\nflattest of the top 1 %: {f['index']} value {f['value']:.2f} %, neighbourhood "
            f"mean {f['nbhd_mean']:.2f} %  {f['arch']}"
        )
        print(f"  (flattest = {f['meaning']})")
    print(f"median sharpness (value - radius-1 mean): {num(out['median_sharpness'], '.2f')} points")
    print(
        f"fitness-distance correlation: {fdc_text(out['fitness_distance_correlation'])}; "
        f"local optima at radius 1: {out['local_optima']}"
    )
    if out["barrier_best_two"]:
        b = out["barrier_best_two"]
        # an upper bound where the path had to avoid unmeasured cells (a note says why)
        n = b["unmeasured"]
        cells = f"{n:,} cell{'' if n == 1 else 's'}"
        bound = f" (an upper bound: {cells} unmeasured)" if b["upper_bound"] else ""
        print(
            f"lowest barrier between the two best: {b['barrier']:.3f} points "
            f"over {b['length']} steps{bound}"
        )
    if "stand_ins" in out:
        print(f"  note: {out['stand_ins']['note']}")
    s = out["search"]
    if "skipped" in s:
        print(f"\nRS vs NA-RS: not run: {s['skipped']}")
        for note in s["notes"]:
            print(f"  note: {note}")
        return 0
    print(
        f"\nRS vs NA-RS, protocol {s['protocol']}, {s['runs']} paired runs ({s['seconds']} s), "
        "final test value in %, mean ± std over runs:"  # search's words: the spread is no CI
    )
    for r in s["rows"]:
        # the whole reported key, as search prints it
        key = MetricKey(r["dataset"], r["split"], r["epochs"], r["metric"])
        spread = "" if math.isnan(r["std"]) else f" ± {r['std']:.2f}"  # one run: no std
        print(f"  {r['algorithm']:>6}  {key}: {num(r['mean'], '.2f')}{spread} (n={r['n']})")
    for p in s["paired_difference"]:
        lo, hi = p["ci95"]
        print(
            f"  NA-RS - RS, paired by run, {p['dataset']}: {num(p['mean'], '+.2f')} points, "
            f"95 % bootstrap CI [{num(lo, '+.2f')}, {num(hi, '+.2f')}] (n={p['n']})"
        )
        if p["n"] < MIN_RUNS_VERDICT:  # the caveat report.md gives such a row
            print(f"    fewer than {MIN_RUNS_VERDICT} pairs: {FEW_PAIRS_CAVEAT}")
    for note in s["notes"]:
        print(f"  note: {note}")
    return 0
