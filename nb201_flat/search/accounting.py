"""Budget-matched controls: the base search given every evaluation its NA form made.

A neighbourhood-aware (NA) search with free neighbour look-ups evaluates far more cells than
its budget charges (radius 1 in NB201: the cell and its 24 neighbours, about 25 times as many).
A fair control is the base search (RS for NA-RS, REA for NA-REA, LS for NA-LS) given as much
as the NA form actually used: under a time budget, the simulated seconds of its charged
queries *plus* what its free look-ups would have cost to train (``total_seconds``); under a
query budget, its evaluations (charged queries plus free look-ups).

Matching is on the mean over the NA form's runs under each protocol (one budget per
protocol), so every control run has the same budget; the per-run spread is small for free
neighbours (each centre brings its whole neighbourhood) and is reported beside it
(``na_evaluations`` and ``control_evaluations`` of :func:`budget_matched`). Control run ``r``
is seeded like every other run ``r`` (see :mod:`~nb201_flat.search.runner`), so it is paired
with run ``r`` of the NA form and of the plain base search: the matched RS run ``r`` begins
with exactly the cells plain RS run ``r`` sampled, then continues.

Examples
--------
>>> control_label("rs", "na-rs[r1,mean,self,free]")
'rs(budget of na-rs[r1,mean,self,free])'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nb201_flat.errors import ArgumentError, check_seed
from nb201_flat.search.algorithms import AlgorithmError, SearchAlgorithm
from nb201_flat.search.protocol import Protocol
from nb201_flat.search.runner import (
    SearchResults,
    check_runs,
    run_cells_and_stalls,
    typed_frame,
)
from nb201_flat.table import Table

log = logging.getLogger(__name__)

CONTROL_MARK = "(budget of "


def control_label(base: str, na: str) -> str:
    """The label of the budget-matched ``base`` control of NA algorithm ``na``."""
    return f"{base}{CONTROL_MARK}{na})"


def is_control(label: str) -> bool:
    """True for a budget-matched control's label.

    >>> is_control("rs(budget of na-rs[r1,mean,self,free])"), is_control("rs")
    (True, False)
    """
    return CONTROL_MARK in label and label.endswith(")")


#: :attr:`MatchedControls.matched`'s columns and dtypes (also where no control ran:
#: :func:`matched_frame`)
MATCHED_DTYPES: dict[str, str] = {
    "protocol": "str",
    "algorithm": "str",
    "control": "str",
    "unit": "str",
    "budget": "float64",
    "protocol_budget": "float64",  # seconds or queries, as budget
    "na_evaluations": "float64",
    "na_evaluations_sd": "float64",
    "na_total_seconds": "float64",
    "control_evaluations": "float64",
    "control_total_seconds": "float64",
}
MATCHED_COLUMNS = tuple(MATCHED_DTYPES)


def matched_frame(rows: Sequence[Mapping[str, object]] = ()) -> pd.DataFrame:
    """:attr:`MatchedControls.matched` of ``rows``: the same columns and dtypes with rows or
    without (no control ran)."""
    return typed_frame(rows, MATCHED_DTYPES)


@dataclass(frozen=True, slots=True, eq=False)
class MatchedControls:
    """The controls' runs and curves, and what was matched to what.

    Attributes
    ----------
    runs, curves
        As :class:`~nb201_flat.search.runner.SearchResults`, under the original protocol
        names, algorithm = the control's label (:func:`control_label`); the curves' ``x`` runs
        over the control's own (larger) budget.
    matched
        One row per (protocol, NA algorithm): the control's label, its budget (seconds or
        queries), the NA form's mean evaluations and total seconds, the control's.
    notes
        How the budgets were matched.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    matched: pd.DataFrame
    notes: tuple[str, ...]


def _check_paired(frame: pd.DataFrame, runs: int, seed: int) -> None:
    """Refuse ``runs``/``seed`` other than the results': control run ``r`` is paired with NA
    run ``r`` by seed, and other values gave unpaired controls without a word."""
    runs, seed = check_runs(runs), check_seed(seed)
    if frame.empty:
        return
    if "seed" in frame:
        seeds = sorted({int(s) for s in frame["seed"].unique()})
        if seeds != [seed]:
            raise ArgumentError(
                f"seed={seed}, but the results were run with seed "
                f"{', '.join(map(str, seeds))}: the controls would not be paired with their "
                f"runs; pass the results' seed"
            )
    have = int(frame["run"].max()) + 1
    if runs != have:
        raise ArgumentError(
            f"runs={runs}, but the results hold {have} runs per cell: the controls are paired "
            f"with them run by run; pass runs={have}"
        )


def _check_pairs(results: object, pairs: object) -> None:
    """Refuse ``pairs`` that would not give each NA form its own base's control: one base
    label naming two algorithms (one control served both: REA was never run, its row showed
    RS's), a base that looks up neighbours for free (its control spent 8,813 evaluations of
    a budget of 496), or arguments of the wrong kind (bare AttributeErrors)."""
    from nb201_flat.search.algorithms import NeighbourObjective

    if not isinstance(results, SearchResults):
        raise AlgorithmError(
            f"results must be the SearchResults of the NA searches, got {type(results).__name__}"
        )
    if not isinstance(pairs, Mapping):
        raise AlgorithmError(
            "pairs must map each NA label to (base label, base algorithm), e.g. "
            "{'na-rs[r1,mean,self,free]': ('rs', RandomSearch())}"
        )
    bases: dict[str, SearchAlgorithm] = {}
    for na, pair in pairs.items():
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], SearchAlgorithm)
        ):
            raise AlgorithmError(
                f"pairs[{na!r}] must be (base label, base algorithm), got {pair!r:.80}"
            )
        base, algo = pair
        if isinstance(getattr(algo, "objective", None), NeighbourObjective):
            raise AlgorithmError(
                f"pairs[{na!r}] names {algo.label!r} as its base, which looks up neighbours "
                "for free: a budget-matched control is a plain search (rs, rea, ls)"
            )
        if bases.setdefault(str(base), algo) is not algo and bases[str(base)].label != algo.label:
            raise AlgorithmError(
                f"base label {base!r} names two algorithms ({bases[str(base)].label!r} and "
                f"{algo.label!r}); give each its own label"
            )


def budget_matched(
    table: Table,
    results: SearchResults,
    pairs: Mapping[str, tuple[str, SearchAlgorithm]],
    *,
    runs: int,
    seed: int = 0,
    jobs: int | None = 1,
    curve_points: int = 51,
) -> MatchedControls:
    """Run the base search of each NA algorithm with the budget the NA form actually used.

    Parameters
    ----------
    table
        The benchmark the ``results`` were run on.
    results
        The runs of the NA algorithms (every protocol of ``results.protocols``).
    pairs
        NA algorithm label -> (base label, base algorithm), e.g.
        ``{"na-rs[r1,mean,self,free]": ("rs", RandomSearch())}``.
    runs, seed, jobs, curve_points
        As :func:`~nb201_flat.search.runner.run_search`; ``runs`` and ``seed`` must be those
        of ``results`` for the controls to be paired with its runs.

    Raises
    ------
    AlgorithmError
        When an NA label has no runs in ``results``, or ``runs``/``seed`` differ from those
        of ``results``.
    """
    _check_pairs(results, pairs)
    frame = results.runs
    _check_paired(frame, runs, seed)
    # one pass over the (large) runs frame, not two string comparisons per (protocol, NA)
    groups = {
        (str(k[0]), str(k[1])): g for k, g in frame.groupby(["protocol", "algorithm"], sort=False)
    }
    rows: list[dict[str, object]] = []
    done: dict[tuple[str, str, float], str] = {}  # (protocol, base, budget) -> control label
    cells: list[tuple[Protocol, str, SearchAlgorithm]] = []
    for p in results.protocols:
        for na, (base, algo) in pairs.items():
            sel = groups.get((p.name, na))
            if sel is None or sel.empty:
                raise AlgorithmError(f"no runs of {na!r} under {p.name!r} to match a budget to")
            # one row per run: the reported datasets repeat the same run's counts
            per_run = sel.drop_duplicates("run")
            evals = per_run["evaluations"].to_numpy(dtype=np.float64)
            total = per_run["total_seconds"].to_numpy(dtype=np.float64)
            if p.budget_seconds is not None:
                budget = float(total.mean())
                control_p = p.replace(budget_seconds=budget, budget_queries=None)
            else:
                budget = float(max(1, round(float(evals.mean()))))
                control_p = p.replace(budget_queries=int(budget))
            key = (p.name, base, budget)
            label = done.get(key)
            if label is None:
                label = control_label(base, na)
                done[key] = label
                cells.append((control_p, label, algo))
            rows.append(
                {
                    "protocol": p.name,
                    "algorithm": na,
                    "control": label,
                    "unit": "seconds" if p.budget_seconds is not None else "queries",
                    "budget": budget,
                    "protocol_budget": p.budget_seconds
                    if p.budget_seconds is not None
                    else p.budget_queries,
                    "na_evaluations": float(evals.mean()),
                    "na_evaluations_sd": float(evals.std(ddof=1)) if evals.size > 1 else np.nan,
                    "na_total_seconds": float(total.mean()),
                }
            )
    run_frame = curve_frame = pd.DataFrame()
    stalls: list[str] = []  # the controls' own notes (stalls, runs without a test value)
    if cells:
        # every control in one pool: the processes share the work of all of them at once
        res, stalls = run_cells_and_stalls(
            table, cells, runs=runs, seed=seed, jobs=jobs, curve_points=curve_points
        )
        run_frame, curve_frame = res.runs, res.curves
        # one row per run; each control's means as Series.mean takes them (the same floats)
        ctrl = run_frame.drop_duplicates(["protocol", "algorithm", "run"])
        means = {
            (str(k[0]), str(k[1])): (
                float(g["evaluations"].mean()),
                float(g["total_seconds"].mean()),
            )
            for k, g in ctrl.groupby(["protocol", "algorithm"], sort=False)
        }
        for row in rows:
            evals_mean, seconds_mean = means[(str(row["protocol"]), str(row["control"]))]
            row["control_evaluations"] = evals_mean
            row["control_total_seconds"] = seconds_mean
    notes = (
        "budget-matched controls: the base search (RS / REA / LS) given, under each protocol, "
        "the mean over runs of what its NA form used: simulated seconds of charged queries plus "
        "what its free look-ups would have cost (time budgets), or its evaluations (query "
        "budgets); paired by seed with the NA form's runs",
        *stalls,
    )
    return MatchedControls(
        runs=run_frame,
        curves=curve_frame,
        matched=matched_frame(rows),
        notes=notes,
    )
