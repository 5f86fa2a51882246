"""Vectorised RS / NA-RS must give exactly the loop's runs (same streams, same records)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from nb201_flat.search import (
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    RegularizedEvolution,
    fixed_n_protocols,
    nb201_protocol,
    per_dataset_protocols,
    run_search,
)
from nb201_flat.search import vectorised as vec
from nb201_flat.search.oracle import OracleData
from nb201_flat.search.runner import run_one
from nb201_flat.table import Table

from .conftest import stalled_toy

NA_VARIANTS = [
    NARandomSearch(NeighbourObjective(radius=1)),
    NARandomSearch(NeighbourObjective(radius=2, agg="median", include_self=False)),
    NARandomSearch(NeighbourObjective(radius=2, exact=True, agg="min", no_none=True)),
    NARandomSearch(NeighbourObjective(radius=1, agg="quantile", quantile=0.3, connected_only=True)),
]


def _same(data: OracleData, algo: object, runs: int, seed: int = 3) -> None:
    fast = vec.run_vectorised(data, algo, seed, range(runs))  # type: ignore[arg-type]
    loop = [run_one(data, algo, seed, r) for r in range(runs)]  # type: ignore[arg-type]
    assert len(fast) == runs
    for a, b in zip(fast, loop, strict=True):
        assert a == b, (a, b)


def test_rs_500_runs_identical_to_the_loop_under_nb201(nb201_like: Table) -> None:
    data = nb201_protocol().oracle_data(nb201_like)
    _same(data, RandomSearch(), 500)


def test_na_rs_500_runs_identical_to_the_loop(nb201_like: Table) -> None:
    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    _same(data, NA_VARIANTS[0], 500)


@pytest.mark.parametrize("algo", NA_VARIANTS[1:], ids=lambda a: a.label)
def test_na_rs_variants_identical_to_the_loop(nb201_like: Table, algo: NARandomSearch) -> None:
    data = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    _same(data, algo, 40)


@pytest.mark.parametrize(
    "protocol",
    [
        nb201_protocol(repeats="cache"),
        nb201_protocol(seed_policy="mean", repeats="cache"),
        per_dataset_protocols(epochs=200)[1],  # random stored seeds
        per_dataset_protocols(epochs=200, repeats="cache")[0],
    ],
    ids=["cache", "mean-cache", "random-seeds", "random-seeds-cache"],
)
def test_rs_protocol_variants_identical_to_the_loop(nb201_like: Table, protocol: object) -> None:
    data = protocol.oracle_data(nb201_like)  # type: ignore[attr-defined]
    _same(data, RandomSearch(), 60)


def test_query_budgets_and_connected_sampling(nb201_like: Table) -> None:
    p = fixed_n_protocols(nb201_like, 30)[0]
    p = dataclasses.replace(p, sampling="connected")
    data = p.oracle_data(nb201_like)
    assert data.candidates is not None
    _same(data, RandomSearch(), 50)
    _same(data, NA_VARIANTS[0], 50)


def test_more_draws_when_the_first_block_runs_out(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vec, "_first_block", lambda data: 16)
    data = nb201_protocol(seed_policy="mean", repeats="cache").oracle_data(nb201_like)
    _same(data, RandomSearch(), 20)
    _same(data, NA_VARIANTS[0], 20)


def test_a_stalled_na_search_ends_as_in_the_loop() -> None:
    # NA-RS runs out of new cells before its budget and stalls
    data = stalled_toy()
    _same(data, NA_VARIANTS[0], 3)


def test_variants_without_a_vectorised_form_keep_the_loop(nb201_like: Table) -> None:
    mean = nb201_protocol(seed_policy="mean").oracle_data(nb201_like)
    seeds = per_dataset_protocols(epochs=200)[0].oracle_data(nb201_like)
    assert seeds.order is not None
    assert vec.vectorisable(mean, RandomSearch())
    assert vec.vectorisable(seeds, RandomSearch())
    assert vec.vectorisable(mean, NA_VARIANTS[0])
    assert not vec.vectorisable(seeds, NA_VARIANTS[0])  # free look-ups draw seeds in between
    assert not vec.vectorisable(mean, NARandomSearch(NeighbourObjective(charge=True)))
    assert not vec.vectorisable(mean, NARandomSearch(rerank_top_k=5))
    assert not vec.vectorisable(mean, LocalSearch())
    with pytest.raises(ValueError, match="no vectorised form"):
        vec.run_vectorised(mean, LocalSearch(), 0, range(2))


def test_runner_uses_the_fast_path_and_matches_the_loop(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    prots = (nb201_protocol(), *per_dataset_protocols(epochs=200)[:1])
    algos = {
        "rs": RandomSearch(),
        "na": NA_VARIANTS[0],
        "ls": LocalSearch(),
        "rea": RegularizedEvolution(),
        "na-rea": RegularizedEvolution(objective=NeighbourObjective()),
        "two": NARandomSearch(NeighbourObjective(charge=True), rerank_top_k=5),
        "best": NABestEvaluatedSearch(NeighbourObjective()),
    }
    fast = run_search(nb201_like, prots, algos, runs=12, seed=4)
    two = run_search(nb201_like, prots, algos, runs=12, seed=4, jobs=2)
    monkeypatch.setattr(vec, "batched_ok", lambda data, algo: False)
    slow = run_search(nb201_like, prots, algos, runs=12, seed=4)
    pd.testing.assert_frame_equal(fast.runs, slow.runs, check_exact=True)
    pd.testing.assert_frame_equal(fast.curves, slow.curves, check_exact=True)
    pd.testing.assert_frame_equal(fast.runs, two.runs, check_exact=True)


def test_doctests() -> None:
    import doctest

    result = doctest.testmod(vec, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
