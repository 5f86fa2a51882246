"""Retraining results (the SQLite database of ``nb201-flat train``) as a table.

The database may hold several spaces (and network sizes); each is keyed by the string of
:func:`nb201_flat.train.jobs.space_key`, e.g. ``"nb201"``, ``"nb201@C4N1"`` or
``"5nodes:none,skip_connect,...:lexicographic"``. A table holds one space, so a database of
several needs ``space=`` (``import --space``). Per-seed values are stored under their training
seed ids (``train --seeds 777 888``: seeds 777 and 888), so ``seed_policy=888`` reads seed 888
for every cell, whichever seeds the database holds besides (NB201 tables number seeds by
position: the tidy data does not record which seed a 2-seed cell lacks). There are no mean
rows: ``seed_policy="mean"`` averages the stored seeds.

A database being trained into changes while it is read (its ``-wal`` file holds the newest
pages), so it is read from one consistent copy (SQLite's backup, in a temporary folder), and
the table's ``meta["file_sha256"]`` is the sha256 of that copy: of the bytes parsed, which a
sha256 of the main file alone is not while a ``-wal`` file holds pages. That copy passes
SQLite's integrity check before anything is read from it (a damaged page, or an index that
disagrees with its rows, is refused in one line), and SQLite's errors on damage met later are
that one line too (:func:`~nb201_flat.train.results_db.damage_refused`).

``curves=True`` (``import --curves``) carries the learning curves of the runs the table
serves (:mod:`nb201_flat.curves`; column ``e`` is the database's epoch ``e + 1``), under the
same seed ids, each agreeing with the final value the table serves for its key and seed:
runs in progress are left out; a copied cell holds its stand-in's whole curve on the seeds it
copies; a run recorded at chance holds its recorded final epoch alone (nothing was evaluated
before it); epochs a run did not evaluate (``--eval-every``) are NaN; ``epoch_time_s`` is
each epoch's training seconds, the step of the cumulative time stored (none for a run
recorded at chance; evaluation times are no curve metric); the mean is
:func:`~nb201_flat.importers.curves.mean_curve`'s, over the seeds the table's mean is over.
It is off by default: every epoch's rows are read and checked
(:func:`~nb201_flat.train.results_db.load_curves`, which also refuses a run whose curve has a
hole): for 3,000 finished 200-epoch runs (1.8M rows) an import took 43 s and 3 GB with them,
8 s without, on two cores.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from nb201_flat.errors import (
    Call,
    FormatError,
    Param,
    ParamMessage,
    ResultsDBError,
    check_flag,
)
from nb201_flat.importers import check_source_file
from nb201_flat.space import NB201, Space
from nb201_flat.storage import SOURCE_SHA256, file_sha256
from nb201_flat.table import Table

if TYPE_CHECKING:
    import sqlite3

    import pandas as pd

    from nb201_flat.curves import Curves
    from nb201_flat.types import FloatArray


def space_from_key(key: str) -> Space:
    """The :class:`Space` named by a results-database space key (network size suffix ignored,
    but it must be one: ``@C4N1``, as :func:`~nb201_flat.train.jobs.space_key` writes it).

    >>> space_from_key("nb201@C4N1#faithful").size
    15625
    """
    from nb201_flat.costs import key_network_size

    key_network_size(key)  # refuses a size suffix it cannot read ("@c4n1")
    base = key.split("#", 1)[0].partition("@")[0]  # "#<mode tag>" since modes exist
    if base == "nb201":
        return NB201
    try:
        nodes, ops, order = base.split(":")
        if not nodes.endswith("nodes"):
            raise ValueError(nodes)
        return Space(ops.split(","), int(nodes.removesuffix("nodes")), index_order=order)  # type: ignore[arg-type]
    except ValueError:
        raise FormatError(f"unrecognised space key {key!r} in the results database") from None


def read_results_db(
    path: str | os.PathLike[str],
    *,
    space: str | None = None,
    fill_isomorphic: bool = True,
    curves: bool = False,
) -> Table:
    """Final epochs of the finished runs in ``path`` as a :class:`Table`, with their learning
    curves (``table.curves``) under ``curves=True`` (see the module docstring).

    Cells a campaign did not train because an isomorphic cell was (``train
    --unique-isomorphism``) take that cell's final numbers, per seed, where its run is done;
    ``table.meta["isomorphic_to"]`` lists each such cell with the cell it copies.
    ``fill_isomorphic=False`` leaves them missing. Runs of disconnected cells recorded at
    chance without training are listed in ``table.meta["constant_output"]``, one record
    (dataset, epochs, seed, index) per run, and have no ``time_s``: the same cell trained on
    another run (``train --train-disconnected``) keeps its own numbers there.
    """
    fill_isomorphic = check_flag("fill_isomorphic", fill_isomorphic)
    curves = check_flag("curves", curves)
    source = Path(path)
    # missing: sqlite would create it and report a file without tables; a FIFO: "disk I/O
    # error". A folder is left to sqlite, whose refusal names the database
    check_source_file(source, folder=True)
    from nb201_flat.train.results_db import damage_refused, reading_for

    with _snapshot(source) as (snap, digest), reading_for(snap, source):
        try:
            with damage_refused(snap):
                table = _read_snapshot(snap, space, fill_isomorphic, curves)
        except ParamMessage as exc:
            raise _naming(exc, snap, source) from None
    table.meta["file"] = str(source)
    table.meta[SOURCE_SHA256] = digest
    return table


@contextlib.contextmanager
def _snapshot(source: Path) -> Iterator[tuple[Path, str]]:
    """A consistent copy of the database ``source`` (same file name, in a temporary folder) and
    its sha256: every page as one reader sees it at one moment, the committed pages of a
    ``-wal`` file included, whatever a live training writes meanwhile.

    A file without a ``-wal`` file is read ``immutable``, without locks
    (:func:`~nb201_flat.train.results_db.connect_readonly`): a writer that starts meanwhile
    and checkpoints into it (closing) would leave a copy of pages of two moments, refused as
    damaged. So the copy is taken again while the file (its inode, size, modification time,
    and whether a ``-wal`` file is beside it) changed between the open and the copy's end, up
    to :data:`_SNAPSHOT_TRIES` times."""
    import tempfile

    from nb201_flat.train.results_db import connect_readonly

    state = _file_state(source)  # before the open: what was read is what was there then
    src = connect_readonly(source)  # no -wal/-shm left beside a source; read-only media work
    try:
        try:
            tmp_dir = tempfile.TemporaryDirectory(prefix="nb201-import-")
        except OSError as exc:
            raise _no_room(source, tempfile.gettempdir(), exc) from None
        with tmp_dir as tmp:
            snap = Path(tmp) / source.name
            for tries in range(1, _SNAPSHOT_TRIES + 1):
                if tries > 1:
                    snap.unlink()
                    src = connect_readonly(source)
                _copy(src, snap, source, tmp)  # closes src
                now = _file_state(source)
                if now == state:
                    break
                state = now
            else:
                raise ResultsDBError(
                    f"results database {source} changed each of the {_SNAPSHOT_TRIES} times "
                    "it was copied to be read (a training wrote into it meanwhile); "
                    "import it again, or once the training that writes it has stopped"
                )
            yield snap, file_sha256(snap)
    finally:
        src.close()


#: how many times :func:`_snapshot` copies a database that changed while it was copied
_SNAPSHOT_TRIES = 5


def _file_state(source: Path) -> tuple[object, ...] | None:
    """What a writer of the database ``source`` changes: its main file's inode, size and
    modification time, and whether a ``-wal`` file is beside it (``None``: not readable)."""
    try:
        st = source.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, Path(f"{source}-wal").exists()


def _copy(src: sqlite3.Connection, snap: Path, source: Path, tmp: str) -> None:
    """SQLite's backup of ``src`` (the database ``source``, open) into the new file ``snap``
    (in the temporary folder ``tmp``), in one step; ``src`` is closed."""
    import sqlite3

    try:
        dst = sqlite3.connect(snap)
    except sqlite3.Error as exc:
        src.close()
        raise _no_room(source, tmp, exc) from None
    try:
        src.backup(dst)
    except sqlite3.DatabaseError as exc:
        # the copy's side (a full or unwritable temporary folder) is not the source's
        if getattr(exc, "sqlite_errorname", "") in _SOURCE_ERRORS:
            raise ResultsDBError(
                f"cannot read results database {source} ({exc}); copy it again from "
                "where it was trained (with its -wal file, if it has one)"
            ) from None
        raise _no_room(source, tmp, exc) from None
    finally:
        dst.close()
        src.close()


#: SQLite's names of the errors that come from reading the source while it is copied
_SOURCE_ERRORS = frozenset(
    {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR_READ", "SQLITE_IOERR_SHORT_READ"}
)


def _no_room(source: Path, folder: str, exc: BaseException) -> ResultsDBError:
    """The one line for a consistent copy of ``source`` that could not be written."""
    size = source.stat().st_size + sum(
        p.stat().st_size for p in (Path(f"{source}-wal"),) if p.exists()
    )
    return ResultsDBError(
        f"cannot copy results database {source} into the temporary folder {folder} to read it "
        f"({exc}); free {size / 1e6:,.1f} MB there or point TMPDIR at a folder with room"
    )


def _naming(exc: ParamMessage, snap: Path, source: Path) -> ParamMessage:
    """``exc`` naming the database the caller passed rather than the copy that was read."""
    if type(exc).__init__ is not ParamMessage.__init__:  # parts of another shape: as it is
        return exc
    parts = [p.replace(str(snap), str(source)) if isinstance(p, str) else p for p in exc.parts]
    renamed = type(exc)(*parts)
    renamed.__dict__.update({k: v for k, v in exc.__dict__.items() if k != "parts"})
    return renamed


def _read_snapshot(p: Path, space: str | None, fill_isomorphic: bool, curves: bool) -> Table:
    """:func:`read_results_db` of the consistent copy ``p``."""
    import sqlite3

    import pandas as pd

    from nb201_flat.importers.tidy import check_finite_rows, check_value_ranges
    from nb201_flat.train.modes import recipe_of_key, split_keyed_space
    from nb201_flat.train.results_db import (
        DAMAGED_FIX_PARTS,
        ResultsDB,
        check_integrity,
        connect_readonly,
        load_results,
    )

    con = connect_readonly(p)
    try:
        # every read below, and its checks, see the rows and indexes agree (a private copy)
        check_integrity(con, p)
        keys = [r[0] for r in con.execute("SELECT DISTINCT space FROM epochs")]
        con.execute("SELECT 1 FROM runs LIMIT 1")  # here, in the import's words (load_results')
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise  # damage_refused says it
        raise FormatError(
            f"{p} is not a results database ({exc}); import a file that train wrote"
        ) from None
    finally:
        con.close()
    if space is not None and keys and space not in keys:  # else: "no rows", with no why
        raise FormatError(
            f"{p} holds no results of space {space!r}; it holds {', '.join(sorted(keys))}"
        )
    if space is None:
        if len(keys) > 1:
            raise FormatError(
                f"{p} holds results of several spaces, modes or network sizes; import one at "
                "a time: pass ",
                Param("space"),
                f" as one of {', '.join(sorted(keys))}",
            )
        space = keys[0] if keys else "nb201"
    df = load_results(p, space=space)
    _check_runs(p, space, empty=len(df) == 0)
    # a diverged run's inf loss: named, not "row N"; a database the user trained cannot be
    # re-downloaded, and its run can be trained again
    check_finite_rows(
        df,
        f"{p} ({space})",
        fix="that run diverged: train that seed again, or remove the run from the database, "
        "before importing",
    )
    # training writes percentages and non-negative losses and times: another is a damaged or
    # hand-edited database
    check_value_ranges(
        df,
        f"{p} ({space})",
        fix=("the database is damaged: ", *DAMAGED_FIX_PARTS),
    )
    db = ResultsDB(p, readonly=True, named=None)  # as above: nothing is left beside the source
    try:
        runs = db.runs_frame(space)  # another space's runs are not read, nor refused
    finally:
        db.close()
    # per run: a cell recorded at chance on one seed or schedule may be trained on another
    # (train --train-disconnected), whose numbers and time are its own
    run_cols = ["dataset", "schedule", "seed", "arch_index"]
    at_chance = runs.loc[runs["status"] == "constant", run_cols].drop_duplicates()
    constant = [
        {"dataset": str(d), "epochs": int(e), "seed": int(sd), "index": int(i)}
        for d, e, sd, i in at_chance.sort_values(run_cols).itertuples(index=False)
    ]
    # databases written before the time was stored as NULL hold time_s=0 for these untrained
    # runs: free to a time-budgeted search; drop it, as the NULL of newer ones is
    cols = ["dataset", "epochs", "seed", "index"]
    untrained = pd.DataFrame(constant, columns=cols).assign(untrained=True)
    flagged = df[cols].astype(object).merge(untrained.astype(object), on=cols, how="left")
    drop = flagged["untrained"].notna().to_numpy() & (df["metric"] == "time_s").to_numpy()
    df = df[~drop].reset_index(drop=True)
    done = runs[runs["status"] == "done"]
    forms = done["trained_as"].map(str).value_counts().sort_index()
    devices = done["trained_on"].map(str).value_counts().sort_index()
    stand_ins: list[dict[str, object]] = []
    own = df  # the runs' own final rows: the runs whose curves are carried
    if fill_isomorphic:
        copies = _isomorphic_copies(df, runs)
        if len(copies):
            cols = ["dataset", "epochs", "seed", "index", "copied_from"]
            which = copies[cols].drop_duplicates().sort_values(cols)
            stand_ins = [
                {
                    "dataset": d,
                    "epochs": int(e),
                    "seed": int(sd),
                    "index": int(i),
                    "copied_from": int(c),
                }
                for d, e, sd, i, c in which.itertuples(index=False)
            ]
            df = pd.concat([df, copies.drop(columns="copied_from")], ignore_index=True)
    cells = space_from_key(space)
    _check_archs(df, cells, p, space)
    if stand_ins:
        _check_isomorphic(stand_ins, cells, p, space)
    learning = _learning_curves(p, space, own, cells, stand_ins) if curves else None
    # per-seed values stay under their seed ids: positions (ranks of the ids the database
    # holds) moved when seeds were added, and read seed 777 for --seed-policy 2 when 1, 2, 777
    # were trained; tables saved before are renumbered by id on load (storage._seeds_by_id)
    table = Table.from_tidy(
        df,
        space=cells,
        check_arch=False,  # by _check_archs, naming the run
        source=f"retraining results {p.name} ({space})",
        meta={
            "file": str(p),
            "space_key": space,
            # training mode (faithful / fast-bf16 / ...); None for databases older than modes
            "mode": split_keyed_space(space)[1],
            # what the training recipe changes from NB201's (None: NB201's own recipe, or a
            # run stored before recipes were keyed)
            "recipe": recipe_of_key(space),
            # disconnected cells recorded at chance accuracy without training (flagged): one
            # record per dataset, schedule, seed and cell; the cell's other runs may be trained
            "constant_output": constant,
            # cells not trained, holding the final numbers of the isomorphic cell trained in
            # their place: one record per dataset, schedule, seed and cell ("copied_from":
            # the trained cell's index; campaigns over other cells may pick other ones)
            "isomorphic_to": stand_ins,
            # finished runs by how they were trained (single, grouped:K, concurrent:K; None:
            # not recorded, as in files written before the forms were)
            "trained_as": {str(k): int(n) for k, n in forms.items()},
            # finished runs by where they were trained (device, torch/CUDA/cuDNN versions;
            # "None": not recorded)
            "trained_on": {str(k): int(n) for k, n in devices.items()},
            # per dataset: the digest of the files and splits its runs were trained on, whether
            # they are the official ones, and how many finished runs recorded it (unrecorded:
            # runs of files written before digests were)
            "data": _data_of(done, p),
        },
    )
    table.curves = learning
    return table


def _learning_curves(
    p: Path, space: str, final: pd.DataFrame, cells: Space, stand_ins: list[dict[str, object]]
) -> Curves:
    """The learning curves of the runs whose own final rows are ``final`` (finished: trained,
    or recorded at chance), with the copies ``stand_ins`` lists (see the module docstring)."""
    import numpy as np
    import pandas as pd

    from nb201_flat.budget import check_memory
    from nb201_flat.curves import Curves
    from nb201_flat.importers.curves import mean_curve, refused_value
    from nb201_flat.table import MetricKey
    from nb201_flat.train.results_db import damaged_parts, load_curves

    run_cols = ["arch", "dataset", "epochs", "seed"]
    rows = load_curves(p, space=space)
    # an evaluation's time is no curve metric; train's cumulative time gives epoch_time_s
    rows = rows[(rows["metric"] != "time_s") | (rows["split"] == "train")]
    # a run in progress has no final value a curve could agree with: finished runs only, each
    # at the cell its final rows name (_check_archs checked those against the arch)
    runs = final[[*run_cols, "index"]].drop_duplicates(run_cols)
    rows = rows.merge(runs, on=run_cols, suffixes=("", "_final"))
    moved = rows["index"].to_numpy() != rows["index_final"].to_numpy()
    if moved.any():
        r = rows.iloc[int(np.flatnonzero(moved)[0])]
        run = (space, r["arch"], r["dataset"], int(r["epochs"]), int(r["seed"]))
        why = (
            f"has arch_index {r['index']} at epoch {r['epoch']}, but {r['index_final']} at its "
            "final epoch"
        )
        raise FormatError(*damaged_parts(p, run, why))
    # times of the runs whose training time the table holds: none for a run recorded at chance
    timed = final.loc[(final["metric"] == "time_s") & (final["split"] == "train"), run_cols]
    is_time = (rows["metric"] == "time_s").to_numpy()
    rows = pd.concat([rows[~is_time], rows[is_time].merge(timed, on=run_cols)], ignore_index=True)

    group_cols = ["dataset", "split", "epochs", "metric", "seed"]
    heads = rows[group_cols].drop_duplicates()
    arrays = int(heads["epochs"].sum() + heads.drop_duplicates(group_cols[:4])["epochs"].sum())
    check_memory(
        8.0 * cells.size * arrays,
        f"carrying the learning curves of {p} ({space}) over {cells.size:,} cells",
        ("import its final values alone (", Param("curves", False), ")"),
    )
    n = cells.size
    per_seed: dict[tuple[MetricKey, int], FloatArray] = {}
    for head, g in rows.groupby(group_cols, sort=True):
        dataset, split, epochs, metric, seed = cast("tuple[str, str, int, str, int]", head)
        epochs, seed = int(epochs), int(seed)  # numpy's: a JSON manifest takes plain ints
        arr = np.full((n, epochs), np.nan)
        arr[g["index"].to_numpy(), g["epoch"].to_numpy() - 1] = g["value"].to_numpy()

        bad = None  # why the first value no curve holds, at cell i, is refused
        if (found := refused_value(metric, arr)) is not None:
            i, e, why = found
            bad = f"at epoch {e + 1}: {split} {metric} {arr[i, e]} {why}"
        elif metric == "time_s":  # cumulative: each epoch's own seconds (the official train_times)
            each = np.diff(arr, axis=1, prepend=0.0)
            if (found := refused_value("epoch_time_s", each)) is not None:
                i, e, _ = found
                bad = (
                    f"at epoch {e + 1}: train time_s {arr[i, e]} is below its "
                    f"{arr[i, e - 1]} at epoch {e}, and a cumulative training time never falls"
                )
            arr, metric = each, "epoch_time_s"
        if bad is not None:
            arch = g.loc[g["index"] == i, "arch"].iloc[0]
            raise FormatError(*damaged_parts(p, (space, arch, dataset, epochs, seed), bad))
        per_seed[(MetricKey(dataset, split, epochs, metric), seed)] = arr
    # a copy holds its stand-in's whole curve on the seeds it copies, as its final values
    copies: dict[tuple[object, object, object], list[tuple[object, object]]] = {}
    for rec in stand_ins:
        copies.setdefault((rec["dataset"], rec["epochs"], rec["seed"]), []).append(
            (rec["index"], rec["copied_from"])
        )
    for (key, seed), arr in per_seed.items():
        if pairs := copies.get((key.dataset, key.epochs, seed)):
            to, source = np.array(pairs, dtype=np.int64).T
            arr[to] = arr[source]
    data: dict[tuple[MetricKey, int | None], FloatArray] = {k: v for k, v in per_seed.items()}
    for key in sorted({k for k, _ in per_seed}):  # seeds ascending, as the table's mean
        seeds = sorted(s for k, s in per_seed if k == key)
        data[(key, None)] = mean_curve([per_seed[(key, s)] for s in seeds])
    return Curves(n, data, copy=False)  # arrays of its own: no copies


def _check_runs(path: Path, space: str, *, empty: bool) -> None:
    """Refuse damaged runs of ``space`` (:func:`~nb201_flat.train.results_db.check_finished_runs`),
    and a database with no finished run (``empty``: no final rows) by what it holds instead."""
    from nb201_flat.train.results_db import check_finished_runs, connect_readonly

    con = connect_readonly(path)
    try:
        # load_results verified the runs rows of space in this copy, which nothing writes
        check_finished_runs(con, path, space, runs_verified=True)
        if empty:  # else Table.from_tidy: "has columns but no rows", with no why
            counts = dict(
                con.execute(
                    "SELECT status, COUNT(*) FROM runs WHERE space = ? GROUP BY status", (space,)
                ).fetchall()
            )
    finally:
        con.close()
    if empty:
        running = counts.get("running", 0)
        if running:
            raise FormatError(
                f"{path} holds no finished runs of {space} ({running} started but not "
                "finished: killed, or training now); finish them before importing (the same "
                "runs trained again with ",
                Call("nb201_flat.train"),
                " resume)",
            )
        raise FormatError(
            f"{path} holds no finished runs of {space}; train some into it with ",
            Call("nb201_flat.train"),
            " before importing",
        )


def _check_archs(df: pd.DataFrame, space: Space, path: Path, key: str) -> None:
    """Refuse a final row whose arch is no cell of ``space`` or names another cell than its
    ``arch_index``, naming its run (Table.from_tidy would name a row of a frame the user never
    saw: "row 21 ... fix the frame")."""
    import numpy as np

    from nb201_flat.table import check_arch_column
    from nb201_flat.train.results_db import damaged_parts

    def run(row: int) -> tuple[object, ...]:
        r = df.iloc[row]
        return (key, r["arch"], r["dataset"], int(r["epochs"]), int(r["seed"]))

    def bad(row: int, value: object, why: str) -> FormatError:
        return FormatError(
            *damaged_parts(path, run(row), f"has arch {str(value)!r:.80}, which {why}")
        )

    located = check_arch_column(df["arch"], space, bad, index=None)
    index = df["index"].to_numpy(dtype=np.int64)
    other = located != index
    if other.any():
        row = int(np.flatnonzero(other)[0])
        raise FormatError(
            *damaged_parts(
                path, run(row), f"has arch_index {index[row]}, but its arch is cell {located[row]}"
            )
        )


#: the largest space whose isomorphism classes :func:`not_isomorphic` reads whole; a
#: larger one has the key of each cell named found, once each
WHOLE_SPACE_CLASSES = 200_000


def _check_isomorphic(
    stand_ins: list[dict[str, object]], space: Space, path: Path, key: str
) -> None:
    """Refuse a run recorded as standing in for a cell of another function (a hand-edited
    ``run_isomorphic`` row, or one a caller recorded wrongly): its numbers would be served as
    the cell's."""
    from nb201_flat.train.results_db import damaged_parts

    pairs = {(int(r["index"]), int(r["copied_from"])): r for r in stand_ins}  # type: ignore[call-overload]
    if (bad := not_isomorphic(pairs, space)) is not None:
        cell, rep = bad
        row = pairs[bad]
        run = (key, str(space.arch(cell)), row["dataset"], row["epochs"], row["seed"])
        raise FormatError(
            *damaged_parts(
                path, run, f"is recorded isomorphic to cell {rep}, which computes another function"
            )
        )


def not_isomorphic(pairs: Iterable[tuple[int, int]], space: Space) -> tuple[int, int] | None:
    """The first ``(cell, copied_from)`` of ``pairs`` whose two cells of ``space`` compute
    different functions, else None: the one check of a stand-in's source, which every importer
    of stand-ins runs (a results database's runs, a tidy file's ``copied_from`` column)."""
    import functools

    if space.size <= WHOLE_SPACE_CLASSES:  # all classes at once (NB201: 0.1 s, cached)
        classes = space.isomorphism_classes()

        def cls(i: int) -> object:
            return int(classes[i])
    else:  # a large space: the keys of the cells named only, each once

        @functools.cache
        def cls(i: int) -> object:
            return space.arch(i).isomorphism_key()

    for cell, rep in pairs:  # one check per pair, not per dataset and seed
        if cls(cell) != cls(rep):
            return cell, rep
    return None


def _isomorphic_copies(final: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The final rows of each run's stand-in (same dataset, schedule and seed), under the run's
    own index and arch, with ``copied_from`` (the stand-in's index): runs recorded isomorphic,
    or trained after that but not finished."""
    cols = ["arch_index", "arch", "dataset", "schedule", "seed", "isomorphic_to"]
    stands_in = runs["isomorphic_to"].notna() & (runs["status"] != "done")
    iso = runs.loc[stands_in, cols].rename(
        columns={"arch": "member", "arch_index": "member_index", "schedule": "epochs"}
    )
    iso["seed"] = iso["seed"].astype("Int64")
    on = ["dataset", "epochs", "seed"]
    merged = final.merge(iso, left_on=["arch", *on], right_on=["isomorphic_to", *on])
    merged["copied_from"] = merged["index"].astype("int64")
    merged["index"] = merged["member_index"].astype("int64")
    merged["arch"] = merged["member"]
    return merged[[*final.columns, "copied_from"]]


def _data_of(done: pd.DataFrame, path: Path) -> dict[str, dict[str, object]]:
    """Per dataset, the data its finished runs (``done``, of one space) were trained on: one
    digest each, or an error."""
    out: dict[str, dict[str, object]] = {}
    for dataset, runs in done.groupby("dataset", sort=True):
        recorded = runs[runs["data_digest"].notna()]
        digests = sorted(set(recorded["data_digest"]))
        if len(digests) > 1:  # the same dataset name over two sets of bytes: one table mixes
            raise FormatError(
                f"{path} holds {dataset} runs trained on different data (digests "
                f"{', '.join(d[:12] for d in digests)}); train each set of files into a "
                "results database of its own"
            )
        out[str(dataset)] = {
            "digest": digests[0] if digests else None,
            "official": bool(recorded["data_official"].iloc[0]) if digests else None,
            "runs": len(recorded),
            "unrecorded": len(runs) - len(recorded),
        }
    return out
