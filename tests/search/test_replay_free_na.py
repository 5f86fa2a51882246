"""Free one-stage NA-RS and best-evaluated NA-RS across all runs at once must give the loop's
records exactly (best, score, queries, seconds, free look-ups and their seconds, changes), on
random small spaces with NaN values, stored seeds of varying counts, candidate restrictions,
query and time budgets, every aggregator and neighbourhood option."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from nb201_flat.search import replay as rp
from nb201_flat.search import vectorised as vec
from nb201_flat.search.algorithms import (
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import OracleData, seed_rows
from nb201_flat.search.replay import run_replay, run_seeded
from nb201_flat.search.runner import run_one
from nb201_flat.space import Space
from nb201_flat.table import MetricKey

SMALL = Space(("none", "skip_connect", "conv"), 3)  # 27 cells: many revisits
MID = Space(("none", "skip_connect", "conv_1x1", "conv_3x3"), 4)  # 4096 cells, 6 edges


def _data(
    space: Space,
    rng: np.random.Generator,
    *,
    seeds: int = 1,
    nan: float = 0.1,
    budget_seconds: float | None = None,
    budget_queries: int | None = None,
    candidates: int | None = None,
    costs: bool = True,
) -> OracleData:
    """Random values (NaN at share ``nan``); with ``seeds > 1`` a stack of stored seeds whose
    count per cell varies from 0 to ``seeds``."""
    size = space.size
    vals = rng.normal(size=(seeds, size))
    order = counts = None
    if seeds > 1:
        # each cell misses 0..seeds of its seeds (at random rows); NaN values otherwise
        missing = rng.choice(seeds + 1, size, p=[0.5] + [0.5 / seeds] * seeds)
        missing[rng.choice(size, seeds + 1, replace=False)] = np.arange(seeds + 1)  # each count
        rank = np.argsort(rng.random(vals.shape), axis=0)
        vals[rank < missing] = np.nan
        order, counts = seed_rows(vals)
        assert set(np.unique(counts).tolist()) == set(range(seeds + 1))
    vals[rng.random(vals.shape) < nan] = np.nan
    cost = rng.uniform(1.0, 3.0, size) if costs else None
    cand = None
    if candidates is not None:
        cand = np.sort(rng.choice(size, candidates, replace=False)).astype(np.int64)
    return OracleData(
        space,
        MetricKey("toy", "x-valid", 12),
        vals,
        order,
        counts,
        cost,
        budget_seconds,
        budget_queries,
        candidates=cand,
    )


def _same(data: OracleData, algo: SearchAlgorithm, runs: int, seed: int = 7) -> None:
    fast = vec.run_free_na(data, algo, seed, range(runs))
    loop = [run_one(data, algo, seed, r) for r in range(runs)]
    assert sum(r.queries for r in loop) > runs  # the runs did search
    assert len(fast) == runs
    for a, b in zip(fast, loop, strict=True):
        assert a == b, (a, b)
    # and through the dispatch the runner uses
    if vec.batched_ok(data, algo):
        assert vec.run_batched(data, algo, seed, range(runs)) == loop


OBJECTIVES = [
    NeighbourObjective(radius=1, agg="mean", include_self=True),
    NeighbourObjective(radius=1, agg="mean", include_self=False),
    NeighbourObjective(radius=1, agg="median", include_self=True),
    NeighbourObjective(radius=1, agg="min", include_self=False),
    NeighbourObjective(radius=1, agg="quantile", quantile=0.3, include_self=True),
    NeighbourObjective(radius=2, agg="mean", include_self=True),
    NeighbourObjective(radius=2, agg="median", include_self=False, exact=True),
    NeighbourObjective(radius=1, agg="mean", no_none=True),
    NeighbourObjective(radius=2, agg="min", connected_only=True, include_self=True),
]


def _algos(obj: NeighbourObjective) -> list[SearchAlgorithm]:
    return [NARandomSearch(obj), NABestEvaluatedSearch(obj)]


@pytest.mark.parametrize("obj", OBJECTIVES, ids=lambda o: o.label)
@pytest.mark.parametrize("seeds", [1, 3], ids=["single-row", "stored-seeds"])
def test_small_space_with_revisits_and_nan(obj: NeighbourObjective, seeds: int) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{obj.label}/{seeds}".encode()))
    data = _data(SMALL, rng, seeds=seeds, budget_seconds=30.0)
    for algo in _algos(obj):
        _same(data, algo, 80)


@pytest.mark.parametrize("obj", OBJECTIVES[::2], ids=lambda o: o.label)
def test_larger_space_stored_seeds_time_budget(obj: NeighbourObjective) -> None:
    rng = np.random.default_rng(11)
    data = _data(MID, rng, seeds=3, budget_seconds=120.0, nan=0.05)
    for algo in _algos(obj):
        _same(data, algo, 60)


@pytest.mark.parametrize(
    ("seeds", "costs"), list(itertools.product([1, 3], [True, False])), ids=str
)
def test_query_budget_with_and_without_costs(seeds: int, costs: bool) -> None:
    rng = np.random.default_rng(seeds + 10 * costs)
    data = _data(MID, rng, seeds=seeds, budget_queries=25, costs=costs)
    for obj in (OBJECTIVES[0], OBJECTIVES[6]):
        for algo in _algos(obj):
            _same(data, algo, 50)


@pytest.mark.parametrize("seeds", [1, 3])
def test_both_budgets_and_candidates(seeds: int) -> None:
    rng = np.random.default_rng(5 + seeds)
    data = _data(MID, rng, seeds=seeds, budget_seconds=60.0, budget_queries=22, candidates=300)
    for obj in (OBJECTIVES[1], OBJECTIVES[8]):
        for algo in _algos(obj):
            _same(data, algo, 50)


@pytest.mark.parametrize("seeds", [1, 3])
def test_a_stalled_search_ends_as_in_the_loop(seeds: int) -> None:
    # four candidates and a budget of many new cells: the NA memory gives up revisiting
    rng = np.random.default_rng(3)
    data = _data(SMALL, rng, seeds=seeds, budget_queries=10, candidates=4, nan=0.0)
    for algo in _algos(OBJECTIVES[0]):
        _same(data, algo, 4)


def test_more_draws_when_the_first_block_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vec, "_first_block", lambda data: 16)
    rng = np.random.default_rng(9)
    data = _data(MID, rng, seeds=3, budget_seconds=150.0)
    for algo in _algos(OBJECTIVES[0]):
        _same(data, algo, 30)


def test_chunks_of_one_run_give_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    data = _data(MID, rng, seeds=3, budget_seconds=100.0)
    algo = NARandomSearch(OBJECTIVES[2])
    whole = vec.run_free_na(data, algo, 2, range(40))
    # stored seeds: NA rows aggregated a block at a time; blocks of one run each
    monkeypatch.setattr(vec, "_CHUNK_ENTRIES", 1)
    assert vec.run_free_na(data, algo, 2, range(40)) == whole


def test_the_replay_entry_points_use_it() -> None:
    rng = np.random.default_rng(8)
    seeded = _data(MID, rng, seeds=3, budget_seconds=100.0)
    single = _data(MID, rng, seeds=1, budget_seconds=100.0)
    best = NABestEvaluatedSearch(OBJECTIVES[0])
    loop = [run_one(seeded, best, 1, r) for r in range(20)]
    assert run_seeded(seeded, best, 1, range(20)) == loop
    assert run_replay(single, best, 1, range(20)) == [
        run_one(single, best, 1, r) for r in range(20)
    ]
    with pytest.raises(ValueError, match="not free one-stage"):
        vec.run_free_na(single, NARandomSearch(rerank_top_k=3), 1, range(2))


def test_free_lookups_of_several_runs_are_each_runs_own() -> None:
    rng = np.random.default_rng(1)
    data = _data(MID, rng, budget_seconds=50.0)
    nb = NeighbourObjective(radius=2).neighbourhood.arrays(MID)
    runs = [rng.choice(MID.size, n, replace=False) for n in (5, 0, 17, 1)]
    firsts = np.concatenate(runs).astype(np.int64)
    run_of = np.repeat(np.arange(len(runs)), [len(r) for r in runs])
    _, n, secs = vec.free_lookups_many(nb, data.costs, firsts, run_of, len(runs))
    scores = vec._Scores(data, NeighbourObjective(radius=2))
    for k, r in enumerate(runs):
        one = scores.free_lookups(r.astype(np.int64))
        assert (int(n[k]), float(secs[k])) == one
        # the count is the neighbours needed before they were paid, each once
        known: set[int] = set()
        paid: set[int] = set()
        want = 0
        for c in r.tolist():
            paid.add(c)
            for j in nb.of(c).tolist():
                if j not in paid and j not in known:
                    known.add(j)
                    want += 1
        assert want == int(n[k])


@pytest.mark.parametrize("n_dom", [1, 2, 3, 1000, 15_625, 2**31 + 7, 2**32 + 5])
def test_centre_draws_are_numpys(n_dom: int) -> None:
    vec._centre_draws.cache_clear()
    got = vec.centre_draws(5, [0, 3, 9], n_dom, 300)
    for k, r in enumerate([0, 3, 9]):
        g = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(r, 0)))
        assert got[k].tolist() == g.integers(n_dom, size=300).tolist()


def test_centre_draws_without_the_replay_use_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from nb201_flat.search import lockstep

    vec._centre_draws.cache_clear()
    monkeypatch.setattr(lockstep, "replay_matches_numpy", lambda: False)
    got = vec.centre_draws(5, [2], 77, 40)
    vec._centre_draws.cache_clear()
    g = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(2, 0)))
    assert got[0].tolist() == g.integers(77, size=40).tolist()


CHARGED = [
    NeighbourObjective(radius=1, agg="mean", include_self=True, charge=True),
    NeighbourObjective(radius=1, agg="median", include_self=False, charge=True),
    NeighbourObjective(radius=2, agg="min", connected_only=True, charge=True),
    NeighbourObjective(radius=1, agg="quantile", quantile=0.7, no_none=True, charge=True),
]


@pytest.mark.parametrize("obj", CHARGED, ids=lambda o: o.label)
@pytest.mark.parametrize("space", [SMALL, MID], ids=["small", "mid"])
def test_charged_forms_under_stored_seeds(obj: NeighbourObjective, space: Space) -> None:
    # charged neighbours: the oracle stream holds only the paid queries' seed draws
    rng = np.random.default_rng(len(obj.label) + space.size)
    data = _data(space, rng, seeds=3, budget_seconds=80.0, budget_queries=45)
    for algo in _algos(obj):
        assert rp.seeded_ok(data, algo)
        loop = [run_one(data, algo, 4, r) for r in range(50)]
        assert sum(r.queries for r in loop) > 50
        assert rp.run_seeded(data, algo, 4, range(50)) == loop
        assert vec.run_batched(data, algo, 4, range(50)) == loop


TWO_STAGE = [
    NARandomSearch(OBJECTIVES[0], rerank_top_k=3),
    NARandomSearch(OBJECTIVES[6], rerank_top_k=10),
    NARandomSearch(CHARGED[0], rerank_top_k=3),
    NARandomSearch(CHARGED[2], rerank_top_k=5, stage1_fraction=0.8),
    NARandomSearch(CHARGED[1], rerank_top_k=10, stage1_fraction=0.3),
]


@pytest.mark.parametrize("algo", TWO_STAGE, ids=lambda a: a.label)
@pytest.mark.parametrize("space", [SMALL, MID], ids=["small", "mid"])
def test_two_stage_under_stored_seeds(algo: NARandomSearch, space: Space) -> None:
    # stage 1's seed draws (32-bit), then stage 2's: free look-ups (doubles) or charged
    # neighbours (32-bit, continuing the buffered half-word)
    rng = np.random.default_rng(len(algo.label) + space.size)
    data = _data(space, rng, seeds=3, budget_seconds=90.0)
    assert rp.seeded_ok(data, algo)
    loop = [run_one(data, algo, 6, r) for r in range(60)]
    assert sum(r.queries for r in loop) > 60
    assert rp.run_seeded(data, algo, 6, range(60)) == loop
    assert vec.run_batched(data, algo, 6, range(60)) == loop


def test_another_numpy_stream_sends_stored_seeds_to_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat.search import lockstep

    data = _data(SMALL, np.random.default_rng(2), seeds=3, budget_seconds=30.0)
    algo = NARandomSearch(OBJECTIVES[0])
    calls: list[int] = []

    def loop(d: OracleData, a: SearchAlgorithm, seed: int, run: int) -> object:
        calls.append(run)
        return run_one(d, a, seed, run)

    monkeypatch.setattr(lockstep, "replay_matches_numpy", lambda: False)
    monkeypatch.setattr(vec, "run_one", loop)
    assert vec.run_free_na(data, algo, 1, range(5)) == [run_one(data, algo, 1, r) for r in range(5)]
    assert calls == list(range(5))


def test_long_blocks_are_not_cached() -> None:
    vec._centre_draws.cache_clear()
    vec.centre_draws(1, [0], 10, vec._CACHED_DRAWS + 1)
    assert vec._centre_draws.cache_info().currsize == 0
    vec.centre_draws(1, [0], 10, 100)
    assert vec._centre_draws.cache_info().currsize == 1
