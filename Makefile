# Everything a newcomer needs: `make run` (service + demo data, embedded store) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint format bench-dashboard bench-sync bench-api bench-analytics clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m app serve --demo --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

bench-dashboard: install
	$(BIN)/python -m bench.dashboard_bench

bench-sync: install
	$(BIN)/python -m bench.sync_bench

bench-api: install
	$(BIN)/python -m bench.api_bench

bench-analytics: install
	$(BIN)/python -m bench.analytics_bench

lint: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
