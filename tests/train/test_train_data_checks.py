"""What a run trains on and stores is checked first (a seventh audit's findings, each
reproduced first): a diverged run is no done run, split files hold image indices only, an
explicit split folder must hold its file, a checkpoint the disk cannot read now is not set
aside as corrupt, download failures are one line, and options that cannot apply are refused."""

from __future__ import annotations

import errno
import http.client
import io
import json
import sqlite3
from pathlib import Path

import pytest
from train_helpers import Crash, crash_after, write_split_file, write_tiny_cifar10

from nb201_flat.errors import (
    ArgumentError,
    DatasetNotFoundError,
    DownloadError,
    FormatError,
    Nb201FlatError,
)
from nb201_flat.train.recipe import Recipe

pytest.importorskip("torch")

from nb201_flat.train import data as D
from nb201_flat.train.jobs import TrainJob, make_jobs
from nb201_flat.train.splits import parse_split
from nb201_flat.train.trainer import train

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def _jobs(root: Path, out: Path, **kw: object) -> list[TrainJob]:
    args: dict[str, object] = {
        "dataset": "cifar10-valid", "epochs": 1, "seeds": [777], "data_root": root,
        "db_path": out / "r.sqlite", "c": 2, "n": 1, "device": "cpu", "threads": 1,
        "recipe": Recipe(epochs=1, batch_size=16), **kw,
    }  # fmt: skip
    return make_jobs([ARCH], **args)  # type: ignore[arg-type]


def _statuses(db: Path) -> list[str]:
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        return [str(r[0]) for r in con.execute("SELECT status FROM runs")]
    finally:
        con.close()


def test_a_run_whose_evaluation_diverged_is_no_done_run(tmp_path: Path) -> None:
    # the last update left the weights non-finite while the training loss, measured before
    # each update, stayed finite: NaN losses were stored and the run marked done
    from nb201_flat.train.grouped_run import train_group

    root = write_tiny_cifar10(tmp_path / "data")
    wild = Recipe(epochs=1, batch_size=16, lr=1e4)
    (job,) = _jobs(root, tmp_path / "one", recipe=wild)
    with pytest.raises(Nb201FlatError, match=r"x-valid loss became nan at epoch 1"):
        train(job)
    assert "done" not in _statuses(tmp_path / "one" / "r.sqlite")
    group = _jobs(root, tmp_path / "group", recipe=wild, seeds=[777, 778])
    with pytest.raises(Nb201FlatError, match=r"loss became nan at epoch 1"):
        train_group(group)
    assert "done" not in _statuses(tmp_path / "group" / "r.sqlite")


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (["int", "345"], r"'a' is not a list of image indices"),  # read digit by digit
        ([0.9, 1.9], r"'a' holds 0.9, not an image index"),  # truncated to [0, 1]
        ([True, 2], r"'a' holds True, not an image index"),  # read as 1
        ({"1": 0}, r"'a' is not a list of image indices"),  # read by its keys
        ([-1], r"'a' holds -1, not an image index"),
        ([10**20], r"'a' holds an index past any dataset's size"),  # a bare OverflowError
    ],
)
def test_a_split_file_holds_image_indices_only(value: object, said: str) -> None:
    text = json.dumps({"a": value, "b": [5]})
    with pytest.raises(FormatError, match=said):
        parse_split(text, ("a", "b"), "f")


def test_a_plain_list_of_two_indices_is_read_as_those_indices(tmp_path: Path) -> None:
    # ["10", "23"] was taken for NB201's ["int", value] form and read as [2, 3]
    a, b = parse_split('{"a": ["10", "23"], "b": ["int", ["4", 5]]}', ("a", "b"), "f")
    assert (a.tolist(), b.tolist()) == ([10, 23], [4, 5])
    bad = tmp_path / "cifar-split.txt"
    bad.write_bytes(b'{"train": [0], "valid": [1]}\xff')  # a bare UnicodeDecodeError
    with pytest.raises(FormatError, match=r"is no NB201 split file: byte 28 is not UTF-8"):
        D.read_split_file(bad, ("train", "valid"))


def test_an_explicit_split_folder_must_hold_its_file(tmp_path: Path) -> None:
    # the library fell back to the rng-201 split with a log line (none with warn=False) and
    # stored the run as done
    root = write_tiny_cifar10(tmp_path / "data")
    typo = tmp_path / "splits_typo"
    typo.mkdir()
    with pytest.raises(DatasetNotFoundError, match="^split_dir .*splits_typo has no cifar-split"):
        D.load_dataset("cifar10-valid", root, split_dir=typo, warn=False)
    (job,) = _jobs(root, tmp_path, split_dir=typo)
    with pytest.raises(DatasetNotFoundError, match="has no cifar-split.txt"):
        train(job)
    assert "done" not in _statuses(tmp_path / "r.sqlite")
    write_split_file(typo / "cifar-split.txt", ("train", "valid"), list(range(40)), list(range(40, 80)))  # fmt: skip
    assert len(D.load_dataset("cifar10-valid", root, split_dir=typo, warn=False).train_y) > 0


def test_a_checkpoint_the_disk_cannot_read_now_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EIO while reading was taken for corruption: both good checkpoints set aside, the run
    # restarted at 0 and its stored epochs deleted
    root = write_tiny_cifar10(tmp_path / "data")
    (job,) = _jobs(root, tmp_path, epochs=3, recipe=Recipe(epochs=3, batch_size=16))
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(2))
    files = sorted(p.name for p in job.checkpoint_folder.iterdir())
    rows = _rows(job.db_path)
    real = Path.read_bytes

    def failing(self: Path) -> bytes:
        if self.name.startswith("epoch-") and self.suffix == ".pt":
            raise OSError(errno.EIO, "Input/output error", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", failing)
    with pytest.raises(Nb201FlatError, match=r"cannot be read now \(Input/output error\)"):
        train(job)
    monkeypatch.setattr(Path, "read_bytes", real)
    assert sorted(p.name for p in job.checkpoint_folder.iterdir()) == files
    assert _rows(job.db_path) == rows
    assert train(job).status == "done"  # the disk back: resumed, not restarted


def _rows(db: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM epochs").fetchone()[0])
    finally:
        con.close()


def test_a_download_failure_is_one_line(tmp_path: Path) -> None:
    class Cut(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise http.client.IncompleteRead(b"partial", 100)

    with pytest.raises(DownloadError, match="failed: ValueError: unknown url type"):
        D.download("cifar10", tmp_path / "a", url="www.example.org/cifar.tar.gz")
    with pytest.raises(DownloadError, match="failed: IncompleteRead"):
        D.download("cifar10", tmp_path / "b", opener=lambda u: Cut(b""))
    assert not any((tmp_path / "b").iterdir())  # nothing left behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(DownloadError, match=r"^cannot make the data root .*file"):
        D.download("cifar10", tmp_path / "file", opener=lambda u: io.BytesIO(b""))


def test_options_that_cannot_apply_to_a_cpu_job_are_refused(tmp_path: Path) -> None:
    # compile and channels_last were ignored on the CPU and split the results key of the same
    # numbers; crop_pad past the image side trained on padding (10**6: a bare allocation error)
    for option in ({"compile": False}, {"channels_last": True}):
        with pytest.raises(ArgumentError, match=r"applies only on CUDA .* the device is cpu"):
            _jobs(tmp_path, tmp_path, mode="fast", **option)
    with pytest.raises(ArgumentError, match=r"^recipe crop_pad=32 pads 32-pixel images"):
        _jobs(tmp_path, tmp_path, recipe=Recipe(epochs=1, crop_pad=32))
    assert _jobs(tmp_path, tmp_path, recipe=Recipe(epochs=1, crop_pad=31))


def test_an_auto_job_placed_on_the_cpu_is_not_refused_there(tmp_path: Path) -> None:
    # the CPU check ran again when an executor placed an 'auto' job: map() itself raised
    from nb201_flat.train.executors import LocalExecutor, distinct_runs
    from nb201_flat.train.jobs import JobResult

    (job,) = _jobs(tmp_path, tmp_path, device="auto", mode="fast", compile=True)

    def done(j: TrainJob) -> JobResult:
        return JobResult(j, "done", {}, 0.0)

    res = LocalExecutor(devices=["cpu"], processes=False, run=done).map([job])
    assert res[0].status == "done" and res[0].job.device == "cpu"
    # one run written with a relative and an absolute database path is one run, not two
    import dataclasses
    import os

    twin = dataclasses.replace(job, db_path=os.path.abspath(job.db_path))
    assert distinct_runs([job, twin], [0, 1]) == ([0], {1: 0})


def test_the_fewest_resamples_are_exact_at_any_level() -> None:
    from nb201_flat.errors import check_resamples

    assert check_resamples(20_000, 0.9999, 2000) == 20_000  # 2/(1-c) read 20000.0000000022
    with pytest.raises(ArgumentError, match=r"at least 20000 .*got 19999; pass 20000 or more"):
        check_resamples(19_999, 0.9999, 2000)
