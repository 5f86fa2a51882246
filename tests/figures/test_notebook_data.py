"""Notebooks read $NB201_FLAT_TABLE and find the shared data from a wheel install (issue 12 item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb201_flat.figures import notebook as nbmod
from nb201_flat.table import Table


def test_notebook_table_reads_the_table_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_table: Table
) -> None:
    from nb201_flat.storage import save_table

    mine = Table(default_table.space, dict(default_table.data), source="env-notebook-table")
    save_table(mine, tmp_path / "t")
    monkeypatch.setenv("NB201_FLAT_TABLE", str(tmp_path / "t"))
    table, which = nbmod.notebook_table()
    assert table.source == "env-notebook-table"
    assert "$NB201_FLAT_TABLE" in which and str(tmp_path / "t") in which


def test_shared_data_dir_from_a_wheel_uses_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "venv" / "lib" / "site-packages" / "nb201_flat" / "figures" / "notebook.py"
    monkeypatch.setattr(nbmod, "__file__", str(fake))
    monkeypatch.delenv("NB201_FLAT_SHARED_DATA", raising=False)
    shared = tmp_path / "proj" / "shared" / "data" / "nb201"
    shared.mkdir(parents=True)
    (shared / nbmod.TIDY_NAME).write_bytes(b"")
    work = tmp_path / "proj" / "repo" / "notebooks"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    found = nbmod.shared_data_dir()
    assert found == shared.resolve() and "site-packages" not in found.parts
    # nothing there: ../shared/data/nb201 from the working directory, never site-packages
    # (unless a folder above the test's own holds the data, as /tmp/shared beside a clone in
    # /tmp does: the nearest one is then the answer)
    (tmp_path / "venv").mkdir()
    monkeypatch.chdir(tmp_path / "venv")
    above = [
        d / "shared" / "data" / "nb201"
        for d in (tmp_path / "venv").resolve().parents
        if (d / "shared" / "data" / "nb201" / nbmod.TIDY_NAME).is_file()
    ]
    default = (tmp_path / "shared" / "data" / "nb201").resolve()
    assert nbmod.shared_data_dir() == (above[0] if above else default)
    # the environment still wins
    monkeypatch.setenv("NB201_FLAT_SHARED_DATA", str(tmp_path / "elsewhere"))
    assert nbmod.shared_data_dir() == (tmp_path / "elsewhere").resolve()


def test_notebook_helpers_check_their_arguments() -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.figures import arch_label, notebook_table

    # bool("no") is True: it looked for the real data when told not to
    with pytest.raises(ArgumentError, match="prefer_real must be True or False"):
        notebook_table(prefer_real="no")  # type: ignore[arg-type]
    # an index or a string failed with AttributeError: 'int' object has no attribute 'space'
    for bad in (5, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"):
        with pytest.raises(ArgumentError, match="arch_label takes an Arch"):
            arch_label(bad)  # type: ignore[arg-type]
