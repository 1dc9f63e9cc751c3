"""Leavers and movers through the real api-server: Okta Event Hooks and ``okta-airflow sync-users``."""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import EVENT_HOOK_SECRET, Stack
from tests.integration.helpers import okta_login, user_roles, user_row
from tests.integration.test_audit import RefusalTally, audit_rows, last_log_id
from tests.polling import until

if TYPE_CHECKING:
    from collections.abc import Iterator

API_TOKEN = "00local-dev-api-token"  # server.api_token in config/idp_users.yaml
ALICE = ("alice.admin@example.com", "Admin-pass-1")
BOB = ("bob.viewer@example.com", "Viewer-pass-1")
ALICE_ID, BOB_ID = "00uadmin000000000001", "00uviewer00000000002"
OKTA_CLI = str(Path(sys.executable).with_name("okta-airflow"))


def idp_base(stack: Stack) -> str:
    return stack.issuer.rsplit("/oauth2/", 1)[0]


def idp_api(stack: Stack, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"SSWS {API_TOKEN}", "Accept": "application/json"}
    return requests.request(method, f"{idp_base(stack)}/api/v1{path}", headers=headers, timeout=15, **kwargs)


def group_id(stack: Stack, name: str) -> str:
    groups = idp_api(stack, "GET", "/groups", params={"q": name}).json()
    return next(g["id"] for g in groups if g["profile"]["name"] == name)


def verify_hook(stack: Stack) -> None:
    [hook] = idp_api(stack, "GET", "/eventHooks").json()
    resp = idp_api(stack, "POST", f"/eventHooks/{hook['id']}/lifecycle/verify")
    assert resp.status_code == 200, resp.text
    assert resp.json()["verificationStatus"] == "VERIFIED"


def deliveries(stack: Stack) -> list[dict]:
    return requests.get(f"{idp_base(stack)}/__idp/event-hooks/deliveries?wait=1", timeout=30).json()


def set_active(stack: Stack, username: str, active: bool) -> None:
    engine = sa.create_engine(stack.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE ab_user SET active = :a WHERE username = :u"), {"a": active, "u": username})
    finally:
        engine.dispose()


def deactivated_by(stack: Stack, username: str) -> str | None:
    engine = sa.create_engine(stack.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT deactivated_by FROM okta_security_user WHERE username = :u"), {"u": username}
            ).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def lv(af: Stack) -> Iterator[Stack]:
    """The stack with both users logged in once; Okta's directory and the accounts restored afterwards."""
    requests.post(f"{idp_base(af)}/__idp/event-hooks/reset", timeout=30)  # tests verify hooks when they want them
    for who in (ALICE, BOB):
        assert okta_login(af.url, *who)[1].status_code == 200
    yield af
    requests.post(f"{idp_base(af)}/__idp/event-hooks/reset", timeout=30)  # waits for pending deliveries
    requests.post(f"{idp_base(af)}/__idp/directory/reset", timeout=10)
    time.sleep(0.5)  # Airflow's hook worker finishes what was delivered
    engine = sa.create_engine(af.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE ab_user SET active = :t"), {"t": True})
            conn.execute(sa.text("UPDATE okta_security_user SET deactivated_by = NULL"))
    finally:
        engine.dispose()
    for who in (ALICE, BOB):
        okta_login(af.url, *who)  # roles back to the mapping's


# --------------------------------------------------------------------------- event hooks


def test_okta_verification_challenge_is_answered(lv: Stack):
    verify_hook(lv)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", EVENT_HOOK_SECRET + "x"])
def test_calls_without_the_secret_are_refused_and_audited(lv: Stack, authorization: str | None):
    tally = RefusalTally(lv.db_url, "event_hook.rejected")
    headers = {"Authorization": authorization} if authorization else {}
    body = {
        "data": {
            "events": [
                {"uuid": "x", "eventType": "user.lifecycle.deactivate", "target": [{"id": BOB_ID, "type": "User"}]}
            ]
        }
    }
    post = requests.post(f"{lv.url}/auth/okta/events", json=body, headers=headers, timeout=10)
    assert post.status_code == 401
    get = requests.get(
        f"{lv.url}/auth/okta/events", headers={**headers, "x-okta-verification-challenge": "abc"}, timeout=10
    )
    assert get.status_code == 401
    assert user_row(lv.db_url, BOB[0])["active"]
    rows = tally.wait(2)
    assert tally.added() == 2
    assert "okta-event-hook-test-secret" not in json.dumps(rows, default=str)


def test_deactivation_in_okta_rejects_the_next_api_call(lv: Stack):
    verify_hook(lv)
    bob, _ = okta_login(lv.url, *BOB)
    assert bob.get(f"{lv.url}/api/v2/dags", timeout=30).status_code == 200
    since = last_log_id(lv.db_url)

    assert idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/deactivate").status_code == 200

    assert until(lambda: not user_row(lv.db_url, BOB[0])["active"]), "bob was not deactivated"
    # The same api-server process dropped bob from the auth manager's cache: rejected at once.
    assert bob.get(f"{lv.url}/api/v2/dags", timeout=30).status_code in (401, 403)
    [delivery] = [d for d in deliveries(lv) if "user.lifecycle.deactivate" in d["event_types"]][-1:]
    assert delivery["attempts"][0]["status"] == 200
    assert delivery["attempts"][0]["seconds"] < 3  # Okta's limit: the answer does not wait for the work
    [row] = audit_rows(lv.db_url, event="user.deactivated", owner=BOB[0], since_id=since)
    assert row["extra"]["trigger"] == "event_hook"
    assert row["extra"]["reason"] == "okta_event:user.lifecycle.deactivate"
    assert row["extra"]["event_uuid"] == delivery["event_uuids"][0]
    assert deactivated_by(lv, BOB[0]) == "event_hook"


def test_redelivered_event_is_not_applied_twice(lv: Stack):
    verify_hook(lv)
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/suspend")
    assert until(lambda: not user_row(lv.db_url, BOB[0])["active"])
    set_active(lv, BOB[0], True)  # an administrator lets bob back in by hand
    since = last_log_id(lv.db_url)
    event_id = [d for d in deliveries(lv) if "user.lifecycle.suspend" in d["event_types"]][-1]["event_id"]

    requests.post(f"{idp_base(lv)}/__idp/event-hooks/redeliver", json={"event_id": event_id}, timeout=10)
    deliveries(lv)
    received = until(lambda: bool(audit_rows(lv.db_url, event="event_hook.received", since_id=since)))
    assert received
    time.sleep(1.0)  # the worker would have acted by now
    assert user_row(lv.db_url, BOB[0])["active"], "a redelivered event deactivated bob again"
    assert audit_rows(lv.db_url, event="user.deactivated", since_id=since) == []


def test_group_removal_recomputes_roles_and_the_last_mapped_group_deactivates(lv: Stack):
    verify_hook(lv)
    assert user_roles(lv.db_url, BOB[0]) == {"Viewer", "Op"}
    idp_api(lv, "DELETE", f"/groups/{group_id(lv, 'airflow-ops')}/users/{BOB_ID}")
    assert until(lambda: user_roles(lv.db_url, BOB[0]) == {"Viewer"})
    assert user_row(lv.db_url, BOB[0])["active"]

    idp_api(lv, "DELETE", f"/groups/{group_id(lv, 'airflow-viewers')}/users/{BOB_ID}")
    assert until(lambda: not user_row(lv.db_url, BOB[0])["active"])
    changes = audit_rows(lv.db_url, event="user.roles_changed", owner=BOB[0])
    assert changes[-1]["extra"]["before"] == ["Op", "Viewer"]
    assert changes[-1]["extra"]["after"] == ["Viewer"]
    assert changes[-1]["extra"]["trigger"] == "event_hook"
    assert audit_rows(lv.db_url, event="user.deactivated", owner=BOB[0])[-1]["extra"]["reason"] == "no_mapped_role"


def post_events(stack: Stack, *events: dict[str, Any]) -> None:
    """Deliver events the way Okta does, with the hook secret (as anyone holding it could)."""
    body = {"eventType": "com.okta.event_hook", "data": {"events": list(events)}}
    headers = {"Authorization": EVENT_HOOK_SECRET}
    response = requests.post(f"{stack.url}/auth/okta/events", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text


def hook_event(event_type: str, user_id: str, *groups: str, **fields: Any) -> dict[str, Any]:
    published = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    targets = [{"id": user_id, "type": "User"}] + [
        {"id": f"00g{name}", "type": "UserGroup", "displayName": name} for name in groups
    ]
    return {"uuid": uuid.uuid4().hex, "eventType": event_type, "published": published, "target": targets, **fields}


def drain_worker(stack: Stack) -> None:
    """Wait until the hook worker has processed everything delivered so far (it works in arrival order)."""
    post_events(stack, hook_event("user.lifecycle.suspend", ALICE_ID))  # a marker whose effect is visible
    assert until(lambda: not user_row(stack.db_url, ALICE[0])["active"]), "the hook worker is stuck"


def remembered_groups(stack: Stack, username: str) -> list[str]:
    engine = sa.create_engine(stack.db_url)
    try:
        with engine.connect() as conn:
            raw = conn.execute(
                sa.text("SELECT groups FROM okta_security_user WHERE username = :u"), {"u": username}
            ).scalar()
    finally:
        engine.dispose()
    return json.loads(raw)


def test_group_addition_waits_for_the_next_login(lv: Stack):
    """Without Management API credentials Airflow cannot check an addition: the next login picks it up."""
    verify_hook(lv)
    since = last_log_id(lv.db_url)
    idp_api(lv, "PUT", f"/groups/{group_id(lv, 'airflow-ops')}/users/{ALICE_ID}")
    assert until(lambda: bool(audit_rows(lv.db_url, event="event_hook.received", since_id=since)))
    time.sleep(1.0)  # the worker would have acted by now
    assert user_roles(lv.db_url, ALICE[0]) == {"Admin"}
    okta_login(lv.url, *ALICE)
    assert user_roles(lv.db_url, ALICE[0]) == {"Admin", "Op"}


def test_a_forged_group_addition_grants_nothing(lv: Stack):
    """The hook secret alone is never worth a role: a forged 'added to airflow-admins' changes nothing."""
    since = last_log_id(lv.db_url)
    post_events(lv, hook_event("group.user_membership.add", BOB_ID, "airflow-admins"))
    # A later removal recomputes from the groups Okta was seen to give, not from the forged addition.
    post_events(lv, hook_event("group.user_membership.remove", BOB_ID, "Everyone"))
    drain_worker(lv)
    assert user_roles(lv.db_url, BOB[0]) == {"Viewer", "Op"}
    assert "airflow-admins" not in remembered_groups(lv, BOB[0])
    assert audit_rows(lv.db_url, event="user.roles_changed", owner=BOB[0], since_id=since) == []


def test_a_future_publication_time_does_not_hide_a_later_removal(lv: Stack):
    verify_hook(lv)
    forged = hook_event("group.user_membership.remove", BOB_ID, "no-such-group", published="2999-01-01T00:00:00.000Z")
    post_events(lv, forged)
    drain_worker(lv)
    idp_api(lv, "DELETE", f"/groups/{group_id(lv, 'airflow-ops')}/users/{BOB_ID}")  # Okta publishes it now
    assert until(lambda: user_roles(lv.db_url, BOB[0]) == {"Viewer"}), "the genuine removal was dropped"


def test_an_event_without_uuid_is_applied_once(lv: Stack):
    bare = hook_event("user.lifecycle.deactivate", BOB_ID, uuid="")
    before = last_log_id(lv.db_url)
    post_events(lv, bare)
    assert until(lambda: not user_row(lv.db_url, BOB[0])["active"])
    # The worker writes the audit row after the account's: wait for it, or it counts as the replay's.
    assert until(lambda: audit_rows(lv.db_url, event="user.deactivated", owner=BOB[0], since_id=before))
    set_active(lv, BOB[0], True)  # an administrator lets bob back in by hand
    since = last_log_id(lv.db_url)
    post_events(lv, bare)  # a replay of the same content
    drain_worker(lv)
    assert user_row(lv.db_url, BOB[0])["active"], "a replayed event without uuid deactivated bob again"
    assert audit_rows(lv.db_url, event="user.deactivated", owner=BOB[0], since_id=since) == []


def test_a_reactivation_never_comes_from_an_event(lv: Stack):
    post_events(lv, hook_event("user.lifecycle.suspend", BOB_ID))
    assert until(lambda: not user_row(lv.db_url, BOB[0])["active"])
    post_events(lv, hook_event("group.user_membership.remove", BOB_ID, "Everyone"))  # still mapped: Viewer, Op
    drain_worker(lv)
    assert not user_row(lv.db_url, BOB[0])["active"]


def test_unassignment_from_the_airflow_app_deactivates(lv: Stack):
    verify_hook(lv)
    assert idp_api(lv, "DELETE", f"/apps/airflow-local/users/{ALICE_ID}").status_code == 204
    assert until(lambda: not user_row(lv.db_url, ALICE[0])["active"])


def test_suspended_then_unsuspended_user_is_reactivated_at_next_login(lv: Stack):
    verify_hook(lv)
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/suspend")
    assert until(lambda: not user_row(lv.db_url, BOB[0])["active"])
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/unsuspend")
    since = last_log_id(lv.db_url)
    session, final = okta_login(lv.url, *BOB)
    assert final.status_code == 200, final.text[:300]
    assert user_row(lv.db_url, BOB[0])["active"]
    [row] = audit_rows(lv.db_url, event="user.reactivated", owner=BOB[0], since_id=since)
    assert row["extra"]["trigger"] == "login"


# --------------------------------------------------------------------------- sync-users


def sync(stack: Stack, *args: str, token: str = API_TOKEN) -> tuple[int, dict | None, str]:
    proc = stack.okta_airflow("sync-users", "--json", *args, env={**stack.airflow.env(), "OKTA_API_TOKEN": token})
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc.returncode, report, proc.stderr + ("" if report else proc.stdout[-3000:])


def entry(report: dict, username: str) -> dict:
    return next(e for e in report["entries"] if e["username"] == username)


def test_sync_dry_run_plans_without_changing_anything(lv: Stack):
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/deactivate")
    code, report, err = sync(lv, "--dry-run")
    assert code == 3, err
    assert report is not None, err
    assert report["dry_run"] is True
    assert entry(report, BOB[0])["action"] == "deactivate"
    assert entry(report, BOB[0])["okta_status"] == "DEPROVISIONED"
    assert entry(report, ALICE[0])["action"] == "unchanged"
    assert user_row(lv.db_url, BOB[0])["active"]


def test_sync_deactivates_leavers_and_a_second_run_is_a_no_op(lv: Stack):
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/deactivate")
    idp_api(lv, "DELETE", f"/groups/{group_id(lv, 'airflow-admins')}/users/{ALICE_ID}")
    idp_api(lv, "PUT", f"/groups/{group_id(lv, 'airflow-viewers')}/users/{ALICE_ID}")
    since = last_log_id(lv.db_url)
    code, report, err = sync(lv)
    assert code == 3, err
    assert report is not None, err
    # The stack is shared: accounts other tests left behind may be planned too; ours must be exactly these.
    assert entry(report, BOB[0])["action"] == "deactivate"
    assert entry(report, ALICE[0])["action"] == "set_roles"
    assert report["summary"]["applied"] == sum(e["action"] not in ("unchanged", "skip") for e in report["entries"])
    assert not user_row(lv.db_url, BOB[0])["active"]
    assert user_roles(lv.db_url, ALICE[0]) == {"Viewer"}
    assert report["summary"]["okta_calls"] >= 3
    [row] = audit_rows(lv.db_url, event="user.deactivated", owner=BOB[0], since_id=since)
    assert row["extra"]["trigger"] == "sync"
    assert row["extra"]["reason"] == "okta_deprovisioned"

    code, report, err = sync(lv)
    assert code == 0, err
    assert report["summary"]["applied"] == 0


def test_sync_reactivates_returners_but_not_accounts_an_admin_deactivated(lv: Stack):
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/suspend")
    assert sync(lv)[0] == 3
    assert not user_row(lv.db_url, BOB[0])["active"]
    set_active(lv, ALICE[0], False)  # by hand, in Airflow

    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/unsuspend")
    code, report, err = sync(lv)
    assert code == 3, err
    assert entry(report, BOB[0])["action"] == "reactivate"
    assert entry(report, ALICE[0])["action"] == "skip"
    assert user_row(lv.db_url, BOB[0])["active"]
    assert user_roles(lv.db_url, BOB[0]) == {"Viewer", "Op"}
    assert not user_row(lv.db_url, ALICE[0])["active"]


def test_sync_guard_refuses_mass_deactivation(lv: Stack):
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/deactivate")
    code, report, err = sync(lv, "--max-deactivations", "0")
    assert code == 4, err
    assert "too_many_deactivations" in err
    assert user_row(lv.db_url, BOB[0])["active"]


def test_sync_with_okta_unreadable_changes_nothing(lv: Stack):
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/deactivate")
    code, report, err = sync(lv, token="wrong-token")
    assert code == 1
    assert "E0000011" in err or "401" in err
    assert "wrong-token" not in err
    assert user_row(lv.db_url, BOB[0])["active"]


def test_sync_search_and_list_strategies_agree(lv: Stack):
    idp_api(lv, "POST", f"/users/{BOB_ID}/lifecycle/suspend")
    plans = {}
    for strategy in ("search", "list"):
        code, report, err = sync(lv, "--dry-run", "--strategy", strategy)
        assert code == 3, err
        plans[strategy] = [(e["username"], e["action"], e["okta_status"]) for e in report["entries"]]
    assert plans["search"] == plans["list"]
