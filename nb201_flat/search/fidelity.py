"""Multi-fidelity search: a budgeted oracle over learning curves, and Hyperband.

:class:`FidelityOracle` answers "train architecture ``i`` for ``e`` epochs and tell me its
validation value after epoch ``e``", as NATS-Bench's ``simulate_train_eval(arch, dataset,
iepoch=e - 1, hp=...)`` does (nats_bench 1.8, ``api_utils.py``), and charges ``e`` epochs'
training time (the stored per-epoch ``train_times`` of that architecture, summed over the
first ``e`` epochs). With ``resume=True`` a run continues an architecture's earlier training
and pays only for the epochs beyond those already paid for (Hyperband with checkpoints).

What a search can never see: the value after an epoch it has not paid for, any other split,
the test metric, the curves themselves (any attribute beyond the public surface raises
:class:`~nb201_flat.search.oracle.HiddenDataError`). The budget rule is the plain oracle's: a
query that would go past the budget is refused, uncounted, and ends the search
(:class:`~nb201_flat.search.oracle.BudgetExhausted`).

:class:`Hyperband` (Li et al., JMLR 2018, Algorithm 1) is the worked example: brackets of
successive halving over epochs, ``eta`` = 3 by default, on the stored schedule's epochs.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> from nb201_flat.table import MetricKey
>>> s = Space(("a", "b", "c"), 3)                      # 27 cells
>>> curves = np.linspace(0, 1, 4)[None, None, :] * np.arange(27.0)[None, :, None]
>>> data = FidelityData(s, MetricKey("toy", "x-valid", 4), curves,
...                     np.ones((27, 4)), budget_seconds=10.0, budget_queries=None)
>>> o = FidelityOracle(data, np.random.default_rng(0))
>>> o.query(9, epochs=2), o.seconds                    # value after epoch 2, 2 s charged
(3.0, 2.0)
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import numpy.typing as npt

from nb201_flat.conventions import CIFAR10_VALID
from nb201_flat.curves import require_curves
from nb201_flat.errors import (
    ArgumentError,
    Param,
    SearchBudgetError,
    check_flag,
    check_int_range,
    check_seed,
    shown,
    whole_number,
)
from nb201_flat.search.oracle import (
    IDLE_RESUMED,
    BudgetedRun,
    BudgetExhausted,
    HiddenDataError,
    SearchEnded,
    StallGuard,
    StallRecord,
    _check_generator,
    cheapest_paid,
    check_budgets,
    check_finite_values,
    check_some_paid,
    domain_mask,
    invalid_costs,
    rank_order,
    sampled_costs,
    sampling_domain,
    spends,
)
from nb201_flat.search.protocol import MAX_QUERIES_PER_CELL
from nb201_flat.space import Space, check_arch_index, check_space
from nb201_flat.table import MetricKey, Table, policy_seeds, renamed_seed
from nb201_flat.types import BoolArray, SeedPolicy
from nb201_flat.types import FloatArray as FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class FidelityData:
    """The arrays a multi-fidelity oracle answers from (shared by the runs of a protocol).

    Attributes
    ----------
    space
        The search space.
    key
        The validation curve answered (``epochs`` = the schedule).
    values
        Shape ``(rows, size, n_epochs)``: one row per stored seed (``random`` policy: each
        architecture's run follows one seed, drawn at its first query) or a single row.
    epoch_costs
        Seconds of each epoch, shape ``(size, n_epochs)``, or None (no time budget).
    budget_seconds, budget_queries
        Limits of one run (at least one is set).
    resume
        Continue earlier training of an architecture instead of re-training it.
    candidates
        Indices sampling draws from (uniform; each once), or None for the whole space.
    """

    space: Space
    key: MetricKey
    values: FloatArray
    epoch_costs: FloatArray | None
    budget_seconds: float | None
    budget_queries: int | None
    resume: bool = False
    candidates: npt.NDArray[np.int64] | None = None
    #: the sampling domain as a mask, and its cells (as :class:`OracleData`'s): a resumed
    #: query counts toward the stall guard once every one is trained to the last epoch
    domain: BoolArray = field(init=False, repr=False)
    domain_size: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the kinds first: a list of values met a bare AttributeError ('ndim'), a str key one
        # on 'metric'
        check_space(self.space)
        if not isinstance(self.key, MetricKey):
            raise SearchBudgetError(
                f"key must be a MetricKey, got {self.key!r:.60}; e.g. MetricKey('cifar10-valid', "
                "'x-valid', 200)"
            )
        for name in ("values", "epoch_costs"):
            given = getattr(self, name)
            if given is not None and not isinstance(given, np.ndarray):
                object.__setattr__(self, name, np.asarray(given, dtype=np.float64))
        if self.values.ndim != 3 or self.values.shape[1] != self.space.size:
            raise SearchBudgetError(
                f"fidelity values must have shape (rows, {self.space.size}, epochs)"
            )
        if self.epoch_costs is not None and self.epoch_costs.shape != self.values.shape[1:]:
            raise SearchBudgetError(f"epoch costs must have shape {self.values.shape[1:]}")
        check_finite_values(self.key, self.values)
        if self.key.metric != "accuracy":  # the searches keep the highest: a loss's worst cell
            raise SearchBudgetError(
                f"fidelity searches keep the highest value, so they search accuracy, not "
                f"{self.key.metric!r} (a loss's best is its lowest); pass metric='accuracy'"
            )
        object.__setattr__(self, "resume", check_flag("resume", self.resume))  # "no": yes
        # a NaN or infinite budget never ran out: Hyperband looped for ever
        bs, bq = check_budgets(self.budget_seconds, self.budget_queries)
        object.__setattr__(self, "budget_seconds", bs)
        object.__setattr__(self, "budget_queries", bq)
        if self.budget_seconds is not None and self.epoch_costs is None:
            raise SearchBudgetError("a time budget needs per-epoch costs")
        if self.candidates is not None:  # before they index the costs: 2.5 read cell 2
            object.__setattr__(
                self, "candidates", sampling_domain(self.candidates, self.space.size)
            )
        if self.epoch_costs is not None:
            # only the rows a run may sample: Hyperband queries no neighbours
            rows = np.arange(self.space.size) if self.candidates is None else self.candidates
            bad = invalid_costs(self.epoch_costs[rows])
            if bad.any():
                # a NaN cost would never exhaust the budget, a negative one would refund it:
                # refuse it up front, naming the first cell and epoch
                r, ep = (int(x[0]) for x in np.nonzero(bad))
                raise SearchBudgetError(
                    f"{int(bad.any(axis=1).sum())} architectures have no valid per-epoch time "
                    f"(NaN, infinite or negative; first: cell {int(rows[r])}, epoch {ep + 1} of "
                    f"1..{bad.shape[1]}: "
                    f"{float(self.epoch_costs[rows[r], ep])!r}); sample only measured ones "
                    "(fidelity_data(..., measured_only=True))"
                )
        # as the plain oracle's: all free, a time budget never ran out (Hyperband looped)
        check_some_paid(self.epoch_costs, self.candidates, self.budget_queries)
        self._check_first_query()
        self._check_work()
        dom = domain_mask(self.candidates, self.space.size)
        object.__setattr__(self, "domain", dom)
        object.__setattr__(self, "domain_size", int(dom.sum()))
        for arr in (self.values, self.epoch_costs, self.candidates, dom):
            if arr is not None:
                arr.setflags(write=False)

    def _check_first_query(self) -> None:
        """Refuse a time budget below the cheapest query (one epoch of the cheapest cell a run
        may sample): every run ended before its first query, with no incumbent (best -1),
        as :meth:`~nb201_flat.search.protocol.Protocol.oracle_data` refuses it."""
        if self.budget_seconds is None or self.epoch_costs is None:
            return
        cheapest = float(sampled_costs(self.epoch_costs, self.candidates)[:, 0].min())
        if self.budget_seconds < cheapest:
            raise SearchBudgetError(
                f"a time budget of {self.budget_seconds:g} s is less than the cheapest query "
                f"(one epoch, {cheapest:g} s): no run could query anything; raise "
                "budget_seconds"
            )

    def _check_work(self) -> None:
        """Refuse a budget that buys more than :data:`MAX_QUERIES_PER_CELL` x the space's
        cells in queries: the protocols' bound on a run's work (1e12 s ran Hyperband for ever).
        A time budget buys most queries at the cheapest paid epoch (a resumed query pays one).
        """
        most, why = math.inf, ""
        if self.budget_queries is not None:
            most, why = float(self.budget_queries), f"a budget of {self.budget_queries} queries"
        if self.budget_seconds is not None and self.epoch_costs is not None:
            cheapest = cheapest_paid(sampled_costs(self.epoch_costs, self.candidates).ravel())
            bought = self.budget_seconds / cheapest if cheapest else math.inf
            if bought < most:
                most = bought
                why = f"{self.budget_seconds:g} s at the cheapest epoch ({cheapest:g} s)"
        limit = MAX_QUERIES_PER_CELL * self.space.size
        if most > limit:
            raise SearchBudgetError(
                f"a fidelity run may make {most:.4g} queries ({why}), more than "
                f"{MAX_QUERIES_PER_CELL} x the space's {self.space.size:,} cells ({limit:,}); "
                "lower the budget (budget_seconds / budget_queries)"
            )

    @property
    def max_epochs(self) -> int:
        return int(self.values.shape[2])


def fidelity_data(
    table: Table,
    dataset: str = CIFAR10_VALID,
    split: str = "x-valid",
    epochs: int = 200,
    *,
    metric: str = "accuracy",
    seed_policy: SeedPolicy | None = None,
    budget_seconds: float | None = None,
    budget_queries: int | None = None,
    resume: bool = False,
    measured_only: bool = False,
    seed: SeedPolicy | None = None,
) -> FidelityData:
    """:class:`FidelityData` from a table's learning curves.

    Costs are the mean per-epoch training time of ``dataset`` (``train`` ``epoch_time_s``);
    a time budget on a table without them is an error. Tables without curves raise
    :class:`~nb201_flat.errors.NoCurvesError`. ``measured_only`` samples only architectures
    with a curve and, where times are stored, per-epoch times that can be charged
    (:func:`~nb201_flat.search.oracle.invalid_costs`: not NaN, infinite or negative), under
    any budget (for partial tables and for the v1_0 runs stored without ``train_times``).
    ``seed_policy``: ``"random"`` (default: each run follows one stored seed's curves),
    ``"mean"`` or a stored seed (``seed=`` is its deprecated old name).
    """
    policy = renamed_seed(seed_policy, seed)
    if policy is None:
        policy = "random"
    measured_only = check_flag("measured_only", measured_only)  # "no" limited the sampling
    curves = require_curves(table)
    key = curves.key(dataset, split, epochs, metric)
    # an int seed the curves lack: UnknownKeyError naming the mean as the way out
    mean = Param("seed_policy", "mean")
    seeds = policy_seeds(key, policy, curves.seeds(key), fix=("use ", mean))
    if policy == "random":
        if not seeds:  # no fallback to the mean here: Hyperband's runs follow one seed each
            raise SearchBudgetError(f"{key} has no per-seed curves; use ", mean)
        values = np.stack([curves.curve(key, seed_policy=s) for s in seeds])
    else:
        values = curves.curve(key, seed_policy=seeds[0] if seeds else "mean")[None]
    costs = None
    time_key = MetricKey(dataset, "train", epochs, "epoch_time_s")
    if time_key in curves:
        costs = np.array(curves.curve(time_key, seed_policy="mean")[:, : values.shape[2]])
    elif budget_seconds is not None:
        raise SearchBudgetError(
            f"a time budget needs per-epoch training times, and {time_key} is not stored; "
            "pass budget_queries instead"
        )
    candidates = None
    if measured_only:
        ok = ~np.isnan(values[:, :, -1]).all(axis=0)
        if costs is not None:
            # the shared cost rule (oracle.invalid_costs): a NaN, infinite or negative time
            # cannot be charged, so such a cell is not sampled. Under a query budget too:
            # FidelityData refuses any sampled cell whose time cannot be charged (v1_0 runs
            # may lack train_times; a negative time was kept and then refused)
            ok &= ~invalid_costs(costs).any(axis=1)
        if not ok.any():
            raise SearchBudgetError(
                f"no architecture has a curve of {key}"
                + (f" and valid per-epoch times in {time_key}" if costs is not None else "")
                + "; import a table with measured curves"
            )
        candidates = np.flatnonzero(ok).astype(np.int64)
    return FidelityData(
        table.space,
        key,
        np.array(values),
        costs,
        budget_seconds,
        budget_queries,
        resume,
        candidates,
    )


_PUBLIC = frozenset(
    {
        "space",
        "size",
        "key",
        "max_epochs",
        "query",
        "sample",
        "paid_epochs",
        "queries",
        "seconds",
        "budget_seconds",
        "budget_queries",
        "used_fraction",
        "exhausted",
        "stalled",
        "stall_kinds",
    }
)


class FidelityOracle(BudgetedRun):
    """One run's budgeted access to validation values after a chosen number of epochs.

    Parameters
    ----------
    data
        The protocol's arrays.
    rng
        The run's own stream for seed draws (``random`` policy).
    outside
        As :class:`~nb201_flat.search.oracle.Oracle`'s: the queries may come from a search not
        of this package, which may ask for epochs already paid for, for ever; every such query
        is then an idle step of the stall guard. :func:`run_fidelity` passes ``False`` for
        :class:`Hyperband`, whose last bracket trains every cell it samples to the end.
    """

    __slots__ = (
        "_closed",
        "_data",
        "_outside",
        "_paid",
        "_queries",
        "_rng",
        "_rows",
        "_seconds",
        "_stall",
        "_unfinished",
    )

    _data: FidelityData

    def __init__(
        self, data: FidelityData, rng: np.random.Generator, *, outside: bool = True
    ) -> None:
        if not isinstance(data, FidelityData):
            raise ArgumentError(Param("data"), f" must be a FidelityData, got {shown(data)}")
        _check_generator(rng)  # an int failed at the first query ('choice')
        self._data = data
        self._outside = check_flag("outside", outside)  # as Oracle's: "no" read as yes
        self._rng = rng
        self._queries = 0
        self._seconds = 0.0
        self._stall = StallGuard(data.space.size)
        self._closed = False
        self._paid: dict[int, int] = {}
        self._rows: dict[int, int] = {}
        self._unfinished = data.domain_size  # domain cells not trained to the last epoch

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        raise HiddenDataError(
            f"the fidelity oracle has no {name!r}: a search sees only {self._data.key} after "
            f"the epochs it paid for, through query(); public surface: {', '.join(sorted(_PUBLIC))}"
        )

    def __reduce__(self) -> NoReturn:
        raise SearchBudgetError("a FidelityOracle is one run's state and cannot be pickled")

    # the rest of what a search may know: BudgetedRun's
    @property
    def max_epochs(self) -> int:
        """Epochs of the stored schedule: the highest fidelity."""
        return self._data.max_epochs

    @property
    def stall_kinds(self) -> int:
        """The :data:`~nb201_flat.search.oracle.IDLE_FREE`... bits of the idle steps of the
        run's stall (0 when it did not stall), as :class:`~nb201_flat.search.oracle.Oracle`'s."""
        return self._stall.stalled_kinds

    def paid_epochs(self, index: int) -> int:
        """The most epochs of ``index`` this run has paid for (0 if never trained)."""
        return self._paid.get(check_arch_index(index, self.size), 0)  # int() truncates 2.5

    def sample(self, rng: np.random.Generator) -> int:
        """One index drawn uniformly from the sampling domain (the space, or the candidates)."""
        cand = self._data.candidates
        if cand is None:
            return int(rng.integers(self._data.space.size))
        return int(cand[int(rng.integers(len(cand)))])

    def query(self, index: int, epochs: int) -> float:
        """Train ``index`` for ``epochs`` epochs (1..max_epochs); charge it; return the value.

        Raises
        ------
        BudgetExhausted
            The query would go past the budget (then and for every later call).
        SearchStalled
            The run has gone :func:`~nb201_flat.search.oracle.stall_limit` queries in a row
            without spending budget (epochs already paid for with ``resume``, or that cost
            0 s under a time budget); the query is not charged, and the run is over.
        SearchBudgetError
            ``epochs`` not a whole number in 1..max_epochs (3.0 is 3).
        """
        if self._closed:
            raise BudgetExhausted("budget spent: the search has ended and may not train more")
        self._stall.check()
        i = check_arch_index(index, self.size)  # int() would truncate 2.5 to cell 2
        d = self._data
        e = check_epochs(epochs, d.max_epochs)  # 3.0 is 3; 2.5 refused, never truncated
        start = min(self._paid.get(i, 0), e) if d.resume else 0
        cost = 0.0 if d.epoch_costs is None else float(d.epoch_costs[i, start:e].sum())
        if (d.budget_queries is not None and self._queries + 1 > d.budget_queries) or (
            d.budget_seconds is not None and self._seconds + cost > d.budget_seconds
        ):
            self._closed = True
            raise BudgetExhausted(
                f"budget spent: {self._queries} queries, {self._seconds:.1f} s of "
                f"{d.budget_seconds} s / {d.budget_queries} queries"
            )
        # the plain oracle's stall rule: free queries alone would never end a time budget;
        # epochs already paid for (resume) count as its cache hits do, only once every cell
        # of the domain is trained to the last epoch (StallGuard)
        spent = spends(self._seconds, cost, d.budget_queries)
        paid = self._paid.get(i, 0)
        if spent or start < e:
            self._stall.step(spent)
        elif self._outside or not self._unfinished:
            self._stall.idle(IDLE_RESUMED)
        self._queries += 1
        self._seconds += cost
        if e > paid:
            self._paid[i] = e
            self._unfinished -= bool(e == d.max_epochs and d.domain[i])
        # only now, with e epochs paid for, is the value after epoch e read
        return float(d.values[self._row(i), i, e - 1])

    def _row(self, i: int) -> int:
        if self._data.values.shape[0] == 1:
            return 0
        if i not in self._rows:  # one training run per architecture: its seed is drawn once
            present = np.flatnonzero(~np.isnan(self._data.values[:, i, -1]))
            self._rows[i] = int(self._rng.choice(present)) if present.size else 0
        return self._rows[i]


def check_epochs(epochs: object, max_epochs: int) -> int:
    """``epochs`` as a fidelity of the stored schedule: a whole number in ``1..max_epochs``
    (:func:`~nb201_flat.errors.whole_number`: 3.0 is 3; 2.5 is refused, never truncated),
    else :class:`~nb201_flat.errors.SearchBudgetError` (the oracle's documented contract).

    >>> check_epochs(3.0, 9)
    3
    """
    e = whole_number(epochs)
    if e is None or not 1 <= e <= max_epochs:
        raise SearchBudgetError(
            f"epochs must be a whole number in 1..{max_epochs} (the stored schedule), "
            f"got {shown(epochs)}"
        )
    return e


class FidelityIncumbent:
    """The best architecture so far: highest fidelity first, then the best value there."""

    __slots__ = ("changes", "epochs", "index", "oracle", "score")

    def __init__(self, oracle: FidelityOracle) -> None:
        self.oracle = oracle
        self.index = -1
        self.epochs = 0
        self.score = -np.inf
        self.changes: list[tuple[float, int, int]] = []

    def offer(self, index: int, epochs: int, score: float) -> bool:
        """Take ``index`` if it was seen at more epochs, or as many with a better value."""
        # the oracle's rules: int() took 2.5 for cell 2 (and 3.5 epochs for 3) without a word;
        # checked in full only off the common path (plain ints in range), as offers are many
        o = self.oracle
        if not (type(index) is int and 0 <= index < o.size):
            index = check_arch_index(index, o.size)
        if not (type(epochs) is int and 1 <= epochs <= o.max_epochs):
            epochs = check_epochs(epochs, o.max_epochs)
        if math.isnan(score):
            return False
        if epochs > self.epochs or (epochs == self.epochs and score > self.score):
            self.epochs, self.score = epochs, float(score)
            if index != self.index:
                self.index = index
                self.changes.append((self.oracle.seconds, self.oracle.queries, self.index))
            return True
        return False


@dataclass(frozen=True, slots=True)
class Hyperband:
    """Hyperband over training epochs (Li et al., JMLR 2018, Algorithm 1).

    Attributes
    ----------
    eta
        Halving rate (keep the best 1/eta at each rung).
    min_epochs
        The lowest fidelity ``r_min``; the highest is the oracle's ``max_epochs``.
    """

    eta: int = 3
    min_epochs: int = 1

    name = "hyperband"

    def __post_init__(self) -> None:
        # what can be checked without the oracle's max_epochs, refused where it is written
        eta = check_int_range("eta", self.eta, 2, fix="pass a whole halving rate, e.g. 3")
        low = check_int_range("min_epochs", self.min_epochs, 1, fix="pass a whole epoch count")
        object.__setattr__(self, "eta", eta)  # 3.0 as 3: the brackets are whole numbers
        object.__setattr__(self, "min_epochs", low)

    @property
    def label(self) -> str:
        return f"hyperband[eta{self.eta},min{self.min_epochs}]"

    def brackets(self, max_epochs: int) -> list[list[tuple[int, int]]]:
        """For each bracket, the rungs ``(configurations, epochs)`` of successive halving.

        >>> Hyperband(eta=3).brackets(9)
        [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]
        """
        # eta and min_epochs are whole numbers >= 2 and >= 1 (__post_init__); the schedule
        # decides whether min_epochs fits
        if self.min_epochs > max_epochs:
            raise SearchBudgetError(
                f"hyperband needs whole numbers eta >= 2 and 1 <= min_epochs <= {max_epochs}, "
                f"got eta={self.eta!r}, min_epochs={self.min_epochs!r}"
            )
        s_max = math.floor(math.log(max_epochs / self.min_epochs, self.eta) + 1e-9)
        out = []
        for s in range(s_max, -1, -1):
            n = math.ceil((s_max + 1) / (s + 1) * self.eta**s)
            r = max_epochs * self.eta ** (-s)
            rungs = []
            for k in range(s + 1):
                n_k = n // self.eta**k  # integers: no rounding surprises
                r_k = max(1, min(max_epochs, round(r * self.eta**k)))
                rungs.append((n_k, r_k))
            out.append(rungs)
        return out

    def search(
        self, oracle: FidelityOracle, rng: np.random.Generator, incumbent: FidelityIncumbent
    ) -> None:
        """Run brackets until the oracle refuses (budget spent)."""
        plan = self.brackets(oracle.max_epochs)
        while True:
            for rungs in plan:
                configs = [oracle.sample(rng) for _ in range(rungs[0][0])]
                for k, (_, epochs) in enumerate(rungs):
                    scores = []
                    for i in configs:
                        v = oracle.query(i, epochs)
                        incumbent.offer(i, epochs, v)
                        scores.append(v)
                    if k + 1 < len(rungs):
                        keep = rungs[k + 1][0]
                        # NaN last, below -inf (ranks_before); ties keep sampling order
                        configs = [configs[j] for j in rank_order(scores)[:keep]]


@dataclass(frozen=True, slots=True)
class FidelityRecord(StallRecord):
    """One multi-fidelity run: the incumbent, at how many epochs, and what was spent."""

    best: int
    epochs: int
    score: float
    queries: int
    seconds: float
    #: the :data:`~nb201_flat.search.oracle.IDLE_FREE`... bits of the idle steps its stall
    #: guard ended it on (0: it did not stall), which the runner's notes name fixes for
    #: (:func:`~nb201_flat.search.runner.stalled_notes`)
    stall_kinds: int = 0


def run_fidelity(data: FidelityData, algorithm: Hyperband, seed: int) -> FidelityRecord:
    """One seeded run of ``algorithm`` on a fresh :class:`FidelityOracle` until its budget ends.

    ``seed`` is a non-negative int (None drew OS entropy: a run that cannot be reproduced).
    """
    seed = check_seed(seed)
    if not callable(getattr(algorithm, "search", None)):  # 'hyperband': a bare AttributeError
        raise ArgumentError(
            Param("algorithm"),
            f" must be a search such as Hyperband() (a search method), got {shown(algorithm)}",
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    oracle = FidelityOracle(
        data,
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))),
        outside=type(algorithm) is not Hyperband,  # a subclass may search otherwise
    )
    incumbent = FidelityIncumbent(oracle)
    with contextlib.suppress(SearchEnded):
        algorithm.search(oracle, rng, incumbent)
    return FidelityRecord(
        incumbent.index,
        incumbent.epochs,
        incumbent.score if incumbent.index >= 0 else math.nan,  # found nothing: no score
        oracle.queries,
        oracle.seconds,
        stall_kinds=oracle.stall_kinds,
    )
