"""nb201_flat: flat minima in NAS-Bench-201 architecture space.

The layers, top to bottom of the data flow:

- :mod:`nb201_flat.space` — cells as immutable values (:class:`Arch`), the space
  (:data:`NB201` by default) with official indices, connectivity, isomorphism keys and
  vectorised Hamming neighbourhoods (:mod:`nb201_flat.neighbours`); :mod:`nb201_flat.graphs`
  gives networkx views. :class:`Neighbourhood` (in :mod:`nb201_flat.neighbourhood`) says which
  cells surround an architecture and how their values are aggregated, for every layer above.
- :mod:`nb201_flat.table` — :class:`Table`: dense metric vectors keyed by
  (dataset, split, epochs, metric) and an explicit seed policy; :mod:`nb201_flat.importers`
  reads the official files, NATS-Bench, the tidy format, AnalogNAS-Bench and retraining results;
  :mod:`nb201_flat.storage` stores the native form and resolves :func:`load_table`.
- :mod:`nb201_flat.landscape` — flatness, landscape statistics, barriers, projections.
- :mod:`nb201_flat.search` — a budgeted oracle, RS, NA-RS and relatives, experiment runners.
- :mod:`nb201_flat.train` — the retraining backend (needs the ``train`` extra).

Quick start::

    >>> from nb201_flat import load_table, NB201
    >>> table = load_table()                       # doctest: +SKIP
    >>> acc = table.vector("cifar10", "ori-test", 200, seed_policy="mean")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# first: it limits OpenBLAS threads under a memory cap before anything loads numpy
from nb201_flat import budget as _budget  # noqa: F401
from nb201_flat.errors import (
    ArgumentError,
    FormatError,
    InvalidArchError,
    MissingDependencyError,
    Nb201FlatError,
    TableFileError,
    UnknownKeyError,
)
from nb201_flat.space import NB201, Arch, Space

if TYPE_CHECKING:
    from nb201_flat.neighbourhood import NA_PAPER, Neighbourhood
    from nb201_flat.neighbours import NeighbourArrays
    from nb201_flat.storage import load_table, save_table
    from nb201_flat.table import MetricKey, Table

# Imported on first use, so that a small command such as `nb201-flat query` loads only the
# modules it runs (tests/test_startup.py lists what it must not load).
_LAZY = {
    "load_table": "storage",
    "save_table": "storage",
    "MetricKey": "table",
    "Table": "table",
    "Neighbourhood": "neighbourhood",
    "NA_PAPER": "neighbourhood",
    "NeighbourArrays": "neighbours",
}


#: subpackages reached as attributes without their own import: a damaged table's rebuild names
#: ``nb201_flat.importers.import_table(...)``, which must run as written after ``import
#: nb201_flat`` (storage._rebuild_call)
_LAZY_MODULES = ("importers",)


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"nb201_flat.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nb201_flat' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nb201_flat.{module}"), name)


__version__ = "0.2.0"

# Grouped by layer, in the order of the data flow, so that help(nb201_flat) reads as a manual.
__all__ = [  # noqa: RUF022
    # space: cells and their neighbourhoods
    "NB201",
    "Arch",
    "Space",
    "Neighbourhood",
    "NA_PAPER",
    "NeighbourArrays",
    # table: metric vectors, stored and loaded
    "MetricKey",
    "Table",
    "load_table",
    "save_table",
    # errors
    "Nb201FlatError",
    "ArgumentError",
    "InvalidArchError",
    "UnknownKeyError",
    "TableFileError",
    "FormatError",
    "MissingDependencyError",
    "__version__",
]
