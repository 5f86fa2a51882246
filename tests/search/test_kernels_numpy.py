"""numpy's arithmetic compiled once for every search kernel: the pairwise sum against numpy's
``sum`` bit for bit, PCG64's step and output against numpy's words, the grow helpers."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.search import kernels_numpy as knp


def test_pairwise_sum_is_numpys_sum_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for n in range(1001):
        # values of very different sizes: a different order of additions shows in the bits
        a = rng.uniform(0.5, 3.0, n + 5) * 10.0 ** rng.integers(-6, 7, n + 5)
        lo = int(rng.integers(0, 6))
        assert knp.pairwise_sum(a, lo, n) == a[lo : lo + n].sum(), n
    # and a sum in turn would differ: the test can tell the orders apart
    a = rng.uniform(0.5, 3.0, 300) * 10.0 ** rng.integers(-6, 7, 300)
    total = 0.0
    for x in a.tolist():
        total += x
    assert total != a.sum()


def test_pairwise_sum_tells_numpys_order_from_a_running_sum() -> None:
    # numpy's pairwise summation: sequential below 8, eight accumulators up to 128, halves
    # (the first a multiple of 8) above; scales far apart make any other order show
    rng = np.random.default_rng(0)
    differs = 0  # lengths where a running sum gives another float: the test tells them apart
    for n in range(0, 1001):
        a = rng.uniform(1.0, 9.0, n + 5) * rng.choice([1.0, 1e-9, 1e9], n + 5)
        assert knp.pairwise_sum(a, 3, n) == a[3 : 3 + n].sum(), n
        assert knp.pairwise_sum(a, 0, n) == a[:n].sum(), n
        seq = 0.0
        for x in a[:n].tolist():
            seq += x
        differs += seq != a[:n].sum()
    assert differs > 100


def test_pairwise_sum_of_a_gathered_batch_keeps_the_sign() -> None:
    # as the replay sums a look-up batch: costs[cells] gathered side by side, signs mixed
    rng = np.random.default_rng(0)
    for n in range(1001):
        v = rng.normal(size=n) * 10.0 ** rng.integers(-6, 6, size=n)
        cells = rng.permutation(n).astype(np.int64)
        got = knp.pairwise_sum(v[cells], 0, n)
        want = v[cells].sum()
        assert got == want and np.signbit(got) == np.signbit(want), n
    # an offset batch of a longer array
    v = rng.uniform(size=300)
    assert knp.pairwise_sum(v, 37, 200) == v[37:237].sum()


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 128, 129, 300])
def test_pairwise_sum_of_negative_zeros_is_numpys_zero(n: int) -> None:
    # numpy adds the sum to the reduction's identity 0.0: -0.0 values sum to +0.0
    a = np.full(n + 2, -0.0)
    want = a[1 : 1 + n].sum()
    got = knp.pairwise_sum(a, 1, n)
    assert got == want and np.signbit(got) == np.signbit(want) and not np.signbit(want)


def test_mulhi_is_the_high_word_of_the_product() -> None:
    rng = np.random.default_rng(1)
    edge = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1]
    pairs = [(a, b) for a in edge for b in edge]
    pairs += [(int(a), int(b)) for a, b in rng.integers(0, 2**64, (200, 2), dtype=np.uint64)]
    for a, b in pairs:
        assert int(knp.mulhi(np.uint64(a), np.uint64(b))) == (a * b) >> 64, (a, b)


@pytest.mark.parametrize("seed", [0, 7, 2**70 + 1])
def test_pcg64_step_and_output_give_numpys_words(seed: int) -> None:
    bits = np.random.PCG64(seed)
    st = bits.state["state"]
    m = 2**64 - 1
    hi, lo = np.uint64(st["state"] >> 64), np.uint64(st["state"] & m)
    inc_hi, inc_lo = np.uint64(st["inc"] >> 64), np.uint64(st["inc"] & m)
    got = []
    for _ in range(100):
        # a kernel hands uint64 back as Python ints: typed back, or numba would take int64
        step = knp.pcg64_step(hi, lo, inc_hi, inc_lo)
        hi, lo = np.uint64(step[0]), np.uint64(step[1])
        got.append(int(knp.pcg64_output(hi, lo)))
    assert got == bits.random_raw(100).tolist()
    assert (int(hi) << 64) | int(lo) == bits.state["state"]["state"]


def test_grow_keeps_the_entries_and_doubles() -> None:
    a = np.arange(5, dtype=np.int64)
    assert knp.grow(a, 5) is a  # room enough: the same array
    b = knp.grow(a, 6)
    assert b.dtype == np.int64 and b.size == 10 and b[:5].tolist() == a.tolist()
    assert knp.grow(a, 40).size == 40  # more than twice: what is needed
    f = np.linspace(0.0, 1.0, 4)
    g = knp.grow(f, 5)
    assert g.dtype == np.float64 and g.size == 8 and g[:4].tolist() == f.tolist()
    assert knp.grow(f, 4) is f
    r = np.arange(6.0).reshape(3, 2)
    rr = knp.grow(r, 4)
    assert rr.shape == (6, 2) and rr[:3].tolist() == r.tolist() and knp.grow(r, 3) is r
