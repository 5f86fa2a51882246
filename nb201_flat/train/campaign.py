"""Which cells to train: sets, not lists (no torch).

A campaign is a set of cells in any space (NB201, NB201 plus more ops, cells of more nodes)
chosen as the union of explicit cells, the radius-``r`` Hamming ball around a cell (the cell
and its neighbours, whose flatness a user wants in a setting the table lacks) and a seeded
uniform sample. Two reductions avoid work that cannot change an answer:

* disconnected cells (the input never reaches the output: 341 of NB201's 15,625) compute a
  constant, so they are not trained; the plan lists them with chance accuracy
  (``100 / num_classes``, see :func:`record_constant_output`) and the flag
  ``constant_output``;
* with ``unique_isomorphism``, one member per isomorphism class (NATS-Bench's key,
  :meth:`~nb201_flat.space.Space.isomorphism_key`) is trained, the smallest index, and the plan
  maps every other member to it; ``train`` records that mapping in the results database
  (:func:`record_isomorphic`), and an imported table gives each member its stand-in's
  numbers, listed in ``meta["isomorphic_to"]``.

Neighbourhoods are enumerated edge by edge, never through the whole space's code array, so a
5-node space of millions of cells costs only the ball's size. A ball or a sample is sized
before it is drawn: one of more than :data:`MAX_CAMPAIGN_CELLS` cells is refused.

Examples
--------
>>> from nb201_flat.space import NB201
>>> plan = plan_campaign(NB201, neighbours_of=11472, radius=1)
>>> len(plan.cells), 11472 in plan.cells  # the cell and its 6 x 4 neighbours
(25, True)
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nb201_flat.errors import ArgumentError, Param, check_flag, check_int_range, shown, whole_number
from nb201_flat.landscape._common import as_sequence
from nb201_flat.space import Arch, Space, check_space

if TYPE_CHECKING:
    from nb201_flat.train.results_db import ResultsDB

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """The cells a campaign trains, and those it answers without training.

    Attributes
    ----------
    cells
        Indices to train, ascending.
    constant_output
        Selected disconnected cells: not trained, chance accuracy.
    representative
        With ``unique_isomorphism``: selected index -> the trained member of its class (only
        for members that are not trained themselves).
    """

    cells: tuple[int, ...]
    constant_output: tuple[int, ...] = ()
    representative: Mapping[int, int] = field(default_factory=dict)

    def chance_rows(self, num_classes: int) -> list[dict[str, object]]:
        """One record per constant-output cell: chance accuracy (``100 / num_classes``,
        the mean of the classes' shares; see :func:`record_constant_output`), flagged.

        >>> CampaignPlan((), (7,)).chance_rows(10)
        [{'index': 7, 'accuracy': 10.0, 'constant_output': True}]
        """
        classes = check_int_range("num_classes", num_classes, 1)  # 0: a ZeroDivisionError
        return [
            {"index": i, "accuracy": 100.0 / classes, "constant_output": True}
            for i in self.constant_output
        ]


MAX_CAMPAIGN_CELLS = 100_000
"""Most cells one set of a campaign (a Hamming ball, a sample) may hold: six times NB201's
whole space (15,625 cells). Planning costs each cell a job per seed, checked against the
database and its checkpoints: the train command takes about half a minute for this many
before its first run, and a larger set only longer (a radius-21 ball of 5**21 cells grew
for ever). A set's size is known before it is drawn, so a larger one is refused at once."""


def ball_size(space: Space, radius: int) -> int:
    """How many cells lie within Hamming distance ``radius`` of any cell of ``space``: on
    ``k`` of its edges a neighbour has one of the other ops, so ``sum_k C(E, k) (ops-1)**k``.

    >>> from nb201_flat.space import NB201
    >>> ball_size(NB201, 2), ball_size(NB201, 6) == NB201.size
    (265, True)
    """
    others = len(space.ops) - 1
    return sum(math.comb(space.n_edges, k) * others**k for k in range(radius + 1))


def ball(space: Space, centre: Arch | str | int, radius: int) -> list[int]:
    """Indices within Hamming distance ``radius`` of ``centre`` (itself included), ascending;
    a ball of more than :data:`MAX_CAMPAIGN_CELLS` cells (:func:`ball_size`) is refused.

    >>> from nb201_flat.space import NB201
    >>> len(ball(NB201, 0, 2)) == 1 + 6 * 4 + 15 * 16
    True
    """
    check_space(space)
    # beyond the edge count the ball is the whole space; a larger radius only loops longer
    r = whole_number(radius)  # None, "2" or 1.5 met a bare TypeError
    if r is None or not 0 <= r <= space.n_edges:
        raise ArgumentError(
            Param("radius"),
            f" must lie in 0..{space.n_edges} (edges per cell), got {shown(radius)}; "
            f"{space.n_edges} already covers every cell",
        )
    radius = r
    size = ball_size(space, radius)
    if size > MAX_CAMPAIGN_CELLS:  # counted, not enumerated: 5**21 cells ran for ever
        fits = max(k for k in range(radius) if ball_size(space, k) <= MAX_CAMPAIGN_CELLS)
        raise ArgumentError(
            Param("radius"),
            f" {radius} selects {size:,} cells, more than a campaign plans "
            f"({MAX_CAMPAIGN_CELLS:,}); give ",
            Param("radius", fits),
            " or less",
        )
    arch = space.resolve(centre)
    base = list(arch.codes)
    n_ops = len(space.ops)
    out = {arch.index}
    for r in range(1, radius + 1):
        for edges in itertools.combinations(range(len(base)), r):
            choices = [[c for c in range(n_ops) if c != base[e]] for e in edges]
            for new in itertools.product(*choices):
                codes = list(base)
                for e, c in zip(edges, new, strict=True):
                    codes[e] = c
                out.add(space.index_of_codes(codes))
    return sorted(out)


def sample(space: Space, n: int, seed: int, *, names: tuple[str, str] = ("n", "seed")) -> list[int]:
    """``n`` distinct indices drawn uniformly with ``numpy.random.default_rng(seed)`` (at most
    :data:`MAX_CAMPAIGN_CELLS`); ``names``: the parameters a refusal names (a caller's own for
    ``n`` and ``seed``)."""
    check_space(space)
    # whole numbers only: None or text met a bare TypeError, 2.5 and True numpy's
    count, start = whole_number(n), whole_number(seed)
    top = min(space.size, MAX_CAMPAIGN_CELLS)
    if count is None or not 0 < count <= top:
        # 10**11 of a huge space met numpy's out-of-memory error, blamed on the network size
        why = (
            f" (the most a campaign plans; the space has {space.size:,})"
            if top < space.size
            else ""
        )
        raise ArgumentError(Param(names[0]), f" must be in 1..{top}{why}, got {shown(n)}")
    if start is None or start < 0:
        raise ArgumentError(
            Param(names[1]),
            f" must be >= 0 (numpy seeds are non-negative ints), got {shown(seed)}",
        )
    rng = np.random.default_rng(start)
    n = count
    return sorted(int(i) for i in rng.choice(space.size, size=n, replace=False))


def plan_campaign(
    space: Space,
    *,
    archs: Iterable[Arch | str | int] = (),
    neighbours_of: Arch | str | int | None = None,
    radius: int | None = None,
    sample_n: int | None = None,
    sample_seed: int | None = None,
    unique_isomorphism: bool = False,
    train_disconnected: bool = False,
) -> CampaignPlan:
    """The union of the given sets, reduced as the module docstring says.

    ``radius`` is that of ``neighbours_of`` (default 1); given without it, it is an error.
    """
    check_space(space)
    # "no" was truthy; a string of archs was read letter by letter, one arch was not iterable
    unique_isomorphism = check_flag("unique_isomorphism", unique_isomorphism)
    train_disconnected = check_flag("train_disconnected", train_disconnected)
    chosen = {space.resolve(a).index for a in as_sequence("archs", archs, "architectures")}  # type: ignore[arg-type]
    if neighbours_of is not None:
        chosen.update(ball(space, neighbours_of, 1 if radius is None else radius))
    elif radius is not None:
        raise ArgumentError(
            Param("radius"),
            " applies only with ",
            Param("neighbours_of"),
            "; add ",
            Param("neighbours_of", placeholder="ARCH"),
        )
    if sample_n is not None:
        if sample_seed is None:
            raise ArgumentError(
                Param("sample_n"), " needs ", Param("sample_seed"), " (the sample is drawn from it)"
            )
        chosen.update(sample(space, sample_n, sample_seed, names=("sample_n", "sample_seed")))
    elif sample_seed is not None:
        raise ArgumentError(Param("sample_seed"), " applies only with ", Param("sample_n"))
    if not chosen:
        raise ArgumentError(
            "no cells selected: give ",
            Param("archs"),
            ", ",
            Param("neighbours_of"),
            " or ",
            Param("sample_n"),
        )
    constant: list[int] = []
    if not train_disconnected:
        # the chosen cells' codes only: Arch.is_connected builds the whole space's arrays
        order = sorted(chosen)
        live = space.connected_codes([space.arch(i).codes for i in order])
        constant = [i for i, ok in zip(order, live, strict=True) if not ok]
        chosen -= set(constant)
    rep: dict[int, int] = {}
    if unique_isomorphism:
        classes: dict[str, list[int]] = {}
        for i in sorted(chosen):
            classes.setdefault(space.arch(i).isomorphism_key(), []).append(i)
        chosen = {members[0] for members in classes.values()}
        rep = {m: members[0] for members in classes.values() for m in members[1:]}
    return CampaignPlan(tuple(sorted(chosen)), tuple(constant), rep)


CONSTANT_STATUS = "constant"
"""``runs.status`` of a cell recorded without training (its output is constant)."""


def record_constant_output(job: Any) -> bool:
    """Store a disconnected cell's result without training it: chance accuracy, flagged.

    The input never reaches the output, so the network computes the same logits for every
    image and predicts one class for all: its accuracy on a split is that class's share of the
    split. Which class is up to the trained classifier bias, which is not computed, so every
    split stores chance, ``100 / num_classes``: the mean of the classes' shares (the accuracy
    expected of a class drawn uniformly). That is a trained run's accuracy exactly only on a
    class-balanced split (CIFAR's full train and test sets); on the halves NB201 cuts them
    into (cifar10-valid's train and x-valid, the x-valid and x-test halves of a test set) and
    on ImageNet16-120's train set a trained run lands on its class's share instead (NB201's own
    cell 1651: x-valid 9.712, train 10.288 where 10 is stored here). The loss depends on the
    same bias, so it is stored as missing (NULL); so is the training time (nothing was trained:
    a time of 0 would make the cell free to a time-budgeted search). The run gets status ``"constant"`` (the flag),
    the final epoch's rows are written, and the imported table lists these runs (dataset,
    schedule, seed and cell) in ``table.meta["constant_output"]``. A run of the cell already trained (with
    ``--train-disconnected``) is kept as it is, and nothing is recorded (returns ``False``).

    Parameters
    ----------
    job
        The :class:`~nb201_flat.train.jobs.TrainJob` of a disconnected cell.

    Raises
    ------
    RunLockedError
        Another live process holds the run's lock (trains the cell).
    """
    from nb201_flat.space import Space
    from nb201_flat.train.data import dataset_info
    from nb201_flat.train.jobs import TrainJob

    if not isinstance(job, TrainJob):  # a cell's index or string met a bare AttributeError
        raise ArgumentError(f"job must be a TrainJob, got {shown(job)}; e.g. make_jobs([...])[0]")
    probe = Space(("none", "skip_connect"), job.n_nodes)
    codes = [0 if op == "none" else 1 for op in job.ops]
    if bool(probe.connected_codes([codes])[0]):
        raise ArgumentError(f"cell {job.arch} is connected; train it instead")
    info = dataset_info(job.dataset)
    chance = 100.0 / info.num_classes
    rows = {s: (float("nan"), chance, float("nan")) for s in ("train", *info.splits)}
    with _recording(job) as db:  # a run of the cell trained (--train-disconnected) is kept
        return db.mark_run(
            job.key, job.index, CONSTANT_STATUS, train_time_s=None, final_rows=rows, keep_done=True
        )


ISOMORPHIC_STATUS = "isomorphic"
"""``runs.status`` of a cell not trained because an isomorphic cell of its campaign was."""


def record_isomorphic(job: Any, representative: Any) -> bool:
    """Record that ``job``'s cell was not trained, ``representative``'s run standing for it.

    With ``--unique-isomorphism`` a campaign trains one cell per isomorphism class: the others
    compute the same function up to op-symmetric wiring, or one a constant apart (a conv fed
    zero outputs its BatchNorm shift: :meth:`~nb201_flat.space.Space.isomorphism_key`). The
    run gets status ``"isomorphic"`` and the representative's arch in the results database's
    ``run_isomorphic`` table; an imported table takes the representative's final numbers for
    it and lists it in ``table.meta["isomorphic_to"]``.
    A run of the cell already done is kept, and nothing is recorded (returns ``False``).

    Parameters
    ----------
    job, representative
        The :class:`~nb201_flat.train.jobs.TrainJob` of the cell and that of the trained cell
        (the same key but for the arch).

    Raises
    ------
    ArgumentError
        ``representative`` is no isomorphic cell of ``job``'s run under the same key.
    RunLockedError
        Another live process holds the run's lock (trains the cell).
    """
    _check_stands_in(job, representative)
    with _recording(job) as db:
        return db.mark_run(
            job.key, job.index, ISOMORPHIC_STATUS, isomorphic_to=representative.arch,
            keep_done=True,
        )  # fmt: skip


def _check_stands_in(job: Any, representative: Any) -> None:
    """Refuse a ``representative`` that is no isomorphic cell of ``job``'s run under the same
    key: an imported table would serve its numbers as the job's cell's."""
    from nb201_flat.train.jobs import TrainJob, cell_of

    for name, value in (("job", job), ("representative", representative)):
        if not isinstance(value, TrainJob):
            raise ArgumentError(f"{name} must be a TrainJob, got {shown(value)}")
    ours, theirs = job.key, representative.key
    if ours == theirs:  # a cell recorded as standing in for itself: its run never trained
        raise ArgumentError(
            f"representative is the job's own run {tuple(ours)}; record another cell of its class"
        )
    if ours._replace(arch="") != theirs._replace(arch=""):
        raise ArgumentError(
            f"representative {tuple(theirs)} differs from the job's run {tuple(ours)} in more "
            "than the arch; record a run of the same space, dataset, schedule and seed"
        )
    if cell_of(job).isomorphism_key() != cell_of(representative).isomorphism_key():
        raise ArgumentError(
            f"representative {representative.arch} is not isomorphic to {job.arch} (their "
            "cells compute other functions); record the cell trained for its class"
        )


@contextmanager
def _recording(job: Any) -> Iterator[ResultsDB]:
    """``job``'s results database, to record its run without training, under the run's lock
    (:func:`~nb201_flat.train.runlock.run_lock`, as training holds it): no process trains the
    run meanwhile, and with ``retrain_damaged`` a damaged run is deleted
    (:func:`~nb201_flat.train.jobs.discard_if_damaged`) and recorded anew with no writer of
    the run in between."""
    from nb201_flat.train.jobs import discard_if_damaged
    from nb201_flat.train.results_db import ResultsDB
    from nb201_flat.train.runlock import run_lock

    with run_lock(job.checkpoint_folder, job.name):
        db = ResultsDB(job.db_path, named="db_path")
        try:
            discard_if_damaged(job, db, then="recorded again without training")
            yield db
            recorded = db.status(job.key) in (CONSTANT_STATUS, ISOMORPHIC_STATUS)
        finally:
            db.close()
        # what an earlier, interrupted training of the run left: no resume may start from it
        # (its epoch rows go with the record, ResultsDB.mark_run)
        if recorded:
            _discard_checkpoints(job)


def _discard_checkpoints(job: Any) -> None:
    if not Path(job.checkpoint_folder).is_dir():
        return
    from nb201_flat.train.checkpoint import Checkpointer

    Checkpointer(job.checkpoint_folder).discard_after(0)
