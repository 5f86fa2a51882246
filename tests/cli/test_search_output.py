"""``search`` states every evaluation a run made, not only the queries charged to its budget.

NA searches with free neighbour look-ups evaluate about 25 cells per charged query (radius 1);
the output printed the charged queries alone ("109 queries") and --json's ``seconds`` was the
charged time only, so NA-RS looked as cheap as RS.
"""

from __future__ import annotations

import json
import re

import pytest

from nb201_flat.cli import main
from nb201_flat.storage import save_table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def synth_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("synth") / "t.nb201"))


def _search(capsys: pytest.CaptureFixture[str], algo: str, path: str, *extra: str) -> str:
    argv = ["search", "--algo", algo, "--runs", "3", "--jobs", "1", "--table", path, *extra]
    assert main(argv) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("algo", ["rs", "na-rs", "na-rea", "rea"])
def test_search_shows_free_evaluations(
    capsys: pytest.CaptureFixture[str], synth_path: str, algo: str
) -> None:
    rows = json.loads(_search(capsys, algo, synth_path, "--json"))["results"]
    assert rows
    free = algo.startswith("na-")
    for r in rows:
        # the keys scripts read are kept; the accounting is added beside them
        assert {"queries", "simulated_seconds", "mean", "std", "n"} <= set(r)
        assert r["evaluations"] == pytest.approx(r["queries"] + r["free_queries"])
        if free:  # each charged centre brings its neighbours for free
            assert r["free_queries"] > r["queries"] > 0
            assert r["simulated_total_seconds"] > r["simulated_seconds"] > 0
        else:
            assert r["free_queries"] == 0 and r["evaluations"] == pytest.approx(r["queries"])
            assert r["simulated_total_seconds"] == pytest.approx(r["simulated_seconds"])
    text = _search(capsys, algo, synth_path)
    shown = re.findall(r"([\d,.]+) queries charged, ([\d,.]+) evaluations\)", text)
    assert len(shown) == len(rows), text
    for (q, e), r in zip(shown, rows, strict=True):  # a mean over runs: its fraction shown
        assert float(q.replace(",", "")) == pytest.approx(r["queries"], abs=0.05)
        assert float(e.replace(",", "")) == pytest.approx(r["evaluations"], abs=0.05)


def test_search_rows_name_the_whole_reported_key(
    capsys: pytest.CaptureFixture[str], synth_path: str
) -> None:
    # "cifar100/x-test" alone read the same for a 12-epoch and a 200-epoch protocol
    rows = json.loads(_search(capsys, "rs", synth_path, "--json"))["results"]
    assert rows and all({"epochs", "metric"} <= set(r) for r in rows)
    text = _search(capsys, "rs", synth_path)
    for r in rows:
        key = f"{r['dataset']}/{r['split']}@{r['epochs']}ep:{r['metric']}"
        assert f" {key} " in text, text


@pytest.mark.parametrize("algo", ["na-rs", "na-rea", "ls", "na-ls"])
def test_repeats_is_refused_where_a_revisit_is_never_charged(
    capsys: pytest.CaptureFixture[str], synth_path: str, algo: str
) -> None:
    # these keep every cell they paid for: --repeats cache and charge gave the same runs
    argv = ["search", "--algo", algo, "--runs", "3", "--jobs", "1", "--table", synth_path]
    assert main([*argv, "--repeats", "cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--repeats does not apply to" in err, err


def test_repeats_changes_what_rea_pays(capsys: pytest.CaptureFixture[str], synth_path: str) -> None:
    # where it applies it is taken, and the default is NB201's charge
    runs = {
        r: json.loads(_search(capsys, "rea", synth_path, "--json", *r))["results"][0]
        for r in ((), ("--repeats", "charge"), ("--repeats", "cache"))
    }
    assert runs[()] == runs[("--repeats", "charge")]
    assert runs[("--repeats", "cache")] != runs[()]
