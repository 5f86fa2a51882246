"""Process pools stopped at once on an interrupt (nb201_flat.pools)."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from nb201_flat.pools import abandon, default_sigterm, reap, terminate


def test_an_abandoned_pool_has_closed_its_wakeup_pipe_before_exit() -> None:
    # Python 3.11's exit hook writes to the pool's wake-up pipe without a lock while the
    # pool's manager thread closes it: an interrupted command printed "Exception ignored ...
    # Bad file descriptor" after "interrupted" when the two met. abandon() ends that thread
    ex = ProcessPoolExecutor(max_workers=1)
    fut = ex.submit(time.sleep, 60)
    deadline = time.monotonic() + 30
    while not fut.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    manager = ex._executor_manager_thread  # type: ignore[attr-defined]
    wakeup = ex._executor_manager_thread_wakeup  # type: ignore[attr-defined]
    assert manager is not None and manager.is_alive()
    started = time.monotonic()
    abandon(ex)
    # the 60 s task was not waited for (abandon's own bounded joins add up to 11 s)
    assert time.monotonic() - started < 30
    assert not manager.is_alive() and wakeup._closed


_FREED_MEMORY_SCRIPT = """
import os
import sys
import numpy as np
from nb201_flat.pools import return_freed_memory

if sys.argv[1] == "set":
    assert return_freed_memory()


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


big = np.ones(3 << 20)  # 24 MiB: its free raises glibc's mmap threshold to 24 MiB
del big
before = rss_mb()
block = np.ones(2 << 20)  # 16 MiB, under that threshold: from the heap unless set
del block
print(rss_mb() - before)
"""


# glibc's own allocator with its defaults: not another one preloaded, nor tuned thresholds
_TUNED = [v for v in os.environ if v.startswith("MALLOC_") or v in ("GLIBC_TUNABLES", "LD_PRELOAD")]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
@pytest.mark.skipif(bool(_TUNED), reason=f"malloc set up otherwise here: {_TUNED}")
def test_return_freed_memory_gives_a_freed_block_back_to_the_system() -> None:
    def kept_mb(mode: str) -> float:
        done = subprocess.run(
            [sys.executable, "-c", _FREED_MEMORY_SCRIPT, mode],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return float(done.stdout.strip())

    assert kept_mb("default") > 12  # glibc's default kept the 16 MiB block resident
    assert kept_mb("set") < 4


def test_default_sigterm_lets_a_forked_worker_die_of_sigterm() -> None:
    # a command's handler, inherited through fork, must not outlive it in a worker: here the
    # handler ignores SIGTERM, so only the reset lets the worker die of it
    ctx = mp.get_context("fork")
    old = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        for reset, dies in ((True, True), (False, False)):
            ready = ctx.Event()
            proc = ctx.Process(target=_sleep_in_worker, args=(reset, ready))
            proc.start()
            assert ready.wait(60)  # the worker has set itself up (or not)
            proc.terminate()
            proc.join(timeout=30 if dies else 1)
            assert (proc.exitcode == -signal.SIGTERM) is dies
            if proc.is_alive():
                proc.kill()
                proc.join()
    finally:
        signal.signal(signal.SIGTERM, old)


def _sleep_in_worker(reset: bool, ready: Any) -> None:
    if reset:
        default_sigterm()
    ready.set()
    time.sleep(60)


def _deaf_to_sigterm(ready: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(60)


def test_reap_kills_a_child_deaf_to_sigterm_instead_of_waiting_for_it() -> None:
    # render_many's cleanup joined its terminated children without a bound: a child that
    # lived on (it had escaped into the parent's code) held the command, and pytest, for ever
    ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_deaf_to_sigterm, args=(ready,), daemon=True)
    proc.start()
    try:
        assert ready.wait(60)
        started = time.monotonic()
        terminate([proc])
        reap([proc])
    finally:
        proc.kill()  # never left running, whatever the test says
    assert not proc.is_alive() and proc.exitcode == -signal.SIGKILL
    assert time.monotonic() - started < 30  # not the child's 60 s
