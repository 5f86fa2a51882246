"""The budgeted oracle: budget rule, repeats, seed draws, and that test data stays out of reach."""

from __future__ import annotations

import gc
import pickle
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb201_flat.errors import ArgumentError, InvalidArchError, SearchBudgetError
from nb201_flat.search import (
    BudgetExhausted,
    HiddenDataError,
    Incumbent,
    Oracle,
    OracleData,
    Protocol,
    RandomSearch,
    nb201_protocol,
    run_search,
)
from nb201_flat.search.oracle import Evaluator, seed_rows
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

TINY = Space(("none", "skip_connect", "conv"), 3)
KEY = MetricKey("toy", "x-valid", 12)
TIME = MetricKey("toy", "train", 12, "time_s")  # a protocol's cost is a time


def _data(costs: np.ndarray, budget_s: float | None, budget_q: int | None = None, **kw: object):
    values = np.arange(TINY.size, dtype=float)[None, :]
    return OracleData(TINY, KEY, values, None, None, costs, budget_s, budget_q, **kw)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    costs=st.lists(st.floats(0.5, 50.0), min_size=27, max_size=27),
    budget=st.floats(1.0, 400.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_counted_time_never_exceeds_budget_and_crossing_query_is_refused(
    costs: list[float], budget: float, seed: int
) -> None:
    c = np.array(costs)
    oracle = Oracle(_data(c, budget), np.random.default_rng(0))
    rng = np.random.default_rng(seed)
    answered: list[int] = []
    refused = None
    for _ in range(10_000):
        i = int(rng.integers(TINY.size))
        try:
            oracle.query(i)
        except BudgetExhausted:
            refused = i
            break
        answered.append(i)
    assert refused is not None
    assert oracle.seconds <= budget
    assert oracle.seconds == pytest.approx(c[answered].sum())
    assert oracle.seconds + c[refused] > budget  # refused only because it would cross
    assert oracle.queries == len(answered)
    with pytest.raises(BudgetExhausted):  # and nothing is answered afterwards
        oracle.query(int(np.argmin(c)))


def test_query_budget_and_free_lookups_after_the_end() -> None:
    oracle = Oracle(_data(np.zeros(27), None, 3), np.random.default_rng(0))
    assert [oracle.query(i) for i in (1, 2, 3)] == [1.0, 2.0, 3.0]
    with pytest.raises(BudgetExhausted):
        oracle.query(4)
    assert oracle.exhausted and oracle.queries == 3 and oracle.used_fraction == 1.0
    np.testing.assert_array_equal(oracle.query_free([5, 6]), [5.0, 6.0])
    assert oracle.free_queries == 2
    with pytest.raises(InvalidArchError):
        oracle.query_free([27])


def test_repeats_charge_again_by_default_and_cache_when_asked() -> None:
    charge = Oracle(_data(np.full(27, 10.0), 100.0), np.random.default_rng(0))
    for _ in range(3):
        charge.query(4)
    assert (charge.queries, charge.seconds, charge.cache_hits) == (3, 30.0, 0)
    cache = Oracle(_data(np.full(27, 10.0), 100.0, repeats="cache"), np.random.default_rng(0))
    for _ in range(3):
        cache.query(4)
    assert (cache.queries, cache.seconds, cache.cache_hits) == (1, 10.0, 2)


def test_random_seed_policy_draws_only_stored_seeds() -> None:
    stack = np.array([[1.0, 10.0, np.nan], [2.0, np.nan, np.nan], [3.0, 30.0, 300.0]])
    stack = np.pad(stack, ((0, 0), (0, 24)), constant_values=5.0)
    order, counts = seed_rows(stack)
    assert counts[:3].tolist() == [3, 2, 1]
    data = OracleData(TINY, KEY, stack, order, counts, None, None, 10_000)
    oracle = Oracle(data, np.random.default_rng(1))
    draws0 = {oracle.query(0) for _ in range(200)}
    draws1 = {oracle.query(1) for _ in range(200)}
    assert draws0 == {1.0, 2.0, 3.0}
    assert draws1 == {10.0, 30.0}
    assert {oracle.query(2) for _ in range(20)} == {300.0}
    assert set(oracle.query_free(np.ones(300, dtype=int)).tolist()) == {10.0, 30.0}


def test_oracle_rejects_bad_index_and_pickling() -> None:
    oracle = Oracle(_data(np.ones(27), 10.0), np.random.default_rng(0))
    with pytest.raises(InvalidArchError):
        oracle.query(27)
    with pytest.raises(SearchBudgetError):
        pickle.dumps(oracle)


@pytest.mark.parametrize(
    ("candidates", "words"),
    [
        (np.array([], dtype=np.int64), "non-empty"),
        (np.array([0.0, 1.5]), "got 1.5 at position 1"),
        (np.array([True, False]), "mask"),
        (np.array([[0, 1]]), "1-d"),
        (np.array([0, 27]), "0..26"),
        (np.array([-1, 3]), "0..26"),
    ],
)
def test_oracle_refuses_candidates_it_cannot_serve(candidates: np.ndarray, words: str) -> None:
    # the compiled searches index with them unchecked: an empty or out-of-range set would
    # read past an array there, so it never gets that far
    with pytest.raises(SearchBudgetError, match=words):
        OracleData(TINY, KEY, np.ones((1, 27)), None, None, None, None, 10, candidates=candidates)
    OracleData(TINY, KEY, np.ones((1, 27)), None, None, None, None, 10, candidates=np.arange(27))


def test_oracle_reads_a_costs_series_by_its_index_and_refuses_other_non_arrays() -> None:
    # a pandas Series failed with a raw AttributeError (setflags); a list too (.shape)
    costs = np.arange(1.0, 28.0)
    shuffled = pd.Series(costs, index=np.arange(27)).iloc[::-1]
    assert np.array_equal(_data(shuffled, 100.0).costs, costs)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="oracle costs .a pandas Series. must be indexed"):
        _data(shuffled.iloc[1:], 100.0)  # type: ignore[arg-type]
    with pytest.raises(SearchBudgetError, match="oracle costs must be a numpy array, got list"):
        _data(costs.tolist(), 100.0)  # type: ignore[arg-type]
    values = pd.DataFrame(np.ones((1, 27)))
    with pytest.raises(SearchBudgetError, match="oracle values must be a numpy array, got DataF"):
        OracleData(TINY, KEY, values, None, None, None, None, 10)  # type: ignore[arg-type]


# -- test data out of reach -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cheater:
    """An algorithm that tries to read test metrics through the oracle."""

    attr: str
    name: ClassVar[str] = "cheater"

    @property
    def label(self) -> str:
        return f"cheater-{self.attr}"

    def search(self, oracle: Oracle, rng: np.random.Generator, incumbent: Incumbent) -> None:
        getattr(oracle, self.attr)


@pytest.mark.parametrize("attr", ["table", "evaluator", "test", "report", "vectors", "data"])
def test_an_algorithm_reaching_for_test_data_gets_an_error(nb201_like: Table, attr: str) -> None:
    with pytest.raises(HiddenDataError, match="test metrics are read by the Evaluator"):
        run_search(nb201_like, nb201_protocol(), Cheater(attr), runs=1)


def _reachable_arrays(root: object, limit: int = 10_000) -> list[np.ndarray]:
    """Every ndarray reachable from ``root`` (skipping modules, classes and functions)."""
    seen: set[int] = set()
    stack, arrays = [root], []
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | type(np) | type(len)):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            arrays.append(obj)
            if obj.base is not None:
                stack.append(obj.base)
            continue
        stack.extend(gc.get_referents(obj))
    return arrays


def test_the_oracle_holds_no_reference_to_test_vectors(nb201_like: Table) -> None:
    protocol = nb201_protocol()
    data = protocol.oracle_data(nb201_like)
    oracle = Oracle(data, np.random.default_rng(0))
    oracle.query(0)
    arrays = _reachable_arrays(oracle)
    assert arrays, "the walk should find the validation and cost arrays"
    for key in protocol.report:
        test = nb201_like.vector_for(key)
        for arr in arrays:
            assert not np.shares_memory(arr, test)
            if arr.shape == test.shape:
                assert not np.array_equal(arr, test, equal_nan=True)
    # and the protocol's oracle arrays are validation and cost only
    val = nb201_like.vector_for(protocol.search)
    np.testing.assert_array_equal(data.values[0], val)


def test_protocol_requires_a_budget_and_cost() -> None:
    from nb201_flat.search import ProtocolError

    with pytest.raises(ProtocolError, match="needs a budget"):
        Protocol("p", KEY, (KEY,))
    with pytest.raises(ProtocolError, match="no cost key"):
        Protocol("p", KEY, (KEY,), budget_seconds=10.0)
    with pytest.raises(ProtocolError, match="budget_queries"):
        Protocol("p", KEY, (KEY,), budget_queries=0)
    with pytest.raises(ProtocolError, match="seed"):
        Protocol("p", KEY, (KEY,), budget_queries=3, seed_policy="first")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [2.5, float("nan"), float("inf"), "5", True])
def test_protocol_refuses_a_query_budget_that_is_not_a_whole_count(bad: object) -> None:
    # 2.5 bought 2 queries under a label of 2.5; NaN and inf raised bare ValueError/OverflowError
    from nb201_flat.search import ProtocolError

    with pytest.raises(ProtocolError, match="budget_queries"):
        Protocol("p", KEY, (KEY,), budget_queries=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["100", True])
def test_protocol_refuses_a_time_budget_that_is_not_a_number(bad: object) -> None:
    # "100" raised numpy's TypeError from np.isfinite; True was a budget of 1 s
    from nb201_flat.search import ProtocolError

    # the string quoted: "got 100" read as a number
    with pytest.raises(ProtocolError, match=f"time budget.*got {bad!r};"):
        Protocol("p", KEY, (KEY,), budget_seconds=bad, cost=TIME)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "queries"),
    [
        (None, 100.0),  # Protocol read 100.0 as 100 queries, OracleData refused it
        (None, np.float64(7)),
        (None, 2.5),
        (None, True),
        (None, 0),
        (None, "5"),
        (500.0, None),
        (np.int64(600), None),
        (float("inf"), None),
        (-5.0, None),
        (True, None),
        ("100", None),
        (None, None),
    ],
)
def test_protocol_and_oracle_share_one_budget_rule(seconds: object, queries: object) -> None:
    # one rule (oracle.check_budgets): a protocol's budgets are those its oracle takes, and a
    # refusal is the same message, the protocol named in front
    from nb201_flat.search import ProtocolError

    costs = np.full(27, 10.0) if seconds is not None else None
    kw = {"budget_seconds": seconds, "budget_queries": queries, "cost": TIME}
    try:
        data = _data(costs, seconds, queries)  # type: ignore[arg-type]
    except SearchBudgetError as exc:
        refusal = str(exc)
    else:
        p = Protocol("p", KEY, (KEY,), **kw)  # type: ignore[arg-type]
        assert (p.budget_seconds, p.budget_queries) == (data.budget_seconds, data.budget_queries)
        assert type(p.budget_queries) in (int, type(None))
        return
    with pytest.raises(ProtocolError) as refused:
        Protocol("p", KEY, (KEY,), **kw)  # type: ignore[arg-type]
    assert str(refused.value) == f"protocol 'p': {refusal}"


def test_protocol_budgets_are_plain_numbers() -> None:
    p = Protocol("p", KEY, (KEY,), budget_queries=np.int64(3))
    assert type(p.budget_queries) is int and p.budget_queries == 3
    q = Protocol("p", KEY, (KEY,), budget_seconds=np.float32(500.0), cost=TIME)
    assert type(q.budget_seconds) is float and q.budget_seconds == 500.0


def test_rs_uses_exactly_its_query_budget(make_table) -> None:  # type: ignore[no-untyped-def]
    t = make_table(np.arange(27.0), space=TINY, key=KEY)
    p = Protocol("fixed", KEY, (KEY,), budget_queries=7)
    res = run_search(t, p, RandomSearch(), runs=5)
    assert (res.runs["queries"] == 7).all()


def test_protocol_seed_policy_and_its_deprecated_name() -> None:
    p = Protocol("p", KEY, (KEY,), budget_queries=3, seed_policy="random")
    assert p.seed_policy == "random"
    with pytest.warns(DeprecationWarning, match="seed_policy="):
        old = Protocol("p", KEY, (KEY,), budget_queries=3, seed="random")
    assert old == p
    with pytest.warns(DeprecationWarning, match="seed_policy"):
        assert old.seed == "random"
    from nb201_flat.search.protocol import nb201_protocol

    assert nb201_protocol().seed_policy == "random"
    with pytest.warns(DeprecationWarning, match="seed_policy="):
        assert nb201_protocol(seed="mean").seed_policy == "mean"


def test_oracle_indices_are_ints_not_floats_or_bools() -> None:
    # int() truncated: query(2.5) trained cell 2, query(True) cell 1, query_free([2.5]) cell 2
    data = OracleData(TINY, KEY, np.arange(27.0)[None, :], None, None, None, None, 5)
    oracle = Oracle(data, np.random.default_rng(0))
    for bad in (2.5, True, "3", float("nan")):
        with pytest.raises(InvalidArchError, match=r"must be a whole number in 0\.\.26"):
            oracle.query(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match=r"whole numbers in 0\.\.26, got 2\.5 at position 0"):
        oracle.query_free([2.5])
    assert oracle.queries == 0 and oracle.free_queries == 0
    assert oracle.query(np.int64(4)) == 4.0
    # the package's one index rule (Space.arch): a whole float is a whole number
    assert oracle.query(5.0) == oracle.query(np.float64(5)) == 5.0  # type: ignore[arg-type]
    assert oracle.query_free(np.array([1, 2], dtype=np.int32)).tolist() == [1.0, 2.0]
    assert oracle.query_free([]).size == 0


def test_arrays_of_indices_follow_the_single_index_rule() -> None:
    # query(5.0) read cell 5 while query_free([5.0]) was refused ("must be ints"): one rule
    # for both, entry by entry, and a bad entry is named with its position
    data = OracleData(TINY, KEY, np.arange(27.0)[None, :], None, None, None, None, 5)
    oracle = Oracle(data, np.random.default_rng(0))
    assert oracle.query_free(np.array([5.0, 6.0])).tolist() == [5.0, 6.0]
    assert oracle.query_free([[1.0], [2.0]]).tolist() == [1.0, 2.0]  # any shape, raveled
    for bad, words in (
        ([1.0, 2.5], "got 2.5 at position 1"),
        ([3, float("nan")], "got nan at position 1"),
        (np.array([True, False]), "got True at position 0; a bool array is a mask"),
        ([1, 27], "got 27 at position 1"),
        ([2.0, -1.0], "got -1.0 at position 1"),
        (["3"], "got '3' at position 0"),
        ([1, None], "got None at position 1"),
    ):
        with pytest.raises(InvalidArchError, match=r"^indices must be whole numbers in 0\.\.26, "):
            oracle.query_free(bad)
        with pytest.raises(InvalidArchError, match=re.escape(words)):
            oracle.query_free(bad)
    assert oracle.free_queries == 4
    # the test metrics read after a search: -1 is no incumbent, 2.5 was read as cell 2 and
    # -5 as no incumbent
    ev = Evaluator((KEY,), (np.arange(27.0),))
    assert np.isnan(ev.values([-1, 4.0])[0, 0]) and ev.values([-1, 4.0])[0, 1] == 4.0
    for bad in ([2.5], [-5], [27]):
        with pytest.raises(InvalidArchError, match=r"whole numbers in -1\.\.26"):
            ev.values(bad)
    # with no vector there was no space to check by: values([2.5, "x"]) passed without a word
    for keys, vectors in (((), ()), ((KEY,), ())):
        with pytest.raises(ArgumentError, match="one vector per reported key, at least one"):
            Evaluator(keys, vectors)


def test_candidates_follow_the_index_rule_in_both_oracles() -> None:
    # whole floats are cells; FidelityData read candidates [2.5] as cell 2 (int() in sample)
    ok = OracleData(
        TINY, KEY, np.ones((1, 27)), None, None, None, None, 10, candidates=np.array([1.0, 3.0])
    )
    assert ok.candidates is not None and ok.candidates.dtype == np.int64
    assert ok.candidates.tolist() == [1, 3]
    from nb201_flat.search.fidelity import FidelityData

    curves = np.ones((1, 27, 4))
    fd = FidelityData(TINY, KEY, curves, None, None, 10, False, candidates=np.array([1.0, 3.0]))
    assert fd.candidates is not None and fd.candidates.tolist() == [1, 3]
    for bad in (np.array([2.5]), np.array([27]), np.array([], dtype=np.int64)):
        with pytest.raises(SearchBudgetError, match="candidates must be .*; pass None"):
            FidelityData(TINY, KEY, curves, None, None, 10, False, candidates=bad)


@pytest.mark.parametrize(
    ("seconds", "queries", "costs"),
    [
        (float("nan"), None, np.ones(27)),  # never exhausted: the search looped for ever
        (float("inf"), None, np.ones(27)),
        (None, 2.5, None),  # bought 2 queries
        (10.0, None, np.where(np.arange(27) == 3, np.nan, 1.0)),  # NaN seconds never end a run
        (10.0, None, np.zeros(27)),  # nothing is ever charged
    ],
)
def test_oracle_data_refuses_budgets_that_never_end_a_run(
    seconds: float | None, queries: object, costs: np.ndarray | None
) -> None:
    with pytest.raises(SearchBudgetError, match="budget|cost"):
        OracleData(TINY, KEY, np.arange(27.0)[None, :], None, None, costs, seconds, queries)  # type: ignore[arg-type]


def test_protocol_builders_pass_their_budgets_on_unconverted() -> None:
    # nb201_protocol float()-ed "5" into 5 s and True into 1 s; a string scale raised a bare
    # TypeError ("can't multiply sequence") and True scaled by 1
    from nb201_flat.search import ProtocolError, per_dataset_protocols, protocols_by_name

    for bad in ("5", True):
        with pytest.raises(ProtocolError, match="time budget"):
            nb201_protocol(budget_seconds=bad)  # type: ignore[arg-type]
        with pytest.raises(ProtocolError, match="budget_scale must be a finite number"):
            per_dataset_protocols(budget_scale=bad)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="budget_scale must be a finite number"):
        protocols_by_name("nb201", None, budget_scale="2")  # type: ignore[arg-type]
    assert nb201_protocol(budget_seconds=np.int64(600)).budget_seconds == 600.0


def test_protocol_keys_are_metric_keys_each_reported_once() -> None:
    from nb201_flat.search import ProtocolError

    other = MetricKey("toy", "x-test", 12)
    # a repeated report key counted every run twice in the summary's n
    with pytest.raises(ProtocolError, match="reports a key twice"):
        Protocol("p", KEY, (other, other), budget_queries=3)
    # a string was looked up as a key the table lacks, a report string letter by letter
    with pytest.raises(ProtocolError, match="search key must be a MetricKey"):
        Protocol("p", str(KEY), (other,), budget_queries=3)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="report key must be a MetricKey"):
        Protocol("p", KEY, str(other), budget_queries=3)  # type: ignore[arg-type]
    # one key, or a list, is a report of those keys (a list left the protocol unhashable)
    assert Protocol("p", KEY, other, budget_queries=3).report == (other,)  # type: ignore[arg-type]
    p = Protocol("p", KEY, [other], budget_queries=3)  # type: ignore[arg-type]
    assert p.report == (other,) and hash(p)


def test_one_cost_rule_for_oracles_protocols_and_curves() -> None:
    # invalid_costs / sampled_costs / cheapest_paid: defined once in oracle.py, read by
    # OracleData, FidelityData and Protocol (each had its own copy of the expressions)
    from nb201_flat.search.oracle import cheapest_paid, invalid_costs, sampled_costs

    costs = np.array([0.0, 2.0, -1.0, np.nan, np.inf, 5.0])
    assert invalid_costs(costs).tolist() == [False, False, True, True, True, False]
    assert invalid_costs(costs.reshape(3, 2)).any(axis=1).tolist() == [False, True, True]
    assert sampled_costs(costs, np.array([1, 5])).tolist() == [2.0, 5.0]
    assert sampled_costs(costs, None) is costs
    assert cheapest_paid(np.array([0.0, 3.0, 2.0])) == 2.0 and cheapest_paid(np.zeros(2)) == 0.0
    for bad in (-1.0, np.nan, np.inf):
        c = np.full(27, 10.0)
        c[4] = bad
        with pytest.raises(SearchBudgetError, match="1 architectures have a NaN"):
            _data(c, 100.0)
    free_sampled = np.full(27, 10.0)
    free_sampled[:3] = 0.0  # the sampled cells are free: no time budget ends a run
    with pytest.raises(SearchBudgetError, match="costs 0 s"):
        _data(free_sampled, 100.0, candidates=np.arange(3))
    assert _data(free_sampled, 100.0, candidates=np.arange(4)).budget_seconds == 100.0


def test_protocol_replace_takes_the_seed_policy_asked_without_a_warning() -> None:
    # dataclasses.replace read the deprecated ``seed`` back (a DeprecationWarning) and passed
    # it on, where the old name won: replace(seed_policy="mean") kept seed policy 2
    import dataclasses
    import warnings

    key, report = MetricKey("toy", "x-valid", 12), (MetricKey("toy", "x-test", 12),)
    p = Protocol("toy", key, report, budget_queries=5, seed_policy=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert p.replace(seed_policy="mean").seed_policy == "mean"
        # plain dataclasses.replace too: the old name is no field for it to read back
        assert dataclasses.replace(p, seed_policy="mean").seed_policy == "mean"
        kept = p.replace(budget_queries=7)
    assert (kept.seed_policy, kept.budget_queries) == (2, 7)
    # the deprecated constructor keyword still works, and both names at once are refused
    with pytest.warns(DeprecationWarning, match="seed= as a stored-seed policy is deprecated"):
        assert Protocol("toy", key, report, budget_queries=5, seed=1).seed_policy == 1
    with pytest.raises(ArgumentError, match="pass seed_policy= only"):
        Protocol("toy", key, report, budget_queries=5, seed=1, seed_policy=2)
    # and in replace, which listed seed as a name it takes and then refused it always
    with pytest.warns(DeprecationWarning, match="seed= as a stored-seed policy is deprecated"):
        assert p.replace(seed=1).seed_policy == 1
    with pytest.raises(ArgumentError, match="pass seed_policy= only"):
        p.replace(seed=1, seed_policy=3)


@pytest.mark.parametrize("inf", [np.inf, -np.inf])
def test_oracle_data_refuses_infinite_values_as_a_table_does(inf: float) -> None:
    # a table refuses them; an oracle built directly took them, and a run over -inf values
    # spent its budget and "found nothing"
    from nb201_flat.search.oracle import OracleData
    from nb201_flat.space import Space
    from nb201_flat.table import MetricKey

    space, key = Space(("a", "b", "c"), 3), MetricKey("toy", "x-valid", 12)
    values = np.full((1, 27), inf)
    with pytest.raises(SearchBudgetError) as info:
        OracleData(space, key, values, None, None, None, None, 10)
    assert str(info.value) == (
        f"vector for {key} (seed mean) holds 27 infinite values (first at architecture 0): a "
        "table holds finite numbers; use NaN for a value not measured"
    )
    assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([np.nan, -np.inf, np.inf, -1.5, 0.0, -0.0, 2.0, 2.0, 1e300]), max_size=12
    )
)
def test_rank_order_is_the_stable_sort_by_ranks_before(values: list[float]) -> None:
    # the definition itself: i goes before j exactly when ranks_before says so, ties (equal
    # values, -0.0 and 0.0, two NaN) keep their positions' order
    import functools

    from nb201_flat.search.oracle import rank_order, ranks_before

    def cmp(i: int, j: int) -> int:
        if ranks_before(values[i], values[j]):
            return -1
        return 1 if ranks_before(values[j], values[i]) else 0

    expected = sorted(range(len(values)), key=functools.cmp_to_key(cmp))
    assert rank_order(values) == expected


def test_an_oracle_checks_its_data_generator_and_flag_when_built() -> None:
    data = _data(np.zeros(27), None, 3)
    # each was an AttributeError at the first query or draw ('int' has no 'integers'), and
    # outside="no" was truthy
    for args, kw, match in (
        (({"values": [1.0]}, np.random.default_rng(0)), {}, "^data must be an OracleData"),
        ((data, 0), {}, "^rng must be a numpy Generator, got 0; pass np.random.default_rng"),
        ((data, np.random.default_rng(0)), {"outside": "no"}, "^outside must be True or False"),
    ):
        with pytest.raises(ArgumentError, match=match):
            Oracle(*args, **kw)  # type: ignore[arg-type]


def test_sample_refuses_a_seed_where_a_generator_belongs() -> None:
    oracle = Oracle(_data(np.zeros(27), None, 3), np.random.default_rng(0))
    assert 0 <= oracle.sample(np.random.default_rng(1)) < 27
    for bad in (0, None, "abc"):  # was AttributeError: 'int' object has no attribute 'integers'
        with pytest.raises(ArgumentError, match="^rng must be a numpy Generator, got "):
            oracle.sample(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keys", "vectors", "name"), [(KEY, (np.ones(27),), "keys"), ((KEY,), 3.0, "vectors")]
)
def test_an_evaluator_refuses_one_key_or_vector_outside_a_sequence(
    keys: object, vectors: object, name: str
) -> None:
    # was a bare TypeError: object of type 'MetricKey' / 'float' has no len()
    with pytest.raises(ArgumentError, match=rf"^{name} must be a sequence of "):
        Evaluator(keys, vectors)  # type: ignore[arg-type]
    ev = Evaluator([KEY], [np.ones(27)])  # lists are kept as tuples
    assert ev.keys == (KEY,) and isinstance(ev.vectors, tuple)


@pytest.mark.parametrize("score", [None, "3", True, [1.0], np.array([1.0, 2.0])])
def test_the_incumbent_refuses_a_score_that_is_not_a_number(score: object) -> None:
    # offer met Python's bare TypeError (None > -inf) or numpy's ambiguous truth; set took
    # True and "3" through float()
    inc = Incumbent(Oracle(_data(np.zeros(27), None, 3), np.random.default_rng(0)))
    for call in (inc.offer, inc.set):
        with pytest.raises(ArgumentError, match="^score must be a number, got "):
            call(0, score)  # type: ignore[arg-type]
    assert inc.offer(1, np.float64(2.0)) and inc.score == 2.0 and not inc.offer(2, float("nan"))


def test_the_incumbent_refuses_what_is_not_an_oracle() -> None:
    # was accepted, and the first offer met a bare AttributeError ('NoneType' has no 'size')
    for bad in (None, _data(np.zeros(27), None, 3)):
        with pytest.raises(ArgumentError, match="^oracle must be an Oracle, got "):
            Incumbent(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("space", "nb201", "^space must be a Space"),
        ("values", None, "^oracle values must be a numpy array"),
    ],
)
def test_oracle_data_refuses_a_space_or_values_of_another_kind(
    field: str, value: object, match: str
) -> None:
    # each was a bare AttributeError ('str' has no 'size', 'NoneType' has no 'ndim')
    args: dict[str, object] = {"space": TINY, "values": np.ones((1, 27)), field: value}
    with pytest.raises((ArgumentError, SearchBudgetError), match=match):
        OracleData(args["space"], KEY, args["values"], None, None, None, None, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "vectors",
    [(np.ones(27), np.ones(10)), (np.ones(27), [1.0] * 27 + [2.0]), (np.ones((27, 1)),)],
)
def test_an_evaluator_refuses_vectors_of_other_lengths_or_shapes(vectors: tuple) -> None:
    # indices are checked against the first vector: a shorter second one met a bare IndexError
    keys = tuple(MetricKey(f"d{i}", "x-test", 200) for i in range(len(vectors)))
    with pytest.raises(ArgumentError, match="must hold one number per cell"):
        Evaluator(keys, vectors)
    ev = Evaluator(keys[:1], ([1.0] * 27,))  # a list of numbers is a vector: read as one
    assert ev.values([3]).tolist() == [[1.0]] and ev.vectors[0].dtype == np.float64
