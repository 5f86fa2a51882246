"""The examples in the landscape docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "nb201_flat.landscape",
    "nb201_flat.landscape.neighbourhood",
    "nb201_flat.landscape.statistics",
    "nb201_flat.landscape._common",
    "nb201_flat.landscape.paths",
    "nb201_flat.landscape.a2m",
    "nb201_flat.landscape.census",
    "nb201_flat.landscape.pair_batch",
    "nb201_flat.landscape.maximin",
    "nb201_flat.landscape.disconnectivity",
    "nb201_flat.landscape.projection",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
