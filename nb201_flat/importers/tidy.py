"""The tidy long format (``index, arch, dataset, split, epochs, seed, metric, value``).

This is the schema ``nb201-flat import --help`` describes and the interchange form of every
importer. Reads the endings :data:`~nb201_flat.importers.TIDY_SUFFIXES` lists (CSV, plain or
compressed; TSV; parquet).

A retrained table's file (:meth:`~nb201_flat.table.Table.to_tidy`) also holds its space key
(column ``space``), from which its training mode and recipe are read back
(``meta["mode"]``, ``meta["recipe"]``, as a results database's import records them:
:func:`training_of_key`), and its stand-in cells (:data:`~nb201_flat.table.STAND_IN_COLUMNS`).
It cannot hold the rest of a results database's provenance: the digest of the data each
dataset's runs were trained on (``meta["data"]``), how and where the runs were trained
(``meta["trained_as"]``, ``meta["trained_on"]``), nor the learning curves
(``table.curves``); the table read back names the tidy file as its source (``meta["file"]``
and its sha256). Keep the results database, or the table folder, for those.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, cast

import pandas as pd

from nb201_flat.conventions import (
    COST_METRICS,
    is_accuracy,
    is_drift_accuracy,
    is_percent_accuracy,
    is_spread,
    metric_range,
    outside_range_why,
)
from nb201_flat.errors import (
    ArgumentError,
    FormatError,
    InvalidArchError,
    Param,
    Part,
    TableFileError,
)
from nb201_flat.importers import TIDY_SUFFIXES, check_source_file
from nb201_flat.space import NB201, Space, check_space
from nb201_flat.storage import SOURCE_SHA256
from nb201_flat.table import (
    TIDY_COLUMNS,
    MetricKey,
    Table,
    check_arch_column,
    check_tidy_columns,
    read_constant_output,
)
from nb201_flat.table import key_name_fault as table_key_name_fault

log = logging.getLogger(__name__)

# "space": the space key of a retrained table (Table.to_tidy writes it), one for every row
_STRINGS = ("arch", "dataset", "split", "metric", "space")
# "copied_from": a stand-in's trained cell (table.STAND_IN_COLUMNS), empty on a cell's own rows
_INTEGERS = ("index", "epochs", "seed", "copied_from")
# int64's 19 digits at most (past its top: refused as out of range); longer is no index,
# epoch count or seed of this benchmark
_INT_PATTERN = r"^[+-]?[0-9]{1,19}$"
# a float column past 2**53 holds no exact integer id: seeds 2**53 and 2**53 + 1 read as one
_FLOAT_PAST_2_53 = (
    "is a float past 2**53, where floats skip integers (2**53 + 1 reads as 2**53)",
    "store the column as integers (int64)",
)
_PAST_INT64 = "is out of range (an int64 holds -2**63..2**63-1)"


# an infinite value in a table of measurements is no measurement: query printed inf where
# --json said null (a diverged run's inf loss in a results DB too: check_finite_rows names it);
# found by one rule (_first_infinite), for files, frames and the importers' frames alike
_NOT_FINITE = "is not a finite number (use nan for a missing number)"

# an empty cell of a column every row fills, and a blank key name (table.key_name_fault's)
_EMPTY_WHY: Final = "is empty (every row needs one)"

# a cell pyarrow read as missing: empty, or a spelling such as NA or null (its text is gone)
_MISSING_CELL = object()


def _first_infinite(values: Any) -> int | None:
    """Position of the first infinite value, or None."""
    import numpy as np

    infinite = np.isinf(values)
    return _first(infinite) if infinite.any() else None


def _outside_ranges(metrics: Any, values: Any) -> Any:
    """Mask of the values outside their metric's range (:func:`metric_range`; NaN is not)."""
    import numpy as np

    names = pd.Series(metrics).astype("category")  # a few names over many rows
    ranges = [metric_range(str(c)) or (-np.inf, np.inf) for c in names.cat.categories]
    # code -1 (a missing name) reads the trailing unbounded range
    low, high = (np.array([r[i] for r in ranges] + [-np.inf if i == 0 else np.inf]) for i in (0, 1))
    codes = names.cat.codes.to_numpy()
    values = np.asarray(values, dtype=np.float64)
    return (values < low[codes]) | (values > high[codes])


def _first_outside_range(metrics: Any, values: Any) -> int | None:
    """Position of the first value outside its metric's range, or None."""
    bad = _outside_ranges(metrics, values)
    return _first(bad) if bad.any() else None


def check_value_ranges(
    df: pd.DataFrame,
    source: str,
    *,
    seed_word: str = "seed",
    fix: str | tuple[Part, ...] = "fix or re-download the file",
) -> None:
    """Refuse a tidy frame an importer built from ``source`` (a file) holding a value outside
    its metric's range (:func:`metric_range`: an accuracy outside 0..100, a negative time,
    loss or size), naming the file, the architecture and the key in one line (as
    :func:`check_finite_rows` does for an infinity; a stored seed before the mean of it).

    >>> df = pd.DataFrame({"index": [3, 4], "arch": "a", "dataset": "c", "split": "s",
    ...                    "epochs": 2, "seed": pd.array([pd.NA, pd.NA], dtype="Int64"),
    ...                    "metric": ["accuracy", "time_s"], "value": [250.0, -3.0]})
    >>> check_value_ranges(df, "f.json")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.FormatError: f.json: architecture 3, c/s@2ep:accuracy mean over seeds: 250.0 is not an accuracy in percent (0..100); fix or re-download the file
    >>> check_value_ranges(df.iloc[1:], "f.json")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.FormatError: f.json: architecture 4, c/s@2ep:time_s mean over seeds: -3.0 is negative, which a loss, a time or a cost cannot be; fix or re-download the file
    """
    bad = _outside_ranges(df["metric"], df["value"])
    if bad.any():
        raise _row_error(df, bad, source, None, seed_word, fix)


def check_finite_rows(
    df: pd.DataFrame,
    source: str,
    *,
    seed_word: str = "seed",
    fix: str = "fix or re-download the file",
) -> None:
    """Refuse a tidy frame an importer built from ``source`` (a file) whose ``value`` column
    holds an infinity, naming the file, the architecture and the key in one line.

    :meth:`Table.from_tidy` would refuse it as well, but by its row in a frame the user never
    saw; an importer calls this first. ``seed_word`` says what the seed column holds
    (``"seed"``: seed ids; ``"seed position"``: positions in the stored order); ``fix`` what
    to do (a downloaded file, a results database the user trained). A value stored for one seed
    is named before a mean computed from it.

    >>> df = pd.DataFrame({"index": [3, 3], "arch": "a", "dataset": "c", "split": "s",
    ...                    "epochs": 2, "seed": pd.array([pd.NA, 777], dtype="Int64"),
    ...                    "metric": "loss", "value": [float("inf"), float("inf")]})
    >>> check_finite_rows(df, "f.pth")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.FormatError: f.pth: architecture 3, c/s@2ep:loss seed 777: inf is not a finite number (use nan for a missing number); fix or re-download the file
    """
    import numpy as np

    infinite = np.isinf(df["value"].to_numpy(dtype=np.float64))
    if infinite.any():
        raise _row_error(df, infinite, source, _NOT_FINITE, seed_word, fix)


def _row_error(
    df: pd.DataFrame,
    bad: Any,
    source: str,
    why: str | None,
    seed_word: str,
    fix: str | tuple[Part, ...],
) -> FormatError:
    """The one-line error for the first ``bad`` row of an importer's frame, by file,
    architecture and key (``why``, else why its metric's range refuses it); a value stored
    for one seed is named before a mean of it."""
    stored = bad & df["seed"].notna().to_numpy(dtype=bool)
    row = df.iloc[_first(stored if stored.any() else bad)]
    key = MetricKey(str(row["dataset"]), str(row["split"]), int(row["epochs"]), str(row["metric"]))
    seed = "mean over seeds" if pd.isna(row["seed"]) else f"{seed_word} {int(row['seed'])}"
    why = outside_range_why(key.metric) if why is None else why
    return FormatError(
        f"{source}: architecture {int(row['index'])}, {key} {seed}: {float(row['value'])} {why}; ",
        *((fix,) if isinstance(fix, str) else fix),  # parts: a fix naming a parameter
    )


def _bad(
    p: Path,
    row: int,
    column: str,
    value: object,
    why: str,
    csv: bool,
    fix: str | tuple[Part, ...] = "fix the file",
) -> FormatError:
    where = f"row {row + 1} (line {row + 2})" if csv else f"row {row + 1}"
    shown = "'' (or NA, null...)" if value is _MISSING_CELL else repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return FormatError(
        f"{p}: {where}, column {column!r}: {shown} {why}; ",
        *((fix,) if isinstance(fix, str) else fix),  # parts: a fix naming a parameter
    )


def _first(mask: Any) -> int:
    import numpy as np

    return int(np.flatnonzero(np.asarray(mask))[0])


def _int_range_why(name: str, low: int, high: int | None) -> str:
    """Why an integer of column ``name`` outside ``low..high`` (``high`` None or int64's top:
    unbounded) is refused: one wording for a file's line and a frame's row."""
    if name == "seed":
        return "is out of range (a stored seed is >= 0; the mean over seeds is an empty cell)"
    if high is None or high >= _INT64_MAX:
        return f"is out of range (must be >= {low})"
    if name in ("index", "copied_from"):
        return f"is out of range (the space's cells are {low}..{high})"
    return f"is out of range (outside {low}..{high})"


def _float_int_fault(x: float) -> tuple[str, str] | None:
    """(why, fix) a float cell is no exact integer, or None: a fraction, an infinity, or past
    2**53 (:data:`_FLOAT_PAST_2_53`). NaN is the caller's (an empty cell or no number)."""
    if not (math.isfinite(x) and x.is_integer()):
        return "is not an integer", ""
    if abs(x) >= 2**63:
        return _PAST_INT64, ""
    return None if abs(x) < 2**53 else _FLOAT_PAST_2_53


def _int64_array(values: Any, nulls: Any) -> Any:
    """int64 ``values`` with empty cells ``nulls`` as a pandas Int64 array: exact, where a
    float64 NaN for an empty seed merged seeds past 2**53."""
    import numpy as np

    return pd.arrays.IntegerArray(
        np.asarray(values, dtype=np.int64), np.asarray(nulls, dtype=bool).copy()
    )


def _first_outside(values: Any, nulls: Any, low: int, high: int | None) -> int | None:
    """Position of the first integer (not null) outside ``low..high``, or None."""
    out = ~nulls & (values < low)
    if high is not None:
        out |= ~nulls & (values > high)
    return _first(out) if out.any() else None


def _strict_int(
    p: Path, table: Any, name: str, *, nullable: bool, minimum: int | None, csv: bool
) -> Any:
    """Column ``name`` as (int64 numpy, null mask), never coerced and never read through a
    float (seeds 2**53 and 2**53 + 1 were one); an empty cell (0 in the values) is refused
    unless ``nullable`` (a seed's mean), an integer below ``minimum`` always (None: its range
    is checked later, with the space's size)."""
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
        if nullable:  # a seed written nan is a missing number: the mean over seeds
            nan = pc.match_substring_regex(text, "^-?nan$", ignore_case=True).fill_null(False)
            nulls = nulls | np.asarray(nan.to_numpy(), dtype=bool)
        ok = pc.match_substring_regex(text, _INT_PATTERN).fill_null(False).to_numpy()
        bad = ~np.asarray(ok, dtype=bool) & ~nulls
        if bad.any():
            i = _first(bad)
            raise _bad(p, i, name, col[i].as_py(), "is not an integer", csv)
        # arrow's cast refuses the sign the pattern allows ('+0': a traceback); a trim, not a
        # regex replace (18x slower: 0.27 s a column of 3M cells)
        text = pc.if_else(pa.array(nulls), "0", pc.utf8_ltrim(text, characters="+"))
        try:
            ints = pc.cast(text, pa.int64())
        except pa.ArrowInvalid:  # 19 digits past int64 (a traceback): named by its row
            long = np.flatnonzero(pc.greater_equal(pc.utf8_length(text), 19).to_numpy())
            i = next(int(j) for j in long if not -(2**63) <= int(text[int(j)].as_py()) < 2**63)
            raise _bad(p, i, name, col[i].as_py(), _PAST_INT64, csv) from None
        values = np.asarray(ints.to_numpy(), dtype=np.int64)
    elif pa.types.is_integer(col.type):
        raw_ints = col.fill_null(0).to_numpy()
        if pa.types.is_unsigned_integer(col.type):  # int64 wrapped 2**64 - 1 around to -1
            too_big = np.asarray(raw_ints > np.iinfo(np.int64).max, dtype=bool) & ~nulls
            if too_big.any():
                i = _first(too_big)
                raise _bad(p, i, name, int(raw_ints[i]), "is out of range", csv)
        values = np.asarray(raw_ints, dtype=np.int64)
    elif pa.types.is_floating(col.type):
        raw = np.asarray(col.fill_null(0.0).to_numpy(), dtype=np.float64)
        bad = ~nulls & ~(np.isfinite(raw) & (raw == np.round(raw)) & (np.abs(raw) < 2**53))
        if bad.any():
            i = _first(bad)
            why, fix = cast(tuple[str, str], _float_int_fault(float(raw[i])))
            raise _bad(p, i, name, col[i].as_py(), why, csv, fix=fix or "fix the file")
        values = raw.astype(np.int64)
    else:
        raise FormatError(f"{p}: column {name!r} has type {col.type}, not integers; fix the file")
    if nulls.any() and not nullable:
        i = _first(nulls)
        raise _bad(p, i, name, "", _EMPTY_WHY, csv)
    # a cell's range (index, copied_from) is known once the space column is read: read_tidy
    # checks both its ends then, in the words a frame's check uses
    if minimum is not None and (out := _first_outside(values, nulls, minimum, None)) is not None:
        raise _bad(p, out, name, int(values[out]), _int_range_why(name, minimum, None), csv)
    return values, nulls


def _strict_flags(p: Path, table: Any, name: str, csv: bool) -> Any:
    """Column ``name`` as a bool numpy array: True or False (any case) in a csv, booleans in a
    parquet; an empty cell or another word is refused by its row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    nulls = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if nulls.any():
        raise _bad(p, _first(nulls), name, _MISSING_CELL, "is empty (write True or False)", csv)
    if pa.types.is_boolean(col.type):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=bool)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise FormatError(f"{p}: column {name!r} has type {col.type}, not True/False; fix the file")
    text = pc.utf8_lower(pc.utf8_trim_whitespace(col))
    flags = np.asarray(pc.equal(text, "true").to_numpy(zero_copy_only=False), dtype=bool)
    other = ~flags & ~np.asarray(pc.equal(text, "false").to_numpy(zero_copy_only=False), bool)
    if other.any():
        i = _first(other)
        raise _bad(p, i, name, col[i].as_py(), "is not True or False", csv)
    return flags


def _null_spellings() -> list[str]:
    """pyarrow's spellings of a missing cell ("", NA, null, N/A, ...) less those of nan.

    A value written nan is a missing number (NaN), not an empty cell (which the value column
    refuses); R's NA stays missing: a seed NA is the mean over seeds, a dataset NA is empty.
    """
    import pyarrow.csv as pv

    return [v for v in pv.ConvertOptions().null_values if v.lstrip("-").lower() != "nan"]


def _read_arrow(p: Path, name: str, raw: bytes) -> tuple[Any, bool]:
    """The Arrow table of the tidy file ``p`` (named ``name``), parsed from its bytes ``raw``."""
    import pyarrow as pa

    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        # pyarrow cannot read a column named twice ("Multiple matches for FieldRef")
        check_tidy_columns(pq.read_schema(pa.BufferReader(raw)).names, str(p))
        try:
            # a page written with a checksum is verified (a file written with
            # write_page_checksum=True and one flipped bit imported another number); a page
            # without one, the writers' default, is read as before
            return pq.read_table(pa.BufferReader(raw), page_checksum_verification=True), False
        except OSError as exc:  # pyarrow's integrity error is a bare OSError
            if "checksum" not in str(exc).lower():
                raise
            raise TableFileError(
                f"{p} is corrupt (a page fails its CRC checksum: a byte changed since it was "
                "written); re-download or re-export it"
            ) from None
    import pyarrow.csv as pv

    dict_string = pa.dictionary(pa.int32(), pa.string())
    convert = pv.ConvertOptions(
        column_types={
            **{c: dict_string for c in _STRINGS},
            **{c: pa.string() for c in _INTEGERS},
            "value": pa.float64(),
            "constant_output": pa.string(),  # True or False, checked by its row
        },
        null_values=_null_spellings(),
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    # the compressions pyarrow detects by a path's suffix (input_stream's "detect"); it has
    # no xz codec, which Python's lzma opens (a .csv.xz failed as undecodable text)
    codec = {"gz": "gzip", "bz2": "bz2"}.get(name.rsplit(".", 1)[-1])
    if name.endswith(".xz"):
        import lzma

        try:
            raw = lzma.decompress(raw)
        except lzma.LZMAError as exc:
            raise FormatError(f"{p}: not a readable .xz file ({exc})") from None
    elif codec is not None:  # decompressed here: the text's end is checked below
        raw = pa.input_stream(pa.BufferReader(raw), compression=codec).read()
    if raw and not raw.endswith((b"\n", b"\r")):
        # a file cut inside its last value parses as a shorter number (93.5 read as 93), and
        # cannot be told from a whole file written without a last line end: said, not refused
        log.warning(
            "%s does not end with a line end: if it was cut short, its last value may be cut "
            "too (93.5 read as 93); re-download or re-export it (a whole file: end its last "
            "line with a line break to silence this)",
            p,
        )
    table = pv.read_csv(
        pa.input_stream(pa.BufferReader(raw)),
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
    ``attrs["file_sha256"]``: the sha256 of the bytes parsed (the file is read once).
    """
    import numpy as np
    import pyarrow as pa

    p = Path(path)
    check_source_file(p)  # a FIFO's read_bytes waited forever
    name = p.name.lower()
    if not name.endswith(TIDY_SUFFIXES):
        raise FormatError(f"{p}: tidy tables are {', '.join(TIDY_SUFFIXES)} files")
    try:
        raw = p.read_bytes()  # hashed and parsed from one read: the same bytes
        table, csv = _read_arrow(p, name, raw)
    except (FormatError, TableFileError):  # one line already (a TableFileError is an OSError)
        raise
    except (pa.ArrowInvalid, ValueError) as exc:
        # pyarrow's CSV errors name the row and column ("Row #12: CSV conversion error ...");
        # a parquet's are of its footer or pages: a file cut short or damaged
        text = " ".join(str(exc).split())[:300]
        fix = (
            "fix the file"
            if not name.endswith(".parquet")
            else "is it truncated? Re-download or re-export it"
        )
        raise FormatError(f"{p} could not be read as a tidy table ({text}); {fix}") from None
    except (OSError, EOFError, pa.ArrowException) as exc:
        raise FormatError(
            f"{p} could not be read as a tidy table ({exc.__class__.__name__}: "
            f"{' '.join(str(exc).split())[:200]}); is it truncated? Re-download or re-export it"
        ) from None
    check_tidy_columns(table.column_names, str(p))  # by name, before any column is read
    if table.num_rows == 0:
        raise FormatError(f"{p} has a header but no rows; it holds no numbers to import")
    out: dict[str, Any] = {}
    for col in table.column_names:
        # a cell (index, copied_from) is checked against the space by read_tidy
        low = None if col in ("index", "copied_from") else 0
        if col in ("index", "epochs"):
            out[col], _ = _strict_int(p, table, col, nullable=False, minimum=low, csv=csv)
        elif col in ("seed", "copied_from"):  # empty: the mean over seeds; the cell's own run
            ints, nulls = _strict_int(p, table, col, nullable=True, minimum=low, csv=csv)
            out[col] = _int64_array(ints, nulls)
        elif col == "constant_output":
            out[col] = _strict_flags(p, table, col, csv)
        elif col in _STRINGS:
            arrow_type = table.column(col).type
            if pa.types.is_nested(arrow_type):  # lists met "unhashable" in every check below
                first = table.column(col)[0].as_py()
                raise _line_bad(p, col, csv)(0, str(first)[:60], f"is not text ({arrow_type})")
            out[col] = table.column(col).to_pandas()
            # arch and space are named by their own checks (an empty space key with the fix
            # for a column of one's own); the keys by check_tidy_frame's rule, by their line
            if col not in ("arch", "space"):
                cells = out[col]
                if not isinstance(cells.dtype, pd.CategoricalDtype):  # a parquet's plain text
                    cells = cells.astype("category")  # a few names over many rows
                if fault := _key_text_fault(cells):
                    row, why = fault
                    raise _line_bad(p, col, csv)(row, out[col].iloc[row], why)
        elif col == "value":
            arr = table.column(col)
            if not pa.types.is_floating(arr.type) and not pa.types.is_integer(arr.type):
                # named by its first cell that is no number (else its first cell): a parquet
                # of text, booleans or times
                cells = pd.Series(arr.to_pandas(), dtype=object)
                parsed = pd.to_numeric(cells.map(str), errors="coerce")
                fails = np.asarray(parsed.isna() & cells.notna(), dtype=bool)
                i = _first(fails) if fails.any() else 0
                kind = "is text, not a number" if isinstance(cells.iloc[i], str) else "is no number"
                why = f"{kind} (the column holds {arr.type})"
                raise _bad(p, i, col, cells.iloc[i], why, csv, fix="store the values as numbers")
            empty = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            # pandas' to_parquet stores a NaN as a null (Table.to_tidy(dropna=False) has some):
            # a missing number there, while an empty csv cell may be a damaged line
            if empty.any() and (csv or not pa.types.is_floating(arr.type)):
                i = _first(empty)
                # pandas' to_csv writes NaN as an empty cell unless told (to_tidy(dropna=False))
                why = "is empty (write nan for a missing number: pandas' to_csv(na_rep='nan'))"
                raise _bad(p, i, col, _MISSING_CELL, why, csv)
            values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
            if (bad := _first_infinite(values)) is not None:  # here with its line number
                raise _bad(p, bad, col, float(values[bad]), _NOT_FINITE, csv)
            out[col] = values
        else:
            out[col] = table.column(col).to_pandas()
    if "dataset" in out and "split" in out:
        _check_nb201_names(p, out["dataset"], out["split"], csv)
    if "metric" in out and (misspelt := _first_misspelt_metric(out["metric"])) is not None:
        row, name, right = misspelt
        raise _bad(
            p, row, "metric", name, _MISSPELT_METRIC.format(right), csv, fix=_misspelt_fix(right)
        )
    has_both = "metric" in out and "value" in out
    bad = _first_outside_range(out["metric"], out["value"]) if has_both else None
    if bad is not None:
        metric = str(out["metric"][bad])
        why = f"{outside_range_why(metric)} (metric {metric!r})"
        raise _bad(p, bad, "value", float(out["value"][bad]), why, csv)
    if has_both:
        warn_if_fractions(p, out)
    df = pd.DataFrame(out)
    df.attrs[SOURCE_SHA256] = hashlib.sha256(raw).hexdigest()
    return df


# a value counts as below its dataset's chance level when under this share of it (a clear
# margin: cifar10-valid's x-valid half is not balanced, and its constant cells score 9.712)
_BELOW_CHANCE: Final = 0.75
# fewer values of a key than this share astray are no sign of the file's scale: NB201's own
# ImageNet16-120 seed 1 holds one run at 0.2 % beside 55,043 other values of its key
_STRAY_SHARE: Final = 1e-3
_FRACTIONS_FIX: Final = (
    "fractions? accuracies are in percent (0..100): multiply them by 100 and import again"
)


def warn_if_fractions(source: object, columns: Mapping[str, Any] | pd.DataFrame) -> None:
    """Warn, one line per key (dataset, split, epochs, metric) of an accuracy in percent
    (:func:`~nb201_flat.conventions.is_percent_accuracy`) of the tidy
    ``columns`` (a frame, or a mapping of its columns) from ``source``, of accuracies that
    look like fractions, which would be read as percent a hundred times too small:

    - every value lies in 0..1, over several distinct values;
    - on an NB201 dataset, values lie below three quarters of its chance level (10 % on
      CIFAR-10, 1 % on CIFAR-100, 0.83 % on ImageNet16-120;
      :data:`~nb201_flat.costs.DATASET_SHAPES`): a lone fraction (0.8586) or a file mixing
      85.86 with 0.9366;
    - on another dataset (its chance level unknown), values lie in (0, 1] beside values above 1.

    Not refused: a cell at chance holds such a value in percent (ImageNet16-120's disconnected
    cells score 0.83 %); and a key's values astray at fewer than one in a thousand are not
    counted (NB201 holds a run at 0.2 % on ImageNet16-120). The one check of the tidy files'
    and the NASLib zero-cost files' accuracies.
    """
    import numpy as np

    from nb201_flat.costs import DATASET_SHAPES

    metric = pd.Series(columns["metric"]).astype("category")
    accuracies = [i for i, m in enumerate(metric.cat.categories) if is_percent_accuracy(str(m))]
    values = np.asarray(columns["value"], dtype=np.float64)
    rows = np.isin(metric.cat.codes.to_numpy(), accuracies) & ~np.isnan(values)
    if not rows.any():
        return
    keys = ["dataset", "split", "epochs", "metric"]
    # grouped by category codes (the reader's columns are categories already): strings over
    # 600k rows took half a second
    cats = {k: pd.Series(columns[k]).astype("category") for k in keys}
    codes = {k: c.cat.codes.to_numpy()[rows] for k, c in cats.items()}
    v = values[rows]
    chance = [
        100.0 / DATASET_SHAPES[d][0] if d in DATASET_SHAPES else math.nan
        for d in cats["dataset"].cat.categories
    ]
    floor = _BELOW_CHANCE * np.asarray([*chance, math.nan])[codes["dataset"]]  # -1: no name
    unit = (v > 0) & (v <= 1)
    below = (v > 0) & (v < floor)  # NaN (no chance level known): False
    # a group number per row, then numpy's reductions: pandas' eight aggregations took twice
    # as long (the real file's 470k accuracies)
    group = pd.DataFrame(codes).groupby(keys, sort=True).ngroup().to_numpy()
    n_groups = int(group.max()) + 1

    def count(mask: Any) -> Any:
        return np.bincount(group, weights=mask, minlength=n_groups).astype(np.int64)

    def largest(of: Any) -> Any:
        out = np.full(n_groups, -np.inf)
        np.maximum.at(out, group, of)
        return out

    first = np.full(n_groups, len(v))  # a row of each group, for its key
    np.minimum.at(first, group, np.arange(len(v)))
    n, units, belows = count(np.ones(len(v))), count(unit), count(below)
    low, high = -largest(-v), largest(v)
    unit_v, below_v = largest(np.where(unit, v, -np.inf)), largest(np.where(below, v, -np.inf))
    for g, row in enumerate(first.tolist()):
        dataset, split, epochs, name = (cats[k].cat.categories[codes[k][row]] for k in keys)
        # the text as %-arguments, never in the format: a path or a name may hold a % sign
        at = f"{dataset}/{split}@{epochs}"
        counted = max(1.0, n[g] * _STRAY_SHARE)
        if high[g] <= 1.0 and low[g] < high[g]:
            log.warning(
                "%s: every %s of %s lies in %g..%g (%d values): %s",
                source, name, at, low[g], high[g], n[g], _FRACTIONS_FIX,
            )  # fmt: skip
        elif belows[g] >= counted:
            log.warning(
                "%s: %d of the %d %s values of %s lie below three quarters of %s's chance "
                "level, %.3g %% (the largest: %g): %s",
                source, belows[g], n[g], name, at, dataset,
                100.0 / DATASET_SHAPES[dataset][0], below_v[g], _FRACTIONS_FIX,
            )  # fmt: skip
        elif dataset not in DATASET_SHAPES and high[g] > 1 and units[g] >= counted:
            log.warning(
                "%s: %d of the %d %s values of %s lie in (0, 1] beside values above 1 (the "
                "largest: %g): %s",
                source, units[g], n[g], name, at, unit_v[g], _FRACTIONS_FIX,
            )  # fmt: skip


def _line_bad(
    p: Path, column: str, csv: bool, fix: str | tuple[Part, ...] = "fix the file"
) -> Callable[[int, object, str], FormatError]:
    """``bad(row, value, why)``: the one-line error for a cell of ``column`` by the file's line
    (an empty cell, read as None or NaN, shown as such), as :func:`tidy_space` and
    :func:`~nb201_flat.table.check_arch_column` call it."""

    def bad(row: int, value: object, why: str) -> FormatError:
        empty = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
        shown = _MISSING_CELL if empty else getattr(value, "item", lambda: value)()  # np.int64
        return _bad(p, row, column, shown, why, csv, fix=fix)

    return bad


def _check_nb201_names(p: Path, datasets: Any, splits: Any, csv: bool) -> None:
    """Refuse a row naming an NB201 dataset or split in another spelling (``CIFAR10`` would be
    a dataset of its own, which no query for ``cifar10`` finds) or an NB201 evaluation split
    its dataset does not have (``cifar10`` ``x-valid``: NB201's CIFAR-10 validation split is
    ``cifar10-valid``'s), by the first such row. Other names (a retraining's own dataset, a
    proxy's split) are kept."""
    import numpy as np

    from nb201_flat.importers.official import EVAL_SPLITS
    from nb201_flat.table import _same_but_spelling

    nb201_splits = sorted({s for ss in EVAL_SPLITS.values() for s in ss} | {"train"})
    # a few names over many rows: the first row of each (dataset, split) pair, by their codes
    cats = [pd.Series(c).astype("category") for c in (datasets, splits)]
    codes = pd.DataFrame({i: np.asarray(c.cat.codes) for i, c in enumerate(cats)})
    for row, d, sp in codes.drop_duplicates().itertuples(name=None):
        # an empty cell (code -1) was refused before
        dataset, split = (str(c.cat.categories[i]) for c, i in zip(cats, (d, sp), strict=True))
        for column, name, known in (
            ("dataset", dataset, list(EVAL_SPLITS)),
            ("split", split, nb201_splits),
        ):
            if name not in known:
                spelt = _same_but_spelling(name, known)
                if spelt:
                    why = f"is NB201's {spelt[0]!r} spelt otherwise (it would be a key of its own)"
                    raise _bad(p, int(row), column, name, why, csv, fix=f"write {spelt[0]!r}")
        if (
            dataset in EVAL_SPLITS
            and split in nb201_splits
            and split
            not in (
                "train",
                *EVAL_SPLITS[dataset],
            )
        ):
            why = (
                f"is not a split of NB201's {dataset!r}, which has "
                f"{', '.join(('train', *EVAL_SPLITS[dataset]))}"
            )
            fix = (
                "CIFAR-10's validation split is 'cifar10-valid' 'x-valid'; fix the file"
                if dataset == "cifar10"
                else "fix the file"
            )
            raise _bad(p, int(row), "split", split, why, csv, fix=fix)


# the metrics whose names carry a rule (a range, a direction, a cost), by name or by a part
# of it (``*_accuracy``, ``drift_<time>``, ``*_std``, ``*time_s``): another spelling of one would be
# a metric of its own that no rule reads ('Accuracy' of 150, 'PTQ_Accuracy' of 150 were
# imported and served)
_RULED_METRICS = frozenset(["accuracy", "loss", "time_s", "epoch_time_s", *COST_METRICS])


def _has_rule(metric: str) -> bool:
    return metric in _RULED_METRICS or metric_range(metric) is not None


def _first_misspelt_metric(metrics: Any) -> tuple[int, str, str] | None:
    """The first row naming a metric the package has a rule for in another spelling
    (``Accuracy``, ``LOSS``, ``time-s``, ``PTQ_Accuracy``): ``(row, name, the rule's
    spelling)``, or None. Other names (a proxy's score, a user's own metric) are kept."""
    import numpy as np

    cat = pd.Series(metrics).astype("category")
    firsts = pd.Series(np.asarray(cat.cat.codes)).drop_duplicates()
    for row, code in zip(firsts.index.tolist(), firsts.tolist(), strict=True):
        if code < 0:  # an empty cell, refused elsewhere
            continue
        name = str(cat.cat.categories[code])
        # case and - for _ only: 'times' is a name of its own, not time_s
        right = name.lower().replace("-", "_")
        if right != name and _has_rule(right) and not _has_rule(name):
            return int(row), name, right
    return None


_MISSPELT_METRIC = "is {!r} spelt otherwise (a metric of its own, which no rule checks)"


def _misspelt_fix(right: str) -> str:
    """The fix of a misspelt ruled metric: its spelling; for one ruled by a part of its name
    only (``Delta_Accuracy``: no accuracy in percent, perhaps), a name without that part too."""
    if right in _RULED_METRICS:
        return f"write {right!r}"
    percent = f"write {right!r} (an accuracy in percent, 0..100), or a name not"
    if is_accuracy(right):
        return f"{percent} ending in _accuracy"
    if is_drift_accuracy(right):
        return f"{percent} of the form drift_<time> or hwt_drift_<time> (drift_1h, hwt_drift_30d)"
    if is_spread(right):
        return f"write {right!r} (a spread, never negative), or a name not ending in _std"
    return f"write {right!r} (never negative), or a name not ending in time_s"


# -- DataFrames handed to Table.from_tidy ------------------------------------------------------
_INT64_MAX = 2**63 - 1


def frame_bad(
    source: str,
    df: pd.DataFrame,
    pos: int,
    column: str,
    value: object,
    why: str,
    fix: str = "fix the frame",
) -> FormatError:
    """The one-line error for cell (``pos``, ``column``) of a frame handed to
    :meth:`Table.from_tidy`, by row (and its index label when that differs)."""
    label = df.index[pos]
    label = label.item() if hasattr(label, "item") else label
    where = f"row {pos + 1}" + ("" if label == pos else f" (index label {label!r:.40})")
    shown = repr(value.item() if hasattr(value, "item") else value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return FormatError(f"{source}: {where}, column {column!r}: {shown} {why}; {fix}")


def _as_int(x: object) -> int | str | None:
    """One object cell as an int, None (empty), or the reason it is not an integer."""
    import re

    import numpy as np

    if x is None or x is pd.NA or x is pd.NaT:
        return None
    if isinstance(x, bool | np.bool_):
        return "is a boolean, not an integer"
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        f = float(x)
        if math.isnan(f):
            return None
        fault = _float_int_fault(f)
        return int(f) if fault is None else fault[0]
    if isinstance(x, str):
        text = x.strip()
        if not text:
            return None
        return int(text) if re.fullmatch(_INT_PATTERN, text) else "is not an integer"
    return f"is a {type(x).__name__}, not an integer"


def _frame_int(
    source: str, df: pd.DataFrame, name: str, *, nullable: bool, low: int, high: int
) -> tuple[Any, Any]:
    """Column ``name`` of ``df`` as (int64 values, null mask), refusing what must be coerced."""
    import numpy as np

    col = df[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    nulls = np.array(col.isna().to_numpy(), dtype=bool)  # a copy: filled in below
    kind = getattr(col.dtype, "kind", "O")
    if kind == "b":
        raise frame_bad(source, df, 0, name, col.iloc[0], "is a boolean, not an integer")
    if kind in "iu":
        raw = np.asarray(col.to_numpy(dtype=np.uint64 if kind == "u" else np.int64, na_value=0))
        over = raw > _INT64_MAX  # uint64 above int64 would wrap in the cast
        if over.any():
            i = _first(over)
            raise frame_bad(source, df, i, name, col.iloc[i], "is out of range")
        values = raw.astype(np.int64)
    elif kind == "f":
        raw = np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        nulls = nulls | np.isnan(raw)
        fine = np.isfinite(raw) & (raw == np.round(raw)) & (np.abs(raw) < 2**53)
        bad = ~nulls & ~np.where(np.isfinite(raw), fine, False)
        if bad.any():
            i = _first(bad)
            why, fix = cast(tuple[str, str], _float_int_fault(float(raw[i])))
            raise frame_bad(source, df, i, name, col.iloc[i], why, fix or "fix the frame")
        values = np.where(nulls, 0.0, raw).astype(np.int64)
    else:
        values = np.zeros(len(col), dtype=np.int64)
        for i, x in enumerate(col.to_numpy(dtype=object)):
            got = _as_int(x)
            if isinstance(got, str):
                raise frame_bad(source, df, i, name, x, got)
            if got is None:
                nulls[i] = True
            elif not -_INT64_MAX <= got <= _INT64_MAX:
                raise frame_bad(source, df, i, name, x, "is out of range")
            else:
                values[i] = got
    if nulls.any() and not nullable:
        i = _first(nulls)
        raise frame_bad(source, df, i, name, col.iloc[i], _EMPTY_WHY)
    if (out := _first_outside(values, nulls, low, high)) is not None:
        raise frame_bad(source, df, out, name, int(values[out]), _int_range_why(name, low, high))
    return values, nulls


def _key_text_fault(col: pd.Series) -> tuple[int, str] | None:
    """(row, why) of the first bad cell of a key column (dataset, split, metric), or None: an
    empty cell (``astype(str)`` would make it 'nan'), or a name
    :func:`~nb201_flat.table.key_name_fault` refuses (not text: a parquet's bytes; blank;
    spaces around it; a control character), the rule :class:`MetricKey` applies too. The one
    rule for a file's lines and a frame's rows."""
    import numpy as np

    empty = np.asarray(col.isna().to_numpy(), dtype=bool)
    if empty.any():
        return _first(empty), _EMPTY_WHY
    if isinstance(col.dtype, pd.CategoricalDtype):  # a few names over many rows
        values, codes = col.cat.categories.to_numpy(dtype=object), col.cat.codes.to_numpy()
    else:
        values, codes = col.to_numpy(dtype=object), None
    faults = [table_key_name_fault(x, empty=_EMPTY_WHY) for x in values]
    bad = np.fromiter((f is not None for f in faults), dtype=bool, count=len(values))
    if not bad.any():
        return None
    rows = bad if codes is None else np.isin(codes, np.flatnonzero(bad))
    if not rows.any():  # a bad category no row uses (a frame's leftover) names nothing
        return None
    row = _first(rows)  # the first row of any bad value
    return row, cast(str, faults[row if codes is None else codes[row]])


def _frame_text(source: str, df: pd.DataFrame, name: str) -> None:
    """Refuse a bad cell of key column ``name`` (:func:`_key_text_fault`) by the frame's row."""
    if fault := _key_text_fault(df[name]):
        row, why = fault
        raise frame_bad(source, df, row, name, df[name].iloc[row], why)


def _frame_flags(source: str, df: pd.DataFrame, name: str) -> Any:
    """Column ``name`` as a bool array, refusing a cell that is not True or False (``"no"``
    would be truthy, NA neither)."""
    import numpy as np

    col = df[name]
    if col.dtype == np.bool_:
        return col.to_numpy()
    values = col.to_numpy(dtype=object)
    flag = np.fromiter(
        (isinstance(x, bool | np.bool_) for x in values), dtype=bool, count=len(values)
    )
    if not flag.all():
        i = _first(~flag)
        raise frame_bad(source, df, i, name, values[i], "is not True or False")
    return values.astype(bool)


def _frame_values(source: str, df: pd.DataFrame) -> Any:
    import numpy as np

    col = df["value"]
    kind = getattr(col.dtype, "kind", "O")
    if kind in "iuf":
        if col.hasnans and not isinstance(col.dtype, np.dtype):  # nullable Float64/Int64: pd.NA
            i = _first(col.isna().to_numpy())
            raise frame_bad(
                source, df, i, "value", col.iloc[i], "is empty (use nan for a missing number)"
            )
        out = np.asarray(col.to_numpy(dtype=np.float64), dtype=np.float64)
    else:
        out = np.empty(len(col), dtype=np.float64)
        for i, x in enumerate(col.to_numpy(dtype=object)):
            if isinstance(x, bool | np.bool_) or not isinstance(x, int | float | np.number):
                why = (
                    "is empty (use nan for a missing number)"
                    if x is None or x is pd.NA
                    else "is non-numeric"
                )
                raise frame_bad(source, df, i, "value", x, why)
            out[i] = float(x)
    if (bad := _first_infinite(out)) is not None:
        raise frame_bad(source, df, bad, "value", out[bad], _NOT_FINITE)
    return out


def check_tidy_frame(df: pd.DataFrame, *, size: int, source: str) -> pd.DataFrame:
    """``df`` with typed tidy columns, refusing any cell a cast would coerce.

    What :func:`read_tidy_frame` checks in a file, for a frame built in memory: ``index`` an
    integer in ``0..size-1``, ``epochs`` an integer >= 0, ``seed`` an integer >= 0 or empty
    (the mean over seeds), ``value`` a number (NaN for missing), dataset/split/metric
    non-empty text, a ruled metric in its own spelling (``loss``, not ``LOSS``); where
    present, ``copied_from`` an integer in ``0..size-1`` or empty and ``constant_output`` True
    or False (:data:`~nb201_flat.table.STAND_IN_COLUMNS`). The first cell that is not names
    its row, column and value. Value ranges are the importers' (:func:`check_value_ranges`).

    >>> df = pd.DataFrame({"index": [0, 1.5], "dataset": "c", "split": "s", "epochs": 2,
    ...                    "metric": "m", "value": 1.0})
    >>> check_tidy_frame(df, size=10, source="frame")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.FormatError: frame: row 2, column 'index': 1.5 is not an integer; fix the frame
    """
    if len(df) == 0:
        raise FormatError(f"{source} has columns but no rows; it holds no numbers to import")
    out = df.copy(deep=False)
    if "index" in df:
        out["index"], _ = _frame_int(source, df, "index", nullable=False, low=0, high=size - 1)
    out["epochs"], _ = _frame_int(source, df, "epochs", nullable=False, low=0, high=_INT64_MAX)
    if "seed" in df:
        out["seed"] = _int64_array(
            *_frame_int(source, df, "seed", nullable=True, low=0, high=_INT64_MAX)
        )
    if "copied_from" in df:  # a stand-in's trained cell; empty on a cell's own rows
        out["copied_from"] = _int64_array(
            *_frame_int(source, df, "copied_from", nullable=True, low=0, high=size - 1)
        )
    if "constant_output" in df:
        out["constant_output"] = _frame_flags(source, df, "constant_output")
    for name in ("dataset", "split", "metric"):
        _frame_text(source, df, name)
    out["value"] = _frame_values(source, df)
    # as in a file: 'LOSS' would be a metric of its own, with no loss's direction or range.
    # Ranges are the importers' to check: a frame holds what a Table may (to_tidy's round trip)
    if (misspelt := _first_misspelt_metric(df["metric"])) is not None:
        row, name, right = misspelt
        why = _MISSPELT_METRIC.format(right)
        raise frame_bad(source, df, row, "metric", name, why, fix=_misspelt_fix(right))
    return out


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
        elif name.endswith(TIDY_SUFFIXES):
            cols = set(pd.read_csv(p, nrows=0, sep="\t" if name.endswith(".tsv") else ",").columns)
        else:
            return False
    except Exception:  # a sniffing failure only means "not this format"
        return False
    return {"dataset", "split", "epochs", "metric", "value"} <= cols and bool(
        {"index", "arch"} & cols
    )


# who writes such keys, in no caller's vocabulary (a command and a function both train)
_SPACE_KEYS = "as retraining results record it: nb201, nb201@C4N1#faithful, ..."
SPACE_COLUMN_FIX = "a column of your own called space: drop it, else fix the cell"
"""The fix of a ``space`` column holding something else than a space key: the column is read
as the table's space (:func:`tidy_space`), so a user's own column of that name must go, as any
column of one's own (:func:`~nb201_flat.table.check_tidy_columns`; ignoring it would drop the
network size of a retrained table's file unseen)."""


_OTHER_SPACE_FIX: Final = (
    "fix the file; or, if it holds another space than NB201's (a file without a space column "
    "is read as NB201's), pass ",
    Param("space", placeholder="KEY"),
    ", its space key (<N>nodes:<op>,...,<op>:lexicographic, e.g. "
    "3nodes:none,skip_connect,nor_conv_3x3:lexicographic)",
)


def _no_cell_of(space: Space, text: object) -> bool:
    """Whether ``text`` is an arch string that no cell of ``space`` parses as (an empty cell
    is not one)."""
    if not isinstance(text, str) or not text.strip():
        return False
    try:
        space.parse(text)
    except InvalidArchError:
        return True
    return False


def tidy_space(
    df: pd.DataFrame,
    space: Space | str | None,
    meta: Mapping[str, Any] | None,
    source: str,
    *,
    bad: Callable[[int, object, str], FormatError] | None = None,
) -> tuple[Space, dict[str, Any]]:
    """The space of a tidy frame from ``source`` and its meta, with the space key of its
    ``space`` column (:meth:`Table.to_tidy` writes a retrained table's: the network size the
    analytic costs need) in ``meta["space_key"]``, and the training mode and recipe that key
    names in ``meta["mode"]`` and ``meta["recipe"]``, as a results database's import records
    them (:func:`training_of_key`).

    The key names the space when ``space`` is None (else NB201); several keys, a key that is
    none (``nb201@c4n1`` would read as NB201's full size), or one naming another space than
    ``space`` or another key than ``meta``'s are refused in one line. ``space`` may be a space
    key itself (``read_tidy(..., space=KEY)``, ``import --space KEY``): the key of a frame
    without the column (a file written without it), and refused, naming both, where the
    column holds another. A cell that is no space key (empty, not text, or text of another
    kind: a user's own column called ``space``) is refused by its first row with
    :data:`SPACE_COLUMN_FIX`, by ``bad(row, value, why)`` (a file's line) or else by the
    frame's row.
    """
    import numpy as np

    out = dict(meta or {})
    given = space if isinstance(space, str) else None
    cells = space if isinstance(space, Space) else None
    if given is not None and (cells := _space_of_key(given)) is None:
        raise ArgumentError(
            Param("space", given),
            f" is not a space key ({_SPACE_KEYS}); pass one, or leave ",
            Param("space"),
            " out",
        )
    if "space" not in df:
        if given is not None:
            _agree_on_key(out, given, source, "the space given")
        return (NB201 if cells is None else cells), out
    column = df["space"]
    codes, uniques = pd.factorize(column, use_na_sentinel=True)  # a few keys over many rows
    spaces: dict[str, Space] = {}
    for key in np.asarray(uniques, dtype=object):
        if (keyed := _space_of_key(key)) is not None:
            spaces[key] = keyed
    known = np.array([isinstance(k, str) and k in spaces for k in uniques] + [False], dtype=bool)
    if not known[codes].all():  # code -1, an empty cell, reads the trailing False
        row = _first(~known[codes])
        value = column.iloc[row]
        empty = codes[row] < 0 or (isinstance(value, str) and not value.strip())
        why = "is empty (every row names" if empty else "is not a space key (the column names"
        why += f" the table's space, {_SPACE_KEYS})"
        if bad is not None:
            raise bad(row, value, why)
        raise frame_bad(source, df, row, "space", value, why, fix=SPACE_COLUMN_FIX)
    keys = sorted(spaces)
    if len(keys) > 1:
        raise FormatError(
            f"{source}: column 'space' holds rows of {len(keys)} space keys "
            f"({', '.join(map(repr, keys))}); a table holds one space: split the rows by it"
        )
    key = keys[0]
    named = spaces[key]
    if given is not None and key != given:  # another network size or training than said
        raise FormatError(
            f"{source}: column 'space' holds space key {key!r}, not the ",
            Param("space", given),
            " given; leave ",
            Param("space"),
            " out to use the column's, or fix the column",
        )
    if cells is not None and named != cells:
        raise FormatError(
            f"{source}: column 'space' holds {key!r}, which names another space than the one "
            f"given ({cells!r}); leave space= out to use the column's"
        )
    _agree_on_key(out, key, source, "column 'space'")
    return named, out


def _space_of_key(key: object) -> Space | None:
    """The space a space key names (:func:`~nb201_flat.importers.results_db.space_from_key`),
    or None for what is none: not text, spaces around it (``" nb201"`` would be a key apart),
    a size suffix it cannot read (``nb201@c4n1`` would cost as NB201's full size)."""
    from nb201_flat.importers.results_db import space_from_key

    if not isinstance(key, str) or key != key.strip():
        return None
    try:
        return space_from_key(key)
    except FormatError:
        return None


def training_of_key(key: str) -> dict[str, str | None]:
    """The training a results-database space key names, as its import records it:
    ``mode`` (its mode tag; None for a key written before modes) and ``recipe`` (what the
    recipe changes from NB201's; None for NB201's own).

    >>> training_of_key("nb201@C4N1#fast-bf16"), training_of_key("nb201@C4N1")
    ({'mode': 'fast-bf16', 'recipe': None}, {'mode': None, 'recipe': None})
    """
    from nb201_flat.train.modes import recipe_of_key, split_keyed_space

    return {"mode": split_keyed_space(key)[1], "recipe": recipe_of_key(key)}


def _agree_on_key(out: dict[str, Any], key: str, source: str, where: str) -> None:
    """Set ``out["space_key"]`` to ``key`` (from ``where``: the column, or the key given) and
    ``out``'s mode and recipe to its (:func:`training_of_key`), refusing a meta naming
    others."""
    named = {"space_key": key, **training_of_key(key)}
    for name, value in named.items():
        if out.get(name, value) != value:
            what = f"space key {key!r}" if name == "space_key" else f"{key!r}, of {name} {value!r}"
            raise FormatError(
                f"{source}: {where} holds {what}, but meta names {out[name]!r}; pass one of them"
            )
    out.update(named)


def tidy_stand_ins(
    df: pd.DataFrame, index: Any, meta: Mapping[str, Any], source: str, space: Space
) -> dict[str, Any]:
    """``meta`` with the stand-in cells of a checked tidy frame (:func:`check_tidy_frame`)
    from ``source``, whose rows locate cells ``index`` of ``space``: its :data:`~nb201_flat.table.STAND_IN_COLUMNS`
    (:meth:`Table.to_tidy` writes a retraining table's) read back into
    ``meta["constant_output"]`` and ``meta["isomorphic_to"]``, as
    :func:`~nb201_flat.importers.results_db.read_results_db` records them.

    Both are per run (dataset, schedule, seed): a cell may be at chance on one seed's rows and
    trained on another's. A frame without them (a benchmark's, or one written before they
    were) keeps ``meta`` as it is. A cell flagged on some rows of one run only, a run whose
    rows name several cells copied (or none on some rows), a copy of a cell of another
    function (not isomorphic), or a column disagreeing with ``meta`` is refused in one line.
    """
    import numpy as np

    out = dict(meta)
    index = np.asarray(index, dtype=np.int64)
    seeds = tidy_seeds(df)
    if "constant_output" in df:
        _constant_runs(df, index, seeds, out, source, space.size)
    if "copied_from" in df:
        runs = pd.DataFrame(
            {
                "dataset": df["dataset"].astype(str).to_numpy(),
                "epochs": np.asarray(df["epochs"], dtype=np.int64),
                "seed": seeds,
                "index": index,
                "copied_from": df["copied_from"].to_numpy(dtype=np.float64, na_value=np.nan),
            }
        )
        copies = runs[runs["index"].isin(runs.loc[runs["copied_from"].notna(), "index"])]
        cols = ["dataset", "epochs", "seed", "index"]
        sources = copies.groupby(cols, dropna=False, sort=True)["copied_from"]
        several = sources.nunique(dropna=False) > 1
        if several.any():
            d, e, sd, i = several.index[several.to_numpy()][0]
            named = sorted(
                "empty" if np.isnan(c) else str(int(c))
                for c in sources.get_group((d, e, sd, i)).unique()
            )
            raise FormatError(
                f"{source}: column 'copied_from' holds {' and '.join(named)} on the rows of "
                f"cell {i} at {d}@{e}ep seed {_seed_words(sd)}; a run's rows name one cell "
                "copied, or none: fix the column"
            )
        which = copies.dropna(subset=["copied_from"]).drop_duplicates(cols)

        # the cell copied must be another, trained in the same run: its own rows are there
        def run_of(d: str, e: int, sd: int, i: float) -> tuple[str, int, int | None, int]:
            return str(d), int(e), _run_seed(sd), int(i)

        own = runs[runs["copied_from"].isna()].drop_duplicates(cols)
        trained = {run_of(*row) for row in own[cols].itertuples(index=False, name=None)}
        for d, e, sd, i, c in which.itertuples(index=False):
            if c == i or run_of(d, e, sd, c) not in trained:
                why = (
                    "names the cell itself"
                    if c == i
                    else f"names cell {int(c)}, which has no rows of that run in the file"
                )
                raise FormatError(
                    f"{source}: column 'copied_from' of cell {i} at {d}@{e}ep seed "
                    f"{_seed_words(sd)} {why}; a stand-in copies another cell trained in the same "
                    "run: fix the column"
                )
        from nb201_flat.importers.results_db import not_isomorphic

        # as a results database's import refuses it: the copy's numbers would be served as
        # those of a cell computing another function, and grouped with it by flatness
        pairs = which[["index", "copied_from"]].astype(np.int64).itertuples(index=False)
        if (bad := not_isomorphic({(int(i), int(c)) for i, c in pairs}, space)) is not None:
            pos = int(
                np.flatnonzero((runs["index"] == bad[0]) & (runs["copied_from"] == bad[1]))[0]
            )
            raise frame_bad(
                source,
                df,
                pos,
                "copied_from",
                bad[1],
                f"is a cell not isomorphic to cell {bad[0]} (it computes another function)",
                "a stand-in copies a cell of its own isomorphism class: fix the column",
            )
        records = [
            {
                "dataset": str(d),
                "epochs": int(e),
                "seed": _run_seed(sd),
                "index": int(i),
                "copied_from": int(c),
            }
            for d, e, sd, i, c in which.sort_values([*cols, "copied_from"]).itertuples(index=False)
        ]
        _agree(out, "isomorphic_to", records, "copied_from", source)
    return out


def tidy_seeds(df: pd.DataFrame) -> Any:
    """The seed of each row of a tidy frame :func:`check_tidy_frame` checked, as int64, -1 for
    the mean over seeds (a stored seed is >= 0): exact, where float64 with NaN for the mean
    read seed 2**53 + 1 as 2**53 (a stand-in record named a run the table does not hold)."""
    import numpy as np

    if "seed" not in df:
        return np.full(len(df), -1, dtype=np.int64)
    return df["seed"].to_numpy(dtype=np.int64, na_value=-1)


def _run_seed(sd: int) -> int | None:
    """A run's seed from :func:`tidy_seeds`: a Python int, None for the mean over seeds."""
    return None if sd < 0 else int(sd)


def _seed_words(sd: int) -> str:
    return "mean" if sd < 0 else str(int(sd))


def _constant_runs(
    df: pd.DataFrame, index: Any, seeds: Any, out: dict[str, Any], source: str, size: int
) -> None:
    """Set ``out["constant_output"]`` to the runs whose rows the ``constant_output`` column of
    ``df`` flags (``seeds``: its rows' :func:`tidy_seeds`), one record per run and cell,
    refusing a run flagged on some rows only and a ``meta`` naming other runs (its old flat
    list of cells: every run of the frame)."""
    import numpy as np

    runs = pd.DataFrame(
        {
            "dataset": df["dataset"].astype(str).to_numpy(),
            "epochs": np.asarray(df["epochs"], dtype=np.int64),
            "seed": seeds,
            "index": np.asarray(index, dtype=np.int64),
            "flag": np.asarray(df["constant_output"], dtype=bool),
        }
    )
    cols = ["dataset", "epochs", "seed", "index"]
    flags = runs.groupby(cols, dropna=False, sort=True)["flag"]
    split = flags.nunique() > 1
    if split.any():
        d, e, sd, i = split.index[split.to_numpy()][0]
        raise FormatError(
            f"{source}: column 'constant_output' is True on some rows of cell {int(i)} at "
            f"{d}@{int(e)}ep seed {_seed_words(sd)} and False on others; "
            "a cell is a constant-output stand-in on all rows of a run or none: fix the column"
        )

    def run_of(d: object, e: object, sd: int) -> tuple[str, int, int | None]:
        return str(d), int(cast(int, e)), _run_seed(sd)

    flagged = runs[runs["flag"]].drop_duplicates(cols).sort_values(cols)
    records = [
        {"dataset": d, "epochs": e, "seed": sd, "index": int(i)}
        for *run, i in flagged[cols].itertuples(index=False, name=None)
        for d, e, sd in (run_of(*run),)
    ]
    if "constant_output" in out:
        # meta given too: it must name the same runs (an old flat list: each of the frame's)
        frame_runs = {run_of(*r) for r in runs[cols[:3]].drop_duplicates().itertuples(index=False)}
        every, by_run = read_constant_output(out["constant_output"], size)
        given = {(*run, i) for run in frame_runs for i in every} | {
            (*run, i) for run, cells in by_run.items() for i in cells
        }
        read = {(r["dataset"], r["epochs"], r["seed"], r["index"]) for r in records}
        if given != read:
            d, e, sd, i = min(
                (read - given) or (given - read),
                key=lambda r: (r[0], r[1], -1 if r[2] is None else r[2], r[3]),
            )
            one, other = (
                ("column 'constant_output'", "meta")
                if read - given
                else (
                    "meta['constant_output']",
                    "column 'constant_output'",
                )
            )
            raise FormatError(
                f"{source}: {one} flags cell {i} at {d}@{e}ep seed "
                f"{'mean' if sd is None else sd} as constant output, but {other} does not; "
                "pass one of them"
            )
    out["constant_output"] = records


def _agree(out: dict[str, Any], name: str, value: list[Any], column: str, source: str) -> None:
    """Set ``out[name]`` to ``value`` (read from ``column``), refusing a meta naming another."""
    given = out.get(name, value)
    if sorted(map(str, given)) != sorted(map(str, value)):
        raise FormatError(
            f"{source}: column {column!r} gives {name} {value!r:.80}, but meta gives "
            f"{given!r:.80}; pass one of them"
        )
    out[name] = value


def read_tidy(
    path: str | os.PathLike[str], *, space: Space | str | None = None, source: str | None = None
) -> Table:
    """Read a tidy long file into a :class:`~nb201_flat.table.Table` (its space: ``space``,
    else the one its ``space`` column names, else NB201; :func:`tidy_space`).

    ``space`` is a :class:`~nb201_flat.space.Space`, or a space key (``import --space KEY``:
    ``nb201@C4N1#faithful``, ``3nodes:none,skip_connect,nor_conv_3x3:lexicographic``), which
    marks a file without a ``space`` column as of that network and training, as the column
    would (a retrained table's analytic costs and time budgets read it); a column holding
    another key is refused.
    """
    import numpy as np

    if space is not None and not isinstance(space, str):
        check_space(space)
    p = Path(path)
    df = read_tidy_frame(p)
    meta = {
        "file": str(path),
        "columns": [c for c in TIDY_COLUMNS if c in df],
        SOURCE_SHA256: df.attrs[SOURCE_SHA256],
    }
    csv = not p.name.lower().endswith(".parquet")

    unnamed = space is None and "space" not in df
    bad_space = _line_bad(p, "space", csv, fix=SPACE_COLUMN_FIX)
    space, meta = tidy_space(df, space, meta, str(p), bad=bad_space)

    def fix(row: int) -> str | tuple[Part, ...]:
        # a file of another space, written without the column naming it, is read as NB201's:
        # a row whose arch is no cell of NB201's may be a cell of that space
        other = unnamed and "arch" in df and _no_cell_of(space, df["arch"].iloc[row])
        return _OTHER_SPACE_FIX if other else "fix the file"

    for col in ("index", "copied_from"):  # here, with the space's size, to name the line
        if col in df:
            nulls = df[col].isna().to_numpy(dtype=bool)
            cells = df[col].to_numpy(dtype=np.int64, na_value=0)
            if (i := _first_outside(cells, nulls, 0, space.size - 1)) is not None:
                why = _int_range_why(col, 0, space.size - 1)
                raise _bad(p, i, col, int(cells[i]), why, csv, fix=fix(i))
    if "arch" in df:  # here, to name a bad string by the file's line

        def bad_arch(row: int, value: object, why: str) -> FormatError:
            return _line_bad(p, "arch", csv, fix=fix(row))(row, value, why)

        index = df["index"].to_numpy(dtype="int64") if "index" in df else None
        check_arch_column(df["arch"], space, bad_arch, index=index)
    return Table.from_tidy(
        df,
        space=space,
        source=source or f"tidy file {p.name}",
        meta=meta,
        check_arch=False,  # checked above
        rows=lambda i: f"row {i + 1} (line {i + 2})" if csv else f"row {i + 1}",
    )
