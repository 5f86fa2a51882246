"""The compiled REA/LS kernels' float arithmetic against numpy's, bit for bit, and the guard
that sends runs to the loop when the kernels' draws are not numpy's."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nb201_flat.landscape.neighbourhood import aggregate_members
from nb201_flat.neighbourhood import Neighbourhood
from nb201_flat.search import LocalSearch, RegularizedEvolution, nb201_protocol
from nb201_flat.search import kernels_lockstep as kl
from nb201_flat.search import lockstep as ls
from nb201_flat.search.runner import run_one
from nb201_flat.table import Table


@pytest.mark.parametrize("agg", ["mean", "min", "median", "quantile"])
def test_aggregate_is_the_landscapes(agg: str) -> None:
    spec = Neighbourhood(agg=agg, quantile=0.3) if agg == "quantile" else Neighbourhood(agg=agg)
    from nb201_flat.landscape.neighbourhood import _agg_level

    name, q = _agg_level(spec)
    code = {"mean": kl.AGG_MEAN, "min": kl.AGG_MIN, "quantile": kl.AGG_QUANTILE}[name]
    rng = np.random.default_rng(1)
    tmp = np.empty(400)
    for n in [*range(1, 40), 127, 128, 129, 200, 264, 300]:
        for nan in (0.0, 0.3, 1.0):
            g = rng.normal(size=n) * rng.choice([1.0, 1e6], n)
            g[rng.random(n) < nan] = np.nan
            want = aggregate_members(g, spec)
            got = kl.aggregate(g, n, code, q, tmp)
            assert (np.isnan(want) and np.isnan(got)) or got == want, (n, nan)


def test_warm_up_loads_every_kernel() -> None:
    kl.warm_up()
    for f in (kl.run_searches, kl.draws, kl.pairwise_sum, kl.aggregate):
        assert f.signatures  # compiled (or loaded from the cache) in this process


def test_warm_up_compiles_the_kernel_searches_call(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numba compiles one version per argument types, a read-only array included: a warm-up
    # on other types left the first search to compile again (3.8 s instead of 0.15 s)
    import numba

    real = kl.run_searches
    seen: list[tuple[object, ...]] = []

    def typed(*args: object) -> object:
        seen.append(tuple(numba.typeof(a) for a in args))
        return real(*args)

    monkeypatch.setattr(kl, "run_searches", typed)
    kl.warm_up()
    warm = set(seen)
    seen.clear()
    data = nb201_protocol().oracle_data(nb201_like)
    for algo in (RegularizedEvolution(), LocalSearch()):
        ls.run_lockstep(data, algo, 4, range(2))
    assert seen and set(seen) <= warm


def test_kernels_unlike_numpy_send_the_runs_to_the_loop(
    nb201_like: Table, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = nb201_protocol().oracle_data(nb201_like)
    assert ls._kernels_match_numpy()
    monkeypatch.setattr(ls, "_kernels_match_numpy", lambda: False)
    calls: list[int] = []

    def counted(*args: object) -> object:
        calls.append(1)
        return run_one(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ls, "run_one", counted)
    for algo in (RegularizedEvolution(), LocalSearch()):
        calls.clear()
        with caplog.at_level("WARNING", logger="nb201_flat.search.lockstep"):
            got = ls.run_lockstep(data, algo, 4, range(6))
        assert len(calls) == 6
        assert got == [run_one(data, algo, 4, r) for r in range(6)]
    assert "compiled REA/LS kernels" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as Linux counts it")
def test_the_guard_allocates_for_its_permutations_only() -> None:
    # the guard's script draws integers(2**31 + 7): a scratch array sized by every op's n was
    # 16 GiB of address space, a MemoryError where a machine cannot promise it (a laptop with
    # less RAM and swap, a limit on the address space) and every REA/LS search failed with it
    import os
    import subprocess

    script = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({3 << 30}, {3 << 30}))\n"
        "from nb201_flat.search import lockstep as ls\n"
        "print(ls._kernels_match_numpy())\n"
    )
    # one BLAS thread: a many-core host's per-thread buffers are address space too
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-600:]
    assert done.stdout.strip() == "True"
