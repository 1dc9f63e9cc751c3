"""Every command reads a setting in the server's three forms and says which one it used.

``okta-airflow login`` here: a real process with its own AIRFLOW_HOME, so Airflow reads the
airflow.cfg written for the test. The issuer is a closed local port, so the command stops right
after reading its settings, at the device authorization request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from okta_security.settings.loader import ConfigValue, setting_source

if TYPE_CHECKING:
    from pathlib import Path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_login(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OKTA_", "AIRFLOW__OKTA__", "AIRFLOW_"))}
    return subprocess.run(
        [sys.executable, "-m", "okta_security.cli", "login", "--okta-token", "--no-browser", "--timeout", "5"],
        env={**base, "AIRFLOW_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("form", "cfg", "env", "origin"),
    [
        ("okta", "", {"OKTA_CLI_CLIENT_ID": "from-okta-env"}, "OKTA_CLI_CLIENT_ID"),
        ("airflow.cfg", "cli_client_id = from-okta-env\n", {}, "airflow.cfg [okta] cli_client_id"),
        ("airflow env", "", {"AIRFLOW__OKTA__CLI_CLIENT_ID": "from-okta-env"}, "AIRFLOW__OKTA__CLI_CLIENT_ID"),
    ],
)
def test_login_reads_the_client_id_in_each_of_the_server_s_forms(tmp_path, form, cfg, env, origin):
    issuer = f"http://127.0.0.1:{closed_port()}/oauth2/default"
    (tmp_path / "airflow.cfg").write_text(f"[okta]\nissuer = {issuer}\n{cfg}")
    done = run_login(tmp_path, env)
    assert "no Okta app" not in done.stderr, done.stderr
    assert f"okta-airflow: OKTA_CLI_CLIENT_ID = 'from-okta-env' (from {origin})" in done.stderr, done.stderr
    assert f"okta-airflow: OKTA_ISSUER = '{issuer}' (from airflow.cfg [okta] issuer)" in done.stderr
    assert done.returncode == 1  # the closed port: Okta did not answer, after the settings were read


def test_without_a_client_id_the_error_names_all_three_forms(tmp_path):
    (tmp_path / "airflow.cfg").write_text(f"[okta]\nissuer = http://127.0.0.1:{closed_port()}/oauth2/default\n")
    done = run_login(tmp_path, {})
    assert done.returncode == 2
    for form in ("OKTA_CLI_CLIENT_ID", "[okta] cli_client_id", "AIRFLOW__OKTA__CLI_CLIENT_ID"):
        assert form in done.stderr


def test_setting_source_names_the_form_and_keeps_secrets_out_of_it(tmp_path):
    assert setting_source("OKTA_CLI_CLIENT_ID", {"OKTA_CLI_CLIENT_ID": "a"}) == ("a", "OKTA_CLI_CLIENT_ID")
    secret = tmp_path / "s"
    secret.write_text("hunter2\n")
    text, origin = setting_source("OKTA_CLIENT_SECRET", {"OKTA_CLIENT_SECRET_FILE": str(secret)})
    assert (text, origin) == ("hunter2", "OKTA_CLIENT_SECRET_FILE")
    given = {"client_secret": ConfigValue("x", "AIRFLOW__OKTA__CLIENT_SECRET_CMD")}
    assert setting_source("OKTA_CLIENT_SECRET", {}, given) == ("x", "AIRFLOW__OKTA__CLIENT_SECRET_CMD")
    assert setting_source("OKTA_CLI_CLIENT_ID", {}) == ("", "")


def test_check_mapping_reads_the_file_setting_from_airflow_and_says_so(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("default_role: null\nmappings:\n  airflow-admins: [Admin]\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OKTA_", "AIRFLOW__OKTA__", "AIRFLOW_"))}
    done = subprocess.run(
        [sys.executable, "-m", "okta_security.cli", "check-mapping", "--no-db"],
        env={**base, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__OKTA__ROLE_MAPPING_FILE": str(mapping)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"OKTA_ROLE_MAPPING_FILE = '{mapping}' (from AIRFLOW__OKTA__ROLE_MAPPING_FILE)" in done.stderr
