"""The compiled kernels of the run-by-run NA-RS replay: numpy's PCG64 streams bit for bit, and
the replayed records equal to the loop's when words run short, on stored seeds, and when numpy
draws otherwise than the replay assumes (the loop runs). Its pairwise sums: test_kernels_numpy."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.search import (
    NARandomSearch,
    NeighbourObjective,
    nb201_protocol,
    per_dataset_protocols,
)
from nb201_flat.search import kernels_replay as kr
from nb201_flat.search import replay as rp
from nb201_flat.search import vectorised as vec
from nb201_flat.search.algorithms import NABestEvaluatedSearch, SearchAlgorithm
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.runner import RunRecord, run_one
from nb201_flat.table import Table

from .conftest import with_infinities

FORMS = [
    NARandomSearch(NeighbourObjective(charge=True, include_self=True)),
    NARandomSearch(NeighbourObjective(include_self=True), rerank_top_k=10),
    NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=4, stage1_fraction=0.3),
    NABestEvaluatedSearch(NeighbourObjective(charge=True)),
    NARandomSearch(NeighbourObjective(radius=2, agg="quantile", quantile=0.2), rerank_top_k=3),
]


@pytest.mark.parametrize("seed", [0, 5, 2026, 2**32 + 1, 2**70 + 9, 2**130 + 3])
def test_stream_words_are_numpys(seed: int) -> None:
    runs = [0, 1, 7, 499, 2**31 + 5, 2**32 + 7]
    for stream in (0, 1):
        got = rp._words(seed, runs, stream, 40)
        for k, r in enumerate(runs):
            bits = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(r, stream)))
            assert got[k].tolist() == bits.random_raw(40).tolist()


def _same(data: OracleData, algo: SearchAlgorithm, runs: int, seed: int = 2) -> list[RunRecord]:
    loop = [run_one(data, algo, seed, r) for r in range(runs)]
    assert sum(r.queries for r in loop) > runs  # the runs did search
    assert vec.run_batched(data, algo, seed, range(runs)) == loop
    return loop


@pytest.mark.parametrize("algo", FORMS, ids=lambda a: a.label)
@pytest.mark.parametrize("seeds", ["single-row", "stored-seeds"])
def test_few_words_at_first_give_the_same_runs(
    nb201_like: Table, algo: SearchAlgorithm, seeds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no words at first: every run asks for more words of both its streams, several times
    monkeypatch.setattr(vec, "_first_block", lambda data: 0)
    monkeypatch.setattr(rp, "_SLACK", 0)
    monkeypatch.setattr(rp, "_CHUNK_WORDS", 64)  # a few runs at a time, then one
    blocks: list[int] = []
    run_block = kr.run_block

    def counted(*args: object) -> object:
        out = run_block(*args)
        blocks.append(int((out[0] != kr.DONE).sum()))
        return out

    monkeypatch.setattr(kr, "run_block", counted)
    if seeds == "single-row":
        data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    else:
        data = per_dataset_protocols(epochs=200)[2].oracle_data(nb201_like)
        assert data.order is not None
    loop = _same(data, algo, 40)
    assert len(blocks) > 3 and blocks[0] > 0 and blocks[-1] == 0
    if isinstance(algo, NARandomSearch) and algo.rerank_top_k and not algo.objective.charge:
        assert sum(r.free_queries for r in loop) > 40  # stage 2 looked neighbours up


def test_another_numpy_stream_sends_the_replay_to_the_loop(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.search import lockstep

    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    calls: list[int] = []

    def loop(d: OracleData, a: SearchAlgorithm, seed: int, run: int) -> RunRecord:
        calls.append(run)
        return run_one(d, a, seed, run)

    monkeypatch.setattr(lockstep, "replay_matches_numpy", lambda: False)
    monkeypatch.setattr(rp, "run_one", loop)
    want = [run_one(data, FORMS[0], 1, r) for r in range(4)]
    assert rp.run_replay(data, FORMS[0], 1, range(4)) == want
    assert calls == list(range(4))


def test_warm_up_runs() -> None:
    kr.warm_up()


@pytest.mark.parametrize("rows", [1, 3], ids=["single-row", "stored-seeds"])
def test_stalled_runs_end_as_in_the_loop(rows: int) -> None:
    # three candidates and a budget that outlasts their neighbourhoods: the NA memory stalls
    from nb201_flat.search.oracle import seed_rows
    from nb201_flat.space import Space
    from nb201_flat.table import MetricKey

    space = Space(("none", "skip_connect", "conv"), 3)
    rng = np.random.default_rng(rows)
    vals = rng.normal(size=(rows, space.size))
    vals[rng.random(vals.shape) < 0.15] = np.nan
    order, counts = seed_rows(vals) if rows > 1 else (None, None)
    data = OracleData(
        space,
        MetricKey("toy", "x-valid", 12),
        vals,
        order,
        counts,
        rng.uniform(1.0, 2.0, space.size),
        None,
        100,
        candidates=np.array([0, 5, 9]),
    )
    for algo in FORMS[:4]:
        loop = [run_one(data, algo, 3, r) for r in range(6)]
        assert all(r.queries < 100 for r in loop)  # ended by the stall, not the budget
        assert vec.run_batched(data, algo, 3, range(6)) == loop


@pytest.mark.parametrize("charge", [False, True])
def test_a_top_k_past_the_space_reranks_every_cell_seen(nb201_like: Table, charge: bool) -> None:
    # the kernel allocated top-k entries: rerank_top_k=10**12 raised MemoryError; any top-k
    # past the space's size re-ranks every distinct cell stage 1 saw, as the loop does
    data = nb201_protocol().oracle_data(nb201_like)
    obj = NeighbourObjective(charge=charge)
    big = NARandomSearch(obj, rerank_top_k=10**12)
    whole = NARandomSearch(obj, rerank_top_k=data.space.size)
    got = vec.run_batched(data, big, 1, range(3))
    assert got == vec.run_batched(data, whole, 1, range(3))
    assert got == [run_one(data, whole, 1, r) for r in range(3)]


def _inf_data(values: np.ndarray, candidates: np.ndarray | None = None) -> OracleData:
    from nb201_flat.space import Space
    from nb201_flat.table import MetricKey

    space = Space(("none", "skip_connect", "conv"), 3)
    costs = np.ones(space.size)
    if candidates is not None:  # charged: stage 1 spends half the budget on them, then ranks
        costs[candidates] = 30.0 / len(candidates)
    return with_infinities(
        OracleData, values, space, MetricKey("toy", "x-valid", 12), None, None, costs, 60.0,
        None, candidates=candidates,
    )  # fmt: skip


@pytest.mark.parametrize("charge", [False, True])
def test_stage_one_ranks_minus_inf_above_nan(charge: bool) -> None:
    # stage 1 ranked by -value with NaN mapped to +inf: a -inf value tied with NaN, and the
    # first sampled of the two was re-ranked; the rule is "higher first, NaN last", so the
    # measured -inf cell (5) is the one stage 2 re-ranks, in the loop and the replay alike
    vals = np.linspace(0.0, 1.0, 27)[None, :].copy()
    vals[0, 4], vals[0, 5] = np.nan, -np.inf
    data = _inf_data(vals, candidates=np.array([4, 5]))
    algo = NARandomSearch(NeighbourObjective(charge=charge), rerank_top_k=1)
    loop = [run_one(data, algo, 0, r) for r in range(8)]
    assert [r.best for r in loop] == [5] * 8, loop
    assert vec.run_batched(data, algo, 0, range(8)) == loop


@pytest.mark.parametrize("agg", ["median", "quantile"])
@pytest.mark.parametrize("top", [1, 3, 27])
@pytest.mark.parametrize("charge", [False, True])
def test_infinite_ties_score_and_rank_alike_in_loop_and_replay(
    agg: str, top: int, charge: bool
) -> None:
    # tied infinities in a neighbourhood made its median/quantile NaN (inf - inf in lerp), so
    # a cell whose neighbours are mostly +inf never won; stage 1 met -inf, +inf and NaN ties
    from nb201_flat.landscape.neighbourhood import aggregate_members
    from nb201_flat.neighbourhood import Neighbourhood

    rng = np.random.default_rng(top)
    vals = rng.uniform(size=(1, 27))
    vals[0, rng.choice(27, 12, replace=False)] = [np.inf] * 4 + [-np.inf] * 5 + [np.nan] * 3
    obj = NeighbourObjective(agg=agg, **({"quantile": 0.25} if agg == "quantile" else {}))
    algo = NARandomSearch(NeighbourObjective(obj.neighbourhood, charge=charge), rerank_top_k=top)
    data = _inf_data(vals)
    loop = [run_one(data, algo, 1, r) for r in range(6)]
    assert vec.run_batched(data, algo, 1, range(6)) == loop
    spec = Neighbourhood(agg="median")
    assert aggregate_members([1.0, 2.0, np.inf], spec) == 2.0
    assert aggregate_members([-np.inf, -np.inf, 3.0], spec) == -np.inf
    assert aggregate_members([np.inf, np.inf, 1.0, np.inf], spec) == np.inf
    # every score of the re-ranked cells is a number: the pick is the best of them
    assert not any(np.isnan(r.score) for r in loop), loop
