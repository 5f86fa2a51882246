"""The table a notebook should use: the real NB201 data when it is at hand, else the default.

The real data (``nb201_tidy.csv.gz``, see ``../shared/data/nb201/README.md``) is never part of
the package: it is looked for in ``$NB201_FLAT_SHARED_DATA``, else in ``../shared/data/nb201``
beside the repository (from an installed wheel: beside the working directory, see
:func:`shared_data_dir`); ``$NB201_FLAT_TABLE``, when set, wins as in the CLI. When found it is imported once into the cache folder (keyed by the
file's checksum, so a changed file is re-imported) and loaded from there in milliseconds;
otherwise the embedded default table (:func:`nb201_flat.storage.load_table`) is used, and
the sentence saying which table it is names where the data was looked for (pointing
``$NB201_FLAT_SHARED_DATA`` at a folder without it is how a notebook runs on the default where
the data is present). The variables are read as every path-valued one of the package
(:func:`nb201_flat.storage.env_path`): ``~`` expanded, and an empty one, naming no folder,
refused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from nb201_flat.space import Arch
from nb201_flat.table import Table

log = logging.getLogger(__name__)

# short op names for table columns (NB201's and DARTS' ops); any other op prints in full
OP_SHORT: dict[str, str] = {
    "none": "none",
    "skip_connect": "skip",
    "nor_conv_1x1": "conv1",
    "nor_conv_3x3": "conv3",
    "avg_pool_3x3": "pool",
    "max_pool_3x3": "max3",
    "sep_conv_3x3": "sep3",
    "sep_conv_5x5": "sep5",
    "dil_conv_3x3": "dil3",
    "dil_conv_5x5": "dil5",
}

SHARED_ENV = "NB201_FLAT_SHARED_DATA"
TIDY_NAME = "nb201_tidy.csv.gz"


def shared_data_dir() -> Path:
    """Where the real data is looked for.

    ``$NB201_FLAT_SHARED_DATA``; else ``../shared/data/nb201`` beside the repository, when
    running from a checkout; else (an installed wheel, where "beside the package" is inside
    site-packages) ``shared/data/nb201`` in the nearest parent of the working directory that
    has it, defaulting to ``../shared/data/nb201`` from the working directory.
    """
    from nb201_flat.storage import env_path

    named = env_path(
        SHARED_ENV,
        f"the folder holding {TIDY_NAME}",
        unset="the default place, ../shared/data/nb201",
    )
    if named is not None:
        return named.resolve()
    here = Path(__file__).resolve()
    installed = any(part in ("site-packages", "dist-packages") for part in here.parts)
    if not installed:
        repo = here.parents[2]
        return (repo.parent / "shared" / "data" / "nb201").resolve()
    cwd = Path.cwd().resolve()
    for parent in cwd.parents:
        candidate = parent / "shared" / "data" / "nb201"
        if (candidate / TIDY_NAME).is_file():
            return candidate
    return (cwd.parent / "shared" / "data" / "nb201").resolve()


def _tidy_file(src: Path) -> Path:
    """The tidy file in folder ``src``, or ``src`` itself where it names that file (which
    was looked for inside itself: None without a word)."""
    return src if src.name == TIDY_NAME and src.is_file() else src / TIDY_NAME


def real_table(folder: str | os.PathLike[str] | None = None) -> Table | None:
    """The real NB201 table imported from ``folder/nb201_tidy.csv.gz`` (or ``folder`` naming
    that file itself; cached), or None where it is not there.

    ``folder=None`` looks in :func:`shared_data_dir`.
    """
    from nb201_flat.errors import TableFileError, check_path
    from nb201_flat.storage import (
        cache_dir,
        check_cache_writable,
        file_sha256,
        load_saved_table,
        save_to_cache,
    )

    # 3 met pathlib's bare TypeError
    src = check_path("folder", folder) if folder is not None else shared_data_dir()
    tidy = _tidy_file(src)
    if not tidy.is_file():
        return None
    cached = cache_dir() / f"nb201-tidy-{file_sha256(tidy)[:16]}.nb201"
    if (cached / "manifest.json").is_file():
        try:
            return load_saved_table(cached)
        except TableFileError:  # written by an older nb201_flat, or damaged: ours to rebuild
            log.info("rebuilding the cached table %s", cached)
    from nb201_flat.importers.tidy import read_tidy

    check_cache_writable(cached, "the real NB201 data's cache")  # before the import
    log.info("importing %s into %s", tidy, cached)
    save_to_cache(read_tidy(tidy), cached, "the real NB201 data's cache")
    return load_saved_table(cached)


def notebook_table(*, prefer_real: bool = True) -> tuple[Table, str]:
    """The table a notebook runs on and a sentence saying which it is.

    Returns the table in ``$NB201_FLAT_TABLE`` when set (as the CLI does); else the real NB201
    data (imported from the shared folder, cached) when ``prefer_real`` and it is present; else
    the embedded default table.
    """
    from nb201_flat.errors import check_flag
    from nb201_flat.storage import TABLE_ENV, load_table

    prefer_real = check_flag("prefer_real", prefer_real)  # "no" would read as True
    # like the CLI: a table named in the environment wins over any guess
    env = os.environ.get(TABLE_ENV)
    if env is not None:  # set but empty: load_table refuses it, as the CLI does
        named = load_table()
        return named, f"the table in ${TABLE_ENV} ({env}: {named.source})"
    if prefer_real:
        table = real_table()
        if table is not None:
            return table, f"real NB201 data imported from {_tidy_file(shared_data_dir())}"
    table = load_table()
    where = _tidy_file(shared_data_dir())
    # named by the variable: say so (it advised setting the variable it had set)
    how = f"${SHARED_ENV} names {where}" if os.environ.get(SHARED_ENV) else f"set ${SHARED_ENV}"
    return table, (
        f"the embedded default table ({table.source}); the real NB201 data was not found at "
        f"{where} ({how})"
    )


def arch_label(arch: Arch) -> str:
    """The cell's index and its ops, short enough that a table never cuts it.

    A full NB201 string (about 90 characters) is cut by pandas at 50, and cells that differ
    only in their last edges then show as identical rows. The label leads with the index (so
    rows stay distinct and the cell can be looked up) and lists the ops into each node, nodes
    separated by ``|``, in the order of the NB201 string, with short names (:data:`OP_SHORT`:
    ``conv3`` for ``nor_conv_3x3``, ``pool`` for ``avg_pool_3x3``, ``skip``, ``conv1``).

    Examples
    --------
    >>> from nb201_flat.space import NB201
    >>> arch = NB201.parse(
    ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    ... )
    >>> label = arch_label(arch)
    >>> label.split(": ")[1]
    'conv3 | conv3 pool | skip conv3 none'
    >>> label.split(": ")[0] == str(arch.index)
    True
    """
    given: object = arch  # typed as an Arch; a notebook may pass an index all the same
    if not isinstance(given, Arch):  # an index or a string has no space to read the ops in
        from nb201_flat.errors import ArgumentError, shown

        raise ArgumentError(
            f"arch_label takes an Arch, got {type(arch).__name__} {shown(arch, 60)}; pass e.g. "
            "NB201.arch(index) or NB201.parse(string)"
        )
    space, ops = arch.space, arch.ops
    nodes = []
    for j in range(1, space.n_nodes):
        into = [ops[space.edge_position((i, j))] for i in range(j)]
        nodes.append(" ".join(OP_SHORT.get(op, op) for op in into))
    return f"{arch.index}: " + " | ".join(nodes)
