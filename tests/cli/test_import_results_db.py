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
    assert f"pass --space as one of {keys}" in err  # the flag: no Python keyword here
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
    assert code == 2 and "error: --space applies only to results-db files" in err
    assert "is tidy" in err
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


# -- a retrained table's network size survives the tidy long format ---------------------------
SMALL = "nb201@C4N1#faithful"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_network_size_survives_a_tidy_round_trip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    # it was lost: analytic costs of the re-imported table described NB201's C=16, N=5 network
    from nb201_flat.costs import network_size, with_analytic_costs
    from nb201_flat.importers.results_db import read_results_db
    from nb201_flat.storage import load_table
    from nb201_flat.table import Table

    table = read_results_db(write_db(tmp_path / "small.sqlite", [(SMALL, 7, 777)]))
    assert network_size(table) == (4, 1)
    df = table.to_tidy()
    path = tmp_path / f"t{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    out = tmp_path / "t.nb201"
    code, _, err = run(capsys, "import", str(path), "--out", str(out))
    assert code == 0, err
    back = load_table(out)
    assert network_size(back) == (4, 1) and back.meta["space_key"] == SMALL
    assert network_size(Table.from_tidy(df)) == (4, 1)  # in memory too
    params = "cifar10/model@200ep:params_mb_analytic"
    assert (
        with_analytic_costs(back).record(7)[params] == with_analytic_costs(table).record(7)[params]
    )


def _frame(**extra: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index": [0, 1],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 2,
            "metric": "accuracy",
            "value": [50.0, 60.0],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("space", "why"),
    [
        ([SMALL, "nb201#faithful"], "holds rows of 2 space keys ('nb201#faithful', "),
        ("nb201@c4n1", "'nb201@c4n1' is not a space key"),
        ("nb201@C4", "'nb201@C4' is not a space key"),
        ("", "column 'space': '' is empty"),
    ],
)
def test_a_space_column_that_cannot_be_kept_is_refused(space: object, why: str) -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.table import Table

    with pytest.raises(FormatError) as exc:
        Table.from_tidy(_frame(space=space), source="f.csv")
    assert why in str(exc.value) and "\n" not in str(exc.value)


def test_a_space_column_other_than_the_space_or_meta_given_is_refused() -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.space import Space
    from nb201_flat.table import Table
    from nb201_flat.train.jobs import space_key

    small = Space(("none", "skip_connect", "nor_conv_3x3"), 3)
    key = space_key(small, c=4, n=1)
    table = Table.from_tidy(
        _frame(space=key)
        .drop(columns="index")
        .assign(arch=[small.arch(0).to_str(), small.arch(1).to_str()])
    )
    assert table.space == small and table.meta["space_key"] == key  # the file's own space
    with pytest.raises(FormatError, match="names another space than the one given"):
        Table.from_tidy(_frame(space=key), space=NB201, source="f.csv")
    with pytest.raises(FormatError, match=f"holds space key {SMALL!r}, but meta names 'nb201'"):
        Table.from_tidy(_frame(space=SMALL), meta={"space_key": "nb201"}, source="f.csv")


# -- --space goes through import_table, the one entry of every importer ---------------------------
def test_import_table_takes_the_space_of_a_results_database(tmp_path: Path) -> None:
    from nb201_flat.errors import ArgumentError
    from nb201_flat.importers import import_table

    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777), (SMALL, 7, 777)])
    assert import_table(src, space=SMALL).meta["space_key"] == SMALL
    csv = tmp_path / "t.csv"
    _frame().to_csv(csv, index=False)
    with pytest.raises(ArgumentError) as exc:
        import_table(csv, space="nb201")
    assert str(exc.value) == (
        f"space applies only to results-db files (what `nb201-flat train` writes), "
        f"and {csv} is tidy; drop it"
    )


def test_import_with_space_applies_the_checks_of_import_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --space read the database itself: a check import_table makes was skipped with it
    import nb201_flat.importers as importers
    from nb201_flat.errors import FormatError

    def refuse(*args: object, **kwargs: object) -> None:
        raise FormatError(f"import_table refuses {kwargs.get('space')}")

    monkeypatch.setattr(importers, "import_table", refuse)
    src = write_db(tmp_path / "mix.sqlite", [("nb201#faithful", 7, 777), (SMALL, 7, 777)])
    code, _, err = run(capsys, "import", str(src), "--out", str(tmp_path / "o"), "--space", SMALL)
    assert (code, err) == (2, f"error: import_table refuses {SMALL}\n")
