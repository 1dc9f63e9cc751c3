"""The Management API client against a mocked transport (``responses``): paging, 429, timeouts, 5xx."""

from __future__ import annotations

import logging
from email.utils import formatdate

import pytest
import requests
import responses
from responses import matchers

from okta_security.okta_api.auth import SswsAuth
from okta_security.okta_api.client import HttpPolicy, OktaApiClient, OktaApiRejected, OktaApiUnavailable, OktaHttp
from tests.unit.fake_clock import FakeClock

ORG = "https://dev-123456.okta.com"
USER = "00uabcdefghijklmnopq"
GROUPS_URL = f"{ORG}/api/v1/users/{USER}/groups"
TOKEN = "00SSWS-secret-token-value"
NOW = 1_800_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def client(clock: FakeClock, **policy: float) -> OktaApiClient:
    settings = {"connect_timeout": 2.0, "read_timeout": 3.0, "max_retries": 2, "max_wait": 10.0, **policy}
    http = OktaHttp(HttpPolicy(**settings), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    return OktaApiClient(ORG, SswsAuth(lambda: TOKEN), http)


def group(name: str) -> dict:
    return {"id": f"00g{name}", "type": "OKTA_GROUP", "profile": {"name": name, "description": None}}


def page(names: list[str], next_after: str | None = None, **headers: str) -> dict:
    links = [f'<{GROUPS_URL}?limit=200>; rel="self"']
    if next_after:
        links.append(f'<{GROUPS_URL}?after={next_after}&limit=200>; rel="next"')
    return {
        "json": [group(n) for n in names],
        "headers": {"Link": ", ".join(links), "X-Okta-Request-Id": "req-ok", **headers},
    }


def okta_error(status: int, code: str, summary: str, request_id: str = "req-err", **headers: str) -> dict:
    body = {"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae1", "errorCauses": []}
    return {"status": status, "json": body, "headers": {"X-Okta-Request-Id": request_id, **headers}}


@responses.activate
def test_pages_are_followed_through_link_next_across_three_pages(clock):
    names = [f"team-{i:03d}" for i in range(450)]
    responses.get(GROUPS_URL, match=[matchers.query_string_matcher("limit=200")], **page(names[:200], "00gteam-199"))
    responses.get(
        GROUPS_URL,
        match=[matchers.query_string_matcher("after=00gteam-199&limit=200")],
        **page(names[200:400], "00gteam-399"),
    )
    responses.get(GROUPS_URL, match=[matchers.query_string_matcher("after=00gteam-399&limit=200")], **page(names[400:]))
    assert client(clock).user_group_names(USER) == tuple(names)
    assert len(responses.calls) == 3
    for call in responses.calls:
        assert call.request.headers["Authorization"] == f"SSWS {TOKEN}"
        assert call.request.headers["Accept"] == "application/json"
        assert call.request.req_kwargs["timeout"] == (2.0, 3.0)
    assert clock.sleeps == []


@responses.activate
def test_the_user_id_is_escaped_in_the_path(clock):
    odd = "someone@example.com/../x"
    url = f"{ORG}/api/v1/users/someone%40example.com%2F..%2Fx/groups"
    responses.get(url, json=[group("a")])
    assert client(clock).user_group_names(odd) == ("a",)


@responses.activate
@pytest.mark.parametrize(
    ("reset_in", "date_offset", "expected_wait"),
    [
        (3, None, 3.0),  # no Date header: our clock
        (5, -2, 7.0),  # Okta's clock is 2 s behind ours: its Date header rules
        (0, None, 0.2),  # already reset: a minimal pause, no hammering
    ],
)
def test_429_waits_until_the_reset_then_succeeds(clock, reset_in, date_offset, expected_wait):
    headers = {
        "X-Rate-Limit-Limit": "600",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": str(int(NOW) + reset_in),
    }
    if date_offset is not None:
        headers["Date"] = formatdate(NOW + date_offset, usegmt=True)
    responses.get(GROUPS_URL, **okta_error(429, "E0000047", "API call exceeded rate limit", **headers))
    responses.get(GROUPS_URL, **page(["airflow-admins"]))
    assert client(clock).user_group_names(USER) == ("airflow-admins",)
    assert clock.sleeps == [pytest.approx(expected_wait)]
    assert len(responses.calls) == 2


@responses.activate
def test_429_with_a_reset_beyond_the_wait_budget_fails_at_once(clock):
    headers = {"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(int(NOW) + 45)}
    responses.get(GROUPS_URL, **okta_error(429, "E0000047", "API call exceeded rate limit", "req-429", **headers))
    with pytest.raises(OktaApiUnavailable) as err:
        client(clock, max_wait=10).user_group_names(USER)
    assert clock.sleeps == []
    assert err.value.status == 429
    assert err.value.request_id == "req-429"
    assert err.value.okta_code == "E0000047"
    assert "rate-limited by Okta for 45 more second(s)" in str(err.value)
    assert "req-429" in str(err.value)


@responses.activate
def test_429_retries_are_bounded(clock):
    headers = {"X-Rate-Limit-Reset": str(int(NOW) + 1)}
    for _ in range(5):
        responses.get(GROUPS_URL, **okta_error(429, "E0000047", "API call exceeded rate limit", **headers))
    with pytest.raises(OktaApiUnavailable, match="rate-limited"):
        client(clock, max_retries=2, max_wait=60).user_group_names(USER)
    assert len(responses.calls) == 3  # the call and two retries
    assert len(clock.sleeps) == 2


@responses.activate
def test_wait_budget_is_shared_by_all_pages(clock):
    limited = {"X-Rate-Limit-Reset": str(int(NOW) + 4)}
    responses.get(
        GROUPS_URL, match=[matchers.query_string_matcher("limit=200")], **okta_error(429, "E0000047", "x", **limited)
    )
    responses.get(GROUPS_URL, match=[matchers.query_string_matcher("limit=200")], **page(["a"], "00ga"))
    later = {"X-Rate-Limit-Reset": str(int(NOW) + 4 + 7)}
    responses.get(
        GROUPS_URL,
        match=[matchers.query_string_matcher("after=00ga&limit=200")],
        **okta_error(429, "E0000047", "x", **later),
    )
    with pytest.raises(OktaApiUnavailable):
        client(clock, max_wait=10).user_group_names(USER)  # 4 s spent on page 1, 7 more would exceed 10
    assert clock.sleeps == [4.0]


@responses.activate
def test_read_timeout_is_not_retried(clock):
    responses.get(GROUPS_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OktaApiUnavailable, match="did not answer within 3 s") as err:
        client(clock).user_group_names(USER)
    assert len(responses.calls) == 1
    assert err.value.request_id is None


@responses.activate
def test_connection_errors_are_retried_with_backoff_then_fail(clock):
    for _ in range(3):
        responses.get(GROUPS_URL, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(OktaApiUnavailable, match="cannot reach dev-123456.okta.com"):
        client(clock).user_group_names(USER)
    assert len(responses.calls) == 3
    assert clock.sleeps == [0.5, 1.0]


@responses.activate
def test_a_5xx_then_success_recovers(clock):
    responses.get(GROUPS_URL, **okta_error(503, "E0000009", "Internal Server Error"))
    responses.get(GROUPS_URL, **page(["airflow-viewers"]))
    assert client(clock).user_group_names(USER) == ("airflow-viewers",)
    assert clock.sleeps == [0.5]


@responses.activate
def test_persistent_5xx_is_unavailable_with_the_request_id(clock):
    for _ in range(3):
        responses.get(GROUPS_URL, **okta_error(500, "E0000009", "Internal Server Error", "req-500"))
    with pytest.raises(OktaApiUnavailable) as err:
        client(clock).user_group_names(USER)
    assert err.value.status == 500
    assert err.value.request_id == "req-500"
    assert "Okta answered HTTP 500 (E0000009: Internal Server Error)" in str(err.value)
    assert len(responses.calls) == 3


@responses.activate
def test_5xx_without_retries_fails_on_the_first_answer(clock):
    responses.get(GROUPS_URL, status=502, body="<html>Bad gateway</html>")
    with pytest.raises(OktaApiUnavailable, match="HTTP 502"):
        client(clock, max_retries=0).user_group_names(USER)
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (401, "E0000011", "check OKTA_API_TOKEN"),
        (403, "E0000006", "okta.users.read"),
        (404, "E0000007", "OKTA_ISSUER must name the org"),
    ],
)
def test_4xx_is_rejected_with_a_hint_and_never_retried(clock, caplog, status, code, hint):
    responses.get(GROUPS_URL, **okta_error(status, code, "Okta says no", "req-4xx"))
    with caplog.at_level(logging.DEBUG), pytest.raises(OktaApiRejected) as err:
        client(clock).user_group_names(USER)
    assert len(responses.calls) == 1
    assert (err.value.status, err.value.okta_code, err.value.request_id) == (status, code, "req-4xx")
    assert hint in str(err.value)
    assert TOKEN not in str(err.value)
    assert TOKEN not in caplog.text


@responses.activate
def test_a_next_link_to_another_host_is_never_followed(clock):
    responses.get(
        GROUPS_URL,
        json=[group("a")],
        headers={"Link": '<https://evil.example/api/v1/users/x/groups?after=1>; rel="next"'},
    )
    with pytest.raises(OktaApiRejected, match="leaves https://dev-123456.okta.com"):
        client(clock).user_group_names(USER)
    assert len(responses.calls) == 1


@responses.activate
def test_a_next_link_that_loops_is_refused(clock):
    again = {"Link": f'<{GROUPS_URL}?after=00ga&limit=200>; rel="next"'}
    responses.get(GROUPS_URL, json=[group("a")], headers=again)
    with pytest.raises(OktaApiRejected, match="repeats an earlier page"):
        client(clock).user_group_names(USER)


@responses.activate
@pytest.mark.parametrize("body", [{"not": "a list"}, "not json"])
def test_an_unexpected_body_is_rejected(clock, body):
    if isinstance(body, dict):
        responses.get(GROUPS_URL, json=body)
    else:
        responses.get(GROUPS_URL, body=body)
    with pytest.raises(OktaApiRejected):
        client(clock).user_group_names(USER)


@responses.activate
def test_groups_without_a_name_are_skipped_and_duplicates_dropped(clock):
    responses.get(GROUPS_URL, json=[group("a"), {"id": "00gnoname", "profile": {}}, group("a"), group("b")])
    assert client(clock).user_group_names(USER) == ("a", "b")


@responses.activate
def test_low_remaining_rate_limit_is_logged(clock, caplog):
    responses.get(GROUPS_URL, **page(["a"], **{"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "12"}))
    with caplog.at_level(logging.WARNING, logger="okta_security.okta_api.client"):
        client(clock).user_group_names(USER)
    assert "X-Rate-Limit-Remaining=12 of 600" in caplog.text


@responses.activate
def test_plenty_of_remaining_rate_limit_is_quiet(clock, caplog):
    responses.get(GROUPS_URL, **page(["a"], **{"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "590"}))
    with caplog.at_level(logging.WARNING, logger="okta_security.okta_api.client"):
        client(clock).user_group_names(USER)
    assert "Rate-Limit" not in caplog.text


@responses.activate
def test_redirects_are_not_followed(clock):
    responses.get(GROUPS_URL, status=302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(OktaApiRejected, match="HTTP 302"):
        client(clock).user_group_names(USER)
    assert len(responses.calls) == 1


@responses.activate
def test_group_names_longer_than_okta_allows_are_dropped(clock):
    responses.get(GROUPS_URL, json=[group("a"), group("x" * 100_000), group("b" * 255)])
    assert client(clock).user_group_names(USER) == ("a", "b" * 255)
