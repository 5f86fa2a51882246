"""Files of other versions (a fourteenth audit's upgrade findings): an old table's refusal names
the rebuild its manifest records, and the rebuild named works as written; tables and results
databases record the nb201_flat version that wrote them, a refusal of their schema names it as
an install, and a new schema cannot come without a new version; a relative $XDG_CACHE_HOME is
ignored, as the XDG spec says."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import tomllib
from pathlib import Path

import numpy as np
import pytest

import nb201_flat
from nb201_flat import storage
from nb201_flat.cli import main
from nb201_flat.errors import FormatError, TableFileError
from nb201_flat.space import NB201
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.train import results_db
from nb201_flat.train.results_db import ResultsDB, load_results

KEY = MetricKey("cifar10", "ori-test", 200)
RUN = ("nb201", str(NB201.resolve(11472)), "cifar10", 1, 777)
ROOT = Path(__file__).resolve().parents[1]
WRITTEN_BY = "nb201_flat_version"  # the key files record it under: part of their format


def _imported(tmp_path: Path) -> Path:
    """A table imported by the command line from a tidy file: its manifest records the import."""
    v = np.arange(NB201.size, dtype=float) % 100  # accuracies in percent
    tidy = tmp_path / "src.csv"
    Table(NB201, {(KEY, None): v}, source="unit").to_tidy().to_csv(tidy, index=False)
    out = tmp_path / "t.nb201"
    assert main(["import", str(tidy), "--format", "tidy", "--out", str(out)]) == 0
    return out


def _edit_manifest(folder: Path, **changes: object) -> None:
    """Change the manifest's top-level keys as an older (or later) version wrote them; a value
    None removes the key."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))


# -- 1. an old table names the rebuild its manifest records --------------------------------------
def test_an_old_table_names_its_recorded_rebuild_and_the_command_rebuilds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table written before manifest_sha256 was refused with "its manifest, which records
    how, cannot be read" and SOURCE to fill in, though its manifest named the source."""
    out = _imported(tmp_path)
    before = load_saved_table(out).vector("cifar10", "ori-test", 200)
    _edit_manifest(out, manifest_sha256=None, nb201_flat_version=None)
    capsys.readouterr()
    assert main(["info", "--table", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" not in err and "SOURCE" not in err
    assert "no checksum vouches for it" in err  # read from a manifest nothing verified
    named = re.search(r"`(nb201-flat import [^`]*)`", err)
    assert named is not None
    argv = shlex.split(named.group(1))
    assert argv[2] == str(tmp_path / "src.csv") and argv[argv.index("--out") + 1] == str(out)
    assert main(argv[1:]) == 0  # followed as written
    np.testing.assert_array_equal(load_saved_table(out).vector("cifar10", "ori-test", 200), before)


def test_an_old_table_names_a_python_caller_its_recorded_rebuild(tmp_path: Path) -> None:
    out = _imported(tmp_path)
    _edit_manifest(out, manifest_sha256=None, nb201_flat_version=None)
    with pytest.raises(TableFileError) as info:
        load_saved_table(out, verify=False)
    said = str(info.value)
    assert "cannot be read" not in said
    call = re.search(r"rebuild it with (nb201_flat\.save_table\(.*overwrite=True\))", said)
    assert call is not None and repr(str(tmp_path / "src.csv")) in call.group(1)
    eval(call.group(1), {"nb201_flat": nb201_flat})  # run as written
    assert load_saved_table(out).value(7, "cifar10", "ori-test", 200) == 7.0


@pytest.mark.parametrize(
    "changes",
    [{"schema_version": 99}, {"schema_version": "1"}],
    ids=["other schema", "schema not an integer"],
)
def test_a_parsed_manifest_names_its_recorded_rebuild(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    out = _imported(tmp_path)
    _edit_manifest(out, **changes)
    with pytest.raises(TableFileError) as info:
        load_saved_table(out)
    said = str(info.value)
    assert "cannot be read" not in said and "no checksum vouches for it" in said
    assert f"import_table({str(tmp_path / 'src.csv')!r}, format='tidy')" in said


def test_a_manifest_that_does_not_parse_still_cannot_be_read(tmp_path: Path) -> None:
    out = _imported(tmp_path)
    manifest = (out / "manifest.json").read_text()
    # what a manifest that fails its checksum records may be what changed: not named
    (out / "manifest.json").write_text(manifest.replace('"import_command"', '"import_commanD"'))
    with pytest.raises(TableFileError, match=r"which records how, fails its checksum\).*SOURCE"):
        load_saved_table(out)
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(TableFileError, match=r"which records how, cannot be read\).*SOURCE"):
        load_saved_table(out)


# -- 2. the writer's version, recorded and named -------------------------------------------------
def test_a_saved_table_records_its_writer_under_its_checksum(tmp_path: Path) -> None:
    out = save_table(Table(NB201, {(KEY, None): np.zeros(NB201.size)}), tmp_path / "t")
    assert json.loads((out / "manifest.json").read_text())[WRITTEN_BY] == nb201_flat.__version__
    _edit_manifest(out, nb201_flat_version="0.0.1")
    with pytest.raises(TableFileError, match="does not match its own checksum"):
        load_saved_table(out)


@pytest.mark.parametrize(
    ("schema", "recorded", "said"),
    [
        (99, "0.9.1", "written by nb201_flat 0.9.1; .*read it with nb201_flat 0.9.1;"),
        (
            99,
            None,
            "written by a newer nb201_flat than this one; .*read it with a newer nb201_flat",
        ),
        (0, None, "0: damaged, as no nb201_flat this one knows writes it"),
        (99, nb201_flat.__version__, "99: damaged, as no nb201_flat this one knows writes it"),
    ],
)
def test_a_tables_other_schema_names_its_writer(
    tmp_path: Path, schema: int, recorded: str | None, said: str
) -> None:
    out = save_table(Table(NB201, {(KEY, None): np.zeros(NB201.size)}), tmp_path / "t")
    _edit_manifest(out, schema_version=schema, nb201_flat_version=recorded)
    with pytest.raises(TableFileError, match=said) as info:
        load_saved_table(out)
    assert "that wrote it" not in str(info.value)
    assert f"this nb201_flat ({nb201_flat.__version__}) reads version 1" in str(info.value)


def _db(path: Path) -> Path:
    db = ResultsDB(path)
    db.write_epoch(RUN, 11472, 1, {"train": (2.3, 12.5, 1.5), "ori-test": (2.4, 11.5, 0.5)})
    db.mark_run(RUN, 11472, "done")
    db.close()
    return path


def _meta(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()


def _set_meta(path: Path, key: str, value: str | None) -> None:
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM meta WHERE key = ?", (key,))
        if value is not None:
            con.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
    con.close()


def test_a_new_results_database_records_its_writer_and_an_old_one_is_not_marked(
    tmp_path: Path,
) -> None:
    path = _db(tmp_path / "r.sqlite")
    assert _meta(path)[WRITTEN_BY] == nb201_flat.__version__
    # a file of a version that recorded none: a writer opening it adds no record (its schema
    # is not this version's doing, and its bytes would change with no run written)
    _set_meta(path, WRITTEN_BY, None)
    ResultsDB(path).done_keys()
    assert WRITTEN_BY not in _meta(path)
    assert 12.5 in load_results(path)["value"].tolist()


@pytest.mark.parametrize(
    ("schema", "recorded", "said"),
    [
        ("3", "0.3.0", r"'3', written by nb201_flat 0\.3\.0; .*read it with nb201_flat 0\.3\.0"),
        ("3", None, "'3', written by a newer nb201_flat than this one; .*read it with a newer"),
        ("0", None, "'0': damaged, or another program's file, .*copy it again"),
        ("3", nb201_flat.__version__, "'3': damaged, or another program's file"),
    ],
)
def test_a_results_databases_other_schema_names_its_writer(
    tmp_path: Path, schema: str, recorded: str | None, said: str
) -> None:
    path = _db(tmp_path / "r.sqlite")
    _set_meta(path, "schema_version", schema)
    _set_meta(path, WRITTEN_BY, recorded)
    for read in (load_results, lambda p: ResultsDB(p).done_keys()):
        with pytest.raises(FormatError, match=said) as info:
            read(path)
        assert "that wrote it" not in str(info.value)


@pytest.mark.parametrize("module", [storage, results_db], ids=["table", "results database"])
def test_a_new_schema_comes_with_a_new_version(module: object) -> None:
    """Each schema maps to the first version that writes it: a schema added without its entry,
    or with a version this package has not reached (or one an older schema has), fails here."""

    def number(version: str) -> tuple[int, ...]:
        return tuple(map(int, version.split(".")))

    since: dict[int, str] = module.SCHEMA_WRITTEN_SINCE  # type: ignore[attr-defined]
    assert max(since) == module.SCHEMA_VERSION  # type: ignore[attr-defined]
    versions = [number(since[schema]) for schema in sorted(since)]
    assert versions == sorted(set(versions))  # a later schema, a later version
    assert versions[-1] <= number(nb201_flat.__version__)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == nb201_flat.__version__


# -- 3. a relative $XDG_CACHE_HOME ---------------------------------------------------------------
def test_a_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """It named another cache in each working folder (relcache/nb201_flat under each)."""
    monkeypatch.delenv("NB201_FLAT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "rel")
    assert storage.cache_dir() == Path.home() / ".cache" / "nb201_flat"
    monkeypatch.setenv("XDG_CACHE_HOME", "/abs/xdg")
    assert storage.cache_dir() == Path("/abs/xdg/nb201_flat")
