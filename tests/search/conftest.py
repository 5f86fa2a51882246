"""Fixtures for the search tests: the NB201-shaped synthetic table of :mod:`nb201_flat.testing`
(validation at 12 and 200 epochs with seeds, training time, test splits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb201_flat.storage import save_table
from nb201_flat.table import Table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="session")
def nb201_like() -> Table:
    return synthetic_table()


@pytest.fixture(scope="session")
def nb201_like_path(nb201_like: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("search") / "like.nb201"
    save_table(nb201_like, out)
    return out
