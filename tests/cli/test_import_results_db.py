"""``nb201-flat import`` of a results database (the --db of ``nb201-flat train``)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201
from nb201_flat.table import FloatArray, MetricKey, Table


def write_db(path: Path, runs: list[tuple[str, int, int]]) -> Path:
    """A database of finished two-epoch cifar10 runs ``(space key, index, seed)``."""
    from nb201_flat.train.results_db import ResultsDB

    db = ResultsDB(path)
    for space, index, seed in runs:
        key = (space, NB201.arch(index).to_str(), "cifar10", 2, seed)
        for epoch in (1, 2):
            db.write_epoch(
                key,
                index,
                epoch,
                {"train": (0.5, 80.0, 3.0), "ori-test": (0.4, 90.0 + seed % 7, 1.0)},
            )
        db.mark_run(key, index, "done")
    db.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("other", ["nb201#fast-bf16", "nb201@C4N1#faithful"])
def test_a_database_of_several_modes_or_sizes_imports_one_with_space(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, other: str
) -> None:
    # train's help: modes and sizes share one --db; the refusal named `space=`, which import
    # had no option for
    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777), (other, 7, 777)])
    out = tmp_path / "mix.nb201"
    code, _, err = run(capsys, "import", str(src), "--out", str(out))
    keys = ", ".join(sorted(["nb201#faithful", other]))
    assert code == 2 and err.count("\n") == 1
    assert f"pass --space as one of {keys}" in err  # the flag: no Python keyword here
    code, stdout, _ = run(capsys, "import", str(src), "--out", str(out), "--space", other, "--json")
    assert code == 0 and json.loads(stdout)["source"] == f"retraining results mix.sqlite ({other})"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["meta"]["space_key"] == other
    # the stored command rebuilds the same slice
    assert shlex.split(manifest["meta"]["import_command"])[-3:] == [
        "--out", str(out), f"--space={other}",
    ]  # fmt: skip


def test_space_on_another_format_or_with_unsafe_pickle_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a tidy file takes one too (the key its rows were measured on): a NASLib zc file does not
    src = tmp_path / "zc.json"
    src.write_text(json.dumps({"cifar10": {"(0, 0, 0, 0, 0, 0)": {"synflow": 1.0}}}))
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--space", "nb201")
    assert code == 2 and "error: --space applies only to results-db files" in err
    assert "and tidy files, and" in err and "is naslib-zc" in err
    db = write_db(tmp_path / "d.sqlite", [("nb201", 7, 777)])
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "import",
                str(db),
                "--out",
                str(tmp_path / "o"),
                "--space",
                "nb201",
                "--allow-unsafe-pickle",
            ]
        )
    assert exc.value.code == 2
    assert "not allowed with argument --space" in capsys.readouterr().err


def test_a_space_the_database_lacks_is_named_with_those_it_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777)])
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--space", "nb201")
    assert code == 2 and "no results of space 'nb201'; it holds nb201#faithful" in err


def test_seed_policies_name_training_seeds_after_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # seeds were ranked (1, 2, 777 -> 0, 1, 2): --seed-policy 2 printed seed 777's accuracy
    src = write_db(tmp_path / "s.sqlite", [("nb201", 7, 777), ("nb201", 7, 1), ("nb201", 7, 2)])
    table = tmp_path / "s.nb201"
    assert run(capsys, "import", str(src), "--out", str(table))[0] == 0
    query = ["query", "7", "--table", str(table), "--dataset", "cifar10", "--split", "ori-test"]
    for seed in (1, 2, 777):
        code, out, _ = run(capsys, *query, "--epochs", "2", "--seed-policy", str(seed), "--json")
        assert code == 0 and json.loads(out)["value"] == 90.0 + seed % 7
    code, out, err = run(capsys, *query, "--epochs", "2", "--seed-policy", "0")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: seed 0 is not stored") and "stored seeds: [1, 2, 777]" in err
    code, out, _ = run(capsys, "record", "7", "--table", str(table), "--json")
    entry = next(e for e in json.loads(out)["entries"] if e["split"] == "ori-test")
    assert code == 0 and entry["seed_values"] == {"1": 91.0, "2": 92.0, "777": 90.0}


# -- a retrained table's network size survives the tidy long format ---------------------------
SMALL = "nb201@C4N1#faithful"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_network_size_survives_a_tidy_round_trip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    # it was lost: analytic costs of the re-imported table described NB201's C=16, N=5 network
    from nb201_flat.costs import network_size, with_analytic_costs
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.storage import load_table

    table = read_results_db(write_db(tmp_path / "small.sqlite", [(SMALL, 7, 777)]))
    assert network_size(table) == (4, 1)
    df = table.to_tidy()
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    out = tmp_path / "t.nb201"
    code, _, err = run(capsys, "import", str(path), "--out", str(out))
    assert code == 0, err
    back = load_table(out)
    assert network_size(back) == (4, 1) and back.meta["space_key"] == SMALL
    assert network_size(Table.from_tidy(df)) == (4, 1)  # in memory too
    params = "cifar10/model@200ep:params_mb_analytic"
    assert (
        with_analytic_costs(back).record(7)[params] == with_analytic_costs(table).record(7)[params]
    )


def write_stand_in_db(path: Path) -> Path:
    """Cell 7 trained with seeds 1 and 777; cell 79 not trained, copying 7 for both (an
    isomorphic stand-in: the import refuses a cell of another class); disconnected cell 10 recorded at chance for seed 777 (constant)."""
    import math

    from nb201_flat.train.results_db import ResultsDB

    write_db(path, [(SMALL, 7, 777), (SMALL, 7, 1)])
    db = ResultsDB(path)
    for seed in (1, 777):
        key = (SMALL, NB201.arch(79).to_str(), "cifar10", 2, seed)
        db.mark_run(key, 79, "isomorphic", isomorphic_to=NB201.arch(7).to_str())
    assert not NB201.connected[10]
    chance = {s: (math.nan, 10.0, math.nan) for s in ("train", "ori-test")}
    key = (SMALL, NB201.arch(10).to_str(), "cifar10", 2, 777)
    db.mark_run(key, 10, "constant", final_rows=chance)
    db.close()
    return path


def same_table(a: object, b: object) -> None:
    """``a`` and ``b`` hold the same vectors under the same keys and seeds, the same space and
    space key, and the same stand-in cells (``stand_ins``)."""
    import numpy as np

    from nb201_flat.table import stand_ins

    assert isinstance(a, Table) and isinstance(b, Table)
    assert a.space == b.space and a.meta.get("space_key") == b.meta.get("space_key")
    assert sorted(a.data, key=str) == sorted(b.data, key=str)
    for item, vec in a.data.items():
        np.testing.assert_array_equal(vec, b.data[item])
    assert stand_ins(a) == stand_ins(b)
    for name in ("constant_output", "isomorphic_to"):
        assert a.meta.get(name) == b.meta.get(name)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("dropna", [True, False])
def test_stand_in_cells_survive_a_tidy_round_trip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str, dropna: bool
) -> None:
    # constant_output and isomorphic_to were lost: the re-imported table called the copy and
    # the disconnected cell trained (info's counts, query's stand-in note, a time budget's why)
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.storage import load_table

    table = read_results_db(write_stand_in_db(tmp_path / "r.sqlite"))
    at_chance = [{"dataset": "cifar10", "epochs": 2, "seed": 777, "index": 10}]
    assert table.meta["constant_output"] == at_chance and len(table.meta["isomorphic_to"]) == 2
    assert table.seeds(table.keys()[0]) == [1, 777]  # seed ids, not positions
    df = table.to_tidy(dropna=dropna)
    same_table(Table.from_tidy(df), table)  # in memory
    path = tmp_path / f"t{suffix}"
    # a missing number is written nan: an empty value cell is refused
    df.to_csv(path, index=False, na_rep="nan") if suffix == ".csv" else df.to_parquet(path)
    out = tmp_path / "t.nb201"
    code, _, err = run(capsys, "import", str(path), "--out", str(out))
    assert code == 0, err
    back = load_table(out)
    same_table(back, table)
    key = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "2", "--table", str(out)]
    code, out_text, _ = run(capsys, "query", "79", "--seed-policy", "777", *key)
    assert code == 0 and "isomorphic copy, not trained: numbers of cell 7" in out_text


def _stand_in_table() -> Table:
    """A table whose stand-ins have no value (all NaN): cell 10 at chance at seed 1, cell 79
    copying 7 (isomorphic) at seed 777; cell 7 measured at seeds 1 and 777, and its loss at
    777."""
    import numpy as np

    key = MetricKey("cifar10", "ori-test", 2)
    data: dict[tuple[MetricKey, int | None], FloatArray] = {}
    for seed in (1, 777):
        vec = np.full(NB201.size, np.nan)
        vec[7] = 90.0 + seed % 7
        data[(key, seed)] = vec
    loss = np.full(NB201.size, np.nan)
    loss[7] = 0.5
    data[(MetricKey("cifar10", "ori-test", 2, "loss"), 777)] = loss
    copy = {"dataset": "cifar10", "epochs": 2, "seed": 777, "index": 79, "copied_from": 7}
    at_chance = {"dataset": "cifar10", "epochs": 2, "seed": 1, "index": 10}
    meta = {"space_key": SMALL, "constant_output": [at_chance], "isomorphic_to": [copy]}
    return Table(NB201, data, meta=meta)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_stand_ins_without_a_value_keep_a_row_of_nan(tmp_path: Path, suffix: str) -> None:
    # dropna dropped every row of such a cell, and its flag with them
    from nb201_flat.importers.tidy import read_tidy

    table = _stand_in_table()
    df = table.to_tidy()
    assert sorted(df["index"]) == [7, 7, 7, 10, 79]  # a NaN row for 79 and for 10
    same_table(Table.from_tidy(df), table)
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False, na_rep="nan") if suffix == ".csv" else df.to_parquet(path)
    same_table(read_tidy(path), table)


def test_a_tidy_frame_without_stand_in_columns_records_none() -> None:
    # a benchmark's table, or a file written before the columns were: as it was
    from nb201_flat.table import STAND_IN_COLUMNS, stand_ins

    table = _stand_in_table()
    df = table.to_tidy()
    back = Table.from_tidy(df.drop(columns=list(STAND_IN_COLUMNS)))
    assert stand_ins(back) is None and "constant_output" not in back.meta
    plain = Table(NB201, dict(table.data))
    assert "constant_output" not in plain.to_tidy() and "copied_from" not in plain.to_tidy()


def test_a_copy_whose_source_is_unmeasured_in_its_run_reads_back() -> None:
    # to_tidy kept a NaN row for the copy but none for its source, which the import then
    # refused as "a cell with no rows of that run"
    import numpy as np

    key = MetricKey("cifar10", "ori-test", 2)
    seed1, seed777 = np.full(NB201.size, np.nan), np.full(NB201.size, np.nan)
    seed1[7] = 91.0
    copy = {"dataset": "cifar10", "epochs": 2, "seed": 777, "index": 79, "copied_from": 7}
    meta = {"space_key": SMALL, "constant_output": [], "isomorphic_to": [copy]}
    table = Table(NB201, {(key, 1): seed1, (key, 777): seed777}, meta=meta)
    df = table.to_tidy()
    assert sorted(df.loc[df["seed"] == 777, "index"]) == [7, 79]  # a NaN row for each
    same_table(Table.from_tidy(df), table)


def test_stand_ins_a_tidy_frame_cannot_carry_are_refused() -> None:
    from nb201_flat.errors import FormatError

    table = _stand_in_table()
    elsewhere = {"dataset": "cifar100", "epochs": 2, "seed": 777, "index": 79, "copied_from": 7}
    table.meta["isomorphic_to"].append(elsewhere)
    with pytest.raises(FormatError) as exc:
        table.to_tidy()
    assert str(exc.value) == (
        "meta['isomorphic_to'] copies cell 7 into cell 79 at cifar100@2ep seed 777, a run this "
        "table stores no vector of; drop those records"
    )
    table.meta["isomorphic_to"][1] = {**elsewhere, "dataset": "cifar10", "copied_from": 8}
    with pytest.raises(FormatError, match=r"copies both cell 7 and cell 8 into cell 79 at"):
        table.to_tidy()
    # a record by hand without its cell: a KeyError's traceback
    table.meta["isomorphic_to"][1] = {"dataset": "cifar10", "epochs": 2, "seed": 777}
    with pytest.raises(FormatError, match=r"^meta\['isomorphic_to'\] holds \{'dataset'.*, not a record of dataset, epochs, seed, index and copied_from; fix or drop it$"):  # fmt: skip
        table.to_tidy()
    table.meta["isomorphic_to"].pop()
    table.meta["constant_output"] = ["ten"]
    with pytest.raises(FormatError, match=r"^meta\['constant_output'\] holds \['ten'\], not cell"):
        table.to_tidy()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (  # cell 7's accuracy and loss rows of seed 777: one run
            {"constant_output": [False, True, True, False, False]},
            "tidy table 'f.csv': column 'constant_output' is True on some rows of cell 7 at "
            "cifar10@2ep seed 777 and False on others; a cell is a constant-output stand-in on "
            "all rows of a run or none: fix the column",
        ),
        (
            {"copied_from": pd.array([pd.NA, pd.NA, 3, 7, pd.NA], dtype="Int64")},
            "tidy table 'f.csv': column 'copied_from' holds 3 and empty on the rows of cell 7 "
            "at cifar10@2ep seed 777; a run's rows name one cell copied, or none: fix the "
            "column",
        ),
        (  # a stand-in copying itself, or a cell not trained in its run, was imported
            {"copied_from": pd.array([pd.NA, pd.NA, pd.NA, 79, pd.NA], dtype="Int64")},
            "tidy table 'f.csv': column 'copied_from' of cell 79 at cifar10@2ep seed 777 names "
            "the cell itself; a stand-in copies another cell trained in the same run: fix the "
            "column",
        ),
        (
            {"copied_from": pd.array([pd.NA, pd.NA, pd.NA, 10, pd.NA], dtype="Int64")},
            "tidy table 'f.csv': column 'copied_from' of cell 79 at cifar10@2ep seed 777 names "
            "cell 10, which has no rows of that run in the file; a stand-in copies another "
            "cell trained in the same run: fix the column",
        ),
        (
            {"constant_output": [False, "no", False, False, False]},
            "tidy table 'f.csv': row 2, column 'constant_output': 'no' is not True or False; "
            "fix the frame",
        ),
        (
            {"copied_from": pd.array([pd.NA, pd.NA, 15625, pd.NA, pd.NA], dtype="Int64")},
            "tidy table 'f.csv': row 3, column 'copied_from': 15625 is out of range (the "
            "space's cells are 0..15624); fix the frame",
        ),
    ],
)
def test_stand_in_columns_that_contradict_themselves_are_refused(
    change: dict[str, object], why: str
) -> None:
    from nb201_flat.errors import FormatError

    table = _stand_in_table()
    df = table.to_tidy()  # accuracy 7 and 10 (NaN) seed 1, 7 and 79 (NaN) seed 777; loss 7
    assert df["index"].tolist() == [7, 10, 7, 79, 7]
    with pytest.raises(FormatError) as exc:
        Table.from_tidy(df.assign(**change), source="f.csv")  # type: ignore[arg-type]
    assert str(exc.value) == why


def test_a_stand_in_column_other_than_the_meta_given_is_refused() -> None:
    from nb201_flat.errors import FormatError

    table = _stand_in_table()
    with pytest.raises(FormatError, match=r"^tidy table 'f.csv': column 'constant_output' flags cell 10 at cifar10@2ep seed 1 as constant output, but meta does not; pass one of them$"):  # fmt: skip
        Table.from_tidy(table.to_tidy(), meta={"constant_output": [3]}, source="f.csv")
    # an old flat list means every run: cell 10 on seed 777 too, which the column does not flag
    with pytest.raises(FormatError, match=r"^tidy table 'f.csv': meta\['constant_output'\] flags cell 10 at cifar10@2ep seed 777 as constant output, but column 'constant_output' does not; pass one of them$"):  # fmt: skip
        Table.from_tidy(table.to_tidy(), meta={"constant_output": [10]}, source="f.csv")
    given = table.meta["constant_output"]
    assert (
        Table.from_tidy(table.to_tidy(), meta={"constant_output": given}).meta["constant_output"]
        == given
    )


def test_a_constant_output_cell_of_a_file_that_is_not_true_or_false_is_refused(
    tmp_path: Path,
) -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.importers.tidy import read_tidy

    table = _stand_in_table()
    path = tmp_path / "t.csv"
    df = table.to_tidy().astype({"constant_output": object})
    df.loc[1, "constant_output"] = ""
    df.to_csv(path, index=False, na_rep="nan")
    with pytest.raises(FormatError) as exc:
        read_tidy(path)
    assert str(exc.value) == (
        f"{path}: row 2 (line 3), column 'constant_output': '' (or NA, null...) is empty "
        "(write True or False); fix the file"
    )
    df.loc[1, "constant_output"] = "yes"
    df.to_csv(path, index=False, na_rep="nan")
    with pytest.raises(FormatError) as exc:
        read_tidy(path)
    assert str(exc.value) == (
        f"{path}: row 2 (line 3), column 'constant_output': 'yes' is not True or False; "
        "fix the file"
    )


def _frame(**extra: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index": [0, 1],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 2,
            "metric": "accuracy",
            "value": [50.0, 60.0],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("space", "why"),
    [
        ([SMALL, "nb201#faithful"], "holds rows of 2 space keys ('nb201#faithful', "),
        ("nb201@c4n1", "'nb201@c4n1' is not a space key"),
        ("nb201@C4", "'nb201@C4' is not a space key"),
        ("", "column 'space': '' is empty"),
    ],
)
def test_a_space_column_that_cannot_be_kept_is_refused(space: object, why: str) -> None:
    from nb201_flat.errors import FormatError

    with pytest.raises(FormatError) as exc:
        Table.from_tidy(_frame(space=space), source="f.csv")
    assert why in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("notes", "row", "why"),
    [
        (["my notes", "my notes"], 1, "'my notes' is not a space key"),
        # were "rows of 2 space keys ... split the rows by it", "is empty ...; fix the file"
        (["office A", "office B"], 1, "'office A' is not a space key"),
        (["nb201", "B"], 2, "'B' is not a space key"),
        (["A", None], 1, "'A' is not a space key"),
        ([None, "A"], 1, "'' (or NA, null...) is empty"),
        ([12, 12], 1, "12 is not a space key"),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_column_of_ones_own_called_space_is_refused_naming_the_rename(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    suffix: str,
    notes: list[object],
    row: int,
    why: str,
) -> None:
    # a user's notes column called space was refused as a bad space key ("fix the column"),
    # or as several keys to split the rows by: never that the column can be renamed
    path = tmp_path / f"t{suffix}"
    df = _frame(space=notes)
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    code, out, err = run(capsys, "import", str(path), "--out", str(tmp_path / "t.nb201"))
    where = f"row {row} (line {row + 1})" if suffix == ".csv" else f"row {row}"
    if suffix == ".csv" and notes[0] == 12:
        why = "'12' is not a space key"  # a csv's space column is read as text
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {path}: {where}, column 'space': {why} ("), err
    assert err.endswith("; a column of your own called space: drop it, else fix the cell\n")
    # a column of one's own under another name is refused too (a misspelt seed column was
    # dropped unseen): dropping it is the fix
    renamed = tmp_path / f"r{suffix}"
    notes_df = df.rename(columns={"space": "notes"})
    notes_df.to_csv(renamed, index=False) if suffix == ".csv" else notes_df.to_parquet(renamed)
    code, _, err = run(capsys, "import", str(renamed), "--out", str(tmp_path / "r.nb201"))
    assert code == 2 and "column 'notes' is not a tidy column" in err, err
    dropped = tmp_path / f"d{suffix}"
    df = df.drop(columns="space")
    df.to_csv(dropped, index=False) if suffix == ".csv" else df.to_parquet(dropped)
    assert run(capsys, "import", str(dropped), "--out", str(tmp_path / "d.nb201"))[0] == 0


def test_a_space_column_other_than_the_space_or_meta_given_is_refused() -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.space import Space
    from nb201_flat.train.jobs import space_key

    small = Space(("none", "skip_connect", "nor_conv_3x3"), 3)
    key = space_key(small, c=4, n=1)
    table = Table.from_tidy(
        _frame(space=key)
        .drop(columns="index")
        .assign(arch=[small.arch(0).to_str(), small.arch(1).to_str()])
    )
    assert table.space == small and table.meta["space_key"] == key  # the file's own space
    with pytest.raises(FormatError, match="names another space than the one given"):
        Table.from_tidy(_frame(space=key), space=NB201, source="f.csv")
    with pytest.raises(FormatError, match=f"holds space key {SMALL!r}, but meta names 'nb201'"):
        Table.from_tidy(_frame(space=SMALL), meta={"space_key": "nb201"}, source="f.csv")


# -- --space goes through import_table, the one entry of every importer ---------------------------
def test_import_table_takes_the_space_of_a_results_database(tmp_path: Path) -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.importers import import_table

    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777), (SMALL, 7, 777)])
    assert import_table(src, space=SMALL).meta["space_key"] == SMALL
    csv = tmp_path / "t.csv"
    _frame().to_csv(csv, index=False)
    assert import_table(csv, space=SMALL).meta["space_key"] == SMALL  # the key of its rows
    zc = tmp_path / "zc.json"
    zc.write_text(json.dumps({"cifar10": {"(0, 0, 0, 0, 0, 0)": {"synflow": 1.0}}}))
    with pytest.raises(ArgumentError) as exc:
        import_table(zc, space="nb201")
    assert str(exc.value) == (
        f"space applies only to results-db files (what nb201_flat.train writes) and tidy "
        f"files, and {zc} is naslib-zc; drop it"
    )


def test_import_with_space_applies_the_checks_of_import_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --space read the database itself: a check import_table makes was skipped with it
    import nb201_flat.importers as importers
    from nb201_flat.errors import FormatError

    def refuse(*args: object, **kwargs: object) -> None:
        raise FormatError(f"import_table refuses {kwargs.get('space')}")

    monkeypatch.setattr(importers, "import_table", refuse)
    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777), (SMALL, 7, 777)])
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--space", SMALL)
    assert (code, err) == (2, f"error: import_table refuses {SMALL}\n")
