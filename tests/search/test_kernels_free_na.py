"""The compiled walks of RS and free NA-RS: their buffers and retries, one compiled version per
kernel (numpy's float sums: test_kernels_numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.search import kernels_free_na as kn
from nb201_flat.search import vectorised as vec
from nb201_flat.search.algorithms import (
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    SearchAlgorithm,
)
from nb201_flat.search.oracle import OracleData, seed_rows
from nb201_flat.search.runner import run_one
from nb201_flat.space import Space
from nb201_flat.table import MetricKey

MID = Space(("none", "skip_connect", "conv_1x1", "conv_3x3"), 4)  # 4096 cells


def _toy(n: int) -> tuple[np.ndarray, ...]:
    """``n`` cells without neighbours, worth their index, costing one second each."""
    indptr = vec.frozen(np.zeros(n + 1, dtype=np.int64))
    flat = vec.frozen(np.zeros(0, dtype=np.int64))
    costs = vec.frozen(np.ones(n))
    values = vec.frozen(np.arange(float(n)))
    return indptr, flat, costs, values


def test_change_buffers_grow_for_a_run_that_improves_at_every_draw() -> None:
    # one run, 100 draws in increasing value: 100 changes, more than the first buffers hold
    n = 100
    indptr, flat, costs, values = _toy(n)
    cells = vec.frozen(np.arange(n)[None, :])
    no_i, no_f = vec.frozen(np.zeros(0, dtype=np.int64)), vec.frozen(np.zeros(0))
    rows = np.empty((0, 1))
    got = kn.free_na_walk(
        cells, indptr, flat, costs, 50.5, 10**9, 10**9, kn.SCORE, False, values, no_f, no_i,
        vec._NO_WORDS, vec._NO_START, rows, np.empty(0), np.empty(0, dtype=np.int64),
    )  # fmt: skip
    status, end, queries, seconds = got[0][0], got[1][0], got[2][0], got[3][0]
    assert (status, end, queries, seconds) == (kn.DONE, 50, 50, 50.0)  # the 51st is refused
    assert got[8].tolist() == [0, 50]
    assert got[9].tolist() == [float(t) for t in range(1, 51)]  # seconds at each change
    assert got[11].tolist() == list(range(50))
    rs = kn.rs_walk(
        cells, costs, np.inf, 10**9, 10**9, values.size, False, False, values, no_f, no_i,
        vec._NO_WORDS, vec._NO_START,
    )  # fmt: skip
    assert rs[0][0] == kn.MORE_DRAWS  # no budget reached: it needs more draws
    assert rs[7].tolist() == [0, 0]  # and keeps no changes
    capped = kn.rs_walk(
        cells, costs, np.inf, 99, 10**9, values.size, False, False, values, no_f, no_i,
        vec._NO_WORDS, vec._NO_START,
    )  # fmt: skip
    assert capped[0][0] == kn.DONE and capped[10].tolist() == list(range(99))


def _seeded(rng: np.random.Generator, budget: float) -> OracleData:
    vals = rng.normal(size=(3, MID.size))
    vals[rng.random(vals.shape) < 0.2] = np.nan
    order, counts = seed_rows(vals)
    return OracleData(
        MID,
        MetricKey("toy", "x-valid", 12),
        vals,
        order,
        counts,
        rng.uniform(1.0, 3.0, MID.size),
        budget,
        None,
    )


ALGOS: list[SearchAlgorithm] = [
    RandomSearch(),
    NARandomSearch(NeighbourObjective(radius=1, agg="median")),
    NABestEvaluatedSearch(NeighbourObjective(radius=2)),
]


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.label)
def test_runs_short_of_stream_words_go_again_with_more(
    algo: SearchAlgorithm, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _seeded(np.random.default_rng(3), 60.0)
    loop = [run_one(data, algo, 5, r) for r in range(12)]
    asked: list[int] = []

    def few(most: int) -> int:
        asked.append(most)
        return 1  # one word: every run runs out, and is walked again with more

    given: list[list[int]] = []
    words = vec._Oracle.words

    def counted(self: vec._Oracle, runs: list[int], n: np.ndarray, *buf: object) -> object:
        given.append(n.tolist())
        return words(self, runs, n, *buf)  # type: ignore[arg-type]

    monkeypatch.setattr(vec, "_spare_words", few)
    monkeypatch.setattr(vec._Oracle, "words", counted)
    assert vec.run_batched(data, algo, 5, range(12)) == loop
    assert asked and given[0] == [1] * 12  # one word each first
    assert len(given) >= 2 and all(n > 1 for n in given[1][:1])  # then more


def test_random_search_on_stored_seeds_keeps_the_loop_without_the_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat.search import lockstep

    data = _seeded(np.random.default_rng(4), 40.0)
    calls: list[int] = []

    def loop(d: OracleData, a: SearchAlgorithm, seed: int, run: int) -> object:
        calls.append(run)
        return run_one(d, a, seed, run)

    monkeypatch.setattr(lockstep, "replay_matches_numpy", lambda: False)
    monkeypatch.setattr(vec, "run_one", loop)
    want = [run_one(data, RandomSearch(), 1, r) for r in range(4)]
    assert vec.run_vectorised(data, RandomSearch(), 1, range(4)) == want
    assert calls == list(range(4))


def test_one_compiled_version_of_each_kernel() -> None:
    # inputs go in read-only (vectorised.frozen), as warm_up passes them: real work after
    # warm_up compiles nothing more
    kn.warm_up()
    kernels = (kn.free_na_walk, kn.offer_rows, kn.free_lookups, kn.rs_walk, kn.bounded_draws)
    assert [len(k.signatures) for k in kernels] == [1] * len(kernels)  # type: ignore[attr-defined]
    data = _seeded(np.random.default_rng(5), 50.0)
    for algo in ALGOS:
        vec.run_batched(data, algo, 0, range(3))
    vec.free_lookups_many(
        NeighbourObjective().neighbourhood.arrays(MID), data.costs, np.arange(3), np.zeros(3), 1
    )
    vec._centre_draws.cache_clear()
    vec.centre_draws(0, [0, 1], 1000, 20)
    assert [len(k.signatures) for k in kernels] == [1] * len(kernels)  # type: ignore[attr-defined]
