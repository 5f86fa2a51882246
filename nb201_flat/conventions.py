"""NAS-Bench-201's naming conventions, in one place.

NB201 trains CIFAR-10 twice: ``cifar10-valid`` on half of the training set, with the other half
as its validation split ``x-valid``, and ``cifar10`` on the whole set, which therefore has no
validation split. So "searching CIFAR-10" reads ``cifar10-valid`` ``x-valid`` and "reporting
CIFAR-10" reads ``cifar10`` ``ori-test``; CIFAR-100 and ImageNet16-120 have both ``x-valid`` and
``x-test`` (``ori-test`` is their union). Training time, the cost a search pays, is stored under
``train`` ``time_s``.

Everything that depends on these names asks this module: the protocols of the search layer,
the figures, the demo and the CLI.

Examples
--------
>>> search_dataset("cifar10"), report_dataset("cifar10-valid")
('cifar10-valid', 'cifar10')
>>> str(search_key("cifar10", 12)), str(report_key("cifar100"))
('cifar10-valid/x-valid@12ep:accuracy', 'cifar100/x-test@200ep:accuracy')
>>> str(cost_key())
'cifar10-valid/train@200ep:time_s'
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

from nb201_flat.errors import ArgumentError, UnknownKeyError, check_float_range
from nb201_flat.table import MetricKey

if TYPE_CHECKING:
    from nb201_flat.table import Table

#: the analytic costs :func:`nb201_flat.costs.with_analytic_costs` adds
PARAMS_ANALYTIC: Final = "params_mb_analytic"
FLOPS_ANALYTIC: Final = "flops_m_analytic"

COST_METRICS: Final = (
    "params_mb",
    "flops_m",
    "latency_s",
    "flops_m_naslib",
    PARAMS_ANALYTIC,
    FLOPS_ANALYTIC,
)
"""Metrics that measure what an architecture costs (size, compute, time), not how well it does.

``flops_m`` and ``flops_m_analytic`` are NB201's FLOPs (``get_model_infos``: convolutions and
the classifier); ``flops_m_naslib`` is NASLib's counter, which counts pooling, batch norm and
ReLU too (a different quantity, :mod:`nb201_flat.importers.naslib_zc`)."""


def is_loss(metric: str) -> bool:
    """True for the benchmark's loss (cross-entropy, ``loss`` in every format read here): the
    one name that ranks low values first and is never negative. A user's own ``*_loss``
    names nothing this package knows the sign or direction of."""
    return metric == "loss"


def is_analytic_cost(metric: str) -> bool:
    """Whether ``metric`` is an analytic cost (:func:`nb201_flat.costs.with_analytic_costs`):
    computed from the cell's own operations, never a run's number, so no record of a run at
    chance or of a copied cell speaks of it (added at a run's schedule, it shares the run's
    dataset and epochs).

    >>> is_analytic_cost("params_mb_analytic"), is_analytic_cost("params_mb")
    (True, False)
    """
    return metric in (PARAMS_ANALYTIC, FLOPS_ANALYTIC)


def cannot_be_negative(metric: str) -> bool:
    """True for a metric no measurement makes negative: a loss (cross-entropy), a time
    (``time_s``, ``epoch_time_s``, a proxy's ``<name>_time_s``) or a cost (:data:`COST_METRICS`).
    A zero-cost proxy score or an accuracy delta may be negative; accuracies have their own
    0..100 rule (:func:`is_percent_accuracy`) and spreads their own (:func:`is_spread`).
    Importers refuse a value outside any of them by :func:`metric_range`.

    >>> [m for m in ("loss", "time_s", "synflow_time_s", "params_mb", "jacov") if
    ...  cannot_be_negative(m)]
    ['loss', 'time_s', 'synflow_time_s', 'params_mb']
    """
    return is_loss(metric) or metric.endswith("time_s") or metric in COST_METRICS


def is_accuracy(metric: str) -> bool:
    """True for a metric named as an accuracy: ``accuracy`` and the ``*_accuracy`` of
    AnalogNAS-Bench (``ptq_accuracy``, ...). Every accuracy in percent, those named otherwise
    too, is :func:`is_percent_accuracy`'s."""
    return metric == "accuracy" or metric.endswith("_accuracy")


def is_drift_accuracy(metric: str) -> bool:
    """True for AnalogNAS-Bench's accuracies after conductance drift, named by the time drifted
    (``drift_60s``, ``drift_1h``, ``hwt_drift_30d``, ...), not their ``_std`` uncertainties nor
    a user's own ``drift_*`` metric (``drift_rate_ppm`` was refused above 100 as an accuracy).

    >>> [m for m in ("drift_1h", "hwt_drift_30d", "drift_1h_std", "drift_rate_ppm") if
    ...  is_drift_accuracy(m)]
    ['drift_1h', 'hwt_drift_30d']
    """
    return _DRIFT_ACCURACY.fullmatch(metric) is not None


_DRIFT_ACCURACY: Final = re.compile(r"(?:hwt_)?drift_[0-9]+[smhd]")


def is_percent_accuracy(metric: str) -> bool:
    """True for a metric that is an accuracy in percent (0..100): one named as an accuracy
    (:func:`is_accuracy`) or AnalogNAS-Bench's accuracies after drift
    (:func:`is_drift_accuracy`). The one rule of the importers' 0..100 check, the fraction
    warning, the figures' (%) and the ranking direction.

    >>> [m for m in ("accuracy", "ptq_accuracy", "drift_1h", "drift_1h_std", "synflow") if
    ...  is_percent_accuracy(m)]
    ['accuracy', 'ptq_accuracy', 'drift_1h']
    """
    return is_accuracy(metric) or is_drift_accuracy(metric)


def is_spread(metric: str) -> bool:
    """True for a spread: a standard deviation, named ``*_std`` (AnalogNAS-Bench's drift
    uncertainties ``drift_1h_std``, ...). Never negative, and neither end of it is better."""
    return metric.endswith("_std")


# an accuracy is a percentage (NB201 stores 0..100; AnalogNAS-Bench's after drift too): -5 or
# 1e308 is a damaged or mis-scaled file, never a score; query printed it as one. A time, loss,
# size or spread is never negative: a search summed a negative time_s into its budget.
# Importers refuse a value outside its metric's range by one rule (metric_range): a tidy
# file by its line, an official file or a results database by arch and key
# (importers.tidy.check_value_ranges), a NASLib zc file's measurements (val_accuracy, costs) by
# their JSON key, AnalogNAS-Bench's data.anb by arch and key. Only at import: a table built in
# memory (a synthetic one) may hold any number.
ACCURACY_RANGE: Final = (0.0, 100.0)
NOT_PERCENT: Final = "is not an accuracy in percent (0..100)"
NOT_NON_NEGATIVE: Final = "is negative, which a loss, a time or a cost cannot be"
NOT_A_SPREAD: Final = "is negative, which a spread (a standard deviation) cannot be"


def metric_range(metric: str) -> tuple[float, float] | None:
    """The values a measurement of ``metric`` can have (inclusive), or None for a metric of
    no known range: :data:`ACCURACY_RANGE` for an accuracy in percent
    (:func:`is_percent_accuracy`, after drift too), ``0..inf`` for a loss, time or cost
    (:func:`cannot_be_negative`) and for a spread (:func:`is_spread`); zero-cost proxies and a
    user's own metrics have none.

    >>> metric_range("drift_1h"), metric_range("time_s"), metric_range("drift_1h_std")
    ((0.0, 100.0), (0.0, inf), (0.0, inf))
    >>> metric_range("synflow") is None
    True
    """
    if is_percent_accuracy(metric):
        return ACCURACY_RANGE
    return (0.0, math.inf) if cannot_be_negative(metric) or is_spread(metric) else None


def outside_range_why(metric: str) -> str:
    """Why a value outside :func:`metric_range` is refused, after the value in its message:
    every importer words it so.

    >>> outside_range_why("ptq_accuracy"), outside_range_why("loss")
    ('is not an accuracy in percent (0..100)', 'is negative, which a loss, a time or a cost cannot be')
    """
    if is_percent_accuracy(metric):
        return NOT_PERCENT
    return NOT_A_SPREAD if is_spread(metric) else NOT_NON_NEGATIVE


def outside_range(metric: str, values: Any) -> Any:
    """True where ``values`` (one, or an array) of ``metric`` lie outside :func:`metric_range`
    (NaN, a missing number, does not); False for a metric of no range.

    >>> import numpy as np
    >>> outside_range("time_s", np.array([-1.0, 2.0, math.nan])).tolist()
    [True, False, False]
    >>> outside_range("jacov", -1.0)
    False
    """
    limits = metric_range(metric)
    if limits is None:
        return False
    low, high = limits
    return (values < low) | (values > high)


def natural_direction(metric: str) -> bool | None:
    """Whether ``metric`` ranks high values first by its name: True for an accuracy in percent
    (:func:`is_percent_accuracy`: ``accuracy``, ``*_accuracy``, AnalogNAS-Bench's
    accuracies after drift, ``drift_1h`` ...), False for the loss (:func:`is_loss`), None for a
    metric with no fitness direction (a cost: ``time_s``, ``params_mb``, ...; a spread:
    :func:`is_spread`; any other name, a user's own ``*_loss`` too: its direction is the
    user's to say).

    >>> [natural_direction(m) for m in ("accuracy", "hwt_drift_1d", "loss", "drift_1d_std", "time_s")]
    [True, True, False, None, None]
    """
    if is_loss(metric):
        return False
    if is_percent_accuracy(metric):
        return True
    return None  # a cost, a spread (an uncertainty: neither end of it is "better"), unknown


#: The dataset a search reads for CIFAR-10 (its validation split lives there only).
CIFAR10_VALID: Final = "cifar10-valid"

#: The datasets results are reported on, in NB201's order.
REPORT_DATASETS: Final = ("cifar10", "cifar100", "ImageNet16-120")

#: Every dataset name NB201 uses (the training sets of the official files).
DATASETS: Final = (CIFAR10_VALID, "cifar10", "cifar100", "ImageNet16-120")

#: The split each reported dataset's test accuracy is read from.
TEST_SPLIT: Final[dict[str, str]] = {
    "cifar10": "ori-test",
    "cifar100": "x-test",
    "ImageNet16-120": "x-test",
}

#: Display names for figures and messages.
DATASET_LABELS: Final[dict[str, str]] = {
    "cifar10": "CIFAR-10",
    CIFAR10_VALID: "CIFAR-10",
    "cifar100": "CIFAR-100",
    "ImageNet16-120": "ImageNet16-120",
}

#: NATS-Bench's per-dataset time budgets (seconds), by the dataset searched. These and
#: :data:`NB201_TIME_BUDGET` are seconds of NB201's own training: a table of retrained times is
#: refused them (:func:`~nb201_flat.search.protocol.check_benchmark_times`).
TIME_BUDGETS: Final[dict[str, float]] = {
    CIFAR10_VALID: 20_000.0,
    "cifar100": 40_000.0,
    "ImageNet16-120": 120_000.0,
}

#: NB201's own random-search budget (seconds of simulated 12-epoch training).
NB201_TIME_BUDGET: Final = 12_000.0


#: The schedules a time budget serves: NB201's are set for 12-epoch searches and scaled for 200
#: (a query budget, ``fixed-n``, reads any stored schedule).
SEARCH_EPOCHS: Final = (12, 200)


#: The schedule NB201's time budgets are set for.
BUDGET_EPOCHS: Final = 12


def budget_ratio(epochs: object) -> Fraction:
    """The epochs rule, exactly: a protocol's time budget is multiplied by ``epochs / 12`` when
    a search reads the ``epochs`` schedule.

    The one rule for every time-budgeted search, applied by the protocol builders
    (:mod:`nb201_flat.search.protocol`, through :func:`scaled_time_budget`) and so by
    ``search``, ``reproduce`` and Python alike: NB201's budgets are set for the 12-epoch
    schedule; at 200 epochs each query costs about 200/12 times more simulated training time,
    so the budget is scaled by 200/12 and a run affords about as many queries as at 12 epochs.
    Query-count budgets (``fixed-n``) are never scaled.

    >>> budget_ratio(200)
    Fraction(50, 3)
    """
    # an int: 200.0 passed 'in' and met Fraction's bare TypeError, True passed as 1
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise UnknownKeyError(f"search epochs must be 12 or 200 (an int), got {epochs!r}")
    if epochs not in SEARCH_EPOCHS:
        raise UnknownKeyError(f"search epochs must be 12 or 200, got {epochs!r}")
    return Fraction(int(epochs), BUDGET_EPOCHS)


def budget_scale_for(epochs: int) -> float:
    """:func:`budget_ratio` as a float (the multiplier reports print).

    >>> budget_scale_for(12), round(budget_scale_for(200), 4)
    (1.0, 16.6667)
    """
    return float(budget_ratio(epochs))


def scaled_time_budget(budget: float, epochs: int, scale: float | Fraction = 1) -> float:
    """``budget`` seconds (set for 12 epochs) x ``scale`` under the epochs rule, rounded once.

    The product is exact before its one rounding, so the rule is 200/12 itself and not the
    float nearest it (``120_000 * 16.666666666666668`` is 2,000,000.0000000002 s). Raises
    :class:`OverflowError` where the budget exceeds any float.

    >>> scaled_time_budget(120_000.0, 200), scaled_time_budget(20_000.0, 200)
    (2000000.0, 333333.3333333333)
    """
    ratio = budget_ratio(epochs)
    # numbers > 0: Fraction read the text '2' as 2, True as 1, and NaN met its bare ValueError
    exact = [
        value if isinstance(value, Fraction) and value > 0
        else Fraction(check_float_range(name, value, 0.0, lo_open=True))
        for name, value in (("budget", budget), ("scale", scale))
    ]  # fmt: skip
    return float(exact[0] * exact[1] * ratio)


def budget_rule_note(
    epochs: int, extra_scale: float = 1.0, scale_name: str = "budget_scale"
) -> str:
    """The sentence every report that applies :func:`budget_scale_for` prints; ``scale_name``
    names the caller's scale of the time budget (a command: its flag).

    >>> budget_rule_note(200)
    'search at 200 epochs: time budgets x 16.67 so that a run affords about as many queries as at 12 epochs'
    """
    scale = budget_scale_for(epochs) * extra_scale
    given = "" if extra_scale == 1.0 else f" (times {scale_name} {extra_scale:g})"
    return (
        f"search at {epochs} epochs: time budgets x {scale:.4g}{given} so that a run affords "
        f"about as many queries as at 12 epochs"
    )


def search_dataset(dataset: str) -> str:
    """The dataset a search reads for ``dataset``: ``cifar10`` -> ``cifar10-valid``."""
    return CIFAR10_VALID if dataset == "cifar10" else dataset


def report_dataset(dataset: str) -> str:
    """The dataset results are reported on for ``dataset``: ``cifar10-valid`` -> ``cifar10``."""
    return "cifar10" if dataset == CIFAR10_VALID else dataset


def search_key(dataset: str, epochs: int = 200, metric: str = "accuracy") -> MetricKey:
    """What a search may see for ``dataset``: its validation split (``cifar10`` -> cifar10-valid)."""
    return MetricKey(search_dataset(_dataset_name(dataset)), "x-valid", epochs, metric)


def _dataset_name(dataset: object) -> str:
    """``dataset`` if it is a name (a list met a bare 'unhashable')."""
    if not isinstance(dataset, str):
        raise UnknownKeyError(f"a dataset is named by a str, got {dataset!r}; e.g. 'cifar100'")
    return dataset


def report_key(dataset: str, epochs: int = 200, metric: str = "accuracy") -> MetricKey:
    """What is reported for ``dataset``: its test split (``cifar10-valid`` -> cifar10 ori-test)."""
    ds = report_dataset(_dataset_name(dataset))
    if ds not in TEST_SPLIT:
        raise UnknownKeyError(
            f"NB201 reports {', '.join(REPORT_DATASETS)}, not {dataset!r}; use one of those"
        )
    return MetricKey(ds, TEST_SPLIT[ds], epochs, metric)


def cost_key(dataset: str = "cifar10") -> MetricKey:
    """The training time a search on ``dataset`` pays (full-schedule ``train`` ``time_s``)."""
    return MetricKey(search_dataset(dataset), "train", 200, "time_s")


def shares_data(search: MetricKey, report: MetricKey) -> bool:
    """True when the searched split overlaps the reported one (an optimistic protocol).

    ``ori-test`` is the union of ``x-valid`` and ``x-test`` for cifar100 and ImageNet16-120,
    but not for ``cifar10-valid``, whose ``x-valid`` comes from the training images.

    >>> shares_data(search_key("cifar100"), MetricKey("cifar100", "ori-test", 200))
    True
    >>> shares_data(search_key("cifar10"), report_key("cifar10"))
    False
    """
    for name, key in (("search", search), ("report", report)):
        if not isinstance(key, MetricKey):  # a str met a bare AttributeError
            raise ArgumentError(
                f"{name} must be a MetricKey, got {key!r}; e.g. search_key('cifar100')"
            )
    if search.dataset != report.dataset:
        return False
    if search.split == report.split:
        return True
    return "ori-test" in (search.split, report.split) and search.dataset != CIFAR10_VALID


def default_metric(table: Table) -> MetricKey:
    """The metric a table is summarised by when none is named.

    The 200-epoch test accuracy of CIFAR-10, else of CIFAR-100, else of ImageNet16-120; else the
    table's first 200-epoch accuracy, else its first accuracy of any schedule.

    >>> from nb201_flat.testing import synthetic_table
    >>> str(default_metric(synthetic_table()))
    'cifar10/ori-test@200ep:accuracy'
    """
    from nb201_flat.table import check_table

    table = check_table(table)  # a str met a bare TypeError
    for ds in REPORT_DATASETS:
        if report_key(ds) in table:
            return report_key(ds)
    acc = [k for k in table if k.metric == "accuracy"]
    if not acc:
        raise UnknownKeyError(
            f"table {table.source!r} has no accuracy metric, so none is the default; name the "
            "metric key (dataset, split, epochs, metric) to use"
        )
    full = [k for k in acc if k.epochs == 200]
    return (full or acc)[0]


def servable_protocols(table: Table, epochs: int | None = None) -> tuple[str, ...]:
    """The built-in search protocols (by name) whose keys ``table`` holds at ``epochs``
    (default 12, and fixed-n's fallback at its own: :func:`protocols_by_name`).

    >>> from nb201_flat.testing import synthetic_table
    >>> servable_protocols(synthetic_table())
    ('nb201', 'per-dataset', 'fixed-n')
    """
    from nb201_flat.search.protocol import PROTOCOL_NAMES, ProtocolError, protocols_by_name

    out = []
    for name in PROTOCOL_NAMES:
        try:
            for p in protocols_by_name(name, table, epochs=epochs):
                p.check(table)
        except (ProtocolError, UnknownKeyError):
            continue
        out.append(name)
    return tuple(out)
