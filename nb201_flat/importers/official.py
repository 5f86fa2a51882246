"""Import the official NAS-Bench-201 files (``NAS-Bench-201-v1_0-e61699.pth``, ``-v1_1-...``).

:func:`read_nb201_pth` turns such a file into the tidy long frame (columns ``index, arch,
dataset, split, epochs, seed, metric, value``) that ``Table.from_tidy`` reads, with the numbers
the official API's ``get_more_info(index, dataset, hp=..., is_random=False)`` (the mean rows)
and ``is_random=<seed>`` (the per-seed rows) return, final epoch only.

The file layout (``exps/NAS-Bench-201/statistics.py`` in D-X-Y/AutoDL-Projects wrote it,
``nas_201_api/api_201.py`` reads it) is one pickled dict::

    {"meta_archs": [arch string, ...],         # position = official index
     "total_archs": 15625,
     "arch2infos": {index: {"full": ArchResults.state_dict(),    # 200 epochs ("hp='200'")
                            "less": ArchResults.state_dict()}},  # 12 epochs ("hp='12'")
     "evaluated_indexes": [index, ...]}

An ``ArchResults`` state dict holds ``dataset_seed`` ``{dataset: [seed, ...]}`` and
``all_results`` ``{(dataset, seed): ResultsCount.__dict__}``; a ``ResultsCount`` holds
``epochs``, per-epoch ``train_acc1es``/``train_losses``/``train_times`` (indexable by epoch),
``eval_acc1es``/``eval_losses`` keyed ``"<split>@<epoch>"``, ``params`` (MB) and ``flop`` (M).
Everything is plain containers and numbers (the trained weights, when present, are torch
tensors, which are skipped), so a restricted unpickler reads it; see
:mod:`nb201_flat.importers.safe_pickle`.

Semantics mirrored from the official API (``ArchResults.get_metrics``, ``ResultsCount.get_train``
and ``get_eval`` with ``iepoch=None``):

- the value of a run is the one at its last epoch (``epochs - 1``);
- ``time_s`` (split ``train``) is the sum of the per-epoch training times over the whole
  schedule (``train-all-time``); runs without ``train_times`` (part of v1_0) have none;
- the mean row (``seed`` NA) is the plain mean over the stored seeds, present only when every
  seed has the value (the API fails otherwise); ``seed`` ``k`` is the k-th stored seed id in
  ascending order (777 < 888 < 999);
- ``params_mb``/``flops_m``/``latency_s`` (split ``model``) are ``get_cost_info``'s
  ``params``/``flops``/``latency``; a run's latency is the mean of its stored list, and the
  mean row averages the runs that have one (the APIs skip the others).

Splits per dataset (as NB201 evaluates them): ``cifar10-valid``: train, x-valid, ori-test;
``cifar10``: train, ori-test; ``cifar100`` and ``ImageNet16-120``: train, x-valid, x-test,
ori-test. In v1_0 the 12-epoch (``less``) results cover ``cifar10-valid`` only.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TypeVar

import numpy as np
import pandas as pd

from nb201_flat import conventions
from nb201_flat.errors import (
    FormatError,
    InvalidArchError,
    MissingDependencyError,
    Nb201FlatError,
    Param,
    TableFileError,
    check_flag,
    shown,
    whole_number,
)
from nb201_flat.importers import check_source_file
from nb201_flat.importers.curves import CurveCollector, stored_number
from nb201_flat.importers.safe_pickle import ReadableBinary, safe_load
from nb201_flat.importers.tidy import check_finite_rows, check_value_ranges
from nb201_flat.space import NB201, check_arch_index
from nb201_flat.storage import SOURCE_SHA256
from nb201_flat.table import TIDY_COLUMNS, _same_but_spelling

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DATASETS",
    "EVAL_SPLITS",
    "TIDY_COLUMNS",
    "TidyRows",
    "looks_like_nb201_pth",
    "read_nb201_pth",
]

logger = logging.getLogger(__name__)

#: NB201 dataset names, in output order.
DATASETS: Final = conventions.DATASETS

#: Evaluation splits each dataset has (``train`` comes from the training curves).
EVAL_SPLITS: Final[Mapping[str, tuple[str, ...]]] = {
    conventions.CIFAR10_VALID: ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}

#: The (split, metric) of the measured inference latency (seconds, ``get_latency``).
LATENCY: Final = ("model", "latency_s")

#: The hp keys of the NB201 .pth and their schedules (``api_201.py``: less -> '12', full -> '200').
NB201_HP_EPOCHS: Final[Mapping[str, int]] = {"full": 200, "less": 12}

# An NB201 cell string: 3 nodes, inputs ~0 | ~0 ~1 | ~0 ~1 ~2. A NATS size-space file
# ("64:32:...") or another benchmark fails this, which tells the user what they passed.
_ARCH_RE: Final = re.compile(
    r"\|\w+~0\|\+\|\w+~0\|\w+~1\|\+\|\w+~0\|\w+~1\|\w+~2\|",
)

# torch.save's legacy (pre-1.6, non-zip) format opens with pickle(protocol 2) of this long.
_LEGACY_MAGIC: Final = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_LEGACY_PROTOCOL_VERSION: Final = 1001
_ZIP_MAGIC: Final = b"PK\x03\x04"
# The top-level dict is pickled in insertion order and "meta_archs" is its first key, so it
# shows within the first bytes of the object pickle.
_SNIFF_BYTES: Final = 4096

_T = TypeVar("_T")


# -- the tidy frame shared with the NATS importer ----------------------------------------------
class TidyRows:
    """Collects tidy rows from ``ArchResults`` state dicts (NB201 and NATS share the layout).

    Parameters
    ----------
    source
        How messages name the file.
    nats_cost_fix
        Mirror NATS-Bench's ``get_compute_costs`` legacy fix: when the stored ``params`` (or
        ``flop``) of the seeds disagree (to 5 decimals), the mean row takes seed 888's value.
        NAS-Bench-201's API takes the plain mean.
    curves
        Also collect every run's per-epoch curves into this collector
        (:mod:`nb201_flat.importers.curves`).
    """

    def __init__(
        self, *, source: str, nats_cost_fix: bool = False, curves: CurveCollector | None = None
    ) -> None:
        self.source = source
        self.nats_cost_fix = nats_cost_fix
        self.curves = curves
        self._index: list[int] = []
        self._arch: list[str] = []
        self._dataset: list[str] = []
        self._split: list[str] = []
        self._epochs: list[int] = []
        self._seed: list[int | None] = []
        self._metric: list[str] = []
        self._value: list[float] = []

    def __len__(self) -> int:
        return len(self._value)

    def add_arch(self, index: int, arch: str, hp_map: object, hp_epochs: Mapping[str, int]) -> None:
        """Add every schedule of one architecture: ``hp_map`` is ``{hp key: ArchResults state}``;
        a key that is none of ``hp_epochs``'s, or a run on a dataset NB201 lacks, is refused."""
        hp_map = _mapping(hp_map, f"the results of architecture {index}", self.source)
        for key in hp_map:
            # every release holds only its format's keys (NB201: full, less; NATS tss: 200,
            # 12): another one's results were dropped, and the cell called never measured
            if key not in hp_epochs:
                known = " and ".join(
                    f"{hp!r} ({epochs} epochs)" for hp, epochs in hp_epochs.items()
                )
                raise FormatError(
                    f"{self.source}: architecture {index} files results under the unknown "
                    f"schedule key {shown(key)}{_schedule_hint(key, hp_epochs)}; this format's "
                    f"keys are {known}; {_DAMAGED}"
                )
        for hp, epochs in hp_epochs.items():
            if hp in hp_map:
                self._add_results(index, arch, epochs, hp_map[hp])

    def _add_results(self, index: int, arch: str, epochs: int, state: object) -> None:
        where = f"architecture {index} ({epochs} epochs)"
        state = _mapping(state, where, self.source)
        stored_arch = state.get("arch_str")
        if isinstance(stored_arch, str) and stored_arch != arch:
            raise FormatError(
                f"{self.source}: {where} stores {stored_arch!r} but meta_archs says {arch!r}; "
                "the file is inconsistent, re-download it"
            )
        dataset_seed = _mapping(state.get("dataset_seed"), f"{where} dataset_seed", self.source)
        all_results = _mapping(state.get("all_results"), f"{where} all_results", self.source)
        for dataset in dataset_seed:
            # every release holds NB201's four (its statistics scripts name them): another
            # name's runs were dropped, and the cell called never measured there
            if dataset not in EVAL_SPLITS:
                spelt = (
                    _same_but_spelling(dataset, list(DATASETS)) if isinstance(dataset, str) else []
                )
                raise FormatError(
                    f"{self.source}: {where} holds runs on the unknown dataset {shown(dataset)}"
                    f"{f' (did you mean {spelt[0]!r}?)' if spelt else ''}; NB201's datasets are "
                    f"{', '.join(DATASETS)}; {_DAMAGED}"
                )
        for dataset in DATASETS:
            if dataset not in dataset_seed:
                continue
            seeds = _seed_list(dataset_seed[dataset], f"{where} on {dataset}", self.source)
            try:
                runs = [all_results[(dataset, seed)] for seed in seeds]
            except KeyError as exc:
                raise FormatError(
                    f"{self.source}: {where} lists seeds {shown(dataset_seed[dataset])} on "
                    f"{dataset} but lacks the results of {shown(exc.args[0])}; {_DAMAGED}"
                ) from None
            if len(set(seeds)) != len(seeds):  # one run would count twice in the mean
                raise FormatError(
                    f"{self.source}: {where} lists seeds {shown(dataset_seed[dataset])} on "
                    f"{dataset}, a seed twice; {_DAMAGED}"
                )
            per_run = [
                _run_values(
                    run, dataset, seed, epochs, f"{where} {dataset} seed {seed}", self.source
                )
                for run, seed in zip(runs, seeds, strict=True)
            ]
            if self.curves is not None:
                self.curves.add_runs(index, dataset, epochs, EVAL_SPLITS[dataset], runs)
            keys: dict[tuple[str, str], None] = {}
            for values in per_run:
                keys.update(dict.fromkeys(values))
            for key in keys:
                column = [values.get(key) for values in per_run]
                present = [v for v in column if v is not None]
                # the APIs' latency mean skips runs without one (get_compute_costs)
                if len(present) == len(column) or (key == LATENCY and present):
                    mean = self._mean(present, seeds, key[0] == "model" and key != LATENCY)
                else:
                    # the APIs serve no mean where a run lacks the value. A NaN row says so:
                    # a key without any mean row would be averaged over the seeds present
                    # (Table.vector's reading of a file that stores no means)
                    mean = math.nan
                self._append(index, arch, dataset, key, epochs, None, mean)
                for pos, value in enumerate(column):
                    if value is not None:
                        self._append(index, arch, dataset, key, epochs, pos, value)

    def _mean(self, values: list[float], seeds: list[Any], is_cost: bool) -> float:
        # sum/len (not fsum) reproduces the APIs' np.mean / sum()/len() to the last bit.
        if (
            is_cost
            and self.nats_cost_fix
            and 888 in seeds
            and len({f"{v:.5f}" for v in values}) > 1
        ):
            return values[seeds.index(888)]
        return sum(values) / len(values)

    def _append(
        self,
        index: int,
        arch: str,
        dataset: str,
        key: tuple[str, str],
        epochs: int,
        seed: int | None,
        value: float,
    ) -> None:
        self._index.append(index)
        self._arch.append(arch)
        self._dataset.append(dataset)
        self._split.append(key[0])
        self._epochs.append(epochs)
        self._seed.append(seed)
        self._metric.append(key[1])
        self._value.append(value)

    def frame(self) -> pd.DataFrame:
        """The rows as a tidy DataFrame with the contract's dtypes; an infinite value or one
        outside its metric's range (an accuracy outside 0..100, a negative time, loss or size)
        is refused naming the file, the architecture, the key and the seed position."""
        df = pd.DataFrame(
            {
                "index": np.asarray(self._index, dtype=np.int64),
                "arch": self._arch,
                "dataset": self._dataset,
                "split": self._split,
                "epochs": np.asarray(self._epochs, dtype=np.int64),
                "seed": pd.array(self._seed, dtype="Int64"),
                "metric": self._metric,
                "value": np.asarray(self._value, dtype=np.float64),
            },
            columns=list(TIDY_COLUMNS),
        )
        check_finite_rows(df, self.source, seed_word="seed position")
        # a binary pickle is not fixed by hand: damaged, as the run checks say
        check_value_ranges(df, self.source, seed_word="seed position", fix=_DAMAGED)
        return df


#: the fix of a refusal of a value the official file holds (a binary pickle: re-download it)
_DAMAGED = "the file is damaged, re-download it"


def _schedule_hint(key: object, hp_epochs: Mapping[str, int]) -> str:
    """`` (did you mean 'full'?)`` for a schedule key that names one of ``hp_epochs``'s
    schedules otherwise: by its epochs (NATS's ``'200'`` for NB201's ``'full'``, an int for
    the text), by NB201's name (``'full'`` in a NATS file) or in another case; else ``""``."""
    text = str(key)
    for hp, epochs in hp_epochs.items():
        if text == str(epochs) or NB201_HP_EPOCHS.get(text) == epochs:
            return f" (did you mean {hp!r}, the {epochs}-epoch schedule?)"
    spelt = _same_but_spelling(text, list(hp_epochs))
    return f" (did you mean {spelt[0]!r}?)" if spelt else ""


def _seed_list(listed: object, where: str, source: str) -> list[int]:
    """The seeds a ``dataset_seed`` entry lists, in ascending order (the APIs' seed order):
    integers, as every release stores them. Text among them failed in ``sorted`` and was
    reported as missing results."""
    if not isinstance(listed, list | tuple | set | frozenset):
        raise FormatError(
            f"{source}: {where} lists seeds {shown(listed, 40)}, not a list of seeds; {_DAMAGED}"
        )
    for seed in listed:
        if whole_number(seed) is None:
            kind = "text" if isinstance(seed, str) else f"a {type(seed).__name__}"
            raise FormatError(
                f"{source}: {where} lists seeds {shown(listed)}: seed {shown(seed, 30)} is "
                f"{kind}, not an integer; {_DAMAGED}"
            )
    return sorted(listed)


def _check_run(
    run: Mapping[Any, Any], dataset: str, seed: object, epochs: int, where: str, source: str
) -> None:
    """Refuse a run filed under ``(dataset, seed)`` of a schedule of ``epochs`` whose own record
    says otherwise: its final value would be another run's, or another epoch's, under this key."""
    ran = run.get("epochs")
    if whole_number(ran) != epochs:
        raise FormatError(
            f"{source}: {where} ran {shown(ran, 30)} epochs, not the {epochs} of its schedule; "
            f"{_DAMAGED}"
        )
    name = run.get("name", dataset)
    if name != dataset:
        raise FormatError(f"{source}: {where} is a run on {shown(name, 40)}; {_DAMAGED}")
    # the official files store it as the text of their checkpoint's name: "0777" for 777
    own = run.get("seed", seed)
    if isinstance(own, str):
        number = int(own) if own.isascii() and own.isdigit() else None
    else:
        number = whole_number(own)
    if number != seed:
        raise FormatError(f"{source}: {where} is the run of seed {shown(own, 30)}; {_DAMAGED}")


def _run_values(
    run: object, dataset: str, seed: object, epochs: int, where: str, source: str
) -> dict[tuple[str, str], float]:
    """Final-epoch numbers of one ``ResultsCount`` state of a schedule of ``epochs``, keyed
    ``(split, metric)``."""
    run = _mapping(run, where, source)
    _check_run(run, dataset, seed, epochs, where, source)
    try:
        last = epochs - 1
        out: dict[tuple[str, str], float] = {
            ("train", "accuracy"): stored_number(run["train_acc1es"][last]),
            ("train", "loss"): stored_number(run["train_losses"][last]),
        }
        times = run.get("train_times")
        if times is not None:
            # get_train's all_time: the sum over epochs 0..last, not per-epoch x epochs (the
            # same number for the pseudo times of v1_1/NATS, not for measured ones).
            out["train", "time_s"] = sum(stored_number(times[i]) for i in range(last + 1))
        accs = _mapping(run.get("eval_acc1es", {}), f"{where} eval_acc1es", source)
        losses = _mapping(run.get("eval_losses", {}), f"{where} eval_losses", source)
        for split in EVAL_SPLITS[dataset]:
            name = f"{split}@{last}"
            if name in accs:
                out[split, "accuracy"] = stored_number(accs[name])
            if name in losses:
                out[split, "loss"] = stored_number(losses[name])
        for attr, metric in (("params", "params_mb"), ("flop", "flops_m")):
            if run.get(attr) is not None:
                out["model", metric] = stored_number(run[attr])
        latency = run.get("latency")
        if latency:  # ResultsCount.get_latency: the mean of the stored list; <= 0: not measured
            value = sum(stored_number(x) for x in latency) / len(latency)
            if value > 0:
                out[LATENCY] = value
    except Nb201FlatError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise FormatError(
            f"{source}: {where} is not a NAS-Bench-201 result record "
            f"({exc.__class__.__name__}: {str(exc)[:80]}); is this the official file?"
        ) from None
    # every value is a row of the frame (per seed position, and in the mean), whose
    # check_value_ranges refuses one outside its metric's range by architecture and key
    return out


def _mapping(obj: object, what: str, source: str) -> Mapping[Any, Any]:
    if not isinstance(obj, Mapping):
        raise FormatError(
            f"{source}: expected a dict for {what}, found {type(obj).__name__}; "
            "is this the official file?"
        )
    return obj


def check_meta_archs(obj: object, source: str) -> list[str]:
    """Validate ``meta_archs`` (NB201 cell strings, position = official index)."""
    if not isinstance(obj, list | tuple) or not obj:
        raise FormatError(f"{source}: 'meta_archs' is not a non-empty list of strings")
    archs = list(obj)
    official = NB201.strings()
    if len(archs) > len(official):  # the cells past the space were refused as a frame's rows
        raise FormatError(
            f"{source}: 'meta_archs' lists {len(archs):,} cells, more than NAS-Bench-201's "
            f"{len(official):,}; fix or re-download the file"
        )
    for i, arch in enumerate(archs):
        if not isinstance(arch, str) or _ARCH_RE.fullmatch(arch) is None:
            raise FormatError(
                f"{source}: meta_archs[{i}] = {shown(arch, 60)} is not a NAS-Bench-201 cell "
                "string; only the topology space (NB201 / NATS tss) is supported"
            )
        # a position is the official index: two swapped entries gave each cell the other's
        # numbers, refused later as a frame's row ("fix the frame") naming no place in the file
        if arch != official[i]:
            try:
                cell = NB201.parse(arch).index
            except InvalidArchError as exc:  # an op NB201 lacks: by its place in the file
                raise FormatError(
                    f"{source}: meta_archs[{i}] = {arch!r} is no NAS-Bench-201 cell ({exc}); "
                    "fix or re-download the file"
                ) from None
            if cell != i:
                raise FormatError(
                    f"{source}: meta_archs[{i}] = {arch!r} is NB201's cell {cell}, not {i}: the "
                    "file's cells are not in the official index order; fix or re-download the file"
                )
    return archs


def check_index(key: object, n_archs: int, source: str) -> int:
    """An ``arch2infos`` key as an index into ``meta_archs`` (the space's index rule)."""
    if isinstance(key, str):  # every release keys by int: the index rule's words are for numbers
        raise FormatError(
            f"{source}: arch2infos key {shown(key)} is text, not an integer index into "
            f"meta_archs (0..{n_archs - 1}); {_DAMAGED}"
        )
    try:
        return check_arch_index(key, n_archs)
    except InvalidArchError as e:  # a file's fault, not the caller's: a FormatError naming it
        raise FormatError(f"{source}: arch2infos key {shown(key)} is not a cell: {e}") from None


def frame_from_benchmark(
    data: object,
    *,
    hp_epochs: Mapping[str, int],
    source: str,
    nats_cost_fix: bool = False,
    progress: bool = False,
    curves: CurveCollector | None = None,
) -> pd.DataFrame:
    """Tidy frame of a whole-benchmark dict (``meta_archs``, ``arch2infos``, ...)."""
    data = _mapping(data, "the file's top level", source)
    missing = [k for k in ("meta_archs", "arch2infos") if k not in data]
    if missing:
        raise FormatError(
            f"{source} lacks {' and '.join(map(repr, missing))}; it is not a NAS-Bench-201 / "
            "NATS-Bench benchmark file"
        )
    archs = check_meta_archs(data["meta_archs"], source)
    arch2infos = _mapping(data["arch2infos"], "arch2infos", source)
    indexes = sorted(check_index(k, len(archs), source) for k in arch2infos)
    rows = TidyRows(source=source, nats_cost_fix=nats_cost_fix, curves=curves)
    for index in iter_progress(indexes, progress, desc="architectures"):
        rows.add_arch(index, archs[index], arch2infos[index], hp_epochs)
    logger.info("%s: %d rows from %d architectures", source, len(rows), len(indexes))
    return rows.frame()


def iter_progress(
    items: Iterable[_T], progress: bool, *, desc: str, total: int | None = None
) -> Iterator[_T]:
    """``items``, with a tqdm bar when ``progress``."""
    if not progress:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total)


class _CountingRaw(io.RawIOBase):
    """Feeds a progress bar with the bytes read from ``raw`` (the load is the slow part).

    Used under an ``io.BufferedReader``, so the unpickler's many small reads stay in C and the
    bar is updated once per buffer fill.
    """

    def __init__(self, raw: ReadableBinary, update: Callable[[int], object]) -> None:
        super().__init__()
        self._raw = raw
        self._update = update

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        view[: len(data)] = data
        self._update(len(data))
        return len(data)


@contextmanager
def byte_progress(
    raw: BinaryIO, total: int | None, progress: bool, desc: str
) -> Iterator[BinaryIO]:
    """``raw``, wrapped to drive a bytes progress bar when ``progress``."""
    if not progress:
        yield raw
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=desc) as bar:
        yield io.BufferedReader(_CountingRaw(raw, bar.update), buffer_size=1 << 20)


# -- torch's two container formats -------------------------------------------------------------
def _pth_container(path: Path | BinaryIO) -> str | None:
    """``"zip"`` or ``"legacy"`` for a torch.save file (a path, or a file read from its
    start), else None (reads 14 bytes)."""
    try:
        if isinstance(path, Path):
            with path.open("rb") as f:
                head = f.read(len(_LEGACY_MAGIC))
        else:
            path.seek(0)
            head = path.read(len(_LEGACY_MAGIC))
    except OSError:
        return None
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head == _LEGACY_MAGIC:
        return "legacy"
    return None


def _zip_data_member(zf: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    # torch names the folder after the file ("archive/" since torch 1.x); data.pkl sits in it.
    for info in zf.infolist():
        parts = info.filename.split("/")
        if len(parts) == 2 and parts[1] == "data.pkl":
            return info
    return None


@contextmanager
def _zip_member(f: BinaryIO, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[BinaryIO]:
    """The member's data, read from the zip's open file ``f``: torch stores data.pkl
    uncompressed, and the unpickler's many small reads are several times faster on a plain
    file (``f`` itself, positioned at the data; left open) than on ZipExtFile. That read
    skips the member's CRC-32, which :func:`_sha256_checking_member` checks after the parse.
    """
    if info.compress_type != zipfile.ZIP_STORED:
        with zf.open(info) as member:  # ZipExtFile checks the CRC-32 itself
            yield member  # type: ignore[misc]  # a readable binary stream too
        return
    f.seek(_stored_data_offset(f, info))
    yield f


def _stored_data_offset(f: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start in the zip's open file ``f`` (after its local
    header, whose name and extra field may differ in length from the central directory's)."""
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) < 30 or not header.startswith(_ZIP_MAGIC):
        raise zipfile.BadZipFile("bad local file header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return int(info.header_offset + 30 + name_len + extra_len)


def _sha256_checking_member(file: BinaryIO, source: str) -> str:
    """sha256 of the open torch file ``file``, and, in the same pass, the CRC-32 of a zip's
    stored ``data.pkl`` against the zip's record of it: a damaged byte of a number parses as
    another number, so a mismatch is a :class:`TableFileError`. A file in torch's legacy
    format holds no checksum to check: a warning says so, with the sha256 to compare."""
    import hashlib

    span: tuple[int, int, int] | None = None
    container = _pth_container(file)
    if container == "zip":
        with zipfile.ZipFile(file) as zf:  # parsed already: its directory is sound
            info = _zip_data_member(zf)
            if info is not None and info.compress_type == zipfile.ZIP_STORED:
                start = _stored_data_offset(file, info)
                span = (start, start + info.compress_size, info.CRC)
    h = hashlib.sha256()
    crc, at = 0, 0
    file.seek(0)
    for chunk in iter(lambda: file.read(1 << 20), b""):
        h.update(chunk)
        if span is not None and at < span[1] and at + len(chunk) > span[0]:
            crc = zlib.crc32(chunk[max(span[0] - at, 0) : span[1] - at], crc)
        at += len(chunk)
    if span is not None and crc != span[2]:
        raise TableFileError(
            f"{source} is corrupt (its data.pkl fails the zip's CRC-32 check: a byte changed "
            "since it was written); re-download it and compare its checksum"
        )
    if container == "legacy":
        # the official 2020 files are in this format, and no sha256 of them is published: the
        # user's copy is the one reference there is (a flipped bit imported 89.40 for 93.40)
        logger.warning(
            "%s is in torch's legacy (pre-1.6) format, which holds no checksum of its own, so "
            "a damaged byte (a changed number) cannot be detected; its sha256 is %s (the "
            "table's meta records it as file_sha256): compare it with that of your download",
            source,
            h.hexdigest(),
        )
    return h.hexdigest()


def looks_like_nb201_pth(path: str | os.PathLike[str]) -> bool:
    """True for a torch.save file whose top-level dict starts with ``meta_archs``.

    Cheap: reads the container header and the first few KiB of the object pickle, never the
    whole file. Both torch containers are recognised: zip (torch >= 1.6) and the legacy
    stream of pickles the 2020 releases were written with.
    """
    p = Path(path)
    if not p.is_file():
        return False
    kind = _pth_container(p)
    try:
        if kind == "zip":
            with zipfile.ZipFile(p) as zf:
                info = _zip_data_member(zf)
                if info is None:
                    return False
                with zf.open(info) as f:
                    head = f.read(_SNIFF_BYTES)
        elif kind == "legacy":
            with p.open("rb") as f:
                head = f.read(_SNIFF_BYTES)
        else:
            return False
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, zlib.error):
        return False
    return b"meta_archs" in head


def _load_legacy(f: ReadableBinary, source: str) -> Any:
    kwargs: dict[str, Any] = {
        "discard_modules": frozenset({"torch"}),
        "discard_persistent": True,
        "source": source,
    }
    magic = safe_load(f, **kwargs)
    version = safe_load(f, **kwargs)
    if magic != int.from_bytes(_LEGACY_MAGIC[4:], "little") or (
        version != _LEGACY_PROTOCOL_VERSION
    ):
        raise FormatError(f"{source} is not a torch.save file (bad magic number or version)")
    safe_load(f, **kwargs)  # sys_info: endianness and type sizes, not needed
    return safe_load(f, **kwargs)


def _load_pth_safely(path: Path, file: BinaryIO, progress: bool) -> Any:
    """The benchmark object of the torch.save file ``path``, parsed from its open ``file``."""
    source = str(path)
    kind = _pth_container(file)
    if kind is None:
        raise FormatError(
            f"{source} is not a torch .pth file; expected NAS-Bench-201-v1_0-e61699.pth or "
            "NAS-Bench-201-v1_1-096897.pth; import a NATS-Bench file with ",
            Param("format", "nats-tss"),
        )
    # Trained weights (torch tensors and their storages) are skipped, never built: no importer
    # reads them and building them would run torch code the file names.
    try:
        if kind == "zip":
            with zipfile.ZipFile(file) as zf:  # a file it was given: left open
                info = _zip_data_member(zf)
                if info is None:
                    raise FormatError(f"{source} is a zip file but not one torch.save wrote")
                with (
                    _zip_member(file, zf, info) as raw,
                    byte_progress(raw, info.file_size, progress, path.name) as f,
                ):
                    return safe_load(
                        f,
                        discard_modules=frozenset({"torch"}),
                        discard_persistent=True,
                        source=source,
                    )
        file.seek(0)
        with byte_progress(file, os.fstat(file.fileno()).st_size, progress, path.name) as f:
            return _load_legacy(f, source)
    except Nb201FlatError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise TableFileError(
            f"{source} is truncated or corrupt ({exc.__class__.__name__}: {str(exc)[:100]}); "
            "re-download it and compare its checksum"
        ) from None


def _load_pth_unsafely(path: Path, file: BinaryIO) -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            Param("allow_unsafe_pickle", True),
            " reads .pth files with torch, which is not installed; install it with "
            "`pip install 'nb201-flat[official]'`",
        ) from None
    try:
        return torch.load(file, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises RuntimeError/UnpicklingError/EOFError/...
        raise TableFileError(
            f"{path} could not be loaded ({exc.__class__.__name__}: {str(exc)[:100]}); "
            "is it truncated? Re-download it and compare its checksum"
        ) from None


def read_nb201_pth(
    path: str | os.PathLike[str],
    *,
    allow_unsafe_pickle: bool = False,
    progress: bool = False,
    curves: CurveCollector | None = None,
) -> pd.DataFrame:
    """Read an official NAS-Bench-201 ``.pth`` file into the tidy long frame.

    Parameters
    ----------
    path
        ``NAS-Bench-201-v1_0-e61699.pth`` or ``NAS-Bench-201-v1_1-096897.pth`` (or a file in
        their layout).
    allow_unsafe_pickle
        Load with ``torch.load(weights_only=False)``, which runs any code the file names.
        Only for trusted files the restricted reader refuses; needs torch (extra ``official``).
    progress
        Show progress bars (bytes read, then architectures converted).
    curves
        When given, every run's per-epoch curves are collected into it as well
        (:class:`~nb201_flat.importers.curves.CurveCollector`).

    Returns
    -------
    pandas.DataFrame
        Columns ``index`` (int64), ``arch``, ``dataset``, ``split``, ``epochs`` (int64: 200 for
        ``full``, 12 for ``less``), ``seed`` (Int64, NA = mean over seeds), ``metric``,
        ``value`` (float64); one row per final-epoch number (see the module docstring).
        ``attrs["file_sha256"]`` is the file's sha256, for the table's provenance.

    Raises
    ------
    FormatError
        Not a NAS-Bench-201 ``.pth``, it holds objects the restricted reader refuses, or a
        record no release holds (results under an unknown schedule key or dataset, a run whose
        own record disagrees with where it is filed, a value outside its metric's range).
    TableFileError
        Missing, truncated or corrupt file.
    MissingDependencyError
        ``allow_unsafe_pickle=True`` without torch installed.

    Notes
    -----
    The restricted reader parses torch's containers itself (zip or legacy) with the C
    unpickler, so torch is not needed, and it is about 15 times faster than
    ``torch.load(weights_only=True)``, whose unpickler is written in Python.
    """
    # bool("no") is True: a misread flag here would run the file's code
    allow_unsafe_pickle = check_flag("allow_unsafe_pickle", allow_unsafe_pickle)
    progress = check_flag("progress", progress)
    p = Path(path)
    check_source_file(p)  # a FIFO was called missing
    # opened once: parsed and hashed from this one file, whatever replaces the path meanwhile
    # (hashed after the parse, not held in memory: the official files are several GB)
    try:
        file = p.open("rb")
    except OSError as exc:
        raise TableFileError(f"cannot read {p}: {exc.strerror or exc}") from None
    with file:
        if allow_unsafe_pickle:
            data = _load_pth_unsafely(p, file)
        else:
            data = _load_pth_safely(p, file, progress)
        try:
            sha256 = _sha256_checking_member(file, str(p))
        except TableFileError:
            raise
        except (OSError, zipfile.BadZipFile) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise TableFileError(f"cannot read {p}: {why}") from None
    df = frame_from_benchmark(
        data,
        hp_epochs=NB201_HP_EPOCHS,
        source=str(p),
        nats_cost_fix=False,
        progress=progress,
        curves=curves,
    )
    df.attrs[SOURCE_SHA256] = sha256
    return df
