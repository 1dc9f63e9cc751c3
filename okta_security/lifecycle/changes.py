"""Okta's word on an account, from any door (pure): one place plans and writes what Okta said.

Three doors change accounts on Okta's say-so, with no person signing in: an Okta event hook (an
event about one user), ``okta-airflow sync-users`` (a reading of the whole org), and a sign-in whose
current groups map to nothing (the sign-in service calls :meth:`OktaChanges.no_mapped_role`). Each
plans with :func:`okta_security.lifecycle.user_sync.plan_account` under the evidence rule of
:mod:`okta_security.lifecycle.evidence` (older evidence may take access away, never give it back;
an administrator's hand wins) and writes through the :class:`AccountChanges` port with the time of
the evidence it acted on: the event's ``published`` (clamped), the time Okta was read, the token's ``iat``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol

from okta_security.audit import audit_event
from okta_security.errors import TooManyDeactivations
from okta_security.lifecycle.event_hooks import effective_time, known_groups_after, only_taking_away
from okta_security.lifecycle.evidence import groups_current
from okta_security.lifecycle.user_sync import OktaSnapshot, deactivation_limit, plan_account, plan_sync
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from okta_security.lifecycle.event_hooks import HookEvent
    from okta_security.lifecycle.evidence import SignInEvidence
    from okta_security.lifecycle.okta_directory import OktaDirectory, Strategy
    from okta_security.lifecycle.user_sync import AirflowAccount, PlannedChange, SyncPlan
    from okta_security.mapping.patterns import GroupFilter
    from okta_security.mapping.rules import RoleMapping
    from okta_security.oidc.identity import OktaIdentity

log = logging.getLogger(__name__)

Outcome = Literal["applied", "conflict", "missing_role", "gone", "failed"]

# What a deactivating event says about the Okta user (recorded as okta_status in the audit event).
EVENT_STATUS = {
    "user.lifecycle.deactivate": "DEPROVISIONED",
    "user.lifecycle.suspend": "SUSPENDED",
    "user.lifecycle.delete.initiated": "DELETED",
    "application.user_membership.remove": "UNASSIGNED",
}


@dataclass(frozen=True)
class AppliedChange:
    """What happened when one planned change was applied."""

    change: PlannedChange
    outcome: Outcome
    detail: str = ""


class AccountChanges(Protocol):
    """Airflow's Okta-linked accounts, as Okta's word changes them (the adapter writes each in its own transaction)."""

    def all_linked(self) -> tuple[list[AirflowAccount], int]:
        """Return every account linked to an Okta user, and how many accounts are not linked."""
        ...

    def linked_to(self, sub: str) -> list[AirflowAccount]:
        """Return the accounts linked to Okta user ``sub``."""
        ...

    def apply(
        self, change: PlannedChange, *, trigger: str, evidence_at: datetime | None, extra: Mapping[str, Any]
    ) -> AppliedChange:
        """Write one change if the account is still as planned (else ``conflict``), audit it; never raise."""
        ...

    def remember_groups(self, user_ids: Iterable[int], groups: Iterable[str], at: datetime) -> None:
        """Store ``groups`` as the accounts' last-known Okta groups, seen at ``at``."""
        ...


@dataclass
class UserSyncReport:
    """Everything a ``sync-users`` run decided and did; ``as_dict()`` is the ``--json`` output."""

    plan: SyncPlan
    dry_run: bool
    okta_calls: int
    seconds: float
    results: list[AppliedChange] = field(default_factory=list)

    @property
    def applied(self) -> int:
        """Return how many changes were written."""
        return sum(1 for r in self.results if r.outcome == "applied")

    @property
    def failed(self) -> int:
        """Return how many changes could not be written (conflicts excluded: a re-run resolves them)."""
        return sum(1 for r in self.results if r.outcome in ("failed", "missing_role"))

    def summary(self) -> dict[str, int]:
        """Return the counts printed at the end of a run."""
        counts = dict(self.plan.counts)
        return {
            "accounts": len(self.plan.entries),
            "unmanaged": self.plan.unmanaged,
            **{action: counts.get(action, 0) for action in ("deactivate", "reactivate", "set_roles", "unchanged")},
            "skipped": counts.get("skip", 0),
            "applied": self.applied,
            "conflicts": sum(1 for r in self.results if r.outcome == "conflict"),
            "failed": self.failed,
            "okta_calls": self.okta_calls,
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the machine-readable report."""
        outcomes = {r.change.user_id: r for r in self.results}
        entries = []
        for entry in self.plan.entries:
            item, result = entry.as_dict(), outcomes.get(entry.user_id)
            if result is not None:
                item["outcome"] = result.outcome
                if result.detail:
                    item["detail"] = result.detail
            entries.append(item)
        summary = self.summary()
        return {
            "dry_run": self.dry_run,
            "mapping_version": self.plan.mapping_version,
            "seconds": round(self.seconds, 3),
            "summary": summary,
            "entries": entries,
        }


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class OktaChanges:
    """Every change okta_security makes to accounts on Okta's word alone."""

    accounts: AccountChanges
    directory: OktaDirectory | None = None  # None: no Management API credentials
    groups_filter: GroupFilter | None = None
    clock: Callable[[], datetime] = _utcnow

    def sync_users(
        self,
        directory: OktaDirectory,
        mapping: RoleMapping,
        *,
        dry_run: bool = False,
        force: bool = False,
        max_deactivations: int | None = None,
        strategy: Strategy = "auto",
        on_apply: Callable[[int, int], None] | None = None,
    ) -> UserSyncReport:
        """Plan every linked account against Okta and apply (unless ``dry_run``).

        Raise TooManyDeactivations before writing anything when the plan deactivates more accounts than
        the guard allows (a broken mapping, a wrong org); an incomplete read of Okta raises from the directory.
        """
        started = time.monotonic()
        accounts, unmanaged = self.accounts.all_linked()
        snapshot = directory.snapshot([a.okta_sub for a in accounts], mapping, strategy=strategy)
        plan = plan_sync(accounts, snapshot, mapping, unmanaged=unmanaged)
        report = UserSyncReport(plan=plan, dry_run=dry_run, okta_calls=directory.calls, seconds=0.0)
        limit = max_deactivations if max_deactivations is not None else deactivation_limit(len(accounts))
        if not dry_run and not force and plan.deactivations > limit:
            raise TooManyDeactivations(
                f"the plan deactivates {plan.deactivations} of {len(accounts)} accounts, more than the limit of "
                f"{limit}; nothing was changed. Check the mapping and the Okta org, review with --dry-run, then "
                "re-run with --force (or raise --max-deactivations)"
            )
        if not dry_run:
            report.results = self.apply_plan(plan, trigger="sync", evidence_at=snapshot.read_at, on_apply=on_apply)
        report.seconds = time.monotonic() - started
        log.info("sync-users: %s", report.summary())
        return report

    def apply_plan(
        self,
        plan: SyncPlan,
        *,
        trigger: str,
        evidence_at: datetime | None,
        on_apply: Callable[[int, int], None] | None = None,
    ) -> list[AppliedChange]:
        """Apply a sync plan's changes in order (each its own transaction); return what happened to each."""
        changes, results = plan.changes, []
        extra = {"mapping_version": plan.mapping_version}
        for done, change in enumerate(changes, 1):
            results.append(self.accounts.apply(change, trigger=trigger, evidence_at=evidence_at, extra=extra))
            if on_apply is not None:
                on_apply(done, len(changes))
        return results

    def no_mapped_role(self, identity: OktaIdentity, mapping: RoleMapping, evidence: SignInEvidence) -> list[str]:
        """Deactivate the accounts of a person whose verified sign-in maps to no role; return the outcomes.

        Refusing the sign-in alone would leave the account active with its old roles, so a session or
        API token issued earlier kept them. The change is the one sync-users plans for the same groups
        and records ``deactivated_by = "login"``, so the next sign-in with a mapped group reactivates it.
        Groups older than the account's (an old token) decide nothing: the refusal stands, nothing changes.
        """
        snapshot = OktaSnapshot(statuses={identity.sub: "ACTIVE"}, groups={identity.sub: frozenset(identity.groups)})
        outcomes: list[str] = []
        for account in self.accounts.linked_to(identity.sub):
            change = plan_account(account, snapshot, mapping)
            if change.action != "deactivate" or not groups_current(evidence, account.times):
                continue
            extra = {"mapping_version": mapping.digest[:12]}
            applied = self.accounts.apply(change, trigger="login", evidence_at=evidence.groups_at, extra=extra)
            log.warning(
                "Okta login of %s refused [no_mapped_role]: Airflow account %s deactivated (%s); roles it had: %s",
                loggable(identity.username),
                loggable(account.username),
                applied.outcome,
                ", ".join(change.roles_before) or "none",
            )
            outcomes.append(applied.outcome)
        return outcomes

    def on_event(self, event: HookEvent, sub: str, mapping: RoleMapping) -> str:
        """Apply one event hook event to the accounts of Okta user ``sub``; return what happened."""
        accounts = self.accounts.linked_to(sub)
        if not accounts:
            return "no_account"
        if event.effect == "deactivate":
            snapshot = OktaSnapshot(statuses={}, groups={})  # absent = gone from Okta: deactivate
            reason = f"okta_event:{event.event_type}"
        else:
            found = self._membership_snapshot(event, sub, accounts)
            if isinstance(found, str):
                return found
            snapshot, reason = found
        # The evidence's time: Okta's fresh reading when there was one, else when the event happened.
        evidence_at = snapshot.read_at or effective_time(event)
        extra = {"event_uuid": event.uuid or event.event_id, "event_type": event.event_type}
        done = []
        for account in accounts:
            change = plan_account(account, snapshot, mapping)
            if event.effect == "deactivate" or self.directory is None:
                change = only_taking_away(change)  # the event's word alone: never a role, never a return
            if not change.is_change:
                done.append("unchanged")
                continue
            if event.effect == "deactivate":
                change = replace(change, reason=reason, okta_status=EVENT_STATUS.get(event.event_type, "UNKNOWN"))
            applied = self.accounts.apply(change, trigger="event_hook", evidence_at=evidence_at, extra=extra)
            done.append(applied.outcome)
        return ",".join(done)

    def _membership_snapshot(
        self, event: HookEvent, sub: str, accounts: list[AirflowAccount]
    ) -> tuple[OktaSnapshot, str] | str:
        """Return a snapshot of Okta for ``sub`` after a membership change, or why the event is not acted on.

        With Management API access: the user's status and groups, fresh (order of events does not
        matter, and Okta, not the event, decides). Without: the groups last seen at a login or a
        fresh read, minus the groups this event removes; an addition waits (``deferred``), and an
        event Okta published before those groups were seen is ``stale``.
        """
        user_ids = [a.user_id for a in accounts]
        if self.directory is not None:
            read_at = self.clock()
            statuses = self.directory.statuses([sub], strategy="search")
            groups = self._filtered(self.directory.user_groups(sub))
            self.accounts.remember_groups(user_ids, groups, read_at)
            return OktaSnapshot(statuses=statuses, groups={sub: groups}, read_at=read_at), "groups_changed"
        seen = accounts[0]
        happened = effective_time(event)
        if seen.times.groups_at is not None and happened < seen.times.groups_at:
            log.info(
                "Okta event %s for %s predates the groups last seen; ignored", loggable(event.event_type), loggable(sub)
            )
            return "stale"
        after = known_groups_after(frozenset(seen.groups or ()), event)
        if after is None:
            log.info(
                "Okta event %s for %s not applied: without Management API credentials a group addition "
                "takes effect at the user's next login or okta-airflow sync-users",
                loggable(event.event_type),
                loggable(sub),
            )
            return "deferred"
        groups = self._filtered(after)
        # The groups shrink, but "seen at" stays the last full observation: an event sees one change,
        # not Okta's whole state, so it must not make earlier-published events look stale.
        self.accounts.remember_groups(user_ids, groups, seen.times.groups_at or happened)
        return OktaSnapshot(statuses={sub: "ACTIVE"}, groups={sub: groups}), "groups_changed"

    def _filtered(self, groups: Iterable[str]) -> frozenset[str]:
        return frozenset(self.groups_filter.apply(groups) if self.groups_filter is not None else groups)


def audit_change(change: PlannedChange, trigger: str, extra: Mapping[str, Any]) -> None:
    """Emit the audit events of a change just written (deactivated/reactivated, roles_changed)."""
    common = {"user_id": change.user_id, "sub": change.okta_sub, "trigger": trigger, "okta_status": change.okta_status}
    common.update(extra, reason=change.reason)
    if change.action in ("deactivate", "reactivate"):
        roles = change.roles_before if change.action == "deactivate" else change.roles_after
        audit_event(f"user.{change.action}d", owner=change.username, roles=list(roles), **common)
    if change.action in ("set_roles", "reactivate") and change.roles_before != change.roles_after:
        before, after = list(change.roles_before), list(change.roles_after)
        audit_event("user.roles_changed", owner=change.username, before=before, after=after, **common)
