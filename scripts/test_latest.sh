#!/usr/bin/env bash
# `make test-latest`: install the newest versions the requirements/*.in files and pyproject.toml
# allow into throw-away venvs (no lock), then run the unit tests and the Airflow 3 and 2.11 login,
# person-token and bot tests against them. A failure here is upstream breakage found on purpose;
# `make test` keeps using the locks until `make lock` moves them.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/okta-test-latest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "test-latest: Airflow 3 venv from requirements/airflow3.in + test.in (newest versions)"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip
WITH_DEV_PACKAGES=1 "$WORK/venv/bin/python" -m pip install --quiet -r requirements/airflow3.in -r requirements/test.in -e .

echo "test-latest: Airflow 2.11 venv from requirements/airflow2.in (newest versions)"
"$PYTHON" -m venv "$WORK/venv-airflow2"
"$WORK/venv-airflow2/bin/python" -m pip install --quiet --upgrade pip
WITH_DEV_PACKAGES=1 "$WORK/venv-airflow2/bin/python" -m pip install --quiet -r requirements/airflow2.in -e .

echo "test-latest: what was installed (differences from the locks)"
for pair in "venv:requirements/airflow3.lock" "venv-airflow2:requirements/airflow2.lock"; do
  venv=${pair%%:*} lock=${pair#*:}
  # Names compared as pip normalises them (case, _ and -), sorted after normalising.
  "$WORK/$venv/bin/python" -m pip freeze --exclude-editable | tr 'A-Z_' 'a-z-' | sort >"$WORK/$venv.freeze"
  grep -E '^[A-Za-z0-9_.-]+==' "$lock" | sed 's/ .*//' | tr 'A-Z_' 'a-z-' | sort >"$WORK/$venv.lock"
  diff "$WORK/$venv.lock" "$WORK/$venv.freeze" | grep '^>' | sed "s/^>/  $venv: newer or extra:/" || true
done

OKTA_AIRFLOW2_VENV="$WORK/venv-airflow2" "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/unit \
  tests/integration/test_login.py tests/integration/test_people_api.py tests/integration/test_bots.py \
  tests/airflow2/test_login.py tests/airflow2/test_people_api.py tests/airflow2/test_bots.py "$@"
