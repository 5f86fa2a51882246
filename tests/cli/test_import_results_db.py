"""``nb201-flat import`` of a results database (the --db of ``nb201-flat train``)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest

from nb201_flat.cli import main
from nb201_flat.space import NB201


def write_db(path: Path, runs: list[tuple[str, int, int]]) -> Path:
    """A database of finished two-epoch cifar10 runs ``(space key, index, seed)``."""
    from nb201_flat.train.results_db import ResultsDB

    db = ResultsDB(path)
    for space, index, seed in runs:
        key = (space, NB201.arch(index).to_str(), "cifar10", 2, seed)
        for epoch in (1, 2):
            db.write_epoch(
                key,
                index,
                epoch,
                {"train": (0.5, 80.0, 3.0), "ori-test": (0.4, 90.0 + seed % 7, 1.0)},
            )
        db.mark_run(key, index, "done")
    db.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("other", ["nb201#fast-bf16", "nb201@C4N1#faithful"])
def test_a_database_of_several_modes_or_sizes_imports_one_with_space(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, other: str
) -> None:
    # train's help: modes and sizes share one --db; the refusal named `space=`, which import
    # had no option for
    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777), (other, 7, 777)])
    out = tmp_path / "mix.nb201"
    code, _, err = run(capsys, "import", str(src), "--out", str(out))
    keys = ", ".join(sorted(["nb201#faithful", other]))
    assert code == 2 and err.count("\n") == 1
    assert f"pass space= (import --space) one of {keys}" in err
    code, stdout, _ = run(capsys, "import", str(src), "--out", str(out), "--space", other, "--json")
    assert code == 0 and json.loads(stdout)["source"] == f"retraining results mix.sqlite ({other})"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["meta"]["space_key"] == other
    # the stored command rebuilds the same slice
    assert shlex.split(manifest["meta"]["import_command"])[-2:] == ["--force", f"--space={other}"]


def test_space_on_another_format_or_with_unsafe_pickle_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "t.csv"
    pd.DataFrame(
        {
            "index": [0],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 200,
            "metric": "accuracy",
            "value": [1.0],
        }
    ).to_csv(src, index=False)
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--space", "nb201")
    assert code == 2 and "--space applies only to results-db files" in err and "is tidy" in err
    db = write_db(tmp_path / "d.sqlite", [("nb201", 7, 777)])
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "import",
                str(db),
                "--out",
                str(tmp_path / "o"),
                "--space",
                "nb201",
                "--allow-unsafe-pickle",
            ]
        )
    assert exc.value.code == 2
    assert "not allowed with argument --space" in capsys.readouterr().err


def test_a_space_the_database_lacks_is_named_with_those_it_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777)])
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--space", "nb201")
    assert code == 2 and "no results of space 'nb201'; it holds nb201#faithful" in err


def test_seed_policies_name_training_seeds_after_import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # seeds were ranked (1, 2, 777 -> 0, 1, 2): --seed-policy 2 printed seed 777's accuracy
    src = write_db(tmp_path / "s.sqlite", [("nb201", 7, 777), ("nb201", 7, 1), ("nb201", 7, 2)])
    table = tmp_path / "s.nb201"
    assert run(capsys, "import", str(src), "--out", str(table))[0] == 0
    query = ["query", "7", "--table", str(table), "--dataset", "cifar10", "--split", "ori-test"]
    for seed in (1, 2, 777):
        code, out, _ = run(capsys, *query, "--epochs", "2", "--seed-policy", str(seed), "--json")
        assert code == 0 and json.loads(out)["value"] == 90.0 + seed % 7
    code, out, err = run(capsys, *query, "--epochs", "2", "--seed-policy", "0")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: seed 0 is not stored") and "stored seeds: [1, 2, 777]" in err
    code, out, _ = run(capsys, "record", "7", "--table", str(table), "--json")
    entry = next(e for e in json.loads(out)["entries"] if e["split"] == "ori-test")
    assert code == 0 and entry["seeds"] == {"1": 91.0, "2": 92.0, "777": 90.0}
