"""``import --out LINK --force`` (and ``save_table`` on a link) writes through a symbolic link:
the folder it names gets the new table and the link stays. It replaced the link itself by a
folder, leaving the folder it named, and every other path to it, with the old table."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run

from nb201_flat.space import NB201
from nb201_flat.storage import load_table, save_table
from nb201_flat.testing import synthetic_table


def _tidy_csv(path: Path, value: float) -> Path:
    rows = [
        {"index": i, "arch": NB201.arch(i).to_str(), "dataset": "cifar10", "split": "ori-test",
         "epochs": 200, "seed": "", "metric": "accuracy", "value": value + i}
        for i in (0, 1, 2)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A table folder and a link to it."""
    folder = save_table(synthetic_table(), tmp_path / "tables" / "v1")
    link = tmp_path / "current"
    link.symlink_to(folder)
    return folder, link


def test_import_force_writes_through_the_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, linked: tuple[Path, Path]
) -> None:
    folder, link = linked
    source = _tidy_csv(tmp_path / "new.csv", 50.0)
    code, out, err = run(capsys, "import", str(source), "--out", str(link), "--force")
    assert code == 0, err
    assert link.is_symlink() and Path(os.readlink(link)) == folder  # the link is kept
    assert f"-> {folder} in " in out  # says where the table went
    for path in (link, folder):  # both paths read the new table
        assert load_table(path).value(1, "cifar10", "ori-test", 200) == 51.0
    # nothing left beside the folder or the link
    assert sorted(p.name for p in folder.parent.iterdir()) == ["v1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "new.csv", "tables"]


def test_without_force_the_link_names_the_table_that_exists(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, linked: tuple[Path, Path]
) -> None:
    folder, link = linked
    source = _tidy_csv(tmp_path / "new.csv", 50.0)
    code, _, err = run(capsys, "import", str(source), "--out", str(link))
    assert code == 2 and err == f"error: {folder} exists; pass --force to replace it\n"
    assert link.is_symlink() and "synthetic" in load_table(link).source


def test_a_dangling_link_gets_its_folder_and_save_table_writes_through(
    tmp_path: Path, linked: tuple[Path, Path]
) -> None:
    folder, link = linked
    dangling = tmp_path / "next"
    dangling.symlink_to(tmp_path / "tables" / "v2")
    save_table(synthetic_table(seed=1), dangling)
    assert dangling.is_symlink() and (tmp_path / "tables" / "v2").is_dir()
    # the library's writer as the command's: a link to a table is written through
    save_table(synthetic_table(seed=2), link)
    assert link.is_symlink()
    assert load_table(folder).meta["sha256"] == load_table(link).meta["sha256"]
