"""Edges every importer shares: an accuracy no measurement can have, a NASLib zc file whose
keys collide or name no NASLib dataset, and messages that name the right fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb201_flat.errors import FormatError
from nb201_flat.importers import detect_format, import_table
from nb201_flat.importers.naslib import to_naslib
from nb201_flat.space import NB201
from nb201_flat.storage import save_table

from .test_infinite_values import _cli_refuses, _pth, _set

HEADER = "index,arch,dataset,split,epochs,seed,metric,value"


def _tidy(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _row(i: int, value: str, metric: str = "accuracy", arch: str | None = None) -> str:
    return f"{i},{NB201.arch(i).to_str() if arch is None else arch},cifar10,ori-test,200,,{metric},{value}"


# -- an accuracy is a percentage: outside 0..100 it is refused, in one line ------------------------
@pytest.mark.parametrize("value", ["-5", "1e308", "100.5"])
def test_tidy_accuracy_outside_percent_is_refused_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = _tidy(tmp_path / "t.csv", _row(0, "50"), _row(1, value))
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err == (
        f"error: {path}: row 2 (line 3), column 'value': {float(value)!r} is not an accuracy "
        "in percent (0..100) (metric 'accuracy'); fix the file\n"
    )


def test_tidy_accuracy_bounds_and_other_metrics_still_import(tmp_path: Path) -> None:
    # 0 and 100 are accuracies; a loss of 250 or a negative proxy score is no accuracy at all
    path = _tidy(
        tmp_path / "t.csv",
        _row(0, "0"),
        _row(1, "100"),
        _row(2, "nan"),
        _row(0, "250", metric="loss"),
        _row(0, "-5", metric="synflow"),
    )
    table = import_table(path)
    assert table.vector("cifar10", "ori-test", 200)[:2].tolist() == [0.0, 100.0]
    assert table.vector("cifar10", "ori-test", 200, "loss")[0] == 250.0


def test_pth_accuracy_outside_percent_is_refused_naming_file_architecture_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _pth(
        tmp_path / "bad.pth", _set(2, "full", "cifar100", 999, "eval_acc1es@ori-test@199", 250.0)
    )
    want = (
        f"{path}: architecture 2, cifar100/ori-test@200ep:accuracy seed position 1: 250.0 is not "
        "an accuracy in percent (0..100); the file is damaged, re-download it"
    )
    with pytest.raises(FormatError) as exc:
        import_table(path, curves=False)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201", "--no-curves") == f"error: {want}\n"


# AnalogNAS-Bench: its accuracies (and the accuracies after drift) are percentages too
@pytest.mark.parametrize(
    ("attr", "value", "metric"),
    [
        ("baseline_accuracy", 250.0, "accuracy"),
        ("ptq_accuracy", -5.0, "ptq_accuracy"),
        ("analog_accuracy", 100.5, "hwt_accuracy"),
        ("baseline_drift_60", (150.0, 0.5), "drift_60s"),
        ("analog_drift_2592000", (-1.0, 0.4), "hwt_drift_30d"),
    ],
)
def test_analognas_accuracy_outside_percent_is_refused_naming_file_architecture_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    attr: str,
    value: object,
    metric: str,
) -> None:
    from nb201_flat.importers.naslib import from_naslib

    from .test_tidy_analognas import _analognas_file, _analognas_record

    good, bad = (0, 0, 0, 0, 0, 0), (2, 1, 0, 2, 1, 0)
    record = _analognas_record()
    record[attr] = value
    path = _analognas_file(
        tmp_path / "data.anb", monkeypatch, {good: _analognas_record(), bad: record}
    )
    shown = value[0] if isinstance(value, tuple) else value
    want = (
        f"{path}: architecture {from_naslib(bad).index}, cifar10/ori-test@200ep:{metric}: "
        f"{shown} is not an accuracy in percent (0..100); use an unmodified copy of "
        "analog-nasbench 0.1.3's data.anb in place of this file"
    )
    with pytest.raises(FormatError) as exc:
        import_table(path)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201") == f"error: {want}\n"


def test_a_damaged_data_anb_names_its_own_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file given by path said "reinstall analog-nasbench", which leaves that file as it is;
    # the package's own copy (`import analognas`) is repaired by reinstalling
    from nb201_flat.importers import analognas

    from .test_tidy_analognas import _analognas_file, _analognas_record

    path = _analognas_file(
        tmp_path / "data.anb", monkeypatch, {(2, 1, 0, 2, 1, 0): _analognas_record(None)}
    )
    by_path = (
        "has baseline_accuracy None, not a finite number; "
        "use an unmodified copy of analog-nasbench 0.1.3's data.anb in place"
    )
    # the package's own copy is checked against the published sha256 first, as the embedded
    # default is (`import analognas` read it unchecked, as a path)
    reinstall = (
        "the installed package is damaged or of another version; "
        "reinstall with `pip install --force-reinstall analog-nasbench==0.1.3`"
    )
    for source, fix in ((path, by_path), (Path("analognas"), reinstall)):
        if source.name == "analognas":
            monkeypatch.setattr(analognas, "data_file", lambda **_: path)
        with pytest.raises(FormatError) as exc:
            import_table(source)
        assert str(exc.value).startswith(f"{path}") and fix in str(exc.value)
        assert _cli_refuses(capsys, source, tmp_path / "out.nb201") == f"error: {exc.value}\n"


def test_analognas_accuracy_bounds_still_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.importers.naslib import from_naslib

    from .test_tidy_analognas import _analognas_file, _analognas_record

    low, high = (0, 0, 0, 0, 0, 0), (2, 1, 0, 2, 1, 0)
    records: dict[object, dict[str, object]] = {
        low: _analognas_record(0.0),
        high: _analognas_record(100.0),
    }
    table = import_table(_analognas_file(tmp_path / "data.anb", monkeypatch, records))
    acc = table.vector("cifar10", "ori-test", 200)
    assert (acc[from_naslib(low).index], acc[from_naslib(high).index]) == (0.0, 100.0)


# -- NASLib zero-cost files --------------------------------------------------------------------
def _key(i: int, sep: str = ", ") -> str:
    return "(" + sep.join(map(str, to_naslib(NB201.arch(i)))) + ")"


def _zc(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("value", [250.0, -1.0])
def test_naslib_zc_val_accuracy_outside_percent_is_refused(tmp_path: Path, value: float) -> None:
    archs = {
        _key(0): {"synflow": 1.0, "val_accuracy": 80.0},
        _key(7): {"synflow": 2.0, "val_accuracy": value},
    }
    path = _zc(tmp_path / "zc_nasbench201.json", json.dumps({"cifar100": archs}))
    with pytest.raises(FormatError) as exc:
        import_table(path)
    assert str(exc.value) == (
        f"{path}: cifar100/{_key(7)}/val_accuracy: {value!r} is not an accuracy in percent "
        "(0..100); fix or re-download the file"
    )


def test_naslib_zc_duplicate_json_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # json keeps the last of two values silently
    k = _key(5)
    text = f'{{"cifar10": {{"{k}": {{"synflow": 1.0}}, "{k}": {{"synflow": 2.0}}}}}}'
    path = _zc(tmp_path / "zc_nasbench201.json", text)
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err == (
        f"error: {path}: the key {k!r} appears twice in one JSON object (JSON readers keep the "
        "last value silently); keep one and re-import\n"
    )


def test_naslib_zc_unknown_dataset_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    path = _zc(
        tmp_path / "zc_nasbench201.json", json.dumps({"cifar1000": {_key(0): {"synflow": 1.0}}})
    )
    with pytest.raises(FormatError) as exc:
        import_table(path)
    assert str(exc.value) == (
        f"{path}: unknown dataset 'cifar1000'; NASLib's NAS-Bench-201 datasets are cifar10, "
        "cifar100, ImageNet16-120; fix the file"
    )


def test_naslib_zc_two_spellings_of_one_cell_are_refused_naming_both_keys(
    tmp_path: Path,
) -> None:
    # (a full-width digit is no key at all: test_naslib_zc_checks.py)
    i = 14822
    first = _key(i)
    second = _key(i, ",")
    assert second != first
    archs = {first: {"synflow": 1.0, "flops": 2.0}, second: {"synflow": 3.0, "flops": 4.0}}
    path = _zc(
        tmp_path / "zc_nasbench201.json", json.dumps({"cifar100": archs}, ensure_ascii=False)
    )
    with pytest.raises(FormatError) as exc:
        import_table(path)
    assert str(exc.value) == (
        f"{path}: cifar100 keys {first!r} and {second!r} are the same cell (index {i}) written "
        "twice; keep one and re-import"
    )


# -- messages that name the fix that applies ------------------------------------------------
def test_tidy_malformed_arch_is_named_before_the_index_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was "the file is not in the official index order; drop the index column"
    bad = "|foo~0|+|bar~0|baz~1|"
    path = _tidy(tmp_path / "t.csv", _row(0, "50"), _row(1, "60", arch=bad))
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err.startswith(
        f"error: {path}: row 2 (line 3), column 'arch': {bad!r} is not a cell string ("
    )
    assert "index order" not in err and "; fix the file; or, if it holds another space" in err


def test_tidy_arch_of_another_index_is_named_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it named neither the file nor the line
    path = _tidy(tmp_path / "t.csv", _row(0, "50"), _row(1, "60", arch=NB201.arch(2).to_str()))
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err.startswith(f"error: {path}: row 2 (line 3), column 'arch': '|")
    assert err.endswith(
        " names cell 2, but the row's index is 1 (rows not in the official index order? drop "
        "the index column to locate them by arch); fix the file\n"
    )


def test_tidy_index_outside_the_space_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it blamed the rows' order ("names cell 1, but the row's index is 99999") and named the
    # wrong fix
    row = _row(1, "60").replace("1,", "99999,", 1)
    path = _tidy(tmp_path / "t.csv", _row(0, "50"), row)
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert "column 'index': 99999 is out of range (the space's cells are 0..15624)" in err
    assert "index order" not in err


@pytest.mark.parametrize("with_index", [True, False])
def test_tidy_empty_arch_is_named_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], with_index: bool
) -> None:
    # with an index it was "names arch nan ... not in the official index order"; without one,
    # a traceback
    rows = [_row(0, "50", arch=""), _row(1, "60")]
    path = tmp_path / "t.csv"
    if with_index:
        _tidy(path, *rows)
    else:
        path.write_text("\n".join(r.split(",", 1)[1] for r in [HEADER, *rows]) + "\n")
    err = _cli_refuses(capsys, path, tmp_path / "out.nb201")
    assert err == (
        f"error: {path}: row 1 (line 2), column 'arch': '' (or NA, null...) is empty (every "
        "row needs a cell string); fix the file\n"
    )


def test_an_imported_table_as_source_says_it_needs_no_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = import_table(_tidy(tmp_path / "t.csv", _row(0, "50")))
    keep = save_table(table, tmp_path / "keep.nb201")
    with pytest.raises(FormatError) as exc:
        detect_format(keep)
    assert str(exc.value) == (
        f"{keep} is already an imported table, which needs no import: use it as it is "
        f"(load_table({str(keep)!r})), or copy the folder for another name"
    )
    assert "--" not in str(exc.value)
    # the command names its option for opening a table, not the function
    assert _cli_refuses(capsys, keep, tmp_path / "x") == (
        f"error: {keep} is already an imported table, which needs no import: use it as it is "
        f"(--table {str(keep)!r}), or copy the folder for another name\n"
    )


def test_a_non_pth_file_read_as_nb201_pth_names_the_cli_format(tmp_path: Path) -> None:
    path = tmp_path / "g.pth"
    path.write_bytes(b"BZh91AY&SY not a torch file")
    with pytest.raises(FormatError) as exc:
        import_table(path, format="nb201-pth")
    # import_table's format= (the import command respells it --format nats-tss)
    assert str(exc.value).endswith("; import a NATS-Bench file with format='nats-tss'")


@pytest.mark.parametrize("name", ["t.parquet", "t.csv.gz", "t.json", "t.sqlite"])
def test_a_truncated_or_empty_file_is_named_so_without_format(tmp_path: Path, name: str) -> None:
    # R1: "cannot tell the format of X; pass --format", where --format then said "truncated"
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(FormatError, match=r"is empty \(0 bytes\): nothing to import; re-down"):
        import_table(path)
    if name == "t.json":
        return  # the NASLib reader's own words on a JSON cut short
    _tidy(tmp_path / "full.csv", _row(0, "50"), _row(1, "60"))
    full = tmp_path / "full.csv"
    if name == "t.parquet":
        import pandas as pd

        pd.read_csv(full).to_parquet(tmp_path / "full.parquet")
        data = (tmp_path / "full.parquet").read_bytes()
    elif name == "t.csv.gz":
        import gzip

        data = gzip.compress(full.read_bytes())
    else:
        from nb201_flat.train.results_db import ResultsDB

        db = ResultsDB(tmp_path / "full.sqlite")
        key = ("nb201", NB201.arch(0).to_str(), "cifar10", 1, 777)
        db.write_epoch(key, 0, 1, {"ori-test": (0.4, 90.0, 1.0)})
        db.close()
        data = (tmp_path / "full.sqlite").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert detect_format(path) == {"t.sqlite": "results-db"}.get(name, "tidy")
    with pytest.raises(Exception, match=r"(?i)truncated") as info:
        import_table(path)
    assert "--format" not in str(info.value)
