"""The space (an eleventh audit's findings): own_left_out takes the space's own neighbour arrays
only (another space's were cached as this one's), the isomorphism key's docstring says what it
merges, and the pruning helpers check their ops as a cell does."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError, InvalidArchError
from nb201_flat.landscape.stand_ins import StandIns
from nb201_flat.neighbours import own_left_out
from nb201_flat.space import NB201, NB201_OPS, Space
from nb201_flat.train.pruning import reaches_output, useful_edges

# -- own_left_out: the space's own neighbour arrays only ---------------------------------------


def _copies_of_classes(space: Space) -> tuple[StandIns, np.ndarray]:
    """Stand-ins mapping every isomorphic copy to its class's smallest index (a campaign's)."""
    cls = space.isomorphism_classes()
    first: dict[int, int] = {}
    pairs = []
    for i, c in enumerate(cls.tolist()):
        if c in first:
            pairs.append((i, first[c]))
        else:
            first[c] = i
    return StandIns.build(space.size, copies=pairs), cls


def test_own_left_out_refuses_another_spaces_arrays_and_caches_nothing() -> None:
    space = Space(NB201_OPS, 4)  # NB201's cells, a cache of its own (the module's NB201 shared)
    lex = Space(NB201_OPS, 4, index_order="lexicographic")  # as many cells, another order
    stand_ins, cls = _copies_of_classes(space)
    with pytest.raises(ArgumentError, match=r"not this space's .*pass space\.neighbours\(1\)"):
        own_left_out(space, lex.neighbours(1), stand_ins)
    toy = Space(("none", "skip_connect", "conv"), 3)
    with pytest.raises(ArgumentError, match=r"of 27 cells, not of this space's 15,625; pass"):
        own_left_out(space, toy.neighbours(1), stand_ins)
    with pytest.raises(ArgumentError, match=r"pass space\.neighbours\(2, exact=False\)"):
        own_left_out(space, lex.neighbours(2, exact=False), stand_ins)
    with pytest.raises(ArgumentError, match=r"must be a space's NeighbourArrays, got ndarray"):
        own_left_out(space, np.zeros((15_625, 12), dtype=np.int32), stand_ins)  # type: ignore[arg-type]
    # the refused calls cached nothing: the right arrays give the brute-force answer (it was
    # lex's rows, cell 11472's neighbours [2097, 5222, ...] for [189, 1601, ...])
    nb = space.neighbours(1)
    less = own_left_out(space, nb, stand_ins)
    assert sorted(less.of(11472).tolist())[:3] == [189, 1601, 2156]
    for a in range(space.size):
        assert less.of(a).tolist() == [j for j in nb.of(a).tolist() if cls[j] != cls[a]]


def test_own_left_out_takes_its_arrays_held_across_a_cleared_cache() -> None:
    space = Space(NB201_OPS, 4)
    stand_ins, _ = _copies_of_classes(space)
    nb = space.neighbours(1, no_none=True)
    want = own_left_out(space, nb, stand_ins).indices.copy()
    space.clear_cache()  # nb is no longer the cached object, but holds the same rows
    np.testing.assert_array_equal(own_left_out(space, nb, stand_ins).indices, want)


def test_own_left_out_refuses_filters_this_space_has_not() -> None:
    noneless = Space(("a", "b", "c", "d", "e"), 4)  # 15,625 cells, no op 'none'
    with pytest.raises(ArgumentError, match=r"another space, at a radius or filters this one"):
        own_left_out(noneless, NB201.neighbours(1, no_none=True), StandIns.build(noneless.size))


# -- isomorphism_key: what it merges ----------------------------------------------------------

_CONV = {"nor_conv_1x1", "nor_conv_3x3"}


def _up_to_parameters(ops: tuple[str, ...]) -> str:
    """A cell's output as a family of functions of its parameters: terms, plus ``K`` where a
    constant (a conv fed a constant outputs its BatchNorm shift) is not absorbed by a term with
    a shift of its own (a conv's, or a pooled conv's: the average of a shift is that shift)."""
    node = {0: (("0",), False, False)}  # terms, constant, a term carries a shift
    for j in range(1, 4):
        terms: list[str] = []
        const = shift = False
        for i in range(j):
            op = ops[NB201.edges.index((i, j))]
            t, c, s = node[i]
            if op == "skip_connect":
                terms += t
                const, shift = const or c, shift or s
            elif op == "avg_pool_3x3":
                terms += [f"({'+'.join(t)})@pool"] if t else []
                const, shift = const or c, shift or (s and bool(t))
            elif op in _CONV:
                if t:
                    terms.append(f"({'+'.join(t + (('K',) if c else ()))})@{op}")
                    shift = True
                else:
                    const = True
        node[j] = (tuple(sorted(terms)), const and not shift, shift)
    t, c, _ = node[3]
    return "+".join(t + (("K",) if c else ()))


def test_isomorphism_key_docstring_says_it_merges_cells_a_constant_apart() -> None:
    doc = Space.isomorphism_key.__doc__ or ""
    assert "compute zero" not in doc  # a disconnected cell can output its conv's BN shift
    assert "``#+#+#+0``" in doc and NB201.arch(72).isomorphism_key() == "#+#+#+0"
    assert NB201.arch(3).isomorphism_key() == "#+#+#+0"
    assert _up_to_parameters(NB201.arch(72).ops) == "0+K"
    assert _up_to_parameters(NB201.arch(3).ops) == "0"
    cls = NB201.isomorphism_classes(merge_disconnected=False)
    families: defaultdict[int, set[str]] = defaultdict(set)
    for i in np.flatnonzero(NB201.connected).tolist():
        families[int(cls[i])].add(_up_to_parameters(NB201.arch(i).ops))
    mixed = {c for c, f in families.items() if len(f) > 1}
    cells = sum(int(cls[i]) in mixed for i in np.flatnonzero(NB201.connected).tolist())
    said = re.search(
        r"(\d+) of the ([\d,]+) connected classes \(([\d,]+) cells\)", " ".join(doc.split())
    )
    assert said is not None
    assert said.groups() == (str(len(mixed)), f"{len(families):,}", f"{cells:,}")


def test_cells_72_and_3_compute_functions_a_constant_apart() -> None:
    torch = pytest.importorskip("torch")
    from nb201_flat.train.model import Cell

    torch.manual_seed(0)
    x = torch.randn(2, 4, 8, 8)
    out = {}
    for index in (72, 3, 13324):
        cell = Cell(NB201.arch(index).ops, 4, 4)
        for m in cell.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.data.fill_(0.5)  # a trained shift
        with torch.no_grad():
            out[index] = cell(x)
    assert torch.allclose(out[72] - x, torch.full_like(x, 0.5))  # x plus the conv's shift
    assert torch.equal(out[3], x)
    assert torch.allclose(out[13324], torch.full_like(x, 0.5))  # disconnected: not zero


# -- pruning: ops checked as a cell's ----------------------------------------------------------


@pytest.mark.parametrize("check", [reaches_output, useful_edges])
def test_pruning_helpers_check_their_ops(check) -> None:  # type: ignore[no-untyped-def]
    ten = ("nor_conv_3x3",) * 3 + ("none",) * 3 + ("skip_connect",) * 4  # a 5-node cell's
    with pytest.raises(InvalidArchError, match=r"^a cell with 4 nodes has 6 edges, but 10 ops"):
        check(ten, 4)
    with pytest.raises(InvalidArchError, match=r"but 5 ops were given"):
        check(ten[:5], 4)
    with pytest.raises(ArgumentError, match=r"^ops must be a sequence of op names, got 'nor_"):
        check("nor_conv_3x3", 2)  # was read letter by letter
    # an Arch is refused as every op-taking function refuses it, naming arch.ops
    with pytest.raises(ArgumentError, match=r"pass its op on each edge, arch\.ops"):
        check(NB201.arch(11472), 4)
    with pytest.raises(InvalidArchError, match=r"^unknown op\(s\) 'conv'"):
        check(("conv",) * 6, 4)
    ops = NB201.arch(11472).ops
    assert check(ops, 4.0) == check(list(ops), np.int64(4))  # a whole number of nodes
