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
- every byte passes an opcode scan (:class:`_OpcodeScan`) before the C unpickler sees it: a
  memo index (PUT, BINPUT, LONG_BINPUT) above half the bytes before it is refused, since the
  unpickler sizes its memo table by the largest index (7 bytes can ask for 64 GB), and an
  opcode naming a data length (BINBYTES8, BYTEARRAY8, ...) is shown to the unpickler, which
  allocates that length at once, only when the data is really there; so nothing a pickle asks
  for grows beyond a fixed multiple of its size. The scan stops at STOP, leaving what follows
  in place (torch's legacy format is four pickles in a row).

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

import functools
import io
import math
import pickle
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np

from nb201_flat.errors import (
    ArgumentError,
    FormatError,
    Nb201FlatError,
    Param,
    Part,
    TableFileError,
    check_flag,
)

__all__ = [
    "DEFAULT_ALLOWED",
    "UNSAFE_OPT_IN",
    "Discarded",
    "ReadableBinary",
    "RestrictedUnpickler",
    "safe_load",
]

#: How a user opts in to full unpickling; every refusal message ends with it. The importers'
#: parameter, which a command respells as its flag (``import --allow-unsafe-pickle``).
UNSAFE_OPT_IN: Final[tuple[Part, ...]] = (
    Param("allow_unsafe_pickle", True),
    " opts in to full unpickling, for files from a source you trust",
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
    zlib.error,  # a damaged deflated zip member under the unpickler
)

# dtype kinds whose items are plain bytes: bool, ints, floats, complex, bytes, text, datetimes.
_PLAIN_KINDS: Final = frozenset("biufcSUmM")
# How far ahead the scan looks at once (the C unpickler prefetches 128 KiB).
_PEEK: Final = 1 << 20


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


# -- the opcode scan ----------------------------------------------------------------------------
# The C unpickler sizes its memo table by the largest index a PUT asks for: LONG_BINPUT
# 0xFFFFFFFF in a 7-byte file makes it allocate and zero 64 GB. Every byte is scanned before
# the unpickler sees it, and a memo index beyond the number of memo entries stored so far
# (picklers number them 0, 1, 2, ...) stops the load before the unpickler can act on it.
# Opcode layouts: pickletools.opcodes (CPython 3.11).
_OPS: Final = {op.code.encode("latin-1")[0]: op for op in __import__("pickletools").opcodes}
# total length of opcodes with a fixed-size argument that needs no check (0: look closer)
_FIXED: Final = [0] * 256
for _code, _op in _OPS.items():
    if _op.name not in ("BINPUT", "LONG_BINPUT", "MEMOIZE", "STOP") and (
        _op.arg is None or _op.arg.n >= 0
    ):
        _FIXED[_code] = 1 + (_op.arg.n if _op.arg is not None else 0)
# opcodes followed by a length field of this many bytes (then that many bytes of data)
_COUNTED: Final = {
    _c: {-2: 1, -3: 4, -4: 4, -5: 8}[_op.arg.n]
    for _c, _op in _OPS.items()
    if _op.arg is not None and _op.arg.n in (-2, -3, -4, -5)
}
# opcodes whose argument is one text line (two for GLOBAL and INST)
_LINES: Final = {
    _c: 2 if _op.arg.name == "stringnl_noescape_pair" else 1
    for _c, _op in _OPS.items()
    if _op.arg is not None and _op.arg.n == -1
}
_PUT, _BINPUT, _LONG_BINPUT, _MEMOIZE, _STOP = (ord(c) for c in "pqr\x94.")


#: The most opcodes one match of :func:`_plain_run` walks.
_RUN_OPCODES: Final = 4096


def _one_of(codes: Iterable[int]) -> bytes:
    return b"[" + b"".join(re.escape(bytes([c])) for c in sorted(codes)) + b"]"


@functools.cache
def _plain_run(bits: int) -> re.Pattern[bytes]:
    """A regex matching a run of opcodes that need no closer look: those with a fixed-size
    argument, BINPUT (an index below 256) and MEMOIZE, LONG_BINPUT with an index below
    ``2**bits`` (``bits`` < 8: none), and strings and bytes shorter than 256; at most
    ``_RUN_OPCODES`` of them. It ends at an opcode's first byte (or the end of the data).

    Python's regex engine walks such a run in C, several times faster than a Python loop
    over the opcodes; whatever it stops at is looked at by :meth:`_OpcodeScan.feed`.
    """
    by_size: dict[int, list[int]] = {}
    for code, size in enumerate(_FIXED):
        if size:
            by_size.setdefault(size, []).append(code)
    by_size[1].append(_MEMOIZE)
    by_size[2].append(_BINPUT)
    fixed = {
        size: _one_of(codes) + (b".{%d}" % (size - 1) if size > 1 else b"")
        for size, codes in by_size.items()
    }
    # benchmark files are mostly floats (BINFLOAT, 9 bytes), small ints and memo entries:
    # the engine tries the alternatives in order, so those come first
    alternatives = [fixed.pop(9), fixed.pop(2)]
    if bits >= 8:
        full, part = divmod(min(bits, 32), 8)
        index = b".{%d}" % full
        if full < 4:
            index += (b"[\\x00-%s]" % re.escape(bytes([(1 << part) - 1]))) if part else b"\x00"
            index += b"\x00" * (3 - full)
        alternatives.append(b"r" + index)
    for width in (4, 1):
        codes = [c for c, w in _COUNTED.items() if w == width]
        pad = b"\x00" * (width - 1)
        # one branch per length: the engine skips a branch at its first (literal) byte
        sized = b"|".join(re.escape(bytes([k]) + pad) + b".{%d}" % k for k in range(256))
        alternatives.append(_one_of(codes) + b"(?:" + sized + b")")
    alternatives += [fixed[size] for size in sorted(fixed)]
    # DOTALL: "." is any byte (a plain skip for the engine). A greedy repeat, not a possessive
    # one or an atomic group: early 3.11 releases (3.11.2 among them) end those one byte into
    # an opcode whose alternative fails after its first byte. Nothing follows the repeat, so
    # it never backtracks; the bound caps the engine's stack (about 220 bytes a step), and
    # feed() goes on where a capped run ends.
    return re.compile(b"(?:" + b"|".join(alternatives) + b"){0,%d}" % _RUN_OPCODES, re.DOTALL)


class _OpcodeScan:
    """Walks a pickle's opcodes as its bytes arrive, without building anything.

    :meth:`feed` takes the next bytes of the stream and says how many belong to the pickle
    (all of them until STOP). Every memo entry takes at least two bytes (an object and its
    PUT, or MEMOIZE), and picklers number them 0, 1, 2, ...: a PUT index above half the bytes
    before it raises :class:`_Refused`, so the memo table stays within 8 bytes per byte of
    the stream. An unknown opcode raises :class:`pickle.UnpicklingError` (a corrupt stream).
    """

    __slots__ = ("_base", "_pending", "_skip", "done", "held_from")

    def __init__(self) -> None:
        self.done = False
        # stream position of a counted opcode whose data has not all arrived: the unpickler
        # allocates the length it names on seeing it, so it is shown only once the data is here
        self.held_from: int | None = None
        self._base = 0  # stream position of the next byte fed
        self._pending = b""  # an opcode whose argument is not complete yet
        self._skip = 0  # data bytes of a counted opcode still to come

    def _put(self, index: int, at: int) -> None:
        if index > at // 2:
            raise _Refused(
                f"memo index {index} at byte {at} (picklers number memo entries 0, 1, 2, ..., "
                f"never above half the bytes before them; this index would make the unpickler "
                f"allocate a {index * 16:,}-byte table)"
            )

    def feed(self, data: bytes) -> int:
        """Scan ``data``, the bytes after those fed so far; return how many belong to the pickle."""
        if self.done or not data:
            return 0
        start = min(self._skip, len(data))
        self._skip -= start
        if self._skip == 0:
            self.held_from = None
        if start == len(data):
            self._base += start
            return start
        head = self._pending
        b = head + data[start:] if head else data[start:] if start else data
        base = self._base + start - len(head)  # stream position of b[0]
        self._pending = b""
        n = len(b)
        i = 0
        fixed, counted, lines = _FIXED, _COUNTED, _LINES
        bits = max((base // 2).bit_length() - 1, 0)
        run = _plain_run(bits).match
        while i < n:
            i = run(b, i).end()  # type: ignore[union-attr]  # a run may be empty, never None
            if i >= n:
                break
            op = b[i]
            step = fixed[op]
            if step or op == _MEMOIZE:
                i += step or 1  # cut off at the end of ``b`` (the run matches whole opcodes)
            elif op in counted:
                width = counted[op]
                if i + 1 + width > n:
                    break
                size = int.from_bytes(b[i + 1 : i + 1 + width], "little", signed=width == 4)
                if size < 0:
                    raise pickle.UnpicklingError(f"negative data length {size}")
                if i + 1 + width + size > n:
                    self.held_from = base + i
                i += 1 + width + size
            elif op in lines:
                end = b.find(b"\n", i + 1)
                if end >= 0 and lines[op] == 2:
                    end = b.find(b"\n", end + 1)
                if end < 0:
                    break
                if op == _PUT:
                    text = b[i + 1 : end]
                    if not text.isdigit() or len(text) > 18:
                        raise _Refused(f"a PUT with index {text[:30]!r}")
                    self._put(int(text), base + i)
                i = end + 1
            elif op in (_BINPUT, _LONG_BINPUT):
                width = 1 if op == _BINPUT else 4
                if i + 1 + width > n:
                    break
                self._put(int.from_bytes(b[i + 1 : i + 1 + width], "little"), base + i)
                i += 1 + width
            elif op == _STOP:
                self.done = True
                self._base = base + i + 1
                return i + 1 + start - len(head)
            else:
                raise pickle.UnpicklingError(f"invalid load key {bytes([op])!r}")
            if (base + i) // 2 >= 2 << bits:  # far enough in for larger LONG_BINPUT indices
                bits = ((base + i) // 2).bit_length() - 1
                run = _plain_run(bits).match
        if i < n:  # an argument cut off by the end of the data: wait for more
            self._pending = b[i:]
        else:
            self._skip = i - n
        self._base += len(data)
        return len(data)


class _ScannedReader:
    """The file the C unpickler reads: every byte passes :class:`_OpcodeScan` first.

    Bytes are taken from ``file`` only up to the pickle's STOP, so the pickles that may follow
    (torch's legacy format is four in a row) stay in place; ``file.peek`` (or a read and a seek
    back) shows the scan what comes next. A read asks ``file`` for no more than the data that
    is really there, whatever length an opcode names.
    """

    def __init__(self, file: ReadableBinary) -> None:
        self._file = file
        self._scan = _OpcodeScan()
        self._buf = bytearray()  # scanned, taken from ``file``, not yet given to the unpickler
        self._pos = 0  # stream position of ``_buf[0]``
        self._end = False
        peek = getattr(file, "peek", None)
        seekable = getattr(file, "seekable", None)
        if peek is not None:
            self._look: Callable[[int], bytes] = peek
        elif seekable is not None and seekable():
            self._look = self._look_and_seek_back
        else:  # no way to look ahead: what follows the pickle in this stream is read too
            self._look = self._file.read

    def _look_and_seek_back(self, n: int) -> bytes:
        data = self._file.read(n)
        self._file.seek(-len(data), io.SEEK_CUR)  # type: ignore[attr-defined]
        return data

    def _more(self) -> bool:
        """Scan and take the next piece of the pickle; False at its end or the stream's."""
        if self._scan.done or self._end:
            return False
        data = self._look(_PEEK)
        if not data:
            self._end = True
            return False
        if len(data) > _PEEK:
            data = data[:_PEEK]
        take = self._scan.feed(data)
        if self._look == self._file.read:
            self._buf += data[:take]
        elif take:
            self._buf += self._file.read(take)
        return True

    def _ready(self) -> int:
        """How many bytes of ``_buf`` the unpickler may see (all but a held opcode)."""
        held = self._scan.held_from
        return len(self._buf) if held is None else held - self._pos

    def peek(self, n: int = 1, /) -> bytes:
        while self._ready() < n and self._more():
            pass
        return bytes(self._buf[: min(max(n, 1), self._ready())])

    def read(self, n: int = -1, /) -> bytes:
        while (n < 0 or self._ready() < n) and self._more():
            pass
        size = self._ready() if n < 0 else min(n, self._ready())
        out = bytes(self._buf[:size])
        del self._buf[:size]
        self._pos += size
        return out

    def readline(self, size: int = -1, /) -> bytes:
        while b"\n" not in self._buf[: self._ready()] and self._more():
            pass
        end = self._buf.find(b"\n", 0, self._ready())
        return self.read(self._ready() if end < 0 else end + 1)


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
        opt_in: str | Sequence[Part] | None = UNSAFE_OPT_IN,
        encoding: str = "ASCII",
    ) -> None:
        super().__init__(_ScannedReader(file), encoding=encoding)
        self._allowed = allowed
        self._discard_modules = discard_modules
        self._discard_persistent = discard_persistent
        self._substitutes = dict(substitutes or {})
        self._source = source
        self._opt_in: tuple[Part, ...] = (
            (opt_in,) if isinstance(opt_in, str) else tuple(opt_in or ())
        )
        self._needs_plain = False

    def _discards(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self._discard_modules)

    def _hint(self) -> tuple[Part, ...]:
        """The opt-in that ends a refusal, as message parts (none without one)."""
        return ("; ", *self._opt_in) if self._opt_in else ()

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
            "(only plain containers, numbers and numpy arrays are read)",
            *self._hint(),
        )

    def persistent_load(self, pid: Any) -> Any:
        if self._discard_persistent:
            return None
        raise FormatError(
            f"{self._source} refers to external objects (persistent id {str(pid)[:60]!r}), "
            "which a plain pickle does not",
            *self._hint(),
        )

    def load(self) -> Any:
        """Unpickle one object; checks refuse what is unsafe to build (see the module doc)."""
        try:
            obj = super().load()
        except _Refused as exc:
            raise FormatError(
                f"refusing to unpickle {self._source}: it asks for {exc}", *self._hint()
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
    opt_in: str | Sequence[Part] | None = UNSAFE_OPT_IN,
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
        The opt-in that refusal messages end with: text, or message parts naming a
        :class:`~nb201_flat.errors.Param` (``None``: there is none).
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
    if not callable(getattr(fileobj, "read", None)):  # bytes failed with AttributeError: read
        raise ArgumentError(
            f"fileobj must be a binary file object, got {type(fileobj).__name__}; pass "
            "io.BytesIO(data) for bytes, or open(path, 'rb')"
        )
    discard_persistent = check_flag("discard_persistent", discard_persistent)
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
