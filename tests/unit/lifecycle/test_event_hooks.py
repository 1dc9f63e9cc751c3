"""Tests for okta_security.lifecycle.event_hooks: caller check, verification, delivery parsing, effects."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from okta_security.lifecycle.event_hooks import (
    DeliveryError,
    authorized,
    classify,
    effective_time,
    known_groups_after,
    only_taking_away,
    parse_delivery,
    verification_response,
)
from okta_security.lifecycle.user_sync import PlannedChange

CLIENT_ID = "0oaAirflow"
USER = {"id": "00u1", "type": "User", "alternateId": "bob@example.com", "displayName": "Bob"}


def event(event_type: str, *targets: dict[str, Any], uuid: str = "e-1") -> dict[str, Any]:
    return {"uuid": uuid, "eventType": event_type, "published": "2024-05-01T12:00:00.000Z", "target": list(targets)}


@pytest.mark.parametrize(
    ("presented", "expected", "ok"),
    [
        ("Bearer s3cret", "Bearer s3cret", True),
        ("Bearer s3cret ", "Bearer s3cret", False),
        ("bearer s3cret", "Bearer s3cret", False),
        ("", "Bearer s3cret", False),
        (None, "Bearer s3cret", False),
        ("anything", None, False),
        ("", "", False),
        ("ünïcode", "ünïcode", True),
    ],
)
def test_authorized(presented: str | None, expected: str | None, ok: bool):
    assert authorized(presented, expected) is ok


@pytest.mark.parametrize(
    ("challenge", "body"),
    [("abc", {"verification": "abc"}), ("", None), (None, None), ("x" * 600, None)],
)
def test_verification_response(challenge: str | None, body: dict[str, str] | None):
    assert verification_response(challenge) == body


@pytest.mark.parametrize(
    ("raw", "effect", "why"),
    [
        (event("user.lifecycle.deactivate", USER), "deactivate", ""),
        (event("user.lifecycle.suspend", USER), "deactivate", ""),
        (event("user.lifecycle.delete.initiated", USER), "deactivate", ""),
        (event("group.user_membership.remove", USER, {"type": "UserGroup", "displayName": "g"}), "recompute", ""),
        (event("group.user_membership.add", USER, {"type": "UserGroup", "displayName": "g"}), "recompute", ""),
        (event("group.user_membership.add", USER), "ignore", "no group target"),
        (
            event(
                "application.user_membership.remove",
                {**USER, "type": "AppUser"},
                {"type": "AppInstance", "id": CLIENT_ID},
            ),
            "deactivate",
            "",
        ),
        (
            event("application.user_membership.remove", USER, {"type": "AppInstance", "id": "0oaOther"}),
            "ignore",
            "another application",
        ),
        (event("user.lifecycle.deactivate"), "ignore", "no user target"),
        (event("user.session.start", USER), "ignore", "unhandled event type"),
        (event("user.lifecycle.unsuspend", USER), "ignore", "unhandled event type"),
    ],
)
def test_classify(raw: dict[str, Any], effect: str, why: str):
    hook_event = classify(raw, client_id=CLIENT_ID)
    assert (hook_event.effect, hook_event.ignored_because) == (effect, why)


@pytest.mark.parametrize(
    ("apps", "effect", "agents"),
    [
        (["0oaAssistant"], "end_delegation", ("0oaAssistant",)),  # an agent's app: the delegation ends, not the account
        ([CLIENT_ID, "0oaAssistant"], "deactivate", ()),  # Airflow's own app: the person loses Airflow
        (["0oaOther"], "ignore", ()),
    ],
)
def test_an_unassignment_from_an_agents_app_ends_its_delegation(apps: list[str], effect: str, agents: tuple):
    raw = event("application.user_membership.remove", USER, *({"type": "AppInstance", "id": app} for app in apps))
    hook_event = classify(raw, client_id=CLIENT_ID, agents=frozenset({"0oaAssistant", "0oaUnrelated"}))
    assert (hook_event.effect, hook_event.agents) == (effect, agents)
    body = {"data": {"events": [raw]}}
    [parsed] = parse_delivery(body, client_id=CLIENT_ID, agents=frozenset({"0oaAssistant"}))
    assert parsed.effect == effect


def test_an_unassignment_without_a_user_ends_nothing():
    raw = event("application.user_membership.remove", {"type": "AppInstance", "id": "0oaAssistant"})
    hook_event = classify(raw, client_id=CLIENT_ID, agents=frozenset({"0oaAssistant"}))
    assert (hook_event.effect, hook_event.ignored_because) == ("ignore", "no user target")


def test_classify_collects_targets():
    raw = event("group.user_membership.remove", USER, {"type": "UserGroup", "id": "00g1", "displayName": "airflow-ops"})
    hook_event = classify(raw, client_id=CLIENT_ID)
    assert hook_event.user_ids == ("00u1",)
    assert hook_event.user_logins == ("bob@example.com",)
    assert hook_event.group_names == ("airflow-ops",)
    assert hook_event.uuid == "e-1"
    assert hook_event.published == "2024-05-01T12:00:00.000Z"


def test_parse_delivery_reads_every_event():
    body = {"eventType": "com.okta.event_hook", "data": {"events": [event("user.lifecycle.suspend", USER), "junk"]}}
    [only] = parse_delivery(body, client_id=CLIENT_ID)
    assert only.event_type == "user.lifecycle.suspend"


@pytest.mark.parametrize("body", [None, [], "x", {"data": {}}, {"data": {"events": "no"}}, {"data": []}])
def test_parse_delivery_refuses_other_bodies(body: Any):
    with pytest.raises(DeliveryError):
        parse_delivery(body, client_id=CLIENT_ID)


# --------------------------------------------------------------------------- what an event may do alone

GROUP_G = {"type": "UserGroup", "displayName": "g"}
RECEIVED = datetime(2024, 5, 1, 12, 0, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("event_type", "before", "after"),
    [
        # An addition is never applied from the event: whoever holds the hook secret could name any group.
        ("group.user_membership.add", {"a"}, None),
        ("group.user_membership.add", {"g"}, None),
        ("group.user_membership.remove", {"a", "g"}, {"a"}),
        ("group.user_membership.remove", {"a"}, {"a"}),
        ("user.lifecycle.suspend", {"a"}, None),
    ],
)
def test_only_a_removal_changes_the_groups_known_without_the_api(
    event_type: str, before: set[str], after: set[str] | None
):
    hook_event = classify(event(event_type, USER, GROUP_G), client_id=CLIENT_ID)
    expected = None if after is None else frozenset(after)
    assert known_groups_after(frozenset(before), hook_event) == expected


def change(action: str, before: tuple[str, ...], after: tuple[str, ...], *, active: bool = True) -> PlannedChange:
    return PlannedChange(
        user_id=7,
        username="bob",
        okta_sub="00u1",
        action=action,  # type: ignore[arg-type]
        reason="groups_changed",
        okta_status="ACTIVE",
        roles_before=before,
        roles_after=after,
        active_before=active,
    )


@pytest.mark.parametrize(
    ("planned", "action", "after"),
    [
        (change("set_roles", ("Op", "Viewer"), ("Viewer",)), "set_roles", ("Viewer",)),  # a role taken away
        (change("set_roles", ("Viewer",), ("Admin", "Viewer")), "unchanged", ("Viewer",)),  # never a role added
        (change("set_roles", ("Op", "Viewer"), ("Admin", "Viewer")), "set_roles", ("Viewer",)),  # only the taking
        (change("set_roles", ("Op",), ("Viewer",)), "deactivate", ("Op",)),  # the default role is no subset
        (change("reactivate", ("Viewer",), ("Viewer",), active=False), "unchanged", ("Viewer",)),
        (change("deactivate", ("Viewer",), ("Viewer",)), "deactivate", ("Viewer",)),
        (change("unchanged", ("Viewer",), ("Viewer",)), "unchanged", ("Viewer",)),
    ],
)
def test_an_event_alone_only_ever_takes_access_away(planned: PlannedChange, action: str, after: tuple[str, ...]):
    limited = only_taking_away(planned)
    assert (limited.action, limited.roles_after) == (action, after)
    assert limited.roles_before == planned.roles_before


@pytest.mark.parametrize(
    ("published", "effective"),
    [
        ("2024-05-01T12:00:00.000Z", datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)),
        ("2999-01-01T00:00:00.000Z", RECEIVED),  # never in the future: it would make later events look stale
        ("2024-05-01T12:00:05.000001Z", RECEIVED),
        ("yesterday", RECEIVED),
        ("", RECEIVED),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)),  # no zone: UTC
    ],
)
def test_published_is_clamped_to_the_time_of_receipt(published: str, effective: datetime):
    raw = {**event("group.user_membership.remove", USER, GROUP_G), "published": published}
    [hook_event] = parse_delivery({"data": {"events": [raw]}}, client_id=CLIENT_ID, received_at=RECEIVED)
    assert hook_event.received_at == RECEIVED
    assert effective_time(hook_event) == effective


def test_an_event_without_uuid_is_claimed_by_a_digest_of_its_content():
    bare = event("user.lifecycle.deactivate", USER, uuid="")
    first = classify(bare, client_id=CLIENT_ID)
    again = classify(dict(reversed(list(bare.items()))), client_id=CLIENT_ID)  # same content, other key order
    other = classify({**bare, "published": "2024-05-01T12:00:01.000Z"}, client_id=CLIENT_ID)
    assert first.uuid == ""
    assert first.event_id.startswith("sha256:")
    assert len(first.event_id) == len("sha256:") + 64
    assert again.event_id == first.event_id
    assert other.event_id != first.event_id
    no_key = {k: v for k, v in bare.items() if k != "uuid"}
    assert classify(no_key, client_id=CLIENT_ID).event_id.startswith("sha256:")


@pytest.mark.parametrize(("uuid", "kept"), [("e-1", True), ("x" * 128, True), ("x" * 129, False), (7, False)])
def test_a_uuid_is_the_event_id_only_when_it_is_a_sane_string(uuid: object, kept: bool):
    hook_event = classify({**event("user.lifecycle.deactivate", USER), "uuid": uuid}, client_id=CLIENT_ID)
    assert (hook_event.event_id == uuid) is kept
    assert len(hook_event.event_id) <= 128


def test_what_an_event_names_is_bounded_and_cannot_break_a_log_line():
    event = {
        "uuid": "u-bounded",
        "eventType": "group.user_membership.remove\nINFO forged line" + "x" * 10_000,
        "target": [
            {"id": "00u1", "type": "User"},
            {"displayName": "g" * 256, "type": "UserGroup"},
            {"displayName": "airflow-ops", "type": "UserGroup"},
        ],
    }
    hook = classify(event, client_id="airflow")
    assert "\n" not in hook.event_type
    assert len(hook.event_type) <= 128 * 4
    assert hook.effect == "ignore"  # not a type Okta sends
    assert hook.group_names == ("airflow-ops",)
