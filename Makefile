# Harmonia: `make demo` to try it, `make test` to check it.
# Everything installs from the lock (requirements/*.txt, hashes checked): see scripts/lock.py.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed
DEV := $(VENV)/.installed-dev
LOCKS := requirements/runtime.txt requirements/dev.txt

.PHONY: demo test lint typecheck layers check-lock unit bench install install-dev lock upgrade clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "harmonia needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)." \
	       "Run with PYTHON=python3.11 (or newer)." >&2; exit 1; }
	@echo "harmonia: creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)

# The dev set holds the runtime set: either stamp serves `make demo`.
$(RUNTIME): $(BIN)/python requirements/runtime.txt pyproject.toml
	@if [ -f $(DEV) ] && [ $(DEV) -nt requirements/dev.txt ] && [ $(DEV) -nt pyproject.toml ]; then :; \
	 else $(BIN)/python scripts/lock.py sync runtime; fi
	@touch $@

$(DEV): $(BIN)/python requirements/dev.txt pyproject.toml
	@$(BIN)/python scripts/lock.py sync dev
	@touch $@ $(RUNTIME)

install: $(RUNTIME)
install-dev: $(DEV)

## demo: simulators + gateway on 127.0.0.1, GraphiQL URL and a token per role (Ctrl-C stops all)
demo: $(RUNTIME)
	@$(BIN)/harmonia demo

## test: the lock, lint, types, layers, then the whole suite against a throwaway real redis-server
test: $(DEV)
	@$(MAKE) --no-print-directory check-lock lint typecheck layers
	@bash scripts/ensure-chromium.sh && bash scripts/ensure-promtool.sh && bash scripts/with-redis.sh $(BIN)/python -m pytest

check-lock: $(DEV)
	@$(BIN)/python scripts/lock.py check

lint: $(DEV)
	@echo "harmonia: ruff"
	@$(BIN)/ruff check --quiet harmonia tests bench scripts

typecheck: $(DEV)
	@echo "harmonia: mypy (strict)"
	@$(BIN)/mypy

layers: $(DEV)
	@echo "harmonia: import layers"
	@$(BIN)/lint-imports --no-cache > $(VENV)/lint-imports.log || { cat $(VENV)/lint-imports.log; exit 1; }

unit: $(DEV)
	bash scripts/with-redis.sh $(BIN)/python -m pytest -x

## lock: re-resolve after a change to pyproject.toml, keeping the locked versions where still allowed
lock: $(DEV)
	@$(BIN)/python scripts/lock.py compile
	@$(BIN)/python scripts/lock.py sync dev && touch $(DEV) $(RUNTIME)

## upgrade: the newest versions pyproject.toml allows, installed, then the whole suite on them
upgrade: $(DEV)
	@$(BIN)/python scripts/lock.py compile --upgrade
	@$(BIN)/python scripts/lock.py sync dev && touch $(DEV) $(RUNTIME)
	@$(MAKE) --no-print-directory test

## bench: the benchmark (figures, not a test), with GraphQL Mesh on (b) when node + npm exist; see bench/README.md
bench: $(DEV)
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	  [ bench/mesh/node_modules/.package-lock.json -nt bench/mesh/package-lock.json ] || \
	    (cd bench/mesh && npm ci --no-audit --no-fund) || exit 1; \
	  $(BIN)/python -m bench.run --mesh $(BENCH_ARGS); \
	else \
	  echo "node/npm not found: benchmarking Harmonia alone, without the GraphQL Mesh comparison"; \
	  $(BIN)/python -m bench.run $(BENCH_ARGS); \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
