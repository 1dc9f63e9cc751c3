"""Contract: the Device Authorization Grant (RFC 8628) as Okta serves it to a native app (a CLI).

Against a real org the checks that need a person to approve a code at Okta's ``/activate`` page are
skipped; the rest (codes, polling errors, client and scope checks) run when
``OKTA_CONTRACT_DEVICE_CLIENT_ID`` names a native app with the Device Authorization grant.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.idp.okta_contract import DEVICE_CODE_GRANT, device_authorize, device_poll

if TYPE_CHECKING:
    from tests.idp.okta_contract import ApproveDevice, ContractTarget, Flow

PENDING = {
    "error": "authorization_pending",
    "error_description": "The device authorization is pending. Please try again later.",
}
DEVICE_FIELDS = {"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"}


@pytest.fixture
def cli(target: ContractTarget) -> str:
    """Return the client id of the native app allowed to use the device grant."""
    if target.device_client_id is None:
        pytest.skip("set OKTA_CONTRACT_DEVICE_CLIENT_ID: a native app with the Device Authorization grant")
    return target.device_client_id


@pytest.fixture
def approve(target: ContractTarget) -> ApproveDevice:
    """Return how to approve or deny a user code, as the person in front of the browser would."""
    if target.approve_device is None:
        pytest.skip("approving a user code needs a person at Okta's /activate page (sign-in widget, MFA)")
    return target.approve_device


def start(target: ContractTarget, cli: str, scope: str = "openid profile") -> dict[str, Any]:
    """Ask for a device code; return the device authorization response."""
    response = device_authorize(target.issuer, cli, scope)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def poll(target: ContractTarget, cli: str, device: dict[str, Any]) -> requests.Response:
    return device_poll(target.issuer, cli, device["device_code"])


# -- without a person --------------------------------------------------------------------------


def test_discovery_advertises_the_device_endpoint(target: ContractTarget, discovery: dict[str, Any]) -> None:
    assert discovery["device_authorization_endpoint"] == f"{target.issuer}/v1/device/authorize"
    assert DEVICE_CODE_GRANT in discovery["grant_types_supported"]


def test_device_authorize_answers_with_oktas_fields(target: ContractTarget, cli: str) -> None:
    response = device_authorize(target.issuer, cli, "openid profile")
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers.get("Cache-Control", "")
    body = response.json()
    assert set(body) == DEVICE_FIELDS
    assert re.fullmatch("[A-Z]{8}", body["user_code"]), body["user_code"]  # Okta: 8 letters, no dash
    assert body["verification_uri"] == f"{target.base_url}/activate"  # the org's page, not the server's
    assert body["verification_uri_complete"] == f"{target.base_url}/activate?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    assert len(body["device_code"]) >= 32
    again = start(target, cli)
    assert (again["device_code"], again["user_code"]) != (body["device_code"], body["user_code"])


def test_polling_before_approval_is_pending_then_slow_down_when_too_fast(target: ContractTarget, cli: str) -> None:
    device = start(target, cli)
    first = poll(target, cli, device)
    assert (first.status_code, first.json()) == (400, PENDING)
    second = poll(target, cli, device)  # at once: well within `interval`
    assert second.status_code == 400
    assert second.json()["error"] == "slow_down"
    assert second.json()["error_description"]


def test_unknown_device_code_is_invalid_grant(target: ContractTarget, cli: str) -> None:
    response = device_poll(target.issuer, cli, "4ebdb4de-1f8b-4497-be01-ddfaf83c4e9c")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_missing_device_code_is_invalid_request(target: ContractTarget, cli: str) -> None:
    response = device_poll(target.issuer, cli, None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_client_without_the_grant_is_unauthorized_client(target: ContractTarget) -> None:
    """The web app of the suite is not allowed the device grant: neither codes nor polling."""
    web = (target.client_id, target.client_secret)
    response = device_authorize(target.issuer, target.client_id, "openid", auth=web)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert response.json()["error_description"]
    polled = device_poll(target.issuer, target.client_id, "4ebdb4de-1f8b-4497-be01-ddfaf83c4e9c", auth=web)
    assert polled.status_code == 400
    assert polled.json()["error"] == "unauthorized_client"


def test_unknown_client_is_invalid_client(target: ContractTarget) -> None:
    response = device_authorize(target.issuer, "no-such-client", "openid")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_undefined_scope_is_invalid_scope(target: ContractTarget, cli: str) -> None:
    response = device_authorize(target.issuer, cli, "openid not.a.defined.scope")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


# -- with a person approving or denying ---------------------------------------------------------


def test_approved_code_yields_a_user_access_token_from_the_custom_server(
    target: ContractTarget, cli: str, approve: ApproveDevice, flow: Flow
) -> None:
    device = start(target, cli, "openid profile email")
    assert poll(target, cli, device).json() == PENDING
    approve(device["verification_uri_complete"], target.username, target.password, True)
    response = poll(target, cli, device)  # right after the last poll: a decided code answers at once
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert set(body["scope"].split()) == {"openid", "profile", "email"}
    assert "refresh_token" not in body  # no offline_access asked for

    _, claims = flow.verify(body["access_token"])  # signed with a key of the server's JWKS
    assert claims["iss"] == target.issuer
    assert claims["aud"] == target.audience
    assert claims["cid"] == cli
    assert claims["uid"] == target.user_id
    assert claims["sub"] == target.username  # a user access token's sub is the login
    assert set(claims["scp"]) == {"openid", "profile", "email"}
    assert claims["exp"] - claims["iat"] == 3600
    if not target.real_org:  # the suite's server adds groups to ID tokens only
        assert "groups" not in claims

    _, id_claims = flow.verify(body["id_token"])
    assert (id_claims["iss"], id_claims["aud"], id_claims["sub"]) == (target.issuer, cli, target.user_id)
    assert isinstance(id_claims["auth_time"], int)


def test_a_device_code_gives_tokens_once(target: ContractTarget, cli: str, approve: ApproveDevice) -> None:
    device = start(target, cli)
    approve(device["verification_uri_complete"], target.username, target.password, True)
    assert poll(target, cli, device).status_code == 200
    again = poll(target, cli, device)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_refresh_token_only_with_offline_access_and_it_refreshes(
    target: ContractTarget, cli: str, approve: ApproveDevice, flow: Flow
) -> None:
    device = start(target, cli, "openid offline_access")
    approve(device["verification_uri_complete"], target.username, target.password, True)
    body = poll(target, cli, device).json()
    assert body["refresh_token"]
    refreshed = requests.post(
        flow.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": cli},
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text
    _, claims = flow.verify(refreshed.json()["access_token"])
    assert (claims["uid"], claims["cid"]) == (target.user_id, cli)


def test_denied_code_is_access_denied(target: ContractTarget, cli: str, approve: ApproveDevice) -> None:
    device = start(target, cli)
    approve(device["verification_uri_complete"], target.username, target.password, False)
    response = poll(target, cli, device)
    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"
    assert response.json()["error_description"]
