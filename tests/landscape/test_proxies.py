"""Rank correlations of a proxy with accuracy and flatness, with bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from nb201_flat.errors import ArgumentError
from nb201_flat.landscape._common import LandscapeArgumentError
from nb201_flat.landscape.neighbourhood import flatness
from nb201_flat.landscape.proxies import proxy_correlations
from nb201_flat.space import Space

SPACE = Space(("a", "b", "c", "d"), 3)  # 64 cells


def _acc(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (SPACE.codes == 2).sum(axis=1) * 10.0 + rng.normal(0, 3, SPACE.size)


def test_estimates_equal_scipy_on_the_measured_subset() -> None:
    acc = _acc()
    rng = np.random.default_rng(1)
    proxy = acc + rng.normal(0, 5, SPACE.size)
    proxy[::3] = np.nan  # a proxy file covers a subset
    df = proxy_correlations(SPACE, proxy, acc, n_boot=400, seed=4)
    ok = ~np.isnan(proxy)
    sharp = flatness(SPACE, acc, 1)["sharpness"].to_numpy()
    expect = {
        ("accuracy", "kendall"): kendalltau(proxy[ok], acc[ok]).statistic,
        ("accuracy", "spearman"): spearmanr(proxy[ok], acc[ok]).statistic,
        ("flatness:sharpness", "kendall"): kendalltau(proxy[ok], sharp[ok]).statistic,
        ("flatness:sharpness", "spearman"): spearmanr(proxy[ok], sharp[ok]).statistic,
    }
    got = {(r.against, r.method): r for r in df.itertuples()}
    assert set(got) == set(expect)
    for k, v in expect.items():
        assert got[k].estimate == pytest.approx(v)
        assert got[k].ci_lo <= got[k].estimate <= got[k].ci_hi
        assert got[k].n == int(ok.sum())
    again = proxy_correlations(SPACE, proxy, acc, n_boot=400, seed=4)
    assert again.equals(df)  # a function of its seed


def test_monotone_and_reversed_proxies() -> None:
    acc = _acc()
    up = proxy_correlations(SPACE, np.exp(acc / 10), acc, n_boot=50)
    down = proxy_correlations(SPACE, -acc, acc, n_boot=50)
    a_up = up[up["against"] == "accuracy"]
    a_down = down[down["against"] == "accuracy"]
    assert np.allclose(a_up["estimate"], 1.0) and np.allclose(a_down["estimate"], -1.0)
    assert np.allclose(a_up[["ci_lo", "ci_hi"]], 1.0)


def test_errors() -> None:
    acc = _acc()
    few = np.full(SPACE.size, np.nan)
    few[:5] = 1.0
    with pytest.raises(LandscapeArgumentError, match="only 5 architectures"):
        proxy_correlations(SPACE, few, acc)
    with pytest.raises(LandscapeArgumentError, match="flatness_stat"):
        proxy_correlations(SPACE, acc, acc, flatness_stat="value")
    with pytest.raises(LandscapeArgumentError, match="shape"):
        proxy_correlations(SPACE, acc[:3], acc)


@pytest.mark.realdata
def test_synflow_tracks_real_cifar100_accuracy(real_table, shared_dir) -> None:  # type: ignore[no-untyped-def]
    # NAS-Bench-Suite-Zero (Krishnakumar et al., 2022) reports synflow among the strongest
    # single proxies on NB201 (Spearman around 0.76 on CIFAR-100): a clearly positive rank
    # correlation on the 725 archs of NASLib's file is the check, not a copied number.
    from nb201_flat.importers.naslib_zc import read_naslib_zc
    from nb201_flat.table import Table

    raw = shared_dir / "raw" / "automl_NASLib" / "zc_nasbench201@1bdbd96.json"
    zc = Table.from_tidy(read_naslib_zc(raw))
    df = proxy_correlations(
        real_table.space,
        zc.vector("cifar100", "zc", 0, "synflow"),
        real_table.vector("cifar100", "x-valid", 200),
        n_boot=100,
    )
    acc = df[(df["against"] == "accuracy") & (df["method"] == "spearman")].iloc[0]
    assert acc["n"] > 700 and acc["ci_lo"] > 0.5


def test_bootstrap_sizes_are_checked() -> None:
    from nb201_flat.errors import ArgumentError, ResourceLimitError

    acc = np.arange(SPACE.size, dtype=float)
    for bad in (1.5, True, 0):  # 1.5 used to be a raw numpy TypeError
        with pytest.raises(ArgumentError, match="n_boot"):
            proxy_correlations(SPACE, acc, acc, n_boot=bad)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="min_n"):
        proxy_correlations(SPACE, acc, acc, min_n=1.5)  # type: ignore[arg-type]
    with pytest.raises(ResourceLimitError, match="smaller n_boot"):  # a MemoryError before
        proxy_correlations(SPACE, acc, acc, n_boot=10**14)


def test_a_correlation_with_a_constant_side_is_an_error_unless_asked_for() -> None:
    # a proxy equal on every cell has no rank correlation: it came out as NaN estimates
    acc = _acc()
    flat_proxy = np.full(SPACE.size, 3.0)
    with pytest.raises(
        LandscapeArgumentError,
        match=r"^the kendall correlation of the proxy with accuracy is undefined: the proxy "
        r"equals 3 on all 64 jointly measured architectures; pass values that vary, or pass "
        r"undefined='nan' for NaN$",
    ):
        proxy_correlations(SPACE, flat_proxy, acc, n_boot=40)
    with pytest.raises(
        LandscapeArgumentError, match=r"with accuracy is undefined: accuracy equals 50"
    ):
        proxy_correlations(SPACE, acc, np.full(SPACE.size, 50.0), n_boot=40)
    df = proxy_correlations(SPACE, flat_proxy, acc, n_boot=40, undefined="nan")
    assert df[["estimate", "ci_lo", "ci_hi"]].isna().all().all() and (df["n"] == 64).all()


def test_an_interval_no_resample_defines_is_an_error() -> None:
    # two measured cells: a resample drawing one of them twice is constant; with the fewest
    # resamples a 1 % interval takes (3), some seeds draw only such, and the interval was NaN
    acc = _acc()
    two = np.full(SPACE.size, np.nan)
    two[[0, 63]] = [1.0, 2.0]
    few = {"n_boot": 3, "confidence": 0.01, "min_n": 2}
    undefined = 0
    for seed in range(40):
        nan = proxy_correlations(SPACE, two, acc, seed=seed, undefined="nan", **few)
        assert nan["estimate"].notna().all()
        if nan["ci_lo"].isna().any():
            assert nan[["ci_lo", "ci_hi"]].isna().all().all()  # as one: all or none
            with pytest.raises(
                LandscapeArgumentError,
                match=r"^the interval of the kendall correlation of the proxy with accuracy is "
                r"undefined: only [0-2] of the 3 bootstrap resamples of 2 architectures vary, "
                r"and a 1 % interval needs 3",
            ):
                proxy_correlations(SPACE, two, acc, seed=seed, **few)
            undefined += 1
        else:
            df = proxy_correlations(SPACE, two, acc, seed=seed, **few)
            assert df.equals(nan)
    assert 0 < undefined < 40  # a resample constant: seven eighths of the seeds


def test_an_interval_of_fewer_defined_resamples_than_its_level_needs_is_undefined() -> None:
    # ten cells, one apart: 14 of 40 resamples missed it and had no correlation; the 26 left
    # gave a "95 % CI" [-0.81, -0.52] with no resample beyond a bound, beside -0.52
    space = Space(("a", "b", "c"), 3)
    acc = np.arange(27, dtype=float)
    proxy = np.full(27, np.nan)
    proxy[:10] = 1.0
    proxy[0] = 5.0
    df = proxy_correlations(space, proxy, acc, n_boot=40, seed=0, min_n=10, undefined="nan")
    rows = df[df["against"] == "accuracy"]
    assert rows["estimate"].notna().all() and rows[["ci_lo", "ci_hi"]].isna().all().all(), rows
    with pytest.raises(LandscapeArgumentError, match=r"a 95 % interval needs 40"):
        proxy_correlations(space, proxy, acc, n_boot=40, seed=0, min_n=10)
    # with enough resamples that vary the interval is served (a percentile interval of a
    # skewed bootstrap may still lie beside its estimate: that is the method, not a fault)
    wide = proxy_correlations(space, proxy, acc, n_boot=400, seed=0, min_n=10, undefined="nan")
    assert wide[["ci_lo", "ci_hi"]].notna().all().all(), wide


def test_too_few_resamples_for_the_interval_are_refused() -> None:
    # one resample was a '95 % CI' of one point, beside a mean it did not contain, and the
    # reproduction grid read verdicts from it
    from nb201_flat.search.statistics import bootstrap_ci

    acc = _acc()
    for call in (
        lambda: proxy_correlations(SPACE, acc, acc, n_boot=39),
        lambda: bootstrap_ci(np.array([1.0, 2.0, 3.0, -10.0]), n_boot=1),
    ):
        with pytest.raises(ArgumentError, match=r"^n_boot must be at least 40 for a 95 % perc"):
            call()
    assert bootstrap_ci(np.array([1.0, 2.0, 3.0, -10.0]), n_boot=40) is not None
    assert len(proxy_correlations(SPACE, acc, acc, n_boot=3, confidence=0.01)) > 0
