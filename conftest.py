"""Collection rules for the whole checkout: the package's doctests run (``--doctest-modules``),
except in modules that need torch when torch is absent; conftest files are not doctest modules."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = ["tests/**/conftest.py", "tests/conftest.py", "benchmarks/*"]

if importlib.util.find_spec("torch") is None:  # the train extra is not installed
    collect_ignore_glob += [
        "nb201_flat/train/model.py",
        "nb201_flat/train/trainer.py",
        "tests/train/host_reads.py",
    ]
