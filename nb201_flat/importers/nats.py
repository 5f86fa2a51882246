"""Import NATS-Bench topology-space files (NATS-tss-v1_0-3ffb9).

:func:`read_nats_tss` returns the same tidy long frame as
:func:`~nb201_flat.importers.official.read_nb201_pth`, with the numbers NATS-Bench's own API
(``nats_bench.create(path, "tss", ...)``, ``get_more_info(index, dataset, hp=..., is_random=...)``
and ``get_cost_info``) returns, final epoch only.

Layouts (written by ``exps/NATS-Bench/tss-collect.py`` in D-X-Y/AutoDL-Projects, read by
``nats_bench/api_topology.py``), all bz2-compressed pickles (``pickle_save`` in
``nats_bench/api_utils.py``, protocol 4):

- the folder ``NATS-tss-v1_0-3ffb9-simple/`` (what ``fast_mode=True`` reads), and
  ``-full/`` (the same with trained weights): ``meta.pickle.pbz2`` =
  ``{"meta_archs": [...], "total_archs": 15625, "arch2infos": None, "evaluated_indexes": set()}``
  plus one ``{index:06d}.pickle.pbz2`` per architecture =
  ``{"12": ArchResults.state_dict(), "200": ArchResults.state_dict()}``;
- the single file ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (``fast_mode=False``):
  ``{"meta_archs": [...], "total_archs": ..., "arch2infos": {index: {"12": ..., "200": ...}},
  "evaluated_indexes": {...}}``.

The ``ArchResults``/``ResultsCount`` state dicts are NAS-Bench-201's (see
:mod:`nb201_flat.importers.official`), with one semantic difference mirrored here: NATS's
``get_compute_costs`` takes seed 888's ``params``/``flops`` for the mean when the seeds'
stored values disagree (a legacy weight-migration issue fixed in nats_bench 1.6), so the mean
row of ``params_mb``/``flops_m`` is not always the mean of the per-seed rows.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import itertools
import logging
import os
import pickle
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import pandas as pd

from nb201_flat.errors import (
    FormatError,
    MissingDependencyError,
    Nb201FlatError,
    Param,
    TableFileError,
    check_flag,
)
from nb201_flat.importers import check_source_file
from nb201_flat.importers.curves import CurveCollector
from nb201_flat.importers.official import (
    TidyRows,
    byte_progress,
    check_meta_archs,
    frame_from_benchmark,
    iter_progress,
)
from nb201_flat.importers.safe_pickle import ReadableBinary, safe_load
from nb201_flat.storage import SOURCE_SHA256, open_file_sha256

__all__ = ["NATS_HP_EPOCHS", "looks_like_nats_tss", "read_nats_tss"]

logger = logging.getLogger(__name__)

#: NATS hp keys and their schedules.
NATS_HP_EPOCHS: Final[Mapping[str, int]] = {"200": 200, "12": 12}

PICKLE_EXT: Final = ".pickle.pbz2"
META_NAME: Final = "meta" + PICKLE_EXT
_BZ2_MAGIC: Final = b"BZh"
# One bz2 block holds up to 900 kB of input; its compressed size bounds what the sniffer reads.
_SNIFF_COMPRESSED: Final = 2 * 1024 * 1024
_SNIFF_OUTPUT: Final = 4096


def _bz2_head(path: Path) -> bytes:
    """The first few KiB of a bz2 file's content (b"" if it is not bz2)."""
    try:
        with path.open("rb") as f:
            if f.read(3) != _BZ2_MAGIC:
                return b""
            f.seek(0)
            decomp = bz2.BZ2Decompressor()
            read = 0
            while read < _SNIFF_COMPRESSED and not decomp.eof:
                chunk = f.read(64 * 1024)
                if not chunk:
                    break
                read += len(chunk)
                out = decomp.decompress(chunk, max_length=_SNIFF_OUTPUT)
                if out:
                    return out
    except (OSError, EOFError, ValueError):
        pass
    return b""


def looks_like_nats_tss(path: str | os.PathLike[str]) -> bool:
    """True for a NATS-tss folder (with ``meta.pickle.pbz2``) or single-file benchmark.

    Cheap: decompresses only the first block of one file and looks for ``meta_archs`` and a
    topology string (the size space, NATS-sss, has channel strings such as ``64:32:...``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / META_NAME
    if not p.is_file():
        return False
    head = _bz2_head(p)
    return b"meta_archs" in head and b"~0|" in head


def _unpickle(f: ReadableBinary, source: str, allow_unsafe_pickle: bool) -> Any:
    try:
        if not allow_unsafe_pickle:
            # Trained weights (the "-full" folder) are plain-pickled torch tensors: skipped.
            return safe_load(f, discard_modules=frozenset({"torch"}), source=source)
        return pickle.load(f)
    except Nb201FlatError:
        raise
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            f"{source} needs module {exc.name!r} to unpickle in full; install it with "
            "`pip install 'nb201-flat[official]'`"
        ) from None
    except Exception as exc:  # full unpickling can raise anything; name it in one line
        raise _corrupt(source, exc) from None


def _corrupt(source: str, exc: BaseException) -> TableFileError:
    return TableFileError(
        f"{source} is truncated or corrupt ({exc.__class__.__name__}: {str(exc)[:100]}); "
        "re-download it and compare its checksum"
    )


def _load(path: Path, *, allow_unsafe_pickle: bool, progress: bool = False) -> tuple[Any, str]:
    """Unpickle one ``.pickle.pbz2`` file, streaming (the single-file form is large), and its
    sha256: of the open file parsed, hashed after the parse rather than held in memory."""
    _check_bz2(path)
    try:
        with path.open("rb") as raw:
            with (
                byte_progress(raw, os.fstat(raw.fileno()).st_size, progress, path.name) as counted,
                bz2.BZ2File(counted) as f,  # given a file, it leaves it open
            ):
                data = _unpickle(f, str(path), allow_unsafe_pickle)
            return data, open_file_sha256(raw)
    except Nb201FlatError:  # already one line (TableFileError is an OSError: wrapped twice)
        raise
    except OSError as exc:
        raise _corrupt(str(path), exc) from None


def _read_decompressed(path: Path) -> tuple[str, bytes]:
    """The file's sha256 (the provenance) and its decompressed content."""
    _check_bz2(path)
    try:
        raw = path.read_bytes()  # hashed and decompressed from one read: the same bytes
        return hashlib.sha256(raw).hexdigest(), bz2.decompress(raw)
    except (OSError, ValueError, EOFError) as exc:
        raise _corrupt(str(path), exc) from None


def _folder_sha256(sums: Mapping[str, str]) -> str:
    """One sha256 for the files of a folder: that of ``sha256sum``'s listing of them (name
    order), so ``sha256sum * | sort -k2 | sha256sum`` checks it by hand."""
    listing = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums))
    return hashlib.sha256(listing.encode()).hexdigest()


def _decompress_ahead(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """The decompressed contents of ``paths``, in order.

    bz2 decompression is most of the time for a folder and releases the GIL, so threads
    decompress ahead of the unpickler, at most a few files in flight to bound memory.
    """
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="nats-bz2") as pool:
        queue: deque[Future[tuple[str, bytes]]] = deque()
        todo = iter(paths)
        for path in itertools.islice(todo, 2 * workers):
            queue.append(pool.submit(_read_decompressed, path))
        while queue:
            future = queue.popleft()
            following = next(todo, None)
            if following is not None:
                queue.append(pool.submit(_read_decompressed, following))
            yield future.result()


def _check_bz2(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise TableFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head.startswith(_BZ2_MAGIC):
        expected = (
            "; expected the NATS-tss-v1_0-3ffb9-simple folder or a NATS-tss-*.pickle.pbz2 file"
        )
        if head.startswith((b"PK\x03\x04", b"\x80\x02\x8a\x0a")):
            raise FormatError(
                f"{path} is not a NATS-Bench .pickle.pbz2 file (it looks like a torch .pth: "
                "import it with ",
                Param("format", "nb201-pth"),
                f"){expected}",
            )
        raise FormatError(f"{path} is not a NATS-Bench .pickle.pbz2 file{expected}")


def _read_folder(
    folder: Path,
    *,
    allow_unsafe_pickle: bool,
    progress: bool,
    curves: CurveCollector | None = None,
) -> pd.DataFrame:
    meta_path = folder / META_NAME
    if not meta_path.is_file():
        raise FormatError(
            f"{folder} has no {META_NAME}; expected the NATS-tss-v1_0-3ffb9-simple folder"
        )
    meta, meta_sha256 = _load(meta_path, allow_unsafe_pickle=allow_unsafe_pickle)
    if not isinstance(meta, Mapping) or "meta_archs" not in meta:
        raise FormatError(f"{meta_path} lacks 'meta_archs'; it is not a NATS-Bench meta file")
    archs = check_meta_archs(meta["meta_archs"], str(meta_path))
    names = {entry.name for entry in os.scandir(folder)}
    found: list[tuple[int, Path]] = []
    for index in range(len(archs)):
        # NATS's reload() tries the zero-padded name first, then the plain one.
        for name in (f"{index:06d}{PICKLE_EXT}", f"{index:d}{PICKLE_EXT}"):
            if name in names:
                found.append((index, folder / name))
                break
    if not found:
        raise FormatError(
            f"{folder} has {META_NAME} but no per-architecture files (000000{PICKLE_EXT}, ...); "
            "was the archive fully extracted?"
        )
    if len(found) < len(archs):
        logger.warning(
            "%s: %d of %d architectures have no file; they are left out",
            folder,
            len(archs) - len(found),
            len(archs),
        )
    rows = TidyRows(source=str(folder), nats_cost_fix=True, curves=curves)
    sums = {META_NAME: meta_sha256}
    contents = _decompress_ahead([path for _, path in found])
    for (index, path), (sha256, data) in iter_progress(
        zip(found, contents, strict=True), progress, desc="architectures", total=len(found)
    ):
        sums[path.name] = sha256
        hp_map = _unpickle(io.BytesIO(data), str(path), allow_unsafe_pickle)
        rows.add_arch(index, archs[index], hp_map, NATS_HP_EPOCHS)
    df = rows.frame()
    df.attrs[SOURCE_SHA256] = _folder_sha256(sums)
    return df


def read_nats_tss(
    path: str | os.PathLike[str],
    *,
    allow_unsafe_pickle: bool = False,
    progress: bool = False,
    curves: CurveCollector | None = None,
) -> pd.DataFrame:
    """Read NATS-Bench topology results into the tidy long frame.

    Parameters
    ----------
    path
        The folder ``NATS-tss-v1_0-3ffb9-simple/`` (or ``-full/``), or a single-file
        benchmark ``NATS-tss-v1_0-3ffb9.pickle.pbz2``.
    allow_unsafe_pickle
        Unpickle in full (runs any code the files name). Only for trusted files the
        restricted reader refuses.
    progress
        Show a progress bar (architectures for a folder, bytes for a single file).
    curves
        When given, every run's per-epoch curves are collected into it as well.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`~nb201_flat.importers.official.read_nb201_pth`; ``epochs`` is
        200 for hp ``"200"`` and 12 for hp ``"12"``. ``attrs["file_sha256"]``: the file's
        sha256, or a folder's (of the ``sha256sum`` listing of the files read, in name order).

    Raises
    ------
    FormatError
        Not a NATS-tss file or folder (a NATS-sss one included), or it holds objects the
        restricted reader refuses.
    TableFileError
        Missing, truncated or corrupt file.
    """
    # bool("no") is True: a misread flag here would run the files' code
    allow_unsafe_pickle = check_flag("allow_unsafe_pickle", allow_unsafe_pickle)
    progress = check_flag("progress", progress)
    p = Path(path)
    if p.is_dir():
        return _read_folder(
            p, allow_unsafe_pickle=allow_unsafe_pickle, progress=progress, curves=curves
        )
    check_source_file(p, missing="no such file or folder")  # a FIFO was called missing
    data, sha256 = _load(p, allow_unsafe_pickle=allow_unsafe_pickle, progress=progress)
    if isinstance(data, Mapping) and (
        ("meta_archs" not in data and set(data) <= set(NATS_HP_EPOCHS))
        or ("meta_archs" in data and data.get("arch2infos") is None)
    ):
        raise FormatError(
            f"{p} is one file of a NATS-tss folder (a per-architecture or the meta file); "
            "pass the folder instead"
        )
    df = frame_from_benchmark(
        data,
        hp_epochs=NATS_HP_EPOCHS,
        source=str(p),
        nats_cost_fix=True,
        progress=progress,
        curves=curves,
    )
    df.attrs[SOURCE_SHA256] = sha256
    return df
