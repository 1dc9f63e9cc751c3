"""Plan what an admitted login does to the Airflow account, and the audit events it implies (pure).

The adapter looks the person up (:class:`AccountLookup`: by username, else the legacy
``okta_<sub>`` account, and the owner of their email when :func:`needs_email_lookup` says so),
hands plain snapshots to :func:`plan_account`, and carries out the plan in one commit:

- no account → **create** it;
- a legacy ``okta_<sub>`` account of FAB's built-in provider → **adopt** it under the new name
  (same id, history and audit trail);
- an account with this username that okta_security never linked (made before Okta) → **adopt** it;
- an inactive account okta_security deactivated (a leaver who is back) → **reactivate** it, but only
  with evidence at least as new as the deactivation's (else ``stale_token``); one an administrator
  deactivated, or changed since okta_security did → refuse (``inactive_user``);
- otherwise → **update** profile and roles.

A sign-in whose groups are older than what the account reflects (a removal an event or
``sync-users`` applied, an administrator's edit) gives no role the account lacks
(:mod:`okta_security.lifecycle.evidence`); with none left it is refused ``stale_token``.

An account is pinned to the Okta user (``sub``) it is linked to: a login is matched by username,
but a username is only a name, which Okta lets an administrator give to someone else (a reused or
renamed login, or two people with the same ``preferred_username``). A linked account is therefore
never signed into by another Okta user, active or not (``okta_user_changed``); ``okta-airflow
relink`` is the administrator's explicit fix. Adopting an account nobody linked yet is audited
(``user.adopted``) and can be switched off (``OKTA_ADOPT_UNLINKED_ACCOUNTS``: ``unlinked_account``).

Other refusals: the account is a bot's service user (``service_user_login``); the email belongs
to another account (``email_conflict``); a create that lost a race and finds nothing to update.

:func:`plan_relink` plans ``okta-airflow relink``: the administrator moving the pin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from okta_security.errors import (
    EmailConflict,
    InactiveUser,
    LoginRefused,
    OktaUserChanged,
    RelinkRefused,
    ServiceUserLogin,
    StaleToken,
    UnlinkedAccount,
)
from okta_security.lifecycle.evidence import AccountTimes, capped_roles, groups_current, may_reactivate

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from okta_security.lifecycle.evidence import SignInEvidence
    from okta_security.oidc.identity import OktaIdentity

Action = Literal["create", "adopt_legacy", "adopt", "reactivate", "update"]
PLACEHOLDER_EMAIL_DOMAIN = "okta.invalid"  # ab_user.email is required; RFC 2606 reserved, never a mailbox
OKTA_USER_ID = re.compile(r"^[0-9A-Za-z]{6,64}$")  # Okta's user ids (the ID token's sub): 00u + 17 characters


@dataclass(frozen=True)
class LinkSnapshot:
    """The account's ``okta_security_user`` row: which Okta user it is, who deactivated it, and when."""

    okta_sub: str
    # "sync" | "event_hook" | "login": okta_security's marker, cleared when an administrator changes the account
    deactivated_by: str | None = None
    times: AccountTimes = AccountTimes()
    groups: tuple[str, ...] | None = None  # the groups last stored for the account


@dataclass(frozen=True)
class ExistingAccount:
    """A snapshot of one ``ab_user`` row and its link row."""

    user_id: int
    username: str
    email: str
    first_name: str = ""
    last_name: str = ""
    active: bool = True
    roles: tuple[str, ...] = ()
    service_user: bool = False  # an Okta client's service user (a bot's), see okta_security.adapter.bots
    link: LinkSnapshot | None = None
    handle: Any = field(default=None, compare=False, repr=False)  # the adapter's own record; never read here


@dataclass(frozen=True)
class AccountLookup:
    """The accounts a login may concern, as the adapter found them."""

    by_username: ExistingAccount | None = None
    legacy: ExistingAccount | None = None  # ``okta_<sub>``, looked up only when by_username is None
    by_email: ExistingAccount | None = None  # the owner of the identity's email, when looked up


@dataclass(frozen=True)
class PlannedEvent:
    """An audit event the plan implies (the adapter adds ``user_id`` and the login's identifiers)."""

    event: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountPlan:
    """The account change a login makes, in one commit."""

    action: Action
    user_id: int | None  # None: create
    username: str
    first_name: str
    last_name: str
    email: str
    roles: tuple[str, ...]
    rename_from: str | None = None  # the legacy username being adopted
    reactivate: bool = False
    roles_before: tuple[str, ...] | None = None  # None: a new account
    events: tuple[PlannedEvent, ...] = ()
    groups_current: bool = True  # False: the sign-in's groups are older than the account's; not stored
    handle: Any = field(default=None, compare=False, repr=False)  # the account's ExistingAccount.handle
    link: LinkSnapshot | None = None  # the account's link row as read (None: new, or never linked)

    @property
    def roles_changed(self) -> bool:
        """Return whether the login changes the account's roles (a new account counts)."""
        return self.roles_before is None or self.roles_before != self.roles


def needs_email_lookup(identity: OktaIdentity, account: ExistingAccount | None) -> bool:
    """Return whether to look up who owns the identity's email (``ab_user.email`` is UNIQUE)."""
    return bool(identity.email) and (account is None or account.email != identity.email)


def plan_account(
    identity: OktaIdentity,
    roles: tuple[str, ...],
    lookup: AccountLookup,
    *,
    after_lost_race: bool = False,
    adopt_unlinked: bool = True,
    evidence: SignInEvidence | None = None,
) -> AccountPlan | LoginRefused:
    """Plan the change to the person's account, or refuse.

    ``after_lost_race``: a create just failed; ``adopt_unlinked``: an account no Okta user is linked
    to yet may become this person's (``OKTA_ADOPT_UNLINKED_ACCOUNTS``); ``evidence``: when Okta vouched
    for the person and their groups (None: taken as the newest).
    """
    account = lookup.by_username or lookup.legacy
    owner = lookup.by_email
    if account is not None and account.service_user:
        return ServiceUserLogin(
            f"The Airflow username {account.username!r} belongs to an Okta client's service user (a bot), so "
            "nobody can sign in as it. Ask your Airflow administrator."
        )
    if owner is not None and account is None and owner.username.lower() == identity.username:
        account = owner  # a concurrent first login of the same person created the row between two look-ups
    elif owner is not None and (account is None or owner.user_id != account.user_id):
        return EmailConflict(
            f"Another Airflow user ({owner.username!r}) already has the email address {identity.email!r}. "
            "Ask your Airflow administrator to rename or remove that account."
        )
    if account is None:
        if after_lost_race:  # the INSERT failed, yet nothing is there to update: not a race after all
            return LoginRefused("Airflow could not create your account; see the webserver log.")
        return _create(identity, roles)
    if account.link is not None and account.link.okta_sub != identity.sub:
        # Checked before activity: a leaver's account stays the leaver's, never reactivated for someone else.
        return OktaUserChanged(account.username, identity.sub, account.link.okta_sub)
    if account.link is None and not adopt_unlinked:
        return UnlinkedAccount(account.username, identity.sub)
    if not account.active and (account.link is None or account.link.deactivated_by is None):
        return InactiveUser("Your Airflow account is deactivated. Ask your Airflow administrator to reactivate it.")
    current = True
    if evidence is not None and account.link is not None:
        times = account.link.times
        if not account.active and not may_reactivate(evidence, times):
            return StaleToken(
                "Your Okta token was issued before your Airflow account was deactivated, so it cannot reactivate "
                "it. Sign in to Okta again (okta-airflow login, or the browser) for a new token."
            )
        current = groups_current(evidence, times)
        if not current:
            roles = capped_roles(roles, account.roles, current_groups=False)
            if not roles:
                return StaleToken(
                    "Your Okta token predates a change of your groups, and the roles it shows are no longer yours. "
                    "Sign in to Okta again (okta-airflow login, or the browser) for a new token."
                )
    plan = _update(identity, roles, account, legacy=account is lookup.legacy)
    return plan if current else replace(plan, groups_current=False)


def _create(identity: OktaIdentity, roles: tuple[str, ...]) -> AccountPlan:
    email = identity.email or f"{identity.sub}@{PLACEHOLDER_EMAIL_DOMAIN}"
    return AccountPlan(
        action="create",
        user_id=None,
        username=identity.username,
        first_name=identity.first_name or identity.username,
        last_name=identity.last_name or "-",
        email=email,
        roles=roles,
        events=(PlannedEvent("user.created", {"email": email, "roles": list(roles)}),),
    )


def _update(identity: OktaIdentity, roles: tuple[str, ...], account: ExistingAccount, *, legacy: bool) -> AccountPlan:
    reactivate = not account.active
    before = tuple(sorted(account.roles))
    profile = {
        "first_name": identity.first_name or account.first_name,
        "last_name": identity.last_name or account.last_name,
        "email": identity.email or account.email,
    }
    old = {"first_name": account.first_name, "last_name": account.last_name, "email": account.email}
    events: list[PlannedEvent] = []
    if account.link is None:
        kind = "legacy_username" if legacy else "unlinked_account"
        events.append(PlannedEvent("user.adopted", {"account": account.username, "kind": kind}))
    if legacy:
        events.append(PlannedEvent("user.renamed", {"before": account.username, "after": identity.username}))
    if reactivate:
        events.append(PlannedEvent("user.reactivated", {"trigger": "login", "roles": list(roles)}))
    if before != roles:
        events.append(
            PlannedEvent("user.roles_changed", {"trigger": "login", "before": list(before), "after": list(roles)})
        )
    changes = {name: {"before": old[name], "after": value} for name, value in profile.items() if value != old[name]}
    if changes:
        events.append(PlannedEvent("user.profile_updated", {"changes": changes}))
    if legacy:
        action: Action = "adopt_legacy"
    elif reactivate:
        action = "reactivate"
    elif account.link is None:
        action = "adopt"
    else:
        action = "update"
    return AccountPlan(
        action=action,
        user_id=account.user_id,
        username=identity.username if legacy else account.username,
        rename_from=account.username if legacy else None,
        reactivate=reactivate,
        roles=roles,
        roles_before=before,
        events=tuple(events),
        handle=account.handle,
        link=account.link,
        first_name=profile["first_name"],
        last_name=profile["last_name"],
        email=profile["email"],
    )


@dataclass(frozen=True)
class RelinkPlan:
    """What ``okta-airflow relink`` does: pin the account to another Okta user (``okta_sub``)."""

    user_id: int
    username: str
    okta_sub: str
    before: str | None  # the Okta user it was linked to; None: never linked
    active: bool
    deactivated_by: str | None  # kept: a leaver's account comes back only at its new person's sign-in

    @property
    def changes(self) -> bool:
        """Return whether the account is linked to someone else now."""
        return self.before != self.okta_sub

    @property
    def event(self) -> PlannedEvent:
        """Return the audit event of the relink (the adapter adds the user id and who ran it)."""
        return PlannedEvent("user.relinked", {"before": self.before, "after": self.okta_sub})


def plan_relink(
    account: ExistingAccount | None, username: str, okta_sub: str, *, linked_elsewhere: Sequence[str] = ()
) -> RelinkPlan | RelinkRefused:
    """Plan linking the account ``username`` to Okta user ``okta_sub``, or say why not.

    ``linked_elsewhere``: the other accounts already linked to ``okta_sub``. One Okta user signs in to
    one account; linking a second would leave which one a sign-in reaches to the order of look-ups.
    """
    if not OKTA_USER_ID.match(okta_sub):
        shown = okta_sub if len(okta_sub) <= 80 else okta_sub[:79] + "…"
        return RelinkRefused(
            f"{shown!r} is not an Okta user id: give the id (00u…, 20 characters) shown in the Okta Admin Console "
            "(Directory > People > the person, in the address bar) or in the refusal's log line"
        )
    if account is None:
        return RelinkRefused(f"There is no Airflow user named {username!r}: check the name with `airflow users list`")
    if account.service_user:
        return RelinkRefused(
            f"{account.username!r} is an Okta client's service user (a bot's): it is managed from the mapping "
            "file's clients: section, never linked to a person"
        )
    if linked_elsewhere:
        others = ", ".join(repr(name) for name in linked_elsewhere)
        return RelinkRefused(
            f"Okta user {okta_sub} is already linked to the Airflow account {others}: delete that account in "
            f"Airflow (Security > List Users) or relink it to its own Okta user first, then relink {account.username!r}"
        )
    link = account.link
    return RelinkPlan(
        user_id=account.user_id,
        username=account.username,
        okta_sub=okta_sub,
        before=link.okta_sub if link else None,
        active=account.active,
        deactivated_by=link.deactivated_by if link else None,
    )


def link_changes(plan: AccountPlan, identity: OktaIdentity, evidence: SignInEvidence) -> bool:
    """Return whether the sign-in changes the account's link row (a token exchanged again changes nothing)."""
    link = plan.link
    if link is None or plan.rename_from is not None or plan.reactivate or link.deactivated_by is not None:
        return True
    if link.okta_sub != identity.sub:
        return True
    if not plan.groups_current:
        return False  # older groups are never stored
    return link.groups != tuple(identity.groups) or link.times.groups_at != evidence.groups_at
