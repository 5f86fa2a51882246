"""Crafted pickles, written opcode by opcode (see :mod:`pickletools` for the opcodes).

Each builder returns the bytes of a complete pickle that a well-behaved pickler never writes
but that the C unpickler accepts.
"""

from __future__ import annotations

import bz2
import io
import struct
import zipfile
from pathlib import Path


def glob(module: str, name: str) -> bytes:
    """GLOBAL: push ``module.name``."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(s: str) -> bytes:
    """BINUNICODE."""
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def raw(data: bytes) -> bytes:
    """BINBYTES (protocol 3)."""
    return b"B" + struct.pack("<I", len(data)) + data


def integer(n: int) -> bytes:
    """INT (protocol 0, any size)."""
    return b"I" + str(n).encode() + b"\n"


MARK, TUPLE, REDUCE, BUILD, NONE, TRUE, FALSE = b"(", b"t", b"R", b"b", b"N", b"\x88", b"\x89"
HEADER, STOP = b"\x80\x03", b"."


def call(fn: bytes, *args: bytes) -> bytes:
    """``fn(*args)`` with MARK ... TUPLE REDUCE."""
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def dtype(code: str, state: tuple[str, int, int, int] | None = None) -> bytes:
    """``numpy.dtype(code)``, optionally followed by BUILD with (endian, elsize, align, flags)."""
    out = call(glob("numpy", "dtype"), text(code), FALSE, TRUE)
    if state is not None:
        endian, elsize, align, flags = state
        out += (
            MARK
            + integer(3)
            + text(endian)
            + NONE * 3
            + integer(elsize)
            + integer(align)
            + integer(flags)
            + TUPLE
            + BUILD
        )
    return out


def object_array_from_pointer() -> bytes:
    """The reported segfault: an object dtype with its flags cleared, items from raw bytes.

    ``_frombuffer`` of eight attacker bytes with such a dtype is an object array whose only
    element is the pointer 0x4141414141414141; using it crashes the interpreter.
    """
    return (
        HEADER
        + call(
            glob("numpy.core.numeric", "_frombuffer"),
            raw(b"A" * 8),
            dtype("O8", ("|", 8, 8, 0)),
            MARK + integer(1) + TUPLE,
            text("C"),
        )
        + STOP
    )


def float_dtype_with_object_flags() -> bytes:
    """A float dtype whose BUILD sets the "holds objects" flags, then an array of it."""
    return (
        HEADER
        + call(
            glob("numpy.core.numeric", "_frombuffer"),
            raw(b"A" * 8),
            dtype("f8", ("<", 8, 8, 63)),
            MARK + integer(1) + TUPLE,
            text("C"),
        )
        + STOP
    )


def void_array() -> bytes:
    """A void (raw record) dtype: no pointers, but never a benchmark number either."""
    return (
        HEADER
        + call(
            glob("numpy.core.numeric", "_frombuffer"),
            raw(b"A" * 8),
            dtype("V8"),
            MARK + integer(1) + TUPLE,
            text("C"),
        )
        + STOP
    )


def reconstruct_object_array() -> bytes:
    """The protocol-2 path: ``_reconstruct`` then an ndarray BUILD with an object dtype."""
    state = (
        MARK
        + integer(1)
        + MARK
        + integer(1)
        + TUPLE
        + dtype("O8", ("|", 8, 8, 0))
        + FALSE
        + raw(b"A" * 8)
        + TUPLE
    )
    return (
        HEADER
        + call(
            glob("numpy.core.multiarray", "_reconstruct"),
            glob("numpy", "ndarray"),
            MARK + integer(0) + TUPLE,
            raw(b"b"),
        )
        + state
        + BUILD
        + STOP
    )


def short_array_data() -> bytes:
    """An array whose shape asks for far more bytes than its data holds."""
    return (
        HEADER
        + call(
            glob("numpy.core.numeric", "_frombuffer"),
            raw(b"A" * 8),
            dtype("f8"),
            MARK + integer(10**9) + TUPLE,
            text("C"),
        )
        + STOP
    )


def huge_bytearray() -> bytes:
    """``bytearray(50e9)`` in a few dozen bytes."""
    return HEADER + call(glob("builtins", "bytearray"), integer(50 * 10**9)) + STOP


def huge_set_from_range() -> bytes:
    """``frozenset(range(10**12))``: a lazy range materialised by an allowed container."""
    return (
        HEADER
        + call(glob("builtins", "frozenset"), call(glob("builtins", "range"), integer(10**12)))
        + STOP
    )


def huge_binbytes_length() -> bytes:
    """BINBYTES8 claiming 50 GB of data that is not there."""
    return b"\x80\x04" + b"\x8e" + struct.pack("<Q", 50 * 10**9) + b"tiny" + STOP


def ndarray_called_with_size() -> bytes:
    """``numpy.ndarray((10**10,))``: uninitialised 80 GB if the type itself were callable."""
    return HEADER + call(glob("numpy", "ndarray"), MARK + integer(10**10) + TUPLE) + STOP


def long_binput_huge() -> bytes:
    """LONG_BINPUT 0xFFFFFFFF: the C unpickler sizes its memo table (and zeroes it) to 64 GB."""
    return HEADER + NONE + b"r" + struct.pack("<I", 2**32 - 1) + STOP


def long_binput_moderate() -> bytes:
    """LONG_BINPUT 50,000,000 in 9 bytes: an 800 MB memo table that fits and is accepted."""
    return HEADER + NONE + b"r" + struct.pack("<I", 50_000_000) + STOP


def put_text_huge() -> bytes:
    """Protocol 0 PUT with an 11-digit index (a memo table of 1.6 TB)."""
    return NONE + b"p99999999999\n" + STOP


def memoize_after_sparse_put() -> bytes:
    """MEMOIZE (protocol 4) after a LONG_BINPUT that jumped far ahead."""
    return (
        b"\x80\x04" + NONE + b"\x94" + NONE + b"r" + struct.pack("<I", 30_000_000) + b"\x94" + STOP
    )


def huge_frame_length() -> bytes:
    """FRAME claiming 50 GB of opcodes that are not there."""
    return b"\x80\x04\x95" + struct.pack("<Q", 50 * 10**9) + NONE + STOP


def huge_bytearray8_length() -> bytes:
    """BYTEARRAY8 claiming 50 GB: the unpickler allocates the length before reading the data."""
    return b"\x80\x05\x96" + struct.pack("<Q", 50 * 10**9) + b"tiny" + STOP


#: Memo cases: each must be refused by the opcode scan, before the unpickler allocates.
MEMO = {
    "long_binput_huge": long_binput_huge,
    "long_binput_moderate": long_binput_moderate,
    "put_text_huge": put_text_huge,
    "memoize_after_sparse_put": memoize_after_sparse_put,
}

#: Length cases: each must end as "truncated", never as an allocation of the named length.
LENGTHS = {
    "huge_binbytes_length": huge_binbytes_length,
    "huge_frame_length": huge_frame_length,
    "huge_bytearray8_length": huge_bytearray8_length,
}

ALL = {
    **MEMO,
    "huge_frame_length": huge_frame_length,
    "huge_bytearray8_length": huge_bytearray8_length,
    "object_array_from_pointer": object_array_from_pointer,
    "float_dtype_with_object_flags": float_dtype_with_object_flags,
    "void_array": void_array,
    "reconstruct_object_array": reconstruct_object_array,
    "short_array_data": short_array_data,
    "huge_bytearray": huge_bytearray,
    "huge_set_from_range": huge_set_from_range,
    "huge_binbytes_length": huge_binbytes_length,
    "ndarray_called_with_size": ndarray_called_with_size,
}


def as_pth(payload: bytes, path: Path) -> Path:
    """Wrap a pickle as a zip-format torch ``.pth`` (``archive/data.pkl``, stored)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", payload)
    return path


def as_pbz2(payload: bytes, path: Path) -> Path:
    """Wrap a pickle as a NATS-Bench ``.pickle.pbz2`` file."""
    path.write_bytes(bz2.compress(payload))
    return path


def as_file(payload: bytes) -> io.BytesIO:
    """An in-memory stream of the pickle."""
    return io.BytesIO(payload)
