"""Fixes that must run as spelled (audit 13): ``flatness`` offers a wider --radius only where
one exists and names --within where the radius is exact; a skip that :func:`render` or
:func:`render_many` raises names the figure's options as they take them; a constraint's
analytic cost is quoted, as Python needs it; the mean-path barrier is the same with A and B
swapped, one pair at a time and in the census.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.constraints import best_under, cost_vector
from nb201_flat.errors import ConstraintError, FigureSkipped, MissingValueError
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = MetricKey("cifar10", "ori-test", 200)
KEY_ARGS = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
# two measured cells 4 edges apart (the audit's imp2 table): each is the other's only
# measured cell, at distance 4 and no other
FAR = 4
A = 11472
B = int(
    NB201.index_of_codes(
        tuple((c + 1) % NB201.n_ops if e < FAR else c for e, c in enumerate(NB201.codes[A]))
    )
)


@pytest.fixture(scope="module")
def pair_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    v = np.full(NB201.size, np.nan)
    v[[A, B]] = [12.5, 8.3]
    path = tmp_path_factory.mktemp("pair") / "pair.nb201"
    return str(save_table(Table(NB201, {(KEY, None): v}), path))


def _refusal(capsys: pytest.CaptureFixture[str], path: str, *argv: str) -> str:
    return one_line_exit_2(capsys, "flatness", *KEY_ARGS, *argv, "--table", path)


def test_flatness_offers_a_wider_radius_only_below_the_largest_distance(
    capsys: pytest.CaptureFixture[str], pair_path: str
) -> None:
    # --radius 1, 5 and 6 all ended "widen --radius", and 7 is refused (1..6)
    assert NB201.hamming(A, B) == FAR and NB201.n_edges == 6
    line = _refusal(capsys, pair_path, "--radius", "6")
    assert line.endswith(
        "cannot be served; use a denser table or pass --within (it counts every distance "
        "1..6, not 6 alone)"
    ), line
    assert "widen" not in line
    # --within at the largest radius: every other cell is a neighbour, no flag widens it
    one = np.full(NB201.size, np.nan)
    one[A] = 12.5
    lone = str(save_table(Table(NB201, {(KEY, None): one}), Path(pair_path).parent / "one"))
    line = _refusal(capsys, lone, "--radius", "6", "--within")
    assert line.endswith("use a denser table (this one measures one cell)"), line
    line = _refusal(capsys, lone, "--radius", "2", "--within")  # no radius finds another
    assert line.endswith("use a denser table (this one measures one cell)"), line


def test_flatness_names_within_where_the_radius_is_exact(
    capsys: pytest.CaptureFixture[str], pair_path: str
) -> None:
    # under --exact a wider radius dropped the only neighbour (4 served, 5 did not), and no
    # message named --within, which serves 5
    line = _refusal(capsys, pair_path, "--radius", "5")
    assert line.endswith(
        "use a denser table, pass --within (it counts every distance 1..5, not 5 alone), or "
        "widen --radius"
    ), line
    code, _, err = run(
        capsys, "flatness", *KEY_ARGS, "--radius", "5", "--within", "--table", pair_path
    )
    assert code == 0, err
    # radius 1: both modes are one neighbourhood; --within goes with a wider radius
    line = _refusal(capsys, pair_path)
    assert line.endswith(
        "use a denser table or widen --radius (--within counts every distance 1..R, --exact R "
        "alone)"
    ), line
    for radius in ("4", "2"):  # what the fix names: 4 serves either way, 2 neither
        code, _, err = run(
            capsys, "flatness", *KEY_ARGS, "--radius", radius, "--within", "--table", pair_path
        )
        assert code == (0 if radius == "4" else 2), err
    # nothing to rank: the same ways, then another column
    line = _refusal(capsys, pair_path, "--radius", "4", "--sort-by", "std")
    assert line.endswith(
        "nothing can be ranked; use a denser table, pass --within (it counts every distance "
        "1..4, not 4 alone), widen --radius, or sort by another column"
    ), line


@pytest.fixture(scope="module")
def unsearchable() -> Table:
    # 12-epoch accuracies, the validation split unmeasured on some cells: no search can pick
    # na_projection's cells (each query of one would be charged and return NaN), but by value
    # it is drawn
    v = np.linspace(10.0, 90.0, NB201.size)
    valid = np.where(np.arange(NB201.size) % 50 == 0, np.nan, v)
    test, search = (MetricKey("cifar10-valid", split, 12) for split in ("ori-test", "x-valid"))
    return Table(NB201, {(test, None): v, (search, None): valid}, source="12 epochs")


def test_render_names_the_pick_as_render_takes_it(unsearchable: Table, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from nb201_flat.figures import make, render, render_many

    # render said "or use pick='value'", and render(..., pick='value') is a TypeError
    with pytest.raises(FigureSkipped) as info:
        render("na_projection", unsearchable, tmp_path)
    assert str(info.value).endswith("; or use options={'pick': 'value'})"), info.value
    # what it names runs
    assert render("na_projection", unsearchable, tmp_path, options={"pick": "value"}).files
    # make takes the maker's keywords: its skip names them so
    with pytest.raises(FigureSkipped, match=r"; or use pick='value'\)$"):
        make("na_projection", unsearchable)
    # render_many: under the figure's name, drawn here or in a worker
    for workers in (1, 2):
        names = ["na_projection", "distance_profile"]
        got = dict(render_many(names, unsearchable, tmp_path / "m", workers=workers))
        skip = got["na_projection"]
        assert isinstance(skip, FigureSkipped)
        assert str(skip).endswith("or use options={'na_projection': {'pick': 'value'}})"), skip
        assert str(pickle.loads(pickle.dumps(skip))) == str(skip)
    options = {"na_projection": {"pick": "value"}}
    got = dict(render_many(["na_projection"], unsearchable, tmp_path / "o", options=options))
    assert not isinstance(got["na_projection"], FigureSkipped)


def test_figures_command_still_names_the_python_call(
    capsys: pytest.CaptureFixture[str], unsearchable: Table, tmp_path: Path
) -> None:
    path = str(save_table(unsearchable, tmp_path / "t.nb201"))
    line = one_line_exit_2(
        capsys, "figures", "--only", "na_projection", "--table", path, "--out", str(tmp_path)
    )
    assert "or use make_na_projection(table, pick='value') in Python)" in line, line


def test_a_constraints_analytic_cost_is_quoted_as_python_needs() -> None:
    # "(cost=flops_m_analytic)": copied as written, a NameError
    v = np.linspace(10.0, 90.0, NB201.size)
    keys = {(MetricKey("cifar100", "x-valid", 200), None): v}
    t = Table(NB201, {**keys, (MetricKey("cifar100", "model", 200, "params_mb"), None): v / 90})
    for cost, want in [
        ("flops_m", "(cost='flops_m_analytic')"),
        ("flops_m_naslib", "(cost='params_mb_analytic' or cost='flops_m_analytic')"),
    ]:
        with pytest.raises(ConstraintError) as info:
            cost_vector(t, "cifar100", cost)
        assert str(info.value).endswith(want), info.value
    # what it names runs
    cost = "flops_m_analytic"
    assert len(best_under(t, "cifar100", "x-valid", 200, cost=cost, max_cost=10)) == 1
    # no cell with a measured accuracy has a stored cost
    first = np.arange(NB201.size) < 5
    acc = {(MetricKey("cifar100", "x-valid", 200), None): np.where(first, v, np.nan)}
    size = {(MetricKey("cifar100", "model", 200, "params_mb"), None): np.where(first, np.nan, 1.0)}
    table = Table(NB201, {**acc, **size})
    with pytest.raises(ConstraintError) as info:
        best_under(table, "cifar100", "x-valid", 200, cost="params_mb", max_cost=10)
    assert str(info.value).endswith("computed for every cell: cost='params_mb_analytic'")


# -- the mean path does not depend on which end is a -----------------------------------------


def _swap_sample(
    n: int = 300, nan_fraction: float = 0.0
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """An NB201 landscape of floats whose sums round (a path order moved the last bits) and
    ``n`` pairs at distance 2..6."""
    rng = np.random.default_rng(13)
    v = rng.uniform(10.0, 95.0, NB201.size)
    v[rng.random(NB201.size) < nan_fraction] = np.nan
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n:
        a, b = (int(x) for x in rng.integers(0, NB201.size, 2))
        if NB201.hamming(a, b) >= 2:
            pairs.append((a, b))
    return v, pairs


def _bits(x: object) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def test_the_mean_path_is_the_same_with_a_and_b_swapped() -> None:
    # `barrier 40 12094` gave mean path 22.531110666666656, `barrier 12094 40` 22.53111066666667:
    # each level was summed in path order, which a swap reverses
    from nb201_flat.landscape import a2m_barrier

    v, pairs = _swap_sample()
    for a, b in pairs:
        ab, ba = a2m_barrier(NB201, v, a, b), a2m_barrier(NB201, v, b, a)
        assert _bits(ab.barrier) == _bits(ba.barrier), (a, b, ab.barrier, ba.barrier)
        assert _bits(ab.level_mean) == _bits(ba.level_mean[::-1]), (a, b)
        assert _bits(ab.level_std) == _bits(ba.level_std[::-1]), (a, b)
        # the ends are the end points' own values (a mean of d! copies was 1 ulp off them)
        assert _bits(ab.level_mean[[0, -1]]) == _bits(v[[a, b]])
    # the mean of each level is its cells' (each on as many of the d! paths)
    a, b = pairs[0]
    r = a2m_barrier(NB201, v, a, b)
    for level in range(r.distance + 1):
        cells = np.unique(r.paths[:, level])
        assert len(cells) == r.level_n[level]
        assert r.level_mean[level] == pytest.approx(v[cells].mean(), rel=1e-15)
        assert r.level_std[level] == pytest.approx(v[cells].std(), rel=1e-12, abs=1e-12)


def test_the_mean_path_omitting_unmeasured_cells_is_the_same_swapped() -> None:
    from nb201_flat.landscape import a2m_barrier

    v, pairs = _swap_sample(200, nan_fraction=0.05)
    served = 0
    for a, b in pairs:
        if np.isnan(v[[a, b]]).any():
            continue
        try:
            ab = a2m_barrier(NB201, v, a, b, nan_policy="omit")
        except MissingValueError:  # a level without a measured cell
            continue
        ba = a2m_barrier(NB201, v, b, a, nan_policy="omit")
        assert _bits(ab.barrier) == _bits(ba.barrier), (a, b)
        assert _bits(ab.level_mean) == _bits(ba.level_mean[::-1]), (a, b)
        served += 1
    assert served > 100


def test_the_census_and_barrier_give_one_mean_path_either_way_round() -> None:
    # the census's many pairs at once, and one pair at a time, in both orders
    from nb201_flat.landscape.maximin import barrier_tree
    from nb201_flat.landscape.pair_batch import pair_columns

    v, pairs = _swap_sample()
    tree = barrier_tree(NB201, v)
    a, b = (np.array(side) for side in zip(*pairs, strict=True))
    there, back = pair_columns(tree, a, b), pair_columns(tree, b, a)
    assert there["ok"].all() and back["ok"].all()
    assert _bits(there["mean_path"]) == _bits(back["mean_path"])
    for i in range(0, len(pairs), 10):
        one = tree.pair_barriers(int(a[i]), int(b[i])).mean_path
        assert _bits(one) == _bits(there["mean_path"][i])


def test_the_a2m_code_rows_still_change_with_the_order() -> None:
    # pinned to A²M's code, which sums each level path by path and reads the first level
    from nb201_flat.landscape import a2m_barrier

    v, pairs = _swap_sample(50)
    moved = sum(
        a2m_barrier(NB201, v, a, b, published=code).barrier
        != a2m_barrier(NB201, v, b, a, published=code).barrier
        for a, b in pairs
        for code in ("54ce096", "947bc3e")
    )
    assert moved > 50
