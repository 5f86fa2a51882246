"""A checkpoint whose sidecar was lost is not trusted: its payload says it had one, or an
older checkpoint of the run has one. Only a legacy run (no sidecars yet) resumes unverified."""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from nb201_flat.train.checkpoint import Checkpointer, sidecar  # noqa: E402


def _state(epoch: int) -> dict[str, object]:
    return {"epoch": epoch, "w": torch.full((1000,), float(epoch))}


def _flip(path: Path, value: float) -> None:
    """Flip one bit of the first stored float32 ``value``: torch.load still reads the file."""
    raw = bytearray(path.read_bytes())
    at = raw.find(struct.pack("<f", value))
    assert at > 0
    raw[at + 3] ^= 0x01
    path.write_bytes(bytes(raw))


def _write_before_the_mark(path: Path, state: dict[str, object]) -> None:
    """A checkpoint as the version before the payload's mark wrote it: a sidecar, no mark."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar(path).write_text(f"{digest}  {path.name}\n")


def test_a_damaged_checkpoint_with_its_sidecar_deleted_is_not_resumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The audit's case: it resumed epoch 2 with weight 8.0 (2.0 written), 'legacy' only."""
    ck = Checkpointer(tmp_path)
    for e in (1, 2):
        ck.save(e, _state(e))
    _flip(tmp_path / "epoch-0002.pt", 2.0)
    sidecar(tmp_path / "epoch-0002.pt").unlink()
    with caplog.at_level(logging.WARNING):
        loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 1
    assert torch.equal(loaded[1]["w"], _state(1)["w"])  # type: ignore[arg-type]
    assert (
        "epoch-0002.pt is corrupt" in caplog.text
        and "epoch-0002.pt.sha256 is missing" in caplog.text
    )
    assert "unverified" not in caplog.text
    assert (tmp_path / "epoch-0002.pt.corrupt").exists()  # kept aside, as a mismatch is


def test_the_payload_says_it_had_a_sidecar(tmp_path: Path) -> None:
    """The only checkpoint, its sidecar lost: nothing older to tell, the payload's mark does."""
    ck = Checkpointer(tmp_path)
    ck.save(1, _state(1))
    sidecar(tmp_path / "epoch-0001.pt").unlink()
    assert ck.load_epoch(1) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.pt.corrupt"]
    assert ck.load_latest() is None  # a fresh start, never unverified weights


def test_an_older_sidecar_says_the_run_wrote_them(tmp_path: Path) -> None:
    """Checkpoints of the version before the mark: the older one's sidecar tells."""
    for e in (1, 2):
        _write_before_the_mark(tmp_path / f"epoch-000{e}.pt", _state(e))
    _flip(tmp_path / "epoch-0002.pt", 2.0)
    sidecar(tmp_path / "epoch-0002.pt").unlink()
    loaded = Checkpointer(tmp_path).load_latest()
    assert loaded is not None and loaded[0] == 1
    assert torch.equal(loaded[1]["w"], _state(1)["w"])  # type: ignore[arg-type]


def test_a_run_upgraded_midway_falls_back_to_its_legacy_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Legacy epoch 1 (no sidecar, no mark) under a checksummed epoch 2 that is damaged: the
    fallback to epoch 1 still works, unverified as before."""
    torch.save(_state(1), tmp_path / "epoch-0001.pt")
    ck = Checkpointer(tmp_path)
    ck.save(2, _state(2))
    _flip(tmp_path / "epoch-0002.pt", 2.0)
    with caplog.at_level(logging.WARNING):
        loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 1
    assert "epoch-0001.pt has no .sha256 checksum" in caplog.text


def test_the_mark_is_not_in_the_state_read_back(tmp_path: Path) -> None:
    ck = Checkpointer(tmp_path)
    ck.save(1, _state(1))
    loaded = ck.load_latest()
    assert loaded is not None and set(loaded[1]) == {"epoch", "w"}
    assert set(ck.load_epoch(1) or {}) == {"epoch", "w"}
