"""Where a training step's time goes on a GPU: the kernels, how many, and how busy they keep it.

``python -m benchmarks.profile_gpu --out FILE`` profiles a few training steps of the networks
``make bench-gpu`` measures (cell 11472 on cifar10-valid's shapes, batch 256, random data on
the GPU), each built as ``nb201-flat train`` builds it: one network in ``faithful`` mode, in
``fast`` mode without and with ``torch.compile``, and ``--group-seeds K`` (faithful) for K = 1
and 16. For each, after warm-up steps (compilation, cuDNN autotuning), ``torch.profiler``
records ``--steps`` steps and the file gets, per step:

* ``wall_ms``: the host's time (the device synchronised at the end);
* ``gpu_busy_ms``: the time at least one kernel, copy or fill ran on the GPU (the union of
  their intervals), and ``busy_fraction`` = gpu_busy_ms / wall_ms. Near 1, the GPU is the
  limit; far below, the host is (Python and kernel launches: what CUDA graphs, grouping and
  more processes can win);
* ``kernels``: kernels run; ``top_kernels``: the ten taking the most GPU time (name, calls
  and ms per step, share of the kernels' time).

Profiling adds some host time to each step, so ``wall_ms`` here is not ``bench-gpu``'s
images/s: compare configurations with each other, not with that file. The measurements behind
the issue's targets are ``bench-gpu``'s; this says where to look next. A configuration that
raises is recorded as ``{"error": ...}``. The file is rewritten after each configuration.
``--rehearse-on-cpu`` runs everything on the CPU at toy sizes (no GPU figures: ``null``), to
check the script before GPU time is spent on it. Without CUDA (and without that option) it
prints one line and exits 2, writing nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import atomic_write_text, machine_info
from benchmarks.bench_gpu import GROUPED_CELL, NO_CUDA, bench_jobs, synthetic_data

CELL = GROUPED_CELL  # 11472, the ResNet-like cell: bench-gpu's single and grouped cell
TOP = 10


def merged_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Length of the union of ``[start, end]`` intervals.

    >>> merged_length([(0, 2), (1, 3), (5, 6)])
    4
    >>> merged_length([])
    0
    """
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def step_profile(prof: Any, steps: int, wall_s: float) -> dict[str, Any]:
    """Per-step figures from a finished ``torch.profiler.profile`` of ``steps`` steps."""
    from torch.autograd import DeviceType

    # a record_function region (the optimiser's step, a compiled graph's call) is reported on
    # the GPU too, spanning its first kernel to its last, launch gaps included: no work
    device_events = [
        e
        for e in prof.events()
        if e.device_type == DeviceType.CUDA and not getattr(e, "is_user_annotation", False)
    ]
    out: dict[str, Any] = {"steps": steps, "wall_ms": 1e3 * wall_s / steps}
    # the host's share: ops called from Python (not those they call in turn)
    out["host_ops"] = (
        sum(1 for e in prof.events() if e.device_type == DeviceType.CPU and e.cpu_parent is None)
        / steps
    )
    if not device_events:  # a CPU run: no GPU figures, never zeros
        return {**out, "gpu_busy_ms": None, "busy_fraction": None, "kernels": None,
                "top_kernels": None}  # fmt: skip
    spans = [(e.time_range.start, e.time_range.end) for e in device_events]
    busy_ms = merged_length(spans) / 1e3 / steps
    kernels = [e for e in device_events if not e.name.startswith(("Memcpy", "Memset"))]
    per_name: dict[str, list[float]] = defaultdict(list)
    for e in kernels:
        per_name[e.name].append(e.time_range.elapsed_us())
    total_us = sum(sum(v) for v in per_name.values()) or 1.0
    top = sorted(per_name.items(), key=lambda kv: -sum(kv[1]))[:TOP]
    return {
        **out,
        "gpu_busy_ms": busy_ms,
        "busy_fraction": busy_ms / out["wall_ms"],
        "kernels": len(kernels) / steps,
        "top_kernels": [
            {
                "name": name[:160],
                "calls": len(v) / steps,
                "ms": sum(v) / 1e3 / steps,
                "share": sum(v) / total_us,
            }
            for name, v in top
        ],
    }


def profile_steps(step_fn: Callable[[int], Any], device: Any, *, steps: int) -> dict[str, Any]:
    """Profile ``step_fn(steps)`` (which runs that many steps) and time it on the host."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
        torch.cuda.synchronize(device)
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        step_fn(steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall = time.perf_counter() - t0
    return step_profile(prof, steps, wall)


def single(data: Any, mode: str, compile: bool | None, *, c: int, n: int, batch: int) -> Any:
    """One network of :data:`CELL` as ``nb201-flat train`` builds it: a stepping function."""
    from nb201_flat.train.modes import apply_backend_flags, effective_mode
    from nb201_flat.train.trainer import Session

    (job,) = bench_jobs([CELL], [0], mode, c=c, n=n, batch=batch)
    m = effective_mode(mode, compile=compile)
    apply_backend_flags(m, data.device.type)
    sess = Session(data, job.ops, job.n_nodes, c=c, n=n, seed=0, recipe=job.recipe, mode=m)
    return lambda k: sess.train_epoch(max_steps=k)


def grouped(data: Any, k: int, *, c: int, n: int, batch: int) -> Any:
    """``--group-seeds k`` of :data:`CELL` (faithful): a stepping function."""
    from nb201_flat.train.grouped_run import grouped_session
    from nb201_flat.train.modes import apply_backend_flags

    jobs = bench_jobs([CELL], range(k), "faithful", c=c, n=n, batch=batch)
    apply_backend_flags(jobs[0].train_mode, data.device.type)
    sess = grouped_session(jobs, data)
    return lambda steps: sess.train_epoch(max_steps=steps)


def run(
    device: Any,
    *,
    c: int = 16,
    n: int = 5,
    batch: int = 256,
    steps: int = 5,
    warmup: int = 3,
    n_train: int = 25_000,
    group_ks: Sequence[int] = (1, 16),
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every configuration's profile on ``device`` (CPU works, for tests)."""
    from nb201_flat.train import modes

    data = synthetic_data(n_train, device)
    size = {"c": c, "n": n, "batch": batch}
    configs: list[tuple[str, Callable[[], Any]]] = [
        ("faithful", lambda: single(data, "faithful", None, **size)),
        ("fast_nocompile", lambda: single(data, "fast", False, **size)),
        ("fast", lambda: single(data, "fast", None, **size)),
    ] + [(f"grouped_k{k}", lambda k=k: grouped(data, k, **size)) for k in group_ks]
    out: dict[str, Any] = {
        "complete": False,
        "settings": {
            "device": str(device),
            "cell": CELL,
            **size,
            "steps": steps,
            "warmup_steps": warmup,
        },
        "configs": {},
    }
    for name, build in configs:
        try:
            step = build()
            if warmup:
                step(warmup)
            out["configs"][name] = profile_steps(step, device, steps=steps)
        except Exception as exc:  # recorded: a failed configuration is not a number
            out["configs"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            modes.release_compiled()
        if on_update is not None:
            on_update(out)
    out["complete"] = True
    if on_update is not None:
        on_update(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON file to write")
    ap.add_argument("--steps", type=int, default=5, help="profiled steps per configuration")
    ap.add_argument("--rehearse-on-cpu", action="store_true", help="toy sizes on the CPU")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("profile-gpu: torch is not installed (pip install 'nb201-flat[train]')",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.rehearse_on_cpu:
        device = torch.device("cpu")
        sizes: dict[str, Any] = {"c": 2, "n": 1, "batch": 8, "steps": 2, "warmup": 1,
                                 "n_train": 64, "group_ks": (1, 2)}  # fmt: skip
    elif not torch.cuda.is_available():
        print(NO_CUDA.replace("bench-gpu", "profile-gpu", 1), file=sys.stderr)
        return 2
    else:
        device = torch.device("cuda")
        sizes = {"steps": args.steps}
    about = {"machine": machine_info(), "torch": torch.__version__,
             "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}  # fmt: skip

    def write(result: dict[str, Any]) -> None:
        atomic_write_text(args.out, json.dumps({**result, **about}, indent=2) + "\n")
        done = [k for k, v in result["configs"].items() if "error" not in v]
        print(f"profile-gpu: {args.out}: {', '.join(done) or 'nothing'} profiled", file=sys.stderr)

    run(device, on_update=write, **sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
