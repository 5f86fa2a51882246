"""Imports (audit 11): a data.anb copy whose drift spread is negative imported with exit 0 and
was labelled as the published analog-nasbench 0.1.3 data whatever its bytes; official .pth and
NATS runs filed under an unknown dataset or schedule key were dropped with a warning (the cell
then "never measured"); a text seed or a text arch2infos key was refused in untrue words. The
official releases store a run's own seed as its checkpoint name's text ("0777"), which the run
check refused: every genuine NATS-tss file was refused (NATS-Bench's own copies of three
architectures' files showed it)."""

from __future__ import annotations

import bz2
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from nb201_flat.errors import FormatError
from nb201_flat.importers import analognas, import_table
from nb201_flat.importers.analognas import data_file, read_analognas
from nb201_flat.importers.naslib import from_naslib
from nb201_flat.importers.nats import read_nats_tss
from nb201_flat.importers.official import read_nb201_pth

from .conftest import assert_matches_api, write_nats_folder, write_nb201_pth
from .test_infinite_values import _cli_refuses
from .test_run_checks import benchmark, write_nats, write_pth
from .test_tidy_analognas import _analognas_file, _analognas_record

HP = {"200": 200, "12": 12}  # the hp keys the official APIs query by
DAMAGED = "the file is damaged, re-download it"


# -- AnalogNAS-Bench: a negative spread, and the label of a file that is not the published one --
@pytest.mark.parametrize("attr", ["baseline_drift_60", "analog_drift_2592000"])
def test_a_negative_drift_spread_is_refused_naming_metric_arch_and_value(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    attr: str,
) -> None:
    key = (2, 1, 0, 2, 1, 0)
    record = _analognas_record()
    record[attr] = (85.0, -5.0)  # (value, uncertainty)
    path = _analognas_file(tmp_path / "data.anb", monkeypatch, {key: record})
    metric = {"baseline_drift_60": "drift_60s_std", "analog_drift_2592000": "hwt_drift_30d_std"}
    want = (
        f"{path}: architecture {from_naslib(key).index}, cifar10/ori-test@200ep:{metric[attr]}: "
        "-5.0 is negative, which a spread (a standard deviation) cannot be; use an unmodified "
        "copy of analog-nasbench 0.1.3's data.anb in place of this file"
    )
    with pytest.raises(FormatError) as exc:
        import_table(path)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201") == f"error: {want}\n"


def test_a_zero_spread_still_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = (2, 1, 0, 2, 1, 0)
    record = _analognas_record()
    record["baseline_drift_60"] = (85.0, 0.0)  # the published file holds zeros
    table = read_analognas(_analognas_file(tmp_path / "data.anb", monkeypatch, {key: record}))
    assert table.value(from_naslib(key).index, "cifar10", "ori-test", 200, "drift_60s_std") == 0


def test_a_copy_that_is_not_the_published_data_is_labelled_as_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = data_file().read_bytes()
    published = tmp_path / "copy.anb"
    published.write_bytes(raw)
    changed = bytearray(raw)
    at = changed.index(b"G", len(changed) // 2) + 8  # a BINFLOAT's least significant byte
    changed[at] ^= 1
    modified = tmp_path / "mine.anb"
    modified.write_bytes(bytes(changed))
    with caplog.at_level(logging.WARNING, logger="nb201_flat.importers.analognas"):
        # the published bytes keep the label, whatever their path
        label = read_analognas(published).source
        assert label == "AnalogNAS-Bench (analog-nasbench 0.1.3, CIFAR-10)"
        assert not caplog.records
        table = read_analognas(modified)
    assert table.source == (
        "AnalogNAS-Bench-format file mine.anb (not analog-nasbench 0.1.3's data)"
    )
    assert table.meta["file_sha256"] != analognas.PUBLISHED_SHA256
    assert "package_version" not in table.meta  # the installed package is not this file
    [record] = caplog.records
    assert record.getMessage().startswith(
        f"{modified} is not analog-nasbench 0.1.3's published data.anb (sha256 "
    )


# -- an unknown dataset or schedule key is refused, not dropped ---------------------------------
def _rename_dataset(data: dict[str, Any], hp: str, old: str, new: object) -> None:
    state = data["arch2infos"][0][hp]
    state["dataset_seed"][new] = state["dataset_seed"].pop(old)
    for seed in state["dataset_seed"][new]:
        state["all_results"][new, seed] = state["all_results"].pop((old, seed))


@pytest.mark.parametrize(
    ("new", "hint"),
    [
        ("CIFAR100", " (did you mean 'cifar100'?)"),
        ("cifar-100", " (did you mean 'cifar100'?)"),
        ("svhn", ""),
    ],
)
def test_pth_runs_on_an_unknown_dataset_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], new: str, hint: str
) -> None:
    path = write_nb201_pth(
        tmp_path / "ds.pth", edit=lambda d: _rename_dataset(d, "full", "cifar100", new)
    )
    want = (
        f"{path}: architecture 0 (200 epochs) holds runs on the unknown dataset {new!r}{hint}; "
        f"NB201's datasets are cifar10-valid, cifar10, cifar100, ImageNet16-120; {DAMAGED}"
    )
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(path)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201", "--no-curves") == f"error: {want}\n"


@pytest.mark.parametrize(
    ("new", "hint"),
    [
        ("200", " (did you mean 'full', the 200-epoch schedule?)"),
        (200, " (did you mean 'full', the 200-epoch schedule?)"),
        ("Less", " (did you mean 'less'?)"),
        ("90", ""),
    ],
)
def test_pth_results_under_an_unknown_schedule_key_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], new: object, hint: str
) -> None:
    old = "less" if new == "Less" else "full"

    def rename(data: dict[str, Any]) -> None:
        data["arch2infos"][0][new] = data["arch2infos"][0].pop(old)

    path = write_nb201_pth(tmp_path / "hp.pth", edit=rename)
    want = (
        f"{path}: architecture 0 files results under the unknown schedule key {new!r}{hint}; "
        f"this format's keys are 'full' (200 epochs) and 'less' (12 epochs); {DAMAGED}"
    )
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(path)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201", "--no-curves") == f"error: {want}\n"


@pytest.mark.parametrize(
    ("new", "hint"),
    [
        ("full", " (did you mean '200', the 200-epoch schedule?)"),
        (12, " (did you mean '12', the 12-epoch schedule?)"),  # was dropped without a word
        ("01", ""),  # a size-space (NATS-sss) schedule
    ],
)
def test_nats_results_under_an_unknown_key_are_refused(
    tmp_path: Path, new: object, hint: str
) -> None:
    data = benchmark(("200", "12"))
    old = "12" if new == 12 else "200"
    data["arch2infos"][1][new] = data["arch2infos"][1].pop(old)
    path = write_nats(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", data)
    with pytest.raises(FormatError) as exc:
        read_nats_tss(path)
    assert str(exc.value) == (
        f"{path}: architecture 1 files results under the unknown schedule key {new!r}{hint}; "
        f"this format's keys are '200' (200 epochs) and '12' (12 epochs); {DAMAGED}"
    )
    data = benchmark(("200", "12"))
    _rename_dataset(data, "12", "cifar10-valid", "cifar10_valid")
    with pytest.raises(FormatError, match=r"unknown dataset 'cifar10_valid' \(did you mean 'cif"):
        read_nats_tss(write_nats(tmp_path / "ds.pickle.pbz2", data))


# -- messages whose words were untrue ----------------------------------------------------------
@pytest.mark.parametrize(
    ("seeds", "said"),
    [
        (["777", 888], "seed '777' is text, not an integer"),
        ([777, "888"], "seed '888' is text, not an integer"),
        ([777, 888.5], "seed 888.5 is a float, not an integer"),
    ],
)
def test_a_seed_that_is_not_an_integer_is_named(
    tmp_path: Path, seeds: list[object], said: str
) -> None:
    # sorted()'s TypeError was reported as the missing results of "'<' not supported ..."
    data = benchmark()
    data["arch2infos"][1]["full"]["dataset_seed"]["cifar10"] = seeds
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data))
    assert str(exc.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1 (200 epochs) on cifar10 lists seeds {seeds!r}: "
        f"{said}; {DAMAGED}"
    )


def test_seeds_that_are_not_a_list_are_named(tmp_path: Path) -> None:
    data = benchmark()
    data["arch2infos"][1]["full"]["dataset_seed"]["cifar10"] = 777
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data))
    assert str(exc.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1 (200 epochs) on cifar10 lists seeds 777, not a "
        f"list of seeds; {DAMAGED}"
    )


def test_a_text_arch2infos_key_is_named_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was "must be a whole number in 0..5, got '5'": it is one, written as text
    def key_text(data: dict[str, Any]) -> None:
        data["arch2infos"]["5"] = data["arch2infos"].pop(5)

    path = write_nb201_pth(tmp_path / "key.pth", edit=key_text)
    want = (
        f"{path}: arch2infos key '5' is text, not an integer index into meta_archs (0..5); "
        f"{DAMAGED}"
    )
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(path)
    assert str(exc.value) == want
    assert _cli_refuses(capsys, path, tmp_path / "out.nb201") == f"error: {want}\n"


# -- the releases' own seed text ("0777") ------------------------------------------------------
def _zero_padded(state: dict[str, Any]) -> None:
    """A run's seed as the releases store it: its checkpoint name's ``seed-0777``."""
    for (_, seed), run in state["all_results"].items():
        run["seed"] = f"{seed:04d}"


def test_nats_runs_whose_seed_is_the_releases_text_import_as_the_api_reads_them(
    tmp_path: Path,
) -> None:
    import nats_bench

    folder = write_nats_folder(tmp_path / "NATS-tss-v1_0-3ffb9-simple")
    for path in sorted(folder.glob("0*.pickle.pbz2")):
        hp_map = pickle.loads(bz2.decompress(path.read_bytes()))
        for state in hp_map.values():
            _zero_padded(state)
        path.write_bytes(bz2.compress(pickle.dumps(hp_map, protocol=4)))
    df = read_nats_tss(folder)  # refused: "seed 777 is the run of seed '0777'"
    api = nats_bench.create(str(folder), "tss", fast_mode=True, verbose=False)
    assert assert_matches_api(df, api, HP) == 29


def test_pth_runs_whose_seed_is_the_releases_text_import_as_the_api_reads_them(
    tmp_path: Path,
) -> None:
    from nas_201_api import NASBench201API

    def pad(data: dict[str, Any]) -> None:
        for hp_map in data["arch2infos"].values():
            for state in hp_map.values():
                _zero_padded(state)

    path = write_nb201_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", edit=pad)
    api = NASBench201API(str(path), verbose=False)
    assert assert_matches_api(read_nb201_pth(path), api, HP) == 29


@pytest.mark.parametrize("own", ["0999", "+777", "777.0", " 777"])
def test_a_run_of_another_seed_is_still_refused(tmp_path: Path, own: str) -> None:
    data = benchmark()
    data["arch2infos"][1]["full"]["all_results"]["cifar10", 777]["seed"] = own
    with pytest.raises(FormatError) as exc:
        read_nb201_pth(write_pth(tmp_path / "f.pth", data))
    assert str(exc.value) == (
        f"{tmp_path / 'f.pth'}: architecture 1 (200 epochs) cifar10 seed 777 is the run of seed "
        f"{own!r}; {DAMAGED}"
    )
