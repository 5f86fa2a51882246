"""Search protocols: what a search sees, what it pays, when it stops, what is reported.

A :class:`Protocol` is a frozen value: the validation key the oracle answers, its seed policy,
the cost key and budget, and the test keys read after the search. Three families are built in:

``nb201``
    The NAS-Bench-201 paper's random-search protocol: search ``cifar10-valid`` ``x-valid`` at
    12 epochs with a random seed, 12,000 simulated seconds, report the 200-epoch test accuracy
    on CIFAR-10 (``cifar10`` ``ori-test``), CIFAR-100 and ImageNet16-120 (``x-test``).
``per-dataset``
    NATS-Bench's: search each dataset's own ``x-valid`` (``cifar10-valid``, ``cifar100``,
    ``ImageNet16-120``) with 20,000 / 40,000 / 120,000 s and report that dataset's test.
    Searched at 200 epochs, either family's time budget is x 200/12 (the epochs rule,
    :func:`~nb201_flat.conventions.budget_scale_for`, applied by the builders). Their built-in
    budgets are in the seconds of NB201's own training: a table of retrained times (one that
    records its space key, or whose typical cell costs a tenth of NB201's or less) is refused
    them (:func:`check_benchmark_times`).
``fixed-n``
    N charged queries, no time: at any search epochs the table stores (the time-budgeted
    families search 12 or 200, :data:`~nb201_flat.conventions.SEARCH_EPOCHS`, the schedules
    their budgets are set for), reporting NB201's test key or, on a table ``train`` wrote, the
    dataset's own test split (:func:`fixed_n_protocols`).

A run's work is bounded (:data:`MAX_QUERIES_PER_CELL`): a budget that buys more than 100 x
the space's size in queries (N, or a time budget over the cheapest query) is refused, and so
is one that ``repeats="cache"`` never ends a run on (one pass over the cells or more).

Costs: the tables store the training time of the whole 200-epoch schedule (``train``
``time_s`` at 200 epochs) only, so a 12-epoch query is charged ``time_200 * 12 / 200``
(:attr:`Protocol.cost_scale`), a linear approximation of NB201's own 12-epoch times, and the
evaluation time NB201 adds (``valid-per-time``) is not stored and not charged.

Seed policy ``random`` needs per-seed values; where a key stores a single value (every
12-epoch key of the NB201 release here) a policy that was *asked for* (``seed_policy="random"``
given to a builder or to :class:`Protocol`, ``--seed-policy random``) is refused, as ``query``
refuses it; only a builder's *default* ``random`` falls back to that single value, and the
protocol's notes say so (``seed_fallback=True``, what the builders set when no policy is given).
So is a ``random`` asked for on a key of one stored seed, which every draw takes (name that
seed: :func:`~nb201_flat.table.check_random_draw`); a defaulted one draws it.

Examples
--------
>>> p = nb201_protocol()
>>> str(p.search), p.budget_seconds, p.cost_scale
('cifar10-valid/x-valid@12ep:accuracy', 12000.0, 0.06)
>>> [k.dataset for k in p.report]
['cifar10', 'cifar100', 'ImageNet16-120']
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, TypeAlias

import numpy as np

from nb201_flat.conventions import (
    BUDGET_EPOCHS,
    COST_METRICS,
    NB201_TIME_BUDGET,
    REPORT_DATASETS,
    SEARCH_EPOCHS,
    TIME_BUDGETS,
    cannot_be_negative,
    cost_key,
    is_loss,
    is_spread,
    natural_direction,
    report_key,
    scaled_time_budget,
    search_key,
    shares_data,
)
from nb201_flat.errors import (
    ArgumentError,
    Call,
    Param,
    Part,
    SearchBudgetError,
    UnknownKeyError,
    check_flag,
    check_int_range,
    parts_of,
    real_number,
    shown,
)
from nb201_flat.errors import ProtocolError as ProtocolError
from nb201_flat.search.oracle import (
    Evaluator,
    IntArray,
    OracleData,
    Repeats,
    cheapest_paid,
    check_budgets,
    costs_overflow,
    invalid_costs,
    sampled_costs,
    seed_rows,
)
from nb201_flat.table import (
    MetricKey,
    Table,
    check_random_draw,
    check_table,
    is_seed_policy,
    policy_seeds,
    renamed_seed,
    stand_ins,
)
from nb201_flat.types import SeedPolicy

log = logging.getLogger(__name__)

Sampling: TypeAlias = Literal["uniform", "connected"]

PROTOCOL_NAMES: tuple[str, ...] = ("nb201", "per-dataset", "fixed-n")

#: the families whose budget is a time, set for the schedules of
#: :data:`~nb201_flat.conventions.SEARCH_EPOCHS` only (:func:`check_timed_epochs`)
TIMED_PROTOCOLS: tuple[str, ...] = ("nb201", "per-dataset")

#: the most charged queries one run may make, as a multiple of the space's size (see
#: :meth:`Protocol.oracle_data`): a bound on a command's work, far past any meaningful search
MAX_QUERIES_PER_CELL = 100


def seconds_text(seconds: float) -> str:
    """Whole seconds as text, grouped (':g' wrote 2,000,000 s as 2e+06), and in four
    significant digits from 1e15 s on: a budget near 1e308 was written in 309 digits.

    >>> seconds_text(2e6), seconds_text(1817.4), seconds_text(1.2e308)
    ('2,000,000', '1,817', '1.2e+308')
    """
    return f"{seconds:.4g}" if abs(seconds) >= 1e15 else f"{seconds:,.0f}"


#: a query budget: the fixed-n family (a command spells the call as its flags: search's
#: ``--protocol fixed-n --fixed-n N``, reproduce's ``--fixed-n N --protocols fixed-n``)
_FIXED_N = Call("fixed_n_protocols", placeholder="table, n")

#: the way out where no time budget would do
_QUERY_BUDGET: tuple[Part, ...] = ("use a query budget instead (", _FIXED_N, ")")

#: NB201's median training time of a cell per cost key (``train`` ``time_s`` at 200 epochs,
#: what its time budgets are spent on): the medians over the 15,625 cells of the NATS-Bench
#: topology release (NATS-tss-v1_0, the shared data's ``nb201_tidy.csv.gz``), in seconds
NB201_MEDIAN_COSTS: dict[MetricKey, float] = {
    cost_key("cifar10"): 1817.1,
    cost_key("cifar100"): 3634.2,
    cost_key("ImageNet16-120"): 11026.3,
}

#: how far below NB201's (:data:`NB201_MEDIAN_COSTS`) a table's median cost may lie before its
#: built-in time budgets are refused (:func:`check_benchmark_times`): NB201's cheapest cell
#: costs 0.30 x its median, so no subset of its cells comes near, while a retraining's ~20 s
#: cells lie 90 x below
TIME_SCALE_GAP = 10.0

# dataset searched -> (dataset reported, split reported, NATS-Bench time budget in seconds)
_PER_DATASET: dict[str, tuple[str, str, float]] = {
    ds: (report_key(ds).dataset, report_key(ds).split, budget)
    for ds, budget in TIME_BUDGETS.items()
}
_TEST_SPLITS = ("ori-test", "x-test")

# the keys each time-budgeted family charges (:func:`check_benchmark_times`)
_FAMILY_COSTS: dict[str, tuple[MetricKey, ...]] = {
    "nb201": (cost_key("cifar10"),),
    "per-dataset": tuple(cost_key(ds) for ds in _PER_DATASET),
}


@dataclass(frozen=True, slots=True)
class Protocol:
    """One search setting.

    Attributes
    ----------
    name
        A label for reports (e.g. ``"nb201"``, ``"per-dataset:cifar100"``).
    search
        The validation metric the oracle answers, measured on every cell under the seed
        policy (:meth:`check`); searches keep its highest values: an accuracy, or a score of
        no known direction (a zero-cost proxy's), never a loss, a time, a cost or a spread.
    report
        Test metrics read after the search (mean over seeds).
    seed_policy
        Stored-seed policy of the oracle: ``"random"`` (one stored seed per query, drawn from
        the run's generator), ``"mean"`` or a stored seed's number (:mod:`~nb201_flat.table`). ``seed=`` is its
        deprecated old name (one release, with a :class:`DeprecationWarning`).
    budget_seconds
        Simulated-time budget, or None.
    budget_queries
        Budget in charged queries, or None. At least one budget is set.
    cost
        The time key charged (``train`` ``time_s`` at 200 epochs; a time, never an accuracy
        or a size); scaled by :attr:`cost_scale`. Required with ``budget_seconds``; optional
        otherwise.
    repeats
        ``"charge"`` (NB201: a repeated query re-trains and pays) or ``"cache"``.
    sampling
        ``"uniform"`` over all cells (NB201: each edge uniform over the ops, no validity
        filter) or ``"connected"`` (only cells whose input reaches the output).
    seed_fallback
        With ``seed_policy="random"`` on a key storing a single value: use it (True, noted) or
        raise (False, the default: a policy asked for that cannot be served is an error). The
        builders set True only when the caller gave no policy (their default ``random``).
    budget_by
        The caller's parameter that set the one budget (a builder's ``budget_scale`` or
        ``n``), which refusals name in place of the field; ``""`` where nothing the caller
        passes sets it (the reproduce grid's 12-epoch budgets); None (the default): the field
        itself, ``budget_seconds`` or ``budget_queries``. Not part of the protocol's identity;
        :meth:`replace` resets it where it changes a budget.
    benchmark_budget
        True where ``budget_seconds`` is a built-in budget (NB201's or NATS-Bench's, times
        any ``budget_scale``: what the builders set unless given a budget), in the seconds
        of NB201's own training, which :meth:`check` refuses on a table of retrained times
        (:func:`check_benchmark_times`). Not part of the protocol's identity; :meth:`replace`
        resets it where it changes a budget.
    """

    name: str
    search: MetricKey
    report: tuple[MetricKey, ...]
    seed_policy: SeedPolicy = "mean"
    budget_seconds: float | None = None
    budget_queries: int | None = None
    cost: MetricKey | None = None
    repeats: Repeats = "charge"
    sampling: Sampling = "uniform"
    seed_fallback: bool = False
    budget_by: str | None = field(default=None, compare=False, repr=False)
    benchmark_budget: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # a name keys the results (a list: unhashable later, None: a column of None)
        if not isinstance(self.name, str) or not self.name:
            raise ProtocolError(
                (Param("name"), f" must be a non-empty str, got {shown(self.name)}")
            )
        # "no" was truthy: a single stored value served for 'random' in silence
        object.__setattr__(self, "seed_fallback", check_flag("seed_fallback", self.seed_fallback))
        object.__setattr__(
            self, "benchmark_budget", check_flag("benchmark_budget", self.benchmark_budget)
        )
        if self.budget_by is not None and not isinstance(self.budget_by, str):
            raise ProtocolError(
                (
                    Param("budget_by"),
                    f" must be a parameter's name or None, got {shown(self.budget_by)}",
                )
            )
        try:
            bs, bq = check_budgets(self.budget_seconds, self.budget_queries)
        except SearchBudgetError as exc:
            raise ProtocolError((f"protocol {self.name!r}: ", *parts_of(exc))) from None
        if bs is not None and self.cost is None:
            raise ProtocolError(
                f"protocol {self.name!r} has a time budget but no cost key (e.g. {cost_key()!r})"
            )
        object.__setattr__(self, "budget_seconds", bs)
        object.__setattr__(self, "budget_queries", bq)
        self._check_keys()
        if not is_seed_policy(self.seed_policy):
            raise ProtocolError(
                f"seed_policy must be 'mean', 'random' or an int, got {shown(self.seed_policy)}"
            )
        # text first: an array's `in` raised numpy's ambiguous-truth ValueError
        if not isinstance(self.repeats, str) or self.repeats not in ("charge", "cache"):
            raise ProtocolError(f"repeats must be 'charge' or 'cache', got {shown(self.repeats)}")
        if not isinstance(self.sampling, str) or self.sampling not in ("uniform", "connected"):
            raise ProtocolError(
                f"sampling must be 'uniform' or 'connected', got {shown(self.sampling)}"
            )

    def _check_keys(self) -> None:
        """Keys are :class:`MetricKey` values, the report a tuple of distinct ones: a string
        was read as a missing key (or letter by letter), a repeated report key counted each
        run twice in the summary's n."""
        report: object = self.report
        if isinstance(report, MetricKey):  # one key: the report of one dataset
            report = (report,)
        elif isinstance(report, list):
            report = tuple(report)
        object.__setattr__(self, "report", report)
        keys: list[tuple[str, object]] = [("search", self.search), ("cost", self.cost)]
        keys += [("report", k) for k in (report if isinstance(report, tuple) else [report])]
        for what, k in keys:
            if not (isinstance(k, MetricKey) or (what == "cost" and k is None)):
                raise ProtocolError(
                    f"protocol {self.name!r}: its {what} key must be a MetricKey, got {shown(k)}; "
                    "e.g. MetricKey('cifar100', 'x-valid', 12)"
                )
        # searches keep the highest value: a loss's are its worst cells, and a time's, a
        # size's or a spread's "best" is no fitness at all (it was maximised without a word).
        # A name of no known direction (a zero-cost proxy's score) is searched as given
        direction = natural_direction(self.search.metric)
        if direction is False or _no_fitness(self.search.metric):
            what = (
                "a loss, but searches keep the highest value (they would pick the worst cells)"
                if direction is False
                else "a metric with no better direction (a time, a cost or a spread), but "
                "searches keep the highest value"
            )
            raise ProtocolError(
                f"protocol {self.name!r} searches {self.search}, {what}; search an accuracy, "
                f"e.g. MetricKey({self.search.dataset!r}, {self.search.split!r}, "
                f"{self.search.epochs}, 'accuracy')"
            )
        if self.cost is not None and not _is_time(self.cost.metric):
            # the oracle charges the cost as seconds of training: an accuracy's 93.5 "s"
            raise ProtocolError(
                f"protocol {self.name!r} charges {self.cost} as seconds of training, but "
                f"{self.cost.metric!r} is no time",
                (
                    "give a training time as ",
                    Param("cost"),
                    f" (e.g. {cost_key(self.search.dataset)!r})",
                    # a query budget counts no time: no cost at all will do there
                    *(() if self.budget_seconds is not None else (", or ", Param("cost", None))),
                ),
            )
        if not self.report:
            raise ProtocolError(f"protocol {self.name!r} reports nothing: give report keys")
        if len(set(self.report)) != len(self.report):
            raise ProtocolError(
                f"protocol {self.name!r} reports a key twice ({', '.join(map(str, self.report))}); "
                "give each report key once"
            )

    @property
    def cost_scale(self) -> float:
        """Search epochs / cost epochs (12/200 when 12-epoch queries are charged from 200)."""
        if self.cost is None:
            return 0.0
        return self.search.epochs / self.cost.epochs

    @property
    def optimistic(self) -> bool:
        """True when the search metric overlaps a reported one ("search metric = report
        metric"): the same split, a test split, or a split containing the search split."""
        return any(_overlap(self.search, r) for r in self.report) or (
            self.search.split in _TEST_SPLITS
        )

    def replace(self, **changes: object) -> Protocol:
        """A copy with some fields changed (validated again); a budget changed is the field's
        own (:attr:`budget_by` and :attr:`benchmark_budget` reset, unless given)."""
        known = {f.name for f in dataclasses.fields(self)} | {"seed"}  # seed: the old name
        if unknown := sorted(changes.keys() - known):  # else the constructor's TypeError
            raise ProtocolError(
                (Param(unknown[0]), " is not a field of a Protocol"),
                f"change one of {', '.join(sorted(known - {'seed'}))}",
            )
        if "seed" in changes:  # warns naming the caller; with seed_policy= too, refused
            policy = changes.get("seed_policy")
            changes["seed_policy"] = renamed_seed(policy, changes.pop("seed"))  # type: ignore[arg-type]
        if {"budget_seconds", "budget_queries"} & changes.keys():
            changes.setdefault("budget_by", None)
            changes.setdefault("benchmark_budget", False)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def budget_param(self, seconds: bool) -> Param | None:
        """The parameter a refusal names to change the time (``seconds``) or query budget:
        :attr:`budget_by` where it set the protocol's one budget, else the field; None where
        nothing the caller passes sets it.

        >>> nb201_protocol(budget_seconds=100.0).budget_param(True)
        Param(name='budget_seconds', value=<_Unset.NO_VALUE: 'no value'>, placeholder='')
        """
        own = "budget_seconds" if seconds else "budget_queries"
        one = (self.budget_seconds is None) != (self.budget_queries is None)
        if self.budget_by is None or not one:
            return Param(own)
        return Param(self.budget_by) if self.budget_by else None

    def describe(self) -> str:
        """One line for reports."""
        budget = []
        if self.budget_seconds is not None:
            s = self.budget_seconds  # in full, grouped: ':g' wrote 2,000,000 s as 2e+06
            budget.append(f"{seconds_text(s)} s" if s == round(s) else f"{s:,.1f} s")
        if self.budget_queries is not None:
            budget.append(f"{self.budget_queries} queries")
        report = ", ".join(str(k) for k in self.report)
        return (
            f"{self.name}: search {self.search} (seed policy {self.seed_policy}), budget {' / '.join(budget)}, "
            f"report {report}"
            + ("  [OPTIMISTIC: search metric = report metric]" if self.optimistic else "")
        )

    # -- against a table -----------------------------------------------------------------
    def check(self, table: Table) -> list[str]:
        """Raise :class:`ProtocolError` naming every key the table lacks (or holds unmeasured
        everywhere), a search key some cell has no value for under the seed policy, the search
        seed it does not store or a cost it cannot charge; return notes.
        A budget no run could spend is the caller's to change: :meth:`oracle_data` refuses it."""
        return self._checked(table)[0]

    def _checked(self, table: Table) -> tuple[list[str], tuple[int, ...], np.ndarray | None]:
        """:meth:`check`'s notes, with the seeds and costs it read (oracle_data reuses them)."""
        needed: list[tuple[str, MetricKey]] = [("search metric", self.search)]
        if self.cost is not None:
            needed.append(("cost (training time)", self.cost))
        needed += [("report metric", k) for k in self.report]
        check_table(table)  # `k not in 3` raised a bare TypeError
        missing = [f"{what} {k}" for what, k in needed if k not in table]
        if missing:
            raise ProtocolError(
                (
                    f"protocol {self.name!r} cannot run on table {table.source!r}: it lacks "
                    f"{'; '.join(missing)}. The table has: {_key_list(table)} (see ",
                    Call("Table.info"),
                    "; a fixed-n protocol needs no time)",
                )
            )
        if table.space.size == 0:
            raise ProtocolError("the table's space is empty")
        empty = [f"{what} {k}" for what, k in needed if np.isnan(table.vector_for(k)).all()]
        if empty:  # every run would end with nothing to report: a nan mean, not a result
            raise ProtocolError(
                f"protocol {self.name!r} cannot run on table {table.source!r}: no architecture "
                f"is measured for {'; '.join(empty)}",
                (
                    "choose a protocol whose keys are measured (",
                    Call("Table.info"),
                    " lists each key's archs), or another ",
                    Param("table"),
                ),
            )
        if self.benchmark_budget and self.budget_seconds is not None:
            check_benchmark_times(
                table, (self.name,), *self._own_seconds(), _QUERY_BUDGET, costs=(self.cost,)
            )
        notes: list[str] = []
        if self.cost is not None and self.cost_scale != 1.0:
            notes.append(
                f"{self.name}: cost of a {self.search.epochs}-epoch query = {self.cost} x "
                f"{self.search.epochs}/{self.cost.epochs} (only the full-schedule time is stored)"
            )
        # an int seed the key lacks was refused only by oracle_data, after check() had passed
        seeds = self._seeds(table)
        self._check_served(table, seeds)  # first: the seed named below must serve the cells
        if self.seed_policy == "random" and not self.seed_fallback:
            try:  # one stored seed: asked for, as `query` refuses it; a defaulted one draws it
                check_random_draw(self.search, seeds)
            except ArgumentError as exc:
                raise ProtocolError((f"protocol {self.name!r}: ", *parts_of(exc))) from None
        if self.seed_policy == "random" and not seeds:
            if not self.seed_fallback:  # asked for, not defaulted: as `query` refuses it
                raise ProtocolError(
                    (
                        f"{self.name}: {self.search} has no per-seed values, so seed policy "
                        "'random' is impossible; use ",
                        Param("seed_policy", "mean"),
                        ", or give no policy to accept the single value",
                    )
                )
            notes.append(
                f"{self.name}: the default seed policy 'random' falls back to the one value "
                f"{self.search} stores per architecture (no per-seed values): every query "
                "returns that value"
            )
        if self.optimistic:
            notes.append(
                f"{self.name}: OPTIMISTIC — search metric = report metric ({self.search} "
                "overlaps what is reported): the result is an upper bound, not a fair test"
            )
        # a cost the oracle cannot charge: refused here too (it passed, then oracle_data failed:
        # the figures took the protocol for served and a `figures` run stopped at it)
        return notes, seeds, self._costs(table)

    def _own_seconds(self) -> list[tuple[Part, ...]]:
        """The way to a budget in a table's own seconds where this protocol's caller takes one:
        ``budget_seconds`` where it set the budget (:meth:`budget_param`: ``nb201_protocol``'s,
        a Protocol's own); none where a builder's ``budget_scale`` or the grid did (they take
        no seconds)."""
        param = self.budget_param(seconds=True)
        if param != Param("budget_seconds"):
            return []
        return [("give a budget in the table's own seconds (", param, ")")]

    def _costs(self, table: Table) -> np.ndarray | None:
        """The charged cost of each cell (None without a cost key); :class:`ProtocolError`
        where one cannot be charged (NaN, infinite, negative: :func:`~.oracle.invalid_costs`)
        or where they sum to more than a float holds (:func:`~.oracle.costs_overflow`)."""
        if self.cost is None:
            return None
        costs = np.array(table.vector_for(self.cost), dtype=np.float64)
        costs *= self.cost_scale
        bad = invalid_costs(costs)
        if bad.any():
            # a budget in queries alone charges no time: the cost is only counted
            fix: tuple[Part, ...] = (
                ("use a fixed-n protocol (a budget in queries: ", _FIXED_N, ")")
                if self.budget_seconds is not None
                else ("pass cost=None: this protocol's budget is in queries, which charge no time",)
            )
            raise ProtocolError(
                f"protocol {self.name!r}: {int(bad.sum())} architectures have no valid "
                f"cost in {self.cost}{_untrained(table, bad)}",
                fix,
            )
        if costs_overflow(costs):  # a run's seconds and their means would overflow to inf
            raise ProtocolError(
                f"protocol {self.name!r}: the costs in {self.cost} sum to more than a float "
                f"holds over the space (largest {table.vector_for(self.cost).max():.4g} s); "
                "rescale that metric's values"
            )
        return costs

    def _seeds(self, table: Table) -> tuple[int, ...]:
        """The stored seeds this protocol's oracle reads (:func:`~nb201_flat.table.policy_seeds`)."""
        try:
            return policy_seeds(self.search, self.seed_policy, table.seeds(self.search))
        except UnknownKeyError as exc:
            raise ProtocolError((f"protocol {self.name!r}: ", *parts_of(exc))) from None

    def _check_served(self, table: Table, seeds: tuple[int, ...]) -> None:
        """Refuse a search key that some architecture has no value for under the seed policy:
        each query of one would be charged and return NaN (a search silently of fewer cells).
        What the policy serves decides: the mean's value (``mean``, and ``random`` on a key of
        one stored value, its fallback), the seed's (a fixed seed), any stored seed's
        (``random``: a draw among those measuring the cell). The mean may be NaN where a seed
        has a value (an official file's cell that one run lacks): a seed policy serves it.
        Checked on every cell, not only the sampled ones: REA's mutants and NA and LS
        neighbours of a connected cell may be disconnected."""
        measured = ~np.isnan(table.vector_for(self.search))
        if self.seed_policy == "mean" or not seeds:
            served = measured
        elif self.seed_policy == "random":  # a draw among the seeds measuring the cell
            served = self._drawn(table, seeds)
            lacking = measured & ~served
            if lacking.any():  # measured under the mean, by no stored seed
                raise ProtocolError(
                    f"protocol {self.name!r}: {int(lacking.sum()):,} of the "
                    f"{int(measured.sum()):,} architectures measured under the mean have no "
                    f"stored seed for {self.search} (e.g. cell {int(np.flatnonzero(lacking)[0])}), "
                    "so each query of one would draw among none, be charged and return NaN",
                    ("use ", Param("seed_policy", "mean")),
                )
        else:
            served = ~np.isnan(table.vector_for(self.search, seed_policy=seeds[0]))
            lacking = measured & ~served
            if lacking.any():
                # 'random' only where its draw serves every cell the mean does (it was named
                # on a table of one seed for 100 cells, and refused when followed)
                drawn = self._drawn(table, table.seeds(self.search))
                draw: tuple[Part, ...] = ()
                if not (measured & ~drawn).any():
                    draw = (
                        Param("seed_policy", "random"),
                        " (each query draws among its architecture's stored seeds) or ",
                    )
                raise ProtocolError(
                    f"protocol {self.name!r}: seed {seeds[0]} is not measured for {self.search} "
                    f"on {int(lacking.sum()):,} of the {int(measured.sum()):,} architectures "
                    "measured under the mean, so each query of one would be charged and return "
                    "NaN",
                    ("use ", *draw, Param("seed_policy", "mean")),
                )
        if served.all():
            return
        unserved = ~served
        # the same key at another schedule, where every cell has a value (a builder's
        # epochs; not where the search reads a reported key: fixed-n's fallback has its own;
        # a built-in time budget only at its schedules, check_timed_epochs)
        whole = sorted(
            k.epochs
            for k in table
            if not self.optimistic
            and dataclasses.replace(k, epochs=self.search.epochs) == self.search
            and k != self.search
            and (not self.benchmark_budget or k.epochs in SEARCH_EPOCHS)
            and not np.isnan(table.vector_for(k)).any()
        )
        ways: list[Sequence[Part]] = []
        if whole:
            ways.append(
                ("search a schedule measured on every one (", Param("epochs", whole[0]), ")")
            )
        if table.meta.get("space_key") is not None:  # a retraining table: its cells can be trained
            ways.append(
                (
                    "train the missing cells (",
                    Call("nb201_flat.train"),
                    ") and import them again (",
                    Call("nb201_flat.importers.import_table"),
                    ")",
                )
            )
        ways.append(("use another ", Param("table")))
        policy = (
            ""
            if self.seed_policy == "mean" or not seeds
            else f" (seed policy {self.seed_policy!r})"
        )
        raise ProtocolError(
            f"protocol {self.name!r}: {int(unserved.sum()):,} of the {served.size:,} "
            f"architectures have no {self.search} value{policy} (e.g. cell "
            f"{int(np.flatnonzero(unserved)[0])}), so each query of one would be charged "
            "and return NaN",
            _either(ways),
        )

    def _drawn(self, table: Table, seeds: Iterable[int]) -> np.ndarray:
        """The cells a ``random`` draw among ``seeds`` serves: those some seed measures."""
        served = np.zeros(table.space.size, dtype=bool)
        for seed in seeds:
            served |= ~np.isnan(table.vector_for(self.search, seed_policy=seed))
        return served

    def oracle_data(self, table: Table) -> OracleData:
        """The arrays of this protocol's oracle (no test vector among them)."""
        _, seeds, costs = self._checked(table)
        key = self.search
        order: IntArray | None = None
        counts: IntArray | None = None
        if self.seed_policy == "random" and seeds:
            stack = np.stack([table.vector_for(key, seed_policy=s) for s in seeds])
            order, counts = seed_rows(stack)
            values = np.array(stack, dtype=np.float64)
        else:  # one row: the mean (also 'random' on a key of one value), or the seed asked
            policy: SeedPolicy = seeds[0] if seeds else "mean"
            values = np.array(table.vector_for(key, seed_policy=policy), dtype=np.float64)[None, :]
        candidates = None
        if self.sampling == "connected":
            candidates = np.flatnonzero(table.space.connected).astype(np.int64)
        if costs is not None:
            # of the cells a run may sample: a cheaper disconnected cell affords nothing
            cheapest = float(sampled_costs(costs, candidates).min())
            if self.budget_seconds is not None and self.budget_seconds < cheapest:
                # every run would end before its first query: no result, only a nan mean
                raise ProtocolError(
                    f"protocol {self.name!r}: its budget of {self.budget_seconds:g} s is less "
                    f"than the cheapest query ({cheapest:g} s)",
                    self._budget_fix("raise", seconds=True),
                )
        self._check_work(table.space.size, costs, candidates)
        return OracleData(
            space=table.space,
            key=key,
            values=values,
            order=order,
            counts=counts,
            costs=costs,
            budget_seconds=self.budget_seconds,
            budget_queries=self.budget_queries,
            repeats=self.repeats,
            candidates=candidates,
        )

    def _check_work(self, size: int, costs: np.ndarray | None, candidates: IntArray | None) -> None:
        """Refuse a budget no run could meaningfully spend (the bound on a command's work).

        A run makes at most :data:`MAX_QUERIES_PER_CELL` x the space's size charged queries:
        ``budget_queries``, or ``budget_seconds`` over the cheapest query a run may make (the
        most queries that budget could buy): the cheapest paid cell of the whole space, not
        only of the sampled ones, since REA's mutants (charged again on each repeat) and NA
        and LS neighbours of a connected cell may be disconnected. The published protocols
        afford a few hundred queries on NB201's 15,625 cells; far past the bound a run neither finishes
        nor learns anything that sampling the whole space a hundred times over would not.
        With ``repeats="cache"`` a run is charged once per cell, so a budget of at least what
        one pass over the sampled cells costs never ends a run: once every cell is cached no
        query is refused (only the stall guard would stop it, as if budget were left).
        """
        pool = None if costs is None else sampled_costs(costs, candidates)
        n_cells = size if candidates is None else len(candidates)
        flag = self.budget_param(seconds=False)  # the parameter that lowers the budget
        most, why = float("inf"), ""
        if self.budget_queries is not None:
            most, why = float(self.budget_queries), f"a budget of {self.budget_queries} queries"
        if self.budget_seconds is not None and pool is not None and costs is not None:
            # free sampled cells only: RS never ends; else any paid cell a run may reach
            # (sampling='connected' bounded by the connected cells let REA on a disconnected
            # mutant cheaper than all of them buy more queries than this bound)
            sampled = cheapest_paid(pool)
            cheapest = cheapest_paid(costs) if sampled else 0.0
            bought = self.budget_seconds / cheapest if cheapest else float("inf")
            if bought < most or self.budget_queries is None:
                most, flag = bought, self.budget_param(seconds=True)
                why = f"{self.budget_seconds:g} s at the cheapest query ({cheapest:g} s)"
                if not cheapest:  # no time budget ends such a run
                    why = (
                        f"every cell a run may sample costs 0 s: {self.budget_seconds:g} s "
                        "never runs out"
                    )
                    flag = None
        limit = MAX_QUERIES_PER_CELL * size
        if most > limit:
            raise ProtocolError(
                f"protocol {self.name!r}: a run may make {most:.4g} queries ({why}), more than "
                f"{MAX_QUERIES_PER_CELL} x the space's {size:,} cells ({limit:,})",
                ("lower the budget (", flag, ")") if flag else _QUERY_BUDGET,
            )
        if self.repeats != "cache":
            return
        # a run ends at the query its budget cannot pay: with every cell cached none is left
        query_param = self.budget_param(seconds=False)
        if self.budget_queries is not None and self.budget_queries >= n_cells:
            lower = (f"lower it to at most {n_cells - 1:,} (", query_param, ") or ")
            raise ProtocolError(
                f"protocol {self.name!r}: with repeats 'cache' a run is charged once per cell, "
                f"so a budget of {self.budget_queries} queries over {n_cells:,} cells never "
                "ends it",
                (
                    *(lower if n_cells > 1 and query_param else ()),
                    "use ",
                    Param("repeats", "charge"),
                ),
            )
        if self.budget_queries is None and pool is not None:
            total = float(pool.sum())
            if self.budget_seconds is not None and self.budget_seconds >= total:
                raise ProtocolError(
                    f"protocol {self.name!r}: with repeats 'cache' a run is charged once per "
                    f"cell, so a budget of {self.budget_seconds:g} s, at least what all "
                    f"{n_cells:,} cells cost ({total:g} s), is never spent",
                    (
                        *self._budget_fix("lower", seconds=True, more=True),
                        "use ",
                        Param("repeats", "charge"),
                    ),
                )

    def _budget_fix(self, change: str, *, seconds: bool, more: bool = False) -> tuple[Part, ...]:
        """``change`` ("raise", "lower") the budget, naming :meth:`budget_param`; where nothing
        sets it, a query budget instead (``more``: the start of a longer fix, or nothing)."""
        param = self.budget_param(seconds)
        if param is not None:
            return (f"{change} the budget (", param, ")" + (" or " if more else ""))
        return () if more else _QUERY_BUDGET

    def evaluator(self, table: Table) -> Evaluator:
        """Test metrics of this protocol (read after searches end)."""
        self.check(table)
        vecs = tuple(np.array(table.vector_for(k), dtype=np.float64) for k in self.report)
        return Evaluator(self.report, vecs)


def _deprecated_seed(self: Protocol) -> SeedPolicy:
    warnings.warn(
        "Protocol.seed is now Protocol.seed_policy (seed means randomness only)",
        DeprecationWarning,
        stacklevel=2,
    )
    return self.seed_policy


# The old name keeps working for one release, read and passed to the constructor. Not a field
# (an InitVar was one): dataclasses.replace read it back through the property and passed it on
# beside the new field, so replace(p, seed_policy="mean") kept p's old policy without a word.
setattr(Protocol, "seed", property(_deprecated_seed))  # noqa: B010
_fields_init = Protocol.__init__


@functools.wraps(_fields_init)
def _init_taking_old_seed(
    self: Protocol, *args: Any, seed: SeedPolicy | None = None, **kw: Any
) -> None:
    if seed is not None:  # renamed_seed warns, naming the caller, and refuses both names
        kw["seed_policy"] = renamed_seed(kw.get("seed_policy"), seed)
    _fields_init(self, *args, **kw)


setattr(Protocol, "__init__", _init_taking_old_seed)  # noqa: B010


def _untrained(table: Table, bad: np.ndarray) -> str:
    """Which of the cells ``bad`` (no valid cost) are stand-ins of a retraining table
    (:func:`~nb201_flat.table.stand_ins`): never trained, so they have no training time
    for a time budget to charge. Empty where none is."""
    constant, copies = stand_ins(table) or (set(), {})
    cells = set(np.flatnonzero(bad).tolist())
    parts = [
        f"{n} {what}"
        for n, what in (
            (len(cells & constant), "constant-output (disconnected)"),
            (len(cells & set(copies)), "isomorphic-copy"),
        )
        if n
    ]
    if not parts:
        return ""
    of = "" if len(cells & (constant | set(copies))) == len(cells) else "of them, "
    return (
        f": {of}{' and '.join(parts)} stand-in cells, which were not trained and so have no "
        "training time for a time budget to charge"
    )


def _key_list(table: Table, limit: int = 8) -> str:
    keys = [str(k) for k in table]
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _no_fitness(metric: str) -> bool:
    """True for a metric that no search should maximise: a time, a cost (:data:`COST_METRICS`)
    or a spread (``*_std``). A zero-cost proxy's score may be searched (a training-free
    search): its name says no direction, and the highest is the one it ranks first.

    >>> [m for m in ("time_s", "params_mb", "drift_1d_std", "synflow", "accuracy") if _no_fitness(m)]
    ['time_s', 'params_mb', 'drift_1d_std']
    """
    return natural_direction(metric) is None and (cannot_be_negative(metric) or is_spread(metric))


def _is_time(metric: str) -> bool:
    """True for a time in seconds (``time_s``, ``epoch_time_s``), what a protocol may charge:
    the times of :func:`~nb201_flat.conventions.cannot_be_negative`, neither the loss nor a
    cost metric (a size, compute, an inference latency).

    >>> [m for m in ("time_s", "accuracy", "params_mb", "latency_s", "loss") if _is_time(m)]
    ['time_s']
    """
    return cannot_be_negative(metric) and not is_loss(metric) and metric not in COST_METRICS


def _overlap(search: MetricKey, report: MetricKey) -> bool:
    return shares_data(search, report)


# -- built-in protocols ------------------------------------------------------------------
def _scale(budget_scale: object) -> Fraction:
    """``budget_scale`` as an exact number, if it is one > 0 and finite (a string raised a bare
    TypeError, True was 1, a negative or NaN scale was refused as a budget_seconds)."""
    number: Any = budget_scale
    if isinstance(number, int | Fraction) and not isinstance(number, bool):
        exact = Fraction(number)  # exact, however large
    elif math.isfinite(value := real_number(number)):
        exact = Fraction(value)
    else:
        exact = Fraction(0)  # NaN, an infinity, not a number: refused below
    if exact <= 0:
        raise ProtocolError(
            (Param("budget_scale"), f" must be a finite number > 0, got {shown(budget_scale)}"),
            ("pass a multiplier of the time budget, e.g. 2",),
        )
    return exact


def _time_budget(budget: float, epochs: int, budget_scale: object = 1.0) -> float:
    """A built-in time budget (NB201's or NATS-Bench's, set for the 12-epoch schedule) for a
    search of ``epochs`` (one of :data:`~nb201_flat.conventions.SEARCH_EPOCHS`: the builders
    refuse others first, :func:`check_timed_epochs`, naming their own ways out), times
    ``budget_scale``. The epochs rule (:func:`~nb201_flat.conventions.scaled_time_budget`) is
    applied here, by every builder, and nowhere else: a Python protocol and the CLI's of the
    same name have the same budget."""
    scale = _scale(budget_scale)
    try:
        return scaled_time_budget(budget, epochs, scale)
    except OverflowError:  # the seconds exceed a float: far past the work bound
        rule = "" if epochs == BUDGET_EPOCHS else f" x {epochs}/{BUDGET_EPOCHS}"
        product = f"{budget:g} s x {shown(budget_scale)}{rule}"
        raise ProtocolError(
            (
                Param("budget_scale"),
                f" makes the time budget ({product}) larger than a float holds",
            ),
            ("pass a smaller ", Param("budget_scale")),
        ) from None


def _policy(seed_policy: SeedPolicy | None, default: str) -> tuple[SeedPolicy, bool]:
    """``seed_policy=`` or the builder's default; and whether ``random`` may fall back to a
    key's single value (only a defaulted ``random``: replacing a defaulted ``mean`` by
    ``random`` asks for it). The builders resolve the deprecated ``seed=`` first, with
    :func:`~nb201_flat.table.renamed_seed`, so that its warning names their caller."""
    if seed_policy is None:
        return ("random", True) if default == "random" else ("mean", False)
    return seed_policy, False


def _seeding(seed_policy: SeedPolicy | None, default: str) -> Any:
    """A builder's ``seed_policy`` and ``seed_fallback`` fields (:func:`_policy`)."""
    policy, fallback = _policy(seed_policy, default)
    return {"seed_policy": policy, "seed_fallback": fallback}


def _check_epochs(epochs: int) -> int:
    # True was 1 epoch and named the protocol "nb201@Trueep"; 12.0 is 12 (the name "nb201",
    # the time budget's schedule)
    return check_int_range(Param("epochs"), epochs, 1, fix="pass the search epochs, e.g. 12 or 200")


def check_timed_epochs(
    families: Iterable[str], epochs: Iterable[int], epochs_by: Param, *others: Sequence[Part]
) -> None:
    """Refuse search ``epochs`` other than :data:`~nb201_flat.conventions.SEARCH_EPOCHS` for
    the time-budgeted ``families`` among those given (:data:`TIMED_PROTOCOLS`): their budgets
    are set for 12-epoch searches and scaled for 200 by the epochs rule, and for no other
    schedule. ``epochs_by`` is the caller's parameter of the epochs, ``others`` its other ways
    out (a query budget: the caller's way to fixed-n, which searches any epochs).

    >>> check_timed_epochs(("nb201", "fixed-n"), (12, 50), Param("epochs"))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ProtocolError: nb201 has a built-in time budget, set for 12-epoch searches and scaled for 200, and none for 50 epochs; search 12 or 200 epochs (epochs)
    """
    timed = [f for f in dict.fromkeys(families) if f in TIMED_PROTOCOLS]
    other = [e for e in epochs if e not in SEARCH_EPOCHS]
    if not (timed and other):
        return
    scaled = " or ".join(str(e) for e in SEARCH_EPOCHS if e != BUDGET_EPOCHS)
    have = "has a built-in time budget" if len(timed) == 1 else "have built-in time budgets"
    ways: list[Sequence[Part]] = [
        (f"search {' or '.join(map(str, SEARCH_EPOCHS))} epochs (", epochs_by, ")"),
        *others,
    ]
    raise ProtocolError(
        f"{' and '.join(timed)} {have}, set for {BUDGET_EPOCHS}-epoch searches and scaled "
        f"for {scaled}, and none for {other[0]} epochs",
        _either(ways),
    )


def check_benchmark_times(
    table: Table,
    names: Iterable[str],
    *ways: Sequence[Part],
    costs: Iterable[MetricKey | None] | None = None,
) -> None:
    """Refuse the built-in time budgets of ``names`` (protocols or families holding one) on a
    ``table`` of retrained times: one that records its space key (``meta["space_key"]``, as a
    results database's import or a tidy file's ``space`` column sets it), or whose median cost
    of a paid cell in a key the budgets charge (``costs``; default: those of the families
    named) is below NB201's by more than :data:`TIME_SCALE_GAP` (a tidy file of retrained
    times that records no space). NB201's and NATS-Bench's budgets are seconds of NB201's own
    training; charged against times measured on another machine or network size they buy a
    search of another size (a few seconds a cell: the whole space). ``ways`` are the caller's
    ways out, a query budget by default.

    >>> from nb201_flat.testing import synthetic_table
    >>> t = synthetic_table()
    >>> check_benchmark_times(t, ("nb201",))  # times on NB201's scale: served
    >>> retrained = Table(t.space, t.data, source="retrained", meta={"space_key": "nb201@C4N1"})
    >>> check_benchmark_times(retrained, ("nb201",))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ProtocolError: nb201 has a built-in time budget in seconds of NB201's own training, but table 'retrained' holds retrained times (space 'nb201@C4N1'), against which it buys a search of another size; use a query budget instead (fixed_n_protocols(table, n))
    >>> fast = t.with_vector(cost_key(), t.vector_for(cost_key()) / 100)
    >>> check_benchmark_times(fast, ("nb201",))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ProtocolError: nb201 has a built-in time budget in seconds of NB201's own training, but table 'synthetic nb201-like' holds times on another scale (cifar10-valid/train@200ep:time_s: a median of 36.0 s a cell, against NB201's 1,817 s), against which it buys a search of another size; use a query budget instead (fixed_n_protocols(table, n))
    """
    names = list(dict.fromkeys(names))
    if not names:
        return
    space = table.meta.get("space_key")
    if space is not None and _names_a_training(str(space)):
        held = f"retrained times (space {str(space)!r})"
    else:
        keys = [k for n in names for k in _FAMILY_COSTS.get(n, ())] if costs is None else costs
        low = _below_nb201_times(table, keys)
        if low is None:
            return
        key, median = low
        held = (
            f"times on another scale ({key}: a median of {median:,.1f} s a cell, against "
            f"NB201's {NB201_MEDIAN_COSTS[key]:,.0f} s)"
        )
    have = "has a built-in time budget" if len(names) == 1 else "have built-in time budgets"
    raise ProtocolError(
        f"{' and '.join(names)} {have} in seconds of NB201's own training, but table "
        f"{table.source!r} holds {held}, against which "
        f"{'it buys' if len(names) == 1 else 'they buy'} a search of another size",
        _either(ways or (_QUERY_BUDGET,)),
    )


def _names_a_training(key: str) -> bool:
    """Whether space key ``key`` names a retraining (a results database's: a mode tag, a
    network size, or NB201's own space retrained, as keys before mode tags read), not only
    another space (what :meth:`~nb201_flat.table.Table.to_tidy` writes for a table of another
    space that records no key, whose costs the median rule judges)."""
    from nb201_flat.train.modes import split_keyed_space

    base, mode = split_keyed_space(key)
    return mode is not None or "@" in base or base == "nb201"


def _below_nb201_times(
    table: Table, keys: Iterable[MetricKey | None]
) -> tuple[MetricKey, float] | None:
    """The first of ``keys`` (cost keys) whose median over ``table``'s paid cells is below
    NB201's (:data:`NB201_MEDIAN_COSTS`) by more than :data:`TIME_SCALE_GAP`, with that
    median; None where none is (a key of no NB201 median, or absent: the protocol's own
    check names it; cells of no cost: the work bound's refusal, :meth:`Protocol.oracle_data`)."""
    for key in keys:
        if key not in NB201_MEDIAN_COSTS or key not in table:
            continue
        costs = np.asarray(table.vector_for(key), dtype=np.float64)
        paid = costs[np.isfinite(costs) & (costs > 0)]
        if paid.size and float(np.median(paid)) * TIME_SCALE_GAP < NB201_MEDIAN_COSTS[key]:
            return key, float(np.median(paid))
    return None


def _either(ways: Sequence[Sequence[Part]]) -> list[Part]:
    """A refusal's ways out as one fix: ``a, b, or c``."""
    fix: list[Part] = []
    for i, way in enumerate(ways):
        if i:
            fix.append(", or " if i == len(ways) - 1 else ", ")
        fix += way
    return fix


def _fixed_n_instead(epochs: int) -> tuple[Part, ...]:
    """A builder's way out of :func:`check_timed_epochs`: a query budget at ``epochs``."""
    return (
        "use a query budget (",
        Call("fixed_n_protocols", placeholder=f"table, n, epochs={epochs}"),
        ")",
    )


def nb201_protocol(
    *,
    epochs: int = 12,
    seed_policy: SeedPolicy | None = None,
    seed: SeedPolicy | None = None,
    budget_seconds: float | None = None,
    repeats: Repeats = "charge",
) -> Protocol:
    """The NAS-Bench-201 paper's random-search protocol (see the module docstring).

    ``budget_seconds`` defaults to NB201's 12,000 s under the epochs rule (x 200/12 at 200
    epochs, :func:`~nb201_flat.conventions.budget_scale_for`), in seconds of NB201's own
    training (refused on a table of retrained times: :func:`check_benchmark_times`); one given
    is used as it is.
    """
    seed_policy = renamed_seed(seed_policy, seed)
    epochs = _check_epochs(epochs)
    built_in = budget_seconds is None
    if budget_seconds is None:
        # a budget given is used at any epochs: only the built-in one has a schedule
        check_timed_epochs(
            ("nb201",),
            (epochs,),
            Param("epochs"),
            ("give the budget (", Param("budget_seconds"), ")"),
            _fixed_n_instead(epochs),
        )
        budget_seconds = _time_budget(NB201_TIME_BUDGET, epochs)
    return Protocol(
        name="nb201" if epochs == 12 else f"nb201@{epochs}ep",
        search=search_key("cifar10", epochs),
        report=tuple(report_key(ds) for ds in REPORT_DATASETS),
        **_seeding(seed_policy, "random"),
        budget_seconds=budget_seconds,  # Protocol checks it: float() took "5" and True
        cost=cost_key("cifar10"),
        repeats=repeats,
        benchmark_budget=built_in,
    )


def per_dataset_protocols(
    *,
    epochs: int = 12,
    seed_policy: SeedPolicy | None = None,
    seed: SeedPolicy | None = None,
    budget_scale: float | Fraction = 1.0,
    datasets: tuple[str, ...] = tuple(_PER_DATASET),
    repeats: Repeats = "charge",
) -> tuple[Protocol, ...]:
    """NATS-Bench's per-dataset protocols; budgets 20,000 / 40,000 / 120,000 s x
    ``budget_scale``, on top of the epochs rule (x 200/12 at 200 epochs): seconds of NB201's
    own training, refused on a table of retrained times (:func:`check_benchmark_times`)."""
    seed_policy = renamed_seed(seed_policy, seed)
    epochs = _check_epochs(epochs)
    check_timed_epochs(("per-dataset",), (epochs,), Param("epochs"), _fixed_n_instead(epochs))
    out = []
    choose = f"choose from {', '.join(_PER_DATASET)}"
    given: object = datasets  # typed as a tuple; a notebook may pass one name all the same
    if isinstance(given, str) or not isinstance(given, Iterable):
        raise ProtocolError(
            (Param("datasets"), f" must be a tuple of dataset names, got {shown(given)}"),
            choose,
        )
    datasets = tuple(datasets)
    if not datasets:  # no protocol at all: a search over nothing
        raise ProtocolError((Param("datasets"), " is empty"), choose)
    for ds in datasets:
        if not isinstance(ds, str) or ds not in _PER_DATASET:  # an array: unhashable
            raise ProtocolError(
                f"per-dataset protocol: unknown dataset {shown(ds)}; choose from "
                f"{', '.join(_PER_DATASET)}"
            )
        rep_ds, rep_split, budget = _PER_DATASET[ds]
        suffix = "" if epochs == 12 else f"@{epochs}ep"
        out.append(
            Protocol(
                name=f"per-dataset:{ds}{suffix}",
                search=search_key(ds, epochs),
                report=(MetricKey(rep_ds, rep_split, 200),),
                **_seeding(seed_policy, "random"),
                budget_seconds=_time_budget(budget, epochs, budget_scale),
                cost=cost_key(ds),
                repeats=repeats,
                budget_by="budget_scale",
                benchmark_budget=True,
            )
        )
    return tuple(out)


def fixed_n_protocols(
    table: Table,
    n: int = 100,
    *,
    epochs: int | None = None,
    seed_policy: SeedPolicy | None = None,
    seed: SeedPolicy | None = None,
    repeats: Repeats = "charge",
) -> tuple[Protocol, ...]:
    """N charged queries per run on each dataset the table can search.

    Searches each dataset's validation split (``x-valid`` at ``epochs``, default 12) where the
    table has a test split to report beside it: NB201's report key (the 200-epoch test of the
    dataset reported, ``cifar10`` for ``cifar10-valid``), else the dataset's own test split at
    200 epochs, else at ``epochs`` (a table ``train`` wrote: ``cifar10-valid``'s ``ori-test``
    at the schedule trained). A table with such a pair at other epochs only is refused
    (naming them), never searched on a test split. A table with none falls back to searching
    and reporting one 200-epoch key, flagged OPTIMISTIC (:func:`fixed_n_fallback`): its
    validation accuracy, or where it has no validation split at all (the embedded
    AnalogNAS-Bench default) its first accuracy. That fallback searches 200 epochs whatever
    ``epochs`` says, so other ``epochs`` given there are refused, not ignored.
    """
    seed_policy = renamed_seed(seed_policy, seed)
    given = epochs is not None  # None: 12, or the fallback's own epochs
    searched = 12 if epochs is None else _check_epochs(epochs)
    out = []
    check_table(table)  # `s in 3` raised a bare TypeError
    for ds in _PER_DATASET:
        s = MetricKey(ds, "x-valid", searched)
        r = _fixed_n_report(table, ds, searched) if s in table else None
        if r is not None:
            out.append(
                Protocol(
                    name=f"fixed-n:{ds}" + ("" if searched == 12 else f"@{searched}ep"),
                    search=s,
                    report=(r,),
                    **_seeding(seed_policy, "mean"),
                    budget_queries=n,
                    repeats=repeats,
                    budget_by="n",
                )
            )
    if out:
        return tuple(out)
    usable = fixed_n_epochs(table)
    if usable:
        # a table fixed-n can search on its validation split at other epochs: falling back
        # to searching its report key would switch to an optimistic protocol unasked
        raise ProtocolError(
            f"fixed-n: table {table.source!r} has no x-valid key at {searched} epochs beside a "
            f"test split to report; it has them at {', '.join(map(str, usable))} epochs",
            ("pass one of those epochs (", Param("epochs"), ")"),
        )
    key = fixed_n_fallback(table)
    if key is None:
        raise _nothing_to_search(table)
    # the fallback's search key is fixed: epochs=12 searched 200 epochs without a word
    check_fixed_n_fallback_epochs(
        table, key, (searched,) if given else None, Param("epochs", key.epochs)
    )
    # info, not a warning: every result says so (its notes, the CLI's OPTIMISTIC flag), and a
    # warning printed on stderr became a second line before a command's refusal
    log.info("fixed-n on %s: search metric = report metric (%s); optimistic", table.source, key)
    return (
        Protocol(
            name=f"fixed-n:{key.dataset}",
            search=key,
            report=(key,),
            **_seeding(seed_policy, "mean"),
            budget_queries=n,
            repeats=repeats,
            budget_by="n",
        ),
    )


def _fixed_n_report(table: Table, dataset: str, epochs: int) -> MetricKey | None:
    """The key :func:`fixed_n_protocols` reports for a search of ``dataset``'s ``x-valid`` at
    ``epochs`` on ``table``: NB201's report key, else ``dataset``'s own test split (the split
    NB201 reports it on: ``cifar10-valid``'s ``ori-test`` holds no validation image) at 200
    epochs, else at ``epochs``; None where the table has none of them."""
    reported, split, _ = _PER_DATASET[dataset]
    keys = (MetricKey(reported, split, 200), MetricKey(dataset, split, 200))
    return next((k for k in (*keys, MetricKey(dataset, split, epochs)) if k in table), None)


def _nothing_to_search(table: Table) -> ProtocolError:
    """:func:`fixed_n_protocols`' refusal of a table without a validation split beside a test
    split, nor a 200-epoch key to fall back to: what it has, and the ways to one it can."""
    valid = [str(k) for k in table if k.split == "x-valid" and k.metric == "accuracy"]
    if valid:
        what = (
            f"no test split to report beside its validation split ({', '.join(valid[:3])}"
            f"{', ...' if len(valid) > 3 else ''}), nor one at 200 epochs to search in its place"
        )
    else:
        what = (
            "no validation split (x-valid accuracy) to search, nor a 200-epoch accuracy to "
            f"search in its place; it has {_key_list(table)}"
        )
    ways: list[Sequence[Part]] = []
    if table.meta.get("space_key") is not None:  # a retraining table: train what fixed-n reads
        ways.append(
            (
                "train cifar10-valid, cifar100 or ImageNet16-120, whose x-valid and test splits "
                "it searches and reports (",
                Call("nb201_flat.train"),
                ")",
            )
        )
    ways.append(("use another ", Param("table")))
    return ProtocolError(f"fixed-n: table {table.source!r} has {what}", _either(ways))


def fixed_n_fallback(table: Table) -> MetricKey | None:
    """The key :func:`fixed_n_protocols` searches and reports on ``table`` when it has no
    validation split beside a test split to search (:func:`fixed_n_epochs` empty): its
    200-epoch validation accuracy, or where it has no validation split at all its first
    200-epoch accuracy (a test split: an optimistic protocol either way). ``None`` where
    fixed-n searches a validation split, or can search nothing."""
    if fixed_n_epochs(table):
        return None
    accuracies = [k for k in table if k.metric == "accuracy"]
    # a validation split is never passed over for a test split (ori-test sorts first)
    valid = [k for k in accuracies if k.split == "x-valid"]
    return next((k for k in valid or accuracies if k.epochs == 200), None)


def check_fixed_n_fallback_epochs(
    table: Table, key: MetricKey, given: Sequence[int] | None, own: Param
) -> None:
    """Refuse search epochs ``given`` to fixed-n's fallback on ``table`` (``key``, from
    :func:`fixed_n_fallback`) other than ``key``'s own: it searches ``key`` whatever they
    say. ``own`` is the caller's parameter set to the value that runs (``epochs=200``, the
    grid's ``search_epochs=(200,)``); None given (a default) is never refused."""
    other = [e for e in given or () if e != key.epochs]
    if other:
        why = (
            "has no validation split, so fixed-n searches its report key"
            if key.split != "x-valid"
            else "has no test split to report, so fixed-n searches and reports its validation key"
        )
        raise ProtocolError(
            f"fixed-n: table {table.source!r} {why} {key} itself, at {key.epochs} epochs, "
            f"not at {other[0]}",
            ("leave ", Param(own.name), " out, or pass ", own),
        )


def fixed_n_epochs(table: Table) -> list[int]:
    """The search epochs at which :func:`fixed_n_protocols` searches ``table``'s validation
    split (its x-valid accuracy of a known dataset, beside a test split of that dataset to
    report)."""
    return sorted(
        {
            k.epochs
            for k in table
            if k.split == "x-valid"
            and k.metric == "accuracy"
            and k.dataset in _PER_DATASET
            and _fixed_n_report(table, k.dataset, k.epochs) is not None
        }
    )


def protocols_by_name(
    name: str,
    table: Table,
    *,
    epochs: int | None = None,
    seed_policy: SeedPolicy | None = None,
    seed: SeedPolicy | None = None,
    n: int | None = None,
    budget_scale: float | Fraction | None = None,
    repeats: Repeats = "charge",
) -> tuple[Protocol, ...]:
    """The built-in protocol family ``name`` (``nb201``, ``per-dataset``, ``fixed-n``).

    ``n`` (default 100) is the query budget of ``fixed-n``; ``budget_scale`` (default 1)
    scales the time budgets of the others, on top of the epochs rule (x 200/12 at 200 epochs,
    as ``--budget-scale`` does). Either one given where it does not apply is refused, not
    ignored. ``epochs`` (default 12) is the schedule searched: 12 or 200 for ``nb201`` and
    ``per-dataset``, whose time budgets are set for those (:func:`check_timed_epochs`), any
    whole number >= 1 for ``fixed-n``, whose fallback on a table without a validation split
    refuses any but its own (see :func:`fixed_n_protocols`).
    """
    seed_policy = renamed_seed(seed_policy, seed)
    # a whole float is its int: 12.0 met the time budget's refusal of "12.0 epochs"
    epochs = None if epochs is None else _check_epochs(epochs)
    if not isinstance(name, str):  # an array's == below: numpy's ambiguous-truth ValueError
        raise ProtocolError(
            f"unknown protocol {shown(name)}; choose from {', '.join(PROTOCOL_NAMES)}"
        )
    if name == "fixed-n" and budget_scale is not None:
        raise ProtocolError(
            (Param("budget_scale"), " scales a time budget; fixed-n has a query budget"),
            ("pass ", Param("n"), " instead"),
        )
    if name in TIMED_PROTOCOLS and n is not None:
        raise ProtocolError(
            (Param("n"), f" is fixed-n's query budget; {name} has a time budget"),
            ("pass ", Param("budget_scale"), " instead"),
        )
    check_timed_epochs(
        (name,),
        () if epochs is None else (epochs,),
        Param("epochs"),
        ("use a query budget (", Param("name", "fixed-n"), ")"),
    )
    n = 100 if n is None else n
    budget_scale = 1.0 if budget_scale is None else budget_scale
    if name == "fixed-n":  # None passed on: the fallback tells a default from a choice
        return fixed_n_protocols(table, n, epochs=epochs, seed_policy=seed_policy, repeats=repeats)
    epochs = 12 if epochs is None else epochs
    if name == "nb201":
        nb201 = nb201_protocol(
            epochs=epochs,
            seed_policy=seed_policy,
            budget_seconds=_time_budget(NB201_TIME_BUDGET, epochs, budget_scale),
            repeats=repeats,
        )
        return (nb201.replace(budget_by="budget_scale", benchmark_budget=True),)
    if name == "per-dataset":
        return per_dataset_protocols(
            epochs=epochs,
            seed_policy=seed_policy,
            budget_scale=budget_scale,
            repeats=repeats,
        )
    raise ProtocolError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOL_NAMES)}")


def check_protocol(protocol: object) -> Protocol:
    """``protocol`` if it is a :class:`Protocol`, else :class:`ProtocolError` naming the
    builders (a name such as ``"nb201"`` met a bare AttributeError where it was used)."""
    if not isinstance(protocol, Protocol):
        raise ProtocolError(
            f"{shown(protocol)} is not a Protocol; build one with nb201_protocol(), "
            "per_dataset_protocols(), fixed_n_protocols(table) or "
            "protocols_by_name(name, table)"
        )
    return protocol
