"""An infinity in a source's final values never reaches a table: each importer refuses it in
one line naming the file, the architecture and the key (the CLI: exit 2, nothing written)."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.errors import FormatError
from nb201_flat.importers import import_table
from nb201_flat.space import NB201

from .conftest import ARCHS, LAYOUT, _pbz2, arch_states

Mutate = Callable[[dict[int, Any]], None]


def _set(index: int, hp: str, dataset: str, seed: int, field: str, value: float) -> Mutate:
    """Store ``value`` as ``field`` of one run (``field`` "name@key" for a per-split dict)."""

    def mutate(states: dict[int, Any]) -> None:
        run = states[index][hp]["all_results"][(dataset, seed)]
        name, _, key = field.partition("@")
        if key:
            run[name][key] = value
        else:
            run[name] = value

    return mutate


def _pth(path: Path, mutate: Mutate) -> Path:
    import nas_201_api.api_utils as api
    import torch

    states = arch_states(api, {"full": "full", "less": "less"})
    mutate(states)
    data = {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": states,
        "evaluated_indexes": sorted(LAYOUT),
    }
    torch.save(data, path)
    return path


def _nats_folder(folder: Path, mutate: Mutate) -> Path:
    import nats_bench.api_utils as api

    folder.mkdir()
    meta = {"meta_archs": list(ARCHS), "total_archs": len(ARCHS), "arch2infos": None}
    _pbz2({**meta, "evaluated_indexes": set()}, folder / "meta.pickle.pbz2")
    states = arch_states(api, {"full": "200", "less": "12"})
    mutate(states)
    for index, hp_map in states.items():
        _pbz2(hp_map, folder / f"{index:06d}.pickle.pbz2")
    return folder


def _cli_refuses(capsys: pytest.CaptureFixture[str], source: Path, out: Path, *extra: str) -> str:
    """``nb201-flat import``: exit 2, one ``error:`` line, no traceback, nothing at ``out``."""
    capsys.readouterr()
    code = main(["import", str(source), "--out", str(out), *extra])
    stdout, err = capsys.readouterr()
    assert code == 2 and stdout == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and not any(
        p.name.startswith(f".{out.name}") for p in out.parent.iterdir()
    )
    return err


# -- official NAS-Bench-201 .pth ----------------------------------------------------------------
def test_pth_infinite_params_are_refused_naming_file_architecture_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it reached Table.from_tidy, refused as "row 1203, column 'value'" of a frame never shown
    path = _pth(tmp_path / "bad.pth", _set(2, "full", "cifar100", 999, "params", math.inf))
    want = (
        f"{path}: architecture 2, cifar100/model@200ep:params_mb seed position 1: inf is not a "
        "finite number (use nan for a missing number); fix or re-download the file"
    )
    for curves in (True, False):
        with pytest.raises(FormatError) as exc:
            import_table(path, curves=curves)
        assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201") == f"error: {want}\n"


def test_pth_infinite_final_loss_is_refused_with_or_without_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the last epoch (199 of 200) of one seed's ori-test loss
    bad = _set(0, "full", "cifar10", 888, "eval_losses@ori-test@199", -math.inf)
    path = _pth(tmp_path / "bad.pth", bad)
    with pytest.raises(FormatError) as exc:
        import_table(path, curves=False)
    assert str(exc.value).startswith(
        f"{path}: architecture 0, cifar10/ori-test@200ep:loss seed position 1: -inf is not a "
        "finite number"
    )
    err = _cli_refuses(capsys, path, tmp_path / "o1", "--no-curves")
    assert err == f"error: {exc.value}\n"
    # with curves (the default) the curve's own check names the epoch
    err = _cli_refuses(capsys, path, tmp_path / "o2")
    assert err.startswith(f"error: {path}: architecture 0 ") and "infinite at epoch 199" in err


# -- NATS-Bench tss folder ----------------------------------------------------------------------
def test_nats_infinite_final_value_is_refused_naming_folder_architecture_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _set(5, "200", "ImageNet16-120", 888, "flop", math.inf)
    folder = _nats_folder(tmp_path / "NATS-tss-v1_0-3ffb9-simple", bad)
    want = (
        f"{folder}: architecture 5, ImageNet16-120/model@200ep:flops_m seed position 0: inf is "
        "not a finite number (use nan for a missing number); fix or re-download the file"
    )
    with pytest.raises(FormatError) as exc:
        import_table(folder, format="nats-tss")
    assert str(exc.value) == want
    assert _cli_refuses(capsys, folder, tmp_path / "out.nb201") == f"error: {want}\n"


# -- results database of `nb201-flat train` -----------------------------------------------------
def test_results_db_infinite_final_loss_is_refused_naming_file_architecture_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "results.sqlite"
    db = ResultsDB(path)
    for seed, loss in ((777, 0.4), (888, math.inf)):  # a diverged evaluation of seed 888
        key = ("nb201", NB201.arch(11472).to_str(), "cifar10", 2, seed)
        train = {"train": (0.3, 95.0, 10.0)}  # a finished run holds its dataset's splits
        db.write_epoch(key, 11472, 1, {**train, "ori-test": (0.5, 80.0, 1.0)})
        db.write_epoch(key, 11472, 2, {**train, "ori-test": (loss, 90.0, 1.0)})
        db.mark_run(key, 11472, "done")
    db.close()
    want = (
        f"{path} (nb201): architecture 11472, cifar10/ori-test@2ep:loss seed 888: inf is not a "
        "finite number (use nan for a missing number); that run diverged: train that seed "
        "again, or remove the run from the database, before importing"
    )
    with pytest.raises(FormatError) as exc:
        import_table(path)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201") == f"error: {want}\n"


# -- tidy file (refused by the reader with its line) -------------------------------------------
def test_tidy_file_infinity_is_refused_in_one_cli_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    rows = [
        "index,arch,dataset,split,epochs,seed,metric,value",
        f"0,{NB201.arch(0).to_str()},cifar10,ori-test,200,,loss,0.5",
        f"1,{NB201.arch(1).to_str()},cifar10,ori-test,200,,loss,inf",
    ]
    path.write_text("\n".join(rows) + "\n")
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err == (
        f"error: {path}: row 2 (line 3), column 'value': inf is not a finite number (use nan "
        "for a missing number); fix the file\n"
    )


# -- NASLib zero-cost proxies: a failed proxy is left out, counted ------------------------------
def test_naslib_zc_infinite_scores_are_left_out_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # NASLib marks a failed proxy with -1e8 / +-1e9; an Infinity is no score either: NaN
    path = tmp_path / "zc_nasbench201.json"
    archs = {
        "(0, 0, 0, 0, 0, 0)": {"synflow": {"score": 1.5, "time": 0.1}, "jacov": 2.0},
        "(1, 2, 3, 4, 0, 1)": {"synflow": {"score": math.inf, "time": 0.2}, "jacov": 3.0},
    }
    path.write_text(json.dumps({"cifar10": archs}))  # json writes inf as Infinity
    with caplog.at_level(logging.WARNING):
        table = import_table(path)
    synflow = table.vector("cifar10", "zc", 0, "synflow")
    assert np.isfinite(synflow).sum() == 1 and not np.isinf(synflow).any()
    assert "1 failed proxy values" in caplog.text


# -- AnalogNAS-Bench data.anb (refused by its reader with the record) ----------------------------
def test_analognas_infinity_is_refused_in_one_cli_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from .test_tidy_analognas import _analognas_file, _analognas_record

    key = (2, 1, 0, 2, 1, 0)
    path = _analognas_file(tmp_path / "data.anb", monkeypatch, {key: _analognas_record(math.inf)})
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err.startswith(f"error: {path}: record {key!r} has baseline_accuracy inf, not a finite")


@pytest.mark.parametrize("name", ["val_accuracy", "flops", "params"])
@pytest.mark.parametrize("bad", [math.inf, -1e8, 1e9])
def test_naslib_zc_measurements_are_never_failed_proxies(
    tmp_path: Path, name: str, bad: float
) -> None:
    # an accuracy or cost holding a failure mark is a damaged file, not a value left out
    path = tmp_path / "zc_nasbench201.json"
    archs = {
        "(0, 0, 0, 0, 0, 0)": {"synflow": 1.5, "val_accuracy": 80.0, "flops": 1.0, "params": 0.1},
        "(1, 2, 3, 4, 0, 1)": {"synflow": 2.5, "val_accuracy": 70.0, "flops": 2.0, "params": 0.2},
    }
    archs["(1, 2, 3, 4, 0, 1)"][name] = bad
    path.write_text(json.dumps({"cifar10": archs}))
    where = re.escape(f"cifar10/(1, 2, 3, 4, 0, 1)/{name} is {bad:g}, not a measured value")
    with pytest.raises(FormatError, match=where):
        import_table(path)
