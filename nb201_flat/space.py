"""The cell search space: architectures as immutable values, Hamming neighbourhoods as arrays.

A cell is a DAG on ``n_nodes`` nodes; every edge ``i -> j`` (``i < j``) carries one op from
``ops``. Edges are ordered as in the NAS-Bench-201 string, by target node and then by source:
``(0,1), (0,2), (1,2), (0,3), (1,3), (2,3)`` for four nodes. :data:`NB201` is the default
instance (five ops, four nodes, 15,625 cells).

Every architecture has a position ``index`` in its space. For NB201 it is the *official* index
(the order of the official files), which is not the base-5 number of the op codes: NB201
enumerated all cells in lexicographic order of ``ops`` and then shuffled the list with Python's
``random.seed(88)``; we rebuild that permutation (checked against the real data in the tests).
Other spaces use the lexicographic order (first edge most significant).

Everything that touches the whole space is a numpy array indexed by ``index``:
``space.codes`` (size x edges op codes), ``space.connected``, ``space.neighbours(r)``.

Examples
--------
>>> from nb201_flat.space import NB201
>>> a = NB201.parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
>>> a.index  # the ResNet-like cell
11472
>>> NB201.arch(11472) == a
True
>>> NB201.neighbours(1).width, NB201.neighbours(2).width
(24, 240)
"""

from __future__ import annotations

import math
import numbers
import operator
import random
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import (
    ArgumentError,
    InvalidArchError,
    Param,
    check_flag,
    check_int_range,
    shown,
    whole_number,
)
from nb201_flat.types import BoolArray as BoolArray
from nb201_flat.types import IntArray as IntArray

if TYPE_CHECKING:
    from nb201_flat.neighbours import NeighbourArrays

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
_NB201_SHUFFLE_SEED = 88  # NAS-Bench-201's own seed for the order of its files

#: the most cells a space may hold: indices are int64, with room left for index arithmetic
MAX_SPACE_SIZE = 2**62 - 1

IndexOrder = Literal["official", "lexicographic"]


def _as_int(value: Any, what: str) -> int:
    """``value`` as an int (:func:`~nb201_flat.errors.whole_number`: numpy integers and whole
    floats too), else :class:`InvalidArchError`; 1.5 or a bool is refused, never truncated."""
    whole = whole_number(value)
    if whole is not None:
        return whole
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InvalidArchError(f"{what} must be an integer, got {shown(value)}")
    raise InvalidArchError(f"{what} must be a whole number, got {shown(value)}")  # 1.5, NaN


def check_arch_index(index: Any, size: int) -> int:
    """``index`` as an architecture index in ``0..size - 1``, else :class:`InvalidArchError`.

    The package's one index rule (spaces, oracles, ask/tell sessions, importers): a whole number
    (:func:`~nb201_flat.errors.whole_number`: an int, a numpy integer or a whole float such as
    5.0); a bool, 2.5, NaN or text is refused, never truncated, and -1 is no architecture, not
    the last.

    >>> check_arch_index(5.0, 27)
    5
    >>> check_arch_index(2.5, 27)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.InvalidArchError: an architecture index must be a whole number in 0..26, got 2.5
    """
    i = whole_number(index)
    if i is None:
        raise InvalidArchError(
            f"an architecture index must be a whole number in 0..{size - 1}, got {shown(index)}"
        )
    if not 0 <= i < size:
        raise InvalidArchError(
            f"index {shown(index)} out of range 0..{size - 1}; use an index in that range"
        )
    return i


def check_space(space: Any, name: str | Param = "space") -> Space:
    """``space`` if it is a :class:`Space`, else :class:`ArgumentError` (a table or a list
    passed there met an AttributeError deep inside the call).

    >>> check_space("nb201")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: space must be a Space, got str 'nb201'; pass e.g. nb201_flat.NB201
    """
    if not isinstance(space, Space):
        raise ArgumentError(
            name,
            f" must be a Space, got {type(space).__name__} {shown(space, 60)}; pass e.g. "
            "nb201_flat.NB201",
        )
    return space


def check_arch_indices(
    indices: Any, size: int, *, name: str = "indices", no_arch_ok: bool = False
) -> IntArray:
    """``indices`` (any shape) as an int64 array of architecture indices in ``0..size - 1``,
    else :class:`InvalidArchError` naming the first bad entry and its position.

    :func:`check_arch_index`'s rule, entry by entry: an int array, or a float array whose every
    entry is whole (indices computed with numpy), is read; 2.5, NaN, text or a bool array (a
    mask, not indices) is refused, never truncated. -1 is no architecture, not the last; with
    ``no_arch_ok`` it is let through as -1 (an incumbent not found yet).

    >>> check_arch_indices([5.0, 6.0], 27).tolist()
    [5, 6]
    >>> check_arch_indices([1.0, 2.5], 27)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.InvalidArchError: indices must be whole numbers in 0..26, got 2.5 at position 1
    """
    lo = -1 if no_arch_ok else 0
    want = f"{name} must be whole numbers in {lo}..{size - 1}"
    try:
        raw = np.asarray(indices)
    except (TypeError, ValueError):  # ragged nesting
        raise InvalidArchError(f"{want}, got {shown(indices)}") from None
    if raw.size == 0:  # [] is float64: no entry to refuse
        return np.zeros(raw.shape, dtype=np.int64)
    kind = raw.dtype.kind
    if kind in "iu":
        bad = (raw < lo) | (raw >= size)
    elif kind == "f":
        # in float64: float16 rounds 15625 down to 15624, refusing a valid 15624
        wide = raw.astype(np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~((wide == np.floor(wide)) & (wide >= lo) & (wide < size))  # NaN: not whole
    elif kind == "O":  # mixed Python objects: each read by the single-index rule
        whole = [whole_number(v) for v in raw.ravel().tolist()]
        flat = np.array([lo - 1 if w is None else w for w in whole], dtype=object)
        bad = ((flat < lo) | (flat >= size)).astype(bool).reshape(raw.shape)
    else:  # bool (a mask), text, complex, dates: no entry is an index
        bad = np.ones(raw.shape, dtype=bool)
    if bad.any():
        pos = np.unravel_index(int(np.flatnonzero(bad)[0]), raw.shape)
        at = tuple(int(p) for p in pos) if raw.ndim > 1 else int(pos[0]) if raw.ndim else 0
        value = raw[pos].item() if kind != "O" else raw[pos]
        hint = "; a bool array is a mask: pass np.flatnonzero(mask)" if kind == "b" else ""
        raise InvalidArchError(f"{want}, got {shown(value)} at position {at}{hint}")
    if kind == "O":
        return np.array(whole, dtype=np.int64).reshape(raw.shape)
    out: IntArray = raw.astype(np.int64, copy=False)
    return out


def masked_as_nan(values: Any) -> Any:
    """A numpy masked array as a plain one, its masked entries NaN (not measured); anything
    else as it is. ``np.asarray`` drops a mask, reading the numbers under it as measured."""
    if not isinstance(values, np.ma.MaskedArray):
        return values
    data = np.asarray(values.data)
    mask = np.ma.getmaskarray(values)
    if not mask.any():
        return data
    if data.dtype.kind == "O":  # None is how an object vector says "not measured"
        out_obj = data.copy()
        out_obj[mask] = None
        return out_obj
    if data.dtype.kind not in "biuf":  # text: refused by the caller's check
        return data
    out = data.astype(np.float64)
    out[mask] = np.nan
    return out


def in_index_order(values: Any, size: int, name: str = "values") -> Any:
    """``values`` with a pandas index read by label, not by position: the package's one rule for
    a per-architecture vector that carries labels (a shuffled or filtered Series was otherwise
    read by position, every value landing on the wrong architecture).

    A numpy masked array comes back as a plain array, its masked entries NaN (not measured):
    ``np.asarray`` would read the numbers under the mask as measured values; a boolean one with
    masked entries is refused (such an entry is neither in nor out). Anything else that
    is not a pandas object comes back as it is. A Series indexed by ``0..size-1``
    in order comes back as it is too (read as always); one indexed by a permutation of them is
    put in index order. Any other index (missing, repeated or out-of-range labels, labels that
    are not integers) and a DataFrame raise :class:`ArgumentError` naming the fix.

    >>> in_index_order(np.ma.masked_array([1.0, 2.0], mask=[True, False]), 2).tolist()
    [nan, 2.0]
    >>> import pandas as pd
    >>> in_index_order(pd.Series([10.0, 20.0, 30.0], index=[2, 0, 1]), 3).tolist()
    [20.0, 30.0, 10.0]
    >>> in_index_order(pd.Series([10.0, 20.0], index=[2, 0]), 3)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: values (a pandas Series) must be indexed by the 3 architecture indices 0..2, each once; its index lacks 1 of them (first 1); .reindex(range(3)) marks missing architectures NaN, .to_numpy() reads it by position
    """
    if isinstance(values, np.ma.MaskedArray):
        if values.dtype == np.bool_ and np.ma.getmaskarray(values).any():
            # a boolean mask's masked entry is neither in nor out (NaN made it a float vector)
            raise ArgumentError(
                f"{name} is a masked boolean array: a masked entry is neither True nor False; "
                f"fill it, e.g. {name}.filled(False) (a mask then leaves them out)"
            )
        return masked_as_nan(values)
    pd = sys.modules.get("pandas")  # no pandas object exists unless pandas is loaded
    if pd is None or not isinstance(values, pd.Series | pd.DataFrame):
        return values
    if isinstance(values, pd.DataFrame):
        raise ArgumentError(
            f"{name} must be one vector, got a DataFrame of shape {values.shape}; pass one "
            "column, e.g. df['accuracy']"
        )
    want = (
        f"{name} (a pandas Series) must be indexed by the {size} architecture indices "
        f"0..{size - 1}, each once"
    )
    fix = (
        f".reindex(range({size})) marks missing architectures NaN, .to_numpy() reads it by position"
    )
    index = values.index
    if index.nlevels != 1 or index.dtype.kind not in "iu":  # bools, floats, strings, tuples
        first = index[0] if len(index) else None
        first = first.item() if isinstance(first, np.generic) else first
        # arch strings are not read here: mapping them is one line for the caller
        how = (
            "map arch strings with space.parse(a).index"
            if isinstance(first, str)
            else ("relabel it with integer architecture indices")
        )
        raise ArgumentError(
            f"{want}; its labels are {index.dtype} (first {shown(first, 40)}); {how}, or use "
            ".to_numpy() if it is in index order"
        )
    if index.hasnans:  # a nullable integer index with <NA>
        n = int(index.isna().sum())
        raise ArgumentError(
            f"{want}; its index holds {n} missing label{'s' if n > 1 else ''}; {fix}"
        )
    labels = index.to_numpy()
    if len(labels) == size and (labels == np.arange(size)).all():
        return values  # in index order already: read as ever (byte for byte)
    if (bad := (labels < 0) | (labels >= size)).any():
        n, first = int(bad.sum()), labels[bad][0]
        raise ArgumentError(
            f"{want}; it holds {n} label{'s' if n > 1 else ''} outside that range (first {first}); "
            f"{fix}"
        )
    seen = np.bincount(labels.astype(np.int64), minlength=size)
    if (seen > 1).any():
        raise ArgumentError(
            f"{want}; it repeats {int((seen > 1).sum())} of them (first "
            f"{int(np.flatnonzero(seen > 1)[0])}); keep one value each, e.g. "
            ".groupby(level=0).mean()"
        )
    if (seen == 0).any():
        raise ArgumentError(
            f"{want}; its index lacks {int((seen == 0).sum())} of them (first "
            f"{int(np.flatnonzero(seen == 0)[0])}); {fix}"
        )
    # a permutation: each value moved to its label
    raw = values.to_numpy()
    out = np.empty_like(raw)
    out[labels] = raw
    return out


_INT = frozenset({int})


def _refuse_arch(space: object, codes: object) -> NoReturn:
    """:class:`Arch`'s one line for a cell that is none of ``space``'s."""
    fix = "build it with Space.arch(index), Space.parse(text) or Space.from_ops(ops)"
    if not isinstance(space, Space):
        raise InvalidArchError(f"Arch's space must be a Space, got {shown(space)}; {fix}")
    raise InvalidArchError(
        f"Arch's codes must be a tuple of {space.n_edges} ints in 0..{space.n_ops - 1} (one op "
        f"code per edge of {space!r}), got {shown(codes)}; {fix}"
    )


@dataclass(frozen=True, slots=True)
class Arch:
    """One cell of a :class:`Space`: an immutable, hashable value.

    Build it with :meth:`Space.parse`, :meth:`Space.arch` or :meth:`Space.from_ops`; built
    directly, codes that are no cell of ``space`` are refused. ``codes[e]`` is the position in
    ``space.ops`` of the op on edge ``space.edges[e]``.
    """

    space: Space
    codes: tuple[int, ...]

    def __post_init__(self) -> None:
        # Built directly, a code past the ops (-1 named the last op) or a tuple of the wrong
        # length was a cell .ops named and .index refused. Two set tests in C keep it cheap:
        # about 0.7 us an Arch, a fifth of Space.arch (the commit's message has the timings).
        space, codes = self.space, self.codes
        if not (
            isinstance(space, Space)
            and type(codes) is tuple
            and len(codes) == space.n_edges
            and space._code_set.issuperset(codes)
            and _INT.issuperset(map(type, codes))  # 1.0 and True are in the code set
        ):
            _refuse_arch(space, codes)

    @property
    def ops(self) -> tuple[str, ...]:
        """Op names per edge, in ``space.edges`` order."""
        return tuple(self.space.ops[c] for c in self.codes)

    @property
    def index(self) -> int:
        """Position of this cell in its space (the official index for NB201)."""
        return self.space.index_of_codes(self.codes)

    @property
    def is_connected(self) -> bool:
        """True when the input reaches the output through edges whose op is not ``none``."""
        # from its own codes: the whole space's array needed 881 GB on a 6-node space
        return bool(self.space.connected_codes([self.codes])[0])

    def to_str(self) -> str:
        """The NAS-Bench-201 string, e.g. ``|nor_conv_3x3~0|+|none~0|none~1|+|...|``."""
        return self.space.to_str(self.codes)

    def __str__(self) -> str:
        return self.to_str()

    def __repr__(self) -> str:
        return f"Arch({self.to_str()!r})"

    def hamming(self, other: Arch | str | int) -> int:
        """Number of edges whose op differs (``other``: an :class:`Arch`, string or index)."""
        if not isinstance(other, Arch):
            other = self.space.resolve(other)
        if other.space != self.space:
            raise InvalidArchError("cannot compare architectures of different spaces")
        return sum(a != b for a, b in zip(self.codes, other.codes, strict=True))

    def with_op(self, edge: int | tuple[int, int], op: str) -> Arch:
        """This cell with one edge's op replaced; ``edge`` is a position or an ``(i, j)`` pair."""
        e = self.space.edge_position(edge)
        codes = list(self.codes)
        codes[e] = self.space.op_code(op)
        return Arch(self.space, tuple(codes))

    def isomorphism_key(self, *, merge_disconnected: bool = True) -> str:
        """See :meth:`Space.isomorphism_key`."""
        return self.space.isomorphism_key(self.codes, merge_disconnected=merge_disconnected)


def _code_rows(codes: npt.ArrayLike, n_edges: int) -> npt.NDArray[Any]:
    """``codes`` as an array, or :class:`InvalidArchError` for rows of unequal length (numpy's
    own ValueError spoke of an inhomogeneous shape)."""
    try:
        return np.asarray(codes)
    except ValueError:
        raise InvalidArchError(
            f"expected an (n, {n_edges}) array of op codes, got rows of unequal length"
        ) from None


class Space:
    """A cell search space: ``ops`` on the edges of a DAG with ``n_nodes`` nodes.

    Parameters
    ----------
    ops
        Op names; ``"none"`` (if present) is the zero op that cuts an edge.
    n_nodes
        Nodes of the cell, input and output included (NB201: 4).
    index_order
        ``"official"`` (only for the NB201 op list and 4 nodes: the official file order) or
        ``"lexicographic"`` (base-``len(ops)`` number of the codes, first edge most significant).
        Default: official for NB201, lexicographic otherwise.
    """

    def __init__(
        self,
        ops: Iterable[str] = NB201_OPS,
        n_nodes: int = 4,
        *,
        index_order: IndexOrder | None = None,
    ) -> None:
        if isinstance(ops, str):  # tuple("abc") would be three one-letter ops
            raise InvalidArchError(f"ops must be a sequence of op names, not one string {ops!r}")
        if not isinstance(ops, Iterable):  # tuple(3) raised a bare TypeError
            raise InvalidArchError(f"ops must be a sequence of op names, got {shown(ops)}")
        self.ops: tuple[str, ...] = tuple(ops)
        if not all(isinstance(op, str) for op in self.ops):
            raise InvalidArchError(f"op names must be strings, got {shown(self.ops, 120)}")
        if len(self.ops) < 2 or len(set(self.ops)) != len(self.ops):
            raise InvalidArchError(f"a space needs at least two distinct ops, got {self.ops}")
        for op in self.ops:
            if not op or any(ch in op for ch in "|~+ "):
                raise InvalidArchError(f"op name {op!r} may not be empty or contain '|~+ '")
            if not (op.isascii() and op.isprintable()):  # its cells' strings would not parse
                raise InvalidArchError(
                    f"op name {op!r} must be printable ASCII (cell strings are), e.g. 'conv_3x3'"
                )
        if _as_int(n_nodes, "n_nodes") < 2:
            raise InvalidArchError(f"a cell needs at least 2 nodes, got n_nodes={n_nodes}")
        self.n_nodes = int(n_nodes)
        n_edges = self.n_nodes * (self.n_nodes - 1) // 2
        # before listing the edges (n_nodes=2**63 would never finish); indices are int64
        if n_edges >= 62 or len(self.ops) ** n_edges > MAX_SPACE_SIZE:
            # the node count, not the edges: a 3000-digit count cannot even be printed whole
            raise InvalidArchError(
                f"a space of {len(self.ops)} ops on {shown(n_nodes, 40)} nodes is too large to "
                "index (int64 cell indices); use fewer nodes or ops"
            )
        if not isinstance(index_order, str | None) or index_order not in (
            None,
            "official",
            "lexicographic",
        ):  # an array's `in` raised numpy's ValueError
            raise InvalidArchError(
                f"index_order must be 'official' or 'lexicographic' (or None), got {shown(index_order)}"
            )
        is_nb201 = self.ops == NB201_OPS and self.n_nodes == 4
        if index_order is None:
            index_order = "official" if is_nb201 else "lexicographic"
        if index_order == "official" and not is_nb201:
            raise InvalidArchError(
                "index_order='official' exists only for the NB201 ops on 4 nodes; "
                "use index_order='lexicographic'"
            )
        self.index_order: IndexOrder = index_order
        self.edges: tuple[tuple[int, int], ...] = tuple(
            (i, j) for j in range(1, self.n_nodes) for i in range(j)
        )
        self.n_edges = len(self.edges)
        self.n_ops = len(self.ops)
        self.size: int = int(self.n_ops**self.n_edges)
        self._op_code = {op: c for c, op in enumerate(self.ops)}
        self._edge_pos = {e: p for p, e in enumerate(self.edges)}
        self._weights = np.array(
            [self.n_ops ** (self.n_edges - 1 - e) for e in range(self.n_edges)], dtype=np.int64
        )
        self._cache: dict[Any, Any] = {}
        self._code_set = frozenset(range(self.n_ops))  # Arch's check of its codes

    # -- identity -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Space)
            and self.ops == other.ops
            and self.n_nodes == other.n_nodes
            and self.index_order == other.index_order
        )

    def __hash__(self) -> int:
        return hash((self.ops, self.n_nodes, self.index_order))

    def __repr__(self) -> str:
        return f"Space(ops={self.ops}, n_nodes={self.n_nodes}, index_order={self.index_order!r})"

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Arch]:
        for i in range(self.size):
            yield self.arch(i)

    def spec(self) -> dict[str, Any]:
        """JSON-able description (stored in table manifests)."""
        return {"ops": list(self.ops), "n_nodes": self.n_nodes, "index_order": self.index_order}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Space:
        """Inverse of :meth:`spec`; returns the shared :data:`NB201` object when it matches."""
        try:
            ops, n_nodes, order = spec["ops"], spec["n_nodes"], spec.get("index_order")
        except (KeyError, TypeError, AttributeError, IndexError):  # IndexError: a numpy value
            raise InvalidArchError(
                f"a space spec is a dict with ops, n_nodes and index_order, got {shown(spec, 120)}"
            ) from None
        space = cls(ops, n_nodes, index_order=order)
        return NB201 if space == NB201 else space

    # -- ops and edges ------------------------------------------------------------------
    def op_code(self, op: str) -> int:
        """Code of an op name; a clear error lists the valid names."""
        try:
            return self._op_code[op]
        except (KeyError, TypeError):  # TypeError: a list or an array is unhashable
            raise InvalidArchError(
                f"unknown op {shown(op)}; this space's ops are {', '.join(self.ops)}"
            ) from None

    def edge_position(self, edge: int | tuple[int, int]) -> int:
        """Position of an edge given as a position or an ``(i, j)`` node pair."""
        if isinstance(edge, tuple):
            # each end a whole number: a list met a bare 'unhashable', (False, True) was (0, 1)
            pair = tuple(_as_int(x, "an edge's node") for x in edge) if len(edge) == 2 else ()
            if pair not in self._edge_pos:
                raise InvalidArchError(f"no edge {edge}; edges are {list(self.edges)}")
            return self._edge_pos[pair]
        e = _as_int(edge, "edge (a position or an (i, j) pair)")
        if not 0 <= e < self.n_edges:
            raise InvalidArchError(f"edge position {edge} out of range 0..{self.n_edges - 1}")
        return e

    # -- index <-> codes ----------------------------------------------------------------
    @property
    def _lex_of_index(self) -> IntArray:
        """Lexicographic number (base-n_ops code) of each index."""
        key = "lex_of_index"
        if key not in self._cache:
            from nb201_flat.budget import check_memory

            # the first whole-space array: the lexicographic numbers, their inverse, the codes;
            # the space by its size (its repr was three lines of a command's one)
            check_memory(  # the codes are built a column at a time: two int64 vectors
                self.size * (32 + self.n_edges),
                f"the index over all {self.size:,} cells of a space ({self.n_ops} ops on "
                f"{self.n_edges} edges)",
                "a smaller space needs less, and single cells (Space.arch, Space.parse) none",
            )
            if self.index_order == "official":
                perm = list(range(self.size))
                random.Random(_NB201_SHUFFLE_SEED).shuffle(perm)
                arr = np.asarray(perm, dtype=np.int64)
            else:
                arr = np.arange(self.size, dtype=np.int64)
            arr.setflags(write=False)
            self._cache[key] = arr
        out: IntArray = self._cache[key]
        return out

    @property
    def _index_of_lex(self) -> IntArray:
        key = "index_of_lex"
        if key not in self._cache:
            inv = np.empty(self.size, dtype=np.int64)
            inv[self._lex_of_index] = np.arange(self.size, dtype=np.int64)
            inv.setflags(write=False)
            self._cache[key] = inv
        out: IntArray = self._cache[key]
        return out

    @property
    def codes(self) -> npt.NDArray[np.uint8]:
        """Op codes of every architecture, shape ``(size, n_edges)``, row = index (read-only)."""
        key = "codes"
        if key not in self._cache:
            lex = self._lex_of_index
            arr = np.empty((self.size, self.n_edges), dtype=np.uint8)
            for e, weight in enumerate(self._weights.tolist()):  # no (size, edges) int64 copies
                arr[:, e] = lex // weight % self.n_ops
            arr.setflags(write=False)
            self._cache[key] = arr
        out: npt.NDArray[np.uint8] = self._cache[key]
        return out

    def _checked_codes(self, codes: Iterable[int]) -> tuple[int, ...]:
        """One cell's op codes as Python ints, one per edge, each in ``0..n_ops-1``."""
        # Python ints: numpy uint8/int16 rows would wrap (or raise) when scaled by the weights;
        # operator.index refuses floats instead of truncating them (bools are no codes either)
        if not isinstance(codes, Iterable):  # list(3) raised a bare TypeError
            raise InvalidArchError(
                f"op codes must be a sequence of {self.n_edges} integers, got {shown(codes)}"
            )
        if isinstance(codes, np.ndarray) and codes.ndim != 1:  # a 2-d array: rows of cells
            raise InvalidArchError(
                f"op codes must be one cell's {self.n_edges} integers, got an array of shape "
                f"{codes.shape}; pass one row, or use indices_of_codes for many cells"
            )
        items = list(codes)
        if any(isinstance(x, bool | np.bool_) for x in items):
            raise InvalidArchError(f"op codes must be integers, not bools, got {shown(items)}")
        try:
            c = tuple(operator.index(x) for x in items)
        except TypeError:
            raise InvalidArchError(f"op codes must be integers, got {shown(codes)}") from None
        if len(c) != self.n_edges or any(not 0 <= x < self.n_ops for x in c):
            raise InvalidArchError(
                f"op codes {c} do not fit this space ({self.n_edges} edges, codes 0..{self.n_ops - 1})"
            )
        return c

    def index_of_codes(self, codes: Iterable[int]) -> int:
        """Index of the cell with these op codes."""
        c = self._checked_codes(codes)
        lex = sum(x * int(w) for x, w in zip(c, self._weights, strict=True))
        if self.index_order == "lexicographic":  # identity: skip the whole-space arrays
            return int(lex)
        return int(self._index_of_lex[lex])

    def indices_of_codes(self, codes: npt.ArrayLike) -> IntArray:
        """Vectorised :meth:`index_of_codes` for an ``(n, n_edges)`` array."""
        raw = _code_rows(codes, self.n_edges)
        if raw.size and raw.dtype.kind not in "iu":  # a float code would be truncated
            raise InvalidArchError(f"op codes must be integers, got an array of {raw.dtype}")
        c = raw.astype(np.int64)
        if c.ndim != 2 or c.shape[1] != self.n_edges or c.min(initial=0) < 0:
            raise InvalidArchError(f"expected an (n, {self.n_edges}) array of op codes")
        if c.size and c.max() >= self.n_ops:
            raise InvalidArchError(f"op codes must lie in 0..{self.n_ops - 1}")
        lex = c @ self._weights
        if self.index_order == "lexicographic":  # identity: no whole-space array (227 GiB)
            return lex
        out: IntArray = self._index_of_lex[lex]
        return out

    def check_index(self, index: int) -> int:
        """``index`` as an int in ``0..size - 1`` (:func:`check_arch_index`)."""
        return check_arch_index(index, self.size)

    def arch(self, index: int) -> Arch:
        """The architecture at ``index`` (a whole number, :func:`check_arch_index`; :meth:`resolve`
        also takes strings)."""
        i = self.check_index(index)
        if self.index_order == "lexicographic":  # no need to build the whole-space array
            return Arch(self, tuple(int(x) for x in (i // self._weights) % self.n_ops))
        return Arch(self, tuple(int(x) for x in self.codes[i]))

    def from_ops(self, ops: Iterable[str]) -> Arch:
        """Architecture from op names per edge (``space.edges`` order)."""
        if isinstance(ops, str) or not isinstance(ops, Iterable):  # list(3): a bare TypeError
            raise InvalidArchError(
                f"ops must be a sequence of {self.n_edges} op names, got {shown(ops)}"
            )
        names = list(ops)
        if len(names) != self.n_edges:
            raise InvalidArchError(f"expected {self.n_edges} ops (one per edge), got {len(names)}")
        return Arch(self, tuple(self.op_code(op) for op in names))

    def to_str(self, codes: Iterable[int]) -> str:
        """NAS-Bench-201 string of op codes."""
        return self._str_of(self._checked_codes(codes))

    def _str_of(self, c: tuple[int, ...] | list[int]) -> str:
        nodes = []
        for j in range(1, self.n_nodes):
            parts = [f"{self.ops[c[self._edge_pos[(i, j)]]]}~{i}" for i in range(j)]
            nodes.append("|" + "|".join(parts) + "|")
        return "+".join(nodes)

    def parse(self, text: str) -> Arch:
        """Parse a NAS-Bench-201 string such as ``|nor_conv_3x3~0|+|none~0|none~1|+|...|``."""
        if not isinstance(text, str):
            raise InvalidArchError(f"expected an architecture string, got {type(text).__name__}")
        # white space around it is no part of it (a line read with its newline, as an index
        # read so is); inside, a control character is refused
        s = text.strip()
        _check_arch_text(s, self._longest_text)
        hint = f"expected {self.n_nodes - 1} node groups like '|op~0|+|op~0|op~1|' separated by '+'"
        groups = s.split("+")
        if len(groups) != self.n_nodes - 1:
            raise InvalidArchError(
                f"malformed architecture {s!r}: {len(groups)} node groups; {hint}"
            )
        codes = [0] * self.n_edges
        for j, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise InvalidArchError(
                    f"malformed architecture {s!r}: node group {group!r} must start and end with '|'"
                )
            tokens = group[1:-1].split("|")
            if len(tokens) != j:
                raise InvalidArchError(
                    f"malformed architecture {s!r}: node {j} has {len(tokens)} inputs, "
                    f"expected {j} (one from each earlier node)"
                )
            for i, token in enumerate(tokens):
                op, sep, src = token.rpartition("~")
                if not sep or "~" in op:  # 'conv~0~0' named op 'conv~0' unknown
                    raise InvalidArchError(
                        f"malformed architecture {s!r}: {token!r} is not of the form 'op~node'"
                    )
                if not (src.isascii() and src.isdigit() and str(int(src)) == src):
                    # '~00' was refused as "should come from node 0", the node it names
                    raise InvalidArchError(
                        f"malformed architecture {s!r}: edge {token!r} writes its source "
                        f"node as {src!r}; write it as a single integer, as in {f'{op}~{i}'!r} "
                        "(no leading zeros, signs or spaces)"
                    )
                if src != str(i):
                    raise InvalidArchError(
                        f"malformed architecture {s!r}: edge {token!r} into node {j} "
                        f"should come from node {i} (inputs are listed 0..{j - 1} in order)"
                    )
                codes[self._edge_pos[(i, j)]] = self.op_code(op)
        return Arch(self, tuple(codes))

    def resolve(self, arch: Arch | str | int) -> Arch:
        """Accept an :class:`Arch`, an official string or an index (a number or digit string)."""
        if isinstance(arch, Arch):
            if arch.space != self:  # an index would name another cell here: no silent fix
                raise InvalidArchError(
                    f"{arch!r} belongs to {arch.space!r}, not to this {self!r}; use values or "
                    "a table over its space, or parse arch.to_str() in this one"
                )
            return arch
        if isinstance(arch, str):
            if _is_index_text(arch):
                return self.arch(int(arch))
            if _NUMBER_TEXT.fullmatch(arch):  # '+5', '1e3', '9930.0': read as node groups
                raise InvalidArchError(
                    f"{arch.strip()!r} is no architecture index (an index is written in "
                    f"digits, 0..{self.size - 1}) and no cell string either; give one of them"
                )
            return self.parse(arch)
        raw: object = arch  # typed int; a caller may pass 5.0, a bool or anything
        if isinstance(raw, numbers.Real | np.bool_):
            # the index rule of arch(): 5.0 is cell 5; a bool or 2.5 is refused with the range
            return self.arch(check_arch_index(raw, self.size))
        if isinstance(raw, np.ndarray) and raw.ndim == 0:  # array(5): index arrays read it so
            return self.resolve(raw.item())
        raise InvalidArchError(
            f"expected an architecture string or index, got {type(raw).__name__}"
        )

    def strings(self, indices: npt.ArrayLike | None = None) -> list[str]:
        """Official strings of every index, or of ``indices`` (checked by
        :func:`check_arch_indices`) in their order, as :meth:`to_str` writes them.

        Computed, not stored: 3-8 ms for all of NB201, where one :meth:`arch` per cell takes
        ~125 ms, and a listing of ten cells pays for those ten only.
        """
        codes: npt.NDArray[np.integer[Any]]
        if indices is None:
            codes = self.codes
        else:
            idx = check_arch_indices(indices, self.size)
            if idx.ndim != 1:  # a grid of indices would be a grid of strings
                raise InvalidArchError(
                    f"indices must be one sequence of architecture indices, got shape {idx.shape}"
                )
            if self.index_order == "lexicographic":  # as arch(): no whole-space array
                codes = idx[:, None] // self._weights % self.n_ops
            else:
                codes = self.codes[idx]
        # a column of ready-made pieces per edge, each with the separator before it, joined
        # row by row: ~4x faster than formatting each cell's string alone
        columns = []
        for j in range(1, self.n_nodes):
            for i in range(j):
                sep = "|" if i else ("|" if j == 1 else "|+|")
                pieces = np.array([f"{sep}{op}~{i}" for op in self.ops], dtype=object)
                columns.append(pieces[codes[:, self._edge_pos[(i, j)]]].tolist())
        return ["".join(parts) + "|" for parts in zip(*columns, strict=True)]

    # -- whole-space properties ---------------------------------------------------------
    @property
    def connected(self) -> BoolArray:
        """Per index: does the input reach the output through non-``none`` edges?"""
        key = "connected"
        if key not in self._cache:
            arr = self.connected_codes(self.codes)
            arr.setflags(write=False)
            self._cache[key] = arr
        out: BoolArray = self._cache[key]
        return out

    def connected_codes(self, codes: npt.ArrayLike) -> BoolArray:
        """Connectivity of an ``(n, n_edges)`` array of op codes."""
        c = np.atleast_2d(_code_rows(codes, self.n_edges))
        if c.ndim != 2 or c.shape[1] != self.n_edges or (c.size and c.dtype.kind not in "iu"):
            raise InvalidArchError(
                f"expected an (n, {self.n_edges}) array of integer op codes, got shape "
                f"{c.shape} of {c.dtype}"
            )
        if c.size and (c.min() < 0 or c.max() >= self.n_ops):
            raise InvalidArchError(f"op codes must lie in 0..{self.n_ops - 1}")
        live = np.ones_like(c, dtype=bool)
        if "none" in self._op_code:
            live = c != self._op_code["none"]
        reach = [np.ones(len(c), dtype=bool)]
        for j in range(1, self.n_nodes):
            r = np.zeros(len(c), dtype=bool)
            for i in range(j):
                r |= reach[i] & live[:, self._edge_pos[(i, j)]]
            reach.append(r)
        return reach[-1]

    def distances_from(self, arch: Arch | str | int) -> npt.NDArray[np.int8]:
        """Hamming distance from one architecture to every index."""
        a = np.asarray(self.resolve(arch).codes, dtype=np.uint8)
        out: npt.NDArray[np.int8] = (self.codes != a[None, :]).sum(axis=1).astype(np.int8)
        return out

    def hamming(self, a: Arch | str | int, b: Arch | str | int) -> int:
        """Hamming distance (edges whose op differs) between two architectures."""
        return self.resolve(a).hamming(self.resolve(b))

    # -- neighbourhoods -----------------------------------------------------------------
    @property
    def _longest_text(self) -> int:
        """The length of this space's longest cell string: a space of 9 nodes has cells of
        555 characters, which a fixed limit of 500 refused to parse."""
        op = max(len(o) for o in self.ops)
        # node i: '|' + i * (op + '~' + digits of its inputs + '|'), nodes joined by '+'
        nodes = range(1, self.n_nodes)
        return sum(1 + i * (op + 2 + len(str(i - 1))) for i in nodes) + len(nodes) - 1

    def neighbourhood_size(self, radius: int, *, exact: bool = True) -> int:
        """Unfiltered neighbourhood size: ``C(E, r) (k-1)^r`` (summed over 1..r if not exact)."""
        radius = self.check_radius(radius)
        radii = [radius] if check_flag("exact", exact) else range(1, radius + 1)
        return sum(math.comb(self.n_edges, r) * (self.n_ops - 1) ** r for r in radii)

    def check_radius(self, radius: Any, name: str | Param = "radius") -> int:
        """``radius`` as an int in ``1..n_edges``, else :class:`ArgumentError` (the package's
        int-range rule: a radius is an argument, not an architecture); ``name`` as the message
        calls it (the CLI: its flag)."""
        return check_int_range(
            name,
            radius,
            1,
            self.n_edges,
            fix=f"pass a Hamming radius such as 1 or 2 (this space's cells have {self.n_edges} "
            "edges)",
        )

    def neighbours(
        self,
        radius: int = 1,
        *,
        exact: bool = True,
        no_none: bool = False,
        connected_only: bool = False,
    ) -> NeighbourArrays:
        """Neighbour index arrays of every architecture (see :func:`~nb201_flat.neighbours.neighbour_arrays`).

        The result is cached on the space (``space.clear_cache()`` frees it).
        """
        from nb201_flat.neighbours import neighbour_arrays

        return neighbour_arrays(
            self, radius, exact=exact, no_none=no_none, connected_only=connected_only
        )

    def clear_cache(self) -> None:
        """Drop cached arrays (neighbourhoods can be large at radius >= 4)."""
        self._cache.clear()

    # -- isomorphism ----------------------------------------------------------------------
    def isomorphism_key(self, codes: Iterable[int], *, merge_disconnected: bool = True) -> str:
        """NATS-Bench's string for a cell's computation, up to op-symmetric wiring: close to the
        function the cell computes, not exactly it (it merges some functions, splits others).

        This is NATS-Bench's key (``to_unique_str(consider_zero=True)``): each node is the
        sorted sum of its inputs, ``skip_connect`` passes its input through, ``none`` (or any op
        on an input ``#``) gives ``#``, any other op wraps its input as ``(x)@op``. On NB201 it
        gives 6,466 classes: 6,461 for connected cells plus 5 strings for the 341 disconnected
        ones, whose output does not depend on the input: a constant, zero or the BatchNorm
        shift of a conv fed zero (cell 13324,
        ``|none~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|none~2|``, outputs its conv's
        shift). With ``merge_disconnected=True`` (default) every disconnected cell gets the key
        ``"#"``, giving 6,462 classes.

        As NATS-Bench's, the key merges cells whose functions differ by such a constant: a conv
        fed zero gives ``#``, though it outputs its shift. Cell 72
        (``|none~0|+|none~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|``)
        computes x plus a conv's shift, cell 3
        (``|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|``) computes
        x, and both get ``#+#+#+0``. In NB201, 36 of the 6,461 connected classes (1,703 cells)
        hold cells whose outputs differ by such a constant (one added to a term with a shift of
        its own, a conv's, is no difference: it adds to that shift).

        And the key can split cells that compute the same function: a node whose inputs all
        come through ``none`` is ``#+#``, not ``#``, so a term fed by it is kept
        (``|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|`` and the same with
        ``skip_connect~2`` both compute conv(x) but get two keys); the class counts above are
        NATS-Bench's.

        >>> NB201.arch(72).isomorphism_key(), NB201.arch(3).isomorphism_key()
        ('#+#+#+0', '#+#+#+0')
        """
        c = self._checked_codes(codes)
        merge = check_flag("merge_disconnected", merge_disconnected)
        return self._iso_key(c, merge and not bool(self.connected_codes([c])[0]))

    def _iso_key(self, c: Sequence[int], zero: bool) -> str:
        """:meth:`isomorphism_key` of checked codes; ``zero``: the merged disconnected key."""
        if zero:
            return "#"
        names = [self.ops[x] for x in c]
        node_str = {0: "0"}
        for j in range(1, self.n_nodes):
            terms = []
            for i in range(j):
                op = names[self._edge_pos[(i, j)]]
                src = node_str[i]
                if op == "none" or src == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(src)
                else:
                    terms.append(f"({src})@{op}")
            node_str[j] = "+".join(sorted(terms))
        return node_str[self.n_nodes - 1]

    def isomorphism_classes(self, *, merge_disconnected: bool = True) -> IntArray:
        """Class id per index (ids numbered by first appearance in index order)."""
        key = ("iso", check_flag("merge_disconnected", merge_disconnected))  # not under "no"
        if key not in self._cache:
            ids: dict[str, int] = {}
            out = np.empty(self.size, dtype=np.int64)
            # the space's own rows: checked already, connectivity cached (no per-cell checks)
            zero = (~self.connected if key[1] else np.zeros(self.size, dtype=bool)).tolist()
            for i, row in enumerate(self.codes.tolist()):
                out[i] = ids.setdefault(self._iso_key(row, zero[i]), len(ids))
            out.setflags(write=False)
            self._cache[key] = out
        arr: IntArray = self._cache[key]
        return arr


NB201 = Space()
"""The NAS-Bench-201 cell space: 5 ops on the 6 edges of a 4-node cell, official index order."""


# a number as Python or a spreadsheet writes it, which no cell string can be
_NUMBER_TEXT: Final = re.compile(
    r"\s*[+-]?(?:\d+(?:_\d+)*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII
)


def _is_index_text(text: str) -> bool:
    """An index as text: ASCII digits with at most one leading minus (``str.isdigit`` also
    accepts ``'²'`` and other digits that ``int`` rejects)."""
    body = text.strip()
    body = body[1:] if body.startswith("-") else body
    return body.isascii() and body.isdecimal()


def _check_arch_text(text: str, longest: int) -> None:
    """Refuse text no message should echo whole or show as a normal-looking name: longer
    than ``longest`` (the space's longest cell string, or 500) or not printable ASCII."""
    if len(text) > max(500, longest):
        raise InvalidArchError(
            f"architecture text of {len(text):,} characters (starts {text[:40]!r}); an NB201 "
            "string is about 90 characters, e.g. '|nor_conv_3x3~0|+|none~0|none~1|+|...|'"
        )
    for pos, ch in enumerate(text):
        if not ch.isascii() or not ch.isprintable():
            import unicodedata

            name = unicodedata.name(ch, "unnamed")
            raise InvalidArchError(
                f"architecture text has the non-ASCII or control character {ch!r} "
                f"(U+{ord(ch):04X} {name}) at position {pos}; op names are plain ASCII"
            )
