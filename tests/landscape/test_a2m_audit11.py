"""A²M's code barriers hold the end points' own values, as ``profile_nasbench.py`` does.

Its ``path_accs = [acc1] + avg_test_accs + [acc2]``: the mean of d! copies of ``f(a)`` can be
1 ulp off ``f(a)``, and ``round(0.5 * (L[0] + L[1]) - m, 2)`` then falls the other way on a
.xx5 tie (0.01 off in 16 of 4,200 random pairs at distance 2-4 on the real data).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nb201_flat.landscape import a2m_barrier
from nb201_flat.landscape.paths import shortest_paths
from nb201_flat.space import NB201, Space
from nb201_flat.table import Table

CUBE = Space(("a", "b"), 3)  # 8 cells; index = binary number of the codes; 000 -> 111: 3! paths


@pytest.mark.parametrize("code", ["54ce096", "947bc3e"])
def test_the_start_level_is_f_a_itself_not_a_mean_of_its_copies(code: str) -> None:
    f = np.array([50.05, 40, 40, 40, 40, 40, 40, 60])  # every intermediate cell 40
    assert sum([50.05] * 6) / 6 != 50.05  # the mean of its 6 copies is 1 ulp above
    # A²M's code: round(0.5 * (50.05 + 40) - 40, 2), the float 5.0249999... -> 5.02 (the mean
    # of copies gave 5.03)
    r = a2m_barrier(CUBE, f, 0, 7, published=code)
    assert r.barrier == 5.02
    assert r.level_mean.tolist() == [50.05, 40.0, 40.0, 60.0]
    assert r.level_std[0] == 0.0 and r.level_std[-1] == 0.0  # its error bars: [0] + ... + [0]
    # a loss is the mirror image
    assert a2m_barrier(CUBE, -f, 0, 7, higher_is_better=False, published=code).barrier == 5.02


def test_947bc3e_takes_the_minimum_over_f_b_itself() -> None:
    f = np.array([60, 50.25, 50.25, 55, 50.25, 55, 55, 30.04])  # f(b) = 30.04 the lowest
    assert sum([30.04] * 6) / 6 != 30.04
    # round(0.5 * (60 + 50.25) - 30.04, 2) = round(25.085, 2) -> 25.08 (the mean of copies 25.09)
    r = a2m_barrier(CUBE, f, 0, 7, published="947bc3e")
    assert r.barrier == 25.08 and r.path_min == 30.04


def test_an_unmeasured_end_still_gives_a_nan_level() -> None:
    f = np.array([50.05, 40, 40, 40, 40, 40, 40, np.nan])
    r = a2m_barrier(CUBE, f, 0, 7, published="947bc3e", nan_policy="propagate")
    assert np.isnan(r.barrier) and np.isnan(r.level_mean[-1]) and np.isnan(r.level_std[-1])
    assert r.level_mean[0] == 50.05 and r.level_std[0] == 0.0


def _search_tree(root: list[int], target: list[int]) -> list[list[list[int]]]:
    """A²M's ``search_tree`` (profile_nasbench.py): every shortest path, depth first."""

    def moves(curr: list[int], path: list[list[int]]) -> list[list[list[int]]]:
        if curr == target:
            return [[*path, curr]]
        out = []
        for i in [i for i in range(len(curr)) if curr[i] != target[i]]:
            step = curr.copy()
            step[i] = target[i]
            out.extend(moves(step, [*path, curr]))
        return out

    return moves(root, [])


def test_intermediate_levels_are_summed_in_a2m_path_order() -> None:
    # avg_test_acc adds each level's d! members in turn from 0, in search_tree's path order:
    # the same paths in the same order here, and the same floats
    space = Space(("a", "b", "c"), 4)  # 6 edges, 729 cells: distances up to 6
    rng = np.random.default_rng(11)
    f = np.round(rng.uniform(10, 95, space.size), 3)
    index = {tuple(c): i for i, c in enumerate(space.codes.tolist())}
    for d in range(2, 7):
        for _ in range(3):
            a = int(rng.integers(space.size))
            others = np.flatnonzero((space.codes != space.codes[a]).sum(axis=1) == d)
            b = int(rng.choice(others))
            tree = _search_tree(space.codes[a].tolist(), space.codes[b].tolist())
            paths = shortest_paths(space, a, b)
            assert [[index[tuple(c)] for c in p] for p in tree] == paths.tolist()
            levels = [sum(f[index[tuple(p[i])]] for p in tree) / len(tree) for i in range(1, d)]
            assert len(tree) == math.factorial(d)
            for code in ("54ce096", "947bc3e"):
                r = a2m_barrier(space, f, a, b, published=code)
                assert r.level_mean[1:-1].tolist() == levels  # bit for bit


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("dataset", "split", "a", "b", "code", "printed"),
    [
        # ours was 5.25: the mean of 24 copies of 91.85 is 91.84999999999997
        ("cifar10", "ori-test", 6723, 15043, "947bc3e", 5.26),
        # ours was 3.5: the mean of 24 copies of 57.44 is 57.44000000000003
        ("cifar100", "x-valid", 9248, 7479, "54ce096", 3.49),
    ],
)
def test_a2m_code_prints_these_on_real_pairs_at_a_tie(
    real_table: Table, dataset: str, split: str, a: int, b: int, code: str, printed: float
) -> None:
    v = real_table.vector(dataset, split, 200)
    r = a2m_barrier(NB201, v, a, b, published=code)
    assert r.barrier == printed
    assert r.level_mean[0] == np.round(v[a], 3) and r.level_mean[-1] == np.round(v[b], 3)
