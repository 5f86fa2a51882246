"""A refusal's named sizes and budgets, followed literally, serve the search (an audit's finding).

The refusals of a selection no run gets past (REA's population, two-stage NA-RS's top-k) and
of charged neighbours no budget pays for were right, but the fixes they named came from the
same bound, every query at the cheapest: on NB201's times ``rea(p400)`` named
``--population 367`` or a 1.09-fold budget, and both ran 20 of 20 runs that never mutated a
cell; ``--rerank-top-k 20000`` named 367, whose 100 of 100 runs re-ranked all they paid for;
charged radius 3 named a 8.49-fold budget, whose 50 runs all found nothing. Each case here is
refused, its named value is run as named, and the note of the runs the refusal was there to
prevent is absent: on the NB201-shaped synthetic table and on the real table (skipped
without it).
"""

from __future__ import annotations

import re

import pytest

from nb201_flat.cli import main
from nb201_flat.search import (
    NARandomSearch,
    RegularizedEvolution,
    SearchAlgorithm,
    nb201_protocol,
    run_search,
)
from nb201_flat.search.algorithms import NeighbourObjective
from nb201_flat.search.protocol import Protocol, ProtocolError, fixed_n_protocols
from nb201_flat.space import NB201
from nb201_flat.table import Table

#: the notes of runs that never got past their selection (runner._unselected_notes)
UNSELECTED = (
    "never mutated a cell",
    "re-ranked them all",
    "handed stage 2 no more than",
    "ended in stage 1",
)


@pytest.fixture(params=["synthetic", "real"])
def table(request: pytest.FixtureRequest) -> Table:
    name = "nb201_like" if request.param == "synthetic" else "real_table"
    found: Table = request.getfixturevalue(name)
    return found


def _refusal(table: Table, protocol: Protocol, algorithm: SearchAlgorithm) -> str:
    with pytest.raises(ProtocolError) as info:
        run_search(table, protocol, algorithm, runs=2)
    return str(info.value)


def _named(pattern: str, msg: str) -> str:
    found = re.search(pattern, msg)
    assert found, (pattern, msg)
    return found.group(1)


def _unselected(notes: tuple[str, ...]) -> list[str]:
    return [n for n in notes if any(s in n for s in UNSELECTED)]


def test_the_population_and_budget_named_let_every_run_mutate(table: Table) -> None:
    p = nb201_protocol()
    msg = _refusal(table, p, RegularizedEvolution(population=400))
    assert "its population of 400 takes 400 of them" in msg  # the refusal itself stays
    population = int(_named(r"lower the population.* \(population=(\d+)\)", msg))
    res = run_search(table, p, RegularizedEvolution(population=population), runs=200)
    assert not _unselected(res.notes), res.notes
    assert (res.runs["queries"] > population).all()
    # a bound of what runs draw, said so
    assert f"lower the population to at most about {population}, as runs pay" in msg
    fold = float(_named(r"raise the budget at least ([\d.]+)-fold, over its 12,000 s", msg))
    more = nb201_protocol(budget_seconds=12_000 * fold)
    res = run_search(table, more, RegularizedEvolution(population=400), runs=100)
    assert not _unselected(res.notes), res.notes


@pytest.mark.parametrize("charge", [False, True])
def test_the_top_k_named_leaves_stage_2_cells_to_select_from(table: Table, charge: bool) -> None:
    # free: one-stage NA-RS's runs under the two-stage label; charged: stage 1 stops at half
    p = nb201_protocol()
    obj = NeighbourObjective(charge=charge)
    msg = _refusal(table, p, NARandomSearch(obj, rerank_top_k=20_000))
    top = int(_named(r"lower the top-k.* \(rerank_top_k=(\d+)\)", msg))
    res = run_search(table, p, NARandomSearch(obj, rerank_top_k=top), runs=200)
    assert not _unselected(res.notes), res.notes
    assert f"lower the top-k to at most about {top}, as runs pay" in msg
    if charge:  # a top-k the cells a run samples allow: more budget would do too
        msg = _refusal(table, p, NARandomSearch(obj, rerank_top_k=400))
        fold = float(_named(r"raise the budget at least ([\d.]+)-fold", msg))
        more = nb201_protocol(budget_seconds=12_000 * fold)
        res = run_search(table, more, NARandomSearch(obj, rerank_top_k=400), runs=100)
        assert not _unselected(res.notes), res.notes


def test_the_budget_and_radius_named_for_charged_neighbours_score_every_run(table: Table) -> None:
    p = nb201_protocol()
    obj = NeighbourObjective(radius=3, charge=True)
    msg = _refusal(table, p, NARandomSearch(obj))
    assert "so no run could find anything" in msg  # the cheapest cell's bound: still refused
    fold = float(_named(r"raise the budget at least ([\d.]+)-fold", msg))
    res = run_search(
        table, nb201_protocol(budget_seconds=12_000 * fold), NARandomSearch(obj), runs=50
    )
    assert res.runs["test"].notna().all()  # every run scored a cell
    assert not [n for n in res.notes if "have no" in n], res.notes
    assert "for every run to score a cell (the dearest neighbourhood costs" in msg
    radius = int(_named(r"lower the radius \(radius=(\d+)\)", msg))
    res = run_search(
        table, p, NARandomSearch(NeighbourObjective(radius=radius, charge=True)), runs=50
    )
    assert res.runs["test"].notna().all()


def test_two_stage_charged_neighbours_leave_stage_2_its_neighbourhood(nb201_like: Table) -> None:
    # stage 1 takes half the budget: a query budget of one neighbourhood scored no run
    obj = NeighbourObjective(radius=2, charge=True)
    two = NARandomSearch(obj, rerank_top_k=5)
    msg = _refusal(nb201_like, fixed_n_protocols(nb201_like, 100)[0], two)
    n = int(_named(r"raise the budget \(n=(\d+)\)", msg))
    res = run_search(nb201_like, fixed_n_protocols(nb201_like, n)[0], two, runs=20)
    assert res.runs["test"].notna().all()
    # a cell's members in stage 2 (the cell itself stage 1 paid), as many queries in stage 1
    assert n == 2 * NB201.neighbourhood_size(2)
    fold = float(_named(r"at least ([\d.]+)-fold", _refusal(nb201_like, nb201_protocol(), two)))
    res = run_search(nb201_like, nb201_protocol(budget_seconds=12_000 * fold), two, runs=20)
    assert res.runs["test"].notna().all()


def test_the_command_line_names_a_population_its_runs_get_past(
    nb201_like_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--algo", "rea", "--runs", "50", "--jobs", "1"]
    argv += ["--table", str(nb201_like_path)]
    assert main([*argv, "--population", "400"]) == 2
    err = capsys.readouterr().err.strip()
    population = _named(r"lower the population.* \(--population (\d+)\)", err)
    assert main([*argv, "--population", population]) == 0
    out = capsys.readouterr()
    assert "never mutated a cell" not in out.out + out.err
