"""Validate the Okta access tokens bots present: an Okta access token of the client-credentials shape.

The checks every access token passes (signature, ``iss``, ``aud``, lifetime, scopes) are
:mod:`okta_security.oidc.access_token`'s; a bot's token must also have the client-credentials shape
(``cid`` equals ``sub``, no ``uid``: a user's access token never stands in for a bot).

Each refusal is an :class:`AccessTokenRejected` whose ``reason`` is one of :data:`REASONS` and
whose message says what to fix; neither ever contains the token. Pure logic: no Flask/FAB/Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from okta_security.errors import AccessTokenRejected
from okta_security.oidc.access_token import AccessTokenPolicy, granted_scopes, verify_access_token_claims

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from okta_security.oidc.id_token import JwksCache

REASONS = (
    "malformed",  # not a compact JWS, too large, or no key id
    "alg_not_allowed",  # signed with anything but RS256 (e.g. HS256, none)
    "unknown_key",  # signed with a key the issuer does not publish, even after a re-fetch
    "bad_signature",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "issued_in_future",
    "missing_claim",
    "invalid_claim",
    "not_client_credentials",  # a user's token (uid, or sub != cid)
    "missing_scope",
)


@dataclass(frozen=True)
class VerifiedAccessToken:
    """The facts a verified client-credentials token vouches for (never the token itself)."""

    client_id: str
    scopes: frozenset[str]
    jti: str | None
    issued_at: int
    expires_at: int
    key_id: str | None


def validate_access_token(
    token: str,
    *,
    jwks: JwksCache,
    policy: AccessTokenPolicy,
    now: Callable[[], int] | None = None,
) -> VerifiedAccessToken:
    """Return what ``token`` vouches for, or raise :class:`AccessTokenRejected` (or OktaKeysUnavailable)."""
    verified = verify_access_token_claims(token, jwks=jwks, policy=policy, now=now)
    claims = verified.claims
    client_id = _check_client_credentials(claims)
    scopes = granted_scopes(
        claims,
        policy.required_scopes,
        client_id=client_id,
        ask="Request them (scope=...) and allow them in the Okta authorization server's access policy rule.",
    )
    jti = claims.get("jti")
    return VerifiedAccessToken(
        client_id=client_id,
        scopes=scopes,
        jti=jti if isinstance(jti, str) else None,
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        key_id=verified.key_id,
    )


def _check_client_credentials(claims: Mapping[str, Any]) -> str:
    client_id = claims.get("cid")
    if not isinstance(client_id, str) or not client_id:
        raise AccessTokenRejected(
            "missing_claim", "The access token has no 'cid' (client ID) claim; it is not an Okta access token."
        )
    if "uid" in claims or claims.get("sub") != client_id:
        raise AccessTokenRejected(
            "not_client_credentials",
            "This is an Okta user's access token, not a client's: bots must get their token with the client "
            "credentials flow of an API Services app.",
            client_id=client_id,
        )
    return client_id
