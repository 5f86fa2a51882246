"""Statistics of the reproduction grid: paired differences, bootstrap CIs, verdicts, anchors.

Verdict rule (:func:`verdict`), for a claim ``c`` (in the claim's direction) and CI
``[lo, hi]`` with ``margin`` m (default 0.5): reproduced if ``lo > 0`` and ``hi >= m * c``;
contradicted if ``hi < m * c``; inconclusive otherwise. Rows without a claimed size test the
sign only.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from nb201_flat.search.algorithms import (
    LocalSearch,
    NARandomSearch,
    NeighbourObjective,
    RegularizedEvolution,
    SearchAlgorithm,
)
from nb201_flat.search.runner import SearchResults

log = logging.getLogger(__name__)

Verdict = Literal["reproduced", "contradicted", "inconclusive"]

NA_CLAIMS: dict[str, float] = {"cifar100": 1.48, "ImageNet16-120": 1.58}
"""The NA paper's abstract: NA-RS − RS on NB201, in accuracy points."""

ANCHORS: tuple[tuple[str, str, str, str, float, float | None], ...] = (
    # (source, quantity, protocol, dataset, value, std)
    ("NB201 paper, Table 5", "RS test accuracy", "nb201", "cifar10", 93.70, 0.36),
    ("NB201 paper, Table 5", "RS test accuracy", "nb201", "ImageNet16-120", 44.57, 1.25),
    ("NA paper, abstract", "NA-RS − RS", "?", "cifar100", 1.48, None),
    ("NA paper, abstract", "NA-RS − RS", "?", "ImageNet16-120", 1.58, None),
)


def verdict(lo: float, hi: float, claim: float | None, margin: float = 0.5) -> Verdict:
    """Classify a CI ``[lo, hi]`` of NA − base against a claim (see the module docstring).

    Examples
    --------
    >>> verdict(0.9, 2.1, 1.48), verdict(-0.4, 0.3, 1.48), verdict(-0.2, 1.9, 1.48)
    ('reproduced', 'contradicted', 'inconclusive')
    >>> verdict(0.1, 0.4, None), verdict(-0.5, -0.1, None)
    ('reproduced', 'contradicted')
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if claim is None or claim == 0:
        if lo > 0:
            return "reproduced"
        return "contradicted" if hi < 0 else "inconclusive"
    if claim < 0:
        lo, hi, claim = -hi, -lo, -claim
    if hi < margin * claim:
        return "contradicted"
    return "reproduced" if lo > 0 else "inconclusive"


def bootstrap_ci(
    diffs: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of paired differences (NaN pairs dropped)."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB007,)))
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_differences(
    results: SearchResults,
    algorithms: dict[str, SearchAlgorithm],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    margin: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """NA − base per (protocol, algorithm, dataset), paired by run, with CI and verdict."""
    runs = results.runs
    prots = {p.name: p for p in results.protocols}
    rows = []
    for label, algo in algorithms.items():
        base = _base_of(label, algo, algorithms)
        if base is None:
            continue
        for (pname, ds, split), g in runs[runs["algorithm"] == label].groupby(
            ["protocol", "dataset", "split"], sort=False
        ):
            b = runs[
                (runs["algorithm"] == base)
                & (runs["protocol"] == pname)
                & (runs["dataset"] == ds)
                & (runs["split"] == split)
            ]
            a_s = g.set_index("run")["test"]
            b_s = b.set_index("run")["test"].reindex(a_s.index)
            d = (a_s - b_s).to_numpy(dtype=np.float64)
            lo, hi = bootstrap_ci(d, n_boot=n_boot, confidence=confidence, seed=seed)
            claim = NA_CLAIMS.get(str(ds)) if isinstance(algo, NARandomSearch) else None
            p = prots[str(pname)]
            rows.append(
                {
                    "protocol": pname,
                    "search": p.search.dataset,
                    "search_epochs": p.search.epochs,
                    "dataset": ds,
                    "split": split,
                    "algorithm": label,
                    "base": base,
                    **_describe(algo),
                    "na_mean": float(a_s.mean()),
                    "base_mean": float(b_s.mean()),
                    "diff": float(np.nanmean(d)) if np.isfinite(d).any() else np.nan,
                    "ci_lo": lo,
                    "ci_hi": hi,
                    "n": int(np.isfinite(d).sum()),
                    "claim": claim,
                    "verdict": verdict(lo, hi, claim, margin),
                    "optimistic": p.optimistic,
                }
            )
    return pd.DataFrame(rows)


def anchor_rows(summary: pd.DataFrame, paired: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for source, quantity, pname, ds, value, std in ANCHORS:
        if quantity.startswith("RS"):
            hit = summary[
                (summary["protocol"] == pname)
                & (summary["algorithm"] == "rs")
                & (summary["dataset"] == ds)
            ]
            if hit.empty:
                continue
            r = hit.iloc[0]
            rows.append(
                {
                    "source": source,
                    "quantity": quantity,
                    "protocol": pname,
                    "dataset": ds,
                    "published": value,
                    "published_std": std,
                    "ours": float(r["mean"]),
                    "ours_std": float(r["std"]),
                    "ours_ci": "",
                    "delta": float(r["mean"]) - value,
                    "n": int(r["n"]),
                }
            )
        else:
            base_rows = paired[
                (paired["dataset"] == ds)
                & (paired["base"] == "rs")
                & (paired["two_stage"] == False)  # noqa: E712 (pandas element-wise)
            ]
            for _, r in base_rows.iterrows():
                if not _is_base_objective(r):
                    continue
                rows.append(
                    {
                        "source": source,
                        "quantity": f"{quantity} ({r['algorithm']})",
                        "protocol": r["protocol"],
                        "dataset": ds,
                        "published": value,
                        "published_std": std,
                        "ours": float(r["diff"]),
                        "ours_std": np.nan,
                        "ours_ci": f"[{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}] {r['verdict']}",
                        "delta": float(r["diff"]) - value,
                        "n": int(r["n"]),
                    }
                )
    return pd.DataFrame(rows)


def claim_rows(paired: pd.DataFrame) -> pd.DataFrame:
    """The rows carrying the NA paper's sized claim (NA-RS vs RS on CIFAR-100 / ImageNet)."""
    return paired[paired["claim"].notna()].reset_index(drop=True)


def _base_of(label: str, algo: SearchAlgorithm, labels: dict[str, SearchAlgorithm]) -> str | None:
    if isinstance(algo, NARandomSearch):
        return "rs" if "rs" in labels else None
    if isinstance(algo, RegularizedEvolution) and algo.objective is not None:
        plain = replace(algo, objective=None).label
        return plain if plain in labels else None
    if isinstance(algo, LocalSearch) and algo.objective is not None:
        plain = replace(algo, objective=None).label
        return plain if plain in labels else None
    return None


def _describe(algo: SearchAlgorithm) -> dict[str, object]:
    obj = getattr(algo, "objective", None)
    row: dict[str, object] = {
        "radius": pd.NA,
        "agg": pd.NA,
        "include_self": pd.NA,
        "charge": pd.NA,
        "two_stage": pd.NA,
    }
    if isinstance(obj, NeighbourObjective):
        agg = f"q{obj.quantile:g}" if obj.agg == "quantile" else obj.agg
        row.update(radius=obj.radius, agg=agg, include_self=obj.include_self, charge=obj.charge)
    if isinstance(algo, NARandomSearch):
        row["two_stage"] = algo.rerank_top_k is not None
    return row


def _is_base_objective(row: pd.Series) -> bool:
    return bool(
        row["radius"] == 1
        and row["agg"] == "mean"
        and row["include_self"] == True  # noqa: E712
        and row["charge"] == False  # noqa: E712
    )
