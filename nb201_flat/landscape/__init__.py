"""The landscape layer: pure functions on (space, one metric vector).

Everything is vectorised over all architectures and returns numpy arrays or tidy DataFrames.

- :mod:`~nb201_flat.landscape.neighbourhood` -- flatness and the NA paper's aggregated
  objective g(f(N(α))) for every architecture at once.
- :mod:`~nb201_flat.landscape.statistics` -- distance to the optimum, fitness-distance
  correlation, random-walk autocorrelation, local optima and basins, A²M's neighbour
  distributions per accuracy band.
- :mod:`~nb201_flat.landscape.paths` -- a path between two architectures and its barrier.
- :mod:`~nb201_flat.landscape.a2m` -- A²M's construction over all shortest Hamming paths.
- :mod:`~nb201_flat.landscape.maximin` -- the exact lowest barrier over the whole space
  (maximum spanning forest) and barrier matrices.
- :mod:`~nb201_flat.landscape.disconnectivity` -- barrier trees of the best local optima.
- :mod:`~nb201_flat.landscape.projection` -- 2-D grids through the relaxed architecture.

Examples
--------
>>> from nb201_flat.space import Space
>>> from nb201_flat import landscape
>>> space = Space(("none", "skip", "conv"), 3)
>>> f = (space.codes == 2).sum(axis=1).astype(float)
>>> landscape.neighbourhood_score(space, f, 1, agg="mean")[space.from_ops(["conv"] * 3).index]
np.float64(2.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nb201_flat.landscape._common import (
        LandscapeArgumentError,
        MissingValueError,
        NoPathError,
    )
    from nb201_flat.landscape.a2m import A2MBarrier, a2m_barrier, a2m_barriers, best_shortest_path
    from nb201_flat.landscape.disconnectivity import disconnectivity_graph
    from nb201_flat.landscape.maximin import (
        BarrierTree,
        barrier_matrix,
        barrier_tree,
        bottleneck_matrix,
        lowest_barrier_path,
    )
    from nb201_flat.landscape.neighbourhood import (
        flatness,
        flatness_columns,
        neighbourhood_score,
    )
    from nb201_flat.landscape.paths import BarrierPath, path_barrier, shortest_paths
    from nb201_flat.landscape.projection import projection_grid, random_directions, relaxed
    from nb201_flat.landscape.stand_ins import StandIns
    from nb201_flat.landscape.statistics import (
        A2M_BAND_KEYS,
        A2M_BANDS,
        a2m_bands,
        autocorrelation,
        basins,
        correlation_length,
        distance_profile,
        fitness_distance_correlation,
        global_optima,
        hill_climb,
        local_optima,
        neighbour_distributions,
        random_walk,
    )

# Each name is imported from its module on first use: `nb201-flat barrier` reads paths and the
# spanning forest without paying for the modules that load pandas.
_LAZY = {
    "LandscapeArgumentError": "_common",
    "MissingValueError": "_common",
    "NoPathError": "_common",
    "A2MBarrier": "a2m",
    "a2m_barrier": "a2m",
    "a2m_barriers": "a2m",
    "best_shortest_path": "a2m",
    "disconnectivity_graph": "disconnectivity",
    "BarrierTree": "maximin",
    "barrier_matrix": "maximin",
    "barrier_tree": "maximin",
    "bottleneck_matrix": "maximin",
    "lowest_barrier_path": "maximin",
    "StandIns": "stand_ins",
    "flatness": "neighbourhood",
    "flatness_columns": "neighbourhood",
    "neighbourhood_score": "neighbourhood",
    "BarrierPath": "paths",
    "path_barrier": "paths",
    "shortest_paths": "paths",
    "projection_grid": "projection",
    "random_directions": "projection",
    "relaxed": "projection",
    "A2M_BAND_KEYS": "statistics",
    "A2M_BANDS": "statistics",
    "a2m_bands": "statistics",
    "autocorrelation": "statistics",
    "basins": "statistics",
    "correlation_length": "statistics",
    "distance_profile": "statistics",
    "fitness_distance_correlation": "statistics",
    "global_optima": "statistics",
    "hill_climb": "statistics",
    "local_optima": "statistics",
    "neighbour_distributions": "statistics",
    "random_walk": "statistics",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "A2M_BANDS",
    "A2M_BAND_KEYS",
    "A2MBarrier",
    "BarrierPath",
    "BarrierTree",
    "LandscapeArgumentError",
    "MissingValueError",
    "NoPathError",
    "StandIns",
    "a2m_bands",
    "a2m_barrier",
    "a2m_barriers",
    "autocorrelation",
    "barrier_matrix",
    "barrier_tree",
    "basins",
    "best_shortest_path",
    "bottleneck_matrix",
    "correlation_length",
    "disconnectivity_graph",
    "distance_profile",
    "fitness_distance_correlation",
    "flatness",
    "flatness_columns",
    "global_optima",
    "hill_climb",
    "local_optima",
    "lowest_barrier_path",
    "neighbour_distributions",
    "neighbourhood_score",
    "path_barrier",
    "projection_grid",
    "random_directions",
    "random_walk",
    "relaxed",
    "shortest_paths",
]
