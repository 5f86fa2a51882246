"""What a researcher trips over: every option means what it says, defaults agree, output explains
itself (issue 12).

One CLI test (at least) per item of the issue, each failing on the code before its change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb201_flat.cli import build_parser, main
from nb201_flat.errors import UnknownKeyError
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def synth() -> Table:
    return synthetic_table()


@pytest.fixture(scope="module")
def synth_path(synth: Table, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synth, tmp_path_factory.mktemp("synth") / "t.nb201"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for f in fragments:
        assert f in err, (f, err)


# -- 1. a seed policy that cannot be served is an error ------------------------------------------
def test_query_random_policy_without_seeds_is_an_error(
    capsys: pytest.CaptureFixture[str], synth_path: str
) -> None:
    # cifar10 ori-test@200 stores only the mean: 'random' cannot be served, with or without a seed
    base = ["query", "11472", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200"]
    for extra in (["--rng-seed", "3"], ["--rng-seed", "3", "--json"]):
        code, out, err = run(
            capsys, *base, "--seed-policy", "random", *extra, "--table", synth_path
        )
        one_line_error(code, out, err, "no per-seed values", "pass --seed-policy mean")


def test_query_random_policy_names_the_cli_flag(
    capsys: pytest.CaptureFixture[str], synth_path: str
) -> None:
    base = ["query", "11472", "--dataset", "cifar100", "--split", "x-valid", "--epochs", "200"]
    code, out, err = run(capsys, *base, "--seed-policy", "random", "--table", synth_path)
    one_line_error(code, out, err, "--rng-seed")
    assert "rng=" not in err
    code, out, err = run(capsys, *base, "--rng-seed", "3", "--table", synth_path)
    one_line_error(code, out, err, "--rng-seed applies only with --seed-policy random")
    code, out, _ = run(
        capsys, *base, "--seed-policy", "random", "--rng-seed", "3", "--json", "--table", synth_path
    )
    assert code == 0 and json.loads(out)["value"] is not None


def test_table_value_random_policy_raises_like_vector(synth: Table) -> None:
    with pytest.raises(UnknownKeyError, match="no per-seed values"):
        synth.value(11472, "cifar10", "ori-test", 200, seed_policy="random", rng=3)
    with pytest.raises(UnknownKeyError, match="no per-seed values"):
        synth.vector("cifar10", "ori-test", 200, seed_policy="random", rng=3)


def test_a_fixed_seed_some_cells_lack_is_refused_not_searched(
    capsys: pytest.CaptureFixture[str], synth: Table, synth_path: str
) -> None:
    # seed 2 is unmeasured on about 40 % of the 200-epoch cells: a search under it exited 0,
    # each query of such a cell charged and answered NaN (`query` refused the same cell)
    from nb201_flat.conventions import search_key
    from nb201_flat.search import ProtocolError, nb201_protocol, run_search
    from nb201_flat.search.grid import ReproduceConfig, reproduce

    key = search_key("cifar10", 200)
    mean, seed2 = synth.vector_for(key), synth.vector_for(key, seed_policy=2)
    lacking = int((np.isnan(seed2) & ~np.isnan(mean)).sum())
    assert lacking > 0
    for protocol in ("nb201", "per-dataset", "fixed-n"):
        code, out, err = run(
            capsys,
            *("search", "--algo", "rs", "--protocol", protocol, "--search-epochs", "200"),
            *("--seed-policy", "2", "--runs", "2", "--jobs", "1", "--table", synth_path),
        )
        one_line_error(
            code, out, err, "seed 2 is not measured", "--seed-policy random", "--seed-policy mean"
        )
        if protocol == "nb201":  # names how many cells lack it
            assert f"on {lacking:,} of the {NB201.size:,} architectures" in err, err
    # a seed every cell has is served, as are random (each cell's own seeds) and mean
    for policy in ("1", "random", "mean"):
        code, _, err = run(
            capsys,
            *("search", "--algo", "rs", "--search-epochs", "200", "--seed-policy", policy),
            *("--runs", "2", "--jobs", "1", "--table", synth_path),
        )
        assert code == 0, err
    # Python: the protocol, the runner and the reproduce grid refuse it alike
    with pytest.raises(ProtocolError, match=f"seed 2 is not measured .* on {lacking:,} of"):
        nb201_protocol(epochs=200, seed_policy=2).check(synth)
    with pytest.raises(ProtocolError, match="seed_policy='random'"):
        run_search(synth, nb201_protocol(epochs=200, seed_policy=2), "rs", runs=2, jobs=1)
    grid = ReproduceConfig.quick(search_epochs=(200,), seed_policy=2, runs=4, n_boot=50)
    with pytest.raises(ProtocolError, match="seed 2 is not measured"):
        reproduce(synth, grid, jobs=1)


def test_a_fixed_seed_is_checked_beyond_the_sampled_cells(synth: Table) -> None:
    # sampling='connected' samples connected cells only, but REA's mutants and NA/LS
    # neighbours reach disconnected ones: a seed missing there answers NaN all the same
    from nb201_flat.conventions import search_key
    from nb201_flat.search import Protocol, ProtocolError

    key, report = search_key("cifar10", 200), MetricKey("cifar10", "ori-test", 200)
    seed0 = np.array(synth.vector_for(key, seed_policy=0))
    holed = seed0.copy()
    holed[np.flatnonzero(~NB201.connected)[0]] = np.nan
    data = {
        (key, None): seed0,  # the mean of its seeds (one outside them is refused)
        (key, 0): holed,
        (key, 1): seed0,
        (report, None): synth.vector_for(report),
    }
    t = Table(NB201, data, source="holed")
    p = Protocol("c", key, (report,), seed_policy=0, budget_queries=5, sampling="connected")
    with pytest.raises(ProtocolError, match="seed 0 is not measured .* on 1 of the 15,625"):
        p.check(t)
    p.replace(seed_policy=1).check(t)


# -- 2. one budget rule for the 200-epoch schedule -----------------------------------------------
def test_search_at_200_epochs_scales_the_time_budget_and_says_so(
    capsys: pytest.CaptureFixture[str], synth: Table, synth_path: str
) -> None:
    from nb201_flat.conventions import budget_rule_note, budget_scale_for, cost_key
    from nb201_flat.search.grid import ReproduceConfig

    code, out, _ = run(
        capsys,
        *("search", "--algo", "rs", "--protocol", "nb201", "--search-epochs", "200"),
        *("--runs", "4", "--jobs", "1", "--json", "--table", synth_path),
    )
    assert code == 0
    payload = json.loads(out)
    assert budget_rule_note(200) in payload["notes"]
    assert f"budget {12_000 * budget_scale_for(200):,.0f} s" in payload["protocols"][0]
    # unscaled, no run could afford more than 12000 s / the cheapest cell's time
    cheapest = float(np.nanmin(synth.vector_for(cost_key("cifar10"))))
    assert min(r["queries"] for r in payload["results"]) > 12_000 / cheapest
    # reproduce applies the same rule, from the same place
    assert ReproduceConfig().budget_scale_200 == budget_scale_for(200)
    code, out, _ = run(
        capsys,
        *("search", "--algo", "rs", "--protocol", "nb201", "--search-epochs", "200"),
        *("--runs", "2", "--jobs", "1", "--table", synth_path),
    )
    assert code == 0 and f"note: {budget_rule_note(200)}" in out


def test_python_builders_at_200_epochs_have_the_cli_budget(
    capsys: pytest.CaptureFixture[str], synth: Table, synth_path: str
) -> None:
    # the epochs rule was applied by the CLI and the grid only: nb201_protocol(epochs=200)
    # kept 12,000 s under the name "nb201@200ep" the CLI gives 200,000 s
    from nb201_flat.search import nb201_protocol, per_dataset_protocols, protocols_by_name
    from nb201_flat.search.grid import ReproduceConfig

    def cli(protocol: str, *extra: str) -> list[str]:
        code, out, err = run(
            capsys,
            *("search", "--algo", "rs", "--protocol", protocol, "--search-epochs", "200", *extra),
            *("--runs", "2", "--jobs", "1", "--json", "--table", synth_path),
        )
        assert code == 0, err
        return list(json.loads(out)["protocols"])

    def described(protocols: object) -> list[str]:
        return [p.describe() for p in protocols]  # type: ignore[attr-defined]

    nb201, per_dataset = cli("nb201"), cli("per-dataset")
    assert "budget 200,000 s" in nb201[0]
    assert described([nb201_protocol(epochs=200)]) == nb201
    assert described(protocols_by_name("nb201", synth, epochs=200)) == nb201
    assert described(per_dataset_protocols(epochs=200)) == per_dataset
    assert described(protocols_by_name("per-dataset", synth, epochs=200)) == per_dataset
    # a scale given is on top of the rule, in Python as with --budget-scale; once, not twice
    assert described(protocols_by_name("nb201", synth, epochs=200, budget_scale=0.5)) == cli(
        "nb201", "--budget-scale", "0.5"
    )
    assert described(per_dataset_protocols(epochs=200, budget_scale=0.5)) == cli(
        "per-dataset", "--budget-scale", "0.5"
    )
    grid = ReproduceConfig(search_epochs=(200,), protocols=("nb201", "per-dataset"))
    assert [p.budget_seconds for p in grid.protocol_list(synth)] == [
        p.budget_seconds for p in (nb201_protocol(epochs=200), *per_dataset_protocols(epochs=200))
    ]
    # the grid's own multiplier at 200 epochs (the whole of it) still overrides the rule
    (unscaled,) = ReproduceConfig(search_epochs=(200,), budget_scale_200=1.0).protocol_list(synth)[
        :1
    ]
    assert unscaled.budget_seconds == pytest.approx(12_000.0)
    # 12 epochs unchanged; a budget given in seconds is the budget
    assert nb201_protocol().budget_seconds == 12_000.0
    assert nb201_protocol(epochs=200, budget_seconds=5_000.0).budget_seconds == 5_000.0


# -- 3. repeats accumulate; options that do not apply are errors ---------------------------------
def test_flatness_repeated_arch_accumulates(
    capsys: pytest.CaptureFixture[str], synth_path: str
) -> None:
    code, out, _ = run(
        capsys,
        *("flatness", "--dataset", "cifar100", "--split", "x-valid", "--epochs", "200"),
        *("--arch", "11472", "--arch", "9930", "--json", "--table", synth_path),
    )
    assert code == 0
    assert [r["index"] for r in json.loads(out)["rows"]] == [11472, 9930]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["search", "--algo", "rs", "--protocol", "nb201", "--fixed-n", "5"],
            "--fixed-n applies only",
        ),
        (
            ["search", "--algo", "rs", "--protocol", "fixed-n", "--budget-scale", "2"],
            "--budget-scale applies",
        ),
        (
            ["search", "--algo", "na-rs", "--quantile", "0.3"],
            "--quantile applies only with --agg quantile, not 'mean'; add --agg quantile or "
            "drop --quantile",
        ),
        # rs takes no --agg: "add --agg quantile" sent the user to a second refusal
        (["search", "--algo", "rs", "--quantile", "0.3"], "--quantile does not apply to --algo rs"),
        # the library's tournament rule (RegularizedEvolution), spelled as flags; a flag not
        # given is named with its default
        (
            ["search", "--algo", "rea", "--population", "2", "--sample-size", "3"],
            "--sample-size 3 exceeds --population 2: a tournament draws its members from the "
            "population; lower --sample-size or raise --population",
        ),
        (
            ["search", "--algo", "rea", "--population", "2"],
            "--sample-size 3 exceeds --population 2",
        ),
        (
            ["search", "--algo", "na-rea", "--sample-size", "11"],
            "--sample-size 11 exceeds --population 10",
        ),
        # the tournament's rule came first and named a fix that could not mend these
        (["search", "--algo", "rs", "--population", "2"], "--population does not apply"),
        (["search", "--algo", "rs", "--sample-size", "20"], "--sample-size does not apply"),
        (["search", "--algo", "rea", "--population", "0"], "--population must lie in 1..10000"),
        (
            ["search", "--algo", "rea", "--sample-size", "10001"],
            "--sample-size must lie in 1..10000",
        ),
        (
            [
                *("barrier", "1", "2", "--dataset", "cifar100", "--split", "x-valid"),
                *("--epochs", "200", "--tree-path", "--method", "shortest"),
            ],
            "--tree-path applies",
        ),
        (["reproduce", "--out", "OUT", "--protocols", ""], "--protocols is empty"),
        # the quick grid aggregates by mean only: the level was ignored
        (
            ["reproduce", "--quick", "--out", "OUT", "--quantile", "0.3"],
            # the grid's rule, in its words, named by the flags
            "--quantile applies only where the grid varies agg to 'quantile', and its "
            "aggregators are mean; drop --quantile, or drop --quick for the full grid",
        ),
        (["reproduce", "--out", "OUT", "--protocols", "nb201,bogus"], "--protocols must be one"),
        # one figure other than search_curves is drawn in this process: N was ignored
        (
            ["figures", "--out", "OUT", "--only", "distance_profile", "--jobs", "2"],
            "--jobs 2 does nothing for --only distance_profile",
        ),
        (
            [
                *("flatness", "--dataset", "cifar100", "--split", "x-valid", "--epochs", "200"),
                *("--arch", "1", "--top", "5"),
            ],
            "--top picks",
        ),
    ],
)
def test_options_that_do_not_apply_are_errors(
    capsys: pytest.CaptureFixture[str],
    synth_path: str,
    tmp_path: Path,
    argv: list[str],
    fragment: str,
) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code, out, err = run(capsys, *argv, "--table", synth_path)
    one_line_error(code, out, err, fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--protocol", "nb201", "--budget-scale", "inf"], "--budget-scale must be a finite"),
        (["--protocol", "nb201", "--budget-scale", "0"], "--budget-scale must be a finite"),
        (["--protocol", "nb201", "--budget-scale", "nan"], "pass a positive multiplier"),
        (
            ["--protocol", "fixed-n", "--fixed-n", "0"],
            "--fixed-n must be >= 1, got 0; pass the queries",
        ),
    ],
)
def test_search_budget_flags_are_checked_by_name(
    capsys: pytest.CaptureFixture[str], synth_path: str, argv: list[str], fragment: str
) -> None:
    # before: "budget_seconds must be > 0, got inf" (the Python name, no fix)
    argv = ["search", "--algo", "rs", *argv, "--runs", "2", "--jobs", "1"]
    code, out, err = run(capsys, *argv, "--table", synth_path)
    one_line_error(code, out, err, fragment)


# -- 4. Python and CLI agree on the lowest barrier path ------------------------------------------
def test_lowest_barrier_path_default_is_the_cli_path(
    capsys: pytest.CaptureFixture[str], default_table: Table
) -> None:
    from nb201_flat.landscape import barrier_tree, lowest_barrier_path

    acc = default_table.vector("cifar10", "ori-test", 200)
    py = lowest_barrier_path(NB201, acc, 6111, 1459)  # the README example
    code, out, _ = run(
        capsys,
        *("barrier", "6111", "1459", "--dataset", "cifar10", "--split", "ori-test"),
        *("--epochs", "200", "--json"),
    )
    assert code == 0
    cli = json.loads(out)["path"]
    assert py.length == cli["length"] == NB201.arch(6111).hamming(NB201.arch(1459))
    assert list(py.strings()) == cli["arch_path"]
    assert barrier_tree(NB201, acc).path(6111, 1459).length == py.length


# -- 5. flatness sorts and filters; `record` prints a whole entry --------------------------------
def test_flatness_flattest_of_the_top_100(
    capsys: pytest.CaptureFixture[str], synth: Table, synth_path: str
) -> None:
    from nb201_flat.landscape import flatness

    key = ("--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")
    code, out, _ = run(
        capsys,
        "flatness",
        *key,
        *("--top", "100", "--sort-by", "mean", "--limit", "1", "--json", "--table", synth_path),
    )
    assert code == 0
    rows = json.loads(out)["rows"]
    values = synth.vector("cifar100", "x-valid", 200)
    top100 = np.lexsort((np.arange(values.size), -values))[:100]
    means = flatness(NB201, values)["mean"].to_numpy()
    assert len(rows) == 1 and rows[0]["index"] == int(top100[np.argmax(means[top100])])
    code, out, _ = run(
        capsys,
        "flatness",
        *key,
        *("--top", "20", "--sort-by", "sharpness", "--json", "--table", synth_path),
    )
    sharp = [r["sharpness"] for r in json.loads(out)["rows"]]
    assert code == 0 and len(sharp) == 20 and sharp == sorted(sharp)


def test_record_command_prints_the_whole_entry(
    capsys: pytest.CaptureFixture[str], synth: Table, synth_path: str
) -> None:
    code, out, _ = run(capsys, "record", "11472", "--json", "--table", synth_path)
    assert code == 0
    payload = json.loads(out)
    measured = [k for k in synth if not np.isnan(synth.vector_for(k)[11472])]
    assert payload["index"] == 11472 and len(payload["entries"]) == len(measured)
    assert payload["not_measured"] == [str(k) for k in synth if k not in measured]
    for e in payload["entries"]:
        key = synth.key(e["dataset"], e["split"], e["epochs"], e["metric"])
        assert e["value"] == pytest.approx(synth.vector_for(key)[11472])
        stored = [s for s in synth.seeds(key) if not np.isnan(synth.data[(key, s)][11472])]
        assert [int(s) for s in e["seed_values"]] == stored
        for s in stored:
            assert e["seed_values"][str(s)] == pytest.approx(synth.data[(key, s)][11472])
    code, out, _ = run(capsys, "record", "11472", "--table", synth_path)
    assert code == 0 and out.count("\n") == len(measured) + 2 + bool(payload["not_measured"])
    assert "x-valid" in out and "nan" not in out


def test_record_lists_never_measured_keys_instead_of_printing_nan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    measured, missing = MetricKey("cifar100", "x-test", 200), MetricKey("cifar100", "x-valid", 200)
    holes = np.arange(NB201.size, dtype=float)
    holes[7] = np.nan
    table = Table(
        NB201, {(measured, None): np.arange(NB201.size, dtype=float), (missing, None): holes}
    )
    save_table(table, tmp_path / "t.nb201")
    code, out, _ = run(capsys, "record", "7", "--json", "--table", str(tmp_path / "t.nb201"))
    payload = json.loads(out)  # strict JSON: a NaN would not parse
    assert code == 0 and payload["not_measured"] == [str(missing)]
    assert [e["split"] for e in payload["entries"]] == ["x-test"]
    assert Table.record(table, 7) == {
        "index": 7,
        "arch": NB201.arch(7).to_str(),
        str(measured): 7.0,
    }
    code, out, _ = run(capsys, "record", "7", "--table", str(tmp_path / "t.nb201"))
    assert code == 0 and "nan" not in out and f"not measured for this cell: {missing}" in out


def test_info_and_record_flag_stand_in_cells(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a retraining table: 3 cells trained, 0 recorded at chance (disconnected), 5 copying 3
    acc = np.full(NB201.size, np.nan)
    acc[[0, 3, 5, 9, 11]] = [10.0, 50.0, 50.0, 60.0, 70.0]
    meta = {
        "constant_output": [0],
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 1, "seed": 777, "index": 5, "copied_from": 3}
        ],
    }
    # stored at the seed the copy record names: a copy is read per run
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 1), 777): acc}, meta=meta)
    path = str(save_table(table, tmp_path / "t.nb201"))
    code, out, _ = run(capsys, "info", "--json", "--table", path)
    counts = {
        "trained": 3,
        "constant_output": 1,
        "isomorphic_copies": 1,
        "trained_and_constant_output": 0,
        "trained_and_isomorphic_copy": 0,
    }
    assert code == 0 and json.loads(out)["cells"] == counts
    code, out, _ = run(capsys, "info", "--table", path)
    assert "cells   3 trained; stand-ins (not trained): 1 constant-output" in out
    code, out, _ = run(capsys, "record", "0", "--table", path)
    assert "stand-in: constant output (disconnected cell, not trained)" in out
    code, out, _ = run(capsys, "record", "5", "--json", "--table", path)
    payload = json.loads(out)
    assert payload["copied_from"] == [
        {"dataset": "cifar10", "epochs": 1, "stored_seed": 777, "from": 3}
    ]
    assert payload["constant_output"] is False
    code, out, _ = run(capsys, "record", "5", "--table", path)
    assert (
        "isomorphic copy, not trained: cifar10@1ep seed id 777 holds the numbers of cell 3" in out
    )
    code, out, _ = run(capsys, "record", "3", "--table", path)
    assert "stand-in" not in out  # the trained cell itself
    key = ["--dataset", "cifar10", "--split", "ori-test", "--epochs", "1", "--table", path]
    notes = [
        json.loads(run(capsys, "query", str(i), "--json", *key)[1])["stand_in"] for i in (0, 3, 5)
    ]
    assert notes == [
        "constant output: disconnected cell, not trained",
        None,
        "isomorphic copy, not trained: numbers of cell 3",
    ]
    code, out, _ = run(capsys, "query", "5", *key)
    assert code == 0 and out.rstrip().endswith(
        "[stand-in: isomorphic copy, not trained: numbers of cell 3]"
    )
    # a benchmark's own table records no stand-ins: no count is made up
    save_table(Table(NB201, {(MetricKey("cifar10", "ori-test", 1), 0): acc}), tmp_path / "b")
    code, out, _ = run(capsys, "info", "--json", "--table", str(tmp_path / "b"))
    assert json.loads(out)["cells"] is None


def test_time_budget_on_stand_in_cells_without_training_time_says_so(
    synth: Table, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a retraining table's stand-ins (constant-output cells, isomorphic copies) were never
    # trained: no training time. A time-budgeted search was refused naming only the cost key
    # and a count, as if the table were damaged; the line now says which cells and why
    constant = np.flatnonzero(~NB201.connected)[:3].tolist()
    copy = int(np.flatnonzero(NB201.connected)[5])
    data = {k: v.copy() for k, v in synth.data.items()}
    for (key, _), vec in data.items():
        if key.metric == "time_s":
            vec[[*constant, copy]] = np.nan
    meta = {
        "constant_output": constant,
        "isomorphic_to": [
            {"dataset": "cifar10", "epochs": 200, "seed": 777, "index": copy, "copied_from": 0}
        ],
    }
    path = str(save_table(Table(NB201, data, meta=meta), tmp_path / "t.nb201"))
    code, out, err = run(capsys, "search", "--algo", "rs", "--runs", "2", "--table", path)
    one_line_error(
        code,
        out,
        err,
        "4 architectures have no valid cost",
        "3 constant-output (disconnected) and 1 isomorphic-copy stand-in cells, which were not "
        "trained and so have no training time",
        "--protocol fixed-n",
    )
    # the fix it names serves the table
    code, out, err = run(capsys, "search", "--algo", "rs", "--runs", "2", "--protocol",
                         "fixed-n", "--table", path)  # fmt: skip
    assert code == 0, err


# -- 8. train without its extra; model's units ---------------------------------------------------
def test_train_without_extra_is_one_line_before_any_job(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def no_torch(name: str, *a: object, **k: object) -> object:
        return None if name == "torch" else real(name, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", no_torch)
    code, out, err = run(
        capsys,
        *("train", "11472", "--dataset", "cifar10", "--epochs", "1"),
        *("--data-root", str(tmp_path), "--db", str(tmp_path / "r.sqlite")),
    )
    one_line_error(code, out, err, "pip install 'nb201-flat[train]'")
    assert not (tmp_path / "r.sqlite").exists()


def test_model_says_millions_of_params(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "model", "11472")
    assert code == 0 and " M params" in out and "MB" not in out
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "every command takes `--json` and `--table PATH`" not in readme


def test_model_names_the_network_size_its_numbers_are_of(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # --C 8 --N 2 printed numbers shaped as NB201's own, the size said nowhere
    code, out, _ = run(capsys, "model", "5", "--C", "8", "--N", "2")
    assert code == 0 and "cifar10, C=8 N=2: " in out and " M params" in out
    code, out, _ = run(capsys, "model", "5", "--json")
    record = json.loads(out)
    assert code == 0 and (record["channels"], record["cells_per_stage"]) == (16, 5)


# -- 11. spellings -------------------------------------------------------------------------------
def test_algo_any_case_and_dataset_did_you_mean(
    capsys: pytest.CaptureFixture[str], synth_path: str
) -> None:
    args = build_parser().parse_args(["search", "--algo", "NA-RS", "--protocol", "NB201"])
    assert (args.algo, args.protocol) == ("na-rs", "nb201")
    for typed, meant in (("CIFAR100", "cifar100"), ("Cifar-100", "cifar100")):
        code, out, err = run(
            capsys,
            *("query", "1", "--dataset", typed, "--split", "x-valid", "--epochs", "200"),
            *("--table", synth_path),
        )
        one_line_error(code, out, err, f"did you mean {meant!r}")


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["train", "11472", "--epochs", "1.5"], "argument --epochs: invalid int value: '1.5'"),
        (["search", "--algo", "nope"], "argument --algo: invalid choice: 'nope'"),
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["query"], "the following arguments are required"),
        (["info", "--bogus"], "nb201-flat info: unrecognized arguments: --bogus"),
    ],
)
def test_argument_errors_are_one_line_with_exit_2(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse alone prints its whole usage text (16 lines for train) before the error
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: nb201-flat") and problem in err[0]
    command = "" if argv[0] == "nosuch" else f" {argv[0]}"
    assert err[0].endswith(f"see nb201-flat{command} --help")  # the help that names the fix


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["info", "--table", "/no/such\ntable"], "no table at /no/such\\ntable;"),
        (["import", "no\nsuch", "--out", "t.nb201"], "no such file or folder: no\\nsuch"),
        (["census", "--pairs", "0", "--top-k", "2", "--metric", "a\rb"], "metric 'a\\rb';"),
        (["info", "stray\u2028word"], "unrecognized arguments: stray\\u2028word;"),
    ],
)
def test_a_newline_in_a_path_or_value_keeps_the_error_one_line(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # messages quote paths and values as given; a line break in one split the refusal in two
    argv = [str(tmp_path / a) if a == "t.nb201" else a for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals exit from inside the parser
        code = int(str(exc.code))
    out, err = capsys.readouterr()
    one_line_error(code, out, err, problem)
    assert len(err.splitlines()) == 1, err  # \r and U+2028 break lines too


@pytest.mark.parametrize(
    "argv",
    [
        ("figures", "--only", "distance_profile", "--out", "{table}/figs"),
        ("reproduce", "--out", "{table}/report"),
        ("census", "--pairs-out", "{table}/pairs.csv"),
    ],
    ids=["figures", "reproduce", "census"],
)
def test_an_output_inside_the_table_folder_is_refused(
    capsys: pytest.CaptureFixture[str], synth_path: str, argv: tuple[str, ...]
) -> None:
    # what a command writes would sit among the table's own files: one rule for every output
    given = [a.format(table=synth_path) for a in argv]
    code, out, err = run(capsys, *given, "--table", synth_path)
    flag = argv[-2]
    one_line_error(code, out, err, f"{flag} {given[-1]} lies inside the table folder")
    assert not {"figs", "report", "pairs.csv"} & {p.name for p in Path(synth_path).iterdir()}
