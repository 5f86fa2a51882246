"""NASLib zero-cost proxy files (both of NASLib's JSON layouts) as table metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import FormatError, MissingValueError
from nb201_flat.importers import detect_format, import_table
from nb201_flat.importers.naslib import to_naslib
from nb201_flat.importers.naslib_zc import merge_tables, read_naslib_zc
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

PROXIES = ("synflow", "jacov", "snip", "nwot")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
INDICES = (0, 74, 6111, 9930, 15624)


def _entries(rng: np.random.Generator, suite_zero: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ds in DATASETS:
        archs: dict[str, Any] = {}
        for k, i in enumerate(INDICES):
            spec = to_naslib(NB201.arch(i))
            entry: dict[str, Any] = {"val_accuracy": float(rng.uniform(10, 90))}
            if suite_zero:
                entry = {"idx": str(1000 + k), "arch": str(spec), **entry}
            for name in ("flops", "params", *PROXIES):
                score = float(rng.normal(50, 20))
                if name == "jacov" and i == 74:
                    score = -1e8  # NASLib's failure marker
                entry[name] = (
                    {"score": score, "time": float(rng.uniform(0, 2))} if suite_zero else score
                )
            archs[str(spec)] = entry  # NASLib's key: str(arch.get_hash()), a tuple
        out[ds] = archs
    return out if suite_zero else {"nasbench201": out}


@pytest.fixture(params=["suite-zero", "flat"])
def zc_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, dict[str, Any], bool]:
    suite_zero = request.param == "suite-zero"
    data = _entries(np.random.default_rng(0), suite_zero)
    path = tmp_path / "zc_nasbench201.json"
    path.write_text(json.dumps(data))
    return path, data, suite_zero


def naslib_score(data: dict[str, Any], dataset: str, spec: tuple[int, ...], name: str) -> Any:
    """What NASLib's own reader returns: ``get_zc_benchmark_api(space, dataset)`` is
    ``json.load(f)[dataset]``, then ``zc_api[str(arch.get_hash())][name]['score']``."""
    zc_api = data[dataset] if dataset in data else data["nasbench201"][dataset]
    value = zc_api[str(spec)][name]
    return value["score"] if isinstance(value, dict) else value


def test_every_value_equals_naslibs_reader(zc_file: tuple[Path, dict[str, Any], bool]) -> None:
    path, data, suite_zero = zc_file
    table = Table.from_tidy(read_naslib_zc(path))
    checked = 0
    for ds in DATASETS:
        for i in INDICES:
            spec = to_naslib(NB201.arch(i))
            for name in PROXIES:
                want = naslib_score(data, ds, spec, name)
                if want == -1e8:  # a failure is unmeasured, never a score
                    assert np.isnan(table.vector(ds, "zc", 0, name)[i])
                    with pytest.raises(MissingValueError, match="never measured"):
                        table.value(i, ds, "zc", 0, name)
                else:
                    assert table.value(i, ds, "zc", 0, name) == want
                if suite_zero:
                    t = data[ds][str(spec)][name]["time"]
                    assert table.value(i, ds, "zc", 0, f"{name}_time_s") == t
                checked += 1
            assert table.value(i, ds, "model", 0, "flops_m_naslib") == naslib_score(
                data, ds, spec, "flops"
            )
            assert table.value(i, ds, "model", 0, "params_mb") == naslib_score(
                data, ds, spec, "params"
            )
            assert table.value(i, ds, "naslib-valid", 200) == naslib_score(
                data, ds, spec, "val_accuracy"
            )
    assert checked == len(DATASETS) * len(INDICES) * len(PROXIES)
    measured = ~np.isnan(table.vector("cifar10", "zc", 0, "synflow"))
    assert np.flatnonzero(measured).tolist() == list(INDICES)


def test_detected_imported_and_merged(zc_file: tuple[Path, dict[str, Any], bool]) -> None:
    path, _, _ = zc_file
    assert detect_format(path) == "naslib-zc"
    zc = import_table(path)
    base = Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): np.zeros(NB201.size)})
    merged = merge_tables(base, zc)
    assert MetricKey("cifar10", "zc", 0, "synflow") in merged
    assert MetricKey("cifar10", "ori-test", 200) in merged
    with pytest.raises(FormatError, match="both tables hold"):
        merge_tables(merged, zc)


def test_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"cifar10": {"(9, 9, 9, 9, 9, 9)": {"synflow": 1.0}}}))
    with pytest.raises(FormatError, match="op-index tuple"):
        read_naslib_zc(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(FormatError, match="not a JSON object"):
        read_naslib_zc(bad)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"synflow": {"score": "0.5", "time": 1.0}}, r"synflow: score '0.5' is not a number"),
        ({"synflow": {"score": None, "time": 1.0}}, "synflow: score None is not a number"),
        ({"synflow": [1.0]}, r"synflow: score \[1.0\] is not a number"),
        ({"val_accuracy": True}, "val_accuracy: score True is not a number"),
        ({"nwot": 10**400}, "nwot: score 1000.* is not a number"),  # OverflowError before
        ({"synflow": {"score": 1.0, "time": "2"}}, "synflow: time '2' is not a duration"),
        ({"synflow": {"score": 1.0, "time": -2.0}}, "synflow: time -2.0 is not a duration"),
    ],
)
def test_an_entry_that_holds_no_number_is_refused(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    # such entries were skipped without a word (a negative time was kept as a cost)
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"cifar10": {"(0, 1, 2, 3, 4, 0)": {"nwot": 3.0, **entry}}}))
    with pytest.raises(FormatError, match=rf"cifar10/\(0, 1, 2, 3, 4, 0\)/{message}"):
        read_naslib_zc(bad)


@pytest.mark.realdata
@pytest.mark.parametrize("version", ["1bdbd96", "22280f7"])
def test_real_files_equal_the_derived_csv(shared_dir: Path, version: str) -> None:
    # the CSV was derived independently from the same raw files (10 significant digits)
    raw = shared_dir / "raw" / "automl_NASLib" / f"zc_nasbench201@{version}.json"
    table = Table.from_tidy(read_naslib_zc(raw))
    csv = pd.read_csv(shared_dir / "derived" / "naslib_zc_proxies_subset.csv")
    csv = csv[csv["naslib_version"] == version]
    compared = 0
    for ds in DATASETS:
        sub = csv[csv["dataset"] == ds]
        idx = sub["index"].to_numpy()
        for name in ("synflow", "jacov", "snip", "grasp", "fisher", "grad_norm", "l2_norm"):
            want = sub[name].to_numpy(dtype=float)
            want = np.where(np.isfinite(want) & (want != -1e8), want, np.nan)
            got = table.vector(ds, "zc", 0, name)[idx]
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
            compared += len(idx)
        np.testing.assert_allclose(
            table.vector(ds, "model", 0, "params_mb")[idx],
            sub["params"].to_numpy(dtype=float),
            rtol=1e-8,
        )
    assert compared > 7 * 1000
