"""Learning curves: per-epoch metrics over (architecture, epoch), loaded lazily.

A :class:`Curves` maps a :class:`~nb201_flat.table.MetricKey` ``(dataset, split, epochs,
metric)`` -- ``epochs`` naming the *schedule* (200 or 12), as in a table -- and a seed (``None``
for the mean over seeds, else a stored seed as a table names it: the position 0, 1, 2 in
NB201's files, which do not say their seeds; a results database's training seed id) to a
read-only array of shape ``(n_archs, n_epochs)``: row ``i`` is architecture ``i``, column ``e``
the value after epoch ``e`` (0-based, the official API's ``iepoch``), NaN where not stored.

Metrics: ``accuracy`` and ``loss`` (split ``train`` and each evaluation split) and
``epoch_time_s`` (split ``train``: the seconds of that one epoch, the official ``train_times``;
the official ``train-all-time`` at ``iepoch=e`` is the sum over epochs ``0..e``).

Curves travel with a table (``table.curves``; None when the source stores none, as the tidy
files of ``../shared/data/nb201`` do) and are stored beside it in ``curves.parquet``: one row
per architecture, one fixed-size-list column per (key, seed), listed with its sha256 in the
manifest. A loaded table reads a curve column only when it is first asked for (and checks the
file's checksum then), so loading final values costs nothing extra.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.table import MetricKey
>>> key = MetricKey("cifar10-valid", "x-valid", 200)
>>> c = Curves(4, {(key, 0): np.arange(12.0).reshape(4, 3)})
>>> c.at(key, 2, seed_policy=0)
array([ 2.,  5.,  8., 11.])
>>> c.n_epochs(key)
3
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import numpy as np

from nb201_flat.errors import (
    ArgumentError,
    Call,
    FormatError,
    Part,
    TableFileError,
    UnknownKeyError,
    check_flag,
    check_int_range,
    parts_of,
    shown,
)
from nb201_flat.errors import NoCurvesError as NoCurvesError
from nb201_flat.table import (
    MetricKey,
    _metric_key,
    check_metric_key,
    check_table,
    float_values,
    seed_policy_of,
)
from nb201_flat.types import FloatArray as FloatArray
from nb201_flat.types import SeedPolicy

if TYPE_CHECKING:
    from nb201_flat.table import Table

log = logging.getLogger(__name__)

CurveSeed: TypeAlias = int | None

CURVES_FILE: Final = "curves.parquet"
CURVE_METRICS: Final = ("accuracy", "loss", "epoch_time_s")


# an inf would flow into every mean, rank and sharpness read from the curve without a word
_FINITE = "a learning curve holds finite numbers, NaN where a value is not stored"


def first_infinite_cell(arr: FloatArray) -> tuple[int, int] | None:
    """``(architecture, epoch)`` of the first infinite value of a curve array, else None.

    >>> first_infinite_cell(np.array([[1.0, 2.0], [np.nan, -np.inf]]))
    (1, 1)
    """
    inf = np.isinf(arr)
    if not inf.any():
        return None
    i, e = np.argwhere(inf)[0]
    return int(i), int(e)


def require_curves(table: Table) -> Curves:
    """``table.curves``, or :class:`NoCurvesError` saying how to get curves
    (:class:`~nb201_flat.errors.ArgumentError` for a ``table`` that is no Table).

    Examples
    --------
    >>> import pandas as pd
    >>> from nb201_flat.table import Table
    >>> t = Table.from_tidy(pd.DataFrame({"index": [0], "dataset": "cifar10",
    ...     "split": "ori-test", "epochs": 200, "metric": "accuracy", "value": [90.0]}))
    >>> require_curves(t)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.NoCurvesError: table 'tidy' has no learning curves (final values only); ...
    """
    curves = check_table(table).curves
    if curves is None:
        # the importer named as a Call: a command names its own (nb201-flat import)
        raise NoCurvesError(
            f"table {table.source!r} has no learning curves (final values only); import the "
            "official NAS-Bench-201 .pth or NATS-Bench tss files with ",
            Call("nb201_flat.importers.import_table"),
            " to get per-epoch curves, or a results database with its curves (curves=True; "
            "import --curves on the command line)",
        )
    assert isinstance(curves, Curves)
    return curves


def _plain_seed(item: tuple[MetricKey, CurveSeed]) -> tuple[MetricKey, CurveSeed]:
    """``(key, seed)`` with a numpy integer seed as a plain int."""
    key, seed = item
    return (key, None if seed is None else int(seed))


class Curves:
    """Per-epoch curves over the architectures of a space (see the module docstring).

    Parameters
    ----------
    n_archs
        Rows of every curve (the table's space size).
    data
        ``{(key, seed): array (n_archs, n_epochs)}`` held in memory.
    lazy
        ``{(key, seed): (column, n_epochs)}`` read on first use through ``reader``.
    reader
        ``column -> array (n_archs, n_epochs)``; used for the ``lazy`` entries.
    copy
        False takes each float64 array of ``data`` that owns its memory as it is, made
        read-only, rather than a copy of it: for a builder handing over arrays it made and
        keeps no view of (an official file's curves are ~190 arrays of 15,625 x 200 values,
        whose copies took seconds). Views and other arrays are still copied.
    """

    __slots__ = ("_data", "_lazy", "_n", "_reader")

    def __init__(
        self,
        n_archs: int,
        data: Mapping[tuple[MetricKey, CurveSeed], FloatArray] | None = None,
        *,
        lazy: Mapping[tuple[MetricKey, CurveSeed], tuple[str, int]] | None = None,
        reader: Callable[[str, int], FloatArray] | None = None,
        copy: bool = True,
    ) -> None:
        self._n = check_int_range("n_archs", n_archs, 1)  # int(1.5) would be 1 row
        copy = check_flag("copy", copy)  # 0 took the caller's array and made it read-only
        self._data: dict[tuple[MetricKey, CurveSeed], FloatArray] = {}
        self._lazy = dict(lazy or {})
        for item in [*(data or {}), *self._lazy]:
            key, seed = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
            ok_seed = seed is None or (
                isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0
            )
            if not isinstance(key, MetricKey) or not ok_seed:  # else a raw error when listed
                raise FormatError(
                    "curves are keyed by (MetricKey, seed) with seed None (the mean) or a "
                    f"position >= 0, got {item!r:.120}"
                )
        # seeds as plain ints: a numpy one cannot be saved (JSON)
        data = {_plain_seed(item): arr for item, arr in (data or {}).items()}
        self._lazy = {_plain_seed(item): where for item, where in self._lazy.items()}
        self._reader = reader
        if self._lazy and reader is None:
            raise FormatError("lazy curves need a reader")
        for item, arr in data.items():
            if (
                not copy
                and type(arr) is np.ndarray
                and arr.dtype == np.float64
                and arr.base is None
            ):
                self._data[item] = self._checked(item, arr)
                continue
            try:  # the rule of a table's vectors: text is no number, nor a date or a complex
                values = float_values(arr, f"curve {item[0]} seed {item[1]}", "hold")
            except ArgumentError as exc:
                raise FormatError(*parts_of(exc)) from None
            self._data[item] = self._checked(item, values)

    def _checked(self, item: tuple[MetricKey, CurveSeed], arr: FloatArray) -> FloatArray:
        if arr.ndim != 2 or arr.shape[0] != self._n:
            raise FormatError(
                f"curve {item[0]} seed {item[1]} has shape {arr.shape}, expected ({self._n}, epochs)"
            )
        if (cell := first_infinite_cell(arr)) is not None:
            seed = "mean" if item[1] is None else item[1]
            raise FormatError(
                f"curve {item[0]} seed {seed} is infinite at architecture {cell[0]}, epoch "
                f"{cell[1]} (0-based); {_FINITE}"
            )
        arr.setflags(write=False)
        return arr

    # -- what is present ------------------------------------------------------------------
    @property
    def n_archs(self) -> int:
        return self._n

    def items(self) -> Iterator[tuple[MetricKey, CurveSeed]]:
        """Every stored (key, seed), sorted (mean first)."""
        every = set(self._data) | set(self._lazy)
        yield from sorted(every, key=lambda ks: (ks[0], -1 if ks[1] is None else ks[1]))

    def keys(self) -> list[MetricKey]:
        """Every key with a curve, sorted."""
        return sorted({k for k, _ in self.items()})

    def seeds(self, key: MetricKey) -> list[int]:
        """Stored seeds of ``key`` (empty when only the mean is stored); a key
        without a curve is an :class:`UnknownKeyError`, as :meth:`Table.seeds` raises (``[]``
        read "only the mean is stored")."""
        check_metric_key(key, "curves")  # anything else matched no key: [] as if seedless
        held = [s for k, s in self.items() if k == key]
        if not held:
            raise self._unknown(key)
        return sorted(s for s in held if s is not None)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` has a curve: a :class:`MetricKey` or ``(dataset, split, epochs[,
        metric])``, as a table's ``in`` takes it (a key's tuple was silently not in it)."""
        # a dataset name was silently not in it; a (key, seed) pair was refused in a table's
        # words (`in table.data`)
        if not (isinstance(key, MetricKey) or (isinstance(key, tuple) and len(key) in (3, 4))):
            raise ArgumentError(
                "curves hold MetricKeys: test MetricKey(...) or (dataset, split, epochs[, "
                f"metric]) with `in`, got {shown(key)}"
            )
        wanted = _metric_key(key)  # a scan, not keys(): that sorts every (key, seed) a call
        return any(k == wanted for k, _ in self._data) or any(k == wanted for k, _ in self._lazy)

    def n_epochs(self, key: MetricKey) -> int:
        """How many epochs the curves of ``key`` hold."""
        check_metric_key(key, "curves")  # an array's == is elementwise: numpy's ValueError
        for (k, s), (_, n) in self._lazy.items():
            if k == key and (k, s) not in self._data:
                return n
        for (k, _), arr in self._data.items():
            if k == key:
                return int(arr.shape[1])
        raise self._unknown(key)

    def key(self, dataset: str, split: str, epochs: int, metric: str = "accuracy") -> MetricKey:
        """Validate a key; an unknown one raises :class:`UnknownKeyError` listing the keys."""
        # int(200.5) would read the 200-epoch curves
        key = MetricKey(dataset, split, check_int_range("epochs", epochs, 1), metric)
        if key not in self:
            raise self._unknown(key)
        return key

    def _unknown(self, key: MetricKey) -> UnknownKeyError:
        have = ", ".join(map(str, self.keys()[:12]))
        more = "" if len(self.keys()) <= 12 else f" (+{len(self.keys()) - 12} more)"
        return UnknownKeyError(f"no learning curve for {key}; curves stored: {have}{more}")

    # -- reading ---------------------------------------------------------------------------
    def curve(
        self,
        key: MetricKey,
        *,
        seed_policy: SeedPolicy | None = None,
        seed: SeedPolicy | None = None,
    ) -> FloatArray:
        """Read-only ``(n_archs, n_epochs)`` array of ``key`` for ``seed_policy``: ``"mean"``
        (default) or a stored seed (``seed=`` is its deprecated old name).

        The mean is the official API's (``is_random=False``): present at an epoch only where
        every stored seed of that architecture has the value.
        """
        seed = seed_policy_of(seed_policy, seed)
        # a (dataset, split, epochs) tuple was "no learning curve" for a key that has one
        check_metric_key(key, "curves")
        if key not in self:
            raise self._unknown(key)
        item: tuple[MetricKey, CurveSeed]
        if seed == "mean":
            item = (key, None)
        elif isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            item = (key, int(seed))
        else:  # one curve a call: a "random" draw per architecture would mix runs
            raise UnknownKeyError(
                f"a curve's seed_policy must be 'mean' or a stored seed, got {seed!r}"
            )
        if item in self._data:
            return self._data[item]
        if item in self._lazy:
            column, n = self._lazy[item]
            assert self._reader is not None
            arr = self._checked(item, np.asarray(self._reader(column, n), dtype=np.float64))
            self._data[item] = arr
            return arr
        raise UnknownKeyError(
            f"seed {seed!r} has no curve for {key}; stored seeds: "
            f"{self.seeds(key) or 'none'}{', and the mean' if (key, None) in self._lazy else ''}"
        )

    def at(
        self,
        key: MetricKey,
        iepoch: int,
        *,
        seed_policy: SeedPolicy | None = None,
        seed: SeedPolicy | None = None,
    ) -> FloatArray:
        """The metric over every architecture after epoch ``iepoch`` (0-based), for
        ``seed_policy`` as :meth:`curve` reads it."""
        arr = self.curve(key, seed_policy=seed_policy_of(seed_policy, seed))
        n = arr.shape[1]
        iepoch = check_int_range("iepoch", iepoch)  # int(1.5) would read epoch 1
        if not 0 <= iepoch < n:
            raise UnknownKeyError(
                f"epoch {iepoch} is outside the stored 0..{n - 1} of {key} (0-based, as the "
                "official iepoch)"
            )
        out: FloatArray = arr[:, iepoch]
        return out

    def close(self) -> None:
        """Close the file a loaded table's curves are read from (it is also closed when this
        object is collected); the curves already read stay, any other is then an error."""
        close = getattr(self._reader, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"<Curves: {len(self.keys())} keys over {self._n} archs>"


# -- the native file ---------------------------------------------------------------------------
def write_curves(curves: Curves, folder: Path) -> dict[str, Any]:
    """Write ``curves`` to ``folder/curves.parquet``; return its manifest entry (no checksum)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = list(curves.items())
    names = [f"k{i}" for i in range(len(items))]
    arrays = {}
    columns = []
    for name, (key, seed) in zip(names, items, strict=True):
        arr = curves.curve(key, seed_policy="mean" if seed is None else seed)
        flat = pa.array(np.ascontiguousarray(arr).ravel(), type=pa.float64())
        arrays[name] = pa.FixedSizeListArray.from_arrays(flat, int(arr.shape[1]))
        columns.append(
            {
                "name": name,
                "dataset": key.dataset,
                "split": key.split,
                "epochs": key.epochs,
                "metric": key.metric,
                "seed": seed,
                "n_epochs": int(arr.shape[1]),
            }
        )
    # a file object, not a path: pyarrow encodes a path as UTF-8, which a folder name with a
    # byte that is not (kept as a surrogate escape) cannot be
    with open(folder / CURVES_FILE, "wb") as f:
        pq.write_table(pa.table(arrays), f, compression="zstd")
    return {"file": CURVES_FILE, "n_archs": curves.n_archs, "columns": columns}


class _PositionalReader(io.RawIOBase):
    """A read-only file object over an open descriptor, reading with ``os.pread``: its
    position is its own, so forked workers sharing the descriptor never move each other's."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd, self._size, self._pos = fd, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"seek to {base + offset}, before the start of the file")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        data = _pread(self._fd, len(buffer), self._pos)
        memoryview(buffer).cast("B")[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(self._size - self._pos, 0)
        data = _pread(self._fd, size, self._pos)
        self._pos += len(data)
        return data


def _pread(fd: int, size: int, offset: int) -> bytes:
    """Up to ``size`` bytes at ``offset`` (fewer only at the end of the file)."""
    parts = []
    while size > 0:
        if hasattr(os, "pread"):
            chunk = os.pread(fd, min(size, 1 << 30), offset)
        else:  # no pread (Windows): no fork there either, so no shared position to move
            os.lseek(fd, offset, os.SEEK_SET)
            chunk = os.read(fd, min(size, 1 << 30))
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


class _CurvesFile:
    """The curves file of a loaded table, opened when the table is loaded.

    Opening reads nothing, so loading final values stays as fast; and the open file keeps the
    bytes the manifest describes: a table saved over the same folder later swaps in new files,
    never these, so a curve is never read from the next table under this one's column names.
    The checksum is checked over this same open file at the first read, and every column is
    parsed from it. Called as the lazy reader of :class:`Curves`; the descriptor is closed
    with this object (or by :meth:`close`). A pickled copy opens the file again, refusing one
    that is no longer the file opened here.
    """

    def __init__(
        self,
        path: Path,
        sha256: str | None,
        hint: Sequence[Part],
        identity: tuple[int, int] | None = None,
        problem: str | None = None,
    ) -> None:
        self.path, self._sha256, self._hint = path, sha256, tuple(hint)
        self._verified = sha256 is None
        self._fd: int | None = None
        self._size = 0
        self.identity: tuple[int, int] | None = None
        self._problem = problem or "is closed (Curves.close); load the table again"
        self._close: Callable[[], Any] = lambda: None
        if problem is not None:  # a copy of a reader that had none open: never one opened now
            return
        try:
            # non-blocking: opening a FIFO put in the file's place would wait for a writer
            fd = os.open(
                path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            )
        except FileNotFoundError:
            self._problem = "is missing"
            return
        except OSError as exc:
            self._problem = f"cannot be read ({exc.strerror or exc})"
            return
        st = os.fstat(fd)
        self.identity = (st.st_dev, st.st_ino)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self._problem = "is not a regular file (a folder, FIFO or device)"
        elif identity is not None and self.identity != identity:
            os.close(fd)
            self._problem = "was replaced after the table was loaded; load the table again"
        else:
            self._fd, self._size = fd, st.st_size
            self._close = weakref.finalize(self, os.close, fd)

    def __reduce__(self) -> tuple[Any, ...]:
        # a spawned worker gets the path and the identity of the file opened here; a reader
        # with none open (closed, or the file missing at the load) gives one with its problem
        problem = None if self._fd is not None else self._problem
        return (_CurvesFile, (self.path, self._sha256, self._hint, self.identity, problem))

    def close(self) -> None:
        self._close()
        self._fd = None
        self._problem = "is closed (Curves.close); load the table again"

    def _verify(self, fd: int) -> None:
        """Check the checksum over the open file, to its end as it is now (bytes appended
        since the load are checked, and then parsed, too)."""
        h, size = hashlib.sha256(), 0
        try:
            while chunk := _pread(fd, 1 << 20, size):
                h.update(chunk)
                size += len(chunk)
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror or exc})") from None
        if h.hexdigest() != self._sha256:
            raise self._error("does not match its checksum (truncated or modified)")
        self._size, self._verified = size, True

    def _error(self, what: str) -> TableFileError:
        return TableFileError(f"{self.path} {what}; ", *self._hint)

    def __call__(self, column: str, n_epochs: int) -> FloatArray:
        import pyarrow as pa
        import pyarrow.parquet as pq

        fd = self._fd
        if fd is None:
            raise self._error(self._problem)
        if not self._verified:
            self._verify(fd)
        try:
            with pq.ParquetFile(_PositionalReader(fd, self._size)) as parquet:
                col = parquet.read(columns=[column]).column(column).combine_chunks()
            flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        except (KeyError, ValueError, OSError, pa.ArrowException) as exc:
            raise self._error(f"could not be read ({exc.__class__.__name__}: {exc})") from None
        arr = flat.reshape(-1, n_epochs)
        if (cell := first_infinite_cell(arr)) is not None:  # named here with its file
            raise self._error(
                f"column {column} is infinite at architecture {cell[0]}, epoch {cell[1]} "
                f"(0-based); {_FINITE}"
            )
        return arr


def lazy_curves(
    folder: Path, entry: object, *, sums: Mapping[str, str] | None, hint: Sequence[Part]
) -> Curves:
    """A :class:`Curves` reading ``folder``'s curves file column by column on demand.

    ``entry`` is the manifest's ``curves`` entry; ``sums`` the manifest's checksums (None: do
    not verify). The file is opened here and read only at the first curve asked for, when its
    checksum is checked over the open file (see :class:`_CurvesFile`); ``hint`` completes error
    messages (message parts: a caller spells its parameters and calls).
    """
    if not isinstance(entry, Mapping) or not isinstance(entry.get("file"), str):
        raise TableFileError(f"{folder} has a malformed curves entry in its manifest; ", *hint)
    try:
        lazy = {
            (
                MetricKey(c["dataset"], c["split"], int(c["epochs"]), c["metric"]),
                None if c["seed"] is None else int(c["seed"]),
            ): (str(c["name"]), int(c["n_epochs"]))
            for c in entry["columns"]
        }
        n_archs = int(entry["n_archs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TableFileError(f"{folder} has a malformed curves entry ({exc}); ", *hint) from None
    sha256 = None if sums is None else sums.get(entry["file"], "missing")
    reader = _CurvesFile(folder / entry["file"], sha256, hint)
    try:
        return Curves(n_archs, lazy=lazy, reader=reader)
    except (FormatError, ArgumentError) as exc:  # a manifest entry Curves refuses
        reader.close()
        raise TableFileError(f"{folder} has a malformed curves entry ({exc}); ", *hint) from None
