"""A²M's barriers: the published construction, its code versions, the best shortest path."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from nb201_flat.landscape import (
    LandscapeArgumentError,
    MissingValueError,
    a2m_barrier,
    a2m_barriers,
    barrier_matrix,
    best_shortest_path,
)
from nb201_flat.space import Space

TINY = Space(("none", "skip", "conv"), 3)  # 27 cells, 6 neighbours each
CUBE = Space(("a", "b"), 3)  # 8 cells; index = binary number of the codes


# -- A²M ----------------------------------------------------------------------------------------
def test_a2m_hand_computed() -> None:
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])  # 000 -> 111
    r = a2m_barrier(CUBE, f, 0, 7)
    assert r.distance == 3 and r.n_paths == 6
    assert r.level_mean.tolist() == [9.0, 5.0, 7.0, 8.0]
    assert r.level_std.tolist() == pytest.approx([0.0, np.std([5, 6, 4]), 0.0, 0.0])
    assert r.level_n.tolist() == [1, 3, 3, 1]
    assert r.barrier == 0.5 * (9 + 8) - 5
    assert r.frame()["mean"].tolist() == [9.0, 5.0, 7.0, 8.0]
    # A²M's code at 947bc3e averages the start with the first level, takes the minimum of
    # the level means, and rounds
    pub = a2m_barrier(CUBE, f, 0, 7, published="947bc3e")
    assert pub.barrier == 0.5 * (9 + 5) - 5
    assert pub.code == "947bc3e" and pub.published and pub.path_min == 5.0
    # the current code (54ce096, the default code version) takes the lowest single
    # intermediate architecture instead: 4, on level 1
    cur = a2m_barrier(CUBE, f, 0, 7, published=True)
    assert cur.code == "54ce096" and cur.path_min == 4.0
    assert cur.barrier == 0.5 * (9 + 5) - 4
    assert a2m_barrier(CUBE, f, 0, 7, published="54ce096").barrier == cur.barrier
    assert r.code is None and not r.published
    # a numpy bool (read from an array or a frame) is a flag as True and False are; it was
    # refused as if it named no code version
    assert a2m_barrier(CUBE, f, 0, 7, published=np.True_).code == "54ce096"
    assert a2m_barrier(CUBE, f, 0, 7, published=np.False_).code is None
    # a loss: the mirror image
    loss = a2m_barrier(CUBE, -f, 0, 7, higher_is_better=False)
    assert loss.barrier == r.barrier
    # symmetric (the text's definition)
    assert a2m_barrier(CUBE, f, 7, 0).barrier == r.barrier


def test_a2m_published_rounding() -> None:
    f = np.full(CUBE.size, 50.0)
    f[0], f[7] = 93.12349, 93.0
    f[[1, 2, 4]] = [92.0004, 92.0004, 92.0004]
    pub = a2m_barrier(CUBE, f, 0, 7, published=True)
    assert pub.level_mean[0] == 93.123  # values rounded to 3 decimals first
    assert pub.barrier == round(0.5 * (93.123 + 92.0) - 50.0, 2)


def test_a2m_code_versions_hand_computed() -> None:
    # 000 -> 111 on the cube: level 1 = {1, 2, 4}, level 2 = {3, 5, 6}
    f = np.full(CUBE.size, 0.0)
    f[0], f[7] = 90.0, 80.0
    f[[1, 2, 4]] = [70.0, 60.0, 50.0]  # level-1 mean 60, lowest member 50
    f[[3, 5, 6]] = [40.0, 75.0, 75.0]  # level-2 mean 63.33.., lowest member 40
    text = a2m_barrier(CUBE, f, 0, 7)
    assert text.barrier == pytest.approx(0.5 * (90 + 80) - 60)  # mean path: 25
    old = a2m_barrier(CUBE, f, 0, 7, published="947bc3e")
    assert old.barrier == round(0.5 * (90 + 60) - 60, 2)  # 15: L[1] and min(L) = 60
    cur = a2m_barrier(CUBE, f, 0, 7, published="54ce096")
    assert cur.barrier == round(0.5 * (90 + 60) - 40, 2)  # 35: the single worst member
    # a loss: the mirror image in every version
    for code in ("54ce096", "947bc3e"):
        loss = a2m_barrier(CUBE, -f, 0, 7, published=code, higher_is_better=False)
        assert loss.barrier == a2m_barrier(CUBE, f, 0, 7, published=code).barrier
    # d = 1: no intermediate level, so nothing lowers the current code's start of 100
    assert a2m_barrier(CUBE, f, 0, 1, published=True).barrier == round(0.5 * (90 + 70) - 100, 2)
    assert a2m_barrier(CUBE, f, 0, 1, published="947bc3e").barrier == 10.0
    # d = 0: search_tree gives the single path [a], so the code computes
    # compute_barrier([f(a), f(a)], 100): f(a) - 100, where the other versions give 0
    assert a2m_barrier(CUBE, f, 0, 0, published=True).barrier == 90.0 - 100
    assert a2m_barrier(CUBE, f, 0, 0, published="947bc3e").barrier == 0.0
    assert a2m_barrier(CUBE, f, 0, 0).barrier == 0.0
    with pytest.raises(LandscapeArgumentError, match="published must be"):
        a2m_barrier(CUBE, f, 0, 7, published="5a303f9")  # type: ignore[arg-type]


def test_a2m_current_code_carries_its_minimum_across_pairs() -> None:
    # the current code's acc_min starts at 100 once per dataset and runs on over A, B, C
    f = np.full(CUBE.size, 0.0)
    f[0], f[7] = 90.0, 80.0
    f[[1, 2, 4]] = [70.0, 60.0, 50.0]
    f[[3, 5, 6]] = [40.0, 75.0, 75.0]
    pairs = [(0, 7), (1, 7), (3, 7)]  # d = 3, 2, 1
    df = a2m_barriers(CUBE, f, pairs, published=True)
    # A: min member 40 -> round(0.5 * (90 + 60) - 40, 2)
    # B: 001 -> 111 through {3, 5} (40, 75); carried 40 -> 0.5 * (70 + 57.5) - 40
    # C: d = 1, nothing new: 0.5 * (40 + 80) - 40
    assert df["barrier"].tolist() == [35.0, 23.75, 20.0]
    assert df["path_min"].tolist() == [40.0, 40.0, 40.0]
    # the order matters: C first gets the code's start, 100
    rev = a2m_barriers(CUBE, f, pairs[::-1], published=True)
    assert rev["barrier"].tolist()[0] == round(0.5 * (40 + 80) - 100, 2)
    # carry_min=False resets per pair: each equals the pair alone
    reset = a2m_barriers(CUBE, f, pairs, published=True, carry_min=False)
    alone = [a2m_barrier(CUBE, f, a, b, published=True).barrier for a, b in pairs]
    assert reset["barrier"].tolist() == alone
    assert a2m_barriers(CUBE, f, pairs, published="54ce096").equals(df)
    # 947bc3e resets per pair by default
    old = a2m_barriers(CUBE, f, pairs, published="947bc3e")
    assert old["barrier"].tolist() == [
        a2m_barrier(CUBE, f, a, b, published="947bc3e").barrier for a, b in pairs
    ]


def test_a2m_nan_policies() -> None:
    f = np.array([9.0, np.nan, 6, 7, 4, 7, 7, 8])
    # the default raises (as pair_barriers does); a NaN barrier is an opt-in
    assert np.isnan(a2m_barrier(CUBE, f, 0, 7, nan_policy="propagate").barrier)
    omit = a2m_barrier(CUBE, f, 0, 7, nan_policy="omit")
    assert omit.level_mean[1] == 5.0 and omit.barrier == 0.5 * (9 + 8) - 5
    with pytest.raises(MissingValueError):
        a2m_barrier(CUBE, f, 0, 7, nan_policy="raise")
    # what omit cannot serve is an error, not a NaN barrier: an unmeasured endpoint, a level
    # none of whose members is measured
    g = np.array([9.0, np.nan, np.nan, 7, np.nan, 7, 7, 8])
    for a, b, said in (
        (1, 7, "endpoint 1 is not measured"),
        (0, 7, "no architecture of level 1 (distance 1 from 0) is measured"),
    ):
        with pytest.raises(MissingValueError, match=rf"under nan_policy='omit': {re.escape(said)}"):
            a2m_barrier(CUBE, g, a, b, nan_policy="omit")
        with pytest.raises(MissingValueError, match="nan_policy='propagate'"):
            a2m_barriers(CUBE, g, [(a, b)], nan_policy="omit", published=True)
        # propagate: NaN, as asked
        assert np.isnan(a2m_barrier(CUBE, g, a, b, nan_policy="propagate").barrier)


def test_a2m_barriers_and_carry_min() -> None:
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    df = a2m_barriers(CUBE, f, [(0, 7), (3, 7)])
    assert df["barrier"].tolist() == [3.5, 0.5]
    assert df["path_min"].tolist() == [5.0, 7.0]
    carried = a2m_barriers(CUBE, f, [(0, 7), (3, 7)], carry_min=True)
    # the second pair keeps the first pair's minimum (5): 0.5 * (7 + 8) - 5
    assert carried["barrier"].tolist() == [3.5, 2.5]
    assert carried["path_min"].tolist() == [5.0, 5.0]


def test_best_shortest_path() -> None:
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    p = best_shortest_path(CUBE, f, 0, 7)
    assert p.path == (0, 2, 3, 7) or p.path == (0, 2, 6, 7)
    assert p.bottleneck == 6.0 and p.barrier == 0.5 * (9 + 8) - 6
    g = f.copy()
    g[[1, 2, 4]] = np.nan
    with pytest.raises(MissingValueError, match="3 architecture"):
        best_shortest_path(CUBE, g, 0, 7)


def test_best_shortest_path_is_unknown_when_one_shortest_path_is_unmeasured() -> None:
    # 0 -> 1 -> 3 -> 7 crosses the unmeasured 001; it could be better than the best measured
    # path (0 -> 2 -> 3 -> 7, barrier 2.5), so no best is returned, as pair_barriers refuses
    f = np.array([9.0, np.nan, 6, 7, 4, 7, 7, 8])
    with pytest.raises(MissingValueError, match="undefined") as info:
        best_shortest_path(CUBE, f, 0, 7)
    # the way round it, named for the API (the barrier command names its --method lowest)
    assert "lowest_barrier_path finds" in str(info.value) and "--" not in str(info.value)
    # without a barrier tree it is not known whether a detour exists: the hint says so
    assert "if one exists" in str(info.value)
    assert best_shortest_path(CUBE, f, 2, 7).path in ((2, 3, 7), (2, 6, 7))  # 001 not on them


def test_a2m_barriers_names_a_pair_that_is_not_a_pair() -> None:
    # (0, 1, 2) used to be a raw "too many values to unpack", after the pairs before it ran
    with pytest.raises(LandscapeArgumentError, match=r"\(a, b\) pairs"):
        a2m_barriers(CUBE, np.arange(8.0), [(0, 7), (0, 1, 2)])  # type: ignore[list-item]
    with pytest.raises(LandscapeArgumentError, match=r"\(a, b\) pairs"):
        a2m_barriers(CUBE, np.arange(8.0), ["07"])  # type: ignore[list-item]


def test_carry_min_is_none_or_a_bool() -> None:
    # carry_min="no" is truthy: it used to carry the minimum across pairs
    with pytest.raises(LandscapeArgumentError, match="carry_min"):
        a2m_barriers(CUBE, np.arange(8.0), [(0, 7)], carry_min="no")  # type: ignore[arg-type]


def test_a_pair_of_one_architecture_leaves_the_carried_minimum_as_it_was() -> None:
    # code 54ce096's minimum is over intermediate architectures; (7, 7) has none. It used to
    # set the carried minimum to f(7) = 8, above the 4 met on (0, 7): (3, 7) then came out
    # 0.5 * (7 + 8) - 8 = -0.5 instead of 3.5
    f = np.array([9.0, 5, 6, 7, 4, 7, 7, 8])
    with_it = a2m_barriers(CUBE, f, [(0, 7), (7, 7), (3, 7)], published=True)
    without = a2m_barriers(CUBE, f, [(0, 7), (3, 7)], published=True)
    # (7, 7) itself is compute_barrier([8, 8], 4) = 8 - 4, with the carried minimum
    assert with_it["barrier"].tolist() == [3.0, 4.0, 3.5]
    assert with_it["path_min"].tolist() == [4.0, 4.0, 4.0]
    assert with_it.drop(index=1)["barrier"].tolist() == without["barrier"].tolist()
    # alone, the pair's minimum is the code's start (nothing lowers it): f(7) - 100
    alone = a2m_barrier(CUBE, f, 7, 7, published=True)
    assert (alone.barrier, alone.path_min) == (8.0 - 100, 100.0)
    loss = a2m_barrier(CUBE, f, 7, 7, published=True, higher_is_better=False)
    assert (loss.barrier, loss.path_min) == (-8.0 - 100, -100.0)  # the mirror image, as d = 1


@pytest.mark.parametrize("published", [False, "947bc3e", True])
def test_a_carried_minimum_that_meets_a_nan_is_nan_from_there_on(published: bool | str) -> None:
    # level 1 of (0, 7) holds a NaN: that pair's minimum is unknown, and so is every later
    # pair's carried one. min() kept inf (a -inf barrier) or an earlier pair's finite minimum
    g = np.array([9.0, np.nan, 6, 7, 4, 7, 7, 8])
    nan: dict[str, Any] = {"nan_policy": "propagate"}  # NaN barriers: an opt-in (default: raise)
    first = a2m_barriers(CUBE, g, [(0, 7), (3, 7)], published=published, carry_min=True, **nan)
    assert first["barrier"].isna().all() and first["path_min"].isna().all(), first
    last = a2m_barriers(CUBE, g, [(3, 7), (0, 7)], published=published, carry_min=True, **nan)
    assert np.isfinite(last["barrier"].iloc[0]) and last["barrier"].isna().iloc[1], last
    assert np.isnan(last["path_min"].iloc[1])
    # without carrying, the measured pair keeps its value whatever comes before it
    apart = a2m_barriers(CUBE, g, [(0, 7), (3, 7)], published=published, carry_min=False, **nan)
    assert np.isnan(apart["barrier"].iloc[0]) and np.isfinite(apart["barrier"].iloc[1])


def test_an_unmeasured_end_gives_a_nan_barrier_in_every_code_version() -> None:
    # code 54ce096 reads f(b) only for d = 1: at d = 3 it returned 3.0 with f(7) unmeasured,
    # where omit refuses the pair and the barrier matrix promises NaN for unmeasured archs
    h = np.array([9.0, 5, 6, 7, 4, 7, 7, np.nan])
    nan: dict[str, Any] = {"nan_policy": "propagate"}  # NaN barriers: an opt-in (default: raise)
    for published in (False, True, "947bc3e"):
        assert np.isnan(a2m_barrier(CUBE, h, 0, 7, published=published, **nan).barrier)
        assert np.isnan(a2m_barrier(CUBE, h, 7, 0, published=published, **nan).barrier)
        with pytest.raises(MissingValueError, match="no value .first: 7."):
            a2m_barrier(CUBE, h, 0, 7, published=published)
    m = barrier_matrix(CUBE, h, [0, 7], method="a2m_published")
    # the diagonal too is the code's value: a pair of one cell is f - 100 (h[0] = 9)
    assert m.to_numpy()[0, 0] == 9.0 - 100 and np.isnan(m.to_numpy()[[0, 1, 1], [1, 0, 1]]).all()
    # one pair, one value: a cell named twice met 0.0 on the diagonal and -91.0 beside it
    twice = barrier_matrix(CUBE, h, [0, 0], method="a2m_published").to_numpy()
    assert (twice == 9.0 - 100).all()
    # its intermediate architectures still set the carried minimum: the next pair is served
    df = a2m_barriers(CUBE, h, [(0, 7), (0, 3)], published=True, **nan)
    assert np.isnan(df["barrier"].iloc[0]) and df["path_min"].tolist() == [4.0, 4.0]
    assert df["barrier"].iloc[1] == round(0.5 * (9 + (5 + 6) / 2) - 4, 2)  # level 1: {1, 2}


def test_a2m_barriers_checks_its_options_with_no_pairs_too() -> None:
    # an empty list of pairs returned an empty frame for any option, a typo included
    f = np.arange(8.0)
    with pytest.raises(LandscapeArgumentError, match="nan_policy must be one of"):
        a2m_barriers(CUBE, f, [], nan_policy="bogus")  # type: ignore[arg-type]
    with pytest.raises(LandscapeArgumentError, match="higher_is_better must be True or False"):
        a2m_barriers(CUBE, f, [], higher_is_better="no")  # type: ignore[arg-type]
    assert a2m_barriers(CUBE, f, []).empty
