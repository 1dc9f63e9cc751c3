"""Verify Okta ID tokens with joserfc: RS256 only, keys from the issuer's JWKS, strict claims."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from okta_security.errors import TokenValidationError
from okta_security.settings.specs import OktaSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256",)  # Okta signs ID tokens with RS256; never accept none/HS*.
MAX_KEY_AGE_SECONDS = 3600.0  # re-read the JWKS hourly so a key Okta withdraws stops being trusted


class JwksCache:
    """Cache the issuer's key set; re-fetch once on an unknown ``kid``, at most every interval."""

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        clock: Callable[[], float] = time.monotonic,
        min_refetch_interval: float = OktaSettings.jwks_refetch_interval_seconds,
        max_age: float = MAX_KEY_AGE_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._interval = min_refetch_interval
        self._max_age = max_age
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        # Only re-fetches count against the interval: a key rotated right after the first load
        # must not lock logins out for the rest of the interval.
        self._refreshed_at = float("-inf")
        self._fetched_at: float | None = None  # when Okta last answered with keys (a failed re-read keeps it)

    def age(self) -> float | None:
        """Return how many seconds ago the keys in use were fetched (None: not yet)."""
        return None if self._fetched_at is None else self._clock() - self._fetched_at

    def get(self) -> KeySet:
        """Return the cached key set, fetching it the first time."""
        with self._lock:
            if self._keys is None:
                self._load()
            elif self._clock() - self._loaded_at > self._max_age:
                try:
                    self._load()
                except Exception:  # an Okta hiccup must not lock everyone out: keep the keys we have
                    log.warning("Could not re-read the issuer's JWKS; keeping the cached keys", exc_info=True)
                    self._loaded_at = self._clock()
            assert self._keys is not None
            return self._keys

    def refresh(self) -> bool:
        """Re-fetch the key set unless re-fetched within the interval; return whether it did."""
        with self._lock:
            if self._clock() - self._refreshed_at < self._interval:
                return False
            self._refreshed_at = self._clock()
            self._load()
            return True

    def _load(self) -> None:
        data = self._fetch()
        keys = [k for k in data.get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"]
        self._keys = KeySet.import_key_set({"keys": keys})
        self._loaded_at = self._fetched_at = self._clock()
        log.info("Loaded %d signing key(s) from the issuer's JWKS", len(keys))


def verify_id_token(
    id_token: str,
    *,
    jwks: JwksCache,
    issuer: str,
    client_id: str,
    nonce: str | None,
    leeway: int = OktaSettings.clock_skew_seconds,
    now: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Return the ID token's claims after checking signature, alg, iss, aud/azp, exp, iat, nonce, sub."""
    try:
        token = _decode(id_token, jwks)
    except TokenValidationError:
        raise
    except JoseError as e:
        raise TokenValidationError(_describe(e)) from e
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as e:
        raise TokenValidationError(_describe(e)) from e
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise TokenValidationError("several audiences and 'azp' is not this client")
    if nonce is None or claims.get("nonce") != nonce:
        raise TokenValidationError("'nonce' does not match the sign-in request")
    return claims


def _decode(id_token: str, jwks: JwksCache) -> Any:
    try:
        return jwt.decode(id_token, jwks.get(), algorithms=list(ALLOWED_ALGORITHMS))
    except InvalidKeyIdError as first:
        # Okta rotates keys, sometimes without notice: one (rate-limited) re-fetch, then give up.
        if not jwks.refresh():
            raise TokenValidationError(_unknown_key(id_token)) from first
    try:
        return jwt.decode(id_token, jwks.get(), algorithms=list(ALLOWED_ALGORITHMS))
    except InvalidKeyIdError as e:
        raise TokenValidationError(_unknown_key(id_token)) from e
    except JoseError as e:
        raise TokenValidationError(_describe(e)) from e


def _unknown_key(id_token: str) -> str:
    try:
        kid = jws.extract_compact(id_token.encode()).headers().get("kid")
    except (JoseError, ValueError):
        kid = None
    if kid is None:
        # OIDC Core 10.1: with several keys in the JWKS the kid MUST be given; we don't try each key.
        return "no 'kid' in the token header and the issuer publishes several keys"
    return "signed with a key the issuer does not publish"


def _describe(e: Exception) -> str:
    if isinstance(e, BadSignatureError):
        return "bad signature"
    if isinstance(e, ExpiredTokenError):
        return "token expired"
    if isinstance(e, MissingClaimError | InvalidClaimError):
        return str(e.description if hasattr(e, "description") else e)
    if isinstance(e, InvalidKeyIdError):
        return "signed with a key the issuer does not publish"
    text = getattr(e, "description", None) or str(e) or type(e).__name__
    return str(text)[:200]
