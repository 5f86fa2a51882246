"""``reproduce`` prints each verdict's number of pairs and gives none from too few;
``search`` states the key each protocol searched and its budget.

``reproduce --runs 2`` printed 'contradicted' from 2-run CIs and no line said n (paired.csv
alone had it); ``search --budget-scale 3`` printed 325.8 queries under "nb201" and nothing
said the budget was 36,000 s (only --json carried the protocols' descriptions).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from nb201_flat.cli import build_parser, main
from nb201_flat.search import statistics as st
from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def like_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("audit10") / "like.nb201"))


def _reproduce(capsys: pytest.CaptureFixture[str], path: str, out: Path, runs: int) -> list[str]:
    argv = ["reproduce", "--runs", str(runs), "--protocols", "nb201", "--search-epochs", "12"]
    argv += ["--rerank-top-k", "0", "--jobs", "1", "--table", path, "--out", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line for line in lines if re.search(r"\] .* vs [+-]\d", line)]
    assert verdicts, lines
    return verdicts


def test_reproduce_prints_n_and_no_verdict_from_few_runs(
    capsys: pytest.CaptureFixture[str], like_path: str, tmp_path: Path
) -> None:
    for line in _reproduce(capsys, like_path, tmp_path / "few", 3):
        assert "(n=3) vs " in line and line.endswith(f": {st.FEW_RUNS_VERDICT}"), line
    for line in _reproduce(capsys, like_path, tmp_path / "enough", st.MIN_RUNS_VERDICT):
        assert f"(n={st.MIN_RUNS_VERDICT}) vs " in line, line
        assert re.search(r": (reproduced|contradicted|inconclusive)$", line), line


def test_reproduce_help_states_the_fewest_runs_of_a_verdict() -> None:
    # the description writes the number out (statistics is not imported to build parsers)
    parser = build_parser("reproduce")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["reproduce"].description
    assert f"none for a row of fewer than {st.MIN_RUNS_VERDICT} paired runs" in text, text


@pytest.mark.parametrize(
    ("flags", "budgets"),
    [
        (["--budget-scale", "3"], ["budget 36,000 s"]),  # 12,000 s x 3, at 12 epochs
        (["--protocol", "fixed-n", "--fixed-n", "7"], ["budget 7 queries"] * 3),
    ],
)
def test_search_text_names_each_protocols_search_key_and_budget(
    capsys: pytest.CaptureFixture[str], like_path: str, flags: list[str], budgets: list[str]
) -> None:
    argv = ["search", "--algo", "rs", "--runs", "3", "--jobs", "1", "--table", like_path, *flags]
    assert main([*argv, "--json"]) == 0
    described = json.loads(capsys.readouterr().out)["protocols"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    shown = [line for line in text.splitlines() if line.startswith("protocol ")]
    assert shown == [f"protocol {d}" for d in described], text
    assert re.findall(r"budget [\d,.]+ \w+", "\n".join(shown)) == budgets
    assert all(" search " in line for line in shown)
