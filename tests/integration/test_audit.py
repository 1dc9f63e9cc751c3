"""The audit trail of real logins: rows in Airflow's ``log`` table, listed by ``/api/v2/eventLogs``."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import AUDIT_COUNT_WRITE_SECONDS, MAPPING_SETTLE_SECONDS
from tests.integration.helpers import _FormParser, okta_login, rewrite

if TYPE_CHECKING:
    from tests.conftest import Stack

ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
CAROL = ("carol.nobody@example.com", "Nobody-pass-1")
ALICE_SUB = "00uadmin000000000001"
MAPPING_CHECK_INTERVAL = MAPPING_SETTLE_SECONDS  # after an edit: OKTA_ROLE_MAPPING_CHECK_SECONDS and a margin


def login_with_request_id(url: str, username: str, password: str, request_id: str) -> requests.Response:
    """Sign in like okta_login(), sending ``X-Request-Id`` on every request."""
    s = requests.Session()
    s.headers["X-Request-Id"] = request_id
    page = s.get(f"{url}/auth/login/okta", timeout=30)
    parser = _FormParser()
    parser.feed(page.text)
    assert parser.action is not None, page.text[:300]
    return s.post(
        urljoin(page.url, parser.action), data={**parser.fields, "username": username, "password": password}, timeout=60
    )


def audit_rows(db_url: str, *, event: str | None = None, owner: str | None = None, since_id: int = 0) -> list[dict]:
    """Return okta_security's rows of Airflow's log table, oldest first, extra parsed."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            query = "SELECT id, event, owner, extra, dttm FROM log WHERE id > :since"
            params: dict = {"since": since_id}
            if event:
                query += " AND event = :event"
                params["event"] = event
            if owner:
                query += " AND owner = :owner"
                params["owner"] = owner
            rows = conn.execute(sa.text(query + " ORDER BY id"), params).mappings().all()
    finally:
        engine.dispose()
    result = []
    for row in rows:
        extra = json.loads(row["extra"]) if row["extra"] else {}
        if extra.get("source") == "okta_security":
            result.append({**row, "extra": extra})
    return result


def last_log_id(db_url: str) -> int:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM log")).scalar() or 0
    finally:
        engine.dispose()


COUNT_SETTLE_SECONDS = AUDIT_COUNT_WRITE_SECONDS + 1.0  # the stack's count lag, and the write itself


class RefusalTally:
    """Count refusals recorded after a point, whether as rows of their own or in aggregate rows.

    Ownerless refusals from one source are aggregated per reason and minute once a few rows
    exist, so an earlier test in the same minute may already own the aggregate row a new refusal
    is counted in: a test must compare counts, not look for new rows only.
    """

    def __init__(self, db_url: str, event: str) -> None:
        self.db_url, self.event = db_url, event
        rows = audit_rows(db_url, event=event)
        if any(row["extra"].get("aggregated") for row in rows):
            # An earlier flood's count may still be on its way (written every AUDIT_COUNT_WRITE_SECONDS): let it
            # land first, or it would be counted as this test's refusals.
            time.sleep(COUNT_SETTLE_SECONDS)
            rows = audit_rows(db_url, event=event)
        self.before = {row["id"]: _stands_for(row) for row in rows}

    def changed_rows(self) -> list[dict]:
        """Return the rows added or whose count grew since the tally started."""
        rows = audit_rows(self.db_url, event=self.event)
        return [row for row in rows if _stands_for(row) != self.before.get(row["id"], 0)]

    def added(self) -> int:
        """Return how many refusals were recorded since the tally started."""
        return sum(_stands_for(row) - self.before.get(row["id"], 0) for row in self.changed_rows())

    def wait(self, expected: int, timeout: float = 15) -> list[dict]:
        """Return the changed rows once they account for ``expected`` refusals (counts lag a few s)."""
        deadline = time.monotonic() + timeout
        while self.added() < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.changed_rows()


def _stands_for(row: dict) -> int:
    return int(row["extra"].get("count", 1)) if row["extra"].get("aggregated") else 1


def wait_for_rows(
    db_url: str, *, event: str, since_id: int, owner: str | None = None, timeout: float = 10
) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = audit_rows(db_url, event=event, owner=owner, since_id=since_id)
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def set_active(db_url: str, username: str, active: bool) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE ab_user SET active = :a WHERE username = :u"), {"a": active, "u": username})
    finally:
        engine.dispose()


def test_successful_login_writes_rows_with_okta_identifiers_and_no_secrets(af: Stack):
    since = last_log_id(af.db_url)
    request_id = f"it-{uuid.uuid4().hex[:12]}"
    final = login_with_request_id(af.url, *ALICE, request_id=request_id)
    assert final.status_code == 200, final.text[:300]

    [row] = audit_rows(af.db_url, event="login.succeeded", owner=ALICE[0], since_id=since)
    extra = row["extra"]
    assert extra["roles"] == ["Admin"]
    assert extra["sub"] == ALICE_SUB
    assert extra["jti"].startswith("ID.")  # the ID token's id, to join with Okta's System Log
    assert extra["client_ip"] == "127.0.0.1"
    assert extra["request_id"] == request_id
    assert "airflow-admins" in extra["groups"]
    everything = json.dumps(audit_rows(af.db_url, since_id=since), default=str)
    assert "eyJ" not in everything  # no JWT (ID/access token) anywhere
    assert "airflow-local-secret" not in everything
    assert "Admin-pass-1" not in everything


def test_first_login_records_user_created_and_later_a_role_change(af: Stack):
    since = last_log_id(af.db_url)
    session, final = okta_login(af.url, *BOB)
    assert final.status_code == 200
    created = audit_rows(af.db_url, event="user.created", owner=BOB[0])
    assert created, "the first login of bob must have been recorded as user.created"
    assert sorted(created[0]["extra"]["roles"]) == ["Op", "Viewer"]

    rewrite(af.mapping, af.original_mapping.replace("  airflow-ops: [Op]\n", ""))
    time.sleep(MAPPING_CHECK_INTERVAL)
    okta_login(af.url, *BOB)
    [change] = audit_rows(af.db_url, event="user.roles_changed", owner=BOB[0], since_id=since)
    assert change["extra"]["before"] == ["Op", "Viewer"]
    assert change["extra"]["after"] == ["Viewer"]
    assert change["extra"]["trigger"] == "login"
    reloaded = audit_rows(af.db_url, event="mapping.reloaded", since_id=since)
    assert reloaded
    assert reloaded[-1]["owner"] is None


def test_refusal_is_recorded_with_its_reason_code(af: Stack):
    since = last_log_id(af.db_url)
    okta_login(af.url, *CAROL)
    [row] = audit_rows(af.db_url, event="login.refused", since_id=since)
    assert row["owner"] == CAROL[0]
    assert row["extra"]["reason"] == "no_mapped_role"
    assert row["extra"]["sub"] == "00unobody00000000003"
    assert "marketing" in row["extra"]["groups"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?error=access_denied&error_description=User+is+not+assigned+to+the+client+application.", "okta_error"),
        ("?code=forged&state=forged", "invalid_state"),
    ],
)
def test_refusals_before_any_identity_are_recorded_without_owner(af: Stack, query: str, reason: str):
    tally = RefusalTally(af.db_url, "login.refused")
    resp = requests.get(f"{af.url}/auth/oauth-authorized/okta{query}", timeout=30)
    assert resp.status_code in (403, 503)
    [row] = tally.wait(1)
    assert tally.added() == 1
    assert row["extra"]["reason"] == reason
    assert row["owner"] is None
    assert "forged" not in json.dumps(row["extra"])  # the code parameter is never recorded


def test_validation_failure_is_recorded(af: Stack):
    since = last_log_id(af.db_url)
    faults = f"{af.issuer.rsplit('/oauth2/', 1)[0]}/__idp/faults"
    requests.post(faults, json={"id_token_groups": False, "userinfo_sub": "00uSomeoneElse000000"}, timeout=10)
    try:
        _, final = okta_login(af.url, *ALICE)
    finally:
        requests.delete(faults, timeout=10)
    assert final.status_code == 403
    [row] = audit_rows(af.db_url, event="login.refused", since_id=since)
    assert row["extra"]["reason"] == "userinfo_sub_mismatch"
    assert row["extra"]["sub"] == ALICE_SUB


def test_deactivated_user_is_refused_and_recorded(af: Stack):
    okta_login(af.url, *BOB)
    set_active(af.db_url, BOB[0], False)  # an Airflow administrator deactivated bob by hand
    try:
        since = last_log_id(af.db_url)
        _, final = okta_login(af.url, *BOB)
        assert final.status_code == 403
        assert "inactive_user" in final.text
        [row] = audit_rows(af.db_url, event="login.refused", since_id=since)
        assert row["extra"]["reason"] == "inactive_user"
        assert row["owner"] == BOB[0]
    finally:
        set_active(af.db_url, BOB[0], True)


def test_rejected_mapping_edit_is_recorded(af: Stack):
    since = last_log_id(af.db_url)
    rewrite(af.mapping, "default_role: null\nmappings:\n  airflow-admins: [Admn]\n")
    time.sleep(MAPPING_CHECK_INTERVAL)
    okta_login(af.url, *ALICE)
    [row] = audit_rows(af.db_url, event="mapping.rejected", since_id=since)
    assert any("Admn" in p for p in row["extra"]["problems"])
    assert row["extra"]["outcome"] == "last good mapping kept"


def test_event_logs_api_lists_the_login_events(af: Stack):
    session, final = okta_login(af.url, *ALICE)
    assert final.status_code == 200
    resp = session.get(
        f"{af.url}/api/v2/eventLogs",
        params={"event": "login.succeeded", "owner": ALICE[0], "order_by": "-id", "limit": 5},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text[:300]
    logs = resp.json()["event_logs"]
    assert logs
    assert logs[0]["owner"] == ALICE[0]
    assert logs[0]["event"] == "login.succeeded"
    assert json.loads(logs[0]["extra"])["sub"] == ALICE_SUB
    refused = session.get(f"{af.url}/api/v2/eventLogs", params={"event_pattern": "login.refused"}, timeout=30)
    assert refused.status_code == 200


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        ({"id_token_alg": "bad_sig"}, "invalid_id_token"),  # a validation failure
        ({"id_token_extra_key": True, "jwks_status": 503}, "okta_unavailable"),  # unknown key, JWKS down
    ],
)
def test_validation_failure_and_okta_outage_are_recorded(af: Stack, faults: dict, reason: str):
    since = last_log_id(af.db_url)
    time.sleep(1.1)  # OKTA_JWKS_REFETCH_INTERVAL_SECONDS of the stack: let an unknown kid be re-fetched
    af.idp.set_faults(**faults)
    try:
        _, final = okta_login(af.url, *ALICE)
    finally:
        af.idp.clear_faults()
    assert final.status_code in (403, 503)
    [row] = audit_rows(af.db_url, event="login.refused", since_id=since)
    assert row["extra"]["reason"] == reason
    assert row["owner"] is None or row["owner"] == ALICE[0]


def test_profile_change_in_okta_is_recorded_at_the_next_login(af: Stack):
    import yaml

    okta_login(af.url, *BOB)
    data = yaml.safe_load(af.idp_config.read_text())
    next(u for u in data["users"] if u["login"] == BOB[0])["family_name"] = "Viewer-Renamed"
    rewrite(af.idp_config, yaml.safe_dump(data, sort_keys=False))
    since = last_log_id(af.db_url)
    okta_login(af.url, *BOB)
    [row] = audit_rows(af.db_url, event="user.profile_updated", owner=BOB[0], since_id=since)
    assert row["extra"]["changes"] == {"last_name": {"before": "Viewer", "after": "Viewer-Renamed"}}
    af.reset_files()
    okta_login(af.url, *BOB)  # back to the original name
