"""Arguments in the forms a user types (a fourteenth audit): a negative number in every form
``parse_float`` reads is a value (``--quantile -1e-3`` was "expected one argument", while
``--quantile=-1e-3`` got the range check); the program's own options given after a command
name where they go (``info -v`` pointed at ``info --help``, which lists none of them); a lone
``--`` ends the options of a command without positionals; ``import ./analognas`` is quoted as
typed (it was shown as the word that imports the embedded default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb201_flat.cli import main
from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("forms") / "t.nb201"))


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's error: one line, exit 2, as the command line sees
        code = exc.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("value", ["-1e-3", "-1E-3", "-.001", "-1.", "-inf", "-Infinity", "-nan"])
def test_a_negative_number_in_any_form_is_a_value(
    value: str, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["flatness", "--table", table, "--dataset", "cifar10", "--split", "ori-test"]
    line = _error(capsys, *argv, "--epochs", "200", "--agg", "quantile", "--quantile", value)
    assert "--quantile must lie in [0, 1]" in line, line


@pytest.mark.parametrize(
    ("option", "fix"),
    [
        ("-v", "nb201-flat -v info ..."),
        ("-vv", "nb201-flat -vv info ..."),
        ("--verbose", "nb201-flat --verbose info ..."),
        ("--version", "nb201-flat --version;"),
    ],
)
def test_the_programs_options_after_a_command_name_where_they_go(
    option: str, fix: str, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _error(capsys, "info", "--table", table, option)
    assert f"{option} is an option of nb201-flat itself" in line and fix in line, line


def test_a_lone_double_dash_ends_the_options(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "--table", table, "--"]) == 0
    assert main(["info", "--table", table]) == 0
    out = capsys.readouterr().out
    half = len(out) // 2
    assert out[:half] == out[half:]  # the same report twice


def test_a_path_named_like_the_embedded_default_is_quoted_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _error(capsys, "import", "./analognas", "--out", str(tmp_path / "t.nb201"))
    assert "no such file or folder: ./analognas (only the bare word `analognas`" in line, line
