"""Everything once on the embedded default table (AnalogNAS-Bench, CIFAR-10)."""

from __future__ import annotations

import numpy as np

from nb201_flat import landscape as ls
from nb201_flat.table import Table


def test_everything_runs_on_the_default_table(default_table: Table) -> None:
    space = default_table.space
    v = default_table.vector("cifar10", "ori-test", 200, "accuracy")
    df = ls.flatness(space, v, radius=2, include_self=True)
    assert len(df) == space.size and (df["n"] == 241).all()
    s = ls.neighbourhood_score(space, v, 1, agg="median")
    assert np.isfinite(s).all()
    assert -1 <= ls.fitness_distance_correlation(space, v) <= 1
    assert ls.distance_profile(space, v)["distance"].max() <= 6
    assert ls.correlation_length(space, v, seed=0, length=2000) > 0
    b = ls.basins(space, v)
    assert b["basin_size"].sum() == space.size and b["is_global"].iloc[0]
    dist = ls.neighbour_distributions(space, v, "cifar10", radii=(1, 2))
    assert set(dist["band"].unique()) <= {"A", "B", "C"}
    tree = ls.barrier_tree(space, v)
    best = int(b["index"].iloc[0])
    p = tree.path(best, 11472, shortest=True)
    assert p.barrier >= 0 and p.path[0] == best
    r = ls.a2m_barrier(space, v, 81, 1459)
    assert r.distance == 3
    top = np.argsort(-v)[:8].tolist()
    m = tree.matrix(top)
    assert m.shape == (8, 8) and np.allclose(m.to_numpy(), m.to_numpy().T)
    dg = tree.disconnectivity(5)
    assert (dg["kind"] == "optimum").sum() == 5
    grid = ls.projection_grid(space, v, best, seed=0, lambdas=np.linspace(-1, 1, 5))
    assert len(grid) == 25 and grid["value"].notna().all()
