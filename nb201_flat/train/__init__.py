"""Retraining backend: the NAS-Bench-201 network, data, recipe, trainer, results DB, executors.

Nothing here imports torch at package import time: torch is loaded by :mod:`.model` and
:mod:`.trainer` when they are used, and a missing torch raises
:class:`~nb201_flat.errors.MissingDependencyError` naming the ``train`` extra. The cost formulas
(:mod:`.costs`), the data readers (:mod:`.data`), the recipe (:mod:`.recipe`) and the results
database (:mod:`.results_db`) need only numpy, pandas and the standard library.

Modules
-------
costs
    Parameter counts (MB, as NB201 counts them) and FLOPs (M) from the op list, no torch.
model
    The NB201 network (``Network``) for any cell space, C and N; extensible op registry.
data
    CIFAR-10/100 and ImageNet16-120 readers (restricted unpickler), NB201 splits, download.
recipe
    The NB201 training recipe as a frozen value; the 200- and 12-epoch schedules.
trainer
    One training run, device-resident data, checkpoint/resume, results into the database.
checkpoint
    Atomic per-epoch checkpoints with fallback to the previous one when the newest is corrupt.
results_db
    SQLite results store safe for many writers; ``load_results`` returns the tidy frame.
executors
    ``LocalExecutor``, ``DaskExecutor``, ``SlurmExecutor`` sharing ``Executor.map(jobs)``.
jobs
    ``TrainJob`` (what to train) and ``JobResult`` (what came out), plain picklable values.
modes
    ``faithful`` (NB201's numerics) and ``fast`` (bf16, channels-last, compile) training modes.
splits
    NB201's split files shipped as package data (SHA-256 checked); NB201's dataset sizes.
augment
    Crop/flip parameters drawn on the device.
grouped
    K seeds of one cell trained as one vmapped network.
grouped_run
    A group of same-cell jobs trained as one, each member's results and checkpoints its own.
streams
    Different cells stepped together, one CUDA stream each, sharing one copy of the data.
concurrent_run
    Different cells trained at once in one process (``--concurrent``), each run's results
    and checkpoints its own.
writer
    The background thread that writes checkpoints and results off the training thread.
pruning
    Skips edges into nodes that never reach the cell output.
campaign
    Cell sets (Hamming balls, samples, isomorphism classes) and constant-output cells.
"""

from __future__ import annotations
