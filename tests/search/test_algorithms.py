"""Search algorithms on synthetic tables with exactly known answers."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace
from typing import SupportsIndex

import numpy as np
import pytest

from nb201_flat.errors import InvalidArchError, ProtocolError
from nb201_flat.search import (
    AlgorithmError,
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    Protocol,
    RandomSearch,
    RegularizedEvolution,
    make_algorithm,
    run_search,
)
from nb201_flat.search.algorithms import mutate
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.runner import run_one
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table

VAL = MetricKey("synthetic", "x-valid", 200)
TEST = MetricKey("synthetic", "x-test", 200)


def _spike_plateau(spike_test: float, plateau_test: float) -> Table:
    """A broad plateau (validation 80) and 625 isolated sharp spikes (validation 99).

    Spikes: edge 0 is ``none`` and the op codes sum to 0 mod 5, so two spikes differ on at
    least two edges and every neighbour of a spike is ordinary (validation 50). Plateau: edges
    0 and 1 are ``avg_pool_3x3``; 16 of its 24 neighbours are plateau too. Under the radius-1
    mean (self included) a plateau cell scores >= 70 and any other cell < 60, so NA-RS returns
    a plateau cell and RS a spike as soon as each has sampled one (400 draws: both happen
    with probability 1 - 2e-7; the seeds below are fixed anyway).
    """
    c = NB201.codes.astype(np.int64)
    spike = (c[:, 0] == 0) & (c.sum(axis=1) % 5 == 0)
    plateau = (c[:, 0] == 4) & (c[:, 1] == 4)
    val = np.full(NB201.size, 50.0)
    val[plateau], val[spike] = 80.0, 99.0
    test = np.full(NB201.size, 50.0)
    test[plateau], test[spike] = plateau_test, spike_test
    return Table(NB201, {(VAL, None): val, (TEST, None): test}, source="spike-plateau")


FIXED_400 = Protocol("fixed-400", VAL, (TEST,), budget_queries=400)
NA_FREE = NARandomSearch(NeighbourObjective(radius=1, agg="mean", include_self=True))


def test_na_rs_wins_when_the_spike_is_an_inflated_validation() -> None:
    table = _spike_plateau(spike_test=10.0, plateau_test=80.0)
    res = run_search(table, FIXED_400, {"rs": RandomSearch(), "na": NA_FREE}, runs=30, seed=3)
    by = res.runs.pivot(index="run", columns="algorithm", values="test")
    assert (by["rs"] == 10.0).all()  # RS is fooled by a spike every time
    assert (by["na"] == 80.0).all()  # NA-RS lands on the plateau every time


def test_na_rs_loses_when_the_sharp_spike_is_real() -> None:
    table = _spike_plateau(spike_test=99.0, plateau_test=60.0)
    res = run_search(table, FIXED_400, {"rs": RandomSearch(), "na": NA_FREE}, runs=30, seed=3)
    by = res.runs.pivot(index="run", columns="algorithm", values="test")
    assert (by["rs"] == 99.0).all()
    assert (by["na"] == 60.0).all()


@pytest.mark.parametrize(("charge", "budget", "stage1"), [(False, 400, None), (True, 2000, 0.2)])
def test_two_stage_na_rs_reranks_to_the_plateau(
    charge: bool, budget: int, stage1: float | None
) -> None:
    table = _spike_plateau(spike_test=10.0, plateau_test=80.0)
    # stage 1 sees about 16 spikes and 16 plateau cells in 400 draws: the top 40 by validation
    # reach the plateau; charged, stage 2 can afford about 60 neighbourhoods of 25
    algo = NARandomSearch(
        NeighbourObjective(charge=charge), rerank_top_k=40, stage1_fraction=stage1
    )
    p = Protocol("fixed", VAL, (TEST,), budget_queries=budget)
    res = run_search(table, p, algo, runs=5, seed=0)
    assert (res.runs["test"] == 80.0).all()
    assert ((res.runs["free_queries"] > 0) != charge).all()


@pytest.mark.parametrize("stage1", [None, 0.99], ids=["one-stage", "two-stage"])
def test_na_rs_that_completes_no_neighbourhood_found_nothing(stage1: float | None) -> None:
    # two stages used to keep stage 1's validation best as the incumbent, its score column a
    # validation value: silently RS's pick. 4 queries left after stage 1 (or 4 in all) buy
    # none of the 24-cell neighbourhoods, so neither form scores a cell
    table = _spike_plateau(spike_test=10.0, plateau_test=80.0)
    charged = NeighbourObjective(charge=True)
    if stage1 is None:
        algo, budget = NARandomSearch(charged), 4
    else:
        algo, budget = NARandomSearch(charged, rerank_top_k=10, stage1_fraction=stage1), 400
    p = Protocol("fixed", VAL, (TEST,), budget_queries=budget)
    if stage1 is None:
        # certain from the budget: refused before any run (it ran them all, then a summary
        # was refused naming the table); the search itself spends it and finds nothing
        with pytest.raises(ProtocolError, match=r"at least 25 queries, more than the budget"):
            run_search(table, p, algo, runs=5, seed=0)
        recs = [run_one(p.oracle_data(table), algo, 0, run) for run in range(5)]
        assert all(r.queries == budget and r.best < 0 and r.score == -np.inf for r in recs)
        return
    res = run_search(table, p, algo, runs=5, seed=0)
    assert (res.runs["queries"] == budget).all()  # the budget was spent
    assert res.runs["best"].isna().all() and res.runs["test"].isna().all()
    assert res.runs["score"].isna().all()  # no score (the incumbent's -inf was written)
    with pytest.raises(ProtocolError, match="none of the 5 runs has a"):
        res.summary()  # a mean of nothing (n = 0) is refused, as the command line refuses it
    assert any("5 of 5 runs have no synthetic/x-test@200ep:accuracy value" in n for n in res.notes)
    assert (res.curves["n"] == 0).all()  # no incumbent at any point of the run


def test_two_stage_na_rs_offers_only_completed_scores() -> None:
    # charged stage 2 completes some neighbourhoods: every incumbent change is a re-ranked
    # cell at its NA score, never a stage-1 validation pick
    table = _spike_plateau(spike_test=10.0, plateau_test=80.0)
    algo = NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=10, stage1_fraction=0.9)
    p = Protocol("fixed", VAL, (TEST,), budget_queries=400)
    data = p.oracle_data(table)
    val = table.vector_for(VAL)
    nb = table.space.neighbours(1).indices
    for run in range(5):
        rec = run_one(data, algo, 0, run)
        assert rec.best >= 0 and rec.score == pytest.approx(val[nb[rec.best]].mean())
        assert all(q > 360 for _, q, _ in rec.changes)  # all made in stage 2


def test_rs_expected_best_matches_the_closed_form(tiny_space: Space) -> None:
    values = (np.arange(tiny_space.size) * 7 % 11).astype(float)  # ties on purpose
    key = MetricKey("tiny", "x-valid", 12)
    table = Table(tiny_space, {(key, None): values}, source="tiny")
    n, runs = 5, 4000
    res = run_search(
        table, Protocol("n5", key, (key,), budget_queries=n), RandomSearch(), runs=runs
    )
    v = np.sort(values)
    m = v.size
    k = np.arange(1, m + 1)
    pmf = (k / m) ** n - ((k - 1) / m) ** n  # P(the max has rank k), draws with replacement
    expected = float((v * pmf).sum())
    sd = float(np.sqrt((v**2 * pmf).sum() - expected**2))
    got = float(res.runs["test"].mean())
    assert abs(got - expected) < 4 * sd / np.sqrt(runs), (got, expected)


def test_node_then_edge_mutation_is_nb201s() -> None:
    rng = np.random.default_rng(0)
    codes = NB201.codes
    counts: Counter[int] = Counter()
    for _ in range(18_000):
        i = int(rng.integers(NB201.size))
        child = mutate(codes, 4, 5, i, rng)
        diff = np.flatnonzero(np.asarray(child) != codes[i])
        assert diff.size == 1  # one edge, always a different op
        counts[int(diff[0])] += 1
    # node 1 has one input edge (p = 1/3); node 2 two (1/6 each); node 3 three (1/9 each)
    expected = [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9]
    for e, p in enumerate(expected):
        assert counts[e] / 18_000 == pytest.approx(p, abs=0.015)


def test_rea_tournament_ranks_unmeasured_members_last(monkeypatch: pytest.MonkeyPatch) -> None:
    # a NaN member drawn first won the tournament (NaN > x is False for every x); the rule is
    # Incumbent's: NaN never beats a measured value. The population is read only by the
    # tournament's draws, so recording its reads gives each tournament's members: the parent
    # is measured if any member drawn is
    import nb201_flat.search.algorithms as algorithms

    space = Space(("a", "b", "c", "d"), 4)
    rng = np.random.default_rng(0)
    val = rng.normal(50, 5, space.size)
    val[rng.random(space.size) < 0.5] = np.nan
    drawn: list[int] = []
    tournaments: list[tuple[int, list[int]]] = []  # (parent, members drawn)
    mutate_ = algorithms.mutate

    class RecordedPopulation(deque[tuple[int, float]]):
        def __getitem__(self, k: SupportsIndex) -> tuple[int, float]:  # type: ignore[override]
            member = super().__getitem__(k)
            drawn.append(member[0])
            return member

    def recorded_mutate(codes: np.ndarray, *args: object, **kw: object) -> object:
        tournaments.append((int(args[2]), drawn.copy()))  # type: ignore[call-overload]
        drawn.clear()
        return mutate_(codes, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(algorithms, "deque", RecordedPopulation)
    monkeypatch.setattr(algorithms, "mutate", recorded_mutate)
    # the oracle's arrays as they are: a protocol refuses a search key with unmeasured cells
    data = OracleData(space, VAL, val[None, :], None, None, None, None, 60)
    mixed = 0
    for run in range(10):
        tournaments.clear()
        run_one(data, RegularizedEvolution(population=3, sample_size=3), 0, run)
        assert len(tournaments) >= 57  # every charged child (and the refused last one)
        for parent, members in tournaments:
            assert len(members) == 3 and parent in members
            if not np.isnan(val[members]).all():
                assert not np.isnan(val[parent]), (run, members, parent)
                mixed += bool(np.isnan(val[members]).any())
    assert mixed > 0  # tournaments did meet a NaN member beside a measured one


def _onemax(codes: np.ndarray) -> np.ndarray:
    return (codes == 3).sum(axis=1).astype(float)


@pytest.mark.parametrize(
    "algo",
    [
        LocalSearch(),
        LocalSearch(first_improvement=True),
        RegularizedEvolution(),
        RegularizedEvolution(mutation="uniform-edge"),
    ],
)
def test_local_search_and_rea_climb_a_unimodal_landscape(
    algo: LocalSearch | RegularizedEvolution, make_table: Callable[..., Table]
) -> None:
    table = make_table(_onemax, key=VAL, extra={TEST: _onemax})
    res = run_search(table, Protocol("p", VAL, (TEST,), budget_queries=1000), algo, runs=5)
    assert (res.runs["test"] == 6.0).all()  # the all-3x3 cell


def test_na_variants_run_and_respect_budgets(make_table: Callable[..., Table]) -> None:
    table = make_table(_onemax, key=VAL, extra={TEST: _onemax})
    p = Protocol("p", VAL, (TEST,), budget_queries=120)
    algos = {
        "na-rea": make_algorithm("na-rea", radius=1, charge=True),
        "na-ls": make_algorithm("na-ls", agg="min", include_self=False),
        "na-ls-q": make_algorithm("na-ls", agg="quantile", quantile=0.5, radius=2),
        "na-rs-conn": make_algorithm("na-rs", no_none=True, connected_only=True, exact=True),
    }
    res = run_search(table, p, algos, runs=3)
    assert (res.runs["queries"] <= 120).all()
    assert res.runs["test"].notna().all()


@pytest.mark.parametrize(
    "options", [{}, {"rerank_top_k": 5}, {"charge": True}], ids=["one-stage", "free", "no-top-k"]
)
def test_stage1_fraction_where_it_does_not_apply_is_refused(options: dict[str, object]) -> None:
    # it changed nothing (stage 1 takes the whole budget) and was silently dropped
    with pytest.raises(AlgorithmError, match="applies only to two-stage na-rs with charged"):
        make_algorithm("na-rs", stage1_fraction=0.3, **options)
    two_stage = make_algorithm("na-rs", stage1_fraction=0.3, rerank_top_k=5, charge=True)
    assert two_stage.label.endswith(",top5,s1=0.3]")


def test_make_algorithm_names_and_errors() -> None:
    assert make_algorithm("rs").label == "rs"
    na = make_algorithm("na-rs", radius=2, agg="median", include_self=True, exact=False)
    assert na.label == "na-rs[r2,median,self,free]"
    assert make_algorithm("na-rs", radius=2, agg="median").label == "na-rs[r2=,median,noself,free]"
    assert make_algorithm("rea").label == "rea"
    with pytest.raises(AlgorithmError, match="unknown algorithm 'bo'; choose from rs"):
        make_algorithm("bo")
    # the paper's spelling of a name: the refusal named no match among the choices
    for spelt, name in (("NA-RS", "na-rs"), ("NA_REA", "na-rea"), ("RS", "rs")):
        with pytest.raises(
            AlgorithmError, match=rf"^unknown algorithm '{spelt}' \(did you mean '{name}'\?\); "
        ):
            make_algorithm(spelt)
    # the Python keywords, never a flag (the command line respells them: test_search_reproduce)
    with pytest.raises(
        AlgorithmError,
        match=r"^radius does not apply to name='rs'; drop it \(rs takes no algorithm options\)$",
    ):
        make_algorithm("rs", radius=2)
    with pytest.raises(AlgorithmError, match="^exact does not apply to name='rs'"):
        make_algorithm("rs", exact=False)
    with pytest.raises(
        AlgorithmError,
        match=r"^first_improvement does not apply to name='rea'; drop it \(rea takes mutation, "
        r"population, sample_size\)$",
    ):
        make_algorithm("rea", first_improvement=True)
    with pytest.raises(AlgorithmError, match="population"):
        make_algorithm("ls", population=3)
    with pytest.raises(AlgorithmError, match="aggregator"):
        make_algorithm("na-rs", agg="max")
    with pytest.raises(AlgorithmError, match="radius"):
        NeighbourObjective(radius=0)
    with pytest.raises(AlgorithmError, match="quantile"):
        NeighbourObjective(agg="quantile", quantile=1.5)
    with pytest.raises(AlgorithmError, match="rerank_top_k"):
        NARandomSearch(rerank_top_k=0)
    with pytest.raises(AlgorithmError, match="sample_size"):
        RegularizedEvolution(sample_size=0)


@pytest.mark.parametrize("bad", [2.5, "3", True, 10**9])
def test_rea_counts_are_whole_and_bounded(bad: object) -> None:
    # 2.5 ran as a population of 3 (2 in the compiled search); 10**9 allocated gigabytes
    for name in ("population", "sample_size"):
        with pytest.raises(AlgorithmError, match=name):
            RegularizedEvolution(**{name: bad})  # type: ignore[arg-type]
    rea = RegularizedEvolution(population=np.int64(5), sample_size=np.int64(2))
    assert type(rea.population) is int and rea.label == "rea(p5,s2)"


def test_rea_tournament_draws_no_more_than_the_population() -> None:
    # the command line refused --sample-size above --population while the library ran it;
    # one rule for both (the CLI spells the parameters as flags: tests/cli/test_user_facing)
    fix = ": a tournament draws its members from the population; lower sample_size or raise population"
    with pytest.raises(AlgorithmError, match="^sample_size=4 exceeds population=3" + fix + "$"):
        RegularizedEvolution(population=3, sample_size=4)
    with pytest.raises(AlgorithmError, match="^sample_size=3 exceeds population=2: "):
        RegularizedEvolution(population=2)  # NB201's sample size 3
    with pytest.raises(AlgorithmError, match="^sample_size=11 exceeds population=10: "):
        make_algorithm("na-rea", sample_size=11)
    assert RegularizedEvolution(population=3, sample_size=3).label == "rea(p3,s3)"


@pytest.mark.parametrize("bad", [2.5, "3", True])
def test_rerank_top_k_is_a_whole_count(bad: object) -> None:
    # 2.5 re-ranked the top 2 under the label top2.5
    with pytest.raises(AlgorithmError, match="rerank_top_k"):
        NARandomSearch(rerank_top_k=bad)  # type: ignore[arg-type]
    assert NARandomSearch(rerank_top_k=np.int64(3)).label.endswith(",top3]")


def test_stage1_fraction_is_a_number() -> None:
    with pytest.raises(AlgorithmError, match="stage1_fraction"):
        NARandomSearch(stage1_fraction=True)  # type: ignore[arg-type]
    charged = NeighbourObjective(charge=True)
    with pytest.raises(AlgorithmError, match=r"^stage1_fraction must lie in \(0, 1\),"):
        NARandomSearch(charged, rerank_top_k=3, stage1_fraction=1.5)
    with pytest.raises(AlgorithmError, match="got '0.3'"):  # text was read through float()
        NARandomSearch(charged, rerank_top_k=3, stage1_fraction="0.3")  # type: ignore[arg-type]
    with pytest.raises(AlgorithmError, match=r"^stage1_fraction must lie in \(0, 1\),"):
        make_algorithm("na-rs", charge=True, rerank_top_k=3, stage1_fraction=1.5)
    with pytest.raises(AlgorithmError, match="add charge=True or drop it$"):
        make_algorithm("na-rs", rerank_top_k=3, stage1_fraction=0.3)
    with pytest.raises(AlgorithmError, match="add rerank_top_k=K and charge=True or drop it$"):
        NARandomSearch(stage1_fraction=0.3)


@pytest.mark.parametrize(
    "fields",
    [{}, {"rerank_top_k": 5}, {"objective": NeighbourObjective(charge=True)}],
    ids=["one-stage", "free", "no-top-k"],
)
def test_na_rs_itself_refuses_a_stage1_fraction_that_does_not_apply(
    fields: dict[str, object],
) -> None:
    # built in Python (not through make_algorithm) it was silently ignored
    with pytest.raises(AlgorithmError, match="applies only to two-stage na-rs with charged"):
        NARandomSearch(stage1_fraction=0.3, **fields)  # type: ignore[arg-type]
    assert NARandomSearch(**fields).stage1_share == 1.0  # type: ignore[arg-type]


def test_na_rs_stage1_default_and_replace() -> None:
    charged = NeighbourObjective(charge=True)
    two = NARandomSearch(charged, rerank_top_k=4)
    assert two.stage1_fraction is None and two.stage1_share == 0.5
    assert two.label == NARandomSearch(charged, rerank_top_k=4, stage1_fraction=0.5).label
    assert two.label.endswith(",top4,s1=0.5]")
    # the default stays None, so replace() may drop the charged second stage without a word
    assert replace(two, objective=NeighbourObjective()).stage1_share == 1.0
    assert replace(two, rerank_top_k=None).label == NARandomSearch(charged).label
    with pytest.raises(AlgorithmError, match="applies only"):
        replace(NARandomSearch(charged, rerank_top_k=4, stage1_fraction=0.3), rerank_top_k=None)


@pytest.mark.parametrize("bad", ["no", 1, None])
def test_flags_are_bools(bad: object) -> None:
    # bool("no") is True: charge="no" charged the neighbours
    with pytest.raises(AlgorithmError, match="charge must be True or False"):
        NeighbourObjective(charge=bad)  # type: ignore[arg-type]
    with pytest.raises(AlgorithmError, match="first_improvement must be True or False"):
        LocalSearch(first_improvement=bad)  # type: ignore[arg-type]
    assert NeighbourObjective(charge=np.True_).charge is True


def test_quantile_without_the_quantile_aggregator_is_refused() -> None:
    # it was silently ignored: the objective reads it only under agg="quantile"
    with pytest.raises(AlgorithmError, match="quantile applies only with agg='quantile'"):
        NeighbourObjective(agg="mean", quantile=0.3)
    with pytest.raises(AlgorithmError, match="quantile applies only"):
        make_algorithm("na-rs", quantile=0.3)
    assert NeighbourObjective(agg="quantile", quantile=0.3).quantile == 0.3
    # inside a Neighbourhood too: its label hid the level, two "equal" labels then collided
    from dataclasses import replace

    from nb201_flat.neighbourhood import Neighbourhood

    with pytest.raises(AlgorithmError, match="0.3 .* applies only with agg='quantile'"):
        NARandomSearch(NeighbourObjective(Neighbourhood(quantile=0.3)))
    # the spec itself shows the level (flatness's quantile column reads it), as it compares
    spec = Neighbourhood(quantile=0.3)
    assert spec != Neighbourhood() and repr(spec) != repr(Neighbourhood())
    assert spec.label != Neighbourhood().label
    # an aggregator replacing the quantile takes its level with it (the grid's agg variants)
    q = NeighbourObjective(agg="quantile", quantile=0.3)
    assert replace(q, agg="mean") == NeighbourObjective(agg="mean")  # type: ignore[call-arg]


def test_the_grid_quantile_level_reaches_its_quantile_variants() -> None:
    from nb201_flat.search.grid import ReproduceConfig

    cfg = ReproduceConfig.quick(aggregators=("mean", "quantile"), quantile=0.3)
    labels = list(cfg.algorithms())
    assert any(",q0.3," in lab for lab in labels) and not any("q0.25" in lab for lab in labels)
    with pytest.raises(AlgorithmError, match="quantile applies only where the grid"):
        ReproduceConfig.quick(quantile=0.3)  # its aggregators: mean only


def test_an_objective_must_be_a_neighbour_objective() -> None:
    # a bare Neighbourhood got a label, then failed mid-search ('no attribute charge')
    from nb201_flat.neighbourhood import NA_PAPER

    for make in (
        lambda o: NARandomSearch(o),
        lambda o: NABestEvaluatedSearch(o),
        lambda o: RegularizedEvolution(objective=o),
        lambda o: LocalSearch(objective=o),
    ):
        with pytest.raises(AlgorithmError, match="wrap a Neighbourhood"):
            make(NA_PAPER)
    for make in (lambda o: NARandomSearch(o), lambda o: NABestEvaluatedSearch(o)):
        with pytest.raises(AlgorithmError, match="must be a NeighbourObjective, got None"):
            make(None)
    assert RegularizedEvolution(objective=None).label == "rea"


def test_na_rs_equal_by_what_it_searches() -> None:
    # None and 0.5 are the same search under the same label: equal and hashed alike
    charged = NeighbourObjective(charge=True)
    default = NARandomSearch(charged, rerank_top_k=10)
    explicit = NARandomSearch(charged, rerank_top_k=10, stage1_fraction=0.5)
    assert default == explicit and hash(default) == hash(explicit)
    assert len({default, explicit}) == 1
    assert default != NARandomSearch(charged, rerank_top_k=10, stage1_fraction=0.3)
    assert default != NARandomSearch(charged, rerank_top_k=9)
    assert NARandomSearch() != RandomSearch()


class _Offers:
    """A custom algorithm (the oracle module's documented surface) that offers one index."""

    name = label = "offers"

    def __init__(self, index: object) -> None:
        self.index = index

    def search(self, oracle: object, rng: object, incumbent: object) -> None:
        oracle.query(5)  # type: ignore[attr-defined]
        incumbent.offer(self.index, 99.0)  # type: ignore[attr-defined]


def _toy_runs(index: object) -> dict[str, object]:
    space = Space(("a", "b", "c"), 3)
    val, test = MetricKey("toy", "x-valid", 12), MetricKey("toy", "x-test", 12)
    table = Table(space, {(val, None): np.arange(27.0), (test, None): np.arange(27.0) * 10})
    protocol = Protocol("toy", val, (test,), seed_policy="mean", budget_queries=3)
    result = run_search(table, protocol, {"offers": _Offers(index)}, runs=1, seed=0, jobs=1)
    return dict(result.runs.iloc[0])


@pytest.mark.parametrize("bad", [2.5, 26.9, -1, 27, "3", True])
def test_an_offered_index_follows_the_index_rule(bad: object) -> None:
    # int() took 2.5 for cell 2 (its test value reported), -1 for no cell (a NaN result)
    with pytest.raises(InvalidArchError):
        _toy_runs(bad)


def test_an_offered_whole_float_is_that_cell() -> None:
    assert _toy_runs(np.float64(7.0))["best"] == 7


@pytest.mark.parametrize("name", ["na-rs", "na-rea", "na-ls"])
def test_the_radius_is_checked_against_the_searched_space(name: str) -> None:
    # a hard-coded 6 (NB201's edges) refused radius 7 on a 10-edge space, where it is valid
    val, test = MetricKey("toy", "x-valid", 12), MetricKey("toy", "x-test", 12)
    protocol = Protocol("toy", val, (test,), seed_policy="mean", budget_queries=5)
    for space, radius, ok in (
        (Space(("a", "b"), 5), 7, True),
        (Space(("a", "b", "c"), 3), 4, False),
    ):
        v = np.arange(float(space.size))
        table = Table(space, {(val, None): v, (test, None): v * 10})
        algo = {"x": make_algorithm(name, radius=radius)}
        if ok:
            assert len(run_search(table, protocol, algo, runs=2, seed=0, jobs=1).runs) == 2
        else:
            with pytest.raises(AlgorithmError, match="radius must lie in 1..3, got 4"):
                run_search(table, protocol, algo, runs=2, seed=0, jobs=1)
