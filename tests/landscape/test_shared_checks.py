"""Checks defined once and used by every layer that takes the same kind of argument."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.graphs import space_graph
from nb201_flat.landscape._common import as_values
from nb201_flat.space import Space

SMALL = Space(("none", "conv"), 3)  # 8 architectures


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.arange(9.0), "vector over the 8 architectures"),
        (["x"] * 8, "values must be numbers"),
        ([0.0] * 7 + [np.inf], "1 infinite entry \\(first at index 7\\)"),
        ([0.0] * 7 + [10**400], "^values hold a number beyond a float's range"),  # OverflowError
    ],
)
def test_every_per_arch_vector_gets_the_same_check(values: object, match: str) -> None:
    # the neighbour gather and the networkx view used to check the length only: text raised
    # numpy's ValueError and an inf went through, where the landscape layer named both
    nb = SMALL.neighbours(1)
    for call in (
        lambda: as_values(SMALL, values),  # type: ignore[arg-type]
        lambda: nb.gather(values),  # type: ignore[arg-type]
        lambda: space_graph(SMALL, values=values),  # type: ignore[arg-type]
    ):
        with pytest.raises(ArgumentError, match=match):
            call()


def test_every_confidence_level_gets_the_same_check() -> None:
    # figures, search statistics and proxies each checked the level themselves, and only the
    # figures named the fix (95 for 95 %)
    from nb201_flat.figures._common import binned_means, mean_ci
    from nb201_flat.figures.search import plot_anytime
    from nb201_flat.landscape.proxies import proxy_correlations
    from nb201_flat.search.statistics import bootstrap_ci

    space = Space(("a", "b", "c"), 3)
    acc = np.arange(27.0)
    for call in (
        lambda: mean_ci([1.0, 2.0], 95),
        lambda: binned_means(acc, acc, confidence=95),
        lambda: plot_anytime(None, confidence=95),  # type: ignore[arg-type]
        lambda: bootstrap_ci(np.ones(3), confidence=95),
        lambda: proxy_correlations(space, acc, acc, confidence=95),
    ):
        # the whole fix, to the end: "got 95; " matched the old "got 95; e.g. 0.95" too
        fix = r"got 95; pass e\.g\. 0\.95 for a 95 % interval$"
        with pytest.raises(ArgumentError, match=r"^confidence must lie in \(0, 1\), " + fix):
            call()


def test_the_confidence_check_lives_beside_the_other_checks() -> None:
    # errors.py holds every check_* helper; this one lived in landscape._common
    from nb201_flat import errors
    from nb201_flat.landscape import _common

    assert errors.check_confidence(0.9) == 0.9
    assert not hasattr(_common, "check_confidence")  # defined once
