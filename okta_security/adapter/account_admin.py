"""What ``okta-airflow relink`` and ``migrate-usernames`` write: one account at a time, in a transaction of its own, audited.

The plans are pure (:func:`okta_security.login.account_plan.plan_relink`,
:func:`okta_security.lifecycle.usernames.plan_renames`); an interrupted run leaves every account
either changed or untouched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from okta_security.adapter import db
from okta_security.adapter.account_changes import forget_cached_user
from okta_security.adapter.bots import is_service_user
from okta_security.audit import audit_event
from okta_security.errors import RelinkRefused
from okta_security.lifecycle.usernames import AccountRow
from okta_security.login.account_plan import ExistingAccount, LinkSnapshot, RelinkPlan, plan_relink
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.engine import Connection, Engine

    from okta_security.lifecycle.usernames import PlannedRename

log = logging.getLogger(__name__)


def relink(engine: Engine, username: str, okta_sub: str, *, dry_run: bool = False) -> RelinkPlan:
    """Link the Airflow account ``username`` to Okta user ``okta_sub`` (unless ``dry_run``): the old groups are forgotten."""
    db.ensure_tables(engine)
    with engine.begin() as conn:
        account = _account_named(conn, username)
        elsewhere = [
            link.username
            for link in db.links_for_sub(conn, okta_sub)
            if account is None or link.user_id != account.user_id
        ]
        plan = plan_relink(account, username, okta_sub, linked_elsewhere=elsewhere)
        if isinstance(plan, RelinkRefused):
            raise plan
        if dry_run or not plan.changes:
            return plan
        values = db.link_values(username=plan.username, okta_sub=plan.okta_sub, deactivated_by=plan.deactivated_by)
        if not db.update_link(conn, plan.user_id, {**values, "groups": None, "groups_at": None}):
            conn.execute(sa.insert(db.user_link).values(user_id=plan.user_id, **values))
    forget_cached_user(plan.user_id)
    log.warning(
        "Airflow account %s (id %s) relinked from Okta user %s to %s",
        loggable(plan.username),
        plan.user_id,
        plan.before or "(none)",
        plan.okta_sub,
    )
    audit_event(plan.event.event, owner=plan.username, user_id=plan.user_id, trigger="cli", **plan.event.fields)
    return plan


def _account_named(conn: Connection, username: str) -> ExistingAccount | None:
    """Return the account called ``username`` (exactly, else the only case-insensitive match)."""
    rows = _users_named(conn, username)
    if len(rows) != 1:
        return None
    row = rows[0]
    link = db.link_for_user(conn, row.id, row.username)
    return ExistingAccount(
        user_id=row.id,
        username=row.username,
        email=row.email or "",
        active=bool(row.active),
        roles=db.user_role_names(conn, row.id),
        service_user=is_service_user(row),
        link=LinkSnapshot(link.okta_sub, link.deactivated_by, link.times) if link else None,
    )


def read_accounts(engine: Engine) -> tuple[list[AccountRow], list[AccountRow]]:
    """Return (the legacy ``okta_…`` accounts with their emails, every other account's name)."""
    with engine.connect() as conn:
        legacy_rows, all_rows = _legacy_and_all_users(conn)
        legacy = [AccountRow(r.id, r.username, r.email or "") for r in legacy_rows]
        legacy_ids = {r.id for r in legacy}
        others = [AccountRow(r.id, r.username, "") for r in all_rows if r.id not in legacy_ids]
    return legacy, others


def apply_renames(engine: Engine, plan: Iterable[PlannedRename]) -> list[PlannedRename]:
    """Rename each planned account whose name is still the old one; return the renames made."""
    done = []
    for item in plan:
        if item.status != "rename" or item.new is None:
            continue
        with engine.begin() as conn:
            changed = _rename_user(conn, item.user_id, item.old, item.new)
        if changed:
            audit_event(
                "user.renamed",
                owner=item.new,
                user_id=item.user_id,
                before=item.old,
                after=item.new,
                trigger="migrate-usernames",
            )
            done.append(item)
        else:
            log.info("%s was renamed or removed meanwhile; left alone", item.old)
    return done


def _users_named(conn: Connection, username: str) -> list[Any]:
    """Return the accounts called ``username`` exactly, else those that match it case-insensitively."""
    query = "SELECT id, username, email, active FROM ab_user WHERE "
    exact = conn.execute(sa.text(query + "username = :u"), {"u": username}).all()
    return list(exact or conn.execute(sa.text(query + "lower(username) = lower(:u)"), {"u": username}).all())


def _legacy_and_all_users(conn: Connection) -> tuple[list[Any], list[Any]]:
    """Return (FAB's ``okta_…`` accounts with their emails, every account's id and name)."""
    legacy = sa.text("SELECT id, username, email FROM ab_user WHERE username LIKE 'okta\\_%' ESCAPE '\\'")
    return list(conn.execute(legacy)), list(conn.execute(sa.text("SELECT id, username FROM ab_user")))


def _rename_user(conn: Connection, user_id: int, old: str, new: str) -> bool:
    """Rename ``old`` to ``new`` if the account still has the old name; return whether it did."""
    query = sa.text("UPDATE ab_user SET username = :new WHERE id = :id AND username = :old")
    return bool(conn.execute(query, {"new": new, "id": user_id, "old": old}).rowcount)
