"""Fixtures for the figure tests: a synthetic NB201 table holding every key the figures use."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: files only, identical bytes

from pathlib import Path

import pytest

from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import figure_table as build_figure_table


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
