"""The examples in the search docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "nb201_flat.search.oracle",
    "nb201_flat.search.protocol",
    "nb201_flat.search.algorithms",
    "nb201_flat.search.statistics",
    "nb201_flat.search.accounting",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
