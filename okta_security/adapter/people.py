"""People on the REST API: a person's Okta access token signs them in as the browser does (FAB adapter).

``admit_person`` = :func:`verify_person_token` (the checks a bot's token passes — signature, ``iss``,
``aud``, lifetime — then a person's: ``uid``, ``cid`` in ``OKTA_CLI_CLIENT_ID``, the scopes; see
:mod:`okta_security.people.person_tokens`) -> :func:`sign_in_person`, the browser's pipeline with
the token in place of the ID token: groups from the token's groups claim, else Okta's Groups API;
:func:`okta_security.login.decision.decide` (same mapping, same refusals); the account linked to the
Okta user (:class:`okta_security.login.service.SignInService`: created if new, roles synced);
the same audit events, each marked ``sign_in: "api"`` with the app's client id.

Used by ``OktaFabAuthManager.create_token`` (Airflow 3: ``POST /auth/token``, the Airflow token then
expires with the Okta token) and by the 2.11 API backend (every request carries the Okta token).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from okta_security.adapter import login_audit
from okta_security.adapter.bots import jwks_for, policy_for
from okta_security.adapter.outage import DATABASE_DOWN, MESSAGE
from okta_security.adapter.security_manager import OktaSecurityManager
from okta_security.bots.access_tokens import verify_access_token_claims
from okta_security.errors import (
    AccessTokenRejected,
    BotRefused,
    ConfigError,
    DatabaseUnavailable,
    LoginRefused,
    RateLimited,
)
from okta_security.login.decision import groups_api_identity
from okta_security.login.outcome import LoginFacts
from okta_security.login.service import TokenRef
from okta_security.people.person_tokens import (
    PersonToken,
    PersonTokenPolicy,
    person_from_claims,
    require_people_enabled,
    signin_claims,
)
from okta_security.untrusted import loggable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from okta_security.login.service import Decided
    from okta_security.oidc.identity import OktaIdentity
    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)

SIGN_IN = "api"  # the audit events' ``sign_in`` field: a person's token, not the browser
ACCESS_TOKEN_SOURCE = "access_token"  # ``groups_source`` when the groups came from the token's claim


@dataclass(frozen=True)
class ApiSignInFacts(LoginFacts):
    """A login's facts, plus what marks it an API sign-in in every audit event it writes."""

    client_id: str | None = None  # the native app (``cid``) the person signed in with
    via: str = ""  # "POST /auth/token" | "airflow2_api_auth"
    context: tuple[tuple[str, str], ...] = ()  # request id, forwarded-for (from headers, already bounded)

    def identifiers(self) -> dict[str, str]:
        """Return the Okta identifiers, the API sign-in's marks and the request's context."""
        marks = {"sign_in": SIGN_IN, "via": self.via, **dict(self.context)}
        if self.client_id:
            marks["client_id"] = self.client_id
        return {**super().identifiers(), **marks}


@dataclass(frozen=True)
class PersonLogin:
    """A person signed in with their Okta access token."""

    user: Any  # the FAB User
    token: PersonToken
    identity: OktaIdentity
    roles: tuple[str, ...]


def verify_person_token(token: str, settings: OktaSettings) -> PersonToken:
    """Return what a person's Okta access token vouches for; raise AccessTokenRejected or OktaKeysUnavailable."""
    policy = PersonTokenPolicy.from_settings(settings)
    require_people_enabled(policy)  # before any key fetch: a deployment without people needs no keys for them
    try:
        verified = verify_access_token_claims(token, jwks=jwks_for(settings), policy=policy_for(settings))
    except AccessTokenRejected as e:
        if e.reason != "expired":
            raise
        raise AccessTokenRejected(
            "expired", f"{e.message.split('.')[0]}. Sign in again: okta-airflow login --airflow-url <this Airflow>."
        ) from e
    return person_from_claims(verified.claims, policy)


def admit_person(token: str, *, security_manager: object, via: str, context: Mapping[str, str]) -> PersonLogin:
    """Verify the token and sign its person in; audit either way; raise BotRefused (token) or LoginRefused."""
    sm = okta_security_manager(security_manager)
    facts = ApiSignInFacts(via=via, context=tuple(sorted(context.items())))
    try:
        person = verify_person_token(token, sm.okta_settings)
    except BotRefused as e:
        log.info(
            "Refused a person's Okta token at %s: %s (%s): %s",
            via,
            e.code,
            getattr(e, "reason", "-"),
            loggable(e.message, 2000),
        )
        token_refused(e, facts)
        raise
    return sign_in_person(sm, person, facts)


def okta_security_manager(sm: object) -> OktaSecurityManager:
    """Return ``sm`` as okta_security's security manager, or say how to configure it."""
    if isinstance(sm, OktaSecurityManager):
        return sm
    raise ConfigError(
        [
            f"the security manager is {type(sm).__name__}, not okta_security's OktaSecurityManager: use the "
            "webserver_config.py okta-airflow init writes (SECURITY_MANAGER_CLASS = OktaSecurityManager)"
        ],
        source="webserver_config.py",
    )


def token_refused(error: BotRefused, facts: ApiSignInFacts) -> None:
    """Write ``login.refused`` for a token that failed its checks (no person is known yet)."""
    details = {"reason": error.code, "detail": getattr(error, "reason", None)}
    if error.client_id:
        facts = replace(facts, client_id=error.client_id)
    login_audit.audit("login.refused", facts, owner=None, **{k: v for k, v in details.items() if v})


def sign_in_person(sm: OktaSecurityManager, person: PersonToken, facts: ApiSignInFacts) -> PersonLogin:
    """Sign in the person a verified token names through the sign-in service every door shares; audit the outcome."""
    facts = replace(facts, sub=person.user_id, jti=person.jti, client_id=person.client_id)
    try:
        try:
            sm.okta_person_limit.take(person.user_id)  # before any read: a loop of exchanges costs one check each
        except RateLimited:
            facts = replace(facts, username=person.login)  # no account read: the token's login names the person
            raise
        with sm.okta_accounts.one_sign_in():
            decided = _decide(sm, person)
            identity = decided.decision.identity
            facts = replace(facts, username=identity.username, groups=identity.groups) if identity else facts
            user = sm.okta_sign_in.admit(decided, facts)
    except DATABASE_DOWN as e:  # a restart or failover mid-sign-in: a clear 503, and a clean session after
        try:
            sm.session.rollback()
        except Exception:  # noqa: BLE001 - the database is down; the next request starts a new transaction
            log.debug("rollback after a database error failed too", exc_info=True)
        log.error("Okta API sign-in refused [database_unavailable]: the database did not answer (%s)", type(e).__name__)
        error = DatabaseUnavailable(MESSAGE)
        login_audit.login_refused(error, facts)
        raise error from e
    except LoginRefused as e:
        log.info(
            "Okta API sign-in of %s at %s refused: %s: %s",
            loggable(facts.username or person.login),
            facts.via,
            e.code,
            loggable(e, 2000),
        )
        login_audit.login_refused(e, facts)
        raise
    assert identity is not None  # admit() refuses a decision without one
    roles = decided.decision.roles
    login_audit.login_succeeded(facts, user.username, identity, list(roles))
    log.info(
        "Okta API sign-in of %s (Okta user %s, app %s) at %s: roles %s",
        loggable(user.username),
        person.user_id,
        loggable(person.client_id),
        facts.via,
        list(roles),
    )
    return PersonLogin(user=user, token=person, identity=identity, roles=roles)


def _decide(sm: OktaSecurityManager, person: PersonToken) -> Decided:
    """Decide the person's identity and roles as a browser login would (Groups API call included)."""
    service = sm.okta_sign_in
    settings = sm.okta_settings
    claims = signin_claims(person, username=_linked_username(sm, person), groups_claim=settings.groups_claim)
    api_unused = service.okta is None or groups_api_identity(claims, None, service.policy) is None
    if api_unused and not person.has_groups_claim:
        log.warning(
            "Okta API sign-in of %s: the access token has no %r claim and %s, so the person has no groups. Add a "
            "groups claim to access tokens on the authorization server, or set Okta API credentials "
            "(docs/people-api.md).",
            loggable(person.login),
            settings.groups_claim,
            "OKTA_GROUPS_SOURCE=claims" if service.okta is not None else "no Okta API credentials are set",
        )
    token = TokenRef(person.jti, person.expires_at) if person.jti else None
    decided = service.decide(claims, userinfo=None, issued_at=person.issued_at, token=token)
    identity = decided.decision.identity
    if identity is not None and identity.groups_source == "id_token":
        identity = replace(identity, groups_source=ACCESS_TOKEN_SOURCE)
        return replace(decided, decision=replace(decided.decision, identity=identity))
    return decided


def _linked_username(sm: OktaSecurityManager, person: PersonToken) -> str | None:
    """Return the username of the account linked to the person's Okta user id, if there is one.

    The link is what pins an account to its Okta user; the token's login names the account only
    when no account is linked yet (a first sign-in), exactly as the browser's ``preferred_username``.
    """
    links = sm.okta_accounts.links_for(person.user_id)
    if not links:
        return None
    names = [link.username for link in links]
    if person.login.lower() in (name.lower() for name in names):
        return person.login
    return max(links, key=lambda link: link.user_id).username
