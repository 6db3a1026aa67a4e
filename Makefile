# The targets the README names. Everything runs inside .venv, made on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint format typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## Create .venv and install modelry with its dev tools

demo: $(STAMP)  ## Generate data, train a model, serve it and query it
	$(BIN)/modelry demo

lint: $(STAMP)  ## ruff, mypy and the import-layer contract
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint  ## Lint, then the whole test suite (real-data tests skip without ../shared)
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: $(STAMP)  ## Tests without the real datasets
	$(BIN)/pytest -n 2 -m "not realdata and not postgres"

bench: $(STAMP)  ## Benchmarks (see bench/README.md); runs append to bench/history.md
	$(BIN)/python bench/training.py

clean:
	rm -rf $(VENV) .modelry .pytest_cache .mypy_cache .ruff_cache
