"""atomic.recover acts only on the folders a writer makes (``.NAME.tmp-PID-XXXXXXXX``,
``.NAME.old-PID-XXXXXXXX``) of a dead process: a user's folder that merely shares the prefix
(a ``cp -r`` backup, notes) is never removed, nor renamed into the table's place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nb201_flat import atomic
from nb201_flat.errors import TableFileError
from nb201_flat.storage import load_saved_table


def write(target: Path, text: str) -> None:
    with atomic.replace_folder(target) as tmp:
        (tmp / "a.txt").write_text(text)


def tree(folder: Path) -> dict[str, str | None]:
    return {
        p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_text()
        for p in sorted(folder.rglob("*"))
    }


def users_own(root: Path, dead: int) -> None:
    """Entries beside ``root / 't'`` that share a writer's prefix but are no writer's."""
    for name in (
        ".t.old-2024-backup",  # a cp -r of the table: 'backup' is no random part
        ".t.tmp-notes",  # no pid
        f".t.old-{dead}-my-copy",
        f".t.tmp-{dead}-abcdefgh-2",  # more after the random part
        f".t.tmp-0{dead}-abcdefgh",  # a pid is never written with a leading zero
    ):
        (root / name).mkdir()
        (root / name / "todo.txt").write_text(name)
    (root / f".t.tmp-{dead}-abcdefgh").write_text("a file: the writer makes folders only")
    (root / f".t.old-{dead}-abcdefgh").symlink_to(root / ".t.tmp-notes")


def test_a_replacement_leaves_a_users_look_alike_folders_alone(tmp_path: Path, dead: int) -> None:
    write(tmp_path / "t", "one")
    users_own(tmp_path, dead)
    before = tree(tmp_path)
    write(tmp_path / "t", "two")
    assert tree(tmp_path) == before | {"t/a.txt": "two"}


def test_a_load_never_renames_a_users_folder_into_the_tables_place(
    tmp_path: Path, dead: int
) -> None:
    users_own(tmp_path, dead)
    (tmp_path / ".t.old-backup").mkdir()  # a table moved aside by hand
    (tmp_path / ".t.old-backup" / "manifest.json").write_text("{}")
    before = tree(tmp_path)
    with pytest.raises(TableFileError, match="no table at"):
        load_saved_table(tmp_path / "t")
    assert tree(tmp_path) == before


def test_the_writers_own_names_are_recognised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pattern recover matches is the one the writer makes (tempfile's random part): a
    new folder, and the old one moved aside where renameat2 is missing."""
    write(tmp_path / "t", "one")
    seen: list[tuple[str, int] | None] = []
    with atomic.replace_folder(tmp_path / "t") as tmp:
        seen.append(atomic._leftover(tmp, "t"))
        (tmp / "a.txt").write_text("two")
    real = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real(src, dst)
        if Path(dst).name.startswith(".t.old-"):
            seen.append(atomic._leftover(Path(dst), "t"))

    monkeypatch.setattr(atomic, "_RENAMEAT2", None)  # the two-rename fallback
    monkeypatch.setattr(os, "replace", spy)
    write(tmp_path / "t", "three")
    assert seen == [("tmp", os.getpid()), ("old", os.getpid())]
    assert tree(tmp_path) == {"t": None, "t/a.txt": "three"}


def test_a_dead_writers_leftovers_are_still_recovered(tmp_path: Path, dead: int) -> None:
    """Killed between the two renames: the old folder is put back, the new one removed; the
    user's look-alikes beside them stay."""
    users_own(tmp_path, dead)
    for kind, text in (("old", "old"), ("tmp", "new")):
        (tmp_path / f".t.{kind}-{dead}-k2_9xq0a").mkdir()
        (tmp_path / f".t.{kind}-{dead}-k2_9xq0a" / "a.txt").write_text(text)
    before = tree(tmp_path)
    atomic.recover(tmp_path / "t")
    after = {k: v for k, v in before.items() if "k2_9xq0a" not in k}
    assert tree(tmp_path) == after | {"t": None, "t/a.txt": "old"}


def test_a_number_no_pid_can_be_is_no_writers(tmp_path: Path) -> None:
    """Past a pid_t: no process wrote it (os.kill raised OverflowError on every load)."""
    (tmp_path / ".t.tmp-99999999999-abcdefgh").mkdir()
    with pytest.raises(TableFileError, match="no table at"):
        load_saved_table(tmp_path / "t")
    assert tree(tmp_path) == {".t.tmp-99999999999-abcdefgh": None}
