"""The landscape on the real NB201 data (skipped when ../shared/data/nb201 is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.landscape import (
    a2m_barrier,
    a2m_barriers,
    barrier_tree,
    basins,
    best_shortest_path,
    disconnectivity_graph,
    flatness,
    global_optima,
    neighbour_distributions,
    neighbourhood_score,
)
from nb201_flat.space import NB201
from nb201_flat.table import Table

pytestmark = pytest.mark.realdata

# A²M's endpoint pairs (its profile_nasbench.py, get_archs: Models A, B, C per dataset)
A2M_PAIRS = {
    ("cifar10", "ori-test"): [(81, 1459), (0, 163), (40, 12094)],
    ("cifar100", "x-test"): [(81, 11711), (31, 7680), (146, 4461)],
    ("ImageNet16-120", "x-test"): [(65, 2246), (17, 5845), (2, 348)],
}


@pytest.mark.parametrize("key", list(A2M_PAIRS))
def test_a2m_pairs_are_at_distance_3_and_deterministic(
    real_table: Table, key: tuple[str, str]
) -> None:
    v = real_table.vector(key[0], key[1], 200)
    tree = barrier_tree(NB201, v)
    for a, b in A2M_PAIRS[key]:
        assert NB201.hamming(a, b) == 3
        r1 = a2m_barrier(NB201, v, a, b)
        r2 = a2m_barrier(NB201, v, a, b)
        assert r1.n_paths == 6 and r1.level_n.tolist() == [1, 3, 3, 1]
        assert r1.barrier == r2.barrier and np.array_equal(r1.level_mean, r2.level_mean)
        pub = a2m_barrier(NB201, v, a, b, published=True)
        assert pub.barrier == round(pub.barrier, 2)
        low = tree.path(a, b)
        assert low.barrier <= best_shortest_path(NB201, v, a, b).barrier + 1e-12
        assert low.barrier == tree.path(b, a).barrier
        assert low.barrier >= abs(v[a] - v[b]) / 2 - 1e-12
    df = a2m_barriers(NB201, v, A2M_PAIRS[key], published=True)
    assert (df["distance"] == 3).all()
    assert df.equals(a2m_barriers(NB201, v, A2M_PAIRS[key], published=True))


def test_published_facts(real_table: Table) -> None:
    v = real_table.vector("cifar10", "ori-test", 200)
    assert global_optima(NB201, v).tolist() == [6111, 13714]  # the documented tie
    df = flatness(NB201, v, radius=1)
    assert (df["n"] == 24).all()
    assert df["value"].max() == pytest.approx(94.3733, abs=1e-4)
    # disconnected cells all score 10.00: their neighbourhood among themselves is flat
    assert np.allclose(v[~NB201.connected], 10.0, atol=0.01)


def test_whole_pipeline_is_deterministic(real_table: Table) -> None:
    v = real_table.vector("cifar100", "x-test", 200)
    for r in (1, 2, 3):
        s = neighbourhood_score(NB201, v, r, agg="quantile", quantile=0.25)
        assert np.array_equal(s, neighbourhood_score(NB201, v, r, agg="quantile", quantile=0.25))
    b1, b2 = basins(NB201, v), basins(NB201, v)
    assert b1.equals(b2) and b1["basin_size"].sum() == NB201.size
    dg = disconnectivity_graph(NB201, v, n_optima=10)
    assert dg.equals(disconnectivity_graph(NB201, v, n_optima=10))
    assert dg.iloc[0]["index"] == 9930  # CIFAR-100's best (x-test 73.5133)
    dist = neighbour_distributions(NB201, v, "cifar100", radii=(1,))
    centers = ((v >= 69.3) & (v <= 70.7)).sum()
    assert (dist["band"] == "A").sum() == centers * 24
