"""CLI commands of the retraining backend: ``model`` (size of a network) and ``train``.

Registering them imports neither torch nor the trainer: ``model`` needs only the analytic cost
formulas, and ``train`` loads the trainer in the worker that runs a job.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nb201_flat.cli.common import add_json_arg, add_renamed_flag, emit_json, parse_int
from nb201_flat.conventions import DATASETS
from nb201_flat.errors import (
    ArgumentError,
    InvalidArchError,
    Param,
    ResultsDBError,
    check_int_range,
    shown,
)

log = logging.getLogger(__name__)

#: ``--eval-batch-size``'s default: the recipe's (``train.recipe.Recipe.eval_batch_size``),
#: stated here so that building the command line does not import the training package
EVAL_BATCH_SIZE = 1024

_DATASETS = DATASETS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``model`` and ``train`` subcommands."""
    p = sub.add_parser(
        "model",
        help="parameters (M, millions; NB201 calls them MB) and FLOPs (M) of a cell's network",
        description="Size of the NB201 network of ARCH: parameters / 1e6 (classifier "
        "included) and FLOPs / 1e6 for one image of the dataset's size, NB201's conventions.",
    )
    p.add_argument("arch", help="official NB201 string or NB201 index")
    p.add_argument("--dataset", default="cifar10", choices=_DATASETS, help="default: cifar10")
    _add_network_args(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_model)

    p = sub.add_parser(
        "train",
        help="retrain architectures with the NB201 recipe",
        description="Train each ARCH for each seed with NB201's recipe; results go to the "
        "SQLite file --db (runs already there are skipped; interrupted runs resume).",
    )
    p.add_argument(
        "archs", nargs="*", metavar="ARCH", help="cell strings or indices in the space (--ops)"
    )
    g = p.add_argument_group("cell sets (united; see nb201_flat.train.campaign)")
    g.add_argument("--neighbours-of", metavar="ARCH", help="train the Hamming ball around ARCH")
    g.add_argument("--radius", type=parse_int, help="radius of --neighbours-of (1)")
    g.add_argument("--sample", type=parse_int, metavar="N", help="N cells drawn uniformly")
    sample_seed = g.add_argument(
        "--sample-seed", type=parse_int, metavar="S", help="seed of --sample (required with it)"
    )
    add_renamed_flag(g, "--seed", sample_seed)  # its spelling before 0.2.0
    g.add_argument(
        "--unique-isomorphism",
        action="store_true",
        help="train one member per isomorphism class; the others are recorded in --db as "
        "isomorphic to it (an imported table gives them its numbers, listed in meta)",
    )
    g.add_argument(
        "--train-disconnected",
        action="store_true",
        help="also train disconnected cells (default: not trained, chance accuracy reported)",
    )
    g.add_argument("--ops", nargs="+", metavar="OP", help="op set of the space (default NB201's)")
    g.add_argument("--nodes", type=parse_int, help="nodes per cell, input and output included (4)")
    p.add_argument("--dataset", required=True, choices=_DATASETS)
    p.add_argument(
        "--epochs", type=parse_int, default=200, help="schedule length: 200 (default), 12 or any N"
    )
    p.add_argument("--seeds", type=parse_int, nargs="+", default=[777], help="default: 777")
    p.add_argument("--data-root", required=True, help="folder holding the dataset folders")
    p.add_argument(
        "--split-dir",
        help="folder holding NB201's split file for the dataset (cifar10-valid, cifar100, "
        "ImageNet16-120; an error for cifar10, which has none, or when the file is missing). "
        "Default: the file in --data-root if there, else the copy shipped with the package",
    )
    p.add_argument("--db", required=True, help="SQLite results file (created if missing)")
    p.add_argument("--ckpt-dir", help="checkpoint folder (default: <db>.ckpt)")
    p.add_argument(
        "--retrain-damaged",
        action="store_true",
        help="train again the runs of this command whose rows in --db are damaged (a row "
        "that fails its checksum, or that no training writes, or a curve with a hole): their "
        "rows are deleted from every table first, in one transaction, and their checkpoints "
        "with them. Checkpoints past a run's rows (another database's, or a crash before the "
        "database synced) are deleted down to the last epoch its rows hold without a gap, and "
        "the run resumes there (from its first epoch when none is left). Stray rows "
        "(damaged rows whose key names no run in --db, a key changed by hand) are put back "
        "under the run their checksum matches, or deleted where none does; each is reported. "
        "Default: a damaged run is refused",
    )
    p.add_argument(
        "--device", default="auto", help="cuda, cuda:N or cpu (default: cuda when available)"
    )
    p.add_argument(
        "--executor",
        default="local",
        help="local (worker processes, default), inline (this process), dask://HOST:PORT, slurm",
    )
    p.add_argument(
        "--jobs-per-device", type=parse_int, help="concurrent jobs per device (1; --executor local)"
    )
    p.add_argument(
        "--threads",
        type=parse_int,
        metavar="N",
        help="torch CPU threads of each run on the CPU (1..4096). A CPU's numbers depend on the count: it "
        "is recorded with the device, and a resume under another count is refused. Default: "
        "torch's (OMP_NUM_THREADS, else the cores) with --executor inline, the CPUs this "
        "process may use / --jobs-per-device with --executor local",
    )
    p.add_argument(
        "--retries", type=parse_int, default=1, help="extra attempts per failed job (default 1)"
    )
    p.add_argument(
        "--mode",
        default="faithful",
        choices=("faithful", "fast"),
        help="faithful: NB201's numerics (fp32, TF32 off, deterministic cuDNN, LR per epoch; "
        "default); fast: bf16, channels-last, cudnn.benchmark, torch.compile (CUDA). "
        "The mode is part of the results key",
    )
    p.add_argument(
        "--group-seeds",
        type=parse_int,
        default=1,
        metavar="K",
        help="train up to K seeds of one cell as one grouped network (either mode; each "
        "seed's result is stored under its own key, as if trained alone); default 1",
    )
    p.add_argument(
        "--concurrent",
        type=parse_int,
        default=1,
        metavar="K",
        help="train up to K runs of different cells at once in one process, one CUDA stream "
        "each, sharing one copy of the data (CUDA only: refused on a CPU, where they could "
        "only train in turn; not with --group-seeds); each run stored as if trained alone. "
        "Default 1",
    )
    p.add_argument(
        "--eval-every",
        type=parse_int,
        metavar="K",
        help="evaluate every K epochs (the last epoch always); default: every epoch in "
        "faithful mode, every 5 in fast mode. Does not change training or the final numbers",
    )
    p.add_argument(
        "--eval-batch-size",
        type=parse_int,
        default=EVAL_BATCH_SIZE,
        metavar="B",
        help=f"evaluation batch size, separate from the training batch ({EVAL_BATCH_SIZE})",
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the network (fast mode does on CUDA by default). --no-compile: "
        "fast mode eager, under its own results key (fast-bf16-tf32-nocompile). Fast mode on "
        "CUDA only: faithful mode and runs off CUDA never compile, and refuse either",
    )
    _add_network_args(p)
    p.add_argument("--progress", action="store_true", help="progress bar (inline executor)")
    add_json_arg(p)
    # plan_campaign's sample_n is --sample, a job's db_path is
    # --db, the executor's address (and executor_from_spec's spec) --executor
    # (common.error_line); the parser respells the failed runs' errors as well
    p.set_defaults(
        func=cmd_train,
        param_dests={
            "sample_n": "sample",
            "db_path": "db",
            "address": "executor",
            "spec": "executor",
            "cluster": "executor",  # SlurmExecutor's cluster='local': --executor local
        },
    )
    _refuse_arch_after_seeds_value(p)


def _refuse_arch_after_seeds_value(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` refuse ``--seeds=V`` followed by bare words: argparse gives the ``=``
    form its one value and every word after it to ARCH, and an ARCH index reads as a seed
    too (``--seeds=1 2 0`` trained cells 2 and 0 at seed 1, and seed 2 never). Only the words
    as typed tell this form from ``--seeds 1 -- 2 0``, so it is said while parsing, before
    anything reaches ``--db``."""
    parse = parser.parse_known_args

    def parse_known_args(
        args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        for i, word in enumerate(words):
            if word == "--":  # every word after it is ARCH, a "--seeds=" too
                break
            if not word.startswith("--seeds="):
                continue
            cells = list(itertools.takewhile(lambda w: not w.startswith("-"), words[i + 1 :]))
            if cells:
                parser.error(
                    f"{word} takes one seed and gives the words after it "
                    f"({' '.join(map(shlex.quote, cells))}) to ARCH; write seeds then cells as "
                    "--seeds V W -- ARCH, or put ARCH before --seeds"
                )
        return parse(args, namespace)

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign,assignment]


def _add_network_args(p: argparse.ArgumentParser) -> None:
    """--C and --N, their help stating the bounds :func:`_check_network` holds them to."""
    from nb201_flat.train.costs import MAX_C, MAX_N  # numpy only, no torch

    p.add_argument(
        "--C", dest="c", type=parse_int, default=16, help=f"first-stage channels, 1..{MAX_C} (16)"
    )
    p.add_argument(
        "--N", dest="n", type=parse_int, default=5, help=f"cells per stage, 1..{MAX_N} (5)"
    )


def _check_network(args: argparse.Namespace) -> None:
    """--C and --N by the counts' own bounds (costs.check_network): one line naming the flag.
    At least one cell per stage: without one, ARCH would be ignored."""
    from nb201_flat.train.costs import check_network

    check_network(args.c, args.n, min_n=1)


_INT64_MAX = 2**63 - 1
"""Largest epoch count, seed and cell index: the results database stores them as SQLite
integers, and a space's indices are int64."""


def _check_run_values(args: argparse.Namespace) -> None:
    """Schedule, seeds and executor options: values a run could not store, or that do nothing."""
    if args.epochs < 1:
        raise ArgumentError(f"--epochs must be >= 1, got {args.epochs}")
    if args.epochs > _INT64_MAX:
        raise ArgumentError(f"--epochs must be <= {_INT64_MAX}, got {args.epochs}; NB201 uses 200")
    from nb201_flat.train.jobs import check_seeds  # no torch

    check_seeds(args.seeds)  # the rule make_jobs applies, spelled as --seeds
    if args.group_seeds > 1 and len(args.seeds) == 1:
        raise ArgumentError(
            f"--group-seeds {args.group_seeds} groups the seeds of each cell, but --seeds gives "
            "one; give more --seeds or drop --group-seeds"
        )
    if args.jobs_per_device is not None:
        if args.executor != "local":
            raise ArgumentError(
                f"--jobs-per-device applies only to --executor local, not {args.executor}; drop it"
            )
        check_int_range(
            Param("jobs_per_device"),
            args.jobs_per_device,
            1,
            fix=("the default is ", Param("jobs_per_device", 1)),
        )
    if args.progress and args.executor != "inline":
        raise ArgumentError(
            f"--progress shows a bar only with --executor inline, not {args.executor}; "
            "add --executor inline or drop --progress"
        )


def _space_of(args: argparse.Namespace) -> Any:
    """The space of ``--ops`` / ``--nodes``, checked before it is built (a huge ``--nodes``
    would build a huge edge list; ops a network cannot build must not reach the database)."""
    from nb201_flat.space import NB201, NB201_OPS, Space
    from nb201_flat.train.costs import OP_COSTS, check_op_names

    if args.ops is None and args.nodes is None:
        return NB201
    ops = tuple(args.ops or NB201_OPS)
    repeated = sorted({op for op in ops if ops.count(op) > 1})
    if repeated:
        raise ArgumentError(f"--ops repeats {', '.join(map(repr, repeated))}; give each op once")
    if len(ops) < 2:  # quoted: an empty op must show
        raise ArgumentError(
            f"--ops needs at least two ops, got {' '.join(map(repr, ops))}; add another op"
        )
    cells = [op for op in ops if op not in OP_COSTS and (op.isdigit() or op.startswith("|"))]
    if cells:  # argparse gives --ops every word after it, an ARCH too
        # quoted as a shell reads it: a cell string's '|' pasted bare is a pipe
        rest = " ".join(shlex.quote(o) for o in ops if o not in cells)
        raise ArgumentError(
            f"--ops read the ARCH {cells[0]} as an op; put ARCH before --ops, or end the "
            f"command with --ops {rest} -- {shlex.quote(cells[0])}"
        )
    check_op_names(ops)  # every unknown op in one line (one at a time named the first only)
    nodes = 4 if args.nodes is None else args.nodes

    def fits(n: int) -> bool:
        edges = n * (n - 1) // 2
        return edges <= 63 and len(ops) ** edges <= _INT64_MAX

    if nodes < 2 or not fits(nodes):
        top = max(n for n in range(2, 64) if fits(n))
        raise ArgumentError(
            f"--nodes must lie in 2..{top} for {len(ops)} ops (input and output included; "
            f"more cells than a 64-bit index holds above), got {nodes}; NB201 uses 4"
        )
    return Space(ops, nodes)


def _plan_of(space: Any, args: argparse.Namespace) -> Any:
    """The campaign of the cell-set options in ``space``
    (:func:`~nb201_flat.train.campaign.plan_campaign`)."""
    from nb201_flat.space import NB201
    from nb201_flat.train.campaign import plan_campaign

    given = (args.archs, args.neighbours_of, args.radius, args.sample, args.sample_seed)
    if not any(x is not None and x != [] for x in given) and len(args.seeds) > 1:
        # argparse gives --seeds every word after it, an ARCH too: "give ARCH" was said to
        # `--seeds 1 2 0`, whose 0 was meant as one
        raise ArgumentError(
            f"no cells selected, and --seeds took {' '.join(map(str, args.seeds))}; if ARCH is "
            "among them, write --seeds V W -- ARCH or put ARCH before --seeds, else give ARCH, "
            "--neighbours-of or --sample"
        )
    try:
        return plan_campaign(
            space,
            # ASCII digits: '²' met int()'s traceback, '５' was read as cell 5
            archs=[int(a) if a.isascii() and a.isdigit() else a for a in args.archs],
            neighbours_of=(
                int(args.neighbours_of)
                if (args.neighbours_of or "").isascii() and (args.neighbours_of or "").isdigit()
                else args.neighbours_of
            ),
            radius=args.radius,
            sample_n=args.sample,
            sample_seed=args.sample_seed,
            unique_isomorphism=args.unique_isomorphism,
            train_disconnected=args.train_disconnected,
        )
    except InvalidArchError as exc:  # a cell of another space: say which space was meant
        where = "NB201's" if space == NB201 else f"the {space.n_nodes}-node, {space.n_ops}-op"
        raise InvalidArchError(
            f"{exc} (cells are read in {where} space; set it with --ops / --nodes)"
        ) from None


def _check_device(device: str, executor: str) -> None:
    """Refuse a device this machine lacks where the runs train on this machine (a dask or
    Slurm worker checks its own), before every run fails the same way: the trainer's rule
    (:func:`~nb201_flat.train.jobs.device_shortfall`), as --device."""
    if executor not in ("local", "inline"):
        return
    from nb201_flat.train.jobs import device_shortfall

    if (short := device_shortfall(device)) is not None:
        problem, fix = short
        raise ArgumentError(f"--device {device}: {problem}; use --device {fix}")


def _check_dangling_link(option: str, path: str) -> None:
    """Refuse a link ``path`` whose target is missing where it cannot be made through the link:
    SQLite creates a database through one into an existing folder, but not the folder, and no
    folder is made through one (every run failed, and left ``<db>.ckpt`` beside the link)."""
    target = os.path.realpath(path)
    if os.path.islink(target):  # realpath stops where links loop
        raise ArgumentError(f"{option} {path} is a link that loops; choose another path")
    missing = target if option == "--ckpt-dir" else os.path.dirname(target)
    if option == "--ckpt-dir" or not os.path.isdir(missing):
        raise ArgumentError(
            f"{option} {path} is a link to {target}, and {missing} does not exist; create "
            "that folder or choose another path"
        )


def _check_writable(db: str, ckpt_dir: str | None) -> None:
    """Create the folders results and checkpoints go to, so an unwritable path is one line
    now rather than every run failing after its training started. The database's folder is
    its target's when ``db`` is a link (SQLite writes there)."""
    folders = [("--db", os.path.dirname(os.path.realpath(db)))]
    folders.append(("--ckpt-dir", ckpt_dir) if ckpt_dir else ("--db", f"{db}.ckpt"))
    for option, folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ArgumentError(
                f"{option}: cannot create folder {folder} ({exc.strerror}); choose a writable path"
            ) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ArgumentError(f"{option}: folder {folder} is not writable; choose another path")


def _check_host_memory(jobs: list[Any], args: argparse.Namespace) -> None:
    """Refuse a network whose weights alone cannot fit in this machine's memory when it trains
    on this machine's CPU: it would fail every attempt, or wake the OOM killer, after the run
    started. A lower bound (weights, gradients, momentum: 12 bytes a parameter, for as many
    networks as the workers hold at once: each trains one unit, a group or a concurrent unit
    holding all its members)."""
    if not _on_this_cpu(args.device, args.executor):
        return
    from nb201_flat import budget
    from nb201_flat.train.costs import count_params
    from nb201_flat.train.data import dataset_info
    from nb201_flat.train.executors import plan_units

    classes = dataset_info(args.dataset).num_classes
    largest = max(
        count_params(j.ops, n_nodes=j.n_nodes, c=j.c, n=j.n, num_classes=classes) for j in jobs
    )
    units = plan_units(
        jobs, range(len(jobs)), group_seeds=args.group_seeds, concurrent=args.concurrent
    )
    at_once = 1 if args.executor == "inline" else min(args.jobs_per_device or 1, len(units))
    workers = at_once * max(len(u) for u in units)
    budget.check_memory(
        12.0 * largest * workers,
        f"training --C {args.c} --N {args.n} on the CPU",
        "use a smaller --C/--N" + (" or fewer --jobs-per-device" if workers > 1 else ""),
    )


def _check_results_db(path: str) -> None:
    """Refuse an existing ``--db`` that is an SQLite database of something else: opening it
    as results would switch it to WAL and add tables to it (or fail on a clashing ``runs``
    table). Read-only through :func:`~nb201_flat.train.results_db.connect_readonly`, which
    leaves no ``-wal``/``-shm`` file beside it. A file not created yet (empty, or without a
    table: :func:`~nb201_flat.train.results_db.not_created_yet`) and results databases pass."""
    import sqlite3

    from nb201_flat.train.results_db import connect_readonly, not_created_yet

    try:
        if not_created_yet(path):
            return
        conn = connect_readonly(path)
    except ResultsDBError as exc:  # a file that is no database: one line naming the flag
        raise ResultsDBError(f"--db: {exc}") from None
    tables: list[str] = []
    try:
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master"))
        ours = (
            "meta" in tables
            and conn.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone()
        )
    except sqlite3.DatabaseError:  # a "meta" table of another shape
        ours = False
    finally:
        conn.close()
    if tables and not ours:
        raise ResultsDBError(
            f"--db {path} is an SQLite database of something else (tables {', '.join(tables)}"
            "); pass another --db"
        )


@dataclass(frozen=True)
class _StoredRuns:
    """What the train command needs of an existing ``--db``, read in one pass."""

    done: frozenset[Any]
    """Keys of the finished runs: skipped, whatever trained them."""
    digests: frozenset[str]
    """Data digests of the runs of the command's dataset, in every space key."""
    damaged: frozenset[Any] = frozenset()
    """Keys of the damaged runs that ``--retrain-damaged`` trains again from scratch."""


def _read_db(path: str, dataset: str, retrain: frozenset[Any] = frozenset()) -> _StoredRuns:
    """The finished runs of ``--db`` and the data its ``dataset`` runs were trained on
    (nothing when it is not created yet: :func:`~nb201_flat.train.results_db.not_created_yet`,
    another train command's new file too), read before the data is, for every check after.
    A damaged run is refused unless its key is in ``retrain`` (``--retrain-damaged``: the
    campaign's runs), which counts it as not done (its job deletes and trains it)."""
    from nb201_flat.train.results_db import ResultsDB, not_created_yet

    if not_created_yet(path):
        return _StoredRuns(frozenset(), frozenset())

    db = ResultsDB(path, readonly=True, named="db_path")
    try:
        damaged: dict[tuple[object, ...], str] = {}
        done, found = db.finished_runs(retrain, damaged=damaged)
        digests = {d for key, d in found.items() if key[2] == dataset}
    finally:
        db.close()
    return _StoredRuns(frozenset(done), frozenset(digests), frozenset(damaged))


def _check_db_data(path: str, dataset: str, stored: _StoredRuns, data: Any) -> None:
    """Refuse an existing ``--db`` (``stored``, read by :func:`_read_db`) holding ``dataset``
    runs trained on other data than the files at hand (``data``, a
    :class:`~nb201_flat.train.data.DataIdentity`), before any run: one database holds one set
    of files per dataset name, whatever the space key, or its table would mix them (each
    write checks the same rule in its transaction,
    :meth:`~nb201_flat.train.results_db.ResultsDB.write_epoch`: a campaign started with this
    one may write after this check)."""
    from nb201_flat.errors import DataMismatchError

    other = sorted(stored.digests - {data.digest})
    if other:
        raise DataMismatchError(
            f"--db {path} holds {dataset} runs trained on other data (other files or another "
            f"split; digest {other[0][:12]}; these files and split: {data.short}); train each "
            "set of files and split into a --db of its own"
        )


def _off_cuda(device: str, executor: str) -> str | None:
    """The device the runs are known to train on when it is no CUDA device, else ``None`` (on
    CUDA, or not known here).

    ``auto`` is resolved here only for executors that run on this machine; a dask or Slurm
    worker resolves it itself.
    """
    local = executor in ("local", "inline")
    if device.startswith("cuda") or (device == "auto" and not local):
        return None
    import torch

    if device == "auto" and torch.cuda.is_available():
        return None
    return device if device != "auto" else "cpu (no CUDA device on this machine)"


def _check_streams(device: str, executor: str, k: int) -> None:
    """Refuse ``--concurrent`` where the runs are known to land on a device without CUDA
    streams (there they could only train in turn: the option would do nothing); a dask or
    Slurm worker that finds no GPU for ``auto`` trains the unit in turn with a warning."""
    where = _off_cuda(device, executor)
    if where is not None:
        raise ArgumentError(
            f"--concurrent {k} trains runs on CUDA streams, but the device is {where}, where "
            "they could only train in turn; drop --concurrent or train on a GPU"
        )


def _check_threads_apply(threads: int | None, device: str, executor: str) -> None:
    """Refuse a bad ``--threads``, or one where the runs are known to train on CUDA (the
    count sets a CPU's training threads)."""
    if threads is None:
        return
    from nb201_flat.train.jobs import check_thread_count

    check_thread_count(threads)
    local = executor in ("local", "inline")
    if _off_cuda(device, executor) is None and (device.startswith("cuda") or local):
        raise ArgumentError(
            f"--threads sets the threads of runs on the CPU, but the device is {device} "
            "(CUDA); drop --threads"
        )


def _on_this_cpu(device: str, executor: str) -> bool:
    """Whether the runs train on this machine's CPU: the executor runs them here, and the
    device is the CPU (``cpu`` or ``cpu:0``, :func:`~nb201_flat.train.jobs.is_cpu`) or
    ``auto`` without CUDA (the trainer's ``auto`` never picks MPS)."""
    from nb201_flat.train.jobs import is_cpu

    if executor not in ("local", "inline"):
        return False
    if device == "auto":
        return _off_cuda(device, executor) is not None
    return is_cpu(device)


def _run_threads(args: argparse.Namespace) -> int | None:
    """The CPU thread count the runs will train with, where they train on this machine's
    CPU; else ``None`` (not on a CPU, or not known here)."""
    if not _on_this_cpu(args.device, args.executor):
        return None
    if args.threads is not None:
        return int(args.threads)
    if args.executor == "local":
        from nb201_flat.train.executors import local_cpu_threads

        return local_cpu_threads(args.jobs_per_device or 1)
    import torch

    return int(torch.get_num_threads())  # inline: this process's


def _check_compile_applies(compile: bool | None, device: str, executor: str) -> None:
    """Refuse ``--compile`` / ``--no-compile`` where the runs are known to train off CUDA:
    fast mode compiles only on CUDA, so either would change nothing there but the results
    key (``--no-compile`` stores CPU numbers apart from the same numbers without it)."""
    where = None if compile is None else _off_cuda(device, executor)
    if where is not None:
        flag = "--compile" if compile else "--no-compile"
        raise ArgumentError(
            f"{flag} applies only on CUDA (fast mode never compiles elsewhere), but the device "
            f"is {where}; drop {flag}"
        )


def cmd_model(args: argparse.Namespace) -> int:
    _check_network(args)
    from nb201_flat.space import NB201
    from nb201_flat.train import costs
    from nb201_flat.train.data import dataset_info

    arch = NB201.resolve(args.arch)
    info = dataset_info(args.dataset)
    kw: dict[str, Any] = {"n_nodes": NB201.n_nodes, "c": args.c, "n": args.n}
    params = costs.params_mb(arch.ops, num_classes=info.num_classes, **kw)
    flops = costs.flops_m(arch.ops, num_classes=info.num_classes, image_size=info.image_size, **kw)
    record = {
        "index": arch.index,
        "arch": str(arch),
        "dataset": args.dataset,
        "params_mb": params,
        "flops_m": flops,
        "input": [3, info.image_size, info.image_size],
        "num_classes": info.num_classes,
        # the network size the numbers are of (NB201: C=16, N=5), as train records it: named
        # in words (an "n" elsewhere is a sample size)
        "channels": args.c,
        "cells_per_stage": args.n,
    }
    if args.json:
        emit_json(record)
    else:
        print(f"{arch}  (index {arch.index})")
        print(f"{args.dataset}, C={args.c} N={args.n}: {params:.6f} M params, {flops:.4f} M FLOPs")
    return 0


def _prepare_runs(
    args: argparse.Namespace,
    plan: Any,
    settings: dict[str, Any],
    jobs: list[Any],
    stored: _StoredRuns,
) -> tuple[Any, list[Any], set[tuple[int, int]]]:
    """The checks that need the data, then the records of the cells answered without
    training: the data's :class:`~nb201_flat.train.data.DataIdentity`, the jobs to map (with
    it, the kept runs of answered cells appended) and those runs' ``(cell, seed)``."""
    from dataclasses import replace

    from nb201_flat.train.data import (
        DatasetNotFoundError,
        check_dataset_files,
        dataset_identity,
        dataset_info,
        download_call,
    )
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.runlock import check_unlocked

    if not os.path.isdir(args.data_root):
        # fail before any worker starts: every job would fail the same way
        fix: list[Any] = ["; give the folder holding the dataset folders"]
        call = download_call(dataset_info(args.dataset).source, args.data_root)
        if call is not None and not os.path.lexists(args.data_root):  # download makes it
            fix += [", or download the dataset into it with ", call]
        shown_root = shown(args.data_root, 400)  # quoted: '' or a trailing space shows
        raise DatasetNotFoundError(f"--data-root {shown_root} is not a folder", *fix)
    check_dataset_files(args.dataset, args.data_root, args.split_dir)
    # once, before any run: every run refuses other bytes (files changed under the campaign,
    # checkpoints or stored runs of other data), and files that are not the official ones are
    # read through here, so a corrupt one fails now rather than in every run
    # faithful mode needs NB201's image counts: one line now, not a failed attempt per run
    strict = args.mode == "faithful"
    data = dataset_identity(args.dataset, args.data_root, args.split_dir, strict=strict)
    _check_db_data(args.db, args.dataset, stored, data)
    # the jobs were built before the data was read: the memory check (a bad option) and
    # whether to reach a dask scheduler need them, and both come before a missing dataset
    settings["data_identity"] = data.digest
    jobs = [replace(j, data_identity=data.digest) for j in jobs]
    _check_writable(args.db, args.ckpt_dir)  # last check: it creates the folders
    for job in jobs:  # one line before any worker starts, not one failed job per run
        check_unlocked(job.checkpoint_folder, job.name)
    # a done run is skipped, whatever trained it; a damaged one trains again from scratch
    skipped = stored.done | stored.damaged
    threads = _run_threads(args)
    if threads is not None:  # likewise: a resume under another count would be refused
        from nb201_flat.train.trainer import check_resume_threads

        check_resume_threads([j for j in jobs if j.key not in skipped], threads)
    from nb201_flat.train.trainer import check_resume_rows

    if args.group_seeds <= 1:  # a group resumes from its members' shared epoch: its own say
        check_resume_rows([j for j in jobs if j.key not in skipped], args.db)
    # what is answered without training goes into the database first: an import while the
    # campaign trains (or after it stopped) already has it. A record leaves a done run of
    # its cell as it is (--train-disconnected, or a campaign without --unique-isomorphism)
    # and says so, in the transaction that looked: such a run is reported as the database
    # holds it, a stored run with its numbers, not as answered without training (no reread
    # of --db, and no run finished by another process in between is missed)
    kept = []
    if plan.constant_output:
        from nb201_flat.train.campaign import record_constant_output

        kept += [
            cj
            for cj in make_jobs(plan.constant_output, **settings)
            if not record_constant_output(cj)
        ]
    if plan.representative:  # the isomorphism mapping, beside the runs
        from nb201_flat.train.campaign import record_isomorphic

        # a member's representative is a trained cell: its jobs are built already
        trained = {(j.index, j.seed): j for j in jobs}
        for mj in make_jobs(plan.representative, **settings):
            if not record_isomorphic(mj, trained[plan.representative[mj.index], mj.seed]):
                kept.append(mj)
    if not data.official:  # after the checks: an error stays the only line it prints
        log.warning(
            "%s under %s is not NB201's (files or split differ from the official ones; data "
            "digest %s): its numbers are not comparable with the benchmark's",
            args.dataset,
            args.data_root,
            data.short,
        )
    return data, jobs + kept, {(j.index, j.seed) for j in kept}


_SKIP_CHECKED = {
    "final_epoch": "their records and final epochs checked, not their earlier epochs (an "
    "import and load_curves check every epoch; --retrain-damaged checks them here, and "
    "trains a damaged run again)",
    "every_epoch": "every row checked (--retrain-damaged)",
}
"""What ``train`` says it checked of the runs it skipped (``skipped_checked`` in --json): a
plain command checks a finished run's records and final epochs (with any row outside its
schedule), one pass over the final epochs and a few lookups a run
(:meth:`~nb201_flat.train.results_db.ResultsDB.finished_runs`); every epoch row costs a
checksum each (~14 µs: minutes for a whole 200-epoch space)."""


def cmd_train(args: argparse.Namespace) -> int:
    from nb201_flat.errors import require

    require("torch", "train")  # one line naming the extra, before any job starts
    from nb201_flat.train.data import dataset_info
    from nb201_flat.train.executors import executor_from_spec
    from nb201_flat.train.jobs import make_jobs

    _check_network(args)
    # counts share the project's one range check (errors.check_int_range): one wording,
    # the flag named through its parameter
    check_int_range(
        Param("retries"),
        args.retries,
        0,
        fix=("it counts extra attempts per failed job: ", Param("retries", 0), " for none"),
    )
    _check_run_values(args)
    from nb201_flat.train.executors import check_unit_sizes

    check_unit_sizes(args.group_seeds, args.concurrent)
    check_int_range(
        Param("eval_batch_size"),
        args.eval_batch_size,
        1,
        fix=("the default is ", Param("eval_batch_size", EVAL_BATCH_SIZE)),
    )
    from nb201_flat.train.jobs import check_device  # no torch

    check_device(args.device)  # the rule of every job, spelled as --device
    _check_device(args.device, args.executor)
    if args.concurrent > 1:
        _check_streams(args.device, args.executor, args.concurrent)
    if args.data_root.strip() == "":  # '' was "--data-root  is not a folder", naming nothing
        raise ArgumentError("--data-root is empty; give the folder holding the dataset folders")
    for name in ("ckpt_dir", "db"):
        value = getattr(args, name)
        if value is not None and value.strip() == "":
            # '' is no path: --db '' made its folder the cwd's parent and its checkpoints
            # ./.ckpt, and every run failed; --ckpt-dir '' fell back to <db>.ckpt unsaid
            option = "--" + name.replace("_", "-")
            example = "runs/ckpt" if name == "ckpt_dir" else "runs/results.sqlite"
            raise ArgumentError(f"{option} is empty; give a path such as {example}")
        # a device such as /dev/null exists and is no folder, and SQLite cannot use it either
        is_kind = os.path.isdir if name == "ckpt_dir" else os.path.isfile
        option = "--" + name.replace("_", "-")
        if value and os.path.exists(value) and not is_kind(value):
            kind = "a folder" if name == "ckpt_dir" else "a regular file"
            raise ArgumentError(f"{option} {value} exists but is not {kind}; choose another path")
        if value and os.path.islink(value) and not os.path.exists(value):
            _check_dangling_link(option, value)
    from nb201_flat.train.results_db import check_name_room

    # the files SQLite writes beside it fit their folder's longest name: before any is made
    check_name_room(args.db, "db_path")
    _check_results_db(args.db)
    # everything that needs no data is checked before the data is looked for, so a bad
    # option is the first error, not a missing dataset folder
    from nb201_flat.train.data import check_split_dir_applies
    from nb201_flat.train.jobs import check_eval_every
    from nb201_flat.train.modes import effective_mode

    effective_mode(args.mode, compile=args.compile)
    _check_compile_applies(args.compile, args.device, args.executor)
    _check_threads_apply(args.threads, args.device, args.executor)
    check_eval_every(args.eval_every, args.epochs)
    check_split_dir_applies(args.dataset, args.split_dir)
    space = _space_of(args)
    plan = _plan_of(space, args)
    devices = None if args.device == "auto" else [args.device]
    # an unknown executor is refused before any folder is made
    ex = executor_from_spec(
        args.executor,
        devices=devices,
        jobs_per_device=args.jobs_per_device or 1,
        retries=args.retries,
        slurm_folder=os.path.join(os.path.dirname(os.path.abspath(args.db)), "submitit"),
        group_seeds=args.group_seeds,
        concurrent=args.concurrent,
        progress=args.progress,
    )
    from dataclasses import replace

    from nb201_flat.train.recipe import recipe_for

    recipe = replace(recipe_for(args.epochs), eval_batch_size=args.eval_batch_size)
    # one set of job settings for the trained cells and the constant-output ones, so both
    # land under the same results key; the data's identity joins them once it is read
    settings: dict[str, Any] = {
        "space": space,
        "dataset": args.dataset,
        "epochs": args.epochs,
        "recipe": recipe,
        "eval_every": args.eval_every,
        "seeds": args.seeds,
        "data_root": args.data_root,
        "db_path": args.db,
        "ckpt_dir": args.ckpt_dir,
        "split_dir": args.split_dir,
        "device": args.device,
        "c": args.c,
        "n": args.n,
        "compile": args.compile,
        "mode": args.mode,
        "threads": args.threads,
        "retrain_damaged": args.retrain_damaged,
    }
    jobs = make_jobs(plan.cells, **settings)
    if jobs:
        _check_host_memory(jobs, args)
    # --retrain-damaged: the command's runs, those it records without training too
    answered = [*plan.constant_output, *plan.representative]
    retrain = frozenset(
        j.key for j in ([*jobs, *make_jobs(answered, **settings)] if args.retrain_damaged else [])
    )
    from nb201_flat.train.results_db import ResultsDB, not_created_yet

    if retrain and not not_created_yet(args.db):
        from nb201_flat.train.jobs import clear_stray_rows

        # stray rows name no run of any command: cleared first
        db = ResultsDB(args.db, named="db_path")
        try:
            clear_stray_rows(db)
        finally:
            db.close()
    stored = _read_db(args.db, args.dataset, retrain)  # read once for every use below
    from nb201_flat.train.executors import DaskExecutor

    if isinstance(ex, DaskExecutor) and {j.key for j in jobs} - stored.done:
        ex.connect()  # an unreachable scheduler: its one line before any data warning
    try:
        data, jobs, kept_runs = _prepare_runs(args, plan, settings, jobs, stored)
    except BaseException:
        if isinstance(ex, DaskExecutor):  # a refusal after connect leaves no client open
            ex.close()
        raise
    from nb201_flat.cli.common import spell
    from nb201_flat.errors import spelling_logs

    # a failed run's error names this command's flags, in its log lines as in its record
    spell_flag = spell(args)
    with spelling_logs(spell_flag):
        results = ex.map(jobs)
    records: list[dict[str, Any]] = [
        {
            "index": r.job.index,
            "arch": r.job.arch,
            # the results key, as import --space takes it and a table's meta names it: it tells
            # network sizes apart (info's "space" is the space's spec)
            "space_key": r.job.key.space,
            "dataset": r.job.dataset,
            "epochs": r.job.epochs,
            "seed": r.job.seed,
            "mode": r.job.train_mode.tag,
            "status": r.status,
            "train_time_s": r.train_time_s,
            "metrics": r.metrics,
            "error": r.error_spelled(spell_flag),
        }
        for r in results
    ]

    def untrained(cell: int) -> list[int]:  # its seeds answered without training
        return [s for s in args.seeds if (cell, s) not in kept_runs]

    not_trained = [
        row
        for row in plan.chance_rows(dataset_info(args.dataset).num_classes)
        if untrained(int(str(row["index"])))
    ]
    representative = {k: v for k, v in plan.representative.items() if untrained(k)}
    # how deep a skipped run was checked: its final epochs (one cheap pass), or with
    # --retrain-damaged every epoch; an import and load_curves check every epoch anyway
    skipped = sum(r.status == "skipped" for r in results)
    checked = "every_epoch" if args.retrain_damaged else "final_epoch"
    if args.json:
        emit_json(
            {
                "db": args.db,
                "data": {"digest": data.digest, "official": data.official},
                "runs": records,
                "constant_output_cells": not_trained,  # record's constant_output is a bool
                "isomorphism_representative": {str(k): v for k, v in representative.items()},
                "skipped_checked": checked,
            }
        )
    else:
        for rec in records:
            accs = ", ".join(f"{s} {m['accuracy']:.2f}%" for s, m in rec["metrics"].items())
            detail = rec["error"] if rec["status"] == "failed" else accs
            print(f"{rec['index']:>6} seed {rec['seed']:<5} {rec['status']:<8} {detail}")
        for row in not_trained:
            cell = int(str(row["index"]))
            for seed in untrained(cell):
                print(
                    f"{cell:>6} seed {seed:<5} not trained: disconnected, chance accuracy "
                    f"{row['accuracy']:.2f}%"
                )
        for k, v in representative.items():
            for seed in untrained(k):
                print(f"{k:>6} seed {seed:<5} not trained: isomorphic to {v}")
        if skipped:
            print(f"{skipped} run(s) skipped, finished before: {_SKIP_CHECKED[checked]}")
    return 0 if all(r.ok for r in results) else 1
