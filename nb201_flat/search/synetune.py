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
  ``metric_params`` -- each only when the table stores it. The training objectives (train
  error, runtime, elapsed time) are read at ``epochs`` only, and a warning names those the
  table stores at another schedule alone (NB201's 12-epoch keys: validation accuracy only;
  a 12-epoch runtime is not estimated from the 200-epoch one). The model costs (latency,
  FLOPs, params) are read as :func:`~nb201_flat.constraints.cost_vector` reads them: at
  ``epochs`` where stored, else from the longest stored schedule (a network's size does not
  depend on how long it trains).

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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from nb201_flat.constraints import cost_vector
from nb201_flat.conventions import CIFAR10_VALID
from nb201_flat.errors import (
    ConstraintError,
    MissingDependencyError,
    UnknownKeyError,
    check_choice,
)
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

    Warns (``UserWarning``) where a training objective is left out because the table stores
    it at another schedule only (see the module docstring).

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
    train = MetricKey(dataset, "train", epochs, "accuracy")
    if curves is not None and key in curves:
        fid = np.arange(1, curves.n_epochs(key) + 1, dtype=np.int64)
        looked_in = curves.keys()
        per_seed["metric_valid_error"] = _error(_stack_curves(curves, key))
        if train in curves:
            per_seed["metric_train_error"] = _error(_stack_curves(curves, train))
        time = MetricKey(dataset, "train", epochs, "epoch_time_s")
        if time in curves:
            per_seed["metric_runtime"] = _stack_curves(curves, time)
    else:
        fid = np.array([epochs], dtype=np.int64)
        looked_in = table.keys()
        per_seed["metric_valid_error"] = _error(_stack_vectors(table, key))
        if train in table:
            per_seed["metric_train_error"] = _error(_stack_vectors(table, train))
        time = MetricKey(dataset, "train", epochs, "time_s")
        if time in table:
            per_seed["metric_runtime"] = _stack_vectors(table, time)
    n_seeds = per_seed["metric_valid_error"].shape[1]
    if "metric_runtime" in per_seed:
        per_seed["metric_elapsed_time"] = np.cumsum(per_seed["metric_runtime"], axis=2)
    left_out = {
        names: k
        for name, names, k in (
            ("metric_train_error", "metric_train_error", train),
            ("metric_runtime", "metric_runtime and metric_elapsed_time", time),
        )
        if name not in per_seed
    }
    _warn_other_schedule_only(looked_in, key, left_out)
    for metric, name in (("latency_s", "latency"), ("flops_m", "flops"), ("params_mb", "params")):
        try:  # at `epochs`, else the longest stored schedule: the size is the network's
            vec = cost_vector(table, dataset, metric, epochs=epochs)
        except ConstraintError:  # stored for no schedule of this dataset
            continue
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


def _warn_other_schedule_only(
    looked_in: list[MetricKey], key: MetricKey, left_out: dict[str, MetricKey]
) -> None:
    """Warn where an objective left out (its names -> the key it is read from) has its key
    among ``looked_in`` at another schedule: at 12 epochs NB201 stores no train accuracy or
    time, and they were dropped without a word. The fix offered is the longest such schedule
    that also stores ``key`` (the validation accuracy read)."""
    other: dict[str, list[int]] = {}
    for names, want in left_out.items():
        at = sorted({k.epochs for k in looked_in if replace(k, epochs=want.epochs) == want})
        if at:
            other[names] = at
    if not other:
        return
    said = "; ".join(
        f"{names} ({left_out[names]} is not stored; it is at {', '.join(map(str, at))} epochs)"
        for names, at in other.items()
    )
    fits = [e for at in other.values() for e in at if replace(key, epochs=e) in looked_in]
    fix = f"; pass epochs={max(fits)} to include them" if fits else ""
    warnings.warn(
        f"blackbox_arrays at {key.epochs} epochs leaves out {said}{fix}", UserWarning, stacklevel=3
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
