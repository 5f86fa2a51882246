"""Numerical extremes in a table's values (a fourteenth audit): a seed mean past a float,
spreads of values too small to square, costs whose sums overflow, and a flat-vs-sharp figure
with nothing to draw."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.errors import FigureSkipped, ProtocolError, SearchBudgetError
from nb201_flat.landscape import flatness
from nb201_flat.landscape.aggregates import ball_stats, radius_profile
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.protocol import nb201_protocol
from nb201_flat.search.runner import _fsum_mean
from nb201_flat.search.vectorised import _first_block
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table

matplotlib.use("Agg")

SCORE = MetricKey("cifar10-valid", "x-valid", 200, "score")


def _with_times(value: float) -> Table:
    """The synthetic table with every ``time_s`` at ``value``."""
    base = synthetic_table()
    data = {
        (k, s): np.full(NB201.size, value) if k.metric == "time_s" else v
        for (k, s), v in base.data.items()
    }
    return Table(NB201, data, source=f"times {value:g}")


# -- 1: a seed mean past a float --------------------------------------------------------------
def test_two_seeds_near_the_largest_float_have_that_mean_not_inf() -> None:
    a = np.full(NB201.size, np.nan)
    a[:3] = 1e308
    a[3] = 1.0
    t = Table(NB201, {(SCORE, 0): a, (SCORE, 1): a.copy()})
    assert t.value(0, "cifar10-valid", "x-valid", 200, "score") == 1e308
    mean = t.vector_for(SCORE)
    assert mean[:4].tolist() == [1e308, 1e308, 1e308, 1.0]
    assert np.isnan(mean[4:]).all()


def test_a_mean_over_seeds_of_mixed_signs_past_a_float_is_its_true_mean() -> None:
    rows = [np.full(NB201.size, x) for x in (1.7e308, 1.7e308, -1.7e308)]
    t = Table(NB201, {(SCORE, s): r for s, r in enumerate(rows)})
    assert float(t.vector_for(SCORE)[0]) == pytest.approx(1.7e308 / 3, rel=1e-15)


def test_a_mean_over_seeds_that_does_not_overflow_is_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    stack = rng.normal(size=(3, NB201.size)) * 40 + 50
    stack[rng.random(stack.shape) < 0.3] = np.nan
    t = Table(NB201, {(SCORE, s): row for s, row in enumerate(stack)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmean(stack, axis=0)
    assert np.array_equal(t.vector_for(SCORE), expected, equal_nan=True)


def test_query_serves_the_mean_of_seeds_near_the_largest_float(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"index": i, "dataset": "cifar10-valid", "split": "x-valid", "epochs": 200, "seed": s,
         "metric": "score", "value": 1e308 if i < 3 else 1.0}
        for i in range(5) for s in (0, 1)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "ovf.csv", index=False)
    table = str(tmp_path / "ovf.nb201")
    code, _, err = run(capsys, "import", str(tmp_path / "ovf.csv"), "--format", "tidy",
                       "--out", table)  # fmt: skip
    assert code == 0, err
    code, out, err = run(capsys, "query", "0", "--table", table, "--dataset", "cifar10-valid",
                         "--split", "x-valid", "--epochs", "200", "--metric", "score")  # fmt: skip
    assert code == 0, err
    assert "inf" not in out and out.rstrip().endswith("= 1e+308"), out


# -- 2: spreads of values too small to square -------------------------------------------------
def _normal() -> np.ndarray:
    return np.random.default_rng(0).normal(size=NB201.size)


@pytest.mark.parametrize("exponent", [-560, -300, -1000])
def test_flatness_of_tiny_values_is_flatness_scaled(exponent: int) -> None:
    v = _normal()
    small, plain = flatness(NB201, v * 2.0**exponent), flatness(NB201, v)
    for col in ("mean", "std", "min", "max"):
        assert np.array_equal(small[col], plain[col] * 2.0**exponent), col


def test_flatness_std_of_values_near_1e_170_is_not_zero() -> None:
    v = _normal() * 1e-170
    std = flatness(NB201, v)["std"].to_numpy()
    assert (std > 0).all()
    members = NB201.neighbours(1).indices
    expected = np.std(v[members] * 1e170, axis=1) * 1e-170
    np.testing.assert_allclose(std, expected, rtol=1e-12)


def test_tiny_values_beside_large_ones_get_their_own_spread() -> None:
    # a mean of exactly 0 (as many 1 as -1): the tiny cells' centred values are themselves
    v = np.zeros(NB201.size)
    v[:100], v[100:200] = 1.0, -1.0
    v[5000:] = np.random.default_rng(1).normal(size=NB201.size - 5000) * 1e-170
    members = NB201.neighbours(1).indices
    tiny = ~(members < 200).any(axis=1)
    expected = np.std(v[members[tiny]] * 1e170, axis=1) * 1e-170
    std = ball_stats(NB201, v, 1)["std"]
    np.testing.assert_allclose(std[tiny], expected, rtol=1e-12)
    assert np.array_equal(radius_profile(NB201, v, 2)["std"][0], std)


# -- 4: costs whose sums overflow -------------------------------------------------------------
def test_a_protocol_refuses_costs_whose_sum_overflows_naming_the_key() -> None:
    with pytest.raises(ProtocolError, match=r"cifar10-valid/train@200ep:time_s sum to more "
                       r"than a float.*largest 1e\+308 s\); rescale"):  # fmt: skip
        nb201_protocol().oracle_data(_with_times(1e308))


def test_an_oracle_refuses_costs_whose_sum_overflows() -> None:
    values = np.zeros((1, NB201.size))
    with pytest.raises(
        SearchBudgetError, match="sum to more than a float.*rescale the costs and budget_seconds"
    ):
        OracleData(NB201, SCORE, values, None, None, np.full(NB201.size, 1e308), 1e10, None)


def test_runs_spending_near_the_largest_float_have_a_finite_mean() -> None:
    assert _fsum_mean(pd.Series([1.5e308] * 3)) == 1.5e308
    assert _fsum_mean(pd.Series([0.1] * 10)) == 0.1  # the correctly rounded sum, as before


def test_a_budget_near_the_largest_float_guesses_no_inf_draws() -> None:
    values = np.zeros((1, NB201.size))
    data = OracleData(NB201, SCORE, values, None, None, np.ones(NB201.size), 1.7e308, None)
    assert _first_block(data) == 1024


def test_seconds_text_is_short_for_a_huge_budget() -> None:
    from nb201_flat.search.protocol import seconds_text

    assert seconds_text(2e6) == "2,000,000"
    assert seconds_text(1.2e308) == "1.2e+308"


def test_search_on_huge_times_is_one_line_or_a_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge, big = str(tmp_path / "huge.nb201"), str(tmp_path / "big.nb201")
    save_table(_with_times(1e308), huge)
    save_table(_with_times(1e304), big)
    line = one_line_exit_2(capsys, "search", "--table", huge, "--algo", "rs", "--protocol",
                           "nb201", "--runs", "3", "--jobs", "1", "--budget-scale", "1e304")  # fmt: skip
    assert "rescale that metric's values" in line
    # a budget of 1.68e308 s spent by each run: their mean is summed without overflow
    code, out, err = run(capsys, "search", "--table", big, "--algo", "rs", "--protocol",
                         "nb201", "--runs", "3", "--jobs", "1", "--budget-scale", "1.4e304")  # fmt: skip
    assert code == 0, err
    assert "budget 1.68e+308 s" in out


# -- 5: flat vs sharp with nothing to draw ----------------------------------------------------
def _one_cell() -> Table:
    base = synthetic_table()
    data = {}
    for (k, s), v in base.data.items():
        if k.metric != "time_s":
            v = np.full(NB201.size, np.nan)
            v[11472] = 70.0
        data[(k, s)] = v
    return Table(NB201, data, source="one cell")


def test_flat_vs_sharp_with_no_drawn_point_is_skipped() -> None:
    from nb201_flat.figures.generalisation import make_flat_vs_sharp

    with pytest.raises(FigureSkipped, match="no chosen cell has a measured neighbour"):
        make_flat_vs_sharp(_one_cell())


def test_figures_only_flat_vs_sharp_on_one_cell_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = str(tmp_path / "one.nb201")
    save_table(_one_cell(), table)
    line = one_line_exit_2(capsys, "figures", "--table", table, "--out", str(tmp_path / "f"),
                           "--only", "flat_vs_sharp", "--formats", "png")  # fmt: skip
    assert "flat_vs_sharp" in line
    assert not (tmp_path / "f" / "flat_vs_sharp.png").exists()
