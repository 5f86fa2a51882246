"""AnalogNAS-Bench's data.anb read as arrays (a performance audit's finding): the embedded
default's first use took 1.5 s, 0.7 s of it a loop over the 15,625 records (15,625
from_naslib calls, 328k number checks) and 0.28 s loading pandas for one range check. The
numbers and the refusals of a damaged file are the loop's."""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.errors import FormatError
from nb201_flat.importers.analognas import (
    METRICS,
    PUBLISHED_SOURCE,
    data_file,
    read_analognas,
)
from nb201_flat.importers.naslib import from_naslib
from nb201_flat.space import NB201

from .test_tidy_analognas import _analognas_file, _analognas_record

ROOT = Path(__file__).resolve().parents[2]

# the pickle's attribute of each metric: a scalar, or a drift record's value or uncertainty
_ATTRIBUTES = {
    "accuracy": ("baseline_accuracy", None),
    "ptq_accuracy": ("ptq_accuracy", None),
    "qat_accuracy": ("qat_accuracy", None),
    "analog_accuracy": ("noisy_accuracy", None),
    "hwt_accuracy": ("analog_accuracy", None),
    **{
        f"{out}_{label}{std}": (f"{prefix}_drift_{seconds}", part)
        for seconds, label in (("60", "60s"), ("3600", "1h"), ("86400", "1d"), ("2592000", "30d"))
        for prefix, out in (("baseline", "drift"), ("analog", "hwt_drift"))
        for std, part in (("", "value"), ("_std", "uncertainty"))
    },
}


def _published_vectors(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """The published data.anb read by plain pickle into stand-in classes, record by record."""
    raw = data_file().read_bytes()  # the published bytes (test_tidy_analognas), found first
    module = types.ModuleType("analognasbench.data")
    for name in ("Architecture", "DriftMeasurement"):
        cls = type(name, (), {"__module__": module.__name__})
        setattr(module, name, cls)
    monkeypatch.setitem(sys.modules, "analognasbench", types.ModuleType("analognasbench"))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    records = pickle.loads(raw)
    out = {m: np.full(NB201.size, np.nan) for m in _ATTRIBUTES}
    for key, rec in records.items():
        i = from_naslib(key).index
        for metric, (attr, part) in _ATTRIBUTES.items():
            value = getattr(rec, attr)
            out[metric][i] = float(value if part is None else getattr(value, part))
    return out


def test_the_embedded_default_holds_the_published_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    table = read_analognas()
    assert sorted(_ATTRIBUTES) == sorted(METRICS)
    expected = _published_vectors(monkeypatch)
    for metric in METRICS:
        got = table.vector("cifar10", "ori-test", 200, metric)
        assert not np.isnan(got).any(), metric  # every cell has its record
        np.testing.assert_array_equal(got, expected[metric], err_msg=metric)
    # a few cells by hand: all skip_connect (NASLib (0,)*6), NB201's 11472, all nor_conv_3x3
    known = {
        1835: (60.7836, 10.0, 3.4),
        11472: (93.44160000000002, 45.37, 0.33),
        1462: (93.2424, 50.58, 0.93),
    }
    for cell, values in known.items():
        got = tuple(
            table.value(cell, "cifar10", "ori-test", 200, m)
            for m in ("accuracy", "drift_1h", "hwt_drift_30d_std")
        )
        assert got == values, cell


def test_the_keys_convert_as_from_naslib_converts_each() -> None:
    from nb201_flat.importers.analognas import _naslib_indices  # the arrays' converter

    keys = list(itertools.product(range(5), repeat=6))
    index = _naslib_indices(keys)
    assert index is not None
    assert index.tolist() == [from_naslib(k).index for k in keys]
    assert sorted(index.tolist()) == list(range(NB201.size))
    # other keys are from_naslib's to read one by one: bytes, a bool, 2.0, past int64
    for odd in (bytes(6), (True, 0, 0, 0, 0, 0), (2.0, 0, 0, 0, 0, 0), (2**70, 0, 0, 0, 0, 0)):
        assert _naslib_indices([*keys[:3], odd]) is None


def test_the_published_keys_are_converted_as_one_array(monkeypatch: pytest.MonkeyPatch) -> None:
    # a loop called from_naslib once a record (15,625 calls, 0.16 s); the arrays call it for a
    # file whose keys are not all plain tuples of NASLib op indices
    from nb201_flat.importers import analognas

    calls: list[object] = []
    monkeypatch.setattr(analognas, "from_naslib", lambda key: calls.append(key) or from_naslib(key))
    analognas.read_analognas()
    assert calls == []


def test_a_damaged_file_is_refused_at_its_first_records_first_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = (2, 1, 0, 2, 1, 0), (0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 1)

    def refusal(records: dict[object, dict[str, object]]) -> str:
        path = _analognas_file(tmp_path / "data.anb", monkeypatch, records)
        with pytest.raises(FormatError) as exc:
            read_analognas(path)
        return str(exc.value)

    no_drift = _analognas_record()
    del no_drift["analog_drift_60"]
    # a record's attribute before a later record's key, and a key before a later attribute
    msg = refusal({first: no_drift, (9,) * 6: _analognas_record()})
    assert f"record {first} has value None, not a finite number" in msg
    msg = refusal({second: _analognas_record(), (9,) * 6: _analognas_record(None)})
    assert "record key (9, 9, 9, 9, 9, 9) is no NASLib cell" in msg
    # within a record: its first attribute read (baseline_accuracy before the drift)
    msg = refusal({second: _analognas_record(), first: {**no_drift, "baseline_accuracy": "90"}})
    assert f"record {first} has baseline_accuracy '90', not a finite number" in msg
    # one cell keyed twice, named before the later record's attributes and after an earlier one
    twice = {second: _analognas_record(), first: _analognas_record(), bytes(first): no_drift}
    msg = refusal(twice)
    assert f"record keys {first} and {bytes(first)!r} name one cell (index 11472)" in msg
    msg = refusal({third: no_drift, **twice})
    assert f"record {third} has value None" in msg


def test_an_int_past_any_float_is_no_finite_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # float(10**400) raised a bare OverflowError
    key = (2, 1, 0, 2, 1, 0)
    path = _analognas_file(tmp_path / "data.anb", monkeypatch, {key: _analognas_record(10**400)})
    with pytest.raises(FormatError, match=r"has baseline_accuracy 1000.*, not a finite number"):
        read_analognas(path)


def test_odd_keys_and_numbers_of_a_copy_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keys as bytes and numbers as ints: another writer's spellings, read one by one
    records = {bytes((2, 1, 0, 2, 1, 0)): _analognas_record(90), (0,) * 6: _analognas_record(50)}
    table = read_analognas(_analognas_file(tmp_path / "data.anb", monkeypatch, records))
    acc = table.vector("cifar10", "ori-test", 200)
    assert acc[11472] == 90.0 and acc[1835] == 50.0 and np.isnan(acc).sum() == NB201.size - 2


def test_reading_the_embedded_default_does_not_load_pandas() -> None:
    # its range check imported importers.tidy, which loads pandas (0.28 s of a 1.5 s first
    # `info`; the first `info` below covers the cache write and the command too)
    probe = (
        "import sys\nfrom nb201_flat.importers.analognas import read_analognas\n"
        "table = read_analognas()\nprint(table.source, 'pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"{PUBLISHED_SOURCE} False"


def test_the_first_info_on_the_embedded_default_does_not_load_pandas(tmp_path: Path) -> None:
    # the cache write loaded it through pyarrow (pa.array), and info's cell counts through
    # nb201_flat.costs: 0.2 s of the first command a new user runs
    probe = (
        "import sys\nfrom nb201_flat.cli import main\ncode = main(['info'])\n"
        "print(code, 'pandas' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NB201_FLAT_TABLE"}
    env["NB201_FLAT_CACHE"] = str(tmp_path / "cache")  # empty: the import and its write run
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 False", out.stdout[-500:]
    assert (tmp_path / "cache").is_dir()
