"""The org authorization server (service apps, okta.* scopes) and the Management API's Bearer auth and faults."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from okta_local_idp.server import IdpHandle, serve_in_thread
from okta_local_idp.testing import pkce_pair, submit_sign_in_form
from tests.idp.okta_contract import CALLBACK, base_config, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.local_idp  # its own IdP with a service app; a real org's would need write access

SERVICE_APP = "0oaserviceapp0000001"
MANY_GROUPS_USER = "00umanygroups0000005"
ALICE = "00uadmin000000000001"
PKCE = pkce_pair()


@pytest.fixture(scope="module")
def service_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "svc-1"})


@pytest.fixture(scope="module")
def org_idp(tmp_path_factory: pytest.TempPathFactory, service_key: RSAKey) -> Iterator[IdpHandle]:
    config = base_config()
    config["clients"].append(
        {
            "client_id": SERVICE_APP,
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "jwks": {"keys": [service_key.as_dict(private=False)]},
        }
    )
    path = write_config(tmp_path_factory.mktemp("org") / "idp.yaml", config)
    with serve_in_thread(path) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _no_faults_left(org_idp: IdpHandle) -> Iterator[None]:
    yield
    org_idp.clear_faults()


def token_url(idp: IdpHandle) -> str:
    return f"{idp.base_url}/oauth2/v1/token"


def request_token(
    idp: IdpHandle,
    key: RSAKey,
    *,
    scope: str = "okta.users.read okta.groups.read",
    audience: str | None = None,
    client_id: str = SERVICE_APP,
) -> requests.Response:
    auth = OAuth2ClientAuth(
        client_id, key, auth_method=PrivateKeyJWT(audience or token_url(idp), headers={"kid": "svc-1"})
    )
    return requests.post(
        token_url(idp), data={"grant_type": "client_credentials", "scope": scope}, auth=auth, timeout=10
    )


def groups(idp: IdpHandle, authorization: str, user: str = "00uadmin000000000001", **params: Any) -> requests.Response:
    return requests.get(
        f"{idp.base_url}/api/v1/users/{user}/groups",
        headers={"Authorization": authorization, "Accept": "application/json"},
        params=params,
        timeout=10,
    )


def test_service_app_gets_a_bearer_token_for_okta_scopes(org_idp, service_key):
    response = request_token(org_idp, service_key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "okta.users.read okta.groups.read"
    assert "refresh_token" not in body
    assert "id_token" not in body


def test_the_management_api_accepts_the_org_token_and_pages_with_it(org_idp, service_key):
    token = request_token(org_idp, service_key).json()["access_token"]
    first = groups(org_idp, f"Bearer {token}", MANY_GROUPS_USER)
    assert first.status_code == 200
    assert len(first.json()) == 200
    second = requests.get(first.links["next"]["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert len(second.json()) == 50
    assert "next" not in second.links


@pytest.mark.parametrize(
    ("scope", "description"),
    [
        ("airflow.api", "Custom scopes are not allowed for this request."),
        ("okta.users.manage", "The requested scope is invalid, unknown, or malformed."),
        ("", "'scope' must be provided"),
    ],
)
def test_only_known_okta_scopes_are_issued(org_idp, service_key, scope, description):
    response = request_token(org_idp, service_key, scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert description in response.json()["error_description"]


def test_client_secret_cannot_get_okta_scopes(org_idp):
    response = requests.post(
        token_url(org_idp),
        data={"grant_type": "client_credentials", "scope": "okta.users.read"},
        auth=("service-bot", "service-bot-secret"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_an_assertion_for_another_audience_is_refused(org_idp, service_key):
    response = request_token(org_idp, service_key, audience=f"{org_idp.issuer}/v1/token")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_an_assertion_signed_with_another_key_is_refused(org_idp):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "svc-1"})
    response = request_token(org_idp, stranger)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_token_without_okta_users_read_gets_403_insufficient_scope(org_idp, service_key):
    token = request_token(org_idp, service_key, scope="okta.groups.read").json()["access_token"]
    response = groups(org_idp, f"Bearer {token}")
    assert response.status_code == 403
    assert response.json()["errorCode"] == "E0000006"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="okta.users.read"' in response.headers["WWW-Authenticate"]


def test_tokens_of_a_custom_authorization_server_are_refused(org_idp):
    custom = requests.post(
        f"{org_idp.issuer}/v1/token",
        data={"grant_type": "client_credentials", "scope": "airflow.api"},
        auth=("service-bot", "service-bot-secret"),
        timeout=10,
    )
    assert custom.status_code == 200, custom.text
    response = groups(org_idp, f"Bearer {custom.json()['access_token']}")
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E0000011"


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", ""])
def test_garbage_credentials_are_401(org_idp, authorization):
    response = groups(org_idp, authorization)
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E0000011"


# -- faults (local IdP only) ---------------------------------------------------------------------


@pytest.mark.local_idp
@pytest.mark.parametrize("status", [500, 503])
def test_api_status_fault_answers_an_outage(org_idp, status):
    org_idp.set_faults(api_status=status)
    response = groups(org_idp, "SSWS test-api-token")
    assert response.status_code == status
    assert response.json()["errorCode"] == "E0000009"
    assert response.headers["X-Okta-Request-Id"]


@pytest.mark.local_idp
def test_api_status_429_counts_down_with_okta_rate_limit_headers(org_idp):
    org_idp.set_faults(api_status=429, api_status_times=1, api_rate_limit_reset_in=5)
    limited = groups(org_idp, "SSWS test-api-token")
    assert limited.status_code == 429
    assert limited.json()["errorCode"] == "E0000047"
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    assert int(time.time()) + 3 <= int(limited.headers["X-Rate-Limit-Reset"]) <= int(time.time()) + 5
    assert groups(org_idp, "SSWS test-api-token").status_code == 200  # the countdown ran out


@pytest.mark.local_idp
def test_api_delay_fault_slows_answers(org_idp):
    org_idp.set_faults(api_delay_ms=400)
    started = time.monotonic()
    assert groups(org_idp, "SSWS test-api-token").status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(requests.ReadTimeout):
        requests.get(
            f"{org_idp.base_url}/api/v1/users/00uadmin000000000001/groups",
            headers={"Authorization": "SSWS test-api-token"},
            timeout=(2, 0.1),
        )


@pytest.mark.local_idp
def test_faults_do_not_touch_the_token_endpoint(org_idp, service_key):
    org_idp.set_faults(api_status=503)
    assert request_token(org_idp, service_key).status_code == 200


# -- people sign in through the org server (the ID tokens Cross App Access exchanges) ------------


def _authorization_request(server: str, browser: requests.Session, scope: str = "openid profile") -> requests.Response:
    params = {
        "client_id": "contract-web",
        "response_type": "code",
        "scope": scope,
        "redirect_uri": CALLBACK,
        "state": "st",
        "code_challenge": PKCE[1],
        "code_challenge_method": "S256",
    }
    return browser.get(f"{server}/authorize", params=params, allow_redirects=False, timeout=10)


def _authorize_at(server: str, browser: requests.Session) -> requests.Response:
    """Sign Alice in to contract-web at ``server``; return the answer (a redirect to the callback)."""
    page = _authorization_request(server, browser)
    return submit_sign_in_form(browser, page, "alice.admin@example.com", "Admin-pass-1", timeout=10)


def _redeem_at(server: str, answer: requests.Response) -> requests.Response:
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": PKCE[0]}
    return requests.post(f"{server}/token", data=data, auth=("contract-web", "contract-web-secret"), timeout=10)


def test_a_person_signs_in_through_the_org_server_and_gets_org_tokens(org_idp):
    org = f"{org_idp.base_url}/oauth2/v1"
    discovery = requests.get(f"{org_idp.base_url}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["authorization_endpoint"] == f"{org}/authorize"
    assert "authorization_code" in discovery["grant_types_supported"]
    tokens = _redeem_at(org, _authorize_at(org, requests.Session()))
    assert tokens.status_code == 200, tokens.text
    keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())
    id_token = jwt.decode(tokens.json()["id_token"], keys).claims
    assert (id_token["iss"], id_token["aud"], id_token["sub"]) == (org_idp.base_url, "contract-web", ALICE)
    access = jwt.decode(tokens.json()["access_token"], keys).claims
    assert (access["iss"], access["aud"], access["uid"]) == (org_idp.base_url, org_idp.base_url, ALICE)
    assert "refresh_token" not in tokens.json()
    # A person's org token carries no okta.* scope: the Management API refuses it.
    assert groups(org_idp, f"Bearer {tokens.json()['access_token']}").status_code == 403


@pytest.mark.parametrize("where", ["org", "custom"])
def test_a_code_is_redeemed_only_where_it_was_issued(org_idp, where):
    org, custom = f"{org_idp.base_url}/oauth2/v1", f"{org_idp.issuer}/v1"
    issued_at, redeemed_at = (org, custom) if where == "org" else (custom, org)
    response = _redeem_at(redeemed_at, _authorize_at(issued_at, requests.Session()))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code is invalid or has expired.",
    }


@pytest.mark.parametrize("scope", ["openid airflow.api", "openid offline_access", "openid okta.users.read"])
def test_the_org_server_signs_people_in_for_openid_scopes_only(org_idp, scope):
    answer = _authorization_request(f"{org_idp.base_url}/oauth2/v1", requests.Session(), scope)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert query["state"] == ["st"]
