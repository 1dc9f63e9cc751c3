"""Bots on Airflow 2.11: Okta client-credentials tokens on every ``/api/v1`` request through
``[api] auth_backends = ...session,okta_security.airflow2_api_auth`` of a real ``airflow webserver``."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import requests
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_security.airflow_layout import AIRFLOW_2
from tests.airflow2.conftest import airflow2_bin
from tests.integration.helpers import user_roles, user_row

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

AUDIENCE = "api://airflow"
SCOPE = "airflow.api"
AUTH_BACKENDS = "airflow.providers.fab.auth_manager.api.auth.backend.session,okta_security.airflow2_api_auth"
CLIENTS_SECTION = """
clients:
  ci-viewer:
    name: ci-viewer
    roles: [Viewer]
  ops-bot:
    name: ops
    roles: [Op]
"""


@dataclass
class Bots2:
    airflow: AirflowServer
    idp: IdpHandle
    mapping: Path

    @property
    def url(self) -> str:
        return self.airflow.base_url


@pytest.fixture(scope="module")
def bots2(tmp_path_factory) -> Iterator[Bots2]:
    bin_dir = airflow2_bin()
    root = tmp_path_factory.mktemp("bots-airflow2")
    port = free_port()
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"].update(custom_scopes=[SCOPE, "other.scope"], audience=AUDIENCE)
    for client in data["clients"]:
        client["redirect_uris"] = [f"http://127.0.0.1:{port}{AIRFLOW_2.callback_path}"]
    cc = {"grant_types": ["client_credentials"]}
    data["clients"] += [
        {"client_id": name, "client_secret": f"{name}-secret", **cc}
        for name in ("ci-viewer", "ops-bot", "stranger-bot")
    ]
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    mapping.write_text(mapping.read_text() + CLIENTS_SECTION)
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        bin_dir=bin_dir,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": "airflow-local",
            "OKTA_CLIENT_SECRET": "airflow-local-secret",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_BOT_AUDIENCE": AUDIENCE,
            "AIRFLOW__API__AUTH_BACKENDS": AUTH_BACKENDS,
        },
    )
    assert airflow.layout is AIRFLOW_2
    try:
        airflow.prepare()
        airflow.start()
        yield Bots2(airflow, idp, mapping)
    finally:
        airflow.stop()
        idp.shutdown()


def okta_token(stack: Bots2, client_id: str, scope: str = SCOPE) -> str:
    response = requests.post(
        f"{stack.idp.issuer}/v1/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, f"{client_id}-secret"),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api(stack: Bots2, method: str, path: str, token: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{stack.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)


def test_a_viewer_bot_reads_and_cannot_write(bots2: Bots2):
    token = okta_token(bots2, "ci-viewer")
    dags = api(bots2, "GET", "/dags", token)
    assert dags.status_code == 200, dags.text
    assert "session" not in dags.cookies  # no session: access ends with the Okta token
    assert api(bots2, "POST", "/pools", token, json={"name": "p", "slots": 1}).status_code == 403
    assert user_roles(bots2.airflow.db_url, "svc-ci-viewer") == {"Viewer"}
    assert user_row(bots2.airflow.db_url, "svc-ci-viewer")["password"] is None


def test_an_op_bot_writes_as_its_service_user(bots2: Bots2):
    token = okta_token(bots2, "ops-bot")
    created = api(bots2, "POST", "/pools", token, json={"name": "ops-pool", "slots": 2})
    assert created.status_code == 200, created.text
    assert user_roles(bots2.airflow.db_url, "svc-ops") == {"Op"}


@pytest.mark.parametrize(
    ("client", "scope", "status", "error", "words"),
    [
        ("stranger-bot", SCOPE, 403, "unmapped_client", "not mapped to any Airflow role"),
        ("ci-viewer", "other.scope", 401, "invalid_access_token", "lacks the scope(s) airflow.api"),
    ],
)
def test_refusals_say_why(bots2: Bots2, client, scope, status, error, words):
    response = api(bots2, "GET", "/dags", okta_token(bots2, client, scope))
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status"], body["error"]) == (status, error)
    assert words in body["detail"]
    assert words in response.headers["WWW-Authenticate"]


def test_a_request_without_a_bearer_token_is_left_to_airflow(bots2: Bots2):
    anonymous = requests.get(f"{bots2.url}/api/v1/dags", timeout=60)
    assert anonymous.status_code == 403  # Airflow 2.11 + FAB 4.5: anonymous = AUTH_ROLE_PUBLIC, no okta body
    assert "error" not in anonymous.json()


def test_one_audit_row_per_okta_token(bots2: Bots2):
    token = okta_token(bots2, "ci-viewer")
    for _ in range(3):
        assert api(bots2, "GET", "/dags", token).status_code == 200
    jti = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "==="))["jti"]
    deadline = time.monotonic() + 10
    rows: list = []
    while time.monotonic() < deadline and not rows:
        rows = [r for r in _log_rows(bots2, "bot.token_exchanged") if json.loads(r["extra"]).get("token_jti") == jti]
        time.sleep(0.2)
    assert len(rows) == 1
    assert rows[0]["owner"] == "svc-ci-viewer"


def _log_rows(stack: Bots2, event: str) -> list[dict]:
    import sqlalchemy as sa

    engine = sa.create_engine(stack.airflow.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT owner, extra FROM log WHERE event = :e"), {"e": event})
            return [dict(r) for r in rows.mappings()]
    finally:
        engine.dispose()
