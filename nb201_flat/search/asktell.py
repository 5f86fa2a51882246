"""Ask/tell: search algorithms written as ``ask``/``tell``, and benchmark sessions an outside
optimiser drives.

Two directions, one rule (the oracle protocol of :mod:`nb201_flat.search.oracle`):

1. **An algorithm written as ask/tell** (:class:`AskTellAlgorithm`: ``ask(rng) -> index``,
   ``tell(index, value)``), run by this package's runner through :class:`AskTellSearch`, which
   queries the oracle for each asked index, tells the value back and offers it to the
   incumbent. The algorithm never holds the oracle, so it cannot reach past what it is told.
2. **A benchmark session an outside loop drives** (:class:`Session`: ``evaluate(index)`` for a
   charged validation value, ``done``, and ``finish(index)`` for the test values of the
   chosen architecture, readable once, only after the search has declared its choice) --
   the shape of Optuna/syne-tune/SMAC ask-tell loops.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> class Sweep:  # asks 0, 1, 2, ... and keeps nothing
...     name = "sweep"
...     def __init__(self, space): self.next = 0
...     def ask(self, rng): self.next += 1; return self.next - 1
...     def tell(self, index, value): pass
>>> algo = AskTellSearch(Sweep, name="sweep")
>>> algo.label
'sweep'
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from nb201_flat.errors import ArgumentError, Call, MissingValueError, SearchBudgetError, shown
from nb201_flat.search.algorithms import Incumbent
from nb201_flat.search.oracle import Oracle, SearchEnded
from nb201_flat.search.protocol import Protocol as SearchProtocol
from nb201_flat.search.protocol import check_protocol
from nb201_flat.space import Space, check_arch_index
from nb201_flat.table import Table
from nb201_flat.types import Seed, as_rng

log = logging.getLogger(__name__)


@runtime_checkable
class AskTellAlgorithm(Protocol):
    """An algorithm in ask/tell form (one instance per run, built from the space)."""

    def ask(self, rng: np.random.Generator) -> int: ...

    def tell(self, index: int, value: float) -> None: ...


@dataclass(frozen=True, slots=True)
class AskTellSearch:
    """A :class:`~nb201_flat.search.algorithms.SearchAlgorithm` made of an ask/tell algorithm.

    Attributes
    ----------
    make
        ``make(space) -> AskTellAlgorithm``: a fresh algorithm for each run.
    name
        Name shown in results.
    """

    make: Callable[[Space], AskTellAlgorithm]
    name: str = "ask-tell"

    def __post_init__(self) -> None:
        # an algorithm given for its factory failed at the first run (in a worker with jobs)
        given: object = self.make  # typed as a factory; an algorithm is the usual slip
        if not callable(given):
            made = type(given).__name__ if isinstance(given, AskTellAlgorithm) else ""
            raise ArgumentError(
                f"make must be a function of the space that makes a fresh algorithm for each "
                f"run, got {shown(given)}; pass e.g. lambda space: "
                f"{made or 'MyAlgorithm'}(space)"
            )

    @property
    def label(self) -> str:
        return self.name

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        algo = self.make(oracle.space)
        if not isinstance(algo, AskTellAlgorithm):  # no tell: an AttributeError after a query
            raise ArgumentError(
                f"make(space) must return an ask/tell algorithm, got {shown(algo)}; give its "
                "class the methods ask(rng) -> index and tell(index, value)"
            )
        while True:  # ends when the oracle refuses a query (BudgetExhausted)
            index = check_arch_index(algo.ask(rng), oracle.size)  # int() would truncate 2.5
            value = oracle.query(index)
            algo.tell(index, value)
            incumbent.offer(index, value)


@dataclass(slots=True)
class Session:
    """One budgeted search run an outside optimiser drives with ``evaluate``.

    Parameters
    ----------
    table
        The benchmark.
    protocol
        What is searched, at what cost, what is reported (e.g. ``nb201_protocol()``).
    seed
        Seeds the oracle's per-query seed draws: an int or a numpy ``Generator`` (used as
        it is, not copied).

    Attributes
    ----------
    notes
        What a reader of the session's values must know, as
        :attr:`~nb201_flat.search.runner.SearchResults.notes` says it for a search: the
        protocol's notes on this table (how a query's cost is derived; a seed policy
        ``'random'`` that falls back to the one value a key stores per cell). Logged (info)
        once, when the session starts, and counted in its repr.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> from nb201_flat.table import MetricKey, Table
    >>> from nb201_flat.search.protocol import Protocol
    >>> s = Space(("a", "b", "c"), 3)
    >>> val, test = MetricKey("toy", "x-valid", 12), MetricKey("toy", "x-test", 12)
    >>> t = Table(s, {(val, None): np.arange(27.0), (test, None): np.arange(27.0) + 1})
    >>> p = Protocol("toy", val, (test,), seed_policy="mean", budget_queries=2)
    >>> run = Session(t, p, seed=0)
    >>> run.evaluate(5), run.evaluate(9), run.done
    (5.0, 9.0, False)
    >>> run.evaluate(1) is None, run.done     # the third query is refused: budget spent
    (True, True)
    >>> run.finish(9)
    {'toy/x-test@12ep:accuracy': 10.0}
    >>> run.notes  # the toy protocol's seed policy and cost need no note
    ()
    """

    table: Table
    protocol: SearchProtocol
    seed: Seed = 0
    # protocol.check's notes: dropped, a seed policy 'random' that returns one stored value
    # per cell read as a noisy oracle without a word (the runner's results keep them)
    notes: tuple[str, ...] = field(init=False, default=())
    _oracle: Oracle = field(init=False, repr=False)
    _finished: bool = field(init=False, default=False, repr=False)
    # a choice finish() refused (its cell has no reported value): nothing was read
    _unreported: int | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        self.notes = tuple(self.protocol.check(self.table))
        # info, as the protocols' own notes elsewhere (protocol.fixed_n_protocols): the
        # session keeps them, as a search's results do
        for note in self.notes:
            log.info("Session: %s", note)
        data = self.protocol.oracle_data(self.table)
        # as_rng: a Generator as documented; None (unreproducible), a bool, a float or a
        # negative int is refused rather than passed to numpy
        self._oracle = Oracle(data, as_rng(self.seed), outside=True)

    def __repr__(self) -> str:
        # the dataclass repr quoted the whole protocol and table, and none of what was spent
        state = (
            "finished"
            if self._finished
            else "over (budget spent or stalled)"
            if self.done
            else "running"
        )
        # as SearchResults counts its notes: the words are in .notes
        noted = f", {len(self.notes)} note{'s' * (len(self.notes) != 1)}" if self.notes else ""
        return (
            f"Session({self.protocol.name!r} on {self.table.source!r}, seed={shown(self.seed)}: "
            f"{self._oracle!r}, {state}{noted})"
        )

    @property
    def space(self) -> Space:
        return self.table.space

    @property
    def done(self) -> bool:
        """True once the budget has refused a query, the run has stalled (its queries
        stopped spending the budget, :class:`~nb201_flat.search.oracle.StallGuard`), or
        :meth:`finish` was called."""
        return self._finished or self._oracle.exhausted

    @property
    def seconds(self) -> float:
        return self._oracle.seconds

    @property
    def queries(self) -> int:
        return self._oracle.queries

    def sample(self, rng: np.random.Generator) -> int:
        """One index from the protocol's sampling domain (free: nothing is trained)."""
        return self._oracle.sample(rng)

    def evaluate(self, index: int) -> float | None:
        """The charged validation value of ``index``, or None once the run is over (budget
        spent, or stalled)."""
        if self._finished:
            raise SearchBudgetError("the session is finished; start a new Session to search again")
        i = check_arch_index(index, self.space.size)  # int() would truncate 2.5 to cell 2
        with contextlib.suppress(SearchEnded):
            return self._oracle.query(i)
        return None

    def finish(self, index: int) -> dict[str, float]:
        """End the search with ``index`` as its choice; return its reported (test) values.

        Called once: afterwards the session answers nothing more. A reported value the table
        lacks at ``index`` raises :class:`~nb201_flat.errors.MissingValueError` (never NaN);
        the choice stays declared (another pick, made knowing which cells the test table
        measures, would not be the search's), and a later call says so.
        """
        if self._unreported is not None:
            # it said the test values had been read once, though none had been
            raise SearchBudgetError(
                f"finish() was already called with cell {self._unreported}, which has no "
                "reported value (nothing was read); the choice is final: start a new Session "
                "to search again"
            )
        if self._finished:
            raise SearchBudgetError("finish() was already called; the test values were read once")
        # checked before the session ends: -1 read NaN test values, the size an IndexError
        i = check_arch_index(index, self.space.size)
        self._finished = True
        ev = self.protocol.evaluator(self.table)
        values = ev.values([i])[:, 0]
        # the runner's rule: an unmeasured test value is no result, never a NaN to average
        lacks = [str(k) for k, v in zip(ev.keys, values, strict=True) if np.isnan(v)]
        if lacks:
            self._unreported = i
            raise MissingValueError(
                f"cell {i} has no {', '.join(lacks)} value (it was never measured there), so "
                "there is no result to report; use a denser table or report key (see ",
                Call("Table.info"),
                ")",
            )
        return {str(k): float(v) for k, v in zip(ev.keys, values, strict=True)}
