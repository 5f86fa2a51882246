"""Importers: every supported source becomes a :class:`~nb201_flat.table.Table`.

=================  ===========================================================================
format             source
=================  ===========================================================================
``tidy``           the long format of :meth:`Table.from_tidy` (``nb201-flat import --help``)
``nb201-pth``      official NAS-Bench-201 ``NAS-Bench-201-v1_0-e61699.pth`` / ``-v1_1-096897.pth``
``nats-tss``       NATS-Bench topology ``NATS-tss-v1_0-3ffb9-simple/`` (or its ``.pickle.pbz2``)
``analognas``      AnalogNAS-Bench from the installed ``analog-nasbench`` package (or a data.anb)
``results-db``     a retraining results database (``results.sqlite``) written by ``nb201-flat train``
``naslib-zc``      NASLib's zero-cost proxy file ``zc_nasbench201.json`` (proxies, FLOPs, params)
=================  ===========================================================================
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nb201_flat.errors import (
    ArgumentError,
    Call,
    FormatError,
    Param,
    TableFileError,
    check_flag,
    shown,
)
from nb201_flat.storage import SOURCE_SHA256
from nb201_flat.table import Table

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("tidy", "nb201-pth", "nats-tss", "analognas", "results-db", "naslib-zc")
#: the formats whose importers take ``allow_unsafe_pickle`` (a full unpickle of a trusted file)
PICKLED_FORMATS = ("nb201-pth", "nats-tss")
#: the formats whose importers draw a progress bar (``progress=True``); the others draw none
PROGRESS_FORMATS = ("nb201-pth", "nats-tss")
#: the formats whose importers carry per-epoch curves (``curves=False`` drops them)
CURVE_FORMATS = ("nb201-pth", "nats-tss", "results-db")
#: the curve formats whose curves are carried by default: read in the same pass as the final
#: values (a results database's take reading and checking every epoch's rows: ``curves=True``)
CURVES_BY_DEFAULT = ("nb201-pth", "nats-tss")
#: the formats whose importers take a space key (``space``): which of a database's spaces to
#: import, or the one a tidy file without a ``space`` column was measured on
SPACE_FORMATS = ("results-db", "tidy")


#: The names a tidy table's file ends with (lower case): its readers, sniffer and detector.
TIDY_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".tsv")

# a file no check above can read (cut short, damaged) is named by its suffix: its reader then
# says what is wrong ("truncated"), where "cannot tell the format; pass --format" led nowhere
_BY_SUFFIX = (
    (TIDY_SUFFIXES, "tidy"),
    ((".json",), "naslib-zc"),
    ((".sqlite", ".sqlite3"), "results-db"),
    ((".pth",), "nb201-pth"),
    ((".pbz2",), "nats-tss"),
)


def check_source_file(path: Path, *, folder: bool = False, missing: str = "no such file") -> None:
    """Refuse ``path`` unless it is a regular file (or, with ``folder``, a folder): missing
    (``missing``: the reader's words for that), or a FIFO, device or socket, whose read
    waited forever for a writer or which a reader called missing. The rule the table
    folder's own reads keep (:func:`nb201_flat.storage._read_regular`): an importer reads a
    file whole, to parse it and to record its sha256.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise TableFileError(f"{missing}: {path}") from None
    except OSError as exc:
        raise TableFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode) or (folder and stat.S_ISDIR(mode)):
        return
    if stat.S_ISDIR(mode):
        raise TableFileError(f"{path} is a folder, not a file; pass the file to import")
    raise TableFileError(
        f"{path} is not a regular file (a FIFO, device or socket), which an import cannot "
        "read whole; write its content to a file and import that"
    )


def _is_sqlite(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _is_anb(path: Path) -> bool:
    return path.is_file() and path.suffix == ".anb"


def source_path(source: str | os.PathLike[str]) -> Path:
    """``source`` as a Path; an empty one is an :class:`ArgumentError` (``Path("")`` is the
    current folder, which was then reported as a file of no known format); one that is no
    path (None, bytes) too, not a bare TypeError."""
    if not isinstance(source, str | os.PathLike) or isinstance(os.fspath(source), bytes):
        decode = " (decode bytes: source.decode())" if isinstance(source, bytes) else ""
        raise ArgumentError(
            f"the source must be a path (str or pathlib.Path) or the word `analognas`, got "
            f"{'None' if source is None else type(source).__name__}{decode}"
        )
    if not os.fspath(source).strip():
        raise ArgumentError(
            "the source path is empty; give the file or folder to import (or the word "
            "`analognas` for the embedded default)"
        )
    return Path(source)


def detect_format(source: str | os.PathLike[str]) -> str:
    """Name the format of ``source`` (see the module table) or raise :class:`FormatError`."""
    if str(source) == "analognas":
        return "analognas"
    path = source_path(source)
    if not path.exists():
        # as typed: Path drops a "./", and ./analognas was shown as the word itself
        word = "only the bare word" if path.name == "analognas" else "the word"
        raise TableFileError(
            f"no such file or folder: {os.fspath(source)} ({word} `analognas` imports the "
            "embedded default)"
        )
    check_source_file(path, folder=True)  # a NATS-tss folder; a FIFO's format was not told
    from nb201_flat.importers.naslib_zc import looks_like_naslib_zc
    from nb201_flat.importers.tidy import looks_like_tidy

    checks: list[tuple[str, Callable[[Path], bool]]] = [
        ("naslib-zc", looks_like_naslib_zc),
        ("tidy", looks_like_tidy),
        ("results-db", _is_sqlite),
        ("analognas", _is_anb),
    ]
    try:
        from nb201_flat.importers.nats import looks_like_nats_tss
        from nb201_flat.importers.official import looks_like_nb201_pth

        checks += [("nb201-pth", looks_like_nb201_pth), ("nats-tss", looks_like_nats_tss)]
    except ImportError:  # converters not present in this build
        pass
    for name, check in checks:
        if check(path):
            return name
    from nb201_flat.storage import MANIFEST

    if path.is_file() and path.stat().st_size == 0:
        raise FormatError(
            f"{path} is empty (0 bytes): nothing to import; re-download or re-export it"
        )
    for suffixes, name in _BY_SUFFIX:
        if path.is_file() and path.name.lower().endswith(suffixes):
            return name
    if path.is_dir() and (path / MANIFEST).is_file():  # no format reads a table: no --format
        raise FormatError(
            f"{path} is already an imported table, which needs no import: use it as it is (",
            Call("load_table", placeholder=repr(str(path))),
            "), or copy the folder for another name",
        )
    raise FormatError(
        f"cannot tell the format of {path}; pass ",
        Param("format"),
        f" with one of {', '.join(FORMATS)}",
    )


def import_table(
    source: str | os.PathLike[str],
    *,
    format: str | None = None,
    allow_unsafe_pickle: bool = False,
    progress: bool = False,
    curves: bool | None = None,
    space: str | None = None,
) -> Table:
    """Read any supported source into a table (format auto-detected unless given).

    ``curves``: carry the per-epoch learning curves (``table.curves``) of the official NB201 /
    NATS-tss files (True) or not (False); None, the default, carries them, read in the same
    pass as the final values. A results database's are carried with True only (every epoch's
    rows are read and checked: about 5x the time of its final epochs, see
    :mod:`nb201_flat.importers.results_db`); other formats store none. ``space``: a space key
    (``import --space``), for a results database the one to import from a database that holds
    several, for a tidy file the one its rows were measured on where it has no ``space``
    column (a retrained table's network size and training; a column naming another key is
    refused: :func:`~nb201_flat.importers.tidy.read_tidy`); other formats take none.
    ``progress``: a progress bar, for the formats that draw one (:data:`PROGRESS_FORMATS`).
    """
    from nb201_flat.importers.curves import CurveCollector

    path = source_path(source)
    # bool("no") is True: allow_unsafe_pickle="no" would unpickle in full
    allow_unsafe_pickle = check_flag("allow_unsafe_pickle", allow_unsafe_pickle)
    progress = check_flag("progress", progress)
    if curves is not None:  # None: the format's default, decided once the format is known
        curves = check_flag("curves", curves)
    # None alone detects it: format=False or "" was read as "detect", an array raised ValueError
    fmt = detect_format(source) if format is None else format
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise FormatError(
            f"unknown format {shown(fmt)}; choose one of {', '.join(FORMATS)} (or None to detect it)"
        )
    if str(source) == "analognas" and fmt != "analognas":  # the word is no file to read
        raise ArgumentError(
            f"the word `analognas` imports the embedded default, which is no {fmt} file; drop ",
            Param("format"),
            " or pass ",
            Param("format", "analognas"),
            # a file of that name here is read only as a path
            " (the file analognas here: pass it as ./analognas)" if path.exists() else "",
        )
    if allow_unsafe_pickle and fmt not in PICKLED_FORMATS:
        raise ArgumentError(
            Param("allow_unsafe_pickle", True),
            f" applies only to {' and '.join(PICKLED_FORMATS)} files; {fmt} is always read "
            "without it, so drop it",
        )
    if progress and fmt not in PROGRESS_FORMATS:  # no bar would be drawn
        raise ArgumentError(
            Param("progress", True),
            f" applies only to {' and '.join(PROGRESS_FORMATS)} files, whose reads draw a "
            f"bar; {fmt} is read without one, so drop it",
        )
    if curves is not None and fmt not in CURVE_FORMATS:  # it would change nothing
        raise ArgumentError(
            Param("curves", curves),
            f" applies only to {' and '.join(CURVES_BY_DEFAULT)} files and to results "
            f"databases (results-db), and {fmt} stores no curves; drop it",
        )
    keep = fmt in CURVES_BY_DEFAULT if curves is None else curves
    collector = CurveCollector(str(source)) if keep else None
    if space is not None and fmt not in SPACE_FORMATS:
        raise ArgumentError(
            Param("space"),
            " applies only to results-db files (what ",
            Call("nb201_flat.train"),
            f" writes) and tidy files, and {source} is {fmt}; drop it",
        )
    if space is not None and not isinstance(space, str):  # a key, which both formats name
        raise ArgumentError(
            Param("space"),
            f" must be a space key (text such as 'nb201@C4N1#faithful'), got {shown(space)}",
        )
    if fmt == "analognas":
        from nb201_flat.importers.analognas import data_file, read_analognas

        if str(source) == "analognas":
            data_file(importing=True)  # without the package: the refusal names a path instead
            # the package's own copy, read as the embedded default reads it: checked against
            # the published sha256 (a path given is the user's to vouch for)
            return read_analognas()
        return read_analognas(path)
    check_source_file(path, folder=True, missing="no such file or folder")  # a NATS-tss folder
    if fmt == "tidy":
        from nb201_flat.importers.tidy import read_tidy

        return read_tidy(path, space=space)  # with the sha256 of the bytes it parsed
    if fmt == "nb201-pth":
        from nb201_flat.importers.official import read_nb201_pth

        df = read_nb201_pth(
            path, allow_unsafe_pickle=allow_unsafe_pickle, progress=progress, curves=collector
        )
        table = Table.from_tidy(df, source=f"NAS-Bench-201 {path.name}", meta=_provenance(path, df))
        return _with_curves(table, collector)
    if fmt == "nats-tss":
        from nb201_flat.importers.nats import read_nats_tss

        df = read_nats_tss(
            path, allow_unsafe_pickle=allow_unsafe_pickle, progress=progress, curves=collector
        )
        table = Table.from_tidy(
            df, source=f"NATS-Bench tss {path.name}", meta=_provenance(path, df)
        )
        return _with_curves(table, collector)
    if fmt == "naslib-zc":
        from nb201_flat.importers.naslib_zc import read_naslib_zc

        df = read_naslib_zc(path)
        return Table.from_tidy(
            df, source=f"NASLib zero-cost {path.name}", meta=_provenance(path, df)
        )
    from nb201_flat.importers.results_db import read_results_db

    # with the sha256 of the bytes it read (the curves' own goes into the saved manifest)
    return read_results_db(path, space=space, curves=keep)


def _provenance(path: Path, df: pd.DataFrame) -> dict[str, str]:
    """The table meta of a reader's frame: where it came from and what those bytes were (the
    reader's sha256 of the file it parsed; a NATS folder's is that of its ``sha256sum``
    listing)."""
    return {"file": str(path), SOURCE_SHA256: df.attrs[SOURCE_SHA256]}


def _with_curves(table: Table, collector: object) -> Table:
    from nb201_flat.importers.curves import CurveCollector

    if isinstance(collector, CurveCollector) and len(collector):
        table.curves = collector.curves(table.space.size)
    return table
