"""Errors beyond ArgumentError name Python parameters too (errors.ParamMessage): a protocol's
fix, a table's seed policy, a cost limit, a file's overwrite, a dataset's folders. The Python
API reads the parameters; the command line respells each as its flag (cli.common.error_line),
so its lines keep naming flags."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from cli_helpers import one_line_exit_2

from nb201_flat.errors import (
    ConstraintError,
    DatasetNotFoundError,
    MissingValueError,
    NoPathError,
    Param,
    ParamMessage,
    ProtocolError,
    ResourceLimitError,
    SearchBudgetError,
    TableFileError,
    UnknownKeyError,
)
from nb201_flat.storage import save_table
from nb201_flat.table import Table


@pytest.fixture(scope="module")
def synth_table() -> Table:
    from nb201_flat.testing import synthetic_table

    return synthetic_table()


@pytest.fixture
def table_path(synth_table: Table, tmp_path: Path) -> str:
    return str(save_table(synth_table, tmp_path / "s.nb201"))


@pytest.mark.parametrize(
    "err",
    [
        ProtocolError(
            ("a run never ends (", Param("n"), ")"), ("use ", Param("repeats", "charge"))
        ),
        ProtocolError("no fix"),
        TableFileError("out exists; pass ", Param("overwrite", True), " to replace it"),
        UnknownKeyError("seed 5 is not stored; use ", Param("seed_policy", "mean")),
        ConstraintError("raise ", Param("max_cost")),
        DatasetNotFoundError("pass ", Param("data_root", placeholder="DIR")),
        SearchBudgetError("give a smaller ", Param("budget_scale")),
        ResourceLimitError("pass fewer jobs (", Param("jobs"), ")"),
        MissingValueError("no pair; draw at any distance (", Param("distance", None), ")"),
        NoPathError("no path joins 0 and 7; pass ", Param("nan_policy", "omit")),
    ],
)
def test_a_worker_s_error_keeps_its_parameters_through_pickle(err: ParamMessage) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and back.parts == err.parts and str(back) == str(err)
    assert "--" not in str(err)  # the library names no flag
    flag = back.spelled(lambda p: "--" + p.name.replace("_", "-"))
    assert flag != str(err) or not any(isinstance(p, Param) for p in err.parts)
    if isinstance(err, ProtocolError):  # a figure quotes the problem alone, without the fix
        assert isinstance(back, ProtocolError)
        assert (back.problem, back.fix) == (err.problem, err.fix)


def test_a_protocol_error_s_problem_and_fix_name_parameters() -> None:
    err = ProtocolError(
        ("a run never ends (", Param("n"), ")"), ("use ", Param("repeats", "charge"))
    )
    assert str(err) == "a run never ends (n); use repeats='charge'"
    assert (err.problem, err.fix) == ("a run never ends (n)", "use repeats='charge'")
    assert err.spelled(lambda p: f"--{p.name}") == "a run never ends (--n); use --repeats"


# -- the command line's lines name its flags, as before; the Python messages the parameters ----
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["--fixed-n", "20000", "--repeats", "cache"],
            "lower it to at most 15,624 (--fixed-n) or use --repeats charge",
        ),
        (["--fixed-n", "2000000"], "lower the budget (--fixed-n)"),
    ],
)
def test_search_refusals_name_the_search_flags(
    capsys: pytest.CaptureFixture[str], table_path: str, argv: list[str], fragment: str
) -> None:
    base = ["search", "--algo", "rs", "--protocol", "fixed-n", "--runs", "1", "--table", table_path]
    line = one_line_exit_2(capsys, *base, *argv)
    assert fragment in line, line
    assert "repeats=" not in line and "(n)" not in line


def test_a_time_budget_below_the_cheapest_query_names_budget_scale(
    capsys: pytest.CaptureFixture[str], synth_table: Table, table_path: str
) -> None:
    from nb201_flat.search.protocol import protocols_by_name

    (scaled,) = protocols_by_name("nb201", synth_table, budget_scale=1e-7)
    with pytest.raises(ProtocolError, match=r"raise the budget \(budget_scale\)$"):
        scaled.oracle_data(synth_table)
    line = one_line_exit_2(
        capsys,
        "search",
        "--algo",
        "rs",
        "--budget-scale",
        "1e-9",
        "--runs",
        "1",
        "--table",
        table_path,
    )
    assert line.endswith("raise the budget (--budget-scale)"), line


def test_an_unstored_seed_names_the_seed_policy_as_each_caller_spells_it(
    capsys: pytest.CaptureFixture[str], synth_table: Table, table_path: str
) -> None:
    with pytest.raises(UnknownKeyError, match=r"use seed_policy='mean'$"):
        synth_table.value(0, "cifar10", "ori-test", 200, seed_policy=5)
    line = one_line_exit_2(
        capsys, "query", "--table", table_path, "--dataset", "cifar10", "--split", "ori-test",
        "--epochs", "200", "--seed-policy", "5", "0",
    )  # fmt: skip
    assert line.endswith("use --seed-policy mean"), line


def test_a_cost_limit_below_every_cell_names_max_cost(
    capsys: pytest.CaptureFixture[str], synth_table: Table, table_path: str
) -> None:
    from nb201_flat.constraints import best_under

    args = ("cifar10", "ori-test", 200)
    with pytest.raises(ConstraintError, match=r"raise max_cost$"):
        best_under(synth_table, *args, cost="params_mb_analytic", max_cost=1e-9)
    line = one_line_exit_2(
        capsys, "constrained", "--table", table_path, "--dataset", "cifar10", "--split",
        "ori-test", "--epochs", "200", "--cost", "params_mb_analytic", "--max-cost", "1e-9",
    )  # fmt: skip
    assert line.endswith("raise --max-cost"), line


@pytest.mark.usefixtures("cap_alone")
def test_search_workers_that_do_not_fit_name_jobs(
    synth_table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb201_flat import budget
    from nb201_flat.search import RandomSearch, run_search
    from nb201_flat.search.protocol import nb201_protocol

    monkeypatch.setenv(budget.ENV_MAX_MEMORY, "500M")  # below 4 workers of 150 MB
    with pytest.raises(ResourceLimitError, match=r"pass fewer jobs \(jobs; "):
        run_search(synth_table, nb201_protocol(), RandomSearch(), runs=8, jobs=4)


def test_save_table_names_overwrite_and_the_import_command_force(
    capsys: pytest.CaptureFixture[str], synth_table: Table, tmp_path: Path
) -> None:
    path = save_table(synth_table, tmp_path / "t.nb201")
    with pytest.raises(TableFileError, match=r"pass overwrite=True to replace it$"):
        save_table(synth_table, path, overwrite=False)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x").write_text("x")
    with pytest.raises(
        TableFileError,
        match=r"not an nb201_flat table, which is never replaced; choose another folder \(path\)$",
    ):
        save_table(synth_table, tmp_path / "junk")
    csv = tmp_path / "s.csv"
    synth_table.to_tidy().to_csv(csv, index=False)
    argv = ["import", str(csv), "--out", str(tmp_path / "junk"), "--force"]
    assert one_line_exit_2(capsys, *argv).endswith("choose another folder (--out)")


def test_dataset_folders_are_named_by_the_training_parameters(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from nb201_flat.train.data import check_dataset_files

    with pytest.raises(DatasetNotFoundError, match=r"does not exist; pass data_root=DIR$"):
        check_dataset_files("cifar10", tmp_path / "missing")


def test_a_non_pth_file_names_the_format_as_each_caller_spells_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from nb201_flat.errors import FormatError
    from nb201_flat.importers import import_table

    path = tmp_path / "g.pth"
    path.write_bytes(b"BZh91AY&SY not a torch file")
    with pytest.raises(FormatError, match=r"; import a NATS-Bench file with format='nats-tss'$"):
        import_table(path, format="nb201-pth")
    argv = ["import", str(path), "--format", "nb201-pth", "--out", str(tmp_path / "t")]
    assert one_line_exit_2(capsys, *argv).endswith(
        "import a NATS-Bench file with --format nats-tss"
    )
    # a torch file read as NATS names the other format, never a library function
    pth = tmp_path / "n.pickle.pbz2"
    pth.write_bytes(b"PK\x03\x04 a zip, as torch.save writes")
    with pytest.raises(FormatError, match=r"\(it looks like a torch .pth: import it with format="):
        import_table(pth, format="nats-tss")
    argv = ["import", str(pth), "--format", "nats-tss", "--out", str(tmp_path / "t")]
    assert "(it looks like a torch .pth: import it with --format nb201-pth);" in one_line_exit_2(
        capsys, *argv
    )


def test_an_empty_table_path_names_path_or_the_table_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from nb201_flat.storage import load_table

    with pytest.raises(TableFileError, match=r"is empty; pass path=PATH \("):
        load_table("")
    assert "is empty; pass --table PATH (" in one_line_exit_2(capsys, "info", "--table", "")
