"""What a run was trained on, to the byte: the data digest, and every place it is checked.

A run's numbers depend on the dataset files and on the split that cuts the evaluated halves,
none of which is in the results key. The digest of those bytes is recorded with every finished
run and checkpoint, and a run refuses other bytes than its campaign checked, than its
checkpoints were trained on, or than the stored run it would count as done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from train_helpers import (
    Crash,
    crash_after,
    write_split_file,
    write_tiny_cifar10,
    write_tiny_cifar100,
    write_tiny_imagenet16,
)

from nb201_flat.cli import main
from nb201_flat.errors import DataMismatchError, FormatError
from nb201_flat.train import data as data_mod
from nb201_flat.train import splits as splits_mod
from nb201_flat.train.data import (
    DATA_FILES,
    DataIdentity,
    dataset_identity,
    dataset_info,
    load_dataset,
    write_batch,
)
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.recipe import Recipe
from nb201_flat.train.results_db import ResultsDB

WRITERS = {
    "cifar10-valid": write_tiny_cifar10,
    "cifar10": write_tiny_cifar10,
    "cifar100": write_tiny_cifar100,
    "ImageNet16-120": write_tiny_imagenet16,
}
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _as_official(monkeypatch: pytest.MonkeyPatch, name: str, root: Path) -> None:
    """Declare ``root``'s files the official ones, and their image counts NB201's."""
    info = dataset_info(name)
    folder = next(p for p in root.iterdir() if p.is_dir())
    files = [f for names in DATA_FILES[info.source] for f in names]
    md5s = {**data_mod.OFFICIAL_MD5, info.source: {f: _md5(folder / f) for f in files}}
    monkeypatch.setattr(data_mod, "OFFICIAL_MD5", md5s)
    got = load_dataset(name, root)
    n_train = len(got.sources["train"][1]) if "train" in got.sources else len(got.train_y)
    counts = {**splits_mod.NB201_COUNTS, name: (n_train, len(got.sources["test"][1]))}
    monkeypatch.setattr(splits_mod, "NB201_COUNTS", counts)


def _rewrite_one_label(folder: Path, fname: str, label_key: str) -> None:
    """The same file with its first label changed (ImageNet16's stay within 1..120)."""
    obj = pickle.loads((folder / fname).read_bytes())  # a file this test wrote
    labels = list(obj[label_key])
    labels[0] = labels[0] % 120 + 1 if folder.name == "ImageNet16" else (labels[0] + 1) % 10
    write_batch(folder / fname, obj["data"], labels, label_key)


@pytest.mark.parametrize("name", list(WRITERS))
def test_the_digest_without_reading_equals_the_digest_of_the_bytes_read(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = WRITERS[name](tmp_path / "data")
    read = load_dataset(name, root).identity
    assert isinstance(read, DataIdentity) and len(read.digest) == 64 and not read.official
    assert dataset_identity(name, root) == read  # other files: read through, same digest
    # files declared official are hashed only, never unpickled, and give the same digest
    _as_official(monkeypatch, name, root)
    assert load_dataset(name, root).identity.digest == read.digest  # type: ignore[union-attr]

    def no_reading(*a: object, **k: object) -> None:
        raise AssertionError("official files were read")

    monkeypatch.setattr(data_mod, "_MD5_SEEN", {})
    monkeypatch.setattr(data_mod, "_IDENTITY_SEEN", {})
    monkeypatch.setattr(data_mod, "load_dataset", no_reading)
    assert dataset_identity(name, root).digest == read.digest


@pytest.fixture(autouse=True)
def _nothing_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    # each test finds identities afresh (the process-wide memory is tested on its own)
    monkeypatch.setattr(data_mod, "_IDENTITY_SEEN", {})


def test_other_files_are_read_once_per_process_until_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tiny_cifar100(tmp_path / "data")
    reads: list[str] = []
    real = data_mod.load_dataset

    def counting(name: str, *a: object, **k: object) -> object:
        reads.append(name)
        return real(name, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(data_mod, "load_dataset", counting)
    first = dataset_identity("cifar100", root)
    assert dataset_identity("cifar100", root) == first and reads == ["cifar100"]
    _rewrite_one_label(root / "cifar-100-python", "train", "fine_labels")
    second = dataset_identity("cifar100", root)
    assert second != first and len(reads) == 2
    # a split file put beside the data is seen too
    write_split_file(root / "cifar100-test-split.txt", ("xvalid", "xtest"), [0, 1], [2, 3])
    assert dataset_identity("cifar100", root) not in (first, second) and len(reads) == 3


def test_official_means_the_official_files_and_nb201s_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tiny_cifar10(tmp_path / "data")
    _as_official(monkeypatch, "cifar10", root)
    assert dataset_identity("cifar10", root).official  # no split: the files decide
    # cifar10-valid's split: the tiny set has 80 train images, not NB201's 50,000, so the
    # deterministic fallback cuts it, not NB201's file
    _as_official(monkeypatch, "cifar10-valid", root)
    assert not dataset_identity("cifar10-valid", root).official


def test_official_files_with_nb201s_split_are_official(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CIFAR-100 with NB201's 10,000 test images, so the packaged split cuts them
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "cifar-100-python"
    folder.mkdir(parents=True)
    for fname, n in (("train", 40), ("test", 10_000)):
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        write_batch(folder / fname, x, rng.integers(0, 100, n), "fine_labels")
    root = tmp_path / "data"
    read = load_dataset("cifar100", root).identity
    assert read is not None and not read.official  # not the official files
    md5s = {f: _md5(folder / f) for f in ("train", "test")}
    monkeypatch.setattr(data_mod, "OFFICIAL_MD5", {**data_mod.OFFICIAL_MD5, "cifar100": md5s})
    found = dataset_identity("cifar100", root)
    assert found.official and found.digest == read.digest
    assert load_dataset("cifar100", root).identity == found
    # NB201's split given as a file: the same halves, the same identity
    from nb201_flat.train.splits import packaged_split_bytes

    split_dir = tmp_path / "splits"
    split_dir.mkdir()
    (split_dir / "cifar100-test-split.txt").write_bytes(
        packaged_split_bytes("cifar100-test-split.txt")
    )
    assert dataset_identity("cifar100", root, split_dir) == found


@pytest.mark.parametrize(
    ("name", "sub", "fname", "key"),
    [
        ("cifar10", "cifar-10-batches-py", "data_batch_3", "labels"),
        ("cifar100", "cifar-100-python", "test", "fine_labels"),
        ("ImageNet16-120", "ImageNet16", "val_data", "labels"),
    ],
)
def test_any_changed_file_changes_the_digest(
    name: str, sub: str, fname: str, key: str, tmp_path: Path
) -> None:
    root = WRITERS[name](tmp_path / "data")
    before = dataset_identity(name, root)
    _rewrite_one_label(root / sub, fname, key)
    after = dataset_identity(name, root)
    assert after != before
    assert load_dataset(name, root).identity == after


def test_the_split_is_part_of_the_digest(tmp_path: Path) -> None:
    root = write_tiny_cifar100(tmp_path / "data")
    fallback = dataset_identity("cifar100", root)
    split_dir = tmp_path / "splits"
    split_dir.mkdir()
    a, b = list(range(0, 24, 2)), list(range(1, 24, 2))
    write_split_file(split_dir / "cifar100-test-split.txt", ("xvalid", "xtest"), a, b)
    mine = dataset_identity("cifar100", root, split_dir)
    assert mine != fallback
    assert load_dataset("cifar100", root, split_dir=split_dir).identity == mine
    write_split_file(split_dir / "cifar100-test-split.txt", ("xvalid", "xtest"), b, a)
    assert dataset_identity("cifar100", root, split_dir) not in (mine, fallback)


def test_a_corrupt_file_fails_once_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    root = write_tiny_cifar10(tmp_path / "data")
    batch = root / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-100])  # truncated: a broken copy
    with pytest.raises(FormatError, match="data_batch_2"):
        dataset_identity("cifar10", root)
    db = tmp_path / "r.sqlite"
    argv = ["train", "11472", "--dataset", "cifar10", "--data-root", str(root), "--db", str(db),
            "--device", "cpu", "--C", "2", "--N", "1", "--epochs", "1", "--executor", "inline"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "data_batch_2" in err[0], err
    assert not db.exists()  # refused before anything was written


# -- training ---------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
from nb201_flat.train.checkpoint import write_checkpoint  # noqa: E402
from nb201_flat.train.trainer import train  # noqa: E402

RECIPE = Recipe(epochs=3, batch_size=16)


def _job(root: Path, out: Path, **kw: object) -> object:
    job = make_jobs([ARCH], dataset="cifar10", epochs=3, seeds=[777], data_root=root,
                    db_path=out / "r.sqlite", recipe=RECIPE, c=2, n=1, device="cpu",
                    threads=1)[0]  # fmt: skip
    return dataclasses.replace(job, **kw)  # type: ignore[arg-type]


def test_a_finished_run_records_its_data(tmp_path: Path) -> None:
    from nb201_flat.importers.results_db import read_results_db

    root = write_tiny_cifar10(tmp_path / "data")
    ident = dataset_identity("cifar10", root)
    assert train(_job(root, tmp_path)).status == "done"  # type: ignore[arg-type]
    frame = ResultsDB(tmp_path / "r.sqlite", readonly=True).runs_frame()
    assert frame["data_digest"].tolist() == [ident.digest]
    assert frame["data_official"].tolist() == [False]
    meta = read_results_db(tmp_path / "r.sqlite").meta["data"]
    assert meta == {"cifar10": {"digest": ident.digest, "official": False, "runs": 1, "unrecorded": 0}}  # fmt: skip


def test_files_changed_under_a_campaign_are_refused(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path / "data")
    job = _job(root, tmp_path, data_identity="0" * 64)  # what the campaign had found
    with pytest.raises(DataMismatchError, match="changed after this campaign checked them"):
        train(job)  # type: ignore[arg-type]
    assert not ResultsDB(tmp_path / "r.sqlite").is_done(job.key)  # type: ignore[attr-defined]


def test_a_checkpoint_of_other_data_is_not_resumed(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path / "data")
    job = _job(root, tmp_path)
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))  # type: ignore[arg-type]
    _rewrite_one_label(root / "cifar-10-batches-py", "data_batch_1", "labels")
    with pytest.raises(DataMismatchError, match="checkpoints in .* were trained on other data"):
        train(job)  # type: ignore[arg-type]
    # a checkpoint written before digests were (no "data" entry) still resumes
    ckpt = job.checkpoint_folder / "epoch-0001.pt"  # type: ignore[attr-defined]
    state = torch.load(ckpt, weights_only=True)
    del state["data"]
    write_checkpoint(ckpt, state)
    with pytest.raises(Crash):  # resumed twice: the second resume remembers the first's gap
        train(job, on_epoch_end=crash_after(2))  # type: ignore[arg-type]
    assert train(job).status == "done"  # type: ignore[arg-type]
    # ...and its earlier epochs' data is unknown: the run's data is unrecorded, not these files'
    frame = ResultsDB(tmp_path / "r.sqlite", readonly=True).runs_frame()
    assert frame["data_digest"].tolist() == [None]


def test_an_unfinished_run_s_data_holds_the_db_to_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the digest was stored only when a run finished: a campaign on other files was let in,
    # after which the unfinished run resumed on neither set of files
    root = write_tiny_cifar10(tmp_path / "data")
    job = _job(root, tmp_path)
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))  # type: ignore[arg-type]
    db = ResultsDB(tmp_path / "r.sqlite", readonly=True)
    assert db.data_digests() == {job.key: dataset_identity("cifar10", root).digest}  # type: ignore[attr-defined]
    db.close()
    other = write_tiny_cifar10(tmp_path / "other", seed=5)
    argv = ["train", "5", "--dataset", "cifar10", "--data-root", str(other), "--db",
            str(tmp_path / "r.sqlite"), "--device", "cpu", "--C", "2", "--N", "1", "--epochs",
            "1", "--executor", "inline"]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained on other data" in err[0], err
    assert train(job).status == "done"  # type: ignore[arg-type]  # on its own files


def test_a_stored_run_of_other_data_is_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "r.sqlite"
    base = ["train", ARCH, "--dataset", "cifar10", "--data-root", str(root), "--db", str(db),
            "--device", "cpu", "--C", "2", "--N", "1", "--epochs", "1"]  # fmt: skip
    assert main([*base, "--executor", "inline"]) == 0
    capsys.readouterr()
    assert main([*base, "--executor", "inline", "--json"]) == 0  # same files: skipped
    doc = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in doc["runs"]] == ["skipped"]
    assert doc["data"] == {"digest": dataset_identity("cifar10", root).digest, "official": False}
    _rewrite_one_label(root / "cifar-10-batches-py", "test_batch", "labels")
    before = db.read_bytes()
    for executor in ("inline", "local"):  # the inline path and the executors' own skip
        assert main([*base, "--executor", executor]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "trained on other data" in err[0], err
    assert db.read_bytes() == before


def test_grouped_and_concurrent_runs_record_their_data(tmp_path: Path) -> None:
    from nb201_flat.train.concurrent_run import train_concurrent
    from nb201_flat.train.grouped_run import train_group

    def stop(*args: object) -> None:  # after the first epoch is stored, either callback
        if args[-2] == 1:
            raise Crash

    root = write_tiny_cifar10(tmp_path / "data")
    ident = dataset_identity("cifar10", root)
    grouped = make_jobs([ARCH], dataset="cifar10", epochs=2, seeds=[1, 2], data_root=root,
                        db_path=tmp_path / "g.sqlite", recipe=RECIPE.with_epochs(2), c=2, n=1, device="cpu")  # fmt: skip
    together = make_jobs([ARCH, 11472], dataset="cifar10", epochs=2, seeds=[1], data_root=root,
                         db_path=tmp_path / "c.sqlite", recipe=RECIPE.with_epochs(2), c=2, n=1, device="cpu")  # fmt: skip
    # unfinished: every epoch row stored records its run's data (a concurrent unit's crash
    # comes after its first member's epoch 1, a group's after all of its members')
    with pytest.raises(Crash):
        train_group(grouped, on_epoch_end=stop)
    with pytest.raises(Crash):
        train_concurrent(together, on_epoch_end=stop)
    for name, jobs in (("g.sqlite", grouped), ("c.sqlite", together)):
        db = ResultsDB(tmp_path / name, readonly=True)
        got = db.data_digests()
        assert set(got.values()) == {ident.digest}, name
        assert jobs[0].key in got and set(got) <= {j.key for j in jobs}, name
        assert len(got) == 2 or name == "c.sqlite", name
        db.close()
    assert [r.status for r in train_group(grouped)] == ["done", "done"]
    assert [r.status for r in train_concurrent(together)] == ["done", "done"]
    for name in ("g.sqlite", "c.sqlite"):
        frame = ResultsDB(tmp_path / name, readonly=True).runs_frame()
        assert frame["data_digest"].tolist() == [ident.digest] * 2, name


def test_a_database_mixing_two_datas_of_one_dataset_is_not_one_table(tmp_path: Path) -> None:
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.space import NB201

    path = tmp_path / "r.sqlite"
    db = ResultsDB(path)
    for i, digest in enumerate(("a" * 64, "b" * 64)):
        key = ("nb201", str(NB201.arch(i)), "cifar10", 1, 777)
        db.write_epoch(key, i, 1, {"train": (2.0, 10.0, 1.0), "ori-test": (2.0, 10.0, 0.1)})
        db.mark_run(key, i, "done", data=DataIdentity(digest, False))
    db.close()
    with pytest.raises(FormatError, match="trained on different data"):
        read_results_db(path)
    # files of earlier versions: no run_data table, digests unrecorded, still importable (a
    # file of this version records its tables in meta, and one of them missing is damage)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE run_data")
    con.execute("DELETE FROM meta WHERE key LIKE 'legacy_upto:%'")
    con.commit()
    con.close()
    meta = read_results_db(path).meta["data"]
    assert meta == {"cifar10": {"digest": None, "official": None, "runs": 0, "unrecorded": 2}}
    assert ResultsDB(path, readonly=True).runs_frame()["data_digest"].tolist() == [None, None]
    assert np.all(ResultsDB(path, readonly=True).runs_frame()["data_official"].isna())


def test_a_group_refuses_a_members_checkpoints_of_other_data(tmp_path: Path) -> None:
    from nb201_flat.train.concurrent_run import train_concurrent
    from nb201_flat.train.grouped_run import train_group

    root = write_tiny_cifar10(tmp_path / "data")
    group = make_jobs([ARCH], dataset="cifar10", epochs=3, seeds=[1, 2], data_root=root,
                      db_path=tmp_path / "r.sqlite", recipe=RECIPE, c=2, n=1, device="cpu")  # fmt: skip
    with pytest.raises(Crash):  # only the first member has checkpoints
        train(group[0], on_epoch_end=crash_after(2))
    _rewrite_one_label(root / "cifar-10-batches-py", "data_batch_1", "labels")
    kept = sorted(p.name for p in group[0].checkpoint_folder.iterdir())
    with pytest.raises(DataMismatchError, match="trained on other data"):
        train_group(group)  # not discarded as the member's lead over the group
    assert sorted(p.name for p in group[0].checkpoint_folder.iterdir()) == kept
    pair = [group[0], make_jobs([11472], dataset="cifar10", epochs=3, seeds=[1], data_root=root,
                                db_path=tmp_path / "r.sqlite", recipe=RECIPE, c=2, n=1,
                                device="cpu")[0]]  # fmt: skip
    # its run's digest in the database would refuse the other member's first write too (one
    # set of files per dataset): the member's checkpoints alone are of other data here
    ResultsDB(tmp_path / "r.sqlite").delete_run(group[0].key)
    # a concurrent unit: that member fails alone, with its error, and the other trains
    res = train_concurrent(pair)
    assert [r.status for r in res] == ["failed", "done"], res
    assert "DataMismatchError" in (res[0].error or "") and "trained on other data" in res[0].error


def test_one_database_holds_one_data_per_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "r.sqlite"

    def argv(cell: str, *extra: str) -> list[str]:
        return ["train", cell, "--dataset", "cifar10", "--data-root", str(root), "--db", str(db),
                "--device", "cpu", "--C", "2", "--N", "1", "--epochs", "1", *extra]  # fmt: skip

    assert main(argv(ARCH, "--executor", "inline")) == 0
    _rewrite_one_label(root / "cifar-10-batches-py", "test_batch", "labels")
    capsys.readouterr()
    before = db.read_bytes()
    # another cell on the changed files: refused before it trains, bars or not
    for extra in (("--executor", "inline"), ("--executor", "inline", "--progress")):
        assert main(argv("11472", *extra)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--db" in err[0] and "other data" in err[0], err
    assert db.read_bytes() == before
    # another dataset name is no conflict
    c100 = write_tiny_cifar100(tmp_path / "data")
    more = ["train", "11472", "--dataset", "cifar100", "--data-root", str(c100), "--db", str(db),
            "--device", "cpu", "--C", "2", "--N", "1", "--epochs", "1", "--executor", "inline"]  # fmt: skip
    assert main(more) == 0


def test_a_stored_run_is_skipped_where_the_data_is_absent(tmp_path: Path) -> None:
    from nb201_flat.train.executors import LocalExecutor

    root = write_tiny_cifar10(tmp_path / "data")
    job = _job(root, tmp_path)
    assert train(job).status == "done"  # type: ignore[arg-type]
    # a host that only collects results: no data there, no digest carried
    elsewhere = dataclasses.replace(job, data_root=str(tmp_path / "absent"))  # type: ignore[arg-type]
    (res,) = LocalExecutor(processes=False).map([elsewhere])
    assert res.status == "skipped"


def test_a_data_mismatch_is_not_retried(tmp_path: Path) -> None:
    from nb201_flat.train.executors import LocalExecutor

    root = write_tiny_cifar10(tmp_path / "data")
    job = _job(root, tmp_path, data_identity="0" * 64)
    (res,) = LocalExecutor(processes=False, retries=3).map([job])  # type: ignore[list-item]
    assert res.status == "failed" and res.attempts == 1
    assert res.error is not None and "DataMismatchError" in res.error
    # every executor's task answers it as a failed result: dask and Slurm retry what raises
    from nb201_flat.train.executors import _run_unit
    from nb201_flat.train.grouped_run import run_group
    from nb201_flat.train.trainer import run_job

    (res,) = _run_unit([job], run_job, run_group)  # type: ignore[list-item]
    assert res.status == "failed" and "DataMismatchError" in str(res.error)


def test_an_executor_answers_a_stored_run_of_other_data_per_job(tmp_path: Path) -> None:
    from nb201_flat.train.executors import LocalExecutor

    root = write_tiny_cifar100(write_tiny_cifar10(tmp_path / "data"))
    (stored,) = make_jobs([ARCH], dataset="cifar10", epochs=1, seeds=[777],
                          data_root=root, db_path=tmp_path / "r.sqlite", recipe=RECIPE.with_epochs(1),
                          c=2, n=1, device="cpu")  # fmt: skip
    assert train(stored).status == "done"
    _rewrite_one_label(root / "cifar-10-batches-py", "test_batch", "labels")
    # another job of cifar10 would be refused at its first write (one set of files per dataset
    # in a database): the other runs are of another dataset
    (other,) = make_jobs([11472], dataset="cifar100", epochs=1, seeds=[777],
                         data_root=root, db_path=tmp_path / "r.sqlite", recipe=RECIPE.with_epochs(1),
                         c=2, n=1, device="cpu")  # fmt: skip
    # a Python-API campaign (the CLI refuses it earlier): that job fails, the others still run
    refused, trained = LocalExecutor(processes=False, retries=3).map([stored, other])
    assert (refused.status, refused.attempts) == ("failed", 0)
    assert refused.error is not None and "trained on other data" in refused.error
    assert trained.status == "done"


def test_a_fresh_start_drops_an_earlier_attempts_epochs(tmp_path: Path) -> None:
    import shutil

    from nb201_flat.train.results_db import load_curves

    root = write_tiny_cifar10(tmp_path / "data")
    job = _job(root, tmp_path)
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(2))
    shutil.rmtree(job.checkpoint_folder)  # type: ignore[attr-defined]  # "moved away"
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))
    assert set(load_curves(tmp_path / "r.sqlite")["epoch"]) == {1}
