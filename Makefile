# Everything a newcomer needs: `make run` (service + demo data, embedded store) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall whenever the project or its locked dependencies change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements-dev.lock 2>/dev/null | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000
CLIENT := clients/typescript

# `make lock` resolves pyproject.toml afresh with uv, taking no release published after
# LOCK_DATE: the same pyproject.toml and LOCK_DATE give the same lock files on any machine, whatever
# lock files or virtualenv are already there. Bump LOCK_DATE to take newer releases.
LOCK_DATE  ?= 2026-12-03T00:00:00Z
UV_VERSION := 0.13.8
UV_COMPILE  = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--exclude-newer $(LOCK_DATE) --upgrade --custom-compile-command "make lock"

.PHONY: install run test lint format lock openapi client-check bench-dashboard bench-sync bench-api bench-events bench-export bench-analytics clean

$(STAMP): pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
		echo "requirements-dev.lock does not satisfy pyproject.toml: run 'make lock'"; exit 1; }
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

# Regenerate requirements.lock (the service) and requirements-dev.lock (service + dev/test)
# from pyproject.toml. The service lock is constrained by the dev one: shared packages agree.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV_COMPILE) --extra dev --output-file requirements-dev.lock.new pyproject.toml
	mv requirements-dev.lock.new requirements-dev.lock
	$(UV_COMPILE) --constraint requirements-dev.lock --output-file requirements.lock.new pyproject.toml
	mv requirements.lock.new requirements.lock

run: install
	$(BIN)/python -m app serve --demo --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

$(CLIENT)/node_modules/.package-lock.json: $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund

# docs/openapi.json (the app's document, built in process) and the TypeScript types from it.
openapi: install $(CLIENT)/node_modules/.package-lock.json
	cd $(CLIENT) && PYTHON="$(abspath $(BIN)/python)" npm run --silent generate

# What CI runs: a clean npm install, the types generated from the app, `tsc --strict` on the
# typed usage file (a response schema that degrades to `unknown` fails it).
client-check: install
	cd $(CLIENT) && npm ci --no-audit --no-fund
	cd $(CLIENT) && PYTHON="$(abspath $(BIN)/python)" npm run --silent check

bench-dashboard: install
	$(BIN)/python -m bench.dashboard_bench

bench-sync: install
	$(BIN)/python -m bench.sync_bench

bench-api: install
	$(BIN)/python -m bench.api_bench

bench-events: install
	$(BIN)/python -m bench.events_bench

bench-export: install
	$(BIN)/python -m bench.export_bench

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(CLIENT)/node_modules
