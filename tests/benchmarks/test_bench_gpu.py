"""bench-gpu: its CPU-testable logic (cells, ratios, the no-CUDA exit, one tiny CPU pass)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks import bench_gpu as B
from nb201_flat.space import NB201
from nb201_flat.train import costs


def test_median_cost_cell_is_the_median_of_connected_cells() -> None:
    idx = B.median_cost_cell()
    assert NB201.connected[idx]
    f = {i: costs.flops_m(NB201.arch(i).ops, n_nodes=4) for i in range(NB201.size)}
    conn = [i for i in range(NB201.size) if NB201.arch(i).is_connected]
    below = sum(f[i] < f[idx] for i in conn)
    above = sum(f[i] > f[idx] for i in conn)
    assert below <= len(conn) // 2 and above <= len(conn) // 2
    assert set(B.cells().values()) == {11472, 6111, idx}


def test_ratio_and_nb201_times(tmp_path: Path) -> None:
    assert B.ratio_to_nb201(2000.0, 1.0) == 10.0
    assert B.ratio_to_nb201(2000.0, 4.0) == 2.5
    assert B.ratio_to_nb201(None, 1.0) is None and B.ratio_to_nb201(float("nan"), 1.0) is None
    rows = [
        (5, "cifar10-valid", 200, np.nan, "time_s", 3000.0),
        (5, "cifar10-valid", 200, 0, "time_s", 1.0),  # a per-seed row: not the mean
        (5, "cifar100", 200, np.nan, "time_s", 9.0),
        (5, "cifar10-valid", 12, np.nan, "time_s", 7.0),
        (6, "cifar10-valid", 200, np.nan, "accuracy", 90.0),
    ]
    df = pd.DataFrame(rows, columns=["index", "dataset", "epochs", "seed", "metric", "value"])
    df.to_csv(tmp_path / "t.csv.gz", index=False)
    assert B.nb201_times(tmp_path / "t.csv.gz") == {5: 3000.0}
    assert B.nb201_times(tmp_path / "missing.csv.gz") == {}


def test_no_cuda_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu.json"
    assert B.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA" in err and "nothing was written" in err
    assert not out.exists()


def test_tiny_cpu_pass_exercises_every_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from nb201_flat.train import modes

    torch.set_num_threads(1)
    released: list[int] = []  # after each measurement: its compiled graphs and CUDA graph pools
    monkeypatch.setattr(modes, "release_compiled", lambda: released.append(1))
    snapshots: list[dict] = []
    res = B.run(
        torch.device("cpu"), c=2, n=1, batch=8, steps=1, warmup=1, n_train=16, ks=(1, 2),
        budget_s=600, times={11472: 2000.0}, eval_batches=(4, 16), n_eval=16,
        on_update=lambda r: snapshots.append(json.loads(json.dumps(r))),
    )  # fmt: skip
    assert set(res["cells"]) == {"resnet_like", "best_cifar10", "median_cost"}
    r = res["cells"]["resnet_like"]
    for mode in ("faithful", "fast_nocompile", "fast"):
        assert r[mode]["timed_images"] == 8 and r[mode]["images_per_s"] > 0
        assert r[mode]["s_per_epoch"] == pytest.approx(B.N_TRAIN / r[mode]["images_per_s"])
        assert r[mode]["ratio_to_nb201"] == pytest.approx(10.0 / r[mode]["s_per_epoch"])
        assert r[mode]["compiled"] is False  # torch.compile is for CUDA only
        assert r[mode]["cuda_graphs"] is False
        assert r[mode]["graphs_compiled"] == r[mode]["eager_fallbacks"] == 0
        assert r[mode]["cudagraph_skips"] == 0
    assert r["faithful"]["mode_tag"] == "faithful" and r["fast"]["mode_tag"] == "fast-bf16"
    assert r["fast_nocompile"]["mode_tag"] == "fast-bf16-tf32-nocompile"
    # written after every measurement: 3 cells x 3 modes, 2 Ks x 3 sweeps (grouped,
    # concurrent, processes), grouped's and concurrent's ratios to one network, streams, eval,
    # grouped fast at the largest K, end
    assert len(snapshots) == 9 + 6 + 2 + 2 + 1 + 1
    assert [s["complete"] for s in snapshots] == [False] * 20 + [True]
    assert len(released) == 17  # what each in-process measurement compiled
    first = snapshots[0]["cells"]
    assert "faithful" in first["resnet_like"] and "faithful" not in first["best_cifar10"]
    assert snapshots[-1] == json.loads(json.dumps(res))
    grown = [len(s.get("grouped", {}).get("runs", [])) for s in snapshots]
    assert grown == sorted(grown) and grown[-1] == 2  # a sweep's Ks appear as they are measured
    assert res["cells"]["best_cifar10"]["faithful"]["ratio_to_nb201"] is None  # no NB201 time
    runs = res["grouped"]["runs"]
    assert [g["k"] for g in runs] == [1, 2] and runs[0]["ratio_to_k1"] == 1.0
    # many networks against one plain network, not against a vmapped K = 1
    for g in runs:
        ratio = g["aggregate_images_per_s"] / r["faithful"]["images_per_s"]
        assert g["ratio_to_single"] == pytest.approx(ratio)
    assert res["grouped"]["single"] == "cells.resnet_like.faithful (one network of the cell)"
    assert res["peak_gpu_mem_mb"] is None  # CPU: no GPU memory to report
    assert res["peak_gpu_reserved_mb"] is None
    st = res["streams"]
    assert st["cells"] == list(B.cells().values())
    assert st["streams_images_per_s"] > 0 and st["in_turn_images_per_s"] > 0
    ratio = st["streams_images_per_s"] / st["in_turn_images_per_s"]
    assert st["ratio_streams_to_in_turn"] == pytest.approx(ratio)
    assert [r["eval_batch"] for r in res["eval"]["runs"]] == [4, 16]
    assert all(r["images_per_s"] > 0 for r in res["eval"]["runs"])
    # many networks through the user-facing paths: --group-seeds K in both modes, --concurrent K
    assert "error" not in repr(res), res  # every measurement ran
    assert runs[0]["mode_tag"] == "faithful"
    # fast grouped at the largest K only, against one network of its cell in fast mode
    gf = res["grouped_fast"]
    assert gf["cell"] == B.GROUPED_CELL == res["cells"]["resnet_like"]["index"]
    assert gf["mode"] == "fast" and gf["option"] == "--group-seeds K"
    (fast,) = gf["runs"]
    assert fast["k"] == 2 and fast["mode_tag"] == "fast-bf16" and "ratio_to_k1" not in fast
    assert fast["ratio_to_single_fast"] == pytest.approx(
        fast["aggregate_images_per_s"] / r["fast"]["images_per_s"]
    )
    assert gf["ratio_to"] == "cells.resnet_like.fast (one network of the cell, not grouped)"
    conc = res["concurrent"]["runs"]
    assert [g["k"] for g in conc] == [1, 2] and res["concurrent"]["option"] == "--concurrent K"
    assert [g["cells"] for g in conc] == [B.concurrent_cells(1), B.concurrent_cells(2)]
    assert conc[0]["ratio_to_k1"] == 1.0 and all(g["aggregate_images_per_s"] > 0 for g in conc)
    # against one plain session of the first cell, not a concurrent K = 1
    plain = res["concurrent"]["single"]
    assert plain["index"] == B.concurrent_cells(1)[0] and plain["mode_tag"] == "faithful"
    for g in conc:
        assert g["ratio_to_single"] == pytest.approx(
            g["aggregate_images_per_s"] / plain["images_per_s"]
        )
    # the processes come after the compiled cells (the first target)
    first_proc = next(i for i, s in enumerate(snapshots) if s.get("processes", {}).get("runs"))
    assert all("fast" in c for c in snapshots[first_proc]["cells"].values())
    # --jobs-per-device K: K worker processes, the same cells as --concurrent K
    procs = res["processes"]
    assert procs["option"] == "--jobs-per-device K" and procs["mps"] is False
    assert [g["k"] for g in procs["runs"]] == [1, 2]
    assert [g["cells"] for g in procs["runs"]] == [g["cells"] for g in conc]
    ratio = procs["runs"][1]["aggregate_images_per_s"] / procs["runs"][0]["aggregate_images_per_s"]
    assert procs["runs"][0]["ratio_to_k1"] == 1.0
    assert procs["runs"][1]["ratio_to_k1"] == pytest.approx(ratio)
    assert procs["runs"][0]["peak_mem_mb"] is None  # CPU
    # a spent budget skips measurements and says so
    res = B.run(torch.device("cpu"), c=2, n=1, batch=8, steps=1, warmup=0, n_train=8,
                ks=(1,), budget_s=0.0, times={})  # fmt: skip
    assert "skipped" in res["cells"]["resnet_like"]["fast"]
    assert "skipped" in res["cells"]["median_cost"]["fast_nocompile"]
    assert "skipped" in res["grouped"]["runs"][0]
    assert "skipped" in res["streams"] and "skipped" in res["eval"]
    assert "skipped" in res["grouped_fast"]["runs"][0] and "skipped" in res["concurrent"]["runs"][0]
    assert res["processes"]["runs"][0]["skipped"] == "time budget of 0 s spent"
    assert "skipped" in res["concurrent"]["single"]
    assert res["grouped_fast"]["runs"][0]["ratio_to_single_fast"] is None
    assert res["grouped"]["runs"][0]["ratio_to_single"] is None
    assert len(released) == 17  # nothing measured, nothing released


def test_bench_builds_what_the_cli_trains_and_records_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nb201_flat.train import modes
    from nb201_flat.train.modes import FAST

    released: list[int] = []
    monkeypatch.setattr(modes, "release_compiled", lambda: released.append(1))

    jobs = B.bench_jobs([11472, 6111], [0], "fast", c=2, n=1, batch=8)
    assert [j.index for j in jobs] == [11472, 6111] and {j.train_mode for j in jobs} == {FAST}
    assert {j.key.space for j in jobs} == {"nb201@C2N1#fast-bf16#recipe:batch_size=8"}
    cells = B.concurrent_cells(32)
    assert len(set(cells)) == 32 and cells[:4] == B.concurrent_cells(4)
    assert all(NB201.connected[i] for i in cells)

    def broken() -> dict:
        raise RuntimeError("inductor cannot compile this")

    assert B.guarded(broken) == {"error": "RuntimeError: inductor cannot compile this"}
    # a failed K is recorded as such and has no ratio; the others keep theirs
    calls = iter(
        [{"aggregate_images_per_s": 10.0}, RuntimeError("oom"), {"aggregate_images_per_s": 30.0}]
    )

    def measure(k: int) -> dict:
        r = next(calls)
        if isinstance(r, Exception):
            raise r
        return dict(r)

    runs = B.sweep(measure, (1, 4, 16), lambda: False, 60.0)
    assert runs[0]["ratio_to_k1"] == 1.0 and runs[2]["ratio_to_k1"] == 3.0
    assert runs[1] == {"error": "RuntimeError: oom", "k": 4, "ratio_to_k1": None}
    assert len(released) == 3  # a failed measurement's compiled graphs are released too


def test_a_workers_failure_is_every_unmeasured_ks_error_not_a_number() -> None:
    """A worker process that cannot train (here: CUDA asked of a machine without it, or a
    device torch does not know) fails every K it was part of; the others are let go."""
    torch = pytest.importorskip("torch")
    bad = "meta" if torch.cuda.is_available() else "cuda"
    runs = B.measure_processes((1, 2), device_type=bad, c=2, n=1, batch=4, steps=1, warmup=0,
                               n_train=8, timeout_s=60)  # fmt: skip
    assert [r["k"] for r in runs] == [1, 2]
    for r in runs:
        assert r["error"].startswith("worker ") and r["ratio_to_k1"] is None, r
        assert "aggregate_images_per_s" not in r


def test_a_worker_killed_fails_its_ks_at_once_not_at_the_timeout() -> None:
    """A worker that dies without a word (killed, out of memory) is seen by its exit code."""
    import multiprocessing as mp
    import signal
    import threading
    import time

    pytest.importorskip("torch")

    def kill_one() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kids = mp.active_children()
            if kids:
                os.kill(kids[0].pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    t0 = time.monotonic()
    runs = B.measure_processes((1, 2), device_type="cpu", c=2, n=1, batch=4, steps=1, warmup=0,
                               n_train=8, timeout_s=120)  # fmt: skip
    killer.join()
    assert time.monotonic() - t0 < 60
    assert [r["k"] for r in runs] == [1, 2]
    for r in runs:
        assert "exited with code -9" in r["error"] and "aggregate_images_per_s" not in r
    assert not mp.active_children()  # the others let go and ended


def test_the_processes_sweep_checks_the_budget_before_each_k() -> None:
    pytest.importorskip("torch")
    seen: list[list[dict[str, Any]]] = []
    spent = iter([False, True])
    runs = B.measure_processes(
        (1, 2), device_type="cpu", c=2, n=1, batch=4, steps=1, warmup=0, n_train=8,
        timeout_s=120, over_budget=lambda: next(spent), skipped="budget gone",
        on_run=lambda r: seen.append([dict(x) for x in r]),
    )  # fmt: skip
    assert runs[0]["aggregate_images_per_s"] > 0 and runs[0]["ratio_to_k1"] == 1.0
    assert runs[1] == {"k": 2, "skipped": "budget gone", "ratio_to_k1": None}
    assert [len(r) for r in seen] == [1, 2]  # reported after each K


def _result(**over: Any) -> dict[str, Any]:
    """A gpu.json as a complete run writes it, with round numbers."""
    one = {"images_per_s": 25_000.0, "s_per_epoch": 1.0, "warmup_s": 2.0, "peak_mem_mb": 10.0,
           "peak_reserved_mb": 20.0}  # fmt: skip
    res: dict[str, Any] = {
        "complete": True, "gpu": "G", "torch": "T", "cuda": "C", "cudnn": 1, "elapsed_s": 9.0,
        "machine": {"git_commit": "abc"},
        "settings": {"c": 16, "n": 5, "batch": 256, "timed_steps": 20, "warmup_steps": 3,
                     "nb201_time_source": "src"},
        "cells": {
            "resnet_like": {"index": 11472, "nb201_time_s": 2400.0,
                            **{m: dict(one, ratio_to_nb201=12.0) for m in B.MODES}},
            "best_cifar10": {"index": 6111, "nb201_time_s": 1600.0,
                             **{m: dict(one, ratio_to_nb201=8.0) for m in B.MODES}},
            "median_cost": {"index": 1, "nb201_time_s": None, "faithful": dict(one),
                            "fast_nocompile": {"skipped": "time budget of 9 s spent"},
                            "fast": {"error": "RuntimeError: no compiler"}},
        },
        "grouped": {"runs": [{"k": 1, "aggregate_images_per_s": 1.0, "ratio_to_k1": 1.0,
                              "ratio_to_single": 0.5},
                             {"k": 4, "aggregate_images_per_s": 9.0, "ratio_to_k1": 9.0,
                              "ratio_to_single": 4.5}]},
        "concurrent": {"runs": [{"k": 1, "aggregate_images_per_s": 1.0, "ratio_to_k1": 1.0,
                                 "ratio_to_single": 0.5},
                                {"k": 4, "skipped": "time budget of 9 s spent"}]},
        "streams": {"skipped": "time budget of 9 s spent"},
        "eval": {"index": 11472, "runs": [{"eval_batch": 256, "images_per_s": 5.0}]},
        "peak_gpu_mem_mb": 10.0, "peak_gpu_reserved_mb": 20.0,
    }  # fmt: skip
    res.update(over)
    return res


def test_the_summary_gives_each_target_its_verdict_from_the_file_alone() -> None:
    text = B.summary(_result())
    assert "| resnet_like | 11472 | fast | 25,000 | 1.000 | 12.00 | 12.00 | 10 / 20 | 2.0 |" in text
    assert "- resnet_like (11472): 12.00x, met" in text
    assert "- best_cifar10 (6111): 8.00x, not met" in text
    # a failed or skipped measurement is named, never a number, and its target not measured
    assert "- median_cost (1): not measured" in text
    assert "| median_cost | 1 | fast | error: RuntimeError: no compiler |" in text
    assert "| median_cost | 1 | fast_nocompile | skipped: time budget of 9 s spent |" in text
    # many networks: against one plain network where K = 1 is not one
    assert "- --group-seeds K (faithful): 4.50x at K = 4, met" in text
    assert "- --concurrent K (faithful): 0.50x at K = 1, not met" in text
    assert "- --jobs-per-device K (faithful): not measured" in text
    assert "| --jobs-per-device K (faithful) | | absent from this file |" in text
    assert "- streams: skipped: time budget of 9 s spent" in text
    assert "; complete;" in text and "Largest peak of GPU memory: 10 MB allocated, 20 MB" in text
    # a run stopped at its hard limit: said, and its peaks taken from what it measured
    stopped = B.summary(_result(complete=False, stopped="hard limit", peak_gpu_mem_mb=None))
    assert "; incomplete (hard limit);" in stopped and "10 MB allocated" in stopped
    assert "rehearsal" not in text
    # a file whose run measured no plain network for --concurrent (26c2504's): no verdict
    old = _result()
    del old["concurrent"]["runs"][0]["ratio_to_single"]
    assert ("- --concurrent K (faithful): no plain network measured to hold it against, no "
            "verdict (1.00x its own K = 1 at K = 1)") in B.summary(old)  # fmt: skip
    # fast mode measured without NB201's table: measured, and no verdict
    bare = _result()
    bare["cells"]["resnet_like"]["fast"]["ratio_to_nb201"] = None
    assert "- resnet_like (11472): measured; no NB201 time to compare with" in B.summary(bare)
    # a compiler's error spans lines and may hold a |: one table cell all the same
    bad = _result()
    bad["cells"]["resnet_like"]["fast"] = {"error": "Failed: raised:\nRuntimeError: a | b\n\nSet X"}
    rows = [
        ln for ln in B.summary(bad).splitlines() if ln.startswith("| resnet_like | 11472 | fast |")
    ]
    assert rows == [
        r"| resnet_like | 11472 | fast | error: Failed: raised: RuntimeError: a \| b Set X | | | | | |"
    ]
    cpu = B.summary(_result(settings={"device": "cpu"}))
    assert "A rehearsal on cpu at toy sizes: no number here is a GPU measurement" in cpu


def test_summary_of_a_file_that_is_no_gpu_json_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "gpu.json"
    good.write_text(json.dumps(_result()))
    assert B.main(["--summary", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(B.summary(_result()))
    assert out.endswith(f"by `python -m benchmarks.bench_gpu --summary {good}`.\n")
    for name, text in [("bad.json", "{"), ("list.json", "[1]"), ("cells.json", '{"cells": 3}')]:
        (tmp_path / name).write_text(text)
        assert B.main(["--summary", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot read" in err and "gpu.json" in err
    assert B.main(["--summary", str(tmp_path / "missing.json")]) == 2


def test_a_cpu_rehearsal_never_takes_the_gpu_results_place(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("torch")
    assert B.main(["--rehearse-on-cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err


# -- benchmarks/device_gpu.sh, the prepared command for a lent GPU machine ---------------------
FAKE = {
    # each records its arguments; timeout drops its own options and runs the rest
    "timeout": 'echo "timeout $*" >>"$LOG"\n'
    'while [ "${1#-}" != "$1" ]; do case $1 in -s|-k) shift 2 ;; *) shift ;; esac; done\n'
    'shift\nexec "$@"\n',
    "nvidia-smi": 'echo "nvidia-smi $*" >>"$LOG"\n',
    # gpu.json as mkstemp would leave it: private
    "python3": 'echo "python3 $*" >>"$LOG"\n'
    'while [ $# -gt 1 ]; do [ "$1" = --out ] && { touch "$2"; chmod 600 "$2"; }; shift; done\n',
}
GPU_MARK = "@pytest.mark." + "gpu"  # split: the script greps the tests for it, this file too
CALL_S = 595  # the device call's timeout_s (the script's header)


def _device_script(tmp_path: Path, *, carry: bool, **extra: str) -> tuple[int, str, list[str]]:
    """``benchmarks/device_gpu.sh`` in a copy of the repository's layout with fake tests,
    ``python3``, ``nvidia-smi`` and ``timeout``: its exit status, stderr and the calls."""
    import os
    import shutil
    import subprocess

    root = tmp_path / "repo"
    (root / "benchmarks").mkdir(parents=True)
    shutil.copy(Path(B.__file__).parent / "device_gpu.sh", root / "benchmarks")
    shutil.copy(Path(B.__file__).parents[1] / "Makefile", root)
    tests = root / "tests" / "train"
    tests.mkdir(parents=True)
    for name, text in [("test_train_gpu.py", GPU_MARK), ("test_train_streams.py", GPU_MARK),
                       ("test_train_cpu.py", "")]:  # fmt: skip
        (tests / name).write_text(text + "\n")
    if carry:
        (root / ".device-carry" / "nb201").mkdir(parents=True)
        (root / ".device-carry" / "nb201" / "nb201_tidy.csv.gz").write_bytes(b"")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, body in FAKE.items():
        (bin_ / name).write_text("#!/usr/bin/env bash\n" + body)
        (bin_ / name).chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    env = {k: v for k, v in os.environ.items() if k not in ("NB201_FLAT_SHARED_DATA", "REHEARSE")}
    env.update(PATH=f"{bin_}:{os.environ['PATH']}", LOG=str(log), OUT=str(tmp_path / "out"))
    env.update(extra)
    proc = subprocess.run(["bash", str(root / "benchmarks" / "device_gpu.sh")], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return proc.returncode, proc.stderr, log.read_text().splitlines()


def test_the_device_script_refuses_to_run_without_nb201s_table(tmp_path: Path) -> None:
    """Without ``--prepare`` (or the carry) every ratio to NB201 would be null: one line and
    exit 2 before anything runs on the lent machine."""
    rc, err, calls = _device_script(tmp_path, carry=False)
    assert rc == 2 and err.count("\n") == 1 and "--prepare" in err and ".device-carry" in err
    assert calls == [] and not (tmp_path / "out").exists()
    # a rehearsal measures nothing: it runs without the table
    rc, err, calls = _device_script(tmp_path / "rehearsal", carry=False, REHEARSE="1")
    assert rc == 0 and any("--rehearse-on-cpu" in c for c in calls), err


def test_the_device_script_fits_its_call_and_stops_pytest_so_it_reports(tmp_path: Path) -> None:
    """Each stage bounded, all of them inside the device call (no time passes here: the tests
    get all that is left), the benchmark's budget well inside its stage."""
    rc, err, calls = _device_script(tmp_path, carry=True)
    assert rc == 0, err
    stages = [c.split() for c in calls if c.startswith("timeout") and " nvidia-smi" not in c]
    bench, tests = stages
    # the benchmark: stopped well after its own budget stops new measurements
    (run,) = [c.split() for c in calls if c.startswith("python3 -m benchmarks.bench_gpu")]
    budget = float(run[run.index("--budget-s") + 1])
    assert bench[:2] == ["timeout", "-k"]
    kill, stop = int(bench[2]), int(bench[3])
    assert stop - budget >= 60  # python, torch and the data first; then the last measurement
    # the tests: SIGINT (pytest still prints what failed), then what is left of DEVICE_S
    assert tests[:5] == ["timeout", "-s", "INT", "-k", "10"]
    end = int(tests[5]) + 10  # the tests' stop and kill, from the start (no time passed here)
    assert CALL_S - 20 <= end <= CALL_S - 10  # room for the shell, the chmod, the transfers
    # >= 2 min of tests even after a full benchmark stage and 30 s of nvidia-smi and torch
    assert end - 30 - (stop + kill) - 10 >= 120
    # the cheap streams test first, then every file holding a gpu test, no other
    files = [w for w in tests if w.startswith("tests/")]
    assert files == ["tests/train/test_train_streams.py", "tests/train/test_train_gpu.py"]
    # what comes back is readable whatever the umask (the benchmark's file was 0600)
    assert (tmp_path / "out" / "gpu.json").stat().st_mode & 0o044 == 0o044
    rc, err, calls = _device_script(tmp_path / "late", carry=True, DEVICE_S="5")
    assert rc != 0 and not any("-m pytest" in c for c in calls)


def test_the_device_script_splits_into_two_calls(tmp_path: Path) -> None:
    """STAGE=bench: the benchmark alone with most of the call; STAGE=tests: the tests alone
    with all of it (they needed ~320 s on an H200, the benchmark more than 360 s)."""
    rc, err, calls = _device_script(tmp_path / "bench", carry=True, STAGE="bench")
    assert rc == 0, err
    assert not any("-m pytest" in c for c in calls)
    (run,) = [c.split() for c in calls if c.startswith("python3 -m benchmarks.bench_gpu")]
    budget = float(run[run.index("--budget-s") + 1])
    limit = float(run[run.index("--limit-s") + 1])
    (stage,) = [c.split() for c in calls if c.startswith("timeout -k 5")]
    stop = int(stage[3])
    assert 580 - 15 - 5 <= stop <= 580 - 15  # what is left of DEVICE_S (no time passes here)
    assert limit == stop - 35 and budget == limit - 90
    # the budget and limit follow DEVICE_S: a shorter call still stops itself, marked
    rc, err, calls = _device_script(tmp_path / "short", carry=True, STAGE="bench", DEVICE_S="400")
    (run,) = [c.split() for c in calls if c.startswith("python3 -m benchmarks.bench_gpu")]
    (stage,) = [c.split() for c in calls if c.startswith("timeout -k 5")]
    assert int(stage[3]) <= 400 - 15 and float(run[run.index("--limit-s") + 1]) < int(stage[3])
    # too short for any budget: no negative one (refused by the benchmark), one measurement
    rc, err, calls = _device_script(tmp_path / "shorter", carry=True, STAGE="bench", DEVICE_S="120")
    (run,) = [c.split() for c in calls if c.startswith("python3 -m benchmarks.bench_gpu")]
    assert float(run[run.index("--budget-s") + 1]) == 0 < float(run[run.index("--limit-s") + 1])
    rc, err, calls = _device_script(tmp_path / "none", carry=True, STAGE="bench", DEVICE_S="40")
    assert rc == 2 and "DEVICE_S=40 leaves the benchmark no time" in err
    assert not any("bench_gpu" in c for c in calls)
    rc, err, calls = _device_script(tmp_path / "tests", carry=False, STAGE="tests", DEVICE_S="300")
    assert rc == 0, err  # the tests need no table
    assert not any("bench_gpu" in c for c in calls)
    (tests,) = [c.split() for c in calls if c.startswith("timeout") and "-m pytest" in c]
    assert tests[:6] == ["timeout", "-s", "INT", "-k", "10", str(300 - 10)]
    assert "--log-level" in tests and tests[tests.index("--log-level") + 1] == "INFO"
    rc, err, calls = _device_script(tmp_path / "bad", carry=True, STAGE="both")
    assert rc == 2 and err.count("\n") == 1 and "STAGE" in err and calls == []
    # a second call's alternative to the tests: the profile, bounded by the call
    rc, err, calls = _device_script(tmp_path / "profile", carry=False, STAGE="profile",
                                    DEVICE_S="300")  # fmt: skip
    assert rc == 0, err
    (prof,) = [c.split() for c in calls if c.startswith("timeout") and "profile_gpu" in c]
    assert prof[:3] == ["timeout", "-k", "5"] and int(prof[3]) <= 300 - 10
    assert not any("bench_gpu" in c or "-m pytest" in c for c in calls)


def test_the_hard_limit_stops_a_measurement_and_keeps_what_was_written(tmp_path: Path) -> None:
    """A measurement still running at --limit-s (a cold compilation begun inside the budget)
    is stopped: exit 3, one line, and the file keeps what was measured, marked "stopped"."""
    pytest.importorskip("torch")
    out = tmp_path / "gpu.json"
    # run() stands in: one measurement written, then one that never ends
    script = (
        "import sys, time\n"
        "import benchmarks.bench_gpu as B\n"
        "def run(device, *, budget_s, on_update, **sizes):\n"
        "    on_update({'complete': False, 'elapsed_s': 0.1, 'cells': {'a': {'x': 1.0}}})\n"
        "    time.sleep(60)\n"
        "B.run = run\n"
        f"sys.exit(B.main(['--rehearse-on-cpu', '--out', {str(out)!r}, '--budget-s', '0.5', "
        "'--limit-s', '2']))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True,
                          text=True, timeout=50)  # fmt: skip
    assert done.returncode == 3, done.stderr
    stopped = [ln for ln in done.stderr.splitlines() if "hard limit" in ln]
    assert len(stopped) == 1 and "keeps what was measured" in stopped[0]
    kept = json.loads(out.read_text())
    assert kept["cells"] == {"a": {"x": 1.0}} and kept["complete"] is False
    assert kept["stopped"].startswith("hard limit of 2 s reached during a measurement")
    # a budget at or past the limit could never be spent: refused before anything runs
    assert B.main(["--rehearse-on-cpu", "--out", str(tmp_path / "x.json"), "--budget-s", "500",
                   "--limit-s", "470"]) == 2  # fmt: skip
    assert not (tmp_path / "x.json").exists()
