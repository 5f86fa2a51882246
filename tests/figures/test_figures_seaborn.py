"""The A²M distributions drawn as seaborn kernel densities (seaborn's place in the package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from nb201_flat import landscape as ls
from nb201_flat.errors import ArgumentError
from nb201_flat.figures import FIGURES, plot_neighbour_distributions, save_figure
from nb201_flat.figures._common import new_figure
from nb201_flat.table import Table


def test_kde_bands_are_seaborn_lines_with_unit_area(figure_table: Table) -> None:
    space = figure_table.space
    v = figure_table.vector("cifar10", "ori-test", 200)
    dist = ls.neighbour_distributions(space, v, "cifar10", (1,))
    _, axes = new_figure(1, 2)
    kde, hist = axes[0, 0], axes[0, 1]
    assert plot_neighbour_distributions(dist, v, 1, kde, kind="kde") is kde
    plot_neighbour_distributions(dist, v, 1, hist)
    bands = [str(b) for b in dist["band"].cat.categories if (dist["band"] == b).any()]
    lines = [ln for ln in kde.get_lines() if ln.get_label().startswith("band ")]
    assert len(lines) == len(bands) >= 2
    from scipy.stats import gaussian_kde

    sub = dist[dist["radius"] == 1]
    for line, band in zip(lines, bands, strict=True):
        # seaborn's KDE (Scott's bandwidth, cut at the data range) of that band's neighbours
        vals = sub.loc[sub["band"] == band, "value"].to_numpy(dtype=float)
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert x.min() == pytest.approx(vals.min()) and x.max() == pytest.approx(vals.max())
        np.testing.assert_allclose(y, gaussian_kde(vals)(x), rtol=1e-6)
    assert not [ln for ln in hist.get_lines() if ln.get_label().startswith("band ")]


def test_a2m_figure_kde_renders_and_bad_kind_is_refused(
    figure_table: Table, tmp_path: Path
) -> None:
    fig = FIGURES["a2m_distributions"].make(figure_table, radii=(1,), kind="kde")
    assert isinstance(fig, Figure)
    assert save_figure(fig, tmp_path / "kde", formats=("png",))[0].stat().st_size > 5000
    # a bad option is the caller's error: a FigureSkipped would be reported as a skip
    with pytest.raises(ArgumentError, match="kind must be one of hist, kde"):
        FIGURES["a2m_distributions"].make(figure_table, radii=(1,), kind="violin")
