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
            "n": "`nb201-flat search --fixed-n`",
            "budget_scale": "`nb201-flat search --budget-scale`",
            "epochs": "`nb201-flat search --search-epochs`",
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
    out["benchmark"] = benchmark_statement(
        table.source, "--table PATH or $NB201_FLAT_TABLE", metrics=(k.metric for k in table)
    )
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
    print(f"metric: {out['key']} in %  ({out['measured']} archs measured)\n")
    size = table.space.neighbourhood_size(1, exact=True)  # NB201's 24; another space's own
    # a partly measured table: each neighbourhood's numbers are over its measured cells only
    partial = out["measured"] < out["archs"]
    of = f"{size} cells; nb n: how many of them are measured" if partial else f"{size} cells"
    print(f"best {len(out['best'])} by value (%), with their radius-1 neighbourhood ({of}):")
    if len(out["best"]) < args.top:
        print(f"  (only {out['measured']} architectures are measured; --top {args.top} asked)")
    n_head = f" {'nb n':>4}" if partial else ""
    print(f"  {'index':>6} {'value':>7} {'nb mean':>8} {'nb min':>7} {'sharp':>6}{n_head}  arch")
    print(f"  {sharp_legend('nb mean')}")
    for b in out["best"]:
        n_col = f" {b['n']:>4}" if partial else ""
        print(
            f"  {b['index']:>6} {b['value']:7.2f} {num(b['mean'], '.2f'):>8} "
            f"{num(b['min'], '.2f'):>7} {num(b['sharpness'], '.2f'):>6}{n_col}  {b['arch']}"
        )
    f = out["flattest_of_top_1pct"]
    # the pool as it is: the top 1 % less its unmeasured cells
    pool = f"top {f['pool']} of the {out['measured']} measured" if f and partial else "top 1 %"
    if f is None:
        print("\nflattest of the top 1 %: none of them has a measured radius-1 neighbour")
    else:
        over = f" (over {f['n']} of {size} measured)" if partial else ""
        print(
            f"\nflattest of the {pool}: {f['index']} value {f['value']:.2f} %, neighbourhood "
            f"mean {f['mean']:.2f} %{over}  {f['arch']}"
        )
        print(f"  (flattest = {f['meaning']})")
    print(f"median sharpness (value - radius-1 mean): {num(out['median_sharpness'], '.2f')} points")
    unjudged = out["local_optima_unjudged"]
    # cells with no measured neighbour are optima by default only: left out, and said
    left_out = (
        f" (of the measured cells with a measured neighbour; {unjudged:,} have none)"
        if unjudged
        else ""
    )
    print(
        f"fitness-distance correlation: {fdc_text(out['fitness_distance_correlation'])}; "
        f"local optima at radius 1: {out['local_optima']}{left_out}"
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
    print(  # search's words: the spread is no CI
        f"\nRS vs NA-RS, protocol {s['protocol']}, {s['runs']} paired runs "
        f"({s['wall_seconds']} s), final test value in %, mean ± std over runs:"
    )
    width = max((len(r["algorithm"]) for r in s["rows"]), default=0)
    for r in s["rows"]:
        # the whole reported key, as search prints it
        key = MetricKey(r["dataset"], r["split"], r["epochs"], r["metric"])
        spread = "" if math.isnan(r["std"]) else f" ± {r['std']:.2f}"  # one run: no std
        print(f"  {r['algorithm']:>{width}}  {key}: {num(r['mean'], '.2f')}{spread} (n={r['n']})")
    for p in s["paired_difference"]:
        print(
            f"  NA-RS - RS, paired by run, {p['dataset']}: {num(p['diff'], '+.2f')} points, "
            f"95 % bootstrap CI [{num(p['ci_lo'], '+.2f')}, {num(p['ci_hi'], '+.2f')}] (n={p['n']})"
        )
        if "caveat" in p:  # the caveat report.md gives a row of too few pairs
            print(f"    {p['caveat']}")
    for note in s["notes"]:
        print(f"  note: {note}")
    return 0
