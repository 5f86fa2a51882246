"""Issue 10 item 6: the tidy importer never coerces; every bad cell names row, column, value."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import FormatError
from nb201_flat.importers.tidy import read_tidy
from nb201_flat.space import NB201
from nb201_flat.table import TIDY_COLUMNS, MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)
HEADER = "index,arch,dataset,split,epochs,seed,metric,value\n"


def _row(index: str = "1", seed: str = "", epochs: str = "200", dataset: str = "cifar10") -> str:
    return f"{index},{NB201.arch(1).to_str()},{dataset},ori-test,{epochs},{seed},accuracy,93.5\n"


GOOD = _row(index="0").replace(NB201.arch(1).to_str(), NB201.arch(0).to_str())


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (_row(index="1.5"), "index", "1.5"),
        (_row(seed="-1"), "seed", "-1"),
        (_row(epochs="12.7"), "epochs", "12.7"),
        (_row(epochs="1e30"), "epochs", "1e30"),
        (_row(dataset=""), "dataset", ""),
        (_row(seed="1.5"), "seed", "1.5"),
        (_row(seed="12345678901234567890"), "seed", "12345678901234567890"),
        (_row(index="abc"), "index", "abc"),
    ],
)
def test_bad_cell_names_row_column_value(tmp_path: Path, row: str, column: str, value: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "row 2" in msg and f"'{column}'" in msg and repr(value)[1:-1] in msg, msg


def test_header_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER)
    with pytest.raises(FormatError, match="no rows"):
        read_tidy(path)


def test_bad_value_names_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row().replace("93.5", "abc"))
    with pytest.raises(FormatError, match=r"(?i)row.*abc"):
        read_tidy(path)


def test_clean_file_reads_exact_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    import gzip

    path.write_bytes(gzip.compress((HEADER + GOOD + _row(seed="777")).encode()))
    t = read_tidy(path)
    assert t.value(0, "cifar10", "ori-test", 200) == 93.5
    assert t.value(1, "cifar10", "ori-test", 200, seed_policy=777) == 93.5
    # cell 1 has no mean row beside cell 0's: no mean, as in the official files (its seed is
    # served by a seed policy)
    assert np.isnan(t.vector("cifar10", "ori-test", 200)[1])


def test_nan_value_is_a_missing_number_not_an_empty_cell(tmp_path: Path) -> None:
    # "nan" was read as an empty cell and refused with "write nan for a missing number"
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row().replace("93.5", "nan"))
    t = read_tidy(path)
    assert t.value(0, "cifar10", "ori-test", 200) == 93.5
    assert np.isnan(t.vector("cifar10", "ori-test", 200)[1])
    path.write_text(HEADER + GOOD + _row().replace("93.5", ""))
    with pytest.raises(FormatError, match="'value'.*is empty"):
        read_tidy(path)


def test_an_empty_value_pandas_wrote_names_how_to_write_nan(tmp_path: Path) -> None:
    # to_csv writes NaN as an empty cell: to_tidy(dropna=False).to_csv() is refused, and the
    # refusal said "write nan" without how
    vec = np.full(NB201.size, np.nan)
    vec[0] = 93.5
    path = tmp_path / "t.csv"
    Table(NB201, {(KEY, None): vec}).to_tidy(dropna=False).to_csv(path, index=False)
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    assert str(info.value) == (
        f"{path}: row 2 (line 3), column 'value': '' (or NA, null...) is empty (write nan for a "
        "missing number: pandas' to_csv(na_rep='nan')); fix the file"
    )


def test_a_nan_value_pandas_wrote_to_parquet_is_a_missing_number(tmp_path: Path) -> None:
    # to_parquet stores a NaN as a null: Table.to_tidy(dropna=False).to_parquet() was refused
    # with "is empty (write nan for a missing number)", which a parquet cannot say otherwise
    vec = np.full(NB201.size, np.nan)
    vec[[0, 5]] = [93.5, 91.0]
    path = tmp_path / "t.parquet"
    Table(NB201, {(KEY, None): vec}).to_tidy(dropna=False).to_parquet(path)
    back = read_tidy(path).vector("cifar10", "ori-test", 200)
    np.testing.assert_array_equal(back, vec)


@pytest.mark.parametrize("seed", ["NA", "null", "N/A", "nan", "NaN"])
def test_missing_seed_spellings_are_the_mean_over_seeds(tmp_path: Path, seed: str) -> None:
    # a seed NA (R's write.csv) was refused as "not an integer" when only "" was missing
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row(seed=seed))
    t = read_tidy(path)
    assert t.value(1, "cifar10", "ori-test", 200) == 93.5 and not t.seeds(KEY)


@pytest.mark.parametrize("dataset", ["NA", "null", "N/A"])
def test_missing_dataset_spellings_are_empty(tmp_path: Path, dataset: str) -> None:
    # a dataset NA was imported as a dataset named "NA"
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row(dataset=dataset))
    want = r"row 2 \(line 3\), column 'dataset': '' \(or NA, null...\) is empty"
    with pytest.raises(FormatError, match=want):
        read_tidy(path)


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan"])
def test_nan_spellings_of_a_value_are_missing_numbers(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row().replace("93.5", text))
    assert np.isnan(read_tidy(path).vector("cifar10", "ori-test", 200)[1])


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity"])
def test_infinite_value_is_refused(tmp_path: Path, text: str) -> None:
    # it was imported: query printed "= inf" and its --json "value": null, both exit 0
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row().replace("93.5", text))
    want = r"row 2 \(line 3\), column 'value': -?inf is not a finite number.*; fix the file"
    with pytest.raises(FormatError, match=want):
        read_tidy(path)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("as_object", [False, True])
def test_infinite_frame_value_is_refused(value: float, as_object: bool) -> None:
    # Table.from_tidy kept it: only the csv reader checked
    df = _frame(value=value)
    if as_object:
        df["value"] = pd.Series([93.5, value], dtype=object)
    with pytest.raises(FormatError, match=r"row 2, column 'value': -?inf is not a finite number"):
        Table.from_tidy(df)


# -- the same checks for a DataFrame handed to Table.from_tidy (no csv parser in between) --------
def _frame(**bad: object) -> pd.DataFrame:
    good: dict[str, object] = {
        "index": 0,
        "arch": NB201.arch(0).to_str(),
        "dataset": "cifar10",
        "split": "ori-test",
        "epochs": 200,
        "seed": None,
        "metric": "accuracy",
        "value": 93.5,
    }
    return pd.DataFrame([good, {**good, "index": 1, "arch": NB201.arch(1).to_str(), **bad}])


@pytest.mark.parametrize(
    ("bad", "column", "shown"),
    [
        ({"index": 1.5}, "index", "1.5"),
        ({"index": "1.5"}, "index", "'1.5'"),
        ({"index": 15625}, "index", "15625"),
        ({"index": True}, "index", "True"),
        ({"seed": -1}, "seed", "-1"),
        ({"seed": 1.5}, "seed", "1.5"),
        ({"seed": 12345678901234567890}, "seed", "12345678901234567890"),
        ({"seed": "12345678901234567890"}, "seed", "'12345678901234567890'"),
        ({"epochs": 12.7}, "epochs", "12.7"),
        ({"epochs": 1e30}, "epochs", "1e+30"),
        ({"epochs": -3}, "epochs", "-3"),
        ({"epochs": None}, "epochs", "None"),
        ({"dataset": ""}, "dataset", "''"),
        ({"dataset": None}, "dataset", "None"),
        ({"dataset": float("nan")}, "dataset", "nan"),
        ({"split": 5}, "split", "5"),
        ({"metric": "  "}, "metric", "'  '"),
        ({"value": "93.5"}, "value", "'93.5'"),
        ({"value": True}, "value", "True"),
    ],
)
@pytest.mark.parametrize("as_object", [False, True])
def test_bad_frame_cell_names_row_column_value(
    bad: dict[str, object], column: str, shown: str, as_object: bool
) -> None:
    df = _frame(**bad)
    if as_object:  # the cells as given, not as pandas inferred a dtype for the column
        df[column] = pd.Series([_frame()[column][0], bad[column]], dtype=object)
    with pytest.raises(FormatError) as info:
        Table.from_tidy(df, source="mine")
    msg = str(info.value)
    assert "\n" not in msg
    assert "'mine'" in msg and "row 2" in msg and f"column {column!r}" in msg, msg
    if as_object:  # inferred dtypes show the cell as pandas stored it (None as nan)
        assert f": {shown} " in msg, msg


def test_empty_value_cell() -> None:
    df = _frame()
    df["value"] = pd.Series([93.5, None], dtype=object)
    with pytest.raises(FormatError, match=r"row 2, column 'value': None is empty"):
        Table.from_tidy(df)
    df["value"] = pd.array([93.5, None], dtype="Float64")
    with pytest.raises(FormatError, match=r"row 2, column 'value': <NA> is empty"):
        Table.from_tidy(df)
    # a float column holds NaN for a missing number, as the csv's "nan": the value is missing
    df["value"] = [93.5, np.nan]
    assert np.isnan(Table.from_tidy(df).vector("cifar10", "ori-test", 200)[1])


def test_bad_frame_row_names_its_label() -> None:
    df = _frame(seed=-1).set_axis([10, 20])
    with pytest.raises(FormatError, match=r"row 2 \(index label 20\), column 'seed'"):
        Table.from_tidy(df)


def test_frame_with_columns_but_no_rows_is_refused() -> None:
    with pytest.raises(FormatError, match="no rows"):
        Table.from_tidy(pd.DataFrame({c: [] for c in TIDY_COLUMNS}))


def test_clean_frames_of_every_dtype_read_exact_values() -> None:
    df = _frame(seed=2, value=91.25).astype({"dataset": "category", "split": "string"})
    df["seed"] = pd.array([pd.NA, 2], dtype="Int64")
    df["epochs"] = df["epochs"].astype(np.uint16)
    df["index"] = df["index"].astype(np.float64)  # integral floats are integers
    t = Table.from_tidy(df)
    assert t.value(0, "cifar10", "ori-test", 200) == 93.5
    assert t.value(1, "cifar10", "ori-test", 200, seed_policy=2) == 91.25
    assert t.seeds(MetricKey("cifar10", "ori-test", 200)) == [2]


@pytest.mark.parametrize(
    ("header", "named", "hint"),
    [
        (HEADER.replace("seed", "seeds"), "seeds", "did you mean 'seed'?"),
        (HEADER.replace("seed", "Seed"), "Seed", "did you mean 'seed'?"),
        (HEADER.replace("value", "value,note"), "note", ""),
    ],
)
def test_unknown_column_is_refused_by_name(
    tmp_path: Path, header: str, named: str, hint: str
) -> None:
    # R1 #4: a misspelt `seeds` was dropped, and seed 0's values imported as the mean
    path = tmp_path / "t.csv"
    rows = GOOD.replace(",,accuracy", ",0,accuracy")
    path.write_text(header + (rows.replace("93.5", "93.5,x") if "note" in header else rows))
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert "\n" not in msg and f"column '{named}' is not a tidy column" in msg, msg
    assert hint in msg and "seed, metric, value" in msg and "copied_from" in msg, msg
    frame = pd.read_csv(path)  # the same frame handed to Table.from_tidy
    with pytest.raises(FormatError, match=f"column '{named}' is not a tidy column"):
        Table.from_tidy(frame)


@pytest.mark.parametrize("column", ["value", "index"])
def test_repeated_header_name_is_refused(tmp_path: Path, column: str) -> None:
    # R1: two columns called value (or index) raised pyarrow's KeyError with a traceback
    header = HEADER.replace(column, f"{column},{column}", 1)
    row = GOOD.replace("93.5", "93.5,1.0") if column == "value" else "0," + GOOD
    path = tmp_path / "t.csv"
    path.write_text(header + row)
    with pytest.raises(FormatError, match=f"column '{column}' appears 2 times"):
        read_tidy(path)
    parquet = tmp_path / "t.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = header.strip().split(",")
    cells = [[c] for c in row.strip().split(",")]
    pq.write_table(pa.table(cells, names=names), parquet)
    with pytest.raises(FormatError, match=f"column '{column}' appears 2 times"):
        read_tidy(parquet)


def test_optional_columns_to_tidy_writes_are_read(tmp_path: Path) -> None:
    table = Table.from_tidy(
        pd.read_csv(io.StringIO(HEADER + GOOD)), meta={"space_key": "nb201@C4N1"}
    )
    path = tmp_path / "t.csv"
    table.to_tidy().to_csv(path, index=False)
    assert "space" in pd.read_csv(path).columns
    assert read_tidy(path).meta["space_key"] == "nb201@C4N1"


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("time_s", "-3"),
        ("loss", "-0.5"),
        ("params_mb", "-1"),
        ("flops_m", "-2"),
        ("accuracy", "-5"),
    ],
)
def test_a_value_outside_its_metrics_range_is_refused_by_line(
    tmp_path: Path, metric: str, value: str
) -> None:
    # R1 #7: a negative training time imported, and a time budget summed it
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row().replace("accuracy,93.5", f"{metric},{value}"))
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert f"row 2 (line 3), column 'value': {float(value)} " in msg, msg
    why = (
        "is not an accuracy in percent (0..100)"
        if metric == "accuracy"
        else "is negative, which a loss, a time or a cost cannot be"
    )
    assert f"{why} (metric {metric!r}); fix the file" in msg and "\n" not in msg, msg


def test_a_metric_of_no_known_range_keeps_its_negative_values(tmp_path: Path) -> None:
    # a zero-cost proxy (or a user's own metric: 'times' is no spelling of time_s) may be
    # negative; 0 is a time's floor
    path = tmp_path / "t.csv"
    rows = _row().replace("accuracy,93.5", "synflow,-3") + GOOD.replace("accuracy,93.5", "time_s,0")
    rows += _row().replace("accuracy,93.5", "times,-1")
    rows += _row().replace("accuracy,93.5", "Times_S_Ratio,-1")  # no rule by any spelling
    path.write_text(HEADER + rows)
    table = read_tidy(path)
    assert table.data[MetricKey("cifar10", "ori-test", 200, "Times_S_Ratio"), None][1] == -1.0
    assert table.data[MetricKey("cifar10", "ori-test", 200, "synflow"), None][1] == -3.0
    assert table.data[MetricKey("cifar10", "ori-test", 200, "time_s"), None][0] == 0.0


@pytest.mark.parametrize(
    ("row", "column", "named"),
    [
        # R1 #9: each imported as a key no query for NB201's names finds
        (_row().replace("ori-test", "x-valid"), "split", "is not a split of NB201's 'cifar10'"),
        (_row(dataset="cifar10-valid").replace("ori-test", "x-test"), "split", "'cifar10-valid'"),
        (_row(dataset="CIFAR10"), "dataset", "is NB201's 'cifar10' spelt otherwise"),
        (_row(dataset="cifar_100"), "dataset", "is NB201's 'cifar100' spelt otherwise"),
        (_row().replace("ori-test", "Ori-Test"), "split", "is NB201's 'ori-test' spelt otherwise"),
        # a metric with a rule in another spelling: 'Accuracy' of 150 was imported and served
        (
            _row().replace("accuracy,93.5", "Accuracy,150"),
            "metric",
            "'Accuracy' is 'accuracy' spelt otherwise (a metric of its own, which no rule "
            "checks); write 'accuracy'",
        ),
        (_row().replace("accuracy,93.5", "LOSS,-5"), "metric", "is 'loss' spelt otherwise"),
        (_row().replace("accuracy,93.5", "time-s,-1"), "metric", "is 'time_s' spelt otherwise"),
        # a rule by the name's ending (*_accuracy, *time_s), spelt otherwise
        (
            _row().replace("accuracy,93.5", "PTQ_Accuracy,150"),
            "metric",
            "'PTQ_Accuracy' is 'ptq_accuracy' spelt otherwise",
        ),
        (
            _row().replace("accuracy,93.5", "synflow-time-s,-1"),
            "metric",
            "is 'synflow_time_s' spelt otherwise",
        ),
        # R1: these named the row of a frame ("fix the frame"), not the file's line
        (_row(dataset=" cifar10"), "dataset", "has spaces around it"),
        (_row().replace("accuracy", "accuracy "), "metric", "has spaces around it"),
        # imported, then `info` printed the key over two lines
        (_row(dataset='"cif\nar10"'), "dataset", "has a control or invisible character"),
        (
            _row().replace("accuracy", '"acc\nuracy"'),
            "metric",
            "has a control or invisible character",
        ),
    ],
)
def test_a_name_nb201_spells_otherwise_is_refused_by_line(
    tmp_path: Path, row: str, column: str, named: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: row 2 (line 3), column '{column}': "), msg
    assert named in msg and "\n" not in msg, msg


@pytest.mark.parametrize(
    ("row", "column", "why"),
    [
        (
            _row(dataset=" cifar10"),
            "dataset",
            "has spaces around it (it would be a key of its own)",
        ),
        (_row(dataset="  "), "dataset", "is empty (every row needs one)"),
        (_row(dataset="cif\tar10"), "dataset", "has a control or invisible character (a newline"),
        (_row().replace("accuracy", "accuracy "), "metric", "has spaces around it"),
        (_row(index="15625"), "index", "is out of range (the space's cells are 0..15624)"),
        (_row(index="-1"), "index", "is out of range (the space's cells are 0..15624)"),
        (_row(epochs="-1"), "epochs", "is out of range (must be >= 0)"),
        (_row(seed="-2"), "seed", "is out of range (a stored seed is >= 0;"),
    ],
)
def test_a_file_and_a_frame_refuse_a_cell_by_one_rule(
    tmp_path: Path, row: str, column: str, why: str
) -> None:
    # one rule (tidy._key_text_fault, _int_range_why) for the file's line and the frame's row
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises(FormatError) as by_line:
        read_tidy(path)
    frame = pd.read_csv(io.StringIO(HEADER + GOOD + row), dtype={"seed": "Int64"})
    with pytest.raises(FormatError) as by_row:
        Table.from_tidy(frame)
    for info, where, fix in (
        (by_line, "row 2 (line 3)", "the file"),
        (by_row, "row 2", "the frame"),
    ):
        msg = str(info.value)
        assert f"{where}, column '{column}': " in msg and f"{why}" in msg, msg
        assert msg.endswith(fix) and "\n" not in msg, msg


@pytest.mark.parametrize(
    ("name", "right", "fix"),
    [
        ("Accuracy", "accuracy", "write 'accuracy'"),
        ("LOSS", "loss", "write 'loss'"),
        # ruled by its ending only: perhaps no accuracy in percent (a delta may be negative)
        (
            "PTQ_Accuracy",
            "ptq_accuracy",
            "write 'ptq_accuracy' (an accuracy in percent, 0..100), or a name not ending in "
            "_accuracy",
        ),
        (
            "Wall_Time_S",
            "wall_time_s",
            "write 'wall_time_s' (never negative), or a name not ending in time_s",
        ),
    ],
)
def test_a_file_and_a_frame_refuse_a_ruled_metric_spelt_otherwise(
    tmp_path: Path, name: str, right: str, fix: str
) -> None:
    row = _row().replace("accuracy,93.5", f"{name},150")
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + row)
    frame = pd.read_csv(io.StringIO(HEADER + GOOD + row), dtype={"seed": "Int64"})
    for where, call in (
        ("row 2 (line 3)", lambda: read_tidy(path)),
        ("row 2", lambda: Table.from_tidy(frame)),
    ):
        with pytest.raises(FormatError) as info:
            call()
        msg = str(info.value)
        assert f"{where}, column 'metric': {name!r} is {right!r} spelt otherwise" in msg, msg
        assert msg.endswith(fix) and "\n" not in msg, msg


def test_names_of_other_sources_are_kept(tmp_path: Path) -> None:
    # a retraining's own dataset, NASLib's proxy split, NB201's cost split
    rows = [
        _row(dataset="svhn").replace("ori-test", "x-valid"),
        GOOD.replace("ori-test", "zc"),
        _row().replace("ori-test", "model"),
    ]
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "".join(rows))
    keys = {(k.dataset, k.split) for k in read_tidy(path)}
    assert keys == {("svhn", "x-valid"), ("cifar10", "zc"), ("cifar10", "model")}


def test_a_bytes_key_column_in_a_parquet_is_refused_by_row(tmp_path: Path) -> None:
    frame = pd.read_csv(io.StringIO(HEADER + GOOD + _row()))
    frame["dataset"] = [b"cifar10", b"cifar10"]
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(
        FormatError, match=r"t.parquet: row 1, column 'dataset': b'cifar10' is not "
    ):
        read_tidy(path)


def test_two_rows_for_one_value_are_named_by_file_and_line(tmp_path: Path) -> None:
    # R1: "tidy table has several values for index 1 at ...": no file, no line
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD + _row() + _row().replace("93.5", "90.0"))
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert msg.startswith(
        "tidy table 'tidy file t.csv': row 2 (line 3) and row 3 (line 4) both "
    ), msg
    assert "index 1 at cifar10/ori-test@200ep:accuracy mean over seeds; keep one row" in msg, msg
    frame = pd.read_csv(path)
    with pytest.raises(FormatError, match=r"'f': row 2 and row 3 both hold a value for index 1"):
        Table.from_tidy(frame, source="f")


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (["93.5", "abc"], "row 2, column 'value': 'abc' is text, not a number (the column holds"),
        (["93.5", "94"], "row 1, column 'value': '93.5' is text, not a number"),
        ([True, False], "row 1, column 'value': True is no number (the column holds bool)"),
    ],
)
def test_a_parquet_value_column_of_no_numbers_names_a_cell(
    tmp_path: Path, values: list[object], shown: str
) -> None:
    # R1: "column 'value' has type large_string, not numbers": no cell, no fix
    frame = pd.read_csv(io.StringIO(HEADER + GOOD + _row()))
    frame = frame.assign(value=pd.Series(values, dtype=object))
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert shown in msg and msg.endswith("; store the values as numbers"), msg


@pytest.mark.parametrize("column", ["index", "copied_from"])
def test_a_cell_outside_the_space_is_named_by_line(tmp_path: Path, column: str) -> None:
    # it said "tidy table '...': row 2, column 'index': ...; fix the frame"
    path = tmp_path / "t.csv"
    if column == "index":
        path.write_text(HEADER + GOOD + _row(index="99999"))
    else:
        rows = [GOOD.replace("\n", ",False,\n"), _row().replace("\n", ",False,99999\n")]
        path.write_text(HEADER.replace("\n", ",constant_output,copied_from\n") + "".join(rows))
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: row 2 (line 3), column '{column}': 99999 is out of range"), msg
    assert msg.endswith("0..15624); fix the file"), msg


def _seed_rows(*rows: tuple[int, str, str]) -> str:
    return HEADER + "".join(
        f"{i},{NB201.arch(i).to_str()},cifar10,ori-test,200,{seed},accuracy,{value}\n"
        for i, seed, value in rows
    )


def test_a_cell_without_a_mean_row_keeps_its_seeds_only(tmp_path: Path) -> None:
    # the official files' rule: a mean is stored only where every seed has the value, so a
    # cell without a mean row beside others that have one has none; its seeds stay readable
    mixed, seeds_only = tmp_path / "mixed.csv", tmp_path / "seeds.csv"
    cell_1 = [(1, "0", "80"), (1, "1", "84.5")]
    mixed.write_text(_seed_rows((0, "", "91"), (0, "0", "90"), (0, "1", "92"), *cell_1))
    seeds_only.write_text(_seed_rows(*cell_1))
    t = read_tidy(mixed)
    assert t.vector_for(KEY)[0] == 91.0 and np.isnan(t.vector_for(KEY)[1])
    assert t.data[(KEY, 1)][1] == 84.5
    # a key of seed rows only: each mean computed over its seeds
    assert read_tidy(seeds_only).vector_for(KEY)[1] == 82.25


def test_an_explicit_nan_mean_row_is_kept_missing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(_seed_rows((0, "", "91"), (0, "0", "91"), (1, "", "nan"), (1, "0", "50")))
    assert np.isnan(read_tidy(path).vector_for(KEY)[1])


@pytest.mark.parametrize(("mean", "refused"), [("10", True), ("92.15", True), ("92.14", False)])
def test_a_mean_row_outside_its_seed_rows_is_refused_by_line(
    tmp_path: Path, mean: str, refused: bool
) -> None:
    # a mean of 10 over seeds of 90 and 92 was taken as written; a mean printed rounded may
    # pass its seeds' range by 0.05 + 0.1 % (0.142 at 92)
    path = tmp_path / "t.csv"
    path.write_text(
        _seed_rows((3, "", "50"), (3, "0", "50"), (0, "0", "90"), (0, "1", "92"), (0, "", mean))
    )
    if not refused:
        assert read_tidy(path).vector_for(KEY)[0] == float(mean)
        return
    with pytest.raises(FormatError) as info:
        read_tidy(path)
    assert str(info.value) == (
        f"tidy table 'tidy file t.csv': row 5 (line 6): the mean over seeds of index 0 at {KEY} "
        f"is {float(mean)!r}, outside its seed rows (90.0..92.0, seeds 0, 1); fix the row, or "
        f"drop the mean rows of {KEY} to have each mean computed over its seeds"
    )


def test_accuracies_that_look_like_fractions_are_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 0.9 read as 0.9 %: served a hundred times too small, without a word
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD.replace("93.5", "0.935") + _row().replace("93.5", "0.9"))
    with caplog.at_level("WARNING", logger="nb201_flat.importers.tidy"):
        read_tidy(path)
    assert "every accuracy of cifar10/ori-test@200 lies in 0.9..0.935 (2 values): fractions?" in (
        caplog.text
    )
    caplog.clear()
    path.write_text(HEADER + GOOD + _row())  # percent: no word
    with caplog.at_level("WARNING", logger="nb201_flat.importers.tidy"):
        read_tidy(path)
    assert "fractions" not in caplog.text
