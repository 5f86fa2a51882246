"""A twelfth audit's findings (second part) on a table measured on part of its cells, each
reproduced first: the budget-matched controls' runs with no test value are noted as the grid's
are, the Accounting section's paired CIs say over how many pairs, and ``a2m_paths`` skips,
naming the pair and the key, where one of A²M's fixed endpoints is not measured."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import FigureSkipped
from nb201_flat.figures.paths import make_a2m_paths
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.report import render_markdown
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

REPORTED = MetricKey("cifar10", "ori-test", 200, "accuracy")


def _unmeasured(table: Table, cells: np.ndarray) -> Table:
    values = np.array(table.vector_for(REPORTED), dtype=np.float64)
    values[cells] = np.nan
    return table.with_vector(REPORTED, values)


@pytest.fixture(scope="module")
def partial(nb201_like: Table) -> Table:
    """``nb201_like`` with CIFAR-10's test accuracy unmeasured on 30 % of the cells, all but
    the best 100 (the controls' long searches end there: each keeps a CI)."""
    rng = np.random.default_rng(1)
    cells = rng.random(nb201_like.space.size) < 0.3
    cells[np.argsort(nb201_like.vector_for(REPORTED))[-100:]] = False
    return _unmeasured(nb201_like, cells)


# -- 4: the controls' unmeasured picks are noted, the Accounting CIs give their n ------------
@pytest.fixture(scope="module")
def partial_report(partial: Table) -> tuple[object, str]:
    res = reproduce(partial, ReproduceConfig.quick(runs=12, n_boot=100))
    return res, render_markdown(res)


def test_a_control_with_runs_of_no_test_value_is_noted(partial_report: tuple[object, str]) -> None:
    res, text = partial_report
    summary = res.summary  # type: ignore[attr-defined]
    controls = summary[summary["algorithm"].str.contains(r"\(budget of ", regex=True)]
    short = controls[controls["n"] < 12]
    assert not short.empty  # the finding's case: a control's mean over part of its runs
    for prot, algo, n in short[["protocol", "algorithm", "n"]].itertuples(index=False):
        note = (
            f"{prot} {algo}: {12 - n} of 12 runs have no {REPORTED} value (their pick was never "
            f"measured there, or they found nothing); its mean covers the other {n}"
        )
        assert note in text, note


def test_every_accounting_ci_names_its_pairs(partial_report: tuple[object, str]) -> None:
    res, text = partial_report
    acc = res.accounting  # type: ignore[attr-defined]
    assert (acc["n"] < 12).any()  # pairs fewer than the runs, which a CI alone hides
    section = text.split("## Accounting")[1].split("\n## ")[0]
    pivot = section.split("### NA-RS, neighbours free")[1].split("###")[0]
    cis = re.findall(r"[+-]\d+\.\d\d \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\]", pivot)
    with_n = re.findall(r"[+-]\d+\.\d\d \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\], n = \d+", pivot)
    assert cis and len(with_n) == len(cis)
    free = acc[(acc["neighbours"] == "free") & acc["comparison"].str.startswith("NA-RS − RS")]
    row = free.iloc[0]
    shown = f"{row['diff']:+.2f} [{row['ci_lo']:+.2f}, {row['ci_hi']:+.2f}], n = {row['n']}"
    assert shown in pivot
    # the NA-REA / NA-LS table: an n column beside its CIs
    rel = section.split("### NA-REA and NA-LS")[1].split("\n\nBudgets")[0]
    head = next(line for line in rel.splitlines() if line.startswith("| protocol"))
    assert "| n | diff [CI] |" in head


# -- 5: a2m_paths skips, naming the pair and the key, where an endpoint is unmeasured --------
def test_a2m_paths_skips_naming_the_pair_and_key(nb201_like: Table) -> None:
    table = _unmeasured(nb201_like, np.array([81]))
    with pytest.raises(FigureSkipped) as err:
        make_a2m_paths(table)
    text = str(err.value)
    assert f"A²M's CIFAR-10 pair (81, 1459) measured on {REPORTED} (81 has no value)" in text
    assert "(0, 163)" not in text  # only the pairs it cannot draw
    assert "nb201-flat train" in text  # a fix that exists


def test_figures_only_a2m_paths_says_which_pair_is_unmeasured(
    nb201_like: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "architecture 81 has no value (NaN) for this metric; choose a measured one":
    # no metric named, and figures has no way to choose A²M's endpoints
    path = tmp_path / "partial.nb201"
    save_table(_unmeasured(nb201_like, np.array([163])), path)
    argv = ["figures", "--out", str(tmp_path / "f"), "--table", str(path), "--only", "a2m_paths"]
    assert main([*argv, "--formats", "png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"A²M's CIFAR-10 pair (0, 163) measured on {REPORTED} (163 has no value)" in err
    assert "choose a measured one" not in err
    assert err.endswith("or leave a2m_paths out of --only\n"), err
    assert not (tmp_path / "f").exists()
