"""Every notebook runs top to bottom from a fresh kernel, and its .ipynb twin is in sync.

The jupytext percent script ``notebooks/NN_name.py`` is the source of truth; each is converted
with jupytext and executed with nbclient on the ``python3`` kernel of this interpreter. The
notebooks choose their table themselves: the real NB201 data when
``$NB201_FLAT_SHARED_DATA`` (default ``../shared/data/nb201``) holds it, else the embedded
default; both paths must work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb201_flat.figures.notebook import SHARED_ENV, TIDY_NAME, shared_data_dir

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
CELL_TIMEOUT_S = 180

# Injected around each notebook (issue 12 item 9): the first cell records every Figure made and
# every DataFrame displayed, the last prints what tests/_readable.py finds wrong with them.
# Only the source goes in: no `from __future__` (the kernel would apply it to every later cell).
READABLE = (Path(__file__).resolve().parent / "_readable.py").read_text()
READABLE = READABLE.replace("from __future__ import annotations\n", "")
PROBE_MARK = "<<readable>>"
PROBE = (
    READABLE
    + """
import matplotlib.figure as _readable_mf
import pandas as _readable_pd
from IPython import get_ipython as _readable_ip

_readable_figures, _readable_frames = [], []
_readable_init = _readable_mf.Figure.__init__


def _readable_record_figure(self, *args, **kwargs):
    _readable_init(self, *args, **kwargs)
    _readable_figures.append(self)


_readable_mf.Figure.__init__ = _readable_record_figure
# display() and a cell's last value both go through the display formatter
_readable_formatter = _readable_ip().display_formatter
_readable_format = _readable_formatter.format


def _readable_record_display(obj, *args, **kwargs):
    if isinstance(obj, _readable_pd.DataFrame):
        _readable_frames.append(obj)
    return _readable_format(obj, *args, **kwargs)


_readable_formatter.format = _readable_record_display
"""
)
REPORT = (
    "import json as _readable_json\n"
    f"print({PROBE_MARK!r} + _readable_json.dumps("
    "axes_problems(_readable_figures) + frame_problems(_readable_frames)))"
)


def test_the_five_notebooks_exist() -> None:
    assert [p.stem for p in SCRIPTS] == [
        "01_explore_flatness",
        "02_reproduce_na_rs_vs_rs",
        "03_paper_figures",
        "04_retrain_an_architecture",
        "05_campaign_beyond_the_table",
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_ipynb_twin_is_in_sync_and_stripped(script: Path) -> None:
    twin = script.with_suffix(".ipynb")
    assert twin.is_file(), f"run `jupytext --sync {script}` to create {twin.name}"
    from_py = jupytext.read(script)
    from_nb = jupytext.read(twin)
    sources = [(c.cell_type, c.source) for c in from_py.cells]
    assert sources == [(c.cell_type, c.source) for c in from_nb.cells], (
        f"{twin.name} differs from {script.name}; run `jupytext --sync notebooks/*.py`"
    )
    for cell in from_nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{twin.name} holds outputs; strip them (jupytext --sync keeps them out)"
            )


@pytest.mark.parametrize("data", ["shared", "default"])
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_runs_from_a_fresh_kernel(
    script: Path, data: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shared``: the real data when present (else the default); ``default``: forced."""
    shared = tmp_path / "no-shared-data" if data == "default" else shared_data_dir()
    # the kernel inherits the environment: name the shared folder explicitly
    monkeypatch.setenv(SHARED_ENV, str(shared))
    nb = jupytext.read(script)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    # a notebook's scratch folders are its own to remove (issue 12 item 9); the kernel gets a
    # temp folder of its own, so other processes' folders cannot confuse the check
    scratch = tmp_path / "kernel-tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    # no wall-clock assertion: CI runs this beside three other workers on two cores, and a
    # cold numba cache triples a first run; CELL_TIMEOUT_S still stops a hung cell
    client.execute()
    assert not list(scratch.glob("nb201-*")), "a notebook left its scratch folder"
    printed = "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )
    real = (shared / TIDY_NAME).is_file()
    if "Table:" in printed:
        assert ("real NB201 data" if real else "embedded default") in printed
    if "%matplotlib inline" in script.read_text():
        kinds = {
            kind
            for cell in nb.cells
            for out in cell.get("outputs", [])
            for kind in out.get("data", {})
        }
        assert "image/png" in kinds, "figures did not display"
    # every plot labels both axes; no two displayed architecture rows look the same
    report = "".join(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    assert report.startswith(PROBE_MARK), report
    problems = json.loads(report[len(PROBE_MARK) :])
    assert problems == [], f"{script.name}:\n" + "\n".join(problems)
