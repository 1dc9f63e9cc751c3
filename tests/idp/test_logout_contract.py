"""Contract: RP-initiated logout at ``/v1/logout``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tests.idp.okta_contract import Flow


def _logout(flow: Flow, **params: str):  # type: ignore[no-untyped-def]
    return flow.browser.get(flow.discovery["end_session_endpoint"], params=params, allow_redirects=False, timeout=10)


def test_logout_redirects_to_registered_uri_with_state_and_ends_the_session(flow: Flow) -> None:
    body, _ = flow.tokens()
    response = _logout(
        flow,
        id_token_hint=body["id_token"],
        post_logout_redirect_uri=flow.target.post_logout_redirect_uri,
        state="bye-123",
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(flow.target.post_logout_redirect_uri)
    assert parse_qs(urlsplit(location).query)["state"] == ["bye-123"]
    _, page = flow.authorize()
    assert flow.target.asks_for_credentials(page), "the IdP session survived logout"


def test_unregistered_post_logout_uri_is_an_error_page(flow: Flow) -> None:
    body, _ = flow.tokens()
    response = _logout(flow, id_token_hint=body["id_token"], post_logout_redirect_uri="https://attacker.example/")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "post_logout_redirect_uri" in response.text


def test_forged_id_token_hint_is_refused(flow: Flow) -> None:
    body, _ = flow.tokens()
    header, payload, _signature = body["id_token"].split(".")
    response = _logout(
        flow,
        id_token_hint=f"{header}.{payload}.AAAA",
        post_logout_redirect_uri=flow.target.post_logout_redirect_uri,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_logout_without_redirect_ends_the_session_without_returning_to_the_app(flow: Flow) -> None:
    body, _ = flow.tokens()
    assert flow.has_session()
    response = _logout(flow, id_token_hint=body["id_token"])
    assert not response.headers.get("Location", "").startswith(flow.target.post_logout_redirect_uri)
    if not flow.target.real_org:  # the local IdP's own page (Okta shows its sign-in page instead)
        assert response.status_code == 200
        assert "signed out" in response.text.lower()
    assert not flow.has_session()
    _, page = flow.authorize()
    assert flow.target.asks_for_credentials(page)
