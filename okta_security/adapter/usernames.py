"""Airflow adapter of ``okta-airflow migrate-usernames``: read ``ab_user`` and rename legacy accounts.

The plan is :func:`okta_security.lifecycle.usernames.plan_renames`; this module only reads the rows it
needs and writes each rename in a transaction of its own, audited, so an interrupted run leaves every
account either renamed or untouched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from okta_security.adapter import db
from okta_security.audit import audit_event
from okta_security.lifecycle.usernames import AccountRow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.engine import Engine

    from okta_security.lifecycle.usernames import PlannedRename

log = logging.getLogger(__name__)


def read_accounts(engine: Engine) -> tuple[list[AccountRow], list[AccountRow]]:
    """Return (the legacy ``okta_…`` accounts with their emails, every other account's name)."""
    with engine.connect() as conn:
        legacy_rows, all_rows = db.legacy_and_all_users(conn)
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
            changed = db.rename_user(conn, item.user_id, item.old, item.new)
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
