"""Every public yes/no option is a bool: a truthy string or None is refused, never coerced.

``bool("no")`` is True: before the one check (``errors.check_flag``), several of these read
"no" as yes, and some cached the result under "no".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nb201_flat import landscape as ls
from nb201_flat.errors import ArgumentError, check_flag
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "a", "b"), 3)
VALUES = np.linspace(1.0, 2.0, SPACE.size)


def _table() -> Table:
    return Table(SPACE, {(MetricKey("d", "x-valid", 200), None): VALUES}, source="flags")


CALLS: dict[str, Callable[[object], object]] = {
    "merge_disconnected (key)": lambda f: SPACE.isomorphism_key([1, 1, 1], merge_disconnected=f),  # type: ignore[arg-type]
    "merge_disconnected (classes)": lambda f: SPACE.isomorphism_classes(merge_disconnected=f),  # type: ignore[arg-type]
    "no_none": lambda f: SPACE.neighbours(1, no_none=f),  # type: ignore[arg-type]
    "include_self": lambda f: Neighbourhood(radius=1, include_self=f),  # type: ignore[arg-type]
    "higher_is_better": lambda f: ls.barrier_tree(SPACE, VALUES, higher_is_better=f),  # type: ignore[arg-type]
    "connected_only": lambda f: ls.barrier_tree(SPACE, VALUES, connected_only=f),  # type: ignore[arg-type]
    "shortest": lambda f: ls.barrier_tree(SPACE, VALUES).path(0, SPACE.size - 1, shortest=f),  # type: ignore[arg-type]
    "dropna (profile)": lambda f: ls.distance_profile(SPACE, VALUES, dropna=f),  # type: ignore[arg-type]
    # it picks the optima ("no" was accepted beside a given optimum, which now refuses it)
    "higher_is_better (profile)": lambda f: ls.distance_profile(
        SPACE,
        VALUES,
        higher_is_better=f,  # type: ignore[arg-type]
    ),
    "dropna (distributions)": lambda f: ls.neighbour_distributions(
        SPACE,
        VALUES,
        {"all": (0.0, 3.0)},
        radii=(1,),
        dropna=f,  # type: ignore[arg-type]
    ),
    "weighted": lambda f: ls.neighbour_distributions(
        SPACE,
        VALUES,
        {"all": (0.0, 3.0)},
        radii=(1,),
        weighted=f,  # type: ignore[arg-type]
    ),
    "dropna (tidy)": lambda f: _table().to_tidy(dropna=f),  # type: ignore[arg-type]
}


# flags whose default None says "not given" (the profile's: refused beside a given optimum)
NONE_IS_NOT_GIVEN = {"higher_is_better (profile)"}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("bad", ["no", None, 1])
def test_a_flag_that_is_not_a_bool_is_refused(name: str, bad: object) -> None:
    if bad is None and name in NONE_IS_NOT_GIVEN:
        CALLS[name](bad)  # the documented default: the flag not given
        return
    with pytest.raises(ArgumentError, match="must be True or False"):
        CALLS[name](bad)


@pytest.mark.parametrize("name", list(CALLS))
def test_a_numpy_bool_is_a_flag(name: str) -> None:
    CALLS[name](np.bool_(False))
    CALLS[name](True)


def test_check_flag() -> None:
    assert check_flag("x", np.True_) is True and check_flag("x", False) is False
    with pytest.raises(ArgumentError, match="x must be True or False, got 'yes'"):
        check_flag("x", "yes")
