"""The package style sheet and byte-stable saving."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from nb201_flat.atomic import staged_files
from nb201_flat.errors import ArgumentError, check_choice, check_path, shown

STYLE_NAME = "nb201_flat.mplstyle"


def style_path() -> str:
    """Path of the package's ``.mplstyle`` file."""
    return str(resources.files("nb201_flat.figures").joinpath(STYLE_NAME))


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Use the package style inside a ``with`` block, on matplotlib's defaults (global rcParams
    are restored after).

    The caller's settings (a ``matplotlibrc`` in the working folder or ``$MPLCONFIGDIR``,
    ``plt.rcParams`` set earlier in the session) do not reach the figure: applied on top of
    them, ``font.family: monospace`` or ``axes.linewidth: 3`` gave other bytes, another font
    and other caption breaks.
    """
    import matplotlib.pyplot as plt

    with plt.style.context(["default", style_path()]):
        yield


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` as a tuple of the formats :func:`save_figure` writes byte-stably (png, pdf,
    svg; any case) without repeats, else :class:`ArgumentError`. Checked before a figure is
    drawn: a string "png" would be read as p, n, g, and jpg or eps failed (or were not
    byte-stable) after; a repeated format drew and listed its file twice."""
    given: object = formats  # typed as a sequence; a notebook may pass a string all the same
    if isinstance(given, str):
        raise ArgumentError(f"formats must be a tuple of formats, got {given!r}; pass ({given!r},)")
    if not isinstance(given, Iterable):  # None or 3 met a bare TypeError (not iterable)
        raise ArgumentError(
            f"formats must be a tuple of formats, got {shown(given)}; pass e.g. ('png',)"
        )
    checked = (
        check_choice("format", fmt.lower() if isinstance(fmt, str) else fmt, tuple(_METADATA))
        for fmt in formats
    )
    out = tuple(dict.fromkeys(checked))
    if not out:  # a figure drawn and saved nowhere, without a word
        raise ArgumentError("formats is empty; pass at least one, e.g. ('png',)")
    return out


def save_figure(
    fig: Any, path: str | os.PathLike[str], *, formats: tuple[str, ...] = ("png", "pdf")
) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; identical bytes on every run.

    Dates and software versions are left out of the metadata (the reason PDFs usually differ
    between runs). Every format is drawn in full into a staging folder beside the targets
    before any is renamed into place (:func:`nb201_flat.atomic.replace_files`), so a failure
    while drawing one format leaves the previous files of all formats as they were. The
    package style is applied while saving, since ``savefig.*``, ``pdf.fonttype`` and
    ``svg.hashsalt`` are read at save time, not when the figure is drawn.

    The layout and the tight bounding box are computed once and every format is drawn with
    them (``savefig`` alone lays the figure out and draws it twice per format): all formats
    show the same layout, in about half the time. The figure's layout engine is restored
    after.

    ``path`` names the files without their suffix: ``out/fig`` (or ``out/fig.png``, whose
    format suffix is dropped) gives ``out/fig.png`` and ``out/fig.pdf``; any other dotted
    tail stays (``out/r1.5`` gives ``out/r1.5.png``).
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):  # e.g. the Axes a plot_* function returns
        raise ArgumentError(
            f"save_figure needs a matplotlib Figure, got {type(fig).__name__}; "
            "pass ax.figure for the Axes a plot function returned"
        )
    path = check_path("path", path)
    formats = check_formats(formats)
    supported = fig.canvas.get_supported_filetypes()
    base = Path(path)
    if not base.name or base.name in (".", ".."):  # Path("") is ".": no file name to write
        raise ArgumentError(f"save_figure needs a file name, got {str(path)!r}; e.g. 'out/fig'")
    if base.suffix.lower().lstrip(".") in supported:  # "fig.png": the stem is "fig"
        base = base.with_suffix("")
    written = []
    engine = fig.get_layout_engine()
    with figure_style():
        if engine is not None:  # the layout, once for every format (no draw needed for it)
            engine.execute(fig)
        bbox = mpl.rcParams["savefig.bbox"]
        if bbox == "tight":
            pad = mpl.rcParams["savefig.pad_inches"]
            bbox = fig.get_tightbbox().padded(pad)
        # no engine: savefig neither lays out again nor draws an extra time to measure
        fig.set_layout_engine(None)
        try:
            with staged_files(base.parent) as stage:
                for fmt in formats:
                    # appended, never replacing: "run1.5" must not become "run1.png"
                    name = f"{base.name}.{fmt}"
                    with (stage / name).open("wb") as f:
                        fig.savefig(
                            f, format=fmt, metadata=_METADATA.get(fmt, {}), bbox_inches=bbox
                        )
                    written.append(base.with_name(name))
        finally:
            fig.set_layout_engine(engine)
    return written


# what each format would otherwise stamp with the date or the software's version
_METADATA: dict[str, dict[str, Any]] = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}
