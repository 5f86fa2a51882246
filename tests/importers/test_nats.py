"""The NATS-Bench topology importer, against NATS-Bench's own API."""

from __future__ import annotations

import bz2
import logging
import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nb201_flat.errors import FormatError, TableFileError
from nb201_flat.importers.nats import looks_like_nats_tss, read_nats_tss
from nb201_flat.importers.official import TIDY_COLUMNS, read_nb201_pth

from .conftest import ARCHS, LAYOUT, assert_matches_api, frame_numbers

NATS_HP = {"200": 200, "12": 12}


@pytest.fixture(scope="module")
def frame(files: dict[str, Path]) -> pd.DataFrame:
    return read_nats_tss(files["nats_dir"])


@pytest.mark.parametrize(
    ("name", "fast_mode"), [("nats_dir", True), ("nats_full_dir", True), ("nats_file", False)]
)
def test_values_equal_official_api(files: dict[str, Path], name: str, fast_mode: bool) -> None:
    import nats_bench

    api = nats_bench.create(str(files[name]), "tss", fast_mode=fast_mode, verbose=False)
    df = read_nats_tss(files[name])
    assert tuple(df.columns) == TIDY_COLUMNS
    assert assert_matches_api(df, api, NATS_HP) == 29


def test_folder_and_single_file_agree(files: dict[str, Path], frame: pd.DataFrame) -> None:
    # the fixtures hold the same numbers in both layouts (and with weights)
    pd.testing.assert_frame_equal(read_nats_tss(files["nats_file"]), frame)
    pd.testing.assert_frame_equal(read_nats_tss(files["nats_full_dir"]), frame)
    pd.testing.assert_frame_equal(read_nats_tss(files["nats_dir"], progress=True), frame)
    pd.testing.assert_frame_equal(read_nats_tss(files["nats_file"], progress=True), frame)


def test_legacy_params_fix(files: dict[str, Path], frame: pd.DataFrame) -> None:
    # arch 5, cifar10-valid, 200 epochs: stored params 1.25 / 1.5 / 1.25 for seeds 777/888/999
    got = frame_numbers(frame, 5, 200, "cifar10-valid")
    assert [got[s, "model", "params_mb"] for s in (0, 1, 2)] == [1.25, 1.5, 1.25]
    assert got[None, "model", "params_mb"] == 1.5  # NATS takes seed 888's value
    # NAS-Bench-201's API has no such fix: the plain mean
    nb201 = frame_numbers(read_nb201_pth(files["pth_zip"]), 5, 200, "cifar10-valid")
    assert nb201[None, "model", "params_mb"] == pytest.approx(4.0 / 3.0)


def test_index_and_arch(frame: pd.DataFrame) -> None:
    pairs = set(frame[["index", "arch"]].drop_duplicates().itertuples(index=False))
    assert {tuple(p) for p in pairs} == {(i, ARCHS[i]) for i in LAYOUT}


def test_missing_arch_files_are_left_out(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "partial"
    shutil.copytree(files["nats_dir"], folder)
    (folder / "000003.pickle.pbz2").unlink()
    # NATS's reload() also accepts the unpadded name
    (folder / "000005.pickle.pbz2").rename(folder / "5.pickle.pbz2")
    with caplog.at_level(logging.WARNING):
        df = read_nats_tss(folder)
    assert set(df["index"]) == {0, 2, 5}
    assert "3 of 6 architectures have no file" in caplog.text


def test_detection(files: dict[str, Path], tmp_path: Path) -> None:
    assert looks_like_nats_tss(files["nats_dir"])
    assert looks_like_nats_tss(files["nats_file"])
    assert looks_like_nats_tss(files["nats_full_dir"])
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    not_pickle = tmp_path / "text.pickle.pbz2"
    not_pickle.write_bytes(bz2.compress(b"hello world" * 100))
    garbage = tmp_path / "garbage.pbz2"
    garbage.write_bytes(b"BZh9" + os.urandom(200))
    sizes = tmp_path / "NATS-sss.pickle.pbz2"
    sizes.write_bytes(bz2.compress(pickle.dumps({"meta_archs": ["64:64:64:64:64"]}, protocol=4)))
    for path in (
        files["pth_zip"],
        files["nats_dir"] / "000000.pickle.pbz2",
        empty_dir,
        not_pickle,
        garbage,
        sizes,
        tmp_path / "missing",
    ):
        assert not looks_like_nats_tss(path), path


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_wrong_inputs(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(FormatError) as exc:
        read_nats_tss(files["pth_zip"])
    assert "(it looks like a torch .pth: import it with format='nb201-pth')" in _one_line(exc)
    for name in ("000000.pickle.pbz2", "meta.pickle.pbz2"):
        with pytest.raises(FormatError) as exc:
            read_nats_tss(files["nats_dir"] / name)
        assert "pass the folder" in _one_line(exc)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FormatError) as exc:
        read_nats_tss(empty)
    assert "has no meta.pickle.pbz2" in _one_line(exc)
    meta_only = tmp_path / "meta-only"
    meta_only.mkdir()
    shutil.copy(files["nats_dir"] / "meta.pickle.pbz2", meta_only)
    with pytest.raises(FormatError) as exc:
        read_nats_tss(meta_only)
    assert "no per-architecture files" in _one_line(exc)
    sizes = tmp_path / "NATS-sss.pickle.pbz2"
    sizes.write_bytes(
        bz2.compress(pickle.dumps({"meta_archs": ["64:64:64:64:64"], "arch2infos": {}}))
    )
    with pytest.raises(FormatError) as exc:
        read_nats_tss(sizes)
    assert "topology space" in _one_line(exc)
    with pytest.raises(TableFileError):
        read_nats_tss(tmp_path / "missing")


def test_truncated_and_corrupt(files: dict[str, Path], tmp_path: Path) -> None:
    data = files["nats_file"].read_bytes()
    cut = tmp_path / "cut.pickle.pbz2"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TableFileError) as exc:
        read_nats_tss(cut)
    assert "truncated or corrupt" in _one_line(exc)
    # said once: it was wrapped in itself ("... corrupt (TableFileError: ... corrupt (EOF...")
    assert _one_line(exc).count("truncated or corrupt") == 1, _one_line(exc)
    folder = tmp_path / "corrupt"
    shutil.copytree(files["nats_dir"], folder)
    arch_file = folder / "000002.pickle.pbz2"
    blob = bytearray(arch_file.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    arch_file.write_bytes(bytes(blob))
    with pytest.raises(TableFileError) as exc:
        read_nats_tss(folder)
    assert "000002.pickle.pbz2" in _one_line(exc)


def test_refused_global_names_the_opt_in(files: dict[str, Path], frame: pd.DataFrame) -> None:
    with pytest.raises(FormatError) as exc:
        read_nats_tss(files["nats_refused_dir"])
    message = _one_line(exc)
    assert "Harmless" in message
    assert "allow_unsafe_pickle=True" in message
    unsafe = read_nats_tss(files["nats_refused_dir"], allow_unsafe_pickle=True)
    pd.testing.assert_frame_equal(unsafe, frame)
