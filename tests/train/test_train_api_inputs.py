"""What a notebook user passes to the training API by mistake: a single cell or seed where a list
is asked for, a fractional or negative seed or epoch count, a repeated seed. Each is one
ArgumentError naming the parameter and the fix, as the train command's refusals are, never a
bare TypeError or a silently truncated number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError, InvalidArchError, UnknownKeyError
from nb201_flat.space import NB201
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.recipe import recipe_for

KW = {"dataset": "cifar10", "epochs": 1, "data_root": "d", "db_path": "r.sqlite"}


@pytest.mark.parametrize("archs", [NB201.arch(5), NB201.arch(5).to_str(), 5, np.int64(5)], ids=repr)
def test_one_cell_given_bare_is_refused_naming_a_list(archs: object) -> None:
    with pytest.raises(
        ArgumentError, match=r"^archs must be a sequence of cells .*; pass a list, e\.g\. \["
    ):
        make_jobs(archs, seeds=[0], **KW)  # type: ignore[arg-type]


def test_a_frame_of_cells_is_refused_not_read_by_its_column_names() -> None:
    import pandas as pd

    # iterating a DataFrame gives its column names: "index" was then parsed as a cell
    frame = pd.DataFrame({"index": [5, 6]})
    with pytest.raises(ArgumentError, match=r"^archs must be a sequence of cells .*DataFrame"):
        make_jobs(frame, seeds=[0], **KW)  # type: ignore[arg-type]
    assert [j.index for j in make_jobs(frame["index"], seeds=[0], **KW)] == [5, 6]


@pytest.mark.parametrize("seeds", [0, np.int64(3), None], ids=repr)
def test_one_seed_given_bare_is_refused_naming_a_list(seeds: object) -> None:
    with pytest.raises(ArgumentError, match=r"^seeds must be a sequence of training seeds"):
        make_jobs([5], seeds=seeds, **KW)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1.5, -1, 2**63, True, "7"], ids=repr)
def test_a_seed_no_run_could_use_is_refused(seed: object) -> None:
    # 1.5 was trained as seed 1, -1 and 2**63 reached torch and the database, "7" passed
    with pytest.raises(ArgumentError, match=r"^seeds must lie in 0\.\.9223372036854775807"):
        make_jobs([5], seeds=[seed], **KW)


def test_a_repeated_seed_is_refused() -> None:
    with pytest.raises(ArgumentError, match=r"^seeds repeats 3; give each seed once$"):
        make_jobs([5], seeds=[3, 4, 3], **KW)


@pytest.mark.parametrize(
    ("archs", "said"),
    [
        ([5, 6, 5], "cell 5 (as 5, 5)"),
        ([NB201.arch(7).to_str(), 7], f"cell 7 (as '{NB201.arch(7).to_str()[:20]}"),
        ([np.int64(9), NB201.arch(9)], "cell 9 (as "),
    ],
    ids=["index twice", "string and index", "index and Arch"],
)
def test_a_repeated_cell_is_refused_by_its_index(archs: list[object], said: str) -> None:
    # it made every job of the cell twice: the second would find the first's lock or record
    with pytest.raises(ArgumentError, match=r"^archs repeats cell \d+ \(as ") as info:
        make_jobs(archs, seeds=[0], **KW)  # type: ignore[arg-type]
    assert said in str(info.value) and str(info.value).endswith("; give each cell once")


def test_seeds_of_any_integer_kind_are_kept_as_ints() -> None:
    jobs = make_jobs([5, 6], seeds=np.array([777, 888]), **KW)
    assert [(j.index, j.seed) for j in jobs] == [(5, 777), (5, 888), (6, 777), (6, 888)]
    assert all(type(j.seed) is int for j in jobs)


@pytest.mark.parametrize("epochs", [1.5, "12", 0])
def test_an_epoch_count_that_is_not_a_whole_positive_number_is_refused(epochs: object) -> None:
    # recipe_for(1.5) built a one-epoch schedule
    with pytest.raises(ArgumentError, match=r"^epochs must lie in 1\.\."):
        recipe_for(epochs)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"^epochs must lie in 1\.\."):
        make_jobs([5], seeds=[0], **{**KW, "epochs": epochs})


def test_a_whole_float_epoch_count_is_that_count() -> None:
    assert recipe_for(12.0).epochs == 12
    (job,) = make_jobs([5], seeds=[0], **{**KW, "epochs": np.int64(12)})
    assert job.epochs == 12 and type(job.recipe.epochs) is int


def test_a_network_is_built_from_an_index_or_string_as_from_its_arch() -> None:
    pytest.importorskip("torch")
    from nb201_flat.train.model import Network

    arch = NB201.arch(13714)
    want = Network.from_arch(arch, c=2, n=1).params_mb()
    for given in (13714, np.int64(13714), arch.to_str()):  # int: an AttributeError on .ops
        assert Network.from_arch(given, c=2, n=1).params_mb() == want  # type: ignore[arg-type]
    with pytest.raises(InvalidArchError, match="out of range"):
        Network.from_arch(NB201.size, c=2, n=1)


def test_data_splits_show_sizes_not_their_arrays(cifar10_root: Path) -> None:
    from nb201_flat.train.data import load_dataset

    splits = load_dataset("cifar10", cifar10_root, warn=False)
    text = repr(splits)
    assert "\n" not in text and len(text) < 300, text  # was 300 lines of image arrays
    n_test = len(splits.splits["ori-test"][1])
    assert text.startswith(f"<DataSplits 'cifar10': {len(splits.train_y)} training images 3x32x32")
    assert f"evaluated: ori-test {n_test}" in text
    assert splits.identity is not None and splits.identity.short in text


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:x", 0, None])
def test_a_device_no_run_can_use_is_refused_when_the_job_is_made(device: object) -> None:
    # torch read 'gpu' only when the run started, as a bare RuntimeError
    with pytest.raises(
        ArgumentError, match=r"^device must be auto, cpu, cpu:0, cuda, cuda:N or mps, "
    ):
        make_jobs([5], seeds=[0], device=device, **KW)  # type: ignore[arg-type]
    for fine in ("auto", "cpu", "cuda", "cuda:3", "mps"):
        (job,) = make_jobs([5], seeds=[0], device=fine, **KW)
        assert job.device == fine


def test_a_dataset_spelt_otherwise_names_the_nb201_name() -> None:
    # 'CIFAR100' listed the names without the match; a list met a bare TypeError (unhashable)
    for spelt, name in (("CIFAR100", "cifar100"), ("imagenet16-120", "ImageNet16-120")):
        with pytest.raises(
            UnknownKeyError, match=rf"^unknown dataset '{spelt}' \(did you mean '{name}'\?\); "
        ):
            make_jobs([5], seeds=[0], **{**KW, "dataset": spelt})
    with pytest.raises(
        UnknownKeyError, match=r"^unknown dataset \['cifar10'\]; NB201 datasets are "
    ):
        make_jobs([5], seeds=[0], **{**KW, "dataset": ["cifar10"]})
