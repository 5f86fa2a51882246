"""Anytime curves of RS, NA-RS and their relatives: incumbent test accuracy against time.

Each curve is the mean over seeded runs of the test accuracy of the architecture a search
would return at that moment (its incumbent by validation), against the simulated training
time spent, with a 95 % Student-t confidence band of the mean. Runs come from
:func:`nb201_flat.search.run_search`; the curves are its ``curves`` frame (also the
``curves`` of :func:`nb201_flat.search.grid.reproduce`).

Default protocol ``per-dataset`` (NATS-Bench's): each dataset searched on its own 12-epoch
``x-valid`` accuracy (a random stored seed where there are several), 12-epoch cost derived
from the 200-epoch training time, budgets 20,000 / 40,000 / 120,000 s, reported on its
200-epoch test accuracy. ``nb201``: search ``cifar10-valid`` for 12,000 s and report all three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from nb201_flat.conventions import cost_key, search_key
from nb201_flat.errors import (
    ArgumentError,
    Call,
    Part,
    check_choice,
    check_confidence,
    check_flag,
    parts_of,
    shown,
    spelled,
)
from nb201_flat.figures._common import (
    FigureSkipped,
    add_caption,
    add_note,
    axes_or_new,
    dataset_label,
    new_figure,
)
from nb201_flat.figures.style import figure_style
from nb201_flat.landscape._common import as_sequence
from nb201_flat.table import Table

if TYPE_CHECKING:
    from nb201_flat.search import SearchAlgorithm

NAME = "search_curves"
ProtocolName = Literal["per-dataset", "nb201", "fixed-n"]

# Display order and names; NA variants share their base's colour, dashed.
ALGORITHM_LABELS: dict[str, str] = {
    "rs": "RS",
    "na-rs": "NA-RS",
    "na-rs2": "NA-RS two-stage",
    # the reproduction's control for NA-RS's extra evaluations (explained in the caption)
    "na-rs-best": "NA-RS best-evaluated",
    "rea": "REA",
    "na-rea": "NA-REA",
    "ls": "LS",
    "na-ls": "NA-LS",
}
DEFAULT_ALGORITHMS: tuple[str, ...] = ("rs", "na-rs", "rea", "na-rea", "ls", "na-ls")
_COLOURS = {"rs": "#0072B2", "rea": "#009E73", "ls": "#CC79A7"}


def display_name(algo: str) -> str:
    """Legend name of an algorithm label: ``na-rs[r1,mean,self,free]`` -> ``NA-RS [r1,...]``.

    >>> display_name("na-rs[r2,median,self,free]"), display_name("rea")
    ('NA-RS [r2,median,self,free]', 'REA')
    """
    parts = _control_parts(algo)
    if parts is not None:
        return f"{display_name(parts[0])}, {display_name(parts[1])}'s budget"
    name, _, rest = algo.partition("[")
    shown = ALGORITHM_LABELS.get(name, name)
    return f"{shown} [{rest.rstrip(']')}]" if rest else shown


def _control_parts(algo: str) -> tuple[str, str] | None:
    """``(base, na)`` of a budget-matched control label, else None."""
    from nb201_flat.search.accounting import CONTROL_MARK, is_control

    if not is_control(algo):
        return None
    base, _, rest = algo.partition(CONTROL_MARK)
    return base, rest[:-1]


def _style_of(algo: str) -> tuple[str, str, float]:
    parts = _control_parts(algo)
    if parts is not None:  # budget-matched control: the base's colour, dotted
        return _COLOURS.get(parts[0], "0.3"), ":", 1.6
    name = algo.partition("[")[0]
    base = name.removeprefix("na-").rstrip("2")
    colour = _COLOURS.get(base, "0.3")
    if name.endswith("2"):  # two-stage NA-RS: the base's colour, dash-dotted
        return colour, "-.", 1.5
    if name.startswith("na-"):
        return colour, "-", 1.8
    return colour, "--", 1.2


def _algorithm(name: str) -> SearchAlgorithm:
    """The algorithm :func:`run_curves` runs as ``name`` (its label in the curves): the NA
    forms with the NA paper's neighbourhood, free look-ups."""
    from nb201_flat.neighbourhood import NA_PAPER
    from nb201_flat.search import make_algorithm

    return make_algorithm(name, neighbourhood=NA_PAPER if name.startswith("na-") else None)


def run_curves(
    table: Table,
    *,
    protocol: ProtocolName = "per-dataset",
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    runs: int = 200,
    seed: int = 0,
    jobs: int = 1,
    curve_points: int = 121,
    queries: int = 100,
    matched: bool = True,
) -> tuple[pd.DataFrame, tuple[str, ...], str]:
    """Run the searches and return ``(curves, notes, description)``.

    ``algorithms`` are names of :data:`nb201_flat.search.ALGORITHM_NAMES`; the NA forms use the
    default neighbourhood objective (radius 1, mean, including the cell, free look-ups).
    ``queries`` is the budget of the ``fixed-n`` protocol. With ``matched``, each NA form whose
    base is among ``algorithms`` also gets its budget-matched control (the base given the
    time the NA form used, free look-ups included; :mod:`nb201_flat.search.accounting`).
    """
    from nb201_flat.search import ALGORITHM_NAMES, make_algorithm, protocols_by_name, run_search
    from nb201_flat.search.accounting import budget_matched

    matched = check_flag("matched", matched)  # "no" was truthy
    # one value alone was not iterable (3) or read letter by letter; an item not a name met
    # a bare AttributeError (no startswith)
    chosen: list[str] = [
        str(check_choice("algorithms", name, ALGORITHM_NAMES))
        for name in as_sequence("algorithms", algorithms, "algorithm names")
    ]
    prots = protocols_by_name(protocol, table, n=queries if protocol == "fixed-n" else None)
    algos = {name: _algorithm(name) for name in chosen}
    res = run_search(
        table, prots, algos, runs=runs, seed=seed, jobs=jobs, curve_points=curve_points
    )
    curves, notes = res.curves, res.notes
    pairs = {
        na: (na.removeprefix("na-"), make_algorithm(na.removeprefix("na-")))
        for na in algos
        if na.startswith("na-") and na.removeprefix("na-") in algos
    }
    if matched and pairs:
        ctrl = budget_matched(
            table, res, pairs, runs=runs, seed=seed, jobs=jobs, curve_points=curve_points
        )
        curves = pd.concat([curves, ctrl.curves], ignore_index=True)
        notes = (*notes, *ctrl.notes)
    names = ", ".join(display_name(a) for a in chosen)  # algorithms may be an iterator, read
    desc = (
        f"protocol {protocol} ({'; '.join(p.describe() for p in prots)}); {runs} runs per "
        f"algorithm and protocol, master seed {seed}; algorithms {names}"
        + ("; budget-matched controls of the NA forms" if matched and pairs else "")
    )
    return curves, notes, desc


def _servable_protocol(
    table: Table, protocol: ProtocolName | None, allow_optimistic: bool
) -> ProtocolName:
    """The protocol to run: the one asked for, else per-dataset, else (if allowed) fixed-n."""
    from nb201_flat.search import ProtocolError, protocols_by_name

    names: list[ProtocolName] = [protocol] if protocol else ["per-dataset", "fixed-n"]
    why: tuple[Part, ...] = ()  # the last protocol's refusal, as parts a command spells
    for name in names:
        try:
            prots = protocols_by_name(name, table)
            for p in prots:
                p.check(table)
        except ProtocolError as exc:
            why = parts_of(exc)
            continue
        if any(p.optimistic for p in prots) and not allow_optimistic:
            why = (
                f"protocol {name} on this table searches the reported metric itself, which "
                "gives optimistic curves; in Python, make_search_curves(..., allow_optimistic=True) "
                "draws them anyway",
            )
            continue
        return name
    raise FigureSkipped(
        NAME,
        [
            search_key("cifar10", 12),
            cost_key("cifar10"),
        ],
        (
            "a validation split and training times to search on",
            *(("; ", *why) if protocol or "optimistic" in spelled(why) else ()),
        ),
    )


def _caption(protocol: str, runs: int, seed: int, averaged: str) -> str:
    """The searches run here: ``averaged``, the runs each curve's points average
    (:func:`_runs_averaged`), said where some of the ``runs`` found no cell."""
    what = {
        "per-dataset": "protocol per-dataset (NATS-Bench): each dataset searched on its own "
        "12-epoch validation accuracy, budgets 20k / 40k / 120k s",
        "nb201": "protocol nb201: cifar10-valid 12-epoch validation accuracy searched for "
        "12k s, test accuracy of all three datasets reported",
        "fixed-n": "protocol fixed-n: a fixed number of queries",
    }.get(protocol, f"protocol {protocol}")
    # the runs asked for were captioned, not the runs each point averages
    some = "" if averaged == str(runs) else f" ({averaged} of them found a cell and are averaged)"
    return f"{what[0].upper()}{what[1:]}; {runs} runs per algorithm{some}, master seed {seed}."


def _searched_reported(curves: pd.DataFrame) -> dict[str, bool | None]:
    """Whether each protocol of ``curves`` searched the metric it reports (optimistic), as
    the curves record it (their ``optimistic`` column); None for curves without it (a frame
    written before the runner recorded it)."""
    flags: dict[str, bool | None] = {}
    for name, group in curves.groupby("protocol", sort=False):
        held = set(group["optimistic"]) if "optimistic" in group else set()
        flags[str(name)] = bool(held.pop()) if len(held) == 1 else None
    return flags


def _incumbent_text(flags: dict[str, bool | None]) -> str:
    """What the incumbent is the best by, per protocol (:func:`_searched_reported`)."""
    by = {
        "by validation": [n for n, f in flags.items() if f is False],
        "by the reported metric itself": [n for n, f in flags.items() if f],
        "by what its protocol searched (not recorded in the curves)": [
            n for n, f in flags.items() if f is None
        ],
    }
    used = {what: names for what, names in by.items() if names}
    if len(used) == 1:
        return f"best {next(iter(used))} so far"
    return "best so far " + "; ".join(f"{what} under {', '.join(n)}" for what, n in used.items())


# the words of a neighbourhood label's parts (nb201_flat.neighbourhood.Neighbourhood.label,
# then the objective's look-ups): r1,mean,self,free
_NA_PARTS = {
    "self": "incl. the cell",
    "noself": "excl. the cell",
    "nonone": "no substitutions to none",
    "conn": "connected cells only",
    "free": "neighbours looked up free",
    "charged": "neighbour queries charged",
}


def _na_words(tag: str) -> str | None:
    """An NA label's neighbourhood in words; None where the tag is not one it can read.

    >>> _na_words("r1,mean,self,free"), _na_words("r2=,q0.1,noself,conn,charged")
    ('radius-1 mean incl. the cell, neighbours looked up free', 'distance-2 (exactly) 0.1-quantile excl. the cell, connected cells only, neighbour queries charged')
    """
    from nb201_flat.neighbourhood import AGGREGATES

    radius, agg, *rest = [*tag.split(","), ""]
    match = re.fullmatch(r"r(\d+)(=?)", radius)
    rest = [p for p in rest if p]
    known = agg in AGGREGATES or re.fullmatch(r"q[\d.]+", agg) is not None
    if (
        match is None
        or not known
        or len(rest) < 2
        or rest[0] not in ("self", "noself")
        or rest[-1] not in ("free", "charged")
        or any(p not in _NA_PARTS for p in rest)
    ):
        return None
    r = int(match.group(1))
    if r == 1:  # exactly 1 and up to 1 are one neighbourhood
        where = "radius-1"
    elif match.group(2):
        where = f"distance-{r} (exactly)"
    else:
        where = f"radius-{r} (distance 1 to {r})"
    agg = f"{agg[1:]}-quantile" if agg.startswith("q") else agg
    self_part, *filters, lookups = rest
    words = f"{where} {agg} {_NA_PARTS[self_part]}"
    return ", ".join([words, *(_NA_PARTS[p] for p in filters), _NA_PARTS[lookups]])


def _na_text(drawn: Sequence[str], known: Mapping[str, str]) -> tuple[str, ...]:
    """The caption's sentence on the NA forms' neighbourhoods drawn (none without one);
    ``known``: the full label of a curve label that names no neighbourhood (``na-rs`` run
    here)."""
    forms: dict[str, str | None] = {}  # tag (or a bare label) -> its words
    for algo in drawn:
        parts = _control_parts(algo)
        na = parts[1] if parts else algo
        na = known.get(na, na)
        name, bracket, tag = na.partition("[")
        if name.startswith("na-"):
            # two-stage's top-k is no neighbourhood setting (_variant_text explains it)
            tag = ",".join(p for p in tag.rstrip("]").split(",") if not p.startswith("top"))
            forms[tag if bracket else name] = _na_words(tag) if bracket else None
    if not forms:
        return ()
    if len(forms) == 1 and None not in forms.values():
        return (f"NA forms: {next(iter(forms.values()))}.",)
    said = [
        f"[{tag}] {words}" if words else f"{tag}: neighbourhood not in the label"
        for tag, words in forms.items()
    ]
    return (f"NA forms: {'; '.join(said)}.",)


def _matched_text(curves: pd.DataFrame, drawn: Sequence[str]) -> tuple[str, ...]:
    """The caption's sentence on the budget-matched controls drawn, by their budget's kind."""
    controls = [a for a in drawn if _control_parts(a)]
    if not controls:
        return ()
    units = set(curves.loc[curves["algorithm"].isin(controls), "x_unit"].astype(str))
    given = {
        frozenset({"seconds"}): "the simulated time its NA form used",
        frozenset({"queries"}): "as many evaluations as its NA form made",
    }.get(
        frozenset(units),
        "what its NA form used (simulated time under a time budget, evaluations under a "
        "query budget)",
    )
    return (
        f"Dotted: the base search given {given}, free look-ups included (budget-matched), "
        "drawn on the same axis by its share of that budget.",
    )


def _runs_averaged(curves: pd.DataFrame, drawn: Sequence[str]) -> str:
    """The runs each point of the ``drawn`` algorithms' curves averages, the most with an
    incumbent at once (``100``, or a range ``95–100`` over algorithms): every drawn point's,
    as :func:`plot_anytime` starts each curve there and :func:`make_search_curves` draws no
    curve whose count falls after it."""
    rows = curves[curves["algorithm"].isin(drawn)]
    runs = sorted(set(rows.groupby("algorithm", sort=False)["n"].max().astype(int)))
    return str(runs[0]) if len(runs) == 1 else f"{runs[0]}–{runs[-1]}"


def _curves_caption(curves: pd.DataFrame, drawn: Sequence[str]) -> str:
    """Given curves' protocols and runs per algorithm (the most with an incumbent at once)."""
    names = list(dict.fromkeys(map(str, curves["protocol"])))
    count = _runs_averaged(curves, drawn)
    return f"Protocol{'s' * (len(names) > 1)} {', '.join(names)}; {count} runs per algorithm."


def _start(n: np.ndarray) -> int:
    """Where a curve of run counts ``n`` (by ``x``) starts: the first point with the most runs
    holding an incumbent (every run, where each has one with a value)."""
    return int(np.argmax(n >= n.max()))


def _require_reported(table: Table, protocol: ProtocolName) -> None:
    """Skip a table where a key ``protocol`` reports lacks a value on some cell: a run whose
    incumbent is one of them has none there, so the mean at that point would be over other
    runs than at the next (the curves kept only the points every incumbent was measured at,
    joined across the rest)."""
    from nb201_flat.search import protocols_by_name

    keys = dict.fromkeys(k for p in protocols_by_name(protocol, table) for k in p.report)
    lacking = {k: int(np.isnan(table.vector_for(k)).sum()) for k in keys}
    lacking = {k: n for k, n in lacking.items() if n}
    if lacking:
        size = table.space.size
        counts = "; ".join(
            f"{n:,} of the {size:,} architectures have no {k} value" for k, n in lacking.items()
        )
        raise FigureSkipped(
            NAME,
            [f"{k} on every architecture" for k in lacking],
            (
                f"{counts}, so a run whose incumbent is one of them would drop out of the mean "
                "while it holds it, and each point would average other runs; use a table that "
                f"measures {'it' if len(lacking) == 1 else 'them'} (",
                Call("Table.info"),
                " lists each key's archs)",
            ),
        )


def _require_whole_runs(
    groups: Sequence[tuple[tuple[object, ...], pd.DataFrame]], drawn: Sequence[str]
) -> None:
    """Skip given curves where a ``drawn`` algorithm's count of runs with a value falls after
    its curve starts (:func:`_start`): some incumbents have no reported value there, and the
    mean would be over fewer runs than the caption's."""
    for (prot, dataset, *rest), g in groups:
        for algo, c in g.groupby("algorithm", sort=False):
            if algo not in drawn:
                continue
            n = c.sort_values("x")["n"].to_numpy(dtype=np.int64)
            after = n[_start(n) :]
            if (after < after[0]).any():
                raise FigureSkipped(
                    NAME,
                    ["search curves whose runs' incumbents all have a reported value"],
                    f"{display_name(str(algo))} under {prot} on {dataset}"
                    f"{_key_detail(rest) if rest else ''}: the runs with a value fall from "
                    f"{after[0]} to {after.min()} after its curve starts; plot_anytime draws "
                    "such curves, each point the mean over the runs with a value there",
                )


def _variant_text(algorithms: Iterable[object], searched: str = "validation") -> str:
    """Caption sentences for the NA-RS variants among ``algorithms`` (none for the default
    set), so a legend entry such as "NA-RS best-evaluated" is never left unexplained;
    ``searched``: what their searches ranked by."""
    names = {str(a).partition("[")[0] for a in algorithms}
    text = ""
    if "na-rs2" in names:
        text += (
            f" NA-RS two-stage: random search by {searched}, its top cells (topK in the label) "
            "re-ranked by the NA score."
        )
    if "na-rs-best" in names:
        text += (
            f" NA-RS best-evaluated: the best cell by {searched} among everything NA-RS "
            "evaluated (centres and neighbours), i.e. NA-RS's evaluations without its "
            "neighbourhood selection."
        )
    return text


def squeeze_controls(curves: pd.DataFrame) -> pd.DataFrame:
    """Budget-matched controls' curves rescaled onto the protocol's own budget axis.

    A control runs on its own, larger budget; drawn at ``x * budget / control budget`` it has
    spent, at every ``x``, the same share of its budget as the other curves of ``curves`` (one
    protocol and dataset). Other rows are returned unchanged.
    """
    is_ctrl = np.array([_control_parts(str(a)) is not None for a in curves["algorithm"]])
    if not is_ctrl.any() or is_ctrl.all():
        return curves
    end = float(curves.loc[~is_ctrl, "x"].max())
    out = curves.copy()
    for algo in dict.fromkeys(curves.loc[is_ctrl, "algorithm"]):
        m = (out["algorithm"] == algo).to_numpy()
        top = float(out.loc[m, "x"].max())
        if top > 0:
            out.loc[m, "x"] = out.loc[m, "x"] * (end / top)
    return out


_PLOT_COLUMNS = ("algorithm", "x", "x_unit", "mean", "std", "n")


def _check_curves(curves: object, columns: Sequence[str]) -> None:
    """:class:`ArgumentError` unless ``curves`` is a frame with ``columns`` (a missing one
    failed deep in pandas)."""
    if not isinstance(curves, pd.DataFrame):
        raise ArgumentError(
            f"curves must be a DataFrame of search curves, got {type(curves).__name__}; pass "
            "e.g. run_search(...).curves"
        )
    missing = [c for c in columns if c not in curves.columns]
    if missing:
        raise ArgumentError(
            f"curves lack column(s) {', '.join(missing)}; pass the curves frame of run_search "
            "or reproduce (columns " + ", ".join(columns) + ")"
        )


def plot_anytime(
    curves: pd.DataFrame,
    ax: Axes | None = None,
    *,
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
    complete_only: bool = True,
    legend: bool = True,
) -> Axes:
    """Mean incumbent test accuracy with a confidence band, one line per algorithm.

    Parameters
    ----------
    curves
        One protocol and reported dataset of a ``curves`` frame (``algorithm, x, x_unit, mean,
        std, n``).
    order
        Algorithms to draw, in legend order (default: as they appear).
    complete_only
        Start each curve where every run has an incumbent (earlier means average fewer runs
        and are biased upwards); otherwise from the first point with any. Later points are
        all drawn, each the mean over the runs with a value there (``n``): fewer where some
        incumbents have no reported value (a partly measured key), none (a gap) where no
        run's has one.
    """
    from scipy import special  # stdtrit: scipy.stats.t.ppf's quantile, a lighter import

    check_confidence(confidence)
    complete_only = check_flag("complete_only", complete_only)
    legend = check_flag("legend", legend)
    _check_curves(curves, _PLOT_COLUMNS)
    from nb201_flat.search.runner import KEY_COLUMNS

    # one line per algorithm: several protocols or keys were drawn as one zigzag line
    ids = [c for c in ("protocol", *KEY_COLUMNS, "x_unit") if c in curves.columns]
    parts = curves[ids].drop_duplicates()
    if len(parts) > 1:
        raise ArgumentError(
            f"curves hold {len(parts)} protocols or reported keys ({', '.join(ids)}), which one "
            "line per algorithm would join; pass one of them (e.g. curves[curves['protocol'] "
            "== name]), or draw a panel each with make_search_curves"
        )
    held = list(dict.fromkeys(curves["algorithm"]))
    if order is not None:
        given: object = order  # typed as a sequence; a notebook may pass one name all the same
        if isinstance(given, str):
            raise ArgumentError(f"order must be a sequence of algorithms; pass [{given!r}]")
        # a name the curves lack drew nothing, without a word
        absent = [a for a in order if a not in held]
        if absent:
            raise ArgumentError(
                f"the curves hold no algorithm {', '.join(map(repr, absent))}; they hold "
                f"{', '.join(map(str, held))}"
            )
    ax = axes_or_new(ax)
    algos = list(order) if order is not None else held
    curves = squeeze_controls(curves)
    with figure_style():
        for algo in algos:
            c = curves[curves["algorithm"] == algo].sort_values("x")
            if c.empty:
                continue
            n = c["n"].to_numpy(dtype=np.float64)
            # only the start is trimmed: a later point with fewer runs was dropped and the
            # line joined across it (a partly measured key kept 1 point of 121)
            start = _start(n) if complete_only else int(np.argmax(n >= 1))
            c = c.iloc[start:]
            n = n[start:]
            x = c["x"].to_numpy(dtype=np.float64)
            mean = c["mean"].to_numpy(dtype=np.float64)
            std = c["std"].to_numpy(dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                half = (
                    special.stdtrit(np.maximum(n - 1, 1), 0.5 + confidence / 2) * std / np.sqrt(n)
                )
            colour, ls, lw = _style_of(algo)
            ax.plot(x, mean, color=colour, ls=ls, lw=lw, label=display_name(algo))
            ax.fill_between(x, mean - half, mean + half, color=colour, alpha=0.15, lw=0)
        unit = str(curves["x_unit"].iloc[0]) if len(curves) else "seconds"
        if unit == "seconds":
            ax.set_xlabel("simulated search time (s)")
            # 120000 and 100000 collide at panel width; thousands read as well
            ax.xaxis.set_major_formatter(
                FuncFormatter(lambda v, _pos: f"{v / 1000:g}k" if v else "0")
            )
        else:
            ax.set_xlabel("queries")
        if legend:
            ax.legend(loc="lower right", ncols=2)
    return ax


def _key_detail(rest: Sequence[object]) -> str:
    """The rest of a panel's reported key after its dataset (split, epochs, metric where the
    frame has them), for a title whose dataset has several panels.

    >>> _key_detail(["x-valid", 12, "accuracy"]), _key_detail(["x-test", 200, "loss"])
    (', x-valid@12ep', ', x-test@200ep:loss')
    """
    split, *more = map(str, rest)
    epochs = f"@{more[0]}ep" if more else ""
    metric = f":{more[1]}" if len(more) > 1 and more[1] != "accuracy" else ""
    return f", {split}{epochs}{metric}"


def make_search_curves(
    table: Table,
    *,
    protocol: ProtocolName | None = None,
    algorithms: Sequence[str] | None = None,
    runs: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    curves: pd.DataFrame | None = None,
    description: str | None = None,
    caption: str | None = None,
    allow_optimistic: bool | None = None,
) -> Figure:
    """Anytime curves, one panel per reported dataset.

    Each point averages the same runs: a table whose reported key lacks a value on some
    cell, or given ``curves`` whose runs with a value fall after a curve starts, skip the
    figure (:class:`FigureSkipped`; :func:`plot_anytime` draws such curves).

    Parameters
    ----------
    protocol
        ``per-dataset`` (default when the table can serve it), ``nb201``, or ``fixed-n``.
    algorithms
        Names to run (default: RS, NA-RS, REA, NA-REA, LS, NA-LS); with ``curves``, the
        labels to draw, in legend order (default: all of them).
    runs, seed, jobs
        Runs per algorithm and protocol (default 100), master seed (0), worker processes (1).
    curves, description
        Precomputed curves (e.g. ``reproduce(...).curves``) and their full description (a
        note); skips the searches.
    caption
        Short protocol text printed under the figure (default: made from the protocol).
    allow_optimistic
        Draw even when the only protocol the table can serve searches on the reported metric
        (the embedded default); off by default, so such a table skips this figure.
    """
    # the search options default to None: given ones are told apart from the defaults (runs=100
    # passed with curves= was ignored without a word)
    optimistic_ok = allow_optimistic is not None and check_flag(
        "allow_optimistic", allow_optimistic
    )
    if protocol is not None:  # a misspelt name is the caller's error, not a skip
        check_choice("protocol", protocol, ("per-dataset", "nb201", "fixed-n"))
    if isinstance(algorithms, str):  # its letters would be read as names
        raise ArgumentError(
            f"algorithms must be a sequence of names, got {algorithms!r}; pass e.g. [{algorithms!r}]"
        )
    if curves is not None:
        # the searches are not run: their options would be ignored
        search_options = {
            "protocol": protocol,
            "runs": runs,
            "seed": seed,
            "jobs": jobs,
            "allow_optimistic": allow_optimistic,
        }
        unused = [name for name, value in search_options.items() if value is not None]
        if unused:
            raise ArgumentError(
                f"{', '.join(unused)} {'applies' if len(unused) == 1 else 'apply'} only to the "
                "searches this function runs; with curves= nothing is searched: drop "
                f"{'it' if len(unused) == 1 else 'them'}"
            )
    elif description is not None:
        raise ArgumentError("description= describes precomputed curves=; pass both or neither")
    for name, text in (("caption", caption), ("description", description)):
        if text is not None and not isinstance(text, str):  # 5 failed deep in matplotlib
            raise ArgumentError(f"{name} must be text, got {shown(text)}; pass a str or None")
    notes: tuple[str, ...] = ()
    ran = curves is None
    settings: tuple[str, int, int] | None = None  # the searches run here: protocol, runs, seed
    if curves is None:
        from nb201_flat.search.runner import check_runs

        # an int (2.0 was captioned "2.0 runs"), and two or more: the bands are confidence
        # intervals (one run drew none and failed on NaN axis limits)
        runs = check_runs(100 if runs is None else runs, ci=True)
        seed, jobs = (0 if seed is None else seed), (1 if jobs is None else jobs)
        used = _servable_protocol(table, protocol, optimistic_ok)
        _require_reported(table, used)
        from nb201_flat.search import ProtocolError

        try:
            curves, notes, description = run_curves(
                table,
                protocol=used,
                algorithms=DEFAULT_ALGORITHMS if algorithms is None else algorithms,
                runs=runs,
                seed=seed,
                jobs=jobs,
            )
        except ProtocolError as exc:
            if protocol is not None:  # asked for: the caller's to change
                raise
            # e.g. the default budget buys more queries than a small space has cells; the
            # search command's flags (exc.fix) are not this figure's: name what it takes
            raise FigureSkipped(
                NAME,
                [f"a table the default protocol {used} fits"],
                f"{exc.problem}; in Python, make_search_curves(table, protocol='fixed-n') "
                "searches on a query budget, or curves= draws your own searches",
            ) from exc
        settings = (used, runs, seed)
    else:
        _check_curves(curves, ("protocol", "dataset", "split", *_PLOT_COLUMNS))
        if algorithms is not None:  # a name the curves lack drew nothing, without a word
            held = set(curves["algorithm"])
            absent = [a for a in algorithms if a not in held]
            if absent:
                raise ArgumentError(
                    f"the curves hold no algorithm {', '.join(map(repr, absent))}; they hold "
                    f"{', '.join(map(str, dict.fromkeys(curves['algorithm'])))}"
                )
    from nb201_flat.search.runner import KEY_COLUMNS

    # a panel per protocol and reported key (its columns the frame has: a curves frame saved
    # before they came has dataset and split): one split reported at 12 and 200 epochs was
    # one panel, the two keys' curves drawn as one line
    by = ["protocol", *(c for c in KEY_COLUMNS if c in curves.columns)]
    groups = list(curves.groupby(by, sort=False))
    if not groups:
        raise FigureSkipped(NAME, ["non-empty search curves"])
    # what the caption says is read from the curves drawn: settings written into it were
    # wrong for curves of other protocols, neighbourhoods or algorithms
    algos_held = list(dict.fromkeys(map(str, curves["algorithm"])))
    drawn_algos = (
        algos_held
        if algorithms is None
        else [a for a in algos_held if a in algorithms or _control_parts(a)]
    )
    if not ran:  # the searches run here report keys measured on every cell
        _require_whole_runs(groups, drawn_algos)
    datasets = [str(key[1]) for key, _ in groups]
    # a panel's title, and the protocol beside it where two panels' would read the same
    # (per-dataset's one protocol per dataset needs none)
    titles = [
        dataset_label(str(key[1]))
        + (_key_detail(key[2:]) if datasets.count(str(key[1])) > 1 else "")
        for key, _ in groups
    ]
    fig, axes = new_figure(1, len(groups), figsize=(max(6.0, 3.2 * len(groups) + 0.4), 3.6))
    for k, ((panel_protocol, *_), g) in enumerate(groups):
        ax = axes[0, k]
        g = squeeze_controls(g)
        order = None
        if algorithms is not None:
            controls = [a for a in dict.fromkeys(g["algorithm"]) if _control_parts(str(a))]
            order = [*algorithms, *[a for a in controls if a not in algorithms]]
            drawn = set(g["algorithm"])
            order = [a for a in order if a in drawn]  # a panel may lack one
        plot_anytime(g, ax, order=order, legend=False)
        with figure_style():
            # the interesting part is the end; zoom from the mean at 10 % of the budget
            late = g[g["x"] >= 0.1 * g["x"].max()]
            low = (late["mean"] - late["std"] / 2).to_numpy(dtype=np.float64)
            high = (g["mean"] + g["std"] / np.sqrt(g["n"].clip(lower=1))).to_numpy(np.float64)
            if not (np.isnan(low).all() or np.isnan(high).all()):  # given curves of one run
                lo, hi = float(np.nanmin(low)), float(np.nanmax(high))  # have no std: unzoomed
                ax.set_ylim(lo, hi + 0.05 * (hi - lo))
            letter = chr(ord("a") + k) if k < 26 else str(k + 1)  # 'abcdef'[k % 6] repeated
            title = titles[k]
            if titles.count(title) > 1:
                title += f"\n{panel_protocol}"
            ax.set_title(f"({letter}) {title}", fontsize=9)
            ax.set_ylabel("incumbent test accuracy (%)")
    flags = _searched_reported(curves)
    known: dict[str, str] = {}  # the searches run here label the NA forms by name alone
    if ran:
        known = {a: _algorithm(a).label for a in algos_held if a.startswith("na-")}
    if caption is None and settings is not None:
        caption = _caption(*settings, _runs_averaged(curves, drawn_algos))
    elif caption is None:  # given curves: their protocols and runs
        caption = _curves_caption(curves, drawn_algos)
    with figure_style():
        # one legend above the panels: the same algorithms in every panel
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 4))
        text = " ".join(
            (
                f"Mean over runs of the test accuracy of the incumbent ({_incumbent_text(flags)}); "
                "bands: 95 % t confidence interval of the mean; curves start once every run has "
                "an incumbent; y axes zoomed on the last 90 % of the budget.",
                *_na_text(drawn_algos, known),
                *_matched_text(curves, drawn_algos),
                caption,
            )
        )
        searched = (
            "validation" if all(f is False for f in flags.values()) else "the metric searched"
        )
        text += _variant_text(drawn_algos, searched)
        optimistic = [name for name, flag in flags.items() if flag]
        if optimistic:
            under = "" if len(optimistic) == len(flags) else f" ({', '.join(optimistic)})"
            text += f" OPTIMISTIC{under}: searched on the reported metric."
        add_caption(fig, table, text)
    if description:
        add_note(fig, description)
    for n in notes:
        add_note(fig, n)
    return fig
