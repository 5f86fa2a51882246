"""The figure registry: NAME -> maker, and :func:`render` that the ``figures`` CLI loops over.

Importing this module does not import matplotlib: makers are resolved when a figure is made,
so the CLI parser stays fast.
"""

from __future__ import annotations

import copy
import gc
import importlib
import inspect
import os
import pickle
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nb201_flat.errors import (
    ArgumentError,
    Call,
    FigureSkipped,
    MissingValueError,
    Param,
    ResourceLimitError,
    check_choice,
    check_int_range,
    parts_of,
    shown,
)
from nb201_flat.table import Table, check_table, wrapping_data
from nb201_flat.types import FloatArray

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True, slots=True)
class FigureSpec:
    """One figure of the registry.

    Attributes
    ----------
    name
        Registry name (also the file stem).
    module, function
        Where the maker ``make_x(table, **options) -> Figure`` lives (imported on use).
    summary
        One line for listings and the README.
    runs_searches
        The figure runs searches: :func:`render_many` loads their compiled kernels before its
        workers start, so each inherits them rather than loading its own.
    """

    name: str
    module: str
    function: str
    summary: str
    runs_searches: bool = False

    @property
    def make(self) -> Callable[..., Figure]:
        """The maker function."""
        fn: Callable[..., Figure] = getattr(importlib.import_module(self.module), self.function)
        return fn


_PKG = "nb201_flat.figures"

FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        FigureSpec(
            "na_projection",
            f"{_PKG}.projection",
            "make_na_projection",
            "NA Figure 1: 2-D landscape projections around the RS and NA-RS picks",
            runs_searches=True,
        ),
        FigureSpec(
            "flat_vs_sharp",
            f"{_PKG}.generalisation",
            "make_flat_vs_sharp",
            "sharpness vs validation-test gap and cross-dataset transfer",
        ),
        FigureSpec(
            "a2m_distributions",
            f"{_PKG}.distributions",
            "make_a2m_distributions",
            "A²M neighbour-accuracy distributions per band at radius 1-3",
        ),
        FigureSpec(
            "a2m_paths",
            f"{_PKG}.paths",
            "make_a2m_paths",
            "A²M barrier paths beside the lowest-barrier paths",
        ),
        FigureSpec(
            "search_curves",
            f"{_PKG}.search",
            "make_search_curves",
            "anytime curves of RS, NA-RS and relatives",
            runs_searches=True,
        ),
        FigureSpec(
            "barrier_tree",
            f"{_PKG}.tree",
            "make_barrier_tree",
            "disconnectivity graph of the best local optima",
        ),
        FigureSpec(
            "distance_profile",
            f"{_PKG}.profile",
            "make_distance_profile",
            "accuracy against Hamming distance from the optimum",
        ),
        FigureSpec(
            "barrier_census",
            f"{_PKG}.census",
            "make_barrier_census",
            "barrier census: exact lowest vs shortest-path barriers over many pairs",
        ),
        FigureSpec(
            "flatness_by_epoch",
            f"{_PKG}.epochs",
            "make_flatness_by_epoch",
            "landscape sharpness and rank agreement along training (learning curves)",
        ),
    )
}

FIGURE_NAMES: tuple[str, ...] = tuple(FIGURES)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A figure written to disk: its files, how long it took and the maker's notes."""

    name: str
    files: tuple[Path, ...]
    seconds: float
    notes: tuple[str, ...]


def make(name: str, table: Table, **options: Any) -> Figure:
    """Make figure ``name`` on ``table``.

    Raises
    ------
    FigureSkipped
        The table cannot serve it: a :class:`MissingValueError` raised where a table vector
        the maker read holds an unmeasured (NaN) cell becomes this skip.
    MissingValueError
        Raised as is where every vector the maker read is fully measured: the NaN came from
        the computation (a bad option, a bug), not from what the table lacks.
    """
    # a misspelt name is the caller's error: a skip would read as "this table cannot"
    check_choice("figure", name, FIGURE_NAMES)
    check_table(table)  # else it failed deep inside, at the first key looked up
    maker = FIGURES[name].make
    params = inspect.signature(maker).parameters
    unknown = [k for k in options if k not in params or k == "table"]
    if unknown:  # Python's TypeError would name the maker, not what the figure takes
        takes = ", ".join(p for p in params if p != "table") or "no options"
        raise ArgumentError(
            f"figure {name} has no option {', '.join(map(repr, unknown))}; it takes {takes}"
        )
    reading = _Reads(table, outer=_READING.get())
    token = _READING.set(reading)
    try:
        with wrapping_data(reading.wrap):
            return maker(reading.table, **options)
    except MissingValueError as exc:
        # unmeasured cells where the figure reads values (a sparse table): the table cannot
        # serve it, which a full `figures` run skips with this note; it aborted the run.
        # Where every vector it read is measured the NaN came from the computation (a bad
        # option, a bug): the caller's error, not a figure this table cannot serve
        if not reading.lacked_values():
            raise
        raise FigureSkipped(
            name, ["values measured where the figure reads them"], parts_of(exc)
        ) from exc
    finally:
        _READING.reset(token)


class _Reads:
    """Which of a table's vectors a figure maker reads, through the table it is given or any
    table it derives from it: ``with_vector``, a subset, a copy of ``data`` or of the table
    share the vectors (a deep copy's are noted as the ones they copy). A figure made inside
    another's maker (``outer``) reads for that one too."""

    def __init__(self, table: Table, outer: _Reads | None = None) -> None:
        self.outer = outer
        # id -> (a vector the maker may read, the caller's vector whose values it holds): the
        # first of each pair is kept alive, so that no other array takes its id
        self.vectors: dict[int, tuple[Any, FloatArray]] = {
            id(v): (v, v) for v in dict.values(table.data)
        }
        self.read: set[int] = set()
        self.table = copy.copy(table)  # the caller's table keeps its own data
        self.table.data = self.wrap(table.data)

    def wrap(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """``data`` noting reads here (each table built while the maker runs keeps this)."""
        if isinstance(data, _NotingData) and data.reads is self:
            return data
        return _NotingData(self, data)

    def note(self, vec: object) -> None:
        if id(vec) in self.vectors:
            self.read.add(id(vec))
        if self.outer is not None:
            self.outer.note(vec)

    def copied(self, vec: object, copied: object) -> None:
        if id(vec) in self.vectors:
            self.vectors[id(copied)] = (copied, self.vectors[id(vec)][1])
        if self.outer is not None:
            self.outer.copied(vec, copied)

    def lacked_values(self) -> bool:
        """Whether a vector the maker read holds an unmeasured (NaN) cell."""
        return any(bool(np.isnan(self.vectors[i][1]).any()) for i in self.read)


# the record of the figure being made here: a figure made inside its maker notes its reads
# there too (the table hook wraps new tables for the innermost figure alone)
_READING: ContextVar[_Reads | None] = ContextVar("figure_reads", default=None)


class _NotingData(dict[Any, Any]):
    """A table's ``data`` noting in :class:`_Reads` the vectors handed out.

    Every read of a vector is noted once it succeeds: a key looked up in vain (a maker
    catching the KeyError) is not a vector read. dict's C methods never call ``__getitem__``,
    so each that hands out vectors is overridden; a copy notes its reads here too. ``items()``
    and ``values()`` hand out every vector: a subset built by iterating them notes them all,
    one built from the keys it keeps (``data[key]``) only those.
    """

    __slots__ = ("reads",)

    def __init__(self, reads: _Reads, data: dict[Any, Any]) -> None:
        super().__init__(data)
        self.reads = reads

    def __getitem__(self, item: Any) -> Any:
        vec = super().__getitem__(item)
        self.reads.note(vec)
        return vec

    def get(self, item: Any, default: Any = None) -> Any:
        if item in self:
            return self[item]
        return default

    def values(self) -> Any:
        self._note_all()
        return super().values()

    def items(self) -> Any:
        self._note_all()
        return super().items()

    def _note_all(self) -> None:
        for vec in dict.values(self):
            self.reads.note(vec)

    def copy(self) -> _NotingData:
        return _NotingData(self.reads, self)

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> _NotingData:
        out = _NotingData(self.reads, {})
        for item, vec in dict.items(self):
            dup = copy.deepcopy(vec, memo)
            self.reads.copied(vec, dup)
            dict.__setitem__(out, copy.deepcopy(item, memo), dup)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # a plain dict in another process: its reads cannot be noted here
        return (dict, (dict(self),))


def render(
    name: str,
    table: Table,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("png", "pdf"),
    options: Mapping[str, Any] | None = None,
) -> Rendered:
    """Make figure ``name`` and save it as ``out_dir/name.<fmt>`` for each format.

    Raises
    ------
    FigureSkipped
        The table lacks what the figure needs (the message says what, naming the figure's
        options as they are passed here: ``options={'pick': 'value'}``).
    """
    from nb201_flat.errors import check_path
    from nb201_flat.figures._common import figure_notes
    from nb201_flat.figures.style import check_formats, save_figure

    formats = check_formats(formats)  # before the figure is drawn
    out = check_path("out_dir", out_dir)
    if options is not None and not isinstance(options, Mapping):
        raise ArgumentError(f"options must be a mapping of keyword options, got {options!r:.60}")
    t0 = time.perf_counter()
    try:
        fig = make(name, table, **dict(options or {}))
    except FigureSkipped as exc:
        spelt = _in_options(exc, name)
        if spelt is exc:
            raise
        # the maker's skip, its options named as passed here; what caused it is kept
        raise spelt.with_traceback(exc.__traceback__) from exc.__cause__
    files = save_figure(fig, out / name, formats=formats)
    return Rendered(name, tuple(files), time.perf_counter() - t0, tuple(figure_notes(fig)))


@dataclass(frozen=True, slots=True)
class _Option(Param):
    """A figure's option named in a skip, as :func:`render` takes it, in ``options``
    (``options={'pick': 'value'}``), or as :func:`render_many` does, under the figure's name
    (``figure``); a command finds its flag by the option's name, as for any parameter."""

    figure: str = ""

    def __str__(self) -> str:
        option = f"{{{self.name!r}: {self.placeholder or shown(self.value, 400)}}}"
        return f"options={{{self.figure!r}: {option}}}" if self.figure else f"options={option}"


def _in_options(exc: FigureSkipped, name: str, *, keyed: bool = False) -> FigureSkipped:
    """``exc``, a skip of figure ``name``, naming the options it passes (the maker's keyword
    parameters, as its message names them: ``pick='value'``) as :func:`render` takes them, or,
    ``keyed``, as :func:`render_many` does."""
    takes = set(inspect.signature(FIGURES[name].make).parameters) - {"table"}

    def passed(part: Any) -> Any:
        if not isinstance(part, Param) or isinstance(part, Call) or part.name not in takes:
            return part
        if not (part.has_value or part.placeholder):  # named, not passed: its name says it
            return part
        return _Option(part.name, part.value, part.placeholder, name if keyed else "")

    why = tuple(map(passed, exc.why_parts))
    if why == exc.why_parts:
        return exc
    return FigureSkipped(exc.figure, exc.needs, why, exc.any_of)


# CPU seconds of each figure on the real NB201 table (one run on two shared cores): the
# longest are handed to the workers first, so that no worker is left with a long one at the end
_SECONDS: dict[str, float] = {
    "search_curves": 6.5,
    "barrier_census": 3.5,
    "a2m_paths": 3.0,
    "a2m_distributions": 2.5,
    "barrier_tree": 2.0,
    "flat_vs_sharp": 2.0,
    "na_projection": 2.0,
    "distance_profile": 1.5,
}

# imported before the workers start, so that each forked worker has them already
_PRELOAD = (
    "matplotlib.pyplot",
    "scipy.special",
    "pandas",
    "nb201_flat.landscape",
    "nb201_flat.search",
    "nb201_flat.search.accounting",
    "nb201_flat.figures._common",
)
# imported too where a figure runs searches (the batched runs' modules, not the kernels')
_PRELOAD_SEARCH = ("nb201_flat.search.lockstep", "nb201_flat.search.replay")

_WORKER: dict[str, Any] = {}


def render_many(
    names: Sequence[str],
    table: Table,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("png", "pdf"),
    options: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int = 1,
) -> Iterator[tuple[str, Rendered | FigureSkipped]]:
    """:func:`render` each of ``names``, yielding ``(name, Rendered or FigureSkipped)`` in order
    (a skip names the figure's options as they are passed here:
    ``options={'na_projection': {'pick': 'value'}}``).

    With ``workers > 1`` the figures are drawn that many at a time, each in a fresh process
    forked from this one (where the platform forks; spawned workers load the table from a
    copy), the longest first. Every figure is seeded and drawn alone, so the files are the
    same bytes as with one worker. Errors other than a skip are raised here.
    """
    from nb201_flat.figures.style import check_formats

    given: object = names  # typed as a sequence; a notebook may pass one name all the same
    if isinstance(given, str):  # its letters would be read as names
        raise ArgumentError(f"names must be a sequence of figure names; pass [{given!r}]")
    for name in names:
        check_choice("figure", name, FIGURE_NAMES)
    # a name given twice drew its figure twice and listed its files twice; refused, as the
    # command's --only refuses it
    listed = list(names)
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if twice:
        raise ArgumentError(f"names holds {', '.join(twice)} twice; give each figure once")
    formats = check_formats(formats)
    workers = check_int_range("workers", workers, 1, fix="workers=1 draws in this process")
    if options is not None and not isinstance(options, Mapping):
        raise ArgumentError(
            f"options must map figure names to their keyword options, got {shown(options)}; "
            "e.g. {'flat_vs_sharp': {'top': 0.1}}"
        )
    opts = dict(options or {})
    for name in opts:  # options of a figure not drawn were dropped without a word
        check_choice("each key of options", name, FIGURE_NAMES)
        if name not in names:
            raise ArgumentError(
                f"options are given for {name}, which names does not list; add it to names "
                "or drop its options"
            )
    if workers <= 1 or len(names) <= 1:
        for name in names:
            try:
                yield name, render(name, table, out_dir, formats=formats, options=opts.get(name))
            except FigureSkipped as exc:
                yield name, _in_options(exc, name, keyed=True)
        return
    import multiprocessing as mp  # here: the CLI parser imports this module for every command
    import multiprocessing.connection

    from nb201_flat.pools import reap, stop_signals_held, terminate

    fork = "fork" in mp.get_all_start_methods()
    ctx: Any = mp.get_context("fork" if fork else "spawn")
    searching = [n for n in names if n in FIGURES and FIGURES[n].runs_searches]
    preload = [*_PRELOAD, *(FIGURES[n].module for n in names if n in FIGURES)]
    for module in dict.fromkeys(preload + (list(_PRELOAD_SEARCH) if searching else [])):
        importlib.import_module(module)
    _warm_up(formats)
    _WORKER["table"] = table
    # objects made so far are never collected in the workers: their pages stay shared
    gc.freeze()
    args = (tuple(formats), str(out_dir))
    order = sorted(names, key=lambda n: -_SECONDS.get(n, 1.0))
    running: dict[Any, tuple[str, Any]] = {}  # result pipe -> (figure, its process)
    done: dict[str, Any] = {}

    def start(todo: str) -> None:
        # each figure in a fresh process, forked here on the main thread (never from a helper
        # thread that may hold a lock)
        order.remove(todo)
        recv, send = ctx.Pipe(duplex=False)
        table_arg = None if fork else table
        proc = ctx.Process(
            target=_child, args=(send, table_arg, todo, *args, opts.get(todo)), daemon=True
        )
        # a stop handled in an at-fork hook was dropped; one held there acts once the process
        # is known to the cleanup below (raised before, it left the worker drawing on)
        with stop_signals_held():
            proc.start()
            running[recv] = (todo, proc)
        send.close()

    try:
        if searching:
            # the search kernels are loaded here once, for every worker that runs searches
            # (1-1.5 s of this process): a figure that needs none is drawn meanwhile
            first = next((n for n in order if n not in searching), None)
            if first is not None:
                start(first)
            from nb201_flat.search.compiled import load_kernels

            load_kernels(workers)
            gc.freeze()
        for name in names:
            while name not in done:
                while order and len(running) < workers:  # at most `workers` at a time
                    start(order[0])
                for ready in mp.connection.wait(list(running)):
                    conn: Any = ready  # one of our pipes
                    todo, proc = running.pop(conn)
                    try:
                        done[todo] = conn.recv()
                    except EOFError:
                        proc.join()  # the pipe closes before the exit is reaped: its code next
                        done[todo] = (
                            "error",
                            ResourceLimitError(
                                f"the worker drawing {todo} died (exit code {proc.exitcode}, "
                                "out of memory?); draw it with ",
                                Param("workers", 1),
                                " or alone (",
                                Param("names", placeholder="NAME"),
                                ")",
                            ),
                        )
                    conn.close()
                    proc.join()
            kind, value = done.pop(name)
            if kind == "error":
                raise value
            if kind == "skipped":  # it pickles as itself
                value = _in_options(value, name, keyed=True)
            yield name, value  # or what was written
    finally:
        stopped = [proc for _, proc in running.values()]  # stopped early (an error, Ctrl-C)
        terminate(stopped)
        reap(stopped)
        for conn in running:
            conn.close()
        _WORKER.clear()
        gc.unfreeze()


def _warm_up(formats: Sequence[str]) -> None:
    """Save a small figure with text in every format, here: what the first save of a process
    loads (the backends, the font subsetter's modules, the fonts) is then loaded once, not in
    every worker."""
    import io

    import pandas as pd

    from nb201_flat.figures._common import new_figure
    from nb201_flat.figures.style import figure_style

    fig, axes = new_figure(figsize=(1.0, 1.0))
    axes[0, 0].set_title("warm-up 0123456789", fontweight="bold")
    with figure_style():
        for fmt in formats:
            fig.savefig(io.BytesIO(), format=fmt)
    # what pandas loads on its first frame with text labels (pyarrow's pandas layer for its
    # string dtype: ~0.2 s that every worker paid)
    pd.DataFrame({"label": ["a"]}).set_index("label")


def _child(
    send: Any,
    table: Table | None,
    name: str,
    formats: tuple[str, ...],
    out_dir: str,
    options: Mapping[str, Any] | None,
) -> None:
    """A worker: draw one figure and send back ``(kind, value)``."""
    from nb201_flat.pools import default_sigterm, return_freed_memory

    default_sigterm()
    return_freed_memory()
    if table is None:  # forked: the parent's table, shared page for page
        table = _WORKER["table"]
    else:  # spawned: a fresh interpreter
        import matplotlib

        matplotlib.use("Agg")
    try:
        out: tuple[str, Any] = (
            "rendered",
            render(name, table, out_dir, formats=formats, options=options),
        )
    except FigureSkipped as exc:
        out = ("skipped", exc)
    except Exception as exc:  # raised again in the parent, as a pool would
        out = ("error", exc)
    try:
        # loaded back here first: an exception whose constructor takes other arguments than
        # its message pickles, and then fails to load in the parent, hiding what went wrong
        pickle.loads(pickle.dumps(out))
        send.send(out)
    except Exception as exc:  # an exception that does not pickle or load back: its text
        send.send(("error", RuntimeError(f"{name}: {out[1]!r} (unpicklable: {exc})")))
    send.close()
