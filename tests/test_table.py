"""Tables: keys, seed policies, tidy round trips, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError, FormatError, MissingValueError, UnknownKeyError
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table
from nb201_flat.types import as_rng

KEY = MetricKey("cifar100", "x-valid", 200)


def seeded_table() -> Table:
    """Three seeds; arch 0 has seeds 0,1 only, arch 1 has none at all."""
    n = NB201.size
    s0, s1, s2 = np.full(n, 50.0), np.full(n, 60.0), np.full(n, 70.0)
    s2[0] = np.nan
    for s in (s0, s1, s2):
        s[1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # arch 1 has no seed at all
        mean = np.nanmean(np.stack([s0, s1, s2]), axis=0)
    data = {(KEY, None): mean, (KEY, 0): s0, (KEY, 1): s1, (KEY, 2): s2}
    data[(MetricKey("cifar100", "x-test", 200), None)] = np.arange(n, dtype=float)
    return Table(NB201, data, source="test")


def test_keys_seeds_and_info() -> None:
    t = seeded_table()
    assert t.keys() == [MetricKey("cifar100", "x-test", 200), KEY]
    assert t.seeds(KEY) == [0, 1, 2]
    info = t.info()
    row = info[info.split == "x-valid"].iloc[0]
    assert row.archs == NB201.size - 1 and row.seeds == "0,1,2" and bool(row["mean"])


def test_seed_policies() -> None:
    t = seeded_table()
    assert t.vector("cifar100", "x-valid", 200)[2] == 60.0
    assert t.vector("cifar100", "x-valid", 200, seed_policy=2)[2] == 70.0
    r1 = t.vector("cifar100", "x-valid", 200, seed_policy="random", rng=7)
    r2 = t.vector("cifar100", "x-valid", 200, seed_policy="random", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(r1, r2)
    assert np.isnan(r1[1])  # nothing stored: stays missing
    assert r1[0] in (50.0, 60.0)  # only its present seeds are drawn
    assert set(np.unique(r1[2:])) == {50.0, 60.0, 70.0}
    # uniform over the present seeds
    counts = pd.Series(r1[2:]).value_counts(normalize=True)
    assert np.allclose(counts.values, 1 / 3, atol=0.02)
    # a missing or wrong argument is an ArgumentError; a seed the table lacks, a lookup error
    with pytest.raises(ArgumentError, match="rng="):
        t.vector("cifar100", "x-valid", 200, seed_policy="random")
    with pytest.raises(UnknownKeyError, match="seed 5 is not stored"):
        t.vector("cifar100", "x-valid", 200, seed_policy=5)
    # one seed-policy rule (table.policy_seeds), its fix in the names a user types
    with pytest.raises(UnknownKeyError, match=r"use seed_policy='mean'$"):
        t.vector("cifar100", "x-valid", 200, seed_policy=5)
    with pytest.raises(ArgumentError, match="seed policy must be 'mean', 'random' or an int"):
        t.vector("cifar100", "x-valid", 200, seed_policy=1.0)  # type: ignore[arg-type]
    with pytest.raises(UnknownKeyError, match="no per-seed values"):
        t.vector("cifar100", "x-test", 200, seed_policy="random", rng=0)


def test_mean_from_seeds_when_no_mean_row() -> None:
    t = seeded_table()
    data = {k: v for k, v in t.data.items() if k != (KEY, None)}
    t2 = Table(NB201, data)
    v = t2.vector("cifar100", "x-valid", 200)
    assert v[0] == 55.0 and v[2] == 60.0 and np.isnan(v[1])


def test_value_and_record() -> None:
    t = seeded_table()
    assert t.value(11472, "cifar100", "x-test", 200) == 11472.0
    assert t.value("0", "cifar100", "x-valid", 200, seed_policy="random", rng=1) in (50.0, 60.0)
    # never measured: an error naming what is served, not a NaN (issue 10)
    with pytest.raises(MissingValueError, match="never measured"):
        t.value(1, "cifar100", "x-valid", 200, seed_policy="random", rng=1)
    with pytest.raises(ArgumentError, match="needs rng="):
        t.value("0", "cifar100", "x-valid", 200, seed_policy="random")
    rec = t.record(3)
    assert rec["index"] == 3 and rec["cifar100/x-test@200ep:accuracy"] == 3.0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("cifar10", "x-valid", 200), "unknown dataset 'cifar10'.*cifar100"),
        (("cifar100", "valid", 200), "unknown split 'valid' for dataset=cifar100.*x-test, x-valid"),
        (("cifar100", "x-valid", 12), "unknown epochs 12.*200"),
        (("cifar100", "x-valid", 200, "loss"), "unknown metric 'loss'.*accuracy"),
    ],
)
def test_unknown_keys_list_what_exists(args: tuple, fragment: str) -> None:
    with pytest.raises(UnknownKeyError, match=fragment):
        seeded_table().vector(*args)


@pytest.mark.parametrize("epochs", ["200", 12.5, True, None])
def test_epochs_are_an_int_by_the_int_rule(epochs: object) -> None:
    # "200" said "unknown epochs '200' ... (did you mean '200'?)", 12.5 "unknown epochs 12.5"
    t = seeded_table()
    with pytest.raises(
        ArgumentError, match=r"^epochs must be an integer, got .*; this table has 200$"
    ):
        t.vector("cifar100", "x-test", epochs)  # type: ignore[arg-type]
    # a whole number of another type is that int, as everywhere in the package
    want = t.vector("cifar100", "x-test", 200).tobytes()
    for same in (200.0, np.int64(200)):
        assert t.vector("cifar100", "x-test", same).tobytes() == want  # type: ignore[arg-type]


def test_cifar10_has_no_validation_split_hint() -> None:
    # given where the table holds cifar10-valid x-valid (test_api_edges_notebook: not else)
    zeros = np.zeros(NB201.size)
    keys = (MetricKey("cifar10", "ori-test", 200), MetricKey("cifar10-valid", "x-valid", 200))
    t = Table(NB201, {(k, None): zeros for k in keys})
    with pytest.raises(UnknownKeyError, match="cifar10-valid"):
        t.vector("cifar10", "x-valid", 200)


def test_vectors_are_read_only() -> None:
    v = seeded_table().vector("cifar100", "x-test", 200)
    with pytest.raises(ValueError, match="read-only"):
        v[0] = 1.0


def test_tidy_round_trip() -> None:
    t = seeded_table()
    df = t.to_tidy()
    assert list(df.columns) == [
        "index",
        "arch",
        "dataset",
        "split",
        "epochs",
        "seed",
        "metric",
        "value",
    ]
    t2 = Table.from_tidy(df)
    assert t2.keys() == t.keys()
    for k, v in t.data.items():
        np.testing.assert_array_equal(t2.data[k], v)
    # rows located by arch when there is no index column
    t3 = Table.from_tidy(df.drop(columns="index").sample(frac=1.0, random_state=0))
    for k, v in t.data.items():
        np.testing.assert_array_equal(t3.data[k], v)


def test_from_tidy_errors() -> None:
    base = pd.DataFrame(
        {
            "index": [0, 1],
            "dataset": "d",
            "split": "s",
            "epochs": 200,
            "metric": "accuracy",
            "value": [1.0, 2.0],
        }
    )
    with pytest.raises(FormatError, match="lacks column"):
        Table.from_tidy(base.drop(columns="value"))
    with pytest.raises(FormatError, match="row 1 and row 3 both hold a value for index 0"):
        Table.from_tidy(pd.concat([base, base.iloc[:1]]))
    with pytest.raises(
        FormatError, match=r"99999 is out of range \(the space.s cells are 0..15624\)"
    ):
        Table.from_tidy(base.assign(index=[0, 99999]))
    with pytest.raises(FormatError, match="not in the official index order"):
        Table.from_tidy(base.assign(arch=[NB201.arch(1).to_str(), NB201.arch(0).to_str()]))
    with pytest.raises(FormatError, match=r"row 1, column 'arch': '\|x~0\|' is not a cell str"):
        Table.from_tidy(base.drop(columns="index").assign(arch=["|x~0|", "|y~0|"]))
    with pytest.raises(FormatError, match="non-numeric"):
        Table.from_tidy(base.assign(value=["a", "b"]))


def test_other_space_table() -> None:
    space = Space(("none", "conv"), 3)
    df = pd.DataFrame(
        {
            "index": range(8),
            "dataset": "d",
            "split": "s",
            "epochs": 5,
            "metric": "accuracy",
            "value": np.arange(8.0),
        }
    )
    t = Table.from_tidy(df, space=space)
    assert t.value("|conv~0|+|conv~0|conv~1|", "d", "s", 5) == 7.0


def test_value_and_seed_policy_names_and_their_deprecated_spellings() -> None:
    t = seeded_table()
    assert t.value(11472, "cifar100", "x-test", 200) == 11472.0
    assert t.value("0", "cifar100", "x-valid", 200, seed_policy="random", rng=1) in (50.0, 60.0)
    with pytest.warns(DeprecationWarning, match="Table.value"):
        assert t.query(11472, "cifar100", "x-test", 200) == 11472.0
    with pytest.warns(DeprecationWarning, match="seed_policy"):
        old = t.vector("cifar100", "x-valid", 200, seed=0)
    np.testing.assert_array_equal(old, t.vector("cifar100", "x-valid", 200, seed_policy=0))
    with pytest.raises(ArgumentError, match="seed_policy= only"):
        t.vector("cifar100", "x-valid", 200, seed=0, seed_policy=0)


def test_a_key_has_one_text_form_and_label_is_its_deprecated_alias() -> None:
    key = MetricKey("cifar100", "x-test", 200)
    assert str(key) == "cifar100/x-test@200ep:accuracy"
    with pytest.warns(DeprecationWarning, match=r"str\(key\)"):
        assert key.label == str(key)


@pytest.mark.parametrize("bad", [None, True, 1.5, "0"])
def test_the_one_rng_helper_refuses_what_cannot_be_reproduced(bad: object) -> None:
    with pytest.raises(ArgumentError, match="pass a fixed seed"):
        as_rng(bad)  # type: ignore[arg-type]
    gen = np.random.default_rng(3)
    assert as_rng(gen) is gen
    assert as_rng(np.int64(3)).integers(1000) == np.random.default_rng(3).integers(1000)


def test_the_rng_helper_refuses_a_negative_seed_in_its_own_error() -> None:
    # numpy's refusal is a bare ValueError: the CLI would print a traceback (census --seed -1)
    with pytest.raises(ArgumentError, match="seed must be a non-negative int, got -1"):
        as_rng(-1)


@pytest.mark.parametrize("bad", [None, True, np.bool_(True), 1.5, 5.0, "0", -1, np.int64(-2)])
def test_the_rng_helper_reads_seeds_by_the_one_seed_rule(bad: object) -> None:
    # as_rng had its own copy of errors.check_seed's rule, with other messages
    from nb201_flat.errors import check_seed

    with pytest.raises(ArgumentError) as rule:
        check_seed(bad)
    with pytest.raises(ArgumentError) as rng:
        as_rng(bad)  # type: ignore[arg-type]
    prefix = str(rule.value).split(";")[0]
    assert str(rng.value).startswith(prefix + "; pass a fixed seed"), str(rng.value)
    assert as_rng(np.uint64(2**63)).integers(10) == np.random.default_rng(2**63).integers(10)


def test_with_vector_adds_or_replaces_without_touching_the_original() -> None:
    t = seeded_table()
    new_key = MetricKey("cifar100", "x-test", 12)
    t2 = t.with_vector(new_key, np.arange(NB201.size))
    assert new_key in t2 and new_key not in t
    assert t2.vector_for(new_key)[7] == 7.0 and t2.source == t.source
    t3 = t2.with_vector(new_key, np.arange(NB201.size) + 0.0, seed=0)  # the mean's own
    assert t3.seeds(new_key) == [0] and t3.vector_for(new_key, seed_policy=0)[7] == 7.0
    assert t2.seeds(new_key) == []


def test_a_key_the_table_lacks_is_named_not_a_raw_numpy_error() -> None:
    # vector_for and frame used to fail in np.stack ("need at least one array to stack")
    t = seeded_table()
    for bad in (MetricKey("cifar10", "ori-test", 200), "cifar100"):
        with pytest.raises(UnknownKeyError, match="not a key of this table"):
            t.vector_for(bad)  # type: ignore[arg-type]
    with pytest.raises(UnknownKeyError, match="not a key of this table"):
        t.frame([MetricKey("cifar10", "ori-test", 200)])
    with pytest.raises(ArgumentError, match="^keys must be a MetricKey or"):  # no key's form
        t.frame(["cifar100"])  # type: ignore[list-item]


def test_rng_applies_only_to_the_random_policy_and_frame_takes_it() -> None:
    t = seeded_table()
    # rng= under "mean" or a fixed seed used to be ignored (the CLI refuses --rng-seed there)
    for policy in ("mean", 1, None):
        with pytest.raises(ArgumentError, match="rng= applies only"):
            t.vector("cifar100", "x-valid", 200, seed_policy=policy, rng=0)
    with pytest.raises(ArgumentError, match="rng= applies only"):
        t.value(5, "cifar100", "x-valid", 200, rng=0)
    # frame's "random" needed an rng= that frame did not take
    df = t.frame([KEY], seed_policy="random", rng=3)
    expected = t.vector_for(KEY, seed_policy="random", rng=3)
    np.testing.assert_array_equal(df[str(KEY)].to_numpy(), expected)


@pytest.mark.parametrize(
    ("key", "values", "seed", "fragment"),
    [
        ("cifar100", np.zeros(NB201.size), None, "MetricKey"),
        (KEY, np.zeros(NB201.size), True, "seed must be"),
        (KEY, np.zeros(NB201.size), -1, "seed must be"),
        (KEY, np.full(NB201.size, np.inf), None, "infinite"),
        (KEY, ["x"] * NB201.size, None, "numbers"),
    ],
)
def test_with_vector_checks_what_it_stores(
    key: object, values: object, seed: object, fragment: str
) -> None:
    # a str key broke keys() later; seed True / -1 and inf values were stored as given
    with pytest.raises(ArgumentError, match=fragment):
        seeded_table().with_vector(key, values, seed=seed)  # type: ignore[arg-type]
    t = seeded_table()
    same_mean = t.vector_for(KEY)  # a seed of the mean's own values leaves it their mean
    assert t.with_vector(KEY, same_mean, seed=np.int64(4)).seeds(KEY) == [0, 1, 2, 4]


def test_the_constructor_checks_its_keys_and_makes_float_vectors() -> None:
    space = Space(("a", "b"), 3)
    key = MetricKey("toy", "x-valid", 12)
    # a str key used to fail later in keys() with a raw AttributeError
    for bad in (("toy", None), (key, -1), (key, True), key):
        with pytest.raises(FormatError, match="keyed by"):
            Table(space, {bad: np.zeros(8)})  # type: ignore[dict-item]
    given = {(key, None): np.arange(8)}
    t = Table(space, given)  # type: ignore[dict-item]
    assert t.vector_for(key).dtype == np.float64 and given[(key, None)].dtype.kind == "i"
    with pytest.raises(FormatError, match="numbers"):
        Table(space, {(key, None): ["x"] * 8})  # type: ignore[dict-item]


def test_a_series_is_stored_by_its_index_by_the_constructor_and_with_vector() -> None:
    # a shuffled Series was stored by position: every value under the wrong architecture
    space = Space(("a", "b"), 3)
    v = np.arange(8.0) * 1.5
    shuffled = pd.Series(v).sample(frac=1, random_state=0)
    given = {(KEY, None): shuffled}
    assert Table(space, given).vector_for(KEY).tobytes() == v.tobytes()  # type: ignore[arg-type]
    assert Table(space, {}).with_vector(KEY, shuffled).vector_for(KEY).tobytes() == v.tobytes()
    short = shuffled.iloc[:-1]
    with pytest.raises(ArgumentError, match=r"\(a pandas Series\) must be indexed by the 8 arch"):
        Table(space, {(KEY, None): short})  # type: ignore[dict-item]
    with pytest.raises(ArgumentError, match=r"its index lacks 1 of them"):
        Table(space, {}).with_vector(KEY, short)


@pytest.mark.parametrize("space", ["x", None, ("none", "conv")])
def test_the_constructor_refuses_a_space_that_is_not_a_space(space: object) -> None:
    # Table("x", {...}) failed with a raw AttributeError ('str' object has no attribute 'size')
    data = {(MetricKey("toy", "x-valid", 12), None): np.ones(3)}
    with pytest.raises(ArgumentError, match="^space must be a Space, got .*; pass nb201_flat"):
        Table(space, data)  # type: ignore[arg-type]


def test_the_constructor_refuses_an_infinite_vector() -> None:
    # Table(space, {key: vec}) built in Python kept an inf, and every mean, rank and
    # neighbourhood statistic read from it was then wrong without a word
    space = Space(("a", "b"), 3)
    key = MetricKey("toy", "x-valid", 12, "loss")
    vec = np.zeros(8)
    vec[[3, 5]] = [np.inf, -np.inf]
    want = (
        r"^vector for toy/x-valid@12ep:loss \(seed 2\) holds 2 infinite values \(first at "
        r"architecture 3\): a table holds finite numbers; use NaN for a value not measured$"
    )
    with pytest.raises(FormatError, match=want):
        Table(space, {(key, 2): vec})
    with pytest.raises(FormatError, match=r"\(seed mean\) holds 1 infinite value \(first at"):
        Table(space, {(key, None): [0.0] * 7 + [float("inf")]})  # type: ignore[dict-item]
    ok = Table(space, {(key, None): np.where(np.isinf(vec), np.nan, vec)})  # NaN: not measured
    assert np.isnan(ok.vector_for(key)).sum() == 2


def test_with_vector_names_the_infinite_entries_as_the_constructor() -> None:
    values = np.zeros(NB201.size)
    values[[7, 9, 11]] = np.inf
    with pytest.raises(ArgumentError) as exc:
        seeded_table().with_vector(KEY, values, seed=1)
    assert str(exc.value) == (
        f"vector for {KEY} (seed 1) holds 3 infinite values (first at architecture 7): "
        "a table holds finite numbers; use NaN for a value not measured"
    )


def test_frame_keys_are_a_list_of_keys() -> None:
    t = seeded_table()
    # "cifar100" used to be read as seven one-letter keys, one MetricKey as a raw TypeError
    for bad in ("cifar100", KEY):
        with pytest.raises(ArgumentError, match="list of MetricKeys"):
            t.frame(bad)  # type: ignore[arg-type]
    assert t.frame([KEY]).columns.tolist() == ["arch", str(KEY)]


@pytest.mark.parametrize(
    "args",
    [
        ("cifar10", "ori-test", "200"),
        ("cifar10", "ori-test", 2.5),
        ("cifar10", "", 200),
        (None, "x", 1),
    ],
)
def test_a_metric_key_checks_its_parts(args: tuple[object, ...]) -> None:
    # epochs "200" used to make a key equal to nothing, whose sorting then failed (str < int)
    with pytest.raises(ArgumentError, match="MetricKey"):
        MetricKey(*args)  # type: ignore[arg-type]
    assert MetricKey("cifar10", "ori-test", np.int64(200)) == MetricKey("cifar10", "ori-test", 200)
    assert type(MetricKey("cifar10", "ori-test", 200.0).epochs) is int


def test_an_int_beyond_a_float_is_refused_in_one_line() -> None:
    # np.array([10**400], float64) raised a bare OverflowError (a traceback in the CLI)
    key = MetricKey("cifar10", "ori-test", 200)
    huge = [10**400] * NB201.size
    with pytest.raises(FormatError, match="must hold numbers within a float's range"):
        Table(NB201, {(key, None): huge})
    base = Table(NB201, {(key, None): np.zeros(NB201.size)})
    with pytest.raises(ArgumentError, match="must be numbers within a float's range"):
        base.with_vector(MetricKey("cifar10", "ori-test", 200, "loss"), huge)


def test_an_array_is_no_seed_policy_and_is_refused_in_one_line() -> None:
    # ``array in ("mean", "random")`` raised numpy's ambiguous-truth ValueError
    t = Table(NB201, {(KEY, None): np.zeros(NB201.size)})
    with pytest.raises(ArgumentError, match="seed policy must be 'mean', 'random' or an int"):
        t.vector_for(KEY, seed_policy=np.array([0, 1]))  # type: ignore[arg-type]


def test_validate_names_the_dtype_of_a_vector_put_in_after_construction() -> None:
    t = Table(NB201, {(KEY, None): np.zeros(NB201.size)})
    t.data[(KEY, None)] = np.zeros(NB201.size, dtype=np.float32)
    with pytest.raises(FormatError, match="must be a float64 array, got a float32 array"):
        t.validate()


def test_container_protocol_rows_are_archs_keys_are_columns() -> None:
    # `("cifar100", "x-test", 200, "accuracy") in table` was silently False, the tuple being
    # the arguments that table.vector takes
    t = seeded_table()
    key = t.keys()[0]
    assert len(t) == NB201.size and list(t) == t.keys()
    assert key in t
    assert (key.dataset, key.split, key.epochs, key.metric) in t
    assert (key.dataset, key.split, key.epochs) in t
    assert (key.dataset, key.split, key.epochs, "no-such-metric") not in t
    for bad in [key.dataset, (key, None), [key.dataset, key.split, key.epochs], None]:
        with pytest.raises(ArgumentError, match=r"^a table holds MetricKeys: .* got "):
            assert bad not in t
    with pytest.raises(ArgumentError, match="MetricKey epochs must be"):
        assert (key.dataset, key.split, "200") not in t


def test_seeds_take_the_key_forms_that_in_takes() -> None:
    # `(dataset, split, epochs) in table` was accepted while table.seeds of it was refused
    t = seeded_table()
    short = (KEY.dataset, KEY.split, KEY.epochs)
    assert short in t and (*short, KEY.metric) in t
    assert t.seeds(short) == t.seeds((*short, KEY.metric)) == t.seeds(KEY) == [0, 1, 2]
    with pytest.raises(UnknownKeyError, match="unknown metric 'no-such-metric'"):
        t.seeds((*short, "no-such-metric"))  # [] read "only the mean is stored"
    with pytest.raises(ArgumentError, match="MetricKey epochs must be"):
        t.seeds((KEY.dataset, KEY.split, "200"))


def test_from_tidy_checks_arch_strings_by_row_on_every_path() -> None:
    # a frame was checked as a file was not: a malformed arch beside an index was reported as a
    # file not in the official index order, and a swapped one named no row and no source
    bad = "|foo~0|+|bar~0|baz~1|"
    base = pd.DataFrame(
        {
            "index": [0, 1],
            "arch": [NB201.arch(0).to_str(), bad],
            "dataset": "d",
            "split": "s",
            "epochs": 200,
            "metric": "accuracy",
            "value": [1.0, 2.0],
        }
    )
    with pytest.raises(FormatError) as exc:
        Table.from_tidy(base, source="mine")
    assert str(exc.value).startswith(
        f"tidy table 'mine': row 2, column 'arch': {bad!r} is not a cell string ("
    )
    assert str(exc.value).endswith("; fix the frame") and "index order" not in str(exc.value)
    swapped = base.assign(arch=[NB201.arch(1).to_str(), NB201.arch(0).to_str()])
    with pytest.raises(FormatError) as exc:
        Table.from_tidy(swapped, source="mine")
    assert str(exc.value).startswith("tidy table 'mine': row 1, column 'arch': '|")
    assert str(exc.value).endswith(
        " names cell 1, but the row's index is 0 (rows not in the official index order? drop "
        "the index column to locate them by arch); fix the frame"
    )
    # a spelling of the same cell (spaces around it) is that cell, not another order
    spaced = base.assign(arch=[NB201.arch(0).to_str(), f" {NB201.arch(1).to_str()} "])
    assert Table.from_tidy(spaced).vector("d", "s", 200)[:2].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # an array's `in` among the stored names raised numpy's ambiguous-truth ValueError
        (lambda t: t.key(np.zeros(2), "x-valid", 200), "^dataset must be a str, got array"),
        (lambda t: t.vector("cifar100", np.array([]), 200), "^split must be a str, got array"),
        (lambda t: t.value(3, "cifar100", "x-valid", 200, seed_policy=np.zeros(2)), "^seed policy"),
        # anything but a key (or its tuple, as `in` takes) matched no key: no seeds, as if
        # only the mean were stored
        (
            lambda t: t.seeds(("cifar100", "x-valid")),
            r"^key must be a MetricKey or \(dataset, split, epochs\[, metric\]\), got \(",
        ),
        (lambda t: t.seeds(np.zeros(4)), "^key must be a MetricKey or .*, got array"),
        (lambda t: t.frame(3), "^keys must be a list of MetricKeys, got 3$"),  # list(3)
        # each raised a bare TypeError or AttributeError inside
        (lambda t: Table.from_tidy(None), "^df must be a pandas DataFrame, got None$"),
        (lambda t: Table.from_tidy(t.to_tidy(), space="nb201"), "^space must be a Space"),
        (lambda t: Table.from_tidy(t.to_tidy(), meta=3), "^meta must be a mapping"),
        (lambda t: Table.from_tidy(t.to_tidy(), check_arch=np.ones(2)), "^check_arch must be"),
    ],
)
def test_a_wrong_kind_of_argument_names_its_parameter(call: object, match: str) -> None:
    t = seeded_table()
    with pytest.raises((ArgumentError, UnknownKeyError), match=match) as err:
        call(t)  # type: ignore[operator]
    assert "\n" not in str(err.value)


def test_a_refused_array_in_a_key_or_seed_is_quoted_on_one_line() -> None:
    t = seeded_table()
    for call in (
        lambda: MetricKey(np.zeros((2, 2)), "x", 1),  # type: ignore[arg-type]
        lambda: t.with_vector(KEY, np.zeros(NB201.size), seed=np.zeros((2, 2))),  # type: ignore[arg-type]
        lambda: t.vector_for(np.zeros((2, 2))),  # type: ignore[arg-type]
    ):
        with pytest.raises((ArgumentError, UnknownKeyError), match="array") as err:
            call()
        assert "\n" not in str(err.value)


def test_the_constructor_leaves_the_callers_arrays_writable_and_keeps_its_own() -> None:
    # validate() froze the caller's float64 array in place: their next `v[i] = x` failed
    mine = np.linspace(0.0, 1.0, NB201.size)
    t = Table(NB201, {(KEY, None): mine})
    assert mine.flags.writeable
    mine[0] = 99.0  # the caller's array is theirs; the table's vector is unchanged
    stored = t.vector_for(KEY)
    assert stored[0] == 0.0 and not stored.flags.writeable


def test_frame_takes_each_key_in_the_forms_in_takes() -> None:
    # `(dataset, split, epochs) in table` was True while frame([...]) of it was "not a key"
    t = seeded_table()
    short = (KEY.dataset, KEY.split, KEY.epochs)
    assert short in t
    for given in (short, (*short, KEY.metric), KEY):
        assert t.frame([given]).columns.tolist() == ["arch", str(KEY)]
    with pytest.raises(ArgumentError, match=r"got \('cifar100', 'x-valid', 200\); pass \[key\]"):
        t.frame(short)  # type: ignore[arg-type]


def test_vector_for_takes_a_key_tuple_as_in_does() -> None:
    # vector_for(("cifar100", "x-valid", 200)) said "is not a key of this table"
    t = seeded_table()
    short = (KEY.dataset, KEY.split, KEY.epochs)
    assert short in t
    assert np.array_equal(t.vector_for(short), t.vector_for(KEY), equal_nan=True)  # type: ignore[arg-type]
    with pytest.raises(
        UnknownKeyError, match=r"^cifar10/ori-test@200ep:accuracy is not a key of this"
    ):
        t.vector_for(("cifar10", "ori-test", 200))  # type: ignore[arg-type]


def test_repr_counts_the_archs_measured_not_the_size_of_the_space() -> None:
    # a retraining table of one trained cell said "15625 archs"
    one = np.full(NB201.size, np.nan)
    one[11472] = 93.0
    t = Table(NB201, {(KEY, None): one}, source="retrained")
    assert repr(t) == "<Table 'retrained': 1 of 15625 archs measured, 1 keys over cifar100>"
    other = MetricKey("cifar10", "ori-test", 200)
    both = t.with_vector(other, np.where(np.arange(NB201.size) < 3, 1.0, np.nan))
    assert repr(both).startswith("<Table 'retrained': 4 of 15625 archs measured, 2 keys")


def test_a_masked_array_s_masked_entries_are_unmeasured_everywhere() -> None:
    # the subclass was stored as itself (its value read "never measured" with numpy's warning)
    # while the landscape read the numbers under the mask as measured values
    import warnings

    from nb201_flat.landscape import neighbourhood_score
    from nb201_flat.space import Space

    space = Space(("a", "b", "c"), 3)
    key = MetricKey("toy", "x-valid", 12)
    raw = np.arange(27.0)
    masked = np.ma.masked_array(raw, mask=raw < 2)
    plain = np.where(raw < 2, np.nan, raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "converting a masked element to nan"
        table = Table(space, {(key, None): masked})
        for vec in (table.vector_for(key), table.with_vector(key, masked).vector_for(key)):
            assert type(vec) is np.ndarray
            np.testing.assert_array_equal(vec, plain)
        ints = np.ma.masked_array(np.arange(27), mask=np.arange(27) < 2)
        np.testing.assert_array_equal(Table(space, {(key, None): ints}).vector_for(key), plain)
        np.testing.assert_array_equal(
            neighbourhood_score(space, masked, 1), neighbourhood_score(space, plain, 1)
        )


def test_seeds_of_a_key_the_table_lacks_is_an_error_not_no_seeds() -> None:
    # [] reads "only the mean is stored": a typo in the split said so
    from nb201_flat.errors import UnknownKeyError
    from nb201_flat.testing import synthetic_table

    table = synthetic_table()
    key = next(iter(table))
    assert isinstance(table.seeds(key), list)
    with pytest.raises(UnknownKeyError, match="unknown split 'x-tset'"):
        table.seeds(MetricKey(key.dataset, "x-tset", key.epochs, key.metric))


def test_curves_of_another_space_are_refused() -> None:
    # row i of NB201's curves was read as this space's cell i (or an IndexError the other way)
    from nb201_flat.curves import Curves

    small = Space(("none", "conv"), 2)
    curves = Curves(NB201.size, {(KEY, None): np.zeros((NB201.size, 3))})
    with pytest.raises(ArgumentError, match="curves cover 15,625 architectures, the space has 2"):
        Table(small, {(KEY, None): np.zeros(small.size)}, curves=curves)


def test_a_misspelt_policy_with_rng_is_named_as_misspelt() -> None:
    # "rng= applies only with seed_policy='random', not 'Random'; drop rng=" led to a second
    # error once followed
    t = Table(NB201, {(KEY, 0): np.zeros(NB201.size), (KEY, 1): np.ones(NB201.size)})
    with pytest.raises(ArgumentError) as exc:
        t.vector("cifar100", "x-valid", 200, seed_policy="Random", rng=0)
    assert "'Random'" in str(exc.value) and "drop rng" not in str(exc.value), str(exc.value)
    with pytest.raises(ArgumentError, match="rng= applies only with seed_policy='random'"):
        t.vector("cifar100", "x-valid", 200, seed_policy="mean", rng=0)


def test_a_seed_vector_that_leaves_the_stored_mean_outside_its_seeds_is_refused() -> None:
    # the mean row was served as it was: 7.0 beside the only seed's 0.0, a table from_tidy
    # refuses once written out
    n = NB201.size
    f = np.arange(n, dtype=float)
    t = Table(NB201, {}).with_vector(KEY, f)  # the mean row alone
    with pytest.raises(ArgumentError, match=r"the mean over seeds of index 1 at .* is 1\.0, out"):
        t.with_vector(KEY, np.zeros(n), seed=0)
    # seeds first, then a mean within them; a seed replaced within the mean's range
    seeded = Table(NB201, {}).with_vector(KEY, f + 0.5, seed=0).with_vector(KEY, f - 0.5, seed=1)
    both = seeded.with_vector(KEY, f)
    np.testing.assert_array_equal(both.vector_for(KEY), f)
    # a seed replaced so that the mean still is the seeds' mean (as exactly as before: f + 0.52
    # was let through by the rounding slack, an exact mean served stale), or where none is stored
    assert both.with_vector(KEY, f + 0.5, seed=0).seeds(KEY) == [0, 1]
    nan_mean = both.with_vector(KEY, np.where(f == 0, np.nan, f))
    assert nan_mean.with_vector(KEY, np.where(f == 0, 7.0, f), seed=2).seeds(KEY) == [0, 1, 2]
    # a seed, a new seed or a mean that leaves the mean outside the seeds, or within their
    # range but no longer their mean (f + 0.25 at index 0 was served as f): refused, naming
    # the fix
    for seed, values in ((0, f - 2.0), (0, f + 1.0), (2, f + 0.4), (0, f + 0.52)):
        with pytest.raises(ArgumentError, match="the stored mean would be stale; build") as exc:
            both.with_vector(KEY, values, seed=seed)
        assert "\n" not in str(exc.value)
    with pytest.raises(ArgumentError, match="a stored mean is the mean of the seeds stored"):
        both.with_vector(KEY, np.full(n, -5.0))  # a new mean row, outside them
