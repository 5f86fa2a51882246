"""Neighbourhood statistics on a retraining table's stand-in cells (isomorphic copies of a
trained cell, disconnected cells recorded at chance): counted, and left out where asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import FormatError, Nb201FlatError, UnknownKeyError
from nb201_flat.landscape import flatness, neighbourhood_score
from nb201_flat.landscape.neighbourhood import StandIns
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "skip_connect", "nor_conv_1x1"), 3)  # 27 cells, 6 neighbours each


def _row(df: pd.DataFrame, cell: int, cols: list[str]) -> list[float]:
    return [float(x) for x in df.loc[cell, cols].to_numpy(dtype=np.float64)]


def _copied_pair() -> tuple[int, int, int, np.ndarray]:
    """A trained cell, two of its neighbours holding copies of its numbers, values."""
    centre, a, b = 3, 4, 5  # 4 and 5 differ from 3 (and from each other) on the last edge
    assert {a, b} <= set(SPACE.neighbours(1).of(centre).tolist())
    v = np.full(SPACE.size, np.nan)
    v[[centre, a, b]] = 8.3333
    return centre, a, b, v


def test_copies_of_the_cell_itself_are_no_neighbours_by_default() -> None:
    # the reviewer's table: cell 3 trained, two neighbours copying it. Flatness compared 3 with
    # copies of itself: n=2, sharpness 0.0000, nothing said
    centre, a, b, v = _copied_pair()
    stand = StandIns.build(SPACE.size, copies=[(a, centre), (b, centre)])
    df = flatness(SPACE, v, 1, stand_ins=stand)
    assert df.at[centre, "n"] == 0 and np.isnan(_row(df, centre, ["sharpness"])[0])
    assert df.attrs["omit_stand_ins"] == "self"
    # a copy's neighbourhood: the cell it copies holds its own measurement too
    assert df.loc[a, "n"] == 0
    kept = flatness(SPACE, v, 1, stand_ins=stand, omit_stand_ins="none")
    assert _row(kept, centre, ["n", "sharpness", "n_stand_ins"]) == [2.0, 0.0, 2.0]
    assert _row(kept, a, ["n", "n_stand_ins"]) == [2.0, 1.0]  # 3 trained, 5 a copy
    score = neighbourhood_score(SPACE, v, 1, stand_ins=stand)
    assert np.isnan(score[centre])
    assert neighbourhood_score(SPACE, v, 1, stand_ins=stand, omit_stand_ins="none")[centre] == (
        8.3333
    )


def test_other_stand_ins_are_counted_and_left_out_with_all() -> None:
    centre = 13
    nbrs = [int(i) for i in SPACE.neighbours(1).of(centre)]
    v = np.full(SPACE.size, np.nan)
    v[centre] = 50.0
    v[nbrs] = [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    # nbrs[0] copies a cell away from the centre, nbrs[1] is a constant-output cell
    far = next(i for i in range(SPACE.size) if i != centre and i not in nbrs)
    v[far] = 40.0
    stand = StandIns.build(SPACE.size, copies=[(nbrs[0], far)], constant=[nbrs[1]])
    own = flatness(SPACE, v, 1, stand_ins=stand)
    assert _row(own, centre, ["n", "mean", "n_stand_ins"]) == [6.0, 42.5, 2.0]
    every = flatness(SPACE, v, 1, stand_ins=stand, omit_stand_ins="all")
    assert _row(every, centre, ["n", "mean", "min", "n_stand_ins"]) == [4.0, 43.5, 42.0, 0]
    # the cell itself (include_self) is a member whatever it is; its copies are not
    stand = StandIns.build(SPACE.size, copies=[(centre, far), (nbrs[2], far)])
    df = flatness(SPACE, v, Neighbourhood(include_self=True), stand_ins=stand)
    assert _row(df, centre, ["n", "n_stand_ins"]) == [6.0, 1.0]  # nbrs[2] left out


@pytest.mark.parametrize("omit", ["self", "all", "none"])
@pytest.mark.parametrize(
    "spec",
    [
        Neighbourhood(),
        Neighbourhood(radius=2, exact=False, include_self=True),
        Neighbourhood(radius=2, no_none=True, connected_only=True),
    ],
)
def test_matches_a_member_by_member_count(omit: str, spec: Neighbourhood) -> None:
    space = Space(("none", "skip_connect", "nor_conv_3x3"), 4)
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 100, space.size).round(2)
    v[rng.random(space.size) < 0.2] = np.nan
    cells = rng.permutation(space.size)
    copies = [(int(c), int(cells[i % 5])) for i, c in enumerate(cells[5:25])]
    stand = StandIns.build(space.size, copies=copies, constant=cells[25:30].tolist())
    df = flatness(space, v, spec, stand_ins=stand, omit_stand_ins=omit)  # type: ignore[arg-type]
    arrays = spec.arrays(space)
    for r in range(space.size):
        members = [int(m) for m in arrays.of(r)]
        if omit != "none":
            members = [m for m in members if stand.group[m] != stand.group[r]]
        if omit == "all":
            members = [m for m in members if not stand.stand_in[m]]
        if spec.include_self:
            members.append(r)
        used = [m for m in members if not np.isnan(v[m])]
        assert df.loc[r, "n"] == len(used)
        assert df.loc[r, "n_stand_ins"] == sum(bool(stand.stand_in[m]) for m in used)
        if used:
            assert df.loc[r, "mean"] == pytest.approx(np.mean(v[used]))
            assert df.loc[r, "min"] == np.min(v[used])


def test_a_vector_without_stand_ins_keeps_its_numbers() -> None:
    v = (SPACE.codes == 2).sum(axis=1).astype(float)
    v[4] = np.nan
    plain = flatness(SPACE, v, 2)
    none = flatness(SPACE, v, 2, stand_ins=StandIns.build(SPACE.size))
    assert none.drop(columns="n_stand_ins").equals(plain)
    assert (none["n_stand_ins"] == 0).all()


def test_stand_ins_of_a_table_follow_the_dataset_and_schedule() -> None:
    acc = np.full(NB201.size, np.nan)
    acc[[0, 3, 5]] = [10.0, 50.0, 50.0]
    meta = {
        "constant_output": [0],
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": 5, "copied_from": 3},
            {"dataset": "cifar100", "epochs": 1, "seed": 777, "index": 9, "copied_from": 3},
        ],
    }
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 1), 0): acc}, meta=meta)
    found = StandIns.of(table, "cifar10", 1)
    assert found is not None and (found.n_copies, found.n_constant) == (1, 1)
    assert found.group[5] == found.group[3] == 3 and found.group[9] == 9
    assert np.flatnonzero(found.stand_in).tolist() == [0, 5]
    assert StandIns.of(Table(NB201, table.data), "cifar10", 1) is None


def test_a_cell_copies_one_cell() -> None:
    # copies=[(4, 3), (4, 5)] joined 3, 4 and 5 in one group without a word: two trained
    # cells counted as one measurement
    with pytest.raises(Nb201FlatError) as exc:
        StandIns.build(SPACE.size, copies=[(4, 3), (4, 5)])
    assert str(exc.value) == (
        "copies names cell 4 a copy of both 3 and 5; a cell holds one cell's values: give one "
        "(cell, copied_from) pair per cell"
    )
    # the same pair twice is one pair
    assert StandIns.build(SPACE.size, copies=[(4, 3), (4, 3)]) == StandIns.build(
        SPACE.size, copies=[(4, 3)]
    )


def test_stand_ins_of_a_table_join_a_cells_sources_on_different_seeds() -> None:
    # two campaigns trained different members of a class, so cell 9 copies 3 on seed 777 and
    # 5 on seed 888: its values over the seeds hold both measurements
    acc = np.full(NB201.size, np.nan)
    acc[[3, 5, 9]] = [50.0, 51.0, 50.5]
    meta = {
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": 9, "copied_from": 3},
            {"dataset": "cifar10", "epochs": 1, "seed": 888, "index": 9, "copied_from": 5},
        ],
    }
    key = MetricKey("cifar10", "ori-test", 1)
    table = Table(NB201, {(key, 777): acc, (key, 888): acc}, meta=meta)
    found = StandIns.of(table, "cifar10", 1)
    assert found is not None and found.n_copies == 1
    assert found.group[[3, 5, 9]].tolist() == [3, 3, 3]
    assert np.flatnonzero(found.stand_in).tolist() == [9]


def test_stand_ins_of_a_table_refuse_two_sources_of_a_cell_on_one_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a hand-written meta copying 3 and 5 into cell 9 on seed 777 was read as one group: two
    # trained cells counted as one measurement (to_tidy and the importers refused it)
    acc = np.full(NB201.size, np.nan)
    acc[[3, 5, 9]] = [50.0, 51.0, 50.5]
    meta = {
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": 9, "copied_from": c}
            for c in (3, 5)
        ],
    }
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 1), 777): acc}, meta=meta)
    words = (
        "meta['isomorphic_to'] copies both cell 3 and cell 5 into cell 9 at cifar10@1ep seed "
        "777; keep one record"
    )
    with pytest.raises(FormatError) as exc:
        StandIns.of(table, "cifar10", 1)
    assert str(exc.value) == words
    with pytest.raises(FormatError) as tidy:
        table.to_tidy()
    assert str(tidy.value) == words  # one check, one wording
    # the command line: one line, exit 2
    path = str(save_table(table, tmp_path / "t.nb201"))
    argv = ["flatness", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "1"]
    assert main([*argv, "--arch", "9", "--table", path]) == 2
    assert capsys.readouterr().err == f"error: {words}\n"


@pytest.mark.parametrize(
    "record",
    [
        {"dataset": "cifar10", "epochs": 1, "seed": 777, "copied_from": 3},  # no index
        None,
        {"dataset": "cifar10", "epochs": "one", "seed": 777, "index": 9, "copied_from": 3},
    ],
)
def test_stand_ins_of_a_malformed_record_refuse_it_as_to_tidy_does(record: object) -> None:
    # StandIns.of read the records itself first: a bare KeyError 'index' or TypeError
    acc = np.full(NB201.size, np.nan)
    acc[[3, 9]] = [50.0, 50.5]
    table = Table(
        NB201,
        {(MetricKey("cifar10", "ori-test", 1), 777): acc},
        meta={"isomorphic_to": [record]},
    )
    with pytest.raises(FormatError) as exc:
        StandIns.of(table, "cifar10", 1)
    with pytest.raises(FormatError) as tidy:
        table.to_tidy()
    assert str(exc.value) == str(tidy.value)
    assert str(exc.value).endswith(
        "not a record of dataset, epochs, seed, index and copied_from; fix or drop it"
    )


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda v: flatness(SPACE, v, 1, omit_stand_ins="all"), "applies only with stand_ins"),
        (lambda v: flatness(SPACE, v, 1, columns=["n_stand_ins"]), "StandIns.of"),
        (
            lambda v: neighbourhood_score(SPACE, v, 1, omit_stand_ins="none"),
            "applies only with stand_ins",
        ),
        (
            lambda v: flatness(SPACE, v, 1, stand_ins=StandIns.build(8)),
            "stand_ins cover 8 cells, the space has 27",
        ),
        (
            lambda v: flatness(
                SPACE,
                v,
                1,
                stand_ins=StandIns.build(27),
                omit_stand_ins="x",  # type: ignore[arg-type]
            ),
            "omit_stand_ins must be one of self, all, none",
        ),
    ],
)
def test_stand_in_options_that_do_not_apply_are_refused(call: object, words: str) -> None:
    with pytest.raises(Nb201FlatError, match=words):
        call(np.ones(SPACE.size))  # type: ignore[operator]


def test_stand_ins_take_pairs_as_an_array_and_flatness_columns_as_a_generator() -> None:
    # a frame's (index, copied_from) columns as an (n, 2) array were refused as "no pairs",
    # and a generator of columns was read empty by the check before its use
    space = Space(("a", "b"), 3)
    pairs = np.array([[4, 3], [5, 3]])
    assert StandIns.build(8, copies=pairs) == StandIns.build(8, copies=[(4, 3), (5, 3)])
    with pytest.raises(Nb201FlatError, match=r"^copies must be a list of \(cell, copied_from\) "):
        StandIns.build(8, copies=[4, 3])
    values = np.arange(8.0)
    got = flatness(space, values, 1, columns=(c for c in ["mean", "n"]))
    assert list(got.columns) == ["mean", "n"]
    with pytest.raises(Nb201FlatError, match="^omit_stand_ins must be one of") as info:
        flatness(space, values, 1, stand_ins=StandIns.build(8), omit_stand_ins=np.zeros((2, 2)))  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("size", [2**63, 2**62, -1])
def test_stand_ins_refuse_a_size_no_space_has_in_one_line(size: int) -> None:
    # 2**63 raised numpy's bare "Maximum allowed dimension exceeded" while allocating
    from nb201_flat.errors import ArgumentError
    from nb201_flat.space import MAX_SPACE_SIZE

    with pytest.raises(ArgumentError) as err:
        StandIns.build(size)
    assert str(err.value) == (
        f"size must lie in 1..{MAX_SPACE_SIZE}, got {size}; pass the space's size, e.g. space.size"
    )
    assert MAX_SPACE_SIZE == 2**62 - 1  # the largest a Space indexes
    with pytest.raises(Nb201FlatError, match="too large to index"):
        Space(("a", "b"), 12)  # 2**66 cells


@pytest.mark.usefixtures("cap_alone")
def test_stand_ins_of_a_space_too_big_for_memory_are_a_resource_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a size within range that cannot be allocated raised numpy's bare _ArrayMemoryError
    from nb201_flat import budget
    from nb201_flat.errors import ResourceLimitError

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "64M")
    with pytest.raises(
        ResourceLimitError, match=r"^stand-ins for a space of 1099511627776 cells needs about "
    ):
        StandIns.build(2**40)
    assert StandIns.build(10**5).group.size == 10**5  # a table-sized space still fits


@pytest.mark.parametrize(("dataset", "epochs"), [("CIFAR10", 1), ("cifar10", 200), ("c10", 1)])
def test_stand_ins_of_a_dataset_or_schedule_the_table_lacks_are_refused(
    dataset: str, epochs: int
) -> None:
    # 'CIFAR10' matched no copy record: the copies were counted as neighbour measurements
    acc = np.full(NB201.size, np.nan)
    acc[[3, 5]] = 50.0
    meta = {
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": 5, "copied_from": 3}
        ]
    }
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 1), 0): acc}, meta=meta)
    assert StandIns.of(table, "cifar10", 1).n_copies == 1  # type: ignore[union-attr]
    with pytest.raises(UnknownKeyError) as err:
        StandIns.of(table, dataset, epochs)
    assert str(err.value) == (
        f"the table holds no {dataset!r} values at {epochs} epochs, so no stand-ins of them; "
        "it holds cifar10@1ep"
    )


def test_values_whose_squares_overflow_are_refused_with_stand_ins_too() -> None:
    # stand-ins gather every statistic: 1e200 squared was inf, the std inf with a warning,
    # where the same call without them (ball_stats) refuses the value
    cube = Space(("a", "b"), 3)
    v = np.array([1e200, -1e200, 0, 0, 0, 0, 0, 0.0])
    stand = StandIns.build(8, copies=[(7, 6)])
    with pytest.raises(Nb201FlatError, match="too large"):
        flatness(cube, v, 1)
    for call in (
        lambda: flatness(cube, v, 1, stand_ins=stand),
        lambda: neighbourhood_score(cube, v, 1, agg="std", stand_ins=stand),
    ):
        with pytest.raises(Nb201FlatError, match="too large for the neighbourhood std") as exc:
            call()
        assert "\n" not in str(exc.value) and str(exc.value).endswith("; rescale the metric")
    # what needs no squares is served
    assert np.isfinite(neighbourhood_score(cube, v, 1, agg="max", stand_ins=stand)).all()
