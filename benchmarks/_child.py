"""Operations run in a fresh process, so that each peak resident memory is its own.

``python -m benchmarks._child --out RESULT.json COMMAND ...``; the parent
(:func:`benchmarks._common.run_child`) reads RESULT.json. Imports happen before the clock
starts and before the baseline memory is read: we compare constructing, not importing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks._common import atomic_write_text, peak_rss_mb, rss_mb

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: get_more_info fields compared with our vectorised query.
API_FIELDS = (
    "train-accuracy",
    "train-loss",
    "train-all-time",
    "valid-accuracy",
    "valid-loss",
    "test-accuracy",
    "test-loss",
    "valtest-accuracy",
    "valtest-loss",
)


def api_load(
    path: str, *, fast_unpickler: bool, sweep: bool, limit_gb: float | None
) -> dict[str, Any]:
    """Construct ``NASBench201API`` from ``path``; optionally sweep ``get_more_info``."""
    if limit_gb:
        _limit_memory(limit_gb)
    if fast_unpickler:
        # torch >= 2.6 defaults torch.load to the pure-Python weights_only unpickler; the API
        # (written for torch 1.x) never passes weights_only, so this restores its C unpickler
        os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    import torch  # noqa: F401  (imported before the clock starts)
    from nas_201_api import NASBench201API

    warnings.filterwarnings("ignore", category=UserWarning)
    before = rss_mb()
    t0 = time.perf_counter()
    api = NASBench201API(path, verbose=False)
    construct = time.perf_counter() - t0
    out: dict[str, Any] = {
        "construct_s": construct,
        "rss_before_mb": before,
        "rss_after_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
        "n_archs": len(api.evaluated_indexes),
        "file_mb": Path(path).stat().st_size / 1e6,
    }
    if sweep:
        indexes = list(api.evaluated_indexes)
        records: dict[str, list[float | None]] = {}
        t0 = time.perf_counter()
        for dataset in DATASETS:
            rows = [api.get_more_info(i, dataset, hp="200", is_random=False) for i in indexes]
            for f in API_FIELDS:
                records[f"{dataset}/{f}"] = [_num(r.get(f)) for r in rows]
        out["sweep_s"] = time.perf_counter() - t0
        out["sweep_calls"] = len(indexes) * len(DATASETS)
        out["indexes"] = indexes
        out["records"] = records
    return out


def _num(x: object) -> float | None:
    if x is None:
        return None
    f = float(x)  # type: ignore[arg-type]
    return None if f != f else f  # NaN -> null in JSON


def table_load(path: str, *, repeats: int) -> dict[str, Any]:
    """``load_saved_table(path)`` (checksum verified) ``repeats`` times; the first is cold."""
    import pyarrow.parquet  # noqa: F401

    from nb201_flat.storage import load_saved_table

    before = rss_mb()
    runs = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        table = load_saved_table(path)
        runs.append(time.perf_counter() - t0)
        del table
    return {
        "runs_s": runs,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def scaling(
    n_ops: int, n_nodes: int, radii: list[int], barrier: bool, limit_gb: float | None
) -> dict[str, Any]:
    """Cold cost of neighbourhood aggregates (and the barrier forest) on a synthetic space."""
    if limit_gb:
        _limit_memory(limit_gb)
    import numpy as np

    from nb201_flat.landscape import neighbourhood_score
    from nb201_flat.space import Space

    ops = ["none", *[f"op{i}" for i in range(1, n_ops)]]
    out: dict[str, Any] = {"n_ops": n_ops, "n_nodes": n_nodes, "rows": []}
    size = n_ops ** (n_nodes * (n_nodes - 1) // 2)
    values = np.random.default_rng(0).random(size)
    for r in radii:
        space = Space(ops, n_nodes)  # fresh: no cached index arrays
        row: dict[str, Any] = {"what": f"aggregate_r{r}", "size": space.size}
        row["width"] = space.neighbourhood_size(r, exact=False)
        try:
            t0 = time.perf_counter()
            space.neighbours(r, exact=False)
            row["index_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            neighbourhood_score(space, values, r, exact=False)
            row["aggregate_s"] = time.perf_counter() - t0
        except MemoryError:
            row["error"] = f"MemoryError under the {limit_gb} GB limit"
        row["peak_rss_mb"] = peak_rss_mb()
        out["rows"].append(row)
        del space
    if barrier:
        from nb201_flat.landscape.maximin import barrier_tree

        space = Space(ops, n_nodes)
        row = {"what": "barrier_tree", "size": space.size}
        try:
            t0 = time.perf_counter()
            barrier_tree(space, values)
            row["precompute_s"] = time.perf_counter() - t0
        except MemoryError:
            row["error"] = f"MemoryError under the {limit_gb} GB limit"
        row["peak_rss_mb"] = peak_rss_mb()
        out["rows"].append(row)
    return out


def run_timed(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` to completion: wall seconds, exit status and the command's peak RSS."""
    import resource
    import subprocess

    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    # the command is this small process's only child: the max RSS over its waited-for
    # descendants is the command's largest single process (workers included)
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,  # the command and its workers, all cores
        "returncode": proc.returncode,
        "peak_rss_mb": kb / 1024.0,
        "output_tail": (proc.stdout + proc.stderr)[-3000:],
    }


def _limit_memory(gb: float) -> None:
    # a guard for a shared machine: fail with MemoryError rather than push others into swap
    import resource

    limit = int(gb * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._child")
    p.add_argument("--out", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("api-load")
    a.add_argument("path")
    a.add_argument("--fast-unpickler", action="store_true")
    a.add_argument("--sweep", action="store_true")
    a.add_argument("--limit-gb", type=float)
    t = sub.add_parser("table-load")
    t.add_argument("path")
    t.add_argument("--repeats", type=int, default=5)
    s = sub.add_parser("scaling")
    s.add_argument("n_ops", type=int)
    s.add_argument("n_nodes", type=int)
    s.add_argument("--radii", type=int, nargs="*", default=[1])
    s.add_argument("--barrier", action="store_true")
    s.add_argument("--limit-gb", type=float)
    r = sub.add_parser("run-timed")
    r.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.cmd == "api-load":
        result = api_load(
            args.path, fast_unpickler=args.fast_unpickler, sweep=args.sweep, limit_gb=args.limit_gb
        )
    elif args.cmd == "table-load":
        result = table_load(args.path, repeats=args.repeats)
    elif args.cmd == "run-timed":
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        result = run_timed(cmd)
    else:
        result = scaling(args.n_ops, args.n_nodes, args.radii, args.barrier, args.limit_gb)
    atomic_write_text(Path(args.out), json.dumps(result))  # a killed child leaves no half file
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
