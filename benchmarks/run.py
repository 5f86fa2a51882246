"""Run the benchmarks: ``python -m benchmarks.run [--quick] [--only NAME ...] [--out DIR]``.

Groups: ``official`` (nas_201_api), ``networkx``, ``loops`` (NASLib / A²M style),
``reproduce`` (the default grid end to end), ``aggregates`` (neighbourhood engine), ``vectorised``
(RS / NA-RS across runs) and ``scaling`` (synthetic spaces). Prints a
Markdown table (ours, baseline, ratio, peak memory, target) and writes ``latest.json`` and
``latest.md`` into ``--out``, each atomically. Its default is ``benchmarks/results`` (the
committed record) for a full run only; a partial run (``--quick`` or ``--only``) goes to
``benchmarks/results/partial`` (git-ignored) unless ``--out`` says otherwise, so that a quick
look never replaces the full record.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import REPO_ROOT, Row, atomic_write_text, machine_info

GROUPS = (
    "official",
    "networkx",
    "loops",
    "reproduce",
    "aggregates",
    "vectorised",
    "startup",
    "figures",
    "scaling",
    "curves",
)
log = logging.getLogger("benchmarks")
# the committed record of a full run; partial runs (--quick, --only) write beside it, ignored
RECORD = REPO_ROOT / "benchmarks" / "results"
PARTIAL = RECORD / "partial"


def _runners(quick: bool, repeats: int) -> dict[str, Callable[[], list[Row]]]:
    from benchmarks import (
        bench_aggregates,
        bench_curves,
        bench_graph,
        bench_official,
        bench_reproduce,
        bench_startup,
    )

    return {
        "aggregates": lambda: bench_aggregates.run(quick=quick, repeats=repeats),
        "vectorised": lambda: bench_aggregates.run_vectorised(quick=quick, repeats=repeats),
        "official": lambda: bench_official.run(quick=quick, repeats=repeats),
        "networkx": lambda: bench_graph.run_networkx(quick=quick, repeats=repeats),
        "loops": lambda: bench_graph.run_loops(quick=quick, repeats=repeats),
        "reproduce": lambda: bench_reproduce.run(quick=quick, repeats=repeats),
        "curves": lambda: bench_curves.run(quick=quick, repeats=repeats),
        "startup": lambda: bench_startup.run_startup(quick=quick, repeats=repeats),
        # the end-to-end rows come from main(), measured before anything else is loaded
        "figures": lambda: bench_startup.run_figures(quick=quick, repeats=repeats),
    }


def fmt_s(x: float | None) -> str:
    if x is None or math.isnan(x):
        return ""
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def fmt_mb(x: float | None) -> str:
    if x is None or math.isnan(x):
        return ""
    return f"{x / 1024:.2f} GB" if x >= 1024 else f"{x:.1f} MB"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:,.0f}x" if x >= 10 else f"{x:.2f}x"


def markdown_rows(rows: Sequence[Row]) -> str:
    head = (
        "| group | operation | ours | baseline | ratio | peak ours | peak baseline | target | met "
        "| same numbers | note |\n|---|---|---:|---:|---:|---:|---:|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.met]
        same = {True: "yes", False: "**NO**", None: ""}[r.same_result]
        note = r.note if r.status == "ok" else f"{r.status}: {r.note.removeprefix(r.status + ': ')}"
        if r.met is False and r.extra.get("bound"):
            note = f"{note}. Missed: {r.extra['bound']}"
        if "memory_target_met" in r.extra:
            ok = r.extra["memory_target_met"]
            note = f"{note}. Memory target (<1/20): {'met' if ok else 'missed'}, ratio {r.extra['memory_ratio_measured']:.0f}x measured / {r.extra['memory_ratio_full_est']:.0f}x full est."
        lines.append(
            f"| {r.group} | {r.name} | {fmt_s(r.ours_s)} | {fmt_s(r.baseline_s)} | "
            f"{fmt_ratio(r.ratio)} | {fmt_mb(r.ours_peak_mb)} | {fmt_mb(r.baseline_peak_mb)} | "
            f"{r.target} | {met} | {same} | {note.replace('|', '/')} |"
        )
    return "\n".join(lines)


def render(
    rows: Sequence[Row],
    scaling: dict[str, Any] | None,
    machine: dict[str, Any],
    mode: str,
    wall: float,
) -> str:
    from benchmarks.bench_scaling import markdown as scaling_md

    m = machine
    parts = [
        f"# nb201_flat benchmarks ({mode} mode)",
        "",
        f"{m['cpu']}, {m['usable_cores']} usable cores, {m['ram_gb']} GB RAM; Python "
        f"{m['python']}, numpy {m['numpy']}, pandas {m['pandas']}, networkx {m['networkx']}, "
        f"torch {m['torch']}, nas-bench-201 {m['nas_201_api']}; commit "
        f"{(m['git_commit'] or '?')[:10]}{' (dirty tree)' if m['git_dirty'] else ''}. "
        f"Total wall time {wall:.0f} s. Times are medians of repeats after a warm-up unless "
        "the note says a slow baseline was timed once or on a sample.",
        "",
        markdown_rows(rows),
    ]
    if scaling:
        parts += [
            "",
            "## Scaling (ours, cold: index arrays built, then the aggregate)",
            "",
            scaling_md(scaling),
        ]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--quick", action="store_true", help="smaller fractions and samples, fewer repeats"
    )
    p.add_argument(
        "--only",
        nargs="+",
        choices=GROUPS,
        metavar="NAME",
        help=f"run only these groups: {', '.join(GROUPS)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where latest.json and latest.md go (default: benchmarks/results for a full run, "
        "the committed record; benchmarks/results/partial for --quick or --only)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per measurement (default 5, quick 3)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    repeats = args.repeats or (3 if args.quick else 5)
    chosen = args.only or list(GROUPS)
    out: Path = args.out or (PARTIAL if args.quick or args.only else RECORD)
    t0 = time.perf_counter()
    measured_first: list[Row] = []
    if "figures" in chosen:
        # first, while this process maps numpy alone: PSS splits a page among every process
        # that maps it, so a runner holding pandas, pyarrow and numba (the other groups load
        # them) took a share of the figures command's pages: 375 MB read, 413 MB alone
        from benchmarks import bench_figures

        log.info("running figures (the command's memory, measured first)")
        try:
            measured_first = bench_figures.run(quick=args.quick, repeats=repeats)
        except Exception as exc:  # as any group's failure: a row, never the others' results
            log.error("figures end to end failed:\n%s", traceback.format_exc())
            note = f"{type(exc).__name__}: {exc}"
            measured_first = [Row("figures", "(end to end)", status="error", note=note)]
    machine = machine_info()
    runners = _runners(args.quick, repeats)
    rows: list[Row] = []
    scaling: dict[str, Any] | None = None
    for group in GROUPS:
        if group not in chosen:
            continue
        log.info("running %s", group)
        try:
            if group == "scaling":
                from benchmarks import bench_scaling

                scaling = bench_scaling.run(quick=args.quick)
            else:
                if group == "figures":  # kept whatever the rest of the group does
                    rows.extend(measured_first)
                rows.extend(runners[group]())
        except Exception as exc:  # one failing group must not lose the others' results
            log.error("group %s failed:\n%s", group, traceback.format_exc())
            rows.append(Row(group, "(group)", status="error", note=f"{type(exc).__name__}: {exc}"))
    wall = time.perf_counter() - t0
    # a run of some groups is no full record, whatever its sample sizes
    mode = ("quick" if args.quick else "full") + (
        f", only {', '.join(chosen)}" if args.only else ""
    )
    payload = {
        "mode": mode,
        "wall_s": wall,
        "machine": machine,
        "rows": [r.to_json() for r in rows],
        "scaling": scaling,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    # the measurements first: a rendering bug must not lose a quarter hour of timings
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "latest.json", json.dumps(payload, indent=1, default=str) + "\n")
    text = render(rows, scaling, machine, mode, wall)
    atomic_write_text(out / "latest.md", text)
    sys.stdout.write(text)
    log.info("wrote %s and %s", out / "latest.json", out / "latest.md")
    return 1 if any(r.status == "error" or r.same_result is False for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
