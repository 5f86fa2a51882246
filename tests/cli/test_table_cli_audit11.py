"""An eleventh audit of ``import`` and ``info``: a table folder whose name holds a byte that is
not UTF-8 is written (pyarrow was handed the path, which it encodes as UTF-8); messages about
the tidy columns and a rebuild point at a help every install has, not the repository's
data README; ``import analognas --format tidy`` says the word is the embedded default, not
"no such file"; a source changed since the table at --out was imported from it is named by a
warning when it is imported again, and the rebuild hint names the digest it had; ``info`` shows
the source file and its sha256, and calls the parquet's digest the table's."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_exit_2, run

import nb201_flat
from nb201_flat.cli import main
from nb201_flat.curves import Curves
from nb201_flat.errors import FormatError
from nb201_flat.importers import FORMATS
from nb201_flat.space import NB201
from nb201_flat.storage import PARQUET, load_saved_table, save_table
from nb201_flat.table import TIDY_COLUMNS, TIDY_OPTIONAL_COLUMNS, MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)
QUERY = ("query", "0", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
NOT_UTF8 = os.fsdecode(b"t\xff")  # as the command line keeps such a name: a surrogate escape


def _tidy_csv(path: Path, value: float) -> Path:
    lines = ["index,dataset,split,epochs,seed,metric,value"]
    lines += [f"{i},cifar10,ori-test,200,,accuracy,{value + i}" for i in (0, 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damage(table: Path) -> None:
    raw = bytearray((table / PARQUET).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (table / PARQUET).write_bytes(bytes(raw))


def _value(capsys: pytest.CaptureFixture[str], table: Path) -> str:
    code, out, err = run(capsys, *QUERY, "--table", str(table))
    assert code == 0, err
    return out.rsplit("=", 1)[1].strip()


# -- a folder name that is not UTF-8 -----------------------------------------------------------
def test_import_into_a_folder_named_with_a_byte_not_utf8_reads_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # was a UnicodeEncodeError traceback, exit 1, in save_table's pq.write_table
    src, out = _tidy_csv(tmp_path / "src.csv", 80.0), tmp_path / NOT_UTF8
    code, _, err = run(capsys, "import", str(src), "--out", str(out))
    assert code == 0, err
    assert os.listdir(os.fsencode(tmp_path)).count(b"t\xff") == 1
    code, out_text, err = run(capsys, "info", "--table", str(out))
    assert code == 0 and "table.parquet sha256" in out_text, err
    assert _value(capsys, out) == "80.0000"


def test_a_table_with_curves_under_such_a_name_reads_back(tmp_path: Path) -> None:
    table = Table(NB201, {(KEY, None): np.linspace(1.0, 90.0, NB201.size)}, source="curves")
    table.curves = Curves(NB201.size, {(KEY, None): np.full((NB201.size, 3), 7.0)})
    save_table(table, tmp_path / "ascii")
    os.rename(tmp_path / "ascii", tmp_path / NOT_UTF8)
    loaded = load_saved_table(tmp_path / NOT_UTF8)
    assert loaded.curves is not None and loaded.curves.curve(KEY)[5].tolist() == [7.0] * 3


def test_a_table_with_curves_saves_under_such_a_name(tmp_path: Path) -> None:
    table = Table(NB201, {(KEY, None): np.linspace(1.0, 90.0, NB201.size)}, source="curves")
    table.curves = Curves(NB201.size, {(KEY, None): np.full((NB201.size, 3), 7.0)})
    save_table(table, tmp_path / NOT_UTF8)
    assert load_saved_table(tmp_path / NOT_UTF8).curves is not None


# -- the help the messages name ----------------------------------------------------------------
HELP = "`nb201-flat import --help`"


def _names_no_missing_file(line: str) -> None:
    """The message names no file a user of the installed package lacks (data/README.md)."""
    files = re.findall(r"[\w./-]+\.md\b", line)
    assert not files, line


def test_import_help_describes_every_tidy_column(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    out = capsys.readouterr().out
    epilog = out[out.index("the tidy format") :]
    for column in (*TIDY_COLUMNS, *TIDY_OPTIONAL_COLUMNS):
        assert re.search(rf"\b{column}\b", epilog), column
    assert max(map(len, epilog.splitlines())) <= 80


def test_an_unknown_tidy_column_names_the_import_help(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "seeds.csv"
    src.write_text(
        "index,dataset,split,epochs,seeds,metric,value\n0,cifar10,ori-test,200,,accuracy,1\n"
    )
    line = one_line_exit_2(capsys, "import", str(src), "--out", str(tmp_path / "t"))
    assert "not a tidy column" in line and HELP in line
    _names_no_missing_file(line)


def test_a_missing_tidy_column_names_the_import_help() -> None:
    frame = pd.DataFrame({"index": [0], "dataset": ["cifar10"], "value": [1.0]})
    with pytest.raises(FormatError) as info:
        Table.from_tidy(frame)
    assert "lacks column(s)" in str(info.value) and HELP in str(info.value)
    _names_no_missing_file(str(info.value))


def test_a_rebuild_with_no_stored_command_names_save_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a table built in Python records no import: `import SOURCE` named a file there is none of
    table = Table(NB201, {(KEY, None): np.linspace(1.0, 90.0, NB201.size)}, source="memory")
    folder = save_table(table, tmp_path / "t")
    _damage(folder)
    line = one_line_exit_2(capsys, "info", "--table", str(folder))
    assert "import SOURCE" not in line and f"save_table(table, {str(folder)!r})" in line
    _names_no_missing_file(line)


def test_no_module_names_the_repository_data_readme() -> None:
    package = Path(nb201_flat.__file__).parent
    hits = [p for p in package.rglob("*.py") if "data/README.md" in p.read_text()]
    assert not hits


# -- the word analognas with another --format ----------------------------------------------------
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "analognas"])
def test_the_word_analognas_with_another_format_names_both_fixes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no file called analognas here
    # was "no such file or folder: analognas", the word read as a path
    line = one_line_exit_2(capsys, "import", "analognas", "--out", "X", "--format", fmt)
    assert "embedded default" in line and f"no {fmt} file" in line
    assert "drop --format or pass --format analognas" in line
    assert "no such file" not in line and not (tmp_path / "X").exists()


def test_a_file_called_analognas_is_named_as_a_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _tidy_csv(tmp_path / "analognas", 50.0)
    line = one_line_exit_2(capsys, "import", "analognas", "--out", "X", "--format", "tidy")
    assert line.endswith("(the file analognas here: pass it as ./analognas)")
    # the fix it names reads the file (whose name a tidy table never has)
    line = one_line_exit_2(capsys, "import", "./analognas", "--out", "X", "--format", "tidy")
    assert line.startswith("error: analognas: tidy tables are .parquet, ")


# -- a source changed since the table was imported from it ---------------------------------------
def _changed(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "changed" in r.getMessage()]


def test_reimport_with_force_warns_when_the_source_changed(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    src, out = _tidy_csv(tmp_path / "src.csv", 91.25), tmp_path / "T.nb201"
    assert run(capsys, "import", str(src), "--out", str(out))[0] == 0
    old = _sha(src)
    _tidy_csv(src, 12.0)
    with caplog.at_level(logging.WARNING):
        code, _, err = run(capsys, "import", str(src), "--out", str(out), "--force")
    assert code == 0, err  # the rebuild asked for is done
    (message,) = _changed(caplog)
    assert "\n" not in message and str(src) in message
    assert f"sha256 {old[:12]}" in message and f"sha256 {_sha(src)[:12]}" in message
    assert "now holds the changed file's values" in message
    assert _value(capsys, out) == "12.0000"


def test_the_rebuild_a_damaged_table_names_warns_of_a_changed_source(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    src, out = _tidy_csv(tmp_path / "src.csv", 91.25), tmp_path / "T.nb201"
    assert run(capsys, "import", str(src), "--out", str(out))[0] == 0
    old = _sha(src)
    _tidy_csv(src, 55.5)
    _damage(out)
    line = one_line_exit_2(capsys, *QUERY, "--table", str(out))
    # the hint says which bytes the table was built from
    assert f"its source's sha256 began {old[:12]} at that import" in line
    command = re.search(r"rebuild it with `([^`]*)`", line)
    assert command is not None, line
    with caplog.at_level(logging.WARNING):
        code, _, err = run(capsys, *shlex.split(command.group(1))[1:])
    assert code == 0, err
    (message,) = _changed(caplog)
    assert old[:12] in message and _sha(src)[:12] in message
    assert _value(capsys, out) == "55.5000"


def test_an_unchanged_source_or_another_file_is_reimported_without_a_warning(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    src, out = _tidy_csv(tmp_path / "src.csv", 91.25), tmp_path / "T.nb201"
    other = _tidy_csv(tmp_path / "other.csv", 10.0)
    assert run(capsys, "import", str(src), "--out", str(out))[0] == 0
    with caplog.at_level(logging.WARNING):
        assert run(capsys, "import", str(src), "--out", str(out), "--force")[0] == 0
        assert run(capsys, "import", str(other), "--out", str(out), "--force")[0] == 0
    assert not _changed(caplog)


# -- info: the source file and its digest, apart from the table's -------------------------------
def test_info_shows_the_source_file_and_its_sha256_apart_from_the_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src, out = _tidy_csv(tmp_path / "src.csv", 91.25), tmp_path / "T.nb201"
    assert run(capsys, "import", str(src), "--out", str(out))[0] == 0
    code, text, err = run(capsys, "info", "--table", str(out))
    assert code == 0, err
    lines = text.splitlines()
    assert f"source file    {os.path.realpath(src)}" in lines
    assert f"source sha256  {_sha(src)}" in lines
    assert f"table.parquet sha256  {_sha(out / PARQUET)}" in lines
    assert not [line for line in lines if line.startswith("sha256")]  # read as the source's
    code, text, err = run(capsys, "info", "--table", str(out), "--json")
    assert code == 0, err
    payload = json.loads(text)
    assert payload["source_file"] == os.path.realpath(src)
    assert payload["source_sha256"] == _sha(src)
    assert payload["table_sha256"] == _sha(out / PARQUET)


def test_info_of_a_table_that_records_no_source_makes_none_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = Table(NB201, {(KEY, None): np.linspace(1.0, 90.0, NB201.size)}, source="memory")
    folder = save_table(table, tmp_path / "t")
    code, text, err = run(capsys, "info", "--table", str(folder))
    assert code == 0, err
    assert "source file    not recorded" in text.splitlines()
    assert "source sha256  not recorded" in text.splitlines()
    payload = json.loads(run(capsys, "info", "--table", str(folder), "--json")[1])
    assert payload["source_file"] is None and payload["source_sha256"] is None


def test_info_of_one_set_of_values_over_other_ops_names_the_ops(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the parquet digest covers the values, not the space: two tables over other ops shared the
    # line once labelled the table's digest, and their space lines were identical
    from nb201_flat.space import Space

    key = MetricKey("cifar10", "ori-test", 200)
    texts = []
    for name, ops in (
        ("a", ("none", "skip_connect", "nor_conv_3x3")),
        ("b", ("foo", "none", "bar")),
    ):
        space = Space(ops, 3)
        table = Table(space, {(key, None): np.linspace(10.0, 90.0, space.size)}, source=name)
        save_table(table, tmp_path / f"{name}.nb201")
        code, text, err = run(capsys, "info", "--table", str(tmp_path / f"{name}.nb201"))
        assert code == 0, err
        texts.append(text.splitlines())
    (a_sha,), (b_sha,) = ([x for x in t if x.startswith("table.parquet sha256")] for t in texts)
    assert a_sha == b_sha  # the same values
    assert "space   27 archs, 3 ops (none, skip_connect, nor_conv_3x3), 3 nodes" in texts[0]
    assert "space   27 archs, 3 ops (foo, none, bar), 3 nodes" in texts[1]
