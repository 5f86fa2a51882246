"""``nb201-flat flatness``: the ranking direction, the neighbourhood and the seed policy it used,
each stated in the text, and a spread ranked flattest first.

Reviewer R3: ``--agg std --sort-by score`` listed the widest spread first as best; the header
said "neighbours at distance =1" whatever --include-self/--no-none/--connected-only did;
--lower-is-better on an accuracy was taken silently; a cost or a spread (time_s, *_std) was
ranked as if higher were better; the values' seed policy was never stated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.cli.common import higher_is_better
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = ("--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    acc = (NB201.codes == 3).sum(axis=1) * 10.0 + rng.normal(0, 3, NB201.size)
    k = MetricKey("cifar100", "x-valid", 200)
    data = {
        (k, None): acc,
        (MetricKey("cifar100", "x-valid", 200, "loss"), None): 100 - acc,
        (MetricKey("cifar100", "x-valid", 200, "time_s"), None): rng.uniform(1, 9, NB201.size),
        # per-seed values only: the mean is computed over them
        (MetricKey("cifar100", "x-test", 200), 0): acc,
        (MetricKey("cifar100", "x-test", 200), 1): acc + 1,
    }
    return save_table(Table(NB201, data, source="labels-test"), tmp_path / "t.nb201")


def run(capsys: pytest.CaptureFixture[str], table: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["flatness", *argv, "--table", str(table)])
    out, err = capsys.readouterr()
    return code, out, err


def test_agg_std_score_ranks_the_flattest_spread_first(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    args = (*KEY, "--top", "20", "--agg", "std", "--sort-by", "score")
    for metric in ("accuracy", "loss"):  # a spread: lowest first whatever the metric
        code, out, _ = run(capsys, table_path, *args, "--metric", metric, "--json")
        assert code == 0
        payload = json.loads(out)
        scores = [r["score"] for r in payload["rows"]]
        assert scores == sorted(scores) and scores[0] < scores[-1]
        assert [r["score"] for r in payload["rows"]] == [r["std"] for r in payload["rows"]]
        assert payload["sort_order"] == "lowest first"
    code, out, _ = run(capsys, table_path, *args)
    assert code == 0 and "sorted by score, lowest first" in out.splitlines()[1]


def test_header_names_the_whole_neighbourhood(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    _, plain, _ = run(capsys, table_path, *KEY, "--arch", "9930")
    flags = ("--include-self", "--no-none", "--connected-only")
    _, narrowed, _ = run(capsys, table_path, *KEY, "--arch", "9930", *flags)
    assert "neighbours: distance exactly 1, the cell itself excluded; rows" in plain
    assert (
        "neighbours: distance exactly 1, the cell itself included, none substitutions dropped, "
        "disconnected neighbours dropped; rows: as given" in narrowed
    )


def test_a_direction_against_the_metric_is_stated(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, natural, _ = run(capsys, table_path, *KEY, "--top", "3")
    assert code == 0 and "is better" not in natural and "highest first" in natural
    code, out, _ = run(capsys, table_path, *KEY, "--top", "3", "--lower-is-better")
    assert code == 0
    head = out.splitlines()[0]
    assert head.endswith(
        "; lower is better (--lower-is-better; accuracy is higher-is-better by name)"
    )
    assert "top 3 by value, lowest first" in out.splitlines()[1]
    _, js, _ = run(capsys, table_path, *KEY, "--top", "3", "--lower-is-better", "--json")
    assert json.loads(js)["higher_is_better"] is False


def test_a_direction_nothing_is_ranked_by_is_refused(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    for extra in ((), ("--sort-by", "std")):
        code, out, err = run(capsys, table_path, *KEY, "--arch", "7", "--lower-is-better", *extra)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "--lower-is-better applies only where rows are ranked" in err
    code, _, _ = run(
        capsys, table_path, *KEY, "--arch", "7", "--lower-is-better", "--sort-by", "mean"
    )
    assert code == 0


def test_min_of_a_loss_is_said_to_be_the_best_neighbour(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, out, _ = run(capsys, table_path, *KEY, "--metric", "loss", "--sort-by", "min")
    assert code == 0 and "here the best neighbour" in out.splitlines()[1]
    code, out, _ = run(capsys, table_path, *KEY, "--sort-by", "min")  # an accuracy's worst
    assert code == 0 and "best neighbour" not in out
    with pytest.raises(SystemExit):
        main(["flatness", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "a loss's best, whose worst is --agg max --sort-by score" in help_text


@pytest.mark.parametrize(
    "metric", ["time_s", "drift_1d_std", "params_mb", "flops_m", "val_loss", "gloss"]
)
def test_a_metric_without_a_natural_direction_needs_one(metric: str) -> None:
    ns = argparse.Namespace(metric=metric, lower_is_better=None)
    with pytest.raises(ValueError, match="--higher-is-better or --lower-is-better"):
        higher_is_better(ns)
    assert higher_is_better(argparse.Namespace(metric=metric, lower_is_better=False))


def test_ranking_a_cost_is_refused_until_a_direction_is_given(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    args = (*KEY, "--metric", "time_s", "--top", "3")
    code, out, err = run(capsys, table_path, *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "'time_s' has no natural ranking direction" in err and "--higher-is-better" in err
    for flag, order in (("--higher-is-better", -1), ("--lower-is-better", 1)):
        code, out, _ = run(capsys, table_path, *args, flag, "--json")
        values = [r["value"] for r in json.loads(out)["rows"]]
        assert code == 0 and values == sorted(values, key=lambda v: order * v)
        code, out, _ = run(capsys, table_path, *args, flag)
        assert f"({flag})" in out.splitlines()[0]
    # a spread's order needs no direction
    code, _, _ = run(
        capsys, table_path, *KEY, "--metric", "time_s", "--arch", "1", "2", "--sort-by", "std"
    )
    assert code == 0


def test_the_seed_policy_is_stated(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    _, out, _ = run(capsys, table_path, *KEY, "--top", "1")
    assert (
        "; value: the table's one stored value per cell (no per-seed values)" in out.splitlines()[0]
    )
    test = ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")
    _, out, _ = run(capsys, table_path, *test, "--top", "1")
    assert "; value: mean over the 2 stored seeds" in out.splitlines()[0]
    _, js, _ = run(capsys, table_path, *test, "--top", "1", "--json")
    assert json.loads(js)["seed_policy"] == "mean"


def test_an_index_out_of_range_names_the_fix(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, out, err = run(capsys, table_path, *KEY, "--arch", "99999")
    assert code == 2 and out == ""
    assert err == "error: index 99999 out of range 0..15624; use an index in that range\n"


def test_a_top_past_the_measured_cells_says_it_lists_them_all(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, out, _ = run(capsys, table_path, *KEY, "--top", "100000")
    rows = out.splitlines()
    n_rows = sum(1 for line in rows if line.split()[:1] and line.split()[0].isdigit())
    assert code == 0 and n_rows < 100000
    assert f"rows: all {n_rows:,} measured cells by value, highest first" in rows[1]
    # --limit cuts the listing after the top: its rows are no "all"
    code, out, _ = run(capsys, table_path, *KEY, "--top", "100000", "--limit", "3")
    assert code == 0 and f"rows: all {n_rows:,} measured cells by value" in out.splitlines()[1]
    code, out, _ = run(capsys, table_path, *KEY, "--top", "5", "--limit", "3")
    assert code == 0 and "rows: top 5 by value, highest first" in out.splitlines()[1]
