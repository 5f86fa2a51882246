"""Faithful and fast modes: NB201's per-epoch LR, identities, backend flags, split files."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from train_helpers import Crash, crash_after, write_tiny_cifar10, write_tiny_imagenet16

from nb201_flat.errors import ArgumentError, FormatError
from nb201_flat.train import splits as S
from nb201_flat.train.data import nb201_split
from nb201_flat.train.jobs import make_jobs
from nb201_flat.train.modes import (
    FAITHFUL,
    FAST,
    apply_backend_flags,
    backend_flags,
    effective_mode,
    mode_for,
    split_keyed_space,
)
from nb201_flat.train.recipe import Recipe, recipe_for

torch = pytest.importorskip("torch")
from nb201_flat.train.data import load_dataset  # noqa: E402
from nb201_flat.train.trainer import DeviceData, Session, train  # noqa: E402

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def xautodl_cosine(base_lr: float, eta_min: float, epoch: int, t_max: int) -> float:
    # xautodl CosineAnnealingLR.get_lr with warmup 0 (AutoDL-Projects f46486e2), written out
    if epoch >= t_max:
        return eta_min
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2


@pytest.mark.parametrize("epochs", [12, 200])
def test_lr_epoch_is_xautodls_cosine(epochs: int) -> None:
    r = recipe_for(epochs)
    for e in range(epochs + 1):
        assert r.lr_epoch(e) == pytest.approx(xautodl_cosine(0.1, 0.0, e, epochs), abs=1e-15)
    assert r.lr_epoch(0) == 0.1 and r.lr_epoch(epochs) == 0.0


def test_session_lr_is_constant_within_an_epoch(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path)
    data = DeviceData(load_dataset("cifar10", root), torch.device("cpu"))
    recipe = Recipe(epochs=3, batch_size=32)  # 80 images: 3 steps, the last one partial
    sess = Session(data, tuple(ARCH_OPS), 4, c=4, n=1, seed=1, recipe=recipe, mode=FAITHFUL)
    assert sess.steps == 3
    seen: list[float] = []
    sess.opt.register_step_pre_hook(lambda opt, *_: seen.append(opt.param_groups[0]["lr"]))
    for _ in range(3):
        _, _, images = sess.train_epoch()
        assert images == 80  # the partial last batch is kept
    want = [xautodl_cosine(0.1, 0.0, e, 3) for e in range(3) for _ in range(3)]
    assert seen == pytest.approx(want, abs=1e-15)


ARCH_OPS = ["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3"]


def test_step_update_is_still_available() -> None:
    r = recipe_for(2)
    assert r.step_factor(1, 2, "step") == pytest.approx(r.lr_factor(1, 4))
    assert r.step_factor(1, 2, "epoch") == 1.0
    with pytest.raises(ValueError, match="lr_update"):
        r.step_factor(0, 2, "iteration")


def test_modes_and_overrides() -> None:
    assert mode_for("faithful") is FAITHFUL and mode_for("fast") is FAST
    assert FAITHFUL.precision == "fp32" and not FAITHFUL.tf32 and FAITHFUL.deterministic
    assert FAST.amp and FAST.cudnn_benchmark and FAST.compile and FAST.channels_last
    with pytest.raises(ArgumentError, match="faithful, fast"):
        mode_for("turbo")
    # any override is refused in faithful mode, even one that repeats its own setting: no
    # option may seem to choose what faithful mode always does
    for key in ("amp", "channels_last", "compile"):
        for value in (True, False):
            with pytest.raises(
                ArgumentError, match=f"no {key}={value} .*drop {key}={value}, or use mode='fast'$"
            ):
                effective_mode("faithful", **{key: value})
    # the keywords, never a flag (the command line respells them: test_train_cli)
    with pytest.raises(ArgumentError, match="^faithful mode takes no amp=True, compile=False "):
        effective_mode("faithful", amp=True, compile=False)
    assert effective_mode("faithful") is FAITHFUL
    with pytest.raises(ArgumentError, match="no compile=False "):
        make_jobs([0], dataset="cifar10", epochs=1, seeds=[1], data_root="d", db_path="r",
                  compile=False)  # fmt: skip
    tags = {
        effective_mode("faithful").tag,
        effective_mode("fast").tag,
        effective_mode("fast", amp=False).tag,
        effective_mode("fast", compile=False).tag,
        effective_mode("fast", channels_last=False).tag,
    }
    assert len(tags) == 5  # every numerically different setting has its own identity
    # CPU never compiles or goes channels-last; CUDA does in fast mode
    assert not FAST.uses_compile("cpu") and FAST.uses_compile("cuda")
    assert not FAST.uses_channels_last("cpu") and not FAST.uses_cuda_graphs("cpu")


def test_a_mode_object_is_checked_where_it_is_made() -> None:
    # a "faithful" mode with other numerics would be stored under a faithful-looking key (the
    # tag spells out only fast overrides): two such modes would even share one
    for changed in ({"precision": "bf16"}, {"compile": True}, {"channels_last": True},
                    {"tf32": True}, {"lr_update": "step"}, {"cuda_graphs": True}):  # fmt: skip
        with pytest.raises(ArgumentError, match="faithful TrainMode keeps NB201's numerics"):
            dataclasses.replace(FAITHFUL, **changed)
    for bad in ({"name": "turbo"}, {"precision": "fp16"}, {"lr_update": "batch"}):
        with pytest.raises(ArgumentError, match="must be one of"):
            dataclasses.replace(FAST, **bad)  # type: ignore[arg-type]
    assert dataclasses.replace(FAST, compile=False).tag == "fast-bf16-tf32-nocompile"


def test_every_fast_mode_made_by_hand_has_its_own_tag() -> None:
    # replace(FAST, tf32=False) once shared FAST's key "fast-bf16": its runs were skipped as
    # done; every setting that changes a number gets a tag of its own (CUDA graphs change none)
    import itertools

    flags = ("tf32", "deterministic", "cudnn_benchmark", "channels_last", "compile")
    modes = [
        dataclasses.replace(FAST, precision=p, lr_update=u, **dict(zip(flags, on, strict=True)))
        for p, u, on in itertools.product(
            ("fp32", "bf16"), ("epoch", "step"), itertools.product((False, True), repeat=5)
        )
    ]
    tags = [m.tag for m in modes]
    assert len(set(tags)) == len(modes) == 128
    assert FAITHFUL.tag not in tags
    assert dataclasses.replace(FAST, cuda_graphs=False).tag == FAST.tag


def test_backend_flags_follow_the_mode() -> None:
    before = backend_flags()
    try:
        apply_backend_flags(FAITHFUL, "cuda")
        assert backend_flags() == {
            "matmul_tf32": False,
            "cudnn_tf32": False,
            "cudnn_deterministic": True,
            "cudnn_benchmark": False,
        }
        apply_backend_flags(FAST, "cuda")
        assert backend_flags() == {
            "matmul_tf32": True,
            "cudnn_tf32": True,
            "cudnn_deterministic": False,
            "cudnn_benchmark": True,
        }
        snapshot = backend_flags()
        apply_backend_flags(FAITHFUL, "cpu")  # no CUDA: nothing to set
        assert backend_flags() == snapshot
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before["matmul_tf32"]
        torch.backends.cudnn.allow_tf32 = before["cudnn_tf32"]
        torch.backends.cudnn.deterministic = before["cudnn_deterministic"]
        torch.backends.cudnn.benchmark = before["cudnn_benchmark"]


def test_faithful_refuses_tf32_turned_on_through_the_new_precision_api() -> None:
    # the legacy cudnn.allow_tf32 = False left the convolutions inheriting a process-wide
    # torch.backends.fp32_precision = 'tf32': a faithful run computed in TF32, stored as
    # faithful. In a process of its own: a mix of torch's two APIs cannot be undone here
    import subprocess
    import sys

    if not hasattr(torch.backends, "fp32_precision"):
        pytest.skip("this torch has no fp32_precision API")
    script = """
import torch
from nb201_flat.errors import ArgumentError
from nb201_flat.train.modes import FAITHFUL, FAST, apply_backend_flags
apply_backend_flags(FAITHFUL, "cuda")  # torch's defaults: nothing inherits TF32
apply_backend_flags(FAST, "cuda")  # not deterministic: a refused faithful mode leaves it so
for where in ("torch.backends", "torch.backends.cudnn"):
    eval(where).fp32_precision = "tf32"
    try:
        apply_backend_flags(FAITHFUL, "cuda")
    except ArgumentError as exc:
        # the setting that turned it on is named, and the refused mode's flags are not left
        assert f"{where}.fp32_precision is 'tf32'" in str(exc), exc
        assert not torch.backends.cudnn.deterministic, "the refused mode's flags stayed"
    else:
        raise SystemExit(f"{where}.fp32_precision = 'tf32' was not refused")
    apply_backend_flags(FAST, "cuda")  # TF32 is what fast mode asks for
    eval(where).fp32_precision = "none"
torch.backends.cudnn.conv.fp32_precision = "ieee"
apply_backend_flags(FAITHFUL, "cuda")
print("checked")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "checked", done.stderr[-2000:]


def jobs_for(root: Path, out: Path, mode: str) -> list:  # type: ignore[type-arg]
    return make_jobs(
        [ARCH],
        dataset="cifar10",
        epochs=1,
        seeds=[777],
        data_root=root,
        db_path=out / "r.sqlite",
        recipe=Recipe(epochs=1, batch_size=40),
        c=4,
        n=1,
        device="cpu",
        threads=1,
        mode=mode,
    )


def test_fast_and_faithful_runs_do_not_collide(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path / "data")
    (faithful,) = jobs_for(root, tmp_path, "faithful")
    (fast,) = jobs_for(root, tmp_path, "fast")
    assert faithful.key != fast.key and faithful.name != fast.name
    assert faithful.checkpoint_folder != fast.checkpoint_folder
    assert split_keyed_space(faithful.key.space) == ("nb201@C4N1", "faithful")
    assert split_keyed_space(fast.key.space) == ("nb201@C4N1", "fast-bf16")
    a = train(faithful)
    b = train(fast)  # before modes were keyed this was "skipped" with the fp32 numbers
    assert a.status == b.status == "done"
    assert train(fast).status == "skipped"

    from nb201_flat.importers.results_db import read_results_db

    with pytest.raises(FormatError, match="several spaces"):
        read_results_db(tmp_path / "r.sqlite")
    table = read_results_db(tmp_path / "r.sqlite", space=fast.key.space)
    assert table.meta["mode"] == "fast-bf16"


def test_runs_of_two_recipes_do_not_collide(tmp_path: Path) -> None:
    """Every recipe field that changes the numbers keys the run (the CLI trains NB201's)."""
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.train.recipe import recipe_tag

    root = write_tiny_cifar10(tmp_path / "data")
    (base,) = jobs_for(root, tmp_path, "faithful")
    keyed = {
        f.name: dataclasses.replace(base, recipe=dataclasses.replace(base.recipe, **{f.name: v}))
        for f, v in zip(
            dataclasses.fields(Recipe),
            [None, 0.05, 0.001, 0.8, False, 1e-4, 32, None, 1, False],
            strict=True,
        )
        if v is not None
    }
    assert set(keyed) == set(f.name for f in dataclasses.fields(Recipe)) - {"epochs", "eval_batch_size"}  # fmt: skip
    keys = {base.key, *(j.key for j in keyed.values())}
    names = {base.name, *(j.name for j in keyed.values())}
    assert len(keys) == len(names) == len(keyed) + 1  # each its own run and folder
    # the evaluation batch changes no number: the same run
    same = dataclasses.replace(base, recipe=dataclasses.replace(base.recipe, eval_batch_size=7))
    assert same.key == base.key and same.name == base.name
    assert recipe_tag(recipe_for(12)) == "" and recipe_tag(recipe_for(200)) == ""
    # one value, one key: however a setting is spelled, and the dataset's own crop padding
    assert Recipe(weight_decay=0).weight_decay == 0.0 and Recipe(nesterov=0).nesterov is False
    assert recipe_tag(Recipe(lr=np.float64(0.05), batch_size=np.int64(16))) == (
        "recipe:lr=0.05,batch_size=16"
    )
    assert Recipe(weight_decay=np.float32(1e-4), lr=np.float16(0.05)) == Recipe(
        weight_decay=1e-4, lr=0.05
    )
    padded = dataclasses.replace(base, recipe=dataclasses.replace(base.recipe, crop_pad=4))
    assert padded.key == base.key  # CIFAR pads by 4 anyway
    for bad in ({"batch_size": 16.5}, {"lr": math.nan}, {"nesterov": 2}, {"flip": "yes"}):
        with pytest.raises(ArgumentError, match="recipe"):
            Recipe(**bad)  # type: ignore[arg-type]
    # before recipes were keyed, the second was "skipped" with the first one's numbers
    wd = keyed["weight_decay"]
    assert train(base).status == "done" and train(wd).status == "done"
    assert train(wd).status == "skipped"
    table = read_results_db(tmp_path / "r.sqlite", space=wd.key.space)
    assert table.meta["recipe"] == "recipe:weight_decay=0.0001,batch_size=40"
    assert table.meta["mode"] == "faithful"
    assert read_results_db(tmp_path / "r.sqlite", space=base.key.space).meta["recipe"] == (
        "recipe:batch_size=40"
    )


def test_generator_lives_on_the_training_device(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path)
    data = DeviceData(load_dataset("cifar10", root), torch.device("cpu"))
    sess = Session(data, tuple(ARCH_OPS), 4, c=4, n=1, seed=3, recipe=recipe_for(1), mode=FAST)
    assert sess.gen.device == data.device
    assert not sess.amp or sess.mode is FAST  # fast on CPU: bf16 autocast, no compile/layout
    assert not sess.channels_last


# -- NB201's split files shipped with the package --------------------------------------------
@pytest.mark.parametrize(
    ("fname", "keys", "sizes"),
    [
        ("cifar-split.txt", ("train", "valid"), (25_000, 25_000)),
        ("cifar100-test-split.txt", ("xvalid", "xtest"), (5_000, 5_000)),
        ("imagenet-16-120-test-split.txt", ("xvalid", "xtest"), (3_000, 3_000)),
        ("ImageNet16-120-split.txt", ("train", "valid"), (75_850, 75_850)),
    ],
)
def test_packaged_split_files(fname: str, keys: tuple[str, str], sizes: tuple[int, int]) -> None:
    a, b = S.packaged_split(fname, keys)
    assert (len(a), len(b)) == sizes
    both = np.concatenate([a, b])
    assert len(np.unique(both)) == len(both) and both.min() == 0 and both.max() == len(both) - 1
    assert hashlib.sha256(S.packaged_split_bytes(fname)).hexdigest() == S.SPLIT_SHA256[fname]


def test_packaged_splits_serve_full_size_datasets_only(tmp_path: Path) -> None:
    a, b = nb201_split("cifar100", 10_000, tmp_path)  # no file in split_dir: the shipped one
    ref = S.packaged_split("cifar100-test-split.txt", ("xvalid", "xtest"))
    assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])
    a, b = nb201_split("cifar100", 24, tmp_path)  # another size: the fallback split
    assert len(a) + len(b) == 24


def test_tampered_packaged_split_fails_its_checksum(monkeypatch: pytest.MonkeyPatch) -> None:
    real = S.packaged_split_bytes("cifar100-test-split.txt")
    bad = json.dumps({"xvalid": [0], "xtest": [1]}).encode()
    assert hashlib.sha256(bad).hexdigest() != hashlib.sha256(real).hexdigest()

    class Fake:
        def __truediv__(self, _: str) -> Fake:
            return self

        def read_bytes(self) -> bytes:
            return gzip.compress(bad)

    monkeypatch.setattr(S.resources, "files", lambda _: Fake())
    with pytest.raises(FormatError, match="SHA-256"):
        S.packaged_split("cifar100-test-split.txt", ("xvalid", "xtest"))


def test_damaged_packaged_split_is_one_reinstall_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # a damaged .gz raised a bare zlib.error / gzip.BadGzipFile / EOFError, where a checksum
    # mismatch says to reinstall
    packed = gzip.compress(S.packaged_split_bytes("cifar100-test-split.txt"))
    damaged = {
        "header": packed[:3] + bytes([packed[3] ^ 0xFF]) + packed[4:],  # reserved flag bits
        "deflate": packed[:100] + bytes([packed[100] ^ 1]) + packed[101:],
        "crc": packed[:-6] + bytes([packed[-6] ^ 1]) + packed[-5:],
        "cut short": packed[: len(packed) // 2],
        "not gzip": b"\x00" + packed[1:],
    }
    for what, raw in damaged.items():

        class Fake:
            def __truediv__(self, _: str) -> Fake:
                return self

            def read_bytes(self, raw: bytes = raw) -> bytes:
                return raw

        monkeypatch.setattr(S.resources, "files", lambda _: Fake())
        with pytest.raises(FormatError) as info:
            S.packaged_split("cifar100-test-split.txt", ("xvalid", "xtest"))
        msg = str(info.value)
        assert msg.endswith("; reinstall nb201_flat") and "\n" not in msg, (what, msg)


def test_imagenet16_counts_asserted_in_faithful_mode(tmp_path: Path) -> None:
    root = write_tiny_imagenet16(tmp_path / "data")
    with pytest.raises(S.DatasetSizeError, match="151700 / 6000"):
        load_dataset("ImageNet16-120", root, strict=True)
    assert len(load_dataset("ImageNet16-120", root).train_y) > 0  # fast mode reads it
    (job,) = make_jobs(
        [0], dataset="ImageNet16-120", epochs=1, seeds=[1], data_root=root,
        db_path=tmp_path / "r.sqlite", c=4, n=1, device="cpu",
    )  # fmt: skip
    with pytest.raises(S.DatasetSizeError):
        train(dataclasses.replace(job, mode="faithful"))
    S.check_nb201_counts("ImageNet16-120", 151_700, 6_000)
    S.check_nb201_counts("cifar10", 50_000, 10_000)


def test_fast_mode_exact_resume(tmp_path: Path) -> None:
    root = write_tiny_cifar10(tmp_path / "data")

    def job_in(out: Path):  # type: ignore[no-untyped-def]
        (job,) = jobs_for(root, out, "fast")
        return dataclasses.replace(job, recipe=Recipe(epochs=3, batch_size=32))

    ref_job = job_in(tmp_path / "ref")
    assert train(ref_job).status == "done"

    job = job_in(tmp_path / "crashed")
    with pytest.raises(Crash):
        train(job, on_epoch_end=crash_after(1))
    assert train(job).status == "done"  # resumes after epoch 1
    a = torch.load(ref_job.checkpoint_folder / "epoch-0003.pt", weights_only=True)
    b = torch.load(job.checkpoint_folder / "epoch-0003.pt", weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert torch.equal(a["generator"], b["generator"])
    lr = b["optimizer"]["param_groups"][0]["lr"]
    assert isinstance(lr, float)  # as in faithful mode: no host read of the LR in a step
    assert lr == xautodl_cosine(0.1, 0.0, 3, 3) == 0.0  # stored: the next epoch's LR


def test_every_compiled_network_in_a_process_stays_compiled() -> None:
    import torch._dynamo

    from nb201_flat.train.model import Network
    from nb201_flat.train.modes import compile_network

    config = torch._dynamo.config
    before = {k: getattr(config, k) for k in ("recompile_limit", "accumulated_recompile_limit")}
    cells = [
        ARCH_OPS,
        ["skip_connect"] * 6,
        ["avg_pool_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "none"],
    ]
    # shapes and grad modes a run gives its network (training batches full and partial, an
    # evaluation batch): three networks of one class need 9 graphs of one forward, past the
    # default limit of 8, beyond which dynamo would run the rest eagerly without an error
    uses = [(True, 8), (True, 3), (False, 12)]
    assert len(cells) * len(uses) > before["recompile_limit"]
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    try:
        for ops in cells:
            net = Network(tuple(ops), 4, c=2, n=1, num_classes=10)
            fwd = compile_network(net, {"backend": "eager", "dynamic": False})
            for training, batch in uses:
                net.train(training)
                with torch.set_grad_enabled(training):
                    fwd(torch.randn(batch, 3, 8, 8))
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == len(cells) * len(uses)
    finally:
        for name, value in before.items():
            setattr(config, name, value)
        torch._dynamo.reset()


def test_fast_networks_trace_as_one_graph_for_torch_compile() -> None:
    # Fast mode compiles networks on CUDA only (inductor); here dynamo and AOTAutograd trace
    # one on the CPU ("aot_eager": no code generation) as fast mode runs it -- dead edges
    # pruned, bf16 autocast, training and evaluation -- where anything the compiler could not
    # follow would show as a graph break (fullgraph=True makes that an error)
    from nb201_flat.train.model import Network
    from nb201_flat.train.pruning import prune_network

    # node 2 feeds nothing (edge 2->3 is none): pruning leaves edges 1 and 2 out
    ops = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "nor_conv_3x3", "none")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = Network(ops, 4, c=2, n=1, num_classes=10)
    prune_network(net)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    compiled = torch.compile(net, backend="aot_eager", dynamic=False, fullgraph=True)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    outs, grads = [], []
    for fwd in (net, compiled):
        net.eval()  # first: a training pass moves the BatchNorm running statistics
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            evaluated = fwd(x)
        net.train()
        net.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fwd(x)
        out.float().square().sum().backward()
        grads.append([None if p.grad is None else p.grad.clone() for p in net.parameters()])
        outs.append((out.detach(), evaluated))
        net.load_state_dict(state)  # the running statistics as they were
    for a, b in zip(outs[0], outs[1], strict=True):
        torch.testing.assert_close(b, a, rtol=0.0, atol=0.0)
    assert None in grads[0] and sum(g is not None for g in grads[0]) > len(grads[0]) // 2
    for a, b in zip(grads[0], grads[1], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_a_worker_releases_what_its_units_compiled() -> None:
    import torch._dynamo
    from torch._dynamo.eval_frame import _debug_get_cache_entry_list

    from nb201_flat.train import modes
    from nb201_flat.train.model import Network

    torch._dynamo.reset()  # whatever earlier tests compiled
    net = Network(tuple(ARCH_OPS), 4, c=2, n=1, num_classes=10)
    fwd = modes.compile_network(net, {"backend": "eager", "dynamic": False})
    fwd(torch.randn(2, 3, 8, 8))
    code = type(net).forward.__code__
    assert len(_debug_get_cache_entry_list(code)) == 1 and modes._compiled_networks > 0
    modes.release_compiled()
    assert _debug_get_cache_entry_list(code) == [] and modes._compiled_networks == 0
