"""Groups from Okta's Groups API through real Airflow logins, against the local IdP.

One IdP whose tokens carry no groups (``groups_claim: false``), and two Airflow API servers
(SQLite; nothing here is about concurrency), one per way of calling the Management API:

- ``service_app``: ``OKTA_GROUPS_SOURCE=api``, an OAuth service app (client credentials,
  ``private_key_jwt``, key as a JWK file), ``OKTA_GROUPS_FILTER=airflow-``, short timeouts;
- ``ssws``: ``OKTA_GROUPS_SOURCE=auto`` with an API token file (``SSWS``): claims first, the
  API only when they carry no groups.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import requests
import yaml
from joserfc.jwk import RSAKey

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.models import okta_id
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_security.okta_api.auth import ServiceAppAuth, SswsAuth
from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaHttp
from tests.conftest import postgres_database
from tests.integration.helpers import okta_login, rewrite, user_roles, user_row
from tests.stacks import idp_data

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
MANY = ("many.groups@example.com", "Many-pass-1")
MANY_ID = "00umanygroups0000005"
API_TOKEN = "00it-groups-api-token"
SERVICE_APP = "0oagroupsreader00001"
SERVICE_KEY = RSAKey.generate_key(2048, parameters={"kid": "groups-reader-1"})
# 250 groups: 246 unmapped, airflow-viewers (Viewer), airflow-ops (Op) and airflow-team-growth
# (User, via the mapping's "airflow-team-*" glob) — which Okta's id order puts on the second page.
MANY_GROUPS = [f"eng-team-{i:03d}" for i in range(246)] + [
    "airflow-viewers",
    "airflow-ops",
    "airflow-team-growth",
    "Everyone",
]
ON_PAGE_TWO = "airflow-team-growth"


@dataclass
class GroupsStack:
    idp: IdpHandle
    idp_config: Path
    original_idp: str
    service_app: AirflowServer
    ssws: AirflowServer
    token_file: Path

    def restore(self) -> None:
        self.idp.clear_faults()
        if self.idp_config.read_text() != self.original_idp:
            rewrite(self.idp_config, self.original_idp)


def _idp_config(ports: list[int]) -> dict:
    data = idp_data(*(f"http://127.0.0.1:{p}" for p in ports))
    data["server"].update(groups_claim=False, api_token=API_TOKEN)  # tokens and userinfo carry no groups
    data["clients"].append(
        {
            "client_id": SERVICE_APP,
            "name": "Airflow groups reader (API Services app)",
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "jwks": {"keys": [SERVICE_KEY.as_dict(private=False)]},
        }
    )
    data["users"].append(
        {
            "id": MANY_ID,
            "login": MANY[0],
            "password": MANY[1],
            "given_name": "Many",
            "family_name": "Groups",
            "groups": MANY_GROUPS,
        }
    )
    return data


def _airflow(
    root: Path, name: str, port: int, issuer: str, mapping: Path, extra: dict[str, str], db_url: str | None = None
) -> AirflowServer:
    return AirflowServer(
        root / name,
        port=port,
        db_url=db_url,
        okta_env={
            "OKTA_ISSUER": issuer,
            "OKTA_CLIENT_ID": "airflow-local",
            "OKTA_CLIENT_SECRET": "airflow-local-secret",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            **extra,
        },
    )


@pytest.fixture(scope="module")
def groups_stack(tmp_path_factory) -> Iterator[GroupsStack]:
    root = tmp_path_factory.mktemp("groups-api")
    ports = [free_port(), free_port()]
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(_idp_config(ports), sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    key_file = root / "groups-reader.jwk.json"
    key_file.write_text(json.dumps(SERVICE_KEY.as_dict(private=True)))
    token_file = root / "okta-api-token"
    token_file.write_text(API_TOKEN + "\n")
    # One replica per database: the service-app server on PostgreSQL, the API-token one on SQLite.
    pg = postgres_database()
    service_app = _airflow(
        root,
        "airflow-service-app",
        ports[0],
        idp.issuer,
        mapping,
        db_url=next(pg),
        extra={
            "OKTA_GROUPS_SOURCE": "api",
            "OKTA_GROUPS_FILTER": "airflow-",
            "OKTA_API_CLIENT_ID": SERVICE_APP,
            "OKTA_API_PRIVATE_KEY_FILE": str(key_file),
            "OKTA_HTTP_TIMEOUT_SECONDS": "1.5",
            "OKTA_API_MAX_WAIT_SECONDS": "5",
        },
    )
    ssws = _airflow(
        root,
        "airflow-ssws",
        ports[1],
        idp.issuer,
        mapping,
        extra={"OKTA_GROUPS_SOURCE": "auto", "OKTA_API_TOKEN_FILE": str(token_file)},
    )
    servers = (service_app, ssws)
    try:
        for server in servers:
            server.prepare()
        for server in servers:
            server.start()
        yield GroupsStack(idp, idp_config, idp_config.read_text(), service_app, ssws, token_file)
    finally:
        for server in servers:
            server.stop()
        idp.shutdown()
        next(pg, None)  # drop the PostgreSQL database


@pytest.fixture
def gs(groups_stack: GroupsStack) -> Iterator[GroupsStack]:
    """The stack, with IdP faults and the IdP file restored after each test."""
    yield groups_stack
    groups_stack.restore()


def edit_idp(stack: GroupsStack, change) -> None:
    data = yaml.safe_load(stack.idp_config.read_text())
    change(data)
    rewrite(stack.idp_config, yaml.safe_dump(data, sort_keys=False))


def set_groups(login: str, groups: list[str]):
    def change(data: dict) -> None:
        next(u for u in data["users"] if u["login"] == login)["groups"] = groups

    return change


def log_of(server: AirflowServer) -> str:
    return server.log_tail(2_000_000)


def test_the_mapped_group_really_is_on_the_second_page():
    order = sorted(MANY_GROUPS, key=lambda name: okta_id("00g", "group:" + name))
    assert order.index(ON_PAGE_TWO) >= 200  # else the next test would not prove that paging works


# -- the service app (OKTA_GROUPS_SOURCE=api, private_key_jwt) -----------------------------------


def test_250_groups_come_from_the_api_across_pages_and_map_to_roles(gs):
    _, final = okta_login(gs.service_app.base_url, *MANY)
    assert final.status_code == 200, final.text[:800]
    assert user_roles(gs.service_app.db_url, MANY[0]) == {"Viewer", "Op", "User"}
    log = log_of(gs.service_app)
    assert f"Got an Okta API access token for service app {SERVICE_APP}" in log
    assert f"Read 250 group(s) of {MANY[0]} from Okta's Groups API" in log


def test_the_service_app_token_is_reused_across_logins(gs):
    okta_login(gs.service_app.base_url, *ALICE)
    before = log_of(gs.service_app).count("Got an Okta API access token")
    _, final = okta_login(gs.service_app.base_url, *BOB)
    assert final.status_code == 200, final.text[:800]
    assert user_roles(gs.service_app.db_url, BOB[0]) == {"Viewer"}
    assert log_of(gs.service_app).count("Got an Okta API access token") == before == 1


def test_okta_down_refuses_with_503_and_leaves_roles_exactly_as_they_were(gs):
    _, final = okta_login(gs.service_app.base_url, *ALICE)
    assert final.status_code == 200
    assert user_roles(gs.service_app.db_url, ALICE[0]) == {"Admin"}
    row_before = user_row(gs.service_app.db_url, ALICE[0])
    # In Okta, alice moves to the viewers; a login that went through would make her a Viewer.
    edit_idp(gs, set_groups(ALICE[0], ["airflow-viewers", "Everyone"]))
    gs.idp.set_faults(api_status=503)
    session, final = okta_login(gs.service_app.base_url, *ALICE)
    assert final.status_code == 503
    assert "Okta is not answering" in final.text
    assert "okta_unavailable" in final.text
    assert "your Airflow roles are unchanged" in final.text
    assert "_token" not in session.cookies
    assert user_roles(gs.service_app.db_url, ALICE[0]) == {"Admin"}
    assert user_row(gs.service_app.db_url, ALICE[0]) == row_before  # no write at all: not even last_login
    log = log_of(gs.service_app)
    assert "Okta login of alice.admin@example.com refused, roles unchanged" in log
    assert "Okta answered HTTP 503 (E0000009: Internal Server Error)" in log
    assert "Okta request id " in log
    assert "Okta request id -" not in log.split("refused, roles unchanged")[-1]

    gs.idp.clear_faults()  # Okta is back: the next login applies the move
    _, final = okta_login(gs.service_app.base_url, *ALICE)
    assert final.status_code == 200
    assert user_roles(gs.service_app.db_url, ALICE[0]) == {"Viewer"}


def test_a_429_is_waited_out_and_the_login_succeeds(gs):
    # Reset 2 s ahead by the IdP's clock: at least 1 s ahead of its (whole-second) Date header.
    gs.idp.set_faults(api_status=429, api_status_times=1, api_rate_limit_reset_in=2)
    started = time.monotonic()
    _, final = okta_login(gs.service_app.base_url, *BOB)
    assert final.status_code == 200, final.text[:800]
    assert time.monotonic() - started >= 1.0  # it honoured X-Rate-Limit-Reset
    assert user_roles(gs.service_app.db_url, BOB[0]) == {"Viewer"}
    assert "rate-limited by Okta (HTTP 429); retrying in" in log_of(gs.service_app)


def test_a_rate_limit_longer_than_the_wait_budget_refuses_at_once(gs):
    okta_login(gs.service_app.base_url, *BOB)
    gs.idp.set_faults(api_status=429, api_rate_limit_reset_in=60)
    started = time.monotonic()
    _, final = okta_login(gs.service_app.base_url, *BOB)
    assert final.status_code == 503
    assert time.monotonic() - started < 15  # no minute-long wait on a login page
    assert user_roles(gs.service_app.db_url, BOB[0]) == {"Viewer"}
    assert "rate-limited by Okta for" in log_of(gs.service_app)


def test_a_slow_okta_times_out_into_the_refusal_page(gs):
    okta_login(gs.service_app.base_url, *BOB)
    gs.idp.set_faults(api_delay_ms=3000)  # OKTA_HTTP_TIMEOUT_SECONDS=1.5 on this server
    _, final = okta_login(gs.service_app.base_url, *BOB)
    assert final.status_code == 503
    assert user_roles(gs.service_app.db_url, BOB[0]) == {"Viewer"}
    assert "Okta did not answer within 1.5 s" in log_of(gs.service_app)


# -- the API token (OKTA_GROUPS_SOURCE=auto, SSWS) -------------------------------------------------


def test_auto_falls_back_to_the_api_when_the_claims_carry_no_groups(gs):
    _, final = okta_login(gs.ssws.base_url, *BOB)
    assert final.status_code == 200, final.text[:800]
    assert user_roles(gs.ssws.db_url, BOB[0]) == {"Viewer"}
    assert f"Read 2 group(s) of {BOB[0]} from Okta's Groups API" in log_of(gs.ssws)


def test_auto_prefers_the_claims_and_does_not_need_the_api(gs):
    edit_idp(gs, lambda d: d["server"].update(groups_claim=True))  # Okta now sends a groups claim
    gs.idp.set_faults(api_status=503)  # ...and its API is down: no matter
    _, final = okta_login(gs.ssws.base_url, *ALICE)
    assert final.status_code == 200, final.text[:800]
    assert user_roles(gs.ssws.db_url, ALICE[0]) == {"Admin"}


def test_a_wrong_api_token_refuses_with_the_misconfiguration_code(gs):
    okta_login(gs.ssws.base_url, *BOB)
    row_before = user_row(gs.ssws.db_url, BOB[0])
    rewrite(gs.token_file, "00wrong-token\n")  # OKTA_API_TOKEN_FILE is re-read when it changes
    try:
        session, final = okta_login(gs.ssws.base_url, *BOB)
    finally:
        rewrite(gs.token_file, API_TOKEN + "\n")
    assert final.status_code == 403
    assert "okta_api_misconfigured" in final.text
    assert "_token" not in session.cookies
    assert user_row(gs.ssws.db_url, BOB[0]) == row_before
    log = log_of(gs.ssws)
    assert "E0000011: Invalid token provided" in log
    assert "check OKTA_API_TOKEN" in log
    assert "00wrong-token" not in log
    assert API_TOKEN not in log


def test_key_rotation_between_two_logins_needs_no_restart(gs):
    _, final = okta_login(gs.ssws.base_url, *ALICE)
    assert final.status_code == 200
    loads = log_of(gs.ssws).count("signing key(s) from the issuer's JWKS")
    assert loads >= 1
    rotated = requests.post(f"{gs.idp.base_url}/__idp/keys/rotate", json={"keep_previous": False}, timeout=10)
    assert rotated.status_code == 200
    assert rotated.json()["keys"] == [rotated.json()["kid"]]  # the old key is withdrawn at once
    _, final = okta_login(gs.ssws.base_url, *ALICE)
    assert final.status_code == 200, final.text[:800]
    assert user_roles(gs.ssws.db_url, ALICE[0]) == {"Admin"}
    assert log_of(gs.ssws).count("signing key(s) from the issuer's JWKS") == loads + 1  # one re-fetch


# -- the client itself against the local IdP (no Airflow) ----------------------------------------


@pytest.mark.parametrize("method", ["ssws", "service_app"])
def test_the_client_reads_all_250_groups_with_both_auth_methods(groups_stack, method):
    auth = (
        SswsAuth(lambda: API_TOKEN)
        if method == "ssws"
        else ServiceAppAuth(
            groups_stack.idp.base_url, SERVICE_APP, lambda: json.dumps(SERVICE_KEY.as_dict(private=True))
        )
    )
    client = OktaApiClient(groups_stack.idp.base_url, auth, OktaHttp(HttpPolicy()))
    try:
        assert sorted(client.user_group_names(MANY_ID)) == sorted(MANY_GROUPS)
    finally:
        client.close()
