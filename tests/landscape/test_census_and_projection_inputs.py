"""The census and the projection read what they are given as given (a seventh audit's
findings, each reproduced first): no_barrier does not depend on the metric's units, band names
stay apart from the census's groups and from each other, A²M's accuracy bands are not read as a
loss, and a projection's directions are real and non-zero."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.landscape.census import barrier_census, census_summary
from nb201_flat.landscape.projection import projection_grid
from nb201_flat.space import Space

SPACE = Space(("a", "b", "c"), 4)


def test_no_barrier_does_not_depend_on_the_metrics_units() -> None:
    # a fixed tolerance of 1e-9: the same values x 1e-9 had no barrier anywhere
    v = np.random.default_rng(0).random(SPACE.size)
    fractions = [
        census_summary(
            barrier_census(SPACE, v * scale, {"band": (0, scale)}, n_pairs=200, top_k=10, seed=0)
        )["no_barrier"].tolist()
        for scale in (1.0, 1e-9, 1e-12)
    ]
    assert fractions[0] == fractions[1] == fractions[2], fractions
    assert 0 < fractions[0][1] < 1  # some pairs have a barrier, some none


@pytest.mark.parametrize(
    ("bands", "said"),
    [
        ({"top-k": (0, 10)}, "band name 'top-k' is the name of a group of its own"),  # merged
        ({"all": (0, 10)}, "band name 'all' is the name of a group of its own"),  # two rows
        ({1: (0, 10), "1": (11, 26)}, "band names 1 and '1' print alike"),
    ],
)
def test_band_names_stay_apart(bands: dict[object, tuple[float, float]], said: str) -> None:
    v = np.arange(SPACE.size, dtype=float)
    with pytest.raises(ArgumentError, match=said):
        barrier_census(SPACE, v, bands, n_pairs=4, top_k=3, seed=0)  # type: ignore[arg-type]


def test_a2ms_accuracy_bands_are_not_read_as_a_loss() -> None:
    from nb201_flat.space import NB201

    v = np.linspace(10.0, 94.0, NB201.size)
    with pytest.raises(ArgumentError, match="accuracy bands .higher is better., not for"):
        barrier_census(NB201, v, "cifar10", n_pairs=2, top_k=0, seed=0, higher_is_better=False)


def test_a_projection_takes_real_non_zero_directions() -> None:
    # complex entries lost their imaginary part with a warning only; a zero direction gave a
    # grid of the centre alone
    v = np.arange(27, dtype=float)
    small = Space(("a", "b", "c"), 3)
    for kw, said in (
        ({"towards": (1, 9), "lambdas": np.array([0.5j, 1])}, "^lambdas must be real numbers"),
        ({"directions": np.full((2, 3, 3), 1j)}, "^directions must be real numbers"),
        ({"towards": (0, 9)}, "^towards= names 0, the centre itself"),
        ({"directions": np.zeros((2, 3, 3))}, "^directions must not be all zeros"),
    ):
        with pytest.raises(ArgumentError, match=said):
            projection_grid(small, v, 0, **kw)  # type: ignore[arg-type]
    assert projection_grid(small, v, 0, towards=(1, 9))["index"].nunique() > 1
