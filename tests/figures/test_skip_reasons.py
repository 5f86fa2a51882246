"""A figure's skip reason quotes the error that stopped it with the parameters and functions it
names: Python's names in the library, the command's own flags and commands in `figures`."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from nb201_flat.errors import Call, FigureSkipped, MissingValueError, Param, parts_of

WHY = MissingValueError("no value here; see ", Call("Table.info"), " or pass ", Param("jobs", 1))


def test_a_skip_keeps_the_parts_of_the_error_it_quotes() -> None:
    skip = FigureSkipped("a2m_paths", ["cifar10/ori-test@200"], parts_of(WHY))
    assert str(skip) == (
        "needs cifar10/ori-test@200 (no value here; see Table.info or pass jobs=1)"
    )
    assert skip.why == "no value here; see Table.info or pass jobs=1"
    back = pickle.loads(pickle.dumps(skip))  # a worker's skip crosses a process
    assert (type(back), str(back), back.why_parts) == (FigureSkipped, str(skip), skip.why_parts)
    assert str(FigureSkipped("x", [], "plain words")) == "cannot be drawn (plain words)"
    assert str(FigureSkipped("x", [])) == "cannot be drawn"


def test_the_figures_command_spells_a_skip_reason_as_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nb201_flat.cli import main
    from nb201_flat.figures import registry

    def render_many(names: list[str], *_: Any, **__: Any) -> list[tuple[str, Any]]:
        return [(n, FigureSkipped(n, [], parts_of(WHY))) for n in names]

    monkeypatch.setattr(registry, "render_many", render_many)
    said = "cannot be drawn (no value here; see `nb201-flat info` or pass --jobs 1)"
    # every figure skipped: nothing drawn is an error (it printed "0 figures written", exit 0)
    assert main(["figures", "--out", str(tmp_path / "f"), "--jobs", "1", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: no figure can be drawn from this table (na_projection {said}; ")
    assert err.endswith("); pass a --table that has what they need\n"), err
    assert not (tmp_path / "f").exists()
    # one asked for by name: the same spelling (it said the Python names)
    argv = ["figures", "--out", str(tmp_path / "f"), "--only", "na_projection"]
    assert main(argv) == 2
    assert f"this table cannot support it: {said}; pass a --table" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["distance_profile", "a2m_paths", "a2m_distributions", "barrier_census", "barrier_tree"]
)
def test_a_figure_drawn_from_any_one_key_says_one_of(name: str) -> None:
    # "needs cifar10/..., cifar100/..., ImageNet16-120/..." while one of them draws it
    import numpy as np

    from nb201_flat.figures.registry import make
    from nb201_flat.space import NB201
    from nb201_flat.table import MetricKey, Table

    loss = np.linspace(0.1, 2.0, NB201.size)
    table = Table(NB201, {(MetricKey("cifar10", "ori-test", 200, "loss"), None): loss})
    with pytest.raises(FigureSkipped) as info:
        make(name, table)
    assert str(info.value).startswith("needs one of cifar10/ori-test@200ep:accuracy, "), info.value
    back = pickle.loads(pickle.dumps(info.value))
    assert (str(back), back.any_of) == (str(info.value), True)
    assert str(FigureSkipped("x", ["one key"], any_of=True)) == "needs one key"
