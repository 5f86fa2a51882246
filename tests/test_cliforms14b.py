"""Audit 14b's command-line forms: ``train --seeds=V`` before ARCH, ``census --nan-policy`` on
a fully measured key, ``--seed-policy random`` on a key of one stored seed (query, search),
and flatness's fix on a table that measures one cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_exit_2, run

from nb201_flat.cli import build_parser, main
from nb201_flat.space import NB201
from nb201_flat.storage import save_table
from nb201_flat.table import MetricKey, Table

TRAIN = ["train", "--dataset", "cifar10", "--epochs", "1", "--C", "2", "--N", "1",
         "--executor", "inline", "--device", "cpu", "--threads", "1"]  # fmt: skip


# --- train: --seeds=V followed by ARCH, --seeds V W taking ARCH --------------------------


def test_train_seeds_equals_then_arch_is_refused_before_the_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--seeds=1 2 0`` gave --seeds the one value 1 and ARCH the cells 2 and 0: cell 2 was
    trained at seed 1 and seed 2 never. Refused while parsing, the ``--`` form named."""
    from tests.train.train_helpers import write_tiny_cifar10

    root = write_tiny_cifar10(tmp_path / "data")
    db = tmp_path / "r.sqlite"
    argv = [*TRAIN, "--data-root", str(root), "--db", str(db), "--seeds=1", "2", "0"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    assert "--seeds=1 takes one seed" in err and "(2 0) to ARCH" in err, err
    assert "--seeds V W -- ARCH" in err, err
    assert not db.exists() and not (tmp_path / "r.sqlite.ckpt").exists()


def test_train_seeds_forms_that_say_what_they_mean_still_parse() -> None:
    parser = build_parser("train")
    base = ["train", "--dataset", "cifar10", "--data-root", "d", "--db", "r.sqlite"]
    for form, seeds, archs in (
        (["--seeds", "1", "2", "--", "0"], [1, 2], ["0"]),
        (["0", "--seeds=1"], [1], ["0"]),
        (["--seeds=1", "--epochs", "1", "0"], [1], ["0"]),  # another option ends the value
        (["--seeds=1"], [1], []),
    ):
        args, extra = parser.parse_known_args([*base, *form])
        assert (args.seeds, args.archs, extra) == (seeds, archs, []), form


def test_train_seeds_that_took_the_arch_name_the_dash_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--seeds 1 2 0`` took the ARCH 0 as a seed: "give ARCH" was said although one was."""
    pytest.importorskip("torch")
    db = tmp_path / "r.sqlite"
    argv = [*TRAIN, "--data-root", str(tmp_path / "none"), "--db", str(db)]
    line = one_line_exit_2(capsys, *argv, "--seeds", "1", "2", "0")
    assert "no cells selected, and --seeds took 1 2 0" in line, line
    assert "--seeds V W -- ARCH" in line and "put ARCH before --seeds" in line, line
    assert not db.exists()
    # one seed took nothing that could be a cell: the campaign's own words
    line = one_line_exit_2(capsys, *argv, "--seeds", "1")
    assert "no cells selected: give ARCH, --neighbours-of or --sample" in line, line


# --- census: --nan-policy only where a pair can lack a barrier ---------------------------


def _census_table(tmp_path: Path, *, hole: bool) -> Path:
    v = (NB201.codes == 3).sum(axis=1).astype(float) * 10 + NB201.codes[:, 0]
    if hole:
        v[5] = np.nan
    t = Table(NB201, {(MetricKey("cifar10", "ori-test", 200), None): v}, source="census-14b")
    return save_table(t, tmp_path / ("hole.nb201" if hole else "full.nb201"))


CENSUS = ("--dataset", "cifar10", "--split", "ori-test", "--epochs", "200", "--pairs", "0",
          "--top-k", "4")  # fmt: skip


@pytest.mark.parametrize("policy", ["raise", "omit"])
def test_census_nan_policy_is_refused_on_a_fully_measured_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str
) -> None:
    table = str(_census_table(tmp_path, hole=False))
    line = one_line_exit_2(capsys, "census", "--table", table, *CENSUS, "--nan-policy", policy)
    assert "--nan-policy applies only where a pair can lack a barrier" in line, line
    assert "cifar10/ori-test@200ep:accuracy is measured: drop it" in line, line
    # the key without it, and with --connected-only (disconnected cells cut paths there)
    assert run(capsys, "census", "--table", table, *CENSUS)[0] == 0
    code, out, _ = run(
        capsys, "census", "--table", table, *CENSUS, "--connected-only", "--nan-policy", policy
    )
    assert code == 0, out


@pytest.mark.parametrize("policy", ["raise", "omit"])
def test_census_nan_policy_runs_where_a_cell_is_unmeasured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str
) -> None:
    table = str(_census_table(tmp_path, hole=True))
    code, out, err = run(capsys, "census", "--table", table, *CENSUS, "--nan-policy", policy)
    assert code == 0, err
    header = out.splitlines()[0]
    # "without a barrier" sat above a "no barrier" column, which means something else
    assert "without a barrier" not in header
    omitted = "pairs no measured path joins (or whose shortest paths cross an unmeasured cell)"
    assert (omitted in header) == (policy == "omit"), header


# --- --seed-policy random on a key of one stored seed ------------------------------------


def _one_seed_table(tmp_path: Path, seeds: tuple[int, ...] = (777,)) -> Path:
    rng = np.random.default_rng(0)
    data = {
        (MetricKey("cifar100", split, 200), s): 60 + rng.normal(0, 3, NB201.size)
        for split in ("x-valid", "x-test")
        for s in seeds
    }
    return save_table(Table(NB201, data, source="seeds-14b"), tmp_path / f"s{len(seeds)}.nb201")


QUERY = ("--dataset", "cifar100", "--split", "x-test", "--epochs", "200")


def test_query_random_on_one_stored_seed_names_the_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every --rng-seed served seed 777 (as every table of train's default --seeds is)."""
    table = str(_one_seed_table(tmp_path))
    q = ("query", "0", "--table", table, *QUERY, "--seed-policy", "random")
    for rng in (["--rng-seed", "1"], ["--rng-seed", "2"], []):  # before --rng-seed is asked
        line = one_line_exit_2(capsys, *q, *rng)
        assert "stores one seed (777)" in line and "pass --seed-policy 777" in line, line
    code, out, _ = run(capsys, "query", "0", "--table", table, *QUERY, "--seed-policy", "777")
    assert code == 0 and "[777]" in out
    # two stored seeds: a draw that --rng-seed decides
    two = str(_one_seed_table(tmp_path, (0, 1)))
    code, out, err = run(capsys, "query", "0", "--table", two, *QUERY, "--seed-policy", "random",
                         "--rng-seed", "1")  # fmt: skip
    assert code == 0, err


def test_search_random_asked_on_one_stored_seed_names_the_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.errors import ProtocolError
    from nb201_flat.search.protocol import fixed_n_protocols
    from nb201_flat.storage import load_saved_table

    path = _one_seed_table(tmp_path)
    s = ("search", "--table", str(path), "--protocol", "fixed-n", "--search-epochs", "200",
         "--algo", "rs", "--runs", "1")  # fmt: skip
    line = one_line_exit_2(capsys, *s, "--seed-policy", "random")
    assert "stores one seed (777)" in line and "pass --seed-policy 777" in line, line
    for policy in ([], ["--seed-policy", "777"]):
        code, _, err = run(capsys, *s, *policy)
        assert code == 0, err
    # the Python route: an asked-for random is refused, a defaulted one draws the seed
    table = load_saved_table(path)
    (p,) = fixed_n_protocols(table, epochs=200, seed_policy="random")
    with pytest.raises(ProtocolError, match=r"stores one seed \(777\).*seed_policy=777"):
        p.check(table)
    p.replace(seed_fallback=True).check(table)


# --- flatness on a table of one measured cell --------------------------------------------


def test_flatness_on_one_measured_cell_offers_no_radius(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No radius gives the one measured cell a neighbour: "widen --radius" led nowhere."""
    v = np.full(NB201.size, np.nan)
    v[11472] = 70.0
    t = Table(NB201, {(MetricKey("cifar100", "x-test", 200), None): v}, source="one-14b")
    table = str(save_table(t, tmp_path / "one.nb201"))
    f = ("flatness", "--table", table, *QUERY)
    for shape in (["--radius", "1"], ["--radius", "3", "--within"], ["--radius", "3", "--exact"]):
        line = one_line_exit_2(capsys, *f, *shape)
        assert "no measured neighbour for cell 11472" in line, line
        assert "--radius" not in line and "--within" not in line, line
        assert "use a denser table (this one measures one cell)" in line, line
    # an unmeasured cell asked for does reach the measured one at a wider radius
    line = one_line_exit_2(capsys, *f, "--arch", "0")
    assert "widen --radius" in line, line
