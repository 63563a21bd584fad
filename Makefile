# envsecrets — `make` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install lock test test-newest-typer lint format demo bench mutation completions clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The development and test environment is pinned, hashes included, in LOCK: every package that
# .venv holds but uv itself (pinned here) and the pip that venv puts there. The package's own
# dependencies in pyproject.toml stay ranges. uv (from PyPI) installs it: quick, and it checks
# every hash. A changed lock or pyproject.toml rebuilds .venv from nothing, so it holds exactly
# what the lock says; `make lock` refreshes the lock to the newest releases the ranges admit.
LOCK := .ci/requirements-dev.lock
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# What building the package itself needs (pyproject's [build-system]), locked with the rest.
BUILD_REQUIRES = $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"

# Checked before anything is removed: an older Python fails later in uv's resolver with a
# message about `annotated-doc` that says nothing about the version.
PYTHON_OK = $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON_OK) 2>/dev/null || { \
		echo "envsecrets needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1 || echo missing)." >&2; \
		echo "Run: PYTHON=python3.11 make install" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes --compile-bytecode -r $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) ## Build .venv with the tool, the emulator and the dev tools (from the lock)

lock: $(STAMP) ## Refresh the lock to the newest releases pyproject.toml admits (then make install)
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - --extra dev --extra emulator \
		--universal --python-version 3.11 --generate-hashes --upgrade \
		--custom-compile-command "make lock" --quiet -o $(LOCK)

# The suite mostly waits (emulator round trips, processes, deadlines), so it runs on every core,
# up to 4 workers (each starts its own emulator); `$(BIN)/pytest -q` runs it in one process.
test: $(STAMP) ## Run the whole test suite (against a local emulator; no AWS needed)
	$(BIN)/pytest -q -n auto --maxprocesses 4

# The lock pins Typer; this is what would catch a release in pyproject.toml's range that breaks
# us: a scratch venv next to .venv with the lock, Typer upgraded as far as the range admits,
# and the tests that lean on Typer most (start-up, help, docs, completion). CI runs it.
NEWEST_TYPER := .venv-newest-typer
TYPER_TESTS := tests/test_startup.py tests/test_help.py tests/test_docs.py tests/test_completion.py

test-newest-typer: $(STAMP) ## Run the Typer-heavy tests on the newest Typer pyproject.toml admits
	rm -rf $(NEWEST_TYPER)
	$(UV) venv --quiet --python $(BIN)/python $(NEWEST_TYPER)
	$(UV) pip install --quiet --python $(NEWEST_TYPER)/bin/python --require-hashes -r $(LOCK)
	$(UV) pip install --quiet --python $(NEWEST_TYPER)/bin/python --no-build-isolation \
		--refresh-package typer --upgrade-package typer -e .
	@$(NEWEST_TYPER)/bin/python -c "import typer; print('newest Typer in range:', typer.__version__)"
	$(NEWEST_TYPER)/bin/pytest -q $(TYPER_TESTS)

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

# Mutation testing (mutmut) of the modules where a silent bug costs most, each with its own
# test files, one module after the other under `nice`: minutes on two cores. Not part of
# `make test`. One module: `make mutation MODULES=names`; the modules and their tests are in
# tests/mutation.py, equivalent mutants explained in tests/mutation_equivalent.toml, the last
# recorded figures and open survivors in tests/mutation_results.md.
MODULES ?=
mutation: $(STAMP) ## Mutation testing: kill rate per module, every survivor explained
	$(BIN)/python -m tests.mutation $(MODULES)

completions: $(STAMP) ## Regenerate the shell completion scripts in completions/
	$(BIN)/python -m tests.completions write

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) $(NEWEST_TYPER) .mypy_cache .ruff_cache .pytest_cache .hypothesis .bench .mutation
