"""Repeat searches over many seeded runs, in parallel processes where it pays.

Run ``r`` of a master ``seed`` uses two independent streams,
``SeedSequence(seed, spawn_key=(r, 0))`` for the algorithm and ``(r, 1)`` for the oracle's seed
draws, whatever the algorithm, protocol, chunking or number of processes. So results are
identical bit for bit with ``jobs=1`` and ``jobs>1``, and two algorithms run with one seed are
*paired*: run ``r`` of random search and run ``r`` of NA-RS start from the same random stream.

Worker processes are handed only the oracles' arrays (validation values and costs) and the
algorithms (inherited through ``fork`` where the platform has it, pickled otherwise); the
evaluator (test vectors) stays in the parent, which reads each run's incumbent after the
search has returned. With ``jobs > 1`` every cell goes to the pool: a cell that runs all its
runs at once (:func:`~nb201_flat.search.vectorised.batched_ok`) is shared out, one slice of
its runs per process, and a cell that runs the per-run loop is cut into small chunks that
fill in behind (:func:`_plan`). :func:`run_cells` runs any list of (protocol, label,
algorithm) cells in one pool, e.g. the budget-matched controls of
:mod:`~nb201_flat.search.accounting`, whose protocols differ only in their budgets.

Examples
--------
The ``nb201`` protocol searches NB201's 12-epoch validation accuracy and charges its training
times: a table imported from the NB201 data has them, the embedded default does not (it
serves ``protocols_by_name("fixed-n", table)``).

>>> from nb201_flat import load_table
>>> from nb201_flat.search import RandomSearch, nb201_protocol, run_search
>>> table = load_table("nb201.nb201")  # doctest: +SKIP
>>> res = run_search(table, nb201_protocol(), RandomSearch(), runs=500, seed=0)  # doctest: +SKIP
>>> res.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import math
import multiprocessing as mp
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.budget import (
    NoBar,
    check_search_workers,
    search_jobs_that_fit,
    tqdm_class,
    usable_cores,
)
from nb201_flat.errors import (
    ArgumentError,
    Call,
    Param,
    Part,
    Spelling,
    check_flag,
    check_int_range,
    check_seed,
    joined,
    shown,
    spelled,
    whole_number,
)
from nb201_flat.pools import default_sigterm, stop_signals_held, stopped_on_interrupt
from nb201_flat.search.algorithms import (
    ALGORITHM_NAMES,
    AlgorithmError,
    Incumbent,
    LocalSearch,
    NARandomSearch,
    NeighbourObjective,
    RegularizedEvolution,
    SearchAlgorithm,
    check_cells,
    make_algorithm,
    proposes_every_cell,
    with_stand_ins,
)
from nb201_flat.search.oracle import (
    FloatArray,
    IntArray,
    Oracle,
    OracleData,
    SearchEnded,
    StallRecord,
    sampled_costs,
    stall_fixes,
    used_fraction,
)
from nb201_flat.search.protocol import Protocol, ProtocolError, check_protocol, seconds_text
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table, check_table

log = logging.getLogger(__name__)

#: the columns of a result frame that name its reported key (a :class:`MetricKey`'s fields):
#: dataset and split alone read a 12-epoch value as a 200-epoch one
KEY_COLUMNS = ("dataset", "split", "epochs", "metric")

#: :data:`KEY_COLUMNS`' dtypes in a result frame, as the runs frame holds them: text in
#: pandas' string dtype ("str"; object before pandas 3), epochs as int64
KEY_DTYPES: dict[str, str] = dict(zip(KEY_COLUMNS, ("str", "str", "int64", "str"), strict=True))

BUDGET_RULE = (
    "budget rule: a query whose cost would take the run past its budget is refused (not "
    "charged, not revealed) and ends the search, as NB201's R_EA.py; counted time never "
    "exceeds the budget"
)


@dataclass(frozen=True, slots=True)
class RunRecord(StallRecord):
    """The outcome of one run (no test value: that is read afterwards)."""

    run: int
    best: int
    score: float
    queries: int
    seconds: float
    free_queries: int
    cache_hits: int
    changes: tuple[tuple[float, int, int], ...]
    free_seconds: float = 0.0
    #: the :data:`~nb201_flat.search.oracle.IDLE_FREE`... bits of the idle steps its stall
    #: guards ended it on (:class:`~nb201_flat.search.oracle.StallGuard`); 0: it did not stall
    stall_kinds: int = 0
    #: REA (plain or NA): the mutated children it scored (0: it never got past its population)
    children: int = 0
    #: two-stage NA-RS: the distinct cells stage 1 handed to stage 2, of which it re-ranks its
    #: top-k (0 where the run ended in stage 1)
    ranked: int = 0

    @property
    def evaluations(self) -> int:
        """Every architecture evaluation the run made: charged queries plus free look-ups."""
        return self.queries + self.free_queries


def check_batch(seed: object, runs: Iterable[object]) -> int:
    """The master ``seed`` of the batched runners, checked as :func:`run_one` checks it (None
    drew OS entropy: runs no one can repeat), and each of ``runs`` a run number >= 0."""
    for r in runs:
        check_int_range("runs", r, 0, fix="runs count from 0")
    return check_seed(seed)


def run_one(data: OracleData, algorithm: SearchAlgorithm, seed: int, run: int) -> RunRecord:
    """One seeded run of ``algorithm`` against a fresh oracle on ``data``.

    ``seed`` (the master seed) and ``run`` are non-negative ints: None drew OS entropy (a run
    that cannot be reproduced), a bool was 0 or 1, negative numbers raised numpy's errors.
    """
    seed, run = check_seed(seed), check_int_range("run", run, 0, fix="runs count from 0")
    if not isinstance(algorithm, SearchAlgorithm):
        raise ArgumentError(
            Param("algorithm"),
            f" must be a search algorithm (make_algorithm), got {shown(algorithm)}",
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 0)))
    oracle = Oracle(
        data,
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(run, 1))),
        outside=not proposes_every_cell(algorithm),
    )
    incumbent = Incumbent(oracle)
    with contextlib.suppress(SearchEnded):
        algorithm.search(oracle, rng, incumbent)
    return RunRecord(
        run=run,
        best=incumbent.index,
        score=incumbent.score,
        queries=oracle.queries,
        seconds=oracle.seconds,
        free_queries=oracle.free_queries,
        cache_hits=oracle.cache_hits,
        changes=tuple(incumbent.changes),
        free_seconds=oracle.free_seconds,
        stall_kinds=oracle.stall_kinds,
        children=incumbent.children,
        ranked=incumbent.ranked,
    )


@dataclass(frozen=True, slots=True, eq=False)
class SearchResults:
    """Runs, anytime curves and notes of a set of (protocol, algorithm) cells.

    Attributes
    ----------
    runs
        One row per (protocol, algorithm, run, reported key): ``test`` is the reported test
        value of the run's incumbent (``best``); also queries, seconds, free queries. The
        reported key is the columns :data:`KEY_COLUMNS` (``dataset``, ``split``, ``epochs``,
        ``metric``: a :class:`~nb201_flat.table.MetricKey`'s fields).
    curves
        Anytime curves: mean/std/n over runs of the incumbent's test value at each point
        ``x`` of a grid over the budget (``x_unit`` seconds or queries), per reported key
        (:data:`KEY_COLUMNS`); ``optimistic``: whether the protocol searched the metric it
        reports (the incumbent is then the best by that metric itself, not by validation).
    note_parts
        What a reader must know (cost derivation, seed fallback, optimistic protocols,
        stalled runs), each note as message parts: :attr:`notes` words them as Python names
        the parameters they name, :meth:`spelled_notes` as a caller does (a command: its flags).
    protocols
        The protocols, by name.
    searches
        The algorithm of each cell, by (protocol name, label): what :meth:`require_reported`
        names the fixes of.
    lower_radii
        Of each charged NA search of which no run found anything, by (protocol name, label),
        the largest smaller radius at which every run would score (:func:`lower_scoring_radius`;
        absent where none would): the radius :meth:`require_reported` names.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    note_parts: tuple[tuple[Part, ...], ...]
    protocols: tuple[Protocol, ...]
    searches: Mapping[tuple[str, str], SearchAlgorithm] = field(default_factory=dict)
    lower_radii: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes as text, their parameters as Python names them."""
        return self.spelled_notes()

    def spelled_notes(self, spell: Spelling | None = None) -> tuple[str, ...]:
        """The notes as text, their parameters as ``spell`` names them (default, or where it
        returns None: as Python does)."""
        return tuple(spelled(n, spell or (lambda _: None)) for n in self.note_parts)

    def summary(self) -> pd.DataFrame:
        """Mean, std (ddof=1) and n of the final test value per protocol, algorithm and
        reported key (:data:`KEY_COLUMNS`). Refused where a cell has no run with a test value
        (:meth:`require_reported`): its mean would be NaN over n = 0."""
        self.require_reported()
        return summarise(self.runs)

    def require_reported(self) -> None:
        """Refuse (:class:`ProtocolError`) a cell and reported key where no run has a test
        value: its summary would be a mean of nothing (n = 0). :meth:`summary` calls it; the
        results themselves keep such a cell (its runs' records are still the runs'). The
        causes and fixes are :func:`unreported_fix`'s, as the reproduce grid's."""
        keys = ["protocol", "algorithm", *KEY_COLUMNS]
        g = self.runs.groupby(keys, sort=False)
        counts = g["test"].agg(["count", "size"]).join(g["best"].count().rename("found"))
        for prot, algo, *key, have, runs, found in counts.reset_index().itertuples(
            index=False, name=None
        ):
            if have:
                continue
            protocol = next(p for p in self.protocols if p.name == prot)
            row = Shortfall(
                prot,
                f"{algo} on {MetricKey(*key)}",
                0,
                runs,
                found,
                self.searches.get((prot, algo)),
                self.lower_radii.get((prot, algo)),
            )
            causes, fix = unreported_fix([row], [protocol])
            raise ProtocolError(
                f"{prot} {algo}: none of the {runs} runs has a {MetricKey(*key)} value "
                f"({causes}), so there is no result to report",
                fix,
            )

    def __repr__(self) -> str:
        algos = self.runs["algorithm"].nunique() if "algorithm" in self.runs else 0
        runs = len(self.runs.drop_duplicates(["protocol", "algorithm", "run"])) if algos else 0
        counts = (
            (len(self.protocols), "protocol"),
            (algos, "algorithm"),
            (runs, "run"),
            (len(self.curves), "curve point"),
            (len(self.notes), "note"),
        )
        return f"SearchResults({', '.join(f'{n} {w}' + 's' * (n != 1) for n, w in counts)})"


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """See :meth:`SearchResults.summary` (``runs``: a :attr:`SearchResults.runs` frame)."""
    if not isinstance(runs, pd.DataFrame):  # runs.columns: an AttributeError
        raise ArgumentError(
            Param("runs"), f" must be a SearchResults.runs frame, got {shown(runs)}"
        )
    keys = ["protocol", "algorithm", *KEY_COLUMNS]
    need = [*keys, "test", "queries", "seconds", "free_queries", "evaluations", "total_seconds"]
    lacks = [c for c in need if c not in runs.columns]
    if lacks:  # pandas answered with a bare KeyError naming the first
        raise ArgumentError(
            f"summarise needs the runs frame of a search (SearchResults.runs); this one lacks "
            f"{', '.join(lacks)}"
        )
    g = runs.groupby(keys, sort=False)
    # the means and stds from correctly rounded sums, not pandas' own: its running sums
    # changed between versions (pandas 3.1 gave 44.90083331200001 for a mean whose exact value
    # rounds to 44.900833312), and the committed reproduction's bytes followed the pandas
    # installed.
    # count and the stalled sum are of integers: exact in any version
    out = g.agg(
        mean=("test", _fsum_mean),
        std=("test", _fsum_std),
        n=("test", "count"),
        queries=("queries", _fsum_mean),
        seconds=("seconds", _fsum_mean),
        free_queries=("free_queries", _fsum_mean),
        evaluations=("evaluations", _fsum_mean),
        total_seconds=("total_seconds", _fsum_mean),
        **({"stalled": ("stalled", "sum")} if "stalled" in runs.columns else {}),
    ).reset_index()
    return out


def _measured(values: pd.Series) -> FloatArray:
    """A column's values as float64 without its NaN (what pandas' mean and std skip)."""
    x: FloatArray = values.to_numpy(dtype=np.float64, na_value=np.nan)
    measured: FloatArray = x[~np.isnan(x)]
    return measured


def _fsum_mean(values: pd.Series) -> float:
    """The mean of the non-NaN ``values`` (NaN for none, as pandas' ``mean``), from their
    correctly rounded sum (:func:`math.fsum`) over the count: the same float whatever the
    order of the values or the pandas and numpy versions.

    >>> _fsum_mean(pd.Series([0.1] * 10 + [np.nan])), sum([0.1] * 10) / 10
    (0.1, 0.09999999999999999)
    >>> _fsum_mean(pd.Series([1.5e308] * 3))
    1.5e+308
    """
    x = _measured(values)
    if not x.size:
        return math.nan
    try:
        return math.fsum(x) / x.size
    except OverflowError:  # runs' seconds near 1e308: a sum past a float, each mean within
        scale = 0.5 ** math.ceil(math.log2(x.size))  # a power of two: exact, no digit lost
        return math.fsum(x * scale) / x.size / scale


def _fsum_std(values: pd.Series) -> float:
    """The sample standard deviation (ddof=1, NaN below two values, as pandas' ``std``) of
    the non-NaN ``values``: the root of the correctly rounded sum of squared deviations from
    :func:`_fsum_mean`, over ``n - 1`` (the same float in any version, as the mean)."""
    x = _measured(values)
    if x.size < 2:
        return math.nan
    return math.sqrt(math.fsum((x - math.fsum(x) / x.size) ** 2) / (x.size - 1))


# -- the worker side ---------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _pack(data: OracleData) -> dict[str, Any]:
    # spawn only: the Space travels as its spec (its cache of neighbour arrays can be large)
    return {
        "space": data.space.spec(),
        "key": data.key,
        "values": data.values,
        "order": data.order,
        "counts": data.counts,
        "costs": data.costs,
        "budget_seconds": data.budget_seconds,
        "budget_queries": data.budget_queries,
        "repeats": data.repeats,
        "candidates": data.candidates,
    }


def _unpack(d: dict[str, Any]) -> OracleData:
    return OracleData(**{**d, "space": Space.from_spec(d["space"])})


def _init_worker(
    datas: list[OracleData] | list[dict[str, Any]], algorithms: list[SearchAlgorithm], seed: int
) -> None:
    default_sigterm()
    _WORKER["data"] = [d if isinstance(d, OracleData) else _unpack(d) for d in datas]
    _WORKER["algorithms"] = algorithms
    _WORKER["seed"] = seed


def _context() -> mp.context.BaseContext:
    # fork where the platform has it: no `if __name__ == "__main__"` guard needed in scripts
    # and notebooks, no re-import per worker, and the oracles' arrays are inherited, not
    # pickled; spawn elsewhere
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method)


def _run_part(data: OracleData, algo: SearchAlgorithm, seed: int, task: _Task) -> list[RunRecord]:
    """Runs ``start .. stop`` of one cell: all at once where batched, else one by one."""
    runs = range(task.start, task.stop)
    if task.batched:
        from nb201_flat.search import vectorised

        return vectorised.run_batched(data, algo, seed, runs)
    return [run_one(data, algo, seed, r) for r in runs]


def _run_task(task: _Task) -> tuple[_Task, list[RunRecord]]:
    data = _WORKER["data"][task.data]
    algo = _WORKER["algorithms"][task.algo]
    return task, _run_part(data, algo, _WORKER["seed"], task)


# -- the parent side ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Task:
    """Runs ``start .. stop`` of the cell (oracle ``data``, algorithm ``algo``)."""

    cell: int
    data: int
    algo: int
    start: int
    stop: int
    batched: bool


def _plan(
    cells: Sequence[tuple[int, int]], batched: Sequence[bool], runs: int, jobs: int
) -> list[_Task]:
    """Split the cells' runs into tasks for ``jobs`` processes.

    Runs are independent streams, so any split gives the same records. A batched cell (all
    its runs at once in numpy) is cut into ``jobs`` equal parts, so every process does a share
    of it and pays its set-up once; a loop cell into chunks small enough to balance (about 64
    per process over the loop work). Batched parts come first, the fine loop chunks fill in
    behind them.
    """
    if jobs == 1:
        return [
            _Task(c, d, a, 0, runs, b)
            for c, ((d, a), b) in enumerate(zip(cells, batched, strict=True))
        ]
    looped = sum(1 for b in batched if not b)
    # about 64 loop chunks per process: a chunk costs one small pickle, and fine chunks at the
    # end of the queue keep the processes finishing together
    chunk = max(1, min(runs, math.ceil(looped * runs / (64 * jobs)))) if looped else runs
    parts = min(jobs, runs)
    shares = [runs * k // parts for k in range(parts + 1)]  # sizes differ by one at most
    first: list[_Task] = []
    later: list[_Task] = []
    for c, ((d, a), b) in enumerate(zip(cells, batched, strict=True)):
        if b:
            first += [_Task(c, d, a, s, e, b) for s, e in itertools.pairwise(shares)]
        else:
            later += [_Task(c, d, a, s, min(s + chunk, runs), b) for s in range(0, runs, chunk)]
    return first + later


def _execute(
    datas: list[OracleData],
    algos: list[SearchAlgorithm],
    tasks: list[_Task],
    seed: int,
    jobs: int,
    bar: Any,
) -> dict[int, list[RunRecord]]:
    """Every task's records by cell, in this process (``jobs == 1``) or in a process pool."""
    out: dict[int, list[RunRecord]] = {t.cell: [] for t in tasks}
    kernels = _kernels_called(algos, tasks)
    if jobs == 1 or len(tasks) == 1:
        if kernels:
            from nb201_flat.search.compiled import say_if_cold

            say_if_cold(kernels)  # each kernel then loads (or compiles) where it is first called
        for t in tasks:
            recs = _run_part(datas[t.data], algos[t.algo], seed, t)
            out[t.cell].extend(recs)
            bar.update(len(recs))
        return out
    # the one worker count: a pool never starts more workers than it has tasks (--runs 3
    # --jobs 8 starts 3 at most), and only those need memory
    workers = min(jobs, len(tasks))
    check_search_workers(workers, jobs)
    ctx = _context()
    if ctx.get_start_method() == "fork":
        # fork shares the parent's memory: the oracles go over as they are, with the
        # neighbour arrays built here once rather than once per worker, and so do the
        # compiled kernels of the batched searches (their modules only: a cold cache compiles
        # no other search's)
        _warm_neighbours(datas, algos, tasks)
        if kernels:
            from nb201_flat.search.compiled import load_kernels

            load_kernels(jobs, kernels)
        shipped: list[OracleData] | list[dict[str, Any]] = datas
    else:
        shipped = [_pack(d) for d in datas]
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(shipped, algos, seed),
    )
    with stopped_on_interrupt(pool) as ex:  # Ctrl-C: stop the workers, not after queued work
        # the first submit forks every worker: a stop signal handled in an at-fork hook was
        # dropped ("Exception ignored"), and the search ran on
        with stop_signals_held():
            futures = [ex.submit(_run_task, t) for t in tasks]
        for fut in futures:
            t, recs = fut.result()
            out[t.cell].extend(recs)
            bar.update(len(recs))
    return out


def _kernels_called(algos: list[SearchAlgorithm], tasks: list[_Task]) -> list[str]:
    """The kernel modules the batched tasks call, each once
    (:func:`~nb201_flat.search.compiled.kernel_modules`)."""
    from nb201_flat.search.compiled import kernel_modules

    batched = dict.fromkeys(t.algo for t in tasks if t.batched)
    return list(dict.fromkeys(m for a in batched for m in kernel_modules(algos[a])))


def _warm_neighbours(
    datas: list[OracleData], algos: list[SearchAlgorithm], tasks: list[_Task]
) -> None:
    """Build the neighbour arrays the tasks' NA objectives read (cached on the space)."""
    done: set[tuple[int, int]] = set()
    for t in tasks:
        obj = getattr(algos[t.algo], "objective", None)
        space = datas[t.data].space
        if not isinstance(obj, NeighbourObjective) or (id(space), id(obj)) in done:
            continue
        done.add((id(space), id(obj)))
        obj.arrays(space)


def _as_algorithms(
    algorithms: SearchAlgorithm
    | str
    | Sequence[SearchAlgorithm | str]
    | Mapping[str, SearchAlgorithm],
) -> tuple[list[str], list[SearchAlgorithm]]:
    if isinstance(algorithms, Mapping):
        labels, algos = [str(k) for k in algorithms], list(algorithms.values())
    else:
        # one algorithm, a class or a name is one item (a name was iterated as letters)
        one = isinstance(algorithms, SearchAlgorithm | str | type) or not isinstance(
            algorithms, Iterable
        )
        algos = [algorithms] if one else list(algorithms)  # type: ignore[list-item, arg-type]
        labels = []
    if not algos:
        raise AlgorithmError("no algorithm given")
    algos = [_algorithm(a) for a in algos]
    labels = labels or [a.label for a in algos]
    if len(set(labels)) != len(labels):
        raise AlgorithmError(f"algorithm labels must be unique, got {labels}; pass a mapping")
    return labels, algos


def _algorithm(a: object) -> SearchAlgorithm:
    """``a`` as a search algorithm: a CLI name (``"rs"``, ``"na-rs"``, ...) is built by
    :func:`~nb201_flat.search.algorithms.make_algorithm` with its defaults; a class is refused
    naming its instance (``RandomSearch()``), anything else naming what an algorithm needs."""
    if isinstance(a, str):
        return make_algorithm(a.lower())  # it names the algorithms on an unknown name
    if isinstance(a, type):
        raise AlgorithmError(
            f"{a.__name__} is a class, not a search algorithm; pass an instance: {a.__name__}()"
        )
    if not isinstance(a, SearchAlgorithm):
        raise AlgorithmError(
            f"{a!r} is not a search algorithm (needs name, label, search()); pass e.g. "
            f"RandomSearch() or a name: {', '.join(ALGORITHM_NAMES)}"
        )
    return a


#: the most runs one call may ask for: each run holds its record in memory until the end
MAX_RUNS = 1_000_000


#: the fewest runs where a confidence interval is printed: one run has no spread
MIN_RUNS_CI = 2


def check_runs(runs: Any, name: str = "runs", *, ci: bool = False) -> int:
    """``runs`` as an int in ``1..MAX_RUNS`` (``MIN_RUNS_CI..MAX_RUNS`` where a confidence
    interval is reported: ``ci=True``), else :class:`AlgorithmError` naming ``name`` (a
    command passes its flag, and calls this before any work). The one runs rule.

    Bounded before any allocation: past the bound, the OOM killer answers.
    """
    lo, n = (MIN_RUNS_CI if ci else 1), whole_number(runs)
    fix = "one search's records must fit in memory; published comparisons use 500"
    if n is not None and n < lo:  # the fix of the end it missed
        fix = "a confidence interval needs at least two runs" if ci else "pass at least one run"
    return check_int_range(name, runs, lo, MAX_RUNS, fix=fix)


#: the most points of an anytime-curve grid: each is a column of every run's incumbents
MAX_CURVE_POINTS = 10_001


def _check_run_args(
    runs: int, seed: int, jobs: int | None, curve_points: int
) -> tuple[int, int, int | None, int]:
    # the workers' memory is checked where the pool's size is known (_execute): --runs 1
    # --jobs 16 starts one worker
    if jobs is not None:
        jobs = check_int_range("jobs", jobs, 1, fix="pass jobs=1 to run in this process")
    # a grid 0 .. budget has both ends; 0 points gave no curves, -1 raised numpy's ValueError
    # and 10**8 points filled the memory
    points = check_int_range(
        "curve_points", curve_points, 2, MAX_CURVE_POINTS, fix="the default is 51"
    )
    return check_runs(runs), check_seed(seed), jobs, points


def _check_protocols(protocols: Sequence[object]) -> None:
    """Refuse what is not a :class:`Protocol` (a name such as ``"nb201"`` was iterated as
    letters and failed with a bare AttributeError)."""
    for p in protocols:
        check_protocol(p)


def run_search(
    table: Table,
    protocols: Protocol | Sequence[Protocol],
    algorithms: SearchAlgorithm
    | str
    | Sequence[SearchAlgorithm | str]
    | Mapping[str, SearchAlgorithm],
    *,
    runs: int,
    seed: int = 0,
    jobs: int | None = 1,
    progress: bool = False,
    curve_points: int = 51,
) -> SearchResults:
    """Run every algorithm under every protocol ``runs`` times.

    Parameters
    ----------
    table
        The benchmark; each protocol is checked against it first (clear error on what lacks).
    protocols, algorithms
        One or several; algorithms may be a mapping label -> algorithm, and an algorithm
        its CLI name (``"rs"``, ``"na-rs"``, ...: :func:`~.algorithms.make_algorithm` with
        its defaults).
    runs
        Runs per (protocol, algorithm) cell; run ``r`` is seeded by ``(seed, r)``.
    seed
        Master seed (a non-negative int).
    jobs
        Worker processes (1: in this process; ``None``: one per CPU, as many as fit in
        the memory left once the oracles are built).
    progress
        Show a tqdm progress bar over runs.
    curve_points
        Points of the anytime-curve grid (0 .. budget), 2 to :data:`MAX_CURVE_POINTS`.
    """
    # a name is one (wrong) item, not letters
    if not isinstance(protocols, Protocol | str | Iterable):  # tuple(3): a bare TypeError
        raise ProtocolError(
            (Param("protocols"), f" must be a Protocol or a list of them, got {shown(protocols)}")
        )
    prots = (protocols,) if isinstance(protocols, Protocol | str) else tuple(protocols)
    if not prots:
        raise ProtocolError("no protocol given")
    _check_protocols(prots)
    if len({p.name for p in prots}) != len(prots):
        raise ProtocolError(f"protocol names must be unique, got {[p.name for p in prots]}")
    labels, algos = _as_algorithms(algorithms)
    runs, seed, jobs, curve_points = _check_run_args(runs, seed, jobs, curve_points)
    cells = [(p, lab, a) for p in prots for lab, a in zip(labels, algos, strict=True)]
    return run_cells(
        table,
        cells,
        runs=runs,
        seed=seed,
        jobs=jobs,
        progress=progress,
        curve_points=curve_points,
    )


def run_cells(
    table: Table,
    cells: Sequence[tuple[Protocol, str, SearchAlgorithm]],
    *,
    runs: int,
    seed: int = 0,
    jobs: int | None = 1,
    progress: bool = False,
    curve_points: int = 51,
) -> SearchResults:
    """Run each (protocol, label, algorithm) cell ``runs`` times, all cells in one pool.

    As :func:`run_search`, for cells that are not a product of protocols and algorithms
    (e.g. the budget-matched controls, one protocol budget per control, under the original
    protocol names). The (protocol name, label) pairs must be unique; rows come in the order
    of ``cells``. Protocols are compared by identity: pass one object per protocol.
    """
    return run_cells_and_stalls(
        table,
        cells,
        runs=runs,
        seed=seed,
        jobs=jobs,
        progress=progress,
        curve_points=curve_points,
    )[0]


def run_cells_and_stalls(
    table: Table,
    cells: Sequence[tuple[Protocol, str, SearchAlgorithm]],
    *,
    runs: int,
    seed: int = 0,
    jobs: int | None = 1,
    progress: bool = False,
    curve_points: int = 51,
) -> tuple[SearchResults, list[str]]:
    """:func:`run_cells`, and the notes among its notes that speak of its runs (runs with no
    test value: :func:`_unreported_notes`; stalled: :func:`stalled_notes`; never past their
    selection: :func:`_unselected_notes`), for a caller that passes on those alone (the
    budget-matched controls)."""
    cells = check_cells(cells)
    if not cells:
        raise ProtocolError("no protocol given")
    _check_protocols([p for p, _, _ in cells])
    check_table(table)
    progress = check_flag("progress", progress)  # "no" drew the bar, None hid it
    keys = [(p.name, lab) for p, lab, _ in cells]
    if len(set(keys)) != len(keys):
        raise AlgorithmError(f"(protocol, label) pairs must be unique, got {keys}")
    runs, seed, jobs, curve_points = _check_run_args(runs, seed, jobs, curve_points)
    from nb201_flat.search import vectorised

    # a retraining table's copies of a cell are no neighbours of it (NA objectives)
    given, cells = cells, with_stand_ins(table, cells)
    notes: list[str] = [BUDGET_RULE]
    prots: list[Protocol] = []
    where: dict[int, int] = {}  # id(protocol) -> its index in prots
    algos: list[SearchAlgorithm] = []
    at: dict[int, int] = {}  # id(algorithm) -> its index in algos
    pairs: list[tuple[int, int]] = []
    for p, _, a in cells:
        if id(p) not in where:
            where[id(p)] = len(prots)
            prots.append(p)
        if id(a) not in at:
            at[id(a)] = len(algos)
            algos.append(a)
        pairs.append((where[id(p)], at[id(a)]))
    for a in algos:  # an NA objective's radius, against this space (1..n_edges)
        obj = getattr(a, "objective", None)
        if isinstance(obj, NeighbourObjective):
            table.space.check_radius(obj.radius, Param("radius"))  # a command: its flag
            if obj.stand_ins is not None:  # refused before any run, not by a worker
                obj.stand_ins.check_covers(table.space.size)
    datas = []
    for p in prots:
        for n in p.check(table):
            if n not in notes:
                notes.append(n)
        datas.append(p.oracle_data(table))
    notes += _copies_notes(given, cells)
    for (di, ai), (_, lab, _) in zip(pairs, cells, strict=True):  # before any run
        check_scores_affordable(prots[di], datas[di], algos[ai], lab)
        check_stage1_ends(prots[di], datas[di], algos[ai], lab)
        check_selection_reached(prots[di], datas[di], algos[ai], lab)
    evaluators = [p.evaluator(table) for p in prots]
    # RS, NA-RS, REA, LS where covered: all runs at once with the loop's streams, same
    # records (nb201_flat.search.vectorised, .lockstep and .replay); the loop for the rest
    batched = [vectorised.batched_ok(datas[d], algos[a]) for d, a in pairs]
    if jobs is None:  # sized now, with the table and the oracles in memory
        jobs = search_jobs_that_fit(usable_cores())  # the CPUs this process may run on
    tasks = _plan(pairs, batched, runs, jobs)
    total = runs * len(pairs)
    bar_cls = tqdm_class() if progress else NoBar
    with bar_cls(total=total, desc="search", unit="run") as bar:
        records = _execute(datas, algos, tasks, seed, jobs, bar)
    for recs in records.values():
        recs.sort(key=lambda rec: rec.run)
    blocks = [
        (prots[d], lab, algos[a], records[c], evaluators[d])
        for c, ((d, a), (_, lab, _)) in enumerate(zip(pairs, cells, strict=True))
    ]
    runs_df = _runs_frame(blocks)
    runs_df["seed"] = seed
    # worked out only where no run found anything: the radius require_reported names
    lower_radii = {
        (p.name, lab): r
        for (d, _), (p, lab, algo, recs, _) in zip(pairs, blocks, strict=True)
        if all(rec.best < 0 for rec in recs)
        and (r := lower_scoring_radius(algo, datas[d])) is not None
    }
    unreported = _unreported_notes(runs_df, runs)
    notes += unreported
    stalls = stalled_notes(((b[0].name, b[1], b[3]) for b in blocks), runs)
    stalls += _unselected_notes(blocks, runs)
    results = SearchResults(
        runs=runs_df,
        curves=_curves_frame(blocks, curve_points),
        note_parts=(*((n,) for n in notes), *stalls),
        protocols=tuple(prots),
        searches={(p.name, lab): a for p, lab, a in given},
        lower_radii=lower_radii,
    )
    return results, [*unreported, *(spelled(n) for n in stalls)]


#: the searches whose every result is an NA score (the best-evaluated control offers each
#: evaluation on its own, so it finds something on any budget)
_SCORED = (NARandomSearch, RegularizedEvolution, LocalSearch)


#: what sets an NA objective's radius (:class:`NeighbourObjective`'s own field)
_RADIUS = Param("radius")
#: what sets a search's radius, in a refusal: a parameter that takes the radius itself, or a
#: caller's rule giving the parameter, with its value, that sets a radius (the grid's: its base)
RadiusBy = Param | Callable[[int], Param]


def radius_named(by: RadiusBy, radius: int) -> Param:
    """The parameter, with its value, that sets a search's radius to ``radius`` (``by``)."""
    return Param(by.name, radius) if isinstance(by, Param) else by(radius)


def check_scores_affordable(
    protocol: Protocol,
    data: OracleData,
    algorithm: SearchAlgorithm,
    label: str,
    *,
    radius_by: RadiusBy | None = _RADIUS,
    leave_out: Param | None = None,
) -> None:
    """Refuse, before any run, an NA search with charged neighbours whose budget cannot pay
    for one cell and all its members (:meth:`NeighbourObjective.least_to_score`): no run could
    score a cell, so every run would find nothing, and the refusal that came after them all
    named the table.

    The refusal names the fixes the caller can apply: a larger budget where the protocol's
    parameter sets it (:meth:`Protocol.budget_param`); ``radius_by``, the parameter that sets
    the search's radius, with the largest smaller radius the budget affords (None: the caller
    sets none of its own, as the reproduce grid's every combination); ``leave_out``, a
    parameter (with its value) that leaves the charged search out, else free neighbours. The
    budget and radius named are those at which every run scores the first cell it draws
    (:func:`_every_run_scores`), not only the cheapest cell."""
    obj = getattr(algorithm, "objective", None)
    if not (isinstance(algorithm, _SCORED) and isinstance(obj, NeighbourObjective) and obj.charge):
        return
    short = _unaffordable_score(obj, data)
    if short is None:
        return
    least, have, in_seconds, what = short
    # the budget and radius named let every run score the first cell it draws, not only the
    # cheapest cell (at its 8.49-fold, radius 3 on NB201's times, no run found anything)
    share = algorithm.stage1_share if isinstance(algorithm, NARandomSearch) else 1.0
    queries, seconds, dearest = _every_run_scores(obj, data, share)
    param = protocol.budget_param(seconds=in_seconds)
    fix: list[Part] = []
    if param is not None and in_seconds:
        fold = math.ceil(seconds / have * 100) / 100  # rounded up: less leaves runs short
        # over the budget it has ("1.09-fold" read as --budget-scale 1.09 lowered a 3)
        fix += [f"raise the budget at least {fold:g}-fold, over its {seconds_text(have)} s"]
        if fold > math.ceil(least / have * 100) / 100:  # why not the cheapest cell's
            after = " after stage 1" if share < 1 else ""
            fix += [
                f", for every run to score a cell{after} (the dearest neighbourhood costs "
                f"{seconds_text(dearest)} s)"
            ]
        fix += [" (", param, ")"]
    elif param is not None:
        fix += ["raise the budget (", Param(param.name, queries), ")"]
    if radius_by is not None:
        fits = lower_scoring_radius(algorithm, data)
        if fits is not None:
            fix += [" or " if fix else "", "lower the radius (", radius_named(radius_by, fits), ")"]
    fix += [" or " if fix else ""]
    if leave_out is not None:
        fix += ["leave the search out (", leave_out, ")"]
    else:
        fix += ["look the neighbours up free (drop ", Param("charge", True), ")"]
    raise ProtocolError(
        f"{label} under {protocol.name}: with charged neighbours a run pays for a cell and "
        f"all its neighbours before it can score it, at least {what}, more than the budget "
        f"({have:,g}{' s' if in_seconds else ' queries'}), so no run could find anything",
        fix,
    )


def _unaffordable_score(
    objective: NeighbourObjective, data: OracleData
) -> tuple[float, float, bool, str] | None:
    """What a run of ``data`` must pay before it scores any cell with ``objective``'s charged
    neighbours, where its budget cannot: that need, the budget, whether both are seconds, and
    the need in words; None where the budget affords it (or no bound is known)."""
    timed = data.budget_seconds is not None
    least = objective.least_to_score(data.space, data.costs if timed else None)
    if least is None:
        return None
    queries, seconds = least
    if data.budget_queries is not None and queries > data.budget_queries:
        return float(queries), float(data.budget_queries), False, f"{queries} queries"
    # a little slack: the oracle sums the costs in another order
    if data.budget_seconds is not None and seconds > data.budget_seconds * (1 + 1e-9):
        return (
            seconds,
            data.budget_seconds,
            True,
            f"{seconds_text(seconds)} s of simulated training",
        )
    return None


def _every_run_scores(
    objective: NeighbourObjective, data: OracleData, share: float
) -> tuple[int, float, float]:
    """The budget at which every run of ``data`` scores the first cell it draws with
    ``objective``'s charged neighbours, as (queries, seconds; 0 without a time budget), and
    the seconds of the dearest cell with its members: a run pays for the cell and all its
    members before it scores it, and a refused query ends the run. ``share`` < 1: two-stage
    NA-RS, whose stage 1 uses that share of the budget (its last query may take it past) and
    whose stage 2 pays for the members of the cell it re-ranks first.

    Taken over every cell of the space (an upper bound where a run samples fewer); where the
    members are not cached on the space (a large radius) upper bounds too, as
    :meth:`NeighbourObjective.least_to_score`'s are lower ones: the widest row of the dearest
    cells."""
    from nb201_flat.landscape.aggregates import NeighbourRows

    costs = data.costs
    if data.budget_seconds is None or costs is None:
        costs = np.zeros(data.space.size)
    spec = objective.neighbourhood
    rows = NeighbourRows(data.space, spec.radius, spec.exact, spec.no_none, spec.connected_only)
    if rows.cached:
        nb = objective.arrays(data.space)
        queries = 1 + int(nb.counts.max())
        seconds = 0.0
        for start in range(0, data.space.size, 4096):  # bounded memory, as least_to_score
            idx = nb.indices[start : start + 4096]
            paid = costs[start : start + 4096] + np.where(idx >= 0, costs[idx], 0.0).sum(axis=1)
            seconds = max(seconds, float(paid.max()))
    else:  # distinct cells: no more than the dearest of them
        queries = 1 + rows.width
        seconds = float(np.partition(costs, costs.size - queries)[-queries:].sum())
    dearest = seconds
    if share < 1:
        members = queries - 1  # the cell's own value stage 1 paid
        queries = max(members, 1)
        while queries - _share_queries(queries, share) < members:
            queries += 1
        last = float(sampled_costs(costs, data.candidates).max())
        seconds = (seconds + last) / (1 - share)
    return queries, seconds, dearest


def lower_scoring_radius(algorithm: SearchAlgorithm, data: OracleData) -> int | None:
    """The largest radius below that of ``algorithm``'s charged neighbours at which every run
    of ``data`` scores the first cell it draws (:func:`_every_run_scores`): the smaller radius
    a refusal names, before the runs (:func:`check_scores_affordable`) or after none scored
    (:attr:`Shortfall.lower_radius`). None where no smaller radius does (at radius 5 of
    NB201's six edges a neighbourhood holds more cells than at 6), or for another search."""
    obj = getattr(algorithm, "objective", None)
    if not (isinstance(algorithm, _SCORED) and isinstance(obj, NeighbourObjective) and obj.charge):
        return None
    share = algorithm.stage1_share if isinstance(algorithm, NARandomSearch) else 1.0
    for r in range(obj.radius - 1, 0, -1):
        smaller = replace(obj, radius=r)  # type: ignore[call-arg]
        if _affords(data, *_every_run_scores(smaller, data, share)[:2]):
            return r
    return None


def _affords(data: OracleData, queries: int, seconds: float) -> bool:
    """Whether ``data``'s budgets hold ``queries`` and ``seconds`` (the oracle's slack)."""
    if data.budget_queries is not None and queries > data.budget_queries:
        return False
    return data.budget_seconds is None or seconds <= data.budget_seconds * (1 + 1e-9)


#: what sets two-stage NA-RS's stage 1 share (:class:`NARandomSearch`'s own field)
_STAGE1_FRACTION = Param("stage1_fraction")


def check_stage1_ends(
    protocol: Protocol,
    data: OracleData,
    algorithm: SearchAlgorithm,
    label: str,
    *,
    share_by: Param | None = _STAGE1_FRACTION,
    leave_out: Param | None = None,
) -> None:
    """Refuse, before any run, two-stage NA-RS with charged neighbours whose stage 1 cannot
    use its share of the budget (:attr:`NARandomSearch.stage1_share`): it pays each cell it
    samples once, so with every cell a run may sample paid and less than the share used it
    only revisits them until the stall guard ends the run, and a charged run ended in stage 1
    has found nothing (validation values there only rank the candidates).

    A stage 2 left less budget than a neighbourhood costs is not refused: stage 1's cells may
    include the re-ranked cell's members, which stage 2 reads from memory, so a run may score
    a cell all the same (the pay-for-one-neighbourhood bound is
    :func:`check_scores_affordable`'s); where no run did, the refusal after the runs names
    the stage 1 share (:func:`unreported_fix`).

    The refusal names the fixes the caller can apply: ``share_by``, the parameter that sets stage
    1's share (None: the caller sets none, as the reproduce grid); the protocol's budget
    (:meth:`Protocol.budget_param`); ``leave_out``, a parameter (with its value) that leaves the
    two-stage search out, where the caller has one."""
    if not isinstance(algorithm, NARandomSearch) or algorithm.stage1_share >= 1.0:
        return
    share, cells = algorithm.stage1_share, data.domain_size
    seconds = 0.0 if data.costs is None else float(data.costs[data.domain].sum())
    # the most stage 1 can use; a little slack: the oracle sums the costs in another order
    most = used_fraction(seconds * (1 + 1e-9), cells, data.budget_seconds, data.budget_queries)
    if most >= share:
        return
    cost = f" ({seconds_text(seconds)} s of training)" if data.budget_seconds is not None else ""
    fix: list[Part] = []
    fits = math.floor(most * 100) / 100
    if fits > 0 and share_by is not None:
        fix += ["give stage 1 a share it can use (", Param(share_by.name, fits), ")"]
    smaller: list[Part] = []
    param = protocol.budget_param(seconds=data.budget_queries is None)
    if param is not None and data.budget_queries is not None:
        smaller = ["a smaller budget (", Param(param.name, math.floor(cells / share)), ")"]
    elif param is not None and param.name == "budget_seconds":
        smaller = [f"a time budget of at most {seconds_text(seconds / share)} s (", param, ")"]
    elif param is not None:
        # a multiplier of the budget (budget_scale): seconds are not what it takes; rounded
        # up, as check_scores_affordable's fold: a smaller one would still fall short
        fold = math.ceil(share / most * 100) / 100
        smaller = [f"a time budget at least {fold:g}-fold smaller (", param, ")"]
    if smaller:
        fix += [" or ", *smaller] if fix else ["give the runs ", *smaller]
    if leave_out is not None:
        fix += [" or " if fix else "", "leave out the two-stage search (", leave_out, ")"]
    if not fix:
        fix = ["look the neighbours up free (drop ", Param("charge", True), ")"]
    shown = f"{most:.3g}"
    for digits in range(4, 18):  # never rounded up to the share itself (0.49998 as 0.5)
        if float(shown) < share:
            break
        shown = f"{most:.{digits}g}"
    raise ProtocolError(
        f"{label} under {protocol.name}: with charged neighbours stage 1 pays new cells until "
        f"it has used {share:g} of the budget, but all {cells:,} cells a run may sample{cost} "
        f"are {shown} of it, so stage 1 never ends (its runs stall) and no run could find "
        "anything",
        fix,
    )


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A row of results with too few runs holding a reported value (:meth:`SearchResults.
    require_reported`: none; the reproduce grid: fewer than a confidence interval needs): a
    search's cell on a reported key, or a comparison of two (``runs`` and ``found`` None)."""

    protocol: str
    what: str  # the search and reported key, or the comparison
    have: int  # runs with a value (a comparison: paired runs, both sides with one)
    runs: int | None  # runs of the search (None: a comparison)
    found: int | None = None  # runs that picked a cell (None: a comparison)
    algorithm: SearchAlgorithm | None = None  # the search (None: a comparison, or not known)
    # a charged search's largest smaller radius at which every run scores (lower_scoring_radius;
    # None: none does, or it was not worked out)
    lower_radius: int | None = None

    @property
    def found_nothing(self) -> bool:
        """Some of its runs picked no cell (a search's row)."""
        return self.found is not None and self.runs is not None and self.found < self.runs

    @property
    def unmeasured(self) -> bool:
        """Some of its runs' picks have no value on the reported key (a sparse table; a
        comparison: its sides' values lie in different runs)."""
        return self.found is None or self.found > self.have

    @property
    def charged(self) -> bool:
        """Its search is an NA search with charged neighbours."""
        obj = getattr(self.algorithm, "objective", None)
        return isinstance(obj, NeighbourObjective) and obj.charge

    @property
    def scoreless(self) -> bool:
        """No run of its charged NA search scored a cell: its budget scores none, or nearly
        (two-stage NA-RS: stage 2's share completed no neighbourhood of the cells it re-ranked,
        or the runs ended in stage 1), so neither more runs nor a denser table would serve it."""
        return self.found == 0 and self.charged


#: the fix that drops an NA search's charged neighbours (its objective's own field)
_FREE_NEIGHBOURS: tuple[Part, ...] = (
    "look the neighbours up free (drop ",
    Param("charge", True),
    ")",
)


def unreported_fix(
    short: Sequence[Shortfall],
    protocols: Iterable[Protocol],
    *,
    whom: str = "the search",
    runs: Param | None = None,
    radius_by: RadiusBy | None = _RADIUS,
    share_by: Param | None = _STAGE1_FRACTION,
    charged_out: Sequence[Part] = _FREE_NEIGHBOURS,
    others: Sequence[Sequence[Part]] = (),
) -> tuple[str, list[Part]]:
    """Why the rows ``short`` have too few runs with a value, in words, and what could serve
    them, as message parts: the one decision of the search's refusal
    (:meth:`SearchResults.require_reported`) and the reproduce grid's, each naming its own
    parameters.

    A pick without a value on the reported key (:attr:`Shortfall.unmeasured`) asks for a
    denser table or report key, as does a search without charged neighbours that found
    nothing (a sparse search vector hid the cells); ``whom`` is offered a larger budget where
    a parameter of ``protocols`` (the rows') sets it, and more runs (``runs``, where the
    caller has them) unless every row is :attr:`~Shortfall.scoreless`. A scoreless search's
    neighbourhoods must cost less or its budget be larger: a smaller radius (``radius_by``,
    the parameter that sets it; None: the caller sets none), the one at which every run of
    every such row scores (:attr:`Shortfall.lower_radius`, where the rows have one and the
    same: at NB201's radius 6, radius 5's neighbourhoods are the larger), for two-stage NA-RS
    a larger share for stage 2 (``share_by``, the parameter that sets stage 1's), and
    ``charged_out``, the fix that leaves the charged neighbours out (empty: the caller has
    none). ``others``: the caller's own fixes, last."""
    protocols = list(protocols)
    budgets: list[Param] = []
    for p in protocols:
        param = p.budget_param(seconds=p.budget_seconds is not None)
        if param is not None and param not in budgets:
            budgets.append(param)
    scoreless = [s.algorithm for s in short if s.scoreless]
    fixes: list[Sequence[Part]] = []
    if any(s.unmeasured or (s.found_nothing and not s.charged) for s in short):
        fixes.append(("use a denser table or report key (see ", Call("Table.info"), ")"))
    timed = any(p.budget_seconds is not None for p in protocols)
    give: list[Part] = []
    if budgets:
        give = ["a larger budget" if timed else "more queries", " (", *joined(budgets), ")"]
    if runs is not None and len(scoreless) < len(short):
        give += [" or " if give else "", "more runs (", runs, ")"]
    if give:
        fixes.append((f"give {whom} ", *give))
    # a smaller radius only where its runs would score: radius 5 of 6 costs more than 6 does
    radii = {s.lower_radius for s in short if s.scoreless}
    lower = radii.pop() if len(radii) == 1 else None
    if radius_by is not None and lower is not None:
        fixes.append(("lower the radius (", radius_named(radius_by, lower), ")"))
    two_stage = any(isinstance(a, NARandomSearch) and a.stage1_share < 1 for a in scoreless)
    if share_by is not None and two_stage:
        # its runs ended in stage 1, or stage 2's share completed no neighbourhood
        fixes.append(("leave stage 2 more of the budget (lower ", share_by, ")"))
    if scoreless and charged_out:
        fixes.append(charged_out)
    fixes += others
    if not fixes:  # no run with a value, none offered above: what the table holds
        fixes.append(("use a denser table or report key (see ", Call("Table.info"), ")"))
    causes = []
    if any(s.unmeasured for s in short):
        causes.append("their picks were never measured there")
    if any(s.found_nothing for s in short):
        causes.append("they found nothing")
    fix: list[Part] = []
    for k, part in enumerate(fixes):
        fix += [", or " if k and k == len(fixes) - 1 else ", " if k else "", *part]
    return ", or ".join(causes), fix


def most_charged(data: OracleData, share: float = 1.0) -> tuple[float, float, str]:
    """The most charged queries a run of ``data`` can make of the cells it samples while it has
    used less than ``share`` of its budget (1: all of it), every one at the cheapest of them:
    an upper bound, with that cheapest cost (0: a query budget sets the bound) and how the
    bound arises, for a message. inf where a cell a run may sample costs nothing under a time
    budget alone (no number of them spends it)."""
    most, cheapest, why = math.inf, 0.0, ""
    of = "" if share >= 1 else f"{share:g} of "
    b = data.budget_queries
    if b is not None:
        most, why = float(_share_queries(b, share)), f"{of}a budget of {b} queries"
    if data.budget_seconds is not None and data.costs is not None:
        c = float(sampled_costs(data.costs, data.candidates).min())
        if c > 0:
            # a little slack: the oracle sums the costs in another order
            have = data.budget_seconds * (1 + 1e-9)
            n = math.floor(have / c)
            if share < 1:  # its last query starts below the share and may end past it
                n = min(n, math.floor(share * have / c) + 1)
            if n < most:
                most, cheapest = float(n), c
                why = f"{of}{data.budget_seconds:g} s, the cheapest query {c:.4g} s"
    return most, cheapest, why


def _share_queries(budget: int, share: float) -> int:
    """The queries a run makes under a query ``budget`` until it has used ``share`` of it
    (stage 1 goes on while it has used less, as the oracle's floats say): all of them at 1."""
    if share >= 1:
        return budget
    n = math.ceil(share * budget)
    while n > 0 and (n - 1) / budget >= share:
        n -= 1
    while n / budget < share:
        n += 1
    return n


#: the chance, per run, that a size or budget a refusal names leaves the run short of what it
#: promises (a selection it does not get past): what :func:`_sure_count` and
#: :func:`_sure_seconds` bound
_MISS = 1e-6


def _cost_tilts(costs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Chernoff's bound of a sum of costs drawn from ``costs`` (uniformly; with or without
    replacement, Hoeffding 1963, sec. 6): a grid of ``lam`` > 0 and ``log E exp(lam c)`` at
    each, so that ``P(sum of n draws >= t) <= exp(n K - lam t)`` at every ``lam`` of it."""
    top = float(costs.max())
    lam = np.geomspace(1e-3, 1e3, 512) / float(costs.mean())
    step = max(1, (1 << 22) // costs.size)  # a few lambdas at a time: bounded memory
    logs = [
        np.log(np.exp(np.outer(lam[i : i + step], costs - top)).mean(axis=1))
        for i in range(0, lam.size, step)
    ]
    return lam, lam * top + np.concatenate(logs)  # shifted by the dearest: no overflow


def _sure_count(costs: FloatArray, seconds: float) -> int:
    """The most draws from ``costs`` (:func:`_cost_tilts`) whose sum stays below ``seconds``
    but with a chance of at most :data:`_MISS`."""
    lam, k = _cost_tilts(costs)
    return max(0, int(np.floor(np.max((lam * seconds - math.log(1 / _MISS)) / k))))


def _sure_seconds(costs: FloatArray, n: int) -> float:
    """The seconds that ``n`` draws from ``costs`` (:func:`_cost_tilts`) exceed with a chance
    of at most :data:`_MISS`."""
    lam, k = _cost_tilts(costs)
    return float(np.min((n * k + math.log(1 / _MISS)) / lam))


def _passed_by_every_run(data: OracleData, share: float, last: float) -> tuple[int, bool]:
    """The largest selection every run of ``data`` gets past: it pays for that many queries
    while it has used less than ``share`` of its budget, and has budget left for the one after
    (at most ``last`` seconds). Under a time budget the costs a run draws decide it, so it is
    a bound that fails a run with a chance of at most :data:`_MISS` (:func:`_sure_count`), and
    whether that bound is the binding one (True: a number "about" that many) comes with it."""
    most, timed = math.inf, False
    if data.budget_queries is not None:  # the (n + 1)-th query comes while n is below the share
        most = float(_share_queries(data.budget_queries, share) - 1)
    if data.budget_seconds is not None and data.costs is not None:
        costs = sampled_costs(data.costs, data.candidates)
        if costs.max() > 0:
            b = data.budget_seconds
            n = _sure_count(costs, min(share * b, b - last))
            if n < most:
                most, timed = float(n), True
    return int(min(most, 2**62)), timed


def _selects(algorithm: SearchAlgorithm) -> tuple[int, float] | None:
    """What a search must get past before it selects anything, and in what share of the
    budget: REA's population (its first draws, before any mutation) or two-stage NA-RS's
    top-k (of stage 1's cells, which it re-ranks); None for the other searches."""
    if isinstance(algorithm, RegularizedEvolution):
        return algorithm.population, 1.0
    if isinstance(algorithm, NARandomSearch) and algorithm.rerank_top_k is not None:
        return algorithm.rerank_top_k, algorithm.stage1_share
    return None


def check_selection_reached(
    protocol: Protocol,
    data: OracleData,
    algorithm: SearchAlgorithm,
    label: str,
    *,
    own: bool = True,
    size_by: Param | None = None,
    leave_out: Param | None = None,
) -> None:
    """Refuse, before any run, a selection that no run could get past (:func:`most_charged`).

    REA pays each of its ``population`` first draws: where they take every query a run can
    make, no run mutates a cell, and it is random search under REA's label (mutation and
    sample size change nothing). Certain only for plain REA under ``repeats="charge"``: a
    memory (NA-REA) or a cache fills a population with free revisits as well, and
    :func:`_unselected_notes` counts the runs of any REA that never scored a child after the
    fact. Two-stage NA-RS re-ranks its ``rerank_top_k`` best stage-1 cells: where stage 1 can
    pay for no more (each cell once; no more than the cells it samples), every run re-ranks
    all it paid for, with free neighbours one-stage NA-RS's very runs.

    The refusal names the algorithm's own field with a size that would do (``own``; the
    reproduce grid sets none), with REA's sample size where that size is below it (a
    tournament draws from the population: a population alone below it is refused), else
    ``size_by``, the caller's parameter that sets the size (the grid's ``rerank_top_k``), the
    protocol's budget (:meth:`Protocol.budget_param`) where more of it would do, and
    ``leave_out``, a parameter (with its value) that leaves the search out, where the caller
    has one. The size and budget named are those every run gets past,
    under a time budget but with a chance of :data:`_MISS` (:func:`_passed_by_every_run`): the
    cheapest queries' bound refused says nothing of what runs pay."""
    selects = _selects(algorithm)
    if selects is None:
        return
    size, share = selects
    rea = isinstance(algorithm, RegularizedEvolution)
    if isinstance(algorithm, RegularizedEvolution) and (
        algorithm.objective is not None or data.repeats != "charge"
    ):
        return  # revisits are free there: a run may fill its population without paying
    most, cheapest, why = most_charged(data, share)
    reached = most if rea else min(most, float(data.domain_size))
    if size < reached:
        return
    obj = getattr(algorithm, "objective", None)
    free = isinstance(obj, NeighbourObjective) and not obj.charge
    if rea:
        problem = (
            f"{label} under {protocol.name}: a run makes at most {most:,.0f} charged queries "
            f"({why}), and its population of {size} takes {size} of them before the first "
            "mutation, so no run would ever mutate a cell: it is random search under REA's "
            "label (its mutation and sample size change nothing)"
        )
    else:
        domain = f"; it samples {data.domain_size:,} cells" if reached < most else ""
        problem = (
            f"{label} under {protocol.name}: stage 1 pays for at most {reached:,.0f} cells "
            f"({why}{domain}), no more than its top {size}, so every run re-ranks all the cells "
            "it paid for"
            + (": one-stage NA-RS's very runs" if free else ": the validation ranking selects none")
        )
    # the sizes and budgets named are those every run gets past, not the cheapest queries'
    # bound above: runs pay what they draw (rea(p367) on 12,000 s of NB201's times, at most
    # 368 queries, made about 108 and never mutated)
    costs, last = None, 0.0
    if data.costs is not None:
        costs = sampled_costs(data.costs, data.candidates)
        # the query after the selection: REA's child may be any cell, stage 1's next one it
        # samples
        last = float((data.costs if rea else costs).max())
    sure, timed = _passed_by_every_run(data, share, last)
    if not rea and sure >= data.domain_size:  # stage 1 pays each cell once
        sure, timed = data.domain_size - 1, False
    about = ""
    if timed and costs is not None:
        about = f" to at most about {sure}, as runs pay {costs.mean():.4g} s a query on average"
    fix: list[Part] = []
    field = "population" if rea else "rerank_top_k"
    what = "population" if rea else "top-k"
    if own and isinstance(algorithm, RegularizedEvolution) and 0 < sure < algorithm.sample_size:
        # the tournament draws from the population: a population below it is refused alone
        sizes = joined([Param(field, sure), Param("sample_size", sure)], " and ")
        fix += [f"lower the {what}{about}, and the sample size with it (", *sizes, ")"]
    elif own and sure > 0:
        fix += [f"lower the {what}{about} (", Param(field, sure), ")"]
    elif size_by is not None and sure > 0:
        fix += [f"lower the {what}{about or f' below {sure + 1}'} (", size_by, ")"]
    seconds = data.budget_seconds if cheapest > 0 else None  # the time budget binds
    param = protocol.budget_param(seconds=seconds is not None)
    # more budget where it binds, not the cells a run samples (a top-k of them all or more)
    if param is not None and reached == most and (rea or size < data.domain_size):
        if seconds is not None and costs is not None:
            # the selection's queries paid below the share, with budget left for the next one,
            # in every run but with a chance of _MISS
            paid = _sure_seconds(costs, size)
            need = max(paid + last, paid / share)
            fold = math.ceil(need / seconds * 100) / 100  # rounded up: less would fall short
            more: list[Part] = [
                f"raise the budget at least {fold:g}-fold, over its {seconds_text(seconds)} s (",
                param,
                ")",
            ]
        else:
            queries = math.floor(size / share) if share < 1 else size
            while _share_queries(queries, share) <= size:
                queries += 1
            more = ["raise the budget (", Param(param.name, queries), ")"]
        fix += [" or " if fix else "", *more]
    if own:
        other = (
            ("run random search (", Param("name", "rs"), ")") if rea else ("drop ", Param(field))
        )
        fix += [" or " if fix else "", *other]
    if leave_out is not None:
        fix += [" or " if fix else "", "leave the search out (", leave_out, ")"]
    raise ProtocolError(problem, fix)


def _unselected_notes(blocks: Sequence[_Block], runs: int) -> list[tuple[Part, ...]]:
    """A note per cell where some runs never got past their selection
    (:func:`check_selection_reached` refuses a cell where none could), counted from the records
    (:attr:`RunRecord.children`, :attr:`RunRecord.ranked`): REA's runs (plain or NA, charged
    or cached repeats) that spent their budget before they scored a mutated child (the base
    search's runs); two-stage NA-RS's runs that found a cell although stage 1 handed stage 2
    no more cells than its top-k (stage 2 re-ranked them all: with free neighbours one-stage
    NA-RS's runs); and, with charged neighbours, its runs that ended in stage 1 (ranked 0:
    stage 2 never began, so they found nothing, which a smaller top-k cannot change)."""
    notes: list[tuple[Part, ...]] = []
    for protocol, label, algo, recs, _ in blocks:
        selects = _selects(algo)
        if selects is None:
            continue
        size = selects[0]
        obj = getattr(algo, "objective", None)
        param = protocol.budget_param(seconds=protocol.budget_seconds is not None)
        budget: tuple[Part, ...] = (" or raise the budget (", param, ")") if param else ()
        if isinstance(algo, RegularizedEvolution):
            short = sum(r.children == 0 for r in recs)
            base = "random search" if obj is None else "NA-RS"
            what = (
                f"spent their budget before they scored a child of their population of {size}, "
                f"so they never mutated a cell ({base}'s runs)"
            )
            sized_by = Param("population")
        else:
            # in the mean (a cell found); a charged run that ended in stage 1 ranked none
            short = sum(0 < r.ranked <= size and r.best >= 0 for r in recs)
            if isinstance(obj, NeighbourObjective) and obj.charge:
                what = (
                    f"handed stage 2 no more than {size} cells from stage 1, so their "
                    "validation ranking left none out (stage 2 re-ranked all it was handed)"
                )
                ended = sum(r.ranked == 0 for r in recs)
                if ended:
                    notes.append(
                        (
                            f"{protocol.name} {label}: {ended} of {runs} runs ended in stage 1 "
                            "(the budget ran out, or the run stalled, before stage 1 had used "
                            f"its {selects[1]:g} of it), so stage 2 never began and they found "
                            "nothing; lower ",
                            _STAGE1_FRACTION,
                            *budget,
                        )
                    )
            else:
                what = (
                    f"paid for no more than {size} cells in stage 1 and re-ranked them all "
                    "(one-stage NA-RS's runs)"
                )
            sized_by = Param("rerank_top_k")
        if short:
            notes.append(
                (
                    f"{protocol.name} {label}: {short} of {runs} runs {what}; the mean "
                    "includes them; lower ",
                    sized_by,
                    *budget,
                )
            )
    return notes


def _copies_notes(
    given: Sequence[tuple[Protocol, str, SearchAlgorithm]],
    cells: Sequence[tuple[Protocol, str, SearchAlgorithm]],
) -> list[str]:
    """A note per protocol whose NA searches :func:`with_stand_ins` changed: what they did
    with the table's isomorphic copies."""
    notes: dict[str, str] = {}
    for (p, _, before), (_, _, after) in zip(given, cells, strict=True):
        if after is not before and p.name not in notes:
            copies = after.objective.stand_ins.n_copies  # type: ignore[attr-defined]
            notes[p.name] = (
                f"{p.name}: {copies} cells of {p.search.dataset} at {p.search.epochs} epochs "
                "are isomorphic copies of a trained cell (stand-ins, not trained); the NA "
                "objective leaves a cell's own copies out of its neighbourhood: a copy is no "
                "neighbour measurement"
            )
    return list(notes.values())


def _unreported_notes(runs_df: pd.DataFrame, runs: int) -> list[str]:
    """A note per cell and reported key where some runs have no test value (their pick was
    never measured on it, or they found nothing): the summary's mean covers the others."""
    keys = ["protocol", "algorithm", *KEY_COLUMNS]
    missing = runs_df[runs_df["test"].isna()].groupby(keys, sort=False).size().reset_index()
    return [
        f"{prot} {algo}: {k} of {runs} runs have no {MetricKey(*key)} value (their pick was "
        "never measured there, or they found nothing); "
        + (f"its mean covers the other {runs - k}" if k < runs else "it has no mean")
        for prot, algo, *key, k in missing.itertuples(index=False, name=None)
    ]


def stalled_notes(
    cells: Iterable[tuple[str, str, Sequence[StallRecord]]], runs: int
) -> list[tuple[Part, ...]]:
    """A note per cell where runs stalled: they ended with budget unspent, and the summary's
    mean averages them in with the others; the note names the fix for each kind of idle step
    the stalled runs' guards saw (their :attr:`~StallRecord.stall_kinds`, joined), never one
    for a cause that did not occur. ``cells``: each cell's protocol name, label and records
    (:class:`RunRecord`, or a multi-fidelity run's
    :class:`~nb201_flat.search.fidelity.FidelityRecord`). Each note as message parts: its
    fixes name parameters (:func:`~nb201_flat.search.oracle.stall_fixes`)."""
    notes: list[tuple[Part, ...]] = []
    for prot, algo, recs in cells:
        stalled = [r.stall_kinds for r in recs if r.stall_kinds]
        if stalled:
            notes.append(
                (
                    f"{prot} {algo}: {len(stalled)} of {runs} runs stalled: ended with budget "
                    "unspent (the search stopped spending it), with what they had found; the "
                    "mean includes them; ",
                    *stall_fixes(functools.reduce(operator.or_, stalled)),
                )
            )
    return notes


#: one cell's records with what its frames need: protocol, label, algorithm, records, evaluator
_Block = tuple[Protocol, str, SearchAlgorithm, list[RunRecord], Any]


def typed_frame(rows: Sequence[Mapping[str, object]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """``rows`` as a frame of ``dtypes``' columns, in that order and in those dtypes, also
    with no rows (a frame built from no rows held its columns as objects, where one built
    from rows held floats and ints).

    ``"str"`` is pandas' string dtype, whose missing value is NaN; before pandas 3 it names
    numpy's, which writes a missing text as the text ``"None"``: there such columns stay
    objects (as the runs frame's are), a missing text missing."""
    if not _STR_IS_PANDAS:
        dtypes = {c: ("object" if d == "str" else d) for c, d in dtypes.items()}
    return pd.DataFrame(list(rows), columns=list(dtypes)).astype(dict(dtypes))


# pandas >= 3: "str" is its own string dtype (a missing value stays missing)
_STR_IS_PANDAS = int(pd.__version__.split(".")[0]) >= 3


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """One frame from the blocks' column pieces (a concat of per-block frames, built once)."""
    return pd.DataFrame({k: np.concatenate(v) if v else [] for k, v in columns.items()})


def _repeat(value: str | int, n: int) -> npt.NDArray[Any]:
    """``value`` ``n`` times: text as objects, a key's epochs as int64."""
    return np.full(n, value, dtype=object if isinstance(value, str) else np.int64)


def _runs_frame(blocks: Sequence[_Block]) -> pd.DataFrame:
    """One row per (cell, reported dataset, run), in the order of ``blocks``."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "protocol",
            "algorithm",
            "algo",
            "run",
            *KEY_COLUMNS,
            "test",
            "best",
            "score",
            "queries",
            "seconds",
            "free_queries",
            "evaluations",
            "free_seconds",
            "total_seconds",
            "optimistic",
            "stalled",
        )
    }
    for protocol, label, algo, recs, evaluator in blocks:
        n = len(recs)
        best = np.fromiter((r.best for r in recs), dtype=np.int64, count=n)
        tests = evaluator.values(best)
        per_run: dict[str, npt.NDArray[Any]] = {
            "run": np.fromiter((r.run for r in recs), dtype=np.int64, count=n),
            # a run that found nothing has no score (its incumbent's -inf was written as one)
            "score": np.where(
                best >= 0, np.fromiter((r.score for r in recs), dtype=np.float64, count=n), np.nan
            ),
            "queries": np.fromiter((r.queries for r in recs), dtype=np.int64, count=n),
            "seconds": np.fromiter((r.seconds for r in recs), dtype=np.float64, count=n),
            "free_queries": np.fromiter((r.free_queries for r in recs), dtype=np.int64, count=n),
            "free_seconds": np.fromiter((r.free_seconds for r in recs), dtype=np.float64, count=n),
            "stalled": np.fromiter((r.stalled for r in recs), dtype=bool, count=n),
        }
        # every evaluation, charged or not, so no comparison hides a difference
        per_run["evaluations"] = per_run["queries"] + per_run["free_queries"]
        per_run["total_seconds"] = per_run["seconds"] + per_run["free_seconds"]
        for k, key in enumerate(evaluator.keys):
            cols["protocol"].append(_repeat(protocol.name, n))
            cols["algorithm"].append(_repeat(label, n))
            cols["algo"].append(_repeat(algo.name, n))
            for name in KEY_COLUMNS:
                cols[name].append(_repeat(getattr(key, name), n))
            cols["test"].append(tests[k])
            cols["best"].append(best)
            cols["optimistic"].append(np.full(n, bool(protocol.optimistic)))
            for name, arr in per_run.items():
                cols[name].append(arr)
    df = _frame(cols)
    best_col = pd.array(df["best"].to_numpy(), dtype="Int64")
    best_col[df["best"].to_numpy() < 0] = pd.NA  # nullable: a run that never got a value
    df["best"] = best_col
    return df


def _incumbents(recs: list[RunRecord], col: int, grid: FloatArray) -> IntArray:
    """The incumbent of each run at each grid point (-1 before the first): the last change
    at or before the point, found as the span of grid points each change holds."""
    n, g = len(recs), grid.size
    inc = np.full((n, g), -1, dtype=np.int64)
    lens = np.fromiter((len(r.changes) for r in recs), dtype=np.int64, count=n)
    m = int(lens.sum())
    if m == 0:
        return inc
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(r.changes for r in recs)),
        dtype=np.float64,
        count=3 * m,
    ).reshape(m, 3)
    t = flat[:, col]
    idx = flat[:, 2].astype(np.int64)
    rid = np.repeat(np.arange(n), lens)
    last = np.cumsum(lens) - 1  # each run's last change holds to the end of the grid
    lo = np.searchsorted(grid, t, side="left")  # first point with t <= x
    hi = np.empty(m, dtype=np.int64)
    hi[:-1] = np.searchsorted(grid, t[1:], side="left")  # first point the next change holds
    hi[last[lens > 0]] = g
    span = np.maximum(hi - lo, 0)
    start = rid * g + lo
    offset = np.cumsum(span) - span
    pos = np.repeat(start - offset, span) + np.arange(int(span.sum()))
    inc.ravel()[pos] = np.repeat(idx, span)
    return inc


def _curves_frame(blocks: Sequence[_Block], points: int) -> pd.DataFrame:
    """Anytime curves of every block: mean/std/n over runs at each grid point, per dataset."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "protocol",
            "optimistic",
            "algorithm",
            *KEY_COLUMNS,
            "x_unit",
            "x",
            "mean",
            "std",
            "n",
        )
    }
    for protocol, label, _, recs, evaluator in blocks:
        if protocol.budget_seconds is not None:
            unit, col = "seconds", 0
            grid = np.linspace(0.0, protocol.budget_seconds, points)
        else:
            unit, col = "queries", 1
            grid = np.unique(np.linspace(0, float(protocol.budget_queries or 0), points).round())
        inc = _incumbents(recs, col, grid)
        vals = evaluator.values(inc.ravel()).reshape(len(evaluator.keys), len(recs), grid.size)
        for k, key in enumerate(evaluator.keys):
            v = vals[k]
            n = (~np.isnan(v)).sum(axis=0)
            with np.errstate(all="ignore"):
                mean = np.where(n > 0, np.nansum(v, axis=0) / np.maximum(n, 1), np.nan)
                dev = np.where(np.isnan(v), 0.0, v - mean[None, :])
                std = np.where(n > 1, np.sqrt((dev**2).sum(axis=0) / np.maximum(n - 1, 1)), np.nan)
            size = grid.size
            cols["protocol"].append(_repeat(protocol.name, size))
            cols["optimistic"].append(np.full(size, protocol.optimistic))
            cols["algorithm"].append(_repeat(label, size))
            for name in KEY_COLUMNS:
                cols[name].append(_repeat(getattr(key, name), size))
            cols["x_unit"].append(_repeat(unit, size))
            cols["x"].append(grid)
            cols["mean"].append(mean)
            cols["std"].append(std)
            cols["n"].append(n)
    return _frame(cols)
