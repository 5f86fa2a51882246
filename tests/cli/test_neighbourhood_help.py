"""Each command's help states the neighbourhood its own code builds when no flag is given.

``reproduce --help`` said "distance exactly 1, the cell itself excluded" and marked
``--exact (default)`` and ``--no-self (default)``, while reproduce's base objective is the NA
paper's (every cell within the radius, the cell itself included): ``reproduce --quick
--radius 2`` ran ``na-rs[r2,mean,self,free]``.
"""

from __future__ import annotations

import argparse
import re

import pytest

from nb201_flat.cli import build_parser
from nb201_flat.cli.common import neighbourhood_from_args
from nb201_flat.cli.search import _reproduce_config, _search_algorithm
from nb201_flat.neighbourhood import NA_PAPER, Neighbourhood
from nb201_flat.search.algorithms import (
    LocalSearch,
    NARandomSearch,
    NeighbourObjective,
    RegularizedEvolution,
)

KEY = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser(argv[0]).parse_args(argv)


def _used(command: str, *flags: str) -> list[Neighbourhood]:
    """The neighbourhood(s) the command's own code builds from ``flags``."""
    if command == "flatness":  # as cmd_flatness builds it
        return [neighbourhood_from_args(_parse(["flatness", *KEY, *flags]))]
    if command == "search":
        out = []
        for algo in ("na-rs", "na-rea", "na-ls"):
            made = _search_algorithm(_parse(["search", "--algo", algo, *flags]))
            assert isinstance(made, NARandomSearch | RegularizedEvolution | LocalSearch)
            assert isinstance(made.objective, NeighbourObjective)
            out.append(made.objective.neighbourhood)
        return out
    return [
        _reproduce_config(_parse(["reproduce", "--out", "x", *quick, *flags])).base.neighbourhood
        for quick in ([], ["--quick"])
    ]


def _help(command: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: no wrapping to undo
    sub = build_parser(command)._subparsers
    assert sub is not None
    action = next(a for a in sub._group_actions if isinstance(a, argparse._SubParsersAction))
    return str(action.choices[command].format_help())


def _option(text: str, flag: str) -> str:
    """The help of ``flag``: from its line to the next option."""
    m = re.search(rf"^  {re.escape(flag)}\b(.*?)(?=^  -|^$|\Z)", text, re.M | re.S)
    assert m is not None, (flag, text)
    return " ".join(m.group(1).split())


@pytest.mark.parametrize("command", ["flatness", "search", "reproduce"])
def test_help_states_the_neighbourhood_the_command_builds(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = _used(command)
    spec = used[0]
    assert all(u == spec for u in used), used  # one default per command
    text = _help(command, monkeypatch)
    stated = re.search(r"^  default: (.*)$", text, re.M)
    assert stated is not None, text
    words = stated.group(1)
    # the group's summary, read independently of how the help is written
    assert (f"distance exactly {spec.radius}" in words) == spec.exact, words
    assert (f"within distance {spec.radius}" in words) == (not spec.exact), words
    assert ("itself included" in words) == spec.include_self, words
    assert ("itself excluded" in words) == (not spec.include_self), words
    assert ("the NA paper's neighbourhood)" in words) == (spec == NA_PAPER), words
    # each flag's "(default)" marks the value the spec holds
    marked = {
        "--exact": spec.exact,
        "--within": not spec.exact,
        "--include-self": spec.include_self,
        "--no-self": not spec.include_self,
        "--no-none": spec.no_none,
        "--connected-only": spec.connected_only,
    }
    for flag, is_default in marked.items():
        assert _option(text, flag).endswith("(default)") == is_default, (flag, text)
    assert _option(text, "--radius").endswith(f"(default {spec.radius})")
    assert _option(text, "--agg").endswith(f"(default {spec.agg})")
    assert _option(text, "--quantile").endswith(f"(default {spec.quantile:g})")


def test_the_defaults_differ_where_the_commands_differ() -> None:
    # what the help must tell apart: reproduce builds on the NA paper's neighbourhood
    assert _used("reproduce") == [NA_PAPER, NA_PAPER]
    assert _used("search") == [Neighbourhood()] * 3 == _used("flatness") * 3
    # a flag changes only its own field of that base
    two = _used("reproduce", "--radius", "2")
    assert two == [Neighbourhood(radius=2, exact=False, include_self=True)] * 2
    assert _used("search", "--radius", "2") == [Neighbourhood(radius=2)] * 3
