"""Parameter counts and FLOPs of the NB201 network, computed from the op list (no torch).

The network (see :mod:`nb201_flat.train.model`) is a stem, three stages of ``N`` cells at
``C``, ``2C`` and ``4C`` channels, two residual reduction blocks between the stages, a final
BN + ReLU, global average pooling and a linear classifier. Inside a cell every op maps ``C``
channels to ``C`` channels at stride 1, so each op's cost depends only on ``C`` and the
feature-map size, and a network's cost is a fixed part plus a sum over edges and stages. That
makes the count for all 15,625 NB201 cells one numpy gather (:func:`params_mb_of_codes`).

Conventions are NB201's own (``count_parameters_in_MB`` and ``get_model_infos``):

* parameters: every parameter of the network, classifier included, divided by ``1e6``;
* FLOPs: multiply-accumulates of ``Conv2d`` (plus bias when present) and ``Linear`` (plus bias)
  for one input image, divided by ``1e6``. NB201's counter installs hooks on pooling layers but
  leaves them out of the total, and ignores BN, ReLU and additions; so do we. With these rules
  the NB201 cells range from 7.78 to 220.12 MFLOPs on CIFAR-10, the range NB201 reports.

Examples
--------
>>> round(params_mb(["nor_conv_3x3"] * 6, n_nodes=4, num_classes=10), 6)
1.531546
>>> round(flops_m(["none"] * 6, n_nodes=4, num_classes=10, image_size=32), 2)
7.78
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import (
    ArgumentError,
    InvalidArchError,
    Param,
    check_int_range,
    shown,
    whole_number,
)
from nb201_flat.landscape._common import as_sequence

N_STAGES = 3  # NB201 has three stages; the two reductions halve the maps and double C

#: the widest first stage and the most cells per stage counted (NB201: 16 and 5). Far beyond
#: any network trained for NAS; for NB201's 4-node cells on its 32x32 images the largest count
#: (all nor_conv_3x3, 120 classes: 2.8e15 FLOPs) stays below 2**53, exact as a float (the /1e6
#: totals). Larger cells or images count more (11 nodes: 2.6e16), where the float totals round
#: in their last digits. --C 2**62 printed a 35-digit float.
MAX_C = 4096
MAX_N = 1000

#: the most classifier outputs and the largest input side counted (NB201: 10 to 120 classes,
#: 32 or 16 pixels; ImageNet's 224 fits). With MAX_C and MAX_N they keep the vectorised int64
#: sums exact with room to spare: the costliest built-in op (nor_conv_3x3, 9 c^2 hw FLOPs, the
#: same in each stage as c doubles and hw quarters) on every edge of the widest cell a Space
#: holds (55) counts 55 * MAX_N * 3 * 9 * MAX_C**2 * MAX_IMAGE_SIZE**2 = 1.6e18, under a fifth of
#: 2**63. Side 2048 wrapped the sum silently; the classifier adds at most 4 * MAX_C * MAX_CLASSES.
MAX_CLASSES = 100_000
MAX_IMAGE_SIZE = 256


def check_network(c: object, n: object, *, min_n: int = 0) -> tuple[int, int]:
    """``(c, n)``, the first-stage channels and cells per stage, as ints in ``1..MAX_C`` and
    ``min_n..MAX_N``, else :class:`~nb201_flat.errors.ArgumentError` naming the parameter.
    ``n=0`` is a network of stem and reductions alone (the cell unused); a command that
    takes a cell asks ``min_n=1``.

    >>> check_network(16, 5)
    (16, 5)
    >>> check_network(2**62, 5)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: c must lie in 1..4096, got 4611686018427387904; NB201 uses c=16 n=5
    """
    fix = ("NB201 uses ", Param("c", 16), " ", Param("n", 5))
    return (
        check_int_range(Param("c"), c, 1, MAX_C, fix=fix),
        check_int_range(Param("n"), n, min_n, MAX_N, fix=fix),
    )


def check_classes(num_classes: object) -> int:
    """``num_classes`` as an int in ``1..MAX_CLASSES``, else
    :class:`~nb201_flat.errors.ArgumentError` naming it.

    >>> check_classes(0)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: num_classes must lie in 1..100000, got 0; NB201's datasets have 10, 100 or 120
    """
    return check_int_range(
        Param("num_classes"),
        num_classes,
        1,
        MAX_CLASSES,
        fix="NB201's datasets have 10, 100 or 120",
    )


def check_image_size(image_size: object) -> int:
    """``image_size`` as an int in ``4..MAX_IMAGE_SIZE`` that the two stride-2 reductions
    halve exactly (a multiple of 4), else :class:`~nb201_flat.errors.ArgumentError` naming it.

    >>> check_image_size(2048)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: image_size must lie in 4..256, got 2048; NB201 uses 32 (CIFAR) or 16 (ImageNet16)
    """
    fix = "NB201 uses 32 (CIFAR) or 16 (ImageNet16)"
    step = 1 << (N_STAGES - 1)
    side = check_int_range(Param("image_size"), image_size, step, MAX_IMAGE_SIZE, fix=fix)
    if side % step:
        raise ArgumentError(
            Param("image_size"),
            f" must be divisible by {step} (two stride-2 reductions with an AvgPool2d(2) "
            f"shortcut), got {side}; {fix}",
        )
    return side


@dataclass(frozen=True, slots=True)
class OpCost:
    """Cost of one cell op with ``c`` input and output channels at stride 1.

    Attributes
    ----------
    params
        ``params(c)``: number of parameters.
    flops
        ``flops(c, hw)``: FLOPs in NB201's convention on a map of ``hw`` pixels.
    """

    params: Callable[[int], int]
    flops: Callable[[int, int], int]


def _relu_conv_bn(k: int) -> OpCost:
    # conv without bias (BN follows) + BN weight and bias
    return OpCost(params=lambda c: k * k * c * c + 2 * c, flops=lambda c, hw: k * k * c * c * hw)


def _sep_conv(k: int, repeats: int) -> OpCost:
    # depthwise k x k + pointwise 1 x 1 + BN, ``repeats`` times (NB201's DualSepConv has two)
    return OpCost(
        params=lambda c: repeats * (k * k * c + c * c + 2 * c),
        flops=lambda c, hw: repeats * (k * k * c + c * c) * hw,
    )


_FREE = OpCost(params=lambda c: 0, flops=lambda c, hw: 0)

OP_COSTS: dict[str, OpCost] = {
    "none": _FREE,
    "skip_connect": _FREE,
    "nor_conv_1x1": _relu_conv_bn(1),
    "nor_conv_3x3": _relu_conv_bn(3),
    "avg_pool_3x3": _FREE,  # pools have no parameters and NB201 does not count their FLOPs
    "max_pool_3x3": _FREE,
    "sep_conv_3x3": _sep_conv(3, repeats=2),
    "dil_conv_3x3": _sep_conv(3, repeats=1),
}
"""Costs of the known cell ops; :func:`nb201_flat.train.model.register_op` adds to it."""


def check_ops(ops: Sequence[str], n_nodes: int) -> tuple[str, ...]:
    """Validate an op list for a cell of ``n_nodes`` nodes; return it as a tuple.

    Raises
    ------
    InvalidArchError
        Wrong number of ops or an op without a registered cost/builder.
    """
    # one op alone was not iterable, or read letter by letter
    ops = tuple(as_sequence("ops", ops, "op names"))  # type: ignore[arg-type]
    nodes = whole_number(n_nodes)  # None or text met a bare TypeError
    if nodes is None:
        raise ArgumentError(Param("n_nodes"), f" must be an int, got {shown(n_nodes)}")
    n_nodes = nodes
    n_edges = n_nodes * (n_nodes - 1) // 2
    if n_nodes < 2 or len(ops) != n_edges:
        raise InvalidArchError(
            f"a cell with {n_nodes} nodes has {n_edges} edges, but {len(ops)} ops were given"
        )
    check_op_names(ops)
    return ops


def _op_list(op_names: object) -> list[str]:
    """``op_names`` (``space.ops``) as a checked list: one name alone was read letter by
    letter, a number met a bare TypeError."""
    names = as_sequence("op_names", op_names, "op names")
    check_op_names(names)  # type: ignore[arg-type]
    return names  # type: ignore[return-value]


def check_op_names(op_names: Sequence[str]) -> None:
    """Refuse, in one line, every name of ``op_names`` that is no known op (all at once)."""
    unknown = sorted({op for op in op_names if op not in OP_COSTS})
    if unknown:
        raise InvalidArchError(
            f"unknown op(s) {', '.join(map(repr, unknown))}; known ops are {', '.join(OP_COSTS)} "
            "(add one with nb201_flat.train.model.register_op)"
        )


def cell_edges(n_nodes: int) -> tuple[tuple[int, int], ...]:
    """Edges ``(i, j)`` of a cell in NB201 string order (by target node, then source)."""
    return tuple((i, j) for j in range(1, n_nodes) for i in range(j))


def _stage_shapes(c: int, image_size: int) -> list[tuple[int, int]]:
    """Per stage, channels and pixels of the map (``image_size`` by :func:`check_image_size`)."""
    return [((c << s), (image_size >> s) ** 2) for s in range(N_STAGES)]


def _fixed_params(c: int, num_classes: int) -> int:
    """Parameters outside the cells: stem, reduction blocks, last BN, classifier."""
    total = 3 * 9 * c + 2 * c  # stem conv 3x3 (no bias) + BN
    for s in range(N_STAGES - 1):
        a, b = c << s, c << (s + 1)
        # ResNetBasicblock: ReLUConvBN(a->b, s2) + ReLUConvBN(b->b) + 1x1 shortcut without BN
        total += 9 * a * b + 2 * b + 9 * b * b + 2 * b + a * b
    c_last = c << (N_STAGES - 1)
    return total + 2 * c_last + c_last * num_classes + num_classes


def _fixed_flops(c: int, num_classes: int, image_size: int) -> int:
    shapes = _stage_shapes(c, image_size)
    total = 3 * 9 * c * shapes[0][1]
    for s in range(N_STAGES - 1):
        a = shapes[s][0]
        b, hw = shapes[s + 1]
        total += 9 * a * b * hw + 9 * b * b * hw + a * b * hw  # the shortcut's pool is not counted
    c_last = shapes[-1][0]
    return total + c_last * num_classes + num_classes


def count_params(
    ops: Sequence[str], *, n_nodes: int, c: int = 16, n: int = 5, num_classes: int = 10
) -> int:
    """Number of parameters of the network with this cell (classifier included).

    Parameters
    ----------
    ops
        Op name per edge, in :func:`cell_edges` order.
    n_nodes
        Nodes of the cell (NB201: 4).
    c, n
        Channels of the first stage and cells per stage (NB201: 16 and 5).
    num_classes
        Classifier outputs (10, 100 or 120 for the NB201 datasets).
    """
    ops = check_ops(ops, n_nodes)
    c, n = check_network(c, n)
    num_classes = check_classes(num_classes)
    cells = sum(OP_COSTS[op].params(c << s) for s in range(N_STAGES) for op in ops)
    return _fixed_params(c, num_classes) + n * cells


def params_mb(
    ops: Sequence[str], *, n_nodes: int, c: int = 16, n: int = 5, num_classes: int = 10
) -> float:
    """:func:`count_params` divided by 1e6: NB201's "params (MB)"."""
    return count_params(ops, n_nodes=n_nodes, c=c, n=n, num_classes=num_classes) / 1e6


def count_flops(
    ops: Sequence[str],
    *,
    n_nodes: int,
    c: int = 16,
    n: int = 5,
    num_classes: int = 10,
    image_size: int = 32,
) -> int:
    """FLOPs for one ``image_size`` x ``image_size`` input, in NB201's convention."""
    ops = check_ops(ops, n_nodes)
    c, n = check_network(c, n)
    num_classes, image_size = check_classes(num_classes), check_image_size(image_size)
    shapes = _stage_shapes(c, image_size)
    cells = sum(OP_COSTS[op].flops(cs, hw) for cs, hw in shapes for op in ops)
    return _fixed_flops(c, num_classes, image_size) + n * cells


def flops_m(
    ops: Sequence[str],
    *,
    n_nodes: int,
    c: int = 16,
    n: int = 5,
    num_classes: int = 10,
    image_size: int = 32,
) -> float:
    """:func:`count_flops` divided by 1e6: NB201's "FLOPs (M)"."""
    return (
        count_flops(ops, n_nodes=n_nodes, c=c, n=n, num_classes=num_classes, image_size=image_size)
        / 1e6
    )


def params_mb_of_codes(
    codes: npt.ArrayLike,
    op_names: Sequence[str],
    *,
    c: int = 16,
    n: int = 5,
    num_classes: int = 10,
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`params_mb` for an ``(archs, edges)`` array of op codes.

    ``op_names[k]`` is the op of code ``k`` (``space.ops``). All 15,625 NB201 cells take about
    a millisecond.
    """
    op_names = _op_list(op_names)
    arr = _code_array(codes, op_names)
    c, n = check_network(c, n)
    num_classes = check_classes(num_classes)
    per_op = [sum(OP_COSTS[op].params(c << s) for s in range(N_STAGES)) for op in op_names]
    return _totals_m(_fixed_params(c, num_classes), n, per_op, arr)


def flops_m_of_codes(
    codes: npt.ArrayLike,
    op_names: Sequence[str],
    *,
    c: int = 16,
    n: int = 5,
    num_classes: int = 10,
    image_size: int = 32,
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`flops_m` for an ``(archs, edges)`` array of op codes."""
    op_names = _op_list(op_names)
    arr = _code_array(codes, op_names)
    c, n = check_network(c, n)
    num_classes, image_size = check_classes(num_classes), check_image_size(image_size)
    shapes = _stage_shapes(c, image_size)
    per_op = [sum(OP_COSTS[op].flops(cs, hw) for cs, hw in shapes) for op in op_names]
    return _totals_m(_fixed_flops(c, num_classes, image_size), n, per_op, arr)


def _code_array(codes: npt.ArrayLike, op_names: Sequence[str]) -> npt.NDArray[np.int64]:
    """``codes`` as an ``(archs, edges)`` int64 array of indices into ``op_names``, else
    :class:`InvalidArchError`: a negative code read an op from the end of the list, 1.5 op 1."""
    arr = np.asarray(codes)
    if arr.ndim != 2 or (arr.size and arr.dtype.kind not in "iu"):
        raise InvalidArchError(
            f"codes must be an (archs, edges) array of integer op codes, got shape {arr.shape} "
            f"of {arr.dtype}; pass space.codes or rows of it"
        )
    if arr.size and not (arr.min() >= 0 and arr.max() < len(op_names)):
        raise InvalidArchError(
            f"op codes must lie in 0..{len(op_names) - 1} (an index into op_names), got "
            f"{int(arr.min())}..{int(arr.max())}"
        )
    return arr.astype(np.int64, copy=False)


def _totals_m(
    fixed: int, n: int, per_op: Sequence[int], arr: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """``(fixed + n * sum of per_op over each row's codes) / 1e6``, summed exactly: in int64
    where the largest possible total fits (every built-in op within the MAX_* bounds), else
    in Python ints (a registered op's formula, or rows wider than a Space's cells), where
    int64 would wrap without a word."""
    worst = abs(fixed) + n * arr.shape[1] * max((abs(v) for v in per_op), default=0)
    table = np.array(per_op, dtype=np.int64 if worst < 2**63 else object)
    total = fixed + n * table[arr].sum(axis=1)
    return np.asarray(total / 1e6, dtype=np.float64)
