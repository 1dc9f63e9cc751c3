"""People on Airflow 2.11's REST API: a person's Okta access token (device sign-in) as the bearer of every
``/api/v1`` request, through ``[api] auth_backends = ...session,okta_security.airflow2_api_auth`` of a real
``airflow webserver``. There is no token exchange on 2.11; the same checks and roles apply per token."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
import sqlalchemy as sa
import yaml

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import decide_device
from okta_security.airflow_layout import AIRFLOW_2
from tests.airflow2.conftest import airflow2_bin
from tests.integration.helpers import user_roles, user_row
from tests.integration.test_audit import audit_rows, last_log_id
from tests.integration.test_people_api import person_claims
from tests.polling import until

if TYPE_CHECKING:
    from collections.abc import Iterator

AUDIENCE = "api://airflow"
SCOPE = "airflow.api"
CLI, OTHER_CLI = "airflow-cli", "other-cli"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTH_BACKENDS = "airflow.providers.fab.auth_manager.api.auth.backend.session,okta_security.airflow2_api_auth"
ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
GIL, GIL_ID = ("gil.gone@example.com", "Gone-pass-1"), "00ugone00000000000009"  # offboarded by one test
ULO, ULO_ID = ("ulo.person@example.com", "Ulo-pass-1"), "00uulo0000000000002b"  # signed out by Okta in one test
ULO_PATH = "/okta/global-token-revocation"  # Airflow 2.11: FAB's views at the root
API_TOKEN = "00local-dev-api-token"
EVENT_HOOK_SECRET = "Bearer people-airflow2-hook-secret"


@dataclass
class People2:
    airflow: AirflowServer
    idp: IdpHandle

    @property
    def url(self) -> str:
        return self.airflow.base_url


@pytest.fixture(scope="module")
def people2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People2]:
    bin_dir = airflow2_bin()
    root = tmp_path_factory.mktemp("people-airflow2")
    port = free_port()
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"].update(
        custom_scopes=[SCOPE], audience=AUDIENCE, access_token_groups_claim=True, device_poll_interval=1
    )
    for client in data["clients"]:
        if client["client_id"] == "airflow-local":
            client["redirect_uris"] = [f"http://127.0.0.1:{port}{AIRFLOW_2.callback_path}"]
    data["clients"].append(
        {"client_id": OTHER_CLI, "token_endpoint_auth_method": "none", "grant_types": [DEVICE_GRANT]}
    )
    data["server"]["api_token"] = API_TOKEN  # the IdP's Management API, for offboarding; Airflow gets no API access
    data["users"].append(
        {"id": GIL_ID, "login": GIL[0], "password": GIL[1], "email": GIL[0], "groups": ["airflow-viewers"]}
    )
    data["users"].append(
        {"id": ULO_ID, "login": ULO[0], "password": ULO[1], "email": ULO[0], "groups": ["airflow-viewers"]}
    )
    for client in data["clients"]:
        if client["client_id"] == "airflow-local":
            client["universal_logout"] = {"url": f"http://127.0.0.1:{port}{ULO_PATH}"}
    data["event_hooks"] = [
        {"name": "airflow", "url": f"http://127.0.0.1:{port}/okta/events", "authorization": EVENT_HOOK_SECRET}
    ]
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
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
            "OKTA_CLI_CLIENT_ID": CLI,
            "AIRFLOW__API__AUTH_BACKENDS": AUTH_BACKENDS,
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": f"http://127.0.0.1:{port}{ULO_PATH}",
        },
    )
    assert airflow.layout is AIRFLOW_2
    try:
        airflow.prepare()
        airflow.start()
        yield People2(airflow, idp)
    finally:
        airflow.stop()
        idp.shutdown()


def person_token(stack: People2, who: tuple[str, str], client_id: str = CLI) -> str:
    """Return ``who``'s Okta access token from a device sign-in (approved on the activation page)."""
    issuer = stack.idp.issuer
    device = requests.post(
        f"{issuer}/v1/device/authorize", data={"client_id": client_id, "scope": SCOPE}, timeout=10
    ).json()
    decide_device(requests.Session(), device["verification_uri_complete"], *who)
    time.sleep(device["interval"])
    data = {"grant_type": DEVICE_GRANT, "device_code": device["device_code"], "client_id": client_id}
    response = requests.post(f"{issuer}/v1/token", data=data, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api(stack: People2, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{stack.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)


def test_alice_reads_and_writes_with_her_okta_token_signed_in_once(people2: People2):
    since = last_log_id(people2.airflow.db_url)
    token = person_token(people2, ALICE)
    assert api(people2, "GET", "/dags", token).status_code == 200
    created = api(people2, "POST", "/variables", token, json={"key": "alice", "value": "v"})
    assert created.status_code == 200, created.text
    assert user_roles(people2.airflow.db_url, ALICE[0]) == {"Admin"}
    rows = audit_rows(people2.airflow.db_url, event="login.succeeded", owner=ALICE[0], since_id=since)
    assert len(rows) == 1  # two requests, one sign-in per Okta token
    assert (rows[0]["extra"]["sign_in"], rows[0]["extra"]["via"]) == ("api", "airflow2_api_auth")


def test_bob_reads_but_cannot_write(people2: People2):
    token = person_token(people2, BOB)
    assert api(people2, "GET", "/dags", token).status_code == 200
    assert api(people2, "POST", "/variables", token, json={"key": "bob", "value": "v"}).status_code == 403


def test_carol_is_refused_with_no_mapped_role(people2: People2):
    response = api(people2, "GET", "/dags", person_token(people2, CAROL))
    assert response.status_code == 403
    assert response.json()["error"] == "no_mapped_role"


def test_a_token_of_an_app_not_listed_is_refused(people2: People2):
    response = api(people2, "GET", "/dags", person_token(people2, ALICE, OTHER_CLI))
    assert response.status_code == 401
    assert (response.json()["error"], response.json()["reason"]) == ("invalid_access_token", "client_not_allowed")


def test_a_deactivated_account_stops_the_token_it_signed_in_with(people2: People2):
    token = person_token(people2, BOB)
    assert api(people2, "GET", "/dags", token).status_code == 200
    engine = sa.create_engine(people2.airflow.db_url)
    try:
        with engine.begin() as conn:  # an administrator deactivates bob in Airflow
            conn.execute(sa.text("UPDATE ab_user SET active = :f WHERE username = :u"), {"f": False, "u": BOB[0]})
        response = api(people2, "GET", "/dags", token)
        assert response.status_code == 403
        assert response.json()["error"] == "inactive_user"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE ab_user SET active = :t WHERE username = :u"), {"t": True, "u": BOB[0]})
        engine.dispose()


def signed_token(stack: People2, who: tuple[str, str], uid: str, groups: list[str], *, age: int) -> str:
    """Return an Okta access token for ``who`` issued ``age`` seconds ago, signed with the IdP's key."""
    issued = int(time.time()) - age
    claims = person_claims(
        stack,  # type: ignore[arg-type]
        jti=f"AT.{uid}.{issued}.{time.monotonic_ns()}",
        iat=issued,
        exp=issued + 3600,
        uid=uid,
        sub=who[0],
        groups=groups,
    )
    return stack.idp.context.keys.sign(claims)


def test_a_token_from_before_the_deactivation_cannot_undo_it(people2: People2):
    okta = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}
    base = f"{people2.idp.base_url}/api/v1"
    old = signed_token(people2, GIL, GIL_ID, ["airflow-viewers"], age=120)
    assert api(people2, "GET", "/dags", old).status_code == 200
    [hook] = requests.get(f"{base}/eventHooks", headers=okta, timeout=10).json()
    assert requests.post(f"{base}/eventHooks/{hook['id']}/lifecycle/verify", headers=okta, timeout=10).ok
    assert requests.post(f"{base}/users/{GIL_ID}/lifecycle/deactivate", headers=okta, timeout=10).ok
    assert until(lambda: user_row(people2.airflow.db_url, GIL[0])["active"] in (0, False), timeout=20)

    response = api(people2, "GET", "/dags", old)
    assert response.status_code == 403
    assert response.json()["error"] == "stale_token"
    assert not user_row(people2.airflow.db_url, GIL[0])["active"]
    # Without Okta API credentials, a token Okta issued after the deactivation is Okta's newer word.
    newer = signed_token(people2, GIL, GIL_ID, ["airflow-viewers"], age=-1)
    assert api(people2, "GET", "/dags", newer).status_code == 200
    assert user_row(people2.airflow.db_url, GIL[0])["active"]


def test_okta_s_universal_logout_refuses_the_person_s_older_tokens_within_2_s(people2: People2):
    token = person_token(people2, ULO)
    assert api(people2, "GET", "/dags", token).status_code == 200
    sent = requests.post(f"{people2.idp.base_url}/__idp/universal-logout", json={"user": ULO_ID}, timeout=30)
    assert [r["status"] for r in sent.json()] == [204]
    signed_out_at = time.monotonic()
    assert until(lambda: api(people2, "GET", "/dags", token).status_code == 403, timeout=2.0)
    assert time.monotonic() - signed_out_at <= 2.0
    response = api(people2, "GET", "/dags", token)
    assert response.json()["error"] == "signed_out"
    assert user_row(people2.airflow.db_url, ULO[0])["active"] in (1, True)  # signed out, not deactivated
    assert api(people2, "GET", "/dags", person_token(people2, ULO)).status_code == 200  # a new sign-in works
