"""Model costs as table columns: analytic parameter counts and FLOPs for any cell space.

:func:`analytic_costs` computes, without torch, NB201's ``params (MB)`` and ``FLOPs (M)`` of
the network built around every cell of a space (the formulas of
:mod:`nb201_flat.train.costs`, which match ``xautodl``'s network and NB201's counters), for
the classifier size and input resolution of each dataset. :func:`with_analytic_costs` adds
them to a table as ``(dataset, "model", epochs, "params_mb_analytic" | "flops_m_analytic")``,
beside whatever the source stored (``params_mb``, ``flops_m``, ``latency_s``), so both stay
available and comparable. NASLib's FLOPs are not: its counter counts pooling, batch norm and
ReLU too, so its zero-cost file's ``flops`` are imported as ``flops_m_naslib``
(:mod:`nb201_flat.importers.naslib_zc`), above ``flops_m_analytic`` on every cell of NASLib's
file (by up to 7.04 M, 68 %); its ``params`` equal the analytic count and are ``params_mb``.

Stored versus computed parameter counts: on the real NB201 data the stored ``params_mb``
differs from the analytic count for 150 of the 15,625 cells (on each of cifar10-valid,
cifar100 and ImageNet16-120); for every one of them the stored number equals the analytic
count of *another* cell with the same NATS-Bench isomorphism key (checked by
:func:`stored_vs_analytic` and the ``realdata`` tests), as if the record of one member of
the class had been stored for all of them. So the stored column describes that member, the
analytic one the cell as written; both are kept, and cost-aware queries
(:mod:`nb201_flat.constraints`) take either by name.

Examples
--------
>>> from nb201_flat.space import NB201
>>> df = analytic_costs(NB201, "cifar10")
>>> round(float(df.loc[NB201.from_ops(["none"] * 6).index, "flops_m"]), 2)
7.78
>>> round(float(df["params_mb"].max()), 6)
1.531546
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np
import pandas as pd

from nb201_flat.conventions import CIFAR10_VALID, FLOPS_ANALYTIC, PARAMS_ANALYTIC
from nb201_flat.errors import (
    ArgumentError,
    FormatError,
    Param,
    UnknownKeyError,
    check_int_range,
    shown,
)
from nb201_flat.space import Space, check_space
from nb201_flat.table import MetricKey, Table, check_table
from nb201_flat.train.costs import (
    MAX_CLASSES,
    MAX_IMAGE_SIZE,
    flops_m_of_codes,
    params_mb_of_codes,
)

#: dataset -> (classes, input side in pixels), NB201's.
DATASET_SHAPES: Final[Mapping[str, tuple[int, int]]] = {
    CIFAR10_VALID: (10, 32),
    "cifar10": (10, 32),
    "cifar100": (100, 32),
    "ImageNet16-120": (120, 16),
}


#: the network-size suffix of a results-database space key (:func:`~.train.jobs.space_key`)
_SIZE_SUFFIX: Final = re.compile(r"C([0-9]+)N([0-9]+)")


def key_network_size(key: str) -> tuple[int, int]:
    """``(C, N)`` named by a results-database space key: ``"nb201@C4N1#faithful"`` is C=4, N=1,
    no ``@`` suffix NB201's 16 and 5. A suffix of another form is refused: read as no suffix,
    it would cost the table as NB201's full-size network.

    >>> key_network_size("nb201@C4N1#faithful"), key_network_size("nb201#fast-bf16")
    ((4, 1), (16, 5))
    """
    if not isinstance(key, str):  # None.split: a bare AttributeError
        raise ArgumentError(
            Param("key"), f" must be a space key such as 'nb201@C4N1', got {shown(key)}"
        )
    _, at, size = key.split("#", 1)[0].partition("@")  # "#<mode tag>" since modes exist
    if not at:
        return 16, 5
    m = _SIZE_SUFFIX.fullmatch(size)
    if m is None:
        raise FormatError(f"unrecognised network size {size!r} in space key {key!r}")
    return int(m[1]), int(m[2])


def network_size(table: Table) -> tuple[int, int]:
    """``(C, N)`` of the network the table's numbers were measured on.

    A table imported from a retraining database names its size in ``meta["space_key"]``
    (``"nb201@C4N1#faithful"``: C=4, N=1; no ``@`` suffix: NB201's 16 and 5); a table without
    a space key holds NB201's own numbers (C=16, N=5). Analytic costs must use this size, or
    they describe a network other than the one trained.

    >>> df = pd.DataFrame({"index": [0], "dataset": "cifar10", "split": "x", "epochs": 1,
    ...     "metric": "accuracy", "value": [1.0]})
    >>> small = Table.from_tidy(df, meta={"space_key": "nb201@C4N1#faithful"})
    >>> network_size(Table.from_tidy(df)), network_size(small)
    ((16, 5), (4, 1))
    """
    key = check_table(table).meta.get("space_key")
    return (16, 5) if key is None else key_network_size(str(key))


def analytic_costs(
    space: Space,
    dataset: str,
    *,
    c: int = 16,
    n: int = 5,
    shapes: Mapping[str, tuple[int, int]] = DATASET_SHAPES,
) -> pd.DataFrame:
    """``params_mb`` and ``flops_m`` of every cell of ``space`` on ``dataset`` (no torch).

    Parameters
    ----------
    space
        Any cell space whose ops have cost formulas (NB201's five and the DARTS-like ones).
    dataset
        A key of ``shapes`` (classes, input side).
    c, n
        First-stage channels and cells per stage (NB201: 16 and 5).

    Raises
    ------
    UnknownKeyError
        ``dataset`` has no known shape.
    InvalidArchError
        An op of the space has no cost formula.
    """
    check_space(space)  # a name ("nb201") met a bare AttributeError
    if not isinstance(dataset, str):  # a list: unhashable, a bare TypeError
        raise ArgumentError(Param("dataset"), f" must be a dataset name, got {shown(dataset)}")
    if not isinstance(shapes, Mapping):
        raise ArgumentError(
            Param("shapes"), f" must map a dataset to (classes, side), got {shown(shapes)}"
        )
    if dataset not in shapes:
        raise UnknownKeyError(
            f"no input shape known for dataset {dataset!r}; known: {', '.join(shapes)} "
            "(pass shapes={dataset: (classes, side)})"
        )
    classes, side = _shape(dataset, shapes[dataset])
    codes = space.codes
    return pd.DataFrame(
        {
            "params_mb": params_mb_of_codes(codes, space.ops, c=c, n=n, num_classes=classes),
            "flops_m": flops_m_of_codes(
                codes, space.ops, c=c, n=n, num_classes=classes, image_size=side
            ),
        },
        index=pd.RangeIndex(space.size, name="index"),
    )


def _shape(dataset: str, shape: object) -> tuple[int, int]:
    """``(classes, side)`` of a network's input, else :class:`ArgumentError` naming
    ``shapes``: 0 classes or a 0-pixel side were costed as networks all the same."""
    where = Param(f"shapes[{dataset!r}]")
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        raise ArgumentError(where, f" must be a pair (classes, side), got {shown(shape)}")
    fix = "NB201's cifar10 is (10, 32)"
    # the counted range (train.costs.MAX_*): beyond it the int64 sums could wrap
    classes = check_int_range(
        Param(f"shapes[{dataset!r}] classes"), shape[0], 1, MAX_CLASSES, fix=fix
    )
    side = check_int_range(Param(f"shapes[{dataset!r}] side"), shape[1], 1, MAX_IMAGE_SIZE, fix=fix)
    if side % 4:  # two stride-2 reductions (train.costs.check_image_size)
        raise ArgumentError(
            Param(f"shapes[{dataset!r}] side"), f" must be a multiple of 4, got {side}; {fix}"
        )
    return classes, side


def with_analytic_costs(
    table: Table,
    datasets: Iterable[str] | None = None,
    *,
    epochs: int = 200,
    c: int | None = None,
    n: int | None = None,
    shapes: Mapping[str, tuple[int, int]] = DATASET_SHAPES,
) -> Table:
    """A new table with ``params_mb_analytic`` and ``flops_m_analytic`` columns per dataset.

    ``datasets`` defaults to the table's datasets that have a known shape (an empty list adds
    nothing, and is refused); the columns sit
    under split ``model`` at ``epochs`` (costs do not depend on the schedule). ``c`` and ``n``
    default to the table's own network size (:func:`network_size`).

    Examples
    --------
    >>> import pandas as pd
    >>> t = Table.from_tidy(pd.DataFrame({"index": [0], "dataset": "cifar100",
    ...     "split": "x-valid", "epochs": 200, "metric": "accuracy", "value": [70.0]}))
    >>> [str(k) for k in with_analytic_costs(t).keys() if k.split == "model"]
    ['cifar100/model@200ep:flops_m_analytic', 'cifar100/model@200ep:params_mb_analytic']
    """
    check_table(table)
    if isinstance(datasets, str) or not isinstance(datasets, Iterable | None):
        # a name was read letter by letter: "no input shape known for dataset 'c'"
        raise ArgumentError(
            Param("datasets"),
            f" must be a list of dataset names, got {shown(datasets)}; pass [{shown(datasets)}]",
        )
    # MetricKey named itself, not this parameter, for "200" or -1
    epochs = check_int_range(Param("epochs"), epochs, 0, fix="pass e.g. 200")
    chosen = [d for d in table.datasets if d in shapes] if datasets is None else list(datasets)
    if datasets is not None and not chosen:  # the caller's empty list, not the table's lack
        raise ArgumentError(
            Param("datasets"),
            f" is empty; pass dataset names (the table has {', '.join(table.datasets)}), or "
            "None for those of its datasets with a known input shape",
        )
    if not chosen:
        raise UnknownKeyError(
            f"table {table.source!r} has no dataset with a known input shape "
            f"({', '.join(shapes)}); pass datasets= and shapes="
        )
    own_c, own_n = network_size(table)
    c, n = own_c if c is None else c, own_n if n is None else n
    out = table
    for ds in chosen:
        df = analytic_costs(table.space, ds, c=c, n=n, shapes=shapes)
        out = out.with_vector(MetricKey(ds, "model", epochs, PARAMS_ANALYTIC), df["params_mb"])
        out = out.with_vector(MetricKey(ds, "model", epochs, FLOPS_ANALYTIC), df["flops_m"])
    return out


def stored_vs_analytic(table: Table, dataset: str, *, epochs: int = 200) -> pd.DataFrame:
    """Architectures whose stored ``params_mb`` differs from the analytic count.

    Columns ``stored``, ``analytic`` and ``match_in_class`` (another cell of the same
    isomorphism class has exactly the stored count), one row per disagreeing architecture.
    """
    stored = check_table(table).vector(dataset, "model", epochs, "params_mb")
    c, n = network_size(table)
    analytic = analytic_costs(table.space, dataset, c=c, n=n)["params_mb"].to_numpy()
    # stored values carry 6 decimals (MB = 1e6 parameters): compare at that precision
    bad = np.flatnonzero(~np.isnan(stored) & ~np.isclose(stored, analytic, rtol=0, atol=5e-7))
    classes = table.space.isomorphism_classes()
    match = [
        bool(np.isclose(analytic[classes == classes[i]], stored[i], rtol=0, atol=5e-7).any())
        for i in bad
    ]
    return pd.DataFrame(
        {"stored": stored[bad], "analytic": analytic[bad], "match_in_class": match},
        index=pd.Index(bad, name="index"),
    )
