"""Figures drawn in worker processes: the same bytes as one at a time, skips reported in order."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
from pathlib import Path

import pytest

from nb201_flat.cli import main
from nb201_flat.figures import render_many
from nb201_flat.figures._common import FigureSkipped
from nb201_flat.table import Table


def _needs_fork(why: str) -> pytest.MarkDecorator:
    """Skip where the platform cannot fork: ``why`` says what reaches the workers by fork."""
    return pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason=why)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_two_workers_write_the_bytes_one_writes(
    saved_figure_table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["figures", "--table", str(saved_figure_table), "--only"]
    names = ["distance_profile", "barrier_tree", "a2m_paths"]
    assert main([*argv, *names, "--out", str(tmp_path / "one"), "--jobs", "1"]) == 0
    capsys.readouterr()
    assert main([*argv, *names, "--out", str(tmp_path / "two"), "--jobs", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in doc["figures"]] == names  # in the order asked, not finished
    one = _digests(tmp_path / "one")
    assert len(one) == 6 and one == _digests(tmp_path / "two")


def test_workers_report_skips_in_order(cifar10_only_table: Table, tmp_path: Path) -> None:
    names = ["flat_vs_sharp", "distance_profile", "search_curves"]
    got = list(render_many(names, cifar10_only_table, tmp_path, formats=("png",), workers=2))
    assert [n for n, _ in got] == names
    skip, made, skip2 = (r for _, r in got)
    assert isinstance(skip, FigureSkipped) and isinstance(skip2, FigureSkipped)
    assert str(skip).startswith("needs cifar100/x-valid@200ep:accuracy")
    assert skip.figure == "flat_vs_sharp" and "x-valid@12" in str(skip2)
    assert not isinstance(made, FigureSkipped) and made.files == (
        tmp_path / "distance_profile.png",
    )
    assert made.files[0].is_file()


def test_jobs_must_be_positive(saved_figure_table: Path, tmp_path: Path) -> None:
    code = main(
        ["figures", "--table", str(saved_figure_table), "--out", str(tmp_path), "--jobs", "0"]
    )
    assert code == 2
    assert not any(tmp_path.iterdir())


def _render_or_die(name: str, *args: object, **kwargs: object) -> object:
    """Stands in for ``render`` in a forked worker: dies or raises for one figure each."""
    import os

    if name == "barrier_tree":
        os._exit(7)  # as an out-of-memory kill would end it: no result sent
    raise ValueError(f"broken {name}")


@_needs_fork("the stand-in reaches the worker by fork")
def test_a_dead_worker_is_a_clear_error_and_an_exception_comes_back(
    cifar10_only_table: Table,
    saved_figure_table: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nb201_flat.figures.registry as registry
    from nb201_flat.errors import ResourceLimitError

    monkeypatch.setattr(registry, "render", _render_or_die)
    # the library names render_many's parameters, the command its flags
    argv = ["figures", "--table", str(saved_figure_table), "--out", str(tmp_path / "cli")]
    assert main([*argv, "--only", "barrier_tree", "distance_profile", "--jobs", "2"]) == 2
    assert capsys.readouterr().err.endswith(
        "out of memory?); draw it with --jobs 1 or alone (--only NAME)\n"
    )
    with pytest.raises(
        ResourceLimitError,
        match=r"barrier_tree died \(exit code 7.* with workers=1 or alone \(names=NAME\)$",
    ):
        list(
            render_many(
                ["barrier_tree", "distance_profile"],
                cifar10_only_table,
                tmp_path,
                formats=("png",),
                workers=2,
            )
        )
    with pytest.raises(ValueError, match="broken distance_profile"):
        list(
            render_many(
                ["distance_profile", "a2m_paths"],
                cifar10_only_table,
                tmp_path,
                formats=("png",),
                workers=2,
            )
        )


def _render_deaf_or_die(name: str, table: object, out_dir: str, **kwargs: object) -> object:
    """Stands in for ``render`` in a forked worker: barrier_tree lives on after SIGTERM (as a
    child that escaped into its parent's code did); distance_profile dies once it does."""
    import os
    import signal
    import time

    ready = Path(out_dir) / "deaf.ready"
    if name == "barrier_tree":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ready.touch()
        time.sleep(60)
        os._exit(0)
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(7)


@_needs_fork("the stand-in reaches the worker by fork")
def test_a_worker_deaf_to_sigterm_is_killed_not_waited_for(
    cifar10_only_table: Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # render_many's cleanup joined the workers it terminated without a bound: one that lived
    # on held the command (and a pytest worker) for ever
    import time

    import nb201_flat.figures.registry as registry
    from nb201_flat.errors import ResourceLimitError

    monkeypatch.setattr(registry, "render", _render_deaf_or_die)
    started = time.monotonic()
    with pytest.raises(ResourceLimitError, match="distance_profile died"):
        list(
            render_many(
                ["distance_profile", "barrier_tree"],  # awaited in order: barrier_tree is alive
                cifar10_only_table,
                tmp_path,
                formats=("png",),
                workers=2,
            )
        )
    assert time.monotonic() - started < 30  # not barrier_tree's 60 s


def test_figures_that_run_searches_say_so() -> None:
    """render_many loads the search kernels up front for exactly the figures declaring it."""
    import importlib.util
    import re

    from nb201_flat.figures.registry import FIGURES

    for spec in FIGURES.values():
        origin = importlib.util.find_spec(spec.module).origin  # type: ignore[union-attr]
        source = Path(str(origin)).read_text()
        searches = re.search(r"^\s*from nb201_flat\.search[\w.]* import", source, re.M)
        assert spec.runs_searches == bool(searches), spec.name


@_needs_fork("the kernels are shared with the workers by fork")
def test_a_figure_without_searches_is_drawn_while_the_kernels_load(
    cifar10_only_table: Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the parent loads the search kernels (1-1.5 s) once for its searching workers; a worker
    # forked before would not share them, one forked after waits: a figure that needs none
    # is started first, and the searching ones after the load
    import multiprocessing.context as mpc

    import nb201_flat.search.compiled as compiled

    events: list[str] = []
    start = mpc.ForkProcess.start
    monkeypatch.setattr(
        mpc.ForkProcess, "start", lambda self: (events.append(self._args[2]), start(self))[1]
    )
    monkeypatch.setattr(compiled, "load_kernels", lambda jobs=1: events.append("kernels"))
    names = ["search_curves", "na_projection", "distance_profile"]
    got = list(render_many(names, cifar10_only_table, tmp_path, formats=("png",), workers=2))
    assert [n for n, _ in got] == names
    assert events[:2] == ["distance_profile", "kernels"]
    assert sorted(events[2:]) == ["na_projection", "search_curves"]


@_needs_fork("the stand-in makers reach the workers by fork")
def test_a_worker_tells_unmeasured_reads_from_the_computation_s_nan(
    cifar10_only_table: Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each worker keeps the record of the vectors its figure read: an unmeasured one makes the
    # MissingValueError a skip there, which comes back whole (figure, needs, why)
    import numpy as np

    from nb201_flat.errors import MissingValueError
    from nb201_flat.figures import profile, tree

    key = cifar10_only_table.key("cifar10", "ori-test", 200)

    def maker(table: Table) -> None:
        table.vector_for(key)
        raise MissingValueError("no value where the figure looked")

    for module, fn in ((tree, "make_barrier_tree"), (profile, "make_distance_profile")):
        monkeypatch.setattr(module, fn, maker)
    names = ["barrier_tree", "distance_profile"]
    v = cifar10_only_table.vector_for(key).copy()
    v[::2] = np.nan
    sparse = Table(cifar10_only_table.space, {(key, None): v}, source="half")
    got = dict(render_many(names, sparse, tmp_path, formats=("png",), workers=2))
    for name in names:
        skip = got[name]
        assert isinstance(skip, FigureSkipped) and skip.figure == name
        assert skip.needs == ("values measured where the figure reads them",)
        assert skip.why == "no value where the figure looked"
    with pytest.raises(MissingValueError, match="no value where the figure looked"):
        list(render_many(names, cifar10_only_table, tmp_path, formats=("png",), workers=2))


class _TwoPartError(Exception):
    """An error whose constructor takes other arguments than its message (as many do)."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def _render_raising(name: str, *args: object, **kwargs: object) -> object:
    raise _TwoPartError(f"broken {name}", "a bug")


@_needs_fork("the stand-in reaches the worker by fork")
def test_a_worker_error_that_does_not_load_back_keeps_its_message(
    cifar10_only_table: Table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it pickled in the worker but its constructor refused the message alone in the parent:
    # a TypeError about __init__'s arguments hid what went wrong
    import copyreg

    import nb201_flat.figures.registry as registry

    # dask's import installs tblib's reducer for every exception class then defined, which
    # loads such errors without their constructor: this test needs plain pickling
    monkeypatch.delitem(copyreg.dispatch_table, _TwoPartError, raising=False)
    monkeypatch.setattr(registry, "render", _render_raising)
    names = ["distance_profile", "a2m_paths"]
    with pytest.raises(RuntimeError, match="broken distance_profile: a bug"):
        list(render_many(names, cifar10_only_table, tmp_path, formats=("png",), workers=2))
