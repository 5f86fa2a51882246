"""Tables moved between forms keep what their numbers were measured on (a transforms audit's
findings): merge_tables refuses two space keys (one was served for both: NB201's own cells
costed as a C=4 network, a C=8 network's labelled C=4) and drops the import command; a tidy
file takes a space key at import (``--space``); a tidy round trip keeps the training mode and
recipe its space key names; a tidy file of another space than NB201's says how to read it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2

from nb201_flat.cli import main
from nb201_flat.costs import network_size, with_analytic_costs
from nb201_flat.errors import ArgumentError, FormatError, ProtocolError
from nb201_flat.importers import import_table
from nb201_flat.importers.naslib_zc import merge_tables
from nb201_flat.importers.tidy import read_tidy
from nb201_flat.space import NB201, Space
from nb201_flat.storage import load_table
from nb201_flat.table import MetricKey, Table

SMALL = "nb201@C4N1#faithful"
CELL = 11472
ACC = MetricKey("cifar100", "ori-test", 200)


def _table(key: str | None, metric: str = "accuracy", **meta: object) -> Table:
    data = {(MetricKey("cifar100", "ori-test", 200, metric), None): np.linspace(10, 90, NB201.size)}
    if key is not None:
        meta["space_key"] = key
    return Table(NB201, data, source=f"t {key} {metric}", meta=meta)


# -- merge_tables: one space key ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "extra"),
    [(None, SMALL), (SMALL, None), (SMALL, "nb201@C8N2#faithful"), ("nb201", None)],
)
def test_a_merge_of_two_space_keys_is_refused_naming_both(
    base: str | None, extra: str | None
) -> None:
    # merge(C4N1 table, NB201) served NB201's cell 11472 a params_mb_analytic of 0.012584
    # (NB201's own: 0.565236); merge(zc, C4N1) lost the C4N1 key to merged_meta
    with pytest.raises(FormatError) as exc:
        merge_tables(_table(base), _table(extra, "synflow"))
    named = [
        "no space key: NB201's own network" if k is None else f"space key {k!r}"
        for k in (base, extra)
    ]
    assert str(exc.value) == (
        f"cannot merge 't {base} accuracy' ({named[0]}) with 't {extra} synflow' ({named[1]}): "
        "a table holds one space key (the network size and training its costs and time "
        "budgets read); merge tables of one key"
    )


def test_a_merge_keeps_the_one_space_key_and_drops_the_import_command() -> None:
    base = _table(SMALL, import_command="nb201-flat import r.sqlite --out r.nb201", mode="faithful")
    extra = _table(SMALL, "synflow", file="o.csv", file_sha256="ab" * 32)
    merged = merge_tables(base, extra)
    assert merged.meta["space_key"] == SMALL and network_size(merged) == (4, 1)
    # no import of one file rebuilds the merge: the rebuild hint named r.sqlite's
    assert "import_command" not in merged.meta and merged.meta["mode"] == "faithful"
    assert merged.meta["merged_meta"] == {"file": "o.csv", "file_sha256": "ab" * 32}
    costs = with_analytic_costs(merged, ["cifar100"])
    small = with_analytic_costs(_table(SMALL), ["cifar100"])
    assert costs.value(CELL, "cifar100", "model", 200, "params_mb_analytic") == small.value(
        CELL, "cifar100", "model", 200, "params_mb_analytic"
    )
    plain = merge_tables(_table(None), _table(None, "synflow"))  # both NB201's own: as before
    assert "space_key" not in plain.meta and network_size(plain) == (16, 5)


# -- a tidy file's space key at import ---------------------------------------------------------
def _csv(path: Path, key: str | None = None) -> Path:
    table = Table(
        NB201,
        {(ACC, None): np.where(np.arange(NB201.size) < 3, 50.0, np.nan)},
        meta={} if key is None else {"space_key": key},
    )
    table.to_tidy().to_csv(path, index=False, na_rep="nan")
    return path


def test_a_tidy_file_takes_the_space_key_its_rows_were_measured_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `import --space` said it applies only to results-db files: no way to mark a tidy file
    # retrained, read as NB201's own numbers (costed at C=16, N=5, NB201's time budgets)
    path = _csv(tmp_path / "ret.csv")
    t = import_table(path, space="nb201@C4N1#fast-bf16")
    assert t.meta["space_key"] == "nb201@C4N1#fast-bf16" and network_size(t) == (4, 1)
    assert t.meta["mode"] == "fast-bf16" and t.meta["recipe"] is None
    out = tmp_path / "ret.nb201"
    assert main(["import", str(path), "--out", str(out), "--space", SMALL]) == 0
    capsys.readouterr()
    loaded = load_table(out)
    assert loaded.meta["space_key"] == SMALL and loaded.meta["mode"] == "faithful"
    assert f"--space={SMALL}" in loaded.meta["import_command"]  # the rebuild keeps it
    # a column naming the same key: as without --space
    keyed = _csv(tmp_path / "keyed.csv", SMALL)
    assert import_table(keyed, space=SMALL).meta["space_key"] == SMALL


def test_a_tidy_space_key_that_disagrees_or_is_none_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyed = _csv(tmp_path / "keyed.csv", SMALL)
    line = one_line_exit_2(
        capsys, "import", str(keyed), "--out", str(tmp_path / "o"), "--space", "nb201@C8N2"
    )
    assert line == (
        f"error: {keyed}: column 'space' holds space key {SMALL!r}, not the --space "
        "nb201@C8N2 given; leave --space out to use the column's, or fix the column"
    )
    plain = _csv(tmp_path / "plain.csv")
    line = one_line_exit_2(
        capsys, "import", str(plain), "--out", str(tmp_path / "o"), "--space", "nb201@c4n1"
    )
    assert line == (
        "error: --space nb201@c4n1 is not a space key (as retraining results record it: "
        "nb201, nb201@C4N1#faithful, ...); pass one, or leave --space out"
    )
    with pytest.raises(ArgumentError, match=r"^space must be a space key .*got 4$"):
        import_table(plain, space=4)  # type: ignore[arg-type]


# -- the tidy round trip of a retraining table ---------------------------------------------------
def test_a_tidy_round_trip_keeps_the_mode_and_recipe_its_key_names(tmp_path: Path) -> None:
    # meta["mode"] raised KeyError on the table read back (notebook 05 reads it)
    key = "nb201@C4N1#fast-bf16#recipe:lr=0.05"
    path = _csv(tmp_path / "r.csv", key)
    back = read_tidy(path)
    assert (back.meta["mode"], back.meta["recipe"]) == ("fast-bf16", "recipe:lr=0.05")
    old = _csv(tmp_path / "old.csv", "nb201@C4N1")  # a key written before modes
    assert (read_tidy(old).meta["mode"], read_tidy(old).meta["recipe"]) == (None, None)
    df = Table(NB201, {(ACC, None): np.ones(NB201.size)}, meta={"space_key": key}).to_tidy()
    with pytest.raises(FormatError, match=r"holds 'nb201@C4N1#fast-bf16#recipe:lr=0.05', of mode "):
        Table.from_tidy(df, meta={"mode": "faithful"})


# -- a tidy file of another space ----------------------------------------------------------------
def test_a_tidy_file_of_another_space_names_how_to_read_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "... is not a cell string (... 2 node groups; expected 3 ...); fix the file", of a file
    # without the space column (to_tidy writes one now: below)
    space = Space(("none", "skip_connect", "nor_conv_3x3"), 3)
    values = np.linspace(10, 90, space.size)
    table = Table(space, {(ACC, None): values}, source="mine")
    path = tmp_path / "custom.csv"
    table.to_tidy().drop(columns="space").to_csv(path, index=False, na_rep="nan")
    line = one_line_exit_2(capsys, "import", str(path), "--out", str(tmp_path / "c"))
    assert line.endswith(
        "fix the file; or, if it holds another space than NB201's (a file without a space "
        "column is read as NB201's), pass --space KEY, its space key "
        "(<N>nodes:<op>,...,<op>:lexicographic, e.g. "
        "3nodes:none,skip_connect,nor_conv_3x3:lexicographic)"
    )
    with pytest.raises(FormatError, match=r"pass space=KEY, its space key"):
        read_tidy(path)
    key = "3nodes:none,skip_connect,nor_conv_3x3:lexicographic"
    back = import_table(path, space=key)
    assert back.space == space and np.array_equal(back.vector_for(ACC), values)
    assert np.array_equal(read_tidy(path, space=space).vector_for(ACC), values)  # as before


def test_a_tidy_file_of_a_larger_space_names_how_to_read_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # its cells past NB201's 15,625 were refused as out of range, the file blamed
    space = Space(("a", "b", "c", "d", "e", "f"), 4)
    values = np.full(space.size, np.nan)
    values[[0, 20000]] = [50.0, 60.0]
    path = tmp_path / "big.csv"
    tidy = Table(space, {(ACC, None): values}).to_tidy().drop(columns="space")
    tidy.to_csv(path, index=False, na_rep="nan")
    line = one_line_exit_2(capsys, "import", str(path), "--out", str(tmp_path / "b"))
    assert line.startswith(f"error: {path}: row 2 (line 3), column 'index': 20000 is out of range")
    assert "pass --space KEY, its space key" in line
    back = import_table(path, space="4nodes:a,b,c,d,e,f:lexicographic")
    assert np.array_equal(back.vector_for(ACC), values, equal_nan=True)


def test_a_table_of_another_space_round_trips_through_its_own_tidy_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # to_tidy wrote no space column for a table without a space key: its own file was refused
    # as malformed by `import`
    from nb201_flat.cli import main
    from nb201_flat.storage import load_table

    space = Space(("none", "skip_connect", "nor_conv_3x3"), 3)
    values = np.linspace(10, 90, space.size)
    path = tmp_path / "custom.csv"
    Table(space, {(ACC, None): values}, source="mine").to_tidy().to_csv(path, index=False)
    assert main(["import", str(path), "--out", str(tmp_path / "c")]) == 0, capsys.readouterr()
    back = load_table(tmp_path / "c")
    assert back.space == space and np.array_equal(back.vector_for(ACC), values)
    assert back.meta["space_key"] == "3nodes:none,skip_connect,nor_conv_3x3:lexicographic"


@pytest.mark.parametrize("op", ["conv:3x3", "a#b", "relu@2", "a,b"])
def test_op_names_a_space_key_cannot_hold_round_trip_without_the_column(op: str) -> None:
    # to_tidy wrote '3nodes:none,skip,conv:3x3:lexicographic', which its own reader refused
    space = Space(("none", "skip", op), 3)
    values = np.linspace(10, 90, space.size)
    tidy = Table(space, {(ACC, None): values}).to_tidy()
    assert "space" not in tidy.columns
    back = Table.from_tidy(tidy, space=space)
    assert back.space == space and np.array_equal(back.vector_for(ACC), values)


def test_another_space_read_back_keeps_nb201_s_budgets_on_nb201_s_scale() -> None:
    # its key names the space only, no retraining: "holds retrained times" was refused after
    # the round trip, where the same table before it was served
    from nb201_flat.search.protocol import check_benchmark_times, cost_key

    space = Space(("none", "skip_connect", "nor_conv_3x3"), 4)
    costs = np.random.default_rng(0).uniform(1500.0, 2500.0, space.size)
    table = Table(space, {(ACC, None): np.linspace(10, 90, space.size), (cost_key(), None): costs})
    check_benchmark_times(table, ("nb201",))
    back = Table.from_tidy(table.to_tidy())
    assert back.meta["space_key"] == "4nodes:none,skip_connect,nor_conv_3x3:lexicographic"
    check_benchmark_times(back, ("nb201",))
    retrained = Table.from_tidy(table.to_tidy().assign(space=f"{back.meta['space_key']}#faithful"))
    with pytest.raises(ProtocolError, match="holds retrained times"):
        check_benchmark_times(retrained, ("nb201",))
