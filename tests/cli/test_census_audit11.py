"""``census`` after the eleventh audit (each finding reproduced first): a census with no pair
names fixes the command has (no bands, which no option moves), and a bad key part is named as
the table's, as the other commands name it, not as a MetricKey's rule."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.cli import build_parser
from nb201_flat.errors import MissingValueError
from nb201_flat.landscape.census import barrier_census
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

CUBE = Space(("a", "b"), 3)
KEY10 = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")


@pytest.fixture(scope="module")
def one_cell_table(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A²M's cifar10 key measured in full, and a 1-epoch key measured on one cell alone (a
    retraining table's first run)."""
    full = np.random.default_rng(0).uniform(80, 95, NB201.size)
    one = np.full(NB201.size, np.nan)
    one[11472] = 40.0
    data = {
        (MetricKey("cifar10", "ori-test", 200), None): full,
        (MetricKey("cifar10", "ori-test", 1), None): one,
    }
    return str(save_table(Table(NB201, data), tmp_path_factory.mktemp("t") / "t.nb201"))


@pytest.fixture(scope="module")
def sparse_a2m_table(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A²M's cifar10 key measured on one cell, in band A: band pairs are drawn, none found."""
    one = np.full(NB201.size, np.nan)
    one[11472] = 93.0
    data = {(MetricKey("cifar10", "ori-test", 200), None): one}
    return str(save_table(Table(NB201, data), tmp_path_factory.mktemp("s") / "s.nb201"))


def _census_flags() -> set[str]:
    """The option strings of ``census --help``."""
    parser = build_parser("census")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {o for a in sub.choices["census"]._actions for o in a.option_strings}


def _flags_in(line: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line))


# -- finding 1: the fix of a census with no pair ------------------------------------------------
@pytest.mark.parametrize("extra", [(), ("--connected-only",)])
def test_census_with_no_pair_names_only_options_the_command_has(
    capsys: pytest.CaptureFixture[str], one_cell_table: str, extra: tuple[str, ...]
) -> None:
    # it said "move or widen the bands, or choose other values": with --pairs 0 no band is
    # drawn, no option moves one, and "other values" named nothing the command takes
    argv = ("census", "--pairs", "0", "--top-k", "2", "--dataset", "cifar10", "--split")
    line = one_line_exit_2(capsys, *argv, "ori-test", "--epochs", "1", *extra,
                           "--table", one_cell_table)  # fmt: skip
    assert line.startswith("error: no pair to compute: top-k: fewer than 2")
    assert "bands" not in line and "values" not in line
    fix = line.split("; ")[-1]
    assert fix.startswith("choose other --dataset --split --epochs --metric")
    assert "`nb201-flat info`" in fix
    # one measured cell: neither a larger top K nor band pairs can give a pair
    assert "--top" not in line and "--pairs" not in line
    assert _flags_in(line) <= _census_flags(), _flags_in(line) - _census_flags()


def test_census_with_no_connected_pair_names_dropping_connected_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = np.full(NB201.size, np.nan)
    f[[10, 13047]] = 40.0  # a disconnected cell and a connected neighbour of it
    assert not NB201.connected[10] and NB201.connected[13047]
    key = MetricKey("cifar10", "ori-test", 1)
    table = str(save_table(Table(NB201, {(key, None): f}), tmp_path / "c.nb201"))
    argv = ("census", "--pairs", "0", "--top-k", "2", "--dataset", "cifar10", "--split",
            "ori-test", "--epochs", "1", "--table", table)  # fmt: skip
    line = one_line_exit_2(capsys, *argv, "--connected-only")
    assert "fewer than 2 connected architectures are measured; drop --connected-only, or " in line
    assert _flags_in(line) <= _census_flags(), _flags_in(line) - _census_flags()
    code, out, _ = run(capsys, *argv)  # the fix holds: the pair is there without it
    assert code == 0 and "\ntop-k       1 " in out


def test_census_with_band_pairs_and_no_pair_names_no_bands_either(
    capsys: pytest.CaptureFixture[str], sparse_a2m_table: str
) -> None:
    line = one_line_exit_2(capsys, "census", "--table", sparse_a2m_table)
    assert line.startswith("error: no pair to compute: A: it holds 1 architecture in [")
    assert "top-k: fewer than 2 architectures are measured" in line
    assert "bands" not in line  # the command's bands are A²M's: nothing moves them
    assert "choose other --dataset --split --epochs --metric" in line
    assert _flags_in(line) <= _census_flags(), _flags_in(line) - _census_flags()


def test_census_library_names_its_parameters_and_bands_only_where_drawn() -> None:
    f = np.full(CUBE.size, np.nan)
    f[7] = 9.0
    with pytest.raises(MissingValueError) as e:
        barrier_census(CUBE, f, {"hi": (0, 10)}, n_pairs=0, top_k=2, seed=0)
    assert str(e.value).endswith(
        "top-k: fewer than 2 architectures are measured; choose other values"
    )
    with pytest.raises(MissingValueError) as e:
        barrier_census(CUBE, f, {"hi": (0, 10)}, n_pairs=2, top_k=2, seed=0)
    assert str(e.value).endswith("; choose other bands or other values")
    # two measured cells at distance 1, bands drawn at 3, no top K: each fix that can help
    g = np.full(CUBE.size, np.nan)
    g[[6, 7]] = 9.0
    with pytest.raises(MissingValueError) as e:
        barrier_census(CUBE, g, {"hi": (0, 10)}, n_pairs=2, top_k=0, seed=0)
    assert str(e.value).endswith(
        "; draw band pairs at any distance (distance=None), or add a top K of 2 or more "
        "(top_k=K), or choose other bands or other values"
    )


def test_census_library_names_connected_only_where_it_left_cells_out() -> None:
    space = Space(("none", "b"), 3)  # cell 0 (all none) is disconnected
    f = np.full(space.size, np.nan)
    f[[0, 7]] = 9.0
    assert not space.connected[0] and space.connected[7]
    with pytest.raises(MissingValueError) as e:
        barrier_census(space, f, {"hi": (0, 10)}, n_pairs=0, top_k=2, seed=0, connected_only=True)
    assert str(e.value).endswith(
        "fewer than 2 connected architectures are measured; drop connected_only, or choose "
        "other values"
    )


# -- finding 2: a bad key part named as the table names it ---------------------------------------
BAD_PARTS = [
    ("dataset", ""),
    ("split", ""),
    ("epochs", "-1"),
    ("epochs", "9223372036854775808"),  # past int64
    ("metric", ""),
]


def _key_with(part: str, value: str) -> list[str]:
    given = dict(zip(KEY10[::2], KEY10[1::2], strict=True)) | {f"--{part}": value}
    return [x for flag, v in given.items() for x in (flag, v)]


@pytest.mark.parametrize(("part", "value"), BAD_PARTS)
@pytest.mark.parametrize("command", [("census",), ("flatness",), ("barrier", "0", "1")])
def test_a_bad_key_part_is_named_as_the_tables(
    capsys: pytest.CaptureFixture[str],
    one_cell_table: str,
    command: tuple[str, ...],
    part: str,
    value: str,
) -> None:
    # census said "MetricKey epochs must be >= 0, got -1": a rule of the library's key, naming
    # no option and no key the table has
    argv = (*command, *_key_with(part, value), "--table", one_cell_table)
    line = one_line_exit_2(capsys, *argv)
    assert "MetricKey" not in line
    shown = repr(value) if part != "epochs" else value
    assert f"unknown {part} {shown}" in line and "this table has " in line
    assert "(see `nb201-flat info`)" in line


def test_census_metric_without_a_key_is_named_by_its_option(
    capsys: pytest.CaptureFixture[str], one_cell_table: str
) -> None:
    line = one_line_exit_2(capsys, "census", "--metric", "", "--table", one_cell_table)
    assert "MetricKey" not in line
    assert "with metric ''; drop --metric '', or name one with --dataset --split --epochs" in line
