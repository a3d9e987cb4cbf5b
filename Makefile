# Greendoor: `make run` starts the app (installing everything first), `make test` runs the tests.
# Both create and reuse a virtual environment in .venv; only Python >= 3.11 is needed.
# Installs are pinned by constraints.txt (the lock file): every machine gets the same
# versions. `make lock` refreshes it; tools/check_latest.py reports what newer releases break.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK  := $(VENV)/.installed-spark
LOCK   := constraints.txt
PORT   ?= 8501

.PHONY: run test install lint demo lock test-lowest

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Greendoor needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[test,postgres]"
	@touch $(STAMP)

install: $(STAMP)

## The tests also run the warehouse checks on Apache Spark (local mode; Java 17+) and on
## a Snowflake emulator (fakesnow).
$(SPARK): $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[test,postgres,spark,snowflake-test]"
	@touch $(SPARK)

## Install, create the store, load the demo portfolio if the store is empty, score and
## forecast it, start the app.
run: install
	$(BIN)/greendoor init
	$(BIN)/greendoor demo --if-empty
	$(BIN)/greendoor score --if-needed
	$(BIN)/greendoor forecast --if-needed
	$(BIN)/streamlit run app/serve.py --server.port $(PORT)

## Install and run the test suite.
test: install $(SPARK)
	$(BIN)/ruff check src app pages tests tools bench
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src app pages tests tools bench

demo: install
	$(BIN)/greendoor demo --force

## Refresh the lock file from a fresh resolve of pyproject.toml's ranges.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[test,postgres,spark,snowflake-test]"
	printf '# The lock file: exact versions `make run`, `make test` and CI install (pip -c).\n# Refresh with `make lock`; tools/check_latest.py reports what newer releases break.\n' > $(LOCK)
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^greendoor' >> $(LOCK)
	rm -rf .venv-lock

## The import and usage-key tests on the lowest pandas the project allows (2.2), in
## their own environment (.venv-lowest), as CI runs them beside `make test`.
test-lowest:
	@test -x .venv-lowest/bin/python || $(PYTHON) -m venv .venv-lowest
	grep -v -i -E '^(pandas|numpy)==' $(LOCK) > .venv-lowest/constraints.txt
	.venv-lowest/bin/python -m pip install --quiet --upgrade pip
	.venv-lowest/bin/python -m pip install --quiet -c .venv-lowest/constraints.txt \
	    -e ".[test,postgres]" "pandas==2.2.*" "numpy<2.3"
	.venv-lowest/bin/python -c 'import pandas; print("pandas", pandas.__version__)'
	.venv-lowest/bin/python -m pytest -q -p no:randomly tests/unit/test_usage_keys.py \
	    tests/unit/test_ingest.py tests/unit/test_hostile_import.py
