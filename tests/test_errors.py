"""The shared argument checks of nb201_flat.errors: what each accepts and how it refuses."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from nb201_flat.errors import (
    ArgumentError,
    Param,
    ParamList,
    check_float_range,
    check_int_range,
    check_seed,
    real_number,
    shown,
    whole_number,
)
from nb201_flat.search.oracle import SearchBudgetError, check_budgets


@pytest.mark.parametrize("text", ["0.3", b"0.3", "nan"])
def test_a_float_option_is_a_number_not_text(text: object) -> None:
    # float("0.3") accepted text where every other check (ints, flags) refuses it
    with pytest.raises(
        ArgumentError, match=r"must lie in \[0, 1\] \(a number, not a (str|bytes)\)"
    ):
        check_float_range("quantile", text, 0.0, 1.0)


@pytest.mark.parametrize("huge", [10**400, -(10**400)])
def test_an_int_beyond_floats_is_refused_in_one_line(huge: int) -> None:
    # float(10**400) raised a bare OverflowError (a traceback), not the check's own error
    with pytest.raises(ArgumentError, match="finite number"):
        check_float_range("max_cost", huge)
    with pytest.raises(SearchBudgetError) as budget:
        check_budgets(huge, None)
    # an infinite budget of seconds asks for a finite one (no scale was given here)
    want = "finite" if huge > 0 else "positive"
    assert str(budget.value).endswith(f"; give a {want} number of seconds"), budget.value
    assert budget.value.parts[0] == Param("budget_seconds")
    assert real_number(huge) == (np.inf if huge > 0 else -np.inf)


@pytest.mark.parametrize(
    "check",
    [
        lambda v: check_seed(v),
        lambda v: check_int_range("n", v, 1),
        lambda v: check_float_range("q", v, 0.0, 1.0),
        lambda v: check_budgets(None, v),
    ],
    ids=["seed", "int", "float", "budget"],
)
def test_a_refusal_quotes_a_long_value_on_one_short_line(check: object) -> None:
    # an array passed by mistake filled the terminal (1,231 characters over 16 lines)
    with pytest.raises((ArgumentError, SearchBudgetError)) as info:
        check(np.arange(200.0).reshape(20, 10))  # type: ignore[operator]
    message = str(info.value)
    assert "\n" not in message and len(message) < 250, message


def test_shown_keeps_short_values_and_cuts_long_ones() -> None:
    assert shown(2.5) == "2.5" and shown("x") == "'x'"
    long = shown(list(range(100)))
    assert len(long) == 80 and long.endswith("...")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(np.int64(7), 7), (np.uint64(2**63), 2**63), (np.int8(-3), -3), (np.float32(4.0), 4)],
)
def test_numpy_numbers_are_whole_numbers(value: object, expected: int) -> None:
    got = whole_number(value)
    assert got == expected and type(got) is int


def test_shown_keeps_the_spaces_inside_a_text() -> None:
    assert shown("a   b") == "'a   b'"  # only a multi-line repr is joined onto one line


@pytest.mark.parametrize(
    ("value", "reason"),
    [(2.5, r"\(an int, not a float\), got 2\.5"), ("1", r"\(an int, not a str\), got '1'")],
)
def test_an_int_range_refusal_says_the_value_is_no_int(value: object, reason: str) -> None:
    # "radius must be >= 1, got 2.5" read as if 2.5 were below 1
    with pytest.raises(ArgumentError, match=r"^radius must be >= 1 " + reason + "$"):
        check_int_range("radius", value, 1)
    with pytest.raises(ArgumentError, match=r"^radius must lie in 1\.\.6 " + reason + "$"):
        check_int_range("radius", value, 1, 6)
    with pytest.raises(ArgumentError, match=r"^radius must lie in 1\.\.6, got 7$"):
        check_int_range("radius", 7, 1, 6)  # an int out of range: no type to name


def test_a_refusal_names_parameters_as_python_and_respells_them_for_a_caller() -> None:
    # the library knows no flag: its message names parameters, a command respells them
    err = ArgumentError(
        Param("stage1_fraction"),
        " applies only with ",
        Param("charge", True),
        "; add ",
        Param("rerank_top_k", placeholder="K"),
        " (na-rs takes ",
        ParamList((Param("radius"), Param("neighbourhood"), Param("agg"))),
        ")",
    )
    assert str(err) == (
        "stage1_fraction applies only with charge=True; add rerank_top_k=K "
        "(na-rs takes agg, neighbourhood, radius)"
    )
    flags = {"stage1_fraction": "--stage1-fraction", "charge": "--charge-neighbours"}
    flags |= {"radius": "--radius", "agg": "--agg"}  # no flag for neighbourhood, nor rerank_top_k
    # a list leaves out what the caller cannot name and sorts what it can; a single mention
    # it cannot name keeps its Python spelling
    assert err.spelled(lambda p: flags.get(p.name)) == (
        "--stage1-fraction applies only with --charge-neighbours; add rerank_top_k=K "
        "(na-rs takes --agg, --radius)"
    )
    assert ArgumentError(ParamList((), empty="nothing")).spelled(lambda p: None) == "nothing"
    # a worker process's refusal keeps its parameters across the pickle
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is ArgumentError and again.parts == err.parts and str(again) == str(err)


def test_a_check_names_a_param_or_a_text() -> None:
    with pytest.raises(ArgumentError, match=r"^radius must lie in 1\.\.6, got 0$") as info:
        check_int_range(Param("radius"), 0, 1, 6)
    assert info.value.spelled(lambda p: "--radius") == "--radius must lie in 1..6, got 0"
    with pytest.raises(ArgumentError, match="^--jobs must be >= 1, got 0$") as info:
        check_int_range("--jobs", 0, 1)
    assert info.value.parts[0] == "--jobs"


# -- every error crosses a process boundary (a pool's worker, dask) as itself ---------------
def _error_classes() -> list[type[BaseException]]:
    """Every class of the package derived from Nb201FlatError, wherever it is defined: the
    sources are read for class statements (importing every module would load torch), and the
    modules defining one whose base is an error of the package are imported."""
    import ast
    import importlib
    from pathlib import Path

    import nb201_flat
    from nb201_flat import errors

    root = Path(nb201_flat.__file__).parent
    defs: list[tuple[str, str, set[str]]] = []  # (module, class, base names)
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("nb201_flat", *path.relative_to(root).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                defs.append((module.removesuffix(".__init__"), node.name, bases))
    # error names by the base they name, until no new one: the aliases of errors.py too
    names = {n for n, v in vars(errors).items() if isinstance(v, type)}
    names &= {n for n in names if issubclass(getattr(errors, n), errors.Nb201FlatError)}
    grown = True
    while grown:
        found = {c for _, c, bases in defs if bases & names}
        grown, names = not found <= names, names | found
    classes = {getattr(importlib.import_module(m), c) for m, c, bases in defs if bases & names}
    classes |= {getattr(errors, n) for n in names if hasattr(errors, n)}
    out = sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}")
    assert all(issubclass(c, errors.Nb201FlatError) for c in out)
    return out


def _sample(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls`` built as its raisers build it; a class whose constructor takes
    other arguments than these needs a line here (the test then fails until it has one)."""
    from nb201_flat.errors import FigureSkipped, ParamMessage, ProtocolError
    from nb201_flat.table import MetricKey

    if issubclass(cls, FigureSkipped):
        return cls("flat_vs_sharp", [MetricKey("cifar100", "x-valid", 200)], "for the gap")
    if issubclass(cls, ProtocolError):
        return cls(("a run never ends (", Param("n"), ")"), ("use ", Param("repeats", "charge")))
    if issubclass(cls, ParamMessage):
        return cls("out exists; pass ", Param("overwrite", True), " to replace it")
    return cls("what is wrong; how to fix it")


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__qualname__)
def test_every_error_pickles_as_itself(cls: type[BaseException]) -> None:
    # FigureSkipped raised in a worker was pickled as its message alone, and its constructor
    # (figure, needs, why) refused that on the parent's side: a TypeError hid the message
    err = _sample(cls)
    err.add_note("drawn in worker 3")  # an attribute set after construction
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == str(err) and back.args == err.args
    assert vars(back) == vars(err)  # parts, figure, needs, why, the note


def test_the_checks_examples_name_python_parameters_not_flags() -> None:
    # errors.py is the library's: its examples used "--seed" and "--jobs" as names, as if a
    # check named a command's flag (a command respells the Python name: cli.common.error_line)
    import doctest

    import nb201_flat.errors as errors

    examples = [ex for test in doctest.DocTestFinder().find(errors) for ex in test.examples]
    assert examples
    # a caller's respelling (spelled, spelling_logs) shows a flag: the point of those examples
    respelt = ("spelled(", "spelling_logs(")
    own = [ex.source + ex.want for ex in examples if not any(r in ex.source for r in respelt)]
    flags = [text for text in own if "--" in text]
    assert flags == []


def test_a_choice_refuses_an_array_instead_of_comparing_it() -> None:
    from nb201_flat.errors import check_choice

    # `array in ("mean", "min")` compares elementwise: numpy's ambiguous-truth ValueError
    for value in (np.array([]), np.zeros((2, 2))):
        with pytest.raises(ArgumentError, match=r"^agg must be one of mean, min, got array\("):
            check_choice("agg", value, ("mean", "min"))


def test_a_param_value_is_one_line_and_a_long_path_stays_whole() -> None:
    # an array given as a value is quoted on one line; a fix's path is not cut like a quote
    import numpy as np

    assert "\n" not in str(Param("radius", np.arange(40).reshape(4, 10)))
    path = "/data/" + "x" * 150 + "/table.nb201"
    assert str(Param("path", path)) == f"path={path!r}"
