# okta_security — `make demo` and `make test` do all set-up on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.okta-installed
# Airflow 2.11 + FAB provider 1.5 in a venv of its own: tests/airflow2 drive its `airflow webserver`.
AF2_VENV ?= .venv-airflow2
AF2_STAMP := $(AF2_VENV)/.okta-installed

.PHONY: demo test test-unit test-integration test-airflow2 install airflow2 browser clean

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

demo: $(STAMP)
	$(PY) -m okta_devstack.demo

test: $(STAMP) $(AF2_STAMP) browser
	$(PY) -m pytest -q

test-airflow2: $(STAMP) $(AF2_STAMP)
	$(PY) -m pytest -q tests/airflow2

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/idp

test-integration: $(STAMP) browser
	$(PY) -m pytest -q tests/integration tests/browser

clean:
	rm -rf $(VENV) $(AF2_VENV) .demo .pytest_cache
