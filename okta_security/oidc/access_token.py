"""The checks every Okta access token passes, a bot's or a person's (pure).

Size and shape (offline: a malformed token never causes a key fetch); the signature with a key
from the issuer's JWKS (RS256 only; an unknown ``kid`` triggers one rate-limited re-fetch, see
:class:`okta_security.oidc.id_token.JwksCache`); ``iss``; ``aud``; ``exp``/``iat`` with leeway;
and every required scope in ``scp``. What its other claims must say is the caller's: the
client-credentials shape (:mod:`okta_security.bots.client_tokens`), a person from an allowed app
(:mod:`okta_security.people.person_tokens`). Once the keys are cached a check makes no call to Okta.

Each refusal is an :class:`AccessTokenRejected` with a stable ``reason`` and a message that says
what to fix; neither ever contains the token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)

from okta_security.errors import AccessTokenRejected, OktaKeysUnavailable
from okta_security.oidc.id_token import (
    JwksCache,
    KeysUnavailable,
    MalformedToken,
    UnknownSigningKey,
    decode_signed,
    token_header,
)
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

MAX_TOKEN_BYTES = 16_384  # Okta access tokens are ~1 KB; refuse anything far larger before parsing it


@dataclass(frozen=True)
class AccessTokenPolicy:
    """What a bot's token must satisfy (from ``OKTA_BOT_*`` and ``OKTA_CLOCK_SKEW_SECONDS``)."""

    issuer: str
    audience: str
    required_scopes: tuple[str, ...]
    leeway: int = OktaSettings.clock_skew_seconds

    def __post_init__(self) -> None:
        """Refuse a policy that would accept any token of the audience."""
        if not self.required_scopes:
            raise ValueError("an access token policy needs at least one required scope")

    @classmethod
    def from_settings(cls, settings: OktaSettings) -> AccessTokenPolicy:
        """Return the policy the settings describe (the API authorization server's tokens)."""
        return cls(
            issuer=settings.access_token_issuer,
            audience=settings.bot_audience,
            required_scopes=settings.bot_scopes,
            leeway=settings.clock_skew_seconds,
        )


@dataclass(frozen=True)
class VerifiedClaims:
    """The claims of an access token whose signature, issuer, audience and lifetime were verified."""

    claims: dict[str, Any]
    key_id: str | None


def verify_access_token_claims(
    token: str,
    *,
    jwks: JwksCache,
    policy: AccessTokenPolicy,
    now: Callable[[], int] | None = None,
) -> VerifiedClaims:
    """Return the claims of ``token`` once its shape, signature, ``iss``, ``aud``, ``exp`` and ``iat`` check out.

    The checks every Okta access token passes, a bot's or a person's; what its other claims must say
    (the client-credentials shape here, a person and an allowed client in :mod:`okta_security.people`)
    is the caller's.
    """
    if not token or len(token) > MAX_TOKEN_BYTES:
        raise AccessTokenRejected("malformed", "The bearer token is not an Okta access token (a signed JWT).")
    try:
        header = token_header(token, require_kid=True)  # offline: junk never costs a call to Okta
    except MalformedToken as e:
        raise _malformed(e) from e
    decoded = _decode(token, jwks)
    claims = dict(decoded.claims)
    _check_registered_claims(claims, policy, now or (lambda: int(time.time())))
    kid = header.get("kid")
    return VerifiedClaims(claims=claims, key_id=kid if isinstance(kid, str) else None)


def _malformed(e: MalformedToken) -> AccessTokenRejected:
    if e.reason == "alg_not_allowed":
        return AccessTokenRejected(
            "alg_not_allowed", "The access token is not signed with RS256, the only algorithm Okta uses; refused."
        )
    if e.detail == "no 'kid' header":
        return AccessTokenRejected("malformed", "The access token has no 'kid' header; Okta always sets one.")
    return AccessTokenRejected("malformed", "The bearer token is not an Okta access token (a signed JWT).")


def _decode(token: str, jwks: JwksCache) -> Any:
    try:
        return decode_signed(token, jwks)
    except KeysUnavailable as e:  # the fetch failed now, or recently (back-off): the cache logged why
        raise OktaKeysUnavailable(
            "Airflow could not fetch Okta's signing keys to verify the token. "
            f"Try again in {max(1, round(e.retry_in))} s."
        ) from e
    except UnknownSigningKey as e:
        raise _unknown_key(str(_header(token).get("kid"))) from e
    except JoseError as e:
        raise _rejection(e) from e


def _header(token: str) -> Mapping[str, Any]:
    try:
        return jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        return {}


def _unknown_key(kid: str) -> AccessTokenRejected:
    return AccessTokenRejected(
        "unknown_key",
        f"The access token is signed with a key (kid {kid[:64]!r}) that the Okta authorization server does not "
        "publish: it comes from another authorization server or was not issued by Okta.",
    )


def _rejection(e: JoseError) -> AccessTokenRejected:
    if isinstance(e, UnsupportedAlgorithmError):
        return AccessTokenRejected(
            "alg_not_allowed", "The access token is not signed with RS256, the only algorithm Okta uses; refused."
        )
    if isinstance(e, BadSignatureError):
        return AccessTokenRejected(
            "bad_signature", "The access token's signature does not verify with Okta's published key; refused."
        )
    return AccessTokenRejected("malformed", "The bearer token is not an Okta access token (a signed JWT).")


def _check_registered_claims(claims: Mapping[str, Any], policy: AccessTokenPolicy, now: Callable[[], int]) -> None:
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=policy.leeway,
        iss={"essential": True, "value": policy.issuer},
        aud={"essential": True, "value": policy.audience},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(dict(claims))
    except ExpiredTokenError as e:
        ago = now() - int(claims["exp"])
        raise AccessTokenRejected(
            "expired", f"The access token expired {ago} s ago. Get a new one from Okta (client credentials)."
        ) from e
    except MissingClaimError as e:
        raise AccessTokenRejected("missing_claim", f"The access token has no {e.claim!r} claim.") from e
    except InvalidClaimError as e:
        raise _claim_rejection(e, claims, policy) from e


def _claim_rejection(e: InvalidClaimError, claims: Mapping[str, Any], policy: AccessTokenPolicy) -> AccessTokenRejected:
    if e.claim == "iss":
        return AccessTokenRejected(
            "wrong_issuer",
            f"The access token was issued by {_shown(claims.get('iss'))}, not by {policy.issuer!r} "
            "(OKTA_BOT_ISSUER). Get it from that Okta authorization server.",
        )
    if e.claim == "aud":
        return AccessTokenRejected(
            "wrong_audience",
            f"The access token is for the audience {_shown(claims.get('aud'))}, not {policy.audience!r} "
            "(OKTA_BOT_AUDIENCE). Get it from the authorization server whose Audience is that value.",
        )
    if e.claim == "iat" and "future" in str(e.description):
        return AccessTokenRejected(
            "issued_in_future",
            "The access token was issued in the future: check the clock of this server and Okta's "
            f"(allowed skew {policy.leeway} s, OKTA_CLOCK_SKEW_SECONDS).",
        )
    return AccessTokenRejected("invalid_claim", f"The access token's {e.claim!r} claim is invalid.")


def _shown(value: object) -> str:
    return repr(value)[:120] if value is not None else "(none)"


def granted_scopes(claims: Mapping[str, Any], required: Collection[str], *, client_id: str, ask: str) -> frozenset[str]:
    """Return the token's ``scp``, or refuse it unless it holds every ``required`` scope; ``ask`` says how to get them."""
    scp = claims.get("scp", [])
    if not isinstance(scp, list) or not all(isinstance(s, str) for s in scp):
        raise AccessTokenRejected("invalid_claim", "The access token's 'scp' claim is not a list of scopes.")
    scopes = frozenset(scp)
    missing = [s for s in required if s not in scopes]
    if missing:
        carried = ", ".join(sorted(scopes)) or "none"
        raise AccessTokenRejected(
            "missing_scope",
            f"The access token lacks the scope(s) {', '.join(missing)} (it has: {carried}). {ask}",
            client_id=client_id,
        )
    return scopes
