"""Dataset readers, NB201 splits, the restricted unpickler and the checked download."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from train_helpers import (
    N_PER_BATCH,
    N_TEST,
    write_split_file,
    write_tiny_cifar10,
    write_tiny_cifar100,
    write_tiny_imagenet16,
)

from nb201_flat.errors import FormatError, UnknownKeyError
from nb201_flat.train import data as D


# -- layouts ------------------------------------------------------------------------------------
def test_cifar10_roundtrip(cifar10_root: Path) -> None:
    x, y, tx, _ty = D.read_cifar10(cifar10_root)
    assert x.shape == (5 * N_PER_BATCH, 3, 32, 32) and x.dtype == np.uint8
    assert tx.shape == (N_TEST, 3, 32, 32) and y.dtype == np.int64
    # the first image's red plane is the first 1024 values of the first row of data_batch_1
    raw = D.safe_load_pickle(cifar10_root / "cifar-10-batches-py" / "data_batch_1")
    assert np.array_equal(x[0, 0].reshape(-1), raw["data"][0, :1024])
    assert np.array_equal(x[0, 2].reshape(-1), raw["data"][0, 2048:])


def test_cifar100_and_imagenet16(tmp_path: Path) -> None:
    write_tiny_cifar100(tmp_path)
    x, _y, _tx, ty = D.read_cifar100(tmp_path)
    assert x.shape == (40, 3, 32, 32) and ty.max() < 100
    write_tiny_imagenet16(tmp_path)
    x, y, _tx, ty = D.read_imagenet16(tmp_path)
    assert x.shape[1:] == (3, 16, 16)
    assert y.min() >= 0 and y.max() <= 119  # 1-based labels shifted, > 120 dropped
    assert len(ty) == N_TEST and ty.tolist() == list(range(N_TEST))


def test_python2_style_pickle_with_bytes_keys(tmp_path: Path) -> None:
    # the official CIFAR files are Python 2 pickles: bytes keys, numpy arrays
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    arr = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for name in ("train", "test"):
        with (folder / name).open("wb") as f:
            pickle.dump({b"data": arr, b"fine_labels": [3, 4], b"batch_label": b"x"}, f, 2)
    x, y, _, _ = D.read_cifar100(tmp_path)
    assert y.tolist() == [3, 4] and x.shape == (2, 3, 32, 32)


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({"data": Evil()}))
    with pytest.raises(FormatError, match="not allowed"):
        D.safe_load_pickle(path)
    path.write_bytes(b"garbage that is no pickle")
    with pytest.raises(FormatError, match="not a readable data pickle"):
        D.safe_load_pickle(path)


def test_missing_folder_and_wrong_layout(tmp_path: Path) -> None:
    with pytest.raises(D.DatasetNotFoundError, match="download"):
        D.load_dataset("cifar10", tmp_path)
    with pytest.raises(D.DatasetNotFoundError, match="does not exist"):
        D.load_dataset("cifar10", tmp_path / "nope")
    write_tiny_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FormatError, match="data_batch_3"):
        D.load_dataset("cifar10", tmp_path)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    D.write_batch(folder / "train", np.zeros((2, 100), np.uint8), [0, 1], "fine_labels")
    D.write_batch(folder / "test", np.zeros((2, 100), np.uint8), [0, 1], "fine_labels")
    with pytest.raises(FormatError, match=r"shape \(N, 3072\)"):
        D.load_dataset("cifar100", tmp_path)
    with pytest.raises(UnknownKeyError, match="cifar10-valid"):
        D.load_dataset("mnist", tmp_path)


# -- splits -------------------------------------------------------------------------------------
def test_split_files_are_used(tmp_path: Path) -> None:
    write_tiny_cifar10(tmp_path)
    n = 5 * N_PER_BATCH
    train_idx = list(range(0, n, 2))
    write_split_file(
        tmp_path / "cifar-split.txt", ("train", "valid"), train_idx, list(range(1, n, 2))
    )
    ds = D.load_dataset("cifar10-valid", tmp_path)
    x, _, _, _ = D.read_cifar10(tmp_path)
    assert np.array_equal(ds.train_x, x[train_idx])
    assert ds.splits["x-valid"][0] == "train"
    assert ds.splits["x-valid"][1].tolist() == list(range(1, n, 2))
    assert ds.splits["ori-test"][1].tolist() == list(range(N_TEST))

    write_tiny_cifar100(tmp_path)
    xv, xt = [1, 3, 4, 5], [0, 2, 6, 7]
    write_split_file(tmp_path / "cifar100-test-split.txt", ("xvalid", "xtest"), xv, xt)
    ds = D.load_dataset("cifar100", tmp_path)
    assert ds.splits["x-valid"][1].tolist() == xv and ds.splits["x-test"][1].tolist() == xt
    assert len(ds.train_y) == 40


def test_fallback_split_is_deterministic_and_warns(
    cifar10_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        a = D.load_dataset("cifar10-valid", cifar10_root)
    assert "split file" in caplog.text and "fallback" in caplog.text
    b = D.load_dataset("cifar10-valid", cifar10_root)
    assert np.array_equal(a.train_y, b.train_y)
    tr, va = D.fallback_split(5 * N_PER_BATCH)
    assert len(tr) == len(va) == 40 and not set(tr) & set(va)
    assert D.load_dataset("cifar10", cifar10_root).splits.keys() == {"ori-test"}


def test_imagenet16_split(tmp_path: Path) -> None:
    write_tiny_imagenet16(tmp_path)
    xv = list(range(0, N_TEST, 2))
    xt = list(range(1, N_TEST, 2))
    write_split_file(tmp_path / "imagenet-16-120-test-split.txt", ("xvalid", "xtest"), xv, xt)
    ds = D.load_dataset("ImageNet16-120", tmp_path)
    assert ds.info.image_size == 16 and ds.info.pad == 2 and ds.info.num_classes == 120
    assert ds.splits["x-test"][1].tolist() == xt


def test_bad_split_files(tmp_path: Path) -> None:
    write_tiny_cifar100(tmp_path)
    path = tmp_path / "cifar100-test-split.txt"
    write_split_file(path, ("xvalid", "xtest"), [0, 1], [1, 2])
    with pytest.raises(FormatError, match="overlap"):
        D.load_dataset("cifar100", tmp_path)
    write_split_file(path, ("xvalid", "xtest"), [0, 1], [2, 999])
    with pytest.raises(FormatError, match="0..23"):
        D.load_dataset("cifar100", tmp_path)
    path.write_text('{"xvalid": [0]}')
    with pytest.raises(FormatError, match="keys"):
        D.load_dataset("cifar100", tmp_path)
    path.write_text("{'xvalid': ['int', [0, 1]], 'xtest': ['int', [2, 3]]}")  # Python literal
    assert D.load_dataset("cifar100", tmp_path).splits["x-test"][1].tolist() == [2, 3]


# -- download -----------------------------------------------------------------------------------
def _tiny_archive(tmp_path: Path) -> tuple[Path, str]:
    src = write_tiny_cifar10(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_from_file_url_with_checksum(tmp_path: Path) -> None:
    archive, md5 = _tiny_archive(tmp_path)
    root = tmp_path / "root"
    out = D.download("cifar10-valid", root, url=archive.as_uri(), md5=md5)
    assert out == root / "cifar-10-batches-py"
    assert len(D.load_dataset("cifar10", root).train_y) == 5 * N_PER_BATCH
    assert [p.name for p in root.iterdir()] == ["cifar-10-batches-py"]  # no temp files left
    # an existing folder is kept without fetching anything
    D.download("cifar10", root, opener=lambda u: pytest.fail("must not fetch"))


def test_download_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    archive, _ = _tiny_archive(tmp_path)
    root = tmp_path / "root"
    with pytest.raises(D.DownloadError, match="checksum mismatch"):
        D.download("cifar10", root, url=archive.as_uri(), md5="0" * 32)
    assert list(root.iterdir()) == []
    # a monkeypatched fetch: the official URL and md5 are used by default
    seen = []

    def opener(url: str) -> io.BytesIO:
        seen.append(url)
        return io.BytesIO(b"not the archive")

    with pytest.raises(D.DownloadError, match="c58f30108f718f92721af3b95e74349a"):
        D.download("cifar10", root, opener=opener)
    assert seen == [D.CIFAR_ARCHIVES["cifar10"][0]]

    def failing(url: str) -> io.BytesIO:
        raise OSError("network unreachable")

    with pytest.raises(D.DownloadError, match="network unreachable"):
        D.download("cifar100", root, opener=failing)
    with pytest.raises(UnknownKeyError, match="by hand"):
        D.download("ImageNet16-120", root)


@pytest.mark.parametrize("text", ["hello world", '{"train": [1]', "{train: [1], valid: [2]}"])
def test_a_split_file_that_is_neither_json_nor_a_literal_names_its_form(text: str) -> None:
    # the message of ast.literal_eval named a parser object (<ast.Name object at 0x7f...>)
    from nb201_flat.train.splits import parse_split

    with pytest.raises(FormatError) as exc:
        parse_split(text, ("train", "valid"), "s.txt")
    said = str(exc.value)
    assert said.startswith("s.txt: neither JSON nor a Python literal (JSON stops at line 1, ")
    assert "maps each split to its image indices" in said and " object at 0x" not in said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"train": [' + "9" * 5000 + '], "valid": [1]}', "holds an integer of more than 4,300"),
        ("[" * 100000 + "]" * 100000, "nests arrays or objects thousands deep"),
    ],
)
def test_a_split_file_json_cannot_read_is_one_line(text: str, said: str) -> None:
    # json raised a bare ValueError (past the 4,300-digit limit) or RecursionError
    from nb201_flat.train.splits import parse_split

    with pytest.raises(FormatError, match=f"^s.txt: {said}"):
        parse_split(text, ("train", "valid"), "s.txt")


def test_a_split_of_no_images_is_refused() -> None:
    from nb201_flat.train.splits import parse_split

    with pytest.raises(FormatError, match="'valid' lists no images"):
        parse_split('{"train": ["int", [0]], "valid": ["int", []]}', ("train", "valid"), "s")


def test_data_splits_of_no_images_are_refused_naming_each() -> None:
    # a tiny dataset halved by the fallback split, or ImageNet16 with no image of classes
    # 1..120, evaluated to NaN: the one check names every empty part
    x = np.zeros((2, 3, 16, 16), dtype=np.uint8)
    y = np.zeros(2, dtype=np.int64)
    info = D.dataset_info("ImageNet16-120")
    with pytest.raises(FormatError) as exc:
        D.DataSplits(info, x[:0], y[:0], {"test": (x, y)},
                     {"x-valid": ("test", np.arange(0)), "x-test": ("test", np.arange(2))})  # fmt: skip
    assert str(exc.value).startswith(
        "ImageNet16-120: train, x-valid hold no images (only classes 1..120 are kept); "
    )
    ok = D.DataSplits(info, x, y, {"test": (x, y)}, {"x-test": ("test", np.arange(2))})
    assert len(ok.train_y) == 2
