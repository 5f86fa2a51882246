"""The demo's computation: a short landscape summary of a table and a paired RS vs NA-RS run.

:func:`run_demo` returns a frozen :class:`DemoResult`; ``nb201-flat demo`` only prints it (or
emits it as JSON). Units: accuracies and their differences are in % (differences in
percentage points), times in seconds.

Examples
--------
>>> from nb201_flat.demo import benchmark_statement
>>> from nb201_flat.importers.analognas import PUBLISHED_SOURCE
>>> benchmark_statement(PUBLISHED_SOURCE)[:40]
'AnalogNAS-Bench (analog-nasbench 0.1.3, '
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from nb201_flat.conventions import default_metric
from nb201_flat.errors import ProtocolError
from nb201_flat.importers.analognas import (
    COPY_SOURCE,
    holds_analognas_numbers,
    is_analognas_source,
)
from nb201_flat.table import Table

#: what the demo calls "flattest", stated once and printed with the result (its space's count)
FLATTEST_MEANING = (
    "highest mean value over the {n} radius-1 neighbours (cells one operation away) among the "
    "top 1 % by value"
)
#: the same on a partly measured table: each mean is over its measured neighbours only, and
#: the pool is the top of the measured cells (all of them where fewer than 1 % are measured)
FLATTEST_MEANING_PARTIAL = (
    "highest mean value over each cell's measured radius-1 neighbours (of its {n} cells one "
    "operation away) among the top {k} of the {measured} measured cells by value"
)


#: how a Python caller loads an imported NB201 table in place of the embedded default
LOAD_IMPORTED = "load_table(PATH) or $NB201_FLAT_TABLE"


def benchmark_statement(
    source: str, load: str = LOAD_IMPORTED, *, metrics: Iterable[str] = ()
) -> str:
    """Say plainly which benchmark a table holds, by its source and its ``metrics``.

    The embedded default is AnalogNAS-Bench: the NB201 cells, trained by AnalogNAS with its own
    CIFAR-10 recipe, so its numbers are not NAS-Bench-201's; ``load`` says how the caller
    loads an imported NB201 table instead (a command: its ``--table`` option). Told by the
    importer's label or AnalogNAS-Bench's own metrics
    (:func:`~nb201_flat.importers.analognas.holds_analognas_numbers`: its numbers written to a
    tidy file and imported again keep them under another label), not by a file's name.

    Examples
    --------
    >>> from nb201_flat.importers.analognas import PUBLISHED_SOURCE
    >>> benchmark_statement(PUBLISHED_SOURCE).endswith(
    ...     "(not NAS-Bench-201's numbers; an imported NB201 table: load_table(PATH) or "
    ...     "$NB201_FLAT_TABLE)")
    True
    >>> "not the embedded default" in benchmark_statement("AnalogNAS-Bench-format file d.anb")
    True
    >>> benchmark_statement("tidy file anb.csv", metrics=["accuracy", "ptq_accuracy"])
    "tidy file anb.csv: AnalogNAS-Bench's numbers under another label, ... (not NAS-Bench-201's ..."
    >>> benchmark_statement("nb201-v1_1")
    'table nb201-v1_1'
    """
    if not holds_analognas_numbers(source, metrics):
        return f"table {source}"
    tail = f"(not NAS-Bench-201's numbers; an imported NB201 table: {load})"
    if not is_analognas_source(source):  # e.g. a tidy export of it, imported again
        return (
            f"{source}: AnalogNAS-Bench's numbers under another label, told by the metrics "
            f"only it measures {tail}"
        )
    if source.startswith(COPY_SOURCE):  # a copy that is not the published data
        return f"{source}: a file in AnalogNAS-Bench's format, not the embedded default {tail}"
    return (  # the published data, embedded or by path
        f"{source}: the embedded default, NB201's 15,625 cells trained by AnalogNAS with "
        f"its own recipe {tail}"
    )


class _DropFixedNWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("fixed-n on ")


@contextlib.contextmanager
def _no_fixed_n_warning() -> Iterator[None]:
    # the demo states the optimism itself (the protocol's note); the WARNING would say it twice
    logger = logging.getLogger("nb201_flat.search.protocol")
    flt = _DropFixedNWarning()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


@dataclass(frozen=True, slots=True)
class BestArch:
    """One top cell: its value and its radius-1 neighbourhood (% accuracy)."""

    index: int
    arch: str
    value: float
    nbhd_mean: float
    nbhd_min: float
    sharpness: float
    #: how many of its radius-1 neighbours are measured (the mean, min and sharpness are over
    #: these; fewer than the space's count on a partly measured table)
    nbhd_n: int


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """NA-RS − RS, paired by run, in percentage points, with a 95 % bootstrap CI."""

    protocol: str
    dataset: str
    split: str
    mean: float
    ci_low: float
    ci_high: float
    n: int

    @property
    def caveat(self) -> str | None:
        """What its CI is worth where it pairs fewer than ``MIN_RUNS_VERDICT`` runs, else None
        (the text and the JSON both give it)."""
        from nb201_flat.search.statistics import FEW_PAIRS_CAVEAT, MIN_RUNS_VERDICT

        if self.n >= MIN_RUNS_VERDICT:
            return None
        return f"fewer than {MIN_RUNS_VERDICT} pairs: {FEW_PAIRS_CAVEAT}"


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Everything the demo shows; :meth:`as_dict` is its JSON form."""

    table: str
    benchmark: str
    metric: str
    archs: int
    measured: int
    best: tuple[BestArch, ...]
    flattest: BestArch | None
    flattest_meaning: str
    median_sharpness: float
    #: NaN where the values do not define it (every measured value equal, one measured cell)
    fitness_distance_correlation: float
    #: measured cells with no strictly better measured neighbour, among those with at least one
    local_optima: int
    barrier_best_two: dict[str, Any] | None
    protocol: str
    runs: int
    search_seconds: float
    rows: tuple[dict[str, Any], ...]
    paired: tuple[PairedDifference, ...]
    notes: tuple[str, ...]
    #: a retraining table's stand-ins of the metric (:meth:`StandIns.report`), which the FDC,
    #: local optima and barrier count as measurements; None where it has none
    stand_ins: dict[str, Any] | None = None
    #: why no search ran: no protocol this table serves (no search key measured on every
    #: cell, as in a table of a neighbourhood: each query of an unmeasured cell would be
    #: charged and read NaN); the search fields are then empty
    search_skipped: ProtocolError | None = None
    #: measured cells with no measured radius-1 neighbour: no optimum or not, so not counted
    #: in :attr:`local_optima`
    unjudged_optima: int = 0
    #: the cells the flattest is chosen among: the top 1 % by value that are measured
    flattest_pool: int = 0

    def __repr__(self) -> str:
        p = self.paired[0] if self.paired else None
        diff = f", NA-RS-RS {p.mean:+.2f} pp [{p.ci_low:+.2f}, {p.ci_high:+.2f}]" if p else ""
        search = "search skipped" if self.search_skipped else f"{self.protocol} x{self.runs}"
        return (
            f"DemoResult({self.table!r}, {self.metric}, best {self.best[0].value:.2f} %, "
            f"{search}{diff})"
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form, in the other commands' vocabulary: the table's ``source``, the
        whole ``key`` of the values, a neighbourhood's ``mean``/``min``/``n`` as flatness
        names them, a paired difference's ``diff``/``ci_lo``/``ci_hi`` as reproduce's claims,
        and search's algorithm labels."""
        return {
            "source": self.table,
            "benchmark": self.benchmark,
            "key": self.metric,
            "units": {"value": "%", "difference": "percentage points", "time": "seconds"},
            "archs": self.archs,
            "measured": self.measured,
            "best": [_arch_dict(b) for b in self.best],
            "flattest_of_top_1pct": None
            if self.flattest is None
            else {
                "index": self.flattest.index,
                "arch": self.flattest.arch,
                "value": self.flattest.value,
                "mean": self.flattest.nbhd_mean,
                "n": self.flattest.nbhd_n,
                "pool": self.flattest_pool,
                "meaning": self.flattest_meaning,
            },
            "median_sharpness": self.median_sharpness,
            "fitness_distance_correlation": self.fitness_distance_correlation,
            "local_optima": self.local_optima,
            "local_optima_unjudged": self.unjudged_optima,
            "barrier_best_two": self.barrier_best_two,
            **({} if self.stand_ins is None else {"stand_ins": self.stand_ins}),
            "search": {"skipped": str(self.search_skipped), "notes": list(self.notes)}
            if self.search_skipped
            else {
                "protocol": self.protocol,
                "runs": self.runs,
                # how long the searches took, not simulated time (search's "seconds")
                "wall_seconds": self.search_seconds,
                "rows": [dict(r) for r in self.rows],
                "paired_difference": [
                    {
                        "protocol": p.protocol,
                        "dataset": p.dataset,
                        "split": p.split,
                        "diff": p.mean,
                        "ci_lo": p.ci_low,
                        "ci_hi": p.ci_high,
                        "n": p.n,
                        **({} if p.caveat is None else {"caveat": p.caveat}),
                    }
                    for p in self.paired
                ],
                "notes": list(self.notes),
            },
        }


def _arch_dict(b: BestArch) -> dict[str, Any]:
    return {
        "index": b.index,
        "arch": b.arch,
        "value": b.value,
        "mean": b.nbhd_mean,
        "min": b.nbhd_min,
        "sharpness": b.sharpness,
        "n": b.nbhd_n,
    }


def _measured_everywhere(table: Table, epochs: int) -> bool:
    """Whether every validation accuracy of ``table`` at ``epochs`` has a value at every
    cell (what a fixed-n search of them needs)."""
    return all(
        not np.isnan(table.vector_for(k)).any()
        for k in table
        if k.split == "x-valid" and k.metric == "accuracy" and k.epochs == epochs
    )


def run_demo(table: Table, *, top: int = 5, runs: int = 200, seed: int = 0) -> DemoResult:
    """Compute the demo on ``table``: best cells, landscape facts, RS vs NA-RS paired runs.

    The search uses the NB201 paper's protocol where the table supports it, else ``fixed-n``
    (100 queries; optimistic where it searches the metric it reports, said in the notes); where
    the table serves neither (it measures a neighbourhood, not the space) the landscape part
    stands alone and :attr:`DemoResult.search_skipped` says why.
    A table that measures none of the metric (:func:`~nb201_flat.conventions.default_metric`)
    is a :class:`~nb201_flat.errors.MissingValueError` naming it.
    """
    from nb201_flat.errors import MissingValueError, NoPathError, UnknownKeyError
    from nb201_flat.landscape import (
        StandIns,
        barrier_tree,
        fitness_distance_correlation,
        flatness,
        local_optima,
    )
    from nb201_flat.landscape.census import lowest_bound_note
    from nb201_flat.neighbourhood import NA_PAPER
    from nb201_flat.search import (
        NARandomSearch,
        NeighbourObjective,
        RandomSearch,
        SearchAlgorithm,
        protocols_by_name,
        run_search,
    )
    from nb201_flat.search.protocol import fixed_n_epochs
    from nb201_flat.search.runner import check_runs
    from nb201_flat.search.statistics import bootstrap_cis

    # the one runs rule, before any work: the demo reports a confidence interval
    runs = check_runs(runs, ci=True)
    space = table.space
    try:
        key = default_metric(table)
    except UnknownKeyError:  # its fix, naming a key, is not the demo's to take
        keys = sorted(map(str, table))
        raise UnknownKeyError(
            f"the demo summarises an accuracy, and table {table.source!r} measures none (it "
            f"holds {', '.join(keys[:3])}{' and more' if len(keys) > 3 else ''}); for flatness "
            "and barriers on another metric, name its key (dataset, split, epochs, metric) to "
            "the flatness and barrier commands or functions"
        ) from None
    values = table.vector_for(key)
    if np.isnan(values).all():  # no best cell, no optimum: say which metric, before any work
        raise MissingValueError(
            f"table {table.source!r} holds no measured value of the demo's metric {key}: "
            "there are no best cells or local optima to show; pass a table that measures it"
        )
    # a retraining table's copies of a cell are no neighbours of it
    stand = StandIns.of(table, key.dataset, key.epochs)
    flat = flatness(space, values, radius=1, stand_ins=stand)
    sharp = flat["sharpness"]  # pandas: its median skips NaN without numpy's all-NaN warning
    col = {c: flat[c].to_numpy() for c in ("mean", "min", "sharpness", "n")}

    def arch(i: int) -> BestArch:
        return BestArch(
            index=i,
            arch=space.arch(i).to_str(),
            value=float(values[i]),
            nbhd_mean=float(col["mean"][i]),
            nbhd_min=float(col["min"][i]),
            sharpness=float(col["sharpness"][i]),
            nbhd_n=int(col["n"][i]),
        )

    ranked = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    order = ranked[:top][~np.isnan(values[ranked[:top]])]  # measured cells only
    k = max(1, space.size // 100)
    top_pool = ranked[:k][~np.isnan(values[ranked[:k]])]  # measured cells only
    pool_means = col["mean"][top_pool]
    # None where no cell of the pool has a measured neighbour (a sparse table)
    flattest = None if np.isnan(pool_means).all() else int(top_pool[np.nanargmax(pool_means)])
    optima = local_optima(space, values)
    # a measured cell none of whose neighbours is measured is an "optimum" by default only
    # (stand-ins count here, as in local_optima)
    measured_nbrs = (~np.isnan(space.neighbours(1).gather(values))).sum(axis=1)
    unjudged = ~np.isnan(values) & (measured_nbrs == 0)
    measured = int((~np.isnan(values)).sum())
    size1 = space.neighbourhood_size(1, exact=True)
    meaning = (
        FLATTEST_MEANING.format(n=size1)
        if measured == space.size
        else FLATTEST_MEANING_PARTIAL.format(n=size1, k=len(top_pool), measured=measured)
    )
    tree = barrier_tree(space, values)
    barrier_notes: tuple[str, ...] = ()
    try:
        # the two best of the whole ranking, whatever --top shows (--top 1 dropped it)
        two = ranked[:2][~np.isnan(values[ranked[:2]])]
        path = tree.path(int(two[0]), int(two[1])) if len(two) > 1 else None
    except NoPathError as exc:  # a sparse table: the rest of the demo still stands
        path = None
        barrier_notes = (f"no lowest barrier between the two best: {exc}",)
    # on a partly measured table the path avoids unmeasured cells: an upper bound, unless it
    # is at the worse endpoint, which no path avoids (as `barrier` names it)
    bound = path is not None and bool(tree.unmeasured) and path.above_worse > 0
    if bound and (why := lowest_bound_note(space, tree.unmeasured)) is not None:
        barrier_notes += (f"the two best: {why}",)
    # a constant metric (or one measured cell) has none: the demo's other facts still stand,
    # and it prints "undefined" (JSON: null)
    fdc = fitness_distance_correlation(space, values, undefined="nan")
    # flatness above leaves a cell's copies out; these count every stand-in: say how many
    landscape_stand_ins = (
        stand.as_dict("the FDC, the local optima count and the barrier")
        if stand is not None and stand.any
        else None
    )

    landscape: dict[str, Any] = {
        "table": table.source,
        "benchmark": benchmark_statement(table.source, metrics=(k.metric for k in table)),
        "metric": str(key),
        "archs": space.size,
        "measured": measured,
        "best": tuple(arch(int(i)) for i in order),
        "flattest": None if flattest is None else arch(flattest),
        "flattest_meaning": meaning,
        "flattest_pool": len(top_pool),
        "median_sharpness": float(sharp.median()),  # NaN (shown as -) where none is defined
        "fitness_distance_correlation": float(fdc),
        "local_optima": int((optima & ~unjudged).sum()),
        "unjudged_optima": int(unjudged.sum()),
        "barrier_best_two": None
        if path is None
        else {
            "barrier": path.barrier,
            "length": path.length,
            "bottleneck": path.bottleneck,
            "upper_bound": bound,
            "unmeasured": tree.unmeasured,
        },
        "stand_ins": landscape_stand_ins,
    }
    t0 = time.perf_counter()
    # labelled as search labels them (rs, na-rs[r1,mean,self,free])
    rs, na_rs = RandomSearch(), NARandomSearch(NeighbourObjective(NA_PAPER))
    algorithms: dict[str, SearchAlgorithm] = {rs.label: rs, na_rs.label: na_rs}
    try:  # the NB201 paper's protocol where the table has what it needs
        protocols = protocols_by_name("nb201", table)
        res = run_search(table, protocols, algorithms, runs=runs, seed=seed)
    except ProtocolError:  # e.g. the embedded default: no validation split, no time
        # searched on the validation split at 12 epochs, else at the most the table has,
        # among the schedules measured on every cell (a search refuses a key some cell
        # lacks); none: its own fallback, which refuses epochs given
        valid = fixed_n_epochs(table)
        whole = [e for e in valid if _measured_everywhere(table, e)] or valid
        epochs = None if 12 in whole or not whole else max(whole)
        try:
            with _no_fixed_n_warning():
                protocols = protocols_by_name("fixed-n", table, n=100, epochs=epochs)
            res = run_search(table, protocols, algorithms, runs=runs, seed=seed)
        except ProtocolError as exc:  # a neighbourhood's table: the landscape part stands
            return DemoResult(
                **landscape,
                protocol="",
                runs=0,
                search_seconds=0.0,
                rows=(),
                paired=(),
                notes=barrier_notes,
                search_skipped=exc,
            )
    search_s = time.perf_counter() - t0
    summary = res.summary()

    paired = []
    r = res.runs
    for (prot, dataset), g in r.groupby(["protocol", "dataset"], sort=True):
        wide = g.pivot_table(index="run", columns="algorithm", values="test", aggfunc="first")
        if not {rs.label, na_rs.label} <= set(wide.columns):
            continue
        d = (wide[na_rs.label] - wide[rs.label]).to_numpy(dtype=np.float64)
        # fewer than two pairs: NaN bounds, which the printout leaves out (bootstrap_ci refuses)
        lo, hi = bootstrap_cis([d], seed=seed)[0]
        split = str(g["split"].iloc[0]) if "split" in g else ""
        paired.append(
            PairedDifference(
                protocol=str(prot),
                dataset=str(dataset),
                split=split,
                mean=float(np.nanmean(d)),
                ci_low=lo,
                ci_high=hi,
                n=int((~np.isnan(d)).sum()),
            )
        )

    return DemoResult(
        **landscape,
        protocol=protocols[0].name,
        runs=runs,
        search_seconds=round(search_s, 2),
        rows=tuple(
            {str(k): v for k, v in rec.items()}
            for rec in summary[
                ["algorithm", "dataset", "split", "epochs", "metric", "mean", "std", "n"]
            ].to_dict(orient="records")
        ),
        paired=tuple(paired),
        notes=tuple(res.notes) + barrier_notes,
    )
