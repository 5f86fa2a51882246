"""A paired row's means are over the runs its difference is over.

Where a run's pick has no reported test value (a sparse table), its difference is NaN and left
out of ``diff`` and ``n``; ``na_mean`` and ``base_mean`` were still each side's mean over all
of its own runs, so the report printed ``na_mean − base_mean`` (+0.20 on the real table with
half of cifar100/x-test missing) beside a ``diff`` of +0.04 over 81 pairs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nb201_flat.conventions import report_key, search_key
from nb201_flat.errors import ArgumentError
from nb201_flat.search import make_algorithm, per_dataset_protocols, run_search
from nb201_flat.search.algorithms import SearchAlgorithm
from nb201_flat.search.protocol import nb201_protocol
from nb201_flat.search.runner import SearchResults
from nb201_flat.search.statistics import (
    accounting_rows,
    claim_routes,
    compare,
    paired_differences,
)
from nb201_flat.table import Table


@pytest.fixture(scope="module")
def holey(nb201_like: Table) -> tuple[SearchResults, dict[str, SearchAlgorithm]]:
    """RS and NA-RS on a table missing half of the cifar100 test values."""
    key = report_key("cifar100")
    rng = np.random.default_rng(0)
    data = dict(nb201_like.data)
    hit = [k for k in data if k[0] == key]
    assert hit
    gone = rng.random(nb201_like.space.size) < 0.5
    for k in hit:
        data[k] = np.where(gone, np.nan, data[k])
    table = Table(nb201_like.space, data, source="holey")
    prots = per_dataset_protocols(datasets=("cifar100",))
    pair = (make_algorithm("rs"), make_algorithm("na-rs", include_self=True, exact=False))
    algos = {a.label: a for a in pair}
    return run_search(table, prots, algos, runs=40, seed=0, jobs=1), algos


def _paired_by_hand(runs: pd.DataFrame, a: str, b: str, col: str) -> tuple[float, float, int]:
    """Means of ``col`` of ``a`` and of ``b`` over the runs where both have a test value."""
    cifar = runs[runs["dataset"] == "cifar100"]
    test = cifar.pivot(index="run", columns="algorithm", values="test")
    wide = cifar.pivot(index="run", columns="algorithm", values=col).astype(float)
    both = test[a].notna() & test[b].notna()
    return float(wide.loc[both, a].mean()), float(wide.loc[both, b].mean()), int(both.sum())


def test_paired_row_means_are_over_the_paired_runs(
    holey: tuple[SearchResults, dict[str, SearchAlgorithm]],
) -> None:
    res, algos = holey
    na = next(label for label in algos if label != "rs")
    test = res.runs[res.runs["dataset"] == "cifar100"]
    # the case in question: each side lost some runs, not the same ones
    lost = test[test["test"].isna()].groupby("algorithm")["run"].apply(set)
    assert lost["rs"] and lost[na] and lost["rs"] != lost[na]

    row = paired_differences(res, algos, n_boot=50).iloc[0]
    a, b, n = _paired_by_hand(res.runs, na, "rs", "test")
    assert int(row["n"]) == n < 40
    assert row["na_mean"] == pytest.approx(a, rel=1e-12)
    assert row["base_mean"] == pytest.approx(b, rel=1e-12)
    assert row["na_mean"] - row["base_mean"] == pytest.approx(row["diff"], abs=1e-9)


def test_compare_accounting_and_routes_means_are_over_the_paired_runs(
    holey: tuple[SearchResults, dict[str, SearchAlgorithm]],
) -> None:
    res, algos = holey
    na = next(label for label in algos if label != "rs")
    pname = res.protocols[0].name
    row = compare(res.runs, (pname, na), (pname, "rs"), "cifar100", n_boot=50)
    assert row is not None
    a, b, n = _paired_by_hand(res.runs, na, "rs", "test")
    ea, eb, _ = _paired_by_hand(res.runs, na, "rs", "evaluations")
    assert row["n"] == n
    assert (row["a_mean"], row["b_mean"]) == (pytest.approx(a), pytest.approx(b))
    assert (row["a_evaluations"], row["b_evaluations"]) == (pytest.approx(ea), pytest.approx(eb))
    assert row["a_mean"] - row["b_mean"] == pytest.approx(row["diff"], abs=1e-9)  # type: ignore[operator]
    # the other tables built on the same pairing
    routes = claim_routes(res.runs, res.protocols, n_boot=50)
    assert not routes.empty
    assert np.allclose(routes["a_mean"] - routes["b_mean"], routes["diff"], atol=1e-9)
    matched = pd.DataFrame(
        [{"protocol": pname, "algorithm": na, "control": "rs(budget of x)"}]
    )  # only the NA − RS row is found: the control has no runs
    acc = accounting_rows(res.runs, matched, algos, n_boot=50)
    assert len(acc) == 1
    assert acc["a_mean"].iloc[0] - acc["b_mean"].iloc[0] == pytest.approx(acc["diff"].iloc[0])


def test_accounting_and_routes_keep_a_datasets_reported_keys_apart(nb201_like: Table) -> None:
    # a protocol reporting CIFAR-100 at two keys (200-epoch test, 12-epoch validation): the
    # accounting and the routes grouped runs by dataset alone, so both keys' runs were read
    # as one group (twice the runs) and gave one merged row, where paired_differences gives
    # one per reported key
    keys = (report_key("cifar100"), search_key("cifar100", 12))
    assert len({k.dataset for k in keys}) == 1 and keys[0] != keys[1]
    prot = nb201_protocol().replace(name="two-keys", report=keys)
    pair = (make_algorithm("rs"), make_algorithm("na-rs"))
    algos = {a.label: a for a in pair}
    res = run_search(nb201_like, prot, algos, runs=8, seed=0, jobs=1)
    na = pair[1].label
    cols = ["dataset", "split", "epochs", "metric", "diff", "n"]
    paired = paired_differences(res, algos, n_boot=50)[cols]
    assert len(paired) == 2
    matched = pd.DataFrame([{"protocol": prot.name, "algorithm": na, "control": "rs(budget of x)"}])
    acc = accounting_rows(res.runs, matched, algos, n_boot=50)
    routes = claim_routes(res.runs, res.protocols, n_boot=50)
    for frame in (acc, routes):
        assert len(frame) == 2, frame
        # each row the paired row of its own key: the same difference over the same runs
        got = frame[cols].sort_values("split", ignore_index=True)
        pd.testing.assert_frame_equal(got, paired.sort_values("split", ignore_index=True))


def test_searches_of_two_master_seeds_pair_each_run_with_its_own_seed(nb201_like: Table) -> None:
    # joined searches share run numbers: RS of seeds 0 and 1 against NA-RS of seed 0 paired
    # every NA-RS run twice (n = 6 one way round, 3 the other), with a CI too narrow
    prot = nb201_protocol()
    rs, na = make_algorithm("rs"), make_algorithm("na-rs")
    both = run_search(nb201_like, prot, {"rs": rs, na.label: na}, runs=3, seed=0, jobs=1)
    more = run_search(nb201_like, prot, {"rs": rs}, runs=3, seed=1, jobs=1)
    runs = pd.concat([both.runs, more.runs], ignore_index=True)
    ds = prot.report[0].dataset
    one = compare(runs, (prot.name, "rs"), (prot.name, na.label), ds, n_boot=50)
    other = compare(runs, (prot.name, na.label), (prot.name, "rs"), ds, n_boot=50)
    alone = compare(both.runs, (prot.name, na.label), (prot.name, "rs"), ds, n_boot=50)
    assert one is not None and other is not None and alone is not None
    assert (one["n"], other["n"]) == (3, 3)  # seed 1's RS runs have no partner
    assert other["diff"] == alone["diff"] == -one["diff"]  # type: ignore[operator]
    # RS of seed 1 alone against NA-RS of seed 0: no run drew the same streams (an empty
    # pairing gave a NaN difference over n = 0)
    apart = runs[~((runs["algorithm"] == "rs") & (runs["seed"] == 0))]
    with pytest.raises(ArgumentError, match="share no run: they come from searches of diff"):
        compare(apart, (prot.name, na.label), (prot.name, "rs"), ds, n_boot=50)
    # one search joined with itself holds each run twice: no pairing serves it
    twice = pd.concat([both.runs, both.runs], ignore_index=True)
    with pytest.raises(ArgumentError, match="holds run 0 of seed 0 twice for one protocol"):
        compare(twice, (prot.name, na.label), (prot.name, "rs"), ds, n_boot=50)


def test_the_pairing_functions_name_a_frame_that_is_not_a_runs_frame(nb201_like: Table) -> None:
    prot = nb201_protocol()
    algos = {"rs": make_algorithm("rs"), "na-rs": make_algorithm("na-rs")}
    res = run_search(nb201_like, prot, algos, runs=2, seed=0, jobs=1)
    ds = prot.report[0].dataset
    pair = ((prot.name, "na-rs"), (prot.name, "rs"))
    with pytest.raises(ArgumentError, match="got SearchResults; pass results.runs"):
        compare(res, *pair, ds)  # type: ignore[arg-type]
    for gone, said in (("evaluations", "no evaluations column"), ("test", "lacks test")):
        with pytest.raises(ArgumentError, match=said):
            compare(res.runs.drop(columns=gone), *pair, ds)
    for closest in (0, -1):  # no row at all; every row but the last of each kind
        with pytest.raises(ArgumentError, match="closest"):
            claim_routes(res.runs, res.protocols, closest=closest)
    # and the reverse: paired_differences of the runs frame (a bare AttributeError)
    with pytest.raises(ArgumentError, match="not their .runs"):
        paired_differences(res.runs, algos, n_boot=50)  # type: ignore[arg-type]


def test_compare_refuses_what_names_no_runs(nb201_like: Table) -> None:
    # a misspelt label, dataset or split returned None, as a side without runs does; a plain
    # label was read as the pair ('r', 's'); epochs='twelve' met float()'s bare ValueError
    prot = nb201_protocol()
    algos = {"rs": make_algorithm("rs"), "na-rs": make_algorithm("na-rs")}
    res = run_search(nb201_like, prot, algos, runs=2, seed=0, jobs=1)
    ds, na = prot.report[0].dataset, (prot.name, "na-rs")
    for args, kw, said in (
        (
            (na, (prot.name, "rz"), ds),
            {},
            r"^b=\('nb201', 'rz'\) names no runs here; these runs hold",
        ),
        ((na, "rs", ds), {}, r"^b must be a \(protocol, label\) pair, got 'rs'"),
        ((na, (prot.name, "rs"), "cifar-100"), {}, r"^dataset 'cifar-100' is not reported by"),
        (
            (na, (prot.name, "rs"), ds),
            {"split": "x-tset"},
            r"^no runs of .* at split='x-tset'; these",
        ),
        ((na, (prot.name, "rs"), ds), {"epochs": "twelve"}, r"^epochs must be"),
    ):
        with pytest.raises(ArgumentError, match=said):
            compare(res.runs, *args, n_boot=50, **kw)  # type: ignore[arg-type]
    assert compare(res.runs, na, [prot.name, "rs"], ds, n_boot=50) is not None  # type: ignore[arg-type]


def test_an_na_form_whose_base_is_missing_is_named_not_left_out(nb201_like: Table) -> None:
    # NA-REA beside RS and NA-RS but without REA: its rows were dropped without a word
    prot = nb201_protocol()
    algos = {a.label: a for a in (make_algorithm(n) for n in ("rs", "na-rs", "na-rea"))}
    res = run_search(nb201_like, prot, algos, runs=2, seed=0, jobs=1)
    na_rea = make_algorithm("na-rea").label
    with pytest.raises(ArgumentError, match=rf"'{re.escape(na_rea)}' pairs with 'rea"):
        paired_differences(res, algos, n_boot=50)
    kept = {k: v for k, v in algos.items() if k != na_rea}
    na_rs = make_algorithm("na-rs").label
    assert set(paired_differences(res, kept, n_boot=50)["algorithm"]) == {na_rs}


def test_a_verdict_reads_each_reported_metric_in_its_better_direction(nb201_like: Table) -> None:
    # NA − base was held against "higher is better" on every reported key: NA-RS's higher
    # loss was "reproduced" beside its lower accuracy "contradicted", and the accuracy claim
    # (+1.48 on cifar100) was applied to the loss
    from nb201_flat.search.statistics import NO_DIRECTION_VERDICT, verdict
    from nb201_flat.table import MetricKey

    acc = report_key("cifar100")
    data = dict(nb201_like.data)
    loss = MetricKey(acc.dataset, acc.split, acc.epochs, "loss")
    score = MetricKey(acc.dataset, acc.split, acc.epochs, "jacov")
    data[(loss, None)] = (100.0 - nb201_like.vector_for(acc)) / 10
    data[(score, None)] = nb201_like.vector_for(acc) - 50
    table = Table(nb201_like.space, data, source="with a loss")
    (prot,) = per_dataset_protocols(datasets=("cifar100",))
    prot = prot.replace(report=(acc, loss, score))
    pair = (make_algorithm("rs"), make_algorithm("na-rs", include_self=True, exact=False))
    algos = {a.label: a for a in pair}
    res = run_search(table, (prot,), algos, runs=40, seed=0, jobs=1)
    rows = paired_differences(res, algos, n_boot=200).set_index("metric")
    a, lo_ss = rows.loc["accuracy"], rows.loc["loss"]
    assert lo_ss["diff"] == pytest.approx(-a["diff"] / 10)
    assert np.isnan(lo_ss["claim"]) and a["claim"] == 1.48
    assert lo_ss["verdict"] == verdict(-lo_ss["ci_hi"], -lo_ss["ci_lo"], None)
    # the loss's mirror is the accuracy's own reading without the claim
    assert lo_ss["verdict"] == verdict(a["ci_lo"], a["ci_hi"], None)
    assert rows.loc["jacov", "verdict"] == NO_DIRECTION_VERDICT
