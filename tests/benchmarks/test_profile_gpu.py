"""profile-gpu: its per-step figures from profiler events, and one tiny CPU pass."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from benchmarks import profile_gpu as P  # noqa: E402


def _event(
    name: str,
    start: float,
    end: float,
    *,
    cuda: bool = True,
    parent: object = None,
    annotation: bool = False,
) -> object:
    from torch.autograd import DeviceType

    span = SimpleNamespace(start=start, end=end, elapsed_us=lambda: end - start)
    kind = DeviceType.CUDA if cuda else DeviceType.CPU
    return SimpleNamespace(name=name, device_type=kind, time_range=span, cpu_parent=parent,
                           is_user_annotation=annotation)  # fmt: skip


def test_step_figures_from_device_events() -> None:
    """Busy time is the union of the device's intervals (overlaps counted once), copies and
    fills are busy time but no kernel, host ops are those called from Python."""
    top = _event("aten::conv2d", 0, 50, cuda=False)
    events = [
        top,
        _event("aten::cudnn_convolution", 1, 40, cuda=False, parent=top),  # called by conv2d
        _event("aten::add_", 60, 61, cuda=False),
        _event("conv_kernel", 0, 300),
        _event("conv_kernel", 200, 500),  # overlaps the first (another stream): once
        _event("relu_kernel", 600, 700),
        _event("Memcpy HtoD", 800, 1000),
        # a record_function region on the GPU: from its first kernel to its last, gaps and all
        _event("## Call CompiledFxGraph ##", 0, 1000, annotation=True),
    ]
    prof = SimpleNamespace(events=lambda: events)
    r = P.step_profile(prof, steps=2, wall_s=0.004)
    assert r["wall_ms"] == pytest.approx(2.0)
    assert r["gpu_busy_ms"] == pytest.approx((500 + 100 + 200) / 1e3 / 2)
    assert r["busy_fraction"] == pytest.approx(0.4 / 2.0)
    assert r["kernels"] == 1.5 and r["host_ops"] == 1.0
    conv, relu = r["top_kernels"]
    assert conv["name"] == "conv_kernel" and conv["calls"] == 1.0
    assert conv["ms"] == pytest.approx(0.3) and conv["share"] == pytest.approx(600 / 700)
    assert relu["name"] == "relu_kernel" and relu["share"] == pytest.approx(100 / 700)
    # no device events (a CPU run): no GPU figures, never zeros
    cpu = P.step_profile(SimpleNamespace(events=lambda: events[:3]), steps=2, wall_s=0.004)
    assert cpu["gpu_busy_ms"] is None and cpu["kernels"] is None and cpu["top_kernels"] is None


def test_tiny_cpu_pass_profiles_every_configuration(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "profile.json"
    assert P.main(["--rehearse-on-cpu", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["complete"] is True and res["gpu"] is None
    assert list(res["configs"]) == [
        "faithful",
        "fast_nocompile",
        "fast",
        "grouped_k1",
        "grouped_k2",
    ]
    for name, r in res["configs"].items():
        assert "error" not in r, (name, r)
        assert r["steps"] == 2 and r["wall_ms"] > 0 and r["host_ops"] > 0
        assert r["gpu_busy_ms"] is None  # a CPU pass claims no GPU figure
    # a grouped step issues more host ops than a plain one (vmap's own), more with K
    c = res["configs"]
    assert c["grouped_k1"]["host_ops"] > c["faithful"]["host_ops"]


def test_no_cuda_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "profile.json"
    assert P.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("profile-gpu: no CUDA") and not out.exists()
