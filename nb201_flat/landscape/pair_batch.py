"""The census's barriers for many pairs at once, the same floats as one pair at a time.

:func:`~nb201_flat.landscape.census.barrier_census` needs, for thousands of pairs, what
:meth:`BarrierTree.pair_barriers <nb201_flat.landscape.maximin.BarrierTree.pair_barriers>`
gives for one: the best and worst shortest path, the mean path and the lowest barrier with its
fewest steps. Here they come as whole columns:

- the d! shortest paths of every pair at distance d visit the 2^d cells that switch a subset
  of the differing edges; one template of subsets per d (``itertools.permutations`` order, as
  :func:`~nb201_flat.landscape.paths.shortest_paths`) indexes them for all pairs of that d;
  each level's mean is over its cells (the subsets of its size), summed by
  :func:`~nb201_flat.landscape.a2m.level_sum` as one pair's are, so every float is the one the
  single pair gives;
- the lowest barrier is the lowest value on the spanning forest's path, read by binary
  lifting for all pairs at once (minima: exact, in any order);
- its fewest steps are d when one of the shortest paths stays at or above that level (no path
  is shorter); only the other pairs need a breadth-first search.

Pairs this does not cover (an endpoint or a cell on the shortest paths without a value, ends
in two trees, d = 0 or d > 8) go one at a time through the single-pair code, which raises
what it raises there.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> from nb201_flat.landscape.maximin import barrier_tree
>>> tree = barrier_tree(Space(("a", "b"), 3), np.array([9.0, 5, 6, 7, 4, 7, 7, 8]))
>>> cols = pair_columns(tree, np.array([0, 1]), np.array([7, 6]))
>>> cols["lowest"].tolist(), cols["best_shortest"].tolist(), cols["mean_path"].tolist()
([2.5, 1.0], [2.5, 1.0], [3.5, 1.0])
"""

from __future__ import annotations

import itertools
import math
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nb201_flat.landscape._common import BoolArray, FloatArray, IntArray, oriented
from nb201_flat.landscape.a2m import level_sum
from nb201_flat.landscape.maximin import _fewest_steps
from nb201_flat.landscape.paths import MAX_SHORTEST_D, beyond_worse

if TYPE_CHECKING:
    from nb201_flat.landscape.maximin import BarrierTree
    from nb201_flat.space import Space

# cells gathered at once (2^d a pair; the paths are walked one at a time, never stored):
# pairs of one distance in pieces of a few MB
_CELLS = 1 << 19

COLUMNS = (
    "distance",
    "best_shortest",
    "worst_shortest",
    "mean_path",
    "lowest",
    "lowest_length",
    "best_shortest_above_worse",
    "worst_shortest_above_worse",
    "mean_path_above_worse",
    "lowest_above_worse",
)
"""The columns :func:`pair_columns` returns, beside ``ok`` (the pair was computed here)."""


def pair_columns(tree: BarrierTree, a: IntArray, b: IntArray) -> dict[str, npt.NDArray[Any]]:
    """The barriers of :data:`COLUMNS` for the pairs ``(a[i], b[i])`` (valid indices), and
    ``ok``: False where the pair is left to the single-pair code (its row here is junk)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    space, v, w_tree, hib = tree.space, tree.values, tree.w, tree.higher_is_better
    differs, d, lex_a, delta = _pair_steps(space, a, b)
    # what the single-pair code raises for (or, d = 0, computes otherwise)
    ok = (d >= 1) & (d <= MAX_SHORTEST_D)  # beyond, the single-pair code raises
    ok &= ~np.isnan(w_tree[a]) & ~np.isnan(w_tree[b])
    ok &= tree.component[a] == tree.component[b]
    # the lowest barrier, as BarrierTree.lowest: the ends' mean minus the forest path's minimum
    worst = _forest_minimum(tree, np.where(ok, a, 0), np.where(ok, b, 0))
    out: dict[str, npt.NDArray[Any]] = {name: np.zeros(len(a)) for name in COLUMNS}
    out["distance"] = d
    out["lowest"] = 0.5 * (w_tree[a] + w_tree[b]) - worst
    out["lowest_above_worse"] = beyond_worse(w_tree[a], w_tree[b], worst)
    # the fewest steps are d where a shortest path stays at or above the bottleneck
    # (excluded cells never do: -inf); the forest's own path is that short only then
    w_open = np.where(np.isnan(w_tree), -np.inf, w_tree)
    above = np.zeros(len(a), dtype=bool)
    for dist in np.unique(d[ok]).tolist():
        rows = np.flatnonzero(ok & (d == dist))
        template = _template(dist)
        for part in np.array_split(rows, max(1, (len(rows) << dist) // _CELLS)):
            cells = _subset_cells(space, lex_a, delta, differs, part, dist)
            vals = v[cells]
            ok[part[~_all_measured(vals)]] = False  # undefined shortest-path barriers
            for name, col in _shortest_path_barriers(vals, template, hib).items():
                out[name][part] = col
            above[part] = _best_path_minimum(w_open[cells], template) >= worst[part]
    steps = d.copy()
    search = np.flatnonzero(ok & ~above)
    if search.size:
        nbrs = space.neighbours(1).indices
        for i in search.tolist():
            steps[i] = _fewest_steps(nbrs, w_tree, float(worst[i]), int(a[i]), int(b[i]))
    out["lowest_length"] = steps
    out["ok"] = ok
    return out


def shortest_paths_measured(
    space: Space, values: FloatArray, a: IntArray, b: IntArray
) -> BoolArray:
    """Per pair ``(a[i], b[i])``, whether every cell on its shortest paths has a value: the
    2^d cells that switch a subset of the d differing edges, the endpoints included (where
    the shortest-path barriers are defined).

    >>> import numpy as np
    >>> from nb201_flat.space import Space
    >>> f = np.array([9.0, 5, 6, 7, np.nan, 7, 7, 8])   # 100 unmeasured
    >>> shortest_paths_measured(Space(("a", "b"), 3), f, np.array([0, 1]), np.array([7, 3]))
    array([False,  True])
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    out = np.ones(len(a), dtype=bool)
    if not np.isnan(values).any():  # a full table: nothing to look up
        return out
    # pairs a piece at a time: the codes and offsets take ~150 B a pair (the census checks
    # a band's candidates, up to millions, within its estimate of the draw)
    for s in range(0, len(a), _PAIRS_CHECKED):
        pa, pb = a[s : s + _PAIRS_CHECKED], b[s : s + _PAIRS_CHECKED]
        differs, d, lex_a, delta = _pair_steps(space, pa, pb)
        for dist in np.unique(d).tolist():
            rows = np.flatnonzero(d == dist)
            cells = _subset_cells(space, lex_a, delta, differs, rows, dist)
            out[s + rows] = _all_measured(values[cells])
    return out


def _pair_steps(
    space: Space, a: IntArray, b: IntArray
) -> tuple[BoolArray, IntArray, IntArray, IntArray]:
    """What :func:`_subset_cells` reads of the pairs ``(a[i], b[i])`` (int64 indices):
    ``(differs, d, lex_a, delta)``, the differing edges, their number (the distance), a's
    lexicographic index and the per-edge step from a's op to b's on that index."""
    weights = space._weights.astype(np.int64)
    code_a = space.codes[a].astype(np.int64)
    code_b = space.codes[b].astype(np.int64)
    differs = code_a != code_b
    d = differs.sum(axis=1, dtype=np.int64)
    return differs, d, code_a @ weights, (code_b - code_a) * weights


def _subset_cells(
    space: Space, lex_a: IntArray, delta: IntArray, differs: BoolArray, rows: IntArray, dist: int
) -> IntArray:
    """The cells on the shortest paths of the pairs ``rows`` (each at distance ``dist``):
    ``(len(rows), 2^d)`` indices, one per subset of the differing edges (ascending positions)
    switched from ``a`` towards ``b`` (``lex_a``: a's lexicographic index; ``delta``: the
    per-edge step to b's; ``differs``: the differing edges)."""
    # len(rows), not -1: at d = 0 (a pair of one cell) there is nothing to infer it from
    lex = lex_a[rows, None] + delta[rows][differs[rows]].reshape(len(rows), dist) @ _masks(dist)
    return space._index_of_lex[lex]


def _all_measured(vals: FloatArray) -> BoolArray:
    """Per row of a pair's shortest-path cell values, whether every cell has one: where the
    shortest-path barriers are defined. (One pair with its paths built:
    :func:`~nb201_flat.landscape.paths.check_shortest_paths_measured`, which raises.)"""
    return np.logical_not(np.isnan(vals).any(axis=1))


# pairs checked at once by shortest_paths_measured: 2^d cells each, at most 64 on NB201 (4 MB)
_PAIRS_CHECKED = 1 << 13


@cache
def _masks(d: int) -> IntArray:
    """The ``(d, 2^d)`` 0/1 matrix of every subset's bits, read-only (shared by every call)."""
    masks = ((np.arange(1 << d)[None, :] >> np.arange(d)[:, None]) & 1).astype(np.int64)
    masks.setflags(write=False)
    return masks


def _shortest_path_barriers(
    vals: FloatArray, template: IntArray, higher_is_better: bool
) -> dict[str, FloatArray]:
    """Best and worst shortest path and the mean path, one per row of ``vals`` (the values
    of a pair's cells by subset), and each beyond the worse endpoint, as
    :func:`~nb201_flat.landscape.census.pair_barriers` computes them for one pair."""
    w = oriented(vals, higher_is_better)
    ends = 0.5 * (w[:, 0] + w[:, -1])
    # each level over its cells, as a2m_barrier takes one pair's (the subsets switching k edges)
    d = template.shape[1] - 1
    switched = _masks(d).sum(axis=0)
    levels = [level_sum(vals[:, switched == k]) / math.comb(d, k) for k in range(d + 1)]
    mean = oriented(np.stack(levels, axis=1), higher_is_better)
    best = _best_path_minimum(w, template)
    lowest = w.min(axis=1)  # every cell lies on some shortest path
    lowest_mean = mean.min(axis=1)
    return {
        "best_shortest": ends - best,
        "worst_shortest": ends - lowest,
        "mean_path": 0.5 * (mean[:, 0] + mean[:, -1]) - lowest_mean,
        "best_shortest_above_worse": beyond_worse(w[:, 0], w[:, -1], best),
        "worst_shortest_above_worse": beyond_worse(w[:, 0], w[:, -1], lowest),
        "mean_path_above_worse": beyond_worse(mean[:, 0], mean[:, -1], lowest_mean),
    }


def _best_path_minimum(w: FloatArray, template: IntArray) -> FloatArray:
    """Per row, the highest minimum of ``w`` along a shortest path (exact: minima, maxima)."""
    best = np.full(len(w), -np.inf)
    for path in template:
        np.maximum(best, w[:, path].min(axis=1), out=best)
    return best


@cache
def _template(d: int) -> IntArray:
    """The d! paths for distance ``d``, read-only: ``paths[p, k]`` is the subset (a bitmask of
    the differing edges, in ascending position, as :func:`_masks` orders the subsets) switched
    after ``k`` steps of the ``p``-th permutation, in
    :func:`~nb201_flat.landscape.paths.shortest_paths`' order."""
    orders = list(itertools.permutations(range(d)))
    paths = np.zeros((len(orders), d + 1), dtype=np.int64)
    for p, order in enumerate(orders):
        for k, edge in enumerate(order):
            paths[p, k + 1] = paths[p, k] | (1 << edge)
    paths.setflags(write=False)
    return paths


def _forest_minimum(tree: BarrierTree, a: IntArray, b: IntArray) -> FloatArray:
    """The lowest ``tree.w`` on the forest's path between each ``a[i]`` and ``b[i]`` (ends
    included; same tree): what ``w[route].min()`` of one pair gives, exactly (a minimum).

    Binary lifting: ``low[k][x]`` is the lowest value on the ``2^k`` nodes from ``x`` upwards,
    ``up[k][x]`` the node above them (a root points at itself; no jump used here passes one).
    """
    parent, depth, w = tree.parent, tree.depth, tree.w
    n = len(parent)
    up = [np.where(parent < 0, np.arange(n), parent)]
    low = [w]
    while (1 << len(up)) <= int(depth.max(initial=0)):
        up.append(up[-1][up[-1]])
        low.append(np.minimum(low[-1], low[-1][up[-2]]))
    # x the deeper end; lift it to y's depth, then both to just below their common ancestor
    swap = depth[a] < depth[b]
    x, y = np.where(swap, b, a), np.where(swap, a, b)
    m = np.minimum(w[a], w[b])
    rise = depth[x] - depth[y]
    for k in range(len(up)):
        jump = ((rise >> k) & 1).astype(bool)
        m[jump] = np.minimum(m[jump], low[k][x[jump]])
        x[jump] = up[k][x[jump]]
    for k in range(len(up) - 1, -1, -1):
        jump = up[k][x] != up[k][y]
        m[jump] = np.minimum(m[jump], np.minimum(low[k][x[jump]], low[k][y[jump]]))
        x[jump], y[jump] = up[k][x[jump]], up[k][y[jump]]
    # x, y are now the common ancestor itself, or its two children
    split = x != y
    m = np.minimum(m, np.minimum(w[x], w[y]))
    return np.minimum(m, w[np.where(split, up[0][x], x)])
