"""The command line: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run

from nb201_flat.errors import TableFileError
from nb201_flat.space import NB201
from nb201_flat.storage import load_table, save_table
from nb201_flat.table import MetricKey, Table


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    v = np.linspace(10, 90, NB201.size)
    t = Table(
        NB201,
        {
            (MetricKey("cifar100", "x-valid", 200), None): v,
            # seeds around the mean (a mean outside its seeds is refused)
            (MetricKey("cifar100", "x-valid", 200), 0): v + 1,
            (MetricKey("cifar100", "x-valid", 200), 1): v - 1,
        },
        source="cli-test",
    )
    return save_table(t, tmp_path / "t.nb201")


def test_query_json(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "query",
        "11472",
        "--dataset",
        "cifar100",
        "--split",
        "x-valid",
        "--epochs",
        "200",
        "--seed",
        "0",
        "--table",
        str(table_path),
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["index"] == 11472 and payload["arch"] == NB201.arch(11472).to_str()
    assert payload["value"] == pytest.approx(np.linspace(10, 90, NB201.size)[11472] + 1)


def test_a_stored_infinity_is_refused_in_one_line_not_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # query printed "= inf" (and --json "inf") from a table holding a diverged loss; a table
    # now holds finite numbers only, so a folder written before that is refused when opened
    loss = np.linspace(0.1, 2.0, NB201.size)
    key = MetricKey("cifar10", "ori-test", 200, "loss")
    table = Table(NB201, {(key, None): loss}, source="inf")
    table.data[(key, None)] = np.where(np.arange(NB201.size) == 5, np.inf, loss)  # as stored
    with monkeypatch.context() as m:
        m.setattr(Table, "validate", lambda self: None)  # as an older version wrote it
        path = save_table(table, tmp_path / "t.nb201")
    argv = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "200", "--metric", "loss"]
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "query", "7", *argv, "--table", str(path), *extra)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"error: {path}: vector for {key} ")
        assert "(first at architecture 5)" in err and "Traceback" not in err


def test_query_by_string(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "query",
        NB201.arch(3).to_str(),
        "--dataset",
        "cifar100",
        "--split",
        "x-valid",
        "--epochs",
        "200",
        "--table",
        str(table_path),
        "--json",
    )
    assert code == 0 and json.loads(out)["index"] == 3


def test_info_json(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    code, out, _ = run(capsys, "info", "--table", str(table_path), "--json")
    payload = json.loads(out)
    assert code == 0 and payload["source"] == "cli-test" and payload["archs"] == 15625
    assert payload["keys"][0]["stored_seeds"] == [0, 1] and len(payload["table_sha256"]) == 64


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["query", "|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "unknown op 'bad'"),
        (["query", "|none~0|+|none~0|none~1|"], "node groups"),
        (["query", "99999"], "out of range"),
        (["query", "1", "--dataset", "cifar10"], "unknown dataset 'cifar10'"),
        (["query", "1", "--split", "x-test"], "unknown split 'x-test'"),
        (["query", "1", "--epochs", "12"], "unknown epochs 12"),
        (["query", "1", "--metric", "loss"], "unknown metric 'loss'"),
        (["query", "1", "--seed", "4"], "seed 4 is not stored"),
    ],
)
def test_bad_input_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], table_path: Path, argv: list[str], fragment: str
) -> None:
    defaults = {"--dataset": "cifar100", "--split": "x-valid", "--epochs": "200"}
    for flag, value in defaults.items():
        if flag not in argv:
            argv = [*argv, flag, value]
    code, out, err = run(capsys, *argv, "--table", str(table_path))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1


def test_missing_and_corrupt_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table_path: Path
) -> None:
    code, _, err = run(capsys, "info", "--table", str(tmp_path / "none"))
    assert code == 2 and "nb201-flat import SOURCE --out" in err
    (table_path / "table.parquet").write_bytes(b"x" * 10)
    code, _, err = run(capsys, "info", "--table", str(table_path))
    assert code == 2 and "checksum" in err


def test_empty_table_path_is_named_not_read_as_the_current_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it read the current folder and named a fix that import refuses (`--out .`)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "info", "--table", "")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "the table path '' is empty; pass --table PATH" in err and "--out ." not in err


def test_import_tidy_and_refuse_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    df = pd.DataFrame(
        {
            "index": [0, 1],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 200,
            "metric": "accuracy",
            "value": [1.0, 2.0],
        }
    )
    src = tmp_path / "t.csv"
    df.to_csv(src, index=False)
    out_dir = tmp_path / "out.nb201"
    code, out, _ = run(capsys, "import", str(src), "--out", str(out_dir), "--json")
    assert code == 0 and json.loads(out)["format"] == "tidy"
    code, _, err = run(capsys, "import", str(src), "--out", str(out_dir))
    assert code == 2 and "--force" in err
    code, out, _ = run(
        capsys,
        "query",
        "1",
        "--dataset",
        "cifar10",
        "--split",
        "ori-test",
        "--epochs",
        "200",
        "--table",
        str(out_dir),
        "--json",
    )
    assert json.loads(out)["value"] == 2.0
    manifest = json.loads((out_dir / "manifest.json").read_text())
    # what was typed: neither --format nor --force (the second import was refused)
    assert manifest["meta"]["import_command"] == shlex.join(
        ["nb201-flat", "import", str(src.resolve()), "--out", str(out_dir)]
    )


def test_damaged_import_names_a_rebuild_into_the_folder_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fix named `--out rel.nb201`, relative to the folder the import ran in
    work = tmp_path / "a dir"
    work.mkdir()
    pd.DataFrame(
        {"index": [0], "dataset": "cifar10", "split": "ori-test", "epochs": 200}
        | {"metric": "accuracy", "value": [1.0]}
    ).to_csv(work / "s.csv", index=False)
    monkeypatch.chdir(work)
    assert run(capsys, "import", "s.csv", "--out", "rel.nb201")[0] == 0
    with (work / "rel.nb201" / "table.parquet").open("ab") as f:
        f.write(b"x")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "info", "--table", "a dir/rel.nb201")
    assert code == 2 and err.count("\n") == 1
    fix = (
        "`nb201-flat import '"
        + str(work)
        + "/s.csv' --out 'a dir/rel.nb201' --force`"  # as typed: no --format
    )
    assert fix in err, err


def test_import_refuses_to_replace_the_folder_holding_its_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # --force replaced the table folder and deleted the source file kept inside it
    out_dir = tmp_path / "out.nb201"
    src = _one_row_tidy(tmp_path / "t.csv")
    assert run(capsys, "import", str(src), "--out", str(out_dir))[0] == 0
    inside = out_dir / "t.csv"
    inside.write_bytes(src.read_bytes())
    # without --force too: it said "exists; pass --force", then refused the --force it named
    for force in (["--force"], []):
        code, out, err = run(capsys, "import", str(inside), "--out", str(out_dir), *force)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "holds the source" in err and inside.read_bytes() == src.read_bytes()


def _one_row_tidy(path: Path) -> Path:
    """A tidy file of one measured cell: a source any import accepts."""
    pd.DataFrame(
        {"index": [0], "dataset": "cifar10", "split": "ori-test", "epochs": 200}
        | {"metric": "accuracy", "value": [1.0]}
    ).to_csv(path, index=False)
    return path


def test_import_into_a_folder_of_other_files_says_so_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # R1: it said "exists; pass --force", and --force then "not an nb201_flat table"
    src = _one_row_tidy(tmp_path / "t.csv")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "n.txt").write_text("x")
    for force in ([], ["--force"]):
        code, out, err = run(capsys, "import", str(src), "--out", str(folder), *force)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert "is a non-empty folder that is not an nb201_flat table" in err, err
        assert "--force" not in err and "choose another folder (--out)" in err, err
    assert [p.name for p in folder.iterdir()] == ["n.txt"]


def test_a_folder_without_a_manifest_gets_a_fix_import_accepts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # reading a folder with no manifest suggested `import ... --out FOLDER --force`, which
    # import then refused ("a non-empty folder that is not an nb201_flat table")
    src = _one_row_tidy(tmp_path / "t.csv")
    table = tmp_path / "table"
    assert run(capsys, "import", str(src), "--out", str(table))[0] == 0
    (table / "manifest.json").unlink()  # a table that lost its manifest: table files only
    code, out, err = run(capsys, "info", "--table", str(table))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "not a complete table" in err and "--force" in err, err
    code, out, err = run(capsys, "import", str(src), "--out", str(table), "--force")
    assert code == 0, err
    assert run(capsys, "info", "--table", str(table))[0] == 0
    # a folder of other files: no --force is offered, and import would refuse one
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "precious.txt").write_text("x")
    code, out, err = run(capsys, "info", "--table", str(notes))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "holds other files: not an nb201_flat table" in err and "--force" not in err, err
    assert (notes / "precious.txt").read_text() == "x"


def test_import_force_never_deletes_files_kept_in_a_table_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # --force replaced the whole folder: a results database and its checkpoints kept beside
    # the table were deleted with it
    src = _one_row_tidy(tmp_path / "t.csv")
    table = tmp_path / "table"
    assert run(capsys, "import", str(src), "--out", str(table))[0] == 0
    before = {p.name: p.read_bytes() for p in table.iterdir()}
    (table / "results.sqlite").write_text("precious")
    (table / "results.sqlite.ckpt").mkdir()
    code, out, err = run(capsys, "import", str(src), "--out", str(table), "--force")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "holds results.sqlite, results.sqlite.ckpt besides its table" in err, err
    assert err.rstrip().endswith("move them out of the folder, or choose another folder (--out)")
    assert (table / "results.sqlite").read_text() == "precious"
    assert {p.name: p.read_bytes() for p in table.iterdir() if p.is_file()} == {
        **before,
        "results.sqlite": b"precious",
    }
    # the same rule in Python, and once they are moved out the table is replaced
    with pytest.raises(TableFileError, match="besides its table"):
        save_table(load_table(table), table)
    (table / "results.sqlite").unlink()
    (table / "results.sqlite.ckpt").rmdir()
    assert run(capsys, "import", str(src), "--out", str(table), "--force")[0] == 0


def test_import_wrong_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("hello")
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"))
    assert code == 2 and "--format" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("extra", [[], ["--format", "tidy"], ["--force"]])
@pytest.mark.parametrize("source", ["", " "])
def test_import_of_an_empty_source_is_refused_as_empty(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    extra: list[str],
) -> None:
    # Path("") is the current folder: "cannot tell the format of ."
    monkeypatch.chdir(tmp_path)
    (tmp_path / "o").mkdir()
    code, _, err = run(capsys, "import", source, "--out", "o", *extra)
    assert code == 2 and err == (
        "error: the source path is empty; give the file or folder to import (or the word "
        "`analognas` for the embedded default)\n"
    )


def test_figures_empty_out_is_refused_as_empty(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, _, err = run(capsys, "figures", "--out", "", "--table", str(table_path))
    assert code == 2 and err == "error: --out is empty; give a folder path such as results/out\n"


def test_import_unsafe_pickle_flag_on_a_format_that_ignores_it_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a tidy file imported with --allow-unsafe-pickle: the flag was silently ignored
    src = _one_row_tidy(tmp_path / "t.csv")
    argv = ["import", str(src), "--out", str(tmp_path / "o"), "--allow-unsafe-pickle"]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "nb201-pth and nats-tss" in err and "drop it" in err
    assert not (tmp_path / "o").exists()


def test_subprocess_entry_points(table_path: Path) -> None:
    """The console script and `python -m` give exit code 2 and no traceback on bad input."""
    for cmd in (["-m", "nb201_flat"],):
        res = subprocess.run(
            [
                sys.executable,
                *cmd,
                "query",
                "|x~0|",
                "--dataset",
                "d",
                "--split",
                "s",
                "--epochs",
                "1",
                "--table",
                str(table_path),
            ],
            capture_output=True,
            text=True,
        )
        assert (
            res.returncode == 2
            and "Traceback" not in res.stderr
            and res.stderr.startswith("error:")
        )
    res = subprocess.run(
        [sys.executable, "-m", "nb201_flat", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "import" in res.stdout


def test_help_does_not_import_torch() -> None:
    code = "import sys, nb201_flat.cli as c; c.build_parser(); print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_each_command_registers_from_the_module_named_for_it() -> None:
    import argparse
    import importlib

    from nb201_flat.cli import _COMMAND_MODULES, COMMANDS, build_parser

    found: dict[str, str] = {}
    for name in _COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        found.update(dict.fromkeys(sub.choices, name))
    assert found == COMMANDS  # a new command must be named in COMMANDS

    def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return dict(action.choices)

    def options(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
        return [(a.dest, *a.option_strings) for a in parser._actions]

    every = commands(build_parser())
    assert list(every) == list(COMMANDS)  # help lists every command, in the modules' order
    assert list(commands(build_parser("no-such-command"))) == list(COMMANDS)  # typos too
    for command in COMMANDS:
        # a command's own parser, built alone, takes the same options as in the full one
        own = commands(build_parser(command))
        assert command in own and set(own) <= set(COMMANDS)
        assert options(own[command]) == options(every[command])
