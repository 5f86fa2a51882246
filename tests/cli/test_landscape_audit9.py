"""``barrier`` and ``census`` after an audit of the landscape layer (each finding reproduced
first): the lowest barrier of a pair too far apart for its shortest paths, the A²M code's note
by the direction used, the top K on a dataset without A²M bands, ``--connected-only`` and
``--no-none`` on a space without ``none``, and the pair draw seeded by the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.landscape import barrier_tree
from nb201_flat.landscape.census import BARRIER_NAMES
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

WIDE = Space(("a", "b"), 5)  # 10 edges, 1,024 cells: 0 and 1023 differ on every edge
NO_NONE = Space(("skip", "conv1", "conv3", "pool"), 4)
KEY10 = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")


def _save(space: Space, values: dict[MetricKey, np.ndarray], path: Path) -> str:
    return str(save_table(Table(space, {(k, None): v for k, v in values.items()}), path))


# -- barrier: a pair whose shortest paths cannot be enumerated still has its lowest barrier ------
def test_barrier_of_a_pair_beyond_the_shortest_path_limit_prints_the_lowest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    v = np.random.default_rng(0).normal(80, 5, WIDE.size)
    table = _save(WIDE, {MetricKey("cifar10", "ori-test", 200): v}, tmp_path / "t")
    args = ("barrier", "0", "1023", *KEY10, "--table", table)
    low = barrier_tree(WIDE, v).path(0, 1023)
    code, out, err = run(capsys, *args, "--json")
    assert code == 0 and err == "", err
    doc = json.loads(out)
    assert list(doc["barriers"]) == ["lowest"]
    assert doc["barriers"]["lowest"]["barrier"] == pytest.approx(low.barrier)
    assert doc["path"]["barrier"] == pytest.approx(low.barrier)
    assert set(doc["unavailable"]) == set(BARRIER_NAMES) - {"lowest"}
    for why in doc["unavailable"].values():
        assert "differ on 10 edges" in why and "too many to enumerate" in why
    code, out, err = run(capsys, *args)
    assert code == 0 and err == ""
    # one reason for the five, with no hint at the lowest barrier printed above it
    assert out.count("(unavailable: architectures 0 and 1023 differ on 10 edges") == 1
    assert out.count(" unavailable\n") == 5 and "--method lowest" not in out
    assert all("--method lowest" not in why for why in doc["unavailable"].values())
    assert f"path: lowest over the whole space, barrier {low.barrier:.4f}" in out
    # the shortest paths themselves, asked for, stay a one-line refusal
    line = one_line_exit_2(capsys, *args, "--method", "best-shortest")
    assert "too many to enumerate" in line and "--method lowest" in line


def test_barrier_across_an_unmeasured_cell_prints_the_lowest_without_pointing_at_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    v = np.random.default_rng(0).normal(80, 5, WIDE.size)
    v[1] = np.nan  # on a shortest path from 0 to 3 (a detour exists)
    table = _save(WIDE, {MetricKey("cifar10", "ori-test", 200): v}, tmp_path / "t")
    code, out, err = run(capsys, "barrier", "0", "3", *KEY10, "--table", table)
    assert code == 0 and err == "", err
    assert out.count("(unavailable: 1 architecture(s) on the shortest paths from 0 to 3") == 1
    assert "--method lowest" not in out and out.count(" unavailable\n") == 5
    # asked for a shortest-path barrier, the refusal still names the way to the lowest
    line = one_line_exit_2(capsys, "barrier", "0", "3", *KEY10, "--table", table,
                           "--method", "best-shortest")  # fmt: skip
    assert "have no value" in line and "--method lowest finds the lowest barrier" in line


# -- barrier: the A²M code's note follows the direction used, not the metric's name -------------
@pytest.fixture
def notes_table(tmp_path: Path) -> str:
    v = 40 + (NB201.codes == 3).sum(axis=1) * 5.0 + np.arange(NB201.size) % 7 * 0.1
    keys = {
        MetricKey("cifar10", "ori-test", 200): v,
        MetricKey("cifar10", "ori-test", 200, "drift_1d"): v,  # a drift accuracy, in percent
        MetricKey("cifar10", "ori-test", 200, "loss"): 100 - v,
    }
    return _save(NB201, keys, tmp_path / "t")


def _note(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str | None, float]:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    entry = json.loads(out)["barriers"]["a2m_code_54ce096"]
    return entry.get("note"), entry["barrier"]


def test_the_a2m_code_note_is_decided_by_the_direction_used(
    capsys: pytest.CaptureFixture[str], notes_table: str
) -> None:
    far = next(i for i in range(NB201.size) if NB201.hamming(0, i) == 3)
    near = next(i for i in range(NB201.size) if NB201.hamming(0, i) == 1)
    pair = ("barrier", "0", str(far), *KEY10, "--table", notes_table)
    # a drift accuracy read higher-is-better: the code's own number, no note (it said
    # "mirrored for a lower-is-better metric")
    assert _note(capsys, *pair, "--metric", "drift_1d")[0] is None
    assert _note(capsys, *pair)[0] is None
    # an accuracy read lower-is-better: mirrored (it had no note)
    note, _ = _note(capsys, *pair, "--lower-is-better")
    assert (
        note is not None and "for accuracy the number is its code's construction mirrored" in note
    )
    # a loss read higher-is-better: no accuracy in percent, but not mirrored either
    note, _ = _note(capsys, *pair, "--metric", "loss", "--higher-is-better")
    assert note is not None and "mirrored" not in note and "loss is no accuracy" in note
    assert "for loss the number is its code's construction mirrored" in str(
        _note(capsys, *pair, "--metric", "loss")[0]
    )
    # at distance 1, read lower-is-better, the number is -(A + B)/2 - 100: said so
    one = ("barrier", "0", str(near), *KEY10, "--table", notes_table, "--lower-is-better")
    note, number = _note(capsys, *one)
    assert note is not None and "-(A + B)/2 - 100" in note
    doc = json.loads(run(capsys, *one, "--json")[1])
    assert number == round(-(doc["value_a"] + doc["value_b"]) / 2 - 100, 2)
    code, out, _ = run(capsys, *one)
    assert code == 0 and "(A²M code, current: " in out and "-(A + B)/2 - 100" in out


# -- census: the top K alone on a dataset A²M gives no bands --------------------------------------
def test_census_top_k_alone_on_a_dataset_without_a2m_bands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    space = Space(("none", "skip", "conv"), 3)
    v = np.random.default_rng(0).normal(50, 5, space.size)
    table = _save(space, {MetricKey("toy", "x-valid", 200): v}, tmp_path / "t")
    args = ("census", "--dataset", "toy", "--split", "x-valid", "--epochs", "200")
    code, out, err = run(capsys, *args, "--pairs", "0", "--top-k", "3", "--table", table, "--json")
    assert code == 0 and err == "", err
    groups = json.loads(out)["datasets"][0]["groups"]
    assert [(g["group"], g["pairs"]) for g in groups] == [("top-k", 3)]
    line = one_line_exit_2(capsys, *args, "--pairs", "3", "--table", table)
    assert "A²M's bands are of test accuracy" in line and "--pairs 0" in line


# -- --connected-only and --no-none on a space without `none` ------------------------------------
@pytest.fixture
def no_none_table(tmp_path: Path) -> str:
    v = np.random.default_rng(1).normal(80, 5, NO_NONE.size)
    return _save(NO_NONE, {MetricKey("cifar10", "ori-test", 200): v}, tmp_path / "t")


@pytest.mark.parametrize(
    "argv",
    [
        ("flatness", "--top", "2"),
        ("barrier", "0", "5"),
        ("census", "--pairs", "0", "--top-k", "3"),
    ],
)
def test_connected_only_without_none_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], no_none_table: str, argv: tuple[str, ...]
) -> None:
    # every cell is connected: it printed the numbers without it, silently
    line = one_line_exit_2(capsys, *argv, *KEY10, "--table", no_none_table, "--connected-only")
    assert line == (
        "error: --connected-only leaves out disconnected cells, and a space without an op "
        "named 'none' has none; drop --connected-only for this space"
    )


def test_no_none_without_none_is_spelled_as_the_flag(
    capsys: pytest.CaptureFixture[str], no_none_table: str
) -> None:
    line = one_line_exit_2(capsys, "flatness", *KEY10, "--table", no_none_table, "--no-none")
    assert line == (
        "error: --no-none needs an op named 'none' in the space; drop --no-none for this space"
    )


# -- census: a dataset's pair draw does not depend on the others drawn beside it ------------------
def test_census_draws_a_dataset_alike_named_alone_or_beside_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a table of cifar100 and ImageNet16-120 (no cifar10): all keys drew cifar100 with seed
    # + 0, --dataset cifar100 with seed + 0 too, and a table of all three with seed + 1
    rng = np.random.default_rng(2)
    keys = {
        MetricKey("cifar100", "x-test", 200): rng.uniform(54, 71, NB201.size),
        MetricKey("ImageNet16-120", "x-test", 200): rng.uniform(24, 48, NB201.size),
    }
    table = _save(NB201, keys, tmp_path / "t")
    common = ("--pairs", "4", "--top-k", "0", "--pair-seed", "7", "--table", table)
    every, named = tmp_path / "every.csv", tmp_path / "named.csv"
    code, out, err = run(capsys, "census", *common, "--pairs-out", str(every), "--json")
    assert code == 0, err
    seeds = {d["dataset"]: d["pair_seed"] for d in json.loads(out)["datasets"]}
    assert seeds == {"cifar100": 8, "ImageNet16-120": 9}
    alone = ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")
    code, out, err = run(capsys, "census", *alone, *common, "--pairs-out", str(named), "--json")
    assert code == 0, err
    assert json.loads(out)["datasets"][0]["pair_seed"] == 8
    a, b = pd.read_csv(every), pd.read_csv(named)
    pd.testing.assert_frame_equal(a[a["dataset"] == "cifar100"].reset_index(drop=True), b)
