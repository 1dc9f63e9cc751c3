"""Okta-linked accounts on Airflow's database, changed on Okta's word (sync-users, event hooks, unmapped sign-ins).

Each change runs in its own short transaction: the user row is locked (``FOR UPDATE`` where the
database has it) and re-checked against the plan (else ``conflict``, for the next run), then
written, audited, and dropped from the auth manager's user cache in this process.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from okta_security.adapter import db
from okta_security.adapter.admin_edits import okta_write
from okta_security.lifecycle.changes import AppliedChange, audit_change
from okta_security.lifecycle.user_sync import AirflowAccount, PlannedChange
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def _models() -> tuple[Any, Any]:
    from airflow.providers.fab.auth_manager.models import Role, User

    return User, Role


def metadata_engine() -> Engine:
    """Return the engine of Airflow's metadata database (Airflow configured from its env)."""
    from airflow import settings

    if settings.engine is None:  # pragma: no cover - Airflow < 3 initialises at import
        settings.configure_orm()
    assert settings.engine is not None  # configure_orm always sets it
    return settings.engine


def _account(user: Any, link: db.UserLink) -> AirflowAccount:
    return AirflowAccount(
        user_id=user.id,
        username=user.username,
        okta_sub=link.okta_sub,
        active=bool(user.active),
        roles=frozenset(r.name for r in user.roles),
        deactivated_by=link.deactivated_by,
        times=link.times,
        groups=link.groups,
    )


@dataclass(frozen=True)
class EngineAccounts:
    """:class:`okta_security.lifecycle.changes.AccountChanges` on Airflow's metadata database."""

    engine: Engine

    def _session(self) -> Session:
        return Session(bind=self.engine, expire_on_commit=False)

    def all_linked(self) -> tuple[list[AirflowAccount], int]:
        User, _ = _models()
        db.ensure_tables(self.engine)
        with self.engine.connect() as conn:
            links = {link.user_id: link for link in db.all_links(conn)}
        with self._session() as session:
            users = list(session.scalars(sa.select(User)).unique())
            linked = [_account(u, links[u.id]) for u in users if u.id in links and links[u.id].username == u.username]
        return linked, len(users) - len(linked)

    def linked_to(self, sub: str) -> list[AirflowAccount]:
        User, _ = _models()
        db.ensure_tables(self.engine)
        with self.engine.connect() as conn:
            links = db.links_for_sub(conn, sub)
        with self._session() as session:
            pairs = [(session.get(User, link.user_id), link) for link in links]
            return [_account(user, link) for user, link in pairs if user is not None and user.username == link.username]

    def apply(
        self,
        change: PlannedChange,
        *,
        trigger: str,
        evidence_at: datetime | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AppliedChange:
        """Apply one planned change atomically (dated by ``evidence_at``, default now), audit it, drop the cached user."""
        User, Role = _models()
        at = evidence_at or db.utcnow()
        taken_away = change.action == "deactivate" or bool(set(change.roles_before) - set(change.roles_after))
        try:
            with okta_write(), self._session() as session, session.begin():
                query = sa.select(User).where(User.id == change.user_id)
                if self.engine.dialect.name != "sqlite":
                    query = query.with_for_update()
                user = session.scalars(query).unique().first()
                if user is None or user.username != change.username:
                    return AppliedChange(change, "gone", "the Airflow user no longer exists")
                current = (bool(user.active), tuple(sorted(r.name for r in user.roles)))
                if current != (change.active_before, change.roles_before):
                    return AppliedChange(change, "conflict", "the account changed since the plan was made; re-run")
                if change.action in ("set_roles", "reactivate"):
                    roles = list(session.scalars(sa.select(Role).where(Role.name.in_(change.roles_after))).unique())
                    missing = sorted(set(change.roles_after) - {r.name for r in roles})
                    if missing:
                        return AppliedChange(change, "missing_role", f"roles not in Airflow: {', '.join(missing)}")
                    user.roles = roles
                if change.action in ("deactivate", "reactivate"):
                    user.active = change.action == "reactivate"
                user.changed_on = datetime.now()
                # The link row records who deactivated the account, so that only okta_security's own
                # deactivations are ever undone automatically.
                db.set_deactivated_by(
                    session,
                    change.user_id,
                    trigger if change.action == "deactivate" else None,
                    status_at=at if change.action in ("deactivate", "reactivate") else None,
                    roles_cut_at=at if taken_away else None,
                )
        except sa.exc.SQLAlchemyError as e:
            log.error("could not %s %s: %s", change.action, loggable(change.username), e)
            return AppliedChange(change, "failed", type(e).__name__)
        forget_cached_user(change.user_id)
        audit_change(change, trigger, extra or {})
        return AppliedChange(change, "applied")

    def remember_groups(self, user_ids: Iterable[int], groups: Iterable[str], at: datetime) -> None:
        names = sorted(set(groups))
        with self.engine.begin() as conn:
            for user_id in user_ids:
                db.set_groups(conn, user_id, names, at)


def forget_cached_user(user_id: int) -> None:
    """Drop ``user_id`` from the FAB auth manager's user cache in this process (if loaded)."""
    module = sys.modules.get("airflow.providers.fab.auth_manager.fab_auth_manager")
    if module is None:  # not inside the api-server (e.g. the CLI): no cache here to drop
        return
    cache = getattr(module.FabAuthManager, "cache", None)  # FAB provider 1.5 (Airflow 2.11) caches nothing
    if cache is not None:
        cache.pop(user_id, None)
