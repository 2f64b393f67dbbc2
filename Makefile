# Two commands on a fresh machine with only python3: `make run` and `make test`.
# Each first installs what is missing (uv into .tools, then the locked environment into .venv), so both are idempotent.

UV_VERSION := 0.13.9
UV := .tools/bin/uv
PYTHON ?= python3
PYTEST_ARGS ?=
# Two pytest-xdist workers, a test module to one worker (its module-scoped system is started once): the end-to-end
# tests mostly wait on sockets, timers and other processes, so two cores run two of them side by side (measured in
# docs/benchmarks.md). PYTEST_WORKERS=0 runs the suite in this one process. The modules go out longest first
# (tests/timings.json, see tests/support/work_order.py), so that both workers finish together; refresh the figures
# with `make test PYTEST_ARGS=--record-timings=tests/timings.json`.
PYTEST_WORKERS ?= 2

# `assist dev` and the suite start dozens of Python processes (services, gateways, agents, CLI calls). With
# PYTHONDONTWRITEBYTECODE set, as some machines and CI images set it, each of them compiles every module it imports
# from source again: 2.5-3.5 s of CPU per service instead of ~1 s, and a system's start 17 s instead of 6 s on two
# cores. The caches go into __pycache__ beside the sources (.venv and our own packages), which git ignores.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test sync lock clean agent web bench
WEB := services/gateway/web

run: sync agent
	.venv/bin/assist dev

# The suite's executable test (tests/test_agent_executable.py) runs the agent `make agent` built.
# Tests marked `exclusive` restart what every test uses (the machine's PostgreSQL): they run after the others,
# alone; a selection (PYTEST_ARGS) without any of them is not a failure of that second pass (pytest's status 5).
test: sync agent
	.venv/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --exclusive skip $(PYTEST_ARGS)
	.venv/bin/pytest --exclusive only $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The full benchmark figures (docs/benchmarks.md); `make test` runs each in a short --quick mode.
bench: sync
	.venv/bin/python bench/relay.py
	.venv/bin/python bench/revocation.py
	.venv/bin/python bench/billing.py
	.venv/bin/python bench/screen.py --seconds 8
	.venv/bin/python bench/files.py
	.venv/bin/python bench/recording.py

# Cheap when nothing changed; --frozen installs exactly uv.lock and fails instead of silently re-resolving.
sync: $(UV) web
	$(UV) sync --frozen --all-groups

# The pages' third-party front-end libraries (package-lock.json), never committed; `npm ci` only when the lock
# changed. Without node the API still works and the pages say their scripts are missing.
web: $(WEB)/node_modules/.package-lock.json

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(WEB) --no-audit --no-fund; \
	else echo "npm not found: the web pages will lack their front-end libraries (install node and npm)"; fi

lock: $(UV)
	$(UV) lock

# The customer-side agent in dist/, offered by the gateway at /downloads/ (services/gateway/.../api/downloads.py):
# a wheel, installable alone (`pip install assist_agent-*.whl`), and a one-file executable for this platform that
# needs no Python (PyInstaller, agent/packaging/build_executable.py; about 30 s). Both are rebuilt only when the
# agent's sources, its packaging or the lock changed, so `make run` and `make test` stay cheap.
AGENT_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' agent/pyproject.toml)
AGENT_WHEEL := dist/assist_agent-$(AGENT_VERSION)-py3-none-any.whl
AGENT_EXECUTABLE := dist/assist-agent-$(shell uname -s | tr A-Z a-z)-$(shell uname -m)
AGENT_INPUTS := $(shell find agent/src -type f -name '*.py') agent/pyproject.toml
agent: $(AGENT_WHEEL) $(AGENT_EXECUTABLE)

$(AGENT_WHEEL): $(AGENT_INPUTS) | $(UV)
	$(UV) build --package assist-agent --wheel --out-dir dist
	@touch $@

# After `sync` (order-only: it is phony, and would otherwise rebuild every time): PyInstaller comes from the lock.
$(AGENT_EXECUTABLE): $(AGENT_INPUTS) $(wildcard agent/packaging/*.py) uv.lock | sync
	.venv/bin/python agent/packaging/build_executable.py --dist dist

# uv itself, pinned, in a venv of its own so nothing is installed outside the repository.
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Keeps var/: that is the data of `make run`, not a build product (dist/, the agent `make agent` built, is one).
clean:
	rm -rf .venv .tools .pytest_cache .hypothesis dist
	find . -path ./var -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
