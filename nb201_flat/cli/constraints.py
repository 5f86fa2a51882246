"""CLI command ``constrained``: best architectures under a cost limit, or the Pareto front.

Examples (shell)::

    nb201-flat constrained --dataset cifar100 --split x-valid --epochs 200 \\
        --cost params_mb --max-cost 0.5 --top 5
    nb201-flat constrained --dataset cifar100 --split x-valid --epochs 200 \\
        --cost flops_m_analytic --pareto --json
"""

from __future__ import annotations

import argparse
from typing import Any

from nb201_flat.cli.common import (
    add_direction_arg,
    add_json_arg,
    add_table_arg,
    direction_words,
    emit_json,
    higher_is_better,
    open_table,
    parse_float,
    parse_int,
    seed_fields,
    seed_words,
    value_text,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from nb201_flat.conventions import COST_METRICS

    p = sub.add_parser(
        "constrained",
        help="best architectures under a cost limit (params, FLOPs, latency), or the Pareto front",
        description="The best architectures by a metric among those whose cost is at most "
        "--max-cost, or (--pareto) the accuracy/cost Pareto front.",
    )
    p.add_argument("--dataset", required=True, help="e.g. cifar10-valid, cifar100")
    p.add_argument("--split", required=True, help="e.g. x-valid, x-test, ori-test")
    p.add_argument("--epochs", type=parse_int, required=True, help="schedule: 200 or 12")
    p.add_argument("--metric", default="accuracy", help="default: accuracy")
    p.add_argument(
        "--cost",
        required=True,
        help=f"cost metric: {', '.join(COST_METRICS)} (analytic ones need no stored column)",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--max-cost", type=parse_float, help="keep archs with cost <= this")
    what.add_argument("--pareto", action="store_true", help="print the Pareto front instead")
    p.add_argument(
        "--top", type=parse_int, default=None, help="how many (with --max-cost; default 1)"
    )
    add_direction_arg(p)
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_constrained)


def cmd_constrained(args: argparse.Namespace) -> int:
    from nb201_flat.constraints import (
        ConstraintError,
        analytic_for,
        best_under,
        cost_text,
        pareto_front,
    )
    from nb201_flat.errors import check_float_range, check_int_range

    if args.pareto and args.top is not None:
        raise ConstraintError("--top applies to --max-cost, not to --pareto; drop it")
    if not args.pareto:  # named by their flags, before the table is read
        check_float_range("--max-cost", args.max_cost, fix="give a cost limit such as 0.5")
        if args.top is not None:
            check_int_range("--top", args.top, 1)
    table = open_table(args)
    mkey = table.key(args.dataset, args.split, args.epochs, args.metric)  # an unknown one first
    hib = higher_is_better(args)
    common: dict[str, Any] = {"cost": args.cost, "metric": args.metric, "higher_is_better": hib}
    if args.pareto:
        df = pareto_front(table, args.dataset, args.split, args.epochs, **common)
    else:
        df = best_under(
            table,
            args.dataset,
            args.split,
            args.epochs,
            max_cost=args.max_cost,
            top=1 if args.top is None else args.top,
            **common,
        )
    # cells with the metric but no stored cost never qualify: said, as the answer may then
    # not be the best cell (its cost unknown), which an analytic cost would rank
    unpriced = int(df.attrs.get("unpriced", 0))
    notes = (
        [
            f"{unpriced} cell{'s' if unpriced != 1 else ''} with a measured {args.metric} "
            f"{'have' if unpriced != 1 else 'has'} no stored {args.cost} and "
            f"{'were' if unpriced != 1 else 'was'} left out; "
            + " or ".join(f"--cost {c}" for c in analytic_for(args.cost).split(" or "))
            + " covers every cell"
        ]
        if unpriced
        else []
    )
    # cells never measured under the key are not ranked either: the answer is the best of
    # the measured ones (a sparse or retraining table), which a reader must be told
    unmeasured = int(df.attrs.get("unmeasured", 0))
    if unmeasured:
        notes.append(
            f"{unmeasured} of {table.space.size} cells "
            f"{'have' if unmeasured != 1 else 'has'} no measured {args.metric} under "
            f"{args.dataset}/{args.split}@{args.epochs} and {'were' if unmeasured != 1 else 'was'}"
            " left out: the answer is the best of the measured cells"
        )
    rows = [
        {"index": int(i), "arch": str(a), "value": float(v), "cost": float(c)}
        for i, a, v, c in zip(
            df["index"].to_numpy(),
            df["arch"].to_numpy(),
            df["value"].to_numpy(dtype=float),
            df["cost"].to_numpy(dtype=float),
            strict=True,
        )
    ]
    if args.json:
        emit_json(
            {
                "dataset": args.dataset,
                "split": args.split,
                "epochs": args.epochs,
                "metric": args.metric,
                "higher_is_better": hib,
                **seed_fields(table, mkey),
                # the cost metric's name; each row's "cost" is its value
                "cost_metric": args.cost,
                "max_cost": None if args.pareto else args.max_cost,
                "pareto": bool(args.pareto),
                "rows": rows,
                "left_out_without_cost": unpriced,
                "left_out_unmeasured": unmeasured,
                "notes": notes,
                "source": table.source,
            }
        )
        return 0
    # costs and the limit as Python prints them: a printed cost given back as --max-cost
    # keeps its cell (6 digits printed 86.42625 as 86.4262, which left it out)
    head = "Pareto front" if args.pareto else f"best with {args.cost} <= {cost_text(args.max_cost)}"
    # the direction, where not the metric's own (as flatness says it): "best" under
    # --lower-is-better on an accuracy is its lowest
    way = direction_words(args)
    print(
        f"{head} ({args.dataset}/{args.split}@{args.epochs} {args.metric}; "
        f"{seed_words(table, mkey)}{f'; {way}' if way else ''}):"
    )
    for row in rows:  # best_under and pareto_front never return unmeasured archs
        value: Any = row["value"]
        cost: Any = row["cost"]
        print(
            f"{row['index']:>6}  {value_text(float(value)):>9}  "
            f"{args.cost}={cost_text(cost)}  {row['arch']}"
        )
    for note in notes:
        print(f"note: {note}")
    return 0
