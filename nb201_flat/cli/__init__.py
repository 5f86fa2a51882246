"""The ``nb201-flat`` command line (also ``python -m nb201_flat``).

Each command group lives in its own module of this package with a ``register(subparsers)``
function; ``common`` holds the argument groups and helpers they share.
Errors the package raises on purpose (:class:`~nb201_flat.errors.Nb201FlatError`) become one
line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import errno
import importlib
import io
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from nb201_flat import __version__, budget
from nb201_flat.errors import FULL, Nb201FlatError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

_COMMAND_MODULES = (
    "nb201_flat.cli.table",
    "nb201_flat.cli.demo",
    "nb201_flat.cli.landscape",
    "nb201_flat.cli.search",
    "nb201_flat.cli.train",
    "nb201_flat.cli.figures",
    "nb201_flat.cli.constraints",
)

# each command's module, so that a command registers only its own module's parsers (their
# choices import the search, figure and importer layers); tests/cli checks it against the
# modules
COMMANDS: dict[str, str] = {
    "import": "nb201_flat.cli.table",
    "info": "nb201_flat.cli.table",
    "record": "nb201_flat.cli.table",
    "query": "nb201_flat.cli.table",
    "demo": "nb201_flat.cli.demo",
    "flatness": "nb201_flat.cli.landscape",
    "barrier": "nb201_flat.cli.landscape",
    "census": "nb201_flat.cli.landscape",
    "search": "nb201_flat.cli.search",
    "reproduce": "nb201_flat.cli.search",
    "model": "nb201_flat.cli.train",
    "train": "nb201_flat.cli.train",
    "figures": "nb201_flat.cli.figures",
    "constrained": "nb201_flat.cli.constraints",
}


# the namespace entry where one parse keeps the options given so far (dest: the value as
# given); _Parser.parse_known_args takes it out again
_GIVEN = "_nb201_flat_given"
# the program's own options (build_parser), which a command's parser does not take
_TOP_LEVEL = re.compile(r"--version|--verbose|-v+")
# a negative number in each form common.parse_float and parse_int read
_NEGATIVE_NUMBER = re.compile(
    r"^-(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|infinity|nan)$", re.IGNORECASE
)


def _given_once(
    action: argparse.Action, namespace: argparse.Namespace, values: Any, option: str | None
) -> None:
    """Refuse a second occurrence of ``action``'s option (or of another that sets its dest):
    argparse keeps the last value and drops the earlier one unsaid (``--seeds 5 --seeds 6``
    trained seed 6 only). A positional is consumed once by argparse itself."""
    if not action.option_strings:
        return
    given: dict[str, str] = namespace.__dict__.setdefault(_GIVEN, {})
    shown = " ".join(map(str, values)) if isinstance(values, list) else str(values)
    if isinstance(action, argparse.BooleanOptionalAction):
        shown = option or ""  # --compile / --no-compile: the option is the value
    if action.dest not in given:
        given[action.dest] = shown
        return
    first = given[action.dest]
    name = next((o for o in action.option_strings if o.startswith("--")), option)
    if isinstance(action, argparse.BooleanOptionalAction):
        name, fix = "/".join(action.option_strings), "give one of them once"
    elif isinstance(values, list):  # nargs: one occurrence takes every value
        every = f"{first} {shown}".split(" ")
        if action.choices is not None:  # names from a fixed set: each once (png, not png png)
            every = list(dict.fromkeys(every))
        fix = f"give it once with every value: {name} {' '.join(every)}"
    else:
        fix = "give it once"
    raise argparse.ArgumentError(None, f"{name} given twice ({first}, {shown}); {fix}")


class _Once(argparse.Action):
    """An action refusing its option's second occurrence (:func:`_given_once`), mixed in
    before the action it wraps."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        _given_once(self, namespace, values, option_string)
        super().__call__(parser, namespace, values, option_string)


class _StoreOnce(_Once, argparse._StoreAction):
    """argparse's ``store`` (an option's default action) that refuses being given twice; the
    options meant to collect values say so with ``append`` or ``extend`` (``--arch``,
    ``--only``)."""


class _BooleanOnce(_Once, argparse.BooleanOptionalAction):
    """``--compile`` / ``--no-compile``, refusing both or either twice (the last one won)."""


#: the actions an option may take a value by without being refused when repeated: those that
#: collect every occurrence (tests/cli/test_repeated_options.py walks every command's options)
COLLECTING = (argparse._AppendAction, argparse._ExtendAction, argparse._CountAction)


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error format: one line naming the problem and where the
    fix is, exit code 2 (argparse's own prints the whole usage text first), and options that
    refuse being given twice (:class:`_StoreOnce`). Sub-commands' parsers are of this class
    too (``add_subparsers(parser_class=...)``): argparse gives a subparser none of its
    parent's registrations, so each parser registers its actions itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the action of add_argument without action=, and its name: argument groups share
        # these registries
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)
        self.register("action", argparse.BooleanOptionalAction, _BooleanOnce)
        # every negative number parse_float reads is a value, not an option: argparse's own
        # rule (-5, -.5) took --max-cost -1e-3 and --budget-scale -inf for a missing value
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = super().parse_known_args(args, namespace)
        vars(parsed).pop(_GIVEN, None)  # bookkeeping of _given_once, no option
        return parsed, extra

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        """argparse's printer of help, ``--version`` and errors, which drops a failed write
        unsaid (``--help > /dev/full`` exited 0 with nothing written): a failed write to the
        output is one line and exit 2, as a command's is. A write to the error output that
        fails has nowhere to be said, and is dropped as before."""
        out = file or sys.stderr
        if not message or out is None:
            return
        if out is sys.stderr:
            super()._print_message(message, out)
            return
        try:
            out.write(message)
            flush = getattr(out, "flush", None)
            if flush is not None:
                flush()  # the write is buffered: the refusal comes with the flush
        except BrokenPipeError:  # `nb201-flat --help | head`, as a command's (exit 0)
            _drop_stdout()
        except OSError as exc:
            said = _output_error(exc)  # before the output is dropped: it reads its mode
            _drop_stdout()
            self.exit(2, f"error: {said}\n")

    def error(self, message: str) -> NoReturn:
        from nb201_flat.cli.common import one_line  # an unrecognized word may hold a newline

        self.exit(2, f"error: {self.prog}: {one_line(message)}; see {self.prog} --help\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command, or only ``command``'s module's commands
    (a known command; help and unknown commands get every one)."""
    parser = _Parser(
        prog="nb201-flat",
        description="Flat minima in NAS-Bench-201 architecture space.",
    )
    parser.add_argument("--version", action="version", version=f"nb201-flat {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules = (COMMANDS[command],) if command in COMMANDS else _COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: its first word that is not an option (the top-level
    options take no value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    _escape_unencodable()  # before the parser: its --help says ² and — too
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_of(words))
    args, extra = parser.parse_known_args(words)
    from nb201_flat.cli.common import subparser

    owner = subparser(parser, getattr(args, "command", None))
    args.parser = owner  # the command's own flags spell what its messages name (common.spell)
    if extra == ["--"]:  # a lone "--" ends the options, as it does before a positional
        extra = []
    misplaced = [w for w in extra if _TOP_LEVEL.fullmatch(w.split("=")[0])]
    if misplaced:  # the top-level options are the program's, given before the command
        option = misplaced[0].split("=")[0]
        command = getattr(args, "command", None) or "COMMAND"
        usage = "" if option == "--version" else f" {command} ..."
        parser.error(
            f"{option} is an option of {parser.prog} itself, given before the command: "
            f"{parser.prog} {misplaced[0]}{usage}"
        )
    if extra:  # said by the command's own parser, so the line points at its --help
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):  # one line on the error output, as argparse's own
        print(f"error: {parser.prog} needs a command; see {parser.prog} --help", file=sys.stderr)
        return 2
    if sys.stdout is None:  # started with its stdout closed: every print was lost unseen
        print(
            "error: standard output is closed, so nothing this command says could be seen; "
            "run it with an output (> FILE, or > /dev/null to discard it)",
            file=sys.stderr,
        )
        return 2
    if sys.stderr is None and getattr(args, "progress", False):  # tqdm met None: exit 1
        print(  # to the output: the error output is closed
            "error: --progress draws its bars on the error output, which is closed; drop "
            "--progress, or run it with one (2> FILE)"
        )
        return 2
    try:
        os.getcwd()
    except FileNotFoundError:  # each command met it somewhere else, some with a traceback
        print(
            "error: the working folder no longer exists; cd to an existing folder",
            file=sys.stderr,
        )
        return 2
    # bars only beside human output, and where an error output is open
    budget.set_progress(not getattr(args, "json", False) and sys.stderr is not None)
    outputs = _outputs_before(args)
    try:
        budget.preload_blas(args.command)  # under ulimit -v only: a late load would hang
        with _stop_signals():
            code: int = args.func(args)
        sys.stdout.flush()  # here, where a failed write is said (at exit it was a traceback)
    except Nb201FlatError as exc:
        from nb201_flat.cli.common import error_line, one_line  # parameters named as flags

        # one line even where a path or value the message quotes holds a newline
        print(f"error: {one_line(error_line(exc, owner, args))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError as exc:  # a cap the up-front estimates did not see: one line, not a trace
        from nb201_flat.cli.common import out_of_memory

        print(f"error: {out_of_memory(args.command, exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError as exc:
        if _pipe_closed(sys.stdout):  # e.g. `nb201-flat info | head`
            return 0
        if not _pipe_closed(sys.stderr):  # another pipe: a bug, with its traceback
            raise
        with contextlib.suppress(OSError, ValueError):  # said where it may still be read
            print(
                f"error: could not write the error output ({exc.strerror}), so the command "
                "stopped before it finished; run it with an error output that stays open "
                "(2> FILE)",
                file=sys.stderr,
            )
        return 2
    except OSError as exc:
        if exc.errno in _UNUSABLE_PATH and exc.filename is not None:
            from nb201_flat.errors import shown

            print(
                f"error: {shown(exc.filename)}: {exc.strerror}; choose another path",
                file=sys.stderr,
            )
            return 2
        if exc.errno == errno.EBADF and exc.filename is None and _stdout_read_only():
            # before the output is dropped: it reads its mode
            said = _output_error(exc, _written(outputs), _has_force(owner))
            _drop_stdout()
            print(f"error: {said}", file=sys.stderr)
            return 2
        if exc.errno not in FULL:
            raise
        # a full disk: OSError's traceback, exit 1. A write to stdout names no file (> /dev/full);
        # the library's own files are written by atomic, which says which (_write_error)
        if exc.filename is None:
            said = _output_error(exc, _written(outputs), _has_force(owner))
            _drop_stdout()
        else:
            said = f"{exc.strerror} ({exc.filename}); free some space and run it again"
        print(f"error: {said}", file=sys.stderr)
        return 2
    return code


def _output_error(exc: OSError, written: str = "", force: bool = False) -> str:
    """What to say of a write to this process's output that failed with ``exc``. ``written``
    names the files the command wrote all the same (:func:`_written`); where its command
    refuses to replace them unless given ``force`` (import's table), the fix says so."""
    lost = again = ""
    if written:
        lost = f"; {written} was written, only the report was lost"
        again = f", and pass --force to replace {written}" if force else ""
    if exc.errno == errno.EBADF and _stdout_read_only():
        return (
            f"could not write the output (its file is not open for writing){lost}; run it "
            f"with an output (> FILE){again}"
        )
    if exc.errno in FULL:
        return (
            f"could not write the output ({exc.strerror}){lost}; free some space or send "
            f"it elsewhere{again}"
        )
    return f"could not write the output ({exc.strerror or exc}){lost}; send it elsewhere{again}"


# the options naming what a command writes besides its report (import's table, reproduce's
# and figures' folders, census's pairs)
_OUTPUT_OPTIONS = ("out", "pairs_out")


def _outputs_before(args: argparse.Namespace) -> dict[str, tuple[int, int] | None]:
    """The files or folders ``args`` names for the command to write (:data:`_OUTPUT_OPTIONS`),
    each with its inode and modification time before the command, or None where it is not
    there yet."""
    paths = (getattr(args, name, None) for name in _OUTPUT_OPTIONS)
    return {str(path): _stamp(str(path)) for path in paths if isinstance(path, (str, os.PathLike))}


def _has_force(parser: argparse.ArgumentParser) -> bool:
    """Whether ``parser``'s command takes ``--force`` (to replace what it wrote before)."""
    return any("--force" in action.option_strings for action in parser._actions)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_ino, st.st_mtime_ns


def _written(before: dict[str, tuple[int, int] | None]) -> str:
    """Those of ``before``'s paths (:func:`_outputs_before`) the command wrote, or replaced
    or added to, as a phrase; empty where it wrote none."""
    from nb201_flat.cli.common import one_line  # a path may hold a newline

    return one_line(
        " and ".join(p for p, stamp in before.items() if _stamp(p) not in (None, stamp))
    )


def _escape_unencodable() -> None:
    """Print what the output's encoding cannot hold as a backslash escape, as the error output
    does: under an ASCII or C locale (``PYTHONIOENCODING=ascii``, ``LC_ALL=C``) the first
    ``±``, ``²`` or ``—`` of a command or its help raised UnicodeEncodeError midway through
    its output. Under the C locale's ``surrogateescape`` a path's undecodable bytes are still
    written back as they were (:func:`_surrogates_or_backslash`)."""
    out = sys.stdout
    if not isinstance(out, io.TextIOWrapper):
        return
    escape = {"strict": "backslashreplace", "surrogateescape": _ESCAPE}.get(out.errors or "")
    if escape is not None:
        with contextlib.suppress(OSError, ValueError):  # closed, or a stream that cannot
            out.reconfigure(errors=escape)


_ESCAPE = "nb201_flat.surrogateescape-else-backslash"


def _surrogates_or_backslash(exc: UnicodeError) -> tuple[str | bytes, int]:
    """The codec error handler of :data:`_ESCAPE`: ``surrogateescape``'s bytes where the text
    holds them, else backslash escapes."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start : exc.end]:  # a run may mix both kinds: each on its own
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for an undecodable byte
            out.append(code - 0xDC00)
        else:
            out += ch.encode("ascii", "backslashreplace")
    return bytes(out), exc.end


codecs.register_error(_ESCAPE, _surrogates_or_backslash)


def _pipe_closed(stream: Any) -> bool:
    """Whether ``stream`` writes to a pipe whose reader has gone: the one broken pipe a
    command ends on quietly is its output's (``| head``)."""
    import select

    try:
        poll = select.poll()
        poll.register(stream.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # closed, or no descriptor (a capture)
        return False


def _stdout_read_only() -> bool:
    """Whether this process's output was opened for reading only (``1< FILE``): a write to
    it fails with EBADF, which other descriptors (a pool's pipes) can fail with too."""
    try:
        import fcntl

        mode = fcntl.fcntl(sys.stdout.fileno(), fcntl.F_GETFL) & os.O_ACCMODE
    except (ImportError, OSError, ValueError, AttributeError):
        return False
    return mode == os.O_RDONLY


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, a scheduler's stop) ends the command as an
    exception does, so its pools stop their workers and its files stay whole; the default
    action killed this process alone, and its workers ran on, orphaned. Exit status 143, as
    the default gives. Ctrl-C (SIGINT) raises KeyboardInterrupt here, as before.

    Both act only in this process. A child forked by the command inherits the handlers until
    it sets its own (pools.default_sigterm), and one signalled in between raised at
    ``os.fork()``'s return, outside multiprocessing's exit guard: the exception unwound the
    command's stack as copied into the child, which ran the caller's code on (under pytest
    it reported the test failed and went on as the worker while its parent waited for it; a
    sibling terminated just after its fork, as render_many's cleanup does). There SIGTERM
    takes the default action and SIGINT is ignored: the command stops its children.

    The command's own steps hold both while Python must not be broken into
    (:func:`~nb201_flat.pools.stop_signals_held`). Where the exception was raised all the
    same somewhere Python drops it ("Exception ignored in" a finalizer or a callback), or
    wraps it in another (numba's ``SystemError``), the command still ends as interrupted:
    the handlers note each signal they take.

    Each is left as it is where a caller set its own handler, and both off the main thread
    (where none can be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()
    taken_signal: list[int] = []

    def terminated(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)  # ends it here, unless SIGTERM is blocked
            os._exit(128 + signum)
        taken_signal.append(signum)
        raise SystemExit(128 + signum)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        if os.getpid() == owner:
            taken_signal.append(signum)
            signal.default_int_handler(signum, frame)

    ours: dict[int, tuple[Any, Callable[[int, FrameType | None], None]]] = {
        signal.SIGTERM: (signal.SIG_DFL, terminated),
        signal.SIGINT: (signal.default_int_handler, interrupted),
    }
    taken = [s for s, (default, _) in ours.items() if signal.getsignal(s) is default]
    for s in taken:
        signal.signal(s, ours[s][1])
    try:
        yield
    except Exception as exc:
        if not taken_signal or not _stopped_behind(exc):
            raise
        raise _stop_of(taken_signal[-1]) from None
    else:
        if taken_signal:  # its exception was dropped: the command ran on to its end
            raise _stop_of(taken_signal[-1])
    finally:
        for s in taken:
            signal.signal(s, ours[s][0])


def _stopped_behind(exc: BaseException) -> bool:
    """Whether ``exc``'s chain of causes holds the exception of a stop signal's handler."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, (KeyboardInterrupt, SystemExit)):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False


def _stop_of(signum: int) -> BaseException:
    """The exception ``signum``'s handler raises in :func:`_stop_signals`, as main ends on it."""
    return KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)


# a path no call can use, wherever the command met it (a table, an --out, a file's parent)
_UNUSABLE_PATH = (errno.ENAMETOOLONG, errno.ELOOP)


def _drop_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush of what could not be
    written fails no more (it printed a second error at exit)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
