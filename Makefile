# Two commands do everything on a fresh machine (Python >= 3.11 with venv and pip):
#   make demo   set up .venv, then run the main job on the embedded default table
#   make test   set up .venv, then lint, type-check and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench bench-quick bench-gpu clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/nb201-flat demo

lint: $(STAMP)
	$(BIN)/ruff check nb201_flat tests benchmarks
	$(BIN)/ruff format --check nb201_flat tests benchmarks
	$(BIN)/mypy

# the suite in worker processes (pytest-xdist), a file per worker at a time so each file's
# fixtures are built once: about half the time on 2 cores, at most 4 workers for memory; the
# 25 slowest tests are listed at the end (CI's log shows where its time went)
test: lint
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile --durations 25

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick

# one GPU, under 8 minutes: writes benchmarks/results/gpu.json; exits 2 (writes nothing) without
# CUDA. On a GPU image whose python already holds torch and that cannot install anything,
# `make bench-gpu PY=python3` runs it with that interpreter and no .venv (benchmarks/device_gpu.sh).
ifeq ($(origin PY),command line)
bench-gpu:
	PYTHONPATH=$(CURDIR) $(PY) -m benchmarks.bench_gpu $(BENCH_GPU_ARGS)
else
bench-gpu: $(STAMP)
	$(BIN)/python -m benchmarks.bench_gpu $(BENCH_GPU_ARGS)
endif

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
