"""Loading the search kernels before work: the cache check, the side-by-side cold compile, and
the runner loading them before it forks."""

from __future__ import annotations

import ast
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType

import pytest

from nb201_flat.search import compiled
from nb201_flat.search import runner as runner_mod
from nb201_flat.table import Table

_KERNELS = """\
from nb201_flat.jit import kernel


@kernel
def twice(x: int) -> int:
    return 2 * x{extra}


def warm_up() -> None:
    twice(1)
"""


def _kernel_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extras: str) -> list[str]:
    """Fresh kernel modules on a private path (their numba cache is empty), one per ``extras``
    (a statement added to the kernel's body: different sources, different cache entries)."""
    pkg = tmp_path / "kpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    names = []
    for i, extra in enumerate(extras):
        (pkg / f"k{i}.py").write_text(_KERNELS.format(extra=extra))
        names.append(f"kpkg.k{i}")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [*names, "kpkg"]:
        sys.modules.pop(name, None)
    monkeypatch.setattr(compiled, "MODULES", tuple(names))
    return names


def _mod(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_is_cached_sees_the_disk_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (name,) = _kernel_modules(tmp_path, monkeypatch, "")
    m = _mod(name)
    assert not compiled.is_cached(m)
    m.warm_up()
    assert compiled.is_cached(m)
    assert list((tmp_path / "kpkg" / "__pycache__").glob("k0.twice-*.nbi"))
    # an edit leaves the index in place, stale: not cached
    path = tmp_path / "kpkg" / "k0.py"
    path.write_text(path.read_text().replace("2 * x", "3 * x"))
    sys.modules.pop(name)
    assert not compiled.is_cached(_mod(name))


def test_the_note_is_said_while_a_kernel_is_cold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (name,) = _kernel_modules(tmp_path, monkeypatch, "")
    with caplog.at_level(logging.INFO, logger=compiled.__name__):
        compiled.say_if_cold()
        assert ["compiling the search kernels" in r.getMessage() for r in caplog.records] == [True]
        _mod(name).warm_up()
        compiled.say_if_cold()
    assert len(caplog.records) == 1


def test_cold_modules_compile_in_children_then_load_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _kernel_modules(tmp_path, monkeypatch, " + 0", " + 1", " + 2")
    compiled.load_kernels(jobs=2)
    for name in names:
        stats = _mod(name).twice.stats
        # compiled by a child: this process only loaded it from the disk cache
        assert stats.cache_misses == {}, name
        assert sum(stats.cache_hits.values()) == 1, name


def test_one_job_compiles_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = _kernel_modules(tmp_path, monkeypatch, " + 0", " + 1")
    compiled.load_kernels(jobs=1)
    for name in names:
        assert sum(_mod(name).twice.stats.cache_misses.values()) == 1, name


def test_a_child_that_fails_leaves_the_compile_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    names = _kernel_modules(tmp_path, monkeypatch, " + 0", " + 1")
    bad = tmp_path / "kpkg" / "k1.py"
    bad.write_text(bad.read_text().replace("twice(1)", "twice(1)\n    raise RuntimeError('x')"))
    # the parent's own load then meets the error itself
    with caplog.at_level(logging.WARNING, logger=compiled.__name__), pytest.raises(RuntimeError):
        compiled.load_kernels(jobs=2)
    assert any("kpkg.k1" in r.getMessage() for r in caplog.records)
    assert compiled.is_cached(_mod(names[0]))


def test_the_runner_loads_the_kernels_before_it_forks(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.search import NARandomSearch, NeighbourObjective, nb201_protocol, run_search

    if runner_mod._context().get_start_method() != "fork":
        pytest.skip("the kernels are loaded before the workers start only where they fork")
    calls: list[int] = []
    # the kernels it calls only (test_audit13_kernels_loaded): all of them were compiled
    monkeypatch.setattr(compiled, "load_kernels", lambda jobs, modules: calls.append(jobs))
    algo = NARandomSearch(NeighbourObjective(radius=1))
    run_search(nb201_like, nb201_protocol(), algo, runs=4, seed=0, jobs=2)
    assert calls == [2]
    run_search(nb201_like, nb201_protocol(), algo, runs=4, seed=0, jobs=1)
    assert calls == [2]  # one process: each kernel loads where it is first called


@pytest.mark.parametrize("name", compiled.MODULES)
def test_every_search_kernel_is_cached_on_disk_and_tied_to_kernels_numpy(name: str) -> None:
    from numba.core.registry import CPUDispatcher

    from nb201_flat.jit import _digest
    from nb201_flat.search import kernels_numpy

    module = _mod(name)
    kernels = [
        v
        for v in vars(module).values()
        if isinstance(v, CPUDispatcher) and v.py_func.__module__ == name
    ]
    assert kernels
    for k in kernels:
        # not the uncached fallback of depends_on: numba's stamp, then kernels_numpy's digest
        stamp = k._cache._cache_file._source_stamp
        assert stamp[1:] == tuple(map(_digest, module.CACHE_SOURCES)), k.py_func.__name__
    # every package module it imports from is among them (a constant of oracle.py is frozen
    # into the cached code as much as a function of kernels_numpy)
    assert kernels_numpy in module.CACHE_SOURCES
    imported = set()
    # module level: an import inside a Python (not compiled) function holds nothing cached
    for node in ast.parse(Path(module.__file__ or "").read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nb201_flat"):
            for alias in node.names:  # `from pkg import module` or `from module import name`
                full = f"{node.module}.{alias.name}"
                imported.add(full if full in sys.modules else node.module)
    imported -= {"nb201_flat.jit", "nb201_flat.types"}
    assert imported <= {m.__name__ for m in module.CACHE_SOURCES}, sorted(imported)


_SMAPS = """\
7f0000000000-7f0000001000 r--p 00000000 08:01 42   /site/llvmlite/binding/libllvmlite.so
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
7f0000001000-7f0000005000 r-xp 00001000 08:01 42   /site/llvmlite/binding/libllvmlite.so
Size:                 16 kB
Rss:                  12 kB
Anonymous:             0 kB
7f0000005000-7f0000006000 r--p 00005000 08:01 42   /site/llvmlite/binding/libllvmlite.so
Size:                  4 kB
Rss:                   4 kB
Anonymous:             4 kB
7f0000006000-7f0000007000 rw-p 00006000 08:01 42   /site/llvmlite/binding/libllvmlite.so
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
7f0000007000-7f0000008000 r-xp 00000000 08:01 43   /site/other/libllvmlite.so.bak
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
7f0000008000-7f0000009000 r-xp 00000000 08:01 44   /site/llvmlite/binding/libllvmlite.so
Size:                  4 kB
Rss:                   0 kB
Anonymous:             0 kB
7f0000009000-7f000000a000 rw-p 00000000 00:00 0
Size:                  4 kB
Rss:                   4 kB
Anonymous:             4 kB
7f000000a000-7f000000c000 r--p 0000a000 08:01 42   /site/llvmlite/binding/libllvmlite.so
Size:                  8 kB
Rss:                   4 kB
Anonymous:             0 kB
Swap:                  4 kB
7f000000c000-7f000000d000 r--p 0000c000 08:01 42   /site/llvmlite/binding/libllvmlite.so
Size:                  4 kB
Rss:                   4 kB
Private_Dirty:         4 kB
Anonymous:             0 kB
VmFlags: rd mr mw me sd
7f000000d000-7f000000e000 r-xp 0000d000 08:01 42   /site/llvmlite/binding/libllvmlite.so (deleted)
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd ex mr mw me sd
"""


def test_only_llvm_mappings_that_hold_the_files_bytes_are_released() -> None:
    # the relocated read-only data (anonymous pages, resident or swapped out, or dirty) and
    # the writable data keep their pages: dropping them would bring back the file's
    # unrelocated bytes (a swapped-out page's swap is freed); a replaced file's old code goes
    found = compiled._clean_llvm_mappings(_SMAPS.splitlines())
    assert found == [
        (0x7F0000000000, 0x7F0000001000, 4096),
        (0x7F0000001000, 0x7F0000005000, 12 * 1024),
        (0x7F000000D000, 0x7F000000E000, 4096),
    ]


def _llvm_resident_kb() -> int:
    with open("/proc/self/smaps") as f:
        lines = f.read().splitlines()
    return sum(r for _, _, r in compiled._clean_llvm_mappings(lines)) // 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_llvm_pages_are_released_and_numba_still_compiles_and_runs() -> None:
    import numba
    import numpy as np

    from nb201_flat.search import kernels_lockstep

    kernels_lockstep.warm_up()  # LLVM initialised, a cached kernel loaded
    if _llvm_resident_kb() == 0:
        pytest.skip("this process maps no page of libllvmlite.so's code")
    before = _llvm_resident_kb()
    released = compiled.release_llvm_pages()
    # what was resident (tens of MB where this process loaded LLVM, less after an earlier
    # release), or less: the kernel may drop a clean page between the two reads
    assert 0 < released <= before * 1024
    assert _llvm_resident_kb() < 1024  # what is left is touched after the release

    @numba.njit
    def weighted(a: np.ndarray, w: float) -> float:  # a compile after the release
        s = 0.0
        for x in a:
            s += w * x
        return s

    assert weighted(np.arange(4.0), 0.5) == 3.0
    kernels_lockstep.warm_up()  # and the loaded kernels run on
    assert compiled.release_llvm_pages() > 0  # the compile read LLVM's code back in


def test_load_kernels_releases_llvm_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _kernel_modules(tmp_path, monkeypatch, "")
    calls: list[int] = []
    monkeypatch.setattr(compiled, "release_llvm_pages", lambda: calls.append(1) or 0)
    compiled.load_kernels(jobs=1)
    assert calls == [1]
