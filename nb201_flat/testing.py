"""Synthetic tables for tests, examples and doctests: exactly known structure, no data files.

:func:`synthetic_table` is NB201-shaped: the real 15,625-cell space and every key the built-in
search protocols, the figures' validation/test pairs and the demo read (validation at 12 and
200 epochs with per-seed values, training time, each dataset's test split), with accuracy that
grows with the number of convolutions plus seeded noise. :func:`table_from` builds a table from
given vectors (or functions of the op codes) over any space, for logic with exact answers.
:func:`figure_table` holds every key the figures draw, with accuracies spread like NB201's
(chance for disconnected cells) and six-epoch learning curves.

Examples
--------
>>> table = synthetic_table()
>>> table.space.size, len(table.keys())
(15625, 12)
>>> from nb201_flat.space import Space
>>> tiny = Space(("none", "skip", "conv"), 3)
>>> t = table_from(lambda codes: (codes == 2).sum(axis=1), space=tiny)
>>> t.vector("synthetic", "x-valid", 200).max()
np.float64(3.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from nb201_flat.conventions import REPORT_DATASETS, cost_key, report_key, search_key
from nb201_flat.errors import ArgumentError, Param, check_seed, shown
from nb201_flat.neighbours import arch_vector
from nb201_flat.space import NB201, Space, check_space
from nb201_flat.table import MetricKey, Table

__all__ = ["SYNTHETIC_KEY", "VectorSpec", "figure_table", "synthetic_table", "table_from"]

#: A vector, or a function of ``space.codes`` (size x edges, int64) returning one.
VectorSpec: TypeAlias = npt.ArrayLike | Callable[[npt.NDArray[np.int64]], npt.ArrayLike]

#: The key :func:`table_from` stores its main vector under.
SYNTHETIC_KEY = MetricKey("synthetic", "x-valid", 200)

# accuracy scale per dataset, relative to CIFAR-10 (roughly NB201's spread)
_SCALE = {"cifar10": 1.0, "cifar100": 0.7, "ImageNet16-120": 0.45}


def synthetic_table(seed: int = 7) -> Table:
    """An NB201-shaped table: accuracy grows with 3x3 convs, plus noise; costs grow with convs.

    Per dataset (``cifar10-valid`` for the CIFAR-10 search side): ``x-valid`` at 12 epochs (one
    value) and at 200 epochs (three seeds, the third missing for about 40 % of the cells, and
    their mean), ``train`` ``time_s`` (12-epoch queries cost about 100 s), and the test split
    each paper reports. Disconnected cells are 20 points worse. Deterministic in ``seed``.
    """
    rng = np.random.default_rng(check_seed(seed))  # numpy's bare error for -1, 2.5 or "7"
    codes = NB201.codes.astype(np.int64)
    conv = (codes == 3).sum(axis=1) + 0.5 * (codes == 2).sum(axis=1)
    signal = 60.0 + 5.0 * conv - 20.0 * ~NB201.connected
    time_200 = 1000.0 + 400.0 * conv + rng.uniform(0, 200, NB201.size)
    data: dict[tuple[MetricKey, int | None], npt.NDArray[np.float64]] = {}
    for ds in REPORT_DATASETS:
        scale = _SCALE[ds]
        base = signal * scale
        for ep, noise in ((12, 3.0), (200, 1.0)):
            key = search_key(ds, ep)
            if ep == 200:
                seeds = [base + rng.normal(0, noise, NB201.size) for _ in range(3)]
                seeds[2][rng.random(NB201.size) < 0.4] = np.nan  # some archs have 2 seeds
                for s, v in enumerate(seeds):
                    data[(key, s)] = v
                data[(key, None)] = np.nanmean(np.stack(seeds), axis=0)
            else:
                data[(key, None)] = base - 10 + rng.normal(0, noise, NB201.size)
        data[(cost_key(ds), None)] = time_200 * (1 + scale)
    data[(report_key("cifar10"), None)] = signal + rng.normal(0, 1, NB201.size)
    for ds in REPORT_DATASETS[1:]:
        data[(report_key(ds), None)] = signal * _SCALE[ds] + rng.normal(0, 1, NB201.size)
    return Table(NB201, data, source="synthetic nb201-like")


def table_from(
    values: VectorSpec,
    *,
    space: Space = NB201,
    key: MetricKey = SYNTHETIC_KEY,
    extra: Mapping[MetricKey, VectorSpec] | None = None,
) -> Table:
    """A table whose vectors are given arrays or functions of ``space.codes`` (size x edges)."""

    # the package's checks: 'abc' met numpy's bare ValueError, one key alone (or a list)
    # Python's TypeError, extra given as a number an AttributeError
    check_space(space)
    if not isinstance(key, MetricKey):
        raise ArgumentError(Param("key"), f" must be a MetricKey, got {shown(key)}")
    if extra is not None and not isinstance(extra, Mapping):
        raise ArgumentError(
            Param("extra"), f" must map MetricKey to vectors, got {shown(extra)}; pass a dict"
        )

    def vec(v: VectorSpec) -> npt.NDArray[np.float64]:
        out = v(space.codes.astype(np.int64)) if callable(v) else v
        return arch_vector(out, space.size).copy()

    data: dict[tuple[MetricKey, int | None], npt.NDArray[np.float64]] = {(key, None): vec(values)}
    for k, v in (extra or {}).items():
        data[(k, None)] = vec(v)
    return Table(space, data, source="synthetic")


# per op code (none, skip, conv1x1, conv3x3, pool): how much an edge helps the figure table
_OP_WEIGHT = np.array([0.0, 0.45, 0.7, 1.0, 0.25])
# dataset -> (chance accuracy, best accuracy), roughly NB201's
_RANGES = {
    "cifar10": (10.0, 94.4),
    "cifar100": (1.0, 73.5),
    "ImageNet16-120": (0.8, 47.3),
}


def _spread_accuracy(
    score: npt.NDArray[np.float64], chance: float, best: float
) -> npt.NDArray[np.float64]:
    """Monotone in ``score``, chance for disconnected cells, spread over [chance, best]."""
    rank = (np.argsort(np.argsort(score, kind="stable"), kind="stable") + 0.5) / score.size
    acc = chance + (best - chance) * np.sqrt(rank)
    return np.where(NB201.connected, acc, chance)


def figure_table(seed: int = 0) -> Table:
    """A table with every key of the figures, over the real NB201 space.

    200-epoch test and validation accuracy, 12-epoch validation accuracy and training time of
    cifar10(-valid), cifar100 and ImageNet16-120, plus six-epoch validation curves of
    cifar10-valid rising to the final value. The figure tests' assertions read these numbers:
    changing the draws here changes them.

    Examples
    --------
    >>> t = figure_table()
    >>> len(t.keys()), t.curves is not None
    (12, True)
    """
    from nb201_flat.curves import Curves

    rng = np.random.default_rng(check_seed(seed))
    codes = NB201.codes.astype(np.int64)
    base = _OP_WEIGHT[codes].sum(axis=1)
    data: dict[tuple[MetricKey, int | None], npt.NDArray[np.float64]] = {}
    time_s = 2000.0 + 400.0 * (codes >= 2).sum(axis=1) + rng.uniform(0, 100, NB201.size)
    for ds, (chance, best) in _RANGES.items():
        score = base + rng.normal(0.0, 0.15, NB201.size)
        test = _spread_accuracy(score, chance, best)
        valid = np.where(NB201.connected, test + rng.normal(0.0, 0.3, NB201.size), chance)
        valid12 = np.where(NB201.connected, valid - 8.0 + rng.normal(0, 1.0, NB201.size), chance)
        data[(report_key(ds), None)] = test
        data[(search_key(ds, 200), None)] = valid
        data[(search_key(ds, 12), None)] = valid12
        data[(cost_key(ds), None)] = time_s.copy()
    final = data[(search_key("cifar10", 200), None)]
    rise = 1.0 - np.exp(-np.arange(1, 7) / 2.0)
    noise = rng.normal(0.0, 2.0, (NB201.size, 6)) * (1.0 - rise / rise[-1])
    curve = final[:, None] * rise[None, :] / rise[-1] + noise
    curves = Curves(NB201.size, {(search_key("cifar10", 200), None): curve})
    # two seeds around each mean (drawn last: the values above stay as they were), so
    # flat_vs_sharp can read sharpness and the gap from different seeds
    for key in (
        *(search_key(ds, 200) for ds in _RANGES),
        report_key("cifar100"),
        report_key("ImageNet16-120"),
    ):
        spread = rng.normal(0.0, 0.3, NB201.size)
        mean = data[(key, None)]
        data[(key, 0)], data[(key, 1)] = mean + spread, mean - spread
    return Table(NB201, data, source="synthetic figure table", curves=curves)
