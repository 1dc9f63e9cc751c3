"""Watching calls to Okta: endpoint kinds from URLs (never the URL itself), observers isolated from the call."""

from __future__ import annotations

import pytest
import requests
import responses

from okta_security.okta_api import observe


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://dev-1.okta.com/oauth2/default/.well-known/openid-configuration", "discovery"),
        ("https://dev-1.okta.com/.well-known/openid-configuration", "discovery"),
        ("https://dev-1.okta.com/oauth2/default/v1/keys", "jwks"),
        ("https://dev-1.okta.com/oauth2/v1/keys", "jwks"),
        ("https://dev-1.okta.com/oauth2/aus1/v1/token", "token"),
        ("https://dev-1.okta.com/oauth2/default/v1/userinfo", "userinfo"),
        ("https://dev-1.okta.com/oauth2/default/v1/introspect", "introspect"),
        ("https://dev-1.okta.com/oauth2/default/v1/device/authorize", "device_authorize"),
        ("https://dev-1.okta.com/api/v1/users/00u1/groups?limit=200&after=x", "groups_api"),
        ("https://dev-1.okta.com/api/v1/users?search=status", "users_api"),
        ("https://dev-1.okta.com/api/v1/groups", "management_api"),
        ("https://dev-1.okta.com/somewhere", "other"),
    ],
)
def test_endpoint_kinds(url, endpoint):
    assert observe.endpoint_of(url) == endpoint


@responses.activate
def test_observers_get_each_answer_and_a_failing_one_changes_nothing():
    seen: list[observe.OktaCall] = []
    responses.get("https://dev-1.okta.com/api/v1/users/00u1/groups", status=429, json=[])

    def broken(call: observe.OktaCall) -> None:
        raise RuntimeError("observer bug")

    observe.add_observer("test", seen.append)
    observe.add_observer("broken", broken)
    try:
        with observe.watch(observe.watch(requests.Session())) as http:  # watching twice installs one hook
            resp = http.get("https://dev-1.okta.com/api/v1/users/00u1/groups")
        requests.get("https://dev-1.okta.com/api/v1/users/00u1/groups", hooks=observe.HOOKS)
    finally:
        observe.remove_observer("test")
        observe.remove_observer("broken")
    assert resp.status_code == 429
    assert [(c.endpoint, c.status) for c in seen] == [("groups_api", 429), ("groups_api", 429)]
    assert all(c.seconds >= 0 and c.at > 0 for c in seen)
