"""Contract: the Management API calls the relying party makes (users, user groups)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.idp.okta_contract import ContractTarget


def _get(
    target: ContractTarget, path: str, token: str | None = None, params: dict[str, int] | None = None
) -> requests.Response:
    url = path if path.startswith("http") else f"{target.base_url}/api/v1{path}"
    headers = {"Authorization": f"SSWS {token or target.api_token}", "Accept": "application/json"}
    return requests.get(url, headers=headers, params=params, timeout=10)


def _assert_okta_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    body = response.json()
    assert body["errorCode"] == code
    assert body["errorLink"] == code
    assert body["errorId"]
    assert body["errorCauses"] == []
    return body  # type: ignore[no-any-return]


def test_user_groups_are_okta_group_objects(target: ContractTarget) -> None:
    response = _get(target, f"/users/{target.user_id}/groups")
    assert response.status_code == 200
    groups = response.json()
    names = sorted(group["profile"]["name"] for group in groups)
    if target.groups_claim_has_every_group:
        assert names == sorted(target.user_groups)
    else:  # the claim's filter keeps some of them (and Okta's Everyone is in every user's list)
        assert set(target.user_groups) <= set(names)
        assert "Everyone" in names
    for group in groups:
        assert group["id"].startswith("00g")
        assert len(group["id"]) == 20
        assert group["type"] in {"OKTA_GROUP", "BUILT_IN", "APP_GROUP"}
        assert group["objectClass"] == ["okta:user_group"]
        for field in ("created", "lastUpdated", "lastMembershipUpdated", "_links"):
            assert field in group
    assert "next" not in response.links
    assert response.links["self"]["url"].startswith(f"{target.base_url}/api/v1/users/{target.user_id}/groups")


def test_user_object(target: ContractTarget) -> None:
    response = _get(target, f"/users/{target.user_id}")
    assert response.status_code == 200
    user = response.json()
    assert user["id"] == target.user_id
    assert user["status"] == "ACTIVE"
    assert user["profile"]["login"] == target.username
    assert user["profile"]["email"]


@pytest.mark.parametrize("limit", [None, 100, 7])
def test_groups_paginate_with_link_next(target: ContractTarget, limit: int | None) -> None:
    if target.many_groups_user is None or target.many_groups_count is None:
        pytest.skip("set OKTA_CONTRACT_PAGING_USER and OKTA_CONTRACT_PAGING_GROUP_COUNT (a user in over 7 groups)")
    url = f"{target.base_url}/api/v1/users/{target.many_groups_user}/groups"
    params = {} if limit is None else {"limit": limit}
    seen: list[str] = []
    pages = 0
    response = _get(target, url, params=params)
    while True:
        assert response.status_code == 200
        page = response.json()
        pages += 1
        assert len(page) <= (limit or 200)
        seen.extend(group["id"] for group in page)
        if "next" not in response.links:
            break
        assert "after=" in response.links["next"]["url"]
        response = _get(target, response.links["next"]["url"])
    assert len(seen) == target.many_groups_count
    assert len(set(seen)) == len(seen)
    expected_pages = -(-target.many_groups_count // (limit or 200))
    assert pages == expected_pages


def test_rate_limit_headers_on_every_answer(target: ContractTarget) -> None:
    for response in (_get(target, f"/users/{target.user_id}/groups"), _get(target, "/users/x/groups", token="bad")):
        limit = int(response.headers["X-Rate-Limit-Limit"])
        remaining = int(response.headers["X-Rate-Limit-Remaining"])
        reset = int(response.headers["X-Rate-Limit-Reset"])
        assert 0 <= remaining <= limit
        assert time.time() - 1 <= reset <= time.time() + 3600
        assert response.headers["X-Okta-Request-Id"]


def test_bad_api_token_is_e0000011(target: ContractTarget) -> None:
    body = _assert_okta_error(_get(target, f"/users/{target.user_id}/groups", token="wrong"), 401, "E0000011")
    assert body["errorSummary"] == "Invalid token provided"


def test_missing_authorization_is_401(target: ContractTarget) -> None:
    response = requests.get(f"{target.base_url}/api/v1/users/{target.user_id}/groups", timeout=10)
    _assert_okta_error(response, 401, "E0000011")


def test_unknown_user_is_e0000007(target: ContractTarget) -> None:
    body = _assert_okta_error(_get(target, "/users/00unosuchuser0000000/groups"), 404, "E0000007")
    assert body["errorSummary"] == "Not found: Resource not found: 00unosuchuser0000000 (User)"
