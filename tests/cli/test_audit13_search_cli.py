"""A thirteenth audit's findings on ``search`` and ``reproduce``: each refusal's fix followed
as printed leads to a run (fixed-n on a table ``train`` wrote, a seed policy, NB201's budgets
on times of another scale), reproduce names the table its numbers come from, and --json's
wall-clock time is ``wall_seconds``, apart from a row's simulated ``seconds``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.conventions import cost_key, search_key
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table

SEARCH = ("search", "--algo", "rs", "--runs", "2", "--jobs", "1")


@pytest.fixture(scope="module")
def like() -> Table:
    return synthetic_table()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit13")


def _save(table: Table, folder: Path, name: str) -> str:
    return str(save_table(table, folder / f"{name}.nb201", overwrite=True))


def _cifar10_valid(like: Table, epochs: int, **meta: object) -> Table:
    """What ``train`` on cifar10-valid at ``epochs`` imports: x-valid and the dataset's own
    ori-test at that schedule, and the training time."""
    data = {
        (search_key("cifar10", epochs), None): like.vector_for(search_key("cifar10", 200)),
        (MetricKey("cifar10-valid", "ori-test", epochs), None): like.vector_for(
            MetricKey("cifar10", "ori-test", 200)
        ),
        (MetricKey("cifar10-valid", "train", epochs, "time_s"), None): like.vector_for(
            cost_key("cifar10")
        ),
    }
    return Table(like.space, data, source="trained", meta=dict(meta))


# -- 1. fixed-n on a table `train` wrote -----------------------------------------------------
def test_each_refusal_s_fix_leads_to_a_fixed_n_search_of_a_trained_table(
    capsys: pytest.CaptureFixture[str], like: Table, folder: Path
) -> None:
    path = _save(_cifar10_valid(like, 1, space_key="nb201@C2N1#faithful"), folder, "one")
    line = one_line_exit_2(capsys, *SEARCH, "--table", path)
    assert line.endswith("use a query budget instead (--protocol fixed-n --fixed-n N)"), line
    # followed: it said "has no 200-epoch accuracy to search; it has ...", with no fix
    line = one_line_exit_2(
        capsys, *SEARCH, "--table", path, "--protocol", "fixed-n", "--fixed-n", "5"
    )
    assert line.endswith("it has them at 1 epochs; pass one of those epochs (--search-epochs)"), (
        line
    )
    code, out, err = run(
        capsys,
        *SEARCH,
        "--table",
        path,
        "--protocol",
        "fixed-n",
        "--fixed-n",
        "5",
        "--search-epochs",
        "1",
    )
    assert code == 0, err
    assert "search cifar10-valid/x-valid@1ep:accuracy" in out
    assert "report cifar10-valid/ori-test@1ep:accuracy" in out and "OPTIMISTIC" not in out


def test_fixed_n_searches_x_valid_not_the_test_split_beside_it(
    capsys: pytest.CaptureFixture[str], like: Table, folder: Path
) -> None:
    path = _save(_cifar10_valid(like, 200), folder, "c10v")
    # it searched cifar10-valid/ori-test@200 (OPTIMISTIC) although x-valid@200 was there
    code, out, err = run(capsys, *SEARCH, "--table", path, "--protocol", "fixed-n", "--json")
    assert code == 2 and not out
    assert err.strip().endswith(
        "it has them at 200 epochs; pass one of those epochs (--search-epochs)"
    )
    # and with --epochs 12 it said the table "has no validation split"
    line = one_line_exit_2(
        capsys, *SEARCH, "--table", path, "--protocol", "fixed-n", "--search-epochs", "12"
    )
    assert "no validation split" not in line and "it has them at 200 epochs" in line, line
    code, out, err = run(
        capsys,
        *SEARCH,
        "--table",
        path,
        "--protocol",
        "fixed-n",
        "--search-epochs",
        "200",
        "--json",
    )
    assert code == 0, err
    (row,) = json.loads(out)["results"]
    assert row["search_key"] == "cifar10-valid/x-valid@200ep:accuracy"
    assert (row["dataset"], row["split"], row["optimistic"]) == ("cifar10-valid", "ori-test", False)


# -- 3. a seed policy named only where it serves -----------------------------------------------
@pytest.fixture(scope="module")
def seed_part(like: Table, folder: Path) -> str:
    """A mean for every cell, seed 0 for 100 cells only (the 12-epoch CIFAR-10 search key)."""
    key = search_key("cifar10", 12)
    seed0 = np.full(like.space.size, np.nan)
    seed0[:100] = like.vector_for(key)[:100]
    table = Table(like.space, {**like.data, (key, 0): seed0}, source="seed part")
    return _save(table, folder, "seedpart")


def test_search_names_no_seed_policy_that_would_be_refused(
    capsys: pytest.CaptureFixture[str], seed_part: str
) -> None:
    # it named `--seed-policy random ... or --seed-policy mean`; random was then refused
    line = one_line_exit_2(capsys, *SEARCH, "--table", seed_part, "--seed-policy", "0")
    assert line.endswith("return NaN; use --seed-policy mean"), line
    code, _, err = run(capsys, *SEARCH, "--table", seed_part, "--seed-policy", "mean")
    assert code == 0, err


def test_reproduce_names_where_its_seed_policy_is_set(
    capsys: pytest.CaptureFixture[str], seed_part: str, tmp_path: Path
) -> None:
    # it said `use seed_policy='mean'`, a parameter reproduce has no flag for
    line = one_line_exit_2(
        capsys, "reproduce", "--quick", "--out", str(tmp_path / "o"), "--table", seed_part
    )
    assert line.endswith("return NaN; use ReproduceConfig(seed_policy=...) in Python"), line


# -- 4. NB201's budgets on times of another scale (no space key recorded) ----------------------
def test_built_in_budgets_are_refused_on_times_of_another_scale(
    capsys: pytest.CaptureFixture[str], like: Table, folder: Path, tmp_path: Path
) -> None:
    fast = like
    for ds in ("cifar10", "cifar100", "ImageNet16-120"):  # ~20 s a cifar10-valid cell
        fast = fast.with_vector(cost_key(ds), like.vector_for(cost_key(ds)) * 0.0055)
    path = _save(fast, folder, "fast")
    # nb201 ran ~9,975 queries a run on such a table, exit 0
    for protocol in ("nb201", "per-dataset"):
        line = one_line_exit_2(capsys, *SEARCH, "--table", path, "--protocol", protocol)
        assert "holds times on another scale (cifar10-valid/train@200ep:time_s: a median of " in (
            line
        )
        assert line.endswith("use a query budget instead (--protocol fixed-n --fixed-n N)"), line
    line = one_line_exit_2(capsys, "reproduce", "--quick", "--out", str(tmp_path), "--table", path)
    assert line.endswith("use a query budget instead (--fixed-n N --protocols fixed-n)"), line
    code, out, err = run(
        capsys, *SEARCH, "--table", path, "--protocol", "fixed-n", "--fixed-n", "10"
    )
    assert code == 0 and "10 queries charged" in out, err


# -- 5. and 6. what reproduce's outputs say of the table, and which seconds are whose ------
def test_reproduce_names_its_table_and_its_wall_clock_time(
    capsys: pytest.CaptureFixture[str], like: Table, folder: Path, tmp_path: Path
) -> None:
    path = _save(like, folder, "like")
    code, out, err = run(capsys, "info", "--table", path, "--json")
    assert code == 0, err
    digest = json.loads(out)["table_sha256"]
    argv = ["reproduce", "--quick", "--runs", "4", "--jobs", "1", "--table", path]
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "o"), "--json")
    assert code == 0, err
    payload = json.loads(out)
    # it named no table: a synthetic table's report read as NB201's
    assert (payload["source"], payload["table_sha256"]) == ("synthetic nb201-like", digest)
    head = (tmp_path / "o" / "report.md").read_text().splitlines()
    assert head[2] == f"Table: synthetic nb201-like, table.parquet sha256 {digest}.", head[:4]
    # "seconds" was the command's wall-clock time here, and simulated time in search's rows
    assert "seconds" not in payload and payload["wall_seconds"] >= 0


def test_search_json_s_wall_clock_time_is_wall_seconds(
    capsys: pytest.CaptureFixture[str], like: Table, folder: Path
) -> None:
    path = _save(like, folder, "like")
    code, out, err = run(capsys, *SEARCH, "--table", path, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert "seconds" not in payload and payload["wall_seconds"] >= 0
    assert all(r["simulated_seconds"] > 0 for r in payload["results"])  # simulated, per row
