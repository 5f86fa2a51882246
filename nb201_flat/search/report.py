"""The reproduction report: CSV tables and Markdown, written atomically."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from nb201_flat import atomic
from nb201_flat.search.grid import ReproduceResult

log = logging.getLogger(__name__)


# -- writing ---------------------------------------------------------------------------------
def _atomic_write(path: Path, data: bytes) -> None:
    atomic.write_bytes(path, data)


def _csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, float_format="%.6g", lineterminator="\n").encode()


def markdown_table(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A GitHub Markdown table (no extra dependency)."""

    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        if v is None or v is pd.NA:
            return ""
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def _pm(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}" if np.isfinite(std) else f"{mean:.2f}"


def render_markdown(result: ReproduceResult, *, seconds: float | None = None) -> str:
    """The report as Markdown."""
    cfg = result.config
    out = ["# NA-RS vs RS on NAS-Bench-201: reproduction grid", ""]
    out.append(
        f"{cfg.runs} runs per cell, master seed {cfg.seed}, seed policy {cfg.seed_policy!r}, "
        f"design {cfg.design}; paired differences NA − base over runs sharing their seed, "
        f"{cfg.confidence:.0%} percentile bootstrap ({cfg.n_boot} resamples)."
        + (f" Took {seconds:.1f} s." if seconds is not None else "")
    )
    out += ["", "## Verdict rule", ""]
    out.append(
        f"Claim c (NA paper: +1.48 CIFAR-100, +1.58 ImageNet16-120 for NA-RS − RS): "
        f"**reproduced** if CI lower end > 0 and upper end ≥ {cfg.margin:g}·c; "
        f"**contradicted** if the upper end < {cfg.margin:g}·c (incl. CI below 0); "
        "**inconclusive** otherwise. Rows without a claimed size (CIFAR-10, REA/LS relatives) "
        "test the sign only (reproduced: CI > 0; contradicted: CI < 0)."
    )
    out += ["", "## Published anchors beside ours", ""]
    if not result.anchors.empty:
        a = result.anchors.copy()
        a["published"] = [
            _pm(v, s) if s is not None and np.isfinite(s) else f"{v:+.2f}"
            for v, s in zip(a["published"], a["published_std"].astype(float), strict=True)
        ]
        a["ours"] = [
            _pm(v, s) if np.isfinite(s) else f"{v:+.2f} {ci}"
            for v, s, ci in zip(a["ours"], a["ours_std"].astype(float), a["ours_ci"], strict=True)
        ]
        a = a.rename(columns={"delta": "ours − published"})
        out.append(
            markdown_table(
                a[
                    [
                        "source",
                        "quantity",
                        "protocol",
                        "dataset",
                        "published",
                        "ours",
                        "ours − published",
                        "n",
                    ]
                ]
            )
        )
    out += ["", "## Paired differences (NA − base) and verdicts", ""]
    p = result.paired
    if not p.empty:
        q = p.copy()
        q["diff [CI]"] = [
            f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"
            for d, lo, hi in zip(q["diff"], q["ci_lo"], q["ci_hi"], strict=True)
        ]
        q["claim"] = [
            f"{c:+.2f}" if c is not None and np.isfinite(c) else ">0"
            for c in q["claim"].astype(float)
        ]
        out.append(
            markdown_table(
                q[
                    [
                        "protocol",
                        "dataset",
                        "algorithm",
                        "base",
                        "na_mean",
                        "base_mean",
                        "diff [CI]",
                        "claim",
                        "verdict",
                    ]
                ]
            )
        )
        counts = p.groupby(["verdict"]).size().to_dict()
        out += ["", "Verdict counts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    out += ["", "## Final test accuracy (mean ± std over runs)", ""]
    s = result.summary.copy()
    s["test"] = [_pm(m, sd) for m, sd in zip(s["mean"], s["std"], strict=True)]
    out.append(
        markdown_table(
            s[["protocol", "dataset", "algorithm", "test", "n", "queries", "free_queries"]],
            floatfmt=".1f",
        )
    )
    out += ["", "## Notes", ""]
    out += [f"- {n}" for n in result.notes]
    out += [
        "",
        "Anytime curves: `curves.csv` (incumbent test accuracy on a grid over the "
        "budget, mean/std/n over runs). Every run: `runs.csv.gz`.",
        "",
    ]
    return "\n".join(out)


def write_report(
    result: ReproduceResult, out_dir: str | os.PathLike[str], *, seconds: float | None = None
) -> list[Path]:
    """Write CSVs and ``report.md`` into ``out_dir``, all or nothing.

    The files are written into a copy of the folder beside it, which is then swapped in, so a
    kill or a full disk never leaves a folder mixing two runs' files (other files are kept).
    """
    out = Path(out_dir)
    files = {
        "summary.csv": _csv_bytes(result.summary),
        "paired.csv": _csv_bytes(result.paired),
        "anchors.csv": _csv_bytes(result.anchors),
        "curves.csv": _csv_bytes(result.curves),
        "runs.csv.gz": gzip.compress(_csv_bytes(result.runs), mtime=0),
        "report.md": render_markdown(result, seconds=seconds).encode(),
    }
    written = []
    with atomic.replace_folder(out, keep_existing=True) as stage:
        for name, data in files.items():
            _atomic_write(stage / name, data)
            written.append(out / name)
    return written
