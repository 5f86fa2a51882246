"""A run record that disagrees with where the file files it, or holds a value no measurement has,
is refused naming the run (it was imported under another key, or mixed into a mean, with exit 0).

The files are small hand-built dicts in the official layout (plain numbers, no API classes), one
damage each, saved as a NB201 ``.pth`` (torch's zip container) or a NATS single file.
"""

from __future__ import annotations

import bz2
import pickle
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nb201_flat.errors import FormatError
from nb201_flat.importers.curves import CurveCollector
from nb201_flat.importers.nats import read_nats_tss
from nb201_flat.importers.official import read_nb201_pth

from .conftest import ARCHS, SPLITS


def _run(dataset: str, seed: int, epochs: int, acc: float) -> dict[str, Any]:
    last = epochs - 1
    splits = SPLITS[dataset]
    return {
        "name": dataset,
        "seed": str(seed),  # the official ResultsCount keeps the seed as text
        "epochs": epochs,
        "train_acc1es": {e: acc + 1 for e in range(epochs)},
        "train_losses": {e: 0.5 for e in range(epochs)},
        "train_times": {e: 10.0 for e in range(epochs)},
        "eval_acc1es": {f"{s}@{last}": acc for s in splits},
        "eval_losses": {f"{s}@{last}": 0.6 for s in splits},
        "params": 0.5,
        "flop": 50.0,
        "latency": [0.01],
    }


def _results(arch: str, epochs: int, datasets: tuple[str, ...]) -> dict[str, Any]:
    seeds = (777, 888)
    return {
        "arch_str": arch,
        "dataset_seed": {d: list(seeds) for d in datasets},
        "all_results": {
            (d, s): _run(d, s, epochs, 80.0 + k) for d in datasets for k, s in enumerate(seeds)
        },
    }


def benchmark(hp: tuple[str, str] = ("full", "less")) -> dict[str, Any]:
    full, less = hp
    return {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": {
            i: {
                full: _results(ARCHS[i], 200, tuple(SPLITS)),
                less: _results(ARCHS[i], 12, ("cifar10-valid",)),
            }
            for i in range(2)
        },
        "evaluated_indexes": [0, 1],
    }


def write_pth(path: Path, data: dict[str, Any]) -> Path:
    # torch.save's zip container, written without torch: archive/data.pkl, stored uncompressed
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps(data, protocol=2))
        z.writestr("archive/version", "3\n")
    return path


def write_nats(path: Path, data: dict[str, Any]) -> Path:
    with bz2.BZ2File(path, "wb") as f:
        pickle.dump(data, f, protocol=4)
    return path


def run_of(data: dict[str, Any], dataset: str = "cifar10", seed: int = 888) -> dict[str, Any]:
    hp = "full" if "full" in data["arch2infos"][1] else "200"
    results: dict[str, Any] = data["arch2infos"][1][hp]["all_results"][dataset, seed]
    return results


def _twelve_epochs(run: dict[str, Any]) -> None:  # a 12-epoch run filed under 200 epochs
    run.update(_run(run["name"], int(run["seed"]), 12, 33.0))


def _epoch_199(run: dict[str, Any]) -> None:  # one epoch short: its last value is epoch 198's
    run["epochs"] = 199
    run["eval_acc1es"] = {"ori-test@198": 11.0}


BAD_EPOCHS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "twelve": (_twelve_epochs, "ran 12 epochs"),
    "199": (_epoch_199, "ran 199 epochs"),
    "fraction": (lambda r: r.update(epochs=200.7), "ran 200.7 epochs"),
    # was "out of memory ... on a machine with more memory": the file is malformed
    "huge": (lambda r: r.update(epochs=10**7), "ran 10000000 epochs"),
    "text": (lambda r: r.update(epochs="200"), "ran '200' epochs"),
}


@pytest.mark.parametrize("case", BAD_EPOCHS)
def test_a_run_whose_epochs_are_not_its_schedules_is_refused(tmp_path: Path, case: str) -> None:
    damage, said = BAD_EPOCHS[case]
    data = benchmark()
    damage(run_of(data))
    with pytest.raises(FormatError) as info:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data))
    assert str(info.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1 (200 epochs) cifar10 seed 888 {said}, not the "
        "200 of its schedule; the file is damaged, re-download it"
    )


def test_nats_runs_are_checked_too(tmp_path: Path) -> None:
    data = benchmark(("200", "12"))
    _epoch_199(run_of(data))
    with pytest.raises(
        FormatError, match=r"architecture 1 \(200 epochs\) cifar10 seed 888 ran 199"
    ):
        read_nats_tss(write_nats(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", data))
    data = benchmark(("200", "12"))
    data["arch2infos"][0]["12"]["all_results"]["cifar10-valid", 777]["epochs"] = 200
    with pytest.raises(FormatError, match=r"architecture 0 \(12 epochs\) .* ran 200 epochs, not"):
        read_nats_tss(write_nats(tmp_path / "g.pickle.pbz2", data))


def test_the_undamaged_file_reads(tmp_path: Path) -> None:
    df = read_nb201_pth(write_pth(tmp_path / "f.pth", benchmark()))
    mean = df[(df["index"] == 1) & (df["dataset"] == "cifar10") & df["seed"].isna()]
    assert mean.set_index(["split", "metric"]).loc[("ori-test", "accuracy"), "value"] == 80.5
    assert set(df["epochs"]) == {12, 200}


def test_a_seed_listed_twice_is_refused(tmp_path: Path) -> None:
    data = benchmark()
    data["arch2infos"][1]["full"]["dataset_seed"]["cifar10"] = [777, 777, 888]  # mean 80.33
    with pytest.raises(FormatError) as info:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data))
    assert str(info.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1 (200 epochs) lists seeds [777, 777, 888] on "
        "cifar10, a seed twice; the file is damaged, re-download it"
    )


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("name", "cifar100", "is a run on 'cifar100'"),
        ("seed", "999", "is the run of seed '999'"),
        ("seed", 999, "is the run of seed 999"),
    ],
)
def test_a_record_filed_under_another_run_is_refused(
    tmp_path: Path, field: str, value: object, said: str
) -> None:
    data = benchmark()
    run_of(data, seed=777)[field] = value
    with pytest.raises(FormatError) as info:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data))
    assert str(info.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1 (200 epochs) cifar10 seed 777 {said}; the file "
        "is damaged, re-download it"
    )


def test_an_integer_seed_in_the_record_matches(tmp_path: Path) -> None:
    data = benchmark()
    run_of(data, seed=777)["seed"] = 777
    assert len(read_nb201_pth(write_pth(tmp_path / "f.pth", data)))


NEGATIVE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "time": (
        lambda r: r.update(train_times={e: -5.0 for e in range(200)}),
        "train@200ep:time_s seed position 1: -1000.0",
    ),
    "params": (lambda r: r.update(params=-1.0), "model@200ep:params_mb seed position 1: -1.0"),
    "flops": (lambda r: r.update(flop=-2.0), "model@200ep:flops_m seed position 1: -2.0"),
    "loss": (
        lambda r: r.update(eval_losses={"ori-test@199": -0.25}),
        "ori-test@200ep:loss seed position 1: -0.25",
    ),
}


@pytest.mark.parametrize("case", NEGATIVE)
def test_a_negative_time_cost_or_loss_is_refused(tmp_path: Path, case: str) -> None:
    # seed 888 is position 1 of the stored 777, 888: named by the frame's range check, which
    # the accuracies share (the run reader states no rule of its own)
    damage, said = NEGATIVE[case]
    data = benchmark()
    damage(run_of(data))
    with pytest.raises(FormatError) as info:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data), curves=None)
    assert str(info.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1, cifar10/{said} is negative, which a loss, a "
        "time or a cost cannot be; the file is damaged, re-download it"
    )


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (
            lambda r: r["eval_acc1es"].update({"ori-test@100": 500.0}),
            "ori-test accuracy at epoch 100 (0-based): 500.0 is not an accuracy in percent",
        ),
        (
            lambda r: r["train_acc1es"].update({50: -40.0}),
            "train accuracy at epoch 50 (0-based): -40.0 is not an accuracy in percent",
        ),
        (
            lambda r: r["train_times"].update({7: -1.0}),
            "train epoch_time_s at epoch 7 (0-based): -1.0 is negative, which a loss, a time or "
            "a cost cannot be; the file is damaged",
        ),
        (
            lambda r: r["train_losses"].update({3: -0.5}),
            "train loss at epoch 3 (0-based): -0.5 is negative, which a loss, a time or a cost "
            "cannot be; the file is damaged",
        ),
    ],
)
def test_a_learning_curve_value_out_of_range_is_refused(
    tmp_path: Path, damage: Callable[[dict[str, Any]], None], said: str
) -> None:
    data = benchmark()
    run = run_of(data)
    damage(run)
    run["train_times"][8] = 1.0 + abs(run["train_times"][7])  # the final time sum stays positive
    path = write_pth(tmp_path / "f.pth", data)
    with pytest.raises(FormatError) as info:
        read_nb201_pth(path, curves=CurveCollector(str(path)))
    assert str(info.value).startswith(
        f"{path}: architecture 1 cifar10 (200 epochs) seed position 1: {said}"
    )


def _laughs(depth: int) -> list[Any]:
    # shared references: a small pickle whose repr has 2**depth strings
    a: list[Any] = [ARCHS[0]]
    for _ in range(depth):
        a = [a, a]
    return a


@pytest.mark.parametrize("where", ["meta_archs", "seeds"])
def test_shared_reference_bombs_are_refused_at_once(tmp_path: Path, where: str) -> None:
    data = benchmark()
    if where == "meta_archs":
        data["meta_archs"] = _laughs(60)
        said = r"meta_archs\[0\] = \[\[\[\[\.\.\.\]"
    else:
        data["arch2infos"][1]["full"]["dataset_seed"]["cifar10"] = [777, _laughs(60)]
        said = r"lists seeds \[777, \[\[\[\.\.\.\], \[\.\.\.\]\]"
    path = write_pth(tmp_path / "f.pth", data)
    t0 = time.perf_counter()
    with pytest.raises(FormatError, match=said):
        read_nb201_pth(path)
    assert time.perf_counter() - t0 < 10  # was > 60 s and 1.9 GB for meta_archs
