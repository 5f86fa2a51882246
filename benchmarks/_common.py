"""Shared helpers: paths, timing, peak memory, child processes, result rows, machine info."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nb201_flat import atomic

# the package's resolver of the real data, so $NB201_FLAT_SHARED_DATA reads as it does there
from nb201_flat.figures.notebook import SHARED_ENV, TIDY_NAME, shared_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / "benchmarks" / ".cache"
MB = 1024.0 * 1024.0


def ensure_cache_dir(path: Path = CACHE_DIR) -> Path:
    """Create the cache folder, which ignores itself in git (generated files, gigabytes)."""
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return path


def tidy_path() -> Path | None:
    """The real tidy file, or None when this machine does not have it."""
    p = shared_data_dir() / TIDY_NAME
    return p if p.is_file() else None


def missing_data_note() -> str:
    return (
        f"skipped: real NB201 data not found at {shared_data_dir()} "
        f"(set {SHARED_ENV} to the folder holding {TIDY_NAME})"
    )


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall-clock seconds of repeated runs after a warm-up."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(statistics.median(self.runs))

    @property
    def min(self) -> float:
        return float(min(self.runs))


def measure(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Time ``fn`` ``repeats`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return Timing(tuple(runs))


def measure_interleaved(
    fn_a: Callable[[], object], fn_b: Callable[[], object], *, repeats: int = 5, warmup: int = 1
) -> tuple[Timing, Timing]:
    """:func:`measure` of two functions taking turns, for a ratio near 1: a slow spell of a
    shared machine then slows both sides alike instead of one."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(1, repeats)):
        for fn, out in ((fn_a, runs[0]), (fn_b, runs[1])):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return Timing(tuple(runs[0])), Timing(tuple(runs[1]))


def traced_peak_mb(fn: Callable[[], object]) -> float:
    """Peak memory (MB) allocated while ``fn`` runs, by tracemalloc.

    Run separately from the timed runs: tracing slows Python code several-fold. numpy
    reports its buffers to tracemalloc, so arrays are counted too.
    """
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was:
            tracemalloc.stop()
    return max(0.0, (peak - base) / MB)


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with ``extra`` added, for a child Python that must import
    ``benchmarks`` from this checkout whatever its working folder is."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run_untimed(cmd: Sequence[str]) -> float:
    """Run ``cmd`` once before an end-to-end row that is timed once, and return its wall
    seconds: numba's disk cache then holds every kernel the command compiles, as after a
    machine's first run (timed apart, with an empty cache, by
    ``reproduce_default_grid_first_run``). In a fresh clone the cache is empty, and the first
    figures row measured 31.6 s, most of it compiling."""
    t0 = time.perf_counter()
    done = subprocess.run(
        list(cmd),
        cwd=REPO_ROOT,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:  # the group's error row, rather than a timed run that fails too
        tail = (done.stderr or done.stdout)[-600:]
        raise RuntimeError(f"the untimed run failed (rc={done.returncode}): {tail}")
    return time.perf_counter() - t0


def run_child(
    args: Sequence[str], *, timeout: float | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run ``python -m benchmarks._child ARGS`` (``env`` added to this environment) and return
    the JSON it writes.

    A fresh process gives an honest peak resident memory (``ru_maxrss``) for one operation.
    """
    with tempfile.TemporaryDirectory(prefix="nb201-bench-") as tmp:
        out = Path(tmp) / "result.json"
        child_env = child_environment(env)
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._child", "--out", str(out), *args],
            cwd=REPO_ROOT,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout)[-2000:]
            raise RuntimeError(f"child {' '.join(args)} failed (rc={proc.returncode}): {tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


@dataclass(slots=True)
class Row:
    """One operation: our time against a baseline's, peak memories and the target."""

    group: str
    name: str
    ours_s: float | None = None
    baseline_s: float | None = None
    ours_peak_mb: float | None = None
    baseline_peak_mb: float | None = None
    target_ratio: float | None = None  # time ratio the issue asks for (baseline / ours)
    target_peak_mb: float | None = None  # peak memory the issue allows, where it names one
    target: str = ""
    same_result: bool | None = None  # did the baseline compute the same numbers as ours?
    status: str = "ok"  # ok | skipped | pending | error
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours_s is None or self.baseline_s is None or self.ours_s <= 0:
            return None
        return self.baseline_s / self.ours_s

    @property
    def met(self) -> bool | None:
        if self.target_ratio is None or self.ratio is None:
            return None
        fits = self.target_peak_mb is None or (
            self.ours_peak_mb is not None and self.ours_peak_mb <= self.target_peak_mb
        )
        return self.ratio >= self.target_ratio and fits

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["met"] = self.met
        return d


def rss_mb() -> float:
    """Current resident memory of this process (MB), from /proc where available."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError):
        return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB).

    Reads ``VmHWM`` (the high-water mark of this process's own address space) where /proc
    exists: ``ru_maxrss`` survives ``exec`` on Linux, so a child forked from a large parent
    would report the parent's size.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / MB


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, RAM, versions, git commit (the versions
    from the installed metadata: importing pandas here would map it into the runner)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram_gb = float("nan")
    with contextlib.suppress(ValueError, OSError, AttributeError):
        ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_gb": round(ram_gb, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    for mod in ("numpy", "pandas", "pyarrow", "networkx", "scipy", "torch", "nas_201_api"):
        info[mod] = _version_of(mod)
    # a copy of the tree without .git (a lent GPU machine) names its commit in the environment
    info["git_commit"] = _git(["rev-parse", "HEAD"]) or os.environ.get("NB201_FLAT_GIT_COMMIT")
    dirty = _git(["status", "--porcelain"])
    info["git_dirty"] = bool(dirty) if dirty is not None else None
    return info


def _version_of(module: str) -> str | None:
    from importlib import metadata

    dist = {"nas_201_api": "nas-bench-201"}.get(module, module)
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(args: list[str]) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all or nothing, with the package's one writer
    (:func:`nb201_flat.atomic.write_bytes`): the umask's mode, not ``mkstemp``'s private 0600."""
    atomic.write_bytes(path, text.encode())


# -- checksums of cached files -----------------------------------------------------------------
# A cached file the benchmarks regenerate only when missing (an official-layout .pth) carries a
# sidecar NAME.sha256 in ``sha256sum`` format (``sha256sum -c`` in the cache checks it by hand),
# as the trainer's checkpoints do: a damaged cache would otherwise change the numbers silently.
_HEX = re.compile(r"[0-9a-f]{64}")


def checksum_sidecar(path: Path) -> Path:
    """The file holding the sha256 of cached file ``path``."""
    return path.with_name(path.name + ".sha256")


def write_checksum(path: Path, digest: str) -> None:
    """Record ``digest``, the sha256 of the bytes of ``path``, in its sidecar."""
    atomic_write_text(checksum_sidecar(path), f"{digest}  {path.name}\n")


def checksum_problem(path: Path) -> str | None:
    """Why cached file ``path`` cannot be used as it is (no sidecar, a damaged one, bytes that
    differ from the recorded sha256), or None when its bytes are the ones recorded."""
    from nb201_flat.storage import file_sha256

    side = checksum_sidecar(path)
    try:
        fields = side.read_text("ascii").split()
    except FileNotFoundError:
        return f"it has no checksum file {side.name}"
    except (OSError, UnicodeDecodeError) as exc:
        return f"its checksum file {side.name} is unreadable ({exc})"
    if len(fields) != 2 or not _HEX.fullmatch(fields[0]) or fields[1] != path.name:
        return f"its checksum file {side.name} is malformed"
    if file_sha256(path) != fields[0]:
        return f"its bytes do not match the sha256 recorded in {side.name}"
    return None
