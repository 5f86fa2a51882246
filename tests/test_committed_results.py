"""The committed reproduction (``results/reproduce_nb201``) is what the command beside it in
``results/README.md`` writes today: every CSV byte for byte, and the report apart from its run
time. A change to the search, the statistics or the report's words that is not followed by a
re-run fails here, not in a reader's hands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nb201_flat.cli import main
from nb201_flat.storage import save_table
from nb201_flat.table import Table

pytestmark = pytest.mark.realdata

COMMITTED = Path(__file__).resolve().parents[1] / "results" / "reproduce_nb201"
README = COMMITTED.parent / "README.md"


def _without_run_time(report: str) -> str:
    """The report less its run time and its table's parquet digest, which another pyarrow
    writes otherwise for the same values (the table's source stays)."""
    report = re.sub(r"(table\.parquet sha256) [0-9a-f]{64}\.", r"\1 ….", report)
    return re.sub(r" Took \d+(\.\d+)? s\.", "", report)


def test_committed_reproduction_is_what_its_command_writes(
    real_table: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the command as results/README.md gives it, the table in a folder of the test's own
    command = "nb201-flat reproduce --table /tmp/real.nb201 --out results/reproduce_nb201"
    assert f"**Command:** `{command}`" in README.read_text(encoding="utf-8")
    table = save_table(real_table, tmp_path / "real.nb201")
    out = tmp_path / "reproduce_nb201"
    assert main(["reproduce", "--table", str(table), "--out", str(out)]) == 0
    capsys.readouterr()
    # the per-run table and the curves are written too, and not committed (.gitignore)
    uncommitted = {"runs.csv.gz", "curves.csv"}
    committed = sorted(p.name for p in COMMITTED.iterdir() if p.name not in uncommitted)
    assert committed == sorted(
        ["accounting.csv", "anchors.csv", "matched.csv", "paired.csv", "report.md",
         "routes.csv", "summary.csv"]
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted([*committed, *uncommitted])
    for name in committed:
        new, old = (out / name).read_text(encoding="utf-8"), (COMMITTED / name).read_text("utf-8")
        if name == "report.md":
            new, old = _without_run_time(new), _without_run_time(old)
            assert "Took" not in new and "Took" not in old  # the clause found, and only it
            assert "table.parquet sha256 …." in new and "table.parquet sha256 …." in old
        assert new == old, f"{name} differs from what the command writes: re-run it"
