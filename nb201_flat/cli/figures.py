"""CLI command ``figures``: regenerate the paper figures as PNG and PDF.

Of the full set, a figure the table cannot support is skipped with the reason (``skipped
a2m_paths: needs ...``) and the command still exits 0; ``--json`` lists what was written and
what was skipped. A figure named with ``--only`` was asked for by name: when the table cannot
support it, that is an error (one line, exit 2) and ``--out`` is left as it was.

The files of a run replace their previous versions together at the end, each in one rename;
other files in ``--out`` are never touched. A run that fails leaves every figure file at its
previous version (see :func:`nb201_flat.atomic.replace_files`).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from nb201_flat import budget
from nb201_flat.atomic import check_replaceable_files, replace_files
from nb201_flat.cli.common import (
    add_json_arg,
    add_table_arg,
    check_each_once,
    check_outside_table,
    emit_json,
    open_table,
    parse_int,
    spell,
)
from nb201_flat.errors import ArgumentError, check_int_range
from nb201_flat.figures.registry import FIGURE_NAMES, FIGURES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = "; ".join(f"{s.name}: {s.summary}" for s in FIGURES.values())
    p = sub.add_parser(
        "figures",
        help="regenerate the paper figures (PNG and PDF)",
        description="Render the figures of the NA and A²M papers on a table, each as "
        "OUT/NAME.png and OUT/NAME.pdf, or the --formats given (identical bytes on every run). "
        "Figures the table "
        f"cannot support are skipped with the reason. Figures: {listing}.",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (created); its other files are left alone, and a failed run "
        "leaves the previous figures",
    )
    p.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        choices=FIGURE_NAMES,
        help=f"render only these ({', '.join(FIGURE_NAMES)}); one the table cannot support "
        "is an error, not a skip",
    )
    p.add_argument(
        "--formats",
        nargs="+",
        default=["png", "pdf"],
        choices=("png", "pdf", "svg"),
        help="file formats (default: png pdf)",
    )
    p.add_argument(
        "--jobs",
        type=parse_int,
        default=None,
        metavar="N",
        help="worker processes: figures are drawn N at a time, each in its own process "
        "(default 2, or 1 on one CPU or when two do not fit in memory); a figure drawn alone "
        "(--only NAME) is drawn here and search_curves runs its searches in N processes (one "
        "without --jobs; any other figure alone refuses N > 1). "
        "The files are identical for any N",
    )
    add_table_arg(p)
    add_json_arg(p)
    # render_many's parameters by their options
    p.set_defaults(
        func=cmd_figures,
        param_dests={"workers": "jobs", "names": "only"},
        # the picks by value have no flag: the Python call draws them
        param_elsewhere={"pick": "make_na_projection(table, pick='value') in Python"},
    )


# Peak memory of each figure above a process that has loaded a 15,625-cell table (MB, peak RSS
# of `figures --only NAME` on the embedded default minus 150 MB); scaled by the space's size.
_PEAK_MB = {
    "na_projection": 100,
    "flat_vs_sharp": 40,
    "a2m_distributions": 70,
    "a2m_paths": 80,
    "search_curves": 20,
    "barrier_tree": 80,
    "distance_profile": 65,
    "barrier_census": 215,
    "flatness_by_epoch": 45,
}
# a search_curves worker process loads the table and the libraries itself
_WORKER_MB = budget.SEARCH_WORKER_MB
# a forked figure worker shares the libraries and the table with this process; what it copies
_FORKED_MB = 40


def figure_bytes(name: str, size: int, jobs: int = 1) -> int:
    """Estimated peak memory of drawing figure ``name`` on a table over ``size`` cells.

    >>> budget.human(figure_bytes("barrier_census", 15625))
    '215 MB'
    """
    mb = _PEAK_MB.get(name, 100) * max(size, 1) / 15625
    if name == "search_curves" and jobs > 1:
        mb += jobs * _WORKER_MB
    return int(mb * 2**20)


def _parallel_bytes(names: list[str], size: int, workers: int) -> int:
    """Estimated peak of drawing ``names`` ``workers`` at a time: the largest figures at once,
    each in a worker process of its own."""
    each = sorted((figure_bytes(n, size) for n in names), reverse=True)
    return sum(each[:workers]) + workers * _FORKED_MB * 2**20


def _workers(args: argparse.Namespace, names: list[str], size: int) -> int:
    """How many figures to draw at a time: ``--jobs``, or by default two where two CPUs are
    free to this process and two of the largest fit in memory."""
    if len(names) <= 1:
        return 1
    if args.jobs is not None:
        jobs = min(int(args.jobs), len(names))  # no more workers than figures are started
        if jobs > 1:
            need = _parallel_bytes(names, size, jobs)
            budget.check_memory(need, f"{jobs} figures at once", "--jobs 1 draws one at a time")
        return jobs
    workers = min(2, budget.usable_cores(), len(names))
    while workers > 1 and not budget.fits(_parallel_bytes(names, size, workers)):
        workers -= 1
    return workers


def _check_figures_memory(names: list[str], size: int, jobs: int) -> None:
    """Figures are drawn one after another: the largest one must fit; name those that do."""
    need = {n: figure_bytes(n, size, jobs) for n in names}
    worst = max(need, key=need.__getitem__)
    if budget.fits(need[worst]):
        return
    fitting = [n for n in names if budget.fits(need[n])]
    fix = f"--only {' '.join(fitting)} fits" if fitting else "no figure fits"
    if worst == "search_curves" and jobs > 1:
        fix += "; fewer --jobs need less"
    budget.check_memory(need[worst], f"figure {worst}", fix)


def cmd_figures(args: argparse.Namespace) -> int:
    # a file-only backend before anything imports pyplot: no display, same bytes everywhere
    import matplotlib

    matplotlib.use("Agg")

    from nb201_flat.figures._common import FigureSkipped
    from nb201_flat.figures.registry import render_many

    if args.jobs is not None:
        check_int_range("--jobs", args.jobs, 1, fix="pass --jobs 1 to draw in this process")
    check_each_once("--only", args.only or [])
    check_each_once("--formats", args.formats)
    names = list(args.only) if args.only else list(FIGURE_NAMES)
    if args.jobs is not None and args.jobs > 1 and names != ["search_curves"] and len(names) == 1:
        # one figure is drawn here, and only search_curves has work to share out
        raise ArgumentError(
            f"--jobs {args.jobs} does nothing for --only {names[0]}: a figure drawn alone is "
            "drawn in this process (only search_curves spreads its searches over --jobs); "
            "drop --jobs, or name more figures in --only"
        )
    # '.' too: files are renamed in, one by one; each file's target is checked before any
    # figure is drawn (a figure that turns out skipped is checked too: its name is known)
    targets = [f"{name}.{fmt}" for name in names for fmt in args.formats]
    out = check_replaceable_files(args.out, targets)
    table = open_table(args)
    check_outside_table(args.out, table, "--out")
    workers = _workers(args, names, table.space.size)
    # drawn alone, search_curves may use the processes for its searches; in a worker, not
    search_jobs = (args.jobs or 1) if workers == 1 else 1
    _check_figures_memory(names, table.space.size, search_jobs)
    options: dict[str, dict[str, Any]] = (
        {"search_curves": {"jobs": search_jobs}} if "search_curves" in names else {}
    )
    made: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    lines: list[str] = []  # printed once --out holds the files: an error leaves none behind
    t0 = time.perf_counter()
    # all or nothing: the figures are drawn into a staging folder, then each file is renamed
    # into --out; other files there are never touched (atomic.replace_files)
    with replace_files(out) as stage:
        results = render_many(
            names, table, stage, formats=tuple(args.formats), options=options, workers=workers
        )
        # a bar on a terminal only (not under --json, not when piped): budget.progress
        for name, r in budget.progress(results, total=len(names), desc="figures"):
            if isinstance(r, FigureSkipped):
                # the reason's parameters as this command spells them (its flags, commands)
                reason = r.spelled(spell(args))
                if args.only:  # asked for by name: not drawn is an error; --out is unchanged
                    raise ArgumentError(
                        f"--only {name}: this table cannot support it: {reason}; pass a "
                        f"--table that has it, or leave {name} out of --only"
                    )
                skipped.append({"name": name, "reason": reason})
                lines.append(f"skipped {name}: {reason}")
                continue
            files = [str(out / f.relative_to(stage)) for f in r.files]
            made.append(
                {
                    "name": r.name,
                    "files": files,
                    # how long it took to draw, not simulated time (search's "seconds")
                    "wall_seconds": round(r.seconds, 2),
                    "notes": list(r.notes),
                }
            )
            lines.append(f"{name:<18} {', '.join(files)}  ({r.seconds:.1f} s)")
            lines += [f"{'':<18} note: {note}" for note in r.notes]
        if not made:  # nothing to show for it: an error, as a figure asked for by name is
            said = "; ".join(f"{s['name']} {s['reason']}" for s in skipped)
            raise ArgumentError(
                f"no figure can be drawn from this table ({said}); pass a --table that has "
                "what they need"
            )
    total = time.perf_counter() - t0
    if args.json:
        emit_json(
            {
                "source": table.source,
                "table_path": table.meta["path"],  # --table, $NB201_FLAT_TABLE or the default
                "out": str(out),
                "figures": made,
                "skipped": skipped,
                "wall_seconds": round(total, 2),
            }
        )
    else:
        print("\n".join(lines))
        print(f"{len(made)} figures written to {out}, {len(skipped)} skipped, {total:.1f} s")
    return 0
