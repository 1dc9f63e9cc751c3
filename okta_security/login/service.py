"""One sign-in for every door (pure): decide who the person is and what they get, then write it.

The browser callback (an ID token), a person's Okta access token at ``POST /auth/token`` and the
Airflow 2.11 bearer path (:class:`okta_security.login.doors.PersonDoor`) each verify their token and
call :meth:`SignInService.sign_in` with its claims; everything after is the same for all of them:

1. :meth:`SignInService.decide` — groups from the claims or Okta's Groups API, the mapping, the
   roles Airflow has (:func:`okta_security.login.decision.decide`); a person whose current groups
   map to nothing loses the access they had (their accounts are deactivated);
2. :meth:`SignInService.admit` — the account plan (:func:`okta_security.login.account_plan.plan_account`)
   under the evidence rule (:mod:`okta_security.lifecycle.evidence`), Okta's confirmation before a
   reactivation, one write, and the plan's audit events.

What it reads and writes goes through the ports of :mod:`okta_security.login.ports`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic

from cachetools import TLRUCache

from okta_security.errors import LoginRefused, MappedRoleMissing, NoMappedRole
from okta_security.lifecycle.evidence import SignInEvidence
from okta_security.login.account_plan import plan_account
from okta_security.login.decision import LoginDecision, LoginPolicy, decide, groups_api_identity
from okta_security.login.okta_reader import require_active
from okta_security.login.outcome import FieldsT, LoginAuditFields, LoginOutcome
from okta_security.login.ports import UserT
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from okta_security.login.ports import Accounts, AuditSink, OktaReader
    from okta_security.mapping.rules import RoleMapping
    from okta_security.oidc.identity import OktaIdentity

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


GROUPS_CACHE_SIZE = 10_000  # people with a live token per worker; a reading is ~100 bytes of group names


@dataclass(frozen=True)
class TokenRef:
    """The token a sign-in presents, for what may be remembered until it expires: its ``jti`` and ``exp``."""

    jti: str
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class _Reading:
    groups: tuple[str, ...]
    read_at: datetime
    expires_at: float


def _groups_cache() -> TLRUCache[tuple[str, str], _Reading]:
    # Each reading lives until its token expires: a new token means a new reading.
    return TLRUCache(GROUPS_CACHE_SIZE, ttu=lambda _key, reading, _now: reading.expires_at, timer=time.time)


@dataclass(frozen=True)
class Decided:
    """A decision and the evidence it rests on."""

    decision: LoginDecision
    evidence: SignInEvidence


@dataclass
class SignInService(Generic[UserT]):
    """The sign-in every door shares, over its ports."""

    accounts: Accounts[UserT]
    okta: OktaReader | None  # None: no Management API credentials
    mapping: Callable[[], RoleMapping]  # the current mapping (the adapter re-syncs declared roles on the way)
    policy: LoginPolicy
    audit: AuditSink
    adopt_unlinked: bool = True
    clock: Callable[[], datetime] = field(default=_utcnow)
    _readings: TLRUCache[tuple[str, str], _Reading] = field(default_factory=_groups_cache, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sign_in(
        self,
        claims: Mapping[str, Any],
        *,
        userinfo: Mapping[str, Any] | None,
        issued_at: object,
        facts: FieldsT,
        token: TokenRef | None = None,
    ) -> LoginOutcome[UserT]:
        """Decide and admit: the one call every person's door makes with its verified claims.

        The outcome's facts name the person once the decision knows them, for the door's audit event.
        """
        try:
            decided = self.decide(claims, userinfo=userinfo, issued_at=issued_at, token=token)
            decision = decided.decision
            facts = facts.with_identity(decision.identity)
            user = self.admit(decided, facts)
        except LoginRefused as e:
            return LoginOutcome(facts, refusal=e)
        return LoginOutcome(
            facts, user=user, identity=decision.identity, roles=decision.roles, step_up=decision.step_up
        )

    def reads_groups_api(self, claims: Mapping[str, Any]) -> bool:
        """Return whether a sign-in with these claims (and no userinfo) asks Okta's Groups API."""
        return self.okta is not None and groups_api_identity(claims, None, self.policy) is not None

    def decide(
        self,
        claims: Mapping[str, Any],
        *,
        userinfo: Mapping[str, Any] | None,
        issued_at: object,
        token: TokenRef | None = None,
    ) -> Decided:
        """Decide the sign-in from verified claims; raise LoginRefused on an outage.

        ``issued_at``: the token's ``iat``. ``token``: a token that may be presented again (a
        person's access token): its Groups API reading is kept until it expires, with the time of
        the reading, so exchanging the same token again costs Okta nothing and claims nothing newer.
        """
        api_groups, read_at = None, None
        api_user = groups_api_identity(claims, userinfo, self.policy)
        if self.okta is not None and api_user is not None:
            api_groups, read_at = self._read_groups(api_user, token)
        evidence = SignInEvidence.from_iat(issued_at, groups_read_at=read_at)
        mapping = self.mapping()
        decision = decide(
            claims,
            userinfo=userinfo,
            api_groups=api_groups,
            mapping=mapping,
            airflow_roles=self.accounts.role_names(),
            policy=self.policy,
            now=self.clock().timestamp() if mapping.step_up is not None else None,  # the clock only when it matters
        )
        _log_missing_roles(decision, mapping.source)
        if isinstance(decision.refusal, NoMappedRole) and decision.identity is not None:
            self.accounts.deactivate_unmapped(decision.identity, mapping, evidence)
        return Decided(decision, evidence)

    def _read_groups(self, identity: OktaIdentity, token: TokenRef | None) -> tuple[tuple[str, ...], datetime]:
        assert self.okta is not None  # only called with a reader
        key = (identity.sub, token.jti) if token is not None else None
        if key is not None:
            with self._lock:
                reading = self._readings.get(key)
            if reading is not None:
                return reading.groups, reading.read_at
        groups, read_at = self.okta.user_groups(identity), self.clock()
        if key is not None and token is not None:
            with self._lock:
                self._readings[key] = _Reading(groups, read_at, token.expires_at)
        return groups, read_at

    def admit(self, decided: Decided, facts: LoginAuditFields) -> UserT:
        """Create, adopt, reactivate or update the person's account as decided; raise LoginRefused."""
        decision, evidence = decided.decision, decided.evidence
        if decision.refusal is not None or decision.identity is None:
            raise decision.refusal or LoginRefused("The sign-in could not be decided.")
        identity = decision.identity
        for after_lost_race in (False, True):
            plan = plan_account(
                identity,
                decision.roles,
                self.accounts.look_up(identity),
                after_lost_race=after_lost_race,
                adopt_unlinked=self.adopt_unlinked,
                evidence=evidence,
            )
            if isinstance(plan, LoginRefused):
                raise plan
            if plan.reactivate and self.okta is not None:
                # A token is Okta's word as of its iat; a reactivation is the one change an old word must not make.
                require_active(self.okta.user_status(identity), identity)
            applied = self.accounts.apply(plan, identity, evidence)
            if applied is not None:
                self._log(plan.action, plan.events != (), identity, applied.user_id, plan.roles)
                for event in plan.events:
                    self.audit(event.event, facts, owner=applied.username, user_id=applied.user_id, **event.fields)
                return applied.user
            # A concurrent first sign-in of the same person (another tab, worker or replica) inserted the
            # row between our look-up and our INSERT: plan again, as an update of that row.
            log.info("Airflow user %s was just created by a concurrent login; updating it", loggable(identity.username))
        raise LoginRefused("Airflow could not create your account; see the webserver log.")  # pragma: no cover

    @staticmethod
    def _log(action: str, changed: bool, identity: OktaIdentity, user_id: int, roles: tuple[str, ...]) -> None:
        if action != "update" or changed:
            log.info(
                "Okta login of %s (sub %s): %s account %s, roles %s",
                loggable(identity.username),
                loggable(identity.sub),
                action,
                user_id,
                list(roles),
            )


def _log_missing_roles(decision: LoginDecision, source: str) -> None:
    """Tell the administrator which mapped roles are gone from Airflow (the person only sees a code)."""
    if not decision.missing_roles or decision.identity is None:
        return
    refused = isinstance(decision.refusal, MappedRoleMissing)
    log.error(
        "Okta login of %s: the mapping in %s grants role(s) %s, which no longer exist in Airflow (%s). "
        "Recreate them (airflow roles create ...) or remove them from the mapping; okta-airflow doctor "
        "lists every mapped role Airflow lacks.",
        loggable(decision.identity.username),
        source,
        ", ".join(decision.missing_roles),
        "login refused [mapped_role_missing]" if refused else f"signed in with {', '.join(decision.roles)} only",
    )
