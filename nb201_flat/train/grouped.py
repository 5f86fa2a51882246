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

A grouped session runs in either training mode (:mod:`.modes`), as a single session does:
``fast`` mode means bf16 autocast of forward and loss, dead edges pruned (:mod:`.pruning`),
and on CUDA channels-last layout, ``torch.compile`` (CUDA graphs through
``mode="reduce-overhead"``) and the cuDNN flags. Channels-last under ``vmap``:
the batching rule of a convolution folds the K members into the channel axis (one grouped
convolution), so the stacked input is laid out ``(B, H, W, K, C)`` in memory and every 4-D
weight stack ``(K, O, kh, kw, I)``; the folded tensors the kernels see are then channels-last
views (the stem's input and every weight; checked on a CPU in the tests). Layers whose batching
rule makes its own copy run in the default layout, which changes no number.

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
import time
from collections.abc import Callable, Sequence
from typing import Any

from nb201_flat.errors import ArgumentError, require

require("torch", "train")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.func import functional_call, stack_module_state, vmap  # noqa: E402

from nb201_flat.train.checkpoint import load_schedule_state  # noqa: E402
from nb201_flat.train.model import seeded_network  # noqa: E402
from nb201_flat.train.modes import TrainMode, compile_network, compile_options  # noqa: E402
from nb201_flat.train.pruning import prune_network  # noqa: E402
from nb201_flat.train.recipe import Recipe  # noqa: E402
from nb201_flat.train.writer import cpu_snapshot  # noqa: E402


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
    channels_last
        Lay out the stacked 4-D weights so that the grouped convolution ``vmap`` runs reads
        them as channels-last (see the module docstring); inputs go through :meth:`prep`.
    prune
        Skip edges into nodes that never reach the output (:func:`.pruning.prune_network`).
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
        channels_last: bool = False,
        prune: bool = False,
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
        if prune:  # the members share the cell, so pruning the structure prunes them all
            prune_network(self.base)
        self.channels_last = channels_last
        params, buffers = stack_module_state(nets)
        # "." is not allowed in parameter names: keep the flat names in a side list
        self.names = list(params)
        self.buffer_names = list(buffers)
        self.stacked = torch.nn.ParameterList(
            [torch.nn.Parameter(self._layout(params[k].detach().to(device))) for k in self.names]
        )
        for i, k in enumerate(self.buffer_names):
            self.register_buffer(f"buf{i}", buffers[k].to(device))

    def _layout(self, p: torch.Tensor) -> torch.Tensor:
        # (K, O, I, kh, kw) stored as (K, O, kh, kw, I): vmap's fold to (K*O, I, kh, kw) is
        # then a channels-last view
        if not self.channels_last or p.dim() != 5:
            return p
        return p.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)

    def prep(self, x: torch.Tensor) -> torch.Tensor:
        """Stacked inputs ``(K, B, C, H, W)`` in the layout the network runs in.

        With ``channels_last`` the memory order is ``(B, H, W, K, C)``, so the folded
        ``(B, K*C, H, W)`` input of the first grouped convolution is a channels-last view.
        """
        if not self.channels_last:
            return x
        return x.permute(1, 3, 4, 0, 2).contiguous().permute(3, 0, 4, 1, 2)

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
    seed, on the data's device), learning-rate schedule, SGD settings and mode.

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
    mode
        The training mode (:mod:`.modes`); ``None``: fp32, LR per epoch, eager, as
        ``faithful`` computes.
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
        mode: TrainMode | None = None,
    ) -> None:
        self.data, self.recipe, self.device = data, recipe, data.device
        self.mode = mode
        device_type = self.device.type
        self.amp = mode is not None and mode.amp
        fast = mode is not None and mode.name == "fast"
        self.pad = data.info.pad if recipe.crop_pad is None else recipe.crop_pad
        self.model = GroupedNetworks(
            ops,
            n_nodes,
            c=c,
            n=n,
            num_classes=data.info.num_classes,
            seeds=seeds,
            device=self.device,
            channels_last=mode is not None and mode.uses_channels_last(device_type),
            prune=fast,  # as a single fast session prunes
        )
        self.n_train = len(data.train_y)
        self.steps = recipe.steps_per_epoch(self.n_train)
        self.opt = torch.optim.SGD(
            # the stacked weights only (not the weightless structure on "meta"), in the
            # network's parameter order: a member's optimiser state is a single run's
            self.model.stacked.parameters(),
            lr=recipe.lr,  # a float: see checkpoint.load_schedule_state
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
        steps = self.steps
        lr_update = "epoch" if mode is None else mode.lr_update
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: recipe.step_factor(int(s), steps, lr_update)
        )
        self.gens = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        opts = compile_options(mode, device_type) if mode is not None else None
        self.fwd: Callable[[torch.Tensor], torch.Tensor] = (
            compile_network(self.model, opts) if opts is not None else self.model
        )

    def autocast(self) -> torch.autocast:
        """bf16 autocast in a bf16 mode (a no-op context otherwise)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def train_epoch(self, max_steps: int | None = None) -> tuple[list[float], int]:
        """One epoch for every member: ``([mean loss per member], images per member)``."""
        losses, _, seen = self.train_epoch_stats(max_steps)
        return losses, seen

    def train_epoch_stats(
        self, max_steps: int | None = None
    ) -> tuple[list[float], list[float], int]:
        """One epoch: ``([mean loss], [accuracy %], images)``, lists with one value per member."""
        data, recipe = self.data, self.recipe
        self.model.train()
        perms = [torch.randperm(self.n_train, generator=g, device=self.device) for g in self.gens]
        loss_sum = torch.zeros(self.model.k, dtype=torch.float64, device=self.device)
        correct = torch.zeros(self.model.k, dtype=torch.int64, device=self.device)
        seen = 0
        steps = self.steps if max_steps is None else min(self.steps, max_steps)
        bs = recipe.batch_size
        for b in range(steps):
            xs, ys = [], []
            for perm, gen in zip(perms, self.gens, strict=True):
                idx = perm[b * bs : (b + 1) * bs]
                xs.append(data.augment(data.train_x[idx], self.pad, recipe.flip, gen))
                ys.append(data.train_y[idx])
            x, y = self.model.prep(torch.stack(xs)), torch.stack(ys)
            with self.autocast():
                logits = self.fwd(x)
                # mean per member, summed: member k's gradient is that of its own loss alone
                ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
                per_member = ce.view_as(y).mean(1)
            self.opt.zero_grad(set_to_none=True)
            per_member.sum().backward()  # type: ignore[no-untyped-call]
            self.opt.step()
            self.sched.step()
            loss_sum += per_member.detach().double() * y.shape[1]
            correct += (logits.detach().argmax(2) == y).sum(1)
            seen += y.shape[1]
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        accs = (100.0 * correct.double() / seen).tolist()
        return (loss_sum / seen).tolist(), accs, seen

    def evaluate(self) -> list[dict[str, tuple[float, float, float]]]:
        """Per member ``{split: (loss, accuracy %, seconds)}``, as a single session's evaluate.

        Every member sees the same evaluation batch (a broadcast view, no copy), in batches of
        ``recipe.eval_batch_size``; BatchNorm uses each member's running statistics. The batch
        size changes no number beyond float rounding: the batched kernels round by the batch's
        shape (seen on a CPU: a loss 4e-9 apart, relative, between batches of 1 and 1024).
        """
        data, k = self.data, self.model.k
        out: list[dict[str, tuple[float, float, float]]] = [{} for _ in range(k)]
        if not data.splits:
            return out
        self.model.eval()
        t0 = time.perf_counter()
        bs = self.recipe.eval_batch_size
        with torch.no_grad():
            for src, (x_all, y_all) in data.sources.items():
                names = [s for s, (source, _) in data.splits.items() if source == src]
                if not names:
                    continue
                needed = torch.unique(torch.cat([data.splits[s][1] for s in names]))
                losses = torch.zeros(k, len(y_all), dtype=torch.float64, device=self.device)
                hits = torch.zeros(k, len(y_all), dtype=torch.bool, device=self.device)
                for b in range(0, len(needed), bs):
                    idx = needed[b : b + bs]
                    x = data.normalise(x_all[idx])
                    with self.autocast():
                        logits = self.fwd(self.model.prep(x.unsqueeze(0).expand(k, *x.shape)))
                    logits = logits.float()
                    y = y_all[idx].unsqueeze(0).expand(k, -1)
                    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
                    losses[:, idx] = ce.view(k, -1).double()
                    hits[:, idx] = logits.argmax(2) == y
                for s in names:
                    idx = data.splits[s][1]
                    lo = losses[:, idx].mean(1).tolist()
                    acc = (100.0 * hits[:, idx].double().mean(1)).tolist()
                    for m in range(k):
                        out[m][s] = (lo[m], acc[m], 0.0)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - t0
        return [{s: (lo, acc, elapsed) for s, (lo, acc, _) in rows.items()} for rows in out]

    # -- checkpoints: one file per member, in a single Session's format ------------------------
    def member_states(self) -> list[dict[str, Any]]:
        """Each member's training state as :meth:`Session.state <.trainer.Session.state>` holds
        it (model, SGD, schedule, generator), copied to the CPU: a member's checkpoint resumes
        in a single session or in a group alike."""
        opt = self.opt.state_dict()
        sched = self.sched.state_dict()
        out = []
        for m in range(self.model.k):
            opt_m = {
                "state": {
                    i: {key: v[m] if torch.is_tensor(v) else v for key, v in st.items()}
                    for i, st in opt["state"].items()
                },
                "param_groups": opt["param_groups"],
            }
            state = {
                "model": self.model.member_state(m),
                "optimizer": opt_m,
                "scheduler": sched,
                "generator": self.gens[m].get_state(),
            }
            out.append(cpu_snapshot(state))
        return out

    def load_member_states(self, states: Sequence[dict[str, Any]]) -> None:
        """Inverse of :meth:`member_states` (states of single sessions load as well)."""
        if len(states) != self.model.k:
            raise ArgumentError(f"{len(states)} member states for a group of {self.model.k}")
        scheds = {int(st["scheduler"]["last_epoch"]) for st in states}
        if len(scheds) != 1:
            raise ArgumentError(f"group members are at different steps {sorted(scheds)}")
        with torch.no_grad():
            for m, st in enumerate(states):
                model_state = st["model"]
                for name, p in zip(self.model.names, self.model.stacked, strict=True):
                    p[m].copy_(model_state[name])
                for name, buf in self.model._buffers_dict().items():
                    buf[m].copy_(model_state[name])
                self.gens[m].set_state(st["generator"])
        first = states[0]["optimizer"]
        params = list(self.model.stacked.parameters())

        def stacked(i: int, key: str) -> torch.Tensor:
            value = torch.stack([st["optimizer"]["state"][i][key] for st in states])
            p = params[int(i)]
            if value.shape != p.shape:
                return value.to(self.device)
            return torch.empty_like(p).copy_(value)  # the parameter's layout (channels-last)

        stacked_state = {
            i: {key: stacked(i, key) if torch.is_tensor(v) else v for key, v in per.items()}
            for i, per in first["state"].items()
        }
        load_schedule_state(
            self.opt,
            self.sched,
            {"state": stacked_state, "param_groups": first["param_groups"]},
            states[0]["scheduler"],
        )
