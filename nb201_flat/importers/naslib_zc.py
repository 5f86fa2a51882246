"""Import NASLib's zero-cost proxy files (``zc_nasbench201.json``) as table metrics.

NASLib (automl/NASLib) publishes per-architecture zero-cost proxy scores for NAS-Bench-201 in
two JSON layouts, both read here:

- NAS-Bench-Suite-Zero (``zerocost`` branch; e.g. commit 1bdbd96, 2022-05-18), read by
  ``naslib.utils.get_zc_benchmark_api(search_space, dataset)`` as ``json.load(f)[dataset]``
  and then ``zc_api[str(arch_hash)][proxy]["score"]`` / ``["time"]``::

      {dataset: {"(o0, o1, o2, o3, o4, o5)": {"idx": ..., "arch": ...,
                  proxy: {"score": s, "time": t}, ..., "val_accuracy": a}}}

- the earlier flat form (e.g. commit 22280f7, 2022-05-14)::

      {"nasbench201": {dataset: {"(o0, ..., o5)": {proxy: s, ..., "val_accuracy": a}}}}

The key is NASLib's ``op_indices`` tuple: its own op order (skip_connect, none, nor_conv_3x3,
nor_conv_1x1, avg_pool_3x3) and edge order ((0,1), (0,2), (0,3), (1,2), (1,3), (2,3)),
converted by name (:func:`nb201_flat.importers.naslib.from_naslib`). ``idx`` is NASLib's own
numbering, not the official index, and is ignored.

Rows of the tidy frame (datasets keep NASLib's names: ``cifar10``, ``cifar100``,
``ImageNet16-120``):

- every proxy (``synflow``, ``jacov``, ``snip``, ``grasp``, ``fisher``, ``grad_norm``,
  ``l2_norm``, ``plain``, ``nwot``, ``epe_nas``, ...) as split ``zc``, epochs 0, metric = its
  name; its computation time (Suite-Zero form) as metric ``<proxy>_time_s``;
- ``flops`` and ``params`` as split ``model``, epochs 0, metrics ``flops_m_naslib`` /
  ``params_mb``. NASLib's params equal NB201's; its FLOPs count pooling, batch norm and ReLU
  too (above NB201's on every cell of NASLib's file, by up to 7.04 M or 68 %), so they keep a
  name of their own, apart from NB201's ``flops_m`` / ``flops_m_analytic`` (``get_model_infos``);
- ``val_accuracy`` (NASLib's one-seed validation accuracy; it matches no NATS mean exactly)
  as split ``naslib-valid``, epochs 200, metric ``accuracy``.

NASLib writes ``-1e8`` (and maps infinities to ``±1e9``) where a proxy failed; those entries
are left out (unmeasured, NaN in the table) and counted in a warning, never kept as scores.
The same values in ``val_accuracy``, ``flops`` or ``params`` (measurements, not proxies) mean a
damaged file and are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from nb201_flat.conventions import outside_range, outside_range_why
from nb201_flat.errors import (
    FormatError,
    InvalidArchError,
    TableFileError,
    shown,
    too_many_digits,
)
from nb201_flat.importers import check_source_file
from nb201_flat.importers.naslib import from_naslib
from nb201_flat.importers.tidy import warn_if_fractions
from nb201_flat.space import NB201, Space
from nb201_flat.storage import SOURCE_SHA256
from nb201_flat.table import TIDY_COLUMNS, Table, derived_meta, key_name_fault

__all__ = ["ZC_SPLIT", "looks_like_naslib_zc", "merge_tables", "read_naslib_zc"]

log = logging.getLogger(__name__)

ZC_SPLIT: Final = "zc"
VALID_SPLIT: Final = "naslib-valid"
_FAILED: Final = (-1e8, -1e9, 1e9)
_NOT_PROXIES: Final = frozenset({"idx", "arch", "val_accuracy", "flops", "params"})
# NASLib's FLOPs are another counter's (pooling, BN and ReLU counted): not NB201's flops_m
_COSTS: Final = {"flops": "flops_m_naslib", "params": "params_mb"}
#: the datasets NASLib scores NB201 on, by its names (a typo such as cifar1000 was imported as
#: a dataset of its own, which no query finds)
NASLIB_DATASETS: Final = ("cifar10", "cifar100", "ImageNet16-120")


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' object hook: a key written twice in one object is refused (json keeps
    the last silently, so one of two values for an architecture was dropped unseen)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def looks_like_naslib_zc(path: str | os.PathLike[str]) -> bool:
    """True for a JSON file whose first KiB looks like a NASLib zero-cost file."""
    p = Path(path)
    if not p.is_file() or p.suffix != ".json":
        return False
    try:
        with p.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'"(' in head and (b"synflow" in head or b"jacov" in head or b"nasbench201" in head)


def _datasets(data: object, source: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise FormatError(f"{source}: the top level is not a JSON object; not a NASLib zc file")
    if "nasbench201" in data and isinstance(data["nasbench201"], Mapping):
        if len(data) > 1:  # the earlier form holds the one key; what is beside it was dropped
            other = next(str(k) for k in data if k != "nasbench201")
            raise FormatError(
                f"{source}: {shown(other, 40)} sits beside 'nasbench201' at the top level; a "
                "NASLib zc file holds either {'nasbench201': {dataset: ...}} or {dataset: ...}: "
                "keep one form"
            )
        data = data["nasbench201"]
    assert isinstance(data, Mapping)
    if not data or not all(isinstance(v, Mapping) for v in data.values()):
        raise FormatError(
            f"{source}: expected {{dataset: {{'(op indices)': {{proxy: score}}}}}}; "
            "is this NASLib's zc_nasbench201.json?"
        )
    unknown = [str(d) for d in data if d not in NASLIB_DATASETS]
    if unknown:
        raise FormatError(
            f"{source}: unknown dataset {unknown[0]!r:.60}; NASLib's NAS-Bench-201 datasets are "
            f"{', '.join(NASLIB_DATASETS)}; fix the file"
        )
    return data


# NASLib writes str(tuple): "(4, 0, 3, 1, 4, 3)". ASCII digits only: int() also read '0_4'
# and non-ASCII digits ('٤') as 4, another cell's key
# (in a pair of brackets, or none)
_KEY = re.compile(r"\s*([0-9]+(?:\s*,\s*[0-9]+)*)\s*,?\s*", re.ASCII)


def _parse_key(key: str, space: Space, source: str) -> int:
    what = f"{source}: {shown(key, 60)} is not a NASLib NAS-Bench-201 op-index tuple"
    text = key.strip()
    if text[:1] + text[-1:] in ("()", "[]"):
        text = text[1:-1]
    found = _KEY.fullmatch(text)  # a lone or unpaired bracket ('(4, …]', '(4, …') is no key
    if found is None:
        raise FormatError(
            f"{what} (comma-separated op indices such as '(4, 0, 3, 1, 4, 3)'); fix the file"
        )
    try:
        return from_naslib([int(x) for x in found[1].split(",")], space).index
    except InvalidArchError as exc:
        raise FormatError(f"{what} ({exc}); fix the file") from None


def _number(value: object) -> float | None:
    """``value`` as a float, or None when it is no JSON number (or too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range
        return None


def _score(value: object, where: str) -> tuple[float, float | None]:
    """``(score, time)`` of one entry in either layout; :class:`FormatError` for an entry that
    holds no number (it was skipped without a word) or a time that is no duration."""
    if isinstance(value, Mapping):
        score, time = value.get("score"), value.get("time")
    else:
        score, time = value, None
    s = _number(score)
    if s is None:
        raise FormatError(
            f"{where}: score {score!r:.40} is not a number (within float range); fix the file"
        )
    t = None if time is None else _number(time)
    if time is not None and (t is None or not math.isfinite(t) or t < 0):
        raise FormatError(f"{where}: time {time!r:.40} is not a duration in seconds; fix the file")
    return s, t


def read_naslib_zc(path: str | os.PathLike[str], *, space: Space = NB201) -> pd.DataFrame:
    """Read a NASLib zero-cost JSON file into the tidy long frame (see the module docstring).

    Raises
    ------
    TableFileError
        Missing or unreadable file.
    FormatError
        Not a NASLib NAS-Bench-201 zero-cost file.
    """
    p = Path(path)
    source = str(p)
    check_source_file(p)  # a FIFO's read_bytes waited forever
    try:
        raw = p.read_bytes()  # hashed below: the bytes parsed, read once
        data = json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise FormatError(
            f"{source}: the key {str(exc.args[0])!r:.80} appears twice in one JSON object (JSON "
            "readers keep the last value silently); keep one and re-import"
        ) from None
    except FileNotFoundError:
        raise TableFileError(f"no such file: {p}") from None
    except json.JSONDecodeError as exc:
        raise TableFileError(
            f"{p} is not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); is it "
            "truncated? Re-download it"
        ) from None
    # before ValueError, of which UnicodeDecodeError is one
    except (OSError, UnicodeDecodeError) as exc:
        raise TableFileError(
            f"{p} could not be read as JSON text ({exc.__class__.__name__}: {exc}); pass "
            "NASLib's zc_nasbench201.json"
        ) from None
    except ValueError:  # json's own: an integer over Python's digit limit for int()
        raise FormatError(
            f"{p} holds an integer of {too_many_digits()}, which no score, time or index "
            "is; pass NASLib's zc_nasbench201.json"
        ) from None
    except RecursionError:
        raise FormatError(
            f"{p} nests JSON arrays or objects thousands deep; a NASLib zc file is 3 levels "
            "deep: is this the zc file?"
        ) from None
    strings = space.strings()
    rows: list[tuple[int, str, str, str, int, str, float]] = []
    failed = 0
    names_seen: set[str] = set()
    for dataset, archs in _datasets(data, source).items():
        seen: dict[int, str] = {}  # index -> the key that named it
        for key, entry in archs.items():
            if not isinstance(entry, Mapping):
                raise FormatError(f"{source}: entry {dataset}/{key} is not an object")
            i = _parse_key(str(key), space, source)
            # '(4,3,3,3,2,3)' and '(4, 3, 3, 3, 2, 3)' are one cell: two values for it
            if (other := seen.setdefault(i, str(key))) != str(key):
                raise FormatError(
                    f"{source}: {dataset} keys {other!r} and {str(key)!r} are the same cell "
                    f"(index {i}) written twice; keep one and re-import"
                )
            if "arch" in entry:  # Suite-Zero repeats the key: one that differs names another cell
                named = entry["arch"]
                if not isinstance(named, str) or (
                    named != key and _parse_key(named, space, source) != i
                ):
                    raise FormatError(
                        f"{source}: entry {dataset}/{key} has arch {shown(named, 40)}, another "
                        "cell than its key; fix or re-download the file"
                    )
            for name, value in entry.items():
                if name in ("idx", "arch"):
                    continue
                if name not in names_seen:  # by its JSON key, not a row of the frame
                    if (why := key_name_fault(name)) is not None:
                        raise FormatError(
                            f"{source}: {dataset}/{key}: proxy name {name!r} {why}; fix the file"
                        )
                    names_seen.add(name)
                score, time = _score(value, f"{source}: {dataset}/{key}/{name}")
                if time is not None and name not in _NOT_PROXIES:
                    # the time was spent even when the score failed: it is kept
                    rows.append((i, strings[i], dataset, ZC_SPLIT, 0, f"{name}_time_s", time))
                if not math.isfinite(score) or score in _FAILED:
                    if name in _NOT_PROXIES:  # a measurement, not a proxy that may fail
                        raise FormatError(
                            f"{source}: {dataset}/{key}/{name} is {score:g}, not a measured "
                            "value (NASLib's failed-proxy marks apply to proxies only); fix or "
                            "re-download the file"
                        )
                    failed += 1
                    continue
                if name == "val_accuracy":
                    row = (i, strings[i], dataset, VALID_SPLIT, 200, "accuracy", score)
                elif name in _COSTS:
                    row = (i, strings[i], dataset, "model", 0, _COSTS[name], score)
                else:
                    row = (i, strings[i], dataset, ZC_SPLIT, 0, str(name), score)
                if outside_range(row[5], score):  # by its JSON key, not a row of the frame
                    raise FormatError(
                        f"{source}: {dataset}/{key}/{name}: {score!r} {outside_range_why(row[5])}"
                        "; fix or re-download the file"
                    )
                rows.append(row)
    if not rows:
        raise FormatError(f"{source} holds no proxy scores; is this NASLib's zc file?")
    if failed:
        log.warning(
            "%s: %d failed proxy values (-1e8 / ±1e9 / non-finite) left out", source, failed
        )
    arr = list(zip(*rows, strict=True))
    df = pd.DataFrame(
        {
            "index": np.asarray(arr[0], dtype=np.int64),
            "arch": list(arr[1]),
            "dataset": list(arr[2]),
            "split": list(arr[3]),
            "epochs": np.asarray(arr[4], dtype=np.int64),
            "seed": pd.array([pd.NA] * len(rows), dtype="Int64"),
            "metric": list(arr[5]),
            "value": np.asarray(arr[6], dtype=np.float64),
        },
        columns=list(TIDY_COLUMNS),
    )
    warn_if_fractions(source, df)  # val_accuracy is in percent, as the tidy files' are
    df.attrs[SOURCE_SHA256] = hashlib.sha256(raw).hexdigest()
    return df


def merge_tables(base: Table, extra: Table) -> Table:
    """``base`` with every vector of ``extra`` added (same space; a key in both is an error).

    Both tables must name one space key (``meta["space_key"]``: the network size and training
    of a retraining table's numbers; none for a benchmark's own): the merged table keeps the
    base's meta, whose key its analytic costs, time budgets and tidy file read for every
    vector. Its ``import_command`` is dropped (:func:`~nb201_flat.table.derived_meta`): no
    import of one file rebuilds a merge. ``meta["merged_meta"]`` keeps ``extra``'s file and
    checksum; its curves are kept where ``base`` has none. An ``extra`` that records stand-ins
    is refused (pass it as the base): its copies would be served as measurements without
    their note.

    Examples
    --------
    >>> import numpy as np
    >>> from nb201_flat.table import MetricKey
    >>> s = Space(("a", "b"), 2)
    >>> a = Table(s, {(MetricKey("d", "x-valid", 200), None): np.ones(2)})
    >>> b = Table(s, {(MetricKey("d", "zc", 0, "synflow"), None): np.zeros(2)})
    >>> [str(k) for k in merge_tables(a, b).keys()]
    ['d/x-valid@200ep:accuracy', 'd/zc@0ep:synflow']
    """
    if extra.space != base.space:
        raise FormatError("cannot merge tables over different spaces")
    # the base's key is served for every vector: the other's numbers under a wrong network
    if base.meta.get("space_key") != extra.meta.get("space_key"):
        raise FormatError(
            f"cannot merge {_keyed(base)} with {_keyed(extra)}: a table holds one space key "
            "(the network size and training its costs and time budgets read); merge tables "
            "of one key"
        )
    both = sorted({k for k, _ in base.data} & {k for k, _ in extra.data})
    if both:
        raise FormatError(
            f"both tables hold {', '.join(map(str, both[:3]))}; drop one before merging"
        )
    from nb201_flat.table import records_stand_ins

    if records_stand_ins(extra):  # its cells' copies would read as measurements, unnoted
        raise FormatError(
            f"{extra.source} records stand-ins (copies of isomorphic cells, or constant-output "
            "cells) that the merged table would not carry; pass it as the base, the other "
            "table as extra"
        )
    if extra.curves is not None and base.curves is not None:  # one table holds one set
        raise FormatError(
            "both tables hold learning curves, which one table cannot both carry; merge a copy "
            "of one without them (Table(t.space, t.data, source=t.source, meta=t.meta))"
        )
    data = dict(base.data)
    data.update(extra.data)
    # extra's file and checksum stay with its vectors (its space key is the base's, checked)
    kept = ("file", SOURCE_SHA256)
    return Table(
        base.space,
        data,
        source=f"{base.source} + {extra.source}",
        meta={
            **derived_meta(base.meta),
            "merged": extra.source,
            "merged_meta": {k: extra.meta[k] for k in kept if k in extra.meta},
        },
        curves=base.curves if base.curves is not None else extra.curves,
    )


def _keyed(table: Table) -> str:
    """``table`` by its source and space key, as a refused merge names it."""
    key = table.meta.get("space_key")
    named = "no space key: NB201's own network" if key is None else f"space key {key!r}"
    return f"{table.source!r} ({named})"
