"""Fixtures for the search tests: an NB201-shaped synthetic table with every key the built-in
protocols need (validation at 12 and 200 epochs with seeds, training time, test splits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table


def nb201_like_table(seed: int = 7) -> Table:
    """Accuracy grows with 3x3 convs, plus noise; costs grow with convs (12-epoch ~100 s)."""
    rng = np.random.default_rng(seed)
    codes = NB201.codes.astype(np.int64)
    conv = (codes == 3).sum(axis=1) + 0.5 * (codes == 2).sum(axis=1)
    signal = 60.0 + 5.0 * conv - 20.0 * ~NB201.connected
    time_200 = 1000.0 + 400.0 * conv + rng.uniform(0, 200, NB201.size)
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    for ds, scale in (("cifar10-valid", 1.0), ("cifar100", 0.7), ("ImageNet16-120", 0.45)):
        base = signal * scale
        for ep, noise in ((12, 3.0), (200, 1.0)):
            key = MetricKey(ds, "x-valid", ep)
            if ep == 200:
                seeds = [base + rng.normal(0, noise, NB201.size) for _ in range(3)]
                seeds[2][rng.random(NB201.size) < 0.4] = np.nan  # some archs have 2 seeds
                for s, v in enumerate(seeds):
                    data[(key, s)] = v
                data[(key, None)] = np.nanmean(np.stack(seeds), axis=0)
            else:
                data[(key, None)] = base - 10 + rng.normal(0, noise, NB201.size)
        data[(MetricKey(ds, "train", 200, "time_s"), None)] = time_200 * (1 + scale)
    data[(MetricKey("cifar10", "ori-test", 200), None)] = signal + rng.normal(0, 1, NB201.size)
    for ds, scale in (("cifar100", 0.7), ("ImageNet16-120", 0.45)):
        data[(MetricKey(ds, "x-test", 200), None)] = signal * scale + rng.normal(0, 1, NB201.size)
    return Table(NB201, data, source="synthetic nb201-like")


@pytest.fixture(scope="session")
def nb201_like() -> Table:
    return nb201_like_table()


@pytest.fixture(scope="session")
def nb201_like_path(nb201_like: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("search") / "like.nb201"
    save_table(nb201_like, out)
    return out
