"""Shared pieces of the command-line interface: table, key, neighbourhood and output options."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from shlex import quote
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nb201_flat.errors import Param, Spelling
    from nb201_flat.neighbourhood import Neighbourhood
    from nb201_flat.table import MetricKey, Table


def add_table_arg(parser: argparse.ArgumentParser) -> None:
    """``--table PATH`` (else ``$NB201_FLAT_TABLE``, else the embedded default)."""
    parser.add_argument(
        "--table",
        metavar="PATH",
        help="table folder written by `nb201-flat import` (default: $NB201_FLAT_TABLE, "
        "else the embedded AnalogNAS-Bench table)",
    )


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


class RenamedFlag(argparse.Action):
    """An option's old spelling, kept for one release after a rename: hidden from ``--help``,
    it warns on stderr that the flag is now ``renamed``'s and stores through ``renamed``
    (the new option's own action), so its type, choices, default and refusal of a second
    occurrence are the new option's (a value its type refuses is refused under the old
    spelling, before any warning: argparse converts it first). Added by
    :func:`add_renamed_flag`."""

    def __init__(
        self, option_strings: list[str], dest: str, *, renamed: argparse.Action, **_: Any
    ) -> None:
        super().__init__(
            option_strings,
            renamed.dest,
            nargs=renamed.nargs,
            type=renamed.type,  # type: ignore[arg-type]  # a registered name, as the new one's
            choices=renamed.choices,
            metavar=renamed.metavar,
            default=argparse.SUPPRESS,  # the new option's default is the one set
            help=argparse.SUPPRESS,
        )
        self.renamed = renamed

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        new = next(o for o in self.renamed.option_strings if o.startswith("--"))
        print(
            f"warning: {option_string} is now {new}; the old spelling goes in a later version",
            file=sys.stderr,
        )
        self.renamed(parser, namespace, values, option_string)


def add_renamed_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, old: str, new: argparse.Action
) -> None:
    """Keep ``old``, the spelling ``new`` (an option's action) replaced, for one release."""
    parser.add_argument(old, action=RenamedFlag, renamed=new)


def add_key_args(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--dataset --split --epochs --metric`` naming one metric vector."""
    parser.add_argument(
        "--dataset", required=required, help="e.g. cifar10, cifar100, ImageNet16-120"
    )
    parser.add_argument("--split", required=required, help="e.g. x-valid, x-test, ori-test")
    parser.add_argument("--epochs", type=parse_int, required=required, help="schedule: 200 or 12")
    parser.add_argument("--metric", default="accuracy", help="default: accuracy")


def add_direction_arg(parser: argparse.ArgumentParser) -> None:
    """``--higher-is-better`` / ``--lower-is-better``: which way the metric ranks (see
    :func:`higher_is_better`)."""
    way = parser.add_mutually_exclusive_group()
    way.add_argument(
        "--higher-is-better",
        dest="lower_is_better",
        action="store_const",
        const=False,
        help="rank high values first (default for an accuracy; needed for a metric with no "
        "natural direction: time_s, params_mb, flops_m, latency_s, a *_std spread, a zero-cost "
        "proxy such as synflow, a metric of your own such as a *_loss)",
    )
    way.add_argument(
        "--lower-is-better",
        dest="lower_is_better",
        action="store_const",
        const=True,
        help="rank low values first (default for the benchmark's loss, metric 'loss')",
    )


def higher_is_better(args: argparse.Namespace) -> bool:
    """Whether ``args.metric`` ranks high values first: ``--higher-is-better`` /
    ``--lower-is-better`` where given, else the metric's :func:`natural_direction`; a metric
    without one is refused (ranking a cost or a spread either way would be a guess)."""
    given = getattr(args, "lower_is_better", None)
    if given is not None:
        return not given
    from nb201_flat.conventions import natural_direction

    natural = natural_direction(str(args.metric))
    if natural is None:
        from nb201_flat.errors import ArgumentError

        raise ArgumentError(
            f"metric {args.metric!r} has no natural ranking direction (accuracies rank high "
            "first, the benchmark's 'loss' low first; costs, spreads, zero-cost proxies and "
            "metrics of your own, a *_loss too, neither); state it: --higher-is-better or "
            "--lower-is-better"
        )
    return natural


def direction_words(args: argparse.Namespace) -> str | None:
    """The ranking direction as the text output states it where it is not the metric's natural
    one (a flag against the name, or a metric without one), else None.

    >>> ns = argparse.Namespace
    >>> direction_words(ns(metric="accuracy", lower_is_better=True))
    'lower is better (--lower-is-better; accuracy is higher-is-better by name)'
    >>> direction_words(ns(metric="time_s", lower_is_better=True))
    'lower is better (--lower-is-better)'
    >>> direction_words(ns(metric="accuracy", lower_is_better=None)) is None
    True
    """
    hib = higher_is_better(args)
    from nb201_flat.conventions import natural_direction

    natural = natural_direction(str(args.metric))
    if natural is hib:
        return None
    flag = "--higher-is-better" if hib else "--lower-is-better"
    against = (
        ""
        if natural is None
        else f"; {args.metric} is {'higher' if natural else 'lower'}-is-better by name"
    )
    return f"{'higher' if hib else 'lower'} is better ({flag}{against})"


def seed_words(table: Table, key: MetricKey) -> str:
    """The seed policy of a value read with the default ``seed_policy="mean"``, as the text
    output states it: the table's one stored value, or the mean over its stored seeds
    (:meth:`~nb201_flat.table.Table.vector`). A stored value is not called a mean: some
    sources keep one seed's value there (NASLib's ``naslib-valid``), or say nothing of seeds.
    A key may store per-seed values beside it (NB201's 200-epoch ``x-valid``): they are named,
    as not read, rather than denied. Where some cells are measured at fewer of the stored
    seeds (a partly retrained table), their mean is over those: said, with how many."""
    seeds = table.seeds(key)
    if (key, None) in table.data:
        if not seeds:
            return "value: the table's one stored value per cell (no per-seed values)"
        return f"value: the table's one stored value per cell, not its per-seed values ({seed_list(seeds)})"
    n = len(seeds)
    short = cells_at_fewer_seeds(table, key)
    if short:
        return (
            f"value: mean over the seeds measured at each cell (of the {n} stored): {short:,} "
            f"cell{'s' if short != 1 else ''} at fewer than {n}"
        )
    return f"value: mean over the {n} stored seed{'s' if n != 1 else ''}"


def cells_at_fewer_seeds(table: Table, key: MetricKey) -> int:
    """How many cells of ``key`` are measured at some but not all of its stored seeds (their
    mean is over fewer seeds than the others'); 0 where it stores no per-seed values."""
    seeds = table.seeds(key)
    if len(seeds) < 2:
        return 0
    measured = np.stack([~np.isnan(table.data[(key, s)]) for s in seeds]).sum(axis=0)
    return int(((measured > 0) & (measured < len(seeds))).sum())


def seed_fields(table: Table, key: MetricKey) -> dict[str, Any]:
    """:func:`seed_words` for a JSON output: what each value read is (``values_read``: the
    table's ``"stored value"`` per cell, or the ``"mean over stored seeds"``) and the seeds
    the key stores (``stored_seeds``; read or not); a mean also says how many cells are
    measured at fewer of those seeds (``cells_at_fewer_seeds``)."""
    stored = (key, None) in table.data
    if stored:
        return {"values_read": "stored value", "stored_seeds": list(table.seeds(key))}
    return {
        "values_read": "mean over stored seeds",
        "stored_seeds": list(table.seeds(key)),
        "cells_at_fewer_seeds": cells_at_fewer_seeds(table, key),
    }


def seed_list(seeds: Sequence[int]) -> str:
    """Stored seeds for a line of text: their numbers, or a count when there are many."""
    if len(seeds) > 5:
        return f"{len(seeds)} seeds"
    return f"seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}"


def add_neighbourhood_args(
    parser: argparse.ArgumentParser,
    *,
    default: Neighbourhood,
    title: str = "neighbourhood",
    aggregators: Sequence[str] = (),
) -> None:
    """One group of flags for a :class:`~nb201_flat.neighbourhood.Neighbourhood`, shared by
    ``flatness``, ``search`` and ``reproduce``.

    Every flag defaults to "not given", so the command's own specification applies;
    ``default`` is that specification (it differs between commands: ``reproduce`` builds on
    the NA paper's), and the help states its values, read from it. A command then builds the
    value with :func:`neighbourhood_from_args`.
    """
    from nb201_flat.neighbourhood import AGGREGATES, NA_PAPER

    def mark(is_default: bool) -> str:
        return " (default)" if is_default else ""

    paper = (
        " (the NA paper's neighbourhood)"
        if default == NA_PAPER
        else f"; the NA paper's neighbourhood is {NA_PAPER.label!r}: --within --include-self"
    )
    g = parser.add_argument_group(title, f"default: {neighbourhood_words(default)}{paper}")
    g.add_argument(
        "--radius", type=parse_int, metavar="R", help=f"Hamming radius (default {default.radius})"
    )
    dist = g.add_mutually_exclusive_group()
    dist.add_argument(
        "--exact",
        dest="exact",
        action="store_const",
        const=True,
        help=f"neighbours at distance exactly R{mark(default.exact)}",
    )
    dist.add_argument(
        "--within",
        dest="exact",
        action="store_const",
        const=False,
        help=f"neighbours at distance 1..R{mark(not default.exact)}",
    )
    own = g.add_mutually_exclusive_group()
    own.add_argument(
        "--include-self",
        dest="include_self",
        action="store_const",
        const=True,
        help=f"the cell is a member of its own neighbourhood{mark(default.include_self)}",
    )
    own.add_argument(
        "--no-self",
        dest="include_self",
        action="store_const",
        const=False,
        help=f"leave the cell out of its neighbourhood{mark(not default.include_self)}",
    )
    g.add_argument(
        "--no-none",
        action="store_const",
        const=True,
        help=f"drop neighbours reached by substituting none{mark(default.no_none)}",
    )
    g.add_argument(
        "--connected-only",
        action="store_const",
        const=True,
        help=f"drop disconnected neighbours{mark(default.connected_only)}",
    )
    g.add_argument(
        "--agg",
        choices=tuple(aggregators) or AGGREGATES,
        help=f"aggregator g (default {default.agg})",
    )
    g.add_argument(
        "--quantile",
        type=parse_float,
        metavar="Q",
        help=f"level of --agg quantile (default {default.quantile:g})",
    )


def neighbourhood_words(spec: Neighbourhood, *, agg: bool = True) -> str:
    """``spec`` as the neighbourhood flags' help says it (without its aggregate for ``agg=False``:
    a table of every aggregate).

    >>> from nb201_flat.neighbourhood import NA_PAPER, Neighbourhood
    >>> neighbourhood_words(Neighbourhood())
    'distance exactly 1, the cell itself excluded, mean'
    >>> neighbourhood_words(NA_PAPER)
    'within distance 1, the cell itself included, mean'
    >>> neighbourhood_words(Neighbourhood(no_none=True, connected_only=True), agg=False)
    'distance exactly 1, the cell itself excluded, none substitutions dropped, disconnected neighbours dropped'
    """
    parts = [
        f"{'distance exactly' if spec.exact else 'within distance'} {spec.radius}",
        f"the cell itself {'included' if spec.include_self else 'excluded'}",
    ]
    if spec.no_none:
        parts.append("none substitutions dropped")
    if spec.connected_only:
        parts.append("disconnected neighbours dropped")
    if agg:
        parts.append(spec.agg if spec.level is None else f"quantile {spec.level:g}")
    return ", ".join(parts)


def neighbourhood_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The neighbourhood flags as given (None where not given)."""
    from nb201_flat.neighbourhood import FIELDS

    return {k: getattr(args, k, None) for k in FIELDS}


def neighbourhood_from_args(
    args: argparse.Namespace, base: Neighbourhood | None = None, *, quantile_needs_agg: bool = True
) -> Neighbourhood:
    """The :class:`~nb201_flat.neighbourhood.Neighbourhood` the flags name, on top of ``base``.

    With ``quantile_needs_agg``, ``--quantile`` without ``--agg quantile`` is an error (it would
    change nothing).
    """
    from nb201_flat.errors import ArgumentError
    from nb201_flat.neighbourhood import Neighbourhood

    spec = Neighbourhood.build(base, **neighbourhood_fields(args))
    quantile_given = getattr(args, "quantile", None) is not None
    if quantile_needs_agg and spec.level_unread(given=quantile_given):
        raise ArgumentError("--quantile applies only with --agg quantile; add --agg quantile")
    return spec


def _plain_int(text: str) -> int | None:
    """``text`` as an integer where it is the digits 0-9 after an optional minus sign, else
    None. ``int()`` reads more, which ARCH refuses: ``1_0`` as 10, ``١`` (an Arabic-Indic
    digit) as 1, padding spaces, a plus sign.

    >>> [_plain_int(t) for t in ("12", "-3", "007", "1_0", "\u0661", " 5", "+5", "-", "")]
    [12, -3, 7, None, None, None, None, None, None]
    """
    digits = text[1:] if text.startswith("-") else text
    return int(text) if digits.isascii() and digits.isdigit() else None


def parse_int(text: str) -> int:
    """The type of every integer option (``type=parse_int``): the digits 0-9, a minus sign
    before a negative number (a range check, such as ``--top``'s, refuses one where it makes
    no sense, saying so). argparse names the option in the error."""
    value = _plain_int(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"invalid int value: {text!r}; give a whole number in the digits 0-9"
        )
    return value


# a decimal number as float() reads it, in the digits 0-9 (inf and nan too: a range check
# names them); float() also reads "0_5" as 5.0, "\u0661" as 1.0, padding spaces, a plus sign
_PLAIN_FLOAT = re.compile(
    r"-?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def parse_float(text: str) -> float:
    """The type of every decimal option (``type=parse_float``): :func:`parse_int`'s rule for
    a number with a fraction or an exponent (``0.5``, ``.5``, ``1e-3``). argparse names the
    option in the error; the command's range check refuses a value out of range.

    >>> [parse_float(t) for t in ("0.5", "-2", ".5", "1e-3", "5.")]
    [0.5, -2.0, 0.5, 0.001, 5.0]
    >>> parse_float("0_5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: invalid float value: '0_5'; give a number in the digits 0-9, such as 0.5 or 1e-3
    """
    if _PLAIN_FLOAT.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"invalid float value: {text!r}; give a number in the digits 0-9, such as 0.5 or 1e-3"
        )
    return float(text)


def parse_seed(text: str) -> str | int:
    """``mean``, ``random`` or a stored seed's number (its id or position: :mod:`nb201_flat.table`),
    in the digits of :func:`parse_int`."""
    if text in ("mean", "random"):
        return text
    value = _plain_int(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"seed must be 'mean', 'random' or a seed number in the digits 0-9, got {text!r}"
        )
    return value


def open_table(args: argparse.Namespace) -> Table:
    """The table of ``--table`` (load_table's ``path``: its refusals name it, error_line
    spells it ``--table``)."""
    from nb201_flat.storage import load_table

    args.param_dests = {"path": "table"} | getattr(args, "param_dests", {})
    return load_table(getattr(args, "table", None))


def num(v: float, spec: str) -> str:
    """``v`` formatted by ``spec``, or ``-`` where it is undefined (NaN: a neighbourhood with no
    measured member, a CI of too few pairs); the JSON forms hold null there."""
    return "-" if math.isnan(v) else format(v, spec)


def check_each_once(flag: str, items: Sequence[str]) -> None:
    """Refuse a list option naming an item twice: it was dropped without a word, and an item
    given twice is a typo, not a request."""
    from nb201_flat.errors import ArgumentError

    twice = sorted({i for i in items if items.count(i) > 1})
    if twice:
        raise ArgumentError(f"{flag} names {', '.join(twice)} twice; give each item once")


def check_cells_once(flag: str, given: Sequence[str], indices: Sequence[int]) -> None:
    """Refuse a cell named twice in a list option (``given``, resolved to ``indices``): as
    :func:`check_each_once`, but by the cell, which an index and a string both name.

    >>> check_cells_once("--arch", ["5", "7"], [5, 7])
    >>> check_cells_once("--arch", ["5", "|a~0|"], [5, 5])
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: --arch names cell 5 twice ('5', '|a~0|'); give each cell once
    """
    from nb201_flat.errors import ArgumentError

    seen: dict[int, str] = {}
    for text, index in zip(given, indices, strict=True):
        if index in seen:
            raise ArgumentError(
                f"{flag} names cell {index} twice ({seen[index]!r}, {text!r}); give each cell once"
            )
        seen[index] = text


def value_text(v: float) -> str:
    """A served value as text: 4 decimals (accuracies, losses, seconds), or 6 significant
    digits where 4 decimals would show a measured value as 0.0000 (a zero-cost proxy of
    3.2e-06) or a large one as a long row of digits; ``-`` for NaN, as :func:`num`.

    >>> value_text(93.7612345), value_text(3.2e-06), value_text(0.0), value_text(2.5e12)
    ('93.7612', '3.2e-06', '0.0000', '2.5e+12')
    """
    if math.isnan(v):
        return "-"
    if v != 0 and (abs(v) < 0.01 or abs(v) >= 1e7):
        return format(v, ".6g")
    return format(v, ".4f")


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, NaN and infinities for strict JSON.

    NaN (undefined: no value) becomes null, as the text's ``-`` (:func:`num`). An infinity (no
    table holds one, but a computed figure may be one), which the text prints as ``inf``:
    strict JSON has no number for it, so it becomes the string ``"inf"`` / ``"-inf"``
    (Python's ``float()`` reads it back), never null, which would say "no value". Finite floats
    are unchanged.

    >>> jsonable({"a": np.float64(1.5), "b": float("nan"), "c": [np.inf, -np.inf]})
    {'a': 1.5, 'b': None, 'c': ['inf', '-inf']}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        if math.isnan(f):
            return None
        return ("inf" if f > 0 else "-inf") if math.isinf(f) else f
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def emit_json(obj: Any) -> None:
    json.dump(jsonable(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


# What to lower, per command, when memory runs out anyway (an estimate missed a cap): the
# commands' flags, so the command line's own table, not the library's.
_LOWER = {
    "figures": "render fewer figures (--only NAME) with --jobs 1",
    "flatness": "a smaller --radius, or --agg mean/min/max/std",
    "search": "fewer --runs or --jobs",
    "reproduce": "fewer --runs or --jobs",
    "import": "import on a machine with more memory",
    "train": "fewer --jobs-per-device or a smaller --C/--N",
}


def out_of_memory(command: str | None, exc: BaseException) -> str:
    """One-line message for a :class:`MemoryError` in ``command``, naming what to lower.

    >>> out_of_memory("flatness", MemoryError())
    'out of memory in flatness; a smaller --radius, or --agg mean/min/max/std, or raise the memory limit'
    """
    detail = str(exc).splitlines()[0][:120] if str(exc) else ""
    name = command or "this command"
    lower = _LOWER.get(name, "ask for less at once")
    return f"out of memory in {name}{f' ({detail})' if detail else ''}; {lower}, or raise the memory limit"


def _python_line(code: str) -> str:
    """A shell line running ``code``: double-quoted where the shell reads it as typed."""
    return f'python -c "{code}"' if not set(code) & set('"$`\\!') else f"python -c {quote(code)}"


def _rebuild_line(args: str) -> str:
    """A damaged table's rebuild (``nb201_flat.save_table`` of an import, as
    :func:`nb201_flat.storage.rebuild_command` reads its arguments): the import command."""
    from nb201_flat.storage import rebuild_command

    return f"`{rebuild_command(args)}`"


# The command line's way to do what a library message names as a function (an errors.Call),
# ``{}`` the call's arguments (PATH where it names none), or a function of them: flag_of spells
# the call so. tests/cli/test_calls.py checks that every Call the library makes is here.
CALLS: dict[str, str | Callable[[str], str]] = {
    "load_table": "--table {}",
    "save_table": "`nb201-flat import SOURCE --out TABLE`",
    "nb201_flat.importers.import_table": "`nb201-flat import SOURCE --out TABLE`",
    "nb201_flat.save_table": _rebuild_line,
    "nb201_flat.train": "`nb201-flat train ... --db FILE`",
    "Table.info": "`nb201-flat info`",
    # a query budget at a schedule: search's flags (reproduce names its own, param_values)
    "fixed_n_protocols": lambda args: (
        "--protocol fixed-n --fixed-n N"
        + "".join(f" --search-epochs {e}" for e in re.findall(r"epochs=(\d+)", args))
    ),
    # no command downloads a dataset: the one shell line that does
    "nb201_flat.train.data.download": lambda args: _python_line(
        f"from nb201_flat.train.data import download; download({args})"
    ),
}


def check_outside_table(out: str, table: Table, flag: str) -> None:
    """Refuse an output path (``flag``'s value ``out``) inside the folder of the table the
    command reads: what it writes would sit among the table's own files. A relative ``out``
    where the working folder was removed is refused
    (:func:`~nb201_flat.atomic.check_working_folder`)."""
    import os
    from pathlib import Path

    from nb201_flat.atomic import check_working_folder, working_folder
    from nb201_flat.errors import ArgumentError

    folder = table.meta.get("path")
    if not folder:
        return
    check_working_folder(out, what=flag)  # realpath raised FileNotFoundError
    # realpath: Path.resolve raised RuntimeError on a loop of links
    written = Path(os.path.realpath(out))
    if os.path.isabs(folder) or working_folder() is not None:
        inside = written.is_relative_to(os.path.realpath(folder))
    else:  # relative to a removed working folder (``..`` still reaches one): by identity
        try:
            held = os.stat(folder)
        except OSError:
            return  # no folder there: nothing lies inside it
        above = (written, *written.parents)
        inside = any(up.exists() and os.path.samestat(held, up.stat()) for up in above)
    if inside:
        raise ArgumentError(
            f"{flag} {out} lies inside the table folder {folder}, which holds the table read "
            "here; write it elsewhere"
        )


def subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The parser of ``command`` under the top-level ``parser`` (``parser`` itself for none):
    the one whose flags spell that command's messages."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = commands.choices.get(command or "", parser)
    return found


def spell(args: argparse.Namespace) -> Spelling:
    """How the running command names a parameter or function a library message names (its flag,
    command or :data:`CALLS` entry; :func:`flag_of`), for notes and quoted errors that are not
    refusals (:func:`error_line` spells those). ``args.parser`` is the command's parser, which
    :func:`nb201_flat.cli.main` sets."""
    return lambda param: flag_of(param, args.parser, args)


def one_line(text: str) -> str:
    """``text`` with each character that would break or hide part of its line (newline, carriage
    return, tab, any other control or separator character) written as its Python escape: a path
    or value holding one keeps a refusal on the one line the command line promises.

    >>> one_line("no table at /tmp/a\\nb; create it")
    'no table at /tmp/a\\\\nb; create it'
    >>> one_line("A²M's bands: 92.3-93.7 %")
    "A²M's bands: 92.3-93.7 %"
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def error_line(
    exc: Exception, parser: argparse.ArgumentParser | None, args: argparse.Namespace
) -> str:
    """The message of a refusal as the command line shows it: the parameters an error names
    (:class:`~nb201_flat.errors.Param` parts of a :class:`~nb201_flat.errors.ParamMessage`)
    become ``parser``'s flags (:func:`flag_of`); the library knows no flag."""
    from nb201_flat.errors import ParamMessage

    if isinstance(exc, ParamMessage) and parser is not None:
        return exc.spelled(lambda param: flag_of(param, parser, args))
    return str(exc)


def flag_of(param: Param, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """``param`` as the command spells it, or None where it has no flag for it.

    The flag is that of ``parser``'s option whose ``dest`` is the parameter's name (a command
    whose options and parameters differ maps them in ``set_defaults(param_dests={param:
    dest})``). Of flags that set a constant (``--exact``/``--within``,
    ``--compile``/``--no-compile``) it is the one that sets the value the message means,
    else the one given; an option that takes a value is followed by the value or its
    placeholder (``--rerank-top-k K``); a positional is named by its metavar (``ARCH``).
    A value the command spells otherwise is mapped in ``set_defaults(param_values={param:
    {value: text}})`` (the census's ``distance=None`` is ``--distance 0``).
    A command without the option names where it is (``set_defaults(param_elsewhere={param:
    text})``: the demo's ``n`` is ``nb201-flat search --fixed-n``). A function a message names
    (:class:`~nb201_flat.errors.Call`) is the command or flag of :data:`CALLS`.

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--compile", action=argparse.BooleanOptionalAction)
    >>> _ = p.add_argument("--rerank-top-k", type=int)
    >>> from nb201_flat.errors import Param
    >>> flag_of(Param("compile", False), p, p.parse_args([]))
    '--no-compile'
    >>> flag_of(Param("compile"), p, p.parse_args(["--compile"]))
    '--compile'
    >>> flag_of(Param("rerank_top_k", placeholder="K"), p, p.parse_args([]))
    '--rerank-top-k K'
    >>> args = p.parse_args([])   # a value the command spells otherwise
    >>> args.param_values = {"rerank_top_k": {None: "0"}}
    >>> flag_of(Param("rerank_top_k", None), p, args)
    '--rerank-top-k 0'
    >>> from nb201_flat.errors import Call
    >>> flag_of(Call("load_table", placeholder="PATH"), p, args)
    '--table PATH'
    """
    from nb201_flat.errors import Call

    elsewhere = getattr(args, "param_elsewhere", {}).get(param.name)
    if elsewhere is not None:
        return str(elsewhere)
    if isinstance(param, Call):  # a function, not an option: the command line's way to it
        way = CALLS.get(param.name)
        given = param.placeholder or "PATH"
        if way is None:
            return None
        return way(given) if callable(way) else way.format(given)
    dest = getattr(args, "param_dests", {}).get(param.name, param.name)
    actions = [a for a in parser._actions if a.dest == dest]
    if not actions:
        return None
    if not actions[0].option_strings:  # a positional: named by its metavar
        meta = actions[0].metavar
        return meta if isinstance(meta, str) else dest.upper()
    value = param.value if param.has_value else getattr(args, dest, None)
    if all(a.nargs == 0 for a in actions):  # flags that set a constant
        setting = [o for a in actions for o in a.option_strings if _sets(a, o, value)]
        return setting[0] if setting else "/".join(o for a in actions for o in a.option_strings)
    options = actions[0].option_strings
    flag = next((o for o in options if o.startswith("--")), options[0])
    # a value the command spells otherwise (set_defaults(param_values={param: {value: text}}))
    spell = getattr(args, "param_values", {}).get(param.name)
    value_text = str(param.value) if param.has_value else ""
    if spell and param.has_value:
        value_text = spell.get(param.value, value_text)
    text = param.placeholder or value_text
    return f"{flag} {text}".rstrip()


def _sets(action: argparse.Action, option: str, value: Any) -> bool:
    """Whether giving ``option`` (of ``action``, a flag without a value) sets ``value``."""
    if value is None:
        return False
    if isinstance(action, argparse.BooleanOptionalAction):
        return option.startswith("--no-") is not bool(value)
    return bool(action.const == value)
