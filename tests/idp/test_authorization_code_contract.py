"""Contract: the authorization code + PKCE flow, ID and access tokens, userinfo, SSO."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING

import pytest
import requests

from okta_local_idp.testing import is_sign_in_page, parse_form

if TYPE_CHECKING:
    from tests.idp.okta_contract import ContractTarget, Flow


@pytest.mark.local_idp  # Okta's own page is a JavaScript widget
def test_sign_in_page_is_a_real_form(flow: Flow) -> None:
    _, page = flow.authorize()
    assert is_sign_in_page(page)
    form = parse_form(page.text, page.url)
    assert form.method == "post"
    assert form.ids["okta-signin-username"] == "username"
    assert form.ids["okta-signin-password"] == "password"
    assert "okta-signin-submit" in form.ids


def test_code_redirect_carries_state(flow: Flow, target: ContractTarget) -> None:
    auth = flow.login()
    assert auth.location.startswith(target.redirect_uri + "?")
    assert auth.params["state"] == auth.state
    assert auth.code


def test_token_response_shape(flow: Flow) -> None:
    body, _ = flow.tokens()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {"openid", "profile", "email"}
    assert body["access_token"]
    assert body["id_token"]


def test_id_token_signature_and_claims(flow: Flow, target: ContractTarget) -> None:
    body, auth = flow.tokens()
    header, claims = flow.verify(body["id_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] in {key.kid for key in flow.key_set.keys}
    now = time.time()
    assert claims["iss"] == target.issuer
    assert claims["aud"] == target.client_id
    assert claims["nonce"] == auth.nonce
    assert claims["sub"] == target.user_id
    assert claims["preferred_username"] == target.username
    assert claims["email"] == target.username
    assert claims["name"]
    assert claims["ver"] == 1
    assert claims["amr"] == ["pwd"]
    assert claims["idp"].startswith("00o")
    assert claims["jti"]
    assert claims["iat"] <= now + 5 < claims["exp"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["auth_time"] <= now + 5
    assert sorted(claims["groups"]) == sorted(target.user_groups)
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_access_token_is_an_okta_jwt(flow: Flow, target: ContractTarget) -> None:
    body, _ = flow.tokens()
    header, claims = flow.verify(body["access_token"])
    assert header["kid"]
    assert claims["iss"] == target.issuer
    assert claims["aud"] == target.audience
    assert claims["cid"] == target.client_id
    assert claims["uid"] == target.user_id
    assert claims["sub"] == target.username
    assert set(claims["scp"]) == {"openid", "profile", "email"}
    assert claims["ver"] == 1
    assert claims["jti"]
    assert claims["exp"] - claims["iat"] == 3600


def test_userinfo_matches_the_id_token(flow: Flow, target: ContractTarget) -> None:
    body, _ = flow.tokens()
    _, id_claims = flow.verify(body["id_token"])
    response = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert response.status_code == 200
    info = response.json()
    assert info["sub"] == id_claims["sub"]
    assert info["preferred_username"] == target.username
    assert info["email"] == target.username
    assert info["email_verified"] is True
    for claim in ("name", "given_name", "family_name", "locale", "zoneinfo", "updated_at"):
        assert claim in info, claim
    assert sorted(info["groups"]) == sorted(target.user_groups)


def test_second_authorize_in_the_session_skips_the_form(flow: Flow) -> None:
    flow.login()
    auth, response = flow.authorize()
    assert response.status_code == 302, "expected single sign-on without the form"
    assert auth.params["state"] == auth.state
    assert flow.exchange(auth.code, auth.verifier).status_code == 200


def test_prompt_login_forces_the_form_again(flow: Flow, target: ContractTarget) -> None:
    flow.login()
    _, page = flow.authorize(prompt="login")
    assert target.asks_for_credentials(page)


def test_prompt_none_without_session_is_login_required(flow: Flow) -> None:
    auth, response = flow.authorize(prompt="none")
    assert response.status_code == 302
    assert auth.params["error"] == "login_required"
    assert auth.params["state"] == auth.state


@pytest.mark.local_idp
def test_wrong_password_reshows_the_form(flow: Flow, target: ContractTarget) -> None:
    _, page = flow.authorize()
    response = target.sign_in(flow.browser, page, target.username, "not-the-password")
    assert is_sign_in_page(response)
    assert "Unable to sign in" in response.text
    assert "Location" not in response.headers


@pytest.mark.local_idp
def test_unknown_user_reshows_the_form(flow: Flow, target: ContractTarget) -> None:
    _, page = flow.authorize()
    response = target.sign_in(flow.browser, page, "nobody@example.com", "whatever")
    assert is_sign_in_page(response)
    assert "Unable to sign in" in response.text


def test_refresh_token_only_with_offline_access(flow: Flow) -> None:
    body, _ = flow.tokens()
    assert "refresh_token" not in body
    body, _ = flow.tokens(scope="openid profile offline_access")
    assert body["refresh_token"]
    response = requests.post(
        flow.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(flow.target.client_id, flow.target.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert refreshed["access_token"] != body["access_token"]
    _, claims = flow.verify(refreshed["id_token"])
    assert claims["sub"] == flow.target.user_id
