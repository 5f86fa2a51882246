"""REA, LS and their NA forms in lock step on random small oracles, stored seeds included:
every record (best, score, queries, seconds, free look-ups and their seconds, cache hits,
change lists) must equal the loop's (:func:`run_one`) run for run."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.search import LocalSearch, NeighbourObjective, RegularizedEvolution, vectorised
from nb201_flat.search import lockstep as ls
from nb201_flat.search.algorithms import SearchAlgorithm
from nb201_flat.search.oracle import OracleData, seed_rows
from nb201_flat.search.runner import RunRecord, run_one
from nb201_flat.space import Space
from nb201_flat.table import MetricKey

SMALL = Space(("none", "skip_connect", "conv"), 3)  # 27 cells: revisits, stalls
MID = Space(("none", "skip_connect", "conv_a", "pool"), 4)  # 4096 cells


def _oracle(
    space: Space,
    seed: int,
    *,
    rows: int = 3,
    nan: float = 0.0,
    budget_seconds: float | None = None,
    budget_queries: int | None = None,
    candidates: int | None = None,
    repeats: str = "charge",
    stored: bool = True,
    costs: bool = True,
) -> OracleData:
    """Random values with 0..rows stored seeds per cell (some cells 1 or none), random costs."""
    rng = np.random.default_rng(seed)
    size = space.size
    stack = rng.normal(size=(rows, size)).round(3)  # ties between cells happen
    if stored:
        have = rng.integers(0 if nan else 1, rows + 1, size=size)
        stack[np.arange(rows)[:, None] >= have[None, :]] = np.nan
        order, counts = seed_rows(stack)
        values, o, c = stack, order, counts
    else:
        row = stack[:1]
        row[0, rng.random(size) < nan] = np.nan
        values, o, c = row, None, None
    if nan and stored:
        values = values.copy()
        values[0, rng.random(size) < nan] = np.nan  # a present seed that is NaN itself
    cost = rng.uniform(1.0, 9.0, size=size)
    cand = None if candidates is None else np.sort(rng.choice(size, candidates, replace=False))
    return OracleData(
        space,
        MetricKey("toy", "x-valid", 12),
        values,
        o,
        c,
        cost if costs else None,
        budget_seconds,
        budget_queries,
        repeats=repeats,  # type: ignore[arg-type]
        candidates=cand,
    )


def _same(data: OracleData, algo: SearchAlgorithm, runs: int, seed: int = 7) -> list[RunRecord]:
    assert ls.lockstep_ok(data, algo)
    fast = ls.run_lockstep(data, algo, seed, range(runs))
    loop = [run_one(data, algo, seed, r) for r in range(runs)]
    assert sum(r.queries for r in loop) > runs  # the runs did search
    for a, b in zip(fast, loop, strict=True):
        assert a == b, (a, b)
    return loop


NA_FORMS = [
    RegularizedEvolution(objective=NeighbourObjective(radius=1, include_self=True)),
    RegularizedEvolution(
        population=4,
        sample_size=2,
        mutation="uniform-edge",
        objective=NeighbourObjective(radius=2, agg="median", include_self=False),
    ),
    RegularizedEvolution(population=1, sample_size=1, objective=NeighbourObjective(agg="min")),
    RegularizedEvolution(
        population=6,
        sample_size=4,
        objective=NeighbourObjective(agg="quantile", quantile=0.3, connected_only=True),
    ),
    LocalSearch(objective=NeighbourObjective(radius=1, include_self=True)),
    LocalSearch(first_improvement=True, objective=NeighbourObjective(radius=2, include_self=False)),
    LocalSearch(objective=NeighbourObjective(agg="median", no_none=True)),
    LocalSearch(first_improvement=True, objective=NeighbourObjective(agg="min", include_self=True)),
]
PLAIN = [
    RegularizedEvolution(),
    RegularizedEvolution(population=3, sample_size=5, mutation="uniform-edge"),
    LocalSearch(),
    LocalSearch(first_improvement=True),
]


@pytest.mark.parametrize("algo", NA_FORMS + PLAIN, ids=lambda a: a.label)
def test_stored_seeds_time_budget(algo: SearchAlgorithm) -> None:
    # 1..3 seeds per cell: own draws (32-bit) and look-ups (doubles) interleave on one stream
    data = _oracle(MID, 1, budget_seconds=150.0)
    assert data.counts is not None and set(np.unique(data.counts).tolist()) == {1, 2, 3}
    loop = _same(data, algo, 40)
    if algo.objective is not None:
        assert sum(r.free_queries for r in loop) > 40 and sum(r.free_seconds for r in loop) > 0


@pytest.mark.parametrize("algo", NA_FORMS[::2] + PLAIN[::3], ids=lambda a: a.label)
def test_stored_seeds_with_nan_and_cells_without_seeds(algo: SearchAlgorithm) -> None:
    data = _oracle(MID, 3, rows=4, nan=0.15, budget_seconds=120.0)
    assert data.counts is not None and (data.counts == 0).any() and (data.counts == 1).any()
    _same(data, algo, 40)


@pytest.mark.parametrize("algo", NA_FORMS[1::2] + PLAIN[1::2], ids=lambda a: a.label)
def test_query_budget_and_candidates(algo: SearchAlgorithm) -> None:
    data = _oracle(MID, 4, budget_queries=25, candidates=300, costs=False)
    assert data.costs is None
    _same(data, algo, 40)


@pytest.mark.parametrize("algo", NA_FORMS[:2] + NA_FORMS[4:6] + PLAIN, ids=lambda a: a.label)
def test_small_space_revisits_and_both_budgets(algo: SearchAlgorithm) -> None:
    # 27 cells: REA re-samples paid cells, LS restarts into known ground, the cache repeats
    data = _oracle(SMALL, 5, budget_seconds=60.0, budget_queries=12)
    _same(data, algo, 60)
    cached = _oracle(SMALL, 7, budget_seconds=80.0, repeats="cache")
    _same(cached, algo, 60)


@pytest.mark.parametrize("algo", NA_FORMS[::3] + PLAIN[:1], ids=lambda a: a.label)
def test_single_row_oracle_with_nan(algo: SearchAlgorithm) -> None:
    data = _oracle(MID, 9, nan=0.2, budget_seconds=100.0, stored=False)
    assert data.order is None
    _same(data, algo, 40)


def test_many_runs_stored_seeds() -> None:
    data = _oracle(MID, 11, budget_seconds=90.0)
    for algo in (NA_FORMS[0], NA_FORMS[4], PLAIN[2]):
        _same(data, algo, 250, seed=2)


def test_rejected_draws_go_to_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lemire's rejection (about 2**-31 a draw) is forced on some draws: those runs are re-run
    # by the loop, the others stay in lock step; every record is still the loop's
    real = ls._lemire
    calls = {"n": 0}

    def flaky(words: np.ndarray, n: object) -> tuple[np.ndarray, np.ndarray]:
        out, rej = real(words, n)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] in (2, 3):  # a draw of the first run in these calls: rejected
            rej = rej.copy()
            rej[:1] = True
        return out, rej

    monkeypatch.setattr(ls, "_lemire", flaky)
    redone: list[int] = []
    real_one = ls.run_one

    def counted(data: OracleData, algo: SearchAlgorithm, seed: int, run: int) -> RunRecord:
        redone.append(run)
        return real_one(data, algo, seed, run)

    monkeypatch.setattr(ls, "run_one", counted)
    data = _oracle(MID, 1, budget_seconds=150.0)
    for algo in (NA_FORMS[0], NA_FORMS[4], PLAIN[0]):
        redone.clear()
        calls["n"] = 0
        fast = ls.run_lockstep(data, algo, 7, range(30))
        assert 0 < len(redone) < 30
        assert fast == [real_one(data, algo, 7, r) for r in range(30)]


def test_batched_dispatch_covers_stored_seeds() -> None:
    data = _oracle(MID, 1, budget_seconds=150.0)
    for algo in NA_FORMS[:1] + NA_FORMS[4:5] + PLAIN:
        assert vectorised.batched_ok(data, algo)
        assert vectorised.run_batched(data, algo, 4, range(20)) == [
            run_one(data, algo, 4, r) for r in range(20)
        ]


def test_words_follow_numpy_mixed_draws() -> None:
    # the oracle stream's words, read as the engine reads them: 32-bit draws take halves of a
    # word (low first) and a double takes a whole word, leaving a buffered half in place
    words = ls._Words(5, [0, 1], 16)
    gens = [np.random.default_rng(np.random.SeedSequence(5, spawn_key=(r, 1))) for r in (0, 1)]
    raw = words.raw
    for k, g in enumerate(gens):
        a = int(g.integers(3))
        u = float(g.random())
        b = int(g.integers(3))
        c = int(g.integers(3))
        w = [int(x) for x in raw[k, :4]]
        assert a == ((w[0] & 0xFFFFFFFF) * 3) >> 32
        assert u == (w[1] >> 11) * 2.0**-53
        assert b == ((w[0] >> 32) * 3) >> 32
        assert c == ((w[2] & 0xFFFFFFFF) * 3) >> 32


def test_runs_in_several_chunks_are_the_same_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # a large space (or many runs) goes in chunks of runs; each chunk keeps its runs' streams
    monkeypatch.setattr(ls, "_CHUNK_BYTES", 200_000)  # a few runs per chunk on MID
    data = _oracle(MID, 2, budget_seconds=100.0)
    for algo in (NA_FORMS[0], NA_FORMS[5], PLAIN[0], PLAIN[2]):
        _same(data, algo, 23)


def test_permutations_follow_numpy() -> None:
    # windowed Fisher-Yates (and the word-by-word fallback past 256), interleaved with draws
    runs = list(range(6))
    st = ls._Stream(3, runs, 0, width=8)
    gens = [np.random.default_rng(np.random.SeedSequence(3, spawn_key=(r, 0))) for r in runs]
    rows = np.arange(len(runs))
    for n in (24, 2, 1, 300, 24, 17, 5, 24):
        got = st.permutation(rows, n)
        assert got.tolist() == [g.permutation(n).tolist() for g in gens]
        assert st.bounded(rows, 7).tolist() == [int(g.integers(7)) for g in gens]
    sub = np.array([1, 4])  # some runs only: the others' streams stay where they are
    assert st.permutation(sub, 24).tolist() == [gens[k].permutation(24).tolist() for k in (1, 4)]
    assert st.bounded(rows, 9).tolist() == [int(g.integers(9)) for g in gens]
