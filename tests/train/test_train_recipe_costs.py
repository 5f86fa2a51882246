"""The recipe builder and the cost formulas refuse what is not a count or a list of op names
(no torch needed)."""

from __future__ import annotations

import numpy as np
import pytest

from nb201_flat.errors import ArgumentError
from nb201_flat.space import NB201
from nb201_flat.train import costs
from nb201_flat.train.recipe import recipe_for


@pytest.mark.parametrize("epochs", [2.5, True, "12", None])
def test_recipe_for_refuses_what_is_not_a_whole_number_of_epochs(epochs: object) -> None:
    # int() made 2.5 a 2-epoch and True a 1-epoch schedule; None and text a bare TypeError
    with pytest.raises(ArgumentError, match=r"^epochs must lie in 1\.\.\d+ .*, got "):
        recipe_for(epochs)  # type: ignore[arg-type]
    assert recipe_for(np.int64(12)).epochs == 12


@pytest.mark.parametrize("of_codes", [costs.params_mb_of_codes, costs.flops_m_of_codes])
@pytest.mark.parametrize("op_names", [5, "nor_conv_3x3", None])
def test_cost_of_codes_refuses_op_names_outside_a_list(of_codes: object, op_names: object) -> None:
    # a number met a bare TypeError, a name was read letter by letter
    with pytest.raises(ArgumentError, match="^op_names must be a sequence of op names, got "):
        of_codes(NB201.codes[:2], op_names)  # type: ignore[operator]
    assert of_codes(NB201.codes[:2], list(NB201.ops)).shape == (2,)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"momentum": -1}, "^momentum must be >= 0, got -1"),
        (
            {"momentum": 0},
            "^nesterov=True needs momentum > 0; give a momentum or pass nesterov=False",
        ),
    ],
)
def test_a_recipe_torch_sgd_refuses_is_refused_when_built(
    kw: dict[str, object], match: str
) -> None:
    # both were torch's bare ValueError at the first training step's optimiser, data loaded
    from nb201_flat.train.recipe import Recipe

    with pytest.raises(ArgumentError, match=match):
        Recipe(**kw)  # type: ignore[arg-type]
    assert Recipe(momentum=0, nesterov=False).momentum == 0.0  # plain SGD


def test_a_min_lr_above_lr_is_refused_when_built() -> None:
    # accepted before: the "annealing" climbed from lr to min_lr
    from nb201_flat.train.recipe import Recipe

    with pytest.raises(ArgumentError, match="^min_lr 1 is above lr 0.1: .*pass a min_lr <= lr"):
        Recipe(lr=0.1, min_lr=1.0)
    assert Recipe(lr=0.1, min_lr=0.1).min_lr == 0.1  # a constant schedule stays allowed
