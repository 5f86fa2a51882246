"""flat_vs_sharp reads sharpness and what it is compared with from disjoint seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from nb201_flat.errors import FigureSkipped, MissingValueError
from nb201_flat.figures import make
from nb201_flat.figures._common import figure_notes
from nb201_flat.figures.generalisation import gap_data, transfer_data
from nb201_flat.landscape import flatness
from nb201_flat.space import NB201
from nb201_flat.table import MetricKey, Table

VALID = MetricKey("cifar100", "x-valid", 200)
TEST = MetricKey("cifar100", "x-test", 200)
ORI = MetricKey("cifar100", "ori-test", 200)
SOURCE = MetricKey("cifar10-valid", "x-valid", 200)
TARGET = MetricKey("cifar100", "x-test", 200)


def _noisy(seeds: int, *, ori: bool = False) -> Table:
    """Every cell's true accuracy the same; each seed adds its own evaluation noise to
    validation and test. Sharpness then says nothing about the gap or the rank: only noise
    shared between the two could correlate them."""
    rng = np.random.default_rng(3)
    truth = np.full(NB201.size, 60.0)
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    valids, tests = [], []
    for s in range(seeds):
        valids.append(truth + rng.normal(0.0, 1.0, NB201.size))
        tests.append(truth + rng.normal(0.0, 1.0, NB201.size))
        data[(VALID, s)] = valids[-1]
        data[(ORI if ori else TEST, s)] = (valids[-1] + tests[-1]) / 2 if ori else tests[-1]
        data[(SOURCE, s)] = valids[-1] + 30.0
    data[(VALID, None)] = np.mean(valids, axis=0)
    data[(TEST, None)] = np.mean(tests, axis=0)
    data[(SOURCE, None)] = data[(VALID, None)] + 30.0
    return Table(NB201, data, source=f"{seeds} noisy seeds")


def test_sharpness_and_gap_share_no_noise() -> None:
    # read from one mean of the same networks, noise alone gave rho about +0.5
    frame = gap_data(_noisy(3), "cifar100")
    rho = stats.spearmanr(frame["sharpness"], frame["gap"])[0]
    assert abs(rho) < 0.1, rho
    table = _noisy(3)
    seed0 = table.vector_for(VALID, seed_policy=0)
    sharp = flatness(NB201, seed0, 1, columns=["sharpness"])["sharpness"].to_numpy()
    np.testing.assert_array_equal(frame["sharpness"], sharp[frame["index"]])
    others = np.mean([table.vector_for(VALID, seed_policy=s) for s in (1, 2)], axis=0)
    np.testing.assert_allclose(frame["valid"], others[frame["index"]])


def test_a_seeds_test_half_is_derived_from_ori_test() -> None:
    # NB201 stores per-seed ori-test and x-valid only; x-test is the other equal half
    table = _noisy(2, ori=True)
    frame = gap_data(table, "cifar100")
    i = frame["index"].to_numpy()
    v1, o1 = table.vector_for(VALID, seed_policy=1), table.vector_for(ORI, seed_policy=1)
    np.testing.assert_allclose(frame["test"], (2 * o1 - v1)[i])
    np.testing.assert_allclose(frame["gap"], 2 * (v1 - o1)[i])


def test_transfer_source_rank_comes_from_other_seeds() -> None:
    frame = transfer_data(_noisy(2), "cifar100")
    rho = stats.spearmanr(frame["sharpness"], frame["source_pct"])[0]
    assert abs(rho) < 0.1, rho  # read from the same seeds, the rank rose with sharpness


def test_one_seed_is_refused_not_drawn_with_the_bias() -> None:
    with pytest.raises(MissingValueError, match="needs 2 or more seeds .* share its evaluation"):
        gap_data(_noisy(1), "cifar100")
    with pytest.raises(MissingValueError, match="needs 2 or more seeds"):
        transfer_data(_noisy(1), "cifar100")
    with pytest.raises(FigureSkipped, match="needs 2 or more seeds") as skip:
        make("flat_vs_sharp", _noisy(1))
    # every series is named, the reason given once, and no word doubled ("the the")
    why = str(skip.value)
    assert why.count("needs 2 or more seeds") >= 2 and why.count("evaluation noise") == 1
    words = why.split()
    assert not any(a == b for a, b in itertools.pairwise(words))


def test_caption_names_the_seeds() -> None:
    fig = make("flat_vs_sharp", _noisy(3, ori=True))
    text = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "validation accuracy of seed 0, gap and source rank from the mean of seeds 1, 2" in text
    assert "2 × ori-test − x-valid" in text
    assert not any("left out" in n for n in figure_notes(fig))
