# okta_security — `make demo` and `make test` do all set-up on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.okta-installed
# Airflow 2.11 + FAB provider 1.5 in a venv of its own: tests/airflow2 drive its `airflow webserver`.
AF2_VENV ?= .venv-airflow2
AF2_STAMP := $(AF2_VENV)/.okta-installed

.PHONY: demo dist lint test test-okta test-flaky test-unit test-integration test-airflow2 install airflow2 browser clean

$(STAMP): requirements.txt requirements-airflow.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-airflow.txt -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

$(AF2_STAMP): requirements-airflow2.txt requirements.txt pyproject.toml
	$(PYTHON) -m venv $(AF2_VENV)
	$(AF2_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AF2_VENV)/bin/python -m pip install --quiet -r requirements-airflow2.txt -r requirements.txt
	$(AF2_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(AF2_STAMP)

airflow2: $(AF2_STAMP)

# Debian's chromium for the browser test (Playwright drives it; no browser download at run time).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }; }

# Ctrl-C, SIGTERM or SIGHUP to the demo's python process stops every server it started.
demo: $(STAMP)
	$(PY) -m okta_devstack.demo

# A wheel and an sdist in dist/: the wheel alone installs okta_security (see README, "Install in your Airflow").
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .

# The static gates, all with zero findings: ruff (lint and format), mypy (strict on the pure
# subpackages; the adapter, the local IdP and the devstack at the default level), import-linter (layers, framework imports only in the adapter, the IdP apart).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

test: $(STAMP) $(AF2_STAMP) browser
	$(MAKE) lint
	$(PY) -m pytest -q

# The IdP contract suite against a real Okta org (docs/contract-tests.md); without OKTA_CONTRACT_*
# variables there is nothing to test here (make test runs the suite against the local IdP).
test-okta: $(STAMP)
	@if env | grep -q '^OKTA_CONTRACT_'; then \
	  $(PY) -m pytest -q -rs -p no:cacheprovider tests/idp/test_*_contract.py; \
	else \
	  echo "test-okta: skipped: no real Okta org given. Set the OKTA_CONTRACT_* variables (docs/contract-tests.md);"; \
	  echo "  the contract suite against the local IdP runs in 'make test'."; \
	fi

# Flake hunt: the event-hook, concurrency, groups-API and browser tests RUNS times (default 20)
# with a CPU burner per core, stopping at the first failure (scripts/flake_hunt.sh; FLAKY_TESTS=
# picks other tests).
RUNS ?= 20
test-flaky: $(STAMP) browser
	RUNS=$(RUNS) scripts/flake_hunt.sh $(FLAKY_TESTS)

test-airflow2: $(STAMP) $(AF2_STAMP)
	$(PY) -m pytest -q tests/airflow2

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/idp

test-integration: $(STAMP) browser
	$(PY) -m pytest -q tests/integration tests/browser

clean:
	rm -rf $(VENV) $(AF2_VENV) .demo .pytest_cache
