"""The table contract: invariants that must hold on any table, checked on the tiny synthetic
space, the NB201-shaped synthetic table, the embedded default and the real data (when present)."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.conventions import default_metric, servable_protocols
from nb201_flat.errors import UnknownKeyError
from nb201_flat.landscape import flatness, neighbourhood_score
from nb201_flat.neighbourhood import NA_PAPER, Neighbourhood
from nb201_flat.search.protocol import PROTOCOL_NAMES
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table, table_from

TINY = Space(("none", "skip_connect", "conv"), 3)


def _tiny_table() -> Table:
    """27 cells; one unmeasured; a test split beside the validation one."""

    def valid(codes: np.ndarray) -> np.ndarray:
        v = 50.0 + 10.0 * (codes == 2).sum(axis=1) + codes[:, 0]
        v[5] = np.nan
        return v

    return table_from(
        valid,
        space=TINY,
        key=MetricKey("tiny", "x-valid", 200),
        extra={MetricKey("tiny", "x-test", 200): lambda c: 40.0 + 9.0 * (c == 2).sum(axis=1)},
    )


@pytest.fixture(
    scope="module",
    params=[
        "tiny",
        "synthetic",
        "default",
        pytest.param("real", marks=[pytest.mark.realdata, pytest.mark.slow]),
    ],
)
def any_table(request: pytest.FixtureRequest) -> Table:
    if request.param == "tiny":
        return _tiny_table()
    if request.param == "synthetic":
        return synthetic_table()
    fixture = {"default": "default_table", "real": "real_table"}[request.param]
    table: Table = request.getfixturevalue(fixture)
    return table


def test_vectors_are_float_vectors_over_the_space(any_table: Table) -> None:
    size = any_table.space.size
    assert len(any_table) == size and len(any_table.keys()) > 0
    for (key, seed), vec in any_table.data.items():
        assert vec.shape == (size,) and vec.dtype == np.float64, (key, seed)
        assert key in any_table
        assert seed is None or seed in any_table.seeds(key)
        assert not np.isinf(vec).any(), key


def test_every_key_is_served_by_name_and_by_key(any_table: Table) -> None:
    for key in any_table:
        by_name = any_table.vector(key.dataset, key.split, key.epochs, key.metric)
        np.testing.assert_array_equal(by_name, any_table.vector_for(key))
        assert any_table.key(key.dataset, key.split, key.epochs, key.metric) == key
    with pytest.raises(UnknownKeyError):
        any_table.key("no-such-dataset", "x-valid", 200)


def test_the_mean_lies_within_the_stored_seeds(any_table: Table) -> None:
    for key in any_table:
        seeds = any_table.seeds(key)
        if not seeds:
            continue
        stack = np.stack([any_table.vector_for(key, seed_policy=s) for s in seeds])
        mean = any_table.vector_for(key)
        measured = ~np.isnan(stack).all(axis=0) & ~np.isnan(mean)
        lo, hi = np.nanmin(stack[:, measured], axis=0), np.nanmax(stack[:, measured], axis=0)
        tol = 1e-9 * np.maximum(1.0, np.abs(mean[measured]))
        assert (mean[measured] >= lo - tol).all() and (mean[measured] <= hi + tol).all(), key
        draw = any_table.vector_for(key, seed_policy="random", rng=0)
        assert np.isin(np.isnan(draw), [True, False]).all()
        assert (np.isnan(draw) == np.isnan(stack).all(axis=0)).all(), key


def test_default_metric_and_protocols_are_served(any_table: Table) -> None:
    key = default_metric(any_table)
    assert key in any_table and key.metric == "accuracy"
    served = servable_protocols(any_table)
    assert set(served) <= set(PROTOCOL_NAMES)


@pytest.mark.parametrize("spec", [Neighbourhood(), NA_PAPER], ids=["default", "na-paper"])
def test_neighbourhood_scores_are_the_gathered_aggregates(
    any_table: Table, spec: Neighbourhood
) -> None:
    space = any_table.space
    values = any_table.vector_for(default_metric(any_table))
    score = neighbourhood_score(space, values, spec)
    flat = flatness(space, values, spec)
    np.testing.assert_array_equal(score, flat["mean"].to_numpy())
    cells = np.random.default_rng(0).choice(space.size, size=min(40, space.size), replace=False)
    nb = spec.arrays(space)
    for i in cells.tolist():
        members = values[nb.of(i)]
        if spec.include_self:
            members = np.concatenate(([values[i]], members))
        members = members[~np.isnan(members)]
        expected = members.mean() if members.size else np.nan
        np.testing.assert_allclose(score[i], expected, rtol=1e-12)
        assert flat.loc[i, "n"] == members.size
