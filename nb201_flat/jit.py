"""One decorator for the project's compiled kernels: numba's ``njit``, cached on disk.

The searches replay numpy's random streams run by run; what is sequential inside a run (a
memory of seen cells, a population, a walk) costs a few nanoseconds a step compiled, against
microseconds a step as numpy calls batched across runs. Kernels live in the modules that use
them, import this module lazily (importing numba costs about 0.25 s, which small commands must
not pay), and are compiled once per machine: ``cache=True`` keeps the machine code beside the
source (or in the user's cache directory where that is read-only), keyed by the source and the
argument types (a function typed at a prompt has no file and is compiled each session).

numba keys a cached kernel by its own file only, yet its machine code holds a copy of every
kernel it calls. A module whose kernels call kernels of another file names that file with
:func:`depends_on`, so that editing either makes the cached code stale (recompiled on its next
call) instead of served as it was.

numba's cache is not safe for processes that compile one kernel at once (two commands on a
machine whose cache is cold, or the compiling children of :mod:`.search.compiled`): each picks
the first free data-file number from the index it read, so two signatures can share a number,
and the index then names another signature's machine code. Every save of a kernel made here
holds an exclusive lock on a file beside the index (:func:`_serialise_saves`).

Examples
--------
>>> import numpy as np
>>> @kernel
... def total(a):
...     s = 0
...     for x in a:
...         s += x
...     return s
>>> int(total(np.arange(5)))
10
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def kernel(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, releasing the GIL while it runs."""
    cache = os.path.isfile(inspect.getsourcefile(fn) or "")
    dispatcher = numba.njit(cache=cache, nogil=True)(fn)
    _serialise_saves(getattr(getattr(dispatcher, "_cache", None), "_cache_file", None))
    return cast(F, dispatcher)


def _serialise_saves(cache_file: Any) -> None:
    """Make ``cache_file.save`` (numba's index-and-data cache of one kernel) hold an exclusive
    ``flock`` on ``<index>.lock`` while it reads the index, picks a data-file name and writes
    both, so that saves from several processes follow one another. This instance only: other
    numba users in the process are left as they are. A cache without that layout, or a
    platform without ``fcntl``, is left as numba made it; a file system that refuses the lock
    (some network mounts) saves unlocked, as numba alone would, with a warning."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return
    save = getattr(cache_file, "save", None)
    index = getattr(cache_file, "_index_path", None)
    if save is None or not isinstance(index, str):
        return

    def locked_save(key: Any, data: Any) -> None:
        os.makedirs(os.path.dirname(index), exist_ok=True)
        with open(f"{index}.lock", "a") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file is closed
            except OSError as exc:
                warnings.warn(
                    f"numba cache {index}: no lock ({exc}); processes compiling this kernel at "
                    "the same time could mix up its cached machine code",
                    RuntimeWarning,
                    stacklevel=2,
                )
            save(key, data)

    cache_file.save = locked_save


def depends_on(module: str, *sources: ModuleType) -> None:
    """Tie the disk cache of the kernels defined in ``module`` to the files of ``sources``
    too: numba's freshness stamp of their own file is extended with a hash of each source's.

    Call it at the end of ``module``, before any of its kernels runs. Where numba keeps its
    cache otherwise than this knows, those kernels are not cached at all (compiled in each
    process) rather than risk stale code.
    """
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    stamps = tuple(_digest(src) for src in sources)
    for value in list(vars(sys.modules[module]).values()):
        if not isinstance(value, CPUDispatcher) or value.py_func.__module__ != module:
            continue
        cache = getattr(value, "_cache", None)
        cache_file = getattr(cache, "_cache_file", None)
        own = getattr(cache_file, "_source_stamp", None)
        if own is not None:
            cache_file._source_stamp = (own, *stamps)  # type: ignore[union-attr]
        elif not isinstance(cache, NullCache):
            setattr(value, "_cache", NullCache())  # noqa: B010 (numba keeps no public setter)


def _digest(module: ModuleType) -> str:
    path = inspect.getsourcefile(module) or module.__file__ or ""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
