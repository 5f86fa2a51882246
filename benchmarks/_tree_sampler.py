"""Run one command and sample the memory of its process tree, from a process of its own.

``python -m benchmarks._tree_sampler OUT.json -- COMMAND ...`` writes wall and CPU seconds and
the peaks (MB) to OUT.json. It imports the standard library only, on purpose: PSS divides a
shared page among every process on the machine that maps it, so any live process that has
loaded numba, pandas or pyarrow takes a share of those libraries' pages off the tree measured.
The benchmark runner therefore measures the figures command before it loads them
(:func:`benchmarks.run.main`): run after the other groups, the command read 375 MB (``make
bench`` at 8fa901a and again at 4f24eb9), where a process loading nothing but numpy reads
408-431 MB. Another process that maps the same libraries (a notebook with numba loaded) still
lowers the figure.

RSS is sampled every 20 ms; PSS only where it could be a new peak (the tree's PSS is at most
its RSS) and at most every 100 ms: reading ``smaps_rollup`` of every process every 20 ms cost
about 4 s of system CPU over a 20 s run, taken from the two cores the command runs on.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SAMPLE_S = 0.02
PSS_EVERY_S = 0.1


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from ``/proc``."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    out = [pid]
    for k in kids:
        out += tree(int(k))
    return out


def rss_hwm_kb(pid: int) -> tuple[int, int]:
    """RSS now and its high-water mark (``VmHWM``: this process's own peak, unlike
    ``ru_maxrss``, which keeps a forked parent's size across ``exec``), from ``status``."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss, hwm


def pss_kb(pid: int) -> int:
    """PSS now, from ``smaps_rollup`` (the kernel walks every mapping: ~1 ms a read)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def sample(cmd: list[str], cwd: str | None = None) -> dict[str, Any]:
    """Run ``cmd`` (its output captured); wall and CPU seconds of its tree and its peaks (MB)."""
    load = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_rss = peak_pss = peak_one = 0
    sampled = Path("/proc/self/smaps_rollup").exists()
    last_pss = 0.0
    # the pipe is drained by a thread: a command that fills it would otherwise block
    import threading

    chunks: list[bytes] = []
    pipe = proc.stdout
    assert pipe is not None
    reader = threading.Thread(target=lambda: chunks.append(pipe.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        if sampled:
            pids = tree(proc.pid)
            mem = [rss_hwm_kb(p) for p in pids]
            rss = sum(m[0] for m in mem)
            peak_rss = max(peak_rss, rss)
            peak_one = max([peak_one, *(m[1] for m in mem)])
            now = time.perf_counter()
            if rss > peak_pss and now - last_pss >= PSS_EVERY_S:
                peak_pss = max(peak_pss, sum(pss_kb(p) for p in pids))
                last_pss = now
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - t0
    reader.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command's tree alone
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        # sampled: a worker that peaks and exits between two samples may be missed
        "max_single_mb": peak_one / 1024.0 if sampled else usage.ru_maxrss / 1024.0,
        "tree_pss_mb": peak_pss / 1024.0 if sampled else None,
        "tree_rss_mb": peak_rss / 1024.0 if sampled else None,
        "load": (load, os.getloadavg()),
        "output_tail": b"".join(chunks).decode(errors="replace")[-2000:],
    }


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m benchmarks._tree_sampler OUT.json -- COMMAND ...", file=sys.stderr)
        return 2
    out = Path(argv[0])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(sample(argv[2:])))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
