"""Per-epoch checkpoints that survive ``kill -9`` at any moment.

Each save writes ``epoch-NNNN.pt`` through a temporary file in the same folder, fsyncs it and
renames it into place (``os.replace`` is atomic), so a file with the final name is always
complete. The newest ``keep`` checkpoints are kept. Loading tries the newest first; an
unreadable one is renamed ``*.corrupt`` (kept for inspection, never reused), a warning names the
fallback, and the previous one is tried.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from nb201_flat import atomic
from nb201_flat.errors import require

log = logging.getLogger(__name__)

_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")


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
        import torch

        final = atomic.write_file(
            self.folder / f"epoch-{epoch:04d}.pt", lambda f: torch.save(state, f)
        )
        for _, old in self.files()[self.keep :]:
            old.unlink(missing_ok=True)
        return final

    def load_latest(self) -> tuple[int, dict[str, Any]] | None:
        """The newest readable checkpoint as ``(epoch, state)``, or ``None`` if there is none.

        Leftover temporary files of killed writers are removed.
        """
        import torch

        if self.folder.is_dir():
            # atomic.write_file's temporaries, and those of older versions (.tmp-PID)
            for pattern in (".epoch-*.pt.*.tmp", ".epoch-*.pt.tmp-*"):
                for p in self.folder.glob(pattern):
                    p.unlink(missing_ok=True)
        files = self.files()
        for pos, (epoch, path) in enumerate(files):
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                if not isinstance(state, dict) or state.get("epoch") != epoch:
                    raise ValueError("not a checkpoint of this trainer")
            except Exception as exc:  # any unreadable file: torch, zip and pickle errors differ
                nxt = files[pos + 1][1].name if pos + 1 < len(files) else "a fresh start"
                bad = path.with_name(path.name + ".corrupt")
                os.replace(path, bad)
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
        import torch

        path = self.folder / f"epoch-{epoch:04d}.pt"
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or state.get("epoch") != epoch:
                raise ValueError("not a checkpoint of this trainer")
        except Exception as exc:  # any unreadable file: torch, zip and pickle errors differ
            bad = path.with_name(path.name + ".corrupt")
            os.replace(path, bad)
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
                path.unlink(missing_ok=True)

    def prune_to_last(self) -> None:
        """After a finished run keep only the final checkpoint (the trained weights)."""
        for _, old in self.files()[1:]:
            old.unlink(missing_ok=True)


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
