"""okta_security.bots.service_users: one service user per client and role set; which ones to deactivate."""

from __future__ import annotations

import pytest

from okta_security.bots.service_users import (
    MAX_LABEL,
    deactivation_reason,
    grantable,
    is_service_email,
    role_set_label,
    service_email,
    service_identity,
)
from okta_security.mapping.bots import ClientMap, ClientRule

CI = ClientRule("0oaCI", "svc-ci", ("Viewer",), {"airflow.trigger": ("User",), "airflow.ops": ("Op", "User")}, line=3)
SCOPED = ClientRule("scoped-bot", "svc-scoped", (), {"airflow.trigger": ("User",)}, line=9)
CLIENTS = ClientMap({CI.client_id: CI, SCOPED.client_id: SCOPED})


@pytest.mark.parametrize(
    ("rule", "roles", "username", "email"),
    [
        (CI, {"Viewer"}, "svc-ci", "0oaci@okta-clients.invalid"),  # the client's own roles: its plain user
        (CI, {"Viewer", "User"}, "svc-ci+user", "0oaci+user@okta-clients.invalid"),
        (CI, {"Viewer", "User", "Op"}, "svc-ci+op+user", "0oaci+op+user@okta-clients.invalid"),
        (SCOPED, {"User"}, "svc-scoped+user", "scoped-bot+user@okta-clients.invalid"),
    ],
)
def test_each_role_set_has_its_own_user(rule: ClientRule, roles: set[str], username: str, email: str) -> None:
    identity = service_identity(rule, roles)
    assert (identity.username, identity.email, identity.roles) == (username, email, frozenset(roles))
    assert is_service_email(identity.email)


def test_the_name_is_deterministic_and_ignores_order() -> None:
    assert service_identity(CI, ["User", "Op", "Viewer"]) == service_identity(CI, ("Viewer", "Op", "User"))


def test_roles_that_fold_to_one_name_get_a_digest() -> None:
    rule = ClientRule("c", "svc-c", ("Viewer",), {"a": ("Team A",), "b": ("team-a",)}, line=1)
    first, second = role_set_label(rule, {"Viewer", "Team A"}), role_set_label(rule, {"Viewer", "team-a"})
    assert first != second
    assert first.startswith("team-a~")
    assert second.startswith("team-a~")


def test_a_long_role_list_is_bounded_with_a_digest() -> None:
    many = {f"scope{i}": (f"team-{i:02d}-readers",) for i in range(30)}
    rule = ClientRule("c", "svc-" + "n" * 60, ("Viewer",), many, line=1)
    everything = {"Viewer", *(roles[0] for roles in many.values())}
    label = role_set_label(rule, everything)
    assert len(label) <= MAX_LABEL
    assert "~" in label
    assert label != role_set_label(rule, everything - {"team-00-readers"})
    assert len(service_identity(rule, everything).username) <= 64 + 1 + MAX_LABEL


@pytest.mark.parametrize(
    ("rule", "roles", "expected"),
    [
        (CI, {"Viewer"}, True),
        (CI, {"Viewer", "User"}, True),
        (CI, {"Viewer", "User", "Op"}, True),
        (CI, {"Viewer", "Op"}, False),  # Op comes only with User
        (CI, {"User"}, False),  # every token has Viewer
        (CI, {"Viewer", "Admin"}, False),
        (SCOPED, {"User"}, True),
        (SCOPED, set(), False),
    ],
)
def test_grantable_role_sets(rule: ClientRule, roles: set[str], expected: bool) -> None:
    assert grantable(rule, roles) is expected


@pytest.mark.parametrize(
    ("email", "roles", "reason"),
    [
        ("0oaci@okta-clients.invalid", {"Viewer"}, None),
        ("0oaci+user@okta-clients.invalid", {"Viewer", "User"}, None),
        ("0oaci+user@okta-clients.invalid", {"Viewer"}, "role_set_not_granted"),  # roles changed by hand
        ("0oaci@okta-clients.invalid", {"Viewer", "Op"}, "role_set_not_granted"),
        ("scoped-bot@okta-clients.invalid", {"User"}, "role_set_not_granted"),  # the old one-user-per-client
        ("gone-bot@okta-clients.invalid", {"Viewer"}, "client_removed"),
        ("gone-bot+user@okta-clients.invalid", {"Viewer", "User"}, "client_removed"),
        ("alice@example.com", {"Admin"}, None),  # a person: never deactivated here
    ],
)
def test_deactivation_reason(email: str, roles: set[str], reason: str | None) -> None:
    assert deactivation_reason(CLIENTS, email, roles) == reason


def test_a_narrower_mapping_deactivates_the_users_of_role_sets_it_no_longer_grants() -> None:
    narrowed = ClientRule("0oaCI", "svc-ci", ("Viewer",), {"airflow.trigger": ("User",)}, line=3)
    clients = ClientMap({"0oaCI": narrowed})
    assert deactivation_reason(clients, service_email("0oaCI", "op+user"), {"Viewer", "User", "Op"}) == (
        "role_set_not_granted"
    )
    assert deactivation_reason(clients, service_email("0oaCI", "user"), {"Viewer", "User"}) is None
