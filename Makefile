# Entry points for a fresh machine:  `make demo`,  `make test`  (everything, as CI runs it) and
# `make test-fast`  (lint, then the tests not marked slow; see tests/README.md).
# A virtual environment in .venv sees the system's packages, so an installed torch
# (CPU or CUDA) is used as it is; only when no torch is importable is $(TORCH) installed.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.geostl-installed
TEST_STAMP := $(VENV)/.geostl-test-installed

.PHONY: install install-test demo test test-fast lint bench clean

$(PY):
	$(PYTHON) -m venv --system-site-packages $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH)"
	$(PY) -m pip install -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -e ".[test]"
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

demo: install
	$(VENV)/bin/geostl demo --out runs/demo

lint: install-test
	$(PY) -m ruff check src tests benchmarks scripts
	$(PY) -m ruff format --check src tests benchmarks scripts
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q

test-fast: lint
	$(PY) -m pytest -q -m "not slow"

bench: install-test
	$(PY) benchmarks/bench_windows.py --json runs/bench_windows.json

clean:
	rm -rf $(VENV) build src/*.egg-info
