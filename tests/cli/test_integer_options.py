"""Integer options take the digits 0-9 (a minus sign before a negative number), as ARCH does:
``int()`` also read ``1_0`` as 10, an Arabic-Indic ``١`` as 1, a padded `` 5`` and ``+5``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from cli_helpers import run

from nb201_flat.cli import COMMANDS, build_parser, main
from nb201_flat.cli.common import parse_int, parse_seed, subparser
from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table

ODD = ["1_0", "\u0661", " 5", "+5", "5 ", "0x10", "1e3", "", "-"]


def integer_options() -> Iterator[tuple[str, argparse.Action]]:
    """(command, action) of every option of every command whose value is an integer."""
    for command in COMMANDS:
        parser = subparser(build_parser(command), command)
        for action in parser._actions:
            if action.option_strings and action.type in (int, parse_int, parse_seed):
                yield command, action


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one error line of ``nb201-flat ARGV``, refused by its parser (exit code 2)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_every_integer_option_reads_its_digits_by_the_one_rule() -> None:
    found = list(integer_options())
    assert len(found) > 30  # --epochs, --top, --runs, --seed, --jobs, ... of every command
    assert [f"{c} {a.option_strings[0]}" for c, a in found if a.type is int] == []
    for text, value in (("10", 10), ("007", 7), ("-3", -3)):  # what int() reads alike
        assert parse_int(text) == value == parse_seed(text)


@pytest.mark.parametrize("text", ODD)
def test_each_integer_option_refuses_other_spellings_naming_itself(
    capsys: pytest.CaptureFixture[str], text: str
) -> None:
    for command, action in integer_options():
        option = action.option_strings[-1]
        line = refusal(capsys, command, f"{option}={text}")
        assert f"argument {'/'.join(action.option_strings)}: " in line, line
        assert "digits 0-9" in line and repr(text) in line, line


def test_a_seed_policy_in_other_digits_is_not_served_as_a_seed(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = str(save_table(synthetic_table(), tmp_path_factory.mktemp("t") / "t.nb201"))
    key = ("--dataset", "cifar10-valid", "--split", "x-valid", "--epochs", "200")
    line = refusal(capsys, "query", "1", *key, "--seed-policy", "\u0661", "--table", path)
    assert "argument --seed-policy: seed must be 'mean', 'random' or a seed number" in line
    code, out, err = run(capsys, "query", "1", *key, "--seed-policy", "1", "--table", path)
    assert code == 0 and "[1] = " in out, err
