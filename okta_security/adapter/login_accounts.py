"""The sign-in service's accounts in FAB's session (:class:`FabAccounts`), and ``okta-airflow relink``'s write.

What to do is decided by :mod:`okta_security.login.account_plan`; this module reads the accounts a
sign-in needs as snapshots and applies the plan in one commit, then drops the user from the auth
manager's per-process cache so the very next API request sees the new roles.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from okta_security.adapter import db
from okta_security.adapter.account_changes import forget_cached_user
from okta_security.adapter.admin_edits import okta_write
from okta_security.adapter.bots import is_service_user
from okta_security.adapter.outage import DATABASE_DOWN, MESSAGE
from okta_security.errors import DatabaseUnavailable, LoginRefused, MappedRoleMissing
from okta_security.lifecycle.usernames import legacy_username
from okta_security.login.account_plan import (
    AccountLookup,
    AccountPlan,
    ExistingAccount,
    LinkSnapshot,
    link_changes,
    needs_email_lookup,
)
from okta_security.login.ports import AppliedAccount
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.providers.fab.auth_manager.models import User
    from sqlalchemy.engine import Engine

    from okta_security.lifecycle.changes import OktaChanges
    from okta_security.lifecycle.evidence import SignInEvidence
    from okta_security.mapping.rules import RoleMapping
    from okta_security.oidc.identity import OktaIdentity

log = logging.getLogger(__name__)

# The password "hash" of an account created by a sign-in: not a hash werkzeug can match (no ``$``), so
# the account has no password at all. FAB would otherwise store a hash of the empty password, and
# hashing it (scrypt) cost a first sign-in about half a second of CPU for nothing.
NO_PASSWORD = "okta-only: signs in through Okta, has no password"

# The link rows one sign-in has read (see FabAccounts.one_sign_in); None outside a sign-in.
_links_read: ContextVar[dict[str, list[db.UserLink]] | None] = ContextVar("okta_links_read", default=None)


class FabUsers(db.FabModels, Protocol):
    """What :class:`FabAccounts` uses of okta_security's security manager: FAB's models and calls, its engine."""

    okta_changes: OktaChanges

    @property
    def okta_engine(self) -> Engine: ...
    def find_user(self, username: str | None = None, email: str | None = None) -> Any: ...
    def find_role(self, name: str) -> Any: ...
    def add_user(  # FAB 4 returns False on a conflict, FAB 5 raises
        self, username: str, first_name: str, last_name: str, email: str, role: Any, *, hashed_password: str = ""
    ) -> Any: ...


class FabAccounts:
    """:class:`okta_security.login.ports.Accounts` over FAB's session (no per-sign-in state: requests run on threads)."""

    def __init__(self, sm: FabUsers) -> None:
        self.sm = sm

    def role_names(self) -> frozenset[str]:
        """Return the names of the roles in Airflow's database (names only: a Role row loads its permissions)."""
        return frozenset(self.sm.session.scalars(sa.select(self.sm.role_model.name)).all())

    def look_up(self, identity: OktaIdentity) -> AccountLookup:
        """Return the person's account by username, else the legacy ``okta_<sub>`` one, and the owner of their email."""
        by_username = self._snapshot(self.sm.find_user(username=identity.username))
        legacy = None if by_username else self._snapshot(self.sm.find_user(username=legacy_username(identity.sub)))
        by_email = None
        if needs_email_lookup(identity, by_username or legacy):
            by_email = self._snapshot(self.sm.find_user(email=identity.email))
        return AccountLookup(by_username=by_username, legacy=legacy, by_email=by_email)

    @staticmethod
    def _count_login(user: User, *, roles_changed: bool) -> None:
        """Count the login as FAB's ``update_user_auth_stat`` does, without its ``update_user`` (a merge and re-reads)."""
        user.login_count = (user.login_count or 0) + 1
        user.last_login = datetime.now()
        user.fail_login_count = 0
        if roles_changed:
            user.changed_on = datetime.now()

    def apply(self, plan: AccountPlan, identity: OktaIdentity, evidence: SignInEvidence) -> AppliedAccount[User] | None:
        """Write the plan in one commit; return None if creating lost a race (the caller plans again)."""
        sm = self.sm
        if plan.user_id is None:
            user = self._add_user(plan, self._roles(plan, identity))
            if user is None:
                return None
        else:
            user = plan.handle if plan.handle is not None else sm.session.get(sm.user_model, plan.user_id)
            assert user is not None  # look_up read it in this session
            user.username = plan.username
            user.first_name, user.last_name, user.email = plan.first_name, plan.last_name, plan.email
            if plan.roles_changed:  # unchanged roles need no look-up (each loads its permissions)
                user.roles = self._roles(plan, identity)
            if plan.reactivate:
                user.active = True
        link = None
        if link_changes(plan, identity, evidence):
            link = db.link_values(
                username=user.username,
                okta_sub=identity.sub,
                # Older groups than the account reflects were only used to cap roles: the newer ones stay.
                groups=identity.groups if plan.groups_current else None,
                groups_at=evidence.groups_at,
                status_at=evidence.issued_at if plan.reactivate else None,
            )
        with okta_write():
            self._count_login(user, roles_changed=plan.roles_changed)
            # The account's row first (the lock order of every account change), then its link, one commit.
            sm.session.flush()
            try:
                linked = (
                    link is not None
                    and plan.user_id is not None
                    and db.update_link(sm.session.connection(), user.id, link)
                )
                sm.session.commit()
            except sa.exc.IntegrityError as e:  # another account took the name or email since the look-up
                sm.session.rollback()
                raise LoginRefused(
                    "Airflow could not update your account: another account took its name or email a moment "
                    "ago. Sign in again; if it happens again, ask your Airflow administrator."
                ) from e
        user._perms = None  # FAB's per-user permission cache: the roles may be new
        on_login = getattr(sm, "on_user_login", None)  # FAB 5.2.1's hook for subclasses
        if on_login is not None:
            on_login(user)
        if link is not None and not linked:  # a new account, or one without a link row yet
            db.upsert_link(sm.okta_engine, user.id, link)
        forget_cached_user(user.id)  # this process's API sees the new roles at its next request
        return AppliedAccount(user, user.id, user.username)

    def _roles(self, plan: AccountPlan, identity: OktaIdentity) -> list[Any]:
        found = [self.sm.find_role(name) for name in plan.roles]
        roles = [r for r in found if r is not None]
        if len(roles) != len(found):  # deleted since the decision read the role names (milliseconds ago)
            gone = sorted(set(plan.roles) - {r.name for r in roles})
            raise MappedRoleMissing(identity.username, identity.groups, gone)
        return roles

    def deactivate_unmapped(self, identity: OktaIdentity, mapping: RoleMapping, evidence: SignInEvidence) -> list[str]:
        """Deactivate the accounts of a person whose sign-in maps to no role; a database error never turns it into a 500."""
        try:
            return self.sm.okta_changes.no_mapped_role(identity, mapping, evidence)
        except sa.exc.SQLAlchemyError as e:
            log.error(
                "Could not deactivate the accounts of %s after a no_mapped_role refusal: %s",
                loggable(identity.username),
                type(e).__name__,
            )
            return ["failed"]

    @contextmanager
    def one_sign_in(self) -> Iterator[None]:
        """Scope one sign-in: each link row read once; the database not answering becomes DatabaseUnavailable (503)."""
        token = _links_read.set({})
        try:
            yield
        except DATABASE_DOWN as e:
            try:
                self.sm.session.rollback()
            except Exception:  # noqa: BLE001 - the database is down; the next request starts a new transaction
                log.debug("rollback after a database error failed too", exc_info=True)
            log.error("Okta sign-in refused [database_unavailable]: the database did not answer (%s)", type(e).__name__)
            raise DatabaseUnavailable(MESSAGE) from e
        finally:
            _links_read.reset(token)

    def linked(self, sub: str) -> list[tuple[int, str]]:
        return [(link.user_id, link.username) for link in self.links_for(sub)]

    def links_for(self, sub: str) -> list[db.UserLink]:
        """Return the link rows of Okta user ``sub`` (once per sign-in inside :meth:`one_sign_in`)."""
        memo = _links_read.get()
        if memo is not None and sub in memo:
            return memo[sub]
        # FAB's session's own connection: a second one per login starves the pool under a burst of logins.
        links = db.links_for_sub(self.sm.session.connection(), sub)
        if memo is not None:
            memo[sub] = links
        return links

    def _snapshot(self, user: User | None) -> ExistingAccount | None:
        if user is None:
            return None
        read = [link for links in (_links_read.get() or {}).values() for link in links if link.user_id == user.id]
        link = (
            next((x for x in read if x.username == user.username), None)
            if read
            else db.link_for_user(self.sm.session.connection(), user.id, user.username)
        )
        return ExistingAccount(
            user_id=user.id,
            username=user.username,
            email=user.email or "",
            first_name=user.first_name or "",
            last_name=user.last_name or "",
            active=bool(user.active),
            roles=tuple(sorted(r.name for r in user.roles)),
            service_user=is_service_user(user),
            link=LinkSnapshot(link.okta_sub, link.deactivated_by, link.times, link.groups) if link else None,
            handle=user,
        )

    def _add_user(self, plan: AccountPlan, roles: list[Any]) -> User | None:
        """Insert the user; return None if the INSERT lost a race (FAB 5 raises from the IntegrityError, FAB 4 returns False)."""
        try:
            user = self.sm.add_user(
                username=plan.username,
                first_name=plan.first_name,
                last_name=plan.last_name,
                email=plan.email,
                role=roles,
                hashed_password=NO_PASSWORD,
            )
        except Exception as e:
            if not isinstance(e.__cause__, sa.exc.IntegrityError):
                raise
            return None
        return user or None
