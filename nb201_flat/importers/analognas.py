"""AnalogNAS-Bench, the embedded default table (read from the ``analog-nasbench`` wheel).

AnalogNAS-Bench trained all 15,625 NB201 cells on CIFAR-10 with its own recipe (200 epochs) and
measured baseline, post-training-quantised (PTQ), quantisation-aware-trained (QAT), analog
(noisy, no hardware-aware training) and hardware-aware-trained (HWT) accuracies, plus accuracy
after conductance drift (60 s, 1 h, 1 day, 30 days) with its uncertainty. These are *not*
NAS-Bench-201 numbers.

We never import the package's module (it imports the removed ``pkg_resources``): we locate
``analognasbench/data.anb`` through package metadata and unpickle it with an unpickler that
admits only the package's two record classes, mapped onto inert stand-ins. Its keys are NASLib
op indices (NASLib op and edge order), converted to NB201 cells by op name.

Metric names in the table (dataset ``cifar10``, split ``ori-test``, 200 epochs):

=============================  ==========================================================
``accuracy``                   baseline (digital) test accuracy, %
``ptq_accuracy``               after post-training quantisation
``qat_accuracy``               after quantisation-aware training
``analog_accuracy``            on simulated analog hardware, no hardware-aware training
``hwt_accuracy``               on analog hardware after hardware-aware training
``drift_{60s,1h,1d,30d}``      baseline model on analog hardware after drift (``_std``: +-)
``hwt_drift_{60s,1h,1d,30d}``  hardware-aware model after drift (``_std``: +-)
=============================  ==========================================================
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import io
import itertools
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import numpy as np

from nb201_flat.conventions import outside_range, outside_range_why
from nb201_flat.errors import (
    Call,
    FormatError,
    InvalidArchError,
    MissingDependencyError,
    Nb201FlatError,
    Param,
    real_number,
    shown,
)
from nb201_flat.importers import check_source_file
from nb201_flat.importers.naslib import NASLIB_EDGES, NASLIB_OPS, from_naslib
from nb201_flat.importers.safe_pickle import ReadableBinary, RestrictedUnpickler, safe_load
from nb201_flat.space import NB201
from nb201_flat.storage import SOURCE_SHA256
from nb201_flat.table import FloatArray, MetricKey, Table
from nb201_flat.types import IntArray

logger = logging.getLogger(__name__)

PACKAGE = "analog-nasbench"
_DRIFTS = {"60": "60s", "3600": "1h", "86400": "1d", "2592000": "30d"}
_SCALARS = {
    "baseline_accuracy": "accuracy",
    "ptq_accuracy": "ptq_accuracy",
    "qat_accuracy": "qat_accuracy",
    "noisy_accuracy": "analog_accuracy",
    "analog_accuracy": "hwt_accuracy",
}
#: the table's metrics (dataset ``cifar10``, split ``ori-test``, 200 epochs), in its order
METRICS: Final = (
    *_SCALARS.values(),
    *(
        f"{prefix}_{label}{std}"
        for label in _DRIFTS.values()
        for prefix in ("drift", "hwt_drift")
        for std in ("", "_std")
    ),
)
_REINSTALL = "reinstall with `pip install --force-reinstall analog-nasbench==0.1.3`"
_REPLACE = "use an unmodified copy of analog-nasbench 0.1.3's data.anb in place of this file"
# every pickle data.anb could be (protocol 2 and later) opens with the PROTO opcode
_PICKLE = b"\x80"

#: sha256 of ``data.anb`` in analog-nasbench 0.1.3's wheel on PyPI: the embedded default is
#: read only from these bytes (a flipped byte in the installed copy changed one cell's accuracy
#: silently: the pickle has no checksum of its own)
PUBLISHED_SHA256 = "85f3435b877aa2d36268d55ce07f6ff6d73643d17a840f1941745da5eb80db32"

#: the source of a table read from those bytes; another file's names that file (a modified
#: copy's numbers were shown as 0.1.3's)
PUBLISHED_SOURCE = "AnalogNAS-Bench (analog-nasbench 0.1.3, CIFAR-10)"

#: how the source of a table read from another data.anb begins (its file's name follows)
COPY_SOURCE: Final = "AnalogNAS-Bench-format file "


def is_analognas_source(source: str) -> bool:
    """Whether a table's ``source`` says it holds AnalogNAS-Bench's numbers, not
    NAS-Bench-201's: it begins as :func:`read_analognas` labels a table,
    :data:`PUBLISHED_SOURCE` or :data:`COPY_SOURCE` (a table merged onto one keeps that start).
    Decided by these labels alone: a file's name holding the word says nothing of its numbers
    (NB201's own tidy file, named nb201_vs_analognas.csv.gz, was captioned 'not
    NAS-Bench-201').

    >>> is_analognas_source(PUBLISHED_SOURCE), is_analognas_source("tidy file analognas.csv")
    (True, False)
    """
    return source.startswith((PUBLISHED_SOURCE, COPY_SOURCE))


def holds_analognas_numbers(source: str, metrics: Iterable[str]) -> bool:
    """Whether a table holds AnalogNAS-Bench's numbers: its ``source`` says so
    (:func:`is_analognas_source`), or it holds a metric only AnalogNAS-Bench measures (its
    quantised, analog and drift accuracies: the benchmark's numbers written to a tidy file and
    imported again keep them under another label).

    >>> holds_analognas_numbers("tidy file mine.csv", ["accuracy", "ptq_accuracy"])
    True
    >>> holds_analognas_numbers("tidy file nb201_vs_analognas.csv.gz", ["accuracy", "loss"])
    False
    """
    return is_analognas_source(source) or not _OWN_METRICS.isdisjoint(metrics)


# the metrics no other benchmark this package reads measures ("accuracy" is everyone's)
_OWN_METRICS: Final = frozenset(METRICS) - {"accuracy"}


class _Record:
    """Inert stand-in for the package's classes: keeps the pickled attributes, runs nothing."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise FormatError("unexpected record state in AnalogNAS-Bench data file")
        self.__dict__.update(state)


_RECORD_CLASSES = {
    ("analognasbench.data", "Architecture"): _Record,
    ("analognasbench.data", "DriftMeasurement"): _Record,
}


class _AnalogUnpickler(RestrictedUnpickler):
    """The shared restricted unpickler, with the package's two record classes as attribute bags."""

    def __init__(self, file: ReadableBinary, source: str = "the AnalogNAS-Bench file") -> None:
        super().__init__(
            file,
            substitutes=_RECORD_CLASSES,
            source=source,
            opt_in="is this really data.anb from analog-nasbench 0.1.3?",
        )


def data_file(*, importing: bool = False) -> Path:
    """Locate ``analognasbench/data.anb`` of the installed package without importing it.
    Without the package, the refusal names the other way out: an imported table for the
    embedded default, a data.anb by its path when ``importing`` the word ``analognas``."""
    spec = importlib.util.find_spec("analognasbench")  # a top-level find does not execute it
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidate = Path(loc) / "data.anb"
            if candidate.exists():
                return candidate
    try:
        for f in importlib.metadata.files(PACKAGE) or []:
            if f.name == "data.anb":
                return Path(str(f.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    install = (
        "the PyPI package analog-nasbench; install it with `pip install analog-nasbench==0.1.3`"
    )
    if importing:
        raise MissingDependencyError(
            f"importing `analognas` reads {install} (or import a copy of its data.anb by path: ",
            Call("nb201_flat.importers.import_table", placeholder="PATH"),
            ")",
        )
    raise MissingDependencyError(
        f"the embedded default table needs {install} (or open an imported table: ",
        Call("load_table", placeholder="PATH"),
        " or $NB201_FLAT_TABLE)",
    )


def _package_copy(file: Path, path: object) -> bool:
    """Whether ``file`` is the installed package's own data.anb: read by default (``path``
    None), or given by a path that leads to it."""
    if path is None:
        return True
    # no package, or find_spec's ValueError on a module of its name without a spec: the
    # file is not the package's
    with contextlib.suppress(MissingDependencyError, ValueError):
        # realpath: Path.resolve raises RuntimeError on a loop of links
        return os.path.realpath(data_file()) == os.path.realpath(file)
    return False


# a damaged record found by an array check: (record position, check order, message); the
# first record's first fault is refused, in the order a record is read (its key, its cell, its
# attributes), as a loop over the records met it
_Fault = tuple[int, int, str]


def _naslib_indices(keys: list[Any]) -> IntArray | None:
    """Each key's NB201 index, converted as one array when every key is a tuple of NASLib op
    indices in range (the published file's keys; :func:`from_naslib` took 0.16 s over them one
    by one), else None. Converted by op name, as :func:`from_naslib` converts one key."""
    n_edges, n_ops = len(NASLIB_EDGES), len(NASLIB_OPS)
    if not all(type(k) is tuple and len(k) == n_edges for k in keys):
        return None
    flat = list(itertools.chain.from_iterable(keys))
    # exact ints only (a bool or 5.0 is from_naslib's to judge), in range before they are an
    # array (an int past int64 overflows it)
    if set(map(type, flat)) != {int} or min(flat) < 0 or max(flat) >= n_ops:
        return None
    naslib = np.array(flat, dtype=np.int64).reshape(len(keys), n_edges)
    op_codes = np.array([NB201.op_code(op) for op in NASLIB_OPS])
    edge_order = [NASLIB_EDGES.index(edge) for edge in NB201.edges]
    return NB201.indices_of_codes(op_codes[naslib[:, edge_order]])


def _cell_indices(keys: list[Any], file: Path, fix: str, faults: list[_Fault]) -> IntArray:
    """Each key's NB201 index; a key that is no NASLib cell (index -1) and a cell keyed twice
    (a tuple and its bytes: one record's values would hide the other's) are faults."""
    index = _naslib_indices(keys)
    if index is None:  # another file's keys: one by one, by the one rule
        index = np.full(len(keys), -1, dtype=np.int64)
        for pos, key in enumerate(keys):
            try:
                index[pos] = from_naslib(key).index
            except InvalidArchError as exc:
                message = f"{file}: record key {shown(key, 60)} is no NASLib cell ({exc})"
                faults.append((pos, len(faults), message))
                break  # a later record's fault is never the first
    order = np.argsort(index, kind="stable")  # a cell's records by position
    ranked = index[order]
    again = order[1:][(ranked[1:] == ranked[:-1]) & (ranked[1:] >= 0)]
    if again.size:
        later = int(again.min())
        earlier = int(np.flatnonzero(index == index[later])[0])
        faults.append(
            (
                later,
                len(faults),
                f"{file}: record keys {shown(keys[earlier], 40)} and {shown(keys[later], 40)} "
                f"name one cell (index {index[later]}); {fix}",
            )
        )
    return index


def _column(
    values: list[object], attr: str, keys: list[Any], file: Path, fix: str, faults: list[_Fault]
) -> FloatArray:
    """Each record's ``attr`` as a float (:func:`~nb201_flat.errors.real_number`); one that is
    no finite number is a fault (a damaged file: None from a record that lacks it, text, a
    stored inf)."""
    if set(map(type, values)) == {float}:  # the published file's: read as one array
        column = np.array(values, dtype=np.float64)
    else:
        column = np.array([real_number(v) for v in values], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(column))
    if bad.size:
        pos = int(bad[0])
        faults.append(
            (
                pos,
                len(faults),
                f"{file}: record {shown(keys[pos], 60)} has {attr} {shown(values[pos], 40)}, "
                f"not a finite number; {fix}",
            )
        )
    return column


def _record_vectors(records: dict[Any, object], file: Path, fix: str) -> dict[str, FloatArray]:
    """The table's vectors (:data:`METRICS` order) from ``records``, each attribute read and
    checked as one array (a loop over the 15,625 records took 0.7 s of a cold start); a
    damaged file is refused at its first record's first fault, as a loop met it."""
    keys, recs = list(records), list(records.values())
    faults: list[_Fault] = []
    index = _cell_indices(keys, file, fix, faults)
    columns = {
        metric: _column([getattr(r, attr, None) for r in recs], attr, keys, file, fix, faults)
        for attr, metric in _SCALARS.items()
    }
    for seconds, label in _DRIFTS.items():
        for prefix, out in (("baseline", "drift"), ("analog", "hwt_drift")):
            drifts = [getattr(r, f"{prefix}_drift_{seconds}", None) for r in recs]
            for attr, metric in (
                ("value", f"{out}_{label}"),
                ("uncertainty", f"{out}_{label}_std"),
            ):
                values = [getattr(d, attr, None) for d in drifts]
                columns[metric] = _column(values, attr, keys, file, fix, faults)
    if faults:
        raise FormatError(min(faults)[2])
    vectors: dict[str, FloatArray] = {}
    for metric in METRICS:
        vectors[metric] = np.full(NB201.size, np.nan)
        vectors[metric][index] = columns[metric]
    return vectors


def _check_ranges(vectors: dict[str, FloatArray], file: Path, fix: str) -> None:
    """Refuse in one line a value outside its metric's range (the importers' one rule,
    :func:`~nb201_flat.conventions.metric_range`): the package stores percentages, so an
    accuracy (after drift too) of 250 or -5 is a damaged file, and so is a ``_std`` spread of
    -5 (a spread is never negative)."""
    for metric, vec in vectors.items():
        bad = outside_range(metric, vec)  # NaN (a cell without a record) is in range
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise FormatError(
                f"{file}: architecture {i}, {MetricKey('cifar10', 'ori-test', 200, metric)}: "
                f"{vec[i]} {outside_range_why(metric)}; {fix}"
            )


def read_analognas(path: str | os.PathLike[str] | None = None) -> Table:
    """Read AnalogNAS-Bench into a :class:`~nb201_flat.table.Table` over :data:`NB201`.

    Parameters
    ----------
    path
        A ``data.anb`` file; default: the one inside the installed ``analog-nasbench``.
    """
    file = Path(path) if path is not None else data_file()
    check_source_file(file)  # a FIFO was called missing
    raw = file.read_bytes()
    if path is not None and not raw.startswith(_PICKLE):  # a CSV, a gzip: no damage to repair
        raise FormatError(
            f"{file} is not an AnalogNAS-Bench data.anb file (a pickle; this one starts with "
            f"{shown(raw[:8])}); import it with its own ",
            Param("format"),
            ", or without one to detect it",
        )
    digest = hashlib.sha256(raw).hexdigest()
    published = digest == PUBLISHED_SHA256
    if path is None and not published:
        raise FormatError(
            f"{file} is not analog-nasbench 0.1.3's data.anb (sha256 {digest[:12]}..., "
            f"published {PUBLISHED_SHA256[:12]}...): the installed package is damaged or of "
            f"another version; {_REINSTALL}"
        )
    own_copy = _package_copy(file, path)
    # a damaged file's repair: reinstalling the package mends its own copy only
    fix = _REINSTALL if own_copy else _REPLACE
    try:
        records = safe_load(
            io.BytesIO(raw),
            substitutes=_RECORD_CLASSES,
            source=str(file),
            opt_in="is this really data.anb from analog-nasbench 0.1.3?",
        )
    except FormatError:
        raise
    except Nb201FlatError as exc:  # a damaged or foreign file
        raise FormatError(
            f"{file} is not a readable AnalogNAS-Bench data file ({exc.__class__.__name__}: "
            f"{exc}); {fix}"
        ) from None
    if not isinstance(records, dict) or not records:
        raise FormatError(f"{file} does not hold AnalogNAS-Bench records")
    vectors = _record_vectors(records, file, fix)
    _check_ranges(vectors, file, fix)
    data: dict[tuple[MetricKey, int | None], FloatArray] = {
        (MetricKey("cifar10", "ori-test", 200, n), None): v for n, v in vectors.items()
    }
    meta = {
        "file": str(file),
        SOURCE_SHA256: digest,  # the bytes parsed, read once
        "note": "AnalogNAS-Bench's own CIFAR-10 training of the NB201 cells; not NB201 numbers",
        "archs_in_file": len(records),
    }
    if own_copy:  # the installed package's version says nothing of another file
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            meta["package_version"] = importlib.metadata.version(PACKAGE)
    source = PUBLISHED_SOURCE
    if not published:  # a copy by path is the user's to vouch for, not 0.1.3's numbers
        logger.warning(
            "%s is not analog-nasbench 0.1.3's published data.anb (sha256 %s..., published "
            "%s...): its numbers are read as the file holds them, and the table is labelled "
            "as this file, not as the published data",
            file,
            digest[:12],
            PUBLISHED_SHA256[:12],
        )
        source = f"{COPY_SOURCE}{file.name} (not analog-nasbench 0.1.3's data)"
    return Table(NB201, data, source=source, meta=meta)
