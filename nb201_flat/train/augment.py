"""Random crop and flip parameters drawn on the training device (no host synchronisation); the
learning rate as a device tensor.

NB201 augments with ``RandomCrop(size, padding)`` and ``RandomHorizontalFlip``. The trainer
applies both as tensor ops on the device; this module draws their parameters there too, from a
``torch.Generator`` that lives on the same device as the images. Nothing is copied from the host
inside a step, and the generator's state (``get_state``) is checkpointed with the model, so a
resumed run draws exactly the numbers the uninterrupted run would have drawn.

Examples
--------
>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> oy, ox, flips = draw_crops(4, 2, True, g)
>>> oy.shape, bool(((oy >= 0) & (oy <= 4)).all()), flips.dtype
(torch.Size([4]), True, torch.bool)
"""

from __future__ import annotations

from typing import Any

from nb201_flat.errors import require

require("torch", "train")

import torch  # noqa: E402


def draw_crops(
    batch: int, pad: int, flip: bool, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crop offsets ``(oy, ox)`` in ``0..2*pad`` and flip flags for ``batch`` images.

    All three live on ``gen.device``; the stream consumed per batch is fixed (two ``randint``
    and, with ``flip``, one ``rand`` of length ``batch``), so resumes are exact.
    """
    dev = gen.device
    oy = torch.randint(0, 2 * pad + 1, (batch,), generator=gen, device=dev)
    ox = torch.randint(0, 2 * pad + 1, (batch,), generator=gen, device=dev)
    if flip:
        flips = torch.rand(batch, generator=gen, device=dev) < 0.5
    else:
        flips = torch.zeros(batch, dtype=torch.bool, device=dev)
    return oy, ox, flips


def lr_tensor(value: float, device: torch.device) -> torch.Tensor:
    """A learning rate as a 0-d float32 tensor on ``device``.

    A tensor LR lets a captured CUDA graph (fast mode) read a new value each epoch by an
    in-place ``fill_`` instead of a host-side Python float baked into the graph.

    >>> float(lr_tensor(0.05, torch.device("cpu")))
    0.05000000074505806
    """
    return torch.tensor(value, dtype=torch.float32, device=device)


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``opt.load_state_dict(state)`` that keeps the optimiser's live tensor hyper-parameters.

    Checkpoints are read onto the CPU, and ``load_state_dict`` installs the saved param-group
    values as they are: a fast-mode LR tensor would come back on the CPU (a host copy in every
    step) and be another object than the one a compiled step captured. The loaded values are
    copied into the live device tensors instead.
    """
    live = [{k: v for k, v in g.items() if isinstance(v, torch.Tensor)} for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, tensors in zip(opt.param_groups, live, strict=True):
        for name, tensor in tensors.items():
            tensor.copy_(torch.as_tensor(group[name]))
            group[name] = tensor
