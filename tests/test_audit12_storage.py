"""Audit 12: path-valued environment variables read by one rule, and the default's cache refusal.

Every path-valued variable (``$NB201_FLAT_TABLE``, ``$NB201_FLAT_CACHE``,
``$NB201_FLAT_SHARED_DATA``) is read by :func:`nb201_flat.storage.env_path`: ``~`` expanded
(``NB201_FLAT_TABLE='~/t.nb201'`` was "no table at ~/t.nb201"), set but empty refused naming
it (an empty cache variable fell back to ``~/.cache`` without a word, an empty shared-data
one was the working directory in the benchmarks and tests), and the benchmarks and tests read
the shared data through the package's resolver. A default cache that cannot be written is
refused naming the cache and the ways out, never ``--table`` (a flag the user never gave).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat import storage
from nb201_flat.cli import main
from nb201_flat.errors import TableFileError
from nb201_flat.figures import notebook
from nb201_flat.space import NB201
from nb201_flat.testing import table_from

TESTS = Path(__file__).resolve().parent
MEAN_CSV = Path("derived") / "nb201_200ep_mean.csv"


def _module(path: Path, name: str) -> ModuleType:
    """A conftest loaded on its own (the one pytest loaded depends on what it collected)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fixture(module: ModuleType, name: str) -> Any:
    """The value of a fixture of ``module`` taking no argument; a skip fails here (a skip in
    this test would hide the data it failed to find)."""
    try:
        return getattr(module, name).__wrapped__()
    except pytest.skip.Exception as exc:
        raise AssertionError(f"{name} skipped: {exc.msg}") from None


@pytest.fixture
def conftests(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(TESTS / "train"))  # its conftest imports train_helpers
    return {
        "tests": _module(TESTS / "conftest.py", "audit12_tests_conftest"),
        "train": _module(TESTS / "train" / "conftest.py", "audit12_train_conftest"),
    }


def _shared_readers(conftests: dict[str, ModuleType]) -> dict[str, Any]:
    """Each reader of $NB201_FLAT_SHARED_DATA: the folder it finds."""
    import benchmarks._common as bench

    return {
        "package": notebook.shared_data_dir,
        "benchmarks": bench.shared_data_dir,
        "tests": lambda: _fixture(conftests["tests"], "shared_dir"),
        "train tests": lambda: _fixture(conftests["train"], "nb201_mean_csv").parents[1],
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of this test's own (``~``), with no table named in the environment."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    return folder


def _small_table(path: Path) -> Path:
    storage.save_table(table_from(np.random.default_rng(0).random(NB201.size)), path)
    return path


@pytest.mark.parametrize("reader", ["package", "benchmarks", "tests", "train tests"])
def test_every_reader_of_the_shared_data_variable_expands_home(
    home: Path, monkeypatch: pytest.MonkeyPatch, conftests: dict[str, ModuleType], reader: str
) -> None:
    # benchmarks and tests read '~/sd' as ./~/sd (and skipped: data not found)
    shared = home / "sd"
    (shared / MEAN_CSV).parent.mkdir(parents=True)
    (shared / notebook.TIDY_NAME).write_text("x")
    (shared / MEAN_CSV).write_text("x")
    monkeypatch.setenv(notebook.SHARED_ENV, "~/sd")
    assert _shared_readers(conftests)[reader]() == shared.resolve()


@pytest.mark.parametrize("reader", ["package", "benchmarks", "tests", "train tests"])
@pytest.mark.parametrize("value", ["", "  "])
def test_every_reader_refuses_an_empty_shared_data_variable(
    monkeypatch: pytest.MonkeyPatch, conftests: dict[str, ModuleType], reader: str, value: str
) -> None:
    # the benchmarks and tests read it as the working directory
    monkeypatch.setenv(notebook.SHARED_ENV, value)
    with pytest.raises(TableFileError) as info:
        _shared_readers(conftests)[reader]()
    assert str(info.value) == (
        f"$NB201_FLAT_SHARED_DATA is set but empty ({value!r}); point it at the folder holding "
        "nb201_tidy.csv.gz, or unset it for the default place, ../shared/data/nb201"
    )


def test_a_table_variable_expands_home(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "no table at ~/t.nb201; create it with ...", the table being there
    _small_table(home / "t.nb201")
    monkeypatch.setenv(storage.TABLE_ENV, "~/t.nb201")
    assert storage.load_table().meta["path"] == str(home / "t.nb201")
    assert main(["info"]) == 0, capsys.readouterr().err
    assert f"table          {home / 't.nb201'}" in capsys.readouterr().out.splitlines()
    monkeypatch.setenv(storage.TABLE_ENV, "~/absent.nb201")  # says what it looked for
    with pytest.raises(TableFileError) as info:
        storage.load_table()
    assert str(info.value).startswith(
        f"$NB201_FLAT_TABLE=~/absent.nb201: no table at {home / 'absent.nb201'}"
    )


def test_a_cache_variable_expands_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(storage.CACHE_ENV, "~/c")
    assert storage.cache_dir() == home / "c"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_cache_variable_is_refused_as_an_empty_table_variable_is(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
) -> None:
    # '' fell back to ~/.cache without a word, where '' for the table was refused ('  ' made
    # a folder of that name in the working folder: run where that does no harm)
    monkeypatch.chdir(home)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv(storage.CACHE_ENV, value)
    message = (
        f"$NB201_FLAT_CACHE is set but empty ({value!r}); point it at a writable folder, or "
        "unset it for the XDG cache ($XDG_CACHE_HOME/nb201_flat, else ~/.cache/nb201_flat)"
    )
    with pytest.raises(TableFileError) as info:
        storage.load_table()
    assert str(info.value) == message
    assert main(["info"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (home / ".cache").exists()


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Folders os.access reports not writable (chmod does not stop root, who runs CI here)."""
    folders: set[str] = set()
    real = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if mode & os.W_OK and os.path.realpath(path) in folders:
            return False
        return real(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return folders


def test_an_unwritable_default_cache_is_named_with_the_ways_out_on_the_command_line(
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    read_only: set[str],
) -> None:
    # "error: --table CACHE/analognas-bench-0.1.3.nb201: the folder ... is not writable ...;
    # choose a writable path": a flag never given, and no way to choose the cache's path
    (tmp_path / "ro").mkdir()
    read_only.add(str(tmp_path / "ro"))
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "ro" / "c"))
    target = storage.default_table_path()
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: the embedded default's cache {target}: the folder {tmp_path / 'ro'} is not "
        "writable (read-only filesystem or no permission); choose a writable path; to choose "
        "one, point $NB201_FLAT_CACHE at a writable folder, or pass a table written by "
        "`nb201-flat import SOURCE --out TABLE` as --table PATH (or in $NB201_FLAT_TABLE)\n"
    )
    assert not (tmp_path / "ro" / "c").exists()


def test_an_unwritable_xdg_cache_is_a_table_file_error_naming_both_variables(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, read_only: set[str]
) -> None:
    # load_table() raised "ArgumentError: path ~/.cache/...": an argument never given
    (tmp_path / "ro").mkdir()
    read_only.add(str(tmp_path / "ro"))
    monkeypatch.delenv(storage.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ro" / "xdg"))
    target = tmp_path / "ro" / "xdg" / "nb201_flat" / storage.DEFAULT_TABLE_NAME
    assert storage.default_table_path() == target
    with pytest.raises(TableFileError) as info:
        storage.load_table()
    assert str(info.value).startswith(f"the embedded default's cache {target}: the folder ")
    assert str(info.value).endswith(
        "; to choose one, set $NB201_FLAT_CACHE (or $XDG_CACHE_HOME) to a writable folder, or "
        "pass a table written by save_table as load_table(PATH) (or in $NB201_FLAT_TABLE)"
    )


def test_a_default_cache_behind_a_dangling_link_names_the_cache(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "lc"
    link.symlink_to("nowhere/c")
    monkeypatch.setenv(storage.CACHE_ENV, str(link))
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: the embedded default's cache {link / storage.DEFAULT_TABLE_NAME}: the folder "
        f"{link} is a symbolic link to nothing"
    ), err
    assert "; to choose one, point $NB201_FLAT_CACHE at a writable folder" in err
    assert err.count("\n") == 1


def test_the_real_data_cache_unwritable_names_the_cache(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, read_only: set[str]
) -> None:
    # real_table's import refused as "path CACHE/nb201-tidy-...": it has no such parameter
    shared = tmp_path / "shared"
    shared.mkdir()
    pd.DataFrame(
        {
            "index": [0],
            "arch": [NB201.arch(0).to_str()],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 200,
            "seed": pd.array([pd.NA], dtype="Int64"),
            "metric": "accuracy",
            "value": [10.0],
        }
    ).to_csv(shared / notebook.TIDY_NAME, index=False)
    (tmp_path / "ro").mkdir()
    read_only.add(str(tmp_path / "ro"))
    monkeypatch.setenv(storage.CACHE_ENV, str(tmp_path / "ro" / "c"))
    with pytest.raises(TableFileError) as info:
        notebook.real_table(shared)
    assert str(info.value).startswith(
        f"the real NB201 data's cache {tmp_path / 'ro' / 'c'}/nb201-tidy-"
    )
    assert "point $NB201_FLAT_CACHE at a writable folder" in str(info.value)


def test_a_cache_write_the_access_check_passed_but_the_disk_refused_names_the_cache(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # on a pseudo-filesystem (/sys) os.access says writable and the write fails: its message
    # named no way out of the cache
    monkeypatch.setenv(storage.CACHE_ENV, str(home / "c"))

    def refused(*_args: object, **_kwargs: object) -> None:
        raise TableFileError(
            f"could not write {home / 'c'} (Operation not permitted); nothing was changed; "
            "choose a writable path"
        )

    monkeypatch.setattr(storage, "save_table", refused)
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the embedded default's cache: could not write ")
    assert "point $NB201_FLAT_CACHE at a writable folder" in err
    assert err.count("\n") == 1
