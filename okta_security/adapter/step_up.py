"""Step-up roles at request time: each credential acts without them once its evidence runs out.

The time (:mod:`okta_security.login.step_up`) travels with the credential, never the account: the
browser session's ``session[SESSION_KEY]`` (read by ``load_user``) and Airflow's JWT claim ``JWT_CLAIM``
(read by ``OktaFabAuthManager.deserialize_user``). Without a time ahead, a request acts with the
permissions of the account's other roles (:func:`perms_without`).
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Any

from okta_security.login.step_up import MfaEvidence, decide_step_up, effective_withheld

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from okta_security.mapping.step_up import StepUp

OKTA_AUTH_MANAGER = "okta_security.adapter.auth_manager.OktaFabAuthManager"
SESSION_KEY = "okta_step_up_until"
JWT_CLAIM = "okta_step_up_until"
OFFER_KEY = "okta_step_up_offer"  # the roles a sign-in withheld, for the step-up page (this browser only)


def browser_step_up_until() -> int | None:
    """Return the current browser session's step-up time (None outside a Flask request or without one)."""
    from flask import has_request_context, session

    if not has_request_context():
        return None
    until = session.get(SESSION_KEY)
    return until if isinstance(until, int) and not isinstance(until, bool) else None


def limit_to_token(user: Any, step_up: StepUp | None, claims: Mapping[str, Any]) -> None:
    """Give this request's ``user`` only the permissions the token's own evidence covers (Airflow 2.11's API)."""
    if step_up is None:
        return
    until = decide_step_up(step_up.roles, step_up, MfaEvidence.from_claims(claims), time.time()).until
    limited = restricted(user, step_up, until)
    if limited is not None:
        user._perms = limited[1]  # FAB's per-instance permission cache; this instance is this request's


def enforcement_problem(auth_manager: str) -> str | None:
    """Return why step-up roles cannot be enforced with ``[core] auth_manager`` on Airflow 3, or None."""
    try:
        import airflow.api_fastapi  # noqa: F401 - Airflow 3 only: its UI and API act with Airflow's JWT
    except ImportError:
        return None  # Airflow 2.11: the session and the API path above are all there is
    module, _, name = auth_manager.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    # By name: the auth manager module imports this one.
    if isinstance(cls, type) and OKTA_AUTH_MANAGER in {f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__}:
        return None
    return (
        f"the mapping has a 'step_up:' section, but [core] auth_manager is {auth_manager or '(not set)'}: only "
        "okta_security.auth_manager.OktaFabAuthManager withholds step-up roles from Airflow tokens (the UI and the "
        "API); set AIRFLOW__CORE__AUTH_MANAGER=okta_security.auth_manager.OktaFabAuthManager"
    )


def withheld_for(role_names: Collection[str], step_up: StepUp | None, until: Any) -> frozenset[str]:
    """Return the step-up roles a request with this credential's ``until`` must act without."""
    valid = until if isinstance(until, int | float) and not isinstance(until, bool) else None
    return effective_withheld(role_names, step_up, valid, time.time())


def restricted(user: Any, step_up: StepUp | None, until: Any) -> tuple[frozenset[str], set[tuple[str, str]]] | None:
    """Return the roles withheld from this request and the permissions left, or None if it acts with all roles.

    Reads the account's roles from the database (the user object may be a cached, detached copy).
    """
    if step_up is None or user is None or getattr(user, "id", None) is None:
        return None
    from airflow.utils.session import create_session

    from okta_security.adapter.db import user_role_names

    with create_session() as session:
        withheld = withheld_for(user_role_names(session.connection(), user.id), step_up, until)
        return (withheld, perms_without(session, user.id, withheld)) if withheld else None


def perms_without(session: Any, user_id: int, withheld: frozenset[str]) -> set[tuple[str, str]]:
    """Return the user's FAB permissions through every role but the ``withheld`` ones (one query)."""
    from airflow.providers.fab.auth_manager.models import Action, Permission, Resource, Role, User
    from sqlalchemy import select

    query = (
        select(Action.name, Resource.name)
        .join(Permission.action)
        .join(Permission.resource)
        .join(Permission.role)  # FAB's backref from Role.permissions
        .where(Role.user.any(User.id == user_id))  # the backref from User.roles
        .where(Role.name.not_in(sorted(withheld)))
    )
    return {(action, resource) for action, resource in session.execute(query)}


class StepUpView:
    """A user as one request sees them: the account, with the permissions of its usable roles only."""

    okta_delegation: Any = None  # an AI agent's delegation (okta_security.adapter.agents.Delegation), if any

    def __init__(self, user: Any, perms: set[tuple[str, str]], withheld: frozenset[str]) -> None:
        self._user = user
        self.perms = perms
        self.withheld_roles = withheld

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)
