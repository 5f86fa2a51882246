"""Datasets of NAS-Bench-201: readers, NB201 splits and CIFAR download (numpy only, no torch).

On-disk layouts under one ``root`` folder (the ones the datasets ship in):

* CIFAR-10: ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5``, ``test_batch``: pickled
  dicts with ``data`` (N, 3072) uint8 (1024 R, 1024 G, 1024 B values per image) and ``labels``;
* CIFAR-100: ``cifar-100-python/train``, ``test``: the same with ``fine_labels``;
* ImageNet16-120 (NB201's down-sampled ImageNet): ``ImageNet16/train_data_batch_1`` .. ``_10``
  and ``val_data``: dicts with ``data`` (N, 768) uint8 and 1-based ``labels``; only classes
  1..120 are kept (shifted to 0..119).

Pickles are read by a restricted unpickler that only rebuilds numpy arrays and plain
containers, so a malicious file cannot run code.

NB201 splits (dataset names as in NB201):

======================  ======================  ======================================
dataset                 trained on              evaluated splits
======================  ======================  ======================================
``cifar10-valid``       25k of the train set    ``x-valid`` (other 25k), ``ori-test``
``cifar10``             the 50k train set       ``ori-test``
``cifar100``            the 50k train set       ``x-valid``, ``x-test`` (halves), ``ori-test``
``ImageNet16-120``      the train set           ``x-valid``, ``x-test`` (halves), ``ori-test``
======================  ======================  ======================================

The halves come from NB201's split files (``cifar-split.txt``, ``cifar100-test-split.txt``,
``imagenet-16-120-test-split.txt``; JSON dicts whose values are ``["int", [indices]]``), looked
up in ``split_dir`` (default: ``root``), then in the copies shipped with the package
(:mod:`nb201_flat.train.splits`), which cut NB201's full-size data. Only a dataset of another
size, without a split file of its own, gets a documented deterministic split (sorted halves of
``numpy.random.default_rng(201).permutation(n)``), and a warning says the numbers are then not
exactly comparable with NB201's.

What was read is recorded: :func:`load_dataset` returns with the arrays their
:class:`DataIdentity` (a digest of every file's MD5 and of the split halves, and whether they
are the official files and NB201's split), which the trainer stores with every run and
checkpoint and checks on resume; :func:`dataset_identity` finds the same digest before a
campaign starts, hashing official files without reading their images.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import logging
import os
import pickle
import re
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from nb201_flat.conventions import CIFAR10_VALID
from nb201_flat.errors import (
    ArgumentError,
    Call,
    DatasetNotFoundError,
    DownloadError,
    FormatError,
    Param,
    TableFileError,
    UnknownKeyError,
    shown,
)

log = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Static facts about one NB201 dataset.

    Attributes
    ----------
    name
        NB201 name (``cifar10-valid``, ``cifar10``, ``cifar100``, ``ImageNet16-120``).
    source
        Files it reads (``cifar10``, ``cifar100``, ``imagenet16``).
    num_classes, image_size
        Classifier outputs and input side length.
    mean, std
        Per-channel normalisation on the 0..1 scale (NB201's values).
    pad
        Zero padding of the random crop (4 for 32 px CIFAR, 2 for 16 px ImageNet16 as NB201).
    splits
        Evaluated splits besides ``train``.
    """

    name: str
    source: str
    num_classes: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pad: int
    splits: tuple[str, ...]


def _scale(v: tuple[float, float, float]) -> tuple[float, float, float]:
    return (v[0] / 255, v[1] / 255, v[2] / 255)


_C10_MEAN, _C10_STD = _scale((125.3, 123.0, 113.9)), _scale((63.0, 62.1, 66.7))
_C100_MEAN, _C100_STD = _scale((129.3, 124.1, 112.4)), _scale((68.2, 65.4, 70.4))
_IN16_MEAN, _IN16_STD = _scale((122.68, 116.66, 104.01)), _scale((63.22, 61.26, 65.09))

DATASETS: dict[str, DatasetInfo] = {
    CIFAR10_VALID: DatasetInfo(
        CIFAR10_VALID, "cifar10", 10, 32, _C10_MEAN, _C10_STD, 4, ("x-valid", "ori-test")
    ),
    "cifar10": DatasetInfo("cifar10", "cifar10", 10, 32, _C10_MEAN, _C10_STD, 4, ("ori-test",)),
    "cifar100": DatasetInfo(
        "cifar100", "cifar100", 100, 32, _C100_MEAN, _C100_STD, 4, ("x-valid", "x-test", "ori-test")
    ),
    "ImageNet16-120": DatasetInfo(
        "ImageNet16-120",
        "imagenet16",
        120,
        16,
        _IN16_MEAN,
        _IN16_STD,
        2,
        ("x-valid", "x-test", "ori-test"),
    ),
}
"""The four NB201 datasets, by NB201 name."""

SPLIT_FILES = {
    CIFAR10_VALID: ("cifar-split.txt", "train", "valid"),
    "cifar100": ("cifar100-test-split.txt", "xvalid", "xtest"),
    "ImageNet16-120": ("imagenet-16-120-test-split.txt", "xvalid", "xtest"),
}
"""NB201 split file name and its two keys, per dataset that has one."""

FALLBACK_SPLIT_SEED = 201

_FOLDERS = {
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
    "imagenet16": "ImageNet16",
}


def dataset_info(name: str) -> DatasetInfo:
    """:class:`DatasetInfo` of an NB201 dataset name; a clear error lists the names.

    >>> dataset_info("CIFAR-10").name
    Traceback (most recent call last):
    ...
    nb201_flat.errors.UnknownKeyError: unknown dataset 'CIFAR-10' (did you mean 'cifar10'?); NB201 datasets are cifar10-valid, cifar10, cifar100, ImageNet16-120
    """
    if not isinstance(name, str) or name not in DATASETS:  # a list: a bare TypeError
        from nb201_flat.table import _same_but_spelling

        close = _same_but_spelling(name, list(DATASETS)) if isinstance(name, str) else []
        raise UnknownKeyError(
            f"unknown dataset {shown(name)}{f' (did you mean {close[0]!r}?)' if close else ''}; "
            f"NB201 datasets are {', '.join(DATASETS)}"
        )
    return DATASETS[name]


# -- restricted unpickling ------------------------------------------------------------------
def safe_load_pickle(
    path: str | os.PathLike[str] | IO[bytes], *, source: str | os.PathLike[str] | None = None
) -> Any:
    """Load a data pickle (py2 or py3) allowing only numpy arrays and builtin containers.

    Uses the one restricted unpickler of :mod:`nb201_flat.importers.safe_pickle` (no object
    dtypes, no allocation beyond the file's data). Dict keys stored as bytes (Python 2 pickles)
    are decoded to ``str``.

    ``path`` may also be an open binary stream, then named ``source`` in messages.

    Raises
    ------
    FormatError
        The file is not a pickle, is truncated, or needs a global other than numpy's.
    """
    from nb201_flat.importers.safe_pickle import safe_load

    if isinstance(path, str | os.PathLike):
        p = Path(path)
        opened: Any = p.open("rb")
    else:
        p, opened = Path(source if source is not None else "<stream>"), contextlib.nullcontext(path)
    try:
        with opened as f:
            obj = safe_load(f, source=str(p), opt_in=None, encoding="bytes")
    except FormatError:
        raise
    except (TableFileError, OSError) as exc:
        raise FormatError(f"{p} is not a readable data pickle: {exc}") from None
    if isinstance(obj, dict):
        obj = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    return obj


def _read_batch(
    path: Path, label_key: str, side: int, md5s: dict[str, str] | None = None
) -> tuple[U8, I64]:
    if not path.is_file():
        raise FormatError(
            f"missing file {path}: the folder does not have the expected layout "
            "(see nb201_flat.train.data for the file names)"
        )
    if md5s is None:
        obj = safe_load_pickle(path)
    else:  # the MD5 of the very bytes unpickled: what this run trains on
        raw = _read_bytes(path)
        md5s[path.name] = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        obj = safe_load_pickle(io.BytesIO(raw), source=path)
    if not isinstance(obj, dict) or "data" not in obj or label_key not in obj:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise FormatError(f"{path}: expected a dict with 'data' and {label_key!r}, got {keys}")
    data = np.asarray(obj["data"])
    labels = np.asarray(obj[label_key])
    # NaN or text met a bare ValueError; 3.7 was read as 3 (no label: [] reads as float64)
    if labels.size and labels.dtype.kind not in "iu":
        raise FormatError(f"{path}: {label_key!r} must hold integer labels, got {labels.dtype}")
    labels = labels.astype(np.int64).reshape(-1)
    n_values = 3 * side * side
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != n_values:
        raise FormatError(
            f"{path}: 'data' must be uint8 of shape (N, {n_values}), got {data.dtype} {data.shape}"
        )
    if len(labels) != len(data):
        raise FormatError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, side, side), labels


def download_call(source: str, root: str | os.PathLike[str]) -> Call | None:
    """The call of :func:`download` that fetches the files of ``source`` (a
    :attr:`DatasetInfo.source`) into ``root``, for a message to name as its fix (a caller
    spells it its own way: the CLI, a shell line); ``None`` for one fetched by hand."""
    if source not in CIFAR_ARCHIVES:
        return None
    return Call("nb201_flat.train.data.download", placeholder=f"{source!r}, {str(root)!r}")


def _folder(root: Path, source: str) -> Path:
    folder = root / _FOLDERS[source]
    if not folder.is_dir():
        if (call := download_call(source, root)) is not None:
            raise DatasetNotFoundError(
                f"dataset folder {folder} not found; download it with ", call
            )
        raise DatasetNotFoundError(
            f"dataset folder {folder} not found; get NB201's ImageNet16 (down-sampled "
            "ImageNet, 16x16) and unpack it there"
        )
    return folder


DATA_FILES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cifar10": (tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",)),
    "cifar100": (("train",), ("test",)),
    "imagenet16": (tuple(f"train_data_batch_{i}" for i in range(1, 11)), ("val_data",)),
}
"""Each source's (training files, test files) in its folder, as the official archives hold them."""


def _data_files_present(root: Path, source: str) -> Path:
    """``source``'s folder under ``root``, once every file of its layout is there."""
    folder = _folder(root, source)
    for fname in (f for names in DATA_FILES[source] for f in names):
        if not (folder / fname).is_file():
            raise DatasetNotFoundError(
                f"missing file {folder / fname}: the folder does not have the expected layout "
                "(see nb201_flat.train.data for the file names)"
            )
    return folder


def read_cifar10(
    root: str | os.PathLike[str], *, md5s: dict[str, str] | None = None
) -> tuple[U8, I64, U8, I64]:
    """``(train_x, train_y, test_x, test_y)`` of CIFAR-10; images ``(N, 3, 32, 32)`` uint8.

    ``md5s``, when given, receives each file's name and the MD5 of the bytes read (likewise in
    the other readers).
    """
    folder = _folder(Path(root), "cifar10")
    train_files, (test_file,) = DATA_FILES["cifar10"]
    parts = [_read_batch(folder / name, "labels", 32, md5s) for name in train_files]
    test_x, test_y = _read_batch(folder / test_file, "labels", 32, md5s)
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    return train_x, train_y, test_x, test_y


def read_cifar100(
    root: str | os.PathLike[str], *, md5s: dict[str, str] | None = None
) -> tuple[U8, I64, U8, I64]:
    """``(train_x, train_y, test_x, test_y)`` of CIFAR-100 (fine labels)."""
    folder = _folder(Path(root), "cifar100")
    (train_file,), (test_file,) = DATA_FILES["cifar100"]
    train_x, train_y = _read_batch(folder / train_file, "fine_labels", 32, md5s)
    test_x, test_y = _read_batch(folder / test_file, "fine_labels", 32, md5s)
    return train_x, train_y, test_x, test_y


def read_imagenet16(
    root: str | os.PathLike[str], num_classes: int = 120, *, md5s: dict[str, str] | None = None
) -> tuple[U8, I64, U8, I64]:
    """``(train_x, train_y, test_x, test_y)`` of ImageNet16, classes ``1..num_classes`` only.

    Labels are shifted to start at 0, as NB201 does.
    """
    folder = _folder(Path(root), "imagenet16")
    out: list[tuple[U8, I64]] = []
    for names in DATA_FILES["imagenet16"]:
        xs, ys = [], []
        for name in names:
            x, y = _read_batch(folder / name, "labels", 16, md5s)
            if len(y) and y.min() < 1:
                raise FormatError(
                    f"{folder / name}: ImageNet16 labels are 1-based, found {y.min()}"
                )
            keep = y <= num_classes
            xs.append(x[keep])
            ys.append(y[keep] - 1)
        out.append((np.concatenate(xs), np.concatenate(ys)))
    return out[0][0], out[0][1], out[1][0], out[1][1]


# -- splits ---------------------------------------------------------------------------------
def read_split_file(path: str | os.PathLike[str], keys: tuple[str, str]) -> tuple[I64, I64]:
    """Read an NB201 split file: two index lists under ``keys``.

    Values may be NB201's ``["int", [..]]`` pairs or plain lists; the file is JSON (a Python
    literal is accepted too, parsed without evaluation).
    """
    from nb201_flat.train.splits import parse_split

    try:  # a non-UTF-8 byte met a bare UnicodeDecodeError, a folder an IsADirectoryError
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"{path} is no NB201 split file: byte {exc.start} is not UTF-8 text; replace it "
            "with the file from AutoDL-Projects' configs/nas-benchmark/"
        ) from None
    except OSError as exc:
        raise FormatError(f"{path} cannot be read ({exc.strerror or exc}); check it") from None
    return parse_split(text, keys, str(path))


def fallback_split(n: int) -> tuple[I64, I64]:
    """Deterministic halves of ``range(n)`` used when NB201's split file is absent.

    Sorted first and second halves of ``numpy.random.default_rng(201).permutation(n)``.

    >>> a, b = fallback_split(6)
    >>> sorted(np.concatenate([a, b]).tolist()) == list(range(6))
    True
    """
    perm = np.random.default_rng(FALLBACK_SPLIT_SEED).permutation(n)
    half = n // 2
    return np.sort(perm[:half]), np.sort(perm[half:])


def nb201_split(
    dataset: str, n: int, split_dir: str | os.PathLike[str] | None, *, warn: bool = True
) -> tuple[I64, I64]:
    """The two halves NB201 uses for ``dataset`` over ``n`` items (train/valid or xvalid/xtest).

    Looked up in ``split_dir`` first, then in the copies shipped with the package
    (:mod:`.splits`, used when they cover exactly ``n`` items, i.e. on NB201's full data);
    otherwise (a dataset of another size) the deterministic fallback, with a warning unless
    ``warn`` is false (a caller that said so already).
    """
    fname, k1, k2 = SPLIT_FILES[dataset]
    path = Path(split_dir) / fname if split_dir is not None else None
    if path is None or not path.is_file():
        from nb201_flat.train.splits import packaged_split

        a, b = packaged_split(fname, (k1, k2))
        if len(a) + len(b) == n and max(a.max(), b.max()) < n:
            return a, b
        if warn:
            log.warning(
                "no NB201 split file %s, and the copy shipped with the package cuts NB201's "
                "%d items, not this dataset's %d: using the deterministic fallback split "
                "(numbers will not be exactly comparable with NB201's)",
                path if path is not None else fname,
                len(a) + len(b),
                n,
            )
        return fallback_split(n)
    a, b = read_split_file(path, (k1, k2))
    both = np.concatenate([a, b])
    if len(both) and (both.min() < 0 or both.max() >= n):
        raise FormatError(f"{path}: indices must lie in 0..{n - 1} (the dataset has {n} items)")
    if len(np.unique(both)) != len(both):
        raise FormatError(f"{path}: {k1!r} and {k2!r} overlap or repeat indices")
    return a, b


# -- what a run trains on, to the byte ----------------------------------------------------------
OFFICIAL_MD5: dict[str, dict[str, str]] = {
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    },
    "cifar100": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    },
    "imagenet16": {
        "train_data_batch_1": "27846dcaa50de8e21a7d1a35f30f0e91",
        "train_data_batch_2": "c7254a054e0e795c69120a5727050e3f",
        "train_data_batch_3": "4333d3df2e5ffb114b05d2ffc19b1e87",
        "train_data_batch_4": "1620cdf193304f4a92677b695d70d10f",
        "train_data_batch_5": "348b3c2fdbb3940c4e9e834affd3b18d",
        "train_data_batch_6": "6e765307c242a1b3d7d5ef9139b48945",
        "train_data_batch_7": "564926d8cbf8fc4818ba23d2faac7564",
        "train_data_batch_8": "f4755871f718ccb653440b9dd0ebac66",
        "train_data_batch_9": "bb6dd660c38c58552125b1a92f86b5d4",
        "train_data_batch_10": "8f03f34ac4b42271a294f91bf480f29b",
        "val_data": "3410e3017fdaefba8d5073aaa65e4bd6",
    },
}
"""MD5 of every official data file: CIFAR's as torchvision's ``datasets/cifar.py`` lists them,
ImageNet16's as xautodl's ``datasets/DownsampledImageNet.py`` (AutoDL-Projects f46486e2)."""


@dataclass(frozen=True, slots=True)
class DataIdentity:
    """The bytes a run trains and is evaluated on, as one digest.

    Attributes
    ----------
    digest
        SHA-256 (hex) over each data file's name and MD5 in reading order, then the index halves
        of the split that cuts the evaluated sets (none for ``cifar10``). Equal digests mean the
        same images, labels and splits, so the same numbers for the same run.
    official
        Every file is the official one (:data:`OFFICIAL_MD5`) and the split is NB201's own.
    """

    digest: str
    official: bool

    @property
    def short(self) -> str:
        """The digest's first 12 characters, for messages."""
        return self.digest[:12]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None


_MD5_SEEN: dict[tuple[object, ...], str] = {}


def file_md5(path: str | os.PathLike[str]) -> str:
    """MD5 (hex) of a file, streamed; remembered in this process per path, inode, size and
    modification time, so a campaign hashes each file once."""
    p = Path(path)
    try:
        key = _stat_key(p)
        if key not in _MD5_SEEN:
            with p.open("rb") as f:
                _MD5_SEEN[key] = _copy_with_md5(f, None)
    except OSError as exc:
        raise FormatError(f"cannot read {p}: {exc.strerror or exc}") from None
    return _MD5_SEEN[key]


def _identity(name: str, md5s: Mapping[str, str], split: tuple[I64, I64] | None) -> DataIdentity:
    source = dataset_info(name).source
    train_files, test_files = DATA_FILES[source]
    h = hashlib.sha256()
    for fname in (*train_files, *test_files):
        h.update(f"{fname} {md5s[fname]}\n".encode())
    official = all(md5s[f] == OFFICIAL_MD5[source][f] for f in (*train_files, *test_files))
    if split is not None:
        a, b = split
        h.update(f"split {len(a)} {len(b)}\n".encode())
        for half in split:
            h.update(np.ascontiguousarray(half, dtype="<i8").tobytes())
        from nb201_flat.train.splits import packaged_split

        fname, k1, k2 = SPLIT_FILES[name]
        pa, pb = packaged_split(fname, (k1, k2))
        official = official and np.array_equal(a, pa) and np.array_equal(b, pb)
    return DataIdentity(h.hexdigest(), official)


def dataset_identity(
    name: str,
    root: str | os.PathLike[str],
    split_dir: str | os.PathLike[str] | None = None,
    *,
    strict: bool = False,
) -> DataIdentity:
    """The :class:`DataIdentity` of ``name`` under ``root``, without reading the images where
    the files are the official ones.

    Official files (their MD5s in :data:`OFFICIAL_MD5`) are hashed only, and NB201's image
    counts fix the split. Other files are read through :func:`load_dataset` (with
    ``strict``), so a corrupt or malformed file, or one of another size where faithful mode
    needs NB201's, fails here, once, before any run starts.

    Raises
    ------
    DatasetNotFoundError
        The folder or a file is missing.
    FormatError
        A file cannot be read or is not in the expected layout.
    DatasetSizeError
        ``strict`` and the dataset has not NB201's image counts (see :func:`load_dataset`).
    """
    info = dataset_info(name)
    root = Path(root)
    folder = _data_files_present(root, info.source)
    train_files, test_files = DATA_FILES[info.source]
    md5s = {fname: file_md5(folder / fname) for fname in (*train_files, *test_files)}
    if split_dir is not None and name in SPLIT_FILES:  # the identity of the split it names
        explicit_split_file(name, split_dir)
    split_root = root if split_dir is None else Path(split_dir)
    split_file = None
    if name in SPLIT_FILES:
        with contextlib.suppress(OSError):  # no file: the packaged split or the fallback
            # by its bytes (a split file is small): a rewrite in place of the same size within
            # one tick of the file system's clock keeps its stat key (a test met it)
            path = split_root / SPLIT_FILES[name][0]
            split_file = (os.path.realpath(path), hashlib.md5(path.read_bytes()).hexdigest())
    seen = (name, tuple(md5s.items()), split_file, strict)
    if seen in _IDENTITY_SEEN:
        return _IDENTITY_SEEN[seen]
    if any(md5s[f] != OFFICIAL_MD5[info.source][f] for f in md5s):
        found = load_dataset(name, root, split_dir=split_dir, strict=strict).identity
        if found is None:  # load_dataset always sets it
            raise AssertionError("load_dataset returned no identity")
    else:
        split = None
        if name in SPLIT_FILES:
            from nb201_flat.train.splits import NB201_COUNTS

            n_train, n_test = NB201_COUNTS[name]
            split = nb201_split(name, n_train if name == CIFAR10_VALID else n_test, split_root)
        found = _identity(name, md5s, split)
    _IDENTITY_SEEN[seen] = found
    return found


_IDENTITY_SEEN: dict[tuple[object, ...], DataIdentity] = {}
"""Identities found in this process, by dataset, files' MD5s, split file and strictness: other
files are read through once, not once per job that asks."""


def _stat_key(path: Path) -> tuple[object, ...]:
    """A file's path, inode, size and modification time: it changes when the file does."""
    st = path.stat()
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True, slots=True, eq=False)
class DataSplits:
    """Arrays of one NB201 dataset, ready for training.

    Attributes
    ----------
    info
        The dataset's :class:`DatasetInfo`.
    train_x, train_y
        Training images ``(N, 3, H, W)`` uint8 and labels int64.
    sources
        Arrays that evaluation splits index into (``"train"`` and/or ``"test"``).
    splits
        Evaluated split name -> ``(source name, indices)``; one pass over each source serves
        every split that indexes it.
    identity
        What was read, to the byte (:func:`load_dataset` sets it; ``None`` for arrays made
        in memory).
    """

    info: DatasetInfo
    train_x: U8
    train_y: I64
    sources: Mapping[str, tuple[U8, I64]]
    splits: Mapping[str, tuple[str, I64]] = field(default_factory=dict)
    identity: DataIdentity | None = None

    def __post_init__(self) -> None:
        # a split of no images evaluates to NaN (a run stored as done without numbers); a
        # training set of none trains nothing: the one check, for every reader
        empty = [name for name, (_, idx) in self.splits.items() if len(idx) == 0]
        if len(self.train_y) == 0:
            empty.insert(0, "train")
        if empty:
            kept = (
                f" (only classes 1..{self.info.num_classes} are kept)"
                if self.info.source == "imagenet16"
                else ""
            )
            raise FormatError(
                f"{self.info.name}: {', '.join(empty)} "
                f"{'holds' if len(empty) == 1 else 'hold'} no images{kept}; each needs at "
                "least one: check the data files (and the split file, where the dataset has one)"
            )

    def __repr__(self) -> str:
        # the dataclass repr printed every image array: 300 lines in a notebook cell
        evaluated = ", ".join(f"{name} {len(idx)}" for name, (_, idx) in self.splits.items())
        read = "in memory" if self.identity is None else f"data {self.identity.short}"
        if self.identity is not None and self.identity.official:
            read += " (official files)"
        return (
            f"<DataSplits {self.info.name!r}: {len(self.train_y)} training images "
            f"{'x'.join(map(str, self.train_x.shape[1:]))}, {self.info.num_classes} classes; "
            f"evaluated: {evaluated or 'none'}; {read}>"
        )


def load_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    split_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
    warn: bool = True,
) -> DataSplits:
    """Read an NB201 dataset from ``root`` and apply NB201's splits.

    Parameters
    ----------
    name
        ``cifar10-valid``, ``cifar10``, ``cifar100`` or ``ImageNet16-120``.
    root
        Folder holding ``cifar-10-batches-py``, ``cifar-100-python`` or ``ImageNet16``.
    split_dir
        Folder of NB201's split files; default ``root`` (then the copies shipped with the
        package, see :func:`nb201_split`).
    strict
        Faithful mode: ImageNet16-120 must have NB201's 151,700 train / 6,000 test images
        (classes 1..120 of the down-sampled ImageNet), else :class:`~nb201_flat.errors.DatasetSizeError`.
    warn
        Warn when the split falls back (:func:`nb201_split`); a run whose campaign found its
        data first (and so warned once) does not repeat it.

    Raises
    ------
    DatasetNotFoundError
        The dataset folder is missing.
    FormatError
        A file is missing or not in the expected layout.
    """
    info = dataset_info(name)
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"data root {root} does not exist; pass ", Param("data_root", placeholder="DIR")
        )
    if split_dir is not None and name in SPLIT_FILES:
        explicit_split_file(name, split_dir)
    split_dir = root if split_dir is None else Path(split_dir)
    md5s: dict[str, str] = {}
    readers: dict[str, Callable[[Path], tuple[U8, I64, U8, I64]]] = {
        "cifar10": lambda r: read_cifar10(r, md5s=md5s),
        "cifar100": lambda r: read_cifar100(r, md5s=md5s),
        "imagenet16": lambda r: read_imagenet16(r, info.num_classes, md5s=md5s),
    }
    train_x, train_y, test_x, test_y = readers[info.source](root)
    _check_labels(name, root, info.num_classes, train_y, test_y)
    n_test = len(test_y)
    if strict and name == "ImageNet16-120":
        from nb201_flat.train.splits import check_nb201_counts

        check_nb201_counts(name, len(train_y), n_test)
    test_all = np.arange(n_test, dtype=np.int64)
    if name == CIFAR10_VALID:
        tr, va = nb201_split(name, len(train_y), split_dir, warn=warn)
        return DataSplits(
            info,
            train_x[tr],
            train_y[tr],
            {"train": (train_x, train_y), "test": (test_x, test_y)},
            {"x-valid": ("train", va), "ori-test": ("test", test_all)},
            _identity(name, md5s, (tr, va)),
        )
    if name == "cifar10":
        return DataSplits(
            info,
            train_x,
            train_y,
            {"test": (test_x, test_y)},
            {"ori-test": ("test", test_all)},
            _identity(name, md5s, None),
        )
    xv, xt = nb201_split(name, n_test, split_dir, warn=warn)
    return DataSplits(
        info,
        train_x,
        train_y,
        {"test": (test_x, test_y)},
        {"x-valid": ("test", xv), "x-test": ("test", xt), "ori-test": ("test", test_all)},
        _identity(name, md5s, (xv, xt)),
    )


def _check_labels(name: str, root: Path, num_classes: int, train_y: I64, test_y: I64) -> None:
    """:class:`FormatError` for a label outside ``0..num_classes - 1`` (every run would fail on
    it in turn): one line before any run. Parts with no image: :class:`DataSplits`."""
    for part, y in (("training", train_y), ("test", test_y)):
        if len(y) == 0:
            continue
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise FormatError(
                f"{name} under {root}: a {part} label is {bad}, outside the dataset's "
                f"{num_classes} classes 0..{num_classes - 1}; check the data files"
            )


def check_split_dir_applies(name: str, split_dir: str | os.PathLike[str] | None) -> None:
    """Refuse a ``split_dir`` for a dataset that uses no split file (``cifar10``): it would be
    ignored; and an empty one, which would read as the current folder. Needs no file, so a
    command checks it before it looks for the data."""
    if split_dir is None:
        return
    if name not in SPLIT_FILES:
        raise ArgumentError(
            Param("split_dir"),
            f" applies only to {', '.join(SPLIT_FILES)} ({name} uses no split file); drop ",
            Param("split_dir"),
        )
    if os.fspath(split_dir).strip() == "":  # the refusal of a missing file showed a double space
        raise ArgumentError(
            Param("split_dir"),
            f" is empty; give the folder holding {SPLIT_FILES[name][0]}, or drop ",
            Param("split_dir"),
        )


def check_dataset_files(
    name: str, root: str | os.PathLike[str], split_dir: str | os.PathLike[str] | None = None
) -> None:
    """Fail early when ``name``'s files are missing under ``root``, or ``split_dir`` is wrong.

    Cheap (no image is read), so a command can check before any run starts instead of every
    run failing the same way. An explicit ``split_dir`` must hold the dataset's NB201 split
    file in a readable form; ``cifar10`` has no split file, so it takes no ``split_dir``.

    >>> check_dataset_files("cifar10", ".", split_dir=".")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: split_dir applies only to ...; drop split_dir
    """
    info = dataset_info(name)
    check_split_dir_applies(name, split_dir)
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"data root {root} does not exist; pass ", Param("data_root", placeholder="DIR")
        )
    _data_files_present(root, info.source)
    if split_dir is None:
        return
    _, k1, k2 = SPLIT_FILES[name]
    read_split_file(explicit_split_file(name, split_dir), (k1, k2))


def explicit_split_file(name: str, split_dir: str | os.PathLike[str]) -> Path:
    """The split file of ``name`` in a ``split_dir`` given explicitly, else
    :class:`~nb201_flat.errors.DatasetNotFoundError`: a folder named for it that lacks it is
    a mistake, where the library fell back to another split with a log line (none with
    ``warn=False``) and stored the run as done."""
    fname = SPLIT_FILES[name][0]
    path = Path(split_dir) / fname
    if not path.is_file():
        raise DatasetNotFoundError(
            Param("split_dir"),
            f" {split_dir} has no {fname}; put NB201's file there, or drop ",
            Param("split_dir"),
            " (then the file in the data root, else the copy shipped with the package, which "
            "fits NB201's full dataset only)",
        )
    return path


# -- download -------------------------------------------------------------------------------
CIFAR_ARCHIVES: dict[str, tuple[str, str]] = {
    "cifar10": (
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
    "cifar100": (
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
    ),
}
"""Official CIFAR python archives and their MD5 checksums (as torchvision lists them)."""


def _copy_with_md5(src: IO[bytes], dst: IO[bytes] | None) -> str:
    """MD5 (hex) of ``src``'s bytes, streamed; copied to ``dst`` on the way when given."""
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := src.read(1 << 20):
        digest.update(chunk)
        if dst is not None:
            dst.write(chunk)
    return digest.hexdigest()


def download(
    source: str,
    root: str | os.PathLike[str],
    *,
    url: str | None = None,
    md5: str | None = None,
    opener: Callable[[str], IO[bytes]] | None = None,
) -> Path:
    """Download and unpack CIFAR-10 or CIFAR-100 into ``root``; return the dataset folder.

    The archive is streamed to a temporary folder ``.download-<source>-*`` in ``root``, its MD5
    checked, and unpacked there; the dataset folder is then renamed into place, so a download
    that fails or is interrupted (an exception, Ctrl-C) leaves nothing behind. An existing
    folder is kept as is.

    A download killed by a signal (``kill``, ``kill -9``) or a crash cannot remove its folder.
    Each download holds a lock on its folder, which the kernel drops when the process dies, so
    the next download of the same dataset into ``root`` removes such a folder once no process
    holds its lock; one whose lock it cannot test (a file system without locks, a folder of an
    older version) it names in a warning, to delete by hand once no download into ``root``
    runs.

    Parameters
    ----------
    source
        ``"cifar10"`` or ``"cifar100"`` (NB201's ``cifar10-valid`` uses ``cifar10``).
    root
        Destination folder (created if needed).
    url, md5
        Override the official URL and checksum (mirrors, tests with ``file://``); ``md5`` is
        32 hexadecimal digits, of either case.
    opener
        ``opener(url)`` returns a binary stream; default :func:`urllib.request.urlopen`.

    Raises
    ------
    DownloadError
        Network failure, checksum mismatch or a bad archive; or the dataset folder's name in
        ``root`` is taken by a file or a broken link (refused before anything is fetched).
    ArgumentError
        ``md5`` is not an MD5 checksum.
    """
    if source == CIFAR10_VALID:
        source = "cifar10"
    if source not in CIFAR_ARCHIVES:
        raise UnknownKeyError(
            f"cannot download {source!r}; downloadable: {', '.join(CIFAR_ARCHIVES)} "
            "(ImageNet16-120 must be fetched by hand, see NB201's instructions)"
        )
    if md5 is not None and not (isinstance(md5, str) and re.fullmatch("[0-9a-fA-F]{32}", md5)):
        raise ArgumentError(Param("md5"), f" must be 32 hexadecimal digits, got {shown(md5)}")
    root = Path(root)
    target = root / _FOLDERS[source]
    if target.is_dir():
        _remove_stale_downloads(root, source)
        log.info("%s already present; not downloading", target)
        return target
    if os.path.lexists(target):  # the rename at the end would fail, after the whole transfer
        raise _name_taken(target)
    url = url or CIFAR_ARCHIVES[source][0]
    md5 = (md5 or CIFAR_ARCHIVES[source][1]).lower()  # hexdigest() is lower case
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name: a bare FileExistsError
        raise DownloadError(
            f"cannot make the data root {root} ({exc.strerror or exc}); name a folder"
        ) from None
    _remove_stale_downloads(root, source)
    open_url = opener or (lambda u: urllib.request.urlopen(u, timeout=60))
    with _download_folder(root, source) as tmp:
        archive = tmp / "archive.tar.gz"
        try:
            with open_url(url) as src, archive.open("wb") as dst:
                got = _copy_with_md5(src, dst)
        # an address without a scheme is urllib's ValueError, a body cut short http's own
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise DownloadError(
                f"downloading {url} failed: {type(exc).__name__}: {exc}; check the address "
                "and the connection, and run again"
            ) from None
        if got != md5:
            raise DownloadError(
                f"checksum mismatch for {url}: md5 {got}, expected {md5}; nothing was kept"
            )
        unpacked = tmp / "unpacked"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(unpacked, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DownloadError(f"{url} is not a valid .tar.gz archive: {exc}") from exc
        inner = unpacked / _FOLDERS[source]
        if not inner.is_dir():
            raise DownloadError(f"{url} does not contain the folder {_FOLDERS[source]}")
        try:
            os.replace(inner, target)
        except OSError:  # another process won the race; its folder is as good as ours
            if not target.is_dir():
                raise _name_taken(target) from None
    log.info("downloaded %s to %s", source, target)
    return target


def _name_taken(target: Path) -> DownloadError:
    """The refusal of a download whose dataset folder's name is taken by something else."""
    what = "a link to nothing" if target.is_symlink() and not target.exists() else "not a folder"
    return DownloadError(
        f"{target} is {what} and takes the dataset folder's name; move it away, or download "
        "into another root"
    )


_LOCK = ".lock"
"""The file in a download's temporary folder that its process holds locked
(:func:`_download_folder`)."""


def _try_flock(fd: int) -> bool | None:
    """Take an exclusive ``flock`` on ``fd`` without waiting: ``True``, ``False`` when another
    process holds it, ``None`` when it cannot be tested (no ``fcntl``, a file system without
    locks)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


@contextlib.contextmanager
def _download_folder(root: Path, source: str) -> Iterator[Path]:
    """A new temporary folder for one download of ``source`` in ``root``, its :data:`_LOCK`
    file held locked until the folder is removed (at the end of the ``with`` block)."""
    while True:
        try:
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".download-{source}-"))
            try:
                fd = os.open(tmp / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except OSError as exc:  # a root this process cannot write in: a bare PermissionError
            raise DownloadError(
                f"cannot write in the data root {root} ({exc.strerror or exc}); name a writable "
                "folder"
            ) from None
        locked = _try_flock(fd)
        # a sweep (:func:`_remove_stale_downloads`) took the lock between mkdtemp and ours,
        # or took and released it: the folder is gone or going; start another
        if locked is None or (locked and os.fstat(fd).st_nlink > 0):
            break
        os.close(fd)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(fd)  # after: a sweep never meets the folder half removed and unlocked


def _remove_stale_downloads(root: Path, source: str) -> None:
    """Remove the temporary folders of downloads of ``source`` into ``root`` that were killed
    outright (no process holds their lock); warn of those whose lock cannot be tested, and of
    folders an older version left (no lock, no dataset in the name)."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    ours = f".download-{source}-"
    for name in names:
        folder = root / name
        if not name.startswith(".download-") or not folder.is_dir() or folder.is_symlink():
            continue
        if not name.startswith(ours):
            if "-" not in name.removeprefix(".download-"):  # an older version's: unlocked
                _warn_stale(folder, root)
            continue
        try:
            fd = os.open(folder / _LOCK, os.O_RDWR)
        except FileNotFoundError:  # a download starting (the lock comes next), or none
            _warn_stale(folder, root)
            continue
        except OSError:
            continue
        try:
            locked = _try_flock(fd)
            if locked is None:
                _warn_stale(folder, root)
            elif locked and os.fstat(fd).st_nlink > 0:  # not removed by another sweep
                log.info("removing %s, left by a download that was killed", folder)
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)  # after the removal: a download starting meanwhile sees it gone


def _warn_stale(folder: Path, root: Path) -> None:
    log.warning(
        "%s may be left by a download that was killed (or belong to one running); delete it "
        "once no download into %s runs",
        folder,
        root,
    )


def write_batch(path: str | os.PathLike[str], data: U8, labels: Any, label_key: str) -> None:
    """Write one batch file in the datasets' own pickle layout (for tests and tiny datasets)."""
    buf = io.BytesIO()
    pickle.dump({label_key: list(map(int, labels)), "data": np.ascontiguousarray(data)}, buf, 2)
    from nb201_flat.atomic import write_bytes

    write_bytes(path, buf.getvalue())  # beside, then swapped in: never a half-written batch


__all__ = [
    "CIFAR_ARCHIVES",
    "DATASETS",
    "OFFICIAL_MD5",
    "DataIdentity",
    "DataSplits",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DownloadError",
    "dataset_identity",
    "dataset_info",
    "download",
    "fallback_split",
    "file_md5",
    "load_dataset",
    "nb201_split",
    "read_cifar10",
    "read_cifar100",
    "read_imagenet16",
    "read_split_file",
    "safe_load_pickle",
    "write_batch",
]
