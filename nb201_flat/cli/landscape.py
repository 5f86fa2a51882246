"""CLI commands on the landscape: ``flatness``, ``barrier`` and ``census``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nb201_flat.cli.common import (
    add_direction_arg,
    add_json_arg,
    add_key_args,
    add_neighbourhood_args,
    add_renamed_flag,
    add_table_arg,
    check_cells_once,
    check_outside_table,
    direction_words,
    emit_json,
    higher_is_better,
    neighbourhood_from_args,
    neighbourhood_words,
    open_table,
    parse_int,
    seed_fields,
    seed_words,
    spell,
    value_text,
)
from nb201_flat.errors import (
    LandscapeArgumentError,
    MissingValueError,
    check_seed,
    parts_of,
    spelled,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from nb201_flat.neighbourhood import Neighbourhood

    p = sub.add_parser(
        "flatness",
        help="neighbourhood flatness of architectures",
        description="Per architecture: its value and the mean, min and std of its radius-R "
        "neighbourhood (population std, over at least two measured neighbours: - with one), "
        "and sharpness (value minus neighbourhood mean). Without --arch, the "
        "top K architectures by value. With --agg, also the chosen aggregate g as `score`. "
        "--sort-by orders the rows and --limit keeps the first N: the flattest of the top 100 "
        "is `--top 100 --sort-by mean --limit 1`.",
    )
    add_key_args(p)
    add_neighbourhood_args(p, default=Neighbourhood())  # what neighbourhood_from_args builds on
    p.add_argument(
        "--arch",
        nargs="+",
        action="extend",
        metavar="A",
        help="official strings or indices (repeats accumulate)",
    )
    p.add_argument(
        "--top",
        type=parse_int,
        default=None,
        metavar="K",
        help="without --arch: best K (default 10)",
    )
    p.add_argument(
        "--sort-by",
        choices=_SORT_COLUMNS,
        default=None,
        help="order rows by this column, best first: value, mean, min and score in the metric's "
        "direction (highest first for an accuracy, lowest for a loss; min is the lowest "
        "neighbour value: an accuracy's worst neighbour, but a loss's best, whose worst is "
        "--agg max --sort-by score); sharpness lowest first (highest for a loss); std, and "
        "score with --agg std, lowest first for any metric (the flatter spread). Rows without "
        "a value there (-: no measured neighbour; for std, fewer than two) come last, unranked; "
        "a listing with none is refused. Default: by value, or as given with --arch",
    )
    p.add_argument(
        "--limit", type=parse_int, default=None, metavar="N", help="print only the first N rows"
    )
    p.add_argument(
        "--omit-stand-ins",
        choices=("self", "all", "none"),
        default=None,
        help="on a retraining table with stand-in cells (isomorphic copies of a trained cell, "
        "disconnected cells recorded at chance): leave out of each neighbourhood the members "
        "holding the cell's own measurement (self, default: a copy of the cell is no neighbour "
        "measurement), every stand-in as well (all), or none; column `stand` counts the "
        "stand-ins among the n members",
    )
    add_direction_arg(p)
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_flatness)

    p = sub.add_parser(
        "barrier",
        help="every named barrier between two architectures",
        description="Barriers between A and B: the mean of their values minus the lowest value "
        "on a path (mirror image for a loss), each under its own name: best shortest path (of "
        "the d! fewest-step paths, the one whose worst value is highest), worst shortest path "
        "(the worst of them), mean path (the level means of all shortest paths: A²M's "
        "construction), A²M code (what its profile_nasbench.py computes, current version "
        "54ce096 and the older 947bc3e, this pair taken alone; as in that code these two rows "
        "change when A and B are swapped, the others do not) and lowest over the whole space "
        "(the exact maximin path, any length; on a partly measured table the lowest through "
        "measured cells, an upper bound, named so); beside each path barrier, the part beyond "
        "the worse endpoint. --method picks the path printed: lowest (default), best-shortest or "
        "worst-shortest.",
    )
    p.add_argument("a", help="official NB201 string or index")
    p.add_argument("b", help="official NB201 string or index")
    add_key_args(p)
    p.add_argument(
        "--method",
        choices=("lowest", "best-shortest", "worst-shortest", "shortest"),
        default="lowest",
        help="the path to print (shortest = best-shortest)",
    )
    p.add_argument(
        "--tree-path",
        action="store_true",
        help="with --method lowest: the spanning-tree path (faster, may wander) instead of "
        "a lowest-barrier path with the fewest steps",
    )
    p.add_argument(
        "--connected-only",
        action="store_true",
        help="the lowest barrier only through connected cells",
    )
    add_direction_arg(p)
    add_table_arg(p)
    add_json_arg(p)
    # the library's way to the lowest barrier (landscape.paths.LOWEST_BARRIER) is this option
    p.set_defaults(func=cmd_barrier, param_elsewhere={"lowest_barrier_path": "--method lowest"})

    p = sub.add_parser(
        "census",
        help="barrier census: exact lowest barrier vs shortest-path barriers over many pairs",
        description="For pairs drawn at random inside each of A²M's accuracy bands A, B, C "
        "at Hamming distance --distance (3, as A²M's endpoint pairs) and every pair of the "
        "top K, the exact lowest barrier over the whole space (on a partly measured table the "
        "lowest through measured cells, an upper bound: a note says so) beside the best "
        "shortest path, mean path and worst shortest path barriers, and the fraction of pairs "
        "with no barrier beyond the worse endpoint. The bands are ranges of the 200-epoch test "
        "accuracy from A²M's neighbourhood-distribution figures (e.g. CIFAR-10 A: 92.3-93.7 %); its barrier "
        "figure's endpoint pairs, also named Models A, B, C, may lie outside them (`barrier` "
        "takes such a pair, by index or cell string). Without --dataset: A²M's test keys "
        "(cifar10 ori-test, cifar100 and ImageNet16-120 x-test, 200 epochs) the table has.",
    )
    add_key_args(p, required=False)
    p.add_argument(
        "--pairs",
        type=parse_int,
        default=100,
        metavar="N",
        help="pairs per band (default 100; 0 for none: the top K alone, as on any key but the "
        "200-epoch test accuracy the bands are of)",
    )
    top_k = p.add_argument(
        "--top-k",
        type=parse_int,
        default=10,
        metavar="K",
        help="every pair of the top K (default 10; 0 for none: the bands alone)",
    )
    p.add_argument(
        "--distance",
        type=parse_int,
        default=None,
        metavar="D",
        help="Hamming distance of the band pairs (default 3; 0 for any)",
    )
    pair_seed = p.add_argument(
        "--pair-seed",
        type=parse_int,
        default=None,
        help="seed of the band pair draw (default 0; cifar10, cifar100 and ImageNet16-120 draw "
        "with seed + 0, 1 and 2, whichever of them are drawn); not with --pairs 0, which draws "
        "nothing",
    )
    # the spellings before 0.2.0 (--top is the rows listed in flatness, demo and constrained)
    add_renamed_flag(p, "--top", top_k)
    add_renamed_flag(p, "--seed", pair_seed)
    p.add_argument(
        "--connected-only",
        action="store_true",
        help="the lowest barrier only through connected cells, and pairs drawn among connected "
        "architectures only (bands and top K)",
    )
    p.add_argument(
        "--nan-policy",
        choices=("raise", "omit"),
        default=None,
        help="a pair no measured path joins, or whose shortest paths cross an unmeasured "
        "architecture, has no barrier: raise (default) stops there; omit leaves it out and "
        "counts it (band pairs are drawn among the pairs that can be served). Only where such "
        "a pair can be: a key with an unmeasured cell, or --connected-only",
    )
    p.add_argument(
        "--pairs-out",
        metavar="CSV",
        help="also write one row per pair to this CSV file, with its dataset, split, epochs and "
        "metric (missing folders are created, as for the other --out options)",
    )
    add_direction_arg(p)
    add_table_arg(p)
    add_json_arg(p)
    # the census's parameters by their options; its distance None ("any") is --distance 0, its
    # values a key's (its bands are A²M's: no option moves them, so a fix naming them is left out)
    p.set_defaults(
        func=cmd_census,
        param_dests={"n_pairs": "pairs"},
        param_values={"distance": {None: "0"}},
        param_elsewhere={
            "lowest_barrier_path": "nb201-flat barrier A B --method lowest",
            "values": "--dataset --split --epochs --metric, a key measured on more "
            "architectures (`nb201-flat info` lists each key's count)",
        },
    )


_SORT_COLUMNS = ("value", "mean", "min", "sharpness", "std", "score")


def _spread(column: str | None, agg: str | None) -> bool:
    """Whether ``--sort-by column`` orders by a spread (std, or the score of --agg std): the
    flatter (lower) first, for any metric, so without the metric's direction."""
    return column == "std" or (column == "score" and agg == "std")


def _lower_first(column: str, agg: str | None, hib: bool | None) -> bool:
    """Whether ``--sort-by column`` puts low values first (flat = small spread and small drop
    from the cell to its neighbours; the others are values, best first)."""
    if _spread(column, agg):
        return True
    if column == "sharpness":
        return bool(hib)
    return not hib


def cmd_flatness(args: argparse.Namespace) -> int:
    from nb201_flat.errors import check_int_range
    from nb201_flat.landscape import neighbourhood_score
    from nb201_flat.landscape.neighbourhood import STAND_IN_COLUMN, StandIns, flatness_columns

    if args.arch and args.top is not None:
        raise LandscapeArgumentError(
            "--top picks the best K by value when no --arch is given; drop one of them"
        )
    top = 10 if args.top is None else check_int_range("--top", args.top, 1)
    if args.limit is not None:
        check_int_range("--limit", args.limit, 1)
    if args.sort_by == "score" and args.agg is None:
        raise LandscapeArgumentError("--sort-by score needs --agg (the score is its aggregate)")
    # the metric's direction ranks the top K and every order but a spread's
    ranked = not args.arch or (args.sort_by is not None and not _spread(args.sort_by, args.agg))
    if not ranked and args.lower_is_better is not None:
        flag = "--lower-is-better" if args.lower_is_better else "--higher-is-better"
        raise LandscapeArgumentError(
            f"{flag} applies only where rows are ranked by the metric (without --arch, or "
            "--sort-by value/mean/min/sharpness/score); drop it"
        )
    table = open_table(args)
    space = table.space
    if args.radius is not None:  # against this space, in one wording for 0 and 7 alike
        space.check_radius(args.radius, name="--radius")
    # resolved before any work: the same cell as an index and as a string is one cell
    given = [space.resolve(a).index for a in args.arch or []]
    check_cells_once("--arch", args.arch or [], given)
    mkey = table.key(args.dataset, args.split, args.epochs, args.metric)
    values = table.vector_for(mkey)
    hib = higher_is_better(args) if ranked else None  # a key the table has first
    spec = neighbourhood_from_args(args)
    # a retraining table's stand-ins (copies, chance) are no measurements of their own; an
    # analytic cost is computed for every cell, its copies and constant cells too
    from nb201_flat.conventions import is_analytic_cost

    stand = None if is_analytic_cost(args.metric) else StandIns.of(table, args.dataset, args.epochs)
    if stand is None and args.omit_stand_ins is not None:
        what = (
            f"{args.metric} is an analytic cost, every cell's own"
            if is_analytic_cost(args.metric)
            else f"{table.source} records none"
        )
        raise LandscapeArgumentError(
            f"--omit-stand-ins applies only to a retraining table with stand-in cells; "
            f"{what}: drop it"
        )
    omit = "self" if args.omit_stand_ins is None else args.omit_stand_ins
    standing = {} if stand is None else {"stand_ins": stand, "omit_stand_ins": omit}
    cols = ["value", "n", "mean", "min", "std", "sharpness"]
    if stand is not None:
        cols.append(STAND_IN_COLUMN)
    # the arrays, not flatness()'s frame: importing pandas for it took half the command
    stats = flatness_columns(space, values, spec, columns=cols, **standing)  # type: ignore[arg-type]
    if args.agg is not None:
        stats["score"] = neighbourhood_score(space, values, spec, **standing)  # type: ignore[arg-type]
        cols.append("score")
    measured = np.flatnonzero(~np.isnan(values))
    if args.arch:
        # a cell never measured still has its neighbourhood: its own value and sharpness
        # print as - (null in --json), as a neighbourhood with no measured member does
        chosen = given
    else:
        if measured.size == 0:
            raise MissingValueError(
                f"no architecture is measured for {mkey}; choose a key that "
                "`nb201-flat info` lists with archs > 0"
            )
        key = values[measured] if hib else -values[measured]
        chosen = measured[np.lexsort((measured, -key))[:top]].tolist()
    rows: list[dict[str, Any]] = []
    picked = np.column_stack([stats[c][chosen] for c in cols]).astype(np.float64, copy=False)
    # the listed cells' strings at once: one Arch per row took 0.13 s for the whole space
    for i, arch, rec in zip(chosen, space.strings(chosen), picked.tolist(), strict=True):
        row: dict[str, Any] = {"index": int(i), "arch": arch}
        row.update(zip(cols, rec, strict=True))
        row["n"] = int(row["n"])
        if stand is not None:
            row[STAND_IN_COLUMN] = int(row[STAND_IN_COLUMN])
        rows.append(row)
    # a listing that can serve nothing is an error; its fix: other cells, where there are any
    alone = " (this one measures one cell)" if measured.size == 1 else ""
    denser = f"use a denser table{alone}"
    if args.arch:  # of one measured cell, no other cell has a measured neighbour either
        other_cells = "choose other cells" if measured.size > 1 else denser
    elif measured.size > top:
        other_cells = "raise --top"
    else:  # every measured cell is listed already
        other_cells = denser
    lower_first = None if args.sort_by is None else _lower_first(args.sort_by, args.agg, hib)
    unranked = 0  # rows without a value of the sorted column: not ranked, after the others
    if args.sort_by is not None:
        sign = -1.0 if lower_first else 1.0

        def order(r: dict[str, Any]) -> float:
            v = float(r[args.sort_by])
            return np.inf if np.isnan(v) else -sign * v  # NaN last; stable for ties

        rows.sort(key=order)
        unranked = sum(bool(np.isnan(r[args.sort_by])) for r in rows)
        if unranked == len(rows) and any(r["n"] for r in rows):  # n = 0 everywhere: below
            why = _undefined_why(args.sort_by, args.agg, spec)
            wider = _wider(space, spec, values, [r["index"] for r in rows])
            _nothing_ranked(len(rows), why, args, [other_cells, *wider])
    listed = len(rows)  # before --limit
    cut = rows[args.limit :] if args.limit is not None else []
    rows = rows[: len(rows) - len(cut)]
    empty = [r["index"] for r in rows if r["n"] == 0]
    if len(empty) == len(rows):
        # cells whose neighbourhood statistics cannot be served: an error, not rows of -
        if any(r["n"] for r in cut):
            fix = "raise --limit"
        elif args.arch and measured.size > 1:
            fix = "choose cells with measured neighbours"
        else:
            fix = other_cells
        fixes = [fix, *_wider(space, spec, values, empty)]
        _no_neighbour(space, values, spec, stand, omit, empty, table, args, fixes)
    neighbourhood: dict[str, Any] = {
        "radius": spec.radius,
        "exact": spec.exact,
        "include_self": spec.include_self,
        "no_none": spec.no_none,
        "connected_only": spec.connected_only,
    }
    if args.agg is not None:
        neighbourhood.update(agg=spec.agg, quantile=spec.level)  # null: g reads no level
    stand_ins = (
        {}
        if stand is None
        else {
            "stand_ins": {
                "isomorphic_copies": stand.n_copies,
                "constant_output": stand.n_constant,
                "omit": omit,
            }
        }
    )
    if args.json:
        emit_json(
            {
                "dataset": args.dataset,
                "split": args.split,
                "epochs": args.epochs,
                "metric": args.metric,
                "neighbourhood": neighbourhood,
                "sort_by": args.sort_by,
                "sort_order": None if lower_first is None else _order_words(lower_first),
                # rows (before --limit) without a sort_by value, after the ranked ones
                "unranked": None if args.sort_by is None else unranked,
                "higher_is_better": hib,  # null: nothing was ranked by the metric
                "seed_policy": "mean",
                **seed_fields(table, mkey),
                "rows": rows,
                **stand_ins,
                "source": table.source,
            }
        )
        return 0
    # the key, what its values are (seed policy) and, where not the metric's own, the direction
    way = direction_words(args) if ranked else None
    print(
        f"{args.dataset}/{args.split}@{args.epochs} {args.metric}; {seed_words(table, mkey)}"
        + (f"; {way}" if way else "")
    )
    if args.arch:
        rows_words = "as given"
    elif listed < top:  # "top 100000" of a table of 15,625 cells (--limit cuts after)
        rows_words = f"all {listed:,} measured cells by value, {_order_words(not hib)}"
    else:
        rows_words = f"top {top} by value, {_order_words(not hib)}"
    if args.sort_by is not None:
        rows_words += f", sorted by {args.sort_by}, {_order_words(bool(lower_first))}"
        if args.sort_by == "min" and not hib:  # the lowest value of a loss is its best
            rows_words += " (min: the lowest neighbour value, here the best neighbour)"
    print(
        f"neighbours: {neighbourhood_words(spec, agg=False)}"
        + (f"; score: {spec.label}" if args.agg is not None else "")
        + f"; rows: {rows_words}"
    )
    if stand is not None:
        print(_stand_in_words(stand, omit))
    # the aggregate g, when asked for: the column --sort-by score orders by
    score = args.agg is not None
    print(
        f"{'index':>6} {'value':>9} {'n':>5} {'mean':>9} {'min':>9} {'std':>8} {'sharp':>8}"
        + (f" {'stand':>5}" if stand is not None else "")
        + (f" {'score':>9}" if score else "")
        + "  arch"
    )
    from nb201_flat.conventions import natural_direction

    print(sharp_legend("mean", loss=natural_direction(args.metric) is False))
    for r in rows:
        print(
            f"{r['index']:>6} {value_text(r['value']):>9} {r['n']:>5} {value_text(r['mean']):>9} "
            f"{value_text(r['min']):>9} {value_text(r['std']):>8} "
            f"{value_text(r['sharpness']):>8}"
            + (f" {r[STAND_IN_COLUMN]:>5}" if stand is not None else "")
            + (f" {value_text(r['score']):>9}" if score else "")
            + f"  {r['arch']}"
        )
    member = "member" if spec.include_self else "neighbour"
    if empty:  # a listing may hold such rows: say what their - means
        print(
            f"(n = 0: no measured {member} for {len(empty)} of these rows; their "
            "neighbourhood statistics print as -)"
        )
    single = sum(r["n"] == 1 for r in rows)
    if single:  # a spread of one value is undefined, not 0
        spreads = "std and score print" if _spread("score", args.agg) else "std prints"
        print(
            f"(n = 1: one measured {member} for {single} of these rows; a spread needs two, "
            f"so their {spreads} as -)"
        )
    if unranked:
        print(
            f"note: {unranked} of the {listed} rows {'has' if unranked == 1 else 'have'} no "
            f"{args.sort_by} "
            f"({_undefined_why(args.sort_by, args.agg, spec)}): not ranked, they come after "
            "the ranked rows"
        )
    return 0


def _undefined_why(column: str, agg: str | None, spec: Any) -> str:
    """Why a flatness row has no value in ``column`` (NaN), in words."""
    member = "member" if spec.include_self else "neighbour"
    if column == "value":
        return "the cell is not measured"
    if _spread(column, agg):
        return f"fewer than two measured {member}s: a spread needs two"
    if column == "sharpness":
        return f"the cell is not measured, or has no measured {member}"
    return f"no measured {member}"


def _wider(space: Any, spec: Any, values: Any, cells: list[int]) -> list[str]:
    """The flags that take more cells into ``spec``'s neighbourhoods, in words: a wider
    --radius below the space's largest distance, and --within where the radius is exact (a
    wider exact radius may lose the neighbours a smaller one had; at radius 1 the two modes
    are one neighbourhood, so there --within goes with a wider radius). None where no
    measured cell (``values`` not NaN) but the listed ``cells`` own lies at any distance: a
    table measuring one cell gives it no neighbour at any radius."""
    measured = np.flatnonzero(~np.isnan(values))
    if not any((measured != c).any() for c in cells):
        return []
    r = spec.radius
    ways: list[str] = []
    if spec.exact and r > 1:
        ways.append(f"pass --within (it counts every distance 1..{r}, not {r} alone)")
    if r < space.n_edges:
        modes = " (--within counts every distance 1..R, --exact R alone)" if spec.exact else ""
        ways.append("widen --radius" + (modes if r == 1 else ""))
    return ways


def _alternatives(ways: list[str]) -> str:
    """``ways`` as one fix: "a or b", "a, b, or c"."""
    if len(ways) <= 2:
        return " or ".join(ways)
    return ", ".join(ways[:-1]) + ", or " + ways[-1]


def _nothing_ranked(count: int, why: str, args: argparse.Namespace, fixes: list[str]) -> None:
    """Refuse a ``--sort-by`` listing none of whose rows has a value of that column, in one
    line ending in ``fixes`` (or sorting by another column)."""
    rows = f"the {count} given cells" if args.arch else f"the top {count} cells"
    raise MissingValueError(
        f"--sort-by {args.sort_by}: none of {rows} has a {args.sort_by} ({why}), so nothing "
        f"can be ranked; {_alternatives([*fixes, 'sort by another column'])}"
    )


def _stand_in_words(stand: Any, omit: str) -> str:
    """The line saying what a retraining table's stand-ins are and what was done with them."""
    left = {
        "self": "members holding a row's own measurement (its copies, or the cell it copies) "
        "left out (--omit-stand-ins none keeps them, all drops every stand-in)",
        "all": "every stand-in member and a row's own copies left out",
        "none": "every stand-in kept, copies of a row's own cell too",
    }[omit]
    return (
        f"stand-ins (not trained): {stand.n_copies} isomorphic copies, {stand.n_constant} "
        f"constant-output (chance); {left}; `stand` counts the stand-ins among the n members"
    )


def _no_neighbour(
    space: Any,
    values: Any,
    spec: Any,
    stand: Any,
    omit: str,
    cells: list[int],
    table: Any,
    args: argparse.Namespace,
    fixes: list[str],
) -> None:
    """Refuse a listing none of whose cells has a measured neighbour, in one line ending in
    ``fixes``."""
    from nb201_flat.landscape.neighbourhood import flatness_columns

    key = table.key(args.dataset, args.split, args.epochs, args.metric)
    shown = ", ".join(map(str, cells[:5])) + (", ..." if len(cells) > 5 else "")
    why = ""
    if stand is not None and omit != "none":
        every = flatness_columns(
            space, values, spec, columns=["n"], stand_ins=stand, omit_stand_ins="none"
        )
        left = int(every["n"][cells].sum())
        if left:
            why = (
                f" ({left} stand-in member(s) left out by --omit-stand-ins {omit}, a copy being "
                "no measurement; --omit-stand-ins none keeps them)"
            )
    member = "member" if spec.include_self else "neighbour"
    raise MissingValueError(
        f"no measured {member} for cell {shown} on {key}{why}: the neighbourhood statistics "
        f"cannot be served; {_alternatives(fixes)}"
    )


def sharp_legend(mean: str, *, loss: bool = False) -> str:
    """The line under a header with a ``sharp`` column (``mean``: the column of the
    neighbourhood's mean): what it is, and its sign, which a loss does not mirror."""
    worse = " (for a loss: worse than them)" if loss else ""
    return (
        f"(sharp = value - {mean}: the cell's value minus its neighbourhood's mean; "
        f"> 0: above its neighbours{worse})"
    )


def _order_words(lower_first: bool) -> str:
    return "lowest first" if lower_first else "highest first"


_PATH_SHOWN = {
    "lowest": "lowest",
    "best-shortest": "best_shortest",
    "shortest": "best_shortest",
    "worst-shortest": "worst_shortest",
}


def cmd_barrier(args: argparse.Namespace) -> int:
    from nb201_flat.landscape import (
        a2m_barrier,
        barrier_tree,
        best_shortest_path,
        shortest_paths,
    )
    from nb201_flat.landscape.census import (
        BARRIER_NAMES,
        PATH_BARRIERS,
        TREE_PATH,
        lowest_bound_note,
        lowest_name,
    )
    from nb201_flat.landscape.paths import MAX_SHORTEST_D, make_path, without_lowest_hint
    from nb201_flat.landscape.stand_ins import StandIns

    if args.tree_path and args.method != "lowest":
        raise LandscapeArgumentError(
            f"--tree-path applies to --method lowest only, not {args.method}; drop it"
        )
    table = open_table(args)
    space = table.space
    a, b = space.resolve(args.a), space.resolve(args.b)
    mkey = table.key(args.dataset, args.split, args.epochs, args.metric)
    values = table.vector_for(mkey)
    hib = higher_is_better(args)
    tree = barrier_tree(space, values, higher_is_better=hib, connected_only=args.connected_only)
    shown = _PATH_SHOWN[args.method]
    payload: dict[str, Any] = {
        "a": a.to_str(),
        "b": b.to_str(),
        "distance": a.hamming(b),
        "dataset": args.dataset,
        "split": args.split,
        "epochs": args.epochs,
        "metric": args.metric,
        "higher_is_better": hib,
        **seed_fields(table, mkey),
        "value_a": float(values[a.index]),
        "value_b": float(values[b.index]),
    }
    barriers: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    low = tree.path(a, b, shortest=not args.tree_path)
    # the lowest row's steps are the fewest; a tree path may wander further
    fewest = tree.path(a, b, shortest=True) if args.tree_path else low
    names = dict(BARRIER_NAMES)
    # the search never left the connected cells (--connected-only), nor the measured ones: on
    # a partly measured table the lowest is an upper bound, named so, unless it is at the
    # worse endpoint, which no path avoids
    bound = bool(tree.unmeasured) and fewest.above_worse > 0
    names["lowest"] = lowest_name(tree.connected_only, tree.unmeasured, exact=not bound)
    bound_note = lowest_bound_note(space, tree.unmeasured, tree.connected_only) if bound else None
    try:
        named = tree.pair_barriers(a, b)
    except (MissingValueError, LandscapeArgumentError) as exc:
        # the shortest paths cross unmeasured cells, or are too many to enumerate: every
        # shortest-path barrier is unknown, the path asked for too; the lowest barrier stays
        too_many = isinstance(exc, LandscapeArgumentError) and a.hamming(b) > MAX_SHORTEST_D
        if shown != "lowest" or not (isinstance(exc, MissingValueError) or too_many):
            raise
        # the lowest barrier is served below: no hint at it
        why = spelled(without_lowest_hint(parts_of(exc)), spell(args))
        for name in BARRIER_NAMES:
            if name != "lowest":
                unavailable[name] = why
        barriers["lowest"] = {
            "name": names["lowest"],
            "barrier": fewest.barrier,
            "above_worse": fewest.above_worse,
            "length": fewest.length,
        }
    else:
        for name, label in names.items():
            entry: dict[str, Any] = {"name": label, "barrier": named.barrier(name)}
            if name in PATH_BARRIERS:
                entry["above_worse"] = named.above_worse(name)
            barriers[name] = entry
        barriers["best_shortest"]["length"] = named.distance
        barriers["worst_shortest"]["length"] = named.distance
        barriers["lowest"]["length"] = named.lowest_length
        if (note := _a2m_code_note(named.distance, args.metric, hib)) is not None:
            barriers["a2m_code_54ce096"]["note"] = note
        text = a2m_barrier(space, values, a, b, higher_is_better=hib)
        barriers["mean_path"].update(
            {
                "level_mean": text.level_mean,
                "level_std": text.level_std,
                "n_paths": text.n_paths,
            }
        )
    # whether the lowest is an upper bound (cells it could have crossed are unmeasured, and
    # it lies beyond the worse endpoint)
    barriers["lowest"].update(upper_bound=bound, unmeasured=tree.unmeasured)
    if shown == "lowest":
        path = low
    elif shown == "best_shortest":
        path = best_shortest_path(space, values, a, b, higher_is_better=hib)
    else:
        paths = shortest_paths(space, a, b)
        w = values if hib else -values
        mins = w[paths].min(axis=1)
        pick = int(np.argmin(mins))
        path = make_path(space, values, w, paths[pick], hib)
    payload["barriers"] = barriers
    if unavailable:
        payload["unavailable"] = unavailable
    shown_name = (
        f"{TREE_PATH} (barrier: {names['lowest']}; its steps may exceed the fewest)"
        if args.tree_path
        else names[shown]
    )
    # the cells' strings as arch_path: "path" is this object's own name here
    path_fields = path.to_dict()
    payload["path"] = {"name": shown_name, "arch_path": path_fields.pop("path"), **path_fields}
    # a retraining table's stand-ins are values like any other here: say how many
    stand = StandIns.report(table, args.dataset, args.epochs, "the barriers")
    if stand is not None:
        payload["stand_ins"] = stand
    if bound_note is not None:
        payload["lowest_note"] = bound_note
    payload["source"] = table.source
    if args.json:
        emit_json(payload)
        return 0
    print(
        f"barriers from {a.index} ({value_text(payload['value_a'])}) to {b.index} "
        f"({value_text(payload['value_b'])}), distance {payload['distance']}; "
        f"{args.dataset}/{args.split}@{args.epochs} {args.metric}, "
        f"{'higher' if hib else 'lower'} is better; {seed_words(table, mkey)}"
    )
    # the names' column, wider where the lowest is named an upper bound
    wide = max(30, *(len(entry["name"]) for entry in barriers.values()))
    print(f"  {'':<{wide}} {'barrier':>9} {'beyond worse endpoint':>22}")
    for entry in barriers.values():
        above = entry.get("above_worse")
        extra = f"{value_text(above):>22}" if above is not None else f"{'-':>22}"
        steps = f"  ({entry['length']} steps)" if "length" in entry else ""
        print(f"  {entry['name']:<{wide}} {value_text(entry['barrier']):>9} {extra}{steps}")
    if "a2m_code_54ce096" in barriers:
        print(
            "  (A²M code: this pair taken alone; its current code carries its minimum across a "
            "dataset's pairs, see a2m_barriers)"
        )
        if "note" in barriers["a2m_code_54ce096"]:
            print(f"  (A²M code, current: {barriers['a2m_code_54ce096']['note']})")
    for name in unavailable:
        print(f"  {BARRIER_NAMES[name]:<{wide}} {'unavailable':>9}")
    if unavailable:  # one reason serves them all
        print(f"  (unavailable: {next(iter(unavailable.values()))})")
    print(
        f"path: {shown_name}, barrier {value_text(path.barrier)} over {path.length} steps "
        f"(worst value {value_text(path.bottleneck)})"
    )
    for idx, s, v in zip(path.path, path.strings(), path.values.tolist(), strict=True):
        print(f"{idx:>6} {value_text(v):>9}  {s}")
    if "level_mean" in barriers.get("mean_path", {}):
        means = " ".join(value_text(x) for x in barriers["mean_path"]["level_mean"])
        print(f"mean path over {barriers['mean_path']['n_paths']} shortest paths: levels {means}")
    if bound_note is not None:
        print(f"note: {bound_note}")
    if stand is not None:
        print(f"note: {stand['note']}")
    return 0


def _a2m_code_note(distance: int, metric: str, hib: bool) -> str | None:
    """Why the current A²M code's number for a pair is no barrier, where it is not: its
    running minimum starts at 100 (an accuracy in percent) and only cells between the pair
    lower it (:func:`~nb201_flat.landscape.a2m.a2m_barrier`). Decided by the direction used
    (``hib``), not by the metric's name: read lower-is-better, the construction runs on the
    values negated, whatever the metric is called."""
    from nb201_flat.conventions import is_percent_accuracy

    # lower-is-better: the start 100 is subtracted from the negated values (-A, not A)
    said = "" if hib else " (mirrored for lower-is-better: on the negated values)"
    sign = "" if hib else "-"
    if distance == 0:
        return (
            "a pair of one cell has no cell between, so its minimum keeps its start value 100 "
            f"and the number{said} is {sign}A - 100, not a barrier"
        )
    if distance == 1:
        return (
            "at distance 1 no cell lies between the pair, so its minimum keeps its start value "
            f"100 and the number{said} is {sign}(A + B)/2 - 100, not a barrier"
        )
    if not hib:
        return (
            f"its minimum starts at 100, an accuracy in percent; for {metric} the number is "
            "its code's construction mirrored for lower-is-better (on the negated values), not "
            "the code's own number on these values, and not a barrier"
        )
    if not is_percent_accuracy(metric):
        return (
            f"its minimum starts at 100, an accuracy in percent, and {metric} is no accuracy: "
            "the number is what its code computes on these values, not a barrier"
        )
    return None


#: how every pairs CSV of census begins: the key's columns, then the census's own
_PAIRS_CSV_HEAD = "dataset,split,epochs,metric,group,a,b,"


def _check_replaces_a_pairs_csv(path: Path) -> None:
    """An existing ``--pairs-out`` file is replaced only when it is a pairs CSV (a rerun's):
    any other file there (a results database, a table's CSV) was silently overwritten."""
    if (
        not path.is_file() or path.stat().st_size == 0
    ):  # an empty file (touch, mktemp): nothing lost
        return
    try:
        with path.open("rb") as f:
            head = f.read(len(_PAIRS_CSV_HEAD))
    except OSError as exc:
        raise LandscapeArgumentError(
            f"--pairs-out {path} exists and cannot be read ({exc.strerror or exc}); choose "
            "another path"
        ) from None
    if head != _PAIRS_CSV_HEAD.encode():
        raise LandscapeArgumentError(
            f"--pairs-out {path} exists and is not a census pairs CSV, which is never "
            "overwritten; choose another path (or delete that file first)"
        )


#: census_summary's shares as census --json names them: fractions (0..1), apart from the
#: medians beside them (the frame keeps its columns)
GROUP_FRACTIONS: dict[str, str] = {
    "no_barrier": "no_barrier_fraction",
    "lowest_is_shortest": "lowest_is_shortest_fraction",
}


def cmd_census(args: argparse.Namespace) -> int:
    from shlex import quote

    from nb201_flat.atomic import check_writable_file
    from nb201_flat.conventions import report_dataset
    from nb201_flat.landscape.census import (
        band_seed,
        barrier_census,
        census_summary,
        describe_left_out,
        lowest_bound_note,
    )
    from nb201_flat.landscape.neighbourhood import StandIns
    from nb201_flat.landscape.statistics import A2M_BAND_KEYS
    from nb201_flat.table import MetricKey

    # before the work, not after it
    pairs_out = (
        None if args.pairs_out is None else check_writable_file(args.pairs_out, what="--pairs-out")
    )
    if pairs_out is not None:
        _check_replaces_a_pairs_csv(pairs_out)
    for flag, value in (("--pairs", args.pairs), ("--top-k", args.top_k)):
        if value < 0:
            raise LandscapeArgumentError(f"{flag} must be >= 0, got {value}")
    if args.pair_seed is not None and args.pairs == 0:
        raise LandscapeArgumentError(
            "--pair-seed seeds the band pair draw, and --pairs 0 draws none; drop --pair-seed"
        )
    seed = 0 if args.pair_seed is None else check_seed(args.pair_seed, "--pair-seed")
    if args.distance is not None and args.pairs == 0:
        raise LandscapeArgumentError(
            "--distance sets the band pairs' distance, and --pairs 0 draws none; drop one of them"
        )
    given = [x is not None for x in (args.dataset, args.split, args.epochs)]
    if any(given) and not all(given):
        raise LandscapeArgumentError(
            "give --dataset, --split and --epochs together, or none of them for A²M's test keys"
        )
    # the fix that leaves the top K alone: with --top-k 0 too, --pairs 0 alone was refused next
    top_alone = (
        "--pairs 0 for the top K alone" if args.top_k else "--pairs 0 --top-k K for the top K alone"
    )
    if args.pairs and args.lower_is_better:  # the keys are A²M's accuracies: higher is better
        raise LandscapeArgumentError(
            "A²M's bands are accuracy bands (higher is better), not for --lower-is-better; "
            f"drop --lower-is-better, or pass {top_alone}"
        )
    table = open_table(args)
    if pairs_out is not None:
        check_outside_table(args.pairs_out, table, "--pairs-out")
    # the keys the table has first: a fix for the bands below must not lead to a key it lacks
    if all(given):
        # an unknown part (an empty one, epochs -1 too): UnknownKeyError, listing what exists
        keys = [table.key(args.dataset, args.split, args.epochs, args.metric)]
    else:
        # A²M's keys with --metric, as the table has them: a MetricKey built of --metric ''
        # was refused in its own words, naming no option
        present = {(k.dataset, k.split, k.epochs, k.metric): k for k in table}
        wanted = [(k.dataset, k.split, k.epochs, args.metric) for k in A2M_BAND_KEYS]
        keys = [present[w] for w in wanted if w in present]
        if not keys:
            # quoted as typed: --metric '' was "with metric ; drop --metric , or"
            given_metric = quote(args.metric)
            metric = "" if args.metric == "accuracy" else f" with metric {given_metric}"
            # dropping --metric leads somewhere only if the table has A²M's accuracy keys
            fix = (
                f"drop --metric {given_metric}, or "
                if metric and any(k in table for k in A2M_BAND_KEYS)
                else ""
            )
            raise LandscapeArgumentError(
                "the table has none of A²M's test keys (cifar10/ori-test@200, "
                f"cifar100/x-test@200, ImageNet16-120/x-test@200){metric}; {fix}name one with "
                "--dataset --split --epochs"
            )
    off = [k for k in keys if k not in A2M_BAND_KEYS]
    if args.pairs and off:
        # the bands are accuracy ranges of one key per dataset: on another they pick nothing
        # meaningful (a loss, a time) or another set of cells (validation, 12 epochs)
        band_keys = ", ".join(map(str, A2M_BAND_KEYS))
        # a fix only towards band keys the table has
        have = [k for k in A2M_BAND_KEYS if k in table]
        same = [k for k in have if all(given) and k.dataset == report_dataset(args.dataset)]
        if not have:
            fix = ""
        elif not all(given):
            fix = f", or drop --metric {args.metric}"
        elif same:
            bk = same[0]
            fix = (
                f", or --dataset {bk.dataset} --split {bk.split} --epochs {bk.epochs} "
                f"--metric {bk.metric}"
            )
        else:
            fix = ", or one of those keys"
        raise LandscapeArgumentError(
            f"A²M's bands are of test accuracy at 200 epochs ({band_keys}), not {off[0]}; "
            f"pass {top_alone}{fix}"
        )
    hib = higher_is_better(args)
    # 0: any distance; with --pairs 0 no pair is drawn, so no distance applies (None)
    distance = ((3 if args.distance is None else args.distance) or None) if args.pairs else None
    n_edges = table.space.n_edges
    if args.pairs and distance is not None and distance < 0:  # "no two lie farther apart"
        raise LandscapeArgumentError(
            f"--distance {distance} is negative; pass --distance 1..{n_edges}, 0 for any, or "
            f"{top_alone}"
        )
    if args.pairs and distance is not None and not 1 <= distance <= n_edges:
        raise LandscapeArgumentError(
            f"band pairs at distance {distance} (--distance, default 3): this space's cells have "
            f"{n_edges} edge{'' if n_edges == 1 else 's'}, so no two lie farther apart; pass "
            f"--distance 1..{n_edges}, 0 for any, or {top_alone}"
        )
    if (
        args.nan_policy is not None
        and not args.connected_only
        and not any(np.isnan(table.vector_for(k)).any() for k in keys)
    ):
        # measured cells join every pair: the policy has no pair to act on (its header
        # line was the one trace of it)
        where = str(keys[0]) if len(keys) == 1 else f"each of the {len(keys)} keys"
        raise LandscapeArgumentError(
            "--nan-policy applies only where a pair can lack a barrier (a key with an "
            f"unmeasured cell, or --connected-only); every cell of {where} is measured: drop it"
        )
    nan_policy: Literal["raise", "omit"] = args.nan_policy or "raise"
    frames = []
    results = []
    for key in keys:
        values = table.vector(key.dataset, key.split, key.epochs, key.metric)
        # by the dataset, not by its place among the keys drawn: naming it draws the same
        drawn_with = band_seed(seed, key.dataset)
        census = barrier_census(
            table.space,
            values,
            key.dataset,
            n_pairs=args.pairs,
            top_k=args.top_k,
            distance=distance,
            seed=drawn_with,
            higher_is_better=hib,
            connected_only=args.connected_only,
            nan_policy=nan_policy,
        )
        notes = [
            f"group {g}: {n:,} disconnected architecture{'' if n == 1 else 's'} left out "
            "(--connected-only: pairs among connected architectures only)"
            for g, n in census.attrs["left_out"].items()
        ]
        notes += [
            f"group {g}: "
            + describe_left_out(
                c, "--nan-policy omit" if "too_far" not in c else "", spell=spell(args)
            )
            for attr in ("excluded", "omitted")
            for g, c in census.attrs[attr].items()
        ]
        notes += [
            f"group {g} has no pair: {spelled(why, spell(args))}"
            for g, why in census.attrs["empty"].items()
        ]
        # unmeasured cells the search could have crossed: the lowest column is an upper bound
        unmeasured = census.attrs["unmeasured"]
        bound_note = lowest_bound_note(table.space, unmeasured, census.attrs["connected_only"])
        if bound_note is not None:
            notes.append(
                f"{bound_note}; the lowest medians are thus upper bounds, and the no-barrier "
                "fraction a lower bound"
            )
        # a retraining table's stand-ins are values like any other here: say how many
        stand = StandIns.report(table, key.dataset, key.epochs, "the census")
        if stand is not None:
            notes.append(stand["note"])
        # the CSV of all keys' pairs names each row's key in full
        for col, value in reversed(
            (
                ("dataset", key.dataset),
                ("split", key.split),
                ("epochs", key.epochs),
                ("metric", key.metric),
            )
        ):
            census.insert(0, col, value)
        frames.append(census)
        summary = census_summary(census)
        results.append(
            {
                "dataset": key.dataset,
                "split": key.split,
                "epochs": key.epochs,
                "metric": key.metric,
                **seed_fields(table, key),
                "pair_seed": drawn_with if args.pairs else None,  # the band draw's; none drawn
                # the two shares named as fractions (0..1), apart from the medians beside
                # them (the metric's units; percentage points for an accuracy)
                "groups": summary.rename(columns=GROUP_FRACTIONS).to_dict(orient="records"),
                # the lowest through measured cells: an upper bound (the notes say why)
                "lowest_upper_bound": bool(unmeasured),
                "unmeasured": unmeasured,
                # nan_policy "omit": candidates left out of the band draws, pairs dropped
                "excluded": census.attrs["excluded"],
                "omitted": census.attrs["omitted"],
                "notes": notes,
                **({} if stand is None else {"stand_ins": stand}),
            }
        )
    if pairs_out is not None:
        import pandas as pd

        from nb201_flat.atomic import write_file

        pairs = pd.concat(frames, ignore_index=True)
        if any(f.attrs["unmeasured"] for f in frames):
            # each row's key: is its lowest an upper bound, with how many cells unmeasured
            # (a fully measured table's file keeps its columns)
            counts = np.concatenate([np.full(len(f), f.attrs["unmeasured"]) for f in frames])
            pairs["lowest_upper_bound"] = counts > 0
            pairs["unmeasured"] = counts
        write_file(pairs_out, lambda f: pairs.to_csv(f, index=False))
    if args.json:
        emit_json(
            {
                "pairs_per_band": args.pairs,
                "top_k": args.top_k,
                "distance": distance,
                "higher_is_better": hib,
                "connected_only": args.connected_only,
                "nan_policy": nan_policy,
                "datasets": results,
                "source": table.source,
                # where the CSV went, as the text says (a link's file, folders created)
                **(
                    {}
                    if pairs_out is None
                    else {"pairs_out": str(pairs_out), "pairs_written": len(pairs)}
                ),
            }
        )
        return 0
    drawn = (
        # a band holding fewer pairs gives them all: its count is in the pairs column
        f"up to {args.pairs} pairs per A²M band at distance {distance if distance else 'any'}"
        if args.pairs
        else "no band pairs"
    )
    top = f"every pair of the top {args.top_k}" if args.top_k else "no top-K pairs"
    print(
        f"barrier census: {drawn}, {top}"
        + (", connected architectures only" if args.connected_only else "")
        + (
            ", pairs no measured path joins (or whose shortest paths cross an unmeasured cell) "
            "omitted"
            if nan_policy == "omit"
            else ""
        )
    )
    head = (
        f"{'group':<7} {'pairs':>5} {'no barrier':>10} {'lowest=d':>8} {'lowest':>8} "
        f"{'best sp':>8} {'mean p':>8} {'worst sp':>8} | beyond worse: {'mean p':>7} "
        f"{'worst sp':>8}"
    )
    for res in results:
        drew = "" if res["pair_seed"] is None else f", pair-draw seed {res['pair_seed']}"
        rkey = MetricKey(res["dataset"], res["split"], res["epochs"], res["metric"])
        print(
            f"{rkey.dataset}/{rkey.split}@{rkey.epochs} {rkey.metric} "
            f"({'higher' if hib else 'lower'} is better{drew}; {seed_words(table, rkey)})"
        )
        print(head)
        for g in res["groups"]:
            print(
                f"{g['group']:<7} {g['pairs']:>5} {g['no_barrier_fraction']:>10.1%} "
                f"{g['lowest_is_shortest_fraction']:>8.1%} {value_text(g['median_lowest']):>8} "
                f"{value_text(g['median_best_shortest']):>8} {value_text(g['median_mean_path']):>8} "
                f"{value_text(g['median_worst_shortest']):>8} | {'':>13} "
                f"{value_text(g['median_mean_path_above_worse']):>7} "
                f"{value_text(g['median_worst_shortest_above_worse']):>8}"
            )
        for note in res["notes"]:
            print(f"note: {note}")
    print(
        "columns: medians. no barrier: the lowest barrier is half the endpoint gap (the worse endpoint "
        "is the bottleneck); lowest=d: a lowest path no longer than the Hamming distance; best "
        "sp / worst sp: best / worst shortest path; mean p: mean path (A²M's level means); "
        "beyond worse: worse endpoint minus path minimum (the barrier minus half the endpoint gap)"
    )
    if pairs_out is not None:  # its folders may have been created: say where it went
        print(f"{len(pairs)} pairs written to {pairs_out}")
    return 0
