# Greendoor: `make run` starts the app (installing everything first), `make test` runs the tests.
# Both create and reuse a virtual environment in .venv; only Python >= 3.11 is needed.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run test install lint demo clean-store

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Greendoor needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,postgres]"
	@touch $(STAMP)

install: $(STAMP)

## Install, create the store, load the demo portfolio if the store is empty, score it, start the app.
run: install
	$(BIN)/greendoor init
	$(BIN)/greendoor demo --if-empty
	$(BIN)/greendoor score --if-needed
	$(BIN)/streamlit run app/streamlit_app.py --server.port $(PORT)

## Install and run the test suite.
test: install
	$(BIN)/ruff check src app pages tests tools bench
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src app pages tests tools bench

demo: install
	$(BIN)/greendoor demo --force
