"""Benchmark tables: dense metric vectors over a space, keyed by what was measured.

A :class:`Table` maps a :class:`MetricKey` ``(dataset, split, epochs, metric)`` and a seed
(``None`` for the mean over seeds, else a stored seed's number) to a float vector over every
architecture of its space, NaN where nothing was measured. A seed's number is its training
seed id where the source records which seed each value came from (a results database of
``nb201-flat train``: ``--seeds 777 888`` are seeds 777 and 888), else its 0-based position in
ascending id order (the NB201 files: 777, 888, 999 are 0, 1, 2; their tidy form does not say
which seed a 2-seed cell lacks). Reading takes a seed policy (:data:`SeedPolicy`): ``"mean"``
(the default), a stored seed ``int``, or ``"random"`` (one stored seed per architecture, drawn
from an explicit generator); the official API's defaults (``hp='12'``, ``is_random=True``)
are not used.

Tables are built from the tidy long format (:meth:`Table.from_tidy`, the interchange form of
every importer) and stored natively by :mod:`nb201_flat.storage`.

Examples
--------
>>> import pandas as pd
>>> from nb201_flat.space import NB201
>>> df = pd.DataFrame({"index": [0, 1], "dataset": "cifar10", "split": "ori-test",
...                    "epochs": 200, "seed": pd.NA, "metric": "accuracy", "value": [90.0, 91.5]})
>>> t = Table.from_tidy(df, source="example")
>>> t.vector("cifar10", "ori-test", 200)[:3]
array([90. , 91.5,  nan])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np
import numpy.typing as npt

from nb201_flat.errors import (
    ArgumentError,
    Call,
    FormatError,
    InvalidArchError,
    MissingValueError,
    Param,
    Part,
    UnknownKeyError,
    check_flag,
    check_int_range,
    joined,
    parts_of,
    shown,
    whole_number,
)
from nb201_flat.space import NB201, Arch, Space, check_space, in_index_order, masked_as_nan
from nb201_flat.types import FloatArray as FloatArray
from nb201_flat.types import Seed as Seed
from nb201_flat.types import SeedPolicy as SeedPolicy
from nb201_flat.types import as_rng

if TYPE_CHECKING:
    import pandas as pd

    from nb201_flat.curves import Curves


TIDY_COLUMNS = ("index", "arch", "dataset", "split", "epochs", "seed", "metric", "value")
STAND_IN_COLUMNS = ("constant_output", "copied_from")
"""The tidy columns of a retraining table's stand-in cells (:func:`stand_ins`), one value per
row: ``constant_output`` True on the rows of a run (dataset, schedule, seed) in which a
disconnected cell was recorded at chance without training (the same on all rows of one run
and cell; another run of the cell may be trained), ``copied_from`` the index of the trained
cell whose numbers a row copies, empty on a row of the cell's own run (the same on all rows of
one dataset, schedule, seed and cell). :meth:`Table.to_tidy` writes them and
:meth:`Table.from_tidy` reads them back into ``meta["constant_output"]`` and
``meta["isomorphic_to"]``, one record per run; a table recording no stand-ins has neither."""
TIDY_OPTIONAL_COLUMNS = ("space", *STAND_IN_COLUMNS)
"""The columns a tidy table may add to :data:`TIDY_COLUMNS` (:meth:`Table.to_tidy` writes them
for a retraining table: its space key and its stand-in cells). Any other column is refused
(:func:`check_tidy_columns`): a misspelt ``seeds`` would read every row as a mean over seeds."""
#: where a message about the tidy columns sends a user: a help text every install has (the
#: repository's data README is not in the package)
TIDY_HELP: Final = "described by `nb201-flat import --help`"
INFO_COLUMNS = ("dataset", "split", "epochs", "metric", "archs", "mean", "seeds")


#: the largest epoch count or seed number a table holds: an int64, as its files do
INT64_MAX: Final = 2**63 - 1


def key_name_fault(name: object, *, empty: str = "is empty") -> str | None:
    """Why ``name`` cannot be a key's dataset, split or metric, or None: it is not text, is
    blank (``empty`` says so), has spaces around it (``' cifar10'`` would be a key of its own,
    which no query for cifar10 finds), or holds a control or invisible character. The one rule
    of :class:`MetricKey` and the tidy format (a file's line, a frame's row): a name only the
    tidy format refused could not be read back from :meth:`Table.to_tidy`.

    >>> key_name_fault("cifar10"), key_name_fault("cifar10 ")
    (None, 'has spaces around it (it would be a key of its own)')
    """
    if not isinstance(name, str):
        return "is not text"
    if not name.strip():
        return empty
    if name != name.strip():
        return "has spaces around it (it would be a key of its own)"
    if not name.isprintable():  # a newline or tab breaks every table and message printing it
        return "has a control or invisible character (a newline, a tab); key names are plain text"
    return None


@dataclass(frozen=True, slots=True, order=True)
class MetricKey:
    """What was measured: ``dataset`` (NB201 names), ``split``, ``epochs`` (schedule), ``metric``."""

    dataset: str
    split: str
    epochs: int
    metric: str = "accuracy"

    def __post_init__(self) -> None:
        # epochs "12" would never equal 12, and sorting keys would fail on str < int
        for name in ("dataset", "split", "metric"):
            value = getattr(self, name)
            # the tidy format's rule: a key it refuses could not be read back from to_tidy
            if (why := key_name_fault(value)) is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise ArgumentError(f"MetricKey {name} must be a non-empty str, got {shown(value)}")
            plain = "".join(c for c in value if c.isprintable()).strip()
            fix = f"name it {shown(plain)}" if plain else "name it in plain text"
            raise ArgumentError(f"MetricKey {name} {shown(value)} {why}; {fix}")
        # int64 as the tidy format and the stored files hold it (2**63 was a raw OverflowError)
        epochs = check_int_range("MetricKey epochs", self.epochs, 0)
        epochs = check_int_range("MetricKey epochs", epochs, hi=INT64_MAX)
        object.__setattr__(self, "epochs", epochs)

    def __str__(self) -> str:
        """The key's text form, used wherever a key is written down (columns, files, notes).

        >>> str(MetricKey("cifar10-valid", "x-valid", 12))
        'cifar10-valid/x-valid@12ep:accuracy'
        """
        return f"{self.dataset}/{self.split}@{self.epochs}ep:{self.metric}"

    @property
    def label(self) -> str:
        """Deprecated: the key's one text form is ``str(key)``.

        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     MetricKey("cifar100", "x-test", 200).label
        'cifar100/x-test@200ep:accuracy'
        """
        warnings.warn(
            "MetricKey.label is deprecated; a key has one text form, str(key)",
            DeprecationWarning,
            stacklevel=2,
        )
        return str(self)


def _same_but_spelling(value: str, options: list[str]) -> list[str]:
    """The options equal to ``value`` up to case, ``-`` and ``_`` (``CIFAR100`` -> ``cifar100``).

    >>> _same_but_spelling("CIFAR-100", ["cifar10", "cifar100"])
    ['cifar100']
    """

    def norm(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    return [o for o in options if norm(o) == norm(value)][:1]


def check_tidy_columns(columns: Iterable[object], where: str) -> None:
    """Refuse a tidy header with a column named twice or a column that is not a tidy one
    (:data:`TIDY_COLUMNS`, :data:`TIDY_OPTIONAL_COLUMNS`), in one line naming it.

    A column of another name was dropped unseen: ``seeds`` for ``seed`` imported each seed's
    values as the mean over seeds.

    >>> check_tidy_columns(["index", "dataset", "split", "epochs", "seeds", "metric", "value"],
    ...                    "f.csv")
    Traceback (most recent call last):
    ...
    nb201_flat.errors.FormatError: f.csv: column 'seeds' is not a tidy column (did you mean 'seed'?); the columns are index, arch, dataset, split, epochs, seed, metric, value, and optionally space, constant_output, copied_from (described by `nb201-flat import --help`): rename or drop it
    """
    import difflib
    from collections import Counter

    names = list(columns)
    twice = [(c, n) for c, n in Counter(map(str, names)).items() if n > 1]
    if twice:
        raise FormatError(
            f"{where}: column {twice[0][0]!r:.60} appears {twice[0][1]} times in the "
            "header; a tidy table names each column once: rename or drop the others"
        )
    known = [*TIDY_COLUMNS, *TIDY_OPTIONAL_COLUMNS]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.75)
            close += [] if close else _same_but_spelling(str(name), known)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FormatError(
                f"{where}: column {name!r:.60} is not a tidy column{hint}; the columns are "
                f"{', '.join(TIDY_COLUMNS)}, and optionally {', '.join(TIDY_OPTIONAL_COLUMNS)} "
                f"({TIDY_HELP}): rename or drop it"
            )


def renamed_seed(
    seed_policy: SeedPolicy | None, seed: SeedPolicy | None, *, stacklevel: int = 2
) -> SeedPolicy | None:
    """``seed_policy=``, or the deprecated ``seed=`` spelling of it, or None when neither is given.

    ``seed`` keeps working for one release with a :class:`DeprecationWarning` (it now means
    randomness only); giving both is an error. ``stacklevel`` counts as in
    :func:`warnings.warn` from this function's caller: the default names the line that called
    the function taking ``seed=``. Keep it pointing there, so that a library module still
    using the old spelling is the module named (the test suite makes that an error).
    """
    if seed is None:
        return seed_policy
    if seed_policy is not None:
        raise ArgumentError("pass seed_policy= only (seed= is its deprecated old name)")
    warnings.warn(
        "seed= as a stored-seed policy is deprecated; pass seed_policy= (seed= and rng= "
        "mean randomness only)",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )
    return seed


def seed_policy_of(
    seed_policy: SeedPolicy | None, seed: SeedPolicy | None = None, *, stacklevel: int = 2
) -> SeedPolicy:
    """The stored-seed policy from ``seed_policy=`` or the deprecated ``seed=``
    (:func:`renamed_seed`, whose ``stacklevel`` this passes on). Default ``"mean"``."""
    policy = renamed_seed(seed_policy, seed, stacklevel=stacklevel + 1)
    if policy is not None and not isinstance(policy, str):
        # now: an array met `policy == "random"` before policy_seeds, numpy's ValueError
        check_seed_policy(policy)
    return "mean" if policy is None else policy


def is_seed_policy(policy: object) -> bool:
    """Whether ``policy`` is a seed policy: ``"mean"``, ``"random"`` or an int (not a bool)."""
    # text first: ``array in ("mean", "random")`` raises numpy's ambiguous-truth ValueError
    return (isinstance(policy, str) and policy in ("mean", "random")) or _is_int(policy)


_MEAN_FIX: tuple[Part, ...] = ("use ", Param("seed_policy", "mean"))
"""The fix :func:`policy_seeds` names for a stored-seed policy a table cannot serve."""


def check_seed_policy(policy: object, fix: str | Sequence[Part] = _MEAN_FIX) -> None:
    """Refuse what is no seed policy (:func:`is_seed_policy`), naming the policies and
    ``fix`` (the caller's own spelling of the mean)."""
    if not is_seed_policy(policy):  # a wrong argument, not a key the table lacks
        fixed = (fix,) if isinstance(fix, str) else tuple(fix)
        raise ArgumentError(
            f"seed policy must be 'mean', 'random' or an int, got {shown(policy)}; ", *fixed
        )


def policy_seeds(
    key: MetricKey,
    policy: SeedPolicy,
    stored: Sequence[int],
    *,
    fix: str | Sequence[Part] = _MEAN_FIX,
) -> tuple[int, ...]:
    """The stored seeds a read under ``policy`` takes for ``key`` (whose stored seeds are
    ``stored``): every one for ``"random"`` (none when the key stores one value per
    architecture, a fallback its caller notes or refuses), the one asked for an int, none for
    ``"mean"``. The one seed-policy rule: tables, protocols and multi-fidelity data (curves)
    check a policy here; ``fix`` names the caller's own spelling of the mean (text, or message
    parts naming a :class:`~nb201_flat.errors.Param`).

    Raises
    ------
    UnknownKeyError
        ``policy`` is an int seed that ``key`` does not store.
    ArgumentError
        ``policy`` is not a seed policy.

    >>> k = MetricKey("toy", "x-valid", 12)
    >>> policy_seeds(k, "random", [0, 1]), policy_seeds(k, "mean", [0, 1])
    ((0, 1), ())
    >>> policy_seeds(k, 2, [0, 1])
    Traceback (most recent call last):
    ...
    nb201_flat.errors.UnknownKeyError: seed 2 is not stored for toy/x-valid@12ep:accuracy; stored seeds: [0, 1]; use seed_policy='mean'
    """
    check_seed_policy(policy, fix)
    fixed = (fix,) if isinstance(fix, str) else tuple(fix)
    if policy == "mean":
        return ()
    if policy == "random":
        return tuple(stored)
    seed = int(policy)
    if seed not in stored:
        raise UnknownKeyError(
            f"seed {seed} is not stored for {key}; stored seeds: "
            f"{list(stored) or 'none (one stored value per cell only)'}; ",
            *fixed,
        )
    return (seed,)


def _no_seeds_to_draw(key: MetricKey) -> UnknownKeyError:
    """The refusal of seed policy ``"random"`` on ``key``, which stores no per-seed values:
    its one stored value per cell is no mean (some sources keep one seed's value there), so
    it is not called one."""
    return UnknownKeyError(
        f"{key} has no per-seed values, so seed policy 'random' is impossible; it serves "
        "its one stored value per cell only: pass ",
        Param("seed_policy", "mean"),
    )


def check_random_draw(key: MetricKey, stored: Sequence[int]) -> None:
    """Refuse seed policy ``"random"`` asked for on ``key``, whose stored seeds are ``stored``,
    where it stores one: every draw takes that seed whatever the generator (``query
    --rng-seed N`` served seed 777 for every N, as every table of ``train``'s default
    ``--seeds`` is), so the read is named as that seed's. A key of no seed is refused where it
    is read (:func:`_no_seeds_to_draw`). The commands and an asked-for protocol policy check
    it; :meth:`Table.vector` itself still draws among one seed, as among several.

    >>> check_random_draw(MetricKey("toy", "x-valid", 12), [777])
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: toy/x-valid@12ep:accuracy stores one seed (777), so seed policy 'random' draws it whatever the generator; pass seed_policy=777 to read it
    """
    if len(stored) == 1:
        raise ArgumentError(
            f"{key} stores one seed ({stored[0]}), so seed policy 'random' draws it whatever "
            "the generator; pass ",
            Param("seed_policy", stored[0]),
            " to read it",
        )


@dataclass(slots=True, eq=False)
class Table:
    """Metric vectors over the architectures of ``space``.

    Attributes
    ----------
    space
        The space whose indices the vectors follow.
    data
        ``{(key, seed): vector}``; ``seed`` is None for the mean over seeds.
    source
        Where the numbers come from (shown by ``info``; kept in the manifest).
    meta
        Free-form provenance (file checksums, importer options).
    curves
        Per-epoch learning curves (:mod:`nb201_flat.curves`), or None when the source
        stores final values only.

    Notes
    -----
    As a pandas DataFrame of one row per architecture and one column per key: ``len(table)``
    is the number of architectures (``table.space.size``), while iterating gives the
    :class:`MetricKey` s present (:meth:`keys`) and ``in`` tests for one. ``in`` takes a
    :class:`MetricKey` or the tuple ``(dataset, split, epochs[, metric])`` of
    :meth:`vector`'s arguments; anything else (a dataset name, a ``(key, seed)`` pair, which
    ``in table.data`` tests) is an :class:`~nb201_flat.errors.ArgumentError`, never a silent
    False.

    >>> from nb201_flat.space import Space
    >>> t = Table(Space(("none", "conv"), 2), {(MetricKey("c10", "test", 200), None): [1.0, 2.0]})
    >>> len(t), list(t), ("c10", "test", 200) in t, ("c10", "test", 200, "loss") in t
    (2, [MetricKey(dataset='c10', split='test', epochs=200, metric='accuracy')], True, False)
    """

    space: Space
    data: dict[tuple[MetricKey, int | None], FloatArray]
    source: str = "unknown"
    meta: dict[str, Any] = field(default_factory=dict)
    curves: Curves | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.space, Space):  # it sizes every vector: a str failed on .size
            raise ArgumentError(
                f"space must be a Space, got {type(self.space).__name__} "
                f"{shown(self.space, 40)}; pass nb201_flat.space.NB201 or Space(ops, n_nodes)"
            )
        given: tuple[tuple[str, object], ...] = (("data", self.data), ("meta", self.meta))
        for name, value in given:  # typed as dicts, given as anything
            if not isinstance(value, Mapping):  # data: list.items(), a bare AttributeError
                what = "{(MetricKey, seed): vector}" if name == "data" else "of provenance"
                raise ArgumentError(Param(name), f" must be a dict {what}, got {shown(value)}")
        source: object = self.source  # typed; saved as str(None) = 'None' in silence
        if not isinstance(source, str):
            raise ArgumentError(Param("source"), f" must be a str, got {shown(source)}")
        if self.curves is not None:  # 5 met an AssertionError when read, one when saved
            from nb201_flat.curves import Curves  # it imports this module

            if not isinstance(self.curves, Curves):
                raise ArgumentError(
                    Param("curves"), f" must be a Curves or None, got {shown(self.curves)}"
                )
            if self.curves.n_archs != self.space.size:  # row i was another space's cell i
                raise ArgumentError(
                    f"curves cover {self.curves.n_archs:,} architectures, the space has "
                    f"{self.space.size:,}; pass the curves of this table's space"
                )
        converted = {}
        renamed: dict[Any, tuple[MetricKey, int]] = {}
        for item, vec in _stored_items(self.data):
            key, seed = _data_key(item)
            as_given: object = seed  # typed as an int; _is_seed takes numpy's too
            if isinstance(as_given, np.integer):  # a plain int: numpy's cannot be saved (JSON)
                renamed[item] = (key, int(as_given))
            if type(vec) is not np.ndarray or vec.dtype != np.float64:
                # a pandas Series is read by its index, as every per-architecture vector is; a
                # masked array (a subclass, stored as itself) with its masked entries NaN
                vec = in_index_order(vec, self.space.size, f"vector for {key}")
                try:  # a list or an int vector: the float vector every reader expects
                    converted[item] = float_values(
                        vec, f"vector for {key}", "hold", fix=PER_ARCH_FIX
                    )
                except ArgumentError as exc:  # a file's or an importer's vector: its format
                    raise FormatError(*parts_of(exc)) from None
            elif not _frozen_through(vec):  # validate() freezes it: the caller's, not a copy
                converted[item] = vec.copy()
        if converted:  # a new dict: the caller's stays as it was
            self.data = {**self.data, **converted}
        if renamed:
            self.data = {renamed.get(i, i): v for i, v in _stored_items(self.data)}
        self.validate()
        if (wrap := _DATA_WRAPPER.get()) is not None:
            self.data = wrap(self.data)

    def validate(self) -> None:
        """Raise :class:`~nb201_flat.errors.FormatError` unless every vector is a float vector
        over the space holding finite numbers (NaN where unmeasured) and every stored mean lies
        within the range of its seeds (:func:`_mean_outside_seeds`, as :meth:`from_tidy`
        refuses), and make each vector read-only.

        The constructor's own check; :func:`~nb201_flat.storage.save_table` runs it again,
        since ``data`` is a plain dict a caller may still change (a table written with an
        infinite value could never be loaded back).
        """
        for item, vec in _stored_items(self.data):
            key, seed = _data_key(item)
            if not isinstance(vec, np.ndarray) or vec.dtype != np.float64:
                what = f"{vec.dtype} array" if isinstance(vec, np.ndarray) else type(vec).__name__
                raise FormatError(f"vector for {key} must be a float64 array, got a {what}")
            if vec.shape != (self.space.size,):
                raise FormatError(
                    f"vector for {key} has shape {vec.shape}, expected ({self.space.size},)"
                )
            # every construction passes here (from_tidy, with_vector, loads, importers,
            # Table(...) by hand): an inf would make every statistic read from it wrong
            if (why := infinite_values(key, seed, vec)) is not None:
                raise FormatError(why)
            vec.setflags(write=False)
        # from_tidy's rule for every construction: a mean outside its seeds' range was served,
        # saved and loaded, while the same table's to_tidy() could never be read back
        plain = dict(_stored_items(self.data))  # no read a wrapper (wrapping_data) notes
        seeded = {k for k, s in plain if s is not None}
        for key in sorted({k for k, s in plain if s is None} & seeded):
            cells = np.flatnonzero(~np.isnan(plain[(key, None)]))
            if (found := _mean_outside_seeds(plain, key, cells)) is not None:
                raise FormatError(
                    f"{found[1]}; store the mean over its seeds, or leave out the mean "
                    f"(key, None) of {key} to have it computed over its seeds"
                )

    # -- what is present ----------------------------------------------------------------
    def keys(self) -> list[MetricKey]:
        """Every (dataset, split, epochs, metric) present, sorted."""
        return sorted({k for k, _ in self.data})

    def seeds(self, key: MetricKey | tuple[Any, ...]) -> list[int]:
        """Stored seed numbers for ``key`` (empty when only the mean is stored; a number is an
        id or a position as the module docstring says). ``key`` as ``in`` takes it: a
        :class:`MetricKey` or ``(dataset, split, epochs[, metric])``; one the table lacks is
        an :class:`UnknownKeyError` naming the part, as :meth:`key` raises."""
        mkey = _metric_key(key, Param("key"))
        held = [s for k, s in self.data if k == mkey]  # one pass: readers call this per read
        if not held:  # a typo read as "only the mean is stored"
            self.key(mkey.dataset, mkey.split, mkey.epochs, mkey.metric)  # names the part
        return sorted(s for s in held if s is not None)

    def __contains__(self, key: object) -> bool:
        """Whether the table has ``key``: a :class:`MetricKey` or ``(dataset, split, epochs[,
        metric])`` (a tuple of another kind was silently not in it)."""
        return self._has(_metric_key(key))

    def _has(self, key: object) -> bool:
        return isinstance(key, MetricKey) and any(k == key for k, _ in self.data)

    def __len__(self) -> int:
        """The number of architectures, as a DataFrame's rows (iterating gives the keys)."""
        return self.space.size

    def __iter__(self) -> Iterator[MetricKey]:
        return iter(self.keys())

    @property
    def datasets(self) -> list[str]:
        return sorted({k.dataset for k in self.keys()})

    def info(self) -> pd.DataFrame:
        """One row per key: archs measured (non-NaN mean or any seed), seeds stored."""
        import pandas as pd

        return pd.DataFrame(self.info_records(), columns=list(INFO_COLUMNS))

    def info_records(self) -> list[dict[str, Any]]:
        """:meth:`info` as plain records (no pandas: `nb201-flat info` prints these)."""
        rows = []
        for key in self.keys():
            seeds = self.seeds(key)
            measured = np.zeros(self.space.size, dtype=bool)
            for s in [None, *seeds]:
                if (key, s) in self.data:
                    measured |= ~np.isnan(self.data[(key, s)])
            rows.append(
                {
                    "dataset": key.dataset,
                    "split": key.split,
                    "epochs": key.epochs,
                    "metric": key.metric,
                    "archs": int(measured.sum()),
                    "mean": (key, None) in self.data,
                    "seeds": ",".join(map(str, seeds)),
                }
            )
        return rows

    # -- reading --------------------------------------------------------------------------
    def key(self, dataset: str, split: str, epochs: int, metric: str = "accuracy") -> MetricKey:
        """Validate a key; an unknown part raises :class:`UnknownKeyError` listing what exists."""
        present = self.keys()
        # the package's int rule (200.0 is 200): "200" was looked up as a key and reported
        # unknown ("did you mean '200'?"), 12.5 as an epoch count the table lacks
        if whole_number(epochs) is None:
            have = ", ".join(map(str, sorted({k.epochs for k in present}))) or "none"
            check_int_range("epochs", epochs, fix=f"this table has {have}")  # raises
        epochs = int(epochs)
        for name, text in (("dataset", dataset), ("split", split), ("metric", metric)):
            if not isinstance(text, str):  # an array's `in` below raised numpy's ValueError
                raise ArgumentError(Param(name), f" must be a str, got {shown(text)}")
        levels: list[tuple[str, Any]] = [
            ("dataset", dataset),
            ("split", split),
            ("epochs", epochs),
            ("metric", metric),
        ]
        candidates = present
        chosen: list[str] = []
        for name, value in levels:
            options = sorted({getattr(k, name) for k in candidates}, key=str)
            if value not in options:
                where = f" for {', '.join(chosen)}" if chosen else ""
                from nb201_flat.conventions import CIFAR10_VALID  # imports this module

                # the hint only where this table can follow it (AnalogNAS's has no cifar10-valid):
                # else the splits it has, below
                if (
                    name == "split"
                    and dataset == "cifar10"
                    and value in ("x-valid", "valid")
                    and any(k.dataset == CIFAR10_VALID and k.split == "x-valid" for k in present)
                ):
                    raise UnknownKeyError(
                        "dataset 'cifar10' (trained on all 50k images) has no validation split; "
                        f"search on dataset {CIFAR10_VALID!r} split 'x-valid' and report "
                        "'cifar10' 'ori-test'"
                    )
                from difflib import get_close_matches  # only for this message

                close = _same_but_spelling(str(value), [str(o) for o in options]) or (
                    get_close_matches(str(value), [str(o) for o in options], n=1)
                )
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UnknownKeyError(
                    f"unknown {name} {value!r}{where}{hint}; this table has "
                    f"{', '.join(map(str, options))} (see ",
                    Call("Table.info"),
                    ")",
                )
            candidates = [k for k in candidates if getattr(k, name) == value]
            chosen.append(f"{name}={value}")
        return candidates[0]

    def vector(
        self,
        dataset: str,
        split: str,
        epochs: int,
        metric: str = "accuracy",
        *,
        seed_policy: SeedPolicy | None = None,
        rng: Seed | None = None,
        seed: SeedPolicy | None = None,
    ) -> FloatArray:
        """The metric over every architecture (read-only array, NaN where missing).

        Parameters
        ----------
        seed_policy
            Which stored training seed(s) to read (``seed=`` is its deprecated old name):
            ``"mean"`` (default): the stored mean over seeds (or the mean of the stored seeds when the
            table has no mean row); ``int``: that stored seed; ``"random"``: for each
            architecture one of its stored seeds, uniformly, drawn from ``rng``.
        rng
            Generator (or int seed) for ``seed_policy="random"``; required there, so that draws are
            reproducible.
        """
        key = self.key(dataset, split, epochs, metric)
        return self.vector_for(key, seed_policy=seed_policy_of(seed_policy, seed), rng=rng)

    def vector_for(
        self,
        key: MetricKey | tuple[Any, ...],
        *,
        seed_policy: SeedPolicy | None = None,
        rng: Seed | None = None,
        seed: SeedPolicy | None = None,
    ) -> FloatArray:
        """:meth:`vector` for a validated :class:`MetricKey` (or its tuple, as ``in`` takes it)."""
        seed = seed_policy_of(seed_policy, seed)
        if isinstance(key, tuple):  # `in` found it: "not a key of this table" was wrong
            key = _metric_key(key, Param("key"))
        if not self._has(key):  # else an empty stack: a raw numpy error
            raise UnknownKeyError(
                f"{key if isinstance(key, MetricKey) else shown(key)} is not a key of this "
                "table; its keys: "
                f"{', '.join(map(str, self.keys()[:8]))}{' ...' if len(self.keys()) > 8 else ''} "
                "(table.key(dataset, split, epochs, metric) validates one)"
            )
        seeds = self.seeds(key)
        # a policy, and an int seed the key stores: first, so that a misspelt "Random" is
        # named as such, not met by "rng= applies only with seed_policy='random'"
        picked = policy_seeds(key, seed, seeds, fix=_MEAN_FIX)
        if rng is not None and seed != "random":  # as the CLI's --rng-seed
            raise ArgumentError(
                f"rng= applies only with seed_policy='random', not {seed!r}; drop rng="
            )
        if seed == "mean":
            if (key, None) in self.data:
                return self.data[(key, None)]
            out = _mean_over_seeds(np.stack([self.data[(key, s)] for s in seeds]))
            out.setflags(write=False)
            return out
        if seed == "random":
            if rng is None:
                raise ArgumentError(
                    "seed_policy='random' needs rng= (an int or numpy Generator) so the draw is "
                    "reproducible"
                )
            if not seeds:
                raise _no_seeds_to_draw(key)
            stack = np.stack([self.data[(key, s)] for s in seeds])
            present = ~np.isnan(stack)
            counts = present.sum(axis=0)
            gen = as_rng(rng)
            pick = np.floor(gen.random(self.space.size) * np.maximum(counts, 1)).astype(np.int64)
            # the pick-th present seed of each architecture
            rank = np.cumsum(present, axis=0) - 1
            hit = present & (rank == pick[None, :])
            out = np.full(self.space.size, np.nan)
            cols = np.nonzero(hit.any(axis=0))[0]
            out[cols] = stack[hit.argmax(axis=0)[cols], cols]
            out.setflags(write=False)
            return out
        return self.data[(key, picked[0])]  # an int seed, stored (policy_seeds)

    def value(
        self,
        arch: Arch | str | int,
        dataset: str,
        split: str,
        epochs: int,
        metric: str = "accuracy",
        *,
        seed_policy: SeedPolicy | None = None,
        rng: Seed | None = None,
        seed: SeedPolicy | None = None,
    ) -> float:
        """One value, free of any budget (:class:`MissingValueError` if it was never measured).

        For whole-space work use :meth:`vector` (NaN where missing); a search asks the
        budgeted :class:`~nb201_flat.search.Oracle` instead. Under ``seed_policy="random"``
        it is one draw from ``rng`` among the seeds that measured this cell: not the entry
        ``vector(..., rng=rng)`` holds for it, which comes from one draw per architecture.
        """
        seed = seed_policy_of(seed_policy, seed)
        a = self.space.resolve(arch)
        key = self.key(dataset, split, epochs, metric)
        if seed == "random":
            return float(self.data[(key, self._random_seed(a, key, rng))][a.index])
        out = float(self.vector_for(key, seed_policy=seed, rng=rng)[a.index])
        if np.isnan(out):  # NaN means "never measured": an error here, never a printed nan
            raise self._unmeasured(a, key, seed)
        return out

    def random_seed(
        self,
        arch: Arch | str | int,
        dataset: str,
        split: str,
        epochs: int,
        metric: str = "accuracy",
        *,
        rng: Seed | None,
    ) -> int:
        """The stored seed whose value :meth:`value` serves under ``seed_policy="random"`` with
        ``rng``: one draw among the seeds that measured this cell (a fresh generator from the
        same int draws the same seed)."""
        return self._random_seed(
            self.space.resolve(arch), self.key(dataset, split, epochs, metric), rng
        )

    def _random_seed(self, a: Arch, key: MetricKey, rng: Seed | None) -> int:
        if not self.seeds(key):
            # a policy the key cannot serve is an error, never a NaN (as in vector_for)
            raise _no_seeds_to_draw(key)
        if rng is None:
            raise ArgumentError(
                "seed policy 'random' needs rng= (an int or numpy Generator) so the draw "
                "is reproducible"
            )
        seeds = [s for s in self.seeds(key) if not np.isnan(self.data[(key, s)][a.index])]
        if not seeds:
            raise self._unmeasured(a, key, "random")
        return seeds[int(as_rng(rng).integers(len(seeds)))]

    def _unmeasured(self, a: Arch, key: MetricKey, policy: SeedPolicy) -> MissingValueError:
        """The error for a value never measured, naming what the table can serve instead."""
        i = a.index
        with_value = [s for s in self.seeds(key) if not np.isnan(self.data[(key, s)][i])]
        if policy == "mean":
            measured = int(np.count_nonzero(~np.isnan(self.vector_for(key))))
        else:  # counted under the policy asked for: the seed, or any seed for "random"
            seeds = self.seeds(key) if policy == "random" else [int(policy)]
            present = [~np.isnan(self.data[(key, s)]) for s in seeds]
            measured = int(np.count_nonzero(np.logical_or.reduce(present))) if present else 0
        fixes: list[Param] = []
        # the mean served for it under another policy: a stored mean row may hold a cell that
        # no stored seed does (its other keys were named instead, as if this one lacked it)
        mean_served = policy != "mean" and not np.isnan(self.vector_for(key)[i])
        if with_value:
            serves = f"stored seeds with a value for it: {', '.join(map(str, with_value))}"
            # the fix as a policy the caller spells (a command line: its flag): a seed that
            # measured it (and, below, the mean where one is served for it)
            fixes.append(Param("seed_policy", with_value[0]))
        elif mean_served:
            serves = (
                f"no stored seed ({', '.join(map(str, self.seeds(key)))}) measures it, but its "
                "stored mean over seeds does"
            )
        else:
            others = [str(k) for k in self.keys() if not np.isnan(self.vector_for(k)[i])]
            shown = ", ".join(others[:3]) + (
                f" and {len(others) - 3} more" if len(others) > 3 else ""
            )
            serves = (
                f"keys that measure it: {shown}" if others else "no key of this table measures it"
            )
        if mean_served:
            fixes.append(Param("seed_policy", "mean"))
        return MissingValueError(
            f"architecture {i} was never measured for {key} (seed policy {policy!r}; "
            f"{measured} of {self.space.size} architectures are); {serves}",
            *(("; pass ", *joined(fixes, " or ")) if fixes else ()),
        )

    def query(self, *args: Any, **kwargs: Any) -> float:
        """Deprecated name of :meth:`value` ("query" means the budgeted oracle only)."""
        warnings.warn(
            "Table.query is now Table.value (query means the budgeted search oracle)",
            DeprecationWarning,
            stacklevel=2,
        )
        if "seed" in kwargs:  # its own warning names the caller too, not this line
            kwargs["seed_policy"] = renamed_seed(kwargs.get("seed_policy"), kwargs.pop("seed"))
        return self.value(*args, **kwargs)

    def record(self, arch: Arch | str | int) -> dict[str, Any]:
        """Every value of one architecture that seed policy ``"mean"`` serves (a stored mean,
        or a key's one stored value) as a flat record (like ``get_more_info``).

        Keys the architecture was never measured on are left out (no NaN stands for a value).
        """
        a = self.space.resolve(arch)
        out: dict[str, Any] = {"index": a.index, "arch": a.to_str()}
        for key in self.keys():
            v = float(self.vector_for(key)[a.index])
            if not np.isnan(v):
                out[str(key)] = v
        return out

    def frame(
        self,
        keys: Iterable[MetricKey] | None = None,
        *,
        seed_policy: SeedPolicy | None = None,
        rng: Seed | None = None,
        seed: SeedPolicy | None = None,
    ) -> pd.DataFrame:
        """Wide DataFrame, one row per architecture, one column per key (mean by default);
        each key as ``in`` takes it (a :class:`MetricKey` or ``(dataset, split, epochs[,
        metric])``); ``seed_policy`` and ``rng`` as in :meth:`vector` (one generator for every
        column)."""
        import pandas as pd

        policy = seed_policy_of(seed_policy, seed)
        # list("cifar10") would be seven one-letter keys, one key tuple its four parts
        one_key = isinstance(keys, tuple) and bool(keys) and isinstance(keys[0], str)
        if isinstance(keys, str | MetricKey) or one_key:
            raise ArgumentError(f"keys must be a list of MetricKeys, got {keys!r}; pass [key]")
        if keys is not None and not isinstance(keys, Iterable):  # list(3): a bare TypeError
            raise ArgumentError(Param("keys"), f" must be a list of MetricKeys, got {shown(keys)}")
        # a tuple key was "not a key of this table" although `in` found it
        chosen = [_metric_key(k, Param("keys")) for k in keys] if keys is not None else self.keys()
        gen = as_rng(rng) if rng is not None else None
        cols = {str(k): self.vector_for(k, seed_policy=policy, rng=gen) for k in chosen}
        df = pd.DataFrame(cols, index=pd.RangeIndex(self.space.size, name="index"))
        df.insert(0, "arch", self.space.strings())
        return df

    # -- tidy interchange -------------------------------------------------------------------
    def to_tidy(self, *, dropna: bool = True) -> pd.DataFrame:
        """The tidy long format, one row per value (its columns: ``nb201-flat import --help``).

        A table that names its space key (``meta["space_key"]``, a retraining database's: the
        network size and training mode) writes it in a ``space`` column, which
        :meth:`from_tidy` reads back: without it the analytic costs of the table read back
        would describe NB201's full-size network (:func:`~nb201_flat.costs.network_size`). A
        table over another space than NB201's with no key writes its space's key, so that the
        file names the space its cell strings belong to.
        A table that records stand-in cells (:func:`stand_ins`) writes them in the
        :data:`STAND_IN_COLUMNS`; a stand-in whose rows ``dropna`` would drop (its values are
        missing) keeps one row of value NaN, so that :meth:`from_tidy` reads every one back.
        ``dropna`` keeps a stored mean's NaN where a seed of its key holds a value too (the
        official APIs serve no mean where a run lacks the value): without the row, the mean
        read back would be that of the seeds present.

        Raises
        ------
        FormatError
            ``meta["isomorphic_to"]`` or ``meta["constant_output"]`` names a run (dataset,
            schedule, seed) of which the table stores no vector, or two cells copied into one
            run: no row could carry it.
        """
        import pandas as pd

        dropna = check_flag("dropna", dropna)
        space_key = self.meta.get("space_key")
        if space_key is None and self.space != NB201:
            # another space's cell strings are no NB201 cells: the file read back without its
            # key was refused as malformed (the key of the space at NB201's network size;
            # none where op names holding ':', ',', '@' or '#' make a key that reads back
            # as another space: such a file is read with read_tidy(..., space=))
            from nb201_flat.importers.results_db import space_from_key
            from nb201_flat.train.jobs import space_key as key_of

            own = key_of(self.space)
            try:
                space_key = own if space_from_key(own) == self.space else None
            except (FormatError, ArgumentError):
                space_key = None
        extra = {} if space_key is None else {"space": str(space_key)}
        strings = np.asarray(self.space.strings(), dtype=object)
        items = sorted(
            self.data.items(), key=lambda kv: (kv[0][0], -1 if kv[0][1] is None else kv[0][1])
        )
        measured: dict[MetricKey, npt.NDArray[np.bool_]] = {}  # cells any seed of a key holds
        for (key, s), vec in items:
            if s is not None:
                held = ~np.isnan(vec)
                measured[key] = held if key not in measured else measured[key] | held
        rows: dict[tuple[MetricKey, int | None], npt.NDArray[np.intp]] = {}
        for (key, s), vec in items:
            if not dropna:
                rows[key, s] = np.arange(self.space.size)
                continue
            kept = ~np.isnan(vec)
            if s is None and key in measured:  # a mean the table refuses where seeds hold values
                kept |= measured[key]
            rows[key, s] = np.nonzero(kept)[0]
        stand = _stand_in_rows(self, rows)
        parts = []
        for (key, s), vec in items:
            idx = rows[(key, s)]
            columns: dict[str, Any] = {}
            if stand is not None:
                constant, copies = stand
                run = (key.dataset, key.epochs, s)
                copied = np.full(self.space.size, -1, dtype=np.int64)
                for cell, source in copies.get(run, {}).items():
                    copied[cell] = source
                copied_from = pd.array(copied[idx], dtype="Int64")
                copied_from[copied[idx] < 0] = pd.NA
                # per run: a cell at chance on one seed may be trained on another
                flags = np.isin(idx, np.array(sorted(constant[run]), dtype=np.int64))
                columns = {"constant_output": flags, "copied_from": copied_from}
            parts.append(
                pd.DataFrame(
                    {
                        "index": idx.astype(np.int64),
                        "arch": strings[idx],
                        "dataset": key.dataset,
                        "split": key.split,
                        "epochs": np.int64(key.epochs),
                        "seed": pd.array([s] * len(idx), dtype="Int64"),
                        "metric": key.metric,
                        "value": vec[idx],
                        **extra,
                        **columns,
                    }
                )
            )
        if not parts:
            named = (*TIDY_COLUMNS, *extra, *(STAND_IN_COLUMNS if stand is not None else ()))
            return pd.DataFrame({c: [] for c in named})
        return pd.concat(parts, ignore_index=True)

    @classmethod
    def from_tidy(
        cls,
        df: pd.DataFrame,
        *,
        space: Space | None = None,
        source: str = "tidy",
        meta: Mapping[str, Any] | None = None,
        check_arch: bool = True,
        rows: Callable[[int], str] | None = None,
    ) -> Table:
        """Build a table from the tidy long format.

        ``index`` locates each row; an ``arch`` column, when present and ``check_arch`` is
        True, must name the same cell as ``index`` (catches files indexed in another order).
        Without ``index``, rows are located by ``arch`` (:func:`check_arch_column`). A
        ``space`` column (:meth:`to_tidy` writes it) holds the table's space key, one for
        every row: it goes to ``meta["space_key"]`` and names the space when ``space`` is
        None (else NB201); a key naming another space than ``space`` is an error. The
        :data:`STAND_IN_COLUMNS` go to ``meta["constant_output"]`` and ``meta["isomorphic_to"]``
        (:func:`~nb201_flat.importers.tidy.tidy_stand_ins`). Duplicate rows for one
        (key, seed, arch) are an error, not silently averaged, and so is a mean row outside
        the range of its cell's seed rows by more than rounding
        (:func:`_check_means_within_seeds`). No cell is coerced: an index,
        epoch count or seed that is not an integer in range, an empty key cell, a value that
        is not a number, or a frame without rows is a :class:`FormatError` naming the row,
        column and value (:func:`~nb201_flat.importers.tidy.check_tidy_frame`). ``rows``
        names the 0-based row ``i`` of ``df`` in the message of two rows for one value (a
        file's ``row 3 (line 4)``; default ``row 3``).
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):  # `c not in df` raised a bare TypeError
            raise ArgumentError(Param("df"), f" must be a pandas DataFrame, got {shown(df)}")
        if space is not None:
            check_space(space)
        if meta is not None and not isinstance(meta, Mapping):
            raise ArgumentError(Param("meta"), f" must be a mapping (a dict), got {shown(meta)}")
        check_arch = check_flag("check_arch", check_arch)
        if rows is not None and not callable(rows):  # called only on two rows for one value
            raise ArgumentError(
                Param("rows"), f" must name a row (a function of its number), got {shown(rows)}"
            )
        missing = [c for c in ("dataset", "split", "epochs", "metric", "value") if c not in df]
        if missing or ("index" not in df and "arch" not in df):
            raise FormatError(
                f"tidy table lacks column(s) {missing or ['index or arch']}; expected columns "
                f"{', '.join(TIDY_COLUMNS)} ({TIDY_HELP})"
            )
        from nb201_flat.importers.tidy import (
            check_tidy_frame,
            frame_bad,
            tidy_seeds,
            tidy_space,
            tidy_stand_ins,
        )

        label = f"tidy table {source!r}"
        check_tidy_columns(df.columns, label)
        space, meta = tidy_space(df, space, meta, label)
        # the casts below would coerce 1.5 to 1, -1 to the mean row, 1e30 to int64 min
        df = check_tidy_frame(df, size=space.size, source=label)
        index: npt.NDArray[np.int64] | None = None
        if "index" in df:  # every value a cell of the space: check_tidy_frame refused others
            index = pd.to_numeric(df["index"]).to_numpy(dtype=np.int64)
        if index is None or (check_arch and "arch" in df):
            frame = df

            def bad(row: int, value: object, why: str) -> FormatError:
                return frame_bad(label, frame, row, "arch", value, why)

            index = check_arch_column(df["arch"], space, bad, index=index)
        meta = tidy_stand_ins(df, index, meta, label, space)  # to_tidy's STAND_IN_COLUMNS
        seed_ids = tidy_seeds(df)  # -1: the mean; never through a float (2**53 + 1 as 2**53)
        try:
            epochs = pd.to_numeric(df["epochs"], errors="raise").astype(np.int64)
            values = pd.to_numeric(df["value"], errors="raise").astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise FormatError(f"tidy table has non-numeric epochs or value: {exc}") from None
        # grouped on integer codes: astype(str) made a Python string of each of NB201's 587,720
        # rows and grouped on them (0.4 s of an import); codes ranked by name keep the order
        dataset_names, dataset_codes = _sorted_codes(df["dataset"])
        split_names, split_codes = _sorted_codes(df["split"])
        metric_names, metric_codes = _sorted_codes(df["metric"])
        work = pd.DataFrame(
            {
                "i": index,
                "dataset": dataset_codes,
                "split": split_codes,
                "epochs": epochs.to_numpy(),
                "metric": metric_codes,
                "seed": seed_ids,
                "value": values.to_numpy(),
            }
        )
        data: dict[tuple[MetricKey, int | None], FloatArray] = {}
        mean_rows: dict[MetricKey, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        name = rows or (lambda i: f"row {i + 1}")
        group_cols = ["dataset", "split", "epochs", "metric", "seed"]
        for group, g in work.groupby(group_cols, sort=True):
            d, sp, ep, me, sd = (int(cast(int, x)) for x in group)
            key = MetricKey(dataset_names[d], split_names[sp], ep, metric_names[me])
            ii = g["i"].to_numpy()
            if len(np.unique(ii)) != len(ii):
                again = pd.Series(ii).duplicated().to_numpy()
                second = int(np.flatnonzero(again)[0])
                first = int(np.flatnonzero(ii == ii[second])[0])
                pos = g.index.to_numpy()  # work's rows are df's, in order
                raise FormatError(
                    f"{label}: {name(int(pos[first]))} and {name(int(pos[second]))} both hold "
                    f"a value for index {int(ii[second])} at {key} "
                    f"{'mean over seeds' if sd < 0 else f'seed {sd}'}; keep one row each"
                )
            vec = np.full(space.size, np.nan)
            vec[ii] = g["value"].to_numpy()
            data[(key, None if sd < 0 else sd)] = vec
            if sd < 0:
                mean_rows[key] = (ii, g.index.to_numpy())
        _check_means_within_seeds(data, mean_rows, label, name)
        return cls(space, data, source=source, meta=meta)

    def with_vector(
        self, key: MetricKey, values: npt.ArrayLike, *, seed: int | None = None
    ) -> Table:
        """A new table with one more (or one replaced) vector; this one is unchanged.

        ``seed`` is None for the mean over seeds, else the seed's number (an int >= 0: its id
        or position, as the module docstring says);
        ``values`` are numbers over the space, NaN where not measured (never infinite).
        The new table keeps this one's meta, less its import command (:func:`derived_meta`):
        no import rebuilds the vector added.
        """
        if not isinstance(key, MetricKey):
            raise ArgumentError(
                f"key must be a MetricKey, got {type(key).__name__}; pass e.g. "
                "MetricKey('cifar10', 'ori-test', 200)"
            )
        if seed is not None and not _is_seed(seed):
            raise ArgumentError(
                f"seed must be None (the mean) or a seed number in 0..{INT64_MAX}, got "
                f"{shown(seed)}"
            )
        values = in_index_order(values, self.space.size)  # a Series: by its index
        vec = float_values(values, f"values for {key}", fix=PER_ARCH_FIX)
        seed = None if seed is None else int(seed)
        if (why := infinite_values(key, seed, vec)) is not None:  # the constructor's rule
            raise ArgumentError(why)
        data = dict(self.data)
        data[(key, seed)] = vec
        if (key, None) in data:  # a stored mean this vector leaves stale, or a wrong new one
            cells = np.flatnonzero(~np.isnan(data[(key, None)]))
            found = _mean_outside_seeds(data, key, cells)
            why = found[1] if found is not None else None
            if why is None:  # within the range, but not its seeds' mean
                why = _mean_off_its_seeds(self.data, data, key, cells, new_mean=seed is None)
            if why is not None and seed is None:  # served by seed_policy="mean" as the mean
                raise ArgumentError(
                    f"with this vector as the mean, {why}: a stored mean is the mean of the "
                    "seeds stored beside it; pass their mean, or build the table whole "
                    "(Table(space, {**table.data, (key, None): values})) for a mean over seeds "
                    "it does not store"
                )
            if why is not None:  # stale: served by seed_policy="mean" as it was
                raise ArgumentError(
                    f"with this vector, {why}: the stored mean would be stale; build the "
                    "table with its new mean too (Table(space, {**table.data, (key, seed): "
                    "values, (key, None): mean})), or without the mean row"
                )
        meta = derived_meta(self.meta)
        return Table(self.space, data, source=self.source, meta=meta, curves=self.curves)

    def __repr__(self) -> str:
        # "15625 archs" for a retraining table of one trained cell read as 15625 measured
        measured = np.zeros(self.space.size, dtype=bool)
        for _, vec in _stored_items(self.data):
            measured |= ~np.isnan(vec)
        keys = self.keys()
        return (
            f"<Table {self.source!r}: {int(measured.sum())} of {self.space.size} archs "
            f"measured, {len(keys)} keys over {', '.join(self.datasets) or 'no datasets'}>"
        )


def _sorted_codes(col: pd.Series) -> tuple[list[str], npt.NDArray[np.intp]]:
    """A tidy key column's distinct names, sorted, and each row's position among them: its
    rows grouped by these codes are grouped by name, in the names' order, whether the column
    is text (object or string dtype) or categorical (a reader's, its categories in order of
    appearance). Every cell is a name: :func:`~nb201_flat.importers.tidy.check_tidy_frame`
    refused empty ones.

    >>> import pandas as pd
    >>> column = pd.Series(pd.Categorical(["b", "a", "b"], categories=["b", "a"]))
    >>> names, codes = _sorted_codes(column)
    >>> names, codes.tolist()
    (['a', 'b'], [1, 0, 1])
    """
    # a few names over many rows; a category no row uses may be anything (a frame's leftover)
    cells = col.astype("category").cat.remove_unused_categories()
    names, rank = np.unique(cells.cat.categories.to_numpy(dtype=object), return_inverse=True)
    return [str(x) for x in names], rank[cells.cat.codes.to_numpy()]


# a mean row may be printed rounded (93.4 for seeds averaging 93.3667, 5710 for 5709.56 s): it
# may pass the range of its seeds by this much before it contradicts them
_MEAN_SLACK_ABS = 0.05
_MEAN_SLACK_REL = 1e-3
# a mean computed in another order, or of seeds rewritten as the same numbers (through float32
# too: 5e-7 on a mean of 73), misses its seeds' mean by rounding below this, relative to the
# mean; a seed moved by 0.001 moves a three-seed mean of 73 by 4.5e-6 of it
_MEAN_NOISE_REL = 1e-6


def _check_means_within_seeds(
    data: Mapping[tuple[MetricKey, int | None], FloatArray],
    mean_rows: Mapping[MetricKey, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    label: str,
    name: Callable[[int], str],
) -> None:
    """Refuse a tidy frame's mean row outside the range of its cell's seed rows (10 for seeds
    90 and 92): it contradicts them, and was taken as written. ``mean_rows``: per key, the
    cells that have a mean row and those rows' positions (named by ``name``).

    A cell without a mean row, on a key whose other cells have one, stays without a mean, as
    in the official files, where the mean is stored only when every seed has the value: its
    seeds are served by a seed policy (:meth:`Table.vector` computes a mean over seeds only
    for a key of no mean row at all).
    """
    for key, (cells, positions) in mean_rows.items():
        found = _mean_outside_seeds(data, key, cells)
        if found is not None:
            at, said = found
            raise FormatError(
                f"{label}: {name(int(positions[at]))}: {said}; fix the row, or drop the mean "
                f"rows of {key} to have each mean computed over its seeds"
            )


def _mean_outside_seeds(
    data: Mapping[tuple[MetricKey, int | None], FloatArray],
    key: MetricKey,
    cells: npt.NDArray[np.int64],
) -> tuple[int, str] | None:
    """The first of ``cells`` whose stored mean of ``key`` lies outside the range of its
    stored seeds (beyond rounding slack), as its position in ``cells`` and the words that
    say so; None where every one lies within (or the key stores no seed)."""
    seeds = sorted(s for (k, s) in data if k == key and s is not None)
    if not seeds:
        return None
    stack = np.stack([data[(key, s)][cells] for s in seeds])
    measured = ~np.isnan(stack)
    low = np.where(measured, stack, np.inf).min(axis=0)
    high = np.where(measured, stack, -np.inf).max(axis=0)
    mean = data[(key, None)][cells]
    slack = _MEAN_SLACK_ABS + _MEAN_SLACK_REL * np.abs(mean)
    outside = (mean < low - slack) | (mean > high + slack)  # a NaN mean row: False
    outside &= measured.any(axis=0)
    if not outside.any():
        return None
    at = int(np.flatnonzero(outside)[0])
    have = [s for s, m in zip(seeds, measured[:, at], strict=True) if m]
    return at, (
        f"the mean over seeds of index {int(cells[at])} at {key} is {float(mean[at])!r}, "
        f"outside its seed rows ({float(low[at])!r}..{float(high[at])!r}, seeds "
        f"{', '.join(map(str, have))})"
    )


def _seed_means(
    data: Mapping[tuple[MetricKey, int | None], FloatArray],
    key: MetricKey,
    cells: npt.NDArray[np.int64],
) -> FloatArray:
    """The mean over the stored seeds of ``key`` at ``cells`` (NaN where none is measured)."""
    seeds = [s for (k, s) in data if k == key and s is not None]
    if not seeds:
        return np.full(len(cells), np.nan)
    return _mean_over_seeds(np.stack([data[(key, s)][cells] for s in seeds]))


def _mean_over_seeds(stack: FloatArray) -> FloatArray:
    """Each column's mean over the seeds stacked in ``stack`` (one row a seed), NaN left out
    and NaN where none is measured: numpy's ``nanmean``, bit for bit, except where its sum
    overflows. There (two seeds near 1e308: the mean was served as inf) it is taken again on
    the values scaled by a power of two, exact, so small that the sum cannot overflow; a mean
    lies within its seeds, so scaled back it is finite.

    >>> float(_mean_over_seeds(np.array([[1e308, np.nan], [1e308, np.nan]]))[0])
    1e+308
    """
    with warnings.catch_warnings():  # all-NaN columns legitimately give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        out: FloatArray = np.nanmean(stack, axis=0)
        over = np.isinf(out)  # every stored value is finite (validate): an overflowed sum
        if over.any():
            scale = 0.5 ** math.ceil(math.log2(len(stack)))  # n values of 1/n the largest
            out[over] = np.nanmean(stack[:, over] * scale, axis=0) / scale
    return out


def _mean_off_its_seeds(
    old: Mapping[tuple[MetricKey, int | None], FloatArray],
    new: Mapping[tuple[MetricKey, int | None], FloatArray],
    key: MetricKey,
    cells: npt.NDArray[np.int64],
    *,
    new_mean: bool,
) -> str | None:
    """Words naming the first of ``cells`` whose stored mean of ``key`` in ``new`` misses the
    mean of its stored seeds by more than it may, else None (the range check alone let a
    mean within its seeds' range be served stale, or a seed's values stand as the mean).

    The one rule: a mean may miss its seeds' mean by the rounding it shows. A new mean row
    (``new_mean``), or a kept one at a cell no seed measured before: the rounding slack (93.4
    for seeds averaging 93.3667). A kept one, once a seed is added or replaced: by what it
    missed by before (an exact mean stays exact, a rounded one within its rounding; the slack
    let a seed move by 0.35 under NB201's six-decimal mean). A kept mean that was not its
    seeds' mean before (over seeds the table lacks) is left to the range check."""
    mean = new[(key, None)][cells]
    slack = _MEAN_SLACK_ABS + _MEAN_SLACK_REL * np.abs(mean)
    before, after = _seed_means(old, key, cells), _seed_means(new, key, cells)
    allowed = slack
    if not new_mean:
        missed = np.abs(mean - before)
        kept = np.where(missed > slack, np.inf, missed + _MEAN_NOISE_REL * np.abs(mean))
        allowed = np.where(np.isnan(missed), slack, kept)
    off = np.abs(mean - after) > allowed  # NaN after (no seed measured): False
    if not off.any():
        return None
    at = int(np.flatnonzero(off)[0])
    m, b, a = float(mean[at]), float(before[at]), float(after[at])
    head = f"the mean over seeds of index {int(cells[at])} at {key} is {m!r}"
    if new_mean or np.isnan(b):
        return f"{head}, not its seed rows' mean {a!r} within rounding"
    return (
        f"{head}: its seed rows' mean was {b!r} before (off by {abs(m - b):.3g}), "
        f"{a!r} after (off by {abs(m - a):.3g})"
    )


def derived_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The ``meta`` of a table derived from one of ``meta`` (a vector added, tables merged):
    a copy without what describes the stored table alone: its ``import_command``, which
    rebuilds the source table (a damaged derived table's rebuild hint named it, and the
    rebuild lost every derived vector), and the folder it was loaded from with its
    ``table.parquet`` sha256 (a report of the derived numbers named the stored table's digest).

    >>> derived_meta({"file": "/d/s.csv", "import_command": "nb201-flat import /d/s.csv ...",
    ...               "path": "/t", "sha256": "60fba73f"})
    {'file': '/d/s.csv'}
    """
    return {k: v for k, v in meta.items() if k not in _STORED_ONLY}


#: the meta a table gets from its stored folder (storage's load), no derived table's
_STORED_ONLY = ("import_command", "path", "sha256")


def _frozen_through(vec: np.ndarray) -> bool:
    """Whether no one can write ``vec``'s numbers: neither it nor any array it views is
    writeable (a read-only view of a writeable array, as pandas 3's ``to_numpy()`` gives,
    changed when its frame did; a file's or arrow's buffer beneath is immutable)."""
    base: object = vec
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return True


def stand_ins(table: Table) -> tuple[set[int], dict[int, list[dict[str, Any]]]] | None:
    """Cells of a retraining table whose numbers are not their own measurements.

    ``(constant, copies)``: the disconnected cells recorded at chance without training on
    some run (``meta["constant_output"]``; :func:`constant_runs` says on which), and per cell
    not trained because an isomorphic one was, the ``meta["isomorphic_to"]`` records naming
    that cell (``copied_from``), as :func:`read_isomorphic_to` reads them. ``None`` for a
    table that records neither (a benchmark's own numbers); ``(set(), {})`` for a retraining
    table whose every cell was trained.
    """
    if not _keeps_stand_in_records(table):
        return None
    copies_by_run(table)  # two sources of a cell in one run are refused, as everywhere
    copies: dict[int, list[dict[str, Any]]] = {}
    # the records as read, not as stored: "200" for 200 was a copy to flatness, none to query
    for rec in read_isomorphic_to(table.meta.get("isomorphic_to"), table.space.size):
        copies.setdefault(rec["index"], []).append(rec)
    return constant_cells(table), copies


def records_stand_ins(table: Table) -> bool:
    """Whether ``table`` records a stand-in cell (a constant-output cell or an isomorphic copy,
    as :func:`stand_ins` reads them); a benchmark's own numbers record none, and nor does a
    retraining table whose every cell was trained (its meta holds empty records: merging it
    was refused as one of stand-ins)."""
    found = stand_ins(table)
    return found is not None and bool(found[0] or found[1])


def _keeps_stand_in_records(table: Table) -> bool:
    """Whether ``table``'s meta holds stand-in records, perhaps empty ones (a retraining
    table's: a results database's import keeps both, as :meth:`Table.to_tidy` writes them)."""
    return "constant_output" in table.meta or "isomorphic_to" in table.meta


def constant_runs(table: Table) -> tuple[set[int], dict[_Run, set[int]]]:
    """``(every_run, by_run)``: the constant-output cells ``meta["constant_output"]`` records.

    A run (dataset, schedule, seed) is recorded at chance for a cell only where it was not
    trained: the same cell may be trained on another seed or schedule (``train
    --train-disconnected``). ``meta["constant_output"]`` holds one record per such run,
    ``{"dataset", "epochs", "seed", "index"}`` (``by_run``); a bare cell index, as tables
    saved before the records were hold, means every run of that cell (``every_run``), as it
    did then. Anything else is a :class:`FormatError`.
    """
    return read_constant_output(table.meta.get("constant_output"), table.space.size)


def read_constant_output(
    given: object, size: int | None = None
) -> tuple[set[int], dict[_Run, set[int]]]:
    """:func:`constant_runs` of a ``meta["constant_output"]`` value ``given``, its cells
    those of a space of ``size`` cells (None: any cell index)."""
    every: set[int] = set()
    by_run: dict[_Run, set[int]] = {}
    try:
        for rec in _records(given):
            if isinstance(rec, Mapping):
                by_run.setdefault(_record_run(rec), set()).add(_record_cell(rec["index"], size))
            else:  # int() read "3" as a cell, and 1.9 as cell 1
                every.add(_record_cell(rec, size))
    except (KeyError, TypeError, ValueError):
        raise FormatError(
            f"meta['constant_output'] holds {shown(given, 100)}, not cell indices or "
            "records of dataset, epochs, seed and index; fix or drop it"
        ) from None
    return every, by_run


def constant_cells(table: Table) -> set[int]:
    """The cells ``meta["constant_output"]`` records at chance on some run (any dataset,
    schedule and seed; :func:`constant_runs` per run), or :class:`FormatError`."""
    every, by_run = constant_runs(table)
    return every.union(*by_run.values())


def constant_at(
    table: Table, dataset: str, epochs: int, seeds: Iterable[int | None] | None = None
) -> set[int]:
    """The cells recorded at chance on a run of ``dataset`` at ``epochs`` of one of ``seeds``
    (None: of any seed, as a value averaged over them all reads it), and the cells of the old
    flat list (every run)."""
    every, by_run = constant_runs(table)
    wanted = None if seeds is None else set(seeds)
    out = set(every)
    for (ds, ep, seed), cells in by_run.items():
        if (ds, ep) == (dataset, epochs) and (wanted is None or seed in wanted):
            out |= cells
    return out


_Run = tuple[str, int, int | None]
"""A retraining run's (dataset, schedule, seed) as ``meta["isomorphic_to"]`` records it."""


def copies_by_run(table: Table) -> dict[_Run, dict[int, int]]:
    """Per retraining run (dataset, schedule, seed), the cells ``meta["isomorphic_to"]``
    copies into it, each with the one cell it copies. Refuses what :func:`read_isomorphic_to`
    refuses, and a cell given two sources in one run (a run holds one cell's values; on
    other seeds a cell may copy others)."""
    copies: dict[_Run, dict[int, int]] = {}
    for rec in read_isomorphic_to(table.meta.get("isomorphic_to"), table.space.size):
        run = (rec["dataset"], rec["epochs"], rec["seed"])
        cell, source = rec["index"], rec["copied_from"]
        if copies.setdefault(run, {}).setdefault(cell, source) != source:
            raise FormatError(
                f"meta['isomorphic_to'] copies both cell {copies[run][cell]} and cell "
                f"{source} into cell {cell} at {_run_text(run)}; keep one record"
            )
    return copies


def copies_at(table: Table, dataset: str, epochs: int) -> dict[int | None, dict[int, int]]:
    """Per seed of the runs of ``dataset`` at ``epochs`` (None: a stored mean's run), the cells
    ``meta["isomorphic_to"]`` copies into it, each with the cell it copies
    (:func:`copies_by_run` of one schedule)."""
    return {
        seed: of_run
        for (ds, ep, seed), of_run in copies_by_run(table).items()
        if (ds, ep) == (dataset, epochs)
    }


def read_isomorphic_to(given: object, size: int | None = None) -> list[dict[str, Any]]:
    """The records of a ``meta["isomorphic_to"]`` value ``given`` (a list of them), each as
    ``{"dataset": str, "epochs": int, "seed": int or None (a stored mean's run), "index":
    int, "copied_from": int}``, the cells those of a space of ``size`` cells (None: any): the
    one reading of those records. Anything else is a :class:`FormatError` in one line: a
    value that is no list (``5`` met a bare TypeError), a record lacking a field, text or a
    fraction where a number is meant (``"200"`` matched no schedule, ``4.7`` read cell 4)."""
    out: list[dict[str, Any]] = []
    try:
        records = _records(given)
    except TypeError:
        raise FormatError(
            f"meta['isomorphic_to'] holds {shown(given, 100)}, not a list of records of "
            "dataset, epochs, seed, index and copied_from; fix or drop it"
        ) from None
    for rec in records:
        try:
            if not isinstance(rec, Mapping):
                raise TypeError(rec)
            dataset, epochs, seed = _record_run(rec)
            out.append(
                {
                    "dataset": dataset,
                    "epochs": epochs,
                    "seed": seed,
                    "index": _record_cell(rec["index"], size),
                    "copied_from": _record_cell(rec["copied_from"], size),
                }
            )
        except (KeyError, TypeError, ValueError):
            raise FormatError(
                f"meta['isomorphic_to'] holds {shown(rec, 100)}, not a record of dataset, "
                "epochs, seed, index and copied_from; fix or drop it"
            ) from None
    return out


def _records(given: object) -> list[Any]:
    """The items of a stand-in list of ``meta`` (None or absent: none), or TypeError: one
    record, text or a number is no list of them."""
    if given is None:
        return []
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise TypeError(given)
    return list(given)


def _record_run(rec: Mapping[str, Any]) -> _Run:
    """The run (dataset, schedule, seed) a stand-in record names, or ValueError: a dataset
    that is no text, an epoch count or seed (None: a stored mean's) that is no whole
    number."""
    dataset, seed = rec["dataset"], rec["seed"]
    epochs = whole_number(rec["epochs"])
    if seed is not None:
        seed = whole_number(seed)
        if seed is None or not 0 <= seed <= INT64_MAX:
            raise ValueError(rec)
    if not isinstance(dataset, str) or epochs is None or epochs < 0:
        raise ValueError(rec)
    return dataset, epochs, seed


def _record_cell(value: object, size: int | None) -> int:
    """A cell a stand-in record names, or ValueError: no whole number, or no cell of a space
    of ``size`` cells (-1 indexed the last)."""
    cell = whole_number(value)
    if cell is None or cell < 0 or (size is not None and cell >= size):
        raise ValueError(value)
    return cell


def _stand_in_rows(
    table: Table, rows: dict[tuple[MetricKey, int | None], npt.NDArray[np.intp]]
) -> tuple[dict[_Run, set[int]], dict[_Run, dict[int, int]]] | None:
    """The stand-in cells of ``table`` as :meth:`Table.to_tidy` writes them, per run of its
    vectors (dataset, schedule, seed): the constant-output cells, and the cells copied into
    it with the cell each copies; None for a table recording none.

    ``rows`` (the cells written per vector) gains a row for a stand-in that has none, so that
    its flag is read back: in the first vector of its run, a constant-output cell (one of the
    old flat list: in every run's) and a copy (and the cell it copies).
    """
    if not _keeps_stand_in_records(table):  # empty ones too: read back as they were
        return None
    copies = copies_by_run(table)
    every, by_run = constant_runs(table)
    items = list(rows)
    runs: dict[_Run, list[tuple[MetricKey, int | None]]] = {}
    for item in items:
        runs.setdefault((item[0].dataset, item[0].epochs, item[1]), []).append(item)
    for run, cells in by_run.items():
        if run not in runs:
            raise FormatError(
                f"meta['constant_output'] records cell {min(cells)} at chance at "
                f"{_run_text(run)}, a run this table stores no vector of; drop those records"
            )
    constant = {run: every | by_run.get(run, set()) for run in runs}
    for run, copied in copies.items():
        if run not in runs:
            cell, source = next(iter(copied.items()))
            raise FormatError(
                f"meta['isomorphic_to'] copies cell {source} into cell {cell} at "
                f"{_run_text(run)}, a run this table stores no vector of; drop those records"
            )
    for run, of_run in runs.items():
        copied = copies.get(run, {})
        # the cells each copies too: reading a copy back needs its source's rows in the run
        # (a source unmeasured there, a diverged run's NaN loss, had none)
        needed = np.array(sorted({*constant[run], *copied, *copied.values()}), dtype=np.int64)
        shown_cells = np.unique(np.concatenate([rows[item] for item in of_run]))
        lost = np.setdiff1d(needed, shown_cells)
        rows[of_run[0]] = np.union1d(rows[of_run[0]], lost)
    return constant, copies


def _run_text(run: _Run) -> str:
    dataset, epochs, seed = run
    return f"{dataset}@{epochs}ep seed {'mean' if seed is None else seed}"


_DataWrapper = Callable[
    [dict[tuple[MetricKey, int | None], FloatArray]], dict[tuple[MetricKey, int | None], FloatArray]
]
_DATA_WRAPPER: ContextVar[_DataWrapper | None] = ContextVar("table_data_wrapper", default=None)


@contextmanager
def wrapping_data(wrap: _DataWrapper) -> Iterator[None]:
    """Within the block, each :class:`Table` built (in this thread) keeps ``wrap(data)`` as its
    data.

    :func:`nb201_flat.figures.make` notes through it which vectors a figure reads: a table the
    figure derives from the one it was given (``with_vector``, a subset, a copy of ``data``)
    holds the same vectors in a new dict, whose reads would go unnoted.
    """
    token = _DATA_WRAPPER.set(wrap)
    try:
        yield
    finally:
        _DATA_WRAPPER.reset(token)


PER_ARCH_FIX: Final = "pass one number per architecture, NaN where not measured"


def float_values(
    values: object, name: str, verb: str = "be", *, fix: str = "pass numbers, NaN for a missing one"
) -> FloatArray:
    """``values`` as a float64 array, else :class:`ArgumentError` naming ``name``: text, dates
    and complex numbers are refused (:func:`~nb201_flat.neighbours.check_real`), where float64
    would parse ``'3'``, count days since 1970 or drop the imaginary part; a masked array's
    masked entries are NaN (:func:`~nb201_flat.space.masked_as_nan`). ``fix`` ends the
    refusal of text (:data:`PER_ARCH_FIX` for a vector over the space)."""
    values = masked_as_nan(values)
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError):  # ragged nesting
        raw = None
    if raw is not None and raw.dtype.kind not in "biuf":
        # imported here: a lookup of stored float vectors never loads the neighbour module
        from nb201_flat.neighbours import check_real

        check_real(raw, name, fix)
    try:
        return np.array(values if raw is None else raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # 10**400: a traceback
        raise ArgumentError(f"{name} must {verb} numbers within a float's range") from None


def _stored_items(data: Mapping[Any, Any]) -> Iterable[tuple[Any, Any]]:
    """``data``'s pairs by dict's own ``items``: checking the vectors is no read of them that
    a wrapper (:func:`wrapping_data`) should note."""
    return dict.items(data) if isinstance(data, dict) else data.items()


def infinite_values(key: MetricKey, seed: int | None, vec: FloatArray) -> str | None:
    """What is wrong with ``vec`` (stored under ``key`` and ``seed``) if it holds an infinite
    value, else None: the one rule for a table's vectors (finite numbers, NaN where nothing
    was measured), checked in one pass over the vector.

    >>> infinite_values(MetricKey("c", "s", 1), None, np.array([1.0, np.nan, np.inf, -np.inf]))
    'vector for c/s@1ep:accuracy (seed mean) holds 2 infinite values (first at architecture 2): a table holds finite numbers; use NaN for a value not measured'
    """
    inf = np.isinf(vec)
    if not inf.any():
        return None
    n = int(np.count_nonzero(inf))
    return (
        f"vector for {key} (seed {'mean' if seed is None else seed}) holds {n} infinite "
        f"value{'' if n == 1 else 's'} (first at architecture {int(np.flatnonzero(inf)[0])}): "
        "a table holds finite numbers; use NaN for a value not measured"
    )


def check_metric_key(key: object, owner: str) -> None:
    """Refuse a ``key`` argument that is no :class:`MetricKey` (a tuple, an array: it matched
    no key, or met numpy's elementwise ``==``); ``owner`` names who builds one (``table``,
    ``curves``: ``owner.key(...)``)."""
    if not isinstance(key, MetricKey):
        raise ArgumentError(
            Param("key"), f" must be a MetricKey, got {shown(key)}; use {owner}.key(...)"
        )


def check_table(table: object, name: str | Param = "table") -> Table:
    """``table`` if it is a :class:`Table`, else :class:`ArgumentError` (anything else failed
    deep inside, at the first attribute read).

    >>> check_table(None)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.ArgumentError: table must be a Table, got NoneType; pass e.g. nb201_flat.load_table()
    """
    if not isinstance(table, Table):
        raise ArgumentError(
            name, f" must be a Table, got {type(table).__name__}; pass e.g. nb201_flat.load_table()"
        )
    return table


def _metric_key(item: object, param: Param | None = None) -> MetricKey:
    """``item`` (a :class:`MetricKey` or ``(dataset, split, epochs[, metric])``) as a key;
    anything else is refused naming ``param`` (a method's argument), or else as ``in``'s."""
    if isinstance(item, MetricKey):
        return item
    if isinstance(item, tuple) and len(item) in (3, 4):  # the arguments of Table.vector
        return MetricKey(*item)
    if param is not None:
        raise ArgumentError(
            param,
            " must be a MetricKey or (dataset, split, epochs[, metric]), got "
            f"{shown(item)}; use table.key(...)",
        )
    raise ArgumentError(
        f"a table holds MetricKeys: test MetricKey(...) or (dataset, split, epochs[, metric]) "
        f"with `in`, got {shown(item)}; a (key, seed) pair is tested with `in table.data`"
    )


def _data_key(item: object) -> tuple[MetricKey, int | None]:
    """A key of ``Table.data``: ``(MetricKey, seed)`` with seed None (the mean) or a position."""
    key, seed = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
    if not isinstance(key, MetricKey) or not (seed is None or _is_seed(seed)):
        raise FormatError(
            f"table data is keyed by (MetricKey, seed) with seed None (the mean) or a "
            f"position in 0..{INT64_MAX}, got {item!r:.120}"
        )
    return key, seed


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _is_seed(x: object) -> bool:
    """A stored seed's number: an int in 0..INT64_MAX (to_tidy's Int64 column refused more
    in a raw TypeError)."""
    return _is_int(x) and 0 <= x <= INT64_MAX  # type: ignore[operator]


def check_arch_column(
    strings: pd.Series,
    space: Space,
    bad: Callable[[int, object, str], FormatError],
    *,
    index: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """The index in ``space`` of the cell each row's arch string names: the one check of arch
    strings against a space, for every path that builds a table from them.

    An empty cell, a string that is no cell of ``space``, and (given ``index``, the rows' own
    index column) a string naming another cell than its row's index are refused by
    ``bad(row, value, why)``, the caller's one-line error naming its first such row (0-based)
    as the caller counts them: a file's line, a frame's row. A spelling of a cell
    ``space.parse`` reads is that cell. Returns ``index`` when given.

    >>> import pandas as pd
    >>> s = Space(("none", "conv"), 2)
    >>> def bad(row, value, why):
    ...     return FormatError(f"row {row + 1}: {value!r} {why}")
    >>> check_arch_column(pd.Series(["|conv~0|", "|none~0|"]), s, bad).tolist()
    [1, 0]
    >>> check_arch_column(pd.Series(["|conv~0|", "|x~0|"]), s, bad)
    Traceback (most recent call last):
    ...
    nb201_flat.errors.FormatError: row 2: '|x~0|' is not a cell string (unknown op 'x'; this space's ops are none, conv)
    """
    import pandas as pd

    # over the distinct strings (a few thousand in a 500k-row file), in order of appearance
    codes, uniques = pd.factorize(strings, use_na_sentinel=True)
    known = {text: i for i, text in enumerate(space.strings())}
    cells = np.empty(len(uniques), dtype=np.int64)
    for k, text in enumerate(np.asarray(uniques, dtype=object)):
        cell = known.get(text) if isinstance(text, str) else None
        if cell is None:
            try:
                cell = space.parse(text).index
            except InvalidArchError as exc:
                row = int(np.flatnonzero(codes == k)[0])
                empty = np.flatnonzero(codes < 0)
                if not len(empty) or empty[0] > row:  # an empty cell above is named first
                    raise bad(row, text, f"is not a cell string ({exc})") from None
        cells[k] = -1 if cell is None else cell
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise bad(row, strings.iloc[row], "is empty (every row needs a cell string)")
    located: npt.NDArray[np.int64] = cells[codes]
    if index is None:
        return located
    # an index outside the space is the index column's error, which its own check names
    other = (located != index) & (index >= 0) & (index < space.size)
    if other.any():
        row = int(np.flatnonzero(other)[0])
        raise bad(
            row,
            strings.iloc[row],
            f"names cell {located[row]}, but the row's index is {index[row]} (rows not in "
            f"the {space.index_order} index order? drop the index column to locate them by arch)",
        )
    return index
