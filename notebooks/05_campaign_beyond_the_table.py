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
# # A campaign beyond the table
#
# The table covers NB201's five ops on a 4-node cell. To study flatness in a space it lacks,
# train the cells you need and analyse them like the table. Here: NB201's ops plus
# `sep_conv_3x3` (46,656 cells), the radius-1 neighbourhood of one cell (the cell and its
# 6 x 5 = 30 neighbours) trained, the results database imported as a table, and flatness and a
# barrier computed on it, with the missing cells handled by an explicit NaN policy.
#
# Everything runs on a CPU in seconds: a tiny synthetic CIFAR-10 in the real on-disk layout, a
# tiny network (C=2, N=1), one epoch. The numbers are meaningless; the plumbing is the real
# one. The same set of cells trained from the shell, at NB201's size and recipe:
#
# ```
# nb201-flat train --ops none skip_connect nor_conv_1x1 nor_conv_3x3 avg_pool_3x3 sep_conv_3x3 \
#     --neighbours-of '|nor_conv_3x3~0|+|skip_connect~0|sep_conv_3x3~1|+|nor_conv_3x3~0|skip_connect~1|sep_conv_3x3~2|' \
#     --radius 1 --dataset cifar10 --epochs 200 --data-root DATA --db campaign.sqlite --mode faithful
# ```
#
# This does not replay the cells below. They train with `Recipe(batch_size=20)`, so the
# 40-image data gives a few steps per epoch, and `train` has no training-batch-size option
# (it always uses NB201's 256). The batch size is part of the results key, so even
# `--epochs 1 --C 2 --N 1 --eval-batch-size 16` files its runs under another key, with other
# numbers.

# %%
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from nb201_flat.importers.results_db import read_results_db
from nb201_flat.landscape.a2m import a2m_barrier
from nb201_flat.landscape.neighbourhood import flatness
from nb201_flat.space import NB201_OPS, Space
from nb201_flat.train.campaign import plan_campaign
from nb201_flat.train.data import write_batch
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.recipe import Recipe
from nb201_flat.train.trainer import train

torch.set_num_threads(1)
work = Path(tempfile.mkdtemp(prefix="nb201-campaign-"))
rng = np.random.default_rng(0)
folder = work / "data" / "cifar-10-batches-py"
folder.mkdir(parents=True)
for i in range(1, 6):
    images = rng.integers(0, 256, size=(8, 3 * 32 * 32), dtype=np.uint8)
    write_batch(folder / f"data_batch_{i}", images, rng.integers(0, 10, 8), "labels")
write_batch(
    folder / "test_batch",
    rng.integers(0, 256, size=(16, 3 * 32 * 32), dtype=np.uint8),
    rng.integers(0, 10, 16),
    "labels",
)

# %% [markdown]
# ## The set to train
# `plan_campaign` unites explicit cells, Hamming balls and seeded samples; disconnected cells
# are not trained (their output is constant: chance accuracy, flagged), and
# `unique_isomorphism=True` would train one member per isomorphism class.

# %%
space = Space([*NB201_OPS, "sep_conv_3x3"], 4)
centre = space.from_ops(["nor_conv_3x3", "skip_connect", "sep_conv_3x3"] * 2)
plan = plan_campaign(space, neighbours_of=centre, radius=1)
print(f"{space.size} cells in the space; training {len(plan.cells)} around {centre.index}")
print("not trained (constant output):", plan.chance_rows(10))

# %% [markdown]
# ## Train, in faithful mode (NB201's numerics)
# `mode="fast"` would use bf16, channels-last and torch.compile on a GPU; the mode is part of
# the results key, so both can live in one database.

# %%
jobs = make_jobs(
    plan.cells,
    space=space,
    dataset="cifar10",
    epochs=1,
    seeds=[777],
    data_root=work / "data",
    db_path=work / "campaign.sqlite",
    recipe=Recipe(epochs=1, batch_size=20, eval_batch_size=16),
    c=2,
    n=1,
    device="cpu",
    threads=1,
    mode="faithful",
)
results = [train(job) for job in jobs]
print({r.status for r in results}, len(results), "runs")

# %% [markdown]
# ## Import as a table; flatness and a barrier
# Cells outside the ball are NaN. `nan_policy="omit"` uses the measured neighbours (and
# reports how many in `n`); `"propagate"` makes any row with a missing member NaN.

# %%
table = read_results_db(work / "campaign.sqlite")
acc = table.vector("cifar10", "ori-test", 1)
print("mode:", table.meta["mode"], "| measured cells:", int(np.isfinite(acc).sum()))
fl = flatness(space, acc, radius=1, nan_policy="omit")
print(fl.loc[[centre.index], ["value", "n", "mean", "sharpness"]])
a = space.from_ops(["nor_conv_1x1", "skip_connect", "sep_conv_3x3", *centre.ops[3:]])
b = space.from_ops(["nor_conv_3x3", "none", "sep_conv_3x3", *centre.ops[3:]])
print("barrier a-b (omit):", a2m_barrier(space, acc, a, b, nan_policy="omit").barrier)
print("barrier a-b (propagate):", a2m_barrier(space, acc, a, b, nan_policy="propagate").barrier)

# %% [markdown]
# The working folder holds only this campaign's files: remove it, so no `/tmp/nb201-campaign-*`
# folder is left behind (the recipes below need none of it).

# %%
shutil.rmtree(work, ignore_errors=True)

# %% [markdown]
# ## The same campaign on a cluster
# Jobs are plain picklable values, so the executors ship them unchanged:
#
# - **dask**: start a scheduler and workers (one per GPU: `dask worker tcp://HOST:8786
#   --nworkers 1 --nthreads 1` on each GPU machine, `CUDA_VISIBLE_DEVICES` set), then
#   `nb201-flat train ... --executor dask://HOST:8786`, or in Python
#   `DaskExecutor("tcp://HOST:8786").map(jobs)` (`nb201_flat.train.executors`).
# - **Slurm through submitit**: `nb201-flat train ... --executor slurm` submits one job per run
#   (logs in `submitit/` beside the database); in Python
#   `SlurmExecutor(folder="logs", slurm={"timeout_min": 1440, "gpus_per_node": 1,
#   "cpus_per_task": 4, "slurm_partition": "gpu"}).map(jobs)`.
#
# All workers write into one SQLite file (WAL mode, safe on one machine or a file system with
# working POSIX locks); interrupted runs resume from their checkpoints and finished ones are
# skipped, so a campaign is simply re-submitted until every run is done.
