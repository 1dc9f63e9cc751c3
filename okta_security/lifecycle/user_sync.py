"""Plan ``okta-airflow sync-users``: from Airflow accounts and a snapshot of Okta, the changes to make.

Pure: no I/O. The inputs are snapshots (what Airflow holds, what Okta says); the output is a
:class:`SyncPlan` the Airflow adapter applies one change at a time. Rules:

- deactivated, suspended or deleted in Okta → deactivate in Airflow (rows are never deleted);
- groups changed → recompute roles with the current mapping; no match and no default role →
  deactivate;
- active in Okta, mapped, and deactivated *by okta_security* → reactivate with the mapped roles,
  unless the deactivation's evidence is newer than Okta's reading (``skip``: the next run decides).
  An account an Airflow administrator deactivated, or changed since, is left alone (``skip``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from okta_security.lifecycle.evidence import AccountTimes, is_older

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from okta_security.mapping.rules import RoleMapping

# Okta statuses after which the person must not keep Airflow access (Okta user lifecycle).
LEAVER_STATUSES = frozenset({"DEPROVISIONED", "SUSPENDED"})
DELETED = "DELETED"  # pseudo-status: the user is in no listing (deleted from Okta)

Action = Literal["deactivate", "reactivate", "set_roles", "skip", "unchanged"]
CHANGES: tuple[Action, ...] = ("deactivate", "reactivate", "set_roles")


@dataclass(frozen=True)
class AirflowAccount:
    """An Airflow user that came from Okta, as Airflow holds it now."""

    user_id: int
    username: str
    okta_sub: str
    active: bool
    roles: frozenset[str]
    deactivated_by: str | None = None  # set when okta_security (not an admin) deactivated it
    times: AccountTimes = AccountTimes()  # the evidence the account reflects
    groups: tuple[str, ...] | None = None  # the Okta groups last seen (None: never seen)


@dataclass(frozen=True)
class OktaSnapshot:
    """What Okta says about every user of interest: status by user id, and mapped-group memberships.

    ``groups`` only needs the groups some mapping rule matches: other groups cannot change roles.
    A user id missing from ``statuses`` is a user Okta no longer has.
    """

    statuses: Mapping[str, str]
    groups: Mapping[str, frozenset[str]]
    read_at: datetime | None = None  # when Okta was read (None: now)

    def status(self, sub: str) -> str:
        """Return the Okta status of ``sub`` (``DELETED`` if Okta does not list it)."""
        return self.statuses.get(sub, DELETED)


@dataclass(frozen=True)
class PlannedChange:
    """One decision about one account."""

    user_id: int
    username: str
    okta_sub: str
    action: Action
    reason: str
    okta_status: str
    roles_before: tuple[str, ...]
    roles_after: tuple[str, ...]
    active_before: bool

    @property
    def is_change(self) -> bool:
        """Return whether applying this entry writes anything."""
        return self.action in CHANGES

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used by ``--json``."""
        return {
            "user_id": self.user_id,
            "username": self.username,
            "okta_sub": self.okta_sub,
            "action": self.action,
            "reason": self.reason,
            "okta_status": self.okta_status,
            "roles_before": list(self.roles_before),
            "roles_after": list(self.roles_after),
        }


@dataclass(frozen=True)
class SyncPlan:
    """Every decision, in a stable order (username)."""

    entries: tuple[PlannedChange, ...]
    mapping_version: str = ""
    unmanaged: int = 0  # Airflow users with no link to an Okta user: never touched
    counts: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        """Count entries by action."""
        object.__setattr__(self, "counts", dict(Counter(e.action for e in self.entries)))

    @property
    def changes(self) -> tuple[PlannedChange, ...]:
        """Return the entries that write something."""
        return tuple(e for e in self.entries if e.is_change)

    @property
    def deactivations(self) -> int:
        """Return how many accounts the plan deactivates."""
        return self.counts.get("deactivate", 0)


def plan_account(account: AirflowAccount, okta: OktaSnapshot, mapping: RoleMapping) -> PlannedChange:
    """Decide what to do with one account."""
    status = okta.status(account.okta_sub)
    before = tuple(sorted(account.roles))

    def entry(action: Action, reason: str, after: Iterable[str] = before) -> PlannedChange:
        return PlannedChange(
            user_id=account.user_id,
            username=account.username,
            okta_sub=account.okta_sub,
            action=action,
            reason=reason,
            okta_status=status,
            roles_before=before,
            roles_after=tuple(sorted(after)),
            active_before=account.active,
        )

    if status == DELETED or status in LEAVER_STATUSES:
        reason = f"okta_{status.lower()}"
        return entry("deactivate", reason) if account.active else entry("unchanged", reason)
    roles = mapping.resolve(sorted(okta.groups.get(account.okta_sub, frozenset())))
    if not roles:
        return entry("deactivate", "no_mapped_role") if account.active else entry("unchanged", "no_mapped_role")
    if not account.active:
        if account.deactivated_by is None:
            return entry("skip", "deactivated_by_admin")
        if okta.read_at is not None and is_older(okta.read_at, account.times.status_at):
            return entry("skip", "deactivation_newer_than_reading")
        return entry("reactivate", "okta_active_and_mapped", roles)
    if frozenset(roles) != account.roles:
        return entry("set_roles", "groups_changed", roles)
    return entry("unchanged", "in_sync")


def plan_sync(
    accounts: Iterable[AirflowAccount], okta: OktaSnapshot, mapping: RoleMapping, *, unmanaged: int = 0
) -> SyncPlan:
    """Decide what to do with every account."""
    entries = sorted((plan_account(a, okta, mapping) for a in accounts), key=lambda e: (e.username, e.user_id))
    return SyncPlan(entries=tuple(entries), mapping_version=mapping.digest[:12], unmanaged=unmanaged)


def deactivation_limit(managed: int, *, fraction: float = 0.1, floor: int = 10) -> int:
    """Return how many deactivations one run may make before it asks for ``--force``."""
    return max(floor, int(managed * fraction))


def relevant_groups(names: Iterable[str], mapping: RoleMapping) -> list[str]:
    """Return the group names some rule of ``mapping`` matches (only they can grant roles)."""
    return [name for name in names if mapping.explain([name])]
