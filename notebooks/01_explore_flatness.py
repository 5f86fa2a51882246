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
# # Exploring flatness in NAS-Bench-201
#
# How flat is an architecture, what is the lowest barrier between two, and how does accuracy
# fall with the distance from the optimum? Everything here is a pure function of one metric
# vector over the 15,625 cells (`nb201_flat.landscape`), drawn with the package figures.
#
# The notebook uses the table named by `$NB201_FLAT_TABLE` when that is set (as the CLI does;
# it needs NB201's keys, CIFAR-10's test split at 200 epochs), else the real NB201 data when it
# is at hand (`$NB201_FLAT_SHARED_DATA`, else `../shared/data/nb201` beside the repository),
# and the embedded default table otherwise.

# %%
# %matplotlib inline
# %config InlineBackend.figure_format = "retina"
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from nb201_flat import landscape as ls
from nb201_flat.figures import (
    arch_label,
    figure_style,
    make_barrier_tree,
    make_distance_profile,
    notebook_table,
    plot_distance_profile,
)
from nb201_flat.landscape.census import BARRIER_NAMES, lowest_name

table, which = notebook_table()
print("Table:", which)
table.info().head(12)

# %% [markdown]
# ## One metric vector
# CIFAR-10 test accuracy after the full 200-epoch schedule is in every table we ship or import
# (mean over seeds).

# %%
space = table.space
values = table.vector("cifar10", "ori-test", 200)
print(f"{np.isfinite(values).sum()} archs measured; best {np.nanmax(values):.2f} %")

# %% [markdown]
# ## Flatness of every architecture at once
# `flatness` aggregates each cell's radius-r neighbourhood (24 cells at radius 1). Sharpness is
# the cell's value minus its neighbours' mean: large for an isolated peak, near zero on a
# plateau. Tables name a cell by `arch_label`: its index, then the ops into nodes 1, 2, 3
# (`conv3` = `nor_conv_3x3`, `conv1` = `nor_conv_1x1`, `pool` = `avg_pool_3x3`, `skip` =
# `skip_connect`); `space.arch(index).to_str()` gives the full NB201 string.

# %%
flat = ls.flatness(space, values, radius=1)
top = flat.sort_values("value", ascending=False).head(10)
top_table = top.assign(arch=[arch_label(space.arch(i)) for i in top.index])
top_table.index = pd.RangeIndex(1, len(top) + 1, name="rank")
top_table[["arch", "value", "mean", "min", "std", "sharpness"]].round(2)

# %% [markdown]
# Among the good cells (top 5 %), flat ones keep more of their accuracy one step away. The
# figure bins the top cells by accuracy and shows the neighbourhood mean and minimum.

# %%
good = flat[flat["value"] >= flat["value"].quantile(0.95)]
bins = pd.qcut(good["value"], 8)
summary = good.groupby(bins, observed=True)[["value", "mean", "min"]].mean()
with figure_style():
    fig = Figure(figsize=(4.5, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(summary["value"], summary["value"], ":", color="0.5", label="the cell itself")
    ax.plot(summary["value"], summary["mean"], "-o", ms=3, label="radius-1 neighbour mean")
    ax.plot(summary["value"], summary["min"], "-s", ms=3, label="radius-1 neighbour minimum")
    ax.set_xlabel("CIFAR-10 test accuracy of the cell (%)")
    ax.set_ylabel("CIFAR-10 test accuracy (%)")
    ax.legend()
display(fig)

# %% [markdown]
# ## The lowest barrier between two architectures
# From the best cell to the ResNet-like cell (index 11472): the *mean path* barrier (A²M's
# construction, `a2m_barrier`) averages each level of all d! shortest Hamming paths; the
# lowest-barrier path searches the whole space for the path whose worst cell is best. Each
# barrier keeps its name (`BARRIER_NAMES`) here as in `nb201-flat barrier`, which also gives
# what A²M's code computes.

# %%
best = int(np.nanargmax(values))
a2m = ls.a2m_barrier(space, values, best, 11472)
tree = ls.barrier_tree(space, values)
low = tree.path(best, 11472, shortest=True)
print(
    f"distance {a2m.distance}: {BARRIER_NAMES['mean_path']} {a2m.barrier:.2f}, "
    f"{lowest_name(unmeasured=tree.unmeasured)} {low.barrier:.2f}"
)
pd.DataFrame(
    {"arch": [arch_label(space.arch(i)) for i in low.path], "accuracy (%)": low.values.round(2)}
).rename_axis("step")

# %% [markdown]
# ## Accuracy against distance from the optimum
# The plot function takes precomputed data and an optional `ax=`; `make_*` computes the data
# for every dataset the table holds.

# %%
prof = ls.distance_profile(space, values)
fdc = ls.fitness_distance_correlation(space, values)
ax = plot_distance_profile(prof, fdc=fdc, ylabel="CIFAR-10 test accuracy (%)")
display(ax.figure)

# %%
make_distance_profile(table)

# %% [markdown]
# ## The barrier tree of the best basins

# %%
make_barrier_tree(table, n_optima=15)
