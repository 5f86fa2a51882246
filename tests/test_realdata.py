"""Published facts checked on the real NB201 data (skipped when ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.space import NB201
from nb201_flat.table import Table

pytestmark = pytest.mark.realdata


def test_official_index_order_matches_published_map(shared_dir: Path) -> None:
    df = pd.read_csv(shared_dir / "derived" / "nb201_200ep_mean.csv", usecols=["index", "arch_str"])
    assert (
        df["arch_str"].to_numpy() == np.asarray(NB201.strings(), dtype=object)[df["index"]]
    ).all()


def test_isomorphism_key_equals_nats_unique_str(shared_dir: Path) -> None:
    df = pd.read_csv(
        shared_dir / "derived" / "nb201_200ep_mean.csv", usecols=["index", "unique_str"]
    )
    ours = [NB201.isomorphism_key(NB201.codes[i], merge_disconnected=False) for i in df["index"]]
    assert ours == df["unique_str"].tolist()


def test_disconnected_cells_score_exactly_ten(real_table: Table) -> None:
    acc = real_table.vector("cifar10", "ori-test", 200)
    at_ten = np.isclose(acc, 10.0, atol=1e-9)
    assert int(at_ten.sum()) == 341
    np.testing.assert_array_equal(at_ten, ~NB201.connected)


@pytest.mark.parametrize(
    ("dataset", "split", "best", "indices"),
    [
        ("cifar10", "ori-test", 94.3733, [6111, 13714]),
        ("cifar100", "x-test", 73.5133, [9930]),
        ("ImageNet16-120", "x-test", 47.3111, [857]),
        ("cifar10-valid", "x-valid", 91.6067, [6111]),
        ("cifar100", "x-valid", 73.4933, [9930]),
        ("ImageNet16-120", "x-valid", 46.7333, [10676]),
    ],
)
def test_maxima(
    real_table: Table, dataset: str, split: str, best: float, indices: list[int]
) -> None:
    v = real_table.vector(dataset, split, 200)
    assert round(float(np.nanmax(v)), 4) == best
    assert np.flatnonzero(np.isclose(v, np.nanmax(v), atol=1e-6)).tolist() == indices


def test_fixed_architectures(real_table: Table) -> None:
    q = real_table.value
    assert q(11472, "cifar10", "ori-test", 200) == pytest.approx(93.91, abs=0.005)
    assert q(11472, "cifar100", "x-test", 200) == pytest.approx(70.89, abs=0.01)
    assert q(1835, "cifar10", "ori-test", 200) == pytest.approx(54.30, abs=0.005)
    assert q(1651, "ImageNet16-120", "x-test", 200) == pytest.approx(0.8333, abs=1e-3)


def test_seed_counts(real_table: Table) -> None:
    key = real_table.key("cifar10-valid", "x-valid", 200)
    stack = np.stack([real_table.vector_for(key, seed_policy=s) for s in real_table.seeds(key)])
    n = (~np.isnan(stack)).sum(axis=0)
    assert (n == 3).sum() == 8169 and (n == 2).sum() == 7456
    # the stored mean is the mean of the stored seeds
    np.testing.assert_allclose(np.nanmean(stack, axis=0), real_table.vector_for(key), atol=1e-5)


def test_tidy_and_wide_csv_agree(real_table: Table, shared_dir: Path) -> None:
    """Two independent publications of the same numbers give identical vectors."""
    wide = (
        pd.read_csv(shared_dir / "derived" / "nb201_200ep_mean.csv").set_index("index").sort_index()
    )
    for col, (ds, sp) in {
        "cifar10_test_ep200": ("cifar10", "ori-test"),
        "cifar100_xtest_ep200": ("cifar100", "x-test"),
        "in16_xvalid_ep200": ("ImageNet16-120", "x-valid"),
    }.items():
        np.testing.assert_allclose(real_table.vector(ds, sp, 200), wide[col].to_numpy(), atol=1e-5)


def test_params_are_stored_for_cifar10_valid_not_cifar10(real_table: Table) -> None:
    # the refusal for cifar10 names the datasets that hold the stored count (it said "none")
    from nb201_flat.constraints import ConstraintError, cost_vector

    with pytest.raises(
        ConstraintError, match=r"params_mb for ImageNet16-120, cifar10-valid, cifar100: "
    ):
        cost_vector(real_table, "cifar10", "params_mb")
    assert not np.isnan(cost_vector(real_table, "cifar10-valid", "params_mb")).any()
