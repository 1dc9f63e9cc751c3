"""Tests for okta_security.lifecycle.user_sync: what sync-users decides for each account."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from okta_security.lifecycle.evidence import AccountTimes
from okta_security.lifecycle.user_sync import (
    AirflowAccount,
    OktaSnapshot,
    deactivation_limit,
    plan_account,
    plan_sync,
    relevant_groups,
)
from okta_security.mapping.rules import parse_mapping

MAPPING = parse_mapping(
    'default_role: null\nmappings:\n  airflow-admins: [Admin]\n  airflow-ops: [Op]\n  "airflow-team-*": [User]\n',
    source="m.yaml",
)
WITH_DEFAULT = parse_mapping("default_role: Viewer\nmappings:\n  airflow-admins: [Admin]\n", source="d.yaml")


def account(active: bool = True, roles: tuple[str, ...] = ("Op",), deactivated_by: str | None = None) -> AirflowAccount:
    return AirflowAccount(
        user_id=7, username="bob", okta_sub="00u7", active=active, roles=frozenset(roles), deactivated_by=deactivated_by
    )


def view(status: str | None = "ACTIVE", groups: tuple[str, ...] = ("airflow-ops",)) -> OktaSnapshot:
    return OktaSnapshot(
        statuses={} if status is None else {"00u7": status},
        groups={"00u7": frozenset(groups)},
    )


@pytest.mark.parametrize(
    ("acct", "okta", "action", "reason", "after"),
    [
        # leavers
        (account(), view("DEPROVISIONED"), "deactivate", "okta_deprovisioned", ("Op",)),
        (account(), view("SUSPENDED"), "deactivate", "okta_suspended", ("Op",)),
        (account(), view(None), "deactivate", "okta_deleted", ("Op",)),
        (account(active=False), view("DEPROVISIONED"), "unchanged", "okta_deprovisioned", ("Op",)),
        # movers
        (account(), view(groups=("airflow-ops", "airflow-team-x")), "set_roles", "groups_changed", ("Op", "User")),
        (account(roles=("Op", "Admin")), view(), "set_roles", "groups_changed", ("Op",)),
        (account(), view(groups=("marketing",)), "deactivate", "no_mapped_role", ("Op",)),
        (account(), view(groups=()), "deactivate", "no_mapped_role", ("Op",)),
        (account(), view(), "unchanged", "in_sync", ("Op",)),
        # still active in Okta but not a clean sign-in state: not a leaver
        (account(), view("LOCKED_OUT"), "unchanged", "in_sync", ("Op",)),
        (account(), view("PASSWORD_EXPIRED"), "unchanged", "in_sync", ("Op",)),
        # returners
        (account(active=False, deactivated_by="sync"), view(), "reactivate", "okta_active_and_mapped", ("Op",)),
        (
            account(active=False, roles=("Viewer",), deactivated_by="event_hook"),
            view(groups=("airflow-admins",)),
            "reactivate",
            "okta_active_and_mapped",
            ("Admin",),
        ),
        (account(active=False), view(), "skip", "deactivated_by_admin", ("Op",)),
        (account(active=False, deactivated_by="sync"), view(groups=()), "unchanged", "no_mapped_role", ("Op",)),
    ],
)
def test_plan_account(acct: AirflowAccount, okta: OktaSnapshot, action: str, reason: str, after: tuple[str, ...]):
    change = plan_account(acct, okta, MAPPING)
    assert (change.action, change.reason, change.roles_after) == (action, reason, after)
    assert change.roles_before == tuple(sorted(acct.roles))
    assert change.active_before is acct.active


def test_default_role_keeps_unmapped_users_active():
    change = plan_account(account(roles=("Viewer",)), view(groups=("marketing",)), WITH_DEFAULT)
    assert change.action == "unchanged"


def test_plan_sync_orders_and_counts():
    accounts = [
        AirflowAccount(2, "zed", "00u2", True, frozenset({"Op"})),
        AirflowAccount(1, "amy", "00u1", True, frozenset({"Op"})),
    ]
    okta = OktaSnapshot(statuses={"00u1": "ACTIVE"}, groups={"00u1": frozenset({"airflow-ops"})})
    plan = plan_sync(accounts, okta, MAPPING, unmanaged=3)
    assert [e.username for e in plan.entries] == ["amy", "zed"]
    assert plan.counts == {"unchanged": 1, "deactivate": 1}
    assert plan.deactivations == 1
    assert [c.username for c in plan.changes] == ["zed"]
    assert plan.unmanaged == 3
    assert plan.mapping_version == MAPPING.digest[:12]
    assert plan.entries[1].as_dict()["action"] == "deactivate"


@pytest.mark.parametrize(("managed", "limit"), [(0, 10), (50, 10), (100, 10), (1000, 100), (10_000, 1000)])
def test_deactivation_limit(managed: int, limit: int):
    assert deactivation_limit(managed) == limit


def test_relevant_groups_are_those_a_rule_matches():
    names = ["airflow-admins", "marketing", "airflow-team-data", "Everyone"]
    assert relevant_groups(names, MAPPING) == ["airflow-admins", "airflow-team-data"]


def test_a_reading_older_than_the_deactivation_does_not_reactivate():
    deactivated_at = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    acct = replace(account(active=False, deactivated_by="event_hook"), times=AccountTimes(status_at=deactivated_at))
    older = replace(view(), read_at=deactivated_at - timedelta(seconds=1))
    newer = replace(view(), read_at=deactivated_at + timedelta(seconds=1))
    assert (plan_account(acct, older, MAPPING).action, plan_account(acct, older, MAPPING).reason) == (
        "skip",
        "deactivation_newer_than_reading",
    )
    assert plan_account(acct, newer, MAPPING).action == "reactivate"
