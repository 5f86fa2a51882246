"""Per-epoch checkpoints that survive ``kill -9`` at any moment.

Each save writes ``epoch-NNNN.pt`` through a temporary file in the same folder, fsyncs it and
renames it into place (``os.replace`` is atomic), so a file with the final name is always
complete. The newest ``keep`` checkpoints are kept. Loading tries the newest first; an
unreadable one is renamed ``*.corrupt`` (kept for inspection, never reused), a warning names the
fallback, and the previous one is tried.

Every checkpoint has a sidecar ``epoch-NNNN.pt.sha256`` holding the sha256 of the exact bytes
written, in ``sha256sum`` format (``sha256sum -c`` in the folder checks it by hand). torch.load
does not notice a damaged tensor payload, so each load hashes the file and treats a mismatch as
an unreadable checkpoint. A sidecar rather than a header or a digest in the name: the ``.pt``
stays a plain torch file under its old name (torch.load, its memory map, tools and older code
read it unchanged). The sidecar is written (atomically) before the payload is renamed into
place, and removed after it, so a complete payload never lacks its sidecar; a kill between the
two leaves a sidecar without a payload (removed on the next load) or, when an epoch is written
again, the old payload beside the new digest (a mismatch: it falls back, never resumes wrong
weights). A checkpoint without a sidecar is unreadable (as a mismatch is: set aside, the previous
one tried) when its state holds the key ``nb201_flat_sha256_sidecar`` (written with a sidecar,
which was lost: its bytes cannot be trusted), or when an older checkpoint of the folder has a
sidecar (the run wrote them already; this covers checkpoints from before the key). Any other
checkpoint without a sidecar was written before checksums were recorded: it is accepted as a
legacy file with a warning saying it is unverified (refusing it would throw away runs in
progress at the upgrade), and the run's next checkpoints carry a sidecar. The key is removed
from the state read back (a plain torch.load shows it).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from pathlib import Path
from typing import Any

from nb201_flat import atomic
from nb201_flat.errors import Nb201FlatError, require

log = logging.getLogger(__name__)

_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")
_SUM = ".sha256"  # the sidecar's suffix, after the checkpoint's own name
_HEX = re.compile(r"^[0-9a-f]{64}$")
# in every state written with a sidecar: such a payload found without one is not trusted
_MARK = "nb201_flat_sha256_sidecar"


def sidecar(path: Path) -> Path:
    """The file holding the sha256 of checkpoint ``path``."""
    return path.with_name(path.name + _SUM)


def write_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically, its sidecar digest first (module docstring).

    The state is serialised once in memory, so the digest is of the very bytes written.
    """
    import torch

    target = Path(path)
    buf = io.BytesIO()
    torch.save({**state, _MARK: True}, buf)
    data = buf.getvalue()
    line = f"{hashlib.sha256(data).hexdigest()}  {target.name}\n"
    atomic.write_bytes(sidecar(target), line.encode("ascii"))
    return atomic.write_bytes(target, data)


def _unread(path: Path, exc: BaseException) -> Nb201FlatError:
    """The error of a checkpoint that could not be read for a reason outside it (an I/O error,
    no memory): it was set aside as corrupt, and the run restarted, its stored rows deleted."""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return Nb201FlatError(
        f"checkpoint {path} cannot be read now ({why}); it and the run's stored epochs are "
        "left as they are: check the disk (or free memory) and run again"
    )


def read_epoch_checkpoint(path: Path, epoch: int) -> dict[str, Any]:
    """:func:`read_checkpoint` of the checkpoint named for ``epoch``, whose state must say that
    epoch (``ValueError`` otherwise): the one test of a usable checkpoint, for a resume and for
    the checks made before one."""
    state = read_checkpoint(path)
    if state.get("epoch") != epoch:
        raise ValueError("not a checkpoint of this trainer")
    return state


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The state in checkpoint ``path``, its bytes checked against the sidecar first.

    Raises ``ValueError`` when they differ, the sidecar is malformed, or missing where the
    checkpoint had one (module docstring), or the file holds no dict; torch's, zip's and
    pickle's errors for an unreadable file pass through. A legacy file without a sidecar is
    read unverified, with a warning.
    """
    import torch

    data = path.read_bytes()
    side = sidecar(path)
    try:
        recorded: str | None = side.read_text("ascii")
    except FileNotFoundError:
        recorded = None
    except UnicodeDecodeError as exc:
        raise ValueError(f"its checksum file {side.name} is unreadable ({exc})") from None
    if recorded is None:
        if (older := _older_with_sidecar(path)) is not None:
            raise ValueError(
                f"its checksum file {side.name} is missing (the older {older.name} has one)"
            )
    else:
        fields = recorded.split()
        if len(fields) != 2 or not _HEX.match(fields[0]) or fields[1] != path.name:
            raise ValueError(f"its checksum file {side.name} is malformed")
        if hashlib.sha256(data).hexdigest() != fields[0]:
            raise ValueError(f"its bytes do not match the sha256 recorded in {side.name}")
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError("not a checkpoint of this trainer")
    marked = state.pop(_MARK, None) is not None
    if recorded is None:
        if marked:
            raise ValueError(f"its checksum file {side.name} is missing (it was written with one)")
        log.warning(
            "checkpoint %s has no %s checksum (written before checkpoints were checksummed); "
            "resuming from it unverified",
            path,
            _SUM,
        )
    return state


def _older_with_sidecar(path: Path) -> Path | None:
    """A checkpoint older than ``path`` in its folder that has a sidecar, or None (a sidecar
    without its checkpoint is a killed writer's, as :meth:`Checkpointer.load_latest` says)."""
    m = _NAME.match(path.name)
    if m is None:
        return None
    for side in sorted(path.parent.glob(f"epoch-*.pt{_SUM}")):
        other = _NAME.match(side.name[: -len(_SUM)])
        if other is not None and int(other[1]) < int(m[1]) and side.with_suffix("").exists():
            return side.with_suffix("")
    return None


def _remove(path: Path) -> None:
    """Delete checkpoint ``path``, then its sidecar (never a payload without a sidecar)."""
    path.unlink(missing_ok=True)
    sidecar(path).unlink(missing_ok=True)


def _set_aside(path: Path) -> Path:
    """Rename a corrupt checkpoint and its sidecar to ``*.corrupt`` (kept for inspection)."""
    bad = path.with_name(path.name + ".corrupt")
    os.replace(path, bad)
    side = sidecar(path)
    if side.exists():
        os.replace(side, sidecar(bad))
    return bad


def _fsync_dir(folder: Path) -> None:
    atomic._fsync_dir(folder)


def _reason(exc: BaseException) -> str:
    """The first line of ``exc``, without torch's advice to load with ``weights_only=False``
    (which would run any code in the file: never the fix for a corrupt checkpoint)."""
    text = str(exc)
    lowered = text.lower()
    if any(s in lowered for s in ("weights_only", "weights only", "weightsunpickler")):
        return "it holds objects the safe loader does not rebuild"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:160] if lines else ""


class Checkpointer:
    """Atomic save / fallback load of a run's checkpoints in ``folder``.

    Parameters
    ----------
    folder
        Created on first save.
    keep
        How many newest checkpoints to keep (at least 2, so there is a fallback).
    """

    def __init__(self, folder: str | os.PathLike[str], *, keep: int = 2) -> None:
        require("torch", "train")
        self.folder = Path(folder)
        self.keep = max(2, int(keep))

    def files(self) -> list[tuple[int, Path]]:
        """``(epoch, path)`` of the complete checkpoints, newest first."""
        if not self.folder.is_dir():
            return []
        out = []
        for p in self.folder.iterdir():
            m = _NAME.match(p.name)
            if m:
                out.append((int(m.group(1)), p))
        return sorted(out, reverse=True)

    def save(self, epoch: int, state: dict[str, Any]) -> Path:
        """Write ``state`` as the checkpoint of ``epoch`` (completed epochs) atomically."""
        final = write_checkpoint(self.folder / f"epoch-{epoch:04d}.pt", state)
        for _, old in self.files()[self.keep :]:
            _remove(old)
        return final

    def load_latest(self) -> tuple[int, dict[str, Any]] | None:
        """The newest readable checkpoint as ``(epoch, state)``, or ``None`` if there is none.

        Leftover temporary files of killed writers, and sidecars whose checkpoint was never
        renamed into place (or was removed), are removed.
        """
        if self.folder.is_dir():
            # atomic.write_file's temporaries (sidecars' too), and older versions' (.tmp-PID)
            for pattern in (".epoch-*.pt.*.tmp", ".epoch-*.pt.tmp-*"):
                for p in self.folder.glob(pattern):
                    p.unlink(missing_ok=True)
            for side in self.folder.glob(f"epoch-*.pt{_SUM}"):
                if _NAME.match(side.name[: -len(_SUM)]) and not side.with_suffix("").exists():
                    side.unlink(missing_ok=True)
        files = self.files()
        for pos, (epoch, path) in enumerate(files):
            try:
                state = read_epoch_checkpoint(path, epoch)
            except (OSError, MemoryError) as exc:  # the disk's or the machine's, not the file's
                raise _unread(path, exc) from None
            except Exception as exc:  # any unreadable file: torch, zip and pickle errors differ
                nxt = files[pos + 1][1].name if pos + 1 < len(files) else "a fresh start"
                bad = _set_aside(path)
                log.warning(
                    "checkpoint %s is corrupt (%s: %s); kept as %s, falling back to %s",
                    path,
                    type(exc).__name__,
                    _reason(exc),
                    bad.name,
                    nxt,
                )
                continue
            return epoch, state
        return None

    def load_epoch(self, epoch: int) -> dict[str, Any] | None:
        """The state of checkpoint ``epoch``, or ``None`` when it is missing or unreadable
        (an unreadable file is renamed ``*.corrupt`` with a warning, as in :meth:`load_latest`)."""
        path = self.folder / f"epoch-{epoch:04d}.pt"
        if not path.is_file():
            return None
        try:
            state = read_epoch_checkpoint(path, epoch)
        except (OSError, MemoryError) as exc:  # the disk's or the machine's, not the file's
            raise _unread(path, exc) from None
        except Exception as exc:  # any unreadable file: torch, zip and pickle errors differ
            bad = _set_aside(path)
            log.warning(
                "checkpoint %s is corrupt (%s: %s); kept as %s",
                path,
                type(exc).__name__,
                _reason(exc),
                bad.name,
            )
            return None
        return dict(state)

    def discard_after(self, epoch: int) -> None:
        """Remove checkpoints newer than ``epoch`` (a run restarted from an older state would
        otherwise resume from them, mixing two trajectories)."""
        for e, path in self.files():
            if e > epoch:
                log.info("%s: restarting from epoch %d, removing %s", self.folder, epoch, path.name)
                _remove(path)

    def prune_to_last(self) -> None:
        """After a finished run keep only the final checkpoint (the trained weights)."""
        for _, old in self.files()[1:]:
            _remove(old)


def load_schedule_state(
    opt: Any, sched: Any, opt_state: dict[str, Any], sched_state: dict[str, Any]
) -> None:
    """Restore an optimiser and its LR scheduler, their learning rates as Python floats.

    The optimiser step runs eagerly, and torch's SGD reads a tensor learning rate back to the
    host in every step (``alpha=-lr``: a device synchronisation on CUDA, torch 2.13's
    ``_multi_tensor_sgd``); a float reaches the kernels as an argument. Checkpoints of fast-mode
    runs written before the learning rate became a float hold it as a 0-d tensor, in the
    optimiser's groups and the scheduler's ``base_lrs``/``_last_lr``; each comes back as the
    float of that tensor. The stored rate is the one those runs stepped with; later rates are
    then computed in double from ``base_lrs`` rather than in float32, an ulp apart at most
    (fast mode is not bitwise reproducible on a GPU in any case).
    """
    import torch

    def as_float(value: Any) -> Any:
        return float(value) if isinstance(value, torch.Tensor) and value.ndim == 0 else value

    opt.load_state_dict(opt_state)
    for group in opt.param_groups:
        for name in ("lr", "initial_lr"):
            if name in group:
                group[name] = as_float(group[name])
    sched.load_state_dict(sched_state)
    for name in ("base_lrs", "_last_lr"):
        if isinstance(getattr(sched, name, None), list):
            setattr(sched, name, [as_float(v) for v in getattr(sched, name)])
