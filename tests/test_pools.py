"""Process pools stopped at once on an interrupt (nb201_flat.pools)."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

from nb201_flat.pools import abandon


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
    assert time.monotonic() - started < 10  # the 60 s task was not waited for
    assert not manager.is_alive() and wakeup._closed
