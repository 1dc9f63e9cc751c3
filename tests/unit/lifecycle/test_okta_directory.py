"""Tests for okta_security.lifecycle.okta_directory against a mocked transport: paging, search chunks, 429, origin."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from okta_security.lifecycle.okta_directory import SEARCH_CHUNK, OktaDirectory
from okta_security.mapping.rules import parse_mapping
from okta_security.okta_api.auth import SswsAuth
from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaApiRejected, OktaApiUnavailable, OktaHttp
from tests.unit.fake_clock import FakeClock

ORG = "https://dev-123456.okta.com"
TOKEN = "00SSWS-secret-token-value"
MAPPING = parse_mapping("default_role: null\nmappings:\n  airflow-ops: [Op]\n  'airflow-team-*': [User]\n", source="m")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


def directory(clock: FakeClock, **policy: float) -> OktaDirectory:
    settings = {"connect_timeout": 2.0, "read_timeout": 3.0, "max_retries": 3, "max_wait": 120.0, **policy}
    http = OktaHttp(HttpPolicy(**settings), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    return OktaDirectory(OktaApiClient(ORG, SswsAuth(lambda: TOKEN), http))


def user(uid: str, status: str = "ACTIVE") -> dict:
    return {"id": uid, "status": status, "profile": {"login": f"{uid}@example.com"}}


def add_pages(path: str, pages: list[list[dict]], **query: str) -> None:
    """Register consecutive pages of ``path`` linked by rel=next (cursor = page index)."""
    url = f"{ORG}{path}"
    for index, items in enumerate(pages):
        headers = {}
        if index + 1 < len(pages):
            headers["Link"] = f'<{url}?after=p{index + 1}&limit=200>; rel="next"'
        params = {"limit": "200", **query} if index == 0 else {"after": f"p{index}", "limit": "200"}
        responses.get(url, json=items, headers=headers, match=[responses.matchers.query_param_matcher(params)])


@responses.activate
def test_list_users_follows_next_links_and_counts_calls(clock: FakeClock):
    add_pages("/api/v1/users", [[user(f"00u{i}") for i in range(200)], [user("00u200")]])
    d = directory(clock)
    assert len(list(d.users())) == 201
    assert d.calls == 2
    assert all(call.request.headers["Authorization"] == f"SSWS {TOKEN}" for call in responses.calls)


@responses.activate
def test_statuses_by_listing_includes_deprovisioned_and_omits_deleted(clock: FakeClock):
    add_pages("/api/v1/users", [[user("00ua"), user("00ub", "SUSPENDED")]])
    add_pages("/api/v1/users", [[user("00uc", "DEPROVISIONED")]], search='status eq "DEPROVISIONED"')
    d = directory(clock)
    found = d.statuses(["00ua", "00ub", "00uc", "00ugone"], strategy="list")
    assert found == {"00ua": "ACTIVE", "00ub": "SUSPENDED", "00uc": "DEPROVISIONED"}
    assert d.calls == 2


@responses.activate
def test_statuses_by_search_chunks_ids(clock: FakeClock):
    subs = [f"00u{i:03d}" for i in range(SEARCH_CHUNK + 1)]

    def reply(request):
        expression = parse_qs(urlsplit(request.url).query)["search"][0]
        ids = [part.split('"')[1] for part in expression.split(" or ")]
        return 200, {}, json.dumps([user(i) for i in ids if i != "00u000"])

    responses.add_callback(responses.GET, f"{ORG}/api/v1/users", callback=reply)
    d = directory(clock)
    found = d.statuses(subs, strategy="auto")
    assert d.calls == 2  # 51 ids -> two searches of at most 50
    assert "00u000" not in found
    assert len(found) == SEARCH_CHUNK


@responses.activate
def test_mapped_memberships_read_only_groups_a_rule_matches(clock: FakeClock):
    groups = [
        {"id": "00gops", "profile": {"name": "airflow-ops"}},
        {"id": "00gteam", "profile": {"name": "airflow-team-x"}},
        {"id": "00gmkt", "profile": {"name": "marketing"}},
    ]
    add_pages("/api/v1/groups", [groups])
    add_pages("/api/v1/groups/00gops/users", [[user("00ua")], [user("00ub")]])
    add_pages("/api/v1/groups/00gteam/users", [[user("00ub")]])
    d = directory(clock)
    members, relevant = d.mapped_memberships(MAPPING)
    assert relevant == ["airflow-ops", "airflow-team-x"]
    assert members == {"00ua": {"airflow-ops"}, "00ub": {"airflow-ops", "airflow-team-x"}}
    assert d.calls == 4
    assert not any("00gmkt" in call.request.url for call in responses.calls)


@responses.activate
def test_rate_limit_waits_for_reset_then_continues(clock: FakeClock):
    url = f"{ORG}/api/v1/groups"
    reset = int(clock.t) + 30
    responses.get(url, status=429, json={"errorCode": "E0000047"}, headers={"X-Rate-Limit-Reset": str(reset)})
    responses.get(url, json=[])
    d = directory(clock)
    assert list(d.groups()) == []
    assert clock.sleeps == [30]


@responses.activate
def test_rate_limit_beyond_the_budget_fails_the_whole_read(clock: FakeClock):
    url = f"{ORG}/api/v1/groups"
    reset = int(clock.t) + 600
    responses.get(url, status=429, json={"errorCode": "E0000047"}, headers={"X-Rate-Limit-Reset": str(reset)})
    with pytest.raises(OktaApiUnavailable, match="rate-limited"):
        list(directory(clock).groups())


@responses.activate
def test_next_link_to_another_host_is_refused(clock: FakeClock):
    responses.get(
        f"{ORG}/api/v1/groups", json=[], headers={"Link": '<https://evil.example/api/v1/groups?after=x>; rel="next"'}
    )
    with pytest.raises(OktaApiRejected, match="leaves"):
        list(directory(clock).groups())


@responses.activate
def test_repeating_next_link_is_refused(clock: FakeClock):
    url = f"{ORG}/api/v1/groups"
    responses.get(url, json=[], headers={"Link": f'<{url}?after=x&limit=200>; rel="next"'})
    with pytest.raises(OktaApiRejected, match="repeats"):
        list(directory(clock).groups())


@responses.activate
def test_a_page_that_is_not_a_list_is_an_error(clock: FakeClock):
    responses.get(f"{ORG}/api/v1/groups", json={"errorCode": "x"})
    with pytest.raises(OktaApiRejected, match="not a list"):
        list(directory(clock).groups())


@responses.activate
def test_view_combines_statuses_and_groups(clock: FakeClock):
    responses.get(f"{ORG}/api/v1/users", json=[user("00ua"), user("00ub", "SUSPENDED")])
    add_pages("/api/v1/groups", [[{"id": "00gops", "profile": {"name": "airflow-ops"}}]])
    add_pages("/api/v1/groups/00gops/users", [[user("00ua")]])
    view = directory(clock).snapshot(["00ua", "00ub"], MAPPING)
    assert view.statuses == {"00ua": "ACTIVE", "00ub": "SUSPENDED"}
    assert view.groups == {"00ua": frozenset({"airflow-ops"}), "00ub": frozenset()}
