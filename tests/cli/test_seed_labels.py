"""Every command that reads a key's values says what they are: the table's stored value per
cell, or the mean over its stored seeds; a random draw names the seed it served; a search
tells its master seed from the oracle's seed policy (a fuzz found them unsaid)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

STORED = ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")
SEEDS_ONLY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")
STORED_WORDS = "value: the table's one stored value per cell, not its per-seed values (seeds 0, 1)"
MEAN_WORDS = "value: mean over the 2 stored seeds"


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    s0, s1 = rng.uniform(50.0, 75.0, (2, NB201.size))
    data = {
        (MetricKey("cifar100", "x-test", 200), None): (s0 + s1) / 2,
        (MetricKey("cifar100", "x-test", 200), 0): s0,
        (MetricKey("cifar100", "x-test", 200), 1): s1,
        (MetricKey("cifar10", "ori-test", 200), 0): s0 + 10,
        (MetricKey("cifar10", "ori-test", 200), 1): s1 + 10,
        (MetricKey("cifar100", "model", 200, "params_mb"), None): rng.uniform(0.1, 1.5, NB201.size),
    }
    t = Table(NB201, data, source="seed-labels")
    return save_table(t, tmp_path_factory.mktemp("seeds") / "t.nb201")


@pytest.mark.parametrize(("key", "words"), [(STORED, STORED_WORDS), (SEEDS_ONLY, MEAN_WORDS)])
def test_barrier_census_and_constrained_say_what_values_they_read(
    capsys: pytest.CaptureFixture[str], table_path: Path, key: tuple[str, ...], words: str
) -> None:
    table = ("--table", str(table_path))
    code, out, err = run(capsys, "barrier", "0", "1", *key, *table)
    assert code == 0 and out.splitlines()[0].endswith(f"is better; {words}"), err or out
    code, out, err = run(capsys, "census", *key, "--pairs", "0", "--top-k", "3", *table)
    assert code == 0 and f"(higher is better; {words})" in out.splitlines()[1], err or out
    if key == STORED:  # the cost is stored for cifar100 only
        args = ("constrained", *key, "--cost", "params_mb", "--max-cost", "0.5", *table)
        code, out, err = run(capsys, *args)
        assert code == 0 and out.splitlines()[0].endswith(f"accuracy; {words}):"), err or out
    read = "stored value" if key == STORED else "mean over stored seeds"
    for argv in (
        ("barrier", "0", "1", *key),
        ("flatness", *key, "--top", "2"),
        ("census", *key, "--pairs", "0", "--top-k", "3"),
    ):
        code, out, err = run(capsys, *argv, *table, "--json")
        assert code == 0, err
        doc = json.loads(out)
        doc = doc["datasets"][0] if argv[0] == "census" else doc
        assert doc["values_read"] == read and doc["stored_seeds"] == [0, 1], (argv, doc)


def test_a_random_draw_names_the_seed_it_served(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    from nb201_flat.storage import load_table

    t = load_table(table_path)
    drawn = set()
    for rng_seed in range(8):
        argv = ("query", "7", *STORED, "--seed-policy", "random", "--rng-seed", str(rng_seed))
        code, out, err = run(capsys, *argv, "--table", str(table_path), "--json")
        assert code == 0, err
        doc = json.loads(out)
        seed = doc["seed_drawn"]
        assert doc["value"] == t.data[(MetricKey("cifar100", "x-test", 200), seed)][7]
        _, text, _ = run(capsys, *argv, "--table", str(table_path))
        assert f"[random, --rng-seed {rng_seed}: seed {seed}] = {doc['value']:.4f}" in text
        drawn.add(seed)
    assert drawn == {0, 1}  # eight draws of two seeds: both served
    _, out, _ = run(capsys, "query", "7", *STORED, "--table", str(table_path), "--json")
    assert json.loads(out)["seed_drawn"] is None


def test_a_search_tells_its_master_seed_from_the_oracles_seed_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ("search", "--algo", "rs", "--runs", "2", "--protocol", "fixed-n", "--seed", "5")
    code, out, err = run(capsys, *argv, "--seed-policy", "mean")
    assert code == 0, err
    assert out.startswith("rs under fixed-n: 2 runs, master seed 5, oracle seed policy mean, ")
