# okta_security — `make demo` and `make test` do all set-up on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.okta-installed
# Airflow 2.11 + FAB provider 1.5 in a venv of its own: tests/airflow2 drive its `airflow webserver`.
AF2_VENV ?= .venv-airflow2
AF2_STAMP := $(AF2_VENV)/.okta-installed

.PHONY: demo dist lock test-latest lint test test-okta test-flaky test-unit test-integration test-airflow2 install airflow2 browser clean

# Each venv installs only its lock file (requirements/*.lock: every package pinned, with hashes),
# so a new upstream release never changes what `make test` runs. `make lock` regenerates the locks
# from the requirements/*.in files and pyproject.toml; `make test-latest` tries the newest versions.
PIP_VERSION ?= 26.3
UV_VERSION ?= 0.13.10
LOCK_VENV ?= .venv-lock
UV := $(LOCK_VENV)/bin/uv
COMPILE = $(UV) pip compile --quiet --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

$(STAMP): requirements/airflow3.lock pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --require-hashes -r requirements/airflow3.lock
	WITH_DEV_PACKAGES=1 $(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

$(AF2_STAMP): requirements/airflow2.lock pyproject.toml setup.py
	$(PYTHON) -m venv $(AF2_VENV)
	$(AF2_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(AF2_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/airflow2.lock
	WITH_DEV_PACKAGES=1 $(AF2_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(AF2_STAMP)

airflow2: $(AF2_STAMP)

$(UV):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# Re-resolve both locks at the newest versions the .in files and pyproject.toml allow (UPGRADE=
# "--upgrade-package NAME" moves one package only). Commit the locks with the change that needs them.
UPGRADE ?= --upgrade
lock: $(UV)
	$(COMPILE) $(UPGRADE) -o requirements/airflow3.lock requirements/airflow3.in requirements/test.in pyproject.toml
	$(COMPILE) $(UPGRADE) -o requirements/airflow2.lock requirements/airflow2.in pyproject.toml

# Throw-away venvs from the .in files at the newest versions (no lock), then the unit tests and the
# Airflow 3 and 2.11 login, person-token and bot tests: finds upstream breakage on purpose.
test-latest: browser
	PYTHON=$(PYTHON) scripts/test_latest.sh

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
# Beside them: the wheel's runtime dependencies at the versions the tests ran (the lock file's pins, with
# hashes), a CycloneDX SBOM of them (cyclonedx-py) and SHA256SUMS of every file. DIST= writes elsewhere.
DIST ?= dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
dist: $(STAMP) $(UV)
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST) .
	$(UV) pip compile --quiet --python-version 3.11 --generate-hashes --no-header -c requirements/airflow3.lock \
	  -o $(DIST)/okta_security-$(VERSION)-requirements.txt pyproject.toml
	$(VENV)/bin/cyclonedx-py requirements --pyproject pyproject.toml --mc-type library --output-reproducible \
	  --of JSON -o $(DIST)/okta_security-$(VERSION).cdx.json $(DIST)/okta_security-$(VERSION)-requirements.txt
	cd $(DIST) && sha256sum okta_security-* > SHA256SUMS

# The static gates, all with zero findings: ruff (lint and format), mypy (strict on the pure
# subpackages; the adapter, the local IdP and the devstack at the default level), import-linter (layers, framework imports only in the adapter, the IdP apart).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

# Every test in one run spread by pytest-xdist over PYTEST_WORKERS processes. `--dist loadgroup`
# keeps the tests of one running server in the process that started it (tests/conftest.py gives
# each test its server's group), so every server starts once; the unit tests fill the gaps.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup
test: $(STAMP) $(AF2_STAMP) browser
	$(MAKE) lint
	$(PY) -m pytest -q $(XDIST)

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
	$(PY) -m pytest -q $(XDIST) tests/airflow2

test-unit: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) tests/unit tests/idp

test-integration: $(STAMP) browser
	$(PY) -m pytest -q $(XDIST) tests/integration tests/browser

clean:
	rm -rf $(VENV) $(AF2_VENV) $(LOCK_VENV) .demo .pytest_cache
