"""CLI commands on the landscape: ``flatness`` and ``barrier``."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from nb201_flat.cli.common import add_json_arg, add_key_args, add_table_arg, emit_json, open_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "flatness",
        help="neighbourhood flatness of architectures",
        description="Per architecture: its value and the mean, min and std of its radius-R "
        "neighbourhood, and sharpness (value minus neighbourhood mean). Without --arch, the "
        "top K architectures by value.",
    )
    add_key_args(p)
    p.add_argument("--radius", type=int, default=1, help="Hamming radius (default 1)")
    p.add_argument(
        "--within",
        action="store_true",
        help="neighbours at distance 1..R instead of exactly R",
    )
    p.add_argument(
        "--include-self", action="store_true", help="count the arch in its own neighbourhood"
    )
    p.add_argument("--no-none", action="store_true", help="skip neighbours that substitute `none`")
    p.add_argument("--connected-only", action="store_true", help="skip disconnected neighbours")
    p.add_argument("--arch", nargs="+", metavar="A", help="official strings or indices")
    p.add_argument(
        "--top", type=int, default=10, metavar="K", help="without --arch: best K (default 10)"
    )
    _add_direction_arg(p)
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_flatness)

    p = sub.add_parser(
        "barrier",
        help="barrier between two architectures",
        description="Barrier between A and B: the mean of their values minus the lowest value "
        "on a path (mirror image for a loss). --method lowest (default): the exact lowest "
        "barrier over every path in the space; --method shortest: the best of the d! shortest "
        "Hamming paths, with A²M's level means and barrier.",
    )
    p.add_argument("a", help="official NB201 string or index")
    p.add_argument("b", help="official NB201 string or index")
    add_key_args(p)
    p.add_argument("--method", choices=("lowest", "shortest"), default="lowest")
    p.add_argument(
        "--tree-path",
        action="store_true",
        help="with --method lowest: the spanning-tree path (faster, may wander) instead of "
        "a lowest-barrier path with the fewest steps",
    )
    p.add_argument("--connected-only", action="store_true", help="only through connected cells")
    _add_direction_arg(p)
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_barrier)


def _add_direction_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lower-is-better",
        action="store_true",
        help="the metric is a loss (default: only when the metric's name ends in 'loss')",
    )


def _higher_is_better(args: argparse.Namespace) -> bool:
    return not (args.lower_is_better or str(args.metric).endswith("loss"))


def cmd_flatness(args: argparse.Namespace) -> int:
    from nb201_flat.landscape import LandscapeArgumentError, flatness

    if args.top < 1:
        raise LandscapeArgumentError(f"--top must be >= 1, got {args.top}")
    table = open_table(args)
    space = table.space
    values = table.vector(args.dataset, args.split, args.epochs, args.metric)
    cols = ["value", "n", "mean", "min", "std", "sharpness"]
    df = flatness(
        space,
        values,
        args.radius,
        exact=not args.within,
        include_self=args.include_self,
        no_none=args.no_none,
        connected_only=args.connected_only,
        columns=cols,
    )
    if args.arch:
        chosen = [space.resolve(a).index for a in args.arch]
    else:
        key = values if _higher_is_better(args) else -values
        key = np.where(np.isnan(key), -np.inf, key)
        chosen = np.lexsort((np.arange(space.size), -key))[: args.top].tolist()
    rows: list[dict[str, Any]] = []
    picked = df.loc[chosen, cols].to_numpy(dtype=np.float64)
    for i, rec in zip(chosen, picked.tolist(), strict=True):
        row: dict[str, Any] = {"index": int(i), "arch": space.arch(i).to_str()}
        row.update(zip(cols, rec, strict=True))
        row["n"] = int(row["n"])
        rows.append(row)
    neighbourhood = {
        "radius": args.radius,
        "exact": not args.within,
        "include_self": args.include_self,
        "no_none": args.no_none,
        "connected_only": args.connected_only,
    }
    if args.json:
        emit_json(
            {
                "dataset": args.dataset,
                "split": args.split,
                "epochs": args.epochs,
                "metric": args.metric,
                "neighbourhood": neighbourhood,
                "archs": rows,
                "source": table.source,
            }
        )
        return 0
    kind = f"{'<=' if args.within else '='}{args.radius}"
    print(f"{args.dataset}/{args.split}@{args.epochs} {args.metric}; neighbours at distance {kind}")
    print(
        f"{'index':>6} {'value':>9} {'n':>5} {'mean':>9} {'min':>9} {'std':>8} {'sharp':>8}  arch"
    )
    for r in rows:
        print(
            f"{r['index']:>6} {r['value']:>9.4f} {r['n']:>5} {r['mean']:>9.4f} {r['min']:>9.4f} "
            f"{r['std']:>8.4f} {r['sharpness']:>8.4f}  {r['arch']}"
        )
    return 0


def cmd_barrier(args: argparse.Namespace) -> int:
    from nb201_flat.landscape import a2m_barrier, best_shortest_path, lowest_barrier_path

    table = open_table(args)
    space = table.space
    a, b = space.resolve(args.a), space.resolve(args.b)
    values = table.vector(args.dataset, args.split, args.epochs, args.metric)
    hib = _higher_is_better(args)
    payload: dict[str, Any] = {
        "a": a.to_str(),
        "b": b.to_str(),
        "distance": a.hamming(b),
        "method": args.method,
        "dataset": args.dataset,
        "split": args.split,
        "epochs": args.epochs,
        "metric": args.metric,
        "higher_is_better": hib,
    }
    if args.method == "lowest":
        path = lowest_barrier_path(
            space,
            values,
            a,
            b,
            higher_is_better=hib,
            connected_only=args.connected_only,
            shortest=not args.tree_path,
        )
    else:
        path = best_shortest_path(space, values, a, b, higher_is_better=hib)
        text = a2m_barrier(space, values, a, b, higher_is_better=hib)
        code = a2m_barrier(space, values, a, b, higher_is_better=hib, published=True)
        payload["a2m"] = {
            "level_mean": text.level_mean,
            "level_std": text.level_std,
            "barrier": text.barrier,
            "barrier_published_code": code.barrier,
            "n_paths": text.n_paths,
        }
    payload.update(path.to_dict())
    payload["source"] = table.source
    if args.json:
        emit_json(payload)
        return 0
    print(
        f"{args.method} barrier {path.barrier:.4f} over {path.length} steps "
        f"(worst value {path.bottleneck:.4f}; {args.dataset}/{args.split}@{args.epochs} "
        f"{args.metric})"
    )
    for idx, s, v in zip(path.path, path.strings(), path.values.tolist(), strict=True):
        print(f"{idx:>6} {v:>9.4f}  {s}")
    if "a2m" in payload:
        m: dict[str, Any] = payload["a2m"]
        means = " ".join(f"{x:.4f}" for x in m["level_mean"])
        print(
            f"A²M over {m['n_paths']} shortest paths: level means {means}; barrier "
            f"{m['barrier']:.4f} (published code: {m['barrier_published_code']:.2f})"
        )
    return 0
