"""A person's Okta access token: is it one, from an allowed app, and what does the login pipeline get (pure).

A person signs in on a device (``okta-airflow login``, RFC 8628) with a native Okta app and gets an
access token from the API authorization server — the one bots' tokens come from. Its signature,
issuer, audience and lifetime are checked as a bot's are
(:func:`okta_security.oidc.access_token.verify_access_token_claims`); this module checks the rest:

- ``uid`` (the Okta user id; ``sub`` is the login) is present: a person's token, never a client's;
- ``cid`` is one of ``OKTA_CLI_CLIENT_ID``: only apps the administrator listed act for people
  (an empty list: people cannot exchange at all, refused before any key is fetched);
- ``scp`` is a list holding every ``OKTA_BOT_SCOPES`` scope: an ID token has no ``scp`` and is
  never taken for an access token.

:func:`signin_claims` then turns the token into the claims
:func:`okta_security.login.decision.decide` reads for a browser login: ``sub`` = the Okta user id,
``preferred_username`` = the login (or the username of the account already linked to that user),
the groups claim when the authorization server adds one, and whatever profile claims it carries.

Refusals are :class:`AccessTokenRejected` with a ``reason`` from :data:`PERSON_REASONS`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from okta_security.errors import AccessTokenRejected
from okta_security.oidc.access_token import granted_scopes
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

PERSON_REASONS = (
    "people_disabled",  # OKTA_CLI_CLIENT_ID is empty
    "client_not_allowed",  # the token's cid is not in OKTA_CLI_CLIENT_ID
    "not_an_access_token",  # no scp list: an ID token (or something else) presented as an access token
    "missing_claim",
    "invalid_claim",
    "missing_scope",
    "expired",
)
MAX_TOKEN_CHARS = 16_384  # as for bots: Okta access tokens are ~1 KB
MAX_USER_ID_CHARS = 128  # okta_security_user.okta_sub; Okta's ids are 20 characters (00u…)
MAX_LOGIN_CHARS = 256  # Okta logins are at most 100 characters
MAX_PROFILE_CHARS = 256
PROFILE_CLAIMS = ("email", "given_name", "family_name", "name")  # taken when the server adds them


@dataclass(frozen=True)
class PersonTokenPolicy:
    """What a person's token must satisfy beyond a bot's checks (``OKTA_CLI_CLIENT_ID``, ``OKTA_BOT_SCOPES``)."""

    allowed_clients: frozenset[str]
    required_scopes: tuple[str, ...]
    groups_claim: str = OktaSettings.groups_claim

    @classmethod
    def from_settings(cls, settings: OktaSettings) -> PersonTokenPolicy:
        """Pick the person-token settings out of the full settings."""
        return cls(
            allowed_clients=frozenset(settings.cli_client_id),
            required_scopes=settings.bot_scopes,
            groups_claim=settings.groups_claim,
        )


@dataclass(frozen=True)
class PersonToken:
    """What a verified person's access token vouches for (never the token itself)."""

    user_id: str  # ``uid``: the Okta user id, the account's link
    login: str  # ``sub``: the Okta login
    client_id: str  # ``cid``: the native app the person signed in with
    scopes: frozenset[str]
    jti: str | None
    issued_at: int
    expires_at: int
    groups: Any = None  # the groups claim as sent (checked by the login pipeline); None: no claim
    has_groups_claim: bool = False
    profile: Mapping[str, str] = field(default_factory=dict)
    # amr and auth_time, if the authorization server puts them in access tokens (Okta does not by
    # default: a custom claim can): the step-up evidence, as an ID token's (okta_security.login.step_up).
    mfa: Mapping[str, Any] = field(default_factory=dict)


def looks_like_person_token(token: str) -> bool:
    """Return whether an (unverified) token names a person (``uid``): only to choose the checks, never to trust it.

    Either way the token is then verified in full; a bot's token never carries ``uid``, and a
    person's token sent down the bots' path is refused there (``not_client_credentials``).
    """
    return "uid" in unverified_claims(token)


def unverified_claims(token: str) -> dict[str, Any]:
    """Return a JWT's claims without verifying them (to choose a path or explain, never to trust), or {}."""
    parts = token.split(".") if token and len(token) <= MAX_TOKEN_CHARS else []
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def require_people_enabled(policy: PersonTokenPolicy) -> None:
    """Refuse every person's token when no native app is listed in ``OKTA_CLI_CLIENT_ID``."""
    if not policy.allowed_clients:
        raise AccessTokenRejected(
            "people_disabled",
            "This is an Okta user's access token, but this Airflow does not let people exchange their Okta "
            "tokens (OKTA_CLI_CLIENT_ID is empty). Sign in in the browser, or ask your Airflow administrator "
            "to list the Okta native app in OKTA_CLI_CLIENT_ID (see docs/people-api.md).",
        )


def person_from_claims(claims: Mapping[str, Any], policy: PersonTokenPolicy) -> PersonToken:
    """Return what verified claims vouch for, or raise :class:`AccessTokenRejected` (reason in PERSON_REASONS)."""
    require_people_enabled(policy)
    scp = claims.get("scp")
    if scp is None:
        raise AccessTokenRejected(
            "not_an_access_token",
            "The token has no 'scp' claim: it is not an Okta access token (an ID token is never accepted). "
            "Send the access_token of Okta's token response.",
        )
    client_id = _string(claims, "cid", 256)
    user_id = _string(claims, "uid", MAX_USER_ID_CHARS, client_id)
    login = _string(claims, "sub", MAX_LOGIN_CHARS, client_id)
    if client_id not in policy.allowed_clients:
        raise AccessTokenRejected(
            "client_not_allowed",
            f"The access token was issued to the Okta app {client_id[:64]!r}, which may not act for people here "
            "(it is not in OKTA_CLI_CLIENT_ID). Sign in with the app your Airflow administrator names "
            "(okta-airflow login --client-id ...).",
            client_id=client_id,
        )
    scopes = granted_scopes(
        claims,
        policy.required_scopes,
        client_id=client_id,
        ask="Sign in again asking for them (okta-airflow login --scope ...), and allow them in the authorization "
        "server's access policy.",
    )
    jti = claims.get("jti")
    profile = {
        name: value[:MAX_PROFILE_CHARS]
        for name in PROFILE_CLAIMS
        for value in [claims.get(name)]
        if isinstance(value, str) and value.strip()
    }
    return PersonToken(
        user_id=user_id,
        login=login,
        client_id=client_id,
        scopes=scopes,
        jti=jti[:MAX_USER_ID_CHARS] if isinstance(jti, str) else None,
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        groups=claims.get(policy.groups_claim),
        has_groups_claim=policy.groups_claim in claims,
        profile=profile,
        mfa={name: claims[name] for name in ("amr", "auth_time") if name in claims},
    )


def _string(claims: Mapping[str, Any], name: str, limit: int, client_id: str | None = None) -> str:
    value = claims.get(name)
    if value is None or value == "":
        raise AccessTokenRejected("missing_claim", f"The access token has no {name!r} claim.", client_id=client_id)
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise AccessTokenRejected(
            "invalid_claim", f"The access token's {name!r} claim is invalid.", client_id=client_id
        )
    return value


def signin_claims(person: PersonToken, *, username: str | None, groups_claim: str) -> dict[str, Any]:
    """Return the claims a browser login's ID token would give for this person (what ``decide`` reads).

    ``username``: the Airflow username of the account already linked to this Okta user (it wins,
    so a renamed Okta login still reaches its account); None: the token's login, as in the browser.
    """
    claims: dict[str, Any] = {
        **person.profile,
        **person.mfa,
        "sub": person.user_id,
        "preferred_username": username or person.login,
    }
    if person.has_groups_claim:
        claims[groups_claim] = person.groups
    return claims
