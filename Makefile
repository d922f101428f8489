# recipe-planner: `make run` starts everything, `make test` runs the whole suite. `make help` lists the rest.
# Needs only Python 3.11+ and make; Redis and PostgreSQL are found or stood in for (scripts/dev_*.py).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
PORT ?= 8000
ARGS ?=
VERBOSE ?=
# Quiet by default (VERBOSE=1 shows pip's and the services' full output).
PIP_QUIET := $(if $(filter 1,$(VERBOSE)),-q,-qq)

MANAGE := $(PY) backend/manage.py
WITH_SERVICES := $(PY) scripts/with_services.py --
# The bench empties the Redis databases it uses: a Redis of its own unless REDIS_URL is set, never the one on 6379.
BENCH_SERVICES := $(PY) scripts/with_services.py --own-redis --
# Tests never use your Redis: the session starts its own (tests/redis_server.py; TEST_REDIS_URL names another).
WITH_TEST_SERVICES := $(PY) scripts/with_services.py --test --

export PYTHONPATH := $(CURDIR)/backend:$(CURDIR)

.PHONY: help install install-bench run test test-rabbitmq test-cluster test-faults lint lint-imports bench bench-quick chaos chaos-quick deploy-check manage celery show-commands clean

help:
	@echo "make run           install, migrate, seed the demo, start the Procfile's web + worker + beat (Ctrl-C stops all)"
	@echo "make test          the whole test suite (ARGS='-k name' to narrow it)"
	@echo "make test-rabbitmq the integration and fault suites on a RabbitMQ broker (a fresh vhost on 127.0.0.1:5672)"
	@echo "make test-faults   only the fault-injection proofs (pytest -m faults)"
	@echo "make test-cluster  the cache tests and the failover test on a Redis Cluster the session starts"
	@echo "make lint          ruff (lint + format check), mypy, import contracts, pip check, Django system checks"
	@echo "make lint-imports  the one-way import contracts of .importlinter (engine <- domain <- api <- config)"
	@echo "make bench         the benchmark suite; make bench-quick for the CI smoke run"
	@echo "make install-bench the peers the bench compares us with (bench/requirements.txt; make bench installs them)"
	@echo "make chaos         the chaos soak (CHAOS_SECONDS, default 300): faults + load + staleness check"
	@echo "make chaos-quick   the ~60 s chaos soak for CI (needs PostgreSQL; DATABASE_URL is dropped and re-created)"
	@echo "make deploy-check  docker-compose config, hadolint, Railway files, run each service's command"
	@echo "make manage ARGS=  any manage.py command (ARGS='invalidate recipe'); make celery ARGS='inspect ping' likewise"
	@echo "make show-commands the Procfile: the commands make run, compose and Railway run"
	@echo "VERBOSE=1          make run and make install show everything (Celery banners, each task, pip)"
	@echo "VENV=path          use another virtualenv (CI passes a fresh one)"

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (PYTHON=$(PYTHON))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements-dev.txt into $(VENV)"
	@$(PY) -m pip install --disable-pip-version-check $(PIP_QUIET) -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

# The peers the bench compares us with (bench/peers/): bench-only, never in requirements*.txt.
$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q -r bench/requirements.txt
	touch $(BENCH_STAMP)

install-bench: $(BENCH_STAMP)

# .env (git-ignored): DEBUG=1, a generated SECRET_KEY and the service URLs, read by every command; written once.
.env: | $(STAMP)
	$(PY) scripts/dev_env.py

# scripts/run.py: the Procfile's release step, seed_demo, then web + worker + beat under honcho (the worker is
# restarted whenever it exits); the walkthrough is printed once web answers.
run: $(STAMP) .env
	@DEBUG=1 $(WITH_SERVICES) $(PY) scripts/run.py --port $(PORT) $(if $(filter 1,$(VERBOSE)),--verbose)

test: $(STAMP)
	$(WITH_TEST_SERVICES) $(PY) -m pytest $(ARGS)

# The same suites with RabbitMQ as the Celery broker (tests/rabbitmq_broker.py makes the session's vhost with
# rabbitmqctl); the tests about the Redis transport itself (-m redis_broker) are deselected.
test-rabbitmq: $(STAMP)
	TEST_CELERY_BROKER=rabbitmq $(WITH_TEST_SERVICES) $(PY) -m pytest tests/integration tests/faults $(ARGS)

# The cache's tests with cache, sessions and pub/sub on a 3-master/3-replica Redis Cluster started for the session
# (tests/redis_cluster.py); the session's standalone Redis stays the broker. Tests that only a single Redis can run
# (MONITOR, exact round-trip counts, marked single_redis) are deselected there.
# Not cache tests (a browser, a fuzzer, the local dev environment, SQLite): they run in `make test`.
CLUSTER_EXCLUDED := tests/integration/test_dashboard_browser.py tests/integration/test_openapi_fuzz.py \
	tests/integration/test_dev_env.py tests/integration/test_sqlite_locking.py tests/integration/test_relay_sqlite.py
CLUSTER_TESTS := tests/unit/test_cluster_slots.py tests/faults/test_cluster_failover.py \
	$(filter-out $(CLUSTER_EXCLUDED),$(wildcard tests/integration/test_*.py))
test-cluster: $(STAMP)
	TEST_REDIS_CLUSTER=1 $(WITH_TEST_SERVICES) $(PY) -m pytest $(CLUSTER_TESTS) $(ARGS)

test-faults: $(STAMP)
	$(WITH_TEST_SERVICES) $(PY) -m pytest -m faults $(ARGS)

# ruff and mypy read pyproject.toml (mypy checks the engine, backend/eventcache); lint-imports reads .importlinter.
lint: $(STAMP)
	$(PY) -m compileall -q backend worker scripts tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pip check
	DEBUG=1 $(PY) backend/manage.py check
	$(MAKE) --no-print-directory lint-imports

# PYTHONPATH (exported above) puts backend/ and the repo root on the path, as import-linter needs.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

bench: $(BENCH_STAMP)
	@test -f bench/__main__.py || { echo "bench/ is not written yet"; exit 1; }
	$(BENCH_SERVICES) $(PY) -m bench $(ARGS)

# CI smoke run of the benchmarks (asserts nothing about speed); a no-op until bench/ exists.
bench-quick: $(BENCH_STAMP)
	@if [ -f bench/__main__.py ]; then $(BENCH_SERVICES) $(PY) -m bench --quick; \
	else echo "bench-quick: bench/__main__.py does not exist yet: nothing to run"; fi

# The chaos soak starts its own Redis and the stack's processes; CHAOS_DATABASE_URL names a database it drops and
# re-creates (never one you keep; DATABASE_URL is not used). Exit 1 when the goal is missed (docs/chaos/<name>.md).
CHAOS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/rp_chaos

chaos: $(STAMP)
	CHAOS_DATABASE_URL=$(CHAOS_DATABASE_URL) VENV=$(VENV) $(PY) -m chaos $(ARGS)

chaos-quick: $(STAMP)
	CHAOS_DATABASE_URL=$(CHAOS_DATABASE_URL) VENV=$(VENV) $(PY) -m chaos --quick $(ARGS)

deploy-check: $(STAMP)
	@command -v docker-compose >/dev/null || { echo "docker-compose is missing: apt-get install -y docker-compose"; exit 1; }
	docker-compose -f docker-compose.yml config -q
	$(VENV)/bin/hadolint Dockerfile Dockerfile.worker
	$(WITH_TEST_SERVICES) $(PY) -m pytest -m deploy $(ARGS)

# Any manage.py or celery command with this virtualenv and .env: make manage ARGS='invalidate recipe'
manage: $(STAMP)
	$(MANAGE) $(ARGS)

celery: $(STAMP)
	$(VENV)/bin/celery -A worker.celery_app $(ARGS)

show-commands:
	@grep -v '^#' Procfile

clean:
	rm -rf var .pytest_cache .hypothesis .mypy_cache .ruff_cache
