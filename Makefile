# Harmonia: `make demo` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck layers unit bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

## demo: simulators + gateway on 127.0.0.1, GraphiQL URL and a token per role (Ctrl-C stops all)
demo: $(VENV)/.installed
	$(BIN)/harmonia demo

## test: lint, types, layers, then the whole suite against a throwaway real redis-server
test: $(STAMP)
	$(MAKE) --no-print-directory lint typecheck layers
	bash scripts/ensure-chromium.sh && bash scripts/with-redis.sh $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check harmonia tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	bash scripts/with-redis.sh $(BIN)/python -m pytest -x

## bench: the benchmark (figures, not a test), with GraphQL Mesh on (b) when node + npm exist; see bench/README.md
bench: $(STAMP)
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
