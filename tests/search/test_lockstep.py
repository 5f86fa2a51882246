"""REA and LS in lock step across runs must give exactly the loop's runs (same streams, same
records: best cell, score, queries, seconds, free look-ups, cache hits, change lists)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nb201_flat.search import (
    LocalSearch,
    NARandomSearch,
    NeighbourObjective,
    RegularizedEvolution,
    fixed_n_protocols,
    nb201_protocol,
    per_dataset_protocols,
)
from nb201_flat.search import lockstep as ls
from nb201_flat.search import replay as rp
from nb201_flat.search.algorithms import NABestEvaluatedSearch, SearchAlgorithm
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.runner import run_one
from nb201_flat.search.vectorised import _Scores, na_scores
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

from .conftest import stalled_toy, with_infinities

NA = NeighbourObjective(radius=1, include_self=True)


def _same(data: OracleData, algo: SearchAlgorithm, runs: int, seed: int = 3) -> None:
    fast = ls.run_lockstep(data, algo, seed, range(runs))
    loop = [run_one(data, algo, seed, r) for r in range(runs)]
    assert len(fast) == runs
    assert sum(r.queries for r in loop) > runs  # the runs did search
    for a, b in zip(fast, loop, strict=True):
        assert a == b, (a, b)


def _kernel_draws(seed: int, run: int, stream: int, ops: list[tuple[int, int]]) -> list[float]:
    """The compiled generator's draws for a script (0: integers(n), 1: permutation(n))."""
    from nb201_flat.search import kernels_lockstep as kl

    g = np.zeros(kl._GEN, dtype=np.uint64)
    g[:4] = ls._states(seed, [run], stream)[0]
    out = np.zeros(sum(n if op == 1 else 1 for op, n in ops))
    assert kl.draws(g, np.array(ops, dtype=np.int64).reshape(-1, 2), out) == out.size
    return out.tolist()


def test_stream_replay_matches_numpy() -> None:
    # integers(n) for many bounds (1 draws nothing; 2**31 + 7 rejects about half the words),
    # and permutations, interleaved, as the kernels draw them
    gens = [np.random.default_rng(np.random.SeedSequence(11, spawn_key=(r, 0))) for r in range(3)]
    ops: list[tuple[int, int]] = []
    want: list[list[float]] = [[] for _ in gens]
    for n in (1, 2, 3, 5, 10, 24, 1000, 15625, 2**31 + 7, 1, 4):
        ops += [(0, n), (1, 7)]
        for k, g in enumerate(gens):
            want[k].append(float(g.integers(n)))
            want[k] += [float(x) for x in g.permutation(7).tolist()]
    per_row = [1, 6, 3]  # each run its own bound
    for k, g in enumerate(gens):
        got = _kernel_draws(11, k, 0, [*ops, (0, per_row[k])])
        assert got == [*want[k], float(g.integers(per_row[k]))]
    assert ls.replay_matches_numpy() and ls._kernels_match_numpy()


def test_rea_500_runs_identical_under_nb201(nb201_like: Table) -> None:
    data = nb201_protocol().oracle_data(nb201_like)
    _same(data, RegularizedEvolution(), 500)


def test_ls_500_runs_identical_under_nb201(nb201_like: Table) -> None:
    data = nb201_protocol().oracle_data(nb201_like)
    _same(data, LocalSearch(), 500)


@pytest.mark.parametrize(
    "algo",
    [
        RegularizedEvolution(objective=NA),
        RegularizedEvolution(population=5, sample_size=5, mutation="uniform-edge"),
        RegularizedEvolution(population=1, sample_size=1),
        LocalSearch(objective=NA),
        LocalSearch(first_improvement=True),
        LocalSearch(first_improvement=True, objective=NeighbourObjective(radius=2, agg="min")),
        RegularizedEvolution(objective=NeighbourObjective(agg="median", include_self=False)),
    ],
    ids=lambda a: a.label,
)
def test_variants_identical_single_row(nb201_like: Table, algo: SearchAlgorithm) -> None:
    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    _same(data, algo, 60)


@pytest.mark.parametrize(
    "protocol",
    [
        nb201_protocol(repeats="cache"),
        per_dataset_protocols(epochs=200)[1],  # random stored seeds
        per_dataset_protocols(epochs=200, repeats="cache")[0],
    ],
    ids=["cache", "random-seeds", "random-seeds-cache"],
)
@pytest.mark.parametrize(
    "algo", [RegularizedEvolution(), LocalSearch(), LocalSearch(first_improvement=True)]
)
def test_protocol_variants_identical(
    nb201_like: Table, protocol: object, algo: SearchAlgorithm
) -> None:
    data = protocol.oracle_data(nb201_like)  # type: ignore[attr-defined]
    _same(data, algo, 60)


@pytest.mark.parametrize(
    "algo",
    [RegularizedEvolution(), RegularizedEvolution(population=3, sample_size=3)],
    ids=lambda a: a.label,
)
def test_rea_on_a_nan_heavy_table_identical(nb201_like: Table, algo: SearchAlgorithm) -> None:
    # half the cells unmeasured: tournaments meet NaN members, which rank last in both forms
    # the oracle's arrays as they are: a protocol refuses a search key with unmeasured cells
    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    values = np.array(data.values)
    values[:, np.random.default_rng(4).random(values.shape[1]) < 0.5] = np.nan
    _same(dataclasses.replace(data, values=values), algo, 60)


def test_query_budget_and_connected_sampling(nb201_like: Table) -> None:
    p = dataclasses.replace(fixed_n_protocols(nb201_like, 40)[0], sampling="connected")
    data = p.oracle_data(nb201_like)
    assert data.candidates is not None
    for algo in (RegularizedEvolution(), LocalSearch(), RegularizedEvolution(objective=NA)):
        _same(data, algo, 40)


def test_stalled_na_search_ends_as_in_the_loop() -> None:
    # the NA memory gives up revisiting the three candidates
    data = stalled_toy()
    _same(data, RegularizedEvolution(population=2, sample_size=2, objective=NA), 3)


def test_na_scores_are_the_loop_aggregates(nb201_like: Table) -> None:
    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    for obj in (
        NA,
        NeighbourObjective(radius=2, agg="quantile", quantile=0.3, connected_only=True),
        NeighbourObjective(agg="min", no_none=True, include_self=False),
    ):
        nb = obj.neighbourhood.arrays(data.space)
        row = data.values[0]
        want = [
            obj.aggregate(
                np.concatenate(([row[i]], row[nb.of(i)])) if obj.include_self else row[nb.of(i)]
            )
            for i in range(data.space.size)
        ]
        got = na_scores(data, obj)
        np.testing.assert_array_equal(got, np.array(want))
        assert _Scores(data, obj).of(np.arange(5)).tolist() == got[:5].tolist()


def test_what_has_no_lockstep_form(nb201_like: Table) -> None:
    seeds = per_dataset_protocols(epochs=200)[0].oracle_data(nb201_like)
    assert seeds.order is not None
    assert ls.lockstep_ok(seeds, RegularizedEvolution())
    # free look-ups draw stored seeds between the charged queries' draws: replayed too
    assert ls.lockstep_ok(seeds, RegularizedEvolution(objective=NA))
    assert ls.lockstep_ok(seeds, LocalSearch(objective=NA))
    charged = NeighbourObjective(charge=True)
    assert not ls.lockstep_kind(LocalSearch(objective=charged))
    with pytest.raises(ValueError, match="no lock-step form"):
        ls.run_lockstep(seeds, LocalSearch(objective=charged), 0, range(2))


def test_another_numpy_stream_sends_every_replayed_search_to_the_loop(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from nb201_flat.search import vectorised

    data = nb201_protocol().oracle_data(nb201_like)
    rea, plain_ls, na_ls = RegularizedEvolution(), LocalSearch(), LocalSearch(objective=NA)
    assert ls.replay_matches_numpy()  # the numpy the tests run on
    assert vectorised.batched_ok(data, rea) and vectorised.batched_ok(data, na_ls)
    assert vectorised.batched_ok(data, plain_ls)  # lock step now beats the loop for plain LS
    monkeypatch.setattr(ls, "replay_matches_numpy", lambda: False)
    with caplog.at_level("WARNING", logger="nb201_flat.search.vectorised"):
        assert not vectorised.batched_ok(data, rea) and not vectorised.batched_ok(data, na_ls)
        assert not vectorised.batched_ok(data, plain_ls)
    assert "lock-step replay" in caplog.text
    assert vectorised.batched_ok(data, NARandomSearch())  # vectorised RS/NA-RS use numpy itself


def test_doctests() -> None:
    import doctest

    for module in (ls, rp):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0


REPLAYED = [
    NARandomSearch(NeighbourObjective(charge=True)),
    NARandomSearch(NeighbourObjective(), rerank_top_k=10),
    NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=10),
    NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=3, stage1_fraction=0.8),
    # stage 2 completes no radius-2 neighbourhood: the run found nothing, in both forms
    NARandomSearch(
        NeighbourObjective(charge=True, radius=2, exact=False), rerank_top_k=10, stage1_fraction=0.9
    ),
    NABestEvaluatedSearch(NeighbourObjective()),
    NABestEvaluatedSearch(NeighbourObjective(charge=True)),
    NARandomSearch(NeighbourObjective(radius=2, agg="median", charge=True, connected_only=True)),
]


@pytest.mark.parametrize("algo", REPLAYED, ids=lambda a: a.label)
def test_replayed_na_rs_forms_identical(nb201_like: Table, algo: SearchAlgorithm) -> None:
    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    fast = rp.run_replay(data, algo, 3, range(200))
    loop = [run_one(data, algo, 3, r) for r in range(200)]
    assert sum(r.queries for r in loop) > 200
    assert fast == loop


@pytest.mark.parametrize("algo", REPLAYED[:7:6], ids=lambda a: a.label)
def test_replayed_under_query_budgets_and_connected_sampling(
    nb201_like: Table, algo: SearchAlgorithm
) -> None:
    p = dataclasses.replace(fixed_n_protocols(nb201_like, 60)[0], sampling="connected")
    data = p.oracle_data(nb201_like)
    assert [run_one(data, algo, 1, r) for r in range(40)] == rp.run_replay(data, algo, 1, range(40))


def test_replay_needs_a_single_row_oracle(nb201_like: Table) -> None:
    seeds = per_dataset_protocols(epochs=200)[0].oracle_data(nb201_like)
    assert not rp.replay_ok(seeds, REPLAYED[0])
    assert not rp.replay_kind(NARandomSearch())  # the vectorised module's
    with pytest.raises(ValueError, match="no replayed form"):
        rp.run_replay(seeds, REPLAYED[0], 0, range(2))


SEEDED = [
    NARandomSearch(NeighbourObjective(radius=1, include_self=True)),
    NARandomSearch(NeighbourObjective(radius=2, agg="median", include_self=False)),
    NARandomSearch(NeighbourObjective(agg="quantile", quantile=0.3, connected_only=True)),
    NABestEvaluatedSearch(NeighbourObjective()),
]


@pytest.mark.parametrize("algo", SEEDED, ids=lambda a: a.label)
def test_seeded_na_rs_identical_with_stored_seeds(nb201_like: Table, algo: SearchAlgorithm) -> None:
    # the random seed policy: the oracle stream's own draws and free look-ups interleave
    data = per_dataset_protocols(epochs=200)[1].oracle_data(nb201_like)
    assert data.order is not None and rp.seeded_ok(data, algo)
    fast = rp.run_seeded(data, algo, 5, range(150))
    loop = [run_one(data, algo, 5, r) for r in range(150)]
    assert sum(r.free_queries for r in loop) > 150
    assert fast == loop


def test_seeded_replay_refuses_what_it_does_not_model(nb201_like: Table) -> None:
    single = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    assert not rp.seeded_ok(single, SEEDED[0])  # the vectorised module's
    assert not rp.seeded_kind(RegularizedEvolution(objective=NA))  # the lock-step module's
    with pytest.raises(ValueError, match="no seeded replay"):
        rp.run_seeded(single, SEEDED[0], 0, range(2))


@pytest.mark.parametrize("rows", [1, 3], ids=["single-row", "stored-seeds"])
@pytest.mark.parametrize(
    "algo",
    [
        RegularizedEvolution(population=4, sample_size=3),
        RegularizedEvolution(4, 3, objective=NeighbourObjective(agg="median")),
        LocalSearch(objective=NeighbourObjective(agg="quantile", quantile=0.25)),
    ],
    ids=lambda a: a.label,
)
def test_infinite_and_nan_ties_rank_alike(rows: int, algo: SearchAlgorithm) -> None:
    # tournaments meet -inf, +inf and NaN members tied (the shared ranks_before: NaN last,
    # below -inf), and NA medians/quantiles tied infinities (lerp gave NaN for inf - inf; on
    # stored seeds the kernel aggregates them itself): the compiled runs equal the loop's
    from nb201_flat.search.oracle import seed_rows

    s = Space(("none", "skip_connect", "conv"), 3)
    rng = np.random.default_rng(7)
    vals = rng.uniform(size=(rows, s.size))
    for row in vals:
        row[rng.choice(s.size, 17, replace=False)] = [np.inf] * 9 + [-np.inf] * 5 + [np.nan] * 3
    order, counts = seed_rows(vals) if rows > 1 else (None, None)
    data = with_infinities(
        OracleData, vals, s, MetricKey("toy", "x-valid", 12), order, counts, np.ones(s.size),
        40.0, None,
    )  # fmt: skip
    _same(data, algo, 12)
    # a neighbourhood of tied +inf scores +inf (it was NaN, which never wins): some run's pick
    assert any(run_one(data, algo, 3, r).score == np.inf for r in range(12))
