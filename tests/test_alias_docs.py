"""Every public type alias says what it is, as Sphinx reads it: a ``#:`` comment on the line(s)
above it or a string right after it (a type alias has no ``__doc__`` of its own)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nb201_flat"


def _all_of(tree: ast.Module) -> set[str]:
    """The names of the module's ``__all__`` (none where it has none)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
    return set()


#: every name some module of the package exports (its ``__all__``), where it is defined or not
EXPORTED = frozenset().union(*(_all_of(ast.parse(p.read_text())) for p in PACKAGE.rglob("*.py")))


def _undocumented_aliases(
    path: Path, root: Path = PACKAGE.parent, exported: frozenset[str] = EXPORTED
) -> list[str]:
    """The type aliases ``path`` defines whose name is ``exported``, without a ``#:`` comment
    above or a string after."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    out = []
    for k, node in enumerate(tree.body):
        if not (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.annotation, ast.Name)
            and node.annotation.id == "TypeAlias"
            and node.target.id in exported
        ):
            continue
        above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
        after = tree.body[k + 1] if k + 1 < len(tree.body) else None
        string_after = (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        )
        if not (above.startswith("#:") or string_after):
            out.append(f"{path.relative_to(root)}:{node.lineno} {node.target.id}")
    return out


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_exported_type_aliases_are_documented(path: Path) -> None:
    assert _undocumented_aliases(path) == []


def test_the_check_sees_an_undocumented_alias(tmp_path: Path) -> None:
    # the check can fail: an alias under a plain comment is undocumented, not one under #:
    bad = tmp_path / "m.py"
    bad.write_text(
        '__all__ = ["A", "B"]\n# plain\nA: TypeAlias = int\n#: doc\nB: TypeAlias = str\n'
    )
    assert _undocumented_aliases(bad, tmp_path, frozenset({"A", "B"})) == ["m.py:3 A"]
