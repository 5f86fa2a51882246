"""Small commands' start-up and the figures (time and peak memory).

* ``startup``: ``nb201-flat query`` / ``info`` / ``barrier`` in a fresh interpreter on a small
  stored table, against the same command with pandas, scipy and pyarrow imported first (what
  every command paid before the table layer and the search runner were loaded on first use and
  tables were read without pyarrow); the notes give ``-X importtime`` totals, which vary less
  than wall times on a shared machine.
* ``figures``: the A²M distributions' data (weighted multiplicities vs every neighbour value
  pooled), and ``nb201-flat figures`` end to end on the real table (full mode, needs the shared
  tidy file), with the whole command's peak RSS (target: every figure <= 400 MB, <= 10 s).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks._common import CACHE_DIR, Row, tidy_path, traced_peak_mb

GROUP_START = "startup"
GROUP_FIG = "figures"
_KEY = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]


def _small_table(folder: Path) -> Path:
    from nb201_flat.space import NB201
    from nb201_flat.storage import save_table
    from nb201_flat.table import MetricKey, Table

    vec = np.random.default_rng(0).uniform(10.0, 95.0, NB201.size)
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 200, "accuracy"), None): vec})
    return save_table(table, folder / "table")


def _wall(cmd: Sequence[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats + 1):  # the first run warms the file cache
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        runs.append(time.perf_counter() - t0)
    return float(np.median(runs[1:]))


def _import_s(cmd: Sequence[str], repeats: int = 3) -> float:
    """Median over runs of the summed top-level ``-X importtime`` cumulative times: what the
    command spends importing, less noisy than its wall time on a shared machine."""
    totals = []
    for _ in range(repeats):
        err = subprocess.run(
            [cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, timeout=600
        ).stderr
        totals.append(
            sum(
                int(m.group(1))
                for m in re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \| \S", err, re.M)
            )
            / 1e6
        )
    return float(np.median(totals))


# what every small command paid before: pandas and scipy (before the table layer and the
# search runner were loaded on first use) and pyarrow (before tables were read without it)
_EAGER = (
    "import pandas, scipy.sparse.csgraph, pyarrow.parquet, sys; from nb201_flat.cli import main"
)


def run_startup(*, quick: bool, repeats: int) -> list[Row]:
    floor_cmd = [sys.executable, "-c", "import numpy"]
    floor = _wall(floor_cmd, repeats)
    floor_imp = _import_s(floor_cmd)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = str(_small_table(Path(tmp)))
        for name, args in (
            ("query", ["query", "--table", table, *_KEY, "0"]),
            ("info", ["info", "--table", table]),
            ("barrier", ["barrier", "--table", table, *_KEY, "0", "1"]),
        ):
            ours_cmd = [sys.executable, "-m", "nb201_flat", *args]
            eager_cmd = [sys.executable, "-c", f"{_EAGER}; sys.exit(main({args!r}))"]
            rows.append(
                Row(
                    GROUP_START,
                    f"nb201-flat {name} (fresh interpreter)",
                    ours_s=_wall(ours_cmd, repeats),
                    baseline_s=_wall(eager_cmd, repeats),
                    target="~0.2 s",
                    note="baseline: the same command with pandas, scipy and pyarrow imported "
                    f"first; floor: python -c 'import numpy' {floor:.2f} s; -X importtime "
                    f"totals: ours {_import_s(ours_cmd):.3f} s, baseline "
                    f"{_import_s(eager_cmd):.3f} s, floor {floor_imp:.3f} s"
                    + (
                        "; includes the spanning forest of the radius-1 graph (numpy)"
                        if name == "barrier"
                        else ""
                    ),
                )
            )
    return rows


def run_figures(*, quick: bool, repeats: int) -> list[Row]:
    from nb201_flat.landscape import a2m_bands, neighbour_distributions
    from nb201_flat.space import NB201

    rows = []
    tidy = tidy_path()
    if tidy is not None:
        from benchmarks.bench_official import imported_table
        from nb201_flat.storage import load_saved_table

        tab = load_saved_table(imported_table(tidy, CACHE_DIR))
        values = tab.vector("cifar10", "ori-test", 200, "accuracy")
        what = "cifar10 ori-test@200 accuracy"
    else:
        values = np.random.default_rng(0).normal(70.0, 10.0, NB201.size)
        what = "synthetic values (no shared data)"
    bands = a2m_bands("cifar10")

    def pooled() -> object:
        return neighbour_distributions(NB201, values, bands, (1, 2, 3))

    def weighted() -> object:
        return neighbour_distributions(NB201, values, bands, (1, 2, 3), weighted=True)

    pooled()  # neighbour arrays cached for both
    t0 = time.perf_counter()
    pooled()
    t_pooled = time.perf_counter() - t0
    t0 = time.perf_counter()
    weighted()
    t_weighted = time.perf_counter() - t0
    rows.append(
        Row(
            GROUP_FIG,
            "A²M distributions data (one dataset, radii 1-3): weighted vs pooled",
            ours_s=t_weighted,
            baseline_s=t_pooled,
            ours_peak_mb=traced_peak_mb(weighted),
            baseline_peak_mb=None if quick else traced_peak_mb(pooled),
            note=f"{what}; histograms of the two are bit-identical (tested); timed once each "
            "(warm neighbour arrays)",
        )
    )
    # `figures` end to end is measured by benchmarks.bench_figures (the whole process tree)
    return rows
