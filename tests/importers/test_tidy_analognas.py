"""Importers of the tidy format and of AnalogNAS-Bench; format detection."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import FormatError, MissingValueError, TableFileError
from nb201_flat.importers import detect_format, import_table
from nb201_flat.importers.analognas import data_file, read_analognas
from nb201_flat.importers.naslib import from_naslib
from nb201_flat.importers.tidy import read_tidy
from nb201_flat.space import NB201
from nb201_flat.table import Table


def tidy_frame() -> pd.DataFrame:
    rows = []
    for i in (0, 7, 11472):
        for seed in (None, 0, 1):
            rows.append(
                {
                    "index": i,
                    "arch": NB201.arch(i).to_str(),
                    "dataset": "cifar100",
                    "split": "x-valid",
                    "epochs": 200,
                    "seed": seed,
                    "metric": "accuracy",
                    # the mean row is the mean of the two seed rows, as a mean over seeds is
                    "value": i / 1000 + (1.5 if seed is None else seed + 1),
                }
            )
    return pd.DataFrame(rows).astype({"seed": "Int64"})


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".tsv", ".parquet"])
def test_tidy_formats_identical(tmp_path: Path, suffix: str) -> None:
    # every suffix the importer names: a .csv.xz failed as undecodable text (pyarrow has no xz)
    df = tidy_frame()
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    assert detect_format(path) == "tidy"
    t = import_table(path)
    ref = Table.from_tidy(df)
    for k, v in ref.data.items():
        np.testing.assert_array_equal(t.data[k], v)
    assert t.value(11472, "cifar100", "x-valid", 200, seed_policy=1) == pytest.approx(11.472 + 2)


@pytest.mark.parametrize("column", ["dataset", "split", "metric"])
def test_tidy_key_text_with_spaces_around_it_is_refused(tmp_path: Path, column: str) -> None:
    # ' cifar100' was stored as a key of its own, which no query for cifar100 finds
    df = tidy_frame()
    df.loc[4, column] = f" {df.loc[4, column]}"
    with pytest.raises(FormatError, match=rf"row 5, column '{column}': ' .*' has spaces around"):
        Table.from_tidy(df)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    with pytest.raises(FormatError, match="has spaces around it"):
        import_table(path)


def test_truncated_tidy_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    tidy_frame().to_csv(path, index=False)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(FormatError, match="truncated"):
        read_tidy(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.xz", ".csv.gz", ".csv.bz2"])
def test_a_csv_without_a_last_line_end_is_said_to_be_maybe_cut(
    tmp_path: Path, suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # cut inside the last value, the file parsed without a word: 93.5 imported as 93. A whole
    # file written without a last line end looks the same: a warning, whatever the codec
    import bz2
    import gzip
    import logging
    import lzma

    pack = {".xz": lzma.compress, ".gz": gzip.compress, ".bz2": bz2.compress}
    compress = pack.get(Path(suffix).suffix, lambda b: b)
    whole = tidy_frame().to_csv(index=False, sep="\t" if suffix == ".tsv" else ",").encode()
    path = tmp_path / f"t{suffix}"
    path.write_bytes(compress(whole[:-3]))  # '...,13.472\n' cut to '...,13.4'
    with caplog.at_level(logging.WARNING):
        cut = read_tidy(path)
    assert "does not end with a line end: if it was cut short" in caplog.text
    assert cut.value(11472, "cifar100", "x-valid", 200, seed_policy=1) == 13.4  # as it says
    caplog.clear()
    path.write_bytes(compress(whole))
    with caplog.at_level(logging.WARNING):
        got = read_tidy(path)
    assert "line end" not in caplog.text
    assert got.value(11472, "cifar100", "x-valid", 200, seed_policy=1) == 13.472


def test_detect_unknown_and_missing(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01hello")
    with pytest.raises(FormatError, match="; pass format with one of tidy, "):
        detect_format(junk)
    with pytest.raises(TableFileError, match="no such file"):
        detect_format(tmp_path / "missing.csv")
    with pytest.raises(FormatError, match="unknown format"):
        import_table(junk, format="xml")
    # format=False or "" was read as None (detect it): a tidy file imported without complaint;
    # an array met `not in FORMATS` (numpy's ambiguous-truth ValueError)
    tidy = tmp_path / "t.csv"
    tidy.write_text("index,dataset,split,epochs,metric,value\n0,d,x-valid,12,accuracy,50\n")
    for given in (False, "", np.zeros(2)):
        with pytest.raises(FormatError, match="^unknown format .*; choose one of tidy, ") as err:
            import_table(tidy, format=given)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    assert import_table(tidy, format=None).vector("d", "x-valid", 12)[0] == 50.0


def test_analognas_embedded_matches_its_records() -> None:
    t = read_analognas()
    assert t.space is NB201 and "AnalogNAS" in t.source
    acc = t.vector("cifar10", "ori-test", 200)
    assert not np.isnan(acc).any()
    # read the raw records independently (restricted to plain attribute bags) and compare by name
    from nb201_flat.importers.analognas import _AnalogUnpickler

    with data_file().open("rb") as f:
        records = _AnalogUnpickler(f).load()
    for key in [(0, 0, 0, 0, 0, 0), (2, 1, 0, 2, 1, 0), (4, 3, 2, 1, 0, 4)]:
        i = from_naslib(key).index
        assert acc[i] == records[key].baseline_accuracy
        assert (
            t.value(i, "cifar10", "ori-test", 200, "hwt_drift_30d")
            == records[key].analog_drift_2592000.value
        )
    # disconnected cells cannot learn: chance accuracy
    assert np.allclose(acc[~NB201.connected], 10.0, atol=0.5)


def test_analognas_refuses_foreign_pickle(tmp_path: Path) -> None:
    evil = tmp_path / "data.anb"
    evil.write_bytes(pickle.dumps({(0,) * 6: pd.Timestamp(0)}))
    with pytest.raises(FormatError, match="refusing to unpickle"):
        read_analognas(evil)
    evil.write_bytes(b"not a pickle")
    with pytest.raises(FormatError, match="is not an AnalogNAS-Bench data.anb file"):
        read_analognas(evil)
    evil.write_bytes(pickle.dumps({(0,) * 6: 1.0})[:-4])  # a pickle cut short
    with pytest.raises(FormatError, match="not a readable"):
        read_analognas(evil)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_file_of_another_format_is_no_data_anb_not_a_damaged_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    # a tidy CSV read with --format analognas was called truncated or corrupt, with advice to
    # reinstall analog-nasbench, which cannot help
    import gzip

    from nb201_flat.cli import main

    text = tidy_frame().to_csv(index=False).encode()
    source = tmp_path / f"t{suffix}"
    source.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    out = tmp_path / "out"
    assert main(["import", str(source), "--out", str(out), "--format", "analognas"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: {source} is not an AnalogNAS-Bench data.anb file (a pickle;")
    assert err.endswith("import it with its own --format, or without one to detect it\n")
    assert "reinstall" not in err and "corrupt" not in err and not out.exists()
    assert main(["import", str(source), "--out", str(out)]) == 0  # the fix it names
    capsys.readouterr()


def _analognas_file(
    path: Path, monkeypatch: pytest.MonkeyPatch, records: dict[object, dict[str, object]]
) -> Path:
    """A data.anb-like pickle of ``records`` (key -> attributes) in the package's classes."""
    import sys
    import types

    module = types.ModuleType("analognasbench.data")

    class Architecture:
        pass

    class DriftMeasurement:
        pass

    for cls in (Architecture, DriftMeasurement):
        cls.__module__, cls.__qualname__ = module.__name__, cls.__name__
        setattr(module, cls.__name__, cls)
    # pickle imports the module by name: the parent package too, so neither runs its code
    monkeypatch.setitem(sys.modules, "analognasbench", types.ModuleType("analognasbench"))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    out: dict[object, Architecture] = {}
    for key, attrs in records.items():
        rec = Architecture()
        for name, value in attrs.items():
            if name.endswith(tuple(f"_drift_{s}" for s in ("60", "3600", "86400", "2592000"))):
                drift = DriftMeasurement()
                drift.value, drift.uncertainty = value  # type: ignore[attr-defined]
                value = drift
            setattr(rec, name, value)
        out[key] = rec
    path.write_bytes(pickle.dumps(out))
    return path


def _analognas_record(accuracy: object = 90.0) -> dict[str, object]:
    rec: dict[str, object] = {
        "baseline_accuracy": accuracy,
        "ptq_accuracy": 89.0,
        "qat_accuracy": 89.5,
        "noisy_accuracy": 88.0,
        "analog_accuracy": 87.0,
    }
    for s in ("60", "3600", "86400", "2592000"):
        rec[f"baseline_drift_{s}"] = (85.0, 0.5)
        rec[f"analog_drift_{s}"] = (84.0, 0.4)
    return rec


def test_analognas_damaged_records_are_a_format_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = (2, 1, 0, 2, 1, 0)
    good = _analognas_file(tmp_path / "ok.anb", monkeypatch, {key: _analognas_record()})
    assert read_analognas(good).value(from_naslib(key).index, "cifar10", "ori-test", 200) == 90.0
    # inf was stored as a value; None and a missing attribute failed in float() / getattr
    for bad in (float("inf"), None, "90"):
        path = _analognas_file(tmp_path / "bad.anb", monkeypatch, {key: _analognas_record(bad)})
        with pytest.raises(FormatError, match="has baseline_accuracy .*, not a finite number"):
            read_analognas(path)
    rec = _analognas_record()
    del rec["analog_drift_60"]
    path = _analognas_file(tmp_path / "bad.anb", monkeypatch, {key: rec})
    with pytest.raises(FormatError, match="has value None, not a finite number"):
        read_analognas(path)
    path = _analognas_file(tmp_path / "bad.anb", monkeypatch, {(9,) * 6: _analognas_record()})
    with pytest.raises(FormatError, match="record key .* is no NASLib cell"):
        read_analognas(path)
    with pytest.raises(TableFileError, match="no such file"):  # was FileNotFoundError
        read_analognas(tmp_path / "missing.anb")
    # one cell keyed twice (a tuple and its bytes): the later record's values were kept
    twice = {key: _analognas_record(), bytes(key): _analognas_record(60.0)}
    path = _analognas_file(tmp_path / "bad.anb", monkeypatch, twice)
    with pytest.raises(FormatError, match=r"record keys .* name one cell \(index"):
        read_analognas(path)


def test_the_embedded_default_is_read_only_from_the_published_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one flipped mantissa byte in the installed data.anb changed one cell's accuracy silently
    from nb201_flat.importers import analognas
    from nb201_flat.storage import load_table

    raw = bytearray(data_file().read_bytes())
    at = raw.index(b"G", len(raw) // 2) + 8  # a BINFLOAT's last (least significant) byte
    raw[at] ^= 1
    damaged = tmp_path / "data.anb"
    damaged.write_bytes(bytes(raw))
    monkeypatch.setattr(analognas, "data_file", lambda **_: damaged)
    want = "is not analog-nasbench 0.1.3's data.anb .*damaged or of another version; reinstall"
    with pytest.raises(FormatError, match=want):
        read_analognas()
    monkeypatch.setenv("NB201_FLAT_CACHE", str(tmp_path / "cache"))  # no default imported yet
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    with pytest.raises(FormatError, match=want):
        load_table()
    # a copy given by path is read as it is (the user's file; its sha256 is recorded)
    t = read_analognas(damaged)
    assert t.meta["file_sha256"] != analognas.PUBLISHED_SHA256


@pytest.mark.realdata
def test_analognas_matches_shared_csv(shared_dir: Path) -> None:
    df = pd.read_csv(shared_dir / "derived" / "analognasbench_cifar10_owntraining.csv").set_index(
        "index"
    )
    t = read_analognas()
    # the derived CSV keeps the pickle's attribute names
    mapping = {
        "baseline_accuracy": "accuracy",
        "ptq_accuracy": "ptq_accuracy",
        "qat_accuracy": "qat_accuracy",
        "noisy_accuracy": "analog_accuracy",
        "analog_accuracy": "hwt_accuracy",
        "baseline_drift_60": "drift_60s",
        "baseline_drift_2592000_unc": "drift_30d_std",
        "analog_drift_86400": "hwt_drift_1d",
    }
    for col, metric in mapping.items():
        expected = df[col].reindex(range(NB201.size)).to_numpy()
        np.testing.assert_allclose(
            t.vector("cifar10", "ori-test", 200, metric), expected, atol=1e-9
        )


def test_results_db_import_through_cli(tmp_path: Path) -> None:
    """A results database written by the training backend becomes a table."""
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.train.results_db import ResultsDB

    path = tmp_path / "results.sqlite"
    db = ResultsDB(path)
    arch = NB201.arch(11472).to_str()
    for seed, acc in ((888, 91.0), (777, 90.0)):
        key = ("nb201", arch, "cifar10", 2, seed)
        for epoch in (1, 2):
            db.write_epoch(
                key,
                11472,
                epoch,
                {"train": (0.5, acc - 5, 10.0 * epoch), "ori-test": (0.4, acc, 1.0)},
            )
        db.mark_run(key, 11472, "done")
    db.close()
    assert detect_format(path) == "results-db"
    t = import_table(path)
    assert t.seeds(t.keys()[0]) == [777, 888]  # the training seed ids
    assert t.value(11472, "cifar10", "ori-test", 2, seed_policy=777) == 90.0
    assert t.value(11472, "cifar10", "ori-test", 2) == 90.5  # mean of the stored seeds
    assert t.value(11472, "cifar10", "train", 2, "time_s", seed_policy=888) == 20.0
    with pytest.raises(MissingValueError, match="never measured"):  # not a NaN (issue 10)
        t.value(0, "cifar10", "ori-test", 2)
    assert read_results_db(path).keys() == t.keys()


@pytest.mark.parametrize("fmt", [None, "tidy", "analognas"])
def test_an_empty_source_is_refused_as_empty(fmt: str | None) -> None:
    from nb201_flat.errors import ArgumentError

    # Path("") is the current folder: it was sniffed as a file of no known format
    with pytest.raises(ArgumentError, match="^the source path is empty; give the file"):
        import_table("", format=fmt)
    with pytest.raises(ArgumentError, match="^the source path is empty"):
        detect_format(" ")


def test_a_plus_sign_on_an_integer_cell_reads_as_the_number(tmp_path: Path) -> None:
    # the pattern let '+0' through and arrow's cast then raised ArrowInvalid: a traceback
    arch = NB201.arch(0).to_str()
    src = tmp_path / "plus.csv"
    src.write_text(
        "index,arch,dataset,split,epochs,seed,metric,value\n"
        f"+0,{arch},cifar10,ori-test,+200,+1,accuracy,90.5\n"
    )
    table = read_tidy(src)
    assert table.seeds(("cifar10", "ori-test", 200)) == [1]
    assert table.value(0, "cifar10", "ori-test", 200, seed_policy=1) == 90.5


def test_an_unsigned_integer_past_int64_is_shown_as_written(tmp_path: Path) -> None:
    # int64 wrapped it round: 2**64 - 1 was refused as -1, which the file does not hold
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "u.parquet"
    pq.write_table(
        pa.table(
            {
                "index": pa.array([2**64 - 1], pa.uint64()),
                "arch": [""],
                "dataset": ["cifar10"],
                "split": ["ori-test"],
                "epochs": pa.array([200], pa.uint64()),
                "seed": [""],
                "metric": ["accuracy"],
                "value": [90.0],
            }
        ),
        src,
    )
    with pytest.raises(FormatError, match="'index': 18446744073709551615 is out of range"):
        read_tidy(src)
