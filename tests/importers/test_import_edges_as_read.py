"""What an import reads is what it serves, and what a command shows is what it holds (a fifth
audit's findings, each reproduced first): an official file's learning curves take numbers
only, at every epoch; a tidy parquet's key column of lists is refused by line; a table's meta
keeps text keys only; merge_tables keeps what the merged table's vectors need; an import
without --force never replaces a table written meanwhile; query and record show a small value
as measured and a mean over some seeds as such."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, FormatError
from nb201_flat.space import NB201, Space
from nb201_flat.storage import load_table, save_table
from nb201_flat.table import MetricKey, Table


# -- official .pth: a curve's every epoch ---------------------------------------------------
def _pth(path: Path, mutate: Any) -> Path:
    api = pytest.importorskip("nas_201_api.api_utils")
    torch = pytest.importorskip("torch")
    from tests.importers.conftest import ARCHS, LAYOUT, arch_states

    data = {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": arch_states(api, {"full": "full", "less": "less"}),
        "evaluated_indexes": sorted(LAYOUT),
    }
    mutate(data["arch2infos"][0]["full"]["all_results"][("cifar10", 777)])
    torch.save(data, path)
    return path


@pytest.mark.parametrize(
    ("mutate", "what"),
    [
        # float() read True as 1.0 and the text as 93.25: a curve of made-up numbers
        (lambda run: run["train_acc1es"].__setitem__(5, True), "epoch 5: bool"),
        (lambda run: run["train_acc1es"].__setitem__(6, "93.25"), "epoch 6: str '93.25'"),
        (lambda run: run["train_acc1es"].__setitem__(4, np.True_), "epoch 4: bool"),  # numpy's
        # bare ValueError / TypeError / OverflowError tracebacks
        (lambda run: run["train_acc1es"].__setitem__(3, "abc"), "epoch 3: str 'abc'"),
        (
            lambda run: run["eval_acc1es"].__setitem__("ori-test@5", [1]),
            "ori-test accuracy at epoch 5",
        ),
        (lambda run: run["train_losses"].__setitem__(7, 10**400), "epoch 7: 1000"),
    ],
)
def test_a_curve_value_of_no_number_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Any, what: str
) -> None:
    from nb201_flat.importers import import_table

    path = _pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", mutate)
    with pytest.raises(FormatError, match=r"architecture 0 cifar10 \(200 epochs\) seed position 0: a learning curve holds") as info:  # fmt: skip
        import_table(path)
    assert what in str(info.value)
    capsys.readouterr()
    assert main(["import", str(path), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and what in err


def test_a_stored_cost_of_numpy_bool_is_no_number(tmp_path: Path) -> None:
    from nb201_flat.importers import import_table

    # np.True_ is no bool to isinstance: its params were imported as 1.0
    path = _pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", lambda run: run.__setitem__("params", np.True_))  # fmt: skip
    with pytest.raises(FormatError, match="bool"):
        import_table(path, curves=False)


def test_a_final_value_beyond_a_float_is_named(tmp_path: Path) -> None:
    from nb201_flat.importers import import_table

    path = _pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", lambda run: run["train_acc1es"].__setitem__(199, 10**400))  # fmt: skip
    with pytest.raises(FormatError, match="beyond a float"):  # OverflowError's traceback
        import_table(path, curves=False)


# -- tidy parquet: key columns of lists ----------------------------------------------------
@pytest.mark.parametrize("column", ["dataset", "split", "metric", "arch"])
def test_a_tidy_key_column_of_lists_is_refused_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    cols: dict[str, Any] = {
        "index": [0, 1],
        "arch": [str(NB201.arch(0)), str(NB201.arch(1))],
        "dataset": ["cifar10"] * 2,
        "split": ["ori-test"] * 2,
        "epochs": [200, 200],
        "seed": pa.array([None, None], type=pa.int64()),
        "metric": ["accuracy"] * 2,
        "value": [90.0, 91.0],
    }
    cols[column] = [[cols[column][0]], [cols[column][1]]]  # "unhashable type" in every check
    path = tmp_path / "lists.parquet"
    pq.write_table(pa.table(cols), path)
    assert main(["import", str(path), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: row 1, column '{column}': ") and err.count("\n") == 1
    assert "is not text (list<" in err and "Traceback" not in err


# -- a table's meta -------------------------------------------------------------------------
def _table(**meta: Any) -> Table:
    return Table(Space(("a", "b"), 2), {(MetricKey("d", "x", 1), None): np.arange(2.0)}, meta=meta)


@pytest.mark.parametrize(
    ("meta", "where"),
    [
        (
            {"counts": {np.int64(3): 1}},
            r"meta\['counts'\] has the key np.int64\(3\)",
        ),  # json's TypeError
        # saved, and loaded back as {'1': 'b'}: one entry lost, the other's key now text
        ({"k": {1: "a", "1": "b"}}, r"meta\['k'\] has the key 1,"),
        ({"runs": [{"seed": 1, 2: "x"}]}, r"meta\['runs'\]\[0\] has the key 2"),
    ],
)
def test_a_meta_key_that_is_no_text_is_refused_before_writing(
    tmp_path: Path, meta: dict[str, Any], where: str
) -> None:
    path = tmp_path / "t"
    save_table(_table(note="first"), path)
    with pytest.raises(ArgumentError, match=f"^{where}.*use text keys"):
        save_table(_table(**meta), path)
    assert load_table(path).meta["note"] == "first"  # the table there is kept


# -- merge_tables ----------------------------------------------------------------------------
def test_merge_tables_keeps_what_the_merged_vectors_need() -> None:
    from nb201_flat.importers.naslib_zc import merge_tables

    space = Space(("a", "b"), 2)
    base = Table(space, {(MetricKey("d", "zc", 0, "synflow"), None): np.ones(2)})
    retrained = Table(
        space,
        {(MetricKey("d", "x", 1), 777): np.arange(2.0)},
        meta={
            "file": "r.sqlite",
            "file_sha256": "ab" * 32,
            "isomorphic_to": [],
            "constant_output": [1],
        },
    )
    # its stand-ins were dropped: cell 1's chance value served as a measurement
    with pytest.raises(FormatError, match="records stand-ins .* pass it as the base"):
        merge_tables(base, retrained)
    merged = merge_tables(retrained, base)
    assert merged.meta["constant_output"] == [1]
    plain = Table(space, retrained.data, meta={"file": "r.sqlite", "file_sha256": "ab" * 32})
    merged = merge_tables(base, plain)  # the second file's checksum was dropped
    assert merged.meta["merged_meta"] == {"file": "r.sqlite", "file_sha256": "ab" * 32}


# -- the import command ------------------------------------------------------------------------
def test_an_import_without_force_keeps_a_table_written_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nb201_flat.importers as importers

    out = tmp_path / "t"
    source = tmp_path / "mine.csv"
    pd.DataFrame(
        {"index": [0], "arch": [str(NB201.arch(0))], "dataset": ["cifar10"], "split": ["ori-test"],
         "epochs": [200], "seed": [None], "metric": ["accuracy"], "value": [90.0]}
    ).to_csv(source, index=False)  # fmt: skip
    real = importers.import_table

    def slow_import(*args: Any, **kw: Any) -> Table:
        table = real(*args, **kw)
        save_table(_table(note="theirs"), out, overwrite=False)  # another writer, meanwhile
        return table

    monkeypatch.setattr(importers, "import_table", slow_import)
    assert main(["import", str(source), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert load_table(out).meta["note"] == "theirs"  # it was replaced, exit 0


# -- query and record show what is stored ------------------------------------------------------
def _served(tmp_path: Path) -> Path:
    key = MetricKey("cifar10", "zc", 0, "fisher")
    acc = MetricKey("cifar10", "ori-test", 200)
    values = np.full(NB201.size, 5.0)
    values[0] = 3.2e-06
    seeds = np.full(NB201.size, 80.0), np.full(NB201.size, 90.0)
    seeds[1][100] = np.nan  # cell 100 measured at seed 777 only
    table = Table(NB201, {(key, None): values, (acc, 777): seeds[0], (acc, 888): seeds[1]})
    path = tmp_path / "t"
    save_table(table, path)
    return path


def test_query_shows_a_small_value_as_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_served(tmp_path))
    args = ["--dataset", "cifar10", "--split", "zc", "--epochs", "0", "--metric", "fisher"]
    assert main(["query", "0", *args, "--table", path]) == 0
    assert capsys.readouterr().out.rstrip().endswith("= 3.2e-06")  # it printed 0.0000
    assert main(["query", "1", *args, "--table", path]) == 0
    assert capsys.readouterr().out.rstrip().endswith("= 5.0000")


def test_record_says_a_mean_over_some_seeds_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_served(tmp_path))
    assert main(["record", "100", "--table", path]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "ori-test" in x)
    assert "80.0000" in line and "[mean of these only; not measured at 888]" in line
    assert main(["record", "100", "--table", path, "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    (e,) = [e for e in entries if e["split"] == "ori-test"]
    assert e["seeds_unmeasured"] == [888] and e["value"] == 80.0
    assert main(["record", "0", "--table", path, "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert {e["split"]: e["seeds_unmeasured"] for e in entries} == {"zc": None, "ori-test": None}
    assert "3.2e-06" in (main(["record", "0", "--table", path]), capsys.readouterr().out)[1]
