"""The restricted unpickler (audit 12): its opcode scan relied on a possessive regex repeat,
which Python 3.11.2 (inside the project's ``requires-python``) ends one byte into an opcode, so
every CIFAR and ImageNet16 batch, every official .pth, NATS-Bench's single file and ``-full``
folder, and protocol 1-3 pickles with many memo entries were refused as "truncated or corrupt
... re-download it"."""

from __future__ import annotations

import bz2
import functools
import hashlib
import io
import pickle
import pickletools
import re
import subprocess
import sys
import sysconfig
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import nb201_flat
from nb201_flat.cli import main
from nb201_flat.errors import MissingDependencyError
from nb201_flat.importers import safe_pickle
from nb201_flat.importers.nats import read_nats_tss
from nb201_flat.importers.official import read_nb201_pth
from nb201_flat.space import NB201
from nb201_flat.storage import PARQUET, save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.train.data import safe_load_pickle, write_batch
from tests.importers.test_infinite_values import _cli_refuses
from tests.train.train_helpers import (
    write_tiny_cifar10,
    write_tiny_cifar100,
    write_tiny_imagenet16,
)

EARLY_311 = Path("/usr/bin/python3")  # Debian 12's interpreter is 3.11.2

# the shapes tests/adversarial/test_pickles.py writes, in every protocol
DATA = {"x": [float(i) for i in range(3000)], "s": {str(i): i for i in range(400)}}
MEMO = [{"k": str(i)} for i in range(70_000)]


@functools.cache
def _pickles() -> dict[str, bytes]:
    """Pickles of the shapes the tests write, small: a data batch, floats and strings, memo
    entries (LONG_BINPUT indices past 2**12), in every protocol."""
    rng = np.random.default_rng(0)
    batch = io.BytesIO()
    labels = list(map(int, rng.integers(0, 10, 16)))
    pickle.dump({"labels": labels, "data": rng.integers(0, 256, (16, 3072), np.uint8)}, batch, 2)
    out = {"batch": batch.getvalue()}
    for protocol in range(6):
        out[f"data_p{protocol}"] = pickle.dumps(DATA, protocol=protocol)
        out[f"memo_p{protocol}"] = pickle.dumps(MEMO[:3000], protocol=protocol)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    return bool(a == b)


# -- the regex, on this interpreter -------------------------------------------------------------
def _plain(op: pickletools.OpcodeInfo, blob: bytes, pos: int, arg: Any, bits: int) -> bool:
    """Whether the run walks over this opcode, by its docstring (from pickletools' tables)."""
    if op.name in ("MEMOIZE", "BINPUT"):
        return True
    if op.name == "LONG_BINPUT":
        return bits >= 8 and arg < 2 ** min(bits, 32)
    if op.name == "STOP":
        return False
    if op.arg is None or op.arg.n >= 0:  # no argument, or one of a fixed size
        return True
    width = {-2: 1, -3: 4, -4: 4}.get(op.arg.n)  # strings and bytes with a 1- or 4-byte length
    if width is None:
        return False
    return int.from_bytes(blob[pos + 1 : pos + 1 + width], "little", signed=width == 4) < 256


BITS = (0, 8, 12, 16, 32)  # no LONG_BINPUT in a run, and indices below 2**8 ... 2**32


def _run_ends(bits: int) -> list[tuple[str, int, int, str]]:
    """(pickle, start, where the run from there must end, the opcode at the start) for the
    starts worth checking: every opcode that needs a look and the one after it (every place a
    run stops, or starts after a stop), and every 64th."""
    out = []
    for name, blob in _pickles().items():
        ops = list(pickletools.genops(blob))
        starts = [pos for _op, _arg, pos in ops] + [len(blob)]
        plain = [_plain(op, blob, pos, arg, bits) for op, arg, pos in ops]
        # from opcode k the run walks to the first opcode not plain, at most a cap of them
        stop = [len(ops)] * (len(ops) + 1)
        for k in range(len(ops) - 1, -1, -1):
            stop[k] = stop[k + 1] if plain[k] else k
        for k in (k for k in range(len(ops)) if k % 64 == 0 or not plain[k] or not plain[k - 1]):
            want = starts[min(stop[k], k + safe_pickle._RUN_OPCODES)]
            out.append((name, starts[k], want, ops[k][0].name))
    return out


@pytest.mark.parametrize("bits", BITS)
def test_a_plain_run_ends_where_the_first_opcode_needing_a_look_starts(bits: int) -> None:
    # 3.11.2 ended the run one byte into BINUNICODE or LONG_BINPUT (whose alternative fails
    # after its first byte), so the scan read a length or an index as an opcode
    run = safe_pickle._plain_run(bits)
    ends = _run_ends(bits)
    for name, start, want, op in ends:
        got = run.match(_pickles()[name], start).end()  # type: ignore[union-attr]
        assert got == want, (name, bits, start, op, got, want)
    assert len(ends) > 1_000


def test_the_package_writes_no_possessive_repeat_or_atomic_group() -> None:
    # early 3.11 releases match those wrongly (a greedy repeat that nothing follows is the same)
    found = []
    for path in Path(nb201_flat.__file__).parent.rglob("*.py"):
        with path.open("rb") as f:
            for token in tokenize.tokenize(f.readline):
                if token.type == tokenize.STRING and re.search(r"[*+?}]\+|\(\?>", token.string):
                    found.append(f"{path.name}:{token.start[0]}: {token.string[:60]}")
    assert not found


def test_a_long_run_is_capped_and_the_scan_goes_on() -> None:
    floats = [float(i) for i in range(3 * safe_pickle._RUN_OPCODES)]
    blob = pickle.dumps(floats, protocol=2)
    assert safe_pickle._plain_run(0).match(blob, 2).end() < len(blob) // 2  # type: ignore[union-attr]
    assert safe_pickle.safe_load(io.BytesIO(blob)) == floats


# -- the package's readers under Python 3.11.2 ---------------------------------------------------
def _early_311() -> str:
    """The early 3.11 interpreter, or skip saying why there is none to run."""
    if not EARLY_311.exists():
        pytest.skip(f"{EARLY_311} does not exist: no Python 3.11.0-3.11.2 to run the readers under")
    found = subprocess.run(
        [str(EARLY_311), "-c", "import sys; print(*sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    version = tuple(map(int, found)) if len(found) == 3 else ()
    if not (3, 11, 0) <= version <= (3, 11, 2):
        pytest.skip(f"{EARLY_311} is {'.'.join(found) or 'not Python'}, not 3.11.0-3.11.2")
    if sys.version_info[:2] != (3, 11):
        pytest.skip("this interpreter's packages are not for 3.11, so 3.11.2 cannot import them")
    return str(EARLY_311)


# Loads each (kind, path) with the package's reader and pickles back what it got or the error.
_RUNNER = """
import pickle, sys
from nb201_flat.errors import Nb201FlatError
from nb201_flat.importers.nats import read_nats_tss
from nb201_flat.importers.official import read_nb201_pth
from nb201_flat.importers.safe_pickle import safe_load
from nb201_flat.train.data import safe_load_pickle

def stream(path):
    with open(path, "rb") as f:
        return safe_load(f)

def pbz2(path):
    import bz2
    with bz2.open(path, "rb") as f:
        return safe_load(f)

READ = {"stream": stream, "pbz2": pbz2, "batch": safe_load_pickle, "pth": read_nb201_pth,
        "nats": read_nats_tss}
out = {}
for kind, path in zip(sys.argv[2::2], sys.argv[3::2]):
    try:
        out[path] = (sys.version_info[:3], READ[kind](path))
    except Nb201FlatError as exc:
        out[path] = (sys.version_info[:3], str(exc))
with open(sys.argv[1], "wb") as f:
    pickle.dump(out, f)
"""


def _stream(path: Path) -> Any:
    with path.open("rb") as f:
        return safe_pickle.safe_load(f)


def _pbz2(path: Path) -> Any:
    with bz2.open(path, "rb") as f:
        return safe_pickle.safe_load(f)


_READ: dict[str, Callable[[Path], Any]] = {
    "stream": _stream,
    "pbz2": _pbz2,
    "batch": safe_load_pickle,
    "pth": read_nb201_pth,
    "nats": read_nats_tss,
}


def _run_early_311(script: str, *args: str) -> None:
    """Run ``script`` under the early 3.11 interpreter with this checkout and its packages."""
    python = _early_311()
    packages = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    root = Path(nb201_flat.__file__).resolve().parents[1]
    proc = subprocess.run(
        [python, "-s", "-c", script, *args],
        env={"PYTHONPATH": ":".join([str(root), *sorted(packages)]), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def _same_under_early_311(tmp_path: Path, jobs: list[tuple[str, Path]]) -> None:
    """Each file read by the package under 3.11.2 gives what this interpreter reads."""
    _run_early_311(_RUNNER, str(tmp_path / "out.pkl"), *(str(a) for job in jobs for a in job))
    with (tmp_path / "out.pkl").open("rb") as f:
        got = pickle.load(f)  # written just now by the runner above
    for kind, path in jobs:
        version, value = got[str(path)]
        assert version[:2] == (3, 11) and version < (3, 11, 3), version
        assert not isinstance(value, str), (kind, path.name, value)
        assert _same(_READ[kind](path), value), (kind, path.name)


def test_data_batches_and_plain_pickles_load_under_python_3_11_2(tmp_path: Path) -> None:
    jobs = []
    for write in (write_tiny_cifar10, write_tiny_cifar100, write_tiny_imagenet16):
        folder = write(tmp_path / write.__name__)
        jobs += [("batch", p) for p in sorted(folder.rglob("*")) if p.is_file()]
    rng = np.random.default_rng(3)
    full = tmp_path / "data_batch_full"  # a batch of the real size: 10,000 images
    write_batch(full, rng.integers(0, 256, (10_000, 3072), np.uint8), [1] * 10_000, "labels")
    jobs.append(("batch", full))
    for protocol in range(6):
        for name, obj in (("data", DATA), ("memo", MEMO)):
            path = tmp_path / f"{name}_p{protocol}.pkl"
            path.write_bytes(pickle.dumps(obj, protocol=protocol))
            jobs.append(("stream", path))
    _same_under_early_311(tmp_path, jobs)


def test_official_and_nats_files_load_under_python_3_11_2(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    jobs = [
        ("pth", files[name])
        for name in ("pth_zip", "pth_legacy", "pth_weights", "pth_weights_legacy")
    ]
    jobs += [("nats", files[name]) for name in ("nats_dir", "nats_full_dir", "nats_file")]
    jobs.append(("pbz2", files["nats_dir"] / "meta.pickle.pbz2"))
    _same_under_early_311(tmp_path, jobs)


# Where each run ends under the early interpreter, for the starts the parent picked.
_RUN_RUNNER = """
import pickle, sys
from nb201_flat.importers.safe_pickle import _plain_run
with open(sys.argv[1], "rb") as f:
    blobs, starts = pickle.load(f)
ends = {bits: [_plain_run(bits).match(blobs[name], at).end() for name, at in todo]
        for bits, todo in starts.items()}
with open(sys.argv[2], "wb") as f:
    pickle.dump((sys.version_info[:3], ends), f)
"""


def test_a_plain_run_ends_at_the_same_opcode_under_python_3_11_2(tmp_path: Path) -> None:
    runs = {bits: _run_ends(bits) for bits in BITS}
    with (tmp_path / "in.pkl").open("wb") as f:
        starts = {bits: [(name, at) for name, at, _want, _op in runs[bits]] for bits in BITS}
        pickle.dump((_pickles(), starts), f)
    _run_early_311(_RUN_RUNNER, str(tmp_path / "in.pkl"), str(tmp_path / "out.pkl"))
    with (tmp_path / "out.pkl").open("rb") as f:
        version, ends = pickle.load(f)  # written just now by the runner above
    assert version < (3, 11, 3), version
    for bits in BITS:
        wrong = [
            (name, at, op, got, want)
            for (name, at, want, op), got in zip(runs[bits], ends[bits], strict=True)
            if got != want
        ]
        assert not wrong, (bits, len(wrong), wrong[:3])


# -- --allow-unsafe-pickle without torch --------------------------------------------------------
def test_unsafe_pickle_without_torch_names_the_flag_on_the_command_line(
    tmp_path: Path,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # ``import torch`` raises ImportError
    tail = (
        " reads .pth files with torch, which is not installed; install it with "
        "`pip install 'nb201-flat[official]'`"
    )
    with pytest.raises(MissingDependencyError) as exc:
        read_nb201_pth(files["pth_zip"], allow_unsafe_pickle=True)
    assert str(exc.value) == "allow_unsafe_pickle=True" + tail
    err = _cli_refuses(capsys, files["pth_zip"], tmp_path / "out.nb201", "--allow-unsafe-pickle")
    assert err == f"error: --allow-unsafe-pickle{tail}\n"


# -- info: the digest of table.parquet, named as the file's ------------------------------------
def test_info_names_its_digest_the_stored_files_not_the_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the digest is of table.parquet's bytes, which pyarrow 15 and 26 write differently for
    # byte-identical values; it was labelled "values sha256"
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): np.ones(NB201.size)})
    folder = save_table(table, tmp_path / "t.nb201")
    capsys.readouterr()
    assert main(["info", "--table", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    digest = hashlib.sha256((folder / PARQUET).read_bytes()).hexdigest()
    assert f"table.parquet sha256  {digest}" in lines
    assert not [line for line in lines if line.startswith("values")]
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    assert "change with the pyarrow version that wrote" in " ".join(capsys.readouterr().out.split())


# -- what the official import needs, as the docs say ---------------------------------------------
def test_the_official_files_import_without_torch_or_the_official_apis(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("torch", "nas_201_api", "nats_bench"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
    assert len(read_nb201_pth(files["pth_weights"])) > 0
    assert len(read_nats_tss(files["nats_full_dir"])) > 0
    root = Path(nb201_flat.__file__).resolve().parents[1]
    readme = " ".join((root / "data" / "README.md").read_text().split())
    official = readme[readme.index("## Official NAS-Bench-201") : readme.index("## NATS-Bench")]
    assert "Import needs no optional dependency" in official
    assert "needs the `official` extra" not in official  # it said so, naming torch
    pyproject = (root / "pyproject.toml").read_text()
    comment = pyproject[: pyproject.index("\nofficial = [")].rsplit("[project.optional", 1)[1]
    assert "torch reads the .pth files" not in comment
    assert "Not needed to import the official" in comment


def test_the_data_module_says_the_shipped_split_comes_before_the_fallback() -> None:
    from nb201_flat.train import data
    from nb201_flat.train.splits import packaged_split

    a, b = data.nb201_split("cifar100", 10_000, None)  # no split file: the copy in the wheel
    pa, pb = packaged_split("cifar100-test-split.txt", ("xvalid", "xtest"))
    assert np.array_equal(a, pa) and np.array_equal(b, pb)
    doc = " ".join((data.__doc__ or "").split())
    assert "then in the copies shipped with the package" in doc
    assert "Without them a documented deterministic split is used" not in doc
