"""Checkpoint checksums: a damaged payload is never resumed from; legacy files still load."""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from nb201_flat.train.checkpoint import Checkpointer, sidecar, write_checkpoint  # noqa: E402


def _state(epoch: int) -> dict[str, object]:
    return {"epoch": epoch, "w": torch.arange(1000, dtype=torch.float32) * epoch}


def _flip_in_payload(path: Path, value: float) -> None:
    """Flip one bit of the stored float32 ``value``: torch.load still reads the file."""
    raw = bytearray(path.read_bytes())
    at = raw.find(struct.pack("<f", value))
    assert at > 0 and raw.find(struct.pack("<f", value), at + 1) < 0  # the tensor's one copy
    raw[at + 3] ^= 0x01
    path.write_bytes(bytes(raw))


def test_a_flipped_payload_byte_loads_silently_without_the_check(tmp_path: Path) -> None:
    """The damage this guards against: torch.load reads the damaged tensor without a word."""
    path = write_checkpoint(tmp_path / "epoch-0001.pt", _state(1))
    _flip_in_payload(path, 500.0)
    assert torch.load(path, weights_only=True)["w"][500].item() != 500.0


def test_a_flipped_byte_falls_back_to_the_previous_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ck = Checkpointer(tmp_path / "run")
    for e in (1, 2):
        ck.save(e, _state(e))
    newest = tmp_path / "run" / "epoch-0002.pt"
    _flip_in_payload(newest, 1000.0)  # w[500] of epoch 2
    with caplog.at_level(logging.WARNING):
        loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 1
    assert torch.equal(loaded[1]["w"], _state(1)["w"])  # type: ignore[arg-type]
    assert "epoch-0002.pt is corrupt" in caplog.text and "sha256" in caplog.text
    assert "falling back to epoch-0001.pt" in caplog.text
    # kept aside with its digest, never reused
    assert (tmp_path / "run" / "epoch-0002.pt.corrupt").exists()
    assert (tmp_path / "run" / "epoch-0002.pt.corrupt.sha256").exists()
    assert [e for e, _ in ck.files()] == [1]


def test_the_only_checkpoint_flipped_starts_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ck = Checkpointer(tmp_path / "run")
    ck.save(1, _state(1))
    _flip_in_payload(tmp_path / "run" / "epoch-0001.pt", 500.0)
    with caplog.at_level(logging.WARNING):
        assert ck.load_latest() is None
    assert "falling back to a fresh start" in caplog.text
    # load_epoch (a group's resume) refuses it the same way
    ck.save(1, _state(1))
    _flip_in_payload(tmp_path / "run" / "epoch-0001.pt", 500.0)
    assert ck.load_epoch(1) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_text("0" * 64 + "  epoch-0002.pt\n"),  # another digest
        lambda p: p.write_text("not a digest\n"),
        lambda p: p.write_text(p.read_text().replace("epoch-0002", "epoch-0001")),
    ],
    ids=["digest", "malformed", "other-name"],
)
def test_a_damaged_sidecar_is_a_corrupt_checkpoint(tmp_path: Path, damage: object) -> None:
    ck = Checkpointer(tmp_path / "run")
    for e in (1, 2):
        ck.save(e, _state(e))
    damage(sidecar(tmp_path / "run" / "epoch-0002.pt"))  # type: ignore[operator]
    loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 1


def test_the_sidecar_is_sha256sum_of_the_bytes_written(tmp_path: Path) -> None:
    path = Checkpointer(tmp_path).save(3, _state(3))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sidecar(path).read_text() == f"{digest}  epoch-0003.pt\n"  # `sha256sum -c` format


def test_a_legacy_checkpoint_without_sidecar_loads_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    torch.save(_state(1), folder / "epoch-0001.pt")  # as written before checksums
    ck = Checkpointer(folder)
    with caplog.at_level(logging.WARNING):
        loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 1
    assert "has no .sha256 checksum" in caplog.text and "unverified" in caplog.text
    ck.save(2, _state(2))  # the run goes on with checksummed checkpoints
    assert sidecar(folder / "epoch-0002.pt").exists()


def test_pruning_removes_sidecars_and_orphans_are_cleaned(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    ck = Checkpointer(folder)
    for e in (1, 2, 3):
        ck.save(e, _state(e))
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"epoch-000{e}.pt{s}" for e in (2, 3) for s in ("", ".sha256")]
    # a writer killed after its sidecar, before the payload's rename: the sidecar alone
    (folder / "epoch-0004.pt.sha256").write_text("0" * 64 + "  epoch-0004.pt\n")
    loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 3
    assert not (folder / "epoch-0004.pt.sha256").exists()
    ck.discard_after(2)
    ck.prune_to_last()
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0002.pt", "epoch-0002.pt.sha256"]


def test_an_epoch_rewritten_and_killed_before_its_payload_is_not_resumed(tmp_path: Path) -> None:
    """A kill between the new sidecar and the new payload of an epoch written again leaves
    the old payload beside the new digest: refused, the older checkpoint used."""
    folder = tmp_path / "run"
    ck = Checkpointer(folder)
    for e in (1, 2):
        ck.save(e, _state(e))
    other = folder / "other"
    write_checkpoint(other / "epoch-0002.pt", {"epoch": 2, "w": torch.zeros(3)})
    sidecar(folder / "epoch-0002.pt").write_bytes(sidecar(other / "epoch-0002.pt").read_bytes())
    loaded = ck.load_latest()
    assert loaded is not None and loaded[0] == 1
