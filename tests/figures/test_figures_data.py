"""What the figures draw is the data they describe (not only that they render)."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import StepPatch

from nb201_flat.figures.distributions import plot_neighbour_distributions
from nb201_flat.landscape import neighbour_distributions
from nb201_flat.table import MetricKey, Table


def test_band_densities_are_those_of_every_pooled_neighbour(figure_table: Table) -> None:
    # the weighted form (one row per distinct neighbour) must be drawn with its weights: the
    # density of every neighbour of every band member, a neighbour of two members counted twice
    space = figure_table.space
    v = figure_table.vector_for(MetricKey("cifar10", "ori-test", 200))
    lo, mid, hi = np.nanquantile(v, [0.5, 0.7, 0.9])
    bands = {"A": (float(mid), float(hi)), "B": (float(lo), float(mid))}
    pooled = neighbour_distributions(space, v, bands, radii=(2,))
    weighted = neighbour_distributions(space, v, bands, radii=(2,), weighted=True)
    edges = np.arange(np.floor(np.nanmin(v)), np.ceil(np.nanmax(v)) + 1.0)
    ax = plot_neighbour_distributions(weighted, v, 2, bins=edges)
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 3  # the whole space, then one per band
    whole = np.histogram(v[np.isfinite(v)], bins=edges, density=True)[0]
    assert np.array_equal(steps[0].get_data().values, whole)
    for step, name in zip(steps[1:], bands, strict=True):
        vals = pooled.loc[pooled["band"] == name, "value"].to_numpy()
        expected = np.histogram(vals, bins=edges, density=True)[0]
        # the repeats make it differ from the density of the distinct neighbours
        distinct = weighted.loc[weighted["band"] == name, "value"].to_numpy()
        assert not np.allclose(np.histogram(distinct, bins=edges, density=True)[0], expected)
        np.testing.assert_allclose(step.get_data().values, expected, rtol=1e-12)
