"""A thirteenth audit's findings on the search protocols, in Python: fixed-n on the tables
``train`` writes (a validation split beside the dataset's own test split), the query budget a
refusal names (a function that takes one), a seed policy named only where it serves, NB201's
time budgets on times of another scale, and the table a reproduction report names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.conventions import cost_key, search_key
from nb201_flat.errors import ProtocolError
from nb201_flat.search import (
    RandomSearch,
    fixed_n_protocols,
    nb201_protocol,
    per_dataset_protocols,
    protocols_by_name,
    run_search,
)
from nb201_flat.search.protocol import check_benchmark_times, fixed_n_epochs, fixed_n_fallback
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table

SPACE_KEY = "nb201@C2N1#faithful"
CIFAR10_TEST = MetricKey("cifar10", "ori-test", 200)


@pytest.fixture(scope="module")
def like() -> Table:
    return synthetic_table()


def _only(table: Table, keys: dict[MetricKey, MetricKey], **meta: object) -> Table:
    """A table holding ``table``'s vectors of the values of ``keys`` under their keys (means
    only), as a tidy file or a results database's import of a few keys would."""
    data = {(new, None): table.vector_for(old) for new, old in keys.items()}
    return Table(table.space, data, source="few keys", meta=dict(meta))


def _trained(like: Table, epochs: int) -> Table:
    """What ``train`` on cifar10-valid at ``epochs`` imports: x-valid and its own ori-test at
    that schedule, and the training time, on a retraining table (its space key)."""
    valid, test = search_key("cifar10", epochs), MetricKey("cifar10-valid", "ori-test", epochs)
    keys = {valid: search_key("cifar10", 200), test: CIFAR10_TEST}
    keys[MetricKey("cifar10-valid", "train", epochs, "time_s")] = cost_key("cifar10")
    return _only(like, keys, space_key=SPACE_KEY)


# -- 1. fixed-n searches the validation split beside the dataset's own test split ------------
def test_fixed_n_searches_x_valid_and_reports_the_dataset_s_own_test_split(like: Table) -> None:
    # x-valid and ori-test of cifar10-valid at 200 epochs: fixed-n searched ori-test itself
    # (flagged OPTIMISTIC) although x-valid was there
    table = _only(
        like,
        {
            search_key("cifar10", 200): search_key("cifar10", 200),
            MetricKey("cifar10-valid", "ori-test", 200): CIFAR10_TEST,
        },
    )
    assert fixed_n_epochs(table) == [200] and fixed_n_fallback(table) is None
    (p,) = fixed_n_protocols(table, 10, epochs=200)
    assert p.search == search_key("cifar10", 200)
    assert p.report == (MetricKey("cifar10-valid", "ori-test", 200),)
    assert not p.optimistic  # cifar10-valid's ori-test holds no validation image
    # the default 12 epochs: refused naming the schedule it has, never its test split searched
    with pytest.raises(ProtocolError) as info:
        fixed_n_protocols(table, 10)
    assert str(info.value).endswith(
        "has no x-valid key at 12 epochs beside a test split to report; it has them at 200 "
        "epochs; pass one of those epochs (epochs)"
    )


def test_fixed_n_on_a_trained_table_reports_the_test_split_at_its_own_schedule(
    like: Table,
) -> None:
    # x-valid and ori-test at 12 epochs: "has no 200-epoch accuracy to search", no fix
    (p,) = fixed_n_protocols(_trained(like, 12), 10)
    assert p.search == search_key("cifar10", 12)
    assert p.report == (MetricKey("cifar10-valid", "ori-test", 12),)
    # one epoch, as `train --epochs 1` writes: refused naming it, and it runs
    one = _trained(like, 1)
    with pytest.raises(ProtocolError, match=r"it has them at 1 epochs; pass one of those"):
        fixed_n_protocols(one, 10)
    res = run_search(one, fixed_n_protocols(one, 10, epochs=1), RandomSearch(), runs=2)
    assert res.summary()["n"].tolist() == [2]
    assert str(res.summary()["split"].iloc[0]) == "ori-test"


def test_nb201_s_report_key_is_still_reported_where_the_table_has_it(like: Table) -> None:
    # the NB201 tables: cifar10 ori-test at 200 epochs for cifar10-valid, as before
    for p in fixed_n_protocols(like, 10):
        assert p.report[0].epochs == 200 and p.report[0].dataset != "cifar10-valid"
    assert [str(p.report[0]) for p in fixed_n_protocols(like, 10)] == [
        "cifar10/ori-test@200ep:accuracy",
        "cifar100/x-test@200ep:accuracy",
        "ImageNet16-120/x-test@200ep:accuracy",
    ]


def test_the_fallback_never_passes_a_validation_split_over_for_a_test_split(like: Table) -> None:
    # no test split of cifar100 beside its x-valid: the first 200-epoch accuracy was
    # cifar10's ori-test (it sorts first), a test split searched itself
    table = _only(
        like,
        {
            search_key("cifar100", 200): search_key("cifar100", 200),
            CIFAR10_TEST: CIFAR10_TEST,
        },
    )
    assert fixed_n_fallback(table) == search_key("cifar100", 200)
    (p,) = fixed_n_protocols(table, 10)
    assert p.search == p.report[0] == search_key("cifar100", 200) and p.optimistic
    with pytest.raises(ProtocolError) as info:
        fixed_n_protocols(table, 10, epochs=12)
    assert "has no test split to report, so fixed-n searches and reports its validation key" in (
        str(info.value)
    )
    # no validation split at all (the embedded default's shape): its test split, as before
    assert fixed_n_fallback(_only(like, {CIFAR10_TEST: CIFAR10_TEST})) == CIFAR10_TEST


def test_a_table_fixed_n_cannot_search_is_refused_naming_ways_that_exist(like: Table) -> None:
    # `train` on cifar10 (no validation split) at 1 epoch: "has no 200-epoch accuracy to
    # search; it has ...", and no fix
    table = _only(
        like,
        {MetricKey("cifar10", "ori-test", 1): CIFAR10_TEST},
        space_key=SPACE_KEY,
    )
    with pytest.raises(ProtocolError) as info:
        fixed_n_protocols(table, 10)
    assert str(info.value) == (
        "fixed-n: table 'few keys' has no validation split (x-valid accuracy) to search, nor a "
        "200-epoch accuracy to search in its place; it has cifar10/ori-test@1ep:accuracy; "
        "train cifar10-valid, cifar100 or ImageNet16-120, whose x-valid and test splits it "
        "searches and reports (nb201_flat.train), or use another table"
    )
    # a validation split with no test split beside it, at 1 epoch
    valid = _only(like, {search_key("cifar10", 1): search_key("cifar10", 200)})
    with pytest.raises(ProtocolError) as info:
        fixed_n_protocols(valid, 10)
    assert str(info.value) == (
        "fixed-n: table 'few keys' has no test split to report beside its validation split "
        "(cifar10-valid/x-valid@1ep:accuracy), nor one at 200 epochs to search in its place; "
        "use another table"
    )


# -- 2. the query budget a refusal names is a function that takes one ------------------------
def test_a_python_refusal_names_calls_its_caller_can_make(like: Table) -> None:
    retrained = Table(like.space, like.data, source="retrained", meta={"space_key": SPACE_KEY})
    (nb201,) = protocols_by_name("nb201", retrained)
    with pytest.raises(ProtocolError) as info:
        run_search(retrained, nb201, RandomSearch(), runs=2)
    # it said `n=N protocol='fixed-n'` (protocols_by_name(protocol=...) is a TypeError) and
    # budget_seconds, which protocols_by_name does not take
    assert info.value.fix == "use a query budget instead (fixed_n_protocols(table, n))"
    run_search(retrained, fixed_n_protocols(retrained, 10), RandomSearch(), runs=2)
    # nb201_protocol takes budget_seconds itself: named, and it runs
    with pytest.raises(ProtocolError) as info:
        nb201_protocol().check(retrained)
    assert info.value.fix == (
        "give a budget in the table's own seconds (budget_seconds), or use a query budget "
        "instead (fixed_n_protocols(table, n))"
    )
    run_search(retrained, nb201_protocol(budget_seconds=2_000.0), RandomSearch(), runs=2)


def test_the_grid_names_no_seconds_it_cannot_take(like: Table) -> None:
    from nb201_flat.search.grid import ReproduceConfig, reproduce

    retrained = Table(like.space, like.data, source="retrained", meta={"space_key": SPACE_KEY})
    with pytest.raises(ProtocolError) as info:
        reproduce(retrained, ReproduceConfig.quick(runs=2))
    # it named budget_seconds, which no field of ReproduceConfig is
    assert info.value.fix == "use a query budget instead (fixed_n_protocols(table, n))"


def test_a_cost_no_time_budget_can_charge_names_a_function_that_takes_a_query_budget(
    like: Table,
) -> None:
    costs = like.vector_for(cost_key()).copy()
    costs[::7] = np.nan
    with pytest.raises(ProtocolError) as info:
        nb201_protocol().check(like.with_vector(cost_key(), costs))
    # it named protocol='fixed-n', no parameter of any builder
    assert (
        info.value.fix
        == "use a fixed-n protocol (a budget in queries: fixed_n_protocols(table, n))"
    )


# -- 3. a seed policy is named only where it serves every cell --------------------------------
def _seed_part(like: Table, seeds: dict[int, slice]) -> Table:
    """``like`` whose 12-epoch CIFAR-10 search key stores its mean for every cell and each of
    ``seeds`` for the cells of its slice only."""
    key = search_key("cifar10", 12)
    mean = like.vector_for(key)
    data = dict(like.data)
    for seed, cells in seeds.items():
        v = np.full(like.space.size, np.nan)
        v[cells] = mean[cells]
        data[(key, seed)] = v
    return Table(like.space, data, source="seeds")


def test_a_fixed_seed_s_refusal_names_random_only_where_its_draw_serves(like: Table) -> None:
    # seed 0 for 100 cells alone: it named seed_policy='random', which was then refused
    part = _seed_part(like, {0: slice(0, 100)})
    with pytest.raises(ProtocolError) as info:
        nb201_protocol(seed_policy=0).check(part)
    assert info.value.fix == "use seed_policy='mean'"
    with pytest.raises(ProtocolError, match="draw among none"):
        nb201_protocol(seed_policy="random").check(part)
    # two seeds between them measuring every cell: random serves, and is named
    both = _seed_part(like, {0: slice(0, 100), 1: slice(100, None)})
    with pytest.raises(ProtocolError) as info:
        nb201_protocol(seed_policy=0).check(both)
    assert info.value.fix == (
        "use seed_policy='random' (each query draws among its architecture's stored seeds) or "
        "seed_policy='mean'"
    )
    nb201_protocol(seed_policy="random").check(both)


# -- 4. NB201's time budgets on times of another scale ---------------------------------------
def _nb201_medians() -> dict[MetricKey, float]:
    # imported here: the old code's tests fail one by one, not at collection
    from nb201_flat.search.protocol import NB201_MEDIAN_COSTS

    return NB201_MEDIAN_COSTS


def _scaled_times(like: Table, share: float) -> Table:
    """``like`` with each training time scaled to a median of ``share`` x NB201's (a tidy
    file of retrained times without a ``space`` column: no space key)."""
    out = like
    for key, median in _nb201_medians().items():
        times = like.vector_for(key)
        out = out.with_vector(key, times / np.median(times) * median * share)
    return out


def _times_x(like: Table, factor: float) -> Table:
    """``like`` with every training time x ``factor``."""
    out = like
    for ds in ("cifar10", "cifar100", "ImageNet16-120"):
        out = out.with_vector(cost_key(ds), like.vector_for(cost_key(ds)) * factor)
    return out


def test_built_in_budgets_are_refused_on_times_of_another_scale(like: Table) -> None:
    fast = _times_x(like, 0.0055)  # ~20 s a cifar10-valid cell, as a GPU's retraining
    assert fast.meta.get("space_key") is None
    # nb201's 12,000 s bought ~10,000 queries a run on ~20 s cells, exit 0
    for p in (nb201_protocol(), nb201_protocol(epochs=200), *per_dataset_protocols()):
        with pytest.raises(ProtocolError, match="holds times on another scale") as info:
            run_search(fast, p, RandomSearch(), runs=2)
        # why: its own cost key's median, against NB201's
        assert f"({p.cost}: a median of " in str(info.value)
    with pytest.raises(ProtocolError) as info:
        nb201_protocol().check(fast)
    assert str(info.value).startswith(
        "nb201 has a built-in time budget in seconds of NB201's own training, but table "
        "'synthetic nb201-like' holds times on another scale (cifar10-valid/train@200ep:time_s: "
        "a median of 19.8 s a cell, against NB201's 1,817 s), against which it buys a search "
        "of another size; give a budget in the table's own seconds (budget_seconds), or use a "
        "query budget instead (fixed_n_protocols(table, n))"
    )
    # a budget in the table's own seconds runs
    own = nb201_protocol(budget_seconds=200.0)
    assert run_search(fast, own, RandomSearch(), runs=2).runs["queries"].max() < 200
    # a tenth of NB201's median and above: on its scale
    for share in (0.5, 0.11):
        check_benchmark_times(_scaled_times(like, share), ("nb201", "per-dataset"))


def test_no_nb201_scale_table_is_refused(like: Table) -> None:
    # the synthetic table the tests and doctests use
    from nb201_flat.search.protocol import TIME_SCALE_GAP

    check_benchmark_times(like, ("nb201", "per-dataset"))
    for key, median in _nb201_medians().items():
        assert np.median(like.vector_for(key)) * TIME_SCALE_GAP > median


@pytest.mark.realdata
def test_the_medians_are_nb201_s_and_its_tables_are_served(real_table: Table) -> None:
    from nb201_flat.search.protocol import TIME_SCALE_GAP

    for key, median in _nb201_medians().items():
        times = real_table.vector_for(key)
        assert np.median(times) == pytest.approx(median, abs=0.05)
        # the cheapest cell lies far inside the gap: no subset of NB201's cells is refused
        assert times.min() * TIME_SCALE_GAP > median * 2
    check_benchmark_times(real_table, ("nb201", "per-dataset"))
    assert len(protocols_by_name("per-dataset", real_table, epochs=200)) == 3


# -- 5. the report names its table -----------------------------------------------------------
def test_report_md_names_the_table_and_its_digest(like: Table, tmp_path: Path) -> None:
    from nb201_flat.search.grid import ReproduceConfig, reproduce
    from nb201_flat.search.report import render_markdown, write_report
    from nb201_flat.storage import load_table

    saved = load_table(save_table(like, tmp_path / "t.nb201"))
    res = reproduce(saved, ReproduceConfig.quick(runs=4))
    write_report(res, tmp_path / "out", table=saved)
    head = (tmp_path / "out" / "report.md").read_text().splitlines()[:4]
    assert head[2] == (
        f"Table: synthetic nb201-like, table.parquet sha256 {saved.meta['sha256']}."
    ), head
    assert render_markdown(res, table=like).splitlines()[2] == (
        "Table: synthetic nb201-like, built in memory (no stored table.parquet, no sha256)."
    )
    assert render_markdown(res).splitlines()[2].startswith("Table: not named")
