"""The README's "Use from Python" block runs as printed, on the embedded default table, and
each value its comments state is the value the line gives."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

# a comment that states a line's value: a Python literal in parentheses at its start
STATED = re.compile(r"#\s*(\([^)]*\))")


def python_block(heading: str) -> str:
    """The first ```python block after ``heading`` in the README."""
    text = README.read_text(encoding="utf-8")
    assert heading in text, f"README lost its section {heading!r}"
    after = text.split(heading, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_use_from_python_runs_and_gives_the_values_it_states(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)  # the block loads the default
    namespace: dict[str, Any] = {}
    stated = 0
    for line in python_block("## Use from Python").splitlines():
        code = line.split("#", 1)[0].strip()  # no line of the block has a '#' in a string
        if not code:
            continue
        tree = ast.parse(code)
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            value = eval(compile(ast.Expression(tree.body[0].value), "README", "eval"), namespace)
        else:
            exec(compile(tree, "README", "exec"), namespace)
            value = None
        match = STATED.search(line)
        if match:
            assert value == ast.literal_eval(match.group(1)), line
            stated += 1
    assert stated >= 2  # the official index and the radius-2 neighbour count
