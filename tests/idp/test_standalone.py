"""The local IdP on its own: the `okta-local-idp` command from any directory, with the shipped config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_config_defines_the_cli_s_scope_and_groups_in_access_tokens():
    server = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())["server"]
    assert "airflow.api" in server["custom_scopes"]  # OKTA_BOT_SCOPES' default, asked by okta-airflow login
    assert server["access_token_groups_claim"] is True


def test_okta_local_idp_runs_from_any_directory_with_the_shipped_config(tmp_path):
    command = shutil.which("okta-local-idp", path=str(Path(sys.executable).parent))
    assert command, "no okta-local-idp command: the development install (make install) adds it"
    proc = subprocess.Popen(
        [command, "--port", "0", "--log-level", "WARNING"],
        cwd=tmp_path,  # not the repository: the default config is found from the package
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "issuer" in line, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        issuer = line.rsplit("issuer ", 1)[1].strip()
        discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        assert "airflow.api" in discovery["scopes_supported"]
        started = requests.post(
            f"{issuer}/v1/device/authorize",
            data={"client_id": "airflow-cli", "scope": "openid airflow.api"},
            timeout=10,
        )
        assert started.status_code == 200, started.text  # not invalid_scope
        assert started.json()["user_code"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
