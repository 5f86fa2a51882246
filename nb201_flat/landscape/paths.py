"""Paths between architectures and their barriers: the shared vocabulary.

The barrier of a path from a to b (A²M) is the mean of the endpoints' values minus the lowest
value along the path; with ``higher_is_better=False`` (a loss) it is the mirror image, the
highest value along the path minus the endpoints' mean. Paths move one edge op at a time
(Hamming distance 1 per step). :mod:`~nb201_flat.landscape.a2m` builds A²M's shortest-path
constructions on it, :mod:`~nb201_flat.landscape.maximin` the exact lowest barrier over the
whole space, :mod:`~nb201_flat.landscape.disconnectivity` the barrier tree of the optima.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import Param, Part, shown
from nb201_flat.landscape._common import (
    ArchLike,
    FloatArray,
    IntArray,
    LandscapeArgumentError,
    MissingValueError,
    check_summable,
    oriented,
    resolve_index,
    shown_value,
)
from nb201_flat.space import Space, masked_as_nan

if TYPE_CHECKING:
    from nb201_flat.landscape.maximin import BarrierTree


def path_barrier(path_values: npt.ArrayLike, *, higher_is_better: bool = True) -> float:
    """Barrier of one path given its values: endpoints' mean minus the path minimum.

    >>> path_barrier([90.0, 80.0, 85.0, 92.0])
    11.0
    >>> path_barrier([0.5, 0.9, 0.7], higher_is_better=False)   # a loss: max minus mean
    0.30000000000000004
    """
    fix = "pass the values along the path, e.g. BarrierPath.values"
    try:
        raw = np.asarray(masked_as_nan(path_values))  # a masked value is not measured
    except ValueError:  # ragged nesting
        raise LandscapeArgumentError(
            f"path values must be numbers, got {shown(path_values)}"
        ) from None
    if raw.dtype.kind not in "biuf":  # float64 parsed '3' and dropped an imaginary part
        from nb201_flat.neighbours import check_real

        check_real(raw, "path values", fix)
    try:
        p = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # 10**400 in an object array
        raise LandscapeArgumentError(
            f"path values must be numbers, got {shown(path_values)}"
        ) from None
    if p.ndim != 1:  # 2-D values were "a path needs at least one value"
        raise LandscapeArgumentError(
            f"path values must be one sequence, got shape {p.shape}; {fix}"
        )
    if len(p) == 0:
        raise LandscapeArgumentError("a path needs at least one value")
    if not np.isfinite(p).all():  # NaN would come back as the barrier, inf as +-inf
        raise MissingValueError(
            "the path values hold NaN or infinite entries: the barrier is undefined; measure "
            "every architecture on the path (lowest_barrier_path finds a detour)"
        )
    check_summable(p, along_a_path=True)  # 1.7e308 twice: an inf barrier with a warning
    w = oriented(p, higher_is_better)
    return float(0.5 * (w[0] + w[-1]) - w.min())


def beyond_worse(w_a: Any, w_b: Any, w_min: Any) -> Any:
    """The barrier beyond the worse endpoint, on oriented values (larger is better): the worse
    endpoint minus the path minimum, for floats or arrays alike.

    Every path passes both endpoints, so this is the barrier minus half the endpoint gap --
    computed as that difference it could come out a rounding error below 0; as this one it is
    >= 0 and exactly 0 where the worse endpoint is the path minimum.

    >>> float(beyond_worse(91.6067, 84.3773, 84.3773)), float(beyond_worse(9.0, 8.0, 6.0))
    (0.0, 2.0)
    """
    return np.minimum(w_a, w_b) - w_min


@dataclass(frozen=True, slots=True, eq=False)
class BarrierPath:
    """One path between two architectures and its barrier.

    Attributes
    ----------
    path
        Architecture indices from the start to the end.
    values
        The metric along the path.
    bottleneck
        The worst value on the path (lowest accuracy / highest loss).
    barrier
        Endpoints' mean minus the bottleneck (mirror image for a loss); >= 0 for maximin paths.
    """

    space: Space = field(repr=False)
    path: tuple[int, ...]
    values: FloatArray
    bottleneck: float
    barrier: float
    higher_is_better: bool = True

    @property
    def length(self) -> int:
        """Number of steps (one op change each)."""
        return len(self.path) - 1

    @property
    def above_worse(self) -> float:
        """The barrier beyond the worse endpoint (:func:`beyond_worse`): >= 0."""
        w = oriented(self.values, self.higher_is_better)
        return float(beyond_worse(w[0], w[-1], w.min()))

    def strings(self) -> list[str]:
        """Official strings of the architectures on the path."""
        return [self.space.arch(i).to_str() for i in self.path]

    def __repr__(self) -> str:  # rounded for display; the path and values by their length
        return (
            f"BarrierPath({self.path[0]} -> {self.path[-1]}, {self.length} steps, "
            f"bottleneck={shown_value(self.bottleneck)}, barrier={shown_value(self.barrier)}, "
            f"higher_is_better={self.higher_is_better})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.strings(),
            "indices": list(self.path),
            "values": self.values.tolist(),
            "bottleneck": self.bottleneck,
            "barrier": self.barrier,
            "length": self.length,
        }


# -- the A²M construction ------------------------------------------------------------------------
# the most differing edges whose d! shortest paths are enumerated: 8! = 40,320 paths; more is a
# mistake, not an analysis (spaces of more than 8 edges: the lowest barrier still serves)
MAX_SHORTEST_D = 8


def shortest_paths(space: Space, a: ArchLike, b: ArchLike) -> IntArray:
    """All d! shortest Hamming paths from ``a`` to ``b``, shape ``(d!, d + 1)`` of indices.

    Row p changes the differing edges in the p-th permutation order (``itertools``
    order), each straight to its op in ``b``.

    >>> from nb201_flat.space import Space
    >>> shortest_paths(Space(("a", "b"), 3), 0, 3).tolist()   # 000 -> 011
    [[0, 2, 3], [0, 1, 3]]
    """
    ia, ib = resolve_index(space, a), resolve_index(space, b)
    ca, cb = space.codes[ia].astype(np.int64), space.codes[ib].astype(np.int64)
    diff = np.nonzero(ca != cb)[0]
    d = len(diff)
    if d > MAX_SHORTEST_D:
        raise LandscapeArgumentError(
            f"architectures {ia} and {ib} differ on {d} edges: their {d}! = "
            f"{math.factorial(d):,} shortest paths are too many to enumerate (at most "
            f"{MAX_SHORTEST_D} differing edges); ",
            *ANY_PATH_PARTS,
        )
    if d == 0:
        return np.array([[ia]], dtype=np.int64)
    orders = np.array(list(itertools.permutations(diff.tolist())), dtype=np.int64)
    codes = np.repeat(ca[None, None, :], len(orders), axis=0).repeat(d + 1, axis=1)
    for step in range(d):
        edge = orders[:, step]
        rows = np.arange(len(orders))
        # from level step+1 on, this edge carries b's op
        codes[rows, step + 1 :, edge] = cb[edge][:, None]
    flat = space.indices_of_codes(codes.reshape(-1, space.n_edges))
    return flat.reshape(len(orders), d + 1)


# where the lowest barrier of a pair without shortest-path barriers is found: the function,
# named as a Param so that a command names its own way to it (``barrier``: --method lowest;
# cli.common.flag_of reads it from the command's param_elsewhere); str(): the Python name
LOWEST_BARRIER = Param("lowest_barrier_path")
# conditional: callers without a barrier tree do not know whether a detour exists
DETOUR_PARTS: tuple[Part, ...] = (
    LOWEST_BARRIER,
    " finds the lowest barrier over any path, through a detour of measured architectures if "
    "one exists",
)
# the close of a refusal of a pair too far apart for its shortest paths to be enumerated
ANY_PATH_PARTS: tuple[Part, ...] = (LOWEST_BARRIER, " gives the lowest barrier over any path")


def without_lowest_hint(parts: Sequence[Part]) -> tuple[Part, ...]:
    """A refusal's message ``parts`` without their closing hint at the lowest barrier
    (:data:`DETOUR_PARTS` or :data:`ANY_PATH_PARTS`, after "; "), where they end with one: for
    a caller that serves that barrier itself, or serves no detour."""
    for hint in (DETOUR_PARTS, ANY_PATH_PARTS):
        n = len(hint)
        if len(parts) > n and tuple(parts[-n:]) == hint and isinstance(parts[-n - 1], str):
            return (*parts[: -n - 1], str(parts[-n - 1]).removesuffix("; "))
    return tuple(parts)


def check_shortest_paths_measured(w: FloatArray, paths: IntArray) -> None:
    """:class:`MissingValueError` when a cell on the shortest ``paths`` has no value.

    Every shortest-path barrier (best, worst, mean path, A²M's code) is then undefined: the
    path through the unmeasured cell could be the best or the worst of them.
    """
    missing = np.isnan(w[np.unique(paths)])
    if missing.any():
        a, b = int(paths[0, 0]), int(paths[0, -1])
        raise MissingValueError(
            f"{int(missing.sum())} architecture(s) on the shortest paths from {a} to {b} have "
            "no value, so the shortest-path barriers are undefined; ",
            *DETOUR_PARTS,
        )


def check_endpoints(space: Space, w: FloatArray, a: int, b: int, tree: BarrierTree | None) -> None:
    for x in (int(a), int(b)):
        if np.isnan(w[x]):
            if tree is not None and tree.connected_only and not space.connected[x]:
                raise MissingValueError(
                    f"architecture {x} is disconnected, and ",
                    Param("connected_only", True),
                    " leaves disconnected architectures out; choose a connected one or drop it",
                )
            raise MissingValueError(
                f"architecture {x} has no value (NaN) for this metric; choose a measured one"
            )


def make_path(
    space: Space, v: FloatArray, w: FloatArray, route: IntArray, higher_is_better: bool
) -> BarrierPath:
    wp = w[route]
    worst = float(wp.min())
    return BarrierPath(
        space=space,
        path=tuple(int(i) for i in route),
        values=v[route].copy(),
        bottleneck=worst if higher_is_better else -worst,
        barrier=float(0.5 * (wp[0] + wp[-1]) - worst),
        higher_is_better=higher_is_better,
    )
