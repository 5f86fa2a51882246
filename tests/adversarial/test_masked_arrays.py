"""A numpy masked array is an ndarray: every reader of numbers must read its masked entries as
not measured (NaN), never the numbers stored under the mask."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.curves import Curves
from nb201_flat.errors import (
    ArgumentError,
    MissingValueError,
    SearchBudgetError,
    UnknownKeyError,
)
from nb201_flat.figures._common import binned_means, mean_ci
from nb201_flat.landscape import path_barrier
from nb201_flat.landscape.neighbourhood import aggregate_members
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.search import OracleData
from nb201_flat.search.oracle import Evaluator
from nb201_flat.space import Space, masked_as_nan
from nb201_flat.table import MetricKey

TINY = Space(("none", "skip_connect", "conv"), 3)
KEY = MetricKey("toy", "x-valid", 12)
# 1000 under the mask: read as measured, it moves every statistic below
MASKED = np.ma.masked_array([1.0, 1000.0, 3.0, 5.0], mask=[False, True, False, False])
PLAIN = np.array([1.0, np.nan, 3.0, 5.0])


def test_an_object_masked_array_keeps_its_mask_as_none() -> None:
    obj = np.ma.masked_array(np.array([1.0, 1000.0, 3.0], dtype=object), mask=[0, 1, 0])
    out = masked_as_nan(obj)
    assert type(out) is np.ndarray and out.tolist() == [1.0, None, 3.0]
    assert obj.data[1] == 1000.0  # the caller's array is not written


def test_statistics_drop_masked_entries() -> None:
    assert mean_ci(MASKED) == mean_ci(PLAIN)
    assert mean_ci(MASKED)[0] == 3.0
    got = binned_means(MASKED, MASKED, bins=2)
    assert got.equals(binned_means(PLAIN, PLAIN, bins=2)) and got["n"].sum() == 3


def test_a_masked_member_is_missing_and_a_masked_path_value_unmeasured() -> None:
    spec = Neighbourhood(agg="mean")
    assert aggregate_members(MASKED, spec) == aggregate_members(PLAIN, spec) == 3.0
    with pytest.raises(MissingValueError, match="NaN"):
        path_barrier(MASKED)


def test_oracle_and_evaluator_read_masked_values_as_not_measured() -> None:
    raw = np.arange(TINY.size, dtype=float)
    masked = np.ma.masked_array(raw, mask=raw == 4)[None, :]
    data = OracleData(TINY, KEY, masked, None, None, None, None, 10)
    assert type(data.values) is np.ndarray and np.isnan(data.values[0, 4])
    assert np.nansum(data.values) == raw.sum() - 4
    # a masked cost is NaN: refused as a cost that cannot be charged
    costs = np.ma.masked_array(np.ones(TINY.size), mask=raw == 4)
    with pytest.raises(SearchBudgetError, match="1 architectures have a NaN"):
        OracleData(TINY, KEY, raw[None, :], None, None, costs, 5.0, None)
    counts = np.ones(TINY.size, np.int64)
    order = np.ma.masked_array(np.zeros((1, TINY.size), dtype=np.int64), mask=raw == 4)
    with pytest.raises(SearchBudgetError, match="order holds masked entries"):
        OracleData(TINY, KEY, raw[None, :], order, counts, None, None, 10)
    whole = OracleData(TINY, KEY, raw[None, :], np.ma.masked_array(order.data), counts, None,
                       None, 10)  # fmt: skip
    assert type(whole.order) is np.ndarray  # nothing masked: read as the plain array
    ev = Evaluator((KEY,), (np.ma.masked_array(raw, mask=raw == 4),))
    assert np.isnan(ev.values([4, 5])[0, 0]) and ev.values([4, 5])[0, 1] == 5.0


def test_curves_seeds_of_a_key_without_a_curve_is_an_error() -> None:
    # [] read "only the mean is stored", as Table.seeds did
    curve = np.ones((TINY.size, 3))
    curves = Curves(TINY.size, {(KEY, None): curve, (KEY, 0): curve})
    assert curves.seeds(KEY) == [0]
    with pytest.raises(UnknownKeyError, match="no learning curve for toy/x-tset"):
        curves.seeds(MetricKey("toy", "x-tset", 12))


def test_a_masked_boolean_mask_is_refused_naming_filled() -> None:
    from nb201_flat.landscape.census import as_members

    members = np.ma.masked_array(TINY.connected, mask=np.arange(TINY.size) == 0)
    with pytest.raises(
        ArgumentError, match=r"members is a masked boolean.*members.filled\(False\) \(a mask then"
    ):
        as_members(TINY, members)
    unmasked = np.ma.masked_array(TINY.connected, mask=False)
    np.testing.assert_array_equal(as_members(TINY, unmasked), TINY.connected)
