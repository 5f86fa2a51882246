# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Retraining an architecture
#
# When the table lacks what a study needs (another dataset, schedule or cell size), the
# retraining backend `nb201_flat.train` trains NB201 networks with the NB201 recipe and stores
# the results in a SQLite database that imports as a table. This notebook runs the whole path
# on a CPU in seconds: a tiny synthetic dataset written in the real CIFAR-10 on-disk layout,
# a tiny network (C=4 channels, N=1 cell per stage), one epoch of a few batches. The numbers
# are meaningless (random images); the plumbing is the real one. For real data, point
# `data_root` at a folder holding `cifar-10-batches-py/` (or `nb201-flat train --help`).

# %%
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from nb201_flat.figures import notebook_table
from nb201_flat.importers.results_db import read_results_db
from nb201_flat.train import costs
from nb201_flat.train.data import load_dataset, write_batch
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.model import Network
from nb201_flat.train.recipe import recipe_for
from nb201_flat.train.trainer import train

torch.set_num_threads(1)  # a tiny network: more threads only add overhead
work = Path(tempfile.mkdtemp(prefix="nb201-retrain-"))
print("working in", work)

# %% [markdown]
# ## A tiny CIFAR-10 in its real layout
# `cifar-10-batches-py/data_batch_1..5` and `test_batch`: pickled dicts with `data`
# (N × 3072 uint8) and `labels`, exactly as the official archive ships them.

# %%
rng = np.random.default_rng(0)
folder = work / "data" / "cifar-10-batches-py"
folder.mkdir(parents=True)
for i in range(1, 6):
    images = rng.integers(0, 256, size=(16, 3 * 32 * 32), dtype=np.uint8)
    write_batch(folder / f"data_batch_{i}", images, rng.integers(0, 10, 16), "labels")
test_images = rng.integers(0, 256, size=(32, 3 * 32 * 32), dtype=np.uint8)
write_batch(folder / "test_batch", test_images, rng.integers(0, 10, 32), "labels")
splits = load_dataset("cifar10", work / "data")
print("train", splits.train_x.shape, "evaluated splits", list(splits.splits))

# %% [markdown]
# ## Which architecture
# The best cell of the table by CIFAR-10 test accuracy; its analytic parameter count at the
# NB201 size (C=16, N=5), which is NB201's stored `params_mb` for every cell but 150 (those
# store the count of another member of their isomorphism class).

# %%
table, which = notebook_table()
print("Table:", which)
values = table.vector("cifar10", "ori-test", 200)
arch = table.space.arch(int(np.nanargmax(values)))
print(f"arch {arch.index}: {arch.to_str()}  ({values[arch.index]:.2f} % in the table)")
print(f"NB201-size network: {costs.params_mb(arch.ops, n_nodes=4):.4f} M parameters")
tiny = Network.from_arch(arch, c=4, n=1, num_classes=10)
print(f"tiny network (C=4, N=1): {tiny.params_mb():.4f} M parameters")

# %% [markdown]
# ## One epoch, a few batches
# The NB201 recipe (SGD, Nesterov, cosine learning rate, crop + flip) with a batch of 32: 80
# training images make three optimiser steps. Checkpoints and results go beside the database;
# running the cell again finds the run in the database and skips it.

# %%
recipe = replace(recipe_for(1), batch_size=32, eval_batch_size=32)
(job,) = make_jobs(
    [arch],
    dataset="cifar10",
    epochs=1,
    seeds=[777],
    data_root=work / "data",
    db_path=work / "results.sqlite",
    recipe=recipe,
    c=4,
    n=1,
    device="cpu",
    threads=1,
)
result = train(job)
print(result.status, {s: {k: round(v, 3) for k, v in m.items()} for s, m in result.metrics.items()})
print(f"training time {result.train_time_s:.2f} s")

# %% [markdown]
# ## The results as a table
# `read_results_db` turns the database into a `Table` (one space and network size per table),
# so every landscape and figure function works on retrained numbers too.

# %%
retrained = read_results_db(work / "results.sqlite")
print(retrained)
retrained.info()

# %%
retrained.value(arch, "cifar10", "ori-test", 1)

# %% [markdown]
# ## Clean up
# The working folder holds only this run's files: remove it, so no `/tmp/nb201-retrain-*`
# folder is left behind.

# %%
shutil.rmtree(work, ignore_errors=True)
