"""Train one NB201 network with the NB201 recipe; checkpoint, resume, store results.

Data and augmentation live on the training device: the uint8 images are copied there once,
and each batch is cropped (zero padding), flipped and normalised with tensor ops, so a GPU never
waits for a CPU data loader. All random numbers (data order, crop offsets, flips) come from one
``torch.Generator`` on the training device, seeded by the job's seed, whose state is
checkpointed with the model, optimiser and scheduler: a run killed at any moment (``kill -9``) resumes from its last
checkpoint to the same final numbers (bitwise on CPU, where a resume under another thread count
is refused: :func:`check_owner`; on CUDA up to the non-determinism of its kernels). Weight init uses the seed through a forked global RNG, so
the caller's RNG state is left untouched.

After each epoch the results are upserted into the database, then the checkpoint is written,
both off the training thread (:mod:`.writer`: the state is copied to the CPU first, one writer
thread does the atomic writes in order, its errors surface on the training thread); a crash in
between repeats that epoch with identical numbers. The splits are evaluated every
``job.evaluate_every`` epochs and at the last epoch, in batches of ``recipe.eval_batch_size``
(separate from the training batch); evaluation never changes the training. The job's mode
(:mod:`.modes`: ``faithful`` or ``fast``) sets precision, layout, compilation, backend flags and
the learning-rate update (once per epoch, as NB201).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nb201_flat.errors import (
    CheckpointMismatchError,
    DataMismatchError,
    Nb201FlatError,
    Param,
    for_log_parts,
    require,
)

require("torch", "train")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from nb201_flat.train import costs  # noqa: E402
from nb201_flat.train.augment import draw_crops  # noqa: E402
from nb201_flat.train.checkpoint import (  # noqa: E402
    Checkpointer,
    load_schedule_state,
    read_epoch_checkpoint,
)
from nb201_flat.train.data import (  # noqa: E402
    DataIdentity,
    DatasetInfo,
    DataSplits,
    load_dataset,
)
from nb201_flat.train.jobs import (  # noqa: E402
    JobResult,
    TrainJob,
    check_data_read,
    check_device,
    check_stored_data,
    device_shortfall,
    discard_if_damaged,
)
from nb201_flat.train.model import Network, seeded_network  # noqa: E402
from nb201_flat.train.modes import (  # noqa: E402
    TrainMode,
    apply_backend_flags,
    compile_network,
    compile_options,
    is_eval_epoch,
)
from nb201_flat.train.pruning import prune_network  # noqa: E402
from nb201_flat.train.recipe import Recipe  # noqa: E402
from nb201_flat.train.results_db import (  # noqa: E402
    ResultsDB,
    check_name_room,
    checkpoints_past_rows,
    not_created_yet,
)
from nb201_flat.train.runlock import run_lock  # noqa: E402
from nb201_flat.train.writer import BackgroundWriter, cpu_snapshot  # noqa: E402

log = logging.getLogger(__name__)

EpochCallback = Callable[[int, Mapping[str, tuple[float, float, float]]], None]
"""``callback(epoch, rows)`` once an epoch's rows and checkpoint are stored, on the writer
thread; ``rows[split] = (loss, acc, time_s)`` (evaluated splits only on evaluated epochs). An
exception it raises stops the training at its next epoch (as a writer error)."""


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other strings as torch reads them
    (:func:`~.jobs.check_device`: ``cpu:0`` and ``cuda:1`` too).

    A device this machine lacks is refused in one line (:func:`~.jobs.device_shortfall`): any
    CUDA device without CUDA, ``cuda:N`` past its last GPU (torch would fail later with an
    invalid device ordinal), ``mps`` without MPS."""
    # the job's check, for a caller passing a device by hand: torch's bare error for "gpu"
    if check_device(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if (short := device_shortfall(device)) is not None:
        problem, fix = short
        raise Nb201FlatError(f"device {device!r} requested but {problem}; use {fix}")
    return torch.device(device)


def current_gpu(device: str | torch.device) -> contextlib.AbstractContextManager[object]:
    """``device`` as this thread's current CUDA device inside a ``with`` block when it names
    one GPU (``cuda:N``); nothing for any other device.

    What torch does on the *current* device rather than on a tensor's (compiled CUDA graphs
    synchronise it; ``torch.compile``, cuDNN handles and the allocator's bookkeeping follow it)
    then happens on the run's GPU, and no CUDA context opens on GPU 0 for it. ``cuda`` without
    an index and ``auto`` (:func:`resolve_device`) mean the current device already. The device
    current before is back after the block, on an error too, and entering it again inside (an
    executor's worker holds its GPU for its whole life) changes nothing.

    Every run enters it where it starts training, whichever path called it (an executor, the
    CLI's inline progress bars, a user's :func:`train`): :func:`train` for one job,
    :func:`~nb201_flat.train.unit.train_unit` for a group or a concurrent unit.

    A device this machine lacks is refused here, before anything is entered, as
    :func:`resolve_device` refuses it (:class:`~nb201_flat.errors.Nb201FlatError`, one line),
    not with torch's own error.

    >>> isinstance(current_gpu("cpu"), contextlib.nullcontext)
    True
    """
    dev = resolve_device(device if isinstance(device, str) else str(device))
    if dev.type != "cuda" or dev.index is None:
        return contextlib.nullcontext()
    return torch.cuda.device(dev)


class DeviceData:
    """One dataset resident on a device, with on-device augmentation.

    Parameters
    ----------
    data
        Arrays from :func:`~nb201_flat.train.data.load_dataset`.
    device
        Where tensors live.
    """

    def __init__(self, data: DataSplits, device: torch.device) -> None:
        self.info: DatasetInfo = data.info
        self.device = device
        self.train_x = torch.from_numpy(np.ascontiguousarray(data.train_x)).to(device)
        self.train_y = torch.from_numpy(data.train_y).to(device)
        self.sources = {
            name: (
                torch.from_numpy(np.ascontiguousarray(x)).to(device),
                torch.from_numpy(y).to(device),
            )
            for name, (x, y) in data.sources.items()
        }
        self.splits = {
            name: (src, torch.from_numpy(idx).to(device))
            for name, (src, idx) in data.splits.items()
        }
        shape = (1, 3, 1, 1)
        self.mean = torch.tensor(self.info.mean, device=device).view(shape)
        self.std = torch.tensor(self.info.std, device=device).view(shape)

    def normalise(self, x_u8: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float, ``(x / 255 - mean) / std`` (torchvision's ToTensor+Normalize)."""
        return (x_u8.float().div_(255.0) - self.mean) / self.std

    def augment(
        self, x_u8: torch.Tensor, pad: int, flip: bool, gen: torch.Generator
    ) -> torch.Tensor:
        """Random crop with zero padding ``pad`` and random horizontal flip, then normalise.

        Padding is applied to the raw image (value 0, as torchvision's RandomCrop on a PIL
        image) before normalisation. Offsets and flips are drawn from ``gen`` on the device it
        lives on (the session's generator is on the training device), so a step never waits
        for a host-to-device copy; see :func:`~nb201_flat.train.augment.draw_crops`.
        """
        b, c, h, w = x_u8.shape
        x = x_u8.float().div_(255.0)
        if pad > 0:
            x = F.pad(x, (pad, pad, pad, pad))
        oy, ox, flips = draw_crops(b, pad, flip, gen)
        ar_h = torch.arange(h, device=self.device)
        ar_w = torch.arange(w, device=self.device)
        rows = oy[:, None] + ar_h[None, :]  # (b, h)
        cols = ox[:, None] + torch.where(flips[:, None], (w - 1) - ar_w[None, :], ar_w[None, :])
        x = x.gather(2, rows[:, None, :, None].expand(b, c, h, x.shape[3]))
        x = x.gather(3, cols[:, None, None, :].expand(b, c, h, w))
        return (x - self.mean) / self.std


def _job_state_id(job: TrainJob) -> list[Any]:
    # what must match for a checkpoint to belong to this run; the batch and LR are in the key
    # since recipes are keyed, and stay here so that older checkpoints keep matching
    return [*job.key, job.c, job.n, list(job.ops), job.recipe.batch_size, job.recipe.lr]


def checkpoint_meta(
    job: TrainJob,
    epoch: int,
    train_time_s: float,
    data: DataIdentity | None,
    record: RunRecord,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """What a checkpoint holds besides the training state: its epoch, its run's identity,
    the training time so far, the digest of the data read (checked on resume), the run's
    :class:`RunRecord` so far and, trained on the CPU (``device``), its thread count
    (:func:`cpu_threads`, checked on resume)."""
    return {
        "epoch": epoch,
        "run": _job_state_id(job),
        "train_time_s": train_time_s,
        "data": None if data is None else data.digest,
        "trained_as": list(record.forms),
        "trained_on": list(record.devices),
        "data_recorded": record.data is not None,
        "cpu_threads": None if device is None else cpu_threads(device),
    }


def cpu_threads(device: torch.device) -> int | None:
    """torch's intra-op thread count when ``device`` is the CPU, else ``None``.

    A CPU kernel splits its reductions by thread, so the same run gives other numbers (in the
    last digits) under another count: it is part of the device a CPU run is recorded on, and a
    resume under another count is refused. Inter-op threads are not: eager training runs no
    op in them."""
    return torch.get_num_threads() if device.type == "cpu" else None


UNRECORDED = "unrecorded"
"""The form or device of epochs resumed from a checkpoint written before they were recorded."""


def _so_far(state: Mapping[str, Any] | None, field: str, now: str | None) -> tuple[str, ...]:
    before = [] if state is None else list(state.get(field) or [UNRECORDED])
    return tuple(before if now is None or before[-1:] == [now] else [*before, now])


def device_label(device: torch.device) -> str:
    """The hardware and software a run trains on, as recorded: the GPU's name or ``cpu``,
    with torch's version (and CUDA's and cuDNN's on a GPU; the thread count on the CPU)."""
    if device.type == "cuda":
        cudnn = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
        return (
            f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA "
            f"{torch.version.cuda}, cuDNN {cudnn}"
        )
    threads = cpu_threads(device)
    if threads is not None:
        return f"{device.type}, torch {torch.__version__}, {threads} CPU threads"
    return f"{device.type}, torch {torch.__version__}"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """How a run was trained, as its checkpoints and the results database record it.

    Attributes
    ----------
    forms, devices
        The forms (``single``, ``grouped:K``, ``concurrent:K``) and the devices
        (:func:`device_label`) it was trained in, oldest first, each listed again only when it
        changes; ``unrecorded`` for epochs resumed from a checkpoint older than the record.
    data
        The data every epoch was trained on; ``None`` once the run resumed from a checkpoint
        written before digests were (its earlier epochs' data is unknown).

    Examples
    --------
    >>> RunRecord.resumed(None, "single", "cpu", None).trained_as
    'single'
    >>> r = RunRecord.resumed({"trained_as": ["grouped:4"], "data": "d"}, "single", "cpu", None)
    >>> r.forms, r.trained_as, r.devices
    (('grouped:4', 'single'), 'grouped:4+single', ('unrecorded', 'cpu'))
    """

    forms: tuple[str, ...]
    devices: tuple[str, ...]
    data: DataIdentity | None

    @classmethod
    def resumed(
        cls,
        state: Mapping[str, Any] | None,
        form: str | None,
        device: str | None,
        data: DataIdentity | None,
    ) -> RunRecord:
        """The record of a run resuming from checkpoint ``state`` (``None``: a fresh start),
        trained here in ``form`` on ``device`` (both ``None`` when this process trains no
        epoch of it) on ``data``."""
        known = state is None or (
            state.get("data") is not None and bool(state.get("data_recorded", True))
        )
        return cls(
            _so_far(state, "trained_as", form),
            _so_far(state, "trained_on", device),
            data if known else None,
        )

    @property
    def trained_as(self) -> str:
        """The forms as the results database stores them, e.g. ``grouped:4+single``."""
        return "+".join(self.forms)

    @property
    def trained_on(self) -> str:
        """The devices as the results database stores them, joined by `` | ``."""
        return " | ".join(self.devices)


def check_owner(
    state: Mapping[str, Any],
    job: TrainJob,
    folder: object,
    data: DataIdentity | None = None,
    device: torch.device | None = None,
) -> None:
    """Refuse a checkpoint state in ``folder`` that another run wrote (one run per folder),
    that was trained on other data than ``data`` (a state without a digest predates them),
    whose random stream cannot go on on ``device``, or that was trained on the CPU under
    another thread count than this process's (:func:`cpu_threads`: the resumed run would not
    equal an uninterrupted one; a state without the count predates it).

    The crop offsets, flips and data order are drawn on the training device, and a CPU
    generator's state (Mersenne Twister) is not a CUDA one's (Philox seed and offset): a run
    continues on the kind of device it was trained on, any GPU of that kind."""
    if state.get("run") != _job_state_id(job):
        raise CheckpointMismatchError(
            f"checkpoints in {folder} belong to another run ({state.get('run')}); "
            "move them away or use another ",
            Param("ckpt_dir"),
        )
    before = state.get("data")
    if data is not None and before is not None and before != data.digest:
        raise DataMismatchError(
            f"checkpoints in {folder} were trained on other data (other files or another "
            f"split; digest {str(before)[:12]}; these files and split: {data.short}); restore "
            "those files and split, or move the checkpoints away"
        )
    saved = state.get("generator")
    if device is not None and saved is not None:
        here = torch.Generator(device=device).get_state()
        if saved.numel() != here.numel():
            raise CheckpointMismatchError(
                f"checkpoints in {folder} were trained on another kind of device than "
                f"{device.type}, whose random stream (crops, flips, data order) cannot go on "
                "here; resume on the kind of device they were trained on, or move them away to "
                "start the run over"
            )
    if device is not None:
        check_threads(state, folder, cpu_threads(device))


def check_threads(state: Mapping[str, Any], folder: object, threads: int | None) -> None:
    """Refuse to resume checkpoint ``state`` (in ``folder``) trained on the CPU under another
    thread count than ``threads`` (``None``: not on the CPU; a state without a count predates
    its record): the resumed run's numbers would not equal an uninterrupted one's."""
    before = state.get("cpu_threads")
    if before is not None and threads is not None and before != threads:
        raise CheckpointMismatchError(
            f"checkpoints in {folder} were trained with {before} CPU threads, this run has "
            f"{threads}, and a CPU's numbers depend on the count; resume with ",
            Param("threads", before),
            ", or move them away to start the run over",
        )


def check_resume_threads(jobs: Sequence[TrainJob], threads: int) -> None:
    """:func:`check_threads` for the newest checkpoint of each of ``jobs`` that has one, to
    train with ``threads`` CPU threads: one refusal before any run starts rather than one
    failed attempt per run. Reads only (an unreadable file is left to the run); a job without
    a checkpoint folder costs one ``stat``, and a checkpoint is mapped rather than read
    (:func:`_mapped_state`). Its sha256 is not checked here, which would read the whole file:
    the run checks it before resuming (:mod:`~nb201_flat.train.checkpoint`) and checks the
    thread count again on the verified state (:func:`check_owner`)."""
    for job in jobs:
        for _, path in Checkpointer(job.checkpoint_folder).files():
            try:
                state = _mapped_state(path)
            except Exception:  # the run falls back past it, with a warning
                continue
            if isinstance(state, dict):
                check_threads(state, path.parent, threads)
            break  # the newest readable one is where the run resumes


def warn_rows_without_checkpoints(job: TrainJob, db: ResultsDB, ckpt: Checkpointer) -> None:
    """Say so where ``job``'s run has epochs stored but no checkpoint in its folder, before
    they are trained again from the first epoch: its checkpoints were most likely written
    elsewhere (a ``ckpt_dir``, train's ``--ckpt-dir``, not given again), and that restart was
    logged at INFO only; the warning names the parameter as the running command does.
    One epoch is what a stop between an epoch's rows and its checkpoint leaves: not said."""
    if ckpt.files():
        return
    whole = db.whole_train_epochs(job.key)
    if whole >= 2:
        # the parameter as the running command names it (train's --ckpt-dir), else Python's
        fix = for_log_parts([Param("ckpt_dir")])
        log.warning(
            "%s: run %s has epochs 1-%d stored in %s but no checkpoint in %s: it trains again "
            "from its first epoch, its stored epochs replaced (were its checkpoints written "
            "elsewhere? resume with the checkpoint folder it was trained with, %s)",
            job.name, tuple(job.key), whole, job.db_path, ckpt.folder, fix,
        )  # fmt: skip


def check_resume_rows(jobs: Sequence[TrainJob], db_path: str | os.PathLike[str]) -> None:
    """The refusals a resume of each of ``jobs`` would meet over its rows in the results
    database at ``db_path``, before any run starts (one line, not one failed run each): a
    run whose newest readable checkpoint reaches past its train rows (the database deleted
    or replaced, its checkpoints kept: :func:`~.results_db.checkpoints_past_rows`), or that
    another run wrote (:func:`check_owner`), as the run would say it. A job with
    :attr:`~.jobs.TrainJob.retrain_damaged` is left to its repair (:func:`~.jobs.discard_if_damaged`),
    and a seed group to its own resume (it resumes from the epoch its members share). Reads
    only: one listing per job, and a checkpoint past the rows read and verified as a resume
    reads it (a corrupt one is passed over, as the run falls back past it)."""
    db = None
    if not not_created_yet(db_path):  # another command's new file too: no rows
        db = ResultsDB(db_path, readonly=True, named="db_path")
    try:
        for job in jobs:
            if job.retrain_damaged:
                continue
            files = Checkpointer(job.checkpoint_folder).files()
            whole = 0 if db is None or not files else db.whole_train_epochs(job.key)
            for epoch, path in files:
                if epoch <= whole:
                    break  # the resume stays within its rows
                try:  # read and verified as the run's resume reads it (Checkpointer.load_latest)
                    state = read_epoch_checkpoint(path, epoch)
                except Exception:  # the run sets it aside and falls back past it: so here
                    continue
                if state.get("run") != _job_state_id(job):
                    check_owner(state, job, path.parent)  # the run's own refusal, first
                raise checkpoints_past_rows(db_path, job.key, whole, epoch)
    finally:
        if db is not None:
            db.close()


def _mapped_state(path: Path) -> Any:
    """The checkpoint at ``path`` with its tensors memory-mapped, not read: the thread count
    sits in the small pickled part, and the weights and optimiser state, most of the file,
    are never touched. The count is stored nowhere else (the results database records a
    run's device once it is done). A file torch cannot map (written without the zip format)
    is read in full."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return torch.load(path, map_location="cpu", weights_only=True)


def train(
    job: TrainJob,
    *,
    progress: bool = False,
    on_epoch_end: EpochCallback | None = None,
) -> JobResult:
    """Run (or resume, or skip) one training job and return its final numbers.

    Parameters
    ----------
    job
        What to train and where results go.
    progress
        Show a tqdm progress bar over epochs.
    on_epoch_end
        Called after each epoch is stored (monitoring, tests), on the writer thread.

    Returns
    -------
    JobResult
        ``status="skipped"`` with the stored numbers when the database already has the run.

    Raises
    ------
    RunLockedError
        Another live process is training the same run (see :mod:`nb201_flat.train.runlock`).
    ArgumentError
        The database's name leaves no room for SQLite's files beside it
        (:func:`~.results_db.check_name_room`), before any file or folder is made.

    Notes
    -----
    ``job.threads`` sets torch's CPU thread count for the run only: the count is as it was
    when this returns. On CUDA the run's backend flags (TF32, cuDNN determinism and
    benchmark: :func:`~.modes.apply_backend_flags`) are process-wide and stay set.
    """
    check_name_room(job.db_path, "db_path")
    threads = torch.get_num_threads()
    try:
        # one process per run: a second train of the same run is refused while this one lives
        with run_lock(job.checkpoint_folder, job.name):
            return _train_locked(job, progress=progress, on_epoch_end=on_epoch_end)
    finally:  # a later run with threads=None ran with (and recorded) this one's count
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _train_locked(
    job: TrainJob, *, progress: bool, on_epoch_end: EpochCallback | None
) -> JobResult:
    db = ResultsDB(job.db_path, named="db_path")
    try:
        discard_if_damaged(job, db)  # under the run's lock: no other process trains it
        if db.is_done(job.key):
            check_stored_data(job, db.data_digest(job.key))
            metrics, t = db.final_metrics(job.key)
            log.info("%s already in %s; skipped", job.name, job.db_path)
            return JobResult(job, "skipped", metrics, t)
        with current_gpu(job.device):  # a stored run (above) touches no GPU
            return _train(job, db, progress=progress, on_epoch_end=on_epoch_end)
    finally:
        db.close()


class Session:
    """A network, its optimiser and schedule, and its device-resident data: one training state.

    Parameters
    ----------
    data
        The dataset on its device.
    ops, n_nodes, c, n
        The cell and network size.
    seed
        Seeds weight init (through a forked global RNG) and the data/augmentation generator.
    recipe
        Hyper-parameters; the cosine runs over ``recipe.epochs`` epochs.
    compile, amp, channels_last
        ``torch.compile``; bf16 autocast and channels-last layout (``None``: on for CUDA).
    cuda_graphs
        Let a compiled network capture CUDA graphs where its mode does; ``False`` for sessions
        stepped on several CUDA streams at once (see :func:`~.modes.compile_options`).
    """

    def __init__(
        self,
        data: DeviceData,
        ops: tuple[str, ...],
        n_nodes: int,
        *,
        c: int,
        n: int,
        seed: int,
        recipe: Recipe,
        compile: bool = False,
        amp: bool | None = None,
        channels_last: bool | None = None,
        mode: TrainMode | None = None,
        cuda_graphs: bool = True,
    ) -> None:
        self.data, self.recipe, self.device = data, recipe, data.device
        on_cuda = self.device.type == "cuda"
        self.mode = mode
        if mode is not None:  # the mode decides; see nb201_flat.train.modes
            amp, channels_last = mode.amp, mode.uses_channels_last(self.device.type)
            compile = mode.uses_compile(self.device.type)
        self.amp = on_cuda if amp is None else amp
        self.channels_last = on_cuda if channels_last is None else channels_last
        self.pad = data.info.pad if recipe.crop_pad is None else recipe.crop_pad
        model = seeded_network(
            ops, n_nodes, c=c, n=n, num_classes=data.info.num_classes, seed=seed
        ).to(self.device)
        if mode is not None and mode.name == "fast":
            prune_network(model)  # same logits and updates; skips edges into dead nodes
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.model: Network = model
        self.n_train = len(data.train_y)
        self.steps = recipe.steps_per_epoch(self.n_train)
        self.opt = torch.optim.SGD(
            model.parameters(),
            lr=recipe.lr,  # a float: see checkpoint.load_schedule_state
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
        lr_update = "epoch" if mode is None else mode.lr_update
        steps = self.steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: recipe.step_factor(int(s), steps, lr_update)
        )
        # on the training device: crop offsets, flips and the data order need no host copy
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        opts = (
            compile_options(mode, self.device.type, cuda_graphs=cuda_graphs)
            if mode is not None
            else None
        )
        if opts is None and compile:
            opts = {}
        self.cuda_graphs = opts is not None and opts.get("mode") == "reduce-overhead"
        self.fwd: Callable[[torch.Tensor], torch.Tensor] = (
            compile_network(model, opts) if opts is not None else model
        )

    def autocast(self) -> torch.autocast:
        """bf16 autocast when enabled (a no-op context otherwise)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def prep(self, x: torch.Tensor) -> torch.Tensor:
        """Input layout the network runs in."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def state(self) -> dict[str, Any]:
        """Everything a resume needs besides the epoch counter."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "generator": self.gen.get_state(),
        }

    def snapshot(self) -> dict[str, Any]:
        """:meth:`state` copied to the CPU: safe to hand to the background writer."""
        return dict(cpu_snapshot(self.state()))

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state`."""
        self.model.load_state_dict(state["model"])
        load_schedule_state(self.opt, self.sched, state["optimizer"], state["scheduler"])
        self.gen.set_state(state["generator"])

    def train_epoch(self, max_steps: int | None = None) -> tuple[float, float, int]:
        """One epoch (or its first ``max_steps`` steps): ``(mean loss, accuracy %, images)``."""
        steps = self.begin_epoch(max_steps)
        for b in range(steps):
            self.step(b)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return self.end_epoch()

    # An epoch in three parts, so that several sessions can interleave their steps (one CUDA
    # stream each, :mod:`.streams`); train_epoch runs them back to back.
    def begin_epoch(self, max_steps: int | None = None) -> int:
        """Start an epoch: draw its data order; return the number of steps to run."""
        self.model.train()
        self._perm = torch.randperm(self.n_train, generator=self.gen, device=self.device)
        self._loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self._correct = torch.zeros((), dtype=torch.int64, device=self.device)
        self._seen = 0
        return self.steps if max_steps is None else min(self.steps, max_steps)

    def step(self, b: int) -> None:
        """Optimiser step ``b`` of the epoch begun by :meth:`begin_epoch` (no host sync)."""
        data, recipe = self.data, self.recipe
        idx = self._perm[b * recipe.batch_size : (b + 1) * recipe.batch_size]
        x = self.prep(data.augment(data.train_x[idx], self.pad, recipe.flip, self.gen))
        y = data.train_y[idx]
        with self.autocast():
            logits = self.fwd(x)
            loss = F.cross_entropy(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.opt.step()
        self.sched.step()
        self._loss_sum += loss.detach().double() * len(idx)
        self._correct += (logits.detach().argmax(1) == y).sum()
        self._seen += len(idx)

    def end_epoch(self) -> tuple[float, float, int]:
        """``(mean loss, accuracy %, images)`` of the epoch's steps (reads them to the host)."""
        seen = self._seen
        return float(self._loss_sum) / seen, 100.0 * float(self._correct) / seen, seen

    def evaluate(self) -> dict[str, tuple[float, float, float]]:
        """``{split: (loss, accuracy %, seconds)}`` on every evaluated split."""
        return _evaluate(
            self.fwd, self.model, self.data, self.recipe.eval_batch_size, self.autocast, self.prep
        )


def load_device_data(
    jobs: Sequence[TrainJob], device: torch.device
) -> tuple[DeviceData, DataIdentity | None]:
    """The dataset of ``jobs`` (one unit's: one dataset, split and mode) on ``device``, read
    once and checked against each job's recorded data (:func:`check_data_read`), and the
    identity of what was read; the first job's CPU threads and backend flags applied."""
    job0 = jobs[0]
    if job0.threads is not None:
        torch.set_num_threads(job0.threads)
    # a campaign that found the data first (data_identity) warned of a fallback split once
    splits = load_dataset(
        job0.dataset,
        job0.data_root,
        split_dir=job0.split_dir,
        strict=job0.train_mode.name == "faithful",
        warn=job0.data_identity is None,
    )
    for job in jobs:
        check_data_read(job, splits.identity)
    data = DeviceData(splits, device)
    apply_backend_flags(job0.train_mode, device.type)
    return data, splits.identity


def _train(
    job: TrainJob, db: ResultsDB, *, progress: bool, on_epoch_end: EpochCallback | None
) -> JobResult:
    from nb201_flat.budget import epoch_bar

    device = resolve_device(job.device)
    recipe = job.recipe
    data, identity = load_device_data([job], device)
    info = data.info
    sess = Session(
        data,
        job.ops,
        job.n_nodes,
        c=job.c,
        n=job.n,
        seed=job.seed,
        recipe=recipe,
        mode=job.train_mode,
    )

    ckpt = Checkpointer(job.checkpoint_folder)
    start, train_time = 0, 0.0
    loaded = ckpt.load_latest()
    if loaded is not None:
        start, state = loaded
        check_owner(state, job, ckpt.folder, identity, device)
        sess.load_state(state)
        train_time = float(state["train_time_s"])
        log.info("%s: resuming after epoch %d", job.name, start)
    if loaded is None:
        warn_rows_without_checkpoints(job, db, ckpt)
    state0 = None if loaded is None else loaded[1]
    training = start < recipe.epochs
    record = RunRecord.resumed(
        state0,
        "single" if training else None,
        device_label(device) if training else None,
        identity,
    )
    if db.discard_epochs_after(job.key, start):
        log.info("%s: removed stored epochs after %d (an earlier attempt's)", job.name, start)

    params_mb = sess.model.params_mb()
    flops = costs.flops_m(
        job.ops,
        n_nodes=job.n_nodes,
        c=job.c,
        n=job.n,
        num_classes=info.num_classes,
        image_size=info.image_size,
    )
    rows: dict[str, tuple[float, float, float]] = {}
    bar = epoch_bar(start, recipe.epochs, desc=job.name, show=progress)
    every = job.evaluate_every
    with BackgroundWriter() as writer:
        for epoch in bar:
            t0 = time.perf_counter()
            train_loss, train_acc, _ = sess.train_epoch()
            train_time += time.perf_counter() - t0
            if not math.isfinite(train_loss):
                raise Nb201FlatError(
                    f"{job.name}: training loss became {train_loss} at epoch {epoch + 1}"
                )
            done = epoch + 1
            rows = {"train": (train_loss, train_acc, train_time)}
            if is_eval_epoch(done, every, recipe.epochs):
                rows.update(sess.evaluate())
                if (why := diverged(job.name, done, rows)) is not None:
                    raise Nb201FlatError(why)
            meta = checkpoint_meta(job, done, train_time, identity, record, device)
            snap = {**meta, **sess.snapshot()}
            writer.submit(
                _store_epoch(db, ckpt, job, done, dict(rows), snap, on_epoch_end, record.data)
            )
            bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.1f}")
    bar.close()

    if start >= recipe.epochs:  # everything was done before a crash that hit mark_run
        metrics, train_time = db.final_metrics(job.key)
    else:
        metrics = {s: {"loss": v[0], "accuracy": v[1]} for s, v in rows.items()}
    db.mark_run(
        job.key, job.index, "done", params_mb=params_mb, flops_m=flops, train_time_s=train_time,
        trained_as=record.trained_as, trained_on=record.trained_on, data=record.data,
    )  # fmt: skip
    ckpt.prune_to_last()
    return JobResult(job, "done", metrics, train_time)


def diverged(name: str, epoch: int, rows: Mapping[str, tuple[float, ...]]) -> str | None:
    """Words naming the first split of ``rows`` (one epoch's ``{split: (loss, accuracy,
    ...)}``) whose loss is not finite, or None: the last update of an epoch can leave the
    weights non-finite while the training loss, measured before each update, stayed finite;
    the evaluation's NaN losses were stored and the run marked done."""
    for split, (loss, *_) in rows.items():
        if not math.isfinite(loss):
            return f"{name}: {split} loss became {loss} at epoch {epoch}"
    return None


def _store_epoch(
    db: ResultsDB,
    ckpt: Checkpointer,
    job: TrainJob,
    epoch: int,
    rows: Mapping[str, tuple[float, float, float]],
    state: dict[str, Any],
    on_epoch_end: EpochCallback | None = None,
    data: DataIdentity | None = None,
) -> Callable[[], None]:
    """The writer's task for one epoch: results first (with the ``data`` the run records,
    :meth:`~nb201_flat.train.results_db.ResultsDB.write_epoch`), then the checkpoint (see
    module doc), then the callback, which so sees the epoch stored."""

    def task() -> None:
        db.write_epoch(job.key, job.index, epoch, rows, data=data)
        ckpt.save(epoch, state)
        if on_epoch_end is not None:
            on_epoch_end(epoch, rows)

    return task


def _evaluate(
    fwd: Callable[[torch.Tensor], torch.Tensor],
    model: torch.nn.Module,
    data: DeviceData,
    batch_size: int,
    autocast: Callable[[], torch.autocast],
    prep: Callable[[torch.Tensor], torch.Tensor],
) -> dict[str, tuple[float, float, float]]:
    """Loss and accuracy on every evaluated split; one pass per source array."""
    if not data.splits:
        return {}
    model.eval()  # fwd may be a torch.compile wrapper of model; the mode lives on model
    t0 = time.perf_counter()
    out: dict[str, tuple[float, float, float]] = {}
    with torch.no_grad():
        for src, (x_all, y_all) in data.sources.items():
            names = [s for s, (source, _) in data.splits.items() if source == src]
            if not names:
                continue
            needed = torch.unique(torch.cat([data.splits[s][1] for s in names]))
            losses = torch.zeros(len(y_all), dtype=torch.float64, device=data.device)
            hits = torch.zeros(len(y_all), dtype=torch.bool, device=data.device)
            for b in range(0, len(needed), batch_size):
                idx = needed[b : b + batch_size]
                with autocast():
                    logits = fwd(prep(data.normalise(x_all[idx])))
                y = y_all[idx]
                losses[idx] = F.cross_entropy(logits.float(), y, reduction="none").double()
                hits[idx] = logits.argmax(1) == y
            for s in names:
                idx = data.splits[s][1]
                out[s] = (float(losses[idx].mean()), 100.0 * float(hits[idx].double().mean()), 0.0)
    if data.device.type == "cuda":
        torch.cuda.synchronize(data.device)
    elapsed = time.perf_counter() - t0
    return {s: (lo, acc, elapsed) for s, (lo, acc, _) in out.items()}


def run_job(job: TrainJob) -> JobResult:
    """Picklable entry point for executors: :func:`train` without progress bar."""
    return train(job, progress=False)
