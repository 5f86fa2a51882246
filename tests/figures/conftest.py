"""Fixtures for the figure tests: a synthetic NB201 table holding every key the figures use."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: files only, identical bytes

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

# per op code (none, skip, conv1x1, conv3x3, pool): how much an edge helps
_OP_WEIGHT = np.array([0.0, 0.45, 0.7, 1.0, 0.25])
# dataset -> (chance accuracy, best accuracy), roughly NB201's
_RANGES = {
    "cifar10": (10.0, 94.4),
    "cifar100": (1.0, 73.5),
    "ImageNet16-120": (0.8, 47.3),
}


def _accuracy(score: np.ndarray, chance: float, best: float) -> np.ndarray:
    """Monotone in ``score``, chance for disconnected cells, spread over [chance, best]."""
    rank = (np.argsort(np.argsort(score, kind="stable"), kind="stable") + 0.5) / score.size
    acc = chance + (best - chance) * np.sqrt(rank)
    return np.where(NB201.connected, acc, chance)


def build_figure_table(seed: int = 0) -> Table:
    """A table with every key of the figures: 200-epoch test and validation accuracy, 12-epoch
    validation accuracy and training time of cifar10(-valid), cifar100 and ImageNet16-120."""
    rng = np.random.default_rng(seed)
    codes = NB201.codes.astype(np.int64)
    base = _OP_WEIGHT[codes].sum(axis=1)
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    time_s = 2000.0 + 400.0 * (codes >= 2).sum(axis=1) + rng.uniform(0, 100, NB201.size)
    for ds, (chance, best) in _RANGES.items():
        score = base + rng.normal(0.0, 0.15, NB201.size)
        test = _accuracy(score, chance, best)
        valid = np.where(NB201.connected, test + rng.normal(0.0, 0.3, NB201.size), chance)
        valid12 = np.where(NB201.connected, valid - 8.0 + rng.normal(0, 1.0, NB201.size), chance)
        search_ds = "cifar10-valid" if ds == "cifar10" else ds
        test_split = "ori-test" if ds == "cifar10" else "x-test"
        data[(MetricKey(ds, test_split, 200), None)] = test
        data[(MetricKey(search_ds, "x-valid", 200), None)] = valid
        data[(MetricKey(search_ds, "x-valid", 12), None)] = valid12
        data[(MetricKey(search_ds, "train", 200, "time_s"), None)] = time_s.copy()
    # six-epoch learning curves rising to the final validation value (flatness_by_epoch)
    from nb201_flat.curves import Curves

    final = data[(MetricKey("cifar10-valid", "x-valid", 200), None)]
    rise = 1.0 - np.exp(-np.arange(1, 7) / 2.0)
    noise = rng.normal(0.0, 2.0, (NB201.size, 6)) * (1.0 - rise / rise[-1])
    curve = final[:, None] * rise[None, :] / rise[-1] + noise
    curves = Curves(NB201.size, {(MetricKey("cifar10-valid", "x-valid", 200), None): curve})
    return Table(NB201, data, source="synthetic figure table", curves=curves)


@pytest.fixture(scope="session")
def figure_table() -> Table:
    return build_figure_table()


@pytest.fixture(scope="session")
def cifar10_only_table(figure_table: Table) -> Table:
    """Only CIFAR-10 test accuracy: what the embedded default offers the figures."""
    key = MetricKey("cifar10", "ori-test", 200)
    return Table(NB201, {(key, None): figure_table.vector_for(key).copy()}, source="cifar10 only")


@pytest.fixture(scope="session")
def saved_figure_table(figure_table: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic table on disk, for CLI runs in other processes."""
    from nb201_flat.storage import save_table

    return save_table(figure_table, tmp_path_factory.mktemp("figtable") / "synthetic.nb201")
