"""What to train (:class:`TrainJob`) and what came out (:class:`JobResult`); no torch.

Both are frozen, picklable values, so executors can ship them to worker processes, dask
workers or Slurm jobs unchanged. A job carries the cell as its op list, so a worker needs
neither the space object nor any table to build the network.

Examples
--------
>>> from nb201_flat.space import NB201
>>> jobs = make_jobs([11472], dataset="cifar10", epochs=12, seeds=[777, 888],
...                  data_root="data", db_path="r.sqlite")
>>> [(j.index, j.seed, j.epochs, j.space) for j in jobs]
[(11472, 777, 12, 'nb201'), (11472, 888, 12, 'nb201')]
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from nb201_flat.errors import (
    ArgumentError,
    DataMismatchError,
    DatasetNotFoundError,
    Param,
    Part,
    check_flag,
    check_int_range,
    check_path,
    for_log_parts,
    joined,
    shown,
    spelled,
    whole_number,
)
from nb201_flat.landscape._common import as_sequence
from nb201_flat.space import NB201, Arch, Space, check_space
from nb201_flat.table import INT64_MAX
from nb201_flat.train.costs import check_network, check_ops
from nb201_flat.train.data import (
    DataIdentity,
    check_split_dir_applies,
    dataset_identity,
    dataset_info,
)
from nb201_flat.train.modes import TrainMode, default_eval_every, effective_mode, keyed_space
from nb201_flat.train.recipe import Recipe, recipe_for, recipe_tag

if TYPE_CHECKING:
    from nb201_flat.train.results_db import ResultsDB

log = logging.getLogger(__name__)


class RunKey(NamedTuple):
    """Identity of one training run in the results database."""

    space: str
    arch: str
    dataset: str
    epochs: int
    seed: int


def space_key(space: Space, *, c: int = 16, n: int = 5) -> str:
    """Short name of a space (and of a non-default network size) for the results database.

    ``"nb201"`` for NB201 at C=16, N=5; otherwise ops, nodes and size are spelled out so
    rows of different networks never mix.

    >>> space_key(NB201), space_key(NB201, c=4, n=1)
    ('nb201', 'nb201@C4N1')
    """
    check_space(space)  # a name ("nb201") met a bare AttributeError
    c, n = check_network(c, n)  # as a job's: any text was spelled into the key
    base = (
        "nb201"
        if space == NB201
        else f"{space.n_nodes}nodes:{','.join(space.ops)}:{space.index_order}"
    )
    return base if (c, n) == (16, 5) else f"{base}@C{c}N{n}"


def check_eval_every(every: int | None, epochs: int | None = None) -> None:
    """Refuse an evaluation interval below one epoch (``None``: the mode's default), or, given
    the schedule's ``epochs``, one longer than it: the last epoch is evaluated anyway, so it
    would change nothing but say it does."""
    if every is None:
        return
    # a whole number: text met a bare TypeError, and 2.5 would be compared as a count
    if (whole := whole_number(every)) is None or whole < 1:
        raise ArgumentError(
            Param("eval_every"), f" must be >= 1 (epochs between evaluations), got {shown(every)}"
        )
    if epochs is not None and every > check_int_range(Param("epochs"), epochs, 1):
        raise ArgumentError(
            Param("eval_every"),
            f" {every} is longer than the schedule (",
            Param("epochs", epochs),
            "), whose last epoch is always evaluated; give ",
            Param("eval_every", epochs),
            " to evaluate the last epoch only, or leave it out",
        )


MAX_THREADS = 4096
"""Most torch CPU threads a run may ask for, more than any CPU has cores: torch starts each
one, so 2**63 failed every run (an overflow) and a million would exhaust the machine."""


_DEVICE = re.compile(r"(auto|cpu|cuda|mps)(?::(0|[1-9][0-9]*))?")
"""A device as torch spells it (``cuda:1``, ``cpu:0``); torch refuses ``cuda:01``."""


def device_parts(device: object) -> tuple[str, int | None]:
    """``device``'s type and index (``None``: none given) if it names a device a run can train
    on: ``auto``, ``cpu``, ``cpu:0``, ``cuda``, ``cuda:N`` or ``mps`` (torch read 'gpu' only
    when the run started, as a RuntimeError).

    The index is read here, not by torch: ``torch.device("cuda:128")`` has index -128 (an
    8-bit index), which no device count check refuses.

    >>> device_parts("cuda:1"), device_parts("cpu")
    (('cuda', 1), ('cpu', None))
    >>> device_parts("gpu")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: device must be auto, cpu, cpu:0, cuda, cuda:N or mps, got 'gpu'
    """
    match = _DEVICE.fullmatch(device) if isinstance(device, str) else None
    if match is None or (match[2] is not None and match[1] in ("auto", "mps")):
        raise ArgumentError(
            Param("device"),
            f" must be auto, cpu, cpu:0, cuda, cuda:N or mps, got {shown(device)}",
        )
    kind, index = match[1], None if match[2] is None else int(match[2])
    if kind == "cpu" and index:
        # torch takes cpu:1 and trains on the one CPU it has: the index would mean nothing
        raise ArgumentError(
            Param("device", device), ": torch has one CPU device, cpu:0; use ",
            Param("device", "cpu"),
        )  # fmt: skip
    return kind, index


def check_device(device: object) -> str:
    """``device`` if it names a device a run can train on (:func:`device_parts`).

    >>> check_device("cuda:1")
    'cuda:1'
    """
    device_parts(device)
    return str(device)


def is_cpu(device: str) -> bool:
    """Whether ``device`` (a :func:`check_device` spelling) is the CPU: ``cpu`` and ``cpu:0``
    are one device, so a rule of its own for the CPU (its default thread count, the memory
    check) asks here rather than comparing spellings (``cpu:0`` passed as no CPU).

    >>> is_cpu("cpu"), is_cpu("cpu:0"), is_cpu("cuda:0"), is_cpu("auto")
    (True, True, False, False)
    """
    return device_parts(device)[0] == "cpu"


def device_shortfall(device: str) -> tuple[str, str] | None:
    """What this machine lacks to train on ``device`` (a :func:`check_device` spelling) and the
    device to use instead, or ``None`` when it has it (``auto`` and a CPU always). The one rule
    of the trainer (:func:`~nb201_flat.train.trainer.resolve_device`) and the command's
    ``--device``, each spelling the line its own way. Imports torch for a GPU only."""
    kind, index = device_parts(device)
    if kind in ("auto", "cpu"):
        return None
    import torch

    if kind == "mps":
        return (
            None if torch.backends.mps.is_available() else ("no MPS device on this machine", "cpu")
        )
    if not torch.cuda.is_available():
        return "CUDA is not available", "cpu"
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        return f"this machine has {count} CUDA device(s)", f"cuda:0..cuda:{count - 1}"
    return None


def check_thread_count(threads: int | None) -> int | None:
    """Refuse a CPU thread count outside ``1..MAX_THREADS`` (``None``: torch's default)."""
    if threads is None:
        return None
    return check_int_range(
        Param("threads"), threads, 1, MAX_THREADS, fix=("e.g. ", Param("threads", 1))
    )


@dataclass(frozen=True, slots=True)
class TrainJob:
    """One training run: a cell, a dataset, a schedule, a seed, and where things go.

    Attributes
    ----------
    arch, index, ops, n_nodes, space
        The cell: its string, index in its space, op per edge, nodes, and :func:`space_key`.
    dataset
        NB201 dataset name.
    seed
        Seeds weight init, data order and augmentation.
    recipe
        Hyper-parameters; ``recipe.epochs`` is the schedule length. What else in it differs
        from NB201's recipe and changes the numbers (:func:`~.recipe.recipe_tag`) is part of
        :attr:`key`, of :attr:`name` and so of the checkpoint identity; not
        ``eval_batch_size``, which changes no number beyond float rounding (kernels round by
        the batch's shape: a grouped run's batched ones, and a single run's at some sizes, on
        a CPU as on a GPU).
    data_root, split_dir
        Dataset folder and NB201 split files folder (default ``data_root``).
    db_path
        SQLite results database.
    ckpt_dir
        Checkpoint folder; default ``<db_path>.ckpt/``.
    device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    c, n
        Network width and cells per stage (NB201: 16 and 5).
    compile, channels_last, amp
        ``torch.compile``; channels-last layout and bf16 autocast (``None``: as ``mode`` says).
    threads
        CPU threads for torch (``None``: leave torch's default). A CPU run's count is
        recorded with its device, and a resume under another count is refused (its numbers
        would differ from an uninterrupted run's).
    mode
        ``"faithful"`` (NB201's numerics, default) or ``"fast"``; see :mod:`.modes`. Its tag
        (with any override above) is part of :attr:`key` and of the checkpoint identity.
    eval_every
        Evaluate the splits every this many epochs (the last epoch always); ``None``: the
        mode's default (:func:`~.modes.default_eval_every`: every epoch in faithful mode).
        Not part of :attr:`key` nor of the checkpoint identity: evaluation never changes the
        training (no gradient, BatchNorm in eval mode, no random numbers drawn), so the
        weights, the ``train`` rows and the final epoch's numbers are the same for every
        value; it only decides which intermediate epochs have evaluation rows in the curves.
    data_identity
        The :attr:`~.data.DataIdentity.digest` of the dataset files, as the campaign found
        them before any run started (``None``: found from the files when the run starts, or
        when a stored run of its key is to be skipped). A run refuses other bytes: files
        changed under a running campaign, a checkpoint or a stored run of other data
        (:class:`~nb201_flat.errors.DataMismatchError`).
    retrain_damaged
        Train the run again when its rows in :attr:`db_path` are damaged (a row fails its
        checksum, or an old row holds a wrongly typed cell): they are deleted from every
        table first, in one transaction, and its checkpoints with them (it trains from its
        first epoch, so that its curves are whole). ``False`` (default): such a run is
        refused. Not part of :attr:`key`: it decides what happens to damaged rows, not the
        numbers. An executor's ``map`` with such a job (and the train command) also clears the
        database's stray rows first (:func:`clear_stray_rows`: damaged rows naming no run);
        :func:`~.trainer.train` of one job reads that job's rows only.
    """

    arch: str
    index: int
    ops: tuple[str, ...]
    n_nodes: int
    space: str
    dataset: str
    seed: int
    recipe: Recipe
    data_root: str
    db_path: str
    ckpt_dir: str | None = None
    split_dir: str | None = None
    device: str = "auto"
    c: int = 16
    n: int = 5
    compile: bool | None = None
    channels_last: bool | None = None
    amp: bool | None = None
    threads: int | None = None
    mode: str = "faithful"
    eval_every: int | None = None
    data_identity: str | None = None
    retrain_damaged: bool = False

    def __post_init__(self) -> None:
        # a tuple: a list met "unhashable" where runs are grouped
        object.__setattr__(self, "ops", check_ops(self.ops, self.n_nodes))
        # as the command's --C/--N: at least one cell per stage, or the cell is never used
        c, n = check_network(self.c, self.n, min_n=1)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "n", n)
        self._check_cell()
        if not isinstance(self.recipe, Recipe):  # its epochs met a bare AttributeError
            raise ArgumentError(
                Param("recipe"),
                f" must be a Recipe, got {shown(self.recipe)}; e.g. recipe_for(200)",
            )
        info = dataset_info(self.dataset)
        pad = self.recipe.crop_pad
        if pad is not None and pad >= info.image_size:  # 10**6 met a bare allocation error
            raise ArgumentError(
                f"recipe crop_pad={pad} pads {info.image_size}-pixel images by their own side "
                f"or more (a crop would be mostly padding); NB201 pads {info.pad}: leave "
                "crop_pad out for that"
            )
        check_split_dir_applies(self.dataset, self.split_dir)  # else ignored (cifar10)
        check_device(self.device)
        if self.ckpt_dir is not None and not str(self.ckpt_dir).strip():  # read as the default
            raise ArgumentError(
                Param("ckpt_dir"), " is empty; give a folder, or leave it out for <db_path>.ckpt"
            )
        # read by truthiness, "no" trained in bf16 or deleted a damaged run's rows
        for name in ("compile", "channels_last", "amp"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_flag(Param(name), getattr(self, name)))
        object.__setattr__(
            self, "retrain_damaged", check_flag(Param("retrain_damaged"), self.retrain_damaged)
        )
        # the seed of torch's generators: text or -1 failed there, with the data loaded
        seed = check_int_range(Param("seed"), self.seed, 0, INT64_MAX, fix="NB201 uses 777")
        object.__setattr__(self, "seed", seed)
        _ = self.train_mode  # an unknown mode or a contradicting override fails here
        check_eval_every(self.eval_every, self.recipe.epochs)  # as the command's --eval-every
        # stored as checked: 2.0 threads would reach torch as a float
        object.__setattr__(self, "threads", check_thread_count(self.threads))

    def _check_cell(self) -> None:
        """Refuse a job whose arch, index or space key disagree with its ops, nodes and
        network size: it trained the cell of its ops and stored it as the other (a job edited
        with ``dataclasses.replace``), and the real run of that cell was then skipped."""
        arch, index = _cell_text(self.space, self.n_nodes, self.c, self.n, self.ops)
        if (arch, index) != (self.arch, self.index):
            raise ArgumentError(
                f"arch {self.arch!r:.120} (index {self.index!r}) is not the cell of the job's ops, "
                f"{arch} (index {index}); build jobs with make_jobs, or replace arch, index and "
                "ops together"
            )

    @property
    def evaluate_every(self) -> int:
        """Epochs between evaluations (the job's value or its mode's default)."""
        if self.eval_every is not None:
            return self.eval_every
        return default_eval_every(self.train_mode)

    @property
    def train_mode(self) -> TrainMode:
        """The mode with this job's overrides applied."""
        return effective_mode(
            self.mode, amp=self.amp, channels_last=self.channels_last, compile=self.compile
        )

    @property
    def epochs(self) -> int:
        """Schedule length."""
        return self.recipe.epochs

    @property
    def key(self) -> RunKey:
        """Identity in the results database."""
        return RunKey(
            keyed_space(self.space, self.train_mode, self.recipe_tag),
            self.arch,
            self.dataset,
            self.epochs,
            self.seed,
        )

    @property
    def recipe_tag(self) -> str:
        """What the recipe changes from NB201's for this dataset (:func:`~.recipe.recipe_tag`)."""
        return recipe_tag(self.recipe, pad=dataset_info(self.dataset).pad)

    @property
    def name(self) -> str:
        """File-system-safe run name (checkpoint sub-folder)."""
        tag = self.recipe_tag
        raw = (
            f"{self.space}-{self.index}-{self.dataset}-e{self.epochs}-s{self.seed}"
            f"-{self.train_mode.tag}" + (f"-{tag}" if tag else "")
        )
        return re.sub(r"[^A-Za-z0-9_.@-]+", "_", raw)

    @property
    def checkpoint_folder(self) -> Path:
        """Folder of this run's checkpoints."""
        base = Path(self.ckpt_dir) if self.ckpt_dir else Path(f"{self.db_path}.ckpt")
        return base / self.name

    def expected_data(self) -> str:
        """The data digest this run must train on: :attr:`data_identity`, else that of the
        files under :attr:`data_root` now (:func:`~.data.dataset_identity`)."""
        if self.data_identity is not None:
            return self.data_identity
        return dataset_identity(self.dataset, self.data_root, self.split_dir).digest


_PATH_FIELDS = ("data_root", "db_path", "ckpt_dir", "split_dir")


def with_absolute_paths(job: TrainJob) -> TrainJob:
    """``job`` with its files and folders named absolutely, resolved in this process's working
    folder (where its caller named them): a dask or Slurm worker resolves a relative path in a
    folder of its own, and a relative ``db_path`` wrote the results there, reported done."""
    moved = {
        name: os.path.abspath(path)
        for name in _PATH_FIELDS
        if (path := getattr(job, name)) is not None and not os.path.isabs(path)
    }
    return replace(job, **moved) if moved else job


def cell_of(job: TrainJob) -> Arch:
    """The cell ``job`` trains, in the space its key names."""
    return _space_of_key(job.space).from_ops(job.ops)


@functools.lru_cache(maxsize=4096)
def _cell_text(key: str, n_nodes: int, c: int, n: int, ops: tuple[str, ...]) -> tuple[str, int]:
    """The string and index of the cell of ``ops`` in the space ``key`` names, once ``key``
    is checked to be that of ``n_nodes``-node cells at ``c``, ``n`` (a job is built again by
    every ``dataclasses.replace``: looked up once; a refusal is not cached)."""
    from nb201_flat.errors import FormatError

    try:
        space = _space_of_key(key)
    except FormatError:
        raise ArgumentError(
            Param("space"), f" {key!r} is no space key (as space_key writes it)"
        ) from None
    if space.n_nodes != n_nodes or space_key(space, c=c, n=n) != key:
        raise ArgumentError(
            Param("space"),
            f" {key!r} is not the space of {n_nodes}-node cells at c={c}, n={n}; build jobs "
            "with make_jobs, or replace space, c and n together",
        )
    arch = space.from_ops(ops)  # an op the space lacks: InvalidArchError
    return str(arch), arch.index


@functools.lru_cache(maxsize=32)
def _space_of_key(key: str) -> Space:
    """The space a job's :attr:`~TrainJob.space` key names (built once per key)."""
    from nb201_flat.importers.results_db import space_from_key

    return space_from_key(key)


def check_data_read(job: TrainJob, identity: DataIdentity | None) -> None:
    """Refuse to train ``job`` on data other than the campaign checked before it started."""
    checked = job.data_identity
    if identity is not None and checked is not None and checked != identity.digest:
        raise DataMismatchError(
            f"the dataset files under {job.data_root} changed after this campaign checked them "
            f"(digest {checked[:12]}, now {identity.short}); restore them to finish the "
            "campaign, or train the new files into a ",
            Param("db_path"),
            " of their own (one database holds one set of files per dataset)",
        )


def check_stored_data(job: TrainJob, stored: str | None) -> None:
    """Refuse to count a finished run of ``job``'s key as done when it was trained on other
    data (``stored``: its recorded digest; ``None``, unrecorded, passes).

    A job that carries no :attr:`~TrainJob.data_identity` is compared with the files under its
    data root; where they are absent (a host that only submits or collects runs) there is
    nothing to compare, and the run counts as done, as a stored run always did.
    """
    if stored is None:
        return
    try:
        expected = job.expected_data()
    except DatasetNotFoundError:  # only without data_identity: no files here to compare
        return
    if stored != expected:
        raise DataMismatchError(
            f"{job.db_path} already holds {job.name} trained on other data (other files or "
            f"another split; digest {stored[:12]}; these files and split: {expected[:12]}); "
            "train each set of files and split into a ",
            Param("db_path"),
            " of its own",
        )


def discard_if_damaged(job: TrainJob, db: ResultsDB, *, then: str = "trained again") -> None:
    """With :attr:`~TrainJob.retrain_damaged`, delete ``job``'s run from ``db`` when any of
    its rows is damaged (:meth:`~.results_db.ResultsDB.discard_damaged`, a hole in its curve
    included), and its checkpoints, so that it trains again from its first epoch (a resume
    would leave the deleted epochs out of its curves, or, from a finished run's last
    checkpoint, mark it done without its numbers). Checkpoints past the run's train rows
    (another database's, rows deleted, or a machine stopped before the database synced its
    last epochs), which a resume refuses, are deleted down to the last epoch those rows reach
    without a gap: the run resumes from a checkpoint within them, or, with none left, from
    its first epoch, its rows deleted. The caller holds the run's lock (:mod:`.runlock`).
    ``then``: what the warning says happens to the run next (a cell recorded without training
    says so)."""
    if not job.retrain_damaged:
        return
    why = db.discard_damaged(job.key)
    if why is None and not Path(job.checkpoint_folder).is_dir():
        return  # intact, and no checkpoints (a cell recorded without training: no torch)
    from nb201_flat.train.checkpoint import Checkpointer

    ckpt = Checkpointer(job.checkpoint_folder)
    if why is None:
        newest = max((epoch for epoch, _ in ckpt.files()), default=0)
        whole = db.whole_train_epochs(job.key)
        if newest <= whole:
            return
        ckpt.discard_after(whole)
        past = f"its checkpoints reached epoch {newest}, its train rows only {whole} without a gap"
        kept = ckpt.files()
        if kept:  # the resume deletes its rows after that epoch (discard_epochs_after)
            log.warning(
                "%s: run %s in %s: %s; the checkpoints after it deleted, resuming from epoch "
                "%d (%s)",
                job.name, tuple(job.key), job.db_path, past, kept[0][0], _retrain_said(),
            )  # fmt: skip
            return
        why = past
        db.delete_run(job.key)
    ckpt.discard_after(0)
    log.warning(
        "%s: run %s in %s: %s; its rows and checkpoints deleted, %s (%s)",
        job.name,
        tuple(job.key),
        job.db_path,
        why,
        then,
        _retrain_said(),
    )


def clear_stray_rows(db: ResultsDB) -> None:
    """For a campaign with :attr:`~TrainJob.retrain_damaged`: clear ``db``'s stray rows
    (:meth:`~.results_db.ResultsDB.clear_stray_rows`: damaged rows naming no run, which no
    job's :func:`discard_if_damaged` reaches), one warning per row saying what was done."""
    for line in db.clear_stray_rows():
        log.warning("%s: %s (%s)", db.path, line, _retrain_said())


def _retrain_said() -> str:
    """What the repair warnings name as their cause: the option as the running command
    spells it (``--retrain-damaged``), else as Python does."""
    return for_log_parts([Param("retrain_damaged")])


WORKER_LOGGED_PARAMS = ("retrain_damaged", "ckpt_dir")
"""The parameters a run's own log lines name (:func:`_retrain_said`): a worker process is
given the running command's spelling of them (:func:`~nb201_flat.errors.log_spelling_table`)."""


def _check_cuda_options(device: str, compile: bool | None, channels_last: bool | None) -> None:
    """Refuse ``compile``/``channels_last`` for jobs made for the CPU (or MPS): fast mode
    compiles and lays out channels-last on CUDA only, so either was ignored there and split
    the results key of the same numbers (as the command refuses it). Checked where the jobs
    are made, not when an executor places an ``auto`` job on its device."""
    given = [Param(k, v) for k, v in (("compile", compile), ("channels_last", channels_last))]
    given = [p for p in given if p.value is not None]
    if given and device_parts(device)[0] in ("cpu", "mps"):
        raise ArgumentError(
            *joined(given),
            f" applies only on CUDA (fast mode does neither elsewhere), but the device is "
            f"{device}; drop ",
            *joined(given),
        )


def make_jobs(
    archs: Iterable[Arch | str | int],
    *,
    dataset: str,
    epochs: int,
    seeds: Iterable[int],
    data_root: str | os.PathLike[str],
    db_path: str | os.PathLike[str],
    space: Space = NB201,
    recipe: Recipe | None = None,
    c: int = 16,
    n: int = 5,
    device: str = "auto",
    ckpt_dir: str | os.PathLike[str] | None = None,
    split_dir: str | os.PathLike[str] | None = None,
    compile: bool | None = None,
    channels_last: bool | None = None,
    amp: bool | None = None,
    threads: int | None = None,
    mode: str = "faithful",
    eval_every: int | None = None,
    data_identity: str | None = None,
    retrain_damaged: bool = False,
) -> list[TrainJob]:
    """Jobs for every (arch, seed) pair, archs given as :class:`Arch`, string or index.

    ``archs`` and ``seeds`` are lists (a single cell or seed is refused, naming ``[...]``);
    the seeds as :func:`check_seeds` takes them. ``recipe`` defaults to NB201's with
    ``epochs`` epochs; one given must have ``epochs`` epochs. The other keywords are the
    :class:`TrainJob` fields of the same name.
    """
    if recipe is not None and not isinstance(recipe, Recipe):  # no with_epochs: AttributeError
        raise ArgumentError(
            Param("recipe"), f" must be a Recipe, got {shown(recipe)}; pass e.g. recipe_for(200)"
        )
    rec = recipe_for(epochs)
    if recipe is not None:
        if recipe.epochs != rec.epochs:  # one of the two was dropped without a word
            raise ArgumentError(
                Param("recipe"),
                f" has {recipe.epochs} epochs, ",
                Param("epochs"),
                f" {rec.epochs}; pass the same schedule to both (e.g. recipe.with_epochs("
                f"{rec.epochs}))",
            )
        rec = recipe
    skey = space_key(space, c=c, n=n)
    seed_list = check_seeds(seeds)
    paths = {
        "data_root": data_root,
        "db_path": db_path,
        "ckpt_dir": ckpt_dir,
        "split_dir": split_dir,
    }
    for name, path in paths.items():
        if path is not None or name in ("data_root", "db_path"):  # os.fspath's bare TypeError
            check_path(name, path)
    try:
        device_parts(device)
    except ArgumentError:
        pass  # a bad device: the job's own one line
    else:
        _check_cuda_options(device, compile, channels_last)
    jobs = []
    for arch in _distinct_cells(space, archs):
        for seed in seed_list:
            jobs.append(
                TrainJob(
                    arch=str(arch),
                    index=arch.index,
                    ops=arch.ops,
                    n_nodes=space.n_nodes,
                    space=skey,
                    dataset=dataset,
                    seed=seed,
                    recipe=rec,
                    data_root=os.fspath(data_root),
                    db_path=os.fspath(db_path),
                    ckpt_dir=None if ckpt_dir is None else os.fspath(ckpt_dir),
                    split_dir=None if split_dir is None else os.fspath(split_dir),
                    device=device,
                    c=c,
                    n=n,
                    compile=compile,
                    channels_last=channels_last,
                    amp=amp,
                    threads=threads,
                    mode=mode,
                    eval_every=eval_every,
                    data_identity=data_identity,
                    retrain_damaged=retrain_damaged,
                )
            )
    return jobs


def _distinct_cells(space: Space, archs: object) -> list[Arch]:
    """``archs`` resolved in ``space``, refused where one cell is given twice (also once as
    an index and once as its string), as :func:`check_seeds` refuses a repeated seed."""
    given = as_sequence(Param("archs"), archs, "cells (Arch, official strings or indices)")
    cells = [space.resolve(a) for a in given]  # type: ignore[arg-type]  # resolve checks each
    ways: dict[int, list[object]] = {}
    for a, arch in zip(given, cells, strict=True):
        ways.setdefault(arch.index, []).append(a)
    repeated = [(i, w) for i, w in sorted(ways.items()) if len(w) > 1]
    if repeated:  # two jobs of one run: the second would find the first's lock or record
        said = "; ".join(
            f"cell {i} (as {', '.join(shown(a, 60) for a in w)})" for i, w in repeated[:3]
        )
        more = f"; and {len(repeated) - 3} more" if len(repeated) > 3 else ""
        raise ArgumentError(Param("archs"), f" repeats {said}{more}; give each cell once")
    return cells


def check_seeds(seeds: object) -> list[int]:
    """``seeds`` as a list of distinct training seeds, each an int in ``0..2**63 - 1`` (NB201's
    own seeding refuses negative seeds; the results database stores them as SQLite integers).

    >>> check_seeds([777, 888.0])
    [777, 888]
    >>> check_seeds([1.5])
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: seeds must lie in 0..9223372036854775807 (an int, not a float), got 1.5; NB201 uses 777
    >>> check_seeds([1, 1])
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: seeds repeats 1; give each seed once
    """
    out = [
        check_int_range(Param("seeds"), s, 0, INT64_MAX, fix="NB201 uses 777")
        for s in as_sequence(Param("seeds"), seeds, "training seeds")
    ]
    repeated = sorted({s for s in out if out.count(s) > 1})
    if repeated:  # two jobs of one run: the second would find the first's lock or record
        raise ArgumentError(
            Param("seeds"), f" repeats {', '.join(map(str, repeated))}; give each seed once"
        )
    return out


_MEMBER_FIELDS = frozenset({"arch", "index", "ops", "seed"})
"""What may differ between the runs of one concurrent unit (``--concurrent``)."""


def concurrency_key(job: TrainJob) -> tuple[object, ...]:
    """What runs trained concurrently in one process share: every job field but the cell and
    the seed (the dataset on the device, the mode's process-wide flags, the schedule...).

    >>> a, b = make_jobs([0, 11472], dataset="cifar10", epochs=2, seeds=[1],
    ...                  data_root="d", db_path="r.sqlite")
    >>> concurrency_key(a) == concurrency_key(b)
    True
    """
    return tuple(getattr(job, f.name) for f in fields(job) if f.name not in _MEMBER_FIELDS)


Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class JobResult:
    """Outcome of one :class:`TrainJob`.

    Attributes
    ----------
    job
        The job.
    status
        ``"done"`` (trained now), ``"skipped"`` (already in the database), ``"failed"``.
    metrics
        Final-epoch ``{split: {"loss": ..., "accuracy": ...}}`` (empty when failed).
    train_time_s
        Training time of the whole schedule (excluding evaluation), seconds.
    error
        Last error message when failed, naming parameters as Python does.
    attempts
        How many times it ran.
    error_parts
        The same message as parts (:class:`~nb201_flat.errors.ParamMessage`): the parameters
        it names stay :class:`~nb201_flat.errors.Param`, which a command respells as its flags
        (:meth:`error_spelled`); a failure in a worker comes back as this result, not as the
        error, so it keeps them here.
    """

    job: TrainJob
    status: Status
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    train_time_s: float = float("nan")
    error: str | None = None
    attempts: int = 1
    error_parts: tuple[Part, ...] = ()

    @property
    def ok(self) -> bool:
        """True unless failed."""
        return self.status != "failed"

    def error_spelled(self, spell: Callable[[Param], str | None]) -> str | None:
        """:attr:`error` with each parameter it names as ``spell`` names it (``None``: as
        Python does; :func:`nb201_flat.errors.spelled`)."""
        return spelled(self.error_parts, spell) if self.error_parts else self.error
