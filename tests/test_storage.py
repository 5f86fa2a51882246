"""The native table folder: round trip, atomic writes, every failure named with its fix."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nb201_flat import storage
from nb201_flat.cli.common import flag_of
from nb201_flat.errors import ArgumentError, FormatError, Param, TableFileError
from nb201_flat.space import NB201, Space
from nb201_flat.storage import load_saved_table, load_table, save_table
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)


def small_table(offset: float = 0.0) -> Table:
    v = np.arange(NB201.size, dtype=float) + offset
    v[5] = np.nan
    # two seeds of their own numbers around the mean (a mean outside its seeds is refused)
    data = {(KEY, None): v, (KEY, 0): v - 1, (KEY, 1): v + 1}
    return Table(NB201, data, source="unit", meta={"k": 1})


def test_round_trip(tmp_path: Path) -> None:
    out = save_table(small_table(), tmp_path / "t.nb201")
    t = load_saved_table(out)
    assert t.source == "unit" and t.meta["k"] == 1 and t.space is NB201
    np.testing.assert_array_equal(
        t.vector("cifar10", "ori-test", 200), small_table().data[(KEY, None)]
    )
    assert t.seeds(KEY) == [0, 1]
    assert len(t.meta["sha256"]) == 64


def test_round_trip_other_space(tmp_path: Path) -> None:
    space = Space(("none", "a", "b"), 3)
    t = Table(space, {(KEY, None): np.arange(27.0)})
    back = load_saved_table(save_table(t, tmp_path / "s"))
    assert back.space == space and back.value(26, "cifar10", "ori-test", 200) == 26.0


def test_overwrite_is_atomic_and_keeps_old_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "t.nb201"
    save_table(small_table(), out)

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # an import interrupted midway

    import pyarrow.parquet as pq

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(KeyboardInterrupt):
        save_table(small_table(offset=1.0), out)
    # the old table is intact and no temporary folder is left behind
    assert load_saved_table(out).value(0, "cifar10", "ori-test", 200) == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.nb201"]


def test_interrupted_first_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(path: Path) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(storage, "file_sha256", boom)
    with pytest.raises(OSError, match="disk full"):
        save_table(small_table(), tmp_path / "new.nb201")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_clobber_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("x")
    with pytest.raises(TableFileError, match="not an nb201_flat table"):
        save_table(small_table(), tmp_path / "data")
    assert (tmp_path / "data" / "precious.txt").read_text() == "x"
    with pytest.raises(TableFileError, match="exists"):
        save_table(small_table(), save_table(small_table(), tmp_path / "t"), overwrite=False)


def test_missing_table_names_the_function_that_writes_one(tmp_path: Path) -> None:
    # the library's way (the command line's is its import command: tests/cli/test_calls.py)
    with pytest.raises(TableFileError, match="create it with save_table$"):
        load_saved_table(tmp_path / "nope")


def test_file_instead_of_folder(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a,b\n")
    with pytest.raises(TableFileError, match="import it first"):
        load_saved_table(f)


def test_truncated_parquet_detected(tmp_path: Path) -> None:
    out = save_table(small_table(), tmp_path / "t")
    t = small_table()
    t.meta["import_command"] = "nb201-flat import /d/SRC --out t"
    out = save_table(t, tmp_path / "t")
    p = out / "table.parquet"
    p.write_bytes(p.read_bytes()[:100])
    # a Python caller is named the call doing what the stored command did (the command line
    # spells it as that command: _rebuild_hint)
    fix = (
        "nb201_flat.save_table(nb201_flat.importers.import_table('/d/SRC'), "
        f"{str(out)!r}, overwrite=True)"
    )
    with pytest.raises(TableFileError, match=r"checksum.*" + re.escape(fix)):
        load_saved_table(out)
    with pytest.raises(TableFileError, match="could not be read"):
        load_saved_table(out, verify=False)


def _rebuild_hint(folder: Path) -> str:
    """The rebuild a load of the damaged ``folder`` names, as the command line spells it (a
    Python caller is named Python: no command)."""
    with pytest.raises(TableFileError) as info:
        load_saved_table(folder)
    assert "rebuild it with nb201_flat.save_table(" in str(info.value), str(info.value)
    return info.value.spelled(_as_the_command_line).split("rebuild it with ", 1)[1]


def _as_the_command_line(param: Param) -> str | None:
    return flag_of(param, argparse.ArgumentParser(), argparse.Namespace())


def test_rebuild_hint_names_the_folder_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stored --out was the folder as spelled at import, in that working folder, and a copy
    # kept its original's: the fix replaced another (healthy) table
    monkeypatch.chdir(tmp_path)
    t = small_table()
    t.meta["import_command"] = storage.import_command("/d/a b.csv", "t.nb201", "tidy", ("--force",))
    save_table(t, tmp_path / "t.nb201")
    shutil.copytree(tmp_path / "t.nb201", tmp_path / "my copy.nb201")
    (tmp_path / "my copy.nb201" / "table.parquet").write_bytes(b"x")
    assert _rebuild_hint(tmp_path / "my copy.nb201") == (
        f"`nb201-flat import '/d/a b.csv' --format tidy --out '{tmp_path}/my copy.nb201' --force`"
    )
    assert load_saved_table(tmp_path / "t.nb201").source == "unit"  # the original is healthy


@pytest.mark.parametrize(
    ("stored", "fix"),
    [
        # the embedded default's command has no --force, which the damaged folder needs
        ("nb201-flat import analognas --out c", "`nb201-flat import analognas --out T --force`"),
        (
            "nb201-flat import /d/s.pth --format nb201-pth --out c --force --no-curves",
            "`nb201-flat import /d/s.pth --format nb201-pth --out T --force --no-curves`",
        ),
        (
            "nb201-flat import s.csv --out c",
            "`nb201-flat import s.csv --out T --force` from the folder it was imported in "
            "(s.csv is a relative path)",
        ),
        # unquoted spaces (an older table) or no --out: SOURCE cannot be told, so not reused
        ("nb201-flat import /d/a b.csv --out c", "`nb201-flat import SOURCE --out T --force` "),
        ("nb201-flat import /d/s.csv", "`nb201-flat import SOURCE --out T --force` "),
        ("nb201-flat import '/d/s.csv", "`nb201-flat import SOURCE --out T --force` "),
    ],
)
def test_rebuild_hint_reuses_what_it_can_of_the_stored_command(
    tmp_path: Path, stored: str, fix: str
) -> None:
    t = small_table()
    t.meta["import_command"] = stored
    out = save_table(t, tmp_path / "t")
    (out / "table.parquet").write_bytes(b"x")
    assert _rebuild_hint(out).startswith(fix.replace("T", str(out)))


def test_corrupted_manifest(tmp_path: Path) -> None:
    out = save_table(small_table(), tmp_path / "t")
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(TableFileError, match="corrupted"):
        load_saved_table(out)
    # an integer past Python's 4,300-digit limit: a bare ValueError from json
    (out / "manifest.json").write_text('{"schema_version": ' + "9" * 5000 + "}")
    with pytest.raises(TableFileError, match="corrupted"):
        load_saved_table(out)
    (out / "manifest.json").unlink()
    with pytest.raises(TableFileError, match="no manifest.json"):
        load_saved_table(out)


def test_other_schema_version(tmp_path: Path) -> None:
    out = save_table(small_table(), tmp_path / "t")
    m = json.loads((out / "manifest.json").read_text())
    m["schema_version"] = 99
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(TableFileError, match="schema version 99.*reads version 1"):
        load_saved_table(out)


def test_load_table_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = save_table(small_table(0.0), tmp_path / "a")
    b = save_table(small_table(100.0), tmp_path / "b")
    monkeypatch.setenv("NB201_FLAT_TABLE", str(b))
    assert load_table().value(0, "cifar10", "ori-test", 200) == 100.0
    assert load_table(a).value(0, "cifar10", "ori-test", 200) == 0.0
    missing = tmp_path / "missing"
    monkeypatch.setenv("NB201_FLAT_TABLE", str(missing))
    # the user named no path: the message says the variable named it
    with pytest.raises(TableFileError) as info:
        load_table()
    assert str(info.value).startswith(f"$NB201_FLAT_TABLE={missing}: no table at {missing}")


def test_embedded_default_imported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_CACHE", str(tmp_path / "cache"))
    t = load_table()
    assert "AnalogNAS" in t.source
    path = tmp_path / "cache" / storage.DEFAULT_TABLE_NAME
    assert (path / "manifest.json").exists()
    stamp = (path / "table.parquet").stat().st_mtime_ns
    load_table()
    assert (path / "table.parquet").stat().st_mtime_ns == stamp  # not re-imported
    # a damaged cache names the command that rebuilds it
    (path / "table.parquet").write_bytes(b"garbage")
    with pytest.raises(TableFileError, match=r"nb201_flat.importers.import_table\('analognas'\)"):
        load_table()


def test_flags_and_paths_are_checked(tmp_path: Path) -> None:
    from nb201_flat.errors import ArgumentError

    t = small_table()
    target = save_table(t, tmp_path / "t")
    # overwrite="no" is truthy: it used to replace the table; verify=None skipped the checksums
    with pytest.raises(ArgumentError, match="overwrite must be True or False"):
        save_table(t, target, overwrite="no")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="verify must be True or False"):
        load_saved_table(target, verify=None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="verify must be True or False"):
        load_table(target, verify="no")  # type: ignore[arg-type]
    # raw TypeError / AttributeError before
    with pytest.raises(ArgumentError, match="str or os.PathLike"):
        load_saved_table(None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="needs a Table"):
        save_table({"data": {}}, tmp_path / "u")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^path is empty; give a folder path"):
        save_table(t, "")  # not "'.' names the current folder"
    assert load_saved_table(target, verify=np.bool_(True)).keys() == t.keys()


def test_a_saved_table_holding_an_infinity_is_refused_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a folder written before tables refused inf (its checksums match) loaded with the inf in
    # it; now the load names the folder, the vector and the first architecture
    table = small_table()
    loss = MetricKey("cifar10", "ori-test", 200, "loss")
    vec = np.zeros(NB201.size)
    vec[42] = np.inf
    table.data[(loss, None)] = vec  # past the constructor, as an older version stored it
    with monkeypatch.context() as m:
        m.setattr(Table, "validate", lambda self: None)  # as an older version wrote it
        out = save_table(table, tmp_path / "old.nb201")
    with pytest.raises(TableFileError) as exc:
        load_saved_table(out)
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{out}: vector for {loss} (seed mean) holds 1 ")
    assert "(first at architecture 42)" in text and "use NaN for a value not measured" in text


def test_a_table_changed_after_it_was_built_is_checked_before_it_is_written(
    tmp_path: Path,
) -> None:
    # data is a plain dict: an inf put in after construction was written, then never loaded
    table = small_table()
    target = save_table(table, tmp_path / "t.nb201")
    before = sorted(p.read_bytes() for p in target.iterdir())
    vec = np.zeros(NB201.size)
    vec[7] = -np.inf
    table.data[(MetricKey("cifar10", "ori-test", 200, "loss"), None)] = vec
    with pytest.raises(FormatError, match=r"holds 1 infinite value \(first at architecture 7\)"):
        save_table(table, target)
    assert sorted(p.read_bytes() for p in target.iterdir()) == before  # the old table stays
    assert [p.name for p in tmp_path.iterdir()] == ["t.nb201"]  # nothing left beside it


def test_a_table_saved_with_seed_positions_is_read_by_seed_id(tmp_path: Path) -> None:
    # results databases imported before seed ids were kept stored seeds 1, 2, 777 as 0, 1, 2
    # (meta["seed_ids"]); read so, --seed-policy 2 served seed 777's value
    import hashlib
    import json

    from nb201_flat.storage import MANIFEST, MANIFEST_HASH, _canonical

    def written_before_seed_ids(ids: list[int], name: str) -> Path:
        # such a table is no longer written: its manifest is made here, with its checksum
        folder = save_table(Table(NB201, data), tmp_path / name)
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest["meta"]["seed_ids"] = ids
        manifest[MANIFEST_HASH] = hashlib.sha256(_canonical(manifest)).hexdigest()
        (folder / MANIFEST).write_text(json.dumps(manifest))
        return folder

    key = MetricKey("cifar10", "ori-test", 2)
    data = {(key, s): np.full(NB201.size, 90.0 + s) for s in (0, 1, 2)}
    table = load_saved_table(written_before_seed_ids([1, 2, 777], "old"))
    assert table.seeds(key) == [1, 2, 777] and "seed_ids" not in table.meta
    assert table.value(7, "cifar10", "ori-test", 2, seed_policy=777) == 92.0
    assert table.value(7, "cifar10", "ori-test", 2, seed_policy=1) == 90.0
    with pytest.raises(
        TableFileError, match=r"seed ids \[1, 2\] do not name its seeds \[0, 1, 2\]"
    ):
        load_saved_table(written_before_seed_ids([1, 2], "bad"))
    # a table of today holding that meta key: a load renumbered its seeds by it, and dropped it
    with pytest.raises(ArgumentError, match=r"meta\['seed_ids'\] is how tables written before"):
        save_table(Table(NB201, data, meta={"seed_ids": [999, 888, 777]}), tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_numpy_seeds_and_set_meta_are_saved_as_what_they_read_back_as(tmp_path: Path) -> None:
    # a numpy seed key (from np.unique) met "int64 is not JSON serializable"; a set of cells
    # in meta was saved as the text '{3, 5}', which the stand-ins' reader refused after load
    from nb201_flat.curves import Curves

    space = Space(("a", "b"), 3)  # 8 cells
    vec = np.arange(8.0)
    curve = np.tile(vec[:, None], (1, 3))
    t = Table(
        space,
        {(KEY, np.int64(0)): vec, (KEY, None): vec},
        source="numpy seeds",
        meta={"constant_output": {3, 1}, "note": np.float32(0.5)},
        curves=Curves(8, {(KEY, np.int64(0)): curve}),
    )
    assert [type(s) for _, s in t.data] == [int, type(None)]
    back = load_saved_table(save_table(t, tmp_path / "t"))
    assert back.seeds(KEY) == [0] and back.curves is not None
    assert back.curves.seeds(KEY) == [0]
    assert back.meta["constant_output"] == [1, 3] and back.meta["note"] == 0.5
    np.testing.assert_array_equal(back.vector_for(KEY, seed_policy=0), vec)


def test_a_table_with_no_vector_is_refused_before_it_is_written(tmp_path: Path) -> None:
    # it was written as a file of no columns, which the load then blamed on the file
    from nb201_flat.errors import ArgumentError

    with pytest.raises(ArgumentError, match="holds no vector, so it could not be loaded back"):
        save_table(Table(NB201, {}), tmp_path / "t")
    assert not (tmp_path / "t").exists()
