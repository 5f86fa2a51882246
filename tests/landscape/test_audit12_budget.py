"""Audit 12: neighbourhood statistics are sized by what computes them. Min and max at an
exact radius have their own programme, no gather: flatness at radius 3 was refused under a
300 MB cap (sized as a 326 MB gather) while radii 4-6 passed. A refusal names the statistics
that need the gather, only radii that pass under the same limit, and the statistics that need
none only where that is true."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat import budget
from nb201_flat.errors import ResourceLimitError
from nb201_flat.landscape import aggregates
from nb201_flat.landscape.neighbourhood import StandIns, flatness, neighbourhood_score
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

# the columns nb201-flat flatness computes without --agg
CLI_COLUMNS = ["value", "n", "mean", "min", "std", "sharpness"]
VALUES = np.random.default_rng(12).uniform(10.0, 90.0, NB201.size)


def _refusal(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(ResourceLimitError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def _named_radii(msg: str) -> list[int]:
    """The radii a refusal says fit ("radius 2 or less fits", "radius 1, 2 or 5 fits")."""
    m = re.search(r"radius ((?:\d+, )*\d+)(?: or (\d+))?( or less)? fits", msg)
    assert m is not None, msg
    radii = [int(r) for r in m.group(1).split(", ")] + ([int(m.group(2))] if m.group(2) else [])
    return list(range(1, radii[-1] + 1)) if m.group(3) else radii


@pytest.mark.usefixtures("cap_alone")
@pytest.mark.parametrize("radius", [2, 3, 4, 5, 6])
def test_exact_min_is_sized_by_its_own_programme_not_a_gather(
    monkeypatch: pytest.MonkeyPatch, radius: int
) -> None:
    flatness(NB201, VALUES, radius, columns=CLI_COLUMNS)  # the space's caches, built once
    tracemalloc.start()
    try:
        free = flatness(NB201, VALUES, radius, columns=CLI_COLUMNS)
        measured = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a cap just above the measured need (twice it, after the check's headroom); radius 3 was
    # sized as a 326 MB gather, radius 2 as 141 MB, radii 4-6 as 162 MB
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, str(int(2 * measured / budget._HEADROOM)))
    capped = flatness(NB201, VALUES, radius, columns=CLI_COLUMNS)
    assert capped.equals(free)
    only = flatness(NB201, VALUES, radius, columns=["min", "max"])
    assert np.array_equal(only["min"], free["min"], equal_nan=True)


@pytest.mark.usefixtures("cap_alone")
def test_cli_flatness_at_radius_3_fits_a_small_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {(MetricKey("cifar100", "x-test", 200), None): VALUES}
    path = save_table(Table(NB201, data, source="audit12"), tmp_path / "t.nb201")
    argv = ["flatness", "--dataset", "cifar100", "--split", "x-test", "--epochs", "200"]
    argv += ["--top", "1", "--table", str(path)]
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "8M")  # its need: about 2 MB
    code, out, err = run(capsys, *argv, "--radius", "3")
    assert code == 0 and err == "" and out.strip(), err
    # a gather at radius 3 is refused, naming it and a radius that passes under the cap
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "300M")
    line = one_line_exit_2(capsys, *argv, "--radius", "3", "--agg", "median")
    assert "radius 3 (median: a gather)" in line and "radius 2 or less fits" in line
    assert "mean, std, min and max alone need no gather and fit" in line
    assert run(capsys, *argv, "--radius", "2", "--agg", "median")[0] == 0
    assert run(capsys, *argv, "--radius", "3")[0] == 0  # the statistics that need none


@pytest.mark.usefixtures("cap_alone")
def test_a_refusal_names_the_statistics_that_need_the_gather(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "100M")
    msg = _refusal(flatness, NB201, VALUES, 3, columns=["mean", "min", "share_within_delta"])
    assert "radius 3 (share_within_delta: a gather)" in msg, msg
    msg = _refusal(flatness, NB201, VALUES, 3, columns=["median", "quantile"])
    assert "radius 3 (median and quantile: a gather)" in msg, msg
    assert "(median: a gather)" in _refusal(neighbourhood_score, NB201, VALUES, 3, agg="median")
    msg = _refusal(neighbourhood_score, NB201, VALUES, 3, agg="quantile", quantile=0.2)
    assert "(quantile: a gather)" in msg
    # min and max alone: no gather at any radius
    for radius in range(1, 7):
        assert np.isfinite(neighbourhood_score(NB201, VALUES, radius, agg="min")).all()
    assert flatness(NB201, VALUES, 3, columns=["mean", "min", "std"]).notna().all().all()


@pytest.mark.usefixtures("cap_alone")
def test_with_stand_ins_no_statistic_is_offered_as_needing_no_gather(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand = StandIns.build(NB201.size, constant=[0])
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "100M")
    msg = _refusal(flatness, NB201, VALUES, 3, columns=["mean"], stand_ins=stand)
    assert "(with stand-ins every statistic is a gather)" in msg, msg
    assert "no gather" not in msg and "median" not in msg
    for radius in _named_radii(msg):
        flatness(NB201, VALUES, radius, columns=["mean"], stand_ins=stand)


@pytest.mark.usefixtures("cap_alone")
def test_every_radius_a_refusal_names_passes_under_the_same_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cached neighbour matrices up to 64M entries: radii 3, 4 and 6 (20M, 60M, 64M) are
    # cached and large, 5 (96M) is built chunk by chunk and small: "radius 5 or less" lied
    monkeypatch.setattr(aggregates, "CACHE_ENTRIES_LIMIT", 1 << 26)
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "250M")
    msg = _refusal(neighbourhood_score, NB201, VALUES, 6, agg="median")
    for radius in _named_radii(msg):
        assert len(neighbourhood_score(NB201, VALUES, radius, agg="median")) == NB201.size
    assert "radius 1, 2 or 5 fits" in msg, msg
    assert "mean, std, min and max alone need no gather and fit" in msg
    flatness(NB201, VALUES, 6, columns=["mean", "std", "min", "max"])


def test_the_radii_that_fit_are_named_as_they_are() -> None:
    assert budget._radii_that_fit([1, 2, 3]) == "radius 3 or less fits"
    assert budget._radii_that_fit([1, 2, 5]) == "radius 1, 2 or 5 fits"
    assert budget._radii_that_fit([2]) == "radius 2 fits"
