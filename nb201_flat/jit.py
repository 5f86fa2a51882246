"""One decorator for the project's compiled kernels: numba's ``njit``, cached on disk.

The searches replay numpy's random streams run by run; what is sequential inside a run (a
memory of seen cells, a population, a walk) costs a few nanoseconds a step compiled, against
microseconds a step as numpy calls batched across runs. Kernels live in the modules that use
them, import this module lazily (importing numba costs about 0.25 s, which small commands must
not pay), and are compiled once per machine into numba's disk cache, keyed by the source and the
argument types (:func:`_disk_cache`). The package's own kernels are kept in ``$NUMBA_CACHE_DIR``
where that is set, else in the ``numba`` folder of the package's cache
(:func:`nb201_flat.storage.cache_dir`: ``$NB201_FLAT_CACHE``, else
``$XDG_CACHE_HOME/nb201_flat``, else ``~/.cache/nb201_flat``), never in the installed package's
folder, which ``pip uninstall`` then removes whole; a kernel of another module is kept where
numba keeps it (``$NUMBA_CACHE_DIR``, else beside its source, else the user's cache). Where no
folder can be written, kernels are compiled again in each process, with one warning a process;
a function typed at a prompt has no file and is compiled each session.

numba keys a cached kernel by its own file only, yet its machine code holds a copy of every
kernel it calls. A module whose kernels call kernels of another file names that file with
:func:`depends_on`, so that editing either makes the cached code stale (recompiled on its next
call) instead of served as it was.

numba's cache is not safe for processes that compile one kernel at once (two commands on a
machine whose cache is cold, or the compiling children of :mod:`.search.compiled`): each picks
the first free data-file number from the index it read, so two signatures can share a number,
and the index then names another signature's machine code. Every save of a kernel made here
holds an exclusive lock on a file beside the index (:func:`_serialise_saves`).

Cached machine code computes the searches' numbers, and numba checks nothing in it: each data
file ends with the sha256 of its signature's key and of its code, checked on every load
(:func:`_checksum_entries`); a damaged entry is compiled again, never run.

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
import logging
import os
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

import numba
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    UserProvidedCacheLocator,
    UserWideCacheLocator,
)

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: the installed package's folder, where none of its kernels' machine code is written
_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def kernel(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, releasing the GIL while it runs; a
    stop signal that comes while it compiles or loads acts once that is done
    (:func:`_compiled_whole`)."""
    dispatcher = numba.njit(nogil=True)(fn)
    _compiled_whole(dispatcher)
    cache = _disk_cache(fn)
    if cache is not None:
        setattr(dispatcher, "_cache", cache)  # noqa: B010 (what njit(cache=True) sets)
        _checksum_entries(cache._cache_file)
        _serialise_saves(cache._cache_file)  # after: the lock is held around the checksummed save
    return cast(F, dispatcher)


def _compiled_whole(dispatcher: Any) -> None:
    """Hold Ctrl-C and SIGTERM while ``dispatcher`` compiles or loads a signature
    (:func:`nb201_flat.pools.stop_signals_held`), its every call to do so (a first call, a
    ``warm_up``, a kernel compiling a caller): numba's compiler and loader run Python in
    callbacks and finalizers, where a handler's exception was dropped ("Exception ignored",
    the command ran on) or left the kernel half loaded ("no compiled object yet")."""
    from nb201_flat.pools import stop_signals_held

    compile_signature = dispatcher.compile

    def compile(sig: Any) -> Any:
        with stop_signals_held():
            return compile_signature(sig)

    dispatcher.compile = compile


class _PackageCacheLocator(UserWideCacheLocator):
    """numba's locator in the user's cache, rooted in the package's cache folder
    (``<cache_dir()>/numba``) instead of numba's own."""

    def __init__(self, py_func: Any, py_file: str) -> None:
        from nb201_flat.storage import cache_dir

        super().__init__(py_func, py_file)  # type: ignore[no-untyped-call]
        subpath = self.get_suitable_cache_subpath(py_file)  # type: ignore[no-untyped-call]
        self._cache_path = os.path.join(cache_dir(), "numba", subpath)

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _PackageCacheLocator | None:
        from nb201_flat.errors import Nb201FlatError

        try:
            found = super().from_function(py_func, py_file)  # type: ignore[no-untyped-call]
            return cast("_PackageCacheLocator | None", found)
        except Nb201FlatError as exc:  # $NB201_FLAT_CACHE set but empty: refused, as for tables
            global _cache_refused
            _cache_refused = str(exc)  # the warning's reason, not numba's "no locator"
            return None


class _PackageCacheImpl(CompileResultCacheImpl):
    _locator_classes = [UserProvidedCacheLocator, _PackageCacheLocator]  # noqa: RUF012 (numba's)


class _PackageCache(FunctionCache):
    """numba's disk cache of a compiled function, never beside its source (:func:`_disk_cache`)."""

    _impl_class = _PackageCacheImpl


_warned_uncached = False
_cache_refused: str | None = None  # why the package's cache folder was refused, where it was


def _disk_cache(fn: Callable[..., Any]) -> Any:
    """numba's disk cache for the kernel ``fn``, or None where it is compiled in each process.

    A kernel of this package is cached in ``$NUMBA_CACHE_DIR`` where that is set and can be
    written, else in ``<cache_dir()>/numba``: numba's default, the folder beside the source, is
    the installed package's, which is not the user's to fill (``pip uninstall`` left 120 of
    numba's and this module's files there, and the folder importable as an empty package). Any
    other kernel gets numba's own choice. A function with no source file is not cached; one
    whose every folder is read-only (numba raises "no locator available") is compiled in each
    process, with one warning a process naming ``$NUMBA_CACHE_DIR``."""
    global _warned_uncached
    source = inspect.getsourcefile(fn) or ""
    if not os.path.isfile(source):
        return None
    own = os.path.realpath(source).startswith(_PACKAGE + os.sep)
    try:
        return (_PackageCache if own else FunctionCache)(fn)  # type: ignore[no-untyped-call]
    except RuntimeError as exc:  # numba found no folder it can write
        if not _warned_uncached:
            _warned_uncached = True
            chosen = bool(os.environ.get("NUMBA_CACHE_DIR"))
            way = "point $NUMBA_CACHE_DIR at" if chosen else "set $NUMBA_CACHE_DIR to"
            log.warning(
                "numba cannot keep compiled kernels on disk (%s): each process compiles them "
                "again; %s a writable folder to keep them between runs",
                _cache_refused if own and _cache_refused else exc,
                way,
            )
        return None


#: ends every data file of a kernel cached here, before the key's and the machine code's sha256
_SUM_MARK = b"nb201_flat-sha256"
_SUM_SIZE = len(_SUM_MARK) + 2 * hashlib.sha256().digest_size


def _checksum_entries(cache_file: Any) -> None:
    """Make ``cache_file`` (numba's index-and-data cache of one kernel) end each data file with
    the sha256 of its signature's key and of its machine code, and load an entry only when both
    match: numba stamps a cache by its source file alone, so one flipped byte of cached machine
    code changed a search's numbers silently, and an index naming another signature's file
    would run that code. An entry that fails (or was written before these sums, or an index
    numba cannot read) is compiled again and saved anew, with a warning when it was damaged.
    This instance only; a cache without numba's usual layout is left as numba made it."""
    needed = (
        "save",
        "flush",
        "_save_data",
        "_dump",
        "_data_path",
        "_open_for_write",
        "_load_index",
    )
    if cache_file is None or not all(hasattr(cache_file, n) for n in needed):
        return
    import pickle

    save, dump = cache_file.save, cache_file._dump
    path_of, open_for_write, load_index = (
        cache_file._data_path,
        cache_file._open_for_write,
        cache_file._load_index,
    )

    def key_sum(key: Any) -> bytes:
        # repr, not pickle: a numba type's pickle holds a number given in the order types are
        # first made in a process, so the same signature pickled differently process to process
        return hashlib.sha256(repr(key).encode()).digest()

    def save_with_key(key: Any, data: Any) -> None:
        try:
            load_index()
        except Exception:  # an index numba cannot read (its save would raise): start it anew
            cache_file.flush()
        cache_file._nb201_key = key  # for save_data, which numba's save calls without it
        try:
            save(key, data)
        finally:
            del cache_file._nb201_key

    def save_data(name: str, data: Any) -> None:
        payload = dump(data)
        tail = _SUM_MARK + key_sum(cache_file._nb201_key) + hashlib.sha256(payload).digest()
        with open_for_write(path_of(name)) as f:
            f.write(payload + tail)

    def load(key: Any) -> Any:
        try:
            name = load_index().get(key)
            if name is None:
                return None
            with open(path_of(name), "rb") as f:
                raw = f.read()
        except Exception:  # a missing data file (numba's own case) or an unreadable index
            return None
        payload, tail = raw[:-_SUM_SIZE], raw[-_SUM_SIZE:]
        if not tail.startswith(_SUM_MARK):
            return None  # written before these sums: compiled again, quietly
        digest = tail[len(_SUM_MARK) :]
        if digest != key_sum(key) + hashlib.sha256(payload).digest():
            warnings.warn(
                f"numba cache {path_of(name)} does not match its checksum (damaged); "
                "compiling the kernel again",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        return pickle.loads(payload)

    cache_file.save = save_with_key
    cache_file._save_data = save_data
    cache_file.load = load


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
