"""An option given twice is refused, never half-read (argparse keeps the last value and drops
the earlier one unsaid): every command's every option is walked, so a new one cannot miss it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from nb201_flat.cli import COLLECTING, build_parser, main
from nb201_flat.cli.common import RenamedFlag

# actions that take no value, or answer and exit: a repeat changes nothing
_NO_VALUE = (
    argparse._StoreConstAction,  # store_true / store_false too
    argparse._HelpAction,
    argparse._VersionAction,
    argparse._SubParsersAction,
)


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options() -> Iterator[tuple[str, argparse.Action]]:
    """(command, action) of every option that takes a value or is a --x/--no-x pair."""
    for command, parser in _commands().items():
        for action in parser._actions:
            if action.option_strings and not isinstance(action, _NO_VALUE):
                yield command, action


def _value(action: argparse.Action, nth: int) -> list[str]:
    """Words the option's type and choices accept (the nth choice where there are several)."""
    if isinstance(action, argparse.BooleanOptionalAction):
        return []
    if action.choices:
        choices = [str(c) for c in action.choices]
        word = choices[nth % len(choices)]
    else:
        word = None
        for candidate in (str(nth + 1), f"0.{nth + 5}", f"w{nth}"):
            try:
                (action.type or str)(candidate)
            except (TypeError, ValueError, argparse.ArgumentTypeError):
                continue
            word = candidate
            break
        assert word is not None, f"no sample value for {action.option_strings}"
    count = action.nargs if isinstance(action.nargs, int) else 1
    return [word] * count


def test_every_option_with_a_value_refuses_a_repeat_or_collects() -> None:
    """Introspection: each option with a value stores once (refusing a repeat) or says that it
    collects its occurrences (append, extend, count); none keeps argparse's plain store."""
    plain = [
        f"{command} {action.option_strings[0]}"
        for command, action in _options()
        if type(action) in (argparse._StoreAction, argparse.BooleanOptionalAction)
    ]
    assert plain == []
    assert any(isinstance(a, COLLECTING) for _, a in _options())  # --arch, --only: kept


@pytest.mark.parametrize(
    ("command", "option"),
    [(c, a.option_strings[-1]) for c, a in _options() if not isinstance(a, COLLECTING)],
)
def test_option_given_twice_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], command: str, option: str
) -> None:
    parser = _commands()[command]
    action = next(a for a in parser._actions if option in a.option_strings)
    if isinstance(action, argparse.BooleanOptionalAction):
        words = [action.option_strings[0], action.option_strings[-1]]
    else:
        words = [option, *_value(action, 0), option, *_value(action, 1)]
    with pytest.raises(SystemExit) as exit_:
        main([command, *words])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    if isinstance(action, RenamedFlag):  # an old spelling says so each time it is read
        said = f"warning: {option} is now "
        assert [x for x in lines if x.startswith(said)] == lines[:2], lines
        lines = lines[2:]
    assert len(lines) == 1, lines
    assert " given twice (" in lines[0] and f"see nb201-flat {command} --help" in lines[0]


def test_the_refusal_names_both_values_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--algo", "rs", "--algo", "rea"])
    assert capsys.readouterr().err == (
        "error: nb201-flat search: --algo given twice (rs, rea); give it once; "
        "see nb201-flat search --help\n"
    )
    with pytest.raises(SystemExit):  # a list option: the one occurrence with every value
        main(["figures", "--formats", "svg", "--formats", "png"])
    assert "--formats given twice (svg, png); give it once with every value: --formats svg png" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):  # a name from a fixed set is suggested once
        main(["figures", "--formats", "png", "--formats", "png", "pdf"])
    assert "give it once with every value: --formats png pdf;" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [  # the audit's cases: each ran on the last value alone, exit code 0
        (["train", "0", "--dataset", "cifar10", "--data-root", "d", "--db", "r.sqlite",
          "--seeds", "5", "--seeds", "6"], "--seeds given twice (5, 6)"),
        (["train", "0", "--dataset", "cifar10", "--data-root", "d", "--db", "r.sqlite",
          "--ops", "none", "skip_connect", "--ops", "nor_conv_3x3"],
         "--ops given twice (none skip_connect, nor_conv_3x3); give it once with every value: "
         "--ops none skip_connect nor_conv_3x3"),
        (["figures", "--out", "f", "--formats", "svg", "--formats", "png"],
         "--formats given twice (svg, png)"),
        (["query", "0", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "12",
          "--epochs", "200"], "--epochs given twice (12, 200); give it once"),
        (["import", "analognas", "--out", "i1", "--out", "i2"], "--out given twice (i1, i2)"),
    ],
)  # fmt: skip
def test_the_audited_repeats_are_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    said: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written: checked below
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and said in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_collecting_options_still_collect() -> None:
    args = build_parser("flatness").parse_args(
        [
            "flatness",
            "--dataset",
            "d",
            "--split",
            "s",
            "--epochs",
            "1",
            "--arch",
            "0",
            "--arch",
            "1",
        ]
    )
    assert args.arch == ["0", "1"]
    args = build_parser("figures").parse_args(
        ["figures", "--out", "f", "--only", "a2m_paths", "--only", "barrier_tree"]
    )
    assert args.only == ["a2m_paths", "barrier_tree"]
    assert "_nb201_flat_given" not in vars(args)  # the parse's bookkeeping is no option
