"""The NAS-Bench-201 training recipe as an immutable value (no torch).

NB201 trains every cell with SGD (momentum 0.9, Nesterov), learning rate 0.1 annealed with a
cosine to 0 over the whole schedule, weight decay 5e-4 on all
parameters, batch 256, random crop (zero padding 4 for CIFAR, 2 for the 16-pixel ImageNet16)
and horizontal flip, cross-entropy loss; the benchmark has 200-epoch and 12-epoch schedules.

The learning rate changes once per epoch, not every iteration: xautodl's ``CosineAnnealingLR``
(AutoDL-Projects commit f46486e21b71ae6459a700be720d7648b5429569,
``xautodl/procedures/optimizers.py``, ``get_lr``) computes
``eta_min + (lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2`` from the epoch counter alone;
the per-iteration ``scheduler.update(None, i / len(loader))`` of ``funcs_nasbench.py`` only moves
``current_iter``, which the cosine branch never reads (it is used by warm-up, which NB201's
configs set to 0). With ``T_max = epochs`` (``configs/nas-benchmark/hyper-opts/200E.config``,
``LESS.config``) epoch ``e`` runs at ``0.05 * (1 + cos(pi * e / E))``. :meth:`Recipe.lr_epoch`
is that; :meth:`Recipe.lr_at` is the per-step cosine some users want (the ``lrstep`` variant).

Examples
--------
>>> r = recipe_for(12)
>>> r.epochs, r.lr, r.batch_size
(12, 0.1, 256)
>>> r.lr_at(0, 100), r.lr_at(100, 100)
(0.1, 0.0)
>>> [round(r.lr_epoch(e), 6) for e in (0, 6, 12)]
[0.1, 0.05, 0.0]
"""

from __future__ import annotations

import contextlib
import math
import numbers
from dataclasses import dataclass, fields, replace

import numpy as np

from nb201_flat.errors import Param, RecipeError, check_int_range
from nb201_flat.table import INT64_MAX


@dataclass(frozen=True, slots=True)
class Recipe:
    """Hyper-parameters of one training schedule.

    Attributes
    ----------
    epochs
        Schedule length (the cosine reaches ``min_lr`` at its end).
    lr, min_lr
        Initial and final learning rate.
    momentum, nesterov, weight_decay
        SGD settings.
    batch_size, eval_batch_size
        Training batch (the last, smaller batch of an epoch is kept, as NB201's loader does)
        and evaluation batch (changes no number beyond float rounding: kernels round by the
        batch's shape).
    crop_pad
        Zero padding of the random crop; ``None`` uses the dataset's (4 CIFAR, 2 ImageNet16).
    flip
        Random horizontal flip.
    """

    epochs: int = 200
    lr: float = 0.1
    min_lr: float = 0.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 256
    eval_batch_size: int = 1024
    crop_pad: int | None = None
    flip: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):  # one canonical value per setting: 0 and 0.0 are one recipe
            object.__setattr__(self, f.name, _canonical(f.name, getattr(self, f.name), f.type))
        if self.epochs < 1:
            raise RecipeError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise RecipeError("batch sizes must be >= 1")
        if self.lr <= 0 or self.min_lr < 0 or self.weight_decay < 0:
            raise RecipeError("lr must be > 0; min_lr and weight_decay >= 0")
        if self.min_lr > self.lr:  # the cosine would climb from lr to min_lr
            raise RecipeError(
                f"min_lr {self.min_lr:g} is above lr {self.lr:g}: the cosine schedule anneals "
                "from lr down to min_lr; pass a min_lr <= lr (NB201: 0)"
            )
        # torch's SGD refuses both, with a bare ValueError once the data is loaded
        if self.momentum < 0:
            raise RecipeError(f"momentum must be >= 0, got {self.momentum}")
        if self.nesterov and self.momentum == 0:
            raise RecipeError(
                Param("nesterov", True),
                " needs momentum > 0; give a momentum or pass ",
                Param("nesterov", False),
            )
        if self.crop_pad is not None and self.crop_pad < 0:
            raise RecipeError(f"crop_pad must be >= 0, got {self.crop_pad}")

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimiser steps per epoch for ``n_train`` images (last partial batch included)."""
        return math.ceil(n_train / self.batch_size)

    def lr_factor(self, step: int, total_steps: int) -> float:
        """``lr_at(step) / lr``: the cosine factor, ``min_lr / lr`` at and after the end."""
        t = min(step, total_steps) / max(total_steps, 1)
        lo = self.min_lr / self.lr
        return lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * t))

    def lr_at(self, step: int, total_steps: int) -> float:
        """Learning rate of optimiser step ``step`` (0-based) out of ``total_steps``."""
        return self.lr * self.lr_factor(step, total_steps)

    def lr_epoch_factor(self, epoch: int) -> float:
        """``lr_epoch(epoch) / lr``: xautodl's per-epoch cosine factor, ``min_lr / lr`` at the end."""
        return self.lr_factor(epoch, self.epochs)

    def lr_epoch(self, epoch: int) -> float:
        """Learning rate of every step of epoch ``epoch`` (0-based), as NB201 trains."""
        return self.lr * self.lr_epoch_factor(epoch)

    def step_factor(self, step: int, steps_per_epoch: int, lr_update: str) -> float:
        """LR factor of optimiser step ``step``: per epoch (NB201) or annealed per step.

        >>> r = recipe_for(2)
        >>> [r.step_factor(s, 2, "epoch") for s in range(4)]
        [1.0, 1.0, 0.5, 0.5]
        """
        if lr_update == "epoch":
            return self.lr_epoch_factor(step // max(steps_per_epoch, 1))
        if lr_update == "step":
            return self.lr_factor(step, steps_per_epoch * self.epochs)
        raise RecipeError(f"lr_update must be 'epoch' or 'step', got {lr_update!r}")

    def with_epochs(self, epochs: int) -> Recipe:
        """The same recipe with another schedule length."""
        return replace(self, epochs=epochs)


def _canonical(name: str, value: object, kind: object) -> object:
    """``value`` as the plain Python type of its field (``kind``: the annotation's text)."""
    is_bool = isinstance(value, bool | np.bool_)
    if value is None and kind == "int | None":
        return None
    if kind == "bool":
        if is_bool or (isinstance(value, numbers.Integral) and value in (0, 1)):
            return bool(value)
        want = "True or False"
    elif kind in ("int", "int | None"):
        if isinstance(value, numbers.Integral) and not is_bool:
            return int(value)
        want = "an integer"
    else:
        if isinstance(value, np.floating) and value.dtype.itemsize < 8:
            # a narrower float stands for its shortest decimal: np.float32(5e-4) is 5e-4
            value = float(str(value))
        if isinstance(value, numbers.Real) and not is_bool:
            with contextlib.suppress(OverflowError):  # beyond float: not finite either
                if math.isfinite(as_float := float(value)):
                    return as_float
        want = "a finite number"
    raise RecipeError(f"recipe {name} must be {want}, got {value!r}")


RECIPE_200 = Recipe(epochs=200)
"""NB201's main schedule."""

RECIPE_12 = Recipe(epochs=12)
"""NB201's short schedule (NAS-Bench-201 v1_1 ``hp='12'``): the same cosine over 12 epochs."""


def recipe_for(epochs: int) -> Recipe:
    """The NB201 recipe with a schedule of ``epochs`` epochs (200, 12 or any other).

    >>> recipe_for(12.0).epochs
    12
    >>> recipe_for(1.5)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: epochs must lie in 1..9223372036854775807 (an int, not a float), got 1.5; NB201 uses 200 or 12
    """
    # int(1.5) trained one epoch under a schedule asked for as 1.5; a results database
    # stores the count as an SQLite integer
    n = check_int_range(Param("epochs"), epochs, 1, INT64_MAX, fix="NB201 uses 200 or 12")
    return RECIPE_200.with_epochs(n)


_UNKEYED = frozenset({"epochs", "eval_batch_size"})
"""Fields outside :func:`recipe_tag`: the schedule length has its own column in the results
key, and the evaluation batch changes none beyond float rounding (kernels round by the
batch's shape)."""


def recipe_tag(recipe: Recipe, pad: int | None = None) -> str:
    """What ``recipe`` changes from NB201's, for the results key: ``""`` for NB201's own.

    Every field that changes the numbers and differs from :data:`RECIPE_200` is listed, with
    its exact value (``repr`` of its canonical type), so two recipes share a tag exactly when
    they train alike. ``pad`` is the dataset's crop padding: a ``crop_pad`` equal to it is
    the default.

    >>> recipe_tag(recipe_for(12)), recipe_tag(Recipe(epochs=5, batch_size=16, lr=0.05))
    ('', 'recipe:lr=0.05,batch_size=16')
    >>> recipe_tag(Recipe(weight_decay=0)) == recipe_tag(Recipe(weight_decay=0.0))
    True
    >>> recipe_tag(Recipe(crop_pad=4), pad=4), recipe_tag(Recipe(crop_pad=2), pad=4)
    ('', 'recipe:crop_pad=2')
    """
    if recipe.crop_pad is not None and recipe.crop_pad == pad:
        recipe = replace(recipe, crop_pad=None)
    changed = [
        f"{f.name}={getattr(recipe, f.name)!r}"
        for f in fields(recipe)
        if f.name not in _UNKEYED and getattr(recipe, f.name) != getattr(RECIPE_200, f.name)
    ]
    return "recipe:" + ",".join(changed) if changed else ""
