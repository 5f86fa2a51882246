"""Flatness along training, on small synthetic curves with exactly known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nb201_flat.curves import Curves, NoCurvesError
from nb201_flat.landscape._common import LandscapeArgumentError
from nb201_flat.landscape.epochs import flatness_by_epoch
from nb201_flat.landscape.neighbourhood import flatness
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("a", "b", "c"), 3)  # 27 cells
KEY = MetricKey("toy", "x-valid", 12)


def _table(curve: np.ndarray) -> Table:
    return Table(
        SPACE,
        {(KEY, None): curve[:, -1].copy()},
        source="toy",
        curves=Curves(27, {(KEY, None): curve}),
    )


def test_each_epoch_is_the_flatness_of_that_column() -> None:
    rng = np.random.default_rng(0)
    curve = rng.normal(50, 10, (27, 4))
    df = flatness_by_epoch(_table(curve), "toy", "x-valid", 12, delta=2.0)
    assert df["iepoch"].tolist() == [0, 1, 2, 3]
    for e in range(4):
        f = flatness(SPACE, curve[:, e], 1, delta=2.0)
        row = df.iloc[e]
        assert row["mean_value"] == pytest.approx(curve[:, e].mean())
        assert row["mean_abs_sharpness"] == pytest.approx(f["sharpness"].abs().mean())
        assert row["mean_std"] == pytest.approx(f["std"].mean())
        assert row["mean_share_within_delta"] == pytest.approx(f["share_within_delta"].mean())
    assert df.iloc[-1]["spearman_final"] == pytest.approx(1.0)


def test_a_constant_epoch_is_perfectly_flat_and_rank_free() -> None:
    f = (SPACE.codes == 2).sum(axis=1).astype(float)
    curve = np.stack([np.full(27, 7.0), f, 2 * f], axis=1)
    # undefined, not 0: an error by default, NaN when asked for (the figure leaves a gap)
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^spearman_final at iepoch 0 is undefined: every value after that epoch equals "
        r"7; leave the epoch out of iepochs, or pass undefined='nan' for NaN$",
    ):
        flatness_by_epoch(_table(curve), "toy", "x-valid", 12)
    df = flatness_by_epoch(_table(curve), "toy", "x-valid", 12, undefined="nan")
    assert df.loc[0, "mean_abs_sharpness"] == 0.0
    assert np.isnan(df.loc[0, "spearman_final"])
    assert df.loc[1, "spearman_final"] == pytest.approx(1.0)
    # |sharpness| of f is |c - 1| / 2 per cell (c conv edges); its mean is 16/54
    assert df.loc[1, "mean_abs_sharpness"] == pytest.approx(16 / 54)
    assert df.loc[2, "mean_abs_sharpness"] == pytest.approx(32 / 54)


def test_mask_and_missing_values() -> None:
    curve = np.tile(np.arange(27.0)[:, None], (1, 2))
    curve[0, 0] = np.nan
    mask = np.zeros(27, dtype=bool)
    mask[:3] = True
    # two ranked cells at epoch 0: no rank correlation
    with pytest.raises(LandscapeArgumentError, match=r"^spearman_final at iepoch 0 .*\(need 3\)"):
        flatness_by_epoch(_table(curve), "toy", "x-valid", 12, mask=mask)
    df = flatness_by_epoch(_table(curve), "toy", "x-valid", 12, mask=mask, undefined="nan")
    assert df["archs"].tolist() == [2, 3]
    assert df.loc[0, "mean_value"] == pytest.approx(1.5)
    assert df.loc[1, "mean_value"] == pytest.approx(1.0)


def test_errors() -> None:
    table = _table(np.zeros((27, 3)))
    with pytest.raises(LandscapeArgumentError, match=r"outside the stored 0\.\.2"):
        flatness_by_epoch(table, "toy", "x-valid", 12, iepochs=[3])
    with pytest.raises(LandscapeArgumentError, match="mask"):
        flatness_by_epoch(table, "toy", "x-valid", 12, mask=np.ones(5, dtype=bool))
    plain = Table.from_tidy(
        pd.DataFrame({"index": [0], "dataset": "cifar10", "split": "ori-test", "epochs": 200,
                      "metric": "accuracy", "value": [90.0]})
    )  # fmt: skip
    with pytest.raises(NoCurvesError, match="no learning curves"):
        flatness_by_epoch(plain, "cifar10", "ori-test", 200)


@pytest.mark.realdata
def test_real_data_says_it_has_no_curves(real_table: Table) -> None:
    with pytest.raises(NoCurvesError, match="final values only"):
        flatness_by_epoch(real_table, "cifar10-valid", "x-valid", 200)


def test_epochs_are_not_truncated_and_a_mask_is_boolean() -> None:
    from nb201_flat.errors import ArgumentError

    f = (SPACE.codes == 2).sum(axis=1).astype(float)
    t = _table(np.stack([np.zeros(27), 5 * f, 10 * f], axis=1))
    # iepochs=[1.5] used to read epoch 1, epochs=12.5 the 12-epoch curves, at(KEY, 1.5) epoch 1
    with pytest.raises(ArgumentError, match="iepoch"):
        flatness_by_epoch(t, "toy", "x-valid", 12, iepochs=[1.5])
    with pytest.raises(ArgumentError, match="epochs"):
        flatness_by_epoch(t, "toy", "x-valid", 12.5)  # type: ignore[arg-type]
    assert t.curves is not None
    with pytest.raises(ArgumentError, match="iepoch"):
        t.curves.at(KEY, 1.5)  # type: ignore[arg-type]
    np.testing.assert_array_equal(t.curves.at(KEY, np.int64(1)), 5 * f)
    # a value vector passed as mask used to keep every non-zero cell
    with pytest.raises(LandscapeArgumentError, match="boolean vector"):
        flatness_by_epoch(t, "toy", "x-valid", 12, mask=f)
    # epoch 0 (all zero) ranks nothing: NaN asked for
    kept = flatness_by_epoch(t, "toy", "x-valid", 12, mask=f > 1, undefined="nan")
    assert kept["archs"].tolist() == [7] * 3


def test_curves_check_their_keys_and_row_count() -> None:
    from nb201_flat.errors import ArgumentError, FormatError

    # n_archs=1.5 used to be 1 row; a str key or seed -1 was kept (a raw TypeError when listed)
    with pytest.raises(ArgumentError, match="n_archs"):
        Curves(1.5, {})  # type: ignore[arg-type]
    for bad in (("toy", None), (KEY, -1), (KEY, True)):
        with pytest.raises(FormatError, match="keyed by"):
            Curves(27, {bad: np.zeros((27, 3))})  # type: ignore[dict-item]
    assert Curves(27, {(KEY, np.int64(0)): np.zeros((27, 3))}).seeds(KEY) == [0]


def test_curves_copy_what_they_are_given_unless_told_to_take_it() -> None:
    mine = np.zeros((27, 3))
    copied = Curves(27, {(KEY, None): mine})
    assert copied.curve(KEY) is not mine and mine.flags.writeable
    mine[0, 0] = 5.0  # the caller's array stays its own
    assert copied.curve(KEY)[0, 0] == 0.0
    taken = Curves(27, {(KEY, None): mine}, copy=False)
    assert taken.curve(KEY) is mine and not mine.flags.writeable
    # a view is copied: its base stays writable, and would write through to the curve
    base = np.zeros((27, 6))
    view = base[:, :3]
    assert Curves(27, {(KEY, None): view}, copy=False).curve(KEY) is not view
    assert base.flags.writeable and view.flags.writeable
    # what is no float64 array is converted (and checked) as always
    ints = np.ones((27, 3), dtype=np.int64)
    converted = Curves(27, {(KEY, None): ints}, copy=False).curve(KEY)
    assert converted.dtype == np.float64 and converted is not ints and ints.flags.writeable
    from nb201_flat.errors import FormatError

    with pytest.raises(FormatError, match="infinite at architecture 2, epoch 1"):
        Curves(
            27, {(KEY, None): np.where(np.arange(81).reshape(27, 3) == 7, np.inf, 0.0)}, copy=False
        )
    with pytest.raises(FormatError, match="expected \\(27, epochs\\)"):
        Curves(27, {(KEY, None): np.zeros(27)}, copy=False)


def test_a_mask_series_is_read_by_its_index() -> None:
    # a shuffled boolean Series was read by position: other architectures kept
    from nb201_flat.errors import ArgumentError

    f = (SPACE.codes == 2).sum(axis=1).astype(float) + np.arange(27) * 0.01
    t = _table(np.stack([np.zeros(27), 5 * f, 10 * f], axis=1))
    mask = f > 1
    shuffled = pd.Series(mask).sample(frac=1, random_state=0)
    pd.testing.assert_frame_equal(  # epoch 0 (all zero) ranks nothing: NaN asked for
        flatness_by_epoch(t, "toy", "x-valid", 12, mask=shuffled, undefined="nan"),
        flatness_by_epoch(t, "toy", "x-valid", 12, mask=mask, undefined="nan"),
        check_exact=True,
    )
    with pytest.raises(ArgumentError, match=r"^mask \(a pandas Series\) must be indexed by the 27"):
        flatness_by_epoch(t, "toy", "x-valid", 12, mask=shuffled.iloc[1:])


@pytest.mark.parametrize(
    ("iepochs", "match"),
    [
        (2, "^iepochs must be a sequence of epochs, got 2; pass a list, e.g. \\[2\\]$"),
        (np.int64(2), "^iepochs must be a sequence of epochs, got 2; pass a list"),
        ([], "^iepochs is empty; pass epochs in 0..2 of .* \\(0-based\\), or None for all$"),
        # two identical rows, as if two epochs (neighbour_distributions refuses a radius twice)
        ([1, 2, 1], "^iepochs holds epoch 1 more than once; pass each epoch once$"),
    ],
)
def test_iepochs_must_name_at_least_one_epoch(iepochs: object, match: str) -> None:
    # 2 raised a raw TypeError; [] returned an empty frame, read as "nothing to report"
    f = (SPACE.codes == 2).sum(axis=1).astype(float)
    t = _table(np.stack([np.zeros(27), 5 * f, 10 * f], axis=1))
    with pytest.raises(LandscapeArgumentError, match=match):
        flatness_by_epoch(t, "toy", "x-valid", 12, iepochs=iepochs)  # type: ignore[arg-type]
    assert flatness_by_epoch(t, "toy", "x-valid", 12, iepochs=np.array([2]))["iepoch"].tolist() == [
        2
    ]


def test_an_epoch_without_a_summarised_architecture_is_an_error() -> None:
    # every masked cell unmeasured at epoch 0: its means were NaN, read as missing data
    curve = np.tile(np.arange(27.0)[:, None], (1, 2))
    curve[:5, 0] = np.nan
    mask = np.arange(27) < 5
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^mean_value at iepoch 0 is undefined: no summarised architecture has a value; "
        r"leave the epoch out of iepochs, or summarise more architectures \(mask\)",
    ):
        flatness_by_epoch(_table(curve), "toy", "x-valid", 12, mask=mask)
    df = flatness_by_epoch(_table(curve), "toy", "x-valid", 12, mask=mask, iepochs=[1])
    assert df["archs"].tolist() == [5]
    with pytest.raises(LandscapeArgumentError, match="^undefined must be one of raise, nan"):
        flatness_by_epoch(_table(curve), "toy", "x-valid", 12, undefined=None)  # type: ignore[arg-type]


def test_a_whole_neighbourhood_as_radius_is_refused_before_any_epoch() -> None:
    # every epoch was computed, then int(radius) raised a bare TypeError
    from nb201_flat.errors import ArgumentError
    from nb201_flat.neighbourhood import Neighbourhood

    curve = np.random.default_rng(0).normal(50, 10, (27, 3))
    for bad in (Neighbourhood(radius=2, exact=False), None, 1.5):
        with pytest.raises(ArgumentError, match="^radius must"):
            flatness_by_epoch(_table(curve), "toy", "x-valid", 12, radius=bad)  # type: ignore[arg-type]


def test_the_frame_records_the_seed_policy_it_read() -> None:
    # seed_policy=0 was recorded as None (the deprecated seed= was kept), as the mean was
    curve = np.random.default_rng(1).normal(50, 10, (27, 3))
    t = Table(SPACE, {(KEY, 0): curve[:, -1].copy()}, curves=Curves(27, {(KEY, 0): curve}))
    assert flatness_by_epoch(t, "toy", "x-valid", 12, seed_policy=0).attrs["seed"] == 0
    assert flatness_by_epoch(_table(curve), "toy", "x-valid", 12).attrs["seed"] == "mean"
