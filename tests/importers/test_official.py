"""The NAS-Bench-201 .pth importer and the restricted unpickler, against the official API."""

from __future__ import annotations

import io
import os
import pickle
import sys
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import FormatError, MissingDependencyError, TableFileError
from nb201_flat.importers import import_table
from nb201_flat.importers.official import (
    EVAL_SPLITS,
    TIDY_COLUMNS,
    check_index,
    looks_like_nb201_pth,
    read_nb201_pth,
)
from nb201_flat.importers.safe_pickle import Discarded, safe_load

from .conftest import ARCHS, LAYOUT, assert_matches_api, frame_numbers, write_nb201_pth

NB201_HP = {"200": 200, "12": 12}
PTH_FILES = ["pth_zip", "pth_legacy", "pth_weights", "pth_weights_legacy"]


@pytest.fixture(scope="module")
def frame(files: dict[str, Path]) -> pd.DataFrame:
    return read_nb201_pth(files["pth_zip"])


# -- semantics ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PTH_FILES)
def test_values_equal_official_api(files: dict[str, Path], name: str) -> None:
    from nas_201_api import NASBench201API

    api = NASBench201API(str(files[name]), verbose=False)
    df = read_nb201_pth(files[name])
    # 4 archs: 4 + 4 + 4 + 4 datasets at 200 epochs, 4 + 1 + 4 + 4 at 12
    assert assert_matches_api(df, api, NB201_HP) == 29


def test_schema(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == TIDY_COLUMNS
    assert frame["index"].dtype == np.int64
    assert frame["epochs"].dtype == np.int64
    assert frame["seed"].dtype == pd.Int64Dtype()
    assert frame["value"].dtype == np.float64
    for column in ("arch", "dataset", "split", "metric"):
        assert pd.api.types.is_string_dtype(frame[column])
    assert set(frame["epochs"]) == {12, 200}
    assert set(frame["metric"]) == {
        "accuracy", "loss", "time_s", "params_mb", "flops_m", "latency_s",
    }  # fmt: skip
    assert not frame.duplicated(["index", "dataset", "split", "epochs", "seed", "metric"]).any()
    assert frame["value"].notna().all()


def test_splits_follow_the_readme(frame: pd.DataFrame) -> None:
    splits = frame.groupby("dataset")["split"].agg(set).to_dict()
    assert splits == {d: {"train", "model", *s} for d, s in EVAL_SPLITS.items()}
    assert set(frame.loc[frame["split"] == "model", "metric"]) == {
        "params_mb", "flops_m", "latency_s",
    }  # fmt: skip
    assert set(frame.loc[frame["metric"] == "time_s", "split"]) == {"train"}


def test_index_and_arch(frame: pd.DataFrame) -> None:
    pairs = set(frame[["index", "arch"]].drop_duplicates().itertuples(index=False))
    assert {tuple(p) for p in pairs} == {(i, ARCHS[i]) for i in LAYOUT}  # 1 and 4 unevaluated


def test_seed_positions_and_means(frame: pd.DataFrame) -> None:
    full = frame[frame["epochs"] == 200]
    seeds = full.groupby(["index", "dataset"])["seed"].agg(lambda s: sorted(set(s.dropna())))
    assert seeds[0, "cifar100"] == [0, 1, 2]  # stored 999, 777, 888 -> positions by id
    assert seeds[2, "cifar100"] == [0, 1]  # 777, 999
    assert seeds[3, "cifar100"] == [0]  # 888 alone
    # every mean row is the mean of its seeds (params included: NB201 has no legacy fix)
    keys = ["index", "dataset", "split", "epochs", "metric"]
    per_seed = frame[frame["seed"].notna()].groupby(keys)["value"].mean()
    mean = frame[frame["seed"].isna()].set_index(keys)["value"]
    pd.testing.assert_series_equal(
        mean.sort_index(), per_seed.loc[mean.index].sort_index(), check_names=False, rtol=1e-12
    )


def test_v1_0_style_runs(frame: pd.DataFrame) -> None:
    # arch 2, 12 epochs: cifar10-valid only, no training times, ori-test at the last epoch only
    less = frame[(frame["index"] == 2) & (frame["epochs"] == 12)]
    assert set(less["dataset"]) == {"cifar10-valid"}
    assert "time_s" not in set(less["metric"])
    got = frame_numbers(frame, 2, 12, "cifar10-valid")
    assert {(None, "ori-test", "accuracy"), (0, "ori-test", "loss")} <= got.keys()


def test_imports_into_a_table(frame: pd.DataFrame) -> None:
    from nb201_flat.table import Table

    Table.from_tidy(frame, source="test")


def test_progress_gives_the_same_frame(files: dict[str, Path], frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(read_nb201_pth(files["pth_zip"], progress=True), frame)


# -- detection ---------------------------------------------------------------------------------
def test_detection(files: dict[str, Path], tmp_path: Path) -> None:
    import torch

    assert looks_like_nb201_pth(files["pth_zip"])
    assert looks_like_nb201_pth(files["pth_legacy"])
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(os.urandom(256))
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    for path in (
        files["nats_file"],
        files["nats_dir"],
        other,
        garbage,
        empty,
        tmp_path / "missing.pth",
    ):
        assert not looks_like_nb201_pth(path), path


def test_a_mean_the_api_does_not_serve_stays_unmeasured_whatever_other_cells_hold(
    tmp_path: Path,
) -> None:
    # a run without its training time has no mean, as in the API. When every cell of the key
    # lacked one, the key stored no mean rows, and its mean was read as the mean of the seeds
    # present: arch 0's mean then depended on other cells (NaN with one of them, 3806.2 with
    # three)
    def drop_times(cells: tuple[int, ...]) -> Callable[[dict[str, Any]], None]:
        def edit(data: dict[str, Any]) -> None:
            for cell in cells:
                state = data["arch2infos"][cell]["full"]
                first = sorted(state["dataset_seed"]["cifar10-valid"])[0]
                state["all_results"][("cifar10-valid", first)]["train_times"] = None

        return edit

    cells = [i for i, schedules in LAYOUT.items() if "cifar10-valid" in schedules["full"].seeds]
    means = []
    for name, dropped in (("one", (0,)), ("all", tuple(cells))):
        path = write_nb201_pth(tmp_path / f"{name}.pth", edit=drop_times(dropped))
        table = import_table(path, curves=False)
        mean = table.vector("cifar10-valid", "train", 200, "time_s")
        assert np.isnan(mean[list(dropped)]).all(), (name, mean[list(dropped)])
        means.append(mean[0])
    assert np.isnan(means).all()


# -- errors ------------------------------------------------------------------------------------
def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", ["pth_zip", "pth_legacy"])
def test_truncated_file(files: dict[str, Path], tmp_path: Path, name: str) -> None:
    data = files[name].read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TableFileError) as exc:
        read_nb201_pth(cut)
    assert "truncated or corrupt" in _one_line(exc)


def test_a_changed_byte_of_a_stored_number_fails_the_zip_crc(
    files: dict[str, Path], tmp_path: Path
) -> None:
    # data.pkl is read straight from the file (fast), which skips the zip's CRC-32: a bit
    # flipped inside one stored float imported as another number (85.36 read as 81.36)
    import struct
    import zipfile

    src = files["pth_zip"]
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/data.pkl"))
    assert info.compress_type == zipfile.ZIP_STORED
    name_len, extra_len = struct.unpack(
        "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len
    frame = read_nb201_pth(src)
    value = float(frame["value"][frame["seed"].notna() & (frame["metric"] == "accuracy")].iloc[0])
    at = bytes(raw[start : start + info.file_size]).find(b"G" + struct.pack(">d", value))
    assert at >= 0, "the value is stored as a pickled float"
    raw[start + at + 2] ^= 1  # a low bit of the exponent's neighbour: still a finite number
    flipped = tmp_path / "flipped.pth"
    flipped.write_bytes(bytes(raw))
    with pytest.raises(TableFileError) as exc:
        read_nb201_pth(flipped)
    assert "CRC-32" in _one_line(exc) and "re-download" in str(exc.value)


def test_a_damaged_deflated_member_is_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    # a zip whose data.pkl is deflated: damage under the unpickler was a bare zlib.error
    import zipfile

    deflated = tmp_path / "deflated.pth"
    with zipfile.ZipFile(files["pth_zip"]) as src, zipfile.ZipFile(deflated, "w") as out:
        for info in src.infolist():
            kind = (
                zipfile.ZIP_DEFLATED if info.filename.endswith("/data.pkl") else info.compress_type
            )
            out.writestr(info.filename, src.read(info.filename), compress_type=kind)
    assert looks_like_nb201_pth(deflated)
    raw = bytearray(deflated.read_bytes())
    at = raw.find(b"data.pkl") + 8 + 200
    raw[at : at + 50] = bytes(b ^ 0x5A for b in raw[at : at + 50])
    damaged = tmp_path / "damaged.pth"
    damaged.write_bytes(bytes(raw))
    assert not looks_like_nb201_pth(damaged)
    with pytest.raises(TableFileError) as exc:
        read_nb201_pth(damaged)
    assert "truncated or corrupt" in _one_line(exc)


def test_garbage_and_wrong_formats(files: dict[str, Path], tmp_path: Path) -> None:
    import torch

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a pickle at all" * 10)
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(garbage)
    assert "is not a torch .pth file" in _one_line(exc)
    with pytest.raises(FormatError):
        read_nb201_pth(files["nats_file"])
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"w": 1.0}}, other)
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(other)
    assert "lacks 'meta_archs' and 'arch2infos'" in _one_line(exc)
    sizes = tmp_path / "sss.pth"
    torch.save({"meta_archs": ["64:64:64:64:64"], "arch2infos": {}}, sizes)
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(sizes)
    assert "topology space" in _one_line(exc)
    with pytest.raises(TableFileError):
        read_nb201_pth(tmp_path / "missing.pth")
    # two cells swapped: each would take the other's numbers; refused as a frame's row
    swapped = tmp_path / "swapped.pth"
    torch.save({"meta_archs": [ARCHS[0], ARCHS[2], ARCHS[1]], "arch2infos": {}}, swapped)
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(swapped)
    assert _one_line(exc) == (
        f"{swapped}: meta_archs[1] = {ARCHS[2]!r} is NB201's cell 2, not 1: the file's cells "
        "are not in the official index order; fix or re-download the file"
    )
    # an op NB201 lacks: by its place in the file (it was "unknown op 'foo'" alone)
    other_op = ARCHS[1].replace("nor_conv_3x3", "foo", 1)
    torch.save({"meta_archs": [ARCHS[0], other_op], "arch2infos": {}}, swapped)
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(swapped)
    said = _one_line(exc)
    assert said.startswith(f"{swapped}: meta_archs[1] = {other_op!r} is no NAS-Bench-201 cell (")
    assert "'foo'" in said and said.endswith("; fix or re-download the file"), said
    # a cell past the space: it was refused as row 783 of a frame the user never saw
    from nb201_flat.space import NB201

    torch.save({"meta_archs": [*NB201.strings(), ARCHS[0]], "arch2infos": {}}, swapped)
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(swapped)
    assert _one_line(exc) == (
        f"{swapped}: 'meta_archs' lists 15,626 cells, more than NAS-Bench-201's 15,625; fix or "
        "re-download the file"
    )


def test_refused_global_names_the_opt_in(files: dict[str, Path], frame: pd.DataFrame) -> None:
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(files["pth_refused"])
    message = _one_line(exc)
    assert "Harmless" in message
    # the library names its parameter; the import command, its flag (cli.common.error_line)
    assert "allow_unsafe_pickle=True opts in" in message
    assert "--allow-unsafe-pickle" not in message
    unsafe = read_nb201_pth(files["pth_refused"], allow_unsafe_pickle=True)
    pd.testing.assert_frame_equal(unsafe, frame)


def test_import_command_names_the_opt_in_flag(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main

    code = main(["import", str(files["pth_refused"]), "--out", str(tmp_path / "t.nb201")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert "Harmless" in err[0]
    assert "; --allow-unsafe-pickle opts in to full unpickling" in err[0]
    assert "allow_unsafe_pickle" not in err[0]


def test_unsafe_without_torch(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingDependencyError) as exc:
        read_nb201_pth(files["pth_zip"], allow_unsafe_pickle=True)
    assert "nb201-flat[official]" in _one_line(exc)
    read_nb201_pth(files["pth_zip"])  # the restricted reader needs no torch


# -- the restricted unpickler ------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_safe_load_reads_plain_data(protocol: int) -> None:
    data = {
        "od": OrderedDict(a=1),
        "set": {1, 2},
        "frozen": frozenset({3}),
        "bytes": b"\x00\xff",
        "tuple_key": {("cifar10", 777): [1.5, None, True]},
        "complex": 1 + 2j,
        "np_scalar": np.float64(2.5),
        "np_array": np.arange(3.0),
    }
    out = safe_load(io.BytesIO(pickle.dumps(data, protocol=protocol)))
    np.testing.assert_array_equal(out.pop("np_array"), data.pop("np_array"))
    assert out == data
    assert type(out["od"]) is OrderedDict


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("target", ["exploit", "eval", "getattr", "class"])
def test_safe_load_refuses_other_globals(tmp_path: Path, target: str) -> None:
    marker = tmp_path / "ran"
    payload = {
        "exploit": _Exploit(marker),
        "eval": eval,
        "getattr": getattr,
        "class": Discarded,  # a class of ours, still not on the list
    }[target]
    blob = pickle.dumps({"x": payload}, protocol=2)
    with pytest.raises(FormatError, match="allow_unsafe_pickle=True"):
        safe_load(io.BytesIO(blob))
    assert not marker.exists()


def test_safe_load_truncated_and_discard() -> None:
    blob = pickle.dumps({"a": list(range(100))}, protocol=4)
    with pytest.raises(TableFileError, match="truncated or corrupt"):
        safe_load(io.BytesIO(blob[:-10]))
    import torch

    blob = pickle.dumps({"w": torch.ones(2), "v": 1.0})
    with pytest.raises(FormatError, match=r"torch\._utils\._rebuild_tensor_v2"):
        safe_load(io.BytesIO(blob))
    out = safe_load(io.BytesIO(blob), discard_modules=frozenset({"torch"}))
    assert isinstance(out["w"], Discarded)
    assert out["v"] == 1.0


def test_safe_load_names_an_argument_that_is_no_file() -> None:
    from nb201_flat.errors import ArgumentError

    blob = pickle.dumps([1, 2])
    with pytest.raises(ArgumentError, match=r"pass io\.BytesIO\(data\) for bytes"):
        safe_load(blob)  # type: ignore[arg-type]  # failed with AttributeError: read
    with pytest.raises(ArgumentError, match="discard_persistent must be True or False"):
        safe_load(io.BytesIO(blob), discard_persistent="no")  # type: ignore[arg-type]
    assert safe_load(io.BytesIO(blob)) == [1, 2]


def test_arch2infos_keys_follow_the_space_index_rule() -> None:
    # one index rule (space.check_arch_index): a whole float is an index, a bool or 2.5 is not
    assert check_index(5.0, 10, "f.pth") == check_index(np.int64(5), 10, "f.pth") == 5
    for bad, why in ((True, "whole number"), (2.5, "whole number"), (10, "0..9")):
        with pytest.raises(FormatError, match=rf"f\.pth: arch2infos key .*{why}"):
            check_index(bad, 10, "f.pth")
