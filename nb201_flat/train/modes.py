"""Training modes: NB201-faithful numerics or the fastest the device allows, by name (no torch).

A mode fixes everything besides the recipe and the seed that changes the numbers a run
produces: the precision, the TF32 and cuDNN settings, the memory layout, compilation, CUDA
graphs and how often the learning rate changes. Its :attr:`TrainMode.tag` is part of the
results key and of the checkpoint identity, so an fp32 run and a bf16 run of the same cell
never collide (the second is not skipped as "already done").

``faithful``
    NB201's training as xautodl runs it: fp32 with TF32 off, deterministic cuDNN (benchmark
    off), the learning rate stepped once per epoch (xautodl's ``CosineAnnealingLR`` reads only
    the epoch counter, so it is constant within an epoch), the last partial batch kept.
``fast``
    bf16 autocast, channels-last layout, ``cudnn.benchmark``, ``torch.compile`` with static
    shapes and CUDA graphs where the step allows (CUDA only; on a CPU the device-independent
    parts apply: bf16 autocast and the per-epoch learning rate stay, compilation is off).

Both modes step the learning rate once per epoch, so the schedule is NB201's in either; only
the arithmetic differs. In both the learning rate is a Python float: the optimiser step runs
eagerly (only the network is compiled), and torch's SGD reads a tensor learning rate back to the
host in every step, a synchronisation a float never causes
(:func:`~nb201_flat.train.checkpoint.load_schedule_state`).

Examples
--------
>>> FAITHFUL.tag, FAST.tag
('faithful', 'fast-bf16')
>>> mode_for("fast").precision
'bf16'
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from nb201_flat.errors import ArgumentError, Param, joined

ModeName = Literal["faithful", "fast"]
Precision = Literal["fp32", "bf16"]
LrUpdate = Literal["epoch", "step"]

MODE_NAMES: tuple[str, ...] = ("faithful", "fast")
_PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
_LR_UPDATES: tuple[str, ...] = ("epoch", "step")


@dataclass(frozen=True, slots=True)
class TrainMode:
    """How a run computes: precision, backend flags, layout, compilation, LR update.

    Attributes
    ----------
    name
        ``"faithful"`` or ``"fast"``.
    precision
        ``"fp32"`` or ``"bf16"`` (autocast of forward and loss).
    lr_update
        ``"epoch"``: constant within an epoch (NB201); ``"step"``: annealed every step.
    tf32
        Allow TF32 matmuls and convolutions on CUDA.
    deterministic
        Deterministic cuDNN kernels (and ``cudnn.benchmark`` off).
    cudnn_benchmark
        Let cuDNN pick the fastest kernel per shape.
    channels_last
        Channels-last memory layout on CUDA.
    compile
        ``torch.compile`` the network on CUDA (static shapes).
    cuda_graphs
        Capture the training step as a CUDA graph where the step allows it.
    """

    name: ModeName
    precision: Precision
    lr_update: LrUpdate = "epoch"
    tf32: bool = False
    deterministic: bool = True
    cudnn_benchmark: bool = False
    channels_last: bool = False
    compile: bool = False
    cuda_graphs: bool = False

    def __post_init__(self) -> None:
        # the tag spells out only what a fast mode overrides: a "faithful" mode with other
        # numerics would be stored under a faithful-looking key, or share one with another
        for field, value, allowed in (
            ("name", self.name, MODE_NAMES),
            ("precision", self.precision, _PRECISIONS),
            ("lr_update", self.lr_update, _LR_UPDATES),
        ):
            if value not in allowed:
                raise ArgumentError(
                    f"TrainMode {field} must be one of {', '.join(allowed)}, got {value!r}"
                )
        if self.name != "faithful":
            return
        # the field defaults are NB201's settings, which a faithful mode keeps
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name not in ("name", "precision") and getattr(self, f.name) != f.default
        ]
        if self.precision != "fp32":
            changed.insert(0, f"precision={self.precision!r}")
        if changed:
            raise ArgumentError(
                f"a faithful TrainMode keeps NB201's numerics, not {', '.join(changed)}; "
                "name it 'fast' for other settings (or use effective_mode('fast', ...))"
            )

    @property
    def tag(self) -> str:
        """Short identity for results keys and checkpoint folders.

        >>> TrainMode("fast", "fp32", tf32=True, deterministic=False, cudnn_benchmark=True,
        ...           channels_last=True, compile=True).tag
        'fast-fp32-tf32'
        >>> TrainMode("fast", "bf16", channels_last=True, compile=True).tag  # not FAST's
        'fast-bf16-notf32-deterministic-nocudnn_benchmark'
        """
        if self == FAITHFUL:
            return "faithful"
        if replace(self, cuda_graphs=FAST.cuda_graphs) == FAST:  # capture changes no number
            return "fast-bf16"
        parts: list[str] = [self.name, self.precision]
        if self.tf32:
            parts.append("tf32")
        if self.lr_update == "step":
            parts.append("lrstep")
        if self.name == "fast":
            # overrides of the fast preset change rounding, so they are spelled out
            parts += [f"no{k}" for k in ("channels_last", "compile") if not getattr(self, k)]
            # settings no option reaches (a mode built by hand): spelled too, or such a mode
            # would share FAST's key
            if not self.tf32:
                parts.append("notf32")
            if self.deterministic:
                parts.append("deterministic")
            if not self.cudnn_benchmark:
                parts.append("nocudnn_benchmark")
        return "-".join(parts)

    @property
    def amp(self) -> bool:
        """bf16 autocast on."""
        return self.precision == "bf16"

    def uses_channels_last(self, device_type: str) -> bool:
        """Channels-last layout on this device (CUDA only: on CPU it only slows convolutions)."""
        return self.channels_last and device_type == "cuda"

    def uses_compile(self, device_type: str) -> bool:
        """``torch.compile`` on this device (CUDA only; CPU compilation costs more than it saves
        for NB201's small networks)."""
        return self.compile and device_type == "cuda"

    def uses_cuda_graphs(self, device_type: str) -> bool:
        """Capture CUDA graphs on this device (never off CUDA)."""
        return self.cuda_graphs and device_type == "cuda"


FAITHFUL = TrainMode("faithful", "fp32")
"""NB201's numerics: fp32, TF32 off, deterministic cuDNN, LR per epoch."""

FAST = TrainMode(
    "fast",
    "bf16",
    tf32=True,
    deterministic=False,
    cudnn_benchmark=True,
    channels_last=True,
    compile=True,
    cuda_graphs=True,
)
"""Throughput first: bf16, channels-last, cudnn.benchmark, torch.compile, CUDA graphs."""

_MODES = {"faithful": FAITHFUL, "fast": FAST}


def mode_for(name: str) -> TrainMode:
    """The mode called ``name`` (``faithful`` or ``fast``).

    >>> mode_for("faithful") is FAITHFUL
    True
    """
    try:
        return _MODES[name]
    except (KeyError, TypeError):  # TypeError: a list (unhashable)
        raise ArgumentError(
            f"unknown training mode {name!r}; use one of {', '.join(MODE_NAMES)}"
        ) from None


def compile_options(
    mode: TrainMode, device_type: str, *, cuda_graphs: bool = True
) -> dict[str, object] | None:
    """Keyword arguments of ``torch.compile`` for ``mode`` on a device, or ``None`` (eager).

    Shapes are static (``dynamic=False``): every full batch has one shape and the last,
    partial batch of an epoch its own, so at most two graphs exist per network and mode.
    Where CUDA graphs are on, ``mode="reduce-overhead"`` makes inductor capture the forward
    and backward as CUDA graphs (one launch per step instead of hundreds of small kernels,
    which dominate for NB201's small networks); it falls back to plain kernels for any graph
    it cannot capture, which is what "where the step allows" means here.

    ``cuda_graphs=False`` compiles the same kernels without capturing them, for networks
    stepped on several CUDA streams at once: inductor's CUDA graphs ("cudagraph trees") share
    one memory pool and reuse it in the order of a single stream, so graphs replayed at once
    on different streams could overwrite each other's memory. Capture changes no number.

    >>> compile_options(FAST, "cuda")
    {'dynamic': False, 'fullgraph': False, 'mode': 'reduce-overhead'}
    >>> compile_options(FAST, "cuda", cuda_graphs=False)["mode"]
    'default'
    >>> compile_options(FAST, "cpu") is None, compile_options(FAITHFUL, "cuda") is None
    (True, True)
    """
    if not mode.uses_compile(device_type):
        return None
    graphs = cuda_graphs and mode.uses_cuda_graphs(device_type)
    return {
        "dynamic": False,
        "fullgraph": False,
        "mode": "reduce-overhead" if graphs else "default",
    }


GRAPHS_PER_NETWORK = 8
"""Graphs one compiled network may need in a run: training and evaluation (dynamo guards the
grad mode), each with a full and a partial last batch, and a partial evaluation batch per
source array (static shapes: one graph each)."""

_compiled_networks = 0


def compile_network(model: Any, options: dict[str, object]) -> Any:
    """``torch.compile(model, **options)``, with room for this network's graphs.

    Dynamo's recompile limit (8) counts the graphs of one code object, and every network of one
    class shares its ``forward``: without more room, the second or third network compiled in a
    process (``--concurrent K``, or one network's training and evaluation shapes) hits the
    limit and silently runs eager. Each compiled network raises the limit by
    :data:`GRAPHS_PER_NETWORK` (never lowering a user's higher setting).
    """
    import torch

    global _compiled_networks
    _compiled_networks += 1
    need = GRAPHS_PER_NETWORK * _compiled_networks
    config = torch._dynamo.config
    # the names since torch 2.6, then the older ones
    for names in (
        ("recompile_limit", "cache_size_limit"),
        ("accumulated_recompile_limit", "accumulated_cache_size_limit"),
    ):
        name = next((n for n in names if hasattr(config, n)), None)
        if name is not None and getattr(config, name) < need:
            setattr(config, name, need)
    return torch.compile(model, **options)  # type: ignore[call-overload]


def release_compiled() -> None:
    """Drop every graph compiled in this process and inductor's CUDA graphs with their memory
    pool (``torch._dynamo.reset``), for a worker process between the units it trains: each
    unit compiles its own networks, and a reused worker would otherwise keep every earlier
    unit's graphs and captured memory. Not for a user's own process: it drops their compiled
    functions too. A no-op where nothing was compiled (dynamo never imported)."""
    import sys

    global _compiled_networks
    if "torch._dynamo" not in sys.modules:
        return
    import torch._dynamo

    torch._dynamo.reset()
    _compiled_networks = 0


def effective_mode(
    name: str,
    *,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool | None = None,
) -> TrainMode:
    """Mode ``name`` with per-job overrides (``None`` keeps the mode's own setting).

    Faithful mode admits no override, not even one that repeats its own setting: bf16,
    channels-last or compilation with ``mode="faithful"`` (``True`` or ``False``) is an error,
    never silently ignored, so no option seems to choose what faithful mode always does.

    >>> effective_mode("fast", compile=False).tag
    'fast-bf16-tf32-nocompile'
    >>> effective_mode("faithful", compile=False)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: faithful mode takes no compile=False (it always trains in fp32 without channels-last or torch.compile); drop compile=False, or use mode='fast'
    """
    mode = mode_for(name)
    if mode.name == "faithful":
        overrides = {"amp": amp, "channels_last": channels_last, "compile": compile}
        given = joined(Param(k, v) for k, v in overrides.items() if v is not None)
        if given:  # parameters, which a command names by its flags
            raise ArgumentError(
                "faithful mode takes no ",
                *given,
                " (it always trains in fp32 without channels-last or torch.compile); drop ",
                *given,
                ", or use ",
                Param("mode", "fast"),
            )
        return mode
    precision: Precision = mode.precision if amp is None else ("bf16" if amp else "fp32")
    return replace(
        mode,
        precision=precision,
        channels_last=mode.channels_last if channels_last is None else channels_last,
        compile=mode.compile if compile is None else compile,
    )


def keyed_space(space: str, mode: TrainMode, recipe: str = "") -> str:
    """Results-database space key with the mode's tag, and the recipe's tag when the recipe is
    not NB201's (:func:`~.recipe.recipe_tag`): ``"<space>#<mode>[#<recipe>]"``.

    >>> keyed_space("nb201", FAITHFUL), keyed_space("nb201@C4N1", FAST)
    ('nb201#faithful', 'nb201@C4N1#fast-bf16')
    >>> keyed_space("nb201", FAITHFUL, "recipe:batch_size=16")
    'nb201#faithful#recipe:batch_size=16'
    """
    return f"{space}#{mode.tag}" + (f"#{recipe}" if recipe else "")


def split_keyed_space(key: str) -> tuple[str, str | None]:
    """The space and mode tag of a :func:`keyed_space` key; keys written before modes existed
    have no tag.

    >>> split_keyed_space("nb201#fast-bf16"), split_keyed_space("nb201")
    (('nb201', 'fast-bf16'), ('nb201', None))
    >>> split_keyed_space("nb201#faithful#recipe:lr=0.05")
    ('nb201', 'faithful')
    """
    base, sep, rest = key.partition("#")
    return base, (rest.partition("#")[0] if sep else None)


def recipe_of_key(key: str) -> str | None:
    """The recipe tag of a :func:`keyed_space` key; ``None`` for NB201's recipe.

    >>> recipe_of_key("nb201#faithful#recipe:lr=0.05"), recipe_of_key("nb201#faithful")
    ('recipe:lr=0.05', None)
    """
    return key.split("#", 2)[2] if key.count("#") >= 2 else None


FAST_EVAL_EVERY = 5
"""Default evaluation interval (epochs) of ``fast`` mode; ``faithful`` evaluates every epoch."""


def default_eval_every(mode: TrainMode) -> int:
    """Epochs between evaluations when a job does not say: 1 (faithful, as NB201's curves)
    or :data:`FAST_EVAL_EVERY` (fast). The schedule's last epoch is always evaluated.

    >>> default_eval_every(FAITHFUL), default_eval_every(FAST)
    (1, 5)
    """
    return 1 if mode.name == "faithful" else FAST_EVAL_EVERY


def is_eval_epoch(epoch: int, every: int, epochs: int) -> bool:
    """Whether completed epoch ``epoch`` (1-based) of ``epochs`` is evaluated.

    >>> [e for e in range(1, 13) if is_eval_epoch(e, 5, 12)]
    [5, 10, 12]
    """
    return epoch % every == 0 or epoch == epochs


def apply_backend_flags(mode: TrainMode, device_type: str) -> None:
    """Set torch's process-wide backend flags for ``mode`` (TF32, cuDNN determinism/benchmark).

    The flags are global to the process, so one process runs one unit at a time (the
    executors' units take a process-wide lock, :func:`~nb201_flat.train.executors._run_unit`).
    A mode without TF32 is refused where torch's newer precision settings
    (``torch.backends.fp32_precision``, ``torch.backends.cudnn.fp32_precision``) turn it on:
    the legacy ``cudnn.allow_tf32 = False`` set here leaves the convolutions to inherit them.
    """
    if device_type != "cuda":
        return
    try:
        before: dict[str, bool] | None = backend_flags()
    except RuntimeError:  # torch refuses to read its legacy flags after a mix of both APIs
        before = None
    set_backend_flags(
        {
            "matmul_tf32": mode.tf32,
            "cudnn_tf32": mode.tf32,
            "cudnn_deterministic": mode.deterministic,
            "cudnn_benchmark": mode.cudnn_benchmark and not mode.deterministic,
        }
    )
    if not mode.tf32 and (setting := inherited_conv_tf32()) is not None:
        if before is not None:  # refused: the process's flags as they were
            set_backend_flags(before)
        raise ArgumentError(
            f"{setting} is 'tf32', so the convolutions of a {mode.name} run would compute in "
            f"TF32 (the {mode.name} mode trains in full fp32); set it to 'ieee' before "
            "training, or train in fast mode"
        )


def inherited_conv_tf32() -> str | None:
    """The outermost of torch's newer precision settings that turns TF32 on for cuDNN
    convolutions (``torch.backends``, then ``.cudnn``, then ``.cudnn.conv``), or None (also
    where this torch has no such API).

    Each reads what it inherits, so the outermost reading 'tf32' is the one to change. Only
    the new attributes are read: reading a legacy one after a mix of both APIs raises."""
    import torch

    backends = torch.backends
    chain = (
        ("torch.backends.fp32_precision", backends),
        ("torch.backends.cudnn.fp32_precision", backends.cudnn),
        ("torch.backends.cudnn.conv.fp32_precision", getattr(backends.cudnn, "conv", None)),
    )
    for name, holder in chain:
        value = getattr(holder, "fp32_precision", None) if holder is not None else None
        if value is None:  # a torch without the new API
            return None
        if value == "tf32":
            return name
    return None


def set_backend_flags(flags: dict[str, bool]) -> None:
    """Set the flags :func:`backend_flags` reads (e.g. to put back what it read)."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = flags["matmul_tf32"]
    torch.backends.cudnn.allow_tf32 = flags["cudnn_tf32"]
    torch.backends.cudnn.deterministic = flags["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]


def backend_flags() -> dict[str, bool]:
    """The current values of the flags :func:`apply_backend_flags` sets (for checks and logs)."""
    import torch

    return {
        "matmul_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn_tf32": bool(torch.backends.cudnn.allow_tf32),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
    }
