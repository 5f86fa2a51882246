"""Accuracy under a cost constraint: best-under-budget, Pareto fronts, cost bands.

A *cost* is a model-level metric of the table, named by its metric: ``params_mb``,
``flops_m``, ``latency_s`` (stored by the official files), ``flops_m_naslib`` (NASLib's FLOPs,
stored by its zero-cost file: pooling, batch norm and ReLU counted, so not ``flops_m``), or
``params_mb_analytic`` / ``flops_m_analytic`` (computed without torch by
:mod:`nb201_flat.costs`, on the fly when the table lacks them). It is read from split ``model``
of the dataset the accuracy belongs to. Costs and limits are printed as Python prints a float
(:func:`cost_text`), so a printed number given back as a limit selects the same cells.

- :func:`best_under` -- the top architectures by a metric among those whose cost is at most a
  limit (``find_best``-like: the official API's ``find_best(dataset, metric_on_set, FLOP_max,
  Param_max)``, for any cost and any seed policy).
- :func:`pareto_front` -- the architectures no other one beats on both the metric (higher,
  or lower for the ``loss``: ``higher_is_better`` defaults to the metric's natural direction)
  and the cost (lower).
- :func:`cost_band` / :func:`flatness_in_band` -- a boolean mask of archs within a cost band,
  and flatness measured inside it (neighbours outside the band do not count).

The metric is read as :meth:`Table.vector <nb201_flat.table.Table.vector>` reads it:
``seed_policy`` (``"mean"`` by default, a stored seed, or ``"random"`` with ``rng``) picks the
stored training seed(s); ``seed=`` is its deprecated old name.

Unmeasured architectures (NaN metric or cost) never qualify: the frames of :func:`best_under`
and :func:`pareto_front` count in ``attrs["unpriced"]`` the cells left out for a measured metric
without a cost (an analytic cost covers every cell), and none with a cost is an error; in
``attrs["unmeasured"]`` the cells of no measured metric (the answer is the best of the
measured ones). A
constraint nothing meets is an error that names the smallest cost available. Their columns
``value`` and ``cost`` are generic: ``attrs["value"]`` names the metric key read
(``str(MetricKey)``) and ``attrs["cost"]`` the cost metric.

Examples
--------
>>> import numpy as np
>>> from nb201_flat.space import Space
>>> from nb201_flat.table import MetricKey, Table
>>> s = Space(("a", "b", "c"), 3)
>>> acc = np.arange(27.0); size = 27.0 - np.arange(27.0) % 9
>>> t = Table(s, {(MetricKey("toy", "x-valid", 12), None): acc,
...               (MetricKey("toy", "model", 12, "params_mb"), None): size})
>>> best_under(t, "toy", "x-valid", 12, cost="params_mb", max_cost=20)["index"].tolist()
[26]
>>> front = pareto_front(t, "toy", "x-valid", 12, cost="params_mb")
>>> front["index"].tolist(), front.attrs["value"], front.attrs["cost"]
([26], 'toy/x-valid@12ep:accuracy', 'params_mb')
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.conventions import COST_METRICS, natural_direction
from nb201_flat.errors import (
    ArgumentError,
    Param,
    UnknownKeyError,
    check_flag,
    check_float_range,
    check_int_range,
    joined,
    real_number,
    shown,
)
from nb201_flat.errors import ConstraintError as ConstraintError
from nb201_flat.landscape.neighbourhood import StandIns, flatness
from nb201_flat.table import MetricKey, Table, check_table, seed_policy_of
from nb201_flat.types import BoolArray as BoolArray
from nb201_flat.types import FloatArray as FloatArray
from nb201_flat.types import Seed, SeedPolicy

RESULT_COLUMNS: Final = ("index", "arch", "value", "cost")


def cost_text(cost: float) -> str:
    """A cost or cost limit as text: the shortest that reads back as the same float. Six
    significant digits printed 86.42625 as 86.4262, which as a limit left that cell out.

    >>> cost_text(86.42625), cost_text(np.float64(7.943872)), cost_text(100)
    ('86.42625', '7.943872', '100.0')
    """
    return repr(float(cost))


def cost_vector(table: Table, dataset: str, cost: str, *, epochs: int | None = None) -> FloatArray:
    """The cost ``cost`` of every architecture on ``dataset`` (read-only, NaN where unknown).

    A stored ``(dataset, "model", epochs, cost)`` is preferred: ``epochs`` where given and
    stored, else the longest stored schedule (a network's parameters and FLOPs do not depend
    on how long it trains); analytic costs are computed when not stored.
    """
    check_table(table)
    for name, text in (("dataset", dataset), ("cost", cost)):
        if not isinstance(text, str):  # `cost.endswith` raised AttributeError
            raise ArgumentError(Param(name), f" must be a str, got {shown(text)}")
    if epochs is not None:  # "12" matched no schedule: the first one was read silently
        epochs = check_int_range(Param("epochs"), epochs, 0, fix="or None (the longest stored)")
    stored = sorted(
        (k for k in table if k.dataset == dataset and k.split == "model" and k.metric == cost),
        key=lambda k: (k.epochs != epochs, -k.epochs),
    )
    if stored:
        return table.vector_for(stored[0])
    if cost.endswith("_analytic") and cost in COST_METRICS:  # "param_mb_analytic": a KeyError
        from nb201_flat.costs import DATASET_SHAPES, analytic_costs, network_size

        column = cost.removesuffix("_analytic")
        c, n = network_size(table)  # the trained network's size, not NB201's full one
        if dataset not in DATASET_SHAPES:  # its own advice (shapes=) is no parameter here
            raise UnknownKeyError(
                f"no input shape known for dataset {dataset!r} (known: "
                f"{', '.join(DATASET_SHAPES)}); add its analytic costs first: "
                f"with_analytic_costs(table, [{dataset!r}], shapes={{{dataset!r}: "
                "(classes, side)})"
            )
        costs = analytic_costs(table.space, dataset, c=c, n=n)
        out: FloatArray = costs[column].to_numpy(dtype=np.float64)
        out.setflags(write=False)
        return out
    have = sorted({k.metric for k in table if k.split == "model" and k.dataset == dataset})
    if cost not in COST_METRICS:  # time_s, a proxy: it is no cost, whether stored or not
        splits = sorted({k.split for k in table if k.dataset == dataset and k.metric == cost})
        where = (
            f" (the table stores {cost} for {dataset} under split {', '.join(splits)}, not as a "
            "model's cost, split 'model')"
            if splits
            else ""
        )
        own = sorted(set(have) - set(COST_METRICS))  # a model metric of the user's own is a cost
        raise ConstraintError(
            f"{cost!r} is not a cost metric{where}; give one of {', '.join(COST_METRICS)}"
            + (f" (or this table's model metric {', '.join(own)})" if own else "")
        )
    # e.g. NB201's params for cifar10-valid, not cifar10 ("it has none" left the user there):
    # a stored cost is read for the dataset asked only, so name those that hold it
    others = sorted({k.dataset for k in table if k.split == "model" and k.metric == cost})
    way: tuple[str | Param, ...] = ("; give ",)
    if others:
        way = (f"; it stores {cost} for {', '.join(others)}: name one of those (",)
        # another dataset is another training run: its accuracies are the ones ranked then
        way += (Param("dataset"), ", whose accuracies are then the ones ranked), or give ")
    raise ConstraintError(
        f"table {table.source!r} stores no cost {cost!r} for {dataset} (its model metrics "
        f"there: {', '.join(have) or 'none'})",
        *way,
        "an analytic cost, computed for every cell of an NB201 dataset (",
        *_analytic_fix(cost),
        ")",
    )


def analytic_for(cost: str) -> str:
    """The analytic cost that stands in for a stored ``cost`` on every cell (the cell's
    network, not a measurement), or both analytic costs where none is the same quantity.

    >>> analytic_for("params_mb"), analytic_for("flops_m_naslib")
    ('params_mb_analytic', 'params_mb_analytic or flops_m_analytic')
    """
    return " or ".join(_analytic_names(cost))


def _analytic_names(cost: str) -> tuple[str, ...]:
    """The analytic costs :func:`analytic_for` names for ``cost``, one by one."""
    same = f"{cost}_analytic"
    return (same,) if same in COST_METRICS else ("params_mb_analytic", "flops_m_analytic")


def _analytic_fix(cost: str) -> list[str | Param]:
    """Message parts passing :func:`analytic_for`'s costs: ``cost='params_mb_analytic'`` (the
    value quoted, so that the call runs as written; a command spells its own flag)."""
    return joined((Param("cost", name) for name in _analytic_names(cost)), " or ")


def _unpriced(v: FloatArray, c: FloatArray, metric: str, cost: str) -> int:
    """How many cells have a measured ``metric`` but no ``cost``: they never qualify, so an
    answer leaves them out (a partial import, a results database); refused when no cell is left."""
    measured = ~np.isnan(v)
    missing = int(np.count_nonzero(measured & np.isnan(c)))
    if missing and missing == int(np.count_nonzero(measured)):
        raise ConstraintError(
            f"none of the {missing} cells with a measured {metric} has a stored {cost}; "
            f"give an analytic cost, computed for every cell: ",
            *_analytic_fix(cost),
        )
    return missing


def _frame(
    table: Table,
    idx: npt.NDArray[np.int64],
    v: FloatArray,
    c: FloatArray,
    unpriced: int,
    key: MetricKey,
    cost: str,
) -> pd.DataFrame:
    strings = np.asarray(table.space.strings(), dtype=object)
    out = pd.DataFrame(
        {"index": idx, "arch": strings[idx], "value": v[idx], "cost": c[idx]},
        columns=list(RESULT_COLUMNS),
    )
    out.attrs["unpriced"] = unpriced  # cells with the metric but no cost, left out
    # cells with no measured metric, never ranked: the answer is the best of the measured
    out.attrs["unmeasured"] = int(np.count_nonzero(np.isnan(v)))
    # what the generic columns hold: a frame read later must not guess the metric or the cost
    out.attrs["value"] = str(key)
    out.attrs["cost"] = cost
    return out


def _direction(metric: str, higher_is_better: bool | None) -> bool:
    """Whether ``metric`` ranks high values first: ``higher_is_better`` where given, else the
    metric's :func:`~nb201_flat.conventions.natural_direction` (the CLI's rule). A default of
    True ranked a loss highest first: chance-level cells as the best."""
    if higher_is_better is not None:
        return check_flag("higher_is_better", higher_is_better)
    natural = natural_direction(metric)
    if natural is None:  # a cost, a spread, a proxy, a metric of one's own: either way a guess
        raise ArgumentError(
            f"metric {metric!r} has no natural ranking direction (accuracies rank high "
            "first, the benchmark's 'loss' low first); state it: pass ",
            Param("higher_is_better", True),
            " or ",
            Param("higher_is_better", False),
        )
    return natural


def best_under(
    table: Table,
    dataset: str,
    split: str,
    epochs: int,
    *,
    cost: str,
    max_cost: float,
    metric: str = "accuracy",
    seed_policy: SeedPolicy | None = None,
    rng: Seed | None = None,
    seed: SeedPolicy | None = None,
    top: int = 1,
    higher_is_better: bool | None = None,
) -> pd.DataFrame:
    """The ``top`` architectures by ``metric`` among those with ``cost <= max_cost``.

    Returns a frame with columns ``index, arch, value, cost``, best first (ties: lower cost,
    then lower index). Best is the highest value with ``higher_is_better=True``, the lowest
    with ``False``; None (the default) takes the metric's natural direction (an accuracy
    high, the ``loss`` low, :func:`~nb201_flat.conventions.natural_direction`), and a metric
    without one (a cost, a ``*_std``, a proxy) must state it. ``attrs["value"]`` names the
    metric key of ``value`` (``str(MetricKey)``), ``attrs["cost"]`` the cost metric of ``cost``, and
    ``attrs["unpriced"]`` counts the cells with a measured ``metric`` but no ``cost``, which
    never qualify.

    Raises
    ------
    ConstraintError
        No measured architecture meets the limit (the message gives the smallest cost).
    ArgumentError
        An argument of the wrong kind or range (``top`` below 1, ``max_cost`` NaN, a metric
        of no natural direction without ``higher_is_better``, ...).
    """
    top = check_int_range(Param("top"), top, 1)  # top=True kept one row, 1.5 raised TypeError
    # NaN would meet nothing and inf everything: neither is a limit
    max_cost = check_float_range("max_cost", max_cost, fix="give a cost limit such as 0.5")
    v = check_table(table).vector(
        dataset, split, epochs, metric, seed_policy=seed_policy_of(seed_policy, seed), rng=rng
    )
    higher_is_better = _direction(metric, higher_is_better)  # after the key: a typo named first
    c = cost_vector(table, dataset, cost, epochs=epochs)
    unpriced = _unpriced(v, c, metric, cost)
    ok = ~np.isnan(v) & ~np.isnan(c)
    within = ok & (c <= max_cost)
    if not ok.any():  # no measured value at all (else _unpriced refused): raising max_cost
        # could not help, which the message below said beside "the smallest cost is nan"
        raise ConstraintError(
            f"no architecture has a measured {metric} at {dataset}/{split}@{epochs}ep under this "
            "seed policy; choose a key and policy the table measures (Table.info)"
        )
    if not within.any():
        least = float(np.min(c[ok]))
        raise ConstraintError(
            f"no architecture with a measured {metric} has {cost} <= {cost_text(max_cost)}; "
            f"the smallest {cost} is {cost_text(least)}: raise ",
            Param("max_cost"),
        )
    idx = np.flatnonzero(within)
    w = v if higher_is_better else -v
    order = np.lexsort((idx, c[idx], -w[idx]))
    key = MetricKey(dataset, split, epochs, metric)
    return _frame(table, idx[order][:top], v, c, unpriced, key, cost)


def pareto_front(
    table: Table,
    dataset: str,
    split: str,
    epochs: int,
    *,
    cost: str,
    metric: str = "accuracy",
    seed_policy: SeedPolicy | None = None,
    rng: Seed | None = None,
    seed: SeedPolicy | None = None,
    higher_is_better: bool | None = None,
) -> pd.DataFrame:
    """The non-dominated architectures (better ``metric``, lower ``cost``), by rising cost.

    Of several archs with the same cost and value, the lowest index stands for them.
    ``higher_is_better`` is :func:`best_under`'s (default: the metric's natural direction, a
    ``loss`` low; a metric without one must state it). The frame's columns
    and ``attrs`` are :func:`best_under`'s (``attrs["unpriced"]``: the cells with a measured
    ``metric`` but no ``cost``, left off the front).
    """
    v = check_table(table).vector(
        dataset, split, epochs, metric, seed_policy=seed_policy_of(seed_policy, seed), rng=rng
    )
    higher_is_better = _direction(metric, higher_is_better)  # after the key: a typo named first
    c = cost_vector(table, dataset, cost, epochs=epochs)
    unpriced = _unpriced(v, c, metric, cost)
    idx = np.flatnonzero(~np.isnan(v) & ~np.isnan(c))
    if idx.size == 0:
        raise ConstraintError(f"no architecture has both a measured {metric} and a {cost}")
    # sweep by rising cost (higher value first at equal cost): keep each new best value
    w = v if higher_is_better else -v
    order = idx[np.lexsort((idx, -w[idx], c[idx]))]
    best = np.maximum.accumulate(w[order])
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = w[order][1:] > best[:-1]
    key = MetricKey(dataset, split, epochs, metric)
    return _frame(table, order[keep], v, c, unpriced, key, cost)


def cost_band(
    table: Table, dataset: str, cost: str, lo: float, hi: float, *, epochs: int | None = None
) -> BoolArray:
    """Mask of the architectures with ``lo <= cost <= hi`` (NaN costs excluded)."""
    # NaN was blamed as "lo > hi" and a list raised TypeError; an infinite end is an open one
    for name, end in (("lo", lo), ("hi", hi)):
        if math.isnan(real_number(end)):
            raise ArgumentError(
                Param(name), f" must be a number (or inf: no limit), got {shown(end)}"
            )
    if not lo <= hi:
        raise ConstraintError(f"cost band needs lo <= hi, got {cost_text(lo)} > {cost_text(hi)}")
    c = cost_vector(table, dataset, cost, epochs=epochs)
    with np.errstate(invalid="ignore"):
        out: BoolArray = (c >= lo) & (c <= hi)
    return out


def flatness_in_band(
    table: Table,
    dataset: str,
    split: str,
    epochs: int,
    *,
    cost: str,
    lo: float,
    hi: float,
    metric: str = "accuracy",
    seed_policy: SeedPolicy | None = None,
    rng: Seed | None = None,
    seed: SeedPolicy | None = None,
    radius: int = 1,
    delta: float = 1.0,
) -> pd.DataFrame:
    """Flatness of the architectures within a cost band, neighbours limited to the band.

    The landscape is restricted to the band: values outside it count as unmeasured, so each
    row aggregates only the neighbours that meet the same constraint (``n`` says how many).
    On a retraining table a cell's own isomorphic copies are no neighbours of it, and
    ``n_stand_ins`` counts the stand-ins kept (:func:`flatness`'s ``stand_ins``).
    Returns :func:`~nb201_flat.landscape.neighbourhood.flatness`'s frame, band rows only,
    with a ``cost`` column.
    """
    mask = cost_band(table, dataset, cost, lo, hi, epochs=epochs)
    if not mask.any():
        raise ConstraintError(f"no architecture has {cost_text(lo)} <= {cost} <= {cost_text(hi)}")
    v = np.array(
        table.vector(
            dataset, split, epochs, metric, seed_policy=seed_policy_of(seed_policy, seed), rng=rng
        )
    )
    v[~mask] = np.nan
    # a retraining table's copies of a cell are no neighbours of it (flatness's default)
    stand = StandIns.of(table, dataset, epochs)
    df = flatness(table.space, v, radius, delta=delta, stand_ins=stand)
    out = df[mask].copy()
    out["cost"] = cost_vector(table, dataset, cost, epochs=epochs)[mask]
    out.attrs = {str(k): a for k, a in df.attrs.items()}
    out.attrs.update(
        cost=cost,
        band=(float(lo), float(hi)),
        key=str(MetricKey(dataset, split, epochs, metric)),
    )
    return out
