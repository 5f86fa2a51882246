"""NB201's own split files, shipped with the package, and the dataset sizes NB201 trained on.

AutoDL-Projects' ``configs/nas-benchmark/`` holds the index lists NB201 used to cut its
validation and test halves (MIT licence; see ``nb201_splits/README.md``). They are small once
gzip-compressed (about 0.5 MB for all four), so they ship as package data and are verified
against the SHA-256 of the original files on every read: a user needs no download to train
with NB201's exact splits.

============================  =========================  ============  ===================
file                          keys                       sizes         used for
============================  =========================  ============  ===================
``cifar-split.txt``           ``train``, ``valid``       25k + 25k     ``cifar10-valid``
``cifar100-test-split.txt``   ``xvalid``, ``xtest``      5k + 5k       ``cifar100``
``imagenet-16-120-test-...``  ``xvalid``, ``xtest``      3k + 3k       ``ImageNet16-120``
``ImageNet16-120-split.txt``  ``train``, ``valid``       75,850 x 2    (train-set halves)
============================  =========================  ============  ===================

Examples
--------
>>> a, b = packaged_split("cifar100-test-split.txt", ("xvalid", "xtest"))
>>> len(a), len(b), int(max(a.max(), b.max())) < 10_000
(5000, 5000, True)
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import zlib
from importlib import resources

import numpy as np
import numpy.typing as npt

from nb201_flat.conventions import CIFAR10_VALID
from nb201_flat.errors import DatasetSizeError as DatasetSizeError
from nb201_flat.errors import FormatError, Param, shown, too_many_digits

I64 = npt.NDArray[np.int64]

SPLIT_SHA256: dict[str, str] = {
    "ImageNet16-120-split.txt": "b2f3d37fbc2e2c239eb90ce12abeb6bac7a539f8d3888b4d5a136d292cddbef9",
    "cifar-split.txt": "986da6174822048d4c5a25ee8ebdb7e754cd5372b51c633ffd4898ace8db9e32",
    "cifar100-test-split.txt": "14a5e3708e790ad57f987cdbcf202f724519475d6e8b0db34d0182e73b581bba",
    "imagenet-16-120-test-split.txt": (
        "c0edac1d3676a9f21acea8feeb31336202d75b1a73df62aec31c6b45bb289a18"
    ),
}
"""SHA-256 of the uncompressed files at AutoDL-Projects commit f46486e2."""

NB201_COUNTS: dict[str, tuple[int, int]] = {
    CIFAR10_VALID: (50_000, 10_000),
    "cifar10": (50_000, 10_000),
    "cifar100": (50_000, 10_000),
    "ImageNet16-120": (151_700, 6_000),
}
"""(train, test) images of the full datasets NB201 trained on (before its train/valid cut)."""


def _indices(values: object, what: str) -> I64:
    """``values`` as image indices: whole numbers >= 0, as ints or decimal text (floats were
    truncated, ``true`` read as 1, a dict read by its keys and a string digit by digit)."""
    if not isinstance(values, list | tuple):
        raise FormatError(f"{what} is not a list of image indices, got {shown(values, 60)}")
    out = []
    for i in values:
        ok = (isinstance(i, int) and not isinstance(i, bool) and i >= 0) or (
            isinstance(i, str) and i.isascii() and i.isdecimal()
        )
        if not ok:
            raise FormatError(
                f"{what} holds {shown(i, 40)}, not an image index (a whole number >= 0)"
            )
        out.append(int(i))
    try:
        return np.asarray(out, dtype=np.int64)
    except OverflowError:  # past int64: no dataset has that many images
        raise FormatError(f"{what} holds an index past any dataset's size") from None


def packaged_split_bytes(fname: str) -> bytes:
    """The original bytes of a shipped split file, verified against :data:`SPLIT_SHA256`."""
    if fname not in SPLIT_SHA256:
        raise FormatError(f"no packaged NB201 split file {fname!r}; known: {sorted(SPLIT_SHA256)}")
    try:
        raw = (resources.files("nb201_flat.train") / "nb201_splits" / f"{fname}.gz").read_bytes()
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # missing, cut short, not gzip, bad deflate
        raise FormatError(
            f"packaged split file {fname} cannot be read ({exc.__class__.__name__}: "
            f"{str(exc)[:100]}); reinstall nb201_flat"
        ) from None
    if hashlib.sha256(data).hexdigest() != SPLIT_SHA256[fname]:
        raise FormatError(
            f"packaged split file {fname} fails its SHA-256 check; reinstall nb201_flat"
        )
    return data


def parse_split(text: str, keys: tuple[str, str], where: str) -> tuple[I64, I64]:
    """Two index lists under ``keys`` of an NB201 split file's text (JSON or Python literal).

    Values may be NB201's ``["int", [..]]`` pairs or plain lists.

    >>> parse_split('{"a": ["int", ["2", "0"]], "b": [1]}', ("a", "b"), "x")[0].tolist()
    [2, 0]
    """
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as bad_json:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            # literal_eval's own message can name a parser object (<ast.Name object at 0x..>)
            raise FormatError(
                f"{where}: neither JSON nor a Python literal (JSON stops at line "
                f"{bad_json.lineno}, column {bad_json.colno}); an NB201 split file maps each "
                'split to its image indices, e.g. {"train": ["int", [0, 1]], "valid": '
                '["int", [2]]}'
            ) from None
    except (ValueError, RecursionError) as exc:  # past the JSON decoder's own errors
        what = (
            "nests arrays or objects thousands deep"
            if isinstance(exc, RecursionError)
            else f"holds an integer of {too_many_digits()}"
        )
        raise FormatError(
            f"{where}: {what}, which no NB201 split file does; an NB201 split file maps each "
            'split to its image indices, e.g. {"train": ["int", [0, 1]], "valid": ["int", [2]]}'
        ) from None
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise FormatError(f"{where}: expected a dict with keys {keys}")
    out = []
    for k in keys:
        v = obj[k]
        # NB201's load_config form: ["int", [indices]] (a plain list of two indices, "10" and
        # "23", was read as that form: its second item's digits, [2, 3], as the split)
        if isinstance(v, list | tuple) and len(v) == 2 and v[0] == "int":
            v = v[1]
        out.append(_indices(v, f"{where}: {k!r}"))
        if out[-1].size == 0:  # a split of no images: NaN accuracies, stored as done
            raise FormatError(
                f"{where}: {k!r} lists no images; each split needs at least one (NB201's "
                "split files list thousands)"
            )
    return out[0], out[1]


def packaged_split(fname: str, keys: tuple[str, str]) -> tuple[I64, I64]:
    """Index lists ``keys`` of the shipped NB201 split file ``fname``."""
    text = packaged_split_bytes(fname).decode("utf-8")
    return parse_split(text, keys, f"packaged {fname}")


def check_nb201_counts(dataset: str, n_train: int, n_test: int) -> None:
    """Raise unless ``dataset`` has the image counts NB201 trained on (faithful mode).

    >>> check_nb201_counts("ImageNet16-120", 151_700, 6_000)
    >>> check_nb201_counts("ImageNet16-120", 151_699, 6_000)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.DatasetSizeError: ImageNet16-120 has 151699 train / 6000 test \
images, NB201 trained on 151700 / 6000; use the full NB201 dataset or mode='fast'
    """
    want = NB201_COUNTS.get(dataset)
    if want is not None and (n_train, n_test) != want:
        raise DatasetSizeError(
            f"{dataset} has {n_train} train / {n_test} test images, NB201 trained on "
            f"{want[0]} / {want[1]}; use the full NB201 dataset or ",
            Param("mode", "fast"),
        )
