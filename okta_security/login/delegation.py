"""The agents' door (pure): an AI agent acting for a person, through the one sign-in.

An agent presents, at ``POST /auth/token``, either

- an **ID-JAG** (Okta Cross App Access; :mod:`okta_security.oidc.id_jag`) with the jwt-bearer grant:
  the person is its ``sub``, the agent its ``client_id``; its ``jti`` is spent by the first use, on
  every replica (:class:`okta_security.login.ports.GrantLedger`); or
- an **RFC 8693 token exchange**: the person's Okta access token as ``subject_token`` (checked as a
  person's token is, :class:`okta_security.login.doors.PersonDoor`) and the agent's client-credentials
  token as ``actor_token`` (checked as a bot's is).

Either way the person is signed in exactly as their own token would sign them in
(:meth:`PersonDoor.sign_in`: the evidence rule, refusals, deactivation of a person whose groups map
to nothing), and the token's roles are the person's usable roles that the mapping's ``agents:`` allows
that agent (:meth:`okta_security.mapping.agents.AgentMap.grant`). The Airflow token lives at most
``OKTA_AGENT_TOKEN_MINUTES`` and never longer than what vouched for it. Every issue and every refusal
is audited with both identities (``agent.token_issued``, ``agent.token_refused``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Generic, Literal

from okta_security.audit import audit_event
from okta_security.bots.client_tokens import validate_access_token
from okta_security.errors import (
    AgentGrantRejected,
    AgentRefused,
    BotRefused,
    LoginRefused,
    OktaSecurityError,
    classify,
)
from okta_security.login.ports import UserT
from okta_security.oidc.access_token import AccessTokenPolicy
from okta_security.oidc.id_jag import verify_id_jag
from okta_security.people.person_tokens import PersonToken, looks_like_person_token
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Callable

    from okta_security.login.doors import ApiLoginAuditFields, PersonDoor
    from okta_security.login.ports import EndedDelegations, GrantLedger
    from okta_security.oidc.id_jag import IdJag
    from okta_security.oidc.id_token import JwksCache

log = logging.getLogger(__name__)

Grant = Literal["id-jag", "token-exchange"]


@dataclass(frozen=True)
class AgentLogin(Generic[UserT]):
    """An agent signed in to act for a person."""

    user: UserT  # the person's account: the Airflow token names it, with the agent as ``act``
    username: str
    agent: str  # the agent's Okta client id
    roles: frozenset[str]  # what the token acts with: the person's usable roles the agent may use
    person_roles: tuple[str, ...]
    expires_at: int  # epoch seconds: the Airflow token's end
    issued_at: int  # when Okta vouched for the person (the ID-JAG's or the person's token's iat)
    grant: Grant
    grant_jti: str | None  # the ID-JAG's, or the person's token's


@dataclass
class AgentDoor(Generic[UserT]):
    """ID-JAGs and token exchanges, verified, then the person's sign-in and the agent's share of it."""

    people: PersonDoor[UserT]
    org_keys: Callable[[], JwksCache]  # the Okta org authorization server's keys (it signs ID-JAGs)
    ledger: GrantLedger
    ended: EndedDelegations  # when Okta unassigned a person from an agent's app
    clock: Callable[[], float] = field(default=time.time)

    def exchange_id_jag(self, assertion: str, facts: ApiLoginAuditFields) -> AgentLogin[UserT]:
        """Act for the person an ID-JAG names; audit either way; raise BotRefused or LoginRefused."""
        settings, agent = self.people.settings, None
        try:
            grant = verify_id_jag(
                assertion,
                keys=self.org_keys(),
                org=settings.groups_api_org_url,
                audience=settings.agent_audience,
                leeway=settings.clock_skew_seconds,
                now=self.clock(),
            )
            agent = grant.agent
            self._require_listed(agent)
            if not self.ledger.claim(grant.jti, grant.expires_at + settings.clock_skew_seconds):
                raise AgentGrantRejected(
                    "replayed", "This ID-JAG was used already: ask Okta for a new one for each token.", client_id=agent
                )
            person = self._person_named(grant)
        except (BotRefused, LoginRefused) as e:
            self._refused(e, facts, agent=agent, owner=None, grant="id-jag")
            raise
        return self._act_for(person, agent, facts, grant="id-jag", ends=(grant.expires_at,))

    def exchange_tokens(self, subject: str, actor: str, facts: ApiLoginAuditFields) -> AgentLogin[UserT]:
        """Act for the person whose token the agent holds (RFC 8693); audit either way; raise as above."""
        settings, agent = self.people.settings, None
        try:
            if looks_like_person_token(actor):
                raise AgentGrantRejected(
                    "actor_not_a_client",
                    "The actor_token is a person's token: send the agent's own client-credentials token from Okta.",
                )
            acting = validate_access_token(
                actor, jwks=self.people.keys, policy=AccessTokenPolicy.from_settings(settings)
            )
            agent = acting.client_id
            self._require_listed(agent)
            if not looks_like_person_token(subject):
                raise AgentGrantRejected(
                    "subject_not_a_person",
                    "The subject_token names no Okta user (a client's token?): send the person's Okta access token.",
                    client_id=agent,
                )
            try:
                person = self.people.verify(subject, agent=agent)
            except BotRefused as e:
                e.client_id = agent  # the audit names the agent that sent it
                raise
        except (BotRefused, LoginRefused) as e:
            self._refused(e, facts, agent=agent, owner=None, grant="token-exchange")
            raise
        return self._act_for(person, agent, facts, grant="token-exchange", ends=(person.expires_at, acting.expires_at))

    def _require_listed(self, agent: str) -> None:
        """Refuse an agent the mapping does not list before the person is read at all."""
        agents = self.people.service.mapping().agents
        if agents.get(agent) is None:
            agents.grant(agent, ())  # raises AgentNotMapped, which says what to add

    def _person_named(self, grant: IdJag) -> PersonToken:
        """Return the person an ID-JAG names, as a person's token would name them; raise AgentGrantRejected."""
        service = self.people.service
        with service.accounts.one_sign_in():
            links = service.accounts.linked(grant.user_id)
        if not links:
            raise AgentGrantRejected(
                "person_unknown",
                f"The Okta user {grant.user_id} has no Airflow account yet: they sign in to Airflow once (in the "
                "browser or with okta-airflow login) before an agent can act for them.",
                client_id=grant.agent,
            )
        username = max(links)[1]
        if not service.reads_groups_api({"sub": grant.user_id, "preferred_username": username}):
            raise AgentGrantRejected(
                "no_groups_source",
                "An ID-JAG carries no groups, and this Airflow cannot read them from Okta's Groups API (no Okta API "
                "credentials, or OKTA_GROUPS_SOURCE=claims). Ask your Airflow administrator (docs/agents.md).",
                client_id=grant.agent,
            )
        return PersonToken(
            user_id=grant.user_id,
            login=username,
            client_id=grant.agent,
            scopes=grant.scopes,
            jti=grant.jti,
            issued_at=grant.issued_at,
            expires_at=grant.expires_at,
            mfa=grant.mfa,
        )

    def _act_for(
        self, person: PersonToken, agent: str, facts: ApiLoginAuditFields, *, grant: Grant, ends: tuple[int, ...]
    ) -> AgentLogin[UserT]:
        facts = replace(facts, act=agent)
        username = person.login
        try:
            login = self.people.sign_in(person, facts)  # audits login.succeeded / login.refused, with act
            usable = frozenset(login.roles) - frozenset(login.step_up.withheld)
            username = getattr(login.user, "username", None) or person.login
            if self.ended.ended_after(login.user, agent, person.issued_at):
                raise AgentGrantRejected(
                    "agent_unassigned",
                    f"Okta unassigned {username} from the agent's app after it vouched for this grant.",
                    client_id=agent,
                )
            roles = self.people.service.mapping().agents.grant(agent, usable)
        except (BotRefused, LoginRefused) as e:
            self._refused(e, facts, agent=agent, owner=username, grant=grant)
            raise
        expires_at = min(int(self.clock()) + self.people.settings.agent_token_minutes * 60, *ends)
        audit_event(
            "agent.token_issued",
            owner=username,
            act={"sub": agent},
            grant=grant,
            grant_jti=person.jti,
            roles=sorted(roles),
            person_roles=sorted(usable),
            expires_at=expires_at,
            via=facts.via,
            **dict(facts.context),
        )
        log.info(
            "Agent %s acts for %s (%s) with roles %s until %s",
            loggable(agent),
            loggable(username),
            grant,
            sorted(roles),
            expires_at,
        )
        return AgentLogin(
            user=login.user,
            username=username,
            agent=agent,
            roles=roles,
            person_roles=tuple(sorted(usable)),
            expires_at=expires_at,
            issued_at=person.issued_at,
            grant=grant,
            grant_jti=person.jti,
        )

    @staticmethod
    def _refused(
        error: OktaSecurityError, facts: ApiLoginAuditFields, *, agent: str | None, owner: str | None, grant: Grant
    ) -> None:
        log.info(
            "Refused agent %s (%s) at %s: %s (%s): %s",
            loggable(agent or "-"),
            grant,
            facts.via,
            error.code,
            getattr(error, "reason", "-"),
            loggable(error.message, 2000),
        )
        details = {"reason": error.code, "detail": getattr(error, "reason", None)}
        audit_event(
            AgentRefused.audit_event,
            owner=owner,
            act={"sub": agent} if agent else None,
            grant=grant,
            via=facts.via,
            status=classify(error).grant_status,
            **{k: v for k, v in details.items() if v},
            **dict(facts.context),
        )
