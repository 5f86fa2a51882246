"""A twelfth audit's findings on the search layer: the evaluator reads a Series by its labels,
candidates repeat no cell, syne-tune's blackbox keeps what does not depend on the schedule
and says what it leaves out, and the summary's means do not follow the pandas version."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from nb201_flat.errors import ArgumentError, SearchBudgetError
from nb201_flat.search.fidelity import FidelityData
from nb201_flat.search.oracle import Evaluator, OracleData
from nb201_flat.search.runner import summarise
from nb201_flat.search.synetune import blackbox_arrays
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

TINY = Space(("none", "skip_connect", "conv"), 3)  # 27 cells
KEY = MetricKey("toy", "x-valid", 12)
TEST = MetricKey("toy", "x-test", 200)


def test_the_evaluator_reads_a_shuffled_series_by_its_labels() -> None:
    # was read by position: label 9930's 73.51 was reported as 49.34 on NB201's CIFAR-100
    vec = np.arange(27.0) * 1.5
    shuffled = pd.Series(vec).sample(frac=1.0, random_state=0)
    assert shuffled.index[3] != 3  # position 3 holds another cell's value
    for vectors in ((shuffled,), (vec, shuffled), (shuffled, vec)):
        ev = Evaluator((TEST, KEY)[: len(vectors)], vectors)
        for row in ev.values([3, 20, -1]):
            assert row[:2].tolist() == [4.5, 30.0] and np.isnan(row[2])


@pytest.mark.parametrize("first", [True, False])
def test_the_evaluator_refuses_a_series_not_indexed_by_every_cell(first: bool) -> None:
    # a filtered Series was read by position (a shorter space when it came first)
    part = pd.Series(np.arange(27.0)).drop(index=5)
    vectors = (part,) if first else (np.arange(27.0), part)
    with pytest.raises(
        ArgumentError, match=r"\(a pandas Series\) must be indexed by the .*reindex"
    ):
        Evaluator((TEST, KEY)[: len(vectors)], vectors)


def _oracle_data(candidates: object) -> OracleData:
    values = np.arange(27.0)[None, :]
    return OracleData(TINY, KEY, values, None, None, None, None, 10, candidates=candidates)  # type: ignore[arg-type]


def _fidelity_data(candidates: object) -> FidelityData:
    values = np.tile(np.arange(1.0, 5.0), (27, 1))[None]
    return FidelityData(TINY, KEY, values, None, None, 10, candidates=candidates)  # type: ignore[arg-type]


@pytest.mark.parametrize("build", [_oracle_data, _fidelity_data])
def test_candidates_that_repeat_a_cell_are_refused(build: object) -> None:
    # [5, 5, 5, 6] has a domain of 2 cells, and sampling drew cell 5 in 74% of draws
    for cand, cell, times in (([5, 5, 5, 6], 5, 3), ([7, 3, 3, 7], 7, 2), ([2.0, 2], 2, 2)):
        with pytest.raises(
            SearchBudgetError,
            match=rf"^candidates hold cell {cell} more than once \({times} times\), so sampling "
            r"would draw it more often than the others; give each cell once \(e\.g\. "
            r"np\.unique\(candidates\)\), or pass None to draw from every cell$",
        ):
            build(cand)  # type: ignore[operator]
    assert build([6, 5]).domain_size == 2  # type: ignore[operator]


VALID12 = MetricKey("cifar10-valid", "x-valid", 12)
VALID200 = MetricKey("cifar10-valid", "x-valid", 200)
TRAIN200 = MetricKey("cifar10-valid", "train", 200)
TIME200 = MetricKey("cifar10-valid", "train", 200, "time_s")
PARAMS200 = MetricKey("cifar10-valid", "model", 200, "params_mb")


def _nb201_shaped() -> Table:
    # NB201's layout: at 12 epochs only the validation accuracy, everything else at 200
    rng = np.random.default_rng(0)
    data = {
        (VALID12, None): rng.uniform(10, 90, 27),
        (VALID200, None): rng.uniform(10, 90, 27),
        (TRAIN200, None): rng.uniform(10, 90, 27),
        (TIME200, None): rng.uniform(1e3, 2e3, 27),
        (PARAMS200, None): np.linspace(0.1, 1.0, 27),
    }
    return Table(TINY, data, source="nb201-shaped")


def test_blackbox_arrays_keep_the_model_costs_and_name_what_a_schedule_lacks() -> None:
    # at 12 epochs params was dropped (stored at 200), and train error and runtime without a
    # word; constraints.cost_vector serves params from the longest stored schedule
    t = _nb201_shaped()
    with pytest.warns(UserWarning, match="^blackbox_arrays at 12 epochs leaves out") as caught:
        a = blackbox_arrays(t, "cifar10-valid", "x-valid", 12)
    assert a.objectives_names == ("metric_valid_error", "metric_params")
    np.testing.assert_array_equal(
        a.objectives[:, 0, 0, 1], t.vector_for(PARAMS200)[a.index].astype(np.float32)
    )
    assert [str(w.message) for w in caught] == [
        "blackbox_arrays at 12 epochs leaves out metric_train_error "
        "(cifar10-valid/train@12ep:accuracy is not stored; it is at 200 epochs); "
        "metric_runtime and metric_elapsed_time (cifar10-valid/train@12ep:time_s is not "
        "stored; it is at 200 epochs); pass epochs=200 to include them"
    ]
    assert caught[0].filename == __file__  # the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every objective served: no word
        full = blackbox_arrays(t, "cifar10-valid", "x-valid", 200)
    assert full.objectives_names == (
        "metric_valid_error", "metric_train_error", "metric_runtime",
        "metric_elapsed_time", "metric_params",
    )  # fmt: skip


def test_blackbox_arrays_offer_no_schedule_that_lacks_the_validation_key() -> None:
    # train accuracy at 200 epochs but x-valid at 12 only: epochs=200 would fail on x-valid
    t = Table(TINY, {(VALID12, None): np.ones(27) * 50, (TRAIN200, None): np.ones(27) * 60})
    with pytest.warns(UserWarning, match=r"it is at 200 epochs\)$"):
        blackbox_arrays(t, "cifar10-valid", "x-valid", 12)


# six accuracies whose running-sum mean and std depend on the order of the rows (pandas 3.1.1:
# 45.31592333333334 in this order, 45.31592333333333 reversed)
ACCURACIES = [47.247899, 45.412269, 42.768912, 41.60652, 49.699254, 45.160686]


def _runs(test: list[float]) -> pd.DataFrame:
    n = len(test)
    return pd.DataFrame(
        {
            "protocol": "p",
            "algorithm": "rs",
            "dataset": "toy",
            "split": "x-test",
            "epochs": 200,
            "metric": "accuracy",
            "test": test,
            "queries": np.arange(n),
            "seconds": np.array(test) * 100.1,
            "free_queries": 0,
            "evaluations": np.arange(n),
            "total_seconds": np.array(test) * 100.1,
        }
    )


def test_summary_means_and_stds_are_the_same_floats_in_any_row_order() -> None:
    # pandas' groupby mean (3.1.1) gave 44.90083331200001 for the committed reproduction's
    # RS on ImageNet16-120, np.mean and the exact mean 44.900833312 (pandas 2.1.4 too)
    x = np.array(ACCURACIES)
    got = summarise(_runs(ACCURACIES))
    back = summarise(_runs(ACCURACIES[::-1]))
    pd.testing.assert_frame_equal(got, back, check_exact=True)
    mean = math.fsum(x) / x.size
    assert got["mean"].item() == mean == 45.31592333333333
    std = math.sqrt(math.fsum((x - mean) ** 2) / (x.size - 1))
    assert got["std"].item() == std and got["n"].item() == 6
    assert got["seconds"].item() == math.fsum(x * 100.1) / x.size


def test_summary_skips_missing_values_as_pandas_does() -> None:
    got = summarise(_runs([1.0, np.nan, 2.0]))
    assert got["mean"].item() == 1.5 and got["std"].item() == math.sqrt(0.5)
    assert got["n"].item() == 2
    one = summarise(_runs([3.0, np.nan]))
    assert one["mean"].item() == 3.0 and np.isnan(one["std"].item()) and one["n"].item() == 1
