"""A retraining table's stand-in cells: copies of an isomorphic cell's values and disconnected
cells' constant-output chance values, which were never trained.

Kept apart from :mod:`~nb201_flat.landscape.neighbourhood` (which re-exports it) so that the
small commands that only note stand-ins (``barrier``) load numpy, not pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nb201_flat.budget import check_memory
from nb201_flat.errors import (
    LandscapeArgumentError,
    Param,
    UnknownKeyError,
    check_int_range,
    shown,
    whole_number,
)
from nb201_flat.space import MAX_SPACE_SIZE, check_arch_indices
from nb201_flat.types import BoolArray

if TYPE_CHECKING:
    from nb201_flat.table import Table

# build's arrays per cell: the int64 parents, their copy as groups, the int64 range they are
# compared with, the stand-in and comparison masks
_BYTES_PER_CELL = 3 * 8 + 2


@dataclass(frozen=True, eq=False)
class StandIns:
    """The stand-in cells of one metric vector of a retraining table (see the module docstring).

    Attributes
    ----------
    group
        Per cell, a label shared by the cells holding one measurement: a cell copied into
        another, on any seed of the vector's dataset and schedule, shares its label (the
        smallest index of the group); every other cell is its own label.
    stand_in
        Per cell, whether its numbers are not its own measurement: an isomorphic copy, or a
        constant-output cell, on some seed of the vector's dataset and schedule.
    n_copies, n_constant
        How many cells are copies, and how many are constant-output.

    >>> import numpy as np
    >>> s = StandIns.build(6, copies=[(4, 3), (5, 3)], constant=[0])
    >>> s.group.tolist(), s.stand_in.astype(int).tolist()
    ([0, 1, 2, 3, 3, 3], [1, 0, 0, 0, 1, 1])
    """

    group: npt.NDArray[np.int64]
    stand_in: BoolArray
    n_copies: int
    n_constant: int

    @classmethod
    def build(
        cls, size: int, *, copies: Iterable[tuple[int, int]] = (), constant: Iterable[int] = ()
    ) -> StandIns:
        """From ``(cell, copied_from)`` pairs and constant-output cells of a space of ``size``.

        A cell holds one cell's values: one named as a copy of two cells is refused (the same
        pair twice is one), as joining them would call both sources one measurement.

        >>> StandIns.build(6, copies=[(4, 3), (4, 5)])
        Traceback (most recent call last):
        ...
        nb201_flat.errors.ArgumentError: copies names cell 4 a copy of both 3 and 5; a cell holds one cell's values: give one (cell, copied_from) pair per cell
        """
        return cls._build(size, copies, constant, one_source=True)

    @classmethod
    def _build(
        cls,
        size: int,
        copies: Iterable[tuple[int, int]],
        constant: Iterable[int],
        *,
        one_source: bool,
    ) -> StandIns:
        """:meth:`build`; without ``one_source``, a cell copied from several cells joins them
        all in its group (:meth:`of`: one source per seed, other ones on other seeds)."""
        # bounded as a Space is, then by memory: 2**63 met numpy's bare "Maximum allowed
        # dimension exceeded", 2**40 its _ArrayMemoryError
        size = check_int_range(
            Param("size"), size, 1, MAX_SPACE_SIZE, fix="pass the space's size, e.g. space.size"
        )
        check_memory(
            _BYTES_PER_CELL * size,
            f"stand-ins for a space of {size} cells",
            "build them for the space the values come from (space.size)",
        )
        # typed as iterables; a notebook may pass one number all the same, or the pairs as
        # an (n, 2) array (a frame's index and copied_from columns)
        pairs_of = " must be a list of (cell, copied_from) pairs, got "
        given_copies: object = copies  # typed as pairs; read as anything a caller may pass
        given_constant: object = constant
        if isinstance(given_copies, str) or not isinstance(given_copies, Iterable):
            raise LandscapeArgumentError(Param("copies"), pairs_of + shown(copies))
        if isinstance(given_constant, str) or not isinstance(given_constant, Iterable):
            raise LandscapeArgumentError(
                Param("constant"), f" must be a list of cell indices, got {shown(constant)}"
            )
        try:
            pairs: list[tuple[Any, ...]] | None = [tuple(p) for p in copies]
        except TypeError:  # an item that is no pair (a bare number)
            pairs = None
        if pairs is None or not all(len(p) == 2 for p in pairs):
            raise LandscapeArgumentError(Param("copies"), pairs_of + shown(copies))
        parent = np.arange(size, dtype=np.int64)

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = int(parent[i])
            return i

        def cell(i: object) -> int:
            j = whole_number(i)  # int() read 1.5 as cell 1 and "x" raised ValueError
            if j is None or not 0 <= j < size:
                raise LandscapeArgumentError(
                    f"stand-in cell {shown(i)} is not an index of this space (0..{size - 1}); "
                    "build StandIns from the table the values come from"
                )
            return j

        stand = np.zeros(size, dtype=bool)
        source: dict[int, int] = {}
        for c, src in pairs:
            i, j = cell(c), cell(src)
            if i == j:  # its own measurement would be left out as a stand-in
                raise LandscapeArgumentError(
                    Param("copies"), f" names cell {i} a copy of itself; leave that pair out"
                )
            first = source.setdefault(i, j)
            if one_source and first != j:
                raise LandscapeArgumentError(
                    Param("copies"),
                    f" names cell {i} a copy of both {first} and {j}; a cell holds one "
                    "cell's values: give one (cell, copied_from) pair per cell",
                )
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
        if one_source:  # a chain of copies must end at a trained cell
            for start in source:
                seen, i = [start], source[start]
                while i in source:
                    if i in seen:
                        seen = seen[seen.index(i) :]  # the cycle, not the chain into it
                        raise LandscapeArgumentError(
                            Param("copies"),
                            f" holds cells {', '.join(map(str, sorted(seen)))} copied from each other in a cycle, "
                            "so none of them holds a measurement; name the trained cell as "
                            "each one's source",
                        )
                    seen.append(i)
                    i = source[i]
        copied = set(source)
        const = {cell(i) for i in constant}
        stand[list(copied | const)] = True
        group = parent.copy()
        for i in np.flatnonzero(parent != np.arange(size)).tolist():
            group[i] = root(i)
        return cls(group, stand, len(copied), len(const))

    @classmethod
    def of(cls, table: Table, dataset: str, epochs: int) -> StandIns | None:
        """The stand-ins of ``table``'s vectors of ``dataset`` at ``epochs`` (any split, metric,
        seed); None for a table that records none (a benchmark's own numbers).

        A run copies one cell, but a cell may copy different ones on different seeds (each
        campaign trains the smallest index of a class among its own cells): its values over
        the seeds hold both measurements, so its group holds the cell and every source. A
        constant-output cell likewise: one recorded at chance on some seed of ``dataset`` at
        ``epochs`` (its values over the seeds hold that chance value), not one recorded so on
        another dataset or schedule only."""
        from nb201_flat.table import check_table, constant_at, copies_by_run, records_stand_ins

        # checked even for a table of none: int(1.5) read epoch 1, a list matched no record
        check_table(table)
        if not isinstance(dataset, str):
            raise LandscapeArgumentError(Param("dataset"), f" must be a str, got {shown(dataset)}")
        epochs = check_int_range(Param("epochs"), epochs, 0)
        if not records_stand_ins(table):
            return None
        runs = copies_by_run(table)  # the records read once, checked as stand_ins() checks them
        # the cells at chance on a run of this vector: one trained here but recorded at chance
        # on another schedule was flagged, its measurement read as a stand-in
        constant = constant_at(table, dataset, epochs)
        # 'CIFAR10' or another schedule matched no copy record: the copies were silently
        # counted as neighbour measurements
        known = {(k.dataset, k.epochs) for k in table} | {(d, e) for d, e, _ in runs}
        if (dataset, epochs) not in known:
            have = ", ".join(f"{d}@{e}ep" for d, e in sorted(known)) or "none"
            raise UnknownKeyError(
                f"the table holds no {dataset!r} values at {epochs} epochs, so no stand-ins "
                f"of them; it holds {have}"
            )
        # read as to_tidy and the importers read them: two sources of a cell in one run (a
        # hand-written meta) were joined as one measurement
        pairs = [
            pair
            for (ds, ep, _seed), copied in runs.items()
            if (ds, ep) == (dataset, epochs)
            for pair in copied.items()
        ]
        return cls._build(table.space.size, pairs, constant, one_source=False)

    def check_covers(self, size: int) -> None:
        """Refuse stand-ins built for another space than one of ``size`` cells: the one check
        (and wording) every reader runs where the stand-ins meet a space.

        >>> StandIns.build(8).check_covers(27)
        Traceback (most recent call last):
        ...
        nb201_flat.errors.ArgumentError: stand_ins cover 8 cells, the space has 27; build them with StandIns.of(table, dataset, epochs) from the table the values come from
        """
        if whole_number(size) != len(self.group):  # an array's != is elementwise
            raise LandscapeArgumentError(
                f"stand_ins cover {len(self.group)} cells, the space has {shown(size)}; build them "
                "with StandIns.of(table, dataset, epochs) from the table the values come from"
            )

    def own(self, members: npt.ArrayLike, centres: npt.ArrayLike) -> BoolArray:
        """Which of ``members`` hold their centre's own measurement: a copy of the centre, or
        the cell it copies (the same :attr:`group`). ``centres`` broadcasts against
        ``members``, e.g. a column of row cells against their padded neighbour rows; a
        member -1 is padding, never one. The one rule of the members a neighbourhood
        leaves out as no neighbour measurement (flatness's ``omit_stand_ins="self"``, the NA
        search objective).

        >>> s = StandIns.build(6, copies=[(4, 3), (5, 3)])
        >>> s.own([[4, 5, 1], [3, 0, -1]], [[3], [4]]).tolist()
        [[True, True, False], [True, False, False]]

        Members are cells of the space or -1 (padding), centres cells (a centre -1 was read
        as the last cell, 9 or 4.0 met numpy's IndexError); the library's own calls, on rows
        it built, skip the check (:meth:`_own`).
        """
        size = len(self.group)
        return self._own(
            check_arch_indices(members, size, name="members", no_arch_ok=True),
            check_arch_indices(centres, size, name="centres"),
        )

    def _own(self, members: npt.ArrayLike, centres: npt.ArrayLike) -> BoolArray:
        """:meth:`own` of rows the library built (neighbour rows padded with -1)."""
        m = np.asarray(members)
        real = m >= 0
        same: BoolArray = self.group[np.where(real, m, 0)] == self.group[np.asarray(centres)]
        return real & same

    @property
    def any(self) -> bool:
        """Whether a member could be left out or counted."""
        return bool(self.stand_in.any())

    # equal by what they describe, not by identity: a search's objective holding them is
    # compared and hashed (as a result key, or after a trip to a worker process)
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StandIns):
            return NotImplemented
        return (
            (self.n_copies, self.n_constant) == (other.n_copies, other.n_constant)
            and np.array_equal(self.group, other.group)
            and np.array_equal(self.stand_in, other.stand_in)
        )

    def __hash__(self) -> int:
        return hash((self.n_copies, self.n_constant, self.group.tobytes()))

    @property
    def n(self) -> int:
        """How many cells are stand-ins (a cell both copied and constant-output counts once)."""
        return int(self.stand_in.sum())

    def note(self, what: str) -> str | None:
        """One line for a measure that reads the stand-ins as measurements (``what``: its name
        after "by", e.g. ``"the barrier tree"``); None where there are none. The one wording of it.

        A copy next to its own cell is an equal-valued plateau, which changes local-optima
        counts, barriers and correlations: the reader must know how many values are not
        measurements.

        >>> StandIns.build(6, copies=[(4, 3), (5, 3)], constant=[0]).note("FDC")
        "3 of the 6 values are stand-ins, not trained (2 copies of an isomorphic cell's values, \
1 constant-output cell's chance value); counted as measurements by FDC (a copy beside its own \
cell is an equal-valued plateau)"
        >>> StandIns.build(6).note("FDC") is None
        True
        """
        if not self.any:
            return None
        parts = []
        if self.n_copies:
            s = "y" if self.n_copies == 1 else "ies"
            parts.append(f"{self.n_copies} cop{s} of an isomorphic cell's values")
        if self.n_constant:
            one = self.n_constant == 1
            parts.append(
                f"{self.n_constant} constant-output "
                + ("cell's chance value" if one else "cells' chance values")
            )
        plateau = (
            " (a copy beside its own cell is an equal-valued plateau)" if self.n_copies else ""
        )
        return (
            f"{self.n} of the {len(self.group)} values are stand-ins, not trained "
            f"({', '.join(parts)}); counted as measurements by {what}{plateau}"
        )

    def as_dict(self, what: str) -> dict[str, Any]:
        """The JSON form of :meth:`note`: the counts and the line (``--json`` output, notes)."""
        return {
            "isomorphic_copies": self.n_copies,
            "constant_output": self.n_constant,
            "note": self.note(what),
        }

    @classmethod
    def report(cls, table: Table, dataset: str, epochs: int, what: str) -> dict[str, Any] | None:
        """:meth:`as_dict` of ``table``'s stand-ins of ``dataset`` at ``epochs`` (:meth:`of`),
        for a measure named ``what``; None where that vector has none (nothing to say)."""
        found = cls.of(table, dataset, epochs)
        return None if found is None or not found.any else found.as_dict(what)

    def __repr__(self) -> str:  # the arrays' thousands of entries say nothing at a glance
        return (
            f"StandIns({len(self.group)} cells: {self.n_copies} copies, "
            f"{self.n_constant} constant-output)"
        )
