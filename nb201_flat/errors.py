"""Domain exceptions. Every message says what is wrong and how to fix it.

The CLI turns any :class:`Nb201FlatError` into a one-line ``error: ...`` on stderr and exit
code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class Nb201FlatError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidArchError(Nb201FlatError, ValueError):
    """A malformed architecture string, index or op code."""


class UnknownKeyError(Nb201FlatError, LookupError):
    """A dataset, split, epochs, metric or seed the table does not hold."""

    def __str__(self) -> str:  # LookupError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


class TableFileError(Nb201FlatError, OSError):
    """A table file that is missing, truncated, corrupted, of another schema or format."""


class FormatError(Nb201FlatError, ValueError):
    """An input file whose format is not the one expected (or cannot be detected)."""


class MissingDependencyError(Nb201FlatError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class ArgumentError(Nb201FlatError, ValueError):
    """A value given to a function or a command option that it cannot use; says which would do."""


class SearchBudgetError(Nb201FlatError, RuntimeError):
    """A search asked for more than its budget or for data it may not see."""


def require(module: str, extra: str) -> None:
    """Raise :class:`MissingDependencyError` unless ``module`` can be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"this needs the optional dependency {module!r}; install it with "
            f"`pip install 'nb201-flat[{extra}]'`"
        )
