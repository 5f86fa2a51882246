"""The compiled-kernel decorator's disk cache: a kernel that calls another file's kernel is
recompiled when that file changes (numba alone would serve the old machine code); processes
saving into one cache at once never leave an index naming another signature's code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_DEP = """\
from nb201_flat.jit import kernel


@kernel
def base() -> int:
    return {value}
"""

_USER = """\
from nb201_flat.jit import depends_on, kernel
from kpkg import dep


@kernel
def twice() -> int:
    return 2 * dep.base()


{tie}
"""


def _call(root: Path) -> tuple[int, int]:
    """``user.twice()`` in a fresh process, and how many of its compiles came from the cache."""
    code = "from kpkg import user; print(user.twice(), sum(user.twice.stats.cache_hits.values()))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    value, hits = out.stdout.split()
    return int(value), int(hits)


def _package(root: Path, *, tie: bool) -> Path:
    pkg = root / "kpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "dep.py").write_text(_DEP.format(value=1))
    (pkg / "user.py").write_text(_USER.format(tie="depends_on(__name__, dep)" if tie else ""))
    return pkg / "dep.py"


def _edit(dep: Path, value: int) -> None:
    before = dep.stat()
    dep.write_text(_DEP.format(value=value))
    os.utime(dep, (before.st_atime + 10, before.st_mtime + 10))  # a later edit, whatever the clock


def test_an_edited_dependency_reaches_the_cached_caller(tmp_path: Path) -> None:
    dep = _package(tmp_path, tie=True)
    assert _call(tmp_path) == (2, 0)  # compiled, and cached
    assert _call(tmp_path) == (2, 1)  # loaded from the cache
    _edit(dep, 5)
    assert _call(tmp_path) == (10, 0)  # stale: compiled again
    assert _call(tmp_path) == (10, 1)


def test_without_the_tie_numba_serves_the_old_code(tmp_path: Path) -> None:
    # why depends_on exists: if numba ever keys callers by their callees' files too, this
    # fails, and depends_on can go
    dep = _package(tmp_path, tie=False)
    assert _call(tmp_path) == (2, 0)
    _edit(dep, 5)
    assert _call(tmp_path) == (2, 1)


_SAVER = """\
import json, os, sys, time
from numba.core.caching import IndexDataCacheFile
from nb201_flat.jit import _serialise_saves

folder, who, ready = sys.argv[1], sys.argv[2], sys.argv[3]
cache = IndexDataCacheFile(folder, "k", ("stamp",))
_serialise_saves(cache)
open(os.path.join(ready, who), "w").close()
while len(os.listdir(ready)) < {k}:  # every process imported and ready: all save at once
    time.sleep(0.001)  # not a busy wait: on two cores it starved the others' imports
first = time.time()
for i in range({n}):
    cache.save((who, i), f"{{who}}-{{i}}")
with open(os.path.join(folder, who + ".json"), "w") as f:
    json.dump([first, time.time()], f)
"""


def test_processes_saving_at_once_keep_every_entry_with_its_own_code(tmp_path: Path) -> None:
    # Unlocked, three processes making 200 saves each at once into one index left 304 of the
    # 600 entries, 122 of them naming another entry's data (measured while writing this);
    # under the lock every entry is there, with its own data.
    import json

    from numba.core.caching import IndexDataCacheFile

    n, who = 200, ["a", "b", "c"]
    cache_dir, ready = tmp_path / "cache", tmp_path / "ready"
    cache_dir.mkdir()
    ready.mkdir()
    script = tmp_path / "saver.py"
    script.write_text(_SAVER.format(n=n, k=len(who)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen([sys.executable, str(script), str(cache_dir), w, str(ready)], env=env)
        for w in who
    ]
    try:
        assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    finally:  # one that died before it was ready leaves the others waiting for it
        for p in procs:
            p.kill()
    spans = [json.loads((cache_dir / f"{w}.json").read_text()) for w in who]
    assert max(s[0] for s in spans) < min(s[1] for s in spans), "the saves did not overlap"
    cache = IndexDataCacheFile(str(cache_dir), "k", ("stamp",))
    index = cache._load_index()
    assert sorted(index) == sorted((w, i) for w in who for i in range(n))
    wrong = [k for k in index if cache.load(k) != f"{k[0]}-{k[1]}"]
    assert wrong == []


def test_the_project_kernels_save_under_the_lock() -> None:
    from nb201_flat.search import kernels_numpy

    cache_file = kernels_numpy.pairwise_sum._cache._cache_file
    assert cache_file.save.__name__ == "locked_save"


_SCALED = """\
from nb201_flat.jit import kernel


@kernel
def scaled(n):
    s = 0.0
    for i in range(n):
        s += i * 3.0 + 1.5
    return s
"""


def _value_hits_err(root: Path, code: str) -> tuple[float, int, str]:
    """Run ``code`` (which prints a kernel's value and its compiles from the cache) in a fresh
    process importing from ``root``: the value, the cache hits and the process's stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    value, hits = out.stdout.split()
    return float(value), int(hits), out.stderr


def _scaled(root: Path) -> tuple[float, int, str]:
    """``kmod.scaled(10)`` in a fresh process (:func:`_value_hits_err`)."""
    code = "import kmod; print(kmod.scaled(10), sum(kmod.scaled.stats.cache_hits.values()))"
    return _value_hits_err(root, code)


def test_damaged_machine_code_in_the_cache_is_compiled_again(tmp_path: Path) -> None:
    # numba stamps a cache by its source file alone: one flipped byte of the cached constant
    # 3.0 made scaled(10) return 155.625 instead of 150.0, with no error (audit, measured)
    import struct

    (tmp_path / "kmod.py").write_text(_SCALED)
    assert _scaled(tmp_path)[:2] == (150.0, 0)  # compiled, and cached
    assert _scaled(tmp_path)[:2] == (150.0, 1)  # loaded from the cache: its sums hold
    (data,) = (tmp_path / "__pycache__").glob("kmod.scaled-*.nbc")
    raw = bytearray(data.read_bytes())
    at = raw.index(struct.pack("<d", 3.0))
    raw[at + 6] ^= 0x01  # 3.0 -> 3.0000000000000004-ish: a plausible number, silently wrong
    data.write_bytes(bytes(raw))
    value, hits, err = _scaled(tmp_path)
    assert (value, hits) == (150.0, 0), err  # compiled again, never the damaged code
    assert "does not match its checksum (damaged); compiling the kernel again" in err
    assert _scaled(tmp_path)[:2] == (150.0, 1)  # saved anew
    # a data file written before the sums (numba's own format) is compiled again, quietly
    raw = data.read_bytes()
    data.write_bytes(raw[: -len(b"nb201_flat-sha256") - 64])
    value, hits, err = _scaled(tmp_path)
    assert (value, hits) == (150.0, 0) and "checksum" not in err


_SUMMED = """\
from nb201_flat.jit import kernel


@kernel
def summed(a):
    s = 0.0
    for x in a:
        s += x
    return s
"""


def _summed(root: Path, *, other_types_first: bool) -> tuple[float, int, str]:
    """``kmod2.summed`` of a float array in a fresh process (:func:`_value_hits_err`);
    ``other_types_first``: numba makes two other array types before that call."""
    first = "numba.typeof(np.zeros(2, np.int16)); numba.typeof(np.zeros(2, np.int32)); "
    code = (
        "import numba, numpy as np; "
        + (first if other_types_first else "")
        + "import kmod2; print(kmod2.summed(np.arange(4.0)), "
        "sum(kmod2.summed.stats.cache_hits.values()))"
    )
    return _value_hits_err(root, code)


def test_the_sums_hold_whatever_types_a_process_made_first(tmp_path: Path) -> None:
    # the key's sum was of its pickle, which numbers each numba type in the order a process
    # first makes it: a process that made other array types first read every good entry as
    # damaged, compiled again and overwrote it, and so on by turns (review, measured)
    (tmp_path / "kmod2.py").write_text(_SUMMED)
    assert _summed(tmp_path, other_types_first=True)[:2] == (6.0, 0)
    for first in (False, True, False):
        value, hits, err = _summed(tmp_path, other_types_first=first)
        assert (value, hits) == (6.0, 1) and "checksum" not in err, err
    # an index numba cannot read: compiled again and saved anew, never a raw UnpicklingError
    (index,) = (tmp_path / "__pycache__").glob("kmod2.summed-*.nbi")
    index.write_bytes(index.read_bytes()[:20])
    assert _summed(tmp_path, other_types_first=False)[:2] == (6.0, 0)
    assert _summed(tmp_path, other_types_first=False)[:2] == (6.0, 1)
