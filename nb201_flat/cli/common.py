"""Shared pieces of the command-line interface: table and output options."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nb201_flat.table import Table


def add_table_arg(parser: argparse.ArgumentParser) -> None:
    """``--table PATH`` (else ``$NB201_FLAT_TABLE``, else the embedded default)."""
    parser.add_argument(
        "--table",
        metavar="PATH",
        help="table folder written by `nb201-flat import` (default: $NB201_FLAT_TABLE, "
        "else the embedded AnalogNAS-Bench table)",
    )


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_key_args(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--dataset --split --epochs --metric`` naming one metric vector."""
    parser.add_argument(
        "--dataset", required=required, help="e.g. cifar10, cifar100, ImageNet16-120"
    )
    parser.add_argument("--split", required=required, help="e.g. x-valid, x-test, ori-test")
    parser.add_argument("--epochs", type=int, required=required, help="schedule: 200 or 12")
    parser.add_argument("--metric", default="accuracy", help="default: accuracy")


def parse_seed(text: str) -> str | int:
    """``mean``, ``random`` or a stored seed position."""
    if text in ("mean", "random"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seed must be 'mean', 'random' or an integer, got {text!r}"
        ) from None


def open_table(args: argparse.Namespace) -> Table:
    from nb201_flat.storage import load_table

    return load_table(getattr(args, "table", None))


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and NaN (-> null) for strict JSON."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def emit_json(obj: Any) -> None:
    json.dump(jsonable(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
