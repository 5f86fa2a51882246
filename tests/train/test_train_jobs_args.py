"""Training jobs refuse wrong arguments by name when built, not at the run (no torch needed):
make_jobs (paths, recipe, space, dataset, mode), TrainJob's seed, space_key, check_eval_every,
check_ops and the mode look-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.space import NB201
from nb201_flat.train.costs import check_ops
from nb201_flat.train.jobs import check_eval_every, make_jobs, space_key
from nb201_flat.train.modes import mode_for


def _jobs(tmp_path: Path, **kw: object) -> list[object]:
    args: dict[str, object] = {
        "dataset": "cifar10",
        "epochs": 12,
        "seeds": [0],
        "data_root": tmp_path,
        "db_path": tmp_path / "r.sqlite",
        **kw,
    }
    archs = args.pop("archs", [0])
    return make_jobs(archs, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        # os.fspath's bare TypeError
        ({"data_root": None}, r"^data_root must be a path \(str or pathlib\.Path\), got None"),
        ({"db_path": 3}, r"^db_path must be a path \(str or pathlib\.Path\), got 3"),
        ({"ckpt_dir": 3}, r"^ckpt_dir must be a path"),
        # 'str' object has no attribute 'with_epochs' / 'n_nodes'
        ({"recipe": "nb201"}, "^recipe must be a Recipe, got 'nb201'"),
        ({"space": "nb201"}, "^space must be a Space, got str 'nb201'"),
        # unhashable: a bare TypeError from the mode look-up
        ({"mode": ["fast"]}, r"^unknown training mode \['fast'\]"),
        # a bare TypeError comparing text with 1
        ({"eval_every": "2"}, "^eval_every must be >= 1 .*, got '2'"),
    ],
)
def test_make_jobs_refuses_wrong_arguments_by_name(
    tmp_path: Path, kw: dict[str, object], match: str
) -> None:
    with pytest.raises(ArgumentError, match=match):
        _jobs(tmp_path, **kw)


def test_make_jobs_takes_numpy_seeds_and_arrays(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path, archs=np.array([0, 1]), seeds=np.array([3]))
    assert [j.seed for j in jobs] == [3, 3]  # type: ignore[attr-defined]
    assert all(type(j.seed) is int for j in jobs)  # type: ignore[attr-defined]


def test_small_checks_name_their_parameter() -> None:
    with pytest.raises(ArgumentError, match="^space must be a Space"):
        space_key("nb201")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^eval_every must be >= 1 .*, got 1.5"):
        check_eval_every(1.5)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^ops must be a sequence of op names, got 'none'"):
        check_ops("none", 4)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^n_nodes must be an int, got None"):
        check_ops(list(NB201.ops[:1]) * 6, None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^unknown training mode"):
        mode_for({})  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, "7", 2.5, None])
def test_a_job_built_directly_checks_its_seed(tmp_path: Path, seed: object) -> None:
    import dataclasses

    (job,) = _jobs(tmp_path)
    # make_jobs checks its seeds; a TrainJob built by hand took any, which failed in torch
    with pytest.raises(ArgumentError, match=r"^seed must lie in 0\.\.\d+"):
        dataclasses.replace(job, seed=seed)  # type: ignore[type-var]


def test_space_key_checks_c_and_n() -> None:
    # any value, text too, was spelled into the results key
    with pytest.raises(ArgumentError, match="^c must lie in 1..4096"):
        space_key(NB201, c="16")  # type: ignore[arg-type]


def test_the_trainer_names_a_device_torch_cannot_read() -> None:
    pytest.importorskip("torch")
    from nb201_flat.train.trainer import resolve_device

    # torch's bare RuntimeError ("Expected one of cpu, cuda, ... device type")
    with pytest.raises(
        ArgumentError, match=r"^device must be auto, cpu, cpu:0, cuda, cuda:N or mps, got 'gpu'"
    ):
        resolve_device("gpu")
    assert resolve_device("cpu").type == "cpu"


def test_check_eval_every_names_a_schedule_that_is_no_count() -> None:
    # a bare TypeError comparing the interval with text
    with pytest.raises(ArgumentError, match="^epochs must be >= 1 .*, got '12'"):
        check_eval_every(2, "12")  # type: ignore[arg-type]
    check_eval_every(2, np.int64(12))
