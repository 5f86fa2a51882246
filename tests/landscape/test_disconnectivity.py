"""Disconnectivity graphs of the best local optima, read off the barrier tree."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.landscape import (
    barrier_tree,
    disconnectivity_graph,
)
from nb201_flat.space import Space

TINY = Space(("none", "skip", "conv"), 3)  # 27 cells, 6 neighbours each
CUBE = Space(("a", "b"), 3)  # 8 cells; index = binary number of the codes


values_27 = st.lists(st.integers(0, 8).map(float), min_size=27, max_size=27)  # many ties


# -- disconnectivity graphs ---------------------------------------------------------------------
def test_disconnectivity_graph_hand_computed() -> None:
    # peaks 000 (9) and 111 (8) and 011 (6)? no: 011 is next to 111 and lower -- not an optimum
    f = np.array([9.0, 1, 1, 6, 1, 1, 2, 8])
    dg = disconnectivity_graph(CUBE, f)
    assert dg["index"].dtype == "Int64" and dg["parent"].dtype == "Int64"
    assert dg.to_dict("list") == {
        "node": [0, 1, 2],
        "kind": ["optimum", "optimum", "merge"],
        "index": [0, 7, None],  # to_dict gives None for <NA>
        "level": [9.0, 8.0, 1.0],
        "parent": [2, 2, None],
        "n_optima": [1, 1, 2],
        "barrier": [8.0, 7.0, pytest.approx(np.nan, nan_ok=True)],
    }


@settings(max_examples=30, deadline=None)
@given(values_27)
def test_disconnectivity_merge_levels_are_bottlenecks(data: list[float]) -> None:
    f = np.array(data)
    tree = barrier_tree(TINY, f)
    dg = tree.disconnectivity(6)
    leaves = dg[dg["kind"] == "optimum"]
    assert len(leaves) <= 6
    parent = dict(zip(dg["node"], dg["parent"], strict=True))
    level = dict(zip(dg["node"], dg["level"], strict=True))

    def ancestors(n: int) -> list[int]:
        out = [n]
        while parent[out[-1]] is not pd.NA:
            out.append(parent[out[-1]])
        return out

    for (n1, i1), (n2, i2) in itertools.combinations(
        zip(leaves["node"], leaves["index"], strict=True), 2
    ):
        common = [x for x in ancestors(n1) if x in set(ancestors(n2))]
        assert level[common[0]] == tree.path(int(i1), int(i2)).bottleneck
    # leaves: the best local optima, best first
    assert leaves["level"].is_monotonic_decreasing


@pytest.mark.parametrize("bad", [1.5, True, 0])
def test_n_optima_is_a_positive_integer(bad: object) -> None:
    from nb201_flat.errors import ArgumentError

    # 1.5 used to be a raw TypeError from a slice, True one optimum
    with pytest.raises(ArgumentError, match="n_optima"):
        disconnectivity_graph(TINY, np.arange(27.0), n_optima=bad)  # type: ignore[arg-type]


def test_no_measured_architecture_is_named_not_a_pandas_key_error() -> None:
    from nb201_flat.errors import MissingValueError

    with pytest.raises(MissingValueError, match="no local optimum"):
        disconnectivity_graph(TINY, np.full(27, np.nan))
