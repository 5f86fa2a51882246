"""NA searches on a retraining table's stand-ins: a cell's isomorphic copies (its own numbers)
are no neighbours of it, as in flatness; the compiled searches read the same members as the
loop (NeighbourObjective.arrays) and give its records; a table without copies searches as
before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.landscape import neighbourhood_score
from nb201_flat.landscape.neighbourhood import StandIns
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.search import (
    AlgorithmError,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    ProtocolError,
    RandomSearch,
    RegularizedEvolution,
    SearchAlgorithm,
    run_cells,
    with_stand_ins,
)
from nb201_flat.search import vectorised as vec
from nb201_flat.search.algorithms import LocalSearch
from nb201_flat.search.lockstep import lockstep_kind, lockstep_ok
from nb201_flat.search.oracle import OracleData, seed_rows
from nb201_flat.search.protocol import Protocol
from nb201_flat.search.replay import replay_kind, replay_ok, seeded_kind, seeded_ok
from nb201_flat.search.runner import run_one
from nb201_flat.space import Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

SPACE = Space(("none", "skip_connect", "nor_conv_1x1"), 4)  # 729 cells, 124 classes
SEARCH = MetricKey("cifar10-valid", "x-valid", 12)
REPORT = MetricKey("cifar10", "ori-test", 200)
SEED = 777  # the retraining runs' seed


def _table(records: str = "all") -> Table:
    """A retraining table trained with --unique-isomorphism: one cell per isomorphism class
    trained, the others holding copies of its numbers, disconnected cells at chance. The same
    numbers with ``records="constant"``: the constant-output cells recorded alone; ``"none"``:
    as a benchmark's own (no meta records)."""
    rng = np.random.default_rng(5)
    cls = SPACE.isomorphism_classes(merge_disconnected=False)
    conn = SPACE.connected
    first = {int(c): int(np.flatnonzero(cls == c)[0]) for c in np.unique(cls)}
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    for key, loc in ((SEARCH, 60.0), (REPORT, 65.0)):
        per_class = rng.normal(loc, 5.0, cls.max() + 1)
        v = per_class[cls]
        v[~conn] = 10.0
        data[(key, SEED)] = v
    meta: dict[str, Any] = {}
    if records != "none":
        copies = [
            {"dataset": k.dataset, "epochs": k.epochs, "seed": SEED, "index": i, "copied_from": r}
            for k in (SEARCH, REPORT)
            for i in np.flatnonzero(conn).tolist()
            if (r := first[int(cls[i])]) != i
        ]
        meta = {"constant_output": np.flatnonzero(~conn).tolist(), "isomorphic_to": copies}
        if records == "constant":
            meta["isomorphic_to"] = []
    return Table(SPACE, data, records, meta)


def _stand_ins() -> StandIns:
    found = StandIns.of(COPIES, SEARCH.dataset, SEARCH.epochs)
    assert found is not None
    return found


COPIES = _table()
PLAIN = _table("none")
STAND = _stand_ins()


def _protocol(budget: int = 40, **kw: Any) -> Protocol:
    return Protocol(name="toy", search=SEARCH, report=(REPORT,), budget_queries=budget, **kw)


def _by_hand(spec: Neighbourhood, group: np.ndarray | None) -> np.ndarray:
    """Each cell's NA score computed from its member list: the neighbours, less those in the
    cell's own group (its copies, or the cell it copies) where ``group`` is given."""
    v = COPIES.vector_for(SEARCH)
    nb = SPACE.neighbours(
        spec.radius, exact=spec.exact, no_none=spec.no_none, connected_only=spec.connected_only
    )
    agg = {
        "mean": np.mean,
        "median": np.median,
        "min": np.min,
        "quantile": lambda x: np.quantile(x, spec.quantile),
    }[spec.agg]
    out = np.empty(SPACE.size)
    for i in range(SPACE.size):
        m = nb.of(i)
        if group is not None:
            m = m[group[m] != group[i]]
        vals = v[m] if not spec.include_self else np.concatenate(([v[i]], v[m]))
        out[i] = agg(vals) if vals.size else np.nan
    return out


def _na(spec: Neighbourhood, stand: StandIns | None = None, **kw: Any) -> NARandomSearch:
    return NARandomSearch(NeighbourObjective(spec, stand_ins=stand), **kw)


def test_the_table_holds_copies_among_neighbours() -> None:
    # the case the fix is for: many cells have a copy of themselves one edit away
    assert STAND.n_copies > 300
    assert StandIns.of(PLAIN, SEARCH.dataset, SEARCH.epochs) is None
    nb = SPACE.neighbours(1)
    near = [i for i in range(SPACE.size) if (STAND.group[nb.of(i)] == STAND.group[i]).any()]
    assert len(near) > 300


@pytest.mark.parametrize(
    "spec",
    [
        Neighbourhood(),
        Neighbourhood(radius=2, exact=False, include_self=True, agg="median"),
        Neighbourhood(agg="quantile", quantile=0.75, connected_only=True),
    ],
    ids=["r1-mean", "r2-median-self", "r1-q75-connected"],
)
def test_na_score_leaves_out_the_cells_own_copies(spec: Neighbourhood) -> None:
    with_, without = _by_hand(spec, STAND.group), _by_hand(spec, None)
    # the landscape's own score agrees with the hand count (flatness's omit_stand_ins="self")
    np.testing.assert_allclose(
        neighbourhood_score(SPACE, COPIES.vector_for(SEARCH), spec, stand_ins=STAND), with_
    )
    assert (np.abs(with_ - without) > 1e-9).sum() > 100  # it matters for many cells
    data = _protocol().oracle_data(COPIES)
    left, kept = _na(spec, STAND), _na(spec)
    differ = 0
    for run in range(12):
        a, b = run_one(data, left, 0, run), run_one(data, kept, 0, run)
        assert a.score == pytest.approx(with_[a.best], rel=1e-12)
        assert b.score == pytest.approx(without[b.best], rel=1e-12)
        differ += (a.best, a.score) != (b.best, b.score)
    assert differ > 0


def test_best_evaluated_looks_up_no_copies() -> None:
    # its evaluations are NA-RS's members: with stand-ins, never a cell's own copies
    data = _protocol().oracle_data(COPIES)
    obj = NeighbourObjective(stand_ins=STAND)
    fewer = 0
    for run in range(8):
        a = run_one(data, NABestEvaluatedSearch(obj), 1, run)
        b = run_one(data, NABestEvaluatedSearch(), 1, run)
        assert a.queries == b.queries and a.free_queries <= b.free_queries
        fewer += a.free_queries < b.free_queries
    assert fewer > 0


def _algorithms() -> list[SearchAlgorithm]:
    free, paid = NeighbourObjective(), NeighbourObjective(charge=True)
    return [
        NARandomSearch(free),
        NARandomSearch(paid),
        NARandomSearch(free, rerank_top_k=3),
        NARandomSearch(paid, rerank_top_k=3, stage1_fraction=0.4),
        NABestEvaluatedSearch(free),
        NABestEvaluatedSearch(paid),
        RegularizedEvolution(objective=free),
        LocalSearch(objective=free),
    ]


def _compiled(a: SearchAlgorithm) -> bool:
    return any(
        kind(a)
        for kind in (
            vec.vectorisable_kind,
            vec.free_na_kind,
            replay_kind,
            seeded_kind,
            lockstep_kind,
        )
    )


def _cells(protocol: Protocol) -> list[tuple[Protocol, str, SearchAlgorithm]]:
    return [(protocol, a.label, a) for a in _algorithms()]


def test_a_table_without_copies_keeps_its_searches_and_their_kernels() -> None:
    p = _protocol()
    cells = [*_cells(p), (p, "rs", RandomSearch()), (p, "rea", RegularizedEvolution())]
    assert all(x[2] is y[2] for x, y in zip(cells, with_stand_ins(PLAIN, cells), strict=True))
    # constant-output cells alone leave nothing out either
    only_constant = _table("constant")
    assert StandIns.of(only_constant, SEARCH.dataset, SEARCH.epochs) is not None
    assert all(
        x[2] is y[2] for x, y in zip(cells, with_stand_ins(only_constant, cells), strict=True)
    )
    data = p.oracle_data(PLAIN)
    assert all(vec.batched_ok(data, a) for _, _, a in cells)
    # the runner's rows are the loop's, run by run
    res = run_cells(PLAIN, cells, runs=3, seed=2)
    assert not any("isomorphic copies" in n for n in res.notes)
    for _, label, a in cells:
        got = res.runs[res.runs["algorithm"] == label].sort_values("run")["best"].tolist()
        assert got == [run_one(data, a, 2, r).best for r in range(3)], label


def test_a_search_key_the_table_lacks_is_refused_by_its_protocol_not_by_stand_ins() -> None:
    # StandIns.of refuses a key the table lacks (a user's 'CIFAR10'); the runner asked it for
    # every NA search's key before the protocol's own check, so the demo's try of the NB201
    # protocol on a table without its key met that refusal instead of the ProtocolError the
    # demo falls back on
    lacking = Protocol(
        name="elsewhere",
        search=MetricKey("cifar100", "x-valid", 12),
        report=(REPORT,),
        budget_queries=40,
    )
    assert (
        with_stand_ins(COPIES, [(lacking, "na", _na(Neighbourhood()))])[0][2].objective.stand_ins
        is None
    )
    with pytest.raises(ProtocolError, match="cifar100/x-valid@12ep"):
        run_cells(COPIES, [(lacking, "na", _na(Neighbourhood()))], runs=2)


def test_the_runner_runs_copies_left_out_compiled_as_the_loop() -> None:
    p = _protocol()
    cells = _cells(p)
    changed = with_stand_ins(COPIES, cells)
    data = p.oracle_data(COPIES)
    for (_, label, before), (_, _, after) in zip(cells, changed, strict=True):
        assert after is not before and after.label == label
        assert after.objective.stand_ins == STAND  # type: ignore[attr-defined]
        assert _compiled(after) and vec.batched_ok(data, after), label
    one = run_cells(COPIES, cells, runs=4, seed=9)
    again = run_cells(COPIES, cells, runs=4, seed=9, jobs=2)  # the algorithms go to workers
    pd.testing.assert_frame_equal(one.runs, again.runs)
    notes = [n for n in one.notes if "isomorphic copies" in n]
    assert len(notes) == 1 and notes[0].startswith(f"toy: {STAND.n_copies} cells")
    for _, label, a in changed:
        got = one.runs[one.runs["algorithm"] == label].sort_values("run")["best"].tolist()
        assert got == [run_one(data, a, 9, r).best for r in range(4)], label
    # the caller's own stand-ins are kept, an empty set among them (no copy left out)
    none = StandIns.build(SPACE.size)
    mine = NARandomSearch(NeighbourObjective(stand_ins=none))
    assert with_stand_ins(COPIES, [(p, "x", mine)])[0][2] is mine
    assert mine.objective.arrays(SPACE) is SPACE.neighbours(1)  # type: ignore[attr-defined]


# -- the compiled searches read the members the loop reads -------------------------------------
SPECS = [
    Neighbourhood(),
    Neighbourhood(radius=2, exact=False, include_self=True, agg="median", connected_only=True),
    Neighbourhood(agg="quantile", quantile=0.75, include_self=True),
]


def _members_by_hand(spec: Neighbourhood, i: int) -> list[int]:
    """Cell ``i``'s neighbours in order, less those of its own group, one by one."""
    nb = spec.arrays(SPACE)
    g = STAND.group.tolist()
    return [j for j in nb.of(i).tolist() if g[j] != g[i]]


@pytest.mark.parametrize("spec", SPECS, ids=[s.label for s in SPECS])
def test_arrays_leave_out_exactly_the_cells_own_group(
    spec: Neighbourhood, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.landscape import aggregates as ag

    obj = NeighbourObjective(spec, stand_ins=STAND)
    nb = obj.arrays(SPACE)
    full = spec.arrays(SPACE)
    assert nb.width <= full.width and int(nb.counts.sum()) < int(full.counts.sum())
    for i in range(SPACE.size):
        want = _members_by_hand(spec, i)
        assert nb.of(i).tolist() == want, i
        assert nb.counts[i] == len(want)
        assert (nb.indices[i, len(want) :] == -1).all()
    # cached on the space, by content: a rebuilt StandIns finds the same arrays
    again = _stand_ins()
    assert again is not STAND and NeighbourObjective(spec, stand_ins=again).arrays(SPACE) is nb
    # no copies: the neighbourhood's own arrays (constant-output cells alone leave none out)
    assert NeighbourObjective(spec).arrays(SPACE) is full
    only_constant = StandIns.build(SPACE.size, constant=[0, 1])
    assert NeighbourObjective(spec, stand_ins=only_constant).arrays(SPACE) is full
    # the loop's rows: the same members, also where rows are rebuilt per cell (large radius)
    cells = range(0, SPACE.size, 5)
    assert all(obj.rows(SPACE).of(i).tolist() == nb.of(i).tolist() for i in cells)
    monkeypatch.setattr(ag, "CACHE_ENTRIES_LIMIT", 0)
    lazy = obj.rows(SPACE)
    assert not isinstance(lazy, type(nb))
    assert all(lazy.of(i).tolist() == _members_by_hand(spec, i) for i in cells)


def _oracles() -> dict[str, OracleData]:
    """The copies table's values, with costs: one row (a fixed query budget), and stored seeds
    drawn per query (a seconds budget; some cells with one seed)."""
    rng = np.random.default_rng(11)
    v = COPIES.vector_for(SEARCH)
    costs = rng.uniform(1.0, 9.0, SPACE.size)
    stack = np.stack([v, v + rng.normal(0.0, 1.0, SPACE.size).round(2), v - 0.5])
    stack[1:, rng.random(SPACE.size) < 0.3] = np.nan
    order, counts = seed_rows(stack)
    return {
        "single": OracleData(SPACE, SEARCH, v[None, :], None, None, costs, None, 60),
        "seeded": OracleData(SPACE, SEARCH, stack, order, counts, costs, 300.0, None),
    }


ORACLES = _oracles()


def _with_stand_ins(spec: Neighbourhood, stand: StandIns | None) -> list[SearchAlgorithm]:
    free = NeighbourObjective(spec, stand_ins=stand)
    paid = NeighbourObjective(spec, True, stand_ins=stand)
    return [
        NARandomSearch(free),
        NARandomSearch(paid),
        NARandomSearch(free, rerank_top_k=3),
        NARandomSearch(paid, rerank_top_k=3, stage1_fraction=0.4),
        NABestEvaluatedSearch(free),
        NABestEvaluatedSearch(paid),
        RegularizedEvolution(population=5, sample_size=2, objective=free),
        LocalSearch(objective=free),
    ]


def _path(data: OracleData, a: SearchAlgorithm) -> str:
    """The compiled path run_batched takes (as its dispatch reads it)."""
    if vec.vectorisable(data, a):
        return "vectorised"
    if replay_ok(data, a):
        return "free-na" if vec.free_na_kind(a) else "replay"
    if seeded_ok(data, a):
        return "free-na" if vec.free_na_kind(a) else "replay"
    return "lockstep" if lockstep_ok(data, a) else "loop"


@pytest.mark.parametrize("oracle", sorted(ORACLES))
@pytest.mark.parametrize("spec", SPECS[:2], ids=[s.label for s in SPECS[:2]])
def test_compiled_searches_leave_out_copies_as_the_loop(oracle: str, spec: Neighbourhood) -> None:
    data = ORACLES[oracle]
    paths = set()
    for a, plain in zip(_with_stand_ins(spec, STAND), _with_stand_ins(spec, None), strict=True):
        path = _path(data, a)
        assert path == _path(data, plain) != "loop", a.label  # the kernels without copies
        paths.add(path)
        runs = range(5)
        loop = [run_one(data, a, 3, r) for r in runs]
        assert sum(r.queries for r in loop) > len(runs), a.label  # the runs did search
        got = vec.run_batched(data, a, 3, runs)
        for fast, slow in zip(got, loop, strict=True):
            assert fast == slow, (a.label, path, fast, slow)
        # the copies change these runs: a kernel reading whole neighbourhoods would differ
        kept = [run_one(data, plain, 3, r) for r in runs]
        assert kept != loop, a.label
    assert paths == (
        {"vectorised", "replay", "free-na", "lockstep"}
        if oracle == "single"
        else {"free-na", "replay", "lockstep"}
    )


def test_objective_with_stand_ins_hashes_and_compares_by_content() -> None:
    import pickle

    a = _na(Neighbourhood(), STAND)
    b = pickle.loads(pickle.dumps(a))
    assert b == a and hash(b) == hash(a) and b.label == a.label == _na(Neighbourhood()).label
    assert a != _na(Neighbourhood()) and {a: 1}[b] == 1
    other = StandIns.build(SPACE.size, copies=[(4, 3)])
    assert a != _na(Neighbourhood(), other)
    with pytest.raises(AlgorithmError, match="StandIns"):
        NeighbourObjective(stand_ins=STAND.group)  # type: ignore[arg-type]


def test_stand_ins_of_another_space_are_refused_in_one_line() -> None:
    wrong = NARandomSearch(NeighbourObjective(stand_ins=StandIns.build(27)))
    with pytest.raises(AlgorithmError) as err:
        run_cells(COPIES, [(_protocol(), wrong.label, wrong)], runs=1)
    msg = str(err.value)
    assert "\n" not in msg and "cover 27 cells, the space has 729" in msg
    assert "StandIns.of(table, dataset, epochs)" in msg
    # a run started by hand meets the same check where its members are built, loop or kernel
    other = NARandomSearch(NeighbourObjective(stand_ins=StandIns.build(27, copies=[(4, 3)])))
    data = _protocol().oracle_data(COPIES)
    with pytest.raises(AlgorithmError, match="cover 27 cells, the space has 729"):
        run_one(data, other, 0, 0)
    with pytest.raises(AlgorithmError, match="cover 27 cells, the space has 729"):
        vec.run_batched(data, other, 0, range(2))


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_search_notes_the_copies(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(save_table(COPIES, tmp_path / "r.nb201"))
    args = ["search", "--protocol", "fixed-n", "--fixed-n", "20", "--runs", "3", "--table", path]
    code, out, err = _cli(capsys, *args, "--algo", "na-rs")
    assert code == 0, err
    notes = [line for line in out.splitlines() if "isomorphic copies" in line]
    assert len(notes) == 1 and notes[0].startswith("note: fixed-n:cifar10-valid: ")
    assert "leaves a cell's own copies out of its neighbourhood" in notes[0]
    code, out, err = _cli(capsys, *args, "--algo", "rs")  # no neighbourhood: nothing to say
    assert code == 0 and "isomorphic copies" not in out
    # the same numbers without the records: no note
    plain = str(save_table(PLAIN, tmp_path / "p.nb201"))
    argv = [*args[:-1], plain, "--algo", "na-rs", "--json"]
    code, out, _ = _cli(capsys, *argv)
    assert code == 0 and "isomorphic copies" not in out


def test_with_stand_ins_keeps_each_algorithm_once_per_vector() -> None:
    a = NARandomSearch()
    p, q = _protocol(), _protocol().replace(name="other")
    out = with_stand_ins(COPIES, [(p, "a", a), (q, "a", a)])
    assert out[0][2] is out[1][2] is not a
