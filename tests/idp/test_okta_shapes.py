"""The local IdP answers in Okta's shapes: Management API objects against Okta's SDK models, OAuth
bodies field by field against Okta's OpenID Connect & OAuth 2.0 API reference.

Management API objects (users, groups, a user's groups, group members, event hooks, System Log
events delivered to hooks, error objects) are checked with the models of Okta's Python SDK
(``okta``, generated from Okta's OpenAPI description) by :func:`shape_problems`: types and enums
as the SDK validates them, and no key the model does not declare. Okta's OAuth endpoints have no
SDK models, so their bodies are compared with the key sets of Okta's API reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests
from okta.models import Error, EventHook, Group, LogEvent, User

from tests.idp.okta_contract import device_authorize
from tests.idp.okta_shapes import missing, shape_problems

if TYPE_CHECKING:
    from pydantic import BaseModel

    from okta_local_idp.server import IdpHandle
    from tests.idp.conftest import HookListener
    from tests.idp.okta_contract import ContractTarget, Flow

# What okta_security reads of each object (okta_api/client.py, lifecycle/okta_directory.py):
# Okta always sends these, so the local IdP must too.
USER_FIELDS = ("id", "status", "profile.login", "profile.email")
GROUP_FIELDS = ("id", "type", "objectClass", "profile.name")
ERROR_FIELDS = ("errorCode", "errorSummary", "errorLink", "errorId", "errorCauses")
# Okta's OAuth reference: the token response, the OAuth error object, introspection, device authorization.
TOKEN_FIELDS = {"token_type", "expires_in", "access_token", "scope"}
TOKEN_OPTIONAL = {"id_token", "refresh_token", "device_secret", "issued_token_type"}
OAUTH_ERROR_FIELDS = {"error", "error_description"}
INTROSPECTION_FIELDS = {"active", "scope", "username", "exp", "iat", "sub", "aud", "iss", "jti", "token_type"}
INTROSPECTION_OPTIONAL = {"client_id", "uid", "nbf", "device_id", "cid"}
DEVICE_FIELDS = {"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"}
JWK_FIELDS = {"kty", "alg", "kid", "use", "e", "n"}
EVERYONE_DESCRIPTION = "All users in your organization"  # Okta's built-in group


def _get(target: ContractTarget, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"SSWS {token or target.api_token}", "Accept": "application/json"}
    return requests.get(f"{target.base_url}/api/v1{path}", headers=headers, timeout=10)


def _objects(target: ContractTarget, path: str) -> list[dict[str, Any]]:
    response = _get(target, path)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    return body if isinstance(body, list) else [body]


def _assert_okta(model: type[BaseModel], objects: list[dict[str, Any]], fields: tuple[str, ...]) -> None:
    assert objects
    problems = {o.get("id", "?"): shape_problems(model, o) + missing(o, *fields) for o in objects}
    assert {k: v for k, v in problems.items() if v} == {}


# --------------------------------------------------------------------------- Management API


def test_users_are_okta_users(target: ContractTarget) -> None:
    users = _objects(target, "/users") + _objects(target, f"/users/{target.user_id}")
    _assert_okta(User, users, USER_FIELDS)
    every_status = _objects(target, '/users?search=status eq "SUSPENDED" or status eq "DEPROVISIONED"')
    _assert_okta(User, every_status, USER_FIELDS)


def test_groups_and_a_user_s_groups_are_okta_groups(target: ContractTarget) -> None:
    groups = _objects(target, "/groups")
    _assert_okta(Group, groups, GROUP_FIELDS)
    _assert_okta(Group, _objects(target, f"/groups/{groups[0]['id']}"), GROUP_FIELDS)
    _assert_okta(Group, _objects(target, f"/users/{target.user_id}/groups"), GROUP_FIELDS)


def test_group_members_are_okta_users(target: ContractTarget) -> None:
    group = next(g for g in _objects(target, f"/users/{target.user_id}/groups") if g["type"] == "OKTA_GROUP")
    _assert_okta(User, _objects(target, f"/groups/{group['id']}/users"), USER_FIELDS)


def test_the_everyone_group_is_okta_s_built_in_group(target: ContractTarget) -> None:
    everyone = [g for g in _objects(target, "/groups") if g["profile"]["name"] == "Everyone"]
    assert [(g["type"], g["profile"]["description"]) for g in everyone] == [("BUILT_IN", EVERYONE_DESCRIPTION)]


def test_a_membership_change_moves_the_group_s_last_membership_updated(
    target: ContractTarget, local_idp: IdpHandle
) -> None:
    group = next(g for g in _objects(target, "/groups") if g["profile"]["name"] == "airflow-viewers")
    headers = {"Authorization": f"SSWS {target.api_token}"}
    try:
        member = f"{target.base_url}/api/v1/groups/{group['id']}/users/{target.user_id}"
        assert requests.put(member, headers=headers, timeout=10).status_code == 204
        (after,) = _objects(target, f"/groups/{group['id']}")
    finally:
        requests.post(f"{local_idp.base_url}/__idp/directory/reset", timeout=10)
    assert after["lastMembershipUpdated"] > group["lastMembershipUpdated"]
    assert after["lastUpdated"] == group["lastUpdated"]  # the profile did not change


def test_event_hooks_are_okta_event_hooks(target: ContractTarget) -> None:
    hooks = _objects(target, "/eventHooks")
    _assert_okta(EventHook, hooks, ("id", "name", "status", "verificationStatus", "channel.config.uri"))


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [("/users/00unosuchuser0000000", None, 404), ("/groups/00gnosuchgroup000000", None, 404), ("/users", "bad", 401)],
)
def test_errors_are_okta_error_objects(target: ContractTarget, path: str, token: str | None, status: int) -> None:
    response = _get(target, path, token)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    _assert_okta(Error, [response.json()], ERROR_FIELDS)


def test_delivered_system_log_events_are_okta_log_events(
    target: ContractTarget, local_idp: IdpHandle, hook_listener: HookListener
) -> None:
    headers = {"Authorization": f"SSWS {target.api_token}"}
    api = f"{target.base_url}/api/v1"
    assert requests.post(f"{api}/eventHooks/{target.event_hook_id}/lifecycle/verify", headers=headers, timeout=10).ok
    group = next(g for g in _objects(target, "/groups") if g["profile"]["name"] == "airflow-viewers")
    member = f"{api}/groups/{group['id']}/users/{target.user_id}"
    try:
        assert requests.put(member, headers=headers, timeout=10).status_code == 204
        assert requests.delete(member, headers=headers, timeout=10).status_code == 204
        deliveries = requests.get(f"{local_idp.base_url}/__idp/event-hooks/deliveries?wait=1", timeout=30).json()
    finally:
        requests.post(f"{local_idp.base_url}/__idp/directory/reset", timeout=10)
    # Okta's hook deliveries carry "insertionTimestamp": null, which its System Log model does not declare
    events = [_without(e, "insertionTimestamp") for d in deliveries for e in d["body"]["data"]["events"]]
    assert {e["eventType"] for e in events} >= {"group.user_membership.add", "group.user_membership.remove"}
    _assert_okta(LogEvent, events, ("uuid", "published", "eventType", "target"))


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


# --------------------------------------------------------------------------- OAuth 2.0 / OIDC


def _assert_json(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def _assert_oauth_error(response: requests.Response, status: int, error: str) -> None:
    body = _assert_json(response, status)
    assert set(body) == OAUTH_ERROR_FIELDS
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]


def test_discovery_and_keys_have_okta_s_fields(discovery: dict[str, Any], jwks: dict[str, Any]) -> None:
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert isinstance(discovery[name], str)
    for name in ("introspection_endpoint", "revocation_endpoint", "end_session_endpoint"):
        assert discovery[name].startswith(discovery["issuer"] + "/v1/")
    for name in ("response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"):
        assert isinstance(discovery[name], list)
    assert all(set(key) == JWK_FIELDS and key["use"] == "sig" and key["alg"] == "RS256" for key in jwks["keys"])


def test_the_token_response_and_userinfo_have_okta_s_fields(flow: Flow) -> None:
    body, _ = flow.tokens()
    assert TOKEN_FIELDS <= set(body) <= TOKEN_FIELDS | TOKEN_OPTIONAL
    assert (body["token_type"], type(body["expires_in"])) == ("Bearer", int)
    response = requests.get(
        flow.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert isinstance(_assert_json(response, 200)["sub"], str)


def test_introspection_has_okta_s_fields(flow: Flow) -> None:
    body, _ = flow.tokens()
    auth = (flow.target.client_id, flow.target.client_secret)
    url = flow.discovery["introspection_endpoint"]
    info = _assert_json(requests.post(url, data={"token": body["access_token"]}, auth=auth, timeout=10), 200)
    assert INTROSPECTION_FIELDS <= set(info) <= INTROSPECTION_FIELDS | INTROSPECTION_OPTIONAL
    assert _assert_json(requests.post(url, data={"token": "garbage"}, auth=auth, timeout=10), 200) == {"active": False}


def test_an_id_token_introspects_with_its_claims_as_okta_s(flow: Flow) -> None:
    # Okta's /introspect takes access, ID and refresh tokens (token_type_hint access_token | id_token | refresh_token).
    body, _ = flow.tokens()
    auth = (flow.target.client_id, flow.target.client_secret)
    url = flow.discovery["introspection_endpoint"]
    hinted = {"token": body["id_token"], "token_type_hint": "id_token"}
    info = _assert_json(requests.post(url, data=hinted, auth=auth, timeout=10), 200)
    assert (info["active"], info["aud"], info["iss"]) == (True, flow.target.client_id, flow.discovery["issuer"])
    assert isinstance(info["sub"], str)
    forged = {"token": body["id_token"][:-4] + "AAAA", "token_type_hint": "id_token"}
    assert _assert_json(requests.post(url, data=forged, auth=auth, timeout=10), 200) == {"active": False}


def test_revocation_answers_200_with_no_content(flow: Flow) -> None:
    body, _ = flow.tokens()
    auth = (flow.target.client_id, flow.target.client_secret)
    for token in (body["access_token"], "garbage"):  # RFC 7009 §2.2: an unknown token is revoked too
        response = requests.post(flow.discovery["revocation_endpoint"], data={"token": token}, auth=auth, timeout=10)
        assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize("endpoint", ["revocation_endpoint", "introspection_endpoint"])
@pytest.mark.parametrize(
    ("data", "error"),
    [({}, "invalid_request"), ({"token": "x", "token_type_hint": "bogus"}, "unsupported_token_type")],
)
def test_a_malformed_token_request_is_an_okta_oauth_error(
    flow: Flow, endpoint: str, data: dict[str, str], error: str
) -> None:
    auth = (flow.target.client_id, flow.target.client_secret)
    _assert_oauth_error(requests.post(flow.discovery[endpoint], data=data, auth=auth, timeout=10), 400, error)


def test_token_errors_are_okta_oauth_errors(flow: Flow) -> None:
    url = flow.discovery["token_endpoint"]
    auth = (flow.target.client_id, flow.target.client_secret)
    bad_code = {"grant_type": "authorization_code", "code": "x", "redirect_uri": flow.target.redirect_uri}
    _assert_oauth_error(requests.post(url, data=bad_code, auth=auth, timeout=10), 400, "invalid_grant")
    _assert_oauth_error(
        requests.post(url, data={"grant_type": "nope"}, auth=auth, timeout=10), 400, "unsupported_grant_type"
    )
    wrong = (flow.target.client_id, "wrong")
    _assert_oauth_error(requests.post(url, data=bad_code, auth=wrong, timeout=10), 401, "invalid_client")
    userinfo = requests.get(flow.discovery["userinfo_endpoint"], headers={"Authorization": "Bearer x"}, timeout=10)
    _assert_oauth_error(userinfo, 401, "invalid_token")
    assert userinfo.headers["WWW-Authenticate"].startswith("Bearer ")


def test_device_authorization_has_okta_s_fields(target: ContractTarget) -> None:
    if target.device_client_id is None:
        pytest.skip("no native app with the Device Authorization grant")
    body = _assert_json(device_authorize(target.issuer, target.device_client_id, "openid"), 200)
    assert set(body) == DEVICE_FIELDS
    assert all(isinstance(body[k], int) and body[k] > 0 for k in ("expires_in", "interval"))
