"""Bots: an Okta access token becomes its client's Airflow service user (FAB adapter, Airflow 3 and 2.11).

``authenticate_bot`` = validate the token (:mod:`okta_security.bots.access_tokens`) -> map its client
(:mod:`okta_security.mapping.bots`) -> create or update the client's service user -> return it. Used by
``OktaFabAuthManager.create_token`` (Airflow 3, ``POST /auth/token``) and by the
``[api] auth_backends`` module :mod:`okta_security.airflow2_api_auth` (Airflow 2.11, every request).

A service user is an ordinary FAB user (so roles, permissions and the Audit Log treat the bot like
a person) with no password (it cannot sign in any other way), and the email
``<client id>@okta-clients.invalid``: the mark that says okta_security owns it. A same-named user
without that mark is never taken over.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import requests
from sqlalchemy.exc import IntegrityError

from okta_security.audit import audit_event
from okta_security.bots.access_tokens import AccessTokenPolicy, VerifiedAccessToken, validate_access_token
from okta_security.errors import (
    AccessTokenRejected,
    BotRefused,
    ServiceUserConflict,
    ServiceUserInactive,
    UnmappedClient,
)
from okta_security.oidc.id_token import JwksCache
from okta_security.okta_api import observe

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from okta_security.mapping.bots import BotGrant
    from okta_security.mapping.rules import RoleMapping
    from okta_security.settings.loader import OktaSettings

log = logging.getLogger(__name__)


class Headers(Protocol):
    """Request headers as Flask (werkzeug ``Headers``) or FastAPI (a dict) hand them over."""

    def items(self) -> Iterable[tuple[str, str]]: ...


SERVICE_EMAIL_DOMAIN = "okta-clients.invalid"  # RFC 2606 reserved TLD: never a mailbox; marks users we own
SERVICE_LAST_NAME = "(Okta client)"
REQUEST_ID_HEADER = "x-request-id"
_SAFE_HEADER_VALUE = re.compile(r"^[A-Za-z0-9._:/+=, -]{1,200}$")


@dataclass(frozen=True)
class BotLogin:
    """The outcome of a successful bot authentication."""

    user: Any  # the FAB User
    token: VerifiedAccessToken
    grant: BotGrant
    created: bool
    roles_before: tuple[str, ...] | None  # None when the user was just created


def bearer_token(headers: Headers) -> str | None:
    """Return the token of an ``Authorization: Bearer`` header (any case), or None."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def www_authenticate(error: str, description: str) -> str:
    """Return an RFC 6750 ``WWW-Authenticate`` challenge, the description made header-safe."""
    safe = "".join(("'" if c in '"\\' else c) if 0x20 <= ord(c) < 0x7F else " " for c in description)
    return f'Bearer realm="Airflow", error="{error}", error_description="{safe[:300]}"'


def refusal_fields(error: BotRefused) -> dict[str, str]:
    """Return what a refused bot is told: the error code, what to do, the failed check, its client id."""
    fields = {"error": error.code, "message": error.message}
    if isinstance(error, AccessTokenRejected):
        fields["reason"] = error.reason
    if error.client_id:
        fields["client_id"] = error.client_id
    return fields


def refusal_challenge(error: BotRefused) -> dict[str, str]:
    """Return the RFC 6750 challenge header of a refusal: 401 ``invalid_token``, 403 ``insufficient_scope``."""
    challenge = {401: "invalid_token", 403: "insufficient_scope"}.get(error.http_status)
    return {"WWW-Authenticate": www_authenticate(challenge, error.message)} if challenge else {}


# --------------------------------------------------------------------------- keys and policy

_caches: dict[str, JwksCache] = {}
_caches_lock = threading.Lock()


def fetch_jwks(issuer: str, timeout: float) -> dict[str, Any]:
    """Return the issuer's JWKS, found through its discovery document (two GETs, not rate-limited by Okta)."""
    discovery = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=timeout, hooks=observe.HOOKS)
    discovery.raise_for_status()
    metadata = discovery.json()
    if metadata.get("issuer") != issuer:  # OIDC Discovery 4.3: never trust keys of another issuer
        raise ValueError(f"discovery document of {issuer} names the issuer {metadata.get('issuer')!r}")
    keys = requests.get(metadata["jwks_uri"], timeout=timeout, hooks=observe.HOOKS)
    keys.raise_for_status()
    return dict(keys.json())


def jwks_for(settings: OktaSettings) -> JwksCache:
    """Return this process's key cache for the bots' issuer, shared by every request."""
    issuer, timeout = settings.access_token_issuer, settings.http_timeout_seconds
    with _caches_lock:
        cache = _caches.get(issuer)
        if cache is None:
            cache = _caches[issuer] = JwksCache(
                lambda: fetch_jwks(issuer, timeout), min_refetch_interval=settings.jwks_refetch_interval_seconds
            )
        return cache


def policy_for(settings: OktaSettings) -> AccessTokenPolicy:
    """Return the access token policy the settings describe."""
    return AccessTokenPolicy(
        issuer=settings.access_token_issuer,
        audience=settings.bot_audience,
        required_scopes=settings.bot_scopes,
        leeway=settings.clock_skew_seconds,
    )


# --------------------------------------------------------------------------- the exchange


def authenticate_bot(token: str, *, settings: OktaSettings, mapping: RoleMapping, security_manager: Any) -> BotLogin:
    """Return the service user ``token`` vouches for; raise :class:`BotRefused` (a subclass) otherwise."""
    verified = validate_access_token(
        token,
        jwks=jwks_for(settings),
        policy=policy_for(settings),
    )
    grant = mapping.clients.resolve(verified.client_id, verified.scopes)
    user, created, before = upsert_service_user(security_manager, grant)
    return BotLogin(user=user, token=verified, grant=grant, created=created, roles_before=before)


def service_email(client_id: str) -> str:
    """Return the email that marks a service user as the one of ``client_id``."""
    return f"{client_id.lower()}@{SERVICE_EMAIL_DOMAIN}"


def is_service_user(user: Any) -> bool:
    """Return whether an Airflow user is an Okta client's service user (a bot's, never a person's)."""
    return (user.email or "").lower().endswith("@" + SERVICE_EMAIL_DOMAIN)


def upsert_service_user(sm: Any, grant: BotGrant) -> tuple[Any, bool, tuple[str, ...] | None]:
    """Create or update the client's service user; return (user, created, role names before)."""
    roles = _fab_roles(sm, grant)
    wanted = sorted(r.name for r in roles)
    email = service_email(grant.client_id)
    for _attempt in range(2):
        user = sm.find_user(username=grant.username)
        if user is None:
            user = sm.find_user(email=email)  # the mapping renamed this client's service user
        if user is None:
            created = _create(sm, grant, email, roles)
            if created is None:
                continue  # a concurrent exchange created it first: read theirs
            log.info(
                "Created service user %s for Okta client %s with roles %s", grant.username, grant.client_id, wanted
            )
            return created, True, None
        if (user.email or "").lower() != email:
            raise ServiceUserConflict(
                f"The Airflow user {user.username!r} already exists and does not belong to Okta client "
                f"{grant.client_id!r}, so Airflow will not let the client act as it. Ask your Airflow "
                "administrator to rename that user or give the client another 'name' in the mapping.",
                client_id=grant.client_id,
            )
        if not user.is_active:
            raise ServiceUserInactive(
                f"The service user {user.username!r} of Okta client {grant.client_id!r} is deactivated in "
                "Airflow. Ask your Airflow administrator to reactivate it.",
                client_id=grant.client_id,
            )
        before = tuple(sorted(r.name for r in user.roles))
        if list(before) != wanted or user.username != grant.username:
            _update(sm, user, grant, roles, before)
        return user, False, before
    raise ServiceUserConflict(  # pragma: no cover - only when the row vanishes between two reads
        f"The service user of Okta client {grant.client_id!r} could not be created; try again.",
        client_id=grant.client_id,
    )


def _fab_roles(sm: Any, grant: BotGrant) -> list[Any]:
    roles = [sm.find_role(name) for name in sorted(grant.roles)]
    missing = sorted(name for name, role in zip(sorted(grant.roles), roles, strict=True) if role is None)
    if missing:
        log.error("Roles %s of Okta client %s do not exist in Airflow any more", missing, grant.client_id)
    found = [role for role in roles if role is not None]
    if not found:
        raise UnmappedClient(
            f"Okta client {grant.client_id!r} is mapped to roles that no longer exist in Airflow "
            f"({', '.join(missing)}). Ask your Airflow administrator to fix the role-mapping file.",
            client_id=grant.client_id,
        )
    return found


def _create(sm: Any, grant: BotGrant, email: str, roles: list[Any]) -> Any | None:
    """Insert the service user; return None if a concurrent request inserted it first."""
    user = sm.user_model()
    user.username = grant.username
    user.first_name = grant.username
    user.last_name = SERVICE_LAST_NAME
    user.email = email
    user.active = True
    user.password = None  # no password: a service user only ever acts through Okta tokens
    user.roles = roles
    sm.session.add(user)
    try:
        sm.session.commit()
    except IntegrityError:
        sm.session.rollback()
        log.info("Service user %s was created concurrently; using that one", grant.username)
        return None
    return user


def _update(sm: Any, user: Any, grant: BotGrant, roles: list[Any], before: tuple[str, ...]) -> None:
    if user.username != grant.username:
        log.info("Renaming service user %s to %s (client %s)", user.username, grant.username, grant.client_id)
        user.username = grant.username
        user.first_name = grant.username
    user.roles = roles
    if sm.update_user(user) is False:
        raise ServiceUserConflict(
            f"The service user {grant.username!r} of Okta client {grant.client_id!r} could not be updated "
            "(see the webserver log).",
            client_id=grant.client_id,
        )
    log.info("Roles of service user %s changed: %s -> %s", grant.username, list(before), sorted(grant.roles))


# --------------------------------------------------------------------------- audit


def request_facts(headers: Headers) -> dict[str, str]:
    """Return the request id and proxy-forwarded client address from the headers, when sane."""
    lowered = {k.lower(): v for k, v in headers.items()}
    facts = {}
    for header, name in ((REQUEST_ID_HEADER, "request_id"), ("x-forwarded-for", "forwarded_for")):
        value = lowered.get(header, "")
        if _SAFE_HEADER_VALUE.match(value):
            facts[name] = value
    return facts


def audit_exchange(login: BotLogin, *, via: str, **context: Any) -> None:
    """Write ``bot.token_exchanged``: which client, which Okta token (jti), which roles."""
    audit_event(
        "bot.token_exchanged",
        owner=login.user.username,
        client_id=login.grant.client_id,
        token_jti=login.token.jti,
        scopes=sorted(login.token.scopes),
        roles=sorted(login.grant.roles),
        roles_before=list(login.roles_before) if login.roles_before is not None else None,
        service_user_created=login.created,
        token_expires_at=login.token.expires_at,
        via=via,
        **context,
    )


def audit_refusal(error: BotRefused, *, via: str, mapping: RoleMapping | None = None, **context: Any) -> None:
    """Write ``bot.token_refused`` with the stable reason code (and the client, when known)."""
    owner = None
    if error.client_id and mapping is not None:
        rule = mapping.clients.get(error.client_id)
        owner = rule.username if rule is not None else None
    audit_event(
        "bot.token_refused",
        owner=owner,
        reason=error.code,
        detail=getattr(error, "reason", None),
        client_id=error.client_id,
        via=via,
        **context,
    )


def admit_bot(
    token: str,
    *,
    settings: OktaSettings,
    mapping: RoleMapping,
    security_manager: Any,
    via: str,
    facts: Mapping[str, object],
) -> BotLogin:
    """Authenticate a bot as :func:`authenticate_bot` does; log and audit a refusal, then raise it."""
    try:
        return authenticate_bot(token, settings=settings, mapping=mapping, security_manager=security_manager)
    except BotRefused as e:
        log.info("Refused a bot at %s (client %s): %s: %s", via, e.client_id, e.code, e.message)
        audit_refusal(e, via=via, mapping=mapping, **facts)
        raise
