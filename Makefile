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

# The worker's -Q comes from the one list of queue names (backend/config/queues.py, stdlib only).
QUEUES := $(shell cd backend && $(PYTHON) -m config.queues)
MANAGE := $(PY) backend/manage.py
WEB_CMD := $(VENV)/bin/gunicorn config.wsgi --chdir backend --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile -
WORKER_CMD := $(VENV)/bin/celery -A worker.celery_app worker -Q $(QUEUES) --loglevel INFO
BEAT_CMD := $(VENV)/bin/celery -A worker.celery_app beat --loglevel INFO -s var/celerybeat-schedule
WITH_SERVICES := $(PY) scripts/with_services.py --

export PYTHONPATH := $(CURDIR)/backend:$(CURDIR)

.PHONY: help install run test test-faults lint bench bench-quick deploy-check show-commands clean

help:
	@echo "make run           install, migrate, seed the demo, start web + worker + beat (Ctrl-C stops all)"
	@echo "make test          the whole test suite (ARGS='-k name' to narrow it)"
	@echo "make test-faults   only the fault-injection proofs (pytest -m faults)"
	@echo "make lint          byte-compile everything, pip check, Django system checks"
	@echo "make bench         the benchmark suite; make bench-quick for the CI smoke run"
	@echo "make deploy-check  docker-compose config, hadolint, Railway files, run each service's command"
	@echo "make show-commands the exact web, worker and beat commands make run starts"
	@echo "VENV=path          use another virtualenv (CI passes a fresh one)"

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The peers the bench compares us with (bench/peers/): bench-only, never in requirements*.txt.
$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q -r bench/requirements.txt
	touch $(BENCH_STAMP)

run: $(STAMP)
	@mkdir -p var
	DEBUG=1 $(WITH_SERVICES) $(PY) scripts/run_all.py --url http://127.0.0.1:$(PORT) \
		--setup "$(MANAGE) migrate --noinput" \
		--setup "$(MANAGE) seed_demo" \
		--proc "web=$(WEB_CMD)" \
		--proc "worker=$(WORKER_CMD)" \
		--proc "beat=$(BEAT_CMD)"

test: $(STAMP)
	$(WITH_SERVICES) $(PY) -m pytest $(ARGS)

test-faults: $(STAMP)
	$(WITH_SERVICES) $(PY) -m pytest -m faults $(ARGS)

lint: $(STAMP)
	$(PY) -m compileall -q backend worker scripts tests
	$(PY) -m pip check
	DEBUG=1 $(PY) backend/manage.py check

bench: $(BENCH_STAMP)
	@test -f bench/__main__.py || { echo "bench/ is not written yet"; exit 1; }
	$(WITH_SERVICES) $(PY) -m bench $(ARGS)

# CI smoke run of the benchmarks (asserts nothing about speed); a no-op until bench/ exists.
bench-quick: $(BENCH_STAMP)
	@if [ -f bench/__main__.py ]; then $(WITH_SERVICES) $(PY) -m bench --quick; \
	else echo "bench-quick: bench/__main__.py does not exist yet: nothing to run"; fi

deploy-check: $(STAMP)
	@command -v docker-compose >/dev/null || { echo "docker-compose is missing: apt-get install -y docker-compose"; exit 1; }
	docker-compose -f docker-compose.yml config -q
	$(VENV)/bin/hadolint Dockerfile Dockerfile.worker
	$(WITH_SERVICES) $(PY) -m pytest -m deploy $(ARGS)

show-commands:
	@echo "web: $(WEB_CMD)"
	@echo "worker: $(WORKER_CMD)"
	@echo "beat: $(BEAT_CMD)"

clean:
	rm -rf var .pytest_cache .hypothesis
