"""A refusal's named fix is accepted and serves the search; a search compiles only its kernels
(the fourteenth round's left-outs).

1. On a budget of a few queries, REA's refusal named a population below its sample size
   (``--n 3``: ``--population 2``), which the tournament rule refused in turn; after runs of a
   charged NA search that scored nothing, the refusal named ``radius - 1`` whether or not its
   runs would score: at radius 6 of NB201's six edges radius 5 costs more (its own refusal
   came next), and two-stage NA-RS with stage 1 at 0.9 scored nothing at radius 1 either.
2. A first search compiled every kernel of :mod:`~nb201_flat.search.kernels_free_na` (12 cache
   indexes) where random search calls 5 and free NA-RS 9: each loads its own part
   (:data:`~nb201_flat.search.kernels_free_na.PARTS`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
from nb201_flat.search.runner import Shortfall, unreported_fix
from nb201_flat.storage import save_table
from nb201_flat.table import Table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def like() -> Table:
    return synthetic_table()


def _refusal(table: Table, protocol: Protocol, algorithm: SearchAlgorithm, runs: int = 2) -> str:
    """The refusal of ``algorithm``'s runs, before them or after (its summary)."""
    with pytest.raises(ProtocolError) as info:
        run_search(table, protocol, algorithm, runs=runs).summary()
    return str(info.value)


def _named(pattern: str, msg: str) -> str:
    found = re.search(pattern, msg)
    assert found, (pattern, msg)
    return found.group(1)


def _never_mutated(notes: tuple[str, ...]) -> list[str]:
    return [n for n in notes if "never mutated a cell" in n]


# -- 1a: REA's population named with a sample size it holds ------------------------------------
@pytest.mark.parametrize("n", [2, 3])
def test_rea_refusal_names_a_sample_size_its_population_holds(like: Table, n: int) -> None:
    p = fixed_n_protocols(like, n)[0]
    msg = _refusal(like, p, RegularizedEvolution())
    size = n - 1  # the n-th query is the first child's
    assert f"(population={size} and sample_size={size})" in msg, msg
    res = run_search(like, p, RegularizedEvolution(population=size, sample_size=size), runs=20)
    assert not _never_mutated(res.notes), res.notes
    assert (res.runs["test"].notna()).all()


def test_rea_refusal_keeps_the_sample_size_where_the_population_holds_it(like: Table) -> None:
    msg = _refusal(like, fixed_n_protocols(like, 5)[0], RegularizedEvolution())
    assert "(population=4)" in msg and "sample_size" not in msg, msg


def test_rea_refusal_on_the_command_line_runs_as_named(
    like: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "like.nb201"
    save_table(like, path)
    argv = ["search", "--algo", "rea", "--protocol", "fixed-n", "--runs", "5", "--jobs", "1"]
    argv += ["--table", str(path)]
    assert main([*argv, "--fixed-n", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    found = re.search(r"\((--population \d+) and (--sample-size \d+)\)", err[0])
    assert found and found.groups() == ("--population 2", "--sample-size 2"), err[0]
    assert main([*argv, "--fixed-n", "3", *" ".join(found.groups()).split()]) == 0
    assert "never mutated" not in capsys.readouterr().err


def test_rea_refusal_under_a_time_budget_names_a_sample_size_too(real_table: Table) -> None:
    # 600 s of NB201's times: a population of about 1 gets past, below the sample size of 3
    p = nb201_protocol(budget_seconds=600)
    msg = _refusal(real_table, p, RegularizedEvolution(population=40))
    size = int(_named(r"\(population=(\d+) and sample_size=\1\)", msg))
    assert size < 3
    algo = RegularizedEvolution(population=size, sample_size=size)
    assert not _never_mutated(run_search(real_table, p, algo, runs=50).notes)


# -- 1b: the radius named after scoreless runs scores every run ---------------------------------
def test_radius_named_after_scoreless_runs_scores_every_run(like: Table) -> None:
    # radius 6 (4,096 members) passes the cheapest cell's bound at 60-fold NB201's budget, but
    # no run scores; radius 5's neighbourhoods hold 6,144 cells: it was named all the same
    p = nb201_protocol(budget_seconds=60 * 12_000)
    msg = _refusal(like, p, NARandomSearch(NeighbourObjective(radius=6, charge=True)), runs=5)
    assert "none of the 5 runs" in msg and "(they found nothing)" in msg, msg
    radius = int(_named(r"lower the radius \(radius=(\d+)\)", msg))
    assert radius < 5
    algo = NARandomSearch(NeighbourObjective(radius=radius, charge=True))
    res = run_search(like, p, algo, runs=20)
    assert res.runs["test"].notna().all()


def test_no_radius_named_where_no_smaller_one_scores(like: Table) -> None:
    # stage 2's tenth of 4-fold the budget scores no cell at radius 2, nor at radius 1
    p = nb201_protocol(budget_seconds=4 * 12_000)

    def two_stage(radius: int) -> NARandomSearch:
        obj = NeighbourObjective(radius=radius, charge=True)
        return NARandomSearch(obj, rerank_top_k=5, stage1_fraction=0.9)

    msg = _refusal(like, p, two_stage(2), runs=5)
    assert "(they found nothing)" in msg and "radius" not in msg.split("report;")[1], msg
    assert "stage1_fraction" in msg, msg
    res = run_search(like, p, two_stage(1), runs=5)
    assert res.runs["best"].isna().all()  # what radius=1, the old fix, gave


def test_unreported_fix_names_a_radius_only_where_every_row_has_it() -> None:
    p = nb201_protocol()
    algo = NARandomSearch(NeighbourObjective(radius=3, charge=True))
    fits = Shortfall("nb201", "a", 0, 5, 0, algo, lower_radius=1)
    unknown = Shortfall("nb201", "b", 0, 5, 0, algo)  # none scores, or not worked out
    other = Shortfall("nb201", "c", 0, 5, 0, algo, lower_radius=2)

    def text(*rows: Shortfall) -> str:
        return "".join(map(str, unreported_fix(rows, [p])[1]))

    assert "lower the radius (radius=1)" in text(fits)
    assert "radius" not in text(unknown)
    assert "radius" not in text(fits, unknown)
    assert "radius" not in text(fits, other)  # radius 1 is not known to serve c's runs


# -- 2: a search compiles its part of kernels_free_na alone ---------------------------------------
_LOAD_NA = """
from nb201_flat.search import NARandomSearch, compiled
names = compiled.kernel_modules(NARandomSearch())
compiled.load_kernels(2, names)
print(compiled._cached(compiled.FREE_NA_KERNELS), compiled._cached(compiled.RS_KERNELS))
"""


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="no compiled kernel to watch"
)
def test_a_cold_free_na_search_compiles_none_of_random_searchs_kernels(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_NA], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "False"]  # its part is loaded, random search's not
    cached = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    walk = ("free_na_walk", "_na_run", "_widest", "offer_rows", "bounded_draws", "_bounded")
    helpers = ("pairwise_sum", "_pairwise_block", "grow")
    expected = {*(f"kernels_free_na.{k}" for k in walk), *(f"kernels_numpy.{k}" for k in helpers)}
    assert cached == expected, sorted(cached)


# -- 1b in the reproduce grid: the radius it names is its base's, checked --------------------------
def test_grid_names_its_base_radius_that_scores_every_run(like: Table) -> None:
    # the grid's charged variant of a radius-6 base scores nothing at 60-fold the budget; its
    # refusal named no radius after the runs (and before, radius=R, a field the grid lacks)
    from dataclasses import replace
    from fractions import Fraction

    from nb201_flat.search.grid import ReproduceConfig, reproduce

    base = NeighbourObjective(radius=6)
    cfg = ReproduceConfig(
        runs=5,
        protocols=("nb201",),
        search_epochs=(200,),
        budget_scale_200=Fraction(60 * 200, 12),
        base=base,
        radii=(6,),
        aggregators=(base.agg,),
        include_self=(base.include_self,),
        charge=(False, True),
        rerank_top_k=(),
        relatives=False,
        accounting=False,
        smoke=True,
    )
    with pytest.raises(ProtocolError) as info:
        reproduce(like, cfg, jobs=1)
    msg = str(info.value)
    radius = int(_named(r"lower the radius \(base=replace\(base, radius=(\d+)\)\)", msg))
    assert radius < 5, msg
    res = reproduce(like, replace(cfg, base=replace(cfg.base, radius=radius)), jobs=1)
    charged = res.runs[res.runs["algorithm"].str.contains("charged")]
    assert len(charged) and charged["test"].notna().all()
