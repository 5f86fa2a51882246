"""numpy's own arithmetic, compiled: the pieces every compiled search kernel shares.

The kernels of :mod:`.kernels_free_na`, :mod:`.kernels_lockstep` and :mod:`.kernels_replay`
must give numpy's floats and numpy's random words bit for bit, so the arithmetic they take
from numpy lives here once:

- :func:`pairwise_sum`, the float of ``a[lo:lo + n].sum()``: numpy 2.4's
  ``@TYPE@_pairwise_sum`` in ``numpy/_core/src/umath/loops_utils.h.src`` (under 8 values in
  turn; up to ``PW_BLOCKSIZE`` = 128, eight accumulators over blocks of eight, combined
  ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, then the rest in turn; above, the
  halves split at ``n // 2`` rounded down to a multiple of 8), added to the reduction's
  identity 0.0 as ``add.reduce`` does (so a sum of ``-0.0`` values is ``0.0``, as numpy's);
- :func:`mulhi`, :func:`pcg64_step` and :func:`pcg64_output`, PCG64 as numpy 2.4's
  ``numpy/random/src/pcg64/pcg64.h`` steps it without a 128-bit integer type
  (``pcg128_mult``, ``pcg_setseq_128_step_r``, ``pcg_output_xsl_rr_128_64``): a 128-bit LCG
  on two 64-bit halves, its output the XSL-RR of the new state;
- :func:`grow`: room for at least ``need`` entries (or rows), the old ones kept, doubling so
  that a run of appends costs amortised O(1).

How each kernel module consumes the words (Lemire's bounded integers on 32-bit halves, the
buffered half, ``random()``) stays with that module: their stream states are laid out
differently on purpose (a generator stepped in the kernel, or raw words made by numpy).

This module imports numba: import it lazily. The kernel modules that call it tie their disk
cache to this file too (:func:`~nb201_flat.jit.depends_on`): their cached machine code holds
a copy of these functions, and an edit here makes it stale.

Examples
--------
>>> import numpy as np
>>> a = np.random.default_rng(0).uniform(size=300)
>>> bool(pairwise_sum(a, 0, 300) == a.sum()), bool(pairwise_sum(a, 5, 9) == a[5:14].sum())
(True, True)
>>> float(pairwise_sum(np.full(9, -0.0), 0, 9))  # numpy's: the identity 0.0 plus the sum
0.0
>>> bits = np.random.PCG64(7)
>>> st = bits.state["state"]
>>> hi, lo = pcg64_step(np.uint64(st["state"] >> 64), np.uint64(st["state"] & (2**64 - 1)),
...                     np.uint64(st["inc"] >> 64), np.uint64(st["inc"] & (2**64 - 1)))
>>> int(pcg64_output(np.uint64(hi), np.uint64(lo))) == int(bits.random_raw())
True
>>> int(mulhi(np.uint64(2**64 - 1), np.uint64(2**64 - 1))) == (2**64 - 1) ** 2 >> 64
True
>>> grow(np.arange(3), 5).size, grow(np.ones(8), 2).size, grow(np.ones((2, 3)), 3).shape
(6, 8, (4, 3))
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from nb201_flat.jit import kernel

F64 = npt.NDArray[np.float64]
A = TypeVar("A", bound=npt.NDArray[Any])

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S58 = np.uint64(58)
_S63 = np.uint64(63)
_S64 = np.uint64(64)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
# PCG64's multiplier (pcg64.h PCG_DEFAULT_MULTIPLIER_128), as two 64-bit halves
_MUL_HI = np.uint64(0x2360ED051FC65DA4)
_MUL_LO = np.uint64(0x4385DF649FCCF645)

# the most halvings a pairwise sum can need: lengths fit in 63 bits
_STACK = 64


@kernel
def _pairwise_block(a: F64, lo: int, n: int) -> float:
    """numpy's pairwise sum of ``a[lo:lo + n]`` for ``8 <= n <= 128`` (one block)."""
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return float(res)


@kernel
def pairwise_sum(a: F64, lo: int, n: int) -> float:
    """numpy's ``a[lo:lo + n].sum()`` on float64: its pairwise summation, the same float.

    The halving above 128 values is walked with an explicit stack (numba's disk cache crashes
    on a recursive kernel). Halves of a longer sum are at least 64 long, so only a whole sum
    of under 8 values is summed in turn: from 0.0, which is numpy's ``-0.0`` start plus the
    reduction's identity.
    """
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        return 0.0 + _pairwise_block(a, lo, n)
    # post-order over the halving tree: stage 0 = left half next, 1 = right half next, 2 = add
    node_lo = np.empty(_STACK, dtype=np.int64)
    node_n = np.empty(_STACK, dtype=np.int64)
    node_st = np.zeros(_STACK, dtype=np.int64)
    vals = np.empty(_STACK)
    node_lo[0], node_n[0] = lo, n
    sp, nv = 1, 0
    while sp:
        top = sp - 1
        m = node_n[top]
        if m <= 128:
            vals[nv] = _pairwise_block(a, node_lo[top], m)
            nv += 1
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        stage = node_st[top]
        if stage == 2:
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            sp -= 1
            continue
        node_st[top] = stage + 1
        node_lo[sp] = node_lo[top] + (half if stage else 0)
        node_n[sp] = m - half if stage else half
        node_st[sp] = 0
        sp += 1
    return float(0.0 + vals[0])


@kernel
def mulhi(a: np.uint64, b: np.uint64) -> np.uint64:
    """The high 64 bits of the 128-bit product ``a * b`` (from 32-bit halves)."""
    a_lo, a_hi = a & _M32, a >> _S32
    b_lo, b_hi = b & _M32, b >> _S32
    p1, p2 = a_lo * b_hi, a_hi * b_lo
    mid = ((a_lo * b_lo) >> _S32) + (p1 & _M32) + (p2 & _M32)
    return a_hi * b_hi + (p1 >> _S32) + (p2 >> _S32) + (mid >> _S32)


@kernel
def pcg64_step(
    hi: np.uint64, lo: np.uint64, inc_hi: np.uint64, inc_lo: np.uint64
) -> tuple[np.uint64, np.uint64]:
    """PCG64's LCG step ``state * MULT + inc`` (mod 2**128) on 64-bit halves: the new state
    ``(hi, lo)``."""
    new_lo = lo * _MUL_LO
    new_hi = mulhi(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    out_lo = new_lo + inc_lo
    carry = _ONE if out_lo < new_lo else _ZERO
    return new_hi + inc_hi + carry, out_lo


@kernel
def pcg64_output(hi: np.uint64, lo: np.uint64) -> np.uint64:
    """PCG64's output of a state: XSL-RR (the halves xor-ed, rotated by the top 6 bits)."""
    x = hi ^ lo
    rot = hi >> _S58
    return np.uint64((x >> rot) | (x << ((_S64 - rot) & _S63)))


@kernel
def grow(a: A, need: int) -> A:
    """``a`` if it holds ``need`` entries (rows), else a copy of it with room for
    ``max(need, 2 * len(a))`` (the dtype and any further axes kept; one compile per array type).
    """
    if need <= a.shape[0]:
        return a
    b = np.empty((max(need, 2 * a.shape[0]), *a.shape[1:]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b  # type: ignore[return-value]  # a's type: numpy's stubs lose it (no cast in numba)


__all__ = [
    "grow",
    "mulhi",
    "pairwise_sum",
    "pcg64_output",
    "pcg64_step",
]
