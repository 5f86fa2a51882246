"""The reproduction report: CSV tables and Markdown, written atomically."""

from __future__ import annotations

import gzip
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat import atomic
from nb201_flat.search.grid import ReproduceResult
from nb201_flat.search.runner import KEY_COLUMNS
from nb201_flat.search.statistics import (
    FEW_PAIRS_CAVEAT,
    FEW_RUNS_VERDICT,
    MIN_RUNS_VERDICT,
    NO_DIRECTION_VERDICT,
)
from nb201_flat.table import MetricKey, Table

log = logging.getLogger(__name__)


# -- writing ---------------------------------------------------------------------------------
def ci_level(confidence: float) -> str:
    """An interval's level as a percentage, as given: 0.999 is '99.9%' (it printed '100%',
    and 0.975 '98%').

    >>> ci_level(0.95), ci_level(0.999), ci_level(0.975)
    ('95%', '99.9%', '97.5%')
    """
    return f"{confidence * 100:g}%"


def _atomic_write(path: Path, data: bytes) -> None:
    atomic.write_bytes(path, data)


def _pandas_csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode()


def _csv_bytes(df: pd.DataFrame) -> bytes:
    """``df.to_csv(index=False)``, the same bytes, column by column.

    pandas formats and quotes every cell in Python; here each column's distinct values are
    formatted once (the runs table repeats its strings, incumbents and test values), with
    pandas' rules: floats as the shortest text that reads back as the same float (numpy's
    ``str``: six significant digits lost numbers ``report.md`` prints), missing values empty,
    strings quoted as the csv module quotes them (QUOTE_MINIMAL). A column of another kind is
    left to pandas.
    """
    cols = [_csv_cells(df[c]) for c in df.columns] if len(df.columns) > 1 else [None]
    if any(c is None for c in cols) or not df.columns.is_unique:
        return _pandas_csv(df)
    names = [_quoted(str(c)) for c in df.columns]
    if any(n is None for n in names):
        return _pandas_csv(df)
    lines = [",".join(n for n in names if n is not None)]
    lines += map(",".join, zip(*[c for c in cols if c is not None], strict=True))
    return ("\n".join(lines) + "\n").encode()


def _quoted(text: str) -> str | None:
    """A csv field as the csv module writes it (QUOTE_MINIMAL, ``,`` and ``"``); None for
    line breaks, which are left to pandas."""
    if "\n" in text or "\r" in text:
        return None
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _by_value(codes: npt.NDArray[np.intp], texts: list[str | None]) -> list[str] | None:
    if any(t is None for t in texts):
        return None
    table = np.array(texts, dtype=object)
    out: list[str] = table[codes].tolist()
    return out


def _csv_cells(col: pd.Series) -> list[str] | None:
    """The column's csv cells, or None for a kind left to pandas."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype == np.float64:
        values = col.to_numpy()
        # distinct bit patterns: -0.0 and 0.0 stay apart ('-0.0' and '0.0')
        bits, codes = np.unique(values.view(np.int64), return_inverse=True)
        floats = bits.view(np.float64)
        texts: list[str | None] = np.where(np.isnan(floats), "", floats.astype(str)).tolist()
        return _by_value(codes, texts)
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        uniq, codes = np.unique(col.to_numpy(), return_inverse=True)
        return _by_value(codes, [str(v) for v in uniq.tolist()])  # True/False as pandas
    if isinstance(dtype, pd.Int64Dtype):
        missing = col.isna().to_numpy()
        uniq, codes = np.unique(col.to_numpy(dtype=np.int64, na_value=0), return_inverse=True)
        ints: list[str | None] = [str(v) for v in uniq.tolist()]
        return _by_value(np.where(missing, len(uniq), codes), [*ints, ""])
    if isinstance(dtype, pd.StringDtype) or (
        dtype.kind == "O" and pd.api.types.infer_dtype(col, skipna=True) == "string"
    ):
        labels, distinct = pd.factorize(col, use_na_sentinel=True)
        strs: list[str | None] = [_quoted(str(v)) for v in distinct]
        return _by_value(np.where(labels < 0, len(distinct), labels), [*strs, ""])
    return None


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


def _diff_ci(d: float, lo: float, hi: float) -> str:
    return f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def _diff_ci_n(d: float, lo: float, hi: float, n: int) -> str:
    """:func:`_diff_ci` with its pair count: a mean over fewer than the runs reads as
    theirs otherwise."""
    return f"{_diff_ci(d, lo, hi)}, n = {n}"


# the three comparisons issue 17 asks for, per protocol, beside the claim
_ACCOUNTING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("NA-RS − RS", "NA-RS − RS"),
    ("NA-RS − budget-matched RS", "NA-RS − budget-matched RS"),
    ("best-evaluated NA-RS − RS", "best-evaluated NA-RS − RS"),
    (
        "best-evaluated NA-RS − RS with the same evaluations",
        "best-evaluated NA-RS − RS, same evaluations",
    ),
    ("budget-matched RS − RS", "budget-matched RS − RS"),
)


def _shown_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose ``dataset`` cells name the whole reported key
    (``str(MetricKey)``) wherever the frame holds that dataset under several keys (a protocol
    at 12 and 200 search epochs): there its rows would read alike. Elsewhere (every table of
    the default grids) the dataset alone: the CSV files' other columns hold the rest."""
    out = frame.copy()  # the caller adds its display columns: never to the result's frame
    if out.empty or not all(c in out for c in KEY_COLUMNS):
        return out
    rest = list(KEY_COLUMNS[1:])  # split, epochs, metric
    whole = out[list(KEY_COLUMNS)].notna().all(axis=1)
    distinct = out[whole].groupby("dataset", sort=False)[rest].transform("nunique")
    several = (distinct > 1).any(axis=1).reindex(out.index, fill_value=False)
    if several.any():
        out["dataset"] = out["dataset"].astype(object)
        out.loc[several, "dataset"] = [
            str(MetricKey(str(d), str(sp), int(e), str(m)))
            for d, sp, e, m in out.loc[several, list(KEY_COLUMNS)].itertuples(index=False)
        ]
    return out


def _accounting_section(result: ReproduceResult) -> list[str]:
    acc = result.accounting
    out = ["", "## Accounting: every evaluation counted", ""]
    if acc.empty:
        out.append("Not run (`accounting=False`).")
        return out
    out.append(
        "A neighbourhood-aware search with free neighbour look-ups evaluates many more cells "
        "than its budget charges. Each comparison below is paired by seed and shown with its "
        f"{ci_level(result.config.confidence)} bootstrap CI and its `n`, the seeds paired "
        "(both runs have a test value); *budget-matched* RS is RS given the simulated time NA-RS actually used (charged queries plus what its free look-ups would "
        "have cost); *best-evaluated NA-RS* evaluates exactly NA-RS's cells but returns the best "
        "validation cell among all of them. `evals` are mean evaluations per run (charged "
        "queries plus free look-ups)."
    )
    for form in ("free", "charged"):
        sub = acc[
            (acc["neighbours"] == form)
            & acc["comparison"].isin([c for c, _ in _ACCOUNTING_COLUMNS])
        ]
        if sub.empty:
            continue
        out += ["", f"### NA-RS, neighbours {form}", ""]
        rows = []
        # by the whole reported key: a dataset's two keys are two rows (one overwrote the other)
        for (pname, *key), g in sub.groupby(["protocol", *KEY_COLUMNS], sort=False):
            row: dict[str, object] = {"protocol": pname, **dict(zip(KEY_COLUMNS, key, strict=True))}
            by = {str(r["comparison"]): r for _, r in g.iterrows()}
            for comp, head in _ACCOUNTING_COLUMNS:
                r = by.get(comp)
                row[head] = (
                    "" if r is None else _diff_ci_n(r["diff"], r["ci_lo"], r["ci_hi"], r["n"])
                )
            na = by.get("NA-RS − RS")
            ctrl = by.get("NA-RS − budget-matched RS")
            row["evals NA-RS / RS / matched RS"] = (
                ""
                if na is None or ctrl is None
                else f"{na['a_evaluations']:.0f} / {na['b_evaluations']:.0f} / "
                f"{ctrl['b_evaluations']:.0f}"
            )
            claim = g["claim"].dropna()
            row["claim"] = f"{float(claim.iloc[0]):+.2f}" if len(claim) else ""
            rows.append(row)
        table = _shown_keys(pd.DataFrame(rows)).drop(columns=list(KEY_COLUMNS[1:]))
        out.append(markdown_table(table))
    rel = acc[
        acc["comparison"].str.startswith(
            ("NA-REA", "NA-LS", "budget-matched REA", "budget-matched LS")
        )
    ]
    if not rel.empty:
        out += ["", "### NA-REA and NA-LS (neighbours free)", ""]
        out.append(
            "NA-REA and NA-LS keep every cell they paid for in a run: a cell proposed again "
            "is free. REA, under NB201's rule that a repeated query re-trains and pays, pays it "
            "again (its budget-matched control too), so part of an NA-REA − REA difference may "
            "be repeats not paid for rather than the neighbourhood."
        )
        out.append("")
        t = _shown_keys(rel)
        t["diff [CI]"] = [
            _diff_ci(d, lo, hi) for d, lo, hi in zip(t["diff"], t["ci_lo"], t["ci_hi"], strict=True)
        ]
        t["evals a / b"] = [
            f"{a:.0f} / {b:.0f}"
            for a, b in zip(t["a_evaluations"], t["b_evaluations"], strict=True)
        ]
        out.append(
            markdown_table(
                t[["protocol", "dataset", "comparison", "n", "diff [CI]", "evals a / b"]]
            )
        )
    m = result.matched
    if not m.empty:
        out += ["", "Budgets given to the matched controls (mean over the NA form's runs):", ""]
        mm = m.copy()
        mm["x protocol budget"] = mm["budget"] / mm["protocol_budget"]
        out.append(
            markdown_table(
                mm[
                    [
                        "protocol",
                        "algorithm",
                        "unit",
                        "budget",
                        "x protocol budget",
                        "na_evaluations",
                        "control_evaluations",
                    ]
                ],
                floatfmt=".1f",
            )
        )
    return out


def _routes_section(result: ReproduceResult) -> list[str]:
    r = result.routes
    out = ["", "## What would produce the claim", ""]
    if r.empty:
        out.append(
            "No candidate comparison (the grid reports neither CIFAR-100 nor ImageNet16-120)."
        )
        return out
    out.append(
        "The comparisons the grid allows that come closest to the claimed +1.48 (CIFAR-100) / "
        "+1.58 (ImageNet16-120), each with its CI: an NA-RS form (or RS with NA-RS's budget) "
        "under protocol A against RS under the same protocol or under `nb201` / `nb201@200ep` "
        "(RS searched on CIFAR-10-valid, as the published RS was); the two closest of each "
        "kind, nearest first. Paired by seed; across protocols the pairing only shares random "
        "streams."
    )
    out.append("")
    t = _shown_keys(r)
    t["diff [CI]"] = [
        _diff_ci(d, lo, hi) for d, lo, hi in zip(t["diff"], t["ci_lo"], t["ci_hi"], strict=True)
    ]
    t["claim"] = [f"{c:+.2f}" for c in t["claim"]]
    t["evals A / B"] = [
        f"{a:.0f} / {b:.0f}" for a, b in zip(t["a_evaluations"], t["b_evaluations"], strict=True)
    ]
    out.append(
        markdown_table(
            t[
                [
                    "dataset",
                    "kind",
                    "a_protocol",
                    "a",
                    "b_protocol",
                    "diff [CI]",
                    "evals A / B",
                    "claim",
                ]
            ]
        )
    )
    return out


def table_line(table: Table | None) -> str:
    """The report's line naming the table its numbers come from: its source and the sha256 of
    its stored ``table.parquet`` (what ``nb201-flat info`` prints), or why there is none.

    >>> from nb201_flat.testing import synthetic_table
    >>> table_line(synthetic_table())
    'Table: synthetic nb201-like, built in memory (no stored table.parquet, no sha256).'
    """
    if table is None:
        return "Table: not named (write_report and render_markdown take it as `table=`)."
    digest = table.meta.get("sha256")  # the stored file's, as `info` reads it
    if digest is None:
        return f"Table: {table.source}, built in memory (no stored table.parquet, no sha256)."
    return f"Table: {table.source}, table.parquet sha256 {digest}."


def render_markdown(
    result: ReproduceResult, *, seconds: float | None = None, table: Table | None = None
) -> str:
    """The report as Markdown; ``table`` is the one ``result`` was computed on, named in its
    header (:func:`table_line`)."""
    cfg = result.config
    out = ["# NA-RS vs RS on NAS-Bench-201: reproduction grid", "", table_line(table), ""]
    if cfg.smoke:
        out += [
            f"**SMOKE TEST**: {cfg.runs} runs per cell on a reduced grid. It shows that the "
            "pipeline runs; its numbers are not a result and carry no verdict.",
            "",
        ]
    out.append(
        f"{cfg.runs} runs per cell, master seed {cfg.seed}, seed policy {cfg.seed_policy!r}, "
        f"design {cfg.design}; paired differences NA − base over runs sharing their seed, "
        f"{ci_level(cfg.confidence)} percentile bootstrap ({cfg.n_boot} resamples)."
        + (f" Took {seconds:.1f} s." if seconds is not None else "")
    )
    # the grid's budgets and sizes that no label states (a label says top-k only where run)
    families = ", ".join(
        p + (f" ({cfg.fixed_n} queries per run)" if p == "fixed-n" else "") for p in cfg.protocols
    )
    top_k = ", ".join(map(str, cfg.rerank_top_k)) or "none"
    out += ["", f"Protocols: {families}; two-stage NA-RS top-k: {top_k}."]
    out += ["", "## Verdict rule", ""]
    out.append(
        f"Claim c (NA paper: +1.48 CIFAR-100, +1.58 ImageNet16-120 for NA-RS − RS): "
        f"**reproduced** if CI lower end > 0 and upper end ≥ {cfg.margin:g}·c; "
        f"**contradicted** if the upper end < {cfg.margin:g}·c (incl. CI below 0); "
        "**inconclusive** otherwise. Rows without a claimed size (CIFAR-10, REA/LS relatives) "
        "test the sign only (reproduced: CI > 0; contradicted: CI < 0). The claims are in "
        "accuracy; a reported loss is read mirrored (base − NA: lower is better), and a metric "
        f"with no better direction (a time, a spread) gets the verdict {NO_DIRECTION_VERDICT!r}. "
        f"A row of fewer than {MIN_RUNS_VERDICT} paired runs (`n`) gets the verdict "
        f"{FEW_RUNS_VERDICT!r}: its CI is shown, but {FEW_PAIRS_CAVEAT}."
    )
    out += ["", "## Published anchors beside ours", ""]
    out.append(
        "Every published number the report compares with, with its source. The NB201 paper's "
        "Table 5 also lists RS on CIFAR-100 and REA on all three datasets; they are left out "
        "because no source readable here confirms them."
    )
    out.append("")
    if result.anchors.empty:  # the heading and its sentence were followed by nothing
        out.append(
            "None here: no protocol of this grid reports an anchored quantity (nb201 RS on "
            "CIFAR-10 or ImageNet16-120, NA-RS − RS on CIFAR-100 or ImageNet16-120)."
        )
    else:
        a = _shown_keys(result.anchors)
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
        q = _shown_keys(p)
        q["diff [CI]"] = [
            f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"
            for d, lo, hi in zip(q["diff"], q["ci_lo"], q["ci_hi"], strict=True)
        ]
        q["claim"] = [
            f"{c:+.2f}" if c is not None and np.isfinite(c) else ">0"
            for c in q["claim"].astype(float)
        ]
        # two-stage rows: how often they return one-stage NA-RS's own cell (not a headline)
        same = q["same_cell"] if "same_cell" in q.columns else pd.Series(np.nan, index=q.index)
        q["same cell as one-stage"] = [
            "" if not np.isfinite(v) else f"{v:.1%}" for v in same.astype(float)
        ]
        out.append(
            markdown_table(
                q[
                    [
                        "protocol",
                        "dataset",
                        "algorithm",
                        "base",
                        "n",  # pairs: a mean over fewer than the runs reads as theirs
                        "na_mean",
                        "base_mean",
                        "diff [CI]",
                        "claim",
                        "verdict",
                        "same cell as one-stage",
                    ]
                ]
            )
        )
        if not cfg.smoke:
            counts = p.groupby(["verdict"]).size().to_dict()
            out += [
                "",
                "Verdict counts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            ]
        out.append("")
        out.append(
            "Two-stage rows re-rank RS's top-k by the NA objective; `same cell as one-stage` is "
            "the share of runs in which they return the cell one-stage NA-RS returns, so a "
            "two-stage row with a share near 100 % repeats the one-stage row."
        )
    out += _accounting_section(result)
    out += _routes_section(result)
    out += ["", "## Final test accuracy (mean ± std over runs)", ""]
    s = _shown_keys(result.summary)
    s["test"] = [_pm(m, sd) for m, sd in zip(s["mean"], s["std"], strict=True)]
    out.append(
        markdown_table(
            s[
                [
                    "protocol",
                    "dataset",
                    "algorithm",
                    "test",
                    "n",
                    "queries",
                    "free_queries",
                    "evaluations",
                ]
            ],
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
    result: ReproduceResult,
    out_dir: str | os.PathLike[str],
    *,
    seconds: float | None = None,
    table: Table | None = None,
) -> list[Path]:
    """Write CSVs and ``report.md`` into ``out_dir``, all or nothing; ``report.md`` names
    ``table``, the one ``result`` was computed on (:func:`table_line`).

    The files are written whole into a staging folder inside ``out_dir``, then each is renamed
    over its previous version (:func:`nb201_flat.atomic.replace_files`): other files in the
    folder are never touched, also ones written meanwhile by another process. A failure
    (a full disk, an interrupt) leaves every file of the report at its previous version.
    """
    out = Path(out_dir)
    # the runs table (22 MB of csv) is compressed in a thread while the rest is formatted
    # (zlib releases the GIL), at level 1: a tenth of level 9's time, for 4.7 MB instead of
    # 3.9 MB on the default grid (the same csv inside)
    with ThreadPoolExecutor(max_workers=1) as pool:
        runs_gz = pool.submit(gzip.compress, _csv_bytes(result.runs), compresslevel=1, mtime=0)
        files = {
            "summary.csv": _csv_bytes(result.summary),
            "paired.csv": _csv_bytes(result.paired),
            "anchors.csv": _csv_bytes(result.anchors),
            "accounting.csv": _csv_bytes(result.accounting),
            "matched.csv": _csv_bytes(result.matched),
            "routes.csv": _csv_bytes(result.routes),
            "curves.csv": _csv_bytes(result.curves),
            "runs.csv.gz": b"",
            "report.md": render_markdown(result, seconds=seconds, table=table).encode(),
        }
        files["runs.csv.gz"] = runs_gz.result()
    written = []
    with atomic.replace_files(out) as stage:
        for name, data in files.items():
            _atomic_write(stage / name, data)
            written.append(out / name)
    return written
