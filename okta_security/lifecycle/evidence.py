"""Evidence with a time: what Okta (or an administrator) said about a person, and when (pure).

Every change okta_security makes to an account records the time of the evidence it acted on: a
token's ``iat``, an event's ``published`` (clamped to its receipt), the moment ``sync-users`` or a
sign-in read Okta, the moment an administrator edited the account. The account keeps, per Okta
user, the newest such time for its status and for its roles (:class:`AccountTimes`). One rule,
applied by every door: **evidence older than what the account already reflects may take access
away, but never give it back.**

- A deactivated account (okta_security's marker set) comes back only with evidence at least as new
  as the deactivation's (:func:`may_reactivate`); older evidence is a ``stale_token``.
- Roles computed from groups older than the newest groups or roles evidence never rise above the
  roles the account has (:func:`capped_roles`); nothing left is a ``stale_token`` too.

Equal times are not older (the token a refusal recorded may sign in again once the mapping admits
it), and times are compared in whole seconds, as ``iat`` has them. A deactivated user gets no new
tokens from Okta, so a newer ``iat`` means Okta let them in again. A browser sign-in is dated by
the moment Okta answered its code exchange: Okta vouched for the person just then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class AccountTimes:
    """The newest evidence an account already reflects (None: nothing recorded)."""

    status_at: datetime | None = None  # behind okta_security's last deactivation or reactivation, or an admin's edit
    groups_at: datetime | None = None  # the newest full reading of the person's groups
    roles_at: datetime | None = None  # the newest change that took roles away (event, sync) or an admin's edit

    @property
    def newest_groups(self) -> datetime | None:
        """Return the time a sign-in's groups must reach to be taken at their word."""
        return newest(self.groups_at, self.roles_at)


@dataclass(frozen=True)
class SignInEvidence:
    """What one sign-in carries: when Okta vouched for the person, and when their groups were true."""

    issued_at: datetime  # the token's ``iat``
    groups_at: datetime  # the token's ``iat``, or the time of a fresh Groups API reading

    @classmethod
    def from_iat(cls, iat: object, *, groups_read_at: datetime | None = None) -> SignInEvidence:
        """Return the evidence of a token with ``iat`` (seconds); ``groups_read_at``: the Groups API's reading."""
        issued = at_epoch(iat)
        return cls(issued_at=issued, groups_at=groups_read_at or issued)


def at_epoch(value: object) -> datetime:
    """Return ``value`` (epoch seconds from a verified token) as an aware UTC time; anything else is the epoch.

    The epoch is the oldest possible evidence: a token without a usable ``iat`` can take away, never give.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e11:
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromtimestamp(0, timezone.utc)


def is_older(when: datetime, known: datetime | None) -> bool:
    """Return whether evidence from ``when`` is older than ``known`` (nothing known: never).

    Compared in whole seconds: a token's ``iat`` has no fraction, so a token Okta issued in the same
    second as a change it follows would otherwise look older than it.
    """
    return known is not None and _aware(when) < _aware(known).replace(microsecond=0)


def may_reactivate(evidence: SignInEvidence, times: AccountTimes) -> bool:
    """Return whether the sign-in is new enough to undo okta_security's deactivation of the account."""
    return not is_older(evidence.issued_at, times.status_at)


def groups_current(evidence: SignInEvidence, times: AccountTimes) -> bool:
    """Return whether the sign-in's groups are at least as new as everything the account reflects."""
    return not is_older(evidence.groups_at, times.newest_groups)


def capped_roles(mapped: Iterable[str], current: Iterable[str], *, current_groups: bool) -> tuple[str, ...]:
    """Return the roles a sign-in may give: all mapped ones, or (older groups) only those the account has."""
    mapped = tuple(mapped)
    if current_groups:
        return mapped
    kept = set(current)
    return tuple(role for role in mapped if role in kept)


def newest(*times: datetime | None) -> datetime | None:
    """Return the newest of ``times`` (None when all are None)."""
    known = [_aware(t) for t in times if t is not None]
    return max(known) if known else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
