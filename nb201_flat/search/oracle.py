"""The budgeted oracle a search queries, and the evaluator that reads test metrics afterwards.

A search sees the benchmark only through an :class:`Oracle`: the *validation* metric of the
search dataset at one schedule, under one seed policy, charged at the simulated training time
of that schedule. The oracle holds exactly two kinds of arrays, the validation values (one row
per stored seed, or one row) and the cost vector; it holds no table and no test vector, and any
attribute outside its public surface raises :class:`~nb201_flat.errors.SearchBudgetError`.
Test metrics live in an :class:`Evaluator`, which the runner applies to the incumbent only after
``search()`` has returned (and which never travels to worker processes).

Budget rule (NB201's ``R_EA.py``: ``if total_time_cost + time_cost > time_budget: return``):
a charged query whose cost would take the simulated time (or the query count) past the budget
is *refused*: it is not counted, its value is not revealed, and no further charged query is
answered (:class:`BudgetExhausted`). So the counted seconds never exceed the budget. Later
NATS-Bench scripts count the crossing query; the difference is at most one query per run.

Repeated queries of one architecture (``repeats``): ``"charge"`` (default, as NB201's random
search and REA, which re-sample with replacement and re-train) charges again and, under the
``"random"`` seed policy, draws a fresh seed; ``"cache"`` returns the first answer at no cost.
Free (uncharged) look-ups, used by neighbourhood-aware searches when neighbour queries are not
charged, are counted separately and stay available after the budget is spent.

Stall rule: a run whose queries stop spending budget (cached repeats, or cells that cost 0 s
under a time budget) would never end; after :func:`stall_limit` such queries in a row it ends
(:class:`SearchStalled`, taken by the runner as the end of the run), as an NA memory's
revisits do (:class:`StallGuard`, one rule for both and for the compiled kernels; which
steps count is said there). Such a run is recorded as stalled (:attr:`Oracle.stalled`,
``RunRecord.stalled``, the ``stalled`` column of the runs and the summary, and a note per cell
naming how many and the fix), never averaged in unmarked.

Writing a search algorithm: the oracle protocol
-----------------------------------------------
A search algorithm is any object with ``name``, ``label`` and
``search(oracle, rng, incumbent)`` (:class:`~nb201_flat.search.algorithms.SearchAlgorithm`);
:func:`~nb201_flat.search.runner.run_search` gives it a fresh :class:`Oracle` per run and
reads ``incumbent.index`` when ``search`` returns or raises :class:`SearchEnded`.

What a search may ask, and what it costs:

==========================  ===================================================================
``oracle.sample(rng)``      an index from the protocol's sampling domain -- free
``oracle.query(i)``         the validation value of ``i`` (the protocol's seed policy) -- one
                            query and ``costs[i]`` simulated seconds; refused (uncounted, and
                            the search is over) when it would exceed the budget
``oracle.query_free(idx)``  validation values without charge -- counted as free look-ups; the
                            protocol (NA searches' ``charge=False``) decides whether a fair
                            comparison allows them
``oracle.space``            structure only: op codes, neighbour arrays, Hamming distances
counters                    ``queries``, ``seconds``, ``free_queries``, ``used_fraction``,
                            ``exhausted``, ``budget_seconds``, ``budget_queries``
``incumbent.offer(i, v)``   propose ``i`` as the answer (the best validation value wins)
==========================  ===================================================================

What it may never see: the test metrics (they live in the :class:`Evaluator`, applied by the
runner after ``search`` ends and never sent to worker processes), any other key of the table,
the table itself, the cost vector, or the values behind the oracle (any other attribute raises
:class:`HiddenDataError`). All randomness must come from ``rng`` so that a run is a function
of its seed. Per-epoch (multi-fidelity) searches use
:class:`~nb201_flat.search.fidelity.FidelityOracle` instead, which charges ``e`` epochs' time
for the value after epoch ``e``; algorithms written as ``ask``/``tell``, and outside optimisers
driving a run, go through :mod:`nb201_flat.search.asktell`. Notebook
``02_reproduce_na_rs_vs_rs`` ends with a worked example.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NoReturn, TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import (
    ArgumentError,
    InvalidArchError,
    Param,
    Part,
    SearchBudgetError,
    check_flag,
    real_number,
    shown,
    whole_number,
)
from nb201_flat.errors import BudgetExhausted as BudgetExhausted
from nb201_flat.errors import HiddenDataError as HiddenDataError
from nb201_flat.errors import SearchEnded as SearchEnded
from nb201_flat.errors import SearchStalled as SearchStalled
from nb201_flat.landscape._common import as_sequence
from nb201_flat.space import (
    Space,
    check_arch_index,
    check_arch_indices,
    check_space,
    in_index_order,
    masked_as_nan,
)
from nb201_flat.table import MetricKey, _frozen_through, infinite_values
from nb201_flat.types import BoolArray
from nb201_flat.types import FloatArray as FloatArray
from nb201_flat.types import IntArray as IntArray

if TYPE_CHECKING:
    from nb201_flat.search.fidelity import FidelityData

log = logging.getLogger(__name__)

Repeats: TypeAlias = Literal["charge", "cache"]


@dataclass(frozen=True, slots=True, eq=False)
class OracleData:
    """Read-only arrays shared by every run of one protocol (built by the protocol); an array
    someone could still write (the caller's own, a view of a frame's column) is copied.

    Attributes
    ----------
    space
        The search space (structure only: neighbour arrays, op codes).
    key
        The validation metric answered (for messages and notes).
    values
        Shape ``(rows, size)``: one row per stored seed (``random`` policy) or a single row.
    order, counts
        For the ``random`` policy: ``order[k, i]`` is the row of the k-th stored seed of
        architecture ``i`` and ``counts[i]`` how many it has; None for a single row.
    costs
        Simulated training seconds per architecture, or None (no time budget).
    budget_seconds, budget_queries
        Limits of one run (at least one is set).
    repeats
        ``"charge"`` or ``"cache"`` (see the module docstring).
    candidates
        Indices random sampling draws from (uniform; each once), or None for the whole space.
    domain, domain_size
        Derived: the sampling domain as a mask, and how many cells it holds
        (:class:`StallGuard`'s cache rule).
    """

    space: Space
    key: MetricKey
    values: FloatArray
    order: IntArray | None
    counts: IntArray | None
    costs: FloatArray | None
    budget_seconds: float | None
    budget_queries: int | None
    repeats: Repeats = "charge"
    candidates: IntArray | None = None
    # derived: a cache hit counts toward the stall guard once all are cached
    domain: BoolArray = field(init=False, repr=False)
    domain_size: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        size = check_space(self.space).size  # a name or None: a bare AttributeError
        # a masked array is an ndarray: its masked entries were read as measured
        object.__setattr__(self, "values", masked_as_nan(self.values))
        for name in ("order", "counts"):
            arr = getattr(self, name)
            if isinstance(arr, np.ma.MaskedArray):
                if np.ma.getmaskarray(arr).any():  # the numbers under the mask are no indices
                    raise SearchBudgetError(
                        f"oracle {name} holds masked entries: a masked row index or count has "
                        "no meaning; drop the masked cells or fill them with their true values"
                    )
                object.__setattr__(self, name, np.asarray(arr.data))
        if self.costs is not None:  # a per-architecture vector: a Series is read by its labels
            costs = in_index_order(self.costs, size, "oracle costs")
            if not isinstance(costs, np.ndarray) and hasattr(costs, "to_numpy"):
                costs = costs.to_numpy()
            object.__setattr__(self, "costs", costs)
        for name in ("values", "order", "counts", "costs"):
            arr = getattr(self, name)
            # values are required: None met a bare AttributeError (no ndim)
            if (arr is not None or name == "values") and not isinstance(arr, np.ndarray):
                raise SearchBudgetError(
                    f"oracle {name} must be a numpy array, got {type(arr).__name__}; pass "
                    "np.asarray(...) (a pandas object: .to_numpy())"
                )
        if self.values.ndim != 2 or self.values.shape[1] != size:
            raise SearchBudgetError(f"oracle values must have shape (rows, {size})")
        if self.costs is not None and self.costs.shape != (size,):
            raise SearchBudgetError(f"oracle costs must have shape ({size},)")
        _check_seed_rows(self.values, self.order, self.counts)
        check_finite_values(self.key, self.values)
        bs, bq = check_budgets(self.budget_seconds, self.budget_queries)
        object.__setattr__(self, "budget_seconds", bs)
        object.__setattr__(self, "budget_queries", bq)
        if self.budget_seconds is not None and self.costs is None:
            raise SearchBudgetError("a time budget needs a cost vector")
        if self.costs is not None:
            bad = invalid_costs(self.costs)
            if bad.any():
                raise SearchBudgetError(
                    f"{int(bad.sum())} architectures have a NaN, infinite or negative cost; "
                    "pass finite costs >= 0, or no costs and a query budget"
                )
            if costs_overflow(self.costs):
                raise SearchBudgetError(
                    f"oracle costs sum to more than a float holds (largest {self.costs.max():.4g}"
                    " s); rescale the costs and budget_seconds alike"
                )
        # text first: an array's `in` raised numpy's ambiguous-truth ValueError
        if not isinstance(self.repeats, str) or self.repeats not in ("charge", "cache"):
            raise SearchBudgetError(
                f"repeats must be 'charge' or 'cache', got {shown(self.repeats)}"
            )
        cand = self.candidates
        if cand is not None:
            # the compiled searches index with them unchecked: refuse what the loop would not
            # serve (no cell to draw) or could not (a cell outside the space)
            object.__setattr__(self, "candidates", sampling_domain(cand, size))
            cand = self.candidates
        check_some_paid(self.costs, cand, self.budget_queries)
        dom = domain_mask(cand, size)
        object.__setattr__(self, "domain", dom)
        object.__setattr__(self, "domain_size", int(dom.sum()))
        dom.setflags(write=False)
        for name in ("values", "order", "counts", "costs", "candidates"):
            arr = getattr(self, name)
            # freezing a view left its writable base (a frame's column) free to change it
            if arr is not None and not _frozen_through(arr):
                arr = arr.copy()
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)


_PUBLIC = frozenset(
    {
        "space",
        "size",
        "key",
        "query",
        "query_free",
        "sample",
        "queries",
        "seconds",
        "free_queries",
        "free_seconds",
        "cache_hits",
        "budget_seconds",
        "budget_queries",
        "used_fraction",
        "exhausted",
        "stalled",
        "stall_kinds",
        "stall_guard",
    }
)


def check_finite_values(key: MetricKey, values: FloatArray) -> None:
    """:class:`SearchBudgetError` where an oracle's ``values`` (rows of cells, and epochs for
    curves) hold +-inf, by a table's rule (:func:`~nb201_flat.table.infinite_values`, row by
    row: the k-th stored seed's, or the mean): a table refuses them, and a run over -inf
    values found nothing. Oracle and fidelity data share it."""
    inf = np.isinf(values)
    if not inf.any():  # the common case (a table's data): one pass
        return
    # per row, the cells with an infinite value (at any epoch)
    inf = inf.reshape(*values.shape[:2], -1)
    cells: BoolArray = np.asarray(inf.any(axis=2), dtype=bool)
    for r, row in enumerate(cells):
        why = infinite_values(key, r if len(cells) > 1 else None, np.where(row, np.inf, 0.0))
        if why is not None:
            raise SearchBudgetError(why)


def check_budgets(
    budget_seconds: object, budget_queries: object
) -> tuple[float | None, int | None]:
    """The budgets of one run as ``(float | None, int | None)``, at least one set: seconds a
    finite number > 0, queries a whole number >= 1 (:func:`~nb201_flat.errors.whole_number`:
    100.0 is 100), else :class:`~nb201_flat.errors.SearchBudgetError` naming the fix (a NaN
    or infinite budget is never exhausted: the run never ends; 2.5 queries bought 2). The
    one budget rule: oracles and protocols (which name themselves in a ProtocolError) use it.

    >>> check_budgets(None, 100.0)
    (None, 100)
    >>> check_budgets(None, 2.5)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.SearchBudgetError: budget_queries must be a whole number >= 1, got 2.5; give a whole number, e.g. 100
    """
    if budget_seconds is None and budget_queries is None:
        raise SearchBudgetError(
            "a search needs a budget: give ",
            Param("budget_seconds"),
            " or ",
            Param("budget_queries"),
        )
    bs = bq = None
    if budget_seconds is not None:
        bs = real_number(budget_seconds)  # 10**400 is inf: never exhausted, refused as such
        if not (math.isfinite(bs) and bs > 0):
            # a builder's scale that overflows is refused by its name before it gets here
            # (protocol.scaled_time_budget)
            raise SearchBudgetError(
                Param("budget_seconds"),
                " (the time budget) must be a finite number of seconds > 0, got "
                f"{shown(budget_seconds)}; give a "
                f"{'finite' if bs == math.inf else 'positive'} number of seconds",
            )
    if budget_queries is not None:
        bq = whole_number(budget_queries)
        if bq is None or bq < 1:
            raise SearchBudgetError(
                Param("budget_queries"),
                f" must be a whole number >= 1, got {shown(budget_queries)}; "
                "give a whole number, e.g. 100",
            )
    return bs, bq


def costs_overflow(costs: FloatArray) -> bool:
    """Whether valid ``costs`` (:func:`invalid_costs`: finite, >= 0) sum to more than a float
    holds (each near 1e308, which a table's range allows): a run's seconds, a mean of runs or
    a budget's guess of draws met inf and a traceback. Every partial sum is at most the
    whole, so costs that pass overflow no sum of theirs over the space.

    >>> costs_overflow(np.full(3, 1e308)), costs_overflow(np.full(3, 1e307))
    (True, False)
    """
    with np.errstate(over="ignore"):
        return not math.isfinite(float(costs.sum()))


def invalid_costs(costs: FloatArray) -> BoolArray:
    """True where a cost cannot be charged: NaN, infinite or negative (a NaN cost makes the
    seconds NaN, and NaN never exceeds a budget). Per cell, or per (cell, epoch) for curves.

    >>> invalid_costs(np.array([1.0, 0.0, -1.0, np.nan])).tolist()
    [False, False, True, True]
    """
    bad: BoolArray = ~np.isfinite(costs) | (costs < 0)
    return bad


def sampling_domain(candidates: npt.ArrayLike, size: int) -> IntArray:
    """``candidates`` (the cells a run may sample) as a non-empty 1-d int64 array of cells of a
    space of ``size``, read by the one index rule (:func:`~nb201_flat.space.check_arch_indices`:
    whole floats too), each cell once, else :class:`SearchBudgetError`; oracle and fidelity
    data share it.

    >>> sampling_domain([5, 5, 5, 6], 10)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.SearchBudgetError: candidates hold cell 5 more than once (3 times), so sampling would draw it more often than the others; give each cell once (e.g. np.unique(candidates)), or pass None to draw from every cell
    """
    fix = "pass None to draw from every cell"
    try:
        cand = check_arch_indices(candidates, size, name="candidates")
    except InvalidArchError as e:
        raise SearchBudgetError(f"{e}; {fix}") from None
    if cand.ndim != 1 or cand.size == 0:
        raise SearchBudgetError(
            f"candidates must be a non-empty 1-d array of cell indices, got shape {cand.shape}; "
            f"{fix}"
        )
    # sampling draws a position: a repeated cell was drawn as often as it is listed, not
    # uniformly as the domain (and its size) say; refused, since a repeat may mean a weight
    counts = np.bincount(cand, minlength=size)
    if counts.max() > 1:
        first = int(cand[np.flatnonzero(counts[cand] > 1)[0]])  # in the order given
        raise SearchBudgetError(
            f"candidates hold cell {first} more than once ({int(counts[first])} times), so "
            "sampling would draw it more often than the others; give each cell once (e.g. "
            f"np.unique(candidates)), or {fix}"
        )
    return cand


def domain_mask(candidates: IntArray | None, size: int) -> BoolArray:
    """The cells a run may sample (``candidates``, or every cell) as a mask of ``size``."""
    if candidates is None:
        return np.ones(size, dtype=bool)
    mask = np.zeros(size, dtype=bool)
    mask[candidates] = True
    return mask


def sampled_costs(costs: FloatArray, candidates: IntArray | None) -> FloatArray:
    """The costs (rows) of the cells a run may sample: ``candidates``, or every cell."""
    return costs if candidates is None else costs[candidates]


def check_some_paid(
    costs: FloatArray | None, candidates: IntArray | None, budget_queries: int | None
) -> None:
    """Refuse a time budget that no cell a run may sample would ever spend (its costs, or its
    per-epoch costs, all 0 s) and no query budget ends: such a run never ends. Free cells
    among paid ones are the stall guard's (:class:`StallGuard`).

    >>> check_some_paid(np.zeros((3, 2)), None, None)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.SearchBudgetError: every cell a run may sample costs 0 s, so a time budget never runs out; add a query budget (budget_queries)
    """
    if (
        budget_queries is None
        and costs is not None
        and not cheapest_paid(sampled_costs(costs, candidates).ravel())
    ):
        raise SearchBudgetError(
            "every cell a run may sample costs 0 s, so a time budget never runs out; "
            "add a query budget (budget_queries)"
        )


def cheapest_paid(costs: FloatArray) -> float:
    """The cheapest cost > 0, or 0.0 when every cell is free. Free cells end no run: the
    queries a time budget buys are those of the cheapest paid cell, and with none it never
    runs out.

    >>> cheapest_paid(np.array([0.0, 5.0, 2.0])), cheapest_paid(np.zeros(3))
    (2.0, 0.0)
    """
    paid = costs[costs > 0]
    return float(paid.min()) if paid.size else 0.0


def stall_limit(size: int) -> int:
    """Steps in a row a run may take without spending budget before it is ended, on a space
    of ``size`` cells: the one patience of the stall guard (:class:`StallGuard`, where the
    steps that count are said), which the compiled kernels are given too. Generous for a
    search that samples: random search with one paid cell among ``size`` goes this long
    without paying with a chance of about e**-20. A search that pays more rarely than that
    (REA drifting among free cells) is ended too: it would spend its budget only after an age.

    >>> stall_limit(27)
    1540
    """
    return 20 * size + 1000


#: what a stalled run's idle steps were (:meth:`StallGuard.idle`), a bit each
IDLE_FREE, IDLE_CACHED, IDLE_REVISIT, IDLE_RESUMED = 1, 2, 4, 8
# each kind of idle step, and what would have it spend: the parameters of a protocol (or of
# fidelity data) by name, which a command respells as the flags that set them
_IDLE_WHY: dict[int, tuple[str, tuple[Part, ...]]] = {
    IDLE_FREE: (
        "charged queries of cells that cost 0 s, which a time budget never counts",
        ("a query budget (", Param("budget_queries"), ") makes each query of a 0 s cell spend"),
    ),
    IDLE_CACHED: (
        "cache hits after every cell it may sample was cached, which spend nothing even "
        "under a query budget",
        ("charged repeats (", Param("repeats", "charge"), ") make each repeat spend"),
    ),
    IDLE_REVISIT: (
        "revisits of cells its NA memory has paid for, which are never charged",
        ("a budget the cells it may sample can spend (fewer seconds or queries) ends it in time",),
    ),
    IDLE_RESUMED: (
        "resumed queries of epochs paid for, after every cell it may sample was trained to "
        "the last epoch",
        ("a query budget (", Param("budget_queries"), ") makes each resumed query spend"),
    ),
}


def stalled_message(limit: int, kinds: int) -> tuple[Part, ...]:
    """Why a run stalled (``kinds``: the :data:`IDLE_FREE`... bits of its idle steps) and
    the fix that applies to each kind, as message parts.

    >>> from nb201_flat.errors import spelled
    >>> spelled(stalled_message(1540, IDLE_CACHED))
    "the search stalled: 1,540 steps in a row spent no budget (cache hits after every cell it may sample was cached, which spend nothing even under a query budget), so it ends with what it found; charged repeats (repeats='charge') make each repeat spend"
    """
    causes = "; ".join(why for bit, (why, _) in _IDLE_WHY.items() if kinds & bit)
    return (
        f"the search stalled: {limit:,} steps in a row spent no budget ({causes}), so it "
        "ends with what it found; ",
        *stall_fixes(kinds),
    )


def stall_fixes(kinds: int) -> tuple[Part, ...]:
    """What would have the idle steps of ``kinds`` (the :data:`IDLE_FREE`... bits) spend, as
    message parts (:func:`~nb201_flat.errors.spelled` words them; a command: as its flags).

    >>> from nb201_flat.errors import spelled
    >>> spelled(stall_fixes(IDLE_FREE))
    'a query budget (budget_queries) makes each query of a 0 s cell spend'
    """
    fixes = (("; ", *fix) for bit, (_, fix) in _IDLE_WHY.items() if kinds & bit)
    return tuple(part for fix in fixes for part in fix)[1:]


class StallRecord:
    """What a run's record says of its stall: its :attr:`stall_kinds` (the :data:`IDLE_FREE`...
    bits of the idle steps its guards ended it on, 0 when it did not stall), from which the
    runner's notes name each fix (:func:`stall_fixes`); a plain and a multi-fidelity run's
    record alike."""

    __slots__ = ()
    stall_kinds: int

    @property
    def stalled(self) -> bool:
        """The run stalled: it ended with budget unspent, with what it had found."""
        return self.stall_kinds != 0


class StallGuard:
    """Ends a run that stopped spending its budget (:class:`SearchStalled`, which the runner
    takes as the end of the run, as a refused query).

    A time budget never runs out when every step is free; such a run would loop for ever.
    After :func:`stall_limit` idle steps in a row it ends instead. The steps, one rule in
    Python and in every compiled kernel:

    - a charged query is idle when it spends nothing (:func:`spends`: a cell that costs 0 s,
      or too little to move the seconds, under a time budget alone), and a query that spends
      starts the count again;
    - a cache hit (``repeats="cache"``) is idle only once every cell of the run's sampling
      domain (:attr:`OracleData.domain`) is cached; before that it neither counts nor starts
      the count again: a new cell remains, and every search of this package proposes it in
      the end (REA near the end of the space goes a million cached proposals between new
      cells; an outside driver's hits count from the first, :class:`Oracle`'s ``outside``,
      :func:`~nb201_flat.search.algorithms.proposes_every_cell`). The one
      narrow case left: with ``candidates`` and a cached budget beyond them, REA (whose
      mutants leave the candidates) that has cached every candidate counts its hits while
      other cells remain; it may be ended after the patience, and is flagged as stalled.
      A protocol never builds it (``sampling='connected'`` with ``repeats='cache'``:
      a budget that could pay for every connected cell is refused), and LS never caches
      (its memory pays a cell once);
    - a multi-fidelity query of epochs already paid for (``resume``,
      :class:`~nb201_flat.search.fidelity.FidelityOracle`) is its cache hit: idle only once
      every cell of the domain is trained to the last epoch, else neither counted nor
      starting the count again;
    - an NA memory's revisit of a cell it paid for is idle (its own guard,
      :meth:`Oracle.stall_guard`), a new cell starts the count again.

    >>> g = StallGuard(0)
    >>> for _ in range(1000):
    ...     g.idle(IDLE_FREE)
    >>> g.idle(IDLE_FREE)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.SearchStalled: the search stalled: 1,000 steps in a row spent no budget ...
    """

    __slots__ = ("count", "ended", "kinds", "limit", "stalled_kinds")

    def __init__(self, size: int) -> None:
        self.limit = stall_limit(size)
        self.count = 0
        self.kinds = 0  # the IDLE_* bits of the steps counted
        self.ended = False
        # the IDLE_* bits of the steps of every stall so far (a restart keeps them): what the
        # run's record and the notes name, so that no note names a cause that did not occur
        self.stalled_kinds = 0

    def step(self, spent: bool) -> None:
        """One charged step: it spent budget (the count starts again) or it did not
        (:meth:`idle`, :data:`IDLE_FREE`)."""
        if spent:
            self.count = 0
            self.kinds = 0
        else:
            self.idle(IDLE_FREE)

    def idle(self, kind: int) -> None:
        """One step that spent nothing (of ``kind``); :class:`SearchStalled` past the limit."""
        self.count += 1
        self.kinds |= kind
        if self.count > self.limit:
            self.ended = True
            self.stalled_kinds |= self.kinds
            raise SearchStalled(*stalled_message(self.limit, self.kinds))

    def restart(self) -> None:
        """Count again from 0 (two-stage NA-RS's re-ranking after a stalled first stage); a
        run that stalled stays :attr:`ended`, so that its record says so; a later stall names
        only its own causes."""
        self.count = 0
        self.kinds = 0

    def check(self) -> None:
        """:class:`SearchStalled` again once the run has stalled: it is over, as a refused
        query's run is (an outside loop asking on would otherwise never stop)."""
        if self.ended:
            raise SearchStalled(*stalled_message(self.limit, self.kinds))


def ranks_before(a: float, b: float) -> bool:
    """Whether the value ``a`` ranks strictly ahead of ``b``: it is higher, or measured
    against NaN (an unmeasured value ranks last, below -inf). Equal values (two -inf too) and
    two NaN tie, and a tie keeps the one met first. The one ranking rule of REA's tournament
    and two-stage NA-RS's first stage; plain comparisons, never a difference (inf - inf is
    NaN), so that the kernels compile this very function.

    >>> ranks_before(-math.inf, math.nan), ranks_before(math.nan, -math.inf)
    (True, False)
    >>> ranks_before(-math.inf, -math.inf), ranks_before(math.inf, 1.0)
    (False, True)
    """
    return a > b or (a == a and b != b)


def rank_order(values: Sequence[float]) -> list[int]:
    """The positions of ``values`` in :func:`ranks_before` order, ties in their own order (a
    stable sort).

    >>> rank_order([math.nan, -math.inf, 2.0, -math.inf])
    [2, 1, 3, 0]
    """

    # the key orders as ranks_before does: measured before NaN, then higher first; equal
    # values (and all NaN) share a key, so the stable sort keeps them in their own order
    def key(i: int) -> tuple[bool, float]:
        v = values[i]
        return (v != v, 0.0 if v != v else -v)

    return sorted(range(len(values)), key=key)


#: ``budget_queries`` of the compiled kernels where there is none: a count never reached
NO_QUERY_BUDGET = int(np.iinfo(np.int64).max)


def spends(seconds: float, cost: float, budget_queries: int | None) -> bool:
    """Whether a charged query of ``cost`` after ``seconds`` spends budget: it counts against
    a query budget, or it moves the seconds (a cost of 0, or one too small to change the
    float, does not). The kernels test the same floats.

    >>> spends(10.0, 0.0, None), spends(10.0, 0.0, 5), spends(1e20, 1.0, None)
    (False, True, False)
    """
    return budget_queries is not None or seconds + cost != seconds


def used_fraction(
    seconds: float, queries: int, budget_seconds: float | None, budget_queries: int | None
) -> float:
    """The larger of seconds/budget_seconds and queries/budget_queries (an empty budget: 1).

    >>> used_fraction(50.0, 3, 200.0, 10)
    0.3
    """
    parts = []
    if budget_seconds is not None:
        parts.append(seconds / budget_seconds if budget_seconds > 0 else 1.0)
    if budget_queries is not None:
        parts.append(queries / budget_queries if budget_queries > 0 else 1.0)
    return max(parts)


class BudgetedRun:
    """What a run's budgeted oracle tells any search of its spending, shared by
    :class:`Oracle` and :class:`~nb201_flat.search.fidelity.FidelityOracle`: each holds its
    protocol's arrays (``_data``: space, key and budget), its charges (``_queries``,
    ``_seconds``), whether a query was refused (``_closed``) and its stall guard (``_stall``).
    """

    __slots__ = ()
    _data: OracleData | FidelityData
    _queries: int
    _seconds: float
    _closed: bool
    _stall: StallGuard

    @property
    def space(self) -> Space:
        """The search space (op codes, neighbour arrays): structure, no metric."""
        return self._data.space

    @property
    def size(self) -> int:
        return self._data.space.size

    @property
    def key(self) -> MetricKey:
        """The validation metric this oracle answers."""
        return self._data.key

    @property
    def queries(self) -> int:
        """Charged queries so far."""
        return self._queries

    @property
    def seconds(self) -> float:
        """Simulated training seconds charged so far (0 without a cost vector)."""
        return self._seconds

    @property
    def budget_seconds(self) -> float | None:
        return self._data.budget_seconds

    @property
    def budget_queries(self) -> int | None:
        return self._data.budget_queries

    @property
    def used_fraction(self) -> float:
        """The larger of seconds/budget_seconds and queries/budget_queries."""
        d = self._data
        return used_fraction(self._seconds, self._queries, d.budget_seconds, d.budget_queries)

    @property
    def exhausted(self) -> bool:
        """True once a charged query has been refused, or the oracle's own stall guard has
        fired."""
        return self._closed or self._stall.ended

    @property
    def stalled(self) -> bool:
        """True once the run has stalled: it ended with budget unspent."""
        return self._stall.ended


class Oracle(BudgetedRun):
    """One run's budgeted access to the validation metric.

    Parameters
    ----------
    data
        The protocol's shared arrays.
    rng
        The generator for per-query seed draws (``random`` policy); the run's own stream,
        separate from the algorithm's.
    outside
        The queries come from an outside driver (ask/tell, a loop of the user's, a search
        not of this package), which may ask cached cells for ever: every cache hit is an
        idle step of the stall guard, not only once the sampling domain is cached
        (:class:`StallGuard`). The default, so that no loop can run for ever; the runner
        passes ``False`` for this package's searches, which propose every cell in the end.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> from nb201_flat.table import MetricKey
    >>> s = Space(("none", "skip_connect", "conv"), 3)
    >>> data = OracleData(s, MetricKey("toy", "x-valid", 12), np.arange(27.0)[None, :],
    ...                   None, None, np.full(27, 10.0), 25.0, None)
    >>> o = Oracle(data, np.random.default_rng(0))
    >>> o.query(5), o.query(7), o.seconds
    (5.0, 7.0, 20.0)
    >>> o.query(3)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.BudgetExhausted: budget spent: ...
    """

    __slots__ = (
        "_cache",
        "_closed",
        "_data",
        "_free",
        "_free_s",
        "_guards",
        "_hits",
        "_outside",
        "_queries",
        "_rng",
        "_seconds",
        "_stall",
        "_uncached",
    )

    _data: OracleData

    def __init__(self, data: OracleData, rng: np.random.Generator, *, outside: bool = True) -> None:
        # once a run: anything else met an AttributeError at its first query or draw
        if not isinstance(data, OracleData):
            raise ArgumentError(
                Param("data"),
                f" must be an OracleData (protocol.oracle_data(table)), got {shown(data)}",
            )
        _check_generator(rng)
        outside = check_flag("outside", outside)  # "no" was truthy
        self._data = data
        # an outside driver (ask/tell) may ask cached cells for ever: each hit is idle
        self._outside = outside
        self._uncached = data.domain_size  # domain cells not cached yet (StallGuard's rule)
        self._rng = rng
        self._queries = 0
        self._seconds = 0.0
        self._stall = StallGuard(data.space.size)
        self._guards: list[StallGuard] = []  # a search's own (its memory's revisits)
        self._free = 0
        self._free_s = 0.0
        self._hits = 0
        self._closed = False
        self._cache: dict[int, float] = {}

    def __getattr__(self, name: str) -> NoReturn:
        # only reached for names the class does not define; an AttributeError subclass so
        # that hasattr() and introspection keep working
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        raise HiddenDataError(
            f"the oracle has no {name!r}: a search sees only the validation metric "
            f"({self._data.key}) through query()/query_free(); test metrics are read by the "
            f"Evaluator after the search ends. Public surface: {', '.join(sorted(_PUBLIC))}"
        )

    def __reduce__(self) -> NoReturn:
        raise SearchBudgetError("an Oracle is one run's state and cannot be pickled")

    def __repr__(self) -> str:
        d = self._data
        used = [
            f"{self._queries} queries" + (f" of {d.budget_queries}" if d.budget_queries else "")
        ]
        if d.budget_seconds is not None:
            used.append(f"{self._seconds:g} s of {d.budget_seconds:g} s")
        return f"Oracle({d.key}, {', '.join(used)}, {self._free} free)"

    # -- what a search may know (besides BudgetedRun's) ------------------------------------
    @property
    def free_queries(self) -> int:
        """Architectures looked up without charge (neighbour values, when not charged)."""
        return self._free

    @property
    def free_seconds(self) -> float:
        """Simulated training seconds the free look-ups would have cost (not charged)."""
        return self._free_s

    @property
    def cache_hits(self) -> int:
        """Repeated queries answered from the cache (``repeats="cache"``)."""
        return self._hits

    @property
    def stalled(self) -> bool:
        """True once the run has stalled (this oracle's guard, or one a search took from
        :meth:`stall_guard`): it ended with budget unspent, and its record says so."""
        return self._stall.ended or any(g.ended for g in self._guards)

    @property
    def stall_kinds(self) -> int:
        """The :data:`IDLE_FREE`... bits of the idle steps of the run's stalls (this oracle's
        guard and those a search took from :meth:`stall_guard`); 0 when it did not stall."""
        kinds = self._stall.stalled_kinds
        for g in self._guards:
            kinds |= g.stalled_kinds
        return kinds

    def stall_guard(self) -> StallGuard:
        """A stall guard for steps that never reach this oracle (a memory's revisits), whose
        end this oracle reports as the run's (:attr:`stalled`), even where the search catches
        its :class:`SearchStalled` and goes on (two-stage NA-RS re-ranks what it found)."""
        guard = StallGuard(self._data.space.size)
        self._guards.append(guard)
        return guard

    # -- queries ---------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> int:
        """One index drawn uniformly from the protocol's sampling domain."""
        _check_generator(rng)  # a seed (an int) met a bare AttributeError
        cand = self._data.candidates
        if cand is None:
            return int(rng.integers(self._data.space.size))
        return int(cand[int(rng.integers(len(cand)))])

    def query(self, index: int) -> float:
        """Train (simulated) one architecture: charge its cost and return its validation value.

        Raises
        ------
        BudgetExhausted
            When the query would take the run past its budget (then and for every later call).
        SearchStalled
            When the run has gone :func:`stall_limit` queries in a row without spending budget
            (cached repeats, free cells under a time budget); the query is not charged, and
            the run is over (:attr:`exhausted`, every later call refused).
        """
        if self._closed:
            raise BudgetExhausted("budget spent: the search has ended and may not train more")
        self._stall.check()
        i = self._check(index)
        d = self._data
        if d.repeats == "cache" and i in self._cache:
            if self._outside or not self._uncached:  # else a new cell remains (StallGuard)
                self._stall.idle(IDLE_CACHED)
            self._hits += 1
            return self._cache[i]
        cost = 0.0 if d.costs is None else float(d.costs[i])
        if (d.budget_queries is not None and self._queries + 1 > d.budget_queries) or (
            d.budget_seconds is not None and self._seconds + cost > d.budget_seconds
        ):
            self._closed = True
            raise BudgetExhausted(
                f"budget spent: {self._queries} queries, {self._seconds:.1f} s of "
                f"{d.budget_seconds} s / {d.budget_queries} queries"
            )
        # a free cell under a time budget: a run of them would never end (not charged if so)
        self._stall.step(spends(self._seconds, cost, d.budget_queries))
        self._queries += 1
        self._seconds += cost
        value = self._draw(i)
        if d.repeats == "cache":
            self._cache[i] = value
            self._uncached -= bool(d.domain[i])
        return value

    def query_free(self, indices: npt.ArrayLike) -> FloatArray:
        """Validation values of several architectures without charge (counted as free).

        Allowed after the budget is spent: the runner reads the incumbent only when
        ``search()`` returns, so a search may still re-rank what it holds.
        """
        # the one index rule, entry by entry: [5.0] is cell 5, as query(5.0) is; 2.5 is refused
        idx = check_arch_indices(indices, self._data.space.size).ravel()
        self._free += int(idx.size)
        d = self._data
        if d.costs is not None:
            self._free_s += float(d.costs[idx].sum())
        if d.order is None or d.counts is None:
            out: FloatArray = d.values[0, idx].copy()
            return out
        counts = d.counts[idx]
        pick = np.floor(self._rng.random(idx.size) * np.maximum(counts, 1)).astype(np.int64)
        rows = d.order[pick, idx]
        res: FloatArray = d.values[rows, idx]
        return res

    def _check(self, index: int) -> int:
        return check_arch_index(index, self._data.space.size)

    def _draw(self, i: int) -> float:
        d = self._data
        if d.order is None or d.counts is None:
            return float(d.values[0, i])
        n = int(d.counts[i])
        k = int(self._rng.integers(n)) if n > 1 else 0
        return float(d.values[d.order[k, i], i])


def _check_seed_rows(values: FloatArray, order: IntArray | None, counts: IntArray | None) -> None:
    """Refuse ``order``/``counts`` that do not index ``values``' rows (:func:`seed_rows`' form;
    a counted seed may hold NaN, a run stored without a number): a count past the rows read
    another cell's value in the batched runs, and rows without them were read as the first."""
    rows, size = values.shape
    if order is None or counts is None:
        if order is not None or counts is not None:
            raise SearchBudgetError("oracle order and counts come together: pass both, or neither")
        if rows != 1:
            raise SearchBudgetError(
                f"oracle values hold {rows} rows, but no order and counts to read them by; "
                "pass one row, or seed_rows(values) for the random policy"
            )
        return
    if (
        order.shape != (rows, size)
        or counts.shape != (size,)
        or order.dtype.kind not in "iu"
        or counts.dtype.kind not in "iu"
    ):
        raise SearchBudgetError(
            f"oracle order must be integers of shape ({rows}, {size}) and counts of shape "
            f"({size},), got {order.dtype} {order.shape} and {counts.dtype} {counts.shape}; "
            "pass seed_rows(values)"
        )
    if counts.size and (counts.min() < 0 or counts.max() > rows):
        raise SearchBudgetError(f"oracle counts must lie in 0..{rows}; pass seed_rows(values)")
    if order.size and (order.min() < 0 or order.max() >= rows):
        raise SearchBudgetError(f"oracle order must lie in 0..{rows - 1}; pass seed_rows(values)")


def seed_rows(stack: FloatArray) -> tuple[IntArray, IntArray]:
    """``(order, counts)`` for a ``(rows, size)`` stack with NaN where a seed is missing."""
    present = ~np.isnan(stack)
    order = np.argsort(~present, axis=0, kind="stable").astype(np.int64)
    counts = present.sum(axis=0).astype(np.int64)
    return order, counts


def _check_generator(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise ArgumentError(
            Param("rng"),
            f" must be a numpy Generator, got {shown(rng)}; pass np.random.default_rng(seed)",
        )


@dataclass(frozen=True, slots=True, eq=False)
class Evaluator:
    """Test metrics, applied to the incumbent after a search has ended.

    Attributes
    ----------
    keys
        What is reported (e.g. ``cifar10/ori-test@200ep:accuracy``).
    vectors
        One vector per key (mean over seeds), over the space's cells in index order; a pandas
        Series is read by its index (:func:`~nb201_flat.space.in_index_order`).
    """

    keys: tuple[MetricKey, ...]
    vectors: tuple[FloatArray, ...]

    def __post_init__(self) -> None:
        # one key or vector alone (not in a tuple) met a bare TypeError from len()
        object.__setattr__(self, "keys", tuple(as_sequence("keys", self.keys, "MetricKey")))
        vectors = as_sequence("vectors", self.vectors, "metric vectors")
        # one vector a key, at least one: with none, values() had no space to check indices by
        if not self.keys or len(vectors) != len(self.keys):
            raise ArgumentError(
                f"an Evaluator needs one vector per reported key, at least one; got "
                f"{len(self.keys)} key(s) and {len(vectors)} vector(s)"
            )
        # the package's rule for a per-architecture vector: a Series is read by its labels (a
        # shuffled one was read by position, reporting another cell's value) and masked
        # entries are NaN (their numbers were reported as measured); an Evaluator is given no
        # space, so the first vector's length is its size
        size = int(np.size(masked_as_nan(vectors[0])))
        arrays = tuple(
            np.asarray(in_index_order(v, size, f"the vector of {key}"))
            for key, v in zip(self.keys, vectors, strict=True)
        )
        # indices are checked against the first: a shorter one met a bare IndexError, a list
        # an AttributeError
        for i, (key, a, given) in enumerate(zip(self.keys, arrays, vectors, strict=True)):
            if a.ndim != 1 or a.dtype.kind not in "biuf" or a.size != arrays[0].size:
                same = f", as many as the first ({arrays[0].size:,})" if i else ""
                raise ArgumentError(
                    f"the vector of {key} must hold one number per cell{same}, got "
                    f"{shown(given)}; pass a 1-D array over the space's cells (Table.vector_for)"
                )
        object.__setattr__(self, "vectors", tuple(a.astype(np.float64, copy=False) for a in arrays))

    def values(self, indices: Sequence[int] | IntArray) -> FloatArray:
        """Shape ``(len(keys), len(indices))``; NaN where an index is ``-1`` (no incumbent)."""
        # the one index rule: dtype=int64 truncated 2.5 to cell 2, and -5 read as no incumbent
        idx = check_arch_indices(indices, self.vectors[0].size, no_arch_ok=True).ravel()
        out = np.full((len(self.keys), idx.size), np.nan)
        ok = idx >= 0
        for r, vec in enumerate(self.vectors):
            out[r, ok] = vec[idx[ok]]
        return out
