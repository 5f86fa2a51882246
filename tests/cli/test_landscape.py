"""``nb201-flat flatness``, ``barrier`` and ``census``: JSON output and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run

from nb201_flat.landscape.census import describe_left_out
from nb201_flat.space import NB201, Space
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

KEY = ("--dataset", "cifar100", "--split", "x-valid", "--epochs", "200")
# table_path's cell 5 is unmeasured: its lowest barrier is an upper bound, named so
# (its pairs reach the worse endpoint, so it is exact all the same)
LOWEST = "lowest over the whole space (exact though 1 cell is unmeasured: at the worse endpoint)"


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    v = (NB201.codes == 3).sum(axis=1).astype(float) * 10  # 10 points per 3x3 conv
    v[5] = np.nan
    loss = 100 - v
    t = Table(
        NB201,
        {
            (MetricKey("cifar100", "x-valid", 200), None): v,
            (MetricKey("cifar100", "x-valid", 200, "loss"), None): loss,
        },
        source="cli-test",
    )
    return save_table(t, tmp_path / "t.nb201")


def test_flatness_top_json(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    code, out, _ = run(capsys, "flatness", *KEY, "--top", "3", "--table", str(table_path), "--json")
    assert code == 0
    payload = json.loads(out)
    archs = payload["rows"]
    assert len(archs) == 3
    best = NB201.from_ops(["nor_conv_3x3"] * 6).index
    assert archs[0]["index"] == best and archs[0]["value"] == 60.0
    # all six edges are 3x3 convs: each of the 24 neighbours has one fewer
    assert archs[0]["mean"] == 50.0 and archs[0]["sharpness"] == 10.0 and archs[0]["std"] == 0.0
    assert payload["neighbourhood"]["radius"] == 1


def test_flatness_chosen_archs_text(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    arch = NB201.arch(11472).to_str()
    code, out, _ = run(
        capsys,
        "flatness",
        *KEY,
        "--arch",
        arch,
        "7",
        "--radius",
        "2",
        "--within",
        "--table",
        str(table_path),
    )
    assert code == 0
    assert "11472" in out and "\n     7 " in out and "within distance 2" in out


@pytest.mark.parametrize("metric", ["accuracy", "loss"])
def test_flatness_text_says_what_sharp_is_and_its_sign(
    capsys: pytest.CaptureFixture[str], table_path: Path, metric: str
) -> None:
    # the sharp column had no word of what it is, nor of its sign (is a loss mirrored?)
    code, out, _ = run(capsys, "flatness", *KEY, "--metric", metric, "--table", str(table_path))
    assert code == 0
    head, legend, *rows = out.splitlines()[2:]  # below the key and neighbourhood lines
    assert head.split()[-2:] == ["sharp", "arch"]
    assert legend.startswith("(sharp = value - mean: the cell's value minus its neighbourhood")
    assert ("for a loss" in legend) == (metric == "loss")
    # what it says holds, sign included: value minus mean, not mirrored for a loss
    cells = [r.split() for r in rows]
    assert len(cells) == 10 and any(float(c[6]) != 0 for c in cells)
    for c in cells:
        assert float(c[6]) == pytest.approx(float(c[1]) - float(c[3]), abs=2e-4)


def test_flatness_text_shows_the_score_it_sorts_by(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # --agg adds the score, and --sort-by score orders by it: the text showed neither
    args = ("flatness", *KEY, "--top", "4", "--table", str(table_path))
    agg = ("--agg", "quantile", "--quantile", "0.1", "--sort-by", "score")
    code, out, _ = run(capsys, *args, *agg)
    assert code == 0
    head, _legend, *rows = out.splitlines()[2:]  # below the key and neighbourhood lines
    assert head.split()[-2:] == ["score", "arch"]
    _, js, _ = run(capsys, *args, *agg, "--json")
    want = [f"{r['score']:.4f}" for r in json.loads(js)["rows"]]
    assert [r.split()[-2] for r in rows] == want and len(want) == 4
    assert "score: r1,q0.1,noself" in out.splitlines()[1]
    code, out, _ = run(capsys, *args)  # no --agg: no score column
    assert code == 0 and "score" not in out


def test_flatness_json_states_a_level_only_where_the_score_reads_it(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # --agg mean and median recorded "quantile": 0.25, a level their score never read (and
    # --quantile is refused with them)
    args = ("flatness", *KEY, "--top", "2", "--table", str(table_path), "--json")
    for agg, level in (("quantile", ["--quantile", "0.1"]), ("median", []), ("mean", [])):
        code, out, _ = run(capsys, *args, "--agg", agg, *level)
        assert code == 0
        spec = json.loads(out)["neighbourhood"]
        assert spec["agg"] == agg and spec["quantile"] == (0.1 if level else None)


def test_barrier_json(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    a, b = 0, NB201.size - 1
    code, out, _ = run(
        capsys, "barrier", str(a), str(b), *KEY, "--table", str(table_path), "--json"
    )
    assert code == 0
    full = json.loads(out)
    p = full["path"]  # the path printed: the lowest (through measured cells) by default
    assert p["name"] == LOWEST
    steps = p["arch_path"]
    assert steps[0] == NB201.arch(a).to_str() and steps[-1] == NB201.arch(b).to_str()
    assert len(p["values"]) == len(steps)
    assert p["barrier"] == pytest.approx(
        0.5 * (p["values"][0] + p["values"][-1]) - min(p["values"])
    )
    assert len(steps) == NB201.hamming(a, b) + 1  # fewest steps by default here
    assert "barrier" not in full  # no unnamed top-level barrier
    named = full["barriers"]
    assert named["lowest"]["barrier"] == p["barrier"]
    assert set(named) == {
        "best_shortest",
        "worst_shortest",
        "mean_path",
        "a2m_code_54ce096",
        "a2m_code_947bc3e",
        "lowest",
    }
    half = abs(full["value_a"] - full["value_b"]) / 2
    for name in ("best_shortest", "worst_shortest", "mean_path", "lowest"):
        assert named[name]["above_worse"] == pytest.approx(named[name]["barrier"] - half)
    assert "above_worse" not in named["a2m_code_54ce096"]
    assert (
        named["lowest"]["barrier"]
        <= named["best_shortest"]["barrier"]
        <= named["mean_path"]["barrier"]
        <= named["worst_shortest"]["barrier"]
    )
    code, out, _ = run(
        capsys, "barrier", str(a), str(b), *KEY, "--tree-path", "--table", str(table_path), "--json"
    )
    assert code == 0 and json.loads(out)["path"]["barrier"] == p["barrier"]
    code, out, _ = run(
        capsys,
        "barrier",
        str(a),
        str(b),
        *KEY,
        "--method",
        "shortest",
        "--table",
        str(table_path),
        "--json",
    )
    full_s = json.loads(out)
    s = full_s["path"]
    assert code == 0 and len(s["arch_path"]) == NB201.hamming(a, b) + 1
    assert s["barrier"] >= p["barrier"]
    assert s["name"] == "best shortest path"
    assert s["barrier"] == pytest.approx(full_s["barriers"]["best_shortest"]["barrier"])
    assert len(full_s["barriers"]["mean_path"]["level_mean"]) == NB201.hamming(a, b) + 1
    code, out, _ = run(
        capsys,
        "barrier",
        str(a),
        str(b),
        *KEY,
        "--method",
        "worst-shortest",
        "--table",
        str(table_path),
        "--json",
    )
    w = json.loads(out)
    assert code == 0 and w["path"]["name"] == "worst shortest path"
    assert w["path"]["barrier"] == pytest.approx(w["barriers"]["worst_shortest"]["barrier"])


def test_barrier_text_names_every_barrier(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, out, _ = run(capsys, "barrier", "0", "100", *KEY, "--table", str(table_path))
    assert code == 0
    for label in (
        "best shortest path",
        "worst shortest path",
        "mean path (level means)",
        "A²M code, current (54ce096)",
        "A²M code, 947bc3e",
        LOWEST,
        "beyond worse endpoint",
    ):
        assert label in out


def test_barrier_says_where_the_current_a2m_code_gives_no_barrier(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # at distance 1 its minimum keeps its start, 100: the row read -32.41 for two cells of
    # 67.8 and 67.4, unexplained; for a metric that is no percentage the start is meaningless
    near = next(i for i in range(1, NB201.size) if NB201.hamming(0, i) == 1)
    args = ("barrier", "0", *KEY, "--table", str(table_path))
    for other, metric, said in (
        (near, [], "at distance 1 no cell lies between the pair"),
        ("0", [], "a pair of one cell has no cell between"),  # A - 100 since the code's d = 0
        ("100", ["--metric", "loss"], "for loss the number is its code's construction mirrored"),
        ("100", [], None),
    ):
        code, out, _ = run(capsys, *args[:2], str(other), *args[2:], *metric, "--json")
        assert code == 0
        entry = json.loads(out)["barriers"]["a2m_code_54ce096"]
        assert entry.get("note") is None if said is None else said in entry["note"], entry
        code, out, _ = run(capsys, *args[:2], str(other), *args[2:], *metric)
        assert ("(A²M code, current: " in out) == (said is not None), out


def test_barrier_tree_path_needs_lowest(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    code, _, err = run(
        capsys,
        "barrier",
        "0",
        "100",
        *KEY,
        "--method",
        "shortest",
        "--tree-path",
        "--table",
        str(table_path),
    )
    assert code == 2 and "--tree-path" in err and err.count("\n") == 1


def test_barrier_on_a_loss_is_mirrored(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    args = ("barrier", "0", "100", *KEY, "--table", str(table_path), "--json")
    _, out_acc, _ = run(capsys, *args)
    _, out_loss, _ = run(capsys, *args, "--metric", "loss")
    acc, loss = json.loads(out_acc), json.loads(out_loss)
    assert loss["higher_is_better"] is False
    assert loss["path"]["barrier"] == pytest.approx(acc["path"]["barrier"])
    for name, entry in acc["barriers"].items():
        assert loss["barriers"][name]["barrier"] == pytest.approx(entry["barrier"])


def test_barrier_beyond_the_worse_endpoint_is_never_below_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 0 and the all-3x3 cell, every other cell better than both: nothing beyond the worse
    # endpoint on any path; barrier minus half the gap gave -7.1e-15, printed -0.0000
    v = np.full(NB201.size, 95.0)
    b = NB201.from_ops(["nor_conv_3x3"] * 6).index
    v[0], v[b] = 90.9424, 89.0995
    path = save_table(
        Table(NB201, {(MetricKey("cifar100", "x-valid", 200), None): v}), tmp_path / "t"
    )
    args = ("barrier", "0", str(b), *KEY, "--table", str(path))
    code, out, _ = run(capsys, *args, "--json")
    named = json.loads(out)["barriers"]
    for name in ("best_shortest", "worst_shortest", "mean_path", "lowest"):
        assert named[name]["above_worse"] == 0.0, name
    code, out, _ = run(capsys, *args)
    assert code == 0 and "-0.0000" not in out and "0.0000" in out


def _around_5() -> tuple[int, int]:
    """Two cells at distance 2 with the unmeasured cell 5 on one of their two shortest paths."""
    codes = NB201.codes[5].copy()
    a, b = codes.copy(), codes.copy()
    a[0], b[1] = (codes[0] + 1) % 5, (codes[1] + 1) % 5
    return int(NB201.indices_of_codes(a[None])[0]), int(NB201.indices_of_codes(b[None])[0])


@pytest.mark.parametrize("method", ["best-shortest", "shortest", "worst-shortest"])
def test_barrier_method_on_an_unmeasured_shortest_path_is_refused(
    capsys: pytest.CaptureFixture[str], table_path: Path, method: str
) -> None:
    # the other shortest path is measured: its barrier was printed as the best one, under a
    # table that had just called the best shortest path unavailable
    a, b = _around_5()
    args = ("barrier", str(a), str(b), *KEY, "--table", str(table_path))
    code, out, err = run(capsys, *args, "--method", method)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "shortest-path barriers are undefined" in err
    # the library's lowest_barrier_path, as this command reaches it
    assert "; --method lowest finds the lowest barrier" in err
    assert "lowest_barrier_path" not in err and "CLI" not in err
    code, out, _ = run(capsys, *args)  # the lowest barrier stays, the others named unavailable
    assert code == 0 and f"path: {LOWEST}" in out
    assert f"{'best shortest path':<{len(LOWEST)}} unavailable" in out  # the names' column
    # the lowest barrier is printed above its reason, which so points at no other command
    assert "(unavailable: 1 architecture(s) on the shortest paths" in out
    assert "--method lowest" not in out and "lowest_barrier_path" not in out


def test_barrier_connected_only_names_its_flag(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    # the library names connected_only=True; the command, its --connected-only
    disconnected = int(np.nonzero(~NB201.connected)[0][0])
    args = ("barrier", str(disconnected), "6111", *KEY, "--table", str(table_path))
    code, out, err = run(capsys, *args, "--connected-only")
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert (
        f"architecture {disconnected} is disconnected, and --connected-only leaves "
        "disconnected architectures out; choose a connected one or drop it"
    ) in err
    assert "connected_only" not in err


def test_barrier_between_cut_off_cells_names_a_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # it said "no path joins 5 and 6 through measured architectures", and no way out
    far = NB201.index_of_codes((c + 2) % 5 for c in NB201.codes[0])  # six ops from cell 0
    values = np.full(NB201.size, np.nan)
    values[[0, far]] = (90.0, 80.0)
    data = {(MetricKey("cifar100", "x-valid", 200), None): values}
    path = save_table(Table(NB201, data, source="two cells"), tmp_path / "t.nb201")
    code, out, err = run(capsys, "barrier", "0", str(far), *KEY, "--table", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: no path joins 0 and {far} through measured architectures")
    assert err.rstrip().endswith("choose endpoints such a path joins"), err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("barrier", "0", "not-an-arch", *KEY), "malformed architecture"),
        (("barrier", "0", "5", *KEY), "NaN"),
        (
            ("flatness", "--dataset", "cifar10", "--split", "x-valid", "--epochs", "200"),
            "unknown dataset",
        ),
        # one wording, naming the flag, below the range as above it
        (("flatness", *KEY, "--radius", "9"), "--radius must lie in 1..6, got 9"),
        (("flatness", *KEY, "--radius", "0"), "--radius must lie in 1..6, got 0"),
        (("flatness", *KEY, "--top", "0"), "--top"),
    ],
)
def test_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], table_path: Path, argv: tuple[str, ...], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--table", str(table_path))
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


# -- census --nan-policy: a partly measured table ------------------------------------------------
C10 = ("cifar10", "ori-test", 200)


@pytest.fixture
def partial_path(tmp_path: Path) -> Path:
    """A²M's CIFAR-10 key, a fifth of the cells unmeasured (a partial retraining campaign)."""
    rng = np.random.default_rng(9)
    v = rng.uniform(70.0, 95.0, NB201.size)  # every A²M CIFAR-10 band holds ~800 cells
    v[rng.random(NB201.size) < 0.2] = np.nan
    t = Table(NB201, {(MetricKey(*C10), None): v}, source="partial")
    return save_table(t, tmp_path / "p.nb201")


def test_census_stops_on_an_unservable_pair_naming_nan_policy_omit(
    capsys: pytest.CaptureFixture[str], partial_path: Path
) -> None:
    code, out, err = run(capsys, "census", "--table", str(partial_path), "--pairs", "50")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "have no value" in err
    # the library's nan_policy='omit', spelled as the command's flag
    assert err.rstrip().endswith("count them, pass --nan-policy omit")
    # no NaN row to count as a pair: "propagate" is not offered
    with pytest.raises(SystemExit) as info:
        run(capsys, "census", "--table", str(partial_path), "--nan-policy", "propagate")
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "invalid choice" in err


def test_census_nan_policy_omit_reports_what_it_left_out(
    capsys: pytest.CaptureFixture[str], partial_path: Path, tmp_path: Path
) -> None:
    from nb201_flat.landscape.census import barrier_census
    from nb201_flat.storage import load_saved_table

    csv = tmp_path / "pairs.csv"
    args = (
        "census",
        "--table",
        str(partial_path),
        "--pairs",
        "50",
        "--top-k",
        "8",
        "--pair-seed",
        "3",
    )
    code, out, _ = run(capsys, *args, "--nan-policy", "omit", "--json", "--pairs-out", str(csv))
    assert code == 0
    p = json.loads(out)
    assert p["nan_policy"] == "omit"
    (d,) = p["datasets"]
    # the library's census on the same seed: its counts, reported as they are
    v = load_saved_table(partial_path).vector(*C10)
    lib = barrier_census(NB201, v, "cifar10", n_pairs=50, top_k=8, seed=3, nan_policy="omit")
    assert d["excluded"] == lib.attrs["excluded"] and d["omitted"] == lib.attrs["omitted"]
    assert set(d["excluded"]) == {"A", "B", "C"} and set(d["omitted"]) == {"top-k"}
    groups = {g["group"]: g["pairs"] for g in d["groups"]}
    top = d["omitted"]["top-k"]
    kept = 28 - top["no_path"] - top["unmeasured"]
    # each band still yields its 50 pairs, drawn among those it can serve; the top 8 lose some
    assert groups == {"A": 50, "B": 50, "C": 50, "top-k": kept, "all": 150 + kept}
    pairs = pd.read_csv(csv)
    assert len(pairs) == groups["all"]
    assert pairs[["a", "b"]].to_numpy().tolist() == lib[["a", "b"]].to_numpy().tolist()
    # where the CSV went, as the text says (--json said nothing of it)
    assert p["pairs_out"] == str(csv) and p["pairs_written"] == len(pairs)
    a = d["excluded"]["A"]
    assert (
        f"group A: {a['no_path'] + a['unmeasured']:,} of its {a['candidates']:,} candidate "
        "pairs left out of the draw (--nan-policy omit): " in "\n".join(d["notes"])
    )
    assert any(
        n.startswith(f"group top-k: {28 - kept} of its 28 pairs left out") for n in d["notes"]
    )
    # the census's one wording (the figure notes the same), each count said once
    for g, c in [*d["excluded"].items(), *d["omitted"].items()]:
        assert f"group {g}: {describe_left_out(c, '--nan-policy omit')}" in d["notes"]
    code, text, _ = run(capsys, *args, "--nan-policy", "omit")
    assert code == 0 and "pairs no measured path joins" in text.splitlines()[0]
    assert "note: group top-k: " in text and "unmeasured architecture lies on" in text


def test_census_nan_policy_on_a_full_table_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # every pair has a barrier there: either policy would act on none (both drew the same
    # pairs, under a header saying pairs without one were omitted); the library's census
    # takes either (tests/landscape/test_census.py)
    v = np.random.default_rng(9).uniform(70.0, 95.0, NB201.size)
    path = save_table(Table(NB201, {(MetricKey(*C10), None): v}, source="full"), tmp_path / "f")
    for policy in ("raise", "omit"):
        csv = tmp_path / f"{policy}.csv"
        argv = ("census", "--table", str(path), "--pairs", "40", "--top-k", "6", "--json")
        code, text, err = run(capsys, *argv, "--nan-policy", policy, "--pairs-out", str(csv))
        assert code == 2 and text == "" and err.count("\n") == 1, err
        assert "--nan-policy" in err and "drop it" in err, err
        assert not csv.exists()


# -- census: A²M's bands only on the key they are of; the distance only of band pairs -----------
@pytest.fixture
def band_key_path(tmp_path: Path) -> Path:
    """``table_path``'s keys and A²M's CIFAR-100 band key (test accuracy, 200 epochs)."""
    v = (NB201.codes == 3).sum(axis=1).astype(float) * 10
    keys = [("x-valid", "accuracy", v), ("x-valid", "loss", 100 - v), ("x-test", "accuracy", v)]
    data = {(MetricKey("cifar100", sp, 200, m), None): x for sp, m, x in keys}
    return save_table(Table(NB201, data, source="band key"), tmp_path / "b.nb201")


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        # a validation split, a loss: the bands are 200-epoch test accuracy
        (KEY, ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")),
        ((*KEY, "--metric", "loss"), ("--dataset", "cifar100", "--split", "x-test")),
    ],
)
def test_census_band_pairs_on_a_key_the_bands_are_not_of_are_refused(
    capsys: pytest.CaptureFixture[str],
    band_key_path: Path,
    key: tuple[str, ...],
    fix: tuple[str, ...],
) -> None:
    # it drew nothing and said "group A has no pair: it holds 0 architectures in [69.3,
    # 70.7]" three times, exit 0: --pairs silently did nothing, or drew accuracy bands of a loss
    args = ("census", *key, "--table", str(band_key_path), "--top-k", "3")
    code, out, err = run(capsys, *args, "--pairs", "3")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "A²M's bands are of test accuracy at 200 epochs" in err
    assert "pass --pairs 0 for the top K alone" in err and " ".join(fix) in err
    # each fix named runs: the top K alone, and the band key named
    code, out, _ = run(capsys, *args, "--pairs", "0")
    assert code == 0 and "barrier census: no band pairs, every pair of the top 3" in out
    named = ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")
    code, out, _ = run(capsys, "census", *named, "--table", str(band_key_path), "--pairs", "3")
    assert code == 0, out
    # a band holding fewer pairs gives them all: the header promises no more than "up to"
    assert out.startswith("barrier census: up to 3 pairs per A²M band at distance 3"), out


def test_census_band_key_fixes_lead_only_to_keys_the_table_has(
    capsys: pytest.CaptureFixture[str], table_path: Path, band_key_path: Path
) -> None:
    # the table lacks A²M's keys: the band key is not named, and --pairs 0 runs
    args = ("census", *KEY, "--table", str(table_path), "--top-k", "3")
    code, _, err = run(capsys, *args, "--pairs", "3")
    assert code == 2 and err.rstrip().endswith("pass --pairs 0 for the top K alone")
    assert run(capsys, *args, "--pairs", "0")[0] == 0
    # with --top-k 0 too, "pass --pairs 0" led to the refusal of both being 0: --top-k K is named
    top0 = ("census", *KEY, "--table", str(table_path), "--top-k", "0")
    code, _, err = run(capsys, *top0, "--pairs", "3")
    assert code == 2 and err.rstrip().endswith("pass --pairs 0 --top-k K for the top K alone")
    # --metric loss on A²M's test keys: "pass --pairs 0" then said "unknown metric 'loss'";
    # the missing key is named first, with "drop --metric" only where that key exists
    code, _, err = run(capsys, "census", "--metric", "loss", "--table", str(table_path))
    assert code == 2 and "none of A²M's test keys" in err and "with metric loss" in err
    assert "drop --metric" not in err and "--pairs 0" not in err
    code, _, err = run(capsys, "census", "--metric", "loss", "--table", str(band_key_path))
    assert code == 2 and "with metric loss; drop --metric loss, or name one" in err
    assert run(capsys, "census", "--table", str(band_key_path), "--pairs", "3")[0] == 0
    # a key the table lacks: its own error, not a band fix
    code, _, err = run(
        capsys,
        "census",
        "--dataset",
        "cifar100",
        "--split",
        "x-test",
        "--epochs",
        "12",
        "--table",
        str(band_key_path),
    )
    assert code == 2 and "unknown" in err and "A²M's bands" not in err


@pytest.fixture
def two_cell_path(tmp_path: Path) -> Path:
    """A²M's CIFAR-10 key on a cell of one edge: two architectures, one step apart."""
    space = Space(("none", "skip_connect"), 2)
    t = Table(space, {(MetricKey(*C10), None): np.array([93.0, 93.5])}, source="two cells")
    return save_table(t, tmp_path / "two.nb201")


def test_census_refuses_band_pairs_with_lower_is_better(
    capsys: pytest.CaptureFixture[str], two_cell_path: Path
) -> None:
    # A²M's bands are accuracy bands: --lower-is-better drew them and ranked the cells upside down
    key = ("census", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
    args = (*key, "--table", str(two_cell_path), "--lower-is-better")
    code, out, err = run(capsys, *args, "--pairs", "3", "--top-k", "0", "--distance", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "A²M's bands are accuracy bands (higher is better), not for --lower-is-better" in err
    code, out, _ = run(capsys, *args, "--pairs", "0", "--top-k", "2")  # the top K alone: as asked
    assert code == 0


def test_census_on_a_one_edge_space_checks_the_distance_of_band_pairs_only(
    capsys: pytest.CaptureFixture[str], two_cell_path: Path
) -> None:
    key = ("census", "--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
    args = (*key, "--table", str(two_cell_path))
    # no band pairs: the default distance 3 does not apply (it was refused: "distance must lie
    # in 1..1, got 3", and --distance 0 then "drop one of them")
    code, out, _ = run(capsys, *args, "--pairs", "0", "--top-k", "2", "--json")
    assert code == 0
    (res,) = json.loads(out)["datasets"]
    assert [(g["group"], g["pairs"]) for g in res["groups"]] == [("top-k", 1)]
    # band pairs: the default distance, or one the user gives, beyond the cell is refused
    for extra in ((), ("--distance", "2")):
        code, out, err = run(capsys, *args, "--pairs", "3", "--top-k", "0", *extra)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "this space's cells have 1 edge" in err and "--distance 1..1" in err
    code, out, _ = run(capsys, *args, "--pairs", "3", "--top-k", "0", "--distance", "1")
    assert code == 0 and "\nA           1 " in out  # both cells lie in band A
