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


def test_search_curves_draw_a_panel_per_reported_key() -> None:
    # one split reported at 12 and 200 epochs: grouped by dataset and split alone, both keys'
    # curves were one panel and one line, zigzagging between the two schedules' means
    from nb201_flat.figures import FIGURES
    from nb201_flat.search import Protocol, RandomSearch, run_search
    from nb201_flat.testing import synthetic_table

    table = synthetic_table()
    keys = (MetricKey("cifar100", "x-valid", 12), MetricKey("cifar100", "x-valid", 200))
    p = Protocol("two", MetricKey("cifar10-valid", "x-valid", 12), keys, budget_queries=20)
    curves = run_search(table, (p,), {"rs": RandomSearch()}, runs=4, seed=0).curves
    fig = FIGURES["search_curves"].make(table, curves=curves)
    panels = [ax for ax in fig.axes if ax.get_title()]
    titles = [ax.get_title() for ax in panels]
    assert titles == ["(a) CIFAR-100, x-valid@12ep", "(b) CIFAR-100, x-valid@200ep"]
    for ax, key in zip(panels, keys, strict=True):
        own = curves[curves["epochs"] == key.epochs]
        (line,) = ax.lines
        drawn = np.asarray(line.get_xdata(), dtype=np.float64)
        assert drawn.size <= len(own)  # that key's points, not both keys'
        # the line ends at that key's final mean
        assert line.get_ydata()[-1] == own.sort_values("x")["mean"].iloc[-1]
    assert curves.groupby("epochs")["mean"].last().nunique() == 2  # the keys differ
