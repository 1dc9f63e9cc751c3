"""Tests for okta_security.lifecycle.changes: Okta's word on accounts from every door, over a fake port."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from okta_security.lifecycle.changes import AppliedChange, OktaChanges
from okta_security.lifecycle.event_hooks import classify
from okta_security.lifecycle.evidence import AccountTimes, SignInEvidence
from okta_security.lifecycle.user_sync import AirflowAccount, OktaSnapshot, plan_sync
from okta_security.mapping.rules import parse_mapping
from okta_security.oidc.identity import OktaIdentity

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from okta_security.lifecycle.user_sync import PlannedChange

MAPPING = parse_mapping("default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Op]\n", source="m")
SUB = "00ubob00000000000001"
SEEN = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def account(**over: Any) -> AirflowAccount:
    fields: dict[str, Any] = {
        "user_id": 3,
        "username": "bob",
        "okta_sub": SUB,
        "active": True,
        "roles": frozenset({"Admin", "Op"}),
        "groups": ("airflow-admins", "airflow-ops"),
        "times": AccountTimes(groups_at=SEEN),
    }
    fields.update(over)
    return AirflowAccount(**fields)


@dataclass
class FakeAccounts:
    accounts: list[AirflowAccount]
    written: list[tuple[str, tuple[str, ...], str, datetime | None]] = field(default_factory=list)
    groups: list[tuple[frozenset[str], datetime]] = field(default_factory=list)

    def linked_to(self, sub: str) -> list[AirflowAccount]:
        return [a for a in self.accounts if a.okta_sub == sub]

    def apply(
        self, change: PlannedChange, *, trigger: str, evidence_at: datetime | None, extra: Mapping[str, Any]
    ) -> AppliedChange:
        self.written.append((change.action, change.roles_after, trigger, evidence_at))
        return AppliedChange(change, "applied")

    def remember_groups(self, user_ids: Iterable[int], groups: Iterable[str], at: datetime) -> None:
        self.groups.append((frozenset(groups), at))


def event(event_type: str, *groups: str, published: datetime) -> Any:
    raw = {
        "uuid": "e-1",
        "eventType": event_type,
        "published": published.isoformat().replace("+00:00", "Z"),
        "target": [{"id": SUB, "type": "User"}, *({"type": "UserGroup", "displayName": g} for g in groups)],
    }
    return classify(raw, client_id="0oaweb", received_at=published + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("event_type", "groups", "published", "outcome", "written"),
    [
        ("user.lifecycle.deactivate", (), SEEN, "applied", [("deactivate", ("Admin", "Op"))]),
        (
            "group.user_membership.remove",
            ("airflow-admins",),
            SEEN + timedelta(minutes=1),
            "applied",
            [("set_roles", ("Op",))],
        ),
        # Published before the groups last seen: the removal is already reflected, or undone since.
        ("group.user_membership.remove", ("airflow-admins",), SEEN - timedelta(minutes=1), "stale", []),
        # Without the Management API an event alone never gives a role.
        ("group.user_membership.add", ("airflow-viewers",), SEEN + timedelta(minutes=1), "deferred", []),
    ],
)
def test_an_event_without_the_api_only_takes_away(event_type, groups, published, outcome, written):
    accounts = FakeAccounts([account()])
    done = OktaChanges(accounts).on_event(event(event_type, *groups, published=published), SUB, MAPPING)
    assert done == outcome
    assert [(action, roles) for action, roles, _, _ in accounts.written] == written
    assert all(trigger == "event_hook" for _, _, trigger, _ in accounts.written)


def test_a_removal_keeps_the_last_full_reading_as_the_groups_time():
    accounts = FakeAccounts([account()])
    OktaChanges(accounts).on_event(
        event("group.user_membership.remove", "airflow-admins", published=SEEN + timedelta(minutes=5)), SUB, MAPPING
    )
    assert accounts.groups == [(frozenset({"airflow-ops"}), SEEN)]


def test_a_person_with_no_account_is_no_account():
    assert OktaChanges(FakeAccounts([])).on_event(event("user.lifecycle.deactivate", published=SEEN), SUB, MAPPING) == (
        "no_account"
    )


IDENTITY = OktaIdentity(
    sub=SUB,
    username="bob",
    first_name="B",
    last_name="O",
    email="b@example.com",
    groups=("marketing",),
    groups_source="id_token",
)


@pytest.mark.parametrize(
    ("issued", "written"),
    [
        (SEEN + timedelta(minutes=1), [("deactivate", ("Admin", "Op"), "login")]),
        (SEEN - timedelta(minutes=1), []),  # an older token's groups decide nothing about the account
    ],
)
def test_a_sign_in_that_maps_to_nothing_deactivates_only_on_newer_evidence(issued, written):
    accounts = FakeAccounts([account()])
    OktaChanges(accounts).no_mapped_role(IDENTITY, MAPPING, SignInEvidence.from_iat(issued.timestamp()))
    assert [(action, roles, trigger) for action, roles, trigger, _ in accounts.written] == written


def test_a_sync_plan_is_applied_in_order_with_the_reading_time():
    accounts = FakeAccounts([account(), account(user_id=4, username="bo2")])
    snapshot = OktaSnapshot(statuses={}, groups={}, read_at=SEEN)
    plan = plan_sync(accounts.accounts, snapshot, MAPPING)
    seen: list[tuple[int, int]] = []
    results = OktaChanges(accounts).apply_plan(
        plan, trigger="sync", evidence_at=SEEN, on_apply=lambda done, total: seen.append((done, total))
    )
    assert [r.outcome for r in results] == ["applied", "applied"]
    assert [(action, at) for action, _, _, at in accounts.written] == [("deactivate", SEEN), ("deactivate", SEEN)]
    assert seen == [(1, 2), (2, 2)]
