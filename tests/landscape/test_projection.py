"""2-D projections of the relaxed architecture."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.landscape import LandscapeArgumentError, projection_grid, random_directions, relaxed
from nb201_flat.space import NB201, Space

TINY = Space(("none", "skip", "conv"), 3)


def test_relaxed_is_one_hot() -> None:
    a = relaxed(NB201, 11472)
    assert a.shape == (6, 5) and (a.sum(axis=1) == 1).all()
    assert a.argmax(axis=1).tolist() == list(NB201.arch(11472).codes)


def test_grid_towards_two_archs() -> None:
    f = np.arange(TINY.size, dtype=float) * 10
    c, t0, t1 = 0, 1, 9  # 000 -> 001 along lambda0, -> 100 along lambda1
    grid = projection_grid(TINY, f, c, towards=(t0, t1), lambdas=[0.0, 0.4, 0.6, 1.0])
    assert list(grid.columns) == ["lambda0", "lambda1", "index", "arch", "value"]
    assert len(grid) == 16
    at = grid.set_index(["lambda0", "lambda1"])
    assert at.loc[(0.0, 0.0), "index"] == c
    assert at.loc[(1.0, 0.0), "index"] == t0
    assert at.loc[(0.0, 1.0), "index"] == t1
    # below 0.5 the centre's op still wins on that edge; at exactly 0.5 a tie -> lowest code
    assert at.loc[(0.4, 0.0), "index"] == c
    assert at.loc[(0.6, 0.0), "index"] == t0
    assert (grid["value"] == f[grid["index"]]).all()
    assert grid.loc[0, "arch"] == TINY.arch(c).to_str()


def test_random_directions_are_seeded_and_normalised() -> None:
    d = random_directions(NB201, 11472, seed=7)
    assert d.shape == (2, 6, 5)
    np.testing.assert_allclose(np.linalg.norm(d, axis=2), 1.0)
    np.testing.assert_array_equal(d, random_directions(NB201, 11472, seed=7))
    f = np.arange(NB201.size, dtype=float)
    g1 = projection_grid(NB201, f, 11472, seed=3, lambdas=np.linspace(-1, 1, 11))
    g2 = projection_grid(
        NB201, f, 11472, seed=np.random.default_rng(3), lambdas=np.linspace(-1, 1, 11)
    )
    assert g1.equals(g2)
    assert g1.set_index(["lambda0", "lambda1"]).loc[(0.0, 0.0), "index"] == 11472
    explicit = projection_grid(NB201, f, 11472, directions=d, lambdas=[0.0, 2.0])
    assert len(explicit) == 4


def test_projection_errors() -> None:
    f = np.zeros(TINY.size)
    with pytest.raises(LandscapeArgumentError, match="seed="):
        projection_grid(TINY, f, 0)
    with pytest.raises(LandscapeArgumentError, match="shape"):
        projection_grid(TINY, f, 0, directions=np.zeros((2, 3)))
    with pytest.raises(LandscapeArgumentError, match="not both"):
        projection_grid(TINY, f, 0, towards=(1, 2), directions=np.zeros((2, 3, 3)))
    with pytest.raises(LandscapeArgumentError, match="non-empty"):
        projection_grid(TINY, f, 0, towards=(1, 2), lambdas=[])


def test_options_and_grids_that_cannot_be_served_are_refused() -> None:
    from nb201_flat.errors import ResourceLimitError

    f = np.arange(TINY.size, dtype=float)
    # seed= used to be ignored with towards= or directions= (only random ones are drawn)
    with pytest.raises(LandscapeArgumentError, match="seed= applies only"):
        projection_grid(TINY, f, 0, towards=(1, 9), seed=3)
    with pytest.raises(LandscapeArgumentError, match="seed= applies only"):
        projection_grid(TINY, f, 0, directions=np.ones((2, 3, 3)), seed=3)
    # NaN lambdas or directions used to land every point on the all-op-0 cell
    with pytest.raises(LandscapeArgumentError, match="lambdas must be finite"):
        projection_grid(TINY, f, 0, seed=3, lambdas=[np.nan, 0.0])
    with pytest.raises(LandscapeArgumentError, match="lambdas must be finite"):
        projection_grid(TINY, f, 0, seed=3, lambdas1=[np.inf])
    with pytest.raises(LandscapeArgumentError, match="directions must be finite"):
        projection_grid(TINY, f, 0, directions=np.full((2, 3, 3), np.nan))
    with pytest.raises(LandscapeArgumentError, match="exactly two"):  # a raw TypeError before
        projection_grid(TINY, f, 0, towards=5)  # type: ignore[arg-type]
    with pytest.raises(ResourceLimitError, match="fewer lambdas"):  # a MemoryError before
        projection_grid(NB201, np.zeros(NB201.size), 0, seed=0, lambdas=np.zeros(100_000))
    assert projection_grid(TINY, f, 0, towards=[1, 9], lambdas=[0.0, 1.0]).shape == (4, 5)


def test_text_for_numbers_is_named() -> None:
    f = np.arange(TINY.size, dtype=float)
    with pytest.raises(LandscapeArgumentError, match="lambdas must be real numbers"):
        projection_grid(TINY, f, 0, seed=0, lambdas=["a", "b"])
    with pytest.raises(LandscapeArgumentError, match="directions must be real numbers"):
        projection_grid(TINY, f, 0, directions=[["x"]])
