"""The figures benchmark's memory sampler: it sees a forked child's memory, and it maps no
library whose pages it would take a share of off the tree it measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_figures import run_tree

ROOT = Path(__file__).resolve().parents[2]

# a parent that forks a child; each holds 60 MB of its own for a while, then exits with code 3
_TWO = """
import os, time
block = bytearray(60 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
if os.fork() == 0:
    mine = bytearray(60 << 20)
    for i in range(0, len(mine), 4096):
        mine[i] = 2
    time.sleep(3.0)  # both blocks held long enough for a descheduled sampler to see them
    os._exit(0)
time.sleep(0.5)
os.wait()
print("done")
raise SystemExit(3)
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")
def test_the_sampler_sums_the_tree() -> None:
    r = run_tree([sys.executable, "-c", _TWO])
    assert r["returncode"] == 3 and r["output_tail"].strip() == "done"
    # 60 MB each: the parent's block is shared with the child until written, the child's own
    assert r["tree_pss_mb"] >= 110, r
    assert r["tree_rss_mb"] >= r["tree_pss_mb"] and r["max_single_mb"] >= 60, r
    assert r["wall_s"] >= 1.0 and r["cpu_s"] > 0


def _heavy_modules_after(code: str) -> str:
    """Which of the libraries whose pages PSS would split are loaded after ``code`` runs."""
    probe = (
        f"import sys\n{code}\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'numba', 'pyarrow', 'matplotlib', "
        "'llvmlite', 'nb201_flat') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_sampler_loads_the_standard_library_only() -> None:
    assert _heavy_modules_after("import benchmarks._tree_sampler") == "[]"


def test_the_runner_measures_figures_before_it_loads_pandas_or_numba(tmp_path: Path) -> None:
    # the runner's own pandas, pyarrow and numba pages split the figures tree's PSS with it.
    # main() runs with stand-ins: a group listed before figures loads pandas and numba, as
    # the real ones do, and the figures stand-in records what the runner holds when called
    code = f"""
import sys
from benchmarks import bench_figures, run
heavy = lambda: sorted(m for m in ('pandas', 'numba', 'pyarrow') if m in sys.modules)
held = []
def figures(quick, repeats):
    held.append(heavy())
    return []
def official():
    import numba, pandas
    return []
bench_figures.run = figures
run._runners = lambda quick, repeats: {{"official": official, "figures": lambda: []}}
assert run.GROUPS.index("official") < run.GROUPS.index("figures")
run.main(["--only", "official", "figures", "--out", {str(tmp_path)!r}])
print(held, heavy(), file=sys.stderr)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # called once, before either was loaded; loaded by the group after it
    held, after = out.stderr.strip().splitlines()[-1].split("] [")
    assert held == "[[]" and "numba" in after and "pandas" in after
