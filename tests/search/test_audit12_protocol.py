"""The twelfth audit's protocol findings: the search epochs the command line and the grid take
(fixed-n searches any schedule the table stores, the time-budgeted families 12 or 200), a
whole float of epochs read as its int, and two references that named the wrong thing."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import main
from nb201_flat.conventions import cost_key, report_key, search_key, servable_protocols
from nb201_flat.search import (
    fixed_n_protocols,
    nb201_protocol,
    per_dataset_protocols,
    protocols_by_name,
    run_search,
)
from nb201_flat.search.grid import ReproduceConfig
from nb201_flat.search.protocol import ProtocolError
from nb201_flat.storage import save_table
from nb201_flat.table import Table
from nb201_flat.testing import table_from


@pytest.fixture(scope="module")
def at_50() -> Table:
    """The shape ``train --epochs 50`` gives: CIFAR-10's validation split at 50 epochs beside
    its 200-epoch test accuracy (and a training time and the other reported datasets, for
    nb201 with a time budget given in seconds)."""
    rng = np.random.default_rng(0)
    conv = lambda c: (c == 3).sum(axis=1)  # noqa: E731
    return table_from(
        lambda c: 60.0 + 4.0 * conv(c) + rng.normal(0, 1, len(c)),
        key=search_key("cifar10", 50),
        extra={
            report_key("cifar10"): lambda c: 62.0 + 4.0 * conv(c) + rng.normal(0, 1, len(c)),
            cost_key("cifar10"): lambda c: 1000.0 + 100.0 * conv(c),
            # nb201 reports all three datasets
            report_key("cifar100"): lambda c: 40.0 + 3.0 * conv(c),
            report_key("ImageNet16-120"): lambda c: 20.0 + 2.0 * conv(c),
        },
    )


@pytest.fixture(scope="module")
def at_50_path(at_50: Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_table(at_50, tmp_path_factory.mktemp("audit12") / "at50.nb201")


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


# -- 1. the epochs the command line and the grid take ----------------------------------------
def test_search_runs_fixed_n_at_the_epochs_its_refusal_names(
    at_50_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the refusal named --epochs (now --search-epochs), which took only 12 or 200: "invalid choice: 50"
    argv = ["search", "--algo", "rs", "--protocol", "fixed-n", "--fixed-n", "10", "--runs", "2"]
    argv += ["--jobs", "1", "--table", str(at_50_path)]
    err = _refused(capsys, argv)
    assert err.endswith("it has them at 50 epochs; pass one of those epochs (--search-epochs)"), err
    assert main([*argv, "--search-epochs", "50", "--json"]) == 0
    out = capsys.readouterr().out
    (row,) = json.loads(out)["results"]
    assert (row["protocol"], row["search_dataset"], row["search_epochs"]) == (
        "fixed-n",
        "cifar10-valid",
        50,
    )
    assert row["search_key"] == "cifar10-valid/x-valid@50ep:accuracy"


def test_search_refuses_other_epochs_for_a_time_budget_naming_the_protocol_that_serves_them(
    at_50_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["search", "--algo", "rs", "--runs", "2", "--jobs", "1", "--table", str(at_50_path)]
    for protocol in ("nb201", "per-dataset"):
        err = _refused(capsys, [*base, "--protocol", protocol, "--search-epochs", "50"])
        assert err == (
            f"error: {protocol} has a built-in time budget, set for 12-epoch searches and "
            "scaled for 200, and none for 50 epochs; search 12 or 200 epochs (--search-epochs), or "
            "use a query budget (--protocol fixed-n)"
        )
    # the fix it names runs; and an epoch count below 1 is refused as such
    assert main([*base, "--protocol", "fixed-n", "--search-epochs", "50", "--fixed-n", "10"]) == 0
    capsys.readouterr()
    err = _refused(capsys, [*base, "--protocol", "fixed-n", "--search-epochs", "0"])
    assert (
        err == "error: --search-epochs must be >= 1, got 0; pass the search epochs, e.g. 12 or 200"
    )


def test_reproduce_runs_fixed_n_at_the_epochs_its_refusal_names(
    at_50_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the refusal named --search-epochs, which took only 12 or 200
    argv = ["reproduce", "--quick", "--runs", "4", "--jobs", "1", "--table", str(at_50_path)]
    argv += ["--out", str(tmp_path / "o")]
    err = _refused(capsys, [*argv, "--protocols", "fixed-n"])
    assert err.endswith("pass one of those epochs (--search-epochs)"), err
    assert main([*argv, "--protocols", "fixed-n", "--search-epochs", "50"]) == 0
    assert "fixed-n:cifar10-valid@50ep" in (tmp_path / "o" / "summary.csv").read_text()
    capsys.readouterr()
    # a time-budgeted family beside it: refused naming the flags that run
    err = _refused(capsys, [*argv, "--protocols", "nb201,fixed-n", "--search-epochs", "50"])
    assert err.endswith(
        "none for 50 epochs; search 12 or 200 epochs (--search-epochs), or search 50 epochs "
        "with a query budget alone (--protocols fixed-n)"
    ), err
    for given, why in (("0", "holds '0'"), ("x", "holds 'x'"), (",", "is empty")):
        err = _refused(capsys, [*argv, "--protocols", "fixed-n", "--search-epochs", given])
        assert (
            err == f"error: --search-epochs {why}; give comma-separated search epochs, e.g. 12,200"
        )


def test_the_grid_takes_any_epochs_for_fixed_n_alone(at_50: Table) -> None:
    (p,) = ReproduceConfig.quick(protocols=("fixed-n",), search_epochs=(50,)).protocol_list(at_50)
    assert (p.name, p.search) == ("fixed-n:cifar10-valid@50ep", search_key("cifar10", 50))
    fix = (
        r"; search 12 or 200 epochs \(search_epochs\), or search 50 epochs with a query budget "
        r"alone \(protocols=\('fixed-n',\)\)$"
    )
    with pytest.raises(
        ProtocolError, match=r"^nb201 and per-dataset have built-in time budgets, .*" + fix
    ):
        ReproduceConfig(search_epochs=(50,))
    with pytest.raises(ProtocolError, match=r"^nb201 has a built-in time budget.*" + fix):
        ReproduceConfig.quick(protocols=("nb201", "fixed-n"), search_epochs=(12, 50))


# -- 2. a whole float of epochs ---------------------------------------------------------------
def test_a_whole_float_of_epochs_is_its_int_for_every_family(nb201_like: Table) -> None:
    # protocols_by_name('nb201', epochs=12.0) was refused ("none for 12.0 epochs"), so
    # servable_protocols(table, 12.0) left nb201 out without a word
    for epochs in (12, 200):
        for name in ("nb201", "per-dataset", "fixed-n"):
            as_float = protocols_by_name(name, nb201_like, epochs=float(epochs))
            assert as_float == protocols_by_name(name, nb201_like, epochs=epochs), name
        assert servable_protocols(nb201_like, float(epochs)) == servable_protocols(
            nb201_like, epochs
        )
    assert protocols_by_name("nb201", nb201_like, epochs=12.0)[0].name == "nb201"


def test_the_grid_reads_a_whole_float_of_epochs_as_its_int(nb201_like: Table) -> None:
    # accepted by the config, then refused by reproduce() as "12.0 epochs"
    cfg = ReproduceConfig.quick(search_epochs=(12.0, 200.0), protocols=("nb201", "fixed-n"))
    assert cfg.search_epochs == (12, 200) and all(type(e) is int for e in cfg.search_epochs)
    names = [p.name for p in cfg.protocol_list(nb201_like)]
    assert names[:2] == ["nb201", "nb201@200ep"]
    assert ReproduceConfig.quick(default_epochs=(12.0,)).default_epochs == (12,)


def test_the_time_budget_refusal_names_parameters_that_exist_and_run(at_50: Table) -> None:
    # it named `epochs=12 or 200` and `protocol='fixed-n'`, no parameter of any builder
    assert "protocol" not in inspect.signature(protocols_by_name).parameters
    with pytest.raises(
        ProtocolError,
        match=r"none for 50 epochs; search 12 or 200 epochs \(epochs\), or use a query budget "
        r"\(name='fixed-n'\)$",
    ):
        protocols_by_name("nb201", at_50, epochs=50)
    (p,) = protocols_by_name("fixed-n", at_50, epochs=50)  # the way out it names
    assert run_search(at_50, p, "rs", runs=2, jobs=1).summary()["n"].tolist() == [2]
    with pytest.raises(
        ProtocolError,
        match=r"\(epochs\), give the budget \(budget_seconds\), or use a query budget "
        r"\(fixed_n_protocols\(table, n, epochs=50\)\)$",
    ):
        nb201_protocol(epochs=50)
    with pytest.raises(ProtocolError, match=r"\(fixed_n_protocols\(table, n, epochs=50\)\)$"):
        per_dataset_protocols(epochs=50)
    # each runs
    given = nb201_protocol(epochs=50, budget_seconds=5_000.0)
    assert run_search(at_50, given, "rs", runs=2, jobs=1).summary()["n"].tolist() == [2, 2, 2]
    assert fixed_n_protocols(at_50, 10, epochs=50) == (p.replace(budget_queries=10),)


# -- 3. references ----------------------------------------------------------------------------
def test_the_per_dataset_comment_gives_its_tuple_order() -> None:
    from nb201_flat.search import protocol

    source = inspect.getsource(protocol)
    comment = source[: source.index("_PER_DATASET: dict")].rstrip().splitlines()[-1]
    assert "(dataset reported, split reported, NATS-Bench time budget" in comment, comment
    for ds, (rep_ds, rep_split, _) in protocol._PER_DATASET.items():
        assert (rep_ds, rep_split) == (report_key(ds).dataset, report_key(ds).split)


def test_the_naslib_zc_docstring_refers_to_functions_that_exist() -> None:
    # it named nb201_flat.space.from_naslib, which lives in nb201_flat.importers.naslib
    from nb201_flat.importers import naslib_zc

    refs = re.findall(r":(?:func|mod|data|class):`(nb201_flat\.[\w.]+)`", naslib_zc.__doc__ or "")
    assert "nb201_flat.importers.naslib.from_naslib" in refs
    for ref in refs:
        module, _, name = ref.rpartition(".")
        assert hasattr(importlib.import_module(module), name), ref
