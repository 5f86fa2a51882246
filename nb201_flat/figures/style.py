"""The package style sheet and byte-stable saving."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from nb201_flat.atomic import write_file

STYLE_NAME = "nb201_flat.mplstyle"


def style_path() -> str:
    """Path of the package's ``.mplstyle`` file."""
    return str(resources.files("nb201_flat.figures").joinpath(STYLE_NAME))


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Use the package style inside a ``with`` block (global rcParams are restored after)."""
    import matplotlib.pyplot as plt

    with plt.style.context(style_path()):
        yield


def save_figure(
    fig: Any, path: str | os.PathLike[str], *, formats: tuple[str, ...] = ("png", "pdf")
) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; identical bytes on every run.

    Dates and software versions are left out of the metadata (the reason PDFs usually differ
    between runs), and each file is written to a temporary name and renamed into place. The
    package style is applied while saving, since ``savefig.*``, ``pdf.fonttype`` and
    ``svg.hashsalt`` are read at save time, not when the figure is drawn.
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = base.with_suffix(f".{fmt}")
        metadata: dict[str, Any]
        if fmt == "pdf":
            metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        elif fmt == "png":
            metadata = {"Software": None}
        elif fmt == "svg":
            metadata = {"Date": None, "Creator": None}
        else:
            metadata = {}
        with figure_style():
            write_file(target, lambda f: fig.savefig(f, format=fmt, metadata=metadata))  # noqa: B023
        written.append(target)
    return written
