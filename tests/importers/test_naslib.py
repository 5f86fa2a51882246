"""NASLib op indices: only whole numbers in 0..4 name a cell."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import InvalidArchError
from nb201_flat.importers.naslib import from_naslib, to_naslib
from nb201_flat.space import NB201


@pytest.mark.parametrize(
    "bad",
    [
        [1.5, 1, 2, 3, 1, 0],  # int() read it as 1: another cell, silently
        [True, 1, 2, 3, 1, 0],  # a flag, not an op index
        "012340",  # characters
        [0, 1, 2, 3, 5, 0],
        [0, 1, 2],
    ],
)
def test_from_naslib_refuses_what_is_no_op_index(bad: object) -> None:
    with pytest.raises(InvalidArchError, match="must be 6 integers in 0..4"):
        from_naslib(bad)  # type: ignore[arg-type]


def test_from_naslib_takes_numpy_and_whole_float_indices() -> None:
    a = NB201.arch(11472)
    ops = to_naslib(a)
    assert from_naslib(np.array(ops)) == a
    assert from_naslib([float(x) for x in ops]) == a


def test_to_naslib_takes_an_arch() -> None:
    from nb201_flat.errors import ArgumentError

    for bad in (5, NB201.arch(5).to_str()):  # failed with AttributeError
        with pytest.raises(ArgumentError, match="to_naslib takes an Arch"):
            to_naslib(bad)  # type: ignore[arg-type]


def test_from_naslib_refuses_one_index_in_one_line() -> None:
    # list(5) raised a bare TypeError, where every other bad input names the format
    with pytest.raises(InvalidArchError, match=r"must be 6 integers in 0..4, got 5$"):
        from_naslib(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match=r"got \[0, 1, 2, 3, 1, 7\]"):
        from_naslib(iter([0, 1, 2, 3, 1, 7]))  # read once: the message shows what was read
