"""Background writer: order, bounded queue, errors surface on the training thread, snapshots."""

from __future__ import annotations

import threading

import pytest

from nb201_flat.errors import ResultsDBError

torch = pytest.importorskip("torch")
from nb201_flat.train.writer import BackgroundWriter, cpu_snapshot  # noqa: E402


def test_tasks_run_in_order_off_the_calling_thread() -> None:
    seen: list[tuple[int, str]] = []
    with BackgroundWriter() as w:
        for i in range(5):
            w.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"nb201-writer"}


def test_queue_is_bounded() -> None:
    gate = threading.Event()
    started = threading.Event()
    w = BackgroundWriter(max_pending=1)

    def blocker() -> None:
        started.set()
        gate.wait(10)

    w.submit(blocker)  # being written
    started.wait(10)
    w.submit(lambda: None)  # the one pending item
    third = threading.Thread(target=w.submit, args=(lambda: None,))
    third.start()
    third.join(0.3)
    assert third.is_alive()  # a third item waits: memory holds at most two snapshots
    gate.set()
    third.join(10)
    assert not third.is_alive()
    w.close()


def test_error_surfaces_on_next_submit_and_later_writes_are_dropped() -> None:
    done: list[int] = []
    gate = threading.Event()  # the failure waits until the next write is queued behind it

    def fail() -> None:
        gate.wait(10)
        raise ResultsDBError("disk full")

    w = BackgroundWriter()
    w.submit(fail)
    w.submit(lambda: done.append(1))  # after the failure: must not run (order of writes)
    gate.set()
    with pytest.raises(ResultsDBError, match="disk full"):
        w.flush()
    with pytest.raises(ResultsDBError, match="disk full"):
        w.submit(lambda: done.append(2))
    with pytest.raises(ResultsDBError, match="disk full"):  # and at the end: never lost
        w.close()
    assert done == []


def test_error_surfaces_at_close_when_nothing_follows() -> None:
    with pytest.raises(ZeroDivisionError), BackgroundWriter() as w:
        w.submit(lambda: 1 / 0)


def test_training_error_is_not_masked_and_completed_work_is_written() -> None:
    written: list[int] = []

    def train_then_fail() -> None:
        with BackgroundWriter() as w:
            w.submit(lambda: written.append(1))
            w.submit(lambda: 1 / 0)  # the writer fails too: logged, not raised over KeyError
            raise KeyError("training failed")

    with pytest.raises(KeyError):
        train_then_fail()
    assert written == [1]


def test_cpu_snapshot_is_an_independent_copy() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "n": (1, [2.0])}
    snap = cpu_snapshot(state)
    before = {k: v.clone() for k, v in snap["model"].items()}
    buf = snap["optimizer"]["state"][0]["momentum_buffer"].clone()
    with torch.no_grad():
        model.weight.add_(1.0)  # the next training step must not change what is written
    opt.step()
    assert all(torch.equal(snap["model"][k], before[k]) for k in before)
    assert torch.equal(snap["optimizer"]["state"][0]["momentum_buffer"], buf)
    assert snap["n"] == (1, [2.0])
    assert not torch.equal(snap["model"]["weight"], model.weight.detach())
