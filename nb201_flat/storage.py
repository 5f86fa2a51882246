"""The native on-disk table: a folder with ``table.parquet`` and ``manifest.json``.

``table.parquet`` has one row per architecture index and one float64 column per stored
vector, plain and uncompressed so that a load reads it without pyarrow
(:mod:`nb201_flat.plain_parquet`; tables written by earlier versions are read with pyarrow);
``manifest.json`` names each column's (dataset, split, epochs, metric, seed), the space, the
source, the schema version, the nb201_flat version that wrote it and the sha256 of the parquet
file, and ends with the sha256 of its own canonical JSON (``manifest_sha256``), so every byte
of the folder is covered: a change anywhere is an error naming the file and the command that
rebuilds the table, never a relabelled or swapped column.

Writes go through :func:`nb201_flat.atomic.replace_folder`: the whole folder is written beside
the target and swapped in at once (an exchange rename on Linux), so readers always see a
complete table, a killed write never destroys the previous one, and leftovers of a killed
writer are put back or removed by the next write. Loads read each file once into memory, check
it, and parse the bytes they checked; a load that raced with a replacement is retried. The
learning curves (``curves.parquet``, :mod:`nb201_flat.curves`) are read only when first asked
for, but from the file opened at the load: checked and parsed over that one open file, which a
later replacement of the folder cannot change.

:func:`load_table` resolves which table to open: an explicit path, then ``$NB201_FLAT_TABLE``,
then the embedded default (AnalogNAS-Bench, imported into the cache folder on first use).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import stat
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np

from nb201_flat import __version__, plain_parquet
from nb201_flat.errors import (
    ArgumentError,
    Call,
    Nb201FlatError,
    Param,
    Part,
    TableFileError,
    check_flag,
    parts_of,
    shown,
)
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: each table schema, and the first nb201_flat version that writes it: a new schema comes with a
#: new version (tests/test_upgrade14.py), which its files record (:data:`WRITTEN_BY`)
SCHEMA_WRITTEN_SINCE: Final = {1: "0.1.0"}
#: the manifest key (and results database ``meta`` key) of the nb201_flat version that wrote the
#: file: the version to install where a later one refuses the file's schema
WRITTEN_BY = "nb201_flat_version"
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest_sha256"
PARQUET = "table.parquet"
TABLE_ENV = "NB201_FLAT_TABLE"
CACHE_ENV = "NB201_FLAT_CACHE"
DEFAULT_TABLE_NAME = "analognas-bench-0.1.3.nb201"


def env_path(name: str, *wanted: Part, unset: str) -> Path | None:
    """The path in the environment variable ``name``, ``~`` expanded, or None where it is unset.

    The one rule for every path-valued variable of the package (``$NB201_FLAT_TABLE``,
    ``$NB201_FLAT_CACHE``, ``$NB201_FLAT_SHARED_DATA``): ``~`` is expanded (a shell leaves it
    alone inside quotes, ``NB201_FLAT_TABLE='~/t.nb201'``); set but empty (or blank) is a
    :class:`TableFileError`, as it names no path (``Path("")`` is the working directory).
    ``wanted`` says what to point it at, ``unset`` what leaving it unset gives.
    """
    value = os.environ.get(name)
    if value is None:
        return None
    if not value.strip():
        raise TableFileError(
            f"${name} is set but empty ({value!r}); point it at ",
            *wanted,
            f", or unset it for {unset}",
        )
    return Path(value).expanduser()


def cache_dir() -> Path:
    """Where the embedded default is imported to, and the package's compiled kernels kept (in
    ``numba/``, :mod:`nb201_flat.jit`): ``$NB201_FLAT_CACHE``, else the XDG cache
    (``$XDG_CACHE_HOME/nb201_flat``, unset, empty or relative meaning ``~/.cache``, as the XDG
    spec says)."""
    named = env_path(
        CACHE_ENV,
        "a writable folder",
        unset="the XDG cache ($XDG_CACHE_HOME/nb201_flat, else ~/.cache/nb201_flat)",
    )
    if named is not None:
        return named
    base = os.environ.get("XDG_CACHE_HOME", "")
    # a relative one is ignored, as the XDG spec says: it named another cache in each folder
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "nb201_flat"


def check_cache_writable(target: Path, what: str) -> None:
    """Refuse a table ``target`` in :func:`cache_dir` that cannot be written, naming ``what``
    (the cache) and the ways out: :func:`nb201_flat.atomic.check_writable_target`'s refusal
    alone names save_table's ``path``, which the command line spells ``--table``, a path the
    user of the cache never gave."""
    from nb201_flat import atomic

    try:
        atomic.check_writable_target(target, what=what)
    except ArgumentError as exc:
        raise _cache_refusal(exc) from None


def save_to_cache(table: Table, target: Path, what: str) -> None:
    """:func:`save_table` into the cache, a failure named as :func:`check_cache_writable` names
    it: a folder the access check passes may still refuse the write (a pseudo-filesystem, a
    full disk), and the write's own message names no way out of the cache."""
    try:
        save_table(table, target, overwrite=True)
    except (ArgumentError, TableFileError) as exc:
        raise _cache_refusal(exc, what) from None


def _cache_refusal(exc: Nb201FlatError, what: str | None = None) -> TableFileError:
    """``exc`` (a refusal to write the cache), with the ways out of the cache."""
    # $XDG_CACHE_HOME places the cache only while $NB201_FLAT_CACHE is unset
    point = (
        f"point ${CACHE_ENV} at a writable folder"
        if CACHE_ENV in os.environ
        else f"set ${CACHE_ENV} (or $XDG_CACHE_HOME) to a writable folder"
    )
    return TableFileError(
        *((f"{what}: ",) if what else ()),
        *parts_of(exc),
        f"; to choose one, {point}, or pass a table written by ",
        Call("save_table"),
        " as ",
        Call("load_table", placeholder="PATH"),
        f" (or in ${TABLE_ENV})",
    )


def default_table_path() -> Path:
    """Path of the embedded default table in the cache."""
    return cache_dir() / DEFAULT_TABLE_NAME


def _table_path(path: object) -> Path:
    """``path`` as a Path; anything but a str or path is an :class:`ArgumentError`."""
    if not isinstance(path, str | os.PathLike):
        raise ArgumentError(  # the command line passes text: a caller's own mistake
            f"a table path must be a str or os.PathLike, got {type(path).__name__}; pass the "
            "folder save_table wrote (or load_table() for the default)"
        )
    return Path(path)


#: The table meta key (and ``DataFrame.attrs`` entry of the readers) of the sha256 of the source
#: imported: of the file, or for a NATS folder of its ``sha256sum`` listing.
SOURCE_SHA256 = "file_sha256"


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    with path.open("rb") as f:
        return open_file_sha256(f)


def open_file_sha256(f: BinaryIO) -> str:
    """sha256 hex digest of an open file, from its start (a reader that parsed a file too
    large to hold hashes the same open file: the bytes it parsed, whatever replaced the path)."""
    h = hashlib.sha256()
    f.seek(0)
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != MANIFEST_HASH}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def check_replaceable(target: Path, *, what: Param) -> None:
    """Refuse a ``target`` folder that holds something other than a table: writing a table
    replaces the whole folder, which is never done to other files (``what`` names the
    target, a parameter a command respells as its flag). Checked before any "exists; pass
    overwrite/--force" refusal, whose fix would lead to this one."""
    if not target.is_dir():
        return
    if not (target / MANIFEST).exists():
        # a table that lost its manifest (or a write that stopped before it) holds table files
        # only: replacing it deletes nothing else
        if not _only_table_files(target):
            raise TableFileError(
                f"{target} is a non-empty folder that is not an nb201_flat table, which is never "
                "replaced; choose another folder (",
                what,
                ")",
            )
        return
    from nb201_flat.curves import CURVES_FILE

    # a table folder holding anything else (a results database, checkpoints, notes put there
    # by hand): replacing the folder would delete it with the old table
    others = sorted(
        p.name for p in target.iterdir() if p.name not in (MANIFEST, PARQUET, CURVES_FILE)
    )
    if others:
        listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise TableFileError(
            f"{target} holds {listed} besides its table, which replacing the table would "
            "delete; move them out of the folder, or choose another folder (",
            what,
            ")",
        )


def _only_table_files(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but a table's own files (or nothing at all)."""
    from nb201_flat.curves import CURVES_FILE

    return all(p.name in (MANIFEST, PARQUET, CURVES_FILE) for p in folder.iterdir())


def save_table(table: Table, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write ``table`` atomically to the folder ``path`` and return it.

    The folder is first written under a temporary name beside ``path``; only a complete,
    checksummed table replaces an existing one, in one rename.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nb201_flat import atomic

    if not isinstance(table, Table):
        raise ArgumentError(f"save_table needs a Table, got {type(table).__name__}")
    table.validate()  # its data may have changed since it was built: write only what loads
    overwrite = check_flag("overwrite", overwrite)  # "no" would replace the table
    _table_path(path)  # the type; "" goes on as given, for the message that names it empty
    target = atomic.check_writable_target(path, what=Param("path"))
    check_replaceable(target, what=Param("path"))  # first: overwrite cannot fix it
    if target.exists() and not overwrite:
        raise TableFileError(f"{target} exists; pass ", Param("overwrite", True), " to replace it")
    if not table.data:  # written as a file of no columns, which no load reads back
        raise ArgumentError(
            "the table holds no vector, so it could not be loaded back; add one first "
            "(Table.with_vector)"
        )
    _checked_meta_keys(table.meta)  # before anything is written
    if _OLD_SEED_IDS in table.meta:  # a load would read it as an old table's and renumber
        raise ArgumentError(
            f"meta[{_OLD_SEED_IDS!r}] is how tables written before seed ids were kept "
            "numbered their seeds; a load would renumber this table's seeds by it; rename "
            "that meta key"
        )
    items = sorted(
        table.data.items(), key=lambda kv: (kv[0][0], -1 if kv[0][1] is None else kv[0][1])
    )
    names = [f"c{i}" for i in range(len(items))]
    # required (non-null) columns, plain, uncompressed: what plain_parquet reads without
    # pyarrow (a NaN is a stored value, never a null)
    schema = pa.schema([pa.field(n, pa.float64(), nullable=False) for n in names])
    # each column over the vector's own buffer: pa.array imports pandas (0.2 s a first use)
    arrow = pa.table(
        {
            n: pa.Array.from_buffers(
                pa.float64(), vec.size, [None, pa.py_buffer(np.ascontiguousarray(vec, np.float64))]
            )
            for n, (_, vec) in zip(names, items, strict=True)
        },
        schema=schema,
    )
    columns = [
        {
            "name": n,
            "dataset": key.dataset,
            "split": key.split,
            "epochs": key.epochs,
            "metric": key.metric,
            "seed": None if seed is None else int(seed),  # a numpy key set after construction
        }
        for n, ((key, seed), _) in zip(names, items, strict=True)
    ]
    with atomic.replace_folder(target, overwrite=overwrite) as tmp:
        # through a Python file: pyarrow encodes a path as UTF-8, which a name holding a
        # byte that is not (kept by the command line as a surrogate escape) cannot be
        with open(tmp / PARQUET, "wb") as f:
            pq.write_table(arrow, f, **plain_parquet.WRITE_OPTIONS)
        os.chmod(tmp / PARQUET, atomic.file_mode())
        sums = {PARQUET: file_sha256(tmp / PARQUET)}
        curves_entry = None
        if table.curves is not None:  # learning curves: a second file, read lazily on load
            from nb201_flat.curves import write_curves

            curves_entry = write_curves(table.curves, tmp)
            os.chmod(tmp / curves_entry["file"], atomic.file_mode())
            sums[curves_entry["file"]] = file_sha256(tmp / curves_entry["file"])
        manifest: dict[str, Any] = {
            "format": "nb201_flat-table",
            "schema_version": SCHEMA_VERSION,
            WRITTEN_BY: __version__,
            "source": table.source,
            "space": table.space.spec(),
            "n_archs": table.space.size,
            "columns": columns,
            "sha256": sums,
            "meta": json.loads(json.dumps(table.meta, default=_json_value)),
        }
        if curves_entry is not None:
            manifest["curves"] = curves_entry
        manifest[MANIFEST_HASH] = hashlib.sha256(_canonical(manifest)).hexdigest()
        atomic.write_bytes(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
    log.info("wrote table %s (%d vectors)", target, len(items))
    return target


def _checked_meta_keys(meta: Any, where: str = "meta") -> Any:
    """``meta`` if every key of every mapping in it is text, else :class:`ArgumentError`:
    JSON writes a key 3 as '3', which loads back as text (and {1: a, '1': b} as one entry),
    and a numpy key not at all."""
    if isinstance(meta, Mapping):
        for key, value in meta.items():
            if not isinstance(key, str):
                raise ArgumentError(
                    f"{where} has the key {shown(key)}, which is no text: a table's meta is "
                    f"saved as JSON, which would read it back as {str(key)!r:.40}; use text keys"
                )
            _checked_meta_keys(value, f"{where}[{key!r:.40}]")
    elif isinstance(meta, list | tuple):
        for i, value in enumerate(meta):
            _checked_meta_keys(value, f"{where}[{i}]")
    return meta


def _json_value(value: Any) -> Any:
    """A meta value JSON cannot write, as what reads back as the same: a numpy number or
    array, a set (the stand-ins' cells: a set was saved as the text '{3, 5}', which their
    reader refused after the load); anything else as its text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:  # of mixed kinds: in the order it iterates
            return list(value)
    return str(value)


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target`` in one swap (kept for callers of the old name)."""
    from nb201_flat import atomic

    atomic._swap_in(new, target, overwrite=True)


def import_command(
    source: str, out: str | os.PathLike[str], fmt: str | None = None, flags: tuple[str, ...] = ()
) -> str:
    """The shell command that imports ``source`` (in format ``fmt``) into the folder ``out``.

    Stored in a table's meta as ``import_command``, so that a damaged table names its rebuild
    (:func:`_reimport_hint`); paths are quoted for the shell, which leaves plain ones as they are.
    """
    argv = ["nb201-flat", "import", source, *(["--format", fmt] if fmt else [])]
    return shlex.join([*argv, "--out", os.fspath(out), *flags])


#: the keyword argument of ``import_table`` each flag of a stored import command stands for
#: (the flags ``nb201-flat import`` records, besides ``--force``, save_table's ``overwrite``,
#: and ``--space=KEY``): the rebuild a Python caller is named (:func:`_rebuild_call`)
_IMPORT_KEYWORDS: Final = {
    "--curves": ("curves", True),
    "--no-curves": ("curves", False),
    "--allow-unsafe-pickle": ("allow_unsafe_pickle", True),
}


def _import_keywords(fmt: str | None, flags: tuple[str, ...]) -> list[str] | None:
    """The keyword arguments of ``import_table`` doing what ``--format fmt`` and ``flags`` (a
    stored import command's) did, as Python text; None for a flag none stands for.

    >>> _import_keywords("tidy", ("--force", "--no-curves", "--space=k"))
    ["format='tidy'", 'curves=False', "space='k'"]
    """
    keywords = [] if fmt is None else [f"format={fmt!r}"]
    for flag in flags:
        if flag == "--force":  # save_table's overwrite, not the import's
            continue
        if flag.startswith("--space="):
            keywords.append(f"space={flag.removeprefix('--space=')!r}")
        elif flag in _IMPORT_KEYWORDS:
            name, value = _IMPORT_KEYWORDS[flag]
            keywords.append(f"{name}={value!r}")
        else:
            return None
    return keywords


def _rebuild_call(
    source: str | None, out: Path | None, keywords: Sequence[str] = (), *, overwrite: bool = False
) -> Call:
    """The import of ``source`` (None: SOURCE, a file to name) with ``keywords``
    (:func:`_import_keywords`) into the folder ``out`` (None: NEW_FOLDER), as a Python call:
    ``nb201_flat.save_table`` of ``nb201_flat.importers.import_table``, which the command line
    spells as its import command (:func:`rebuild_command`).

    >>> str(_rebuild_call("/d/s.csv", Path("t"), ["curves=False"], overwrite=True))
    "nb201_flat.save_table(nb201_flat.importers.import_table('/d/s.csv', curves=False), 't', overwrite=True)"
    """
    imported = ", ".join(["SOURCE" if source is None else repr(source), *keywords])
    folder = "NEW_FOLDER" if out is None else repr(os.fspath(out))
    return Call(
        "nb201_flat.save_table",
        placeholder=f"nb201_flat.importers.import_table({imported}), {folder}"
        + (", overwrite=True" if overwrite else ""),
    )


def rebuild_command(args: str) -> str:
    """The ``nb201-flat import`` command doing what ``nb201_flat.save_table(args)`` does, for
    the arguments of a rebuild :func:`_rebuild_call` names (an ``import_table`` call and the
    folder): how the command line spells that call (:data:`nb201_flat.cli.common.CALLS`). A
    name (SOURCE, NEW_FOLDER) stays a placeholder, and ``overwrite=True`` is ``--force``.

    >>> rebuild_command("nb201_flat.importers.import_table('/d/a b.csv', curves=False), 't', "
    ...                 "overwrite=True")
    "nb201-flat import '/d/a b.csv' --out t --force --no-curves"
    >>> rebuild_command("nb201_flat.importers.import_table(SOURCE), NEW_FOLDER")
    'nb201-flat import SOURCE --out NEW_FOLDER'
    """
    import ast

    def value(node: ast.expr) -> Any:
        return node.id if isinstance(node, ast.Name) else ast.literal_eval(node)

    call = ast.parse(f"f({args})", mode="eval").body
    if not (isinstance(call, ast.Call) and len(call.args) == 2):
        raise ValueError(f"not the arguments of a rebuild: {args!r}")
    imported, out = call.args
    if not (isinstance(imported, ast.Call) and len(imported.args) == 1):
        raise ValueError(f"not the arguments of a rebuild: {args!r}")
    keywords = {k.arg: value(k.value) for k in imported.keywords}
    fmt = keywords.pop("format", None)
    forced = any(k.arg == "overwrite" and value(k.value) is True for k in call.keywords)
    flags = ["--force"] if forced else []
    for name, given in keywords.items():
        if name == "space":
            flags.append(f"--space={given}")
        else:
            flags.append(next(f for f, kw in _IMPORT_KEYWORDS.items() if kw == (name, given)))
    return import_command(value(imported.args[0]), value(out), fmt, tuple(flags))


def _reimport_hint(
    path: Path,
    manifest: dict[str, Any] | None = None,
    *,
    unverified: bool = False,
    unread: str = "cannot be read",
) -> tuple[Part, ...]:
    """How to rebuild the damaged table folder ``path``, as message parts: the import its
    ``manifest`` records (None: one not read, ``unread`` says why), else the way a table built
    in Python is written again. A manifest read but not checked against its checksum
    (``unverified``: it has none, or a schema this version does not read) is said to be so.

    The stored import command names the source, but its ``--out`` is the folder as it was
    spelled at import (relative to that working folder), and a copied table keeps its
    original's: the hint names ``path``, the folder actually read, so that the fix cannot replace
    another table, and overwrites it (the damaged folder exists). That command is a shell line,
    named to a Python caller as the call doing the same (:func:`_rebuild_call`). A table that
    records none was built in Python (imported there, made by hand, or derived from another:
    :func:`~nb201_flat.table.derived_meta`): its own code rebuilds it, where an import of the
    file it came from would lose what was built on it."""
    meta = (manifest or {}).get("meta")
    # save_table by name, never as a Call: the command line spells that as an import, which
    # recreates no table built in Python
    rewrite = f"written again with save_table(table, {os.fspath(path)!r})"
    if not isinstance(meta, dict):  # the record of how it was made is what is damaged
        return (
            f"rebuild it as it was made (its manifest, which records how, {unread}): an "
            "imported table with ",
            _rebuild_call(None, path, overwrite=True),
            f" (SOURCE: the file it was imported from), one built in Python by its code, {rewrite}",
        )
    said_by: tuple[Part, ...] = (
        ("by its manifest (no checksum vouches for it), ",) if unverified else ()
    )
    return said_by + _recorded_rebuild(path, meta, rewrite)


def _recorded_rebuild(path: Path, meta: dict[str, Any], rewrite: str) -> tuple[Part, ...]:
    """:func:`_reimport_hint` for a manifest whose ``meta`` was read: the rebuild it records."""
    file, digest = recorded_source(meta)
    cmd = meta.get("import_command")
    if cmd is None:
        hint: tuple[Part, ...] = (
            "it records no import command (it was built in Python: imported there, made by "
            f"hand, or derived from another table), so its rebuild is the code that built it, "
            f"{rewrite}",
        )
        if file is not None:
            about = [] if digest is None else [f"sha256 began {digest[:12]}"]
            if not os.path.isabs(file):
                about.append("relative to the folder it was imported in")
            said = f" ({', '.join(about)})" if about else ""
            hint += (f"; the source file it records is {file}{said}",)
        return hint
    words = _import_words(cmd) if isinstance(cmd, str) else None
    keywords = _import_keywords(*words[1:]) if words is not None else None
    if words is None or keywords is None:
        return (
            "rebuild it with ",
            _rebuild_call(None, path, overwrite=True),
            " (SOURCE: the file it was imported from; the import command it records, "
            f"{shown(cmd, 200)}, names none to reuse)",
        )
    source = words[0]
    hint = ("rebuild it with ", _rebuild_call(source, path, keywords, overwrite=True))
    if source != "analognas" and not os.path.isabs(source):
        hint += (f" from the folder it was imported in ({source} is a relative path)",)
    if digest is not None:  # a source edited since reads back as other numbers: say which it was
        hint += (
            f"; its source's sha256 began {digest[:12]} at that import, and a rebuild reads "
            "the file as it is now",
        )
    return hint


def recorded_source(meta: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The source file a table's ``meta`` records its import read, and that file's sha256
    (:data:`SOURCE_SHA256`); None for what the import did not record (a table built in memory,
    one written before imports recorded it), never a guess.

    The file is the stored import command's SOURCE (the command line records it resolved),
    else ``meta["file"]`` as the importer was given it (the embedded default's: the
    package's data file).
    """
    cmd = meta.get("import_command")
    words = _import_words(cmd) if isinstance(cmd, str) else None
    file = words[0] if words is not None and words[0] != "analognas" else meta.get("file")
    digest = meta.get(SOURCE_SHA256)
    return (
        file if isinstance(file, str) and file else None,
        digest if isinstance(digest, str) and digest else None,
    )


def _import_words(cmd: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """SOURCE, ``--format`` and the flags (with ``--force``) of a stored import command, or
    None for one that is not ``nb201-flat import SOURCE [--format FMT] --out OUT [flags]``.

    Commands stored before they were quoted for the shell split the same unless a path holds a
    space, which shows as a second SOURCE: such a command is not reused."""
    if not cmd.isprintable() or len(cmd) >= 2000:
        return None
    try:
        argv = shlex.split(cmd)
    except ValueError:
        return None
    if argv[:2] != ["nb201-flat", "import"]:
        return None
    sources: list[str] = []
    valued: dict[str, list[str]] = {"--format": [], "--out": []}
    flags: list[str] = []
    rest = iter(argv[2:])
    for word in rest:
        if word in valued:
            value = next(rest, None)
            if value is None:
                return None
            valued[word].append(value)
        elif word.startswith("--"):
            flags.append(word)
        else:
            sources.append(word)
    if len(sources) != 1 or len(valued["--out"]) != 1 or len(valued["--format"]) > 1:
        return None
    if "--force" not in flags:
        flags.insert(0, "--force")
    return sources[0], next(iter(valued["--format"]), None), tuple(flags)


# The manifest of a 15,625-arch table with a few thousand columns is well under this.
_MAX_MANIFEST = 64 << 20


def _read_regular(
    path: Path, folder: Path, limit: int | None = None, manifest: dict[str, Any] | None = None
) -> bytes:
    """The bytes of ``path``, refusing what is not a regular file (a FIFO, a device, a folder);
    ``manifest``, the table's where it was read, names the rebuild (:func:`_reimport_hint`)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TableFileError(f"{path} is missing; ", *_reimport_hint(folder, manifest)) from None
    except OSError as exc:
        raise TableFileError(
            f"{path} cannot be read ({exc.strerror or exc}); ", *_reimport_hint(folder, manifest)
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise TableFileError(
            f"{path} is not a regular file (a folder, FIFO or device); ",
            *_reimport_hint(folder, manifest),
        )
    if limit is not None and st.st_size > limit:
        raise TableFileError(
            f"{path} is {st.st_size} bytes, far larger than a manifest; ",
            *_reimport_hint(folder, manifest),
        )
    try:
        with path.open("rb") as f:
            return f.read() if limit is None else f.read(limit + 1)
    except OSError as exc:
        raise TableFileError(
            f"{path} cannot be read ({exc.strerror or exc}); ", *_reimport_hint(folder, manifest)
        ) from None


def _check_manifest_types(manifest: dict[str, Any], mpath: Path, folder: Path) -> None:
    def bad(what: str) -> TableFileError:
        # its checksum held: the import it records is the one it was written with
        return TableFileError(f"{mpath} has {what}; ", *_reimport_hint(folder, manifest))

    columns = manifest.get("columns")
    if not isinstance(columns, list):
        raise bad("no list of columns")
    seen: set[tuple[Any, ...]] = set()
    names: set[str] = set()
    for col in columns:
        if not isinstance(col, dict):
            raise bad("a column that is not an object")
        for field in ("name", "dataset", "split", "metric"):
            if not isinstance(col.get(field), str):
                raise bad(f"a column whose {field} is not a string")
        for field in ("epochs", "seed"):
            value = col.get(field)
            if not (type(value) is int or (field == "seed" and value is None)):
                raise bad(f"a column whose {field} is {value!r}, not an integer")
        key = (col["dataset"], col["split"], col["epochs"], col["metric"], col["seed"])
        if key in seen or col["name"] in names:
            raise bad(f"the column {col['name']!r} twice")
        seen.add(key)
        names.add(col["name"])
    if not isinstance(manifest.get("space"), dict) or type(manifest.get("n_archs")) is not int:
        raise bad("no valid space or n_archs")
    sums = manifest.get("sha256")
    if not isinstance(sums, dict) or not isinstance(sums.get(PARQUET), str):
        raise bad(f"no sha256 of {PARQUET}")
    if not isinstance(manifest.get("meta", {}), dict):
        raise bad("meta that is not an object")


def _parse_manifest(folder: Path, raw: bytes) -> dict[str, Any]:
    mpath = folder / MANIFEST
    try:
        manifest = json.loads(raw.decode("utf-8"))
    # ValueError: JSONDecodeError, or an integer over Python's digit limit for int()
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TableFileError(
            f"{mpath} is corrupted ({exc.__class__.__name__}); ", *_reimport_hint(folder)
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "nb201_flat-table":
        raise TableFileError(f"{mpath} is not an nb201_flat manifest; ", *_reimport_hint(folder))
    # parsed, not yet checked against its checksum: its rebuild is named as unverified
    hint = _reimport_hint(folder, manifest, unverified=True)
    version = manifest.get("schema_version")
    reads = f"this nb201_flat ({__version__}) reads version {SCHEMA_VERSION}"
    if type(version) is not int:
        raise TableFileError(
            f"{folder} has table schema version {version!r} ({type(version).__name__}), not an "
            f"integer; {reads}; ",
            *hint,
        )
    if version != SCHEMA_VERSION:
        found = f"{folder} has table schema version {version}"
        writer = written_by(manifest.get(WRITTEN_BY), newer=version > SCHEMA_VERSION)
        if writer is None:  # older than every schema, or a schema its recorded writer never wrote
            raise TableFileError(
                f"{found}: damaged, as no nb201_flat this one knows writes it; {reads}; ", *hint
            )
        who, fix = writer
        raise TableFileError(f"{found}, {who}; {reads}; {fix}; or ", *hint)
    stored = manifest.get(MANIFEST_HASH)
    if not isinstance(stored, str):
        raise TableFileError(
            f"{mpath} has no {MANIFEST_HASH} (written by an older nb201_flat, or damaged); ",
            *hint,
        )
    if hashlib.sha256(_canonical(manifest)).hexdigest() != stored:
        # what it records may be what changed (one flipped bit renames its import command)
        raise TableFileError(
            f"{mpath} does not match its own checksum (modified or damaged); ",
            *_reimport_hint(folder, unread="fails its checksum"),
        )
    _check_manifest_types(manifest, mpath, folder)
    return manifest


def written_by(recorded: object, *, newer: bool) -> tuple[str, str] | None:
    """Who wrote a file of a schema this nb201_flat does not read, and how to read it, as
    message text: the version the file records (:data:`WRITTEN_BY`), else, for a schema newer
    than this version's, a newer nb201_flat; None for neither (a
    schema older than any, or damage: a file that records this version). The record is read
    from a file this version cannot check: only a version number is named.

    >>> written_by("0.3.0", newer=True)
    ('written by nb201_flat 0.3.0', 'read it with nb201_flat 0.3.0')
    """
    if isinstance(recorded, str) and re.fullmatch(r"\d+(\.\d+)+", recorded):
        if recorded == __version__:  # this version reads its own files: the file is damaged
            return None
        return (
            f"written by nb201_flat {recorded}",
            f"read it with nb201_flat {recorded}",
        )
    if newer:
        return (
            "written by a newer nb201_flat than this one",
            "read it with a newer nb201_flat",
        )
    return None


def _existing_folder(folder: Path) -> None:
    if not folder.exists() and not folder.is_symlink():
        # a killed replacement may have left the table beside its name: put it back (atomic is
        # imported here only: loading a table needs it for this alone)
        from nb201_flat import atomic

        atomic.recover(folder)
    if not folder.exists():
        # the library's way to write one (a command: its import command)
        raise TableFileError(f"no table at {folder}; create it with ", Call("save_table"))
    if not folder.is_dir():
        raise TableFileError(
            f"{folder} is a file, not an nb201_flat table folder; import it first with ",
            Call("nb201_flat.importers.import_table"),
        )


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a table folder, validated and checked against its own checksum."""
    folder = _table_path(path)
    _existing_folder(folder)
    mpath = folder / MANIFEST
    if not mpath.exists() and not mpath.is_symlink():
        if not _only_table_files(folder):  # other files, which an import never replaces
            raise TableFileError(
                f"{folder} has no {MANIFEST} and holds other files: not an nb201_flat table; "
                "read a table folder, or import into a new one with ",
                _rebuild_call(None, None),
            )
        raise TableFileError(
            f"{folder} has no {MANIFEST}: not a complete table; ", *_reimport_hint(folder)
        )
    return _parse_manifest(folder, _read_regular(mpath, folder, _MAX_MANIFEST))


def _float_column(column: Any) -> np.ndarray:
    """A float64 parquet column as numpy, nulls as NaN, read from the Arrow buffers.

    ``to_numpy`` imports pandas inside pyarrow (half a second for a small command).
    """
    import pyarrow as pa

    parts = []
    for chunk in column.chunks:
        if chunk.type != pa.float64():
            parts.append(np.asarray(chunk.to_numpy(zero_copy_only=False), dtype=np.float64))
            continue
        n, off = len(chunk), chunk.offset
        validity, data = chunk.buffers()[:2]
        vals = np.frombuffer(data, dtype=np.float64)[off : off + n].copy()
        if chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            vals[~bits[off : off + n].astype(bool)] = np.nan
        parts.append(vals)
    return np.concatenate(parts) if parts else np.zeros(0)


def _read_columns(raw: bytes, names: list[str]) -> tuple[int, dict[str, np.ndarray]]:
    """The parquet file's row count and float64 columns ``names``.

    What :func:`save_table` writes is read directly (:mod:`nb201_flat.plain_parquet`: no
    pyarrow import); anything else, such as the compressed tables of earlier versions, with
    pyarrow. A file neither can read raises ValueError.
    """
    try:
        return plain_parquet.read_columns(raw, names)
    except plain_parquet.Unsupported:
        pass
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # the plain reader (pq.read_table goes through pyarrow.dataset, which imports pandas)
        arrow = pq.ParquetFile(pa.BufferReader(raw)).read()
        columns = {}
        for name in names:
            column = arrow.column(name)
            if column.type != pa.float64():
                raise ValueError(f"column {name} is {column.type}, not float64")
            columns[name] = _float_column(column)
    except pa.ArrowException as exc:
        if isinstance(exc, KeyError | ValueError | TypeError | OSError):
            raise  # most of pyarrow's errors are these too: the caller names them
        raise ValueError(f"{exc.__class__.__name__}: {exc}") from None
    return arrow.num_rows, columns


def _load_once(folder: Path, verify: bool) -> Table:
    identity = _identity(folder)
    manifest = read_manifest(folder)
    ppath = folder / PARQUET
    if not ppath.exists() and not ppath.is_symlink():
        raise TableFileError(f"{ppath} is missing; ", *_reimport_hint(folder, manifest))
    raw = _read_regular(ppath, folder, manifest=manifest)
    expected = manifest["sha256"][PARQUET]
    if verify and hashlib.sha256(raw).hexdigest() != expected:
        raise TableFileError(
            f"{ppath} does not match its checksum (truncated or modified); ",
            *_reimport_hint(folder, manifest),
        )
    try:
        space = Space.from_spec(manifest["space"])
        if space.size != manifest["n_archs"]:
            raise ValueError(f"n_archs {manifest['n_archs']} but the space has {space.size}")
        n_rows, columns = _read_columns(raw, [col["name"] for col in manifest["columns"]])
        if n_rows != space.size:
            raise ValueError(f"{n_rows} rows for {space.size} architectures")
        data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
        for col in manifest["columns"]:
            key = MetricKey(col["dataset"], col["split"], col["epochs"], col["metric"])
            data[(key, col["seed"])] = columns[col["name"]]
    except (KeyError, ValueError, TypeError, OSError, RecursionError) as exc:
        raise TableFileError(
            f"{folder} could not be read ({exc.__class__.__name__}: {str(exc)[:200]}); ",
            *_reimport_hint(folder, manifest),
        ) from None
    except Nb201FlatError as exc:
        raise TableFileError(
            f"{folder}: ", *parts_of(exc), "; ", *_reimport_hint(folder, manifest)
        ) from None
    meta = dict(manifest.get("meta", {}))
    meta["path"] = str(folder)
    meta["sha256"] = expected
    data = _seeds_by_id(data, meta, folder, manifest)
    curves = None
    if "curves" in manifest:
        from nb201_flat.curves import lazy_curves

        curves = lazy_curves(
            folder,
            manifest["curves"],
            sums=manifest["sha256"] if verify else None,
            hint=_reimport_hint(folder, manifest),
        )
        if _identity(folder) != identity:
            # the curves file opened may be the next table's: load again (the caller retries)
            curves.close()
            raise TableFileError(
                f"{folder} was replaced while it was loaded; ", *_reimport_hint(folder, manifest)
            )
    try:
        return Table(
            space, data, source=str(manifest.get("source", "unknown")), meta=meta, curves=curves
        )
    except Nb201FlatError as exc:  # a column the table refuses: the file, not the caller
        raise TableFileError(
            f"{folder}: ", *parts_of(exc), "; ", *_reimport_hint(folder, manifest)
        ) from None


#: the meta key of the seed ids of a results database imported before tables kept them
_OLD_SEED_IDS: Final = "seed_ids"


def _seeds_by_id(
    data: dict[tuple[MetricKey, int | None], np.ndarray],
    meta: dict[str, Any],
    folder: Path,
    manifest: dict[str, Any],
) -> dict[tuple[MetricKey, int | None], np.ndarray]:
    """A results database imported before tables kept its seed ids numbered its seeds by
    position (``meta["seed_ids"]`` the ids in order): its seeds renumbered by id, so that
    ``seed_policy=888`` means training seed 888 in every retraining table, old or new."""
    ids = meta.pop(_OLD_SEED_IDS, None)
    if ids is None:
        return data
    seeds = {s for _, s in data if s is not None}
    if not (isinstance(ids, list) and all(type(i) is int for i in ids)) or not seeds <= set(
        range(len(ids))
    ):
        raise TableFileError(
            f"{folder}: its seed ids {ids!r:.80} do not name its seeds {sorted(seeds)}; ",
            *_reimport_hint(folder, manifest),
        )
    return {(k, s if s is None else ids[s]): v for (k, s), v in data.items()}


def load_saved_table(path: str | os.PathLike[str], *, verify: bool = True) -> Table:
    """Load a table folder written by :func:`save_table`, checking schema and checksums.

    A load that fails while the folder is being replaced (the manifest of one version, the
    parquet of the next) is retried a few times before the error is raised.
    """
    verify = check_flag("verify", verify)  # None would skip the checksums
    _table_path(path)
    if not os.fspath(path).strip():  # Path("") is the current folder: never meant here
        raise TableFileError(
            f"the table path {os.fspath(path)!r} is empty; pass ",
            Param("path", placeholder="PATH"),
            " (a folder written by ",
            Call("save_table"),
            f"), or neither it nor ${TABLE_ENV} for the embedded default",
        )
    folder = Path(path)
    for attempt in range(4):
        before = _identity(folder)
        try:
            return _load_once(folder, verify)
        except TableFileError:
            # a writer still at work, or one that swapped the folder in during this read
            # (its leftovers already gone): read the new one
            if attempt == 3 or not (_replaced_since(folder) or _identity(folder) != before):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _identity(folder: Path) -> tuple[int, int] | None:
    """The folder's (device, inode): a replacement swaps in another folder."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _replaced_since(folder: Path) -> bool:
    """True while a writer (a live process) is replacing ``folder``."""
    parent = folder.parent
    if not parent.is_dir():
        return False
    prefix = f".{folder.name}.tmp-"
    return any(p.name.startswith(prefix) for p in parent.iterdir())


def _current(target: Path) -> bool:
    try:
        read_manifest(target)
    except TableFileError:
        return False
    return True


def load_table(path: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Table:
    """Open a table: ``path``, else ``$NB201_FLAT_TABLE``, else the embedded default (the
    variable read by :func:`env_path`: ``~`` expanded, set but empty refused, as an empty
    ``path`` is: it names no table).

    The embedded default is AnalogNAS-Bench (all 15,625 NB201 cells, its own CIFAR-10
    training), imported from the installed ``analog-nasbench`` package into the cache folder
    the first time (1.4 to 2.2 s on two cores, measured at 7108325) and loaded from there
    afterwards (a few ms).

    Examples
    --------
    >>> t = load_table()  # doctest: +SKIP
    >>> t.vector("cifar10", "ori-test", 200).max()  # doctest: +SKIP
    """
    verify = check_flag("verify", verify)  # None would skip the checksums
    if path is not None:
        return load_saved_table(path, verify=verify)
    named = env_path(
        TABLE_ENV, "a table folder written by ", Call("save_table"), unset="the embedded default"
    )
    if named is not None:
        try:
            return load_saved_table(named, verify=verify)
        except TableFileError as exc:  # the user named no path: say where this one came from
            raise TableFileError(f"${TABLE_ENV}={os.environ[TABLE_ENV]}: ", *parts_of(exc)) from exc
    cache = cache_dir()
    if cache.exists() and not cache.is_dir():
        raise TableFileError(
            f"${CACHE_ENV} or the cache folder {cache} is a file; point {CACHE_ENV} at a folder"
        )
    target = default_table_path()
    if not (target / MANIFEST).exists() or (
        # a cache written before manifests carried their own checksum: import it again
        "manifest_sha256" not in (target / MANIFEST).read_text(errors="replace")
        and not _current(target)
    ):
        from nb201_flat.importers.analognas import read_analognas

        # refused here, naming the cache: save_table's refusals name a path the user never gave
        if (target.exists() or target.is_symlink()) and not target.is_dir():
            raise TableFileError(
                f"the embedded default's cache {target} is not a folder; delete it (it is "
                f"imported again) or point ${CACHE_ENV} at another folder"
            )
        if target.is_dir() and not _only_table_files(target):
            raise TableFileError(
                f"the embedded default's cache {target} holds other files, which importing "
                f"the default there would delete; move them out, or point ${CACHE_ENV} at "
                "another folder"
            )
        check_cache_writable(target, "the embedded default's cache")  # before the import
        log.info("importing the embedded default AnalogNAS-Bench table into %s", target)
        table = read_analognas()
        table.meta["import_command"] = import_command("analognas", target)
        save_to_cache(table, target, "the embedded default's cache")
    return load_saved_table(target, verify=verify)
