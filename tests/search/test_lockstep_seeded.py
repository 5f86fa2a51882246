"""REA, LS and their NA forms in lock step on random small oracles, stored seeds included:
every record (best, score, queries, seconds, free look-ups and their seconds, cache hits,
change lists) must equal the loop's (:func:`run_one`) run for run."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from nb201_flat.search import LocalSearch, NeighbourObjective, RegularizedEvolution, vectorised
from nb201_flat.search import lockstep as ls
from nb201_flat.search.algorithms import Incumbent, SearchAlgorithm
from nb201_flat.search.oracle import Oracle, OracleData, SearchEnded, seed_rows
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
    RegularizedEvolution(population=3, sample_size=3, mutation="uniform-edge"),
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


def _generator(row: np.ndarray) -> np.random.Generator:
    """numpy's generator at a kernel state row ``(state hi, state lo, inc hi, inc lo)``."""
    bits = np.random.PCG64()
    bits.state = {
        "bit_generator": "PCG64",
        "state": {
            "state": (int(row[0]) << 64) | int(row[1]),
            "inc": (int(row[2]) << 64) | int(row[3]),
        },
        "has_uint32": 0,
        "uinteger": 0,
    }
    return np.random.Generator(bits)


def _loop_from(
    data: OracleData, algo: SearchAlgorithm, run: int, a: np.ndarray, o: np.ndarray
) -> RunRecord:
    """run_one's record with the algorithm and oracle streams starting at states ``a``, ``o``."""
    oracle = Oracle(data, _generator(o))
    inc = Incumbent(oracle)
    with contextlib.suppress(SearchEnded):
        algo.search(oracle, _generator(a), inc)
    return RunRecord(
        run=run,
        best=inc.index,
        score=inc.score,
        queries=oracle.queries,
        seconds=oracle.seconds,
        free_queries=oracle.free_queries,
        cache_hits=oracle.cache_hits,
        changes=tuple(inc.changes),
        free_seconds=oracle.free_seconds,
        children=inc.children,
        ranked=inc.ranked,
    )


def _state_with_first_word(word: int, rng: np.random.Generator) -> list[int]:
    """A PCG64 state whose first output is ``word``: choose the stepped state (its high half
    at random, its low half so that XSL-RR gives ``word``), then step it back."""
    m64 = (1 << 64) - 1
    hi = int(rng.integers(1 << 62)) << 2 | 3
    rot = hi >> 58
    x = ((word << rot) | (word >> (64 - rot))) & m64 if rot else word
    stepped = (hi << 64) | (x ^ hi)
    inc = (int(rng.integers(1 << 62)) << 65) | (int(rng.integers(1 << 62)) << 1) | 1
    mod = 1 << 128
    state = ((stepped - inc) * pow(ls._PCG_MULT, -1, mod)) % mod
    row = [state >> 64, state & m64, inc >> 64, inc & m64]
    assert int(_generator(np.array(row, dtype=np.uint64)).bit_generator.random_raw()) == word
    return row


def test_rejected_draws_follow_numpy() -> None:
    # Lemire's rejection (about 2**-31 a draw of a small bound) forced: streams whose first
    # word's low half is 0, which integers(300) (sampling 300 candidates) and integers(3) (a
    # cell's third stored seed) reject, drawing again; every record is still the loop's
    data = _oracle(MID, 1, rows=3, budget_seconds=150.0, candidates=300)
    assert data.counts is not None and data.candidates is not None
    rng = np.random.default_rng(8)
    n = 24
    algo_st = np.array(
        [_state_with_first_word(int(rng.integers(1, 1 << 32)) << 32, rng) for _ in range(n)],
        dtype=np.uint64,
    )
    orc_st = np.array(
        [_state_with_first_word(int(rng.integers(1, 1 << 32)) << 32, rng) for _ in range(n)],
        dtype=np.uint64,
    )
    for row in algo_st:  # the first draw is rejected, as numpy's own generator does
        assert (_generator(row).bit_generator.random_raw() & 0xFFFFFFFF) * 300 % 2**32 < 2**32 % 300
    first = [int(data.candidates[_generator(row).integers(300)]) for row in algo_st]
    assert (data.counts[first] == 3).sum() > 0  # their first query draws from three seeds
    for algo in (NA_FORMS[0], NA_FORMS[4], PLAIN[0], PLAIN[2]):
        assert isinstance(algo, RegularizedEvolution | LocalSearch)
        fast = ls._run_kernel(data, algo, list(range(n)), algo_st, orc_st)
        loop = [_loop_from(data, algo, r, algo_st[r], orc_st[r]) for r in range(n)]
        assert sum(r.queries for r in loop) > n
        assert fast == loop


def test_batched_dispatch_covers_stored_seeds() -> None:
    data = _oracle(MID, 1, budget_seconds=150.0)
    for algo in NA_FORMS[:1] + NA_FORMS[4:5] + PLAIN:
        assert vectorised.batched_ok(data, algo)
        assert vectorised.run_batched(data, algo, 4, range(20)) == [
            run_one(data, algo, 4, r) for r in range(20)
        ]


def test_words_follow_numpy_mixed_draws() -> None:
    # the oracle stream's words, read as the kernels read them: 32-bit draws take halves of a
    # word (low first) and a double takes a whole word, leaving a buffered half in place
    from nb201_flat.search import kernels_lockstep as kl

    for r in (0, 1):
        key = np.random.SeedSequence(5, spawn_key=(r, 1))
        raw = np.random.PCG64(key).random_raw(4)
        g = np.random.default_rng(key)
        a = int(g.integers(3))
        u = float(g.random())
        b = int(g.integers(3))
        c = int(g.integers(3))
        w = [int(x) for x in raw]
        assert a == ((w[0] & 0xFFFFFFFF) * 3) >> 32
        assert u == (w[1] >> 11) * 2.0**-53
        assert b == ((w[0] >> 32) * 3) >> 32
        assert c == ((w[2] & 0xFFFFFFFF) * 3) >> 32
        gen = np.zeros(kl._GEN, dtype=np.uint64)
        gen[:4] = ls._states(5, [r], 1)[0]
        out = np.zeros(4)
        kl.draws(gen, np.array([[0, 3], [2, 0], [0, 3], [0, 3]], dtype=np.int64), out)
        assert out.tolist() == [a, u, b, c]


def test_runs_in_several_parts_are_the_same_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # runs split between calls (as the runner's processes split them), and change buffers
    # too small for a call (its later runs are run again with larger ones): the same runs
    data = _oracle(MID, 2, budget_seconds=100.0)
    for algo in (NA_FORMS[0], NA_FORMS[5], PLAIN[0], PLAIN[2]):
        whole = ls.run_lockstep(data, algo, 7, range(23))
        assert ls.run_lockstep(data, algo, 7, [5, 6, 22]) == [whole[5], whole[6], whole[22]]
        assert ls.run_lockstep(data, algo, 7, range(9, 23)) == whole[9:]
    monkeypatch.setattr(ls, "_CHANGES_PER_RUN", 0)
    monkeypatch.setattr(ls, "_CHANGES_MIN", 3)  # fewer than one run's changes
    for algo in (NA_FORMS[0], NA_FORMS[5], PLAIN[0], PLAIN[2]):
        loop = _same(data, algo, 23)
        assert max(len(r.changes) for r in loop) > 3


def test_permutations_follow_numpy() -> None:
    # Fisher-Yates with bit-mask rejection (past 256 too), interleaved with bounded draws
    runs = list(range(6))
    gens = [np.random.default_rng(np.random.SeedSequence(3, spawn_key=(r, 0))) for r in runs]
    ops: list[tuple[int, int]] = []
    want: list[list[float]] = [[] for _ in runs]
    for n in (24, 2, 1, 300, 24, 17, 5, 24):
        ops += [(1, n), (0, 7)]
        for k, g in enumerate(gens):
            want[k] += [float(x) for x in g.permutation(n).tolist()]
            want[k].append(float(g.integers(7)))
    from nb201_flat.search import kernels_lockstep as kl

    for k in runs:
        gen = np.zeros(kl._GEN, dtype=np.uint64)
        gen[:4] = ls._states(3, [k], 0)[0]
        out = np.zeros(len(want[k]))
        assert kl.draws(gen, np.array(ops, dtype=np.int64), out) == out.size
        assert out.tolist() == want[k]
    # one run's draws leave the others' streams where they are: each run has its own state
    states = ls._states(3, runs, 0)
    assert states.tolist() == [ls._states(3, [k], 0)[0].tolist() for k in runs]
