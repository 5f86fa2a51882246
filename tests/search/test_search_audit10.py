"""An audit's findings on the search layer, each reproduced first: NA-REA, cached REA and charged
two-stage NA-RS runs that never got past their selection, reported without a word; the
replay of charged NA-RS holding every run's scored rows at once, past any memory limit;
reproduce's refusals naming the search command's fixes (or more runs, where they are none);
two-stage runs that ended in stage 1, or paid for no cell, counted as having re-ranked their
cells; and the search's "no run has a value" naming the table where the grid's named the
charged search's fixes (one decision for both now)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import build_parser, main
from nb201_flat.cli.common import subparser
from nb201_flat.conventions import cost_key
from nb201_flat.errors import ProtocolError, ResourceLimitError
from nb201_flat.search import (
    NARandomSearch,
    RandomSearch,
    RegularizedEvolution,
    protocols_by_name,
    run_search,
)
from nb201_flat.search import grid as grid_module
from nb201_flat.search import kernels_replay as kr
from nb201_flat.search import replay as rp
from nb201_flat.search import vectorised as vec
from nb201_flat.search.algorithms import NeighbourObjective
from nb201_flat.search.grid import ReproduceConfig, reproduce
from nb201_flat.search.protocol import nb201_protocol, per_dataset_protocols
from nb201_flat.search.runner import RunRecord, Shortfall, run_one, unreported_fix
from nb201_flat.storage import load_table, save_table
from nb201_flat.table import Table
from nb201_flat.testing import synthetic_table

CHARGED = NeighbourObjective(charge=True)


def _line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one error line of a refused command (exit 2, no traceback)."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# -- 1: runs that never got past their selection, counted in their records ------------------
def test_na_rea_runs_that_never_scored_a_child_are_noted(nb201_like: Table) -> None:
    # charged NA-REA on nb201's budget printed what charged NA-RS prints, without a word:
    # no run's population of 10 ever filled, so no run mutated a cell
    p = nb201_protocol()
    algos = {"na-rea": RegularizedEvolution(objective=CHARGED), "na-rs": NARandomSearch(CHARGED)}
    res = run_search(nb201_like, p, algos, runs=20)
    data = p.oracle_data(nb201_like)
    recs = [run_one(data, algos["na-rea"], 0, r) for r in range(20)]
    assert [r.children for r in recs] == [0] * 20
    runs = res.runs.drop_duplicates(["algorithm", "run"]).pivot(
        index="run", columns="algorithm", values="best"
    )
    assert (runs["na-rea"] == runs["na-rs"]).all()  # NA-RS's very runs
    note = next(n for n in res.notes if n.startswith("nb201 na-rea: "))
    assert note.startswith(
        "nb201 na-rea: 20 of 20 runs spent their budget before they scored a child of their "
        "population of 10, so they never mutated a cell (NA-RS's runs)"
    ), note
    assert note.endswith("lower population or raise the budget (budget_seconds)"), note


def test_free_na_rea_and_cached_rea_on_few_queries_are_noted(nb201_like: Table) -> None:
    # fixed-n with 10 queries: free NA-REA's population takes them all (revisits are free, so
    # it is not refused before the runs); cached REA's repeats are free too
    free = protocols_by_name("fixed-n", nb201_like, n=10)[0]
    res = run_search(
        nb201_like, free, RegularizedEvolution(objective=NeighbourObjective()), runs=20
    )
    assert any(
        "20 of 20 runs spent their budget before they scored a child" in n for n in res.notes
    )
    cached = protocols_by_name("fixed-n", nb201_like, n=10, repeats="cache")[0]
    res = run_search(nb201_like, cached, RegularizedEvolution(), runs=20)
    data = cached.oracle_data(nb201_like)
    recs = [run_one(data, RegularizedEvolution(), 0, r) for r in range(20)]
    short = sum(r.children == 0 for r in recs)
    assert short > 0
    # each of plain REA's draws is a charged query or a cache hit; the population's come first
    assert all(r.children == max(0, r.queries + r.cache_hits - 10) for r in recs)
    assert any(n.startswith(f"{cached.name} rea: {short} of 20 runs spent") for n in res.notes)


def test_charged_two_stage_runs_that_ranked_no_more_than_top_k_are_noted(
    nb201_like: Table,
) -> None:
    p = nb201_protocol()
    algo = NARandomSearch(CHARGED, rerank_top_k=10, stage1_fraction=0.2)
    res = run_search(nb201_like, p, algo, runs=20)
    data = p.oracle_data(nb201_like)
    recs = [run_one(data, algo, 0, r) for r in range(20)]
    short = sum(r.ranked <= 10 for r in recs)
    assert 0 < short < 20
    note = next(n for n in res.notes if n.startswith(f"nb201 {algo.label}: "))
    assert note.startswith(
        f"nb201 {algo.label}: {short} of 20 runs handed stage 2 no more than 10 cells from "
        "stage 1, so their validation ranking left none out"
    ), note


@pytest.mark.parametrize(
    "algo",
    [
        RegularizedEvolution(),
        RegularizedEvolution(objective=NeighbourObjective()),
        NARandomSearch(rerank_top_k=5),
        NARandomSearch(CHARGED, rerank_top_k=5),
    ],
    ids=lambda a: a.label,
)
@pytest.mark.parametrize("seeds", ["single-row", "stored-seeds"])
def test_the_kernels_count_as_the_loop(nb201_like: Table, algo: object, seeds: str) -> None:
    # the lock-step kernel (REA's children) and the replay (two-stage's ranked cells) fill the
    # records' counts as the loop does, also where the oracle draws stored seeds
    if seeds == "single-row":
        data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    else:
        data = per_dataset_protocols(epochs=200)[2].oracle_data(nb201_like)
        assert data.order is not None
    assert isinstance(algo, RegularizedEvolution | NARandomSearch)
    assert vec.batched_ok(data, algo)
    loop = [run_one(data, algo, 4, r) for r in range(12)]
    assert vec.run_batched(data, algo, 4, range(12)) == loop
    counts = [r.children if isinstance(algo, RegularizedEvolution) else r.ranked for r in loop]
    assert sum(counts) > 0, counts


# -- 2: the replay's scored rows, a chunk of runs at a time --------------------------------------
def test_the_replay_holds_a_chunk_of_rows_at_a_time(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every run's rows (a neighbourhood's 241 values each at radius 2) were made at once and
    # aggregated at once: 4.5 GB for 500 runs at --budget-scale 200
    chunk = 1 << 11
    monkeypatch.setattr(rp, "_CHUNK_ENTRIES", chunk, raising=False)
    calls: list[tuple[int, int]] = []
    run_block = kr.run_block

    def counted(*args: object) -> tuple[np.ndarray, ...]:
        out: tuple[np.ndarray, ...] = run_block(*args)
        calls.append((len(out[0]), int(out[11][-1]) * out[16].shape[1]))
        return out

    monkeypatch.setattr(kr, "run_block", counted)
    data = protocols_by_name("nb201", nb201_like, budget_scale=20)[0].oracle_data(nb201_like)
    algo = NARandomSearch(NeighbourObjective(radius=2, charge=True))
    loop = [run_one(data, algo, 1, r) for r in range(12)]
    assert rp.run_replay(data, algo, 1, range(12)) == loop
    assert sum(entries for _, entries in calls) > 4 * chunk  # the runs scored rows
    assert all(runs == 1 or entries <= chunk for runs, entries in calls), calls


def test_a_run_whose_rows_cannot_fit_is_refused_in_one_line(
    nb201_like_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # NB201_FLAT_MAX_MEMORY was never asked: a run's rows past it made the process grow on
    monkeypatch.setattr(rp, "_CHUNK_ENTRIES", 1, raising=False)
    monkeypatch.setattr(vec, "_BYTES_PER_ENTRY", 1 << 40, raising=False)
    argv = ["search", "--algo", "na-rs", "--charge-neighbours", "--radius", "2", "--runs", "2"]
    argv += ["--budget-scale", "20", "--jobs", "1", "--table", str(nb201_like_path)]
    line = _line(capsys, *argv)
    assert re.match(
        r"error: na-rs\[r2.*charged\]: holding a run's scored neighbourhoods \(up to [\d,]+ of "
        r"241 values each\) needs about .* of memory",
        line,
    ), line
    assert "a smaller radius (--radius 1) or a smaller budget (or free memory" in line, line


def test_the_free_walk_s_rows_are_checked_too(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stored seeds: free NA-RS's scored rows are aggregated after the walk, a chunk at a time
    monkeypatch.setattr(vec, "_CHUNK_ENTRIES", 1)
    monkeypatch.setattr(vec, "_BYTES_PER_ENTRY", 1 << 40, raising=False)
    p = per_dataset_protocols(epochs=200)[2]
    with pytest.raises(ResourceLimitError, match="holding a run's scored neighbourhoods"):
        run_search(nb201_like, p, NARandomSearch(), runs=2)


# -- 3: reproduce's refusals name what reproduce has ---------------------------------------------
def _reproduce_flags() -> set[str]:
    parser = build_parser()
    return {o for a in subparser(parser, "reproduce")._actions for o in a.option_strings}


def _flags_named(line: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z0-9-]*", line))


def test_reproduce_refuses_an_unaffordable_charged_search_before_any_run(
    nb201_like_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # it ran into the runner's refusal inside the grid's searches, naming the search
    # command's fix: "look the neighbours up free (drop charge=True)"
    ran: list[object] = []
    monkeypatch.setattr(grid_module, "run_search", lambda *a, **k: ran.append(a))
    argv = ["reproduce", "--runs", "3", "--radius", "2", "--protocols", "nb201"]
    argv += ["--search-epochs", "12", "--jobs", "1", "--out", str(tmp_path / "rep")]
    line = _line(capsys, *argv, "--table", str(nb201_like_path))
    assert not ran
    assert "with charged neighbours a run pays for a cell and all its neighbours" in line
    assert "lower the radius (--radius 1)" in line, line
    # reproduce's own way to leave it out, not search's flag (both spelled --charge-neighbours)
    assert "charge=True" not in line and "drop --charge-neighbours" not in line, line
    assert "(--charge-neighbours free)" in line, line
    assert _flags_named(line) <= _reproduce_flags(), line
    # the search command names its own radius too
    line = _line(
        capsys,
        "search", "--algo", "na-rs", "--charge-neighbours", "--radius", "2", "--runs", "2",
        "--table", str(nb201_like_path),
    )  # fmt: skip
    assert line.endswith(
        "or lower the radius (--radius 1) or look the neighbours up free (drop --charge-neighbours)"
    ), line


def _one_affordable_neighbourhood() -> Table:
    """The NB201-shaped table where nb201's budget pays for the charged radius-1
    neighbourhood of cell 0 alone (it and its members train 6 times faster): charged NA-RS
    is affordable, yet its runs score a cell only where their first draw is cell 0."""
    t = synthetic_table()
    data = dict(t.data)
    seconds = np.full(t.space.size, 10_000.0)
    seconds[[0, *t.space.neighbours(1).indices[0].tolist()]] = 10_000.0 / 6
    data[(cost_key("cifar10"), None)] = seconds
    return Table(t.space, data, source="one affordable neighbourhood")


def test_reproduce_offers_no_more_runs_where_no_charged_run_found_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "give the searches more runs (--runs)" where charged NA-RS finds nothing in 0 of 200
    table = _one_affordable_neighbourhood()
    cfg = ReproduceConfig.quick(runs=3, charge=(False, True), relatives=False)
    with pytest.raises(ProtocolError) as info:
        reproduce(table, cfg)
    msg = str(info.value)
    assert "na-rs[r1,mean,self,charged] on cifar10/ori-test@200ep:accuracy (0 of 3 runs)" in msg
    assert "(they found nothing); leave out the charged searches (charge=(False,))" in msg, msg
    assert "more runs" not in msg and "denser table" not in msg, msg
    path = save_table(table, tmp_path / "one.nb201")
    argv = ["reproduce", "--runs", "3", "--protocols", "nb201", "--search-epochs", "12"]
    argv += ["--jobs", "1", "--out", str(tmp_path / "rep"), "--table", str(path)]
    line = _line(capsys, *argv)
    assert line.startswith("error: the grid cannot serve nb201:"), line
    assert "--runs" not in line and "charge=True" not in line, line
    assert _flags_named(line) <= _reproduce_flags(), line


def test_the_grid_still_offers_more_runs_where_picks_went_unmeasured() -> None:
    # a sparse report key: the picks exist, more runs measure more of them
    from nb201_flat.search.grid import _require_intervals

    families = {"nb201": (nb201_protocol().replace(budget_by=""),)}
    short = [Shortfall("nb201", "rs on x", 1, 3, 3, RandomSearch())]
    with pytest.raises(ProtocolError) as info:
        _require_intervals(short, families, ReproduceConfig.quick())
    assert str(info.value).endswith(
        "(their picks were never measured there); use a denser table or report key (see "
        "Table.info), or give the searches more runs (runs)"
    ), info.value


def test_records_default_their_counts() -> None:
    # a record built without the counts (RS, LS, one-stage NA-RS) says 0 for both
    rec = RunRecord(run=0, best=1, score=0.5, queries=3, seconds=1.0, free_queries=0,
                    cache_hits=0, changes=())  # fmt: skip
    assert (rec.children, rec.ranked) == (0, 0)


# -- 4: charged two-stage runs that ended in stage 1 -------------------------------------------
def test_charged_two_stage_runs_that_ended_in_stage_1_are_noted_apart(nb201_like: Table) -> None:
    # ranked is 0 where a run ended in stage 1: such runs were counted as having handed stage 2
    # no more than top-k cells, "lower rerank_top_k", which cannot help a run stage 2 never saw
    p = nb201_protocol()
    algo = NARandomSearch(CHARGED, rerank_top_k=5, stage1_fraction=0.99)
    res = run_search(nb201_like, p, algo, runs=20)
    data = p.oracle_data(nb201_like)
    recs = [run_one(data, algo, 0, r) for r in range(20)]
    ended = sum(r.ranked == 0 for r in recs)
    assert 0 < ended < 20 and all(r.ranked > 5 or r.ranked == 0 for r in recs)
    assert all(r.best < 0 for r in recs if r.ranked == 0)  # stage 1 offers nothing
    notes = [n for n in res.notes if n.startswith(f"nb201 {algo.label}: ")]
    assert not any("handed stage 2" in n for n in notes), notes
    assert (
        f"nb201 {algo.label}: {ended} of 20 runs ended in stage 1 (the budget ran out, or the "
        "run stalled, before stage 1 had used its 0.99 of it), so stage 2 never began and they "
        "found nothing; lower stage1_fraction or raise the budget (budget_seconds)"
    ) in notes, notes


def _costly_first_draws() -> Table:
    """The NB201-shaped table where nb201's budget pays for one cell in six (10 s each, the
    rest 1e8 s): most runs end at their first query, refused, having paid for no cell."""
    t = synthetic_table()
    data = dict(t.data)
    seconds = np.full(t.space.size, 1e8)
    seconds[::6] = 10.0
    data[(cost_key("cifar10"), None)] = seconds
    return Table(t.space, data, source="costly first draws")


def test_free_two_stage_runs_that_paid_for_no_cell_are_not_counted_as_re_ranking() -> None:
    # free stage 1 pays each cell once: a run whose first query is refused ranks 0 cells and
    # finds nothing; the note said it "re-ranked them all" and that the mean includes it
    table = _costly_first_draws()
    p = nb201_protocol()
    algo = NARandomSearch(rerank_top_k=5)
    res = run_search(table, p, algo, runs=20)
    data = p.oracle_data(table)
    recs = [run_one(data, algo, 0, r) for r in range(20)]
    none = [r for r in recs if r.ranked == 0]
    some = sum(0 < r.ranked <= 5 for r in recs)
    assert none and some and all(r.best < 0 for r in none)
    assert all(r.best >= 0 for r in recs if r.ranked)
    note = next(n for n in res.notes if "re-ranked them all" in n)
    assert note.startswith(f"nb201 {algo.label}: {some} of 20 runs paid for no more than 5"), note
    assert any(
        n.startswith(f"nb201 {algo.label}: {len(none)} of 20 runs have no ") for n in res.notes
    )


# -- 5: no run with a value: one decision of cause and fix, the search's and the grid's -------
def _search_flags() -> set[str]:
    parser = build_parser()
    return {o for a in subparser(parser, "search")._actions for o in a.option_strings}


def test_a_charged_two_stage_search_that_found_nothing_names_its_stage_1_share(
    nb201_like_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "use a denser table or report key" on the full dense table: the runs found
    # nothing as stage 2's share of the budget completed no neighbourhood
    argv = ["search", "--algo", "na-rs", "--charge-neighbours", "--rerank-top-k", "5"]
    argv += ["--stage1-fraction", "0.9", "--runs", "20", "--jobs", "1"]
    line = _line(capsys, *argv, "--table", str(nb201_like_path))
    assert line.startswith(
        "error: nb201 na-rs2[r1,mean,noself,charged,top5,s1=0.9]: none of the 20 runs has a "
        "cifar10/ori-test@200ep:accuracy value (they found nothing), so there is no result"
    ), line
    assert line.endswith(
        "give the search a larger budget (--budget-scale), leave stage 2 more of the budget "
        "(lower --stage1-fraction), or look the neighbours up free (drop --charge-neighbours)"
    ), line
    assert "denser table" not in line and "--runs" not in line, line
    assert _flags_named(line) <= _search_flags(), line
    # the same fixes hold: a smaller stage 1 share finds cells in every run
    res = run_search(
        load_table(nb201_like_path),
        nb201_protocol(),
        NARandomSearch(CHARGED, rerank_top_k=5, stage1_fraction=0.5),
        runs=20,
    )
    assert res.runs["best"].notna().any()


def test_the_search_and_the_grid_decide_alike() -> None:
    # one decision, each naming its own parameters: a charged search of which no run found
    # anything asks for no table nor more runs, the others' picks for a denser table
    from nb201_flat.search.grid import _require_intervals

    two_stage = NARandomSearch(CHARGED, rerank_top_k=5, stage1_fraction=0.9)
    p = nb201_protocol()
    scoreless = Shortfall("nb201", "na-rs2 on x", 0, 20, 0, two_stage)
    causes, fix = unreported_fix([scoreless], [p])
    text = "".join(map(str, fix))
    assert causes == "they found nothing"
    assert "stage1_fraction" in text and "denser table" not in text, text
    with pytest.raises(ProtocolError) as info:
        _require_intervals([scoreless], {"nb201": (p,)}, ReproduceConfig.quick())
    msg = str(info.value)
    assert "(they found nothing)" in msg and "denser table" not in msg, msg
    assert "stage1_fraction" not in msg and "more runs" not in msg, msg  # not the grid's
    unmeasured = Shortfall("nb201", "rs on x", 0, 20, 20, RandomSearch())
    causes, fix = unreported_fix([unmeasured], [p])
    assert causes == "their picks were never measured there"
    assert "".join(map(str, fix)).startswith("use a denser table or report key")
