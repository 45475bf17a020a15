# Kehou Ledger: `make run` serves the demo on SQLite, `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test install system-deps lint bench clean

run: install
	$(BIN)/kehou db upgrade
	$(BIN)/kehou demo load --if-empty --tokens-file instance/demo-tokens.txt
	@echo "Kehou Ledger on http://$(HOST):$(PORT)/api/docs  (demo tokens: instance/demo-tokens.txt)"
	$(BIN)/kehou run --host $(HOST) --port $(PORT)

# With KEHOU_TEST_DATABASE_URL=postgresql+psycopg://user@host:port/db the suite runs on
# PostgreSQL (it creates and drops a database of its own on that server).
# One worker per core (pytest-xdist), each test module kept on one worker so its
# module-scoped world is built once; PYTEST_ARGS="" runs it in one process.
PYTEST_ARGS ?= -n auto --dist loadscope

test: install
	@sh scripts/test-deps.sh
	$(BIN)/pytest $(PYTEST_ARGS)

install: system-deps $(VENV)/.installed

system-deps:
	@sh scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kehou Ledger needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/post.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis .ruff_cache
