"""The tidy long format (``index, arch, dataset, split, epochs, seed, metric, value``).

This is the schema of ``../shared/data/nb201/README.md`` and the interchange form of every
importer. Reads ``.csv``, ``.csv.gz`` and ``.parquet``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from nb201_flat.errors import FormatError, TableFileError
from nb201_flat.space import NB201, Space
from nb201_flat.table import TIDY_COLUMNS, Table

_DTYPES = {"dataset": "string", "split": "string", "metric": "string", "arch": "string"}


def read_tidy_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a tidy file into a DataFrame (no validation beyond parsing)."""
    p = Path(path)
    if not p.exists():
        raise TableFileError(f"no such file: {p}")
    name = p.name.lower()
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(p)
        if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".tsv")):
            sep = "\t" if name.endswith(".tsv") else ","
            return pd.read_csv(p, sep=sep, dtype=_DTYPES | {"seed": "Int64"})
    except (ValueError, OSError, EOFError, pd.errors.ParserError) as exc:
        raise FormatError(
            f"{p} could not be read as a tidy table ({exc.__class__.__name__}: {exc}); "
            "is it truncated? Re-download or re-export it"
        ) from None
    raise FormatError(f"{p}: tidy tables are .csv, .csv.gz or .parquet files")


def looks_like_tidy(path: str | os.PathLike[str]) -> bool:
    """True for a csv/parquet whose header has the tidy columns."""
    p = Path(path)
    if not p.is_file():
        return False
    name = p.name.lower()
    try:
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            cols = set(pq.read_schema(p).names)
        elif name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz")):
            cols = set(pd.read_csv(p, nrows=0).columns)
        else:
            return False
    except Exception:  # a sniffing failure only means "not this format"
        return False
    return {"dataset", "split", "epochs", "metric", "value"} <= cols and bool(
        {"index", "arch"} & cols
    )


def read_tidy(
    path: str | os.PathLike[str], *, space: Space = NB201, source: str | None = None
) -> Table:
    """Read a tidy long file into a :class:`~nb201_flat.table.Table`."""
    df = read_tidy_frame(path)
    return Table.from_tidy(
        df,
        space=space,
        source=source or f"tidy file {Path(path).name}",
        meta={"file": str(path), "columns": [c for c in TIDY_COLUMNS if c in df]},
    )
