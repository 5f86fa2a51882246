"""Reading the plain parquet file that :func:`nb201_flat.storage.save_table` writes, without pyarrow.

``save_table`` writes every column as a required float64 column, PLAIN-encoded, with neither
dictionary nor compression (data pages v1). In such a file a column's values lie as they lie
in memory, after a small page header; page headers and the footer are Thrift compact-protocol
structs. Parsing just that gives numpy arrays without importing pyarrow, about a third of
what a small command such as ``nb201-flat query`` spent on top of numpy.

Anything else (a compressed, dictionary-encoded or nullable column, another type or page
kind: tables written by earlier versions, or by other tools) raises :class:`Unsupported`, and
the caller reads the file with pyarrow. The caller checks the file's sha256 first; this reader
still bounds every offset and size, so a damaged file raises rather than reads past its end.

Field ids follow ``src/main/thrift/parquet.thrift`` of apache/parquet-format at commit
010f49b89eab98b498986709be5fedaaf2ea916f (FileMetaData, SchemaElement, RowGroup, ColumnChunk,
ColumnMetaData, PageHeader, DataPageHeader).

Examples
--------
>>> import io
>>> import numpy as np
>>> import pyarrow as pa
>>> import pyarrow.parquet as pq
>>> buf = io.BytesIO()
>>> schema = pa.schema([pa.field("c0", pa.float64(), nullable=False)])
>>> pq.write_table(pa.table({"c0": [1.5, float("nan")]}, schema=schema), buf,
...                **WRITE_OPTIONS)
>>> read_columns(buf.getvalue(), ["c0"])
(2, {'c0': array([1.5, nan])})
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from nb201_flat.types import FloatArray

# what save_table passes to pyarrow.parquet.write_table, so that read_columns can read it
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "none",
    "use_dictionary": False,
    "data_page_version": "1.0",
}

_MAGIC = b"PAR1"
# parquet.thrift enums
_DOUBLE = 5  # Type
_REQUIRED = 0  # FieldRepetitionType
_PLAIN = 0  # Encoding
_UNCOMPRESSED = 0  # CompressionCodec
_DATA_PAGE = 0  # PageType
# the Thrift compact protocol's type codes
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE_T, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(
    1, 13
)
_MAX_DEPTH = 32


class Unsupported(Exception):
    """The file is not (only) what this reader reads; read it with pyarrow instead."""


class _Reader:
    """Thrift compact protocol over a bytes buffer: structs come back as ``{field id: value}``."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise Unsupported("truncated thrift struct")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise Unsupported("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise Unsupported("thrift structs nested too deep")
        if kind in (_TRUE, _FALSE):  # inside a list a bool is one byte
            return self.byte() == _TRUE
        if kind == _BYTE:
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind == _DOUBLE_T:
            end = self.pos + 8
            if end > len(self.buf):
                raise Unsupported("truncated double")
            (x,) = struct.unpack_from("<d", self.buf, self.pos)
            self.pos = end
            return x
        if kind == _BINARY:
            n = self.varint()
            end = self.pos + n
            if end > len(self.buf):
                raise Unsupported("truncated binary")
            out = self.buf[self.pos : end]
            self.pos = end
            return out
        if kind in (_LIST, _SET):
            head = self.byte()
            size, elem = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            if size > len(self.buf):
                raise Unsupported("list longer than the file")
            return [self.value(elem, depth + 1) for _ in range(size)]
        if kind == _MAP:
            size = self.varint()
            if size > len(self.buf):
                raise Unsupported("map longer than the file")
            if size == 0:
                return {}
            types = self.byte()
            return {
                self.value(types >> 4, depth + 1): self.value(types & 0x0F, depth + 1)
                for _ in range(size)
            }
        if kind == _STRUCT:
            return self.struct(depth + 1)
        raise Unsupported(f"thrift type {kind}")

    def struct(self, depth: int = 0) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            head = self.byte()
            if head == 0:  # stop
                return fields
            delta, kind = head >> 4, head & 0x0F
            fid = last + delta if delta else self.zigzag()
            if kind in (_TRUE, _FALSE):  # a bool field's value is in its type code
                fields[fid] = kind == _TRUE
            else:
                fields[fid] = self.value(kind, depth)
            last = fid


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise Unsupported(what)


def _int(fields: dict[int, Any], fid: int, what: str) -> int:
    value = fields.get(fid)
    if type(value) is not int:
        raise Unsupported(f"no {what}")
    return value


def _list(fields: dict[int, Any], fid: int, what: str) -> list[Any]:
    value = fields.get(fid)
    if not isinstance(value, list):
        raise Unsupported(f"no {what}")
    return value


def _struct(value: Any, what: str) -> dict[int, Any]:
    if not isinstance(value, dict):
        raise Unsupported(f"{what} is not a struct")
    return value


def read_columns(raw: bytes, names: Sequence[str]) -> tuple[int, dict[str, FloatArray]]:
    """The number of rows of the parquet file ``raw`` and its float64 columns ``names``.

    Raises :class:`Unsupported` for a file (or column) that is not plain required float64.
    """
    n = len(raw)
    _need(n >= 12 and raw[:4] == _MAGIC and raw[-4:] == _MAGIC, "not a parquet file")
    (footer_len,) = struct.unpack_from("<I", raw, n - 8)
    start = n - 8 - footer_len
    _need(start >= 4, "footer longer than the file")
    meta = _Reader(raw, start).struct()  # FileMetaData
    schema = _list(meta, 2, "schema")  # the root, then one element per column
    num_rows = _int(meta, 3, "row count")
    row_groups = _list(meta, 4, "row groups")
    leaves: dict[str, int] = {}
    for pos, item in enumerate(schema[1:]):
        element = _struct(item, "schema element")
        _need(element.get(5) in (None, 0), "nested schema")  # num_children
        name = element.get(4)
        if not isinstance(name, bytes):
            raise Unsupported("schema element without a name")
        plain = element.get(1) == _DOUBLE and element.get(3) == _REQUIRED
        leaves[name.decode("utf-8", "replace")] = pos if plain else -1
    pages: list[list[tuple[int, int]]] = []
    for name in names:
        leaf = leaves.get(name, -1)
        if leaf < 0:
            raise Unsupported(f"no required double column {name!r}")
        spans = [s for g in row_groups for s in _pages(raw, start, _struct(g, "row group"), leaf)]
        total = sum(count for _, count in spans)
        _need(total == num_rows, f"column {name!r} has {total} of {num_rows} rows")
        pages.append(spans)
    # one block for every column (rows of it): one allocation, aligned and writable
    block = np.empty((len(names), num_rows), dtype=np.float64)
    for row, spans in zip(block, pages, strict=True):
        at = 0
        for offset, count in spans:
            row[at : at + count] = np.frombuffer(raw, dtype="<f8", count=count, offset=offset)
            at += count
    return num_rows, dict(zip(names, block, strict=True))


def _pages(raw: bytes, end: int, group: dict[int, Any], pos: int) -> list[tuple[int, int]]:
    """Where one row group's values of leaf column ``pos`` lie: ``(offset, count)`` per page."""
    chunks = _list(group, 1, "column chunks")  # RowGroup.columns
    _need(pos < len(chunks), "row group lacks the column")
    chunk = _struct(chunks[pos], "column chunk")
    _need(chunk.get(1) is None, "column chunk in another file")  # file_path
    cmeta = _struct(chunk.get(3), "column metadata")
    _need(cmeta.get(1) == _DOUBLE, "column is not double")
    _need(cmeta.get(4) == _UNCOMPRESSED, "compressed column")
    _need(cmeta.get(11) is None, "dictionary page")  # dictionary_page_offset
    num_values = _int(cmeta, 5, "value count")
    offset = _int(cmeta, 9, "data page offset")
    spans: list[tuple[int, int]] = []
    got = 0
    while got < num_values:
        _need(4 <= offset < end, "page outside the data")
        reader = _Reader(raw, offset)
        header = reader.struct()  # PageHeader
        _need(header.get(1) == _DATA_PAGE, "not a v1 data page")
        size = _int(header, 3, "page size")
        _need(header.get(2) == size, "compressed page")
        page = _struct(header.get(5), "data page header")
        _need(page.get(2) == _PLAIN, "not PLAIN encoded")
        count = _int(page, 1, "page value count")
        _need(count > 0 and count * 8 == size, "page size mismatch")
        body = reader.pos
        _need(body + size <= end, "page runs past the data")
        spans.append((body, count))
        got += count
        offset = body + size
    _need(got == num_values, "pages hold more values than the column")
    return spans
