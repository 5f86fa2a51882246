"""The native on-disk table: a folder with ``table.parquet`` and ``manifest.json``.

``table.parquet`` has one row per architecture index and one float64 column per stored
vector; ``manifest.json`` names each column's (dataset, split, epochs, metric, seed), the space,
the source, the schema version and the sha256 of the parquet file. Writes go to a temporary
folder beside the target and are renamed into place, so an interrupted write never leaves a
half-written table (and never destroys the previous one). Loads check the schema version and
the checksum, and every failure names the command that rebuilds the table.

:func:`load_table` resolves which table to open: an explicit path, then ``$NB201_FLAT_TABLE``,
then the embedded default (AnalogNAS-Bench, imported into the cache folder on first use).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nb201_flat.errors import Nb201FlatError, TableFileError
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
PARQUET = "table.parquet"
TABLE_ENV = "NB201_FLAT_TABLE"
CACHE_ENV = "NB201_FLAT_CACHE"
DEFAULT_TABLE_NAME = "analognas-bench-0.1.3.nb201"


def cache_dir() -> Path:
    """Where the embedded default is imported to: ``$NB201_FLAT_CACHE``, else the XDG cache."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nb201_flat"


def default_table_path() -> Path:
    """Path of the embedded default table in the cache."""
    return cache_dir() / DEFAULT_TABLE_NAME


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_table(table: Table, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write ``table`` atomically to the folder ``path`` and return it.

    The folder is first written under a temporary name beside ``path``; only a complete,
    checksummed table replaces an existing one.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    if target.exists() and not overwrite:
        raise TableFileError(f"{target} exists; pass overwrite=True (CLI: --force) to replace it")
    if target.exists() and not (target / MANIFEST).exists() and any(target.iterdir()):
        raise TableFileError(
            f"{target} is a non-empty folder that is not an nb201_flat table; "
            "choose another --out path"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    items = sorted(
        table.data.items(), key=lambda kv: (kv[0][0], -1 if kv[0][1] is None else kv[0][1])
    )
    names = [f"c{i}" for i in range(len(items))]
    arrow = pa.table(
        {n: pa.array(vec, type=pa.float64()) for n, (_, vec) in zip(names, items, strict=True)}
    )
    columns = [
        {
            "name": n,
            "dataset": key.dataset,
            "split": key.split,
            "epochs": key.epochs,
            "metric": key.metric,
            "seed": seed,
        }
        for n, ((key, seed), _) in zip(names, items, strict=True)
    ]
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        pq.write_table(arrow, tmp / PARQUET, compression="zstd")
        manifest = {
            "format": "nb201_flat-table",
            "schema_version": SCHEMA_VERSION,
            "source": table.source,
            "space": table.space.spec(),
            "n_archs": table.space.size,
            "columns": columns,
            "sha256": {PARQUET: file_sha256(tmp / PARQUET)},
            "meta": table.meta,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote table %s (%d vectors)", target, len(items))
    return target


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing target is swapped out, then removed."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)  # put the previous table back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _reimport_hint(path: Path, manifest: dict[str, Any] | None = None) -> str:
    cmd = (manifest or {}).get("meta", {}).get("import_command")
    if cmd:
        return f"rebuild it with `{cmd}`"
    return f"rebuild it with `nb201-flat import SOURCE --out {path}` (see data/README.md)"


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a table folder, validated (no data is read)."""
    folder = Path(path)
    if not folder.exists():
        raise TableFileError(
            f"no table at {folder}; create it with `nb201-flat import SOURCE --out {folder}`"
        )
    if folder.is_file():
        raise TableFileError(
            f"{folder} is a file, not an nb201_flat table folder; import it first with "
            f"`nb201-flat import {folder} --out TABLE` and pass TABLE"
        )
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise TableFileError(
            f"{folder} has no {MANIFEST}: not a complete table; {_reimport_hint(folder)}"
        )
    try:
        manifest: dict[str, Any] = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableFileError(
            f"{mpath} is corrupted ({exc.__class__.__name__}); {_reimport_hint(folder)}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "nb201_flat-table":
        raise TableFileError(f"{mpath} is not an nb201_flat manifest; {_reimport_hint(folder)}")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise TableFileError(
            f"{folder} has table schema version {version}, this nb201_flat reads version "
            f"{SCHEMA_VERSION}; {_reimport_hint(folder, manifest)}"
        )
    return manifest


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


def load_saved_table(path: str | os.PathLike[str], *, verify: bool = True) -> Table:
    """Load a table folder written by :func:`save_table`, checking schema and checksum."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(path)
    manifest = read_manifest(folder)
    ppath = folder / PARQUET
    if not ppath.exists():
        raise TableFileError(f"{ppath} is missing; {_reimport_hint(folder, manifest)}")
    if verify:
        expected = manifest.get("sha256", {}).get(PARQUET)
        if file_sha256(ppath) != expected:
            raise TableFileError(
                f"{ppath} does not match its checksum (truncated or modified); "
                f"{_reimport_hint(folder, manifest)}"
            )
    try:
        space = Space.from_spec(manifest["space"])
        # one file: the plain reader (pq.read_table goes through pyarrow.dataset, which imports
        # pandas, half a second for a small command)
        arrow = pq.ParquetFile(ppath).read()
        data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
        for col in manifest["columns"]:
            key = MetricKey(col["dataset"], col["split"], int(col["epochs"]), col["metric"])
            vec = _float_column(arrow.column(col["name"]))
            data[(key, None if col["seed"] is None else int(col["seed"]))] = np.asarray(
                vec, dtype=np.float64
            )
    except (KeyError, ValueError, TypeError, OSError, pa.ArrowException) as exc:
        raise TableFileError(
            f"{folder} could not be read ({exc.__class__.__name__}: {exc}); "
            f"{_reimport_hint(folder, manifest)}"
        ) from None
    except Nb201FlatError as exc:
        raise TableFileError(f"{folder}: {exc}; {_reimport_hint(folder, manifest)}") from None
    meta = dict(manifest.get("meta", {}))
    meta["path"] = str(folder)
    meta["sha256"] = manifest.get("sha256", {}).get(PARQUET)
    return Table(space, data, source=str(manifest.get("source", "unknown")), meta=meta)


def load_table(path: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Table:
    """Open a table: ``path``, else ``$NB201_FLAT_TABLE``, else the embedded default.

    The embedded default is AnalogNAS-Bench (all 15,625 NB201 cells, its own CIFAR-10
    training), imported from the installed ``analog-nasbench`` package into the cache folder
    the first time (well under a second) and loaded from there afterwards.

    Examples
    --------
    >>> t = load_table()  # doctest: +SKIP
    >>> t.vector("cifar10", "ori-test", 200).max()  # doctest: +SKIP
    """
    if path is not None:
        return load_saved_table(path, verify=verify)
    env = os.environ.get(TABLE_ENV)
    if env:
        return load_saved_table(env, verify=verify)
    target = default_table_path()
    if not (target / MANIFEST).exists():
        from nb201_flat.importers.analognas import read_analognas

        log.info("importing the embedded default AnalogNAS-Bench table into %s", target)
        table = read_analognas()
        table.meta["import_command"] = f"nb201-flat import analognas --out {target}"
        save_table(table, target)
    return load_saved_table(target, verify=verify)
