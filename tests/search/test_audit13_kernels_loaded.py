"""A search loads (and on a cold cache compiles) only its own kernel modules before its workers
fork: a first search on a machine compiled all 36 of the searches' kernels whatever the
algorithm (random search on NB201's table at the default --jobs: 15 s, 11 s with its own
module's). The map from an algorithm to its kernel modules
(:func:`~nb201_flat.search.compiled.kernel_modules`) is held to the batched dispatch it
follows."""

from __future__ import annotations

import importlib
import json
import logging
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nb201_flat.search import (
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    RegularizedEvolution,
    compiled,
    nb201_protocol,
    run_search,
)
from nb201_flat.search import vectorised as vec
from nb201_flat.search.algorithms import SearchAlgorithm
from nb201_flat.search.oracle import OracleData, seed_rows
from nb201_flat.space import Space
from nb201_flat.table import MetricKey, Table

from .test_compiled import _kernel_modules, _mod

FREE_NA, LOCKSTEP, REPLAY = compiled.MODULES
RS = compiled.RS_KERNELS
_forks = pytest.mark.skipif(
    "fork" not in mp.get_all_start_methods(),
    reason="the kernels are loaded before the workers start only where they fork",
)


def _search(table: Path, cache: Path, algo: str, jobs: int) -> dict[str, Any]:
    """``search --algo ALGO --runs 4 --jobs JOBS --json`` in a fresh process whose numba cache
    is ``cache``: its answer."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("NUMBA_DISABLE_JIT", None)
    args = ["search", "--algo", algo, "--table", str(table), "--runs", "4", "--jobs", str(jobs)]
    done = subprocess.run(
        [sys.executable, "-m", "nb201_flat", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _cached(cache: Path) -> set[str]:
    """The kernels in numba's cache ``cache``, as ``module.kernel`` (one index file each)."""
    return {p.name.split("-")[0] for p in cache.rglob("*.nbi")}


@pytest.mark.slow
@_forks
def test_a_cold_random_search_compiles_only_its_own_kernels(
    nb201_like_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "numba"
    cache.mkdir()
    _search(nb201_like_path, cache, "rs", 2)
    rs = _cached(cache)
    # its walk and draws, with the kernels they call; none of free NA-RS's (all 12 of their
    # module were compiled), REA's, LS's or the NA-RS replays' (all 36 were)
    walk = ("rs_walk", "_rs_run", "bounded_draws", "_bounded")
    assert rs == {*(f"kernels_free_na.{k}" for k in walk), "kernels_numpy.grow"}, sorted(rs)
    # NA-RS after it, on that cache: the runs of one process
    two = _search(nb201_like_path, cache, "na-rs", 2)
    one = _search(nb201_like_path, cache, "na-rs", 1)
    assert two["results"] == one["results"]
    # REA compiles its own (with the helpers they call) where the workers fork, and runs
    _search(nb201_like_path, cache, "rea", 2)
    rea = {k.split(".")[0] for k in _cached(cache) - rs}
    assert "kernels_lockstep" in rea and "kernels_replay" not in rea, sorted(rea)


_SPACE = Space(("none", "skip_connect", "conv", "pool"), 4)  # 4096 cells, one-op moves alike
_FREE, _CHARGED = NeighbourObjective(radius=1), NeighbourObjective(radius=1, charge=True)
_ALGORITHMS: list[SearchAlgorithm] = [
    RandomSearch(),
    NARandomSearch(_FREE),
    NARandomSearch(_CHARGED),
    NARandomSearch(_FREE, rerank_top_k=3),
    NARandomSearch(_CHARGED, rerank_top_k=3),
    NABestEvaluatedSearch(_FREE),
    NABestEvaluatedSearch(_CHARGED),
    RegularizedEvolution(),
    RegularizedEvolution(objective=_FREE),
    RegularizedEvolution(objective=_CHARGED),
    LocalSearch(),
    LocalSearch(objective=_FREE),
]


def _oracle(stored: bool) -> OracleData:
    """Random values of :data:`_SPACE` (three stored seeds a cell, or one row), costs and a
    time budget of about 60 queries."""
    rng = np.random.default_rng(13)
    values = rng.normal(size=(3 if stored else 1, _SPACE.size))
    order, counts = seed_rows(values) if stored else (None, None)
    costs = rng.uniform(1.0, 3.0, _SPACE.size)
    return OracleData(
        _SPACE, MetricKey("toy", "x-valid", 12), values, order, counts, costs, 120.0, None
    )


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="no compiled kernel to watch"
)
@pytest.mark.parametrize("stored", [False, True], ids=["one-row", "stored-seeds"])
@pytest.mark.parametrize("algo", _ALGORITHMS, ids=lambda a: a.label)
def test_the_map_names_the_kernel_modules_the_batched_search_calls(
    algo: SearchAlgorithm, stored: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from numba.core.registry import CPUDispatcher

    data = _oracle(stored)
    if not vec.batched_ok(data, algo):  # the loop's: none loaded for it
        assert compiled.kernel_modules(algo) == ()
        return
    called: set[tuple[str, str]] = set()
    call = CPUDispatcher.__call__  # every kernel called from Python, whatever its module

    def watched(kernel: Any, *args: Any, **kwargs: Any) -> Any:
        called.add((kernel.py_func.__module__, kernel.py_func.__name__))
        return call(kernel, *args, **kwargs)

    monkeypatch.setattr(CPUDispatcher, "__call__", watched)
    assert len(vec.run_batched(data, algo, 0, range(3))) == 3
    names = compiled.kernel_modules(algo)
    modules = {m for m, _ in called} & set(compiled.MODULES)
    assert modules == {n.partition(":")[0] for n in names}
    for module, _, part in (n.partition(":") for n in names if ":" in n):  # a module's part
        parts = importlib.import_module(module).PARTS
        assert {k for m, k in called if m == module} <= set(parts[part]), (called, part)


@_forks
def test_the_runner_loads_only_the_kernels_of_its_batched_searches(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[tuple[int, tuple[str, ...]]] = []
    said: list[tuple[str, ...]] = []

    def load(jobs: int = 1, modules: Any = None) -> None:
        loaded.append((jobs, tuple(compiled.MODULES if modules is None else modules)))

    monkeypatch.setattr(compiled, "load_kernels", load)
    monkeypatch.setattr(
        compiled, "say_if_cold", lambda modules=None: said.append(tuple(modules or ()))
    )
    p = nb201_protocol()
    run_search(nb201_like, p, RandomSearch(), runs=4, seed=0, jobs=2)
    run_search(nb201_like, p, [RandomSearch(), RegularizedEvolution()], runs=4, seed=0, jobs=2)
    assert loaded == [(2, (RS,)), (2, (RS, LOCKSTEP))]
    # one process loads each kernel where it is first called: the note is of its own kernels
    run_search(nb201_like, p, RegularizedEvolution(), runs=2, seed=0, jobs=1)
    assert said == [(LOCKSTEP,)]
    # charged REA runs the loop: nothing to load
    run_search(nb201_like, p, RegularizedEvolution(objective=_CHARGED), runs=4, seed=0, jobs=2)
    assert len(loaded) == 2


def test_a_module_not_asked_for_is_neither_compiled_nor_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    names = _kernel_modules(tmp_path, monkeypatch, " + 0", " + 1")
    compiled.load_kernels(jobs=2, modules=names[:1])
    assert compiled.is_cached(_mod(names[0]))
    assert not compiled.is_cached(_mod(names[1]))
    with caplog.at_level(logging.INFO, logger=compiled.__name__):
        compiled.say_if_cold(names[:1])  # cached: no note of a compile that does not happen
        assert not caplog.records
        compiled.say_if_cold()
    assert ["compiling the search kernels" in r.getMessage() for r in caplog.records] == [True]
