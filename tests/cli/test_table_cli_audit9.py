"""A ninth audit of ``query``, ``record`` and ``constrained``: the seeds measured at a cell are
said whether or not the key stores a mean (the same mean of two of three seeds was flagged
in one layout only); one stored value is not called a mean; an unmeasured seed's refusal
names the flags that serve the cell; ``constrained`` states a ranking direction against the
metric's; every decimal option reads the digits 0-9 (``--max-cost=0_5`` read 5.0)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.cli import COMMANDS, build_parser, common, main
from nb201_flat.cli.common import subparser
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import FloatArray, MetricKey, Table

KEY = MetricKey("cifar100", "x-valid", 200)
ONE = MetricKey("cifar10", "ori-test", 200)  # one stored value per cell, as AnalogNAS-Bench's
CELL = 11472  # measured at seeds 0 and 1, not 2
QUERY = ("query", str(CELL), "--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")


def _table(mean_row: bool) -> Table:
    n = NB201.size
    seeds = [np.full(n, 70.0), np.full(n, 71.0), np.full(n, 72.0)]
    seeds[0][CELL], seeds[1][CELL], seeds[2][CELL] = 70.58, 70.42, np.nan
    data: dict[tuple[MetricKey, int | None], FloatArray] = {
        (KEY, s): v for s, v in enumerate(seeds)
    }
    if mean_row:  # NB201's layout: the mean of the seeds measured, stored
        data[(KEY, None)] = np.nanmean(np.stack(seeds), axis=0)
    data[(ONE, None)] = np.linspace(10.0, 94.0, n)
    return Table(NB201, data, source="audit9")


@pytest.fixture(scope="module", params=[True, False], ids=["mean-row", "no-mean-row"])
def layout(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("t") / "t.nb201"
    return str(save_table(_table(request.param), path))


@pytest.fixture(scope="module")
def with_mean(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(_table(True), tmp_path_factory.mktemp("m") / "t.nb201"))


def test_query_says_the_seeds_measured_in_either_layout(
    capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    # with the mean row stored: "[mean] = 70.5000" and "seeds_averaged": null, no word of seed 2
    code, out, err = run(capsys, *QUERY, "--table", layout)
    assert code == 0, err
    line = out.rstrip()
    assert " = 70.5000  [" in line and line.endswith("0, 1 only; not measured at seed 2]")
    code, out, _ = run(capsys, *QUERY, "--table", layout, "--json")
    doc = json.loads(out)
    assert (doc["seeds_measured"], doc["seeds_unmeasured"]) == ([0, 1], [2])
    computed = doc["values_read"] == "mean over stored seeds"
    assert doc["values_read"] in ("stored value", "mean over stored seeds")
    # a stored value cannot say what it averaged: only a computed mean names its seeds
    assert doc["seeds_averaged"] == ([0, 1] if computed else None)
    label = (
        "[mean] = 70.5000  [mean of seeds"
        if computed
        else "[stored value] = 70.5000  [measured here at seeds"
    )
    assert label in line


def test_record_says_the_seeds_measured_in_either_layout(
    capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    code, out, err = run(capsys, "record", str(CELL), "--table", layout)
    assert code == 0, err
    row = next(x for x in out.splitlines() if "x-valid" in x)
    assert "0:70.5800 1:70.4200" in row and row.endswith("not measured at 2]")
    code, out, _ = run(capsys, "record", str(CELL), "--table", layout, "--json")
    (entry,) = [e for e in json.loads(out)["entries"] if e["split"] == "x-valid"]
    assert entry["seeds_unmeasured"] == [2] and entry["value"] == pytest.approx(70.5)


def test_one_stored_value_is_not_called_a_mean(
    capsys: pytest.CaptureFixture[str], with_mean: str
) -> None:
    # "[mean] = 93.4416" of AnalogNAS-Bench's one value per cell; seed_words' rule is the rule
    key = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
    code, out, _ = run(capsys, "query", "5", *key, "--table", with_mean)
    assert code == 0 and "[stored value] = " in out and "[mean]" not in out
    code, out, _ = run(capsys, "query", "5", *key, "--table", with_mean, "--json")
    assert json.loads(out)["values_read"] == "stored value"
    code, out, _ = run(capsys, "record", "5", "--table", with_mean)
    head, *rows = out.splitlines()[1:]
    assert "mean" not in head.split() and "value" in head.split()
    (row,) = [r for r in rows if "ori-test" in r]
    assert row.split()[-2:] == ["stored", "-"]
    code, out, _ = run(capsys, "record", "5", "--table", with_mean, "--json")
    (entry,) = [e for e in json.loads(out)["entries"] if e["split"] == "ori-test"]
    assert entry["values_read"] == "stored value" and "mean" not in entry


def test_an_unmeasured_seed_names_the_flags_that_serve_the_cell(
    capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    # it said only "stored seeds with a value for it: 0, 1", naming no flag
    for extra in ((), ("--json",)):
        line = one_line_exit_2(capsys, *QUERY, "--seed-policy", "2", *extra, "--table", layout)
        assert line.endswith(
            "stored seeds with a value for it: 0, 1; pass --seed-policy 0 or --seed-policy mean"
        ), line


@pytest.mark.parametrize("pareto", [False, True])
def test_constrained_states_a_direction_against_the_metric(
    capsys: pytest.CaptureFixture[str], with_mean: str, pareto: bool
) -> None:
    # the worst cells were printed as "best" with no word of --lower-is-better
    argv = ["constrained", "--dataset", "cifar100", "--split", "x-valid", "--epochs", "200"]
    argv += ["--cost", "params_mb_analytic", "--table", with_mean]
    argv += ["--pareto"] if pareto else ["--max-cost", "2"]
    code, out, err = run(capsys, *argv, "--lower-is-better")
    assert code == 0, err
    head = out.splitlines()[0]
    assert "lower is better (--lower-is-better; accuracy is higher-is-better by name)" in head
    code, out, _ = run(capsys, *argv)  # the metric's own direction: not said
    assert "is better" not in out.splitlines()[0]


def float_options() -> Iterator[tuple[str, argparse.Action]]:
    """(command, action) of every option of every command whose value is a decimal number."""
    for command in COMMANDS:
        parser = subparser(build_parser(command), command)
        for action in parser._actions:
            # by name: float, or the one parser of decimal options (parse_float)
            kind = getattr(action.type, "__name__", None)
            if action.option_strings and kind in ("float", "parse_float"):
                yield command, action


def _cases() -> list[object]:
    cases: list[object] = []
    for command, action in float_options():
        option = action.option_strings[-1]
        cases.append(pytest.param(command, option, id=f"{command}{option}"))
    return cases


@pytest.mark.parametrize(("command", "option"), _cases())
def test_every_decimal_option_reads_the_digits_0_9(
    capsys: pytest.CaptureFixture[str], command: str, option: str
) -> None:
    for text in ("0_5", "\u0661", " 5", "+5", "5 ", "0x10", ""):
        with pytest.raises(SystemExit) as info:
            main([command, f"{option}={text}"])
        assert info.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and f"argument {option}" in lines[0], lines
        assert "digits 0-9" in lines[0] and repr(text) in lines[0], lines


def test_the_decimal_parser_reads_what_float_reads_in_plain_digits() -> None:
    for text in ("0.5", "-2", ".5", "5.", "1e-3", "2E+2", "inf", "nan"):
        got, want = common.parse_float(text), float(text)
        assert got == want or (np.isnan(got) and np.isnan(want))
    assert {c for c, _ in float_options()} >= {"constrained", "flatness"}


def test_max_cost_in_other_digits_is_refused_not_read(
    capsys: pytest.CaptureFixture[str], with_mean: str
) -> None:
    # --max-cost=0_5 was read as 5.0, --max-cost=١ as 1.0, and answered
    argv = ["constrained", "--dataset", "cifar100", "--split", "x-valid", "--epochs", "200"]
    argv += ["--cost", "params_mb_analytic", "--table", with_mean]
    for text in ("0_5", "\u0661"):
        with pytest.raises(SystemExit):
            main([*argv, f"--max-cost={text}"])
        out, err = capsys.readouterr()
        assert out == "" and "argument --max-cost: invalid float value" in err
