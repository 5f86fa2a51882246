"""Campaigns: cell sets, and one end-to-end run in a space the table does not cover."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from train_helpers import TOY_OPS, one_isomorphic_class

from nb201_flat.errors import ArgumentError
from nb201_flat.space import NB201, NB201_OPS, Space
from nb201_flat.train.campaign import ball, plan_campaign, sample


def test_ball_is_the_hamming_ball() -> None:
    space = Space(("none", "skip_connect", "nor_conv_1x1"), 4)
    for radius in (0, 1, 2):
        want = [i for i in range(space.size) if space.hamming(5, i) <= radius]
        assert ball(space, 5, radius) == want
    with pytest.raises(ArgumentError, match="radius"):
        ball(space, 5, -1)


def test_plan_sets_disconnected_and_isomorphism() -> None:
    zero = NB201.from_ops(["none"] * 6).index  # disconnected, and so are some neighbours
    plan = plan_campaign(NB201, neighbours_of=zero, radius=1)
    members = ball(NB201, zero, 1)
    assert set(plan.cells) | set(plan.constant_output) == set(members)
    assert all(not NB201.arch(i).is_connected for i in plan.constant_output)
    assert all(NB201.arch(i).is_connected for i in plan.cells) and zero in plan.constant_output
    assert plan.cells  # a single non-none edge 0->3 connects the cell
    row = plan.chance_rows(100)[plan.constant_output.index(zero)]
    assert row == {"index": zero, "accuracy": 1.0, "constant_output": True}
    assert plan_campaign(NB201, archs=[zero], train_disconnected=True).cells == (zero,)

    s = sample(NB201, 50, seed=3)
    assert s == sample(NB201, 50, seed=3) and len(set(s)) == 50 and s != sample(NB201, 50, 4)
    iso = plan_campaign(NB201, sample_n=400, sample_seed=1, unique_isomorphism=True)
    full = plan_campaign(NB201, sample_n=400, sample_seed=1)
    assert set(iso.cells) | set(iso.representative) == set(full.cells)
    for member, rep in iso.representative.items():
        assert rep in iso.cells and rep < member
        assert NB201.arch(member).isomorphism_key() == NB201.arch(rep).isomorphism_key()
    keys = [NB201.arch(i).isomorphism_key() for i in iso.cells]
    assert len(keys) == len(set(keys)) and iso.representative  # 400 draws do repeat classes

    for bad in (
        {"sample_n": 3},
        {"archs": [1], "sample_seed": 3},
        {"archs": [1], "radius": 2},
        {},
    ):
        with pytest.raises(ArgumentError):
            plan_campaign(NB201, **bad)  # type: ignore[arg-type]


def test_campaign_end_to_end_in_a_space_beyond_the_table(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NB201's ops plus sep_conv_3x3: the radius-1 ball of a cell trained, imported, analysed."""
    pytest.importorskip("torch")
    from test_train_cli import run_cli

    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.landscape.a2m import a2m_barrier
    from nb201_flat.landscape.neighbourhood import flatness

    ops = [*NB201_OPS, "sep_conv_3x3"]
    space = Space(ops, 4)
    centre = space.from_ops(["nor_conv_3x3", "skip_connect", "sep_conv_3x3"] * 2)
    db = tmp_path / "r.sqlite"
    argv = ["train", "--neighbours-of", str(centre), "--radius", "1", "--ops", *ops,
            "--dataset", "cifar10", "--epochs", "1", "--data-root", str(cifar10_root),
            "--db", str(db), "--device", "cpu", "--executor", "inline", "--C", "2", "--N", "1",
            "--json"]  # fmt: skip
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    trained = sorted(r["index"] for r in out["runs"])
    assert trained == ball(space, centre, 1) and len(trained) == 1 + 6 * 5
    assert all(r["status"] == "done" and r["mode"] == "faithful" for r in out["runs"])

    table = read_results_db(db)
    assert table.space == space and table.meta["mode"] == "faithful"
    acc = table.vector("cifar10", "ori-test", 1)
    assert np.isfinite(acc[trained]).all() and np.isnan(acc).sum() == space.size - len(trained)

    # flatness of the centre: its 30 neighbours all measured; a neighbour's own ball is mostly
    # unmeasured, and the explicit policy decides what that means
    fl = flatness(space, acc, radius=1, nan_policy="omit")
    assert fl.loc[centre.index, "n"] == 30
    want = np.mean([acc[i] for i in trained if i != centre.index])
    assert fl.loc[centre.index, "mean"] == pytest.approx(want)
    edge = next(i for i in trained if i != centre.index)
    # measured among its 30 neighbours: the centre and the 4 cells with another op on the
    # same edge (6 ops: its own, the centre's, 4 others)
    assert fl.loc[edge, "n"] == 1 + 4
    assert np.isnan(flatness(space, acc, radius=1, nan_policy="propagate").loc[edge, "mean"])

    # a barrier between two neighbours at distance 2: one path through the (measured) centre,
    # one through an unmeasured cell; "omit" averages the measured members of each level
    a = space.from_ops(["nor_conv_1x1", "skip_connect", "sep_conv_3x3", *centre.ops[3:]])
    b = space.from_ops(["nor_conv_3x3", "none", "sep_conv_3x3", *centre.ops[3:]])
    res = a2m_barrier(space, acc, a, b, nan_policy="omit")
    mid = acc[centre.index]
    ends = (acc[a.index] + acc[b.index]) / 2
    assert res.barrier == pytest.approx(ends - min(mid, acc[a.index], acc[b.index]))
    assert np.isnan(a2m_barrier(space, acc, a, b, nan_policy="propagate").barrier)


def test_a_sample_of_a_five_node_space_trains_through_the_command(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train --nodes 5 --ops ... --sample N --seed S`: the cells plan_campaign draws, each
    trained or answered at chance (a disconnected one), and the database imports as a table of
    that space with exactly those cells measured."""
    pytest.importorskip("torch")
    from test_train_cli import run_cli

    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.train.campaign import plan_campaign

    ops = ["none", "skip_connect", "nor_conv_1x1"]
    space = Space(ops, 5)
    plan = plan_campaign(space, sample_n=4, sample_seed=3)
    db = tmp_path / "r.sqlite"
    argv = ["train", "--nodes", "5", "--ops", *ops, "--sample", "4", "--sample-seed", "3",
            "--dataset", "cifar10", "--epochs", "1", "--data-root", str(cifar10_root),
            "--db", str(db), "--device", "cpu", "--executor", "inline", "--C", "2", "--N", "1",
            "--json"]  # fmt: skip
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    trained = sorted(r["index"] for r in out["runs"])
    chance = sorted(r["index"] for r in out["constant_output_cells"])
    assert trained == list(plan.cells) and chance == list(plan.constant_output)
    assert len(trained) + len(chance) == 4 and trained
    assert all(r["status"] == "done" for r in out["runs"])
    table = read_results_db(db)
    assert table.space == space
    acc = table.vector("cifar10", "ori-test", 1)
    measured = np.flatnonzero(np.isfinite(acc)).tolist()
    assert measured == sorted(trained + chance)


def test_disconnected_cells_recorded_at_chance_with_a_flag(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from test_train_cli import run_cli

    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.train.campaign import record_constant_output
    from nb201_flat.train.jobs import make_jobs

    zero = NB201.from_ops(["none"] * 6).index
    db = tmp_path / "r.sqlite"
    argv = ["train", str(zero), "11472", "--dataset", "cifar10", "--epochs", "1",
            "--data-root", str(cifar10_root), "--db", str(db), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--json"]  # fmt: skip
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in out["runs"]] == [11472]  # the disconnected cell is not trained
    assert out["constant_output_cells"] == [
        {"index": zero, "accuracy": 10.0, "constant_output": True}
    ]
    table = read_results_db(db)
    assert table.meta["constant_output"] == [
        {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": zero}
    ]
    assert table.vector("cifar10", "ori-test", 1)[zero] == 10.0
    assert np.isnan(table.vector("cifar10", "ori-test", 1, "loss")[zero])  # not computed
    # not trained: no training time either (0 s would make the cell free to a time budget)
    assert np.isnan(table.vector("cifar10", "train", 1, "time_s")[zero])
    assert table.vector("cifar10", "train", 1, "time_s")[11472] > 0
    assert np.isfinite(table.vector("cifar10", "ori-test", 1, "loss")[11472])
    (connected,) = make_jobs([11472], dataset="cifar10", epochs=1, seeds=[1],
                             data_root=cifar10_root, db_path=db)  # fmt: skip
    with pytest.raises(ArgumentError, match="connected"):
        record_constant_output(connected)

    # trained on purpose (--train-disconnected), then a campaign without the flag: kept
    assert run_cli([*argv, "--train-disconnected"]) == 0
    trained = json.loads(capsys.readouterr().out)["runs"]
    assert [r["index"] for r in trained] == [zero, 11472]
    assert [r["status"] for r in trained] == ["done", "skipped"]
    own = read_results_db(db).vector("cifar10", "ori-test", 1, "loss")[zero]
    assert np.isfinite(own)  # a trained run's loss, not a chance record's missing one
    assert run_cli(argv) == 0
    # ...and reported as the database holds it: a stored run with its numbers, not at chance
    out = json.loads(capsys.readouterr().out)
    assert out["constant_output_cells"] == []
    (kept,) = (r for r in out["runs"] if r["index"] == zero)
    assert kept["status"] == "skipped" and kept["metrics"] == trained[0]["metrics"]
    assert run_cli(argv[:-1]) == 0  # the text form too
    text = capsys.readouterr().out
    assert "not trained" not in text and f"{zero:>6} seed 777   skipped " in text, text
    again = read_results_db(db)
    assert (
        again.meta["constant_output"] == []
        and again.vector("cifar10", "ori-test", 1, "loss")[zero] == own
    )


def test_isomorphic_cells_recorded_and_imported_with_their_stand_in(
    cifar10_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    from test_train_cli import run_cli

    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.train.results_db import ResultsDB

    ops = list(TOY_OPS)
    space, _, centre, member, rep = one_isomorphic_class()
    db = tmp_path / "r.sqlite"
    argv = ["train", "--neighbours-of", str(centre), "--radius", "1", "--unique-isomorphism",
            "--ops", *ops, "--dataset", "cifar10", "--epochs", "1", "--seeds", "1", "2",
            "--data-root", str(cifar10_root), "--db", str(db), "--device", "cpu",
            "--executor", "inline", "--C", "2", "--N", "1", "--json"]  # fmt: skip
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["isomorphism_representative"] == {str(member): rep}
    runs = ResultsDB(db, readonly=True).runs_frame()
    mine = runs[runs["arch_index"] == member]
    assert set(mine["status"]) == {"isomorphic"} and len(mine) == 2  # one per seed
    assert set(mine["isomorphic_to"]) == {str(space.arch(rep))}

    table = read_results_db(db)
    assert table.meta["isomorphic_to"] == [
        {"dataset": "cifar10", "epochs": 1, "seed": seed, "index": member, "copied_from": rep}
        for seed in (1, 2)
    ]
    for seed in (1, 2):  # the seed ids the stand-in records name
        acc = table.vector("cifar10", "ori-test", 1, seed_policy=seed)
        assert acc[member] == acc[rep] and np.isfinite(acc[rep])
    assert np.isnan(read_results_db(db, fill_isomorphic=False).vector("cifar10", "ori-test", 1, seed_policy=1)[member])  # fmt: skip

    # trained after all (without --unique-isomorphism): its own run replaces the stand-in
    assert run_cli([*argv[:5], *argv[6:]]) == 0
    capsys.readouterr()
    runs = ResultsDB(db, readonly=True).runs_frame()
    mine = runs[runs["arch_index"] == member]
    assert set(mine["status"]) == {"done"} and mine["isomorphic_to"].isna().all()
    assert read_results_db(db).meta["isomorphic_to"] == []
    # a campaign recording the mapping again keeps the member's own run, and reports it
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["isomorphism_representative"] == {}
    assert {r["status"] for r in out["runs"] if r["index"] == member} == {"skipped"}
    assert read_results_db(db).meta["isomorphic_to"] == []
    assert run_cli(argv[:-1]) == 0  # the text form too
    assert "isomorphic to" not in capsys.readouterr().out


def _constant_job(tmp_path: Path, **kw: object) -> object:
    """The job of NB201's all-``none`` cell (disconnected), its --db in ``tmp_path``."""
    from nb201_flat.train.jobs import make_jobs

    zero = NB201.from_ops(["none"] * 6).index
    (job,) = make_jobs([zero], dataset="cifar10", epochs=1, seeds=[1], data_root=tmp_path,
                       db_path=tmp_path / "r.sqlite", **kw)  # type: ignore[arg-type]  # fmt: skip
    return job


def test_a_record_without_training_takes_the_runs_lock(tmp_path: Path) -> None:
    # as training holds it: no process trains the run while it is deleted and recorded
    from dataclasses import replace

    from nb201_flat.errors import RunLockedError
    from nb201_flat.train.campaign import record_constant_output, record_isomorphic
    from nb201_flat.train.runlock import run_lock

    job = _constant_job(tmp_path)
    other = NB201.from_ops(["none"] * 5 + ["skip_connect"])  # disconnected too: one class
    twin = replace(job, arch=str(other), index=other.index, ops=other.ops)  # type: ignore[type-var]
    with run_lock(job.checkpoint_folder, job.name):  # type: ignore[attr-defined]
        with pytest.raises(RunLockedError, match="is being trained by pid"):
            record_constant_output(job)
        with pytest.raises(RunLockedError, match="is being trained by pid"):
            record_isomorphic(job, twin)
    assert not (tmp_path / "r.sqlite").exists() or not _statuses(tmp_path / "r.sqlite")
    assert record_constant_output(job)  # the lock released: recorded
    assert _statuses(tmp_path / "r.sqlite") == ["constant"]


def _statuses(path: Path) -> list[str]:
    import sqlite3

    con = sqlite3.connect(path)
    rows = [str(r[0]) for r in con.execute("SELECT status FROM runs")]
    con.close()
    return rows


def test_a_damaged_record_is_recorded_again_and_the_warning_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import sqlite3
    from dataclasses import replace

    from nb201_flat.errors import ResultsDBError
    from nb201_flat.train.campaign import record_constant_output
    from nb201_flat.train.results_db import ResultsDB

    job = _constant_job(tmp_path)
    assert record_constant_output(job)
    con = sqlite3.connect(tmp_path / "r.sqlite")
    with con:
        assert con.execute("UPDATE epochs SET accuracy = 99.0").rowcount >= 1
    con.close()
    with pytest.raises(ResultsDBError, match="retrain_damaged=True"):
        ResultsDB(tmp_path / "r.sqlite").finished_runs()
    with caplog.at_level(logging.WARNING):
        assert record_constant_output(replace(job, retrain_damaged=True))  # type: ignore[type-var]
    (said,) = [r.getMessage() for r in caplog.records if "retrain_damaged" in r.getMessage()]
    # recorded at chance, not trained: the warning must not say it was trained
    assert "recorded again without training" in said and "trained again" not in said, said
    assert "do not match the checksum" in said
    db = ResultsDB(tmp_path / "r.sqlite")
    assert db.status(job.key) == "constant" and db.finished_runs() == (set(), {})  # type: ignore[attr-defined]
    db.close()


TINY = Space(("none", "skip", "conv"), 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # a bare AttributeError ('int' object has no attribute 'n_edges' / 'size' / 'resolve')
        (lambda: ball(3, 0, 1), "^space must be a Space, got int 3"),  # type: ignore[arg-type]
        (lambda: sample(None, 2, 0), "^space must be a Space"),  # type: ignore[arg-type]
        (lambda: plan_campaign("nb201", archs=[0]), "^space must be a Space"),  # type: ignore[arg-type]
        # a bare TypeError, or int() truncating 1.5
        (lambda: ball(TINY, 0, None), r"^radius must lie in 0\.\.3 \(edges per cell\), got None"),  # type: ignore[arg-type]
        (lambda: ball(TINY, 0, 1.5), r"^radius must lie in 0\.\.3 \(edges per cell\), got 1\.5"),
        (lambda: sample(TINY, None, 0), r"^n must be in 1\.\.27, got None"),  # type: ignore[arg-type]
        (lambda: sample(TINY, 2.5, 0), r"^n must be in 1\.\.27, got 2\.5"),
        (lambda: sample(TINY, True, 0), r"^n must be in 1\.\.27, got True"),
        (lambda: sample(TINY, 2, "0"), r"^seed must be >= 0 .*, got '0'"),  # type: ignore[arg-type]
        (lambda: sample(TINY, 2, 2.5), r"^seed must be >= 0 .*, got 2\.5"),
        (
            lambda: plan_campaign(TINY, archs=3),
            r"^archs must be a sequence of architectures, got 3",
        ),  # type: ignore[arg-type]
        (
            lambda: plan_campaign(TINY, archs=[0], unique_isomorphism="no"),
            "^unique_isomorphism must be True or False",
        ),  # type: ignore[arg-type]
        (
            lambda: plan_campaign(TINY, archs=[0], train_disconnected=1),
            "^train_disconnected must be True or False",
        ),  # type: ignore[arg-type]
    ],
)
def test_campaign_sets_refuse_wrong_arguments_by_name(call: object, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        call()  # type: ignore[operator]


def test_campaign_sets_take_numpy_counts() -> None:
    assert ball(TINY, 0, np.int64(1)) == ball(TINY, 0, 1)
    assert sample(TINY, np.int64(3), np.int64(1)) == sample(TINY, 3, 1)


@pytest.mark.parametrize("record", ["constant", "isomorphic"])
def test_a_record_without_training_drops_what_an_interrupted_training_left(
    tmp_path: Path, record: str
) -> None:
    # an interrupted --train-disconnected run, then recorded at chance: its epochs 1-2 stayed
    # beside the chance row in load_curves, and its checkpoints for a later resume
    pytest.importorskip("torch")
    from dataclasses import replace

    from nb201_flat.train.campaign import record_constant_output, record_isomorphic
    from nb201_flat.train.checkpoint import Checkpointer
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.results_db import ResultsDB, load_curves

    zero = NB201.from_ops(["none"] * 6)
    (job,) = make_jobs([zero.index], dataset="cifar10", epochs=3, seeds=[1],
                       data_root=tmp_path, db_path=tmp_path / "r.sqlite")  # fmt: skip
    db = ResultsDB(job.db_path)
    for epoch in (1, 2):
        db.write_epoch(job.key, job.index, epoch, {"train": (2.0, 20.0 + epoch, 1.0)})
    db.close()
    ckpt = Checkpointer(job.checkpoint_folder)
    ckpt.save(2, {"epoch": 2})
    assert ckpt.files()
    if record == "constant":
        assert record_constant_output(job)
    else:
        other = NB201.from_ops(["none"] * 5 + ["skip_connect"])  # disconnected too: one class
        twin = replace(job, arch=str(other), index=other.index, ops=other.ops)
        assert record_isomorphic(job, twin)
    curves = load_curves(job.db_path)
    mine = curves[curves["index"] == zero.index]
    assert set(mine["epoch"]) <= {3}, mine  # the record's own final epoch at most
    assert not Checkpointer(job.checkpoint_folder).files()
