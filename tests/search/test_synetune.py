"""The syne-tune adapter: its data layout always, BlackboxTabular itself when installed."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from nb201_flat.curves import Curves
from nb201_flat.errors import ArgumentError, MissingDependencyError, UnknownKeyError
from nb201_flat.search.synetune import blackbox_arrays, to_blackbox_tabular
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "skip_connect", "nor_conv_3x3"), 3)  # 27 cells, 3 edges
VAL = MetricKey("cifar100", "x-valid", 200)
TRAIN = MetricKey("cifar100", "train", 200)
TIME = MetricKey("cifar100", "train", 200, "epoch_time_s")
PARAMS = MetricKey("cifar100", "model", 200, "params_mb")
E = 4
HAS_SYNETUNE = importlib.util.find_spec("syne_tune") is not None


def _table() -> Table:
    rng = np.random.default_rng(0)
    s0, s1 = rng.uniform(10, 90, (27, E)), rng.uniform(10, 90, (27, E))
    s1[5] = np.nan  # arch 5 lacks its second seed
    s0[7] = s1[7] = np.nan  # arch 7 was never trained
    curves = {
        (VAL, 0): s0,
        (VAL, 1): s1,
        (TRAIN, 0): s0 + 5,
        (TRAIN, 1): s1 + 5,
        (TIME, None): np.tile(np.arange(1.0, E + 1), (27, 1)),
    }
    data = {(VAL, None): s0[:, -1].copy()}  # any final vector: NaN where never trained
    data[(PARAMS, None)] = np.linspace(0.1, 1.0, 27)
    return Table(SPACE, data, source="toy", curves=Curves(27, curves))


def test_layout_follows_synetune_nb201_conversion() -> None:
    t = _table()
    a = blackbox_arrays(t, "cifar100", "x-valid", 200)
    assert a.objectives_names == (
        "metric_valid_error", "metric_train_error", "metric_runtime",
        "metric_elapsed_time", "metric_params",
    )  # fmt: skip
    assert a.index.tolist() == [i for i in range(27) if i != 7]
    assert a.objectives.shape == (26, 2, E, 5) and a.objectives.dtype == np.float32
    assert a.fidelity_values.tolist() == [1, 2, 3, 4]
    assert list(a.hyperparameters.columns) == ["hp_x0", "hp_x1", "hp_x2"]
    row = a.index.tolist().index(12)
    assert a.hyperparameters.iloc[row].tolist() == list(SPACE.arch(12).ops)
    curves = t.curves
    assert curves is not None
    s0, s1 = curves.curve(VAL, seed_policy=0), curves.curve(VAL, seed_policy=1)
    np.testing.assert_allclose(a.objectives[row, 0, :, 0], 1 - s0[12] / 100, rtol=1e-6)
    np.testing.assert_allclose(a.objectives[row, 1, :, 1], 1 - (s1[12] + 5) / 100, rtol=1e-6)
    np.testing.assert_array_equal(a.objectives[row, 0, :, 3], [1, 3, 6, 10])
    assert (a.objectives[row, :, :, 4] == np.float32(t.vector_for(PARAMS)[12])).all()
    # arch 5's missing seed is the mean of its other seed (one seed: that seed)
    r5 = a.index.tolist().index(5)
    np.testing.assert_array_equal(a.objectives[r5, 1, :, 0], a.objectives[r5, 0, :, 0])
    assert a.imputed == 1
    with pytest.raises(UnknownKeyError, match="architecture 5 lacks a seed"):
        blackbox_arrays(t, "cifar100", "x-valid", 200, missing="raise")


def test_final_only_table_has_one_fidelity() -> None:
    t = _table()
    plain = Table(SPACE, dict(t.data), source="final only")
    a = blackbox_arrays(plain, "cifar100", "x-valid", 200)
    assert a.fidelity_values.tolist() == [200]
    assert a.objectives_names == ("metric_valid_error", "metric_params")
    np.testing.assert_allclose(
        a.objectives[:, 0, 0, 0], 1 - t.vector_for(VAL)[a.index] / 100, rtol=1e-6
    )


@pytest.mark.parametrize("bad", ["drop", None])
def test_an_unknown_missing_policy_is_refused(bad: object) -> None:
    # anything but "raise" imputed
    with pytest.raises(ArgumentError, match="missing must be one of impute, raise"):
        blackbox_arrays(_table(), "cifar100", "x-valid", 200, missing=bad)  # type: ignore[arg-type]


def test_missing_synetune_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [m for m in sys.modules if m.startswith("syne_tune")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "syne_tune", None)  # import fails, as when absent
    with pytest.raises(MissingDependencyError, match=r"nb201-flat\[synetune\]"):
        to_blackbox_tabular(_table(), "cifar100", "x-valid", 200)


@pytest.mark.skipif(not HAS_SYNETUNE, reason="syne-tune not installed (extra 'synetune')")
def test_blackbox_tabular_answers_like_the_table() -> None:
    t = _table()
    bb = to_blackbox_tabular(t, "cifar100", "x-valid", 200)
    a = blackbox_arrays(t, "cifar100", "x-valid", 200)
    config = dict(zip(["hp_x0", "hp_x1", "hp_x2"], SPACE.arch(12).ops, strict=True))
    curves = t.curves
    assert curves is not None
    for e in range(1, E + 1):
        res = bb.objective_function(configuration=config, fidelity={"hp_epoch": e}, seed=1)
        want = 1 - curves.curve(VAL, seed_policy=1)[12, e - 1] / 100
        assert res["metric_valid_error"] == pytest.approx(want, rel=1e-6)
        assert res["metric_elapsed_time"] == pytest.approx(e * (e + 1) / 2)
    assert bb.num_seeds == 2 and list(bb.fidelity_values) == [1, 2, 3, 4]
    assert len(bb.hyperparameters) == len(a.index)
