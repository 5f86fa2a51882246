"""Small commands do not pay for pandas, scipy or the search runner (loaded on first use)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from nb201_flat.space import NB201
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table


def test_query_loads_no_pandas_and_reads_the_stored_values(tmp_path: Path) -> None:
    vec = np.linspace(10.0, 90.0, NB201.size)
    vec[3] = np.nan  # a null in the parquet column
    key = MetricKey("cifar10", "ori-test", 200, "accuracy")
    folder = save_table(Table(NB201, {(key, None): vec}), tmp_path / "t")
    # the columns come back bit for bit, nulls as NaN, without pandas' conversion
    back = load_saved_table(folder).vector("cifar10", "ori-test", 200, "accuracy")
    np.testing.assert_array_equal(back, vec)
    code = (
        "import sys; from nb201_flat.cli import main; "
        f"rc = main(['query', '--table', {str(folder)!r}, '--dataset', 'cifar10', "
        "'--split', 'ori-test', '--epochs', '200', '5']); "
        "heavy = sorted(m for m in ('pandas', 'scipy', 'nb201_flat.search.runner') "
        "if m in sys.modules); print(heavy); sys.exit(rc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "[]", out.stdout
    assert f"{vec[5]:.4f}" in lines[0]


# what a small command has no use for: pandas, scipy, pyarrow (the stored table is read without
# it), numba, matplotlib, and the layers that only the other commands' parsers name (search
# algorithms, figures, importers' readers, the compiled kernels)
_HEAVY = (
    "pandas",
    "scipy",
    "pyarrow",
    "numba",
    "matplotlib",
    "nb201_flat.search",
    "nb201_flat.search.runner",
    "nb201_flat.figures",
    "nb201_flat.jit",
    "numpy.random",  # ~17 ms: no small command draws random numbers (seed policy random aside)
    "nb201_flat.atomic",  # writing only
)
# what `info` and `query` do not run either: neighbourhoods (`barrier` walks the radius-1 graph)
_NOT_FOR_LOOKUPS = ("nb201_flat.neighbours", "nb201_flat.neighbourhood", "nb201_flat.landscape")


def _heavy_modules_after(argv: list[str], heavy: tuple[str, ...] = _HEAVY) -> tuple[list[str], str]:
    """Run the CLI in a fresh interpreter; the heavy modules it loaded, and its output."""
    code = (
        "import sys; from nb201_flat.cli import main; "
        f"rc = main({argv!r}); "
        f"heavy = sorted(m for m in {heavy!r} "
        "if m in sys.modules); import json; print(json.dumps(heavy)); sys.exit(rc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    lines = out.stdout.strip().splitlines()
    heavy: list[str] = json.loads(lines[-1])
    return heavy, "\n".join(lines[:-1])


def test_info_and_barrier_load_no_pandas_or_scipy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    key = MetricKey("cifar10", "ori-test", 200, "accuracy")
    vec = rng.uniform(10.0, 90.0, NB201.size)
    folder = str(save_table(Table(NB201, {(key, None): vec}), tmp_path / "t"))
    heavy, text = _heavy_modules_after(["info", "--table", folder], _HEAVY + _NOT_FOR_LOOKUPS)
    assert heavy == [], text
    # the plain-records table still names the key and the archs measured
    assert "ori-test" in text and "15625" in text
    k = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]
    heavy, text = _heavy_modules_after(["barrier", "--table", folder, *k, "0", "1", "--json"])
    assert heavy == [], text
    heavy, query = _heavy_modules_after(
        ["query", "--table", folder, *k, "7"], _HEAVY + _NOT_FOR_LOOKUPS
    )
    assert heavy == [], query
    assert f"{vec[7]:.4f}" in query
    # the command computed its barriers (the lowest one: the exact maximin path)
    payload = json.loads(text)
    assert payload["barriers"]["lowest"]["barrier"] >= 0.0
