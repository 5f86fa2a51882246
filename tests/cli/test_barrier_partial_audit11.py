"""The lowest barrier on a partly measured table (the eleventh audit, reproduced first): its
search never crosses an unmeasured cell, so it is the lowest through measured cells, an upper
bound, and it was named "lowest over the whole space" (``barrier``: 12.5 on a retraining
campaign's ball, 4.1667 once one more cell was trained). Now named so, with a note, in the
barrier and census text, ``--json``, ``--pairs-out`` and the census figure; a fully measured
table keeps its names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run
from matplotlib.figure import Figure
from matplotlib.text import Text

from nb201_flat.landscape import barrier_tree
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

CUBE = Space(("a", "b"), 3)  # index = the edges' codes in binary: 0 = 000, 3 = 011
KEY10 = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
C10 = MetricKey("cifar10", "ori-test", 200)
WHOLE = "lowest over the whole space"
BOUND = "lowest through measured cells (an upper bound: 1 cell unmeasured)"
NOTE = (
    "note: the lowest barrier goes through measured cells only (unmeasured: 1 of the 8 cells): "
    "a path through an unmeasured cell could be lower, so it is an upper bound, exact where "
    "nothing lies beyond the worse endpoint (no path avoids it, so none has a better bottleneck)"
)
# 0 -> 3 at distance 2: midpoint 1 unmeasured, midpoint 2 low, the detour through 4..7 lower
PARTIAL = np.array([9.0, np.nan, 5, 9, 2, 2, 2, 2])


def _save(space: Space, v: np.ndarray, path: Path) -> str:
    return str(save_table(Table(space, {(C10, None): v}, source="t"), path))


def _rows(out: str) -> dict[str, str]:
    """The barrier table's rows by name (the names' column is as wide as its longest)."""
    return {
        line[2:].split("  ")[0]: line
        for line in out.splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    }


# -- barrier ------------------------------------------------------------------------------------
def test_barrier_across_an_unmeasured_midpoint_names_the_lowest_an_upper_bound(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ("barrier", "0", "3", *KEY10, "--table", _save(CUBE, PARTIAL, tmp_path / "p"))
    code, out, err = run(capsys, *args)
    assert code == 0 and err == "", err  # not refused: the number is honest once named
    assert WHOLE not in out
    row = _rows(out)[BOUND]
    assert row.split()[-4:] == ["4.0000", "4.0000", "(2", "steps)"]
    assert f"path: {BOUND}, barrier 4.0000 over 2 steps" in out
    assert out.count(NOTE + "\n") == 1
    doc = json.loads(run(capsys, *args, "--json")[1])
    low = doc["barriers"]["lowest"]
    assert low["name"] == doc["path"]["name"] == BOUND
    assert low["upper_bound"] is True and low["unmeasured"] == 1
    assert low["barrier"] == 4.0 and low["above_worse"] == 4.0 and low["length"] == 2
    assert doc["lowest_note"] == NOTE.removeprefix("note: ")
    # the bound is real: measured, the midpoint joins the pair with no barrier at all
    full = PARTIAL.copy()
    full[1] = 9.0
    assert barrier_tree(CUBE, full).lowest(0, 3) == (0.0, 2)


def test_barrier_on_a_fully_measured_table_keeps_its_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    full = PARTIAL.copy()
    full[1] = 1.0
    args = ("barrier", "0", "3", *KEY10, "--table", _save(CUBE, full, tmp_path / "f"))
    code, out, err = run(capsys, *args)
    assert code == 0 and err == ""
    assert _rows(out)[WHOLE].startswith(f"  {WHOLE:<30} ")  # the column as wide as before
    assert f"path: {WHOLE}, barrier" in out
    assert "measured cells" not in out and "upper bound" not in out
    doc = json.loads(run(capsys, *args, "--json")[1])
    low = doc["barriers"]["lowest"]
    assert low["name"] == WHOLE and low["upper_bound"] is False and low["unmeasured"] == 0
    assert "lowest_note" not in doc


def test_connected_only_counts_only_the_cells_its_search_could_cross(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    v = np.random.default_rng(0).uniform(50, 90, NB201.size)
    off = int(np.flatnonzero(~NB201.connected)[0])
    v[off] = np.nan  # excluded by --connected-only whatever its value
    table = _save(NB201, v, tmp_path / "d")
    a, b = (int(i) for i in np.flatnonzero(NB201.connected)[[0, -1]])
    args = ("barrier", str(a), str(b), *KEY10, "--table", table)
    doc = json.loads(run(capsys, *args, "--connected-only", "--json")[1])
    low = doc["barriers"]["lowest"]
    assert low["name"] == "lowest through connected cells" and low["upper_bound"] is False
    # without it the disconnected cell could lie on a path: it counts
    doc = json.loads(run(capsys, *args, "--json")[1])
    assert doc["barriers"]["lowest"]["unmeasured"] == 1
    # an upper bound, or exact where it reaches the worse endpoint (which no path avoids)
    beyond = doc["barriers"]["lowest"]["above_worse"] > 0
    exact = "(exact though 1 cell is unmeasured: at the worse endpoint)"
    assert doc["barriers"]["lowest"]["name"] == (BOUND if beyond else f"{WHOLE} {exact}")
    assert doc["barriers"]["lowest"]["upper_bound"] is beyond
    on = int(np.flatnonzero(NB201.connected)[5])
    v[on] = np.nan  # a connected cell: --connected-only's search could have crossed it
    table = _save(NB201, v, tmp_path / "c")
    args = ("barrier", str(a), str(b), *KEY10, "--table", table, "--connected-only")
    code, out, _ = run(capsys, *args)
    beyond = json.loads(run(capsys, *args, "--json")[1])["barriers"]["lowest"]["upper_bound"]
    name = (
        "lowest through measured connected cells (an upper bound: 1 cell unmeasured)"
        if beyond
        else f"lowest through connected cells {exact}"
    )
    assert code == 0 and name in _rows(out) and f"path: {name}, barrier" in out
    total = int(NB201.connected.sum())
    assert (f"(unmeasured: 1 of the {total:,} connected cells)" in out) is beyond


# -- census -------------------------------------------------------------------------------------
def test_census_on_a_partly_measured_table_notes_the_lowest_is_an_upper_bound(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = _save(CUBE, PARTIAL, tmp_path / "p")
    csv = tmp_path / "pairs.csv"
    args = ("census", *KEY10, "--table", table, "--pairs", "0", "--top-k", "3")
    argv = (*args, "--nan-policy", "omit", "--pairs-out", str(csv))
    code, out, err = run(capsys, *argv)
    assert code == 0 and err == "", err
    note = NOTE + "; the lowest medians are thus upper bounds, and the no-barrier fraction a lower"
    assert out.count(note + " bound\n") == 1
    pairs = pd.read_csv(csv)
    assert list(pairs.columns[-2:]) == ["lowest_upper_bound", "unmeasured"]
    assert pairs["lowest_upper_bound"].all() and (pairs["unmeasured"] == 1).all()
    doc = json.loads(run(capsys, *argv, "--json")[1])
    (d,) = doc["datasets"]
    assert d["lowest_upper_bound"] is True and d["unmeasured"] == 1
    assert note.removeprefix("note: ") + " bound" in d["notes"]


def test_census_on_a_fully_measured_table_keeps_its_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    full = PARTIAL.copy()
    full[1] = 1.0
    table = _save(CUBE, full, tmp_path / "f")
    csv = tmp_path / "pairs.csv"
    args = ("census", *KEY10, "--table", table, "--pairs", "0", "--top-k", "3")
    code, out, _ = run(capsys, *args, "--pairs-out", str(csv))
    assert code == 0 and "upper bound" not in out and "measured cells" not in out
    assert pd.read_csv(csv).columns[-1] == "no_barrier"  # no column added
    doc = json.loads(run(capsys, *args, "--json")[1])
    (d,) = doc["datasets"]
    assert d["lowest_upper_bound"] is False and d["unmeasured"] == 0
    assert not any("upper bound" in n for n in d["notes"])


# -- the library's names, and the figure ---------------------------------------------------------
def test_the_tree_counts_unmeasured_cells_and_the_census_keeps_the_count() -> None:
    from nb201_flat.landscape.census import barrier_census, lowest_name

    assert barrier_tree(CUBE, PARTIAL).unmeasured == 1
    assert lowest_name(False, 0) == WHOLE and lowest_name(False, 1) == BOUND
    df = barrier_census(CUBE, PARTIAL, {}, n_pairs=0, top_k=3, seed=0, nan_policy="omit")
    assert df.attrs["unmeasured"] == 1


def _texts(fig: Figure) -> str:
    """Every text the figure draws (caption, titles, legend), its wrapping undone."""
    return " ".join(t.get_text().replace("\n", " ") for t in fig.findobj(Text))


def test_the_census_figure_names_the_lowest_an_upper_bound(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from nb201_flat.figures._common import TEST_KEYS, figure_notes
    from nb201_flat.figures.census import make_barrier_census
    from nb201_flat.testing import figure_table

    ft = figure_table()
    key, key100 = TEST_KEYS["cifar10"], TEST_KEYS["cifar100"]
    v = ft.vector_for(key).copy()
    v[np.argsort(v)[:3]] = np.nan  # three of the worst cells unmeasured
    fig = make_barrier_census(Table(ft.space, {(key, None): v}, source="x"), n_pairs=5, top_k=3)
    labels = [t.get_text() for t in fig.legends[0].texts]
    name = "lowest through measured cells (an upper bound: 3 cells unmeasured)"
    assert labels[0] == name and WHOLE not in _texts(fig)
    assert "exact maximin path over the whole space" not in _texts(fig)
    assert any(n.startswith("CIFAR-10: the lowest barrier goes through") for n in figure_notes(fig))
    # the pairs without a barrier through measured cells have none; the others may: "at least"
    title = re.search(r"for (at least )?(\d+) of (\d+) pairs", fig.axes[0].get_title())
    assert title and bool(title[1]) == (int(title[2]) < int(title[3]))
    # panels lacking different counts: the legend names neither count
    w = ft.vector_for(key100).copy()
    w[np.argsort(w)[:2]] = np.nan
    both = Table(ft.space, {(key, None): v, (key100, None): w}, source="x")
    fig = make_barrier_census(both, n_pairs=5, top_k=3)
    label = fig.legends[0].texts[0].get_text()
    assert label.startswith("lowest through measured cells (an upper bound") and "3" not in label
    # a fully measured table: the names as before
    full = make_barrier_census(Table(ft.space, {(key, None): ft.vector_for(key)}, source="x"),
                               n_pairs=5, top_k=3)  # fmt: skip
    assert full.legends[0].texts[0].get_text() == WHOLE
    assert "exact maximin path over the whole space" in _texts(full)
    assert "at least" not in _texts(full)
