"""An edge-input sweep of the public Python API: what it refused in a raw numpy, pandas or
attribute error, or served as a plausible number, is one project error naming the parameter.

Each case here was found by calling the library (not the command line) with wrong types,
empty or repeated items and values of another kind."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nb201_flat import costs
from nb201_flat.curves import Curves
from nb201_flat.errors import ArgumentError, FormatError, ProtocolError
from nb201_flat.landscape import (
    StandIns,
    autocorrelation,
    neighbour_distributions,
    path_barrier,
    random_walk,
)
from nb201_flat.search import Protocol
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "a", "b"), 3)
KEY = MetricKey("c10", "test", 200)


def _table() -> Table:
    return Table(SPACE, {(KEY, None): np.linspace(0.0, 1.0, SPACE.size)})


def _one_line(exc: pytest.ExceptionInfo[BaseException], *words: str) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    for word in words:
        assert word in text, text
    return text


# -- a table's vectors: the rule of every per-architecture vector --------------------------
_NOT_NUMBERS: list[Any] = [
    ["3"] * SPACE.size,  # float64 parsed the text: 3.0
    np.array(["2020-01-01"] * SPACE.size, dtype="datetime64[D]"),  # days since 1970
    np.full(SPACE.size, 1 + 2j),  # the imaginary part dropped with a warning
    np.array(["3"] * SPACE.size, dtype=object),
]


@pytest.mark.parametrize("values", _NOT_NUMBERS, ids=["text", "dates", "complex", "object-text"])
def test_with_vector_refuses_what_is_not_a_number(values: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        _table().with_vector(KEY, values)
    _one_line(exc, "values", "numbers")


@pytest.mark.parametrize("values", _NOT_NUMBERS, ids=["text", "dates", "complex", "object-text"])
def test_table_refuses_a_vector_that_is_not_numbers(values: Any) -> None:
    with pytest.raises(FormatError) as exc:
        Table(SPACE, {(KEY, None): values})
    _one_line(exc, str(KEY), "numbers")


def test_numbers_of_any_real_kind_still_make_a_vector() -> None:
    ints = _table().with_vector(KEY, np.arange(SPACE.size)).vector_for(KEY)
    assert ints.dtype == np.float64 and ints[5] == 5.0
    missing = [None, *range(1, SPACE.size)]  # None: a missing value, as arch_vector reads it
    assert np.isnan(_table().with_vector(KEY, np.array(missing, dtype=object)).vector_for(KEY)[0])


@pytest.mark.parametrize("data", [[1, 2], "c10", 5])
def test_table_data_must_be_a_mapping(data: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        Table(SPACE, data)
    _one_line(exc, "data")


@pytest.mark.parametrize("meta", [[1], "x"])
def test_table_meta_must_be_a_mapping(meta: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        Table(SPACE, {(KEY, None): np.ones(SPACE.size)}, meta=meta)
    _one_line(exc, "meta")


def test_from_tidy_rows_must_be_callable() -> None:
    tidy = _table().to_tidy()
    with pytest.raises(ArgumentError) as exc:
        Table.from_tidy(tidy, space=SPACE, rows=5)  # type: ignore[arg-type]
    _one_line(exc, "rows")


# -- costs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape",
    [(0, 32), (10, 0), (-10, 32), (10.5, 32), (10, 33), "x", (10,), None, (10, 2048), (10**6, 32)],
)
def test_analytic_costs_refuses_a_shape_no_network_has(shape: Any) -> None:
    # (0, 32) and (10, 0) were costed as networks of no classes or a 0-pixel input; past
    # train.costs.MAX_IMAGE_SIZE and MAX_CLASSES the int64 sums could wrap
    with pytest.raises(ArgumentError) as exc:
        costs.analytic_costs(NB201, "cifar10", shapes={"cifar10": shape})
    _one_line(exc, "shapes")


@pytest.mark.parametrize("shapes", [5, [("cifar10", (10, 32))]])
def test_analytic_costs_shapes_must_be_a_mapping(shapes: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        costs.analytic_costs(NB201, "cifar10", shapes=shapes)
    _one_line(exc, "shapes")


@pytest.mark.parametrize("dataset", [["cifar10"], None, 5])
def test_analytic_costs_dataset_must_be_a_name(dataset: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        costs.analytic_costs(NB201, dataset)
    _one_line(exc, "dataset")


def test_analytic_costs_of_a_shape_given_are_those_of_the_known_one() -> None:
    own = costs.analytic_costs(NB201, "x", shapes={"x": (10, 32)})
    assert own.equals(costs.analytic_costs(NB201, "cifar10"))


def test_with_analytic_costs_refuses_one_name_for_the_list() -> None:
    # it was read letter by letter: "no input shape known for dataset 'c'"
    with pytest.raises(ArgumentError) as exc:
        costs.with_analytic_costs(_cifar_table(), "cifar10")  # type: ignore[arg-type]
    text = _one_line(exc, "datasets", "['cifar10']")
    assert "'c'" not in text


@pytest.mark.parametrize("epochs", [-1, "200", 1.5])
def test_with_analytic_costs_names_epochs(epochs: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        costs.with_analytic_costs(_cifar_table(), epochs=epochs)
    assert _one_line(exc).startswith("epochs ")


def _cifar_table() -> Table:
    return Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): np.ones(NB201.size)})


@pytest.mark.parametrize("call", ["network_size", "stand_ins"])
@pytest.mark.parametrize("table", [None, "t.nb201"])
def test_what_reads_a_table_refuses_another_object(call: str, table: Any) -> None:
    read = costs.network_size if call == "network_size" else lambda t: StandIns.of(t, "c10", 1)
    with pytest.raises(ArgumentError) as exc:
        read(table)
    _one_line(exc, "table")


@pytest.mark.parametrize("key", [None, 5])
def test_key_network_size_refuses_what_is_not_a_key(key: Any) -> None:
    with pytest.raises(ArgumentError) as exc:
        costs.key_network_size(key)
    _one_line(exc, "key")


# -- landscape ----------------------------------------------------------------------------
_F = np.linspace(0.0, 1.0, SPACE.size)


@pytest.mark.parametrize(
    ("bands", "radii", "name"),
    [({}, (1,), "bands"), ({"all": (0, 1)}, [], "radii"), ({"all": (0, 1)}, [1, 1], "radii")],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_neighbour_distributions_refuses_nothing_or_twice(
    bands: Any, radii: Any, name: str, weighted: bool
) -> None:
    # {} and [] gave an empty frame, [1, 1] every row of radius 1 twice
    with pytest.raises(ArgumentError) as exc:
        neighbour_distributions(SPACE, _F, bands, radii, weighted=weighted)
    _one_line(exc, name)


def test_neighbour_distributions_serves_each_radius_once() -> None:
    df = neighbour_distributions(SPACE, _F, {"all": (0, 1)}, [2, 1])
    assert sorted(df["radius"].unique().tolist()) == [1, 2]


@pytest.mark.parametrize("values", [np.full(3, 1 + 1j), ["1", "0", "1"]])
def test_path_barrier_refuses_what_is_not_a_number(values: Any) -> None:
    # complex: numpy dropped the imaginary part (a warning, and a barrier)
    with pytest.raises(ArgumentError) as exc:
        path_barrier(values)
    _one_line(exc, "numbers")


@pytest.mark.parametrize("values", [np.ones((3, 1)), np.ones((2, 3))])
def test_path_barrier_names_the_shape_of_a_2d_path(values: Any) -> None:
    # "a path needs at least one value", of three or six values
    with pytest.raises(ArgumentError) as exc:
        path_barrier(values)
    _one_line(exc, str(values.shape))


def test_many_short_walks_are_one_memory_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # 10**6 walks of 20 steps ran for minutes, most of it a memory check per walk (/proc reads)
    from nb201_flat.landscape import statistics

    calls: list[str] = []
    real = statistics.check_memory
    monkeypatch.setattr(statistics, "check_memory", lambda *a: calls.append(a[1]) or real(*a))
    autocorrelation(SPACE, _F, seed=0, length=20, n_walks=500)
    assert len(calls) == 1, calls


def test_autocorrelation_walks_are_random_walks_of_the_same_stream() -> None:
    rng = np.random.default_rng(3)
    walks = [random_walk(SPACE, 30, seed=rng) for _ in range(4)]
    df = autocorrelation(SPACE, _F, seed=3, length=30, max_lag=2, n_walks=4)
    series = np.stack([_F[w] for w in walks])
    a, b = (series[:, :-1] - series.mean()).ravel(), (series[:, 1:] - series.mean()).ravel()
    r1 = float(a @ b / np.sqrt((a @ a) * (b @ b)))
    assert df["autocorrelation"].iloc[0] == pytest.approx(r1, rel=1e-12)


# -- curves and protocols -----------------------------------------------------------------
def test_curves_of_text_are_a_format_error() -> None:
    with pytest.raises(FormatError) as exc:
        Curves(3, {(KEY, None): [["a", "b"]] * 3})
    _one_line(exc, str(KEY))


def test_protocol_replace_names_an_unknown_field() -> None:
    p = Protocol("p", KEY, (KEY,), budget_queries=5)
    with pytest.raises(ProtocolError) as exc:
        p.replace(budget=10)
    _one_line(exc, "budget is not a field", "budget_queries")


def test_autocorrelation_of_many_walks_keeps_its_numbers() -> None:
    # the walks now sit in one array, their products computed at once: the pooled order
    f = _F.copy()
    f[[3, 7]] = np.nan
    rng = np.random.default_rng(5)
    walks = [f[random_walk(SPACE, 12, seed=rng)] for _ in range(6)]
    pooled = np.concatenate(walks)
    m = np.nanmean(pooled)
    df = autocorrelation(SPACE, f, seed=5, length=12, max_lag=3, n_walks=6)
    for k in (1, 2, 3):
        a = np.concatenate([w[:-k] - m for w in walks])
        b = np.concatenate([w[k:] - m for w in walks])
        keep = ~(np.isnan(a) | np.isnan(b))
        a, b = a[keep], b[keep]
        row = df[df["lag"] == k].iloc[0]
        assert row["pairs"] == len(a)
        expected = a @ b / np.sqrt((a @ a) * (b @ b))
        assert row["autocorrelation"] == pytest.approx(expected, rel=1e-12)


def test_a_0d_array_is_the_cell_it_holds() -> None:
    # array(5) was "expected an architecture string or index, got ndarray"; an index array
    # (optimum=, archs=) already read it as cell 5
    assert SPACE.resolve(np.array(5)).index == 5


@pytest.mark.parametrize("cells", [None, 5, [1], [("p", "rs")]])
def test_with_stand_ins_names_cells(cells: Any) -> None:
    from nb201_flat.search import with_stand_ins

    with pytest.raises(ArgumentError) as exc:
        with_stand_ins(_table(), cells)
    _one_line(exc, "cells")


def test_with_stand_ins_takes_a_cell_as_a_list_too() -> None:
    # the triples check refused [p, label, algo], which run_cells always took
    from nb201_flat.search import RandomSearch, with_stand_ins
    from nb201_flat.search.protocol import Protocol

    p = Protocol("toy", KEY, (KEY,), budget_queries=3)
    algo = RandomSearch()
    assert with_stand_ins(_table(), [[p, "rs", algo]]) == [(p, "rs", algo)]


@pytest.mark.parametrize("seed", [2**63, 2**64])
def test_a_seed_beyond_int64_is_refused_where_it_enters(seed: int) -> None:
    # stored, then to_tidy's Int64 column raised a raw TypeError
    with pytest.raises(ArgumentError) as exc:
        _table().with_vector(KEY, np.ones(SPACE.size), seed=seed)
    _one_line(exc, "seed")
    with pytest.raises(FormatError):
        Table(SPACE, {(KEY, seed): np.ones(SPACE.size)})


def test_an_epoch_count_beyond_int64_is_refused() -> None:
    # a key of 2**63 epochs made a table whose to_tidy raised a raw OverflowError
    with pytest.raises(ArgumentError) as exc:
        MetricKey("c10", "test", 2**63)
    _one_line(exc, "epochs")
    largest = Table(SPACE, {(MetricKey("c10", "test", 2**63 - 1), 2**63 - 1): np.ones(27)})
    assert largest.to_tidy()["seed"].max() == 2**63 - 1


@pytest.mark.parametrize(("field", "value"), [("source", None), ("source", 5), ("curves", 5)])
def test_table_source_and_curves_are_of_their_kind(field: str, value: Any) -> None:
    # source=None was saved as the text 'None'; curves=5 failed when read or saved
    with pytest.raises(ArgumentError) as exc:
        Table(SPACE, {(KEY, None): np.ones(SPACE.size)}, **{field: value})
    _one_line(exc, field)


def test_a_refusal_of_text_says_what_the_numbers_are_for() -> None:
    # mean_ci's refusal said "one number per architecture" of a sample of any size
    from nb201_flat.figures._common import mean_ci

    with pytest.raises(
        ArgumentError, match=r"got text entries .*; pass numbers, NaN for a missing one$"
    ):
        mean_ci(["1", "2"])
    key = MetricKey("cifar10", "ori-test", 200)
    with pytest.raises(
        FormatError, match=r"; pass one number per architecture, NaN where not measured$"
    ):
        Table(NB201, {(key, None): ["1"] * NB201.size})
