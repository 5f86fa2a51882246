"""A²M's barrier per code version and every named barrier, on the real NB201 data.

The pinned values are those of issue 13, computed there by running A²M's own
``profile_nasbench.py`` (github.com/AI-Tech-Research-Lab/AsquaredM) at each commit on the
same data: 200-epoch mean test accuracy, cifar10 ``ori-test``, cifar100 and ImageNet16-120
``x-test``.
"""

from __future__ import annotations

import pytest

from nb201_flat.landscape import a2m_barrier, a2m_barriers, barrier_tree
from nb201_flat.landscape.a2m import A2M_PAIRS
from nb201_flat.landscape.census import barrier_census, census_summary, pair_barriers
from nb201_flat.space import NB201
from nb201_flat.table import Table

pytestmark = pytest.mark.realdata

SPLIT = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}

# Models A, B, C per dataset
CURRENT_54CE096 = {
    "cifar10": [0.24, 22.50, 54.16],
    "cifar100": [1.74, 4.93, 21.56],
    "ImageNet16-120": [1.42, 7.08, 10.82],
}
OLDER_947BC3E = {
    "cifar10": [0.07, 5.48, 11.28],
    "cifar100": [0.26, 1.22, 2.68],
    "ImageNet16-120": [0.50, 1.35, 3.08],
}


@pytest.mark.parametrize("dataset", list(A2M_PAIRS))
def test_a2m_code_versions_give_the_published_scripts_values(
    real_table: Table, dataset: str
) -> None:
    v = real_table.vector(dataset, SPLIT[dataset], 200)
    pairs = list(A2M_PAIRS[dataset])
    current = a2m_barriers(NB201, v, pairs, published=True)["barrier"].tolist()
    assert current == CURRENT_54CE096[dataset]
    assert a2m_barriers(NB201, v, pairs, published="54ce096")["barrier"].tolist() == current
    older = a2m_barriers(NB201, v, pairs, published="947bc3e")["barrier"].tolist()
    assert older == OLDER_947BC3E[dataset]
    # 947bc3e is per pair; the current code's first pair is the pair alone
    assert older == [a2m_barrier(NB201, v, a, b, published="947bc3e").barrier for a, b in pairs]
    assert current[0] == a2m_barrier(NB201, v, *pairs[0], published=True).barrier


def test_named_barriers_of_81_to_1459(real_table: Table) -> None:
    v = real_table.vector("cifar10", "ori-test", 200)
    r = pair_barriers(NB201, v, 81, 1459)
    assert r.best_shortest == pytest.approx(0.0017, abs=5e-5)
    assert r.worst_shortest == pytest.approx(0.3117, abs=5e-5)
    assert r.mean_path == pytest.approx(0.14, abs=5e-3)
    assert r.a2m_code_54ce096 == 0.24 and r.a2m_code_947bc3e == 0.07


@pytest.mark.parametrize("dataset", list(A2M_PAIRS))
def test_named_barriers_of_the_nine_pairs(real_table: Table, dataset: str) -> None:
    v = real_table.vector(dataset, SPLIT[dataset], 200)
    tree = barrier_tree(NB201, v)
    for a, b in A2M_PAIRS[dataset]:
        r = tree.pair_barriers(a, b)
        assert r.distance == 3 and r.n_shortest == 6
        # the issue: for A²M's nine pairs the exact lowest barrier is <= 0.05 points
        assert 0 <= r.lowest <= 0.05
        assert r.lowest <= r.best_shortest + 1e-12
        assert r.best_shortest <= r.mean_path + 1e-12 <= r.worst_shortest + 2e-12
        assert r.above_worse("lowest") >= -1e-12
        assert r.lowest == pytest.approx(tree.path(a, b).barrier)


def test_census_on_cifar10_is_seeded_and_mostly_barrier_free(real_table: Table) -> None:
    v = real_table.vector("cifar10", "ori-test", 200)
    census = barrier_census(NB201, v, "cifar10", n_pairs=20, top_k=5, seed=0)
    assert census.equals(barrier_census(NB201, v, "cifar10", n_pairs=20, top_k=5, seed=0))
    assert (census.groupby("group").size() == [20, 20, 20, 10]).all()
    assert (census["lowest"] <= census["best_shortest"] + 1e-12).all()
    assert (census["lowest_above_worse"] >= -1e-12).all()
    summary = census_summary(census)
    assert summary.iloc[-1]["group"] == "all" and summary.iloc[-1]["pairs"] == 70
