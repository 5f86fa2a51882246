"""CLI commands for search: ``search`` (one algorithm, one protocol) and ``reproduce``."""

from __future__ import annotations

import argparse
import itertools
import math
import time
from typing import TYPE_CHECKING, Any

from nb201_flat import budget
from nb201_flat.cli.common import (
    add_json_arg,
    add_neighbourhood_args,
    add_renamed_flag,
    add_table_arg,
    check_each_once,
    check_outside_table,
    emit_json,
    neighbourhood_fields,
    neighbourhood_from_args,
    num,
    open_table,
    parse_float,
    parse_int,
    parse_seed,
    spell,
)

# at module level: every path to this module registers its parsers, whose choices load the
# table layer anyway (nb201_flat.search.protocol), so it costs no command's start-up anything
from nb201_flat.table import MetricKey

if TYPE_CHECKING:
    from nb201_flat.search.algorithms import SearchAlgorithm
    from nb201_flat.search.grid import ReproduceConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from nb201_flat.neighbourhood import NA_PAPER
    from nb201_flat.search.algorithms import AGGREGATORS, ALGORITHM_NAMES, NeighbourObjective
    from nb201_flat.search.protocol import PROTOCOL_NAMES

    p = sub.add_parser(
        "search",
        help="run one search algorithm under one protocol, many seeded runs",
        description="Run ALGO under PROTOCOL --runs times and report the final test accuracy "
        "(mean, std, n) of each reported dataset. The search sees only the validation metric "
        "through a budgeted oracle; test values are read after each run ends. Each row also "
        "gives the mean per run of the queries charged to the budget and of the evaluations "
        "(charged queries plus the free neighbour look-ups of NA searches; --json also has "
        "free_queries, and total_seconds: charged seconds plus what the free look-ups would "
        "have cost to train). In --json a row's seconds are simulated training time, and "
        "wall_seconds how long the command took.",
    )
    p.add_argument(
        "--algo",
        required=True,
        type=str.lower,
        choices=ALGORITHM_NAMES,
        help="search algorithm (any case: NA-RS = na-rs)",
    )
    p.add_argument(
        "--protocol",
        default="nb201",
        type=str.lower,
        choices=PROTOCOL_NAMES,
        help="default: nb201. The time budgets of nb201 and per-dataset are seconds of NB201's "
        "own training, refused on a table of retrained times (its space key recorded, or its "
        "median cell a tenth of NB201's time or less): use fixed-n there",
    )
    _add_run_args(p, runs=100)
    epochs = p.add_argument(
        "--search-epochs",
        dest="epochs",
        type=parse_int,
        default=None,
        help="schedule searched (default 12): 12 or 200 with nb201 and per-dataset, whose time "
        "budgets are set for those; any the table stores with fixed-n, which searches x-valid "
        "and reports the test split (on a table without both it searches one 200-epoch key "
        "itself, and refuses other epochs)",
    )
    p.add_argument(
        "--seed-policy",
        type=parse_seed,
        default=None,
        help="oracle seed policy: random, mean or a stored seed (default: random for "
        "nb201/per-dataset, which falls back, with a note, to the one value a key stores per "
        "cell; mean for fixed-n). Asked for, random on such a key is refused, and on a key "
        "of one stored seed, which every draw takes (name that seed)",
    )
    p.add_argument(
        "--budget-scale",
        type=parse_float,
        default=None,
        help="multiply the protocol's time budget (default 1; nb201 and per-dataset only), on "
        "top of the epochs rule: at --search-epochs 200 time budgets are x 200/12; a budget that "
        "buys more than 100 x the space's cells at the cheapest query is refused",
    )
    fixed_n = p.add_argument(
        "--fixed-n",
        dest="n",
        type=parse_int,
        default=None,
        help="queries per run, fixed-n only (default 100; at most 100 x the space's cells, "
        "and with --repeats cache fewer than the cells it samples: a run that has queried "
        "every cell spends nothing more and never ends on its budget)",
    )
    # the spellings before 0.2.0 (--epochs is the key's schedule in query and flatness)
    add_renamed_flag(p, "--epochs", epochs)
    add_renamed_flag(p, "--n", fixed_n)
    p.add_argument(
        "--repeats",
        choices=("charge", "cache"),
        default=None,
        help="a repeated query re-trains and pays (charge, NB201; the default) or is cached; "
        "rs and rea only (the NA forms and ls keep every cell they paid for)",
    )
    add_neighbourhood_args(
        p,
        default=NeighbourObjective().neighbourhood,  # what make_algorithm builds on
        title="neighbourhood-aware options (na-rs, na-rea, na-ls)",
        aggregators=AGGREGATORS,
    )
    na = p.add_argument_group("neighbourhood-aware search options")
    na.add_argument(
        "--charge-neighbours",
        dest="charge",
        action="store_const",
        const=True,
        help="neighbour queries are charged to the budget (default: free)",
    )
    na.add_argument(
        "--rerank-top-k",
        type=parse_int,
        help="na-rs two-stage: random search, then re-rank the top K by NA score",
    )
    na.add_argument(
        "--stage1-fraction",
        type=parse_float,
        help="two-stage with charged neighbours: budget share of stage 1 (0.5)",
    )
    ev = p.add_argument_group("evolution / local search options")
    ev.add_argument("--population", type=parse_int, help="REA population (default 10)")
    ev.add_argument("--sample-size", type=parse_int, help="REA tournament sample (default 3)")
    ev.add_argument(
        "--mutation",
        choices=("node-then-edge", "uniform-edge"),
        help="REA mutation (default node-then-edge, as NB201)",
    )
    ev.add_argument(
        "--first-improvement",
        action="store_const",
        const=True,
        help="local search moves to the first better neighbour",
    )
    add_table_arg(p)
    add_json_arg(p)
    # make_algorithm's name is --algo (refusals name it as errors.Param: common.error_line);
    # a protocol's budget_queries is set by the fixed-n family; the parser spells the notes'
    # parameters too (a stalled run's fix)
    p.set_defaults(
        func=cmd_search,
        param_dests={"name": "algo"},
        param_elsewhere={"budget_queries": "--protocol fixed-n"},
    )

    p = sub.add_parser(
        "reproduce",
        help="reproduce the NA paper's NA-RS vs RS claim over a grid of protocols",
        # statistics.MIN_RUNS_VERDICT, not read from it here (that import costs every
        # command's start-up pandas): tests/cli/test_search_audit10.py holds them equal
        description="Run RS, NA-RS (and relatives) over the grid of protocol choices, write "
        "summary/paired/anchors/curves CSVs and report.md (naming the table and its sha256) "
        "to --out (atomically), with a "
        "verdict per row: reproduced, contradicted or inconclusive; none for a row of fewer "
        "than 20 paired runs (its CI is still given). A grid where some row "
        "would have fewer than two runs with a reported value (no confidence interval) is "
        "refused, naming the rows, and nothing is written.",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for the CSVs and report.md (created); its other files are left alone, "
        "and a failed run leaves the previous report",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: a tiny grid (seconds), numbers without verdicts",
    )
    p.add_argument(
        "--design",
        choices=("one-at-a-time", "full"),
        default=None,
        help="vary one NA choice at a time (default) or every combination; refused where "
        "both run the same grid (--quick: one level per choice). Every combination holds "
        "radius 2 with charged neighbours, which nb201's time budget cannot pay for (refused "
        "before any run) and per-dataset's seldom can (rows of too few runs for a verdict): "
        "add --charge-neighbours free",
    )
    charge = p.add_argument(
        "--charge-neighbours",
        dest="charge",
        choices=tuple(_CHARGE_LEVELS),
        default=None,
        help="the grid's neighbour-query levels: free, charged to the budget, or both "
        "(default both; free with --quick); the base NA objective's neighbours are free "
        "whatever is given",
    )
    add_renamed_flag(p, "--charge", charge)  # its spelling before 0.2.0
    p.add_argument(
        "--protocols",
        default=None,
        help="comma-separated families (default nb201,per-dataset; nb201 with --quick)",
    )
    p.add_argument(
        "--search-epochs",
        default=None,
        help="comma-separated schedules searched (default 12,200; 12 with --quick): 12 and/or "
        "200 with nb201 or per-dataset, whose time budgets are set for those; any the table "
        "stores with fixed-n alone (on a table without both a validation and a test split "
        "fixed-n searches one 200-epoch key itself, and refuses others)",
    )
    p.add_argument(
        "--fixed-n",
        type=parse_int,
        default=None,
        help="queries per run of the fixed-n protocols (default 100; needs fixed-n in --protocols)",
    )
    p.add_argument(
        "--rerank-top-k",
        default=None,
        metavar="K",
        help="comma-separated top-k sizes of the grid's two-stage NA-RS variants (default 10; "
        "0: no two-stage variant)",
    )
    _add_run_args(p, runs=None)
    add_neighbourhood_args(
        p,
        # ReproduceConfig's base (tests/cli/test_neighbourhood_help.py holds them equal),
        # not read from it here: that import costs `search --help` pandas and the runner
        default=NA_PAPER,
        title="neighbourhood of the base NA objective (the grid varies it)",
        aggregators=AGGREGATORS,
    )
    add_table_arg(p)
    add_json_arg(p)
    # the protocol builders' parameters, as reproduce's own options spell them; its grid
    # sets the budgets, radius and two-stage variants itself (Protocol.budget_by names the
    # grid's fields, as its stage-1 refusal does rerank_top_k); a fixed-n protocol's n is the
    # grid's fixed_n; the grid's fields without a flag are named where they are set
    p.set_defaults(
        func=cmd_reproduce,
        param_dests={
            "protocol": "protocols",
            "epochs": "search_epochs",
            "n": "fixed_n",
            "base": "radius",  # the grid's base at another radius (grid.BaseRadius)
        },
        # the grid without two-stage variants: its refusals' way to leave them out; fixed-n
        # alone, the grid's way to other search epochs (cmd_reproduce adds the grid's own
        # families and epochs)
        param_values={
            "rerank_top_k": {(): "0"},
            "charge": {levels: name for name, levels in _CHARGE_LEVELS.items()},
            "protocols": {("fixed-n",): "fixed-n"},
        },
        # a query budget (the protocols' Call of fixed_n_protocols) is the grid's fixed-n
        # family, with its queries per run
        param_elsewhere={
            "fixed_n_protocols": "--fixed-n N --protocols fixed-n",
            **{
                name: f"ReproduceConfig({name}=...) in Python"
                for name in ("budget_scale_200", "radii", "relatives", "seed_policy")
            },
        },
    )


#: reproduce's claim columns as its --json names them: the dataset searched as search's JSON
#: names it, and whether neighbour queries were charged as the option that sets it
CLAIM_JSON_NAMES: dict[str, str] = {"search": "search_dataset", "charge": "charge_neighbours"}

#: reproduce's --charge-neighbours: the grid's ``charge`` levels (neighbour queries charged
#: or free)
_CHARGE_LEVELS: dict[str, tuple[bool, ...]] = {
    "free": (False,),
    "charged": (True,),
    "both": (False, True),
}


def _add_run_args(p: argparse.ArgumentParser, *, runs: int | None) -> None:
    p.add_argument(
        "--runs",
        type=parse_int,
        default=runs,
        help=f"runs per cell (default {runs if runs else '500; 20 with --quick'})",
    )
    p.add_argument("--seed", type=parse_int, default=0, help="master seed (default 0)")
    p.add_argument(
        "--jobs",
        type=parse_int,
        default=None,
        help="worker processes (default: one per CPU, as many as fit in memory)",
    )
    p.add_argument("--progress", action="store_true", help="show a progress bar")


def _jobs(args: argparse.Namespace) -> int | None:
    """``--jobs`` checked (budget.check_search_jobs: a whole number >= 1), or ``None``: the
    runner's default, one per CPU, as many as fit once the table is in memory. Memory is
    checked by the runner, for the workers that start (fewer where there are fewer tasks)."""
    if args.jobs is None:
        return None
    return budget.check_search_jobs(args.jobs)


def _check_search_options(args: argparse.Namespace) -> None:
    """Options that do not apply to the chosen protocol or algorithm are errors, not ignored."""
    from nb201_flat.errors import ArgumentError, Param, check_float_range, check_int_range
    from nb201_flat.search.protocol import check_timed_epochs

    if args.budget_scale is not None:  # a finite multiplier > 0 (the work bound is the oracle's)
        check_float_range(
            "--budget-scale",
            args.budget_scale,
            0.0,
            lo_open=True,
            fix="pass a positive multiplier of the time budget, e.g. 2",
        )
    if args.n is not None:
        check_int_range("--fixed-n", args.n, 1, fix="pass the queries per run, e.g. 100")
    if args.epochs is not None:
        check_int_range(
            "--search-epochs", args.epochs, 1, fix="pass the search epochs, e.g. 12 or 200"
        )
        # protocols_by_name's own refusal, in this command's flags (its `name` is --algo here)
        check_timed_epochs(
            (args.protocol,),
            (args.epochs,),
            Param("epochs"),
            ("use a query budget (", Param("protocol", "fixed-n"), ")"),
        )
    if args.protocol == "fixed-n":
        if args.budget_scale is not None:
            raise ArgumentError(
                "--budget-scale applies to the time budgets of nb201 and per-dataset, not "
                "fixed-n (a query count); use --fixed-n"
            )
    elif args.n is not None:
        raise ArgumentError(
            f"--fixed-n applies only with --protocol fixed-n, not {args.protocol}; use --budget-scale"
        )


def _check_repeats(args: argparse.Namespace, algo: SearchAlgorithm) -> None:
    """``--repeats`` for an algorithm that keeps the cells it paid for is an error: a revisit
    is free there, and charge and cache gave the same runs."""
    from nb201_flat.errors import ArgumentError
    from nb201_flat.search.algorithms import keeps_paid_cells

    if args.repeats is not None and keeps_paid_cells(algo):
        raise ArgumentError(
            f"--repeats does not apply to {algo.label}: it keeps every cell it paid for in a "
            "run, so a revisit is never charged; drop --repeats (it applies to rs and rea)"
        )


def _search_algorithm(args: argparse.Namespace) -> SearchAlgorithm:
    """The algorithm ``--algo`` and its options name: :func:`make_algorithm`'s defaults
    where an option is not given (the neighbourhood's: ``NeighbourObjective()``'s, which the
    help states)."""
    from nb201_flat.search import make_algorithm

    options = neighbourhood_fields(args) | {
        k: getattr(args, k)
        for k in (
            "charge",
            "rerank_top_k",
            "stage1_fraction",
            "population",
            "sample_size",
            "mutation",
            "first_improvement",
        )
    }
    return make_algorithm(args.algo, **options)


def cmd_search(args: argparse.Namespace) -> int:
    from nb201_flat.conventions import budget_rule_note
    from nb201_flat.search import protocols_by_name, run_search
    from nb201_flat.search.protocol import check_benchmark_times

    _check_search_options(args)
    from nb201_flat.errors import check_seed
    from nb201_flat.search.runner import check_runs

    check_runs(args.runs, "--runs")  # the runner's bound, before any work
    check_seed(args.seed, "--seed")
    jobs = _jobs(args)
    algo = _search_algorithm(args)  # refuses a tournament larger than the population too
    _check_repeats(args, algo)
    # the flags together, before any work; after the algorithm's own refusal of a flag it
    # takes none of (--quantile with --algo rs asked for --agg, which rs refuses)
    neighbourhood_from_args(args)
    table = open_table(args)
    given_scale = 1.0 if args.budget_scale is None else args.budget_scale
    timed = args.protocol != "fixed-n"
    if timed:  # the protocols' own refusal, naming this command's way out (no seconds flag)
        check_benchmark_times(table, (args.protocol,))
    protocols = protocols_by_name(
        args.protocol,
        table,
        epochs=args.epochs,
        seed_policy=args.seed_policy,
        n=None if timed else args.n,
        budget_scale=given_scale if timed else None,  # the builders apply the epochs rule
        repeats=args.repeats or "charge",
    )
    t0 = time.perf_counter()
    res = run_search(
        table,
        protocols,
        algo,
        runs=args.runs,
        seed=args.seed,
        jobs=jobs,
        progress=args.progress or budget.progress_enabled(),
    )
    took = time.perf_counter() - t0
    summary = res.summary()  # refuses a cell whose runs have no reported value (n = 0)
    notes = list(res.spelled_notes(spell(args)))
    if timed and args.epochs not in (None, 12):
        notes.insert(0, budget_rule_note(args.epochs, given_scale, "--budget-scale"))
    searched = {p.name: p.search for p in protocols}
    optimistic = {p.name: p.optimistic for p in protocols}
    cells = summary.to_dict(orient="records")
    rows: list[dict[str, Any]] = [
        {
            # a cell (fixed-n:cifar10-valid) as the family and the dataset searched, as
            # reproduce's claims name them; search_key is the whole key searched
            "protocol": args.protocol,
            "search_dataset": searched[r["protocol"]].dataset,
            "search_epochs": searched[r["protocol"]].epochs,
            "search_key": str(searched[r["protocol"]]),
            "dataset": r["dataset"],
            "split": r["split"],
            "epochs": int(r["epochs"]),
            "metric": r["metric"],
            "mean": r["mean"],
            "std": r["std"],
            "n": int(r["n"]),
            "queries": r["queries"],  # charged to the budget
            "simulated_seconds": r["seconds"],  # charged training time, not wall time
            # what a search with free look-ups evaluated beyond its charge (NA searches;
            # otherwise 0, evaluations = queries and the two simulated times equal)
            "free_queries": r["free_queries"],
            "evaluations": r["evaluations"],
            "simulated_total_seconds": r["total_seconds"],
            "optimistic": optimistic[r["protocol"]],
            "stalled": int(r["stalled"]),  # runs that ended with budget unspent (notes)
        }
        for r in cells
    ]
    # the master seed (of the runs' draws) apart from the oracle's seed policy (of the values):
    # a family's builder gives each of its protocols the one policy, as query gives it
    policies = list(dict.fromkeys(p.seed_policy for p in protocols))
    policy = policies[0] if len(policies) == 1 else ", ".join(map(str, policies))
    payload = {
        "algorithm": algo.label,
        "protocol": args.protocol,
        "protocols": [p.describe() for p in protocols],
        "runs": args.runs,
        "master_seed": args.seed,
        "seed_policy": policy,
        "results": rows,
        "notes": notes,
        "source": table.source,
        # how long the command took, apart from the rows' simulated training time
        "wall_seconds": round(took, 3),
    }
    if args.json:
        emit_json(payload)
        return 0
    print(
        f"{algo.label} under {args.protocol}: {args.runs} runs, master seed {args.seed}, oracle "
        f"seed policy {payload['seed_policy']}, {took:.1f} s ({table.source}); test value at each run's "
        "pick, mean ± std over runs"
    )
    # what each protocol searched and its budget, as --json's protocols: a scaled budget was
    # said only at 200 epochs, and the key searched nowhere
    for p in protocols:
        print(f"protocol {p.describe()}")
    # the whole key: a 12-epoch value must not read as a 200-epoch one
    reported_keys = [
        str(MetricKey(r["dataset"], r["split"], r["epochs"], r["metric"])) for r in rows
    ]
    width = max((len(k) for k in reported_keys), default=0)
    for r, cell, reported in zip(rows, cells, reported_keys, strict=True):
        flag = "  [OPTIMISTIC: search metric = report metric]" if r["optimistic"] else ""
        # one run has no std: the mean alone, as report.md shows it (n says why)
        spread = "" if math.isnan(r["std"]) else f" ± {r['std']:.2f}"
        print(
            f"  {cell['protocol']:<34} {reported:<{width}}  "
            f"{num(r['mean'], '.2f')}{spread} (n={r['n']}, "
            f"{_mean_count(r['queries'])} queries charged, "
            f"{_mean_count(r['evaluations'])} evaluations)"
            f"{flag}"
        )
    for n in notes:
        print(f"note: {n}")
    return 0


def _mean_count(x: float) -> str:
    """A mean over runs of a count: whole where it is (``1,200``), else one decimal (``0.5``:
    half the runs charged one query read as ``0``).

    >>> _mean_count(1200.0), _mean_count(0.5)
    ('1,200', '0.5')
    """
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _comma_list(flag: str, text: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated option: empty is an error, each item one of ``choices`` (any case),
    each given once."""
    from nb201_flat.errors import ArgumentError, check_choice

    items = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    if not items:
        raise ArgumentError(f"{flag} is empty; name one or more of {', '.join(choices)}")
    for item in items:
        check_choice(flag, item, choices)
    check_each_once(flag, items)
    return items


def _reproduce_config(args: argparse.Namespace) -> ReproduceConfig:
    """The grid the flags name: ``ReproduceConfig()`` (or ``.quick()``) changed by what is
    given; the neighbourhood flags change its base objective's neighbourhood (the help states
    that base's values), the others are checked here, before any work."""
    from dataclasses import replace

    from nb201_flat.errors import ArgumentError, check_seed
    from nb201_flat.neighbourhood import Neighbourhood
    from nb201_flat.search.grid import ReproduceConfig, check_quantile_applies
    from nb201_flat.search.protocol import PROTOCOL_NAMES
    from nb201_flat.search.runner import check_runs

    cfg = ReproduceConfig.quick() if args.quick else ReproduceConfig()
    changes: dict[str, Any] = {"seed": check_seed(args.seed, "--seed")}
    if args.runs is not None:
        # the runner's bound, before any work; each verdict rests on a confidence interval
        changes["runs"] = check_runs(args.runs, "--runs", ci=True)
    if args.design is not None:
        changes["design"] = args.design
    if args.protocols is not None:
        changes["protocols"] = _comma_list("--protocols", args.protocols, PROTOCOL_NAMES)
    if args.search_epochs is not None:
        # whole numbers >= 1; the grid refuses those its protocols cannot search
        changes["search_epochs"] = _whole_numbers(
            "--search-epochs", args.search_epochs, "give comma-separated search epochs, e.g. 12,200"
        )
    if args.fixed_n is not None:
        # given, it must apply (the config refuses only a value other than its default)
        if "fixed-n" not in changes.get("protocols", cfg.protocols):
            raise ArgumentError(
                "--fixed-n applies only to the fixed-n protocol; add fixed-n to --protocols, "
                "or drop --fixed-n"
            )
        changes["fixed_n"] = args.fixed_n  # the config checks its range
    if args.rerank_top_k is not None:
        changes["rerank_top_k"] = _top_k_sizes(args.rerank_top_k)
    if args.charge is not None:
        changes["charge"] = _CHARGE_LEVELS[args.charge]
    fields = neighbourhood_fields(args)
    if any(v is not None for v in fields.values()):
        spec = neighbourhood_from_args(args, cfg.base.neighbourhood, quantile_needs_agg=False)
        if args.quantile is not None and spec.level is None:
            # the level of the grid's quantile variants: a base of another aggregator has none
            changes["quantile"] = args.quantile
            spec = Neighbourhood.build(cfg.base.neighbourhood, **(fields | {"quantile": None}))
        changes["base"] = replace(cfg.base, neighbourhood=spec)
        if "quantile" in changes:  # the grid's rule, named by its flags
            fix = "drop --quantile, or drop --quick for the full grid" if args.quick else "drop it"
            check_quantile_applies(cfg.aggregators, "--quantile", fix)
    cfg = replace(cfg, **changes)
    if args.design is not None:
        other = replace(cfg, design="full" if cfg.design == "one-at-a-time" else "one-at-a-time")
        if set(cfg.algorithms()) == set(other.algorithms()):
            # e.g. --quick: one level per NA choice, the same grid either way
            raise ArgumentError(
                f"--design {args.design} changes nothing here: every NA choice of this grid "
                f"has one level{' (--quick)' if args.quick else ''}, so both designs run the "
                "same algorithms; drop --design, or drop --quick for the full grid"
            )
    if args.charge == "charged":
        both = replace(cfg, charge=_CHARGE_LEVELS["both"])
        if set(cfg.algorithms()) == set(both.algorithms()):
            # one choice at a time departs from the base, whose neighbours are free: its free
            # variant is the base itself (--quick: every combination is the same grid)
            full = "" if args.quick else ", or --design full"
            raise ArgumentError(
                "--charge-neighbours charged runs the same grid as --charge-neighbours both here: one choice at a "
                "time, every variant departs from the base NA objective, whose neighbours are "
                f"free, so free neighbours run anyway; give --charge-neighbours both{full}"
            )
    return cfg


def _top_k_sizes(text: str) -> tuple[int, ...]:
    """``--rerank-top-k``: comma-separated sizes, each a whole number >= 1 given once, or
    ``0`` alone for no two-stage variant (the grid's ``rerank_top_k=()``)."""
    if [s.strip() for s in text.split(",") if s.strip()] == ["0"]:
        return ()
    return _whole_numbers(
        "--rerank-top-k",
        text,
        "give comma-separated sizes >= 1 (e.g. 10 or 5,10), or 0 alone for no two-stage variant",
        empty="give sizes such as 10 or 5,10, or 0",
    )


def _whole_numbers(flag: str, text: str, fix: str, *, empty: str = "") -> tuple[int, ...]:
    """A comma-separated option of whole numbers >= 1, each given once; ``fix`` ends the
    refusal of an item that is none (``empty``, where given, that of an empty list)."""
    from nb201_flat.errors import ArgumentError

    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ArgumentError(f"{flag} is empty; {empty or fix}")
    numbers = []
    for item in items:
        try:
            k = parse_int(item)
        except argparse.ArgumentTypeError:
            k = 0
        if k < 1:
            raise ArgumentError(f"{flag} holds {item!r}; {fix}")
        numbers.append(k)
    check_each_once(flag, [str(k) for k in numbers])
    return tuple(numbers)


# the files search.report.write_report writes into --out, refused up front where one cannot
# be replaced (tests/cli checks this list against the files a run writes)
REPORT_FILES = (
    "summary.csv",
    "paired.csv",
    "anchors.csv",
    "accounting.csv",
    "matched.csv",
    "routes.csv",
    "curves.csv",
    "runs.csv.gz",
    "report.md",
)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from nb201_flat.atomic import check_replaceable_files
    from nb201_flat.conventions import SEARCH_EPOCHS
    from nb201_flat.search.grid import reproduce
    from nb201_flat.search.protocol import TIMED_PROTOCOLS, check_benchmark_times
    from nb201_flat.search.report import write_report
    from nb201_flat.search.statistics import claim_rows

    check_replaceable_files(args.out, REPORT_FILES)  # before the long run, not after it
    cfg = _reproduce_config(args)
    # a refusal names the families or epochs to keep as a tuple (Python): the flags take a
    # comma-separated list
    args.param_values = {
        **args.param_values,
        "protocols": {
            **args.param_values["protocols"],
            **{
                keep: ",".join(keep)
                for k in range(1, len(cfg.protocols))
                for keep in itertools.combinations(cfg.protocols, k)
            },
        },
        "search_epochs": {(e,): str(e) for e in SEARCH_EPOCHS},
    }
    jobs = _jobs(args)  # before the long run
    table = open_table(args)
    check_outside_table(args.out, table, "--out")
    # before the long run, naming this command's way out: the grid's time budgets are NB201's
    check_benchmark_times(table, [f for f in cfg.protocols if f in TIMED_PROTOCOLS])
    t0 = time.perf_counter()
    result = reproduce(table, cfg, jobs=jobs, progress=args.progress or budget.progress_enabled())
    took = time.perf_counter() - t0
    files = write_report(result, args.out, seconds=took, table=table)
    claims = claim_rows(result.paired)
    if args.json:
        emit_json(
            {
                "out": str(args.out),
                "files": [str(f) for f in files],
                # the table the numbers come from, as report.md names it
                "source": table.source,
                "table_sha256": table.meta.get("sha256"),
                "wall_seconds": round(took, 3),  # how long the command took
                # the paired frame's columns in search's vocabulary (its CSV keeps them)
                "claims": claims.rename(columns=CLAIM_JSON_NAMES).to_dict(orient="records"),
                "verdicts": result.paired["verdict"].value_counts().to_dict(),
            }
        )
        return 0
    print(
        f"reproduce: {len(result.summary)} summary rows, {len(result.paired)} paired rows "
        f"in {took:.1f} s -> {args.out}"
    )
    for r in claims.to_dict(orient="records"):
        # search's mark: such a row is an upper bound (also report.md's notes, the CSVs' column)
        flag = "  [OPTIMISTIC: search metric = report metric]" if r["optimistic"] else ""
        # the whole reported key: a 12-epoch value must not read as a 200-epoch one
        key = MetricKey(r["dataset"], r["split"], r["epochs"], r["metric"])
        print(
            f"  {r['protocol']:<34} {key!s:<36} {r['algorithm']:<40} "
            f"{r['diff']:+.2f} [{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}] (n={r['n']}) vs "
            f"{r['claim']:+.2f}: {r['verdict']}{flag}"
        )
    # stalled runs ended with budget unspent and are averaged in: said only when there are any
    per_run = result.runs.drop_duplicates(["protocol", "algorithm", "run"])
    stalled = int(per_run["stalled"].sum()) if "stalled" in per_run.columns else 0
    if stalled:
        print(
            f"  {stalled} of {len(per_run)} runs stalled (ended with budget unspent; the means "
            "include them): per cell in report.md's notes and summary.csv's column stalled"
        )
    return 0
