"""Fixtures for the search tests: the NB201-shaped synthetic table of :mod:`nb201_flat.testing`
(validation at 12 and 200 epochs with seeds, training time, test splits)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from nb201_flat.search.oracle import OracleData
from nb201_flat.space import Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="session")
def nb201_like() -> Table:
    return synthetic_table()


@pytest.fixture(scope="session")
def nb201_like_path(nb201_like: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("search") / "like.nb201"
    save_table(nb201_like, out)
    return out


_Data = TypeVar("_Data")


def with_infinities(build: type[_Data], values: np.ndarray, *args: object, **kw: object) -> _Data:
    """``build(values, ...)`` (:class:`~nb201_flat.search.oracle.OracleData` or
    :class:`~nb201_flat.search.fidelity.FidelityData`, ``values`` its third argument) answering
    ``values`` with their infinities, which both refuse as a table does: the searches' ranking
    of +-inf against NaN (``oracle.ranks_before``) stays tested, in the loop and the kernels."""
    space, key, *rest = args
    data = build(space, key, np.where(np.isinf(values), 0.0, values), *rest, **kw)  # type: ignore[call-arg]
    values = values.copy()
    values.setflags(write=False)
    object.__setattr__(data, "values", values)  # past the check: the data a search never gets
    return data


def stalled_toy() -> OracleData:
    """Three candidates of a 27-cell toy space and a budget of ten new cells: the cells a
    search may query run out before its budget, so a search that only revisits them stalls."""
    return OracleData(
        Space(("none", "skip_connect", "conv"), 3),
        MetricKey("toy", "x-valid", 12),
        np.arange(27.0)[None, :],
        None,
        None,
        None,
        None,
        10,
        candidates=np.array([0, 5, 9]),
    )
