"""The table-reading callers of flatness outside the landscape's own command (cost bands,
flatness along training, proxy correlations, the figures' sharpness) leave a retraining
table's copies of a cell out of its neighbourhood, as ``nb201-flat flatness`` does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nb201_flat.constraints import flatness_in_band
from nb201_flat.curves import Curves
from nb201_flat.landscape.epochs import flatness_by_epoch
from nb201_flat.landscape.neighbourhood import StandIns, flatness
from nb201_flat.landscape.proxies import proxy_correlations
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "skip_connect", "nor_conv_1x1"), 3)  # 27 cells, 6 neighbours each
ACC = MetricKey("toy", "x-valid", 12)
SIZE = MetricKey("toy", "model", 12, "params_mb")
# 3 trained; 4 and 5 (its neighbours, isomorphic to it) hold its numbers
COPIES = [(4, 3), (5, 3)]


def _values() -> np.ndarray:
    v = np.random.default_rng(3).normal(50.0, 5.0, SPACE.size)
    v[[4, 5]] = v[3]
    return v


def _table(values: np.ndarray, *, records: bool = True, **kw: Any) -> Table:
    meta: dict[str, Any] = {}
    if records:
        meta["isomorphic_to"] = [
            {"dataset": "toy", "epochs": 12, "seed": None, "index": i, "copied_from": j}
            for i, j in COPIES
        ]
    data = {(ACC, None): values, (SIZE, None): np.ones(SPACE.size)}
    return Table(SPACE, data, "toy", meta, **kw)


STAND = StandIns.build(SPACE.size, copies=COPIES)


def test_the_records_are_these_stand_ins() -> None:
    assert StandIns.of(_table(_values()), "toy", 12) == STAND


def test_flatness_in_band_leaves_copies_out() -> None:
    v = _values()
    got = flatness_in_band(_table(v), "toy", "x-valid", 12, cost="params_mb", lo=0, hi=2)
    want = flatness(SPACE, v, 1, stand_ins=STAND)
    np.testing.assert_array_equal(got["mean"], want["mean"])
    assert got.at[3, "n"] == 4 and got.at[3, "n_stand_ins"] == 0
    plain = flatness_in_band(
        _table(v, records=False), "toy", "x-valid", 12, cost="params_mb", lo=0, hi=2
    )
    assert plain.at[3, "n"] == 6 and plain.at[3, "mean"] != got.at[3, "mean"]
    assert "n_stand_ins" not in plain


def test_flatness_by_epoch_leaves_copies_out() -> None:
    rng = np.random.default_rng(1)
    curve = rng.normal(50.0, 5.0, (SPACE.size, 3))
    curve[[4, 5]] = curve[3]  # the copies hold the trained cell's curve
    curves = Curves(SPACE.size, {(ACC, None): curve})
    got = flatness_by_epoch(_table(curve[:, -1].copy(), curves=curves), "toy", "x-valid", 12)
    plain = flatness_by_epoch(
        _table(curve[:, -1].copy(), records=False, curves=curves), "toy", "x-valid", 12
    )
    for e in range(3):
        f = flatness(SPACE, curve[:, e], 1, stand_ins=STAND)
        assert got.loc[e, "mean_std"] == pytest.approx(f["std"].mean())
        assert got.loc[e, "mean_abs_sharpness"] == pytest.approx(f["sharpness"].abs().mean())
    assert (got["mean_std"] != plain["mean_std"]).all()


def test_proxy_correlations_take_stand_ins() -> None:
    v = _values()
    proxy = v + np.random.default_rng(2).normal(0.0, 3.0, SPACE.size)
    args: dict[str, Any] = {"n_boot": 40, "flatness_stat": "mean", "min_n": 5}
    got = proxy_correlations(SPACE, proxy, v, stand_ins=STAND, **args)
    plain = proxy_correlations(SPACE, proxy, v, **args)
    flat = got["against"] == "flatness:mean"
    assert (got.loc[flat, "estimate"] != plain.loc[flat, "estimate"]).any()
    acc = got["against"] == "accuracy"
    assert got.loc[acc, "estimate"].tolist() == plain.loc[acc, "estimate"].tolist()


def test_the_figures_sharpness_leaves_copies_out() -> None:
    from nb201_flat.figures.generalisation import _sharpness

    v = _values()
    got = _sharpness(_table(v), ACC, v, 1)
    want = flatness(SPACE, v, 1, stand_ins=STAND)["sharpness"].to_numpy()
    np.testing.assert_array_equal(got, want)
    assert got[3] != _sharpness(_table(v, records=False), ACC, v, 1)[3]
