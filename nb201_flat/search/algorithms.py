"""Query-only search algorithms: random search, regularised evolution, local search, and their
neighbourhood-aware (NA) forms.

Every algorithm is a frozen dataclass with ``search(oracle, rng, incumbent)``: it queries the
:class:`~nb201_flat.search.oracle.Oracle` until the oracle refuses (budget spent), offering each
scored architecture to the :class:`Incumbent`, which the runner reads when ``search`` returns.
All randomness comes from ``rng``, so a run is a function of its seed.

Neighbourhood-aware objective (:class:`NeighbourObjective`): the score of a cell is g(f(N(α))) for
a :class:`~nb201_flat.neighbourhood.Neighbourhood` specification (aggregator mean, median, min or
a quantile), computed by the landscape layer's own code
(:func:`~nb201_flat.landscape.neighbourhood.aggregate_members`), with every value obtained through
the oracle: its own value is always a charged query (the cell is trained), its neighbours' values
are charged queries when ``charge=True`` and free look-ups otherwise (the NA paper's setting
reads them from the benchmark). NA searches remember the values they obtained in a run (a
neighbour seen twice is not trained twice); plain random search and REA do not (NB201 re-trains
re-sampled cells), and local search remembers (it never re-evaluates a visited cell).

Examples
--------
>>> rs = RandomSearch()
>>> from nb201_flat.neighbourhood import NA_PAPER
>>> na = NARandomSearch(NeighbourObjective(NA_PAPER))
>>> rs.name, na.name
('rs', 'na-rs')
>>> na.label
'na-rs[r1,mean,self,free]'
>>> NARandomSearch().label
'na-rs[r1,mean,noself,free]'
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import AlgorithmError as AlgorithmError
from nb201_flat.errors import (
    Param,
    ParamList,
    check_flag,
    check_float_range,
    check_int_range,
    joined,
    shown,
)
from nb201_flat.landscape._common import as_sequence
from nb201_flat.neighbourhood import FIELDS, Neighbourhood
from nb201_flat.search.oracle import (
    IDLE_REVISIT,
    FloatArray,
    Oracle,
    SearchEnded,
    rank_order,
    ranks_before,
)
from nb201_flat.space import check_arch_index

if TYPE_CHECKING:
    from nb201_flat.landscape.aggregates import NeighbourRows
    from nb201_flat.landscape.neighbourhood import StandIns
    from nb201_flat.neighbours import NeighbourArrays
    from nb201_flat.search.protocol import Protocol as SearchProtocol
    from nb201_flat.space import Space
    from nb201_flat.table import Table

Aggregator: TypeAlias = Literal["mean", "median", "min", "quantile"]
Mutation: TypeAlias = Literal["node-then-edge", "uniform-edge"]

AGGREGATORS: tuple[str, ...] = ("mean", "median", "min", "quantile")
ALGORITHM_NAMES: tuple[str, ...] = ("rs", "na-rs", "rea", "na-rea", "ls", "na-ls")

#: the largest REA population and tournament: the compiled searches hold the population in
#: memory, and the loop draws ``sample_size`` members per child (NB201 uses 10 and 3; a
#: population larger than the queries a run makes is random search)
MAX_POPULATION = 10_000


def _check_objective(value: object, *, optional: bool) -> None:
    """Refuse an objective that is not a :class:`NeighbourObjective` (a bare
    :class:`~nb201_flat.neighbourhood.Neighbourhood` got a label, then failed mid-search with
    an AttributeError)."""
    if (value is None and optional) or isinstance(value, NeighbourObjective):
        return
    raise AlgorithmError(
        f"objective must be a NeighbourObjective{' or None' if optional else ''}, got "
        f"{shown(value)}; wrap a Neighbourhood as NeighbourObjective(spec, charge=...)"
    )


class Incumbent:
    """The architecture a search would return now, and when it changed.

    ``changes`` holds ``(seconds, queries, index)`` at each change (oracle counters then), from
    which the runner draws anytime curves. Scores that are NaN never win; ties keep the first.

    How far the search got past its selection, which the runner's notes count (a run that never
    got past it was the base search's run under another label): ``children``, the mutated
    children :class:`RegularizedEvolution` scored; ``ranked``, the distinct cells two-stage
    :class:`NARandomSearch`'s stage 1 handed to stage 2 (0 where the run ended in stage 1).
    """

    __slots__ = ("changes", "children", "index", "oracle", "ranked", "score")

    def __init__(self, oracle: Oracle) -> None:
        given: object = oracle  # anything else met a bare AttributeError at the first offer
        if not isinstance(given, Oracle):
            raise AlgorithmError(
                Param("oracle"), f" must be an Oracle, got {shown(given)}; pass the search's own"
            )
        self.oracle = oracle
        self.index = -1
        self.score = -np.inf
        self.changes: list[tuple[float, int, int]] = []
        self.children = 0
        self.ranked = 0

    def __repr__(self) -> str:
        return f"Incumbent(index={self.index}, score={self.score:g}, changes={len(self.changes)})"

    def offer(self, index: int, score: float) -> bool:
        """Take ``index`` if its score beats the incumbent's; True when it did."""
        try:
            better = bool(score > self.score)  # False for NaN
        except (TypeError, ValueError):  # None, text, an array: refused by set()'s check
            better = True
        if better:
            self.set(index, score)
            return True
        return False

    def set(self, index: int, score: float) -> None:
        """Make ``index`` the incumbent whatever its score (e.g. after re-ranking)."""
        # the index rule of the oracle: int() took 2.5 for cell 2 and -1 for no cell at all,
        # whose test value was then reported without a word
        index = check_arch_index(index, self.oracle.size)
        given: object = score  # float() took True and "3" as scores
        if isinstance(given, bool) or not isinstance(given, Real):
            raise AlgorithmError(Param("score"), f" must be a number, got {shown(given)}")
        self.score = float(score)
        if index != self.index:
            self.index = index
            self.changes.append((self.oracle.seconds, self.oracle.queries, self.index))


@runtime_checkable
class SearchAlgorithm(Protocol):
    """What the runner needs of an algorithm."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None: ...


@dataclass(frozen=True, slots=True, init=False)
class NeighbourObjective:
    """The aggregated neighbourhood objective of NA searches: a neighbourhood and who pays.

    Attributes
    ----------
    neighbourhood
        The :class:`~nb201_flat.neighbourhood.Neighbourhood` specification (radius, exact,
        include self, filters, aggregator); its defaults are stated once, in
        :mod:`nb201_flat.neighbourhood`. NA searches accept the aggregators ``"mean"``,
        ``"median"``, ``"min"`` and ``"quantile"``; the NA paper's own is
        :data:`~nb201_flat.neighbourhood.NA_PAPER`. Its radius is
        checked against the searched space (1 to its number of edges) when a search starts.
    charge
        Neighbour queries are charged to the budget (True) or free look-ups (False): a
        property of the oracle budget, not of the neighbourhood.
    stand_ins
        The stand-in cells of a retraining table's searched vector
        (:class:`~nb201_flat.landscape.neighbourhood.StandIns`), or None: with them a cell's
        neighbourhood leaves out the members holding its own measurement (its isomorphic
        copies, or the cell it copies), as flatness's ``omit_stand_ins="self"`` does: a copy
        is no neighbour measurement. The runner sets them from the searched table
        (:func:`with_stand_ins`); they are not part of the label (which names the search,
        while they are facts of the table) and compare by content. Every search reads its
        members through :meth:`arrays` (the compiled searches) or :meth:`rows` (the loop),
        so both leave out the same cells.

    The specification's fields may also be given one by one, as keywords
    (``NeighbourObjective(radius=2, agg="min")``), and read back as attributes.
    """

    neighbourhood: Neighbourhood
    charge: bool
    stand_ins: StandIns | None

    def __init__(
        self,
        neighbourhood: Neighbourhood | None = None,
        charge: bool = False,
        *,
        stand_ins: StandIns | None = None,
        **fields: Any,
    ) -> None:
        # the radius's upper bound is the space's edge count, unknown here: the space checks it
        # when a search meets it (run_cells, before any run; the oracle's space otherwise)
        spec = Neighbourhood.build(neighbourhood, **fields)
        if spec.agg not in AGGREGATORS:
            raise AlgorithmError(
                f"unknown aggregator {spec.agg!r}; choose from {', '.join(AGGREGATORS)}"
            )
        # g is the objective's only reader of a level (given as a field or held in the spec)
        spec.check_level_read(given=fields.get("quantile") is not None)
        object.__setattr__(self, "neighbourhood", spec)
        object.__setattr__(self, "charge", check_flag(Param("charge"), charge))
        if stand_ins is not None:
            from nb201_flat.landscape.neighbourhood import StandIns

            if not isinstance(stand_ins, StandIns):
                raise AlgorithmError(
                    f"stand_ins must be a StandIns or None, got {type(stand_ins).__name__}; "
                    "build it with StandIns.of(table, dataset, epochs)"
                )
        object.__setattr__(self, "stand_ins", stand_ins)

    @property
    def radius(self) -> int:
        """Hamming radius."""
        return self.neighbourhood.radius

    @property
    def agg(self) -> str:
        """The aggregator g."""
        return self.neighbourhood.agg

    @property
    def quantile(self) -> float:
        """Level of ``agg="quantile"``."""
        return self.neighbourhood.quantile

    @property
    def include_self(self) -> bool:
        """The cell is a member of its neighbourhood."""
        return self.neighbourhood.include_self

    @property
    def exact(self) -> bool:
        """Neighbours at distance exactly ``radius``."""
        return self.neighbourhood.exact

    @property
    def no_none(self) -> bool:
        """No substitutions to ``none``."""
        return self.neighbourhood.no_none

    @property
    def connected_only(self) -> bool:
        """Connected neighbours only."""
        return self.neighbourhood.connected_only

    @property
    def label(self) -> str:
        return f"{self.neighbourhood.label},{'charged' if self.charge else 'free'}"

    def aggregate(self, values: FloatArray) -> float:
        """Aggregate one neighbourhood's values (NaN ignored; NaN if none), as the landscape does."""
        # imported here: the landscape layer loads pandas and scipy, which building the command
        # line (it reads this module's algorithm names) must not pay for
        from nb201_flat.landscape.neighbourhood import aggregate_members

        return aggregate_members(values, self.neighbourhood)

    def least_to_score(
        self, space: Space, costs: FloatArray | None = None
    ) -> tuple[int, float] | None:
        """With charged neighbours, what a run must pay before it can score any cell of
        ``space``: the fewest queries (a cell and its members) and the fewest seconds
        (``costs``: each cell's; None: 0) over its cells. A score needs every member's value,
        so a budget below either finds nothing.

        Where the members are not cached on the space (a large radius) both are lower
        bounds, never above what a cell costs: the fewest members counted without the whole
        matrix (:attr:`~nb201_flat.landscape.aggregates.NeighbourRows.fewest`), less the most
        own copies a cell may leave out (:attr:`stand_ins`), and the seconds of that many
        cheapest cells. None where even that count would cost too much (a space of many
        edges with a filter).
        """
        from nb201_flat.landscape.aggregates import NeighbourRows

        spec = self.neighbourhood
        rows = NeighbourRows(space, spec.radius, spec.exact, spec.no_none, spec.connected_only)
        if not rows.cached:
            fewest = rows.fewest
            if fewest is None:
                return None
            found = self.stand_ins
            if found is not None and found.n_copies:  # a cell leaves out its own group
                fewest -= int(np.bincount(found.group).max()) - 1
            queries = 1 + max(fewest, 0)
            if costs is None:
                return queries, 0.0
            # a cell and its members are distinct cells: no fewer seconds than the cheapest
            return queries, float(np.partition(costs, queries - 1)[:queries].sum())
        nb = self.arrays(space)
        queries = 1 + int(nb.counts.min())
        if costs is None:
            return queries, 0.0
        seconds = np.inf
        for start in range(0, space.size, 4096):  # a chunk of rows at a time: bounded memory
            idx = nb.indices[start : start + 4096]
            paid = costs[start : start + 4096] + np.where(idx >= 0, costs[idx], 0.0).sum(axis=1)
            seconds = min(seconds, float(paid.min()))
        return queries, seconds

    def arrays(self, space: Space) -> NeighbourArrays:
        """The members of every cell of ``space`` the objective reads, as padded index arrays:
        the neighbourhood's (:meth:`Neighbourhood.arrays
        <nb201_flat.neighbourhood.Neighbourhood.arrays>`), less each cell's own copies where
        :attr:`stand_ins` hold copies (:func:`~nb201_flat.neighbours.own_left_out`: cached
        on the space, the stand-ins checked against it once). What the compiled searches read.
        """
        nb = self.neighbourhood.arrays(space)
        found = self.stand_ins
        if found is None or not found.n_copies:
            return nb
        from nb201_flat.neighbours import own_left_out

        return own_left_out(space, nb, found)

    def rows(self, space: Space) -> MemberRows:
        """The same members as :meth:`arrays`, a cell at a time (``of(index)``): what the loop
        reads. Where the space would not cache the whole index matrix (a large radius) the
        rows are rebuilt per cell, less the cell's own copies by the same rule
        (:meth:`StandIns.own <nb201_flat.landscape.stand_ins.StandIns.own>`)."""
        # imported here: the landscape layer loads pandas, which building the command line
        # must not pay for
        from nb201_flat.landscape.aggregates import NeighbourRows

        spec = self.neighbourhood
        rows = NeighbourRows(space, spec.radius, spec.exact, spec.no_none, spec.connected_only)
        found = self.stand_ins
        if found is None or not found.n_copies:
            return rows
        if rows.cached:
            return self.arrays(space)
        found.check_covers(space.size)
        return _OwnLeftOutRows(rows, found)


class MemberRows(Protocol):
    """A reader of each cell's NA members (:meth:`NeighbourObjective.rows`)."""

    def of(self, index: int) -> npt.NDArray[np.int32]: ...


@dataclass(frozen=True, slots=True)
class _OwnLeftOutRows:
    """Rows rebuilt per cell (a large radius), less the cell's own copies."""

    rows: NeighbourRows
    stand_ins: StandIns

    def of(self, index: int) -> npt.NDArray[np.int32]:
        nbrs = self.rows.of(index)
        kept: npt.NDArray[np.int32] = nbrs[~self.stand_ins._own(nbrs, index)]
        return kept


def proposes_every_cell(algorithm: object) -> bool:
    """Whether ``algorithm`` is one of this module's searches, each of which proposes every
    cell of its sampling domain in the end: its cache hits count toward the stall guard only
    once the domain is cached (:class:`~nb201_flat.search.oracle.StallGuard`); any other
    search's count from the first."""
    # the classes themselves: a subclass may override search and propose otherwise
    return type(algorithm) in (
        RandomSearch,
        NARandomSearch,
        NABestEvaluatedSearch,
        RegularizedEvolution,
        LocalSearch,
    )


class _Memory:
    """What one run has learnt: paid values and free look-ups, and NA scores on top."""

    __slots__ = (
        "_free_m",
        "_free_v",
        "_nb",
        "_obj",
        "_paid_m",
        "_paid_v",
        "_stall",
        "oracle",
    )

    def __init__(self, oracle: Oracle, objective: NeighbourObjective | None) -> None:
        self.oracle = oracle
        self._obj = objective
        n = oracle.size
        self._paid_v = np.full(n, np.nan)
        self._paid_m = np.zeros(n, dtype=bool)
        self._free_v = np.full(n, np.nan)
        self._free_m = np.zeros(n, dtype=bool)
        self._stall = oracle.stall_guard()  # the oracle's rule: revisits spend nothing
        # rows on demand: a large radius never caches its whole index matrix on the space
        self._nb = None if objective is None else objective.rows(oracle.space)

    def members(self, index: int) -> npt.NDArray[np.int32]:
        """The neighbours of ``index`` the objective reads: without the members holding its own
        measurement (a retraining table's copies: :attr:`NeighbourObjective.stand_ins`)."""
        assert self._nb is not None  # an objective is set
        return self._nb.of(index)

    def own(self, index: int) -> float:
        """The cell's value, trained (charged) once per run."""
        if self._paid_m[index]:
            self._stall.idle(IDLE_REVISIT)
            return float(self._paid_v[index])
        v = self.oracle.query(index)
        self._paid_v[index] = v
        self._paid_m[index] = True
        # a new cell counts as progress here, even a free one: there is one a cell, so the
        # oracle's own guard (which counts free queries) cannot fire under a memory
        self._stall.step(True)
        return v

    def restart_stall(self) -> None:
        """After a stall, the memory's guard counts again
        (:meth:`~nb201_flat.search.oracle.StallGuard.restart`)."""
        if self._stall.ended:
            self._stall.restart()

    def values(self, indices: npt.NDArray[np.int32], charge: bool) -> FloatArray:
        """Values of several cells: charged one by one, or looked up free (paid first)."""
        if charge:
            return np.array([self.own(j) for j in indices.tolist()], dtype=np.float64)
        paid = self._paid_m[indices]
        need = ~paid & ~self._free_m[indices]
        if need.any():
            new = indices[need]  # a neighbourhood lists each cell once
            self._free_v[new] = self.oracle.query_free(new)
            self._free_m[new] = True
        out: FloatArray = np.where(paid, self._paid_v[indices], self._free_v[indices])
        return out

    def score(self, index: int) -> float:
        """The objective: own value, or the NA aggregate when an objective is set."""
        own = self.own(index)
        if self._obj is None or self._nb is None:
            return own
        nb = self.values(self.members(index), self._obj.charge)
        vals = np.concatenate(([own], nb)) if self._obj.include_self else nb
        return self._obj.aggregate(vals)


def _na_label(base: str, objective: NeighbourObjective | None) -> str:
    return base if objective is None else f"na-{base}[{objective.label}]"


# -- random search ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RandomSearch:
    """NB201's random search: sample uniformly (with replacement), keep the best validation."""

    name: ClassVar[str] = "rs"

    @property
    def label(self) -> str:
        return "rs"

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        while True:
            i = oracle.sample(rng)
            incumbent.offer(i, oracle.query(i))


@dataclass(frozen=True, slots=True, eq=False)
class NARandomSearch:
    """Neighbourhood-aware random search.

    One stage (``rerank_top_k=None``): every sampled cell is scored by the NA objective and
    the best score wins. Two stages (``rerank_top_k=k``): random search by validation, then
    the top ``k`` distinct cells are re-ranked by the NA objective. With charged neighbours the
    first stage stops once ``stage1_fraction`` of the budget is used (None: half), leaving the
    rest for the re-ranking; with free neighbours, or one stage, it uses the whole budget, and
    a ``stage1_fraction`` given there is refused (it would change nothing).

    With charged neighbours, a cell whose neighbourhood cannot be completed within the budget
    is never scored (its partial values are discarded); the incumbent is the best cell whose
    score was completed. Two stages: stage 1's validation values only rank the candidates,
    so a run whose stage 2 completes no neighbourhood found nothing.
    """

    objective: NeighbourObjective = field(default_factory=NeighbourObjective)
    rerank_top_k: int | None = None
    stage1_fraction: float | None = None

    name: ClassVar[str] = "na-rs"

    def __post_init__(self) -> None:
        _check_objective(self.objective, optional=False)
        k, frac = _check_two_stage(self.rerank_top_k, self.stage1_fraction, self.objective.charge)
        object.__setattr__(self, "rerank_top_k", k)
        object.__setattr__(self, "stage1_fraction", frac)  # kept None: replace() may drop it

    def __eq__(self, other: object) -> bool:
        # by what it does: stage1_fraction=None and 0.5 search alike (as their labels say)
        if not isinstance(other, NARandomSearch):
            return NotImplemented
        return self._identity == other._identity

    def __hash__(self) -> int:
        return hash(self._identity)

    @property
    def _identity(self) -> tuple[object, ...]:
        return (self.objective, self.rerank_top_k, self.stage1_share)

    @property
    def _split(self) -> bool:
        """Two stages with charged neighbours: the only case where stage 1 stops early."""
        return self.rerank_top_k is not None and self.objective.charge

    @property
    def stage1_share(self) -> float:
        """The budget share stage 1 may use: ``stage1_fraction`` (default 0.5) with two stages
        and charged neighbours, else 1.0 (the whole budget)."""
        if not self._split:
            return 1.0
        return 0.5 if self.stage1_fraction is None else self.stage1_fraction

    @property
    def label(self) -> str:
        if self.rerank_top_k is None:
            return _na_label("rs", self.objective)
        extra = f",top{self.rerank_top_k}"
        if self.objective.charge:
            extra += f",s1={self.stage1_share:g}"
        return f"na-rs2[{self.objective.label}{extra}]"

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        mem = _Memory(oracle, self.objective)
        if self.rerank_top_k is None:
            while True:
                i = oracle.sample(rng)
                incumbent.offer(i, mem.score(i))
        seen: dict[int, float] = {}
        try:
            while not (self.objective.charge and oracle.used_fraction >= self.stage1_share):
                i = oracle.sample(rng)
                # stage 1 offers nothing: a validation value is not an NA score, and a run
                # whose stage 2 completes no neighbourhood found nothing (as one stage's)
                seen.setdefault(i, mem.own(i))
        except SearchEnded:
            if self.objective.charge:
                raise
            # a stalled stage 1 (its memory revisited known cells) still re-ranks: the guard
            # counts again from 0, and the run stays recorded as stalled
            mem.restart_stall()
        incumbent.ranked = len(seen)

        # stage 2: re-rank the top-k by validation (ranks_before: NaN last, below -inf;
        # stable: ties keep sampling order)
        cells = list(seen)
        for a in rank_order(list(seen.values()))[: int(self.rerank_top_k)]:
            incumbent.offer(cells[a], mem.score(cells[a]))


@dataclass(frozen=True, slots=True)
class NABestEvaluatedSearch:
    """NA-RS's evaluations, returning the best *validation* cell among all of them.

    It samples centres and evaluates each centre and its neighbourhood exactly as one-stage
    :class:`NARandomSearch` does (same stream, same cells, same charges), but its incumbent is
    the cell with the best validation value among everything it evaluated, centres and
    neighbours, charged or free. So it is random search over the centres' neighbourhoods:
    what NA-RS's evaluations are worth without any neighbourhood selection, the control that
    issue 17's accounting needs. With charged neighbours, evaluations made before the budget
    ran out count, even inside an unfinished neighbourhood.

    Examples
    --------
    >>> NABestEvaluatedSearch().label
    'na-rs-best[r1,mean,noself,free]'
    """

    objective: NeighbourObjective = field(default_factory=NeighbourObjective)

    name: ClassVar[str] = "na-rs-best"

    def __post_init__(self) -> None:
        _check_objective(self.objective, optional=False)

    @property
    def label(self) -> str:
        return f"na-rs-best[{self.objective.label}]"

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        mem = _Memory(oracle, self.objective)
        charge = self.objective.charge
        while True:
            i = oracle.sample(rng)
            incumbent.offer(i, mem.own(i))
            # the same members NARandomSearch scores with, chosen by _Memory from the objective
            nbrs = mem.members(i)
            if charge:
                for j in nbrs.tolist():
                    incumbent.offer(j, mem.own(j))
            else:
                for j, v in zip(nbrs.tolist(), mem.values(nbrs, False).tolist(), strict=True):
                    incumbent.offer(j, v)


# -- regularised evolution ---------------------------------------------------------------------
def mutate(
    space_codes: npt.NDArray[np.uint8],
    n_nodes: int,
    n_ops: int,
    index: int,
    rng: np.random.Generator,
    mutation: Mutation = "node-then-edge",
) -> tuple[int, ...]:
    """Op codes of a one-op mutation of cell ``index``.

    ``node-then-edge`` is NB201's ``mutate_arch_func``: a node 1..n-1 uniformly, then one of its
    input edges uniformly (so edges into early nodes are likelier), then a different op
    uniformly. ``uniform-edge`` picks the edge uniformly.
    """
    codes = [int(c) for c in space_codes[index]]
    if mutation == "node-then-edge":
        node = int(rng.integers(1, n_nodes))
        src = int(rng.integers(node))
        # edges are ordered by target node, then source: (0,1),(0,2),(1,2),(0,3),...
        e = node * (node - 1) // 2 + src
    elif mutation == "uniform-edge":
        e = int(rng.integers(len(codes)))
    else:  # a typo or None mutated as uniform-edge, without a word
        raise AlgorithmError(
            f"mutation must be 'node-then-edge' or 'uniform-edge', got {shown(mutation)}"
        )
    r = int(rng.integers(n_ops - 1))
    codes[e] = r if r < codes[e] else r + 1
    return tuple(codes)


def check_tournament(population: int, sample_size: int) -> None:
    """REA's tournament rule, the library's and the command line's: at most ``population``
    members drawn. The draws are with replacement, so a larger tournament would run, but it
    would pick the population's fittest nearly every time: greedy evolution, not NB201's.

    >>> check_tournament(2, 3)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: sample_size=3 exceeds population=2: a tournament draws its members from the population; lower sample_size or raise population
    """
    if sample_size > population:
        raise AlgorithmError(
            Param("sample_size", sample_size),
            " exceeds ",
            Param("population", population),
            ": a tournament draws its members from the population; lower ",
            Param("sample_size"),
            " or raise ",
            Param("population"),
        )


def keeps_paid_cells(algo: object) -> bool:
    """Whether ``algo`` keeps every cell it paid for in a run (NA forms, local search): a
    revisit is free, so a protocol's ``repeats`` never applies to it. RS and plain REA ask
    the oracle again, which charges a repeat under ``repeats="charge"`` (NB201's rule)."""
    if isinstance(algo, RegularizedEvolution):
        return algo.objective is not None
    return isinstance(algo, NARandomSearch | NABestEvaluatedSearch | LocalSearch)


@dataclass(frozen=True, slots=True)
class RegularizedEvolution:
    """NB201's regularised evolution (aging tournament), or its NA form with ``objective``.

    A population of ``population`` random cells; each cycle draws ``sample_size`` members with
    replacement, mutates the fittest (NaN fitness ranks last; ties keep the first drawn), adds
    the child and removes the oldest. The incumbent is
    the fittest cell ever evaluated. NB201 uses population 10, sample size 3.
    """

    population: int = 10
    sample_size: int = 3
    mutation: Mutation = "node-then-edge"
    objective: NeighbourObjective | None = None

    def __post_init__(self) -> None:
        _check_objective(self.objective, optional=True)
        # whole counts, bounded: 2.5 ran as 3 (or 2 in the compiled search), and a population
        # of 10**9 allocated gigabytes
        for name in ("population", "sample_size"):
            n = check_int_range(
                Param(name),
                getattr(self, name),
                1,
                MAX_POPULATION,
                fix="NB201 uses population 10, sample 3",
            )
            object.__setattr__(self, name, n)
        check_tournament(self.population, self.sample_size)
        if not isinstance(self.mutation, str) or self.mutation not in (
            "node-then-edge",
            "uniform-edge",
        ):
            raise AlgorithmError(
                f"mutation must be 'node-then-edge' or 'uniform-edge', got {shown(self.mutation)}"
            )

    @property
    def name(self) -> str:
        return "rea" if self.objective is None else "na-rea"

    @property
    def label(self) -> str:
        base = _na_label("rea", self.objective)
        parts = (
            []
            if (self.population, self.sample_size) == (10, 3)
            else [f"p{self.population}", f"s{self.sample_size}"]
        )
        if self.mutation != "node-then-edge":  # NB201's: its runs were labelled "rea" too
            parts.append(self.mutation)
        return f"{base}({','.join(parts)})" if parts else base

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        space = oracle.space
        mem = _Memory(oracle, self.objective) if self.objective is not None else None

        def fitness(i: int) -> float:
            return oracle.query(i) if mem is None else mem.score(i)

        pop: deque[tuple[int, float]] = deque()
        while len(pop) < self.population:
            i = oracle.sample(rng)
            f = fitness(i)
            pop.append((i, f))
            incumbent.offer(i, f)
        codes = space.codes
        while True:
            best_i, best_f = -1, -np.inf
            for _ in range(self.sample_size):
                i, f = pop[int(rng.integers(len(pop)))]
                # the first drawn, replaced by each strictly fitter one; NaN ranks last (as
                # Incumbent's: an unmeasured member never beats a measured one)
                if best_i < 0 or ranks_before(f, best_f):
                    best_i, best_f = i, f
            child = space.index_of_codes(
                mutate(codes, space.n_nodes, space.n_ops, best_i, rng, self.mutation)
            )
            f = fitness(child)
            incumbent.children += 1
            pop.append((child, f))
            pop.popleft()
            incumbent.offer(child, f)


# -- local search ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LocalSearch:
    """Hill climbing on the one-op neighbourhood, with random restarts at local optima.

    From a random cell, evaluate its one-op neighbours in random order and move to the best
    (``first_improvement=False``) or the first better one; at a local optimum restart from a
    new random cell. With ``objective``, cells are compared by the NA objective (NA-LS). The
    incumbent is the best-scored cell ever evaluated. Visited cells are not re-trained.
    """

    first_improvement: bool = False
    objective: NeighbourObjective | None = None

    def __post_init__(self) -> None:
        _check_objective(self.objective, optional=True)
        object.__setattr__(
            self,
            "first_improvement",
            check_flag(Param("first_improvement"), self.first_improvement),
        )

    @property
    def name(self) -> str:
        return "ls" if self.objective is None else "na-ls"

    @property
    def label(self) -> str:
        return _na_label("ls", self.objective) + ("(first)" if self.first_improvement else "")

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        mem = _Memory(oracle, self.objective)
        one_op = oracle.space.neighbours(1)
        while True:
            x = oracle.sample(rng)
            fx = mem.score(x)
            incumbent.offer(x, fx)
            while True:
                nbrs = one_op.of(x)
                best_y, best_f = -1, fx
                for y in nbrs[rng.permutation(len(nbrs))].tolist():
                    fy = mem.score(y)
                    incumbent.offer(y, fy)
                    if fy > best_f:
                        best_y, best_f = y, fy
                        if self.first_improvement:
                            break
                if best_y < 0:
                    break
                x, fx = best_y, best_f


# -- a retraining table's stand-ins -----------------------------------------------------------
#: the searches whose NA objective reads its members (:meth:`NeighbourObjective.arrays`, ``rows``)
_READS_MEMBERS = (NARandomSearch, NABestEvaluatedSearch, RegularizedEvolution, LocalSearch)


def check_cells(cells: object) -> list[tuple[SearchProtocol, str, SearchAlgorithm]]:
    """``cells`` as a list of (protocol, label, algorithm) triples (a list ``[p, label,
    algo]`` as well: run_cells always took one); a bare cell, a string or a pair met a bare
    TypeError or ValueError when unpacked."""
    what = "(protocol, label, algorithm) triples"
    out = []
    for cell in as_sequence(Param("cells"), cells, what):
        if isinstance(cell, str) or not isinstance(cell, Sequence) or len(cell) != 3:
            raise AlgorithmError(
                Param("cells"),
                f" must hold {what}, got {shown(cell)}; pass e.g. "
                "[(protocol, 'rs', RandomSearch())]",
            )
        protocol, label, algorithm = cell
        if not isinstance(label, str) or not isinstance(algorithm, SearchAlgorithm):
            raise AlgorithmError(
                Param("cells"),
                f" must hold {what} (a str label, a SearchAlgorithm), got {shown(cell)}",
            )
        out.append((protocol, label, algorithm))
    return out


def with_stand_ins(
    table: Table, cells: Sequence[tuple[SearchProtocol, str, SearchAlgorithm]]
) -> list[tuple[SearchProtocol, str, SearchAlgorithm]]:
    """``cells`` (as :func:`~nb201_flat.search.runner.run_cells` takes them) with each NA
    objective given the stand-ins of ``table``'s searched vector
    (:meth:`~nb201_flat.landscape.neighbourhood.StandIns.of` at the protocol's search dataset
    and epochs), so that a retraining table's copies of a cell are no neighbours of it.

    A cell stays the same object where nothing changes: no NA objective, an objective that
    already holds stand-ins (given by the caller), or a table recording no copies for that
    vector. Labels stay: they name the search, the stand-ins are the table's. The runner
    applies this to every search it runs.
    """
    from nb201_flat.landscape.neighbourhood import StandIns
    from nb201_flat.table import check_table

    check_table(table)
    cells = check_cells(cells)
    # a key the table lacks has no stand-ins: its protocol's own check refuses it (in the
    # runner's words, which StandIns.of's refusal of an unknown key would pre-empt)
    held = {(k.dataset, k.epochs) for k in table}
    found: dict[tuple[str, int], StandIns | None] = {}
    made: dict[tuple[int, str, int], SearchAlgorithm] = {}
    out = []
    for p, label, a in cells:
        obj = getattr(a, "objective", None)
        if isinstance(a, _READS_MEMBERS) and isinstance(obj, NeighbourObjective):
            at = (p.search.dataset, int(p.search.epochs))
            if at not in found:
                found[at] = StandIns.of(table, *at) if at in held else None
            stand = found[at]
            if obj.stand_ins is None and stand is not None and stand.n_copies:
                key = (id(a), *at)
                if key not in made:  # one object per algorithm and vector: the runner's unit
                    given = NeighbourObjective(obj.neighbourhood, obj.charge, stand_ins=stand)
                    made[key] = replace(a, objective=given)
                a = made[key]
        out.append((p, label, a))
    return out


# -- construction by name ----------------------------------------------------------------------
_OBJECTIVE_OPTIONS = frozenset({*FIELDS, "neighbourhood", "charge"})

#: CLI name -> the options :func:`make_algorithm` takes for it (the CLI names their flags)
ALGORITHM_OPTIONS: dict[str, frozenset[str]] = {
    "rs": frozenset(),
    "na-rs": _OBJECTIVE_OPTIONS | {"rerank_top_k", "stage1_fraction"},
    "rea": frozenset({"population", "sample_size", "mutation"}),
    "na-rea": _OBJECTIVE_OPTIONS | {"population", "sample_size", "mutation"},
    "ls": frozenset({"first_improvement"}),
    "na-ls": _OBJECTIVE_OPTIONS | {"first_improvement"},
}


def _check_two_stage(
    rerank_top_k: Any, stage1_fraction: Any, charge: bool
) -> tuple[int | None, float | None]:
    """NA-RS's two-stage options, checked."""
    k = rerank_top_k
    if k is not None:  # a whole count: 2.5 re-ranked the top 2 under the label top2.5
        k = check_int_range(Param("rerank_top_k"), k, 1, fix="pass e.g. 10")
    if stage1_fraction is None:
        return k, None
    stage1 = Param("stage1_fraction")
    # 1 left stage 2 no budget: every run found nothing, refused only after all of them
    frac = check_float_range(
        stage1,
        stage1_fraction,
        0.0,
        1.0,
        lo_open=True,
        hi_open=True,
        fix="the budget share of stage 1, below 1 as stage 2 re-ranks with the rest, e.g. 0.5",
    )
    if k is None or not charge:  # it was silently ignored: stage 1 takes the whole budget
        needs = [Param("rerank_top_k", placeholder="K")] if k is None else []
        needs += [] if charge else [Param("charge", True)]
        raise AlgorithmError(
            stage1,
            " applies only to two-stage na-rs with charged neighbours, otherwise stage 1 uses "
            "the whole budget; add ",
            *joined(needs, " and "),
            " or drop it",
        )
    return k, frac


def check_algorithm_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options (None: not given) that ``name`` takes, or :class:`AlgorithmError` naming
    those it does not (as :class:`~nb201_flat.errors.Param`: a command names its flags)."""
    if not isinstance(name, str) or name not in ALGORITHM_OPTIONS:  # a list: unhashable
        from nb201_flat.table import _same_but_spelling

        close = _same_but_spelling(name, list(ALGORITHM_NAMES)) if isinstance(name, str) else []
        raise AlgorithmError(
            f"unknown algorithm {shown(name)}{f' (did you mean {close[0]!r}?)' if close else ''}; "
            f"choose from {', '.join(ALGORITHM_NAMES)}"
        )
    allowed = ALGORITHM_OPTIONS[name]
    opts = {k: v for k, v in options.items() if v is not None}
    extra = tuple(Param(k) for k in opts if k not in allowed)
    if extra:
        one = len(extra) == 1
        raise AlgorithmError(
            ParamList(extra),
            f" {'does' if one else 'do'} not apply to ",
            Param("name", name),
            f"; drop {'it' if one else 'them'} ({name} takes ",
            ParamList(tuple(Param(k) for k in allowed), empty="no algorithm options"),
            ")",
        )
    return opts


def make_algorithm(name: str, **options: Any) -> SearchAlgorithm:
    """Build an algorithm from its CLI name and options.

    ``rs`` takes none; ``na-rs``: the :class:`NeighbourObjective` fields (``neighbourhood``, a
    :class:`~nb201_flat.neighbourhood.Neighbourhood`, and/or its fields one by one) plus ``rerank_top_k``,
    ``stage1_fraction``; ``rea``/``na-rea``: ``population``, ``sample_size``, ``mutation``
    (+ objective fields for ``na-rea``); ``ls``/``na-ls``: ``first_improvement`` (+ objective).
    Options that do not apply raise :class:`AlgorithmError`.
    """
    opts = check_algorithm_options(name, options)
    obj = {k: v for k, v in opts.items() if k in _OBJECTIVE_OPTIONS}
    rest = {k: v for k, v in opts.items() if k not in _OBJECTIVE_OPTIONS}
    if name == "rs":
        return RandomSearch()
    if name == "na-rs":
        return NARandomSearch(NeighbourObjective(**obj), **rest)
    if name in ("rea", "na-rea"):
        return RegularizedEvolution(
            objective=NeighbourObjective(**obj) if name == "na-rea" else None, **rest
        )
    return LocalSearch(objective=NeighbourObjective(**obj) if name == "na-ls" else None, **rest)
