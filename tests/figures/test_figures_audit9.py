"""A ninth audit of the figures: captions and notes say what was drawn, options are checked
first, and the notebook helpers refuse a wrong place rather than fall back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nb201_flat.conventions import cost_key, report_key, search_key
from nb201_flat.errors import ArgumentError, TableFileError
from nb201_flat.figures import figure_notes, make, make_search_curves, render_many
from nb201_flat.figures import notebook as nbmod
from nb201_flat.figures.generalisation import gap_data
from nb201_flat.space import NB201, Space
from nb201_flat.table import MetricKey, Table
from nb201_flat.testing import table_from


def _caption(fig: Figure) -> str:
    return fig.texts[-1].get_text().replace("\n", " ")


# -- search_curves: the caption is read from the curves --------------------------------------
def _curves(
    protocol: str, key: MetricKey, unit: str, labels: list[str], optimistic: bool | None
) -> pd.DataFrame:
    """Anytime curves of ``labels`` at three points, in the runner's columns (``optimistic``
    None: a frame without that column, as written before the runner recorded it)."""
    rows = [
        {
            "protocol": protocol,
            **({} if optimistic is None else {"optimistic": optimistic}),
            "algorithm": label,
            "dataset": key.dataset,
            "split": key.split,
            "epochs": key.epochs,
            "metric": key.metric,
            "x_unit": unit,
            "x": x,
            "mean": 90.0 + k + x / 100,
            "std": 0.5,
            "n": 4,
        }
        for k, label in enumerate(labels)
        for x in (0.0, 50.0, 100.0)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def test_only() -> Table:
    """CIFAR-10 test accuracy alone: fixed-n searches it itself (optimistic)."""
    return table_from(lambda c: 50.0 + 5.0 * c.sum(axis=1), key=report_key("cifar10"))


def test_optimistic_curves_are_captioned_as_such(test_only: Table) -> None:
    na = "na-rs[r2,median,self,free]"
    curves = _curves(
        "fixed-n:cifar10", report_key("cifar10"), "queries", ["rs", na, f"rs(budget of {na})"], True
    )
    text = _caption(make_search_curves(test_only, curves=curves))
    # it said "best by validation so far", without OPTIMISTIC, of curves searched on test
    assert "best by the reported metric itself so far" in text and "validation" not in text
    assert text.endswith("OPTIMISTIC: searched on the reported metric.")
    # the NA settings of the label drawn, not radius-1 mean written in
    assert "NA forms: radius-2 (distance 1 to 2) median incl. the cell" in text
    assert "radius-1" not in text
    # matched under a query budget: evaluations, not simulated time
    assert "as many evaluations as its NA form made" in text and "simulated time" not in text
    assert "Protocol fixed-n:cifar10; 4 runs per algorithm." in text


def test_what_is_not_drawn_is_not_described(figure_table: Table) -> None:
    key = report_key("cifar100")
    curves = _curves("per-dataset:cifar100", key, "seconds", ["rs", "rea"], False)
    text = _caption(make_search_curves(figure_table, curves=curves))
    assert "best by validation so far" in text and "OPTIMISTIC" not in text
    assert "NA forms" not in text and "Dotted" not in text
    # a bare NA label (a dict key of run_search) names no neighbourhood: none is invented
    curves = _curves("per-dataset:cifar100", key, "seconds", ["rs", "na-rs"], False)
    text = _caption(make_search_curves(figure_table, curves=curves))
    assert "NA forms: na-rs: neighbourhood not in the label." in text
    assert "radius-1" not in text
    # curves that do not record what their protocol searched: not known, and not claimed
    curves = _curves("mine", key, "seconds", ["rs"], None)
    text = _caption(make_search_curves(figure_table, curves=curves))
    assert "best by what its protocol searched (not recorded in the curves) so far" in text


def test_searches_run_here_keep_their_settings(figure_table: Table) -> None:
    fig = make_search_curves(figure_table, runs=2, algorithms=["rs", "na-rs"])
    text = _caption(fig)
    assert "NA forms: radius-1 mean incl. the cell, neighbours looked up free." in text
    assert "the simulated time its NA form used" in text
    fig = make_search_curves(figure_table, runs=2, algorithms=["rs", "rea"])
    assert "NA forms" not in _caption(fig) and "Dotted" not in _caption(fig)


# -- flat_vs_sharp: a cell's gap over the seeds that measure both of its keys ---------------
VALID, ORI, TEST = (MetricKey("cifar100", s, 200) for s in ("x-valid", "ori-test", "x-test"))


def _holey_seeds() -> tuple[Table, np.ndarray]:
    """Every seed's gap 0 (x-test = x-valid); seed 2 reads 5 points higher and lacks x-valid
    (not ori-test) at 40 % of the cells."""
    rng = np.random.default_rng(0)
    base = 60 + 10 * NB201.connected + rng.normal(0, 1, NB201.size)
    data: dict[tuple[MetricKey, int | None], np.ndarray] = {}
    for s in (0, 1, 2):
        v = base + rng.normal(0, 0.3, NB201.size) + (5 if s == 2 else 0)
        data[(VALID, s)], data[(ORI, s)] = v.copy(), v.copy()
    holes = rng.random(NB201.size) < 0.4
    data[(VALID, 2)][holes] = np.nan
    data[(VALID, None)] = np.nanmean([data[(VALID, s)] for s in (0, 1, 2)], axis=0)
    data[(ORI, None)] = np.nanmean([data[(ORI, s)] for s in (0, 1, 2)], axis=0)
    data[(TEST, None)] = data[(ORI, None)].copy()
    return Table(NB201, data, source="holey seeds"), holes


def test_gap_is_averaged_over_the_seeds_measuring_both_keys() -> None:
    table, holes = _holey_seeds()
    frame = gap_data(table, "cifar100")
    # it was -5.0 at the holes: seed 1's valid beside the mean of seeds 1, 2's ori-test
    np.testing.assert_allclose(frame["gap"], 0.0, atol=1e-9)
    at_holes = holes[frame["index"].to_numpy()]
    assert (frame["seeds"].to_numpy() == np.where(at_holes, 1, 2)).all()
    fig = make("flat_vs_sharp", table)
    n = int(at_holes.sum())
    assert (
        f"Where some of those seeds do not measure a cell, its mean is over the others: "
        f"CIFAR-100 gap {n:,} of the {len(frame):,} cells drawn." in _caption(fig)
    )


def test_flat_vs_sharp_names_the_key_a_panel_lacks(figure_table: Table) -> None:
    test = report_key("cifar100")
    data = {k: v for k, v in dict.items(figure_table.data) if k[0] != test}
    fig = make("flat_vs_sharp", Table(NB201, data, source="no cifar100 x-test"))
    notes = figure_notes(fig)
    # it said x-valid (present) was not in the table; the transfer panel said nothing
    assert f"gap panel without CIFAR-100: the table lacks {test}" in notes
    assert f"transfer panel without CIFAR-100: the table lacks {test}" in notes
    assert not any("x-valid" in n for n in notes)


# -- partly measured tables: the figures count what they leave out ---------------------------
@pytest.fixture(scope="module")
def partly_measured(figure_table: Table) -> Table:
    holes = np.random.default_rng(1).random(NB201.size) < 0.05
    data = {
        k: np.where(holes, np.nan, v) if k[0].metric == "accuracy" else v
        for k, v in dict.items(figure_table.data)
    }
    return Table(NB201, data, source="partly measured")


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("distance_profile", "the violins, means, counts and FDC"),
        ("barrier_tree", "the tree (no path passes through them)"),
        ("a2m_distributions", "the bands, the neighbours' densities"),
        ("flat_vs_sharp", "the choice of cells"),
    ],
)
def test_partly_measured_tables_are_noted(partly_measured: Table, name: str, what: str) -> None:
    holes = np.isnan(partly_measured.vector("cifar100", "x-test", 200))
    # flat_vs_sharp chooses among connected cells
    among = NB201.connected if name == "flat_vs_sharp" else np.ones(NB201.size, dtype=bool)
    counted = f"{int(holes[among].sum()):,} of the {int(among.sum()):,} "
    fig = make(name, partly_measured, **({"radii": (1,)} if name == "a2m_distributions" else {}))
    notes = [m for m in figure_notes(fig) if m.startswith("CIFAR-100: ")]
    assert any(what in m for m in notes) and all(counted in m for m in notes), notes
    assert "of all architectures" not in _caption(fig) and "Grey: all" not in _caption(fig)


# -- na_projection: worded by what happened --------------------------------------------------
@pytest.fixture(scope="module")
def tiny() -> Table:
    """A 27-cell space where RS and NA-RS pick the same cell in every run."""
    space = Space(("none", "skip_connect", "nor_conv_3x3"), 3)
    rng = np.random.default_rng(0)

    def f(c: np.ndarray) -> np.ndarray:
        return np.asarray(50 + 10 * (c == 2).sum(axis=1) + rng.normal(0, 1, len(c)))

    def cost(c: np.ndarray) -> np.ndarray:
        return 1000 + 0.0 * c[:, 0]

    extra = {
        report_key("cifar100"): f,
        search_key("cifar100", 12): f,
        cost_key("cifar100"): cost,
    }
    return table_from(f, space=space, key=report_key("cifar10"), extra=extra)


def test_projection_says_when_no_run_picks_differ(tiny: Table) -> None:
    fig = make("na_projection", tiny)
    text = _caption(fig)
    assert "the first run whose picks differ" not in text
    assert "no run's picks differ: RS and NA-RS picked the same cell in each of the 20 runs" in text


def test_value_picks_speak_of_no_search(tiny: Table) -> None:
    fig = make("na_projection", tiny, pick="value")
    assert "searched" not in _caption(fig) and "OPTIMISTIC: chosen on the metric shown." in (
        _caption(fig)
    )
    notes = " ".join(figure_notes(fig))
    assert "RS" not in notes and "searched" not in notes
    assert "the best by value and the best by neighbourhood mean are the same" in notes


# -- options checked first; repeats refused --------------------------------------------------
def test_render_many_refuses_a_repeated_name(figure_table: Table, tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="names holds distance_profile twice"):
        list(render_many(["distance_profile", "distance_profile"], figure_table, tmp_path))
    assert not list(tmp_path.iterdir())


def test_flatness_by_epoch_checks_its_radius_before_the_curves(test_only: Table) -> None:
    # a table without curves reported radius=9 as "needs per-epoch learning curves"
    with pytest.raises(ArgumentError, match="radius must lie in 1..6"):
        make("flatness_by_epoch", test_only, radius=9)


# -- the notebook helpers --------------------------------------------------------------------
def _tidy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / nbmod.TIDY_NAME
    pd.DataFrame(
        {
            "index": [0, 1],
            "arch": [NB201.arch(0).to_str(), NB201.arch(1).to_str()],
            "dataset": "cifar10",
            "split": "ori-test",
            "epochs": 200,
            "seed": pd.array([pd.NA, pd.NA], dtype="Int64"),
            "metric": "accuracy",
            "value": [10.0, 50.0],
        }
    ).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_shared_data_variable_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_SHARED_DATA", value)
    # it looked beside the repository, as if unset
    with pytest.raises(TableFileError, match=r"\$NB201_FLAT_SHARED_DATA is set but empty"):
        nbmod.notebook_table()


def test_a_shared_data_variable_without_the_data_is_named_in_the_fallback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_table: Table
) -> None:
    # it fell back to the default advising "(set $NB201_FLAT_SHARED_DATA)", which was set
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_SHARED_DATA", str(tmp_path / "absent"))
    table, which = nbmod.notebook_table()
    assert table.source == default_table.source
    assert which.endswith(
        f"($NB201_FLAT_SHARED_DATA names {tmp_path / 'absent' / 'nb201_tidy.csv.gz'})"
    )


def test_real_table_takes_the_file_and_checks_its_argument(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NB201_FLAT_CACHE", str(tmp_path / "cache"))
    tidy = _tidy(tmp_path / "shared")
    table = nbmod.real_table(tidy)  # the file, not its folder: None without a word
    assert table is not None and table.value(1, "cifar10", "ori-test", 200) == 50.0
    assert nbmod.real_table(tmp_path / "shared") is not None
    assert nbmod.real_table(tmp_path / "elsewhere") is None
    with pytest.raises(ArgumentError, match="folder must be a path"):
        nbmod.real_table(3)  # type: ignore[arg-type]
    monkeypatch.delenv("NB201_FLAT_TABLE", raising=False)
    monkeypatch.setenv("NB201_FLAT_SHARED_DATA", str(tidy))  # the variable as the argument
    table, which = nbmod.notebook_table()
    assert which == f"real NB201 data imported from {tidy}"
