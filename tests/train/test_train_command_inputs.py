"""The train command reads what it is given as given (a sixth audit's findings, each
reproduced first): cells in ASCII digits only, labels that are integers, and absolute paths
for a cluster's workers."""

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


def test_a_cluster_gets_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nb201_flat.cli.train import paths_for_workers

    monkeypatch.chdir(tmp_path)
    given = {"data_root": "data", "db_path": "r.sqlite", "ckpt_dir": None, "seeds": [1]}
    # a dask worker resolved them in its own folder: its results landed there
    for executor in ("dask://host:8786", "slurm"):
        out = paths_for_workers(given, executor)
        assert out == {
            **given,
            "data_root": str(tmp_path / "data"),
            "db_path": str(tmp_path / "r.sqlite"),
        }
    assert paths_for_workers(given, "local") == given == paths_for_workers(given, "inline")
