# The project's interface: CI calls these targets and nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TOOLS := .tools
PROTO_FILES := $(shell find proto -name '*.proto' | sort)
GEN_DIR := services/crm

.PHONY: help install dev test test-unit test-journey lint proto proto-check check chart-check bench bench-matching clean \
	dashboards chart-readme telemetry-check observability-check

help:
	@echo "make dev          run the whole system locally (embedded PostgreSQL, nats-server, every service)"
	@echo "make test         run every test (unit tests per service, then the journey tests)"
	@echo "make lint         buf lint the protos, ruff the Python"
	@echo "make proto        regenerate the Python code from proto/ into $(GEN_DIR)"
	@echo "make check        generated code is fresh, the Helm chart renders, lints and validates, alerts pass"
	@echo "                  promtool tests, every dashboard query works against Prometheus on the local stack"
	@echo "make dashboards   regenerate the Grafana dashboards (tools/dashboards) into the chart"
	@echo "make chart-readme regenerate the chart README's values table from values.schema.json"
	@echo "make bench        run the throughput benchmark on a local stack"

install: $(VENV)/.installed $(TOOLS)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The source roots (services/ for the service packages and generated contracts, the
	# repository root for gateway/ and tools/) go on sys.path of the virtualenv.
	site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
		printf '%s\n%s\n' "$(CURDIR)/services" "$(CURDIR)" > "$$site/crm-backbone-src.pth"
	touch $@

$(TOOLS)/.installed: tools/package.json tools/package-lock.json tools/install_tools.py | $(VENV)/.installed
	$(PY) tools/install_tools.py --dest $(TOOLS)
	touch $@

dev: install
	$(PY) -m tools.devstack

test: install proto-check
	$(PY) -m pytest -q services gateway
	$(PY) -m pytest -q tests

lint: install
	$(TOOLS)/bin/buf lint proto
	$(PY) -m ruff check services gateway tests tools
	$(PY) -m tools.docs_check

proto: $(VENV)/.installed
	rm -rf $(GEN_DIR)
	$(PY) tools/gen_proto.py --out $(GEN_DIR)

proto-check: $(VENV)/.installed
	$(PY) tools/gen_proto.py --check $(GEN_DIR)

check: install proto-check chart-check telemetry-check observability-check

chart-check: install
	$(PY) -m tools.chart_check

# The fault suite: each fault under a steady load of captures, with its figures (docs/reliability.md).
faults: install
	$(PY) -m tools.faults $(FAULTS_ARGS)

# The metric and span attribute registry agrees with crm_common/metrics.py and the code.
telemetry-check: install
	$(PY) -m tools.telemetry_registry

# Every dashboard panel and alert query against a real Prometheus scraping the local stack under load.
observability-check: install
	$(PY) -m tools.observability_check

dashboards: $(VENV)/.installed
	$(PY) -m tools.dashboards

chart-readme: $(VENV)/.installed
	$(PY) -m tools.chart_readme

bench: install
	$(PY) -m tools.bench.lead_throughput

# Matching quality beside splink and recordlinkage (the `bench` extra), and speed on 1M accounts.
bench-matching: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m tools.bench.matching_quality
	$(PY) -m tools.bench.matching_speed

clean:
	rm -rf $(VENV) $(TOOLS) .dev
