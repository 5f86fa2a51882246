"""Issue 10 item 9: a request is sized before it starts (refused in one line when it cannot
fit, saying what would), long work shows progress on a terminal only, and a memory cap never
ends in a bare OpenBLAS error or a MemoryError traceback."""

from __future__ import annotations

import io
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2

from nb201_flat import budget
from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, ResourceLimitError
from nb201_flat.landscape.neighbourhood import flatness, neighbourhood_score
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

CAP = "100M"  # below a radius-6 gather over NB201 (~0.2 GB), above radius 1 (~20 MB)


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    v = np.linspace(10, 90, NB201.size)
    data = {(MetricKey("cifar10", "ori-test", 200), None): v}
    return save_table(Table(NB201, data, source="budget"), tmp_path / "t.nb201")


def test_radius_6_gather_is_refused_up_front_in_a_subprocess(tmp_path: Path) -> None:
    # today's code ignores the cap and gathers for minutes: the deadline makes that a failure
    code = (
        "import numpy as np\n"
        "from nb201_flat.space import NB201\n"
        "from nb201_flat.landscape.neighbourhood import flatness\n"
        "flatness(NB201, np.linspace(0, 1, NB201.size), 6)\n"
    )
    env = {**os.environ, budget.ENV_MAX_MEMORY: CAP}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a radius-6 gather under a 100 MB cap started instead of being refused")
    assert proc.returncode != 0
    assert "ResourceLimitError" in proc.stderr and "radius 1 or less fits" in proc.stderr


@pytest.mark.usefixtures("cap_alone")
def test_gather_refusal_names_what_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, CAP)
    v = np.linspace(0, 1, NB201.size)
    with pytest.raises(ResourceLimitError) as info:
        neighbourhood_score(NB201, v, 6, agg="median")
    msg = str(info.value)
    assert "\n" not in msg and "radius 6" in msg and "radius 1 or less fits" in msg
    assert "mean, std, min and max alone need no gather and fit" in msg
    assert budget.ENV_MAX_MEMORY in msg
    # what the message offers does fit
    assert len(neighbourhood_score(NB201, v, 1, agg="median")) == NB201.size
    assert np.isfinite(neighbourhood_score(NB201, v, 6, agg="mean")).all()


@pytest.mark.usefixtures("cap_alone")
def test_cli_flatness_refused_in_one_line(
    table_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, CAP)
    line = one_line_exit_2(
        capsys, "flatness", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200",
        "--radius", "6", "--agg", "median", "--table", str(table_path),
    )  # fmt: skip
    assert "needs about" in line and "available" in line and "radius 1 or less" in line


@pytest.mark.usefixtures("cap_alone")
def test_small_requests_are_never_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, CAP)
    space = Space(("a", "b", "c"), 3)
    f = np.arange(space.size, dtype=float)
    assert flatness(space, f, 3)["median"].notna().all()


@pytest.mark.parametrize("bad", ["lots", "-5", "1e3X", ""])
def test_bad_cap_is_one_line(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, bad)
    if not bad:
        assert budget.available_bytes() is None or budget.available_bytes() > 0
        return
    with pytest.raises(Exception, match=budget.ENV_MAX_MEMORY) as info:
        budget.available_bytes()
    assert "\n" not in str(info.value)


def test_memory_error_is_one_line_naming_what_to_lower(
    table_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import nb201_flat.landscape.neighbourhood as nbh

    def oom(*args: object, **kwargs: object) -> object:
        raise MemoryError("Unable to allocate 3.2 GiB for an array")

    monkeypatch.setattr(nbh, "_stats", oom)
    line = one_line_exit_2(
        capsys, "flatness", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200",
        "--radius", "2", "--table", str(table_path),
    )  # fmt: skip
    assert "out of memory in flatness" in line and "--radius" in line


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    assert list(budget.progress(range(3), desc="x", delay_s=0)) == [0, 1, 2]
    assert plain.getvalue() == ""
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    budget.set_progress(True)
    assert list(budget.progress(range(3), desc="radius", delay_s=0)) == [0, 1, 2]
    assert "radius" in tty.getvalue()


def test_json_turns_progress_off(
    table_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        argv = ["flatness", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]
        assert main([*argv, "--radius", "1", "--table", str(table_path), "--json"]) == 0
        monkeypatch.setattr(sys, "stderr", _Tty())
        assert not budget.progress_enabled()
        assert main([*argv, "--radius", "1", "--table", str(table_path)]) == 0
        assert budget.progress_enabled()
    finally:
        budget.set_progress(True)


def test_openblas_threads_limited_under_an_address_space_cap() -> None:
    code = (
        "import os, sys\n"
        "import nb201_flat\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)\n"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    }

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (16 * 2**30, resource.RLIM_INFINITY))

    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        preexec_fn=cap,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "True"]
    free = subprocess.run(
        [sys.executable, "-c", code], env={**env, "OPENBLAS_NUM_THREADS": "3"},
        capture_output=True, text=True, timeout=60, preexec_fn=cap,
    )  # fmt: skip
    assert free.stdout.split() == ["3", "True"]  # the user's choice is kept


# Imports everything a census needs except scipy, reads the table once, then caps the address
# space a little above what is mapped and runs the command: scipy's OpenBLAS, loaded late
# under the cap, used to spin forever instead of failing.
_LATE_BLAS = """
import resource, sys
import matplotlib, pandas, pyarrow.parquet
from nb201_flat.cli import main
from nb201_flat.storage import load_table
load_table(sys.argv[1])
size = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize")][0]
resource.setrlimit(resource.RLIMIT_AS, ((size + 48 * 1024) * 1024, resource.RLIM_INFINITY))
sys.exit(main(["census", "--pairs", "2", "--top-k", "2", "--table", sys.argv[1]]))
"""


def test_late_blas_load_under_an_address_space_cap_is_one_line(table_path: Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _LATE_BLAS, str(table_path)],
            capture_output=True, text=True, timeout=90, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("loading scipy's BLAS under a tight ulimit -v hung instead of failing")
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-800:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-800:]
    assert "address-space limit (ulimit -v)" in lines[0] and "raise the limit" in lines[0]


@pytest.mark.parametrize(
    ("extra", "offers"),
    [
        (["--distance", "0", "--top-k", "0"], "--distance 3"),  # all pairs of a band: 3.6 GB
        (["--top-k", "5000"], "--top-k "),  # 12.5 million pairs of the top K: a smaller K fits
    ],
)
def test_census_too_big_is_refused_up_front_naming_what_fits(
    tmp_path: Path, extra: list[str], offers: str
) -> None:
    from nb201_flat.landscape.statistics import a2m_bands

    lo, hi = next(iter(a2m_bands("cifar10").values()))
    v = np.linspace(lo, hi, NB201.size)  # every cell inside one of A²M's bands
    table_path = save_table(
        Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): v}), tmp_path / "t"
    )
    # in a subprocess with a deadline: today's code starts building billions of pairs
    cmd = [sys.executable, "-m", "nb201_flat", "census", "--dataset", "cifar10", "--split"]
    cmd += ["ori-test", "--epochs", "200", "--pairs", "100", *extra, "--table", str(table_path)]
    env = {**os.environ, budget.ENV_MAX_MEMORY: "1G"}
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"census {' '.join(extra)} started instead of being refused")
    assert proc.returncode == 2, proc.stderr[-600:]
    line = proc.stderr.strip()
    assert "\n" not in line and line.startswith("error: a barrier census of"), line
    assert "needs about" in line and offers in line and budget.ENV_MAX_MEMORY in line, line
    if offers == "--top-k ":  # a top K below the one asked for, that the estimate says fits
        k = int(re.search(r"--top-k (\d+) ", line).group(1))  # type: ignore[union-attr]
        assert k < 5000 and k * (k - 1) // 2 * 512 < 1 << 30, line  # its pairs alone fit


def test_census_cost_counts_the_pairs_it_computes() -> None:
    from nb201_flat.landscape.census import barrier_census, census_cost

    space = Space(("a", "b", "c"), 3)
    v = np.arange(space.size, dtype=float)
    bands = {"low": (0.0, 10.0), "every": (0.0, 30.0)}
    for n_pairs, top_k, distance in ((5, 4, 2), (100, 0, None), (3, 6, 1)):
        pairs, _ = census_cost(space, v, bands, n_pairs, top_k, distance)
        df = barrier_census(
            space, v, bands, n_pairs=n_pairs, top_k=top_k, distance=distance, seed=0
        )
        assert len(df) <= pairs
        if distance is None:  # every pair of a band is a candidate: the count is exact
            assert len(df) == pairs


@pytest.mark.usefixtures("cap_alone")
def test_figures_too_big_are_refused_naming_those_that_fit(
    table_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat.cli.figures import figure_bytes

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, CAP)
    out = table_path.parent / "figs"
    line = one_line_exit_2(capsys, "figures", "--out", str(out), "--table", str(table_path))
    assert "figure barrier_census needs about" in line and budget.ENV_MAX_MEMORY in line, line
    offered = line.split("--only ")[1].split(" fits")[0].split()
    assert offered and "barrier_census" not in offered
    assert all(budget.fits(figure_bytes(n, NB201.size)) for n in offered)
    assert not out.exists()  # refused before anything was drawn


# -- a command's total work is bounded: no run may make more queries than MAX_QUERIES_PER_CELL
#    times the space's size (a budget in queries, or a time budget over the cheapest query) ----
@pytest.fixture(scope="module")
def synth_table() -> Table:
    from nb201_flat.testing import synthetic_table

    return synthetic_table()


def test_search_with_a_huge_query_budget_is_refused_in_one_line(tmp_path: Path) -> None:
    from nb201_flat.testing import synthetic_table

    path = save_table(synthetic_table(), tmp_path / "s.nb201")
    argv = ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "99999999999999"]
    argv += ["--runs", "2", "--jobs", "1", "--table", str(path)]
    code = f"import sys; from nb201_flat.cli import main; sys.exit(main({argv!r}))"
    try:  # today's code draws for ever: the deadline makes that a failure
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("search --fixed-n 99999999999999 started instead of being refused")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "100 x the space's 15,625 cells" in lines[0] and "(--fixed-n)" in lines[0]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        # the field each sets (a builder's budget_scale or n: tests/search/test_budget_messages)
        ({"budget_queries": 100 * 15_625 + 1, "budget_seconds": None}, "budget (budget_queries)"),
        ({"budget_seconds": 12_000.0 * 1e300}, "lower the budget (budget_seconds)"),
        ({"budget_seconds": 12_000.0 * 1e5}, "lower the budget (budget_seconds)"),
        ({"repeats": "cache", "budget_seconds": 1.5e8}, "or use repeats='charge'"),
    ],
)
def test_a_budget_no_run_could_spend_is_refused(
    synth_table: Table, changes: dict[str, object], fragment: str
) -> None:
    from nb201_flat.search.protocol import ProtocolError, nb201_protocol

    p = nb201_protocol().replace(**changes)
    with pytest.raises(ProtocolError) as exc:
        p.oracle_data(synth_table)
    # the fix names the parameters (a command respells them as its flags: cli.common.error_line)
    assert fragment in str(exc.value) and "--" not in str(exc.value)


def test_free_cells_neither_bound_nor_break_the_time_budget_check() -> None:
    import numpy as np

    from nb201_flat.errors import Param
    from nb201_flat.search.protocol import ProtocolError, nb201_protocol

    p = nb201_protocol()
    costs = np.full(15_625, 10.0)
    costs[:100] = 0.0  # free cells: the paid ones bound the queries
    p._check_work(15_625, costs, None)
    with pytest.raises(
        ProtocolError, match=r"costs 0 s: .* never runs out.*\(fixed_n_protocols\(table, n\)\)"
    ):
        p._check_work(15_625, np.zeros(15_625), None)
    # a budget of inf set directly names the field set, not a budget_scale it was not given
    with pytest.raises(ProtocolError) as inf:
        p.replace(budget_seconds=1e305 * 12_000)
    assert str(inf.value).endswith("got inf; give a finite number of seconds")
    assert Param("budget_seconds") in inf.value.parts and "budget_scale" not in str(inf.value)
    with pytest.raises(ProtocolError, match="got -5.0; give a positive number of seconds"):
        p.replace(budget_seconds=-5.0)


def test_the_work_bound_counts_cells_a_connected_run_reaches_outside_its_samples() -> None:
    import numpy as np

    from nb201_flat.search.protocol import MAX_QUERIES_PER_CELL, ProtocolError, nb201_protocol
    from nb201_flat.space import NB201

    # sampling='connected' bounded a run by the cheapest connected cell, but REA's mutants
    # (charged on every repeat) and NA/LS neighbours may be disconnected: a disconnected cell
    # 10x cheaper let a run buy up to 10x the bound. It is the cheapest cell of the space now
    p = nb201_protocol().replace(sampling="connected")
    connected = np.flatnonzero(NB201.connected).astype(np.int64)
    costs = np.where(NB201.connected, 10.0, 1.0)
    limit = MAX_QUERIES_PER_CELL * NB201.size
    under = p.replace(budget_seconds=limit * 1.0)  # the disconnected cells buy `limit`: served
    under._check_work(NB201.size, costs, connected)
    over = p.replace(budget_seconds=limit * 5.0)  # 5x limit at 1 s, half the limit at 10 s
    with pytest.raises(ProtocolError, match=r"a run may make 7\.812e\+06 queries .*\(1 s\)"):
        over._check_work(NB201.size, costs, connected)
    # free connected cells: a run that samples only them never ends, however cheap the rest
    free = np.where(NB201.connected, 0.0, 1.0)
    with pytest.raises(ProtocolError, match="costs 0 s: .* never runs out"):
        p._check_work(NB201.size, free, connected)


def test_a_cached_query_budget_over_the_space_is_refused(synth_table: Table) -> None:
    from nb201_flat.search.protocol import ProtocolError, protocols_by_name

    # a run ends at the charged query its budget cannot pay: with all 15,625 cells cached
    # there is none, and a budget of 15,625 queries never ended (RS looped on cache hits)
    for n in (15_626, 15_625):
        (p, *_) = protocols_by_name("fixed-n", synth_table, n=n, repeats="cache")
        with pytest.raises(ProtocolError, match="at most 15,624 .n. or use repeats='charge'"):
            p.oracle_data(synth_table)
    p.replace(budget_queries=15_624).oracle_data(synth_table)  # one cell left: it ends


def test_budgets_up_to_the_bound_are_served(synth_table: Table) -> None:
    from nb201_flat.search.protocol import MAX_QUERIES_PER_CELL, protocols_by_name

    for name in ("nb201", "per-dataset"):
        for p in protocols_by_name(name, synth_table, budget_scale=200 / 12):
            p.oracle_data(synth_table)
    (p, *_) = protocols_by_name("fixed-n", synth_table, n=MAX_QUERIES_PER_CELL * 15_625)
    p.oracle_data(synth_table)


# -- --jobs of search and reproduce: the one check (budget.check_search_jobs), as figures' -------
@pytest.mark.parametrize(
    "argv",
    [
        ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "5", "--runs", "8"],
        ["reproduce", "--quick", "--runs", "4"],
    ],
)
@pytest.mark.usefixtures("cap_alone")
def test_search_jobs_whose_workers_cannot_fit_are_refused_in_one_line(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat.testing import synthetic_table

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "500M")  # below 4 workers of 150 MB
    if argv[0] == "reproduce":
        # refused where the workers are counted, once the grid's protocols are built: on a
        # table that serves them
        path = save_table(synthetic_table(), tmp_path / "s.nb201")
        argv = [*argv, "--out", str(tmp_path / "rep"), "--table", str(path)]
    line = one_line_exit_2(capsys, *argv, "--jobs", "4")
    assert "a pool of 4 search worker processes needs about" in line, line
    assert "jobs=" not in line  # the fix names the flag: no Python keyword on the command line
    assert "pass fewer jobs (--jobs" in line
    assert not (tmp_path / "rep").exists()  # refused before any work


@pytest.mark.usefixtures("cap_alone")
def test_run_search_refuses_jobs_whose_workers_cannot_fit(synth_table: Table) -> None:
    from nb201_flat.search import RandomSearch, run_search
    from nb201_flat.search.protocol import nb201_protocol

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(budget.ENV_MAX_MEMORY, "500M")  # below 4 workers of 150 MB
        with pytest.raises(
            ResourceLimitError, match="pool of 4 search worker processes .*pass fewer jobs"
        ):
            run_search(synth_table, nb201_protocol(), RandomSearch(), runs=8, jobs=4)
    with pytest.raises(ArgumentError, match="jobs must be >= 1, got 0; pass jobs=1"):
        run_search(synth_table, nb201_protocol(), RandomSearch(), runs=2, jobs=0)


@pytest.mark.usefixtures("cap_alone")
def test_cli_jobs_memory_is_checked_for_the_workers_that_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--runs 3 --jobs 8 starts three workers (a batched search is cut into one part a run):
    the command checks those three, not eight (it refused them up front)."""
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "700M")  # 3 workers of 150 MB fit, 4 do not
    argv = ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "5", "--jobs", "8"]
    assert main([*argv, "--runs", "3", "--json"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    line = one_line_exit_2(capsys, *argv, "--runs", "8")  # eight runs: eight workers
    assert "a pool of 8 search worker processes needs about" in line, line
    assert "jobs=" not in line  # the fix names the flag: no Python keyword on the command line


@pytest.mark.usefixtures("cap_alone")
def test_search_jobs_are_sized_by_the_workers_that_start(
    synth_table: Table, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers that would not start cost nothing, and a command's own default is never
    refused: it starts as many workers as fit (numpy counts are counts, too)."""
    import numpy as np

    from nb201_flat.search import RandomSearch, run_search
    from nb201_flat.search.protocol import nb201_protocol

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "250M")  # one worker of 150 MB fits, two do not
    res = run_search(synth_table, nb201_protocol(), RandomSearch(), runs=np.int64(1), jobs=16)
    assert len(res.runs) > 0  # one run, one task: one worker
    monkeypatch.setattr("nb201_flat.search.runner.usable_cores", lambda: 16)
    argv = ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "5", "--runs", "4"]
    assert main(argv) == 0, capsys.readouterr().err  # no --jobs: 16 CPUs, one fits
    res = run_search(synth_table, nb201_protocol(), RandomSearch(), runs=8, jobs=None)
    assert len(res.runs) > 0  # the API's "as many as fit" too
    capsys.readouterr()


def test_a_memory_refusal_never_shows_need_and_room_as_the_same_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # whole MB printed "needs about 2 MB of memory and 2 MB is available"
    from nb201_flat import budget
    from nb201_flat.errors import ResourceLimitError

    monkeypatch.setattr(budget, "available_bytes", lambda: int(2.6 * 2**20))
    with pytest.raises(ResourceLimitError) as exc:
        budget.check_memory(2.3 * 2**20, "a thing", "nothing smaller fits")
    assert str(exc.value).startswith("a thing needs about 2.3 MB of memory and 2.1 MB is available")


@pytest.mark.usefixtures("cap_alone")
def test_a_space_too_large_for_memory_is_named_by_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # it was named by its repr, a tuple of op names three lines long on a command's one line
    from nb201_flat.space import Space

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "1K")
    space = Space(("a", "b", "c"), 4)
    with pytest.raises(ResourceLimitError) as info:
        _ = space.codes  # the first whole-space array
    said = str(info.value)
    assert said.startswith("the index over all 729 cells of a space (3 ops on 6 edges) needs ")
    assert "Space(" not in said


def test_nothing_left_is_nothing_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # a reading of 0 was dropped as "nothing said": a full address space (or cgroup) let any
    # request pass the check and meet numpy's bare MemoryError
    for reader in ("_meminfo_available", "_cgroup_left"):
        monkeypatch.setattr(budget, reader, lambda: None)
    monkeypatch.setattr(budget, "_address_space_left", lambda: 0)
    monkeypatch.delenv(budget.ENV_MAX_MEMORY, raising=False)
    assert budget.available_bytes() == 0 and not budget.fits(2**20)


@pytest.mark.parametrize("v1", [False, True], ids=["cgroup-v2", "cgroup-v1"])
def test_a_cgroup_full_of_page_cache_has_that_cache_left(tmp_path: Path, v1: bool) -> None:
    # usage counts the page cache, which the kernel gives back on demand: its inactive part
    # is memory left (a cgroup filled by reading files would refuse all work)
    mib = 2**20
    limit, usage, inactive = (
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat")
        if v1
        else ("memory.max", "memory.current", "memory.stat")
    )
    (tmp_path / "memory").mkdir()
    (tmp_path / limit).write_text(f"{100 * mib}\n")
    (tmp_path / usage).write_text(f"{100 * mib}\n")
    key = "total_inactive_file" if v1 else "inactive_file"
    (tmp_path / inactive).write_text(f"anon {30 * mib}\n{key} {60 * mib}\nactive_file 10\n")
    assert budget._cgroup_left(str(tmp_path)) == 60 * mib
    (tmp_path / inactive).write_text(f"anon {100 * mib}\n")  # no cache: full
    assert budget._cgroup_left(str(tmp_path)) == 0


def test_neighbour_arrays_are_sized_before_they_are_built(
    monkeypatch: pytest.MonkeyPatch, cap_alone: None
) -> None:
    # built unchecked: 2 GB at radius 6 under a 300 MB cap (numpy's bare MemoryError where
    # the memory was short); a fresh space, so no cached arrays answer
    space = Space(NB201.ops, 4)
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "300M")
    with pytest.raises(
        ResourceLimitError, match=r"radius 6 or less needs about .*radius 3 or less fits"
    ):
        space.neighbours(6, exact=False)
    assert space.neighbours(3, exact=False).indices.shape == (space.size, 1544)
    # and a check of precomputed arrays counts their cells (it read them as none)
    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "1M")
    with pytest.raises(ResourceLimitError):
        budget.check_neighbourhood_memory(NB201.neighbours(1), 11, gather=True)


def test_the_whole_space_index_fits_its_estimate(cap_alone: None) -> None:
    # the codes were two (size, edges) int64 temporaries: a 168 MB peak against 26 MB said
    import tracemalloc

    space = Space(("a", "b", "c", "d"), 5)  # 4**10 cells
    tracemalloc.start()
    try:
        codes = space.codes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert codes.shape == (4**10, 10) and peak <= space.size * (32 + space.n_edges), peak
    lex = space._lex_of_index
    assert all(np.array_equal(codes[:, e], lex // w % 4) for e, w in enumerate(space._weights))
