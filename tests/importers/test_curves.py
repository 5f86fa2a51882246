"""Per-epoch learning curves from the official files, against the official APIs' iepoch queries."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.curves import NoCurvesError, require_curves
from nb201_flat.errors import Call, SearchBudgetError, TableFileError, UnknownKeyError
from nb201_flat.importers import import_table
from nb201_flat.storage import load_saved_table, save_table
from nb201_flat.table import MetricKey, Table

from .conftest import EPOCHS_STORED, LAYOUT

# the API's get_more_info prefixes -> our split for each dataset
_TEST = {"cifar10-valid": "ori-test", "cifar10": "ori-test"}


def _prefixes(dataset: str) -> dict[str, str]:
    return {
        "train": "train",
        "valid": "x-valid",
        "test": _TEST.get(dataset, "x-test"),
        "valtest": "ori-test",
    }


# The API answers one epoch per call (slowly): the first two, a middle one and the last two
# of each schedule are compared, the ends being where an off-by-one shows.
_EPOCHS_COMPARED = {n: sorted({0, 1, n // 2, n - 2, n - 1}) for n in EPOCHS_STORED.values()}


def assert_curves_match_api(table: Table, api: Any, hp_epochs: dict[str, int]) -> int:
    """Every (arch, schedule, dataset, seed, epoch) the API answers equals our curves.

    Returns how many numbers were compared; also checks that the curves hold nothing the API
    does not answer.
    """
    curves = require_curves(table)
    compared = 0
    answered: dict[tuple[MetricKey, int | None], set[tuple[int, int]]] = {}
    for index in LAYOUT:
        for hp, epochs in hp_epochs.items():
            meta = api.query_meta_info_by_index(index, hp)
            for dataset in meta.get_dataset_names():
                seeds = sorted(meta.get_dataset_seeds(dataset))
                n = EPOCHS_STORED["full" if epochs == 200 else "less"]
                for pos, is_random in [(None, False), *enumerate(seeds)]:
                    seed = "mean" if pos is None else pos
                    for e in _EPOCHS_COMPARED[n]:
                        info = api.get_more_info(
                            index, dataset, iepoch=e, hp=hp, is_random=is_random
                        )
                        for prefix, split in _prefixes(dataset).items():
                            for metric in ("accuracy", "loss"):
                                if f"{prefix}-{metric}" not in info:
                                    continue
                                key = MetricKey(dataset, split, epochs, metric)
                                got = curves.curve(key, seed_policy=seed)[index, e]
                                want = float(info[f"{prefix}-{metric}"])
                                assert got == pytest.approx(want, rel=1e-12, abs=0), (
                                    index, hp, dataset, pos, e, split, metric,
                                )  # fmt: skip
                                answered.setdefault((key, pos), set()).add((index, e))
                                compared += 1
                        if info["train-all-time"] is not None:
                            key = MetricKey(dataset, "train", epochs, "epoch_time_s")
                            row = curves.curve(key, seed_policy=seed)[index]
                            assert row[: e + 1].sum() == pytest.approx(
                                float(info["train-all-time"]), rel=1e-12
                            )
                            answered.setdefault((key, pos), set()).add((index, e))
                            compared += 1
    for key, seed in curves.items():
        arr = curves.curve(key, seed_policy="mean" if seed is None else seed)
        present = {
            (int(i), int(e))
            for i, e in zip(*np.nonzero(~np.isnan(arr)), strict=True)
            if e in _EPOCHS_COMPARED[arr.shape[1]]
        }
        assert present == answered.get((key, seed), set()), (key, seed)
    return compared


@pytest.fixture(scope="module")
def imported(files: dict[str, Path]) -> Callable[[str], Table]:
    """``name``'s fixture file imported with its curves, kept for the next test that asks for
    the same file: an import builds ~190 curve arrays over the whole space (seconds, 3 GB), and
    the tests given it only read it. One table is kept at a time."""
    kept: dict[str, Table] = {}

    def get(name: str) -> Table:
        if name not in kept:
            kept.clear()  # before the next import: never two tables at once
            fmt = "nb201-pth" if name.startswith("pth") else "nats-tss"
            kept[name] = import_table(files[name], format=fmt)
        return kept[name]

    return get


@pytest.fixture(scope="module")
def saved_pth_zip(
    imported: Callable[[str], Table], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The pth_zip import saved once (its curves file takes seconds to write): a test copies
    the folder before it changes anything in it."""
    return save_table(imported("pth_zip"), tmp_path_factory.mktemp("saved") / "t")


# pth_zip last, nats_dir last below: the tests after each read the same import (imported)
@pytest.mark.parametrize("name", ["pth_legacy", "pth_weights", "pth_zip"])
def test_nb201_curves_equal_official_api(
    files: dict[str, Path], imported: Callable[[str], Table], name: str
) -> None:
    from nas_201_api import NASBench201API

    api = NASBench201API(str(files[name]), verbose=False)
    table = imported(name)
    assert assert_curves_match_api(table, api, {"200": 200, "12": 12}) > 1000


def test_curve_last_epoch_is_the_final_value(imported: Callable[[str], Table]) -> None:
    table = imported("pth_zip")
    curves = require_curves(table)
    for key in ("x-valid", "train"):
        k = MetricKey("cifar100", key, 200, "accuracy")
        last = curves.at(k, curves.n_epochs(k) - 1, seed_policy="mean")
        np.testing.assert_array_equal(last, table.vector_for(k))


def test_modified_curves_file_is_refused_on_first_read(saved_pth_zip: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(saved_pth_zip, tmp_path / "t"))
    with (folder / "curves.parquet").open("ab") as f:
        f.write(b"x")
    loaded = load_saved_table(folder)  # final values load: the curves are not read yet
    assert loaded.keys()
    curves = require_curves(loaded)
    key = curves.keys()[0]
    with pytest.raises(TableFileError, match="checksum"):
        curves.curve(key)


def test_curves_can_be_skipped(files: dict[str, Path]) -> None:
    table = import_table(files["pth_zip"], format="nb201-pth", curves=False)
    with pytest.raises(NoCurvesError, match="no learning curves") as info:
        require_curves(table)
    # the library names its importer (a command would respell it), never a command line
    assert "with nb201_flat.importers.import_table to get" in str(info.value)
    assert Call("nb201_flat.importers.import_table") in info.value.parts
    assert "nb201-flat" not in str(info.value)


def test_unknown_curve_key_epoch_and_seed(imported: Callable[[str], Table]) -> None:
    curves = require_curves(imported("pth_zip"))
    # named as keys are everywhere, not a cut-off repr ("MetricKey(...'accur...")
    with pytest.raises(
        UnknownKeyError, match=r"^no learning curve for cifar10/x-valid@200ep:accuracy;"
    ):
        curves.key("cifar10", "x-valid", 200)
    key = curves.key("cifar10-valid", "x-valid", 200)
    with pytest.raises(UnknownKeyError, match=r"outside the stored 0\.\.199"):
        curves.at(key, 200)
    with pytest.raises(UnknownKeyError, match="stored seeds"):
        curves.curve(key, seed_policy=7)


def test_loading_final_values_does_not_read_curves(saved_pth_zip: Path, tmp_path: Path) -> None:
    # the functional half of the speed claim (the timing is in benchmarks/bench_curves.py)
    folder = Path(shutil.copytree(saved_pth_zip, tmp_path / "t"))
    (folder / "curves.parquet").unlink()
    t0 = time.perf_counter()
    loaded = load_saved_table(folder)
    assert time.perf_counter() - t0 >= 0  # loads although the curves file is gone
    with pytest.raises(TableFileError, match="missing"):
        require_curves(loaded).curve(require_curves(loaded).keys()[0])


@pytest.mark.parametrize("name", ["nats_file", "nats_dir"])
def test_nats_curves_equal_official_api(
    files: dict[str, Path], imported: Callable[[str], Table], name: str
) -> None:
    from nats_bench import create

    api = create(str(files[name]), "tss", fast_mode=name == "nats_dir", verbose=False)
    table = imported(name)
    assert assert_curves_match_api(table, api, {"200": 200, "12": 12}) > 1000


def test_curves_survive_save_and_load_lazily(
    imported: Callable[[str], Table], tmp_path: Path
) -> None:
    table = imported("nats_dir")
    folder = save_table(table, tmp_path / "t")
    loaded = load_saved_table(folder)
    assert (folder / "curves.parquet").exists()
    before = require_curves(table)
    after = require_curves(loaded)
    assert after._data == {}  # nothing read at load time
    assert list(after.items()) == list(before.items())
    for key, seed in before.items():
        s = "mean" if seed is None else seed
        np.testing.assert_array_equal(
            after.curve(key, seed_policy=s), before.curve(key, seed_policy=s)
        )
    # final values unchanged
    for key in table:
        np.testing.assert_array_equal(loaded.vector_for(key), table.vector_for(key))


def test_cli_import_keeps_curves_and_hyperband_runs_on_them(
    files: dict[str, Path], tmp_path: Path
) -> None:
    from nb201_flat.cli import main
    from nb201_flat.search.fidelity import Hyperband, fidelity_data, run_fidelity

    out = tmp_path / "nb201.nb201"
    assert main(["import", str(files["pth_zip"]), "--out", str(out)]) == 0
    table = load_saved_table(out)
    curves = require_curves(table)
    key = MetricKey("cifar10-valid", "x-valid", 200)
    assert curves.n_epochs(key) == EPOCHS_STORED["full"]
    with pytest.raises(SearchBudgetError, match="no valid per-epoch time"):
        fidelity_data(table, budget_seconds=500.0)  # most cells have no curve, 3 no times
    data = fidelity_data(table, budget_seconds=500.0, measured_only=True)
    record = run_fidelity(data, Hyperband(eta=2), seed=0)
    assert data.candidates is not None and set(data.candidates) == {0, 2, 5}
    assert record.best in LAYOUT and 0 < record.seconds <= 500.0
    assert record.score in set(curves.curve(key, seed_policy=0)[record.best]) | set(
        curves.curve(key, seed_policy=1)[record.best]
    ) | set(curves.curve(key, seed_policy=2)[record.best])


def test_cli_import_no_curves_keeps_every_final_value(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main

    for name in ("pth_zip", "nats_file"):
        full, bare = tmp_path / f"{name}-full", tmp_path / f"{name}-bare"
        assert main(["import", str(files[name]), "--out", str(full)]) == 0
        assert main(["import", str(files[name]), "--out", str(bare), "--no-curves"]) == 0
        with_curves, without = load_saved_table(full), load_saved_table(bare)
        assert with_curves.curves is not None and list(with_curves.curves.items())
        assert without.curves is None
        with pytest.raises(NoCurvesError):
            require_curves(without)
        assert without.keys() == with_curves.keys()
        for k, v in with_curves.data.items():
            np.testing.assert_array_equal(without.data[k], v)
        assert without.meta["import_command"].endswith("--no-curves")
    capsys.readouterr()


def test_cli_no_curves_on_a_format_without_curves_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main

    csv = tmp_path / "t.csv"
    csv.write_text("index,dataset,split,epochs,seed,metric,value\n0,d,s,1,,m,1.0\n")
    code = main(["import", str(csv), "--out", str(tmp_path / "o"), "--no-curves"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--no-curves applies only to" in err, err
    assert not (tmp_path / "o").exists()


def test_import_table_without_curves_on_a_format_without_curves_is_an_error(
    tmp_path: Path,
) -> None:
    # the option did nothing on a tidy file and was accepted without a word from Python
    from nb201_flat.errors import ArgumentError
    from nb201_flat.importers import import_table

    csv = tmp_path / "t.csv"
    csv.write_text("index,dataset,split,epochs,seed,metric,value\n0,d,s,1,,m,1.0\n")
    with pytest.raises(ArgumentError, match=r"^curves=False applies only to nb201-pth and "):
        import_table(csv, curves=False)
    assert import_table(csv).curves is None


def test_infinite_curve_values_are_refused_naming_where(tmp_path: Path) -> None:
    # an inf in a learning curve flowed into every mean and rank read from it without a word
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nb201_flat.curves import Curves, lazy_curves
    from nb201_flat.errors import FormatError
    from nb201_flat.importers.curves import CurveCollector

    run = {
        "epochs": 3,
        "train_acc1es": {0: 10.0, 1: 20.0, 2: 30.0},
        "train_losses": {0: 2.0, 1: float("inf"), 2: 1.0},  # a diverged epoch, not the last
        "eval_acc1es": {"ori-test@2": 29.0},
        "eval_losses": {"ori-test@2": 1.1},
    }
    with pytest.raises(
        FormatError,
        match=r"^f\.pth: architecture 7 cifar10 \(200 epochs\) seed position 0: train loss is "
        r"infinite at epoch 1 ",
    ):
        CurveCollector("f.pth").add_runs(7, "cifar10", 200, ["ori-test"], [run])
    key = MetricKey("cifar10", "ori-test", 200)
    arr = np.zeros((4, 3))
    arr[2, 1] = -np.inf
    with pytest.raises(FormatError, match="seed mean is infinite at architecture 2, epoch 1"):
        Curves(4, {(key, None): arr})
    # a stored file: named with its column where it is first read
    flat = pa.array(arr.ravel(), type=pa.float64())
    pq.write_table(pa.table({"k0": pa.FixedSizeListArray.from_arrays(flat, 3)}), tmp_path / "c.pq")
    column = {"name": "k0", "dataset": "cifar10", "split": "ori-test", "epochs": 200}
    column.update(metric="accuracy", seed=None, n_epochs=3)
    entry = {"file": "c.pq", "n_archs": 4, "columns": [column]}
    curves = lazy_curves(tmp_path, entry, sums=None, hint=("re-import it",))
    with pytest.raises(TableFileError, match=r"c\.pq column k0 is infinite at architecture 2"):
        curves.curve(key)


def test_import_names_the_file_of_an_infinite_curve_value(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.importers import curves as collect

    read = collect._run_curves

    def with_inf(run: Any, splits: Any) -> Any:
        out = read(run, splits)
        out["train", "loss"] = np.where(np.arange(len(out["train", "loss"])) == 1, np.inf, 0.0)
        return out

    monkeypatch.setattr(collect, "_run_curves", with_inf)
    with pytest.raises(FormatError, match=r"-096897\.pth: architecture \d+ .* infinite at epoch 1"):
        import_table(files["pth_zip"], format="nb201-pth")


def test_a_curve_lookup_refuses_what_is_no_key() -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.testing import figure_table

    curves = require_curves(figure_table())
    # seeds() of anything but a key was [] (as if only the mean were stored); an array met
    # `k == key` (numpy's ambiguous-truth ValueError)
    # curve() of a key's tuple said "no learning curve for" a key whose curve is stored
    stored = ("cifar10-valid", "x-valid", 200)
    assert curves.key(*stored) in curves
    # `in` takes a key's tuple as a table's `in` does (it was silently not in the curves)
    assert stored in curves and (*stored, "accuracy") in curves
    assert ("cifar10-valid", "x-valid", 12) not in curves
    for other in ("cifar10-valid", (curves.key(*stored), None)):  # (key, seed): no table's
        with pytest.raises(ArgumentError, match="^curves hold MetricKeys.*got [^;]*$"):
            _ = other in curves
    for call in (
        lambda: curves.seeds(stored),
        lambda: curves.n_epochs(np.zeros(2)),
        lambda: curves.curve(stored),
        lambda: curves.at(stored, 0),
    ):
        with pytest.raises(ArgumentError, match="^key must be a MetricKey, got "):
            call()
    with pytest.raises(ArgumentError, match=r"^key must be a MetricKey, got array\(") as err:
        curves.curve(np.zeros((2, 2)))  # type: ignore[arg-type]
    assert "\n" not in str(err.value)  # the array's repr spans lines
    # a table's name or its curves where the table belongs: AttributeError ('str' has no 'source')
    with pytest.raises(ArgumentError, match="^table must be a Table, got Curves"):
        require_curves(curves)  # type: ignore[arg-type]


# -- a loaded table's curves file ----------------------------------------------------------------
_ACC = MetricKey("cifar10-valid", "x-valid", 200, "accuracy")
_LOSS = MetricKey("cifar10-valid", "x-valid", 200, "loss")


def _curve_table(offset: float) -> Table:
    """A full-space table with two 4-epoch curves whose values tell the table apart."""
    from nb201_flat.curves import Curves
    from nb201_flat.space import NB201

    n = NB201.size
    curves = Curves(
        n,
        {
            (_ACC, None): np.full((n, 4), 1.0 + offset),
            (_LOSS, None): np.full((n, 4), 2.0 + offset),
        },
    )
    data = {(MetricKey("cifar10-valid", "x-valid", 200), None): np.full(n, 90.0 + offset)}
    return Table(NB201, data, source=f"t{offset}", curves=curves)


def test_a_loaded_table_reads_its_own_curves_after_the_folder_is_replaced(
    tmp_path: Path,
) -> None:
    # the curves file was reopened by path at every read: after a save over the same folder the
    # old table read the new file's columns under its own manifest's names (102.0, not 2.0)
    folder = save_table(_curve_table(0.0), tmp_path / "t")
    loaded = load_saved_table(folder)
    curves = require_curves(loaded)
    assert curves.curve(_ACC)[0, 0] == 1.0  # checked and read before the replacement
    save_table(_curve_table(100.0), folder)
    assert np.all(curves.curve(_LOSS) == 2.0)
    assert np.all(require_curves(load_saved_table(folder)).curve(_LOSS) == 102.0)


def test_a_first_curve_read_after_the_folder_is_replaced_is_no_false_checksum_error(
    tmp_path: Path,
) -> None:
    # the old manifest's checksum was checked against the new file: "does not match its
    # checksum" on an intact table
    folder = save_table(_curve_table(0.0), tmp_path / "t")
    curves = require_curves(load_saved_table(folder))
    save_table(_curve_table(100.0), folder)
    assert np.all(curves.curve(_ACC) == 1.0) and np.all(curves.curve(_LOSS) == 2.0)


def test_a_curves_file_modified_in_place_after_the_load_is_still_refused(tmp_path: Path) -> None:
    folder = save_table(_curve_table(0.0), tmp_path / "t")
    curves = require_curves(load_saved_table(folder))
    with (folder / "curves.parquet").open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(TableFileError, match="does not match its checksum"):
        curves.curve(_ACC)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc")
def test_loaded_tables_release_their_curves_file(tmp_path: Path) -> None:
    import gc

    folder = save_table(_curve_table(0.0), tmp_path / "t")
    load_saved_table(folder)  # whatever a first load imports and keeps open
    gc.collect()
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(50):
        require_curves(load_saved_table(folder)).curve(_ACC)
    assert len(list(Path("/proc/self/fd").iterdir())) <= before + 1
    # and at once on close: a curve not read yet is then an error, one read stays
    curves = require_curves(load_saved_table(folder))
    curves.curve(_ACC)
    opened = len(list(Path("/proc/self/fd").iterdir()))
    curves.close()
    assert len(list(Path("/proc/self/fd").iterdir())) == opened - 1
    assert curves.curve(_ACC)[0, 0] == 1.0
    with pytest.raises(TableFileError, match=r"curves\.parquet is closed"):
        curves.curve(_LOSS)


def test_a_loaded_table_with_curves_pickles_and_refuses_a_replaced_file(tmp_path: Path) -> None:
    # a spawned worker gets the table pickled (figures --jobs where the platform cannot fork)
    import pickle

    folder = save_table(_curve_table(0.0), tmp_path / "t")
    loaded = load_saved_table(folder)
    copy = pickle.loads(pickle.dumps(loaded))
    assert np.all(require_curves(copy).curve(_LOSS) == 2.0)
    pickled = pickle.dumps(loaded)
    save_table(_curve_table(100.0), folder)
    late = require_curves(pickle.loads(pickled))
    with pytest.raises(TableFileError, match="was replaced after the table was loaded"):
        late.curve(_LOSS)
    assert np.all(require_curves(loaded).curve(_LOSS) == 2.0)  # the original still reads its own
    # a closed reader's copy is closed too: it never opens whatever file is there by then
    other = load_saved_table(folder)
    require_curves(other).close()
    with pytest.raises(TableFileError, match="is closed"):
        require_curves(pickle.loads(pickle.dumps(other))).curve(_LOSS)


def test_a_load_that_races_with_a_replacement_never_mixes_two_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # replaced between reading the manifest and opening the curves file: the final values of
    # one table with the curves of the next (unchecked with verify=False); now loaded again
    import nb201_flat.curves as curves_module

    folder = save_table(_curve_table(0.0), tmp_path / "t")
    real = curves_module.lazy_curves
    replaced: list[bool] = []

    def replaced_first(*args: Any, **kwargs: Any) -> Any:
        if not replaced:
            replaced.append(True)
            save_table(_curve_table(100.0), folder)
        return real(*args, **kwargs)

    monkeypatch.setattr(curves_module, "lazy_curves", replaced_first)
    for verify in (False, True):
        replaced.clear()
        save_table(_curve_table(0.0), folder)
        loaded = load_saved_table(folder, verify=verify)
        assert replaced
        final = next(iter(loaded.data.values()))[0]
        assert (final, require_curves(loaded).curve(_LOSS)[0, 0]) == (190.0, 102.0)
