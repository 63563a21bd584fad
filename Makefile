# envsecrets — `make` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install test lint format demo bench completions clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,emulator]'
	touch $(STAMP)

install: $(STAMP) ## Build .venv with the tool, the emulator and the dev tools

test: $(STAMP) ## Run the whole test suite (against a local emulator; no AWS needed)
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP) ## Start the emulator, tour every command family, stop the emulator
	bash tests/demo.sh

bench: $(STAMP) ## Measure start-up and bulk commands side by side (not part of make test)
	$(BIN)/python -m tests.bench

completions: $(STAMP) ## Regenerate the shell completion scripts in completions/
	$(BIN)/python -m tests.completions write

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .bench
