"""Airflow under a path: ``[api] base_url = http://127.0.0.1:<port>/airflow/``, every URL okta_security builds keeps it.

One real api-server (``OktaFabAuthManager``) and the local IdP, whose Okta app registers only the
URIs under ``/airflow/``: a URI built without the path is refused by the IdP, as Okta would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import yaml

from okta_devstack.airflow import AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import is_sign_in_page
from tests.integration.deployment import (
    API_TOKEN,
    CALLBACK,
    EVENT_HOOK_SECRET,
    engine_for,
    finish_login,
    idp_config,
    login,
    login_name,
    okta_user,
    reason_code,
    roles_of,
    start_login,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
OKTA_AIRFLOW = str(Path(sys.executable).with_name("okta-airflow"))
BOT, BOT_SECRET, BOT_AUDIENCE, BOT_SCOPE = "path-bot", "path-bot-secret", "api://airflow", "airflow.api"
MAPPING = {"default_role": None, "mappings": {"staff": ["Viewer"]}, "clients": {BOT: ["Viewer"]}}


@dataclass
class PathStack:
    server: AirflowServer
    idp: IdpHandle
    root: str  # http://127.0.0.1:<port>/airflow (no trailing slash)

    @property
    def origin(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PathStack]:
    home = tmp_path_factory.mktemp("path")
    port = free_port()
    root = f"http://127.0.0.1:{port}/airflow"
    config = idp_config(
        home / "idp.yaml",
        redirect_uris=[root + CALLBACK],  # only the URIs under the path
        post_logout_redirect_uris=[root + "/auth/login/"],
        users=[okta_user("path", i, ["staff", "Everyone"]) for i in range(4)]
        + [okta_user("outsider", 0, ["Everyone"])],
        event_hook_url=root + "/auth/okta/events",
    )
    data = yaml.safe_load(config.read_text())
    data["server"].update(custom_scopes=[BOT_SCOPE], audience=BOT_AUDIENCE)
    data["clients"].append({"client_id": BOT, "client_secret": BOT_SECRET, "grant_types": ["client_credentials"]})
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    idp = serve_in_thread(str(config), host="127.0.0.1", port=0)
    mapping = home / "okta_role_mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False))
    server = AirflowServer(
        home / "airflow",
        port=port,
        auth_manager=AUTH_MANAGER,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": "airflow-local",
            "OKTA_CLIENT_SECRET": "airflow-local-secret",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            "OKTA_API_TOKEN": API_TOKEN,
            "OKTA_BOT_AUDIENCE": BOT_AUDIENCE,
            "OKTA_BOT_SCOPES": BOT_SCOPE,
        },
        airflow_env={"AIRFLOW__API__BASE_URL": root + "/"},
    )
    try:
        server.prepare()
        server.start()
        yield PathStack(server, idp, root)
    finally:
        server.stop()
        idp.shutdown()


def test_sign_in_sends_okta_the_callback_under_the_path(stack: PathStack) -> None:
    browser = requests.Session()
    start = browser.get(f"{stack.root}/auth/login/okta", allow_redirects=False, timeout=60)
    assert start.status_code == 302, start.text[:500]
    authorize = urlsplit(start.headers["Location"])
    assert authorize.path.endswith("/v1/authorize")
    assert parse_qs(authorize.query)["redirect_uri"] == [stack.root + CALLBACK]


def test_the_ui_login_comes_back_to_the_page_it_started_from(stack: PathStack) -> None:
    # The UI sends people to /api/v2/auth/login?next=<path>; Airflow redirects to the auth manager's login URL.
    entry = f"{stack.root}/api/v2/auth/login?next=%2Fairflow%2Fdags%2Fexample%3Ftab%3Dgrid"
    first = requests.get(entry, allow_redirects=False, timeout=60)
    assert first.status_code == 307, first.text[:300]
    assert urlsplit(first.headers["Location"]).path == "/airflow/auth/login/"
    pending = start_login(stack.root, login_name("path", 0), entry=entry)
    outcome = finish_login(pending)
    assert outcome.signed_in, (outcome.status, outcome.location, outcome.body[:500])
    assert urljoin(stack.origin, outcome.location) == f"{stack.root}/dags/example?tab=grid"
    # The session works for the API under the path.
    assert pending.browser.get(f"{stack.root}/api/v2/dags", timeout=60).status_code == 200
    assert roles_of(stack.server.db_url, login_name("path", 0)) == {"Viewer"}


def test_without_next_the_login_lands_under_the_path(stack: PathStack) -> None:
    _browser, outcome = login(stack.root, login_name("path", 1))
    assert outcome.signed_in, (outcome.status, outcome.location)
    assert urlsplit(urljoin(stack.origin, outcome.location)).path.startswith("/airflow/")


def test_the_refusal_pages_links_stay_under_the_path(stack: PathStack) -> None:
    _browser, outcome = login(stack.root, login_name("outsider", 0))
    assert outcome.status == 403
    assert reason_code(outcome.body) == "no_mapped_role"
    retry = re.search(r'id="okta-retry" href="([^"]+)"', outcome.body)
    assert retry, outcome.body[:800]
    assert urlsplit(retry.group(1)).path == "/airflow/auth/login/okta"
    switch = re.search(r'href="([^"]+)"[^>]*>Sign in with another account', outcome.body)
    assert switch, outcome.body[:1500]
    assert urlsplit(switch.group(1).replace("&amp;", "&")).path.startswith("/airflow/auth/")


def _follow(browser: requests.Session, url: str, *, limit: int = 10) -> list[str]:
    """Follow redirects by hand; return every URL visited (the last one answered without a redirect)."""
    visited = [url]
    for _ in range(limit):
        response = browser.get(url, allow_redirects=False, timeout=60)
        if response.status_code not in (301, 302, 303, 307):
            return visited
        url = urljoin(url, response.headers["Location"])
        visited.append(url)
    raise AssertionError(f"too many redirects: {visited}")


@pytest.mark.parametrize("logout_path", ["/api/v2/auth/logout", "/auth/logout"])
def test_logout_ends_the_okta_session_and_returns_under_the_path(stack: PathStack, logout_path: str) -> None:
    browser, outcome = login(stack.root, login_name("path", 2))
    assert outcome.signed_in
    assert browser.get(f"{stack.root}/api/v2/dags", timeout=60).status_code == 200
    token = browser.cookies.get("_token")
    visited = _follow(browser, f"{stack.root}{logout_path}")
    assert visited[1] == f"{stack.root}/auth/okta/logout/", visited  # the auth manager's logout URL
    end_session = next(u for u in visited if "/v1/logout" in u)
    assert parse_qs(urlsplit(end_session).query)["post_logout_redirect_uri"] == [f"{stack.root}/auth/login/"]
    after = visited[visited.index(end_session) + 1]
    assert after.startswith(f"{stack.root}/auth/login/"), visited
    # The Okta session is over: signing in again shows Okta's sign-in form, not an instant re-login.
    page = browser.get(f"{stack.root}/auth/login/okta", timeout=60)
    assert is_sign_in_page(page), page.url
    if logout_path == "/api/v2/auth/logout":  # Airflow revoked the JWT on its way out
        answer = requests.get(f"{stack.root}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code in (401, 403), answer.text[:200]


def test_the_event_hook_under_the_path_is_verified_and_acts(stack: PathStack) -> None:
    _browser, outcome = login(stack.root, login_name("path", 3))
    assert outcome.signed_in
    api = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}
    idp_api = f"{stack.idp.base_url}/api/v1"
    [hook] = requests.get(f"{idp_api}/eventHooks", headers=api, timeout=30).json()
    assert hook["channel"]["config"]["uri"] == f"{stack.root}/auth/okta/events"
    verified = requests.post(f"{idp_api}/eventHooks/{hook['id']}/lifecycle/verify", headers=api, timeout=30)
    assert verified.status_code == 200, verified.text
    user_id = okta_user("path", 3, [])["id"]
    requests.post(f"{idp_api}/users/{user_id}/lifecycle/deactivate", headers=api, timeout=30).raise_for_status()
    deadline = time.monotonic() + 20
    active = True
    while active and time.monotonic() < deadline:
        time.sleep(0.3)
        with engine_for(stack.server.db_url) as engine, engine.connect() as conn:
            active = bool(
                conn.exec_driver_sql("SELECT active FROM ab_user WHERE username = ?", (login_name("path", 3),)).scalar()
            )
    assert not active, "the event hook delivered under /airflow/ did not deactivate the account"


def test_bots_exchange_tokens_under_the_path(stack: PathStack) -> None:
    okta = requests.post(
        f"{stack.idp.issuer}/v1/token",
        data={"grant_type": "client_credentials", "scope": BOT_SCOPE},
        auth=(BOT, BOT_SECRET),
        timeout=30,
    )
    assert okta.status_code == 200, okta.text
    exchanged = requests.post(
        f"{stack.root}/auth/token",
        json={},
        headers={"Authorization": f"Bearer {okta.json()['access_token']}"},
        timeout=60,
    )
    assert exchanged.status_code == 201, exchanged.text
    airflow_token = exchanged.json()["access_token"]
    answer = requests.get(f"{stack.root}/api/v2/dags", headers={"Authorization": f"Bearer {airflow_token}"}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]


def test_doctor_prints_the_redirect_uris_with_the_path(stack: PathStack) -> None:
    proc = subprocess.run(
        [OKTA_AIRFLOW, "doctor", "--json"], env=stack.server.env(), capture_output=True, text=True, timeout=180
    )
    assert proc.stdout, proc.stderr[-3000:]
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["redirect_uris"]["data"] == {
        "sign_in_redirect_uri": f"{stack.root}{CALLBACK}",
        "sign_out_redirect_uri": f"{stack.root}/auth/login/",
        "initiate_login_uri": f"{stack.root}/auth/login/okta",
        "accepted": True,
    }, json.dumps(checks["redirect_uris"], indent=1)
