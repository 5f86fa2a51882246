"""The examples in the retraining backend's new docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "nb201_flat.train.recipe",
    "nb201_flat.train.modes",
    "nb201_flat.train.splits",
    "nb201_flat.train.jobs",
    "nb201_flat.train.pruning",
    "nb201_flat.train.campaign",
    "nb201_flat.train.writer",
    "nb201_flat.train.executors",
]
TORCH_MODULES = ["nb201_flat.train.augment", "nb201_flat.train.grouped"]


@pytest.mark.parametrize("name", MODULES + TORCH_MODULES)
def test_doctests(name: str) -> None:
    if name in TORCH_MODULES:
        pytest.importorskip("torch")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
