"""What the library keeps and where it writes (a fourteenth audit's findings, each reproduced
first): a barrier tree and an oracle answer from the values they were built on, not from the
caller's array edited later (copied unless no one can write it, as a Table's vectors are); a
write to an absolute path works with the working folder removed, and a relative one is refused
in one line that says why and what to do."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat import atomic
from nb201_flat.cli.common import check_outside_table
from nb201_flat.errors import ArgumentError
from nb201_flat.landscape import barrier_tree
from nb201_flat.search import Oracle, OracleData
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

S = Space(("a", "b"), 3)  # 8 cells: 0 and 7 are three steps apart
TINY = Space(("none", "skip_connect", "conv"), 3)
KEY = MetricKey("toy", "x-valid", 12)
GONE = "the working folder no longer exists; cd to an existing folder, or give an absolute path"


# -- a barrier tree keeps the values it was built on --------------------------------------------
def test_barrier_tree_paths_keep_their_values_after_the_caller_edits_the_input() -> None:
    mine = np.array([9.0, 1, 1, 1, 1, 1, 1, 8])
    tree = barrier_tree(S, mine)
    before = tree.path(0, 7)
    assert not np.shares_memory(tree.values, mine) and not tree.values.flags.writeable
    mine[before.path[1]] = -50.0  # a cell on the returned path: the path served -50 at barrier 8
    mine[[2, 4]] = np.nan  # the tree counted them unmeasured
    after = tree.path(0, 7)
    assert after.path == before.path and after.barrier == before.barrier
    assert after.values.tolist() == before.values.tolist()
    assert tree.unmeasured == 0 and mine.flags.writeable


def test_barrier_tree_shares_a_vector_no_one_can_write() -> None:
    vec = Table(S, {(KEY, None): np.array([9.0, 1, 1, 1, 1, 1, 1, 8])}).vector_for(KEY)
    assert np.shares_memory(barrier_tree(S, vec).values, vec)  # a table's own: no copy


# -- an oracle keeps the values it was built on --------------------------------------------------
def _oracle(values: np.ndarray, **kw: object) -> OracleData:
    return OracleData(TINY, KEY, values, None, None, None, None, 100, **kw)  # type: ignore[arg-type]


def test_oracle_answers_unchanged_after_the_base_of_its_values_is_edited() -> None:
    base = np.arange(27.0)
    data = _oracle(base[None, :], candidates=np.arange(27))  # a read-only view was all it froze
    base[5] = -1.0
    assert Oracle(data, np.random.default_rng(0)).query(5) == 5.0
    assert not np.shares_memory(data.values, base) and base.flags.writeable
    assert not data.values.flags.writeable and not data.candidates.flags.writeable  # type: ignore[union-attr]


def test_oracle_answers_unchanged_after_the_frame_it_came_from_is_edited() -> None:
    df = pd.DataFrame({"acc": np.arange(27.0)})
    data = _oracle(df["acc"].to_numpy()[None, :])
    df.loc[5, "acc"] = 0.0  # the oracle answered 0.0
    assert Oracle(data, np.random.default_rng(0)).query(5) == 5.0


def test_oracle_shares_arrays_no_one_can_write() -> None:
    vec = Table(TINY, {(KEY, None): np.arange(27.0)}).vector_for(KEY)
    costs = Table(TINY, {(KEY, None): np.arange(1.0, 28.0)}).vector_for(KEY)
    data = OracleData(TINY, KEY, vec[None, :], None, None, costs, None, 100)
    assert np.shares_memory(data.values, vec) and np.shares_memory(data.costs, costs)


# -- writes with the working folder removed ------------------------------------------------------
@contextlib.contextmanager
def removed_working_folder(tmp_path: Path) -> Iterator[None]:
    """Run the block in a working folder removed under it, then go back (before pytest reports:
    it reads the working folder)."""
    here = os.getcwd()
    gone = tmp_path / "gone"
    gone.mkdir()
    os.chdir(gone)
    try:
        gone.rmdir()
        yield
    finally:
        os.chdir(here)


def test_an_absolute_write_needs_no_working_folder(tmp_path: Path) -> None:
    with removed_working_folder(tmp_path):
        atomic.write_bytes(tmp_path / "f.bin", b"one")
        with atomic.replace_folder(tmp_path / "table") as tmp:
            (tmp / "a.txt").write_text("two")
        with atomic.replace_files(tmp_path / "report") as stage:
            (stage / "b.txt").write_text("three")
        atomic.check_writable_file(tmp_path / "g.csv", what="--pairs-out")
    assert (tmp_path / "f.bin").read_bytes() == b"one"
    assert (tmp_path / "table" / "a.txt").read_text() == "two"
    assert (tmp_path / "report" / "b.txt").read_text() == "three"


def test_a_relative_write_without_a_working_folder_is_one_line(tmp_path: Path) -> None:
    refusals = []
    writes: list[Callable[[], object]] = [
        lambda: atomic.write_bytes("f.bin", b"one"),
        lambda: atomic.check_writable_target("table"),
        lambda: atomic.check_writable_folder("report"),
        lambda: atomic.check_writable_file("g.csv", what="--pairs-out"),
    ]
    with removed_working_folder(tmp_path):
        for write in writes:
            with pytest.raises(ArgumentError) as err:
                write()
            refusals.append(str(err.value))
    assert refusals == [
        f"path f.bin is a relative path, but {GONE}",
        f"out table is a relative path, but {GONE}",
        f"out report is a relative path, but {GONE}",
        f"--pairs-out g.csv is a relative path, but {GONE}",
    ]


def test_check_outside_table_without_a_working_folder(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    vec = np.arange(8.0)
    table = Table(S, {(KEY, None): vec}, meta={"path": str(folder)})
    # a table read as ../t from a folder removed since: `..` still reaches it
    relative = Table(S, {(KEY, None): vec}, meta={"path": os.path.join("..", "t")})
    with removed_working_folder(tmp_path):
        check_outside_table(str(tmp_path / "x.csv"), table, "--pairs-out")
        check_outside_table(str(tmp_path / "x.csv"), relative, "--pairs-out")
        with pytest.raises(
            ArgumentError, match=f"^--pairs-out x.csv is a relative path, but {GONE}$"
        ):
            check_outside_table("x.csv", table, "--pairs-out")
        for read in (table, relative):
            with pytest.raises(ArgumentError, match="lies inside the table folder"):
                check_outside_table(str(folder / "x.csv"), read, "--pairs-out")
