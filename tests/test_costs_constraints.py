"""Analytic costs as table columns, and accuracy under cost constraints (Python and CLI)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.constraints import (
    ConstraintError,
    best_under,
    cost_band,
    cost_vector,
    flatness_in_band,
    pareto_front,
)
from nb201_flat.costs import analytic_costs, stored_vs_analytic, with_analytic_costs
from nb201_flat.errors import ArgumentError, InvalidArchError, UnknownKeyError
from nb201_flat.landscape.neighbourhood import flatness
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.train import costs as formulas

TOY = Space(("a", "b", "c"), 3)  # 27 cells
ACC = MetricKey("toy", "x-valid", 12)
SIZE = MetricKey("toy", "model", 12, "params_mb")


def _toy(acc: np.ndarray, size: np.ndarray) -> Table:
    return Table(TOY, {(ACC, None): acc, (SIZE, None): size}, source="toy")


# -- costs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dataset", "classes", "side"), [("cifar10", 10, 32), ("ImageNet16-120", 120, 16)]
)
def test_analytic_costs_equal_the_per_cell_formulas(dataset: str, classes: int, side: int) -> None:
    df = analytic_costs(NB201, dataset)
    for i in (0, 1, 777, 11472, 15624):
        ops = NB201.arch(i).ops
        assert df.loc[i, "params_mb"] == formulas.params_mb(ops, n_nodes=4, num_classes=classes)
        assert df.loc[i, "flops_m"] == formulas.flops_m(
            ops, n_nodes=4, num_classes=classes, image_size=side
        )


def test_costs_need_no_torch() -> None:
    code = (
        "import sys; from nb201_flat.costs import analytic_costs; from nb201_flat.space import NB201;"
        "analytic_costs(NB201, 'cifar100'); import nb201_flat.constraints;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_with_analytic_costs_adds_columns_and_keeps_stored_ones() -> None:
    stored = MetricKey("cifar100", "model", 200, "params_mb")
    t = Table(NB201, {(stored, None): np.full(NB201.size, 9.0)}, source="s")
    out = with_analytic_costs(t)
    assert stored in out and out.vector_for(stored)[0] == 9.0
    got = out.vector("cifar100", "model", 200, "params_mb_analytic")
    np.testing.assert_array_equal(got, analytic_costs(NB201, "cifar100")["params_mb"])
    assert "flops_m_analytic" in {k.metric for k in out}
    assert t.keys() == [stored]  # the input table is unchanged


# the ops with formulas of their own (register_op may add others while a test runs)
_BUILT_IN_OPS = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "max_pool_3x3",
    "sep_conv_3x3",
    "dil_conv_3x3",
)


def test_vectorised_counts_are_exact_at_the_largest_values_allowed() -> None:
    # every built-in op on every edge of the widest cell a Space holds, at the largest network,
    # classifier and image: the int64 sums stay exact with room to spare (a quarter of 2**63)
    widest = Space(("none", "nor_conv_3x3"), 11)
    with pytest.raises(InvalidArchError, match="too large"):
        Space(("none", "nor_conv_3x3"), 12)
    big = {"c": formulas.MAX_C, "n": formulas.MAX_N, "num_classes": formulas.MAX_CLASSES}
    side = formulas.MAX_IMAGE_SIZE
    for code, op in enumerate(_BUILT_IN_OPS):
        ops, codes = [op] * widest.n_edges, [[code] * widest.n_edges]
        flops = formulas.count_flops(ops, n_nodes=11, image_size=side, **big)
        params = formulas.count_params(ops, n_nodes=11, **big)
        assert max(flops, params) < 2**63 // 4, op
        got = formulas.flops_m_of_codes(codes, _BUILT_IN_OPS, image_size=side, **big)
        assert got[0] == flops / 1e6, op
        assert formulas.params_mb_of_codes(codes, _BUILT_IN_OPS, **big)[0] == params / 1e6, op


@pytest.mark.parametrize(
    ("bad", "want"),
    [
        ({"image_size": 2048}, "image_size must lie in 4..256, got 2048"),
        ({"image_size": 0}, "image_size must lie in 4..256, got 0"),
        ({"image_size": -32}, "image_size must lie in 4..256, got -32"),
        ({"image_size": 30}, "image_size must be divisible by 4 "),
        ({"num_classes": 0}, "num_classes must lie in 1..100000, got 0"),
        ({"num_classes": 10**6}, "num_classes must lie in 1..100000, got 1000000"),
    ],
)
def test_counts_refuse_a_classifier_or_image_beyond_the_counted_range(
    bad: dict[str, int], want: str
) -> None:
    # at c=4096, n=1000 a 2048-pixel image wrapped the int64 sum to a wrong number; a 0- or
    # negative-pixel image and a classifier of no classes were costed all the same
    big = {"c": formulas.MAX_C, "n": formulas.MAX_N, **bad}
    ops, codes = ["nor_conv_3x3"] * 6, NB201.codes[:2]
    calls = [
        lambda: formulas.count_flops(ops, n_nodes=4, **big),
        lambda: formulas.flops_m(ops, n_nodes=4, **big),
        lambda: formulas.flops_m_of_codes(codes, NB201.ops, **big),
    ]
    if "num_classes" in bad:
        calls += [
            lambda: formulas.count_params(ops, n_nodes=4, **big),
            lambda: formulas.params_mb(ops, n_nodes=4, **big),
            lambda: formulas.params_mb_of_codes(codes, NB201.ops, **big),
        ]
    for call in calls:
        with pytest.raises(ArgumentError, match=f"^{re.escape(want)}") as exc:
            call()
        assert "\n" not in str(exc.value)


def test_vectorised_counts_stay_exact_where_int64_would_wrap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a registered op's formula is the caller's: three edges of 2**62 FLOPs each overflow
    # int64 (np.array raised a bare OverflowError, and a sum of smaller ones wrapped)
    huge = formulas.OpCost(params=lambda c: 2**62, flops=lambda c, hw: 2**62 + hw)
    monkeypatch.setitem(formulas.OP_COSTS, "huge_test", huge)
    names, ops = ("none", "huge_test"), ["huge_test"] * 3
    exact_p = formulas.count_params(ops, n_nodes=3)
    exact_f = formulas.count_flops(ops, n_nodes=3)
    assert exact_f > exact_p > 2**63
    assert formulas.params_mb_of_codes([[1, 1, 1]], names)[0] == exact_p / 1e6
    assert formulas.flops_m_of_codes([[1, 1, 1]], names)[0] == exact_f / 1e6


@pytest.mark.parametrize("codes", [[[-1] * 6], [[5] * 6], [[1.5] * 6], [0] * 6])
def test_vectorised_counts_refuse_codes_of_no_op(codes: list[Any]) -> None:
    # -1 read the last op's cost, 1.5 op 1's; a flat row met numpy's bare AxisError
    for of_codes in (formulas.params_mb_of_codes, formulas.flops_m_of_codes):
        with pytest.raises(InvalidArchError, match="codes"):
            of_codes(codes, NB201.ops)


def test_cost_errors() -> None:
    with pytest.raises(UnknownKeyError, match="no input shape"):
        analytic_costs(NB201, "mnist")
    with pytest.raises(InvalidArchError, match="unknown op"):
        analytic_costs(TOY, "cifar10")


@pytest.mark.realdata
def test_stored_params_differ_on_150_archs_each_matching_its_class(real_table: Table) -> None:
    for ds in ("cifar10-valid", "cifar100", "ImageNet16-120"):
        diff = stored_vs_analytic(real_table, ds)
        assert len(diff) == 150
        assert diff["match_in_class"].all()


# -- constraints ------------------------------------------------------------------------------
def test_best_under_picks_the_best_affordable() -> None:
    acc = np.arange(27.0)
    size = np.where(acc > 20, 5.0, 1.0)
    size[3] = np.nan
    df = best_under(_toy(acc, size), "toy", "x-valid", 12, cost="params_mb", max_cost=2.0, top=3)
    assert df["index"].tolist() == [20, 19, 18]
    assert df.columns.tolist() == ["index", "arch", "value", "cost"]
    assert (df["cost"] <= 2.0).all() and df["arch"][0] == TOY.arch(20).to_str()
    with pytest.raises(ConstraintError, match=r"smallest params_mb is 1"):
        best_under(_toy(acc, size), "toy", "x-valid", 12, cost="params_mb", max_cost=0.5)


def test_pareto_front_is_exactly_the_non_dominated_set() -> None:
    rng = np.random.default_rng(3)
    acc = rng.uniform(0, 100, 27)
    size = rng.integers(1, 6, 27).astype(float)
    front = pareto_front(_toy(acc, size), "toy", "x-valid", 12, cost="params_mb")
    dominated = {
        i
        for i in range(27)
        for j in range(27)
        if (acc[j] >= acc[i] and size[j] <= size[i]) and (acc[j] > acc[i] or size[j] < size[i])
    }
    assert set(front["index"]) == set(range(27)) - dominated
    assert front["cost"].is_monotonic_increasing and front["value"].is_monotonic_increasing


def test_a_loss_is_best_when_lowest() -> None:
    loss = np.arange(27.0)[::-1].copy()  # index 26 has the lowest loss
    size = np.where(np.arange(27) > 20, 5.0, 1.0)
    t = _toy(loss, size)
    df = best_under(
        t, "toy", "x-valid", 12, cost="params_mb", max_cost=2.0, top=2, higher_is_better=False
    )
    assert df["index"].tolist() == [20, 19]
    front = pareto_front(t, "toy", "x-valid", 12, cost="params_mb", higher_is_better=False)
    assert front["index"].tolist() == [20, 26]
    assert front["value"].is_monotonic_decreasing


def test_cli_ranks_a_loss_lowest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --metric loss listed the highest losses as the best, as flatness does not
    from nb201_flat.cli import main

    loss_key = MetricKey("toy", "x-valid", 12, "loss")
    loss = np.arange(27.0)[::-1].copy()
    t = Table(TOY, {(loss_key, None): loss, (SIZE, None): np.ones(27)}, source="toy")
    path = save_table(t, tmp_path / "t")
    base = ["constrained", "--table", str(path), "--dataset", "toy", "--split", "x-valid"]
    base += ["--epochs", "12", "--cost", "params_mb", "--max-cost", "2", "--top", "2", "--json"]
    assert main([*base, "--metric", "loss"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in doc["rows"]] == [26, 25] and doc["higher_is_better"] is False


def test_cli_misspelt_metric_is_named_before_its_direction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the direction check ran first and asked for --higher-is-better; adding it only led to
    # the next refusal, the unknown metric
    from nb201_flat.cli import main

    acc_key = MetricKey("toy", "x-valid", 12, "accuracy")
    t = Table(TOY, {(acc_key, None): np.arange(27.0), (SIZE, None): np.ones(27)}, source="toy")
    path = save_table(t, tmp_path / "t")
    base = ["constrained", "--table", str(path), "--dataset", "toy", "--split", "x-valid"]
    base += ["--epochs", "12", "--cost", "params_mb", "--max-cost", "2"]
    assert main([*base, "--metric", "accurcy"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "accurcy" in err and "direction" not in err


def test_cost_band_and_flatness_in_band() -> None:
    acc = np.arange(27.0)
    size = (TOY.codes == 2).sum(axis=1).astype(float)  # 0..3 edges of op "c"
    t = _toy(acc, size)
    mask = cost_band(t, "toy", "params_mb", 1, 1)
    assert mask.sum() == 12  # one "c" edge: 3 positions x 2 ops on each of the other two
    df = flatness_in_band(t, "toy", "x-valid", 12, cost="params_mb", lo=1, hi=1)
    assert df.index.tolist() == np.flatnonzero(mask).tolist()
    v = np.where(mask, acc, np.nan)
    expected = flatness(TOY, v, 1)[mask]
    np.testing.assert_array_equal(df["mean"], expected["mean"])
    np.testing.assert_array_equal(df["n"], expected["n"])
    assert (df["cost"] == 1).all()
    with pytest.raises(ConstraintError, match="lo <= hi"):
        cost_band(t, "toy", "params_mb", 2, 1)


def test_cost_lookup_and_analytic_fallback() -> None:
    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): np.zeros(NB201.size)})
    c = cost_vector(t, "cifar10", "flops_m_analytic")
    np.testing.assert_array_equal(c, analytic_costs(NB201, "cifar10")["flops_m"])
    with pytest.raises(ConstraintError, match="stores no cost 'latency_s'"):
        cost_vector(t, "cifar10", "latency_s")


def test_a_cost_stored_for_other_datasets_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # NB201 stores params for cifar10-valid, not cifar10: the refusal said "it has none", and
    # the user did not learn that --dataset cifar10-valid serves them
    from nb201_flat.cli import main

    v = np.linspace(10, 90, NB201.size)
    keys = [MetricKey("cifar10", "ori-test", 200), MetricKey("cifar10-valid", "ori-test", 200)]
    data = {(k, None): v for k in keys}
    data[(MetricKey("cifar10-valid", "model", 200, "params_mb"), None)] = v / 100
    t = Table(NB201, data, source="t")
    with pytest.raises(ConstraintError) as err:
        cost_vector(t, "cifar10", "params_mb")
    assert str(err.value) == (
        "table 't' stores no cost 'params_mb' for cifar10 (its model metrics there: none); it "
        "stores params_mb for cifar10-valid: name one of those (dataset, whose accuracies are "
        "then the ones ranked), or give an analytic cost, computed for every cell of an NB201 "
        "dataset (cost='params_mb_analytic')"
    )
    # stored for no dataset: the analytic costs alone
    with pytest.raises(ConstraintError, match=r"none\); give an analytic cost.*\(cost='params_mb_"):
        cost_vector(t, "cifar10", "latency_s")
    path = str(save_table(t, tmp_path / "t"))
    argv = ["constrained", "--table", path, "--split", "ori-test", "--epochs", "200"]
    argv += ["--cost", "params_mb", "--max-cost", "1", "--dataset"]
    assert main([*argv, "cifar10"]) == 2
    err_line = capsys.readouterr().err
    assert err_line.count("\n") == 1 and "stores params_mb for cifar10-valid: name one" in err_line
    assert err_line.endswith(
        "those (--dataset, whose accuracies are then the ones ranked), or give an analytic "
        "cost, computed for every "
        "cell of an NB201 dataset (--cost params_mb_analytic)\n"
    ), err_line
    assert main([*argv, "cifar10-valid"]) == 0


def test_analytic_costs_follow_the_tables_network_size() -> None:
    # a table retrained at C=4, N=1 (its space key says so) must not get NB201's C=16, N=5 costs
    key = MetricKey("cifar10", "ori-test", 6)
    small = Table(NB201, {(key, None): np.zeros(NB201.size)}, meta={"space_key": "nb201@C4N1#x"})
    own = analytic_costs(NB201, "cifar10", c=4, n=1)
    assert not np.allclose(own["params_mb"], analytic_costs(NB201, "cifar10")["params_mb"])
    for cost, column in [("params_mb_analytic", "params_mb"), ("flops_m_analytic", "flops_m")]:
        np.testing.assert_array_equal(cost_vector(small, "cifar10", cost), own[column])
    added = with_analytic_costs(small, epochs=6).vector("cifar10", "model", 6, "params_mb_analytic")
    np.testing.assert_array_equal(added, own["params_mb"])
    stored = small.with_vector(MetricKey("cifar10", "model", 6, "params_mb"), own["params_mb"])
    assert stored_vs_analytic(stored, "cifar10", epochs=6).empty


@pytest.mark.parametrize("key", ["nb201@c4n1", "nb201@C4#fast-bf16", "nb201@"])
def test_a_network_size_that_cannot_be_read_is_refused(key: str) -> None:
    # read as no suffix it would be costed as NB201's C=16, N=5 network
    from nb201_flat.costs import network_size
    from nb201_flat.errors import FormatError

    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 6), None): np.zeros(NB201.size)})
    t.meta["space_key"] = key
    with pytest.raises(FormatError, match="unrecognised network size"):
        network_size(t)


def test_cli_best_under_and_pareto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nb201_flat.cli import main

    acc = np.arange(27.0)
    size = np.where(acc > 20, 5.0, 1.0)
    path = save_table(_toy(acc, size), tmp_path / "t")
    base = ["constrained", "--table", str(path), "--dataset", "toy", "--split", "x-valid"]
    base += ["--epochs", "12", "--cost", "params_mb"]
    assert main([*base, "--max-cost", "2", "--top", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in doc["rows"]] == [20, 19]
    assert main([*base, "--pareto"]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "params_mb=1" in text and "params_mb=5" in text
    assert main([*base, "--max-cost", "0.1"]) == 2
    assert "error: no architecture" in capsys.readouterr().err
    assert main([*base, "--pareto", "--top", "3"]) == 2
    assert "--top applies to --max-cost" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--max-cost", "inf", "--json"], "--max-cost must be a finite number, got inf"),
        (["--max-cost", "nan"], "--max-cost must be a finite number, got nan"),
        (["--max-cost", "1", "--top", "0"], "--top must be >= 1, got 0"),  # not top, max_cost
        (["--pareto", "--top", "1"], "--top applies to --max-cost"),  # the default, given
    ],
)
def test_cli_limit_that_is_no_limit_and_top_with_pareto_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], fragment: str
) -> None:
    # --max-cost inf printed "max_cost": Infinity (invalid JSON); nan blamed the limit as too
    # low; --pareto --top 1 ignored --top
    from nb201_flat.cli import main

    path = save_table(_toy(np.arange(27.0), np.ones(27)), tmp_path / "t")
    base = ["constrained", "--table", str(path), "--dataset", "toy", "--split", "x-valid"]
    assert main([*base, "--epochs", "12", "--cost", "params_mb", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ")
    assert captured.err.count("\n") == 1 and fragment in captured.err


def test_frames_are_tidy() -> None:
    df = pareto_front(_toy(np.arange(27.0), np.ones(27)), "toy", "x-valid", 12, cost="params_mb")
    assert isinstance(df, pd.DataFrame) and df["index"].tolist() == [26]


@pytest.mark.parametrize("call", [best_under, pareto_front])
def test_frames_name_their_value_and_cost(call: Any) -> None:
    # the columns value and cost named neither the metric nor the cost they hold
    table = _toy(np.arange(27.0), np.ones(27))
    extra = {"max_cost": 2.0} if call is best_under else {}
    df = call(table, "toy", "x-valid", 12, cost="params_mb", **extra)
    assert df.attrs["value"] == str(MetricKey("toy", "x-valid", 12, "accuracy"))
    assert df.attrs["cost"] == "params_mb"


def test_cli_constrained_names_its_table_flag(capsys: pytest.CaptureFixture[str]) -> None:
    # it read the table itself and printed load_table's Python name: "pass path=PATH"
    from nb201_flat.cli import main

    argv = ["constrained", "--table", "", "--dataset", "cifar10", "--split", "ori-test"]
    assert main([*argv, "--epochs", "200", "--cost", "params_mb", "--max-cost", "1"]) == 2
    err = capsys.readouterr().err
    assert "pass --table PATH" in err and "path=" not in err


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # top=True kept one row and 1.5 raised a bare TypeError from the slice
        (
            lambda t: best_under(t, *_Q, cost="params_mb", max_cost=30, top=True),
            "^top must be >= 1",
        ),
        (lambda t: best_under(t, *_Q, cost="params_mb", max_cost=30, top=1.5), "^top must be >= 1"),
        # "no" is truthy: the best by the highest value, silently
        (
            lambda t: pareto_front(t, *_Q, cost="params_mb", higher_is_better="no"),
            "^higher_is_better must be True or False",
        ),
        (
            lambda t: best_under(t, *_Q, cost="params_mb", max_cost=30, higher_is_better="no"),
            "^higher_is_better must be True or False",
        ),
        # cost.endswith on a non-text: AttributeError; a table of another kind: AttributeError
        (lambda t: cost_vector(t, "toy", None), "^cost must be a str, got None$"),
        (lambda t: cost_vector(t, ["toy"], "params_mb"), r"^dataset must be a str, got \['toy'\]$"),
        (lambda t: cost_vector(t.data, "toy", "params_mb"), "^table must be a Table, got dict"),
        # epochs "12" matched no schedule, so the first stored one was read in silence
        (lambda t: cost_vector(t, "toy", "params_mb", epochs="12"), "^epochs must be >= 0"),
        # NaN was blamed as lo > hi; a list raised a bare TypeError
        (lambda t: cost_band(t, "toy", "params_mb", float("nan"), 5), "^lo must be a number"),
        (lambda t: cost_band(t, "toy", "params_mb", 1, [5]), r"^hi must be a number .*got \[5\]$"),
    ],
)
def test_a_wrong_kind_of_constraint_argument_names_its_parameter(call: object, match: str) -> None:
    from nb201_flat.errors import ArgumentError

    with pytest.raises(ArgumentError, match=match):
        call(_toy(np.arange(27.0), 27.0 - np.arange(27.0) % 9))  # type: ignore[operator]


_Q = ("toy", "x-valid", 12)


def test_an_infinite_band_end_is_an_open_one() -> None:
    t = _toy(np.arange(27.0), 27.0 - np.arange(27.0) % 9)
    assert cost_band(t, "toy", "params_mb", -np.inf, np.inf).all()
    assert cost_band(t, "toy", "params_mb", 26, np.inf).sum() == 6


# -- cells with a metric but no stored cost (a partial import, a results database) -----------
def _holed_table(tmp_path: Path) -> tuple[Path, int]:
    """A synthetic NB201 table with stored cifar100 params_mb for every cell but the best one by
    x-valid accuracy; returns its folder and that cell."""
    from nb201_flat.testing import synthetic_table

    t = synthetic_table()
    best = int(np.nanargmax(t.vector("cifar100", "x-valid", 200)))
    params = analytic_costs(NB201, "cifar100")["params_mb"].to_numpy(dtype=float, copy=True)
    params[best] = np.nan
    t = t.with_vector(MetricKey("cifar100", "model", 200, "params_mb"), params)
    return save_table(t, tmp_path / "t"), best


def test_cli_says_how_many_cells_had_no_stored_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the answer was a worse cell than the true best, which has no params_mb, and nothing said so
    from nb201_flat.cli import main

    path, best = _holed_table(tmp_path)
    base = ["constrained", "--table", str(path), "--dataset", "cifar100", "--split", "x-valid"]
    base += ["--epochs", "200", "--max-cost", "100"]
    assert main([*base, "--cost", "params_mb"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert int(lines[1].split()[0]) != best
    assert lines[-1] == (
        "note: 1 cell with a measured accuracy has no stored params_mb and was left out; "
        "--cost params_mb_analytic covers every cell"
    )
    for what in (["--max-cost", "100"], ["--pareto"]):
        argv = [*base[:-2], "--cost", "params_mb", *what, "--json"]
        assert main(argv) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["left_out_without_cost"] == 1 and "params_mb_analytic" in doc["notes"][0]
    # the fix the note names finds the best cell, and says nothing is left out
    assert main([*base, "--cost", "params_mb_analytic", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows"][0]["index"] == best
    assert doc["left_out_without_cost"] == 0 and doc["notes"] == []
    assert doc["left_out_unmeasured"] == 0


def test_cli_says_how_many_cells_were_never_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a sparse table ranked its measured cells only, with no note: the best, unmeasured, unseen
    from nb201_flat.cli import main
    from nb201_flat.testing import synthetic_table

    t = synthetic_table()
    key = MetricKey("cifar100", "x-valid", 200)
    acc = t.vector_for(key).copy()
    acc[::2] = np.nan
    path = save_table(t.with_vector(key, acc), tmp_path / "t")
    base = ["constrained", "--table", str(path), "--dataset", "cifar100", "--split", "x-valid"]
    base += ["--epochs", "200", "--cost", "params_mb_analytic"]
    said = (
        f"{(NB201.size + 1) // 2} of {NB201.size} cells have no measured accuracy under "
        "cifar100/x-valid@200 and were left out: the answer is the best of the measured cells"
    )
    for what in (["--max-cost", "100"], ["--pareto"]):
        assert main([*base, *what]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == f"note: {said}"
        assert main([*base, *what, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["left_out_unmeasured"] == (NB201.size + 1) // 2 and doc["notes"] == [said]
    # the library's frames count them too
    from nb201_flat.constraints import best_under, pareto_front
    from nb201_flat.storage import load_table

    holed = load_table(path)
    args = ("cifar100", "x-valid", 200)
    for df in (
        best_under(holed, *args, cost="params_mb_analytic", max_cost=100),
        pareto_front(holed, *args, cost="params_mb_analytic"),
    ):
        assert df.attrs["unmeasured"] == (NB201.size + 1) // 2


def test_no_measured_cell_with_a_cost_is_refused_naming_an_analytic_cost() -> None:
    acc = np.where(np.arange(27) < 10, np.arange(27.0), np.nan)
    size = np.where(np.arange(27) < 10, np.nan, 1.0)
    t = _toy(acc, size)
    for call in (
        lambda: best_under(t, "toy", "x-valid", 12, cost="params_mb", max_cost=2.0),
        lambda: pareto_front(t, "toy", "x-valid", 12, cost="params_mb"),
    ):
        with pytest.raises(ConstraintError) as err:
            call()
        assert str(err.value) == (
            "none of the 10 cells with a measured accuracy has a stored params_mb; give an "
            "analytic cost, computed for every cell: cost='params_mb_analytic'"
        )
    # a few cells without a cost: counted, not refused
    size = size.copy()  # the table holds it read-only
    size[:3] = 1.0
    df = best_under(_toy(acc, size), "toy", "x-valid", 12, cost="params_mb", max_cost=2.0)
    assert df["index"].tolist() == [2] and df.attrs["unpriced"] == 7


def test_a_stored_metric_that_is_no_cost_is_named_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # time_s was refused as "stores no cost 'time_s' for cifar100" beside a stored time_s
    from nb201_flat.cli import main
    from nb201_flat.testing import synthetic_table

    t = synthetic_table()
    with pytest.raises(ConstraintError) as err:
        cost_vector(t, "cifar100", "time_s")
    assert str(err.value).startswith(
        "'time_s' is not a cost metric (the table stores time_s for cifar100 under split train, "
        "not as a model's cost, split 'model'); give one of params_mb, flops_m, latency_s"
    )
    path = save_table(t, tmp_path / "t")
    argv = ["constrained", "--table", str(path), "--dataset", "cifar100", "--split", "x-valid"]
    assert main([*argv, "--epochs", "200", "--cost", "time_s", "--max-cost", "1e9"]) == 2
    err_line = capsys.readouterr().err
    assert "is not a cost metric" in err_line and "stores no cost" not in err_line
    # a model metric of the user's own is still a cost
    own = t.with_vector(MetricKey("cifar100", "model", 200, "energy_j"), np.ones(NB201.size))
    assert (cost_vector(own, "cifar100", "energy_j") == 1).all()


def test_what_best_under_cannot_serve_names_the_real_cause() -> None:
    # an analytic name that is none: a bare KeyError ('param_mb')
    t = _toy(np.arange(27.0), np.ones(27))
    for cost in ("param_mb_analytic", "latency_s_analytic"):
        with pytest.raises(ConstraintError, match=f"'{cost}' is not a cost metric"):
            best_under(t, "toy", "x-valid", 12, cost=cost, max_cost=1.0)
    # no measured value at all: "the smallest params_mb is nan: raise max_cost" could not help
    empty = _toy(np.full(27, np.nan), np.ones(27))
    with pytest.raises(ConstraintError, match="no architecture has a measured accuracy at toy"):
        best_under(empty, "toy", "x-valid", 12, cost="params_mb", max_cost=2.0)
    # a dataset of unknown shape: the fix is with_analytic_costs' shapes=, not this call's
    with pytest.raises(UnknownKeyError, match=r"with_analytic_costs\(table, \['toy'\], shapes="):
        best_under(t, "toy", "x-valid", 12, cost="flops_m_analytic", max_cost=5.0)


def test_the_note_for_naslib_flops_names_each_analytic_cost_as_a_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "--cost params_mb_analytic or flops_m_analytic": the second was no flag to copy
    from nb201_flat.cli import main
    from nb201_flat.testing import synthetic_table

    t = synthetic_table()
    flops = analytic_costs(NB201, "cifar100")["flops_m"].to_numpy(dtype=float, copy=True)
    flops[int(np.nanargmax(t.vector("cifar100", "x-valid", 200)))] = np.nan
    t = t.with_vector(MetricKey("cifar100", "model", 200, "flops_m_naslib"), flops)
    path = save_table(t, tmp_path / "t")
    argv = ["constrained", "--table", str(path), "--dataset", "cifar100", "--split", "x-valid"]
    argv += ["--epochs", "200", "--max-cost", "100", "--cost", "flops_m_naslib"]
    assert main(argv) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith(
            "left out; --cost params_mb_analytic or --cost flops_m_analytic covers every cell"
        )
    )
