"""The NA-paper reproduction grid: run every protocol choice over paired seeds.

Reproduce the NA paper's claim on NAS-Bench-201, over a grid of protocol choices.

*Neighborhood-Aware Neural Architecture Search* reports that NA-RS beats random search by
1.48 points on CIFAR-100 and 1.58 on ImageNet16-120. Its NB201 protocol is not published in
what we have, so :func:`reproduce` runs every choice as a grid parameter — search dataset and
protocol (``nb201``: search ``cifar10-valid``; ``per-dataset``: search each dataset), search
epochs (12 / 200), radius (1 / 2), aggregator, include-self, charged or free neighbour queries,
one- or two-stage NA-RS — and reports, per cell and dataset, the paired difference NA − base
over runs sharing their seeds, with a percentile-bootstrap 95% confidence interval.

Verdict rule (:func:`verdict`), for a claim ``c`` (in the claim's direction) and CI
``[lo, hi]`` with ``margin`` m (default 0.5):

- **reproduced**: ``lo > 0`` and ``hi >= m * c`` — the CI excludes 0 on the claim's side and
  reaches at least m times the claimed size (larger effects count as reproduced);
- **contradicted**: ``hi < m * c`` — the CI lies below m times the claim (this includes a CI
  entirely on the opposite side of 0);
- **inconclusive**: otherwise (the CI contains 0 and reaches m times the claim).

Rows without a claimed size (CIFAR-10; REA and LS relatives) test the sign only: reproduced if
``lo > 0``, contradicted if ``hi < 0``, inconclusive otherwise. A row of fewer than
:data:`~nb201_flat.search.statistics.MIN_RUNS_VERDICT` paired runs gets no verdict (its CI is
still given): a percentile interval of so few pairs holds the mean far less often than its
level says.

Accounting (issue 17): a free-neighbour NA search evaluates about 25 times more cells than its
budget charges. The grid also runs best-evaluated NA-RS (NA-RS's evaluations, returning the
best validation cell among all of them) and, for NA-RS, NA-REA and NA-LS, the base search given
the simulated time its NA form actually used (:mod:`~nb201_flat.search.accounting`), and
reports each comparison with both sides' evaluations. ``ReproduceConfig.quick()`` is a smoke
test: its rows carry no verdict.

With search epochs 200 the time budgets are multiplied by 200/12 (``budget_scale_200``), so
that a run affords about as many queries as at 12 epochs; the 12-epoch cost is derived as
``time_200 * 12 / 200`` (the tables store only the full-schedule time).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

import pandas as pd

from nb201_flat.conventions import (
    SEARCH_EPOCHS,
    budget_ratio,
    budget_rule_note,
    budget_scale_for,
)
from nb201_flat.errors import (
    ArgumentError,
    Param,
    Part,
    check_flag,
    check_float_range,
    check_int_range,
    real_number,
    shown,
)
from nb201_flat.landscape._common import as_sequence
from nb201_flat.neighbourhood import NA_PAPER, check_level
from nb201_flat.search.accounting import budget_matched, matched_frame
from nb201_flat.search.algorithms import (
    AGGREGATORS,
    AlgorithmError,
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    RegularizedEvolution,
    SearchAlgorithm,
    with_stand_ins,
)
from nb201_flat.search.protocol import (
    TIMED_PROTOCOLS,
    Protocol,
    ProtocolError,
    check_fixed_n_fallback_epochs,
    check_timed_epochs,
    fixed_n_fallback,
    protocols_by_name,
)
from nb201_flat.search.runner import (
    KEY_COLUMNS,
    MIN_RUNS_CI,
    Shortfall,
    check_runs,
    check_scores_affordable,
    check_selection_reached,
    check_stage1_ends,
    run_search,
    summarise,
    unreported_fix,
)
from nb201_flat.search.statistics import (
    SMOKE_VERDICT,
    accounting_rows,
    anchor_rows,
    check_ci_args,
    check_margin,
    claim_routes,
    paired_differences,
    two_stage_overlap,
)
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, SeedPolicy, Table, check_table

log = logging.getLogger(__name__)


Design = Literal["one-at-a-time", "full"]


def check_quantile_applies(
    aggregators: tuple[str, ...], name: str = "quantile", fix: str = "add 'quantile' or drop it"
) -> None:
    """Refuse a grid quantile level where ``aggregators`` has no quantile variant to take it
    (``name`` and ``fix``: the command line's)."""
    if "quantile" not in aggregators:  # it would apply to no variant
        raise AlgorithmError(
            f"{name} applies only where the grid varies agg to 'quantile', and its "
            f"aggregators are {', '.join(aggregators)}; {fix}"
        )


#: the grid's fields that hold several values, and what they hold (for a refusal)
_TUPLE_FIELDS = {
    "protocols": "protocol names",
    "search_epochs": "search epochs (e.g. 12, 200)",
    "default_epochs": "search epochs (e.g. 12, 200)",
    "radii": "Hamming radii",
    "aggregators": "aggregator names",
    "include_self": "True/False values",
    "charge": "True/False values",
    "rerank_top_k": "top-k sizes",
}


@dataclass(frozen=True, slots=True)
class ReproduceConfig:
    """The grid. Defaults: the full reproduction (about half a minute on 2 cores).

    Attributes
    ----------
    runs, seed
        Runs per cell and the master seed (runs are paired across algorithms by seed).
    protocols
        Built-in protocol families to run (``nb201``, ``per-dataset``, ``fixed-n``).
    search_epochs
        Schedules searched, whole numbers >= 1: 12 and/or 200 (the schedules their time
        budgets are set for) where ``nb201`` or ``per-dataset`` is run, any with ``fixed-n``
        alone; None (the default): :attr:`default_epochs`.
        fixed-n on a table without a validation split beside a test split searches one
        200-epoch key instead (:func:`~nb201_flat.search.protocol.fixed_n_fallback`: its
        validation accuracy, else a test split's): left out, that key once; given, any other
        epochs are refused there, as ``fixed_n_protocols`` refuses them.
    default_epochs
        What ``search_epochs=None`` stands for: 12 and 200 (``quick()``: 12 alone), where
        fixed-n's fallback searches its own key instead.
    seed_policy
        Oracle seed policy (``random`` as NB201). The grid's ``random`` falls back to a key's
        single value with a note (``Protocol.seed_fallback``), as the builders' default does:
        the 12-epoch keys of the NB201 release store one value.
    budget_scale_200
        Budget multiplier at 200 epochs (default :func:`~nb201_flat.conventions.budget_scale_for`
        ``(200)``, which stands for the epochs rule, 200/12 exactly: same number of queries).
    fixed_n
        Queries per run of ``fixed-n`` protocols.
    base
        The NA objective every one-at-a-time variant departs from.
    radii, aggregators, include_self, charge
        Values of each NA choice.
    quantile
        Level of the grid's ``agg="quantile"`` variants (None: the base's own level). The
        base itself holds a level only when its aggregator is the quantile.
    rerank_top_k
        Two-stage NA-RS variants (top-k re-ranked); empty for none.
    relatives
        Also run REA / NA-REA and LS / NA-LS (base objective).
    design
        ``one-at-a-time`` (vary one NA choice from ``base``) or ``full`` (every combination).
    n_boot, confidence, margin
        Bootstrap resamples, CI level, and the verdict margin (see the module docstring).
    accounting
        Also run best-evaluated NA-RS (:class:`NABestEvaluatedSearch`, free and charged) and
        the budget-matched controls of the base NA forms (issue 17's accounting).
    smoke
        A smoke test (``quick``): numbers are computed but no verdict is given.
    """

    runs: int = 500
    seed: int = 0
    protocols: tuple[str, ...] = ("nb201", "per-dataset")
    search_epochs: tuple[int, ...] | None = None
    seed_policy: SeedPolicy = "random"
    budget_scale_200: float | Fraction = field(default_factory=lambda: budget_scale_for(200))
    fixed_n: int = 100
    base: NeighbourObjective = field(default_factory=lambda: NeighbourObjective(NA_PAPER))
    radii: tuple[int, ...] = (1, 2)
    aggregators: tuple[str, ...] = AGGREGATORS
    include_self: tuple[bool, ...] = (True, False)
    charge: tuple[bool, ...] = (False, True)
    quantile: float | None = None
    rerank_top_k: tuple[int, ...] = (10,)
    relatives: bool = True
    design: Design = "one-at-a-time"
    n_boot: int = 2000
    confidence: float = 0.95
    margin: float = 0.5
    accounting: bool = True
    smoke: bool = False
    default_epochs: tuple[int, ...] = (12, 200)

    def __post_init__(self) -> None:
        # text first: an array's `in` raised numpy's ambiguous-truth ValueError
        if not isinstance(self.design, str) or self.design not in ("one-at-a-time", "full"):
            raise AlgorithmError(
                f"design must be 'one-at-a-time' or 'full', got {shown(self.design)}"
            )
        # one value where a tuple belongs: iterated later, a raw TypeError or its letters
        for name, items in _TUPLE_FIELDS.items():
            value = getattr(self, name)
            if value is not None or name != "search_epochs":
                object.__setattr__(self, name, tuple(as_sequence(name, value, items)))
        for name in ("search_epochs", "default_epochs"):
            epochs = getattr(self, name)
            if epochs is None:
                continue
            # whole numbers: 12.0 was kept, and named "12.0 epochs" as no time budget's
            epochs = tuple(
                check_int_range(Param(name), e, 1, fix="pass whole search epochs, e.g. 12 or 200")
                for e in epochs
            )
            if not epochs or len(set(epochs)) < len(epochs):
                # a repeat ran the same protocols twice, under one name; none searched nothing
                raise ProtocolError(
                    (Param(name), f" is {epochs}"), "give one or more schedules, each once"
                )
            object.__setattr__(self, name, epochs)
        # the time-budgeted families search the schedules their budgets are set for; fixed-n
        # (a query budget) any the table stores
        other = [e for e in self.epochs if e not in SEARCH_EPOCHS]
        check_timed_epochs(
            self.protocols,
            other,
            Param("default_epochs" if self.search_epochs is None else "search_epochs"),
            (
                f"search {' and '.join(map(str, other))} epochs with a query budget alone (",
                Param("protocols", ("fixed-n",)),
                ")",
            ),
        )
        # before any search: a bad n_boot or margin was met only after the whole grid ran
        check_ci_args(self.n_boot, self.confidence, self.seed)
        check_margin(self.margin)
        if self.quantile is not None:
            check_level(self.quantile)
            check_quantile_applies(self.aggregators)
        check_runs(self.runs, "runs", ci=True)  # every row has a confidence interval
        # checked here, not only once fixed-n's protocols are built: "abc" or NaN was kept
        fixed_n = check_int_range(
            Param("fixed_n"), self.fixed_n, 1, fix="pass fixed-n's queries per run, e.g. 100"
        )
        object.__setattr__(self, "fixed_n", fixed_n)
        # whole sizes, each once: 0 met NARandomSearch's refusal only once the grid started,
        # and a size given twice ran once (the variants are keyed by label)
        top_k = tuple(
            check_int_range(Param("rerank_top_k"), k, 1, fix="re-rank e.g. the top 10")
            for k in self.rerank_top_k
        )
        if len(set(top_k)) < len(top_k):
            raise ArgumentError(
                Param("rerank_top_k"),
                f" holds a size twice, got {top_k}; give each size once",
            )
        object.__setattr__(self, "rerank_top_k", top_k)
        check_float_range(
            Param("budget_scale_200"),
            self.budget_scale_200,
            0.0,
            lo_open=True,
            fix="pass the multiplier of the time budgets at 200 epochs, e.g. 200/12",
        )
        # "no" was read as yes: a smoke test's verdicts, the relatives and controls still run
        for name in ("relatives", "accounting", "smoke"):
            object.__setattr__(self, name, check_flag(Param(name), getattr(self, name)))
        if not isinstance(self.base, NeighbourObjective):  # a bare TypeError in the grid
            raise ArgumentError(
                Param("base"),
                f" must be a NeighbourObjective, got {shown(self.base)}; e.g. "
                "NeighbourObjective(NA_PAPER)",
            )
        # options no protocol of the grid reads were kept without a word
        if fixed_n != 100 and "fixed-n" not in self.protocols:
            raise ProtocolError(
                (Param("fixed_n"), f" {fixed_n} applies only to the fixed-n protocol"),
                ("add fixed-n to ", Param("protocols"), ", or drop ", Param("fixed_n")),
            )
        timed = set(TIMED_PROTOCOLS) & set(self.protocols)
        if self._scale_on_rule(200) != 1 and not (timed and 200 in self.epochs):
            raise ProtocolError(
                (
                    Param("budget_scale_200"),
                    " applies only to time-budgeted searches at 200 epochs",
                ),
                "search 200 epochs (search_epochs) with nb201 or per-dataset, or drop it",
            )

    @classmethod
    def quick(cls, **changes: object) -> ReproduceConfig:
        """A tiny grid for tests and smoke runs (seconds)."""
        base = cls(
            runs=20,
            protocols=("nb201",),
            default_epochs=(12,),  # a default, not a choice: fixed-n's fallback still runs
            radii=(1,),
            aggregators=("mean",),
            include_self=(True,),
            charge=(False,),
            rerank_top_k=(10,),
            relatives=True,
            n_boot=500,
            smoke=True,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def protocol_list(self, table: Table) -> tuple[Protocol, ...]:
        """Every protocol of the grid."""
        return tuple(p for ps in self.protocol_families(table).values() for p in ps)

    @property
    def epochs(self) -> tuple[int, ...]:
        """The schedules the grid searches: :attr:`search_epochs`, or :attr:`default_epochs`
        where it is None (fixed-n's fallback searches its own key instead)."""
        return self.default_epochs if self.search_epochs is None else self.search_epochs

    def protocol_families(self, table: Table) -> dict[str, tuple[Protocol, ...]]:
        """The protocols of the grid by family (an item of :attr:`protocols`)."""
        # a table without a validation split: fixed-n searches its report key at that key's
        # epochs, once; epochs given are checked first (its builder would log a warning)
        fallback = fixed_n_fallback(table) if "fixed-n" in self.protocols else None
        if fallback is not None:
            own = Param("search_epochs", (fallback.epochs,))
            check_fixed_n_fallback_epochs(table, fallback, self.search_epochs, own)
        out: dict[str, tuple[Protocol, ...]] = {}
        for name in self.protocols:
            fixed_n = name == "fixed-n"  # each family takes its own budget, never both
            built: list[Protocol] = []
            for ep in (None,) if fixed_n and fallback is not None else self.epochs:
                # refusals name the grid's field that sets a budget (none for 12 epochs)
                by = "fixed_n" if fixed_n else ("budget_scale_200" if ep == 200 else "")
                built += [
                    p.replace(seed_fallback=True, budget_by=by)
                    for p in protocols_by_name(
                        name,
                        table,
                        epochs=ep,
                        seed_policy=self.seed_policy,
                        n=self.fixed_n if fixed_n else None,
                        budget_scale=None if fixed_n or ep is None else self._scale_on_rule(ep),
                    )
                ]
            out[name] = tuple(built)
        return out

    def _scale_on_rule(self, epochs: int) -> Fraction:
        """The builders' ``budget_scale`` (on top of the epochs rule) that makes the whole
        multiplier at 200 epochs :attr:`budget_scale_200`, exactly; its default, the rule's
        float, stands for the rule itself (200/12, not 16.666666666666668)."""
        if epochs != 200 or self.budget_scale_200 == budget_scale_for(200):
            return Fraction(1)
        whole = self.budget_scale_200  # checked in __post_init__: a finite real > 0
        exact = whole if isinstance(whole, Fraction) else Fraction(real_number(whole))
        return exact / budget_ratio(200)

    def check_space(self, space: Space) -> None:
        """Refuse the grid's radius variants beyond ``space``'s edges (a radius lies in
        1..edges), before any search: the runner would name the base's radius."""
        fits = tuple(r for r in self.radii if 1 <= r <= space.n_edges)
        if len(fits) < len(self.radii):
            beyond = ", ".join(str(r) for r in self.radii if r not in fits)
            edges = f"{space.n_edges} edge{'s' if space.n_edges != 1 else ''}"
            raise AlgorithmError(
                f"the grid's radius variants {beyond} lie beyond this space's {edges} (a "
                f"radius lies in 1..{space.n_edges}); use a table of a larger space, or give "
                "the grid radii within it (",
                Param("radii", fits or (1,)),
                ")",
            )

    def _level(self, agg: str) -> dict[str, float]:
        """The quantile level of an ``agg`` variant (:attr:`quantile`), where one is set."""
        return (
            {"quantile": self.quantile} if agg == "quantile" and self.quantile is not None else {}
        )

    def algorithms(self) -> dict[str, SearchAlgorithm]:
        """Every algorithm of the grid, by label (random search first)."""
        objs: list[NeighbourObjective]
        if self.design == "full":
            # the base too, after the product (which keeps its order): the relatives,
            # two-stage and accounting controls depart from it (a base outside the product
            # left its budget-matched control with no runs)
            objs = [
                replace(self.base, radius=r, agg=a, include_self=s, charge=c, **self._level(a))  # type: ignore[call-arg, arg-type]
                for r, a, s, c in itertools.product(
                    self.radii, self.aggregators, self.include_self, self.charge
                )
            ] + [self.base]
        else:
            objs = [self.base]
            objs += [replace(self.base, radius=r) for r in self.radii]  # type: ignore[call-arg]
            objs += [replace(self.base, agg=a, **self._level(a)) for a in self.aggregators]  # type: ignore[call-arg, arg-type]
            objs += [replace(self.base, include_self=s) for s in self.include_self]  # type: ignore[call-arg]
            objs += [replace(self.base, charge=c) for c in self.charge]
        algos: list[SearchAlgorithm] = [RandomSearch()]
        for o in dict.fromkeys(objs):  # unique, in order
            algos.append(NARandomSearch(o))
        for k in self.rerank_top_k:
            for c in dict.fromkeys([self.base.charge, *self.charge]):
                algos.append(NARandomSearch(replace(self.base, charge=c), rerank_top_k=k))
        if self.accounting:
            for c in dict.fromkeys([self.base.charge, *self.charge]):
                algos.append(NABestEvaluatedSearch(replace(self.base, charge=c)))
        if self.relatives:
            algos += [
                RegularizedEvolution(),
                RegularizedEvolution(objective=self.base),
                LocalSearch(),
                LocalSearch(objective=self.base),
            ]
        return {a.label: a for a in algos}

    def matched_pairs(self) -> dict[str, tuple[str, SearchAlgorithm]]:
        """NA label -> (base label, base algorithm) of every budget-matched control."""
        if not self.accounting:
            return {}
        out: dict[str, tuple[str, SearchAlgorithm]] = {}
        for c in dict.fromkeys([self.base.charge, *self.charge]):
            obj = replace(self.base, charge=c)
            out[NARandomSearch(obj).label] = ("rs", RandomSearch())
            out[NABestEvaluatedSearch(obj).label] = ("rs", RandomSearch())
        if self.relatives:
            out[RegularizedEvolution(objective=self.base).label] = ("rea", RegularizedEvolution())
            out[LocalSearch(objective=self.base).label] = ("ls", LocalSearch())
        return out


@dataclass(frozen=True, slots=True, eq=False)
class ReproduceResult:
    """Everything :func:`reproduce` measured, as tidy DataFrames.

    Attributes
    ----------
    summary
        Mean, std, n of the final test accuracy per protocol, algorithm and reported key (the
        columns ``dataset``, ``split``, ``epochs``, ``metric``; so are the keys of
        :attr:`paired`, :attr:`curves` and :attr:`runs`).
    paired
        NA − base paired differences with bootstrap CI, claim and verdict per row. ``claim``
        (float) is the NA paper's claimed difference, NaN where the row has none (its verdict
        tests the sign only); ``two_stage`` (pandas ``boolean``) is ``<NA>`` where the
        algorithm is no NA-RS form.
    anchors
        Published numbers beside ours, with the reported key ours were read at (the
        columns ``dataset``, ``split``, ``epochs``, ``metric``, as in the other tables).
    curves
        Anytime curves (incumbent test accuracy on a time grid).
    runs
        One row per run and reported key.
    notes
        Protocol caveats (cost derivation, seed fallback, budget rule, optimistic flags).
    config
        The grid.
    accounting
        Per protocol and reported key: NA − base, NA − budget-matched base, best-evaluated
        NA-RS − RS with the same evaluations, each with its CI and both sides' evaluations;
        ``claim`` as in :attr:`paired`.
    matched
        What each budget-matched control was given (see :mod:`~nb201_flat.search.accounting`).
    routes
        "What would produce the claim": the comparisons the grid allows closest to the claim.
    """

    summary: pd.DataFrame
    paired: pd.DataFrame
    anchors: pd.DataFrame
    curves: pd.DataFrame
    runs: pd.DataFrame
    notes: tuple[str, ...]
    config: ReproduceConfig
    accounting: pd.DataFrame = field(default_factory=pd.DataFrame)
    matched: pd.DataFrame = field(default_factory=pd.DataFrame)
    routes: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __repr__(self) -> str:
        verdicts: dict[str, int] = {}
        if "verdict" in self.paired:
            verdicts = {str(k): int(n) for k, n in self.paired["verdict"].value_counts().items()}
        counts = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
        return (
            f"ReproduceResult({len(self.summary)} summary rows, {len(self.paired)} paired rows"
            f"{': ' + counts if counts else ''}; {len(self.notes)} notes)"
        )


def _short_of_values(
    runs: pd.DataFrame,
    algorithms: dict[str, SearchAlgorithm] | None = None,
    lower_radii: Mapping[tuple[str, str], int] | None = None,
) -> list[Shortfall]:
    """Each search and reported key of ``runs`` with fewer than :data:`MIN_RUNS_CI` runs that
    have a value: every row it is part of would have no CI. ``algorithms``: the searches by
    label (one not there is not known to be charged); ``lower_radii``: the smaller radius at
    which every run of a search that scored nothing would score, by (protocol, label)
    (:attr:`~nb201_flat.search.runner.SearchResults.lower_radii`)."""
    keys = ["protocol", "algorithm", *KEY_COLUMNS]
    g = runs.groupby(keys, sort=False)
    counts = g["test"].agg(["count", "size"]).join(g["best"].count().rename("found"))
    return [
        Shortfall(
            str(prot),
            f"{algo} on {MetricKey(*key)}",
            int(k),
            int(n),
            int(f),
            (algorithms or {}).get(str(algo)),
            (lower_radii or {}).get((str(prot), str(algo))),
        )
        for prot, algo, *key, k, n, f in counts.reset_index().itertuples(index=False, name=None)
        if k < MIN_RUNS_CI
    ]


def _short_of_pairs(
    paired: pd.DataFrame, accounting: pd.DataFrame, routes: pd.DataFrame
) -> list[Shortfall]:
    """Each comparison of the report with fewer than :data:`MIN_RUNS_CI` paired runs."""
    out: dict[tuple[str, str], Shortfall] = {}
    for frame, prot, a, b in (
        (paired, "protocol", "algorithm", "base"),
        (accounting, "protocol", "a", "b"),
        (routes, "a_protocol", "a", "b"),
    ):
        if frame.empty:
            continue
        for r in frame[frame["n"] < MIN_RUNS_CI].to_dict(orient="records"):
            key = MetricKey(*(r[c] for c in KEY_COLUMNS))  # a dataset's keys are rows apart
            what = f"{r[a]} − {r[b]} on {key}"
            if prot == "a_protocol" and r["b_protocol"] != r["a_protocol"]:
                what = f"{r[a]} − {r[b]} under {r['b_protocol']} on {key}"
            out.setdefault((str(r[prot]), what), Shortfall(str(r[prot]), what, int(r["n"]), None))
    return list(out.values())


def _require_intervals(
    short: list[Shortfall],
    families: dict[str, tuple[Protocol, ...]],
    config: ReproduceConfig | None = None,
) -> None:
    """Refuse (:class:`ProtocolError`) a grid where some row would have no confidence
    interval (``short``), naming the rows, why they lack values and what the grid ``config``
    offers that could serve them (:func:`~nb201_flat.search.runner.unreported_fix`, as
    ``search`` names its own: a denser table, a larger budget, more runs, a smaller radius
    and the charged searches left out, where they apply), and the families that serve every
    row."""
    if not short:
        return
    by_name = {p.name: p for ps in families.values() for p in ps}
    names = list(dict.fromkeys(s.protocol for s in short))
    shown_rows = [
        s.what
        + ("" if len(names) == 1 else f" under {s.protocol}")
        + (f" ({s.have} paired runs)" if s.runs is None else f" ({s.have} of {s.runs} runs)")
        for s in short[:4]
    ]
    more = f", and {len(short) - 4} more" if len(short) > 4 else ""
    bad = [f for f, ps in families.items() if any(p.name in names for p in ps)]
    keep = tuple(f for f in families if f not in bad)
    leave_out = None if config is None else _charged_out(config)
    charged_out: tuple[Part, ...] = ()
    if leave_out is not None:
        charged_out = ("leave out the charged searches (", leave_out, ")")
    causes, fix = unreported_fix(
        short,
        [by_name[n] for n in names if n in by_name],
        whom="the searches",
        runs=Param("runs"),
        radius_by=None if config is None else _radius_by(config),
        share_by=None,  # the grid sets no stage 1 share of its own
        charged_out=charged_out,
        others=[(f"leave out {', '.join(bad)} (", Param("protocols", keep), ")")] if keep else (),
    )
    raise ProtocolError(
        f"the grid cannot serve {', '.join(names)}: a row's confidence interval needs at "
        f"least {MIN_RUNS_CI} runs with a reported value, and these have fewer: "
        f"{', '.join(shown_rows)}{more} ({causes})",
        fix,
    )


def _charged(algorithm: SearchAlgorithm | None) -> bool:
    """Whether ``algorithm`` is an NA search with charged neighbours."""
    obj = getattr(algorithm, "objective", None)
    return isinstance(obj, NeighbourObjective) and obj.charge


def _charged_out(config: ReproduceConfig) -> Param | None:
    """The grid's field that leaves its charged searches out: ``charge``, where every charged
    search is one of its charge variants (a base with free neighbours); None otherwise."""
    return None if config.base.charge else Param("charge", (False,))


@dataclass(frozen=True, slots=True)
class BaseRadius:
    """The grid's base objective at another radius, as a refusal names it: to a Python caller
    ``base=replace(base, radius=R)`` (``repr``), to the command line ``--radius R`` (``str``;
    ``reproduce`` maps ``base`` to its ``--radius``)."""

    radius: int

    def __repr__(self) -> str:
        return f"replace(base, radius={self.radius})"

    def __str__(self) -> str:
        return str(self.radius)


def _radius_by(config: ReproduceConfig) -> Callable[[int], Param] | None:
    """The grid's rule for the field that sets every charged search's radius: the base's
    (:class:`BaseRadius`), one choice at a time from a base with free neighbours (its charge
    variants, two-stage and best-evaluated searches are the base's, charged); None where the
    grid's radii set some (every combination, or a charged base)."""
    if config.design != "one-at-a-time" or config.base.charge:
        return None
    return lambda radius: Param("base", BaseRadius(radius))


def _check_selections(
    table: Table,
    config: ReproduceConfig,
    protocols: tuple[Protocol, ...],
    algorithms: dict[str, SearchAlgorithm],
) -> None:
    """The runner's refusals, before any run, of an NA search with charged neighbours whose
    budget scores no cell (:func:`~nb201_flat.search.runner.check_scores_affordable`), of a
    two-stage NA-RS whose stage 1 cannot end
    (:func:`~nb201_flat.search.runner.check_stage1_ends`) and of a selection no run gets past
    (REA's population, a top-k: :func:`~nb201_flat.search.runner.check_selection_reached`),
    naming what the grid offers: it sets no stage 1 share (``stage1_fraction``), population or
    top-k of its own, so its budget field (where one sets the protocol's budget), the base's
    radius (:func:`_radius_by`) or the field that leaves the search out (``charge``,
    ``rerank_top_k``, ``relatives``). Checked as the runner checks them: with the table's
    stand-ins (:func:`~nb201_flat.search.algorithms.with_stand_ins`)."""
    checked = {
        label: a
        for label, a in algorithms.items()
        if isinstance(a, RegularizedEvolution)
        or (isinstance(a, NARandomSearch) and a.rerank_top_k is not None)
        or _charged(a)
    }
    for p in protocols if checked else ():
        p.check(table)  # what the table lacks first, as the runner says it
        data = p.oracle_data(table)
        for _, label, a in with_stand_ins(table, [(p, lab, a) for lab, a in checked.items()]):
            check_scores_affordable(
                p, data, a, label, radius_by=_radius_by(config), leave_out=_charged_out(config)
            )
            rea = isinstance(a, RegularizedEvolution)
            two_stage = isinstance(a, NARandomSearch) and a.rerank_top_k is not None
            if not (rea or two_stage):
                continue
            leave_out = Param("relatives", False) if rea else Param("rerank_top_k", ())
            if not rea:
                check_stage1_ends(p, data, a, label, share_by=None, leave_out=leave_out)
            size_by = None if rea else Param("rerank_top_k")
            check_selection_reached(
                p, data, a, label, own=False, size_by=size_by, leave_out=leave_out
            )


def reproduce(
    table: Table,
    config: ReproduceConfig | None = None,
    *,
    jobs: int | None = 1,
    progress: bool = False,
) -> ReproduceResult:
    """Run the grid of ``config`` on ``table`` and compare with the published numbers.

    Raises :class:`~nb201_flat.search.protocol.ProtocolError` naming what the table lacks
    when a protocol of the grid cannot run on it, and, as soon as it is known (after the
    searches, after the budget-matched controls, after the pairing), naming the rows and the
    families that serve every row, when some row would have no confidence interval: fewer
    than two runs with a reported value (their picks unmeasured on a sparse table, or no pick
    at all). A grid with such a row is refused whole, as ``search`` refuses a mean of nothing:
    a report is its rows side by side, and a hole in it reads as a result.
    """
    if config is not None and not isinstance(config, ReproduceConfig):  # {} ran the full grid
        raise ArgumentError(
            Param("config"),
            f" must be a ReproduceConfig, got {shown(config)}; e.g. ReproduceConfig.quick()",
        )
    cfg = config or ReproduceConfig()
    cfg.check_space(check_table(table).space)
    families = cfg.protocol_families(table)
    protocols = tuple(p for ps in families.values() for p in ps)
    algorithms = cfg.algorithms()
    _check_selections(table, cfg, protocols, algorithms)
    log.info(
        "reproduce: %d protocols x %d algorithms x %d runs",
        len(protocols),
        len(algorithms),
        cfg.runs,
    )
    t0 = time.perf_counter()
    res = run_search(
        table, protocols, algorithms, runs=cfg.runs, seed=cfg.seed, jobs=jobs, progress=progress
    )
    t1 = time.perf_counter()
    # before the controls and the statistics: a row without a CI is refused, never a NaN
    _require_intervals(_short_of_values(res.runs, algorithms, res.lower_radii), families, cfg)
    runs, curves = res.runs, res.curves
    notes = [*res.notes]
    matched = matched_frame()  # no controls: its columns and dtypes all the same
    pairs = cfg.matched_pairs()
    if pairs:
        ctrl = budget_matched(table, res, pairs, runs=cfg.runs, seed=cfg.seed, jobs=jobs)
        _require_intervals(_short_of_values(ctrl.runs, algorithms), families, cfg)
        runs = pd.concat([runs, ctrl.runs], ignore_index=True)
        curves = pd.concat([curves, ctrl.curves], ignore_index=True)
        matched = ctrl.matched
        notes += ctrl.notes
    t2 = time.perf_counter()
    summary = summarise(runs)
    paired = paired_differences(
        res,
        algorithms,
        n_boot=cfg.n_boot,
        confidence=cfg.confidence,
        margin=cfg.margin,
        seed=cfg.seed,
    )
    paired = two_stage_overlap(paired, runs, algorithms)
    accounting = accounting_rows(
        runs, matched, algorithms, n_boot=cfg.n_boot, confidence=cfg.confidence, seed=cfg.seed
    )
    routes = claim_routes(
        runs, res.protocols, n_boot=cfg.n_boot, confidence=cfg.confidence, seed=cfg.seed
    )
    # each side has its runs with a value, but the pairs may not (values lost in other runs)
    _require_intervals(_short_of_pairs(paired, accounting, routes), families, cfg)
    log.info(
        "reproduce: searches %.1f s, budget-matched controls %.1f s, statistics %.1f s",
        t1 - t0,
        t2 - t1,
        time.perf_counter() - t2,
    )
    if cfg.smoke:
        paired["verdict"] = SMOKE_VERDICT
        notes.insert(
            0,
            f"SMOKE TEST ({cfg.runs} runs per cell, a reduced grid): it checks that the "
            "pipeline runs; its numbers carry no verdict",
        )
    if cfg.budget_scale_200 != 1.0 and any(
        p.search.epochs == 200 and p.budget_seconds is not None for p in protocols
    ):
        notes.append(budget_rule_note(200, cfg.budget_scale_200 / budget_scale_for(200)))
    notes.append(
        "published RS anchors come from the NB201 paper's own release of the benchmark; a "
        "later release (e.g. NATS-Bench tss) shifts every cell's accuracy slightly, so compare "
        "the 'ours − published' column with that in mind"
    )
    return ReproduceResult(
        summary=summary,
        paired=paired,
        anchors=anchor_rows(summary, paired),
        curves=curves,
        runs=runs,
        notes=tuple(notes),
        config=cfg,
        accounting=accounting,
        matched=matched,
        routes=routes,
    )
