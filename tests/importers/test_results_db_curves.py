"""The learning curves of a results database's import (``import --curves``, ``curves=True``):
each curve ends at the final value the table serves for its key and seed, stand-ins included;
epochs a run did not evaluate are NaN; a saved table keeps them, checksummed."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.curves import Curves, NoCurvesError, require_curves
from nb201_flat.errors import ArgumentError, FormatError, TableFileError
from nb201_flat.importers import import_table
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.space import NB201
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.types import SeedPolicy
from tests.importers.test_results_db import _edit_as_a_writer

DATASET, EPOCHS = "cifar10-valid", 12
SPLITS = ("x-valid", "ori-test")
SEEDS = (777, 888)
CENTRE = 11472
# radius-1 neighbours of CENTRE; 6483 is isomorphic to 11145, and recorded as its copy
TRAINED = (CENTRE, 9593, 11109, 11378, 11533, 11145)
COPY, REP = 6483, 11145
ZERO = NB201.from_ops(["none"] * 6).index  # disconnected: at chance on 777, trained on 888
RUNNING = 13032  # started on 777, not finished
EVAL_EVERY = {777: 1, 888: 4}  # seed 888 evaluated every 4 epochs (--eval-every 4)


def acc(cell: int, seed: int, split: str, epoch: int) -> float:
    return 10 + 60 * (1 - math.exp(-epoch / 4)) + cell % 7 + seed % 5 + len(split)


def rows(cell: int, seed: int, epoch: int) -> dict[str, tuple[float, float, float]]:
    """One epoch as training writes it: train's time is cumulative, an evaluation's its own."""
    out = {"train": (2.5 / epoch, acc(cell, seed, "train", epoch), epoch * (1 + cell % 4 / 4))}
    if epoch % EVAL_EVERY[seed] == 0 or epoch == EPOCHS:
        out |= {s: (3.0 / epoch, acc(cell, seed, s, epoch), 0.125) for s in SPLITS}
    return out


def key_of(cell: int, seed: int) -> tuple[str, str, str, int, int]:
    return ("nb201", NB201.arch(cell).to_str(), DATASET, EPOCHS, seed)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "campaign.sqlite"
    db = ResultsDB(path)
    for seed in SEEDS:
        for cell in (*TRAINED, *((ZERO,) if seed == 888 else ())):
            for epoch in range(1, EPOCHS + 1):
                db.write_epoch(key_of(cell, seed), cell, epoch, rows(cell, seed, epoch))
            db.mark_run(key_of(cell, seed), cell, "done", train_time_s=1.0)
        db.mark_run(key_of(COPY, seed), COPY, "isomorphic", isomorphic_to=NB201.arch(REP).to_str())
    chance = {s: (math.nan, 10.0, math.nan) for s in ("train", *SPLITS)}
    db.mark_run(key_of(ZERO, 777), ZERO, "constant", final_rows=chance)
    for epoch in range(1, 6):
        db.write_epoch(key_of(RUNNING, 777), RUNNING, epoch, rows(RUNNING, 777, epoch))
    db.close()
    return path


@pytest.fixture
def table(db_path: Path) -> Table:
    return import_table(db_path, curves=True)


def test_curves_are_carried_when_asked_only(db_path: Path, table: Table) -> None:
    # reading and checking every epoch's rows is the slow part: not by default
    assert import_table(db_path).curves is None
    assert import_table(db_path, curves=False).curves is None  # no longer refused
    assert read_results_db(db_path).curves is None
    assert isinstance(table.curves, Curves)
    want = {
        MetricKey(DATASET, s, EPOCHS, m)
        for s in ("train", *SPLITS)
        for m in ("accuracy", "loss", *(("epoch_time_s",) if s == "train" else ()))
    }
    assert set(table.curves.keys()) == want
    for key in want:  # the table's seed ids (not positions), and the schedule's epochs
        assert table.curves.seeds(key) == list(SEEDS)
        assert table.curves.n_epochs(key) == EPOCHS


def test_every_curve_ends_at_the_final_value_the_table_serves(table: Table) -> None:
    curves = require_curves(table)
    checked = 0
    for key in list(curves.keys()):
        if key not in table:  # epoch_time_s: the table holds the cumulative time_s
            continue
        policies: list[SeedPolicy] = [*table.seeds(key), "mean"]
        for policy in policies:
            last = curves.curve(key, seed_policy=policy)[:, -1]
            np.testing.assert_array_equal(last, table.vector_for(key, seed_policy=policy))
            checked += int(np.isfinite(last).sum())
    assert checked > 100


def test_values_per_epoch_and_nan_where_not_evaluated(table: Table) -> None:
    curves = require_curves(table)
    valid = curves.key(DATASET, "x-valid", EPOCHS)
    # column e is the database's epoch e + 1
    want = [acc(CENTRE, 777, "x-valid", e) for e in range(1, EPOCHS + 1)]
    np.testing.assert_array_equal(curves.curve(valid, seed_policy=777)[CENTRE], want)
    # seed 888 evaluated every 4 epochs: NaN between; train is written every epoch
    seen = ~np.isnan(curves.curve(valid, seed_policy=888)[CENTRE])
    assert np.flatnonzero(seen).tolist() == [3, 7, 11]
    train = curves.key(DATASET, "train", EPOCHS)
    assert not np.isnan(curves.curve(train, seed_policy=888)[CENTRE]).any()
    # the mean: where every seed holds the value, as the official API's
    mean = curves.curve(valid, seed_policy="mean")[CENTRE]
    assert np.flatnonzero(~np.isnan(mean)).tolist() == [3, 7, 11]
    for e in (3, 7, 11):
        both = [acc(CENTRE, seed, "x-valid", e + 1) for seed in SEEDS]
        assert mean[e] == (both[0] + both[1]) / 2
    # each epoch's training seconds, the steps of the cumulative time stored
    times = curves.curve(curves.key(DATASET, "train", EPOCHS, "epoch_time_s"), seed_policy=777)
    np.testing.assert_allclose(times[CENTRE], 1 + CENTRE % 4 / 4)
    total = table.vector(DATASET, "train", EPOCHS, "time_s", seed_policy=777)
    np.testing.assert_allclose(np.nansum(times, axis=1)[list(TRAINED)], total[list(TRAINED)])
    # a run in progress has no final value: no curve either
    assert np.isnan(curves.curve(valid, seed_policy=777)[RUNNING]).all()
    assert np.isnan(table.vector_for(valid, seed_policy=777)[RUNNING])


def test_stand_ins_hold_curves_that_agree_with_their_final_values(table: Table) -> None:
    curves = require_curves(table)
    assert {(r["index"], r["copied_from"]) for r in table.meta["isomorphic_to"]} == {(COPY, REP)}
    for key in list(curves.keys()):  # a copy holds its stand-in's whole curve, on each seed
        for seed in SEEDS:
            arr = curves.curve(key, seed_policy=seed)
            np.testing.assert_array_equal(arr[COPY], arr[REP])
            assert not np.isnan(arr[COPY]).all()
    # at chance on 777: its recorded final epoch alone, no loss, no time (nothing trained)
    assert table.meta["constant_output"] == [
        {"dataset": DATASET, "epochs": EPOCHS, "seed": 777, "index": ZERO}
    ]
    valid = curves.key(DATASET, "x-valid", EPOCHS)
    chance = curves.curve(valid, seed_policy=777)[ZERO]
    assert chance[-1] == 10.0 and np.isnan(chance[:-1]).all()
    for metric in ("loss", "epoch_time_s"):
        key = MetricKey(DATASET, "train", EPOCHS, metric)
        assert np.isnan(curves.curve(key, seed_policy=777)[ZERO]).all()
    # the mean: the final accuracy over both seeds, the loss over the trained seed alone,
    # as the table's mean is
    mean = curves.curve(valid, seed_policy="mean")[ZERO]
    assert np.isnan(mean[:-1]).all()
    assert mean[-1] == (10.0 + acc(ZERO, 888, "x-valid", EPOCHS)) / 2
    loss = MetricKey(DATASET, "x-valid", EPOCHS, "loss")
    np.testing.assert_array_equal(
        curves.curve(loss, seed_policy="mean")[ZERO], curves.curve(loss, seed_policy=888)[ZERO]
    )
    assert table.vector_for(loss)[ZERO] == curves.curve(loss, seed_policy=888)[ZERO, -1]


def test_without_copies_a_copied_cell_has_no_curve(db_path: Path) -> None:
    bare = read_results_db(db_path, fill_isomorphic=False, curves=True)
    arr = require_curves(bare).curve(MetricKey(DATASET, "x-valid", EPOCHS), seed_policy=777)
    assert np.isnan(arr[COPY]).all() and not np.isnan(arr[REP]).all()


def test_a_saved_table_keeps_its_curves_checksummed(table: Table, tmp_path: Path) -> None:
    folder = save_table(table, tmp_path / "t.nb201")
    manifest = json.loads((folder / "manifest.json").read_text())
    stored = hashlib.sha256((folder / "curves.parquet").read_bytes()).hexdigest()
    assert manifest["sha256"]["curves.parquet"] == stored
    loaded = load_saved_table(folder)
    before, after = require_curves(table), require_curves(loaded)
    assert list(after.items()) == list(before.items())
    for key, seed in before.items():
        policy: SeedPolicy = "mean" if seed is None else seed
        np.testing.assert_array_equal(
            after.curve(key, seed_policy=policy), before.curve(key, seed_policy=policy)
        )
    # the bytes are checked at the first curve read
    copy = Path(shutil.copytree(folder, tmp_path / "copy.nb201"))
    with (copy / "curves.parquet").open("ab") as f:
        f.write(b"x")
    damaged = require_curves(load_saved_table(copy))
    with pytest.raises(TableFileError, match="does not match its checksum"):
        damaged.curve(damaged.keys()[0])


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            f"UPDATE epochs SET accuracy = 250.0 WHERE epoch = 5 AND split = 'x-valid' "
            f"AND arch_index = {CENTRE} AND seed = 777",
            "at epoch 5: x-valid accuracy 250.0 is not an accuracy in percent (0..100)",
        ),
        (
            f"UPDATE epochs SET time_s = 0.5 WHERE epoch = 7 AND split = 'train' "
            f"AND arch_index = {CENTRE} AND seed = 777",
            "at epoch 7: train time_s 0.5 is below its 6.0 at epoch 6, and a cumulative "
            "training time never falls",
        ),
    ],
)
def test_a_value_no_training_writes_is_refused_naming_its_run_and_epoch(
    db_path: Path, edit: str, said: str
) -> None:
    _edit_as_a_writer(db_path, edit)
    assert import_table(db_path).curves is None  # the final epochs alone do not read it
    run = key_of(CENTRE, 777)
    with pytest.raises(FormatError) as exc:
        import_table(db_path, curves=True)
    message = str(exc.value)
    assert message.startswith(f"{db_path} is damaged: run {run} {said}; "), message
    assert "retrain_damaged=True" in message


def test_curves_that_would_not_fit_are_refused_before_they_are_built(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.errors import ResourceLimitError

    monkeypatch.setenv("NB201_FLAT_MAX_MEMORY", "8M")  # the curves: 21 arrays of 1.5 MB
    assert import_table(db_path).curves is None  # the final values fit
    with pytest.raises(ResourceLimitError) as exc:
        import_table(db_path, curves=True)
    said = str(exc.value)
    assert said.startswith(f"carrying the learning curves of {db_path} (nb201) over 15,625 cells")
    assert "; import its final values alone (curves=False)" in said


def test_curves_on_a_format_without_them_are_refused(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("index,dataset,split,epochs,seed,metric,value\n0,d,s,1,,m,1.0\n")
    for asked in (True, False):
        with pytest.raises(ArgumentError, match=rf"^curves={asked} applies only to .*results-db"):
            import_table(csv, curves=asked)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_import_curves_and_the_flatness_by_epoch_figure(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "with.nb201"
    assert run(capsys, "import", str(db_path), "--out", str(out), "--curves")[0] == 0
    assert (out / "curves.parquet").is_file()
    loaded = load_saved_table(out)
    assert loaded.meta["import_command"].endswith("--curves")  # its rebuild carries them too
    figures = tmp_path / "figures"
    code, said, err = run(capsys, "figures", "--only", "flatness_by_epoch", "--table", str(out),
                          "--out", str(figures))  # fmt: skip
    assert code == 0 and (figures / "flatness_by_epoch.png").is_file(), said + err
    # by default, and with --no-curves: final values only
    for flags in ((), ("--no-curves",)):
        bare = tmp_path / f"bare{len(flags)}.nb201"
        assert run(capsys, "import", str(db_path), "--out", str(bare), *flags)[0] == 0
        assert not (bare / "curves.parquet").exists()
        with pytest.raises(NoCurvesError):
            require_curves(load_saved_table(bare))
        final = load_saved_table(bare)
        for key in loaded:
            np.testing.assert_array_equal(final.vector_for(key), loaded.vector_for(key))
    csv = tmp_path / "t.csv"
    csv.write_text("index,dataset,split,epochs,seed,metric,value\n0,d,s,1,,m,1.0\n")
    code, said, err = run(capsys, "import", str(csv), "--out", str(tmp_path / "o"), "--curves")
    assert code == 2 and said == "" and err.count("\n") == 1, err
    assert err.startswith("error: --curves applies only to nb201-pth and nats-tss files and to ")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_tiny_cpu_campaign_imports_with_curves_and_draws_the_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # what a user does: train a neighbourhood (copies, cells at chance, --eval-every), import
    # it with --curves, draw flatness_by_epoch
    torch = pytest.importorskip("torch")
    from tests.train.train_helpers import TOY_OPS, one_isomorphic_class, write_tiny_cifar10

    torch.set_num_threads(1)  # tiny nets: OpenMP's spinning threads slow them 10x
    root = write_tiny_cifar10(tmp_path / "data")
    space, plan, centre, member, rep = one_isomorphic_class()
    db = tmp_path / "r.sqlite"
    argv = ["train", "--neighbours-of", str(centre), "--radius", "1", "--unique-isomorphism",
            "--ops", *TOY_OPS, "--dataset", DATASET, "--epochs", str(EPOCHS), "--seeds", "1",
            "2", "--eval-every", "4", "--data-root", str(root), "--db", str(db), "--device",
            "cpu", "--executor", "inline", "--C", "2", "--N", "1", "--json"]  # fmt: skip
    assert run(capsys, *argv)[0] == 0
    out = tmp_path / "campaign.nb201"
    assert run(capsys, "import", str(db), "--out", str(out), "--curves")[0] == 0
    table = load_saved_table(out)
    curves = require_curves(table)
    for key in list(curves.keys()):
        if key in table:
            for policy in (1, 2, "mean"):
                np.testing.assert_array_equal(
                    curves.curve(key, seed_policy=policy)[:, -1],
                    table.vector_for(key, seed_policy=policy),
                )
    valid = curves.key(DATASET, "x-valid", EPOCHS)
    arr = curves.curve(valid, seed_policy=1)
    at = space.resolve(centre).index  # the helper's centre is an Arch
    assert np.flatnonzero(~np.isnan(arr[at])).tolist() == [3, 7, 11]  # --eval-every 4
    np.testing.assert_array_equal(arr[member], arr[rep])
    for cell in plan.constant_output:  # at chance: the final epoch alone
        assert arr[cell, -1] == 10.0 and np.isnan(arr[cell, :-1]).all()
    figures = tmp_path / "figures"
    code, said, err = run(capsys, "figures", "--only", "flatness_by_epoch", "--table", str(out),
                          "--out", str(figures))  # fmt: skip
    assert code == 0 and (figures / "flatness_by_epoch.png").is_file(), said + err
