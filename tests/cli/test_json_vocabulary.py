"""One vocabulary across the commands' ``--json`` outputs and flags (0.2.0's renames).

Every command runs with ``--json`` on one imported synthetic table; across all of them no key
is named ``table`` (a label, or the ``--table`` folder?), ``seed`` (a policy, a master, pair or
run seed?) or ``value_read``; ``stored_seeds`` is a list of ints; a key name has one JSON type
wherever it appears; the table's ``source`` is one string. The renamed flags' old spellings
still work for this release, each warning once on stderr."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run

from nb201_flat.testing import synthetic_table

KEY = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each command's --json output, the table imported from a tidy file by ``import``."""
    from nb201_flat.cli import main

    d = tmp_path_factory.mktemp("vocab")
    tidy = d / "like_tidy.csv.gz"
    synthetic_table().to_tidy().to_csv(tidy, index=False)
    path = d / "like.nb201"
    table = ("--table", str(path))
    argvs: dict[str, list[str]] = {
        "import": ["import", str(tidy), "--out", str(path)],
        "info": ["info", *table],
        "query": ["query", "5", *KEY, *table],
        "record": ["record", "5", *table],
        "flatness": ["flatness", *KEY, "--top", "2", *table],
        "barrier": ["barrier", "1", "5", *KEY, *table],
        "census": ["census", "--pairs", "3", "--top-k", "3", *table],
        "constrained": [
            "constrained",
            *KEY,
            "--cost",
            "params_mb_analytic",
            "--max-cost",
            "1",
            *table,
        ],
        "model": ["model", "5"],
        "search": [
            "search",
            "--algo",
            "na-rs",
            "--protocol",
            "fixed-n",
            "--fixed-n",
            "20",
            "--runs",
            "2",
            "--jobs",
            "1",
            *table,
        ],
        "demo": ["demo", "--runs", "3", "--top", "1", *table],
        "reproduce": [
            "reproduce",
            "--quick",
            "--runs",
            "2",
            "--jobs",
            "1",
            "--out",
            str(d / "rep"),
            *table,
        ],
        "figures": ["figures", "--only", "a2m_paths", "--out", str(d / "fig"), *table],
    }
    out: dict[str, Any] = {}
    for name, argv in argvs.items():  # import first: the others read its table
        buf, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
            code = main([*argv, "--json"])
        assert code == 0, (name, err.getvalue())
        out[name] = json.loads(buf.getvalue())
    return out


def _items(doc: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of ``doc``'s objects, recursively; demo's ``units`` maps
    quantities to their unit (``{"value": "%"}``), no record of them, and is not walked."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield where, k, v
            if k != "units":
                yield from _items(v, f"{where}.{k}")
    elif isinstance(doc, list):
        for v in doc:
            yield from _items(v, f"{where}[]")


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def test_no_key_is_named_table_seed_or_value_read(outputs: dict[str, Any]) -> None:
    found = [
        f"{cmd}{where}.{k}"
        for cmd, doc in outputs.items()
        for where, k, _ in _items(doc)
        if k in ("table", "seed", "value_read")
    ]
    assert not found


def test_stored_seeds_is_always_a_list_of_ints(outputs: dict[str, Any]) -> None:
    seen = {
        cmd: v for cmd, doc in outputs.items() for _, k, v in _items(doc) if k == "stored_seeds"
    }
    # info's keys, and every landscape command's key
    assert {"info", "flatness", "barrier", "census", "constrained"} <= set(seen)
    for cmd, doc in outputs.items():
        for where, k, v in _items(doc):
            if k == "stored_seeds":
                assert isinstance(v, list), (cmd, where)
                assert all(type(s) is int for s in v), (cmd, where, v)
    info_seeds = [r["stored_seeds"] for r in outputs["info"]["keys"]]
    assert [0, 1, 2] in info_seeds and [] in info_seeds


def test_each_key_name_has_one_json_type(outputs: dict[str, Any]) -> None:
    types: dict[str, dict[str, set[str]]] = {}
    for cmd, doc in outputs.items():
        for where, k, v in _items(doc):
            types.setdefault(k, {}).setdefault(_json_type(v), set()).add(f"{cmd}{where}")
    mixed = {k: t for k, t in types.items() if len(set(t) - {"null"}) > 1}
    assert not mixed


def test_the_tables_source_is_one_string_in_every_command(outputs: dict[str, Any]) -> None:
    sources = {cmd: doc.get("source") for cmd, doc in outputs.items() if cmd != "model"}
    assert set(sources.values()) == {outputs["import"]["source"]}, sources
    assert outputs["import"]["source"].startswith("tidy file")


def test_the_renamed_keys(outputs: dict[str, Any]) -> None:
    """The renames a reader meets: each old name gone, the new one there."""
    info = outputs["info"]
    assert {"table_path", "table_sha256"} <= set(info) and not {"path", "sha256"} & set(info)
    assert {"measured", "stored_mean", "stored_seeds"} <= set(info["keys"][0])
    assert outputs["query"]["values_read"] == "stored value"
    assert "seed_values" in outputs["record"]["entries"][0]
    search = outputs["search"]
    assert search["master_seed"] == 0 and search["seed_policy"] == "mean"
    row = search["results"][0]
    assert row["protocol"] == "fixed-n" and row["search_dataset"] == "cifar10-valid"
    assert row["search_key"].startswith("cifar10-valid/x-valid@12ep")
    assert {"simulated_seconds", "simulated_total_seconds"} <= set(row)
    claim = outputs["reproduce"]["claims"][0]
    assert {"search_dataset", "charge_neighbours", "diff", "ci_lo", "ci_hi"} <= set(claim)
    demo = outputs["demo"]
    assert demo["key"] == "cifar10/ori-test@200ep:accuracy"
    pair = demo["search"]["paired_difference"][0]
    assert {"diff", "ci_lo", "ci_hi"} <= set(pair)
    # flatness's row fields, demo's best rows alike
    assert {"mean", "min", "n"} <= set(demo["best"][0]) <= set(outputs["flatness"]["rows"][0])
    labels = {r["algorithm"] for r in demo["search"]["rows"]}
    assert labels == {"rs", "na-rs[r1,mean,self,free]"}
    # search's own labels (its na-rs default leaves the cell itself out; demo's is NA's)
    assert outputs["search"]["algorithm"].startswith("na-rs[r1,mean,")
    census = outputs["census"]["datasets"][0]
    assert census["pair_seed"] == 0
    assert {"no_barrier_fraction", "lowest_is_shortest_fraction"} <= set(census["groups"][0])
    barriers = outputs["barrier"]["barriers"]
    assert "above_worse" in barriers["best_shortest"]
    model = outputs["model"]
    assert (model["channels"], model["cells_per_stage"]) == (16, 5)
    assert outputs["constrained"]["cost_metric"] == "params_mb_analytic"


# -- the renamed flags ---------------------------------------------------------------------------
def _table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nb201_flat.storage import save_table

    return save_table(synthetic_table(), tmp_path_factory.mktemp("flags") / "t.nb201")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _table(tmp_path_factory)


SEARCH = ("search", "--algo", "rs", "--protocol", "fixed-n", "--runs", "2", "--jobs", "1")
RENAMED = [
    # (old, new, value, the command before the flag)
    ("--n", "--fixed-n", "10", SEARCH),
    ("--epochs", "--search-epochs", "200", (*SEARCH, "--fixed-n", "10")),
    ("--seed", "--pair-seed", "3", ("census", "--pairs", "2", "--top-k", "2")),
    ("--top", "--top-k", "2", ("census", "--pairs", "0")),
]


@pytest.mark.parametrize(("old", "new", "value", "argv"), RENAMED)
def test_an_old_spelling_warns_once_and_answers_as_the_new(
    capsys: pytest.CaptureFixture[str],
    table_path: Path,
    old: str,
    new: str,
    value: str,
    argv: tuple[str, ...],
) -> None:
    given = (*argv, "--table", str(table_path), "--json")
    code, out_new, err_new = run(capsys, *given, new, value)
    assert code == 0, err_new
    code, out_old, err_old = run(capsys, *given, old, value)
    assert code == 0, err_old
    warning = f"warning: {old} is now {new}; the old spelling goes in a later version"
    assert err_old.count(warning) == 1 and warning not in err_new
    strip = {"wall_seconds", "load_seconds"}  # how long each took
    old_doc, new_doc = json.loads(out_old), json.loads(out_new)
    for doc in (old_doc, new_doc):
        for k in strip:
            doc.pop(k, None)
    assert old_doc == new_doc


def test_reproduce_charge_neighbours_and_its_old_spelling(
    capsys: pytest.CaptureFixture[str], table_path: Path, tmp_path: Path
) -> None:
    base = ("reproduce", "--quick", "--runs", "2", "--jobs", "1", "--table", str(table_path))
    docs = []
    for flag in ("--charge-neighbours", "--charge"):
        code, out, err = run(capsys, *base, "--out", str(tmp_path / flag), flag, "free", "--json")
        assert code == 0, err
        said = "warning: --charge is now --charge-neighbours"
        assert err.count(said) == (flag == "--charge")
        doc = json.loads(out)
        docs.append(doc["claims"])
    assert docs[0] == docs[1] and all(c["charge_neighbours"] is False for c in docs[0])


def test_train_sample_seed_and_its_old_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    """The parser alone (training needs the data): both spellings set one value."""
    from nb201_flat.cli import build_parser

    parser = build_parser()
    argv = ["train", "--sample", "3", "--dataset", "cifar10", "--data-root", "d", "--db", "x.db"]
    new = parser.parse_args([*argv, "--sample-seed", "4"])
    assert capsys.readouterr().err == ""
    old = parser.parse_args([*argv, "--seed", "4"])
    err = capsys.readouterr().err
    assert err == "warning: --seed is now --sample-seed; the old spelling goes in a later version\n"
    assert new.sample_seed == old.sample_seed == 4


def test_an_old_and_a_new_spelling_together_are_given_twice(
    capsys: pytest.CaptureFixture[str], table_path: Path
) -> None:
    from nb201_flat.cli import main

    with pytest.raises(SystemExit) as stop:  # a parser's refusal
        main([*SEARCH, "--fixed-n", "10", "--n", "20", "--table", str(table_path)])
    assert stop.value.code == 2 and "--fixed-n given twice (10, 20)" in capsys.readouterr().err


def test_a_refusal_names_the_new_flag(capsys: pytest.CaptureFixture[str], table_path: Path) -> None:
    code, _, err = run(capsys, *SEARCH, "--n", "0", "--table", str(table_path))
    assert code == 2 and "--fixed-n" in err.splitlines()[-1]
    code, _, err = run(capsys, "census", "--pairs", "0", "--seed", "1", "--table", str(table_path))
    assert code == 2 and "drop --pair-seed" in err


def test_old_spellings_are_hidden_from_help(capsys: pytest.CaptureFixture[str]) -> None:
    from nb201_flat.cli import build_parser

    hidden = [
        ("search", "--n "),
        ("search", "--epochs "),
        ("census", "--top "),
        ("census", "--seed "),
    ]
    hidden += [("reproduce", "--charge "), ("train", "--seed ")]
    for cmd, old in hidden:
        with pytest.raises(SystemExit):
            build_parser().parse_args([cmd, "--help"])
        text = capsys.readouterr().out
        assert old not in text, (cmd, old)
