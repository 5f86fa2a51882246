"""The reproduction grid, its verdict rule, its files, and the two CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import REPORT_FILES

from nb201_flat.cli import main
from nb201_flat.errors import ArgumentError, ResourceLimitError
from nb201_flat.search import ProtocolError
from nb201_flat.search.accounting import MATCHED_COLUMNS, MATCHED_DTYPES
from nb201_flat.search.grid import ReproduceConfig, ReproduceResult, reproduce
from nb201_flat.search.report import write_report
from nb201_flat.search.statistics import (
    ACCOUNTING_COLUMNS,
    ACCOUNTING_DTYPES,
    ANCHOR_COLUMNS,
    ROUTE_COLUMNS,
    bootstrap_ci,
    verdict,
)
from nb201_flat.table import Table


@pytest.mark.parametrize(
    ("lo", "hi", "claim", "expected"),
    [
        (0.9, 2.1, 1.48, "reproduced"),  # CI > 0 and covers the claim
        (2.5, 3.5, 1.48, "reproduced"),  # larger than claimed still reproduces it
        (0.2, 0.8, 1.48, "reproduced"),  # reaches half the claim
        (0.1, 0.5, 1.48, "contradicted"),  # real but far smaller than claimed
        (-0.4, 0.3, 1.48, "contradicted"),  # around 0, upper end well below the claim
        (-2.0, -1.0, 1.58, "contradicted"),  # opposite sign
        (-0.2, 1.9, 1.48, "inconclusive"),  # contains 0 and the claim
        (0.1, 0.4, None, "reproduced"),  # sign-only rows
        (-0.5, -0.1, None, "contradicted"),
        (-0.5, 0.5, None, "inconclusive"),
        (-2.1, -0.9, -1.48, "reproduced"),  # a negative claim, mirrored
        (np.nan, np.nan, 1.48, "inconclusive"),
    ],
)
def test_verdict_rule(lo: float, hi: float, claim: float | None, expected: str) -> None:
    assert verdict(lo, hi, claim) == expected


def test_bootstrap_ci_is_seeded_and_covers_the_mean() -> None:
    d = np.random.default_rng(0).normal(1.0, 2.0, 400)
    lo, hi = bootstrap_ci(d, seed=3)
    assert (lo, hi) == bootstrap_ci(d, seed=3)
    assert lo < d.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * 2.0 / 20, rel=0.25)
    # fewer than two pairs have no interval: refused, where it was a NaN pair of bounds
    for short in (np.array([1.0]), np.array([np.nan, 2.0]), np.array([])):
        with pytest.raises(ArgumentError, match="at least 2 paired differences"):
            bootstrap_ci(short)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_boot": 0}, "n_boot"),  # IndexError from np.quantile
        ({"n_boot": 2.5}, "n_boot"),  # TypeError from numpy
        ({"confidence": 1.5}, "confidence"),  # numpy's ValueError
        ({"confidence": 0}, "confidence"),  # a point "CI" at the median
        ({"seed": -1}, "seed"),  # numpy's ValueError
        ({"seed": True}, "seed"),  # seed 1
    ],
)
def test_bootstrap_arguments_are_checked(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ArgumentError, match=name):
        bootstrap_ci(np.arange(10.0), **kwargs)  # type: ignore[arg-type]


def test_bootstrap_resamples_that_cannot_fit_are_refused() -> None:
    # n_boot=10**9 over 10 pairs asked numpy for 75 GB
    with pytest.raises(ResourceLimitError, match="use fewer resamples"):
        bootstrap_ci(np.arange(10.0), n_boot=10**12)


def test_a_nan_margin_or_claim_is_refused() -> None:
    # NaN compares false: every CI above 0 was 'reproduced', whatever its size
    with pytest.raises(ArgumentError, match="margin"):
        verdict(0.1, 0.2, 1.48, margin=float("nan"))
    with pytest.raises(ArgumentError, match="claim"):
        verdict(0.1, 0.2, float("nan"))
    for kwargs in ({"margin": float("nan")}, {"n_boot": 0}, {"seed": -1}):
        with pytest.raises(ArgumentError):  # before the grid runs, not after
            ReproduceConfig(**kwargs)  # type: ignore[arg-type]


def test_bootstrap_cis_give_each_vector_its_own_ci_computed_once() -> None:
    from nb201_flat.search.statistics import _resamples, bootstrap_cis

    rng = np.random.default_rng(1)
    ds = [rng.normal(0.5, 1.0, 60) for _ in range(20)]
    ds[3][[2, 7]] = np.nan  # NaN pairs are dropped: 58 left
    ds += [ds[0].copy(), np.array([2.0]), np.array([np.nan, 1.0])]  # a repeat; too short
    got = bootstrap_cis(ds, n_boot=300, seed=5)  # > 8 new vectors: computed in threads
    for d, (lo, hi) in zip(ds, got, strict=True):
        clean = d[~np.isnan(d)]
        if clean.size < 2:
            assert np.isnan(lo) and np.isnan(hi)
            continue
        means = clean[_resamples(5, 300, clean.size)].mean(axis=1)
        alpha = (1.0 - 0.95) / 2.0  # as bootstrap_ci computes it (not quite 0.025)
        assert (lo, hi) == tuple(np.quantile(means, [alpha, 1.0 - alpha]))
    assert got[20] == got[0]
    assert bootstrap_cis(ds[:2], n_boot=300, seed=6) != got[:2]  # the seed is part of the key


def test_bootstrap_cis_draw_each_sizes_resamples_once() -> None:
    # more sizes than _resamples keeps: each size's indices drawn once all the same (its
    # vectors are done while they are held), not once per vector
    from nb201_flat.search.statistics import _resamples, bootstrap_cis

    rng = np.random.default_rng(3)
    ds = [rng.normal(0.0, 1.0, 40 + k % 5) for k in range(30)]  # 5 sizes, 6 vectors each
    _resamples.cache_clear()
    got = bootstrap_cis(ds, n_boot=200, seed=11)
    assert _resamples.cache_info().misses == 5
    for d, (lo, hi) in zip(ds, got, strict=True):
        means = d[_resamples(11, 200, d.size)].mean(axis=1)
        alpha = (1.0 - 0.95) / 2.0
        assert (lo, hi) == tuple(np.quantile(means, [alpha, 1.0 - alpha]))


def test_csv_bytes_are_pandas_to_csv_bytes() -> None:
    from nb201_flat.search.report import _csv_bytes

    n = 9
    floats = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-300, 123456789.0, 0.1 + 0.2, 93.895]
    frame = pd.DataFrame(
        {
            "label": pd.array(
                ["rs", "na-rs[r1,mean]", 'say "x"', None, "rs", "a,b", "", "ü", "rs"],
                dtype="str",
            ),
            "x": floats,
            "i": np.arange(n, dtype=np.int64) - 4,
            "ok": [True, False] * 4 + [True],
            "best": pd.array([1, None, 3, 4, None, 6, 7, 8, 9], dtype="Int64"),
            "obj": np.array(["p", "q,r", None, "p", "p", "p", "p", "p", "p"], dtype=object),
        }
    )
    frame = frame.rename(columns={"i": "i,j"})  # a header that needs quotes
    want = frame.to_csv(index=False, lineterminator="\n").encode()
    assert _csv_bytes(frame) == want
    mixed = frame.assign(obj=[1.5, "a", None, 2, 3, 4, 5, 6, 7])  # left to pandas
    assert _csv_bytes(mixed) == mixed.to_csv(index=False, lineterminator="\n").encode()
    one = frame[["x"]]
    assert _csv_bytes(one) == one.to_csv(index=False, lineterminator="\n").encode()


def test_quick_grid_on_an_nb201_shaped_table(nb201_like: Table, tmp_path: Path) -> None:
    # quick() is a smoke test (no verdicts); this test checks the verdicts, so it asks for them
    # (and for the fewest runs that give any: statistics.MIN_RUNS_VERDICT)
    cfg = ReproduceConfig.quick(runs=20, n_boot=200, smoke=False)
    res = reproduce(nb201_like, cfg)
    assert set(res.summary["algorithm"]) >= {"rs", "na-rs[r1,mean,self,free]", "rea", "ls"}
    assert set(res.paired["verdict"]) <= {"reproduced", "contradicted", "inconclusive"}
    claims = res.paired[res.paired["claim"].notna()]
    assert set(claims["dataset"]) == {"cifar100", "ImageNet16-120"}
    assert set(res.paired["base"]) == {"rs", "rea", "ls"}
    rs_rows = res.anchors[res.anchors["quantity"] == "RS test accuracy"]
    assert list(rs_rows["dataset"]) == ["cifar10", "ImageNet16-120"]
    na_rows = res.anchors[res.anchors["quantity"].str.startswith("NA-RS")]
    assert set(na_rows["dataset"]) == {"cifar100", "ImageNet16-120"}
    # each anchor names the key ours was read at, and that key's rows hold the same number
    keys = ["protocol", "dataset", "split", "epochs", "metric"]
    rs_summary = res.summary[res.summary["algorithm"] == "rs"]
    joined = rs_rows.merge(rs_summary, on=keys, validate="one_to_one")
    assert len(joined) == len(rs_rows) and (joined["ours"] == joined["mean"]).all()
    assert set(res.anchors["metric"]) == {"accuracy"} and set(res.anchors["epochs"]) == {200}
    files = write_report(res, tmp_path / "out", seconds=1.0)
    names = {f.name for f in files}
    assert names == set(REPORT_FILES)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Verdict rule" in md and "93.70 ± 0.36" in md and "12/200" in md
    paired = pd.read_csv(tmp_path / "out" / "paired.csv")
    assert {"diff", "ci_lo", "ci_hi", "verdict", "radius", "charge"} <= set(paired.columns)


def test_full_design_and_grid_parameters(nb201_like: Table) -> None:
    cfg = ReproduceConfig.quick(
        design="full",
        radii=(1, 2),
        aggregators=("mean", "min"),
        include_self=(True, False),
        charge=(False,),
        rerank_top_k=(),
        relatives=False,
        accounting=False,  # the accounting's extra variants are tested in search/test_accounting.py
    )
    labels = list(cfg.algorithms())
    assert labels[0] == "rs" and len(labels) == 1 + 2 * 2 * 2
    prots = ReproduceConfig.quick(
        protocols=("nb201", "per-dataset"), search_epochs=(12, 200)
    ).protocol_list(nb201_like)
    assert len(prots) == 8
    p200 = next(p for p in prots if p.name == "nb201@200ep")
    assert p200.budget_seconds == pytest.approx(200_000.0)
    # the time-budgeted families search 12 or 200 epochs; fixed-n alone, any
    # (tests/search/test_audit12_protocol.py)
    with pytest.raises(
        ProtocolError, match=r"none for 50 epochs; search 12 or 200 epochs \(search_"
    ):
        ReproduceConfig(search_epochs=(50,))
    with pytest.raises(
        ProtocolError, match=r"none for 13 epochs; search 12 or 200 epochs \(default_"
    ):
        ReproduceConfig(default_epochs=(13,))
    # a repeat ran one protocol twice under one name; none searched nothing
    for epochs in ((12, 12), ()):
        with pytest.raises(ProtocolError, match=r"; give one or more schedules, each once$"):
            ReproduceConfig(search_epochs=epochs)
    with pytest.raises(ProtocolError, match=r"^default_epochs is \(\)"):
        ReproduceConfig.quick(default_epochs=())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("search_epochs", 12),
        ("search_epochs", "12"),
        ("default_epochs", 200),
        ("protocols", "nb201"),
        ("radii", 1),
        ("aggregators", "mean"),
        ("include_self", True),
        ("charge", False),
        ("rerank_top_k", 10),
    ],
)
def test_one_value_where_the_grid_takes_several_is_refused_naming_the_field(
    field: str, value: object
) -> None:
    # before: a raw TypeError at the run (not iterable), or a string read letter by letter
    with pytest.raises(ArgumentError, match=rf"^{field} must be a sequence of .*, got"):
        ReproduceConfig.quick(**{field: value})


def test_the_grid_keeps_its_several_values_as_tuples() -> None:
    cfg = ReproduceConfig.quick(radii=[1, 2], search_epochs=[12], aggregators=["mean"])
    assert (cfg.radii, cfg.search_epochs, cfg.aggregators) == ((1, 2), (12,), ("mean",))
    assert ReproduceConfig.quick().search_epochs is None  # the default stays a default
    hash(cfg)  # frozen: usable as a key, as a tuple-only grid was


def test_reproduce_on_a_table_that_cannot_serve_it(default_table: Table) -> None:
    with pytest.raises(ProtocolError, match="lacks"):
        reproduce(default_table, ReproduceConfig.quick())


@pytest.fixture(scope="module")
def fixed_n_on_cifar10(default_table: Table) -> ReproduceResult:
    """A grid whose one reported dataset has no claimed size (fixed-n on CIFAR-10 alone)."""
    return reproduce(default_table, ReproduceConfig.quick(protocols=("fixed-n",)))


def test_comparison_columns_keep_their_dtype_when_every_value_is_missing(
    fixed_n_on_cifar10: ReproduceResult, nb201_like: Table
) -> None:
    # claims all None were an object column, two_stage mixed pd.NA with bool (object)
    res = fixed_n_on_cifar10
    assert not res.paired.empty and not res.accounting.empty
    for frame in (res.paired, res.accounting):
        assert frame["claim"].dtype == np.float64 and frame["claim"].isna().all()
    assert res.paired["two_stage"].dtype == "boolean"
    # an NA-RS row is False or True, a relative's (NA-REA, NA-LS) <NA>: never read as False
    relatives = res.paired["base"] != "rs"
    assert relatives.any() and not relatives.all()
    assert res.paired.loc[relatives, "two_stage"].isna().all()
    assert res.paired.loc[~relatives, "two_stage"].notna().all()
    # where some rows have a claim: the same dtypes, the claimed values numbers
    other = reproduce(nb201_like, ReproduceConfig.quick(runs=4, n_boot=50))
    assert other.paired["claim"].dtype == np.float64 and other.paired["claim"].notna().any()
    assert other.paired["two_stage"].dtype == "boolean"


# -- CLI --------------------------------------------------------------------------------------
def test_cli_search_json(nb201_like_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["search", "--algo", "na-rs", "--radius", "1", "--agg", "median", "--runs", "4"]
    argv += ["--include-self"]  # the NA paper's neighbourhood; the default leaves the cell out
    argv += ["--table", str(nb201_like_path), "--jobs", "1", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["algorithm"] == "na-rs[r1,median,self,free]"
    assert [r["dataset"] for r in out["results"]] == ["cifar10", "cifar100", "ImageNet16-120"]
    assert all(r["n"] == 4 and r["mean"] is not None and "std" in r for r in out["results"])
    assert all(r["stalled"] == 0 for r in out["results"])  # runs that ended with budget left


def test_cli_search_text_and_errors(
    nb201_like_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = ["--table", str(nb201_like_path), "--jobs", "1"]
    assert main(["search", "--algo", "rs", "--protocol", "per-dataset", "--runs", "3", *table]) == 0
    assert "per-dataset:cifar100" in capsys.readouterr().out
    assert main(["search", "--algo", "rs", "--radius", "2", "--runs", "2", *table]) == 2
    assert "--radius does not apply to --algo rs; drop it" in capsys.readouterr().err
    assert main(["search", "--algo", "rs", "--within", "--runs", "2", *table]) == 2
    assert "error: --within does not apply to --algo rs" in capsys.readouterr().err  # not --exact
    # the flags, not the Python fields; and only what is missing
    assert main(["search", "--algo", "rea", "--first-improvement", *table]) == 2
    err = capsys.readouterr().err
    assert "--first-improvement does not apply to --algo rea" in err
    assert "first_improvement" not in err and "--population" in err
    args = ["search", "--algo", "na-rs", "--stage1-fraction", "0.3"]
    assert main([*args, "--charge-neighbours", *table]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --stage1-fraction applies only")
    assert "add --rerank-top-k K or drop it" in err and "charge" not in err.split("; ")[-1]
    assert main([*args, "--rerank-top-k", "5", *table]) == 2
    err = capsys.readouterr().err
    assert "add --charge-neighbours or drop it" in err
    assert "both" not in err and "rerank" not in err and "stage1_fraction" not in err
    assert main([*args, *table]) == 2
    assert "; add --rerank-top-k K and --charge-neighbours or drop it" in capsys.readouterr().err
    # the library's checks name their parameters; the one line names the flags
    assert main(["search", "--algo", "rea", "--population", "0", "--sample-size", "0", *table]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --population must lie in 1..10000, got 0;"), err
    assert err.count("\n") == 1
    assert main(["search", "--algo", "na-rs", "--quantile", "2", "--runs", "2", *table]) == 2
    assert "quantile" in capsys.readouterr().err
    # the neighbourhood's own checks (Neighbourhood, the runner's radius) name the flags too
    args = ["search", "--algo", "na-rs", "--agg", "quantile", "--runs", "2", *table]
    assert main([*args, "--quantile", "2"]) == 2
    assert capsys.readouterr().err.startswith("error: --quantile must lie in [0, 1], got 2.0\n")
    assert main([*args, "--radius", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --radius must be >= 1, got 0;")
    assert main([*args, "--radius", "9"]) == 2
    assert capsys.readouterr().err.startswith("error: --radius must lie in 1..6, got 9;")
    # an asked --seed-policy random on a key of one value per cell: refused, as query does
    for prot in ("nb201", "fixed-n"):
        args = ["search", "--algo", "rs", "--protocol", prot, "--seed-policy", "random"]
        assert main([*args, "--runs", "2", *table]) == 2
        err = capsys.readouterr().err
        assert "seed policy 'random' is impossible" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["search", "--algo", "bogus"])
    with pytest.raises(SystemExit):
        main(["search", "--algo", "rs", "--protocol", "nb202"])


def test_cli_search_flags_optimistic_default_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "search",
                "--algo",
                "rs",
                "--protocol",
                "fixed-n",
                "--fixed-n",
                "10",
                "--runs",
                "2",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    assert "OPTIMISTIC: search metric = report metric" in capsys.readouterr().out


def test_cli_reproduce_quick(
    nb201_like_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repro"
    argv = ["reproduce", "--quick", "--runs", "6", "--out", str(out), "--jobs", "1"]
    assert main([*argv, "--table", str(nb201_like_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {c["dataset"] for c in payload["claims"]} == {"cifar100", "ImageNet16-120"}
    assert (out / "report.md").exists() and (out / "curves.csv").exists()


def test_cli_reproduce_says_how_many_runs_stalled(
    nb201_like_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # search printed "k of N runs stalled"; reproduce said nothing on stdout, and report.md
    # lacked the budget-matched controls' stalls (their notes were dropped)
    import nb201_flat.search.lockstep as lockstep
    import nb201_flat.search.oracle as oracle
    import nb201_flat.search.replay as replay
    import nb201_flat.search.vectorised as vec

    argv = ["reproduce", "--quick", "--runs", "2", "--jobs", "1", "--table", str(nb201_like_path)]
    assert main([*argv, "--out", str(tmp_path / "calm")]) == 0
    assert "stalled" not in capsys.readouterr().out  # none stalled: nothing said
    for module in (oracle, vec, lockstep, replay):  # a patience of 1: local searches stall
        monkeypatch.setattr(module, "stall_limit", lambda size: 1)
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    per_run = pd.read_csv(tmp_path / "o" / "runs.csv.gz")
    per_run = per_run.drop_duplicates(["protocol", "algorithm", "run"])
    k = int(per_run["stalled"].sum())
    assert k > 0
    assert (
        f"  {k} of {len(per_run)} runs stalled (ended with budget unspent"
        in capsys.readouterr().out
    )
    md = (tmp_path / "o" / "report.md").read_text()
    every = per_run.groupby(["protocol", "algorithm"], sort=False)["stalled"].sum()
    for (prot, algo), n in every.items():  # each cell that stalled, controls too
        assert (f"- {prot} {algo}: {n} of 2 runs stalled" in md) == bool(n), (algo, n)
    assert any("(budget of" in str(algo) and n for (_, algo), n in every.items())


def test_paired_differences_refuse_labels_the_results_lack(nb201_like: Table) -> None:
    # a mistyped label was skipped: its rows were missing from the frame, without a word
    from nb201_flat.search import NARandomSearch, RandomSearch, fixed_n_protocols, run_search
    from nb201_flat.search.statistics import paired_differences

    algos = {"rs": RandomSearch(), "na": NARandomSearch()}
    res = run_search(nb201_like, fixed_n_protocols(nb201_like, 10)[0], algos, runs=3)
    assert len(paired_differences(res, algos, n_boot=50)) == 1
    with pytest.raises(ArgumentError, match="no runs of 'na-rs' in the results"):
        paired_differences(res, {"rs": RandomSearch(), "na-rs": NARandomSearch()}, n_boot=50)
    # no label with its base among them: nothing to pair (it returned a frame with no columns)
    with pytest.raises(ArgumentError, match="has its base among them"):
        paired_differences(res, {"na": NARandomSearch()}, n_boot=50)


def test_one_runs_rule_where_a_ci_is_printed(
    nb201_like_path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # demo --runs 1 printed "95 % bootstrap CI [-, -]" with exit 0 while reproduce refused it,
    # and reproduce --runs 0 said 1..1000000, which it then refused too
    table = ["--table", str(nb201_like_path)]
    for cmd in (["demo", "--top", "1"], ["reproduce", "--quick", "--out", str(tmp_path / "o")]):
        for runs in ("0", "1"):
            assert main([*cmd, "--runs", runs, *table]) == 2
            err = capsys.readouterr().err.strip()
            assert err == (
                f"error: --runs must lie in 2..1000000, got {runs}; a confidence interval "
                "needs at least two runs"
            )
    # search prints no CI: one run is a run (its std is shown as '-')
    assert main(["search", "--algo", "rs", "--runs", "0", *table]) == 2
    assert "--runs must lie in 1..1000000, got 0; pass at least one run" in capsys.readouterr().err
    with pytest.raises(ArgumentError, match="runs must lie in 2..1000000, got 1; a confidence"):
        ReproduceConfig(runs=1)


def test_reproduce_refuses_a_design_that_changes_nothing_and_repeated_items(
    nb201_like_path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # --quick --design full ran the quick grid and wrote "design full" into report.md; a
    # repeated protocol or epoch was dropped without a word
    base = ["reproduce", "--quick", "--out", str(tmp_path / "o"), "--table", str(nb201_like_path)]
    cases = {
        ("--design", "full"): "--design full changes nothing here",
        ("--design", "one-at-a-time"): "--design one-at-a-time changes nothing here",
        ("--protocols", "nb201,NB201"): "--protocols names nb201 twice; give each item once",
        ("--search-epochs", "12,12"): "--search-epochs names 12 twice; give each item once",
    }
    for extra, message in cases.items():
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_full_design_runs_its_base_whose_controls_need_it() -> None:
    # a base outside the full product (--radius 2 on the quick grid's radius 1) was not run,
    # and its budget-matched control stopped the grid: "no runs of ... to match a budget to"
    from nb201_flat.search.algorithms import NeighbourObjective
    from nb201_flat.search.grid import ReproduceConfig

    cfg = ReproduceConfig.quick(design="full", base=NeighbourObjective(radius=2))
    labels = set(cfg.algorithms())
    assert set(cfg.matched_pairs()) <= labels
    assert "na-rs[r2=,mean,noself,free]" in labels


def test_a_full_design_keeps_the_product_order_when_its_base_is_in_it() -> None:
    # the base was put first, so a base inside the product but not first (--no-self) moved
    # its rows ahead of the others in every file, against the product's order
    from nb201_flat.search.algorithms import NeighbourObjective
    from nb201_flat.search.grid import ReproduceConfig

    cfg = ReproduceConfig.quick(
        design="full", include_self=(True, False), base=NeighbourObjective()
    )
    assert not cfg.base.include_self  # the product's second level
    na_rs = [k for k in cfg.algorithms() if k.startswith("na-rs[")]
    assert na_rs == ["na-rs[r1,mean,self,free]", "na-rs[r1,mean,noself,free]"]


def test_reproduce_names_the_protocol_builders_parameters_by_its_own_flags() -> None:
    # it printed `protocol='fixed-n'` and `(epochs)`, names reproduce takes no flag for
    import argparse

    from nb201_flat.cli import build_parser
    from nb201_flat.cli.common import error_line
    from nb201_flat.errors import Param, ProtocolError

    words = ["reproduce", "--quick", "--out", "o"]
    parser = build_parser("reproduce")
    args = parser.parse_args(words)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    exc = ProtocolError(
        "no key", ("use ", Param("protocol", "fixed-n"), " or pass ", Param("epochs"))
    )
    line = error_line(exc, commands.choices["reproduce"], args)
    assert line.endswith("use --protocols fixed-n or pass --search-epochs"), line
    # the budgets its grid sets (Protocol.budget_by), which no flag of reproduce changes:
    # where they are set
    exc = ProtocolError("no budget", ("raise it (", Param("budget_scale_200"), ")"))
    line = error_line(exc, commands.choices["reproduce"], args)
    assert line.endswith("(ReproduceConfig(budget_scale_200=...) in Python)"), line
    # the grid's stage-1 refusal: its two-stage variants' field, none of them as --rerank-top-k
    # sets it (it named ReproduceConfig(rerank_top_k=...) in Python), and its fixed-n budget
    exc = ProtocolError(
        "stalls",
        ("fewer (", Param("fixed_n", 54), ") or leave out (", Param("rerank_top_k", ()), ")"),
    )
    line = error_line(exc, commands.choices["reproduce"], args)
    assert line.endswith("fewer (--fixed-n 54) or leave out (--rerank-top-k 0)"), line


@pytest.mark.parametrize("value", ["abc", float("nan"), 0, 2.5, None])
def test_fixed_n_is_checked_when_the_config_is_built(value: object) -> None:
    # was kept as given, met (if ever) once fixed-n's protocols were built
    with pytest.raises(ArgumentError, match="^fixed_n must be >= 1"):
        ReproduceConfig.quick(fixed_n=value)
    assert ReproduceConfig.quick(protocols=("fixed-n",), fixed_n=np.int64(7)).fixed_n == 7


def test_empty_anchors_and_routes_have_their_columns(
    fixed_n_on_cifar10: ReproduceResult, nb201_like: Table
) -> None:
    # CIFAR-10 alone has no published anchor of fixed-n and no claim: both were frames with
    # no columns, so res.routes[["dataset", "diff"]] raised a KeyError
    res = fixed_n_on_cifar10
    assert res.anchors.empty and res.routes.empty
    assert list(res.anchors.columns) == list(ANCHOR_COLUMNS)
    assert list(res.routes.columns) == list(ROUTE_COLUMNS)
    # the same columns as a grid that has rows
    full = reproduce(nb201_like, ReproduceConfig.quick(runs=4, n_boot=50))
    assert not full.anchors.empty and not full.routes.empty
    assert list(full.anchors.columns) == list(ANCHOR_COLUMNS)
    assert list(full.routes.columns) == list(ROUTE_COLUMNS)
    # and the same dtypes: an empty frame's columns were all objects
    for name in ("anchors", "routes"):
        empty, rows = getattr(res, name), getattr(full, name)
        pd.testing.assert_series_equal(empty.dtypes, rows.dtypes, obj=name)
        assert rows["n"].dtype == np.int64, name  # numbers among them, as the test needs


def test_a_grid_without_accounting_keeps_its_frames_columns(nb201_like: Table) -> None:
    # accounting=False left accounting and matched frames with no columns (a KeyError on
    # selecting one), where a grid with the accounting has them
    off = reproduce(nb201_like, ReproduceConfig.quick(runs=4, n_boot=50, accounting=False))
    on = reproduce(nb201_like, ReproduceConfig.quick(runs=4, n_boot=50))
    assert off.accounting.empty and off.matched.empty
    assert not on.accounting.empty and not on.matched.empty
    for res in (off, on):
        assert list(res.accounting.columns) == list(ACCOUNTING_COLUMNS)
        assert list(res.matched.columns) == list(MATCHED_COLUMNS)
    # and the same dtypes (those of no rows were all objects), one definition for both
    for name, dtypes in (("accounting", ACCOUNTING_DTYPES), ("matched", MATCHED_DTYPES)):
        empty, rows = getattr(off, name), getattr(on, name)
        pd.testing.assert_series_equal(empty.dtypes, rows.dtypes, obj=name)
        assert list(rows.columns) == list(dtypes), name
        assert rows["n" if name == "accounting" else "budget"].dtype != object, name


def test_the_report_says_what_each_number_is_over(fixed_n_on_cifar10: ReproduceResult) -> None:
    # a 99.9 % interval was labelled 100 %, 97.5 % 98 %; the paired table had no pair count
    # (a mean over 9 pairs beside the 20 runs per cell said); no anchored quantity left the
    # anchors heading over nothing
    from dataclasses import replace

    from nb201_flat.search.report import render_markdown

    res = fixed_n_on_cifar10
    md = render_markdown(replace(res, config=replace(res.config, confidence=0.975, n_boot=2000)))
    assert "97.5% percentile bootstrap (2000 resamples)" in md and "98%" not in md
    assert "| protocol | dataset | algorithm | base | n | na_mean |" in md
    n = res.paired["n"].iloc[0]
    assert n > 0 and f"| {n} |" in md
    assert res.anchors.empty and "None here: no protocol of this grid reports" in md
