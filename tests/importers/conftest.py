"""Small benchmark files in the official layouts, built with the official packages' own classes.

Each file holds six architectures (the first six official NB201 strings, so ``index`` and
``arch`` agree with the real benchmark); four are evaluated, with 1-3 seeds and a few epochs
standing in for the 12/200-epoch schedules. The cases cover what the real files contain:
seeds missing per dataset, v1_0-style runs without training times and with ``ori-test``
only at the last epoch, 12-epoch results on ``cifar10-valid`` only, and a NATS legacy
params mismatch between seeds.
"""

from __future__ import annotations

import bz2
import pickle
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

# The first six official NB201 strings (index = position; index 0 is asserted in NATS-Bench's
# tss-collect.py, all six agree with ../shared/data/nb201/nb201_tidy.csv.gz).
ARCHS = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
    "|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_1x1~2|",
    "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
)

# The evaluation sets each training set was evaluated on (NB201's, see the data README).
SPLITS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
ALL_DATASETS = tuple(SPLITS)
EPOCHS_STORED = {"full": 200, "less": 12}  # the schedules: a run records its own epochs


@dataclass(frozen=True)
class Schedule:
    """Seeds per dataset for one schedule of one architecture, and how its runs look."""

    seeds: dict[str, tuple[int, ...]]
    old_style: bool = False  # v1_0: no train_times, ori-test at the last epoch only
    params_by_seed: dict[int, float] = field(default_factory=dict)  # legacy mismatch


# index -> {"full": ..., "less": ...}; indexes 1 and 4 are not evaluated.
LAYOUT: dict[int, dict[str, Schedule]] = {
    0: {
        "full": Schedule({d: (999, 777, 888) for d in ALL_DATASETS}),  # added out of order
        "less": Schedule({"cifar10-valid": (777, 888), **{d: (777,) for d in ALL_DATASETS[1:]}}),
    },
    2: {
        "full": Schedule({d: (777, 999) for d in ALL_DATASETS}),
        "less": Schedule({"cifar10-valid": (888,)}, old_style=True),
    },
    3: {
        "full": Schedule({d: (888,) for d in ALL_DATASETS}, old_style=True),
        "less": Schedule({d: (999,) for d in ALL_DATASETS}),
    },
    5: {
        "full": Schedule(
            {"cifar10-valid": (777, 888, 999), **{d: (888, 999) for d in ALL_DATASETS[1:]}},
            params_by_seed={777: 1.25, 888: 1.5, 999: 1.25},
        ),
        "less": Schedule({d: (777,) for d in ALL_DATASETS}),
    },
}


def _run(
    api: ModuleType,
    rng: random.Random,
    *,
    arch: str,
    dataset: str,
    seed: int,
    epochs: int,
    schedule: Schedule,
    weights: bool,
) -> Any:
    """One trial as the official ``ResultsCount`` (``api`` is nas_201_api or nats_bench)."""
    net_state: Any = None
    if weights:
        import torch

        net_state = OrderedDict(w=torch.arange(4, dtype=torch.float32))
    # Size depends on the cell and the dataset only (as in the real files), except for the
    # legacy mismatch cases NATS fixes; NATS's API fails on other mismatches.
    size_rng = random.Random(f"{arch}/{dataset}")
    params = schedule.params_by_seed.get(seed, size_rng.uniform(0.1, 1.5))
    flop = size_rng.uniform(5, 200)
    config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10}

    def curve(lo: float, hi: float) -> dict[int, float]:
        return {e: rng.uniform(lo, hi) for e in range(epochs)}

    latency: list[float] | None = [rng.uniform(0.001, 0.05)]
    if schedule.params_by_seed and seed == 999:
        latency = None  # a run without a latency: the APIs' mean skips it
    result = api.ResultsCount(
        dataset, net_state, curve(10, 100), curve(0, 3), params, flop,
        config, f"{seed:04d}", epochs, latency,  # the releases' text: '0777'
    )  # fmt: skip
    splits = SPLITS[dataset]
    if schedule.old_style:
        # v1_0's update_OLD_eval: the first set at every epoch, the rest at the last only.
        result.update_OLD_eval(splits[0], curve(10, 100), curve(0, 3))
        for split in splits[1:]:
            last = epochs - 1
            result.update_OLD_eval(split, {last: rng.uniform(10, 100)}, {last: rng.uniform(0, 3)})
        return result
    per_epoch = rng.uniform(5, 30)
    result.update_train_info(
        curve(10, 100), curve(10, 100), curve(0, 3), {e: per_epoch for e in range(epochs)}
    )
    keys = [f"{s}@{e}" for s in splits for e in range(epochs)]
    result.update_eval(
        {k: rng.uniform(10, 100) for k in keys},
        {k: rng.uniform(0, 3) for k in keys},
        {k: rng.uniform(0.5, 2) for k in keys},
    )
    return result


def arch_states(
    api: ModuleType, hp_names: dict[str, str], *, weights: bool = False, seed: int = 0
) -> dict[int, OrderedDict[str, dict[str, Any]]]:
    """``{index: {hp key: ArchResults.state_dict()}}`` for :data:`LAYOUT`.

    ``hp_names`` maps ``full``/``less`` to the file's hp keys (NB201: the same; NATS: 200/12).
    """
    rng = random.Random(seed)
    out: dict[int, OrderedDict[str, dict[str, Any]]] = {}
    for index, schedules in LAYOUT.items():
        hp_map: OrderedDict[str, dict[str, Any]] = OrderedDict()
        for hp, schedule in schedules.items():
            results = api.ArchResults(index, ARCHS[index])
            for dataset, seeds in schedule.seeds.items():
                for s in seeds:
                    run = _run(
                        api, rng, arch=ARCHS[index], dataset=dataset, seed=s,
                        epochs=EPOCHS_STORED[hp], schedule=schedule, weights=weights,
                    )  # fmt: skip
                    results.update(dataset, s, run)
            hp_map[hp_names[hp]] = results.state_dict()
        out[index] = hp_map
    return out


class Harmless:
    """A class the restricted reader must refuse (it is not on the allow-list)."""

    def __init__(self, note: str) -> None:
        self.note = note


def write_nb201_pth(
    path: Path,
    *,
    legacy: bool = False,
    weights: bool = False,
    extra: Any = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """A .pth in the official layout, saved with torch.save (zip or pre-1.6 legacy format);
    ``edit`` changes the object in place before it is saved."""
    import nas_201_api.api_utils as api
    import torch

    data: dict[str, Any] = {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": arch_states(api, {"full": "full", "less": "less"}, weights=weights),
        "evaluated_indexes": sorted(LAYOUT),
    }
    if extra is not None:
        data["extra"] = extra
    if edit is not None:
        edit(data)
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    return path


def _pbz2(obj: Any, path: Path) -> Path:
    # nats_bench.pickle_save: bz2 + pickle protocol 4.
    with bz2.BZ2File(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)
    return path


def write_nats_folder(folder: Path, *, weights: bool = False, extra: Any = None) -> Path:
    """``NATS-tss-*-simple/`` (or ``-full/`` with ``weights``): meta + one file per arch."""
    import nats_bench.api_utils as api

    folder.mkdir(parents=True)
    meta: dict[str, Any] = {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": None,
        "evaluated_indexes": set(),
    }
    if extra is not None:
        meta["extra"] = extra
    _pbz2(meta, folder / "meta.pickle.pbz2")
    for index, hp_map in arch_states(api, {"full": "200", "less": "12"}, weights=weights).items():
        _pbz2(hp_map, folder / f"{index:06d}.pickle.pbz2")
    return folder


def write_nats_file(path: Path) -> Path:
    """The single-file form ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (``fast_mode=False``)."""
    import nats_bench.api_utils as api

    states = arch_states(api, {"full": "200", "less": "12"})
    return _pbz2(
        {
            "meta_archs": list(ARCHS),
            "total_archs": len(ARCHS),
            "arch2infos": states,
            "evaluated_indexes": set(states),
        },
        path,
    )


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """All fixture files, built once per session."""
    root = tmp_path_factory.mktemp("official")
    builders: dict[str, Callable[[], Path]] = {
        "pth_zip": lambda: write_nb201_pth(root / "NAS-Bench-201-v1_1-096897.pth"),
        "pth_legacy": lambda: write_nb201_pth(root / "legacy.pth", legacy=True),
        "pth_weights": lambda: write_nb201_pth(root / "weights.pth", weights=True),
        "pth_weights_legacy": lambda: write_nb201_pth(
            root / "weights-legacy.pth", legacy=True, weights=True
        ),
        "pth_refused": lambda: write_nb201_pth(root / "refused.pth", extra=Harmless("hi")),
        "nats_dir": lambda: write_nats_folder(root / "NATS-tss-v1_0-3ffb9-simple"),
        "nats_full_dir": lambda: write_nats_folder(root / "NATS-tss-v1_0-3ffb9-full", weights=True),
        "nats_file": lambda: write_nats_file(root / "NATS-tss-v1_0-3ffb9.pickle.pbz2"),
        "nats_refused_dir": lambda: write_nats_folder(root / "refused", extra=Harmless("hi")),
    }
    return {name: build() for name, build in builders.items()}


# -- comparing our frame with the official APIs -----------------------------------------------
Key = tuple[int | None, str, str]  # (seed position or None for the mean, split, metric)


def api_numbers(api: Any, index: int, hp: str, dataset: str) -> dict[Key, float]:
    """What the official API (NB201 or NATS) returns for one arch/schedule/dataset.

    ``get_more_info(is_random=False)`` gives the mean, ``is_random=<seed id>`` one seed;
    ``get_cost_info`` the mean params/flops and ``query_by_index`` the per-seed runs.
    """
    test_split = "ori-test" if dataset in ("cifar10", "cifar10-valid") else "x-test"
    prefixes = {"train": "train", "valid": "x-valid", "test": test_split, "valtest": "ori-test"}
    seeds = api.query_meta_info_by_index(index, hp).get_dataset_seeds(dataset)
    out: dict[Key, float] = {}
    for pos, is_random in [(None, False), *enumerate(seeds)]:
        info = api.get_more_info(index, dataset, hp=hp, is_random=is_random)
        for prefix, split in prefixes.items():
            for metric in ("accuracy", "loss"):
                if f"{prefix}-{metric}" in info:
                    out[pos, split, metric] = float(info[f"{prefix}-{metric}"])
        if info["train-all-time"] is not None:
            out[pos, "train", "time_s"] = float(info["train-all-time"])
    costs = api.get_cost_info(index, dataset, hp=hp)
    out[None, "model", "params_mb"] = float(costs["params"])
    out[None, "model", "flops_m"] = float(costs["flops"])
    if costs["latency"] is not None:
        out[None, "model", "latency_s"] = float(costs["latency"])
    runs = api.query_by_index(index, dataset, hp=hp)
    for pos, seed in enumerate(seeds):
        out[pos, "model", "params_mb"] = float(runs[seed].params)
        out[pos, "model", "flops_m"] = float(runs[seed].flop)
        if runs[seed].get_latency() > 0:
            out[pos, "model", "latency_s"] = float(runs[seed].get_latency())
    return out


def frame_numbers(df: pd.DataFrame, index: int, epochs: int, dataset: str) -> dict[Key, float]:
    """Our frame's rows for one arch/schedule/dataset, keyed like :func:`api_numbers`."""
    sub = df[(df["index"] == index) & (df["epochs"] == epochs) & (df["dataset"] == dataset)]
    out: dict[Key, float] = {}
    for seed, split, metric, value in sub[["seed", "split", "metric", "value"]].itertuples(
        index=False
    ):
        key = (None if pd.isna(seed) else int(seed), split, metric)
        assert key not in out, f"duplicate row {key}"
        out[key] = value
    return out


def assert_matches_api(df: pd.DataFrame, api: Any, hp_epochs: dict[str, int]) -> int:
    """Every (arch, schedule, dataset) the API knows equals our rows; returns how many."""
    checked = set()
    for index in LAYOUT:
        for hp, epochs in hp_epochs.items():
            for dataset in api.query_meta_info_by_index(index, hp).get_dataset_names():
                expected = api_numbers(api, index, hp, dataset)
                got = frame_numbers(df, index, epochs, dataset)
                assert got.keys() == expected.keys(), (index, hp, dataset)
                for key, value in expected.items():
                    assert got[key] == pytest.approx(value, rel=1e-12, abs=0), (index, hp, key)
                checked.add((index, epochs, dataset))
    groups = set(df[["index", "epochs", "dataset"]].drop_duplicates().itertuples(index=False))
    assert {tuple(g) for g in groups} == checked  # nothing beyond what the API knows
    return len(checked)
