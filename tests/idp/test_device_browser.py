"""The activation page in a real browser: Playwright driving Debian's chromium (no download).

A device asks for a code over HTTP; chromium opens ``verification_uri_complete``, signs in on the
IdP's sign-in form, sees which app asks and approves; the device's next poll gets the tokens.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from okta_local_idp.server import IdpHandle, serve_in_thread
from tests.idp.okta_contract import DEVICE_CODE_GRANT, device_authorize, device_poll, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.local_idp, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpHandle]:
    data = {
        "server": {"custom_scopes": ["airflow.api"], "audience": "api://airflow", "access_token_groups_claim": True},
        "clients": [
            {
                "client_id": "airflow-cli",
                "name": "Airflow CLI",
                "token_endpoint_auth_method": "none",
                "grant_types": [DEVICE_CODE_GRANT, "refresh_token"],
            }
        ],
        "users": [
            {
                "id": "00uadmin000000000001",
                "login": "alice.admin@example.com",
                "password": "Admin-pass-1",
                "groups": ["airflow-admins"],
            }
        ],
    }
    path = write_config(tmp_path_factory.mktemp("device-browser") / "idp.yaml", data)
    with serve_in_thread(path) as handle:
        yield handle


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is required: `make test` installs it (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


def test_a_person_signs_in_and_approves_the_device_in_chromium(idp: IdpHandle, browser: Any) -> None:
    device = device_authorize(idp.issuer, "airflow-cli", "openid airflow.api").json()
    assert device_poll(idp.issuer, "airflow-cli", device["device_code"]).json()["error"] == "authorization_pending"

    context = browser.new_context()
    page = context.new_page()
    page.goto(device["verification_uri"], wait_until="domcontentloaded")  # typed by hand, no code in the URL
    page.fill("#okta-signin-username", "alice.admin@example.com")
    page.fill("#okta-signin-password", "Admin-pass-1")
    page.click("#okta-signin-submit")
    page.wait_for_selector("#okta-activate-code", timeout=30_000)
    page.fill("#okta-activate-code", f"{device['user_code'][:4]}-{device['user_code'][4:]}".lower())
    page.click("#okta-activate-submit")
    page.wait_for_selector("#okta-device-consent", timeout=30_000)
    assert page.inner_text("#okta-device-app") == "Airflow CLI"
    assert page.inner_text("#okta-device-user-code") == device["user_code"]
    assert page.inner_text("#okta-activate-user") == "alice.admin@example.com"
    page.click("#okta-device-allow")
    page.wait_for_selector("#okta-device-result", timeout=30_000)
    assert page.inner_text("#okta-device-result") == "Device activated"
    context.close()

    response = device_poll(idp.issuer, "airflow-cli", device["device_code"])
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set(requests.get(f"{idp.issuer}/v1/keys", timeout=10).json())
    claims = jwt.decode(response.json()["access_token"], keys, algorithms=["RS256"]).claims
    assert (claims["uid"], claims["cid"], claims["groups"]) == (
        "00uadmin000000000001",
        "airflow-cli",
        ["airflow-admins"],
    )


def test_verification_uri_complete_brings_the_code_and_deny_is_heard(idp: IdpHandle, browser: Any) -> None:
    device = device_authorize(idp.issuer, "airflow-cli", "airflow.api").json()
    context = browser.new_context()
    page = context.new_page()
    page.goto(device["verification_uri_complete"], wait_until="domcontentloaded")
    page.fill("#okta-signin-username", "alice.admin@example.com")
    page.fill("#okta-signin-password", "Admin-pass-1")
    page.click("#okta-signin-submit")
    page.wait_for_selector("#okta-device-consent", timeout=30_000)  # no code to type
    page.click("#okta-device-deny")
    page.wait_for_selector("#okta-device-result", timeout=30_000)
    assert page.inner_text("#okta-device-result") == "Device not activated"
    context.close()
    assert device_poll(idp.issuer, "airflow-cli", device["device_code"]).json()["error"] == "access_denied"
