"""NASLib zero-cost files that were imported wrongly with exit 0, or failed with a traceback or a
message without the place: each is one line naming the problem."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nb201_flat.errors import FormatError, TableFileError
from nb201_flat.importers.naslib_zc import read_naslib_zc

A, B = "(0, 2, 3, 2, 3, 1)", "(1, 2, 3, 2, 3, 1)"


def _entry(key: str, acc: float) -> dict[str, Any]:
    return {
        "idx": "534",
        "arch": key,
        "flops": {"score": 88.3, "time": 0.48},
        "val_accuracy": acc,
        "params": {"score": 0.615, "time": 0.47},
        "synflow": {"score": 41.9, "time": 0.47},
    }


BASE = {"cifar10": {A: _entry(A, 86.06), B: _entry(B, 85.0)}}


def write(tmp_path: Path, data: Any = None, raw: str | None = None) -> Path:
    path = tmp_path / "zc.json"
    path.write_text(raw if raw is not None else json.dumps(data))
    return path


def test_the_undamaged_file_reads(tmp_path: Path) -> None:
    df = read_naslib_zc(write(tmp_path, BASE))
    assert sorted(set(df["metric"])) == [
        "accuracy", "flops_m_naslib", "params_mb", "synflow", "synflow_time_s",
    ]  # fmt: skip


def test_an_entry_whose_arch_is_another_cell_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["cifar10"][B]["arch"] = "(4, 4, 4, 4, 4, 4)"
    path = write(tmp_path, data)
    with pytest.raises(FormatError) as info:
        read_naslib_zc(path)
    assert str(info.value) == (
        f"{path}: entry cifar10/{B} has arch '(4, 4, 4, 4, 4, 4)', another cell than its key; "
        "fix or re-download the file"
    )


def test_an_arch_spelt_with_other_spaces_is_the_same_cell(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["cifar10"][B]["arch"] = "(1,2,3,2,3,1)"
    assert len(read_naslib_zc(write(tmp_path, data)))


def test_data_beside_the_nasbench201_key_is_refused(tmp_path: Path) -> None:
    # was: the top-level cifar100 block disappeared
    path = write(
        tmp_path, {"nasbench201": {"cifar10": BASE["cifar10"]}, "cifar100": BASE["cifar10"]}
    )
    with pytest.raises(FormatError, match=r"'cifar100' sits beside 'nasbench201' at the top level"):
        read_naslib_zc(path)


@pytest.mark.parametrize(("name", "metric"), [("params", "params_mb"), ("flops", "flops_m_naslib")])
def test_a_negative_cost_is_refused(tmp_path: Path, name: str, metric: str) -> None:
    data = copy.deepcopy(BASE)
    data["cifar10"][B][name]["score"] = -3.0
    path = write(tmp_path, data)
    with pytest.raises(FormatError) as info:
        read_naslib_zc(path)
    assert str(info.value) == (
        f"{path}: cifar10/{B}/{name}: -3.0 is negative, which a loss, a time or a cost cannot be; "
        "fix or re-download the file"
    )


def test_a_negative_proxy_score_is_kept(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["cifar10"][B]["jacov"] = {"score": -32.5, "time": 0.1}  # jacov is negative in NASLib's
    df = read_naslib_zc(write(tmp_path, data))
    assert (df.loc[df["metric"] == "jacov", "value"] == -32.5).all()


def test_deep_nesting_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, raw='{"cifar10": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(FormatError, match="nests JSON arrays or objects thousands deep"):
        read_naslib_zc(path)  # was a RecursionError traceback


def test_bytes_that_are_no_utf8_are_said_so(tmp_path: Path) -> None:
    # a UnicodeDecodeError is a ValueError: it was said to be an integer of 4,300 digits
    path = tmp_path / "zc.json"
    path.write_bytes(b'{"cifar10": {"x": "\xff\xfe"}}')
    with pytest.raises(
        TableFileError, match=r"could not be read as JSON text \(UnicodeDecodeError"
    ):
        read_naslib_zc(path)


def test_an_integer_past_the_conversion_limit_is_one_line(tmp_path: Path) -> None:
    # json's int() of 4,301+ digits raised a bare ValueError (a 400-digit one was refused)
    path = write(tmp_path, raw='{"cifar10": {"x": ' + "9" * 5000 + "}}")
    with pytest.raises(FormatError, match="holds an integer of more than 4,300 digits"):
        read_naslib_zc(path)


def test_the_digit_limit_named_is_the_one_python_has(tmp_path: Path) -> None:
    # the message said 4,300 under a limit the user had raised
    import sys

    path = write(tmp_path, raw='{"cifar10": {"x": ' + "9" * 6000 + "}}")
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(5000)
    try:
        with pytest.raises(FormatError, match="holds an integer of more than 5,000 digits"):
            read_naslib_zc(path)
    finally:
        sys.set_int_max_str_digits(before)


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (json.dumps(BASE)[:150], r"line 1 column 144 \(Unterminated string"),
        ("", r"line 1 column 1 \(Expecting value\)"),
        ('{"cifar10": {\n  "(0, 2": 1,\n  oops}}', r"line 3 column 3 \(Expecting property name"),
    ],
)
def test_invalid_json_names_the_place(tmp_path: Path, raw: str, where: str) -> None:
    path = write(tmp_path, raw=raw)
    with pytest.raises(TableFileError, match=f"^{path} is not valid JSON at {where}.*Re-download"):
        read_naslib_zc(path)


@pytest.mark.parametrize(
    "key",
    [
        "(0, 2, 3, 2, 3, 0_1)",
        "(0, 2, 3, 2, 3, \u0661)",
        "(+0, 2, 3, 2, 3, 1)",
        "(0, 2, 3, 2, 3, 1]",  # brackets that do not pair
        "(0, 2, 3, 2, 3, 1",
    ],
)
def test_a_key_of_other_digits_is_refused(tmp_path: Path, key: str) -> None:
    # int() read '0_1' and the Arabic-Indic '١' as 1: the entry became another cell's
    data = {"cifar10": {key: _entry(key, 86.06)}}
    path = write(tmp_path, data)
    with pytest.raises(FormatError) as info:
        read_naslib_zc(path)
    assert str(info.value) == (
        f"{path}: {key!r} is not a NASLib NAS-Bench-201 op-index tuple (comma-separated op "
        "indices such as '(4, 0, 3, 1, 4, 3)'); fix the file"
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("synflow ", "has spaces around it (it would be a key of its own)"),
        ("", "is empty"),  # a JSON key, not a row
        ("syn\nflow", "has a control or invisible character (a newline, a tab)"),
    ],
)
def test_a_bad_proxy_name_is_refused_by_its_json_key(tmp_path: Path, name: str, why: str) -> None:
    # it was refused as a row of an internal frame ("row 1, column 'metric' ...; fix the frame")
    data = copy.deepcopy(BASE)
    data["cifar10"][B][name] = {"score": 1.0, "time": 0.1}
    path = write(tmp_path, data)
    with pytest.raises(FormatError) as info:
        read_naslib_zc(path)
    assert str(info.value).startswith(f"{path}: cifar10/{B}: proxy name {name!r} {why}")
    assert str(info.value).endswith("; fix the file")
