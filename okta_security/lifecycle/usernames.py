"""Legacy usernames: FAB's built-in ``okta`` provider named users ``okta_<sub>``; okta_security uses the login.

Pure planning for ``okta-airflow migrate-usernames`` and the adoption at login (no Airflow imports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

LEGACY_PREFIX = "okta_"
_LEGACY = re.compile(r"^okta_(?P<sub>[0-9A-Za-z]{6,64})$")


def legacy_username(sub: str) -> str:
    """Return the username FAB's built-in Okta provider gave the Okta user ``sub``."""
    return f"{LEGACY_PREFIX}{sub}"


def legacy_sub(username: str) -> str | None:
    """Return the Okta ``sub`` in a legacy ``okta_<sub>`` username, or None."""
    m = _LEGACY.match(username or "")
    return m.group("sub") if m else None


@dataclass(frozen=True)
class AccountRow:
    """The few ``ab_user`` columns the migration reads."""

    id: int
    username: str
    email: str


Status = Literal["rename", "conflict", "unresolved"]


@dataclass(frozen=True)
class PlannedRename:
    """One legacy account and what migrate-usernames will do with it."""

    user_id: int
    old: str
    new: str | None
    status: Status
    source: str  # "okta" (the Okta login via the Management API) | "email" | ""
    reason: str = ""


def plan_renames(
    accounts: Iterable[AccountRow],
    okta_logins: Mapping[str, str],
    *,
    use_email: bool = True,
) -> list[PlannedRename]:
    """Plan renaming every ``okta_<sub>`` account to its Okta login (else its email), lower-cased.

    A target name already taken by another account (or by an earlier rename in this plan) is a
    conflict and is left alone: two rows must never end with one name.
    """
    rows = list(accounts)
    taken = {r.username.lower(): r.id for r in rows}
    plan: list[PlannedRename] = []
    for row in sorted(rows, key=lambda r: r.id):
        sub = legacy_sub(row.username)
        if sub is None:
            continue
        new, source = _target(sub, row, okta_logins, use_email)
        if new is None:
            plan.append(
                PlannedRename(row.id, row.username, None, "unresolved", "", "Okta does not know this sub and no email")
            )
            continue
        owner = taken.get(new)
        if owner is not None and owner != row.id:
            plan.append(
                PlannedRename(
                    row.id, row.username, new, "conflict", source, f"{new!r} already belongs to user id {owner}"
                )
            )
            continue
        taken.pop(row.username.lower(), None)
        taken[new] = row.id
        plan.append(PlannedRename(row.id, row.username, new, "rename", source))
    return plan


def _target(sub: str, row: AccountRow, okta_logins: Mapping[str, str], use_email: bool) -> tuple[str | None, str]:
    login = okta_logins.get(sub)
    if login:
        return login.strip().lower(), "okta"
    if use_email and row.email and "@" in row.email and not row.email.endswith("@email.notfound"):
        return row.email.strip().lower(), "email"
    return None, ""
