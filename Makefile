# Switchboard developer commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NODE_DIR := tests/node
HOST ?= 0.0.0.0
PORT ?= 8080

.PHONY: run test test-long lint bench bench-scale conformance conformance-deflate proto clean venv node-deps browser-deps redis-deps balancer-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --silent

node-deps: $(NODE_DIR)/node_modules/.package-lock.json

# Debian's Chromium for the browser tests: Playwright drives the system browser (it cannot
# download its own here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The broker tests start redis-server processes of their own (never the system's service).
redis-deps:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# HAProxy and nginx for the balancer tests (tests/cluster/test_balancers.py runs
# deploy/haproxy.cfg and deploy/nginx.conf; never the system's services).
balancer-deps:
	@{ command -v haproxy && command -v nginx; } >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq haproxy nginx >/dev/null; }

## Serve on the embedded default (0.0.0.0:8080, path /ws).
run: venv
	$(VENV)/bin/switchboard serve --host $(HOST) --port $(PORT)

## Set up and run every test (unit, end-to-end with Python and Node clients), then lint.
test: venv node-deps browser-deps redis-deps balancer-deps
	$(PY) -m pytest
	$(MAKE) --no-print-directory lint

## The long fault and soak runs (minutes each: Redis away for 10 s under a publisher, ...).
test-long: venv redis-deps balancer-deps
	$(PY) -m pytest -m long

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy

## Benchmarks side by side (Switchboard, uWebSockets via socketify, minimal and raw picows,
## aiohttp, Node ws) -> docs/benchmarks.md, docs/benchmarks-connrate.md, cluster, nodes
bench: venv redis-deps
	$(PY) benchmarks/run.py $(BENCH_ARGS)
	$(PY) benchmarks/connrate.py
	$(PY) benchmarks/cluster.py
	$(PY) benchmarks/nodes.py
	$(PY) benchmarks/edge.py

## Scale: 100,000 connections over --workers 6 and Redis, then one process at 19,000 (~8 min)
## -> docs/benchmarks-scale.md. Both runs happen even when the first reports drops.
bench-scale: venv redis-deps
	$(PY) benchmarks/scale.py --workers 6 --connections 100000 --duration 120; a=$$?; \
	$(PY) benchmarks/scale.py --workers 1 --connections 19000 --duration 120; b=$$?; \
	exit $$((a | b))

## Autobahn conformance against the raw echo mode (cases 1-11; EXCLUDE= to run all).
conformance: venv
	bash scripts/conformance.sh

## Autobahn sections 12 and 13 (permessage-deflate; about 20 minutes).
conformance-deflate: venv
	EXCLUDE= TIMEOUT=3600 bash scripts/conformance.sh '12.*' '13.*'

## Regenerate the v2.proto Python module (committed) from its .proto with grpcio-tools.
PROTO_SRC := src/switchboard/protocol/proto/envelope.proto
proto: venv
	$(PY) -m grpc_tools.protoc -I src --python_out=src --pyi_out=src $(PROTO_SRC)

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache
