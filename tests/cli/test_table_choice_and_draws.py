"""Which table a command reads, and what a query's output keeps of how it read the value: an
empty $NB201_FLAT_TABLE is refused as ``--table ''`` is (it silently meant the embedded table),
and a random seed draw prints the generator seed that reproduces it (the CLI audit, items 13
and 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.storage import load_table, save_table
from nb201_flat.testing import synthetic_table


@pytest.fixture(scope="module")
def synth_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_table(synthetic_table(), tmp_path_factory.mktemp("synth") / "t"))


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_table_variable_is_refused_like_an_empty_table_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NB201_FLAT_TABLE", value)
    line = one_line_exit_2(capsys, "info")
    assert line == (
        f"error: $NB201_FLAT_TABLE is set but empty ({value!r}); point it at a table folder "
        "written by `nb201-flat import SOURCE --out TABLE`, or unset it for the embedded default"
    )
    flag = one_line_exit_2(capsys, "info", "--table", "")  # the refusal it now matches
    assert "is empty" in flag
    from nb201_flat.errors import TableFileError

    with pytest.raises(TableFileError, match=r"set but empty.* save_table, or unset it"):
        load_table()  # the library reads the variable the same way


def test_an_explicit_table_wins_over_an_empty_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, synth_path: str
) -> None:
    monkeypatch.setenv("NB201_FLAT_TABLE", "")
    code, out, _ = run(capsys, "info", "--table", synth_path)
    assert code == 0 and "synthetic" in out


def test_a_random_draw_records_its_generator_seed(
    capsys: pytest.CaptureFixture[str], synth_path: str
) -> None:
    base = ["query", "0", "--table", synth_path, "--dataset", "cifar100", "--split", "x-valid"]
    base += ["--epochs", "200", "--seed-policy", "random"]
    code, out, _ = run(capsys, *base, "--rng-seed", "3")
    assert code == 0 and "[random, --rng-seed 3: seed " in out
    code, out, _ = run(capsys, *base, "--rng-seed", "3", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["seed_policy"] == "random" and doc["rng_seed"] == 3
    # the recorded seed draws the same value again
    code, again, _ = run(capsys, *base, "--rng-seed", str(doc["rng_seed"]), "--json")
    assert json.loads(again)["value"] == doc["value"]
    # no draw, no generator seed
    code, out, _ = run(capsys, *base[:-2], "--json")
    assert json.loads(out)["rng_seed"] is None


def test_the_variable_names_a_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, synth_path: str
) -> None:
    monkeypatch.setenv("NB201_FLAT_TABLE", synth_path)
    code, out, _ = run(capsys, "info", "--json")
    assert code == 0 and Path(json.loads(out)["table_path"]) == Path(synth_path).resolve()


def test_a_mean_over_fewer_seeds_than_the_key_stores_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # seed 0 unmeasured, seed 1 at 90 and no mean row: "[mean] = 90.0000", one seed unsaid
    from nb201_flat.space import NB201

    a0, a1 = NB201.arch(0).to_str(), NB201.arch(1).to_str()
    rows = [(0, a0, 0, "nan"), (0, a0, 1, "90"), (1, a1, 0, "91"), (1, a1, 1, "92")]
    src = tmp_path / "seeds.csv"
    src.write_text(
        "index,arch,dataset,split,epochs,seed,metric,value\n"
        + "".join(f"{i},{a},cifar10,ori-test,200,{s},accuracy,{v}\n" for i, a, s, v in rows)
    )
    code, _, _ = run(capsys, "import", str(src), "--out", str(tmp_path / "t"))
    assert code == 0
    key = ["--table", str(tmp_path / "t"), "--dataset", "cifar10", "--split", "ori-test"]
    key += ["--epochs", "200"]
    code, out, _ = run(capsys, "query", "0", *key)
    assert code == 0 and out.rstrip().endswith(
        "[mean] = 90.0000  [mean of seed 1 only; not measured at seed 0]"
    )
    code, out, _ = run(capsys, "query", "0", *key, "--json")
    doc = json.loads(out)
    assert (doc["seeds_averaged"], doc["seeds_unmeasured"]) == ([1], [0])
    code, out, _ = run(capsys, "query", "1", *key)  # both seeds: no note
    assert code == 0 and out.rstrip().endswith("[mean] = 91.5000")
    code, out, _ = run(capsys, "query", "1", *key, "--json")
    doc = json.loads(out)
    assert (doc["seeds_averaged"], doc["seeds_unmeasured"]) == (None, None)
