"""Loading a table with learning curves: final-value queries must not get slower.

Rows: ``load_saved_table`` + every final-value ``vector_for`` of a table stored with
learning curves (ours) against the same table stored without them (baseline: today's load);
and the first lazy read of one curve (no baseline). The table is synthetic, NB201-sized
(15,625 archs, 48 final-value vectors; curves: 8 columns of 200 epochs, 12 in quick mode),
written once into ``benchmarks/.cache``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from benchmarks._common import CACHE_DIR, Row, ensure_cache_dir, measure, measure_interleaved
from nb201_flat.curves import Curves
from nb201_flat.space import NB201
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table

log = logging.getLogger(__name__)
GROUP = "curves"


def _tables(epochs: int, seed: int = 0) -> tuple[Table, Table]:
    rng = np.random.default_rng(seed)
    n = NB201.size
    data = {}
    for ds in ("cifar10-valid", "cifar100", "ImageNet16-120"):
        for split in ("train", "x-valid", "x-test", "ori-test"):
            for metric in ("accuracy", "loss"):
                # one seed: its mean is itself (a table refuses a mean outside its seeds)
                values = rng.uniform(0, 100, n)
                for s in (None, 0):
                    data[(MetricKey(ds, split, 200, metric), s)] = values
    curve_data = {}
    for ds in ("cifar10-valid", "cifar100"):
        for split in ("train", "x-valid"):
            for s in (None, 0):
                key = MetricKey(ds, split, 200, "accuracy")
                # accuracies are multiples of 0.01 as in the official files (compress alike)
                curve_data[(key, s)] = np.round(rng.uniform(0, 100, (n, epochs)), 2)
    plain = Table(NB201, data, source="bench plain")
    with_curves = Table(NB201, data, source="bench curves", curves=Curves(n, curve_data))
    return plain, with_curves


def run(*, quick: bool = False, repeats: int = 5) -> list[Row]:
    """The two rows (see the module docstring)."""
    epochs = 12 if quick else 200
    # v2: tables of a mean equal to its seed (earlier caches held one a load now refuses)
    cache = ensure_cache_dir(CACHE_DIR) / f"curves-v2-{epochs}"
    plain_path, curves_path = cache / "plain.nb201", cache / "curves.nb201"
    if not (curves_path / "manifest.json").exists() or not (plain_path / "manifest.json").exists():
        shutil.rmtree(cache, ignore_errors=True)
        plain, with_curves = _tables(epochs)
        save_table(plain, plain_path)
        save_table(with_curves, curves_path)

    def final_values(path: Path) -> float:
        t = load_saved_table(path)
        return float(sum(float(t.vector_for(k)[0]) for k in t))

    # a ratio near 1 on a ~10 ms load: many short turns, taken alternately
    ours, base = measure_interleaved(
        lambda: final_values(curves_path), lambda: final_values(plain_path), repeats=4 * repeats
    )
    same = final_values(curves_path) == final_values(plain_path)

    def first_curve() -> float:
        t = load_saved_table(curves_path)
        assert t.curves is not None
        return float(
            t.curves.curve(MetricKey("cifar100", "x-valid", 200), seed_policy="mean")[0, 0]
        )

    lazy = measure(first_curve, repeats=repeats)
    size_mb = (curves_path / "curves.parquet").stat().st_size / 2**20
    return [
        Row(
            GROUP,
            "load + final values, table with curves",
            ours_s=ours.median,
            baseline_s=base.median,
            target_ratio=0.9,
            target="no slower than without curves (ratio >= 0.9 allows timer noise)",
            same_result=same,
            note=(
                f"baseline: the same 48 final-value vectors stored without curves; curves file "
                f"{size_mb:.1f} MB ({epochs} epochs), never read by final-value queries"
            ),
        ),
        Row(
            GROUP,
            "load + first read of one curve",
            ours_s=lazy.median,
            note=f"reads one column of {epochs} epochs and checks the curves file's sha256",
        ),
    ]
