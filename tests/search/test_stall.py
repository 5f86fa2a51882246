"""The stall guard: a run whose queries stop spending its budget ends (SearchStalled, as a
refused query) instead of looping for ever, in every loop and in the compiled kernels alike.

Each scenario runs in a subprocess with a deadline: without the guard these loops never end
(cached repeats over a small space, Hyperband resuming what it paid for), and a compiled loop
cannot be interrupted from Python.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nb201_flat.errors import SearchBudgetError
from nb201_flat.search.fidelity import FidelityData
from nb201_flat.search.oracle import stall_limit
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

_SETUP = """
import numpy as np
from nb201_flat.space import Space
from nb201_flat.table import MetricKey
from nb201_flat.search.algorithms import (
    LocalSearch, NABestEvaluatedSearch, NARandomSearch, NeighbourObjective, RandomSearch,
    RegularizedEvolution,
)
from nb201_flat.search.oracle import OracleData, stall_limit
from nb201_flat.search.runner import run_one
from nb201_flat.search.vectorised import batched_ok, run_batched

S = Space(("none", "skip_connect", "conv"), 3)  # 27 cells
KEY = MetricKey("toy", "x-valid", 12)
VALUES = np.random.default_rng(1).uniform(size=(1, S.size))
"""


def _in_subprocess(body: str, timeout: float = 240) -> str:
    code = _SETUP + textwrap.dedent(body)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the search looped for ever: no stall guard ended it")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


ALGORITHMS = {
    "rs": "RandomSearch()",
    "rea": "RegularizedEvolution()",
    "ls": "LocalSearch()",
    "na-rs": "NARandomSearch()",
    "na-rs2": "NARandomSearch(rerank_top_k=3)",
    "na-rs-charged": "NARandomSearch(NeighbourObjective(charge=True))",
    "na-rs-best": "NABestEvaluatedSearch()",
    "na-rea": "RegularizedEvolution(objective=NeighbourObjective())",
    "na-ls": "LocalSearch(objective=NeighbourObjective())",
}


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_cached_repeats_under_a_budget_they_never_spend_end_every_loop(algo: str) -> None:
    # 27 cells cost 54 s at most, the budget is a million: once a run knows its cells, every
    # query is a free cache hit (or a memory revisit), which before the guard looped for ever
    # (plain RS and REA; the NA memory had its own guard)
    out = _in_subprocess(f"""
        data = OracleData(S, KEY, VALUES, None, None, np.linspace(1, 3, S.size), 1e6, None,
                          repeats="cache")
        algo = {ALGORITHMS[algo]}
        loop = [run_one(data, algo, 3, r) for r in range(4)]
        for rec in loop:
            assert 0 < rec.queries <= S.size and rec.seconds < 100, rec
            assert rec.stalled, rec  # recorded: it ended with budget unspent
        # the compiled kernels end the same runs at the same step, and mark them stalled
        assert batched_ok(data, algo)
        assert run_batched(data, algo, 3, range(4)) == loop
        print("ok", sum(rec.cache_hits for rec in loop))
    """)
    assert out.startswith("ok")
    if algo in ("rs", "rea"):  # no memory: the oracle's cache answers, and stalls
        assert int(out.split()[1]) > 4 * 1540


def test_search_raises_the_stall_in_one_line() -> None:
    out = _in_subprocess("""
        from nb201_flat.search.algorithms import Incumbent
        from nb201_flat.search.oracle import Oracle, SearchStalled
        data = OracleData(S, KEY, VALUES, None, None, np.ones(S.size), 1e6, None,
                          repeats="cache")
        o = Oracle(data, np.random.default_rng(0))
        try:
            RandomSearch().search(o, np.random.default_rng(0), Incumbent(o))
        except SearchStalled as e:
            print(e)
    """)
    line = out.strip()
    assert "\n" not in line and line.startswith("the search stalled: 1,540 steps in a row")
    # cached repeats spend nothing even under a query budget: the fix named is charging them
    assert "charged repeats (repeats='charge')" in line and "budget_queries" not in line
    assert "--" not in line  # the library names its parameters, a command its flags


def test_an_outside_loop_asking_a_cached_cell_again_and_again_is_done() -> None:
    # a Session's driver stops on ``done``: a stalled run is over, and stays so (evaluate
    # answered None for ever while done stayed False)
    out = _in_subprocess("""
        from nb201_flat.search.asktell import Session
        from nb201_flat.search.protocol import Protocol
        from nb201_flat.table import Table
        test = MetricKey("toy", "x-test", 12)
        table = Table(S, {(KEY, None): VALUES[0], (test, None): VALUES[0] + 1})
        p = Protocol("toy", KEY, (test,), seed_policy="mean", budget_queries=5, repeats="cache")
        run = Session(table, p, seed=0)
        asked = 0
        while not run.done:
            run.evaluate(0)
            asked += 1
        print(asked, run.queries, run.evaluate(1), run.queries)
    """)
    assert out.split() == [str(1 + stall_limit(27) + 1), "1", "None", "1"]


def test_a_population_of_free_cells_stalls_rea_as_the_kernel_does() -> None:
    # only cell 0 is sampled and paid, the cells around it are free and better: REA's
    # population drifts among free cells and stops spending its time budget (before the
    # guard, 50,000+ free queries a run); the lock-step kernel ends each run where the loop does
    out = _in_subprocess("""
        far = (S.codes != S.codes[0]).sum(axis=1).astype(float)  # worth its distance from 0
        costs = np.zeros(S.size)
        costs[0] = 1.0
        data = OracleData(S, KEY, far[None, :], None, None, costs, 50.0, None,
                          candidates=np.array([0]))
        algo = RegularizedEvolution()
        loop = [run_one(data, algo, 0, r) for r in range(4)]
        assert all(rec.seconds < 50.0 and rec.stalled for rec in loop), loop  # budget left
        assert all(rec.queries < 3 * stall_limit(S.size) for rec in loop), loop
        assert run_batched(data, algo, 0, range(4)) == loop
        print("ok")
    """)
    assert out.strip() == "ok"


def test_random_search_kernel_stalls_where_the_loop_does() -> None:
    # a patience of 3: random search over mostly free cells stalls within a few draws; the
    # compiled walk must count the same free queries (cost 0 without a query budget, or
    # cache hits) as the oracle
    out = _in_subprocess("""
        import nb201_flat.search.oracle as oracle
        import nb201_flat.search.vectorised as vec
        short = lambda size: 3
        oracle.stall_limit = vec.stall_limit = short
        costs = np.zeros(S.size)
        costs[:3] = 1.0
        stalled = 0
        for repeats in ("charge", "cache"):
            for bq in (None, 40):
                data = OracleData(S, KEY, VALUES, None, None, costs, 30.0, bq, repeats=repeats)
                loop = [run_one(data, RandomSearch(), 0, r) for r in range(20)]
                assert run_batched(data, RandomSearch(), 0, range(20)) == loop
                ended = [rec.seconds < 29.0 and rec.queries < 40 for rec in loop]
                assert [rec.stalled for rec in loop] == ended, loop  # exactly those runs
                stalled += sum(ended)
        print(stalled)
    """)
    assert int(out) > 20  # the guard did end runs (without a query budget, charged or not)


def test_hyperband_resuming_what_it_paid_for_ends() -> None:
    # resume=True: once every cell is trained to the last epoch, each query is free; a budget
    # of a million seconds was never spent, and Hyperband looped for ever. 2,700 s (the work
    # bound, 100 x 27 one-second queries) is still far more than training all costs (243 s)
    out = _in_subprocess("""
        from nb201_flat.search.fidelity import FidelityData, Hyperband, run_fidelity
        curves = np.linspace(0, 1, 9)[None, None, :] * np.arange(27.0)[None, :, None]
        data = FidelityData(S, MetricKey("toy", "x-valid", 9), curves, np.ones((27, 9)),
                            budget_seconds=2700.0, budget_queries=None, resume=True)
        rec = run_fidelity(data, Hyperband(), 0)
        assert rec.seconds <= 27 * 9 and rec.best == 26 and rec.epochs == 9, rec
        assert rec.stalled, rec  # recorded: it ended with budget unspent
        print("ok")
    """)
    assert out.strip() == "ok"


def test_fidelity_data_refuses_a_time_budget_nothing_spends() -> None:
    # every sampled cell's epochs cost 0 s: refused up front, as the plain oracle's data does
    s = Space(("a", "b", "c"), 3)
    curves = np.ones((1, s.size, 4))
    costs = np.zeros((s.size, 4))
    costs[5] = 1.0  # paid, but not sampled
    with pytest.raises(SearchBudgetError, match="costs 0 s, so a time budget never runs out"):
        FidelityData(s, MetricKey("toy", "x-valid", 4), curves, costs, 10.0, None,
                     candidates=np.arange(5))  # fmt: skip
    FidelityData(s, MetricKey("toy", "x-valid", 4), curves, costs, 10.0, None)  # 5 is sampled


_KEY, _TEST = MetricKey("toy", "x-valid", 200), MetricKey("toy", "x-test", 200)
_COST = MetricKey("toy", "train", 200, "time_s")


def _mostly_free(monkeypatch: pytest.MonkeyPatch, paid: int) -> Table:
    """A patience of 3, loop and kernels alike, and a 27-cell toy table (:data:`_KEY`,
    :data:`_TEST`, :data:`_COST`) of which only the first ``paid`` cells cost time (1 s): runs
    under a time budget stop spending it."""
    import nb201_flat.search.lockstep as lockstep
    import nb201_flat.search.oracle as oracle
    import nb201_flat.search.replay as replay
    import nb201_flat.search.vectorised as vec

    for module in (oracle, vec, lockstep, replay):
        monkeypatch.setattr(module, "stall_limit", lambda size: 3)
    space = Space(("none", "skip_connect", "conv"), 3)
    vals = np.random.default_rng(1).uniform(size=space.size)
    costs = np.zeros(space.size)
    costs[:paid] = 1.0
    return Table(space, {(_KEY, None): vals, (_TEST, None): vals + 1, (_COST, None): costs})


def test_stalled_runs_are_counted_in_the_results(monkeypatch: pytest.MonkeyPatch) -> None:
    # a stalled run ended "with what it found" and averaged in unmarked: the runs frame, the
    # summary and the notes (which the CLI prints and puts in its JSON) now say how many
    from nb201_flat.search.protocol import Protocol
    from nb201_flat.search.runner import run_search

    table, key, test, cost = _mostly_free(monkeypatch, 3), _KEY, _TEST, _COST
    timed = Protocol("timed", key, (test,), budget_seconds=30.0, cost=cost)
    counted = Protocol("counted", key, (test,), budget_queries=20)  # every query spends
    res = run_search(table, [timed, counted], ["rs", "rea", "na-rs"], runs=6)
    per_run = res.runs.drop_duplicates(["protocol", "algorithm", "run"])
    plain = per_run[(per_run["protocol"] == "counted") & per_run["algorithm"].isin(["rs", "rea"])]
    assert len(plain) == 12 and not plain["stalled"].any()  # no memory: every query spends
    stalled = per_run[per_run["protocol"] == "timed"].groupby("algorithm")["stalled"].sum()
    assert (stalled > 0).all(), stalled
    # a stalled run is one that ended with budget left
    timed_runs = per_run[per_run["protocol"] == "timed"]
    assert (timed_runs.loc[timed_runs["stalled"], "seconds"] < 30.0).all()
    summary = res.summary().set_index(["protocol", "algorithm"])["stalled"]
    every = per_run.groupby(["protocol", "algorithm"])["stalled"].sum()
    assert summary.to_dict() == every.to_dict()
    notes = sorted(n for n in res.notes if "stalled" in n)
    # each names the fix that applies: a query budget for the 0 s cells RS and REA stall on,
    # a budget its cells can spend for the NA memory's revisits (a query budget does not help)
    fixes = {
        "rs": "a query budget (budget_queries) makes each query of a 0 s cell spend",
        "na-": "a budget the cells it may sample can spend (fewer seconds or queries) ends it "
        "in time",
    }
    fixes["rea"] = fixes["rs"]
    cells = [c for c in every.reset_index().itertuples(index=False, name=None) if c[2]]
    assert notes == sorted(
        f"{prot} {algo}: {k} of 6 runs stalled: ended with budget unspent (the search stopped "
        f"spending it), with what they had found; the mean includes them; {fixes[algo[:3]]}"
        for prot, algo, k in cells
    )


_SHORT = """
import nb201_flat.search.lockstep as lockstep
import nb201_flat.search.oracle as oracle
import nb201_flat.search.replay as replay
import nb201_flat.search.vectorised as vec
for module in (oracle, vec, lockstep, replay):  # a patience of 3, loop and kernels alike
    module.stall_limit = lambda size: 3
"""


def test_rea_caching_near_the_end_of_the_space_spends_its_whole_budget() -> None:
    # REA's proposals are local: near the end of the space it goes long streaks of cache
    # hits between new cells (on the real table 1.3 million, against a patience of 313,500),
    # and was ended as stalled with cells left. A hit counts only once the domain is cached,
    # so each run spends its budget of 25 of the 27 cells, the loop and the kernel alike
    out = _in_subprocess(
        _SHORT
        + textwrap.dedent("""
        algo = RegularizedEvolution()
        most = 0
        for costs, bs, bq in ((None, None, 25), (np.ones(S.size), 25.5, None)):
            data = OracleData(S, KEY, VALUES, None, None, costs, bs, bq, repeats="cache")
            loop = [run_one(data, algo, 0, r) for r in range(20)]
            assert all(rec.queries == 25 and not rec.stalled for rec in loop), loop
            assert run_batched(data, algo, 0, range(20)) == loop
            most = max(most, *(rec.cache_hits for rec in loop))
        print("ok", most)
    """)
    )
    assert out.split()[0] == "ok" and int(out.split()[1]) > 3  # hits past the patience


def test_cache_hits_count_once_the_sampling_domain_is_cached() -> None:
    # RS and REA over a domain of 3 cells with a budget they never spend: stalled once the 3
    # are cached (REA's mutants leave the domain, and the cells it caches there do not count
    # toward it), in the loop and the kernels alike (candidates that repeat a cell are refused)
    out = _in_subprocess("""
        cand = np.array([3, 5, 7])
        data = OracleData(S, KEY, VALUES, None, None, np.ones(S.size), 1e6, None,
                          repeats="cache", candidates=cand)
        for algo in (RandomSearch(), RegularizedEvolution()):
            loop = [run_one(data, algo, 0, r) for r in range(6)]
            assert all(rec.stalled and rec.cache_hits >= stall_limit(27) for rec in loop), loop
            if isinstance(algo, RandomSearch):
                assert all(rec.queries == 3 for rec in loop), loop
            assert run_batched(data, algo, 0, range(6)) == loop
        print("ok")
    """)
    assert out.strip() == "ok"
    # a patience of 3 and a query budget: REA stalls once the domain's 3 cells are cached,
    # though the space's are not (the kernel builds the same domain mask)
    out = _in_subprocess(
        _SHORT
        + textwrap.dedent("""
        data = OracleData(S, KEY, VALUES, None, None, None, None, 20, repeats="cache",
                          candidates=np.array([3, 5, 7]))
        loop = [run_one(data, RegularizedEvolution(), 0, r) for r in range(20)]
        assert run_batched(data, RegularizedEvolution(), 0, range(20)) == loop
        print(sum(rec.stalled and rec.queries < 20 for rec in loop))
    """)
    )
    assert int(out) > 0  # with the space as the domain, 20 queries of 27 cells never stall


def test_a_cache_hit_before_the_domain_is_cached_neither_counts_nor_resets() -> None:
    from nb201_flat.search import oracle
    from nb201_flat.search.oracle import Oracle, OracleData, SearchStalled

    s = Space(("none", "skip_connect", "conv"), 3)
    costs = np.zeros(s.size)
    costs[0] = 1.0  # cells 1.. cost 0 s under a time budget: idle charged queries
    data = OracleData(s, MetricKey("toy", "x-valid", 12), np.ones((1, s.size)), None, None,
                      costs, 10.0, None, repeats="cache")  # fmt: skip
    limit = oracle.stall_limit
    try:
        oracle.stall_limit = lambda size: 3
        o = Oracle(data, np.random.default_rng(0), outside=False)  # as run_one's searches
        for i in (1, 1, 1, 2, 2, 3, 3, 3):  # 3 idle queries, 5 hits that do not count
            o.query(i)
        with pytest.raises(SearchStalled, match="cells that cost 0 s"):
            o.query(4)  # the 4th idle query in a row
        # an outside driver (ask/tell, a user's loop: the default) may ask a cached cell for
        # ever: each hit counts
        out = Oracle(data, np.random.default_rng(0))
        for _ in range(4):  # cell 0 spends, then 3 hits
            out.query(0)
        with pytest.raises(SearchStalled, match=r"charged repeats \(repeats='charge'\)"):
            out.query(0)
    finally:
        oracle.stall_limit = limit
    assert o.stalled and o.queries == 3 and o.cache_hits == 5


def test_two_stage_na_rs_re_ranks_after_a_stalled_first_stage() -> None:
    # stage 1 pays for every cell and then only revisits them: it stalls; stage 2 must still
    # re-rank the top 3 by their NA score (the guard counts again), and the run is recorded
    # stalled; the loop and the replayed kernel alike (it raised at once, and kept the best
    # validation value)
    out = _in_subprocess("""
        from nb201_flat.search.vectorised import na_scores
        algo = NARandomSearch(rerank_top_k=3)
        data = OracleData(S, KEY, VALUES, None, None, np.ones(S.size), 1e6, None)
        na = na_scores(data, algo.objective)
        top = np.argsort(-VALUES[0], kind="stable")[:3]
        want = int(top[np.argmax(na[top])])
        assert want != int(top[0])  # the re-ranking changes the pick
        loop = [run_one(data, algo, 0, r) for r in range(4)]
        assert all(r.stalled and r.best == want and r.score == na[want] for r in loop), loop
        assert run_batched(data, algo, 0, range(4)) == loop
        print("ok")
    """)
    assert out.strip() == "ok"


def test_hyperband_resuming_before_every_cell_is_trained_spends_its_budget() -> None:
    # resumed queries of epochs already paid count as cache hits do: only once every cell is
    # trained to the last epoch; with a patience of 3 and 200 of the 243 s the cells cost,
    # Hyperband spends its budget (it stalled on the first short run of resumed queries)
    out = _in_subprocess(
        _SHORT
        + textwrap.dedent("""
        from nb201_flat.search.fidelity import FidelityData, Hyperband, run_fidelity
        curves = np.linspace(0, 1, 9)[None, None, :] * np.arange(27.0)[None, :, None]
        data = FidelityData(S, MetricKey("toy", "x-valid", 9), curves, np.ones((27, 9)),
                            budget_seconds=200.0, budget_queries=None, resume=True)
        recs = [run_fidelity(data, Hyperband(), seed) for seed in range(10)]
        assert all(not r.stalled and r.seconds > 190.0 for r in recs), recs
        print("ok")
    """)
    )
    assert out.strip() == "ok"


def test_outside_loops_stall_by_default() -> None:
    # a user's loop on Oracle(data, rng) or a custom per-epoch search through run_fidelity
    # asked paid-for cells for ever (the domain rule, meant for this package's searches,
    # never counted them); a subclass that overrides search is not one of the package's own
    out = _in_subprocess("""
        from nb201_flat.search import oracle as om
        from nb201_flat.search.algorithms import RandomSearch, proposes_every_cell
        from nb201_flat.search.fidelity import FidelityData, Hyperband, run_fidelity
        from nb201_flat.search.oracle import Oracle, SearchStalled
        data = OracleData(S, KEY, VALUES, None, None, np.ones(S.size), 1e9, None,
                          repeats="cache")
        o = Oracle(data, np.random.default_rng(0))
        try:
            for _ in range(10**6):
                o.query(0)
        except SearchStalled:
            pass
        assert o.stalled and o.cache_hits <= om.stall_limit(S.size) + 1, o.cache_hits

        class Repeat:
            def search(self, oracle, rng, incumbent):
                for _ in range(10**6):
                    oracle.query(0, 9)

        curves = np.linspace(0, 1, 9)[None, None, :] * np.arange(27.0)[None, :, None]
        fd = FidelityData(S, MetricKey("toy", "x-valid", 9), curves, np.ones((27, 9)),
                          budget_seconds=2700.0, budget_queries=None, resume=True)
        rec = run_fidelity(fd, Repeat(), 0)
        assert rec.stalled and rec.queries <= om.stall_limit(S.size) + 2, rec

        class Mine(RandomSearch):
            def search(self, oracle, rng, incumbent):
                pass

        assert proposes_every_cell(RandomSearch()) and not proposes_every_cell(Mine())
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_restarted_guard_names_only_its_own_causes() -> None:
    from nb201_flat.search.oracle import IDLE_CACHED, IDLE_REVISIT, SearchStalled, StallGuard

    g = StallGuard(0)
    for _ in range(1000):
        g.idle(IDLE_CACHED)
    with pytest.raises(SearchStalled):
        g.idle(IDLE_CACHED)
    g.restart()
    for _ in range(1000):
        g.idle(IDLE_REVISIT)
    with pytest.raises(SearchStalled) as info:
        g.idle(IDLE_REVISIT)
    assert "repeats=" not in str(info.value) and g.ended


def test_stall_notes_name_only_the_idle_steps_the_runs_had(monkeypatch: pytest.MonkeyPatch) -> None:
    # cached repeats under a time budget over mostly free cells: runs stall on a streak of
    # free cells, never on cache hits (the budget is below what the cells cost, so the domain
    # is never all cached). The note inferred the causes from the protocol (repeats 'cache'
    # and no query budget) and named "--repeats charge" too, a fix for what did not occur
    import nb201_flat.search.vectorised as vec
    from nb201_flat.search.algorithms import RandomSearch, RegularizedEvolution
    from nb201_flat.search.oracle import IDLE_CACHED, IDLE_FREE, OracleData
    from nb201_flat.search.protocol import Protocol
    from nb201_flat.search.runner import run_one, run_search

    table, key, test, cost = _mostly_free(monkeypatch, 10), _KEY, _TEST, _COST
    space, vals = table.space, table.vector_for(key)
    cached = Protocol("cached", key, (test,), budget_seconds=9.5, cost=cost, repeats="cache")
    res = run_search(table, cached, ["rs", "rea"], runs=8)
    per_run = res.runs.drop_duplicates(["protocol", "algorithm", "run"])
    assert per_run.groupby("algorithm")["stalled"].sum().min() > 0  # both stalled
    notes = [n for n in res.notes if "runs stalled" in n]
    assert len(notes) == 2
    for note in notes:
        assert note.endswith("a query budget (budget_queries) makes each "
                             "query of a 0 s cell spend"), note  # fmt: skip
        assert "repeats=" not in note, note
    # the search command names the flags that set them: a query budget is the fixed-n family
    from nb201_flat.cli import build_parser
    from nb201_flat.cli.common import flag_of, subparser

    parser = build_parser("search")
    args = parser.parse_args(["search", "--algo", "rs"])
    args.parser = subparser(parser, "search")  # as cli.main sets it
    spelled = res.spelled_notes(lambda p: flag_of(p, args.parser, args))
    for note in (n for n in spelled if "runs stalled" in n):
        assert note.endswith("a query budget (--protocol fixed-n) makes each query of a 0 s "
                             "cell spend"), note  # fmt: skip
    from nb201_flat.errors import spelled as spelled_parts
    from nb201_flat.search.oracle import stall_fixes

    assert spelled_parts(stall_fixes(IDLE_CACHED), lambda p: flag_of(p, args.parser, args)) == (
        "charged repeats (--repeats charge) make each repeat spend"
    )
    # the kinds are the guard's, the loop's and the kernels' alike (records compare equal)
    data = cached.oracle_data(table)
    loop = [run_one(data, RandomSearch(), 0, r) for r in range(8)]
    assert {rec.stall_kinds for rec in loop} == {IDLE_FREE}, loop
    assert vec.run_batched(data, RandomSearch(), 0, range(8)) == loop
    # the other way round: REA over a cached domain of 3 paid cells stalls on cache hits
    # alone, and its record says so
    data = OracleData(space, key, vals[None, :], None, None, np.ones(space.size), 1e6, None,
                      repeats="cache", candidates=np.array([3, 5, 7]))  # fmt: skip
    loop = [run_one(data, RegularizedEvolution(), 0, r) for r in range(6)]
    assert all(rec.stall_kinds == IDLE_CACHED for rec in loop), loop
    assert vec.run_batched(data, RegularizedEvolution(), 0, range(6)) == loop


def test_connected_sampling_cached_edit_searches_spend_the_largest_budget_allowed() -> None:
    # sampling='connected': REA's mutants and LS's neighbours reach the disconnected cells,
    # which the guard's domain (the cells sampled) leaves out, so a hit could count while
    # such a cell is still to be paid. A protocol refuses every cached budget that could pay
    # for all the connected cells, so the domain is never all cached and no hit counts: with
    # the largest budget it accepts, every run spends it (no early stop, no endless loop),
    # the loop and the kernels alike
    out = _in_subprocess("""
        from nb201_flat.search.protocol import Protocol, ProtocolError
        from nb201_flat.table import Table
        test = MetricKey("toy", "x-test", 12)
        cost = MetricKey("toy", "train", 12, "time_s")
        table = Table(S, {(KEY, None): VALUES[0], (test, None): VALUES[0] + 1,
                          (cost, None): np.ones(S.size)})
        n = int(S.connected.sum())
        assert n < S.size
        base = dict(search=KEY, report=(test,), sampling="connected", repeats="cache")
        for budget in (dict(budget_queries=n), dict(budget_seconds=float(n), cost=cost)):
            try:
                Protocol("p", **base, **budget).oracle_data(table)
                raise AssertionError(f"accepted {budget}")
            except ProtocolError:
                pass
        algos = [RandomSearch(), RegularizedEvolution(), LocalSearch(),
                 RegularizedEvolution(objective=NeighbourObjective())]
        for budget in (dict(budget_queries=n - 1), dict(budget_seconds=n - 0.5, cost=cost)):
            data = Protocol("p", **base, **budget).oracle_data(table)
            for algo in algos:
                loop = [run_one(data, algo, 0, r) for r in range(8)]
                assert all(not r.stalled and r.queries == n - 1 for r in loop), (algo, loop)
                assert run_batched(data, algo, 0, range(8)) == loop, algo
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_stalled_fidelity_run_records_its_idle_steps_for_the_note() -> None:
    # the runner's stall note names the fix for each kind of idle step a run's guard saw
    # (RunRecord.stall_kinds); a fidelity run recorded only that it stalled, so no note could
    # say whether a query budget (resumed epochs) or paid cells (0 s epochs) would have helped
    out = _in_subprocess("""
        from nb201_flat.search.fidelity import FidelityData, Hyperband, run_fidelity
        from nb201_flat.search.oracle import IDLE_FREE, IDLE_RESUMED, stall_fixes
        from nb201_flat.search.runner import stalled_notes
        from nb201_flat.errors import spelled
        curves = np.linspace(0, 1, 9)[None, None, :] * np.arange(27.0)[None, :, None]
        resumed = FidelityData(S, MetricKey("toy", "x-valid", 9), curves, np.ones((27, 9)),
                               budget_seconds=2700.0, budget_queries=None, resume=True)
        hb = run_fidelity(resumed, Hyperband(), 0)
        costs = np.ones((27, 9))
        costs[0] = 0.0  # cell 0 trains for free: a time budget never counts it

        class Free:  # a search of the user's that asks only the free cell
            def search(self, oracle, rng, incumbent):
                while True:
                    oracle.query(0, 9)

        free = run_fidelity(FidelityData(S, MetricKey("toy", "x-valid", 9), curves, costs,
                                         budget_seconds=2700.0, budget_queries=None), Free(), 0)
        assert hb.stalled and hb.stall_kinds == IDLE_RESUMED, hb
        assert free.stalled and free.stall_kinds == IDLE_FREE, free
        notes = stalled_notes([("timed", "hyperband", [hb]), ("timed", "free", [free])], 1)
        assert spelled(notes[0]).endswith(spelled(stall_fixes(IDLE_RESUMED))), notes
        assert spelled(notes[1]).endswith(spelled(stall_fixes(IDLE_FREE))), notes
        # a fidelity run has no command: its fix names the parameter it can change
        assert spelled(notes[1]).endswith("a query budget (budget_queries) makes each query "
                                          "of a 0 s cell spend"), notes
        print("ok")
    """)
    assert out.strip() == "ok"
