"""The importers' yes/no options are flags: ``bool("no")`` is True, and allow_unsafe_pickle="no"
ran the file's code (the refused global of the fixture would have been unpickled in full)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.importers import import_table
from nb201_flat.importers.nats import read_nats_tss
from nb201_flat.importers.official import read_nb201_pth


@pytest.mark.parametrize("flag", ["allow_unsafe_pickle", "progress"])
@pytest.mark.parametrize("value", ["no", 0, None])
def test_readers_refuse_a_flag_that_is_no_bool(
    files: dict[str, Path], flag: str, value: object
) -> None:
    with pytest.raises(ArgumentError, match=f"{flag} must be True or False"):
        read_nb201_pth(files["pth_refused"], **{flag: value})  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=f"{flag} must be True or False"):
        read_nats_tss(files["nats_refused_dir"], **{flag: value})  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=f"{flag} must be True or False"):
        import_table(files["pth_refused"], **{flag: value})  # type: ignore[arg-type]


def test_import_table_curves_is_a_flag(files: dict[str, Path]) -> None:
    with pytest.raises(ArgumentError, match="curves must be True or False"):
        import_table(files["pth_zip"], curves="no")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "named"),
    [(b"small.csv", r"got bytes \(decode bytes"), (None, "got None"), (3, "got int")],
)
def test_import_table_refuses_a_source_that_is_no_path(source: object, named: str) -> None:
    # R1: a bare TypeError from os.fspath / Path
    from nb201_flat.importers import detect_format

    for call in (import_table, detect_format):
        with pytest.raises(ArgumentError, match=rf"the source must be a path .*{named}"):
            call(source)  # type: ignore[arg-type]
