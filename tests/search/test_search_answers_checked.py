"""A search answers what was asked (a seventh audit's findings, each reproduced first): a
protocol searching a loss is refused, a run that found nothing has no score, and budget-matched
controls are each NA form's own base."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nb201_flat.search import (
    NABestEvaluatedSearch,
    NARandomSearch,
    RandomSearch,
    RegularizedEvolution,
    fixed_n_protocols,
    run_search,
)
from nb201_flat.search.accounting import budget_matched
from nb201_flat.search.algorithms import AlgorithmError
from nb201_flat.search.protocol import Protocol, ProtocolError
from nb201_flat.table import MetricKey, Table


def test_a_protocol_searching_a_loss_is_refused() -> None:
    # searches keep the highest value: RS on a loss returned its worst cells (26.8 against
    # 93.6 searching the accuracy), with no note
    loss = MetricKey("cifar10-valid", "x-valid", 200, "loss")
    report = MetricKey("cifar10", "ori-test", 200, "accuracy")
    with pytest.raises(ProtocolError, match=r"searches cifar10-valid/x-valid@200ep:loss, a loss"):
        Protocol("loss", loss, (report,), budget_queries=50)


def test_a_run_that_found_nothing_has_no_score(nb201_like: Table) -> None:
    # its incumbent's -inf was written as its score, beside best <NA> and test NaN
    from nb201_flat.search import protocols_by_name

    (prot,) = protocols_by_name("nb201", nb201_like)[:1]
    assert prot.cost is not None
    cheapest = float(np.nanmin(nb201_like.vector_for(prot.cost))) * prot.cost_scale
    prot = prot.replace(budget_seconds=cheapest * 1.5)  # most runs afford no first query
    res = run_search(nb201_like, prot, "rs", runs=8, seed=0, jobs=1)
    nothing = res.runs["best"].isna()
    assert nothing.any()
    assert res.runs.loc[nothing, "score"].isna().all()
    assert not np.isinf(res.runs["score"]).any()
    from nb201_flat.search.fidelity import FidelityData, Hyperband, run_fidelity
    from nb201_flat.space import Space

    space = Space(("a", "b", "c"), 3)
    curves = np.full((1, 27, 4), np.nan)
    curves[0, 5] = 1.0
    data = FidelityData(space, MetricKey("toy", "x-valid", 4), curves, None, None, 3)
    rec = run_fidelity(data, Hyperband(), 1)
    assert rec.best == -1 and math.isnan(rec.score)


def test_budget_matched_controls_are_each_na_forms_own_base(nb201_like: Table) -> None:
    prot = fixed_n_protocols(nb201_like, 20)[:1]
    res = run_search(nb201_like, prot, {"na": NARandomSearch(), "nab": NABestEvaluatedSearch()}, runs=2, seed=0, jobs=1)  # fmt: skip
    # one control served both (REA never ran, its row showed RS's)
    two = {"na": ("base", RandomSearch()), "nab": ("base", RegularizedEvolution())}
    with pytest.raises(AlgorithmError, match=r"base label 'base' names two algorithms"):
        budget_matched(nb201_like, res, two, runs=2)
    # an NA search as the base spent 8,813 evaluations of a budget of 496
    with pytest.raises(AlgorithmError, match=r"looks up neighbours for free"):
        budget_matched(nb201_like, res, {"na": ("rs", NARandomSearch())}, runs=2)
    for results, pairs, said in (
        (None, {"na": ("rs", RandomSearch())}, "^results must be the SearchResults"),
        (res, [("na", ("rs", RandomSearch()))], "^pairs must map each NA label"),
        (res, {"na": RandomSearch()}, r"^pairs\['na'\] must be \(base label, base algorithm\)"),
    ):
        with pytest.raises(AlgorithmError, match=said):
            budget_matched(nb201_like, results, pairs, runs=2)  # type: ignore[arg-type]
    ok = budget_matched(nb201_like, res, {"na": ("rs", RandomSearch())}, runs=2)
    assert set(ok.matched["algorithm"]) == {"na"}


def test_random_search_in_chunks_of_runs_gives_the_same_runs(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # all runs held their draws at once (500 runs at budget_scale 4000: 4.4 GB); in chunks,
    # each run's draws are still its own
    from nb201_flat.search import protocols_by_name, vectorised

    (prot,) = protocols_by_name("nb201", nb201_like)[:1]
    data = prot.oracle_data(nb201_like)
    whole = vectorised.run_vectorised(data, RandomSearch(), 3, range(7))
    monkeypatch.setattr(vectorised, "_BATCH_BYTES", 1)  # one run a call
    chunked = vectorised.run_vectorised(data, RandomSearch(), 3, range(7))
    assert [(r.best, r.queries, r.seconds, r.changes) for r in chunked] == [
        (r.best, r.queries, r.seconds, r.changes) for r in whole
    ]


def test_the_fidelity_layer_checks_its_arguments() -> None:
    # bare AttributeErrors ('ndim', 'metric', 'search', 'space'); an int rng failed only at
    # the first query
    from nb201_flat.errors import ArgumentError
    from nb201_flat.search.fidelity import FidelityData, FidelityOracle, Hyperband, run_fidelity
    from nb201_flat.space import Space

    space = Space(("a", "b", "c"), 3)
    curves = np.full((1, 27, 4), 50.0)
    key = MetricKey("toy", "x-valid", 4)
    listed = FidelityData(space, key, curves.tolist(), None, None, 3)  # type: ignore[arg-type]
    assert listed.values.shape == curves.shape
    from nb201_flat.errors import SearchBudgetError

    with pytest.raises(SearchBudgetError, match="^key must be a MetricKey"):
        FidelityData(space, "toy", curves, None, None, 3)  # type: ignore[arg-type]
    data = FidelityData(space, key, curves, None, None, 3)
    for call, said in (
        (
            lambda: run_fidelity(data, "hyperband", 0),
            "^algorithm must be a search such as Hyperband",
        ),
        (lambda: run_fidelity(None, Hyperband(), 0), "^data must be a FidelityData"),
        (lambda: FidelityOracle(data, 0), "^rng must be a numpy Generator"),
    ):
        with pytest.raises(ArgumentError, match=said):
            call()  # type: ignore[no-untyped-call]
    assert run_fidelity(data, Hyperband(), 0).best >= 0
