# The two commands a new machine needs: `make run` (local server) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test unit lint bench clean check-deploy lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The layer's dependencies first, from the lock `sam build` uses (exact versions, hashes checked), so the
# tests run what deploys; tests/integration/test_template.py checks the installed versions against it.
$(VENV)/.layer-deps: shared/requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r shared/requirements.lock
	touch $@

$(VENV)/.run-deps: pyproject.toml $(VENV)/.layer-deps
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.test-deps: pyproject.toml $(VENV)/.layer-deps
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $@ $(VENV)/.run-deps

## lock: re-pin the layer's dependencies (shared/requirements.txt) with hashes for every platform into
## shared/requirements.lock (uv pip compile, universal: Lambda's arm64 Python 3.12 and this machine),
## at the versions the whole test environment resolves to (so installing the tools keeps the pins)
UV_COMPILE = $(BIN)/uv pip compile --universal --python-version 3.11 --no-header --quiet
lock: | $(BIN)/python
	$(BIN)/pip install --quiet 'uv>=0.5'
	$(UV_COMPILE) pyproject.toml --extra local --extra dev -o $(VENV)/all-deps.txt
	{ sed -n '1,3p' shared/requirements.lock; $(UV_COMPILE) shared/requirements.txt -c $(VENV)/all-deps.txt \
		--generate-hashes; } > shared/requirements.lock.new
	mv shared/requirements.lock.new shared/requirements.lock

NODE := tests/node

$(NODE)/node_modules/.installed: $(NODE)/package.json $(NODE)/package-lock.json
	npm ci --prefix $(NODE) --no-audit --no-fund --loglevel=error
	touch $@

BENCH_NODE := bench/node

$(BENCH_NODE)/node_modules/.installed: $(BENCH_NODE)/package.json $(BENCH_NODE)/package-lock.json
	npm ci --prefix $(BENCH_NODE) --no-audit --no-fund --loglevel=error
	touch $@

# aws-sam-cli in its own virtualenv (it pins its own boto3); `sam build` also needs Python 3.12 (the
# Lambda runtime's): pyenv's newest 3.12 when pyenv has one, else python3.12 on the PATH.
SAM_VENV := .venv-sam
PYTHON312 ?= $(or $(shell v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12\.[0-9]+$$' | sort -t. -k3 -n | tail -1); \
	[ -n "$$v" ] && echo "$$(pyenv prefix $$v)/bin/python3.12"),$(shell command -v python3.12))
export PYTHON312

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.120,<2'
	touch $@

# The runtime-only environment of Lambda's Python where `make bench` measures the warm CPU: Python 3.12
# (PYTHON312, as for sam build) with the layer's lock alone, as Lambda has them, plus PyYAML for the
# harness's route table; none of the test tools (moto's blinker, for one, turns pynamodb's signals on).
RUNTIME_VENV := .venv-runtime

$(RUNTIME_VENV)/.installed: shared/requirements.lock
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: pyenv install 3.12 (or set PYTHON312)"; exit 2; }
	$(PYTHON312) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/pip install --quiet --require-hashes -r shared/requirements.lock
	$(RUNTIME_VENV)/bin/pip install --quiet 'pyyaml>=6'
	touch $@

## run: the API on http://127.0.0.1:4444 with embedded DynamoDB and KMS, and the example consent app on
## port 3000. `make run PORT=4455 CONSENT_APP_PORT=3001` moves them (HOST sets the address); a busy PORT
## stops it before anything is created. It prints the line that puts `hydra-lambda` on the PATH.
## The admin routes are also served WITHOUT a token on http://127.0.0.1:4445 (Hydra's admin port; this
## machine only), for login/consent apps built on Ory's SDKs: `make run ADMIN_PORT=4446` moves it, 0 turns it off.
## `make run PERSIST=1` keeps tables, system secret, root client and signing keys in .local-data/
## across restarts (DynamoDB Local from tests/node, installed first; needs Java 17).
## `make run FLOW=current` runs the current login/consent/logout flow (Ory Hydra v2's API), URLS_* set to the
## example app's /login, /consent, /logout, /logged-out and /error; the classic consent flow is the default.
run: $(VENV)/.run-deps $(if $(PERSIST),$(NODE)/node_modules/.installed)
	$(BIN)/hydra-lambda serve $(if $(PERSIST),--persist) $(if $(FLOW),--flow $(FLOW))

## test: installs what the tests need (Python deps, DynamoDB Local and the RP libraries via npm, the
## benchmark's node-oidc-provider for its smoke test, Chromium), lints, runs pytest
# The four installs are independent: made side by side (warm caches on this 2-core machine: 31 s
# instead of 54 s one after the other).
TEST_DEPS := $(VENV)/.test-deps $(NODE)/node_modules/.installed $(BENCH_NODE)/node_modules/.installed $(SAM_VENV)/.installed
test:
	@$(MAKE) --no-print-directory -j4 $(TEST_DEPS)
	@tests/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

## unit: the unit tests only (tests/unit/: pure logic, no DynamoDB Local, moto, node or browser), in
## seconds; `make test` runs them with the integration tests (tests/integration/)
unit: $(VENV)/.test-deps
	$(BIN)/pytest -q tests/unit

## check-deploy: the deployable stack, offline (also part of `make test`): cfn-lint with informational
## checks, the translated template's properties, `sam build` with bytecode, every handler imported from
## the build alone and every events/ sample served by it against moto (tests/integration/test_deploy.py)
check-deploy: $(VENV)/.test-deps $(NODE)/node_modules/.installed $(SAM_VENV)/.installed
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: pyenv install 3.12 (or set PYTHON312)"; exit 2; }
	SAM_CLI=$(SAM_VENV)/bin/sam $(BIN)/pytest -q tests/integration/test_template.py tests/integration/test_template_ops.py tests/integration/test_deploy.py tests/integration/test_deploy_keyrotation.py

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .

## bench: the benchmark suite (see bench/README.md); exits non-zero when a budget is missed
bench: $(VENV)/.test-deps $(NODE)/node_modules/.installed $(BENCH_NODE)/node_modules/.installed $(SAM_VENV)/.installed $(RUNTIME_VENV)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) $(RUNTIME_VENV) $(NODE)/node_modules $(BENCH_NODE)/node_modules .pytest_cache .ruff_cache
