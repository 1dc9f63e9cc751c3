"""The token doors (pure): a person's Okta access token and a bot's, verified, then through the one sign-in.

- :class:`PersonDoor`: a person's access token (``POST /auth/token`` on Airflow 3, every request on
  the 2.11 API). The checks a bot's token passes (signature, ``iss``, ``aud``, lifetime), then a
  person's (:mod:`okta_security.people.person_tokens`); then the rate limit, then
  :meth:`okta_security.login.service.SignInService.sign_in` — the browser's decision with the
  token in place of the ID token — and the same audit events, marked ``sign_in: "api"``.
- :class:`BotDoor`: a client-credentials token; the client's grant from the same mapping the
  sign-in uses, and its service user created, brought back or re-roled through the service's port.

The framework side (the request, the session, FAB's user rows) is behind the ports of
:mod:`okta_security.login.ports`; the adapter only builds the doors and translates their errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic

from okta_security.audit import audit_event
from okta_security.bots.client_tokens import validate_access_token
from okta_security.bots.service_users import service_identity
from okta_security.errors import (
    AccessTokenRejected,
    BotRefused,
    DatabaseUnavailable,
    LoginRefused,
    RateLimited,
    classify,
)
from okta_security.login.outcome import LoginAuditFields
from okta_security.login.ports import UserT
from okta_security.login.service import TokenRef
from okta_security.login.step_up import MfaEvidence, StepUpOutcome
from okta_security.oidc.access_token import AccessTokenPolicy, verify_access_token_claims
from okta_security.people.person_tokens import (
    PersonToken,
    PersonTokenPolicy,
    person_from_claims,
    require_people_enabled,
    signin_claims,
)
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from okta_security.bots.client_tokens import VerifiedAccessToken
    from okta_security.login.ports import LoginEvents, ServiceUsers
    from okta_security.login.service import SignInService
    from okta_security.mapping.bots import BotGrant
    from okta_security.oidc.id_token import JwksCache
    from okta_security.oidc.identity import OktaIdentity
    from okta_security.people.rate_limit import PersonRateLimit
    from okta_security.settings.specs import OktaSettings

log = logging.getLogger(__name__)

SIGN_IN = "api"  # the audit events' ``sign_in`` field: a person's token, not the browser
ACCESS_TOKEN_SOURCE = "access_token"  # ``groups_source`` when the groups came from the token's claim


@dataclass(frozen=True)
class ApiLoginAuditFields(LoginAuditFields):
    """A login's facts, plus what marks it an API sign-in in every audit event it writes."""

    client_id: str | None = None  # the native app (``cid``) the person signed in with
    via: str = ""  # "POST /auth/token" | "airflow2_api_auth"
    context: tuple[tuple[str, str], ...] = ()  # request id, forwarded-for (from headers, already bounded)
    act: str | None = None  # the AI agent signing the person in to act for them (its client id)

    def identifiers(self) -> dict[str, Any]:
        """Return the Okta identifiers, the API sign-in's marks and the request's context."""
        marks = {"sign_in": SIGN_IN, "via": self.via, **dict(self.context)}
        if self.client_id:
            marks["client_id"] = self.client_id
        if self.act:
            marks["act"] = self.act
        return {**super().identifiers(), **marks}


@dataclass(frozen=True)
class PersonLogin(Generic[UserT]):
    """A person signed in with their Okta access token."""

    user: UserT
    token: PersonToken
    identity: OktaIdentity
    roles: tuple[str, ...]
    step_up: StepUpOutcome = StepUpOutcome()  # step-up roles withheld from this token, and until when


@dataclass
class PersonDoor(Generic[UserT]):
    """A person's Okta access token, verified, then signed in as the browser signs them in."""

    service: SignInService[UserT]
    settings: OktaSettings
    keys: JwksCache  # the API authorization server's keys (shared with ID tokens on the same issuer)
    limit: PersonRateLimit
    events: LoginEvents

    def verify(self, token: str, *, agent: str | None = None) -> PersonToken:
        """Return what the token vouches for; raise AccessTokenRejected or OktaKeysUnavailable.

        ``agent``: an AI agent presents the token to act for the person; a token the person gave that
        agent's own Okta app (``cid``) is taken too.
        """
        policy = PersonTokenPolicy.from_settings(self.settings)
        if agent is not None:
            policy = replace(policy, allowed_clients=policy.allowed_clients | {agent})
        require_people_enabled(policy)  # before any key fetch: a deployment without people needs no keys for them
        try:
            verified = verify_access_token_claims(
                token, jwks=self.keys, policy=AccessTokenPolicy.from_settings(self.settings)
            )
        except AccessTokenRejected as e:
            if e.reason != "expired":
                raise
            raise AccessTokenRejected(
                "expired", f"{e.message.split('.')[0]}. Sign in again: okta-airflow login --airflow-url <this Airflow>."
            ) from e
        return person_from_claims(verified.claims, policy)

    def admit(self, token: str, facts: ApiLoginAuditFields) -> PersonLogin[UserT]:
        """Verify the token and sign its person in; audit either way; raise BotRefused (token) or LoginRefused."""
        try:
            person = self.verify(token)
        except BotRefused as e:
            self.token_refused(e, facts)
            raise
        return self.sign_in(person, facts)

    def token_refused(self, error: BotRefused, facts: ApiLoginAuditFields) -> None:
        """Log and audit ``login.refused`` for a token that failed its checks (no person is known yet)."""
        log.info(
            "Refused a person's Okta token at %s: %s (%s): %s",
            facts.via,
            error.code,
            getattr(error, "reason", "-"),
            loggable(error.message, 2000),
        )
        details = {"reason": error.code, "detail": getattr(error, "reason", None)}
        if error.client_id:
            facts = replace(facts, client_id=error.client_id)
        self.events.audit("login.refused", facts, owner=None, **{k: v for k, v in details.items() if v})

    def sign_in(self, person: PersonToken, facts: ApiLoginAuditFields) -> PersonLogin[UserT]:
        """Sign in the person a verified token names; audit the outcome; raise LoginRefused."""
        evidence = MfaEvidence.from_claims(person.mfa)
        facts = replace(
            facts,
            sub=person.user_id,
            jti=person.jti,
            client_id=person.client_id,
            mfa=evidence if evidence != MfaEvidence() else None,
        )
        try:
            self.limit.take(person.user_id)  # before any read: a loop of exchanges costs one check each
        except RateLimited as e:
            self._refused(e, replace(facts, username=person.login))  # no account read: the token names the person
            raise
        try:
            with self.service.accounts.one_sign_in():
                claims = signin_claims(
                    person, username=self._linked_username(person), groups_claim=self.settings.groups_claim
                )
                self._warn_without_groups(person, claims)
                token = TokenRef(person.jti, person.expires_at) if person.jti else None
                outcome = self.service.sign_in(
                    claims, userinfo=None, issued_at=person.issued_at, facts=facts, token=token
                )
        except DatabaseUnavailable as e:  # a restart or failover mid-sign-in: a clear 503
            self._refused(e, replace(facts, username=person.login))
            raise
        if outcome.refusal is not None or outcome.user is None or outcome.identity is None:
            error = outcome.refusal or LoginRefused("The sign-in could not be decided.")
            self._refused(error, outcome.facts)
            raise error
        identity = outcome.identity
        if identity.groups_source == "id_token":
            identity = replace(identity, groups_source=ACCESS_TOKEN_SOURCE)
        user = outcome.user
        username = outcome.facts.username or person.login
        self.events.login_succeeded(outcome.facts, username, identity, list(outcome.roles), outcome.step_up)
        log.info(
            "Okta API sign-in of %s (Okta user %s, app %s) at %s: roles %s",
            loggable(username),
            person.user_id,
            loggable(person.client_id),
            facts.via,
            list(outcome.roles),
        )
        return PersonLogin(user=user, token=person, identity=identity, roles=outcome.roles, step_up=outcome.step_up)

    def _refused(self, error: LoginRefused, facts: LoginAuditFields) -> None:
        log.info(
            "Okta API sign-in of %s at %s refused: %s: %s",
            loggable(facts.username or facts.sub),
            getattr(facts, "via", "-"),
            error.code,
            loggable(error, 2000),
        )
        self.events.login_refused(error, facts)

    def _warn_without_groups(self, person: PersonToken, claims: Mapping[str, object]) -> None:
        if person.has_groups_claim or self.service.reads_groups_api(claims):
            return
        log.warning(
            "Okta API sign-in of %s: the access token has no %r claim and %s, so the person has no groups. Add a "
            "groups claim to access tokens on the authorization server, or set Okta API credentials "
            "(docs/people-api.md).",
            loggable(person.login),
            self.settings.groups_claim,
            "OKTA_GROUPS_SOURCE=claims" if self.service.okta is not None else "no Okta API credentials are set",
        )

    def _linked_username(self, person: PersonToken) -> str | None:
        """Return the username of the account linked to the person's Okta user id, if there is one.

        The link is what pins an account to its Okta user; the token's login names the account only
        when no account is linked yet (a first sign-in), exactly as the browser's ``preferred_username``.
        """
        links: Sequence[tuple[int, str]] = self.service.accounts.linked(person.user_id)
        if not links:
            return None
        if person.login.lower() in (name.lower() for _, name in links):
            return person.login
        return max(links)[1]


@dataclass(frozen=True)
class BotLogin(Generic[UserT]):
    """The outcome of a successful bot authentication."""

    user: UserT
    username: str
    token: VerifiedAccessToken
    grant: BotGrant
    created: bool
    roles_before: tuple[str, ...] | None  # None when the user was just created
    reactivated: bool = False  # the user had been deactivated (its role set left the mapping) and is back


@dataclass
class BotDoor(Generic[UserT]):
    """A client-credentials token, verified, then the service user of the grant the mapping gives it."""

    service: SignInService[UserT]
    service_users: ServiceUsers[UserT]
    settings: OktaSettings
    keys: JwksCache  # the API authorization server's keys

    def authenticate(self, token: str) -> BotLogin[UserT]:
        """Return the service user ``token`` vouches for; raise :class:`BotRefused` (a subclass) otherwise."""
        verified = validate_access_token(token, jwks=self.keys, policy=AccessTokenPolicy.from_settings(self.settings))
        mapping = self.service.mapping()  # the sign-in's mapping: declared roles re-synced on the way
        grant = mapping.clients.resolve(verified.client_id, verified.scopes)
        rule = mapping.clients.get(grant.client_id)
        assert rule is not None  # resolve() refuses a client the section does not list
        written = self.service_users.upsert(service_identity(rule, grant.roles))
        return BotLogin(
            user=written.user,
            username=written.username,
            token=verified,
            grant=grant,
            created=written.created,
            roles_before=written.roles_before,
            reactivated=written.reactivated,
        )

    def admit(self, token: str, *, via: str, facts: Mapping[str, object]) -> BotLogin[UserT]:
        """Authenticate as :meth:`authenticate` does; log and audit a refusal, then raise it."""
        try:
            return self.authenticate(token)
        except BotRefused as e:
            log.info(
                "Refused a bot at %s (client %s): %s: %s", via, loggable(e.client_id), e.code, loggable(e.message, 2000)
            )
            rule = self.service.mapping().clients.get(e.client_id) if e.client_id else None
            audit_event(
                classify(e).audit_event,
                owner=rule.username if rule is not None else None,
                reason=e.code,
                detail=getattr(e, "reason", None),
                client_id=e.client_id,
                via=via,
                **facts,
            )
            raise


def audit_exchange(login: BotLogin[UserT], *, via: str, **context: object) -> None:
    """Write ``bot.token_exchanged``: which client, which Okta token (jti), which roles."""
    audit_event(
        "bot.token_exchanged",
        owner=login.username,
        client_id=login.grant.client_id,
        token_jti=login.token.jti,
        scopes=sorted(login.token.scopes),
        roles=sorted(login.grant.roles),
        roles_before=list(login.roles_before) if login.roles_before is not None else None,
        service_user_created=login.created,
        service_user_reactivated=login.reactivated,
        token_expires_at=login.token.expires_at,
        via=via,
        **context,
    )
