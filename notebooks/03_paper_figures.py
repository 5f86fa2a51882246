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
# # The paper figures
#
# Every figure of `nb201-flat figures` is a function `make_<name>(table, ...)` of the table
# (and, for the search figures, a protocol). A figure the table cannot support raises
# `FigureSkipped` naming the keys it lacks; figures drawn per dataset draw the datasets the
# table has and attach a note. The command line writes the same figures as byte-stable PNG
# and PDF (from the repository root, with the data folder `../shared` beside it):
#
# ```
# nb201-flat import ../shared/data/nb201/nb201_tidy.csv.gz --out /tmp/real.nb201 --force
# nb201-flat figures --out figures/ --table /tmp/real.nb201
# ```

# %%
# %matplotlib inline
# %config InlineBackend.figure_format = "retina"
import tempfile
import time
from pathlib import Path

from nb201_flat.figures import (
    FIGURES,
    FigureSkipped,
    figure_notes,
    make,
    notebook_table,
    render,
)

table, which = notebook_table()
print("Table:", which)
for spec in FIGURES.values():
    print(f"{spec.name:<18} {spec.summary}")

# %% [markdown]
# Fewer search runs than the CLI (it uses 100 per algorithm) keep this notebook quick; the
# curves' confidence bands are correspondingly wider.

# %%
options = {"search_curves": {"runs": 30}}
figures, skipped = {}, {}
for name in FIGURES:
    t0 = time.perf_counter()
    try:
        figures[name] = make(name, table, **options.get(name, {}))
    except FigureSkipped as exc:
        skipped[name] = str(exc)
        print(f"skipped {name}: {exc}")
        continue
    print(f"{name:<18} {time.perf_counter() - t0:5.1f} s", *figure_notes(figures[name])[:1])

# %% [markdown]
# ## NA Figure 1: landscapes around the RS and NA-RS picks

# %%
figures.get("na_projection")

# %% [markdown]
# ## Flat vs sharp: generalisation gap and cross-dataset transfer

# %%
figures.get("flat_vs_sharp") or skipped.get("flat_vs_sharp")

# %% [markdown]
# ## A²M neighbour distributions and barrier paths

# %%
figures.get("a2m_distributions")

# %%
figures.get("a2m_paths")

# %% [markdown]
# ## Search curves, barrier tree, distance profile

# %%
figures.get("search_curves") or skipped.get("search_curves")

# %%
figures.get("barrier_tree")

# %%
figures.get("distance_profile")

# %% [markdown]
# ## Barrier census: the named barriers of many pairs, by distance

# %%
figures.get("barrier_census") or skipped.get("barrier_census")

# %% [markdown]
# ## Flatness by epoch (a table with learning curves)
# Drawn only from a table imported with its curves; otherwise the reason it was skipped.

# %%
figures.get("flatness_by_epoch") or skipped.get("flatness_by_epoch")

# %% [markdown]
# ## Saving
# `render` makes and saves one figure (PNG and PDF, identical bytes on every run); the CLI
# loops over it.

# %%
with tempfile.TemporaryDirectory() as out:
    r = render("distance_profile", table, out)
    print([(Path(f).name, Path(f).stat().st_size) for f in r.files])
