"""Statistics of the reproduction grid: paired differences, bootstrap CIs, verdicts, anchors.

Verdict rule (:func:`verdict`), for a claim ``c`` (in the claim's direction) and CI
``[lo, hi]`` with ``margin`` m (default 0.5): reproduced if ``lo > 0`` and ``hi >= m * c``;
contradicted if ``hi < m * c``; inconclusive otherwise. Rows without a claimed size test the
sign only. The claims are in accuracy; a reported metric is read in its better direction
(:func:`verdict_for`: a loss mirrored), and one with none gets :data:`NO_DIRECTION_VERDICT`.
A row of fewer than :data:`MIN_RUNS_VERDICT` paired runs gets no verdict
(:data:`FEW_RUNS_VERDICT`): its CI is still reported, but covers the mean far less often than
its level says.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.budget import check_memory
from nb201_flat.errors import (
    ArgumentError,
    check_confidence,
    check_float_range,
    check_int_range,
    check_resamples,
    check_seed,
    shown,
)
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
from nb201_flat.search.runner import KEY_COLUMNS, KEY_DTYPES, SearchResults, typed_frame
from nb201_flat.table import MetricKey
from nb201_flat.types import FloatArray

log = logging.getLogger(__name__)

Verdict = Literal["reproduced", "contradicted", "inconclusive"]

SMOKE_VERDICT = "none (smoke test)"
"""The verdict column of a smoke-test grid (``reproduce --quick``): no verdict is given."""

NA_CLAIMS: dict[str, float] = {"cifar100": 1.48, "ImageNet16-120": 1.58}
"""The NA paper's abstract: NA-RS − RS on NB201, in accuracy points."""

NO_DIRECTION_VERDICT = "none (no better direction)"
"""The verdict of a reported metric that is neither an accuracy nor the loss: which sign of
NA − base is better is not known (a time, a proxy score)."""

MIN_RUNS_VERDICT = 20
"""The fewest paired runs a row's verdict rests on. The percentile bootstrap CI of a mean is
too narrow for few pairs: on normal differences (2000 trials per size, 2000 resamples each,
95% binomial margins 1-2 points) a nominal 95% CI held the true mean in 50% of trials at 2
pairs, 75% at 3, 85% at 5, 90% at 10, 92% at 15 and 94% at 20, 30 and 50. Below 20, a
'contradicted' or 'reproduced' was read from an interval that misses the mean up to ten times
as often as its level says (half the time at 2 pairs)."""

FEW_RUNS_VERDICT = f"none (fewer than {MIN_RUNS_VERDICT} runs)"
"""The verdict of a row with fewer than :data:`MIN_RUNS_VERDICT` paired runs (its CI is still
given)."""

FEW_PAIRS_CAVEAT = (
    "a percentile bootstrap CI of so few pairs holds the mean far less often than its level says"
)
"""What a CI of fewer than :data:`MIN_RUNS_VERDICT` pairs is worth, said where such a CI is
shown (the report, the demo)."""


def na_claim(dataset: object, metric: str, claimed: bool) -> float | None:
    """The NA paper's claim for a comparison of ``claimed`` algorithms on ``dataset`` and
    ``metric``: its accuracy points, so none for any other metric (a loss's CI was held
    against +1.48)."""
    return NA_CLAIMS.get(str(dataset)) if claimed and metric == "accuracy" else None


def verdict_for(
    metric: str,
    lo: float,
    hi: float,
    claim: float | None,
    margin: float = 0.5,
    *,
    n: int | None = None,
) -> str:
    """:func:`verdict` of a CI of NA − base on ``metric`` over ``n`` paired runs, read in its
    better direction (:func:`~nb201_flat.conventions.natural_direction`): a loss's CI
    mirrored (a higher loss of NA-RS was called 'reproduced'), and no verdict for a metric of
    no direction (:data:`NO_DIRECTION_VERDICT`: a time, a spread, a proxy score) or for fewer
    than :data:`MIN_RUNS_VERDICT` runs (:data:`FEW_RUNS_VERDICT`; ``n=None``: not counted).

    >>> verdict_for("loss", 0.05, 0.07, None), verdict_for("loss", -0.07, -0.05, None)
    ('contradicted', 'reproduced')
    >>> verdict_for("time_s", -9.0, -5.0, None), verdict_for("drift_1h", 0.5, 1.0, None)
    ('none (no better direction)', 'reproduced')
    >>> verdict_for("accuracy", -3.5, -0.1, 1.48, n=2)
    'none (fewer than 20 runs)'
    """
    from nb201_flat.conventions import natural_direction

    direction = natural_direction(metric)
    few = n is not None and n < MIN_RUNS_VERDICT
    if direction is None or few:
        check_margin(margin)
        return NO_DIRECTION_VERDICT if direction is None else FEW_RUNS_VERDICT
    return verdict(lo, hi, claim, margin) if direction else verdict(-hi, -lo, claim, margin)


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
    check_margin(margin)
    if claim is not None and not np.isfinite(claim):  # NaN read as a claim: 'reproduced'
        raise ArgumentError(f"claim must be a finite number or None, got {claim!r}")
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


def check_margin(margin: Any) -> float:
    """The verdict margin as a finite float >= 0, else :class:`ArgumentError` (a NaN margin
    compared false and called every positive CI 'reproduced')."""
    return check_float_range("margin", margin, 0.0, fix="the default is 0.5")


def check_ci_args(n_boot: Any, confidence: Any, seed: Any) -> tuple[int, float, int]:
    """``(n_boot, confidence, seed)`` checked: confidence in (0, 1), n_boot enough for it
    (:func:`~nb201_flat.errors.check_resamples`), seed a non-negative int (numpy's own errors
    were bare tracebacks; confidence 0 a point CI)."""
    confidence = check_confidence(confidence)
    return check_resamples(n_boot, confidence, 2000), confidence, check_seed(seed)


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
    """Percentile bootstrap CI of the mean of paired differences (NaN pairs dropped).

    ``diffs`` is one 1-D vector of numbers, NaN for a missing pair, never infinite (else an
    :class:`ArgumentError`, as in :func:`bootstrap_cis`). Fewer than two pairs left is an
    :class:`ArgumentError`: they have no interval (the report frames of :func:`bootstrap_cis`
    show NaN beside their ``n`` instead)."""
    n = int(np.count_nonzero(~np.isnan(_differences(diffs, "diffs"))))
    if n < 2:
        raise ArgumentError(
            f"a bootstrap CI needs at least 2 paired differences, got {n} (NaN pairs dropped); "
            "pass more runs"
        )
    return bootstrap_cis([diffs], n_boot=n_boot, confidence=confidence, seed=seed)[0]


def _differences(x: object, name: str) -> FloatArray:
    """``x`` as the 1-D float vector of paired differences a bootstrap CI reads, NaN kept
    (a missing pair); else :class:`ArgumentError` naming ``name``: a 2-D array was pooled
    into one CI, an inf gave (finite, nan) with numpy's RuntimeWarning, text a bare
    ValueError.

    >>> _differences([[1.0, 2.0], [3.0, 4.0]], "diffs")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: diffs must be one 1-D vector of paired differences, got an array of shape (2, 2); pass each vector on its own (bootstrap_cis takes a list of them)
    """
    d = None
    try:  # a pandas Series by its own dtype (a nullable Float64's NA reads as NaN)
        kind = getattr(getattr(x, "dtype", None), "kind", None) or np.asarray(x).dtype.kind
        # text ("1.5" parses as a number), bools and complex numbers are no differences
        if kind in ("f", "i", "u", "O"):
            d = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):  # 'abc', a ragged list, None in a list of lists
        pass
    if d is None:
        raise ArgumentError(
            f"{name} must be a vector of numbers (paired differences, NaN for a missing "
            f"pair), got {shown(x)}; pass a numpy array of floats"
        )
    if d.ndim != 1:
        got = shown(x) if d.ndim == 0 else f"an array of shape {d.shape}"
        raise ArgumentError(
            f"{name} must be one 1-D vector of paired differences, got {got}; pass each "
            "vector on its own (bootstrap_cis takes a list of them)"
        )
    if np.isinf(d).any():
        at = int(np.flatnonzero(np.isinf(d))[0])
        raise ArgumentError(
            f"{name} holds {d[at]:g} at position {at}: an infinite difference has no mean; "
            "pass finite differences (NaN for a missing pair)"
        )
    return d


_CI_CACHE: collections.OrderedDict[tuple[bytes, int, float, int], tuple[float, float]] = (
    collections.OrderedDict()
)
_CI_CACHE_SIZE = 4096  # about 4 kB of key each: the CIs of a few reports


def bootstrap_cis(
    diffs: Sequence[np.ndarray], *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> list[tuple[float, float]]:
    """:func:`bootstrap_ci` of each vector of differences, the same numbers, computed once.

    A report asks for the CI of the same differences several times (NA-RS − RS is a paired
    row, an accounting row and a route), so answers are kept (keyed by the differences'
    bytes, at most ``_CI_CACHE_SIZE`` of them); the new ones are computed in threads, as
    numpy's gather and mean release the GIL. Each vector is checked as :func:`bootstrap_ci`
    checks its one (a 2-D array, an inf or text is an :class:`ArgumentError`).

    >>> d = np.array([0.5, 1.0, 1.5, np.nan])
    >>> bootstrap_cis([d, d[:3]], n_boot=200) == [bootstrap_ci(d, n_boot=200)] * 2
    True
    """
    n_boot, confidence, seed = check_ci_args(n_boot, confidence, seed)
    clean = []
    for i, x in enumerate(diffs):
        d = _differences(x, f"diffs[{i}]")
        clean.append(np.ascontiguousarray(d[~np.isnan(d)]))
    keys = [(d.tobytes(), int(n_boot), float(confidence), int(seed)) for d in clean]
    todo = {k: d for k, d in zip(keys, clean, strict=True) if k not in _CI_CACHE}
    if todo:
        # by number of pairs: each size's resampling indices drawn once, here, and held while
        # its vectors are done (the lru cache of _resamples keeps only two sizes)
        by_size: dict[int, list[tuple[tuple[bytes, int, float, int], FloatArray]]] = {}
        for k, d in todo.items():
            by_size.setdefault(d.size, []).append((k, d))
        threads = min(len(todo) // 8, _cpus())
        with contextlib.ExitStack() as stack:
            ex = stack.enter_context(ThreadPoolExecutor(threads)) if threads > 1 else None
            for size, group in by_size.items():
                if size >= 2:  # the indices and the gathered means' input, n_boot x size
                    check_memory(
                        16 * n_boot * size,
                        f"{n_boot} bootstrap resamples of {size} pairs",
                        "use fewer resamples (n_boot)",
                    )
                idx = _resamples(seed, n_boot, size) if size >= 2 else None

                def one(
                    d: FloatArray, idx: npt.NDArray[np.int64] | None = idx
                ) -> tuple[float, float]:
                    return _one_ci(d, idx, confidence)

                vectors = [d for _, d in group]
                got = list(ex.map(one, vectors)) if ex is not None else [one(d) for d in vectors]
                for (k, _), ci in zip(group, got, strict=True):
                    _CI_CACHE[k] = ci
    out = []
    for k in keys:
        _CI_CACHE.move_to_end(k)
        out.append(_CI_CACHE[k])
    while len(_CI_CACHE) > _CI_CACHE_SIZE:
        _CI_CACHE.popitem(last=False)
    return out


def _cpus() -> int:
    from nb201_flat.budget import thread_count

    return thread_count(os.cpu_count() or 1)


def _one_ci(
    d: FloatArray, idx: npt.NDArray[np.int64] | None, confidence: float
) -> tuple[float, float]:
    """The CI of ``d`` from its resampling indices ``idx`` (:func:`_resamples`; None: fewer
    than two pairs, no CI)."""
    if idx is None or d.size < 2:
        return float("nan"), float("nan")
    means = d[idx].mean(axis=1)
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
    """NA − base per (protocol, algorithm, reported key), paired by run, with CI and verdict.

    A row's ``na_mean``, ``base_mean`` and ``diff`` are means over the same ``n`` paired runs
    (both sides have a test value), so ``na_mean − base_mean`` is ``diff``; where a run's pick
    has no reported value, it and its partner are left out of all three. Each search's mean
    over all its runs is :meth:`SearchResults.summary`'s. A row of fewer than
    :data:`MIN_RUNS_VERDICT` pairs keeps its CI but gets :data:`FEW_RUNS_VERDICT`."""
    if not isinstance(results, SearchResults):  # its .runs met a bare AttributeError
        raise ArgumentError(
            f"results must be the SearchResults of run_search or reproduce, got "
            f"{type(results).__name__}; pass the results themselves, not their .runs"
        )
    runs = results.runs
    prots = {p.name: p for p in results.protocols}
    rows: list[dict[str, object]] = []
    diffs: list[FloatArray] = []
    # one pass over the runs frame, not four string comparisons per row
    cells = group_runs(runs, ("algorithm", "protocol", *KEY_COLUMNS))
    by_algo: dict[str, list[tuple[str, ...]]] = {}
    for key in cells:
        by_algo.setdefault(key[0], []).append(key)
    unknown = [label for label in algorithms if label not in by_algo]
    if unknown:  # they were skipped: a typo gave a frame without their rows, without a word
        raise ArgumentError(
            f"no runs of {', '.join(map(repr, unknown))} in the results; pass the labels the "
            f"results hold ({', '.join(map(repr, by_algo))})"
        )
    bases = {label: _base_of(algo) for label, algo in algorithms.items()}
    if not any(base in algorithms for base in bases.values()):
        # nothing to pair: an empty frame (no columns) said nothing
        raise ArgumentError(
            f"none of {', '.join(map(repr, algorithms))} has its base among them (NA-RS pairs "
            "with 'rs', an NA form with its plain form); pass the bases too"
        )
    missing = {label: b for label, b in bases.items() if b is not None and b not in algorithms}
    if missing:  # their rows were left out without a word, beside the others' rows
        said = ", ".join(f"{label!r} pairs with {b!r}" for label, b in missing.items())
        raise ArgumentError(
            f"{said}, which the algorithms do not hold; pass each base under that label, or "
            "leave its NA form out"
        )
    for label, algo in algorithms.items():
        base = bases[label]
        if base is None:
            continue
        for key in by_algo[label]:
            _, pname, ds, split, epochs, metric = key
            a = cells[key]
            tb = a.aligned(cells.get((base, *key[1:])), "test")
            d = a.test - tb
            both = np.isfinite(d)  # the paired runs: every mean of the row is over them
            claim = na_claim(ds, str(metric), isinstance(algo, NARandomSearch))
            p = prots[str(pname)]
            rows.append(
                {
                    "protocol": pname,
                    "search": p.search.dataset,
                    "search_epochs": p.search.epochs,
                    "dataset": ds,
                    "split": split,
                    "epochs": int(epochs),
                    "metric": metric,
                    "algorithm": label,
                    "base": base,
                    **_describe(algo),
                    "na_mean": _mean(a.test[both]),
                    "base_mean": _mean(tb[both]),
                    "diff": float(np.nanmean(d)) if both.any() else np.nan,
                    "ci_lo": np.nan,
                    "ci_hi": np.nan,
                    "n": int(both.sum()),
                    "claim": claim,
                    "verdict": "",
                    "optimistic": p.optimistic,
                }
            )
            diffs.append(d)
    cis = bootstrap_cis(diffs, n_boot=n_boot, confidence=confidence, seed=seed)
    for row, (lo, hi) in zip(rows, cis, strict=True):
        claim_value, n = cast(float | None, row["claim"]), cast(int, row["n"])
        row["ci_lo"], row["ci_hi"] = lo, hi
        row["verdict"] = verdict_for(str(row["metric"]), lo, hi, claim_value, margin, n=n)
    return _typed(pd.DataFrame(rows))


#: the dtypes of the comparison frames' columns where a row may have no value (pandas'
#: missing: NaN in a float column, ``<NA>`` in a nullable one): one dtype whatever the rows
#: hold, never object (a grid reporting no claimed dataset had claims all None)
_DTYPES = {"claim": "float64", "two_stage": "boolean"}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns of :data:`_DTYPES` in those dtypes."""
    return frame.astype({k: v for k, v in _DTYPES.items() if k in frame.columns})


# The frames below are built by typed_frame from their dtypes: the same columns and dtypes
# with rows or without (a frame of no rows held its columns as objects)

#: :func:`anchor_rows`' columns and dtypes (also where no published number has a row of ours)
ANCHOR_DTYPES: dict[str, str] = {
    "source": "str",
    "quantity": "str",
    "protocol": "str",
    **KEY_DTYPES,  # the reported key "ours" was read at, as in every other result table
    "published": "float64",
    "published_std": "float64",  # NaN: the source gives none
    "ours": "float64",
    "ours_std": "float64",
    "ours_ci": "str",
    "delta": "float64",
    "n": "int64",
}
ANCHOR_COLUMNS = tuple(ANCHOR_DTYPES)

#: a paired comparison's columns and dtypes (:func:`_pair`'s row): the two sides' means and
#: evaluations, their mean difference with its CI, and the number of pairs
PAIR_DTYPES: dict[str, str] = {
    "a_mean": "float64",
    "b_mean": "float64",
    "a_evaluations": "float64",
    "b_evaluations": "float64",
    "diff": "float64",
    "ci_lo": "float64",
    "ci_hi": "float64",
    "n": "int64",
}
PAIR_COLUMNS = tuple(PAIR_DTYPES)

#: :func:`accounting_rows`' columns and dtypes (also where the grid ran no accounting): a row
#: per protocol and reported key (:data:`~nb201_flat.search.runner.KEY_COLUMNS`)
ACCOUNTING_DTYPES: dict[str, str] = {
    "protocol": "str",
    **KEY_DTYPES,
    "comparison": "str",
    "neighbours": "str",
    "a": "str",
    "b": "str",
    **PAIR_DTYPES,
    "claim": _DTYPES["claim"],
}
ACCOUNTING_COLUMNS = tuple(ACCOUNTING_DTYPES)

#: :func:`claim_routes`' columns and dtypes (also where the grid reports no claimed dataset):
#: rows per reported key (:data:`~nb201_flat.search.runner.KEY_COLUMNS`)
ROUTE_DTYPES: dict[str, str] = {
    **KEY_DTYPES,
    "kind": "str",
    "claim": _DTYPES["claim"],
    "a_protocol": "str",
    "a": "str",
    "a_search": "str",
    "b_protocol": "str",
    "b": "str",
    "b_search": "str",
    **PAIR_DTYPES,
    "distance": "float64",
}
ROUTE_COLUMNS = tuple(ROUTE_DTYPES)


def anchor_rows(summary: pd.DataFrame, paired: pd.DataFrame) -> pd.DataFrame:
    """Published numbers beside ours: RS's mean test value, NA-RS − RS (:data:`ANCHOR_COLUMNS`)."""
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
                    **{c: r[c] for c in KEY_COLUMNS},
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
                        **{c: r[c] for c in KEY_COLUMNS},
                        "published": value,
                        "published_std": std,
                        "ours": float(r["diff"]),
                        "ours_std": np.nan,
                        "ours_ci": f"[{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}] {r['verdict']}",
                        "delta": float(r["diff"]) - value,
                        "n": int(r["n"]),
                    }
                )
    return typed_frame(rows, ANCHOR_DTYPES)


def claim_rows(paired: pd.DataFrame) -> pd.DataFrame:
    """The rows carrying the NA paper's sized claim (NA-RS vs RS on CIFAR-100 / ImageNet)."""
    return paired[paired["claim"].notna()].reset_index(drop=True)


def _base_of(algo: SearchAlgorithm) -> str | None:
    """The label of an NA form's base (None: ``algo`` is no NA form)."""
    if isinstance(algo, NARandomSearch):
        return "rs"
    if isinstance(algo, RegularizedEvolution | LocalSearch) and algo.objective is not None:
        return replace(algo, objective=None).label
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
        row.update(
            radius=obj.radius,
            agg=obj.neighbourhood.agg_label,
            include_self=obj.include_self,
            charge=obj.charge,
        )
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
@dataclass(frozen=True, slots=True, eq=False)
class RunGroup:
    """One group of a runs frame (e.g. a protocol, algorithm and dataset) as arrays, in the
    frame's row order: run ids, test values, evaluations and incumbents (NaN: none).

    A run id names the random streams a run drew: its run number, or where the frame joins
    searches of several master seeds, its (seed, run) pair, numbered over the whole frame
    (:func:`group_runs`). ``repeated``: a run id the group holds twice (a search's runs
    joined with themselves), which no pairing can serve."""

    run: npt.NDArray[np.int64]
    test: FloatArray
    evaluations: npt.NDArray[Any] | None
    best: FloatArray | None
    repeated: str | None = None

    def aligned(self, other: RunGroup | None, column: str) -> FloatArray:
        """``other``'s ``column`` at this group's runs (NaN where it has no such run)."""
        for group in (self, other):
            if group is not None and group.repeated is not None:
                raise ArgumentError(
                    f"the runs frame holds {group.repeated} twice for one protocol, algorithm "
                    "and reported key: its paired differences would count a run twice; pass "
                    "each search's runs once"
                )
        if other is None:
            return np.full(self.run.size, np.nan)
        if self.run.size and other.run.size and not np.isin(self.run, other.run).any():
            # searches of different master seeds only: no run drew the same streams (a NaN
            # difference over n = 0; their run numbers were paired before)
            raise ArgumentError(
                "the two sides share no run: they come from searches of different master "
                "seeds, whose runs are not paired; run both in one search, or with one seed"
            )
        values = getattr(other, column)
        if values is None:
            raise ArgumentError(
                f"the runs frame has no {column} column: pass SearchResults.runs as it is"
            )
        if np.array_equal(self.run, other.run):  # the usual case: runs 0 .. R-1 in order
            out: FloatArray = np.asarray(values, dtype=np.float64)
            return out
        order = np.argsort(other.run, kind="stable")
        sorted_runs = other.run[order]
        pos = np.minimum(np.searchsorted(sorted_runs, self.run), max(sorted_runs.size - 1, 0))
        found = (sorted_runs.size > 0) & (sorted_runs[pos] == self.run)
        taken = np.asarray(values, dtype=np.float64)[order][pos] if sorted_runs.size else pos
        return np.where(found, taken, np.nan)


#: The runs frame split by protocol, algorithm and reported key (:func:`group_runs`), built
#: once per report.
RunGroups: TypeAlias = dict[tuple[str, ...], RunGroup]


def _check_runs_frame(runs: object) -> None:
    """Refuse what is not a runs frame ('SearchResults' is not iterable, and the like)."""
    if not isinstance(runs, pd.DataFrame):
        raise ArgumentError(
            f"runs must be a SearchResults.runs frame, got {type(runs).__name__}; pass results.runs"
        )


def group_runs(runs: pd.DataFrame, keys: Sequence[str] | None = None) -> RunGroups:
    """``runs`` split by ``keys`` (in order of first appearance) into arrays: one pass over
    the (large) frame, so that a report's many :func:`compare` calls need no string
    comparisons over all of it. Keys are the group's values as text. ``None``: protocol,
    algorithm and the reported key (:data:`~nb201_flat.search.runner.KEY_COLUMNS` that
    ``runs`` has): a dataset reported at two splits or epochs is two groups, whose runs
    share their numbers and must not be paired across.

    Runs are paired by run number, which names their random streams within one search; a
    frame that joins searches of several master seeds (its ``seed`` column) pairs by seed and
    run number (run 0 of seed 1 was paired with run 0 of seed 0 before), and two sides that
    share no run are refused."""
    _check_runs_frame(runs)
    if keys is None:
        keys = ("protocol", "algorithm", *(c for c in KEY_COLUMNS if c in runs))
    lacks = [c for c in (*keys, "run", "test") if c not in runs.columns]
    if lacks:  # pandas answered with a bare KeyError naming the first
        raise ArgumentError(
            f"the runs frame lacks {', '.join(lacks)}: pass a search's runs (SearchResults.runs)"
        )
    if runs.empty:
        return {}
    gid = runs.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
    order = np.argsort(gid, kind="stable")
    counts = np.bincount(gid)
    starts = np.cumsum(counts) - counts
    firsts = order[starts]
    names = [runs[k].to_numpy(dtype=object)[firsts] for k in keys]
    run = runs["run"].to_numpy(dtype=np.int64)
    seeds = runs.get("seed")
    if seeds is not None and seeds.nunique(dropna=False) > 1:
        # several searches share run numbers: a run is its (seed, run) pair, one id each
        codes, _ = pd.MultiIndex.from_arrays([seeds, runs["run"]]).factorize()
        run = codes.astype(np.int64)
    test = runs["test"].to_numpy(dtype=np.float64, na_value=np.nan)
    evals = runs["evaluations"].to_numpy() if "evaluations" in runs else None
    best = runs["best"].to_numpy(dtype=np.float64, na_value=np.nan) if "best" in runs else None
    out: RunGroups = {}
    for g in range(counts.size):
        rows = order[starts[g] : starts[g] + counts[g]]
        ids = run[rows]
        ranked = np.sort(ids)
        twice = ranked[1:][ranked[1:] == ranked[:-1]]
        repeated = None
        if twice.size:
            first = int(np.flatnonzero(ids == twice[0])[0])  # the row that names it
            where = runs.iloc[int(rows[first])]
            seed = f" of seed {where['seed']}" if seeds is not None else ""
            repeated = f"run {where['run']}{seed}"
        out[tuple(str(v[g]) for v in names)] = RunGroup(
            run=ids,
            test=test[rows],
            evaluations=None if evals is None else evals[rows],
            best=None if best is None else best[rows],
            repeated=repeated,
        )
    return out


def _mean(x: npt.NDArray[Any]) -> float:
    """The mean of the non-NaN values, summed as pandas' ``Series.mean`` sums them (the same
    float): NaN set to 0, one pairwise sum in float64, divided by the count."""
    if x.dtype.kind == "f":
        mask = np.isnan(x)
        n = x.size - int(mask.sum())
        if n == 0:
            return float("nan")
        if mask.any():
            x = np.where(mask, 0.0, x)
    else:
        n = x.size
        if n == 0:
            return float("nan")
    return float(x.sum(dtype=np.float64) / n)


def _pair(ga: RunGroup | None, gb: RunGroup | None) -> tuple[dict[str, object], FloatArray] | None:
    """:func:`compare`'s row (:data:`PAIR_COLUMNS`), its CI still to fill, and the paired
    differences."""
    if ga is None or gb is None or ga.run.size == 0 or gb.run.size == 0:
        return None
    tb = ga.aligned(gb, "test")
    d = ga.test - tb
    if ga.evaluations is None or gb.evaluations is None:
        raise ArgumentError(
            "the runs frame has no evaluations column: pass SearchResults.runs as it is"
        )
    # every mean of the row over the same paired runs as diff (see paired_differences)
    both = np.isfinite(d)
    row: dict[str, object] = {
        "a_mean": _mean(ga.test[both]),
        "b_mean": _mean(tb[both]),
        "a_evaluations": _mean(ga.evaluations[both]),
        "b_evaluations": _mean(ga.aligned(gb, "evaluations")[both]),
        "diff": float(np.nanmean(d)) if both.any() else np.nan,
        "ci_lo": np.nan,
        "ci_hi": np.nan,
        "n": int(both.sum()),
    }
    return row, d


def _fill_cis(
    found: list[tuple[dict[str, object], FloatArray]], n_boot: int, confidence: float, seed: int
) -> None:
    cis = bootstrap_cis([d for _, d in found], n_boot=n_boot, confidence=confidence, seed=seed)
    for (row, _), (lo, hi) in zip(found, cis, strict=True):
        row["ci_lo"], row["ci_hi"] = lo, hi


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
    split: str | None = None,
    epochs: int | None = None,
    metric: str | None = None,
) -> dict[str, object] | None:
    """Mean test of ``a`` − ``b`` (each ``(protocol, label)``) on ``dataset``, paired by run.

    Runs sharing a run number share their random streams (see
    :mod:`~nb201_flat.search.runner`), also across protocols. Returns None when either side has
    no runs on ``dataset``; a side or a dataset the runs do not hold at all, or a key none of
    them reports, is refused (a misspelt name read as a side without runs). The evaluations
    of both sides come with the difference, and every mean of the row
    (``a_mean``, ``b_mean``, the evaluations, ``diff``) is over the same ``n`` paired runs,
    those where both sides have a test value. ``groups``: the
    :func:`group_runs` of ``runs`` (its default keys), for callers that compare many pairs of
    the same frame.

    ``split``, ``epochs``, ``metric``: which reported key of ``dataset`` to compare, where the
    runs report it under several (a protocol at 12 and 200 search epochs); such a dataset
    without them is refused first, naming its keys (its runs would be paired across keys).
    """
    _check_runs_frame(runs)
    columns = [c for c in KEY_COLUMNS[1:] if c in runs]  # split, epochs, metric, as runs has
    groups = group_runs(runs) if groups is None else groups
    if any(len(k) != 3 + len(columns) for k in groups):
        raise ArgumentError(
            "groups must be group_runs(runs) with its default keys (protocol, algorithm, "
            f"dataset, {', '.join(columns) or 'and no other key column'}); pass groups=None"
        )
    if epochs is not None:  # 'twelve' met float()'s bare ValueError
        epochs = check_int_range("epochs", epochs, 1)
    chosen = {"split": split, "epochs": epochs, "metric": metric}
    for name, value in chosen.items():
        if value is not None and name not in columns:
            raise ArgumentError(f"{name}= given, but these runs have no {name} column")
    _check_compared(groups, {"a": a, "b": b}, dataset)

    def same(name: str, got: str) -> bool:
        want = chosen[name]
        if want is None:
            return True
        return float(got) == float(want) if name == "epochs" else got == str(want)

    def matches(rest: tuple[str, ...]) -> bool:
        return all(same(n, got) for n, got in zip(columns, rest, strict=True))

    keys = {
        k[3:]
        for k in groups
        if k[:2] in (tuple(a), tuple(b)) and k[2] == str(dataset) and matches(k[3:])
    }
    if len(keys) > 1:
        shown = "; ".join(
            str(MetricKey(str(dataset), k[0], int(float(k[1])), k[2]))
            if len(columns) == 3
            else ", ".join(k)
            for k in sorted(keys)
        )
        given = [n for n in columns if chosen[n] is None]
        raise ArgumentError(
            f"{dataset!r} is reported under {len(keys)} keys in these runs ({shown}): "
            f"pass {', '.join(f'{n}=' for n in given)} to compare one"
        )
    if not keys and any(v is not None for v in chosen.values()):  # a misspelt split: None
        held = sorted(
            {k[3:] for k in groups if k[:2] in (tuple(a), tuple(b)) and k[2] == str(dataset)}
        )
        if held:
            wanted = ", ".join(f"{n}={v!r}" for n, v in chosen.items() if v is not None)
            raise ArgumentError(
                f"no runs of {dataset!r} at {wanted}; these runs report it at "
                + "; ".join(", ".join(map(str, k)) for k in held)
                + f" ({', '.join(columns)})"
            )
    key = next(iter(keys), ())
    got = _pair(groups.get((*a, dataset, *key)), groups.get((*b, dataset, *key)))
    if got is None:
        return None
    _fill_cis([got], n_boot, confidence, seed)
    return got[0]


def _check_compared(groups: RunGroups, sides: dict[str, object], dataset: object) -> None:
    """Refuse a side that is no ``(protocol, label)`` pair of these runs, or a dataset they do
    not report: a misspelt label or dataset returned None, as a side without runs does."""
    held = sorted({k[:2] for k in groups})
    for name, side in sides.items():
        if not (
            isinstance(side, (tuple, list))
            and len(side) == 2
            and all(isinstance(x, str) for x in side)
        ):  # 'rs' was read as ('r', 's')
            raise ArgumentError(
                f"{name} must be a (protocol, label) pair, got {side!r}; e.g. ('nb201', 'rs')"
            )
        if tuple(side) not in held:
            raise ArgumentError(
                f"{name}={tuple(side)!r} names no runs here; these runs hold "
                + ", ".join(map(repr, held))
            )
    datasets = sorted({str(k[2]) for k in groups})
    if str(dataset) not in datasets:
        raise ArgumentError(
            f"dataset {dataset!r} is not reported by these runs; they report "
            + ", ".join(map(repr, datasets))
        )


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
    """Issue 17's accounting, per protocol and reported key, each with its CI.

    For NA-RS: NA-RS − RS and NA-RS − budget-matched RS; for best-evaluated NA-RS
    (:class:`NABestEvaluatedSearch`): it − RS and it − RS with the same evaluations; for NA-REA
    and NA-LS: NA − base and NA − budget-matched base; and each control − its base (what the
    extra evaluations alone are worth). ``matched`` is :func:`budget_matched`'s table.
    """
    rows: list[dict[str, object]] = []
    if matched.empty:  # no controls ran: the frame keeps its columns (selecting one works)
        return typed_frame(rows, ACCOUNTING_DTYPES)
    seen_controls: set[tuple[str, str]] = set()
    # by the whole reported key: a dataset reported at two splits or epochs is two rows
    groups = group_runs(runs, ("protocol", "algorithm", *KEY_COLUMNS))
    found: list[tuple[dict[str, object], FloatArray]] = []
    keys_of: dict[str, dict[tuple[str, ...], None]] = {}  # protocol -> its keys, in order
    for pn, _, *reported in groups:
        keys_of.setdefault(pn, {})[tuple(reported)] = None
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
        for key in keys_of.get(pname, {}):
            ds, split, epochs, metric = key
            todo = [(label, na, b) for label, b in pairs]
            if (pname, control) not in seen_controls:
                todo.append((f"budget-matched {base_name} − {base_name}", control, base))
            for label, a_lab, b_lab in todo:
                got = _pair(groups.get((pname, a_lab, *key)), groups.get((pname, b_lab, *key)))
                if got is None:
                    continue
                row = {
                    "protocol": pname,
                    "dataset": ds,
                    "split": split,
                    "epochs": int(epochs),
                    "metric": metric,
                    "comparison": label,
                    "neighbours": _form(algo),
                    "a": a_lab,
                    "b": b_lab,
                    **got[0],
                    "claim": na_claim(ds, str(metric), claimed),
                }
                rows.append(row)
                found.append((row, got[1]))
        seen_controls.add((pname, control))
    _fill_cis(found, n_boot, confidence, seed)
    return typed_frame(rows, ACCOUNTING_DTYPES)


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

    Candidates, per reported key of a claimed dataset: every NA-RS form (one- and two-stage,
    best-evaluated, free or charged) and every budget-matched RS control, under every protocol
    reporting the key, against RS under the same protocol or under ``nb201`` (RS searched on
    CIFAR-10, as the published RS was) at that key. The ``closest`` of each kind (plain,
    two-stage or best-evaluated NA-RS, free or charged; RS with NA-RS's evaluations) per key
    are kept, nearest the claim first, each with its CI, so a reader sees which choices move
    the difference and by how much.
    """
    closest = check_int_range("closest", closest, 1)  # 0: no row; -1: all but the last
    prots = {p.name: p for p in protocols}
    rows: list[dict[str, object]] = []
    # by the whole reported key: a dataset reported at two splits or epochs is two sets of rows
    groups = group_runs(runs, ("protocol", "algorithm", *KEY_COLUMNS))
    found: list[tuple[dict[str, object], FloatArray]] = []
    for ds, claim in NA_CLAIMS.items():
        # its keys and their (protocol, algorithm) cells, in first appearance as in the frame
        cells: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for p, a, *reported in groups:
            if reported[0] == ds and reported[3] == "accuracy":  # the claim is in accuracy
                cells.setdefault(tuple(reported), []).append((p, a))
        for key, cands in cells.items():
            rs_prots = [p for p, a in cands if a == "rs"]
            for pa, la in cands:
                if not (la.startswith("na-rs") or (is_control(la) and la.startswith("rs"))):
                    continue
                for pb in dict.fromkeys([pa, *[p for p in rs_prots if p.startswith("nb201")]]):
                    if pb not in rs_prots:
                        continue
                    got = _pair(groups.get((pa, la, *key)), groups.get((pb, "rs", *key)))
                    if got is None:
                        continue
                    r = got[0]
                    row = {
                        "dataset": ds,
                        "split": key[1],
                        "epochs": int(key[2]),
                        "metric": key[3],
                        "kind": _route_kind(la),
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
                    rows.append(row)
                    found.append((row, got[1]))
    _fill_cis(found, n_boot, confidence, seed)
    df = typed_frame(rows, ROUTE_DTYPES)
    by = [*KEY_COLUMNS, "distance"]
    df = df.sort_values(by, kind="stable")
    # the closest of each kind, so that every choice (neighbourhood selection, two stages,
    # best-evaluated, more evaluations) shows how far it gets
    df = df.groupby([*KEY_COLUMNS, "kind"], sort=False).head(closest)
    return df.sort_values(by, kind="stable").reset_index(drop=True)


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
    one-stage NA-RS with the same objective returns, over the runs where both have an
    incumbent (NaN for other rows, and where no such run exists; the report leaves it blank).

    Runs are paired by seed, so both stages see the same first samples; a share near 1 means
    the two-stage row repeats the one-stage row rather than adding a result of its own.
    """
    out = paired.copy()
    out["same_cell"] = np.nan
    if out.empty:
        return out
    # by the whole reported key, as paired's rows are: a dataset at 12 and 200 search epochs
    # is two rows, whose runs share their numbers
    _check_runs_frame(runs)
    columns = [c for c in KEY_COLUMNS if c in runs and c in out]
    groups = group_runs(runs, ("protocol", "algorithm", *columns))
    for k, row in out.iterrows():
        algo = algorithms.get(str(row["algorithm"]))
        if not isinstance(algo, NARandomSearch) or algo.rerank_top_k is None:
            continue
        one = NARandomSearch(algo.objective).label
        key = tuple(str(row[c]) for c in columns)
        a = groups.get((str(row["protocol"]), str(row["algorithm"]), *key))
        b = groups.get((str(row["protocol"]), one, *key))
        if a is None or b is None or a.run.size == 0 or b.run.size == 0:
            continue
        ba = a.best if a.best is not None else np.full(a.run.size, np.nan)
        bb = a.aligned(b, "best")
        # as pandas' nullable comparison: runs without an incumbent on either side are skipped
        valid = ~np.isnan(ba) & ~np.isnan(bb)
        n = int(valid.sum())
        out.loc[k, "same_cell"] = float((ba[valid] == bb[valid]).sum() / n) if n else np.nan
    return out
