"""Issue 10 item 1: crafted pickles give a one-line error, never a crash or a huge allocation.

Every case runs in a subprocess under a 3 GB address-space limit, so a segfault or an attempt
to allocate tens of gigabytes fails the test instead of killing pytest.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.errors import FormatError, TableFileError
from nb201_flat.importers.safe_pickle import safe_load
from tests.adversarial import crafted

_LIMIT = 3 << 30

# Reads each (reader, file) pair given and prints one JSON line per pair: the one-line error,
# or what was (wrongly) accepted. A crash or a huge allocation ends the process instead.
_RUNNER = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from nb201_flat.errors import Nb201FlatError

def read(kind, path):
    if kind == "stream":
        from nb201_flat.importers.safe_pickle import safe_load
        with open(path, "rb") as f:
            return safe_load(f)
    if kind == "pth":
        from nb201_flat.importers.official import read_nb201_pth
        return read_nb201_pth(path)
    if kind == "pbz2":
        from nb201_flat.importers.nats import read_nats_tss
        return read_nats_tss(path)
    from nb201_flat.train.data import safe_load_pickle
    return safe_load_pickle(path)

for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        out = {{"kind": kind, "accepted": repr(read(kind, path))[:200]}}
    except Nb201FlatError as exc:
        out = {{"kind": kind, "error": str(exc)}}
    print(json.dumps(out), flush=True)
"""

_WRAP: dict[str, Callable[[bytes, Path], Path]] = {
    "stream": lambda payload, p: (p.write_bytes(payload), p)[1],
    "pth": lambda payload, p: crafted.as_pth(payload, p.with_suffix(".pth")),
    "pbz2": lambda payload, p: crafted.as_pbz2(payload, p.with_suffix(".pickle.pbz2")),
    "batch": lambda payload, p: (p.write_bytes(payload), p)[1],
}


@pytest.mark.parametrize("case", sorted(crafted.ALL))
def test_crafted_pickle_is_one_line_error(tmp_path: Path, case: str) -> None:
    args: list[str] = []
    for kind, wrap in _WRAP.items():
        args += [kind, str(wrap(crafted.ALL[case](), tmp_path / f"evil-{kind}"))]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER.format(limit=_LIMIT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    # exit 0: no segfault (-11), no MemoryError traceback (1), no kill
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-300:], proc.stderr[-600:])
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["kind"] for r in results] == list(_WRAP)
    for r in results:
        assert "error" in r, r  # never accepted
        assert "\n" not in r["error"] and len(r["error"]) < 600, r


def test_cli_import_of_crafted_pth_exits_2(tmp_path: Path) -> None:
    path = crafted.as_pth(crafted.object_array_from_pointer(), tmp_path / "evil.pth")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nb201_flat",
            "import",
            str(path),
            "--format",
            "nb201-pth",
            "--out",
            str(tmp_path / "t"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-600:]
    assert proc.stderr.startswith("error: ") and "dtype" in proc.stderr
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_arrays_and_dtypes_still_load(protocol: int) -> None:
    data = {
        "f8": np.arange(6.0).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
        "u1": np.arange(4, dtype=np.uint8),
        "text": np.array(["ab", "c"]),
        "bytes": np.array([b"ab", b"c"]),
        "when": np.array(["2020-01-01"], dtype="M8[D]"),
        "dtype": np.dtype("<f4"),
        "scalar": np.int32(7),
        "empty": np.zeros((0, 3)),
        "shared": (a := np.ones(2), a),
    }
    blob = pickle.dumps(data, protocol=protocol)
    out, stock = safe_load(io.BytesIO(blob)), pickle.loads(blob)
    for key in ("f8", "fortran", "u1", "text", "bytes", "when", "empty"):
        assert type(out[key]) is np.ndarray
        assert out[key].dtype == stock[key].dtype  # numpy itself may make the order native
        assert out[key].flags.f_contiguous == stock[key].flags.f_contiguous
        np.testing.assert_array_equal(out[key], data[key])
    assert out["dtype"] == np.dtype("<f4") and isinstance(out["dtype"], np.dtype)
    assert out["scalar"] == 7 and out["scalar"].dtype == np.int32
    assert out["shared"][0] is out["shared"][1]


# The cases that allocate tens of gigabytes on unfixed code run only in the subprocess above.
_HUGE = {"huge_bytearray", "huge_set_from_range", "long_binput_huge", "put_text_huge"}
_IN_MEMORY = sorted(set(crafted.ALL) - _HUGE - {"huge_bytearray8_length"})


@pytest.mark.parametrize("case", _IN_MEMORY)
def test_crafted_in_memory_raises_domain_error(case: str) -> None:
    with pytest.raises((FormatError, TableFileError)) as info:
        safe_load(crafted.as_file(crafted.ALL[case]()))
    assert "\n" not in str(info.value)


# Loads each file given and prints, per file, the error and the peak resident memory so far (MB).
_PEAK_RUNNER = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from nb201_flat.errors import Nb201FlatError
from nb201_flat.importers.safe_pickle import safe_load

for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            out = {{"accepted": repr(safe_load(f, source=path))[:100]}}
    except Nb201FlatError as exc:
        out = {{"error": str(exc)}}
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    out["peak_mb"] = int(hwm.split()[1]) / 1024
    print(json.dumps(out), flush=True)
"""


def _peaks(tmp_path: Path, cases: dict[str, Callable[[], bytes]]) -> dict[str, dict[str, object]]:
    paths = []
    for name, build in cases.items():
        (path := tmp_path / f"{name}.pkl").write_bytes(build())
        paths.append(str(path))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_RUNNER.format(limit=_LIMIT), *paths],
        capture_output=True, text=True, timeout=300, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-600:])
    return dict(zip(cases, map(json.loads, proc.stdout.splitlines()), strict=True))


def test_memo_index_is_refused_before_the_unpickler_allocates(tmp_path: Path) -> None:
    # a process that imported numpy and pandas peaks near 100 MB; an 800 MB memo table or a
    # 64 GB one attempted under the 3 GB cap would show (or end as "more memory")
    for name, out in _peaks(tmp_path, crafted.MEMO).items():
        assert "error" in out, (name, out)
        msg = str(out["error"])
        assert "memo index" in msg and name in msg and "\n" not in msg, (name, msg)
        assert float(out["peak_mb"]) < 400, (name, out)  # type: ignore[arg-type]


def test_named_lengths_end_as_truncated_without_allocating_them(tmp_path: Path) -> None:
    for name, out in _peaks(tmp_path, crafted.LENGTHS).items():
        assert "truncated or corrupt" in str(out.get("error")), (name, out)
        assert float(out["peak_mb"]) < 400, (name, out)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_scan_leaves_what_follows_the_pickle_in_place(tmp_path: Path, protocol: int) -> None:
    # torch's legacy format is several pickles in a row: each load takes only its own bytes
    data = {"x": [float(i) for i in range(3000)], "s": {str(i): i for i in range(400)}}
    blob = b"".join(pickle.dumps(x, protocol=protocol) for x in (1, data, "end")) + b"raw"
    (path := tmp_path / "row.pkl").write_bytes(blob)
    for stream in (io.BytesIO(blob), path.open("rb")):
        with stream as f:
            assert [safe_load(f), safe_load(f), safe_load(f)] == [1, data, "end"]
            assert f.read() == b"raw"


def test_memo_indices_of_real_picklers_pass_the_scan() -> None:
    # many memo entries: LONG_BINPUT indices well past 2**16, every one in order
    data = [{"k": str(i)} for i in range(70_000)]
    for protocol in (0, 1, 2, 3, 4, 5):
        assert safe_load(io.BytesIO(pickle.dumps(data, protocol=protocol))) == data
