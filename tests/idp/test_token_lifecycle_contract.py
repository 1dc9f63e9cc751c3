"""Contract: revocation, introspection and client credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from tests.idp.okta_contract import Flow


def _introspect(flow: Flow, token: str) -> dict[str, object]:
    response = requests.post(
        flow.discovery["introspection_endpoint"],
        data={"token": token, "token_type_hint": "access_token"},
        auth=(flow.target.client_id, flow.target.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_introspect_then_revoke_access_token(flow: Flow) -> None:
    body, _ = flow.tokens()
    access_token = body["access_token"]
    info = _introspect(flow, access_token)
    assert info["active"] is True
    assert info["client_id"] == flow.target.client_id
    assert info["uid"] == flow.target.user_id

    response = requests.post(
        flow.discovery["revocation_endpoint"],
        data={"token": access_token, "token_type_hint": "access_token"},
        auth=(flow.target.client_id, flow.target.client_secret),
        timeout=10,
    )
    assert response.status_code == 200
    assert _introspect(flow, access_token) == {"active": False}
    userinfo = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    assert userinfo.status_code == 401


def test_introspecting_garbage_is_inactive(flow: Flow) -> None:
    assert _introspect(flow, "garbage") == {"active": False}
