"""People on the REST API, end to end: a device sign-in at the local IdP, approved in chromium, exchanged
at a real ``airflow api-server`` (OktaFabAuthManager) for an Airflow token with the person's own roles.

The IdP puts ``groups`` in user access tokens (an Access Token claim), except where a test turns it
off to exercise the Groups API fallback. Bots share the stack to show both body shapes still work.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey

from okta_devstack.airflow import REPO, AirflowServer, free_port
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import decide_device
from tests.integration.helpers import okta_login, rewrite, user_row
from tests.integration.test_audit import audit_rows, last_log_id
from tests.polling import until

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.integration, pytest.mark.browser]

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
AUDIENCE = "api://airflow"
SCOPE = "airflow.api"
CLI = "airflow-cli"  # in OKTA_CLI_CLIENT_ID
OTHER_CLI = "other-cli"  # a native app Airflow does not list
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EVENT_HOOK_SECRET = "Bearer people-api-hook-secret"
API_TOKEN = "00local-dev-api-token"
ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
FRAN = ("fran.leaver@example.com", "Leaver-pass-1")  # deactivated by one test
FRAN_ID = "00uleaver00000000007"
ULO = ("ulo.api@example.com", "Ulo-pass-1")  # signed out everywhere by Okta in one test
ULO_ID = "00uuloapi00000000003"
ULO_PATH = "/auth/okta/global-token-revocation"
OKTA_CLI = str(Path(sys.executable).with_name("okta-airflow"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


@dataclass
class PeopleStack:
    airflow: AirflowServer
    idp: IdpHandle
    idp_config: Path

    @property
    def url(self) -> str:
        return self.airflow.base_url

    @property
    def db_url(self) -> str:
        return self.airflow.db_url


def _idp_config(port: int) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "config" / "idp_users.yaml").read_text())
    data["server"].update(
        custom_scopes=[SCOPE],
        audience=AUDIENCE,
        access_token_groups_claim=True,
        device_poll_interval=1,
        api_token=API_TOKEN,
    )
    for client in data["clients"]:
        if client["client_id"] == "airflow-local":
            client["redirect_uris"] = [f"http://127.0.0.1:{port}/auth/oauth-authorized/okta"]
    assert any(c["client_id"] == CLI for c in data["clients"]), "config/idp_users.yaml declares the CLI app"
    data["clients"] += [
        {
            "client_id": OTHER_CLI,
            "name": "Other CLI",
            "token_endpoint_auth_method": "none",
            "grant_types": [DEVICE_GRANT],
        },
        {"client_id": "ci-viewer", "client_secret": "ci-viewer-secret", "grant_types": ["client_credentials"]},
    ]
    data["users"].append(
        {
            "id": FRAN_ID,
            "login": FRAN[0],
            "password": FRAN[1],
            "email": FRAN[0],
            "given_name": "Fran",
            "family_name": "Leaver",
            "groups": ["airflow-viewers"],
        }
    )
    data["users"].append(
        {"id": ULO_ID, "login": ULO[0], "password": ULO[1], "email": ULO[0], "groups": ["airflow-viewers"]}
    )
    for client in data["clients"]:
        if client["client_id"] == "airflow-local":
            client["universal_logout"] = {"url": f"http://127.0.0.1:{port}{ULO_PATH}"}
    data["event_hooks"] = [
        {"name": "airflow", "url": f"http://127.0.0.1:{port}/auth/okta/events", "authorization": EVENT_HOOK_SECRET}
    ]
    return data


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeopleStack]:
    root = tmp_path_factory.mktemp("people-api")
    port = free_port()
    idp_config = root / "idp.yaml"
    idp_config.write_text(yaml.safe_dump(_idp_config(port), sort_keys=False))
    idp = serve_in_thread(str(idp_config), host="127.0.0.1", port=0)
    mapping = root / "okta_role_mapping.yaml"
    shutil.copy(REPO / "config" / "role_mapping.yaml", mapping)
    mapping.write_text(mapping.read_text() + "\nclients:\n  ci-viewer:\n    name: ci-viewer\n    roles: [Viewer]\n")
    airflow = AirflowServer(
        root / "airflow",
        port=port,
        auth_manager=AUTH_MANAGER,
        okta_env={
            "OKTA_ISSUER": idp.issuer,
            "OKTA_CLIENT_ID": "airflow-local",
            "OKTA_CLIENT_SECRET": "airflow-local-secret",
            "OKTA_ROLE_MAPPING_FILE": str(mapping),
            "OKTA_BOT_AUDIENCE": AUDIENCE,
            "OKTA_BOT_SCOPES": SCOPE,
            "OKTA_CLI_CLIENT_ID": CLI,
            "OKTA_API_TOKEN": API_TOKEN,
            "OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET,
            "OKTA_UNIVERSAL_LOGOUT_ENDPOINT": f"http://127.0.0.1:{port}{ULO_PATH}",
        },
    )
    try:
        airflow.prepare()
        airflow.start()
        yield PeopleStack(airflow, idp, idp_config)
    finally:
        airflow.stop()
        idp.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required: `make test` installs it (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


# --------------------------------------------------------------------------- helpers


def start_device(stack: PeopleStack, client_id: str = CLI, scope: str = SCOPE) -> dict[str, Any]:
    response = requests.post(
        f"{stack.idp.issuer}/v1/device/authorize", data={"client_id": client_id, "scope": scope}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def approve_in_chromium(browser: Any, device: dict[str, Any], who: tuple[str, str]) -> None:
    """Sign in at the IdP in a fresh chromium context and approve the user code on the activation page."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(device["verification_uri"], wait_until="domcontentloaded")
        page.fill("#okta-signin-username", who[0])
        page.fill("#okta-signin-password", who[1])
        page.click("#okta-signin-submit")
        page.wait_for_selector("#okta-activate-code", timeout=30_000)
        page.fill("#okta-activate-code", device["user_code"])
        page.click("#okta-activate-submit")
        page.wait_for_selector("#okta-device-consent", timeout=30_000)
        page.click("#okta-device-allow")
        page.wait_for_selector("#okta-device-result", timeout=30_000)
        assert page.inner_text("#okta-device-result") == "Device activated"
    finally:
        context.close()


def poll(stack: PeopleStack, device: dict[str, Any], client_id: str = CLI) -> dict[str, Any]:
    """Poll the IdP's token endpoint as a device does, until the code is approved."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(device["interval"] + 0.1)
        response = requests.post(
            f"{stack.idp.issuer}/v1/token",
            data={"grant_type": DEVICE_GRANT, "device_code": device["device_code"], "client_id": client_id},
            timeout=10,
        )
        if response.status_code == 200:
            return response.json()
        assert response.json()["error"] in ("authorization_pending", "slow_down"), response.text
    raise AssertionError("the device code was not approved in time")


def device_sign_in(stack: PeopleStack, browser: Any, who: tuple[str, str], **kwargs: str) -> dict[str, Any]:
    """Return Okta's token response for ``who``'s device sign-in, approved in chromium."""
    device = start_device(stack, **kwargs)
    approve_in_chromium(browser, device, who)
    return poll(stack, device, kwargs.get("client_id", CLI))


def quick_sign_in(stack: PeopleStack, who: tuple[str, str], client_id: str = CLI, scope: str = SCOPE) -> dict:
    """The same sign-in with the activation page driven by requests (where the browser is not the point)."""
    device = start_device(stack, client_id, scope)
    decide_device(requests.Session(), device["verification_uri_complete"], *who)
    return poll(stack, device, client_id)


def exchange(
    stack: PeopleStack, okta_token: str, *, shape: str = "form", path: str = "/auth/token"
) -> requests.Response:
    url = f"{stack.url}{path}"
    grant = {"grant_type": JWT_BEARER, "assertion": okta_token}
    if shape == "form":
        return requests.post(url, data=grant, timeout=60)
    if shape == "json":
        return requests.post(url, json=grant, timeout=60)
    return requests.post(url, json={}, headers={"Authorization": f"Bearer {okta_token}"}, timeout=60)


def airflow_token(stack: PeopleStack, okta_token: str, **kwargs: str) -> str:
    response = exchange(stack, okta_token, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def api(stack: PeopleStack, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{stack.url}/api/v2{path}", headers=headers, timeout=60, **kwargs)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def person_claims(stack: PeopleStack, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "ver": 1,
        "jti": f"AT.{uuid.uuid4().hex}",
        "iss": stack.idp.issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "cid": CLI,
        "uid": "00uadmin000000000001",
        "sub": ALICE[0],
        "scp": [SCOPE],
        "groups": ["airflow-admins"],
    }
    claims.update(overrides)
    return claims


# --------------------------------------------------------------------------- people


def test_alice_signs_in_on_a_device_lists_dags_and_writes_a_variable(people: PeopleStack, browser: Any):
    since = last_log_id(people.db_url)
    okta = device_sign_in(people, browser, ALICE)
    token = airflow_token(people, okta["access_token"])
    assert api(people, "GET", "/dags", token).status_code == 200
    key = f"people-{uuid.uuid4().hex[:6]}"
    written = api(people, "POST", "/variables", token, json={"key": key, "value": "by alice"})
    assert written.status_code == 201, written.text
    # The Airflow token never outlives the Okta token it was exchanged for.
    assert claims_of(token)["exp"] <= claims_of(okta["access_token"])["exp"]
    [row] = audit_rows(people.db_url, event="login.succeeded", owner=ALICE[0], since_id=since)
    extra = row["extra"]
    assert (extra["sign_in"], extra["client_id"], extra["via"]) == ("api", CLI, "POST /auth/token")
    assert extra["roles"] == ["Admin"]
    assert extra["groups_source"] == "access_token"
    assert extra["sub"] == "00uadmin000000000001"
    assert okta["access_token"] not in json.dumps(row, default=str)


def test_bob_can_list_but_not_write(people: PeopleStack, browser: Any):
    okta = device_sign_in(people, browser, BOB)
    token = airflow_token(people, okta["access_token"], shape="json")
    assert api(people, "GET", "/dags", token).status_code == 200
    assert api(people, "POST", "/variables", token, json={"key": "bob", "value": "no"}).status_code == 403
    assert user_row(people.db_url, BOB[0])["active"]


def test_carol_is_refused_with_no_mapped_role(people: PeopleStack, browser: Any):
    since = last_log_id(people.db_url)
    okta = device_sign_in(people, browser, CAROL)
    response = exchange(people, okta["access_token"])
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_grant", "no_mapped_role")
    assert "None of these groups is mapped" in body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert user_row(people.db_url, CAROL[0]) is None
    [row] = audit_rows(people.db_url, event="login.refused", since_id=since)
    assert (row["owner"], row["extra"]["reason"], row["extra"]["sign_in"]) == (CAROL[0], "no_mapped_role", "api")
    # With a bearer header instead of a grant body: okta_security's own shape, 403.
    header = exchange(people, okta["access_token"], shape="bearer")
    assert header.status_code == 403
    assert header.json()["detail"]["error"] == "no_mapped_role"


def test_a_token_from_an_app_not_in_okta_cli_client_id_is_refused(people: PeopleStack, browser: Any):
    okta = device_sign_in(people, browser, ALICE, client_id=OTHER_CLI)
    response = exchange(people, okta["access_token"])
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"], body["reason"]) == (
        "invalid_grant",
        "invalid_access_token",
        "client_not_allowed",
    )
    assert body["client_id"] == OTHER_CLI


def test_the_same_account_as_the_browser_found_by_its_okta_user_link(people: PeopleStack):
    okta_login(people.url, *ALICE)
    row = user_row(people.db_url, ALICE[0])
    token = airflow_token(people, quick_sign_in(people, ALICE)["access_token"], path="/auth/token/cli")
    assert claims_of(token)["sub"] == str(row["id"])
    assert user_row(people.db_url, ALICE[0])["login_count"] == row["login_count"] + 1


def test_groups_come_from_the_groups_api_when_the_token_has_none(people: PeopleStack):
    original = people.idp_config.read_text()
    data = yaml.safe_load(original)
    data["server"]["access_token_groups_claim"] = False
    rewrite(people.idp_config, yaml.safe_dump(data, sort_keys=False))
    try:
        since = last_log_id(people.db_url)
        okta = quick_sign_in(people, BOB)
        assert "groups" not in claims_of(okta["access_token"])
        token = airflow_token(people, okta["access_token"])
        assert api(people, "GET", "/dags", token).status_code == 200
        [row] = audit_rows(people.db_url, event="login.succeeded", owner=BOB[0], since_id=since)
        assert (row["extra"]["groups_source"], row["extra"]["roles"]) == ("api", ["Viewer"])
    finally:
        rewrite(people.idp_config, original)


def test_an_expired_token_is_refused(people: PeopleStack):
    now = int(time.time())
    expired = people.idp.context.keys.sign(person_claims(people, iat=now - 7200, exp=now - 3600))
    response = exchange(people, expired)
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["reason"]) == ("invalid_grant", "expired")
    assert "okta-airflow login" in body["message"]


def test_a_forged_token_is_refused(people: PeopleStack):
    forger = RSAKey.generate_key(2048, parameters={"alg": "RS256", "kid": people.idp.context.keys.kid})
    forged = jwt.encode({"alg": "RS256", "kid": forger.kid}, person_claims(people), forger)
    response = exchange(people, forged)
    assert response.status_code == 400
    assert response.json()["reason"] == "bad_signature"
    header = exchange(people, forged, shape="bearer")
    assert header.status_code == 401
    assert header.json()["detail"]["reason"] == "bad_signature"


def test_an_id_token_is_never_accepted(people: PeopleStack):
    okta = quick_sign_in(people, ALICE, scope=f"openid {SCOPE}")
    response = exchange(people, okta["id_token"])
    assert response.status_code == 400, response.text
    # Its audience is the app, not the API authorization server's (and it carries no scopes).
    assert (response.json()["error"], response.json()["reason"]) == ("invalid_grant", "wrong_audience")


def test_the_exchanged_token_dies_with_the_account(people: PeopleStack):
    token = airflow_token(people, quick_sign_in(people, FRAN)["access_token"])
    assert api(people, "GET", "/dags", token).status_code == 200
    hooks = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}
    base = people.idp.base_url
    [hook] = requests.get(f"{base}/api/v1/eventHooks", headers=hooks, timeout=10).json()
    assert requests.post(f"{base}/api/v1/eventHooks/{hook['id']}/lifecycle/verify", headers=hooks, timeout=10).ok
    deactivated = requests.post(f"{base}/api/v1/users/{FRAN_ID}/lifecycle/deactivate", headers=hooks, timeout=10)
    assert deactivated.status_code == 200
    deadline = time.monotonic() + 15
    while user_row(people.db_url, FRAN[0])["active"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not user_row(people.db_url, FRAN[0])["active"]
    assert api(people, "GET", "/dags", token).status_code in (401, 403)


def test_okta_s_universal_logout_refuses_the_exchanged_token_and_the_okta_token_behind_it(people: PeopleStack):
    okta_token = quick_sign_in(people, ULO)["access_token"]
    token = airflow_token(people, okta_token)
    assert api(people, "GET", "/dags", token).status_code == 200
    sent = requests.post(f"{people.idp.base_url}/__idp/universal-logout", json={"user": ULO_ID}, timeout=30)
    assert [r["status"] for r in sent.json()] == [204]
    assert until(lambda: api(people, "GET", "/dags", token).status_code == 403, timeout=2.0)
    again = exchange(people, okta_token)  # the Okta token from before the sign-out mints nothing new
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert user_row(people.db_url, ULO[0])["active"]  # signed out, not deactivated
    assert api(people, "GET", "/dags", airflow_token(people, quick_sign_in(people, ULO)["access_token"])).ok


# --------------------------------------------------------------------------- bots and bad requests


def bot_token(stack: PeopleStack) -> str:
    response = requests.post(
        f"{stack.idp.issuer}/v1/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=("ci-viewer", "ci-viewer-secret"),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.mark.parametrize("shape", ["form", "json", "bearer"])
def test_bots_still_work_with_every_body_shape(people: PeopleStack, shape: str):
    response = exchange(people, bot_token(people), shape=shape)
    assert response.status_code == 201, response.text
    assert response.json().get("token_type") == ("Bearer" if shape != "bearer" else None)
    assert api(people, "GET", "/dags", response.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": JWT_BEARER}, "invalid_request"),
        ("grant_type=a&grant_type=b", "invalid_request"),
        ({"grant_type": "password", "username": "nobody", "password": "wrong"}, "invalid_grant"),
    ],
)
def test_bad_grant_requests_get_rfc_6749_errors(people: PeopleStack, body: Any, error: str):
    if isinstance(body, str):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = requests.post(f"{people.url}/auth/token", data=body, headers=headers, timeout=60)
    else:
        response = requests.post(f"{people.url}/auth/token", data=body, timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_username_and_password_json_still_reaches_fab(people: PeopleStack):
    assert requests.post(f"{people.url}/auth/token", json={}, timeout=60).status_code == 400
    wrong = requests.post(f"{people.url}/auth/token", json={"username": "x", "password": "y"}, timeout=60)
    assert wrong.status_code == 401


# --------------------------------------------------------------------------- okta-airflow login


def test_okta_airflow_login_as_a_subprocess(people: PeopleStack, browser: Any):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKTA_", "AIRFLOW"))}
    env.update(OKTA_ISSUER=people.idp.issuer, OKTA_CLI_CLIENT_ID=CLI)  # what a laptop would have, nothing more
    command = [OKTA_CLI, "login", "--airflow-url", people.url, "--no-browser", "--json", "--scope", SCOPE]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "/activate" in line:
                url = line.strip()
                break
        else:
            raise AssertionError(f"no activation URL printed: {''.join(seen)}")
        user_code = url.split("user_code=")[1]
        approve_in_chromium(browser, {"verification_uri": url.split("?")[0], "user_code": user_code}, BOB)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    report = json.loads(out)
    assert report["token_type"] == "Bearer"
    assert report["expires_at"] == claims_of(report["access_token"])["exp"]
    assert api(people, "GET", "/dags", report["access_token"]).status_code == 200
    assert "Approved at Okta." in err
