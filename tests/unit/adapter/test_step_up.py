"""Step-up at request time: which roles a credential acts without, and which auth managers can withhold them."""

from __future__ import annotations

import time

import pytest

from okta_security.adapter.step_up import StepUpView, enforcement_problem, withheld_for
from okta_security.mapping.step_up import StepUp

STEP_UP = StepUp(frozenset({"Admin"}), 3600)


@pytest.mark.parametrize(
    ("until", "withheld"),
    [
        (None, {"Admin"}),
        ("9999999999", {"Admin"}),  # a claim of the wrong type is no evidence
        (True, {"Admin"}),
        (-1, {"Admin"}),  # seconds from now
        (60, set()),
    ],
)
def test_withheld_for(until, withheld) -> None:
    if isinstance(until, int) and not isinstance(until, bool):
        until += int(time.time())
    assert withheld_for(["Admin", "Viewer"], STEP_UP, until) == withheld
    assert withheld_for(["Admin", "Viewer"], None, until) == set()


@pytest.mark.parametrize(
    ("auth_manager", "enforced"),
    [
        ("okta_security.auth_manager.OktaFabAuthManager", True),
        ("okta_security.adapter.auth_manager.OktaFabAuthManager", True),
        ("airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager", False),
        ("", False),
        ("no.such.Module", False),
    ],
)
def test_only_okta_s_auth_manager_enforces_step_up_on_airflow_3(auth_manager, enforced) -> None:
    problem = enforcement_problem(auth_manager)
    assert (problem is None) == enforced
    if problem:
        assert "AIRFLOW__CORE__AUTH_MANAGER=okta_security.auth_manager.OktaFabAuthManager" in problem


def test_the_request_view_has_the_limited_permissions_and_the_rest_of_the_user() -> None:
    class User:
        id = 7
        username = "ann"
        perms = {("can_edit", "Variables")}

    view = StepUpView(User(), {("can_read", "DAGs")}, frozenset({"Admin"}))
    assert view.perms == {("can_read", "DAGs")}
    assert (view.id, view.username, view.withheld_roles) == (7, "ann", {"Admin"})
