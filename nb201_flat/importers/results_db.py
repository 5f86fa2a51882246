"""Retraining results (the SQLite database of ``nb201-flat train``) as a table.

The database may hold several spaces (and network sizes); each is keyed by the string of
:func:`nb201_flat.train.jobs.space_key`, e.g. ``"nb201"``, ``"nb201@C4N1"`` or
``"5nodes:none,skip_connect,...:lexicographic"``. A table holds one space, so a database of
several needs ``space=``. Seeds become positions in ascending order of the seed ids found
(as in NB201, where 777, 888, 999 are seeds 0, 1, 2); ``table.meta["seed_ids"]`` keeps the ids.
There are no mean rows: ``seed="mean"`` averages the stored seeds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from nb201_flat.errors import FormatError, ResultsDBError
from nb201_flat.space import NB201, Space
from nb201_flat.table import Table

if TYPE_CHECKING:
    import sqlite3


def space_from_key(key: str) -> Space:
    """The :class:`Space` named by a results-database space key (network size suffix ignored)."""
    base = key.split("#", 1)[0].split("@", 1)[0]  # "#<mode tag>" since modes exist
    if base == "nb201":
        return NB201
    try:
        nodes, ops, order = base.split(":")
        if not nodes.endswith("nodes"):
            raise ValueError(nodes)
        return Space(ops.split(","), int(nodes.removesuffix("nodes")), index_order=order)  # type: ignore[arg-type]
    except ValueError:
        raise FormatError(f"unrecognised space key {key!r} in the results database") from None


def read_results_db(path: str | os.PathLike[str], *, space: str | None = None) -> Table:
    """Final epochs of the finished runs in ``path`` as a :class:`Table`."""
    import sqlite3

    from nb201_flat.train.modes import recipe_of_key, split_keyed_space
    from nb201_flat.train.results_db import connect_readonly, load_results

    p = Path(path)
    if space is None:
        con = connect_readonly(p)  # no -wal/-shm left beside a source; read-only media work
        try:
            keys = [r[0] for r in con.execute("SELECT DISTINCT space FROM epochs")]
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise ResultsDBError(f"cannot read results database {p} ({exc})") from None
            raise FormatError(f"{p} is not a results database ({exc})") from None
        finally:
            con.close()
        if len(keys) > 1:
            raise FormatError(
                f"{p} holds results of several spaces ({', '.join(sorted(keys))}); "
                "import one at a time with space="
            )
        space = keys[0] if keys else "nb201"
    df = load_results(p, space=space)
    con = connect_readonly(p)  # as above: nothing is left beside the source
    try:
        constant = sorted(
            int(r[0])
            for r in con.execute(
                "SELECT DISTINCT arch_index FROM runs WHERE status = 'constant' AND space = ?",
                (space,),
            )
        )
        trained_as = _trained_as(con, space)
        data = _data_of(con, space, p)
    finally:
        con.close()
    # tables number seeds by position (NB201: 777, 888, 999 -> 0, 1, 2); keep the ids in meta
    seed_ids = sorted(int(s) for s in df["seed"].dropna().unique())
    df["seed"] = df["seed"].map({s: i for i, s in enumerate(seed_ids)}).astype("Int64")
    return Table.from_tidy(
        df,
        space=space_from_key(space),
        source=f"retraining results {p.name} ({space})",
        meta={
            "file": str(p),
            "space_key": space,
            "seed_ids": seed_ids,
            # training mode (faithful / fast-bf16 / ...); None for databases older than modes
            "mode": split_keyed_space(space)[1],
            # what the training recipe changes from NB201's (None: NB201's own recipe)
            "recipe": recipe_of_key(space),
            # disconnected cells recorded at chance accuracy without training (flagged)
            "constant_output": constant,
            # finished runs by how they were trained (single, grouped:K, concurrent:K; None:
            # not recorded, as in files written before the forms were)
            "trained_as": trained_as,
            # per dataset: the digest of the files and splits its runs were trained on, whether
            # they are the official ones, and how many finished runs recorded it (unrecorded:
            # runs of files written before digests were)
            "data": data,
        },
    )


def _data_of(con: sqlite3.Connection, space: str, path: Path) -> dict[str, dict[str, object]]:
    """Per dataset, the data its finished runs were trained on; one digest each, or an error."""
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    cols = "d.data_digest, d.data_official" if "run_data" in tables else "NULL, NULL"
    join = (
        "LEFT JOIN run_data d USING (space, arch, dataset, schedule, seed) "
        if "run_data" in tables
        else ""
    )
    rows = con.execute(
        f"SELECT r.dataset, {cols}, count(*) FROM runs r {join}"
        "WHERE r.status = 'done' AND r.space = ? GROUP BY 1, 2, 3 ORDER BY 1, 2",
        (space,),
    ).fetchall()
    out: dict[str, dict[str, object]] = {}
    for dataset, digest, official, n in rows:
        entry = out.setdefault(
            str(dataset), {"digest": None, "official": None, "runs": 0, "unrecorded": 0}
        )
        if digest is None:
            entry["unrecorded"] = int(n)
        elif entry["digest"] is None:
            entry.update(digest=str(digest), official=bool(official), runs=int(n))
        else:  # the same dataset name over two sets of bytes: one table would mix them
            raise FormatError(
                f"{path} holds {dataset} runs trained on different data (digests "
                f"{str(entry['digest'])[:12]} and {str(digest)[:12]}); train each set of "
                "files into a --db of its own"
            )
    return out


def _trained_as(con: sqlite3.Connection, space: str) -> dict[str, int]:
    """Finished runs of ``space`` counted by how they were trained (``"None"``: unrecorded)."""
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    forms = "f.trained_as" if "run_forms" in tables else "NULL"
    join = (
        "LEFT JOIN run_forms f USING (space, arch, dataset, schedule, seed) "
        if "run_forms" in tables
        else ""
    )
    rows = con.execute(
        f"SELECT {forms}, count(*) FROM runs r {join}WHERE r.status = 'done' AND r.space = ? "
        f"GROUP BY {forms} ORDER BY {forms}",
        (space,),
    )
    return {str(form): int(n) for form, n in rows if n}
