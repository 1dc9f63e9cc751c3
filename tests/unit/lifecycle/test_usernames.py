from __future__ import annotations

import pytest

from okta_security.lifecycle.usernames import AccountRow, legacy_sub, legacy_username, plan_renames


@pytest.mark.parametrize(
    ("username", "sub"),
    [
        ("okta_00uadmin000000000001", "00uadmin000000000001"),
        ("okta_00u1", None),  # too short to be an Okta id
        ("alice@example.com", None),
        ("okta_", None),
        ("xokta_00uadmin000000000001", None),
        ("okta_00u-bad-chars", None),
    ],
)
def test_legacy_sub(username, sub):
    assert legacy_sub(username) == sub


def test_roundtrip():
    assert legacy_sub(legacy_username("00uabcdef123456")) == "00uabcdef123456"


def test_plan_prefers_okta_login_then_email_and_reports_conflicts():
    accounts = [
        AccountRow(1, "okta_00uAAAAAAAAAAAAAAAA", "a@example.com"),
        AccountRow(2, "okta_00uBBBBBBBBBBBBBBBB", "B@Example.com"),
        AccountRow(3, "okta_00uCCCCCCCCCCCCCCCC", ""),
        AccountRow(4, "okta_00uDDDDDDDDDDDDDDDD", "taken@example.com"),
        AccountRow(5, "taken@example.com", "someone@example.com"),
        AccountRow(6, "admin", "admin@example.com"),
    ]
    plan = {p.user_id: p for p in plan_renames(accounts, {"00uAAAAAAAAAAAAAAAA": "Alice.Login@Example.com"})}
    assert (plan[1].new, plan[1].source, plan[1].status) == ("alice.login@example.com", "okta", "rename")
    assert (plan[2].new, plan[2].source, plan[2].status) == ("b@example.com", "email", "rename")
    assert plan[3].status == "unresolved"
    assert plan[4].status == "conflict"
    assert "user id 5" in plan[4].reason
    assert set(plan) == {1, 2, 3, 4}


def test_two_legacy_accounts_never_get_the_same_name():
    accounts = [
        AccountRow(1, "okta_00uAAAAAAAAAAAAAAAA", "same@example.com"),
        AccountRow(2, "okta_00uBBBBBBBBBBBBBBBB", "same@example.com"),
    ]
    statuses = [p.status for p in plan_renames(accounts, {})]
    assert statuses == ["rename", "conflict"]


def test_email_placeholder_of_fab_is_not_a_name():
    assert (
        plan_renames([AccountRow(1, "okta_00uAAAAAAAAAAAAAAAA", "okta_00u@email.notfound")], {})[0].status
        == "unresolved"
    )
