"""The train command reads what it is given as given (a sixth audit's findings, each
reproduced first): cells in ASCII digits only, and labels that are integers (a cluster
worker's absolute paths: test_train_executors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb201_flat.cli import main

TRAIN = ["--dataset", "cifar10", "--epochs", "1", "--C", "2", "--N", "1", "--device", "cpu"]


@pytest.mark.parametrize("cell", ["²", "５"])
def test_train_takes_ascii_digits_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cell: str
) -> None:
    pytest.importorskip("torch")
    # '²' met int()'s ValueError (exit 1); '５' trained cell 5
    argv = ["train", cell, *TRAIN, "--data-root", str(tmp_path), "--db", str(tmp_path / "r.sqlite")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"non-ASCII or control character {cell!r}" in err  # not a missing data root
    assert not (tmp_path / "r.sqlite").exists()


def test_labels_that_are_no_integers_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from train_helpers import write_tiny_cifar10

    from nb201_flat.errors import FormatError
    from nb201_flat.train.data import load_dataset, write_batch

    root = write_tiny_cifar10(tmp_path / "data")
    batch = root / "cifar-10-batches-py" / "data_batch_1"
    import io
    import pickle

    from nb201_flat.train.data import safe_load_pickle

    obj = safe_load_pickle(io.BytesIO(batch.read_bytes()))
    for bad in (3.7, float("nan")):  # 3.7 was read as 3; NaN met a bare ValueError
        labels = [bad, *obj["labels"][1:]]
        buf = io.BytesIO()
        pickle.dump({"labels": labels, "data": obj["data"]}, buf, 2)
        batch.write_bytes(buf.getvalue())
        with pytest.raises(FormatError, match="'labels' must hold integer labels, got float64"):
            load_dataset("cifar10", root)
    write_batch(batch, obj["data"], obj["labels"], "labels")
    assert len(load_dataset("cifar10", root).train_y) > 0
