"""What a run is keyed by must be what it trains (a fifth audit's findings, each reproduced
first): a job's arch, index and space agree with its ops and network size; a registered op
never replaces another under its name; a run recorded isomorphic stands for a cell of its
function; the job's flags are bools; make_jobs keeps one schedule; the inline executor uses
its threads; the results database's readers refuse a run or space they do not hold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError, FormatError, ResultsDBError
from nb201_flat.space import NB201
from nb201_flat.train.jobs import TrainJob, make_jobs
from nb201_flat.train.recipe import Recipe

pytest.importorskip("torch")

from nb201_flat.train import costs
from nb201_flat.train.model import OP_BUILDERS, register_op

RESNET = 11472  # NB201's ResNet-like cell


def _job(tmp_path: Path, arch: int = RESNET, **kw: object) -> TrainJob:
    args: dict[str, object] = {
        "dataset": "cifar10",
        "epochs": 1,
        "seeds": [1],
        "data_root": tmp_path / "data",
        "db_path": tmp_path / "r.sqlite",
        "c": 2,
        "n": 1,
        "device": "cpu",
        **kw,
    }
    return make_jobs([arch], **args)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changed", "match"),
    [
        # trained cell 0 and stored it as cell 11472: the real run was then skipped as done
        (
            {"ops": NB201.arch(0).ops},
            r"^arch '\|nor_conv_3x3~0\|.*' \(index 11472\) is not the cell",
        ),
        ({"index": 0}, r"is not the cell of the job's ops"),
        ({"arch": str(NB201.arch(0))}, r"is not the cell of the job's ops"),
        # keyed as C4N1 while the network trained is C=2, N=1
        ({"space": "nb201@C4N1"}, r"^space 'nb201@C4N1' is not the space of 4-node cells at c=2"),
        ({"c": 4}, r"^space 'nb201@C2N1' is not the space"),
        ({"space": "mine"}, r"^space 'mine' is no space key"),
        # options checked as the command checks them
        ({"amp": "no"}, "^amp must be True or False, got 'no'"),  # trained in bf16
        ({"compile": "no"}, "^compile must be True or False"),
        ({"channels_last": 0}, "^channels_last must be True or False"),
        # truthy: a damaged run's rows and checkpoints would have been deleted
        ({"retrain_damaged": "no"}, "^retrain_damaged must be True or False"),
        ({"recipe": None}, "^recipe must be a Recipe, got None"),  # a bare AttributeError
        ({"split_dir": "elsewhere"}, "^split_dir applies only to"),  # cifar10: ignored
        ({"ckpt_dir": ""}, "^ckpt_dir is empty"),  # read as <db_path>.ckpt
    ],
)
def test_a_job_refuses_what_it_would_not_train_as_keyed(
    tmp_path: Path, changed: dict[str, object], match: str
) -> None:
    job = _job(tmp_path)
    with pytest.raises(ArgumentError, match=match):
        dataclasses.replace(job, **changed)  # type: ignore[arg-type]


def test_a_job_of_another_cell_replaced_whole_is_that_cells(tmp_path: Path) -> None:
    job = _job(tmp_path)
    cell = NB201.arch(0)
    other = dataclasses.replace(job, arch=str(cell), index=cell.index, ops=cell.ops)
    assert other.key == _job(tmp_path, arch=0).key
    as_list = dataclasses.replace(job, ops=list(job.ops))  # type: ignore[arg-type]
    assert isinstance(as_list.ops, tuple) and hash(as_list)  # a list met "unhashable" later


def test_make_jobs_refuses_a_recipe_of_another_schedule(tmp_path: Path) -> None:
    # it trained 200 epochs keyed as the recipe's lr, its epochs=12 dropped without a word
    with pytest.raises(ArgumentError, match=r"^recipe has 12 epochs, epochs 200; pass the same"):
        _job(tmp_path, epochs=200, recipe=Recipe(epochs=12, lr=0.05))
    job = _job(tmp_path, epochs=12, recipe=Recipe(epochs=12, lr=0.05))
    assert job.recipe == Recipe(epochs=12, lr=0.05) and job.epochs == 12


def test_register_op_never_replaces_an_op_under_its_name() -> None:
    import torch

    cost = costs.OpCost(params=lambda c: 0, flops=lambda c, hw: 0)
    # a conv replaced by an identity was keyed as NB201's own conv: nb201#faithful
    with pytest.raises(ArgumentError, match=r"^op 'nor_conv_3x3' is built in; register yours"):
        register_op("nor_conv_3x3", lambda c: torch.nn.Identity(), cost)
    with pytest.raises(ArgumentError, match="is built in"):
        register_op("skip_connect", lambda c: torch.nn.Identity(), cost, replace=True)
    assert OP_BUILDERS["nor_conv_3x3"](4).__class__.__name__ == "ReLUConvBN"

    def build(c: int) -> torch.nn.Module:
        return torch.nn.Identity()

    register_op("ident_test", build, cost)
    try:
        register_op("ident_test", build, cost)  # the same again: nothing changes
        with pytest.raises(ArgumentError, match="is registered already; register this one"):
            register_op("ident_test", lambda c: torch.nn.Identity(), cost)
        with pytest.raises(ArgumentError, match="^replace must be True or False"):
            register_op("ident_test", build, cost, replace="yes")  # type: ignore[arg-type]

        def other(c: int) -> torch.nn.Module:
            return torch.nn.Identity()

        register_op("ident_test", other, cost, replace=True)
        assert OP_BUILDERS["ident_test"] is other
    finally:
        OP_BUILDERS.pop("ident_test")
        costs.OP_COSTS.pop("ident_test")


def _done(job: TrainJob, accuracy: float) -> None:
    from nb201_flat.train.results_db import ResultsDB

    db = ResultsDB(job.db_path)
    db.write_epoch(job.key, job.index, 1, {"train": (0.5, accuracy, 1.0), "ori-test": (0.5, accuracy, 0.0)})  # fmt: skip
    db.mark_run(job.key, job.index, "done")
    db.close()


def test_a_run_stands_in_only_for_an_isomorphic_cell_of_its_run(tmp_path: Path) -> None:
    from nb201_flat.train.campaign import record_isomorphic

    job, rep = _job(tmp_path), _job(tmp_path, arch=0)  # cells of other functions
    _done(rep, 50.0)
    # recorded, and the import served cell 0's numbers as cell 11472's (copied_from 0)
    with pytest.raises(ArgumentError, match=r"^representative .* is not isomorphic to"):
        record_isomorphic(job, rep)
    seed = _job(tmp_path, seeds=[2])
    with pytest.raises(ArgumentError, match=r"differs from the job's run .* in more than the arch"):
        record_isomorphic(seed, job)
    with pytest.raises(ArgumentError, match="^representative must be a TrainJob"):
        record_isomorphic(job, str(NB201.arch(0)))
    assert not (tmp_path / "r.sqlite.ckpt").exists() or not any(
        (tmp_path / "r.sqlite.ckpt").iterdir()
    )


@pytest.mark.parametrize("whole_space", [True, False], ids=["classes", "keys-of-a-large-space"])
def test_an_import_refuses_a_stand_in_of_another_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_space: bool
) -> None:
    from nb201_flat.importers import results_db as importer
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.train.campaign import ISOMORPHIC_STATUS
    from nb201_flat.train.results_db import ResultsDB

    if not whole_space:  # a space past the limit: each named cell's key, not all classes
        monkeypatch.setattr(importer, "WHOLE_SPACE_CLASSES", 0)
    classes = NB201.isomorphism_classes()
    member, other = np.flatnonzero(classes == classes[RESNET])[:2]  # one function, two cells
    assert member != other
    good, good_rep = (
        _job(tmp_path / "good", arch=int(other)),
        _job(tmp_path / "good", arch=int(member)),
    )
    _done(good_rep, 60.0)
    db = ResultsDB(good.db_path)
    db.mark_run(good.key, good.index, ISOMORPHIC_STATUS, isomorphic_to=good_rep.arch)
    db.close()
    served = read_results_db(good.db_path)  # a stand-in of the same function: read
    assert served.meta["isomorphic_to"] != []

    job, rep = _job(tmp_path), _job(tmp_path, arch=0)
    _done(rep, 50.0)
    db = ResultsDB(job.db_path)  # as a hand edit, or a recording before it was checked
    db.mark_run(job.key, job.index, ISOMORPHIC_STATUS, isomorphic_to=rep.arch)
    db.close()
    with pytest.raises(FormatError, match=r"is recorded isomorphic to cell 0, which computes"):
        read_results_db(job.db_path)
    table = read_results_db(job.db_path, fill_isomorphic=False)  # left missing: no copy read
    assert table.meta["isomorphic_to"] == []


def test_final_metrics_and_readers_refuse_what_the_file_lacks(tmp_path: Path) -> None:
    from nb201_flat.train.results_db import ResultsDB, load_curves, load_results

    job, absent = _job(tmp_path), _job(tmp_path, arch=0)
    _done(job, 60.0)
    db = ResultsDB(job.db_path, readonly=True)
    try:
        metrics, seconds = db.final_metrics(job.key)
        assert metrics["ori-test"]["accuracy"] == 60.0 and seconds == 1.0
        # it returned ({}, nan) for a run never trained
        with pytest.raises(ResultsDBError, match=r"holds no final epoch of run .* \(never trained"):
            db.final_metrics(absent.key)
        for call in (db.final_metrics, db.is_done, db.data_digest):
            with pytest.raises(ArgumentError, match="^key must be a run's five values"):
                call(("nb201#faithful",))  # sqlite3's ProgrammingError
    finally:
        db.close()
    # a misspelt space key read as a space without results: 0 rows
    for load in (load_results, load_curves):
        with pytest.raises(FormatError, match=r"holds no results of space 'nb201#fast-bf16'; it"):
            load(job.db_path, space="nb201#fast-bf16")
        with pytest.raises(ArgumentError, match="^space must be a space key"):
            load(job.db_path, space=["nb201"])  # type: ignore[arg-type]
        with pytest.raises(ArgumentError, match="^path must be a path"):
            load(None)  # type: ignore[arg-type]
    assert len(load_results(job.db_path, space=job.key.space)) == 5  # 2 splits x 2, time_s


def test_the_inline_executor_trains_with_its_threads(tmp_path: Path) -> None:
    from nb201_flat.train.executors import LocalExecutor, executor_from_spec

    seen: list[int | None] = []

    def run(job: TrainJob) -> object:
        from nb201_flat.train.jobs import JobResult

        seen.append(job.threads)
        return JobResult(job, "done")

    LocalExecutor(processes=False, threads=1, run=run).map([_job(tmp_path)])  # type: ignore[arg-type]
    assert seen == [1]  # it trained with torch's own count, and recorded that
    with pytest.raises(ArgumentError, match="^jobs_per_device applies only to worker processes"):
        LocalExecutor(processes=False, jobs_per_device=8).map([_job(tmp_path)])
    with pytest.raises(ArgumentError, match="^processes must be True or False"):
        LocalExecutor(processes="no").map([_job(tmp_path)])  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="^jobs_per_device applies only to the local executor"):
        executor_from_spec("inline", jobs_per_device=4)
    with pytest.raises(ArgumentError, match="^jobs_per_device applies only to the local executor"):
        executor_from_spec("dask://localhost:8786", jobs_per_device=4)


def test_an_op_name_a_results_key_cannot_hold_is_refused() -> None:
    import torch

    from nb201_flat.errors import InvalidArchError

    cost = costs.OpCost(params=lambda c: 0, flops=lambda c, hw: 0)
    for name in ("a:b", "a,b", "a@b", "a#b"):  # its jobs were then refused as "no space key"
        with pytest.raises(InvalidArchError, match="may not be empty or contain any of"):
            register_op(name, lambda c: torch.nn.Identity(), cost)


def test_recording_without_training_checks_what_it_records(tmp_path: Path) -> None:
    # a cell's index met a bare AttributeError; 0 classes a ZeroDivisionError; a cell recorded
    # as standing in for itself left its run untrained for good
    from nb201_flat.train.campaign import CampaignPlan, record_constant_output, record_isomorphic

    for given in (5, str(NB201.arch(0))):
        with pytest.raises(ArgumentError, match="^job must be a TrainJob, got"):
            record_constant_output(given)
    for classes in (0, "10"):
        with pytest.raises(ArgumentError, match="^num_classes must be >= 1"):
            CampaignPlan((), (7,)).chance_rows(classes)  # type: ignore[arg-type]
    job = _job(tmp_path)
    with pytest.raises(ArgumentError, match="^representative is the job's own run"):
        record_isomorphic(job, job)
