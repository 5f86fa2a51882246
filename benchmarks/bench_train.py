"""Training throughput of the NB201 network vs. NB201's recorded training time.

For a few cells, trains the full network (C=16, N=5) with the NB201 recipe on synthetic
CIFAR-size data resident on the device (same code path as the trainer: on-device crop/flip,
SGD step, cosine schedule) for a few batches of 256, and reports images/s and the implied
seconds per cifar10-valid epoch (25,000 training images, evaluation excluded). NB201's
``cifar10valid_train_time_s`` (200 epochs; read from the shared derived CSV when present)
divided by 200 gives its seconds per epoch for comparison.

Run: ``python benchmarks/bench_train.py [--device cpu|cuda] [--steps 4] [--threads N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from nb201_flat.figures.notebook import SHARED_ENV, shared_data_dir
from nb201_flat.space import NB201
from nb201_flat.train import costs
from nb201_flat.train.data import DATASETS, DataSplits
from nb201_flat.train.recipe import recipe_for

N_TRAIN_CIFAR10_VALID = 25_000


def _archs() -> dict[str, int]:
    return {
        "all none": NB201.from_ops(["none"] * 6).index,
        "skip/pool": NB201.from_ops(["skip_connect", "avg_pool_3x3"] * 3).index,
        "ResNet-like": 11472,
        "best CIFAR-10": 6111,
        "all 3x3": NB201.from_ops(["nor_conv_3x3"] * 6).index,
    }


def _table_times() -> dict[int, float]:
    path = shared_data_dir() / "derived" / "nb201_200ep_mean.csv"
    if not path.is_file():
        return {}
    df = pd.read_csv(path, usecols=["index", "cifar10valid_train_time_s"])
    return dict(zip(df["index"], df["cifar10valid_train_time_s"], strict=True))


def main() -> None:
    import torch

    from nb201_flat.train.trainer import DeviceData, Session

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=4, help="timed batches per arch (after 1 warm-up)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    recipe = recipe_for(200)
    info = DATASETS["cifar10-valid"]
    rng = np.random.default_rng(0)
    n = recipe.batch_size * (args.steps + 1)
    x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    data = DeviceData(DataSplits(info, x, y, {}, {}), device)
    table = _table_times()
    print(
        f"device={device} threads={torch.get_num_threads()} batch={recipe.batch_size} "
        f"steps={args.steps} torch={torch.__version__}"
    )
    header = (
        f"{'cell':<14} {'index':>6} {'params MB':>9} {'MFLOPs':>7} {'img/s':>8} "
        f"{'s/epoch':>8} {'NB201 s/ep':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, index in _archs().items():
        arch = NB201.arch(index)
        sess = Session(data, arch.ops, 4, c=16, n=5, seed=0, recipe=recipe, compile=args.compile)
        sess.train_epoch(max_steps=1)  # warm-up: allocator, kernels, compile
        t0 = time.perf_counter()
        _, _, seen = sess.train_epoch(max_steps=args.steps)
        dt = time.perf_counter() - t0
        ips = seen / dt
        s_epoch = N_TRAIN_CIFAR10_VALID / ips
        ref = table.get(index, float("nan")) / 200
        print(
            f"{name:<14} {index:>6} {costs.params_mb(arch.ops, n_nodes=4):>9.4f} "
            f"{costs.flops_m(arch.ops, n_nodes=4):>7.1f} {ips:>8.0f} {s_epoch:>8.1f} "
            f"{ref:>10.2f} {s_epoch / ref:>6.1f}"
        )
    if not table:
        print(f"(NB201 times not shown: {shared_data_dir()} not found; set {SHARED_ENV})")


if __name__ == "__main__":
    main()
