"""The local IdP's device flow beyond the contract: its settings, the activation page, expiry, groups.

Waits are short because the YAML makes them so (``device_poll_interval: 1``,
``device_code_lifetime: 2``); nothing sleeps for minutes.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from okta_local_idp.config import ConfigError, parse_config
from okta_local_idp.device import (
    ACCESS_DENIED,
    EXPIRED_TOKEN,
    INVALID_DEVICE_CODE,
    INVALID_USER_CODE,
    TOO_MANY_ATTEMPTS,
)
from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import decide_device, is_sign_in_page, parse_form, pkce_pair, submit_sign_in_form
from tests.idp.okta_contract import DEVICE_CODE_GRANT, device_authorize, device_poll, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.local_idp

API_TOKEN = "device-api-token"
CALLBACK = "http://127.0.0.1:8765/auth/oauth-authorized/okta"
ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
DAVE = ("dave.lapsing@example.com", "Dave-pass-1")
EVE = ("eve.guesser@example.com", "Eve-pass-1")
UNAUTHORIZED_CLIENT = "The client is not authorized to use the provided grant type."


def config(**server: Any) -> dict[str, Any]:
    return {
        "server": {
            "custom_scopes": ["airflow.api"],
            "audience": "api://airflow",
            "api_token": API_TOKEN,
            "groups_claim_filter": "airflow-.*",
            "access_token_groups_claim": True,
            "device_poll_interval": 1,
            **server,
        },
        "clients": [
            {
                "client_id": "airflow-cli",
                "name": "Airflow CLI",
                "token_endpoint_auth_method": "none",
                "grant_types": [DEVICE_CODE_GRANT, "refresh_token"],
            },
            {"client_id": "other-cli", "token_endpoint_auth_method": "none", "grant_types": [DEVICE_CODE_GRANT]},
            {"client_id": "web", "client_secret": "web-secret", "redirect_uris": [CALLBACK]},
        ],
        "users": [
            {
                "id": "00uadmin000000000001",
                "login": ALICE[0],
                "password": ALICE[1],
                "groups": ["airflow-admins", "Everyone"],
            },
            {"id": "00uviewer00000000002", "login": BOB[0], "password": BOB[1], "groups": ["Everyone"]},
            {"id": "00unobody00000000003", "login": CAROL[0], "password": CAROL[1]},
            {"id": "00ulapsing0000000004", "login": DAVE[0], "password": DAVE[1]},
            {"id": "00uguesser0000000005", "login": EVE[0], "password": EVE[1]},
        ],
    }


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpHandle]:
    path = write_config(tmp_path_factory.mktemp("device") / "idp.yaml", config())
    with serve_in_thread(path) as handle:
        yield handle


@pytest.fixture
def short_lived(tmp_path: Path) -> Iterator[IdpHandle]:
    """An IdP whose codes live two seconds."""
    path = write_config(tmp_path / "idp.yaml", config(device_code_lifetime=2))
    with serve_in_thread(path) as handle:
        yield handle


def start(idp: IdpHandle, scope: str = "openid profile", client_id: str = "airflow-cli") -> dict[str, Any]:
    response = device_authorize(idp.issuer, client_id, scope)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def poll(idp: IdpHandle, device: dict[str, Any], client_id: str = "airflow-cli") -> requests.Response:
    return device_poll(idp.issuer, client_id, device["device_code"])


def approve(device: dict[str, Any], who: tuple[str, str] = ALICE, *, allow: bool = True) -> None:
    answer = decide_device(requests.Session(), device["verification_uri_complete"], *who, allow=allow)
    assert answer.status_code == 200, answer.text


def verified_claims(idp: IdpHandle, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(requests.get(f"{idp.issuer}/v1/keys", timeout=10).json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def signed_in(idp: IdpHandle, who: tuple[str, str] = ALICE) -> requests.Session:
    """Return a browser session signed in at the activation page."""
    browser = requests.Session()
    page = browser.get(f"{idp.base_url}/activate", timeout=10)
    assert is_sign_in_page(page)
    answer = submit_sign_in_form(browser, page, *who, timeout=10)
    assert answer.status_code == 303
    return browser


def consent_form(browser: requests.Session, idp: IdpHandle, typed: str) -> requests.Response:
    return browser.get(f"{idp.base_url}/activate?{urlencode({'user_code': typed})}", timeout=10)


# -- settings --------------------------------------------------------------------------------


def test_interval_and_lifetime_come_from_the_yaml(idp: IdpHandle, short_lived: IdpHandle) -> None:
    assert (start(idp)["interval"], start(idp)["expires_in"]) == (1, 600)
    assert (start(short_lived)["interval"], start(short_lived)["expires_in"]) == (1, 2)


def test_defaults_are_oktas() -> None:
    server = parse_config({}).server
    assert (server.device_code_lifetime, server.device_poll_interval) == (600, 5)
    assert server.access_token_groups_claim is False


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ({"device_code_lifetime": 0}, "server.device_code_lifetime: must be an integer of at least 1"),
        ({"device_code_lifetime": "600"}, "server.device_code_lifetime: must be an integer"),
        ({"device_poll_interval": -1}, "server.device_poll_interval: must be an integer of at least 0"),
        ({"device_poll_interval": True}, "server.device_poll_interval: must be an integer"),
        ({"access_token_groups_claim": "yes"}, "server.access_token_groups_claim: must be true or false"),
    ],
)
def test_bad_device_settings_are_named(server: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_config({"server": server})


def test_a_native_app_needs_no_secret_nor_redirect_uri_for_the_device_grant() -> None:
    client = {"client_id": "cli", "token_endpoint_auth_method": "none", "grant_types": [DEVICE_CODE_GRANT]}
    parsed = parse_config({"clients": [client]}).clients["cli"]
    assert parsed.check_grant_type(DEVICE_CODE_GRANT)
    assert not parsed.check_grant_type("authorization_code")


# -- polling ---------------------------------------------------------------------------------


def test_slow_down_lasts_until_an_interval_has_passed(idp: IdpHandle) -> None:
    device = start(idp)
    assert poll(idp, device).json()["error"] == "authorization_pending"
    assert poll(idp, device).json()["error"] == "slow_down"
    time.sleep(1.1)
    assert poll(idp, device).json()["error"] == "authorization_pending"


def test_oktas_bodies_for_unknown_codes_and_clients_without_the_grant(idp: IdpHandle) -> None:
    unknown = device_poll(idp.issuer, "airflow-cli", "not-a-device-code")
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"error": "invalid_grant", "error_description": INVALID_DEVICE_CODE},
    )
    huge = device_poll(idp.issuer, "airflow-cli", "x" * 10_000)
    assert huge.json()["error"] == "invalid_grant"
    web = device_authorize(idp.issuer, "web", "openid", auth=("web", "web-secret"))
    assert (web.status_code, web.json()) == (
        400,
        {"error": "unauthorized_client", "error_description": UNAUTHORIZED_CLIENT},
    )


def test_a_code_polled_by_another_client_is_invalid_and_not_used_up(idp: IdpHandle) -> None:
    device = start(idp)
    approve(device)
    assert poll(idp, device, client_id="other-cli").json() == {
        "error": "invalid_grant",
        "error_description": INVALID_DEVICE_CODE,
    }
    assert poll(idp, device).status_code == 200


def test_denied_stays_denied(idp: IdpHandle) -> None:
    device = start(idp)
    approve(device, allow=False)
    for _ in range(2):
        response = poll(idp, device)
        assert (response.status_code, response.json()) == (
            400,
            {"error": "access_denied", "error_description": ACCESS_DENIED},
        )


def test_codes_expire_approved_or_not(short_lived: IdpHandle) -> None:
    approved, waiting = start(short_lived), start(short_lived)
    approve(approved)
    time.sleep(2.2)
    for device in (approved, waiting):
        response = poll(short_lived, device)
        assert (response.status_code, response.json()) == (
            400,
            {"error": "expired_token", "error_description": EXPIRED_TOKEN},
        )
    page = consent_form(signed_in(short_lived), short_lived, waiting["user_code"])
    assert page.status_code == 400
    assert INVALID_USER_CODE in page.text


def test_a_user_deactivated_after_approving_gets_no_token(idp: IdpHandle) -> None:
    device = start(idp)
    approve(device, DAVE)
    lifecycle = f"{idp.base_url}/api/v1/users/{DAVE[0]}/lifecycle"
    headers = {"Authorization": f"SSWS {API_TOKEN}"}
    assert requests.post(f"{lifecycle}/suspend", headers=headers, timeout=10).status_code == 200
    try:
        assert poll(idp, device).json()["error"] == "invalid_grant"
    finally:
        requests.post(f"{lifecycle}/unsuspend", headers=headers, timeout=10)
    assert poll(idp, device).json()["error"] == "invalid_grant"  # the code is spent either way


# -- the tokens ------------------------------------------------------------------------------


def test_access_token_has_a_groups_claim_when_the_server_adds_one(idp: IdpHandle) -> None:
    device = start(idp, "airflow.api")
    approve(device)
    body = poll(idp, device).json()
    assert "id_token" not in body  # no openid
    assert "refresh_token" not in body  # no offline_access
    claims = verified_claims(idp, body["access_token"])
    assert set(claims) == {"ver", "jti", "iss", "aud", "iat", "exp", "cid", "scp", "sub", "uid", "groups"}
    assert claims["groups"] == ["airflow-admins"]  # groups_claim_filter: Everyone stays out
    assert (claims["aud"], claims["cid"], claims["scp"]) == ("api://airflow", "airflow-cli", ["airflow.api"])
    assert (claims["sub"], claims["uid"]) == (ALICE[0], "00uadmin000000000001")


def test_no_groups_claim_when_no_group_passes_the_filter(idp: IdpHandle) -> None:
    device = start(idp, "airflow.api")
    approve(device, BOB)
    claims = verified_claims(idp, poll(idp, device).json()["access_token"])
    assert "groups" not in claims
    assert claims["uid"] == "00uviewer00000000002"


def test_id_token_auth_time_is_when_the_approver_signed_in(idp: IdpHandle) -> None:
    before = int(time.time())
    device = start(idp, "openid")
    approve(device)
    body = poll(idp, device).json()
    id_claims = verified_claims(idp, body["id_token"])
    assert before <= id_claims["auth_time"] <= id_claims["iat"]
    assert id_claims["aud"] == "airflow-cli"


# -- the activation page ---------------------------------------------------------------------


def test_the_page_asks_for_a_sign_in_first_and_keeps_the_code(idp: IdpHandle) -> None:
    device = start(idp)
    browser = requests.Session()
    page = browser.get(device["verification_uri_complete"], timeout=10)
    assert is_sign_in_page(page)
    assert device["user_code"] in parse_form(page.text, page.url).action
    wrong = submit_sign_in_form(browser, page, ALICE[0], "wrong", timeout=10)
    assert is_sign_in_page(wrong)
    assert "Unable to sign in" in wrong.text
    answer = submit_sign_in_form(browser, page, *ALICE, allow_redirects=True, timeout=10)
    assert 'id="okta-device-consent"' in answer.text
    assert "Airflow CLI" in answer.text
    assert ALICE[0] in answer.text


def test_an_existing_idp_session_is_reused(idp: IdpHandle) -> None:
    """Signed in for a web app already: the activation page goes straight to the consent."""
    browser = requests.Session()
    _, challenge = pkce_pair()
    query = {
        "client_id": "web",
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": CALLBACK,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get(f"{idp.issuer}/v1/authorize?{urlencode(query)}", timeout=10)
    assert submit_sign_in_form(browser, page, *ALICE, timeout=10).headers["Location"].startswith(CALLBACK)
    device = start(idp)
    assert 'id="okta-device-consent"' in browser.get(device["verification_uri_complete"], timeout=10).text


def test_typed_codes_are_forgiving_about_case_and_dashes(idp: IdpHandle) -> None:
    device = start(idp)
    code = device["user_code"]
    page = consent_form(signed_in(idp), idp, f"{code[:4].lower()}-{code[4:].lower()}")
    assert page.status_code == 200
    assert code in page.text


@pytest.mark.parametrize("typed", ["BCDFGHJK", "NOT A CODE", "B" * 500])
def test_a_wrong_code_is_refused_on_the_page(idp: IdpHandle, typed: str) -> None:
    page = consent_form(signed_in(idp, CAROL), idp, typed)
    assert page.status_code == 400
    assert INVALID_USER_CODE in page.text
    assert 'id="okta-activate-code"' in page.text


def test_the_code_form_is_shown_without_a_code(idp: IdpHandle) -> None:
    page = signed_in(idp).get(f"{idp.base_url}/activate", timeout=10)
    assert page.status_code == 200
    assert 'id="okta-activate-code"' in page.text
    assert parse_form(page.text, page.url).method == "get"


def test_a_decision_needs_the_forms_csrf_token_and_a_known_choice(idp: IdpHandle) -> None:
    device = start(idp)
    browser = signed_in(idp)
    fields = parse_form(consent_form(browser, idp, device["user_code"]).text, idp.base_url).fields
    forged = browser.post(
        f"{idp.base_url}/activate", data={"user_code": device["user_code"], "decision": "allow"}, timeout=10
    )
    assert forged.status_code == 403
    odd = browser.post(f"{idp.base_url}/activate", data={**fields, "decision": "maybe"}, timeout=10)
    assert odd.status_code == 400
    assert poll(idp, device).json()["error"] == "authorization_pending"  # still undecided
    allowed = browser.post(f"{idp.base_url}/activate", data={**fields, "decision": "allow"}, timeout=10)
    assert "Device activated" in allowed.text
    again = browser.post(f"{idp.base_url}/activate", data={**fields, "decision": "deny"}, timeout=10)
    assert again.status_code == 400  # decided once; the device still gets its token
    assert poll(idp, device).status_code == 200


def test_guessing_codes_is_rate_limited(idp: IdpHandle) -> None:
    browser = signed_in(idp, EVE)
    # 41 guesses: whichever minute boundary falls among them, one window sees more than 20.
    answers = [consent_form(browser, idp, "BCDFGHJK") for _ in range(41)]
    assert answers[0].status_code == 400
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited, [answer.status_code for answer in answers]
    assert TOO_MANY_ATTEMPTS in limited[0].text
