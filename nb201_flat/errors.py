"""Domain exceptions, all of them, and the small checks that raise them. Every message says what
is wrong and how to fix it.

The CLI turns any :class:`Nb201FlatError` into a one-line ``error: ...`` on stderr and exit
code 2; anything else is a bug and keeps its traceback.

The tree, by what went wrong:

- :class:`ArgumentError` -- a value given to a function or an option it cannot use (the
  ``check_*`` helpers below raise it). The names ``LandscapeArgumentError``,
  ``AlgorithmError``, ``RecipeError`` and ``ExecutorSpecError`` are aliases of it, kept
  importable from their old modules.
- :class:`InvalidArchError` -- a malformed architecture string, index or op code.
- :class:`UnknownKeyError` -- a key the table does not hold (:class:`NoCurvesError`: no
  per-epoch curves; :class:`ConstraintError`: no architecture meets a constraint);
  :class:`ProtocolError` -- a search protocol the table cannot serve.
- :class:`MissingValueError`, :class:`NoPathError` -- the landscape has no answer.
- :class:`SearchBudgetError` -- the budgeted oracle: :class:`SearchEnded`
  (:class:`BudgetExhausted`, :class:`SearchStalled`) and :class:`HiddenDataError`.
- :class:`TableFileError`, :class:`FormatError`, :class:`ResultsDBError`
  (:class:`ResultsDBFullError`: no room to write it),
  :class:`DatasetNotFoundError`, :class:`DownloadError`,
  :class:`CheckpointMismatchError`, :class:`RunLockedError` -- files and folders;
  :class:`DatasetSizeError` -- a training dataset of another size than NB201's;
  :class:`DataMismatchError` -- dataset files other than those a run was trained on.
- :class:`ResourceLimitError` -- a request too big for this machine's memory.
- :class:`MissingDependencyError` -- an optional extra is not installed.
- :class:`FigureSkipped` -- a figure this table cannot serve (not an error of the user's).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import errno
import math
import numbers
import os
import re
import reprlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, TypeVar

_T = TypeVar("_T")

# a write that failed for want of room: on the disk, in the user's quota, or under the
# file-size limit (``ulimit -f``); the writers and the command line say the same of each
FULL: Final = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class Nb201FlatError(Exception):
    """Base class of every error this package raises on purpose.

    It pickles (a worker process's error, a pool's) as the arguments that build it again, from
    :meth:`_init_args`, and its attributes (``add_note``'s too): Exception's own pickle passes
    the message alone to the constructor, which one taking other arguments refuses.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._init_args(), self.__dict__)

    def _init_args(self) -> tuple[Any, ...]:
        """The constructor's arguments that build this error again (a subclass taking other
        arguments than the message says which)."""
        return self.args


class _Unset(enum.Enum):  # an enum member pickles as itself (a worker's error): object() not
    NO_VALUE = "no value"


_NO_VALUE: Any = _Unset.NO_VALUE  # Param.value when the message names the parameter alone


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter named in an :class:`ArgumentError`'s message, by its Python name.

    The library names its parameters, never a command's flags: ``str()`` spells it as Python
    does (``radius``, ``compile=False``, ``rerank_top_k=K``), and a caller with other names
    for its parameters (the command line, :func:`nb201_flat.cli.common.error_line`) respells
    it through :meth:`ArgumentError.spelled`.

    Attributes
    ----------
    name
        The Python parameter.
    value
        The value the message means (``compile=False``: drop it; ``charge=True``: add it);
        absent, the parameter alone. A command line finds the flag that sets it.
    placeholder
        Text standing for a value to choose (``K`` in ``rerank_top_k=K``).

    >>> str(Param("compile", False)), str(Param("rerank_top_k", placeholder="K"))
    ('compile=False', 'rerank_top_k=K')
    """

    name: str
    value: Any = _NO_VALUE
    placeholder: str = ""

    @property
    def has_value(self) -> bool:
        return self.value is not _NO_VALUE

    def __str__(self) -> str:
        if self.placeholder:
            return f"{self.name}={self.placeholder}"
        # shown: an array given as the value would quote its repr over several lines; a
        # longer limit than a refusal's quote, as a fix's value (a path) must stay whole
        return f"{self.name}={shown(self.value, 400)}" if self.has_value else self.name


@dataclass(frozen=True, slots=True)
class Call(Param):
    """A function (or module) of the library a message names as the way to do something, by its
    Python name: ``str()`` is the call with ``placeholder`` as its arguments (``load_table(PATH)``),
    or the name alone. A caller with its own way to do it respells it as a parameter
    (the command line: :data:`nb201_flat.cli.common.CALLS`, its commands and flags).

    >>> str(Call("load_table", placeholder="PATH")), str(Call("save_table"))
    ('load_table(PATH)', 'save_table')
    """

    def __str__(self) -> str:
        return f"{self.name}({self.placeholder})" if self.placeholder else self.name


@dataclass(frozen=True, slots=True)
class ParamList:
    """Parameters listed in a message, joined by ``sep``, sorted as spelled; a caller without
    a name for one of them leaves it out of the list (``empty`` stands for none)."""

    params: tuple[Param, ...]
    sep: str = ", "
    empty: str = ""


def joined(params: Iterable[Param], sep: str = ", ") -> list[str | Param]:
    """``params`` as message parts, ``sep`` between them, each spelled by the caller (unlike
    :class:`ParamList`, in this order and none left out).

    >>> "".join(map(str, joined([Param("rerank_top_k", placeholder="K"), Param("charge", True)], " and ")))
    'rerank_top_k=K and charge=True'
    """
    return [part for p in params for part in (sep, p)][1:]


#: how a caller spells a parameter; None: it has no name for it (a single mention then keeps
#: the Python spelling, a list leaves it out)
Spelling = Callable[[Param], "str | None"]


def _as_python(param: Param) -> str:
    return str(param)


#: a piece of a message that names parameters
Part = str | Param | ParamList


class ParamMessage(Nb201FlatError):
    """An error whose message names parameters: text and :class:`Param` / :class:`ParamList`
    parts. ``str()`` names the parameters as Python does and :meth:`spelled` as another
    caller does (the command line: its flags). The base of every error that names one.

    >>> err = TableFileError("out exists; pass ", Param("overwrite", True), " to replace it")
    >>> str(err)
    'out exists; pass overwrite=True to replace it'
    >>> err.spelled(lambda p: "--force" if p.name == "overwrite" else None)
    'out exists; pass --force to replace it'
    """

    def __init__(self, *parts: Part) -> None:
        self.parts = parts
        super().__init__(self.spelled(_as_python))

    def _init_args(self) -> tuple[Any, ...]:  # a worker's error keeps its parameters
        return self.parts

    def spelled(self, spell: Spelling) -> str:
        """The message with each parameter as ``spell`` names it (``None``: as Python does)."""
        return spelled(self.parts, spell)


def spelled(parts: Iterable[Part], spell: Spelling = _as_python) -> str:
    """Message ``parts`` as text, each parameter as ``spell`` names it (``None``: as Python
    does); a :class:`ParamList` lists those ``spell`` names."""
    out = []
    for part in parts:
        if isinstance(part, Param):
            out.append(spell(part) or str(part))
        elif isinstance(part, ParamList):
            listed = sorted(n for n in map(spell, part.params) if n)
            out.append(part.sep.join(listed) or part.empty)
        else:
            out.append(part)
    return "".join(out)


_LOG_SPELLING: contextvars.ContextVar[Spelling | None] = contextvars.ContextVar(
    "nb201_flat_log_spelling", default=None
)


@contextlib.contextmanager
def spelling_logs(spell: Spelling) -> Iterator[None]:
    """Within the block, :func:`for_log` spells errors' parameters as ``spell`` does (a command
    whose library calls log errors: its log lines then name its flags, as its refusals do)."""
    token = _LOG_SPELLING.set(spell)
    try:
        yield
    finally:
        _LOG_SPELLING.reset(token)


def log_spelling_table(names: Iterable[str]) -> dict[str, str] | None:
    """How the running command (:func:`spelling_logs`) names each parameter in ``names``, as a
    plain dict that pickles to a worker process (:func:`spell_logs_from`); ``None`` where no
    spelling is set."""
    spell = _LOG_SPELLING.get()
    if spell is None:
        return None
    return {name: said for name in names if (said := spell(Param(name)))}


@contextlib.contextmanager
def logs_spelled_by(table: Mapping[str, str] | None) -> Iterator[None]:
    """:func:`spell_logs_from` for the block only: a task run in a thread of another process
    (a dask worker's), whose later tasks may come from another command."""
    if not table:
        yield
        return
    with spelling_logs(_spelling_by(table)):
        yield


def spell_logs_from(table: Mapping[str, str] | None) -> None:
    """In a worker process, spell the log lines' parameters by ``table`` (made by
    :func:`log_spelling_table` in the process that started it) from here on; the others as
    Python does."""
    if table:
        _LOG_SPELLING.set(_spelling_by(table))


def _spelling_by(table: Mapping[str, str]) -> Spelling:
    """A :data:`Spelling` reading ``table`` (a parameter it lacks: as Python spells it)."""
    return lambda param: table.get(param.name)


def for_log(exc: BaseException) -> str:
    """``exc``'s message for a log line: its parameters as the running command names them
    (:func:`spelling_logs`), else as Python does.

    >>> err = ArgumentError("pass ", Param("retrain_damaged", True))
    >>> for_log(err)
    'pass retrain_damaged=True'
    >>> with spelling_logs(lambda p: "--retrain-damaged"):
    ...     for_log(err)
    'pass --retrain-damaged'
    """
    spell = _LOG_SPELLING.get()
    if spell is not None and isinstance(exc, ParamMessage):
        return exc.spelled(spell)
    return str(exc)


def for_log_parts(parts: Iterable[Part]) -> str:
    """Message ``parts`` for a log line, as :func:`for_log` spells an error's."""
    return spelled(parts, _LOG_SPELLING.get() or _as_python)


def parts_of(exc: BaseException) -> tuple[Part, ...]:
    """``exc``'s message as parts, to quote it in another error without losing the
    parameters it names (a plain error: its text).

    >>> parts_of(ArgumentError("pass ", Param("n")))
    ('pass ', Param(name='n', value=<_Unset.NO_VALUE: 'no value'>, placeholder=''))
    """
    return exc.parts if isinstance(exc, ParamMessage) else (str(exc),)


class InvalidArchError(Nb201FlatError, ValueError):
    """A malformed architecture string, index or op code."""


class UnknownKeyError(ParamMessage, LookupError):
    """A dataset, split, epochs, metric or seed the table does not hold."""

    def __str__(self) -> str:  # LookupError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


class TableFileError(ParamMessage, OSError):
    """A table file that is missing, truncated, corrupted, of another schema or format."""


class FormatError(ParamMessage, ValueError):
    """An input file whose format is not the one expected (or cannot be detected)."""


class MissingDependencyError(ParamMessage, ImportError):
    """An optional dependency is not installed; the message names the extra to install (and
    any other way out as :class:`Call` or :class:`Param` parts)."""


class ArgumentError(ParamMessage, ValueError):
    """A value given to a function or a command option that it cannot use; says which would do.

    Its message is text and :class:`Param` / :class:`ParamList` parts (:class:`ParamMessage`).

    >>> err = ArgumentError(Param("compile", False), " does not apply here; drop it")
    >>> str(err)
    'compile=False does not apply here; drop it'
    >>> err.spelled(lambda p: "--no-compile" if p.name == "compile" else None)
    '--no-compile does not apply here; drop it'
    """


class SearchBudgetError(ParamMessage, RuntimeError):
    """A search asked for more than its budget or for data it may not see."""


class SearchEnded(SearchBudgetError):
    """The search may not continue (budget spent, or it stalled); the runner catches it."""


class BudgetExhausted(SearchEnded):
    """A charged query would exceed the budget; it was refused and the search is over."""


class SearchStalled(SearchEnded):
    """A search kept revisiting what it already knew without spending budget."""


class HiddenDataError(SearchBudgetError, AttributeError):
    """A search reached for something the oracle does not expose (a table, test metrics)."""


class ProtocolError(ParamMessage, ValueError):
    """A protocol that is malformed or that the table cannot serve.

    ``fix``, where given, is the search's way out (a larger ``budget_scale``, ``n``, as
    :class:`Param` parts a command respells as its flags), kept apart from ``problem`` so that
    a caller whose parameters are other ones (a figure) names its own.

    >>> err = ProtocolError("a run never ends", ("use ", Param("repeats", "charge")))
    >>> str(err), err.problem
    ("a run never ends; use repeats='charge'", 'a run never ends')
    """

    def __init__(self, problem: str | Sequence[Part], fix: str | Sequence[Part] = "") -> None:
        self.problem_parts = (problem,) if isinstance(problem, str) else tuple(problem)
        self.fix_parts = (fix,) if isinstance(fix, str) and fix else tuple(fix)
        fixed = ("; ", *self.fix_parts) if self.fix_parts else ()
        super().__init__(*self.problem_parts, *fixed)

    def _init_args(self) -> tuple[Any, ...]:
        return (self.problem_parts, self.fix_parts)

    @property
    def problem(self) -> str:
        """What is wrong, without the fix, its parameters as Python names them."""
        return spelled(self.problem_parts)

    @property
    def fix(self) -> str:
        """The way out (empty when none is given), its parameters as Python names them."""
        return spelled(self.fix_parts)


class MissingValueError(ParamMessage, ValueError):
    """NaN values met under ``nan_policy="raise"``, or a query about an unmeasured arch."""


class NoPathError(ParamMessage, LookupError):
    """No path joins two architectures (filters or missing values cut them apart)."""

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0]) if self.args else ""


class FigureSkipped(ParamMessage):
    """A figure cannot be drawn from this table; the message names what it needs.

    Attributes
    ----------
    figure
        The figure's registry name.
    needs
        The metric keys (as ``str(key)``) or other requirements, as text, the table lacks.
    why
        What the figure needs them for, or what went wrong (empty when not said), as Python
        names its parameters; given as message parts (an error's, :func:`parts_of`), a
        command spells them as its own (:meth:`ParamMessage.spelled`).
    any_of
        Whether any one of ``needs`` would do (a figure of one panel per key it finds).
    """

    def __init__(
        self,
        figure: str,
        needs: Sequence[object],
        why: str | Sequence[Part] = "",
        any_of: bool = False,
    ) -> None:
        self.figure = figure
        self.needs = tuple(k if isinstance(k, str) else str(k) for k in needs)
        self.why_parts: tuple[Part, ...] = (why,) if isinstance(why, str) else tuple(why)
        self.why = spelled(self.why_parts)
        self.any_of = any_of and len(self.needs) > 1
        listed = ("one of " if self.any_of else "") + ", ".join(self.needs)
        text = f"needs {listed}" if self.needs else "cannot be drawn"
        super().__init__(text, *((" (", *self.why_parts, ")") if self.why else ()))

    def _init_args(self) -> tuple[Any, ...]:
        return (self.figure, self.needs, self.why_parts, self.any_of)


class DatasetNotFoundError(ParamMessage, FileNotFoundError):
    """The dataset folder is missing; the message says how to get it."""


class DownloadError(Nb201FlatError, OSError):
    """A download failed or its checksum did not match; nothing was left behind."""


class CheckpointMismatchError(ParamMessage, ValueError):
    """A checkpoint folder belongs to another run, or reaches past the rows its run holds in
    the results database (another database's checkpoints, or rows lost)."""


class ResultsDBError(ParamMessage, OSError):
    """The results database cannot be opened or written."""


class ResultsDBFullError(ResultsDBError):
    """The results database cannot be written for want of room: its disk is full, or this
    process's file-size limit is reached. Every run of a campaign would meet it, so executors
    stop the campaign with it rather than retrying each run; what the file holds is intact
    (SQLite wrote none of the failed transaction)."""


class RunLockedError(Nb201FlatError, RuntimeError):
    """A training run is held by another live process (its lock file is taken)."""


class ResourceLimitError(ParamMessage, RuntimeError):
    """A request whose estimated memory or work does not fit; the message says what would."""


class ConstraintError(UnknownKeyError):
    """No architecture meets a constraint, or a cost cannot be found."""


class NoCurvesError(UnknownKeyError):
    """The table stores final values only; per-epoch questions cannot be answered."""


class DatasetSizeError(ParamMessage, ValueError):
    """A dataset's image counts differ from the ones NB201 trained on."""


class DataMismatchError(ParamMessage, ValueError):
    """Dataset files differ from those a stored run, a checkpoint or a started campaign used."""


# Former per-layer names of ArgumentError, kept for code written against them.
LandscapeArgumentError = ArgumentError
AlgorithmError = ArgumentError
RecipeError = ArgumentError
ExecutorSpecError = ArgumentError


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` on one line and at most ``limit`` characters: what a refusal quotes (an
    array or a long text passed by mistake would otherwise fill the terminal).

    A container is quoted a few items and levels deep, never built in full: a pickle of shared
    references makes a 2**60-item list whose whole repr would never finish.

    >>> shown("x" * 100)[-5:], shown([[1, 2], [3, 4]])
    ('xx...', '[[1, 2], [3, 4]]')
    >>> a: list[object] = ["|none~0|"]
    >>> for _ in range(60):
    ...     a = [a, a]
    >>> shown(a, 40)
    '[[[[...], [...]], [[...], [...]]], [[...'
    """
    if isinstance(value, str | bytes):
        text = repr(value[: limit + 1])  # not the repr of a gigabyte text
    elif isinstance(value, list | tuple | dict | set | frozenset):
        text = _SHORT_REPR.repr(value)
    else:
        try:
            text = repr(value)
        except ValueError:  # an int of more than 4300 digits (sys.int_max_str_digits)
            text = f"<{type(value).__name__} of {getattr(value, 'bit_length', int)()} bits>"
    text = re.sub(r"\s*\n\s*", " ", text)  # a multi-line repr (arrays) on one line
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _ShortRepr(reprlib.Repr):
    """:mod:`reprlib` quoting of containers, bounded in levels and items (:func:`shown`)."""

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # more than 4300 digits
            return f"<int of {x.bit_length()} bits>"

    def repr_instance(self, x: object, level: int) -> str:
        if isinstance(x, numbers.Number):  # numpy scalars
            return super().repr_instance(x, level)
        return f"<{type(x).__name__}>"  # another object inside a container: its type is enough


_SHORT_REPR = _ShortRepr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 60
# at most 24**3 items are visited, and the text is cut to ``limit`` after
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxset = _SHORT_REPR.maxdict = 24
_SHORT_REPR.maxfrozenset = _SHORT_REPR.maxdeque = 24


def too_many_digits() -> str:
    """How a JSON file's integer too long for Python to read is named: ``json`` refuses one of
    more digits than :func:`sys.get_int_max_str_digits` (4,300 by default; a user may set it).

    >>> too_many_digits() == f"more than {sys.get_int_max_str_digits():,} digits"
    True
    """
    return f"more than {sys.get_int_max_str_digits():,} digits"


def _fixed(fix: str | Sequence[Part]) -> tuple[Part, ...]:
    """A check's ``fix`` as the parts that end its message (none when empty)."""
    parts = (fix,) if isinstance(fix, str) else tuple(fix)
    return ("; ", *parts) if any(parts) else ()


def check_seed(seed: Any, name: str = "seed", *, fix: str = "pass e.g. 0") -> int:
    """``seed`` as a non-negative int (a master seed; numpy refuses negative ones), else
    :class:`ArgumentError` naming ``name`` (the caller's parameter) and ``fix``.

    >>> check_seed(-1, "sample_seed")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: sample_seed must be a non-negative int, got -1; pass e.g. 0
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ArgumentError(f"{name} must be a non-negative int, got {shown(seed)}; {fix}")
    return int(seed)


def check_int_range(
    name: str | Param,
    value: Any,
    lo: int | None = None,
    hi: int | None = None,
    *,
    fix: str | Sequence[Part] = "",
) -> int:
    """``value`` as an int in ``lo..hi`` (either end open when None), else :class:`ArgumentError`.

    ``fix`` is appended to the message (what to pass instead: text, or message parts naming a
    :class:`Param`), so each message names the fix.
    ``name`` is the parameter's (a :class:`Param`, which a command respells as its flag) or
    the text to name it by.

    >>> check_int_range("radius", 2, 1, 6)
    2
    >>> check_int_range("radius", 0, 1, 6)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: radius must lie in 1..6, got 0
    >>> check_int_range("radius", 2.5, 1, 6)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: radius must lie in 1..6 (an int, not a float), got 2.5
    >>> check_int_range(Param("jobs"), 0, 1)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: jobs must be >= 1, got 0
    """
    iv = whole_number(value)
    ok = iv is not None and (lo is None or iv >= lo) and (hi is None or iv <= hi)
    if iv is None or not ok:
        if lo is not None and hi is not None:
            want = f"must lie in {lo}..{hi}"
        elif lo is not None:
            want = f"must be >= {lo}"
        elif hi is not None:
            want = f"must be <= {hi}"
        else:
            want = "must be an integer"
        if iv is None and (lo is not None or hi is not None):
            # "must be >= 1, got 2.5" read as if 2.5 were out of range
            want += f" (an int, not a {type(value).__name__})"
        raise ArgumentError(name, f" {want}, got {shown(value)}", *_fixed(fix))
    return iv


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number: an int, a numpy integer or a whole float
    (5.0; a count computed with numpy is a count), else None (a bool, 1.5, NaN, inf, text).

    >>> whole_number(5.0), whole_number(True), whole_number(2.5)
    (5, None, None)
    """
    if type(value) is int:  # the common case, first: counts and indices in loops
        return value
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.integer):  # indices read from arrays
        return int(value)
    if isinstance(value, bool) or (np is not None and isinstance(value, np.bool_)):
        return None
    if not isinstance(value, numbers.Real):
        return None
    number: Any = value
    try:
        whole = int(number)  # exact for every real type (float() rounds a long double)
    except (OverflowError, ValueError):  # inf, NaN
        return None
    return whole if whole == value else None


def real_number(value: Any) -> float:
    """``value`` as a float when it is a real number (an int beyond a float's range: inf),
    else NaN: text ("0.3", once read through float()), None, a bool, an array.

    >>> real_number(2), real_number(10**400), real_number("0.3"), real_number(True)
    (2.0, inf, nan, nan)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan
    number: Any = value
    try:
        return float(number)
    except OverflowError:  # 10**400
        return math.inf if number > 0 else -math.inf


def check_float_range(
    name: str | Param,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    fix: str | Sequence[Part] = "",
) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(`` / ``)`` when open), else :class:`ArgumentError`.

    >>> check_float_range("quantile", 0.25, 0.0, 1.0)
    0.25
    >>> check_float_range("quantile", 1.5, 0.0, 1.0)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: quantile must lie in [0, 1], got 1.5
    >>> check_float_range("max_cost", float("inf"))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: max_cost must be a finite number, got inf
    """
    f = real_number(value)
    bad = isinstance(value, bool) or math.isnan(f)
    bad = bad or (f <= lo if lo_open else f < lo) or (f >= hi if hi_open else f > hi)
    bad = bad or math.isinf(f)  # an open-ended range still wants a finite number
    if bad:
        if math.isinf(lo) and math.isinf(hi):
            want = "must be a finite number"
        elif math.isinf(hi):
            want = f"must be a finite number {'>' if lo_open else '>='} {lo:g}"
        elif math.isinf(lo):
            want = f"must be a finite number {'<' if hi_open else '<='} {hi:g}"
        else:
            want = f"must lie in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            # "must lie in [0, 1], got '0.3'" read as if 0.3 were out of range
            want += f" (a number, not a {type(value).__name__})"
        raise ArgumentError(name, f" {want}, got {shown(value)}", *_fixed(fix))
    return f


def check_confidence(confidence: object) -> float:
    """An interval's confidence level as a float in (0, 1), else :class:`ArgumentError`
    (95 for 95 % would give NaN bands silently, 0 or 1 a point or unbounded interval); the
    one check of every CI the package draws (figures, search statistics, proxies).

    >>> check_confidence(95)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: confidence must lie in (0, 1), got 95; pass e.g. 0.95 for a 95 % interval
    """
    return check_float_range(
        "confidence",
        confidence,
        0.0,
        1.0,
        lo_open=True,
        hi_open=True,
        fix="pass e.g. 0.95 for a 95 % interval",
    )


def fewest_resamples(confidence: float) -> int:
    """The fewest bootstrap resamples of a percentile interval at ``confidence`` with at least
    one resample beyond each bound: ``ceil(2 / (1 - c))``, computed exactly (in floats
    2/(1-0.95) is 40.00000000000004, and 2/(1-0.9999) 20000.0000000022).

    >>> fewest_resamples(0.95), fewest_resamples(0.9999)
    (40, 20000)
    """
    return math.ceil(2 / (1 - Fraction(repr(float(confidence)))))


def check_resamples(n_boot: object, confidence: float, default: int) -> int:
    """The bootstrap's resample count for a percentile interval at ``confidence`` (checked):
    a whole number with at least one resample beyond each bound, ``n_boot * (1 - c) / 2 >=
    1`` (40 at 95 %), else :class:`ArgumentError`. One resample gave a '95 % CI' of a single
    point, beside the mean it did not contain, and verdicts were read from it.

    >>> check_resamples(10, 0.95, 2000)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: n_boot must be at least 40 for a 95 % percentile interval (at least one resample beyond each bound), got 10; pass the default, 2000
    """
    n = check_int_range("n_boot", n_boot, 1, fix=f"the default is {default}")
    least = fewest_resamples(confidence)
    if n < least:
        raise ArgumentError(
            Param("n_boot"),
            f" must be at least {least} for a {confidence * 100:g} % percentile interval (at "
            f"least one resample beyond each bound), got {n}; pass "
            + (f"the default, {default}" if default >= least else f"{least} or more"),
        )
    return n


def check_path(name: str, path: object) -> Path:
    """``path`` as a :class:`~pathlib.Path` when it is a str or path-like, else
    :class:`ArgumentError` naming ``name`` (None or a number met pathlib's bare TypeError)."""
    if not isinstance(path, str | os.PathLike):
        raise ArgumentError(
            Param(name), f" must be a path (str or pathlib.Path), got {shown(path)}"
        )
    return Path(path)


def check_flag(name: str | Param, value: Any) -> bool:
    """``value`` as a bool: True, False or a numpy bool, else :class:`ArgumentError`
    (``bool("no")`` is True, ``bool(None)`` False: neither is a flag).

    >>> check_flag("exact", False)
    False
    >>> check_flag("exact", "no")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: exact must be True or False, got 'no'
    """
    np = sys.modules.get("numpy")  # a numpy bool exists only once numpy is loaded
    if isinstance(value, bool) or (np is not None and isinstance(value, np.bool_)):
        return bool(value)
    raise ArgumentError(name, f" must be True or False, got {shown(value)}")


def check_choice(
    name: str | Param, value: _T, choices: Iterable[_T], *, fix: str | Sequence[Part] = ""
) -> _T:
    """``value`` if it is one of ``choices``, else :class:`ArgumentError` listing them.

    >>> check_choice("agg", "mean", ("mean", "min"))
    'mean'
    >>> check_choice("agg", "average", ("mean", "min"))
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: agg must be one of mean, min, got 'average'
    """
    options = tuple(choices)
    try:
        known = value in options
    except (TypeError, ValueError):  # an array: its == is elementwise, so `in` cannot say
        known = False
    if not known:
        listed = ", ".join(str(c) for c in options)
        raise ArgumentError(name, f" must be one of {listed}, got {shown(value)}", *_fixed(fix))
    return value


def require(module: str, extra: str) -> None:
    """Raise :class:`MissingDependencyError` unless ``module`` can be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"this needs the optional dependency {module!r}; install it with "
            f"`pip install 'nb201-flat[{extra}]'`"
        )
