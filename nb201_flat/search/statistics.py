"""Statistics of the reproduction grid: paired differences, bootstrap CIs, verdicts, anchors.

Verdict rule (:func:`verdict`), for a claim ``c`` (in the claim's direction) and CI
``[lo, hi]`` with ``margin`` m (default 0.5): reproduced if ``lo > 0`` and ``hi >= m * c``;
contradicted if ``hi < m * c``; inconclusive otherwise. Rows without a claimed size test the
sign only.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.search.accounting import CONTROL_MARK, is_control
from nb201_flat.search.algorithms import (
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RegularizedEvolution,
    SearchAlgorithm,
)
from nb201_flat.search.protocol import Protocol
from nb201_flat.search.runner import SearchResults

log = logging.getLogger(__name__)

Verdict = Literal["reproduced", "contradicted", "inconclusive"]

SMOKE_VERDICT = "none (smoke test)"
"""The verdict column of a smoke-test grid (``reproduce --quick``): no verdict is given."""

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


@functools.lru_cache(maxsize=2)  # 8 MB each at 2000 x 500
def _resamples(seed: int, n_boot: int, size: int) -> npt.NDArray[np.int64]:
    """The resampling indices of :func:`bootstrap_ci`: one stream per (seed, size), so every
    CI of a report with that many pairs draws the same ones (drawn once, read-only)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB007,)))
    idx = rng.integers(0, size, size=(n_boot, size))
    idx.setflags(write=False)
    return idx


def bootstrap_ci(
    diffs: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of paired differences (NaN pairs dropped)."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size < 2:
        return float("nan"), float("nan")
    means = d[_resamples(seed, n_boot, d.size)].mean(axis=1)
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
    # one pass over the runs frame, not four string comparisons per row
    by_algo = dict(iter(runs.groupby("algorithm", sort=False)))
    cells = {
        k: g for k, g in runs.groupby(["algorithm", "protocol", "dataset", "split"], sort=False)
    }
    empty = runs.iloc[:0]
    for label, algo in algorithms.items():
        base = _base_of(label, algo, algorithms)
        if base is None or label not in by_algo:
            continue
        for (pname, ds, split), g in by_algo[label].groupby(
            ["protocol", "dataset", "split"], sort=False
        ):
            b = cells.get((base, pname, ds, split), empty)
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


# -- accounting (issue 17) ---------------------------------------------------------------------
#: The runs frame split by (protocol, algorithm, dataset), built once per report.
RunGroups: TypeAlias = dict[tuple[str, str, str], pd.DataFrame]


def group_runs(runs: pd.DataFrame) -> RunGroups:
    """``runs`` split by (protocol, algorithm, dataset): one pass over the (large) frame, so
    that a report's many :func:`compare` calls need no string comparisons over all of it."""
    return {
        (str(k[0]), str(k[1]), str(k[2])): g
        for k, g in runs.groupby(["protocol", "algorithm", "dataset"], sort=False)
    }


def _per_run(
    runs: pd.DataFrame, groups: RunGroups, protocol: str, label: str, dataset: str
) -> pd.DataFrame:
    sel = groups.get((protocol, label, dataset))
    if sel is None:
        sel = runs.iloc[:0]
    return sel.set_index("run")


def compare(
    runs: pd.DataFrame,
    a: tuple[str, str],
    b: tuple[str, str],
    dataset: str,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    groups: RunGroups | None = None,
) -> dict[str, object] | None:
    """Mean test of ``a`` − ``b`` (each ``(protocol, label)``) on ``dataset``, paired by run.

    Runs sharing a run number share their random streams (see
    :mod:`~nb201_flat.search.runner`), also across protocols. Returns None when either side has
    no runs; the evaluations of both sides come with the difference. ``groups``: the
    :func:`group_runs` of ``runs``, for callers that compare many pairs of the same frame.
    """
    groups = group_runs(runs) if groups is None else groups
    ra, rb = _per_run(runs, groups, *a, dataset), _per_run(runs, groups, *b, dataset)
    if ra.empty or rb.empty:
        return None
    ta = ra["test"]
    tb = rb["test"].reindex(ta.index)
    d = (ta - tb).to_numpy(dtype=np.float64)
    lo, hi = bootstrap_ci(d, n_boot=n_boot, confidence=confidence, seed=seed)
    return {
        "a_mean": float(ta.mean()),
        "b_mean": float(tb.mean()),
        "a_evaluations": float(ra["evaluations"].mean()),
        "b_evaluations": float(rb["evaluations"].mean()),
        "diff": float(np.nanmean(d)) if np.isfinite(d).any() else np.nan,
        "ci_lo": lo,
        "ci_hi": hi,
        "n": int(np.isfinite(d).sum()),
    }


_SHOWN = {"rs": "RS", "rea": "REA", "ls": "LS"}


def _form(algo: SearchAlgorithm) -> str:
    obj = getattr(algo, "objective", None)
    if not isinstance(obj, NeighbourObjective):
        return ""
    return "charged" if obj.charge else "free"


def accounting_rows(
    runs: pd.DataFrame,
    matched: pd.DataFrame,
    algorithms: dict[str, SearchAlgorithm],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Issue 17's accounting, per protocol and reported dataset, each with its CI.

    For NA-RS: NA-RS − RS and NA-RS − budget-matched RS; for best-evaluated NA-RS
    (:class:`NABestEvaluatedSearch`): it − RS and it − RS with the same evaluations; for NA-REA
    and NA-LS: NA − base and NA − budget-matched base; and each control − its base (what the
    extra evaluations alone are worth). ``matched`` is :func:`budget_matched`'s table.
    """
    rows: list[dict[str, object]] = []
    if matched.empty:
        return pd.DataFrame(rows)
    seen_controls: set[tuple[str, str]] = set()
    groups = group_runs(runs)
    for m in matched.itertuples(index=False):
        pname, na, control = str(m.protocol), str(m.algorithm), str(m.control)
        base = control.split(CONTROL_MARK)[0]
        algo = algorithms.get(na)
        if algo is None:
            continue
        base_name = _SHOWN.get(base, base)
        if isinstance(algo, NABestEvaluatedSearch):
            what = "best-evaluated NA-RS"
            pairs = [
                (f"{what} − RS", base),
                (f"{what} − RS with the same evaluations", control),
            ]
        else:
            what = f"NA-{base_name}"
            pairs = [
                (f"{what} − {base_name}", base),
                (f"{what} − budget-matched {base_name}", control),
            ]
        claimed = isinstance(algo, NARandomSearch | NABestEvaluatedSearch)
        datasets = runs.loc[runs["protocol"] == pname, "dataset"].drop_duplicates()
        for ds in datasets.tolist():
            todo = [(label, na, b) for label, b in pairs]
            if (pname, control) not in seen_controls:
                todo.append((f"budget-matched {base_name} − {base_name}", control, base))
            for label, a_lab, b_lab in todo:
                r = compare(
                    runs,
                    (pname, a_lab),
                    (pname, b_lab),
                    str(ds),
                    groups=groups,
                    n_boot=n_boot,
                    confidence=confidence,
                    seed=seed,
                )
                if r is None:
                    continue
                rows.append(
                    {
                        "protocol": pname,
                        "dataset": ds,
                        "comparison": label,
                        "neighbours": _form(algo),
                        "a": a_lab,
                        "b": b_lab,
                        **r,
                        "claim": NA_CLAIMS.get(str(ds)) if claimed else None,
                    }
                )
        seen_controls.add((pname, control))
    return pd.DataFrame(rows)


def claim_routes(
    runs: pd.DataFrame,
    protocols: tuple[Protocol, ...],
    *,
    closest: int = 2,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """ "What would produce the claim": the comparisons closest to +1.48 / +1.58 the grid allows.

    Candidates, per claimed dataset: every NA-RS form (one- and two-stage, best-evaluated,
    free or charged) and every budget-matched RS control, under every protocol reporting the
    dataset, against RS under the same protocol or under ``nb201`` (RS searched on CIFAR-10,
    as the published RS was). The ``closest`` of each kind (plain, two-stage or best-evaluated
    NA-RS, free or charged; RS with NA-RS's evaluations) per dataset are kept, nearest the
    claim first, each with its CI, so a reader sees which choices move the difference and by
    how much.
    """
    prots = {p.name: p for p in protocols}
    rows: list[dict[str, object]] = []
    groups = group_runs(runs)
    for ds, claim in NA_CLAIMS.items():
        sub = runs[runs["dataset"] == ds]
        cands = sub[["protocol", "algorithm"]].drop_duplicates()
        rs_prots = sub.loc[sub["algorithm"] == "rs", "protocol"].drop_duplicates().tolist()
        for pa, la in cands.itertuples(index=False):
            if not (str(la).startswith("na-rs") or (is_control(str(la)) and la.startswith("rs"))):
                continue
            for pb in dict.fromkeys([pa, *[p for p in rs_prots if p.startswith("nb201")]]):
                if pb not in rs_prots:
                    continue
                r = compare(
                    runs,
                    (str(pa), str(la)),
                    (str(pb), "rs"),
                    ds,
                    groups=groups,
                    n_boot=n_boot,
                    confidence=confidence,
                    seed=seed,
                )
                if r is None:
                    continue
                rows.append(
                    {
                        "dataset": ds,
                        "claim": claim,
                        "a_protocol": pa,
                        "a": la,
                        "a_search": str(prots[pa].search) if pa in prots else "",
                        "b_protocol": pb,
                        "b": "rs",
                        "b_search": str(prots[pb].search) if pb in prots else "",
                        **r,
                        "distance": abs(float(r["diff"]) - claim),  # type: ignore[arg-type]
                    }
                )
    if not rows:
        return pd.DataFrame(rows)
    df = pd.DataFrame(rows)
    df.insert(1, "kind", [_route_kind(str(a)) for a in df["a"]])
    df = df.sort_values(["dataset", "distance"], kind="stable")
    # the closest of each kind, so that every choice (neighbourhood selection, two stages,
    # best-evaluated, more evaluations) shows how far it gets
    df = df.groupby(["dataset", "kind"], sort=False).head(closest)
    return df.sort_values(["dataset", "distance"], kind="stable").reset_index(drop=True)


def _route_kind(label: str) -> str:
    if is_control(label):
        return "RS with NA-RS's evaluations"
    form = "charged" if ",charged" in label else "free"
    if label.startswith("na-rs-best"):
        return f"best-evaluated NA-RS ({form})"
    if label.startswith("na-rs2"):
        return f"two-stage NA-RS ({form})"
    return f"NA-RS ({form})"


def two_stage_overlap(
    paired: pd.DataFrame, runs: pd.DataFrame, algorithms: dict[str, SearchAlgorithm]
) -> pd.DataFrame:
    """Add ``same_cell``: the fraction of runs where two-stage NA-RS returns the cell that
    one-stage NA-RS with the same objective returns (NaN for other rows).

    Runs are paired by seed, so both stages see the same first samples; a share near 1 means
    the two-stage row repeats the one-stage row rather than adding a result of its own.
    """
    out = paired.copy()
    out["same_cell"] = np.nan
    if out.empty:
        return out
    groups = group_runs(runs)
    for k, row in out.iterrows():
        algo = algorithms.get(str(row["algorithm"]))
        if not isinstance(algo, NARandomSearch) or algo.rerank_top_k is None:
            continue
        one = NARandomSearch(algo.objective).label
        a = _per_run(runs, groups, str(row["protocol"]), str(row["algorithm"]), str(row["dataset"]))
        b = _per_run(runs, groups, str(row["protocol"]), one, str(row["dataset"]))
        if a.empty or b.empty:
            continue
        same = a["best"] == b["best"].reindex(a.index)
        out.loc[k, "same_cell"] = float(same.mean())
    return out
