"""A table's vectors are its own (a sixth audit's findings, each reproduced first): a
read-only view of a writeable array is copied, as a writeable array is; a numpy seed key set
after construction is saved as an int."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nb201_flat.space import Space
from nb201_flat.storage import load_table, save_table
from nb201_flat.table import MetricKey, Table

S = Space(("a", "b"), 3)
K = MetricKey("d", "x", 1)


def test_a_read_only_view_of_a_frame_is_copied() -> None:
    df = pd.DataFrame({"acc": np.arange(1.0, 9.0)})
    view = df["acc"].to_numpy()
    view.setflags(write=False)  # as pandas 3 hands it out
    t = Table(S, {(K, None): view})
    df.loc[0, "acc"] = 50.0  # the table served 50.0
    assert t.vector_for(K).tolist() == list(np.arange(1.0, 9.0))
    base = np.arange(8.0)
    frozen = base[:]
    frozen.setflags(write=False)
    t = Table(S, {(K, None): frozen})
    base[0] = 99.0
    assert t.vector_for(K)[0] == 0.0


def test_a_numpy_seed_key_set_later_is_saved(tmp_path: Path) -> None:
    t = Table(S, {(K, None): np.arange(8.0)})
    t.data[(K, np.int64(2))] = np.arange(8.0)  # "int64 is not JSON serializable"
    back = load_table(save_table(t, tmp_path / "t"))
    assert back.seeds(K) == [2] and type(back.seeds(K)[0]) is int
