"""The second read's findings on the fourteenth round's fixes: both stop signals held in one
block are acted on, SIGTERM last (the second was lost: a Ctrl-C and a scheduler's kill in one
compile ended as interrupted, and a caught KeyboardInterrupt left the SIGTERM undone); a
notebook's widget bars are not redrawn as text on stderr; a bar takes its file by position,
and its stream can be copied."""

from __future__ import annotations

import copy
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nb201_flat.budget import BarStream, tqdm_class
from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table

_BOTH = """
    import os, signal
    from nb201_flat.pools import stop_signals_held
    signal.signal(signal.SIGINT, signal.default_int_handler)  # an xdist worker's child ignores it
    got = []
    def term(s, f):
        got.append("TERM")
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, term)
    try:
        with stop_signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
    except SystemExit as exc:
        print(exc.code, type(exc.__context__).__name__, got)
"""


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_both_held_signals_are_acted_on_sigterm_last() -> None:
    assert _run(_BOTH) == "143 KeyboardInterrupt ['TERM']"


_NOTEBOOK = """
    import importlib.util, sys, types
    import tqdm.notebook as nb
    fake = types.ModuleType("tqdm.autonotebook")  # what a Jupyter kernel with widgets picks
    fake.tqdm, fake.trange = nb.tqdm, nb.trange
    sys.modules["tqdm.autonotebook"] = fake
    find = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: object() if name == "ipywidgets" else find(name, *a)
    from tqdm.auto import tqdm as auto
    from nb201_flat.budget import tqdm_class
    print(tqdm_class() is auto)
"""


def test_a_notebooks_widget_bars_are_left_as_they_are() -> None:
    assert _run(_NOTEBOOK) == "True"


def test_a_bar_takes_its_file_by_position() -> None:
    out = io.StringIO()
    bar = tqdm_class()(range(3), "demo", 3, False, out, mininterval=0)
    list(bar)
    bar.close()
    assert "demo" in out.getvalue()


def test_a_bar_stream_can_be_copied() -> None:
    stream = BarStream(io.StringIO())
    twin = copy.copy(stream)
    assert twin.write("x") == 1


@pytest.mark.parametrize("fails", [BrokenPipeError, ValueError])
def test_a_bar_stream_turns_off_on_its_first_failed_write(fails: type[Exception]) -> None:
    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise fails("gone")

    stream = BarStream(Gone())
    assert stream.write("x") == 0 and stream.failed


# -- the figures' forks hold the stop signals too ---------------------------------------------------
_FIGURES_FORK = """
    import os, signal, sys
    sent = []

    def hook():  # after a figure's fork, in the parent
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.{sig})

    os.register_at_fork(after_in_parent=hook)
    from nb201_flat.cli import main
    sys.exit(main(["figures", "--only", "distance_profile", "flat_vs_sharp", "--jobs", "2",
                   "--formats", "svg", "--table", {table!r}, "--out", {out!r}]))
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_stop_signal_in_a_figures_fork_stops_the_command(sig: str, tmp_path: Path) -> None:
    # the handler's exception, raised in an at-fork hook, was dropped and every figure drawn
    folder = tmp_path
    table = str(save_table(synthetic_table(), folder / "t.nb201"))
    out = folder / "figs"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_FIGURES_FORK.format(sig=sig, table=table, out=str(out))),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NB201_FLAT_CACHE": str(folder / "cache")},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == {"SIGINT": 130, "SIGTERM": 143}[sig], done.stderr[-2000:]
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    # a figure a worker finished before the stop may be there, whole, and a worker stopped
    # while writing leaves its staging folder, which the next write removes (atomic.recover)
    left = sorted(f.name for f in out.iterdir()) if out.exists() else []
    staged = ".nb201_flat-staged.tmp-"
    assert all(n.endswith(".svg") or n.startswith(staged) for n in left), left
    assert not any(n.startswith(".") and not n.startswith(staged) for n in left), left
