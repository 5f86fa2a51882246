"""NASLib's encoding of NB201 cells (also used by AnalogNAS-Bench), converted by op name.

NASLib orders the ops and the edges differently from the NB201 string; a position in one is
never a position in the other, so every conversion goes through op names.

>>> from nb201_flat.space import NB201
>>> a = NB201.arch(11472)
>>> from_naslib(to_naslib(a)) == a
True
"""

from __future__ import annotations

from collections.abc import Iterable

from nb201_flat.errors import ArgumentError, InvalidArchError, shown, whole_number
from nb201_flat.space import NB201, Arch, Space

# NASLib and AnalogNAS-Bench encode NB201 cells with another op order and edge order.
NASLIB_OPS: tuple[str, ...] = (
    "skip_connect",
    "none",
    "nor_conv_3x3",
    "nor_conv_1x1",
    "avg_pool_3x3",
)
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def from_naslib(op_indices: Iterable[int], space: Space = NB201) -> Arch:
    """Convert NASLib ``op_indices`` (its op and edge order) by name into an NB201 cell."""
    given: object = op_indices  # typed as an iterable; one index failed in list()
    items = list(given) if isinstance(given, Iterable) else [given]
    # the package's one whole-number reader: int() would read 1.5 and True as 1, another cell
    codes = [x for x in map(whole_number, items) if x is not None and 0 <= x < len(NASLIB_OPS)]
    if len(codes) != len(items) or len(codes) != len(NASLIB_EDGES):
        got = items if isinstance(given, Iterable) else given
        raise InvalidArchError(
            f"NASLib op indices must be {len(NASLIB_EDGES)} integers in "
            f"0..{len(NASLIB_OPS) - 1}, got {shown(got)}"
        )
    by_edge = {edge: NASLIB_OPS[x] for edge, x in zip(NASLIB_EDGES, codes, strict=True)}
    return space.from_ops(by_edge[e] for e in space.edges)


def to_naslib(arch: Arch) -> tuple[int, ...]:
    """Inverse of :func:`from_naslib`."""
    if not isinstance(arch, Arch):  # an index or a string has no space to read the ops in
        raise ArgumentError(
            f"to_naslib takes an Arch, got {type(arch).__name__} {shown(arch, 60)}; pass e.g. "
            "NB201.arch(index) or NB201.parse(string)"
        )
    by_edge = dict(zip(arch.space.edges, arch.ops, strict=True))
    return tuple(NASLIB_OPS.index(by_edge[e]) for e in NASLIB_EDGES)
