"""Ask/tell algorithms through the runner, and sessions driven from outside."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import (
    ArgumentError,
    InvalidArchError,
    MissingValueError,
    ProtocolError,
    SearchBudgetError,
)
from nb201_flat.search import RandomSearch, run_search
from nb201_flat.search.asktell import AskTellAlgorithm, AskTellSearch, Session
from nb201_flat.search.protocol import Protocol
from nb201_flat.search.runner import run_one
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("a", "b", "c"), 3)
VAL = MetricKey("toy", "x-valid", 12)
TEST = MetricKey("toy", "x-test", 12)
TIME = MetricKey("toy", "train", 12, "time_s")  # same schedule: cost scale 1


def _table() -> Table:
    rng = np.random.default_rng(0)
    val = rng.uniform(0, 100, 27)
    return Table(
        SPACE,
        {
            (VAL, None): val,
            (TEST, None): val + rng.normal(0, 1, 27),
            (TIME, None): np.full(27, 10.0),
        },
        source="toy",
    )


PROTOCOL = Protocol("toy", VAL, (TEST,), seed_policy="mean", budget_seconds=100.0, cost=TIME)


class Uniform:
    def __init__(self, space: Space) -> None:
        self.space = space
        self.told: list[tuple[int, float]] = []

    def ask(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.space.size))

    def tell(self, index: int, value: float) -> None:
        self.told.append((index, value))


def test_ask_tell_uniform_search_equals_random_search() -> None:
    # RandomSearch draws oracle.sample(rng) = rng.integers(size): the same stream
    assert isinstance(Uniform(SPACE), AskTellAlgorithm)
    table = _table()
    a = run_search(table, PROTOCOL, RandomSearch(), runs=6, seed=3).runs
    b = run_search(table, PROTOCOL, AskTellSearch(Uniform, name="rs"), runs=6, seed=3).runs
    cols = ["run", "best", "score", "queries", "seconds", "test"]
    assert a[cols].equals(b[cols])
    assert (b["queries"] == 10).all()  # 100 s budget / 10 s per query


def test_tell_receives_every_charged_value() -> None:
    made: list[Uniform] = []

    def make(space: Space) -> Uniform:
        made.append(Uniform(space))
        return made[-1]

    run_search(_table(), PROTOCOL, AskTellSearch(make), runs=1, seed=0)
    (algo,) = made
    val = _table().vector_for(VAL)
    assert len(algo.told) == 10
    assert all(v == val[i] for i, v in algo.told)


def test_session_budget_finish_once() -> None:
    table = _table()
    run = Session(table, PROTOCOL, seed=0)
    values = [run.evaluate(i) for i in range(11)]
    assert values[:10] == [table.vector_for(VAL)[i] for i in range(10)]
    assert values[10] is None and run.done and run.queries == 10 and run.seconds == 100.0
    assert run.finish(4) == {str(TEST): float(table.vector_for(TEST)[4])}
    with pytest.raises(SearchBudgetError, match="already called"):
        run.finish(4)
    with pytest.raises(SearchBudgetError, match="finished"):
        run.evaluate(0)
    assert not hasattr(run, "test") and not hasattr(run, "evaluator")


@pytest.mark.parametrize("bad", ["nb201", None, [PROTOCOL]])
def test_a_session_refuses_what_is_not_a_protocol(bad: object) -> None:
    # a bare AttributeError ("'str' object has no attribute 'check'"), where run_search names
    # the builders
    with pytest.raises(ProtocolError, match=r"is not a Protocol; build one with nb201_protocol"):
        Session(_table(), bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, True, -1, 1.5, "0"])
def test_session_seed_is_an_int_or_a_generator(bad: object) -> None:
    # None drew unreproducible seeds, True was seed 1, -1/1.5/"0" raised numpy's errors
    with pytest.raises(ArgumentError, match="seed"):
        Session(_table(), PROTOCOL, seed=bad)  # type: ignore[arg-type]
    run = Session(_table(), PROTOCOL, seed=np.random.default_rng(0))
    assert run.evaluate(3) == _table().vector_for(VAL)[3]


@pytest.mark.parametrize("bad", [2.5, True, "3", float("nan"), -1, 27])
def test_session_indices_are_checked(bad: object) -> None:
    # 2.5 queried cell 2, True cell 1; finish(-1) read NaN test values, finish(27) IndexError
    run = Session(_table(), PROTOCOL, seed=0)
    with pytest.raises(InvalidArchError):
        run.evaluate(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError):
        run.finish(bad)  # type: ignore[arg-type]
    assert not run.done  # a refused choice does not end the session
    assert run.finish(np.int64(4)) == {str(TEST): float(_table().vector_for(TEST)[4])}


def test_an_ask_that_is_not_an_index_is_refused() -> None:
    class Half(Uniform):
        def ask(self, rng: np.random.Generator) -> int:
            return 2.5  # type: ignore[return-value]

    data = PROTOCOL.oracle_data(_table())
    with pytest.raises(InvalidArchError, match=r"must be a whole number in 0\.\.26, got 2.5"):
        run_one(data, AskTellSearch(Half), 0, 0)


def test_session_reads_indices_by_the_space_rule() -> None:
    # one index rule (Space.arch): 4.0 is cell 4, as in space.arch(4.0); it used to be refused
    run = Session(_table(), PROTOCOL, seed=0)
    assert run.evaluate(4.0) == run.evaluate(4)  # type: ignore[arg-type]
    assert run.finish(4.0) == {str(TEST): float(_table().vector_for(TEST)[4])}  # type: ignore[arg-type]


def test_session_finish_refuses_an_unmeasured_test_value() -> None:
    # it returned {key: nan}: a silent NaN where the runner reports no result
    table = _table()
    test = np.array(table.vector_for(TEST))
    test[4] = np.nan
    holey = Table(SPACE, {**table.data, (TEST, None): test}, source="holey")
    run = Session(holey, PROTOCOL, seed=0)
    with pytest.raises(
        MissingValueError, match=r"^cell 4 has no toy/x-test@12ep\S* value .*denser"
    ):
        run.finish(4)
    with pytest.raises(SearchBudgetError, match="already called"):
        run.finish(5)  # the choice was declared: no second pick to try
    assert Session(holey, PROTOCOL, seed=0).finish(5) == {str(TEST): float(test[5])}


def test_a_session_shows_its_protocol_and_what_it_spent_on_one_line() -> None:
    # the dataclass repr quoted the whole table and protocol, and nothing of the budget
    run = Session(_table(), PROTOCOL, seed=3)
    head = "Session('toy' on 'toy', seed=3: "
    assert repr(run) == f"{head}Oracle({VAL}, 0 queries, 0 s of 100 s, 0 free), running)"
    for i in range(11):
        run.evaluate(i)
    assert repr(run).endswith(
        "10 queries, 100 s of 100 s, 0 free), over (budget spent or stalled))"
    )
    run.finish(4)
    assert repr(run).endswith(", finished)") and "\n" not in repr(run)


def test_make_is_a_factory_and_makes_an_ask_tell_algorithm() -> None:
    # an algorithm given for its factory: "'Uniform' object is not callable" at the first run
    with pytest.raises(ArgumentError, match=r"make must be a function .* lambda space: Uniform"):
        AskTellSearch(Uniform(SPACE))  # type: ignore[arg-type]

    class AskOnly:
        def ask(self, rng: np.random.Generator) -> int:
            return 0

    # without tell: an AttributeError after the first query was charged
    with pytest.raises(ArgumentError, match=r"must return an ask/tell algorithm"):
        run_search(_table(), PROTOCOL, AskTellSearch(lambda space: AskOnly()), runs=1, seed=0)  # type: ignore[arg-type,return-value]
