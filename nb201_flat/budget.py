"""Bounded work: what a request will cost, checked before it starts, and progress while it runs.

* :func:`available_bytes` -- the memory this process may still use: the smallest of the
  system's available memory, the cgroup's remaining limit and the address-space limit
  (``ulimit -v``) less what is already mapped. ``NB201_FLAT_MAX_MEMORY`` (bytes, or with a
  ``K``/``M``/``G`` suffix) caps it further, e.g. on a shared machine.
* :func:`check_memory` -- raise :class:`~nb201_flat.errors.ResourceLimitError` before a
  computation whose estimate does not fit, with a message naming what would.
* :func:`progress` -- a tqdm bar (:func:`tqdm_class`) on stderr, shown only when stderr is a terminal,
  the command does not print ``--json`` and the work lasts more than a couple of seconds.
* :func:`limit_blas_threads` -- keep OpenBLAS from reserving a buffer per core under a memory
  limit (it dies with a bare "OpenBLAS error" when it cannot); called before numpy loads.
* :func:`preload_blas` -- under ``ulimit -v``, load scipy's OpenBLAS before the work starts
  (loaded late, when the limit is nearly reached, it spins forever instead of failing).

Examples
--------
>>> human(3 * 2**30), human(5 * 2**20)
('3.0 GB', '5 MB')
>>> check_memory(1024, "a small thing", "nothing")  # fits anywhere
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from nb201_flat.errors import ArgumentError, Param, Part, ResourceLimitError

T = TypeVar("T")

ENV_MAX_MEMORY = "NB201_FLAT_MAX_MEMORY"
# Leave room for the interpreter, the table and the caller's own arrays.
_HEADROOM = 0.8
_show_progress = True


def human(n: float, digits: int = 0) -> str:
    """Bytes as text: ``'1.5 GB'``, ``'12 MB'`` (``digits`` more decimals than that)."""
    if n >= 2**30:
        return f"{n / 2**30:.{1 + digits}f} GB"
    return f"{max(n, 0) / 2**20:.{digits}f} MB"


def human_apart(need: float, have: float) -> tuple[str, str]:
    """``need`` and ``have`` (bytes, need > have) as text with enough decimals to tell them
    apart: "needs 2 MB and 2 MB is available" read as a contradiction.

    >>> human_apart(2.4 * 2**20, 2.0 * 2**20), human_apart(3 * 2**30, 2**20)
    (('2.4 MB', '2.0 MB'), ('3.0 GB', '1 MB'))
    """
    for digits in range(4):
        pair = human(need, digits), human(have, digits)
        if pair[0] != pair[1]:
            return pair
    return pair


def _parse_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?\s*", text.upper())
    if m is None:
        raise ArgumentError(
            f"{ENV_MAX_MEMORY}={text[:40]!r} is not a size; use bytes or a K/M/G suffix (4G)"
        )
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2)]
    return int(float(m.group(1)) * scale)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


_CGROUP_V2 = ("memory.max", "memory.current", "memory.stat", "inactive_file")
_CGROUP_V1 = (
    "memory/memory.limit_in_bytes",
    "memory/memory.usage_in_bytes",
    "memory/memory.stat",
    "total_inactive_file",
)


def _cgroup_left(root: str = "/sys/fs/cgroup") -> int | None:
    """The cgroup's limit less its working set: its usage counts the page cache, and the
    inactive part of that is given back on demand (a cgroup whose cache filled it read 0
    left, which refused all work), so it is left out, as the kubelet leaves it out."""
    for limit_file, usage_file, stat_file, cache_key in (_CGROUP_V2, _CGROUP_V1):
        limit = _read_int(f"{root}/{limit_file}")
        usage = _read_int(f"{root}/{usage_file}")
        if limit is not None and usage is not None and limit < 2**60:
            cache = _stat_value(f"{root}/{stat_file}", cache_key) or 0
            return max(limit - max(usage - cache, 0), 0)
    return None


def _stat_value(path: str, key: str) -> int | None:
    """The value of ``key`` in a cgroup ``memory.stat`` file (``None``: unreadable)."""
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        return None
    return None


def _address_space_left() -> int | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(soft - int(line.split()[1]) * 1024, 0)
    except (OSError, ValueError, IndexError):
        pass
    return int(soft)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the platform has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def thread_count(cap: int) -> int:
    """Threads for numpy work split across cores: the usable cores, at most ``cap``.

    ``NB201_FLAT_THREADS`` overrides (1 for a single thread).
    """
    env = os.environ.get("NB201_FLAT_THREADS", "").strip()
    if env:
        try:
            threads = int(env)
        except ValueError:
            threads = 0
        if threads < 1:  # 0 and -4 ran on one thread, as if asked for
            raise ArgumentError(
                f"NB201_FLAT_THREADS must be a whole number of threads, 1 or more, got {env!r}"
            )
        return threads
    return max(1, min(cap, usable_cores()))


def available_bytes() -> int | None:
    """Memory this process may still allocate, or ``None`` when nothing says.

    >>> n = available_bytes()
    >>> n is None or n >= 0
    True
    """
    # a reading of 0 is nothing left, not nothing said (a full address space passed any check)
    readings = (_meminfo_available(), _cgroup_left(), _address_space_left())
    found = [x for x in readings if x is not None]
    cap = os.environ.get(ENV_MAX_MEMORY)
    if cap:
        found.append(_parse_bytes(cap))
    return min(found) if found else None


def fits(need_bytes: float) -> bool:
    """Whether ``need_bytes`` fits in what :func:`available_bytes` reports (with headroom)."""
    avail = available_bytes()
    return avail is None or need_bytes <= _HEADROOM * avail


def check_memory(need_bytes: float, what: str, fix: str | Sequence[Part]) -> None:
    """Raise :class:`ResourceLimitError` when ``what`` (estimated ``need_bytes``) cannot fit.

    ``fix`` says what would fit (a smaller radius, fewer runs...): text, or message parts that
    name a :class:`~nb201_flat.errors.Param` (a command respells it as its flag); the message
    also names the estimate, the memory available and how to raise the cap.
    """
    if fits(need_bytes):
        return
    need, have = human_apart(need_bytes, _HEADROOM * (available_bytes() or 0))
    raise ResourceLimitError(
        f"{what} needs about {need} of memory and {have} is available; ",
        *((fix,) if isinstance(fix, str) else fix),
        f" (or free memory / raise the limit{_cap_hint()})",
    )


def _cap_hint() -> str:
    return f", {ENV_MAX_MEMORY}" if os.environ.get(ENV_MAX_MEMORY) else ""


# -- neighbourhood statistics ------------------------------------------------------------------
# Bytes per gathered entry while a chunk is reduced: the float64 block, its NaN mask, the
# masked copies, the partition copy of a quantile and the squared deviations of std; plus the
# int64 temporaries of building a chunk's neighbour rows when the matrix is not cached.
_PER_ENTRY_STATS = 48
_PER_ENTRY_ROWS = 32


def neighbourhood_bytes(
    size: int,
    width: int,
    n_columns: int,
    *,
    gather: bool,
    cached: bool,
    chunk_entries: int,
    extremes_radius: int = 0,
) -> int:
    """Estimated peak memory of neighbourhood statistics over ``size`` cells of ``width``
    neighbours: ``n_columns`` output vectors, and for a gather one chunk of rows (plus the
    space's neighbour matrix and its build when it is cached). ``extremes_radius``: min or max
    at that exact radius, whose own programme holds a vector per distance up to it (0: none).

    >>> human(neighbourhood_bytes(15625, 4096, 11, gather=True, cached=False,
    ...                           chunk_entries=2**21))
    '163 MB'
    """
    need = 2 * n_columns * size * 8  # the columns, and the frame built from them
    if extremes_radius:
        need += (extremes_radius + 1) * size * 8
    if not gather:
        return need + 12 * size * 8  # the structure passes hold a dozen vectors at a time
    entries = max(width + 1, min(chunk_entries, size * (width + 1)))
    need += entries * _PER_ENTRY_STATS
    if cached:
        need += 3 * size * width * 4  # the int32 matrix and its build
    else:
        need += entries * _PER_ENTRY_ROWS
    return need


def check_neighbourhood_memory(
    nb: object,
    n_columns: int,
    *,
    gather: bool,
    include_self: bool = False,
    gathered: Sequence[str] = (),
    extremes: bool = False,
    stand_ins: bool = False,
) -> None:
    """:func:`check_memory` for neighbourhood statistics over ``nb`` (a
    :class:`~nb201_flat.landscape.aggregates.NeighbourRows` or
    :class:`~nb201_flat.neighbours.NeighbourArrays`); the message names the radii that fit,
    or the statistics that need no gather.

    ``gathered`` names the statistics asked for that need the gather (the message names
    them); ``extremes``: min or max at the exact radius, by their own programme (no gather);
    ``stand_ins``: the members depend on stand-ins, so every statistic is gathered.
    """
    from nb201_flat.landscape import neighbourhood as _nbh

    space = getattr(nb, "space", None)
    radius = int(getattr(nb, "radius", 0))
    exact = bool(getattr(nb, "exact", True))
    chunk = _nbh._CHUNK_ENTRIES

    def need(r: int, gathering: bool, with_extremes: bool) -> int:
        if space is None:  # precomputed arrays: already in memory, only the chunk is new
            width = int(getattr(nb, "width", 0)) + include_self
            # NeighbourArrays has no size: its rows are its cells (read as 0 cells, it passed)
            size = getattr(nb, "size", None)
            size = len(nb.counts) if size is None else size  # type: ignore[attr-defined]
            return neighbourhood_bytes(
                int(size), width, n_columns, gather=gathering, cached=False,
                chunk_entries=chunk,
            )  # fmt: skip
        from nb201_flat.landscape.aggregates import CACHE_ENTRIES_LIMIT, supports

        width = space.neighbourhood_size(r, exact=exact) + include_self
        # where the structure passes serve min and max (radius 1), no programme of their own
        own = with_extremes and not supports(("min",), r, exact=exact)
        return neighbourhood_bytes(
            space.size, width, n_columns, gather=gathering,
            cached=space.size * width <= CACHE_ENTRIES_LIMIT, chunk_entries=chunk,
            extremes_radius=r if own else 0,
        )  # fmt: skip

    estimate = need(radius, gather, extremes)
    if fits(estimate):
        return
    options = []
    smaller = [r for r in range(1, radius) if fits(need(r, gather, extremes))]
    if smaller:
        options.append(_radii_that_fit(smaller))
    if gather and not stand_ins and fits(need(radius, False, True)):
        options.append("mean, std, min and max alone need no gather and fit")
    what = f"neighbourhood statistics at radius {radius}"
    if stand_ins:
        what += " (with stand-ins every statistic is a gather)"
    elif gather:
        what += f" ({_and_listed(gathered)}: a gather)" if gathered else " (a gather)"
    check_memory(estimate, what, "; ".join(options) or "nothing smaller fits either")


def _radii_that_fit(radii: Sequence[int]) -> str:
    """The radii (ascending) as the fix of a refusal: "or less" only where every smaller one
    fits too (a cached radius 3 may need more than an uncached 4).

    >>> _radii_that_fit([1, 2]), _radii_that_fit([1, 2, 4]), _radii_that_fit([4])
    ('radius 2 or less fits', 'radius 1, 2 or 4 fits', 'radius 4 fits')
    """
    if list(radii) == list(range(1, radii[-1] + 1)):
        return f"radius {radii[-1]} or less fits"
    listed = ", ".join(map(str, radii[:-1]))
    return f"radius {listed} or {radii[-1]} fits" if listed else f"radius {radii[-1]} fits"


def _and_listed(names: Sequence[str]) -> str:
    """``'a, b and c'``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


# -- worker processes --------------------------------------------------------------------------
#: estimated memory of one search worker process (MB): it loads the libraries and the table
SEARCH_WORKER_MB = 150


def check_search_jobs(jobs: Any) -> int:
    """``jobs`` as a count of search worker processes: an int >= 1, else one
    :class:`ArgumentError` naming the parameter (a command respells it) and the fix. The one
    check of ``search``, ``reproduce`` and the searches of ``figures``; call it before any work.
    Their memory is checked for the workers that start (:func:`check_search_workers`).

    >>> check_search_jobs(2)
    2
    >>> check_search_jobs(0)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: jobs must be >= 1, got 0; pass jobs=1 to run in this process
    """
    from nb201_flat.errors import check_int_range

    fix = ("pass ", Param("jobs", 1), " to run in this process")
    return check_int_range(Param("jobs"), jobs, 1, fix=fix)


def check_search_workers(workers: int, jobs: int) -> None:
    """Refuse (one :class:`ResourceLimitError` naming the fix) ``workers`` search worker
    processes that cannot fit in memory: the workers a pool asked for ``jobs`` starts, which
    the runner decides (never more than its tasks: 3 runs with 8 jobs start 3 at most).

    >>> check_search_workers(1, 8)  # one worker runs in this process: nothing to check
    """
    if workers > 1:
        check_memory(
            workers * SEARCH_WORKER_MB * 2**20,
            f"a pool of {workers} search worker processes"
            + (f" ({jobs} jobs asked, one worker a task at most)" if jobs > workers else ""),
            ("pass fewer jobs (", Param("jobs"), f"; this process may use {usable_cores()} CPUs)"),
        )


def search_jobs_that_fit(wanted: int) -> int:
    """``wanted`` search workers, fewer where their memory would not fit (at least one): the
    default of a command whose ``--jobs`` is not given, which must never be refused.

    >>> search_jobs_that_fit(1)
    1
    """
    avail = available_bytes()
    if avail is None:
        return max(1, wanted)
    return max(1, min(wanted, int(_HEADROOM * avail // (SEARCH_WORKER_MB * 2**20))))


# -- progress ---------------------------------------------------------------------------------
def set_progress(enabled: bool) -> None:
    """Allow or forbid progress bars for this process (the CLI forbids them under ``--json``)."""
    global _show_progress
    _show_progress = bool(enabled)


def progress_enabled() -> bool:
    """True when a bar may be drawn: allowed, and stderr is a terminal."""
    try:
        return _show_progress and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


#: seconds of work before a bar appears (quick work draws nothing)
PROGRESS_DELAY_S = 2.0


def tqdm_class() -> Any:
    """The tqdm bar class to use: ``tqdm.auto`` where notebook widgets can be drawn, else
    the plain ``tqdm.std`` (``tqdm.auto`` without ipywidgets warns "IProgress not found");
    a bar drawn as text draws on stderr through :class:`BarStream`.

    >>> tqdm_class().__name__
    'tqdm'
    """
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm as std

        return _quiet_bars(std)
    from tqdm.auto import tqdm as auto
    from tqdm.notebook import tqdm as widgets

    if issubclass(auto, widgets):  # a notebook's bars are widgets, not text on stderr
        return auto
    return _quiet_bars(auto)


class BarStream:
    """The stream a progress bar draws on: the first write or flush that fails (an error
    output whose pipe reader has gone, ``2>&1 >FILE | true``; a full disk) turns the bar's
    drawing off for good. tqdm's own guard passes over EIO only, and the BrokenPipeError
    ended the search or the training run that drew the bar; a bar is not worth that."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.failed = False

    def write(self, text: str) -> int:
        if not self.failed:
            try:
                return int(self._stream.write(text) or 0)
            except (OSError, ValueError):  # ValueError: a closed stream
                self.failed = True
        return 0

    def flush(self) -> None:
        if not self.failed:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.failed = True

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno: the stream's
        if name == "_stream":  # not set yet (a copy): no stream to ask
            raise AttributeError(name)
        return getattr(self._stream, name)

    def __eq__(self, other: object) -> bool:  # tqdm.write clears the bars drawn on its file
        return bool(self._stream == getattr(other, "_stream", other))

    def __hash__(self) -> int:
        return hash(self._stream)


_QUIET_BARS: dict[type, type] = {}
_FILE_AT = 4  # tqdm's file, by position


def _quiet_bars(base: Any) -> Any:
    """``base`` (a tqdm class) drawing through :class:`BarStream`: its bars, and its
    ``write`` of a line above them. One subclass a base, of the same name."""
    if base not in _QUIET_BARS:

        class Bar(base):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                if len(args) > _FILE_AT:  # tqdm(iterable, desc, total, leave, file, ...)
                    args = (
                        *args[:_FILE_AT],
                        BarStream(args[_FILE_AT] or sys.stderr),
                        *args[_FILE_AT + 1 :],
                    )
                else:
                    kwargs["file"] = BarStream(kwargs.get("file") or sys.stderr)
                super().__init__(*args, **kwargs)

            @classmethod
            def write(cls, s: str, file: Any = None, end: str = "\n", nolock: bool = False) -> None:
                # to stdout where no file is given, as tqdm's: a failed write there is said
                stream = None if file is None else BarStream(file)
                super().write(s, file=stream, end=end, nolock=nolock)

        Bar.__name__ = Bar.__qualname__ = base.__name__
        _QUIET_BARS[base] = Bar
    return _QUIET_BARS[base]


class NoBar:
    """A tqdm stand-in that draws nothing, for work shown without a bar.

    No tqdm object is made at all: even a disabled bar starts tqdm's monitor thread (a pool
    forked while it holds tqdm's lock leaves that lock held in the child) and creates tqdm's
    multiprocessing lock (which a worker stopped by Ctrl-C leaks; Python warns of it at exit).
    """

    def __init__(self, iterable: Iterable[Any] = (), **_: Any) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self._iterable)

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *_: object) -> None:
        """Nothing to close."""

    def update(self, n: int = 1) -> None:
        """Nothing to draw."""

    def set_postfix(self, **_: Any) -> None:
        """Nothing to draw."""

    def close(self) -> None:
        """Nothing to close."""


def epoch_bar(start: int, total: int, *, desc: str, show: bool) -> Any:
    """Epochs ``start .. total - 1`` of a training run, with a tqdm bar when ``show`` (else a
    :class:`NoBar`).

    >>> bar = epoch_bar(1, 3, desc="run", show=False)
    >>> list(bar), bar.set_postfix(loss="0.1"), bar.close()
    ([1, 2], None, None)
    """
    if not show:
        return NoBar(range(start, total))
    return tqdm_class()(range(start, total), initial=start, total=total, desc=desc, leave=False)


def progress(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    delay_s: float | None = None,
) -> Iterator[T]:
    """``items``, with a tqdm bar on stderr after ``delay_s`` seconds (default
    :data:`PROGRESS_DELAY_S`) when
    :func:`progress_enabled` (nothing is drawn for quick work or off a terminal).

    >>> list(progress(range(3), desc="demo"))
    [0, 1, 2]
    """
    if not progress_enabled():
        yield from items
        return
    delay = PROGRESS_DELAY_S if delay_s is None else delay_s
    bar = tqdm_class()
    yield from bar(items, total=total, desc=desc, file=sys.stderr, delay=delay, leave=False)


# -- BLAS threads -------------------------------------------------------------------------------
def limit_blas_threads() -> None:
    """Under an address-space or cgroup memory limit, use one OpenBLAS thread unless the user
    chose a count: each OpenBLAS thread reserves its own buffer when numpy loads, and a capped
    process then dies with a bare "OpenBLAS error" before any of our code runs.

    Only effective before numpy is first imported, so a no-op once it is (the variable would
    reach only this process's children, whose environment is the caller's to set; the
    package's own workers are forked with numpy loaded) and where the user set either
    variable.
    """
    if "numpy" in sys.modules:
        return
    if any(k in os.environ for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
        return
    if _address_space_left() is not None or _cgroup_left() is not None:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


limit_blas_threads()  # at import: nb201_flat imports this module before anything loads numpy

# Address space scipy's own OpenBLAS maps when it loads with one thread (80 MB measured with
# scipy 1.15), with room to spare.
_BLAS_BYTES = 128 * 2**20


def preload_blas(command: str | None = None) -> None:
    """Under an address-space limit (``ulimit -v``), load scipy's BLAS now, while there is room.

    scipy ships a second OpenBLAS that is loaded lazily (``scipy.linalg``, ``scipy.sparse``);
    when its buffer cannot be mapped its loader spins forever (no error, no exit). So, under
    such a limit, it is loaded before any work, and a limit too tight to load it at all is a
    :class:`ResourceLimitError` saying so. Without an address-space limit this does nothing.

    >>> preload_blas("info")  # no ``ulimit -v`` here: nothing to do
    """
    left = _address_space_left()
    if left is None or "scipy.linalg" in sys.modules:
        return
    if left < _BLAS_BYTES:
        raise ResourceLimitError(
            f"{command or 'this command'} needs about {human(_BLAS_BYTES)} more address space "
            f"to load its linear algebra library and the address-space limit (ulimit -v) "
            f"leaves {human(left)}; raise the limit by at least {human(_BLAS_BYTES - left)}"
        )
    try:
        import scipy.linalg  # noqa: F401
    except ImportError:  # scipy is a dependency; without it nothing loads a second BLAS
        return
