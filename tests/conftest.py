"""Shared fixtures: the real NB201 data (skipped when absent) and small synthetic tables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from nb201_flat.figures.notebook import SHARED_ENV, TIDY_NAME, shared_data_dir
from nb201_flat.space import Space
from nb201_flat.table import Table
from nb201_flat.testing import table_from

# hypothesis's 200 ms deadline per example is a timed assertion: a loaded CI machine (four
# workers on two cores) can exceed it on correct code; the tests bound their examples instead
settings.register_profile("nb201_flat", deadline=None)
settings.load_profile("nb201_flat")


def pytest_configure(config: pytest.Config) -> None:
    # keep the embedded default out of the user's cache during tests
    os.environ.setdefault(
        "NB201_FLAT_CACHE", str(Path(config.rootpath) / ".pytest_cache" / "nb201_flat")
    )


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The real data's folder, found as the package finds it (an empty variable is an error)."""
    path = shared_data_dir()
    if not (path / TIDY_NAME).exists():
        pytest.skip(
            f"real NB201 data not found at {path} (set {SHARED_ENV} to the folder holding "
            f"{TIDY_NAME})"
        )
    return path


@pytest.fixture(scope="session")
def real_table(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Table:
    """The real NB201 tidy data, imported once per session through the public path."""
    from nb201_flat.importers.tidy import read_tidy
    from nb201_flat.storage import load_saved_table, save_table

    out = tmp_path_factory.mktemp("real") / "nb201.nb201"
    save_table(read_tidy(shared_dir / TIDY_NAME), out)
    return load_saved_table(out)


@pytest.fixture(scope="session")
def default_table() -> Table:
    """The embedded default (AnalogNAS-Bench)."""
    from nb201_flat.storage import load_table

    return load_table()


SyntheticFactory = Callable[..., Table]


@pytest.fixture
def cap_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory cap a test sets (NB201_FLAT_MAX_MEMORY) as the only bound on memory: the
    machine's free memory, cgroup and address-space limit are not read. Otherwise a loaded
    machine with less free memory than the cap changed what fits, and so the test's result."""
    from nb201_flat import budget

    for reader in ("_meminfo_available", "_cgroup_left", "_address_space_left"):
        monkeypatch.setattr(budget, reader, lambda: None)


@pytest.fixture
def make_table() -> SyntheticFactory:
    return table_from


@pytest.fixture(scope="session")
def tiny_space() -> Space:
    """3 ops on 3 nodes: 27 cells, small enough for brute force."""
    return Space(("none", "skip_connect", "conv"), 3)


@pytest.fixture(scope="session")
def dead() -> int:
    """The pid of a process that has exited (a killed writer of the atomic writers' tests)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)
