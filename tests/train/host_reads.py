"""A probe for host synchronisations a CPU run cannot observe: the aten operators that would
read a device value back to the host on CUDA (``.item()``, data-dependent sizes, boolean-mask
indexing). Device-to-host copies (``.cpu()``, ``.tolist()``) look like any copy on a CPU and
are not seen: only a CUDA run (``torch.cuda.set_sync_debug_mode``) sees everything."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# operators whose result's value (or size) the host must wait for on CUDA
HOST_READS = (
    "_local_scalar_dense",
    "nonzero",
    "masked_select",
    "_unique",
    "unique_",
    "aten.equal",
    "repeat_interleave",
)


class HostReads(TorchDispatchMode):
    """Records the aten operators run under it that read a device value back to the host."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = str(func)
        if any(r in name for r in HOST_READS) or (
            # x[mask] with a boolean mask: its size depends on the mask's values
            name.startswith(("aten.index.", "aten.index_put"))
            and any(getattr(i, "dtype", None) == torch.bool for i in _flat(args))
        ):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def _flat(args: Any) -> list[Any]:
    out: list[Any] = []
    for a in args:
        out.extend(_flat(a) if isinstance(a, (list, tuple)) else [a])
    return out
