"""Restricted unpickling: the one unpickler every pickle-based reader uses.

The official NAS-Bench-201 ``.pth`` and NATS-Bench ``.pickle.pbz2`` files, the AnalogNAS-Bench
``data.anb`` and the CIFAR/ImageNet16 batch files are Python pickles, and unpickling runs
whatever callable the file names. :func:`safe_load` only resolves the globals in an allow-list
(built-in containers and scalars, :class:`collections.OrderedDict`, numpy scalars and arrays);
any other global stops the load with a :class:`~nb201_flat.errors.FormatError` that names it.

Allowing a global is not enough to be safe: ``numpy.dtype`` can build an object dtype (whose
items are pointers) and a BUILD step can rewrite a dtype's flags, and ``bytearray(50e9)`` asks
for 50 GB. So the allowed globals resolve to checking wrappers, never to the raw callables:

- dtypes are only the plain numeric, bytes/text and datetime kinds; object, void and structured
  dtypes (and any dtype containing them) are refused, and a dtype's pickled state is checked
  against the dtype its name gives before a real :class:`numpy.dtype` is made;
- arrays and scalars are rebuilt only from raw bytes whose length matches shape and dtype;
- containers are only built from already-materialised containers (never from a ``range``),
  ``bytearray`` only from bytes or text, never from a size;
- reads from a file are done in bounded chunks, so a length field in the stream cannot make the
  reader allocate more than the data that is really there.

Two escape hatches exist for content that is safe to *skip* but not to *build*: globals under
``discard_modules`` (for the official files: ``torch``, whose tensors hold trained weights that
no importer reads) resolve to an inert :class:`Discarded` placeholder, and ``discard_persistent``
turns the persistent ids torch uses for tensor storages into ``None``. ``substitutes`` maps a
file's own classes to inert attribute bags (AnalogNAS-Bench's records).

Examples
--------
>>> import io, pickle
>>> safe_load(io.BytesIO(pickle.dumps({"a": {1, 2}}, protocol=2)))
{'a': {1, 2}}
>>> import os
>>> safe_load(io.BytesIO(pickle.dumps(os.getcwd)))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nb201_flat.errors.FormatError: refusing to unpickle ...getcwd...
"""

from __future__ import annotations

import io
import math
import pickle
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import numpy as np

from nb201_flat.errors import FormatError, Nb201FlatError, TableFileError

__all__ = [
    "DEFAULT_ALLOWED",
    "UNSAFE_OPT_IN",
    "Discarded",
    "ReadableBinary",
    "RestrictedUnpickler",
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
        "bytes",
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

# dtype kinds whose items are plain bytes: bool, ints, floats, complex, bytes, text, datetimes.
_PLAIN_KINDS: Final = frozenset("biufcSUmM")
# Reads larger than this are done in pieces, so a forged length allocates only what is there.
_CHUNK: Final = 1 << 24


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


class _Refused(FormatError):
    """A well-formed pickle asking for something the reader will not build."""


def _text(value: object) -> str:
    # Python 2 pickles read with encoding="bytes" give str fields as bytes.
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    raise _Refused(f"expected a name, got {type(value).__name__}")


def _plain_dtype(name: object) -> np.dtype[Any]:
    code = _text(name)
    if len(code) > 32:
        raise _Refused("a dtype name longer than 32 characters")
    try:
        dt = np.dtype(code)
    except (TypeError, ValueError) as exc:
        raise _Refused(f"dtype {code!r} ({exc})") from None
    if dt.kind not in _PLAIN_KINDS or dt.hasobject or dt.fields is not None or dt.subdtype:
        raise _Refused(
            f"dtype {code!r} (kind {dt.kind!r}): only plain numeric, text and datetime dtypes "
            "are read, never object, void or structured ones"
        )
    return dt


class _DtypeSpec:
    """What ``numpy.dtype(...)`` gives inside a restricted load: a checked description.

    A real :class:`numpy.dtype` would let the following BUILD step rewrite its flags and size;
    this one checks that state and is turned into a real dtype only where it is used.
    """

    __slots__ = ("dtype",)

    def __init__(self, name: object, align: object = False, copy: object = False) -> None:
        del align, copy
        self.dtype = _plain_dtype(name)

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            raise _Refused("a dtype state that is not numpy's 8- or 9-tuple")
        _version, endian, subarray, names, fields, elsize, alignment, flags = state[:8]
        if subarray is not None or names is not None or fields is not None:
            raise _Refused("a structured or sub-array dtype")
        dt = self.dtype
        order = _text(endian)
        if order not in ("<", ">", "|", "="):
            raise _Refused(f"dtype byte order {order!r}")
        if order == "<" and dt.itemsize > 1:
            dt = dt.newbyteorder("<")
        elif order == ">" and dt.itemsize > 1:
            dt = dt.newbyteorder(">")
        if not isinstance(elsize, int) or not isinstance(alignment, int):
            raise _Refused("a dtype state with non-integer sizes")
        if elsize not in (-1, dt.itemsize):
            if dt.kind not in "SU" or elsize <= 0:
                raise _Refused(f"dtype {dt} with item size {elsize}")
            dt = _plain_dtype(f"{dt.kind}{elsize // (4 if dt.kind == 'U' else 1)}")
        if dt.kind in "mM":
            dt = _datetime_unit(dt, state[8] if len(state) == 9 else None)
        if flags != dt.flags or alignment not in (-1, dt.alignment):
            raise _Refused(f"dtype {dt} with altered flags or alignment")
        self.dtype = dt


def _datetime_unit(dt: np.dtype[Any], metadata: object) -> np.dtype[Any]:
    """A datetime dtype with the unit numpy pickles as ``(None, (unit, count, 1, 1))``."""
    if metadata is None:
        return dt
    if not (isinstance(metadata, tuple) and len(metadata) == 2 and metadata[0] is None):
        raise _Refused("a datetime dtype with unknown metadata")
    info = metadata[1]
    if not (isinstance(info, tuple) and len(info) == 4 and type(info[1]) is int):
        raise _Refused("a datetime dtype with unknown metadata")
    unit = _text(info[0])
    if not (unit.isascii() and unit.isalpha() and len(unit) <= 2) or not 0 < info[1] < 10**6:
        raise _Refused(f"datetime unit {unit!r}")
    return _plain_dtype(
        f"{dt.byteorder if dt.byteorder in '<>' else ''}{dt.kind}8[{info[1]}{unit}]"
    )


def _as_dtype(value: object) -> np.dtype[Any]:
    if isinstance(value, _DtypeSpec):
        return value.dtype
    raise _Refused("an array whose dtype was not built by numpy.dtype")


def _shape(value: object) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > 32:
        raise _Refused("an array shape that is not a short tuple")
    if not all(type(n) is int and n >= 0 for n in value):
        raise _Refused(f"array shape {str(value)[:60]}")
    return value


def _check_bytes(data: object, shape: tuple[int, ...], dt: np.dtype[Any]) -> None:
    if isinstance(data, pickle.PickleBuffer):
        size = memoryview(data).nbytes
    elif isinstance(data, bytes | bytearray):
        size = len(data)
    else:
        raise _Refused(f"array data of type {type(data).__name__} instead of raw bytes")
    if size != math.prod(shape) * dt.itemsize:
        raise _Refused(f"array data of {size} bytes for shape {shape} of {dt}")


class _LoadedArray(np.ndarray[Any, Any]):
    """An array rebuilt by ``_reconstruct``; its pickled state is checked before numpy sees it.

    :meth:`RestrictedUnpickler.load` turns it back into a plain :class:`numpy.ndarray`.
    """

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise _Refused("an array state that is not numpy's 5-tuple")
        version, shape, dtype, fortran, data = state
        dt = _as_dtype(dtype)
        shp = _shape(shape)
        _check_bytes(data, shp, dt)
        if version != 1 or not isinstance(fortran, bool | int):
            raise _Refused("an array state of an unknown version")
        super().__setstate__((1, shp, dt, bool(fortran), data))  # type: ignore[arg-type]


class _NdarrayType:
    """What the global ``numpy.ndarray`` resolves to: a marker for ``_reconstruct``, not a type."""

    __slots__ = ()

    def __call__(self, *args: object) -> None:
        raise _Refused("numpy.ndarray called directly (an uninitialised array of any size)")


_NDARRAY: Final = _NdarrayType()


def _reconstruct(subtype: object, shape: object, typecode: object) -> _LoadedArray:
    if subtype is not _NDARRAY or shape != (0,) or typecode not in ("b", b"b"):
        raise _Refused("numpy _reconstruct with arguments numpy itself never writes")
    return np.ndarray.__new__(_LoadedArray, (0,), np.int8)


def _frombuffer(buf: object, dtype: object, shape: object, order: object) -> np.ndarray[Any, Any]:
    dt = _as_dtype(dtype)
    shp = _shape(shape)
    _check_bytes(buf, shp, dt)
    if order not in ("C", "F"):
        raise _Refused(f"array order {order!r}")
    return np.frombuffer(buf, dt).reshape(shp, order=order)  # type: ignore[call-overload,no-any-return]


def _scalar(dtype: object, data: object = None) -> Any:
    dt = _as_dtype(dtype)
    _check_bytes(data, (), dt)
    assert isinstance(data, bytes | bytearray)
    return np.frombuffer(data, dt)[0]


def _materialised(kind: Callable[..., Any]) -> Callable[..., Any]:
    def build(*args: object) -> Any:
        if not args:
            return kind()
        if len(args) == 1 and isinstance(args[0], list | tuple | set | frozenset):
            return kind(args[0])
        raise _Refused(f"{kind.__name__} from {type(args[-1]).__name__} (only from a container)")

    build.__name__ = kind.__name__
    return build


def _bytearray(*args: object) -> bytearray:
    if not args:
        return bytearray()
    if len(args) == 1 and isinstance(args[0], bytes | bytearray):
        return bytearray(args[0])
    if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
        return bytearray(args[0], "latin-1")
    raise _Refused("bytearray from anything but bytes or latin-1 text (e.g. from a size)")


def _encode(text: object, encoding: object = "utf-8") -> bytes:
    if isinstance(text, str) and encoding in ("latin1", "latin-1"):
        return text.encode("latin-1")
    raise _Refused("_codecs.encode of anything but latin-1 text")


def _bytes(*args: object) -> bytes:
    # protocols 0-2 write an empty bytes object as a call to ``bytes()``
    if not args:
        return b""
    if len(args) == 1 and isinstance(args[0], bytes | bytearray):
        return bytes(args[0])
    raise _Refused("bytes from anything but bytes (e.g. from a size)")


def _checked_complex(*args: object) -> complex:
    numbers = [a for a in args if isinstance(a, int | float)]
    if len(args) > 2 or len(numbers) != len(args):
        raise _Refused("complex from anything but numbers")
    return complex(*numbers)


def _checked_slice(*args: object) -> slice:
    if len(args) > 3 or not all(a is None or isinstance(a, int) for a in args):
        raise _Refused("slice from anything but integers")
    return slice(*args)


def _checked_range(*args: object) -> range:
    ints = [a for a in args if type(a) is int]
    if not 0 < len(args) <= 3 or len(ints) != len(args):
        raise _Refused("range from anything but integers")
    return range(*ints)


def _ordered_dict(*args: object) -> OrderedDict[Any, Any]:
    if not args:
        return OrderedDict()
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return OrderedDict(args[0])
    raise _Refused("OrderedDict from anything but a list of pairs")


_WRAPPERS: Final[dict[tuple[str, str], Any]] = {
    ("builtins", "set"): _materialised(set),
    ("builtins", "frozenset"): _materialised(frozenset),
    ("builtins", "complex"): _checked_complex,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "bytes"): _bytes,
    ("builtins", "slice"): _checked_slice,
    ("builtins", "range"): _checked_range,
    ("_codecs", "encode"): _encode,
    ("collections", "OrderedDict"): _ordered_dict,
    ("numpy", "dtype"): _DtypeSpec,
    ("numpy", "ndarray"): _NDARRAY,
    **{
        (f"numpy.{core}.{module}", name): fn
        for core in ("core", "_core")
        for module, name, fn in (
            ("multiarray", "scalar", _scalar),
            ("multiarray", "_reconstruct", _reconstruct),
            ("numeric", "_frombuffer", _frombuffer),
        )
    },
}


class _ChunkedReader:
    """A file whose ``read(n)`` never allocates more than the data that is really there.

    The C unpickler asks its file for exactly the length a BINBYTES8/BINUNICODE8 opcode says,
    and a buffered file allocates that length up front; here big reads are done in pieces.
    """

    def __init__(self, file: ReadableBinary) -> None:
        self._file = file
        self.readline = file.readline
        peek = getattr(file, "peek", None)
        if peek is not None:  # lets the C unpickler prefetch (its fast path)
            self.peek = peek

    def read(self, n: int = -1, /) -> bytes:
        if 0 <= n <= _CHUNK:
            return self._file.read(n)
        parts: list[bytes] = []
        left = n
        while left != 0:
            part = self._file.read(_CHUNK if left < 0 else min(left, _CHUNK))
            if not part:
                break
            parts.append(part)
            left = left - len(part) if left > 0 else left
        return b"".join(parts)


def _plain(obj: Any, memo: dict[int, Any]) -> Any:
    """``obj`` with every :class:`_LoadedArray` and :class:`_DtypeSpec` made plain numpy."""
    key = id(obj)
    if key in memo:
        return memo[key]
    out: Any = obj
    if isinstance(obj, _LoadedArray):
        out = obj.view(np.ndarray)
    elif isinstance(obj, _DtypeSpec):
        out = obj.dtype
    elif isinstance(obj, dict):
        memo[key] = obj
        for k, v in obj.items():
            new = _plain(v, memo)
            if new is not v:
                obj[k] = new
    elif isinstance(obj, list):
        memo[key] = obj
        for i, v in enumerate(obj):
            new = _plain(v, memo)
            if new is not v:
                obj[i] = new
    elif isinstance(obj, tuple):
        items = [_plain(v, memo) for v in obj]
        if any(a is not b for a, b in zip(items, obj, strict=True)):
            out = tuple(items)
    memo[key] = out
    return out


class RestrictedUnpickler(pickle.Unpickler):
    """The C unpickler with an allow-list of checked wrappers in ``find_class``.

    Only globals call back into Python, so the checks cost nothing on the plain containers
    and numbers that make up most of a benchmark file.
    """

    def __init__(
        self,
        file: ReadableBinary,
        *,
        allowed: frozenset[tuple[str, str]] = DEFAULT_ALLOWED,
        discard_modules: frozenset[str] = frozenset(),
        discard_persistent: bool = False,
        substitutes: Mapping[tuple[str, str], type] | None = None,
        source: str = "the pickle",
        opt_in: str | None = UNSAFE_OPT_IN,
        encoding: str = "ASCII",
    ) -> None:
        stream: Any = file if isinstance(file, io.BytesIO) else _ChunkedReader(file)
        super().__init__(stream, encoding=encoding)
        self._allowed = allowed
        self._discard_modules = discard_modules
        self._discard_persistent = discard_persistent
        self._substitutes = dict(substitutes or {})
        self._source = source
        self._opt_in = opt_in
        self._needs_plain = False

    def _discards(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self._discard_modules)

    def _hint(self) -> str:
        return f"; {self._opt_in}" if self._opt_in else ""

    def find_class(self, module: str, name: str) -> Any:
        module = _PY2_MODULES.get(module, module)
        if (module, name) in self._substitutes:
            return self._substitutes[(module, name)]
        if (module, name) in self._allowed and (module, name) in _WRAPPERS:
            wrapper = _WRAPPERS[(module, name)]
            # Only arrays and dtypes need the walk that makes them plain numpy again.
            self._needs_plain |= wrapper is _reconstruct or wrapper is _DtypeSpec
            return wrapper
        if self._discards(module):
            return Discarded
        raise FormatError(
            f"refusing to unpickle {module}.{name} from {self._source}: it is not allowed "
            f"(only plain containers, numbers and numpy arrays are read){self._hint()}"
        )

    def persistent_load(self, pid: Any) -> Any:
        if self._discard_persistent:
            return None
        raise FormatError(
            f"{self._source} refers to external objects (persistent id {str(pid)[:60]!r}), "
            f"which a plain pickle does not{self._hint()}"
        )

    def load(self) -> Any:
        """Unpickle one object; checks refuse what is unsafe to build (see the module doc)."""
        try:
            obj = super().load()
        except _Refused as exc:
            raise FormatError(
                f"refusing to unpickle {self._source}: it asks for {exc}{self._hint()}"
            ) from None
        return _plain(obj, {}) if self._needs_plain else obj


def safe_load(
    fileobj: ReadableBinary,
    allowed: frozenset[tuple[str, str]] = DEFAULT_ALLOWED,
    *,
    discard_modules: frozenset[str] = frozenset(),
    discard_persistent: bool = False,
    substitutes: Mapping[tuple[str, str], type] | None = None,
    source: str = "the pickle",
    opt_in: str | None = UNSAFE_OPT_IN,
    encoding: str = "ASCII",
) -> Any:
    """Unpickle one object from ``fileobj``, resolving only the allowed globals.

    Parameters
    ----------
    fileobj
        A binary file object positioned at the start of a pickle (a ``bz2`` file works).
    allowed
        ``(module, name)`` pairs that may be resolved, Python 3 module names; each resolves
        to a checking wrapper (see the module docstring), never to the raw callable.
    discard_modules
        Modules whose globals become :class:`Discarded` instead of being refused (their
        objects are skipped, never built), e.g. ``frozenset({"torch"})`` for trained weights.
    discard_persistent
        Turn persistent ids (torch's tensor storages) into ``None`` instead of refusing them.
    substitutes
        ``(module, name)`` -> an inert class to build instead (its ``__setstate__`` must only
        store data), for a file's own record classes.
    source
        How messages name the stream, usually its path.
    opt_in
        The opt-in that refusal messages end with (``None``: there is none).
    encoding
        How Python 2 ``str`` is decoded (``"bytes"`` keeps it as bytes).

    Returns
    -------
    Any
        The unpickled object.

    Raises
    ------
    FormatError
        The stream names a global that is neither allowed nor discarded, or asks an allowed
        one for something unsafe (an object dtype, a size instead of data); the message names
        it and the opt-in.
    TableFileError
        The stream is truncated or corrupt (also when the decompressor under it fails).
    """
    unpickler = RestrictedUnpickler(
        fileobj,
        allowed=allowed,
        discard_modules=discard_modules,
        discard_persistent=discard_persistent,
        substitutes=substitutes,
        source=source,
        opt_in=opt_in,
        encoding=encoding,
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
    except (MemoryError, RecursionError) as exc:
        raise TableFileError(
            f"{source} asks for more memory or nesting than it can hold "
            f"({exc.__class__.__name__}); it is corrupt or crafted, re-download it"
        ) from None
