"""A refusal about a search's budget or grid names what the caller set: the parameter it
passed (a protocol's budget_seconds, a builder's budget_scale or n, the grid's
budget_scale_200, fixed_n or radii), which the command line respells as its flag or as where
it is set; and the epochs rule is 200/12 itself, rounded once."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.conventions import REPORT_DATASETS, cost_key, report_key, search_key
from nb201_flat.errors import ArgumentError, ProtocolError
from nb201_flat.search.protocol import NB201_MEDIAN_COSTS
from nb201_flat.space import Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table


def _line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _protocol_table(space: Space, share: float) -> Table:
    """Every key the built-in protocols read, over ``space``, each cell costing ``share`` x
    NB201's median cell (a table of times a tenth of NB201's or less has no built-in budget:
    ``check_benchmark_times``)."""
    rng = np.random.default_rng(0)
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    for ds in REPORT_DATASETS:
        for ep in (12, 200):
            data[(search_key(ds, ep), None)] = rng.uniform(50, 90, space.size)
        cost = share * NB201_MEDIAN_COSTS[cost_key(ds)]
        data[(cost_key(ds), None)] = np.full(space.size, cost)
        data[(report_key(ds), None)] = rng.uniform(50, 90, space.size)
    return Table(space, data, source="budget test")


@pytest.fixture(scope="module")
def free_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """27 cells that cost nothing: no time budget ever ends a run."""
    table = _protocol_table(Space(("none", "skip", "conv"), 3), 0.0)
    return str(save_table(table, tmp_path_factory.mktemp("free") / "t.nb201"))


@pytest.fixture(scope="module")
def one_edge() -> Table:
    # 200 s cells (it was 100 s, a time scale NB201's budgets are now refused on)
    return _protocol_table(Space(("none", "skip", "conv"), 2), 0.11)


# -- the way out of a budget no time would end: fixed-n, with n where the caller sets it -------
def test_reproduce_names_fixed_n_and_its_query_count_by_its_flags(
    capsys: pytest.CaptureFixture[str], free_path: str, tmp_path: Path
) -> None:
    # it printed `(--protocols fixed-n n=N)`; the grid's n is --fixed-n
    line = _line(capsys, "reproduce", "--quick", "--out", str(tmp_path / "o"), "--table", free_path)
    assert line.endswith(
        "never runs out), more than 100 x the space's 27 cells (2,700); use a "
        "query budget instead (--fixed-n N --protocols fixed-n)"
    ), line
    # search sets both, by its flags
    line = _line(capsys, "search", "--algo", "rs", "--runs", "1", "--table", free_path)
    assert line.endswith("use a query budget instead (--protocol fixed-n --fixed-n N)"), line


def test_the_grid_names_the_budget_it_sets_and_none_it_does_not(one_edge: Table) -> None:
    from nb201_flat.search.grid import ReproduceConfig

    cfg = ReproduceConfig.quick(search_epochs=(12, 200))
    nb201_12, nb201_200 = cfg.protocol_list(one_edge)
    with pytest.raises(ProtocolError) as exc:  # 1,000 queries on 3 cells: past the bound
        nb201_200.oracle_data(one_edge)
    assert exc.value.fix == "lower the budget (budget_scale_200)"
    with pytest.raises(ProtocolError) as exc:  # nothing in the grid sets NB201's 12,000 s
        nb201_12.oracle_data(one_edge)
    assert exc.value.fix == "use a query budget instead (fixed_n_protocols(table, n))"


# -- the grid's radius variants ----------------------------------------------------------
def test_reproduce_refuses_radius_variants_beyond_the_space_by_the_grid_s_radii(
    capsys: pytest.CaptureFixture[str], one_edge: Table, tmp_path: Path
) -> None:
    from nb201_flat.search.grid import ReproduceConfig, reproduce

    with pytest.raises(ArgumentError) as exc:
        reproduce(one_edge, ReproduceConfig.quick(radii=(1, 2)))
    assert "radius variants 2 lie beyond this space's 1 edge" in str(exc.value)
    assert str(exc.value).endswith("(radii=(1,))")
    # the command line: it said `--radius must lie in 1..1, got 2`, a flag not given
    path = str(save_table(one_edge, tmp_path / "t.nb201"))
    line = _line(capsys, "reproduce", "--runs", "2", "--out", str(tmp_path / "o"), "--table", path)
    assert "--radius" not in line and line.endswith("(ReproduceConfig(radii=...) in Python)")


# -- a time budget too large for a float ------------------------------------------------------
def test_a_budget_scale_past_a_float_is_refused_by_its_name(
    capsys: pytest.CaptureFixture[str], free_path: str
) -> None:
    from nb201_flat.search.protocol import per_dataset_protocols

    with pytest.raises(ProtocolError) as exc:
        per_dataset_protocols(budget_scale=1e308)
    assert str(exc.value).startswith("budget_scale makes the time budget (20000 s x 1e+308)")
    assert "budget_seconds" not in str(exc.value)
    # it said "budget_seconds (the time budget) ... --budget-scale, where the caller takes one"
    line = _line(
        capsys,
        *f"search --algo rs --budget-scale 1e308 --search-epochs 200 --table {free_path}".split(),
    )
    assert line == (
        "error: --budget-scale makes the time budget (12000 s x 1e+308 x 200/12) larger than a "
        "float holds; pass a smaller --budget-scale"
    )


@pytest.mark.parametrize("scale", [-1, float("nan"), "2", 10**400])
def test_a_bad_budget_scale_is_named_as_the_builder_s(scale: object) -> None:
    from nb201_flat.search.protocol import per_dataset_protocols

    # -1 and NaN were refused as "budget_seconds ... got -20000.0", "2" was a TypeError
    with pytest.raises(ProtocolError, match=r"^budget_scale (must be a finite|.* larger than)"):
        per_dataset_protocols(budget_scale=scale)  # type: ignore[arg-type]


# -- each protocol's refusal names the parameter its caller set ------------------------------
def test_a_protocol_s_budget_refusal_names_the_parameter_that_set_the_budget(
    nb201_like: Table,
) -> None:
    from nb201_flat.search.protocol import (
        Protocol,
        fixed_n_protocols,
        nb201_protocol,
        protocols_by_name,
    )

    def fix(p: Protocol) -> str:
        with pytest.raises(ProtocolError) as exc:
            p.oracle_data(nb201_like)
        return exc.value.fix

    # built with budget_seconds: it was told budget_scale, which it never passed
    assert fix(nb201_protocol(budget_seconds=1e12)) == "lower the budget (budget_seconds)"
    assert fix(nb201_protocol(budget_seconds=1.0)) == "raise the budget (budget_seconds)"
    direct = nb201_protocol().replace(budget_seconds=None, budget_queries=10**9)
    assert fix(direct) == "lower the budget (budget_queries)"
    # built from the builders' own parameters: those
    (scaled,) = protocols_by_name("nb201", nb201_like, budget_scale=1e-6)
    assert fix(scaled) == "raise the budget (budget_scale)"
    assert fix(scaled.replace(seed_policy="mean")) == "raise the budget (budget_scale)"
    assert fix(scaled.replace(budget_seconds=1.0)) == "raise the budget (budget_seconds)"
    assert fix(fixed_n_protocols(nb201_like, 10**9)[0]) == "lower the budget (n)"


# -- the epochs rule: 200/12 itself ----------------------------------------------------------
def test_time_budgets_at_200_epochs_are_200_12_of_the_12_epoch_ones_rounded_once(
    nb201_like: Table,
) -> None:
    from nb201_flat.conventions import NB201_TIME_BUDGET, TIME_BUDGETS
    from nb201_flat.search.grid import ReproduceConfig
    from nb201_flat.search.protocol import nb201_protocol, per_dataset_protocols

    def exact(budget: float, scale: float = 1.0) -> float:
        return float(Fraction(budget) * Fraction(scale) * Fraction(200, 12))

    want = [exact(NB201_TIME_BUDGET), *(exact(b) for b in TIME_BUDGETS.values())]
    built = [nb201_protocol(epochs=200), *per_dataset_protocols(epochs=200)]
    # 120,000 s x the float 16.666666666666668 was 2,000,000.0000000002 s
    assert [p.budget_seconds for p in built] == want
    grid = ReproduceConfig.quick(protocols=("nb201", "per-dataset"), search_epochs=(200,))
    assert [p.budget_seconds for p in grid.protocol_list(nb201_like)] == want
    # budget_scale_200 is the whole multiplier, exactly (1.0 gave 11,999.999999999998 s)
    for scale in (1.0, 0.1 * 3, np.float32(2.5), Fraction(1, 3)):
        cfg = ReproduceConfig.quick(search_epochs=(200,), budget_scale_200=scale)
        (p,) = cfg.protocol_list(nb201_like)
        whole = scale if isinstance(scale, Fraction) else Fraction(float(scale))
        assert p.budget_seconds == float(Fraction(NB201_TIME_BUDGET) * whole)
    # a scale on top of the rule, as --budget-scale: the same rounding
    (p,) = per_dataset_protocols(epochs=200, budget_scale=0.3, datasets=("ImageNet16-120",))
    assert p.budget_seconds == exact(TIME_BUDGETS["ImageNet16-120"], 0.3)


def test_the_grid_s_budget_scale_200_is_checked_by_its_name() -> None:
    from nb201_flat.search.grid import ReproduceConfig

    with pytest.raises(ArgumentError, match="^budget_scale_200 must be a finite number > 0"):
        ReproduceConfig(budget_scale_200=float("inf"))
