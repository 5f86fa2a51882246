"""Issue 10: op codes as small numpy integers (a uint8 row of ``space.codes``) give the right
index, never one wrapped around 256 or an OverflowError; non-integer codes are refused."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from nb201_flat.errors import InvalidArchError
from nb201_flat.space import NB201, Space


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int64])
def test_index_of_small_integer_codes(dtype: type[np.integer]) -> None:
    # the last cell has every code at its largest, so each weight times a code overflows a byte
    for index in (NB201.size - 1, 15000, 11472, 0):
        codes = np.asarray(NB201.arch(index).codes, dtype=dtype)
        assert NB201.index_of_codes(codes) == index
        assert NB201.index_of_codes(list(codes)) == index


def test_index_of_codes_matches_the_vectorised_form_on_uint8_rows() -> None:
    rows = np.asarray(NB201.codes, dtype=np.uint8)
    picks = [0, 1, 124, 125, 3124, 3125, NB201.size - 1]
    assert [NB201.index_of_codes(rows[i]) for i in picks] == picks
    assert NB201.indices_of_codes(rows[picks]).tolist() == picks


def test_other_space_uint8() -> None:
    space = Space(("a", "b", "c", "d", "e", "f", "g"), 4)  # 7 ops, 6 edges: weights up to 16807
    last = np.full(space.n_edges, space.n_ops - 1, dtype=np.uint8)
    assert space.index_of_codes(last) == space.size - 1


@pytest.mark.parametrize("bad", [(1.5, 0, 0, 0, 0, 0), (1.0, 0, 0, 0, 0, 0), ("1", 0, 0, 0, 0, 0)])
def test_non_integer_codes_are_refused(bad: tuple[object, ...]) -> None:
    with pytest.raises(InvalidArchError, match="integers"):
        NB201.index_of_codes(bad)  # type: ignore[arg-type]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("argv", [["info"], ["record", "5", "--json"]])
def test_output_to_a_full_disk_is_one_line(argv: list[str]) -> None:
    # > /dev/full: OSError ENOSPC as a traceback, exit 1 (only a broken pipe was caught)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "nb201_flat", *argv], stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "error: could not write the output (No space left on device); free some space or send "
        "it elsewhere\n"
    )


def test_a_refused_optimistic_search_says_one_line() -> None:
    # a warning that the protocol is optimistic came first, on a line of its own
    argv = [
        "search",
        "--algo",
        "rs",
        "--protocol",
        "fixed-n",
        "--runs",
        "3",
        "--seed-policy",
        "random",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "nb201_flat", *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: fixed-n:cifar10: ")
