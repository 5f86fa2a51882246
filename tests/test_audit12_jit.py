"""Where the compiled kernels' machine code is kept: an installed package whose folder and
user cache numba cannot write still runs (compiled in each process, with one warning), and the
package's own kernels are cached outside its folder, so that ``pip uninstall`` removes it whole."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from nb201_flat import jit

_KERNELS = """\
from nb201_flat.jit import kernel


@kernel
def triple(n):
    return 3 * n


@kernel
def plus_one(n):
    return n + 1
"""

_UNCACHED = "numba cannot keep compiled kernels on disk"


def _module(folder: Path, name: str) -> ModuleType:
    """``_KERNELS`` written to ``folder/name.py`` and imported from there."""
    path = folder / f"{name}.py"
    path.write_text(_KERNELS)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _uncached_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if _UNCACHED in r.getMessage()]


def test_a_kernel_numba_cannot_cache_is_compiled_in_process_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # installed read-only and run with an unwritable HOME, numba found no folder for the cache:
    # `nb201-flat demo` died of "RuntimeError: cannot cache function '_pairwise_block': no
    # locator available" (84 lines of traceback, exit 1)
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # _CacheImpl before 0.61
    monkeypatch.setattr(impl, "_locator_classes", [])  # no folder numba can write
    monkeypatch.setattr(jit, "_warned_uncached", False, raising=False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    with caplog.at_level(logging.WARNING, logger="nb201_flat.jit"):
        kmod = _module(tmp_path, "kmod_nolocator")
        assert (kmod.triple(4), kmod.plus_one(4)) == (12, 5)
    (said,) = _uncached_warnings(caplog)  # one for the process, not one a kernel
    assert "no locator available" in said
    assert said.endswith("set $NUMBA_CACHE_DIR to a writable folder to keep them between runs")
    assert not list(tmp_path.glob("__pycache__/kmod_nolocator.*"))


def test_a_package_kernel_whose_cache_folder_cannot_be_written_warns_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # a kernel of the package is never cached beside its source, even where that is writable
    from numba.core import config

    (tmp_path / "a_file").write_text("")
    monkeypatch.setattr(jit, "_PACKAGE", str(tmp_path.resolve()), raising=False)
    monkeypatch.setattr(jit, "_warned_uncached", False, raising=False)
    monkeypatch.setattr(config, "CACHE_DIR", "")  # as numba read an unset $NUMBA_CACHE_DIR
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("NB201_FLAT_CACHE", str(tmp_path / "a_file" / "cache"))  # no folder
    with caplog.at_level(logging.WARNING, logger="nb201_flat.jit"):
        kmod = _module(tmp_path, "kmod_pkg")
        assert kmod.triple(2) == 6
    assert len(_uncached_warnings(caplog)) == 1
    assert not list(tmp_path.glob("__pycache__/kmod_pkg.*"))  # beside the source: never


def _block_in_process(env: dict[str, str]) -> tuple[Path, int, str]:
    """``kernels_numpy._pairwise_block`` run in a fresh process under ``env``: the folder of
    its cache, the compiles it loaded from there, and the process's error output."""
    code = (
        "import numpy as np; from nb201_flat.search import kernels_numpy as k; "
        "assert k._pairwise_block(np.arange(16.0), 0, 16) == 120.0; "
        "print(k._pairwise_block._cache.cache_path); "
        "print(sum(k._pairwise_block.stats.cache_hits.values()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    folder, hits = out.stdout.split("\n")[:2]
    return Path(folder), int(hits), out.stderr


def _env(**changes: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_the_package_kernels_are_cached_in_the_user_cache_not_the_package(tmp_path: Path) -> None:
    # pip uninstall left site-packages/nb201_flat/ behind with 120 files (36 .lock of this
    # module's, 48 .nbc and 36 .nbi of numba's), and `import nb201_flat` an empty namespace
    package = Path(jit.__file__).resolve().parent
    env = _env(NB201_FLAT_CACHE=str(tmp_path / "c"), NUMBA_CACHE_DIR=None)
    folder, hits, err = _block_in_process(env)
    assert hits == 0  # compiled into an empty cache
    assert folder.is_relative_to(tmp_path / "c" / "numba"), folder
    assert not folder.resolve().is_relative_to(package)
    kinds = {p.suffix for p in folder.iterdir()}
    assert {".nbi", ".nbc", ".lock"} <= kinds  # numba's index and code, and the save's lock
    assert _UNCACHED not in err
    assert _block_in_process(env)[1] == 1  # a second process loads it from there


def test_a_chosen_numba_cache_dir_still_comes_first(tmp_path: Path) -> None:
    env = _env(NB201_FLAT_CACHE=str(tmp_path / "c"), NUMBA_CACHE_DIR=str(tmp_path / "n"))
    folder, _, _ = _block_in_process(env)
    assert folder.is_relative_to(tmp_path / "n"), folder
    assert not (tmp_path / "c").exists()


def test_an_empty_cache_variable_is_the_warnings_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # it is refused for tables; for kernels the warning gave numba's "no locator available"
    from numba.core import config

    monkeypatch.setattr(jit, "_PACKAGE", str(tmp_path.resolve()), raising=False)
    monkeypatch.setattr(jit, "_warned_uncached", False, raising=False)
    monkeypatch.setattr(config, "CACHE_DIR", "")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(jit, "_cache_refused", None, raising=False)
    monkeypatch.setenv("NB201_FLAT_CACHE", "")
    with caplog.at_level(logging.WARNING, logger="nb201_flat.jit"):
        kmod = _module(tmp_path, "kmod_empty")
        assert kmod.triple(2) == 6
    (warning,) = _uncached_warnings(caplog)
    assert "$NB201_FLAT_CACHE is set but empty" in warning
    assert "no locator" not in warning
