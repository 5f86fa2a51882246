"""One vocabulary for the way out of a refusal: a library message names the function a Python
caller uses (errors.Call: ``save_table``, ``load_table(PATH)``), never a command; the command
line respells it as its own command or flag (cli.common.CALLS, through error_line)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pickle
import re
from pathlib import Path

import pytest

import nb201_flat
from nb201_flat.cli import main
from nb201_flat.cli.common import CALLS
from nb201_flat.errors import Call, MissingDependencyError, Param, TableFileError
from nb201_flat.storage import load_saved_table, load_table, save_table
from nb201_flat.testing import synthetic_table


def _error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2 and out == "", err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.removeprefix("error: ").rstrip("\n")


def test_every_call_the_library_names_has_a_command_line_spelling() -> None:
    package = Path(nb201_flat.__file__).parent
    named = {
        name
        for path in package.rglob("*.py")
        if "cli" not in path.relative_to(package).parts
        for name in re.findall(r"\bCall\(\s*\"([^\"]+)\"", path.read_text())
    }
    assert {"load_table", "save_table", "Table.info"} <= named  # the scan finds them
    assert named <= CALLS.keys(), named - CALLS.keys()


def test_a_missing_table_names_save_table_and_the_command_its_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(TableFileError) as exc:
        load_table(missing)
    said = str(exc.value)
    assert said == f"no table at {missing}; create it with save_table"
    assert "nb201-flat" not in said and "--" not in said
    line = _error_line(capsys, "info", "--table", str(missing))
    assert line == f"no table at {missing}; create it with `nb201-flat import SOURCE --out TABLE`"


def test_a_file_for_a_table_names_the_importer_and_the_command_its_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "x.csv"
    file.write_text("a,b\n")
    with pytest.raises(TableFileError) as exc:
        load_saved_table(file)
    assert str(exc.value).endswith("import it first with nb201_flat.importers.import_table")
    line = _error_line(capsys, "info", "--table", str(file))
    assert line.endswith("import it first with `nb201-flat import SOURCE --out TABLE`")
    assert "nb201_flat." not in line


def test_an_empty_table_path_names_save_table_or_the_import_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(TableFileError) as exc:
        load_table("")
    assert "pass path=PATH (a folder written by save_table), or neither" in str(exc.value)
    line = _error_line(capsys, "info", "--table", "")
    assert "pass --table PATH (a folder written by `nb201-flat import SOURCE --out TABLE`)" in line


def _without_analog_nasbench(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """No table given, no cache and no analog-nasbench: the embedded default cannot be built."""
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_CACHE", str(cache))
    real = importlib.util.find_spec

    def find_spec(name: str, *a: object, **k: object) -> object:
        return None if name == "analognasbench" else real(name, *a, **k)  # type: ignore[arg-type]

    def files(name: str) -> object:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(importlib.metadata, "files", files)


def test_a_missing_embedded_default_names_load_table_or_the_table_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_analog_nasbench(monkeypatch, tmp_path / "cache")
    with pytest.raises(MissingDependencyError) as exc:
        load_table()
    said = str(exc.value)
    assert said.endswith("(or open an imported table: load_table(PATH) or $NB201_FLAT_TABLE)")
    assert "--" not in said.replace("pip install", "")
    # the error keeps its parts through a worker's pickle, as every ParamMessage
    assert pickle.loads(pickle.dumps(exc.value)).parts == exc.value.parts
    line = _error_line(capsys, "info")
    assert line.startswith("the embedded default table needs the PyPI package analog-nasbench")
    assert line.endswith("(or open an imported table: --table PATH or $NB201_FLAT_TABLE)")


def test_importing_analognas_without_the_package_names_a_path_not_the_table_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an import makes a table: the way out is the package's file by its path, not --table
    from nb201_flat.importers import import_table

    _without_analog_nasbench(monkeypatch, tmp_path / "cache")
    with pytest.raises(MissingDependencyError) as exc:
        import_table("analognas")
    said = str(exc.value)
    assert said.startswith("importing `analognas` reads the PyPI package analog-nasbench")
    assert said.endswith("by path: nb201_flat.importers.import_table(PATH))")
    line = _error_line(capsys, "import", "analognas", "--out", str(tmp_path / "x"))
    assert line.endswith("by path: `nb201-flat import SOURCE --out TABLE`)")
    assert "--table" not in line and not (tmp_path / "x").exists()


def test_an_imported_table_given_to_import_names_load_table_or_the_table_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.importers import import_table

    keep = save_table(synthetic_table(), tmp_path / "keep.nb201")
    with pytest.raises(FormatError) as exc:
        import_table(keep)
    assert f"use it as it is (load_table({str(keep)!r}))" in str(exc.value)
    line = _error_line(capsys, "import", str(keep), "--out", str(tmp_path / "x"))
    assert f"use it as it is (--table {str(keep)!r})" in line and "load_table" not in line


def test_an_unknown_key_names_table_info_or_the_info_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from nb201_flat.errors import UnknownKeyError

    table = synthetic_table()
    with pytest.raises(UnknownKeyError) as exc:
        table.vector("nodata", "ori-test", 200)
    assert str(exc.value).endswith("(see Table.info)")
    path = save_table(table, tmp_path / "t.nb201")
    argv = ["query", "0", "--dataset", "nodata", "--split", "ori-test", "--epochs", "200"]
    line = _error_line(capsys, *argv, "--table", str(path))
    assert line.endswith("(see `nb201-flat info`)") and "Table.info" not in line


def test_a_call_is_spelled_as_the_call() -> None:
    assert str(Call("load_table", placeholder="PATH")) == "load_table(PATH)"
    assert str(Call("save_table")) == "save_table"
    assert Call("save_table") != Param("save_table")  # a function, not a parameter
