"""Python API edges met from a notebook: each gave a silent wrong number, a bare error or a
hint that could not be followed."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from nb201_flat.constraints import best_under, pareto_front
from nb201_flat.errors import ArgumentError, FormatError, UnknownKeyError
from nb201_flat.landscape.neighbourhood import flatness
from nb201_flat.landscape.proxies import proxy_correlations
from nb201_flat.neighbourhood import NA_PAPER, Neighbourhood
from nb201_flat.search.statistics import bootstrap_ci, bootstrap_cis
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.train import costs

TOY = Space(("a", "b", "c"), 3)  # 27 cells
SIZE = MetricKey("toy", "model", 12, "params_mb")


def _scored(metric: str, values: np.ndarray) -> Table:
    """A toy table of one ``metric`` at toy/x-valid@12ep, every cell of cost 1."""
    key = MetricKey("toy", "x-valid", 12, metric)
    return Table(TOY, {(key, None): values, (SIZE, None): np.ones(TOY.size)}, source="toy")


# -- 1. a loss ranked by its natural direction ----------------------------------------------
def test_best_under_and_pareto_rank_a_loss_lowest_first_by_default() -> None:
    # the default higher_is_better=True listed the highest losses (chance-level cells) first
    loss = np.arange(27.0) + 1.0  # cell 0 has the lowest loss
    t = _scored("loss", loss)
    at = ("toy", "x-valid", 12)
    df = best_under(t, *at, metric="loss", cost="params_mb", max_cost=1.0, top=3)
    assert df["index"].tolist() == [0, 1, 2]
    front = pareto_front(t, *at, metric="loss", cost="params_mb")
    assert front["index"].tolist() == [0]
    # an explicit direction is still honoured, against the name too
    worst = best_under(t, *at, metric="loss", cost="params_mb", max_cost=1.0, higher_is_better=True)
    assert worst["index"].tolist() == [26]


@pytest.mark.parametrize("call", [best_under, pareto_front])
def test_a_metric_of_no_natural_direction_must_state_it(call: object) -> None:
    # a proxy score (or a cost, a spread) was ranked high-first in silence
    t = _scored("synflow", np.arange(27.0))
    extra: dict[str, object] = {"max_cost": 1.0} if call is best_under else {}
    at = ("toy", "x-valid", 12)
    kw = {"metric": "synflow", "cost": "params_mb", **extra}
    no_way = r"'synflow' has no natural ranking direction.*=True or higher_is_better=False$"
    with pytest.raises(ArgumentError, match=no_way):
        call(t, *at, **kw)  # type: ignore[operator]
    df = call(t, *at, **kw, higher_is_better=False)  # type: ignore[operator]
    assert df["index"].tolist()[0] == 0


# -- 2. proxy_correlations takes the neighbourhoods flatness takes --------------------------
@pytest.mark.parametrize("radius", [NA_PAPER, None, Neighbourhood(radius=2)])
def test_proxy_correlations_takes_a_whole_neighbourhood(radius: object) -> None:
    # a Neighbourhood or None crashed at int(radius) after the bootstrap had run
    rng = np.random.default_rng(0)
    acc = rng.random(TOY.size) * 10
    proxy = acc + rng.random(TOY.size)
    df = proxy_correlations(TOY, proxy, acc, radius=radius, n_boot=50)  # type: ignore[arg-type]
    flat = flatness(TOY, acc, radius)  # type: ignore[arg-type]
    for name in ("radius", "exact", "include_self", "no_none", "connected_only"):
        assert df.attrs[name] == flat.attrs[name], name
    # the flatness read is that neighbourhood's, not radius 1's
    row = df[(df["against"] == "flatness:sharpness") & (df["method"] == "spearman")]
    expected = spearmanr(proxy, flat["sharpness"].to_numpy()).statistic
    assert float(row["estimate"].iloc[0]) == pytest.approx(expected)


# -- 3. a bootstrap CI reads one finite vector -----------------------------------------------
@pytest.mark.parametrize(
    ("diffs", "match"),
    [
        (np.array([[1.0, 2.0], [3.0, 4.0]]), r"^diffs must be one 1-D vector.*shape \(2, 2\)"),
        (np.array([1.0, np.inf, 2.0]), r"^diffs holds inf at position 1.*pass finite"),
        ("abc", r"^diffs must be a vector of numbers.*got 'abc'"),
        (["1.0", "2.0", "3.0"], r"^diffs must be a vector of numbers"),
    ],
)
def test_bootstrap_ci_refuses_what_is_no_vector_of_differences(diffs: object, match: str) -> None:
    # a 2-D array was pooled into (1.5, 3.5), an inf gave (1.0, nan) with numpy's
    # RuntimeWarning, "abc" a bare ValueError
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ArgumentError, match=match):
            bootstrap_ci(diffs, n_boot=200)  # type: ignore[arg-type]


def test_bootstrap_cis_names_the_vector_refused_and_still_drops_nan() -> None:
    good = np.array([0.5, 1.0, 1.5, 2.0])
    with pytest.raises(ArgumentError, match=r"^diffs\[1\] must be one 1-D vector"):
        bootstrap_cis([good, np.ones((2, 2))], n_boot=200)
    assert bootstrap_ci(np.append(good, np.nan), n_boot=200) == bootstrap_ci(good, n_boot=200)


# -- 4. a stored mean lies within its seeds, however the table is built ----------------------
KEY = MetricKey("cifar10", "ori-test", 200)


def test_a_mean_outside_its_seeds_is_refused_by_the_constructor() -> None:
    # served, saved and loaded, while Table.from_tidy(t.to_tidy()) refused the same numbers
    data = {
        (KEY, None): np.full(TOY.size, 95.0),
        (KEY, 0): np.full(TOY.size, 70.0),
        (KEY, 1): np.full(TOY.size, 72.0),
    }
    with pytest.raises(FormatError, match=r"is 95\.0, outside its seed rows \(70\.0\.\.72\.0"):
        Table(TOY, data)
    data[(KEY, None)] = np.full(TOY.size, 71.0)
    t = Table(TOY, data)
    assert Table.from_tidy(t.to_tidy(), space=TOY).vector("cifar10", "ori-test", 200)[0] == 71.0


def test_a_mean_changed_after_construction_is_refused_before_it_is_saved(tmp_path: Path) -> None:
    t = Table(TOY, {(KEY, None): np.full(TOY.size, 71.0), (KEY, 0): np.full(TOY.size, 71.0)})
    t.data[(KEY, None)] = np.full(TOY.size, 95.0)  # data is a plain dict
    with pytest.raises(FormatError, match="outside its seed rows"):
        save_table(t, tmp_path / "t")
    assert not (tmp_path / "t").exists()


# -- 5. the cifar10-valid hint only where the table has it ----------------------------------
def test_the_cifar10_valid_hint_is_given_only_where_the_table_holds_it() -> None:
    # AnalogNAS's table (cifar10 ori-test only) was told to search on cifar10-valid x-valid
    only_test = Table(TOY, {(KEY, None): np.arange(27.0)})
    with pytest.raises(
        UnknownKeyError, match=r"unknown split 'x-valid'.*this table has ori-test"
    ) as e:
        only_test.vector("cifar10", "x-valid", 200)
    assert "cifar10-valid" not in str(e.value)
    both = Table(
        TOY,
        {
            (KEY, None): np.arange(27.0),
            (MetricKey("cifar10-valid", "x-valid", 200), None): np.arange(27.0),
        },
    )
    with pytest.raises(UnknownKeyError, match="search on dataset 'cifar10-valid' split 'x-valid'"):
        both.vector("cifar10", "x-valid", 200)


# -- 6. an architecture where its ops belong ------------------------------------------------
def test_an_arch_given_for_its_ops_is_told_to_pass_them() -> None:
    # "pass a list, e.g. [Arch(...)]", which then failed: "6 edges, but 1 ops were given"
    arch = NB201.arch(11472)
    with pytest.raises(ArgumentError, match=r"pass its op on each edge, arch\.ops") as e:
        costs.params_mb(arch, n_nodes=4)  # type: ignore[arg-type]
    assert "[Arch(" not in str(e.value)
    with pytest.raises(ArgumentError, match=r"pass its op on each edge, NB201\.parse\(s\)\.ops"):
        costs.params_mb(arch.to_str(), n_nodes=4)  # type: ignore[arg-type]
    # following either hint works
    assert costs.params_mb(arch.ops, n_nodes=4) == costs.params_mb(
        NB201.parse(arch.to_str()).ops, n_nodes=4
    )
    # one op name alone still wants a list of it
    with pytest.raises(ArgumentError, match=r"pass a list, e\.g\. \['none'\]$"):
        costs.params_mb("none", n_nodes=4)  # type: ignore[arg-type]
