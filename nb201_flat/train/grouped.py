"""K networks of one cell trained as one: ``torch.func`` stacking, one launch per layer for all K.

NB201 trains every cell several times (seeds, and the same recipe on each dataset), and its
networks are small: one of them leaves a modern GPU mostly idle, waiting on kernel launches.
:class:`GroupedSession` stacks the parameters and buffers of K copies of the network
(``torch.func.stack_module_state``) and runs them with ``vmap(functional_call(...))``, so each
layer is one batched kernel for all K networks. Each member keeps its own weights, BatchNorm
statistics, data order and augmentation (its own generator, seeded like a single
:class:`~nb201_flat.train.trainer.Session` with that seed), and the summed loss gives every
member exactly its own gradient, so SGD (element-wise) updates each member as if it trained
alone: K grouped networks equal K separate ones, up to float rounding of the batched kernels.

Examples
--------
>>> import torch
>>> from nb201_flat.train.grouped import GroupedNetworks
>>> g = GroupedNetworks(("skip_connect",) * 6, 4, c=2, n=1, num_classes=10, seeds=[1, 2])
>>> g(torch.zeros(2, 3, 3, 8, 8)).shape  # (K, batch, classes)
torch.Size([2, 3, 10])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from nb201_flat.errors import ArgumentError, require

require("torch", "train")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.func import functional_call, stack_module_state, vmap  # noqa: E402

from nb201_flat.train.model import Network  # noqa: E402
from nb201_flat.train.recipe import Recipe  # noqa: E402


def seeded_network(
    ops: Sequence[str], n_nodes: int, *, c: int, n: int, num_classes: int, seed: int
) -> Network:
    """The network a :class:`~nb201_flat.train.trainer.Session` with ``seed`` starts from."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Network(tuple(ops), n_nodes, c=c, n=n, num_classes=num_classes)


class GroupedNetworks(torch.nn.Module):
    """K same-cell networks with stacked parameters; ``forward`` maps ``(K, B, ...)`` inputs.

    Parameters
    ----------
    ops, n_nodes, c, n, num_classes
        The cell and network size (one for all members).
    seeds
        One seed per member (weight init as a single run with that seed).
    device
        Where the stacked tensors live.
    """

    def __init__(
        self,
        ops: Sequence[str],
        n_nodes: int,
        *,
        c: int,
        n: int,
        num_classes: int,
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        if len(seeds) < 1:
            raise ArgumentError("a group needs at least one seed")
        nets = [
            seeded_network(ops, n_nodes, c=c, n=n, num_classes=num_classes, seed=s) for s in seeds
        ]
        self.k = len(nets)
        # a weightless copy gives functional_call the structure and the train/eval flag
        self.base = copy.deepcopy(nets[0]).to("meta")
        params, buffers = stack_module_state(nets)
        # "." is not allowed in parameter names: keep the flat names in a side list
        self.names = list(params)
        self.buffer_names = list(buffers)
        self.stacked = torch.nn.ParameterList(
            [torch.nn.Parameter(params[k].detach().to(device)) for k in self.names]
        )
        for i, k in enumerate(self.buffer_names):
            self.register_buffer(f"buf{i}", buffers[k].to(device))

    def _buffers_dict(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, f"buf{i}") for i, k in enumerate(self.buffer_names)}

    def train(self, mode: bool = True) -> GroupedNetworks:
        """Set training mode on the members (BatchNorm batch statistics vs running ones)."""
        super().train(mode)
        self.base.train(mode)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(K, B, classes)`` of inputs ``(K, B, 3, H, W)`` (member k sees ``x[k]``)."""
        params = dict(zip(self.names, self.stacked, strict=True))

        def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xi: torch.Tensor) -> Any:
            return functional_call(self.base, (p, b), (xi,))

        out: torch.Tensor = vmap(one, randomness="different")(params, self._buffers_dict(), x)
        return out

    def member_state(self, i: int) -> dict[str, torch.Tensor]:
        """State dict of member ``i``, loadable into a :class:`Network` of the same cell."""
        state = {k: p[i].detach().clone() for k, p in zip(self.names, self.stacked, strict=True)}
        state.update({k: v[i].clone() for k, v in self._buffers_dict().items()})
        return state


class GroupedSession:
    """Train K seeds of one cell together on one device-resident dataset.

    Mirrors :class:`~nb201_flat.train.trainer.Session` member by member: the same weight
    init, data order, crops, flips (each member draws from its own generator, seeded with its
    seed, on the data's device), per-epoch learning rate and SGD settings.

    Parameters
    ----------
    data
        A :class:`~nb201_flat.train.trainer.DeviceData`.
    ops, n_nodes, c, n
        The cell and network size.
    seeds
        One per member.
    recipe
        Hyper-parameters shared by all members.
    """

    def __init__(
        self,
        data: Any,
        ops: Sequence[str],
        n_nodes: int,
        *,
        c: int,
        n: int,
        seeds: Sequence[int],
        recipe: Recipe,
    ) -> None:
        self.data, self.recipe, self.device = data, recipe, data.device
        self.pad = data.info.pad if recipe.crop_pad is None else recipe.crop_pad
        self.model = GroupedNetworks(
            ops,
            n_nodes,
            c=c,
            n=n,
            num_classes=data.info.num_classes,
            seeds=seeds,
            device=self.device,
        )
        self.n_train = len(data.train_y)
        self.steps = recipe.steps_per_epoch(self.n_train)
        self.opt = torch.optim.SGD(
            self.model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
        steps = self.steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: recipe.step_factor(int(s), steps, "epoch")
        )
        self.gens = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]

    def train_epoch(self, max_steps: int | None = None) -> tuple[list[float], int]:
        """One epoch for every member: ``([mean loss per member], images per member)``."""
        data, recipe = self.data, self.recipe
        self.model.train()
        perms = [torch.randperm(self.n_train, generator=g, device=self.device) for g in self.gens]
        loss_sum = torch.zeros(self.model.k, dtype=torch.float64, device=self.device)
        seen = 0
        steps = self.steps if max_steps is None else min(self.steps, max_steps)
        bs = recipe.batch_size
        for b in range(steps):
            xs, ys = [], []
            for perm, gen in zip(perms, self.gens, strict=True):
                idx = perm[b * bs : (b + 1) * bs]
                xs.append(data.augment(data.train_x[idx], self.pad, recipe.flip, gen))
                ys.append(data.train_y[idx])
            x, y = torch.stack(xs), torch.stack(ys)
            logits = self.model(x)
            # mean per member, summed: member k's gradient is that of its own loss alone
            losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y)
            per_member = losses.mean(1)
            self.opt.zero_grad(set_to_none=True)
            per_member.sum().backward()  # type: ignore[no-untyped-call]
            self.opt.step()
            self.sched.step()
            loss_sum += per_member.detach().double() * y.shape[1]
            seen += y.shape[1]
        return (loss_sum / seen).tolist(), seen
