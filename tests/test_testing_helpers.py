"""The synthetic-table helpers of :mod:`nb201_flat.testing` refuse wrong arguments by name, as
the rest of the library does (they are public: examples and notebooks build tables with them)."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.space import Space
from nb201_flat.table import MetricKey
from nb201_flat.testing import SYNTHETIC_KEY, figure_table, synthetic_table, table_from

TINY = Space(("none", "skip", "conv"), 3)


@pytest.mark.parametrize("make", [synthetic_table, figure_table])
@pytest.mark.parametrize("seed", [-1, 2.5, "7", None])
def test_seeded_tables_refuse_what_is_not_a_seed(make: object, seed: object) -> None:
    # numpy's bare ValueError or TypeError from default_rng; None drew a fresh table each time
    with pytest.raises(ArgumentError, match=r"^seed must be a non-negative int, got "):
        make(seed)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"values": "abc"}, "^values must be numbers"),  # numpy's bare ValueError
        ({"values": np.ones(5)}, "^values must be a vector over the 27 architectures"),
        ({"key": []}, r"^key must be a MetricKey, got \[\]"),  # unhashable: a TypeError
        ({"key": "synthetic"}, "^key must be a MetricKey, got 'synthetic'"),
        ({"extra": 3}, "^extra must map MetricKey to vectors, got 3"),  # no .items()
        ({"space": 3}, "^space must be a Space, got int 3"),
    ],
)
def test_table_from_refuses_wrong_arguments_by_name(kw: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"values": np.ones(TINY.size), "space": TINY, **kw}
    with pytest.raises(ArgumentError, match=match):
        table_from(**args)  # type: ignore[arg-type]


def test_table_from_still_takes_functions_and_numpy_seeds() -> None:
    extra = {MetricKey("synthetic", "x-test", 200): lambda c: c.sum(axis=1)}
    t = table_from(lambda c: (c == 2).sum(axis=1), space=TINY, extra=extra)
    assert t.vector_for(SYNTHETIC_KEY).max() == 3.0
    assert synthetic_table(np.int64(7)).space.size == 15625
