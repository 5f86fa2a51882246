"""The tidy long format (``index, arch, dataset, split, epochs, seed, metric, value``).

This is the schema of ``../shared/data/nb201/README.md`` and the interchange form of every
importer. Reads ``.csv``, ``.csv.gz`` and ``.parquet``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from nb201_flat.errors import FormatError, TableFileError
from nb201_flat.space import NB201, Space
from nb201_flat.table import TIDY_COLUMNS, Table

_STRINGS = ("arch", "dataset", "split", "metric")
_INTEGERS = ("index", "epochs", "seed")
# int64 holds 18 digits for sure; longer is no index, epoch count or seed of this benchmark
_INT_PATTERN = r"^[+-]?[0-9]{1,18}$"


def _bad(p: Path, row: int, column: str, value: object, why: str, csv: bool) -> FormatError:
    where = f"row {row + 1} (line {row + 2})" if csv else f"row {row + 1}"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return FormatError(f"{p}: {where}, column {column!r}: {shown} {why}; fix the file")


def _first(mask: Any) -> int:
    import numpy as np

    return int(np.flatnonzero(np.asarray(mask))[0])


def _strict_int(p: Path, table: Any, name: str, *, nullable: bool, minimum: int, csv: bool) -> Any:
    """Column ``name`` as int64 numpy (float NaN for an allowed empty seed), never coerced."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    nulls = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        text = pc.utf8_trim_whitespace(col)
        nulls = nulls | np.asarray(pc.equal(text, "").fill_null(True).to_numpy(), dtype=bool)
        ok = pc.match_substring_regex(text, _INT_PATTERN).fill_null(False).to_numpy()
        bad = ~np.asarray(ok, dtype=bool) & ~nulls
        if bad.any():
            i = _first(bad)
            raise _bad(p, i, name, col[i].as_py(), "is not an integer", csv)
        ints = pc.cast(
            pc.if_else(pc.or_kleene(pc.is_null(text), pc.equal(text, "")), "0", text), pa.int64()
        )
        values = np.asarray(ints.to_numpy(), dtype=np.int64)
    elif pa.types.is_integer(col.type):
        values = np.asarray(col.fill_null(0).to_numpy(), dtype=np.int64)
    elif pa.types.is_floating(col.type):
        raw = np.asarray(col.fill_null(0.0).to_numpy(), dtype=np.float64)
        bad = ~nulls & ~(np.isfinite(raw) & (raw == np.round(raw)) & (np.abs(raw) < 2**53))
        if bad.any():
            i = _first(bad)
            raise _bad(p, i, name, col[i].as_py(), "is not an integer", csv)
        values = raw.astype(np.int64)
    else:
        raise FormatError(f"{p}: column {name!r} has type {col.type}, not integers; fix the file")
    if nulls.any() and not nullable:
        i = _first(nulls)
        raise _bad(p, i, name, "", "is empty (every row needs one)", csv)
    low = ~nulls & (values < minimum)
    if low.any():
        i = _first(low)
        what = "mean over seeds is an empty cell" if name == "seed" else f"must be >= {minimum}"
        raise _bad(p, i, name, int(values[i]), f"is out of range ({what})", csv)
    if nullable:
        return np.where(nulls, np.nan, values.astype(np.float64)), nulls
    return values, nulls


def _read_arrow(p: Path, name: str) -> tuple[Any, bool]:
    import pyarrow as pa

    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(p), False
    import pyarrow.csv as pv

    dict_string = pa.dictionary(pa.int32(), pa.string())
    convert = pv.ConvertOptions(
        column_types={
            **{c: dict_string for c in _STRINGS},
            **{c: pa.string() for c in _INTEGERS},
            "value": pa.float64(),
        },
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    table = pv.read_csv(
        pa.input_stream(p, compression="detect"),
        parse_options=pv.ParseOptions(delimiter="\t" if name.endswith(".tsv") else ","),
        convert_options=convert,
    )
    return table, True


def read_tidy_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a tidy file into a typed DataFrame, refusing any value it would have to coerce.

    CSV is parsed with pyarrow (string columns dictionary-encoded). ``index`` and ``epochs``
    must be integers, ``seed`` an integer >= 0 or empty (the mean over seeds), ``value`` a
    number, and dataset, split and metric non-empty; the first value that is not names its
    row, column and value. A file with a header but no rows is refused.
    """
    import numpy as np
    import pyarrow as pa

    p = Path(path)
    if not p.exists():
        raise TableFileError(f"no such file: {p}")
    name = p.name.lower()
    if not name.endswith((".parquet", ".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".tsv")):
        raise FormatError(f"{p}: tidy tables are .csv, .csv.gz or .parquet files")
    try:
        table, csv = _read_arrow(p, name)
    except (pa.ArrowInvalid, ValueError) as exc:
        # pyarrow's CSV errors name the row and column ("Row #12: CSV conversion error ...")
        text = " ".join(str(exc).split())[:300]
        raise FormatError(f"{p} could not be read as a tidy table ({text}); fix the file") from None
    except (OSError, EOFError, pa.ArrowException) as exc:
        raise FormatError(
            f"{p} could not be read as a tidy table ({exc.__class__.__name__}: "
            f"{' '.join(str(exc).split())[:200]}); is it truncated? Re-download or re-export it"
        ) from None
    if table.num_rows == 0:
        raise FormatError(f"{p} has a header but no rows; it holds no numbers to import")
    out: dict[str, Any] = {}
    for col in table.column_names:
        if col in ("index", "epochs"):
            out[col], _ = _strict_int(p, table, col, nullable=False, minimum=0, csv=csv)
        elif col == "seed":
            seeds, nulls = _strict_int(p, table, col, nullable=True, minimum=0, csv=csv)
            out[col] = pd.array(np.where(nulls, 0, seeds).astype(np.int64), dtype="Int64")
            out[col][nulls] = pd.NA
        elif col in _STRINGS:
            arr = table.column(col)
            empty = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if col != "arch" and empty.any():
                i = _first(empty)
                raise _bad(p, i, col, "", "is empty (every row needs one)", csv)
            out[col] = arr.to_pandas()
        elif col == "value":
            arr = table.column(col)
            if not pa.types.is_floating(arr.type) and not pa.types.is_integer(arr.type):
                raise FormatError(f"{p}: column 'value' has type {arr.type}, not numbers")
            empty = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if empty.any():
                i = _first(empty)
                raise _bad(p, i, col, "", "is empty (write nan for a missing number)", csv)
            out[col] = np.asarray(arr.to_numpy(), dtype=np.float64)
        else:
            out[col] = table.column(col).to_pandas()
    return pd.DataFrame(out)


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
