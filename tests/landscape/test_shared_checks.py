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
