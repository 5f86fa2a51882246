"""A probe for host synchronisations a CPU run cannot observe: the aten operators that would
read a device value back to the host on CUDA (``.item()``, data-dependent sizes)."""

from __future__ import annotations

from torch.utils._python_dispatch import TorchDispatchMode

# operators whose result's value (or size) the host must wait for on CUDA
HOST_READS = ("_local_scalar_dense", "nonzero", "masked_select", "_unique", "unique_")


class HostReads(TorchDispatchMode):
    """Records the aten operators run under it that read a device value back to the host."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = str(func)
        if any(r in name for r in HOST_READS):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))
