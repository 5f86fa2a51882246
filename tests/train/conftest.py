"""Fixtures for the training tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.figures.notebook import SHARED_ENV, shared_data_dir

DERIVED_MEAN = Path("derived") / "nb201_200ep_mean.csv"


@pytest.fixture(scope="session")
def nb201_mean_csv() -> Path:
    """The real per-arch NB201 CSV with stored parameter counts; skip when absent."""
    path = shared_data_dir() / DERIVED_MEAN  # found as the package finds it
    if not path.is_file():
        pytest.skip(f"real NB201 data not found: {path} (set {SHARED_ENV} to the nb201 folder)")
    return path


@pytest.fixture
def cifar10_root(tmp_path: Path) -> Path:
    """A tiny CIFAR-10 (5 x 16 train images, 24 test images) in the official layout."""
    return write_tiny_cifar10(tmp_path / "data")


@pytest.fixture(autouse=True)
def _restore_backend_flags() -> Iterator[None]:
    """Put back the global TF32 / cuDNN flags a test set (training sets its mode's)."""
    from nb201_flat.train.modes import backend_flags, set_backend_flags

    try:
        flags = backend_flags()  # reads torch's flags
    except ImportError:  # no torch: nothing to put back
        yield
        return
    yield
    set_backend_flags(flags)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    # the suite shares 2 cores with other work; OpenMP spinning threads slow tiny nets 10x
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
