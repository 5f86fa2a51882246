"""A file in the official NAS-Bench-201 v1_0 layout, built from the real tidy data.

The official ``NAS-Bench-201-v1_0-e61699.pth`` cannot be downloaded here, so the baseline API
reads a file with the same layout and the same per-architecture volume of Python objects,
written by the package's *own* classes (``nas_201_api.api_utils.ArchResults`` and
``ResultsCount``) and saved with ``torch.save`` in the legacy (non-zip) serialisation that
torch 1.4, current when v1_0 was released, wrote::

    {"meta_archs": [15,625 strings], "total_archs": 15625,
     "arch2infos": {index: {"full": ArchResults.state_dict(), "less": ...}},
     "evaluated_indexes": [index, ...]}

What is real and what is placeholder:

- ``full`` (200 epochs) has every dataset; one ``ResultsCount`` per stored seed (the real seed
  count of each arch; ids 777/888/999 in order). The *final* epoch holds the real value: the
  per-seed one where the data has seeds (x-valid; ori-test of cifar100 and ImageNet16-120),
  else the real mean (so the API's seed average returns the real mean), else NaN.
- Epochs before the last hold a plausible placeholder curve rising (accuracy) or falling
  (loss) to the final value; the data has no learning curves. ``get_more_info(...,
  iepoch=None)`` reads only the final epoch, so every number the benchmark compares is real.
- Training times per epoch are the real total / epochs; evaluation times, FLOPs, top-5
  accuracies and latencies are placeholders (the data lacks them).
- ``less`` (12 epochs) covers ``cifar10-valid`` only, as in v1_0, one seed, real final x-valid.
- No trained weights (``net_state_dict`` is None), as in the released v1_0 benchmark file.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from benchmarks._common import checksum_problem, write_checksum
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

log = logging.getLogger(__name__)

FULL_EPOCHS = 200
LESS_EPOCHS = 12
SEED_IDS = (777, 888, 999)
#: Evaluation splits per dataset in the official files.
EVAL_SPLITS: dict[str, tuple[str, ...]] = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
# cifar10 has no per-seed or size data of its own: it was trained in the same runs as
# cifar10-valid, so it borrows that dataset's seed count and parameter count.
_SEED_SOURCE = {"cifar10": "cifar10-valid"}
_PROTOCOL = 2  # torch.save's default pickle protocol
FORMAT_VERSION = 1  # bump when the generated layout changes, to invalidate cached files


class _Values:
    """Vectors of a table by (dataset, split, epochs, metric, seed), None when absent."""

    def __init__(self, table: Table) -> None:
        self.data = table.data

    def get(
        self, dataset: str, split: str, epochs: int, metric: str, seed: int | None = None
    ) -> npt.NDArray[np.float64] | None:
        return self.data.get((MetricKey(dataset, split, epochs, metric), seed))

    def value(
        self, i: int, dataset: str, split: str, epochs: int, metric: str, slot: int | None
    ) -> float:
        """Per-seed value of slot ``slot`` if stored, else the mean, else NaN."""
        if slot is not None:
            vec = self.get(dataset, split, epochs, metric, slot)
            if vec is not None and not math.isnan(vec[i]):
                return float(vec[i])
        vec = self.get(dataset, split, epochs, metric)
        return float(vec[i]) if vec is not None else math.nan

    def slots(self, i: int, dataset: str) -> list[int]:
        """Stored seed slots of arch ``i`` on ``dataset`` (x-valid accuracy decides)."""
        ds = _SEED_SOURCE.get(dataset, dataset)
        found = []
        for s in range(len(SEED_IDS)):
            vec = self.get(ds, "x-valid", FULL_EPOCHS, "accuracy", s)
            if vec is not None and not math.isnan(vec[i]):
                found.append(s)
        return found or [0]


def _rising(final: float, epochs: int) -> list[float]:
    """Placeholder accuracy curve ending exactly at ``final``."""
    e = np.arange(1, epochs + 1, dtype=np.float64) / epochs
    shape = (1.0 - np.exp(-4.0 * e)) / (1.0 - np.exp(-4.0))
    curve = final * shape
    curve[-1] = final
    out: list[float] = curve.tolist()
    return out


def _falling(final: float, epochs: int, start: float = 4.0) -> list[float]:
    """Placeholder loss curve ending exactly at ``final``."""
    e = np.arange(1, epochs + 1, dtype=np.float64) / epochs
    shape = (1.0 - np.exp(-4.0 * e)) / (1.0 - np.exp(-4.0))
    curve = final + (start - final) * (1.0 - shape)
    curve[-1] = final
    out: list[float] = curve.tolist()
    return out


def _results_count(
    vals: _Values,
    i: int,
    arch: str,
    dataset: str,
    splits: Sequence[str],
    epochs: int,
    slot: int | None,
    seed: int,
) -> Any:
    from nas_201_api.api_utils import ResultsCount

    def v(split: str, metric: str) -> float:
        return vals.value(i, dataset, split, epochs, metric, slot)

    size_ds = _SEED_SOURCE.get(dataset, dataset)
    params = vals.value(i, size_ds, "model", FULL_EPOCHS, "params_mb", None)
    total_time = v("train", "time_s")
    epoch_time = total_time / epochs
    config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": CLASSES[dataset]}
    # fresh containers per run: the official file holds no shared objects between runs
    rc = ResultsCount(dataset, None, None, None, params, math.nan, config, seed, epochs, None)
    train_acc = _rising(v("train", "accuracy"), epochs)
    rc.update_train_info(
        dict(enumerate(train_acc)),
        dict(enumerate(min(100.0, a * 1.05) for a in train_acc)),
        dict(enumerate(_falling(v("train", "loss"), epochs))),
        dict(enumerate([epoch_time] * epochs)),
    )
    accs: dict[str, float] = {}
    losses: dict[str, float] = {}
    times: dict[str, float] = {}
    for split in splits:
        acc = _rising(v(split, "accuracy"), epochs)
        loss = _falling(v(split, "loss"), epochs)
        for e in range(epochs):
            key = f"{split}@{e}"
            accs[key] = acc[e]
            losses[key] = loss[e]
            times[key] = epoch_time * 0.1
    rc.update_eval(accs, losses, times)
    return rc


def arch_state(vals: _Values, i: int, arch: str) -> dict[str, Any]:
    """``{"full": ..., "less": ...}`` state dicts of one architecture, built by the API's classes."""
    from nas_201_api.api_utils import ArchResults

    full = ArchResults(i, arch)
    for dataset, splits in EVAL_SPLITS.items():
        for rank, slot in enumerate(vals.slots(i, dataset)):
            seed = SEED_IDS[rank]
            rc = _results_count(vals, i, arch, dataset, splits, FULL_EPOCHS, slot, seed)
            full.update(dataset, seed, rc)
    less = ArchResults(i, arch)
    rc = _results_count(
        vals, i, arch, "cifar10-valid", EVAL_SPLITS["cifar10-valid"], LESS_EPOCHS, None, 777
    )
    less.update("cifar10-valid", 777, rc)
    return {"full": full.state_dict(), "less": less.state_dict()}


def official_dict(table: Table, indices: Iterable[int]) -> dict[str, Any]:
    """The whole v1_0-layout dict for the architectures ``indices`` (meta_archs: all)."""
    if table.space != NB201:
        raise ValueError("the official layout exists only for the NB201 space")
    strings = NB201.strings()
    vals = _Values(table)
    chosen = sorted({int(i) for i in indices})
    return {
        "meta_archs": strings,
        "total_archs": NB201.size,
        "arch2infos": {i: arch_state(vals, i, strings[i]) for i in chosen},
        "evaluated_indexes": chosen,
    }


def _body(obj: object) -> bytes:
    """Pickle opcodes of ``obj`` (protocol 2) without the PROTO header and the STOP opcode."""
    data = pickle.dumps(obj, protocol=_PROTOCOL)
    return data[2:-1]


def write_official_files(table: Table, paths: Mapping[int, Path], *, seed: int = 0) -> None:
    """Write v1_0-layout files of the first ``n`` archs of one random order, for each ``n``.

    The files are what ``torch.save(obj, f, _use_new_zipfile_serialization=False)`` writes
    (torch's legacy format: magic number, protocol version, system info, the pickled object,
    the list of tensor storages), but the object is streamed one architecture at a time,
    so writing a file for half the space does not need the ~13 GB that holding it takes.
    Each architecture is pickled separately; the unpickler's memo is a table that a later
    PUT overwrites, and each architecture only reads back its own entries, so the stream
    loads exactly as the one-piece pickle. Smaller counts are prefixes of the same order, so
    one pass over the largest writes them all. Each file gets a sha256 sidecar
    (:func:`benchmarks._common.write_checksum`) of the bytes streamed into it.
    """
    import torch.serialization as ts

    if table.space != NB201:
        raise ValueError("the official layout exists only for the NB201 space")
    counts = sorted(paths)
    order = sample_order(seed)
    strings = NB201.strings()
    vals = _Values(table)
    header = b"".join(
        pickle.dumps(x, protocol=_PROTOCOL)
        for x in (
            ts.MAGIC_NUMBER,
            ts.PROTOCOL_VERSION,
            {
                "protocol_version": ts.PROTOCOL_VERSION,
                "little_endian": sys.byteorder == "little",
                "type_sizes": {"short": ts.SHORT_SIZE, "int": ts.INT_SIZE, "long": ts.LONG_SIZE},
            },
        )
    )
    files: dict[int, BinaryIO] = {}
    tmps: dict[int, Path] = {}
    sums = {n: hashlib.sha256() for n in counts}  # of every byte written, as it is written

    def write(n: int, data: bytes) -> None:
        files[n].write(data)
        sums[n].update(data)

    try:
        for n in counts:
            paths[n].parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{paths[n].name}.", dir=paths[n].parent)
            tmps[n] = Path(tmp)
            files[n] = os.fdopen(fd, "wb")
            write(n, header)
            write(n, b"\x80\x02}(")  # PROTO 2, EMPTY_DICT, MARK
            write(n, _body("meta_archs") + _body(strings))
            write(n, _body("total_archs") + _body(NB201.size))
            write(n, _body("arch2infos") + b"}(")
        for pos, i in enumerate(order[: counts[-1]].tolist()):
            chunk = _body(i) + _body(arch_state(vals, i, strings[i]))
            for n in counts:
                if pos < n:
                    write(n, chunk)
        for n in counts:
            write(n, b"u")  # SETITEMS: arch2infos
            write(n, _body("evaluated_indexes") + _body(sorted(order[:n].tolist())))
            write(n, b"u.")  # SETITEMS: the outer dict; STOP
            write(n, pickle.dumps([], protocol=_PROTOCOL))  # no tensor storages
            files[n].close()
            # the digest first: a kill between the two leaves a file whose sidecar does not
            # match (written again on next use), never one taken as checked without being so
            write_checksum(paths[n], sums[n].hexdigest())
            os.replace(tmps[n], paths[n])
    except BaseException:
        for n, f in files.items():
            f.close()
            tmps[n].unlink(missing_ok=True)
        raise


def sample_order(seed: int = 0) -> npt.NDArray[np.int64]:
    """A random order of all official indices; a sample of n archs is its first n."""
    out: npt.NDArray[np.int64] = np.random.default_rng(seed).permutation(NB201.size)
    return out


def table_fingerprint(table: Table) -> str:
    """Short digest of a table's contents (names cached files)."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for (key, seed), vec in sorted(table.data.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)):
        h.update(f"{key}/{seed}".encode())
        h.update(np.ascontiguousarray(vec).tobytes())
    return h.hexdigest()[:12]


def official_file_path(table: Table, n_archs: int, cache_dir: Path, *, seed: int = 0) -> Path:
    return cache_dir / f"nb201-v1_0-layout-{table_fingerprint(table)}-s{seed}-n{n_archs}.pth"


def cached_official_files(
    table: Table, counts: Iterable[int], cache_dir: Path, *, seed: int = 0
) -> dict[int, Path]:
    """v1_0-layout files of ``n`` sampled archs for each count, generating the missing ones.

    A cached file is checked against its sha256 sidecar before it is used; one that does not
    match (damaged, cut short, or cached before the sidecars) is generated again, with a
    warning, so a damaged cache never changes the benchmark's numbers.
    """
    paths = {int(n): official_file_path(table, int(n), cache_dir, seed=seed) for n in counts}
    missing = {}
    for n, path in paths.items():
        if not path.exists():
            missing[n] = path
        elif (problem := checksum_problem(path)) is not None:
            log.warning("cached official-layout file %s: %s; writing it again", path, problem)
            missing[n] = path
    if missing:
        write_official_files(table, missing, seed=seed)
    return paths
