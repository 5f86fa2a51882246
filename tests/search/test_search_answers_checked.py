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
