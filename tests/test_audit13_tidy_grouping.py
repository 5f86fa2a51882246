"""Audit 13: Table.from_tidy groups a tidy frame's rows on integer codes of its key names,
not on a Python string per row (``astype(str)`` over NB201's 587,720 rows took 0.4 s of an
import), with the same groups, group order, rows and error messages whatever the columns'
dtype: categorical (a reader's, its categories in order of appearance), object or string."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import FormatError
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "skip_connect", "conv"), 3)
KEY_COLUMNS = ("dataset", "split", "metric")


def _arrow_string() -> str | None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    return "string[pyarrow]"


def _flavours() -> list[Any]:
    """How a key column arrives: a reader's categorical (categories unsorted, one unused), a
    frame built of Python strings, pandas' string dtypes, and this pandas' own ``str``."""
    arrow = _arrow_string()
    return [
        pytest.param("category", id="categorical-unsorted"),
        pytest.param(object, id="object"),
        pytest.param("string[python]", id="string-python"),
        pytest.param(
            arrow or "string[python]",
            id="string-pyarrow",
            marks=pytest.mark.skipif(arrow is None, reason="pyarrow is not installed"),
        ),
        pytest.param(str, id="str"),
    ]


def _frame() -> pd.DataFrame:
    """Rows of several keys and seeds, interleaved, with names whose order of appearance is not
    their sorted order (capitals sort first, 'é' last) and a mean row per cell of one key."""
    rows: list[dict[str, Any]] = []
    names = [
        ("zeta-set", "x-valid", 12, "accuracy"),
        ("Cifar", "ori-test", 200, "loss"),
        ("cifar10", "ori-test", 200, "accuracy"),
        ("é-set", "train", 12, "accuracy"),
        ("cifar10", "ori-test", 12, "accuracy"),
    ]
    rng = np.random.default_rng(13)
    for cell in range(SPACE.size):
        for ds, sp, ep, me in names:
            for seed in (777, 111):
                value = float(rng.uniform(10, 90))
                rows.append(
                    {
                        "index": cell,
                        "dataset": ds,
                        "split": sp,
                        "epochs": ep,
                        "metric": me,
                        "seed": seed,
                        "value": value,
                    }
                )
    df = pd.DataFrame(rows)
    seeded = df[(df["dataset"] == "cifar10") & (df["epochs"] == 200)]
    means = seeded.groupby("index", sort=False).agg(
        {
            "dataset": "first",
            "split": "first",
            "epochs": "first",
            "metric": "first",
            "value": "mean",
        }
    )
    means = means.reset_index().assign(seed=pd.NA)
    df = pd.concat([df, means], ignore_index=True)
    df["seed"] = df["seed"].astype("Int64")
    return df.sample(frac=1.0, random_state=13).reset_index(drop=True)


def _as(df: pd.DataFrame, dtype: Any) -> pd.DataFrame:
    out = df.copy()
    for c in KEY_COLUMNS:
        if dtype == "category":  # categories in reverse order of appearance, one unused
            seen = list(dict.fromkeys(out[c].tolist()))
            out[c] = pd.Categorical(out[c], categories=[*reversed(seen), "unused-name"])
        else:
            out[c] = out[c].astype(dtype)
    return out


def _summary(table: Table) -> list[tuple[Any, ...]]:
    """Every stored vector, in the table's order, with its key and seed."""
    return [(key, seed, vec) for (key, seed), vec in table.data.items()]


def _assert_same(a: Table, b: Table) -> None:
    sa, sb = _summary(a), _summary(b)
    assert [(k, s) for k, s, _ in sa] == [(k, s) for k, s, _ in sb]
    for (_, _, va), (_, _, vb) in zip(sa, sb, strict=True):
        np.testing.assert_array_equal(va, vb)
    keys = a.keys()
    assert keys == b.keys()
    assert [a.seeds(k) for k in keys] == [b.seeds(k) for k in keys]
    assert a.meta == b.meta


def test_sorted_codes_rank_names_in_str_order_for_unsorted_categories() -> None:
    from nb201_flat.table import _sorted_codes

    col = pd.Series(pd.Categorical(["b", "a", "é", "B", "b"], categories=["é", "b", "B", "a"]))
    names, codes = _sorted_codes(col)
    assert names == ["B", "a", "b", "é"]  # code point order, as sorting the strings
    assert codes.tolist() == [2, 1, 3, 0, 2]


@pytest.mark.parametrize("dtype", _flavours())
def test_sorted_codes_agree_for_every_dtype(dtype: Any) -> None:
    from nb201_flat.table import _sorted_codes

    df = _as(_frame(), dtype)
    for c in KEY_COLUMNS:
        names, codes = _sorted_codes(df[c])
        assert names == sorted(names)
        assert set(names) - set(df[c].tolist()) <= {"unused-name"}  # a category of no row
        assert [names[i] for i in codes] == [str(x) for x in df[c].tolist()]


def test_from_tidy_groups_on_integer_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grouping's key columns are integers: no object column of a string per row."""
    df = _as(_frame(), "category")
    seen: list[dict[str, str]] = []
    groupby = pd.DataFrame.groupby

    def spy(self: pd.DataFrame, by: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(by, list) and "dataset" in by:
            seen.append({c: self[c].dtype.kind for c in by})
        return groupby(self, by, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "groupby", spy)
    Table.from_tidy(df, space=SPACE)
    assert seen, "from_tidy no longer groups with DataFrame.groupby: update this spy"
    assert all(kind in "iu" for kinds in seen for kind in kinds.values()), seen


@pytest.mark.parametrize("dtype", _flavours())
def test_from_tidy_same_table_for_every_key_dtype(dtype: Any) -> None:
    df = _frame()
    reference = Table.from_tidy(_as(df, object), space=SPACE)
    table = Table.from_tidy(_as(df, dtype), space=SPACE)
    _assert_same(table, reference)
    keys = [k for k, s in reference.data]
    assert keys == sorted(keys, key=lambda k: (k.dataset, k.split, k.epochs, k.metric))
    assert reference.seeds(keys[0]) == [111, 777]


@pytest.mark.parametrize("dtype", _flavours())
def test_two_rows_for_one_value_named_alike_for_every_dtype(dtype: Any) -> None:
    df = _frame()
    twice = pd.concat([df, df.iloc[[5]]], ignore_index=True)  # row 6 again, as the last row
    row = df.iloc[5]
    key = MetricKey(row["dataset"], row["split"], int(row["epochs"]), row["metric"])
    with pytest.raises(FormatError) as caught:
        Table.from_tidy(_as(twice, dtype), space=SPACE)
    assert str(caught.value) == (
        f"tidy table 'tidy': row 6 and row {len(twice)} both hold a value for index "
        f"{row['index']} at {key} seed {row['seed']}; keep one row each"
    )


@pytest.mark.parametrize("dtype", _flavours())
def test_mean_outside_its_seeds_named_alike_for_every_dtype(dtype: Any) -> None:
    df = _frame()
    mean_rows = np.flatnonzero(df["seed"].isna().to_numpy())
    df.loc[mean_rows[1], "value"] = 99.5  # above both its seeds, which lie in 10..90
    with pytest.raises(FormatError) as reference:
        Table.from_tidy(_as(df, object), space=SPACE)
    with pytest.raises(FormatError) as caught:
        Table.from_tidy(_as(df, dtype), space=SPACE)
    assert str(caught.value) == str(reference.value)
    assert f"row {mean_rows[1] + 1}" in str(caught.value)


def test_real_tidy_file_same_table_as_from_object_columns(shared_dir: Path) -> None:
    """NB201's own file, read as the importer reads it (categorical key columns), builds the
    table its frame with every column cast to object (the old grouping's input) builds."""
    from nb201_flat.figures.notebook import TIDY_NAME
    from nb201_flat.importers.tidy import read_tidy_frame

    df = read_tidy_frame(shared_dir / TIDY_NAME)
    assert isinstance(df["dataset"].dtype, pd.CategoricalDtype)  # the fast path is exercised
    as_objects = df.astype(object)
    table = Table.from_tidy(df, source="real")
    _assert_same(table, Table.from_tidy(as_objects, source="real"))
    assert len(table.data) == 40


def test_an_unused_category_that_is_no_name_is_no_fault() -> None:
    # pd.Categorical(['cifar10'] * 2, categories=['cifar10', 5]): a bare IndexError traceback
    # (the fault looked up among rows, none of which uses it)
    df = pd.DataFrame(
        {
            "index": [0, 1],
            "dataset": pd.Categorical(["cifar10"] * 2, categories=["cifar10", 5]),
            "split": "ori-test",
            "epochs": 200,
            "seed": None,
            "metric": "accuracy",
            "value": [50.0, 60.0],
        }
    )
    table = Table.from_tidy(df)
    assert table.vector("cifar10", "ori-test", 200)[:2].tolist() == [50.0, 60.0]
