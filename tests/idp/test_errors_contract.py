"""Contract: how authorization and token requests fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.idp.okta_contract import ContractTarget, Flow

INVALID_CLIENT = "Client authentication failed. Either the client or the client credentials are invalid."


# -- authorization endpoint ------------------------------------------------------------


def test_unregistered_redirect_uri_is_an_error_page_not_a_redirect(flow: Flow) -> None:
    _, response = flow.authorize(redirect_uri="https://attacker.example/callback")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "text/html" in response.headers["Content-Type"]
    assert "redirect_uri" in response.text


def test_unknown_client_is_an_error_page(flow: Flow) -> None:
    _, response = flow.authorize(client_id="no-such-client")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "client_id" in response.text


def test_undefined_groups_scope_redirects_invalid_scope(flow: Flow, target: ContractTarget) -> None:
    if target.groups_scope_defined is not False:
        pytest.skip("the server defines a 'groups' scope (or OKTA_CONTRACT_GROUPS_SCOPE is not set)")
    auth, response = flow.authorize(scope="openid profile groups")
    assert response.status_code == 302
    assert auth.location.startswith(target.redirect_uri)
    assert auth.params["error"] == "invalid_scope"
    assert auth.params["error_description"]
    assert auth.params["state"] == auth.state
    assert "code" not in auth.params


def test_missing_code_challenge_is_invalid_request(flow: Flow) -> None:
    auth, response = flow.authorize(code_challenge=None, code_challenge_method=None)
    assert response.status_code == 302
    assert auth.params["error"] == "invalid_request"
    assert auth.params["state"] == auth.state


def test_plain_code_challenge_method_is_refused(flow: Flow) -> None:
    auth, response = flow.authorize(code_challenge_method="plain")
    assert response.status_code == 302
    assert auth.params["error"] == "invalid_request"


def test_unsupported_response_type_redirects(flow: Flow) -> None:
    auth, response = flow.authorize(response_type="token")
    assert response.status_code == 302
    assert auth.params["error"] == "unsupported_response_type"
    assert auth.params["state"] == auth.state


# -- token endpoint ----------------------------------------------------------------------


def test_wrong_client_secret_is_401_invalid_client(flow: Flow) -> None:
    auth = flow.login()
    response = flow.exchange(auth.code, auth.verifier, client_secret="wrong-secret")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": INVALID_CLIENT}


def test_unknown_client_is_401_invalid_client(flow: Flow) -> None:
    auth = flow.login()
    response = flow.exchange(auth.code, auth.verifier, client_id="no-such-client", client_secret="x")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_client_must_use_its_registered_auth_method(flow: Flow) -> None:
    auth = flow.login()
    response = flow.exchange(auth.code, auth.verifier, post_auth=True)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_reused_code_is_invalid_grant(flow: Flow) -> None:
    auth = flow.login()
    assert flow.exchange(auth.code, auth.verifier).status_code == 200
    again = flow.exchange(auth.code, auth.verifier)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code is invalid or has expired.",
    }


def test_unknown_code_is_invalid_grant(flow: Flow) -> None:
    response = flow.exchange("not-a-code", "x" * 43)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_invalid_grant(flow: Flow) -> None:
    auth = flow.login()
    response = flow.exchange(auth.code, "w" * 64)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_missing_pkce_verifier_is_invalid_grant(flow: Flow) -> None:
    auth = flow.login()
    response = flow.exchange(auth.code, None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorization_request(flow: Flow) -> None:
    auth = flow.login()
    response = flow.exchange(auth.code, auth.verifier, redirect_uri=flow.target.redirect_uri + "/other")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type(flow: Flow) -> None:
    response = requests.post(
        flow.discovery["token_endpoint"],
        data={"grant_type": "password", "username": "a", "password": "b"},
        auth=(flow.target.client_id, flow.target.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# -- userinfo ----------------------------------------------------------------------------


def test_userinfo_without_token_is_401(flow: Flow) -> None:
    response = requests.get(flow.discovery["userinfo_endpoint"], timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_userinfo_with_bad_token_is_401_invalid_token(flow: Flow) -> None:
    response = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": "Bearer not-a-token"}, timeout=10
    )
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert 'error_description="The access token is invalid."' in challenge
