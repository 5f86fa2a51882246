"""The examples in the docstrings of the learning-curve, cost, constraint and proxy modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "nb201_flat.curves",
    "nb201_flat.costs",
    "nb201_flat.constraints",
    "nb201_flat.landscape.epochs",
    "nb201_flat.landscape.proxies",
    "nb201_flat.search.fidelity",
    "nb201_flat.search.asktell",
    "nb201_flat.importers.naslib_zc",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
