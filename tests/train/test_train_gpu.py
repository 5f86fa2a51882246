"""The CUDA-only paths of the training backend, checked on a GPU (``pytest -m gpu``).

What no CPU run can show: faithful mode bitwise reproducible on CUDA (cuDNN determinism, device
generators, kill and resume), no host synchronisation inside a training step (compiled CUDA
graphs included), and fast mode's compiled, channels-last networks -- single and grouped
(vmap) with CUDA graphs, on concurrent CUDA streams without them -- computing what eager fp32
computes, within bf16 rounding. Each claim runs on ``cpu`` as well where its logic can (without the CUDA-only
assertions), so CI proves the test itself right; the ``cuda`` variants carry the ``gpu``
marker and skip without a device.

The GPU run has a hard time limit, and compilation dominates it: every test uses the same
tiny networks (C=4, N=1) and batch shapes, and dynamo's cache is kept between the tests of
this module (each new :class:`Session` is a new network object, so the tests stay
independent; only the compilation is shared) and cleared at its end.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from train_helpers import Crash, crash_after, write_tiny_cifar10

from nb201_flat.errors import ArgumentError
from nb201_flat.train.modes import FAITHFUL, FAST, TrainMode, apply_backend_flags
from nb201_flat.train.recipe import Recipe

torch = pytest.importorskip("torch")
from host_reads import HostReads  # noqa: E402

from nb201_flat.train.data import DATASETS, DataSplits  # noqa: E402
from nb201_flat.train.grouped import GroupedSession  # noqa: E402
from nb201_flat.train.jobs import make_jobs  # noqa: E402
from nb201_flat.train.streams import ConcurrentSessions  # noqa: E402
from nb201_flat.train.trainer import DeviceData, Session, train  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
CUDA = pytest.param(
    "cuda",
    marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(
            not HAS_CUDA, reason="needs a CUDA device (torch.cuda.is_available() is False)"
        ),
    ],
    id="cuda",
)
DEVICES = ["cpu", CUDA]

OPS = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3")
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
OPS_B = ("skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3", "avg_pool_3x3", "skip_connect")
C = 4
SEEDS = [777, 888, 999]
BATCH = 32
N_FULL = 3 * BATCH  # three full steps an epoch: one graph shape
N_PARTIAL = 3 * BATCH + 16  # and a partial last batch of 16: a second shape
N_EVAL = 24  # below the evaluation batch (1024): one evaluation shape
RECIPE = Recipe(epochs=4, batch_size=BATCH)

# bf16 keeps 8 mantissa bits (relative rounding 2**-8 = 0.4 %); a few steps of a bf16 network
# against fp32 (or against another kernel order) agree to a few roundings, never bitwise
BF16 = {"rtol": 3e-2, "atol": 3e-2}
BF16_LOSS = 3e-2  # relative, on a mean cross-entropy (~2.3 here)
# relative error of a weight update (norm of the difference over the norm of the update,
# all parameters together): BatchNorm's backward subtracts nearly equal terms, so bf16 rounding
# of the activations moves one step's update of these tiny networks by ~25 % (measured on a
# CPU: 0.26 fast vs faithful); an update with the right sizes in the wrong places (a layout
# bug) is off by ~140 %, a zero or sign-flipped one by 100 % or 200 %
UPDATE_TOL = 0.6


# -- shared state: backend flags, sync debug mode, dynamo's caches ----------------------------
@pytest.fixture(autouse=True)
def _restore_sync_debug_mode() -> Iterator[None]:
    yield  # the backend flags: conftest's _restore_backend_flags
    if HAS_CUDA:
        torch.cuda.set_sync_debug_mode("default")


@pytest.fixture(autouse=True, scope="module")
def _fresh_dynamo_after_module() -> Iterator[None]:
    # compile_network raises dynamo's recompile limits for every network it compiles; put
    # them back, and drop the compiled graphs and CUDA graph trees of this module's networks
    # (only CUDA compiles: a CPU run need not import dynamo at all)
    if not HAS_CUDA:
        yield
        return
    import torch._dynamo

    config = torch._dynamo.config
    names = ("recompile_limit", "accumulated_recompile_limit")  # torch >= 2.6's names
    names += ("cache_size_limit", "accumulated_cache_size_limit")  # and the older ones
    before = {k: getattr(config, k) for k in names if hasattr(config, k)}
    yield
    for k, v in before.items():
        setattr(config, k, v)
    torch._dynamo.reset()


def compile_counters() -> Any:
    """dynamo's and inductor's event counters (imported only when needed: dynamo is heavy)."""
    from torch._dynamo.utils import counters

    return counters


# -- helpers -----------------------------------------------------------------------------------
def synthetic(device: str, n_train: int, *, seed: int = 0) -> DeviceData:
    """Random CIFAR-size images resident on ``device``, with ``N_EVAL`` evaluated test images."""
    rng = np.random.default_rng(seed)
    n = n_train + N_EVAL
    x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    splits = DataSplits(
        DATASETS["cifar10"],
        x[:n_train],
        y[:n_train],
        {"test": (x[n_train:], y[n_train:])},
        {"ori-test": ("test", np.arange(N_EVAL))},
    )
    return DeviceData(splits, torch.device(device))


def session(
    data: DeviceData,
    mode: TrainMode,
    *,
    seed: int = SEEDS[0],
    ops: Any = OPS,
    cuda_graphs: bool = True,
) -> Session:
    return Session(
        data, ops, 4, c=C, n=1, seed=seed, recipe=RECIPE, mode=mode, cuda_graphs=cuda_graphs
    )


def params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.detach().float().cpu().clone() for k, p in model.named_parameters()}


def update_error(
    init: Mapping[str, torch.Tensor],
    got: Mapping[str, torch.Tensor],
    want: Mapping[str, torch.Tensor],
) -> float:
    """Relative error of a weight update, over all parameters of ``init`` at once:
    ``|(got - init) - (want - init)| / |want - init|``.

    Per tensor it is no measure: a bias feeding a BatchNorm has a zero gradient in exact
    arithmetic (the normalisation removes it), so its update is rounding noise either way.
    """
    d_got = torch.cat([(got[k].float().cpu() - w0).flatten() for k, w0 in init.items()])
    d_want = torch.cat([(want[k].float().cpu() - w0).flatten() for k, w0 in init.items()])
    return float((d_got - d_want).norm() / d_want.norm())


def assert_same_updates(error: float, what: str) -> None:
    assert error < UPDATE_TOL, f"{what}: weight updates {error:.3f} apart (relative)"


def assert_close_loss(got: float, want: float, what: str) -> None:
    assert math.isfinite(got), f"{what}: loss {got}"
    assert got == pytest.approx(want, rel=BF16_LOSS), f"{what}: loss {got} vs {want}"


class SyncProbe:
    """Between :meth:`start` and :meth:`stop`, a host synchronisation is an error.

    On CUDA, ``torch.cuda.set_sync_debug_mode("error")``: an operation that synchronises
    implicitly (``.item()``, a device-to-host copy, a data-dependent size) raises. On a CPU,
    which cannot synchronise, the operators that would synchronise on CUDA are recorded
    (:class:`HostReads`, which cannot see device-to-host copies) and must be none.
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.reads = HostReads()

    def start(self) -> None:
        if self.cuda:
            torch.cuda.set_sync_debug_mode("error")
        else:
            self.reads.__enter__()

    def stop(self) -> None:
        if self.cuda:
            torch.cuda.set_sync_debug_mode("default")
        else:
            self.reads.__exit__(None, None, None)

    def check(self, what: str) -> None:
        assert not self.reads.seen, f"{what}: host reads {self.reads.seen}"


# -- 1. faithful mode is bitwise reproducible on CUDA ------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_faithful_runs_are_bitwise_reproducible(device: str) -> None:
    apply_backend_flags(FAITHFUL, device)  # TF32 off, deterministic cuDNN, no benchmark
    data = synthetic(device, N_PARTIAL)
    runs = []
    for _ in range(2):
        sess = session(data, FAITHFUL)
        epochs = [sess.train_epoch() for _ in range(2)]
        state = {k: v.cpu() for k, v in sess.model.state_dict().items()}
        evals = {s: v[:2] for s, v in sess.evaluate().items()}  # (loss, acc); not the time
        runs.append((epochs, state, sess.gen.get_state(), evals))
    (ep_a, st_a, gen_a, ev_a), (ep_b, st_b, gen_b, ev_b) = runs
    assert ep_a == ep_b, f"faithful on {device}: two runs of one seed, epoch stats {ep_a} != {ep_b}"
    differ = [k for k in st_a if not torch.equal(st_a[k], st_b[k])]
    assert not differ, f"faithful on {device}: two runs of one seed differ in {differ}"
    assert torch.equal(gen_a, gen_b), f"faithful on {device}: generator states differ"
    assert ev_a == ev_b, f"faithful on {device}: evaluations {ev_a} != {ev_b}"


@pytest.mark.parametrize("device", DEVICES)
def test_faithful_kill_and_resume_is_bitwise(device: str, tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path / "data")  # 80 images: 3 steps, the last one partial

    def job_in(out: Path) -> Any:
        (job,) = make_jobs(
            [ARCH], dataset="cifar10", epochs=3, seeds=[777], data_root=root,
            db_path=out / "r.sqlite", recipe=Recipe(epochs=3, batch_size=BATCH), c=C, n=1,
            device=device, mode="faithful",
        )  # fmt: skip
        return job

    ref_job = job_in(tmp_path / "ref")
    ref = train(ref_job)  # train() applies the faithful backend flags itself

    job = job_in(tmp_path / "crashed")
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))
    resumed = train(job)  # resumes after epoch 1 on a fresh network, optimiser and generator
    assert ref.status == resumed.status == "done"
    assert resumed.metrics == ref.metrics, f"faithful on {device}: resumed final metrics differ"
    a = torch.load(ref_job.checkpoint_folder / "epoch-0003.pt", weights_only=True)
    b = torch.load(job.checkpoint_folder / "epoch-0003.pt", weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    differ = [k for k in a["model"] if not torch.equal(a["model"][k], b["model"][k])]
    assert not differ, f"faithful on {device}: resumed run's weights differ in {differ}"
    moms = [
        i
        for i, st in a["optimizer"]["state"].items()
        if not torch.equal(st["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"])
    ]
    assert not moms, f"faithful on {device}: momentum buffers of parameters {moms} differ"
    assert torch.equal(a["generator"], b["generator"]), f"{device}: generator states differ"
    # where it trained is recorded: the GPU's name and the CUDA/cuDNN versions on CUDA
    from nb201_flat.train.results_db import ResultsDB

    (on,) = ResultsDB(job.db_path, readonly=True).runs_frame()["trained_on"]
    want = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    assert on.startswith(f"{want}, torch {torch.__version__}"), on
    assert ("CUDA" in on) == (device == "cuda"), on


def _train_on_the_last_gpu(
    device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int | None, list[str], list[int], list[int], int | None, int | None]:
    """``train`` one job alone, and one inside ``current_gpu`` (what a pool worker holds for
    its whole life), on ``cuda:N`` (the last GPU) or the CPU, with
    :func:`~nb201_flat.train.trainer.current_gpu` wrapped to record what it hands out.

    Recorded there, not by replacing ``torch.cuda.device``: torch enters that itself (say,
    ``torch.cuda.synchronize(dev)``, which the trainer calls every epoch). Every caller looks
    ``current_gpu`` up in :mod:`~nb201_flat.train.trainer` when it runs, so the wrapper sees
    them all; what it hands out is still the real ``torch.cuda.device``.

    Returns the GPU's index (``None`` on the CPU), the device of each ``current_gpu`` call, the
    GPU index of each real ``torch.cuda.device`` it handed out, entered, the current device as
    each run's training started, and the current device before and after the worker's hold."""
    from nb201_flat.train import trainer

    gpu = torch.cuda.device_count() - 1 if device == "cuda" else None
    if gpu is not None:
        device = f"cuda:{gpu}"
    calls: list[str] = []
    entered: list[int] = []
    real_current_gpu = trainer.current_gpu

    def recording(dev: Any) -> Any:
        calls.append(str(dev))
        cm = real_current_gpu(dev)  # refuses a missing GPU here, as the real one does

        @contextlib.contextmanager
        def enter() -> Iterator[None]:
            if isinstance(cm, torch.cuda.device):
                entered.append(cm.idx)  # read before entering: __exit__ rewrites it
            with cm:
                yield

        return enter()

    monkeypatch.setattr(trainer, "current_gpu", recording)
    current: list[int] = []
    real = trainer._train

    def spy(job: Any, db: Any, **kwargs: Any) -> Any:
        if gpu is not None:
            current.append(torch.cuda.current_device())
        return real(job, db, **kwargs)

    monkeypatch.setattr(trainer, "_train", spy)
    alone, in_worker = make_jobs(
        [ARCH], dataset="cifar10", epochs=1, seeds=[777, 888],
        data_root=write_tiny_cifar10(tmp_path / "data"), db_path=tmp_path / "r.sqlite",
        recipe=Recipe(epochs=1, batch_size=BATCH), c=C, n=1, device=device, mode="faithful",
    )  # fmt: skip
    before = torch.cuda.current_device() if gpu is not None else None
    assert train(alone).status == "done"
    with trainer.current_gpu(device):  # what a pool worker holds for its whole life
        assert train(in_worker).status == "done"
        after_in_worker = torch.cuda.current_device() if gpu is not None else None
    after = torch.cuda.current_device() if gpu is not None else None
    assert after == before
    return gpu, calls, entered, current, before, after_in_worker


@pytest.mark.parametrize("device", DEVICES)
def test_a_run_trains_with_its_numbered_gpu_current(
    device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``torch.cuda.device`` behind :func:`~nb201_flat.train.trainer.current_gpu`:
    ``train`` on ``cuda:N`` enters it (recorded, since on a one-GPU machine GPU 0 is current
    anyway), alone and inside a pool worker that holds it already, and puts the previous one
    back; a CPU run asks ``current_gpu`` too and enters nothing. (``test_train_current_gpu.py``
    checks every path to it, with a stand-in, on a CPU.)"""
    gpu, calls, entered, _, _, _ = _train_on_the_last_gpu(device, tmp_path, monkeypatch)
    # the run alone; the worker's hold, then the run inside it
    want = "cpu" if gpu is None else f"cuda:{gpu}"
    assert calls == [want] * 3
    assert entered == ([] if gpu is None else [gpu, gpu, gpu])


@pytest.mark.gpu
@pytest.mark.skipif(
    not HAS_CUDA or torch.cuda.device_count() < 2,
    reason="needs two CUDA devices (on one, GPU 0 is current whatever is entered)",
)
def test_a_run_on_the_last_of_several_gpus_trains_with_it_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several GPUs, the last one is not current by default: it is while each run trains,
    and the previous device is back after."""
    gpu, _, _, current, before, after_in_worker = _train_on_the_last_gpu(
        "cuda", tmp_path, monkeypatch
    )
    assert gpu is not None and gpu != before
    assert current == [gpu, gpu] and after_in_worker == gpu


# -- 2. no host synchronisation inside a training step -----------------------------------------
def warm_single(sess: Session) -> None:
    # compilation, cuDNN autotuning, and CUDA graph trees' warm-up run, recording and first
    # replay (one call each) happen in these 2 epochs x 3 full steps, all outside the probe
    for _ in range(2):
        sess.train_epoch()


@pytest.mark.parametrize("mode", [FAITHFUL, FAST], ids=lambda m: m.tag)
@pytest.mark.parametrize("device", DEVICES)
def test_a_single_sessions_steps_never_synchronise(device: str, mode: TrainMode) -> None:
    dev = torch.device(device)
    apply_backend_flags(mode, device)
    data = synthetic(device, N_FULL)  # full batches only: no new shape, no new graph below
    sess = session(data, mode)
    if dev.type == "cuda" and mode is FAST:
        assert sess.fwd is not sess.model, "fast mode on CUDA did not compile the network"
    warm_single(sess)
    steps = sess.begin_epoch()  # draws the epoch's order: not part of a step
    assert steps == 3
    probe = SyncProbe(dev)
    probe.start()
    try:
        for b in range(steps):
            sess.step(b)
    except RuntimeError as exc:
        pytest.fail(f"{mode.tag} on {device}: Session.step synchronised with the host: {exc}")
    finally:
        probe.stop()
    probe.check(f"{mode.tag} on {device}: Session.step")
    loss, _, seen = sess.end_epoch()
    assert seen == N_FULL and math.isfinite(loss), (loss, seen)


@pytest.mark.parametrize("mode", [FAITHFUL, FAST], ids=lambda m: m.tag)
@pytest.mark.parametrize("device", DEVICES)
def test_a_grouped_sessions_steps_never_synchronise(device: str, mode: TrainMode) -> None:
    # A group has no per-step method (its epoch ends reading its totals to the host), so the
    # probe is switched by optimiser hooks: on after the first step's update, off after the
    # last one's; it covers every later step whole (augmentation, compiled forward and
    # backward, SGD) except the last step's few statistics ops after its update.
    dev = torch.device(device)
    apply_backend_flags(mode, device)
    data = synthetic(device, N_FULL)
    group = GroupedSession(data, OPS, 4, c=C, n=1, seeds=SEEDS, recipe=RECIPE, mode=mode)
    if dev.type == "cuda" and mode is FAST:
        assert group.fwd is not group.model, "fast mode on CUDA did not compile the group"
    for _ in range(2):
        group.train_epoch_stats()  # warm-up, as for a single session
    probe = SyncProbe(dev)
    done: list[int] = []

    def switch(*_: object) -> None:
        done.append(1)
        if len(done) == 1:
            probe.start()
        elif len(done) == group.steps:
            probe.stop()

    handle = group.opt.register_step_post_hook(switch)
    try:
        losses, _, seen = group.train_epoch_stats()
    except RuntimeError as exc:
        pytest.fail(f"{mode.tag} on {device}: a grouped step synchronised with the host: {exc}")
    finally:
        handle.remove()
        if 1 <= len(done) < group.steps:
            probe.stop()
    assert len(done) == group.steps == 3
    probe.check(f"{mode.tag} on {device}: grouped steps")
    assert seen == N_FULL and all(math.isfinite(v) for v in losses), losses


# -- 3. fast mode: compiled, channels-last, CUDA graphs, and the numbers of eager fp32 ---------
@pytest.mark.parametrize("device", DEVICES)
def test_fast_session_runs_compiled_and_agrees_with_faithful(device: str) -> None:
    dev = torch.device(device)
    data = synthetic(device, N_PARTIAL)  # 3 full steps and a partial one: two training graphs
    fast = session(data, FAST)
    ref = session(data, FAITHFUL)  # same seed: same initial weights and the same draws
    if dev.type == "cuda":
        counters = compile_counters()
        graphs0 = counters["stats"]["unique_graphs"]
        breaks0 = dict(counters["graph_break"])
        skips0 = counters["inductor"]["cudagraph_skips"]
        assert fast.fwd is not fast.model, "fast mode on CUDA did not compile the network"
        assert fast.channels_last, "fast mode on CUDA is not channels-last"
        flat = [n for n, p in fast.model.named_parameters() if p.dim() == 4]
        not_cl = [
            n
            for n, p in fast.model.named_parameters()
            if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last)
        ]
        assert flat and not not_cl, f"4-D weights not channels-last: {not_cl}"

    # one step each from the same weights: the same update within bf16 rounding (the
    # backward of the compiled channels-last bf16 network against eager fp32)
    init = params(ref.model)
    start = params(fast.model)
    assert all(torch.equal(start[k], v) for k, v in init.items()), "different initial weights"
    apply_backend_flags(FAST, device)
    fast.train_epoch(max_steps=1)
    apply_backend_flags(FAITHFUL, device)
    ref.train_epoch(max_steps=1)
    error = update_error(init, params(fast.model), params(ref.model))
    assert_same_updates(error, f"fast vs faithful on {device}, one step")

    # whole epochs with their partial last batch (a second compiled shape: CUDA graph trees
    # warm it up in the first epoch, record it in the second, replay it in the third): the
    # same mean loss within a few per cent
    for epoch in range(3):
        apply_backend_flags(FAST, device)
        loss, acc, seen = fast.train_epoch()
        apply_backend_flags(FAITHFUL, device)
        ref_loss, _, _ = ref.train_epoch()
        assert seen == N_PARTIAL, f"fast on {device}: the partial last batch was not trained"
        assert 0.0 <= acc <= 100.0
        assert_close_loss(loss, ref_loss, f"fast vs faithful on {device}, epoch {epoch + 1}")

    # evaluation (eval mode, no grad: other compiled graphs) against eager fp32 on the same
    # weights
    apply_backend_flags(FAST, device)
    ev = fast.evaluate()
    ref.model.load_state_dict(fast.model.state_dict())
    apply_backend_flags(FAITHFUL, device)
    ev_ref = ref.evaluate()
    assert ev.keys() == ev_ref.keys() == {"ori-test"}
    assert 0.0 <= ev["ori-test"][1] <= 100.0
    assert_close_loss(ev["ori-test"][0], ev_ref["ori-test"][0], f"fast evaluate on {device}")

    if dev.type == "cuda":
        new_graphs = counters["stats"]["unique_graphs"] - graphs0
        # at least the partial training batch and the evaluation batch were new shapes (the
        # full training batch too, unless an earlier test compiled it): fewer means dynamo
        # hit a recompile limit and ran the network eagerly
        assert new_graphs >= 2, f"fast on CUDA compiled only {new_graphs} new graphs"
        breaks = {k: v for k, v in counters["graph_break"].items() if breaks0.get(k) != v}
        assert not breaks, f"graph breaks in the compiled network: {breaks}"
        skips = counters["inductor"]["cudagraph_skips"] - skips0
        assert skips == 0, (
            f"inductor skipped CUDA graphs for {skips} graph(s) of the fast session (the step "
            "ran as plain kernels); rerun with TORCH_LOGS=cudagraphs to see why"
        )


# -- 4. concurrent fast sessions, one CUDA stream each -----------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_concurrent_fast_sessions_equal_sessions_in_turn(device: str) -> None:
    dev = torch.device(device)
    apply_backend_flags(FAST, device)
    data = synthetic(device, N_FULL)

    def build(cuda_graphs: bool = True) -> list[Session]:
        return [
            session(data, FAST, seed=777 + i, ops=ops, cuda_graphs=cuda_graphs)
            for i, ops in enumerate((OPS, OPS_B))
        ]

    alone = build()
    # on several streams, compiled without CUDA graphs (one memory pool, single-stream reuse),
    # as concurrent_run.sessions_for builds them; graph-capturing sessions are refused
    together = ConcurrentSessions(build(cuda_graphs=False))
    if dev.type == "cuda":
        with pytest.raises(ArgumentError, match="cuda_graphs=False"):
            ConcurrentSessions(build())
        assert all(s.fwd is not s.model for s in together.sessions), "not compiled"
        assert not any(s.cuda_graphs for s in together.sessions)
        streams = together.streams
        assert len(streams) == 2 and streams[0] != streams[1], "sessions share a stream"
    # two epochs each: compilation and cuDNN autotuning
    for epoch in range(2):
        got = together.train_epoch()
        want = [s.train_epoch() for s in alone]
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g[2] == w[2] == N_FULL
            assert_close_loss(g[0], w[0], f"{device}: epoch {epoch + 1}, concurrent session {i}")
    # then from one state on both sides (copied in place), an epoch of compiled steps only,
    # the two sessions' kernels queued on their two streams at once; one session's step
    # writing memory the other still reads would show here
    for a, b in zip(alone, together.sessions, strict=True):
        b.load_state(a.state())
    init = [params(s.model) for s in alone]
    got = together.train_epoch()
    want = [s.train_epoch() for s in alone]
    for i, (a, b) in enumerate(zip(alone, together.sessions, strict=True)):
        assert_close_loss(got[i][0], want[i][0], f"{device}: epoch 3, concurrent session {i}")
        error = update_error(init[i], params(b.model), params(a.model))
        assert_same_updates(error, f"{device}: concurrent session {i} vs the same in turn")
        assert torch.equal(a.gen.get_state(), b.gen.get_state()), "different draws"
    evals = zip(together.evaluate(), [s.evaluate() for s in alone], strict=True)
    for i, (ev_t, ev_a) in enumerate(evals):
        assert ev_t.keys() == ev_a.keys() == {"ori-test"}
        assert_close_loss(ev_t["ori-test"][0], ev_a["ori-test"][0], f"{device}: evaluate {i}")


# -- 5. grouped fast: compiled vmap, channels-last ---------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_grouped_fast_equals_separate_fast_sessions(device: str) -> None:
    dev = torch.device(device)
    apply_backend_flags(FAST, device)
    data = synthetic(device, N_FULL)
    group = GroupedSession(data, OPS, 4, c=C, n=1, seeds=SEEDS, recipe=RECIPE, mode=FAST)
    singles = [session(data, FAST, seed=s) for s in SEEDS]
    if dev.type == "cuda":
        assert group.fwd is not group.model, "fast mode on CUDA did not compile the group"
        assert group.model.channels_last, "fast grouped network on CUDA is not channels-last"
    init = [params(s.model) for s in singles]

    # one step: each member's update and BatchNorm statistics as its single fast run's
    group.train_epoch(max_steps=1)
    for k, sess in enumerate(singles):
        sess.train_epoch(max_steps=1)
        mine, theirs = group.model.member_state(k), sess.model.state_dict()
        assert mine.keys() == theirs.keys()
        error = update_error(init[k], mine, theirs)
        assert_same_updates(error, f"{device}: group member {k} vs its single run, one step")
        for name in theirs.keys() - init[k].keys():  # buffers: BatchNorm statistics
            torch.testing.assert_close(
                mine[name].cpu(), theirs[name].cpu(), **BF16, msg=f"{device}: {name} of {k}"
            )
    # a whole epoch: the same mean loss per member, within bf16 rounding
    losses, _, seen = group.train_epoch_stats()
    assert seen == N_FULL
    for k, sess in enumerate(singles):
        loss, _, _ = sess.train_epoch()
        assert_close_loss(losses[k], loss, f"{device}: group member {k}, epoch 2")
