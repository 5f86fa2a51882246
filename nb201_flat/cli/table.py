"""CLI commands on tables: ``import``, ``info``, ``query``."""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from nb201_flat import budget
from nb201_flat.cli.common import (
    add_json_arg,
    add_key_args,
    add_table_arg,
    emit_json,
    one_line,
    open_table,
    parse_int,
    parse_seed,
    seed_fields,
    seed_list,
    value_text,
)
from nb201_flat.errors import ArgumentError, MissingValueError, Param

if TYPE_CHECKING:
    from nb201_flat.table import SeedPolicy


# the tidy long format, described where every install has it (messages about its columns
# point here: table.TIDY_HELP); the checks themselves are Table.from_tidy's
_TIDY_FORMAT = """\
the tidy format (--format tidy): one value per row of a file ending in
{suffixes}, with the columns
  index    the official NB201 index of the cell (or leave it out, give arch)
  arch     the official NB201 string of the cell, checked against index
  dataset  e.g. cifar10, cifar100, ImageNet16-120
  split    e.g. ori-test, x-valid, x-test, train
  epochs   the training schedule (200 or 12 in NB201)
  seed     empty for the mean over seeds, else the stored seed (its position
           0, 1, 2 in NB201's files, its id in a retrained table)
  metric   e.g. accuracy (a percentage), loss, time_s (the whole schedule's),
           params_mb
  value    the number (nan for one not measured)
and optionally space, constant_output, copied_from (what Table.to_tidy
writes for a retrained table, or a table of another space); any other column
is refused. --space KEY gives a file without a space column its key."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from nb201_flat.importers import FORMATS, TIDY_SUFFIXES

    p = sub.add_parser(
        "import",
        help="import a benchmark file into a native table",
        description="Import SOURCE (a file or folder, or the word `analognas` for the embedded\n"
        "default) into the native table folder OUT.",
        epilog=_TIDY_FORMAT.format(
            suffixes=f"{', '.join(TIDY_SUFFIXES[:-1])} or {TIDY_SUFFIXES[-1]}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog's columns
    )
    p.add_argument("source", help="file or folder to import, or `analognas`")
    p.add_argument(
        "--out",
        required=True,
        help="table folder to write (atomically); a symbolic link is written through: the "
        "folder it names is replaced and the link kept",
    )
    p.add_argument("--format", choices=FORMATS, help="skip auto-detection")
    # --space means a results database or a tidy file, neither of which needs an unpickle:
    # argparse refuses both
    exclusive = p.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--allow-unsafe-pickle",
        action="store_true",
        help="fully unpickle a trusted file whose format needs it (never for untrusted files)",
    )
    exclusive.add_argument(
        "--space",
        metavar="KEY",
        help="the space key (space, network size and training mode, e.g. nb201#faithful or "
        "nb201@C4N1#fast-bf16): of a results database, the one to import from a file that "
        "holds several (the import without it lists them); of a tidy file without a space "
        "column, the one its rows were measured on (a space column naming another is refused)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing table at --out")
    p.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar (nb201-pth and nats-tss files; on a terminal, by default)",
    )
    p.add_argument(
        "--curves",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="carry (--curves) or skip (--no-curves: final values only, less memory and a "
        "smaller table) the per-epoch learning curves; carried by default from an official "
        "NB201 .pth or NATS-tss file, skipped by default from a results database (reading and "
        "checking every epoch's rows takes about 5x its final epochs' time)",
    )
    add_json_arg(p)
    # save_table's path and overwrite are --out and --force; a damaged results database's
    # fix (retrain_damaged) is the train command's
    p.set_defaults(
        func=cmd_import,
        param_dests={"path": "out", "overwrite": "force"},
        param_elsewhere={"retrain_damaged": "`nb201-flat train ... --retrain-damaged`"},
    )

    p = sub.add_parser(
        "info",
        help="what a table holds",
        description="What a table holds: the source it was imported from (the file and its "
        "sha256, where recorded), the sha256 of its stored table.parquet file (--json: "
        "sha256), its space, how many cells were trained, and its keys. The table.parquet "
        "digest is of the file's bytes, which change with the pyarrow version that wrote "
        "them: two imports of one source can hold the same values under different digests.",
    )
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "record",
        help="one architecture's whole entry: every dataset, split, epochs and metric",
        description="Every value the table holds for ARCH (like the official API's "
        "get_more_info, but all keys at once): per key the mean over seeds and each stored "
        "seed's value.",
    )
    p.add_argument("arch", help="official NB201 string or index")
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("query", help="one architecture's value")
    p.add_argument("arch", help="official NB201 string or index")
    add_key_args(p)
    p.add_argument(
        "--seed-policy",
        type=parse_seed,
        default=None,
        help="stored training seed: mean (default), random (needs --rng-seed and a key of "
        "two seeds or more) or a stored seed (its id in a retraining table, its position 0, 1, "
        "2 in NB201's)",
    )
    p.add_argument(
        "--seed", type=parse_seed, default=None, help="deprecated spelling of --seed-policy"
    )
    p.add_argument(
        "--rng-seed", type=parse_int, default=None, help="generator seed for --seed-policy random"
    )
    add_table_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_query)


def cmd_import(args: argparse.Namespace) -> int:
    from nb201_flat.atomic import check_writable_target
    from nb201_flat.errors import TableFileError
    from nb201_flat.importers import PROGRESS_FORMATS, detect_format, import_table, source_path
    from nb201_flat.storage import (
        check_replaceable,
        import_command,
        read_manifest,
        recorded_source,
        save_table,
    )

    source_path(args.source)  # first: "" is no folder to compare with --out, and no --force fix
    out = check_writable_target(args.out)
    # first: --force cannot fix this one, so it must not be the fix the first refusal names
    # realpath: Path.resolve raised RuntimeError on a loop of links
    real = os.path.realpath
    if args.source != "analognas" and Path(real(args.source)).is_relative_to(real(out)):
        raise ArgumentError(
            f"--out {args.out} holds the source {args.source}, which replacing it would "
            "delete; import into another folder"
        )
    check_replaceable(out, what=Param("out"))  # first: --force cannot fix it
    if out.exists() and not args.force:
        raise TableFileError(f"{out} exists; pass --force to replace it")
    fmt = args.format or detect_format(args.source)
    t0 = time.perf_counter()
    # the one entry of every importer, --space too: each check it makes applies here
    table = import_table(
        args.source,
        format=fmt,
        allow_unsafe_pickle=args.allow_unsafe_pickle,
        # a terminal's bar where the format draws one; --progress typed for another is refused
        progress=args.progress or (budget.progress_enabled() and fmt in PROGRESS_FORMATS),
        curves=args.curves,
        space=args.space,
    )
    src = args.source if args.source == "analognas" else real(args.source)
    # the command as typed (a rebuild hint adds --force itself): --format only when given, the
    # flags that shape the table; --progress and --json change no byte of it
    flags = tuple(
        flag
        for flag, typed in (
            ("--force", args.force),
            ("--curves", args.curves is True),
            ("--no-curves", args.curves is False),
            ("--allow-unsafe-pickle", args.allow_unsafe_pickle),
        )
        if typed
    )
    if args.space is not None:  # one word: the stored command is split back into flags
        flags = (*flags, f"--space={args.space}")
    table.meta["import_command"] = import_command(src, out, args.format, flags)
    try:  # the table replaced, if its manifest still reads (a damaged parquet's rebuild too)
        before = recorded_source(read_manifest(out).get("meta", {})) if out.exists() else None
    except TableFileError:
        before = None
    save_table(table, out, overwrite=args.force)  # a table written there meanwhile is kept
    _warn_changed_source(out, before, recorded_source(table.meta))
    took = time.perf_counter() - t0
    summary = {
        "out": str(out),
        "format": fmt,
        "source": table.source,
        "archs": table.space.size,
        "vectors": len(table.data),
        # how long the command took; search's "simulated_seconds" are simulated training time
        "wall_seconds": round(took, 3),
    }
    if args.json:
        emit_json(summary)
    else:
        print(
            f"imported {fmt} ({table.source}): {len(table.data)} vectors over "
            f"{table.space.size} archs -> {one_line(str(out))} in {took:.2f} s"
        )
    return 0


def _warn_changed_source(
    out: Path, before: tuple[str | None, str | None] | None, now: tuple[str | None, str | None]
) -> None:
    """Warn when the table ``out`` held (``before``: its recorded source file and sha256) was
    imported from the file just imported again (``now``) while that file held other bytes:
    the rebuild is what was asked for, but numbers that change under the same name and
    command must not change unsaid. Paths recorded relative to another working folder are
    not compared: which file they named is unknown."""
    (old_file, old_sha), (new_file, new_sha) = before or (None, None), now
    if old_file is None or new_file is None or old_sha is None or new_sha is None:
        return
    if not (os.path.isabs(old_file) and os.path.isabs(new_file)) or old_sha == new_sha:
        return
    if os.path.realpath(old_file) != os.path.realpath(new_file):  # another file: no change
        return
    logging.getLogger(__name__).warning(
        "%s held the import of %s at sha256 %s, and that file now has sha256 %s: it changed "
        "since, and the table now holds the changed file's values",
        one_line(str(out)),
        one_line(new_file),
        old_sha[:12],
        new_sha[:12],
    )


def _stand_in_note(
    table: Any,
    index: int,
    dataset: str,
    epochs: int,
    metric: str,
    seeds: list[int],
    mean_row: bool,
) -> str | None:
    """Why cell ``index``'s ``metric`` on ``dataset`` at ``epochs`` is not its own (``query``):
    ``seeds`` are the runs it comes from (its measured seeds of a mean), ``mean_row`` whether
    it is a stored mean (of every seed: a stand-in where any is). Each run is at chance, a copy
    of one cell, or trained; a mean of several says which of its seeds are which. An analytic
    cost is always the cell's own."""
    from nb201_flat.conventions import is_analytic_cost
    from nb201_flat.table import constant_runs, copies_at, records_stand_ins

    if not records_stand_ins(table) or is_analytic_cost(metric):
        return None
    every, at_chance = constant_runs(table)
    # the runs of this schedule recording the cell at chance, and those copying it (the cell
    # each copies); an old flat list's cell is at chance on every run
    chance_runs = {
        seed
        for (ds, ep, seed), cells in at_chance.items()
        if (ds, ep) == (dataset, epochs) and index in cells
    }
    copied = {
        seed: of_run[index]
        for seed, of_run in copies_at(table, dataset, epochs).items()
        if index in of_run
    }
    runs: list[int | None] = list(seeds)
    if mean_row:  # of every seed: those stored and those recorded; a record of the row itself
        recorded = chance_runs | set(copied)  # (seed None) says what the whole row is
        behind = recorded | set(seeds)
        whole = None in recorded or index in every or not behind
        runs = [None] if whole else sorted(behind, key=lambda s: cast(int, s))  # no None
    chance = [s for s in runs if index in every or s in chance_runs]
    copies = {s: copied[s] for s in runs if s in copied and s not in chance}
    trained = [s for s in runs if s not in chance and s not in copies]
    if not chance and not copies:
        return None
    if not trained and not (chance and copies):  # one kind on every run: said once
        if chance:
            return "constant output: disconnected cell, not trained"
        cells = ", ".join(map(str, sorted(set(copies.values()))))
        return f"isomorphic copy, not trained: numbers of cell {cells}"
    # a mean of runs of several kinds (--train-disconnected, other campaigns' copies): each
    # seed as what it is, as a mean holding one copied or chance seed is never passed off
    parts = []
    if chance:
        parts.append(
            f"constant output: disconnected cell, not trained at seed {_seed_list(chance)} of "
            "the mean"
        )
    for source in sorted(set(copies.values())):
        of = [s for s, c in copies.items() if c == source]
        parts.append(
            f"isomorphic copy, not trained at seed {_seed_list(of)} of the mean: numbers of "
            f"cell {source}"
        )
    note = "; ".join(parts)
    return f"{note} (trained at seed {_seed_list(trained)})" if trained else note


def _seed_list(seeds: list[int | None]) -> str:
    return ", ".join(map(str, seeds))  # of a mean's several runs: never a stored mean's (None)


def _cell_counts(table: Any) -> dict[str, int] | None:
    """How many cells with numbers were trained, and how many hold stand-ins (``info``)."""
    import numpy as np

    from nb201_flat.conventions import is_analytic_cost
    from nb201_flat.table import constant_at, copies_at, stand_ins

    found = stand_ins(table)
    if found is None:
        return None
    constant, copies = found
    trained: set[int] = set()
    for (key, seed), arr in table.data.items():
        if is_analytic_cost(key.metric):  # a value for every cell, trained or not
            continue
        # a cell is trained where a run of its own measured it: at chance on seed 1 and
        # trained on seed 2 is trained, so is one copied on seed 1 and trained on seed 2 (a
        # stored mean, of every seed, is at chance or a copy if any is)
        at_chance = constant_at(table, key.dataset, key.epochs, None if seed is None else [seed])
        copied = {
            cell
            for sd, of_run in copies_at(table, key.dataset, key.epochs).items()
            if seed is None or sd == seed
            for cell in of_run
        }
        trained |= set(np.flatnonzero(~np.isnan(arr)).tolist()) - at_chance - copied
    return {
        "trained": len(trained),
        "constant_output": len(constant),
        "isomorphic_copies": len(copies),
        # counted in both: trained on some runs, recorded at chance (or copied) on others
        "trained_and_constant_output": len(trained & constant),
        "trained_and_isomorphic_copy": len(trained & set(copies)),
    }


def cmd_info(args: argparse.Namespace) -> int:
    from nb201_flat.storage import recorded_source
    from nb201_flat.table import INFO_COLUMNS

    table = open_table(args)
    records = table.info_records()  # plain records: the command does not load pandas
    source_file, source_sha256 = recorded_source(table.meta)  # None where none was recorded
    payload: dict[str, Any] = {
        "source": table.source,
        "source_file": source_file,
        "source_sha256": source_sha256,
        "table_path": table.meta.get("path"),
        "table_sha256": table.meta.get("sha256"),  # the table's own file, table.parquet
        "archs": table.space.size,
        "space": table.space.spec(),
        # per-key "archs" counts stand-ins too: say how many cells were really trained
        "cells": _cell_counts(table),
        # Table.info's columns in the JSON's vocabulary: the cells measured, whether a mean
        # is stored, the stored seeds as numbers (a list, as the landscape commands write it)
        "keys": [
            {
                **{part: r[part] for part in ("dataset", "split", "epochs", "metric")},
                "measured": r["archs"],
                "stored_mean": r["mean"],
                "stored_seeds": [int(sd) for sd in table.seeds(key)],
            }
            for key, r in zip(table.keys(), records, strict=True)  # info_records' order
        ],
    }
    if args.json:
        emit_json(payload)
        return 0
    print(f"table          {one_line(str(payload['table_path']))}")
    print(f"source         {one_line(table.source)}")
    # what the import read (a legacy .pth's warning says to compare file_sha256), apart from
    # the digest of the table's own parquet file
    print(f"source file    {one_line(source_file or 'not recorded')}")
    print(f"source sha256  {source_sha256 or 'not recorded'}")
    # the stored file's digest, not the values': pyarrow versions write one set of values in
    # other bytes. Nor the space (the manifest's): the space line below names the ops
    print(f"table.parquet sha256  {payload['table_sha256']}")
    # what the table holds: these lines keep their labels as they were printed before the
    # provenance lines above grew (scripts and tests read "cells   ")
    space = table.space
    print(
        f"space   {space.size} archs, {len(space.ops)} ops ({', '.join(space.ops)}), "
        f"{space.n_nodes} nodes"
    )
    if (cells := payload["cells"]) is not None:
        print(
            f"cells   {cells['trained']} trained; stand-ins (not trained): "
            f"{cells['constant_output']} constant-output (disconnected, chance accuracy), "
            f"{cells['isomorphic_copies']} isomorphic copies (a trained cell's numbers)"
            + "".join(
                f"; {both} cell{'s' if both > 1 else ''} counted in both, trained on some "
                f"runs and {what} on others"
                for both, what in (
                    (cells["trained_and_constant_output"], "constant-output"),
                    (cells["trained_and_isomorphic_copy"], "an isomorphic copy"),
                )
                if both
            )
        )
    cells = [list(INFO_COLUMNS)] + [[str(r[c]) for c in INFO_COLUMNS] for r in records]
    widths = [max(len(row[i]) for row in cells) for i in range(len(INFO_COLUMNS))]
    for row in cells:
        print(" ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_query(args: argparse.Namespace) -> int:

    if args.rng_seed is not None and args.rng_seed < 0:
        raise ArgumentError(f"--rng-seed must be >= 0, got {args.rng_seed}")
    table = open_table(args)
    arch = table.space.resolve(args.arch)
    policy = args.seed_policy
    if args.seed is not None:
        if policy is not None:
            raise ArgumentError("pass --seed-policy only (--seed is its deprecated spelling)")
        logging.getLogger(__name__).warning("--seed is deprecated here; use --seed-policy")
        policy = args.seed
    policy = "mean" if policy is None else policy
    key = (args.dataset, args.split, args.epochs, args.metric)
    if policy == "random":  # before --rng-seed is asked for: one seed leaves it nothing to do
        from nb201_flat.table import check_random_draw

        mkey = table.key(*key)
        check_random_draw(mkey, table.seeds(mkey))
    if policy == "random" and args.rng_seed is None:
        raise ArgumentError(
            "--seed-policy random needs --rng-seed N (the generator seed), so the draw is "
            "reproducible"
        )
    if policy != "random" and args.rng_seed is not None:
        raise ArgumentError(
            f"--rng-seed applies only with --seed-policy random, not {policy!r}; drop it"
        )
    # a random draw is made once: the stored seed it picks is served, and named
    drawn = table.random_seed(arch, *key, rng=args.rng_seed) if policy == "random" else None
    value = table.value(
        arch, *key, seed_policy=cast("SeedPolicy", policy if drawn is None else drawn)
    )
    payload = {
        "index": arch.index,
        "arch": arch.to_str(),
        "dataset": args.dataset,
        "split": args.split,
        "epochs": args.epochs,
        "metric": args.metric,
        "seed_policy": policy,
        # the generator seed of a random draw (None otherwise): the output alone reproduces it
        "rng_seed": args.rng_seed,
        # the stored seed that draw served (None otherwise)
        "seed_drawn": drawn,
        "value": value,
        # a stand-in's value is served, but never passed off as the cell's own measurement
        "stand_in": _stand_in_note(
            table,
            arch.index,
            args.dataset,
            args.epochs,
            args.metric,
            *_seeds_served(table, args, arch.index, policy, drawn),
        ),
        "source": table.source,
    }
    # the seeds measured at this cell, in either layout: a stored value (which cannot say
    # what it averaged) as much as a mean computed over them (its seeds_averaged: null where
    # it is over every stored seed, or where the value is stored)
    mkey = table.key(args.dataset, args.split, args.epochs, args.metric)
    measured, unmeasured = _cell_seeds(table, mkey, arch.index)
    read = seed_fields(table, mkey)["values_read"] if policy == "mean" else "stored seed"
    computed = read == "mean over stored seeds"
    payload["values_read"] = read
    payload["seeds_measured"] = measured
    payload["seeds_averaged"] = measured if computed and unmeasured else None
    payload["seeds_unmeasured"] = unmeasured or None
    if args.json:
        emit_json(payload)
    else:
        note = f"  [stand-in: {payload['stand_in']}]" if payload["stand_in"] else ""
        missed = f" only; not measured at {seed_list(unmeasured)}" if unmeasured else ""
        if policy == "mean" and computed and unmeasured:
            note += f"  [mean of {seed_list(measured)}{missed}]"
        elif policy == "mean" and not computed and measured:  # the seeds beside it, unread
            note += f"  [measured here at {seed_list(measured)}{missed}]"
        label = "stored value" if policy == "mean" and not computed else str(policy)
        drawn_words = (
            f", --rng-seed {args.rng_seed}: seed {drawn}" if args.rng_seed is not None else ""
        )
        print(
            f"{arch.index}  {arch}  {args.dataset}/{args.split}@{args.epochs} "
            f"{args.metric} [{label}{drawn_words}] = {value_text(value)}{note}"
        )
    return 0


def _seeds_served(
    table: Any, args: argparse.Namespace, index: int, policy: object, drawn: int | None
) -> tuple[list[int], bool]:
    """``(seeds, mean_row)``: the stored seeds cell ``index``'s served value comes from (the
    one drawn or named, or those a mean averages: its measured ones), and whether that value
    is a stored mean row (of every seed, those stored among them)."""
    if drawn is not None:
        return [drawn], False
    if policy != "mean":
        return [cast(int, policy)], False
    key = table.key(args.dataset, args.split, args.epochs, args.metric)
    return _cell_seeds(table, key, index)[0], (key, None) in table.data


def _cell_seeds(table: Any, key: Any, index: int) -> tuple[list[int], list[int]]:
    """``(measured, unmeasured)``: the stored seeds of ``key`` with a value for cell
    ``index``, and those without (``query`` and ``record`` say both, whether the key stores
    a mean row or not)."""
    import numpy as np

    seeds = table.seeds(key)
    measured = [s for s in seeds if not np.isnan(table.data[(key, s)][index])]
    return measured, [s for s in seeds if s not in measured]


def cmd_record(args: argparse.Namespace) -> int:
    from nb201_flat.table import constant_runs, stand_ins

    table = open_table(args)
    arch = table.space.resolve(args.arch)
    entries: list[dict[str, Any]] = []
    # keys this cell was never measured on are listed, never shown as a nan value
    not_measured: list[str] = []
    for key in table:
        value = float(table.vector_for(key)[arch.index])
        measured, unmeasured = _cell_seeds(table, key, arch.index)
        if math.isnan(value) and not measured:
            not_measured.append(str(key))
            continue
        # what the value is, as query says it: a stored value (not called a mean) or the
        # mean of the seeds shown; the seeds not measured here, in either layout
        entries.append(  # a stored value of nan beside stored seeds: shown as - (null in JSON)
            {
                "dataset": key.dataset,
                "split": key.split,
                "epochs": key.epochs,
                "metric": key.metric,
                "value": value,
                "values_read": seed_fields(table, key)["values_read"],
                "seed_values": {s: float(table.data[(key, s)][arch.index]) for s in measured},
                "seeds_unmeasured": unmeasured or None,
            }
        )
    if not entries:  # a record of nothing: an error, as query's of one such value
        raise MissingValueError(
            f"architecture {arch.index} was never measured: no key of this table has a "
            "value for it; record a cell the table measures (`nb201-flat info` shows how many "
            "cells each key measures)"
        )
    from nb201_flat.conventions import is_analytic_cost

    constant, copies = stand_ins(table) or (set(), {})
    every, by_run = constant_runs(table) if arch.index in constant else (set(), {})
    # the runs this cell was recorded at chance in (an old table's flat list: every run, and
    # analytic costs are no run's)
    runs = (
        {(k.dataset, k.epochs, s) for k, s in table.data if not is_analytic_cost(k.metric)}
        if arch.index in every
        else set()
    )
    runs |= {run for run, cells in by_run.items() if arch.index in cells}
    at_chance = [
        {"dataset": d, "epochs": e, "stored_seed": sd}
        for d, e, sd in sorted(runs, key=lambda r: (r[0], r[1], -1 if r[2] is None else r[2]))
    ]
    copied = [  # the runs this cell's numbers were copied from (the database's seed id)
        {
            "dataset": r["dataset"],
            "epochs": r["epochs"],
            "stored_seed": r["seed"],
            "from": r["copied_from"],
        }
        for r in copies.get(arch.index, [])
    ]
    if args.json:
        emit_json(
            {
                "index": arch.index,
                "arch": arch.to_str(),
                "source": table.source,
                "constant_output": arch.index in constant,
                "constant_output_runs": at_chance,
                "copied_from": copied,
                "entries": entries,
                "not_measured": not_measured,
            }
        )
        return 0
    print(f"{arch.index}  {arch}  ({table.source})")

    def seed_words(seed: object) -> str:  # a stored mean's run, else the seed's id
        return "mean" if seed is None else f"id {seed}"

    for r in at_chance:
        print(
            f"  stand-in: constant output (disconnected cell, not trained): {r['dataset']}@"
            f"{r['epochs']}ep seed {seed_words(r['stored_seed'])} is at chance accuracy, loss and "
            "time not measured"
        )
    for c in copied:
        print(
            f"  stand-in: isomorphic copy, not trained: {c['dataset']}@{c['epochs']}ep seed "
            f"{seed_words(c['stored_seed'])} holds the numbers of cell {c['from']}"
        )
    # each value tagged as what it is: "stored" (the key's stored value) or "mean" (of the
    # seeds shown beside it)
    print(
        f"  {'dataset':<15} {'split':<9} {'epochs':>6} {'metric':<16} {'value':>12} {'':<6}  seeds"
    )
    for e in entries:
        # as the value is shown: 4 significant digits printed 12345.678 and 12351.2 alike
        per_seed = " ".join(f"{s}:{value_text(v)}" for s, v in e["seed_values"].items())
        computed = e["values_read"] == "mean over stored seeds"
        if e["seeds_unmeasured"]:
            missed = f"not measured at {', '.join(map(str, e['seeds_unmeasured']))}"
            per_seed += f"  [{'mean of these only; ' if computed else ''}{missed}]"
        print(
            f"  {e['dataset']:<15} {e['split']:<9} {e['epochs']:>6} {e['metric']:<16} "
            f"{value_text(e['value']):>12} {'mean' if computed else 'stored':<6}  "
            f"{per_seed or '-'}"
        )
    if not_measured:
        print(f"  not measured for this cell: {', '.join(not_measured)}")
    return 0
