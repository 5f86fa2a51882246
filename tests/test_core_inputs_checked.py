"""The core API reads what it is given as given (a seventh audit's findings, each reproduced
first): every cell of a space parses back from its string, an edge is a pair of whole
numbers, an option that cannot apply is refused, and the epochs rule takes numbers only."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from nb201_flat import conventions as cv
from nb201_flat.curves import Curves
from nb201_flat.errors import ArgumentError, InvalidArchError, UnknownKeyError
from nb201_flat.graphs import cell_graph
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey


def test_every_cell_of_a_space_parses_back_from_its_string() -> None:
    # 9 nodes: cells of 555 characters, refused by a fixed 500-character limit
    for space in (Space(("sep_conv_3x3", "dil_conv_3x3"), 9), Space(("x" * 200, "none"), 4)):
        for index in (0, space.size // 3, space.size - 1):
            cell = space.arch(index)
            assert space.parse(cell.to_str()) == cell
            assert space.resolve(cell.to_str()) == cell
        widest = space.from_ops([max(space.ops, key=len)] * space.n_edges)  # the longest
        assert len(widest.to_str()) == space._longest_text
        assert space.parse(widest.to_str()) == widest
    # an op name its cells' strings could not carry is refused when the space is made
    for op in ("conv_é", "a\tb"):
        with pytest.raises(InvalidArchError, match=r"must be printable ASCII"):
            Space((op, "none"), 4)
    with pytest.raises(InvalidArchError, match="architecture text of 501 characters"):
        NB201.parse("|" * 501)


def test_an_edge_is_a_pair_of_whole_numbers() -> None:
    # a list met a bare 'unhashable'; (False, True) was read as the edge (0, 1)
    with pytest.raises(InvalidArchError, match="an edge's node must be an integer, got False"):
        NB201.edge_position((False, True))
    with pytest.raises(InvalidArchError, match=r"an edge's node must be an integer, got \[0\]"):
        NB201.arch(0).with_op(([0], 1), "none")  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="no edge"):
        NB201.edge_position((0, 1, 2))  # type: ignore[arg-type]
    assert NB201.edge_position((np.int64(2), 3)) == NB201.edge_position((2, 3)) == 5


def test_an_option_that_cannot_apply_is_refused() -> None:
    # drop_none on a space without 'none' dropped nothing; copy=0 took the caller's array
    cell = Space(("a", "b"), 3).arch(0)
    with pytest.raises(ArgumentError, match="^drop_none=True needs an op named 'none'"):
        cell_graph(cell, drop_none=True)
    assert cell_graph(cell).number_of_edges() == 3
    key = MetricKey("cifar10", "ori-test", 12, "accuracy")
    given = np.zeros((4, 12))
    for copy in (0, "no"):
        with pytest.raises(ArgumentError, match="^copy must be True or False"):
            Curves(4, {(key, None): given}, copy=copy)  # type: ignore[arg-type]
    assert given.flags.writeable


def test_the_epochs_rule_takes_numbers_only() -> None:
    # '2' was read as 2 and True as 1; NaN met Fraction's bare ValueError; 200.0 its TypeError
    for kw, said in (
        ({"scale": "2"}, "^scale must be a finite number > 0 .a number, not a str"),
        ({"scale": True}, "^scale must be a finite number > 0 .a number, not a bool"),
        ({"budget": -5.0}, "^budget must be a finite number > 0, got -5.0"),
        ({"budget": float("nan")}, "^budget must be a finite number > 0, got nan"),
    ):
        args = {"budget": 100.0, "epochs": 200, **kw}
        with pytest.raises(ArgumentError, match=said):
            cv.scaled_time_budget(**args)  # type: ignore[arg-type]
    assert cv.scaled_time_budget(120_000.0, 200) == 2_000_000.0
    assert cv.scaled_time_budget(120.0, 200, Fraction(1, 2)) == 1000.0
    for epochs in (200.0, True):
        with pytest.raises(UnknownKeyError, match=r"^search epochs must be 12 or 200 \(an int\)"):
            cv.budget_ratio(epochs)  # type: ignore[arg-type]
    with pytest.raises(UnknownKeyError, match="^a dataset is named by a str"):
        cv.report_key(["cifar10"])  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^search must be a MetricKey"):
        cv.shares_data("a", "b")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^table must be a Table"):
        cv.default_metric("t")  # type: ignore[arg-type]
