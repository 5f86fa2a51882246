"""Paths and their barriers: path_barrier, the d! shortest paths."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nb201_flat.landscape import (
    LandscapeArgumentError,
    path_barrier,
    shortest_paths,
)
from nb201_flat.space import NB201, Space

TINY = Space(("none", "skip", "conv"), 3)  # 27 cells, 6 neighbours each
CUBE = Space(("a", "b"), 3)  # 8 cells; index = binary number of the codes


def is_path(space: Space, path: tuple[int, ...]) -> bool:
    codes = space.codes
    return all((codes[x] != codes[y]).sum() == 1 for x, y in itertools.pairwise(path))


# -- path barrier and A²M -------------------------------------------------------------------------
def test_path_barrier() -> None:
    assert path_barrier([90.0, 80.0, 85.0, 92.0]) == 11.0
    assert path_barrier([92.0, 93.0]) == 0.5  # never below half the endpoint gap
    assert path_barrier([0.5, 0.9, 0.7], higher_is_better=False) == pytest.approx(0.3)
    with pytest.raises(LandscapeArgumentError):
        path_barrier([])


def test_shortest_paths_enumerate_every_order() -> None:
    a, b = 0, NB201.size - 1
    d = NB201.hamming(a, b)
    paths = shortest_paths(NB201, a, b)
    assert paths.shape == (math.factorial(d), d + 1)
    assert len({tuple(p) for p in paths.tolist()}) == math.factorial(d)
    assert all(is_path(NB201, tuple(p)) for p in paths.tolist())
    assert (paths[:, 0] == a).all() and (paths[:, -1] == b).all()
    assert shortest_paths(NB201, 5, 5).tolist() == [[5]]
    for level in range(d + 1):
        assert len(set(paths[:, level].tolist())) == math.comb(d, level)


def test_path_barrier_of_an_unmeasured_path_is_an_error() -> None:
    from nb201_flat.landscape import MissingValueError

    # a NaN used to come back as the barrier, undocumented
    for bad in ([90.0, np.nan, 92.0], [90.0, np.inf]):
        with pytest.raises(MissingValueError, match="undefined"):
            path_barrier(bad)
    with pytest.raises(LandscapeArgumentError, match="numbers"):
        path_barrier(["a", "b"])
    assert path_barrier([90.0, 80.0, 85.0, 92.0]) == 11.0


def test_path_values_too_large_for_the_barrier_are_refused() -> None:
    # 1.7e308 twice came back as an inf barrier (a RuntimeWarning at most), where every
    # function over a vector refuses such values (check_summable)
    for bad, at in (([1.7e308, 1.7e308], 0), ([1.0, -1.7e308, 1.7e308], 1)):
        with pytest.raises(LandscapeArgumentError) as exc:
            path_barrier(bad)
        said = str(exc.value)
        assert said.startswith(f"value {bad[at]:.6g} at position {at} of the path is too large")
        assert said.endswith("; rescale the metric") and "\n" not in said
    assert path_barrier([1e300, 0.0, 1e300]) == 1e300  # below the limit: served


def test_too_many_shortest_paths_name_the_pair_and_the_lowest_barrier() -> None:
    from nb201_flat.landscape import a2m_barrier, lowest_barrier_path
    from nb201_flat.landscape.census import pair_barriers

    big = Space(("none", "a"), 5)  # 10 edges: the two ends differ on all of them
    f = np.arange(float(big.size))
    a, b = 0, big.size - 1
    msg = (
        f"^architectures {a} and {b} differ on 10 edges: their 10! = 3,628,800 shortest paths "
        "are too many to enumerate \\(at most 8 differing edges\\); lowest_barrier_path "
        "gives the lowest barrier over any path$"
    )
    for call in (
        lambda: shortest_paths(big, a, b),
        lambda: a2m_barrier(big, f, a, b),
        lambda: pair_barriers(big, f, a, b),
    ):
        with pytest.raises(LandscapeArgumentError, match=msg):
            call()
    assert lowest_barrier_path(big, f, a, b).barrier >= 0  # the fix the message names serves


def test_path_and_a2m_reprs_are_short_and_rounded() -> None:
    # they printed float noise (barrier=15.699999999999989) and every array entry
    from nb201_flat.landscape import a2m_barrier, lowest_barrier_path

    space = Space(("a", "b"), 3)
    v = np.array([90.1, 80.0, 85.3, 70.2, 88.8, 60.0, 75.0, 91.3])
    path = lowest_barrier_path(space, v, 0, 7)
    assert path.barrier != round(path.barrier, 6)  # the noise is in the value, kept there
    text = repr(path)
    assert text == (
        f"BarrierPath(0 -> 7, {path.length} steps, bottleneck={path.bottleneck:.6g}, "
        f"barrier={path.barrier:.6g}, higher_is_better=True)"
    )
    a2m = a2m_barrier(space, v, 0, 7)
    text = repr(a2m)
    assert f"barrier={a2m.barrier:.6g}," in text and "array" not in text and "[" not in text
    assert len(text) < 160 and f"{a2m.distance + 1} levels" in text
