"""An audit of the importers, each finding reproduced first: a legacy .pth holds no checksum
(now said, with its sha256); accuracies as fractions beside percents, or below chance, were
imported without a word; ``to_tidy`` dropped a stored mean's refusals, which the round trip
then served as the seeds' mean; a tidy parquet's page checksums were never verified; a FIFO
hung the import or was called missing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_exit_2

from nb201_flat.errors import MissingValueError, TableFileError
from nb201_flat.importers import FORMATS, import_table
from nb201_flat.importers.naslib import to_naslib
from nb201_flat.importers.naslib_zc import read_naslib_zc
from nb201_flat.importers.official import read_nb201_pth
from nb201_flat.importers.tidy import read_tidy, read_tidy_frame
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

FRACTIONS = "fractions? accuracies are in percent"
NO_CHECKSUM = "legacy (pre-1.6) format, which holds no checksum of its own"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- 1. a legacy .pth holds no checksum: said, with the sha256 to compare ----------------------
def test_a_legacy_pth_is_said_to_hold_no_checksum_with_its_sha256(
    files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    legacy = files["pth_legacy"]
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers"):
        table = import_table(legacy, curves=False)
    said = [r.getMessage() for r in caplog.records if NO_CHECKSUM in r.getMessage()]
    assert len(said) == 1, caplog.text
    assert _sha256(legacy) in said[0] and str(legacy) in said[0]
    assert "file_sha256" in said[0] and table.meta["file_sha256"] == _sha256(legacy)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers"):
        read_nb201_pth(files["pth_zip"])  # a zip's data.pkl has its CRC-32, checked
    assert NO_CHECKSUM not in caplog.text


def test_a_flipped_bit_in_a_legacy_pth_imports_with_the_warning(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # what the warning is for: the number changes, and nothing in the file can tell
    legacy = files["pth_legacy"]
    df = read_nb201_pth(legacy)
    value = float(df.loc[(df["metric"] == "accuracy") & df["seed"].notna(), "value"].iloc[0])
    stored = b"G" + struct.pack(">d", value)  # pickle's BINFLOAT
    raw = bytearray(legacy.read_bytes())
    at = raw.find(stored)
    assert at > 0 and raw.count(stored) == 1
    raw[at + 3] ^= 0x01
    flipped = tmp_path / "flipped.pth"
    flipped.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers"):
        changed = read_nb201_pth(flipped)
    assert value not in changed["value"].to_numpy() and len(changed) == len(df)
    assert NO_CHECKSUM in caplog.text and _sha256(flipped) in caplog.text


# -- 2. accuracies that look like fractions -----------------------------------------------------
def _tidy_csv(path: Path, rows: list[tuple[int, str, str, int, float]]) -> Path:
    """A tidy csv of mean rows ``(index, dataset, split, epochs, accuracy)``."""
    pd.DataFrame(
        {
            "index": [r[0] for r in rows],
            "arch": [NB201.arch(r[0]).to_str() for r in rows],
            "dataset": [r[1] for r in rows],
            "split": [r[2] for r in rows],
            "epochs": [r[3] for r in rows],
            "seed": "",
            "metric": "accuracy",
            "value": [r[4] for r in rows],
        }
    ).to_csv(path, index=False)
    return path


def _warned(path: Path, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers"):
        read_tidy(path)
    return [r.getMessage() for r in caplog.records if FRACTIONS in r.getMessage()]


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        # one arch, one value: every value in 0..1 but one distinct value, so no word before
        (
            [(0, "cifar10", "ori-test", 200, 0.8586)],
            "1 of the 1 accuracy values of cifar10/ori-test@200 lie below three quarters of "
            "cifar10's chance level, 10 % (the largest: 0.8586)",
        ),
        # a percent beside a fraction: not every value in 0..1, so no word before
        (
            [(0, "cifar10", "ori-test", 200, 85.86), (1, "cifar10", "ori-test", 200, 0.9366)],
            "1 of the 2 accuracy values of cifar10/ori-test@200 lie below three quarters of "
            "cifar10's chance level, 10 % (the largest: 0.9366)",
        ),
        (
            [(0, "cifar100", "x-valid", 200, 70.2), (1, "cifar100", "x-valid", 200, 0.702)],
            "1 of the 2 accuracy values of cifar100/x-valid@200 lie below three quarters of "
            "cifar100's chance level, 1 % (the largest: 0.702)",
        ),
        (
            [(0, "ImageNet16-120", "x-test", 12, 0.4), (1, "ImageNet16-120", "x-test", 12, 40)],
            "1 of the 2 accuracy values of ImageNet16-120/x-test@12 lie below three quarters of "
            "ImageNet16-120's chance level, 0.833 % (the largest: 0.4)",
        ),
        # a dataset of one's own: its chance level unknown, a value in (0, 1] beside percents
        (
            [(0, "svhn", "test", 50, 91.5), (1, "svhn", "test", 50, 0.915)],
            "1 of the 2 accuracy values of svhn/test@50 lie in (0, 1] beside values above 1 "
            "(the largest: 0.915)",
        ),
    ],
)
def test_fractions_beside_percents_or_below_chance_are_warned_of(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    rows: list[tuple[int, str, str, int, float]],
    said: str,
) -> None:
    path = _tidy_csv(tmp_path / "t.csv", rows)
    warned = _warned(path, caplog)
    assert len(warned) == 1 and warned[0].startswith(f"{path}: {said}: {FRACTIONS}"), warned
    assert Table.from_tidy(read_tidy_frame(path)).info_records()  # a warning, not a refusal


def test_accuracies_at_chance_or_a_stray_below_it_are_no_fractions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # NB201's own: disconnected cells at chance (ImageNet16-120's 0.83 % is <= 1), CIFAR-10's
    # unbalanced validation half at 9.712, and one run at 0.2 % among a thousand and more
    rng = np.random.default_rng(0)
    rows = [(i, "ImageNet16-120", "x-valid", 200, float(rng.uniform(20, 47))) for i in range(2000)]
    rows += [(2000 + i, "ImageNet16-120", "x-valid", 200, 0.833333) for i in range(50)]
    rows += [(3000, "ImageNet16-120", "x-valid", 200, 0.2)]
    rows += [(i, "cifar100", "x-valid", 200, float(rng.uniform(30, 73))) for i in range(20)]
    rows += [(100, "cifar100", "x-valid", 200, 1.0), (101, "cifar10-valid", "x-valid", 12, 9.712)]
    rows += [(102, "cifar10-valid", "x-valid", 12, 80.0), (103, "cifar10", "ori-test", 200, 10.0)]
    rows += [(i, "ImageNet16-120", "ori-test", 200, 0.833333) for i in range(5)]  # chance alone
    assert _warned(_tidy_csv(tmp_path / "t.csv", rows), caplog) == []
    # the same stray run in a small file is counted
    warned = _warned(_tidy_csv(tmp_path / "s.csv", [*rows[:20], rows[2050]]), caplog)
    assert len(warned) == 1 and "1 of the 21 accuracy values" in warned[0], warned


@pytest.mark.realdata
def test_the_real_tidy_file_gives_no_fractions_warning(
    shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert _warned(shared_dir / "nb201_tidy.csv.gz", caplog) == []


def _zc_file(path: Path, accuracies: dict[str, list[float]]) -> Path:
    data = {
        dataset: {
            str(to_naslib(NB201.arch(i))): {"synflow": 1.5 + i, "val_accuracy": acc}
            for i, acc in enumerate(values)
        }
        for dataset, values in accuracies.items()
    }
    path.write_text(json.dumps(data))
    return path


def test_naslib_zc_accuracies_are_checked_by_the_same_rule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mixed = _zc_file(tmp_path / "zc.json", {"cifar10": [84.91, 0.9012]})
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers"):
        read_naslib_zc(mixed)
    assert (
        f"{mixed}: 1 of the 2 accuracy values of cifar10/naslib-valid@200 lie below three "
        f"quarters of cifar10's chance level, 10 % (the largest: 0.9012): {FRACTIONS}"
    ) in caplog.text
    caplog.clear()
    # NASLib's own: percent, disconnected cells at chance
    fine = _zc_file(
        tmp_path / "ok.json", {"ImageNet16-120": [0.8333333314, 43.5], "cifar100": [1.0, 70]}
    )
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers"):
        read_naslib_zc(fine)
    assert FRACTIONS not in caplog.text


# -- 3. to_tidy keeps a stored mean's refusals --------------------------------------------------
KEY = MetricKey("cifar10-valid", "ori-test", 200)


def _refusing_table() -> Table:
    """Seeds 0 and 1 measured cells 0..5; the stored mean is NaN where a seed lacks the value
    (cells 0 and 2: the official APIs serve no mean there); a second key's mean is all NaN."""
    n = NB201.size
    s0, s1, mean = (np.full(n, np.nan) for _ in range(3))
    s0[:6] = [60.0, 61.0, 62.0, 63.0, 64.0, 65.0]
    s1[:6] = [np.nan, 61.5, np.nan, 63.5, 64.5, 65.5]
    mean[[1, 3, 4, 5]] = (s0[[1, 3, 4, 5]] + s1[[1, 3, 4, 5]]) / 2
    other = MetricKey("cifar10-valid", "x-valid", 200)
    only_seeds = np.full(n, np.nan)
    only_seeds[7] = 50.0
    return Table(
        NB201,
        {
            (KEY, None): mean,
            (KEY, 0): s0,
            (KEY, 1): s1,
            (other, None): np.full(n, np.nan),
            (other, 0): only_seeds,
        },
    )


def _same(a: Table, b: Table) -> None:
    assert sorted(a.data, key=str) == sorted(b.data, key=str)
    for item, vec in a.data.items():
        np.testing.assert_array_equal(b.data[item], vec)  # NaN where NaN


def test_to_tidy_round_trips_a_mean_refused_where_seeds_hold_values(tmp_path: Path) -> None:
    table = _refusing_table()
    with pytest.raises(MissingValueError):
        table.value(0, "cifar10-valid", "ori-test", 200)
    df = table.to_tidy()
    back = Table.from_tidy(df)
    _same(table, back)
    with pytest.raises(MissingValueError):  # served 60.0, seed 0's, before
        back.value(0, "cifar10-valid", "ori-test", 200)
    with pytest.raises(MissingValueError):
        back.value(7, "cifar10-valid", "x-valid", 200)
    assert back.value(1, "cifar10-valid", "ori-test", 200) == 61.25
    # only those: no NaN row of a cell no seed measured
    means = df[df["seed"].isna()]
    assert sorted(means.loc[means["value"].isna(), "index"]) == [0, 2, 7]
    assert len(df) == 4 + 2 + 6 + 4 + 1 + 1
    # and through a file, as a user writes it
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, na_rep="nan")
    _same(table, read_tidy(path))


# -- 4. a tidy parquet's page checksums ----------------------------------------------------------
@pytest.mark.parametrize("checksums", [True, False])
def test_a_parquet_page_failing_its_checksum_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checksums: bool
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame(
        {
            "index": [0, 1, 2],
            "arch": [NB201.arch(i).to_str() for i in range(3)],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 200,
            "seed": pd.array([pd.NA] * 3, dtype="Int64"),
            "metric": "accuracy",
            "value": [86.616667, 91.25, 72.5],
        }
    )
    path = tmp_path / "t.parquet"
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="none", write_page_checksum=checksums)
    assert read_tidy(path).value(0, "cifar10", "ori-test", 200) == 86.616667
    raw = bytearray(path.read_bytes())
    at = raw.find(np.float64(86.616667).tobytes())
    assert at > 0
    raw[at + 5] ^= 0x10  # 86.616667 reads 86.866667
    path.write_bytes(bytes(raw))
    if not checksums:  # no checksum to check: read as before
        assert read_tidy(path).value(0, "cifar10", "ori-test", 200) != 86.616667
        return
    with pytest.raises(TableFileError, match="fails its CRC checksum"):
        read_tidy(path)
    line = one_line_exit_2(capsys, "import", str(path), "--out", str(tmp_path / "o"))
    assert line == (
        f"error: {path} is corrupt (a page fails its CRC checksum: a byte changed since it was "
        "written); re-download or re-export it"
    )


# -- 5. a FIFO is no file to import -------------------------------------------------------------
def _import_in_time(fifo: Path, fmt: str | None) -> BaseException | None:
    """What ``import_table(fifo, format=fmt)`` raised; a read blocked on the FIFO (waiting for
    a writer) fails the test, and is released by opening and closing its write end."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            import_table(fifo, format=fmt)
            raised.append(None)
        except BaseException as exc:  # handed to the test
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # EOF for the blocked reader
        worker.join(timeout=20)
        pytest.fail(f"import_table({fifo.name!r}, format={fmt!r}) blocked on the FIFO")
    return raised[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("fmt", [None, *FORMATS])
def test_a_fifo_is_refused_as_no_regular_file(tmp_path: Path, fmt: str | None) -> None:
    fifo = tmp_path / ("t.json" if fmt == "naslib-zc" else "t.csv")
    os.mkfifo(fifo)
    exc = _import_in_time(fifo, fmt)
    assert isinstance(exc, TableFileError), exc
    assert str(exc) == (
        f"{fifo} is not a regular file (a FIFO, device or socket), which an import cannot "
        "read whole; write its content to a file and import that"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("fmt", ["analognas", "nb201-pth"])
def test_a_fifo_is_one_line_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    line = one_line_exit_2(
        capsys, "import", str(fifo), "--format", fmt, "--out", str(tmp_path / "o")
    )
    assert line.startswith(f"error: {fifo} is not a regular file (a FIFO"), (
        line
    )  # not "no such file"
