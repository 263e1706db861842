# One command runs every test from a fresh clone: `make test`.
# It creates .venv, installs the project with its dev tools, checks style and runs pytest.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo venv test lint bench-sie4 clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# One command runs the main job against the bundled Fortnox sandbox (see scripts/demo.sh).
demo: $(STAMP)
	bash scripts/demo.sh

# The target's tests start their own throwaway PostgreSQL cluster; this installs the
# server from Debian's packages when it is missing (a no-op once it is there).
test: $(STAMP)
	bash scripts/install-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench-sie4: $(STAMP)
	$(BIN)/python benchmarks/sie4_parse.py

clean:
	rm -rf $(VENV) .venv-meltano .meltano output .pytest_cache .ruff_cache .hypothesis
