"""The compiled-kernel decorator's disk cache: a kernel that calls another file's kernel is
recompiled when that file changes (numba alone would serve the old machine code)."""

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
