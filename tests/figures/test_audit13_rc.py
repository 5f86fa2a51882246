"""Audit 13: a figure's bytes do not depend on the user's matplotlib settings (a matplotlibrc in
the working folder or in ``$MPLCONFIGDIR``, ``plt.rcParams`` set earlier in the session), and
``figures --json`` names its wall-clock times ``wall_seconds``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib as mpl
import pytest

from nb201_flat.cli import main
from nb201_flat.figures import render
from nb201_flat.table import Table

# a figure with a wrapped caption (its breaks are measured in the style's font), violins,
# lines and text
FIGURE = "distance_profile"
# what each changed the figure's bytes by: another font and caption breaks, thicker lines,
# other anti-aliasing, another font size
USER_RC = {
    "font.family": ["monospace"],
    "axes.linewidth": 3.0,
    "lines.linewidth": 5.0,
    "text.antialiased": False,
    "font.size": 14.0,
}


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_render_ignores_rcparams_set_earlier_and_restores_them(
    figure_table: Table, tmp_path: Path
) -> None:
    formats = ("png", "pdf", "svg")
    render(FIGURE, figure_table, tmp_path / "clean", formats=formats)
    with mpl.rc_context(USER_RC):
        render(FIGURE, figure_table, tmp_path / "user", formats=formats)
        # the user's settings are theirs again after the figure
        assert {k: mpl.rcParams[k] for k in USER_RC} == USER_RC
    assert _digests(tmp_path / "user") == _digests(tmp_path / "clean")


def _config_dir(path: Path, rc: str | None) -> Path:
    """A matplotlib config folder holding ``rc`` as its matplotlibrc (None: none), with this
    installation's font list (built again, it takes seconds)."""
    path.mkdir()
    for fonts in Path(mpl.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy(fonts, path)
    if rc is not None:
        (path / "matplotlibrc").write_text(rc)
    return path


@pytest.mark.slow
def test_the_cli_ignores_a_matplotlibrc_in_the_working_or_config_folder(
    saved_figure_table: Path, tmp_path: Path
) -> None:
    # font.family: monospace in ./matplotlibrc gave other bytes (another font, a 770x2082
    # PNG for 746x2144 on the real table); axes.linewidth: 3 in $MPLCONFIGDIR/matplotlibrc too
    cwd_rc = tmp_path / "cwd_rc"
    cwd_rc.mkdir()
    (cwd_rc / "matplotlibrc").write_text("font.family: monospace\ntext.antialiased: False\n")
    clean = tmp_path / "cwd_clean"
    clean.mkdir()
    runs = {
        "clean": (clean, _config_dir(tmp_path / "cfg_clean", None)),
        "cwd": (cwd_rc, _config_dir(tmp_path / "cfg_cwd", None)),
        "config": (clean, _config_dir(tmp_path / "cfg_rc", "axes.linewidth: 3\nfont.size: 14\n")),
    }
    for name, (cwd, config) in runs.items():
        cmd = [sys.executable, "-m", "nb201_flat", "figures", "--only", FIGURE]
        cmd += ["--out", str(tmp_path / name), "--table", str(saved_figure_table)]
        env = {**os.environ, "MPLCONFIGDIR": str(config)}
        subprocess.run(cmd, check=True, capture_output=True, timeout=300, cwd=cwd, env=env)
    want = _digests(tmp_path / "clean")
    assert len(want) == 2
    assert _digests(tmp_path / "cwd") == want
    assert _digests(tmp_path / "config") == want


def test_figures_json_names_its_wall_clock_times(
    capsys: pytest.CaptureFixture[str], saved_figure_table: Path, tmp_path: Path
) -> None:
    # "seconds" was the command's wall-clock time here and search's simulated time there
    argv = ["figures", "--only", FIGURE, "--out", str(tmp_path), "--json"]
    assert main([*argv, "--table", str(saved_figure_table)]) == 0
    made = json.loads(capsys.readouterr().out)
    assert "seconds" not in made and made["wall_seconds"] > 0
    (figure,) = made["figures"]
    assert "seconds" not in figure and figure["wall_seconds"] > 0
