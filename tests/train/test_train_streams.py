"""Different cells concurrently, one CUDA stream each: on a CPU, the same numbers as in turn."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import write_tiny_cifar10

from nb201_flat.errors import ArgumentError
from nb201_flat.train.modes import FAITHFUL, apply_backend_flags
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.streams import ConcurrentSessions  # noqa: E402
from nb201_flat.train.trainer import DeviceData, Session  # noqa: E402

CELLS = [
    ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3"),
    ("skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3", "avg_pool_3x3", "skip_connect"),
]


def sessions(data: DeviceData, recipe: Recipe) -> list[Session]:
    # different cells, and a different network width for the second: any mix is allowed
    return [
        Session(data, ops, 4, c=4 + 2 * i, n=1, seed=777 + i, recipe=recipe, mode=FAITHFUL)
        for i, ops in enumerate(CELLS)
    ]


def run_concurrently_or_in_turn(device: torch.device, root: Path, *, exact: bool) -> None:
    apply_backend_flags(FAITHFUL, device.type)  # the sessions' mode: no TF32, no autotuning
    data = DeviceData(load_dataset("cifar10", root), device)
    recipe = Recipe(epochs=2, batch_size=32)  # 80 images: 3 steps, the last one partial
    alone = sessions(data, recipe)
    together = ConcurrentSessions(sessions(data, recipe))
    assert len(together.streams) == 2

    def same(a: object, b: object) -> None:
        if exact:
            assert a == b
        else:  # CUDA kernels may round differently from run to run
            assert a == pytest.approx(b, rel=1e-4)

    for _ in range(2):
        got = together.train_epoch()
        want = [s.train_epoch() for s in alone]
        for g, w in zip(got, want, strict=True):
            same(g, w)
    for a, b in zip(alone, together.sessions, strict=True):
        sa, sb = a.model.state_dict(), b.model.state_dict()
        for k in sa:
            if exact:
                assert torch.equal(sa[k], sb[k]), k
            else:
                torch.testing.assert_close(sa[k], sb[k], rtol=1e-3, atol=1e-4)
        assert torch.equal(a.gen.get_state(), b.gen.get_state())  # the same draws
    # evaluation: the same losses and accuracies (the timing column aside)
    for ev_t, ev_a in zip(together.evaluate(), [s.evaluate() for s in alone], strict=True):
        assert ev_t.keys() == ev_a.keys() == {"ori-test"}
        for split in ev_a:
            same(ev_t[split][:2], ev_a[split][:2])


def test_concurrent_sessions_equal_sequential_on_cpu(tmp_path: Path) -> None:
    # On the CPU there are no streams, so this checks the interleaved epoch (begin/step/end
    # per session) against train_epoch; stream synchronisation is checked only by the CUDA
    # test below, on a machine that has a GPU.
    run_concurrently_or_in_turn(torch.device("cpu"), write_tiny_cifar10(tmp_path), exact=True)


@pytest.mark.gpu
def test_concurrent_sessions_on_cuda(tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    run_concurrently_or_in_turn(torch.device("cuda"), write_tiny_cifar10(tmp_path), exact=False)


def test_sessions_must_share_one_copy_of_the_data(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path)
    recipe = Recipe(epochs=1, batch_size=32)
    a, b = (DeviceData(load_dataset("cifar10", root), torch.device("cpu")) for _ in range(2))
    s1 = Session(a, CELLS[0], 4, c=4, n=1, seed=1, recipe=recipe, mode=FAITHFUL)
    s2 = Session(b, CELLS[1], 4, c=4, n=1, seed=1, recipe=recipe, mode=FAITHFUL)
    with pytest.raises(ArgumentError, match="share one DeviceData"):
        ConcurrentSessions([s1, s2])
    with pytest.raises(ArgumentError, match="at least one"):
        ConcurrentSessions([])


def test_sessions_on_several_streams_replay_no_cuda_graphs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inductor's CUDA graphs share one memory pool, reused in the order of a single stream:
    # replayed at once on several streams they could overwrite each other's memory. The
    # refusal happens before any stream exists, so stand-ins on a "cuda" device show it here.
    from types import SimpleNamespace

    from nb201_flat.train import concurrent_run
    from nb201_flat.train.jobs import make_jobs
    from nb201_flat.train.modes import FAST, compile_options

    data = SimpleNamespace(device=torch.device("cuda"))
    graphs, plain = (SimpleNamespace(data=data, cuda_graphs=g) for g in (True, False))
    with pytest.raises(ArgumentError, match="cuda_graphs=False"):
        ConcurrentSessions([plain, graphs])  # type: ignore[list-item]
    # what --concurrent K builds: compiled (in fast mode, on CUDA) without graph capture
    built: list[dict[str, object]] = []
    monkeypatch.setattr(concurrent_run, "Session", lambda *a, **kw: built.append(kw))
    jobs = make_jobs([11472, 6111], dataset="cifar10", epochs=1, seeds=[0], data_root=".",
                     db_path=str(tmp_path / "r.sqlite"), mode="fast")  # fmt: skip
    concurrent_run.sessions_for(jobs, data)  # type: ignore[arg-type]
    assert [kw["cuda_graphs"] for kw in built] == [False, False]
    assert {kw["mode"] for kw in built} == {FAST}
    opts = compile_options(FAST, "cuda", cuda_graphs=False)
    assert opts is not None and opts["mode"] == "default"  # compiled all the same
