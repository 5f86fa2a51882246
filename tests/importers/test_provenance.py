"""What an import records about where its numbers came from: the sha256 of the source (only the
AnalogNAS importer had it; the others kept a path, which says nothing once the file changes) and
the import command as it was typed (it had gained ``--force --format ...``)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.importers.naslib_zc import read_naslib_zc
from nb201_flat.importers.nats import read_nats_tss
from nb201_flat.importers.official import read_nb201_pth

from .test_naslib_zc_checks import BASE
from .test_run_checks import benchmark, write_nats, write_pth


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pth_nats_file_and_naslib_frames_carry_the_files_sha256(tmp_path: Path) -> None:
    pth = write_pth(tmp_path / "f.pth", benchmark())
    assert read_nb201_pth(pth).attrs["file_sha256"] == _sha(pth)
    nats = write_nats(tmp_path / "n.pickle.pbz2", benchmark(("200", "12")))
    assert read_nats_tss(nats).attrs["file_sha256"] == _sha(nats)
    zc = tmp_path / "zc.json"
    zc.write_text(json.dumps(BASE))
    assert read_naslib_zc(zc).attrs["file_sha256"] == _sha(zc)


def test_a_nats_folders_sha256_is_that_of_its_sha256sum_listing(tmp_path: Path) -> None:
    data = benchmark(("200", "12"))
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    write_nats(folder / "meta.pickle.pbz2", {**data, "arch2infos": None})
    for i, hp_map in data["arch2infos"].items():
        write_nats(folder / f"{i:06d}.pickle.pbz2", hp_map)
    listing = "".join(f"{_sha(p)}  {p.name}\n" for p in sorted(folder.iterdir()))
    want = hashlib.sha256(listing.encode()).hexdigest()
    assert read_nats_tss(folder).attrs["file_sha256"] == want
    (folder / "000001.pickle.pbz2").write_bytes(
        (folder / "000001.pickle.pbz2").read_bytes()  # same content, same sum
    )
    assert read_nats_tss(folder).attrs["file_sha256"] == want
    data["arch2infos"][1]["200"]["all_results"]["cifar10", 777]["params"] = 0.75  # one number
    write_nats(folder / "000001.pickle.pbz2", data["arch2infos"][1])
    assert read_nats_tss(folder).attrs["file_sha256"] != want


@pytest.mark.parametrize(
    "typed",
    [
        [],
        ["--force"],
        ["--format", "naslib-zc", "--force"],
    ],
)
def test_the_stored_import_command_is_what_was_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], typed: list[str]
) -> None:
    from nb201_flat.cli import main

    zc = tmp_path / "zc.json"
    zc.write_text(json.dumps(BASE))
    out = tmp_path / "t.nb201"
    assert main(["import", str(zc), "--out", str(out), *typed]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    fmt = typed[:2] if "--format" in typed else []
    rest = [w for w in typed if w not in fmt]
    assert shlex.split(manifest["meta"]["import_command"]) == [
        "nb201-flat", "import", str(zc.resolve()), *fmt, "--out", str(out), *rest,
    ]  # fmt: skip
    capsys.readouterr()


def test_every_imported_table_records_its_sources_sha256(tmp_path: Path) -> None:
    """import_table puts the reader's hash in the table meta, and hashes tidy files itself, so
    the manifest of a saved table names the bytes it came from, whatever the format."""
    from nb201_flat.importers import import_table

    pth = write_pth(tmp_path / "f.pth", benchmark())
    from_pth = import_table(pth)
    assert from_pth.meta["file_sha256"] == _sha(pth)
    tidy = tmp_path / "t.csv"
    from_pth.to_tidy().to_csv(tidy, index=False, na_rep="nan")
    assert import_table(tidy).meta["file_sha256"] == _sha(tidy)
    zc = tmp_path / "zc.json"
    zc.write_text(json.dumps(BASE))
    assert import_table(zc).meta["file_sha256"] == _sha(zc)


@pytest.mark.parametrize("kind", ["pth", "nats"])
def test_the_sha256_is_of_the_file_parsed_when_the_path_is_replaced_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # the file was hashed by path after the parse: a file swapped in meanwhile (a download
    # finishing, another copy) was recorded as the source of numbers read from the first
    from nb201_flat.importers import nats, official

    data = benchmark(("200", "12")) if kind == "nats" else benchmark()
    write = write_nats if kind == "nats" else write_pth
    path = write(tmp_path / ("n.pickle.pbz2" if kind == "nats" else "f.pth"), data)
    parsed = _sha(path)
    hp = "200" if kind == "nats" else "full"
    data["arch2infos"][1][hp]["all_results"]["cifar10", 777]["params"] = 0.75
    other = write(tmp_path / ("o.pickle.pbz2" if kind == "nats" else "o.pth"), data)
    assert _sha(other) != parsed
    module: Any = nats if kind == "nats" else official
    name = "_unpickle" if kind == "nats" else "_load_pth_safely"
    real = getattr(module, name)

    def then_replaced(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        os.replace(other, path)
        return out

    monkeypatch.setattr(module, name, then_replaced)
    reader = read_nats_tss if kind == "nats" else read_nb201_pth
    assert reader(path).attrs["file_sha256"] == parsed
    assert _sha(path) != parsed  # the path holds the other file now


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_a_tidy_files_sha256_is_of_the_bytes_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    # import_table hashed a tidy file by path after reading it: a file swapped in meanwhile
    # was recorded as the source
    from nb201_flat.importers import import_table, tidy

    frame = read_nb201_pth(write_pth(tmp_path / "f.pth", benchmark()))
    path, other = tmp_path / f"t{suffix}", tmp_path / f"o{suffix}"
    for target, shift in ((path, 0.0), (other, 1.0)):
        df = frame.assign(value=frame["value"] + shift)
        if suffix == ".parquet":
            df.to_parquet(target, index=False)
        else:
            df.to_csv(target, index=False, na_rep="nan")
    parsed = _sha(path)
    real = tidy._read_arrow

    def then_replaced(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        os.replace(other, path)
        return out

    monkeypatch.setattr(tidy, "_read_arrow", then_replaced)
    table = import_table(path)
    assert table.meta["file_sha256"] == parsed != _sha(path)
    key = table.keys()[0]
    assert np.nanmax(table.vector_for(key)) in set(frame["value"])  # the first file's numbers
