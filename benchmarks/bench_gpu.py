"""GPU training throughput in both modes, many networks per GPU, against NB201's recorded time.

``make bench-gpu`` (``python -m benchmarks.bench_gpu``) writes ``benchmarks/results/gpu.json``:

* images/s and seconds per cifar10-valid epoch (25,000 training images, evaluation excluded)
  for three cells -- ResNet-like 11472, best CIFAR-10 6111 and the median-FLOPs connected
  cell -- in ``faithful`` mode, in ``fast`` mode without ``torch.compile`` (``fast_nocompile``,
  what ``--no-compile`` trains) and in ``fast`` mode, with the peak GPU memory of each
  measurement (allocated, and reserved by the caching allocator: what earlier measurements
  compiled, CUDA graph pools included, is released after each one, so neither counts them),
  whether the network was wrapped by ``torch.compile`` and what the compiler did meanwhile
  (graphs compiled, frames it ran eagerly instead, graphs left uncaptured by CUDA graphs);
* for each cell and mode the ratio NB201's seconds per epoch / ours, NB201's being
  ``time_s`` (cifar10-valid, 200 epochs) from the shared table divided by 200 (``null`` when the
  table is not on this machine -- never estimated);
* aggregate images/s of K = 1, 4, 16, 32 networks through the two user-facing ways of
  training many networks in one process, each built exactly as ``nb201-flat train`` builds it
  (from :class:`~nb201_flat.train.jobs.TrainJob` values, by the functions the CLI's executors
  call), with the ratio to K = 1 (``ratio_to_k1``):

  - ``grouped``: ``--group-seeds K``, K seeds of one cell (11472) as one grouped network
    (:func:`~nb201_flat.train.grouped_run.grouped_session`), faithful mode; also the ratio
    ``ratio_to_single`` to one plain network of the cell (``cells.resnet_like.faithful``): a
    grouped K = 1 is vmapped, so ``ratio_to_k1`` alone could flatter the grouping;
  - ``grouped_fast``: the same in fast mode at K = 32 only (each K is a static shape of its
    own, so a cold compilation of a minute or more), its ratio ``ratio_to_single_fast`` to one
    network of the same cell in fast mode (``cells.resnet_like.fast``, not a grouped K = 1;
    ``null`` when that one was not measured);
  - ``concurrent``: ``--concurrent K``, K different connected cells (the first K of one
    permutation drawn with seed 0, so each K's cells include the smaller K's), one CUDA stream
    each, sharing one copy of the data (:func:`~nb201_flat.train.concurrent_run.sessions_for`
    stepped by :class:`~nb201_flat.train.streams.ConcurrentSessions`), faithful mode; also
    ``ratio_to_single`` to one plain session of the first of those cells
    (``concurrent.single``): a concurrent K = 1 is one session stepped the concurrent way;
* streams against no streams: the three cells above (faithful mode) stepped together, one
  CUDA stream each, against the same three sessions stepped in turn on one stream: aggregate
  images/s of both and their ratio;
* evaluation images/s (11472, faithful) at evaluation batch 256 (the training batch) and 1024
  (the default ``--eval-batch-size``), on 10,000 images;
* ``processes``: aggregate images/s of K = 1, 4, 16, 32 worker processes training at once, as
  ``--jobs-per-device K`` runs them (each its own copy of the data; the cells of
  ``concurrent``; no MPS started), with the ratio to K = 1 (one network in its process) and
  the peaks summed over them; after the compiled cells, so that it never delays them;
* ``peak_gpu_mem_mb`` and ``peak_gpu_reserved_mb``: the largest of the measurements' peaks.

Targets (the issue's): fast mode at least 10x NB201's recorded time per cell; aggregate
throughput with many networks at least 4x one network's. The data are random uint8 images of
CIFAR size resident on the GPU (throughput does not depend on pixel values); only full batches
of 256 are timed, after warm-up steps that absorb compilation and cuDNN autotuning. A global
time budget (default 7 minutes) stops further measurements; each one skipped is recorded as
skipped with the reason, never filled in; a measurement that raises (say, a compilation the
installed torch cannot do) is recorded as ``{"error": ...}``, never as a number. The
measurements without compilation run first (the processes sweep excepted: it follows the
compiled cells, the issue's first target, then the compiled grouped network). The file is rewritten after every measurement
(``"complete": false`` until the last), so a run stopped from outside keeps what it measured.
A hard limit (``--limit-s``, default 470 s) stops a measurement still running then (a cold
compilation begun just inside the budget): the file keeps what was measured, marked
``"stopped"``, and the exit status is 3, so ``make bench-gpu`` ends within 8 minutes.

Without CUDA it prints one line and exits with status 2, writing nothing. At its end, and for
any ``gpu.json`` with ``--summary FILE``, it prints the results as markdown with each target's
verdict (``benchmarks/results/gpu.md`` is that of ``gpu.json``).
``--rehearse-on-cpu --out FILE`` runs every measurement on the CPU at toy sizes, to check the
script before GPU time is spent on it; ``benchmarks/device_gpu.sh`` is the prepared command
for a lent GPU machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import atomic_write_text, machine_info, shared_data_dir
from nb201_flat.space import NB201
from nb201_flat.train import costs

OUT = Path(__file__).resolve().parent / "results" / "gpu.json"
LIMIT_S = 470.0
"""``make bench-gpu`` ends within 8 minutes: the hard limit, with room for python to start."""
NO_CUDA = (
    "bench-gpu: no CUDA device on this machine (torch.cuda.is_available() is False); "
    "run `make bench-gpu` where an NVIDIA GPU is present -- nothing was written"
)
N_TRAIN = 25_000  # cifar10-valid's training set, the dataset of NB201's time_s
NB201_EPOCHS = 200
KS = (1, 4, 16, 32)
# per cell: NB201's numerics; fast without compilation (bf16, channels-last, cuDNN autotuning:
# what --no-compile runs, and a number even where inductor fails); fast as --mode fast runs it
MODES = {"faithful": ("faithful", None), "fast_nocompile": ("fast", False), "fast": ("fast", None)}
GROUPED_CELL = 11472


def median_cost_cell() -> int:
    """Index of the connected NB201 cell of median FLOPs (the lowest index among ties)."""
    codes = NB201.codes[NB201.connected]
    idx = np.flatnonzero(NB201.connected)
    flops = costs.flops_m_of_codes(codes, NB201.ops)
    order = np.lexsort((idx, flops))
    return int(idx[order[(len(order) - 1) // 2]])


def cells() -> dict[str, int]:
    """The three measured cells by name."""
    return {"resnet_like": 11472, "best_cifar10": 6111, "median_cost": median_cost_cell()}


def nb201_times(path: Path | None = None) -> dict[int, float]:
    """NB201's recorded cifar10-valid 200-epoch training time per index, from the tidy table."""
    path = path if path is not None else shared_data_dir() / "nb201_tidy.csv.gz"
    if not path.is_file():
        return {}
    df = pd.read_csv(path)
    sel = df[
        (df["dataset"] == "cifar10-valid")
        & (df["epochs"] == NB201_EPOCHS)
        & (df["metric"] == "time_s")
        & df["seed"].isna()
    ]
    return {int(i): float(v) for i, v in zip(sel["index"], sel["value"], strict=True)}


def concurrent_cells(k: int, *, seed: int = 0) -> list[int]:
    """``k`` connected NB201 cells: the first ``k`` of one seeded permutation (nested in ``k``).

    >>> a, b = concurrent_cells(4), concurrent_cells(16)
    >>> a == b[:4], len(set(b)), all(NB201.connected[i] for i in b)
    (True, 16, True)
    """
    idx = np.flatnonzero(NB201.connected)
    return [int(i) for i in np.random.default_rng(seed).permutation(idx)[:k]]


def bench_jobs(
    indices: Sequence[int], seeds: Sequence[int], mode: str, *, c: int, n: int, batch: int
) -> list[Any]:
    """The :class:`~nb201_flat.train.jobs.TrainJob` values ``nb201-flat train`` would make for
    these cells and seeds (cifar10-valid, 200 epochs, batch ``batch``); never run as jobs, only
    handed to the builders the executors use."""
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.recipe import Recipe

    return make_jobs(
        list(indices),
        dataset="cifar10-valid",
        epochs=NB201_EPOCHS,
        seeds=list(seeds),
        data_root="synthetic",
        db_path="unused.sqlite",
        recipe=Recipe(epochs=NB201_EPOCHS, batch_size=batch),
        c=c,
        n=n,
        mode=mode,
    )


def guarded(measure: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``measure(*args, **kwargs)``, or ``{"error": "Type: message"}`` when it raises."""
    try:
        out: dict[str, Any] = measure(*args, **kwargs)
    except Exception as exc:  # recorded in the JSON: a failed measurement is not a number
        return {"error": f"{type(exc).__name__}: {exc}"}
    return out


def measured(measure: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`guarded`, then what the measurement compiled released (its graphs and CUDA graph
    pools, :func:`~nb201_flat.train.modes.release_compiled`), raised or not: the caching
    allocator would otherwise keep those pools, and every later measurement's
    ``peak_reserved_mb`` would count them."""
    from nb201_flat.train import modes

    try:
        return guarded(measure, *args, **kwargs)
    finally:
        modes.release_compiled()


def ratio_to_nb201(nb201_time_s: float | None, s_per_epoch: float) -> float | None:
    """NB201's seconds per epoch over ours (> 1: faster than NB201); ``None`` without NB201's.

    >>> ratio_to_nb201(2000.0, 1.0)
    10.0
    >>> ratio_to_nb201(None, 1.0) is None
    True
    """
    if nb201_time_s is None or not math.isfinite(nb201_time_s):
        return None
    return (nb201_time_s / NB201_EPOCHS) / s_per_epoch


def synthetic_data(n_train: int, device: Any, *, seed: int = 0) -> Any:
    """Random CIFAR-size uint8 images and labels resident on ``device`` (no evaluated splits)."""
    from nb201_flat.train.data import DATASETS, DataSplits
    from nb201_flat.train.trainer import DeviceData

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n_train, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n_train).astype(np.int64)
    return DeviceData(DataSplits(DATASETS["cifar10-valid"], x, y, {}, {}), device)


def _compile_counts() -> dict[str, int]:
    """This process's compilation counters so far: graphs dynamo compiled, frames it gave up
    on and ran eagerly (a recompile limit hit, say), and graphs inductor compiled but did not
    capture as CUDA graphs (a mutated input, a CPU tensor...: fast mode's "where the step
    allows", counted)."""
    from torch._dynamo.utils import counters

    frames = counters["frames"]
    return {
        "graphs_compiled": int(counters["stats"]["unique_graphs"]),
        "eager_fallbacks": int(frames["total"]) - int(frames["ok"]),
        "cudagraph_skips": int(counters["inductor"]["cudagraph_skips"]),
    }


def _counts_since(before: dict[str, int]) -> dict[str, int]:
    return {k: v - before[k] for k, v in _compile_counts().items()}


def _peak_reset(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        gc.collect()  # the networks of earlier measurements (an OOM's traceback included)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peaks(device: Any) -> dict[str, float | None]:
    """Peak GPU memory since :func:`_peak_reset`: held by tensors (``peak_mem_mb``) and held
    by the caching allocator (``peak_reserved_mb``, which also counts the private memory pools
    of this measurement's CUDA graphs; :func:`measured` releases each measurement's); ``None``
    off a GPU."""
    import torch

    if device.type != "cuda":
        return {"peak_mem_mb": None, "peak_reserved_mb": None}
    return {
        "peak_mem_mb": torch.cuda.max_memory_allocated(device) / 2**20,
        "peak_reserved_mb": torch.cuda.max_memory_reserved(device) / 2**20,
    }


def measure_single(
    data: Any,
    index: int,
    mode: str,
    *,
    c: int,
    n: int,
    batch: int,
    steps: int,
    warmup: int,
    compile: bool | None = None,
) -> dict[str, Any]:
    """Images/s, s/epoch and peak memory of one network of cell ``index`` in ``mode``
    (``compile=False``: the mode without ``torch.compile``)."""
    from nb201_flat.train.modes import apply_backend_flags, effective_mode
    from nb201_flat.train.recipe import recipe_for
    from nb201_flat.train.trainer import Session

    m = effective_mode(mode, compile=compile)
    apply_backend_flags(m, data.device.type)
    recipe = recipe_for(NB201_EPOCHS)
    recipe = type(recipe)(epochs=NB201_EPOCHS, batch_size=batch)
    sess = Session(data, NB201.arch(index).ops, 4, c=c, n=n, seed=0, recipe=recipe, mode=m)
    counts = _compile_counts()
    _peak_reset(data.device)
    t0 = time.perf_counter()
    if warmup:
        sess.train_epoch(max_steps=warmup)  # compilation, autotuning, allocator
    t_warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, _, seen = sess.train_epoch(max_steps=steps)  # synchronises the device at its end
    dt = time.perf_counter() - t0
    ips = seen / dt
    return {
        "images_per_s": ips,
        "s_per_epoch": N_TRAIN / ips,
        "timed_images": seen,
        "warmup_s": t_warm,
        **_peaks(data.device),
        "mode_tag": m.tag,
        "compiled": sess.fwd is not sess.model,
        "cuda_graphs": sess.cuda_graphs,
        **_counts_since(counts),
    }


def measure_grouped(
    data: Any,
    index: int,
    k: int,
    *,
    c: int,
    n: int,
    batch: int,
    steps: int,
    warmup: int,
    mode: str = "faithful",
) -> dict[str, Any]:
    """Aggregate images/s of ``k`` seeds of cell ``index`` trained as one grouped network, the
    session ``--group-seeds k`` trains (:func:`~nb201_flat.train.grouped_run.grouped_session`)."""
    import torch

    from nb201_flat.train.grouped_run import grouped_session
    from nb201_flat.train.modes import apply_backend_flags

    jobs = bench_jobs([index], range(k), mode, c=c, n=n, batch=batch)
    apply_backend_flags(jobs[0].train_mode, data.device.type)
    sess = grouped_session(jobs, data)
    counts = _compile_counts()
    _peak_reset(data.device)
    if warmup:
        sess.train_epoch(max_steps=warmup)
    if data.device.type == "cuda":
        torch.cuda.synchronize(data.device)
    t0 = time.perf_counter()
    _, seen = sess.train_epoch(max_steps=steps)
    if data.device.type == "cuda":
        torch.cuda.synchronize(data.device)
    dt = time.perf_counter() - t0
    return {
        "k": k,
        "mode_tag": jobs[0].train_mode.tag,
        "aggregate_images_per_s": k * seen / dt,
        **_peaks(data.device),
        "compiled": sess.fwd is not sess.model,
        **_counts_since(counts),
    }


def measure_concurrent(
    data: Any,
    indices: Sequence[int],
    *,
    c: int,
    n: int,
    batch: int,
    steps: int,
    warmup: int,
    mode: str = "faithful",
) -> dict[str, Any]:
    """Aggregate images/s of the cells ``indices`` trained at once, one CUDA stream each: the
    sessions ``--concurrent len(indices)`` trains
    (:func:`~nb201_flat.train.concurrent_run.sessions_for`, :class:`ConcurrentSessions`)."""
    from nb201_flat.train.concurrent_run import sessions_for
    from nb201_flat.train.modes import apply_backend_flags
    from nb201_flat.train.streams import ConcurrentSessions

    jobs = bench_jobs(indices, [0], mode, c=c, n=n, batch=batch)
    apply_backend_flags(jobs[0].train_mode, data.device.type)
    unit = ConcurrentSessions(sessions_for(jobs, data))
    _peak_reset(data.device)
    if warmup:
        unit.train_epoch(max_steps=warmup)
    t0 = time.perf_counter()
    seen = sum(r[2] for r in unit.train_epoch(max_steps=steps))  # synchronises the device
    dt = time.perf_counter() - t0
    return {
        "k": len(indices),
        "cells": list(indices),
        "mode_tag": jobs[0].train_mode.tag,
        "aggregate_images_per_s": seen / dt,
        **_peaks(data.device),
    }


def _process_worker(
    rank: int,
    parent_pid: int,
    cell: int,
    ks: Sequence[int],
    device_type: str,
    size: dict[str, int],
    n_train: int,
    control: dict[str, Any],
    results: Any,
) -> None:
    """One worker process of :func:`measure_processes`: its own copy of the data and, for each
    K the parent lets run that counts it (``rank < K``), one faithful session of ``cell`` built
    as ``run_job`` builds it, timed from a barrier shared with the K's other workers."""
    import threading as _threading

    from nb201_flat.train.runlock import die_with_parent

    die_with_parent(parent_pid)  # a benchmark stopped at its hard limit leaves no worker
    try:
        import torch

        from nb201_flat.train.modes import apply_backend_flags
        from nb201_flat.train.trainer import Session

        if device_type == "cpu":
            torch.set_num_threads(1)  # a rehearsal: the workers share the host's few cores
        device = torch.device(device_type)
        data = synthetic_data(n_train, device)  # --jobs-per-device: a copy in each process
        (job,) = bench_jobs([cell], [0], "faithful", c=size["c"], n=size["n"], batch=size["batch"])
        apply_backend_flags(job.train_mode, device.type)
        results.put(("ready", rank))
        for k in ks:
            if rank >= k:
                continue
            # the parent lets K start once every worker is up and the previous K has reported
            if not control["permit"][k].wait(_WAIT_S) or control["stop"].is_set():
                return
            sess = Session(data, job.ops, job.n_nodes, c=job.c, n=job.n, seed=job.seed,
                           recipe=job.recipe, mode=job.train_mode)  # fmt: skip
            _peak_reset(device)
            if size["warmup"]:
                sess.train_epoch(max_steps=size["warmup"])
            control["go"][k].wait(_WAIT_S)  # every warm-up over before any timed step
            t0 = time.clock_gettime(time.CLOCK_MONOTONIC)  # one clock for every process
            _, _, seen = sess.train_epoch(max_steps=size["steps"])  # synchronises the device
            t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
            results.put(("run", k, rank, t0, t1, seen, _peaks(device)))
            del sess
    except _threading.BrokenBarrierError:
        return  # the parent let go of the others: it knows why
    except BaseException as exc:  # said to the parent, which lets the others go
        results.put(("error", rank, f"{type(exc).__name__}: {exc}"))


_WAIT_S = 600.0
"""How long a worker waits for the parent or the others (the parent's own timeout is shorter)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def measure_processes(
    ks: Sequence[int],
    *,
    device_type: str,
    c: int,
    n: int,
    batch: int,
    steps: int,
    warmup: int,
    n_train: int,
    timeout_s: float,
    over_budget: Callable[[], bool] = lambda: False,
    skipped: str = "time budget spent",
    on_run: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Aggregate images/s of K worker processes training at once on one device, as
    ``--jobs-per-device K`` runs them (each its own process and copy of the data, a faithful
    network of a different cell: :func:`concurrent_cells`), for every K in ``ks``; without
    MPS, their kernels take turns on the GPU. All ``max(ks)`` workers start once; the K's
    are run one after another, each let go by this process once every worker is up and the
    previous K has reported (so nothing starts up or runs beside a timed window): the first K
    workers build their sessions, warm up, and are timed together from a barrier: images /
    (last end - first start), with the ratio to K = 1 (one network in its process). A K
    begun after ``over_budget()`` is skipped and said so; a worker's error or death, or
    ``timeout_s`` passing, is recorded as the ``error`` of every K left unmeasured, never as a
    number. ``on_run(runs so far)`` after each K."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
    n_workers = max(ks)
    cell_list = concurrent_cells(n_workers)
    control = {
        "permit": {k: ctx.Event() for k in ks},
        "stop": ctx.Event(),
        "go": {k: ctx.Barrier(k) for k in ks},
    }
    results = ctx.Queue()
    size = {"c": c, "n": n, "batch": batch, "steps": steps, "warmup": warmup}

    def worker(r: int) -> Any:
        args = (r, os.getpid(), cell_list[r], list(ks), device_type, size, n_train, control)
        return ctx.Process(target=_process_worker, args=(*args, results), daemon=True)

    procs = [worker(r) for r in range(n_workers)]
    for proc in procs:
        proc.start()
    deadline = time.perf_counter() + timeout_s

    def collect(kind: str, count: int) -> list[tuple[Any, ...]]:
        """``count`` messages of ``kind``; raises with the reason a worker gives or shows."""
        got: list[tuple[Any, ...]] = []
        while len(got) < count:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s")
            try:
                msg = results.get(timeout=min(left, 0.5))
            except queue.Empty:  # a worker killed (a signal, out of memory) reports nothing
                dead = [(r, p.exitcode) for r, p in enumerate(procs) if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(
                        f"worker {dead[0][0]} exited with code {dead[0][1]}"
                    ) from None
                continue
            if msg[0] == "error":
                raise RuntimeError(f"worker {msg[1]}: {_one_line(msg[2])}")
            if msg[0] == kind:
                got.append(msg)
        return got

    runs: list[dict[str, Any]] = []
    failed: str | None = None
    try:
        collect("ready", n_workers)
    except (TimeoutError, RuntimeError) as exc:
        failed = str(exc)
    base: float | None = None
    for k in ks:
        if failed is not None:
            runs.append({"k": k, "error": failed, "ratio_to_k1": None})
        elif over_budget():
            runs.append({"k": k, "skipped": skipped, "ratio_to_k1": None})
        else:
            control["permit"][k].set()
            try:
                msgs = collect("run", k)
            except (TimeoutError, RuntimeError) as exc:
                failed = str(exc)
                runs.append({"k": k, "error": failed, "ratio_to_k1": None})
            else:
                t0 = min(m[3] for m in msgs)
                t1 = max(m[4] for m in msgs)
                ips = sum(m[5] for m in msgs) / (t1 - t0)
                if k == 1:
                    base = ips
                peaks = [m[6] for m in msgs]
                runs.append({
                    "k": k,
                    "cells": cell_list[:k],
                    "mode_tag": "faithful",
                    "aggregate_images_per_s": ips,
                    "ratio_to_k1": None if base is None else ips / base,
                    # summed over the K processes, which hold them at once
                    **{key: None if any(pk[key] is None for pk in peaks)
                       else sum(pk[key] for pk in peaks)
                       for key in ("peak_mem_mb", "peak_reserved_mb")},
                })  # fmt: skip
        if on_run is not None:
            on_run(runs)
    # let every worker go: those waiting for a permit or at a barrier, then end them
    control["stop"].set()
    for k in ks:
        control["permit"][k].set()
        control["go"][k].abort()
    for proc in procs:
        proc.join(timeout=5.0 if failed is None else 1.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5.0)
    return runs


def sweep(
    measure: Any,
    ks: Sequence[int],
    over_budget: Any,
    budget_s: float,
    *,
    on_run: Callable[[list[dict[str, Any]]], None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """``measure(k)`` for every K with its ratio to K = 1, skipping (and saying so) once the
    time budget is spent; ``on_run(runs so far)`` after each K."""
    runs: list[dict[str, Any]] = []
    base: float | None = None
    for k in ks:
        if over_budget():
            runs.append({"k": k, "skipped": f"time budget of {budget_s:.0f} s spent"})
        else:
            r = measured(measure, k, **kwargs)
            r.setdefault("k", k)
            ips = r.get("aggregate_images_per_s")
            if k == 1 and ips is not None:
                base = ips
            r["ratio_to_k1"] = None if base is None or ips is None else ips / base
            runs.append(r)
        if on_run is not None:
            on_run(runs)
    return runs


def measure_streams(
    data: Any,
    indices: Sequence[int],
    *,
    c: int,
    n: int,
    batch: int,
    steps: int,
    warmup: int,
) -> dict[str, Any]:
    """Aggregate images/s of different cells stepped together on one CUDA stream each, and of
    the same sessions stepped in turn on the current stream (the baseline)."""
    from nb201_flat.train.concurrent_run import sessions_for
    from nb201_flat.train.modes import FAITHFUL, apply_backend_flags
    from nb201_flat.train.streams import ConcurrentSessions

    apply_backend_flags(FAITHFUL, data.device.type)
    jobs = bench_jobs(indices, [0], "faithful", c=c, n=n, batch=batch)

    def build() -> list[Any]:
        return sessions_for(jobs, data)

    out: dict[str, Any] = {"cells": list(indices)}
    _peak_reset(data.device)
    for name in ("in_turn", "streams"):
        sessions = build()
        group = ConcurrentSessions(sessions) if name == "streams" else None

        def epoch(max_steps: int, sessions: list[Any] = sessions, group: Any = group) -> int:
            if group is not None:
                return sum(r[2] for r in group.train_epoch(max_steps=max_steps))
            return sum(s.train_epoch(max_steps=max_steps)[2] for s in sessions)

        if warmup:
            epoch(warmup)
        t0 = time.perf_counter()
        seen = epoch(steps)  # both paths synchronise the device before returning
        out[f"{name}_images_per_s"] = seen / (time.perf_counter() - t0)
    out["ratio_streams_to_in_turn"] = out["streams_images_per_s"] / out["in_turn_images_per_s"]
    out.update(_peaks(data.device))
    return out


def measure_eval(
    data: Any, index: int, eval_batches: Sequence[int], *, c: int, n: int, n_eval: int
) -> dict[str, Any]:
    """Evaluation images/s of one network (faithful mode) at each evaluation batch size."""

    import torch

    from nb201_flat.train.data import DataSplits
    from nb201_flat.train.modes import FAITHFUL, apply_backend_flags
    from nb201_flat.train.recipe import Recipe
    from nb201_flat.train.trainer import DeviceData, Session

    apply_backend_flags(FAITHFUL, data.device.type)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(n_eval, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n_eval).astype(np.int64)
    info = data.info
    splits = DataSplits(
        info, x[:1], y[:1], {"test": (x, y)}, {"ori-test": ("test", np.arange(n_eval))}
    )
    eval_data = DeviceData(splits, data.device)
    out: dict[str, Any] = {"index": index, "images": n_eval, "runs": []}
    for eb in eval_batches:
        recipe = Recipe(epochs=NB201_EPOCHS, eval_batch_size=eb)
        sess = Session(eval_data, NB201.arch(index).ops, 4, c=c, n=n, seed=0, recipe=recipe,
                       mode=FAITHFUL)  # fmt: skip
        sess.evaluate()  # warm-up: cuDNN and the allocator
        if data.device.type == "cuda":
            torch.cuda.synchronize(data.device)
        t0 = time.perf_counter()
        sess.evaluate()  # synchronises the device before returning
        out["runs"].append({"eval_batch": eb, "images_per_s": n_eval / (time.perf_counter() - t0)})
    return out


def run(
    device: Any,
    *,
    c: int = 16,
    n: int = 5,
    batch: int = 256,
    steps: int = 20,
    warmup: int = 3,
    n_train: int = N_TRAIN,
    ks: Sequence[int] = KS,
    process_ks: Sequence[int] | None = None,
    process_timeout_s: float = 150.0,
    budget_s: float = 420.0,
    times: dict[int, float] | None = None,
    eval_batches: Sequence[int] = (256, 1024),
    n_eval: int = 10_000,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """All measurements on ``device`` as a JSON-ready dict (CPU works, for tests).

    The measurements without compilation run first, so that a compilation that takes long
    (or fails) costs only the compiled ones; the processes sweep, which costs more worker
    start-up than training, runs after the compiled cells. ``on_update(result)`` is called after each
    measurement with the result so far (``"complete": False`` until the last one), so that a
    run stopped from outside keeps what it measured.
    """
    start = time.perf_counter()
    times = nb201_times() if times is None else times
    data = synthetic_data(n_train, device)
    skipped = {"skipped": f"time budget of {budget_s:.0f} s spent"}

    def over_budget() -> bool:
        return time.perf_counter() - start > budget_s

    out: dict[str, Any] = {
        "complete": False,
        "settings": {
            "device": str(device),
            "c": c,
            "n": n,
            "batch": batch,
            "timed_steps": steps,
            "warmup_steps": warmup,
            "budget_s": budget_s,
            "nb201_time_source": "cifar10-valid time_s, 200 epochs, seed mean" if times else None,
        },
        "cells": {
            name: {"index": index, "arch": str(NB201.arch(index)), "nb201_time_s": times.get(index)}
            for name, index in cells().items()
        },
    }

    def update() -> None:
        out["elapsed_s"] = time.perf_counter() - start
        if on_update is not None:
            on_update(out)

    def per_cell(label: str) -> None:
        mode, compile = MODES[label]
        for rec in out["cells"].values():
            if over_budget():
                rec[label] = dict(skipped)
                continue
            r = measured(
                measure_single, data, rec["index"], mode, c=c, n=n, batch=batch, steps=steps,
                warmup=warmup, compile=compile,
            )  # fmt: skip
            if "error" not in r:
                r["ratio_to_nb201"] = ratio_to_nb201(rec["nb201_time_s"], r["s_per_epoch"])
            rec[label] = r
            update()

    size = {"c": c, "n": n, "batch": batch, "steps": steps, "warmup": warmup}

    def grouped(k: int, mode: str, **kw: Any) -> dict[str, Any]:
        return measure_grouped(data, GROUPED_CELL, k, mode=mode, **kw)

    def concurrent(k: int, **kw: Any) -> dict[str, Any]:
        return measure_concurrent(data, concurrent_cells(k), **kw)

    def k_sweep(
        key: str, head: dict[str, Any], measure: Any, mode: str, k_values: Sequence[int] = ks
    ) -> None:
        out[key] = {**head, "mode": mode, "runs": []}

        def progress(runs: list[dict[str, Any]]) -> None:
            out[key]["runs"] = runs
            update()

        sweep(measure, k_values, over_budget, budget_s, mode=mode, on_run=progress, **size)

    def once(key: str, measure: Any, *args: Any, **kwargs: Any) -> None:
        out[key] = dict(skipped) if over_budget() else measured(measure, *args, **kwargs)
        update()

    per_cell("faithful")
    per_cell("fast_nocompile")
    seeds = {"cell": GROUPED_CELL, "option": "--group-seeds K"}
    name = next(n for n, rec in out["cells"].items() if rec["index"] == GROUPED_CELL)
    k_sweep("grouped", seeds, grouped, "faithful")
    # the issue's target compares many networks with one: a grouped K = 1 (vmapped) is no
    # plain network, so each K is also set against the cell's single faithful session above
    single = out["cells"][name]["faithful"].get("images_per_s")
    out["grouped"]["single"] = f"cells.{name}.faithful (one network of the cell)"
    for r in out["grouped"]["runs"]:
        ips = r.get("aggregate_images_per_s")
        r["ratio_to_single"] = None if single is None or ips is None else ips / single
    update()
    k_sweep("concurrent", {"option": "--concurrent K"}, concurrent, "faithful")
    # a concurrent K = 1 is one session stepped the concurrent way, of another cell than the
    # three above: the many against one plain session of that cell
    first = concurrent_cells(1)[0]
    plain = (
        dict(skipped)
        if over_budget()
        else measured(measure_single, data, first, "faithful", compile=None, **size)
    )
    out["concurrent"]["single"] = {"index": first, **plain}
    for r in out["concurrent"]["runs"]:
        ips, one = r.get("aggregate_images_per_s"), plain.get("images_per_s")
        r["ratio_to_single"] = None if one is None or ips is None else ips / one
    update()
    once("streams", measure_streams, data, list(cells().values()), **size)
    once("eval", measure_eval, data, 11472, eval_batches, c=c, n=n, n_eval=n_eval)
    # compiled next: the issue's first target, and the longest, least certain part of the budget
    per_cell("fast")
    # --jobs-per-device K: K processes with a copy of the data each (no MPS started here)
    out["processes"] = {"option": "--jobs-per-device K", "mode": "faithful", "mps": False,
                        "runs": []}  # fmt: skip

    def processes_progress(runs: list[dict[str, Any]]) -> None:
        out["processes"]["runs"] = runs
        update()

    measure_processes(
        ks if process_ks is None else process_ks, device_type=device.type, n_train=n_train,
        timeout_s=process_timeout_s, over_budget=over_budget, skipped=skipped["skipped"],
        on_run=processes_progress, **size,
    )  # fmt: skip
    # the largest K only: each K is a static shape, compiled cold on its own (a grouped K = 1
    # would be one more); its baseline is the single network of the cell in fast mode above
    k = ks[-1]
    group = dict(skipped, k=k) if over_budget() else measured(grouped, k, "fast", **size)
    group.setdefault("k", k)
    single = out["cells"][name]["fast"].get("images_per_s")
    ips = group.get("aggregate_images_per_s")
    group["ratio_to_single_fast"] = None if single is None or ips is None else ips / single
    ratio_to = f"cells.{name}.fast (one network of the cell, not grouped)"
    out["grouped_fast"] = {**seeds, "mode": "fast", "ratio_to": ratio_to, "runs": [group]}
    update()

    results = [v for rec in out["cells"].values() for v in rec.values() if isinstance(v, dict)] + [
        r
        for key in ("grouped", "grouped_fast", "concurrent", "processes")
        for r in out[key]["runs"]
    ]
    results.append(out["streams"])
    for key, summary in (
        ("peak_mem_mb", "peak_gpu_mem_mb"),
        ("peak_reserved_mb", "peak_gpu_reserved_mb"),
    ):
        peaks = [r[key] for r in results if r.get(key) is not None]
        out[summary] = max(peaks) if peaks else None
    out["complete"] = True
    update()
    return out


FAST_TARGET = 10.0
"""Fast mode's target: at least this many times NB201's recorded time per cell (the issue's)."""
MANY_TARGET = 4.0
"""Many networks' target: at least this many times one network's aggregate images/s."""
MANY_WAYS = (
    # (key in gpu.json, what it trains, the ratio against one plain network)
    ("grouped", "--group-seeds K (faithful)", "ratio_to_single"),
    ("grouped_fast", "--group-seeds K (fast)", "ratio_to_single_fast"),
    ("concurrent", "--concurrent K (faithful)", "ratio_to_single"),
    ("processes", "--jobs-per-device K (faithful)", "ratio_to_k1"),
)


def _num(v: Any, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value >= target else "not met"


def _why_absent(r: Any) -> str | None:
    """A skipped or failed measurement's reason, ``None`` for one that was measured."""
    if not isinstance(r, dict):
        return "absent from this file"
    if "skipped" in r:
        return _cell_text(f"skipped: {r['skipped']}")
    if "error" in r:
        return _cell_text(f"error: {r['error']}")
    return None


def _cell_text(text: str, width: int = 300) -> str:
    """``text`` fit for one markdown table cell: one line (a compiler's error spans many),
    ``|`` escaped, at most ``width`` characters."""
    line = _one_line(text).replace("|", "\\|")
    return line if len(line) <= width else line[: width - 1] + "…"


def _measurements(node: Any) -> Any:
    """Every measured dict in ``node`` (one holding a peak), depth first."""
    if isinstance(node, dict):
        if "peak_mem_mb" in node:
            yield node
        for v in node.values():
            yield from _measurements(v)
    elif isinstance(node, list):
        for v in node:
            yield from _measurements(v)


def summary(res: dict[str, Any]) -> str:
    """``gpu.json`` as a markdown report: every measurement, each target with its verdict
    (``met``, ``not met``, ``not measured``), read from the file alone; skipped and failed
    measurements are named, never filled in."""
    st = res.get("settings", {})
    state = "complete" if res.get("complete") else "incomplete"
    if res.get("stopped"):
        state += f" ({res['stopped']})"
    lines = [
        f"# bench-gpu on {res.get('gpu')}",
        "",
        f"torch {res.get('torch')}, CUDA {res.get('cuda')}, cuDNN {res.get('cudnn')}; "
        f"commit {res.get('machine', {}).get('git_commit')}; {state}; "
        f"{res.get('elapsed_s', 0):.0f} s of measurements.",
        f"Network C={st.get('c')}, N={st.get('n')}, batch {st.get('batch')}, "
        f"{st.get('timed_steps')} timed steps after {st.get('warmup_steps')} warm-up steps; "
        f"s/epoch is {N_TRAIN:,} images (cifar10-valid's training set), evaluation excluded. "
        f"NB201's time: {st.get('nb201_time_source')}.",
    ]
    if st.get("device") is not None and not str(st["device"]).startswith("cuda"):
        lines += ["", f"**A rehearsal on {st['device']} at toy sizes: no number here is a GPU "
                  "measurement, and no verdict below means anything.**"]  # fmt: skip
    lines += [
        "",
        "## One network per cell",
        "",
        "| cell | index | mode | images/s | s/epoch | NB201 s/epoch | x NB201 "
        "| peak MB (allocated / reserved) | warm-up s |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    fast: list[str] = []
    for name, rec in res.get("cells", {}).items():
        t = rec.get("nb201_time_s")
        nb = None if t is None else t / NB201_EPOCHS
        for mode in MODES:
            r = rec.get(mode)
            why = _why_absent(r)
            if why is not None:
                lines.append(f"| {name} | {rec['index']} | {mode} | {why} | | | | | |")
                if mode == "fast":
                    fast.append(f"- {name} ({rec['index']}): not measured")
                continue
            lines.append(
                f"| {name} | {rec['index']} | {mode} | {r['images_per_s']:,.0f} "
                f"| {r['s_per_epoch']:.3f} | {_num(nb, '.2f')} | {_num(r.get('ratio_to_nb201'), '.2f')} "
                f"| {_num(r.get('peak_mem_mb'), ',.0f')} / {_num(r.get('peak_reserved_mb'), ',.0f')} "
                f"| {r.get('warmup_s', 0):.1f} |"
            )
            if mode == "fast":
                v = r.get("ratio_to_nb201")
                fast.append(
                    f"- {name} ({rec['index']}): {v:.2f}x, {_verdict(v, FAST_TARGET)}"
                    if v is not None  # measured, but nothing to hold it against:
                    else f"- {name} ({rec['index']}): measured; no NB201 time to compare with"
                )
    lines += ["", f"**Target: fast mode >= {FAST_TARGET:g}x NB201's recorded time per cell**", ""]
    lines += fast
    lines += [
        "",
        "## Many networks on one GPU",
        "",
        "| way | K | aggregate images/s | x K = 1 | x one network | peak MB (allocated / reserved) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    many: list[str] = []
    for key, label, against in MANY_WAYS:
        runs = res.get(key, {}).get("runs") if isinstance(res.get(key), dict) else None
        if not runs:
            lines.append(f"| {label} | | absent from this file | | | |")
            many.append(f"- {label}: not measured")
            continue
        best: tuple[float, int] | None = None
        best_k1: tuple[float, int] | None = None  # for a file whose run measured no plain one
        for r in runs:
            why = _why_absent(r)
            if why is not None:
                lines.append(f"| {label} | {r.get('k')} | {why} | | | |")
                continue
            v = r.get(against)
            if v is not None and (best is None or v > best[0]):
                best = (v, r["k"])
            k1 = r.get("ratio_to_k1")
            if k1 is not None and (best_k1 is None or k1 > best_k1[0]):
                best_k1 = (k1, r["k"])
            lines.append(
                f"| {label} | {r['k']} | {r['aggregate_images_per_s']:,.0f} "
                f"| {_num(r.get('ratio_to_k1'), '.2f')} | {_num(v, '.2f')} "
                f"| {_num(r.get('peak_mem_mb'), ',.0f')} / {_num(r.get('peak_reserved_mb'), ',.0f')} |"
            )
        if best is None and best_k1 is not None:
            many.append(f"- {label}: no plain network measured to hold it against, no verdict "
                        f"({best_k1[0]:.2f}x its own K = 1 at K = {best_k1[1]})")  # fmt: skip
        elif best is None:
            many.append(f"- {label}: not measured")
        else:
            many.append(f"- {label}: {best[0]:.2f}x at K = {best[1]}, "
                        f"{_verdict(best[0], MANY_TARGET)}")  # fmt: skip
    lines += [
        "",
        f"**Target: K networks >= {MANY_TARGET:g}x one network's images/s** "
        "(one network: a plain session of the cell, of the first cell for --concurrent; a "
        "process's K = 1 is one)",
        "",
    ]
    lines += many
    stream = res.get("streams")
    lines += ["", "## Streams and evaluation", ""]
    why = _why_absent(stream)
    if why is None:
        lines.append(
            f"- cells {stream['cells']} on one CUDA stream each: "
            f"{stream['streams_images_per_s']:,.0f} images/s, in turn "
            f"{stream['in_turn_images_per_s']:,.0f}; ratio {stream['ratio_streams_to_in_turn']:.2f}"
        )
    else:
        lines.append(f"- streams: {why}")
    ev = res.get("eval")
    why = _why_absent(ev)
    if why is None:
        for r in ev["runs"]:
            lines.append(f"- evaluation of {ev['index']} (faithful), batch {r['eval_batch']}: "
                         f"{r['images_per_s']:,.0f} images/s")  # fmt: skip
    else:
        lines.append(f"- evaluation: {why}")
    peaks = {key: res.get(key) for key in ("peak_gpu_mem_mb", "peak_gpu_reserved_mb")}
    if not res.get("complete"):  # the run's own maximum is written at its end: take it here
        found = list(_measurements(res))
        for key, one in (
            ("peak_gpu_mem_mb", "peak_mem_mb"),
            ("peak_gpu_reserved_mb", "peak_reserved_mb"),
        ):
            values = [m[one] for m in found if m.get(one) is not None]
            peaks[key] = max(values) if values else None
    lines += [
        "",
        f"Largest peak of GPU memory: {_num(peaks['peak_gpu_mem_mb'], ',.0f')} MB allocated, "
        f"{_num(peaks['peak_gpu_reserved_mb'], ',.0f')} MB reserved (a --jobs-per-device "
        "figure sums its K processes).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"JSON file (default {OUT})")
    ap.add_argument("--steps", type=int, default=20, help="timed batches per measurement")
    ap.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    ap.add_argument("--budget-s", type=float, default=420.0, help="stop measuring after this")
    ap.add_argument(
        "--limit-s",
        type=float,
        default=LIMIT_S,
        help="hard limit: a measurement still running then is stopped, what was measured is "
        f"kept and marked, exit status 3 (default {LIMIT_S:.0f}: the 8 minutes, less room)",
    )
    ap.add_argument(
        "--rehearse-on-cpu",
        action="store_true",
        help="run every measurement on the CPU at toy sizes, to check this script before GPU "
        "time is spent on it (needs --out other than the default: never a GPU result)",
    )
    ap.add_argument(
        "--summary",
        type=Path,
        metavar="GPU_JSON",
        help="print a gpu.json written earlier as markdown, with each target's verdict, and "
        "measure nothing",
    )
    args = ap.parse_args(argv)
    if args.summary is not None:
        return print_summary(args.summary)
    if not 0 <= args.budget_s < args.limit_s:
        print(f"bench-gpu: need 0 <= --budget-s < --limit-s, got --budget-s {args.budget_s:g} "
              f"--limit-s {args.limit_s:g}; the defaults are 420 and {LIMIT_S:.0f}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.rehearse_on_cpu and args.out.resolve() == OUT.resolve():
        print(f"bench-gpu: --rehearse-on-cpu writes CPU numbers; give --out other than {OUT}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        import torch
    except ImportError:
        print(
            "bench-gpu: torch is not installed (pip install 'nb201-flat[train]')", file=sys.stderr
        )
        return 2
    if args.rehearse_on_cpu:
        device = torch.device("cpu")
        sizes: dict[str, Any] = {"c": 2, "n": 1, "batch": 8, "steps": 2, "warmup": 1,
                                 "n_train": 64, "ks": (1, 2), "n_eval": 64}  # fmt: skip
        gpu = None
    elif not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return 2
    else:
        device = torch.device("cuda")
        sizes = {"steps": args.steps, "warmup": args.warmup}
        gpu = torch.cuda.get_device_name(device)
    about = {
        "machine": machine_info(),
        "gpu": gpu,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if gpu is not None else None,
    }

    lock = threading.Lock()
    written: list[dict[str, Any]] = []  # the last file written, as written

    def write(result: dict[str, Any]) -> None:
        # after every measurement: a run stopped from outside keeps what it measured
        with lock:
            text = json.dumps({**result, **about}, indent=2) + "\n"
            atomic_write_text(args.out, text)
            written[:] = [json.loads(text)]
        state = "done" if result["complete"] else "so far"
        print(f"bench-gpu: {result['elapsed_s']:.0f} s, {args.out} ({state})", file=sys.stderr)

    def at_limit() -> None:
        # a compilation that started just inside the budget can run for minutes: stop it here,
        # keeping the measurements written and saying which run was cut, never a number for it
        with lock:
            if written and not written[0]["complete"]:
                stopped = dict(written[0], stopped=f"hard limit of {args.limit_s:.0f} s reached "
                               "during a measurement; it and any after it are absent")  # fmt: skip
                atomic_write_text(args.out, json.dumps(stopped, indent=2) + "\n")
            print(f"bench-gpu: stopped at the hard limit of {args.limit_s:.0f} s; {args.out} keeps "
                  "what was measured", file=sys.stderr)  # fmt: skip
            sys.stderr.flush()
            os._exit(3)  # the main thread may be inside a compilation that cannot be interrupted

    timer = threading.Timer(args.limit_s, at_limit)
    timer.daemon = True
    timer.start()
    try:
        run(device, budget_s=args.budget_s, on_update=write, **sizes)
    finally:
        timer.cancel()
    print(f"bench-gpu: wrote {args.out}")
    print(summary(written[0]))
    return 0


def print_summary(path: Path) -> int:
    """``--summary``: the report of a ``gpu.json``; exit 2 with one line for a file that is
    not one."""
    try:
        res = json.loads(path.read_text())
        if not isinstance(res, dict) or "cells" not in res:
            raise ValueError("it holds no 'cells'")
        text = summary(res)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"bench-gpu: cannot read {path} as a gpu.json ({exc}); give the file "
              "`make bench-gpu` wrote", file=sys.stderr)  # fmt: skip
        return 2
    sys.stdout.write(text)
    print(f"\nWritten from {path} by `python -m benchmarks.bench_gpu --summary {path}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
