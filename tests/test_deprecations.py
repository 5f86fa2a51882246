"""Each deprecated entry point warns once, naming the line that called it.

The warning's location is what pyproject.toml's filterwarnings reads: a DeprecationWarning
attributed to a module of nb201_flat is an error in the test suite, so that the library
never calls its own deprecated spellings (a user calling a current function must never see
one). That works only while each warning names its caller, here this file; one that named
a library line would be an error for every user of the old spelling instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nb201_flat.curves import Curves
from nb201_flat.landscape import (
    barrier_matrix,
    barrier_tree,
    disconnectivity_graph,
    lowest_barrier_path,
)
from nb201_flat.landscape.census import pair_barriers
from nb201_flat.landscape.maximin import BarrierTree
from nb201_flat.search.protocol import (
    Protocol,
    fixed_n_protocols,
    nb201_protocol,
    per_dataset_protocols,
    protocols_by_name,
)
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)
TINY = Space(("a", "b", "c"), 3)


def _table() -> Table:
    n = NB201.size
    data = {(KEY, None): np.arange(n, dtype=float), (KEY, 0): np.arange(n, dtype=float)}
    return Table(NB201, data, source="test")


def _tree() -> BarrierTree:
    return barrier_tree(TINY, np.arange(TINY.size, dtype=float))


CURVE_KEY = MetricKey("toy", "x-valid", 12)
COST_KEY = MetricKey("toy", "model", 12, "params_mb")


def _curve_table() -> Table:
    """A tiny table with learning curves (a mean and seed 0) and a cost."""
    curve = np.tile(np.arange(3.0), (TINY.size, 1)) + np.arange(TINY.size)[:, None]
    final = curve[:, -1].copy()
    data = {(CURVE_KEY, None): final, (CURVE_KEY, 0): final, (COST_KEY, None): final}
    curves = Curves(TINY.size, {(CURVE_KEY, None): curve, (CURVE_KEY, 0): curve})
    return Table(TINY, data, source="test", curves=curves)


def _curves() -> Curves:
    found = _curve_table().curves
    assert found is not None
    return found


def _curve_reader(name: str) -> Callable[..., object]:
    """One of the functions that read a stored seed of the curve table, by name."""
    from nb201_flat.constraints import best_under, flatness_in_band, pareto_front
    from nb201_flat.landscape.epochs import flatness_by_epoch
    from nb201_flat.search.fidelity import fidelity_data

    at = ("toy", "x-valid", 12)
    t = _curve_table()
    readers: dict[str, Callable[..., object]] = {
        "best_under": lambda **kw: best_under(t, *at, cost="params_mb", max_cost=30, **kw),
        "pareto_front": lambda **kw: pareto_front(t, *at, cost="params_mb", **kw),
        "flatness_in_band": lambda **kw: flatness_in_band(
            t, *at, cost="params_mb", lo=0, hi=30, **kw
        ),
        "flatness_by_epoch": lambda **kw: flatness_by_epoch(t, *at, **kw),
        "fidelity_data": lambda **kw: fidelity_data(t, *at, budget_queries=3, **kw),
        "Curves.curve": lambda **kw: _curves().curve(CURVE_KEY, **kw),
        "Curves.at": lambda **kw: _curves().at(CURVE_KEY, 1, **kw),
    }
    return readers[name]


CURVE_READERS = (
    "best_under",
    "pareto_front",
    "flatness_in_band",
    "flatness_by_epoch",
    "fidelity_data",
    "Curves.curve",
    "Curves.at",
)

OLD_SEED = "seed= as a stored-seed policy is deprecated"
# (name, call of the old spelling, text of its warning); each call is on a line of this file
CASES: list[tuple[str, Callable[[], object], str]] = [
    ("Table.query", lambda: _table().query(0, "cifar10", "ori-test", 200), "Table.value"),
    ("Table.vector seed=", lambda: _table().vector("cifar10", "ori-test", 200, seed=0), OLD_SEED),
    ("Table.vector_for seed=", lambda: _table().vector_for(KEY, seed=0), OLD_SEED),
    ("Table.value seed=", lambda: _table().value(0, "cifar10", "ori-test", 200, seed=0), OLD_SEED),
    ("Table.frame seed=", lambda: _table().frame([KEY], seed=0), OLD_SEED),
    ("MetricKey.label", lambda: KEY.label, r"str\(key\)"),
    ("best_under seed=", lambda: _curve_reader("best_under")(seed=0), OLD_SEED),
    ("pareto_front seed=", lambda: _curve_reader("pareto_front")(seed=0), OLD_SEED),
    ("flatness_in_band seed=", lambda: _curve_reader("flatness_in_band")(seed=0), OLD_SEED),
    ("flatness_by_epoch seed=", lambda: _curve_reader("flatness_by_epoch")(seed=0), OLD_SEED),
    ("fidelity_data seed=", lambda: _curve_reader("fidelity_data")(seed=0), OLD_SEED),
    ("Curves.curve seed=", lambda: _curve_reader("Curves.curve")(seed=0), OLD_SEED),
    ("Curves.at seed=", lambda: _curve_reader("Curves.at")(seed=0), OLD_SEED),
    ("Protocol seed=", lambda: Protocol("p", KEY, (KEY,), budget_queries=3, seed=0), OLD_SEED),  # type: ignore[call-arg]
    (
        "Protocol.seed",
        lambda: Protocol("p", KEY, (KEY,), budget_queries=3, seed_policy=0).seed,  # type: ignore[attr-defined]
        "Protocol.seed_policy",
    ),
    ("nb201_protocol seed=", lambda: nb201_protocol(seed="mean"), OLD_SEED),
    ("per_dataset_protocols seed=", lambda: per_dataset_protocols(seed="mean"), OLD_SEED),
    ("fixed_n_protocols seed=", lambda: fixed_n_protocols(_table(), seed="mean"), OLD_SEED),
    ("protocols_by_name seed=", lambda: protocols_by_name("nb201", _table(), seed=0), OLD_SEED),
    ("barrier_matrix tree", lambda: barrier_matrix(_tree(), None, [0, 1]), "call its methods"),  # type: ignore[arg-type]
    (
        "barrier_matrix tree shortest",
        lambda: barrier_matrix(_tree(), None, [0, 1], method="shortest"),  # type: ignore[arg-type]
        "call its methods",
    ),
    ("disconnectivity_graph tree", lambda: disconnectivity_graph(_tree()), "call its methods"),  # type: ignore[arg-type]
    ("lowest_barrier_path tree", lambda: lowest_barrier_path(_tree(), None, 0, 1), "call its"),  # type: ignore[arg-type]
    ("pair_barriers tree", lambda: pair_barriers(_tree(), None, 0, 1), "call its methods"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("old", "warns"), [(c, w) for _, c, w in CASES], ids=[n for n, *_ in CASES]
)
def test_a_deprecated_spelling_warns_naming_its_caller(
    old: Callable[[], object], warns: str
) -> None:
    with pytest.warns(DeprecationWarning, match=warns) as caught:
        old()
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1, [str(w.message) for w in deprecations]
    assert deprecations[0].filename == __file__, (deprecations[0].filename, deprecations[0].lineno)


def test_the_old_query_with_the_old_seed_names_the_caller_for_both() -> None:
    t = _table()
    with pytest.warns(DeprecationWarning, match="Table.value|seed_policy=") as caught:
        old = t.query(5, "cifar10", "ori-test", 200, seed=0)
    assert old == t.value(5, "cifar10", "ori-test", 200, seed_policy=0)
    assert sorted(str(w.message)[:20] for w in caught) == ["Table.query is now T", OLD_SEED[:20]]
    assert {w.filename for w in caught} == {__file__}


def test_the_old_array_class_name_names_the_importing_line() -> None:
    with pytest.warns(DeprecationWarning, match="NeighbourArrays") as caught:
        from nb201_flat.neighbours import Neighbourhood  # noqa: F401
    assert [w.filename for w in caught] == [__file__]


def test_a_current_spelling_gives_no_deprecation_warning() -> None:
    # the same entry points, spelled as now: nothing to warn about
    import warnings

    t = _table()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        t.vector("cifar10", "ori-test", 200, seed_policy=0)
        t.value(0, "cifar10", "ori-test", 200, seed_policy="mean")
        t.frame([KEY], seed_policy=0)
        assert protocols_by_name("nb201", t, seed_policy="mean")[0].seed_policy == "mean"
        assert fixed_n_protocols(t, seed_policy=0)[0].seed_policy == 0
        assert str(KEY) == "cifar10/ori-test@200ep:accuracy"


@pytest.mark.parametrize("name", CURVE_READERS)
def test_the_stored_seed_readers_take_seed_policy_and_refuse_both_names(name: str) -> None:
    # seed_policy= is the current name; the old seed= gives the same numbers; both: refused
    import warnings

    from nb201_flat.errors import ArgumentError

    read = _curve_reader(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = read(seed_policy=0)
    with pytest.warns(DeprecationWarning, match=OLD_SEED):
        old = read(seed=0)
    assert _same(new, old)
    with pytest.raises(ArgumentError, match="pass seed_policy= only"):
        read(seed_policy=0, seed=0)


def _same(a: object, b: object) -> bool:
    import pandas as pd

    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, np.asarray(b))
    return bool(np.array_equal(a.values, b.values))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "call", "said"),
    [
        ("other values", lambda t: lowest_barrier_path(t, -t.values, 0, 1), "values were given"),
        (
            "a loss",
            lambda t: lowest_barrier_path(t, None, 0, 1, higher_is_better=False),
            "higher_is_better=False was given",
        ),
        (
            "connected only",
            lambda t: disconnectivity_graph(t, connected_only=True),
            "connected_only=True was given",
        ),
        (
            "a loss, shortest",
            lambda t: barrier_matrix(t, None, [0, 1], method="a2m", higher_is_better=False),
            "higher_is_better=False was given",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_a_prebuilt_tree_refuses_what_it_would_have_answered_without(
    name: str, call: Callable[[BarrierTree], object], said: str
) -> None:
    # the tree answered for its own values and orientation: -values or a loss was dropped
    from nb201_flat.errors import ArgumentError

    with (
        pytest.warns(DeprecationWarning, match="call its methods"),
        pytest.raises(ArgumentError, match=said) as exc,
    ):
        call(_tree())
    assert str(exc.value).endswith("and call the tree's methods") and "\n" not in str(exc.value)


def test_a_prebuilt_tree_takes_its_own_values_and_the_default_orientation() -> None:
    # what the tree holds anyway, or a default the caller may not have given, is no conflict
    t, loss = _tree(), barrier_tree(TINY, np.arange(TINY.size, dtype=float), higher_is_better=False)
    with pytest.warns(DeprecationWarning, match="call its methods"):
        same = lowest_barrier_path(t, t.values.copy(), 0, 5)  # type: ignore[arg-type]
    assert same.barrier == t.path(0, 5).barrier
    with pytest.warns(DeprecationWarning, match="call its methods"):
        low = lowest_barrier_path(loss, None, 0, 5)  # type: ignore[arg-type]
    assert low.barrier == loss.path(0, 5).barrier and not low.higher_is_better
