"""The local IdP's step-up: acr_values and max_age on /v1/authorize, a second step with a one-time code,
and ``amr``/``auth_time`` in its tokens as Okta puts them there."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from okta_local_idp.server import serve_in_thread
from okta_local_idp.testing import (
    is_second_factor_page,
    is_sign_in_page,
    parse_form,
    pkce_pair,
    submit_second_factor,
    submit_sign_in_form,
)
from tests.idp.okta_contract import CALLBACK, base_config, write_config

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from okta_local_idp.server import IdpHandle

pytestmark = pytest.mark.local_idp

CLIENT = ("contract-web", "contract-web-secret")
TWO_FACTORS = "urn:okta:loa:2fa:any"


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[IdpHandle]:
    data = base_config()
    data["server"]["access_token_auth_claims"] = True
    with serve_in_thread(write_config(tmp_path / "idp.yaml", data)) as handle:
        yield handle


def _user() -> tuple[str, str]:
    user = base_config()["users"][0]
    return user["login"], user["password"]


def _authorize(s: requests.Session, idp: IdpHandle, **extra: str) -> tuple[requests.Response, str]:
    verifier, challenge = pkce_pair()
    params = {
        "client_id": CLIENT[0],
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid profile",
        "state": "st",
        "nonce": secrets.token_urlsafe(8),  # a nonce of an outstanding code is refused as a replay
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return s.get(f"{idp.issuer}/v1/authorize", params=params, allow_redirects=False, timeout=10), verifier


def _tokens(idp: IdpHandle, redirect: requests.Response, verifier: str) -> dict[str, Any]:
    assert redirect.status_code == 302, redirect.text[:300]
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    body = requests.post(
        f"{idp.issuer}/v1/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier},
        auth=CLIENT,
        timeout=10,
    ).json()
    return {name: idp.context.keys.verify(body[name]) for name in ("id_token", "access_token")}


def test_a_password_sign_in_says_pwd_and_when(idp: IdpHandle) -> None:
    s = requests.Session()
    page, verifier = _authorize(s, idp)
    before = int(time.time())
    tokens = _tokens(idp, submit_sign_in_form(s, page, *_user(), timeout=10), verifier)
    assert tokens["id_token"]["amr"] == ["pwd"]
    assert before <= tokens["id_token"]["auth_time"] <= time.time()
    assert (tokens["access_token"]["amr"], tokens["access_token"]["auth_time"]) == (
        ["pwd"],
        tokens["id_token"]["auth_time"],
    )


def test_acr_values_for_two_factors_asks_for_the_shown_code_then_says_mfa(idp: IdpHandle) -> None:
    s = requests.Session()
    page, verifier = _authorize(s, idp)
    submit_sign_in_form(s, page, *_user(), timeout=10)  # a password session first
    stepped, verifier = _authorize(s, idp, acr_values=TWO_FACTORS, max_age="3600")
    assert is_second_factor_page(stepped)  # the session's password does not satisfy the acr_values
    wrong = parse_form(stepped.text, stepped.url)
    again = s.post(wrong.action, data={**wrong.fields, "otp": "not-it"}, allow_redirects=False, timeout=10)
    assert is_second_factor_page(again)
    assert "match our records" in again.text
    tokens = _tokens(idp, submit_second_factor(s, again, timeout=10), verifier)
    assert tokens["id_token"]["amr"] == ["pwd", "mfa", "otp"]
    assert tokens["id_token"]["auth_time"] >= int(time.time()) - 5
    # The session is multi-factor now: the next step-up request answers at once.
    quick, verifier = _authorize(s, idp, acr_values=TWO_FACTORS)
    assert _tokens(idp, quick, verifier)["id_token"]["amr"] == ["pwd", "mfa", "otp"]


def test_max_age_asks_for_the_password_again_when_the_session_is_older(idp: IdpHandle) -> None:
    s = requests.Session()
    page, _ = _authorize(s, idp)
    submit_sign_in_form(s, page, *_user(), timeout=10)
    time.sleep(1.1)
    stale, verifier = _authorize(s, idp, max_age="0")
    assert is_sign_in_page(stale)
    tokens = _tokens(idp, submit_sign_in_form(s, stale, *_user(), timeout=10), verifier)
    assert tokens["id_token"]["amr"] == ["pwd"]
    fresh, verifier = _authorize(s, idp, max_age="3600")
    assert fresh.status_code == 302  # recent enough: no sign-in page


def test_a_code_without_a_session_goes_back_to_the_password(idp: IdpHandle) -> None:
    page, _ = _authorize(requests.Session(), idp, acr_values=TWO_FACTORS)
    form = parse_form(page.text, page.url)
    stranger = requests.post(form.action, data={**form.fields, "otp": "123456"}, allow_redirects=False, timeout=10)
    assert is_sign_in_page(stranger)
