"""A thirteenth audit of tables and their folders: a value a seed policy misses names the stored
mean that holds it (not other keys, as if the key lacked it); a damaged table's rebuild is named
to a Python caller as Python and to the command line as its import, and a table that records
no import (built in Python, or derived from an imported one) names no import that would
recreate only its source; a retraining table with empty stand-in records merges."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_exit_2, run

import nb201_flat
import nb201_flat.importers
from nb201_flat.cli.common import flag_of
from nb201_flat.costs import with_analytic_costs
from nb201_flat.errors import Call, FormatError, MissingValueError, Param, TableFileError
from nb201_flat.importers.naslib_zc import merge_tables
from nb201_flat.space import NB201
from nb201_flat.storage import MANIFEST, PARQUET, load_saved_table, save_table
from nb201_flat.table import MetricKey, Table, records_stand_ins, stand_ins

KEY = MetricKey("cifar10-valid", "x-valid", 12)
OTHER = MetricKey("cifar10", "ori-test", 200)
QUERY = ("query", "--dataset", "cifar10-valid", "--split", "x-valid", "--epochs", "12")


def _command_line(exc: TableFileError) -> str:
    """``exc`` as the command line spells it (its CALLS: the library names no command)."""
    return exc.spelled(lambda p: flag_of(p, argparse.ArgumentParser(), argparse.Namespace()))


def _refusal(folder: Path) -> TableFileError:
    with pytest.raises(TableFileError) as info:
        load_saved_table(folder)
    return info.value


def _damage(folder: Path) -> None:
    raw = bytearray((folder / PARQUET).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (folder / PARQUET).write_bytes(bytes(raw))


# -- a seed policy missing a cell that the key's stored mean holds ------------------------------
def _mean_everywhere_seed_on_few() -> Table:
    """A mean for every cell, seed 0 for the first 100 (the auditor's seedpart table)."""
    mean = np.linspace(10.0, 90.0, NB201.size)
    seed = np.full(NB201.size, np.nan)
    seed[:100] = mean[:100]
    other = np.linspace(1.0, 2.0, NB201.size)
    return Table(NB201, {(KEY, None): mean, (KEY, 0): seed, (OTHER, None): other})


@pytest.mark.parametrize(("policy", "rng"), [(0, None), ("random", 0)])
def test_a_seed_missing_a_cell_names_the_stored_mean_of_its_key(
    policy: int | str, rng: int | None
) -> None:
    t = _mean_everywhere_seed_on_few()
    with pytest.raises(MissingValueError) as info:
        t.value(150, "cifar10-valid", "x-valid", 12, seed_policy=policy, rng=rng)
    said = str(info.value)
    # it said "keys that measure it: cifar10/ori-test@200ep:accuracy", as if this one did not
    assert "keys that measure it" not in said, said
    assert said.endswith(
        "no stored seed (0) measures it, but its stored mean over seeds does; "
        "pass seed_policy='mean'"
    ), said
    assert t.value(150, "cifar10-valid", "x-valid", 12) == pytest.approx(t.data[KEY, None][150])


def test_the_command_line_names_its_seed_policy_flag_for_the_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = save_table(_mean_everywhere_seed_on_few(), tmp_path / "t.nb201")
    line = one_line_exit_2(capsys, *QUERY, "150", "--seed-policy", "0", "--table", str(folder))
    assert "no stored seed (0) measures it" in line and line.endswith("pass --seed-policy mean")
    code, _, err = run(capsys, *QUERY, "150", "--seed-policy", "mean", "--table", str(folder))
    assert code == 0 and err == "", err


# -- a damaged table's rebuild, in each caller's words -----------------------------------------
def test_a_table_built_in_python_names_save_table_not_an_import_of_no_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = save_table(_mean_everywhere_seed_on_few(), tmp_path / "syn.nb201")
    _damage(folder)
    said = str(_refusal(folder))
    # it said `nb201-flat import SOURCE --out syn.nb201 --force` (SOURCE: the file it was
    # imported from), of a table imported from no file
    assert "records no import command" in said and "SOURCE" not in said, said
    assert said.endswith(f"written again with save_table(table, {str(folder)!r})"), said
    assert "nb201-flat" not in said, said
    line = one_line_exit_2(capsys, "info", "--table", str(folder))
    assert "records no import command" in line and "import SOURCE" not in line, line


def test_a_lost_manifest_names_both_ways_a_table_is_made_in_each_callers_words(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = save_table(_mean_everywhere_seed_on_few(), tmp_path / "t.nb201")
    (folder / MANIFEST).unlink()
    exc = _refusal(folder)
    said = str(exc)
    assert "nb201-flat" not in said and "--" not in said, said
    imported = (
        "nb201_flat.save_table(nb201_flat.importers.import_table(SOURCE), "
        f"{str(folder)!r}, overwrite=True)"
    )
    assert imported in said and f"save_table(table, {str(folder)!r})" in said, said
    line = _command_line(exc)
    assert f"`nb201-flat import SOURCE --out {folder} --force`" in line, line
    assert f"save_table(table, {str(folder)!r})" in line, line  # no command rebuilds that one
    assert "nb201-flat import SOURCE" in one_line_exit_2(capsys, "info", "--table", str(folder))


def test_a_folder_of_other_files_names_an_import_into_a_new_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "brok").mkdir()
    (tmp_path / "brok" / "notes.txt").write_text("x")
    exc = _refusal(tmp_path / "brok")
    assert str(exc).endswith(
        "import into a new one with "
        "nb201_flat.save_table(nb201_flat.importers.import_table(SOURCE), NEW_FOLDER)"
    ), str(exc)
    line = one_line_exit_2(capsys, "info", "--table", str(tmp_path / "brok"))
    assert line.endswith("import into a new one with `nb201-flat import SOURCE --out NEW_FOLDER`")


def _imported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[Path, Path]:
    """A tidy file and the table `nb201-flat import --format tidy` wrote of it."""
    src, folder = tmp_path / "src.csv", tmp_path / "T.nb201"
    pd.DataFrame(
        {"index": [0, 1], "dataset": "cifar10", "split": "ori-test", "epochs": 200}
        | {"metric": "accuracy", "value": [91.25, 80.5]}
    ).to_csv(src, index=False)
    assert run(capsys, "import", str(src), "--format", "tidy", "--out", str(folder))[0] == 0
    return src, folder


def test_an_imported_tables_rebuild_is_a_python_call_that_rebuilds_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src, folder = _imported(capsys, tmp_path)
    _damage(folder)
    # the command line's spelling: the import command, as before, which rebuilds it
    line = one_line_exit_2(capsys, "info", "--table", str(folder))
    command = f"`nb201-flat import {src} --format tidy --out {folder} --force`"
    assert f"rebuild it with {command}" in line, line
    assert run(capsys, *shlex.split(command.strip("`"))[1:])[0] == 0
    assert load_saved_table(folder).value(0, "cifar10", "ori-test", 200) == 91.25
    # a Python caller's: the call doing the same (it was that shell line)
    _damage(folder)
    exc = _refusal(folder)
    (call,) = [p for p in exc.parts if isinstance(p, Call)]
    assert "nb201-flat" not in str(exc) and str(call) in str(exc)
    assert str(call) == (
        f"nb201_flat.save_table(nb201_flat.importers.import_table({str(src)!r}, "
        f"format='tidy'), {str(folder)!r}, overwrite=True)"
    )
    exec(str(call), {"nb201_flat": nb201_flat})  # what a Python caller is told to run
    assert load_saved_table(folder).value(1, "cifar10", "ori-test", 200) == 80.5
    # and as written in a fresh session after `import nb201_flat` alone (nb201_flat.importers
    # was no attribute there: AttributeError)
    _damage(folder)
    fresh = subprocess.run(
        [sys.executable, "-c", f"import nb201_flat; {call}"], capture_output=True, text=True
    )
    assert fresh.returncode == 0, fresh.stderr[-500:]
    assert load_saved_table(folder).value(1, "cifar10", "ori-test", 200) == 80.5


@pytest.mark.parametrize(
    ("stored", "keywords", "flags"),
    [
        ("nb201-flat import /d/s.pth --out c --no-curves", ", curves=False", "--no-curves"),
        ("nb201-flat import /d/s.pth --out c --curves", ", curves=True", "--curves"),
        (
            "nb201-flat import /d/s.pkl --format naslib-zc --out c --force --allow-unsafe-pickle",
            ", format='naslib-zc', allow_unsafe_pickle=True",
            "--allow-unsafe-pickle",
        ),
        (
            "nb201-flat import /d/r.sqlite --out c --space=nb201@C4N1#faithful",
            ", space='nb201@C4N1#faithful'",
            "--space=nb201@C4N1#faithful",
        ),
    ],
)
def test_each_flag_an_import_records_is_its_keyword_in_python_and_itself_on_the_command_line(
    tmp_path: Path, stored: str, keywords: str, flags: str
) -> None:
    t = _mean_everywhere_seed_on_few()
    t.meta["import_command"] = stored
    folder = save_table(t, tmp_path / "t")
    _damage(folder)
    exc = _refusal(folder)
    source = shlex.split(stored)[2]
    assert f"import_table({source!r}{keywords}), {str(folder)!r}, overwrite=True)" in str(exc)
    fmt = " --format naslib-zc" if "naslib-zc" in stored else ""
    command = f"`nb201-flat import {source}{fmt} --out {folder} --force {shlex.quote(flags)}`"
    assert command in _command_line(exc), _command_line(exc)


# -- a derived table records no import --------------------------------------------------------
def test_a_derived_table_names_no_import_that_would_recreate_its_source_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src, folder = _imported(capsys, tmp_path)
    imported = load_saved_table(folder)
    derived = imported.with_vector(
        MetricKey("cifar10", "model", 200, "params"), np.ones(NB201.size)
    )
    assert "import_command" in imported.meta and "import_command" not in derived.meta
    assert derived.meta["file"] == imported.meta["file"]  # the rest of its provenance stays
    assert "import_command" not in with_analytic_costs(imported).meta  # through with_vector
    out = save_table(derived, tmp_path / "derived.nb201")
    _damage(out)
    said = str(_refusal(out))
    # it named `nb201-flat import src.csv --out derived.nb201 --force`, which succeeds and
    # loses the vector added
    assert "import_table(" not in said and "records no import command" in said, said
    assert f"the source file it records is {src}" in said, said
    line = one_line_exit_2(capsys, "info", "--table", str(out))
    assert "nb201-flat import" not in line and "records no import command" in line, line


# -- empty stand-in records -------------------------------------------------------------------
def _retrained(**records: list[dict[str, object]]) -> Table:
    """A retraining table of one trained cell, with the stand-in records given (a results
    database's import sets both, empty where every cell was trained)."""
    vec = np.full(NB201.size, np.nan)
    vec[11472] = 80.0
    meta = {"constant_output": [], "isomorphic_to": [], **records}
    return Table(NB201, {(MetricKey("cifar10", "ori-test", 2), 777): vec}, meta=meta)


def test_a_retraining_table_with_empty_stand_in_records_merges() -> None:
    base = _mean_everywhere_seed_on_few()
    plain = _retrained()
    assert stand_ins(plain) == (set(), {})  # a retraining table still: info counts its cells
    assert not records_stand_ins(plain)
    merged = merge_tables(base, plain)  # refused as "records stand-ins" before
    assert set(merged.keys()) == set(base.keys()) | set(plain.keys())
    # one that records a constant-output cell is still refused as extra
    chance = {"dataset": "cifar10", "epochs": 2, "seed": 777, "index": 9}
    stood = _retrained(constant_output=[chance])
    assert records_stand_ins(stood)
    with pytest.raises(FormatError, match="records stand-ins"):
        merge_tables(base, stood)


def test_empty_stand_in_records_still_round_trip_through_the_tidy_form() -> None:
    plain = _retrained()
    back = Table.from_tidy(plain.to_tidy())
    assert back.meta.get("constant_output") == [] and back.meta.get("isomorphic_to") == []


def test_a_seed_policy_param_names_the_mean() -> None:
    """The fix is a Param, so that each caller spells it (the command line: its flag)."""
    with pytest.raises(MissingValueError) as info:
        _mean_everywhere_seed_on_few().value(150, "cifar10-valid", "x-valid", 12, seed_policy=0)
    assert Param("seed_policy", "mean") in info.value.parts


def test_a_derived_table_names_no_stored_digest_in_a_report(tmp_path: Path) -> None:
    # a report of a derived (or merged) table named the stored table's table.parquet sha256,
    # whose numbers it no longer holds
    from nb201_flat.importers.naslib_zc import merge_tables
    from nb201_flat.search.report import table_line
    from nb201_flat.testing import synthetic_table

    stored = load_saved_table(save_table(synthetic_table(), tmp_path / "t"))
    assert "table.parquet sha256" in table_line(stored)
    key = MetricKey("cifar10-valid", "train", 200, "time_s")
    derived = stored.with_vector(key, stored.vector_for(key) / 2)
    extra = Table(
        stored.space, {(MetricKey("cifar10", "zc", 200, "synflow"), None): np.ones(15625)}
    )
    for table in (derived, merge_tables(stored, extra)):
        assert "sha256" not in table.meta and "path" not in table.meta
        assert "built in memory" in table_line(table), table_line(table)
