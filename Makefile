# The two commands are `make run` and `make test`; both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-stamp
# The dedicated /metrics listener (off the event loop) that make monitor scrapes.
METRICS_LISTEN ?= 127.0.0.1:9108

.PHONY: run run-workers test lint typecheck pytest docs bench monitor clean frontend vitest ops-assets

# The product (metrics/, editable, with every extra) plus the demo's and the
# tests' dependency groups (pip 25.1+ reads [dependency-groups]).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[daphne,multiprocess,redis,http,ops]' --group test
	touch $(STAMP)

# The frontend (Node.js 18+ and npm): npm ci when the lock changes, the status
# page's Vite build (the package's demo, frontend/demo/) when the sources change;
# the page serves frontend/demo/dist. The library itself builds to frontend/dist
# (`npm run build`, run by `npm pack`).
NODE_STAMP := frontend/node_modules/.ci-stamp
BUNDLE_STAMP := frontend/demo/dist/.build-stamp
FRONTEND_SRC := $(shell find frontend/src frontend/demo -path frontend/demo/dist -prune -o -type f -print 2>/dev/null)

$(NODE_STAMP): frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed: the frontend needs Node.js 18+ and npm (sudo apt-get install nodejs npm)"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund
	touch $@

$(BUNDLE_STAMP): $(NODE_STAMP) $(FRONTEND_SRC)
	cd frontend && npm run build:demo
	touch $@

frontend: $(BUNDLE_STAMP)

vitest: $(NODE_STAMP)
	cd frontend && npm test

# X-Forwarded-For/-Proto believed only from VIDAI_TRUSTED_PROXIES (uvicorn's own
# default trusts 127.0.0.1); h11 bounds request heads (httptools does not).
# vidai/serving.py gives gunicorn and the tests the same options.
UVICORN_FLAGS = --http h11 --h11-max-incomplete-event-size 16384 \
	$(if $(VIDAI_TRUSTED_PROXIES),--proxy-headers --forwarded-allow-ips '$(VIDAI_TRUSTED_PROXIES)',--no-proxy-headers)

# seed_demo (DEBUG only) creates the demo users and consultation and prints how to log in.
run: $(STAMP) frontend
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=1 VIDAI_METRICS_LISTEN=$(METRICS_LISTEN) \
		$(BIN)/uvicorn vidai.asgi:application --host $(HOST) --port $(PORT) \
		--ws-ping-interval 20 --ws-ping-timeout 20 $(UVICORN_FLAGS)

# Several workers on one host: gunicorn with uvicorn workers in prometheus_client
# multiprocess mode (gunicorn.conf.py; docs/scaling.md). Set REDIS_URL for several hosts.
WORKERS ?= 4
run-workers: $(STAMP) frontend
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=1 VIDAI_METRICS_LISTEN=$(METRICS_LISTEN) \
		$(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) \
		--workers $(WORKERS) vidai.asgi:application

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two runs, one settings module each (pytest-django takes one per run): the
# product's tests on tests/settings.py, which names no part of the demo, then
# the Vidai demo's tests (tests/demo/) on its own settings.
pytest: $(STAMP) frontend
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/pytest --ds=tests.demo.settings tests/demo $(DEMO_PYTEST_ARGS)

# The reference in docs/ as a site (mkdocs.yml), built strictly into a temporary
# directory: a broken link or anchor, or a page missing from the nav, fails it.
docs: $(STAMP)
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
		$(BIN)/mkdocs build --strict --site-dir "$$site"

test: lint typecheck vitest docs pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The rules, alerts, dashboard and PrometheusRule for a scrape job (python -m
# metrics.ops_assets; docs/runbook.md). Without OUT_DIR: the bundled files here.
JOB ?= vidai
OUT_DIR ?=
RUNBOOK_URL ?=
GRAFANA_URL ?=
ops-assets: $(STAMP)
	$(BIN)/python -m metrics.ops_assets --job '$(JOB)' $(if $(OUT_DIR),--out '$(OUT_DIR)') \
		$(if $(RUNBOOK_URL),--runbook-url '$(RUNBOOK_URL)') \
		$(if $(GRAFANA_URL),--grafana-url '$(GRAFANA_URL)')

# A local Prometheus (Debian package "prometheus") with the bundled rules,
# scraping the dedicated listener of `make run`'s server every 5 s; UI on
# http://127.0.0.1:$(MONITOR_PORT).
MONITOR_PORT ?= 9090
MONITOR_DIR := .prometheus-data
monitor:
	@command -v prometheus >/dev/null || { echo "prometheus is not installed (sudo apt-get install prometheus)"; exit 1; }
	mkdir -p $(MONITOR_DIR)
	printf '%s\n' \
		'global: {scrape_interval: 5s, evaluation_interval: 5s}' \
		'rule_files: ["$(CURDIR)/prometheus/rules/*.yml"]' \
		'scrape_configs:' \
		'  - job_name: vidai' \
		'    static_configs: [{targets: ["$(METRICS_LISTEN)"]}]' \
		> $(MONITOR_DIR)/prometheus.yml
	prometheus --config.file=$(MONITOR_DIR)/prometheus.yml --storage.tsdb.path=$(MONITOR_DIR)/data \
		--web.listen-address=127.0.0.1:$(MONITOR_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output site $(MONITOR_DIR) \
		frontend/node_modules frontend/dist frontend/demo/dist frontend/*.tgz
