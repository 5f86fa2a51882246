"""Restricted unpickling for the official benchmark files.

The official NAS-Bench-201 ``.pth`` and NATS-Bench ``.pickle.pbz2`` files are Python pickles,
and unpickling runs whatever callable the file names. :func:`safe_load` only resolves the globals
in an allow-list (built-in containers and scalars, :class:`collections.OrderedDict`, numpy
scalars and arrays); any other global stops the load with a :class:`~nb201_flat.errors.FormatError`
that names it. Nothing the file names is ever called unless it is on the list.

Two escape hatches exist for content that is safe to *skip* but not to *build*: globals under
``discard_modules`` (for the official files: ``torch``, whose tensors hold trained weights that
no importer reads) resolve to an inert :class:`Discarded` placeholder, and ``discard_persistent``
turns the persistent ids torch uses for tensor storages into ``None``.

Examples
--------
>>> import io, pickle
>>> safe_load(io.BytesIO(pickle.dumps({"a": {1, 2}}, protocol=2)))
{'a': {1, 2}}
>>> import os
>>> safe_load(io.BytesIO(pickle.dumps(os.getcwd)))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nb201_flat.errors.FormatError: refused to unpickle ...getcwd...
"""

from __future__ import annotations

import pickle
from typing import Any, Final, Protocol

from nb201_flat.errors import FormatError, Nb201FlatError, TableFileError

__all__ = [
    "DEFAULT_ALLOWED",
    "UNSAFE_OPT_IN",
    "Discarded",
    "ReadableBinary",
    "safe_load",
]

#: How a user opts in to full unpickling; every refusal message ends with it.
UNSAFE_OPT_IN: Final = (
    "allow_unsafe_pickle=True (CLI --allow-unsafe-pickle) opts in to full unpickling, "
    "for files from a source you trust"
)

_BUILTINS: Final = frozenset(
    ("builtins", name)
    for name in (
        # Containers and scalars that protocols 0-2 write as a call to the type; the other
        # built-in types (dict, list, tuple, str, int, float, bool, bytes) have opcodes.
        "set",
        "frozenset",
        "complex",
        "bytearray",
        "slice",
        "range",
    )
)

_NUMPY: Final = frozenset(
    (f"numpy.{core}.{module}", name)
    # numpy < 2 pickles name ``numpy.core``, numpy >= 2 ``numpy._core``; protocol 5 rebuilds
    # arrays with ``_frombuffer`` (a view of the pickled bytes), older ones with _reconstruct.
    for core in ("core", "_core")
    for module, name in (
        ("multiarray", "scalar"),
        ("multiarray", "_reconstruct"),
        ("numeric", "_frombuffer"),
    )
) | frozenset({("numpy", "dtype"), ("numpy", "ndarray")})

#: The globals :func:`safe_load` resolves by default.
DEFAULT_ALLOWED: Final[frozenset[tuple[str, str]]] = (
    _BUILTINS
    | _NUMPY
    | frozenset(
        {
            # Protocol 0-2 pickles store ``bytes`` as ``_codecs.encode(latin-1 text)``.
            ("_codecs", "encode"),
            ("collections", "OrderedDict"),
        }
    )
)

# Protocol 0-2 pickles may use Python 2 module names; the stock Unpickler maps them inside
# ``find_class``, which we override, so the allow-list sees the Python 3 names.
_PY2_MODULES: Final = {"__builtin__": "builtins", "copy_reg": "copyreg"}

# What a damaged or foreign byte stream makes the C unpickler (or the decompressor below it)
# raise. MemoryError is left out on purpose: it may be a real shortage, not a corrupt file.
_STREAM_ERRORS: Final = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    OverflowError,
    OSError,
)


class ReadableBinary(Protocol):
    """What the unpickler reads from: a binary file, a ``bz2``/``zip`` member, a wrapper."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class Discarded:
    """Inert stand-in for an object a file holds but no importer reads (e.g. trained weights).

    It accepts any constructor arguments and any pickled state, and keeps none of them.
    """

    __slots__ = ()

    def __init__(self, *args: object, **kwargs: object) -> None:
        del args, kwargs

    def __setstate__(self, state: object) -> None:
        del state

    def __repr__(self) -> str:
        return "Discarded()"


class _RestrictedUnpickler(pickle.Unpickler):
    """The C unpickler with an allow-list in ``find_class`` (only globals call back into Python)."""

    def __init__(
        self,
        file: ReadableBinary,
        *,
        allowed: frozenset[tuple[str, str]],
        discard_modules: frozenset[str],
        discard_persistent: bool,
        source: str,
    ) -> None:
        super().__init__(file)
        self._allowed = allowed
        self._discard_modules = discard_modules
        self._discard_persistent = discard_persistent
        self._source = source

    def _discards(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self._discard_modules)

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        if self._discards(module):
            return Discarded
        raise FormatError(
            f"refused to unpickle {module}.{name} from {self._source}: only plain containers, "
            f"numbers and numpy arrays are read by default; {UNSAFE_OPT_IN}"
        )

    def persistent_load(self, pid: Any) -> Any:
        if self._discard_persistent:
            return None
        raise FormatError(
            f"{self._source} refers to external objects (persistent id {str(pid)[:60]!r}), "
            f"which a plain pickle does not; {UNSAFE_OPT_IN}"
        )


def safe_load(
    fileobj: ReadableBinary,
    allowed: frozenset[tuple[str, str]] = DEFAULT_ALLOWED,
    *,
    discard_modules: frozenset[str] = frozenset(),
    discard_persistent: bool = False,
    source: str = "the pickle",
) -> Any:
    """Unpickle one object from ``fileobj``, resolving only the allowed globals.

    Parameters
    ----------
    fileobj
        A binary file object positioned at the start of a pickle (a ``bz2`` file works).
    allowed
        ``(module, name)`` pairs that may be resolved, Python 3 module names.
    discard_modules
        Modules whose globals become :class:`Discarded` instead of being refused (their
        objects are skipped, never built), e.g. ``frozenset({"torch"})`` for trained weights.
    discard_persistent
        Turn persistent ids (torch's tensor storages) into ``None`` instead of refusing them.
    source
        How messages name the stream, usually its path.

    Returns
    -------
    Any
        The unpickled object.

    Raises
    ------
    FormatError
        The stream names a global that is neither allowed nor discarded; the message names
        it and the ``allow_unsafe_pickle`` opt-in.
    TableFileError
        The stream is truncated or corrupt (also when the decompressor under it fails).
    """
    unpickler = _RestrictedUnpickler(
        fileobj,
        allowed=allowed,
        discard_modules=discard_modules,
        discard_persistent=discard_persistent,
        source=source,
    )
    try:
        return unpickler.load()
    except Nb201FlatError:
        raise
    except _STREAM_ERRORS as exc:
        raise TableFileError(
            f"{source} is truncated or corrupt ({exc.__class__.__name__}: {str(exc)[:120]}); "
            "re-download it and compare its checksum"
        ) from None
