"""An audit's findings on searching a retrained table (one that records its space key): NB201's
time budgets charged against its own training times, and the refusal of unmeasured search cells
naming a key the search has no option to pick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.conventions import search_key, servable_protocols
from nb201_flat.errors import ProtocolError
from nb201_flat.search import (
    RandomSearch,
    nb201_protocol,
    per_dataset_protocols,
    protocols_by_name,
    run_search,
)
from nb201_flat.storage import save_table
from nb201_flat.table import Table
from nb201_flat.testing import synthetic_table

SPACE_KEY = "nb201@C4N1#faithful"


def _line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one error line of a refused command (exit 2, no traceback)."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _retrained(table: Table) -> Table:
    """``table``'s numbers as a retraining database's import holds them: its space key."""
    return Table(table.space, table.data, source="retrained", meta={"space_key": SPACE_KEY})


@pytest.fixture(scope="module")
def like() -> Table:
    return synthetic_table()


@pytest.fixture(scope="module")
def retrained(like: Table) -> Table:
    return _retrained(like)


@pytest.fixture(scope="module")
def retrained_path(retrained: Table, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(retrained, tmp_path_factory.mktemp("audit12b") / "retrained.nb201"))


# -- 1: NB201's time budgets are NB201's seconds ----------------------------------------------
@pytest.mark.parametrize("protocol", ["nb201", "per-dataset"])
def test_search_refuses_a_built_in_time_budget_on_retrained_times(
    retrained_path: str, protocol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # per-dataset at 200 epochs charged 15,154 queries a run on ~20 s cells (the whole space
    # and more; 181.5 on NB201's own times), exit 0, with a note that it afforded as many
    # queries as at 12 epochs
    for epochs in ("12", "200"):
        line = _line(
            capsys,
            *("search", "--algo", "rs", "--protocol", protocol, "--search-epochs", epochs),
            *("--runs", "2", "--jobs", "1", "--table", retrained_path),
        )
        assert line == (
            f"error: {protocol} has a built-in time budget in seconds of NB201's own training, "
            f"but table 'retrained' holds retrained times (space '{SPACE_KEY}'), against which "
            "it buys a search of another size; use a query budget instead (--protocol fixed-n "
            "--fixed-n N)"
        ), line
    # --budget-scale multiplies NB201's seconds: still refused
    _line(capsys, "search", "--algo", "rs", "--budget-scale", "0.01", "--table", retrained_path)


def test_the_query_budget_it_names_runs(
    retrained_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "10", "--runs", "2"]
    assert main([*argv, "--jobs", "1", "--table", retrained_path]) == 0
    assert "10 queries charged" in capsys.readouterr().out


def test_reproduce_refuses_them_before_any_run(
    retrained_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # reproduce --quick --protocols per-dataset printed confidence intervals beside the
    # paper's claims from budgets that bought the whole space
    out = tmp_path / "out"
    line = _line(
        capsys,
        *("reproduce", "--quick", "--protocols", "per-dataset,fixed-n", "--out", str(out)),
        *("--table", retrained_path),
    )
    assert line.startswith("error: per-dataset has a built-in time budget in seconds of NB201's")
    assert line.endswith("use a query budget instead (--fixed-n N --protocols fixed-n)"), line
    assert not out.exists()


def test_python_refuses_built_in_budgets_and_serves_a_given_one(retrained: Table) -> None:
    built_in = [
        nb201_protocol(),
        nb201_protocol(epochs=200),
        *per_dataset_protocols(),
        *protocols_by_name("nb201", retrained, budget_scale=2),
        *protocols_by_name("per-dataset", retrained, epochs=200),
    ]
    for p in built_in:
        with pytest.raises(ProtocolError) as info:
            run_search(retrained, p, RandomSearch(), runs=2)
        # the seconds only where the caller's own parameter sets them (nb201_protocol's, not
        # a builder's budget_scale); the query budget by a function that takes one (it named
        # n=N protocol='fixed-n', which no function takes together)
        own = "give a budget in the table's own seconds (budget_seconds), or "
        assert str(info.value) == (
            f"{p.name} has a built-in time budget in seconds of NB201's own training, but "
            f"table 'retrained' holds retrained times (space '{SPACE_KEY}'), against which it "
            f"buys a search of another size; {own if p.budget_by is None else ''}use a query "
            "budget instead (fixed_n_protocols(table, n))"
        )
    # the fix it names: a budget in the table's own seconds
    own = [nb201_protocol(budget_seconds=20_000.0), per_dataset_protocols()[1]]
    own[1] = own[1].replace(budget_seconds=40_000.0)
    res = run_search(retrained, own, RandomSearch(), runs=2)
    assert len(res.runs[["protocol", "run"]].drop_duplicates()) == 4
    assert servable_protocols(retrained) == ("fixed-n",)


def test_nb201_tables_are_served_as_before(like: Table) -> None:
    assert servable_protocols(like) == ("nb201", "per-dataset", "fixed-n")
    res = run_search(like, nb201_protocol(), RandomSearch(), runs=2)
    assert res.runs["run"].nunique() == 2
    assert nb201_protocol().benchmark_budget
    assert not nb201_protocol().replace(budget_seconds=100.0).benchmark_budget


# -- 6: the unmeasured-cells refusal names fixes that exist -----------------------------------
def _partial(table: Table) -> Table:
    """The 200-epoch CIFAR-10 validation accuracy measured on a few cells (a retraining under
    way), the 12-epoch one on every cell."""
    key = search_key("cifar10", 200)
    holes = np.ones(table.space.size, dtype=bool)
    holes[:30] = False
    data = {
        (k, s): (np.where(holes, np.nan, v) if k == key else v) for (k, s), v in table.data.items()
    }
    return Table(table.space, data, source="retrained", meta={"space_key": SPACE_KEY})


def test_unmeasured_cells_name_the_searched_key_and_real_fixes(
    like: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "search a key measured on every architecture", which search has no option for
    path = str(save_table(_partial(like), tmp_path / "partial.nb201"))
    line = _line(
        capsys,
        *(
            "search",
            "--algo",
            "rs",
            "--protocol",
            "fixed-n",
            "--search-epochs",
            "200",
            "--fixed-n",
            "10",
        ),
        *("--runs", "3", "--table", path),
    )
    assert line == (
        "error: protocol 'fixed-n:cifar10-valid@200ep': 15,595 of the 15,625 architectures have "
        "no cifar10-valid/x-valid@200ep:accuracy value (e.g. cell 30), so each query of one "
        "would be charged and return NaN; search a schedule measured on every one "
        "(--search-epochs 12), train the missing cells (`nb201-flat train ... --db FILE`) and import them again "
        "(`nb201-flat import SOURCE --out TABLE`), or use another --table"
    ), line
    # the schedule it names is served
    argv = [
        "search",
        "--algo",
        "rs",
        "--protocol",
        "fixed-n",
        "--search-epochs",
        "12",
        "--fixed-n",
        "10",
    ]
    assert main([*argv, "--runs", "2", "--jobs", "1", "--table", path]) == 0
    capsys.readouterr()


def test_python_names_its_keywords(like: Table) -> None:
    p = protocols_by_name("fixed-n", _partial(like), epochs=200)[0]
    with pytest.raises(ProtocolError) as info:
        p.check(_partial(like))
    assert str(info.value).endswith(
        "search a schedule measured on every one (epochs=12), train the missing cells "
        "(nb201_flat.train) and import them again (nb201_flat.importers.import_table), or use "
        "another table"
    )
    assert "search a key" not in str(info.value)
