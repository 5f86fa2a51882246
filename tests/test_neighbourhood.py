"""The neighbourhood specification: one value, one set of defaults, one implementation shared
by the landscape layer and the NA search objective."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest

from nb201_flat.errors import AlgorithmError, ArgumentError, LandscapeArgumentError, SearchEnded
from nb201_flat.landscape import flatness, neighbourhood_score
from nb201_flat.neighbourhood import NA_PAPER, Neighbourhood
from nb201_flat.search import Incumbent, NARandomSearch, NeighbourObjective, Oracle, OracleData
from nb201_flat.search.algorithms import _Memory
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey

TINY = Space(("none", "skip_connect", "conv"), 4)  # 729 cells, 12 neighbours each
KEY = MetricKey("toy", "x-valid", 12)

SPECS = [
    Neighbourhood(),
    NA_PAPER,
    Neighbourhood(radius=2),
    Neighbourhood(radius=2, exact=False, include_self=True, agg="median"),
    Neighbourhood(radius=2, agg="quantile", quantile=0.3),
    Neighbourhood(radius=3, agg="min", include_self=True),
    Neighbourhood(radius=1, no_none=True, agg="quantile", quantile=0.9),
    Neighbourhood(radius=2, exact=False, connected_only=True, include_self=True),
]


def _values(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(70.0, 5.0, TINY.size).round(2)
    v[rng.random(TINY.size) < 0.15] = np.nan  # unmeasured cells are omitted by both
    return v


def _oracle(values: np.ndarray) -> Oracle:
    data = OracleData(TINY, KEY, values[None, :], None, None, None, None, 10 * TINY.size)
    return Oracle(data, np.random.default_rng(0))


def test_defaults_are_stated_once_and_shared() -> None:
    nb = Neighbourhood()
    assert (nb.radius, nb.exact, nb.include_self, nb.no_none, nb.connected_only) == (
        1,
        True,
        False,
        False,
        False,
    )
    assert (nb.agg, nb.quantile) == ("mean", 0.25)
    assert NeighbourObjective().neighbourhood == nb
    assert NeighbourObjective().charge is False
    assert NARandomSearch().objective.neighbourhood == nb
    # the landscape functions take the same defaults
    f = _values(1)
    np.testing.assert_array_equal(neighbourhood_score(TINY, f), neighbourhood_score(TINY, f, nb))
    assert flatness(TINY, f).attrs["include_self"] is False


@pytest.mark.parametrize("spec", SPECS, ids=[s.label for s in SPECS])
def test_na_objective_equals_neighbourhood_score(spec: Neighbourhood) -> None:
    values = _values()
    expected = neighbourhood_score(TINY, values, spec)
    objective = NeighbourObjective(spec)
    mem = _Memory(_oracle(values), objective)
    got = np.array([mem.score(i) for i in range(TINY.size)])
    # the landscape sums a ball by the space's structure (landscape.aggregates) and the search
    # one row at a time: the same numbers up to the grouping of the float sum
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
    assert np.array_equal(np.isnan(got), np.isnan(expected))


def test_na_rs_incumbent_scores_are_the_landscape_scores() -> None:
    values = _values(2)
    spec = Neighbourhood(radius=2, exact=False, include_self=True, agg="quantile", quantile=0.4)
    expected = neighbourhood_score(TINY, values, spec)
    oracle = _oracle(values)
    incumbent = Incumbent(oracle)
    with pytest.raises(SearchEnded):  # budget spent, or every cell known
        NARandomSearch(NeighbourObjective(spec)).search(oracle, np.random.default_rng(5), incumbent)
    assert incumbent.score == expected[incumbent.index]
    assert len(incumbent.changes) >= 1


def test_flat_fields_and_spec_build_the_same_objective() -> None:
    a = NeighbourObjective(radius=2, agg="min", include_self=True, charge=True)
    b = NeighbourObjective(Neighbourhood(radius=2, agg="min", include_self=True), charge=True)
    assert a == b and hash(a) == hash(b)
    assert (a.radius, a.agg, a.include_self, a.exact) == (2, "min", True, True)
    assert replace(a, radius=1).neighbourhood == Neighbourhood(agg="min", include_self=True)
    assert replace(a, charge=False).label == "r2=,min,self,free"
    assert pickle.loads(pickle.dumps(a)) == a


def test_spec_errors_name_the_fix() -> None:
    with pytest.raises(ArgumentError, match="radius must be >= 1, got 0; pass"):
        Neighbourhood(radius=0)
    with pytest.raises(LandscapeArgumentError, match="agg must be one of mean, median"):
        Neighbourhood(agg="average")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"quantile must lie in \[0, 1\], got 1.5"):
        Neighbourhood(quantile=1.5)
    with pytest.raises(ArgumentError, match="unknown neighbourhood field"):
        Neighbourhood.build(None, radios=2)
    # NA searches maximise g: only the aggregators that make sense there
    with pytest.raises(AlgorithmError, match="unknown aggregator 'max'"):
        NeighbourObjective(agg="max")
    # the radius's upper bound is the searched space's (run_search checks it), not NB201's 6
    assert NeighbourObjective(radius=7).radius == 7


def test_the_quantile_level_applies_by_one_rule_everywhere() -> None:
    f = (TINY.codes == 2).sum(axis=1).astype(float)
    held = Neighbourhood(quantile=0.3)  # a level for flatness's quantile column only
    # a reader of g alone refuses it, as the NA objective does: neighbourhood_score ignored it
    # (naming the level the spec holds: the caller passed no quantile= to drop)
    with pytest.raises(LandscapeArgumentError, match=r"^the quantile 0\.3 of Neighbourhood\("):
        neighbourhood_score(TINY, f, held)
    # flatness refuses it where its quantile column is not asked for (it was ignored too)
    with pytest.raises(LandscapeArgumentError, match="is the level of the 'quantile' column"):
        flatness(TINY, f, held, columns=["mean"])
    col = flatness(TINY, f, held, columns=["quantile"])
    assert col.equals(flatness(TINY, f, 1, quantile=0.3, columns=["quantile"]))
    # g's own level travels with its spec: flatness, computing no g, takes the spec as it is
    g_level = Neighbourhood(agg="quantile", quantile=0.1)
    assert flatness(TINY, f, g_level, columns=["mean"]).shape == (TINY.size, 1)
    # an aggregator replacing the quantile takes its level with it, whoever builds the spec
    assert Neighbourhood.build(g_level, agg="min") == Neighbourhood(agg="min")
    np.testing.assert_array_equal(
        neighbourhood_score(TINY, f, g_level, agg="mean"), neighbourhood_score(TINY, f, 1)
    )
    # but not a level that was never g's: the objective dropped it without a word
    with pytest.raises(AlgorithmError, match="0.3 .* applies only with agg='quantile', not 'min'"):
        NeighbourObjective(held, agg="min")


def test_repr_label_and_arrays() -> None:
    assert repr(Neighbourhood()) == "Neighbourhood(r=1, mean)"
    assert repr(NA_PAPER) == "Neighbourhood(r<=1, self, mean)"
    spec = Neighbourhood(radius=2, exact=False, no_none=True, agg="quantile", quantile=0.1)
    assert repr(spec) == "Neighbourhood(r<=2, no_none, quantile(0.1))"
    assert spec.label == "r2,q0.1,noself,nonone"
    assert spec.arrays(NB201) is NB201.neighbours(2, exact=False, no_none=True)
    assert Neighbourhood.build(3) == Neighbourhood(radius=3)
    assert Neighbourhood.build(NA_PAPER, radius=None) is NA_PAPER


@pytest.mark.parametrize(
    ("base", "match"),
    [
        ("abc", r"^base must be a Neighbourhood, a radius or None, got 'abc'"),
        (float("nan"), r"^base must be a Neighbourhood, a radius or None, got nan"),
        (True, r"^base must be a Neighbourhood, a radius or None, got True"),
        (3, r"^radius given twice: base 3 and radius=2; give one"),
    ],
)
def test_build_refuses_a_base_it_would_drop(base: object, match: str) -> None:
    # beside radius=, the base was dropped unread: no error, the other radius used
    with pytest.raises(ArgumentError, match=match):
        Neighbourhood.build(base, radius=2)  # type: ignore[arg-type]
    assert Neighbourhood.build(np.int64(2), radius=2) == Neighbourhood(radius=2)


def test_old_array_class_name_is_a_deprecated_alias() -> None:
    from nb201_flat.neighbours import NeighbourArrays

    with pytest.warns(DeprecationWarning, match="is now NeighbourArrays"):
        from nb201_flat.neighbours import Neighbourhood as Old
    assert Old is NeighbourArrays


def test_result_objects_have_one_line_reprs() -> None:
    from nb201_flat.landscape import barrier_tree
    from nb201_flat.search import Protocol, RandomSearch, run_search
    from nb201_flat.table import Table

    values = _values(3)
    oracle = _oracle(values)
    oracle.query(4)
    assert repr(oracle) == "Oracle(toy/x-valid@12ep:accuracy, 1 queries of 7290, 0 free)"
    inc = Incumbent(oracle)
    inc.offer(4, 70.5)
    assert repr(inc) == "Incumbent(index=4, score=70.5, changes=1)"
    tree = barrier_tree(TINY, values)
    assert "\n" not in repr(tree) and repr(tree).startswith("BarrierTree(")
    assert f"{int((~np.isnan(values)).sum())} of 729 archs" in repr(tree)
    test = MetricKey("toy", "x-test", 200)
    dense = np.nan_to_num(values, nan=1.0)  # a search key needs every cell measured
    table = Table(TINY, {(KEY, None): dense, (test, None): values}, source="toy")
    res = run_search(table, Protocol("p", KEY, (test,), budget_queries=5), RandomSearch(), runs=3)
    assert repr(res).startswith("SearchResults(1 protocol, 1 algorithm, 3 runs, ")
    assert len(repr(res)) < 120


def test_na_memory_reads_large_neighbourhoods_by_rows_and_caches_no_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat.landscape import aggregates as ag

    values = _values(3)
    spec = Neighbourhood(radius=3, exact=False, include_self=True, agg="median")
    small = _Memory(_oracle(values), NeighbourObjective(spec))
    cached = np.array([small.score(i) for i in range(0, TINY.size, 7)])
    # past the size bound the rows are rebuilt per cell: the same scores, and nothing is kept
    monkeypatch.setattr(ag, "CACHE_ENTRIES_LIMIT", 0)
    TINY.clear_cache()
    big = _Memory(_oracle(values), NeighbourObjective(spec))
    lazy = np.array([big.score(i) for i in range(0, TINY.size, 7)])
    np.testing.assert_array_equal(lazy, cached)
    assert not any(isinstance(k, tuple) and k[0] == "nbhd" for k in TINY._cache)
