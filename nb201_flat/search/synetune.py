"""A table as a syne-tune ``BlackboxTabular`` (optional extra ``synetune``).

:func:`blackbox_arrays` lays a table out the way syne-tune's own NAS-Bench-201 conversion
does (``syne_tune/blackbox_repository/conversion_scripts/scripts/nasbench201_import.py``,
syne-tune 0.16.0), without importing syne-tune:

- hyperparameters ``hp_x0`` .. ``hp_x5``: the op of each edge, in NB201 string order
  (a ``choice`` over the space's ops); one row per measured architecture;
- one fidelity ``hp_epoch`` with values ``1 .. n`` (epochs trained) when the table has
  learning curves, else the single value ``epochs`` (the final value only);
- objectives, shape ``(archs, seeds, fidelities, objectives)``, float32:
  ``metric_valid_error`` (1 - accuracy / 100 of the chosen split), ``metric_train_error``,
  ``metric_runtime`` (seconds of that epoch; the whole schedule's time for a final-only
  table), ``metric_elapsed_time`` (cumulative), ``metric_latency``, ``metric_flops``,
  ``metric_params`` -- each only when the table stores it.

Differences from syne-tune's converter, on purpose: the validation error is read from the
split you name (``x-valid`` by default; the converter reads ``ori-test``, a test split), and
the per-epoch runtime is the training time only (evaluation times are not imported). Like the
converter, a seed an architecture lacks is filled with the mean of its other seeds
(``BlackboxTabular`` has no missing values); ``missing="raise"`` refuses instead.

:func:`to_blackbox_tabular` builds the ``BlackboxTabular`` (``pip install
'nb201-flat[synetune]'``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.conventions import CIFAR10_VALID
from nb201_flat.errors import MissingDependencyError, UnknownKeyError, check_choice
from nb201_flat.table import MetricKey, Table

if TYPE_CHECKING:
    from nb201_flat.curves import Curves

FIDELITY = "hp_epoch"


@dataclass(frozen=True, slots=True, eq=False)
class BlackboxArrays:
    """What ``BlackboxTabular`` is built from (see the module docstring)."""

    hyperparameters: pd.DataFrame
    choices: dict[str, tuple[str, ...]]
    objectives: npt.NDArray[np.float32]
    fidelity_values: npt.NDArray[np.int64]
    objectives_names: tuple[str, ...]
    index: npt.NDArray[np.int64]
    imputed: int


def _hp_names(n_edges: int) -> list[str]:
    return [f"hp_x{i}" for i in range(n_edges)]


def blackbox_arrays(
    table: Table,
    dataset: str = CIFAR10_VALID,
    split: str = "x-valid",
    epochs: int = 200,
    *,
    missing: Literal["impute", "raise"] = "impute",
) -> BlackboxArrays:
    """The arrays of :func:`to_blackbox_tabular`, syne-tune not needed.

    Raises
    ------
    UnknownKeyError
        The accuracy key is not stored, or (``missing="raise"``) an architecture lacks a seed.
    ArgumentError
        ``missing`` is neither ``"impute"`` nor ``"raise"``.
    """
    # any other word was read as "impute"
    check_choice("missing", missing, ("impute", "raise"))
    key = table.key(dataset, split, epochs, "accuracy")
    curves = table.curves
    per_seed: dict[str, npt.NDArray[np.float64]] = {}  # objective -> (archs, seeds, fid)
    if curves is not None and key in curves:
        fid = np.arange(1, curves.n_epochs(key) + 1, dtype=np.int64)
        per_seed["metric_valid_error"] = _error(_stack_curves(curves, key))
        train = MetricKey(dataset, "train", epochs, "accuracy")
        if train in curves:
            per_seed["metric_train_error"] = _error(_stack_curves(curves, train))
        time = MetricKey(dataset, "train", epochs, "epoch_time_s")
        if time in curves:
            per_seed["metric_runtime"] = _stack_curves(curves, time)
    else:
        fid = np.array([epochs], dtype=np.int64)
        per_seed["metric_valid_error"] = _error(_stack_vectors(table, key))
        train = MetricKey(dataset, "train", epochs, "accuracy")
        if train in table:
            per_seed["metric_train_error"] = _error(_stack_vectors(table, train))
        time = MetricKey(dataset, "train", epochs, "time_s")
        if time in table:
            per_seed["metric_runtime"] = _stack_vectors(table, time)
    n_seeds = per_seed["metric_valid_error"].shape[1]
    if "metric_runtime" in per_seed:
        per_seed["metric_elapsed_time"] = np.cumsum(per_seed["metric_runtime"], axis=2)
    for metric, name in (("latency_s", "latency"), ("flops_m", "flops"), ("params_mb", "params")):
        k = MetricKey(dataset, "model", epochs, metric)
        if k in table:
            vec = table.vector_for(k)
            per_seed[f"metric_{name}"] = np.broadcast_to(
                vec[:, None, None], (vec.size, n_seeds, fid.size)
            )
    valid = per_seed["metric_valid_error"]
    rows = np.flatnonzero(~np.isnan(valid).all(axis=(1, 2)))
    names = tuple(per_seed)
    for name in names:
        arr = per_seed[name]
        if arr.shape[1] != n_seeds:  # a key with fewer seeds: its mean stands for each
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(arr, axis=1, keepdims=True)
            per_seed[name] = np.broadcast_to(mean, valid.shape)
    out = np.stack([per_seed[n][rows] for n in names], axis=-1).astype(np.float64)
    holes = np.isnan(out)
    imputed = int(holes.any(axis=(2, 3)).sum())
    if holes.any():
        if missing == "raise":
            i = int(rows[np.argwhere(holes)[0][0]])
            raise UnknownKeyError(
                f"architecture {i} lacks a seed or value for {key} (BlackboxTabular has no "
                "missing values); pass missing='impute' to fill it with its other seeds' mean"
            )
        with warnings.catch_warnings():  # all-NaN columns are reported just below
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(out, axis=1, keepdims=True)
        out = np.where(holes, np.broadcast_to(mean, out.shape), out)
        if np.isnan(out).any():
            raise UnknownKeyError(
                f"{int(np.isnan(out).any(axis=(1, 2, 3)).sum())} architectures have an "
                "objective with no value on any seed; it cannot be imputed"
            )
    space = table.space
    hp = _hp_names(space.n_edges)
    ops = np.asarray(space.ops, dtype=object)
    hyper = pd.DataFrame(ops[space.codes[rows].astype(np.int64)], columns=hp)
    return BlackboxArrays(
        hyperparameters=hyper,
        choices={h: tuple(space.ops) for h in hp},
        objectives=out.astype(np.float32),
        fidelity_values=fid,
        objectives_names=names,
        index=rows.astype(np.int64),
        imputed=imputed,
    )


def _error(acc: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1.0 - acc / 100.0
    return out


def _stack_curves(curves: Curves, key: MetricKey) -> npt.NDArray[np.float64]:
    seeds = curves.seeds(key)
    if not seeds:
        return np.asarray(curves.curve(key, seed_policy="mean"))[:, None, :]
    return np.stack([curves.curve(key, seed_policy=s) for s in seeds], axis=1)


def _stack_vectors(table: Table, key: MetricKey) -> npt.NDArray[np.float64]:
    seeds = table.seeds(key)
    if not seeds:
        return np.asarray(table.vector_for(key))[:, None, None]
    return np.stack([table.vector_for(key, seed_policy=s) for s in seeds], axis=1)[:, :, None]


def to_blackbox_tabular(
    table: Table,
    dataset: str = CIFAR10_VALID,
    split: str = "x-valid",
    epochs: int = 200,
    *,
    missing: Literal["impute", "raise"] = "impute",
) -> Any:
    """A syne-tune ``BlackboxTabular`` of ``table`` (needs the ``synetune`` extra).

    Configurations are dicts ``{"hp_x0": op, ..., "hp_x5": op}``; the fidelity is
    ``{"hp_epoch": e}``.
    """
    try:
        from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
        from syne_tune.config_space import choice, randint
    except ImportError:
        raise MissingDependencyError(
            "to_blackbox_tabular needs syne-tune; install it with "
            "`pip install 'nb201-flat[synetune]'`"
        ) from None
    arrays = blackbox_arrays(table, dataset, split, epochs, missing=missing)
    return BlackboxTabular(
        hyperparameters=arrays.hyperparameters,
        configuration_space={h: choice(list(c)) for h, c in arrays.choices.items()},
        fidelity_space={FIDELITY: randint(lower=1, upper=int(arrays.fidelity_values.max()))},
        objectives_evaluations=arrays.objectives,
        fidelity_values=arrays.fidelity_values,
        objectives_names=list(arrays.objectives_names),
    )
