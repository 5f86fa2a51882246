"""The searches' compiled kernels, loaded before work: compiled once per machine, loaded once
per process.

The batched searches run compiled kernels (:mod:`.kernels_free_na`, :mod:`.kernels_lockstep`,
:mod:`.kernels_replay`). numba keeps their machine code in a disk cache (the user's cache
folder, :mod:`nb201_flat.jit`), so a machine compiles them once (and again after the source
changes); every later process only loads them. :func:`load_kernels` does that before the work
starts, for the kernels the work calls (:func:`kernel_modules`: a first random search compiles
none of REA's kernels, nor free NA-RS's):

- in a parent about to fork workers, so that the workers inherit the loaded kernels and LLVM's
  set-up (over 100 MB a process) page for page, instead of each loading, or on a cold cache
  compiling, the same kernels again;
- on a cold cache with more than one job, the modules are compiled side by side in child
  processes first (the compiler holds the GIL: threads would take turns), then loaded here;
- once loaded, the kernels run without LLVM, whose library loading mapped ~68 MB of its code
  into this process: :func:`release_llvm_pages` unmaps those pages (the file stays in the page
  cache), so neither this process nor its workers hold them while the work runs.

Examples
--------
>>> MODULES[0]
'nb201_flat.search.kernels_free_na'
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING

from nb201_flat.pools import reap, stop_signals_held, terminate

if TYPE_CHECKING:
    from nb201_flat.search.algorithms import SearchAlgorithm

log = logging.getLogger(__name__)

MODULES: tuple[str, ...] = (
    "nb201_flat.search.kernels_free_na",
    "nb201_flat.search.kernels_lockstep",
    "nb201_flat.search.kernels_replay",
)
#: random search's kernels and free NA-RS's (best-evaluated NA-RS's too), each a part of
#: :mod:`.kernels_free_na` (``module:part``, its ``PARTS``): a search loads its own alone
RS_KERNELS = f"{MODULES[0]}:rs"
FREE_NA_KERNELS = f"{MODULES[0]}:na"
# relative cold compile times on a 2-core machine (s of CPU, numba 0.68): the parallel
# compile deals the modules out longest first
_COMPILE_S = {
    "nb201_flat.search.kernels_free_na": 8.8,
    RS_KERNELS: 4.7,
    FREE_NA_KERNELS: 6.7,
    "nb201_flat.search.kernels_lockstep": 5.6,
    "nb201_flat.search.kernels_replay": 10.9,
}


def kernel_modules(algorithm: SearchAlgorithm) -> tuple[str, ...]:
    """The kernels a batched search of ``algorithm`` calls, under any protocol, as
    :func:`~nb201_flat.search.vectorised.run_batched` dispatches it (none where it has no
    batched form): modules of :data:`MODULES`, or the part of one the search calls
    (:data:`RS_KERNELS`, :data:`FREE_NA_KERNELS`). The one map from an algorithm to its kernels.

    >>> from nb201_flat.search.algorithms import RandomSearch, RegularizedEvolution
    >>> kernel_modules(RandomSearch()), kernel_modules(RegularizedEvolution())
    (('nb201_flat.search.kernels_free_na:rs',), ('nb201_flat.search.kernels_lockstep',))
    """
    from nb201_flat.search.algorithms import RandomSearch
    from nb201_flat.search.lockstep import lockstep_kind
    from nb201_flat.search.replay import replay_kind
    from nb201_flat.search.vectorised import free_na_kind, vectorisable_kind

    _, lockstep, replay = MODULES
    if isinstance(algorithm, RandomSearch):  # its walk, with or without stored seeds
        return (RS_KERNELS,)
    # the walks of free NA-RS (one-stage or best-evaluated), with or without stored seeds;
    # best-evaluated NA-RS is a replay kind, walked where it is free
    if vectorisable_kind(algorithm) or free_na_kind(algorithm):
        return (FREE_NA_KERNELS,)
    if replay_kind(algorithm):  # charged or two-stage NA-RS, charged best-evaluated NA-RS
        return (replay,)
    return (lockstep,) if lockstep_kind(algorithm) else ()


def load_kernels(jobs: int = 1, modules: Iterable[str] | None = None) -> None:
    """Load the kernels of ``modules`` (None: every search kernel; a search's own are
    :func:`kernel_modules`, a module's part among them) into this process, compiling on a cold
    cache (in up to ``jobs`` processes at once where the platform forks)."""
    names = list(MODULES if modules is None else modules)
    cold = [name for name in names if not _cached(name)]
    if cold:
        _say_compiling()
        if jobs > 1 and len(cold) > 1 and _can_compile_apart():
            _compile_apart(cold, jobs)
    for name in names:
        _warm_up(name)
    release_llvm_pages()


def _warm_up(name: str) -> None:
    """Load (compile on a cold cache) the kernels of ``name``: a module's every kernel, or the
    part ``module:part`` names (its ``warm_up(part)``)."""
    module, _, part = name.partition(":")
    importlib.import_module(module).warm_up(*([part] if part else []))


def _cached(name: str) -> bool:
    """:func:`is_cached` of a module's kernels, or of those the part ``module:part`` calls
    (its ``PARTS[part]``; the kernels they call are compiled with them)."""
    module, _, part = name.partition(":")
    m = importlib.import_module(module)
    if not part:
        return is_cached(m)
    return _fresh(getattr(m, kernel) for kernel in m.PARTS[part])


# madvise(2) advice: drop the page-table entries; a private file mapping with no written page
# reads its file again where touched (linux/mman.h)
_MADV_DONTNEED = 4


def release_llvm_pages() -> int:
    """Unmap the resident pages of LLVM's library code from this process (Linux); returns the
    bytes unmapped (0 elsewhere, or where nothing could be).

    Loading the kernels initialises LLVM, which touches ~68 MB of ``libllvmlite.so``'s code and
    read-only data; the loaded kernels never run it again. A parent that forks workers kept
    those pages mapped through the whole run (the figures command's process tree held them at
    its peak). Only mappings that hold no written page are dropped: read-only, with no
    copy-on-write page resident or swapped out, so their content is the file's, and a later
    compile reads them back from the page cache. The relocated data (written at load) stays."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return 0
    try:
        with open(f"/proc/{os.getpid()}/smaps", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    released = 0
    for start, end, resident in _clean_llvm_mappings(lines):
        if madvise(start, end - start, _MADV_DONTNEED) == 0:
            released += resident
    return released


def _clean_llvm_mappings(lines: list[str]) -> list[tuple[int, int, int]]:
    """``(start, end, resident bytes)`` of each read-only mapping of ``libllvmlite.so`` that
    holds no page of its own, from the lines of ``/proc/PID/smaps``: no anonymous
    (copy-on-write) page resident, none swapped out (dropping the mapping would free its swap
    and bring back the file's unrelocated bytes), none private and dirty."""
    found: list[tuple[int, int, int]] = []
    head: tuple[int, int] | None = None  # the current mapping, if one of LLVM's read-only
    fields: dict[str, int] = {}

    def close() -> None:
        own = fields.get("Anonymous", 1) + fields.get("Swap", 0) + fields.get("Private_Dirty", 0)
        if head is not None and own == 0 and fields.get("Rss", 0) > 0:
            found.append((*head, fields["Rss"] * 1024))

    for line in lines:
        words = line.split()
        if not words:
            continue
        if "-" in words[0] and not words[0].endswith(":"):  # a mapping's header line
            close()
            head, fields = None, {}
            perms = words[1] if len(words) > 1 else "w"
            path = words[5] if len(words) > 5 else ""
            if os.path.basename(path) == "libllvmlite.so" and "w" not in perms:
                lo, _, hi = words[0].partition("-")
                head = (int(lo, 16), int(hi, 16))
        elif head is not None and len(words) >= 2 and words[1].isdigit():
            fields[words[0].rstrip(":")] = int(words[1])  # "Rss:  12 kB"
    close()
    return found


def say_if_cold(modules: Iterable[str] | None = None) -> None:
    """The note of :func:`load_kernels` where any kernel of ``modules`` (None: every search
    kernel) is not in the cache yet, for a process that loads each kernel where it is first
    called."""
    names = MODULES if modules is None else modules
    if not all(_cached(name) for name in names):
        _say_compiling()


def _say_compiling() -> None:
    """A note beside the progress bars where they are drawn (a person at a terminal waits on
    it), else a log record."""
    from nb201_flat.budget import progress_enabled, tqdm_class

    note = (
        "compiling the search kernels for this machine: once, under a minute; later runs load "
        "them from numba's cache"
    )
    if progress_enabled():
        tqdm_class().write(note, file=sys.stderr)  # above a bar that is being drawn
    else:
        log.info(note)


def is_cached(module: ModuleType) -> bool:
    """Whether every kernel ``module`` uses (its own and those it imports) has a fresh entry in
    numba's disk cache: its index read as numba reads it (one made from other source, or by
    another numba, reads as empty)."""
    return _fresh(vars(module).values())


def _fresh(kernels: Iterable[object]) -> bool:
    """Whether each compiled kernel among ``kernels`` has a fresh entry in numba's disk cache
    (:func:`is_cached`); other objects are passed over."""
    from numba.core.registry import CPUDispatcher

    for value in kernels:
        if not isinstance(value, CPUDispatcher):
            continue
        cache_file = getattr(getattr(value, "_cache", None), "_cache_file", None)
        load_index = getattr(cache_file, "_load_index", None)
        if load_index is None:
            return True  # a numba that keeps its cache otherwise: let the loads find out
        try:
            if not load_index():
                return False
        except Exception:  # an unreadable index: numba will rewrite it
            return False
    return True


def _can_compile_apart() -> bool:
    # children compiling at once save entries of the shared kernels_numpy helpers into the same
    # index: safe only under the lock nb201_flat.jit puts around each kernel's cache saves
    from nb201_flat.search import kernels_numpy

    save = getattr(getattr(kernels_numpy.pairwise_sum, "_cache", None), "_cache_file", None)
    return (
        "fork" in mp.get_all_start_methods()
        and getattr(getattr(save, "save", None), "__name__", "") == "locked_save"
    )


def _compile_apart(names: list[str], jobs: int) -> None:
    """Compile ``names`` into the disk cache in ``min(jobs, len(names))`` forked children,
    longest first onto the least loaded. A child that fails leaves its modules to the loads
    that follow here (which then compile them)."""
    n = min(jobs, len(names))
    groups: list[list[str]] = [[] for _ in range(n)]
    loads = [0.0] * n
    for name in sorted(names, key=lambda m: -_COMPILE_S.get(m, 1.0)):
        k = loads.index(min(loads))
        groups[k].append(name)
        loads[k] += _COMPILE_S.get(name, 1.0)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_compile_group, args=(g,), daemon=True) for g in groups]
    try:
        with stop_signals_held():  # one handled in an at-fork hook was dropped
            for p in procs:
                p.start()
        for p in procs:
            p.join()
    except BaseException:
        terminate(procs)  # Ctrl-C: stop the compilers started so far, now
        reap(procs)
        raise
    for p, g in zip(procs, groups, strict=True):
        if p.exitcode != 0:
            log.warning("compiling %s in a child failed (exit %s); compiling here", g, p.exitcode)


def _compile_group(names: list[str]) -> None:
    """A child: compile ``names`` (each cache save under :mod:`nb201_flat.jit`'s file lock).
    Ctrl-C is the parent's to handle (it stops the children): here it is ignored, so no child
    prints a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's terminate() stops it (pools)
    try:
        for name in names:
            _warm_up(name)
    except Exception:  # the parent compiles what is left, and says so
        raise SystemExit(1) from None


__all__ = [
    "FREE_NA_KERNELS",
    "MODULES",
    "RS_KERNELS",
    "is_cached",
    "kernel_modules",
    "load_kernels",
    "release_llvm_pages",
    "say_if_cold",
]
