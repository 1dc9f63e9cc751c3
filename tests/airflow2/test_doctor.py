"""``okta-airflow doctor`` inside the Airflow 2.11 environment: 2.x settings, root callback path."""

from __future__ import annotations

import json
import subprocess

from tests.airflow2.conftest import AIRFLOW2_VENV, Stack2


def doctor(env: dict[str, str]) -> tuple[int, dict]:
    proc = subprocess.run(
        [str(AIRFLOW2_VENV / "bin" / "okta-airflow"), "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.stdout, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["airflow_version"].startswith("2.11.")
    return proc.returncode, {c["check"]: c for c in report["checks"]}


def test_doctor_passes_beside_the_airflow_2_webserver(af2: Stack2):
    code, checks = doctor(af2.airflow.env())
    assert code == 0, json.dumps(checks, indent=1)
    assert checks["webserver_config"]["data"]["setting"] == "[webserver] config_file"
    assert checks["redirect_uris"]["data"] == {
        "sign_in_redirect_uri": f"{af2.url}/oauth-authorized/okta",
        "sign_out_redirect_uri": f"{af2.url}/login/",
        "initiate_login_uri": f"{af2.url}/login/okta",
        "accepted": True,
    }
    assert {"Admin", "Viewer", "Public"} <= set(checks["roles"]["data"]["known_roles"])


def test_doctor_names_airflow_2_settings_when_they_are_wrong(af2: Stack2, tmp_path):
    env = af2.airflow.env()
    env["AIRFLOW__WEBSERVER__CONFIG_FILE"] = str(tmp_path / "missing.py")
    env["AIRFLOW__WEBSERVER__BASE_URL"] = "https://airflow.example.com"
    code, checks = doctor(env)
    assert code == 1
    assert "[webserver] config_file = " in checks["webserver_config"]["detail"]
    assert "AIRFLOW__WEBSERVER__CONFIG_FILE" in checks["webserver_config"]["fix"]
    redirect = checks["redirect_uris"]
    assert redirect["status"] == "fail"  # Okta (the local IdP) does not know that URI
    assert "add exactly https://airflow.example.com/oauth-authorized/okta" in redirect["fix"]
    assert "AIRFLOW__WEBSERVER__ENABLE_PROXY_FIX=True" in redirect["fix"]
