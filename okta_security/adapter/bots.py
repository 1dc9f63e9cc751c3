"""Bots' service users in FAB's user table: the bot door's :class:`FabServiceUsers`, and their retirement.

A service user is an ordinary FAB user with no password and the email
``<client id>[+<label>]@okta-clients.invalid``, the mark that says okta_security owns it: a
same-named user without it is never taken over (docs/bots.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from okta_security.adapter.account_changes import forget_cached_user
from okta_security.audit import audit_event
from okta_security.bots.service_users import (
    RETIRED_LAST_NAME,
    SERVICE_LAST_NAME,
    ServiceIdentity,
    check_existing,
    deactivation_reason,
    is_service_email,
)
from okta_security.errors import ServiceUserConflict, UnmappedClient
from okta_security.login.ports import ServiceUserWrite
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from airflow.providers.fab.auth_manager.security_manager.override import (
        FabAirflowSecurityManagerOverride as FabSecurity,
    )

    from okta_security.mapping.rules import RoleMapping

log = logging.getLogger(__name__)


@dataclass
class FabServiceUsers:
    """The bot door's :class:`okta_security.login.ports.ServiceUsers`, in FAB's user table."""

    sm: FabSecurity

    def upsert(self, identity: ServiceIdentity) -> ServiceUserWrite[Any]:
        user, created, before, reactivated = upsert_service_user(self.sm, identity)
        return ServiceUserWrite(
            user=user, username=user.username, created=created, roles_before=before, reactivated=reactivated
        )


def is_service_user(user: Any) -> bool:
    """Return whether an Airflow user is an Okta client's service user (a bot's, never a person's)."""
    return is_service_email(user.email)


def upsert_service_user(sm: FabSecurity, identity: ServiceIdentity) -> tuple[Any, bool, tuple[str, ...] | None, bool]:
    """Create, bring back or update the service user of ``identity``; return (user, created, roles before, reactivated)."""
    # The roles are looked up only to write them (each look-up loads the role's permissions).
    wanted = sorted(identity.roles)
    for _attempt in range(2):
        user = sm.find_user(username=identity.username)
        if user is None:
            user = sm.find_user(email=identity.email)  # the mapping renamed this client's service user
        if user is None:
            roles = _fab_roles(sm, identity)
            wanted = sorted(r.name for r in roles)
            created = _create(sm, identity, roles)
            if created is None:
                continue  # a concurrent exchange created it first: read theirs
            log.info(
                "Created service user %s for Okta client %s with roles %s",
                loggable(identity.username),
                loggable(identity.client_id),
                wanted,
            )
            return created, True, None, False
        retired = check_existing(identity, user.username, user.email, user.is_active, user.last_name)
        before = tuple(sorted(r.name for r in user.roles))
        if retired or list(before) != wanted or user.username != identity.username:
            _update(sm, user, identity, _fab_roles(sm, identity), before)
        return user, False, before, retired
    raise ServiceUserConflict(  # pragma: no cover - only when the row vanishes between two reads
        f"The service user of Okta client {identity.client_id!r} could not be created; try again.",
        client_id=identity.client_id,
    )


def _fab_roles(sm: FabSecurity, identity: ServiceIdentity) -> list[Any]:
    roles = [sm.find_role(name) for name in sorted(identity.roles)]
    missing = sorted(name for name, role in zip(sorted(identity.roles), roles, strict=True) if role is None)
    if missing:
        log.error("Roles %s of Okta client %s do not exist in Airflow any more", missing, loggable(identity.client_id))
    found = [role for role in roles if role is not None]
    if not found:
        raise UnmappedClient(
            f"Okta client {identity.client_id!r} is mapped to roles that no longer exist in Airflow "
            f"({', '.join(missing)}). Ask your Airflow administrator to fix the role-mapping file.",
            client_id=identity.client_id,
        )
    return found


def _create(sm: FabSecurity, identity: ServiceIdentity, roles: list[Any]) -> Any | None:
    """Insert the service user; return None if a concurrent request inserted it first."""
    user = sm.user_model()
    user.username = identity.username
    user.first_name = identity.username
    user.last_name = SERVICE_LAST_NAME
    user.email = identity.email
    user.active = True
    user.password = None  # no password: a service user only ever acts through Okta tokens
    user.roles = roles
    sm.session.add(user)
    try:
        sm.session.commit()
    except IntegrityError:
        sm.session.rollback()
        log.info("Service user %s was created concurrently; using that one", loggable(identity.username))
        return None
    return user


def _update(sm: FabSecurity, user: Any, identity: ServiceIdentity, roles: list[Any], before: tuple[str, ...]) -> None:
    if user.username != identity.username:
        log.info(
            "Renaming service user %s to %s (client %s)",
            loggable(user.username),
            loggable(identity.username),
            loggable(identity.client_id),
        )
        user.username = identity.username
        user.first_name = identity.username
    if not user.is_active:
        log.info("Bringing back service user %s: the mapping gives its role set again", loggable(identity.username))
        user.active = True
        user.last_name = SERVICE_LAST_NAME
    user.roles = roles
    if sm.update_user(user) is False:
        raise ServiceUserConflict(
            f"The service user {identity.username!r} of Okta client {identity.client_id!r} could not be updated "
            "(see the webserver log).",
            client_id=identity.client_id,
        )
    if list(before) != sorted(r.name for r in roles):
        log.info(
            "Roles of service user %s changed: %s -> %s",
            loggable(identity.username),
            list(before),
            sorted(identity.roles),
        )


def retire_service_users(sm: FabSecurity, mapping: RoleMapping, *, trigger: str) -> list[str]:
    """Deactivate the active service users ``mapping`` no longer gives (their tokens stop now); never raise."""
    try:
        candidates = [user for user in sm.get_all_users() if user.is_active and is_service_email(user.email)]
    except Exception:  # noqa: BLE001 - a reload or a start must go on; the next one retries
        log.exception("Could not list the service users to retire")
        return []
    retired = []
    for user in candidates:
        roles = frozenset(r.name for r in user.roles)
        reason = deactivation_reason(mapping.clients, user.email, roles)
        if reason is None:
            continue
        user.active = False
        user.last_name = RETIRED_LAST_NAME
        try:
            if sm.update_user(user) is False:
                raise RuntimeError("update_user refused")
        except Exception:  # noqa: BLE001 - keep going with the others; the next reload retries this one
            log.exception("Could not retire service user %s", loggable(user.username))
            continue
        forget_cached_user(user.id)  # this process refuses its tokens at once, others within [fab] cache_ttl
        retired.append(user.username)
        log.warning("Retired service user %s (%s): its Airflow tokens stop working", loggable(user.username), reason)
        audit_event(
            "bot.service_user_retired",
            owner=user.username,
            reason=reason,
            roles=sorted(roles),
            trigger=trigger,
            mapping_version=mapping.digest[:12],
        )
    return retired
