"""Random crop and flip parameters drawn on the training device (no host synchronisation).

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
