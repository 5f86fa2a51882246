"""Collect per-epoch learning curves from official ``ResultsCount`` records.

NB201 (``.pth``) and NATS-Bench tss files store every run's whole training: ``train_acc1es``,
``train_losses`` and ``train_times`` indexed by epoch, ``eval_acc1es``/``eval_losses`` keyed
``"<split>@<epoch>"``. :class:`CurveCollector` gathers them while
:class:`~nb201_flat.importers.official.TidyRows` reads the final values, so each file is read
once, and turns them into :class:`~nb201_flat.curves.Curves`.

Semantics mirror ``ResultsCount.get_train(iepoch)`` / ``get_eval(name, iepoch)`` and
``ArchResults.get_metrics(dataset, setname, iepoch, is_random)`` (nas-bench-201 2.1,
nats_bench 1.8):

- column ``e`` is the value after epoch ``e`` (``iepoch=e``); epochs a run did not evaluate
  (v1_0's ``ori-test``, stored at the last epoch only) are NaN;
- ``epoch_time_s`` is ``train_times[e]`` (the API's ``cur_time``); runs without
  ``train_times`` have none;
- the mean curve (``is_random=False``) is the plain mean over the stored seeds, at the epochs
  where every seed has the value (the API fails elsewhere).

Every importer of curves refuses the values :func:`refused_value` names; a results
database's curves (:mod:`nb201_flat.importers.results_db`) take their mean from
:func:`mean_curve`, the same rule over the seeds its table's mean is over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nb201_flat.conventions import outside_range, outside_range_why
from nb201_flat.curves import Curves, CurveSeed, FloatArray, first_infinite_cell
from nb201_flat.errors import FormatError
from nb201_flat.table import MetricKey

__all__ = ["CurveCollector", "mean_curve", "refused_value"]


class CurveCollector:
    """Accumulates curves per (key, seed position) and builds :class:`Curves` at the end."""

    def __init__(self, source: str = "curves") -> None:
        self.source = source  # the file named in errors
        # (key, seed) -> {index: per-epoch values}
        self._rows: dict[tuple[MetricKey, CurveSeed], dict[int, FloatArray]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add_runs(
        self,
        index: int,
        dataset: str,
        epochs: int,
        splits: Sequence[str],
        runs: Sequence[Mapping[str, Any]],
    ) -> None:
        """Add the runs (one per stored seed, ascending seed id) of one arch/dataset/schedule.

        ``runs`` are ``ResultsCount`` state dicts already validated by the final-value reader.
        """
        per_seed = []
        for pos, run in enumerate(runs):
            try:
                per_seed.append(_run_curves(run, splits))
            except (TypeError, ValueError, OverflowError) as exc:  # a value of no number
                raise FormatError(
                    f"{self.source}: architecture {index} {dataset} ({epochs} epochs) seed "
                    f"position {pos}: a learning curve holds {exc}; is this the official file?"
                ) from None
        for pos, curves in enumerate(per_seed):
            for (split, metric), series in curves.items():
                if (found := refused_value(metric, series[None, :])) is None:
                    continue
                _, e, why = found
                where = (
                    f"{self.source}: architecture {index} {dataset} ({epochs} epochs) seed "
                    f"position {pos}: {split} {metric}"
                )
                if np.isinf(series[e]):
                    raise FormatError(
                        f"{where} is infinite at epoch {e} (0-based); a learning curve "
                        "holds finite numbers: is this the official file?"
                    )
                raise FormatError(
                    f"{where} at epoch {e} (0-based): {series[e]} {why}; the file is "
                    "damaged, re-download it"
                )
        names: dict[tuple[str, str], None] = {}
        for curves in per_seed:
            names.update(dict.fromkeys(curves))
        for split, metric in names:
            key = MetricKey(dataset, split, epochs, metric)
            column = [c.get((split, metric)) for c in per_seed]
            for pos, values in enumerate(column):
                if values is not None:
                    self._rows.setdefault((key, pos), {})[index] = values
            if all(v is not None for v in column):
                n = min(len(v) for v in column if v is not None)
                total = np.zeros(n)
                for v in column:  # sequential sum, as the API's sum()/len()
                    assert v is not None
                    total = total + v[:n]
                self._rows.setdefault((key, None), {})[index] = total / len(column)

    def curves(self, n_archs: int) -> Curves:
        """Dense ``(n_archs, n_epochs)`` arrays, NaN where an arch or epoch is missing."""
        data: dict[tuple[MetricKey, CurveSeed], FloatArray] = {}
        for item, rows in self._rows.items():
            n_epochs = max(len(v) for v in rows.values())
            arr = np.full((n_archs, n_epochs), np.nan)
            for index, values in rows.items():
                arr[index, : len(values)] = values
            data[item] = arr
        return Curves(n_archs, data, copy=False)  # arrays of its own: no copies


def refused_value(metric: str, arr: FloatArray) -> tuple[int, int, str] | None:
    """``(row, epoch, why)`` of the first value of a curve array (rows x epochs of ``metric``,
    0-based) that no learning curve holds, else None: the one rule of every importer of
    curves. An infinity is refused (an inf flowed into every mean and rank read from it), and
    the final values' range rule holds at every epoch; NaN, not stored, passes.

    >>> refused_value("accuracy", np.array([[50.0, np.nan], [60.0, 250.0]]))
    (1, 1, 'is not an accuracy in percent (0..100)')
    """
    if (cell := first_infinite_cell(arr)) is not None:
        return (*cell, "is not a finite number")
    bad = outside_range(metric, arr)
    if not np.any(bad):
        return None
    row, epoch = np.argwhere(bad)[0]
    return int(row), int(epoch), outside_range_why(metric)


def mean_curve(curves: Sequence[FloatArray]) -> FloatArray:
    """The mean over seeds of one key's curves (each ``(n_archs, n_epochs)``, in the order of
    the table's seeds) for a table whose mean is that of the seeds holding a final value (a
    results database's: no stored mean, ``seed_policy="mean"`` a ``nanmean``).

    Per architecture, the mean is over the seeds whose curve holds its last epoch, at the
    epochs where every one of them holds the value (the official API's rule over those
    seeds), NaN elsewhere: its last column is the table's mean, summed in the same order
    (a seed without the final value, e.g. a loss recorded at chance, left out of both).

    >>> a = np.array([[1.0, 2.0, 3.0]]); b = np.array([[np.nan, 4.0, 5.0]])
    >>> mean_curve([a, b]).tolist(), mean_curve([a, np.full((1, 3), np.nan)]).tolist()
    ([[nan, 3.0, 4.0]], [[1.0, 2.0, 3.0]])
    """
    shape = curves[0].shape
    total, count = np.zeros(shape), np.zeros(shape[0], dtype=np.int64)
    gap = np.zeros(shape, dtype=bool)  # an epoch some counted seed lacks
    for arr in curves:  # sequential, seed by seed: numpy's nanmean sums a stack so
        counted = ~np.isnan(arr[:, -1])
        total = total + np.where(counted[:, None], arr, 0.0)
        gap |= counted[:, None] & np.isnan(arr)
        count += counted
    with np.errstate(invalid="ignore"):  # 0 / 0: no seed holds a final value
        mean = total / count[:, None]
    mean[gap | (count == 0)[:, None]] = np.nan
    return mean


def _run_curves(run: Mapping[str, Any], splits: Sequence[str]) -> dict[tuple[str, str], FloatArray]:
    n = int(run["epochs"])
    out: dict[tuple[str, str], FloatArray] = {
        ("train", "accuracy"): _series(run["train_acc1es"], n),
        ("train", "loss"): _series(run["train_losses"], n),
    }
    if run.get("train_times") is not None:
        out["train", "epoch_time_s"] = _series(run["train_times"], n)
    accs = run.get("eval_acc1es") or {}
    losses = run.get("eval_losses") or {}
    for split in splits:
        for metric, store in (("accuracy", accs), ("loss", losses)):
            values = np.full(n, np.nan)
            for e in range(n):
                if (v := store.get(f"{split}@{e}")) is None:
                    continue
                # a float, the files' own: no check and no name to build
                values[e] = (
                    v if type(v) is float else stored_number(v, f"{split} {metric} at epoch {e}")
                )
            if not np.isnan(values).all():
                out[split, metric] = values
    return out


def _series(store: Any, n: int) -> FloatArray:
    # dicts keyed by epoch (the official files) or lists; a missing epoch stays NaN
    get = store.get if isinstance(store, Mapping) else None
    out = np.full(n, np.nan)
    for e in range(n):
        if get is not None:
            v = get(e)
            if v is not None:  # a float, the files' own: no check and no name to build
                out[e] = v if type(v) is float else stored_number(v, f"epoch {e}")
        elif e < len(store):
            v = store[e]
            out[e] = v if type(v) is float else stored_number(v, f"epoch {e}")
    return out


def stored_number(value: object, what: str = "a value") -> float:
    """A number stored in an official result record as a float, else ValueError naming
    ``what``: a bool, text or None is no stored number (float() read True as 1.0 and
    "93.25" as 93.25), nor an int beyond a float (OverflowError)."""
    # numpy's bools (np.True_, a bool array) are no bool: float() read them as 1.0 too
    if (
        isinstance(value, bool | str | bytes)
        or value is None
        or getattr(getattr(value, "dtype", None), "kind", None) == "b"
    ):
        raise ValueError(f"{what}: {type(value).__name__} {str(value)[:30]!r}, not a number")
    try:
        return float(value)  # type: ignore[arg-type]  # numpy/torch scalars convert too
    except OverflowError:
        raise ValueError(f"{what}: {str(value)[:30]}..., beyond a float") from None
    except (TypeError, ValueError):  # a list, a dict...
        raise ValueError(
            f"{what}: {type(value).__name__} {str(value)[:30]!r}, not a number"
        ) from None
