"""Query-only neural architecture search against a budgeted oracle.

The pieces, in the order data flows:

- :mod:`~nb201_flat.search.protocol`: what a search sees, pays and reports
  (:class:`Protocol`; the built-in ``nb201``, ``per-dataset`` and ``fixed-n`` families).
- :mod:`~nb201_flat.search.oracle`: the budgeted :class:`Oracle` (validation values and costs
  only) and the :class:`Evaluator` (test values, read after a search ends).
- :mod:`~nb201_flat.search.algorithms`: random search, NA-RS, regularised evolution, local
  search and their neighbourhood-aware forms.
- :mod:`~nb201_flat.search.runner`: many seeded runs, in parallel, into tidy DataFrames.
- :mod:`~nb201_flat.search.grid`: the NA-paper reproduction grid (:func:`reproduce`);
  :mod:`~nb201_flat.search.statistics` its paired differences, CIs and verdicts;
  :mod:`~nb201_flat.search.report` its CSV and Markdown report;
  :mod:`~nb201_flat.search.accounting` the budget-matched controls of NA searches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nb201_flat.search.algorithms import (
    ALGORITHM_NAMES,
    AlgorithmError,
    Incumbent,
    LocalSearch,
    NABestEvaluatedSearch,
    NARandomSearch,
    NeighbourObjective,
    RandomSearch,
    RegularizedEvolution,
    SearchAlgorithm,
    make_algorithm,
    with_stand_ins,
)
from nb201_flat.search.oracle import (
    BudgetExhausted,
    Evaluator,
    HiddenDataError,
    Oracle,
    OracleData,
    SearchEnded,
)
from nb201_flat.search.protocol import (
    PROTOCOL_NAMES,
    Protocol,
    ProtocolError,
    fixed_n_protocols,
    nb201_protocol,
    per_dataset_protocols,
    protocols_by_name,
)

if TYPE_CHECKING:
    from nb201_flat.search.runner import (
        RunRecord,
        SearchResults,
        run_cells,
        run_one,
        run_search,
        summarise,
    )

# The runner pulls in pandas; loaded on first use so that building the command line (which
# reads the algorithm names) stays fast.
_RUNNER_NAMES = ("RunRecord", "SearchResults", "run_cells", "run_one", "run_search", "summarise")


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        from nb201_flat.search import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'nb201_flat.search' has no attribute {name!r}")


__all__ = [
    "ALGORITHM_NAMES",
    "PROTOCOL_NAMES",
    "AlgorithmError",
    "BudgetExhausted",
    "Evaluator",
    "HiddenDataError",
    "Incumbent",
    "LocalSearch",
    "NABestEvaluatedSearch",
    "NARandomSearch",
    "NeighbourObjective",
    "Oracle",
    "OracleData",
    "Protocol",
    "ProtocolError",
    "RandomSearch",
    "RegularizedEvolution",
    "RunRecord",
    "SearchAlgorithm",
    "SearchEnded",
    "SearchResults",
    "fixed_n_protocols",
    "make_algorithm",
    "nb201_protocol",
    "per_dataset_protocols",
    "protocols_by_name",
    "run_cells",
    "run_one",
    "run_search",
    "summarise",
    "with_stand_ins",
]
