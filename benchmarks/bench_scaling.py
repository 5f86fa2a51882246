"""How neighbourhood aggregates and the barrier forest grow with the size of the space.

Synthetic spaces ``Space(ops, n_nodes)`` with random metric vectors, each measured cold (index
arrays built, then the aggregate) in its own process so peak memory is per space. Radii 2 and
3 materialise ``size x width`` index matrices, so they stop where that no longer fits in
memory; radius 1 and the barrier forest go as far as memory allows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks._common import run_child

GROUP = "scaling"
# (n_ops, n_nodes) -> radii, barrier forest?
FULL_LADDER: dict[tuple[int, int], tuple[list[int], bool]] = {
    (5, 4): ([1, 2, 3], True),  # 15,625 (NB201's size)
    (6, 4): ([3], False),  # 46,656
    (7, 4): ([1, 2], True),  # 117,649
    (8, 4): ([2], False),  # 262,144
    (10, 4): ([1], True),  # 1,000,000
    (5, 5): ([1], False),  # 9,765,625 (>= 7^8 = 5,764,801)
}
QUICK_LADDER: dict[tuple[int, int], tuple[list[int], bool]] = {
    (5, 4): ([1, 2, 3], True),
    (7, 4): ([1, 2], True),
    (10, 4): ([1], False),
}
LIMIT_GB = 12.0


def fit_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """Slope of log(seconds) against log(size): 1 means linear growth."""
    if len(sizes) < 2:
        return None
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


def run(*, quick: bool) -> dict[str, Any]:
    """Measure the ladder; returns points per operation and the fitted exponents."""
    ladder = QUICK_LADDER if quick else FULL_LADDER
    points: dict[str, list[dict[str, Any]]] = {}
    for (k, n), (radii, barrier) in ladder.items():
        args = ["scaling", str(k), str(n), "--radii", *map(str, radii), "--limit-gb", str(LIMIT_GB)]
        res = run_child([*args, "--barrier"] if barrier else args, timeout=1800)
        for row in res["rows"]:
            total = row.get("precompute_s")
            if total is None and "index_s" in row:
                total = row["index_s"] + row["aggregate_s"]
            point = {
                "space": f"{k} ops, {n} nodes",
                "size": row["size"],
                "width": row.get("width"),
                "total_s": total,
                "index_s": row.get("index_s"),
                "aggregate_s": row.get("aggregate_s"),
                "peak_rss_mb": row["peak_rss_mb"],
                "error": row.get("error"),
            }
            if total is not None:
                point["us_per_arch"] = total / row["size"] * 1e6
                if row.get("width"):
                    point["ns_per_entry"] = total / (row["size"] * row["width"]) * 1e9
            points.setdefault(row["what"], []).append(point)
    summary = {}
    for what, pts in points.items():
        ok = [p for p in pts if p["total_s"] is not None]
        summary[what] = {
            "points": pts,
            "exponent_time_vs_size": fit_exponent(
                [p["size"] for p in ok], [p["total_s"] for p in ok]
            ),
            # widths differ between spaces: growth per (arch x neighbour) entry is the fair one
            "exponent_time_vs_entries": fit_exponent(
                [p["size"] * p["width"] for p in ok if p.get("width")],
                [p["total_s"] for p in ok if p.get("width")],
            ),
            "largest_size": max((p["size"] for p in ok), default=None),
        }
    return summary


def markdown(summary: dict[str, Any]) -> str:
    """The scaling section of the report."""
    lines = [
        "| operation | space | archs | width | total s | µs/arch | ns/entry | peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for what, s in summary.items():
        for p in s["points"]:
            if p["total_s"] is None:
                lines.append(
                    f"| {what} | {p['space']} | {p['size']:,} | {p['width'] or ''} | "
                    f"{p['error']} | | | {p['peak_rss_mb']:.0f} |"
                )
                continue
            ns = p.get("ns_per_entry")
            lines.append(
                f"| {what} | {p['space']} | {p['size']:,} | {p['width'] or ''} | "
                f"{p['total_s']:.3f} | {p['us_per_arch']:.2f} | "
                f"{'' if ns is None else f'{ns:.1f}'} | {p['peak_rss_mb']:.0f} |"
            )
    lines.append("")
    for what, s in summary.items():
        e, en = s["exponent_time_vs_size"], s.get("exponent_time_vs_entries")
        if e is None or math.isnan(e):
            lines.append(f"- {what}: one point only")
            continue
        per_entry = f", ~ (archs x width)^{en:.2f}" if en is not None else ""
        lines.append(
            f"- {what}: time ~ archs^{e:.2f}{per_entry}, up to {s['largest_size']:,} archs"
        )
    return "\n".join(lines)
