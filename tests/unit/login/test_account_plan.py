"""Tests for okta_security.login.account_plan: every branch of what a login does to the account."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from okta_security.errors import (
    EmailConflict,
    InactiveUser,
    LoginRefused,
    OktaUserChanged,
    RelinkRefused,
    ServiceUserLogin,
    StaleToken,
    UnlinkedAccount,
)
from okta_security.lifecycle.evidence import AccountTimes, SignInEvidence
from okta_security.login.account_plan import (
    AccountLookup,
    AccountPlan,
    ExistingAccount,
    LinkSnapshot,
    RelinkPlan,
    needs_email_lookup,
    plan_account,
    plan_relink,
)
from okta_security.oidc.identity import OktaIdentity

SUB = "00uann000000000000001"
ANN = OktaIdentity(
    sub=SUB,
    username="ann@example.com",
    first_name="Ann",
    last_name="Lee",
    email="ann@example.com",
    groups=("airflow-ops",),
    groups_source="id_token",
)
ROLES = ("Op",)
LINK = LinkSnapshot(SUB)
ACCOUNT = ExistingAccount(
    user_id=7,
    username="ann@example.com",
    email="ann@example.com",
    first_name="Ann",
    last_name="Lee",
    active=True,
    roles=("Op",),
    link=LINK,
)
LEGACY = replace(ACCOUNT, user_id=3, username=f"okta_{SUB}", first_name="Legacy", last_name="User", link=None)
OTHER = ExistingAccount(user_id=9, username="ann-local", email="ann@example.com")
BOT = replace(ACCOUNT, user_id=11, email="ann@okta-clients.invalid", service_user=True, link=None)
OLD_SUB = "00uann000000000000000"  # the Okta user the account belonged to before the login was reused
PINNED_ELSEWHERE = replace(ACCOUNT, link=LinkSnapshot(OLD_SUB))


def events(plan: AccountPlan) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event, dict(e.fields)) for e in plan.events]


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "lookup", "lost_race", "error", "code", "names"),
    [
        pytest.param(
            ANN, AccountLookup(by_username=BOT), False, ServiceUserLogin, "service_user_login", "ann@example.com",
            id="username-is-a-bots-service-user",
        ),
        pytest.param(
            ANN, AccountLookup(legacy=replace(LEGACY, service_user=True)), False, ServiceUserLogin,
            "service_user_login", f"okta_{SUB}", id="legacy-account-is-a-service-user",
        ),
        pytest.param(
            ANN, AccountLookup(by_email=OTHER), False, EmailConflict, "email_conflict", "ann-local",
            id="new-person-email-owned-by-another-account",
        ),
        pytest.param(
            replace(ANN, email="ann.new@example.com"),
            AccountLookup(by_username=ACCOUNT, by_email=replace(OTHER, email="ann.new@example.com")),
            False, EmailConflict, "email_conflict", "ann-local", id="changed-email-owned-by-another-account",
        ),
        pytest.param(
            ANN, AccountLookup(legacy=replace(LEGACY, email="old@example.com"), by_email=OTHER), False,
            EmailConflict, "email_conflict", "ann-local", id="legacy-adoption-email-owned-by-another-account",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(ACCOUNT, active=False, link=None)), False, InactiveUser,
            "inactive_user", "deactivated", id="inactive-never-linked",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(ACCOUNT, active=False)), False, InactiveUser, "inactive_user",
            "deactivated", id="inactive-by-an-administrator",
        ),
        pytest.param(
            ANN, AccountLookup(), True, LoginRefused, "login_refused", "could not create",
            id="insert-failed-and-nothing-to-update",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=PINNED_ELSEWHERE), False, OktaUserChanged, "okta_user_changed",
            f"okta-airflow relink ann@example.com --to-okta-user {SUB}", id="login-reused-by-another-okta-user",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(PINNED_ELSEWHERE, active=False, link=LinkSnapshot(OLD_SUB, "sync"))),
            False, OktaUserChanged, "okta_user_changed", "another Okta user",
            id="leaver-account-never-reactivated-for-another-person",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(PINNED_ELSEWHERE, active=False)), False, OktaUserChanged,
            "okta_user_changed", "another Okta user", id="deactivated-account-of-another-person",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=PINNED_ELSEWHERE, by_email=PINNED_ELSEWHERE), False, OktaUserChanged,
            "okta_user_changed", "ann@example.com", id="same-login-and-email-another-okta-user",
        ),
        pytest.param(
            ANN, AccountLookup(legacy=replace(LEGACY, link=LinkSnapshot(OLD_SUB))), False, OktaUserChanged,
            "okta_user_changed", f"okta_{SUB}", id="legacy-account-relinked-to-another-okta-user",
        ),
        pytest.param(
            ANN, AccountLookup(by_email=replace(PINNED_ELSEWHERE, username="ANN@example.com")), False,
            OktaUserChanged, "okta_user_changed", "ANN@example.com",
            id="row-of-the-same-name-found-by-email-belongs-to-another-okta-user",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=PINNED_ELSEWHERE), True, OktaUserChanged, "okta_user_changed",
            "another Okta user", id="insert-lost-a-race-to-another-okta-user",
        ),
        pytest.param(
            ANN, AccountLookup(by_email=OTHER), True, EmailConflict, "email_conflict", "ann-local",
            id="insert-failed-on-another-accounts-email",
        ),
    ],
)  # fmt: skip
def test_refused(
    identity: OktaIdentity, lookup: AccountLookup, lost_race: bool, error: type[LoginRefused], code: str, names: str
) -> None:
    refusal = plan_account(identity, ROLES, lookup, after_lost_race=lost_race)
    assert type(refusal) is error
    assert refusal.code == code
    assert names in refusal.message


# -- plans ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "lookup", "lost_race", "expected"),
    [
        pytest.param(
            ANN, AccountLookup(), False,
            {"action": "create", "user_id": None, "username": "ann@example.com", "email": "ann@example.com",
             "first_name": "Ann", "last_name": "Lee", "roles_before": None, "reactivate": False, "rename_from": None},
            id="create",
        ),
        pytest.param(
            replace(ANN, email="", first_name="", last_name=""), AccountLookup(), False,
            {"action": "create", "email": f"{SUB}@okta.invalid", "first_name": "ann@example.com", "last_name": "-"},
            id="create-without-email-or-names",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=ACCOUNT), False,
            {"action": "update", "user_id": 7, "username": "ann@example.com", "roles_before": ("Op",)},
            id="update-nothing-changed",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(ACCOUNT, username="Ann@Example.com")), False,
            {"action": "update", "username": "Ann@Example.com", "rename_from": None},
            id="found-case-insensitively-keeps-its-username",
        ),
        pytest.param(
            replace(ANN, first_name="", last_name="", email=""), AccountLookup(by_username=ACCOUNT), False,
            {"action": "update", "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
            id="okta-without-names-or-email-keeps-the-accounts",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(ACCOUNT, link=None)), False,
            {"action": "adopt", "user_id": 7, "username": "ann@example.com"},
            id="adopt-an-account-made-before-okta",
        ),
        pytest.param(
            ANN, AccountLookup(legacy=LEGACY), False,
            {"action": "adopt_legacy", "user_id": 3, "username": "ann@example.com", "rename_from": f"okta_{SUB}",
             "first_name": "Ann", "last_name": "Lee"},
            id="adopt-a-legacy-okta-sub-account",
        ),
        pytest.param(
            ANN, AccountLookup(legacy=LEGACY, by_email=LEGACY), False,
            {"action": "adopt_legacy", "user_id": 3},
            id="adopt-legacy-whose-email-is-the-same",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, "sync"))), False,
            {"action": "reactivate", "user_id": 7, "reactivate": True},
            id="reactivate-what-sync-users-deactivated",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, "event_hook"))),
            False, {"action": "reactivate", "reactivate": True},
            id="reactivate-what-an-event-hook-deactivated",
        ),
        pytest.param(
            ANN, AccountLookup(legacy=replace(LEGACY, active=False, link=LinkSnapshot(SUB, "sync"))), False,
            {"action": "adopt_legacy", "reactivate": True, "rename_from": f"okta_{SUB}"},
            id="adopt-and-reactivate-a-legacy-leaver",
        ),
        pytest.param(
            ANN, AccountLookup(by_email=replace(ACCOUNT, username="ANN@example.com")), False,
            {"action": "update", "user_id": 7, "username": "ANN@example.com"},
            id="row-created-by-a-concurrent-login-between-two-look-ups",
        ),
        pytest.param(
            ANN, AccountLookup(by_username=ACCOUNT), True,
            {"action": "update", "user_id": 7},
            id="insert-lost-a-race-update-the-winner",
        ),
        pytest.param(
            replace(ANN, email="ann.new@example.com"),
            AccountLookup(by_username=ACCOUNT, by_email=replace(ACCOUNT, email="ann.new@example.com")), False,
            {"action": "update", "email": "ann.new@example.com"},
            id="email-owner-is-the-account-itself",
        ),
    ],
)  # fmt: skip
def test_plans(identity: OktaIdentity, lookup: AccountLookup, lost_race: bool, expected: dict[str, Any]) -> None:
    plan = plan_account(identity, ROLES, lookup, after_lost_race=lost_race)
    assert isinstance(plan, AccountPlan), plan
    assert plan.roles == ROLES
    assert {k: getattr(plan, k) for k in expected} == expected


# -- the audit events each plan implies ----------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "roles", "lookup", "expected"),
    [
        pytest.param(
            ANN, ("Op",), AccountLookup(), [("user.created", {"email": "ann@example.com", "roles": ["Op"]})],
            id="created",
        ),
        pytest.param(ANN, ("Op",), AccountLookup(by_username=ACCOUNT), [], id="nothing-changed-nothing-audited"),
        pytest.param(
            ANN, ("Op",), AccountLookup(by_username=replace(ACCOUNT, link=None)),
            [("user.adopted", {"account": "ann@example.com", "kind": "unlinked_account"})],
            id="adopting-an-account-made-before-okta-is-audited",
        ),
        pytest.param(
            ANN, ("Op",), AccountLookup(legacy=replace(LEGACY, first_name="Ann", last_name="Lee")),
            [
                ("user.adopted", {"account": f"okta_{SUB}", "kind": "legacy_username"}),
                ("user.renamed", {"before": f"okta_{SUB}", "after": "ann@example.com"}),
            ],
            id="adopting-a-legacy-account-is-audited",
        ),
        pytest.param(
            ANN, ("Admin", "Op"), AccountLookup(by_username=ACCOUNT),
            [("user.roles_changed", {"trigger": "login", "before": ["Op"], "after": ["Admin", "Op"]})],
            id="roles-changed",
        ),
        pytest.param(
            ANN, ("Op",), AccountLookup(by_username=replace(ACCOUNT, roles=("Viewer", "Op"))),
            [("user.roles_changed", {"trigger": "login", "before": ["Op", "Viewer"], "after": ["Op"]})],
            id="roles-before-are-compared-sorted",
        ),
        pytest.param(
            replace(ANN, last_name="Lee-Smith", email="ann.s@example.com"), ("Op",), AccountLookup(by_username=ACCOUNT),
            [("user.profile_updated", {"changes": {
                "last_name": {"before": "Lee", "after": "Lee-Smith"},
                "email": {"before": "ann@example.com", "after": "ann.s@example.com"},
            }})],
            id="profile-updated",
        ),
        pytest.param(
            ANN, ("Op",), AccountLookup(by_username=replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, "sync"))),
            [("user.reactivated", {"trigger": "login", "roles": ["Op"]})],
            id="reactivated",
        ),
        pytest.param(
            ANN, ("Admin",),
            AccountLookup(legacy=replace(LEGACY, roles=("Viewer",), active=False, link=LinkSnapshot(SUB, "sync"))),
            [
                ("user.renamed", {"before": f"okta_{SUB}", "after": "ann@example.com"}),
                ("user.reactivated", {"trigger": "login", "roles": ["Admin"]}),
                ("user.roles_changed", {"trigger": "login", "before": ["Viewer"], "after": ["Admin"]}),
                ("user.profile_updated", {"changes": {
                    "first_name": {"before": "Legacy", "after": "Ann"},
                    "last_name": {"before": "User", "after": "Lee"},
                }}),
            ],
            id="every-event-in-order",
        ),
    ],
)  # fmt: skip
def test_events(
    identity: OktaIdentity, roles: tuple[str, ...], lookup: AccountLookup, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    plan = plan_account(identity, roles, lookup)
    assert isinstance(plan, AccountPlan), plan
    assert events(plan) == expected


# -- adopting accounts okta_security never linked, and switching it off ----------------------------


@pytest.mark.parametrize(
    ("lookup", "names"),
    [
        pytest.param(AccountLookup(by_username=replace(ACCOUNT, link=None)), "ann@example.com", id="made-before-okta"),
        pytest.param(AccountLookup(legacy=LEGACY), f"okta_{SUB}", id="legacy-okta-sub-account"),
        pytest.param(
            AccountLookup(by_email=replace(ACCOUNT, username="ANN@example.com", link=None)),
            "ANN@example.com",
            id="same-name-found-by-email",
        ),
    ],
)
def test_unlinked_accounts_are_not_adopted_when_switched_off(lookup: AccountLookup, names: str) -> None:
    refusal = plan_account(ANN, ROLES, lookup, adopt_unlinked=False)
    assert type(refusal) is UnlinkedAccount
    assert refusal.code == "unlinked_account"
    assert names in refusal.message
    assert f"okta-airflow relink {names} --to-okta-user {SUB}" in refusal.message


@pytest.mark.parametrize(
    "lookup",
    [
        pytest.param(AccountLookup(), id="create"),
        pytest.param(AccountLookup(by_username=ACCOUNT), id="linked-to-this-okta-user"),
        pytest.param(
            AccountLookup(by_username=replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, "sync"))),
            id="own-leaver-account",
        ),
    ],
)
def test_switching_adoption_off_keeps_linked_accounts_and_new_ones(lookup: AccountLookup) -> None:
    assert isinstance(plan_account(ANN, ROLES, lookup, adopt_unlinked=False), AccountPlan)


def test_the_refusal_names_the_okta_users_and_the_account() -> None:
    refusal = plan_account(ANN, ROLES, AccountLookup(by_username=PINNED_ELSEWHERE))
    assert isinstance(refusal, OktaUserChanged)
    assert (refusal.account, refusal.okta_sub, refusal.linked_sub) == ("ann@example.com", SUB, OLD_SUB)


@pytest.mark.parametrize(
    ("lookup", "changed"),
    [
        (AccountLookup(), True),  # a new account's roles are new
        (AccountLookup(by_username=ACCOUNT), False),
        (AccountLookup(by_username=replace(ACCOUNT, roles=("Admin",))), True),
    ],
)
def test_roles_changed(lookup: AccountLookup, changed: bool) -> None:
    plan = plan_account(ANN, ROLES, lookup)
    assert isinstance(plan, AccountPlan)
    assert plan.roles_changed is changed


@pytest.mark.parametrize(
    ("identity", "account", "expected"),
    [
        (ANN, None, True),  # a new account: is the email free?
        (ANN, ACCOUNT, False),  # the account already has it (one query less)
        (ANN, replace(ACCOUNT, email="old@example.com"), True),  # the email changes: is it free?
        (replace(ANN, email=""), None, False),  # no email from Okta: nothing to collide
        (replace(ANN, email=""), ACCOUNT, False),
    ],
)
def test_needs_email_lookup(identity: OktaIdentity, account: ExistingAccount | None, expected: bool) -> None:
    assert needs_email_lookup(identity, account) is expected


# -- okta-airflow relink: the administrator's explicit fix --------------------------------------

NEW_SUB = "00uann000000000000002"


@pytest.mark.parametrize(
    ("account", "to_sub", "elsewhere", "names"),
    [
        pytest.param(None, NEW_SUB, (), "no Airflow user named 'ann@example.com'", id="no-such-account"),
        pytest.param(BOT, NEW_SUB, (), "service user", id="a-bots-service-user"),
        pytest.param(ACCOUNT, "not an id!", (), "is not an Okta user id", id="malformed-okta-user-id"),
        pytest.param(ACCOUNT, "00u" + "x" * 100, (), "is not an Okta user id", id="overlong-okta-user-id"),
        pytest.param(
            PINNED_ELSEWHERE, NEW_SUB, ("ann2@example.com",), "already linked to the Airflow account 'ann2@example.com'",
            id="target-already-has-an-account",
        ),
    ],
)  # fmt: skip
def test_relink_refused(account: ExistingAccount | None, to_sub: str, elsewhere: tuple[str, ...], names: str) -> None:
    refusal = plan_relink(account, "ann@example.com", to_sub, linked_elsewhere=elsewhere)
    assert isinstance(refusal, RelinkRefused)
    assert refusal.code == "relink_refused"
    assert names in str(refusal)


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        pytest.param(
            PINNED_ELSEWHERE,
            {"user_id": 7, "username": "ann@example.com", "before": OLD_SUB, "okta_sub": NEW_SUB, "changes": True},
            id="linked-to-another-okta-user",
        ),
        pytest.param(replace(ACCOUNT, link=None), {"before": None, "changes": True}, id="never-linked"),
        pytest.param(replace(ACCOUNT, link=LinkSnapshot(NEW_SUB)), {"changes": False}, id="already-linked-to-it"),
        pytest.param(
            replace(PINNED_ELSEWHERE, active=False, link=LinkSnapshot(OLD_SUB, "sync")),
            {"active": False, "deactivated_by": "sync", "changes": True},
            id="a-leavers-account-keeps-its-state",
        ),
    ],
)
def test_relink_plans(account: ExistingAccount, expected: dict[str, Any]) -> None:
    plan = plan_relink(account, "ann@example.com", NEW_SUB)
    assert isinstance(plan, RelinkPlan), plan
    assert {k: getattr(plan, k) for k in expected} == expected


def test_relink_audits_both_okta_users() -> None:
    plan = plan_relink(PINNED_ELSEWHERE, "ann@example.com", NEW_SUB)
    assert isinstance(plan, RelinkPlan)
    assert (plan.event.event, dict(plan.event.fields)) == ("user.relinked", {"before": OLD_SUB, "after": NEW_SUB})


def test_a_relinked_account_is_signed_into_by_its_new_okta_user_only() -> None:
    """After relink the pin has moved: the new person signs in, the old one is refused."""
    relinked = replace(ACCOUNT, link=LinkSnapshot(NEW_SUB))
    assert isinstance(plan_account(replace(ANN, sub=NEW_SUB), ROLES, AccountLookup(by_username=relinked)), AccountPlan)
    assert isinstance(plan_account(ANN, ROLES, AccountLookup(by_username=relinked)), OktaUserChanged)


# --------------------------------------------------------------------------- evidence with a time

_T0 = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
_OLD = SignInEvidence(issued_at=_T0 - timedelta(minutes=5), groups_at=_T0 - timedelta(minutes=5))
_NEW = SignInEvidence(issued_at=_T0 + timedelta(minutes=5), groups_at=_T0 + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("account", "evidence", "expected"),
    [
        # Deactivated by an event at T0: a token from before cannot undo it; one from after can.
        (
            replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, "event_hook", AccountTimes(status_at=_T0))),
            _OLD,
            "stale_token",
        ),
        (
            replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, "event_hook", AccountTimes(status_at=_T0))),
            _NEW,
            "reactivate",
        ),
        # The marker cleared (an administrator's edit): no token reactivates, however new.
        (
            replace(ACCOUNT, active=False, link=LinkSnapshot(SUB, None, AccountTimes(status_at=_T0))),
            _NEW,
            "inactive_user",
        ),
        # A role taken away at T0: an older token's groups give no role back ...
        (replace(ACCOUNT, roles=("Viewer",), link=LinkSnapshot(SUB, None, AccountTimes(roles_at=_T0))), _OLD, "update"),
        # ... and with nothing left of what it maps to, it is refused.
        (replace(ACCOUNT, roles=("Viewer",), link=LinkSnapshot(SUB, None, AccountTimes(roles_at=_T0))), _OLD, None),
    ],
)
def test_evidence_older_than_the_account_may_take_away_never_give_back(account, evidence, expected):
    roles = ("Op", "Viewer") if expected == "update" else ROLES
    plan = plan_account(ANN, roles, AccountLookup(by_username=account), evidence=evidence)
    if expected is None or expected in ("stale_token", "inactive_user"):
        assert isinstance(plan, StaleToken | InactiveUser)
        assert plan.code == (expected or "stale_token")
        return
    assert isinstance(plan, AccountPlan)
    assert plan.action == expected
    if expected == "update":
        assert (plan.roles, plan.groups_current) == (("Viewer",), False)


def test_newer_groups_are_stored_and_decide_the_roles():
    account = replace(ACCOUNT, roles=("Viewer",), link=LinkSnapshot(SUB, None, AccountTimes(roles_at=_T0)))
    plan = plan_account(ANN, ("Op",), AccountLookup(by_username=account), evidence=_NEW)
    assert isinstance(plan, AccountPlan)
    assert (plan.roles, plan.groups_current) == (("Op",), True)
