"""Tests for okta_security.lifecycle.event_hooks: caller check, verification, delivery parsing, effects."""

from __future__ import annotations

from typing import Any

import pytest

from okta_security.lifecycle.event_hooks import (
    DeliveryError,
    apply_membership,
    authorized,
    classify,
    parse_delivery,
    verification_response,
)

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


@pytest.mark.parametrize(
    ("event_type", "before", "after"),
    [
        ("group.user_membership.add", {"a"}, {"a", "g"}),
        ("group.user_membership.add", {"g"}, {"g"}),
        ("group.user_membership.remove", {"a", "g"}, {"a"}),
        ("group.user_membership.remove", {"a"}, {"a"}),
        ("user.lifecycle.suspend", {"a"}, {"a"}),
    ],
)
def test_apply_membership(event_type: str, before: set[str], after: set[str]):
    hook_event = classify(event(event_type, USER, {"type": "UserGroup", "displayName": "g"}), client_id=CLIENT_ID)
    assert apply_membership(frozenset(before), hook_event) == frozenset(after)
