"""Issue 10 items 2, 3, 4, 7, 11: damaged table folders, atomic replacement, output folders.

Every single-byte change of a table folder either raises a one-line TableFileError naming the
file and the re-import command, or loads the very same numbers; replacement is one swap that
readers never see half done; a failure injected at each write or rename leaves the old folder
or the new one, never a mix, and the next write cleans up. (Output folders shared with other
files, reports and figures: tests/test_atomic_files.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from nb201_flat import atomic, storage
from nb201_flat.errors import ArgumentError, Nb201FlatError, TableFileError
from nb201_flat.space import Space
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "a", "b"), 3)  # 27 cells: a folder of a few KB
KEYS = [MetricKey("cifar100", "x-test", 200), MetricKey("cifar100", "x-valid", 200)]
CMD = "nb201-flat import SRC --out t"


def small(offset: float = 0.0) -> Table:
    data = {
        (KEYS[0], None): np.arange(27.0) + offset,
        (KEYS[1], None): np.arange(27.0) * 2 + offset,
        # two seeds whose mean is the stored one (a mean outside its seeds is refused), each
        # with numbers of its own
        (KEYS[0], 777): np.arange(27.0) * 0.5 + offset,
        (KEYS[0], 778): np.arange(27.0) * 1.5 + offset,
    }
    return Table(SPACE, data, source="unit", meta={"import_command": CMD})


def numbers(t: Table) -> dict[tuple[MetricKey, int | None], list[float]]:
    return {k: v.tolist() for k, v in t.data.items()}


def _assert_one_line_naming(exc: BaseException, folder: Path) -> None:
    msg = str(exc)
    assert "\n" not in msg
    assert str(folder) in msg, msg
    # the rebuild, as a Python caller runs it (the command line spells it as its import)
    assert "nb201_flat.importers.import_table(" in msg and "nb201-flat" not in msg, msg


def test_every_single_byte_change_is_caught_or_harmless(tmp_path: Path) -> None:
    folder = save_table(small(), tmp_path / "t")
    reference = numbers(load_saved_table(folder))
    outcomes = {"error": 0, "same": 0}
    for name in (storage.MANIFEST, storage.PARQUET):
        path = folder / name
        original = path.read_bytes()
        for pos in range(len(original)):
            damaged = bytearray(original)
            damaged[pos] ^= 0x01  # one bit, the smallest change
            path.write_bytes(bytes(damaged))
            try:
                loaded = load_saved_table(folder)
            except TableFileError as exc:
                _assert_one_line_naming(exc, folder)
                outcomes["error"] += 1
            else:
                assert numbers(loaded) == reference, (name, pos)
                outcomes["same"] += 1
        path.write_bytes(original)
    assert outcomes["error"] > 1000  # the loop really damaged something


def test_relabelled_column_is_refused(tmp_path: Path) -> None:
    """The reported case: a column's split edited in the manifest served another column."""
    folder = save_table(small(), tmp_path / "t")
    m = json.loads((folder / storage.MANIFEST).read_text())
    for col in m["columns"]:
        col["split"] = {"x-test": "x-valid", "x-valid": "x-test"}[col["split"]]
    (folder / storage.MANIFEST).write_text(json.dumps(m, indent=1))
    with pytest.raises(TableFileError, match="checksum") as info:
        load_saved_table(folder)
    _assert_one_line_naming(info.value, folder)


@pytest.mark.parametrize(
    "manifest",
    [
        '{"format": "nb201_flat-table", "schema_version": "1"}',  # the "1" vs 1 message
        '{"format": "nb201_flat-table", "schema_version": 1, "columns": 5}',
        "[" * 100000 + "]" * 100000,  # deep nesting
        '{"format": "nb201_flat-table", "schema_version": 1.0}',
        "\x00\xff",
    ],
)
def test_wrong_manifest_content_is_one_line(tmp_path: Path, manifest: str) -> None:
    folder = save_table(small(), tmp_path / "t")
    (folder / storage.MANIFEST).write_bytes(manifest.encode("utf-8", "surrogateescape"))
    with pytest.raises(TableFileError) as info:
        load_saved_table(folder)
    assert "\n" not in str(info.value)
    # never "has version 1, this reads version 1" for a value that only looks like 1
    assert not re.search(r"version (\S+), this nb201_flat reads version \1\b", str(info.value))


def test_version_message_tells_string_from_integer(tmp_path: Path) -> None:
    folder = save_table(small(), tmp_path / "t")
    m = json.loads((folder / storage.MANIFEST).read_text())
    m["schema_version"] = "1"
    (folder / storage.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(TableFileError, match=r"'1' \(str\), not an integer"):
        load_saved_table(folder)


@pytest.mark.parametrize("kind", ["fifo", "dir", "devzero", "missing"])
@pytest.mark.parametrize("name", [storage.MANIFEST, storage.PARQUET])
def test_special_files_are_one_line(tmp_path: Path, kind: str, name: str) -> None:
    folder = save_table(small(), tmp_path / "t")
    path = folder / name
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block forever
    elif kind == "dir":
        path.mkdir()
    elif kind == "devzero":
        path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(TableFileError) as info:
        load_saved_table(folder)
    assert "\n" not in str(info.value) and str(folder) in str(info.value)


def test_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        folder = save_table(small(), tmp_path / "t")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f


# -- atomic replacement --------------------------------------------------------------------
def test_replacement_is_one_exchange_readers_never_miss(tmp_path: Path) -> None:
    folder = save_table(small(0.0), tmp_path / "t")
    stop = threading.Event()
    seen: list[float] = []
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(load_saved_table(folder).value(1, "cifar100", "x-test", 200))
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1, 8):
            save_table(small(float(i)), folder)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert seen and set(seen) <= {1.0 + i for i in range(8)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_a_replacement_finished_during_a_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the old manifest beside the new parquet failed the checksum, and with the writer's
    # leftovers already gone the reader raised instead of reading the new table
    folder = save_table(small(0.0), tmp_path / "t")
    real = storage.read_manifest
    calls = [0]

    def manifest_then_swap(path: Path) -> object:
        out = real(path)
        calls[0] += 1
        if calls[0] == 1:
            save_table(small(5.0), folder)  # the whole swap happens between the two reads
        return out

    monkeypatch.setattr(storage, "read_manifest", manifest_then_swap)
    assert load_saved_table(folder).value(1, "cifar100", "x-test", 200) == 6.0
    assert calls[0] == 2


def _fail_at(monkeypatch: pytest.MonkeyPatch, name: str, n: int) -> list[int]:
    """Make the n-th call of ``os.<name>`` (as atomic uses it) raise, like a kill there."""
    calls = [0]
    real = getattr(os, name)

    def flaky(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt(f"injected at {name} #{n}")
        return real(*args, **kwargs)

    monkeypatch.setattr(atomic.os, name, flaky)
    return calls


@pytest.mark.parametrize("exchange", [True, False])
@pytest.mark.parametrize("step", [("replace", 1), ("replace", 2), ("replace", 3), ("rename", 1)])
def test_failure_at_each_rename_keeps_a_whole_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool, step: tuple[str, int]
) -> None:
    folder = save_table(small(0.0), tmp_path / "t")
    if not exchange:  # the fallback of two renames (no renameat2)
        monkeypatch.setattr(atomic, "_RENAMEAT2", None)
    with monkeypatch.context() as m:
        _fail_at(m, *step)
        with contextlib.suppress(KeyboardInterrupt):
            save_table(small(5.0), folder)
    value = load_saved_table(folder).value(1, "cifar100", "x-test", 200)
    assert value in (1.0, 6.0)  # the old table or the new one, never none
    save_table(small(9.0), folder)  # the next write cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]
    assert load_saved_table(folder).value(1, "cifar100", "x-test", 200) == 10.0


def test_kill_between_the_two_renames_is_recovered(tmp_path: Path) -> None:
    """The reported state: target gone, old as .t.old-*, new as .t.tmp-*, from a dead writer."""
    folder = save_table(small(0.0), tmp_path / "t")
    new = save_table(small(5.0), tmp_path / "staged")
    os.rename(folder, tmp_path / ".t.old-999999999-abcd1234")  # no such process
    os.rename(new, tmp_path / ".t.tmp-999999999-efgh5678")
    # readers keep working: the old table is put back
    assert load_saved_table(folder).value(1, "cifar100", "x-test", 200) == 1.0
    save_table(small(7.0), folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_concurrent_first_writes_exactly_one_wins(tmp_path: Path) -> None:
    target = tmp_path / "t"
    barrier = threading.Barrier(2, timeout=60)
    results: list[str] = []
    original = atomic._swap_in

    def synced(new: Path, dst: Path, *, overwrite: bool) -> None:
        barrier.wait()  # both have written their table; now both try to put it in place
        original(new, dst, overwrite=overwrite)

    def write(offset: float) -> None:
        try:
            save_table(small(offset), target, overwrite=False)
            results.append("ok")
        except TableFileError as exc:
            results.append("exists" if "exists" in str(exc) else str(exc))

    atomic._swap_in = synced  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=write, args=(float(i),)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        atomic._swap_in = original  # type: ignore[assignment]
    assert sorted(results) == ["exists", "ok"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]
    load_saved_table(target)


# -- output paths -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", ".", "file", "file/sub"])
def test_bad_out_paths_fail_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("file").write_text("x")
    with pytest.raises(ArgumentError) as info:
        save_table(small(), bad)
    assert "\n" not in str(info.value)
    assert Path("file").read_text() == "x"


def test_read_only_parent_fails_up_front(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that can write anywhere")
        with pytest.raises(Nb201FlatError, match="not writable"):
            save_table(small(), ro / "t")
    finally:
        ro.chmod(0o755)


def test_cache_env_pointing_at_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "cache"
    f.write_text("x")
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_CACHE", str(f))
    with pytest.raises(TableFileError, match="is a file"):
        storage.load_table()


@pytest.mark.parametrize("kind", ["file", "foreign folder"])
def test_a_blocked_default_cache_names_the_cache_not_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # the cache's table path as a file was "--table CACHE/... is a file": a flag never given
    from nb201_flat.cli import main

    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_CACHE", str(tmp_path))
    target = storage.default_table_path()
    if kind == "file":
        target.write_text("x")
    else:
        target.mkdir()
        (target / "mine.txt").write_text("x")
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the embedded default's cache {target} "), err
    assert "--table" not in err and "$NB201_FLAT_CACHE" in err and err.count("\n") == 1, err
    assert (target.read_text() if kind == "file" else (target / "mine.txt").read_text()) == "x"


@pytest.mark.parametrize("err", [30, 28])  # EROFS, ENOSPC
def test_filesystem_refusal_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int
) -> None:
    import tempfile

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(TableFileError, match="nothing was changed") as info:
        save_table(small(), tmp_path / "t")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
