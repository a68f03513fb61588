# o2 developer entry points. Every install step lives here so a fresh clone needs only python3 + make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv up test test-fast test-slow check lint fmt typecheck imports schemas bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml hack/install-test-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	bash hack/install-test-deps.sh $(PY)
	touch $(STAMP)

## Bring o2 up on this machine (embedded etcd + local cluster + controllers) in the foreground.
up: venv
	$(BIN)/o2 up $(ARGS)

## Test processes (pytest-xdist): most tests wait on real processes (a full run keeps about 1.5 of
## 2 cores busy), so three share 2 cores well. The longest tests start first, two tests at a time per
## process (tests/schedule.py), so the run does not end on one long test.
## TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 3
XDIST := $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS))
## A test run starts thousands of Python processes (managers, clusters, executors, CLI calls):
## with PYTHONDONTWRITEBYTECODE set, each compiled o2's modules again and each test process
## rewrote every test module's asserts anew. The test targets write bytecode (__pycache__,
## ignored by git): a fifth less CPU on a sample of stack tests.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest

## The whole test suite, scale tests included (what CI runs; about 7.5 min on a quiet 2-core machine, 3 test processes).
test: venv
	$(PYTEST) -q $(XDIST) $(PYTEST_ARGS)

## Without the scale tests (marked slow), for quick local runs.
test-fast: venv
	$(PYTEST) -q $(XDIST) -m "not slow" $(PYTEST_ARGS)

## The scale tests alone.
test-slow: venv
	$(PYTEST) -q $(XDIST) -m slow $(PYTEST_ARGS)

check: venv lint typecheck imports schemas-check

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

schemas: venv
	$(PY) -m crds.schemagen --write

schemas-check:
	$(PY) -m crds.schemagen --check

bench: venv
	$(PY) -m hack.bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
