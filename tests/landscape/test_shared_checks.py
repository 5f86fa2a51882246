"""Checks defined once and used by every layer that takes the same kind of argument."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError, InvalidArchError
from nb201_flat.graphs import space_graph
from nb201_flat.landscape import (
    a2m_bands,
    a2m_barrier,
    barrier_matrix,
    bottleneck_matrix,
    distance_profile,
    flatness,
    neighbour_distributions,
)
from nb201_flat.landscape import fitness_distance_correlation as fdc
from nb201_flat.landscape._common import as_values
from nb201_flat.space import Space

SMALL = Space(("none", "conv"), 3)  # 8 architectures


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.arange(9.0), "vector over the 8 architectures"),
        (["x"] * 8, "values must be numbers"),
        ([0.0] * 7 + [np.inf], "1 infinite entry \\(first at index 7\\)"),
        ([0.0] * 7 + [10**400], "^values hold a number beyond a float's range"),  # OverflowError
        # float64 read dates as ns since the epoch, dropped an imaginary part, parsed '3'
        (pd.Series(pd.date_range("2020", periods=8)), "^values must be numbers, got date "),
        (np.arange(8) * 1j, "^values must be numbers, got complex entries \\(dtype complex"),
        ([str(i) for i in range(8)], "^values must be numbers, got text entries \\(dtype <U1"),
        ([0.0] * 7 + ["3"], "^values must be numbers, got text entries"),
        (
            np.array([0.0] * 7 + ["3"], dtype=object),
            "^values must be numbers, got str '3' at index 7",
        ),
    ],
)
def test_every_per_arch_vector_gets_the_same_check(values: object, match: str) -> None:
    # the neighbour gather and the networkx view used to check the length only: text raised
    # numpy's ValueError and an inf went through, where the landscape layer named both
    nb = SMALL.neighbours(1)
    for call in (
        lambda: as_values(SMALL, values),  # type: ignore[arg-type]
        lambda: nb.gather(values),  # type: ignore[arg-type]
        lambda: space_graph(SMALL, values=values),  # type: ignore[arg-type]
    ):
        with pytest.raises(ArgumentError, match=match):
            call()


def test_bools_and_object_numbers_are_still_read_as_numbers() -> None:
    mask = np.arange(8) % 2 == 0
    assert as_values(SMALL, mask).tolist() == mask.astype(float).tolist()
    mixed = np.array([True, 1, 2.5, np.float32(3), None, 5, 6, 7], dtype=object)
    np.testing.assert_array_equal(as_values(SMALL, mixed), [1, 1, 2.5, 3, np.nan, 5, 6, 7])


def test_every_confidence_level_gets_the_same_check() -> None:
    # figures, search statistics and proxies each checked the level themselves, and only the
    # figures named the fix (95 for 95 %)
    from nb201_flat.figures._common import binned_means, mean_ci
    from nb201_flat.figures.search import plot_anytime
    from nb201_flat.landscape.proxies import proxy_correlations
    from nb201_flat.search.statistics import bootstrap_ci

    space = Space(("a", "b", "c"), 3)
    acc = np.arange(27.0)
    for call in (
        lambda: mean_ci([1.0, 2.0], 95),
        lambda: binned_means(acc, acc, confidence=95),
        lambda: plot_anytime(None, confidence=95),  # type: ignore[arg-type]
        lambda: bootstrap_ci(np.ones(3), confidence=95),
        lambda: proxy_correlations(space, acc, acc, confidence=95),
    ):
        # the whole fix, to the end: "got 95; " matched the old "got 95; e.g. 0.95" too
        fix = r"got 95; pass e\.g\. 0\.95 for a 95 % interval$"
        with pytest.raises(ArgumentError, match=r"^confidence must lie in \(0, 1\), " + fix):
            call()


def test_the_confidence_check_lives_beside_the_other_checks() -> None:
    # errors.py holds every check_* helper; this one lived in landscape._common
    from nb201_flat import errors
    from nb201_flat.landscape import _common

    assert errors.check_confidence(0.9) == 0.9
    assert not hasattr(_common, "check_confidence")  # defined once


# -- a pandas Series is read by its index, never by position ----------------------------------
MID = Space(("a", "b", "c"), 3)  # 27 architectures, three ops: barriers and flatness vary


def _mid_values() -> np.ndarray:
    return np.random.default_rng(0).uniform(10.0, 90.0, MID.size)


def test_a_shuffled_series_gives_the_numpy_vectors_results_byte_for_byte() -> None:
    # a shuffled Series was read by position: flatness of arch 9930 on the real table was 49.34
    # where it is 73.51, and a proxy's Kendall tau 0.553 came out -0.005
    from nb201_flat.landscape import flatness, lowest_barrier_path, neighbourhood_score
    from nb201_flat.landscape.proxies import proxy_correlations

    v = _mid_values()
    proxy = v + np.random.default_rng(1).normal(0.0, 5.0, MID.size)
    shuffled = pd.Series(v).sample(frac=1, random_state=0)
    assert not (shuffled.index == np.arange(MID.size)).all()
    for given in (pd.Series(v), shuffled):
        pd.testing.assert_frame_equal(
            flatness(MID, given, 1), flatness(MID, v, 1), check_exact=True
        )
        assert (
            neighbourhood_score(MID, given, 2).tobytes() == neighbourhood_score(MID, v, 2).tobytes()
        )
        got, want = lowest_barrier_path(MID, given, 0, 26), lowest_barrier_path(MID, v, 0, 26)
        assert (got.path, got.barrier, got.values.tobytes()) == (
            want.path,
            want.barrier,
            want.values.tobytes(),
        )
        p = pd.Series(proxy).sample(frac=1, random_state=1)
        pd.testing.assert_frame_equal(
            proxy_correlations(MID, p, given, n_boot=40, seed=0),
            proxy_correlations(MID, proxy, v, n_boot=40, seed=0),
            check_exact=True,
        )


def test_every_per_arch_vector_reads_a_series_by_its_index() -> None:
    v = _mid_values()
    shuffled = pd.Series(v).sample(frac=1, random_state=0)
    nb = MID.neighbours(1)
    assert as_values(MID, shuffled).tobytes() == v.tobytes()
    assert np.array_equal(nb.gather(shuffled), nb.gather(v), equal_nan=True)
    g_series = space_graph(MID, values=shuffled)  # type: ignore[arg-type]
    g_numpy = space_graph(MID, values=v)
    assert [d["value"] for _, d in g_series.nodes(data=True)] == [
        d["value"] for _, d in g_numpy.nodes(data=True)
    ]


def test_a_numpy_vector_is_read_as_it_is() -> None:
    # the Series rule adds nothing to a numpy vector: the same array, not a copy
    v = _mid_values()
    assert as_values(MID, v) is v


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda s: s.iloc[:-1],
            r"its index lacks 1 of them \(first \d+\); \.reindex\(range\(27\)\)",
        ),
        (lambda s: s.set_axis(s.index + 1), r"holds 1 label outside that range \(first 27\)"),
        (lambda s: s.set_axis(s.index - 1), r"holds 1 label outside that range \(first -1\)"),
        (lambda s: s.set_axis([0, *range(26)]), r"it repeats 1 of them \(first 0\); keep one"),
        (lambda s: s.set_axis(s.index * 1.0), r"labels are float64 \(first 0\.0\); relabel it"),
        (
            lambda s: s.set_axis(pd.Index([pd.NA, *range(1, 27)], dtype="Int64")),
            r"its index holds 1 missing label; \.reindex",
        ),
        (
            lambda s: s.set_axis(pd.Index([pd.NA, pd.NA, *range(2, 27)], dtype="Int64")),
            r"its index holds 2 missing labels; \.reindex",
        ),
        (lambda s: s.set_axis(MID.strings()), r"labels are .* space\.parse\(a\)\.index, or use"),
        (lambda s: s.to_frame("acc"), r"^values must be one vector, got a DataFrame of shape"),
    ],
)
def test_a_series_with_any_other_index_is_refused_naming_the_fix(make: object, match: str) -> None:
    bad = make(pd.Series(_mid_values()))  # type: ignore[operator]
    nb = MID.neighbours(1)
    for call in (
        lambda: as_values(MID, bad),
        lambda: nb.gather(bad),
        lambda: space_graph(MID, values=bad),
    ):
        with pytest.raises(ArgumentError, match=match):
            call()


def test_no_none_without_a_none_op_is_refused_by_every_function() -> None:
    # the structural aggregates refused it, while the neighbour sets behind the rest looked
    # the op up with a default and dropped nothing: no_none=True silently meant False
    from nb201_flat import landscape as L

    space = Space(("a", "b", "c"), 3)
    f = np.arange(27.0)
    band = {"t": (20.0, 26.0)}
    for call in (
        lambda: space.neighbours(1, no_none=True),
        lambda: L.flatness(space, f, 1, no_none=True),
        lambda: L.flatness(space, f, 1, no_none=True, columns=["median"]),
        lambda: L.neighbourhood_score(space, f, 1, agg="median", no_none=True),
        lambda: L.neighbourhood_score(space, f, 1, agg="quantile", quantile=0.3, no_none=True),
        lambda: L.local_optima(space, f, no_none=True),
        lambda: L.hill_climb(space, f, no_none=True),
        lambda: L.basins(space, f, no_none=True),
        lambda: L.random_walk(space, 5, seed=0, no_none=True),
        lambda: L.neighbour_distributions(space, f, band, radii=(1,), no_none=True),
        lambda: L.neighbour_distributions(space, f, band, (1,), no_none=True, weighted=True),
    ):
        with pytest.raises(
            ArgumentError,
            match="^no_none=True needs an op named 'none' in the space; drop no_none for this "
            "space$",
        ):
            call()


def test_one_item_where_a_sequence_belongs_is_refused_naming_the_list() -> None:
    # iterating 5 or np.array(5) raised a raw TypeError naming no fix, and a string was read
    # character by character
    from nb201_flat import landscape as L
    from nb201_flat.landscape.a2m import a2m_barriers

    space = Space(("none", "skip", "conv"), 3)
    f = np.arange(27.0)
    tree = L.barrier_tree(space, f)
    arch = space.arch(5).to_str()
    for call, name, items in (
        (lambda: L.barrier_matrix(space, f, 5), "archs", "architectures"),
        (lambda: L.barrier_matrix(space, f, np.array(5), method="a2m"), "archs", "architectures"),
        (lambda: L.bottleneck_matrix(tree, 5), "archs", "architectures"),
        (lambda: a2m_barriers(space, f, 5), "pairs", "\\(a, b\\) pairs"),
        (lambda: L.neighbour_distributions(space, f, {"t": (1, 2)}, radii=5), "radii", "radii"),
    ):
        with pytest.raises(ArgumentError, match=f"^{name} must be a sequence of {items}.*got 5; "):
            call()
    with pytest.raises(
        ArgumentError, match=f"^archs must be a sequence .*e\\.g\\. \\['{re.escape(arch)}'\\]$"
    ):
        L.barrier_matrix(space, f, arch)
    with pytest.raises(ArgumentError, match="^archs must be one sequence .* pass archs.ravel"):
        L.barrier_matrix(space, f, np.array([[0, 5]]))
    with pytest.raises(InvalidArchError, match="^archs must be whole numbers in 0..26, got 2.5"):
        L.barrier_matrix(space, f, np.array([1.0, 2.5]))
    # valid arrays are read as before: the index-array rule lets whole floats through
    expect = L.barrier_matrix(space, f, [0, 5, 26])
    assert L.barrier_matrix(space, f, np.array([0.0, 5.0, 26.0])).equals(expect)


def test_a_dataframe_where_a_sequence_belongs_is_refused_naming_a_column_or_its_rows() -> None:
    # iterating a DataFrame gives its column names: pairs met 'a' ("not an (a, b) pair"),
    # archs a malformed architecture 'a'
    from nb201_flat import landscape as L
    from nb201_flat.landscape.a2m import a2m_barriers

    space = Space(("none", "skip", "conv"), 3)
    f = np.arange(27.0)
    df = pd.DataFrame({"a": [0, 5], "b": [26, 13]})
    for call, name in (
        (lambda: a2m_barriers(space, f, df), "pairs"),
        (lambda: L.barrier_matrix(space, f, df), "archs"),
        (lambda: L.neighbour_distributions(space, f, {"t": (1, 2)}, radii=df), "radii"),
    ):
        with pytest.raises(
            ArgumentError, match=f"^{name} must be .*, got a DataFrame \\(columns \\['a', 'b'\\];"
        ):
            call()
    rows = list(df.itertuples(index=False, name=None))  # the fix it names works as written
    assert a2m_barriers(space, f, rows)[["a", "b"]].values.tolist() == [[0, 26], [5, 13]]
    assert L.barrier_matrix(space, f, df["a"]).index.tolist() == [0, 5]


def test_an_empty_optimum_is_refused_naming_none_for_the_global_optima() -> None:
    # "optimum is an empty sequence" named no fix
    space = Space(("none", "skip", "conv"), 3)
    f = np.arange(27.0)
    for call in (
        lambda: fdc(space, f, []),
        lambda: fdc(space, f, np.array([], dtype=np.int64)),
        lambda: distance_profile(space, f, ()),
    ):
        with pytest.raises(ArgumentError, match=r"^optimum is an empty sequence; .* or None for"):
            call()
    assert distance_profile(space, f, None).attrs["optima"] == [26]


def test_a_0d_array_optimum_is_that_one_architecture() -> None:
    from nb201_flat import landscape as L

    space = Space(("none", "skip", "conv"), 3)
    f = np.arange(27.0)
    want = L.fitness_distance_correlation(space, f, optimum=5)
    assert L.fitness_distance_correlation(space, f, optimum=np.array(5)) == want
    assert L.distance_profile(space, f, np.array([[5, 7]])).attrs["optima"] == [5, 7]
    with pytest.raises(InvalidArchError, match="^optimum must be whole numbers in 0..26, got 5.5"):
        L.fitness_distance_correlation(space, f, optimum=np.array(5.5))


def test_every_landscape_function_checks_its_space() -> None:
    # a table or a name passed as the space met an AttributeError ('str' has no 'size',
    # 'check_radius', 'check_index', 'neighbours') at whichever attribute came first
    from nb201_flat import landscape as L

    v = np.arange(8.0)
    for call in (
        lambda s: L.flatness(s, v, 1),
        lambda s: L.local_optima(s, v),
        lambda s: L.barrier_tree(s, v),
        lambda s: L.shortest_paths(s, 0, 7),
        lambda s: L.random_walk(s, 5, seed=0),
        lambda s: L.relaxed(s, 3),
    ):
        with pytest.raises(ArgumentError, match="^space must be a Space, got str 'nb201'; pass e"):
            call("nb201")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # an array's `in` / `==` among the names raised numpy's ambiguous-truth ValueError
        (lambda v: barrier_matrix(SMALL, v, [0, 7], method=np.zeros(2)), "^method must be one of"),
        (lambda v: fdc(SMALL, v, method=np.zeros(2)), "^method must be one of pearson, spearman"),
        (lambda v: a2m_barrier(SMALL, v, 0, 7, published=np.zeros(2)), "^published must be"),
        (lambda v: basins_nan(SMALL, v, nan_policy=np.zeros(2)), "^nan_policy must be one of"),
        # unhashable or not iterable: bare TypeErrors
        (lambda v: a2m_bands(["cifar10"]), r"^dataset must be a str, got \['cifar10'\]$"),
        (lambda v: neighbour_distributions(SMALL, v, 3), "^bands must be a dataset name or"),
        (lambda v: flatness(SMALL, v, 1, columns=3), "^columns must be some of"),
        # an AttributeError ('float' object has no attribute 'bottleneck_matrix')
        (lambda v: bottleneck_matrix(1.5, [0, 7]), "^tree must be a BarrierTree"),
    ],
)
def test_a_wrong_kind_of_landscape_argument_names_its_parameter(call: object, match: str) -> None:
    with pytest.raises(ArgumentError, match=match) as err:
        call(np.arange(8.0))  # type: ignore[operator]
    assert "\n" not in str(err.value)


def basins_nan(space: Space, values: np.ndarray, *, nan_policy: object) -> object:
    from nb201_flat.landscape import a2m_barriers

    return a2m_barriers(space, values, [(0, 7)], nan_policy=nan_policy)  # type: ignore[arg-type]


def test_an_array_given_for_a_parameter_is_quoted_on_one_line() -> None:
    from nb201_flat.landscape import flatness

    # Param's value was quoted by repr: an array's spans lines
    with pytest.raises(ArgumentError, match="^omit_stand_ins=array") as err:
        flatness(SMALL, np.arange(8.0), 1, omit_stand_ins=np.zeros((2, 2)))  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


def test_average_ranks_and_spearman_match_scipy() -> None:
    # the figures and the epoch/proxy correlations rank without importing scipy.stats
    from scipy import stats

    from nb201_flat.landscape._common import average_ranks, spearman

    rng = np.random.default_rng(3)
    for trial in range(200):
        n = int(rng.integers(3, 200))
        x = rng.integers(0, 6, n).astype(float) if trial % 2 else rng.normal(size=n)
        y = x + rng.normal(size=n) if trial % 3 else rng.integers(0, 3, n).astype(float)
        assert np.array_equal(average_ranks(x), stats.rankdata(x))
        if np.ptp(x) and np.ptp(y):
            assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert np.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant: undefined
    assert np.isnan(spearman([1.0], [2.0]))


def test_values_too_large_to_sum_are_refused_by_every_landscape_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a metric of 1e308 gave barriers of inf and level means of NaN with exit 0 (the sums
    # and endpoint means overflowed)
    from nb201_flat.cli import main
    from nb201_flat.landscape import barrier_tree
    from nb201_flat.landscape.census import barrier_census
    from nb201_flat.space import NB201
    from nb201_flat.storage import save_table
    from nb201_flat.table import MetricKey, Table

    v = np.full(NB201.size, 1e308)
    v[7] = -1e308
    limit = float(np.finfo(np.float64).max) / (2 * NB201.size)
    why = r"value 1e\+308 of cell 0 is too large for the landscape's sums over 15,625 cells"
    for call in (
        lambda: barrier_tree(NB201, v),
        lambda: a2m_barrier(NB201, v, 0, 1),
        lambda: barrier_census(NB201, v, {}, n_pairs=0, top_k=3, seed=0),
        lambda: flatness(NB201, v),
        lambda: distance_profile(NB201, v),
    ):
        with pytest.raises(ArgumentError, match=why):
            call()
    ok = np.full(NB201.size, limit * 0.99)
    ok[7] = -limit * 0.99
    assert np.isfinite(barrier_tree(NB201, ok).bottleneck(0, 7))
    key = MetricKey("cifar10", "ori-test", 200, "huge")
    path = save_table(Table(NB201, {(key, None): v}, source="huge"), tmp_path / "t.nb201")
    keys = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200", "--metric", "huge")
    for argv in (
        ("barrier", "0", "1"),
        ("census", "--pairs", "0", "--top-k", "3"),
        ("flatness",),
    ):
        code = main([*argv, *keys, "--higher-is-better", "--table", str(path)])
        out, err = capsys.readouterr()
        assert code == 2 and out == "", (argv, out)
        assert re.search(why, err) and err.count("\n") == 1, (argv, err)


def test_values_too_large_to_square_are_refused_where_a_variance_is_taken() -> None:
    # below the sums' limit, squares still overflowed: an autocorrelation of values near
    # 1e200 was NaN at every lag, the A²M level std inf, the FDC NaN, each with no word
    from nb201_flat.landscape import autocorrelation
    from nb201_flat.landscape import fitness_distance_correlation as fdc
    from nb201_flat.space import NB201

    rng = np.random.default_rng(0)
    big = rng.uniform(1e200, 2e200, NB201.size)
    for call in (
        lambda: autocorrelation(NB201, big, seed=0),
        lambda: fdc(NB201, big),
        lambda: a2m_barrier(NB201, big, 0, 1),
    ):
        with pytest.raises(ArgumentError, match=r"its squares are summed\); rescale the metric$"):
            call()
    fine = rng.uniform(1e149, 2e149, NB201.size)  # squares that fit: served
    assert np.all(np.isfinite(autocorrelation(NB201, fine, seed=0, max_lag=3)))
    assert np.isfinite(fdc(NB201, fine))
    assert np.isfinite(a2m_barrier(NB201, fine, 0, 1).level_std).all()
